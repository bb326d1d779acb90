/*
 * spf_record.c - the syntax of an SPF record (RFC 7208 section 12): a
 * record parsed into its terms, each checked whole before any is
 * evaluated (section 4.6: a syntax error anywhere is a permerror).
 *
 * Our own parser, as the rest of SPF: libspf2 is unmaintained and has
 * had remotely exploitable bugs in exactly this part.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "mauth/mauth.h"
#include "mauth/spf_int.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

static const struct {
	const char	*name;
	enum spf_mech	 mech;
} mechs[] = {
	{ "all", SPF_M_ALL },
	{ "include", SPF_M_INCLUDE },
	{ "a", SPF_M_A },
	{ "mx", SPF_M_MX },
	{ "ptr", SPF_M_PTR },
	{ "ip4", SPF_M_IP4 },
	{ "ip6", SPF_M_IP6 },
	{ "exists", SPF_M_EXISTS },
};

static int
bad(char *err, size_t errsz, const char *what, const char *t, size_t len)
{
	char vis[96];

	(void)snprintf(err, errsz, "%s '%s'", what,
	    str_vis(vis, sizeof(vis), t, len));
	return -1;
}

static bool
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_alnum(int c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
              ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool
is_toplabel(const char *s, size_t n)
{
	size_t i;
	bool alpha = false, dash = false;

	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '-')
			dash = true;
		else if (is_alpha(s[i]))
			alpha = true;
		else if (!is_alnum(s[i]))
			return false;
	}
	return alpha || dash;
}

/* True when the (checked) macro-string S ends with a macro-expand. */
static bool
ends_with_macro(const char *s, size_t n)
{
	size_t i = 0;
	bool last = false;
	const char *e;

	while (i < n) {
		if (s[i] != '%') {
			last = false;
			i++;
		} else if (s[i + 1] == '{') {
			e = memchr(s + i, '}', n - i);
			i = (size_t)(e - s) + 1;
			last = true;
		} else {
			i += 2;
			last = true;
		}
	}
	return last;
}

/* domain-spec = macro-string domain-end
   domain-end  = ( "." toplabel [ "." ] ) / macro-expand */
static int
check_domain_spec(const char *s, size_t n, char *err, size_t errsz)
{
	const char *dot;
	size_t m = n;

	if (n == 0)
		return bad(err, errsz, "empty domain", s, n);
	if (spf_macro_check(s, n, false, err, errsz) == -1)
		return -1;
	if (ends_with_macro(s, n))
		return 0;
	if (s[m - 1] == '.')
		m--;
	dot = m > 0 ? memrchr(s, '.', m) : NULL;
	if (dot == NULL || !is_toplabel(dot + 1, (size_t)(s + m - dot - 1)))
		return bad(err, errsz, "bad domain (not a FQDN)", s, n);
	return 0;
}

/* "/" ("0" / %x31-39 0*2DIGIT) at the end of S[0..*N), at most MAX:
   strips it. 1 stripped, 0 none there, -1 out of range. */
static int
strip_cidr(const char *s, size_t *n, bool dbl, unsigned max, unsigned *out)
{
	size_t i = *n, k;
	unsigned v = 0;

	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9' && *n - i < 4)
		i--;
	if (i == *n || i == 0 || s[i - 1] != '/' ||
	    (s[i] == '0' && *n - i > 1))
		return 0;
	if (dbl && (i < 2 || s[i - 2] != '/'))
		return 0;
	for (k = i; k < *n; k++)
		v = v * 10 + (unsigned)(s[k] - '0');
	if (v > max)
		return -1;
	*out = v;
	*n = i - (dbl ? 2 : 1);
	return 1;
}

static int
parse_ip(struct spf_term *t, const char *s, size_t n, char *err,
    size_t errsz)
{
	char ip[64];
	int fam = t->mech == SPF_M_IP4 ? AF_INET : AF_INET6;

	if (str_ncopy(ip, s, n, sizeof(ip)) == -1 ||
	    inet_pton(fam, ip, t->net.a) != 1)
		return bad(err, errsz, "bad address in", t->text, t->textlen);
	t->net.family = fam;
	return 0;
}

/* The mechanism's argument ARG (N octets: ":..." and/or "/..."). */
static int
parse_arg(struct spf_term *t, const char *arg, size_t n, char *err,
    size_t errsz)
{
	bool cidr = t->mech == SPF_M_A || t->mech == SPF_M_MX ||
	    t->mech == SPF_M_IP4 || t->mech == SPF_M_IP6;
	int r4 = 0, r6 = 0;

	t->cidr4 = 32;
	t->cidr6 = 128;
	if (t->mech == SPF_M_A || t->mech == SPF_M_MX)
		r6 = strip_cidr(arg, &n, true, 128, &t->cidr6);
	if (cidr && r6 != -1)
		r4 = strip_cidr(arg, &n, false,
		    t->mech == SPF_M_IP6 ? 128 : 32,
		    t->mech == SPF_M_IP6 ? &t->cidr6 : &t->cidr4);
	if (r4 == -1 || r6 == -1)
		return bad(err, errsz, "bad CIDR length in", t->text,
		    t->textlen);
	if (n == 0) {
		if (t->mech == SPF_M_INCLUDE || t->mech == SPF_M_EXISTS ||
		    t->mech == SPF_M_IP4 || t->mech == SPF_M_IP6)
			return bad(err, errsz, "missing argument in", t->text,
			    t->textlen);
		return 0;
	}
	if (arg[0] != ':' || t->mech == SPF_M_ALL)
		return bad(err, errsz, "bad mechanism", t->text, t->textlen);
	if (t->mech == SPF_M_IP4 || t->mech == SPF_M_IP6)
		return parse_ip(t, arg + 1, n - 1, err, errsz);
	t->spec = arg + 1;
	t->speclen = n - 1;
	return check_domain_spec(t->spec, t->speclen, err, errsz);
}

static int
parse_directive(struct spf_record *rec, const char *s, size_t n, char *err,
    size_t errsz)
{
	struct spf_term t;
	size_t i, k, q;

	memset(&t, 0, sizeof(t));
	t.text = s;
	t.textlen = n;
	t.qual = SPF_PASS;
	q = 0;
	if (s[0] == '+' || s[0] == '-' || s[0] == '?' || s[0] == '~') {
		q = 1;
		t.qual = s[0] == '-' ? SPF_FAIL : s[0] == '~' ? SPF_SOFTFAIL :
		    s[0] == '?' ? SPF_NEUTRAL : SPF_PASS;
	}
	for (k = q; k < n && s[k] != ':' && s[k] != '/'; k++)
		;
	t.mech = SPF_M_NONE;
	for (i = 0; i < nitems(mechs); i++)
		if (strlen(mechs[i].name) == k - q &&
		    strncasecmp(mechs[i].name, s + q, k - q) == 0)
			t.mech = mechs[i].mech;
	if (t.mech == SPF_M_NONE)
		return bad(err, errsz, "unknown mechanism", s, n);
	if (parse_arg(&t, s + k, n - k, err, errsz) == -1)
		return -1;
	if (t.mech == SPF_M_ALL)
		rec->has_all = true;
	rec->terms = xreallocarray(rec->terms, rec->nterms + 1,
	    sizeof(*rec->terms));
	rec->terms[rec->nterms++] = t;
	return 0;
}

/* name "=" macro-string, NAME N octets long. */
static int
parse_modifier(struct spf_record *rec, const char *s, size_t name,
    size_t n, char *err, size_t errsz)
{
	const char *v = s + name + 1;
	size_t vn = n - name - 1;
	bool redir = name == 8 && strncasecmp(s, "redirect", 8) == 0;
	bool exp = name == 3 && strncasecmp(s, "exp", 3) == 0;

	if (!redir && !exp)	/* section 6: unknown ones are ignored */
		return spf_macro_check(v, vn, false, err, errsz);
	if ((redir && rec->redirect != NULL) || (exp && rec->exp != NULL))
		return bad(err, errsz, "modifier given twice:", s, name);
	if (check_domain_spec(v, vn, err, errsz) == -1)
		return -1;
	if (redir) {
		rec->redirect = v;
		rec->redirectlen = vn;
	} else {
		rec->exp = v;
		rec->explen = vn;
	}
	return 0;
}

static int
parse_term(struct spf_record *rec, const char *s, size_t n, char *err,
    size_t errsz)
{
	size_t i = 0;

	/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
	if (is_alpha(s[0]))
		while (i < n && (is_alnum(s[i]) || s[i] == '-' ||
		    s[i] == '_' || s[i] == '.'))
			i++;
	if (i > 0 && i < n && s[i] == '=')
		return parse_modifier(rec, s, i, n, err, errsz);
	return parse_directive(rec, s, n, err, errsz);
}

bool
spf_is_record(const char *s, size_t len)
{
	return len >= 6 && strncasecmp(s, "v=spf1", 6) == 0 &&
	    (len == 6 || s[6] == ' ');
}

int
spf_record_parse(const char *s, size_t len, struct spf_record *rec,
    char *err, size_t errsz)
{
	size_t i, e;

	memset(rec, 0, sizeof(*rec));
	if (!spf_is_record(s, len))
		return bad(err, errsz, "not an SPF record", s,
		    len < 16 ? len : 16);
	for (i = 6; i < len; i = e) {
		while (i < len && s[i] == ' ')
			i++;
		for (e = i; e < len && s[e] != ' '; e++)
			;
		if (e > i && parse_term(rec, s + i, e - i, err, errsz) == -1) {
			spf_record_free(rec);
			return -1;
		}
	}
	return 0;
}

void
spf_record_free(struct spf_record *rec)
{
	free(rec->terms);
	memset(rec, 0, sizeof(*rec));
}

int
spf_record_check(const char *rec, size_t len, char *err, size_t errsz)
{
	struct spf_record r;

	if (spf_record_parse(rec, len, &r, err, errsz) == -1)
		return -1;
	spf_record_free(&r);
	return 0;
}
