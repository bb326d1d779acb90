/*
 * bench_smtp.c - mode "smtp": C concurrent SMTP connections send N
 * messages (or for --duration seconds) of S octets, one or more per
 * connection, with or without PIPELINING (RFC 2920: MAIL, RCPT and DATA
 * in one batch, the message after the 354).
 *
 * A message counts as accepted at the 250 after its end of data, and as
 * delivered only when someone else has seen it arrive: its file in the
 * recipient's Maildir new/ (inotify IN_CREATE / IN_MOVED_TO, so a server
 * that answers 250 and delivers later is timed until it has delivered),
 * or its end of data at our SMTP sink (relay). The rate is delivered
 * messages over the time from the first connect to the last delivery.
 */
#include <sys/inotify.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "pgbench.h"

#define SHOW_ERRORS	10	/* failed replies printed on stderr */
#define LINE_MAX_SMTP	4096	/* longest reply line we accept */

enum phase {
	PH_GREETING,
	PH_EHLO,
	PH_MAIL,
	PH_RCPT,
	PH_DATA,
	PH_DOT,
	PH_QUIT,
};

struct smtp_run;

struct sconn {
	struct smtp_run		*r;
	struct bufferevent	*bev;
	enum phase		 ph;
	unsigned		 sent;		/* messages begun here */
	unsigned long		 msg;		/* the current message */
	double			 t_msg;		/* when its MAIL was sent */
	bool			 offered;	/* EHLO listed PIPELINING */
	bool			 pipe;
};

struct watch {
	int		 fd;
	struct event	*ev;
	unsigned long	 count;
	double		 last;
	bool		 overflow;
};

struct smtp_run {
	const struct pgb_opts	*o;
	struct event_base	*base;
	struct event		*tick;
	unsigned long		 next;		/* next message number */
	unsigned long		 accepted, failed;
	unsigned		 open;		/* connections open */
	unsigned		 shown;		/* errors printed */
	bool			 piped;		/* PIPELINING was used */
	double			 t0, last_accept, t_end;
	bool			 timed_out;
	char			*body;
	size_t			 body_len;
	char			*head;		/* --header-file, or NULL */
	size_t			 head_len;
	char			 date[64];
	struct pgb_stats	 lat;		/* MAIL to final 250, seconds */
	struct watch		 w;
	struct pgb_sink		*sink;
};

static int	conn_open(struct smtp_run *);

/* ---- messages ---- */

#define HDR_FMT "From: pgbench <%s>\r\nTo: <%s>\r\nSubject: pgbench %010lu\r\n" \
	"Message-ID: <%010lu.%010ld@pgbench.invalid>\r\nDate: %s\r\n" \
	"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"

static void
rcpt_of(const struct smtp_run *r, unsigned long msg, char *out, size_t outsz)
{
	const struct pgb_opts *o = r->o;

	if (pgb_addr(o->rcpt, o->rcpts ? msg % o->rcpts : 0, o->rcpts > 0,
	    out, outsz) == -1)
		pgb_fatal("recipient address too long");
}

/* The shared body: lines of 76 octets and CRLF (no line starts with
   ".", so nothing needs stuffing), sized so that header + body is about
   SIZE octets (not counting --header-file). It is the same in every run
   with the same options and addresses (the process id has a fixed
   width), so a DKIM signature made once over a sample stays good. */
static void
make_body(struct smtp_run *r)
{
	static const char text[] = "The quick brown fox jumps over the "
	    "lazy dog and packs my box with five dozen liquor jugs ";
	char rcpt[PGB_ADDR_MAX];
	size_t hdr, len, rem, i, o = 0, ln = 0;
	int n;

	rcpt_of(r, 0, rcpt, sizeof(rcpt));
	n = snprintf(NULL, 0, HDR_FMT, r->o->from, rcpt, 0UL, 0UL,
	    (long)getpid(), r->date);
	hdr = n > 0 ? (size_t)n : 0;
	len = r->o->size > hdr + 2 ? r->o->size - hdr : 2;
	r->body = malloc(len);
	if (r->body == NULL)
		pgb_fatal("out of memory");
	for (rem = len; rem >= 2;) {
		size_t line = rem >= 80 ? 76 : rem - 2;

		for (i = 0; i < line; i++)
			r->body[o + i] = text[(ln + i) % (sizeof(text) - 1)];
		o += line;
		ln++;
		r->body[o++] = '\r';
		r->body[o++] = '\n';
		rem -= line + 2;
	}
	r->body_len = o;
}

/* --header-file: its content, sent above every message's header (e.g. a
   DKIM-Signature field made once over a sample message). */
static void
read_head(struct smtp_run *r)
{
	FILE *f;
	char buf[8192];
	size_t n;

	if (r->o->header_file == NULL)
		return;
	if ((f = fopen(r->o->header_file, "rb")) == NULL)
		pgb_fatal("%s: %s", r->o->header_file, strerror(errno));
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f) || !feof(f))
		pgb_fatal("%s: %s", r->o->header_file, ferror(f) ?
		    strerror(errno) : "longer than 8 KiB");
	(void)fclose(f);
	if (n < 2 || buf[n - 2] != '\r' || buf[n - 1] != '\n')
		pgb_fatal("%s: must be header lines ending in CRLF",
		    r->o->header_file);
	if ((r->head = malloc(n)) == NULL)
		pgb_fatal("out of memory");
	memcpy(r->head, buf, n);
	r->head_len = n;
}

static void
make_date(struct smtp_run *r)
{
	time_t t = time(NULL);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(r->date, sizeof(r->date),
	    "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		pgb_fatal("cannot format the date");
}

/* ---- delivery watchers ---- */

static void
on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_run *r = arg;
	char buf[65536] __attribute__((aligned(8)));
	ssize_t n;
	size_t off;

	(void)what;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < (size_t)n;) {
			const struct inotify_event *ev = (const void *)(buf +
			    off);

			if (ev->mask & IN_Q_OVERFLOW)
				r->w.overflow = true;
			else if (ev->len > 0 && ev->name[0] != '.' &&
			    !(ev->mask & IN_ISDIR))
				r->w.count++;
			off += sizeof(*ev) + ev->len;
		}
		r->w.last = pgb_now();
	}
	if (n == -1 && errno != EAGAIN)
		pgb_fatal("inotify: %s", strerror(errno));
}

static void
watch_start(struct smtp_run *r)
{
	const struct pgb_opts *o = r->o;
	char addr[PGB_ADDR_MAX], local[PGB_ADDR_MAX], dir[1024];
	unsigned i, n = o->rcpts > 0 ? o->rcpts : 1;

	r->w.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (r->w.fd == -1)
		pgb_fatal("inotify_init1: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		if (pgb_addr(o->rcpt, i, o->rcpts > 0, addr, sizeof(addr)) ==
		    -1 || pgb_local(addr, local, sizeof(local)) == -1 ||
		    pgb_fmt(dir, sizeof(dir), "%s/%s/new", o->maildir,
		    local) == -1)
			pgb_fatal("Maildir path too long");
		if (inotify_add_watch(r->w.fd, dir, IN_CREATE |
		    IN_MOVED_TO) == -1)
			pgb_fatal("watch %s: %s", dir, strerror(errno));
	}
	r->w.ev = event_new(r->base, r->w.fd, EV_READ | EV_PERSIST,
	    on_inotify, r);
	if (r->w.ev == NULL || event_add(r->w.ev, NULL) == -1)
		pgb_fatal("cannot watch the inotify descriptor");
}

/* Messages delivered so far and the time of the last one. */
static unsigned long
delivered(struct smtp_run *r, double *last_r)
{
	if (r->sink != NULL)
		return pgb_sink_count(r->sink, last_r);
	if (r->o->maildir != NULL) {
		*last_r = r->w.last;
		return r->w.count;
	}
	*last_r = r->last_accept;
	return r->accepted;
}

static bool
supply_done(struct smtp_run *r)
{
	const struct pgb_opts *o = r->o;

	return (o->count > 0 && r->next >= o->count) ||
	    (o->duration > 0 && pgb_now() - r->t0 >= o->duration);
}

/* Ends the loop once every accepted message is delivered. */
static void
check_done(struct smtp_run *r)
{
	double last;
	unsigned long d = delivered(r, &last);

	if (r->open > 0 || !supply_done(r))
		return;
	if (d >= r->accepted || r->w.overflow) {
		r->t_end = last > r->last_accept ? last : r->last_accept;
		(void)event_base_loopbreak(r->base);
	}
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_run *r = arg;

	(void)fd;
	(void)what;
	if (pgb_now() - r->t0 > r->o->timeout) {
		r->timed_out = true;
		r->t_end = pgb_now();
		(void)event_base_loopbreak(r->base);
		return;
	}
	check_done(r);
}

/* ---- one connection ---- */

static void
conn_end(struct sconn *c)
{
	struct smtp_run *r = c->r;

	pgb_abort(&c->bev);
	free(c);
	r->open--;
	if (!supply_done(r)) {
		if (conn_open(r) == -1)
			pgb_fatal("connect: %s", strerror(errno));
	} else {
		check_done(r);
	}
}

/* A reply we did not want: the message fails, the connection ends. */
static void
conn_fail(struct sconn *c, const char *what)
{
	struct smtp_run *r = c->r;

	if (c->ph >= PH_MAIL && c->ph <= PH_DOT)
		r->failed++;
	if (r->shown++ < SHOW_ERRORS)
		pgb_warn("smtp: %s: %s", c->ph == PH_GREETING ? "greeting" :
		    c->ph == PH_EHLO ? "EHLO" : c->ph == PH_MAIL ? "MAIL" :
		    c->ph == PH_RCPT ? "RCPT" : c->ph == PH_DATA ? "DATA" :
		    c->ph == PH_DOT ? "end of data" : "QUIT", what);
	conn_end(c);
}

static void	send_line(struct sconn *, const char *, ...) PRINTFLIKE(2, 3);

static void
send_line(struct sconn *c, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
	if (rc == -1)
		pgb_fatal("out of memory");
}

static void
send_rcpt(struct sconn *c)
{
	char rcpt[PGB_ADDR_MAX];

	rcpt_of(c->r, c->msg, rcpt, sizeof(rcpt));
	send_line(c, "RCPT TO:<%s>\r\n", rcpt);
}

static void
send_message(struct sconn *c)
{
	struct smtp_run *r = c->r;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char rcpt[PGB_ADDR_MAX];

	rcpt_of(r, c->msg, rcpt, sizeof(rcpt));
	if (r->head != NULL && evbuffer_add_reference(out, r->head,
	    r->head_len, NULL, NULL) == -1)
		pgb_fatal("out of memory");
	if (evbuffer_add_printf(out, HDR_FMT, r->o->from, rcpt, c->msg,
	    c->msg, (long)getpid(), r->date) == -1 ||
	    evbuffer_add_reference(out, r->body, r->body_len, NULL,
	    NULL) == -1 || evbuffer_add(out, ".\r\n", 3) == -1)
		pgb_fatal("out of memory");
}

/* Begins the next message, or QUIT when this connection is done. */
static void
next_msg(struct sconn *c)
{
	struct smtp_run *r = c->r;
	const struct pgb_opts *o = r->o;

	if ((o->per_conn > 0 && c->sent >= o->per_conn) || supply_done(r)) {
		send_line(c, "QUIT\r\n");
		c->ph = PH_QUIT;
		return;
	}
	c->msg = r->next++;
	c->sent++;
	c->t_msg = pgb_now();
	c->ph = PH_MAIL;
	send_line(c, "MAIL FROM:<%s>\r\n", o->from);
	if (c->pipe) {
		send_rcpt(c);
		send_line(c, "DATA\r\n");
	}
}

/* The last line of a reply; -1 when the connection has ended. */
static int
step(struct sconn *c, int code, const char *line)
{
	struct smtp_run *r = c->r;

	switch (c->ph) {
	case PH_GREETING:
		if (code != 220)
			goto fail;
		send_line(c, "EHLO pgbench.invalid\r\n");
		c->ph = PH_EHLO;
		return 0;
	case PH_EHLO:
		if (code != 250)
			goto fail;
		c->pipe = r->o->pipelining && c->offered;
		r->piped |= c->pipe;
		next_msg(c);
		return 0;
	case PH_MAIL:
		if (code / 100 != 2)
			goto fail;
		c->ph = PH_RCPT;
		if (!c->pipe)
			send_rcpt(c);
		return 0;
	case PH_RCPT:
		if (code / 100 != 2)
			goto fail;
		c->ph = PH_DATA;
		if (!c->pipe)
			send_line(c, "DATA\r\n");
		return 0;
	case PH_DATA:
		if (code != 354)
			goto fail;
		send_message(c);
		c->ph = PH_DOT;
		return 0;
	case PH_DOT:
		if (code / 100 != 2)
			goto fail;
		r->accepted++;
		r->last_accept = pgb_now();
		pgb_stats_add(&r->lat, r->last_accept - c->t_msg);
		next_msg(c);
		return 0;
	case PH_QUIT:
		conn_end(c);
		return -1;
	}
fail:
	conn_fail(c, line);
	return -1;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct sconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;
	char *line;
	int code, rc;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		if (n < 3 || !isdigit((unsigned char)line[0]) ||
		    !isdigit((unsigned char)line[1]) ||
		    !isdigit((unsigned char)line[2])) {
			conn_fail(c, "malformed reply");
			free(line);
			return;
		}
		if (c->ph == PH_EHLO && n >= 14 &&
		    strncasecmp(line + 4, "PIPELINING", 10) == 0)
			c->offered = true;
		if (n > 3 && line[3] == '-') {
			free(line);
			continue;
		}
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		    (line[2] - '0');
		rc = step(c, code, line);
		free(line);
		if (rc == -1)
			return;
	}
	if (evbuffer_get_length(in) > LINE_MAX_SMTP)
		conn_fail(c, "reply line too long");
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct sconn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (c->ph == PH_QUIT)
		conn_end(c);
	else
		conn_fail(c, what & BEV_EVENT_EOF ? "connection closed" :
		    strerror(EVUTIL_SOCKET_ERROR()));
}

static int
conn_open(struct smtp_run *r)
{
	struct sconn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	c->r = r;
	c->ph = PH_GREETING;
	c->bev = pgb_connect(r->base, r->o->host, r->o->port, on_read,
	    on_event, c);
	if (c->bev == NULL) {
		free(c);
		return -1;
	}
	r->open++;
	return 0;
}

/* ---- the run ---- */

static void
report(struct smtp_run *r, const struct pgb_usage *u0,
    const struct pgb_usage *u1)
{
	const struct pgb_opts *o = r->o;
	double last, secs = r->t_end - r->t0, cpu = pgb_cpu_ms(u0, u1);
	unsigned long d = delivered(r, &last);

	if (secs <= 0)
		secs = 1e-9;
	(void)printf("RESULT mode=smtp conc=%u size=%zu per_conn=%u "
	    "pipelining=%d target=%s accepted=%lu failed=%lu delivered=%lu "
	    "secs=%.3f rate=%.1f lat_p50_ms=%.2f lat_p99_ms=%.2f "
	    "cpu_ms=%.0f cpu_ms_per_msg=%.3f server_procs=%u "
	    "gen_cpu_pct=%.0f other_cpu_pct=%.0f timeout=%d overflow=%d\n", o->conc, o->size,
	    o->per_conn, r->piped, r->sink != NULL ? "sink" :
	    o->maildir != NULL ? "maildir" : "accept", r->accepted, r->failed,
	    d, secs, (double)d / secs, pgb_stats_pct(&r->lat, 50) * 1e3,
	    pgb_stats_pct(&r->lat, 99) * 1e3, cpu,
	    d > 0 ? cpu / (double)d : 0, u1->nproc,
	    pgb_self_pct(u0, u1), pgb_other_pct(u0, u1), r->timed_out,
	    r->w.overflow);
	(void)fprintf(stderr, "smtp: %lu delivered (%lu accepted, %lu failed) "
	    "in %.2fs: %.1f msg/s, server %.3f ms CPU/msg\n", d, r->accepted,
	    r->failed, secs, (double)d / secs, d > 0 ? cpu / (double)d : 0);
}

int
pgb_smtp_run(const struct pgb_opts *o)
{
	struct smtp_run r;
	struct pgb_usage u0, u1;
	struct timeval tv = { 0, 2000 };
	unsigned i;

	if (o->port == 0 || o->rcpt == NULL)
		pgb_fatal("smtp: --port and --rcpt are needed");
	if (o->count == 0 && o->duration == 0)
		pgb_fatal("smtp: give -n or --duration");
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.w.fd = -1;
	r.base = event_base_new();
	if (r.base == NULL)
		pgb_fatal("cannot create the event loop");
	make_date(&r);
	make_body(&r);
	read_head(&r);
	if (o->maildir != NULL)
		watch_start(&r);
	if (o->sink_port != 0 && (r.sink = pgb_sink_start(o->sink_port,
	    o->sink_store)) == NULL)
		pgb_fatal("sink on port %d: %s", o->sink_port, strerror(errno));
	r.tick = event_new(r.base, -1, EV_PERSIST, on_tick, &r);
	if (r.tick == NULL || event_add(r.tick, &tv) == -1)
		pgb_fatal("cannot start the timer");
	if (pgb_cpu_sample(o, &u0) == -1)
		pgb_fatal("no server process among the --pid trees");
	r.t0 = pgb_now();
	for (i = 0; i < o->conc; i++)
		if (conn_open(&r) == -1)
			pgb_fatal("connect: %s", strerror(errno));
	(void)event_base_dispatch(r.base);
	(void)pgb_cpu_sample(o, &u1);
	report(&r, &u0, &u1);
	pgb_sink_stop(&r.sink);
	/* Connections left by a timeout go with the process. */
	if (r.w.ev != NULL)
		event_free(r.w.ev);
	if (r.w.fd != -1)
		(void)close(r.w.fd);
	event_free(r.tick);
	pgb_stats_free(&r.lat);
	free(r.body);
	free(r.head);
	return r.timed_out || r.failed > 0 ? 1 : 0;
}
