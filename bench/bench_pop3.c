/*
 * bench_pop3.c - the POP3 client modes (RFC 1939):
 *
 *   pop3-check  what a mail client does to check mail: USER, PASS, STAT,
 *               LIST, UIDL, QUIT; --sessions of them one after another on
 *               one mailbox (the first one is the "first access" when the
 *               mailbox is fresh);
 *   pop3-retr   USER, PASS, STAT, LIST, RETR of every message, QUIT;
 *               checks that each RETR sends as many octets as LIST said
 *               (before dot-stuffing, which these messages do not need);
 *   pop3-load   -c K concurrent check-mail sessions over --users mailboxes
 *               (slot i always uses mailbox i mod users, so no two
 *               sessions want the same maildrop), -n sessions in all or
 *               for --duration seconds: logins/s and latency percentiles.
 *
 * Replies are read one command at a time, as clients do. A multi-line
 * reply is scanned in place for its terminating "." line without being
 * copied; LIST and UIDL must have as many lines as STAT has messages.
 * After the +OK to QUIT the client waits for the server to close the
 * connection, so the next session on the same mailbox does not race the
 * server's release of the maildrop lock.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "pgbench.h"

#define SHOW_ERRORS	10
#define LINE_MAX_POP3	4096

enum pmode { M_CHECK, M_RETR, M_LOAD };

enum pstate {
	P_GREET,
	P_USER,
	P_PASS,
	P_STAT,
	P_LIST,
	P_UIDL,
	P_RETR,
	P_QUIT,
	P_CLOSING,
};

/* Where the scan of a multi-line reply stands (RFC 1939 section 3). */
enum ml_state {
	ML_MID,		/* inside a line */
	ML_CR,		/* after a CR inside a line */
	ML_START,	/* at the start of a line */
	ML_DOT,		/* after a "." at the start of a line */
	ML_DOTCR,	/* after ".\r" at the start of a line */
};

struct pop3_run;

struct psess {
	struct pop3_run		*r;
	struct bufferevent	*bev;
	struct event		*linger;	/* waiting for the close */
	enum pstate		 st;
	bool			 ml;		/* in a multi-line reply */
	enum ml_state		 mls;
	uint64_t		 ml_bytes, ml_lines;
	unsigned long		 nmsg, cur;
	uint64_t		*sizes;		/* LIST, in pop3-retr */
	double			 t_start, t_pass;
	unsigned		 slot;
	bool			 failed;
};

struct pop3_run {
	const struct pgb_opts	*o;
	enum pmode		 mode;
	struct event_base	*base;
	struct event		*tick;
	unsigned long		 started, ok, failed;
	unsigned		 open, shown;
	unsigned long		 msgs;		/* STAT of the last session */
	uint64_t		 retr_bytes;
	unsigned long		 retr_msgs, size_mismatch;
	double			 t0, t_last, retr_t0, retr_secs;
	bool			 timed_out;
	struct pgb_stats	 sess;		/* session seconds */
	struct pgb_stats	 login;		/* PASS to +OK, seconds */
	struct pgb_stats	 order;		/* session seconds, in order */
};

static int	sess_open(struct pop3_run *, unsigned slot);

static bool
supply_done(struct pop3_run *r)
{
	const struct pgb_opts *o = r->o;
	unsigned long cap = r->mode == M_LOAD ? o->count : o->sessions;

	return (cap > 0 && r->started >= cap) ||
	    (o->duration > 0 && pgb_now() - r->t0 >= o->duration);
}

static void
sess_free(struct psess *s)
{
	if (s->linger != NULL)
		event_free(s->linger);
	pgb_abort(&s->bev);
	free(s->sizes);
	free(s);
}

/* The session is over: start the next one in this slot, or stop. */
static void
sess_end(struct psess *s)
{
	struct pop3_run *r = s->r;
	unsigned slot = s->slot;

	sess_free(s);
	r->open--;
	if (!supply_done(r)) {
		if (sess_open(r, slot) == -1)
			pgb_fatal("connect: %s", strerror(errno));
	} else if (r->open == 0) {
		(void)event_base_loopbreak(r->base);
	}
}

static void
sess_fail(struct psess *s, const char *what)
{
	struct pop3_run *r = s->r;

	r->failed++;
	if (r->shown++ < SHOW_ERRORS)
		pgb_warn("pop3: session %u, state %d: %s", s->slot, (int)s->st,
		    what);
	sess_end(s);
}

static void
send_cmd(struct psess *s, enum pstate st, const char *fmt, ...)
    PRINTFLIKE(3, 4);

static void
send_cmd(struct psess *s, enum pstate st, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = evbuffer_add_vprintf(bufferevent_get_output(s->bev), fmt, ap);
	va_end(ap);
	if (rc == -1)
		pgb_fatal("out of memory");
	s->st = st;
}

static void
user_of(const struct pop3_run *r, unsigned slot, char *out, size_t outsz)
{
	const struct pgb_opts *o = r->o;

	if (pgb_addr(o->user, o->users ? slot % o->users : 0, o->users > 0,
	    out, outsz) == -1)
		pgb_fatal("user name too long");
}

static void
on_linger(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sess_end(arg);
}

/* +OK to QUIT: the session counts; wait (a little) for the close. */
static void
sess_done(struct psess *s)
{
	struct pop3_run *r = s->r;
	struct timeval tv = { 1, 0 };
	double t = pgb_now();

	r->ok++;
	r->t_last = t;
	pgb_stats_add(&r->sess, t - s->t_start);
	pgb_stats_add(&r->order, t - s->t_start);
	pgb_stats_add(&r->login, s->t_pass);
	s->st = P_CLOSING;
	s->linger = evtimer_new(r->base, on_linger, s);
	if (s->linger == NULL || evtimer_add(s->linger, &tv) == -1)
		pgb_fatal("cannot start a timer");
}

/* Next command after STAT, LIST, UIDL or a RETR. */
static void
after_list(struct psess *s)
{
	struct pop3_run *r = s->r;

	if (r->mode != M_RETR || s->cur >= s->nmsg) {
		if (r->mode == M_RETR && s->cur > 0)
			r->retr_secs += pgb_now() - r->retr_t0;
		send_cmd(s, P_QUIT, "QUIT\r\n");
		return;
	}
	if (s->cur == 0)
		r->retr_t0 = pgb_now();
	s->cur++;
	send_cmd(s, P_RETR, "RETR %lu\r\n", s->cur);
}

/* The end of a multi-line reply: LINES lines, BYTES octets before the
   terminating line. */
static int
ml_done(struct psess *s)
{
	struct pop3_run *r = s->r;

	switch (s->st) {
	case P_LIST:
		if (s->ml_lines != s->nmsg)
			return -1;
		if (r->mode == M_RETR)
			after_list(s);
		else
			send_cmd(s, P_UIDL, "UIDL\r\n");
		return 0;
	case P_UIDL:
		if (s->ml_lines != s->nmsg)
			return -1;
		send_cmd(s, P_QUIT, "QUIT\r\n");
		return 0;
	case P_RETR:
		r->retr_bytes += s->ml_bytes;
		r->retr_msgs++;
		if (s->sizes != NULL && s->ml_bytes != s->sizes[s->cur - 1] &&
		    r->size_mismatch++ < SHOW_ERRORS)
			pgb_warn("pop3: RETR %lu sent %" PRIu64 " octets, LIST "
			    "said %" PRIu64, s->cur, s->ml_bytes,
			    s->sizes[s->cur - 1]);
		after_list(s);
		return 0;
	default:
		return -1;
	}
}

/* Scans N octets of a multi-line reply; the octets used, up to and with
   the terminating line when it is there (then *END is set). */
static size_t
ml_scan(struct psess *s, const unsigned char *p, size_t n, bool *end)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = p[i];

		switch (s->mls) {
		case ML_MID:
			if (ch == '\r')
				s->mls = ML_CR;
			break;
		case ML_CR:
			if (ch == '\n') {
				s->ml_lines++;
				s->mls = ML_START;
			} else if (ch != '\r') {
				s->mls = ML_MID;
			}
			break;
		case ML_START:
			s->mls = ch == '.' ? ML_DOT : ch == '\r' ? ML_CR :
			    ML_MID;
			break;
		case ML_DOT:
			s->mls = ch == '\r' ? ML_DOTCR : ML_MID;
			break;
		case ML_DOTCR:
			if (ch == '\n') {
				*end = true;
				s->ml_bytes += i + 1 - 3;
				return i + 1;
			}
			s->mls = ch == '\r' ? ML_CR : ML_MID;
			break;
		}
	}
	s->ml_bytes += n;
	return n;
}

/* Consumes what has arrived of a multi-line reply; 1 at its end. */
static int
ml_read(struct psess *s, struct evbuffer *in)
{
	struct evbuffer_iovec v[16];
	bool end = false;
	int nv, i;
	size_t used;

	while (!end && evbuffer_get_length(in) > 0) {
		nv = evbuffer_peek(in, -1, NULL, v, nitems(v));
		if (nv > (int)nitems(v))
			nv = (int)nitems(v);
		used = 0;
		for (i = 0; i < nv && !end; i++)
			used += ml_scan(s, v[i].iov_base, v[i].iov_len, &end);
		if (evbuffer_drain(in, used) == -1)
			pgb_fatal("evbuffer_drain failed");
	}
	return end ? 1 : 0;
}

/* LIST in pop3-retr: "N SIZE" lines kept for the RETR check. */
static int
list_line(struct psess *s, const char *line)
{
	unsigned long n;
	uint64_t size;

	if (strcmp(line, ".") == 0)
		return s->ml_lines == s->nmsg ? 1 : -1;
	if (sscanf(line, "%lu %" SCNu64, &n, &size) != 2 || n == 0 ||
	    n > s->nmsg)
		return -1;
	s->sizes[n - 1] = size;
	s->ml_lines++;
	return 0;
}

static void
begin_ml(struct psess *s)
{
	s->ml = true;
	s->mls = ML_START;
	s->ml_bytes = 0;
	s->ml_lines = 0;
}

/* A one-line reply, or the first line of a multi-line one. */
static int
reply(struct psess *s, const char *line)
{
	struct pop3_run *r = s->r;
	char user[PGB_ADDR_MAX];

	if (strncmp(line, "+OK", 3) != 0)
		return -1;
	switch (s->st) {
	case P_GREET:
		user_of(r, s->slot, user, sizeof(user));
		send_cmd(s, P_USER, "USER %s\r\n", user);
		return 0;
	case P_USER:
		s->t_pass = pgb_now();
		send_cmd(s, P_PASS, "PASS %s\r\n", r->o->pass);
		return 0;
	case P_PASS:
		s->t_pass = pgb_now() - s->t_pass;
		send_cmd(s, P_STAT, "STAT\r\n");
		return 0;
	case P_STAT:
		if (sscanf(line + 3, " %lu", &s->nmsg) != 1)
			return -1;
		r->msgs = s->nmsg;
		if (r->mode == M_RETR && s->nmsg > 0 &&
		    (s->sizes = calloc(s->nmsg, sizeof(*s->sizes))) == NULL)
			pgb_fatal("out of memory");
		send_cmd(s, P_LIST, "LIST\r\n");
		return 0;
	case P_LIST:
	case P_UIDL:
	case P_RETR:
		begin_ml(s);
		return 0;
	case P_QUIT:
		sess_done(s);
		return 0;
	case P_CLOSING:
		return 0;
	}
	return -1;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct psess *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	int rc;

	for (;;) {
		if (s->ml && !(s->st == P_LIST && s->sizes != NULL)) {
			if ((rc = ml_read(s, in)) == 0)
				return;
			s->ml = false;
			if (ml_done(s) == -1)
				goto fail;
			continue;
		}
		line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF);
		if (line == NULL)
			break;
		if (s->ml) {
			rc = list_line(s, line);
			s->ml = rc == 0;
			rc = rc == 1 ? ml_done(s) : rc;
		} else {
			rc = reply(s, line);
		}
		if (rc == -1) {
			if (!s->failed && s->r->shown < SHOW_ERRORS)
				pgb_warn("pop3: reply: %s", line);
			free(line);
			goto fail;
		}
		free(line);
	}
	if (evbuffer_get_length(in) > LINE_MAX_POP3)
		sess_fail(s, "reply line too long");
	return;
fail:
	sess_fail(s, "unexpected reply");
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct psess *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (s->st == P_CLOSING)
		sess_end(s);
	else
		sess_fail(s, what & BEV_EVENT_EOF ? "connection closed" :
		    strerror(EVUTIL_SOCKET_ERROR()));
}

static int
sess_open(struct pop3_run *r, unsigned slot)
{
	struct psess *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -1;
	s->r = r;
	s->slot = slot;
	s->st = P_GREET;
	s->t_start = pgb_now();
	s->bev = pgb_connect(r->base, r->o->host, r->o->port, on_read,
	    on_event, s);
	if (s->bev == NULL) {
		free(s);
		return -1;
	}
	r->started++;
	r->open++;
	return 0;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_run *r = arg;

	(void)fd;
	(void)what;
	if (pgb_now() - r->t0 > r->o->timeout) {
		r->timed_out = true;
		(void)event_base_loopbreak(r->base);
	}
}

/* ---- results ---- */

static void
report_load(struct pop3_run *r, const struct pgb_usage *u0,
    const struct pgb_usage *u1)
{
	double cpu_ms = pgb_cpu_ms(u0, u1);
	double secs = r->t_last > r->t0 ? r->t_last - r->t0 : 1e-9;

	(void)printf("RESULT mode=pop3-load conc=%u ok=%lu failed=%lu "
	    "secs=%.3f rate=%.1f sess_p50_ms=%.2f sess_p99_ms=%.2f "
	    "login_p50_ms=%.2f login_p99_ms=%.2f cpu_ms=%.0f "
	    "cpu_ms_per_login=%.3f gen_cpu_pct=%.0f other_cpu_pct=%.0f "
	    "timeout=%d\n", r->o->conc, r->ok,
	    r->failed, secs, (double)r->ok / secs,
	    pgb_stats_pct(&r->sess, 50) * 1e3,
	    pgb_stats_pct(&r->sess, 99) * 1e3,
	    pgb_stats_pct(&r->login, 50) * 1e3,
	    pgb_stats_pct(&r->login, 99) * 1e3, cpu_ms,
	    r->ok > 0 ? cpu_ms / (double)r->ok : 0, pgb_self_pct(u0, u1),
	    pgb_other_pct(u0, u1), r->timed_out);
	(void)fprintf(stderr, "pop3-load: %lu sessions (%lu failed) in %.2fs: "
	    "%.1f logins/s, session p50 %.1f ms p99 %.1f ms\n", r->ok,
	    r->failed, secs, (double)r->ok / secs,
	    pgb_stats_pct(&r->sess, 50) * 1e3,
	    pgb_stats_pct(&r->sess, 99) * 1e3);
}

static void
report_seq(struct pop3_run *r, const char *mode, const struct pgb_usage *u0,
    const struct pgb_usage *u1)
{
	double cpu_ms = pgb_cpu_ms(u0, u1);
	double first = r->order.n > 0 ? r->order.v[0] : 0;
	double rsecs = r->retr_secs;
	size_t i;

	(void)printf("RESULT mode=%s ok=%lu failed=%lu msgs=%lu first_ms=%.2f "
	    "median_ms=%.2f min_ms=%.2f max_ms=%.2f cpu_ms=%.0f",
	    mode, r->ok, r->failed, r->msgs, first * 1e3,
	    pgb_stats_pct(&r->sess, 50) * 1e3,
	    pgb_stats_pct(&r->sess, 0) * 1e3,
	    pgb_stats_pct(&r->sess, 100) * 1e3, cpu_ms);
	if (r->mode == M_RETR)
		(void)printf(" retr_msgs=%lu retr_bytes=%" PRIu64 " retr_secs=%.3f "
		    "mbps=%.1f size_mismatch=%lu", r->retr_msgs, r->retr_bytes,
		    rsecs, rsecs > 0 ? (double)r->retr_bytes / rsecs / 1e6 : 0,
		    r->size_mismatch);
	(void)printf(" times_ms=");
	for (i = 0; i < r->order.n; i++)
		(void)printf("%s%.2f", i > 0 ? "," : "", r->order.v[i] * 1e3);
	(void)printf(" other_cpu_pct=%.0f timeout=%d\n", pgb_other_pct(u0, u1),
	    r->timed_out);
	(void)fprintf(stderr, "%s: %lu sessions on %lu messages: first %.1f ms,"
	    " median %.1f ms\n", mode, r->ok, r->msgs, first * 1e3,
	    pgb_stats_pct(&r->sess, 50) * 1e3);
}

int
pgb_pop3_run(const struct pgb_opts *o, const char *mode)
{
	struct pop3_run r;
	struct pgb_usage u0, u1;
	struct timeval tv = { 0, 50000 };
	unsigned i, slots;

	if (o->port == 0 || o->user == NULL || o->pass == NULL)
		pgb_fatal("%s: --port, --user and --pass are needed", mode);
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.mode = strcmp(mode, "pop3-check") == 0 ? M_CHECK :
	    strcmp(mode, "pop3-retr") == 0 ? M_RETR : M_LOAD;
	if (r.mode == M_LOAD && o->count == 0 && o->duration == 0)
		pgb_fatal("pop3-load: give -n or --duration");
	r.base = event_base_new();
	r.tick = r.base != NULL ? event_new(r.base, -1, EV_PERSIST, on_tick,
	    &r) : NULL;
	if (r.tick == NULL || event_add(r.tick, &tv) == -1)
		pgb_fatal("cannot create the event loop");
	if (pgb_cpu_sample(o, &u0) == -1)
		pgb_fatal("no server process among the --pid trees");
	r.t0 = pgb_now();
	slots = r.mode == M_LOAD ? o->conc : 1;
	for (i = 0; i < slots && !supply_done(&r); i++)
		if (sess_open(&r, i) == -1)
			pgb_fatal("connect: %s", strerror(errno));
	(void)event_base_dispatch(r.base);
	(void)pgb_cpu_sample(o, &u1);
	if (r.mode == M_LOAD)
		report_load(&r, &u0, &u1);
	else
		report_seq(&r, mode, &u0, &u1);
	return r.timed_out || r.failed > 0 || r.size_mismatch > 0 ? 1 : 0;
}
