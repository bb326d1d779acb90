/*
 * test_metrics.c - the metrics registry and the Prometheus text format
 * (src/core/metrics.c): each kind of metric rendered whole, byte for
 * byte, label values and HELP escaped, histogram buckets cumulative
 * with +Inf, _sum in seconds and _count equal to the +Inf bucket; the
 * hour's top customers ranked and bounded; updates from several threads
 * all counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "core/metrics.h"
#include "util/clock.h"
#include "util/compat.h"

/* What rendering M gives, as a string (the caller frees it). */
static char *
render(struct metric *m)
{
	struct evbuffer *b = evbuffer_new();
	size_t n;
	char *s;

	assert_non_null(b);
	assert_int_equal(metric_render(b, m), 0);
	n = evbuffer_get_length(b);
	s = malloc(n + 1);
	assert_non_null(s);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

static void
assert_render(struct metric *m, const char *want)
{
	char *got = render(m);

	assert_string_equal(got, want);
	free(got);
}

static const char *const proto_values[] = { "pop3", "imap", NULL };
static const char *const result_values[] = { "ok", "fail", NULL };

static void
test_counter_labels(void **state)
{
	static struct metric m = {
		.name = "t_logins_total",
		.help = "Logins.",
		.type = METRIC_COUNTER,
		.labels = { { "protocol", proto_values },
		    { "result", result_values } },
	};

	(void)state;
	metrics_register(&m);
	metrics_register(&m);	/* once only */
	metric_inc(&m, metric_cell2(&m, 1, 0));
	metric_add(&m, metric_cell2(&m, 0, 1), 41);
	metric_inc(&m, metric_cell2(&m, 0, 1));
	metric_inc(&m, 4);	/* out of range: ignored */
	assert_render(&m,
	    "# HELP t_logins_total Logins.\n"
	    "# TYPE t_logins_total counter\n"
	    "t_logins_total{protocol=\"pop3\",result=\"ok\"} 0\n"
	    "t_logins_total{protocol=\"imap\",result=\"ok\"} 1\n"
	    "t_logins_total{protocol=\"pop3\",result=\"fail\"} 42\n"
	    "t_logins_total{protocol=\"imap\",result=\"fail\"} 0\n");
	assert_int_equal(metric_value_index(&m, 1, "fail"), 1);
	assert_int_equal(metric_value_index(&m, 1, "nope"), -1);
	assert_int_equal(metric_value_index(&m, 2, "ok"), -1);
	metrics_unregister(&m);
}

static const char *const odd_values[] = { "a\"b", "c\\d", "e\nf", NULL };

static void
test_escaping(void **state)
{
	static struct metric m = {
		.name = "t_odd",
		.help = "Back\\slash, \"quotes\" and a\nnewline.",
		.type = METRIC_GAUGE,
		.labels = { { "v", odd_values } },
	};

	(void)state;
	metrics_register(&m);
	metric_dec(&m, 0);
	metric_set(&m, 2, 7);
	/* HELP escapes backslash and newline only; label values the
	   double quote too. */
	assert_render(&m,
	    "# HELP t_odd Back\\\\slash, \"quotes\" and a\\nnewline.\n"
	    "# TYPE t_odd gauge\n"
	    "t_odd{v=\"a\\\"b\"} -1\n"
	    "t_odd{v=\"c\\\\d\"} 0\n"
	    "t_odd{v=\"e\\nf\"} 7\n");
	metrics_unregister(&m);
}

static const uint64_t bounds[] = { 5000, 250000, 1000000, 2500000, 0 };

static void
test_histogram(void **state)
{
	static struct metric m = {
		.name = "t_wait_seconds",
		.help = "Waits.",
		.type = METRIC_HISTOGRAM,
		.labels = { { "protocol", proto_values } },
		.bounds = bounds,
	};

	(void)state;
	metrics_register(&m);
	metric_observe_us(&m, 0, 5000);		/* on the bound: le 0.005 */
	metric_observe_us(&m, 0, 5001);
	metric_observe_us(&m, 0, 3000000);	/* only +Inf */
	metric_observe_us(&m, 1, 0);
	metric_observe_us(&m, 2, 1);		/* no such label set */
	assert_render(&m,
	    "# HELP t_wait_seconds Waits.\n"
	    "# TYPE t_wait_seconds histogram\n"
	    "t_wait_seconds_bucket{protocol=\"pop3\",le=\"0.005\"} 1\n"
	    "t_wait_seconds_bucket{protocol=\"pop3\",le=\"0.25\"} 2\n"
	    "t_wait_seconds_bucket{protocol=\"pop3\",le=\"1\"} 2\n"
	    "t_wait_seconds_bucket{protocol=\"pop3\",le=\"2.5\"} 2\n"
	    "t_wait_seconds_bucket{protocol=\"pop3\",le=\"+Inf\"} 3\n"
	    "t_wait_seconds_sum{protocol=\"pop3\"} 3.010001\n"
	    "t_wait_seconds_count{protocol=\"pop3\"} 3\n"
	    "t_wait_seconds_bucket{protocol=\"imap\",le=\"0.005\"} 1\n"
	    "t_wait_seconds_bucket{protocol=\"imap\",le=\"0.25\"} 1\n"
	    "t_wait_seconds_bucket{protocol=\"imap\",le=\"1\"} 1\n"
	    "t_wait_seconds_bucket{protocol=\"imap\",le=\"2.5\"} 1\n"
	    "t_wait_seconds_bucket{protocol=\"imap\",le=\"+Inf\"} 1\n"
	    "t_wait_seconds_sum{protocol=\"imap\"} 0\n"
	    "t_wait_seconds_count{protocol=\"imap\"} 1\n");
	metrics_unregister(&m);
}

static void
test_histogram_nolabels(void **state)
{
	static struct metric m = {
		.name = "t_data_seconds",
		.help = "Data.",
		.type = METRIC_HISTOGRAM,
		.bounds = bounds,
	};

	(void)state;
	metrics_register(&m);
	metric_observe_us(&m, 0, 1500000);
	assert_render(&m,
	    "# HELP t_data_seconds Data.\n"
	    "# TYPE t_data_seconds histogram\n"
	    "t_data_seconds_bucket{le=\"0.005\"} 0\n"
	    "t_data_seconds_bucket{le=\"0.25\"} 0\n"
	    "t_data_seconds_bucket{le=\"1\"} 0\n"
	    "t_data_seconds_bucket{le=\"2.5\"} 1\n"
	    "t_data_seconds_bucket{le=\"+Inf\"} 1\n"
	    "t_data_seconds_sum 1.5\n"
	    "t_data_seconds_count 1\n");
	metrics_unregister(&m);
}

static void
collect_two(struct metric *m, void *arg)
{
	metric_set(m, 0, *(int *)arg);
}

static void
test_collect_micro_sparse(void **state)
{
	static int value = 12;
	static struct metric g = {
		.name = "t_depth",
		.help = "Depth.",
		.type = METRIC_GAUGE,
		.collect = collect_two,
		.collect_arg = &value,
	};
	static struct metric c = {
		.name = "t_cpu_seconds_total",
		.help = "CPU.",
		.type = METRIC_COUNTER,
		.micro = true,
	};
	static struct metric s = {
		.name = "t_sparse_total",
		.help = "Sparse.",
		.type = METRIC_COUNTER,
		.labels = { { "protocol", proto_values } },
		.sparse = true,
	};

	(void)state;
	metrics_register(&g);
	assert_render(&g, "# HELP t_depth Depth.\n# TYPE t_depth gauge\n"
	    "t_depth 12\n");
	value = 13;
	assert_render(&g, "# HELP t_depth Depth.\n# TYPE t_depth gauge\n"
	    "t_depth 13\n");
	metrics_register(&c);
	metric_add(&c, 0, 2000001);
	assert_render(&c, "# HELP t_cpu_seconds_total CPU.\n"
	    "# TYPE t_cpu_seconds_total counter\n"
	    "t_cpu_seconds_total 2.000001\n");
	metrics_register(&s);
	metric_inc(&s, 1);
	assert_render(&s, "# HELP t_sparse_total Sparse.\n"
	    "# TYPE t_sparse_total counter\n"
	    "t_sparse_total{protocol=\"imap\"} 1\n");
	metrics_unregister(&g);
	metrics_unregister(&c);
	metrics_unregister(&s);
}

/* The whole scrape: the process metrics, the registered ones in their
   order, the top customers (ranked, at most 10, reset by the hour). */
static void
test_render_all(void **state)
{
	static struct metric a = { .name = "t_a", .help = "A.",
	    .type = METRIC_GAUGE };
	static struct metric b = { .name = "t_b", .help = "B.",
	    .type = METRIC_GAUGE };
	struct evbuffer *buf = evbuffer_new();
	const time_t now = 1700000000;
	char name[16], *s, *pa, *pb;
	size_t n, i;

	(void)state;
	metrics_register(&b);
	metrics_register(&a);
	for (i = 0; i < 12; i++) {
		(void)snprintf(name, sizeof(name), "c%02zu", i);
		for (n = 0; n <= i; n++)
			metrics_customer_relayed(name, 2, now);
	}
	metrics_customer_relayed("q\"x", 1, now);
	clock_set_fake(now + 3599 - now % 3600);
	assert_int_equal(metrics_render(buf), 0);
	clock_set_fake(0);
	n = evbuffer_get_length(buf);
	s = malloc(n + 1);
	assert_non_null(s);
	evbuffer_remove(buf, s, n);
	s[n] = '\0';
	assert_non_null(strstr(s, "\nprocess_resident_memory_bytes "));
	assert_non_null(strstr(s, "\nprocess_open_fds "));
	assert_non_null(strstr(s, "\nprocess_max_fds "));
	assert_non_null(strstr(s, "# TYPE process_cpu_seconds_total counter"));
	pa = strstr(s, "\nt_a 0\n");
	pb = strstr(s, "\nt_b 0\n");
	assert_true(pa != NULL && pb != NULL && pb < pa);
	/* In the same hour: the ten with the most messages, most first. */
	pa = strstr(s, "# TYPE popgate_customer_hour_relayed_messages gauge\n"
	    "popgate_customer_hour_relayed_messages{customer=\"c11\"} 12\n"
	    "popgate_customer_hour_relayed_messages{customer=\"c10\"} 11\n");
	assert_non_null(pa);
	assert_non_null(strstr(s, "{customer=\"c02\"} 3\n# HELP "));
	assert_null(strstr(s, "{customer=\"c01\"}"));
	assert_non_null(strstr(s, "popgate_customer_hour_relayed_recipients"
	    "{customer=\"c11\"} 24\n"));
	assert_non_null(strstr(s, "\npopgate_customer_hour_untracked_messages "
	    "0\n"));
	free(s);
	/* A customer name is a label value: escaped. */
	for (i = 0; i < 20; i++)
		metrics_customer_relayed("q\"x", 1, now);
	clock_set_fake(now);
	assert_int_equal(metrics_render(buf), 0);
	clock_set_fake(0);
	n = evbuffer_get_length(buf);
	s = malloc(n + 1);
	assert_non_null(s);
	evbuffer_remove(buf, s, n);
	s[n] = '\0';
	assert_non_null(strstr(s, "_messages{customer=\"q\\\"x\"} 21\n"));
	free(s);
	/* A scrape in another hour: nothing to rank. */
	clock_set_fake(now + 3600);
	assert_int_equal(metrics_render(buf), 0);
	clock_set_fake(0);
	n = evbuffer_get_length(buf);
	s = malloc(n + 1);
	assert_non_null(s);
	evbuffer_remove(buf, s, n);
	s[n] = '\0';
	assert_null(strstr(s, "{customer="));
	free(s);
	metrics_unregister(&a);
	metrics_unregister(&b);
	evbuffer_free(buf);
}

static void *
hammer(void *arg)
{
	struct metric *m = arg;
	int i;

	for (i = 0; i < 100000; i++) {
		metric_inc(m, 1);
		metric_observe_us(m + 1, 0, (uint64_t)i % 2000000);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	static struct metric m[2] = {
		{ .name = "t_n_total", .help = "N.", .type = METRIC_COUNTER,
		    .labels = { { "protocol", proto_values } } },
		{ .name = "t_h_seconds", .help = "H.",
		    .type = METRIC_HISTOGRAM, .bounds = bounds },
	};
	pthread_t t[4];
	char *s;
	size_t i;

	(void)state;
	metrics_register(&m[0]);
	metrics_register(&m[1]);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, m), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	s = render(&m[0]);
	assert_non_null(strstr(s, "t_n_total{protocol=\"imap\"} 400000\n"));
	free(s);
	s = render(&m[1]);
	assert_non_null(strstr(s, "t_h_seconds_count 400000\n"));
	assert_non_null(strstr(s, "t_h_seconds_bucket{le=\"+Inf\"} 400000\n"));
	free(s);
	metrics_unregister(&m[0]);
	metrics_unregister(&m[1]);
}

int
main(void)
{
	int r;

	add_test("counter with two labels", test_counter_labels, NULL);
	add_test("label and HELP escaping", test_escaping, NULL);
	add_test("histogram buckets, sum, count", test_histogram, NULL);
	add_test("histogram without labels", test_histogram_nolabels, NULL);
	add_test("collect hook, microseconds, sparse",
	    test_collect_micro_sparse, NULL);
	add_test("the whole scrape", test_render_all, NULL);
	add_test("four threads, nothing lost", test_threads, NULL);
	r = _cmocka_run_group_tests("metrics", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
