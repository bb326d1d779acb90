/*
 * test_srs.c - the Sender Rewriting Scheme codec (src/core/srs.c): the
 * addresses it makes against known answers computed apart from it (a
 * few lines of Python's hmac over the libsrs2 algorithm), round trips,
 * SRS0 to SRS1, any case, the age window with its wrap, the previous
 * secret, and every malformed form refused with its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/srs.h"
#include "util/compat.h"

#define NOW	((time_t)1764720000)	/* 2025-12-03, day 969 of 1024 */
#define DAYS(n)	((time_t)(n) * SRS_DAY)

static const char *const one[] = { "s3cret" };

struct fwd_case {
	const char	*sender;
	enum srs_status	 st;
	const char	*out;
};

/* The known answers: hmac.new(b"s3cret", "".join(parts).lower(),
   sha1), the first 3 octets in base64. */
static const struct fwd_case fwd_cases[] = {
	{ "user@orig.example", SRS_OK,
	    "SRS0=U1IP=6J=orig.example=user@fwd.test" },
	{ "Ann.Smith@Example.ORG", SRS_OK,
	    "SRS0=aC8o=6J=Example.ORG=Ann.Smith@fwd.test" },
	/* another forwarder's SRS0 becomes SRS1 of it */
	{ "SRS0=AbCd=XY=orig.example=joe@other.example", SRS_OK,
	    "SRS1=0R8P=other.example==AbCd=XY=orig.example=joe@fwd.test" },
	/* an SRS1 is signed again for the same first forwarder */
	{ "SRS1=zzzz=other.example==AbCd=XY=orig.example=joe@third.example",
	    SRS_OK,
	    "SRS1=0R8P=other.example==AbCd=XY=orig.example=joe@fwd.test" },
	{ "nodomain", SRS_MALFORMED, "" },
	{ "@orig.example", SRS_MALFORMED, "" },
	{ "user@", SRS_MALFORMED, "" },
	{ "SRS1=zzzz@x.example", SRS_MALFORMED, "" },
	{ "SRS1=zzzz=other.example=@x.example", SRS_MALFORMED, "" },
	/* 13 + 9 + 1 + 41 = 64 octets of local part fit, 65 do not */
	{ "abcdefghijabcdefghijabcdefghijabcdefghijk@d.example", SRS_OK,
	    NULL },
	{ "abcdefghijabcdefghijabcdefghijabcdefghijkl@d.example",
	    SRS_TOO_LONG, "" },
};

static void
test_forward(void **state)
{
	const struct fwd_case *tc = *state;
	char out[ADDR_BUFSZ];

	assert_int_equal(srs_forward(tc->sender, "fwd.test", "s3cret", NOW,
	    out, sizeof(out)), tc->st);
	if (tc->out != NULL)
		assert_string_equal(out, tc->out);
	if (tc->st == SRS_OK)
		assert_true(strlen(out) - strlen("@fwd.test") <=
		    ADDR_LOCAL_MAX);
}

/* Local part of ADDR (up to the last '@'). */
static size_t
local_len(const char *addr)
{
	return (size_t)(strrchr(addr, '@') - addr);
}

static enum srs_status
rev(const char *local, time_t now, unsigned max_age, char *out, int *age)
{
	return srs_reverse(local, strlen(local), one, 1, now, max_age, out,
	    ADDR_BUFSZ, age);
}

static void
test_round_trip(void **state)
{
	static const char *const senders[] = { "user@orig.example",
		"a=b@orig.example", "x+tag@sub.orig.example",
	};
	char fwd[ADDR_BUFSZ], back[ADDR_BUFSZ];
	size_t i;
	int age = 99;

	(void)state;
	for (i = 0; i < nitems(senders); i++) {
		assert_int_equal(srs_forward(senders[i], "fwd.test", "s3cret",
		    NOW, fwd, sizeof(fwd)), SRS_OK);
		assert_int_equal(srs_reverse(fwd, local_len(fwd), one, 1, NOW,
		    21, back, sizeof(back), &age), SRS_OK);
		assert_string_equal(back, senders[i]);
		assert_int_equal(age, 0);
	}
}

static void
test_srs1_back_to_srs0(void **state)
{
	char back[ADDR_BUFSZ];

	(void)state;
	assert_int_equal(rev("SRS1=0R8P=other.example==AbCd=XY=orig.example="
	    "joe", NOW, 21, back, NULL), SRS_OK);
	assert_string_equal(back,
	    "SRS0=AbCd=XY=orig.example=joe@other.example");
	/* no age of its own: the SRS0 part is the first forwarder's */
	assert_int_equal(rev("SRS1=0R8P=other.example==AbCd=XY=orig.example="
	    "joe", NOW + DAYS(400), 21, back, NULL), SRS_OK);
	assert_int_equal(rev("SRS1=0R8Q=other.example==AbCd=XY=orig.example="
	    "joe", NOW, 21, back, NULL), SRS_BAD_HASH);
	assert_string_equal(back, "");
}

/* Some servers change the case of local parts. */
static void
test_any_case(void **state)
{
	char back[ADDR_BUFSZ];

	(void)state;
	assert_int_equal(rev("srs0=u1ip=6j=orig.example=user", NOW, 21, back,
	    NULL), SRS_OK);
	assert_string_equal(back, "user@orig.example");
	assert_int_equal(rev("SRS0=U1IP=6J=ORIG.EXAMPLE=USER", NOW, 21, back,
	    NULL), SRS_OK);
	assert_string_equal(back, "USER@ORIG.EXAMPLE");
	/* the other separators of libsrs2 after the tag */
	assert_int_equal(rev("SRS0+U1IP=6J=orig.example=user", NOW, 21, back,
	    NULL), SRS_OK);
	assert_int_equal(rev("SRS0-U1IP=6J=orig.example=user", NOW, 21, back,
	    NULL), SRS_OK);
}

static void
test_forged(void **state)
{
	char back[ADDR_BUFSZ];

	(void)state;
	assert_int_equal(rev("SRS0=U1IQ=6J=orig.example=user", NOW, 21, back,
	    NULL), SRS_BAD_HASH);
	/* the hash covers the day, the domain and the user */
	assert_int_equal(rev("SRS0=U1IP=6K=orig.example=user", NOW, 21, back,
	    NULL), SRS_BAD_HASH);
	assert_int_equal(rev("SRS0=U1IP=6J=evil.example=user", NOW, 21, back,
	    NULL), SRS_BAD_HASH);
	assert_int_equal(rev("SRS0=U1IP=6J=orig.example=admin", NOW, 21, back,
	    NULL), SRS_BAD_HASH);
	assert_string_equal(back, "");
	/* another secret made it */
	assert_int_equal(srs_reverse("SRS0=U1IP=6J=orig.example=user", 30,
	    (const char *const[]){ "other" }, 1, NOW, 21, back, sizeof(back),
	    NULL), SRS_BAD_HASH);
	/* no secret at all: nothing is good */
	assert_int_equal(srs_reverse("SRS0=U1IP=6J=orig.example=user", 30,
	    one, 0, NOW, 21, back, sizeof(back), NULL), SRS_BAD_HASH);
}

static void
test_previous_secret(void **state)
{
	static const char *const rotated[] = { "n3w", "s3cret" };
	char back[ADDR_BUFSZ], fwd[ADDR_BUFSZ];

	(void)state;
	assert_int_equal(srs_reverse("SRS0=U1IP=6J=orig.example=user", 30,
	    rotated, 2, NOW, 21, back, sizeof(back), NULL), SRS_OK);
	assert_string_equal(back, "user@orig.example");
	assert_int_equal(srs_forward("user@orig.example", "fwd.test", "n3w",
	    NOW, fwd, sizeof(fwd)), SRS_OK);
	assert_int_equal(srs_reverse(fwd, local_len(fwd), rotated, 2, NOW, 21,
	    back, sizeof(back), NULL), SRS_OK);
	assert_int_equal(srs_reverse(fwd, local_len(fwd), one, 1, NOW, 21,
	    back, sizeof(back), NULL), SRS_BAD_HASH);
}

static void
test_age(void **state)
{
	char back[ADDR_BUFSZ];
	int age = 99;

	(void)state;
	assert_int_equal(rev("SRS0=U1IP=6J=orig.example=user", NOW + DAYS(21),
	    21, back, &age), SRS_OK);
	assert_int_equal(age, 21);
	assert_int_equal(rev("SRS0=U1IP=6J=orig.example=user", NOW + DAYS(22),
	    21, back, &age), SRS_EXPIRED);
	assert_int_equal(age, 22);
	assert_string_equal(back, "");
	/* a day ahead: another host's clock past midnight */
	assert_int_equal(rev("SRS0=U1IP=6J=orig.example=user", NOW - DAYS(1),
	    21, back, &age), SRS_OK);
	assert_int_equal(age, -1);
	/* two days ahead reads as 1022 days old */
	assert_int_equal(rev("SRS0=U1IP=6J=orig.example=user", NOW - DAYS(2),
	    21, back, &age), SRS_EXPIRED);
	assert_int_equal(age, 1022);
	/* the stamp wraps after 1024 days: 969 + 60 is day 5 of the next */
	assert_int_equal(rev("SRS0=U1IP=6J=orig.example=user", NOW + DAYS(60),
	    100, back, &age), SRS_OK);
	assert_int_equal(age, 60);
	assert_int_equal(rev("SRS0=U1IP=6J=orig.example=user", NOW, 0, back,
	    &age), SRS_OK);
}

/* An address made on a day near the wrap, read the days after it. */
static void
test_wrap(void **state)
{
	time_t day1023 = (time_t)1023 * SRS_DAY;
	char fwd[ADDR_BUFSZ], back[ADDR_BUFSZ];
	int age;

	(void)state;
	assert_int_equal(srs_forward("u@o.example", "fwd.test", "s3cret",
	    day1023, fwd, sizeof(fwd)), SRS_OK);
	assert_memory_equal(fwd + 10, "77", 2);
	assert_int_equal(srs_reverse(fwd, local_len(fwd), one, 1,
	    day1023 + DAYS(3), 21, back, sizeof(back), &age), SRS_OK);
	assert_int_equal(age, 3);
}

struct bad_case {
	const char	*local;
	enum srs_status	 st;
};

static const struct bad_case bad_cases[] = {
	{ "user", SRS_NOT_SRS },
	{ "SRS0", SRS_NOT_SRS },
	{ "SRS2=U1IP=6J=orig.example=user", SRS_NOT_SRS },
	{ "SRSX=U1IP=6J=orig.example=user", SRS_NOT_SRS },
	{ "SRS0_U1IP=6J=orig.example=user", SRS_NOT_SRS },
	{ "xSRS0=U1IP=6J=orig.example=user", SRS_NOT_SRS },
	{ "SRS0=", SRS_MALFORMED },
	{ "SRS0=U1IP", SRS_MALFORMED },
	{ "SRS0=U1I=6J=orig.example=user", SRS_MALFORMED },
	{ "SRS0=U1IPX=6J=orig.example=user", SRS_MALFORMED },
	{ "SRS0==6J=orig.example=user", SRS_MALFORMED },
	{ "SRS0=U1IP=6=orig.example=user", SRS_MALFORMED },
	{ "SRS0=U1IP=6JJ=orig.example=user", SRS_MALFORMED },
	{ "SRS0=U1IP=61=orig.example=user", SRS_MALFORMED },
	{ "SRS0=U1IP=6J==user", SRS_MALFORMED },
	{ "SRS0=U1IP=6J=orig.example=", SRS_MALFORMED },
	{ "SRS0=U1IP=6J=orig.example", SRS_MALFORMED },
	{ "SRS1=0R8P", SRS_MALFORMED },
	{ "SRS1=0R8P=other.example", SRS_MALFORMED },
	{ "SRS1=0R8P=other.example=", SRS_MALFORMED },
	{ "SRS1=0R8P==x", SRS_MALFORMED },
	{ "SRS1==other.example==x", SRS_MALFORMED },
	/* over RFC 5321's 64 octets: never one of ours */
	{ "SRS0=U1IP=6J=orig.example=userxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xx", SRS_MALFORMED },
};

static void
test_bad(void **state)
{
	const struct bad_case *tc = *state;
	char back[ADDR_BUFSZ] = "x";

	assert_int_equal(rev(tc->local, NOW, 21, back, NULL), tc->st);
	assert_string_equal(back, "");
}

static void
test_nul_inside(void **state)
{
	char back[ADDR_BUFSZ];

	(void)state;
	assert_int_equal(srs_reverse("SRS0=U1IP=6J=orig.example=user\0x", 32,
	    one, 1, NOW, 21, back, sizeof(back), NULL), SRS_MALFORMED);
	assert_int_equal(srs_reverse("SRS0=U1IP=6J=orig.example=user", 30,
	    one, 1, NOW, 21, back, 10, NULL), SRS_TOO_LONG);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < nitems(fwd_cases); i++)
		add_test(fwd_cases[i].sender, test_forward, &fwd_cases[i]);
	add_test("round trip", test_round_trip, NULL);
	add_test("srs1 back to srs0", test_srs1_back_to_srs0, NULL);
	add_test("any case", test_any_case, NULL);
	add_test("forged", test_forged, NULL);
	add_test("previous secret", test_previous_secret, NULL);
	add_test("age", test_age, NULL);
	add_test("wrap", test_wrap, NULL);
	for (i = 0; i < nitems(bad_cases); i++)
		add_test(bad_cases[i].local, test_bad, &bad_cases[i]);
	add_test("nul inside", test_nul_inside, NULL);
	i = (size_t)_cmocka_run_group_tests("srs", tests, ntests, NULL,
	    NULL);
	free(tests);
	return (int)i;
}
