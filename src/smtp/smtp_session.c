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
 * for unknown ones. MAIL and RCPT are decided by policy/
 * (policy_check_mail, _rcpt), on a worker when the store is needed; the
 * handlers here parse the command and apply the decision: reply, log
 * line, state.
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
static void mail_decide(struct smtp_session *);
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
	if (len + 2 > (verb == V_RCPT ? SMTP_RCPT_LINE_MAX : verb == V_MAIL ?
	    SMTP_MAIL_LINE_MAX : SMTP_LINE_MAX)) {
		smtp_reply_error(s, REPLY_LINE_TOO_LONG);
		return NULL;
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
	/* The filters hear of the client again, from CONNECT on. */
	milter_chain_free(&s->milter);
	s->milter = milter_chain_new(s->srv->d.base, s->cfg, s->conn->id);
	memset(&s->client, 0, sizeof(s->client));
	rs->client = s->conn->peer;
	rs->role = s->conn->lc->role;
	rs->trusted = netlist_match(&s->cfg->trusted_networks,
	    &s->conn->peer);
	smtp_dnsbl_apply(s);
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
	smtp_dnsbl_cancel(s);
	log_info("sess=%s smtp disconnect client=%s msgs=%llu errors=%u "
	    "duration=%llums", s->conn->id, s->conn->peer_str,
	    (unsigned long long)s->nmsgs, s->base.errors,
	    (unsigned long long)(clock_mono_ms() - s->conn->start_ms));
	smtp_tx_free(&s->tx);
	milter_chain_free(&s->milter);
	config_unref(&s->cfg);
}

static const struct session_proto smtp_proto = {
	.name = "smtp",
	.starttls_name = "starttls",
	.state_names = state_names,
	.tls_state = SS_TLS,
	.closing_state = SS_CLOSING,
	.auth_states = ST(SS_AUTH_PLAIN) | ST(SS_AUTH_LOGIN_USER) |
	    ST(SS_AUTH_LOGIN_PASS),
	.line_max = SMTP_RCPT_LINE_MAX,	/* each verb's own: parse() */
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
	s->cfg = config_ref(srv->d.cfg);
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

/* ---- giving back the hourly holds of a transaction not accepted ---- */

struct release_job {
	struct smtp_session	*s;	/* RSET: waits for it; else NULL */
	char			 id[ID_LEN + 1];	/* the transaction */
	struct policy_holds	 holds;
};

static void
release_work(void *ctx, void *arg)
{
	struct release_job *j = arg;
	const char *err;

	if (policy_release(ctx, &j->holds, &err) == -1)
		log_warn("qid=%s smtp hourly holds not given back (they count "
		    "until they leave the hour): %s", j->id, err);
}

static void
release_free(void *arg)
{
	struct release_job *j = arg;

	policy_holds_free(&j->holds);
	free(j);
}

static void
release_done(void *arg)
{
	struct release_job *j = arg;
	struct smtp_session *s = j->s;

	release_free(j);
	if (s == NULL)
		return;
	s->base.job = NULL;
	smtp_reply_id(s, REPLY_RESET);
	smtp_resume(s);
}

static const struct worker_ops release_ops = {
	release_work, release_done, release_free,
};

/* A job giving back the holds of H (moved into it), of transaction ID. */
static struct release_job *
release_job(const char *id, struct policy_holds *h)
{
	struct release_job *j = xcalloc(1, sizeof(*j));

	(void)str_copy(j->id, id, sizeof(j->id));
	policy_holds_move(&j->holds, h);
	return j;
}

void
smtp_release_holds_io(struct worker_pool *io, const char *id,
    struct policy_holds *h)
{
	if (h->n > 0)
		(void)worker_submit(io, &release_ops, release_job(id, h));
	policy_holds_free(h);
}

void
smtp_release_holds(struct smtp_tx *tx, struct policy_holds *h)
{
	smtp_release_holds_io(tx->io, tx->id, h);
}

void
smtp_tx_free(struct smtp_tx **txp)
{
	struct smtp_tx *tx = *txp;

	if (tx == NULL)
		return;
	*txp = NULL;
	/* The filters still in the transaction are told it ended. */
	milter_chain_abort(tx->milter);
	smtp_release_holds(tx, &tx->pol.holds);
	policy_tx_free(&tx->pol);
	policy_mark_free(&tx->mark);
	spool_free(&tx->body);
	buf_free(&tx->received);
	smtp_mauth_free(&tx->mauth);
	buf_free(&tx->authres);
	free(tx->rcpt_start);
	strlist_free(&tx->add_rcpts);
	strlist_free(&tx->del_rcpts);
	free(tx->mdec);
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
	    "250-SIZE %llu\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
	    "250-DSN\r\n",
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
		smtp_reply_error_text(s, REPLY_PARAM_UNKNOWN, "BINARYMIME is not "
		    "offered");
		return;
	}
	if (m.has_size && m.size > s->cfg->max_message_size) {
		smtp_reply_num(s, REPLY_MSG_TOO_BIG, s->cfg->max_message_size);
		return;
	}
	tx = xcalloc(1, sizeof(*tx));
	ids_new(tx->id);
	tx->io = s->srv->d.io;
	tx->mail = m;
	policy_tx_init(&tx->pol, s->cfg, &m.addr, m.kind, m.size);
	spool_init(&tx->body, s->srv->d.data_fd, "tmp");
	buf_init(&tx->received, BUF_UNLIMITED);
	buf_init(&tx->authres, BUF_UNLIMITED);
	strlist_init(&tx->add_rcpts);
	strlist_init(&tx->del_rcpts);
	s->tx = tx;
	smtp_enter_state(s, SS_MAIL);
	log_debug("sess=%s qid=%s smtp mail from=<%s> size=%llu", s->conn->id,
	    tx->id, tx->pol.sender, (unsigned long long)m.size);
	mail_decide(s);
}

/* ---- applying the policy decisions (policy_check_mail, _rcpt) ---- */

/* The reply of D: a relay rule's own text, or a generic reply naming
   at most the address. */
void
smtp_reply_decision(struct smtp_session *s, const struct policy_decision *d)
{
	if (d->reply_text_id != REPLY_NTEXT)
		smtp_reply_text(s, d->reply_text_id, d->addr);
	else if (d->reply_id != REPLY_NREPLIES)
		smtp_reply_id(s, d->reply_id);
	else
		smtp_reply(s, d->code, d->esc, "%s", d->reply);
}

/* Logs and answers a refusal of the relay rules (ADDR: the recipient,
   NULL at MAIL). */
static void
relay_refused(struct smtp_session *s, const struct policy_decision *d,
    const char *addr)
{
	char qf[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)], qt[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)];

	log_info("sess=%s qid=%s smtp %s-rejected client=%s from=%s%s%s "
	    "rule=%s why=\"%s\" result=\"%d %s %s\"", s->conn->id,
	    s->tx->id, addr != NULL ? "rcpt" : "mail", s->conn->peer_str,
	    log_quote_addr(qf, sizeof(qf), s->tx->pol.sender), addr != NULL ?
	    " to=" : "", addr != NULL ? log_quote_addr(qt, sizeof(qt), addr) :
	    "", policy_reason_name(d->reason), d->why, d->code, d->esc,
	    d->text);
	smtp_reply_decision(s, d);
	if (d->code >= 500)
		session_count_error(&s->base);
}

static void
mail_apply(struct smtp_session *s, const struct policy_decision *d, int r)
{
	if (r == 1) {
		if (!smtp_milter_mail(s, d))
			smtp_reply_decision(s, d);
		return;
	}
	relay_refused(s, d, NULL);
	smtp_tx_free(&s->tx);
	if (s->base.state != SS_CLOSING)
		smtp_enter_state(s, SS_READY);
}

static void
rcpt_apply(struct smtp_session *s, const struct policy_decision *d, int r)
{
	char qt[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)];

	if (r == 1 && d->reason == POLICY_OK && smtp_milter_rcpt(s, d))
		return;		/* the filters answer (smtp_milter.c) */
	policy_mark_free(&s->tx->mark);
	if (r != 1 && d->relayed) {
		relay_refused(s, d, d->addr);
		return;
	}
	switch (d->reason) {
	case POLICY_OK:
		smtp_enter_state(s, SS_RCPT);
		smtp_reply_decision(s, d);
		break;
	case POLICY_TEMP_LOOKUP:
		log_warn("sess=%s smtp rcpt-deferred to=%s reason=\"%s\"",
		    s->conn->id, log_quote_addr(qt, sizeof(qt), d->addr),
		    d->why);
		smtp_reply_decision(s, d);
		break;
	case POLICY_QUOTA:
		log_info("sess=%s smtp rcpt-rejected to=%s rule=%s",
		    s->conn->id, log_quote_addr(qt, sizeof(qt), d->addr),
		    policy_reason_name(d->reason));
		smtp_reply_decision(s, d);
		break;
	case POLICY_SRS_FORGED:
	case POLICY_SRS_EXPIRED:
	case POLICY_SRS_NOT_BOUNCE:
		relay_refused(s, d, d->addr);	/* logged with why */
		break;
	case POLICY_UNKNOWN_USER:
		log_info("sess=%s smtp rcpt-rejected client=%s to=%s rule=%s",
		    s->conn->id, s->conn->peer_str, log_quote_addr(qt,
		    sizeof(qt), d->addr), policy_reason_name(d->reason));
		smtp_reply_error_text(s, d->reply_text_id, d->addr);
		break;
	default:	/* max_recipients */
		smtp_reply_decision(s, d);
		break;
	}
}

/* A decision on a worker: the store may block. The job holds the
   transaction's policy state until done. */
struct decide_job {
	struct smtp_session	*s;
	struct worker_pool	*io;
	struct relay_session	 rs;
	struct policy_tx	 tx;
	bool			 is_rcpt;	/* else MAIL */
	struct policy_rcpt	 rcpt;
	struct policy_decision	 d;
	int			 r;
};

static void
decide_work(void *ctx, void *arg)
{
	struct decide_job *j = arg;

	if (j->is_rcpt)
		j->r = policy_check_rcpt(ctx, &j->rs, &j->tx, &j->rcpt,
		    clock_now(), NULL, &j->d);
	else
		j->r = policy_check_mail(ctx, &j->rs, &j->tx, clock_now(),
		    NULL, &j->d);
}

static void
decide_release(void *arg)
{
	struct decide_job *j = arg;

	/* The session went while its RCPT was decided: what it held goes
	   back. */
	if (j->tx.holds.n > 0)
		(void)worker_submit(j->io, &release_ops, release_job("-",
		    &j->tx.holds));
	policy_tx_free(&j->tx);
	free(j);
}

static void
decide_done(void *arg)
{
	struct decide_job *j = arg;
	struct smtp_session *s = j->s;

	s->base.job = NULL;
	s->tx->pol = j->tx;
	if (j->is_rcpt)
		rcpt_apply(s, &j->d, j->r);
	else
		mail_apply(s, &j->d, j->r);
	free(j);
	if (!s->milter_wait)
		smtp_resume(s);
}

static const struct worker_ops decide_ops = {
	decide_work, decide_done, decide_release,
};

static void
decide_submit(struct smtp_session *s, struct decide_job *j)
{
	j->s = s;
	j->io = s->srv->d.io;
	j->rs = s->client.rs;
	j->tx = s->tx->pol;
	memset(&s->tx->pol, 0, sizeof(s->tx->pol));
	session_submit(&s->base, s->srv->d.io, &decide_ops, j);
}

static void
mail_decide(struct smtp_session *s)
{
	struct policy_decision d;
	int r;

	if (policy_mail_blocks(&s->client.rs)) {
		decide_submit(s, xcalloc(1, sizeof(struct decide_job)));
		return;
	}
	r = policy_check_mail(NULL, &s->client.rs, &s->tx->pol, clock_now(), NULL,
	    &d);
	mail_apply(s, &d, r);
}

static void
cmd_rcpt(struct session *base, const char *arg, size_t len)
{
	struct smtp_session *s = smtp_of(base);
	struct smtp_rcpt_args a;
	struct decide_job *j;
	enum reply_text_id rid;
	const char *detail;

	if (smtp_parse_rcpt(arg, len, s->tx->mail.smtputf8, &a, &rid,
	    &detail) == -1) {
		smtp_reply_error_text(s, rid, detail);
		return;
	}
	/* The size rule counts what BDAT chunks brought already. */
	s->tx->pol.received = s->tx->size;
	if (s->tx->milter != NULL)
		policy_tx_mark(&s->tx->pol, &s->tx->mark);
	j = xcalloc(1, sizeof(*j));
	j->is_rcpt = true;
	j->rcpt.addr = a.addr;
	j->rcpt.postmaster = a.kind == ADDR_PATH_POSTMASTER;
	j->rcpt.notify = a.notify;
	(void)str_copy(j->rcpt.orcpt, a.orcpt, sizeof(j->rcpt.orcpt));
	decide_submit(s, j);
}

static void
cmd_rset(struct session *base, const char *arg, size_t len)
{
	struct smtp_session *s = smtp_of(base);
	struct release_job *j = NULL;

	(void)arg;
	(void)len;
	if (s->tx != NULL && s->tx->pol.holds.n > 0) {
		j = release_job(s->tx->id, &s->tx->pol.holds);
		j->s = s;
	}
	smtp_tx_free(&s->tx);
	if (s->base.state != SS_HELO)
		smtp_enter_state(s, SS_READY);
	/* Given back before the reply: the client's next transaction, and
	   everyone else's, finds the units free. */
	if (j != NULL)
		session_submit(&s->base, s->srv->d.io, &release_ops, j);
	else
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
