/*
 * pop3_auth.c - the AUTHORIZATION state: CAPA (RFC 2449), STLS (RFC
 * 2595), USER/PASS (RFC 1939), AUTH PLAIN (RFC 5034, RFC 4616), the
 * login, the mailbox lock, and the relay authorization it records.
 *
 * A login goes through three steps off the event loop: the password
 * check (cpu pool), then - once the mailbox lock is taken - opening the
 * maildrop and recording the relay authorization (io pool). A failed
 * login is answered auth_failure_delay after the line with the password
 * (PASS, or the AUTH PLAIN response), so the time tells nothing; failures
 * are throttled per address.
 * Plaintext logins need TLS unless pop3_plaintext_auth allows them.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "pop3/pop3_int.h"
#include "core/sasl.h"
#include "maildir/maildir.h"
#include "util/clock.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

void
pop3_cmd_capa(struct session *base, const char *arg, size_t len)
{
	struct pop3_session *s = pop3_of(base);
	struct evbuffer *out = bufferevent_get_output(s->conn->bev);

	(void)arg;
	(void)len;
	(void)evbuffer_add_printf(out, "+OK Capability list follows\r\n"
	    "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
	if (s->base.state == PS_AUTHORIZATION) {
		if (pop3_plaintext_ok(s))
			(void)evbuffer_add_printf(out,
			    "USER\r\nSASL PLAIN\r\n");
		if (!s->conn->tls && s->conn->ssl == NULL)
			(void)evbuffer_add_printf(out, "STLS\r\n");
	}
	(void)evbuffer_add_printf(out, "IMPLEMENTATION popgate\r\n.\r\n");
}

void
pop3_cmd_stls(struct session *base, const char *arg, size_t len)
{
	struct pop3_session *s = pop3_of(base);

	(void)arg;
	(void)len;
	if (s->conn->tls || s->conn->ssl != NULL) {
		pop3_error(s, "-ERR TLS is already active");
		return;
	}
	pop3_reply(s, "+OK Begin TLS negotiation");
	session_starttls(&s->base);
}

static bool
plaintext_refused(struct pop3_session *s)
{
	if (pop3_plaintext_ok(s))
		return false;
	pop3_error(s, "-ERR [AUTH] Plaintext authentication is not allowed "
	    "without TLS: use STLS, or port 995");
	return true;
}

void
pop3_cmd_user(struct session *base, const char *arg, size_t len)
{
	struct pop3_session *s = pop3_of(base);

	if (plaintext_refused(s))
		return;
	if (len >= sizeof(s->user)) {
		pop3_error(s, "-ERR [AUTH] User name too long");
		return;
	}
	(void)str_ncopy(s->user, arg, len, sizeof(s->user));
	/* Whether the user exists is told by PASS, after the delay. */
	pop3_reply(s, "+OK");
}

void
pop3_unlock(struct pop3_session *s)
{
	if (s->mailbox[0] == '\0')
		return;
	if (hmap_get(s->srv->locks, s->mailbox) == s)
		(void)hmap_del(s->srv->locks, s->mailbox);
}

/* ---- the login steps ---- */

struct login_job {
	struct pop3_session	*s;
	struct login		 l;
	/* open step */
	char			 path[1024];
	struct maildrop		 drop;
	int			 open_r;
	char			 error[256];
};

static void
login_release(void *arg)
{
	struct login_job *j = arg;

	OPENSSL_cleanse(&j->l, sizeof(j->l));
	maildrop_free(&j->drop);
	free(j);
}

static void
failure_reply(struct session *base)
{
	struct pop3_session *s = pop3_of(base);

	pop3_reply(s, "-ERR [AUTH] Authentication failed");
	if (++s->auth_failures >= POP3_MAX_AUTH_FAILURES) {
		pop3_close(s, "too many failed logins");
		return;
	}
	pop3_resume(s);
}

/* Answers the failed login L once auth_failure_delay has passed since
   its last response arrived. */
static void
fail_later(struct pop3_session *s, const struct login *l)
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
	const char *err = "";

	j->open_r = maildrop_open(&j->drop, ((struct backends *)ctx)->data_fd,
	    j->path, &err);
	if (j->open_r == -1) {
		(void)str_copy(j->error, err, sizeof(j->error));
		return;
	}
	policy_record_relay(ctx, &j->l);
}

static void
open_done(void *arg)
{
	struct login_job *j = arg;
	struct pop3_session *s = j->s;
	char qu[LOG_QUOTE_SZ(sizeof(s->mailbox))];

	s->base.job = NULL;
	if (j->open_r == -1) {
		log_error("sess=%s pop3 cannot open the mailbox of %s: %s",
		    s->conn->id, s->mailbox, j->error);
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot open the mailbox, try "
		    "again later");
		pop3_unlock(s);
		s->mailbox[0] = '\0';
	} else {
		s->drop = j->drop;
		memset(&j->drop, 0, sizeof(j->drop));
		pop3_enter_state(s, PS_TRANSACTION);
		log_info("sess=%s pop3 login user=%s customer=%s client=%s "
		    "listener=%s messages=%zu relay=%s%s%s%s", s->conn->id,
		    log_quote(qu, sizeof(qu), s->mailbox), j->l.mbox.customer, s->conn->peer_str,
		    j->l.listener, s->drop.n, j->l.relay_opened ? "opened" :
		    "not-opened", j->l.relay_note != NULL ? " reason=\"" : "",
		    j->l.relay_note != NULL ? j->l.relay_note : "",
		    j->l.relay_note != NULL ? "\"" : "");
		pop3_reply(s, "+OK Logged in, %zu message(s)", s->drop.n);
	}
	login_release(j);
	pop3_resume(s);
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
	struct pop3_session *s = j->s;
	char qu[LOG_QUOTE_SZ(sizeof(j->l.user))];
	const char *err;

	s->base.job = NULL;
	if (j->l.result == 0) {
		log_info("sess=%s pop3 login-failed user=%s client=%s",
		    s->conn->id, log_quote(qu, sizeof(qu), j->l.user),
		    s->conn->peer_str);
		fail_later(s, &j->l);
		login_release(j);
		return;
	}
	if (j->l.result == -1) {
		log_error("sess=%s pop3 login user=%s: %s", s->conn->id,
		    log_quote(qu, sizeof(qu), j->l.user), j->l.error);
		pop3_reply(s, "-ERR [SYS/TEMP] Temporary server failure, try "
		    "again later");
		goto resume;
	}
	if (hmap_get(s->srv->locks, j->l.mbox.address) != NULL) {
		log_info("sess=%s pop3 login-in-use user=%s client=%s",
		    s->conn->id, log_quote(qu, sizeof(qu), j->l.mbox.address),
		    s->conn->peer_str);
		pop3_reply(s, "-ERR [IN-USE] Mailbox is in use by another "
		    "POP3 session");
		goto resume;
	}
	if (maildir_path(config_rel(s->cfg, s->cfg->mail_dir),
	    j->l.mbox.domain, j->l.mbox.local, j->path, sizeof(j->path)) ==
	    -1) {
		err = "mailbox path too long";
		log_error("sess=%s pop3 %s: %s", s->conn->id, j->l.mbox.address,
		    err);
		pop3_reply(s, "-ERR [SYS/PERM] Mailbox unavailable");
		goto resume;
	}
	(void)str_copy(s->mailbox, j->l.mbox.address, sizeof(s->mailbox));
	(void)hmap_put(s->srv->locks, s->mailbox, s);
	session_submit(&s->base, s->srv->d.io, &open_ops, j);
	return;
resume:
	login_release(j);
	pop3_resume(s);
}

static const struct worker_ops login_ops = {
	login_work, login_done, login_release,
};

/* Starts the login of USER with PASS (both wiped by the caller). */
static void
login(struct pop3_session *s, const char *user, const char *pass)
{
	struct login_job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	if (policy_login_begin(&j->l, s->srv->d.throttle, s->conn,
	    "pop3 login-throttled", user, pass)) {
		fail_later(s, &j->l);
		login_release(j);
		return;
	}
	session_submit(&s->base, s->srv->d.cpu, &login_ops, j);
}

void
pop3_cmd_pass(struct session *base, const char *arg, size_t len)
{
	struct pop3_session *s = pop3_of(base);
	char pass[PASSWD_MAX + 1];

	if (plaintext_refused(s))
		return;
	if (s->user[0] == '\0') {
		pop3_error(s, "-ERR No user name given: send USER first");
		return;
	}
	if (len > PASSWD_MAX) {
		pop3_error(s, "-ERR [AUTH] Password too long");
		return;
	}
	(void)str_ncopy(pass, arg, len, sizeof(pass));
	login(s, s->user, pass);
	OPENSSL_cleanse(pass, sizeof(pass));
	s->user[0] = '\0';
}

/* A base64 PLAIN response (initial or after "+ "). */
static void
sasl_plain(struct pop3_session *s, const char *b64, size_t len)
{
	char user[SASL_USER_MAX], pass[SASL_PASS_MAX];
	const char *err;

	if (sasl_plain_decode(b64, len, user, pass, &err) == -1) {
		pop3_error(s, "-ERR [AUTH] Invalid AUTH PLAIN response: %s",
		    err);
		return;
	}
	login(s, user, pass);
	OPENSSL_cleanse(pass, sizeof(pass));
}

void
pop3_sasl_response(struct session *base, const char *line, size_t len)
{
	struct pop3_session *s = pop3_of(base);

	pop3_enter_state(s, PS_AUTHORIZATION);
	if (len == 1 && line[0] == '*') {
		pop3_error(s, "-ERR Authentication cancelled");
		return;
	}
	sasl_plain(s, line, len);
}

void
pop3_cmd_auth(struct session *base, const char *arg, size_t len)
{
	struct pop3_session *s = pop3_of(base);
	const char *sp = memchr(arg, ' ', len);
	size_t mlen = sp != NULL ? (size_t)(sp - arg) : len;

	if (len == 0) {
		pop3_reply(s, "+OK Mechanisms follow\r\nPLAIN\r\n.");
		return;
	}
	if (mlen != 5 || strncasecmp(arg, "PLAIN", 5) != 0) {
		pop3_error(s, "-ERR Unsupported authentication mechanism");
		return;
	}
	if (plaintext_refused(s))
		return;
	if (sp == NULL) {
		pop3_reply(s, "+ ");
		pop3_enter_state(s, PS_AUTH_PLAIN);
		return;
	}
	/* RFC 5034 section 4: "=" is an empty initial response. */
	if (len - mlen - 1 == 1 && sp[1] == '=') {
		pop3_error(s, "-ERR [AUTH] Empty PLAIN response");
		return;
	}
	sasl_plain(s, sp + 1, len - mlen - 1);
}
