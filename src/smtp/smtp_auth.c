/*
 * smtp_auth.c - SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN.
 *
 * Offered only over TLS, on submissions, or from loopback: a password is
 * never asked for in the clear. The check runs on the cpu pool like a
 * POP3 login and shares its throttle; a failure is answered
 * auth_failure_delay after the response with the password (for LOGIN
 * the second one, however long the client waited before it). A good login binds the session to its mailbox and
 * customer: the relay rules then apply to that customer exactly as to a
 * POP3 authorization (SPEC section 1), and the address opens nothing.
 */
#include <event2/event.h>
#include <openssl/crypto.h>

#include "smtp/smtp_int.h"
#include "core/sasl.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define SMTP_AUTH_MAX_FAILURES	3	/* per session, then close */

bool
smtp_auth_offered(const struct smtp_session *s)
{
	return s->conn->tls || s->conn->lc->role == ROLE_SUBMISSIONS ||
	    net_addr_is_loopback(&s->conn->peer);
}

struct auth_job {
	struct smtp_session	*s;
	struct login		 l;
};

static void
auth_release(void *arg)
{
	struct auth_job *j = arg;

	OPENSSL_cleanse(&j->l, sizeof(j->l));
	free(j);
}

static void
auth_failed_reply(struct session *base)
{
	struct smtp_session *s = smtp_of(base);

	smtp_reply_id(s, REPLY_AUTH_INVALID);
	if (++s->auth_failures >= SMTP_AUTH_MAX_FAILURES) {
		smtp_reply_id(s, REPLY_TOO_MANY_ERRORS);
		smtp_close(s, "too many failed logins");
		return;
	}
	smtp_resume(s);
}

static void
fail_later(struct smtp_session *s, const struct login *l)
{
	struct timeval tv;

	auth_failure_wait(s->srv->d.throttle, l, s->cfg->auth_failure_delay,
	    &tv);
	session_delay(&s->base, &tv, auth_failed_reply);
}

static void
auth_work(void *ctx, void *arg)
{
	struct auth_job *j = arg;

	policy_login(ctx, &j->l);
}

static void
auth_done(void *arg)
{
	struct auth_job *j = arg;
	struct smtp_session *s = j->s;
	char qu[LOG_QUOTE_SZ(sizeof(j->l.user))];

	s->base.job = NULL;
	if (j->l.result == 1) {
		s->client.rs.authenticated = true;
		(void)str_copy(s->client.rs.auth_mailbox, j->l.mbox.address,
		    sizeof(s->client.rs.auth_mailbox));
		(void)str_copy(s->client.rs.auth_customer, j->l.mbox.customer,
		    sizeof(s->client.rs.auth_customer));
		log_info("sess=%s smtp auth user=%s customer=%s client=%s%s",
		    s->conn->id, log_quote(qu, sizeof(qu), j->l.mbox.address),
		    j->l.mbox.customer,
		    s->conn->peer_str, j->l.mbox.suspended ?
		    " note=\"customer suspended: relaying will be refused\"" :
		    "");
		smtp_reply_id(s, REPLY_AUTH_OK);
	} else if (j->l.result == 0) {
		log_info("sess=%s smtp auth-failed user=%s client=%s",
		    s->conn->id, log_quote(qu, sizeof(qu), j->l.user),
		    s->conn->peer_str);
		fail_later(s, &j->l);
		auth_release(j);
		return;
	} else {
		log_error("sess=%s smtp auth user=%s: %s", s->conn->id,
		    log_quote(qu, sizeof(qu), j->l.user), j->l.error);
		smtp_reply_id(s, REPLY_AUTH_TEMP);
	}
	auth_release(j);
	smtp_resume(s);
}

static const struct worker_ops auth_ops = {
	auth_work, auth_done, auth_release,
};

static void
login(struct smtp_session *s, const char *user, const char *pass)
{
	struct auth_job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	/* The last response is in: the failure delay counts from here. */
	if (policy_login_begin(&j->l, s->srv->d.throttle, s->conn,
	    "smtp auth-throttled", user, pass)) {
		fail_later(s, &j->l);
		auth_release(j);
		return;
	}
	session_submit(&s->base, s->srv->d.cpu, &auth_ops, j);
}

static void
plain(struct smtp_session *s, const char *b64, size_t len)
{
	char user[SASL_USER_MAX], pass[SASL_PASS_MAX];
	const char *err;

	if (sasl_plain_decode(b64, len, user, pass, &err) == -1) {
		smtp_reply_error_text(s, REPLY_AUTH_BAD, err);
		return;
	}
	login(s, user, pass);
	OPENSSL_cleanse(pass, sizeof(pass));
}

void
smtp_auth_response(struct session *base, const char *line, size_t len)
{
	struct smtp_session *s = smtp_of(base);
	char pass[SASL_PASS_MAX];
	const char *err;
	enum smtp_state step = s->base.state;

	/* One response per step; the next step, if any, is entered anew. */
	smtp_enter_state(s, SS_READY);
	if (len == 1 && line[0] == '*') {
		smtp_reply_id(s, REPLY_AUTH_CANCELLED);
		return;
	}
	switch (step) {
	case SS_AUTH_PLAIN:
		plain(s, line, len);
		break;
	case SS_AUTH_LOGIN_USER:
		if (sasl_login_decode(line, len, s->client.sasl_user,
		    sizeof(s->client.sasl_user), &err) == -1) {
			smtp_reply_error_text(s, REPLY_AUTH_BAD, err);
			return;
		}
		smtp_reply_id(s, REPLY_AUTH_PASSWORD);
		smtp_enter_state(s, SS_AUTH_LOGIN_PASS);
		break;
	case SS_AUTH_LOGIN_PASS:
		if (sasl_login_decode(line, len, pass, sizeof(pass), &err) ==
		    -1) {
			smtp_reply_error_text(s, REPLY_AUTH_BAD, err);
			return;
		}
		login(s, s->client.sasl_user, pass);
		OPENSSL_cleanse(pass, sizeof(pass));
		break;
	default:
		PANIC("AUTH response in state %s", session_state_name(base));
	}
}

void
smtp_cmd_auth(struct session *base, const char *arg, size_t len)
{
	struct smtp_session *s = smtp_of(base);
	const char *sp = memchr(arg, ' ', len), *ir;
	size_t mlen = sp != NULL ? (size_t)(sp - arg) : len, irlen;

	if (s->client.rs.authenticated) {
		smtp_reply_error(s, REPLY_BAD_SEQUENCE);
		return;
	}
	if (!smtp_auth_offered(s)) {
		smtp_reply_id(s, REPLY_AUTH_ENCRYPT);
		return;
	}
	ir = sp != NULL ? sp + 1 : NULL;
	irlen = sp != NULL ? len - mlen - 1 : 0;
	/* RFC 4954 section 4: "=" is an empty initial response. */
	if (ir != NULL && irlen == 1 && ir[0] == '=')
		irlen = 0;
	/* {auth_type} of the content filters, once it succeeds. */
	(void)str_copy(s->client.auth_mech, mlen == 5 && strncasecmp(arg,
	    "LOGIN", 5) == 0 ? "LOGIN" : "PLAIN", sizeof(s->client.auth_mech));
	if (mlen == 5 && strncasecmp(arg, "PLAIN", 5) == 0) {
		if (ir != NULL) {
			plain(s, ir, irlen);
			return;
		}
		smtp_reply_id(s, REPLY_AUTH_CHALLENGE);
		smtp_enter_state(s, SS_AUTH_PLAIN);
	} else if (mlen == 5 && strncasecmp(arg, "LOGIN", 5) == 0) {
		if (ir != NULL) {
			const char *err;

			if (sasl_login_decode(ir, irlen, s->client.sasl_user,
			    sizeof(s->client.sasl_user), &err) == -1) {
				smtp_reply_error_text(s, REPLY_AUTH_BAD, err);
				return;
			}
			smtp_reply_id(s, REPLY_AUTH_PASSWORD);
			smtp_enter_state(s, SS_AUTH_LOGIN_PASS);
		} else {
			smtp_reply_id(s, REPLY_AUTH_USERNAME);
			smtp_enter_state(s, SS_AUTH_LOGIN_USER);
		}
	} else {
		smtp_reply_error(s, REPLY_AUTH_MECH);
	}
}
