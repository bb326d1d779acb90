/*
 * test_spf.c - the syntax of SPF records (spf_record_check,
 * spf_record_parse: RFC 7208 section 12) and the macros (section 7),
 * with section 7.4's examples exactly. check_host() itself is tested
 * against python3-spf over DNS in tests/blackbox/test_spf.py.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "testlib.h"
#include "mauth/mauth.h"
#include "mauth/spf_int.h"
#include "util/compat.h"

struct rec_case {
	const char	*rec;
	const char	*err;	/* NULL: valid; else a part of the error */
};

static const struct rec_case rec_cases[] = {
	{ "v=spf1", NULL },
	{ "v=spf1 ", NULL },
	{ "V=SPF1 -ALL", NULL },
	{ "v=spf1   ip4:192.0.2.0/24   -all  ", NULL },
	{ "v=spf1 +all", NULL },
	{ "v=spf1 ~all ?all -all +all", NULL },
	{ "v=spf1 a mx ptr -all", NULL },
	{ "v=spf1 a:mail.example.com a:mail.example.com. -all", NULL },
	{ "v=spf1 a/24 a//64 a/24//64 a:x.example/0//0 mx/32//128", NULL },
	{ "v=spf1 mx:%{d}/27 ptr:%{d2}", NULL },
	{ "v=spf1 ip4:0.0.0.0/0 ip6:::/0 ip6:2001:db8::1 ip6:::ffff:1.2.3.4",
	    NULL },
	{ "v=spf1 include:_spf.example.net exists:%{ir}.%{l1r+-}._spf.%{d}",
	    NULL },
	{ "v=spf1 redirect=_spf.example.com", NULL },
	{ "v=spf1 -all exp=explain._spf.%{d}", NULL },
	{ "v=spf1 -all moo.cow-far_out=man:dog/cat foo=%{s}", NULL },
	{ "v=spf1 a:o-o.co-m a:example.1a a:x.%{d}%%", NULL },
	{ "v=spf1 -mx:%%%_/.Clara.de/27", NULL },
	{ "v=spf1 ~exists:%{i}.%{s1}.100/86400.rate.%{d}", NULL },
	{ "v=spf1 exists:%{i}._spf.example.com", NULL },
	/* errors */
	{ "v=spf1x", "not an SPF record" },
	{ "v=spf2 -all", "not an SPF record" },
	{ " v=spf1 -all", "not an SPF record" },
	{ "spf1 -all", "not an SPF record" },
	{ "v=spf1 -all\t", "unknown mechanism" },
	{ "v=spf1\t-all", "not an SPF record" },
	{ "v=spf1 foo", "unknown mechanism" },
	{ "v=spf1 -all:3030", "bad mechanism" },
	{ "v=spf1 all/24", "bad mechanism" },
	{ "v=spf1 *all", "unknown mechanism" },
	{ "v=spf1 --all", "unknown mechanism" },
	{ "v=spf1 a:museum", "not a FQDN" },
	{ "v=spf1 a:museum.", "not a FQDN" },
	{ "v=spf1 a:111.222.33.44", "not a FQDN" },
	{ "v=spf1 a:abc.123", "not a FQDN" },
	{ "v=spf1 a:example-.com-", "not a FQDN" },
	{ "v=spf1 a:example.com:8080", "not a FQDN" },
	{ "v=spf1 a:", "empty domain" },
	{ "v=spf1 a:mail.example.com,", "not a FQDN" },
	{ "v=spf1 a/33", "bad CIDR" },
	{ "v=spf1 a//129", "bad CIDR" },
	{ "v=spf1 a/024", "bad mechanism" },
	{ "v=spf1 a//64/24", "bad mechanism" },
	{ "v=spf1 ip4:1.2.3.4/33", "bad CIDR" },
	{ "v=spf1 ip4:1.2.3.4/247", "bad CIDR" },
	{ "v=spf1 ip4:1.2.3.444", "bad address" },
	{ "v=spf1 ip4:1.2.03.4", "bad address" },
	{ "v=spf1 ip4:1.2.3", "bad address" },
	{ "v=spf1 ip4:1.2.3.4//32", "bad address" },
	{ "v=spf1 ip4", "missing argument" },
	{ "v=spf1 ip4:2001:db8::1", "bad address" },
	{ "v=spf1 ip6:1.2.3.4", "bad address" },
	{ "v=spf1 ip6:2001:db8::/129", "bad CIDR" },
	{ "v=spf1 ip6:2001:db8::1//64", "bad address" },
	{ "v=spf1 ptr/24", "bad mechanism" },
	{ "v=spf1 include", "missing argument" },
	{ "v=spf1 include:", "empty domain" },
	{ "v=spf1 exists", "missing argument" },
	{ "v=spf1 exists:%{c}.example.com", "only in exp" },
	{ "v=spf1 exists:%{t}.example.com", "only in exp" },
	{ "v=spf1 a:%{r}.example.com", "only in exp" },
	{ "v=spf1 a:%{x}.example.com", "unknown macro letter" },
	{ "v=spf1 a:%(ir).example.com", "bad macro" },
	{ "v=spf1 a:%{d0}.example.com", "zero parts" },
	{ "v=spf1 a:%{d2:}.example.com", "bad macro delimiter" },
	{ "v=spf1 a:%{d.example.com", "bad macro delimiter" },
	{ "v=spf1 a:x.example.%{d.", "unterminated" },
	{ "v=spf1 a:50%.example.com", "bad macro" },
	{ "v=spf1 a:example.com%", "lone" },
	{ "v=spf1 a:ex\x80mple.com", "bad character" },
	{ "v=spf1 redirect=a.example redirect=b.example", "twice" },
	{ "v=spf1 exp=a.example exp=b.example", "twice" },
	{ "v=spf1 redirect=", "empty domain" },
	{ "v=spf1 redirect=museum", "not a FQDN" },
	{ "v=spf1 exp=", "empty domain" },
	{ "v=spf1 -all foo=%z", "bad macro" },
	{ "v=spf1 -all foo=%{c}", "only in exp" },
	{ "v=spf1 =foo", "unknown mechanism" },
	{ "v=spf1 1foo=bar", "unknown mechanism" },
};

static void
test_record(void **state)
{
	const struct rec_case *c = *state;
	char err[256] = "";
	int r;

	r = spf_record_check(c->rec, strlen(c->rec), err, sizeof(err));
	if (c->err == NULL) {
		if (r != 0)
			fail_msg("refused: %s", err);
	} else {
		assert_int_equal(r, -1);
		if (strstr(err, c->err) == NULL)
			fail_msg("error \"%s\" lacks \"%s\"", err, c->err);
	}
}

/* What the parser makes of the terms. */
static void
test_parse_terms(void **state)
{
	static const char rec[] = "v=spf1 ~a/24//64 mx:%{d}/27 -ip6:2001:db8::/"
	    "48 ?include:x.example redirect=r.example exp=e.example";
	struct spf_record r;
	char err[128];

	(void)state;
	assert_int_equal(spf_record_parse(rec, strlen(rec), &r, err,
	    sizeof(err)), 0);
	assert_int_equal(r.nterms, 4);
	assert_int_equal(r.terms[0].mech, SPF_M_A);
	assert_int_equal(r.terms[0].qual, SPF_SOFTFAIL);
	assert_null(r.terms[0].spec);
	assert_int_equal(r.terms[0].cidr4, 24);
	assert_int_equal(r.terms[0].cidr6, 64);
	assert_int_equal(r.terms[1].mech, SPF_M_MX);
	assert_int_equal(r.terms[1].qual, SPF_PASS);
	assert_int_equal(r.terms[1].speclen, 4);
	assert_memory_equal(r.terms[1].spec, "%{d}", 4);
	assert_int_equal(r.terms[1].cidr4, 27);
	assert_int_equal(r.terms[1].cidr6, 128);
	assert_int_equal(r.terms[2].mech, SPF_M_IP6);
	assert_int_equal(r.terms[2].qual, SPF_FAIL);
	assert_int_equal(r.terms[2].cidr6, 48);
	assert_int_equal(r.terms[2].net.family, AF_INET6);
	assert_int_equal(r.terms[3].mech, SPF_M_INCLUDE);
	assert_int_equal(r.terms[3].qual, SPF_NEUTRAL);
	assert_memory_equal(r.terms[3].text, "?include:x.example", 18);
	assert_memory_equal(r.redirect, "r.example", r.redirectlen);
	assert_memory_equal(r.exp, "e.example", r.explen);
	assert_false(r.has_all);
	spf_record_free(&r);
}

struct macro_case {
	const char	*in;
	const char	*out;		/* NULL: refused */
	bool		 exp;
	bool		 v6;
};

static const struct macro_case macro_cases[] = {
	/* RFC 7208 section 7.4, exactly */
	{ "%{s}", "strong-bad@email.example.com", false, false },
	{ "%{o}", "email.example.com", false, false },
	{ "%{d}", "email.example.com", false, false },
	{ "%{d4}", "email.example.com", false, false },
	{ "%{d3}", "email.example.com", false, false },
	{ "%{d2}", "example.com", false, false },
	{ "%{d1}", "com", false, false },
	{ "%{dr}", "com.example.email", false, false },
	{ "%{d2r}", "example.email", false, false },
	{ "%{l}", "strong-bad", false, false },
	{ "%{l-}", "strong.bad", false, false },
	{ "%{lr}", "strong-bad", false, false },
	{ "%{lr-}", "bad.strong", false, false },
	{ "%{l1r-}", "strong", false, false },
	{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com",
	    false, false },
	{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com", false,
	    false },
	{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	    "bad.strong.lp.3.2.0.192.in-addr._spf.example.com", false, false },
	{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	    "3.2.0.192.in-addr.strong.lp._spf.example.com", false, false },
	{ "%{d2}.trusted-domains.example.net",
	    "example.com.trusted-domains.example.net", false, false },
	{ "%{ir}.%{v}._spf.%{d2}", "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com", false, true },
	/* the rest of section 7 */
	{ "%{p}", "mx.example.org", false, false },
	{ "%{p2}.trusted.example.net.", "example.org.trusted.example.net",
	    false, false },
	{ "%{h}", "helo.example.org", false, false },
	{ "%{i}", "192.0.2.3", false, false },
	{ "%{v}", "ip6", false, true },
	{ "%{c}", "2001:db8::cb01", true, true },
	{ "%{c}", "192.0.2.3", true, false },
	{ "%{r}", "receiver.example.net", true, false },
	{ "%{t}", "1800000000", true, false },
	{ "%{c}", NULL, false, false },
	{ "%{R}", NULL, false, false },
	{ "%{t}", NULL, false, false },
	{ "%{S}", "strong-bad%40email.example.com", false, false },
	{ "%{L}", "strong-bad", false, false },
	{ "%{C}", "2001%3Adb8%3A%3Acb01", true, true },
	{ "%{s.-}", "strong.bad@email.example.com", false, false },
	{ "%{s@}", NULL, false, false },
	{ "%{s2-.}", "example.com", false, false },
	{ "%{d99999999999}", "email.example.com", false, false },
	{ "%{o1r}", "email", false, false },
	{ "%{d0}", NULL, false, false },
	{ "%%%_%-", "% %20", true, false },
	{ "a%_b", "a b", false, false },
	{ "you are %{i}", "you are 192.0.2.3", true, false },
	{ "you are %{i}", NULL, false, false },
	{ "%{x}", NULL, false, false },
	{ "%{", NULL, false, false },
	{ "%{d", NULL, false, false },
	{ "%{d2r.;}", NULL, false, false },
	{ "%a", NULL, false, false },
	{ "%", NULL, false, false },
	{ "ends in a dot.", "ends in a dot.", true, false },
	{ "example.com.", "example.com", false, false },
	{ "%{h1}", "org", false, false },
};

static struct spf_macro_env
env_of(bool v6, struct netaddr *ip)
{
	struct spf_macro_env env;

	memset(ip, 0, sizeof(*ip));
	ip->family = v6 ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(ip->family, v6 ? "2001:db8::cb01" :
	    "192.0.2.3", ip->a), 1);
	env.sender = "strong-bad@email.example.com";
	env.domain = "email.example.com";
	env.ip = ip;
	env.helo = "helo.example.org";
	env.receiver = "receiver.example.net";
	env.ptr = "mx.example.org";
	env.now = 1800000000;
	return env;
}

static void
test_macro(void **state)
{
	const struct macro_case *c = *state;
	struct netaddr ip;
	struct spf_macro_env env = env_of(c->v6, &ip);
	char out[512], err[256];
	int r, chk;

	r = spf_macro_expand(c->in, strlen(c->in), &env, c->exp, out,
	    sizeof(out), err, sizeof(err));
	chk = spf_macro_check(c->in, strlen(c->in), c->exp, err, sizeof(err));
	assert_int_equal(r, chk);
	if (c->out == NULL) {
		assert_int_equal(r, -1);
		return;
	}
	if (r != 0)
		fail_msg("refused: %s", err);
	assert_string_equal(out, c->out);
}

/* No local-part is "postmaster" (section 4.3), no PTR name "unknown",
   no receiver "unknown" (section 7.3). */
static void
test_macro_defaults(void **state)
{
	struct netaddr ip;
	struct spf_macro_env env = env_of(false, &ip);
	char out[256], err[128];
	static const char s[] = "%{l}.%{o}.%{p}.%{r}";

	(void)state;
	env.sender = "@example.org";
	env.ptr = NULL;
	env.receiver = NULL;
	assert_int_equal(spf_macro_expand(s, strlen(s), &env, true, out,
	    sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "postmaster.example.org.unknown.unknown");
}

/* Section 4.8: a name longer than 253 loses labels from the left. */
static void
test_macro_truncate(void **state)
{
	struct netaddr ip;
	struct spf_macro_env env = env_of(false, &ip);
	char sender[300], s[64], out[256], err[128];
	size_t i;

	(void)state;
	/* l = 30 labels "aaaaaaa." (8 octets each): 240 + the rest */
	for (i = 0; i < 30; i++)
		(void)snprintf(sender + i * 8, sizeof(sender) - i * 8,
		    "aaaaaaa.");
	(void)snprintf(sender + 240, sizeof(sender) - 240, "b@x.example");
	env.sender = sender;
	(void)snprintf(s, sizeof(s), "%%{l}.%%{o}");
	assert_int_equal(spf_macro_expand(s, strlen(s), &env, false, out,
	    sizeof(out), err, sizeof(err)), 0);
	/* 241 + 1 + 9 = 251 fits: nothing cut */
	assert_int_equal(strlen(out), 251);
	(void)snprintf(s, sizeof(s), "%%{l}.%%{o}.example.com");
	assert_int_equal(spf_macro_expand(s, strlen(s), &env, false, out,
	    sizeof(out), err, sizeof(err)), 0);
	/* 263 octets lose two labels of 8: 247 */
	assert_true(strlen(out) <= 253);
	assert_string_equal(out + strlen(out) - 23, "b.x.example.example.com");
	assert_int_equal(strncmp(out, "aaaaaaa.", 8), 0);
	assert_int_equal(strlen(out), 263 - 16);
}

/* A value of many parts (a hostile sender): every part counts. */
static void
test_macro_many_parts(void **state)
{
	struct netaddr ip;
	struct spf_macro_env env = env_of(false, &ip);
	char sender[600], out[1024], err[128];
	size_t i;

	(void)state;
	for (i = 0; i < 250; i++)
		(void)snprintf(sender + i * 2, sizeof(sender) - i * 2, "a.");
	(void)snprintf(sender + 500, sizeof(sender) - 500, "z@x.example");
	env.sender = sender;
	assert_int_equal(spf_macro_expand("%{s1}", 5, &env, true, out,
	    sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "example");
	assert_int_equal(spf_macro_expand("%{sr}", 5, &env, true, out,
	    sizeof(out), err, sizeof(err)), 0);
	assert_int_equal(strncmp(out, "example.z@x.a.a.", 16), 0);
	assert_int_equal(strlen(out), strlen(sender));
}

int
main(void)
{
	size_t i;
	int r;

	for (i = 0; i < nitems(rec_cases); i++)
		add_test(rec_cases[i].rec, test_record, &rec_cases[i]);
	add_test("spf_record_parse: the terms", test_parse_terms, NULL);
	for (i = 0; i < nitems(macro_cases); i++) {
		static char names[nitems(macro_cases)][96];

		(void)snprintf(names[i], sizeof(names[i]), "macro %s%s%s",
		    macro_cases[i].in, macro_cases[i].exp ? " (exp)" : "",
		    macro_cases[i].v6 ? " (IPv6)" : "");
		add_test(names[i], test_macro, &macro_cases[i]);
	}
	add_test("macro defaults", test_macro_defaults, NULL);
	add_test("macro truncation to 253", test_macro_truncate, NULL);
	add_test("macro of a value of 252 parts", test_macro_many_parts,
	    NULL);
	r = _cmocka_run_group_tests("spf", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
