/*
 * test_worker.c - util/worker.h: the refresh hook runs before each job
 * on its thread, and a quiescence barrier fires only once every job
 * submitted before it has finished, in the order the barriers were asked
 * for, whatever the jobs after them do (what a reload relies on before
 * it frees a replaced configuration).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include <event2/event.h>

#include "util/worker.h"
#include "util/compat.h"

/* A job that blocks until the test opens its gate. */
struct gate {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	bool		 open;
	atomic_int	 started;
	int		 seen;		/* the refresh value the job saw */
};

static atomic_int current;	/* what refresh hands out */

static void
refresh(void *ctx)
{
	*(int *)ctx = atomic_load(&current);
}

static void *
thread_init(void *arg)
{
	(void)arg;
	return calloc(1, sizeof(int));
}

static void
thread_fini(void *ctx)
{
	free(ctx);
}

static void
gated_work(void *ctx, void *arg)
{
	struct gate *g = arg;

	g->seen = *(int *)ctx;
	atomic_fetch_add(&g->started, 1);
	pthread_mutex_lock(&g->lock);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void
nothing(void *arg)
{
	(void)arg;
}

static const struct worker_ops gated_ops = {
	.work = gated_work,
	.done = nothing,
	.release = nothing,
};

static void
gate_init(struct gate *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

struct order {
	int	 fired[4];
	int	 n;
};

static void
barrier_a(void *arg)
{
	struct order *o = arg;

	o->fired[o->n++] = 1;
}

static void
barrier_b(void *arg)
{
	struct order *o = arg;

	o->fired[o->n++] = 2;
}

/* Runs the loop until *N reaches WANT or TURNS turns of 1 ms. */
static void
spin(struct event_base *base, const int *n, int want, int turns)
{
	int i;

	for (i = 0; i < turns && *n < want; i++) {
		struct timeval tv = { 0, 1000 };

		(void)event_base_loopexit(base, &tv);
		(void)event_base_dispatch(base);
	}
}

static void
test_barrier_waits_for_earlier_jobs(void **state)
{
	struct event_base *base = event_base_new();
	struct worker_pool *pool;
	struct gate first, later;
	struct order o;

	(void)state;
	memset(&o, 0, sizeof(o));
	gate_init(&first);
	gate_init(&later);
	pool = worker_pool_new(base, "test", 2, thread_init, thread_fini,
	    NULL);
	worker_pool_set_refresh(pool, refresh);
	atomic_store(&current, 1);
	(void)worker_submit(pool, &gated_ops, &first);
	while (atomic_load(&first.started) == 0)
		;
	worker_pool_quiesce(pool, barrier_a, &o);
	atomic_store(&current, 2);
	(void)worker_submit(pool, &gated_ops, &later);
	worker_pool_quiesce(pool, barrier_b, &o);
	while (atomic_load(&later.started) == 0)
		;
	assert_int_equal(first.seen, 1);
	assert_int_equal(later.seen, 2);
	/* Nothing fires while the first job runs, not even the barrier
	   whose own job is also running. */
	spin(base, &o.n, 1, 50);
	assert_int_equal(o.n, 0);
	/* The later job finishing first frees nobody: A waits for the
	   first job, B for A. */
	gate_open(&later);
	spin(base, &o.n, 1, 50);
	assert_int_equal(o.n, 0);
	gate_open(&first);
	spin(base, &o.n, 2, 5000);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.fired[0], 1);
	assert_int_equal(o.fired[1], 2);
	worker_pool_free(&pool);
	event_base_free(base);
}

static void
test_barrier_without_jobs_fires_at_once(void **state)
{
	struct event_base *base = event_base_new();
	struct worker_pool *pool = worker_pool_new(base, "test", 1, NULL, NULL,
	    NULL);
	struct order o;

	(void)state;
	memset(&o, 0, sizeof(o));
	worker_pool_quiesce(pool, barrier_a, &o);
	assert_int_equal(o.n, 1);
	worker_pool_free(&pool);
	event_base_free(base);
}

static void
test_pool_free_runs_pending_barriers(void **state)
{
	struct event_base *base = event_base_new();
	struct worker_pool *pool = worker_pool_new(base, "test", 0,
	    thread_init, thread_fini, NULL);
	struct gate g;
	struct order o;

	(void)state;
	memset(&o, 0, sizeof(o));
	gate_init(&g);
	gate_open(&g);
	worker_pool_set_refresh(pool, refresh);
	(void)worker_submit(pool, &gated_ops, &g);	/* inline, not run */
	worker_pool_quiesce(pool, barrier_a, &o);
	assert_int_equal(o.n, 0);
	worker_pool_free(&pool);
	assert_int_equal(o.n, 1);
	event_base_free(base);
}

static void
test_inline_pool_barrier_after_the_job(void **state)
{
	struct event_base *base = event_base_new();
	struct worker_pool *pool = worker_pool_new(base, "test", 0,
	    thread_init, thread_fini, NULL);
	struct gate g;
	struct order o;

	(void)state;
	memset(&o, 0, sizeof(o));
	gate_init(&g);
	gate_open(&g);
	worker_pool_set_refresh(pool, refresh);
	atomic_store(&current, 7);
	(void)worker_submit(pool, &gated_ops, &g);
	worker_pool_quiesce(pool, barrier_a, &o);
	assert_int_equal(o.n, 0);
	spin(base, &o.n, 1, 5000);
	assert_int_equal(o.n, 1);
	assert_int_equal(g.seen, 7);
	worker_pool_free(&pool);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_barrier_waits_for_earlier_jobs),
		cmocka_unit_test(test_barrier_without_jobs_fires_at_once),
		cmocka_unit_test(test_pool_free_runs_pending_barriers),
		cmocka_unit_test(test_inline_pool_barrier_after_the_job),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
