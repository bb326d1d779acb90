/*
 * test_dns_txt.c - the answer to a TXT query (dns_txt_parse,
 * src/core/dns_txt.c): records joined from their strings, the TTL they
 * may be cached for, the negative TTL from the SOA (RFC 2308), and
 * malformed messages refused; and the TTL of another type's answer
 * (dns_answer_ttl, the MX cache's).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/dns.h"

struct msg {
	unsigned char	b[1024];
	size_t		n;
};

static void
put(struct msg *m, const void *p, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void
put16(struct msg *m, unsigned v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	put(m, b, 2);
}

static void
put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

/* Header: one question "_dmarc.ex" TXT, AN answers, NS authority. */
static void
start(struct msg *m, unsigned an, unsigned ns)
{
	static const unsigned char q[] = "\x06_dmarc\x02" "ex";

	m->n = 0;
	put16(m, 0x1234);
	put16(m, 0x8180);
	put16(m, 1);
	put16(m, an);
	put16(m, ns);
	put16(m, 0);
	put(m, q, sizeof(q));	/* with the root's 0 */
	put16(m, 16);
	put16(m, 1);
}

/* A TXT record owned by the question's name (pointer to offset 12). */
static void
txt_rr(struct msg *m, uint32_t ttl, const char *const *strs, size_t nstrs)
{
	size_t i, len = 0;

	put16(m, 0xc00c);
	put16(m, 16);
	put16(m, 1);
	put32(m, ttl);
	for (i = 0; i < nstrs; i++)
		len += 1 + strlen(strs[i]);
	put16(m, (unsigned)len);
	for (i = 0; i < nstrs; i++) {
		unsigned char l = (unsigned char)strlen(strs[i]);

		put(m, &l, 1);
		put(m, strs[i], l);
	}
}

static void
test_two_records(void **state)
{
	static const char *const a[] = { "v=spf1 ", "ip4:127.0.0.1 -all" };
	static const char *const b[] = { "other" };
	struct dns_txt_set set;
	struct msg m;

	(void)state;
	start(&m, 2, 0);
	txt_rr(&m, 300, a, 2);
	txt_rr(&m, 120, b, 1);
	assert_int_equal(dns_txt_parse(m.b, m.n, &set), 0);
	assert_int_equal(set.n, 2);
	assert_string_equal(set.rec[0].text, "v=spf1 ip4:127.0.0.1 -all");
	assert_int_equal(set.rec[0].len, 25);
	assert_string_equal(set.rec[1].text, "other");
	assert_int_equal(set.ttl, 120);
	dns_txt_set_free(&set);
}

static void
test_negative_ttl(void **state)
{
	struct dns_txt_set set;
	struct msg m;

	(void)state;
	start(&m, 0, 1);
	put16(&m, 0xc00c);
	put16(&m, 6);		/* SOA */
	put16(&m, 1);
	put32(&m, 900);
	put16(&m, 2 + 20);
	put(&m, "\x00\x00", 2);	/* two root names */
	put32(&m, 1);
	put32(&m, 2);
	put32(&m, 3);
	put32(&m, 4);
	put32(&m, 60);		/* MINIMUM */
	assert_int_equal(dns_txt_parse(m.b, m.n, &set), 0);
	assert_int_equal(set.n, 0);
	assert_int_equal(set.ttl, 60);
	dns_txt_set_free(&set);
}

static void
test_malformed(void **state)
{
	static const char *const a[] = { "v=DMARC1; p=reject" };
	struct dns_txt_set set;
	struct msg m;
	size_t cut;

	(void)state;
	start(&m, 1, 0);
	txt_rr(&m, 300, a, 1);
	/* Every truncation of a good message is refused, none read past
	   its end (ASan). */
	for (cut = 0; cut < m.n; cut++) {
		assert_int_equal(dns_txt_parse(m.b, cut, &set), -1);
		assert_int_equal(set.n, 0);
		assert_null(set.blob);
	}
	/* A string longer than its record. */
	m.b[m.n - strlen(a[0]) - 1] = 0xff;
	assert_int_equal(dns_txt_parse(m.b, m.n, &set), -1);
}

static void
test_ttl_limits(void **state)
{
	static const char *const a[] = { "x" };
	struct dns_txt_set set;
	struct msg m;

	(void)state;
	start(&m, 1, 0);
	txt_rr(&m, 0x80000000u, a, 1);	/* RFC 2181 8: taken as 0 */
	assert_int_equal(dns_txt_parse(m.b, m.n, &set), 0);
	assert_int_equal(set.ttl, 0);
	dns_txt_set_free(&set);
	start(&m, 1, 0);
	txt_rr(&m, 7 * 86400, a, 1);	/* kept a day at most */
	assert_int_equal(dns_txt_parse(m.b, m.n, &set), 0);
	assert_int_equal(set.ttl, 86400);
	dns_txt_set_free(&set);
}

static void
test_answer_ttl(void **state)
{
	static const char *const a[] = { "x" };
	uint32_t ttl;
	struct msg m;

	(void)state;
	start(&m, 2, 0);
	txt_rr(&m, 10, a, 1);		/* not of the type asked */
	put16(&m, 0xc00c);		/* MX 10 at the question's name */
	put16(&m, 15);
	put16(&m, 1);
	put32(&m, 500);
	put16(&m, 4);
	put16(&m, 10);
	put(&m, "\xc0\x0c", 2);
	assert_int_equal(dns_answer_ttl(m.b, m.n, 15, &ttl), 0);
	assert_int_equal(ttl, 500);
	assert_int_equal(dns_answer_ttl(m.b, m.n, 16, &ttl), 0);
	assert_int_equal(ttl, 10);
	assert_int_equal(dns_answer_ttl(m.b, m.n - 1, 15, &ttl), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_records),
		cmocka_unit_test(test_negative_ttl),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_ttl_limits),
		cmocka_unit_test(test_answer_ttl),
	};

	return cmocka_run_group_tests_name("dns_txt", tests, NULL, NULL);
}
