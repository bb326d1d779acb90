/*
 * dlv_metrics.c - the queue and the deliveries as metrics
 * (core/metrics.h): messages queued by where they are, the age of the
 * oldest in each place, and each recipient's delivery attempt by
 * outcome and transport.
 *
 * The depth is exact and free: the queue manager keeps a count per
 * place (qmgr_entry_where()), read at scrape time on the loop thread.
 * The oldest ages need a look at every entry (an id starts with its
 * creation time, ids.h): a walk of the queue manager's memory, never
 * of the disk, in slices of DLV_AGE_SLICE entries, one slice per
 * scrape. A queue smaller than a slice is walked whole at each scrape;
 * a 100 000-message queue is seen whole every tenth scrape, each slice
 * a few milliseconds (1.2 to 1.6 us an entry measured on a loaded
 * 2-core machine: cache misses), the ages shown being those the last
 * whole walk found (still growing with the clock; 0 for a place that
 * is empty now).
 */
#include <stdlib.h>

#include "delivery/dlv_int.h"
#include "core/metrics.h"
#include "util/clock.h"
#include "util/compat.h"

#define DLV_AGE_SLICE	10000	/* entries (hash buckets) per scrape */

/* enum qe_where */
static const char *const where_values[] = { "ready", "deferred", "active",
	"held", "admin", NULL };

static void	collect_depth(struct metric *, void *);
static void	collect_age(struct metric *, void *);

static struct metric m_depth = {
	.name = "popgate_queue_messages",
	.help = "Messages in the outbound queue, by state (ready: to be "
	    "tried now; deferred: waiting for a retry; active: being "
	    "delivered; held: in quarantine; admin: a hold or release "
	    "being written).",
	.type = METRIC_GAUGE,
	.labels = { { "state", where_values } },
	.collect = collect_depth,
};

static struct metric m_age = {
	.name = "popgate_queue_oldest_message_age_seconds",
	.help = "Age of the oldest message in each state of the queue (0: "
	    "none); a queue of more than 10000 messages is seen whole "
	    "over several scrapes.",
	.type = METRIC_GAUGE,
	.labels = { { "state", where_values } },
	.collect = collect_age,
};

static const char *const outcome_values[] = { "delivered", "deferred",
	"bounced", NULL };
static const char *const transport_values[] = { "smtp", "local", NULL };

static struct metric m_deliveries = {
	.name = "popgate_deliveries_total",
	.help = "Delivery attempts from the queue, one per recipient, by "
	    "outcome and transport (smtp: a remote server; local: a hosted "
	    "Maildir that was full before).",
	.type = METRIC_COUNTER,
	.labels = { { "outcome", outcome_values }, { "transport",
	    transport_values } },
};

/* The walk: where it is, the oldest creation time per place it found
   so far, and those of the last whole walk (0: none). */
static struct {
	size_t	cursor;
	time_t	next[QE_NWHERE];
	time_t	oldest[QE_NWHERE];
} ages;

static void
collect_depth(struct metric *m, void *arg)
{
	const struct qmgr *q = arg;
	size_t w;

	for (w = 0; w < QE_NWHERE; w++)
		metric_set(m, w, q != NULL ? (int64_t)q->nwhere[w] : 0);
}

/* The creation time an id starts with (ids.h): 8 hex digits. */
static time_t
id_time(const char *id)
{
	char hex[9];

	memcpy(hex, id, 8);
	hex[8] = '\0';
	return (time_t)strtoul(hex, NULL, 16);
}

static void
age_one(const char *key, void *val, void *arg)
{
	const struct qentry *e = val;
	time_t t = id_time(e->id);

	(void)key;
	(void)arg;
	if (e->where < QE_NWHERE && (ages.next[e->where] == 0 ||
	    t < ages.next[e->where]))
		ages.next[e->where] = t;
}

static void
collect_age(struct metric *m, void *arg)
{
	struct qmgr *q = arg;
	time_t now = clock_now();
	size_t w;

	if (q != NULL && hmap_walk(q->entries, &ages.cursor, DLV_AGE_SLICE,
	    age_one, NULL)) {
		memcpy(ages.oldest, ages.next, sizeof(ages.oldest));
		memset(ages.next, 0, sizeof(ages.next));
	}
	for (w = 0; w < QE_NWHERE; w++)
		metric_set(m, w, q == NULL || ages.oldest[w] == 0 ||
		    q->nwhere[w] == 0 ? 0 : (int64_t)(now > ages.oldest[w] ?
		    now - ages.oldest[w] : 0));
}

void
dlv_metrics_start(struct qmgr *q)
{
	m_depth.collect_arg = q;
	m_age.collect_arg = q;
	memset(&ages, 0, sizeof(ages));
	metrics_register(&m_depth);
	metrics_register(&m_age);
	metrics_register(&m_deliveries);
}

void
dlv_metrics_stop(struct qmgr *q)
{
	if (m_depth.collect_arg == q) {
		m_depth.collect_arg = NULL;
		m_age.collect_arg = NULL;
	}
}

void
dlv_count_delivery(bool local, const char *reply)
{
	size_t outcome = reply[0] == '2' ? 0 : reply[0] == '5' ? 2 : 1;

	metric_inc(&m_deliveries, metric_cell2(&m_deliveries, outcome,
	    local ? 1 : 0));
}
