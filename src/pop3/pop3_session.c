/*
 * pop3_session.c - the POP3 session (RFC 1939 sections 3-6, RFC 2449
 * PIPELINING, RFC 2595 STLS): the centre of struct pop3_session
 * (pop3_int.h). Here it is made and freed, here are its states, the
 * command table (which states allow each command, which take an
 * argument) and the TRANSACTION commands; the skeleton of
 * core/session.h runs it. pop3_auth.c adds the AUTHORIZATION state,
 * pop3_maildrop.c the Maildir, pop3_cmd.c the pure parsing.
 *
 * The dispatcher alone answers out-of-state commands and missing or
 * extra arguments. RETR, TOP, LIST and UIDL stream through a
 * continuation that writes while the output is below POP3_OUTPUT_MAX
 * and resumes when the client has read it. DELE only marks: files are
 * removed at QUIT, in the UPDATE state; a dropped connection removes
 * nothing.
 */
#include <sys/socket.h>

#include <stdarg.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include "pop3/pop3_cmd.h"
#include "pop3/pop3_int.h"
#include "util/clock.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

_Static_assert(offsetof(struct pop3_session, base) == 0,
    "pop3_of() needs the session skeleton first");

const char pop3_refuse_line[] =
    "-ERR [SYS/TEMP] Too many connections, try again later\r\n";

static const char *const state_names[PS_NSTATES] = {
	[PS_AUTHORIZATION] = "authorization", [PS_AUTH_PLAIN] = "auth-plain",
	[PS_TRANSACTION] = "transaction", [PS_UPDATE] = "update",
	[PS_TLS] = "tls", [PS_CLOSING] = "closing",
};

struct pop3_server *
pop3_server_new(const struct pop3_deps *d)
{
	struct pop3_server *srv = xcalloc(1, sizeof(*srv));

	srv->d = *d;
	srv->locks = hmap_new();
	return srv;
}

void
pop3_server_free(struct pop3_server **sp)
{
	struct pop3_server *srv = *sp;

	if (srv == NULL)
		return;
	*sp = NULL;
	session_set_free(&srv->sessions);
	hmap_free(&srv->locks, NULL);
	free(srv);
}

static void
vreply(struct pop3_session *s, const char *fmt, va_list ap)
{
	struct evbuffer *out = bufferevent_get_output(s->conn->bev);

	if (s->base.life.dying)
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
	session_count_error(&s->base);
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
cmd_stat(struct session *base, const char *arg, size_t len)
{
	struct pop3_session *s = pop3_of(base);
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
cmd_list(struct session *base, const char *arg, size_t len)
{
	struct pop3_session *s = pop3_of(base);

	list_or_uidl(s, arg, len, false);
}

static void
cmd_uidl(struct session *base, const char *arg, size_t len)
{
	struct pop3_session *s = pop3_of(base);

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
cmd_retr(struct session *base, const char *arg, size_t len)
{
	struct pop3_session *s = pop3_of(base);
	struct pop3_msg *m = msg_arg(s, arg, len, false);

	if (m != NULL)
		start_stream(s, m, -1);
}

static void
cmd_top(struct session *base, const char *arg, size_t len)
{
	struct pop3_session *s = pop3_of(base);
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
cmd_dele(struct session *base, const char *arg, size_t len)
{
	struct pop3_session *s = pop3_of(base);
	struct pop3_msg *m = msg_arg(s, arg, len, false);

	if (m == NULL)
		return;
	m->deleted = true;
	pop3_reply(s, "+OK Marked to be deleted");
}

static void
cmd_noop(struct session *base, const char *arg, size_t len)
{
	struct pop3_session *s = pop3_of(base);

	(void)arg;
	(void)len;
	pop3_reply(s, "+OK");
}

static void
cmd_rset(struct session *base, const char *arg, size_t len)
{
	struct pop3_session *s = pop3_of(base);
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

	s->base.job = NULL;
	if (j->failed > 0)
		pop3_reply(s, "-ERR [SYS/TEMP] %u deleted message(s) could not "
		    "be removed", j->failed);
	else
		pop3_reply(s, "+OK Logging out, %llu message(s) deleted",
		    (unsigned long long)s->deleted);
	update_release(j);
	pop3_unlock(s);
	pop3_close(s, "quit");
}

static const struct worker_ops update_ops = {
	update_work, update_done, update_release,
};

static void
cmd_quit(struct session *base, const char *arg, size_t len)
{
	struct pop3_session *s = pop3_of(base);
	struct update_job *j;
	size_t i;

	(void)arg;
	(void)len;
	if (s->base.state != PS_TRANSACTION) {
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
	session_submit(&s->base, s->srv->d.io, &update_ops, j);
}

/* ---- the command table and the hooks of the session skeleton ---- */

#define ANY	(PST(PS_AUTHORIZATION) | PST(PS_TRANSACTION))
#define AUTHZ	PST(PS_AUTHORIZATION)
#define TRANS	PST(PS_TRANSACTION)
#define NOARG	SESSION_CMD_NOARG
#define ARG	SESSION_CMD_ARG

/* What each command does, in which states, with which argument. */
static const struct session_cmd cmds[P3_NVERBS] = {
	[P3_CAPA] = { "CAPA", pop3_cmd_capa, ANY, NOARG },
	[P3_QUIT] = { "QUIT", cmd_quit, ANY, NOARG },
	[P3_NOOP] = { "NOOP", cmd_noop, TRANS, NOARG },
	[P3_USER] = { "USER", pop3_cmd_user, AUTHZ, ARG },
	[P3_PASS] = { "PASS", pop3_cmd_pass, AUTHZ, ARG },
	[P3_AUTH] = { "AUTH", pop3_cmd_auth, AUTHZ, 0 },
	[P3_STLS] = { "STLS", pop3_cmd_stls, AUTHZ, NOARG },
	[P3_STAT] = { "STAT", cmd_stat, TRANS, NOARG },
	[P3_LIST] = { "LIST", cmd_list, TRANS, 0 },
	[P3_UIDL] = { "UIDL", cmd_uidl, TRANS, 0 },
	[P3_RETR] = { "RETR", cmd_retr, TRANS, ARG },
	[P3_TOP] = { "TOP", cmd_top, TRANS, ARG },
	[P3_DELE] = { "DELE", cmd_dele, TRANS, ARG },
	[P3_RSET] = { "RSET", cmd_rset, TRANS, NOARG },
};

static const struct session_cmd *
parse(struct session *base, const char *line, size_t len, const char **arg_r,
    size_t *arglen_r)
{
	struct pop3_session *s = pop3_of(base);
	struct pop3_line pl;
	char err[POP3_ERR_MAX];

	if (log_debug_enabled()) {
		char vis[64];

		log_debug("sess=%s pop3 command \"%s\"", s->conn->id,
		    (len >= 4 && (strncasecmp(line, "PASS", 4) == 0 ||
		    strncasecmp(line, "AUTH", 4) == 0)) ? "(credentials)" :
		    str_vis(vis, sizeof(vis), line, len));
	}
	if (pop3_cmd_parse(line, len, &pl, err) == -1) {
		pop3_error(s, "%s", err);
		return NULL;
	}
	*arg_r = pl.arg;
	*arglen_r = pl.arglen;
	return &cmds[pl.verb];
}

static void
refuse(struct session *base, const struct session_cmd *cmd,
    enum session_refusal why, const char *arg, size_t arglen)
{
	struct pop3_session *s = pop3_of(base);

	(void)arg;
	(void)arglen;
	switch (why) {
	case SESSION_WRONG_STATE:
		pop3_error(s, "-ERR %s is not valid %s", cmd->name,
		    s->base.state == PS_AUTHORIZATION ? "before login" :
		    "after login");
		break;
	case SESSION_EXTRA_ARG:
		pop3_error(s, "-ERR %s takes no argument", cmd->name);
		break;
	case SESSION_MISSING_ARG:
		pop3_error(s, "-ERR %s needs an argument", cmd->name);
		break;
	}
}

static void
bad_line(struct session *base, enum line_result r)
{
	struct pop3_session *s = pop3_of(base);
	size_t max = s->base.lr.max;

	/* A broken AUTH response ends the exchange: the next line is a
	   command again. */
	if (s->base.state == PS_AUTH_PLAIN)
		pop3_enter_state(s, PS_AUTHORIZATION);
	if (r == LINE_BARE)
		pop3_error(s, "-ERR Lines must end with CRLF");
	else
		pop3_error(s, "-ERR Line too long (at most %zu octets)", max);
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

static enum session_input
output(struct session *base, struct evbuffer *out)
{
	struct pop3_session *s = pop3_of(base);

	if (!s->streaming)
		return SESSION_INPUT_LINES;
	if (!continue_output(s, out))
		return SESSION_INPUT_WAIT;	/* on_write brings us back */
	s->streaming = false;
	return SESSION_INPUT_AGAIN;
}

static void
tls_reset(struct session *base)
{
	struct pop3_session *s = pop3_of(base);

	/* RFC 2595 section 4: what came before STLS is forgotten. */
	s->user[0] = '\0';
	pop3_enter_state(s, PS_AUTHORIZATION);
}

static void
timeout(struct session *base, bool reply)
{
	struct pop3_session *s = pop3_of(base);

	if (!reply)
		return;
	/* RFC 1939 section 3: the autologout timer; no UPDATE. */
	log_info("sess=%s pop3 timeout client=%s", s->conn->id,
	    s->conn->peer_str);
	pop3_reply(s, "-ERR Disconnected for inactivity");
}

static void
too_many_errors(struct session *base)
{
	struct pop3_session *s = pop3_of(base);

	log_warn("sess=%s pop3 too-many-errors client=%s", s->conn->id,
	    s->conn->peer_str);
	pop3_reply(s, "-ERR Too many bad commands, closing");
}

static void
shutdown_reply(struct session *base)
{
	pop3_reply(pop3_of(base), "-ERR [SYS/TEMP] Server shutting down");
}

static void
fini(struct session *base)
{
	struct pop3_session *s = pop3_of(base);
	char qu[LOG_QUOTE_SZ(sizeof(s->mailbox))];

	if (s->mailbox[0] != '\0')
		log_info("sess=%s pop3 logout user=%s client=%s retrieved=%llu "
		    "deleted=%llu", s->conn->id, log_quote(qu, sizeof(qu),
		    s->mailbox), s->conn->peer_str,
		    (unsigned long long)s->retrieved,
		    (unsigned long long)s->deleted);
	log_info("sess=%s pop3 disconnect client=%s duration=%llums",
	    s->conn->id, s->conn->peer_str,
	    (unsigned long long)(clock_mono_ms() - s->conn->start_ms));
	pop3_unlock(s);
	pop3_stream_close(&s->stream);
	maildrop_free(&s->drop);
	config_unref(&s->cfg);
}

static const struct session_proto pop3_proto = {
	.name = "pop3",
	.starttls_name = "stls",
	.state_names = state_names,
	.tls_state = PS_TLS,
	.closing_state = PS_CLOSING,
	.auth_states = PST(PS_AUTH_PLAIN),
	.line_max = POP3_LINE_MAX,
	.auth_line_max = POP3_SASL_MAX,
	.input_max = POP3_INPUT_MAX,
	.output_max = POP3_OUTPUT_MAX,
	.parse = parse,
	.refuse = refuse,
	.auth_line = pop3_sasl_response,
	.bad_line = bad_line,
	.output = output,
	.tls_reset = tls_reset,
	.timeout = timeout,
	.too_many_errors = too_many_errors,
	.shutdown = shutdown_reply,
	.fini = fini,
};

void
pop3_server_accept(struct conn *c, void *arg)
{
	struct pop3_server *srv = arg;
	struct pop3_session *s = pop3_of(session_new(&pop3_proto, sizeof(*s),
	    &srv->sessions, srv->d.base, c, srv->d.cfg->pop3_timeout,
	    srv->d.cfg->max_errors));

	s->srv = srv;
	s->cfg = config_ref(srv->d.cfg);
	s->conn = c;
	s->stream.fd = -1;
	pop3_reply(s, "+OK popgate POP3 ready");
}

void
pop3_server_set_config(struct pop3_server *srv, const struct config *cfg)
{
	srv->d.cfg = cfg;
}
