/*
 * spf_macro.c - the macros of SPF (RFC 7208 section 7): their syntax and
 * their expansion.
 *
 * A macro-string is checked and expanded by the same scanner, so what
 * the record checker accepts the evaluator can expand. Expansion is pure:
 * the validated PTR name (%{p}) is looked up by the caller beforehand.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "mauth/mauth.h"
#include "util/str.h"
#include "util/compat.h"

#define DELIMS		".-+,/_="
/* A value is at most VAL_MAX octets, so it has at most VAL_MAX / 2 + 1
   parts. */
#define VAL_MAX		1024
#define PARTS_MAX	(VAL_MAX / 2 + 1)

static int
fail(char *err, size_t errsz, const char *what, const char *s, size_t len)
{
	char vis[64];

	(void)snprintf(err, errsz, "%s in '%s'", what,
	    str_vis(vis, sizeof(vis), s, len));
	return -1;
}

/* The dotted nibbles of an IPv6 address (section 7.3), or the dotted
   quad of an IPv4 one. */
static void
ip_dotted(const struct netaddr *ip, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, k = 0;

	if (ip->family == AF_INET) {
		(void)snprintf(out, outsz, "%u.%u.%u.%u", ip->a[0], ip->a[1],
		    ip->a[2], ip->a[3]);
		return;
	}
	for (i = 0; i < 16 && k + 4 <= outsz; i++) {
		out[k++] = hex[ip->a[i] >> 4];
		out[k++] = '.';
		out[k++] = hex[ip->a[i] & 0x0f];
		out[k++] = '.';
	}
	out[k > 0 ? k - 1 : 0] = '\0';
}

/* The value of macro letter C (lower case), in VAL. */
static void
letter_value(int c, const struct spf_macro_env *env, char *val, size_t valsz)
{
	const char *at = env->sender != NULL ? strrchr(env->sender, '@') :
	    NULL;

	val[0] = '\0';
	switch (c) {
	case 's':
		(void)str_copy(val, env->sender != NULL ? env->sender : "",
		    valsz);
		break;
	case 'l':
		/* Section 4.3: no local-part is "postmaster". */
		if (at == NULL || at == env->sender)
			(void)str_copy(val, "postmaster", valsz);
		else
			(void)str_ncopy(val, env->sender,
			    (size_t)(at - env->sender), valsz);
		break;
	case 'o':
		(void)str_copy(val, at != NULL ? at + 1 : env->sender != NULL ?
		    env->sender : "", valsz);
		break;
	case 'd':
		(void)str_copy(val, env->domain != NULL ? env->domain : "",
		    valsz);
		break;
	case 'i':
		ip_dotted(env->ip, val, valsz);
		break;
	case 'c':
		net_addr_format(env->ip, val, valsz);
		break;
	case 'p':
		(void)str_copy(val, env->ptr != NULL && *env->ptr != '\0' ?
		    env->ptr : "unknown", valsz);
		break;
	case 'v':
		(void)str_copy(val, env->ip->family == AF_INET ? "in-addr" :
		    "ip6", valsz);
		break;
	case 'h':
		(void)str_copy(val, env->helo != NULL ? env->helo : "", valsz);
		break;
	case 'r':
		(void)str_copy(val, env->receiver != NULL &&
		    *env->receiver != '\0' ? env->receiver : "unknown", valsz);
		break;
	case 't':
		(void)snprintf(val, valsz, "%llu",
		    (unsigned long long)env->now);
		break;
	}
}

/* Appends the N octets of P to OUT, URL-escaped if ESC (section 7.3:
   an uppercase letter asks for it; RFC 3986's unreserved stay). 0 or
   -1 when OUT is full. */
static int
put(struct buf *out, const char *p, size_t n, bool esc)
{
	size_t i;

	if (!esc)
		return buf_append(out, p, n);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			if (buf_putc(out, (char)c) == -1)
				return -1;
		} else if (buf_printf(out, "%%%02X", c) == -1) {
			return -1;
		}
	}
	return 0;
}

/* Section 7.3: VAL split at any of DELIMS, reversed if REV, its
   rightmost KEEP parts (0: all) joined with ".". */
static int
transform(struct buf *out, const char *val, const char *delims, bool rev,
    unsigned keep, bool esc)
{
	const char *part[PARTS_MAX];
	size_t plen[PARTS_MAX], n = 0, i, first;
	const char *p = val, *e;

	for (;;) {
		e = p + strcspn(p, delims);
		if (n == PARTS_MAX - 1)	/* cannot be: the rest one part */
			e = p + strlen(p);
		part[n] = p;
		plen[n++] = (size_t)(e - p);
		if (*e == '\0')
			break;
		p = e + 1;
	}
	if (rev) {
		for (i = 0; i < n / 2; i++) {
			const char *tp = part[i];
			size_t tl = plen[i];

			part[i] = part[n - 1 - i];
			plen[i] = plen[n - 1 - i];
			part[n - 1 - i] = tp;
			plen[n - 1 - i] = tl;
		}
	}
	first = keep > 0 && keep < n ? n - keep : 0;
	for (i = first; i < n; i++) {
		if ((i > first && buf_putc(out, '.') == -1) ||
		    put(out, part[i], plen[i], esc) == -1)
			return -1;
	}
	return 0;
}

/* One "%{...}" at S (LEN octets left, S[0] == '%', S[1] == '{'): its
   length in *USED, its expansion appended to OUT unless OUT is NULL. */
static int
expand_one(const char *s, size_t len, const struct spf_macro_env *env,
    bool exp, struct buf *out, size_t *used, char *err, size_t errsz)
{
	char delims[sizeof(DELIMS)] = "", val[VAL_MAX] = "";
	size_t i = 2, nd = 0;
	unsigned keep = 0;
	bool rev = false, digits = false;
	int c;

	if (i >= len)
		return fail(err, errsz, "unterminated macro", s, len);
	c = (unsigned char)s[i++];
	if (strchr("slodiphcrtvSLODIPHCRTV", c) == NULL || c == '\0')
		return fail(err, errsz, "unknown macro letter", s, i);
	if (!exp && strchr("crtCRT", c) != NULL)
		return fail(err, errsz, "macro allowed only in exp text", s, i);
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		digits = true;
		if (keep < 100000)
			keep = keep * 10 + (unsigned)(s[i] - '0');
		i++;
	}
	/* Section 7.3: "If a DIGIT is specified, the value MUST be
	   nonzero." */
	if (digits && keep == 0)
		return fail(err, errsz, "macro keeps zero parts", s, i);
	if (i < len && (s[i] == 'r' || s[i] == 'R')) {
		rev = true;
		i++;
	}
	while (i < len && s[i] != '}') {
		if (strchr(DELIMS, s[i]) == NULL || s[i] == '\0')
			return fail(err, errsz, "bad macro delimiter", s,
			    i + 1);
		if (memchr(delims, s[i], nd) == NULL)
			delims[nd++] = s[i];
		i++;
	}
	if (i >= len)
		return fail(err, errsz, "unterminated macro", s, len);
	*used = i + 1;
	if (out == NULL)
		return 0;
	delims[nd] = '\0';
	letter_value(c | 0x20, env, val, sizeof(val));
	if (transform(out, val, nd > 0 ? delims : ".", rev, keep,
	    c >= 'A' && c <= 'Z') == -1)
		return fail(err, errsz, "expansion too long", s, *used);
	return 0;
}

/* Scans (and with OUT, expands) a macro-string. */
static int
scan(const char *s, size_t len, const struct spf_macro_env *env, bool exp,
    struct buf *out, char *err, size_t errsz)
{
	size_t i = 0, used;
	unsigned char c;

	while (i < len) {
		c = (unsigned char)s[i];
		if (c != '%') {
			/* macro-literal: %x21-24 / %x26-7E; exp text may
			   have spaces too (section 6.2). */
			if (c > 0x7e || c < 0x20 || (c == ' ' && !exp))
				return fail(err, errsz, "bad character", s,
				    len);
			if (out != NULL && buf_putc(out, (char)c) == -1)
				return fail(err, errsz, "expansion too long",
				    s, len);
			i++;
			continue;
		}
		if (i + 1 >= len)
			return fail(err, errsz, "lone '%'", s, len);
		switch (s[i + 1]) {
		case '%':
		case '_':
		case '-':
			if (out != NULL && buf_append_str(out, s[i + 1] == '%' ?
			    "%" : s[i + 1] == '_' ? " " : "%20") == -1)
				return fail(err, errsz, "expansion too long",
				    s, len);
			i += 2;
			break;
		case '{':
			if (expand_one(s + i, len - i, env, exp, out, &used,
			    err, errsz) == -1)
				return -1;
			i += used;
			break;
		default:
			return fail(err, errsz, "bad macro", s + i, 2);
		}
	}
	return 0;
}

int
spf_macro_check(const char *s, size_t len, bool exp, char *err, size_t errsz)
{
	return scan(s, len, NULL, exp, NULL, err, errsz);
}

/* Section 4.8: a name longer than 253 loses labels from the left. */
static const char *
truncate_left(const char *s, size_t len)
{
	const char *dot;

	while (len > 253 && (dot = memchr(s, '.', len)) != NULL) {
		len -= (size_t)(dot + 1 - s);
		s = dot + 1;
	}
	return s;
}

int
spf_macro_expand(const char *s, size_t len, const struct spf_macro_env *env,
    bool exp, char *out, size_t outsz, char *err, size_t errsz)
{
	struct buf b;
	const char *p;
	size_t n;
	int r = -1;

	buf_init(&b, exp ? outsz - 1 : 65536);
	if (scan(s, len, env, exp, &b, err, errsz) == -1)
		goto done;
	p = b.data != NULL ? b.data : "";
	n = b.len;
	if (!exp) {
		if (n > 0 && p[n - 1] == '.')
			n--;
		p = truncate_left(p, n);
		n -= (size_t)(p - (b.data != NULL ? b.data : ""));
	}
	if (str_ncopy(out, p, n, outsz) == -1) {
		(void)fail(err, errsz, "expansion too long", s, len);
		goto done;
	}
	r = 0;
done:
	buf_free(&b);
	return r;
}
