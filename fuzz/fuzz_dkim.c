/*
 * fuzz_dkim.c - the DKIM signer over untrusted messages (core/dkim.h):
 * the header section is split into fields and canonicalized, the body
 * canonicalized as it streams. The oracle: the signature fields of a
 * message fed whole and fed in pieces of the size the first byte says
 * are identical (Ed25519 signatures are deterministic and t= is fixed),
 * and every canonical header field is "name:value" CRLF with no other
 * line end.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/dkim.h"

static EVP_PKEY *key;

static void
init_key(void)
{
	char err[DKIM_ERROR_MAX], *pem, *pub;

	if (key != NULL)
		return;
	if (dkim_keygen(DKIM_ED25519_SHA256, &pem, &pub, err) == -1 ||
	    (key = dkim_key_load(DKIM_ED25519_SHA256, pem, err)) == NULL)
		abort();
	free(pem);
	free(pub);
}

static int
sign(const uint8_t *data, size_t len, size_t step, struct buf *out)
{
	struct dkim_key k = { DKIM_ED25519_SHA256, "example.com", "sel",
		key, NULL, NULL };
	struct dkim_signer *s = dkim_signer_new();
	char err[DKIM_ERROR_MAX];
	size_t off;
	int r;

	for (off = 0; off < len; off += step)
		dkim_signer_feed(s, data + off, len - off < step ? len - off :
		    step);
	r = dkim_sign(s, &k, 1, 1700000000, out, err);
	dkim_signer_free(&s);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct buf a, b, c;
	size_t step, i;
	int ra, rb;

	init_key();
	if (len < 1)
		return 0;
	step = (size_t)data[0] % 17 + 1;
	data++;
	len--;
	buf_init(&a, BUF_UNLIMITED);
	buf_init(&b, BUF_UNLIMITED);
	buf_init(&c, BUF_UNLIMITED);
	ra = sign(data, len, len > 0 ? len : 1, &a);
	rb = sign(data, len, step, &b);
	if (ra != rb || (ra == 0 && (a.len != b.len ||
	    memcmp(a.data, b.data, a.len) != 0)))
		abort();
	if (dkim_canon_header((const char *)data, len, &c) == 0) {
		if (c.len < 3 || c.data[c.len - 2] != '\r' ||
		    c.data[c.len - 1] != '\n' ||
		    memchr(c.data, ':', c.len) == NULL)
			abort();
		for (i = 0; i + 2 < c.len; i++)
			if (c.data[i] == '\r' || c.data[i] == '\n')
				abort();
	}
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
	return 0;
}
