/*
 * milter_msg.c - the message as the content filters see it and as they
 * change it: its header section split into fields (our Received: field
 * first, as Postfix shows its own), its body in chunks with the CRLF
 * line ends of the wire, and the message written again with the header
 * changes and the replaced body a filter asked for at its end.
 *
 * The message lives in a spool with LF line ends; it is read step by
 * step (spool_read), a chunk per packet, never whole into memory.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "milter/milter_int.h"
#include "util/spool.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define READ_CHUNK	(MILTER_CHUNK_SIZE / 2)	/* LF -> CRLF doubles */

void
milter_addr_bare(const char *a, char *out, size_t outsz)
{
	if (*a == '<')
		a++;
	(void)str_ncopy(out, a, strcspn(a, ">"), outsz);
}

void
milter_hdrs_free(struct milter_hdrs *h)
{
	buf_free(&h->text);
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

/* Reads the header section of MSG after PREFIX into H->text: up to and
   with the empty line, or MILTER_HDRS_MAX octets. 0 or -1. */
static int
read_section(struct milter_hdrs *h, const struct spool *msg, size_t start)
{
	char chunk[4096];
	uint64_t pos = 0;
	size_t from = start;
	ssize_t n;

	for (;;) {
		if ((n = spool_read(msg, pos, chunk, sizeof(chunk))) == -1)
			return -1;
		if (n == 0 || buf_append(&h->text, chunk, (size_t)n) == -1)
			break;
		pos += (uint64_t)n;
		/* The end of the section: an empty line, looked for in what
		   came now (and the LF before it). */
		if (h->text.len > start && h->text.data[start] == '\n')
			break;
		if (memmem(h->text.data + from, h->text.len - from, "\n\n",
		    2) != NULL)
			break;
		from = h->text.len - 1;
	}
	return 0;
}

/* Splits TEXT into fields from START: a line with a colon begins one,
   lines starting with a space or tab go on with it; anything else (the
   empty line, a line without a colon) ends the section. Returns where
   the section ends (its empty line included). */
static size_t
split_fields(struct milter_hdrs *h, size_t start, size_t *cap)
{
	const char *t = h->text.data;
	size_t pos = start, end = h->text.len, eol, colon;

	while (pos < end) {
		const char *nl = memchr(t + pos, '\n', end - pos);

		if (nl == NULL)
			break;		/* a cut-off line: body */
		eol = (size_t)(nl - t);
		if (eol == pos)
			return pos + 1;	/* the empty line */
		if ((t[pos] == ' ' || t[pos] == '\t') && h->n > 0) {
			h->v[h->n - 1].value_len = eol - h->v[h->n - 1].value;
			pos = eol + 1;
			continue;
		}
		for (colon = pos; colon < eol && t[colon] != ':' &&
		    t[colon] > ' ' && t[colon] < 127; colon++)
			;
		if (colon == pos || colon == eol || t[colon] != ':')
			break;
		if (h->n == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			h->v = xreallocarray(h->v, *cap, sizeof(*h->v));
		}
		h->v[h->n].name = pos;
		h->v[h->n].name_len = colon - pos;
		h->v[h->n].value = colon + 1;
		h->v[h->n].value_len = eol - colon - 1;
		h->n++;
		pos = eol + 1;
	}
	return pos;
}

int
milter_hdrs_read(struct milter_hdrs *h, const char *prefix,
    size_t prefix_len, const struct spool *msg)
{
	size_t cap = 0, end;

	memset(h, 0, sizeof(*h));
	buf_init(&h->text, MILTER_HDRS_MAX + prefix_len);
	if (buf_append(&h->text, prefix, prefix_len) == -1 ||
	    read_section(h, msg, prefix_len) == -1) {
		milter_hdrs_free(h);
		return -1;
	}
	end = split_fields(h, 0, &cap);
	h->body_off = end > prefix_len ? end - prefix_len : 0;
	return 0;
}

int
milter_body_chunk(const struct spool *msg, uint64_t *pos, struct buf *out)
{
	char raw[READ_CHUNK];
	ssize_t n, i, from = 0;

	buf_reset(out);
	if ((n = spool_read(msg, *pos, raw, sizeof(raw))) <= 0)
		return (int)n;
	for (i = 0; i < n; i++) {
		if (raw[i] != '\n')
			continue;
		if (buf_append(out, raw + from, (size_t)(i - from)) == -1 ||
		    buf_append(out, "\r\n", 2) == -1)
			return -1;
		from = i + 1;
	}
	if (buf_append(out, raw + from, (size_t)(n - from)) == -1)
		return -1;
	*pos += (uint64_t)n;
	return (int)out->len;
}

int
milter_body_append(struct milter_result *r, const char *p, size_t n)
{
	size_t i, from = 0;

	for (i = 0; i < n; i++) {
		if (r->body_cr && p[i] != '\n' && buf_putc(&r->body, '\r') == -1)
			return -1;
		r->body_cr = false;
		if (p[i] != '\r')
			continue;
		if (buf_append(&r->body, p + from, i - from) == -1)
			return -1;
		r->body_cr = true;	/* dropped if an LF follows */
		from = i + 1;
	}
	return buf_append(&r->body, p + from, n - from);
}

void
milter_result_reset(struct milter_result *r)
{
	size_t i;

	for (i = 0; i < r->nmods; i++) {
		free(r->mods[i].name);
		free(r->mods[i].value);
		free(r->mods[i].addr);
		free(r->mods[i].args);
	}
	free(r->mods);
	r->mods = NULL;
	r->nmods = 0;
	buf_free(&r->body);
	buf_free(&r->reply);
	r->body_replaced = false;
	r->body_cr = false;
	r->v = MILTER_V_CONTINUE;
	r->filter[0] = '\0';
	r->why[0] = '\0';
	r->failed = false;
	r->quarantine[0] = '\0';
}

/* ---- writing the changed message ---- */

/* A field of the new header section: borrowed from the old one, or the
   name and value a filter gave (NULL name: deleted). */
struct outfield {
	const char	*name, *value;
	size_t		 name_len, value_len;
};

struct outhdrs {
	struct outfield	*v;
	size_t		 n, cap;
};

static void
out_insert(struct outhdrs *o, size_t at, const char *name, const char *value)
{
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 16;
		o->v = xreallocarray(o->v, o->cap, sizeof(*o->v));
	}
	if (at > o->n)
		at = o->n;
	memmove(o->v + at + 1, o->v + at, (o->n - at) * sizeof(*o->v));
	o->v[at].name = name;
	o->v[at].name_len = strlen(name);
	o->v[at].value = value;
	o->v[at].value_len = strlen(value);
	o->n++;
}

/* CHGHEADER: the INDEX-th field NAME (from 1; 0 counts as 1) gets VALUE,
   or goes when VALUE is ""; when there is none, a field is added. */
static void
out_change(struct outhdrs *o, uint32_t index, const char *name,
    const char *value)
{
	size_t i, len = strlen(name);
	uint32_t seen = 0;

	if (index == 0)
		index = 1;
	for (i = 0; i < o->n; i++) {
		if (o->v[i].name == NULL || o->v[i].name_len != len ||
		    strncasecmp(o->v[i].name, name, len) != 0 || ++seen != index)
			continue;
		if (*value == '\0')
			o->v[i].name = NULL;
		else {
			o->v[i].value = value;
			o->v[i].value_len = strlen(value);
		}
		return;
	}
	if (*value != '\0')
		out_insert(o, o->n, name, value);
}

static void
out_apply(struct outhdrs *o, const struct milter_result *r)
{
	const struct milter_mod *m;
	size_t i;

	for (i = 0; i < r->nmods; i++) {
		m = &r->mods[i];
		if (m->cmd == MILTER_R_ADDHEADER)
			out_insert(o, o->n, m->name, m->value);
		else if (m->cmd == MILTER_R_INSHEADER)
			out_insert(o, m->index, m->name, m->value);
		else if (m->cmd == MILTER_R_CHGHEADER)
			out_change(o, m->index, m->name, m->value);
	}
}

static int
copy_rest(const struct spool *msg, uint64_t pos, struct spool *out)
{
	char chunk[READ_CHUNK];
	ssize_t n;

	while ((n = spool_read(msg, pos, chunk, sizeof(chunk))) > 0) {
		spool_append(out, chunk, (size_t)n);
		pos += (uint64_t)n;
	}
	return n == -1 ? -1 : 0;
}

int
milter_rewrite(const struct milter_result *r, const char *prefix,
    size_t prefix_len, const struct spool *msg, struct spool *out)
{
	struct milter_hdrs h;
	struct outhdrs o = { NULL, 0, 0 };
	const struct milter_field *f;
	size_t i;
	int ret = 0;

	if (milter_hdrs_read(&h, prefix, prefix_len, msg) == -1)
		return -1;
	for (i = 0; i < h.n; i++) {
		f = &h.v[i];
		if (o.n == o.cap) {
			o.cap = o.cap ? o.cap * 2 : 16;
			o.v = xreallocarray(o.v, o.cap, sizeof(*o.v));
		}
		o.v[o.n].name = h.text.data + f->name;
		o.v[o.n].name_len = f->name_len;
		o.v[o.n].value = h.text.data + f->value;
		o.v[o.n++].value_len = f->value_len;
	}
	out_apply(&o, r);
	for (i = 0; i < o.n; i++) {
		if (o.v[i].name == NULL)
			continue;
		spool_append(out, o.v[i].name, o.v[i].name_len);
		spool_append(out, ":", 1);
		spool_append(out, o.v[i].value, o.v[i].value_len);
		spool_append(out, "\n", 1);
	}
	spool_append(out, "\n", 1);
	if (r->body_replaced) {
		spool_append(out, r->body.data, r->body.len);
		if (r->body_cr)
			spool_append(out, "\r", 1);
	} else
		ret = copy_rest(msg, h.body_off, out);
	free(o.v);
	milter_hdrs_free(&h);
	if (ret == 0 && out->err != 0) {
		errno = out->err;
		ret = -1;
	}
	return ret;
}
