/*
 * smtp_session.c - the SMTP session (RFC 5321, RFC 2920 pipelining, RFC
 * 3207 STARTTLS): the centre of struct smtp_session (smtp_int.h). Here
 * it is made and freed, here are its states and their names, the
 * command table (which states allow each command) and the commands of
 * the session itself; the skeleton of core/session.h runs it. The other
 * files add to it: smtp_server.c the server, the steps before the
 * greeting and the replies; smtp_auth.c AUTH; smtp_data.c the message
 * bodies and their delivery; smtp_cmd.c the pure parsing.
 *
 * The dispatcher alone answers 503 for a command in the wrong state and
 * 501 for a missing or extra argument; the parse hook answers 500/502
 * for unknown ones. RCPT is the only command here that waits: recipient
 * resolution (store lookups, alias expansion, quota) runs on a worker.
 */
#include <stddef.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "smtp/smtp_int.h"
#include "maildir/maildir.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

_Static_assert(offsetof(struct smtp_session, base) == 0,
    "smtp_of() needs the session skeleton first");

static const char *const state_names[SS_NSTATES] = {
	[SS_CONNECTED] = "connected", [SS_HELO] = "helo",
	[SS_READY] = "ready", [SS_MAIL] = "mail", [SS_RCPT] = "rcpt",
	[SS_DATA] = "data", [SS_BDAT] = "bdat",
	[SS_AUTH_PLAIN] = "auth-plain",
	[SS_AUTH_LOGIN_USER] = "auth-login-user",
	[SS_AUTH_LOGIN_PASS] = "auth-login-pass",
	[SS_TLS] = "tls", [SS_CLOSING] = "closing",
};

static void cmd_helo(struct session *, const char *, size_t);
static void cmd_ehlo(struct session *, const char *, size_t);
static void cmd_mail(struct session *, const char *, size_t);
static void cmd_rcpt(struct session *, const char *, size_t);
static void cmd_rset(struct session *, const char *, size_t);
static void cmd_noop(struct session *, const char *, size_t);
static void cmd_quit(struct session *, const char *, size_t);
static void cmd_vrfy(struct session *, const char *, size_t);
static void cmd_help(struct session *, const char *, size_t);
static void cmd_starttls(struct session *, const char *, size_t);
static void mail_check(struct smtp_session *);
static enum reply_id sequence_error(const struct smtp_session *,
    enum smtp_verb);

#define ANY (ST(SS_HELO) | ST(SS_READY) | ST(SS_MAIL) | ST(SS_RCPT))
#define NOARG	SESSION_CMD_NOARG
#define LAST	SESSION_CMD_LAST

/* Indexed by verb; EXPN has no handler (502). */
static const struct session_cmd smtp_cmds[V_UNKNOWN] = {
	[V_EHLO] = { "EHLO", cmd_ehlo, ANY, 0 },
	[V_HELO] = { "HELO", cmd_helo, ANY, 0 },
	[V_MAIL] = { "MAIL", cmd_mail, ST(SS_READY), 0 },
	[V_RCPT] = { "RCPT", cmd_rcpt, ST(SS_MAIL) | ST(SS_RCPT), 0 },
	[V_DATA] = { "DATA", smtp_cmd_data, ST(SS_RCPT), LAST | NOARG },
	[V_BDAT] = { "BDAT", smtp_cmd_bdat, ST(SS_RCPT), 0 },
	[V_RSET] = { "RSET", cmd_rset, ANY, NOARG },
	[V_NOOP] = { "NOOP", cmd_noop, ANY, 0 },
	[V_QUIT] = { "QUIT", cmd_quit, ANY, LAST | NOARG },
	[V_VRFY] = { "VRFY", cmd_vrfy, ANY, SESSION_CMD_ARG },
	[V_EXPN] = { "EXPN", NULL, 0, 0 },
	[V_HELP] = { "HELP", cmd_help, ANY, 0 },
	[V_STARTTLS] = { "STARTTLS", cmd_starttls, ST(SS_READY),
	    LAST | NOARG },
	[V_AUTH] = { "AUTH", smtp_cmd_auth, ST(SS_READY), 0 },
};

/* ---- the hooks of the session skeleton ---- */

static const struct session_cmd *
parse(struct session *base, const char *line, size_t len, const char **arg_r,
    size_t *arglen_r)
{
	struct smtp_session *s = smtp_of(base);
	enum smtp_verb verb = smtp_cmd_verb(line, len, arg_r, arglen_r);

	if (log_debug_enabled()) {
		char vis[128];

		/* Never log AUTH data (STYLE.md section 5). */
		log_debug("sess=%s smtp command \"%s\"", s->conn->id,
		    verb == V_AUTH ? "AUTH ..." : str_vis(vis, sizeof(vis),
		    line, len));
	}
	if (verb == V_UNKNOWN || smtp_cmds[verb].fn == NULL) {
		smtp_reply_error(s, verb == V_UNKNOWN ? REPLY_UNKNOWN_CMD :
		    REPLY_NOT_IMPL);
		return NULL;
	}
	return &smtp_cmds[verb];
}

static void
refuse(struct session *base, const struct session_cmd *cmd,
    enum session_refusal why, const char *arg, size_t arglen)
{
	struct smtp_session *s = smtp_of(base);
	enum smtp_verb verb = (enum smtp_verb)(cmd - smtp_cmds);
	char detail[64];
	uint64_t size;
	bool last;

	switch (why) {
	case SESSION_WRONG_STATE:
		/* A refused BDAT is still followed by its chunk (RFC 3030
		   section 2): skip it, or it would be read as commands. */
		if (verb == V_BDAT &&
		    smtp_parse_bdat(arg, arglen, &size, &last) == 0 &&
		    size > 0) {
			s->discard = size;
			s->discard_reply = sequence_error(s, verb);
			return;
		}
		smtp_reply_error(s, sequence_error(s, verb));
		break;
	case SESSION_EXTRA_ARG:
		smtp_reply_error_text(s, REPLY_SYNTAX, "no arguments allowed");
		break;
	case SESSION_MISSING_ARG:
		(void)str_fmt(detail, sizeof(detail), "%s needs an argument",
		    cmd->name);
		smtp_reply_error_text(s, REPLY_SYNTAX, detail);
		break;
	}
}

static void
bad_line(struct session *base, enum line_result r)
{
	struct smtp_session *s = smtp_of(base);

	/* A broken AUTH response ends the exchange. */
	if (ST(s->base.state) & s->base.proto->auth_states)
		smtp_enter_state(s, SS_READY);
	smtp_reply_error(s, r == LINE_TOO_LONG ? REPLY_LINE_TOO_LONG :
	    REPLY_BARE_LF);
}

/* A refused BDAT chunk to skip, or a message body. */
static enum session_input
input(struct session *base, struct evbuffer *in)
{
	struct smtp_session *s = smtp_of(base);
	size_t n;

	if (s->discard > 0) {
		n = evbuffer_get_length(in);
		if (n == 0)
			return SESSION_INPUT_WAIT;
		if (n > s->discard)
			n = (size_t)s->discard;
		(void)evbuffer_drain(in, n);
		s->discard -= n;
		if (s->discard == 0)
			smtp_reply_error(s, s->discard_reply);
		return SESSION_INPUT_AGAIN;
	}
	if (s->base.state == SS_DATA || s->base.state == SS_BDAT)
		return smtp_data_input(s) ? SESSION_INPUT_AGAIN :
		    SESSION_INPUT_WAIT;
	return SESSION_INPUT_LINES;
}

/* What the client told or proved, as at connect; the transaction
   goes too. */
static void
client_init(struct smtp_session *s)
{
	struct relay_session *rs = &s->client.rs;

	smtp_tx_free(&s->tx);
	memset(&s->client, 0, sizeof(s->client));
	rs->client = s->conn->peer;
	rs->role = s->conn->lc->role;
	rs->trusted = netlist_match(&s->cfg->trusted_networks,
	    &s->conn->peer);
}

static void
tls_reset(struct session *base)
{
	struct smtp_session *s = smtp_of(base);

	/* RFC 3207 section 4.2: forget everything learnt before the
	   handshake, a login included. */
	client_init(s);
	smtp_enter_state(s, SS_HELO);
}

static void
timeout(struct session *base, bool reply)
{
	struct smtp_session *s = smtp_of(base);

	log_info("sess=%s smtp timeout client=%s state=%s", s->conn->id,
	    s->conn->peer_str, session_state_name(base));
	if (reply)
		smtp_reply_id(s, REPLY_TIMEOUT);
}

static void
lost(struct session *base)
{
	struct smtp_session *s = smtp_of(base);

	if (s->tx != NULL && (s->base.state == SS_DATA ||
	    s->base.state == SS_BDAT))
		log_info("sess=%s smtp lost client=%s during %s",
		    s->conn->id, s->conn->peer_str, session_state_name(base));
}

static void
too_many_errors(struct session *base)
{
	struct smtp_session *s = smtp_of(base);

	log_warn("sess=%s smtp too-many-errors client=%s errors=%u",
	    s->conn->id, s->conn->peer_str, s->base.errors);
	smtp_reply_id(s, REPLY_TOO_MANY_ERRORS);
}

static void
shutdown_reply(struct session *base)
{
	smtp_reply_id(smtp_of(base), REPLY_SHUTDOWN);
}

static void
fini(struct session *base)
{
	struct smtp_session *s = smtp_of(base);

	dns_cancel(&s->dnsreq);
	log_info("sess=%s smtp disconnect client=%s msgs=%llu errors=%u "
	    "duration=%llums", s->conn->id, s->conn->peer_str,
	    (unsigned long long)s->nmsgs, s->base.errors,
	    (unsigned long long)(clock_mono_ms() - s->conn->start_ms));
	smtp_tx_free(&s->tx);
}

static const struct session_proto smtp_proto = {
	.name = "smtp",
	.starttls_name = "starttls",
	.state_names = state_names,
	.tls_state = SS_TLS,
	.closing_state = SS_CLOSING,
	.auth_states = ST(SS_AUTH_PLAIN) | ST(SS_AUTH_LOGIN_USER) |
	    ST(SS_AUTH_LOGIN_PASS),
	.line_max = SMTP_LINE_MAX,
	.auth_line_max = SMTP_SASL_MAX,
	.input_max = SMTP_INPUT_MAX,
	.output_max = SMTP_OUTPUT_MAX,
	.parse = parse,
	.refuse = refuse,
	.auth_line = smtp_auth_response,
	.bad_line = bad_line,
	.input = input,
	.tls_reset = tls_reset,
	.timeout = timeout,
	.lost = lost,
	.too_many_errors = too_many_errors,
	.shutdown = shutdown_reply,
	.fini = fini,
};

struct smtp_session *
smtp_session_new(struct smtp_server *srv, struct conn *c)
{
	struct smtp_session *s = smtp_of(session_new(&smtp_proto, sizeof(*s),
	    &srv->sessions, srv->d.base, c, srv->d.cfg->smtp_timeout,
	    srv->d.cfg->max_errors));

	s->srv = srv;
	s->cfg = srv->d.cfg;
	s->conn = c;
	client_init(s);
	/* No input is read before the greeting (smtp_greet()). */
	s->base.busy = true;
	return s;
}

/* The 503 text for VERB in the current state. */
static enum reply_id
sequence_error(const struct smtp_session *s, enum smtp_verb verb)
{
	if (s->base.state == SS_HELO)
		return REPLY_NEED_HELO;
	switch (verb) {
	case V_MAIL:
		return REPLY_NESTED_MAIL;
	case V_RCPT:
		return REPLY_NEED_MAIL;
	case V_DATA:
	case V_BDAT:
		return s->base.state == SS_MAIL ? REPLY_NEED_RCPT :
		    REPLY_NEED_MAIL;
	case V_STARTTLS:
		return s->conn->tls ? REPLY_TLS_ALREADY : REPLY_NO_TLS_YET;
	default:
		return REPLY_BAD_SEQUENCE;
	}
}

void
smtp_tx_free(struct smtp_tx **txp)
{
	struct smtp_tx *tx = *txp;

	if (tx == NULL)
		return;
	*txp = NULL;
	strlist_free(&tx->rcpts);
	free(tx->targets);
	spool_free(&tx->body);
	buf_free(&tx->headers);
	free(tx);
}

void
smtp_greet(struct smtp_session *s)
{
	smtp_reply_text(s, REPLY_GREETING, s->cfg->hostname);
	smtp_enter_state(s, SS_HELO);
}

static bool
set_helo(struct smtp_session *s, const char *arg, size_t len)
{
	const char *err;

	if (smtp_parse_helo(arg, len, &err) == -1) {
		smtp_reply_error_text(s, REPLY_SYNTAX, err);
		return false;
	}
	(void)str_ncopy(s->client.helo, arg, len, sizeof(s->client.helo));
	smtp_tx_free(&s->tx);
	return true;
}

static void
cmd_helo(struct session *base, const char *arg, size_t len)
{
	struct smtp_session *s = smtp_of(base);

	if (!set_helo(s, arg, len))
		return;
	s->client.esmtp = false;
	smtp_enter_state(s, SS_READY);
	smtp_reply_text(s, REPLY_HELO, s->cfg->hostname);
}

bool
smtp_relay_capable(const struct smtp_session *s)
{
	return s->conn->lc->role != ROLE_SMTP || s->client.rs.authenticated ||
	    s->client.rs.trusted || s->ip_authorized;
}

/* The SIZE we announce: the relay limit once the session is known to
   relay (submission, AUTH, an authorized address), else the inbound
   limit. */
static uint64_t
size_limit(const struct smtp_session *s)
{
	return smtp_relay_capable(s) ? s->cfg->relay_max_message_size :
	    s->cfg->max_message_size;
}

static void
cmd_ehlo(struct session *base, const char *arg, size_t len)
{
	struct smtp_session *s = smtp_of(base);
	struct evbuffer *out;

	if (!set_helo(s, arg, len))
		return;
	s->client.esmtp = true;
	smtp_enter_state(s, SS_READY);
	out = bufferevent_get_output(s->conn->bev);
	/* RFC 5321 4.1.1.1: the first line names us, not a status. */
	(void)evbuffer_add_printf(out, "250-%s Hello %s [%s]\r\n",
	    s->cfg->hostname, s->client.helo, s->conn->peer_str);
	(void)evbuffer_add_printf(out, "250-PIPELINING\r\n"
	    "250-SIZE %llu\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n",
	    (unsigned long long)size_limit(s));
	if (!s->conn->tls)
		(void)evbuffer_add_printf(out, "250-STARTTLS\r\n");
	if (smtp_auth_offered(s) && !s->client.rs.authenticated)
		(void)evbuffer_add_printf(out, "250-AUTH PLAIN LOGIN\r\n");
	/* RFC 9422: the per-message recipient cap a relaying client meets
	   (the anti-mailing-list rule), else the inbound one. */
	(void)evbuffer_add_printf(out, "250-LIMITS RCPTMAX=%llu\r\n",
	    (unsigned long long)(smtp_relay_capable(s) ?
	    s->cfg->relay_max_recipients : s->cfg->max_recipients));
	(void)evbuffer_add_printf(out, "250-SMTPUTF8\r\n250 CHUNKING\r\n");
}

static void
cmd_mail(struct session *base, const char *arg, size_t len)
{
	struct smtp_session *s = smtp_of(base);
	struct smtp_mail_args m;
	struct smtp_tx *tx;
	enum reply_text_id rid;
	const char *detail;

	if (s->conn->lc->role != ROLE_SMTP && !s->client.rs.authenticated) {
		/* RFC 6409: submission needs AUTH, and AUTH needs TLS. */
		smtp_reply_error(s, smtp_auth_offered(s) ? REPLY_AUTH_REQUIRED :
		    REPLY_SUBMISSION_ONLY);
		return;
	}
	if (smtp_parse_mail(arg, len, &m, &rid, &detail) == -1) {
		smtp_reply_error_text(s, rid, detail);
		return;
	}
	if (m.body == BODY_BINARYMIME) {
		smtp_reply_error_text(s, REPLY_PARAM_UNKNOWN, "BINARYMIME is "
		    "not offered");
		return;
	}
	if (m.has_size && m.size > s->cfg->max_message_size) {
		smtp_reply_num(s, REPLY_MSG_TOO_BIG, s->cfg->max_message_size);
		return;
	}
	tx = xcalloc(1, sizeof(*tx));
	ids_new(tx->id);
	tx->mail = m;
	if (m.kind == ADDR_PATH_MAILBOX) {
		/* Keep the local part as given, the domain lower-case. */
		str_lower(tx->mail.addr.domain);
		addr_format(&tx->mail.addr, tx->sender, sizeof(tx->sender));
	}
	strlist_init(&tx->rcpts);
	spool_init(&tx->body, s->srv->d.data_fd, "tmp");
	buf_init(&tx->headers, SMTP_HEADER_MAX);
	tx->max_size = s->cfg->max_message_size;
	s->tx = tx;
	smtp_enter_state(s, SS_MAIL);
	log_debug("sess=%s qid=%s smtp mail from=<%s> size=%llu", s->conn->id,
	    tx->id, tx->sender, (unsigned long long)m.size);
	if (s->conn->lc->role != ROLE_SMTP) {
		/* SPEC 1: on submission everything is submission: the
		   customer rules apply to the sender at MAIL. */
		mail_check(s);
		return;
	}
	smtp_reply_id(s, REPLY_SENDER_OK);
}

/* ---- the relay rules on a worker ---- */

struct relay_job {
	struct smtp_session	*s;
	struct relay_session	 rs;
	char			 sender[ADDR_BUFSZ];
	uint64_t		 size;
	size_t			 nrelayed;
	struct relay_verdict	 v;
	int			 r;
};

static void
relay_job_fill(struct smtp_session *s, struct relay_job *j)
{
	j->s = s;
	j->rs = s->client.rs;
	(void)str_copy(j->sender, s->tx->sender, sizeof(j->sender));
	j->size = s->tx->mail.size;
	j->nrelayed = s->tx->nrelayed;
}

/* Logs and answers a refusal of the relay rules (ADDR: the recipient,
   NULL at MAIL). */
static void
relay_refused(struct smtp_session *s, const struct relay_verdict *v,
    const char *addr)
{
	log_info("sess=%s qid=%s smtp %s-rejected client=%s from=<%s>%s%s%s "
	    "rule=%s why=\"%s\" result=\"%d %s %s\"", s->conn->id,
	    s->tx->id, addr != NULL ? "rcpt" : "mail", s->conn->peer_str,
	    s->tx->sender, addr != NULL ? " to=<" : "", addr != NULL ? addr :
	    "", addr != NULL ? ">" : "", policy_rule_name(v->rule), v->why,
	    v->code, v->esc, v->text);
	if (addr != NULL && v->rule == RULE_AUTHORIZED)
		smtp_reply(s, v->code, v->esc, "<%s>: %s", addr, v->text);
	else
		smtp_reply(s, v->code, v->esc, "%s", v->text);
	if (v->code >= 500 && ++s->base.errors >= s->cfg->max_errors) {
		smtp_reply_id(s, REPLY_TOO_MANY_ERRORS);
		smtp_close(s, "too many errors");
	}
}

static void
mail_work(void *ctx, void *arg)
{
	struct relay_job *j = arg;

	j->r = policy_relay_check(ctx, &j->rs, j->sender, j->size, 0,
	    clock_now(), NULL, &j->v);
}

static void
mail_release(void *arg)
{
	free(arg);
}

static void
mail_done(void *arg)
{
	struct relay_job *j = arg;
	struct smtp_session *s = j->s;

	s->base.job = NULL;
	if (j->r == 1) {
		s->tx->grant = j->v.grant;
		smtp_reply_id(s, REPLY_SENDER_OK);
	} else {
		relay_refused(s, &j->v, NULL);
		smtp_tx_free(&s->tx);
		if (s->base.state != SS_CLOSING)
			smtp_enter_state(s, SS_READY);
	}
	free(j);
	smtp_resume(s);
}

static const struct worker_ops mail_ops = {
	mail_work, mail_done, mail_release,
};

static void
mail_check(struct smtp_session *s)
{
	struct relay_job *j = xcalloc(1, sizeof(*j));

	relay_job_fill(s, j);
	session_submit(&s->base, s->srv->d.io, &mail_ops, j);
}

/* ---- RCPT: resolution on a worker ---- */

struct rcpt_job {
	struct smtp_session	*s;
	struct backends		*b;
	char			 address[ADDR_BUFSZ];
	char			 given[ADDR_BUFSZ];
	bool			 postmaster;
	uint64_t		 size;		/* SIZE= or 0 */
	struct relay_job	 relay;		/* for a remote recipient */
	/* results */
	int			 r;
	struct resolution	 res;
	char			 error[256];
	char			 full[ADDR_BUFSZ];	/* over quota */
	bool			 relayed;	/* remote, rules applied */
};

static void
rcpt_work(void *ctx, void *arg)
{
	struct rcpt_job *j = arg;
	const char *err = "";
	size_t i;

	j->r = policy_resolve(ctx, j->address, j->postmaster, &j->res, &err);
	if (j->r == -1) {
		(void)str_copy(j->error, err, sizeof(j->error));
		return;
	}
	if (j->r == 0 && !j->res.hosted) {
		/* Not ours: the relay rules decide (SPEC 1). */
		j->relayed = true;
		j->relay.r = policy_relay_check(ctx, &j->relay.rs,
		    j->relay.sender, j->relay.size, j->relay.nrelayed,
		    clock_now(), NULL, &j->relay.v);
		return;
	}
	for (i = 0; j->r == 1 && i < j->res.n; i++) {
		const struct target *t = &j->res.v[i];
		uint64_t used;

		if (t->kind != TARGET_MAILBOX || t->quota == 0)
			continue;
		if (maildir_usage(((struct backends *)ctx)->data_fd, t->path,
		    &used) == 0 &&
		    used + j->size > t->quota) {
			(void)str_copy(j->full, t->address, sizeof(j->full));
			return;
		}
	}
}

static void
rcpt_release(void *arg)
{
	struct rcpt_job *j = arg;

	resolution_free(&j->res);
	free(j);
}

static void
rcpt_accept(struct smtp_session *s, struct rcpt_job *j)
{
	struct smtp_tx *tx = s->tx;
	size_t i, k;

	for (i = 0; i < j->res.n; i++) {
		for (k = 0; k < tx->ntargets; k++)
			if (strcmp(tx->targets[k].address,
			    j->res.v[i].address) == 0)
				break;
		if (k < tx->ntargets)
			continue;	/* already a target of this message */
		tx->targets = xreallocarray(tx->targets, tx->ntargets + 1,
		    sizeof(*tx->targets));
		tx->targets[tx->ntargets++] = j->res.v[i];
	}
	strlist_add(&tx->rcpts, j->given);
	smtp_enter_state(s, SS_RCPT);
	smtp_reply_id(s, REPLY_RCPT_OK);
}

/* A remote recipient after the relay rules. */
static void
rcpt_relay(struct smtp_session *s, struct rcpt_job *j)
{
	struct smtp_tx *tx = s->tx;
	struct target *t;
	char addr[ADDR_BUFSZ];
	struct mailaddr a;
	const char *err;
	size_t k;

	if (j->relay.r != 1) {
		relay_refused(s, &j->relay.v, j->given);
		return;
	}
	/* The same remote recipient twice is one recipient (domains match
	   in any case), counted once against the caps. */
	(void)str_copy(addr, j->given, sizeof(addr));
	if (addr_parse(j->given, strlen(j->given), ADDR_F_LITERAL |
	    ADDR_F_UTF8, &a, &err) == 0) {
		str_lower(a.domain);
		addr_format(&a, addr, sizeof(addr));
	}
	for (k = 0; k < tx->ntargets; k++) {
		if (tx->targets[k].kind == TARGET_REMOTE &&
		    strcmp(tx->targets[k].address, addr) == 0) {
			smtp_reply_id(s, REPLY_RCPT_OK);
			return;
		}
	}
	tx->grant = j->relay.v.grant;
	tx->nrelayed++;
	/* SPEC 1: relayed messages have the smaller size limit. */
	if (tx->max_size > s->cfg->relay_max_message_size)
		tx->max_size = s->cfg->relay_max_message_size;
	tx->targets = xreallocarray(tx->targets, tx->ntargets + 1,
	    sizeof(*tx->targets));
	t = &tx->targets[tx->ntargets++];
	memset(t, 0, sizeof(*t));
	t->kind = TARGET_REMOTE;
	t->relayed = true;
	(void)str_copy(t->address, addr, sizeof(t->address));
	(void)str_copy(t->customer, tx->grant.customer, sizeof(t->customer));
	strlist_add(&tx->rcpts, j->given);
	smtp_enter_state(s, SS_RCPT);
	smtp_reply_id(s, REPLY_RCPT_OK);
}

static void
rcpt_done(void *arg)
{
	struct rcpt_job *j = arg;
	struct smtp_session *s = j->s;

	s->base.job = NULL;
	if (j->r == -1) {
		log_warn("sess=%s smtp rcpt-deferred to=<%s> reason=\"%s\"",
		    s->conn->id, j->given, j->error);
		smtp_reply_id(s, REPLY_TEMP_FAIL);
	} else if (j->relayed) {
		rcpt_relay(s, j);
	} else if (j->full[0] != '\0') {
		log_info("sess=%s smtp rcpt-rejected to=<%s> rule=quota",
		    s->conn->id, j->full);
		smtp_reply_text(s, REPLY_OVER_QUOTA, j->full);
	} else if (j->r == 1) {
		rcpt_accept(s, j);
	} else if (!j->res.hosted) {
		log_info("sess=%s smtp rcpt-rejected client=%s from=<%s> "
		    "to=<%s> rule=authorized", s->conn->id, s->conn->peer_str,
		    s->tx->sender, j->given);
		smtp_reply_error_text(s, REPLY_RELAY_DENIED, j->given);
	} else {
		log_info("sess=%s smtp rcpt-rejected client=%s to=<%s> "
		    "rule=unknown-user", s->conn->id, s->conn->peer_str,
		    j->given);
		smtp_reply_error_text(s, REPLY_UNKNOWN_USER, j->given);
	}
	rcpt_release(j);
	smtp_resume(s);
}

static const struct worker_ops rcpt_ops = {
	rcpt_work, rcpt_done, rcpt_release,
};

static void
cmd_rcpt(struct session *base, const char *arg, size_t len)
{
	struct smtp_session *s = smtp_of(base);
	struct smtp_rcpt_args a;
	struct rcpt_job *j;
	enum reply_text_id rid;
	const char *detail;

	if (smtp_parse_rcpt(arg, len, s->tx->mail.smtputf8, &a, &rid,
	    &detail) == -1) {
		smtp_reply_error_text(s, rid, detail);
		return;
	}
	if (s->tx->rcpts.n >= s->cfg->max_recipients) {
		smtp_reply_id(s, REPLY_TOO_MANY_RCPTS);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->size = s->tx->mail.size;
	relay_job_fill(s, &j->relay);
	if (a.kind == ADDR_PATH_POSTMASTER) {
		j->postmaster = true;
		(void)str_copy(j->given, "postmaster", sizeof(j->given));
	} else {
		addr_format(&a.addr, j->given, sizeof(j->given));
		addr_canonicalize(&a.addr);
		addr_format(&a.addr, j->address, sizeof(j->address));
	}
	session_submit(&s->base, s->srv->d.io, &rcpt_ops, j);
}

static void
cmd_rset(struct session *base, const char *arg, size_t len)
{
	struct smtp_session *s = smtp_of(base);

	(void)arg;
	(void)len;
	smtp_tx_free(&s->tx);
	if (s->base.state != SS_HELO)
		smtp_enter_state(s, SS_READY);
	smtp_reply_id(s, REPLY_RESET);
}

static void
cmd_noop(struct session *base, const char *arg, size_t len)
{
	struct smtp_session *s = smtp_of(base);

	(void)arg;
	(void)len;
	smtp_reply_id(s, REPLY_NOOP);
}

static void
cmd_quit(struct session *base, const char *arg, size_t len)
{
	struct smtp_session *s = smtp_of(base);

	(void)arg;
	(void)len;
	smtp_reply_id(s, REPLY_BYE);
	smtp_close(s, "quit");
}

static void
cmd_vrfy(struct session *base, const char *arg, size_t len)
{
	struct smtp_session *s = smtp_of(base);

	(void)arg;
	(void)len;
	smtp_reply_id(s, REPLY_VRFY);
}

static void
cmd_help(struct session *base, const char *arg, size_t len)
{
	struct smtp_session *s = smtp_of(base);

	(void)arg;
	(void)len;
	smtp_reply_id(s, REPLY_HELP);
}

static void
cmd_starttls(struct session *base, const char *arg, size_t len)
{
	struct smtp_session *s = smtp_of(base);

	(void)arg;
	(void)len;
	if (s->conn->tls || s->conn->ssl != NULL) {
		smtp_reply_error(s, REPLY_TLS_ALREADY);
		return;
	}
	smtp_reply_id(s, REPLY_STARTTLS_GO);
	session_starttls(&s->base);
}
