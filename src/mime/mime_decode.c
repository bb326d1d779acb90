/*
 * mime_decode.c - header text decoded for IMAP SEARCH: RFC 2047 encoded
 * words (with the RFC 2231 5 language suffix) and RFC 2231 extended
 * parameter values, to UTF-8 through iconv(3).
 *
 * Lenient as mail readers are: a word with an unknown charset, a bad
 * encoding or octets the charset refuses stays as written; white space
 * between two encoded words is dropped (RFC 2047 6.2).
 */
#include <errno.h>
#include <iconv.h>

#include "mime/mime_int.h"
#include "util/str.h"
#include "util/compat.h"

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Base64 of an encoded word, padding optional. 0 or -1. */
static int
dec_b(const char *s, size_t n, struct buf *out)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t i;
	int v;

	for (i = 0; i < n && s[i] != '='; i++) {
		if ((v = b64val(s[i])) == -1)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (buf_putc(out, (char)((acc >> bits) & 0xff)) == -1)
				return -1;
		}
	}
	return 0;
}

/* "Q" encoding (RFC 2047 4.2). 0 or -1. */
static int
dec_q(const char *s, size_t n, struct buf *out)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '_') {
			c = ' ';
		} else if (c == '=') {
			if (i + 2 >= n)
				return -1;
			if ((hi = str_hexval(s[i + 1])) == -1 ||
			    (lo = str_hexval(s[i + 2])) == -1)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (buf_putc(out, c) == -1)
			return -1;
	}
	return 0;
}

/* Converts IN from CHARSET to UTF-8 onto OUT. 0, or -1 (OUT as was). */
static int
to_utf8(const char *charset, const struct buf *in, struct buf *out)
{
	size_t len0 = out->len, left = in->len, room;
	char tmp[1024], *ip = in->data, *op;
	iconv_t cd;
	int r = 0;

	if (strcasecmp(charset, "utf-8") == 0 ||
	    strcasecmp(charset, "us-ascii") == 0)
		return buf_append(out, in->data, in->len);
	if ((cd = iconv_open("UTF-8", charset)) == (iconv_t)-1)
		return -1;
	while (left > 0 && r == 0) {
		op = tmp;
		room = sizeof(tmp);
		if (iconv(cd, &ip, &left, &op, &room) == (size_t)-1 &&
		    errno != E2BIG)
			r = -1;
		if (r == 0 && buf_append(out, tmp, (size_t)(op - tmp)) == -1)
			r = -1;
	}
	(void)iconv_close(cd);
	if (r == -1)
		buf_truncate(out, len0);
	return r;
}

/* An encoded word "=?cs?e?text?=" at S (N octets); its length, or 0 if
   S does not start with one. Its text is decoded onto OUT. */
static size_t
word(const char *s, size_t n, struct buf *out)
{
	char cs[64];
	const char *q1, *q2, *end;
	size_t cslen, wl;
	struct buf raw;
	int r;

	if (n < 8 || s[0] != '=' || s[1] != '?' ||
	    (q1 = memchr(s + 2, '?', n - 2)) == NULL ||
	    (size_t)(q1 - s) + 3 >= n || q1[2] != '?' ||
	    (end = memchr(q1 + 3, '?', n - (size_t)(q1 + 3 - s))) == NULL ||
	    (size_t)(end - s) + 1 >= n || end[1] != '=')
		return 0;
	q2 = q1 + 2;
	cslen = (size_t)(q1 - s - 2);
	/* RFC 2231 5: "charset*language" */
	if (memchr(s + 2, '*', cslen) != NULL)
		cslen = (size_t)((const char *)memchr(s + 2, '*', cslen) - s -
		    2);
	if (cslen == 0 || str_ncopy(cs, s + 2, cslen, sizeof(cs)) == -1)
		return 0;
	wl = (size_t)(end - s) + 2;
	buf_init(&raw, MIME_FIELD_MAX);
	if (q1[1] == 'B' || q1[1] == 'b')
		r = dec_b(q2 + 1, (size_t)(end - q2 - 1), &raw);
	else if (q1[1] == 'Q' || q1[1] == 'q')
		r = dec_q(q2 + 1, (size_t)(end - q2 - 1), &raw);
	else
		r = -1;
	if (r == 0 && raw.len > 0)
		r = to_utf8(cs, &raw, out);
	buf_free(&raw);
	return r == 0 ? wl : 0;
}

int
mime_decode_words(const char *s, size_t len, struct buf *out)
{
	size_t i = 0, wl, j;
	bool after_word = false;

	while (i < len) {
		if (s[i] == '=' && (wl = word(s + i, len - i, out)) > 0) {
			i += wl;
			after_word = true;
			continue;
		}
		if (after_word && mime_is_wsp(s[i])) {
			/* Drop white space only if another word follows. */
			for (j = i; j < len && mime_is_wsp(s[j]); j++)
				;
			if (j < len && s[j] == '=' && j + 1 < len &&
			    s[j + 1] == '?') {
				struct buf probe;

				buf_init(&probe, MIME_FIELD_MAX);
				wl = word(s + j, len - j, &probe);
				buf_free(&probe);
				if (wl > 0) {
					i = j;
					continue;
				}
			}
		}
		after_word = false;
		if (buf_putc(out, s[i]) == -1)
			return -1;
		i++;
	}
	return 0;
}

int
mime_param_decode(const char *value, struct buf *out, char *cs,
    size_t cssz)
{
	const char *q1 = strchr(value, '\''), *q2, *p;
	int hi, lo;

	if (q1 == NULL || (q2 = strchr(q1 + 1, '\'')) == NULL ||
	    str_ncopy(cs, value, (size_t)(q1 - value), cssz) == -1)
		return -1;
	for (p = q2 + 1; *p != '\0'; p++) {
		char c = *p;

		if (c == '%') {
			if ((hi = str_hexval(p[1])) == -1 ||
			    (lo = str_hexval(p[2])) == -1)
				return -1;
			c = (char)(hi * 16 + lo);
			p += 2;
		}
		if (buf_putc(out, c) == -1)
			return -1;
	}
	return 0;
}
