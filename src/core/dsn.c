/*
 * dsn.c - RFC 3461 parameters: NOTIFY, xtext, ORCPT.
 */
#include "core/dsn.h"
#include "util/str.h"
#include "util/compat.h"

static const struct {
	const char	*name;
	unsigned	 flag;
} notify_words[] = {
	{ "NEVER", DSN_NOTIFY_NEVER },
	{ "SUCCESS", DSN_NOTIFY_SUCCESS },
	{ "FAILURE", DSN_NOTIFY_FAILURE },
	{ "DELAY", DSN_NOTIFY_DELAY },
};

static unsigned
notify_word(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < nitems(notify_words); i++)
		if (strlen(notify_words[i].name) == n &&
		    strncasecmp(s, notify_words[i].name, n) == 0)
			return notify_words[i].flag;
	return 0;
}

int
dsn_notify_parse(const char *s, size_t n, unsigned *flags_r)
{
	size_t i = 0, j;
	unsigned flags = 0, f;

	*flags_r = 0;
	for (;;) {
		for (j = i; j < n && s[j] != ','; j++)
			continue;
		f = notify_word(s + i, j - i);
		if (f == 0 || (flags & f) != 0)
			return -1;
		flags |= f;
		if (j == n)
			break;
		i = j + 1;
	}
	/* "NEVER" or any combination of the others, never both. */
	if ((flags & DSN_NOTIFY_NEVER) && flags != DSN_NOTIFY_NEVER)
		return -1;
	*flags_r = flags;
	return 0;
}

void
dsn_notify_format(unsigned flags, char *out, size_t outsz)
{
	size_t i, o = 0, n;

	if (outsz == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < nitems(notify_words); i++) {
		if ((flags & notify_words[i].flag) == 0)
			continue;
		n = strlen(notify_words[i].name);
		if (o + (o > 0) + n >= outsz)
			return;
		if (o > 0)
			out[o++] = ',';
		memcpy(out + o, notify_words[i].name, n + 1);
		o += n;
	}
}

bool
dsn_notify_wants(unsigned flags, unsigned what)
{
	if (flags == 0)
		return what != DSN_NOTIFY_SUCCESS;
	return (flags & what) != 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
dsn_xtext_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '+') {
			if (n - i < 3 || hexval(s[i + 1]) < 0 ||
			    hexval(s[i + 2]) < 0)
				return false;
			i += 2;
		} else if (c < '!' || c > '~' || c == '=') {
			return false;
		}
	}
	return true;
}

int
dsn_xtext_decode(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i = 0, o = 0, take, put;
	int v;

	if (!dsn_xtext_ok(s, n))
		return -1;
	while (i < n) {
		v = -1;
		if (s[i] == '+' && n - i >= 3 && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0)
			v = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
		/* Printable: decoded; anything else kept as it came. */
		take = v >= 0 ? 3 : 1;
		put = v > ' ' && v < 0x7f ? 1 : take;
		if (o + put >= outsz)
			return -1;
		if (put == 1 && take == 3)
			out[o] = (char)v;
		else
			memcpy(out + o, s + i, take);
		o += put;
		i += take;
	}
	if (outsz == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

int
dsn_xtext_encode(const char *s, size_t n, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c > ' ' && c < 0x7f && c != '+' && c != '=') {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outsz)
				return -1;
			out[o++] = '+';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (outsz == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

/* addr-type is an atom (RFC 3461 section 4.2, RFC 5322 atext). */
static bool
atext(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

bool
dsn_orcpt_ok(const char *s, size_t n)
{
	const char *semi = memchr(s, ';', n);
	size_t i, tn;

	if (n > DSN_ORCPT_MAX || semi == NULL || semi == s ||
	    (size_t)(semi - s) + 1 == n)
		return false;
	tn = (size_t)(semi - s);
	for (i = 0; i < tn; i++)
		if (s[i] == '\0' || !atext(s[i]))
			return false;
	return dsn_xtext_ok(semi + 1, n - tn - 1);
}

int
dsn_orcpt_make(const char *address, char *out, size_t outsz)
{
	size_t n = strlen("rfc822;");

	if (str_copy(out, "rfc822;", outsz) == -1)
		return -1;
	if (dsn_xtext_encode(address, strlen(address), out + n,
	    outsz - n) == -1 || strlen(out) > DSN_ORCPT_MAX)
		return -1;
	return 0;
}
