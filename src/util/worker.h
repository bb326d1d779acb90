/*
 * worker.h - a thread pool for everything that may block (STYLE.md 2).
 *
 * Store queries, crypt(3), fsync-heavy commits and Maildir delivery run
 * on a worker thread and complete on the event loop: work() runs on a
 * worker with that thread's private context (its own store handle, ...),
 * then done() runs on the loop thread. A job owns its argument: work()
 * must touch nothing but ARG and the thread context.
 *
 * A pool of 0 threads runs jobs on the loop thread from a deferred event,
 * in order: tests and fuzzers use it to stay single-threaded.
 */
#ifndef POPGATE_WORKER_H
#define POPGATE_WORKER_H

#include <stdbool.h>

struct event_base;
struct worker_pool;
struct worker_job;

struct worker_ops {
	/* On a worker thread. */
	void	(*work)(void *thread_ctx, void *arg);
	/* On the loop thread after work(); owns ARG from then on. */
	void	(*done)(void *arg);
	/* On the loop thread instead of done() when the job was cancelled or
	   the pool shut down; must free ARG. */
	void	(*release)(void *arg);
};

/* Per-thread context: INIT runs on each new thread, FINI when it ends. */
typedef void *worker_init_fn(void *init_arg);
typedef void worker_fini_fn(void *thread_ctx);

struct worker_pool *worker_pool_new(struct event_base *, const char *name,
	    unsigned nthreads, worker_init_fn *, worker_fini_fn *,
	    void *init_arg);
/* Stops the threads after their current job; queued and finished jobs
   that were not delivered are released. Sets *POOL to NULL. */
void	worker_pool_free(struct worker_pool **);
/* Queues a job. The returned handle is valid until done() or release()
   has been called, and only serves worker_cancel(). OPS is borrowed for
   the life of the job. */
struct worker_job *worker_submit(struct worker_pool *,
	    const struct worker_ops *, void *arg);
/* Ensures done() will not be called for *JOB; release() is called (now,
   or when a running work() has returned). Sets *JOB to NULL. */
void	worker_cancel(struct worker_job **);
/* Jobs queued but not yet started (for load shedding and stats). */
unsigned worker_pool_backlog(struct worker_pool *);
/* REFRESH runs on the job's thread before each work(), with the thread's
   context (a reloaded configuration reaches the threads this way). Set
   it before the first job is submitted. */
void	worker_pool_set_refresh(struct worker_pool *,
	    void (*refresh)(void *thread_ctx));
/* FN(ARG) on the loop thread once every job submitted before this call
   has returned from work() (or was dropped unrun): after that no thread
   reads what REFRESH gave those jobs, so it may be freed. Barriers
   complete in the order they were asked for. */
void	worker_pool_quiesce(struct worker_pool *, void (*fn)(void *),
	    void *arg);

#endif
