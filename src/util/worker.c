/*
 * worker.c - thread pool with completion on the libevent loop.
 *
 * Jobs wait in a FIFO under a mutex; workers take them, run work(), and
 * put them on a done list, then poke an eventfd that the loop watches.
 * The loop drains the done list and calls done() (or release() for a
 * cancelled job). Cancellation never races with done(): both run on the
 * loop thread.
 *
 * Quiescence (worker_pool_quiesce) counts jobs by epoch: each job takes
 * the pool's epoch when submitted, a barrier closes the epoch, and fires
 * once no job of its epoch or an earlier one is left unfinished.
 */
#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "util/worker.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

enum job_state {
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_DONE,
};

struct worker_job {
	struct worker_job	*next;
	const struct worker_ops	*ops;
	void			*arg;
	enum job_state		 state;
	bool			 cancelled;
	uint64_t		 epoch;
};

/* A worker_pool_quiesce() waiting for the jobs of EPOCH and before. */
struct barrier {
	struct barrier		*next;
	uint64_t		 epoch;
	void			(*fn)(void *);
	void			*arg;
};

#define EPOCH_SLOTS	8	/* epochs with jobs unfinished at once */

struct worker_pool {
	struct event_base	*base;
	const char		*name;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	pthread_cond_t		 ready_cond;
	unsigned		 ready;		/* threads past init() */
	struct worker_job	*head, *tail;	/* queued */
	struct worker_job	*done_head, *done_tail;
	unsigned		 backlog;
	bool			 stopping;
	unsigned		 nthreads;
	pthread_t		*threads;
	int			 efd;
	struct event		*ev;
	worker_init_fn		*init;
	worker_fini_fn		*fini;
	void			*init_arg;
	void			*inline_ctx;	/* nthreads == 0 */
	void			(*refresh)(void *);
	/* Under LOCK: the current epoch and the jobs unfinished per epoch
	   (mod EPOCH_SLOTS). Loop thread only: the barriers waiting,
	   oldest first. */
	uint64_t		 epoch;
	unsigned		 unfinished[EPOCH_SLOTS];
	struct barrier		*barriers, *barriers_tail;
};

static void
queue_push(struct worker_job **head, struct worker_job **tail,
    struct worker_job *j)
{
	j->next = NULL;
	if (*tail != NULL)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static struct worker_job *
queue_pop(struct worker_job **head, struct worker_job **tail)
{
	struct worker_job *j = *head;

	if (j != NULL) {
		*head = j->next;
		if (*head == NULL)
			*tail = NULL;
		j->next = NULL;
	}
	return j;
}

static void
finish(struct worker_job *j)
{
	if (j->cancelled)
		j->ops->release(j->arg);
	else
		j->ops->done(j->arg);
	free(j);
}

/* Under LOCK: J's work is over. */
static void
epoch_finish(struct worker_pool *pool, const struct worker_job *j)
{
	pool->unfinished[j->epoch % EPOCH_SLOTS]--;
}

/* Under LOCK: every epoch up to E is finished. */
static bool
epochs_done(const struct worker_pool *pool, uint64_t e)
{
	uint64_t first = pool->epoch >= EPOCH_SLOTS - 1 ?
	    pool->epoch - (EPOCH_SLOTS - 1) : 0;
	uint64_t i;

	for (i = first; i <= e; i++)
		if (pool->unfinished[i % EPOCH_SLOTS] > 0)
			return false;
	return true;
}

/* On the loop (the only thread that touches the barrier list): calls
   the barriers whose epochs are finished, in order; with ALL, every one
   (the pool is stopping and no job is left). */
static void
barriers_run(struct worker_pool *pool, bool all)
{
	struct barrier *b;
	bool done;

	while ((b = pool->barriers) != NULL) {
		pthread_mutex_lock(&pool->lock);
		done = all || epochs_done(pool, b->epoch);
		pthread_mutex_unlock(&pool->lock);
		if (!done)
			return;
		pool->barriers = b->next;
		if (pool->barriers == NULL)
			pool->barriers_tail = NULL;
		b->fn(b->arg);
		free(b);
	}
}

static void *
worker_main(void *p)
{
	struct worker_pool *pool = p;
	void *ctx = pool->init != NULL ? pool->init(pool->init_arg) : NULL;
	struct worker_job *j;
	uint64_t one = 1;
	bool wake;

	pthread_mutex_lock(&pool->lock);
	pool->ready++;
	pthread_cond_broadcast(&pool->ready_cond);
	for (;;) {
		while (pool->head == NULL && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		if (pool->stopping)
			break;
		j = queue_pop(&pool->head, &pool->tail);
		pool->backlog--;
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&pool->lock);

		if (pool->refresh != NULL)
			pool->refresh(ctx);
		j->ops->work(ctx, j->arg);

		pthread_mutex_lock(&pool->lock);
		j->state = JOB_DONE;
		epoch_finish(pool, j);
		wake = pool->done_head == NULL;
		queue_push(&pool->done_head, &pool->done_tail, j);
		if (wake && write(pool->efd, &one, sizeof(one)) == -1 &&
		    errno != EAGAIN)
			log_error("worker %s: eventfd write: %s", pool->name,
			    strerror(errno));
	}
	pthread_mutex_unlock(&pool->lock);
	if (pool->fini != NULL)
		pool->fini(ctx);
	return NULL;
}

/* Loop side: deliver finished jobs. */
static void
on_done(evutil_socket_t fd, short what, void *p)
{
	struct worker_pool *pool = p;
	struct worker_job *list, *j;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		log_error("worker %s: eventfd read: %s", pool->name,
		    strerror(errno));
	pthread_mutex_lock(&pool->lock);
	list = pool->done_head;
	pool->done_head = pool->done_tail = NULL;
	pthread_mutex_unlock(&pool->lock);
	while ((j = list) != NULL) {
		list = j->next;
		finish(j);
	}
	barriers_run(pool, false);
}

/* Inline pool: run one queued job per callback, in order. */
static void
on_inline(evutil_socket_t fd, short what, void *p)
{
	struct worker_pool *pool = p;
	struct worker_job *j;

	(void)fd;
	(void)what;
	j = queue_pop(&pool->head, &pool->tail);
	if (j == NULL)
		return;
	pool->backlog--;
	if (pool->head != NULL)
		event_active(pool->ev, 0, 0);
	j->state = JOB_RUNNING;
	if (!j->cancelled) {
		if (pool->refresh != NULL)
			pool->refresh(pool->inline_ctx);
		j->ops->work(pool->inline_ctx, j->arg);
	}
	j->state = JOB_DONE;
	epoch_finish(pool, j);
	finish(j);
	barriers_run(pool, false);
}

struct worker_pool *
worker_pool_new(struct event_base *base, const char *name, unsigned nthreads,
    worker_init_fn *init, worker_fini_fn *fini, void *init_arg)
{
	struct worker_pool *pool = xcalloc(1, sizeof(*pool));
	unsigned i;

	pool->base = base;
	pool->name = name;
	pool->init = init;
	pool->fini = fini;
	pool->init_arg = init_arg;
	pool->efd = -1;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pthread_cond_init(&pool->ready_cond, NULL);
	if (nthreads == 0) {
		pool->inline_ctx = init != NULL ? init(init_arg) : NULL;
		pool->ev = event_new(base, -1, 0, on_inline, pool);
		return pool;
	}
	pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pool->efd == -1)
		log_fatal("worker %s: eventfd: %s", name, strerror(errno));
	pool->ev = event_new(base, pool->efd, EV_READ | EV_PERSIST, on_done,
	    pool);
	if (pool->ev == NULL || event_add(pool->ev, NULL) == -1)
		log_fatal("worker %s: cannot watch eventfd", name);
	pool->threads = xcalloc(nthreads, sizeof(*pool->threads));
	for (i = 0; i < nthreads; i++) {
		int e = pthread_create(&pool->threads[i], NULL, worker_main,
		    pool);

		if (e != 0)
			log_fatal("worker %s: pthread_create: %s", name,
			    strerror(e));
		pool->nthreads++;
	}
	/* Started means ready: every thread has its context (its store and
	   relay handles) before the daemon says it runs. */
	pthread_mutex_lock(&pool->lock);
	while (pool->ready < pool->nthreads)
		pthread_cond_wait(&pool->ready_cond, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
	return pool;
}

void
worker_pool_free(struct worker_pool **pp)
{
	struct worker_pool *pool = *pp;
	struct worker_job *j;
	unsigned i;

	if (pool == NULL)
		return;
	*pp = NULL;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	while ((j = queue_pop(&pool->done_head, &pool->done_tail)) != NULL) {
		j->cancelled = true;
		finish(j);
	}
	while ((j = queue_pop(&pool->head, &pool->tail)) != NULL) {
		j->cancelled = true;
		finish(j);
	}
	barriers_run(pool, true);
	if (pool->nthreads == 0 && pool->fini != NULL)
		pool->fini(pool->inline_ctx);
	if (pool->ev != NULL)
		event_free(pool->ev);
	if (pool->efd != -1)
		(void)close(pool->efd);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->cond);
	pthread_cond_destroy(&pool->ready_cond);
	free(pool->threads);
	free(pool);
}

struct worker_job *
worker_submit(struct worker_pool *pool, const struct worker_ops *ops,
    void *arg)
{
	struct worker_job *j = xcalloc(1, sizeof(*j));

	j->ops = ops;
	j->arg = arg;
	j->state = JOB_QUEUED;
	pthread_mutex_lock(&pool->lock);
	j->epoch = pool->epoch;
	if (pool->unfinished[j->epoch % EPOCH_SLOTS]++ == UINT_MAX)
		log_fatal("worker %s: job count overflow", pool->name);
	queue_push(&pool->head, &pool->tail, j);
	pool->backlog++;
	if (pool->nthreads > 0)
		pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	if (pool->nthreads == 0)
		event_active(pool->ev, 0, 0);
	return j;
}

void
worker_cancel(struct worker_job **jp)
{
	struct worker_job *j = *jp;

	if (j == NULL)
		return;
	*jp = NULL;
	/* A queued job stays queued and is released when a worker (or the
	   inline runner) reaches it: unlinking here would need the pool. */
	j->cancelled = true;
}

void
worker_pool_set_refresh(struct worker_pool *pool, void (*refresh)(void *))
{
	pool->refresh = refresh;
}

void
worker_pool_quiesce(struct worker_pool *pool, void (*fn)(void *), void *arg)
{
	struct barrier *b = xcalloc(1, sizeof(*b));

	b->fn = fn;
	b->arg = arg;
	pthread_mutex_lock(&pool->lock);
	/* Epochs are recycled modulo EPOCH_SLOTS: an epoch may only start
	   once the one that shares its slot is finished. */
	if (pool->unfinished[(pool->epoch + 1) % EPOCH_SLOTS] > 0)
		log_fatal("worker %s: more than %d barriers outstanding",
		    pool->name, EPOCH_SLOTS - 1);
	b->epoch = pool->epoch++;
	pthread_mutex_unlock(&pool->lock);
	if (pool->barriers_tail != NULL)
		pool->barriers_tail->next = b;
	else
		pool->barriers = b;
	pool->barriers_tail = b;
	barriers_run(pool, false);
}

unsigned
worker_pool_backlog(struct worker_pool *pool)
{
	unsigned n;

	pthread_mutex_lock(&pool->lock);
	n = pool->backlog;
	pthread_mutex_unlock(&pool->lock);
	return n;
}
