/*
 * imap_session.c - the IMAP session (RFC 9051): the centre of struct
 * imap_session (imap_int.h). Here it is made and freed, here are its
 * states, the reading of a command with its literals, the command table
 * and the replies; the skeleton of core/session.h runs it.
 *
 * A command is read line by line: a line that ends in a literal
 * announcement ("{n}", or "{n+}" without waiting, RFC 7888) is kept,
 * the literal's octets are read raw (the input hook), and the next line
 * continues the command. Only the whole command goes to imap_parse();
 * the dispatcher then checks its state against the parser's table and
 * runs its handler. A literal larger than the command may hold is
 * refused before the client sends it (synchronising), or ends the
 * connection (non-synchronising: its octets are already on the way).
 */
#include <stdarg.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "imap/imap_int.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

_Static_assert(offsetof(struct imap_session, base) == 0,
    "imap_of() needs the session skeleton first");

const char imap_refuse_line[] =
    "* BYE [UNAVAILABLE] Too many connections, try again later\r\n";

static const char *const state_names[IS_NSTATES] = {
	[IS_NOTAUTH] = "not-authenticated", [IS_AUTH] = "authenticated",
	[IS_SELECTED] = "selected", [IS_SASL] = "authenticate",
	[IS_IDLE] = "idle", [IS_TLS] = "tls", [IS_CLOSING] = "closing",
};

/* ---- replies ---- */

static void
vsend(struct imap_session *s, const char *prefix, const char *fmt,
    va_list ap)
{
	struct evbuffer *out = bufferevent_get_output(s->conn->bev);

	if (s->base.life.dying)
		return;
	if (prefix != NULL)
		(void)evbuffer_add_printf(out, "%s ", prefix);
	(void)evbuffer_add_vprintf(out, fmt, ap);
	(void)evbuffer_add(out, "\r\n", 2);
}

void
imap_send(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsend(s, NULL, fmt, ap);
	va_end(ap);
}

const char *
imap_tag(struct imap_session *s)
{
	return s->tag;
}

static void
vtagged(struct imap_session *s, const char *status, const char *fmt,
    va_list ap)
{
	char prefix[sizeof(s->tag) + 8];

	(void)str_fmt(prefix, sizeof(prefix), "%s %s", s->tag, status);
	vsend(s, prefix, fmt, ap);
}

void
imap_ok(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vtagged(s, "OK", fmt, ap);
	va_end(ap);
}

void
imap_no(struct imap_session *s, bool count, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vtagged(s, "NO", fmt, ap);
	va_end(ap);
	if (count)
		session_count_error(&s->base);
}

void
imap_bad(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vtagged(s, "BAD", fmt, ap);
	va_end(ap);
	session_count_error(&s->base);
}

bool
imap_plaintext_ok(const struct imap_session *s)
{
	if (s->conn->tls)
		return true;
	switch (s->cfg->imap_plaintext_auth) {
	case PLAINTEXT_YES:
		return true;
	case PLAINTEXT_LOOPBACK:
		return net_addr_is_loopback(&s->conn->peer);
	default:
		return false;
	}
}

void
imap_capabilities(const struct imap_session *s, struct buf *b)
{
	(void)buf_append_str(b, "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID "
	    "ENABLE");
	if (s->base.state == IS_NOTAUTH) {
		if (!s->conn->tls && s->conn->ssl == NULL)
			(void)buf_append_str(b, " STARTTLS");
		(void)buf_append_str(b, imap_plaintext_ok(s) ?
		    " AUTH=PLAIN AUTH=LOGIN" : " LOGINDISABLED");
		return;
	}
	(void)buf_printf(b, " IDLE NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN "
	    "SPECIAL-USE LIST-EXTENDED LIST-STATUS ESEARCH SEARCHRES "
	    "CONDSTORE QRESYNC BINARY COMPRESS=DEFLATE QUOTA QUOTA=RES-STORAGE STATUS=SIZE APPENDLIMIT=%llu",
	    (unsigned long long)s->cfg->max_message_size);
}

void
imap_close(struct imap_session *s, const char *why)
{
	session_close(&s->base, why);
}

/* ---- the commands that need no mailbox ---- */

static void
cmd_capability(struct imap_session *s)
{
	struct buf b;

	buf_init(&b, 4096);
	imap_capabilities(s, &b);
	imap_send(s, "* CAPABILITY %s", buf_cstr(&b));
	buf_free(&b);
	imap_ok(s, "CAPABILITY completed");
}

static void
cmd_noop(struct imap_session *s)
{
	/* Selected: the poll a client makes for news (RFC 9051 6.1.2). */
	if (s->box.view != NULL) {
		imap_cmd_check(s);
		return;
	}
	imap_ok(s, "NOOP completed");
}

static void
cmd_logout(struct imap_session *s)
{
	imap_send(s, "* BYE Logging out");
	imap_ok(s, "LOGOUT completed");
	imap_close(s, "logout");
}

/* RFC 2971: what the client says about itself goes to the log (each
   value quoted), what we say is our name. */
static void
cmd_id(struct imap_session *s)
{
	const struct imap_cmd *c = &s->box.cmd;
	char line[1024] = "", qf[LOG_QUOTE_SZ(64)], qv[LOG_QUOTE_SZ(256)];
	size_t i, off = 0;

	for (i = 0; i < c->nidp && off < sizeof(line) - 1; i++) {
		int n = snprintf(line + off, sizeof(line) - off, " %s=%s",
		    log_quote(qf, sizeof(qf), c->idp[i].field.s),
		    c->idp[i].value.s != NULL ? log_quote(qv, sizeof(qv),
		    c->idp[i].value.s) : "NIL");

		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (c->nidp > 0)
		log_info("sess=%s imap id%s", s->conn->id, line);
	imap_send(s, "* ID (\"name\" \"popgate\")");
	imap_ok(s, "ID completed");
}

/* RFC 5161; what IMAP4rev2 (RFC 9051 6.3.1) switches on. */
static void
cmd_enable(struct imap_session *s)
{
	const struct imap_cmd *c = &s->box.cmd;
	bool rev2 = false;
	size_t i;

	/* Only what changes the responses, and only once each. */
	bool condstore = false, qresync = false;

	for (i = 0; i < c->ncaps; i++) {
		if (strcasecmp(c->cap[i].s, "IMAP4rev2") == 0 &&
		    !(s->box.enabled & IMAP_EN_REV2)) {
			s->box.enabled |= IMAP_EN_REV2;
			rev2 = true;
		} else if (strcasecmp(c->cap[i].s, "CONDSTORE") == 0 &&
		    !(s->box.enabled & IMAP_EN_CONDSTORE)) {
			s->box.enabled |= IMAP_EN_CONDSTORE;
			condstore = true;
		} else if (strcasecmp(c->cap[i].s, "QRESYNC") == 0 &&
		    !(s->box.enabled & IMAP_EN_QRESYNC)) {
			/* RFC 7162 3.2.3: QRESYNC implies CONDSTORE. */
			s->box.enabled |= IMAP_EN_QRESYNC | IMAP_EN_CONDSTORE;
			qresync = true;
		}
	}
	imap_send(s, "* ENABLED%s%s%s", rev2 ? " IMAP4rev2" : "",
	    condstore ? " CONDSTORE" : "", qresync ? " QRESYNC" : "");
	imap_ok(s, "ENABLE completed");
}

static void
cmd_namespace(struct imap_session *s)
{
	/* One personal namespace, Maildir++'s: "" with "." between levels
	   (RFC 2342). */
	imap_send(s, "* NAMESPACE ((\"\" \".\")) NIL NIL");
	imap_ok(s, "NAMESPACE completed");
}

static void cmd_reset(struct imap_session *);

/* RFC 4978: the OK goes out in clear, all after it compressed. */
static void
cmd_compress(struct imap_session *s)
{
	const struct imap_cmd *c = &s->box.cmd;

	if (c->mech.len != 7 || strncasecmp(c->mech.s, "DEFLATE", 7) != 0) {
		imap_bad(s, "Unknown compression mechanism");
		return;
	}
	if (s->conn->compressed) {
		imap_no(s, false, "[COMPRESSIONACTIVE] DEFLATE is active "
		    "already");
		return;
	}
	imap_ok(s, "DEFLATE active");
	(void)session_compress(&s->base);
}

typedef void imap_cmd_fn(struct imap_session *);

static imap_cmd_fn *const handlers[IMAP_CMD_COUNT] = {
	[IMAP_CMD_CAPABILITY] = cmd_capability,
	[IMAP_CMD_NOOP] = cmd_noop,
	[IMAP_CMD_LOGOUT] = cmd_logout,
	[IMAP_CMD_ID] = cmd_id,
	[IMAP_CMD_STARTTLS] = imap_cmd_starttls,
	[IMAP_CMD_LOGIN] = imap_cmd_login,
	[IMAP_CMD_AUTHENTICATE] = imap_cmd_authenticate,
	[IMAP_CMD_ENABLE] = cmd_enable,
	[IMAP_CMD_NAMESPACE] = cmd_namespace,
	[IMAP_CMD_SELECT] = imap_cmd_select,
	[IMAP_CMD_EXAMINE] = imap_cmd_select,
	[IMAP_CMD_CREATE] = imap_cmd_create,
	[IMAP_CMD_DELETE] = imap_cmd_delete,
	[IMAP_CMD_RENAME] = imap_cmd_rename,
	[IMAP_CMD_SUBSCRIBE] = imap_cmd_subscribe,
	[IMAP_CMD_UNSUBSCRIBE] = imap_cmd_subscribe,
	[IMAP_CMD_LIST] = imap_cmd_list,
	[IMAP_CMD_LSUB] = imap_cmd_list,
	[IMAP_CMD_STATUS] = imap_cmd_status,
	[IMAP_CMD_APPEND] = imap_cmd_append,
	[IMAP_CMD_IDLE] = imap_cmd_idle,
	[IMAP_CMD_GETQUOTA] = imap_cmd_getquota,
	[IMAP_CMD_GETQUOTAROOT] = imap_cmd_getquota,
	[IMAP_CMD_SETQUOTA] = imap_cmd_getquota,
	[IMAP_CMD_CHECK] = imap_cmd_check,
	[IMAP_CMD_CLOSE] = imap_cmd_close,
	[IMAP_CMD_UNSELECT] = imap_cmd_close,
	[IMAP_CMD_EXPUNGE] = imap_cmd_expunge,
	[IMAP_CMD_SEARCH] = imap_cmd_search,
	[IMAP_CMD_FETCH] = imap_cmd_fetch,
	[IMAP_CMD_STORE] = imap_cmd_store,
	[IMAP_CMD_COPY] = imap_cmd_copy,
	[IMAP_CMD_MOVE] = imap_cmd_copy,
	[IMAP_CMD_COMPRESS] = cmd_compress,
};

/* The skeleton's view of every command: one trampoline, the states of
   the parser's table (a command of the authenticated state is valid in
   the selected one too, RFC 9051 6.3). */
static void
run(struct session *base, const char *arg, size_t len)
{
	struct imap_session *s = imap_of(base);
	imap_cmd_fn *fn = handlers[s->box.cmd.id];

	(void)arg;
	(void)len;
	if (fn == NULL)
		imap_bad(s, "%s is not supported", imap_cmd_info(
		    s->box.cmd.id)->name);
	else
		fn(s);
	/* The command's text (a password) goes; APPEND took it along. */
	cmd_reset(s);
}

static unsigned
session_states(unsigned imap_states)
{
	unsigned st = 0;

	if (imap_states & IMAP_STATE_NOTAUTH)
		st |= IST(IS_NOTAUTH);
	if (imap_states & IMAP_STATE_AUTH)
		st |= IST(IS_AUTH) | IST(IS_SELECTED);
	if (imap_states & IMAP_STATE_SELECTED)
		st |= IST(IS_SELECTED);
	return st;
}

struct imap_server *
imap_server_new(const struct imap_deps *d)
{
	struct imap_server *srv = xcalloc(1, sizeof(*srv));
	const struct imap_cmd_info *ci;
	size_t i;

	srv->d = *d;
	for (i = 0; i < IMAP_CMD_COUNT; i++) {
		ci = imap_cmd_info((enum imap_cmd_id)i);
		srv->cmds[i].name = ci != NULL ? ci->name : "?";
		srv->cmds[i].fn = run;
		srv->cmds[i].states = ci != NULL ?
		    session_states(ci->states) : 0;
	}
	return srv;
}

void
imap_server_free(struct imap_server **sp)
{
	struct imap_server *srv = *sp;

	if (srv == NULL)
		return;
	*sp = NULL;
	session_set_free(&srv->sessions);
	free(srv);
}

/* ---- reading a command ---- */

/* The tag of the command in CMDBUF, for a reply before it parsed. */
static void
peek_tag(struct imap_session *s)
{
	const char *p = s->cmdbuf.data;
	size_t n = 0;

	while (n < s->cmdbuf.len && n < sizeof(s->tag) - 1 && p[n] > ' ' &&
	    p[n] < 0x7f && p[n] != '{' && p[n] != '"' && p[n] != '(')
		n++;
	if (n == 0)
		(void)str_copy(s->tag, "*", sizeof(s->tag));
	else
		(void)str_ncopy(s->tag, p, n, sizeof(s->tag));
}

static void
cmd_reset(struct imap_session *s)
{
	if (s->cmdbuf.data != NULL)
		OPENSSL_cleanse(s->cmdbuf.data, s->cmdbuf.len);
	buf_truncate(&s->cmdbuf, 0);
	s->in_cmd = false;
	s->lit_left = 0;
}

/* The largest literal the command begun in CMDBUF may announce. */
static uint64_t
literal_max(struct imap_session *s)
{
	enum imap_cmd_id id;
	bool uid;

	if (imap_cmd_peek(s->cmdbuf.data, s->cmdbuf.len, &id, &uid) == 0 &&
	    id == IMAP_CMD_APPEND)
		return s->cfg->max_message_size;
	return IMAP_LITERAL_MAX;
}

/* A line that announces literal LIT; false when refused. */
static bool
literal_start(struct imap_session *s, int r, const struct imap_literal *lit)
{
	if (r == -1 || s->cmdbuf.len + lit->size > (uint64_t)IMAP_CMD_MAX +
	    s->cfg->max_message_size) {
		peek_tag(s);
		if (lit->nonsync) {
			/* RFC 7888 4: its octets come anyway. */
			imap_send(s, "* BYE [TOOBIG] Literal too large");
			cmd_reset(s);
			imap_close(s, "literal too large");
			return false;
		}
		imap_no(s, true, "[TOOBIG] Literal too large");
		cmd_reset(s);
		return false;
	}
	(void)buf_append(&s->cmdbuf, "\r\n", 2);
	s->in_cmd = true;
	s->lit_left = lit->size;
	if (!lit->nonsync)
		imap_send(s, "+ Ready for literal data");
	return true;
}

static const struct session_cmd *
parse(struct session *base, const char *line, size_t len, const char **arg_r,
    size_t *arglen_r)
{
	struct imap_session *s = imap_of(base);
	struct imap_literal lit;
	struct imap_error err;
	int r;

	*arg_r = line + len;
	*arglen_r = 0;
	if (!s->in_cmd)
		cmd_reset(s);	/* a new command */
	if (!s->in_cmd && len == 0)
		return NULL;	/* an empty line: nothing asked */
	if (buf_append(&s->cmdbuf, line, len) == -1) {
		peek_tag(s);
		imap_bad(s, "[TOOBIG] Command too long");
		cmd_reset(s);
		return NULL;
	}
	r = imap_literal_scan(line, len, literal_max(s), &lit);
	if (r != 0) {
		(void)literal_start(s, r, &lit);
		return NULL;
	}
	r = imap_parse(s->box.parser, s->cmdbuf.data, s->cmdbuf.len,
	    &s->box.cmd, &err);
	s->in_cmd = false;
	if (r == -1) {
		cmd_reset(s);
		(void)str_ncopy(s->tag, err.tagged ? err.tag.s : "*",
		    err.tagged ? err.tag.len : 1, sizeof(s->tag));
		imap_send(s, "%s BAD %s%s", s->tag, err.code ==
		    IMAP_ERRC_LIMIT ? "[LIMIT] " : err.code ==
		    IMAP_ERRC_TOOBIG ? "[TOOBIG] " : err.code ==
		    IMAP_ERRC_SERVERBUG ? "[SERVERBUG] " : "", err.text);
		session_count_error(&s->base);
		return NULL;
	}
	(void)str_ncopy(s->tag, s->box.cmd.tag.s, s->box.cmd.tag.len,
	    sizeof(s->tag));
	return &s->srv->cmds[s->box.cmd.id];
}

static void
refuse(struct session *base, const struct session_cmd *cmd,
    enum session_refusal why, const char *arg, size_t arglen)
{
	struct imap_session *s = imap_of(base);

	(void)why;
	(void)arg;
	(void)arglen;
	cmd_reset(s);
	if (s->base.state == IS_NOTAUTH)
		imap_bad(s, "%s needs a login first", cmd->name);
	else if (s->base.state == IS_AUTH && (cmd->states & IST(IS_SELECTED)))
		imap_bad(s, "%s needs a selected mailbox (SELECT first)",
		    cmd->name);
	else
		imap_bad(s, "%s is not valid in this state", cmd->name);
}

/* The octets of a literal, raw; then lines again. */
static enum session_input
input(struct session *base, struct evbuffer *in)
{
	struct imap_session *s = imap_of(base);
	size_t n = evbuffer_get_length(in);
	char chunk[16384];

	if (s->lit_left == 0)
		return SESSION_INPUT_LINES;
	if (n == 0)
		return SESSION_INPUT_WAIT;
	if (n > s->lit_left)
		n = (size_t)s->lit_left;
	if (n > sizeof(chunk))
		n = sizeof(chunk);
	if (evbuffer_remove(in, chunk, n) != (int)n ||
	    buf_append(&s->cmdbuf, chunk, n) == -1) {
		imap_send(s, "* BYE [TOOBIG] Command too long");
		cmd_reset(s);
		imap_close(s, "command too long");
		OPENSSL_cleanse(chunk, sizeof(chunk));
		return SESSION_INPUT_WAIT;
	}
	OPENSSL_cleanse(chunk, n);
	s->lit_left -= n;
	return SESSION_INPUT_AGAIN;
}

static void
bad_line(struct session *base, enum line_result r)
{
	struct imap_session *s = imap_of(base);

	cmd_reset(s);
	if (s->base.state == IS_SASL || s->base.state == IS_IDLE) {
		imap_enter_state(s, s->user[0] != '\0' ? IS_AUTH : IS_NOTAUTH);
		imap_bad(s, r == LINE_TOO_LONG ? "Line too long" :
		    "Lines must end with CRLF");
		return;
	}
	imap_send(s, "* BAD %s", r == LINE_TOO_LONG ? "[TOOBIG] Line too "
	    "long" : "Bare CR or LF in command; lines must end with CRLF");
	session_count_error(&s->base);
}

static void
auth_line(struct session *base, const char *line, size_t len)
{
	struct imap_session *s = imap_of(base);

	if (s->base.state == IS_SASL)
		imap_sasl_response(s, line, len);
	else if (s->base.state == IS_IDLE)
		imap_idle_line(s, line, len);
}

static enum session_input
output(struct session *base, struct evbuffer *out)
{
	return imap_job_output(imap_of(base), out);
}

static void
tls_reset(struct session *base)
{
	struct imap_session *s = imap_of(base);

	/* RFC 9051 6.2.1: what the server said before is forgotten too;
	   the client asks CAPABILITY again. */
	imap_sasl_forget(s);
	imap_enter_state(s, IS_NOTAUTH);
}

static void
timeout(struct session *base, bool reply)
{
	struct imap_session *s = imap_of(base);

	if (!reply)
		return;
	log_info("sess=%s imap timeout client=%s", s->conn->id,
	    s->conn->peer_str);
	imap_send(s, "* BYE Autologout; idle for too long");
}

static void
too_many_errors(struct session *base)
{
	struct imap_session *s = imap_of(base);

	log_warn("sess=%s imap too-many-errors client=%s", s->conn->id,
	    s->conn->peer_str);
	imap_send(s, "* BYE Too many bad commands, closing");
}

static void
shutdown_reply(struct session *base)
{
	imap_send(imap_of(base), "* BYE [UNAVAILABLE] Server shutting down");
}

static void
fini(struct session *base)
{
	struct imap_session *s = imap_of(base);
	char qu[LOG_QUOTE_SZ(sizeof(s->user))];

	if (s->user[0] != '\0')
		log_info("sess=%s imap logout user=%s client=%s", s->conn->id,
		    log_quote(qu, sizeof(qu), s->user), s->conn->peer_str);
	log_info("sess=%s imap disconnect client=%s errors=%u duration=%llums",
	    s->conn->id, s->conn->peer_str, s->base.errors,
	    (unsigned long long)(clock_mono_ms() - s->conn->start_ms));
	cmd_reset(s);
	buf_free(&s->cmdbuf);
	imap_job_cancel_pending(s);
	imap_box_free(&s->box);
	if (s->idle_timer != NULL)
		event_free(s->idle_timer);
	imap_sasl_forget(s);
	config_unref(&s->cfg);
}

static const struct session_proto imap_proto = {
	.name = "imap",
	.starttls_name = "starttls",
	.state_names = state_names,
	.tls_state = IS_TLS,
	.closing_state = IS_CLOSING,
	.auth_states = IST(IS_SASL) | IST(IS_IDLE),
	.line_max = IMAP_LINE_MAX + 2,
	.auth_line_max = IMAP_SASL_MAX,
	.input_max = IMAP_INPUT_MAX,
	.output_max = IMAP_OUTPUT_MAX,
	.parse = parse,
	.refuse = refuse,
	.auth_line = auth_line,
	.bad_line = bad_line,
	.input = input,
	.output = output,
	.tls_reset = tls_reset,
	.timeout = timeout,
	.too_many_errors = too_many_errors,
	.shutdown = shutdown_reply,
	.fini = fini,
};

void
imap_server_accept(struct conn *c, void *arg)
{
	struct imap_server *srv = arg;
	struct imap_session *s = imap_of(session_new(&imap_proto, sizeof(*s),
	    &srv->sessions, srv->d.base, c, srv->d.cfg->imap_timeout,
	    srv->d.cfg->max_errors));
	struct buf caps;

	s->srv = srv;
	s->cfg = config_ref(srv->d.cfg);
	s->conn = c;
	s->box.parser = imap_parser_new();
	buf_init(&s->cmdbuf, (size_t)(IMAP_CMD_MAX +
	    srv->d.cfg->max_message_size + IMAP_LINE_MAX));
	buf_init(&caps, 4096);
	imap_capabilities(s, &caps);
	imap_send(s, "* OK [CAPABILITY %s] popgate IMAP4rev2 ready",
	    buf_cstr(&caps));
	buf_free(&caps);
}

void
imap_server_set_config(struct imap_server *srv, const struct config *cfg)
{
	srv->d.cfg = cfg;
}
