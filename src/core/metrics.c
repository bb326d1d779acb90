/*
 * metrics.c - the registry of metrics and the Prometheus text format.
 *
 * Owns the list of registered metrics (built on the loop thread at
 * start-up, read by metrics_render() on the same thread) and the table
 * of the hour's top customers (loop thread only). The cells themselves
 * belong to each metric's module and are updated with relaxed atomics
 * from any thread: a scrape may see one counter a little ahead of
 * another, never a torn value.
 *
 * The exposition format is Prometheus's text format 0.0.4: "# HELP"
 * (backslash and newline escaped), "# TYPE", then one line per series,
 * label values with backslash, double quote and newline escaped; a
 * histogram is its cumulative _bucket series with le= up to "+Inf",
 * then _sum and _count (the +Inf bucket's value, so the two agree even
 * while observations land during the scrape).
 */
#include <dirent.h>
#include <inttypes.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "core/metrics.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"
#include "util/compat.h"

static struct metric *head, **tail = &head;

void
metrics_register(struct metric *m)
{
	size_t i, combos = 1;

	if (m->registered)
		return;
	for (i = 0; i < METRIC_LABELS_MAX; i++) {
		size_t n = 0;

		if (m->labels[i].name != NULL)
			while (m->labels[i].values[n] != NULL)
				n++;
		m->nvalues[i] = m->labels[i].name != NULL ? n : 1;
		combos *= m->nvalues[i];
	}
	m->nbounds = 0;
	if (m->type == METRIC_HISTOGRAM)
		while (m->bounds[m->nbounds] != 0)
			m->nbounds++;
	/* a histogram: its buckets, the overflow (+Inf) and the sum */
	m->stride = m->type == METRIC_HISTOGRAM ? m->nbounds + 2 : 1;
	m->ncells = combos * m->stride;
	if (m->ncells > METRIC_CELLS_MAX)
		PANIC("metric %s: %zu cells", m->name, m->ncells);
	m->next = NULL;
	*tail = m;
	tail = &m->next;
	m->registered = true;
}

void
metrics_unregister(struct metric *m)
{
	struct metric **pp;

	if (!m->registered)
		return;
	for (pp = &head; *pp != NULL; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	if (tail == &m->next)
		tail = pp;
	m->registered = false;
}

int
metric_value_index(const struct metric *m, size_t label, const char *value)
{
	const char *const *v;

	if (label >= METRIC_LABELS_MAX || m->labels[label].name == NULL)
		return -1;
	for (v = m->labels[label].values; *v != NULL; v++)
		if (strcmp(*v, value) == 0)
			return (int)(v - m->labels[label].values);
	return -1;
}

void
metric_observe_us(struct metric *m, size_t cell, uint64_t us)
{
	size_t b, base;

	if (!m->registered || m->type != METRIC_HISTOGRAM)
		return;
	base = cell * m->stride;
	if (base + m->stride > m->ncells)
		return;
	for (b = 0; b < m->nbounds && us > m->bounds[b]; b++)
		;
	atomic_fetch_add_explicit(&m->cells[base + b], 1,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&m->cells[base + m->nbounds + 1], us,
	    memory_order_relaxed);
}

/* ---- the text format ---- */

/* US microseconds as seconds, without trailing zeros ("0.005", "1"). */
static void
fmt_seconds(char *out, size_t outsz, uint64_t us)
{
	size_t n;

	if (str_fmt(out, outsz, "%" PRIu64 ".%06" PRIu64, us / 1000000,
	    us % 1000000) == -1) {
		out[0] = '\0';
		return;
	}
	n = strlen(out);
	while (out[n - 1] == '0')
		out[--n] = '\0';
	if (out[n - 1] == '.')
		out[--n] = '\0';
}

/* TEXT with backslash and newline escaped, and the double quote too
   when QUOTE (a label value; HELP leaves it). */
static void
put_escaped(struct evbuffer *out, const char *text, bool quote)
{
	const char *p;

	for (p = text; *p != '\0'; p++) {
		if (*p == '\\')
			(void)evbuffer_add(out, "\\\\", 2);
		else if (*p == '\n')
			(void)evbuffer_add(out, "\\n", 2);
		else if (*p == '"' && quote)
			(void)evbuffer_add(out, "\\\"", 2);
		else
			(void)evbuffer_add(out, p, 1);
	}
}

static void
put_head(struct evbuffer *out, const char *name, const char *help,
    const char *type)
{
	(void)evbuffer_add_printf(out, "# HELP %s ", name);
	put_escaped(out, help, false);
	(void)evbuffer_add_printf(out, "\n# TYPE %s %s\n", name, type);
}

/* NAME SUFFIX{labels of COMBO[, le="LE"]} */
static void
put_series(struct evbuffer *out, const struct metric *m, const char *suffix,
    size_t combo, const char *le)
{
	const char *sep = "{";
	size_t i;

	(void)evbuffer_add_printf(out, "%s%s", m->name, suffix);
	for (i = 0; i < METRIC_LABELS_MAX; i++) {
		if (m->labels[i].name == NULL)
			continue;
		(void)evbuffer_add_printf(out, "%s%s=\"", sep,
		    m->labels[i].name);
		put_escaped(out, m->labels[i].values[combo % m->nvalues[i]],
		    true);
		(void)evbuffer_add(out, "\"", 1);
		combo /= m->nvalues[i];
		sep = ",";
	}
	if (le != NULL) {
		(void)evbuffer_add_printf(out, "%sle=\"%s\"", sep, le);
		sep = ",";
	}
	if (*sep == ',')
		(void)evbuffer_add(out, "}", 1);
}

static uint64_t
cell_get(const struct metric *m, size_t i)
{
	return atomic_load_explicit(&m->cells[i], memory_order_relaxed);
}

static void
put_value(struct evbuffer *out, const struct metric *m, uint64_t v)
{
	char sec[48];

	if (m->micro) {
		fmt_seconds(sec, sizeof(sec), v);
		(void)evbuffer_add_printf(out, " %s\n", sec);
	} else if (m->type == METRIC_GAUGE)
		(void)evbuffer_add_printf(out, " %" PRId64 "\n", (int64_t)v);
	else
		(void)evbuffer_add_printf(out, " %" PRIu64 "\n", v);
}

static void
put_histogram(struct evbuffer *out, const struct metric *m, size_t combo)
{
	size_t base = combo * m->stride, b;
	uint64_t cum = 0;
	char le[48];

	for (b = 0; b <= m->nbounds; b++) {
		cum += cell_get(m, base + b);
		if (b < m->nbounds)
			fmt_seconds(le, sizeof(le), m->bounds[b]);
		put_series(out, m, "_bucket", combo, b < m->nbounds ? le :
		    "+Inf");
		(void)evbuffer_add_printf(out, " %" PRIu64 "\n", cum);
	}
	fmt_seconds(le, sizeof(le), cell_get(m, base + m->nbounds + 1));
	put_series(out, m, "_sum", combo, NULL);
	(void)evbuffer_add_printf(out, " %s\n", le);
	put_series(out, m, "_count", combo, NULL);
	(void)evbuffer_add_printf(out, " %" PRIu64 "\n", cum);
}

static const char *const type_names[] = {
	[METRIC_COUNTER] = "counter",
	[METRIC_GAUGE] = "gauge",
	[METRIC_HISTOGRAM] = "histogram",
};

int
metric_render(struct evbuffer *out, struct metric *m)
{
	size_t combo, combos;

	if (!m->registered)
		metrics_register(m);
	if (m->collect != NULL)
		m->collect(m, m->collect_arg);
	put_head(out, m->name, m->help, type_names[m->type]);
	combos = m->ncells / m->stride;
	for (combo = 0; combo < combos; combo++) {
		if (m->type == METRIC_HISTOGRAM) {
			put_histogram(out, m, combo);
			continue;
		}
		if (m->sparse && cell_get(m, combo) == 0)
			continue;
		put_series(out, m, "", combo, NULL);
		put_value(out, m, cell_get(m, combo));
	}
	return 0;
}

/* ---- the process: /proc/self and getrusage, at scrape time ---- */

static long
count_fds(void)
{
	struct dirent *de;
	DIR *dp = opendir("/proc/self/fd");
	long n = 0;

	if (dp == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	(void)closedir(dp);
	return n - 1;		/* the directory's own */
}

/* Resident and virtual size in octets from /proc/self/statm: 0 or -1. */
static int
read_statm(uint64_t *rss_r, uint64_t *vsz_r)
{
	unsigned long long size, resident;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "re");
	int r = -1;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%llu %llu", &size, &resident) == 2 && page > 0) {
		*rss_r = resident * (uint64_t)page;
		*vsz_r = size * (uint64_t)page;
		r = 0;
	}
	(void)fclose(f);
	return r;
}

static void
put_process(struct evbuffer *out)
{
	struct rusage ru;
	struct rlimit rl;
	uint64_t rss, vsz;
	long fds;
	char sec[48];

	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		uint64_t us = (uint64_t)(ru.ru_utime.tv_sec +
		    ru.ru_stime.tv_sec) * 1000000 +
		    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);

		fmt_seconds(sec, sizeof(sec), us);
		put_head(out, "process_cpu_seconds_total", "User and system "
		    "CPU time spent in seconds.", "counter");
		(void)evbuffer_add_printf(out, "process_cpu_seconds_total "
		    "%s\n", sec);
	}
	if (read_statm(&rss, &vsz) == 0) {
		put_head(out, "process_resident_memory_bytes", "Resident "
		    "memory size in bytes.", "gauge");
		(void)evbuffer_add_printf(out, "process_resident_memory_bytes "
		    "%" PRIu64 "\n", rss);
		put_head(out, "process_virtual_memory_bytes", "Virtual "
		    "memory size in bytes.", "gauge");
		(void)evbuffer_add_printf(out, "process_virtual_memory_bytes "
		    "%" PRIu64 "\n", vsz);
	}
	if ((fds = count_fds()) >= 0) {
		put_head(out, "process_open_fds", "Number of open file "
		    "descriptors.", "gauge");
		(void)evbuffer_add_printf(out, "process_open_fds %ld\n", fds);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		put_head(out, "process_max_fds", "Maximum number of open file "
		    "descriptors.", "gauge");
		(void)evbuffer_add_printf(out, "process_max_fds %llu\n",
		    rl.rlim_cur == RLIM_INFINITY ? 0ULL :
		    (unsigned long long)rl.rlim_cur);
	}
}

/* ---- the top customers of the hour ---- */

#define TOP_SLOTS	(2 * METRICS_TOP_TRACKED)	/* open addressing */
#define TOP_NAME_MAX	64
#define TOP_MSGS	"popgate_customer_hour_relayed_messages"
#define TOP_RCPTS	"popgate_customer_hour_relayed_recipients"

struct top_ent {
	char		name[TOP_NAME_MAX + 1];	/* "" free */
	uint64_t	msgs, rcpts;
};

static struct {
	struct top_ent	 slot[TOP_SLOTS];
	size_t		 n;
	time_t		 hour;		/* of the counts */
	uint64_t	 untracked;	/* messages of customers not kept */
} top;

static uint32_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The hour of NOW; an older table is emptied first. */
static void
top_hour(time_t now)
{
	time_t hour = now - now % 3600;

	if (hour != top.hour) {
		memset(top.slot, 0, sizeof(top.slot));
		top.n = 0;
		top.untracked = 0;
		top.hour = hour;
	}
}

void
metrics_customer_relayed(const char *customer, uint64_t rcpts, time_t now)
{
	size_t i;

	if (strlen(customer) > TOP_NAME_MAX || *customer == '\0')
		return;
	top_hour(now);
	for (i = name_hash(customer) % TOP_SLOTS;; i = (i + 1) % TOP_SLOTS) {
		struct top_ent *e = &top.slot[i];

		if (strcmp(e->name, customer) == 0) {
			e->msgs++;
			e->rcpts += rcpts;
			return;
		}
		if (e->name[0] == '\0')
			break;
	}
	if (top.n >= METRICS_TOP_TRACKED) {
		/* XXX: a customer first seen once the table is full is not
		   ranked this hour; with more than 512 customers relaying
		   in one hour the top 10 may miss a late heavy one. */
		top.untracked++;
		return;
	}
	(void)str_copy(top.slot[i].name, customer, sizeof(top.slot[i].name));
	top.slot[i].msgs = 1;
	top.slot[i].rcpts = rcpts;
	top.n++;
}

/* The METRICS_TOP_SHOWN entries with the most messages (then the most
   recipients, then by name), into BEST; their number. */
static size_t
top_best(const struct top_ent **best)
{
	size_t i, j, n = 0;

	for (i = 0; i < TOP_SLOTS; i++) {
		const struct top_ent *e = &top.slot[i];

		if (e->name[0] == '\0')
			continue;
		for (j = n; j > 0; j--) {
			const struct top_ent *b = best[j - 1];

			if (b->msgs > e->msgs || (b->msgs == e->msgs &&
			    (b->rcpts > e->rcpts || (b->rcpts == e->rcpts &&
			    strcmp(b->name, e->name) < 0))))
				break;
			if (j < METRICS_TOP_SHOWN)
				best[j] = b;
		}
		if (j < METRICS_TOP_SHOWN) {
			best[j] = e;
			if (n < METRICS_TOP_SHOWN)
				n++;
		}
	}
	return n;
}

static void
put_top(struct evbuffer *out, time_t now)
{
	const struct top_ent *best[METRICS_TOP_SHOWN];
	size_t i, n;

	top_hour(now);
	n = top_best(best);
	put_head(out, TOP_MSGS, "Messages "
	    "relayed in the current hour of the clock, for the customers "
	    "with the most.", "gauge");
	for (i = 0; i < n; i++) {
		(void)evbuffer_add_printf(out, "%s{customer=\"", TOP_MSGS);
		put_escaped(out, best[i]->name, true);
		(void)evbuffer_add_printf(out, "\"} %" PRIu64 "\n",
		    best[i]->msgs);
	}
	put_head(out, TOP_RCPTS, "Recipients relayed in the current hour of "
	    "the clock, for the same customers.", "gauge");
	for (i = 0; i < n; i++) {
		(void)evbuffer_add_printf(out, "%s{customer=\"", TOP_RCPTS);
		put_escaped(out, best[i]->name, true);
		(void)evbuffer_add_printf(out, "\"} %" PRIu64 "\n",
		    best[i]->rcpts);
	}
	put_head(out, "popgate_customer_hour_untracked_messages", "Messages "
	    "relayed this hour by customers past the ones tracked.", "gauge");
	(void)evbuffer_add_printf(out, "popgate_customer_hour_untracked_"
	    "messages %" PRIu64 "\n", top.untracked);
}

int
metrics_render(struct evbuffer *out)
{
	struct metric *m;
	size_t before = evbuffer_get_length(out);

	put_process(out);
	for (m = head; m != NULL; m = m->next)
		(void)metric_render(out, m);
	put_top(out, clock_now());
	/* evbuffer_add fails only when out of memory: nothing was added
	   then, or less than the whole. */
	return evbuffer_get_length(out) > before ? 0 : -1;
}
