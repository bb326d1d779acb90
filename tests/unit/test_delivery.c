/*
 * test_delivery.c - the scheduler's arithmetic with an injected clock,
 * MX ordering and route planning with injected DNS answers and an
 * injected random source, DSN status extraction; the client's reply
 * reader (buffered and trickled), EHLO capabilities and DATA encoding.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <event2/buffer.h>

#include "delivery/dlv.h"
#include "delivery/dlv_int.h"
#include "notice/notice.h"
#include "util/clock.h"
#include "util/compat.h"

#define T0 ((time_t)1800000000)

static void
test_backoff(void **state)
{
	/* retry_min 5m doubling up to retry_max 4h. */
	static const struct {
		unsigned	attempts;
		time_t		wait;
	} cases[] = {
		{ 1, 300 }, { 2, 600 }, { 3, 1200 }, { 4, 2400 }, { 5, 4800 },
		{ 6, 9600 }, { 7, 14400 }, { 8, 14400 }, { 50, 14400 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++)
		assert_int_equal(dlv_next_try(T0, cases[i].attempts, 300, 14400),
		    T0 + cases[i].wait);
}

static void
test_backoff_uneven(void **state)
{
	(void)state;
	/* retry_max not a power-of-two multiple: capped exactly. */
	assert_int_equal(dlv_next_try(T0, 3, 7, 20), T0 + 20);
	assert_int_equal(dlv_next_try(T0, 2, 7, 20), T0 + 14);
	/* retry_min == retry_max: constant. */
	assert_int_equal(dlv_next_try(T0, 9, 60, 60), T0 + 60);
}

static void
test_backoff_with_fake_clock(void **state)
{
	time_t now;

	(void)state;
	/* The scheduler takes "now" from the injected clock. */
	clock_set_fake(T0);
	now = clock_now();
	assert_int_equal(dlv_next_try(now, 1, 2, 4), T0 + 2);
	clock_set_fake(T0 + 3600);
	assert_int_equal(dlv_next_try(clock_now(), 2, 2, 4), T0 + 3604);
	clock_set_fake(0);
}

/* A random source that returns a scripted sequence. */
struct script {
	const uint32_t	*v;
	size_t		 n, i;
};

static uint32_t
scripted(void *arg)
{
	struct script *s = arg;

	return s->v[s->i++ % s->n];
}

static uint32_t
zero(void *arg)
{
	(void)arg;
	return 0;
}

static void
test_mx_order(void **state)
{
	struct dns_mx mx[] = {
		{ "c.example", 20 }, { "a.example", 10 }, { "d.example", 30 },
		{ "b.example", 10 },
	};

	(void)state;
	dlv_mx_order(mx, nitems(mx), zero, NULL);
	assert_int_equal(mx[0].pref, 10);
	assert_int_equal(mx[1].pref, 10);
	assert_string_equal(mx[2].host, "c.example");
	assert_string_equal(mx[3].host, "d.example");
}

static void
test_mx_equal_shuffled(void **state)
{
	/* Every order of three equal MX appears with some RNG sequence. */
	static const uint32_t seqs[][2] = {
		{ 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 }, { 2, 0 }, { 2, 1 },
	};
	char seen[6][32];
	size_t i, j, nseen = 0;

	(void)state;
	for (i = 0; i < nitems(seqs); i++) {
		struct dns_mx mx[] = {
			{ "a", 5 }, { "b", 5 }, { "c", 5 },
		};
		struct script sc = { seqs[i], 2, 0 };
		char order[32];

		dlv_mx_order(mx, 3, scripted, &sc);
		(void)snprintf(order, sizeof(order), "%.1s%.1s%.1s", mx[0].host,
		    mx[1].host, mx[2].host);
		for (j = 0; j < nseen; j++)
			if (strcmp(seen[j], order) == 0)
				break;
		if (j == nseen)
			(void)snprintf(seen[nseen++], sizeof(seen[0]), "%s",
			    order);
	}
	assert_int_equal(nseen, 6);
}

static void
test_plan(void **state)
{
	char hosts[DLV_MAX_HOSTS][256];
	const char *verdict = NULL;
	size_t n = 99;
	struct dns_mx mx[] = { { "mx2.example.org", 20 },
		{ "mx1.example.org", 10 } };
	struct dns_mx null_mx[] = { { "", 0 } };

	(void)state;
	/* MX records: in preference order. */
	assert_int_equal(dlv_plan_hosts("example.org", 1, mx, 2, zero, NULL,
	    hosts, &n, &verdict), 1);
	assert_int_equal(n, 2);
	assert_string_equal(hosts[0], "mx1.example.org");
	assert_string_equal(hosts[1], "mx2.example.org");
	/* No MX (NODATA): the domain itself. */
	assert_int_equal(dlv_plan_hosts("example.org", 0, NULL, 0, zero, NULL,
	    hosts, &n, &verdict), 1);
	assert_int_equal(n, 1);
	assert_string_equal(hosts[0], "example.org");
	/* Null MX: bounce with 5.1.10. */
	assert_int_equal(dlv_plan_hosts("example.org", 1, null_mx, 1, zero,
	    NULL, hosts, &n, &verdict), 0);
	assert_non_null(strstr(verdict, "5.1.10"));
	/* NXDOMAIN: bounce. */
	assert_int_equal(dlv_plan_hosts("nx.example", DNS_NXDOMAIN, NULL, 0,
	    zero, NULL, hosts, &n, &verdict), 0);
	assert_true(verdict[0] == '5');
	/* SERVFAIL or timeout: wait. */
	assert_int_equal(dlv_plan_hosts("example.org", -1, NULL, 0, zero, NULL,
	    hosts, &n, &verdict), -1);
	assert_int_equal(n, 0);
}

static void
test_plan_many(void **state)
{
	struct dns_mx mx[DLV_MAX_HOSTS + 5];
	char hosts[DLV_MAX_HOSTS][256];
	const char *verdict;
	size_t i, n;

	(void)state;
	for (i = 0; i < nitems(mx); i++) {
		(void)snprintf(mx[i].host, sizeof(mx[i].host), "mx%zu.example",
		    i);
		mx[i].pref = (unsigned)(100 - i);
	}
	assert_int_equal(dlv_plan_hosts("example", 1, mx, nitems(mx), zero,
	    NULL, hosts, &n, &verdict), 1);
	assert_int_equal(n, DLV_MAX_HOSTS);
}

static void
test_status_of(void **state)
{
	static const struct {
		const char	*reply, *want;
	} cases[] = {
		{ "550 5.1.1 no such user", "5.1.1" },
		{ "451 4.7.1 try later", "4.7.1" },
		{ "250 2.0.0 Ok: queued", "2.0.0" },
		{ "552 5.3.4 too big", "5.3.4" },
		{ "554 5.4.7 expired", "5.4.7" },
		{ "550 no enhanced code", "5.0.0" },
		{ "421 service closing", "4.0.0" },
		{ "556 5.1.10 null MX", "5.1.10" },
		{ "garbage", "4.0.0" },
		{ "", "4.0.0" },
	};
	char out[16];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		notice_status_of(cases[i].reply, out);
		assert_string_equal(out, cases[i].want);
	}
}

/* ---- the client's bytes ---- */

static const struct {
	const char	*in;
	size_t		 len;		/* 0: strlen */
	int		 r;
	const char	*line;
} reply_cases[] = {
	{ "250 ok\r\n", 0, 1, "250 ok" },
	{ "250-PIPELINING\n", 0, 1, "250-PIPELINING" },
	{ "220\r\n", 0, 1, "220" },
	{ "599 x\r\n", 0, 1, "599 x" },
	{ "250 ok", 0, 0, NULL },		/* not complete yet */
	{ "25\r\n", 0, -1, NULL },
	{ "199 x\r\n", 0, -1, NULL },
	{ "600 x\r\n", 0, -1, NULL },
	{ "2a0 x\r\n", 0, -1, NULL },
	{ "250x\r\n", 0, -1, NULL },
	{ "hello\r\n", 0, -1, NULL },
	{ "\r\n", 0, -1, NULL },
	{ "250 a\0b\r\n", 9, -1, NULL },	/* a NUL */
};

static void
test_reply_line(void **state)
{
	struct buf line;
	size_t i, k;

	(void)state;
	buf_init(&line, DLV_REPLY_LINE_MAX);
	for (i = 0; i < nitems(reply_cases); i++) {
		size_t n = reply_cases[i].len != 0 ? reply_cases[i].len :
		    strlen(reply_cases[i].in);
		struct evbuffer *in = evbuffer_new();
		int r = 0;

		/* Whole, then trickled byte by byte: the same verdict, and
		   nothing before the last byte. */
		(void)evbuffer_add(in, reply_cases[i].in, n);
		assert_int_equal(dlv_reply_line(in, &line), reply_cases[i].r);
		if (reply_cases[i].r == 1) {
			assert_string_equal(buf_cstr(&line),
			    reply_cases[i].line);
			assert_int_equal(evbuffer_get_length(in), 0);
		}
		(void)evbuffer_drain(in, evbuffer_get_length(in));
		for (k = 0; k < n; k++) {
			(void)evbuffer_add(in, reply_cases[i].in + k, 1);
			r = dlv_reply_line(in, &line);
			if (k + 1 < n)
				assert_int_equal(r, 0);
		}
		assert_int_equal(r, reply_cases[i].r);
		evbuffer_free(in);
	}
	buf_free(&line);
}

static void
test_reply_line_bounded(void **state)
{
	struct evbuffer *in = evbuffer_new();
	struct buf line;
	char big[DLV_REPLY_LINE_MAX + 2];

	(void)state;
	buf_init(&line, DLV_REPLY_LINE_MAX);
	/* DLV_REPLY_LINE_MAX octets with the LF: taken. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "250 ", 4);
	big[DLV_REPLY_LINE_MAX - 1] = '\n';
	(void)evbuffer_add(in, big, DLV_REPLY_LINE_MAX);
	assert_int_equal(dlv_reply_line(in, &line), 1);
	assert_int_equal(line.len, DLV_REPLY_LINE_MAX - 1);
	/* One more: refused, with or without its LF yet. */
	big[DLV_REPLY_LINE_MAX - 1] = 'x';
	big[DLV_REPLY_LINE_MAX] = '\n';
	(void)evbuffer_add(in, big, DLV_REPLY_LINE_MAX + 1);
	assert_int_equal(dlv_reply_line(in, &line), -1);
	(void)evbuffer_drain(in, evbuffer_get_length(in));
	(void)evbuffer_add(in, big, DLV_REPLY_LINE_MAX);
	assert_int_equal(dlv_reply_line(in, &line), 0);
	(void)evbuffer_add(in, "x", 1);
	assert_int_equal(dlv_reply_line(in, &line), -1);
	evbuffer_free(in);
	buf_free(&line);
}

static void
test_ehlo_parse(void **state)
{
	struct dlv_caps c;

	(void)state;
	dlv_ehlo_parse("250-mx.example\n250-PIPELINING\n250-SIZE 1000\n"
	    "250-starttls\n250-8BITMIME\n250 SMTPUTF8\n", &c);
	assert_true(c.pipelining && c.starttls && c.eightbit && c.utf8);
	assert_true(c.size_offered);
	assert_int_equal(c.size_max, 1000);
	dlv_ehlo_parse("250-mx.example\n250 SIZE\n", &c);
	assert_true(c.size_offered);
	assert_int_equal(c.size_max, 0);
	assert_false(c.pipelining || c.starttls || c.eightbit || c.utf8);
	/* A keyword is a whole word; nothing else counts. */
	dlv_ehlo_parse("250-mx.example\n250-PIPELININGX\n250-X STARTTLS\n"
	    "250 SIZEX 10", &c);
	assert_false(c.pipelining || c.starttls || c.size_offered);
	dlv_ehlo_parse("", &c);
	assert_false(c.pipelining || c.size_offered);
}

static void
test_body_put(void **state)
{
	static const char rest[] = ".b\n..c\n\n.\nd";
	static const char want[] = "a\r\n..b\r\n...c\r\n\r\n..\r\nd";
	struct evbuffer *out = evbuffer_new();
	bool bol = true;
	size_t n;

	(void)state;
	/* Cut where a line starts: the dot is still doubled. */
	dlv_body_put(out, "a\n", 2, &bol);
	assert_true(bol);
	dlv_body_put(out, rest, strlen(rest), &bol);
	assert_false(bol);
	n = evbuffer_get_length(out);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(evbuffer_pullup(out, -1), want, n);
	evbuffer_free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_backoff_uneven),
		cmocka_unit_test(test_backoff_with_fake_clock),
		cmocka_unit_test(test_mx_order),
		cmocka_unit_test(test_mx_equal_shuffled),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_plan_many),
		cmocka_unit_test(test_status_of),
		cmocka_unit_test(test_reply_line),
		cmocka_unit_test(test_reply_line_bounded),
		cmocka_unit_test(test_ehlo_parse),
		cmocka_unit_test(test_body_put),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
