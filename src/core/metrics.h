/*
 * metrics.h - the daemon's counters, gauges and histograms, and their
 * rendering in the Prometheus text exposition format 0.0.4.
 *
 * A metric is a static struct in the module that counts (smtp, pop3,
 * imap, policy, delivery, conn): its name, help, type and at most
 * METRIC_LABELS_MAX labels, each with a fixed, NULL-terminated list of
 * values, so that a label set is an index computed by the caller
 * (metric_cell2(), ...) and its value a cell of the struct. Updating is
 * one relaxed atomic operation on that cell: no lock, no allocation, no
 * look-up, from any thread. The module registers its metrics once, on
 * the loop thread at start-up (metrics_register()); only registered
 * metrics are rendered, in the order they were registered. A metric
 * that is counted but never registered costs its atomic add and is not
 * shown (unit tests, the fuzzers, the CLI's own process).
 *
 * Gauges of the daemon's state (queue depth, ...) are either kept
 * current by their module, or filled by the metric's COLLECT hook,
 * which metrics_render() calls on the loop thread just before the
 * metric is written: the hook must not block (no store, no disk).
 *
 * Durations are counted in microseconds and shown in seconds (the base
 * unit, Prometheus naming conventions).
 */
#ifndef POPGATE_METRICS_H
#define POPGATE_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct evbuffer;

#define METRIC_LABELS_MAX	3
/* Cells of one metric: label combinations, times the buckets plus two
   (overflow, sum) for a histogram. */
#define METRIC_CELLS_MAX	320

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

struct metric_label {
	const char		*name;		/* NULL: no such label */
	const char *const	*values;	/* NULL-terminated */
};

struct metric {
	const char		*name;		/* popgate_..., _total, ... */
	const char		*help;
	enum metric_type	 type;
	struct metric_label	 labels[METRIC_LABELS_MAX];
	/* Histograms: the buckets' upper bounds in microseconds,
	   ascending, 0-terminated (+Inf is implied). */
	const uint64_t		*bounds;
	/* Counter and gauge cells are microseconds, shown in seconds. */
	bool			 micro;
	/* Label sets whose cell is 0 are not written (many of them can
	   never occur: a rule that only refuses, counted as accepted). */
	bool			 sparse;
	/* Called by metrics_render() before the metric is written, on the
	   loop thread; it sets the cells (metric_set). NULL: none. */
	void			(*collect)(struct metric *, void *arg);
	void			*collect_arg;

	/* Private: metrics_register() fills these. */
	size_t			 nvalues[METRIC_LABELS_MAX];
	size_t			 nbounds, stride, ncells;
	bool			 registered;
	struct metric		*next;
	_Atomic uint64_t	 cells[METRIC_CELLS_MAX];
};

/* Adds M to what metrics_render() shows (once: a second call does
   nothing). On the loop thread, before the metric is rendered. PANICs
   when M's label sets and buckets do not fit METRIC_CELLS_MAX. */
void	metrics_register(struct metric *m);
/* Takes M back out (its module is going, and with it COLLECT_ARG). */
void	metrics_unregister(struct metric *m);

/* The cell of a label set: the index of each label's value. */
static inline size_t
metric_cell2(const struct metric *m, size_t a, size_t b)
{
	return a + m->nvalues[0] * b;
}

static inline size_t
metric_cell3(const struct metric *m, size_t a, size_t b, size_t c)
{
	return a + m->nvalues[0] * (b + m->nvalues[1] * c);
}

/* The index of VALUE in LABEL's values, or -1 (not on a hot path: at
   start-up, to keep the index). */
int	metric_value_index(const struct metric *m, size_t label,
	    const char *value);

/* Counters and gauges. CELL must be below the product of the label
   value counts (0 for a metric without labels); a cell out of range is
   ignored. */
static inline void
metric_add(struct metric *m, size_t cell, uint64_t n)
{
	if (cell < METRIC_CELLS_MAX)
		atomic_fetch_add_explicit(&m->cells[cell], n,
		    memory_order_relaxed);
}

static inline void
metric_inc(struct metric *m, size_t cell)
{
	metric_add(m, cell, 1);
}

/* Gauges only: one less (the cells hold two's complement). */
static inline void
metric_dec(struct metric *m, size_t cell)
{
	if (cell < METRIC_CELLS_MAX)
		atomic_fetch_sub_explicit(&m->cells[cell], 1,
		    memory_order_relaxed);
}

static inline void
metric_set(struct metric *m, size_t cell, int64_t v)
{
	if (cell < METRIC_CELLS_MAX)
		atomic_store_explicit(&m->cells[cell], (uint64_t)v,
		    memory_order_relaxed);
}

/* Histograms: one observation of US microseconds in the label set
   CELL. */
void	metric_observe_us(struct metric *m, size_t cell, uint64_t us);

/* The Content-Type of what metrics_render() writes, for an HTTP
   handler. */
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* Writes every registered metric to OUT in the text format 0.0.4
   (METRICS_CONTENT_TYPE), after the process
   metrics (process_resident_memory_bytes, process_open_fds, ...) and
   popgate_build_info, running each COLLECT hook first. On the loop
   thread; it does not block (it reads /proc/self). 0, or -1 when OUT
   could not take it (what it took is then incomplete). */
int	metrics_render(struct evbuffer *out);
/* Writes M alone (metrics_render's part; the unit tests). 0 or -1. */
int	metric_render(struct evbuffer *out, struct metric *m);

/* ---- the top customers of the current hour ---- */

/* Customers with relayed mail this hour, kept per hour of the clock,
   at most METRICS_TOP_TRACKED of them (the others are only counted in
   popgate_customer_hour_untracked_messages); the METRICS_TOP_SHOWN with
   the most messages are shown. On the loop thread only. */
#define METRICS_TOP_TRACKED	512
#define METRICS_TOP_SHOWN	10

/* CUSTOMER relayed one message to RCPTS recipients at NOW. */
void	metrics_customer_relayed(const char *customer, uint64_t rcpts,
	    time_t now);

#endif
