/*
 * base64.c - strict base64 (RFC 4648 section 4).
 */
#include <stdint.h>

#include "util/base64.h"
#include "util/compat.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
value(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(alphabet, c);
	return p != NULL ? (int)(p - alphabet) : -1;
}

int
base64_decode(const char *in, size_t len, struct buf *out)
{
	size_t i;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		int v[4], k, pad = 0;
		unsigned char o[3];
		uint32_t w;

		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)	/* data after '=' */
				return -1;
			v[k] = value(in[i + k]);
			if (v[k] < 0)
				return -1;
		}
		w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) |
		    ((uint32_t)v[2] << 6) | (uint32_t)v[3];
		/* Non-canonical encodings (bits set under the padding). */
		if ((pad == 1 && (w & 0xff) != 0) ||
		    (pad == 2 && (w & 0xffff) != 0))
			return -1;
		o[0] = (unsigned char)(w >> 16);
		o[1] = (unsigned char)(w >> 8);
		o[2] = (unsigned char)w;
		if (buf_append(out, o, (size_t)(3 - pad)) == -1)
			return -1;
	}
	return 0;
}

int
base64_encode(const void *in, size_t len, struct buf *out)
{
	const unsigned char *p = in;
	size_t i;

	for (i = 0; i < len; i += 3) {
		uint32_t w = (uint32_t)p[i] << 16;
		char o[4];

		if (i + 1 < len)
			w |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			w |= p[i + 2];
		o[0] = alphabet[(w >> 18) & 63];
		o[1] = alphabet[(w >> 12) & 63];
		o[2] = i + 1 < len ? alphabet[(w >> 6) & 63] : '=';
		o[3] = i + 2 < len ? alphabet[w & 63] : '=';
		if (buf_append(out, o, 4) == -1)
			return -1;
	}
	return 0;
}
