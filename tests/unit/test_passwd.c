/*
 * test_passwd.c - crypt(3) password hashes (src/store/passwd.c, SPEC 4).
 *
 * New hashes are yescrypt; SHA-512-crypt, SHA-256-crypt and bcrypt hashes
 * imported from other systems must verify. The imported hashes below are
 * fixed vectors, made elsewhere:
 *   $6$/$5$: openssl passwd -6 (-5) -salt saltsalt s3cret
 *   $2a$/$2b$/$2y$: the classic OpenBSD / John the Ripper bcrypt vectors
 *       ("U*U" and "" with salt CCCCCCCCCCCCCCCCCCCCC.), verified with
 *       libxcrypt on this machine
 *   $y$: yescrypt of "s3cret" with the salt saltsaltsaltsalt
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include "store/passwd.h"
#include "util/compat.h"


/* ---- verification of fixed hashes ---- */

struct verify_case {
	const char	*name;
	const char	*password;
	const char	*hash;
	int		 want;	/* 1 match, 0 no match, -1 cannot */
};

#define SHA512 "$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFn" \
	"Nxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1"
#define SHA256 "$5$saltsalt$i1q2ZQzc.tl/BQ6CHiENAcVDvEY6nJ1OWlWXKh94b1."
#define MD5 "$1$saltsalt$RwMqRjSWhXMKbW72DwzGd1"
#define BC_UU_2A "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
#define BC_UU_2B "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
#define BC_UU_2Y "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
#define BC_EMPTY "$2b$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy"
#define YESCRYPT "$y$j9T$saltsaltsaltsalt$" \
	"gIvwkwu59HUpqBIOkVbDR/t2/jSuuzFfOz0l6nwgRw2"

static const struct verify_case verify_cases[] = {
	{ "SHA-512-crypt right password", "s3cret", SHA512, 1 },
	{ "SHA-512-crypt wrong password", "s3cret!", SHA512, 0 },
	{ "SHA-512-crypt empty password", "", SHA512, 0 },
	{ "SHA-512-crypt wrong case", "S3cret", SHA512, 0 },
	{ "SHA-256-crypt right password", "s3cret", SHA256, 1 },
	{ "SHA-256-crypt wrong password", "secret", SHA256, 0 },
	{ "bcrypt $2b$ right password", "U*U", BC_UU_2B, 1 },
	{ "bcrypt $2b$ wrong password", "U*V", BC_UU_2B, 0 },
	{ "bcrypt $2a$ right password", "U*U", BC_UU_2A, 1 },
	{ "bcrypt $2y$ right password", "U*U", BC_UU_2Y, 1 },
	{ "bcrypt empty password", "", BC_EMPTY, 1 },
	{ "bcrypt empty hash, other password", "x", BC_EMPTY, 0 },
	{ "yescrypt right password", "s3cret", YESCRYPT, 1 },
	{ "yescrypt wrong password", "s3cret ", YESCRYPT, 0 },
	/* hashes this system does not take */
	{ "MD5-crypt unsupported", "s3cret", MD5, -1 },
	{ "DES-crypt unsupported", "s3cret", "saHW9GdxihkGQ", -1 },
	{ "plain text is no hash", "s3cret", "s3cret", -1 },
	{ "empty hash", "", "", -1 },
	{ "locked account", "s3cret", "!" SHA512, -1 },
	{ "disabled account", "s3cret", "*", -1 },
	{ "malformed yescrypt", "s3cret", "$y$garbage", -1 },
	{ "malformed bcrypt", "U*U", "$2b$05$short", -1 },
	{ "hash longer than PASSWD_HASH_MAX", "s3cret",
	    SHA512 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    -1 },
};

static void
test_verify(void **state)
{
	const struct verify_case *tc = *state;

	assert_int_equal(passwd_verify(tc->password, tc->hash), tc->want);
}

struct check_case {
	const char	*name;
	const char	*hash;
	int		 want;
};

static const struct check_case check_cases[] = {
	{ "check yescrypt", YESCRYPT, 0 },
	{ "check SHA-512", SHA512, 0 },
	{ "check SHA-256", SHA256, 0 },
	{ "check bcrypt 2b", BC_UU_2B, 0 },
	{ "check bcrypt 2y", BC_UU_2Y, 0 },
	{ "check bcrypt 2a", BC_UU_2A, 0 },
	{ "check MD5", MD5, -1 },
	{ "check DES", "saHW9GdxihkGQ", -1 },
	{ "check empty", "", -1 },
	{ "check plain text", "hunter2", -1 },
	{ "check locked", "!" YESCRYPT, -1 },
};

static void
test_check(void **state)
{
	const struct check_case *tc = *state;

	assert_int_equal(passwd_check_hash(tc->hash), tc->want);
}

/* ---- hashing ---- */

static void
test_hash_verify(void **state)
{
	static const char *const pw[] = { "s3cret", "", "p\xc3\xa4ss w0rd",
		"with\ttab and \"quotes\" and \\", "x" };
	char h[PASSWD_HASH_MAX + 1];
	const char *err;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(pw); i++) {
		err = NULL;
		if (passwd_hash(pw[i], h, sizeof(h), &err) != 0)
			fail_msg("hash of '%s' failed: %s", pw[i], err);
		assert_true(strncmp(h, "$y$", 3) == 0);
		assert_true(strlen(h) <= PASSWD_HASH_MAX);
		assert_int_equal(passwd_check_hash(h), 0);
		assert_int_equal(passwd_verify(pw[i], h), 1);
		assert_int_equal(passwd_verify("wrong", h), 0);
	}
}

static void
test_hash_salted(void **state)
{
	char h1[PASSWD_HASH_MAX + 1], h2[PASSWD_HASH_MAX + 1];
	const char *err;

	(void)state;
	assert_int_equal(passwd_hash("s3cret", h1, sizeof(h1), &err), 0);
	assert_int_equal(passwd_hash("s3cret", h2, sizeof(h2), &err), 0);
	/* A fresh salt each time: equal passwords, different hashes. */
	assert_string_not_equal(h1, h2);
	assert_int_equal(passwd_verify("s3cret", h1), 1);
	assert_int_equal(passwd_verify("s3cret", h2), 1);
	/* The password differs only after a NUL-free prefix. */
	assert_int_equal(passwd_verify("s3cre", h1), 0);
	assert_int_equal(passwd_verify("s3crett", h1), 0);
}

static void
test_hash_small_buffer(void **state)
{
	char h[16];
	const char *err = NULL;

	(void)state;
	memset(h, 'Z', sizeof(h));
	assert_int_equal(passwd_hash("s3cret", h, sizeof(h), &err), -1);
	assert_non_null(err);
	assert_string_equal(err, "hash too long");
}

/* PASSWD_MAX characters are fine (hashed, verified), one more is
   refused everywhere. libxcrypt itself takes at most
   CRYPT_MAX_PASSPHRASE_SIZE - 1 (511) bytes, so PASSWD_MAX must not
   promise more than that. */
static void
test_long_password(void **state)
{
	static char pw[PASSWD_MAX + 2];
	char h[PASSWD_HASH_MAX + 1];
	const char *err = NULL;

	(void)state;
	memset(pw, 'a', PASSWD_MAX);
	pw[PASSWD_MAX] = '\0';
	if (passwd_hash(pw, h, sizeof(h), &err) != 0)
		fail_msg("a password of PASSWD_MAX (%d) characters: %s",
		    PASSWD_MAX, err);
	assert_int_equal(passwd_verify(pw, h), 1);

	pw[PASSWD_MAX] = 'a';
	pw[PASSWD_MAX + 1] = '\0';
	err = NULL;
	assert_int_equal(passwd_hash(pw, h, sizeof(h), &err), -1);
	assert_non_null(err);
	assert_string_equal(err, "password too long");
}

/* Whatever a client sends, a valid stored hash gives "match" or "no
   match", never -1: -1 means "cannot verify" and becomes a temporary
   failure (-ERR [SYS/TEMP], 454) instead of a failed login. */
static void
test_long_password_verify(void **state)
{
	static const size_t lens[] = { 72, 73, 255, 511, 512, 513, 600,
		PASSWD_MAX, PASSWD_MAX + 1, 5000 };
	static const char *const hashes[] = { SHA512, SHA256, BC_UU_2B,
		YESCRYPT };
	static char pw[5001];
	size_t i, j;
	int r;

	(void)state;
	for (i = 0; i < nitems(lens); i++) {
		memset(pw, 'a', lens[i]);
		pw[lens[i]] = '\0';
		for (j = 0; j < nitems(hashes); j++) {
			r = passwd_verify(pw, hashes[j]);
			if (r != 0)
				fail_msg("password of %zu characters against "
				    "%.4s...: %d, expected 0", lens[i],
				    hashes[j], r);
		}
	}
}

int
main(void)
{
	size_t i;
	int r;

#define ADD(table, fn)                                                     \
	for (i = 0; i < nitems(table); i++)                                \
		add_test(table[i].name, fn, &table[i])

	ADD(verify_cases, test_verify);
	ADD(check_cases, test_check);
	add_test("hash and verify", test_hash_verify, NULL);
	add_test("fresh salt per hash", test_hash_salted, NULL);
	add_test("output buffer too small", test_hash_small_buffer, NULL);
	add_test("password length limit", test_long_password, NULL);
	add_test("long passwords never 'cannot verify'",
	    test_long_password_verify, NULL);
	r = _cmocka_run_group_tests("passwd", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
