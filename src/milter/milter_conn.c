/*
 * milter_conn.c - one content filter's connection (milter_int.h): the
 * socket, unix or TCP, opened without blocking; the option negotiation;
 * the replies read with their lengths tracked across any split of the
 * stream, each validated against the command it answers before the chain
 * sees it; the connect and command timeouts and the total timeout of a
 * transaction; back-pressure when a filter reads slower than we send.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "core/config.h"
#include "milter/milter_int.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/net.h"
#include "util/xalloc.h"
#include "util/compat.h"

static void	on_read(struct bufferevent *, void *);
static void	on_write(struct bufferevent *, void *);
static void	on_event(struct bufferevent *, short, void *);

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct mfilter *f = arg;

	(void)fd;
	(void)what;
	if (f->connecting)
		mfilter_fail(f, "connect timeout");
	else if (f->in_tx && clock_mono_ms() >= f->tx_deadline_ms)
		mfilter_fail(f, "total timeout of the message");
	else if (f->waiting)
		mfilter_fail(f, "no reply within the command timeout");
	else
		mfilter_fail(f, "not reading what we send");
}

static void
timer_start(struct mfilter *f, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	(void)evtimer_add(f->timer, &tv);
}

void
mfilter_init(struct mfilter *f, struct milter_chain *ch,
    const struct milter_cfg *cfg)
{
	memset(f, 0, sizeof(*f));
	f->ch = ch;
	f->cfg = cfg;
	f->timer = evtimer_new(ch->base, on_timer, f);
	milter_reader_init(&f->rd, 0);
	buf_init(&f->conn_reply, 4096);
	f->conn_v = MILTER_V_CONTINUE;
}

/* The socket address of the filter into SS. Its length, or 0. */
static socklen_t
filter_addr(const struct milter_cfg *m, struct sockaddr_storage *ss)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)ss;
	struct netaddr a;

	memset(ss, 0, sizeof(*ss));
	if (m->family == MILTER_UNIX) {
		sun->sun_family = AF_UNIX;
		if (str_copy(sun->sun_path, m->path, sizeof(sun->sun_path)) ==
		    -1)
			return 0;
		return (socklen_t)sizeof(*sun);
	}
	if (net_addr_parse(m->host, &a) == -1)
		return 0;
	return net_addr_to_sockaddr(&a, m->port, ss);
}

int
mfilter_open(struct mfilter *f)
{
	struct sockaddr_storage ss;
	socklen_t len = filter_addr(f->cfg, &ss);

	f->waiting_stage = MILTER_S_OPTNEG;
	if (len == 0) {
		mfilter_fail(f, "bad address");
		return -1;
	}
	f->bev = bufferevent_socket_new(f->ch->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (f->bev == NULL) {
		mfilter_fail(f, "cannot make a socket");
		return -1;
	}
	bufferevent_setcb(f->bev, on_read, on_write, on_event, f);
	(void)bufferevent_enable(f->bev, EV_READ | EV_WRITE);
	f->connecting = true;
	timer_start(f, f->cfg->connect_timeout * 1000);
	if (bufferevent_socket_connect(f->bev, (struct sockaddr *)&ss,
	    (int)len) == -1) {
		mfilter_fail(f, "cannot connect");
		return -1;
	}
	return 0;
}

int
mfilter_write(struct mfilter *f, const void *p, size_t len)
{
	ssize_t n = 0;

	if (f->bev == NULL)
		goto fail;
	/* Nothing queued before it: straight to the socket. Through the
	   bufferevent a command costs two epoll_ctl() (write interest on,
	   then off) and a pass of the loop before it leaves. What does not
	   fit, and any error, go the bufferevent's way. */
	if (!f->connecting &&
	    evbuffer_get_length(bufferevent_get_output(f->bev)) == 0) {
		n = send(bufferevent_getfd(f->bev), p, len,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			n = 0;
	}
	if ((size_t)n < len && bufferevent_write(f->bev, (const char *)p + n,
	    len - (size_t)n) == -1)
		goto fail;
	return 0;
fail:
	mfilter_fail(f, "cannot send");
	return -1;
}

void
mfilter_expect(struct mfilter *f, enum milter_stage stage)
{
	uint64_t ms = f->cfg->command_timeout * 1000, now = clock_mono_ms();

	f->waiting = true;
	f->waiting_stage = stage;
	if (f->in_tx && stage != MILTER_S_OPTNEG && stage != MILTER_S_CONNECT &&
	    stage != MILTER_S_HELO)
		ms = f->tx_deadline_ms <= now ? 1 :
		    f->tx_deadline_ms - now < ms ? f->tx_deadline_ms - now : ms;
	timer_start(f, ms);
}

bool
mfilter_backlogged(struct mfilter *f)
{
	struct evbuffer *out;

	if (f->bev == NULL)
		return false;
	out = bufferevent_get_output(f->bev);
	if (evbuffer_get_length(out) <= MILTER_OUTPUT_MAX)
		return false;
	/* on_write() goes on once half has gone. */
	f->backlog = true;
	bufferevent_setwatermark(f->bev, EV_WRITE, MILTER_OUTPUT_MAX / 2, 0);
	timer_start(f, f->cfg->command_timeout * 1000);
	return true;
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct mfilter *f = arg;
	struct milter_chain *ch = f->ch;

	(void)bev;
	if (!f->backlog || evbuffer_get_length(bufferevent_get_output(
	    f->bev)) > MILTER_OUTPUT_MAX / 2)
		return;
	f->backlog = false;
	bufferevent_setwatermark(f->bev, EV_WRITE, 0, 0);
	if (ch->step == STEP_NONE || &ch->f[ch->cur] != f)
		return;
	(void)evtimer_del(f->timer);
	mchain_advance(ch);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct mfilter *f = arg;
	struct milter_chain *ch = f->ch;
	char why[160];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		f->connecting = false;
		buf_reset(&ch->pkt);
		if (milter_enc_optneg(&ch->pkt, MILTER_VERSION, MILTER_A_ALL,
		    MILTER_P_OFFER) == -1 || mfilter_write(f, ch->pkt.data,
		    ch->pkt.len) == -1)
			return;
		buf_reset(&ch->pkt);
		mfilter_expect(f, MILTER_S_OPTNEG);
		return;
	}
	if (!f->waiting && !f->connecting && !f->in_tx) {
		/* Closed while idle between transactions: opened again at
		   the next. */
		log_info("sess=%s milter=%s closed the connection while idle",
		    ch->sess, f->cfg->name);
		mfilter_close(f);
		return;
	}
	(void)str_fmt(why, sizeof(why), "%s%s%s", f->connecting ?
	    "cannot connect" : (what & BEV_EVENT_EOF) ? "connection closed" :
	    "connection error", (what & BEV_EVENT_ERROR) ? ": " : "",
	    (what & BEV_EVENT_ERROR) ? evutil_socket_error_to_string(
	    EVUTIL_SOCKET_ERROR()) : "");
	mfilter_fail(f, why);
}

/* One whole packet in the reader: validated, then handed on. 0 to read
   on, -1 when the filter went (failed, or closed by the chain). */
static int
on_packet(struct mfilter *f)
{
	struct milter_reply r;
	const char *err;
	uint32_t a = f->negotiated ? f->actions : MILTER_A_ALL;
	uint32_t p = f->negotiated ? f->protocol : MILTER_P_OFFER;

	if (!f->waiting) {
		mfilter_fail(f, "a reply when none was asked for");
		return -1;
	}
	if (milter_reply_parse(&f->rd, f->waiting_stage, a, p, &r, &err) == -1) {
		mfilter_fail(f, err);
		return -1;
	}
	f->waiting = false;
	(void)evtimer_del(f->timer);
	mfilter_reply(f, &r);
	return f->bev == NULL ? -1 : 0;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct mfilter *f = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const char *err;
	size_t n, used;
	int r;

	while (f->bev != NULL && (n = evbuffer_get_length(in)) > 0) {
		size_t seg = evbuffer_get_contiguous_space(in);
		const unsigned char *p = evbuffer_pullup(in, (ssize_t)seg);

		(void)n;
		r = milter_reader_feed(&f->rd, p, seg, &used, &err);
		if (r == -1) {
			mfilter_fail(f, err);
			return;
		}
		(void)evbuffer_drain(in, used);
		if (r == 1 && on_packet(f) == -1)
			return;
	}
}

void
mfilter_negotiated(struct mfilter *f, const struct milter_reply *r)
{
	size_t i;

	f->negotiated = true;
	f->actions = r->actions;
	f->protocol = r->protocol;
	for (i = 0; i < MILTER_M_NSTAGES; i++) {
		free(f->macros[i]);
		f->macros[i] = r->macros[i] != NULL ? xstrdup(r->macros[i]) :
		    NULL;
	}
	log_debug("sess=%s milter=%s negotiated version=%u actions=0x%x "
	    "protocol=0x%x", f->ch->sess, f->cfg->name, r->version,
	    r->actions, r->protocol);
}

void
mfilter_abort(struct mfilter *f)
{
	struct buf *b = &f->ch->pkt;

	buf_reset(b);
	if (milter_enc_bare(b, MILTER_C_ABORT) == 0)
		(void)bufferevent_write(f->bev, b->data, b->len);
	buf_reset(b);
}

void
mfilter_close(struct mfilter *f)
{
	size_t i;

	if (f->bev != NULL)
		bufferevent_free(f->bev);
	f->bev = NULL;
	(void)evtimer_del(f->timer);
	milter_reader_free(&f->rd);
	milter_reader_init(&f->rd, 0);
	for (i = 0; i < MILTER_M_NSTAGES; i++) {
		free(f->macros[i]);
		f->macros[i] = NULL;
	}
	f->connecting = f->negotiated = f->greeted = f->waiting = false;
	f->backlog = false;
	f->in_tx = f->tx_done = f->conn_done = false;
	f->conn_v = MILTER_V_CONTINUE;
}

void
mfilter_quit(struct mfilter *f)
{
	struct evbuffer *out;
	evutil_socket_t fd;

	if (f->bev != NULL && f->negotiated) {
		/* Best effort, now, after what is still queued: the
		   connection goes right after. The output of a bufferevent
		   is frozen at its front for anyone else; it is ours now. */
		out = bufferevent_get_output(f->bev);
		fd = bufferevent_getfd(f->bev);
		(void)evbuffer_unfreeze(out, 1);
		if (milter_enc_bare(&f->ch->pkt, MILTER_C_QUIT) == 0)
			(void)evbuffer_add(out, f->ch->pkt.data,
			    f->ch->pkt.len);
		buf_reset(&f->ch->pkt);
		(void)evbuffer_write(out, fd);
	}
	mfilter_close(f);
	event_free(f->timer);
	milter_reader_free(&f->rd);
	buf_free(&f->conn_reply);
}
