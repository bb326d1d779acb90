/*
 * bench_idle.c - mode "idle": hold K SMTP sessions open after EHLO and
 * report what they cost the server in memory (the sum of Rss and Pss of
 * its process tree, /proc/PID/smaps_rollup), before and with the
 * sessions. At most -c connections are being set up at a time, so a
 * server that forks per connection is not flooded past its listen queue.
 *
 * With --rcpt the sessions are held inside DATA instead: MAIL FROM,
 * RCPT TO, DATA, then -s SIZE octets of header lines (no empty line, no
 * end of data), the most a server may be tempted to keep in memory.
 */
#include <ctype.h>
#include <errno.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "pgbench.h"

#define SETTLE_SECS	1.0	/* after the last EHLO, before measuring */

struct idle_run;

struct iconn {
	struct idle_run		*r;
	struct bufferevent	*bev;
	struct iconn		*next;
	bool			 greeted, idle, dead;
	unsigned		 step;		/* --rcpt: replies after EHLO */
};

struct idle_run {
	const struct pgb_opts	*o;
	struct event_base	*base;
	struct event		*timer, *tick;
	struct iconn		*list;
	unsigned long		 target, started, up, failed, dropped;
	unsigned		 inflight;
	double			 t0, t_up;
	bool			 measured, timed_out;
	struct pgb_mem		 base_mem, mem;
	char			*pad;		/* --rcpt: the header lines */
	size_t			 padlen;
};

static int	idle_open(struct idle_run *);

static void
conn_gone(struct iconn *c, const char *why)
{
	struct idle_run *r = c->r;

	if (c->dead)
		return;
	c->dead = true;
	pgb_abort(&c->bev);
	if (c->idle) {
		r->dropped++;
		return;
	}
	r->inflight--;
	if (r->failed++ < 10)
		pgb_warn("idle: %s", why);
	if (r->started < r->target && idle_open(r) == -1)
		pgb_fatal("connect: %s", strerror(errno));
}

static void	on_read(struct bufferevent *, void *);
static void	on_event(struct bufferevent *, short, void *);

static void
session_up(struct iconn *c)
{
	struct idle_run *r = c->r;

	c->idle = true;
	r->up++;
	r->inflight--;
	if (r->started < r->target && idle_open(r) == -1)
		pgb_fatal("connect: %s", strerror(errno));
}

/* The body is out of our buffers: the session is held inside DATA. */
static void
on_written(struct bufferevent *bev, void *arg)
{
	struct iconn *c = arg;

	bufferevent_setcb(bev, on_read, NULL, on_event, c);
	if (!c->dead && !c->idle)
		session_up(c);
}

/* --rcpt: after EHLO, MAIL, RCPT, DATA and the header lines. */
static void
in_data_step(struct iconn *c, struct bufferevent *bev, char code)
{
	struct idle_run *r = c->r;
	struct evbuffer *out = bufferevent_get_output(bev);

	(void)code;
	switch (c->step++) {
	case 0:
		(void)evbuffer_add_printf(out, "MAIL FROM:<%s>\r\n",
		    r->o->from);
		break;
	case 1:
		(void)evbuffer_add_printf(out, "RCPT TO:<%s>\r\n", r->o->rcpt);
		break;
	case 2:
		(void)evbuffer_add(out, "DATA\r\n", 6);
		break;
	default:	/* 354 */
		bufferevent_setcb(bev, on_read, on_written, on_event, c);
		(void)evbuffer_add_reference(out, r->pad, r->padlen, NULL,
		    NULL);
		break;
	}
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct iconn *c = arg;
	struct idle_run *r = c->r;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;

	while (!c->dead && (line = evbuffer_readln(in, &n,
	    EVBUFFER_EOL_CRLF)) != NULL) {
		bool last = n <= 3 || line[3] != '-';
		bool ok = n >= 3 && (line[0] == '2' || (line[0] == '3' &&
		    c->step == 3));
		char line0 = line[0];

		free(line);
		if (!ok) {
			conn_gone(c, "refused");
			return;
		}
		if (!last)
			continue;
		if (!c->greeted) {
			c->greeted = true;
			(void)evbuffer_add(bufferevent_get_output(bev),
			    "EHLO pgbench.invalid\r\n", 22);
		} else if (!c->idle && r->pad != NULL) {
			in_data_step(c, bev, line0);
		} else if (!c->idle) {
			session_up(c);
		}
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	conn_gone(arg, what & BEV_EVENT_EOF ? "closed by the server" :
	    strerror(EVUTIL_SOCKET_ERROR()));
}

static int
idle_open(struct idle_run *r)
{
	struct iconn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	c->r = r;
	c->bev = pgb_connect(r->base, r->o->host, r->o->port, on_read,
	    on_event, c);
	if (c->bev == NULL) {
		free(c);
		return -1;
	}
	c->next = r->list;
	r->list = c;
	r->started++;
	r->inflight++;
	return 0;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct idle_run *r = arg;
	struct timeval tv = { (time_t)r->o->hold,
	    (suseconds_t)((r->o->hold - (double)(time_t)r->o->hold) * 1e6) };

	(void)fd;
	(void)what;
	if (r->measured) {
		(void)event_base_loopbreak(r->base);
		return;
	}
	if (pgb_mem_sample(r->o, &r->mem) == -1)
		pgb_warn("idle: cannot read the server's memory");
	r->measured = true;
	(void)fprintf(stderr, "idle: %lu sessions up; server Rss %.1f MiB, "
	    "Pss %.1f MiB in %u processes; holding %.0fs\n", r->up,
	    (double)r->mem.rss_kb / 1024, (double)r->mem.pss_kb / 1024,
	    r->mem.nproc, r->o->hold);
	if (evtimer_add(r->timer, &tv) == -1)
		pgb_fatal("cannot start a timer");
}

/* All sessions are up (or failed): measure after a moment. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct idle_run *r = arg;
	struct timeval tv = { 1, 0 };

	(void)fd;
	(void)what;
	if (r->t_up == 0 && r->up + r->failed >= r->target) {
		r->t_up = pgb_now();
		tv.tv_sec = (time_t)SETTLE_SECS;
		if (evtimer_add(r->timer, &tv) == -1)
			pgb_fatal("cannot start a timer");
	} else if (r->t_up == 0 && pgb_now() - r->t0 > r->o->timeout) {
		r->timed_out = true;
		(void)event_base_loopbreak(r->base);
	}
}

static void
idle_report(struct idle_run *r)
{
	const struct pgb_mem *m = &r->mem, *b = &r->base_mem;
	double per = r->up > 0 ? (double)((int64_t)m->pss_kb -
	    (int64_t)b->pss_kb) / (double)r->up : 0;

	(void)printf("RESULT mode=idle in_data=%d sessions=%lu failed=%lu dropped=%lu "
	    "setup_secs=%.3f rss_kb=%llu pss_kb=%llu base_rss_kb=%llu "
	    "base_pss_kb=%llu pss_kb_per_session=%.2f server_procs=%u "
	    "timeout=%d\n", r->pad != NULL, r->up, r->failed, r->dropped,
	    r->t_up > 0 ? r->t_up - r->t0 : 0,
	    (unsigned long long)m->rss_kb, (unsigned long long)m->pss_kb,
	    (unsigned long long)b->rss_kb, (unsigned long long)b->pss_kb, per,
	    m->nproc, r->timed_out);
}

/* -s SIZE octets of 78-octet header lines "X-Pad-N: aaa...". */
static void
make_pad(struct idle_run *r)
{
	size_t n = r->o->size, off = 0;
	unsigned k = 0;

	r->pad = malloc(n);
	if (r->pad == NULL)
		pgb_fatal("out of memory");
	while (off < n) {
		char line[80];
		size_t len = 78;

		(void)snprintf(line, sizeof(line), "X-Pad-%06u: ", k++);
		memset(line + strlen(line), 'a', 76 - strlen(line));
		line[76] = '\r';
		line[77] = '\n';
		if (len > n - off)
			len = n - off;
		memcpy(r->pad + off, line, len);
		off += len;
	}
	/* End on a line end, whatever SIZE is. */
	if (n >= 2) {
		r->pad[n - 2] = '\r';
		r->pad[n - 1] = '\n';
	}
	r->padlen = n;
}

int
pgb_idle_run(const struct pgb_opts *o)
{
	struct idle_run r;
	struct timeval tv = { 0, 10000 };
	struct iconn *c, *next;
	unsigned i;

	if (o->port == 0 || o->count == 0)
		pgb_fatal("idle: --port and -n SESSIONS are needed");
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.target = o->count;
	r.base = event_base_new();
	if (r.base == NULL)
		pgb_fatal("cannot create the event loop");
	r.timer = evtimer_new(r.base, on_timer, &r);
	r.tick = event_new(r.base, -1, EV_PERSIST, on_tick, &r);
	if (r.timer == NULL || r.tick == NULL || event_add(r.tick, &tv) == -1)
		pgb_fatal("cannot start the timers");
	if (pgb_mem_sample(o, &r.base_mem) == -1)
		pgb_fatal("no server process among the --pid trees");
	if (o->rcpt != NULL)
		make_pad(&r);
	r.t0 = pgb_now();
	for (i = 0; i < o->conc && r.started < r.target; i++)
		if (idle_open(&r) == -1)
			pgb_fatal("connect: %s", strerror(errno));
	(void)event_base_dispatch(r.base);
	idle_report(&r);
	for (c = r.list; c != NULL; c = next) {
		next = c->next;
		pgb_abort(&c->bev);
		free(c);
	}
	free(r.pad);
	return r.timed_out || r.failed > 0 || r.dropped > 0 ? 1 : 0;
}
