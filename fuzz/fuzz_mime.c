/*
 * fuzz_mime.c - the MIME parser (src/mime/) and the IMAP renderings of
 * its trees (src/imap/imap_body.c).
 *
 * Each input is a message. It is parsed whole and again in chunks whose
 * sizes come from a generator seeded by the input, and the two trees
 * must encode to the same bytes. Then the invariants: every range inside
 * its parent and the message, the CRLF sizes and line counts recounted
 * from the message itself, the cache form round-trips and a damaged
 * copy decodes to nothing or to a tree that still renders, the renderings
 * have balanced parentheses, section ranges stay in the message, and the
 * LF-to-CRLF reader returns exactly the octets of the conversion done
 * here in memory.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "imap/imap_body.h"
#include "mime/mime.h"

static const unsigned char *msg;
static size_t msglen;

static uint64_t
rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The CRLF size and LF count of [off, off + len) of the message. */
static void
recount(uint64_t off, uint64_t len, uint64_t *crlf, uint64_t *lines)
{
	uint64_t i;

	*crlf = len;
	*lines = 0;
	for (i = off; i < off + len; i++) {
		if (msg[i] != '\n')
			continue;
		(*lines)++;
		if (i == 0 || msg[i - 1] != '\r')
			(*crlf)++;
	}
}

static void
check_part(const struct mime_part *p, uint64_t lo, uint64_t hi,
    size_t *count)
{
	const struct mime_part *c;
	uint64_t crlf, lines, prev_end;

	(*count)++;
	if (p->depth > MIME_DEPTH_MAX || p->hdr_off < lo ||
	    p->hdr_off + p->hdr_size != p->body_off ||
	    p->body_off + p->body_size > hi)
		abort();
	recount(p->hdr_off, p->hdr_size, &crlf, &lines);
	if (crlf != p->hdr_size_crlf || lines != p->hdr_lines)
		abort();
	recount(p->body_off, p->body_size, &crlf, &lines);
	if (crlf != p->body_size_crlf || lines != p->body_lines)
		abort();
	if ((p->flags & MIME_PART_MESSAGE) && (p->children == NULL ||
	    p->children->next != NULL || p->children->env == NULL))
		abort();
	prev_end = p->body_off;
	for (c = p->children; c != NULL; c = c->next) {
		if (c->parent != p || c->depth != p->depth + 1 ||
		    c->hdr_off < prev_end)
			abort();
		check_part(c, p->body_off, p->body_off + p->body_size, count);
		prev_end = c->body_off + c->body_size;
	}
}

/* Parentheses balanced outside quoted strings and literals. */
static void
check_balanced(const struct buf *b)
{
	size_t i = 0, depth = 0, n;

	while (i < b->len) {
		char c = b->data[i];

		if (c == '"') {
			for (i++; i < b->len && b->data[i] != '"'; i++)
				if (b->data[i] == '\\')
					i++;
			if (i >= b->len)
				abort();
			i++;
		} else if (c == '{') {
			n = 0;
			for (i++; i < b->len && b->data[i] >= '0' &&
			    b->data[i] <= '9'; i++)
				n = n * 10 + (size_t)(b->data[i] - '0');
			if (i + 3 > b->len ||
			    memcmp(b->data + i, "}\r\n", 3) != 0)
				abort();
			i += 3 + n;
			if (i > b->len)
				abort();
		} else {
			if (c == '(')
				depth++;
			else if (c == ')' && depth-- == 0)
				abort();
			i++;
		}
	}
	if (depth != 0)
		abort();
}

static void
render(const struct mime_tree *t)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	if (imap_body_structure(mime_tree_root(t), true, &b) == -1)
		abort();
	check_balanced(&b);
	buf_reset(&b);
	if (imap_body_structure(mime_tree_root(t), false, &b) == -1 ||
	    imap_body_envelope(mime_tree_root(t), &b) == -1)
		abort();
	check_balanced(&b);
	buf_free(&b);
}

static struct mime_tree *
parse_split(uint64_t seed)
{
	struct mime_parser *p = mime_parser_new();
	size_t off = 0, n;

	while (off < msglen) {
		/* Mostly tiny chunks, sometimes large ones. */
		uint64_t r = rng(&seed);

		n = (r & 3) == 0 ? (size_t)(r >> 8) % 4096 + 1 :
		    (size_t)(r >> 8) % 8 + 1;
		if (n > msglen - off)
			n = msglen - off;
		mime_parser_feed(p, msg + off, n);
		off += n;
	}
	return mime_parser_finish(&p);
}

static void
check_cache(const struct mime_tree *t, const struct buf *enc, uint64_t seed)
{
	struct mime_tree *d = mime_tree_decode(enc->data, enc->len);
	struct buf again;
	char *bad;
	size_t i;

	if (enc->len == 0)
		abort();	/* a form always has its magic and checksum */
	buf_init(&again, BUF_UNLIMITED);
	if (d == NULL || mime_tree_encode(d, &again) == -1 ||
	    again.len != enc->len ||
	    memcmp(again.data, enc->data, enc->len) != 0)
		abort();
	render(d);
	mime_tree_free(&d);
	buf_free(&again);
	(void)t;
	/* Damaged: a cut and flipped octets. A tree, if any, renders. */
	if ((d = mime_tree_decode(enc->data, (size_t)(rng(&seed) %
	    enc->len))) != NULL)
		abort();
	bad = malloc(enc->len);
	if (bad == NULL)
		return;
	memcpy(bad, enc->data, enc->len);
	for (i = 0; i < 3; i++)
		bad[rng(&seed) % enc->len] ^= (char)(1 << (rng(&seed) % 8));
	if ((d = mime_tree_decode(bad, enc->len)) != NULL) {
		render(d);
		mime_tree_free(&d);
	}
	free(bad);
}

/* Section ranges inside the message; the CRLF reader over a memfd. */
static void
check_sections(const struct mime_tree *t, int fd, uint64_t seed)
{
	static const char *const secs[] = {
		"", "1", "2", "1.1", "1.2", "2.1", "1.1.1", "2.2.1", "HEADER",
		"TEXT", "1.MIME", "2.MIME", "1.HEADER", "2.TEXT", "3.1.2.MIME",
	};
	uint32_t parts[8];
	struct mime_section sec;
	struct mime_range r;
	struct mime_crlf_reader rd;
	char out[300];
	uint64_t origin, count, i, plen;
	struct buf got, conv;
	size_t k;
	ssize_t n;

	buf_init(&got, BUF_UNLIMITED);
	buf_init(&conv, BUF_UNLIMITED);
	for (k = 0; k < sizeof(secs) / sizeof(secs[0]); k++) {
		if (mime_section_parse(secs[k], strlen(secs[k]), parts, 8,
		    &sec) == -1)
			abort();
		if (mime_section_range(t, &sec, &r) != 1)
			continue;
		if (r.off + r.len > msglen || r.len_crlf < r.len)
			abort();
		if (fd == -1 || r.len > 65536)
			continue;
		origin = rng(&seed) % (r.len_crlf + 2);
		count = (rng(&seed) & 1) ? UINT64_MAX : rng(&seed) % 500;
		mime_crlf_init(&rd, fd, &r, origin, count);
		buf_reset(&got);
		while ((n = mime_crlf_read(&rd, out, 1 + rng(&seed) % 299)) >
		    0)
			if (buf_append(&got, out, (size_t)n) == -1)
				abort();
		if (n < 0)
			abort();
		/* The conversion done here: LF not after CR becomes CRLF. */
		buf_reset(&conv);
		for (i = r.off; i < r.off + r.len; i++) {
			if (msg[i] == '\n' &&
			    (i == r.off || msg[i - 1] != '\r'))
				(void)buf_putc(&conv, '\r');
			(void)buf_putc(&conv, (char)msg[i]);
		}
		plen = mime_partial_len(r.len_crlf, origin, count);
		if (conv.len != r.len_crlf || got.len != plen ||
		    (plen > 0 &&
		    memcmp(got.data, conv.data + origin, plen) != 0))
			abort();
	}
	buf_free(&got);
	buf_free(&conv);
}

static void
check_filter(const struct mime_tree *t)
{
	static const char *const names[] = { "subject", "from", "to", NULL };
	const struct mime_part *root = mime_tree_root(t);
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	if (mime_header_filter((const char *)msg + root->hdr_off,
	    root->hdr_size, mime_name_in, (void *)names, false, &b) == -1 ||
	    mime_header_filter((const char *)msg + root->hdr_off,
	    root->hdr_size, mime_name_in, (void *)names, true, &b) == -1)
		abort();
	buf_reset(&b);
	if (root->env != NULL && root->env->field[MIME_ENV_SUBJECT] != NULL &&
	    mime_decode_words(root->env->field[MIME_ENV_SUBJECT],
	    strlen(root->env->field[MIME_ENV_SUBJECT]), &b) == -1)
		abort();
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct mime_tree *t0, *t1;
	struct buf e0, e1;
	uint64_t seed = 0x9e3779b97f4a7c15ULL ^ len;
	size_t i, count = 0;
	int fd;

	msg = data;
	msglen = len;
	for (i = 0; i < len && i < 64; i++)
		seed = seed * 31 + data[i];
	if (seed == 0)
		seed = 1;
	t0 = mime_parse(data, len);
	t1 = parse_split(seed);
	buf_init(&e0, BUF_UNLIMITED);
	buf_init(&e1, BUF_UNLIMITED);
	if (mime_tree_encode(t0, &e0) == -1 ||
	    mime_tree_encode(t1, &e1) == -1 ||
	    e0.len != e1.len || memcmp(e0.data, e1.data, e0.len) != 0)
		abort();	/* the split changed the tree */
	if (mime_tree_size(t0) != len || mime_tree_root(t0)->hdr_size +
	    mime_tree_root(t0)->body_size != len)
		abort();
	check_part(mime_tree_root(t0), 0, len, &count);
	if (count != mime_tree_nparts(t0) || count > MIME_PARTS_MAX)
		abort();
	render(t0);
	check_cache(t0, &e0, seed);
	fd = memfd_create("fuzz_mime", 0);
	if (fd != -1 && (size_t)write(fd, data, len) != len) {
		(void)close(fd);
		fd = -1;
	}
	check_sections(t0, fd, seed);
	if (fd != -1)
		(void)close(fd);
	check_filter(t0);
	buf_free(&e0);
	buf_free(&e1);
	mime_tree_free(&t0);
	mime_tree_free(&t1);
	return 0;
}
