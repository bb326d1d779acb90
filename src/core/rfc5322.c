/*
 * rfc5322.c - address lists of header fields (RFC 5322 3.4 and the
 * obsolete syntax of 4.4), for the From: check of relayed mail.
 *
 * A tokenizer turns the (unfolded) field body into atoms, quoted strings,
 * domain literals and specials, dropping comments and white space; a
 * small parser then walks address, group and angle-addr. Encoded words
 * (RFC 2047) are atoms: they live in display names, which are dropped.
 */
#include "core/rfc5322.h"
#include "core/addr.h"
#include "util/buf.h"
#include "util/compat.h"

enum tok_type {
	T_ATOM,		/* atext, incl. obs dots: "a.b", "=?utf-8?q?x?=" */
	T_QSTRING,	/* "...", content unescaped */
	T_DLITERAL,	/* [ ... ] */
	T_SPECIAL,	/* one of < > @ , ; : . */
	T_END,
};

struct tok {
	enum tok_type	 type;
	char		 c;		/* T_SPECIAL */
	const char	*s;		/* T_ATOM, T_DLITERAL: in the input */
	size_t		 len;
	struct buf	*qs;		/* T_QSTRING content */
};

#define MAX_TOKENS	4096

struct lexer {
	const char	*p, *end;
	struct tok	*t;
	size_t		 n, maxt;
	struct buf	*qs;		/* quoted-string contents */
	size_t		 nqs, maxqs;
	const char	*error;
};

static bool
is_atext(unsigned char c)
{
	/* RFC 5322 atext; octets >= 0x80 too (RFC 6532, and raw 8-bit
	   display names in the wild). */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80 ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips a (possibly nested) comment starting at p[0] == '('. */
static int
skip_comment(struct lexer *lx)
{
	int depth = 0;

	for (; lx->p < lx->end; lx->p++) {
		if (*lx->p == '\\') {
			if (++lx->p >= lx->end)
				break;
		} else if (*lx->p == '(') {
			depth++;
		} else if (*lx->p == ')' && --depth == 0) {
			lx->p++;
			return 0;
		}
	}
	lx->error = "unterminated comment";
	return -1;
}

static struct tok *
push(struct lexer *lx, enum tok_type type)
{
	if (lx->n >= lx->maxt - 1) {
		lx->error = "header field too complex";
		return NULL;
	}
	memset(&lx->t[lx->n], 0, sizeof(lx->t[lx->n]));
	lx->t[lx->n].type = type;
	return &lx->t[lx->n++];
}

static int
quoted(struct lexer *lx)
{
	struct tok *t;
	struct buf *b;

	if (lx->nqs >= lx->maxqs) {
		lx->error = "header field too complex";
		return -1;
	}
	b = &lx->qs[lx->nqs++];
	buf_init(b, 1024);
	t = push(lx, T_QSTRING);
	if (t == NULL)
		return -1;
	t->qs = b;
	for (lx->p++; lx->p < lx->end; lx->p++) {
		char c = *lx->p;

		if (c == '"') {
			lx->p++;
			return 0;
		}
		if (c == '\\') {
			if (++lx->p >= lx->end)
				break;
			c = *lx->p;
		} else if (c == '\r' || c == '\n') {
			continue;	/* folding inside the string */
		}
		if (buf_putc(b, c) == -1) {
			lx->error = "quoted string too long";
			return -1;
		}
	}
	lx->error = "unterminated quoted string";
	return -1;
}

static int
lex(struct lexer *lx)
{
	struct tok *t;

	while (lx->p < lx->end) {
		unsigned char c = (unsigned char)*lx->p;

		if (is_wsp((char)c)) {
			lx->p++;
		} else if (c == '(') {
			if (skip_comment(lx) == -1)
				return -1;
		} else if (c == '"') {
			if (quoted(lx) == -1)
				return -1;
		} else if (c == '[') {
			const char *close = memchr(lx->p, ']',
			    (size_t)(lx->end - lx->p));

			if (close == NULL) {
				lx->error = "unterminated domain literal";
				return -1;
			}
			if ((t = push(lx, T_DLITERAL)) == NULL)
				return -1;
			t->s = lx->p;
			t->len = (size_t)(close - lx->p) + 1;
			lx->p = close + 1;
		} else if (strchr("<>@,;:.", c) != NULL && c != '\0') {
			if ((t = push(lx, T_SPECIAL)) == NULL)
				return -1;
			t->c = (char)c;
			lx->p++;
		} else if (is_atext(c)) {
			if ((t = push(lx, T_ATOM)) == NULL)
				return -1;
			t->s = lx->p;
			while (lx->p < lx->end &&
			    is_atext((unsigned char)*lx->p))
				lx->p++;
			t->len = (size_t)(lx->p - t->s);
		} else {
			lx->error = "invalid character in address list";
			return -1;
		}
	}
	if (push(lx, T_END) == NULL)
		return -1;
	return 0;
}

/* ---- parser ---- */

struct parser {
	struct lexer	*lx;
	size_t		 i;
	struct strlist	*out;
	const char	*error;
};

static const struct tok *
peek(struct parser *ps)
{
	return &ps->lx->t[ps->i];
}

static bool
is_special(const struct tok *t, char c)
{
	return t->type == T_SPECIAL && t->c == c;
}

/* word *("." word) into B, the words atoms, and quoted strings too when
   QUOTED_R is not NULL (*QUOTED_R is then set if there was one): the
   obsolete forms, with CFWS between, are the same tokens. 1 when it ended
   after a word, 0 when it ended wanting one, -1 when B is full. */
static int
dotted_words(struct parser *ps, struct buf *b, bool *quoted_r)
{
	const struct tok *t;
	bool want_word;

	for (want_word = true;; want_word = !want_word, ps->i++) {
		t = peek(ps);
		if (want_word && t->type == T_ATOM) {
			if (buf_append(b, t->s, t->len) == -1)
				return -1;
		} else if (want_word && quoted_r != NULL &&
		    t->type == T_QSTRING) {
			*quoted_r = true;
			if (buf_append(b, t->qs->data, t->qs->len) == -1)
				return -1;
		} else if (!want_word && is_special(t, '.')) {
			if (buf_putc(b, '.') == -1)
				return -1;
		} else {
			return want_word ? 0 : 1;
		}
	}
}

/* local-part "@": the local part into LOCAL, unquoted; *QUOTED_R set
   when a word of it was a quoted string. */
static int
local_part(struct parser *ps, struct buf *local, bool *quoted_r)
{
	int r = dotted_words(ps, local, quoted_r);

	if (r == -1) {
		ps->error = "address too long";
		return -1;
	}
	if (r == 0 || !is_special(peek(ps), '@')) {
		ps->error = "expected local-part@domain";
		return -1;
	}
	ps->i++;
	return 0;
}

/* domain: a domain literal or a dot-atom, into DOM. */
static int
domain_part(struct parser *ps, struct buf *dom)
{
	const struct tok *t = peek(ps);
	int r;

	if (t->type == T_DLITERAL) {
		if (buf_append(dom, t->s, t->len) == -1) {
			ps->error = "address too long";
			return -1;
		}
		ps->i++;
		return 0;
	}
	r = dotted_words(ps, dom, NULL);
	if (r == -1)
		ps->error = "address too long";
	else if (r == 0)
		ps->error = "bad domain in address";
	return r == 1 ? 0 : -1;
}

/* Rebuilds "local@domain" and checks it with the RFC 5321 parser into
   *A (a quoted local part is re-quoted). */
static int
check_spec(struct parser *ps, const struct buf *local, bool quoted,
    const struct buf *dom, struct mailaddr *a)
{
	struct buf whole;
	const char *err;
	int r;

	buf_init(&whole, ADDR_BUFSZ * 3);
	if (quoted) {
		size_t k;

		(void)buf_putc(&whole, '"');
		for (k = 0; k < local->len; k++) {
			if (local->data[k] == '"' || local->data[k] == '\\')
				(void)buf_putc(&whole, '\\');
			(void)buf_putc(&whole, local->data[k]);
		}
		(void)buf_putc(&whole, '"');
	} else {
		(void)buf_append(&whole, local->data, local->len);
	}
	(void)buf_printf(&whole, "@%s", buf_cstr(dom));
	r = addr_parse(buf_cstr(&whole), whole.len, ADDR_F_LITERAL |
	    ADDR_F_UTF8, a, &err);
	buf_free(&whole);
	if (r == -1)
		ps->error = err;
	return r;
}

/* local-part "@" domain, obsolete forms included (words joined by
   dots, with CFWS between). Appends the canonical address. */
static int
addr_spec(struct parser *ps)
{
	struct buf local, dom;
	struct mailaddr a;
	char out[ADDR_BUFSZ];
	bool quoted = false;
	int r = -1;

	buf_init(&local, 4 * ADDR_LOCAL_MAX);
	buf_init(&dom, 2 * ADDR_DOMAIN_MAX);
	if (local_part(ps, &local, &quoted) == -1 ||
	    domain_part(ps, &dom) == -1 ||
	    check_spec(ps, &local, quoted, &dom, &a) == -1)
		goto out;
	addr_canonicalize(&a);
	addr_format(&a, out, sizeof(out));
	if (ps->out->n >= RFC5322_MAX_ADDRS) {
		ps->error = "too many addresses";
		goto out;
	}
	strlist_add(ps->out, out);
	r = 0;
out:
	buf_free(&local);
	buf_free(&dom);
	return r;
}

/* "<" [obs-route] addr-spec ">" */
static int
angle_addr(struct parser *ps)
{
	ps->i++;	/* '<' */
	/* obs-route: 1*("," / "@" domain) ":" */
	if (is_special(peek(ps), '@') || is_special(peek(ps), ',')) {
		while (!is_special(peek(ps), ':')) {
			if (peek(ps)->type == T_END ||
			    is_special(peek(ps), '>')) {
				ps->error = "bad route in angle address";
				return -1;
			}
			ps->i++;
		}
		ps->i++;
	}
	if (addr_spec(ps) == -1)
		return -1;
	if (!is_special(peek(ps), '>')) {
		ps->error = "missing '>'";
		return -1;
	}
	ps->i++;
	return 0;
}

/* True when the tokens from here to the next ',' ';' or end contain a
   '<' or a ':' (a name-addr or a group), i.e. a phrase comes first. */
static char
lookahead(struct parser *ps)
{
	size_t k;

	for (k = ps->i; ps->lx->t[k].type != T_END; k++) {
		const struct tok *t = &ps->lx->t[k];

		if (t->type != T_SPECIAL)
			continue;
		if (t->c == '<' || t->c == ':')
			return t->c;
		if (t->c == ',' || t->c == ';' || t->c == '@')
			return 0;
	}
	return 0;
}

static int mailbox_list(struct parser *ps, bool in_group);

/* mailbox / group */
static int
address(struct parser *ps, bool in_group)
{
	char kind = lookahead(ps);

	if (kind == 0)
		return addr_spec(ps);
	/* display-name: a phrase (words, obs dots) up to '<' or ':' */
	while (peek(ps)->type == T_ATOM || peek(ps)->type == T_QSTRING ||
	    is_special(peek(ps), '.'))
		ps->i++;
	if (kind == '<' && is_special(peek(ps), '<'))
		return angle_addr(ps);
	if (kind == ':' && is_special(peek(ps), ':') && !in_group) {
		ps->i++;
		if (mailbox_list(ps, true) == -1)
			return -1;
		if (!is_special(peek(ps), ';')) {
			ps->error = "group without ';'";
			return -1;
		}
		ps->i++;
		return 0;
	}
	ps->error = "bad display name or group";
	return -1;
}

/* address *("," address), empty elements allowed (obs-addr-list). */
static int
mailbox_list(struct parser *ps, bool in_group)
{
	for (;;) {
		const struct tok *t = peek(ps);

		if (t->type == T_END || (in_group && is_special(t, ';')))
			return 0;
		if (is_special(t, ',')) {
			ps->i++;
			continue;
		}
		if (address(ps, in_group) == -1)
			return -1;
		t = peek(ps);
		if (t->type == T_END || (in_group && is_special(t, ';')))
			return 0;
		if (!is_special(t, ',')) {
			ps->error = "expected ',' between addresses";
			return -1;
		}
	}
}

int
rfc5322_parse_addresses(const char *body, size_t len, struct strlist *out,
    const char **error_r)
{
	struct lexer *lx = calloc(1, sizeof(*lx));
	struct parser ps;
	size_t i, before = out->n;
	int r = -1;

	if (lx == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	/* Arrays the size of what LEN can hold, not of the limits (a token
	   takes at least one octet, a quoted string two): a From: field
	   costs a few hundred octets of memory, not 170 KiB to zero. */
	lx->maxt = len + 3 < MAX_TOKENS ? len + 3 : MAX_TOKENS;
	lx->maxqs = len / 2 + 1 < MAX_TOKENS / 8 ? len / 2 + 1 :
	    MAX_TOKENS / 8;
	lx->t = calloc(lx->maxt, sizeof(*lx->t));
	lx->qs = calloc(lx->maxqs, sizeof(*lx->qs));
	if (lx->t == NULL || lx->qs == NULL) {
		free(lx->t);
		free(lx->qs);
		free(lx);
		*error_r = "out of memory";
		return -1;
	}
	lx->p = body;
	lx->end = body + len;
	if (lex(lx) == -1) {
		*error_r = lx->error;
		goto out;
	}
	memset(&ps, 0, sizeof(ps));
	ps.lx = lx;
	ps.out = out;
	if (mailbox_list(&ps, false) == -1) {
		*error_r = ps.error;
		goto out;
	}
	r = 0;
out:
	if (r == -1) {
		/* All or nothing: no partial list. */
		while (out->n > before)
			free(out->v[--out->n]);
	}
	for (i = 0; i < lx->nqs; i++)
		buf_free(&lx->qs[i]);
	free(lx->qs);
	free(lx->t);
	free(lx);
	return r;
}

size_t
rfc5322_fields(const char *hdr, size_t len, const char *name,
    void (*fn)(const char *, size_t, void *), void *arg)
{
	size_t nlen = strlen(name), found = 0;
	const char *p, *end;

	/* An empty message has no header section, and maybe no buffer. */
	if (len == 0)
		return 0;
	p = hdr;
	end = hdr + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *fend;

		if (eol == NULL)
			eol = end;
		/* The field runs on over continuation lines (WSP first). */
		fend = eol;
		while (fend < end && fend + 1 < end &&
		    (fend[1] == ' ' || fend[1] == '\t')) {
			const char *next = memchr(fend + 1, '\n',
			    (size_t)(end - fend - 1));

			fend = next != NULL ? next : end;
		}
		if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) ==
		    0) {
			const char *q = p + nlen;

			/* obs-optional: blanks before the colon */
			while (q < eol && (*q == ' ' || *q == '\t'))
				q++;
			if (q < eol && *q == ':') {
				found++;
				fn(q + 1, (size_t)(fend - q - 1), arg);
			}
		}
		p = fend < end ? fend + 1 : end;
	}
	return found;
}
