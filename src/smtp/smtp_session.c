/*
 * smtp_session.c - the SMTP commands (RFC 5321 section 4.1) and their
 * table: which states allow each one. The dispatcher alone answers 503
 * for a command in the wrong state and 500/502 for unknown ones.
 *
 * MAIL and RCPT are decided by policy/ (policy_check_mail, _rcpt), on a
 * worker when the store is needed; the handlers here parse the command
 * and apply the decision: reply, log line, state.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "smtp/smtp_int.h"
#include "maildir/maildir.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

static void cmd_helo(struct smtp_session *, const char *, size_t);
static void cmd_ehlo(struct smtp_session *, const char *, size_t);
static void cmd_mail(struct smtp_session *, const char *, size_t);
static void cmd_rcpt(struct smtp_session *, const char *, size_t);
static void cmd_rset(struct smtp_session *, const char *, size_t);
static void cmd_noop(struct smtp_session *, const char *, size_t);
static void cmd_quit(struct smtp_session *, const char *, size_t);
static void cmd_vrfy(struct smtp_session *, const char *, size_t);
static void cmd_help(struct smtp_session *, const char *, size_t);
static void cmd_starttls(struct smtp_session *, const char *, size_t);
static void mail_decide(struct smtp_session *);

#define ANY (ST(SS_HELO) | ST(SS_READY) | ST(SS_MAIL) | ST(SS_RCPT))

const struct smtp_cmd smtp_cmds[] = {
	{ "EHLO", V_EHLO, cmd_ehlo, ANY, 0 },
	{ "HELO", V_HELO, cmd_helo, ANY, 0 },
	{ "MAIL", V_MAIL, cmd_mail, ST(SS_READY), 0 },
	{ "RCPT", V_RCPT, cmd_rcpt, ST(SS_MAIL) | ST(SS_RCPT), 0 },
	{ "DATA", V_DATA, smtp_cmd_data, ST(SS_RCPT), CMD_LAST | CMD_NOARG },
	{ "BDAT", V_BDAT, smtp_cmd_bdat, ST(SS_RCPT), 0 },
	{ "RSET", V_RSET, cmd_rset, ANY, CMD_NOARG },
	{ "NOOP", V_NOOP, cmd_noop, ANY, 0 },
	{ "QUIT", V_QUIT, cmd_quit, ANY, CMD_LAST | CMD_NOARG },
	{ "VRFY", V_VRFY, cmd_vrfy, ANY, 0 },
	{ "HELP", V_HELP, cmd_help, ANY, 0 },
	{ "STARTTLS", V_STARTTLS, cmd_starttls, ST(SS_READY),
	    CMD_LAST | CMD_NOARG },
	{ "AUTH", V_AUTH, smtp_cmd_auth, ST(SS_READY), 0 },
	{ NULL, V_UNKNOWN, NULL, 0, 0 },
};

const struct smtp_cmd *
smtp_cmd_find(enum smtp_verb verb)
{
	const struct smtp_cmd *c;

	for (c = smtp_cmds; c->name != NULL; c++)
		if (c->verb == verb)
			return c;
	return NULL;
}

enum reply_id
smtp_sequence_error(const struct smtp_session *s, enum smtp_verb verb)
{
	if (s->state == SS_HELO)
		return REPLY_NEED_HELO;
	switch (verb) {
	case V_MAIL:
		return REPLY_NESTED_MAIL;
	case V_RCPT:
		return REPLY_NEED_MAIL;
	case V_DATA:
	case V_BDAT:
		return s->state == SS_MAIL ? REPLY_NEED_RCPT : REPLY_NEED_MAIL;
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
	policy_tx_free(&tx->pol);
	spool_free(&tx->body);
	buf_free(&tx->headers);
	free(tx);
}

void
smtp_greet(struct smtp_session *s)
{
	/* RFC 5321 4.3.1: "220 domain text"; no enhanced code can come
	   before the domain. */
	smtp_reply(s, 220, "", "%s ESMTP popgate", s->cfg->hostname);
	smtp_enter_state(s, SS_HELO);
}

static bool
set_helo(struct smtp_session *s, const char *arg, size_t len)
{
	const char *err;

	if (smtp_parse_helo(arg, len, &err) == -1) {
		smtp_reply_error(s, REPLY_SYNTAX, err);
		return false;
	}
	(void)str_ncopy(s->helo, arg, len, sizeof(s->helo));
	smtp_tx_free(&s->tx);
	return true;
}

static void
cmd_helo(struct smtp_session *s, const char *arg, size_t len)
{
	if (!set_helo(s, arg, len))
		return;
	s->esmtp = false;
	smtp_enter_state(s, SS_READY);
	smtp_reply(s, 250, "", "%s", s->cfg->hostname);
}

bool
smtp_relay_capable(const struct smtp_session *s)
{
	return s->conn->lc->role != ROLE_SMTP || s->rs.authenticated ||
	    s->rs.trusted || s->ip_authorized;
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
cmd_ehlo(struct smtp_session *s, const char *arg, size_t len)
{
	struct evbuffer *out;

	if (!set_helo(s, arg, len))
		return;
	s->esmtp = true;
	smtp_enter_state(s, SS_READY);
	out = bufferevent_get_output(s->conn->bev);
	/* RFC 5321 4.1.1.1: the first line names us, not a status. */
	(void)evbuffer_add_printf(out, "250-%s Hello %s [%s]\r\n",
	    s->cfg->hostname, s->helo, s->conn->peer_str);
	(void)evbuffer_add_printf(out, "250-PIPELINING\r\n"
	    "250-SIZE %llu\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n",
	    (unsigned long long)size_limit(s));
	if (!s->conn->tls)
		(void)evbuffer_add_printf(out, "250-STARTTLS\r\n");
	if (smtp_auth_offered(s) && !s->rs.authenticated)
		(void)evbuffer_add_printf(out, "250-AUTH PLAIN LOGIN\r\n");
	/* RFC 9422: the per-message recipient cap a relaying client meets
	   (the anti-mailing-list rule), else the inbound one. */
	(void)evbuffer_add_printf(out, "250-LIMITS RCPTMAX=%llu\r\n",
	    (unsigned long long)(smtp_relay_capable(s) ?
	    s->cfg->relay_max_recipients : s->cfg->max_recipients));
	(void)evbuffer_add_printf(out, "250-SMTPUTF8\r\n250 CHUNKING\r\n");
}

static void
cmd_mail(struct smtp_session *s, const char *arg, size_t len)
{
	struct smtp_mail_args m;
	struct smtp_tx *tx;
	enum reply_id rid;
	const char *detail;

	if (s->conn->lc->role != ROLE_SMTP && !s->rs.authenticated) {
		/* RFC 6409: submission needs AUTH, and AUTH needs TLS. */
		smtp_reply_error(s, smtp_auth_offered(s) ? REPLY_AUTH_REQUIRED :
		    REPLY_SUBMISSION_ONLY);
		return;
	}
	if (smtp_parse_mail(arg, len, &m, &rid, &detail) == -1) {
		smtp_reply_error(s, rid, detail);
		return;
	}
	if (m.body == BODY_BINARYMIME) {
		smtp_reply_error(s, REPLY_PARAM_UNKNOWN, "BINARYMIME is not "
		    "offered");
		return;
	}
	if (m.has_size && m.size > s->cfg->max_message_size) {
		smtp_reply_id(s, REPLY_MSG_TOO_BIG,
		    (unsigned long long)s->cfg->max_message_size);
		return;
	}
	tx = xcalloc(1, sizeof(*tx));
	ids_new(tx->id);
	tx->mail = m;
	policy_tx_init(&tx->pol, s->cfg, &m.addr, m.kind, m.size);
	spool_init(&tx->body, s->srv->tmpdir);
	buf_init(&tx->headers, SMTP_HEADER_MAX);
	s->tx = tx;
	smtp_enter_state(s, SS_MAIL);
	log_debug("sess=%s qid=%s smtp mail from=<%s> size=%llu", s->conn->id,
	    tx->id, tx->pol.sender, (unsigned long long)m.size);
	mail_decide(s);
}

/* ---- applying the policy decisions (policy_check_mail, _rcpt) ---- */

/* The reply of D: a relay rule's own text, or a generic reply naming
   at most the address. */
static void
reply_decision(struct smtp_session *s, const struct policy_decision *d)
{
	if (d->reply_id == REPLY_NREPLIES)
		smtp_reply(s, d->code, d->esc, "%s", d->reply);
	else
		smtp_reply_id(s, d->reply_id, d->addr);
}

/* Logs and answers a refusal of the relay rules (ADDR: the recipient,
   NULL at MAIL). */
static void
relay_refused(struct smtp_session *s, const struct policy_decision *d,
    const char *addr)
{
	log_info("sess=%s qid=%s smtp %s-rejected client=%s from=<%s>%s%s%s "
	    "rule=%s why=\"%s\" result=\"%d %s %s\"", s->conn->id,
	    s->tx->id, addr != NULL ? "rcpt" : "mail", s->conn->peer_str,
	    s->tx->pol.sender, addr != NULL ? " to=<" : "", addr != NULL ?
	    addr : "", addr != NULL ? ">" : "", policy_reason_name(d->reason),
	    d->why, d->code, d->esc, d->text);
	reply_decision(s, d);
	if (d->code >= 500 && ++s->errors >= s->cfg->max_errors) {
		smtp_reply_id(s, REPLY_TOO_MANY_ERRORS);
		smtp_close(s, "too many errors");
	}
}

static void
mail_apply(struct smtp_session *s, const struct policy_decision *d, int r)
{
	if (r == 1) {
		reply_decision(s, d);
		return;
	}
	relay_refused(s, d, NULL);
	smtp_tx_free(&s->tx);
	if (s->state != SS_CLOSING)
		smtp_enter_state(s, SS_READY);
}

static void
rcpt_apply(struct smtp_session *s, const struct policy_decision *d, int r)
{
	if (r != 1 && d->relayed) {
		relay_refused(s, d, d->addr);
		return;
	}
	switch (d->reason) {
	case POLICY_OK:
		smtp_enter_state(s, SS_RCPT);
		reply_decision(s, d);
		break;
	case POLICY_TEMP_LOOKUP:
		log_warn("sess=%s smtp rcpt-deferred to=<%s> reason=\"%s\"",
		    s->conn->id, d->addr, d->why);
		reply_decision(s, d);
		break;
	case POLICY_QUOTA:
		log_info("sess=%s smtp rcpt-rejected to=<%s> rule=%s",
		    s->conn->id, d->addr, policy_reason_name(d->reason));
		reply_decision(s, d);
		break;
	case POLICY_UNKNOWN_USER:
		log_info("sess=%s smtp rcpt-rejected client=%s to=<%s> rule=%s",
		    s->conn->id, s->conn->peer_str, d->addr,
		    policy_reason_name(d->reason));
		smtp_reply_error(s, d->reply_id, d->addr);
		break;
	default:	/* max_recipients */
		reply_decision(s, d);
		break;
	}
}

/* A decision on a worker: the store may block. The job holds the
   transaction's policy state until done. */
struct decide_job {
	struct smtp_session	*s;
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

	policy_tx_free(&j->tx);
	free(j);
}

static void
decide_done(void *arg)
{
	struct decide_job *j = arg;
	struct smtp_session *s = j->s;

	s->job = NULL;
	s->tx->pol = j->tx;
	if (j->is_rcpt)
		rcpt_apply(s, &j->d, j->r);
	else
		mail_apply(s, &j->d, j->r);
	free(j);
	smtp_resume(s);
}

static const struct worker_ops decide_ops = {
	decide_work, decide_done, decide_release,
};

static void
decide_submit(struct smtp_session *s, struct decide_job *j)
{
	j->s = s;
	j->rs = s->rs;
	j->tx = s->tx->pol;
	memset(&s->tx->pol, 0, sizeof(s->tx->pol));
	s->busy = true;
	s->job = worker_submit(s->srv->d.io, &decide_ops, j);
}

static void
mail_decide(struct smtp_session *s)
{
	struct policy_decision d;
	int r;

	if (policy_mail_blocks(&s->rs)) {
		decide_submit(s, xcalloc(1, sizeof(struct decide_job)));
		return;
	}
	r = policy_check_mail(NULL, &s->rs, &s->tx->pol, clock_now(), NULL,
	    &d);
	mail_apply(s, &d, r);
}

static void
cmd_rcpt(struct smtp_session *s, const char *arg, size_t len)
{
	struct smtp_rcpt_args a;
	struct decide_job *j;
	enum reply_id rid;
	const char *detail;

	if (smtp_parse_rcpt(arg, len, s->tx->mail.smtputf8, &a, &rid,
	    &detail) == -1) {
		smtp_reply_error(s, rid, detail);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->is_rcpt = true;
	j->rcpt.addr = a.addr;
	j->rcpt.postmaster = a.kind == ADDR_PATH_POSTMASTER;
	decide_submit(s, j);
}

static void
cmd_rset(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_tx_free(&s->tx);
	if (s->state != SS_HELO)
		smtp_enter_state(s, SS_READY);
	smtp_reply_id(s, REPLY_RESET);
}

static void
cmd_noop(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_reply_id(s, REPLY_NOOP);
}

static void
cmd_quit(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_reply_id(s, REPLY_BYE);
	smtp_close(s, "quit");
}

static void
cmd_vrfy(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	if (len == 0) {
		smtp_reply_error(s, REPLY_SYNTAX, "VRFY needs an argument");
		return;
	}
	smtp_reply_id(s, REPLY_VRFY);
}

static void
cmd_help(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	smtp_reply_id(s, REPLY_HELP);
}

static void
cmd_starttls(struct smtp_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	if (s->conn->tls || s->conn->ssl != NULL) {
		smtp_reply_error(s, REPLY_TLS_ALREADY);
		return;
	}
	smtp_reply_id(s, REPLY_STARTTLS_GO);
	smtp_starttls_begin(s);
}
