/*
 * str.c - bounded copies, checked number parsing, units, log escaping.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>

#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

int
str_copy(char *dst, const char *src, size_t dstsz)
{
	return str_ncopy(dst, src, strlen(src), dstsz);
}

int
str_ncopy(char *dst, const char *src, size_t n, size_t dstsz)
{
	if (dstsz == 0)
		return -1;
	if (n >= dstsz) {
		dst[0] = '\0';
		return -1;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int
str_fmt(char *dst, size_t dstsz, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, dstsz, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= dstsz) {
		if (dstsz > 0)
			dst[0] = '\0';
		return -1;
	}
	return 0;
}

const char *
errbuf_set(struct errbuf *eb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(eb->text, sizeof(eb->text), fmt, ap);
	va_end(ap);
	return eb->text;
}

int
str_to_uint_n(const char *s, size_t len, uint64_t min, uint64_t max,
    uint64_t *r)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*r = v;
	return 0;
}

int
str_to_uint(const char *s, uint64_t min, uint64_t max, uint64_t *r)
{
	return str_to_uint_n(s, strlen(s), min, max, r);
}

void
str_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

bool
str_has_prefix_ci(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && strncasecmp(s, prefix, n) == 0;
}

bool
str_is_ascii(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

char *
str_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* A number followed by at most one unit letter out of UNITS, whose
   multipliers are in MULT. */
static int
parse_unit(const char *s, const char *units, const uint64_t *mult,
    uint64_t *r)
{
	size_t len = strlen(s), digits = len;
	uint64_t v, m = 1;
	const char *u;

	if (len > 0 && !isdigit((unsigned char)s[len - 1])) {
		u = strchr(units, s[len - 1]);
		if (u == NULL)
			return -1;
		m = mult[u - units];
		digits = len - 1;
	}
	if (str_to_uint_n(s, digits, 0, UINT64_MAX, &v) == -1)
		return -1;
	if (m != 0 && v > UINT64_MAX / m)
		return -1;
	*r = v * m;
	return 0;
}

int
str_parse_size(const char *s, uint64_t *r)
{
	static const uint64_t mult[] = { 1024, 1024, 1048576, 1048576,
		1073741824, 1073741824, 1 };

	return parse_unit(s, "kKmMgGb", mult, r);
}

int
str_parse_duration(const char *s, uint64_t *r)
{
	static const uint64_t mult[] = { 1, 60, 3600, 86400, 604800 };

	return parse_unit(s, "smhdw", mult, r);
}

void
str_fmt_size(char *dst, size_t dstsz, uint64_t v)
{
	if (v != 0 && v % 1073741824 == 0)
		(void)snprintf(dst, dstsz, "%lluG",
		    (unsigned long long)(v / 1073741824));
	else if (v != 0 && v % 1048576 == 0)
		(void)snprintf(dst, dstsz, "%lluM",
		    (unsigned long long)(v / 1048576));
	else if (v != 0 && v % 1024 == 0)
		(void)snprintf(dst, dstsz, "%lluK",
		    (unsigned long long)(v / 1024));
	else
		(void)snprintf(dst, dstsz, "%llu", (unsigned long long)v);
}

void
str_fmt_duration(char *dst, size_t dstsz, uint64_t v)
{
	if (v != 0 && v % 86400 == 0)
		(void)snprintf(dst, dstsz, "%llud",
		    (unsigned long long)(v / 86400));
	else if (v != 0 && v % 3600 == 0)
		(void)snprintf(dst, dstsz, "%lluh",
		    (unsigned long long)(v / 3600));
	else if (v != 0 && v % 60 == 0)
		(void)snprintf(dst, dstsz, "%llum",
		    (unsigned long long)(v / 60));
	else
		(void)snprintf(dst, dstsz, "%llus", (unsigned long long)v);
}

static size_t
vis_len(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '\\' && c != '"' ? 1 : 4;
}

char *
str_vis(char *dst, size_t dstsz, const void *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = src;
	size_t i, o = 0, total = 0, room;

	if (dstsz < 8) {
		if (dstsz > 0)
			dst[0] = '\0';
		return dst;
	}
	for (i = 0; i < len && total < dstsz; i++)
		total += vis_len(p[i]);
	/* Everything fits, or keep room for "..." and the NUL. */
	room = total < dstsz ? dstsz - 1 : dstsz - 4;
	for (i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (o + vis_len(c) > room)
			break;
		if (vis_len(c) == 1) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	if (i < len) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

void
strlist_init(struct strlist *l)
{
	l->v = NULL;
	l->n = l->cap = 0;
}

void
strlist_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	strlist_init(l);
}

void
strlist_addn(struct strlist *l, const char *s, size_t n)
{
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 4 : l->cap * 2;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = xstrndup(s, n);
}

void
strlist_add(struct strlist *l, const char *s)
{
	strlist_addn(l, s, strlen(s));
}

bool
strlist_has(const struct strlist *l, const char *s, bool ci)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if ((ci ? strcasecmp(l->v[i], s) : strcmp(l->v[i], s)) == 0)
			return true;
	return false;
}

int
str_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t
str_utf8_seq(const unsigned char *s, size_t len)
{
	size_t n, i;
	unsigned cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}
