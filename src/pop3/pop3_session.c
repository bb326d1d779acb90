/*
 * pop3_session.c - POP3 session life, I/O and the TRANSACTION commands
 * (RFC 1939 sections 3-6, RFC 2449 PIPELINING).
 *
 * One table says which state allows each command; the dispatcher alone
 * answers unknown and out-of-state commands. RETR, TOP, LIST and UIDL
 * stream through a continuation that writes while the output is below
 * POP3_OUTPUT_MAX and resumes when the client has read it. DELE only
 * marks: files are removed at QUIT, in the UPDATE state; a dropped
 * connection removes nothing.
 */
#include <sys/socket.h>

#include <stdarg.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "pop3/pop3_cmd.h"
#include "pop3/pop3_int.h"
#include "util/clock.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

const char pop3_refuse_line[] =
    "-ERR [SYS/TEMP] Too many connections, try again later\r\n";

static const char *const state_names[PS_NSTATES] = {
	[PS_AUTHORIZATION] = "authorization",
	[PS_TRANSACTION] = "transaction", [PS_UPDATE] = "update",
	[PS_TLS] = "tls", [PS_CLOSING] = "closing",
};

void
pop3_enter_state(struct pop3_session *s, enum pop3_state st)
{
	if (s->state == st)
		return;
	log_debug("sess=%s pop3 state %s -> %s", s->conn->id,
	    state_names[s->state], state_names[st]);
	s->state = st;
}

struct pop3_server *
pop3_server_new(const struct pop3_deps *d)
{
	struct pop3_server *srv = xcalloc(1, sizeof(*srv));

	srv->d = *d;
	srv->locks = hmap_new();
	return srv;
}

static void
session_free(struct pop3_session *s)
{
	worker_cancel(&s->job);
	LIST_REMOVE(s, entry);
	if (s->mailbox[0] != '\0')
		log_info("sess=%s pop3 logout user=%s client=%s retrieved=%llu "
		    "deleted=%llu", s->conn->id, s->mailbox, s->conn->peer_str,
		    (unsigned long long)s->retrieved,
		    (unsigned long long)s->deleted);
	log_info("sess=%s pop3 disconnect client=%s duration=%llums",
	    s->conn->id, s->conn->peer_str,
	    (unsigned long long)(clock_mono_ms() - s->conn->start_ms));
	pop3_unlock(s);
	pop3_stream_close(&s->stream);
	maildrop_free(&s->drop);
	buf_free(&s->line);
	life_fini(&s->life);
	if (s->ev_delay != NULL)
		event_free(s->ev_delay);
	conn_free(&s->conn);
	free(s);
}

void
pop3_server_free(struct pop3_server **sp)
{
	struct pop3_server *srv = *sp;
	struct pop3_session *s, *next;

	if (srv == NULL)
		return;
	*sp = NULL;
	for (s = LIST_FIRST(&srv->sessions); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		if (s->state != PS_TLS && s->state != PS_CLOSING && !s->life.dying) {
			pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down");
			conn_flush_now(s->conn);
		}
		session_free(s);
	}
	hmap_free(&srv->locks, NULL);
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
	pop3_resume(arg);
}

void
pop3_close(struct pop3_session *s, const char *why)
{
	if (s->state == PS_CLOSING || s->life.dying)
		return;
	log_debug("sess=%s pop3 closing: %s", s->conn->id, why);
	pop3_enter_state(s, PS_CLOSING);
	worker_cancel(&s->job);
	s->busy = false;
	life_close(&s->life);
}

static void
vreply(struct pop3_session *s, const char *fmt, va_list ap)
{
	struct evbuffer *out = bufferevent_get_output(s->conn->bev);

	if (s->life.dying)
		return;
	(void)evbuffer_add_vprintf(out, fmt, ap);
	(void)evbuffer_add(out, "\r\n", 2);
}

void
pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
}

void
pop3_error(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
	if (++s->errors >= s->cfg->max_errors) {
		log_warn("sess=%s pop3 too-many-errors client=%s",
		    s->conn->id, s->conn->peer_str);
		pop3_reply(s, "-ERR Too many bad commands, closing");
		pop3_close(s, "too many errors");
	}
}

bool
pop3_plaintext_ok(const struct pop3_session *s)
{
	if (s->conn->tls)
		return true;
	switch (s->cfg->pop3_plaintext_auth) {
	case PLAINTEXT_YES:
		return true;
	case PLAINTEXT_LOOPBACK:
		return net_addr_is_loopback(&s->conn->peer);
	default:
		return false;
	}
}

/* ---- TRANSACTION ---- */

/* Message number ARG (1-based, not deleted unless ALLOW_DELETED); NULL
   after answering -ERR. */
static struct pop3_msg *
msg_arg(struct pop3_session *s, const char *arg, size_t len,
    bool allow_deleted)
{
	uint64_t n;
	struct pop3_msg *m;

	if (pop3_msgno(arg, len, &n) == -1) {
		pop3_error(s, "-ERR Invalid message number: %.*s",
		    (int)(len > 20 ? 20 : len), arg);
		return NULL;
	}
	if (n > s->drop.n) {
		pop3_error(s, "-ERR There is no message %llu",
		    (unsigned long long)n);
		return NULL;
	}
	m = &s->drop.v[n - 1];
	if (m->deleted && !allow_deleted) {
		pop3_error(s, "-ERR Message %llu is deleted",
		    (unsigned long long)n);
		return NULL;
	}
	return m;
}

static void
live_counts(const struct pop3_session *s, uint64_t *n, uint64_t *size)
{
	size_t i;

	*n = *size = 0;
	for (i = 0; i < s->drop.n; i++) {
		if (s->drop.v[i].deleted)
			continue;
		(*n)++;
		*size += s->drop.v[i].size;
	}
}

static void
cmd_stat(struct pop3_session *s, const char *arg, size_t len)
{
	uint64_t n, size;

	(void)arg;
	(void)len;
	live_counts(s, &n, &size);
	pop3_reply(s, "+OK %llu %llu", (unsigned long long)n,
	    (unsigned long long)size);
}

/* LIST and UIDL: one line, or the whole list through the continuation. */
static void
list_or_uidl(struct pop3_session *s, const char *arg, size_t len, bool uidl)
{
	struct pop3_msg *m;
	uint64_t n, size;

	if (len > 0) {
		m = msg_arg(s, arg, len, false);
		if (m == NULL)
			return;
		if (uidl)
			pop3_reply(s, "+OK %zu %s",
			    (size_t)(m - s->drop.v) + 1, m->uidl);
		else
			pop3_reply(s, "+OK %zu %llu",
			    (size_t)(m - s->drop.v) + 1,
			    (unsigned long long)m->size);
		return;
	}
	live_counts(s, &n, &size);
	if (uidl)
		pop3_reply(s, "+OK Unique-ID listing follows");
	else
		pop3_reply(s, "+OK %llu messages (%llu octets)",
		    (unsigned long long)n, (unsigned long long)size);
	s->list_next = 0;
	s->list_uidl = uidl;
	s->streaming = true;
	s->stream.fd = -1;
}

static void
cmd_list(struct pop3_session *s, const char *arg, size_t len)
{
	list_or_uidl(s, arg, len, false);
}

static void
cmd_uidl(struct pop3_session *s, const char *arg, size_t len)
{
	list_or_uidl(s, arg, len, true);
}

static void
start_stream(struct pop3_session *s, struct pop3_msg *m, long top)
{
	if (pop3_stream_open(&s->stream, &s->drop, m, top) == -1) {
		log_error("sess=%s pop3 cannot open %s/%s/%s: %s",
		    s->conn->id, s->drop.path, m->in_new ? "new" : "cur",
		    m->file, strerror(errno));
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot read the message");
		return;
	}
	if (top < 0) {
		pop3_reply(s, "+OK %llu octets", (unsigned long long)m->size);
		s->retrieved++;
	} else {
		pop3_reply(s, "+OK");
	}
	s->streaming = true;
}

static void
cmd_retr(struct pop3_session *s, const char *arg, size_t len)
{
	struct pop3_msg *m = msg_arg(s, arg, len, false);

	if (m != NULL)
		start_stream(s, m, -1);
}

static void
cmd_top(struct pop3_session *s, const char *arg, size_t len)
{
	struct pop3_msg *m;
	uint64_t lines;
	size_t msglen;

	if (pop3_top_args(arg, len, &msglen, &lines) == -1) {
		pop3_error(s, "-ERR Usage: TOP message lines");
		return;
	}
	m = msg_arg(s, arg, msglen, false);
	if (m != NULL)
		start_stream(s, m, (long)lines);
}

static void
cmd_dele(struct pop3_session *s, const char *arg, size_t len)
{
	struct pop3_msg *m = msg_arg(s, arg, len, false);

	if (m == NULL)
		return;
	m->deleted = true;
	pop3_reply(s, "+OK Marked to be deleted");
}

static void
cmd_noop(struct pop3_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	pop3_reply(s, "+OK");
}

static void
cmd_rset(struct pop3_session *s, const char *arg, size_t len)
{
	uint64_t n, size;
	size_t i;

	(void)arg;
	(void)len;
	for (i = 0; i < s->drop.n; i++)
		s->drop.v[i].deleted = false;
	live_counts(s, &n, &size);
	pop3_reply(s, "+OK %llu messages (%llu octets)",
	    (unsigned long long)n, (unsigned long long)size);
}

/* ---- QUIT and the UPDATE state ---- */

/* The job owns the maildrop: a client that hangs up after QUIT frees
   its session while the worker is still deleting. */
struct update_job {
	struct pop3_session	*s;
	struct maildrop		 drop;
	unsigned		 failed;
};

static void
update_work(void *ctx, void *arg)
{
	struct update_job *j = arg;

	(void)ctx;
	j->failed = maildrop_commit(&j->drop);
}

static void
update_release(void *arg)
{
	struct update_job *j = arg;

	maildrop_free(&j->drop);
	free(j);
}

static void
update_done(void *arg)
{
	struct update_job *j = arg;
	struct pop3_session *s = j->s;

	s->job = NULL;
	if (j->failed > 0)
		pop3_reply(s, "-ERR [SYS/TEMP] %u deleted message(s) could not "
		    "be removed", j->failed);
	else
		pop3_reply(s, "+OK Logging out, %llu message(s) deleted",
		    (unsigned long long)s->deleted);
	update_release(j);
	pop3_unlock(s);
	s->busy = false;
	pop3_close(s, "quit");
}

static const struct worker_ops update_ops = {
	update_work, update_done, update_release,
};

static void
cmd_quit(struct pop3_session *s, const char *arg, size_t len)
{
	struct update_job *j;
	size_t i;

	(void)arg;
	(void)len;
	if (s->state != PS_TRANSACTION) {
		pop3_reply(s, "+OK Bye");
		pop3_close(s, "quit");
		return;
	}
	pop3_enter_state(s, PS_UPDATE);
	for (i = 0; i < s->drop.n; i++)
		s->deleted += s->drop.v[i].deleted;
	if (s->deleted == 0) {
		pop3_reply(s, "+OK Logging out");
		pop3_unlock(s);
		pop3_close(s, "quit");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->drop = s->drop;
	memset(&s->drop, 0, sizeof(s->drop));
	s->busy = true;
	s->job = worker_submit(s->srv->d.io, &update_ops, j);
}

/* ---- dispatch ---- */

#define ANY	(PST(PS_AUTHORIZATION) | PST(PS_TRANSACTION))
#define AUTHZ	PST(PS_AUTHORIZATION)
#define TRANS	PST(PS_TRANSACTION)

/* What each command does, and in which states. */
static const struct {
	void		(*fn)(struct pop3_session *, const char *, size_t);
	unsigned	 states;
} cmds[P3_NVERBS] = {
	[P3_CAPA] = { pop3_cmd_capa, ANY },
	[P3_QUIT] = { cmd_quit, ANY },
	[P3_NOOP] = { cmd_noop, TRANS },
	[P3_USER] = { pop3_cmd_user, AUTHZ },
	[P3_PASS] = { pop3_cmd_pass, AUTHZ },
	[P3_AUTH] = { pop3_cmd_auth, AUTHZ },
	[P3_STLS] = { pop3_cmd_stls, AUTHZ },
	[P3_STAT] = { cmd_stat, TRANS },
	[P3_LIST] = { cmd_list, TRANS },
	[P3_UIDL] = { cmd_uidl, TRANS },
	[P3_RETR] = { cmd_retr, TRANS },
	[P3_TOP] = { cmd_top, TRANS },
	[P3_DELE] = { cmd_dele, TRANS },
	[P3_RSET] = { cmd_rset, TRANS },
};

static void
dispatch(struct pop3_session *s)
{
	const char *line = s->line.data;
	size_t len = s->line.len;
	struct pop3_line pl;
	char err[POP3_ERR_MAX];
	int r;

	if (log_debug_enabled()) {
		char vis[64];

		log_debug("sess=%s pop3 command \"%s\"", s->conn->id,
		    (len >= 4 && (strncasecmp(line, "PASS", 4) == 0 ||
		    strncasecmp(line, "AUTH", 4) == 0)) ? "(credentials)" :
		    str_vis(vis, sizeof(vis), line, len));
	}
	r = pop3_cmd_parse(line, len, &pl, err);
	if (r == -1) {
		pop3_error(s, "%s", err);
		return;
	}
	if (!(cmds[pl.verb].states & PST(s->state))) {
		pop3_error(s, "-ERR %s is not valid %s",
		    pop3_verb_name(pl.verb), s->state == PS_AUTHORIZATION ?
		    "before login" : "after login");
		return;
	}
	if (r == POP3_BAD_ARG) {
		pop3_error(s, "%s", err);
		return;
	}
	cmds[pl.verb].fn(s, pl.arg, pl.arglen);
}

/* Writes pending LIST/UIDL lines or message octets; true when done. */
static bool
continue_output(struct pop3_session *s, struct evbuffer *out)
{
	if (s->stream.fd != -1) {
		int r = pop3_stream_fill(&s->stream, out, POP3_OUTPUT_MAX);

		if (r == -1) {
			log_error("sess=%s pop3 read error: %s", s->conn->id,
			    strerror(errno));
			pop3_close(s, "read error");
			return false;
		}
		return r == 1;
	}
	while (s->list_next < s->drop.n &&
	    evbuffer_get_length(out) < POP3_OUTPUT_MAX) {
		struct pop3_msg *m = &s->drop.v[s->list_next++];

		if (m->deleted)
			continue;
		if (s->list_uidl)
			(void)evbuffer_add_printf(out, "%zu %s\r\n",
			    s->list_next, m->uidl);
		else
			(void)evbuffer_add_printf(out, "%zu %llu\r\n",
			    s->list_next, (unsigned long long)m->size);
	}
	if (s->list_next < s->drop.n)
		return false;
	(void)evbuffer_add(out, ".\r\n", 3);
	return true;
}

void
pop3_resume(struct pop3_session *s)
{
	struct evbuffer *in, *out;

	while (!s->busy && !s->life.dying && s->state != PS_TLS &&
	    s->state != PS_CLOSING && s->state != PS_UPDATE) {
		in = bufferevent_get_input(s->conn->bev);
		out = bufferevent_get_output(s->conn->bev);
		if (s->streaming) {
			if (!continue_output(s, out))
				return;		/* on_write brings us back */
			s->streaming = false;
			continue;
		}
		if (evbuffer_get_length(out) > POP3_OUTPUT_MAX)
			return;
		switch (linereader_get(&s->lr, in, &s->line)) {
		case LINE_NONE:
			return;
		case LINE_TOO_LONG:
			pop3_error(s, "-ERR Line too long (at most %d octets)",
			    s->sasl_pending ? POP3_SASL_MAX : POP3_LINE_MAX);
			s->sasl_pending = false;
			break;
		case LINE_BARE:
			pop3_error(s, "-ERR Lines must end with CRLF");
			break;
		case LINE_OK:
			if (s->sasl_pending)
				pop3_sasl_response(s, s->line.data,
				    s->line.len);
			else
				dispatch(s);
			break;
		}
		/* SASL lines may be longer than commands. */
		s->lr.max = s->sasl_pending ? POP3_SASL_MAX : POP3_LINE_MAX;
	}
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	pop3_resume(arg);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct pop3_session *s = arg;

	(void)bev;
	if (life_written(&s->life))
		return;
	if (s->streaming || evbuffer_get_length(bufferevent_get_input(
	    s->conn->bev)) > 0)
		life_wake(&s->life);
}

static void on_event(struct bufferevent *, short, void *);

static void
setup_bev(struct pop3_session *s)
{
	bufferevent_setcb(s->conn->bev, on_read, on_write, on_event, s);
	bufferevent_setwatermark(s->conn->bev, EV_READ, 0, POP3_INPUT_MAX);
	conn_set_timeout(s->conn, s->cfg->pop3_timeout);
	bufferevent_enable(s->conn->bev, EV_READ | EV_WRITE);
}

void
pop3_starttls_begin(struct pop3_session *s)
{
	const char *err;

	pop3_enter_state(s, PS_TLS);
	if (conn_starttls(s->conn, &err) == -1) {
		log_error("sess=%s pop3 stls: %s", s->conn->id, err);
		life_kill(&s->life);
		return;
	}
	setup_bev(s);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct pop3_session *s = arg;

	(void)bev;
	if (s->life.dying)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		char info[160];

		conn_tls_done(s->conn);
		conn_tls_info(s->conn, info, sizeof(info));
		log_info("sess=%s pop3 tls client=%s %s", s->conn->id,
		    s->conn->peer_str, info);
		if (s->state == PS_TLS) {
			s->user[0] = '\0';
			pop3_enter_state(s, PS_AUTHORIZATION);
			pop3_resume(s);
		}
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && s->state != PS_TLS &&
	    s->state != PS_CLOSING) {
		/* RFC 1939 section 3: the autologout timer; no UPDATE. */
		log_info("sess=%s pop3 timeout client=%s", s->conn->id,
		    s->conn->peer_str);
		pop3_reply(s, "-ERR Disconnected for inactivity");
		pop3_close(s, "timeout");
		bufferevent_enable(s->conn->bev, EV_WRITE);
		conn_set_timeout(s->conn, 10);
		return;
	}
	life_kill(&s->life);
}

void
pop3_server_accept(struct conn *c, void *arg)
{
	struct pop3_server *srv = arg;
	struct pop3_session *s = xcalloc(1, sizeof(*s));

	s->srv = srv;
	s->cfg = srv->d.cfg;
	s->conn = c;
	s->stream.fd = -1;
	linereader_init(&s->lr, POP3_LINE_MAX);
	buf_init(&s->line, POP3_SASL_MAX);
	life_init(&s->life, srv->d.base, c, resume, destroy, s);
	LIST_INSERT_HEAD(&srv->sessions, s, entry);
	log_info("sess=%s pop3 connect client=%s port=%u listener=%s",
	    c->id, c->peer_str, (unsigned)c->peer_port,
	    config_role_name(c->lc->role));
	setup_bev(s);
	pop3_reply(s, "+OK popgate POP3 ready");
}
