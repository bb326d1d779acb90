/*
 * test_dkim.c - core/dkim.h: relaxed canonicalization against RFC 6376
 * section 3.4.6's example, the body hash of the canonical body for
 * awkward bodies, whatever the pieces it is fed in, and keys (a pair of
 * each algorithm loads; a key of the other algorithm is refused), and
 * the private step alone: a signature of the SHA-256 digest
 * (dkim_sign_digest, what popgate-lookup does for the daemon) verifies
 * as a signature of the data, and dkim_sign asks a key's callback once
 * per key and fails with it. python3-dkim checks real signatures in
 * tests/blackbox/test_dkim_sign.py and test_dkim_privsep.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/sha.h>

#include "core/dkim.h"
#include "util/base64.h"
#include "util/compat.h"

static void
test_rfc_example_headers(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(dkim_canon_header("A: X\r\n", 6, &b), 0);
	assert_int_equal(dkim_canon_header("B : Y\t\r\n\tZ  \r\n",
	    strlen("B : Y\t\r\n\tZ  \r\n"), &b), 0);
	assert_int_equal(b.len, strlen("a:X\r\nb:Y Z\r\n"));
	assert_memory_equal(b.data, "a:X\r\nb:Y Z\r\n", b.len);
	b.len = 0;
	assert_int_equal(dkim_canon_header("SubJect:\n  a \n\tb\n",
	    strlen("SubJect:\n  a \n\tb\n"), &b), 0);
	assert_memory_equal(b.data, "subject:a b\r\n", b.len);
	assert_int_equal(dkim_canon_header("no colon here\n", 14, &b), -1);
	buf_free(&b);
}

static EVP_PKEY *
key_of(enum dkim_alg alg)
{
	char err[DKIM_ERROR_MAX], *pem, *pub;
	EVP_PKEY *k;

	assert_int_equal(dkim_keygen(alg, &pem, &pub, err), 0);
	k = dkim_key_load(alg, pem, err);
	assert_non_null(k);
	assert_null(dkim_key_load(alg == DKIM_RSA_SHA256 ?
	    DKIM_ED25519_SHA256 : DKIM_RSA_SHA256, pem, err));
	free(pem);
	free(pub);
	return k;
}

/* The bh= of MSG signed in pieces of STEP. */
static void
body_hash(const char *msg, size_t step, EVP_PKEY *k, char *out, size_t outsz)
{
	struct dkim_key key = { DKIM_ED25519_SHA256, "example.com", "s", k,
		NULL, NULL };
	struct dkim_signer *s = dkim_signer_new();
	char err[DKIM_ERROR_MAX];
	const char *p, *e;
	size_t n = strlen(msg), off;
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	for (off = 0; off < n; off += step)
		dkim_signer_feed(s, msg + off, n - off < step ? n - off : step);
	assert_int_equal(dkim_sign(s, &key, 1, 1, &b, err), 0);
	(void)buf_putc(&b, '\0');
	p = strstr(b.data, "bh=");
	assert_non_null(p);
	p += 3;
	e = strchr(p, ';');
	assert_non_null(e);
	assert_true((size_t)(e - p) < outsz);
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	dkim_signer_free(&s);
	buf_free(&b);
}

static const struct {
	const char	*msg;
	const char	*canon;		/* the body as hashed */
} bodies[] = {
	/* RFC 6376 3.4.6 */
	{ "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n",
	    " C\r\nD E\r\n" },
	{ "From: a@b\n\n", "" },
	{ "From: a@b\n", "" },
	{ "From: a@b\n\n\n\n", "" },
	{ "From: a@b\n\n \t \n\nx\n \n", "\r\n\r\nx\r\n" },
	{ "From: a@b\n\nlast  ", "last \r\n" },
	{ "From: a@b\n\na\rb\n", "a\rb\r\n" },
	{ "From: a@b\r\n\r\nx\r\n\r\n", "x\r\n" },
};

static void
test_body_hashes(void **state)
{
	EVP_PKEY *k = key_of(DKIM_ED25519_SHA256);
	unsigned char md[SHA256_DIGEST_LENGTH];
	char got[64];
	struct buf want;
	size_t i, step;

	(void)state;
	for (i = 0; i < nitems(bodies); i++) {
		buf_init(&want, BUF_UNLIMITED);
		SHA256((const unsigned char *)bodies[i].canon,
		    strlen(bodies[i].canon), md);
		assert_int_equal(base64_encode(md, sizeof(md), &want), 0);
		(void)buf_putc(&want, '\0');
		for (step = 1; step <= 7; step += 3) {
			body_hash(bodies[i].msg, step, k, got, sizeof(got));
			if (strcmp(got, want.data) != 0)
				fail_msg("body %zu, pieces of %zu: bh=%s, want "
				    "%s", i, step, got, want.data);
		}
		buf_free(&want);
	}
	EVP_PKEY_free(k);
}

static void
test_rsa_keys(void **state)
{
	EVP_PKEY *k = key_of(DKIM_RSA_SHA256);

	(void)state;
	assert_int_equal(EVP_PKEY_get_bits(k), 2048);
	EVP_PKEY_free(k);
}

struct pair {
	EVP_PKEY	*priv, *pub;
	unsigned	 calls;
	bool		 fail;
};

static void
pair_of(enum dkim_alg alg, struct pair *p)
{
	char err[DKIM_ERROR_MAX], *pem, *pub;

	memset(p, 0, sizeof(*p));
	assert_int_equal(dkim_keygen(alg, &pem, &pub, err), 0);
	p->priv = dkim_key_load(alg, pem, err);
	p->pub = dkim_pubkey_load(alg, pub, strlen(pub), err);
	assert_non_null(p->priv);
	assert_non_null(p->pub);
	free(pem);
	free(pub);
}

static void
pair_free(struct pair *p)
{
	EVP_PKEY_free(p->priv);
	EVP_PKEY_free(p->pub);
}

static void
test_digest_signatures(void **state)
{
	static const char data[] = "from:a@example.com\r\ndkim-signature:b=";
	static const enum dkim_alg algs[] = { DKIM_RSA_SHA256,
		DKIM_ED25519_SHA256 };
	unsigned char md[DKIM_HASH_LEN];
	char err[DKIM_ERROR_MAX];
	struct pair p;
	struct buf sig;
	size_t i;

	(void)state;
	SHA256((const unsigned char *)data, strlen(data), md);
	for (i = 0; i < nitems(algs); i++) {
		pair_of(algs[i], &p);
		buf_init(&sig, DKIM_SIG_MAX);
		assert_int_equal(dkim_sign_digest(algs[i], p.priv, md, &sig,
		    err), 0);
		assert_int_equal(sig.len, algs[i] == DKIM_RSA_SHA256 ? 256 : 64);
		assert_int_equal(dkim_verify_data(algs[i], p.pub, data,
		    strlen(data), (unsigned char *)sig.data, sig.len), 0);
		assert_int_equal(dkim_verify_data(algs[i], p.pub, data,
		    strlen(data) - 1, (unsigned char *)sig.data, sig.len), -1);
		buf_free(&sig);
		pair_free(&p);
	}
}

static int
counted(const struct dkim_key *k, const unsigned char md[DKIM_HASH_LEN],
    struct buf *sig, char err[DKIM_ERROR_MAX], void *arg)
{
	struct pair *p = arg;

	assert_null(k->pkey);
	p->calls++;
	if (p->fail) {
		(void)snprintf(err, DKIM_ERROR_MAX, "the lookup process is "
		    "unavailable");
		return -1;
	}
	return dkim_sign_digest(k->alg, p->priv, md, sig, err);
}

static void
test_private_step_callback(void **state)
{
	static const char msg[] = "From: a@example.com\nSubject: s\n\nbody\n";
	struct pair r, e;
	struct dkim_key keys[2] = {
		{ DKIM_RSA_SHA256, "example.com", "r", NULL, counted, &r },
		{ DKIM_ED25519_SHA256, "example.com", "e", NULL, counted, &e },
	};
	struct dkim_signer *s;
	char err[DKIM_ERROR_MAX];
	struct buf out;

	(void)state;
	pair_of(DKIM_RSA_SHA256, &r);
	pair_of(DKIM_ED25519_SHA256, &e);
	buf_init(&out, BUF_UNLIMITED);
	s = dkim_signer_new();
	dkim_signer_feed(s, msg, strlen(msg));
	assert_int_equal(dkim_sign(s, keys, 2, 1, &out, err), 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(e.calls, 1);
	assert_non_null(strstr(buf_cstr(&out), "a=rsa-sha256"));
	assert_non_null(strstr(buf_cstr(&out), "a=ed25519-sha256"));
	dkim_signer_free(&s);
	/* A failing private step fails the signing, with its reason. */
	buf_reset(&out);
	e.fail = true;
	s = dkim_signer_new();
	dkim_signer_feed(s, msg, strlen(msg));
	assert_int_equal(dkim_sign(s, keys, 2, 1, &out, err), -1);
	assert_string_equal(err, "the lookup process is unavailable");
	assert_int_equal(e.calls, 2);
	dkim_signer_free(&s);
	buf_free(&out);
	pair_free(&r);
	pair_free(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_example_headers),
		cmocka_unit_test(test_body_hashes),
		cmocka_unit_test(test_rsa_keys),
		cmocka_unit_test(test_digest_signatures),
		cmocka_unit_test(test_private_step_callback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
