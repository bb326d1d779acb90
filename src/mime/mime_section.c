/*
 * mime_section.c - what BODY[section]<partial> returns (RFC 9051 6.4.5):
 * the range of the stored message a section names, the header fields
 * HEADER.FIELDS keeps, and the LF-to-CRLF reading of a range cut to a
 * partial origin and length counted in CRLF octets.
 *
 * Part numbers follow RFC 9051: the parts of a multipart are numbered
 * from 1; a message that is not multipart has one part, 1, its body;
 * the parts of a message/rfc822 part are those of the embedded message.
 * HEADER, HEADER.FIELDS and TEXT apply to the message itself or to a
 * message/rfc822 part, MIME to any numbered part.
 */
#include <errno.h>
#include <unistd.h>

#include "mime/mime_int.h"
#include "util/str.h"
#include "util/compat.h"

int
mime_section_parse(const char *s, size_t len, uint32_t *parts, size_t max,
    struct mime_section *r)
{
	static const struct {
		const char		*name;
		enum mime_sec_kind	 kind;
	} kinds[] = {
		{ "HEADER.FIELDS.NOT", MIME_SEC_HEADER_FIELDS_NOT },
		{ "HEADER.FIELDS", MIME_SEC_HEADER_FIELDS },
		{ "HEADER", MIME_SEC_HEADER },
		{ "TEXT", MIME_SEC_TEXT },
		{ "MIME", MIME_SEC_MIME },
	};
	size_t i, d;
	uint64_t v;

	memset(r, 0, sizeof(*r));
	r->part = parts;
	while (len > 0 && *s >= '0' && *s <= '9') {
		d = 0;
		while (d < len && s[d] >= '0' && s[d] <= '9')
			d++;
		/* nz-number: no leading zero, at most 2^32 - 1 */
		if (s[0] == '0' || r->nparts == max ||
		    str_to_uint_n(s, d, 1, UINT32_MAX, &v) == -1)
			return -1;
		parts[r->nparts++] = (uint32_t)v;
		s += d;
		len -= d;
		if (len == 0)
			return 0;
		if (*s != '.' || len == 1)
			return -1;
		s++;
		len--;
	}
	if (len == 0)
		return 0;
	for (i = 0; i < nitems(kinds); i++) {
		if (strlen(kinds[i].name) == len &&
		    strncasecmp(kinds[i].name, s, len) == 0) {
			r->kind = kinds[i].kind;
			return r->kind == MIME_SEC_MIME && r->nparts == 0 ?
			    -1 : 0;
		}
	}
	return -1;
}

static const struct mime_part *
nth_child(const struct mime_part *p, uint32_t n)
{
	const struct mime_part *c;

	for (c = p->children; c != NULL && n > 1; c = c->next)
		n--;
	return c;
}

/* The part SEC's numbers name, or NULL. While MSG is set the next
   number counts in a message (the root, or a message/rfc822's child),
   else in the multipart P. */
static const struct mime_part *
resolve(const struct mime_part *root, const struct mime_section *sec)
{
	const struct mime_part *p = root, *msg = root;
	size_t i;

	if (root == NULL)
		return NULL;

	for (i = 0; i < sec->nparts; i++) {
		uint32_t n = sec->part[i];

		if (msg != NULL) {
			/* In a message: its parts, or its body as 1. */
			if (msg->flags & MIME_PART_MULTIPART)
				p = nth_child(msg, n);
			else
				p = n == 1 ? msg : NULL;
		} else if (p->flags & MIME_PART_MULTIPART) {
			p = nth_child(p, n);
		} else {
			return NULL;	/* a leaf has no parts */
		}
		if (p == NULL)
			return NULL;
		msg = (p->flags & MIME_PART_MESSAGE) ? p->children : NULL;
	}
	return p;
}

static void
set_range(struct mime_range *r, uint64_t off, uint64_t len,
    uint64_t len_crlf, uint64_t lines)
{
	r->off = off;
	r->len = len;
	r->len_crlf = len_crlf;
	r->lines = lines;
}

int
mime_section_range(const struct mime_tree *t, const struct mime_section *sec,
    struct mime_range *r_r)
{
	const struct mime_part *p = resolve(t->root, sec), *m;

	if (p == NULL)
		return 0;
	if (sec->nparts == 0 && sec->kind == MIME_SEC_BODY) {
		set_range(r_r, 0, t->size, t->size_crlf, p->hdr_lines +
		    p->body_lines);
		return 1;
	}
	switch (sec->kind) {
	case MIME_SEC_BODY:
		set_range(r_r, p->body_off, p->body_size, p->body_size_crlf,
		    p->body_lines);
		return 1;
	case MIME_SEC_MIME:
		set_range(r_r, p->hdr_off, p->hdr_size, p->hdr_size_crlf,
		    p->hdr_lines);
		return 1;
	default:
		break;
	}
	/* HEADER*, TEXT: of the message itself or a message/rfc822. */
	if (sec->nparts == 0)
		m = p;
	else if ((p->flags & MIME_PART_MESSAGE) && p->children != NULL)
		m = p->children;
	else
		return 0;
	if (sec->kind == MIME_SEC_TEXT)
		set_range(r_r, m->body_off, m->body_size, m->body_size_crlf,
		    m->body_lines);
	else
		set_range(r_r, m->hdr_off, m->hdr_size, m->hdr_size_crlf,
		    m->hdr_lines);
	return 1;
}

/* ---- HEADER.FIELDS ---- */

bool
mime_name_in(const char *name, size_t nlen, void *arg)
{
	const char *const *names = arg;

	for (; *names != NULL; names++)
		if (strlen(*names) == nlen &&
		    strncasecmp(*names, name, nlen) == 0)
			return true;
	return false;
}

/* Appends S (N octets, one line with its LF or not) with a CRLF end. */
static int
put_line(struct buf *out, const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '\n')
		n--;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (buf_append(out, s, n) == -1)
		return -1;
	return buf_append(out, "\r\n", 2);
}

int
mime_header_filter(const char *hdr, size_t len,
    bool (*listed)(const char *, size_t, void *), void *arg, bool not,
    struct buf *out)
{
	const char *p = hdr, *end = hdr + len;
	bool keep = false;

	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		const char *eol = lf != NULL ? lf + 1 : end;
		size_t ll = (size_t)(eol - p), nlen;

		if (*p == '\n' || (ll >= 2 && p[0] == '\r' && p[1] == '\n'))
			break;		/* the blank line */
		if (*p != ' ' && *p != '\t') {
			/* A new field (a line without ':' is none). */
			const char *colon = memchr(p, ':', ll);

			keep = false;
			if (colon != NULL) {
				nlen = (size_t)(colon - p);
				while (nlen > 0 && (p[nlen - 1] == ' ' ||
				    p[nlen - 1] == '\t'))
					nlen--;
				keep = listed(p, nlen, arg) != not;
			}
		}
		if (keep && put_line(out, p, ll) == -1)
			return -1;
		p = eol;
	}
	return buf_append(out, "\r\n", 2);
}

/* ---- partial fetch ---- */

uint64_t
mime_partial_len(uint64_t len_crlf, uint64_t origin, uint64_t count)
{
	if (origin >= len_crlf)
		return 0;
	return len_crlf - origin < count ? len_crlf - origin : count;
}

void
mime_crlf_init(struct mime_crlf_reader *r, int fd,
    const struct mime_range *range, uint64_t origin, uint64_t count)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->pos = range->off;
	r->end = range->off + range->len;
	/* Nothing to return: nothing to read (origin may be past the end). */
	if (mime_partial_len(range->len_crlf, origin, count) == 0)
		return;
	r->vstart = origin;
	r->vend = origin + mime_partial_len(range->len_crlf, origin, count);
}

/* Emits one virtual octet C at r->vpos if it is inside the slice. */
static inline void
emit(struct mime_crlf_reader *r, char c, char *dst, size_t *o)
{
	if (r->vpos >= r->vstart && r->vpos < r->vend)
		dst[(*o)++] = c;
	r->vpos++;
}

ssize_t
mime_crlf_read(struct mime_crlf_reader *r, char *dst, size_t dstsz)
{
	char in[16 * 1024];
	size_t o = 0, i;
	ssize_t n;

	while (o < dstsz && r->vpos < r->vend) {
		if (r->pending_lf) {
			/* The LF of a CRLF made from a bare LF. */
			r->pending_lf = false;
			emit(r, '\n', dst, &o);
			continue;
		}
		if (r->pos >= r->end) {
			errno = EIO;	/* the file is shorter than the tree */
			return -1;
		}
		/* What does not fit is read again next time (r->pos moves
		   by the octets used only), so inside the slice no more
		   is read than the room left can take. */
		n = (ssize_t)(r->end - r->pos < sizeof(in) ? r->end - r->pos :
		    sizeof(in));
		if (r->vpos >= r->vstart && (size_t)n > dstsz - o)
			n = (ssize_t)(dstsz - o);
		n = pread(r->fd, in, (size_t)n, (off_t)r->pos);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		for (i = 0; i < (size_t)n && o < dstsz &&
		    r->vpos < r->vend; i++) {
			/* Inside the slice, a run without LF goes at once. */
			if (r->vpos >= r->vstart && in[i] != '\n') {
				const char *lf = memchr(in + i, '\n',
				    (size_t)n - i);
				size_t run = (lf != NULL ? (size_t)(lf - in) :
				    (size_t)n) - i;

				if (run > dstsz - o)
					run = dstsz - o;
				if (run > r->vend - r->vpos)
					run = (size_t)(r->vend - r->vpos);
				memcpy(dst + o, in + i, run);
				o += run;
				r->vpos += run;
				i += run;
				r->prev_cr = in[i - 1] == '\r';
				i--;	/* the loop's i++ */
				continue;
			}
			if (in[i] == '\n' && !r->prev_cr) {
				emit(r, '\r', dst, &o);
				if (o == dstsz) {
					r->pending_lf = true;
					r->prev_cr = false;
					i++;
					break;
				}
			}
			emit(r, in[i], dst, &o);
			r->prev_cr = in[i] == '\r';
		}
		r->pos += i;
	}
	return (ssize_t)o;
}
