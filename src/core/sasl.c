/*
 * sasl.c - SASL PLAIN and LOGIN decoding with every length checked.
 */
#include <openssl/crypto.h>

#include "core/sasl.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/compat.h"

int
sasl_plain_decode(const char *b64, size_t len, char user[SASL_USER_MAX],
    char pass[SASL_PASS_MAX], const char **error_r)
{
	struct buf b;
	const char *p, *nul1, *nul2, *end;
	size_t zlen, ulen, plen;
	int r = -1;

	buf_init(&b, 2 * SASL_USER_MAX + SASL_PASS_MAX);
	if (base64_decode(b64, len, &b) == -1) {
		*error_r = "invalid base64";
		goto out;
	}
	p = buf_cstr(&b);
	end = p + b.len;
	nul1 = memchr(p, '\0', b.len);
	nul2 = nul1 != NULL ? memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1)) :
	    NULL;
	if (nul2 == NULL || memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1)) !=
	    NULL) {
		*error_r = "malformed PLAIN response";
		goto out;
	}
	zlen = (size_t)(nul1 - p);
	ulen = (size_t)(nul2 - nul1 - 1);
	plen = (size_t)(end - nul2 - 1);
	if (ulen == 0 || ulen >= SASL_USER_MAX || plen >= SASL_PASS_MAX) {
		*error_r = "user name or password empty or too long";
		goto out;
	}
	if (zlen != 0 && (zlen != ulen || memcmp(p, nul1 + 1, ulen) != 0)) {
		*error_r = "authorization identity differs from the user";
		goto out;
	}
	memcpy(user, nul1 + 1, ulen);
	user[ulen] = '\0';
	memcpy(pass, nul2 + 1, plen);
	pass[plen] = '\0';
	r = 0;
out:
	if (b.data != NULL)
		OPENSSL_cleanse(b.data, b.cap);
	buf_free(&b);
	return r;
}

int
sasl_login_decode(const char *b64, size_t len, char *out, size_t outsz,
    const char **error_r)
{
	struct buf b;
	int r = -1;

	buf_init(&b, outsz - 1);
	if (base64_decode(b64, len, &b) == -1) {
		*error_r = "invalid base64 or too long";
	} else if (b.len == 0 || memchr(buf_cstr(&b), '\0', b.len) != NULL) {
		*error_r = "empty or contains NUL";
	} else {
		memcpy(out, b.data, b.len + 1);
		r = 0;
	}
	if (b.data != NULL)
		OPENSSL_cleanse(b.data, b.cap);
	buf_free(&b);
	return r;
}
