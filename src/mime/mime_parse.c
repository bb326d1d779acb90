/*
 * mime_parse.c - the streaming MIME parser: lines, boundaries, the part
 * tree and its sizes (RFC 2045 5-6, RFC 2046 5.1 and 5.2, RFC 5322 2.2).
 *
 * The input is cut into lines whatever the chunks. A line that may be a
 * boundary delimiter is held in a small peek buffer (2 + the longest
 * boundary + 2 octets) until it is decided; every other octet is only
 * counted, except header fields, which are collected one at a time (at
 * most MIME_FIELD_MAX) and applied to their part when complete. So the
 * parser holds O(depth + one field), whatever the message.
 *
 * Boundaries follow RFC 2046 5.1.1 and Dovecot's reading of it: a line
 * is a delimiter when it starts with "--" and the boundary of an open
 * multipart (the rest of the line is ignored: trailing white space, or
 * whatever a broken mailer wrote); when several boundaries are prefixes
 * of the line, the longest wins, the innermost on a tie, so nested
 * boundaries sharing a prefix work. A delimiter of an outer multipart
 * closes the inner ones (missing close delimiters). The line end before
 * a delimiter belongs to it, not to the part before.
 */
#include "mime/mime_int.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define PEEK_MAX	(2 + MIME_BOUNDARY_MAX + 2)

/* Counters at a point of the message. */
struct snap {
	uint64_t	off;	/* octets */
	uint64_t	lf;	/* LF octets */
	uint64_t	bare;	/* LF octets not preceded by CR */
};

enum frame_mode {
	F_HEADER,	/* in the part's header section */
	F_BODY,		/* in a leaf body */
	F_PREAMBLE,	/* multipart before its first delimiter */
	F_PARTS,	/* multipart with a child open above it */
	F_EPILOGUE,	/* multipart after its close delimiter */
};

/* One open part. Frame i holds a part of depth i. */
struct frame {
	struct mime_part	*part;
	enum frame_mode		 mode;
	struct snap		 hdr0, body0;
	struct mime_part	*last_child;
	const char		*boundary;	/* F_PREAMBLE, F_PARTS */
	size_t			 blen;
	unsigned		 seen;		/* enum mime_seen */
};

enum line_state {
	L_BOL,		/* at the start of a line */
	L_PEEK,		/* collecting a possible delimiter */
	L_CONTENT,	/* the rest of an ordinary line */
	L_SKIP,		/* the rest of a delimiter line */
};

struct mime_parser {
	struct mime_tree	*t;
	struct snap		 cur;		/* after the octets consumed */
	struct snap		 line0;		/* at the start of this line */
	struct snap		 eol;		/* before the last line end */
	bool			 prev_cr;
	enum line_state		 lstate;
	char			 peek[PEEK_MAX];
	size_t			 npeek;
	uint64_t		 line_len;	/* octets before the LF */
	bool			 line_first;	/* nothing of it handled yet */
	int			 pending_child;	/* frame, after a delimiter */
	bool			 after_delim;	/* the last line was one */
	bool			 no_boundaries;	/* parts limit reached */
	struct frame		 st[MIME_DEPTH_MAX + 1];
	size_t			 n;
	struct buf		 field;
	bool			 field_on;
	size_t			 field_line1;	/* end of its first line */
};

static void
push_frame(struct mime_parser *p, struct mime_part *part, struct snap at)
{
	struct frame *f = &p->st[p->n++];

	memset(f, 0, sizeof(*f));
	f->part = part;
	f->mode = F_HEADER;
	f->hdr0 = at;
	part->hdr_off = at.off;
}

struct mime_parser *
mime_parser_new(void)
{
	struct mime_parser *p = xcalloc(1, sizeof(*p));

	p->t = mime_tree_new();
	p->pending_child = -1;
	buf_init(&p->field, MIME_FIELD_MAX);
	/* The root always fits: the arena is empty. */
	p->t->root = mime_part_add(p->t, NULL, NULL);
	p->t->root->env = mime_alloc(p->t, sizeof(struct mime_envelope));
	push_frame(p, p->t->root, p->cur);
	return p;
}

void
mime_parser_free(struct mime_parser **pp)
{
	struct mime_parser *p = *pp;

	if (p == NULL)
		return;
	mime_tree_free(&p->t);
	buf_free(&p->field);
	free(p);
	*pp = NULL;
}

/* ---- header fields ---- */

/* Applies the field collected for the top frame, if any. */
static void
field_finish(struct mime_parser *p)
{
	struct frame *f = &p->st[p->n - 1];
	const char *s = p->field.data, *colon, *v;
	size_t nlen, len = p->field.len, vlen;

	if (!p->field_on)
		return;
	p->field_on = false;
	if (len == 0 || (colon = memchr(s, ':', len)) == NULL)
		return;		/* a broken line: skipped, as Dovecot does */
	nlen = (size_t)(colon - s);
	while (nlen > 0 && (s[nlen - 1] == ' ' || s[nlen - 1] == '\t'))
		nlen--;		/* obs-optional: "Subject :" */
	if (nlen == 0)
		return;
	v = colon + 1;
	vlen = len - (size_t)(v - s);
	/* Only the first line's blanks go (as Dovecot): a value that
	   starts on a continuation line keeps its fold's white space. */
	while (vlen > 0 && (*v == ' ' || *v == '\t') &&
	    (size_t)(v - s) < p->field_line1) {
		v++;
		vlen--;
	}
	mime_field_apply(p->t, f->part, &f->seen, s, nlen, v, vlen);
}

/* Appends to the field, NUL octets as 0x80 (Dovecot does the same):
   a NUL would cut the strings IMAP returns, and dropping it would let
   "Cont\0ent-Type" become a field that other readers do not see. The
   CR of a CRLF goes at the line end; a bare CR stays (white space to the
   subject's collapse). A field past MIME_FIELD_MAX is dropped whole. */
static void
field_add(struct mime_parser *p, const char *s, size_t n)
{
	const char *nul;
	size_t k;

	while (p->field_on && n > 0) {
		nul = memchr(s, '\0', n);
		k = nul != NULL ? (size_t)(nul - s) : n;
		if ((k > 0 && buf_append(&p->field, s, k) == -1) ||
		    (nul != NULL && buf_putc(&p->field, (char)0x80) == -1)) {
			p->field_on = false;
			return;
		}
		if (nul != NULL)
			k++;
		s += k;
		n -= k;
	}
}

/* Octets of a header line (not its LF) for the top frame. */
static void
header_bytes(struct mime_parser *p, const char *s, size_t n)
{
	struct frame *f = &p->st[p->n - 1];

	if (n == 0)
		return;
	if (p->line_first) {
		p->line_first = false;
		if (*s != ' ' && *s != '\t') {
			/* A new field: the last one is complete. */
			field_finish(p);
			if (p->cur.off - f->hdr0.off > MIME_HEADER_MAX) {
				f->part->flags |= MIME_PART_HDR_TRUNCATED;
				p->t->truncated = true;
			} else {
				p->field_on = true;
				p->field_line1 = SIZE_MAX;
				buf_reset(&p->field);
			}
		}
	}
	field_add(p, s, n);
}

/* ---- parts ---- */

static void
set_header_size(struct frame *f, struct snap e)
{
	struct mime_part *part = f->part;

	mime_field_end(part, f->seen);
	part->hdr_size = e.off - f->hdr0.off;
	part->hdr_size_crlf = part->hdr_size + e.bare - f->hdr0.bare;
	part->hdr_lines = e.lf - f->hdr0.lf;
	part->body_off = e.off;
	f->body0 = e;
}

/* Ends frame I's part at E (whatever its state). */
static void
close_frame(struct mime_parser *p, size_t i, struct snap e)
{
	struct frame *f = &p->st[i];
	struct mime_part *part = f->part;

	if (f->mode == F_HEADER) {
		if (i == p->n - 1)
			field_finish(p);
		set_header_size(f, e);
	}
	part->body_size = e.off - f->body0.off;
	part->body_size_crlf = part->body_size + e.bare - f->body0.bare;
	part->body_lines = e.lf - f->body0.lf;
}

/* Closes every frame above K (K -1: all). */
static void
close_above(struct mime_parser *p, int k, struct snap e)
{
	while ((int)p->n > k + 1) {
		close_frame(p, p->n - 1, e);
		p->n--;
	}
}

/* Whether P can take a child of its own (depth and parts limits). */
static bool
room_for_child(struct mime_parser *p, const struct mime_part *part)
{
	if (part->depth + 1 > MIME_DEPTH_MAX ||
	    p->t->nparts >= MIME_PARTS_MAX || p->no_boundaries) {
		p->t->truncated = true;
		return false;
	}
	return true;
}

/* The boundary of a multipart, or NULL when it has none usable. */
static const char *
boundary_of(const struct mime_part *part, size_t *len_r)
{
	const char *b = mime_part_param(part, "boundary");

	if (b == NULL || *b == '\0' || (*len_r = strlen(b)) >
	    MIME_BOUNDARY_MAX)
		return NULL;
	return b;
}

/* The blank line ending the top frame's header was consumed. */
static void
header_end(struct mime_parser *p)
{
	struct frame *f = &p->st[p->n - 1];
	struct mime_part *part = f->part, *child;

	field_finish(p);
	set_header_size(f, p->cur);
	f->mode = F_BODY;
	if (mime_part_is(part, "multipart", NULL)) {
		f->boundary = boundary_of(part, &f->blen);
		if (f->boundary == NULL)
			return;	/* no delimiter can come: one empty part */
		if (!room_for_child(p, part)) {
			part->flags |= MIME_PART_OPAQUE;
			return;
		}
		part->flags |= MIME_PART_MULTIPART;
		f->mode = F_PREAMBLE;
	} else if (mime_part_is(part, "message", "rfc822") ||
	    mime_part_is(part, "message", "global")) {
		if (!room_for_child(p, part) ||
		    (child = mime_part_add(p->t, part, NULL)) == NULL) {
			part->flags |= MIME_PART_OPAQUE;
			return;
		}
		child->env = mime_alloc(p->t, sizeof(struct mime_envelope));
		part->flags |= MIME_PART_MESSAGE;
		push_frame(p, child, p->cur);
	}
}

/* A delimiter of frame K's multipart starts this line. */
static void
delimiter(struct mime_parser *p, size_t k, bool close)
{
	const struct frame *top = &p->st[p->n - 1];
	uint64_t region = top->body0.off;

	/* The line end before the delimiter belongs to it (RFC 2046
	   5.1.1), unless the innermost open body is empty (the LF of the
	   blank line ending a header is the header's) or a header is still
	   open: an unterminated header keeps its last line's LF, as in
	   Dovecot, where a message/rfc822 so cut counts it. */
	close_above(p, (int)k, p->line0.off > region && !p->after_delim &&
	    top->mode != F_HEADER ? p->eol : p->line0);
	if (close) {
		p->st[k].mode = F_EPILOGUE;
	} else {
		p->st[k].mode = F_PARTS;
		p->pending_child = (int)k;
	}
	p->lstate = L_SKIP;
}

/* The line of delimiter K has ended: its first body part starts. */
static void
open_child(struct mime_parser *p, size_t k)
{
	struct frame *f = &p->st[k];
	struct mime_part *child;

	p->pending_child = -1;
	if (!room_for_child(p, f->part) ||
	    (child = mime_part_add(p->t, f->part, f->last_child)) == NULL) {
		/* Past the limit the rest of the message stays in this
		   multipart, recognizing no delimiter any more. */
		p->no_boundaries = true;
		p->t->truncated = true;
		return;
	}
	if (mime_part_is(f->part, "multipart", "digest"))
		child->flags |= MIME_PART_DIGEST_CHILD;
	f->last_child = child;
	push_frame(p, child, p->cur);
}

/* ---- lines ---- */

/* The frame whose delimiter the line L (N octets, no line end) is, or
   -1; *CLOSE_R tells a close delimiter. */
static int
find_delimiter(const struct mime_parser *p, const char *l, size_t n,
    bool *close_r)
{
	int best = -1;
	size_t i, blen = 0;

	if (p->no_boundaries || n < 3 || l[0] != '-' || l[1] != '-')
		return -1;
	for (i = p->n; i-- > 0;) {
		const struct frame *f = &p->st[i];

		if ((f->mode != F_PREAMBLE && f->mode != F_PARTS) ||
		    f->blen > n - 2 || memcmp(l + 2, f->boundary, f->blen) != 0)
			continue;
		if (best == -1 || f->blen > blen) {
			best = (int)i;
			blen = f->blen;
			if (blen == n - 2)
				break;	/* exact: nothing can be better */
		}
	}
	*close_r = best != -1 && n >= blen + 4 && l[blen + 2] == '-' &&
	    l[blen + 3] == '-';
	return best;
}

/* Whether any delimiter is possible on the next line. */
static bool
delimiters_open(const struct mime_parser *p)
{
	size_t i;

	if (p->no_boundaries)
		return false;
	for (i = 0; i < p->n; i++)
		if (p->st[i].mode == F_PREAMBLE || p->st[i].mode == F_PARTS)
			return true;
	return false;
}

/* Octets of an ordinary line (no LF). */
static void
content(struct mime_parser *p, const char *s, size_t n)
{
	if (p->st[p->n - 1].mode == F_HEADER)
		header_bytes(p, s, n);
}

/* Counts N octets that are not LF. */
static void
count(struct mime_parser *p, const char *s, size_t n)
{
	if (n == 0)
		return;
	p->cur.off += n;
	p->line_len += n;
	p->prev_cr = s[n - 1] == '\r';
}

/* The peeked line is decided: COMPLETE when its end was seen. */
static void
decide(struct mime_parser *p, bool complete)
{
	size_t n = p->npeek;
	bool close = false;
	int k;

	if (complete && n > 0 && p->peek[n - 1] == '\r')
		n--;
	k = find_delimiter(p, p->peek, n, &close);
	if (k != -1) {
		delimiter(p, (size_t)k, close);
		return;
	}
	p->lstate = L_CONTENT;
	content(p, p->peek, p->npeek);
}

/* The LF of a line: counts it, then what ends with the line. */
static void
line_end(struct mime_parser *p)
{
	bool blank = p->line_len == 0 || (p->line_len == 1 && p->prev_cr);

	p->eol.off = p->cur.off - (p->prev_cr ? 1 : 0);
	p->eol.lf = p->cur.lf;
	p->eol.bare = p->cur.bare;
	p->cur.off++;
	p->cur.lf++;
	if (!p->prev_cr)
		p->cur.bare++;
	p->prev_cr = false;
	/* A delimiter line keeps its own line end: a delimiter right after
	   it (a close delimiter, then an outer one) takes none from the
	   part before (Dovecot counts it so too). */
	p->after_delim = p->lstate == L_SKIP;
	if (p->lstate == L_SKIP) {
		if (p->pending_child != -1)
			open_child(p, (size_t)p->pending_child);
	} else if (p->st[p->n - 1].mode == F_HEADER) {
		if (p->field_on && p->field.len > 0 &&
		    p->field.data[p->field.len - 1] == '\r')
			buf_truncate(&p->field, p->field.len - 1);
		if (blank)
			header_end(p);
		else if (p->field_on && p->field_line1 == SIZE_MAX)
			p->field_line1 = p->field.len;
	}
	p->lstate = L_BOL;
}

/* Feeds octets of the peek state; returns how many were taken. */
static size_t
feed_peek(struct mime_parser *p, const char *s, size_t len)
{
	size_t room = PEEK_MAX - p->npeek, n;
	const char *lf = memchr(s, '\n', len < room ? len : room);

	n = lf != NULL ? (size_t)(lf - s) : (len < room ? len : room);
	memcpy(p->peek + p->npeek, s, n);
	p->npeek += n;
	count(p, s, n);
	if (lf != NULL) {
		decide(p, true);
		line_end(p);
		return n + 1;
	}
	/* Most lines are decided by their first two octets. */
	if (p->npeek == PEEK_MAX || p->peek[0] != '-' ||
	    (p->npeek >= 2 && p->peek[1] != '-'))
		decide(p, false);
	return n;
}

void
mime_parser_feed(struct mime_parser *p, const void *data, size_t len)
{
	const char *s = data, *lf;
	size_t n = 0;

	while (len > 0) {
		switch (p->lstate) {
		case L_BOL:
			p->line0 = p->cur;
			p->line_len = 0;
			p->line_first = true;
			p->npeek = 0;
			p->lstate = delimiters_open(p) ? L_PEEK : L_CONTENT;
			continue;
		case L_PEEK:
			n = feed_peek(p, s, len);
			break;
		case L_CONTENT:
		case L_SKIP:
			lf = memchr(s, '\n', len);
			n = lf != NULL ? (size_t)(lf - s) : len;
			if (p->lstate == L_CONTENT)
				content(p, s, n);
			count(p, s, n);
			if (lf != NULL) {
				line_end(p);
				n++;
			}
			break;
		}
		s += n;
		len -= n;
	}
}

struct mime_tree *
mime_parser_finish(struct mime_parser **pp)
{
	struct mime_parser *p = *pp;
	struct mime_tree *t = p->t;

	/* A last line without a line end can still be a delimiter. */
	if (p->lstate == L_PEEK && p->npeek > 0)
		decide(p, true);
	close_above(p, -1, p->cur);
	t->size = p->cur.off;
	t->size_crlf = p->cur.off + p->cur.bare;
	p->t = NULL;
	mime_parser_free(pp);
	return t;
}

struct mime_tree *
mime_parse(const void *msg, size_t len)
{
	struct mime_parser *p = mime_parser_new();

	mime_parser_feed(p, msg, len);
	return mime_parser_finish(&p);
}

const struct mime_part *
mime_tree_root(const struct mime_tree *t)
{
	return t->root;
}

size_t
mime_tree_nparts(const struct mime_tree *t)
{
	return t->nparts;
}

bool
mime_tree_truncated(const struct mime_tree *t)
{
	return t->truncated;
}

uint64_t
mime_tree_size(const struct mime_tree *t)
{
	return t->size;
}

uint64_t
mime_tree_size_crlf(const struct mime_tree *t)
{
	return t->size_crlf;
}
