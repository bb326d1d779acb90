/*
 * ops_token.c - API token secrets and scopes (ops.h), shared by `popgate
 * token add` (which makes and shows a secret once) and the API (which
 * hashes what a client presents and looks the hash up).
 */
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/log.h"
#include "util/compat.h"

#define PREFIX	"pgt_"

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int
ops_token_secret(char secret[OPS_TOKEN_SECRET_LEN + 1])
{
	unsigned char raw[32];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	memcpy(secret, PREFIX, sizeof(PREFIX) - 1);
	hex(raw, sizeof(raw), secret + sizeof(PREFIX) - 1);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

void
ops_token_hash(const char *secret, size_t len,
    char out[STORE_TOKEN_HASH_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_Digest(secret, len, md, &n, EVP_sha256(), NULL) != 1 ||
	    n != 32)
		PANIC("SHA-256 failed");
	hex(md, n, out);
}

int
ops_token_scope(const char *scope, struct store_token *t,
    struct ops_result *r)
{
	const char *err;

	ops_res_init(r);
	if (strcmp(scope, "admin") == 0) {
		t->customer[0] = '\0';
		return 0;
	}
	if (strncmp(scope, "customer:", 9) == 0 &&
	    store_check_customer_name(scope + 9, &err) == 0) {
		(void)str_copy(t->customer, scope + 9, sizeof(t->customer));
		return 0;
	}
	ops_res_set(r, OPS_INVALID, "scope", "bad scope '%s' (expected admin "
	    "or customer:NAME)", scope);
	return -1;
}
