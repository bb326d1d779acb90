/*
 * bench_imap.c - the IMAP client modes (RFC 9051, spoken as an IMAP4rev1
 * client speaks it, so both servers answer alike):
 *
 *   imap-select  LOGIN, SELECT INBOX, UID FETCH 1:* (FLAGS), LOGOUT;
 *                --sessions of them one after another on one mailbox (the
 *                first is the "first access" when the mailbox is fresh).
 *                A session's time runs from SELECT to the tagged OK of the
 *                UID FETCH, which must have sent one FETCH per EXISTS;
 *   imap-fetch   LOGIN, SELECT INBOX, FETCH 1:* (RFC822.SIZE BODY.PEEK[]),
 *                LOGOUT; every body literal must be as long as the
 *                RFC822.SIZE beside it: MB/s of the FETCH;
 *   imap-login   -c K concurrent LOGIN + LOGOUT sessions, slot i always on
 *                mailbox --user numbered i mod --users, for --duration or
 *                -n sessions: logins/s and latency percentiles;
 *   imap-idle    -n K sessions (at most -c being set up at a time), each
 *                LOGIN, SELECT INBOX, IDLE, held --hold seconds once all
 *                are in IDLE: the server's memory before and with them,
 *                measured as mode idle measures it.
 *
 * Responses are read as RFC 9051 section 4.3 says: a response is a line
 * that may end in a literal announcement "{N}" (or "~{N}", a literal8);
 * then N octets follow raw and the line goes on after them. Only the line
 * pieces between literals are looked at, in place, never the literal
 * octets, so a body that holds "a3 OK" cannot end a command; literals are
 * drained without being copied. One command is outstanding at a time, as
 * a client that waits for each answer has it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "pgbench.h"

#define SHOW_ERRORS	10
#define PIECE_MAX	(64 * 1024)	/* a line piece between literals */
#define LITERAL_MAX	(1ULL << 40)
#define FETCH_READ	(256 * 1024)	/* octets per read in imap-fetch */
#define SETTLE_SECS	1.0		/* imap-idle: after the last IDLE */

enum imode { M_SELECT, M_FETCH, M_LOGIN, M_IDLE };

enum istate {
	S_GREET,
	S_LOGIN,
	S_SELECT,
	S_FETCH,
	S_IDLE,
	S_LOGOUT,
	S_CLOSING,
};

/* What the response being read is, from its first line piece. */
enum rkind { R_NONE, R_UNTAGGED, R_CONT, R_TAGGED };

struct imap_run;

struct isess {
	struct imap_run		*r;
	struct bufferevent	*bev;
	struct event		*linger;	/* waiting for the close */
	struct isess		*next;		/* imap-idle: all sessions */
	enum istate		 st;
	unsigned		 ntag;
	char			 tag[16];
	/* The response being read. */
	enum rkind		 rk;
	bool			 rok;		/* "TAG OK", "* OK" */
	bool			 rfetch;	/* "* N FETCH" */
	bool			 rsize_seen;
	uint64_t		 rsize;		/* its RFC822.SIZE */
	uint64_t		 rlit;		/* its literal octets */
	uint64_t		 lit_left;	/* of the literal being read */
	/* The command and the session. */
	unsigned long		 exists, fetched;
	double			 t_start, t_cmd, t_login, t_select;
	unsigned		 slot;
	bool			 idle, dead;
};

struct imap_run {
	const struct pgb_opts	*o;
	enum imode		 mode;
	struct event_base	*base;
	struct event		*tick, *timer;
	struct isess		*list;		/* imap-idle */
	unsigned long		 started, ok, failed, up, dropped;
	unsigned		 open, shown, inflight;
	unsigned long		 msgs;		/* EXISTS of the last session */
	uint64_t		 fetch_bytes;
	unsigned long		 fetch_msgs, size_mismatch;
	double			 t0, t_last, fetch_secs, t_up;
	bool			 timed_out, measured;
	struct pgb_stats	 sess;		/* session seconds */
	struct pgb_stats	 login;		/* LOGIN to its OK, seconds */
	struct pgb_stats	 order;		/* SELECT to FETCH OK, in order */
	struct pgb_stats	 sel_order;	/* SELECT to its OK, in order */
	struct pgb_mem		 base_mem, mem;
};

static int	sess_open(struct imap_run *, unsigned slot);

static bool
supply_done(struct imap_run *r)
{
	const struct pgb_opts *o = r->o;
	unsigned long cap = r->mode == M_LOGIN ? o->count : o->sessions;

	return (cap > 0 && r->started >= cap) ||
	    (o->duration > 0 && pgb_now() - r->t0 >= o->duration);
}

static void
sess_free(struct isess *s)
{
	if (s->linger != NULL)
		event_free(s->linger);
	pgb_abort(&s->bev);
	free(s);
}

/* The session is over: start the next one in this slot, or stop. */
static void
sess_end(struct isess *s)
{
	struct imap_run *r = s->r;
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

/* imap-idle: a session that is gone; the next one is set up. The
   session stays on the run's list (freed at the end). */
static void
idle_gone(struct isess *s, const char *why)
{
	struct imap_run *r = s->r;

	if (s->dead)
		return;
	s->dead = true;
	pgb_abort(&s->bev);
	if (s->idle) {
		r->dropped++;
		return;
	}
	r->inflight--;
	if (r->failed++ < SHOW_ERRORS)
		pgb_warn("imap-idle: session %u, state %d: %s", s->slot,
		    (int)s->st, why);
	if (r->started < r->o->count && sess_open(r, (unsigned)r->started)
	    == -1)
		pgb_fatal("connect: %s", strerror(errno));
}

static void
sess_fail(struct isess *s, const char *what)
{
	struct imap_run *r = s->r;

	if (r->mode == M_IDLE) {
		idle_gone(s, what);
		return;
	}
	r->failed++;
	if (r->shown++ < SHOW_ERRORS)
		pgb_warn("imap: session %u, state %d: %s", s->slot, (int)s->st,
		    what);
	sess_end(s);
}

static void
send_cmd(struct isess *s, enum istate st, const char *fmt, ...)
    PRINTFLIKE(3, 4);

/* Sends "TAG " and the command, with a new tag. */
static void
send_cmd(struct isess *s, enum istate st, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	va_list ap;
	int rc;

	if (pgb_fmt(s->tag, sizeof(s->tag), "a%u", ++s->ntag) == -1)
		pgb_fatal("tag too long");
	va_start(ap, fmt);
	rc = evbuffer_add_printf(out, "%s ", s->tag);
	if (rc != -1)
		rc = evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	if (rc == -1 || evbuffer_add(out, "\r\n", 2) == -1)
		pgb_fatal("out of memory");
	s->st = st;
	s->t_cmd = pgb_now();
}

static void
send_login(struct isess *s)
{
	const struct pgb_opts *o = s->r->o;
	char user[PGB_ADDR_MAX];

	if (pgb_addr(o->user, o->users ? s->slot % o->users : 0, o->users > 0,
	    user, sizeof(user)) == -1)
		pgb_fatal("user name too long");
	/* Quoted strings: these names and passwords need no escapes. */
	send_cmd(s, S_LOGIN, "LOGIN \"%s\" \"%s\"", user, o->pass);
}

static void
on_linger(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sess_end(arg);
}

/* The OK to LOGOUT: the session counts; wait (a little) for the close. */
static void
sess_done(struct isess *s)
{
	struct imap_run *r = s->r;
	struct timeval tv = { 1, 0 };
	double t = pgb_now();

	r->ok++;
	r->t_last = t;
	pgb_stats_add(&r->sess, t - s->t_start);
	pgb_stats_add(&r->login, s->t_login);
	s->st = S_CLOSING;
	s->linger = evtimer_new(r->base, on_linger, s);
	if (s->linger == NULL || evtimer_add(s->linger, &tv) == -1)
		pgb_fatal("cannot start a timer");
}

/* imap-idle: the continuation request to IDLE came. */
static void
idle_up(struct isess *s)
{
	struct imap_run *r = s->r;

	s->idle = true;
	r->up++;
	r->inflight--;
	if (r->started < r->o->count && sess_open(r, (unsigned)r->started)
	    == -1)
		pgb_fatal("connect: %s", strerror(errno));
}

/* ---- the responses ---- */

/* Digits at P (before END) as a number into *V; the first octet after
   them, or NULL when there are none or too many. */
static const char *
get_num(const char *p, const char *end, uint64_t *v)
{
	const char *start = p;

	*v = 0;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (*v > (UINT64_MAX - 9) / 10)
			return NULL;
		*v = *v * 10 + (uint64_t)(*p - '0');
	}
	return p > start ? p : NULL;
}

/* Does the piece end in a literal announcement "{N}" or "~{N}"? */
static bool
literal_at_end(const char *line, size_t len, uint64_t *n)
{
	const char *end = line + len, *p;

	if (len < 3 || end[-1] != '}')
		return false;
	for (p = end - 2; p > line && *p >= '0' && *p <= '9'; p--)
		;
	if (*p != '{' || p == end - 2)
		return false;
	return get_num(p + 1, end - 1, n) == end - 1 && *n <= LITERAL_MAX;
}

static bool
starts(const char *line, size_t len, const char *word)
{
	size_t n = strlen(word);

	return len >= n && strncasecmp(line, word, n) == 0;
}

/* The first piece of a response: what kind it is; "* N EXISTS" and
   "* N FETCH" noted. -1 when it is not a response we can be sent now. */
static int
first_piece(struct isess *s, const char *line, size_t len)
{
	size_t tl = strlen(s->tag);
	const char *end = line + len, *p;
	uint64_t n;

	if (starts(line, len, "* ")) {
		s->rk = R_UNTAGGED;
		s->rok = starts(line, len, "* OK");	/* the greeting */
		p = get_num(line + 2, end, &n);
		if (p == NULL)
			return 0;
		if (starts(p, (size_t)(end - p), " EXISTS"))
			s->exists = (unsigned long)n;
		else if (starts(p, (size_t)(end - p), " FETCH "))
			s->rfetch = true;
		return 0;
	}
	if (starts(line, len, "+")) {
		s->rk = R_CONT;
		return 0;
	}
	if (s->st != S_GREET && len > tl && memcmp(line, s->tag, tl) == 0 &&
	    line[tl] == ' ') {
		s->rk = R_TAGGED;
		s->rok = starts(line + tl, len - tl, " OK");
		return 0;
	}
	return -1;
}

/* A FETCH response has been read whole. */
static void
fetch_done(struct isess *s)
{
	struct imap_run *r = s->r;

	s->fetched++;
	if (r->mode != M_FETCH)
		return;
	r->fetch_msgs++;
	r->fetch_bytes += s->rlit;
	if ((!s->rsize_seen || s->rsize != s->rlit) &&
	    r->size_mismatch++ < SHOW_ERRORS)
		pgb_warn("imap: FETCH %lu sent %" PRIu64 " octets of body, "
		    "RFC822.SIZE %" PRIu64 "%s", s->fetched, s->rlit, s->rsize,
		    s->rsize_seen ? "" : " (no RFC822.SIZE)");
}

/* The tagged OK of the command in state S->st: the next command. */
static int
tagged_ok(struct isess *s)
{
	struct imap_run *r = s->r;
	double t = pgb_now();

	switch (s->st) {
	case S_LOGIN:
		s->t_login = t - s->t_cmd;
		if (r->mode == M_LOGIN) {
			send_cmd(s, S_LOGOUT, "LOGOUT");
			return 0;
		}
		s->exists = 0;
		send_cmd(s, S_SELECT, "SELECT INBOX");
		s->t_select = s->t_cmd;
		return 0;
	case S_SELECT:
		r->msgs = s->exists;
		s->fetched = 0;
		if (r->mode == M_IDLE) {
			send_cmd(s, S_IDLE, "IDLE");
		} else if (r->mode == M_SELECT) {
			pgb_stats_add(&r->sel_order, t - s->t_select);
			send_cmd(s, S_FETCH, "UID FETCH 1:* (FLAGS)");
		} else if (s->exists == 0) {
			return -1;	/* nothing to fetch: a wrong mailbox */
		} else {
			send_cmd(s, S_FETCH, "FETCH 1:* (RFC822.SIZE "
			    "BODY.PEEK[])");
		}
		return 0;
	case S_FETCH:
		if (s->fetched != s->exists) {
			if (r->shown++ < SHOW_ERRORS)
				pgb_warn("imap: %lu FETCH responses for %lu "
				    "messages", s->fetched, s->exists);
			return -1;
		}
		if (r->mode == M_FETCH)
			r->fetch_secs += t - s->t_cmd;
		else
			pgb_stats_add(&r->order, t - s->t_select);
		send_cmd(s, S_LOGOUT, "LOGOUT");
		return 0;
	case S_LOGOUT:
		sess_done(s);
		return 0;
	default:
		return -1;
	}
}

/* A response has been read whole: act on it. */
static int
response(struct isess *s)
{
	switch (s->rk) {
	case R_UNTAGGED:
		if (s->st == S_GREET) {
			if (!s->rok)
				return -1;
			send_login(s);
		} else if (s->rfetch) {
			fetch_done(s);
		}
		return 0;
	case R_CONT:
		if (s->st != S_IDLE || s->idle)
			return -1;
		idle_up(s);
		return 0;
	case R_TAGGED:
		return s->rok ? tagged_ok(s) : -1;
	default:
		return -1;
	}
}

/* One line piece (without its line end). 0 when read, -1 when the
   session failed. */
static int
piece(struct isess *s, const char *line, size_t len)
{
	bool first = s->rk == R_NONE;
	const char *p;
	uint64_t n;
	int rc;

	if (first && first_piece(s, line, len) == -1)
		return -1;
	if (s->rfetch && s->r->mode == M_FETCH &&
	    (p = memmem(line, len, "RFC822.SIZE ", 12)) != NULL &&
	    get_num(p + 12, line + len, &n) != NULL) {
		s->rsize = n;
		s->rsize_seen = true;
	}
	if (literal_at_end(line, len, &n)) {
		s->lit_left = n;
		return 0;
	}
	rc = response(s);
	s->rk = R_NONE;
	s->rfetch = s->rsize_seen = false;
	s->rlit = s->rsize = 0;
	return rc;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct isess *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr eol;
	size_t eol_len, have;
	char *line;
	int rc;

	while ((have = evbuffer_get_length(in)) > 0) {
		if (s->lit_left > 0) {
			size_t n = have < s->lit_left ? have :
			    (size_t)s->lit_left;

			if (evbuffer_drain(in, n) == -1)
				pgb_fatal("evbuffer_drain failed");
			s->lit_left -= n;
			s->rlit += n;
			continue;
		}
		eol = evbuffer_search_eol(in, NULL, &eol_len,
		    EVBUFFER_EOL_CRLF);
		if (eol.pos == -1) {
			if (have > PIECE_MAX)
				sess_fail(s, "response line too long");
			return;
		}
		line = (char *)evbuffer_pullup(in, (ssize_t)((size_t)eol.pos +
		    eol_len));
		if (line == NULL)
			pgb_fatal("evbuffer_pullup failed");
		rc = piece(s, line, (size_t)eol.pos);
		if (rc == -1 && s->r->shown < SHOW_ERRORS)
			pgb_warn("imap: response: %.*s",
			    (int)(eol.pos > 200 ? 200 : eol.pos), line);
		if (evbuffer_drain(in, (size_t)eol.pos + eol_len) == -1)
			pgb_fatal("evbuffer_drain failed");
		if (rc == -1) {
			sess_fail(s, "unexpected response");
			return;
		}
		if (s->dead)
			return;
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct isess *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (s->st == S_CLOSING)
		sess_end(s);
	else
		sess_fail(s, what & BEV_EVENT_EOF ? "connection closed" :
		    strerror(EVUTIL_SOCKET_ERROR()));
}

static int
sess_open(struct imap_run *r, unsigned slot)
{
	struct isess *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -1;
	s->r = r;
	s->slot = slot;
	s->st = S_GREET;
	s->t_start = pgb_now();
	s->bev = pgb_connect(r->base, r->o->host, r->o->port, on_read,
	    on_event, s);
	if (s->bev == NULL) {
		free(s);
		return -1;
	}
	/* Fewer, larger reads of the bodies: the generator must not be
	   what limits the rate. */
	if (r->mode == M_FETCH)
		(void)bufferevent_set_max_single_read(s->bev, FETCH_READ);
	r->started++;
	r->open++;
	if (r->mode == M_IDLE) {
		s->next = r->list;
		r->list = s;
		r->inflight++;
	}
	return 0;
}

/* ---- the run ---- */

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct imap_run *r = arg;
	struct timeval tv = { (time_t)SETTLE_SECS, 0 };

	(void)fd;
	(void)what;
	/* imap-idle: all sessions are in IDLE (or failed): measure after a
	   moment. */
	if (r->mode == M_IDLE && r->t_up == 0 &&
	    r->up + r->failed >= r->o->count) {
		r->t_up = pgb_now();
		if (evtimer_add(r->timer, &tv) == -1)
			pgb_fatal("cannot start a timer");
		return;
	}
	if (r->t_up == 0 && pgb_now() - r->t0 > r->o->timeout) {
		r->timed_out = true;
		(void)event_base_loopbreak(r->base);
	}
}

/* imap-idle: first the measurement, then the end of the hold. */
static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct imap_run *r = arg;
	struct timeval tv = { (time_t)r->o->hold,
	    (suseconds_t)((r->o->hold - (double)(time_t)r->o->hold) * 1e6) };

	(void)fd;
	(void)what;
	if (r->measured) {
		(void)event_base_loopbreak(r->base);
		return;
	}
	if (pgb_mem_sample(r->o, &r->mem) == -1)
		pgb_warn("imap-idle: cannot read the server's memory");
	r->measured = true;
	(void)fprintf(stderr, "imap-idle: %lu sessions in IDLE; server Rss "
	    "%.1f MiB, Pss %.1f MiB in %u processes; holding %.0fs\n", r->up,
	    (double)r->mem.rss_kb / 1024, (double)r->mem.pss_kb / 1024,
	    r->mem.nproc, r->o->hold);
	if (evtimer_add(r->timer, &tv) == -1)
		pgb_fatal("cannot start a timer");
}

/* ---- results ---- */

static void
report_load(struct imap_run *r, const struct pgb_usage *u0,
    const struct pgb_usage *u1)
{
	double cpu_ms = pgb_cpu_ms(u0, u1);
	double secs = r->t_last > r->t0 ? r->t_last - r->t0 : 1e-9;

	(void)printf("RESULT mode=imap-login conc=%u ok=%lu failed=%lu "
	    "secs=%.3f rate=%.1f sess_p50_ms=%.2f sess_p99_ms=%.2f "
	    "login_p50_ms=%.2f login_p99_ms=%.2f cpu_ms=%.0f "
	    "cpu_ms_per_login=%.3f gen_cpu_pct=%.0f other_cpu_pct=%.0f "
	    "timeout=%d\n", r->o->conc, r->ok, r->failed, secs,
	    (double)r->ok / secs, pgb_stats_pct(&r->sess, 50) * 1e3,
	    pgb_stats_pct(&r->sess, 99) * 1e3,
	    pgb_stats_pct(&r->login, 50) * 1e3,
	    pgb_stats_pct(&r->login, 99) * 1e3, cpu_ms,
	    r->ok > 0 ? cpu_ms / (double)r->ok : 0, pgb_self_pct(u0, u1),
	    pgb_other_pct(u0, u1), r->timed_out);
	(void)fprintf(stderr, "imap-login: %lu sessions (%lu failed) in "
	    "%.2fs: %.1f logins/s, session p50 %.1f ms p99 %.1f ms\n", r->ok,
	    r->failed, secs, (double)r->ok / secs,
	    pgb_stats_pct(&r->sess, 50) * 1e3,
	    pgb_stats_pct(&r->sess, 99) * 1e3);
}

static void
print_list(const char *key, const struct pgb_stats *st)
{
	size_t i;

	(void)printf(" %s=", key);
	for (i = 0; i < st->n; i++)
		(void)printf("%s%.2f", i > 0 ? "," : "", st->v[i] * 1e3);
}

static void
report_seq(struct imap_run *r, const char *mode, const struct pgb_usage *u0,
    const struct pgb_usage *u1)
{
	double secs = r->fetch_secs;
	double first = r->order.n > 0 ? r->order.v[0] : 0;

	(void)printf("RESULT mode=%s ok=%lu failed=%lu msgs=%lu cpu_ms=%.0f",
	    mode, r->ok, r->failed, r->msgs, pgb_cpu_ms(u0, u1));
	if (r->mode == M_FETCH)
		(void)printf(" fetch_msgs=%lu fetch_bytes=%" PRIu64
		    " fetch_secs=%.3f mbps=%.1f size_mismatch=%lu",
		    r->fetch_msgs, r->fetch_bytes, secs,
		    secs > 0 ? (double)r->fetch_bytes / secs / 1e6 : 0,
		    r->size_mismatch);
	else {
		print_list("times_ms", &r->order);
		print_list("select_ms", &r->sel_order);
	}
	(void)printf(" other_cpu_pct=%.0f timeout=%d\n", pgb_other_pct(u0, u1),
	    r->timed_out);
	if (r->mode == M_FETCH)
		(void)fprintf(stderr, "%s: %lu sessions, %lu bodies, %.1f MB/s"
		    "\n", mode, r->ok, r->fetch_msgs,
		    secs > 0 ? (double)r->fetch_bytes / secs / 1e6 : 0);
	else
		(void)fprintf(stderr, "%s: %lu sessions on %lu messages: first "
		    "%.1f ms\n", mode, r->ok, r->msgs, first * 1e3);
}

static void
report_idle(struct imap_run *r, const struct pgb_usage *u0,
    const struct pgb_usage *u1)
{
	const struct pgb_mem *m = &r->mem, *b = &r->base_mem;
	double per = r->up > 0 ? (double)((int64_t)m->pss_kb -
	    (int64_t)b->pss_kb) / (double)r->up : 0;

	(void)printf("RESULT mode=imap-idle sessions=%lu failed=%lu "
	    "dropped=%lu setup_secs=%.3f rss_kb=%llu pss_kb=%llu "
	    "base_rss_kb=%llu base_pss_kb=%llu pss_kb_per_session=%.2f "
	    "server_procs=%u other_cpu_pct=%.0f timeout=%d\n", r->up,
	    r->failed, r->dropped, r->t_up > 0 ? r->t_up - r->t0 : 0,
	    (unsigned long long)m->rss_kb, (unsigned long long)m->pss_kb,
	    (unsigned long long)b->rss_kb, (unsigned long long)b->pss_kb, per,
	    m->nproc, pgb_other_pct(u0, u1), r->timed_out);
}

static enum imode
mode_of(const char *mode)
{
	static const struct {
		const char	*name;
		enum imode	 m;
	} modes[] = {
		{ "imap-select", M_SELECT }, { "imap-fetch", M_FETCH },
		{ "imap-login", M_LOGIN }, { "imap-idle", M_IDLE },
	};
	size_t i;

	for (i = 0; i < nitems(modes); i++)
		if (strcmp(mode, modes[i].name) == 0)
			return modes[i].m;
	pgb_fatal("unknown mode %s", mode);
}

static void
run_free(struct imap_run *r)
{
	struct isess *s, *next;

	for (s = r->list; s != NULL; s = next) {
		next = s->next;
		sess_free(s);
	}
	pgb_stats_free(&r->sess);
	pgb_stats_free(&r->login);
	pgb_stats_free(&r->order);
	pgb_stats_free(&r->sel_order);
	event_free(r->tick);
	if (r->timer != NULL)
		event_free(r->timer);
	event_base_free(r->base);
}

int
pgb_imap_run(const struct pgb_opts *o, const char *mode)
{
	struct imap_run r;
	struct pgb_usage u0, u1;
	struct timeval tv = { 0, 10000 };
	unsigned i, slots;
	int rc;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.mode = mode_of(mode);
	if (o->port == 0 || o->user == NULL || o->pass == NULL)
		pgb_fatal("%s: --port, --user and --pass are needed", mode);
	if (r.mode == M_LOGIN && o->count == 0 && o->duration == 0)
		pgb_fatal("imap-login: give -n or --duration");
	if (r.mode == M_IDLE && o->count == 0)
		pgb_fatal("imap-idle: give -n SESSIONS");
	r.base = event_base_new();
	r.tick = r.base != NULL ? event_new(r.base, -1, EV_PERSIST, on_tick,
	    &r) : NULL;
	if (r.tick == NULL || event_add(r.tick, &tv) == -1 ||
	    (r.mode == M_IDLE &&
	    (r.timer = evtimer_new(r.base, on_timer, &r)) == NULL))
		pgb_fatal("cannot create the event loop");
	if (pgb_cpu_sample(o, &u0) == -1 || (r.mode == M_IDLE &&
	    pgb_mem_sample(o, &r.base_mem) == -1))
		pgb_fatal("no server process among the --pid trees");
	r.t0 = pgb_now();
	slots = r.mode == M_LOGIN || r.mode == M_IDLE ? o->conc : 1;
	for (i = 0; i < slots && (r.mode == M_IDLE ? r.started < o->count :
	    !supply_done(&r)); i++)
		if (sess_open(&r, i) == -1)
			pgb_fatal("connect: %s", strerror(errno));
	(void)event_base_dispatch(r.base);
	(void)pgb_cpu_sample(o, &u1);
	if (r.mode == M_LOGIN)
		report_load(&r, &u0, &u1);
	else if (r.mode == M_IDLE)
		report_idle(&r, &u0, &u1);
	else
		report_seq(&r, mode, &u0, &u1);
	rc = r.timed_out || r.failed > 0 || r.size_mismatch > 0 ||
	    r.dropped > 0 ? 1 : 0;
	run_free(&r);
	return rc;
}
