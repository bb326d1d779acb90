/*
 * passwd.c - crypt(3) hashing and verification through libxcrypt.
 */
#include <crypt.h>
#include <errno.h>
#include <pthread.h>

#include <openssl/crypto.h>

#include "store/passwd.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

int
passwd_hash(const char *password, char *out, size_t outsz,
    const char **error_r)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	int r = -1;

	if (strlen(password) > PASSWD_MAX) {
		*error_r = "password too long";
		return -1;
	}
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL) {
		*error_r = "cannot make a yescrypt salt";
		return -1;
	}
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_r(password, salt, cd);
	if (h == NULL || h[0] == '*') {
		*error_r = "crypt(3) failed";
	} else if (strlen(h) >= outsz || strlen(h) > PASSWD_HASH_MAX) {
		*error_r = "hash too long";
	} else {
		memcpy(out, h, strlen(h) + 1);
		r = 0;
	}
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return r;
}

int
passwd_check_hash(const char *hash)
{
	static const char *const prefixes[] = { "$y$", "$gy$", "$7$", "$6$",
		"$5$", "$2b$", "$2y$", "$2a$" };
	size_t i;

	if (strlen(hash) > PASSWD_HASH_MAX)
		return -1;
	for (i = 0; i < nitems(prefixes); i++)
		if (strncmp(hash, prefixes[i], strlen(prefixes[i])) == 0)
			return 0;
	return -1;
}

int
passwd_verify(const char *password, const char *hash)
{
	struct crypt_data *cd;
	const char *h;
	size_t n = strlen(hash);
	int r;

	/* Too long to be anyone's password: a plain mismatch. */
	if (strlen(password) > PASSWD_MAX)
		return 0;
	if (passwd_check_hash(hash) == -1)
		return -1;
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_r(password, hash, cd);
	if (h == NULL || h[0] == '*')
		r = -1;
	else
		r = strlen(h) == n && CRYPTO_memcmp(h, hash, n) == 0;
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return r;
}

/* A hash of the default kind and cost, made once with a fresh salt; the
   fixed yescrypt hash if that fails (it never verifies anyone anyway). */
static char dummy_hash[PASSWD_HASH_MAX + 1] =
    "$y$j9T$6opquLorg4m0d3p4M3j7./$k80GB4G3b0EgKCVph8IH/IIOg8Tv4RVes/amLFQj"
    "zVC";
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void
make_dummy(void)
{
	char h[PASSWD_HASH_MAX + 1];
	const char *err;

	if (passwd_hash("popgate dummy password", h, sizeof(h), &err) == 0)
		(void)str_copy(dummy_hash, h, sizeof(dummy_hash));
}

void
passwd_verify_dummy(const char *password)
{
	int r;

	(void)pthread_once(&dummy_once, make_dummy);
	r = passwd_verify(password, dummy_hash);
	(void)r;
}
