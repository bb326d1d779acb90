/*
 * addr.c - RFC 5321 address syntax (section 4.1.2) with the limits of
 * section 4.5.3.1, and RFC 6531 UTF-8 forms when SMTPUTF8 was given.
 *
 * Security: the parser never interprets '%', '!' or a source route as a
 * routing instruction; "user%elsewhere@hosted" is a local part like any
 * other, and a trailing dot or an address literal is never a hosted
 * domain. Callers decide locality by looking up the domain as parsed.
 */
#include <arpa/inet.h>

#include "core/addr.h"
#include "util/str.h"
#include "util/compat.h"

static bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5322 atext. */
static bool
is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static const char *const err_nonascii =
    "non-ASCII address (internationalized addresses are not supported "
    "here)";

int
addr_domain_check(const char *d, size_t len, unsigned flags,
    const char **error_r)
{
	const unsigned char *s = (const unsigned char *)d;
	size_t i = 0, label = 0;
	bool last_hyphen = false;

	if (len == 0) {
		*error_r = "empty domain";
		return -1;
	}
	if (len > ADDR_DOMAIN_MAX) {
		*error_r = "domain longer than 255 octets";
		return -1;
	}
	while (i < len) {
		unsigned char c = s[i];
		size_t n = 1;

		if (c == '.') {
			if (label == 0) {
				*error_r = i + 1 == len ?
				    "domain ends with a dot" :
				    "empty label in domain";
				return -1;
			}
			if (last_hyphen) {
				*error_r = "domain label ends with '-'";
				return -1;
			}
			label = 0;
			i++;
			continue;
		}
		if (c >= 0x80) {
			if (!(flags & ADDR_F_UTF8)) {
				*error_r = err_nonascii;
				return -1;
			}
			n = str_utf8_seq(s + i, len - i);
			if (n == 0) {
				*error_r = "invalid UTF-8 in domain";
				return -1;
			}
		} else if (c == '-') {
			if (label == 0) {
				*error_r = "domain label starts with '-'";
				return -1;
			}
		} else if (!is_alpha(c) && !is_digit(c)) {
			*error_r = "invalid character in domain";
			return -1;
		}
		last_hyphen = c == '-';
		label += n;
		if (label > ADDR_LABEL_MAX) {
			*error_r = "domain label longer than 63 octets";
			return -1;
		}
		i += n;
	}
	if (label == 0) {
		*error_r = "domain ends with a dot";
		return -1;
	}
	if (last_hyphen) {
		*error_r = "domain label ends with '-'";
		return -1;
	}
	return 0;
}

/* "[1.2.3.4]" or "[IPv6:...]" at S (S[0] == '['); the length of the
   literal or 0. */
static size_t
parse_literal(const char *s, size_t len, const char **error_r)
{
	char tmp[64];
	const char *end = memchr(s, ']', len);
	unsigned char bin[16];
	size_t n;

	if (end == NULL) {
		*error_r = "unterminated address literal";
		return 0;
	}
	n = (size_t)(end - s) - 1;
	if (str_ncopy(tmp, s + 1, n, sizeof(tmp)) == -1) {
		*error_r = "address literal too long";
		return 0;
	}
	if (strncasecmp(tmp, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, tmp + 5, bin) != 1) {
			*error_r = "bad IPv6 address literal";
			return 0;
		}
	} else if (inet_pton(AF_INET, tmp, bin) != 1) {
		*error_r = "bad address literal (only IPv4 and IPv6: "
		    "literals are accepted)";
		return 0;
	}
	return n + 2;
}

/* A UTF-8 character of a local part at S (S[0] >= 0x80): its length, or
   0 with *ERROR_R (without ADDR_F_UTF8, or not UTF-8). Sets *UTF8_R. */
static size_t
local_utf8(const unsigned char *s, size_t len, unsigned flags, bool *utf8_r,
    const char **error_r)
{
	size_t n;

	if (!(flags & ADDR_F_UTF8)) {
		*error_r = err_nonascii;
		return 0;
	}
	n = str_utf8_seq(s, len);
	if (n == 0) {
		*error_r = "invalid UTF-8 in local part";
		return 0;
	}
	*utf8_r = true;
	return n;
}

/* A quoted-string local part at S (S[0] == '"'): its length with the
   quotes, or 0 with *ERROR_R. */
static size_t
quoted_local(const unsigned char *s, size_t len, unsigned flags,
    bool *utf8_r, const char **error_r)
{
	size_t i, n;

	for (i = 1; i < len && s[i] != '"'; i++) {
		if (s[i] == '\\') {
			if (i + 1 >= len || s[i + 1] < 32 || s[i + 1] > 126) {
				*error_r = "bad quoted pair in local part";
				return 0;
			}
			i++;
		} else if (s[i] >= 0x80) {
			n = local_utf8(s + i, len - i, flags, utf8_r, error_r);
			if (n == 0)
				return 0;
			i += n - 1;
		} else if (s[i] < 32 || s[i] > 126) {
			*error_r = "invalid character in quoted local part";
			return 0;
		}
	}
	if (i >= len) {
		*error_r = "unterminated quoted local part";
		return 0;
	}
	return i + 1;
}

/* A dot-atom local part at S, up to '@' or the end: its length, or 0
   with *ERROR_R. */
static size_t
dot_atom_local(const unsigned char *s, size_t len, unsigned flags,
    bool *utf8_r, const char **error_r)
{
	size_t i = 0, n;
	bool dot_ok = false;

	while (i < len && s[i] != '@') {
		if (s[i] == '.') {
			if (!dot_ok) {
				*error_r = "misplaced dot in local part";
				return 0;
			}
			dot_ok = false;
			i++;
			continue;
		}
		if (s[i] >= 0x80) {
			n = local_utf8(s + i, len - i, flags, utf8_r, error_r);
			if (n == 0)
				return 0;
			i += n;
		} else if (is_atext(s[i])) {
			i++;
		} else {
			*error_r = "invalid character in local part";
			return 0;
		}
		dot_ok = true;
	}
	if (i == 0) {
		*error_r = "empty local part";
		return 0;
	}
	if (!dot_ok) {
		*error_r = "misplaced dot in local part";
		return 0;
	}
	return i;
}

/* Local part at S; its length, or 0 with *ERROR_R. */
static size_t
parse_local(const char *str, size_t len, unsigned flags, bool *quoted_r,
    bool *utf8_r, const char **error_r)
{
	const unsigned char *s = (const unsigned char *)str;

	*quoted_r = len > 0 && s[0] == '"';
	if (*quoted_r)
		return quoted_local(s, len, flags, utf8_r, error_r);
	return dot_atom_local(s, len, flags, utf8_r, error_r);
}

int
addr_parse(const char *s, size_t len, unsigned flags, struct mailaddr *a,
    const char **error_r)
{
	size_t n, dlen;
	const char *d;

	*error_r = NULL;
	memset(a, 0, sizeof(*a));
	n = parse_local(s, len, flags, &a->quoted, &a->utf8, error_r);
	if (n == 0)
		return -1;
	if (n > ADDR_LOCAL_MAX) {
		*error_r = "local part longer than 64 octets";
		return -1;
	}
	if (n >= len || s[n] != '@') {
		*error_r = n >= len ? "address has no '@domain'" :
		    "invalid character in local part";
		return -1;
	}
	memcpy(a->local, s, n);
	d = s + n + 1;
	dlen = len - n - 1;
	if (dlen > 0 && d[0] == '[') {
		if (!(flags & ADDR_F_LITERAL)) {
			*error_r = "address literals are not accepted here";
			return -1;
		}
		if (parse_literal(d, dlen, error_r) != dlen) {
			if (*error_r == NULL)
				*error_r = "junk after address literal";
			return -1;
		}
		a->literal = true;
	} else if (addr_domain_check(d, dlen, flags, error_r) == -1) {
		return -1;
	}
	if (dlen > ADDR_DOMAIN_MAX) {
		*error_r = "domain longer than 255 octets";
		return -1;
	}
	/* RFC 5321 4.5.3.1.3: a path is at most 256 octets, so with its
	   angle brackets an address has 254 at most. */
	if (n + 1 + dlen > ADDR_MAX_LEN) {
		*error_r = "address longer than 254 octets";
		return -1;
	}
	memcpy(a->domain, d, dlen);
	if (!str_is_ascii(d, dlen))
		a->utf8 = true;
	return 0;
}

/* Skips "@dom,@dom:" at S; returns bytes consumed (0 when absent), or
   (size_t)-1 on a syntax error. */
static size_t
skip_source_route(const char *s, size_t len, unsigned flags,
    const char **error_r)
{
	size_t i = 0, start;

	if (len == 0 || s[0] != '@')
		return 0;
	for (;;) {
		if (i >= len || s[i] != '@') {
			*error_r = "bad source route";
			return (size_t)-1;
		}
		start = ++i;
		while (i < len && s[i] != ',' && s[i] != ':')
			i++;
		if (i >= len ||
		    addr_domain_check(s + start, i - start, flags, error_r) ==
		    -1) {
			if (i >= len)
				*error_r = "bad source route";
			return (size_t)-1;
		}
		if (s[i++] == ':')
			return i;
	}
}

int
addr_parse_path(const char *s, size_t len, unsigned flags, struct mailaddr *a,
    enum addr_path_kind *kind_r, size_t *end_r, const char **error_r)
{
	const char *close;
	size_t route, inner;

	*error_r = NULL;
	memset(a, 0, sizeof(*a));
	if (len == 0 || s[0] != '<') {
		*error_r = "address must be in angle brackets <...>";
		return -1;
	}
	if (len >= 2 && s[1] == '>') {
		if (!(flags & ADDR_F_NULL)) {
			*error_r = "null address <> not allowed here";
			return -1;
		}
		*kind_r = ADDR_PATH_NULL;
		*end_r = 2;
		return 0;
	}
	route = skip_source_route(s + 1, len - 1, flags, error_r);
	if (route == (size_t)-1)
		return -1;
	/* The path ends at the first '>' outside a quoted local part. */
	{
		const char *p = s + 1 + route, *end = s + len;
		bool inq = false;

		for (close = NULL; p < end; p++) {
			if (inq && *p == '\\' && p + 1 < end)
				p++;
			else if (*p == '"')
				inq = !inq;
			else if (!inq && *p == '>') {
				close = p;
				break;
			}
		}
	}
	if (close == NULL) {
		*error_r = "missing '>' after address";
		return -1;
	}
	inner = (size_t)(close - (s + 1 + route));
	*end_r = (size_t)(close - s) + 1;
	if (route == 0 && (flags & ADDR_F_POSTMASTER) && inner == 10 &&
	    strncasecmp(s + 1, "postmaster", 10) == 0) {
		*kind_r = ADDR_PATH_POSTMASTER;
		return 0;
	}
	if (addr_parse(s + 1 + route, inner, flags, a, error_r) == -1)
		return -1;
	*kind_r = ADDR_PATH_MAILBOX;
	return 0;
}

void
addr_format(const struct mailaddr *a, char *dst, size_t dstsz)
{
	(void)snprintf(dst, dstsz, "%s@%s", a->local, a->domain);
}

void
addr_canonicalize(struct mailaddr *a)
{
	const char *err;
	size_t n;

	str_lower(a->domain);
	if (a->quoted) {
		/* "ann" is ann: a quoted string without specials, spaces
		   or escapes is the same mailbox as the dot-atom. */
		n = strlen(a->local);
		if (n > 2 && memchr(a->local, '\\', n) == NULL) {
			bool q, u = false;

			if (parse_local(a->local + 1, n - 2, ADDR_F_UTF8, &q,
			    &u, &err) == n - 2 && !q) {
				memmove(a->local, a->local + 1, n - 2);
				a->local[n - 2] = '\0';
				a->quoted = false;
			}
		}
	}
	str_lower(a->local);
}

const char *
addr_domain_of(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL ? at + 1 : "";
}

void
addr_canon_set(struct addr_canon *c, const struct mailaddr *a)
{
	if (&c->a != a)
		c->a = *a;
	addr_canonicalize(&c->a);
	addr_format(&c->a, c->text, sizeof(c->text));
}

int
addr_canon_parse(const char *s, size_t len, unsigned flags,
    struct addr_canon *c, const char **error_r)
{
	if (addr_parse(s, len, flags, &c->a, error_r) == -1)
		return -1;
	addr_canon_set(c, &c->a);
	return 0;
}
