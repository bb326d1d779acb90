/*
 * mauth_ar.c - the authserv-id of an Authentication-Results field (RFC
 * 8601 section 2.2), to find the fields that claim to be ours.
 *
 *   authres-payload = [CFWS] authserv-id [ CFWS authres-version ]
 *                     ( no-result / 1*resinfo ) [CFWS] CRLF
 *   authserv-id     = value   (a token or a quoted-string, RFC 2045)
 */
#include <string.h>

#include "mauth/mauth.h"

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips blanks and (nested) comments; -1 for an unclosed comment. */
static int
skip_cfws(const char **pp, const char *end)
{
	const char *p = *pp;
	int depth = 0;

	for (; p < end; p++) {
		if (depth == 0 && is_blank(*p))
			continue;
		if (*p == '(') {
			depth++;
			continue;
		}
		if (depth == 0)
			break;
		if (*p == '\\' && p + 1 < end)
			p++;
		else if (*p == ')')
			depth--;
	}
	*pp = p;
	return depth == 0 ? 0 : -1;
}

int
mauth_ar_authserv(const char *body, size_t len, char *out, size_t outsz)
{
	const char *p = body, *end = body + len;
	size_t n = 0;

	if (outsz == 0 || skip_cfws(&p, end) == -1 || p == end)
		return -1;
	if (*p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			/* qtext and quoted-pair: no control characters */
			if (n + 1 >= outsz || (unsigned char)*p < 0x20 ||
			    (unsigned char)*p == 0x7f)
				return -1;
			out[n++] = *p;
		}
		if (p == end)
			return -1;
	} else {
		/* token: RFC 2045's, less tspecials */
		for (; p < end && !is_blank(*p) && strchr("()<>@,;:\\\"/[]?=",
		    *p) == NULL && (unsigned char)*p > 0x20 &&
		    (unsigned char)*p < 0x7f; p++) {
			if (n + 1 >= outsz)
				return -1;
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}
