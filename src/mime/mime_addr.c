/*
 * mime_addr.c - address lists for ENVELOPE (RFC 5322 3.4 and 4.4, RFC
 * 9051 7.5.2), leniently: unlike core/rfc5322.c, which refuses what it
 * cannot read for the From: relay rule, this one keeps display names
 * and routes and makes the best of broken fields, as a client showing
 * the mail wants and as Dovecot does:
 *   - a name without an address is a mailbox with host "MISSING_DOMAIN"
 *     (a NIL host would read as a group marker), an empty local part
 *     "MISSING_MAILBOX";
 *   - a comment after a bare addr-spec is its display name;
 *   - groups become a start entry (host NIL, mailbox the group name)
 *     and an end entry (all NIL).
 * Display names are the phrase's words joined by one space, quoted
 * strings unquoted; encoded words stay as written.
 */
#include "mime/mime_int.h"
#include "util/xalloc.h"
#include "util/compat.h"

enum atype {
	A_WORD,		/* atom (with dots inside) or quoted string */
	A_DLIT,		/* [ ... ] */
	A_SPECIAL,	/* < > @ , ; : */
	A_END,
};

struct atok {
	enum atype	 type;
	char		 c;		/* A_SPECIAL */
	const char	*s;		/* raw text */
	size_t		 len;
	bool		 quoted;
};

struct alex {
	const char	*p, *end;
	const char	*comment;	/* content of the last comment */
	size_t		 clen;
	struct atok	 tok;		/* the current token */
};

static bool
is_atext(unsigned char c)
{
	/* Dots too: dot-atoms and obs-phrase "J. Doe" are one word. */
	return c > ' ' && c != 0x7f && strchr("()<>@,;:\\\"[]", c) == NULL;
}

/* Skips white space and comments, remembering the last comment. */
static void
skip_ws(struct alex *lx)
{
	while (lx->p < lx->end) {
		if (mime_is_wsp(*lx->p)) {
			lx->p++;
		} else if (*lx->p == '(') {
			const char *start = ++lx->p;
			int depth = 1;

			for (; lx->p < lx->end; lx->p++) {
				if (*lx->p == '\\' && lx->p + 1 < lx->end)
					lx->p++;
				else if (*lx->p == '(')
					depth++;
				else if (*lx->p == ')' && --depth == 0)
					break;
			}
			lx->comment = start;
			lx->clen = (size_t)(lx->p - start);
			if (lx->p < lx->end)
				lx->p++;
		} else {
			return;
		}
	}
}

/* Reads the next token into lx->tok. */
static void
next(struct alex *lx)
{
	struct atok *t = &lx->tok;
	const char *s;

	skip_ws(lx);
	memset(t, 0, sizeof(*t));
	if (lx->p >= lx->end) {
		t->type = A_END;
		return;
	}
	s = lx->p;
	if (*s == '"') {
		for (lx->p++; lx->p < lx->end && *lx->p != '"'; lx->p++)
			if (*lx->p == '\\' && lx->p + 1 < lx->end)
				lx->p++;
		t->type = A_WORD;
		t->quoted = true;
		t->s = s + 1;
		t->len = (size_t)(lx->p - s - 1);
		if (lx->p < lx->end)
			lx->p++;
	} else if (*s == '[') {
		while (lx->p < lx->end && *lx->p != ']')
			lx->p++;
		if (lx->p < lx->end)
			lx->p++;
		t->type = A_DLIT;
		t->s = s;
		t->len = (size_t)(lx->p - s);
	} else if (is_atext((unsigned char)*s)) {
		while (lx->p < lx->end && is_atext((unsigned char)*lx->p))
			lx->p++;
		t->type = A_WORD;
		t->s = s;
		t->len = (size_t)(lx->p - s);
	} else {
		/* A special, or junk (']', '\\', ')') taken as one. */
		lx->p++;
		t->type = A_SPECIAL;
		t->c = *s;
		t->s = s;
		t->len = 1;
	}
}

static bool
is_special(const struct alex *lx, char c)
{
	return lx->tok.type == A_SPECIAL && lx->tok.c == c;
}

/* Appends the current word's text (unquoted) to B. */
static void
word_text(const struct atok *t, struct buf *b)
{
	size_t i;

	if (!t->quoted) {
		(void)buf_append(b, t->s, t->len);
		return;
	}
	for (i = 0; i < t->len; i++) {
		if (t->s[i] == '\\' && i + 1 < t->len)
			i++;
		(void)buf_putc(b, t->s[i]);
	}
}

/* A phrase (display name or group name): words up to a special,
   joined by one space. The number of words; *QUOTED_R tells whether
   one was a quoted string. */
static size_t
phrase(struct alex *lx, struct buf *b, bool *quoted_r)
{
	size_t n = 0;

	buf_reset(b);
	*quoted_r = false;
	while (lx->tok.type == A_WORD) {
		if (b->len > 0)
			(void)buf_putc(b, ' ');
		word_text(&lx->tok, b);
		*quoted_r = *quoted_r || lx->tok.quoted;
		n++;
		next(lx);
	}
	return n;
}

/* Local part or domain: one dot-atom or literal; words after it only
   when a dot joins them (obs-local-part "a . b"), so "a@b c" is a@b
   and junk. */
static void
dotted(struct alex *lx, struct buf *b)
{
	size_t start = b->len;

	while (lx->tok.type == A_WORD || lx->tok.type == A_DLIT) {
		if (b->len > start && b->data[b->len - 1] != '.' &&
		    (lx->tok.len == 0 || lx->tok.s[0] != '.'))
			break;
		if (lx->tok.type == A_DLIT)
			(void)buf_append(b, lx->tok.s, lx->tok.len);
		else
			word_text(&lx->tok, b);
		next(lx);
	}
}

struct alist {
	struct mime_addr	*v;
	size_t			 n, cap;
	struct mime_tree	*t;
};

static const char *
keep(struct alist *l, const struct buf *b, bool collapse)
{
	char *s;
	size_t i, o = 0;

	if (b->len == 0)
		return NULL;
	if ((s = mime_strndup(l->t, b->data, b->len)) == NULL || !collapse)
		return s;
	for (i = 0; s[i] != '\0'; i++) {
		if (!mime_is_wsp(s[i]))
			s[o++] = s[i];
		else if (o > 0 && s[o - 1] != ' ')
			s[o++] = ' ';
	}
	if (o > 0 && s[o - 1] == ' ')
		o--;
	s[o] = '\0';
	return o == 0 ? NULL : s;
}

static void
add(struct alist *l, const char *name, const char *adl, const char *mbox,
    const char *host)
{
	if (l->n >= MIME_ADDRS_MAX)
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n].name = name;
	l->v[l->n].adl = adl;
	l->v[l->n].mailbox = mbox;
	l->v[l->n].host = host;
	l->n++;
}

struct abufs {
	struct buf	name, adl, local, domain;
	size_t		words;		/* in the phrase read into name */
	bool		quoted;		/* one of them a quoted string */
};

/* Adds the mailbox in B: a placeholder for a missing half. */
static void
add_mailbox(struct alist *l, struct abufs *b, bool at)
{
	const char *local = keep(l, &b->local, false);
	const char *dom = keep(l, &b->domain, false);

	if (local == NULL && dom == NULL && !at && b->name.len == 0)
		return;		/* nothing at all */
	add(l, keep(l, &b->name, true), keep(l, &b->adl, false),
	    local != NULL ? local : "MISSING_MAILBOX",
	    dom != NULL ? dom : "MISSING_DOMAIN");
}

/* "<[@route:]local@domain>" after the '<'. False when the '>' is
   missing. */
static bool
angle(struct alex *lx, struct abufs *b)
{
	while (is_special(lx, '@') || is_special(lx, ',')) {
		/* obs-route: "@a,@b:" */
		if (is_special(lx, '@')) {
			if (b->adl.len > 0)
				(void)buf_putc(&b->adl, ',');
			(void)buf_putc(&b->adl, '@');
		}
		next(lx);
		dotted(lx, &b->adl);
	}
	if (is_special(lx, ':'))
		next(lx);
	dotted(lx, &b->local);
	if (is_special(lx, '@')) {
		next(lx);
		dotted(lx, &b->domain);
	}
	while (lx->tok.type != A_END && !is_special(lx, '>'))
		next(lx);	/* junk inside the brackets */
	if (!is_special(lx, '>'))
		return false;
	next(lx);
	return true;
}

/* One mailbox (not a group), its phrase already in b->name. */
static void
mailbox(struct alex *lx, struct alist *l, struct abufs *b)
{
	bool at = false;

	buf_reset(&b->adl);
	buf_reset(&b->local);
	buf_reset(&b->domain);
	if (is_special(lx, '<')) {
		next(lx);
		if (!angle(lx, b)) {
			/* Dovecot's marker for a broken angle address. */
			buf_reset(&b->domain);
			(void)buf_append_str(&b->domain, "SYNTAX_ERROR");
		}
		add_mailbox(l, b, true);
		return;
	}
	/* Words without an address are a name (Dovecot: "foo bar" and
	   "\"q\" x@y" are names without a mailbox, "foo" a mailbox without
	   a domain, "\"a b\"@x" a quoted local part). */
	if (b->words >= 2 || (b->quoted && !is_special(lx, '@'))) {
		add(l, keep(l, &b->name, true), NULL, "MISSING_MAILBOX",
		    "MISSING_DOMAIN");
		return;
	}
	/* A bare addr-spec: the word read was its local part, and a
	   comment after it is its name. */
	(void)buf_append(&b->local, b->name.data, b->name.len);
	buf_reset(&b->name);
	if (is_special(lx, '@')) {
		at = true;
		lx->comment = NULL;
		next(lx);
		dotted(lx, &b->domain);
	}
	if (lx->comment != NULL)
		(void)buf_append(&b->name, lx->comment, lx->clen);
	add_mailbox(l, b, at);
}

/* Skips to the end of a broken address: the next ',' or ';'. */
static void
skip_junk(struct alex *lx)
{
	while (lx->tok.type != A_END && !is_special(lx, ',') &&
	    !is_special(lx, ';'))
		next(lx);
}

static void
address(struct alex *lx, struct alist *l, struct abufs *b, bool in_group)
{
	lx->comment = NULL;
	b->words = phrase(lx, &b->name, &b->quoted);
	if (is_special(lx, ':') && !in_group) {
		const char *g = keep(l, &b->name, true);

		/* An unnamed group still is no end marker. */
		add(l, NULL, NULL, g != NULL ? g : "", NULL);
		next(lx);
		while (lx->tok.type != A_END && !is_special(lx, ';')) {
			if (is_special(lx, ',')) {
				next(lx);
				continue;
			}
			address(lx, l, b, true);
		}
		if (is_special(lx, ';'))
			next(lx);
		add(l, NULL, NULL, NULL, NULL);
		return;
	}
	/* A mailbox: the local part of a bare addr-spec may be words and
	   dots, already read as the phrase. */
	mailbox(lx, l, b);
	skip_junk(lx);
}

size_t
mime_addr_parse(struct mime_tree *t, const char *s, size_t len,
    struct mime_addr **addrs_r)
{
	struct alex lx = { s, s + len, NULL, 0, { 0 } };
	struct alist l = { NULL, 0, 0, t };
	struct abufs b;
	size_t n = 0;
	bool after_addr = false;

	*addrs_r = NULL;
	buf_init(&b.name, MIME_FIELD_MAX);
	buf_init(&b.adl, MIME_FIELD_MAX);
	buf_init(&b.local, MIME_FIELD_MAX);
	buf_init(&b.domain, MIME_FIELD_MAX);
	next(&lx);
	while (lx.tok.type != A_END && l.n < MIME_ADDRS_MAX) {
		if (is_special(&lx, ',') || is_special(&lx, ';')) {
			/* An empty address before a separator is one
			   (not after the last: Dovecot's reading). */
			if (!after_addr)
				add(&l, NULL, NULL, "MISSING_MAILBOX",
				    "MISSING_DOMAIN");
			after_addr = false;
			next(&lx);
			continue;
		}
		address(&lx, &l, &b, false);
		after_addr = true;
	}
	if (l.n > 0 && (*addrs_r = mime_alloc(t, l.n * sizeof(*l.v))) !=
	    NULL) {
		memcpy(*addrs_r, l.v, l.n * sizeof(*l.v));
		n = l.n;
	}
	free(l.v);
	buf_free(&b.name);
	buf_free(&b.adl);
	buf_free(&b.local);
	buf_free(&b.domain);
	return n;
}
