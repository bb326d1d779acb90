/*
 * imap_auth.c - the not-authenticated state (RFC 9051 6.2): STARTTLS,
 * LOGIN, AUTHENTICATE PLAIN and LOGIN (with the initial response of
 * RFC 4959), and what a good login does: open the relay for the
 * client's address exactly as a POP3 login does (SPEC 9), logged with
 * listener=imap|imaps.
 *
 * As in POP3, the password check runs on the cpu pool, the relay record
 * on the io pool; a failed login is answered auth_failure_delay after
 * the line that carried the password, so the time tells nothing, and
 * failures are throttled per address (shared with POP3 and SMTP AUTH).
 * Plaintext logins need TLS unless imap_plaintext_auth allows them
 * (LOGINDISABLED is announced then, RFC 9051 6.2.3).
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/crypto.h>

#include "imap/imap_int.h"
#include "core/sasl.h"
#include "maildir/maildir.h"
#include "util/base64.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

void
imap_cmd_starttls(struct imap_session *s)
{
	if (s->conn->tls || s->conn->ssl != NULL) {
		imap_bad(s, "TLS is already active");
		return;
	}
	imap_ok(s, "Begin TLS negotiation now");
	session_starttls(&s->base);
}

static bool
plaintext_refused(struct imap_session *s)
{
	if (imap_plaintext_ok(s))
		return false;
	imap_no(s, true, "[PRIVACYREQUIRED] Plaintext authentication is not "
	    "allowed without TLS: use STARTTLS, or port 993");
	return true;
}

/* ---- the login steps ---- */

struct login_job {
	struct imap_session	*s;
	struct login		 l;
	char			 path[1024];
	const char		*hostname;
	struct mailbox_user	*user;
	struct mailbox_err	 err;
};

static void
login_release(void *arg)
{
	struct login_job *j = arg;

	mailbox_user_free(&j->user);
	OPENSSL_cleanse(&j->l, sizeof(j->l));
	free(j);
}

static void
failure_reply(struct session *base)
{
	struct imap_session *s = imap_of(base);

	imap_no(s, false, "[AUTHENTICATIONFAILED] Authentication failed");
	if (++s->auth_failures >= IMAP_MAX_AUTH_FAILURES) {
		imap_send(s, "* BYE Too many failed logins");
		imap_close(s, "too many failed logins");
		return;
	}
	imap_resume(s);
}

/* Answers the failed login L once auth_failure_delay has passed since
   its last response arrived. */
static void
fail_later(struct imap_session *s, const struct login *l)
{
	struct timeval tv;

	auth_failure_wait(s->srv->d.throttle, l, s->cfg->auth_failure_delay,
	    &tv);
	session_delay(&s->base, &tv, failure_reply);
}

static void
open_work(void *ctx, void *arg)
{
	struct login_job *j = arg;

	/* Made on the first login: INBOX and the special-use folders. */
	j->user = imap_open_user(ctx, j->path, j->hostname, &j->err);
	if (j->user == NULL)
		return;
	policy_record_relay(ctx, &j->l);
}

static void
open_done(void *arg)
{
	struct login_job *j = arg;
	struct imap_session *s = j->s;
	char qu[LOG_QUOTE_SZ(sizeof(s->user))];
	struct buf caps;

	s->base.job = NULL;
	if (j->user == NULL) {
		log_error("sess=%s imap cannot open the mailbox of %s: %s",
		    s->conn->id, j->l.mbox.address, j->err.text);
		imap_no(s, false, "[UNAVAILABLE] Cannot open the mailbox, try "
		    "again later");
		goto out;
	}
	(void)str_copy(s->user, j->l.mbox.address, sizeof(s->user));
	(void)str_copy(s->customer, j->l.mbox.customer, sizeof(s->customer));
	s->box.user = j->user;
	j->user = NULL;
	s->box.quota = j->l.mbox.quota;
	imap_enter_state(s, IS_AUTH);
	log_info("sess=%s imap login user=%s customer=%s client=%s "
	    "listener=%s relay=%s%s%s%s", s->conn->id, log_quote(qu,
	    sizeof(qu), s->user), j->l.mbox.customer, s->conn->peer_str,
	    j->l.listener, j->l.relay_opened ? "opened" : "not-opened",
	    j->l.relay_note != NULL ? " reason=\"" : "",
	    j->l.relay_note != NULL ? j->l.relay_note : "",
	    j->l.relay_note != NULL ? "\"" : "");
	buf_init(&caps, 4096);
	imap_capabilities(s, &caps);
	imap_ok(s, "[CAPABILITY %s] Logged in", buf_cstr(&caps));
	buf_free(&caps);
out:
	login_release(j);
	imap_resume(s);
}

static const struct worker_ops open_ops = {
	open_work, open_done, login_release,
};

static void
login_work(void *ctx, void *arg)
{
	struct login_job *j = arg;

	policy_login(ctx, &j->l);
}

static void
login_done(void *arg)
{
	struct login_job *j = arg;
	struct imap_session *s = j->s;
	char qu[LOG_QUOTE_SZ(sizeof(j->l.user))];

	s->base.job = NULL;
	if (j->l.result == 0) {
		log_info("sess=%s imap login-failed user=%s client=%s",
		    s->conn->id, log_quote(qu, sizeof(qu), j->l.user),
		    s->conn->peer_str);
		fail_later(s, &j->l);
		login_release(j);
		return;
	}
	if (j->l.result == -1) {
		log_error("sess=%s imap login user=%s: %s", s->conn->id,
		    log_quote(qu, sizeof(qu), j->l.user), j->l.error);
		imap_no(s, false, "[UNAVAILABLE] Temporary server failure, "
		    "try again later");
		goto resume;
	}
	if (maildir_path(config_rel(s->cfg, s->cfg->mail_dir),
	    j->l.mbox.domain, j->l.mbox.local, j->path, sizeof(j->path)) ==
	    -1) {
		log_error("sess=%s imap %s: mailbox path too long",
		    s->conn->id, j->l.mbox.address);
		imap_no(s, false, "[UNAVAILABLE] Mailbox unavailable");
		goto resume;
	}
	j->hostname = s->cfg->hostname;
	session_submit(&s->base, s->srv->d.io, &open_ops, j);
	return;
resume:
	login_release(j);
	imap_resume(s);
}

static const struct worker_ops login_ops = {
	login_work, login_done, login_release,
};

/* Starts the login of USER with PASS (both wiped by the caller). */
static void
login(struct imap_session *s, const char *user, const char *pass)
{
	struct login_job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	if (policy_login_begin(&j->l, s->srv->d.throttle, s->conn,
	    "imap login-throttled", user, pass)) {
		fail_later(s, &j->l);
		login_release(j);
		return;
	}
	session_submit(&s->base, s->srv->d.cpu, &login_ops, j);
}

void
imap_cmd_login(struct imap_session *s)
{
	const struct imap_cmd *c = &s->box.cmd;
	char user[ADDR_BUFSZ], pass[PASSWD_MAX + 1];

	if (plaintext_refused(s))
		return;
	if (c->user.len >= sizeof(user) || memchr(c->user.s, '\0',
	    c->user.len) != NULL) {
		imap_no(s, true, "[AUTHENTICATIONFAILED] Bad user name");
		return;
	}
	if (c->pass.len > PASSWD_MAX || memchr(c->pass.s, '\0',
	    c->pass.len) != NULL) {
		imap_no(s, true, "[AUTHENTICATIONFAILED] Bad password");
		return;
	}
	(void)str_ncopy(user, c->user.s, c->user.len, sizeof(user));
	(void)str_ncopy(pass, c->pass.s, c->pass.len, sizeof(pass));
	/* No copy of the password stays in the parser's memory. */
	imap_parser_clear(s->box.parser);
	login(s, user, pass);
	OPENSSL_cleanse(pass, sizeof(pass));
}

/* ---- AUTHENTICATE (RFC 9051 6.2.2, RFC 4616, RFC 4959) ---- */

static void
sasl_plain(struct imap_session *s, const char *b64, size_t len)
{
	char user[SASL_USER_MAX], pass[SASL_PASS_MAX];
	const char *err;

	if (sasl_plain_decode(b64, len, user, pass, &err) == -1) {
		imap_bad(s, "Invalid PLAIN response: %s", err);
		return;
	}
	login(s, user, pass);
	OPENSSL_cleanse(pass, sizeof(pass));
}

/* The LOGIN mechanism: "Username:" then "Password:", base64. */
static void
sasl_login(struct imap_session *s, const char *b64, size_t len)
{
	char pass[SASL_PASS_MAX];
	const char *err = NULL;

	if (s->sasl_user == NULL) {
		s->sasl_user = xcalloc(1, ADDR_BUFSZ);
		if (sasl_login_decode(b64, len, s->sasl_user, ADDR_BUFSZ,
		    &err) == -1 || s->sasl_user[0] == '\0') {
			imap_sasl_forget(s);
			imap_bad(s, "Invalid LOGIN response: %s", err != NULL ?
			    err : "empty user name");
			return;
		}
		imap_enter_state(s, IS_SASL);
		imap_send(s, "+ UGFzc3dvcmQ6");	/* "Password:" */
		return;
	}
	if (sasl_login_decode(b64, len, pass, sizeof(pass), &err) == -1) {
		imap_sasl_forget(s);
		imap_bad(s, "Invalid LOGIN response: %s", err);
		return;
	}
	login(s, s->sasl_user, pass);
	OPENSSL_cleanse(pass, sizeof(pass));
	imap_sasl_forget(s);
}

static void
sasl_step(struct imap_session *s, const char *b64, size_t len)
{
	if (s->sasl_mech == 'P')
		sasl_plain(s, b64, len);
	else
		sasl_login(s, b64, len);
}

void
imap_sasl_forget(struct imap_session *s)
{
	if (s->sasl_user == NULL)
		return;
	OPENSSL_cleanse(s->sasl_user, ADDR_BUFSZ);
	free(s->sasl_user);
	s->sasl_user = NULL;
}

void
imap_sasl_response(struct imap_session *s, const char *line, size_t len)
{
	imap_enter_state(s, IS_NOTAUTH);
	if (len == 1 && line[0] == '*') {
		imap_sasl_forget(s);
		imap_bad(s, "Authentication cancelled");
		return;
	}
	sasl_step(s, line, len);
}

void
imap_cmd_authenticate(struct imap_session *s)
{
	const struct imap_cmd *c = &s->box.cmd;
	char ir[IMAP_SASL_MAX];
	size_t irlen = c->ir.s != NULL ? c->ir.len : 0;

	if (c->mech.len == 5 && strncasecmp(c->mech.s, "PLAIN", 5) == 0)
		s->sasl_mech = 'P';
	else if (c->mech.len == 5 && strncasecmp(c->mech.s, "LOGIN", 5) == 0)
		s->sasl_mech = 'L';
	else {
		imap_no(s, true, "Unsupported authentication mechanism");
		return;
	}
	if (plaintext_refused(s))
		return;
	imap_sasl_forget(s);
	if (c->ir.s == NULL) {
		imap_enter_state(s, IS_SASL);
		imap_send(s, "+ %s", s->sasl_mech == 'L' ? "VXNlcm5hbWU6" :
		    "");
		return;
	}
	if (irlen >= sizeof(ir)) {
		imap_bad(s, "Initial response too long");
		return;
	}
	/* RFC 4959: "=" is an empty initial response. */
	if (irlen == 1 && c->ir.s[0] == '=')
		irlen = 0;
	memcpy(ir, c->ir.s, irlen);
	imap_parser_clear(s->box.parser);
	sasl_step(s, ir, irlen);
	OPENSSL_cleanse(ir, sizeof(ir));
}
