/* fuzz_milter_msg.c - the message as content filters see and change it
   (src/milter/milter_msg.c). The input is a message (LF line ends, as
   the spool holds it), optionally followed by "\0" and lines of header
   changes "a name value", "i N name value", "c N name value" (value
   "" deletes), "b body". Checks: the fields found lie inside the text,
   the body chunks are CRLF and at most a packet, their LF count equals
   the message body's, and the rewritten message ends its header section
   with exactly one empty line before the body. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "milter/milter_int.h"
#include "util/spool.h"
#include "util/xalloc.h"

static void
check_hdrs(const struct milter_hdrs *h, size_t msglen)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (h->v[i].name + h->v[i].name_len > h->text.len ||
		    h->v[i].value + h->v[i].value_len > h->text.len ||
		    h->v[i].name_len == 0)
			abort();
	if (h->body_off > msglen)
		abort();
}

static void
check_body(const struct spool *sp, const struct milter_hdrs *h,
    const char *msg, size_t len)
{
	struct buf out;
	uint64_t pos = h->body_off, lf = 0, crlf = 0;
	size_t i;
	int n;

	buf_init(&out, BUF_UNLIMITED);
	while ((n = milter_body_chunk(sp, &pos, &out)) > 0) {
		if (out.len > MILTER_CHUNK_SIZE)
			abort();
		for (i = 0; i < out.len; i++)
			if (out.data[i] == '\n') {
				if (i == 0 || out.data[i - 1] != '\r')
					abort();
				crlf++;
			}
	}
	if (n != 0)
		abort();
	for (i = (size_t)h->body_off; i < len; i++)
		lf += msg[i] == '\n';
	if (lf != crlf)
		abort();
	buf_free(&out);
}

static void
add_mod(struct milter_result *r, enum milter_rep cmd, uint32_t index,
    const char *name, const char *value)
{
	struct milter_mod *m;

	r->mods = xreallocarray(r->mods, r->nmods + 1, sizeof(*r->mods));
	m = &r->mods[r->nmods++];
	memset(m, 0, sizeof(*m));
	m->cmd = cmd;
	m->index = index;
	m->name = xstrdup(name);
	m->value = xstrdup(value);
}

/* One line of changes. */
static void
parse_mod(struct milter_result *r, char *line)
{
	char name[64], value[256];
	unsigned idx = 0;

	value[0] = '\0';
	if (sscanf(line, "a %63s %255[^\n]", name, value) >= 1)
		add_mod(r, MILTER_R_ADDHEADER, 0, name, value);
	else if (sscanf(line, "i %u %63s %255[^\n]", &idx, name, value) >= 2)
		add_mod(r, MILTER_R_INSHEADER, idx, name, value);
	else if (sscanf(line, "c %u %63s %255[^\n]", &idx, name, value) >= 2)
		add_mod(r, MILTER_R_CHGHEADER, idx, name, value);
	else if (line[0] == 'b') {
		r->body_replaced = true;
		(void)milter_body_append(r, line + 1, strlen(line + 1));
	}
}

static void
rewrite(const struct milter_result *r, const struct spool *sp)
{
	struct spool out;
	char *t;
	size_t i;

	spool_init(&out, -1, NULL);
	if (milter_rewrite(r, "Received: x\n", 12, sp, &out) == 0) {
		t = xcalloc(1, (size_t)out.len + 1);
		if (spool_read(&out, 0, t, (size_t)out.len) != (ssize_t)out.len)
			abort();
		/* The header section, then one empty line (at once when
		   every header was deleted). */
		for (i = 0; i + 1 < out.len && !(t[i] == '\n' &&
		    t[i + 1] == '\n'); i++)
			;
		if (i + 1 >= out.len && (out.len == 0 || t[0] != '\n'))
			abort();
		free(t);
	}
	spool_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *nul = memchr(data, '\0', len);
	size_t msglen = nul != NULL ? (size_t)(nul - (const char *)data) : len;
	struct milter_result r;
	struct milter_hdrs h;
	struct spool sp;
	char *mods, *line, *save;

	if (len > 1 << 20)
		return 0;
	spool_init(&sp, -1, NULL);	/* in memory: at most 64 KiB */
	if (msglen >= SPOOL_MEM_MAX)
		msglen = SPOOL_MEM_MAX - 1;
	spool_append(&sp, data, msglen);
	if (milter_hdrs_read(&h, "", 0, &sp) == 0) {
		check_hdrs(&h, msglen);
		check_body(&sp, &h, (const char *)data, msglen);
		milter_hdrs_free(&h);
	}
	memset(&r, 0, sizeof(r));
	buf_init(&r.body, 1 << 20);
	if (nul != NULL) {
		mods = xcalloc(1, len - msglen);
		memcpy(mods, nul + 1, len - msglen - 1);
		for (line = strtok_r(mods, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			parse_mod(&r, line);
		free(mods);
	}
	rewrite(&r, &sp);
	milter_result_reset(&r);
	spool_free(&sp);
	return 0;
}
