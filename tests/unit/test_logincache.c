/*
 * test_logincache.c - the cache of verified logins (src/policy/
 * policy_auth.c): a hit needs the same address, stored hash and
 * password within the TTL; a new hash, a wrong password or an expired
 * entry is a miss; a full cache keeps working.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include "policy/policy.h"
#include "util/compat.h"

#define ADDR	"ann@acme.test"
#define HASH1	"$y$j9T$saltsaltsaltsalt$AAAA"
#define HASH2	"$y$j9T$saltsaltsaltsalt$BBBB"

static void
test_hit_and_misses(void **state)
{
	struct login_cache *c = login_cache_new(3600, 10);

	(void)state;
	assert_false(login_cache_check(c, ADDR, HASH1, "s3cret"));
	login_cache_add(c, ADDR, HASH1, "s3cret");
	assert_true(login_cache_check(c, ADDR, HASH1, "s3cret"));
	assert_true(login_cache_check(c, ADDR, HASH1, "s3cret"));
	/* Wrong password, a password that only shares a prefix, another
	   mailbox, and the hash after `mailbox passwd`. */
	assert_false(login_cache_check(c, ADDR, HASH1, "s3cre"));
	assert_false(login_cache_check(c, ADDR, HASH1, "s3cret2"));
	assert_false(login_cache_check(c, ADDR, HASH1, ""));
	assert_false(login_cache_check(c, "bob@acme.test", HASH1, "s3cret"));
	assert_false(login_cache_check(c, ADDR, HASH2, "s3cret"));
	/* The boundary between hash and password is part of the MAC. */
	login_cache_add(c, "x@y.test", "ab", "c");
	assert_false(login_cache_check(c, "x@y.test", "a", "bc"));
	/* A new password verified replaces the entry. */
	login_cache_add(c, ADDR, HASH2, "n3w");
	assert_true(login_cache_check(c, ADDR, HASH2, "n3w"));
	assert_false(login_cache_check(c, ADDR, HASH1, "s3cret"));
	login_cache_free(&c);
	assert_null(c);
	login_cache_free(&c);
}

static void
test_expiry(void **state)
{
	struct login_cache *c = login_cache_new(0, 10);

	(void)state;
	/* TTL 0: expired as soon as it is made. */
	login_cache_add(c, ADDR, HASH1, "s3cret");
	assert_false(login_cache_check(c, ADDR, HASH1, "s3cret"));
	login_cache_free(&c);
}

static void
test_full(void **state)
{
	struct login_cache *c = login_cache_new(3600, 3);
	char a[32];
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		(void)snprintf(a, sizeof(a), "u%d@acme.test", i);
		login_cache_add(c, a, HASH1, "pw");
	}
	/* The first three are kept, the rest were not cached (a miss only
	   means one more crypt(3)); known ones still refresh. */
	assert_true(login_cache_check(c, "u0@acme.test", HASH1, "pw"));
	assert_true(login_cache_check(c, "u2@acme.test", HASH1, "pw"));
	assert_false(login_cache_check(c, "u4@acme.test", HASH1, "pw"));
	login_cache_add(c, "u1@acme.test", HASH2, "pw2");
	assert_true(login_cache_check(c, "u1@acme.test", HASH2, "pw2"));
	login_cache_free(&c);
}

int
main(void)
{
	int r;

	add_test("hit and misses", test_hit_and_misses, NULL);
	add_test("expiry", test_expiry, NULL);
	add_test("full cache", test_full, NULL);
	r = _cmocka_run_group_tests("logincache", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
