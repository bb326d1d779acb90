/*
 * smtp_server.c - SMTP session life and I/O: accept, the input loop with
 * table-driven dispatch, replies, flow control, closing (RFC 5321, RFC
 * 2920 pipelining).
 *
 * Input is processed line by line until a command starts an async step
 * (a lookup or a delivery on a worker); its callback resumes the loop,
 * so pipelined commands keep their order. Reading stops while the
 * output exceeds SMTP_OUTPUT_MAX (a client that does not read its
 * replies) and the read watermark caps buffered input. A session is
 * never freed inside its own callbacks: it is marked and freed from a
 * deferred event.
 */
#include <stdarg.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "smtp/smtp_int.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

const char smtp_refuse_line[] =
    "421 4.7.0 Too many connections, try again later\r\n";

static const char *const state_names[SS_NSTATES] = {
	[SS_CONNECTED] = "connected", [SS_HELO] = "helo",
	[SS_READY] = "ready", [SS_MAIL] = "mail", [SS_RCPT] = "rcpt",
	[SS_DATA] = "data", [SS_BDAT] = "bdat", [SS_TLS] = "tls",
	[SS_CLOSING] = "closing",
};

const char *
smtp_state_name(enum smtp_state st)
{
	return state_names[st];
}

void
smtp_enter_state(struct smtp_session *s, enum smtp_state st)
{
	if (s->state == st)
		return;
	log_debug("sess=%s smtp state %s -> %s", s->conn->id,
	    state_names[s->state], state_names[st]);
	s->state = st;
}

struct smtp_server *
smtp_server_new(const struct smtp_deps *d)
{
	struct smtp_server *srv = xcalloc(1, sizeof(*srv));

	memcpy((void *)&srv->d, d, sizeof(*d));
	return srv;
}

static void
session_free(struct smtp_session *s)
{
	struct smtp_server *srv = s->srv;

	worker_cancel(&s->job);
	dns_cancel(&s->dnsreq);
	if (s->ev_delay != NULL)
		event_free(s->ev_delay);
	LIST_REMOVE(s, entry);
	srv->nsessions--;
	log_info("sess=%s smtp disconnect client=%s msgs=%llu errors=%u "
	    "duration=%llums", s->conn->id, s->conn->peer_str,
	    (unsigned long long)s->nmsgs, s->errors,
	    (unsigned long long)(clock_mono_ms() - s->conn->start_ms));
	smtp_tx_free(&s->tx);
	buf_free(&s->line);
	life_fini(&s->life);
	conn_free(&s->conn);
	free(s);
}

void
smtp_server_free(struct smtp_server **sp)
{
	struct smtp_server *srv = *sp;
	struct smtp_session *s, *next;

	if (srv == NULL)
		return;
	*sp = NULL;
	for (s = LIST_FIRST(&srv->sessions); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		/* Best effort: the socket may take the line at once. */
		if (s->state != SS_TLS && s->state != SS_CLOSING &&
		    !s->life.dying) {
			smtp_reply_id(s, REPLY_SHUTDOWN);
			conn_flush_now(s->conn);
		}
		session_free(s);
	}
	free(srv);
}

static void
destroy(void *arg)
{
	session_free(arg);
}

static void
resume(void *arg)
{
	smtp_process(arg);
}

void
smtp_close(struct smtp_session *s, const char *why)
{
	if (s->state == SS_CLOSING || s->life.dying)
		return;
	log_debug("sess=%s smtp closing: %s", s->conn->id, why);
	smtp_enter_state(s, SS_CLOSING);
	worker_cancel(&s->job);
	if (s->ev_delay != NULL)
		(void)event_del(s->ev_delay);
	s->busy = false;
	life_close(&s->life);
}

static void
write_line(struct smtp_session *s, const char *text, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(s->conn->bev);

	if (s->life.dying)
		return;
	(void)evbuffer_add(out, text, len);
	(void)evbuffer_add(out, "\r\n", 2);
}

/* Sends LINE (LEN octets, no CRLF) as a reply and traces it. */
static void
send_reply(struct smtp_session *s, const char *line, size_t len)
{
	write_line(s, line, len);
	log_debug("sess=%s smtp reply \"%.*s\"", s->conn->id, (int)len, line);
}

/* A negative reply caused by the client counts towards max_errors. */
static void
count_error(struct smtp_session *s)
{
	if (++s->errors >= s->cfg->max_errors) {
		log_warn("sess=%s smtp too-many-errors client=%s errors=%u",
		    s->conn->id, s->conn->peer_str, s->errors);
		smtp_reply_id(s, REPLY_TOO_MANY_ERRORS);
		smtp_close(s, "too many errors");
	}
}

void
smtp_reply(struct smtp_session *s, int code, const char *esc,
    const char *fmt, ...)
{
	char line[SMTP_LINE_MAX + 64];
	va_list ap;
	int n, m;

	n = snprintf(line, sizeof(line), "%d %s%s", code, esc,
	    *esc != '\0' ? " " : "");
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	if ((size_t)(n + m) >= sizeof(line))
		m = (int)(sizeof(line) - (size_t)n - 1);
	send_reply(s, line, (size_t)(n + m));
}

void
smtp_reply_id(struct smtp_session *s, enum reply_id id)
{
	char line[SMTP_LINE_MAX + 64];

	send_reply(s, line, reply_line(line, sizeof(line), id));
}

void
smtp_reply_text(struct smtp_session *s, enum reply_text_id id,
    const char *value)
{
	char line[SMTP_LINE_MAX + 64];

	send_reply(s, line, reply_line_text(line, sizeof(line), id, value));
}

void
smtp_reply_num(struct smtp_session *s, enum reply_num_id id, uint64_t value)
{
	char line[SMTP_LINE_MAX + 64];

	send_reply(s, line, reply_line_num(line, sizeof(line), id, value));
}

void
smtp_reply_error(struct smtp_session *s, enum reply_id id)
{
	smtp_reply_id(s, id);
	count_error(s);
}

void
smtp_reply_error_text(struct smtp_session *s, enum reply_text_id id,
    const char *value)
{
	smtp_reply_text(s, id, value);
	count_error(s);
}

static void
dispatch(struct smtp_session *s)
{
	const struct smtp_cmd *cmd;
	const char *arg;
	size_t arglen;
	enum smtp_verb verb;

	verb = smtp_cmd_verb(s->line.data, s->line.len, &arg, &arglen);
	if (log_debug_enabled()) {
		char vis[128];

		/* Never log AUTH data (STYLE.md section 5). */
		log_debug("sess=%s smtp command \"%s\"", s->conn->id,
		    verb == V_AUTH ? "AUTH ..." : str_vis(vis, sizeof(vis),
		    s->line.data, s->line.len));
	}
	cmd = smtp_cmd_find(verb);
	if (cmd == NULL) {
		smtp_reply_error(s, verb == V_UNKNOWN ? REPLY_UNKNOWN_CMD :
		    REPLY_NOT_IMPL);
		return;
	}
	if (!(cmd->states & ST(s->state))) {
		uint64_t size;
		bool last;

		/* A refused BDAT is still followed by its chunk (RFC 3030
		   section 2): skip it, or it would be read as commands. */
		if (verb == V_BDAT &&
		    smtp_parse_bdat(arg, arglen, &size, &last) == 0 &&
		    size > 0) {
			s->discard = size;
			s->discard_reply = smtp_sequence_error(s, verb);
			return;
		}
		smtp_reply_error(s, smtp_sequence_error(s, verb));
		return;
	}
	if ((cmd->flags & CMD_NOARG) && arglen > 0) {
		smtp_reply_error_text(s, REPLY_SYNTAX, "no arguments allowed");
		return;
	}
	cmd->fn(s, arg, arglen);
}

void
smtp_process(struct smtp_session *s)
{
	struct evbuffer *in, *out;

	while (!s->busy && !s->life.dying) {
		if (s->state == SS_CONNECTED || s->state == SS_TLS ||
		    s->state == SS_CLOSING)
			return;
		in = bufferevent_get_input(s->conn->bev);
		out = bufferevent_get_output(s->conn->bev);
		if (evbuffer_get_length(out) > SMTP_OUTPUT_MAX) {
			/* Resumed by on_write once the client reads. */
			bufferevent_disable(s->conn->bev, EV_READ);
			return;
		}
		if (s->discard > 0) {
			size_t n = evbuffer_get_length(in);

			if (n == 0)
				return;
			if (n > s->discard)
				n = (size_t)s->discard;
			(void)evbuffer_drain(in, n);
			s->discard -= n;
			if (s->discard == 0)
				smtp_reply_error(s, s->discard_reply);
			continue;
		}
		if (s->state == SS_DATA || s->state == SS_BDAT) {
			if (!smtp_data_input(s))
				return;
			continue;
		}
		switch (linereader_get(&s->lr, in, &s->line)) {
		case LINE_NONE:
			return;
		case LINE_TOO_LONG:
			s->sasl = SASL_NONE;
			s->lr.max = SMTP_LINE_MAX;
			smtp_reply_error(s, REPLY_LINE_TOO_LONG);
			break;
		case LINE_BARE:
			s->sasl = SASL_NONE;
			s->lr.max = SMTP_LINE_MAX;
			smtp_reply_error(s, REPLY_BARE_LF);
			break;
		case LINE_OK:
			if (s->sasl != SASL_NONE)
				smtp_auth_response(s, s->line.data,
				    s->line.len);
			else
				dispatch(s);
			/* No copy of credentials stays behind. */
			if (s->line.data != NULL)
				OPENSSL_cleanse(s->line.data, s->line.len);
			break;
		}
	}
}

void
smtp_resume(struct smtp_session *s)
{
	s->busy = false;
	if (s->state != SS_CLOSING && !s->life.dying)
		smtp_process(s);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	smtp_process(arg);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;

	(void)bev;
	if (life_written(&s->life))
		return;
	if (!(bufferevent_get_enabled(s->conn->bev) & EV_READ) &&
	    s->state != SS_TLS) {
		/* The client read its replies: read its input again. */
		bufferevent_enable(s->conn->bev, EV_READ);
		life_wake(&s->life);
	}
}

static void on_event(struct bufferevent *, short, void *);

/* (Re)installs the callbacks on the connection's current bufferevent. */
static void
setup_bev(struct smtp_session *s)
{
	bufferevent_setcb(s->conn->bev, on_read, on_write, on_event, s);
	bufferevent_setwatermark(s->conn->bev, EV_READ, 0, SMTP_INPUT_MAX);
	conn_set_timeout(s->conn, s->cfg->smtp_timeout);
	bufferevent_enable(s->conn->bev, EV_READ | EV_WRITE);
}

void
smtp_starttls_begin(struct smtp_session *s)
{
	const char *err;

	smtp_enter_state(s, SS_TLS);
	if (conn_starttls(s->conn, &err) == -1) {
		log_error("sess=%s smtp starttls: %s", s->conn->id, err);
		life_kill(&s->life);
		return;
	}
	setup_bev(s);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;

	(void)bev;
	if (s->life.dying)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		char info[160];

		conn_tls_done(s->conn);
		conn_tls_info(s->conn, info, sizeof(info));
		log_info("sess=%s smtp tls client=%s %s", s->conn->id,
		    s->conn->peer_str, info);
		if (s->state == SS_TLS) {
			/* RFC 3207 section 4.2: forget everything learnt
			   before the handshake, a login included. */
			s->helo[0] = '\0';
			s->esmtp = false;
			s->rs.authenticated = false;
			s->rs.auth_mailbox[0] = '\0';
			s->rs.auth_customer[0] = '\0';
			smtp_enter_state(s, SS_HELO);
			smtp_process(s);
		}
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		log_info("sess=%s smtp timeout client=%s state=%s",
		    s->conn->id, s->conn->peer_str, state_names[s->state]);
		if (s->state != SS_TLS && s->state != SS_CLOSING) {
			smtp_reply_id(s, REPLY_TIMEOUT);
			smtp_close(s, "timeout");
			bufferevent_enable(s->conn->bev, EV_WRITE);
			conn_set_timeout(s->conn, 10);
			return;
		}
		life_kill(&s->life);
		return;
	}
	if (what & BEV_EVENT_ERROR)
		log_debug("sess=%s smtp connection error", s->conn->id);
	if (s->tx != NULL && (s->state == SS_DATA || s->state == SS_BDAT))
		log_info("sess=%s smtp lost client=%s during %s",
		    s->conn->id, s->conn->peer_str, state_names[s->state]);
	life_kill(&s->life);
}

#define RDNS_TIMEOUT_MS 10000

/* One pre-greeting step (reverse DNS, the relay lookup) is done. */
static void
pre_greet_done(struct smtp_session *s)
{
	if (--s->pre_greet > 0 || s->life.dying)
		return;
	if (s->conn->lc->gate_connect && !s->rs.trusted &&
	    !s->ip_authorized) {
		/* SPEC 2: the original relay-host behaviour; closed, but only
		   for now, when the relay table could not be asked. */
		enum reply_text_id id = s->ip_authz_failed ?
		    REPLY_GATE_TEMP : REPLY_GATE;

		log_info("sess=%s smtp gate-refused client=%s rule=%s",
		    s->conn->id, s->conn->peer_str, s->ip_authz_failed ?
		    "temporary-failure" : "authorized");
		smtp_reply_text(s, id, s->cfg->hostname);
		smtp_close(s, "gate=connect");
		return;
	}
	smtp_greet(s);
	smtp_process(s);
}

static void
on_rdns(int status, const char *name, void *arg)
{
	struct smtp_session *s = arg;

	s->dnsreq = NULL;
	if (status == 1) {
		(void)str_copy(s->rdns, name, sizeof(s->rdns));
		str_lower(s->rdns);
	}
	log_info("sess=%s smtp client=%s name=%s", s->conn->id,
	    s->conn->peer_str, status == 1 ? s->rdns : status == -1 ?
	    "unknown(temporary)" : "unknown");
	pre_greet_done(s);
}

/* Is the client authorized to relay right now? For gate=connect and for
   the limits a relaying session is told in EHLO. */
struct authz_job {
	struct smtp_session	*s;
	struct netaddr		 client;
	int			 r;
};

static void
authz_work(void *ctx, void *arg)
{
	struct authz_job *j = arg;
	struct backends *b = ctx;
	struct relay_auth *ra;
	struct relay_entry *e = NULL;
	const char *err = "";
	size_t n = 0;

	ra = backends_relay(b, &err);
	j->r = ra == NULL ? -1 : relay_lookup(ra, &j->client,
	    (unsigned)b->cfg->relay_ipv6_prefix, clock_now(), &e, &n, &err);
	if (j->r == -1)
		log_warn("relay lookup at connect: %s", err);
	free(e);
}

static void
authz_release(void *arg)
{
	free(arg);
}

static void
authz_done(void *arg)
{
	struct authz_job *j = arg;
	struct smtp_session *s = j->s;

	s->job = NULL;
	s->ip_authorized = j->r == 1;
	s->ip_authz_failed = j->r == -1;
	free(j);
	pre_greet_done(s);
}

static const struct worker_ops authz_ops = {
	authz_work, authz_done, authz_release,
};

void
smtp_server_accept(struct conn *c, void *arg)
{
	struct smtp_server *srv = arg;
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->srv = srv;
	s->cfg = srv->d.cfg;
	s->conn = c;
	linereader_init(&s->lr, SMTP_LINE_MAX);
	buf_init(&s->line, SMTP_SASL_MAX);
	life_init(&s->life, srv->d.base, c, resume, destroy, s);
	LIST_INSERT_HEAD(&srv->sessions, s, entry);
	srv->nsessions++;
	s->rs.client = c->peer;
	s->rs.role = c->lc->role;
	s->rs.trusted = netlist_match(&s->cfg->trusted_networks, &c->peer);
	log_info("sess=%s smtp connect client=%s port=%u listener=%s",
	    c->id, c->peer_str, (unsigned)c->peer_port,
	    config_role_name(c->lc->role));
	setup_bev(s);
	/* Before the greeting (Postfix-like): the client's name, for
	   Received: and the logs; and on smtp listeners whether it may
	   relay (gate=connect, and the limits EHLO announces). */
	s->pre_greet = 1;
	if (srv->d.dns != NULL && s->cfg->reverse_dns) {
		s->pre_greet++;
		s->dnsreq = dns_reverse(srv->d.dns, &c->peer, RDNS_TIMEOUT_MS,
		    on_rdns, s);
	}
	if (c->lc->role == ROLE_SMTP && !s->rs.trusted) {
		struct authz_job *j = xcalloc(1, sizeof(*j));

		j->s = s;
		j->client = c->peer;
		s->pre_greet++;
		s->job = worker_submit(srv->d.io, &authz_ops, j);
	}
	pre_greet_done(s);
}
