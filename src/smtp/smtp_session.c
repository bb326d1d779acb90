/*
 * smtp_session.c - the SMTP commands (RFC 5321 section 4.1) and their
 * table: which states allow each one. The dispatcher alone answers 503
 * for a command in the wrong state and 500/502 for unknown ones.
 *
 * RCPT is the only command here that waits: recipient resolution (store
 * lookups, alias expansion, quota) runs on a worker.
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
static void mail_check(struct smtp_session *);

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
	smtp_reply_text(s, REPLY_HELO, s->cfg->hostname);
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
	enum reply_text_id rid;
	const char *detail;

	if (s->conn->lc->role != ROLE_SMTP && !s->rs.authenticated) {
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
	j->rs = s->rs;
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
	if (v->code >= 500 && ++s->errors >= s->cfg->max_errors) {
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

	s->job = NULL;
	if (j->r == 1) {
		s->tx->grant = j->v.grant;
		smtp_reply_id(s, REPLY_SENDER_OK);
	} else {
		relay_refused(s, &j->v, NULL);
		smtp_tx_free(&s->tx);
		if (s->state != SS_CLOSING)
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
	s->busy = true;
	s->job = worker_submit(s->srv->d.io, &mail_ops, j);
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

	s->job = NULL;
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
cmd_rcpt(struct smtp_session *s, const char *arg, size_t len)
{
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
	s->busy = true;
	s->job = worker_submit(s->srv->d.io, &rcpt_ops, j);
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
		smtp_reply_error_text(s, REPLY_SYNTAX, "VRFY needs an argument");
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
