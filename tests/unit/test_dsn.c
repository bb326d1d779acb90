/*
 * test_dsn.c - the RFC 3461 parameters (src/core/dsn.c): NOTIFY as
 * flags and back, xtext checked, decoded and encoded, ORCPT checked and
 * made.
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

#include "core/dsn.h"
#include "util/compat.h"

struct notify_case {
	const char	*in;
	int		 r;
	unsigned	 flags;
	const char	*out;	/* formatted back */
};

static const struct notify_case notify_cases[] = {
	{ "NEVER", 0, DSN_NOTIFY_NEVER, "NEVER" },
	{ "never", 0, DSN_NOTIFY_NEVER, "NEVER" },
	{ "SUCCESS", 0, DSN_NOTIFY_SUCCESS, "SUCCESS" },
	{ "DELAY,FAILURE", 0, DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY,
	    "FAILURE,DELAY" },
	{ "Failure,Delay,Success", 0, DSN_NOTIFY_SUCCESS |
	    DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY, "SUCCESS,FAILURE,DELAY" },
	{ "", -1, 0, NULL },
	{ ",", -1, 0, NULL },
	{ "SUCCESS,", -1, 0, NULL },
	{ ",SUCCESS", -1, 0, NULL },
	{ "SUCCESS,,FAILURE", -1, 0, NULL },
	{ "NEVER,SUCCESS", -1, 0, NULL },
	{ "SUCCESS,NEVER", -1, 0, NULL },
	{ "SUCCESS,SUCCESS", -1, 0, NULL },
	{ "SUCCES", -1, 0, NULL },
	{ "SUCCESSX", -1, 0, NULL },
	{ "SUCCESS FAILURE", -1, 0, NULL },
};

static void
test_notify(void **state)
{
	const struct notify_case *tc = *state;
	char out[DSN_NOTIFY_SZ];
	unsigned flags = 99;
	size_t n = strlen(tc->in), i;

	assert_int_equal(dsn_notify_parse(tc->in, n, &flags), tc->r);
	assert_int_equal(flags, tc->flags);
	if (tc->out != NULL) {
		dsn_notify_format(flags, out, sizeof(out));
		assert_string_equal(out, tc->out);
	}
	/* Every prefix is parsed within its length. */
	for (i = 0; i < n; i++) {
		char *p = malloc(i + 1);

		memcpy(p, tc->in, i);
		(void)dsn_notify_parse(p, i, &flags);
		free(p);
	}
}

static void
test_notify_wants(void **state)
{
	(void)state;
	/* Not given: failures and delays, not successes. */
	assert_true(dsn_notify_wants(0, DSN_NOTIFY_FAILURE));
	assert_true(dsn_notify_wants(0, DSN_NOTIFY_DELAY));
	assert_false(dsn_notify_wants(0, DSN_NOTIFY_SUCCESS));
	assert_false(dsn_notify_wants(DSN_NOTIFY_NEVER, DSN_NOTIFY_FAILURE));
	assert_false(dsn_notify_wants(DSN_NOTIFY_NEVER, DSN_NOTIFY_DELAY));
	assert_false(dsn_notify_wants(DSN_NOTIFY_SUCCESS, DSN_NOTIFY_FAILURE));
	assert_true(dsn_notify_wants(DSN_NOTIFY_SUCCESS, DSN_NOTIFY_SUCCESS));
	assert_false(dsn_notify_wants(DSN_NOTIFY_FAILURE, DSN_NOTIFY_DELAY));
}

static void
test_xtext(void **state)
{
	char out[64];

	(void)state;
	assert_true(dsn_xtext_ok("abc", 3));
	assert_true(dsn_xtext_ok("a+2Bb", 5));
	assert_true(dsn_xtext_ok("", 0));
	assert_false(dsn_xtext_ok("a+2bb", 5));	/* hex is upper-case */
	assert_false(dsn_xtext_ok("a+2", 3));
	assert_false(dsn_xtext_ok("a=b", 3));
	assert_false(dsn_xtext_ok("a b", 3));
	assert_false(dsn_xtext_ok("a\x7f", 2));
	assert_false(dsn_xtext_ok("\xc3\xb6", 2));
	assert_int_equal(dsn_xtext_decode("a+2Bb+3D", 8, out, sizeof(out)), 0);
	assert_string_equal(out, "a+b=");
	/* What would not be printable stays encoded. */
	assert_int_equal(dsn_xtext_decode("x+0Ay+20", 8, out, sizeof(out)), 0);
	assert_string_equal(out, "x+0Ay+20");
	assert_int_equal(dsn_xtext_decode("a b", 3, out, sizeof(out)), -1);
	assert_int_equal(dsn_xtext_decode("abcd", 4, out, 4), -1);
	assert_int_equal(dsn_xtext_decode("abc", 3, out, 4), 0);
	assert_int_equal(dsn_xtext_encode("a+b= c\n", 7, out, sizeof(out)), 0);
	assert_string_equal(out, "a+2Bb+3D+20c+0A");
	assert_int_equal(dsn_xtext_encode("a+b", 3, out, 5), -1);
	assert_int_equal(dsn_xtext_encode("a+b", 3, out, 6), 0);
}

static void
test_orcpt(void **state)
{
	char big[DSN_ORCPT_MAX + 10], out[DSN_ORCPT_MAX + 1];

	(void)state;
	assert_true(dsn_orcpt_ok("rfc822;a@b.c", 12));
	assert_true(dsn_orcpt_ok("x-y;a+2Bb", 9));
	assert_false(dsn_orcpt_ok(";a@b.c", 6));
	assert_false(dsn_orcpt_ok("rfc822;", 7));
	assert_false(dsn_orcpt_ok("rfc 822;a", 9));
	assert_false(dsn_orcpt_ok("rfc822", 6));
	assert_false(dsn_orcpt_ok("rfc822;a b", 10));
	memcpy(big, "rfc822;", 7);
	memset(big + 7, 'a', sizeof(big) - 7);
	assert_true(dsn_orcpt_ok(big, DSN_ORCPT_MAX));
	assert_false(dsn_orcpt_ok(big, DSN_ORCPT_MAX + 1));
	assert_int_equal(dsn_orcpt_make("a+b@c.d", out, sizeof(out)), 0);
	assert_string_equal(out, "rfc822;a+2Bb@c.d");
	assert_true(dsn_orcpt_ok(out, strlen(out)));
	memset(big, '+', 300);
	big[300] = '\0';
	assert_int_equal(dsn_orcpt_make(big, out, sizeof(out)), -1);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < nitems(notify_cases); i++)
		add_test(notify_cases[i].in[0] != '\0' ? notify_cases[i].in :
		    "(empty)", test_notify, &notify_cases[i]);
	add_test("notify wants", test_notify_wants, NULL);
	add_test("xtext", test_xtext, NULL);
	add_test("orcpt", test_orcpt, NULL);
	i = (size_t)_cmocka_run_group_tests("dsn", tests, ntests, NULL,
	    NULL);
	free(tests);
	return (int)i;
}
