/*
 * passwd.c - crypt(3) hashing and verification through libxcrypt.
 */
#include <crypt.h>
#include <errno.h>

#include <openssl/crypto.h>

#include "store/passwd.h"
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
