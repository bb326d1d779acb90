/*
 * policy_check.c - the decisions of a mail transaction, one call each:
 * MAIL (policy_check_mail), RCPT (policy_check_rcpt) and the end of DATA
 * (policy_end_of_data). Each takes the transaction as the policy sees it
 * (struct policy_tx) and returns the whole answer: the targets added to
 * the transaction, the reply, and the rule the log names. The SMTP
 * session only applies it; the golden tests (tests/tools/policy_driver.c)
 * and `popgate relay explain` call the same functions.
 *
 * RCPT, for an address in a hosted domain: resolution (mailboxes,
 * aliases, the postmaster of RFC 5321 section 4.5.1) and quota; for an
 * SRS address of ours (policy_srs.c), the address it was made from, in
 * its place; for any other domain: the relay rules of policy_rules.c
 * (SPEC section 1).
 */
#include "policy/policy_int.h"
#include "maildir/maildir.h"
#include "util/xalloc.h"
#include "util/compat.h"

void
policy_tx_init(struct policy_tx *tx, const struct config *cfg,
    const struct mailaddr *sender, enum addr_path_kind kind, uint64_t size)
{
	struct mailaddr given;

	memset(tx, 0, sizeof(*tx));
	strlist_init(&tx->rcpts);
	strlist_init(&tx->expanded);
	strlist_init(&tx->expanded_orcpt);
	tx->size = size;
	tx->max_size = cfg->max_message_size;
	if (kind != ADDR_PATH_MAILBOX)
		return;
	/* As given, the domain lower-case: logs, the queue, Return-Path. */
	given = *sender;
	str_lower(given.domain);
	addr_format(&given, tx->sender, sizeof(tx->sender));
	addr_canon_set(&tx->sender_key, sender);
}

void
policy_tx_free(struct policy_tx *tx)
{
	strlist_free(&tx->rcpts);
	strlist_free(&tx->expanded);
	strlist_free(&tx->expanded_orcpt);
	free(tx->targets);
	tx->targets = NULL;
	tx->ntargets = 0;
	policy_holds_free(&tx->holds);
}

void
policy_tx_mark(const struct policy_tx *tx, struct policy_mark *m)
{
	m->rcpts = tx->rcpts.n;
	m->expanded = tx->expanded.n;
	m->ntargets = tx->ntargets;
	m->nrelayed = tx->nrelayed;
	m->max_size = tx->max_size;
	m->grant = tx->grant;
	m->holds.n = tx->holds.n;
	m->holds.v = tx->holds.n == 0 ? NULL :
	    xreallocarray(NULL, tx->holds.n, sizeof(*m->holds.v));
	if (tx->holds.n > 0)
		memcpy(m->holds.v, tx->holds.v, tx->holds.n *
		    sizeof(*m->holds.v));
}

void
policy_mark_free(struct policy_mark *m)
{
	policy_holds_free(&m->holds);
}

static void
strlist_cut(struct strlist *l, size_t n)
{
	while (l->n > n)
		free(l->v[--l->n]);
}

void
policy_tx_rollback(struct policy_tx *tx, struct policy_mark *m,
    struct policy_holds *release)
{
	struct policy_hold *h;
	size_t i;

	strlist_cut(&tx->rcpts, m->rcpts);
	strlist_cut(&tx->expanded, m->expanded);
	strlist_cut(&tx->expanded_orcpt, m->expanded);
	tx->ntargets = m->ntargets;
	tx->nrelayed = m->nrelayed;
	tx->max_size = m->max_size;
	tx->grant = m->grant;
	/* Entries are only ever added or grown: the difference goes back. */
	policy_holds_free(release);
	for (i = 0; i < tx->holds.n; i++) {
		h = &tx->holds.v[i];
		if (i < m->holds.n && h->msgs == m->holds.v[i].msgs &&
		    h->rcpts == m->holds.v[i].rcpts)
			continue;
		release->v = xreallocarray(release->v, release->n + 1,
		    sizeof(*release->v));
		release->v[release->n] = *h;
		if (i < m->holds.n) {
			release->v[release->n].msgs -= m->holds.v[i].msgs;
			release->v[release->n].rcpts -= m->holds.v[i].rcpts;
			*h = m->holds.v[i];
		}
		release->n++;
	}
	tx->holds.n = m->holds.n;
	policy_mark_free(m);
}

void
policy_holds_move(struct policy_holds *to, struct policy_holds *from)
{
	*to = *from;
	from->v = NULL;
	from->n = 0;
}

void
policy_holds_free(struct policy_holds *h)
{
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

/* D accepts, with the generic reply ID naming ADDR. */
static int
accepted(struct policy_decision *d, enum reply_id id, const char *addr)
{
	(void)policy_decide(d, POLICY_OK, addr, 0);
	d->reply_id = id;
	d->reply_text_id = REPLY_NTEXT;
	d->code = replies[id].code;
	d->esc = replies[id].esc;
	return 1;
}

bool
policy_mail_blocks(const struct relay_session *rs)
{
	return rs->role != ROLE_SMTP;
}

static int
check_mail(struct backends *b, const struct relay_session *rs,
    struct policy_tx *tx, time_t now, const struct relay_trace *t,
    struct policy_decision *d)
{
	int r;

	memset(d, 0, sizeof(*d));
	if (!policy_mail_blocks(rs))
		return accepted(d, REPLY_SENDER_OK, tx->sender);
	r = policy_relay_check(b, rs, tx, now, t, d);
	if (r != 1)
		return r;
	tx->grant = d->grant;
	return accepted(d, REPLY_SENDER_OK, tx->sender);
}

int
policy_check_mail(struct backends *b, const struct relay_session *rs,
    struct policy_tx *tx, time_t now, const struct relay_trace *t,
    struct policy_decision *d)
{
	int r = check_mail(b, rs, tx, now, t, d);

	policy_count_decision(POLICY_STAGE_MAIL, d, r);
	return r;
}

static void
add_target(struct policy_tx *tx, const struct target *t)
{
	tx->targets = xreallocarray(tx->targets, tx->ntargets + 1,
	    sizeof(*tx->targets));
	tx->targets[tx->ntargets++] = *t;
}

/* The first mailbox of R that a message of SIZE octets would put over
   its quota, or NULL. */
static const struct target *
over_quota(const struct backends *b, const struct resolution *r,
    uint64_t size)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct target *t = &r->v[i];
		uint64_t used;

		if (t->kind != TARGET_MAILBOX || t->quota == 0)
			continue;
		if (maildir_usage(b->data_fd, t->path, &used) == 0 &&
		    used + size > t->quota)
			return t;
	}
	return NULL;
}

/* The DSN parameters of RC (given as GIVEN) onto a target T of its
   resolution into N targets (RFC 3461 section 6.2.7). */
static void
target_dsn(struct target *t, const struct policy_rcpt *rc, const char *given,
    size_t n)
{
	t->notify = rc->notify;
	if (n > 1 && (t->notify & DSN_NOTIFY_SUCCESS)) {
		/* The alias reports "expanded"; its members do not report
		   their own success. */
		t->notify &= ~DSN_NOTIFY_SUCCESS;
		if (t->notify == 0)
			t->notify = DSN_NOTIFY_NEVER;
	}
	if (rc->orcpt[0] != '\0')
		(void)str_copy(t->orcpt, rc->orcpt, sizeof(t->orcpt));
	else if (strcasecmp(t->address, given) != 0 &&
	    dsn_orcpt_make(given, t->orcpt, sizeof(t->orcpt)) == -1)
		t->orcpt[0] = '\0';
}

/* A hosted recipient: its targets join the message, each once. */
static void
add_hosted(struct policy_tx *tx, const struct resolution *r,
    const struct policy_rcpt *rc, const char *given)
{
	struct target t;
	size_t i, k;

	for (i = 0; i < r->n; i++) {
		for (k = 0; k < tx->ntargets; k++)
			if (strcmp(tx->targets[k].address,
			    r->v[i].address) == 0)
				break;
		if (k < tx->ntargets)
			continue;
		t = r->v[i];
		target_dsn(&t, rc, given, r->n);
		add_target(tx, &t);
	}
	if (r->n > 1 && (rc->notify & DSN_NOTIFY_SUCCESS)) {
		strlist_add(&tx->expanded, given);
		strlist_add(&tx->expanded_orcpt, rc->orcpt);
	}
}

/* D refuses the relaying recipient GIVEN (R 0 or -1). */
static int
relay_refused(struct policy_decision *d, const char *given, int r)
{
	if (policy_names_rcpt(d->reason))
		(void)str_fmt(d->reply, sizeof(d->reply), "<%s>: %s", given,
		    d->text);
	return r;
}

/* A recipient in a domain not hosted here: the relay rules decide. */
static int
relay_rcpt(struct backends *b, const struct relay_session *rs,
    struct policy_tx *tx, const struct policy_rcpt *rc, const char *given,
    time_t now, const struct relay_trace *tr, struct policy_decision *d)
{
	struct mailaddr ra = rc->addr;
	struct target t;
	size_t k;
	int r;

	r = policy_relay_check(b, rs, tx, now, tr, d);
	(void)str_copy(d->addr, given, sizeof(d->addr));
	if (r != 1)
		return relay_refused(d, given, r);
	/* The same remote recipient twice is one recipient (domains match
	   in any case), counted once against the caps. */
	memset(&t, 0, sizeof(t));
	str_lower(ra.domain);
	addr_format(&ra, t.address, sizeof(t.address));
	for (k = 0; k < tx->ntargets; k++)
		if (tx->targets[k].kind == TARGET_REMOTE &&
		    strcmp(tx->targets[k].address, t.address) == 0)
			return accepted(d, REPLY_RCPT_OK, given);
	/* Held now, counted from now: parallel sessions see it at once. */
	if ((r = policy_hold(b, tx, &d->grant, now, tr, d)) != 1)
		return relay_refused(d, given, r);
	tx->grant = d->grant;
	tx->nrelayed++;
	/* SPEC 1: relayed messages have the smaller size limit. */
	if (tx->max_size > b->cfg->relay_max_message_size)
		tx->max_size = b->cfg->relay_max_message_size;
	t.kind = TARGET_REMOTE;
	t.relayed = true;
	(void)str_copy(t.customer, tx->grant.customer, sizeof(t.customer));
	target_dsn(&t, rc, given, 1);
	add_target(tx, &t);
	strlist_add(&tx->rcpts, given);
	return accepted(d, REPLY_RCPT_OK, given);
}

/* The SRS address RC (GIVEN) decoded into ORIG and *KEY: 1; 0 refused
   or -1 a temporary failure (D filled). With srs_bounces_only, only the null
   sender may write to one: a bounce or an auto-reply, never a message
   that would make us a relay to whoever an address names. */
static int
srs_decode(struct backends *b, const struct policy_tx *tx,
    const struct policy_rcpt *rc, const char *given, time_t now,
    char orig[ADDR_BUFSZ], struct addr_canon *key, struct policy_decision *d)
{
	enum srs_status st = SRS_OK;
	const char *err = "";
	int r;

	if (b->cfg->srs_bounces_only && tx->sender[0] != '\0') {
		r = policy_decide(d, POLICY_SRS_NOT_BOUNCE, given, 0);
		(void)str_copy(d->why, "a sender other than <>",
		    sizeof(d->why));
	} else if ((r = policy_srs_reverse(b, &rc->addr, now, orig, key, &st,
	    &err)) == -1) {
		(void)str_copy(d->why, err, sizeof(d->why));
		return policy_decide(d, POLICY_TEMP_LOOKUP, given, 0);
	} else if (r == 0) {
		r = policy_decide(d, st == SRS_EXPIRED ? POLICY_SRS_EXPIRED :
		    POLICY_SRS_FORGED, given, b->cfg->srs_max_age / SRS_DAY);
		(void)str_copy(d->why, srs_status_text(st), sizeof(d->why));
	} else {
		return 1;
	}
	(void)str_copy(d->addr, given, sizeof(d->addr));
	return relay_refused(d, given, r);
}

/* The original sender ADDRESS of the SRS recipient RC (GIVEN), not
   hosted here: the bounce goes on to it, as forwarded mail does (the
   system relaying on its own behalf, SPEC 1: no customer's caps). */
static int
add_returned(struct policy_tx *tx, const struct policy_rcpt *rc,
    const char *given, const char *address, struct policy_decision *d)
{
	struct target t;
	size_t k;

	for (k = 0; k < tx->ntargets; k++)
		if (strcmp(tx->targets[k].address, address) == 0)
			return accepted(d, REPLY_RCPT_OK, given);
	memset(&t, 0, sizeof(t));
	t.kind = TARGET_REMOTE;
	(void)str_copy(t.address, address, sizeof(t.address));
	target_dsn(&t, rc, given, 1);
	add_target(tx, &t);
	strlist_add(&tx->rcpts, given);
	return accepted(d, REPLY_RCPT_OK, given);
}

static int
check_rcpt(struct backends *b, const struct relay_session *rs,
    struct policy_tx *tx, const struct policy_rcpt *rc, time_t now,
    const struct relay_trace *tr, struct policy_decision *d)
{
	char given[ADDR_BUFSZ], orig[ADDR_BUFSZ];
	struct addr_canon key;
	struct resolution res;
	const struct target *full;
	const char *err = "";
	bool srs = false;
	int r;

	memset(d, 0, sizeof(*d));
	if (rc->postmaster)
		(void)str_copy(given, "postmaster", sizeof(given));
	else
		addr_format(&rc->addr, given, sizeof(given));
	if (tx->rcpts.n >= b->cfg->max_recipients)
		return policy_decide(d, POLICY_TOO_MANY_RCPTS, given, 0);
	if (rs->dnsbl_listed && (r = policy_dnsbl_check(b, rs, now, tr,
	    d)) != 1) {
		(void)str_copy(d->addr, given, sizeof(d->addr));
		return r;
	}
	if (!rc->postmaster)
		addr_canon_set(&key, &rc->addr);
	if (!rc->postmaster && policy_srs_is_ours(b->cfg, &rc->addr)) {
		/* A bounce to an address we made: its original sender is
		   the recipient now. */
		if ((r = srs_decode(b, tx, rc, given, now, orig, &key,
		    d)) != 1)
			return r;
		srs = true;
	}
	r = policy_resolve(b, rc->postmaster ? NULL : &key, &res, &err);
	if (r == -1) {
		(void)str_copy(d->why, err, sizeof(d->why));
		return policy_decide(d, POLICY_TEMP_LOOKUP, given, 0);
	}
	if (r == 0 && !res.hosted && srs) {
		r = add_returned(tx, rc, given, orig, d);
	} else if (r == 0 && !res.hosted) {
		r = relay_rcpt(b, rs, tx, rc, given, now, tr, d);
	} else if (r == 1 && (full = over_quota(b, &res, tx->size)) != NULL) {
		r = policy_decide(d, POLICY_QUOTA, full->address, 0);
	} else if (r == 1) {
		add_hosted(tx, &res, rc, given);
		strlist_add(&tx->rcpts, given);
		r = accepted(d, REPLY_RCPT_OK, given);
	} else {
		r = policy_decide(d, POLICY_UNKNOWN_USER, given, 0);
	}
	resolution_free(&res);
	return r;
}

int
policy_check_rcpt(struct backends *b, const struct relay_session *rs,
    struct policy_tx *tx, const struct policy_rcpt *rc, time_t now,
    const struct relay_trace *tr, struct policy_decision *d)
{
	int r = check_rcpt(b, rs, tx, rc, now, tr, d);

	policy_count_decision(POLICY_STAGE_RCPT, d, r);
	return r;
}

bool
policy_needs_headers(const struct policy_tx *tx)
{
	return tx->nrelayed > 0;
}

int
policy_end_of_data(struct backends *b, const struct relay_grant *g,
    size_t nrelayed, struct policy_holds *holds, const char *headers,
    size_t len, policy_store_fn *store, void *arg, struct policy_decision *d,
    const char **hold_error_r)
{
	struct policy_holds none = { NULL, 0 };
	int r = 1;

	*hold_error_r = NULL;
	memset(d, 0, sizeof(*d));
	if (holds == NULL)
		holds = &none;
	/* SPEC 1: every From: address belongs to the customer. */
	if (nrelayed > 0) {
		r = policy_check_from(b, g, headers, len, d);
		policy_count_decision(POLICY_STAGE_DATA, d, r);
	}
	if (r == 1 && store(arg) == 0) {
		/* Accepted: the holds are the charge. */
		policy_holds_free(holds);
		return 1;
	}
	(void)policy_release(b, holds, hold_error_r);
	return r;
}
