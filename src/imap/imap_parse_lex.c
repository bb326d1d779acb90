/*
 * imap_parse_lex.c - the lexical rules of RFC 9051 9 for the command
 * parser: atoms, astring / string / nstring (quoted strings unescaped,
 * literals and LITERAL+ non-synchronising literals, RFC 7888, and
 * literal8, RFC 3516), numbers, sequence sets (with "$", RFC 5182),
 * flags, dates and STATUS items.
 *
 * Every function reads from the parser's position, never past its
 * length, and moves the position past what it took; on failure it sets
 * the parse error and returns -1.
 */
#include <strings.h>

#include "imap/imap_parse_int.h"
#include "util/str.h"
#include "util/compat.h"

/* ---- character classes ---- */

/* ATOM-CHAR: any CHAR but atom-specials: "(" / ")" / "{" / SP / CTL /
   list-wildcards ("%" "*") / quoted-specials ('"' "\") / "]". */
bool
imap_is_atom_char(int c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

/* ASTRING-CHAR = ATOM-CHAR / resp-specials */
bool
imap_is_astring_char(int c)
{
	return c == ']' || imap_is_atom_char(c);
}

/* list-char = ATOM-CHAR / list-wildcards / resp-specials */
static bool
is_list_char(int c)
{
	return c == '%' || c == '*' || imap_is_astring_char(c);
}

/* ---- errors of the lexer ---- */

/* A CR or LF where a token should be: CRLF belongs only after a
   literal's size, so a client that sends one elsewhere (or a session
   that left the last one in) is told so. */
static bool
at_line_break(const struct imap_parser *p)
{
	return imap_peek(p) == '\r' || imap_peek(p) == '\n';
}

/* What is wrong where WHAT should be: nothing, a space, or junk. */
static int
perr_bad(struct imap_parser *p, const char *what)
{
	const char *how;

	if (p->failed)
		return -1;
	if (at_line_break(p))
		return imap_perr(p, IMAP_ERRC_NONE,
		    "line break outside a literal");
	if (imap_at_end(p))
		how = "missing";
	else if (imap_peek(p) == ' ')
		how = "extra space before";
	else
		how = "invalid";
	if (str_fmt(p->err->buf, sizeof(p->err->buf), "%s %s", how, what) ==
	    -1)
		return imap_perr(p, IMAP_ERRC_NONE, "syntax error");
	return imap_perr(p, IMAP_ERRC_NONE, p->err->buf);
}

int
imap_expect(struct imap_parser *p, int c, const char *what)
{
	if (imap_peek(p) == c) {
		p->pos++;
		return 0;
	}
	return perr_bad(p, what);
}

int
imap_sp(struct imap_parser *p, const char *what)
{
	if (imap_peek(p) == ' ') {
		p->pos++;
		return 0;
	}
	if (p->failed)
		return -1;
	if (imap_at_end(p) || at_line_break(p))
		return perr_bad(p, what);
	if (str_fmt(p->err->buf, sizeof(p->err->buf),
	    "expected a space before %s", what) == -1)
		return imap_perr(p, IMAP_ERRC_NONE, "syntax error");
	return imap_perr(p, IMAP_ERRC_NONE, p->err->buf);
}

bool
imap_accept(struct imap_parser *p, int c)
{
	if (imap_peek(p) != c)
		return false;
	p->pos++;
	return true;
}

/* ---- atoms ---- */

int
imap_lex_atom(struct imap_parser *p, const char *stop, struct imap_span *sp,
    const char *what)
{
	size_t start = p->pos;
	int c;

	while ((c = imap_peek(p)) != -1 && imap_is_atom_char(c) &&
	    (stop == NULL || strchr(stop, c) == NULL))
		p->pos++;
	if (p->pos == start)
		return perr_bad(p, what);
	sp->s = p->in + start;
	sp->len = p->pos - start;
	return 0;
}

bool
imap_peek_word(struct imap_parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos <= n || p->in[p->pos + n] != ' ' ||
	    strncasecmp(p->in + p->pos, word, n) != 0)
		return false;
	p->pos += n;
	return true;
}

bool
imap_span_is(const struct imap_span *sp, const char *word)
{
	return strlen(word) == sp->len && strncasecmp(sp->s, word,
	    sp->len) == 0;
}

/* ---- literals ---- */

int
imap_lex_literal(struct imap_parser *p, struct imap_span *sp, bool *binary,
    bool message)
{
	uint64_t n = 0;
	size_t start;
	bool digits = false;

	if (binary != NULL && (*binary = imap_accept(p, '~')) &&
	    imap_peek(p) != '{')
		return perr_bad(p, "literal8");
	if (imap_expect(p, '{', "literal") == -1)
		return -1;
	while (imap_peek(p) >= '0' && imap_peek(p) <= '9') {
		if (n > (IMAP_NUM64_MAX - (uint64_t)(imap_peek(p) - '0')) / 10)
			return imap_perr(p, IMAP_ERRC_TOOBIG,
			    "literal too large");
		n = n * 10 + (uint64_t)(imap_peek(p) - '0');
		digits = true;
		p->pos++;
	}
	(void)imap_accept(p, '+');
	if (!digits || imap_expect(p, '}', "literal size") == -1)
		return perr_bad(p, "literal size");
	/* The line before the literal is one line of the command. */
	if (p->pos - p->line_start > IMAP_LINE_MAX)
		return imap_perr(p, IMAP_ERRC_LIMIT, "command line too long");
	if (!imap_accept(p, '\r') || !imap_accept(p, '\n'))
		return imap_perr(p, IMAP_ERRC_NONE,
		    "literal size not followed by CRLF");
	if (!message && n > IMAP_CMD_MAX)
		return imap_perr(p, IMAP_ERRC_TOOBIG, "literal too large");
	if (n > p->len - p->pos)
		return imap_perr(p, IMAP_ERRC_NONE,
		    "literal longer than the command");
	start = p->pos;
	/* CHAR8 excludes NUL: only literal8 and message data have it. */
	if (!message && (binary == NULL || !*binary) &&
	    memchr(p->in + start, '\0', (size_t)n) != NULL)
		return imap_perr(p, IMAP_ERRC_NONE, "NUL in a literal");
	p->pos += (size_t)n;
	p->line_start = p->pos;
	sp->s = p->in + start;
	sp->len = (size_t)n;
	return 0;
}

/* ---- strings ---- */

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE, unescaped into the arena. 8-bit
   octets pass (UTF8-2/3/4 in RFC 9051, and what IMAP4rev1 clients send
   anyway); CR, LF and NUL end nothing and are refused. */
static char *
lex_quoted(struct imap_parser *p, size_t *len, const char *what)
{
	size_t i, n = 0, start = p->pos + 1;
	char *d;
	int c;

	for (i = start;; i++) {
		if (i >= p->len) {
			p->pos = i;
			(void)perr_bad(p, "closing quote");
			return NULL;
		}
		c = (unsigned char)p->in[i];
		if (c == '"')
			break;
		if (c == '\\') {
			if (i + 1 >= p->len || (p->in[i + 1] != '"' &&
			    p->in[i + 1] != '\\')) {
				p->pos = i;
				(void)imap_perr_word(p, "bad escape in %s",
				    what, strlen(what));
				return NULL;
			}
			i++;
		} else if (c == '\0' || c == '\r' || c == '\n') {
			p->pos = i;
			(void)imap_perr_word(p, "control character in %s",
			    what, strlen(what));
			return NULL;
		}
		n++;
	}
	if ((d = imap_arena_alloc(p, n + 1)) == NULL)
		return NULL;
	for (i = start, n = 0; p->in[i] != '"'; i++) {
		if (p->in[i] == '\\')
			i++;
		d[n++] = p->in[i];
	}
	d[n] = '\0';
	p->pos = i + 1;
	*len = n;
	return d;
}

/* string, or an atom of CLASS when CLASS is not NULL; the copy is
   writable for the caller. */
static char *
lex_str(struct imap_parser *p, bool (*class)(int), size_t *len,
    const char *what)
{
	struct imap_span sp = { NULL, 0 };
	size_t start = p->pos;
	int c = imap_peek(p);

	if (c == '"')
		return lex_quoted(p, len, what);
	if (c == '{') {
		if (imap_lex_literal(p, &sp, NULL, false) == -1)
			return NULL;
		*len = sp.len;
		return imap_arena_strdup(p, sp.s, sp.len);
	}
	if (class != NULL)
		while ((c = imap_peek(p)) != -1 && class(c))
			p->pos++;
	if (p->pos == start) {
		(void)perr_bad(p, what);
		return NULL;
	}
	*len = p->pos - start;
	return imap_arena_strdup(p, p->in + start, *len);
}

int
imap_lex_astring(struct imap_parser *p, struct imap_str *out,
    const char *what)
{
	size_t len;
	char *s;

	if ((s = lex_str(p, imap_is_astring_char, &len, what)) == NULL)
		return -1;
	out->s = s;
	out->len = len;
	return 0;
}

int
imap_lex_string(struct imap_parser *p, struct imap_str *out,
    const char *what)
{
	size_t len;
	char *s;

	if ((s = lex_str(p, NULL, &len, what)) == NULL)
		return -1;
	out->s = s;
	out->len = len;
	return 0;
}

int
imap_lex_nstring(struct imap_parser *p, struct imap_str *out,
    const char *what)
{
	struct imap_span sp;
	int c = imap_peek(p);

	if (c == '"' || c == '{')
		return imap_lex_string(p, out, what);
	if (imap_lex_atom(p, NULL, &sp, what) == -1)
		return -1;
	if (!imap_span_is(&sp, "NIL"))
		return perr_bad(p, what);
	out->s = NULL;
	out->len = 0;
	return 0;
}

int
imap_lex_mailbox(struct imap_parser *p, struct imap_mailbox *mb,
    const char *what)
{
	size_t len;
	char *s;

	if ((s = lex_str(p, imap_is_astring_char, &len, what)) == NULL)
		return -1;
	/* RFC 9051 5.1: INBOX is case-insensitive, other names are not. */
	mb->inbox = len == 5 && strncasecmp(s, "INBOX", 5) == 0;
	if (mb->inbox)
		memcpy(s, "INBOX", 5);
	mb->name.s = s;
	mb->name.len = len;
	return 0;
}

int
imap_lex_list_mailbox(struct imap_parser *p, struct imap_str *out)
{
	size_t len;
	char *s;

	if ((s = lex_str(p, is_list_char, &len, "mailbox pattern")) == NULL)
		return -1;
	out->s = s;
	out->len = len;
	return 0;
}

/* ---- numbers ---- */

int
imap_lex_number(struct imap_parser *p, uint64_t min, uint64_t max,
    uint64_t *v, const char *what)
{
	uint64_t n = 0;
	size_t start = p->pos;
	int c;

	while ((c = imap_peek(p)) >= '0' && c <= '9') {
		if (n > (max - (uint64_t)(c - '0')) / 10)
			return imap_perr_word(p, "%s out of range", what,
			    strlen(what));
		n = n * 10 + (uint64_t)(c - '0');
		p->pos++;
	}
	if (p->pos == start)
		return perr_bad(p, what);
	if (n < min)
		return imap_perr_word(p, "%s out of range", what,
		    strlen(what));
	*v = n;
	return 0;
}

/* ---- sequence sets ---- */

static bool
is_set_char(int c)
{
	return (c >= '0' && c <= '9') || c == ':' || c == ',' || c == '*' ||
	    c == '$';
}

/* seq-number = nz-number / "*", within [S, E); moves *I past it. */
static int
set_number(const char *s, size_t e, size_t *i, unsigned flags, uint32_t *v)
{
	uint64_t n = 0;
	size_t start = *i;

	if (*i < e && s[*i] == '*') {
		(*i)++;
		*v = IMAP_SEQ_STAR;
		return (flags & IMAP_SET_STAR) ? 0 : -1;
	}
	while (*i < e && s[*i] >= '0' && s[*i] <= '9') {
		n = n * 10 + (uint64_t)(s[*i] - '0');
		if (n > IMAP_NUM32_MAX)
			return -1;
		(*i)++;
	}
	if (*i == start || n == 0)
		return -1;
	*v = (uint32_t)n;
	return 0;
}

/* One set from the span [S, S + LEN) into N ranges at R. */
static int
set_parse(const char *s, size_t len, unsigned flags, struct imap_range *r,
    size_t n)
{
	size_t i = 0, k;
	uint32_t t;

	for (k = 0; k < n; k++) {
		if (k > 0 && (i >= len || s[i++] != ','))
			return -1;
		if (set_number(s, len, &i, flags, &r[k].lo) == -1)
			return -1;
		r[k].hi = r[k].lo;
		if (i < len && s[i] == ':') {
			i++;
			if (set_number(s, len, &i, flags, &r[k].hi) == -1)
				return -1;
		}
		/* Normalised: numbers ascending, '*' as the high end. */
		if (r[k].lo == IMAP_SEQ_STAR ||
		    (r[k].hi != IMAP_SEQ_STAR && r[k].lo > r[k].hi)) {
			t = r[k].lo;
			r[k].lo = r[k].hi;
			r[k].hi = t;
		}
	}
	return i == len ? 0 : -1;
}

int
imap_lex_seqset(struct imap_parser *p, struct imap_seqset *set,
    unsigned flags, const char *what)
{
	struct imap_range *r;
	size_t start = p->pos, n = 1, i;

	while (!imap_at_end(p) && is_set_char(imap_peek(p)))
		p->pos++;
	if (p->pos == start)
		return perr_bad(p, what);
	memset(set, 0, sizeof(*set));
	if (p->pos - start == 1 && p->in[start] == '$') {
		if (!(flags & IMAP_SET_SAVED))
			return imap_perr(p, IMAP_ERRC_NONE,
			    "$ is not allowed here");
		set->saved = true;
		return 0;
	}
	for (i = start; i < p->pos; i++)
		n += p->in[i] == ',';
	if (n > IMAP_RANGES_MAX - p->nranges)
		return imap_perr_limit(p, "sequence ranges", IMAP_RANGES_MAX);
	if ((r = imap_arena_alloc(p, n * sizeof(*r))) == NULL)
		return -1;
	if (set_parse(p->in + start, p->pos - start, flags, r, n) == -1) {
		p->pos = start;
		return imap_perr_word(p, "bad %s", what, strlen(what));
	}
	p->nranges += n;
	set->r = r;
	set->n = n;
	return 0;
}

/* ---- flags ---- */

/* In bit order. */
const struct imap_name imap_sysflag_names[5] = {
	{ "\\Seen", IMAP_FLAG_SEEN },
	{ "\\Answered", IMAP_FLAG_ANSWERED },
	{ "\\Flagged", IMAP_FLAG_FLAGGED },
	{ "\\Deleted", IMAP_FLAG_DELETED },
	{ "\\Draft", IMAP_FLAG_DRAFT },
};

const char *
imap_flag_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < nitems(imap_sysflag_names); i++)
		if (imap_sysflag_names[i].bit == bit)
			return imap_sysflag_names[i].name;
	return NULL;
}

int
imap_lex_flag(struct imap_parser *p, struct imap_flags *f,
    struct imap_vec *kw, size_t *count)
{
	struct imap_str *k;
	struct imap_span sp;
	bool sys = imap_accept(p, '\\');
	size_t i;

	if (*count >= IMAP_FLAGS_MAX)
		return imap_perr_limit(p, "flags", IMAP_FLAGS_MAX);
	if (imap_lex_atom(p, NULL, &sp, "flag") == -1)
		return -1;
	(*count)++;
	if (!sys) {
		if ((k = imap_vec_push(p, kw, sizeof(*k), IMAP_FLAGS_MAX,
		    "flags")) == NULL ||
		    (k->s = imap_arena_strdup(p, sp.s, sp.len)) == NULL)
			return -1;
		k->len = sp.len;
		f->kw = kw->v;
		f->nkw = kw->n;
		return 0;
	}
	for (i = 0; i < nitems(imap_sysflag_names); i++)
		if (imap_span_is(&sp, imap_sysflag_names[i].name + 1)) {
			f->sys |= imap_sysflag_names[i].bit;
			return 0;
		}
	/* RFC 9051 2.3.2: \Recent is the server's (and gone in rev2). */
	if (imap_span_is(&sp, "Recent"))
		return imap_perr(p, IMAP_ERRC_NONE, "\\Recent cannot be set");
	return imap_perr_word(p, "unknown system flag \\%s", sp.s, sp.len);
}

int
imap_lex_flag_list(struct imap_parser *p, struct imap_flags *f)
{
	struct imap_vec kw = { 0 };
	size_t count = 0;

	memset(f, 0, sizeof(*f));
	if (imap_expect(p, '(', "flag list") == -1)
		return -1;
	while (!imap_accept(p, ')')) {
		if (count > 0 && imap_sp(p, "flag") == -1)
			return -1;
		if (imap_lex_flag(p, f, &kw, &count) == -1)
			return -1;
	}
	return 0;
}

/* ---- dates ---- */

static bool
is_date_char(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c == '-';
}

/* date = date-text / DQUOTE date-text DQUOTE */
int
imap_lex_date(struct imap_parser *p, struct imap_date *d)
{
	bool q = imap_accept(p, '"');
	size_t start = p->pos;

	while (!imap_at_end(p) && is_date_char(imap_peek(p)))
		p->pos++;
	if (p->pos == start)
		return perr_bad(p, "date");
	if (imap_date_parse(p->in + start, p->pos - start, d) == -1)
		return imap_perr_word(p, "bad date %s", p->in + start,
		    p->pos - start);
	if (q && imap_expect(p, '"', "closing quote") == -1)
		return -1;
	return 0;
}

/* date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP
   time SP zone DQUOTE */
int
imap_lex_datetime(struct imap_parser *p, time_t *t, int *zone)
{
	size_t start, i;

	if (imap_expect(p, '"', "date-time") == -1)
		return -1;
	start = p->pos;
	for (i = start; i < p->len && p->in[i] != '"'; i++)
		if (!is_date_char((unsigned char)p->in[i]) &&
		    strchr(" :+", p->in[i]) == NULL)
			break;
	if (i >= p->len || p->in[i] != '"' ||
	    imap_datetime_parse(p->in + start, i - start, t, zone) == -1) {
		(void)imap_perr_word(p, "bad date-time %s", p->in + start,
		    i - start);
		return -1;
	}
	p->pos = i + 1;
	return 0;
}

/* ---- STATUS items ---- */

/* In bit order. */
const struct imap_name imap_status_names[9] = {
	{ "MESSAGES", IMAP_STATUS_MESSAGES },
	{ "RECENT", IMAP_STATUS_RECENT },
	{ "UIDNEXT", IMAP_STATUS_UIDNEXT },
	{ "UIDVALIDITY", IMAP_STATUS_UIDVALIDITY },
	{ "UNSEEN", IMAP_STATUS_UNSEEN },
	{ "DELETED", IMAP_STATUS_DELETED },
	{ "SIZE", IMAP_STATUS_SIZE },
	{ "HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ },
	{ "APPENDLIMIT", IMAP_STATUS_APPENDLIMIT },
};

const char *
imap_status_item_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < nitems(imap_status_names); i++)
		if (imap_status_names[i].bit == bit)
			return imap_status_names[i].name;
	return NULL;
}

/* "(" status-att *(SP status-att) ")" */
int
imap_lex_status_items(struct imap_parser *p, unsigned *mask)
{
	struct imap_span sp;
	size_t i, n = 0;

	*mask = 0;
	if (imap_expect(p, '(', "STATUS item list") == -1)
		return -1;
	do {
		if (n++ > 0 && imap_sp(p, "STATUS item") == -1)
			return -1;
		if (n > IMAP_LIST_MAX)
			return imap_perr_limit(p, "STATUS items",
			    IMAP_LIST_MAX);
		if (imap_lex_atom(p, NULL, &sp, "STATUS item") == -1)
			return -1;
		for (i = 0; i < nitems(imap_status_names); i++)
			if (imap_span_is(&sp, imap_status_names[i].name))
				break;
		if (i == nitems(imap_status_names))
			return imap_perr_word(p, "unknown STATUS item %s",
			    sp.s, sp.len);
		*mask |= imap_status_names[i].bit;
	} while (!imap_accept(p, ')'));
	return 0;
}
