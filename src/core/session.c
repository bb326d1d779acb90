/*
 * session.c - the protocol session skeleton (session.h): the life of a
 * session on its connection, its input loop and its command dispatch.
 *
 * Input is processed line by line until a command starts an async step
 * (a lookup, a password check, a delivery on a worker); its callback
 * resumes the loop, so pipelined commands keep their order (RFC 2920,
 * RFC 2449). Reading stops while the output exceeds the protocol's
 * high-water mark (a client that does not read its replies) and starts
 * again when it has read; the read watermark caps buffered input. A
 * session is never freed inside its own callbacks: life.c frees it from
 * a deferred event.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "core/session.h"
#include "core/conn.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

const char *
session_state_name(const struct session *s)
{
	return s->proto->state_names[s->state];
}

void
session_enter_state(struct session *s, unsigned st)
{
	const struct session_proto *p = s->proto;

	/* The line limit is the state's: longer SASL responses only while
	   one is expected (RFC 4954 section 4, RFC 5034 section 4). */
	s->lr.max = (SESSION_ST(st) & p->auth_states) ? p->auth_line_max :
	    p->line_max;
	if (s->state == st)
		return;
	log_debug("sess=%s %s state %s -> %s", s->conn->id, p->name,
	    p->state_names[s->state], p->state_names[st]);
	s->state = st;
}

static void
session_free(struct session *s)
{
	worker_cancel(&s->job);
	if (s->ev_delay != NULL)
		event_free(s->ev_delay);
	LIST_REMOVE(s, entry);
	s->set->n--;
	s->proto->fini(s);
	buf_free(&s->line);
	life_fini(&s->life);
	conn_free(&s->conn);
	free(s);
}

void
session_set_free(struct session_set *set)
{
	struct session *s, *next;

	for (s = LIST_FIRST(&set->list); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		/* Best effort: the socket may take the line at once. */
		if (s->state != s->proto->tls_state &&
		    s->state != s->proto->closing_state && !s->life.dying) {
			s->proto->shutdown(s);
			conn_flush_now(s->conn);
		}
		session_free(s);
	}
}

static void
destroy(void *arg)
{
	session_free(arg);
}

static void
resume(void *arg)
{
	session_process(arg);
}

void
session_close(struct session *s, const char *why)
{
	if (s->state == s->proto->closing_state || s->life.dying)
		return;
	log_debug("sess=%s %s closing: %s", s->conn->id, s->proto->name, why);
	session_enter_state(s, s->proto->closing_state);
	worker_cancel(&s->job);
	if (s->ev_delay != NULL)
		(void)event_del(s->ev_delay);
	s->busy = false;
	life_close(&s->life);
}

void
session_count_error(struct session *s)
{
	if (++s->errors < s->max_errors)
		return;
	s->proto->too_many_errors(s);
	session_close(s, "too many errors");
}

void
session_submit(struct session *s, struct worker_pool *pool,
    const struct worker_ops *ops, void *arg)
{
	s->busy = true;
	s->job = worker_submit(pool, ops, arg);
}

static void
on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	uint64_t now = clock_mono_us(), left;
	struct timeval tv;

	(void)fd;
	(void)what;
	if (now < s->delay_until_us) {
		/* libevent's clock is coarse: never answer early. */
		left = s->delay_until_us - now;
		tv.tv_sec = (time_t)(left / 1000000);
		tv.tv_usec = (suseconds_t)(left % 1000000);
		(void)evtimer_add(s->ev_delay, &tv);
		return;
	}
	s->delayed(s);
}

void
session_delay(struct session *s, const struct timeval *tv,
    void (*fn)(struct session *))
{
	if (s->ev_delay == NULL)
		s->ev_delay = evtimer_new(bufferevent_get_base(s->conn->bev),
		    on_delay, s);
	if (s->ev_delay == NULL)
		PANIC("cannot create a session timer");
	s->delayed = fn;
	s->busy = true;
	/* TV counts from now, not from the start of this loop iteration
	   (libevent's cached time): never a shorter delay. */
	s->delay_until_us = clock_mono_us() + (uint64_t)tv->tv_sec * 1000000 +
	    (uint64_t)tv->tv_usec;
	(void)event_base_update_cache_time(bufferevent_get_base(s->conn->bev));
	(void)evtimer_add(s->ev_delay, tv);
}

/* Runs the command of the line in s->line, if the table allows it. */
static void
dispatch(struct session *s)
{
	const struct session_proto *p = s->proto;
	const struct session_cmd *cmd;
	const char *arg;
	size_t arglen;

	cmd = p->parse(s, s->line.data, s->line.len, &arg, &arglen);
	if (cmd == NULL)
		return;
	if (!(cmd->states & SESSION_ST(s->state)))
		p->refuse(s, cmd, SESSION_WRONG_STATE, arg, arglen);
	else if ((cmd->flags & SESSION_CMD_NOARG) && arglen > 0)
		p->refuse(s, cmd, SESSION_EXTRA_ARG, arg, arglen);
	else if ((cmd->flags & SESSION_CMD_ARG) && arglen == 0)
		p->refuse(s, cmd, SESSION_MISSING_ARG, arg, arglen);
	else
		cmd->fn(s, arg, arglen);
}

/* One line from IN; false when there is no complete line yet. */
static bool
read_line(struct session *s, struct evbuffer *in)
{
	enum line_result r = linereader_get(&s->lr, in, &s->line);

	switch (r) {
	case LINE_NONE:
		return false;
	case LINE_TOO_LONG:
	case LINE_BARE:
		s->proto->bad_line(s, r);
		break;
	case LINE_OK:
		if (SESSION_ST(s->state) & s->proto->auth_states)
			s->proto->auth_line(s, s->line.data, s->line.len);
		else
			dispatch(s);
		/* No copy of credentials stays behind. */
		if (s->line.data != NULL)
			OPENSSL_cleanse(s->line.data, s->line.len);
		break;
	}
	return true;
}

void
session_process(struct session *s)
{
	const struct session_proto *p = s->proto;
	struct evbuffer *in, *out;
	enum session_input r;

	while (!s->busy && !s->life.dying && s->state != p->tls_state &&
	    s->state != p->closing_state) {
		in = bufferevent_get_input(s->conn->bev);
		out = bufferevent_get_output(s->conn->bev);
		if (p->output != NULL && (r = p->output(s, out)) !=
		    SESSION_INPUT_LINES) {
			if (r == SESSION_INPUT_WAIT) {
				s->stalled = true;	/* on_write resumes */
				return;
			}
			continue;
		}
		if (evbuffer_get_length(out) > p->output_max) {
			/* Resumed by on_write once the client reads. */
			bufferevent_disable(s->conn->bev, EV_READ);
			s->stalled = true;
			return;
		}
		if (p->input != NULL && (r = p->input(s, in)) !=
		    SESSION_INPUT_LINES) {
			if (r == SESSION_INPUT_WAIT)
				return;
			continue;
		}
		if (!read_line(s, in))
			return;
	}
}

void
session_resume(struct session *s)
{
	s->busy = false;
	session_process(s);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	session_process(arg);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (life_written(&s->life))
		return;
	if (s->stalled && s->state != s->proto->tls_state) {
		/* The client read its replies: read its input again. */
		s->stalled = false;
		bufferevent_enable(s->conn->bev, EV_READ);
		life_wake(&s->life);
	}
}

static void on_event(struct bufferevent *, short, void *);

/* (Re)installs the callbacks on the connection's current bufferevent. */
static void
setup_bev(struct session *s)
{
	bufferevent_setcb(s->conn->bev, on_read, on_write, on_event, s);
	bufferevent_setwatermark(s->conn->bev, EV_READ, 0,
	    s->proto->input_max);
	/* libevent writes at most 16 KiB per call by default: a FETCH or
	   RETR of megabytes would cost a system call per 16 KiB. */
	(void)bufferevent_set_max_single_write(s->conn->bev,
	    s->proto->output_max);
	conn_set_timeout(s->conn, s->timeout);
	bufferevent_enable(s->conn->bev, EV_READ | EV_WRITE);
}

void
session_starttls(struct session *s)
{
	const char *err;

	session_enter_state(s, s->proto->tls_state);
	if (conn_starttls(s->conn, &err) == -1) {
		log_error("sess=%s %s %s: %s", s->conn->id, s->proto->name,
		    s->proto->starttls_name, err);
		life_kill(&s->life);
		return;
	}
	s->stalled = false;
	setup_bev(s);
}

int
session_compress(struct session *s)
{
	const char *err;

	if (conn_compress(s->conn, &err) == -1) {
		log_error("sess=%s %s compress: %s", s->conn->id,
		    s->proto->name, err);
		life_kill(&s->life);
		return -1;
	}
	setup_bev(s);
	return 0;
}

static void
tls_connected(struct session *s)
{
	char info[160], q[LOG_QUOTE_SZ(256)];
	const char *sni;

	conn_tls_done(s->conn);
	conn_tls_info(s->conn, info, sizeof(info));
	sni = SSL_get_servername(s->conn->ssl, TLSEXT_NAMETYPE_host_name);
	log_info("sess=%s %s tls client=%s %s%s%s", s->conn->id,
	    s->proto->name, s->conn->peer_str, info, sni != NULL ? " sni=" : "",
	    sni != NULL ? log_quote(q, sizeof(q), sni) : "");
	if (s->state == s->proto->tls_state) {
		s->proto->tls_reset(s);
		session_process(s);
	}
}

/* The handshake failed, or the client left before it was done: once,
   with the reason; a client that sent nothing at all (a port scan) at
   info level only. */
static void
tls_failed(struct session *s)
{
	char why[160], q[LOG_QUOTE_SZ(160)];

	if (conn_tls_error(s->conn, why, sizeof(why)))
		log_warn("sess=%s %s tls handshake failed client=%s reason=%s",
		    s->conn->id, s->proto->name, s->conn->peer_str,
		    log_quote_text(q, sizeof(q), why));
	else
		log_info("sess=%s %s tls handshake not started client=%s "
		    "reason=%s", s->conn->id, s->proto->name,
		    s->conn->peer_str, log_quote_text(q, sizeof(q), why));
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	const struct session_proto *p = s->proto;
	bool reply;

	(void)bev;
	if (s->life.dying)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		tls_connected(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		reply = s->state != p->tls_state &&
		    s->state != p->closing_state;
		p->timeout(s, reply);
		if (reply) {
			/* The reply gets ten seconds to leave. */
			session_close(s, "timeout");
			bufferevent_enable(s->conn->bev, EV_WRITE);
			conn_set_timeout(s->conn, 10);
			return;
		}
		life_kill(&s->life);
		return;
	}
	if ((what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) &&
	    s->conn->ssl != NULL && !s->conn->tls)
		tls_failed(s);
	else if (what & BEV_EVENT_ERROR)
		log_debug("sess=%s %s connection error", s->conn->id, p->name);
	if (p->lost != NULL)
		p->lost(s);
	life_kill(&s->life);
}

struct session *
session_new(const struct session_proto *p, size_t size,
    struct session_set *set, struct event_base *base, struct conn *c,
    uint64_t timeout, uint64_t max_errors)
{
	struct session *s = xcalloc(1, size);

	s->proto = p;
	s->set = set;
	s->conn = c;
	s->timeout = timeout;
	s->max_errors = max_errors;
	linereader_init(&s->lr, p->line_max);
	buf_init(&s->line, p->auth_line_max > p->line_max ?
	    p->auth_line_max : p->line_max);
	life_init(&s->life, base, c, resume, destroy, s);
	LIST_INSERT_HEAD(&set->list, s, entry);
	set->n++;
	log_info("sess=%s %s connect client=%s port=%u listener=%s", c->id,
	    p->name, c->peer_str, (unsigned)c->peer_port,
	    config_role_name(c->lc->role));
	setup_bev(s);
	return s;
}
