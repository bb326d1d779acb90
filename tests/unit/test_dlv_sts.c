/*
 * test_dlv_sts.c - MTA-STS (RFC 8461) as pure functions: the policy
 * parser (dlv_sts_parse, section 3.2), the TXT record (dlv_sts_txt,
 * section 3.1), mx patterns (dlv_sts_match, section 4.1), DANE's
 * usable records (dlv_dane_state, RFC 7672 3.1) and the choice of a
 * host's TLS demand (dlv_tls_decide).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include "delivery/dlv_int.h"
#include "util/compat.h"

/* ---- the policy file ---- */

struct policy_case {
	const char	*name;
	const char	*text;
	int		 r;
	enum sts_mode	 mode;
	uint64_t	 max_age;
	size_t		 nmx;
	const char	*mx0;		/* the first pattern as kept */
	const char	*err;		/* part of the error */
};

static const struct policy_case policy_cases[] = {
	{ "RFC 8461 3.2 example", "version: STSv1\r\nmode: enforce\r\n"
	    "mx: mail.example.com\r\nmx: *.example.net\r\n"
	    "mx: backupmx.example.com\r\nmax_age: 604800\r\n", 0, STS_ENFORCE,
	    604800, 3, "mail.example.com", NULL },
	{ "LF line ends, no final one", "version: STSv1\nmode: testing\n"
	    "mx: MX.Example.ORG.\nmax_age: 86400", 0, STS_TESTING, 86400, 1,
	    "mx.example.org", NULL },
	{ "blanks around values", "version:STSv1\nmode:\t enforce \n"
	    "mx:  a.example  \nmax_age: 5\n", 0, STS_ENFORCE, 5, 1,
	    "a.example", NULL },
	{ "mode none needs no mx", "version: STSv1\nmode: none\n"
	    "max_age: 0\n", 0, STS_NONE, 0, 0, NULL, NULL },
	{ "unknown keys are ignored", "version: STSv1\nmode: enforce\n"
	    "x-ext: whatever: really\nmx: a.example\nmax_age: 1\n", 0,
	    STS_ENFORCE, 1, 1, "a.example", NULL },
	{ "max_age capped at a year", "version: STSv1\nmode: enforce\n"
	    "mx: a.example\nmax_age: 9999999999\n", 0, STS_ENFORCE,
	    STS_MAX_AGE_MAX, 1, "a.example", NULL },
	{ "no version", "mode: enforce\nmx: a.example\nmax_age: 1\n", -1, 0,
	    0, 0, NULL, "version" },
	{ "another version", "version: STSv2\nmode: enforce\nmx: a.example\n"
	    "max_age: 1\n", -1, 0, 0, 0, NULL, "version" },
	{ "a mode of its own", "version: STSv1\nmode: strict\nmx: a.example\n"
	    "max_age: 1\n", -1, 0, 0, 0, NULL, "mode" },
	{ "modes are case-sensitive", "version: STSv1\nmode: Enforce\n"
	    "mx: a.example\nmax_age: 1\n", -1, 0, 0, 0, NULL, "mode" },
	{ "no max_age", "version: STSv1\nmode: enforce\nmx: a.example\n", -1,
	    0, 0, 0, NULL, "max_age" },
	{ "max_age not a number", "version: STSv1\nmode: enforce\n"
	    "mx: a.example\nmax_age: 1d\n", -1, 0, 0, 0, NULL, "max_age" },
	{ "max_age of 11 digits", "version: STSv1\nmode: enforce\n"
	    "mx: a.example\nmax_age: 12345678901\n", -1, 0, 0, 0, NULL,
	    "max_age" },
	{ "enforce without mx", "version: STSv1\nmode: enforce\nmax_age: 1\n",
	    -1, 0, 0, 0, NULL, "mx" },
	{ "a bad pattern", "version: STSv1\nmode: enforce\nmx: a.*.example\n"
	    "max_age: 1\n", -1, 0, 0, 0, NULL, "mx" },
	{ "a line without colon", "version: STSv1\nmode enforce\n"
	    "mx: a.example\nmax_age: 1\n", -1, 0, 0, 0, NULL, "':'" },
	{ "a NUL inside", "version: STSv1\nmode: enforce\nmx: a.example\0x\n"
	    "max_age: 1\n", -1, 0, 0, 0, NULL, "NUL" },
};

static void
test_policy(void **state)
{
	const struct policy_case *tc = *state;
	size_t len = strlen(tc->text);
	struct sts_policy pol;
	const char *err = NULL;

	if (strstr(tc->name, "NUL") != NULL)
		len += strlen(tc->text + len + 1) + 1;
	assert_int_equal(dlv_sts_parse(tc->text, len, &pol, &err), tc->r);
	if (tc->r == -1) {
		assert_non_null(err);
		assert_non_null(strstr(err, tc->err));
		return;
	}
	assert_int_equal(pol.mode, tc->mode);
	assert_int_equal(pol.max_age, tc->max_age);
	assert_int_equal(pol.nmx, tc->nmx);
	if (tc->mx0 != NULL)
		assert_string_equal(pol.mx[0], tc->mx0);
}

/* The same policy read in pieces gives the same answer only at the
   end: a prefix cut inside a line is not a policy yet. */
static void
test_policy_prefixes(void **state)
{
	static const char text[] = "version: STSv1\r\nmode: enforce\r\n"
	    "mx: mail.example.com\r\nmax_age: 604800\r\n";
	struct sts_policy pol;
	const char *err;
	size_t n;

	(void)state;
	for (n = 0; n < sizeof(text) - 1; n++) {
		int r = dlv_sts_parse(text, n, &pol, &err);

		/* the last line complete from "max_age: 6" on */
		if (n < sizeof(text) - 1 - strlen("04800\r\n"))
			assert_int_equal(r, -1);
	}
	assert_int_equal(dlv_sts_parse(text, sizeof(text) - 1, &pol, &err), 0);
	assert_int_equal(pol.max_age, 604800);
}

static void
test_policy_too_large(void **state)
{
	size_t n = STS_POLICY_MAX + 1;
	char *big = malloc(n);
	struct sts_policy pol;
	const char *err;

	(void)state;
	assert_non_null(big);
	memset(big, '\n', n);
	assert_int_equal(dlv_sts_parse(big, n, &pol, &err), -1);
	assert_non_null(strstr(err, "large"));
	free(big);
}

/* ---- the TXT record ---- */

struct txt_case {
	const char	*name;
	const char	*text;
	int		 r;
	const char	*id;
};

static const struct txt_case txt_cases[] = {
	{ "RFC 8461 3.1 example", "v=STSv1; id=20160831085700Z;", 1,
	    "20160831085700Z" },
	{ "no final ';', blanks", "v=STSv1;  id=abc123  ", 1, "abc123" },
	{ "extension fields ignored", "v=STSv1; id=x1; ext=foo", 1, "x1" },
	{ "not an STS record", "v=spf1 -all", 0, NULL },
	{ "v=STSv10 is not ours", "v=STSv10; id=1", 0, NULL },
	{ "no id", "v=STSv1;", -1, NULL },
	{ "an id with a dash", "v=STSv1; id=2016-08", -1, NULL },
	{ "an id of 33", "v=STSv1; id=123456789012345678901234567890123", -1,
	    NULL },
	{ "two ids", "v=STSv1; id=a; id=b", -1, NULL },
	{ "a field without =", "v=STSv1; id", -1, NULL },
};

static void
test_txt(void **state)
{
	const struct txt_case *tc = *state;
	char id[STS_ID_MAX + 1] = "";

	assert_int_equal(dlv_sts_txt(tc->text, strlen(tc->text), id), tc->r);
	if (tc->id != NULL)
		assert_string_equal(id, tc->id);
}

/* ---- mx patterns ---- */

struct match_case {
	const char	*host;
	bool		 match;
};

static const struct match_case match_cases[] = {
	{ "mail.example.com", true },
	{ "MAIL.EXAMPLE.COM.", true },
	{ "a.example.net", true },		/* *.example.net */
	{ "example.net", false },		/* the wildcard needs a label */
	{ "b.a.example.net", false },		/* ... exactly one */
	{ "mail.example.com.evil", false },
	{ "xmail.example.com", false },
	{ "", false },
};

static void
test_match(void **state)
{
	static const char text[] = "version: STSv1\nmode: enforce\n"
	    "mx: mail.example.com\nmx: *.example.net\nmax_age: 60\n";
	const struct match_case *tc = *state;
	struct sts_policy pol;
	const char *err;

	assert_int_equal(dlv_sts_parse(text, sizeof(text) - 1, &pol, &err), 0);
	assert_int_equal(dlv_sts_match(&pol, tc->host), tc->match);
}

/* ---- DANE ---- */

static void
test_dane_state(void **state)
{
	struct dns_tlsa t[2];

	(void)state;
	memset(t, 0, sizeof(t));
	assert_int_equal(dlv_dane_state(t, 0), DLV_DANE_NONE);
	/* PKIX-EE(1): unusable for SMTP (RFC 7672 3.1.3) */
	t[0].usage = 1;
	t[0].selector = 1;
	t[0].mtype = 1;
	t[0].len = 32;
	assert_int_equal(dlv_dane_state(t, 1), DLV_DANE_UNUSABLE);
	/* DANE-EE(3) SPKI SHA2-256 of the wrong length: unusable */
	t[1].usage = 3;
	t[1].selector = 1;
	t[1].mtype = 1;
	t[1].len = 31;
	assert_int_equal(dlv_dane_state(t, 2), DLV_DANE_UNUSABLE);
	t[1].len = 32;
	assert_int_equal(dlv_dane_state(t, 2), DLV_DANE_USABLE);
	/* DANE-TA(2) full certificate, SHA2-512 */
	t[1].usage = 2;
	t[1].selector = 0;
	t[1].mtype = 2;
	t[1].len = 64;
	assert_int_equal(dlv_dane_state(t, 2), DLV_DANE_USABLE);
	t[1].mtype = 3;		/* no such matching type */
	assert_int_equal(dlv_dane_state(t, 2), DLV_DANE_UNUSABLE);
}

/* ---- a host's TLS demand ---- */

static struct config *
load(const char *text)
{
	struct strlist errs;
	struct config *c;

	strlist_init(&errs);
	c = config_parse("test.conf", text, &errs);
	if (c == NULL && errs.n > 0)
		fail_msg("%s", errs.v[0]);
	assert_non_null(c);
	strlist_free(&errs);
	return c;
}

static void
test_decide(void **state)
{
	static const char text[] = "version: STSv1\nmode: enforce\n"
	    "mx: mx.sts.example\nmax_age: 60\n";
	struct config *c = load("tls_policy clear.example = none\n"
	    "tls_policy .sub.example = encrypt\n"
	    "tls_policy sub.example = verify\n");
	const struct config *cc = c;
	struct sts_policy pol;
	struct dlv_tlsreq r;
	const char *err, *why = NULL;

	(void)state;
	assert_int_equal(dlv_sts_parse(text, sizeof(text) - 1, &pol, &err), 0);
	/* the default: may */
	assert_int_equal(dlv_tls_decide(c, "x.example", true, NULL, "mx.x",
	    DLV_DANE_NONE, &r, &why), 1);
	assert_int_equal(r.level, TLS_LEVEL_MAY);
	assert_string_equal(r.rule, "tls_policy_default");
	/* explicit lines, a parent's for names below it */
	assert_int_equal(dlv_tls_decide(c, "clear.example", true, &pol, "h",
	    DLV_DANE_USABLE, &r, &why), 1);
	assert_int_equal(r.level, TLS_LEVEL_NONE);
	assert_int_equal(dlv_tls_decide(c, "a.b.sub.example", true, NULL, "h",
	    DLV_DANE_NONE, &r, &why), 1);
	assert_int_equal(r.level, TLS_LEVEL_ENCRYPT);
	assert_string_equal(r.rule, "tls_policy .sub.example");
	assert_int_equal(dlv_tls_decide(c, "SUB.example", true, NULL, "h",
	    DLV_DANE_NONE, &r, &why), 1);
	assert_int_equal(r.level, TLS_LEVEL_VERIFY);
	/* MTA-STS enforce: listed hosts verified, others refused */
	assert_int_equal(dlv_tls_decide(c, "sts.example", true, &pol,
	    "mx.sts.example", DLV_DANE_NONE, &r, &why), 1);
	assert_int_equal(r.level, TLS_LEVEL_VERIFY);
	assert_string_equal(r.rule, "mta-sts enforce");
	assert_int_equal(dlv_tls_decide(c, "sts.example", true, &pol,
	    "other.example", DLV_DANE_NONE, &r, &why), 0);
	assert_non_null(strstr(why, "MTA-STS"));
	/* not for a transport route */
	assert_int_equal(dlv_tls_decide(c, "sts.example", false, &pol,
	    "other.example", DLV_DANE_NONE, &r, &why), 1);
	assert_int_equal(r.level, TLS_LEVEL_MAY);
	/* DANE before MTA-STS (RFC 8461 2) */
	assert_int_equal(dlv_tls_decide(c, "sts.example", true, &pol,
	    "other.example", DLV_DANE_USABLE, &r, &why), 1);
	assert_true(r.dane);
	assert_int_equal(r.level, TLS_LEVEL_VERIFY);
	assert_int_equal(dlv_tls_decide(c, "sts.example", true, &pol,
	    "other.example", DLV_DANE_UNUSABLE, &r, &why), 1);
	assert_false(r.dane);
	assert_int_equal(r.level, TLS_LEVEL_ENCRYPT);
	/* testing: as the default, noted */
	pol.mode = STS_TESTING;
	assert_int_equal(dlv_tls_decide(c, "sts.example", true, &pol,
	    "other.example", DLV_DANE_NONE, &r, &why), 1);
	assert_int_equal(r.level, TLS_LEVEL_MAY);
	assert_true(r.sts_testing);
	config_unref(&cc);
	/* tls_verify_peer = yes raises the default */
	c = load("tls_verify_peer = yes\n");
	cc = c;
	assert_int_equal(dlv_tls_decide(c, "x.example", false, NULL, "h",
	    DLV_DANE_NONE, &r, &why), 1);
	assert_int_equal(r.level, TLS_LEVEL_VERIFY);
	assert_string_equal(r.rule, "tls_verify_peer");
	config_unref(&cc);
}

int
main(void)
{
	size_t i;
	int r;

	for (i = 0; i < nitems(policy_cases); i++)
		add_test(policy_cases[i].name, test_policy, &policy_cases[i]);
	add_test("policy: prefixes", test_policy_prefixes, NULL);
	add_test("policy: too large", test_policy_too_large, NULL);
	for (i = 0; i < nitems(txt_cases); i++)
		add_test(txt_cases[i].name, test_txt, &txt_cases[i]);
	for (i = 0; i < nitems(match_cases); i++)
		add_test(match_cases[i].host, test_match, &match_cases[i]);
	add_test("dane: usable records", test_dane_state, NULL);
	add_test("decide", test_decide, NULL);
	r = _cmocka_run_group_tests("dlv_sts", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
