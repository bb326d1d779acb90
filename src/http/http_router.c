/*
 * http_router.c - the route table's matcher (RFC 9110 section 9 for the
 * methods, RFC 3986 for the path): a request target's path, split on
 * '/', against each pattern, where "{name}" takes one segment, decoded.
 * A path some route has but not for the method is 405 with Allow; a
 * path none has is 404. A literal segment beats a parameter: of the
 * patterns a path matches, only those with the most literal segments
 * count ("/queue/flush" is not a message "/queue/{id}" too). Pure functions: fuzz/fuzz_http_api.c drives
 * them alone.
 */
#include <string.h>

#include "http/http_int.h"
#include "util/str.h"
#include "util/compat.h"

static const struct {
	const char	*name;
	unsigned	 bit;
} methods[] = {
	{ "GET", HTTP_GET }, { "POST", HTTP_POST }, { "PATCH", HTTP_PATCH },
	{ "DELETE", HTTP_DELETE }, { "PUT", HTTP_PUT }, { "HEAD", HTTP_HEAD },
};

unsigned
http_method_bit(const char *name)
{
	size_t i;

	for (i = 0; i < nitems(methods); i++)
		if (strcmp(methods[i].name, name) == 0)
			return methods[i].bit;
	return HTTP_OTHER;
}

void
http_allow_text(unsigned allow, char *out, size_t outsz)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < nitems(methods); i++) {
		if (!(allow & methods[i].bit))
			continue;
		(void)str_fmt(out + len, outsz - len, "%s%s",
		    len > 0 ? ", " : "", methods[i].name);
		len = strlen(out);
	}
}

/* The segment S (N octets) percent-decoded into OUT: 0, or -1 for a bad
   escape, a control octet, a '/' or one too long. */
static int
decode(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i, o = 0;
	int hi, lo;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			hi = str_hexval(s[i + 1]);
			lo = str_hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || c == '/' || o + 1 >= outsz)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* Whether PATH (LEN octets) has the shape of PAT; fills M's parameters.
   -1 when it does but a parameter does not decode. */
static int
match_one(const char *pat, const char *path, size_t len,
    struct http_match *m)
{
	const char *p = path, *end = path + len, *seg;
	size_t plen;

	m->nparams = 0;
	while (*pat != '\0') {
		if (*pat != '/' || p >= end || *p != '/')
			return 0;
		pat++;
		p++;
		seg = p;
		while (p < end && *p != '/')
			p++;
		plen = strcspn(pat, "/");
		if (pat[0] == '{') {
			if (p == seg || m->nparams >= HTTP_MAX_PARAMS)
				return 0;
			if (decode(seg, (size_t)(p - seg),
			    m->params[m->nparams], sizeof(m->params[0])) ==
			    -1)
				return -1;
			m->nparams++;
		} else if ((size_t)(p - seg) != plen ||
		    memcmp(seg, pat, plen) != 0)
			return 0;
		pat += plen;
	}
	return p == end ? 1 : 0;
}

/* The literal segments of PAT. */
static size_t
literals(const char *pat)
{
	size_t n = 0;

	while ((pat = strchr(pat, '/')) != NULL) {
		pat++;
		if (*pat != '{')
			n++;
	}
	return n;
}

int
http_route_match(const struct http_route *routes, size_t n, unsigned method,
    const char *path, size_t len, struct http_match *m)
{
	struct http_match tmp;
	bool bad = false;
	size_t i, lit, best = 0;
	int r;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < n; i++) {
		r = match_one(routes[i].pattern, path, len, &tmp);
		if (r == -1)
			bad = true;
		if (r != 1)
			continue;
		lit = literals(routes[i].pattern);
		if (lit < best)
			continue;
		if (lit > best) {	/* the more literal pattern wins */
			best = lit;
			m->allow = 0;
			m->route = NULL;
		}
		m->allow |= routes[i].method;
		/* HEAD is GET without the body (RFC 9110 section 9.3.2). */
		if (m->route == NULL && (routes[i].method == method ||
		    (method == HTTP_HEAD && routes[i].method == HTTP_GET))) {
			tmp.allow = 0;
			tmp.route = &routes[i];
			memcpy(m->params, tmp.params, sizeof(m->params));
			m->nparams = tmp.nparams;
			m->route = tmp.route;
		}
	}
	if (m->route != NULL)
		return 200;
	if (m->allow != 0)
		return 405;
	return bad ? 400 : 404;
}
