/*
 * smtp_milter.c - the content filters in the SMTP transaction (SPEC.md
 * section 11): each step of a transaction the filters apply to (MAIL,
 * RCPT, DATA, the message) goes through the chain of src/milter/ before
 * it is answered, so a filter's refusal is the reply to the command it
 * answered, never a bounce later. The session waits meanwhile (busy),
 * the loop does not.
 *
 * At the end of the message the changes the filters asked for are made:
 * the header section and body written again (milter_rewrite), the
 * sender changed, recipients deleted, and recipients added through the
 * relay rules like any other (policy_check_rcpt, on a worker); a
 * quarantined message is queued held (SPEC 11).
 */
#include <openssl/ssl.h>

#include <strings.h>

#include "smtp/smtp_int.h"
#include "milter/milter.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

/* ---- the session waits for the filters ---- */

static void
wait_start(struct smtp_session *s)
{
	s->milter_wait = true;
	s->base.busy = true;
}

/* The step is done: false when the session is going anyway. */
static bool
wait_end(struct smtp_session *s)
{
	s->milter_wait = false;
	return s->base.state != SS_CLOSING && s->tx != NULL;
}

static void
info_of(const struct smtp_session *s, struct milter_client_info *in)
{
	const struct conn *c = s->conn;

	memset(in, 0, sizeof(*in));
	if (s->rdns[0] != '\0')
		(void)str_copy(in->name, s->rdns, sizeof(in->name));
	else
		(void)str_fmt(in->name, sizeof(in->name), "[%s]", c->peer_str);
	(void)str_copy(in->addr, c->peer_str, sizeof(in->addr));
	in->port = c->peer_port;
	in->family = c->peer.family == AF_INET6 ? MILTER_F_INET6 :
	    MILTER_F_INET;
	net_addr_format(&c->local, in->if_addr, sizeof(in->if_addr));
	(void)str_copy(in->daemon, config_role_name(c->lc->role),
	    sizeof(in->daemon));
	(void)str_copy(in->myhostname, s->cfg->hostname,
	    sizeof(in->myhostname));
	(void)str_copy(in->helo, s->client.helo, sizeof(in->helo));
	if (c->tls && c->ssl != NULL) {
		(void)str_copy(in->tls_version, SSL_get_version(c->ssl),
		    sizeof(in->tls_version));
		(void)str_copy(in->cipher, SSL_get_cipher_name(c->ssl),
		    sizeof(in->cipher));
	}
	if (s->client.rs.authenticated) {
		(void)str_copy(in->auth_type, s->client.auth_mech,
		    sizeof(in->auth_type));
		(void)str_copy(in->auth_authen, s->client.rs.auth_mailbox,
		    sizeof(in->auth_authen));
	}
}

/* Logs and answers a filter's refusal of the command WHAT. */
static void
refused(struct smtp_session *s, const struct milter_result *r,
    const char *what, const char *addr)
{
	char qf[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)], qt[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)];
	char res[LOG_QUOTE_SZ(256)], first[256];
	size_t n = strcspn(r->reply.data, "\r\n");

	(void)str_ncopy(first, r->reply.data, n, sizeof(first));
	log_info("sess=%s qid=%s smtp %s-rejected client=%s from=%s%s%s "
	    "milter=%s why=\"%s\" result=%s", s->conn->id, s->tx->id, what,
	    s->conn->peer_str, log_quote_addr(qf, sizeof(qf),
	    s->tx->pol.sender), addr != NULL ? " to=" : "", addr != NULL ?
	    log_quote_addr(qt, sizeof(qt), addr) : "", r->filter, r->why,
	    log_quote_text(res, sizeof(res), first));
	smtp_reply_lines(s, r->reply.data, r->reply.len);
	if (r->v == MILTER_V_REJECT)
		session_count_error(&s->base);
	/* RFC 5321 section 3.8: 421 closes the session. */
	if (strncmp(r->reply.data, "421", 3) == 0)
		smtp_close(s, "content filter said 421");
}

/* The transaction ends refused. */
static void
tx_refused(struct smtp_session *s, const struct milter_result *r,
    const char *what)
{
	refused(s, r, what, NULL);
	smtp_tx_free(&s->tx);
	if (s->base.state != SS_CLOSING)
		smtp_enter_state(s, SS_READY);
}

/* ---- MAIL ---- */

static void
mail_done(void *arg, const struct milter_result *r)
{
	struct smtp_session *s = arg;

	if (!wait_end(s))
		return;
	if (r->v == MILTER_V_CONTINUE || r->v == MILTER_V_DISCARD) {
		s->tx->discard = r->v == MILTER_V_DISCARD;
		smtp_reply_decision(s, s->tx->mdec);
	} else
		tx_refused(s, r, "mail");
	smtp_resume(s);
}

bool
smtp_milter_mail(struct smtp_session *s, const struct policy_decision *d)
{
	struct smtp_tx *tx = s->tx;
	struct milter_client_info in;
	const char *argv[4];
	char from[ADDR_BUFSZ + 2], size[32];
	size_t argc = 0;
	bool relay = smtp_relay_capable(s);

	if (!milter_chain_applies(s->milter, relay))
		return false;
	tx->milter = s->milter;
	tx->mdec = xmalloc(sizeof(*tx->mdec));
	*tx->mdec = *d;
	info_of(s, &in);
	(void)str_fmt(from, sizeof(from), "<%s>", tx->pol.sender);
	argv[argc++] = from;
	if (tx->mail.has_size) {
		(void)str_fmt(size, sizeof(size), "SIZE=%llu",
		    (unsigned long long)tx->mail.size);
		argv[argc++] = size;
	}
	if (tx->mail.body == BODY_8BITMIME)
		argv[argc++] = "BODY=8BITMIME";
	if (tx->mail.smtputf8)
		argv[argc++] = "SMTPUTF8";
	wait_start(s);
	milter_chain_mail(s->milter, &in, relay, tx->id, argv, argc, mail_done,
	    s);
	return true;
}

/* ---- RCPT ---- */

static void
rcpt_done(void *arg, const struct milter_result *r)
{
	struct smtp_session *s = arg;
	struct smtp_tx *tx = s->tx;
	struct policy_holds back = { NULL, 0 };

	if (!wait_end(s))
		return;
	if (r->v == MILTER_V_CONTINUE || r->v == MILTER_V_DISCARD) {
		if (r->v == MILTER_V_DISCARD)
			tx->discard = true;
		tx->rcpt_start = xreallocarray(tx->rcpt_start, tx->pol.rcpts.n,
		    sizeof(*tx->rcpt_start));
		tx->rcpt_start[tx->pol.rcpts.n - 1] = tx->mark.ntargets;
		policy_mark_free(&tx->mark);
		smtp_enter_state(s, SS_RCPT);
		smtp_reply_decision(s, s->tx->mdec);
	} else {
		/* What the relay rules gave the recipient goes back. */
		policy_tx_rollback(&tx->pol, &tx->mark, &back);
		smtp_release_holds(tx, &back);
		refused(s, r, "rcpt", s->tx->mdec->addr);
	}
	smtp_resume(s);
}

bool
smtp_milter_rcpt(struct smtp_session *s, const struct policy_decision *d)
{
	char to[ADDR_BUFSZ + 2];
	const char *argv[1];

	if (s->tx->milter == NULL || s->tx->discard)
		return false;
	*s->tx->mdec = *d;
	(void)str_fmt(to, sizeof(to), "<%s>", d->addr);
	argv[0] = to;
	wait_start(s);
	milter_chain_rcpt(s->milter, argv, 1, rcpt_done, s);
	return true;
}

/* ---- DATA ---- */

static void
data_done(void *arg, const struct milter_result *r)
{
	struct smtp_session *s = arg;

	if (!wait_end(s))
		return;
	if (r->v == MILTER_V_CONTINUE || r->v == MILTER_V_DISCARD) {
		if (r->v == MILTER_V_DISCARD)
			s->tx->discard = true;
		smtp_data_go(s);
	} else
		tx_refused(s, r, "data");
	smtp_resume(s);
}

bool
smtp_milter_data(struct smtp_session *s)
{
	if (s->tx->milter == NULL || s->tx->discard)
		return false;
	wait_start(s);
	milter_chain_data(s->milter, data_done, s);
	return true;
}

/* ---- the end of the message ---- */

static int
count_lf(void *arg, const void *p, size_t n)
{
	const char *c = p, *e = c + n;
	uint64_t *lines = arg;

	while ((c = memchr(c, '\n', (size_t)(e - c))) != NULL) {
		(*lines)++;
		c++;
	}
	return 0;
}

void
smtp_discarded(struct smtp_session *s, const char *why)
{
	char qf[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)];

	log_info("sess=%s qid=%s smtp discarded client=%s from=%s size=%llu "
	    "why=\"%s\"", s->conn->id, s->tx->id, s->conn->peer_str,
	    log_quote_addr(qf, sizeof(qf), s->tx->pol.sender),
	    (unsigned long long)s->tx->size, why);
	smtp_reply_text(s, REPLY_QUEUED, s->tx->id);
	s->nmsgs++;
	smtp_tx_free(&s->tx);
	smtp_enter_state(s, SS_READY);
}

/* The header changes and the new body: the message written again. */
static int
rewrite(struct smtp_session *s, const struct milter_result *r)
{
	struct smtp_tx *tx = s->tx;
	struct spool out;
	size_t i;
	bool hdrs = false;

	for (i = 0; i < r->nmods; i++)
		if (r->mods[i].cmd == MILTER_R_ADDHEADER ||
		    r->mods[i].cmd == MILTER_R_INSHEADER ||
		    r->mods[i].cmd == MILTER_R_CHGHEADER)
			hdrs = true;
	if (!hdrs && !r->body_replaced)
		return 0;
	spool_init(&out, s->srv->d.data_fd, "tmp");
	if (milter_rewrite(r, tx->received.data, tx->received.len, &tx->body,
	    &out) == -1) {
		log_error("sess=%s qid=%s cannot write the filtered message: "
		    "%s", s->conn->id, tx->id, strerror(errno));
		spool_free(&out);
		return -1;
	}
	spool_free(&tx->body);
	spool_move(&tx->body, &out);
	tx->received_in_body = true;
	tx->lines = 0;
	if (spool_copy(&tx->body, count_lf, &tx->lines) == -1)
		return -1;
	return 0;
}

/* The sender a filter gave (CHGFROM). */
static void
change_sender(struct smtp_session *s, const char *addr)
{
	struct smtp_tx *tx = s->tx;
	struct mailaddr a;
	enum addr_path_kind kind;
	const char *err;
	size_t end;

	if (addr_parse_path(addr, strlen(addr), ADDR_F_NULL | ADDR_F_UTF8, &a,
	    &kind, &end, &err) == -1 || addr[end] != '\0') {
		log_warn("sess=%s qid=%s milter sender \"%s\" ignored: %s",
		    s->conn->id, tx->id, addr, err);
		return;
	}
	if (kind == ADDR_PATH_NULL)
		tx->pol.sender[0] = '\0';
	else
		addr_format(&a, tx->pol.sender, sizeof(tx->pol.sender));
	log_info("sess=%s qid=%s milter changed the sender to <%s>",
	    s->conn->id, tx->id, tx->pol.sender);
}

static void
eom_done(void *arg, const struct milter_result *r)
{
	struct smtp_session *s = arg;
	struct smtp_tx *tx;
	size_t i;

	if (!wait_end(s))
		return;
	tx = s->tx;
	if (r->v == MILTER_V_REJECT || r->v == MILTER_V_TEMPFAIL) {
		smtp_data_count_ended(r->reply.data[0] == '5');
		tx_refused(s, r, "message");
		smtp_resume(s);
		return;
	}
	if (r->v == MILTER_V_DISCARD) {
		tx->discard = true;
		smtp_discarded(s, "discarded by content filter");
		smtp_resume(s);
		return;
	}
	if (rewrite(s, r) == -1) {
		smtp_reply_id(s, REPLY_LOCAL_ERROR);
		smtp_tx_free(&s->tx);
		smtp_enter_state(s, SS_READY);
		smtp_resume(s);
		return;
	}
	(void)str_copy(tx->quarantine, r->quarantine, sizeof(tx->quarantine));
	for (i = 0; i < r->nmods; i++) {
		const struct milter_mod *m = &r->mods[i];

		if (m->cmd == MILTER_R_CHGFROM)
			change_sender(s, m->addr);
		else if (m->cmd == MILTER_R_ADDRCPT ||
		    m->cmd == MILTER_R_ADDRCPT_PAR)
			strlist_add(&tx->add_rcpts, m->addr);
		else if (m->cmd == MILTER_R_DELRCPT)
			strlist_add(&tx->del_rcpts, m->addr);
	}
	if (tx->add_rcpts.n > 0 || tx->del_rcpts.n > 0)
		smtp_milter_envelope(s);	/* then the delivery */
	else
		smtp_deliver(s);
}

static void
eom_go(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;

	wait_start(s);
	milter_chain_eom(s->milter, tx->received.data, tx->received.len,
	    &tx->body, eom_done, s);
}

/* BDAT has no DATA command to refuse: its step runs at the end. */
static void
bdat_data_done(void *arg, const struct milter_result *r)
{
	struct smtp_session *s = arg;

	if (!wait_end(s))
		return;
	if (r->v == MILTER_V_REJECT || r->v == MILTER_V_TEMPFAIL) {
		tx_refused(s, r, "data");
		smtp_resume(s);
		return;
	}
	if (r->v == MILTER_V_DISCARD) {
		smtp_discarded(s, "discarded by content filter");
		smtp_resume(s);
		return;
	}
	eom_go(s);
}

bool
smtp_milter_eom(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;

	if (tx->milter == NULL)
		return false;
	if (tx->discard) {
		smtp_discarded(s, "discarded by content filter");
		return true;
	}
	if (tx->bdat) {
		wait_start(s);
		milter_chain_data(s->milter, bdat_data_done, s);
		return true;
	}
	eom_go(s);
	return true;
}

/* ---- recipients a filter added or deleted ---- */

struct envelope_job {
	struct smtp_session	*s;
	struct worker_pool	*io;
	struct relay_session	 rs;
	struct policy_tx	 pol;
	size_t			*start;		/* tx->rcpt_start */
	struct strlist		 add, del;
	struct strlist		 log;		/* what was done */
};

/* Takes recipient I out, with the targets it brought. */
static void
drop_rcpt(struct envelope_job *j, size_t i)
{
	struct policy_tx *p = &j->pol;
	size_t from = j->start[i], to = i + 1 < p->rcpts.n ? j->start[i + 1] :
	    p->ntargets, k;

	for (k = from; k < to; k++)
		if (p->targets[k].relayed && p->nrelayed > 0)
			p->nrelayed--;
	memmove(p->targets + from, p->targets + to, (p->ntargets - to) *
	    sizeof(*p->targets));
	p->ntargets -= to - from;
	for (k = i + 1; k < p->rcpts.n; k++)
		j->start[k - 1] = j->start[k] - (to - from);
	free(p->rcpts.v[i]);
	memmove(p->rcpts.v + i, p->rcpts.v + i + 1, (p->rcpts.n - i - 1) *
	    sizeof(*p->rcpts.v));
	p->rcpts.n--;
}

static void
del_one(struct envelope_job *j, const char *addr)
{
	char a[ADDR_BUFSZ], line[ADDR_BUFSZ + 32];
	size_t i;

	milter_addr_bare(addr, a, sizeof(a));
	for (i = 0; i < j->pol.rcpts.n; i++)
		if (strcasecmp(j->pol.rcpts.v[i], a) == 0)
			break;
	(void)str_fmt(line, sizeof(line), "%s <%s>", i < j->pol.rcpts.n ?
	    "deleted" : "not-a-recipient", a);
	strlist_add(&j->log, line);
	if (i < j->pol.rcpts.n)
		drop_rcpt(j, i);
}

static void
add_one(struct envelope_job *j, struct backends *b, const char *addr)
{
	struct policy_rcpt rc;
	struct policy_decision d;
	enum addr_path_kind kind;
	const char *err;
	char line[ADDR_BUFSZ + 300];
	size_t end, before = j->pol.ntargets;
	int r;

	memset(&rc, 0, sizeof(rc));
	if (addr_parse_path(addr, strlen(addr), ADDR_F_POSTMASTER |
	    ADDR_F_UTF8, &rc.addr, &kind, &end, &err) == -1) {
		(void)str_fmt(line, sizeof(line), "refused %s (%s)", addr, err);
		strlist_add(&j->log, line);
		return;
	}
	rc.postmaster = kind == ADDR_PATH_POSTMASTER;
	r = policy_check_rcpt(b, &j->rs, &j->pol, &rc, clock_now(), NULL, &d);
	if (r == 1 && j->pol.rcpts.n > 0) {
		j->start = xreallocarray(j->start, j->pol.rcpts.n,
		    sizeof(*j->start));
		j->start[j->pol.rcpts.n - 1] = before;
	}
	(void)str_fmt(line, sizeof(line), r == 1 ? "added <%s>" :
	    "refused <%s> (%s%s%s)", d.addr, policy_reason_name(d.reason),
	    d.why[0] != '\0' ? ": " : "", d.why);
	strlist_add(&j->log, line);
}

static void
envelope_work(void *ctx, void *arg)
{
	struct envelope_job *j = arg;
	size_t i;

	for (i = 0; i < j->del.n; i++)
		del_one(j, j->del.v[i]);
	for (i = 0; i < j->add.n; i++)
		add_one(j, ctx, j->add.v[i]);
}

static void
envelope_free(struct envelope_job *j)
{
	strlist_free(&j->add);
	strlist_free(&j->del);
	strlist_free(&j->log);
	free(j->start);
	free(j);
}

static void
envelope_release(void *arg)
{
	struct envelope_job *j = arg;

	smtp_release_holds_io(j->io, "-", &j->pol.holds);
	policy_tx_free(&j->pol);
	envelope_free(j);
}

static void
envelope_done(void *arg)
{
	struct envelope_job *j = arg;
	struct smtp_session *s = j->s;
	struct smtp_tx *tx = s->tx;
	size_t i;

	s->base.job = NULL;
	tx->pol = j->pol;
	tx->rcpt_start = j->start;
	j->start = NULL;
	for (i = 0; i < j->log.n; i++)
		log_info("sess=%s qid=%s milter recipient %s", s->conn->id,
		    tx->id, j->log.v[i]);
	envelope_free(j);
	if (tx->pol.ntargets == 0) {
		smtp_discarded(s, "no recipient left after the content filters");
		smtp_resume(s);
		return;
	}
	smtp_deliver(s);
}

static const struct worker_ops envelope_ops = {
	envelope_work, envelope_done, envelope_release,
};

void
smtp_milter_envelope(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	struct envelope_job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	j->io = s->srv->d.io;
	j->rs = s->client.rs;
	j->pol = tx->pol;
	memset(&tx->pol, 0, sizeof(tx->pol));
	j->start = tx->rcpt_start;
	tx->rcpt_start = NULL;
	j->add = tx->add_rcpts;
	j->del = tx->del_rcpts;
	strlist_init(&tx->add_rcpts);
	strlist_init(&tx->del_rcpts);
	strlist_init(&j->log);
	session_submit(&s->base, s->srv->d.io, &envelope_ops, j);
}
