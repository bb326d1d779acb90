/*
 * policy_rules.c - the relay rules of SPEC section 1, in order, each with
 * its own reply and its own name in the logs:
 *
 *   authorized       a live POP3 authorization for the client (IPv6: its
 *                    prefix), SMTP AUTH in the session, trusted_networks
 *   good standing    the customer is active
 *   null sender      <> never relays
 *   sender           the envelope sender belongs to the customer
 *                    (sender_policy = domain | address)
 *   recipients       at most relay_max_recipients per message
 *   hourly caps      messages and recipients per customer per hour,
 *                    each relaying RCPT held against them at once (an
 *                    atomic check-and-add; policy_hold)
 *   size             relay_max_message_size
 *
 * Before them, for any recipient, hosted or not: a client that the DNS
 * blocklists list (looked up at connect, src/smtp/smtp_dnsbl.c) is
 * refused unless one of the ways of "authorized" lets it relay
 * (policy_dnsbl_check), like Postfix's reject_rbl_client after
 * permit_sasl_authenticated.
 *
 * Several customers may be authorized from one address (NAT): the sender
 * picks the one it belongs to, and that one is charged. Trusted networks
 * relay without a customer (no customer rules, no counting). A temporary
 * failure of the store or relay table is a 4xx, never a refusal.
 *
 * Every answer of the decisions has one entry in the table below: the
 * rule name the logs and `relay explain` show, and the reply, so a rule's
 * code, enhanced code, text and name cannot drift apart.
 */
#include <stdarg.h>
#include <time.h>

#include "policy/policy_int.h"
#include "core/rfc5322.h"
#include "hook/hook.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

/* What goes in the slot of a reply text. */
enum slot {
	SLOT_NONE,
	SLOT_STR,
	SLOT_NUM,
};

/* Every answer of the decisions: the rule it names in logs, and its
   reply. A relay rule's reply is its own: CODE, ESC, and HEAD, the slot,
   TAIL. The answers about hosted recipients are GENERIC replies of
   core/reply.h: REPLY, a fixed text, or with NAMES_ADDR the reply
   REPLY_TEXT that names the recipient. */
static const struct reason_entry {
	const char	*rule;
	const char	*esc;
	const char	*head;
	const char	*tail;
	enum reply_id	 reply;		/* GENERIC: this one */
	enum reply_text_id reply_text;	/* GENERIC and NAMES_ADDR */
	int		 code;
	enum slot	 slot;
	bool		 generic;
	bool		 names_addr;	/* GENERIC: REPLY_TEXT, not REPLY */
	bool		 temp;		/* a temporary failure, not a no */
	bool		 names_rcpt;	/* at RCPT: "<recipient>: TEXT" */
} reasons[POLICY_NREASONS] = {
	[POLICY_OK] = { .rule = "ok", .generic = true,
	    .reply = REPLY_RCPT_OK },
	[POLICY_AUTHORIZED] = { .rule = "authorized", .code = 554,
	    .esc = "5.7.1", .head = REPLY_CHECK_MAIL_FIRST, .slot = SLOT_STR,
	    .names_rcpt = true },
	[POLICY_STANDING] = { .rule = "good-standing", .code = 550,
	    .esc = "5.7.1", .head = "Relaying denied: the account is "
	    "suspended" },
	[POLICY_NULL_SENDER] = { .rule = "null-sender", .code = 550,
	    .esc = "5.7.1", .head = "Relaying denied: the null sender <> may "
	    "not relay" },
	[POLICY_SENDER] = { .rule = "sender", .code = 553, .esc = "5.7.1",
	    .head = "<", .slot = SLOT_STR, .tail = ">: Sender address "
	    "rejected: not an address of your account" },
	[POLICY_RCPT_CAP] = { .rule = "recipients", .code = 452,
	    .esc = "4.5.3", .head = "Too many recipients for one relayed "
	    "message (at most ", .slot = SLOT_NUM, .tail = ")" },
	[POLICY_HOURLY_MESSAGES] = { .rule = "hourly-messages", .code = 450,
	    .esc = "4.7.1", .head = "Hourly message limit reached (",
	    .slot = SLOT_NUM, .tail = " per hour), try again later" },
	[POLICY_HOURLY_RECIPIENTS] = { .rule = "hourly-recipients",
	    .code = 450, .esc = "4.7.1", .head = "Hourly recipient limit "
	    "reached (", .slot = SLOT_NUM, .tail = " per hour), try again "
	    "later" },
	[POLICY_SIZE] = { .rule = "size", .code = 552, .esc = "5.3.4",
	    .head = "Message too large to relay (at most ", .slot = SLOT_NUM,
	    .tail = " octets)" },
	[POLICY_FROM_UNPARSEABLE] = { .rule = "header-from", .code = 550,
	    .esc = "5.7.1", .head = "Message refused: the From: header cannot "
	    "be parsed (", .slot = SLOT_STR, .tail = ")" },
	[POLICY_FROM_FOREIGN] = { .rule = "header-from", .code = 550,
	    .esc = "5.7.1", .head = "Message refused: From: address <",
	    .slot = SLOT_STR, .tail = "> is not an address of your account" },
	[POLICY_TEMP_RELAY] = { .rule = "temporary-failure", .code = 451,
	    .esc = "4.7.1", .head = "Relay check temporarily unavailable, try "
	    "again later", .temp = true },
	[POLICY_TEMP_SENDER] = { .rule = "temporary-failure", .code = 451,
	    .esc = "4.3.0", .head = "Temporary failure checking the sender, "
	    "try again later", .temp = true },
	[POLICY_TEMP_FROM] = { .rule = "temporary-failure", .code = 451,
	    .esc = "4.7.1", .head = "Temporary failure checking the From: "
	    "header, try again later", .temp = true },
	[POLICY_DNSBL] = { .rule = "dnsbl", .code = 554, .esc = "5.7.1",
	    .head = "Service unavailable; client ", .slot = SLOT_STR },
	[POLICY_UNKNOWN_USER] = { .rule = "unknown-user", .generic = true,
	    .names_addr = true, .reply_text = REPLY_UNKNOWN_USER },
	[POLICY_QUOTA] = { .rule = "quota", .generic = true,
	    .names_addr = true, .reply_text = REPLY_OVER_QUOTA },
	[POLICY_TEMP_LOOKUP] = { .rule = "temporary-failure", .generic = true,
	    .reply = REPLY_TEMP_FAIL, .temp = true },
	[POLICY_TOO_MANY_RCPTS] = { .rule = "max-recipients", .generic = true,
	    .reply = REPLY_TOO_MANY_RCPTS },
	[POLICY_SRS_FORGED] = { .rule = "srs-forged", .code = 550,
	    .esc = "5.1.1", .head = "Invalid SRS address: this host did not "
	    "make it", .names_rcpt = true },
	[POLICY_SRS_EXPIRED] = { .rule = "srs-expired", .code = 550,
	    .esc = "5.1.1", .head = "SRS address expired (made more than ",
	    .slot = SLOT_NUM, .tail = " days ago)", .names_rcpt = true },
	[POLICY_SRS_NOT_BOUNCE] = { .rule = "srs-not-bounce", .code = 550,
	    .esc = "5.7.1", .head = "SRS addresses take only bounces "
	    "(MAIL FROM:<>)", .names_rcpt = true },
};

const char *
policy_reason_name(enum policy_reason r)
{
	return reasons[r].rule;
}

bool
policy_names_rcpt(enum policy_reason r)
{
	return reasons[r].names_rcpt;
}

int
policy_decide(struct policy_decision *d, enum policy_reason reason,
    const char *str, unsigned long long num)
{
	const struct reason_entry *e = &reasons[reason];
	char val[32] = "";

	d->reason = reason;
	d->reply_id = e->generic && !e->names_addr ? e->reply :
	    REPLY_NREPLIES;
	d->reply_text_id = e->generic && e->names_addr ? e->reply_text :
	    REPLY_NTEXT;
	if (e->generic) {
		const struct reply *r = e->names_addr ?
		    &replies_text[e->reply_text] : &replies[e->reply];

		d->code = r->code;
		d->esc = r->esc;
		d->text[0] = d->reply[0] = '\0';
		(void)str_copy(d->addr, str != NULL ? str : "",
		    sizeof(d->addr));
	} else {
		d->code = e->code;
		d->esc = e->esc;
		if (e->slot == SLOT_NUM)
			(void)str_fmt(val, sizeof(val), "%llu", num);
		(void)str_fmt(d->text, sizeof(d->text), "%s%s%s", e->head,
		    e->slot == SLOT_STR ? str : val, e->tail != NULL ?
		    e->tail : "");
		(void)str_copy(d->reply, d->text, sizeof(d->reply));
	}
	return reason == POLICY_OK ? 1 : e->temp ? -1 : 0;
}

static void
trace(const struct relay_trace *t, const char *rule, int ok,
    const char *fmt, ...) PRINTFLIKE(4, 5);

static void
trace(const struct relay_trace *t, const char *rule, int ok,
    const char *fmt, ...)
{
	char detail[400];
	va_list ap;

	if (t == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	t->fn(t->arg, rule, ok, detail);
}

/* Is the address C one of CUSTOMER's, by sender_policy? 1, 0, -1. */
static int
affiliated(struct store *s, const struct config *cfg, const char *customer,
    const struct addr_canon *c, const char **why_r, const char **error_r)
{
	struct store_domain d;
	struct store_mailbox m;
	struct strlist targets;
	int r;

	r = store_domain_find(s, c->a.domain, &d, error_r);
	if (r != 1) {
		*why_r = "its domain is not hosted here";
		return r;
	}
	if (strcmp(d.customer, customer) != 0) {
		*why_r = "its domain belongs to another customer";
		return 0;
	}
	if (cfg->sender_policy == SENDER_POLICY_DOMAIN) {
		*why_r = "its domain belongs to the customer";
		return 1;
	}
	r = store_mailbox_get_addr(s, c, &m, error_r);
	if (r != 0) {
		*why_r = "it is a mailbox of the customer";
		return r;
	}
	strlist_init(&targets);
	r = store_alias_targets_addr(s, c, &targets, error_r);
	strlist_free(&targets);
	*why_r = r == 1 ? "it is an alias of the customer" :
	    "no such mailbox or alias (sender_policy = address)";
	return r;
}

static void
grant_from_entry(struct relay_grant *g, const struct relay_entry *e)
{
	memset(g, 0, sizeof(*g));
	g->kind = GRANT_POP;
	(void)str_copy(g->customer, e->customer, sizeof(g->customer));
	(void)str_copy(g->mailbox, e->mailbox, sizeof(g->mailbox));
	(void)str_copy(g->key, e->key, sizeof(g->key));
	(void)str_copy(g->client, e->client, sizeof(g->client));
	(void)str_copy(g->listener, e->listener, sizeof(g->listener));
	g->opened = e->opened;
	g->expires = e->expires;
}

/* Rule 1: who is authorized from here. Fills the candidates. */
static int
authorized(struct backends *b, const struct relay_session *rs, time_t now,
    const struct relay_trace *t, struct relay_entry **cand, size_t *ncand,
    struct policy_decision *d)
{
	struct relay_auth *ra;
	const char *err = "";
	char ip[NET_ADDRSTRLEN];

	*cand = NULL;
	*ncand = 0;
	if (rs->authenticated) {
		trace(t, "authorized", 1, "SMTP AUTH as %s (customer %s)",
		    rs->auth_mailbox, rs->auth_customer);
		return 1;
	}
	net_addr_format(&rs->client, ip, sizeof(ip));
	if (rs->trusted) {
		trace(t, "authorized", 1, "%s is in trusted_networks", ip);
		return 1;
	}
	ra = backends_relay(b, &err);
	if (ra == NULL || relay_lookup(ra, &rs->client,
	    (unsigned)b->cfg->relay_ipv6_prefix, now, cand, ncand, &err) ==
	    -1) {
		(void)str_copy(d->why, err, sizeof(d->why));
		trace(t, "authorized", -1, "relay table unavailable: %s", err);
		return policy_decide(d, POLICY_TEMP_RELAY, NULL, 0);
	}
	if (*ncand == 0) {
		trace(t, "authorized", 0, "no POP3 login from %s within the "
		    "relay window, no SMTP AUTH, not a trusted network", ip);
		(void)str_fmt(d->why, sizeof(d->why), "no authorization for "
		    "%s", ip);
		return policy_decide(d, POLICY_AUTHORIZED,
		    b->cfg->submission_ports, 0);
	}
	trace(t, "authorized", 1, "%zu live authorization(s) for %s, newest "
	    "by %s (customer %s) via %s", *ncand, ip, (*cand)[0].mailbox[0] !=
	    '\0' ? (*cand)[0].mailbox : "the administrator",
	    (*cand)[0].customer, (*cand)[0].listener);
	return 1;
}

int
policy_dnsbl_check(struct backends *b, const struct relay_session *rs,
    time_t now, const struct relay_trace *t, struct policy_decision *d)
{
	struct relay_entry *cand = NULL;
	size_t ncand = 0;
	char ip[NET_ADDRSTRLEN], v[NET_ADDRSTRLEN + POLICY_DNSBL_LISTS_MAX +
	    16];
	int r;

	memset(d, 0, sizeof(*d));
	r = authorized(b, rs, now, NULL, &cand, &ncand, d);
	free(cand);
	if (r == -1) {
		d->relayed = true;
		trace(t, "dnsbl", -1, "listed by %s; relay table unavailable: "
		    "%s", rs->dnsbl_lists, d->why);
		return r;
	}
	if (r == 1) {
		trace(t, "dnsbl", 1, "listed by %s, but authorized to relay",
		    rs->dnsbl_lists);
		memset(d, 0, sizeof(*d));
		return 1;
	}
	net_addr_format(&rs->client, ip, sizeof(ip));
	trace(t, "dnsbl", 0, "%s is listed by %s and not authorized", ip,
	    rs->dnsbl_lists);
	memset(d, 0, sizeof(*d));
	d->relayed = true;
	(void)str_fmt(d->why, sizeof(d->why), "client %s listed by %s", ip,
	    rs->dnsbl_lists);
	(void)str_fmt(v, sizeof(v), "[%s] listed by %s", ip, rs->dnsbl_lists);
	return policy_decide(d, POLICY_DNSBL, v, 0);
}

/* 1 when CUSTOMER is active, 0 suspended or gone, -1 store trouble. */
static int
active(struct store *s, const char *customer, const char **error_r)
{
	struct store_customer cu;
	int r = store_customer_find(s, customer, &cu, error_r);

	return r == 1 ? !cu.suspended : r;
}

/* What the customer rules found out before deciding. */
struct standing {
	int		 act;	/* the customer is active: 1, 0 */
	int		 aff;	/* the sender is the customer's: 1, 0 */
	const char	*why;	/* of AFF */
	const char	*who;	/* the customer, for traces and logs */
	const char	*err;	/* the store's, on -1 */
};

/* SMTP AUTH: the grant is the session's own mailbox and customer. */
static int
auth_standing(struct store *s, const struct config *cfg,
    const struct relay_session *rs, const struct policy_tx *tx,
    struct relay_grant *g, struct standing *st)
{
	memset(g, 0, sizeof(*g));
	g->kind = GRANT_AUTH;
	(void)str_copy(g->customer, rs->auth_customer, sizeof(g->customer));
	(void)str_copy(g->mailbox, rs->auth_mailbox, sizeof(g->mailbox));
	net_addr_format(&rs->client, g->client, sizeof(g->client));
	(void)str_copy(g->listener, config_role_name(rs->role),
	    sizeof(g->listener));
	st->who = g->customer;
	if ((st->act = active(s, rs->auth_customer, &st->err)) == -1)
		return -1;
	if (tx->sender[0] != '\0' && (st->aff = affiliated(s, cfg,
	    rs->auth_customer, &tx->sender_key, &st->why, &st->err)) == -1)
		return -1;
	return 0;
}

/* POP3 authorizations: with several from one address (NAT) the sender
   picks the customer; standing is of that one, else of anyone
   authorized here. */
static int
pop_standing(struct store *s, const struct config *cfg,
    const struct policy_tx *tx, const struct relay_entry *cand,
    size_t ncand, struct relay_grant *g, struct standing *st)
{
	size_t i, pick = ncand;

	for (i = 0; tx->sender[0] != '\0' && i < ncand && st->aff == 0;
	    i++) {
		st->aff = affiliated(s, cfg, cand[i].customer, &tx->sender_key,
		    &st->why, &st->err);
		if (st->aff == -1)
			return -1;
		if (st->aff == 1)
			pick = i;
	}
	for (i = pick < ncand ? pick : 0; i < ncand && st->act == 0; i++) {
		if ((st->act = active(s, cand[i].customer, &st->err)) == -1)
			return -1;
		if (pick < ncand)
			break;
	}
	if (pick < ncand) {
		grant_from_entry(g, &cand[pick]);
		st->who = g->customer;
	} else {
		st->who = ncand == 1 ? cand[0].customer :
		    "every customer authorized here";
	}
	return 0;
}

/* Rules 2-4 for SMTP AUTH and POP3 grants, once their customer is
   known. */
static int
customer_verdict(const struct config *cfg, const struct policy_tx *tx,
    const struct standing *st, const struct relay_trace *t,
    struct policy_decision *d)
{
	if (!st->act) {
		trace(t, "good-standing", 0, "customer %s is suspended",
		    st->who);
		(void)str_fmt(d->why, sizeof(d->why), "customer %s suspended",
		    st->who);
		return policy_decide(d, POLICY_STANDING, NULL, 0);
	}
	trace(t, "good-standing", 1, "customer %s is active", st->who);
	if (tx->sender[0] == '\0') {
		trace(t, "null-sender", 0, "the null sender <> may not relay");
		(void)str_copy(d->why, "null sender", sizeof(d->why));
		return policy_decide(d, POLICY_NULL_SENDER, NULL, 0);
	}
	trace(t, "null-sender", 1, "the sender is not <>");
	if (st->aff != 1) {
		trace(t, "sender", 0, "<%s> is not an address of %s: %s",
		    tx->sender, st->who, st->why);
		(void)str_fmt(d->why, sizeof(d->why), "sender <%s> not "
		    "affiliated with %s: %s", tx->sender, st->who, st->why);
		return policy_decide(d, POLICY_SENDER, tx->sender, 0);
	}
	trace(t, "sender", 1, "<%s>: %s (customer %s, sender_policy = %s)",
	    tx->sender, st->why, d->grant.customer,
	    cfg->sender_policy == SENDER_POLICY_DOMAIN ? "domain" : "address");
	return 1;
}

static int
customer_rules(struct backends *b, const struct relay_session *rs,
    const struct policy_tx *tx, const struct relay_entry *cand,
    size_t ncand, const struct relay_trace *t, struct policy_decision *d)
{
	struct standing st = { 0, 0, "no authorized customer owns it", "",
	    "" };
	struct store *s;
	int r;

	s = backends_store(b, &st.err);
	if (s == NULL)
		r = -1;
	else if (rs->authenticated)
		r = auth_standing(s, b->cfg, rs, tx, &d->grant, &st);
	else
		r = pop_standing(s, b->cfg, tx, cand, ncand, &d->grant, &st);
	if (r == 0)
		return customer_verdict(b->cfg, tx, &st, t, d);
	(void)str_copy(d->why, st.err, sizeof(d->why));
	trace(t, "good-standing", -1, "account store unavailable: %s",
	    st.err);
	return policy_decide(d, POLICY_TEMP_SENDER, NULL, 0);
}

/* The webhook event relay.cap_reached: once per customer, cap and hour,
   not once per refused message. CAP is the key that sets the cap. */
static void
cap_reached(const char *customer, const char *cap, unsigned long long limit,
    unsigned long long count)
{
	char key[256];

	if (*customer == '\0' ||
	    str_fmt(key, sizeof(key), "%s %s", customer, cap) == -1 ||
	    !hook_once(HOOK_RELAY_CAP_REACHED, key, 3600))
		return;
	HOOK_FIRE(HOOK_RELAY_CAP_REACHED, HOOK_STR("customer", customer),
	    HOOK_STR("cap", cap), HOOK_NUM("limit", limit),
	    HOOK_NUM("count", count));
}

/* Rule 6: the customer's messages and recipients in the last hour. */
static int
hourly(struct backends *b, const struct relay_grant *g, size_t nrelayed,
    time_t now, const struct relay_trace *t, struct policy_decision *d)
{
	const struct config *cfg = b->cfg;
	unsigned long long mmax = cfg->relay_max_messages_per_hour;
	unsigned long long rmax = cfg->relay_max_recipients_per_hour;
	struct relay_auth *ra;
	uint64_t msgs = 0, rcpts = 0;
	const char *err = "";

	ra = backends_relay(b, &err);
	if (ra == NULL || relay_rate_get(ra, g->customer, now, &msgs, &rcpts,
	    &err) == -1) {
		(void)str_copy(d->why, err, sizeof(d->why));
		trace(t, "hourly-messages", -1, "counters unavailable: %s",
		    err);
		return policy_decide(d, POLICY_TEMP_RELAY, NULL, 0);
	}
	/* The message counts once, at its first relayed recipient. */
	if (nrelayed == 0 && msgs >= mmax) {
		trace(t, "hourly-messages", 0, "%llu messages in the last "
		    "hour, at most %llu", (unsigned long long)msgs, mmax);
		(void)str_fmt(d->why, sizeof(d->why), "customer %s: %llu "
		    "messages in the last hour", g->customer,
		    (unsigned long long)msgs);
		cap_reached(g->customer, "relay_max_messages_per_hour", mmax,
		    msgs);
		return policy_decide(d, POLICY_HOURLY_MESSAGES, NULL, mmax);
	}
	trace(t, "hourly-messages", 1, "%llu of %llu in the last hour",
	    (unsigned long long)msgs, mmax);
	/* The transaction's own relayed recipients are held: in RCPTS. */
	if (rcpts >= rmax) {
		trace(t, "hourly-recipients", 0, "%llu recipients in the last "
		    "hour, at most %llu", (unsigned long long)rcpts, rmax);
		(void)str_fmt(d->why, sizeof(d->why), "customer %s: %llu "
		    "recipients in the last hour", g->customer,
		    (unsigned long long)rcpts);
		cap_reached(g->customer, "relay_max_recipients_per_hour", rmax,
		    rcpts);
		return policy_decide(d, POLICY_HOURLY_RECIPIENTS, NULL, rmax);
	}
	trace(t, "hourly-recipients", 1, "%llu of %llu in the last hour",
	    (unsigned long long)rcpts, rmax);
	return 1;
}

/* Rules 5-7: counts and sizes. */
static int
limits(struct backends *b, const struct policy_tx *tx, time_t now,
    const struct relay_trace *t, struct policy_decision *d)
{
	unsigned long long cap = b->cfg->relay_max_recipients;
	unsigned long long max = b->cfg->relay_max_message_size;
	int r;

	if (tx->nrelayed >= cap) {
		trace(t, "recipients", 0, "%zu recipients already, at most "
		    "%llu per message", tx->nrelayed, cap);
		(void)str_fmt(d->why, sizeof(d->why), "more than %llu "
		    "recipients", cap);
		cap_reached(d->grant.customer, "relay_max_recipients", cap,
		    tx->nrelayed + 1);
		return policy_decide(d, POLICY_RCPT_CAP, NULL, cap);
	}
	trace(t, "recipients", 1, "%zu of %llu per message", tx->nrelayed + 1,
	    cap);
	if (d->grant.kind != GRANT_TRUSTED &&
	    (r = hourly(b, &d->grant, tx->nrelayed, now, t, d)) != 1)
		return r;
	/* Whatever the order of RCPT and BDAT: what came already counts
	   like what is declared. */
	if (tx->size > max || tx->received > max) {
		bool got = tx->received > tx->size;
		unsigned long long n = got ? tx->received : tx->size;

		trace(t, "size", 0, "%s%llu, at most %llu", got ? "octets "
		    "received already: " : "SIZE=", n, max);
		(void)str_fmt(d->why, sizeof(d->why), "%s%llu", got ?
		    "received=" : "SIZE=", n);
		return policy_decide(d, POLICY_SIZE, NULL, max);
	}
	trace(t, "size", 1, "at most %llu octets (checked at MAIL SIZE=, at "
	    "RCPT after BDAT chunks and while reading the message)", max);
	return 1;
}

/* Trusted networks relay without a customer: no customer rules, no
   counting; only the null sender is refused. */
static int
trusted(const struct relay_session *rs, const struct policy_tx *tx,
    const struct relay_trace *t, struct policy_decision *d)
{
	memset(&d->grant, 0, sizeof(d->grant));
	d->grant.kind = GRANT_TRUSTED;
	net_addr_format(&rs->client, d->grant.client, sizeof(d->grant.client));
	if (tx->sender[0] == '\0') {
		trace(t, "null-sender", 0, "the null sender <> may not relay");
		(void)str_copy(d->why, "null sender", sizeof(d->why));
		return policy_decide(d, POLICY_NULL_SENDER, NULL, 0);
	}
	trace(t, "sender", 1, "trusted network: no customer rules");
	return 1;
}

/* No authorization for the client, but the sender is of a suspended
   customer: its POP3 logins open nothing (SPEC 1), so "check your mail
   first" would send the user round in circles; say it is suspended. 1
   with D's why set, 0 otherwise (a store failure included: the refusal
   stays that of rule 1). */
static int
suspended_sender(struct backends *b, const struct policy_tx *tx,
    const struct relay_trace *t, struct policy_decision *d)
{
	struct store_domain dom;
	struct store *s;
	const char *err = "";

	if (tx->sender[0] == '\0' || (s = backends_store(b, &err)) == NULL)
		return 0;
	if (store_domain_find(s, tx->sender_key.a.domain, &dom, &err) != 1 ||
	    !dom.suspended)
		return 0;
	trace(t, "good-standing", 0, "customer %s of the sender <%s> is "
	    "suspended: its logins open nothing", dom.customer, tx->sender);
	(void)str_fmt(d->why, sizeof(d->why), "customer %s suspended (no "
	    "authorization for the client)", dom.customer);
	return 1;
}

int
policy_relay_check(struct backends *b, const struct relay_session *rs,
    const struct policy_tx *tx, time_t now, const struct relay_trace *t,
    struct policy_decision *d)
{
	struct relay_entry *cand = NULL;
	size_t ncand = 0;
	int r;

	memset(d, 0, sizeof(*d));
	d->relayed = true;
	r = authorized(b, rs, now, t, &cand, &ncand, d);
	if (r == 0 && d->reason == POLICY_AUTHORIZED &&
	    suspended_sender(b, tx, t, d))
		r = policy_decide(d, POLICY_STANDING, NULL, 0);
	else if (r == 1 && rs->trusted && !rs->authenticated)
		r = trusted(rs, tx, t, d);
	else if (r == 1)
		r = customer_rules(b, rs, tx, cand, ncand, t, d);
	if (r == 1)
		r = limits(b, tx, now, t, d);
	if (r == 1)
		r = policy_decide(d, POLICY_OK, NULL, 0);
	free(cand);
	return r;
}

struct from_ctx {
	struct strlist	 addrs;
	const char	*error;
};

static void
collect_from(const char *body, size_t len, void *arg)
{
	struct from_ctx *fc = arg;
	const char *err;

	if (fc->error == NULL &&
	    rfc5322_parse_addresses(body, len, &fc->addrs, &err) == -1)
		fc->error = err;
}

/* Each From: address must be the customer's: 1, 0 (D filled), -1. */
static int
from_affiliated(struct backends *b, const struct relay_grant *g,
    const struct strlist *addrs, struct policy_decision *d,
    const char **error_r)
{
	struct addr_canon c;
	struct store *s;
	const char *why;
	size_t i;
	int r;

	if ((s = backends_store(b, error_r)) == NULL)
		return -1;
	for (i = 0; i < addrs->n; i++) {
		/* Canonical already (rfc5322_parse_addresses): this parse
		   only splits it. */
		if (addr_canon_parse(addrs->v[i], strlen(addrs->v[i]),
		    ADDR_F_LITERAL | ADDR_F_UTF8, &c, &why) == -1)
			r = 0;
		else
			r = affiliated(s, b->cfg, g->customer, &c, &why,
			    error_r);
		if (r == 0) {
			(void)str_fmt(d->why, sizeof(d->why), "From: <%s> not "
			    "affiliated (%s)", addrs->v[i], why);
			return policy_decide(d, POLICY_FROM_FOREIGN,
			    addrs->v[i], 0);
		}
		if (r == -1)
			return -1;
	}
	return 1;
}

int
policy_check_from(struct backends *b, const struct relay_grant *g,
    const char *headers, size_t len, struct policy_decision *d)
{
	struct from_ctx fc;
	const char *err = "";
	int r;

	memset(d, 0, sizeof(*d));
	if (g->kind == GRANT_TRUSTED)
		return policy_decide(d, POLICY_OK, NULL, 0);
	strlist_init(&fc.addrs);
	fc.error = NULL;
	(void)rfc5322_fields(headers, len, "From", collect_from, &fc);
	if (fc.error != NULL) {
		(void)str_fmt(d->why, sizeof(d->why), "From: unparseable: %s",
		    fc.error);
		r = policy_decide(d, POLICY_FROM_UNPARSEABLE, fc.error, 0);
	} else if ((r = from_affiliated(b, g, &fc.addrs, d, &err)) == -1) {
		(void)str_copy(d->why, err, sizeof(d->why));
		r = policy_decide(d, POLICY_TEMP_FROM, NULL, 0);
	} else if (r == 1) {
		r = policy_decide(d, POLICY_OK, NULL, 0);
	}
	strlist_free(&fc.addrs);
	return r;
}

/* The entry of H for CUSTOMER in the minute of NOW, made if needed. */
static struct policy_hold *
hold_entry(struct policy_holds *h, const char *customer, time_t now)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcmp(h->v[i].customer, customer) == 0 &&
		    h->v[i].at / 60 == now / 60)
			return &h->v[i];
	h->v = xreallocarray(h->v, h->n + 1, sizeof(*h->v));
	memset(&h->v[h->n], 0, sizeof(h->v[h->n]));
	(void)str_copy(h->v[h->n].customer, customer,
	    sizeof(h->v[h->n].customer));
	h->v[h->n].at = now;
	return &h->v[h->n++];
}

int
policy_hold(struct backends *b, struct policy_tx *tx,
    const struct relay_grant *g, time_t now, const struct relay_trace *t,
    struct policy_decision *d)
{
	struct relay_hold h;
	struct policy_hold *e;
	struct relay_auth *ra;
	const char *err = "";
	bool first;
	size_t i;
	int r;

	if (g->kind == GRANT_TRUSTED || g->kind == GRANT_NONE || tx->no_holds)
		return 1;
	first = true;
	for (i = 0; i < tx->holds.n; i++)
		if (strcmp(tx->holds.v[i].customer, g->customer) == 0)
			first = false;
	memset(&h, 0, sizeof(h));
	h.msgs = first ? 1 : 0;
	h.rcpts = 1;
	h.max_msgs = b->cfg->relay_max_messages_per_hour;
	h.max_rcpts = b->cfg->relay_max_recipients_per_hour;
	ra = backends_relay(b, &err);
	if (ra == NULL || (r = relay_rate_hold(ra, g->customer, now, &h,
	    &err)) == -1) {
		(void)str_copy(d->why, err, sizeof(d->why));
		trace(t, "hourly-messages", -1, "counters unavailable: %s",
		    err);
		return policy_decide(d, POLICY_TEMP_RELAY, NULL, 0);
	}
	if (r == 0 && h.had_msgs + h.msgs > h.max_msgs) {
		trace(t, "hourly-messages", 0, "%llu messages held or sent in "
		    "the last hour, at most %llu", (unsigned long long)
		    h.had_msgs, (unsigned long long)h.max_msgs);
		(void)str_fmt(d->why, sizeof(d->why), "customer %s: %llu "
		    "messages in the last hour", g->customer,
		    (unsigned long long)h.had_msgs);
		cap_reached(g->customer, "relay_max_messages_per_hour",
		    h.max_msgs, h.had_msgs);
		return policy_decide(d, POLICY_HOURLY_MESSAGES, NULL,
		    h.max_msgs);
	}
	if (r == 0) {
		trace(t, "hourly-recipients", 0, "%llu recipients held or sent "
		    "in the last hour, at most %llu", (unsigned long long)
		    h.had_rcpts, (unsigned long long)h.max_rcpts);
		(void)str_fmt(d->why, sizeof(d->why), "customer %s: %llu "
		    "recipients in the last hour", g->customer,
		    (unsigned long long)h.had_rcpts);
		cap_reached(g->customer, "relay_max_recipients_per_hour",
		    h.max_rcpts, h.had_rcpts);
		return policy_decide(d, POLICY_HOURLY_RECIPIENTS, NULL,
		    h.max_rcpts);
	}
	e = hold_entry(&tx->holds, g->customer, now);
	e->msgs += h.msgs;
	e->rcpts += h.rcpts;
	return 1;
}

int
policy_release(struct backends *b, struct policy_holds *h,
    const char **error_r)
{
	struct relay_auth *ra;
	size_t i;
	int rc = 0;

	*error_r = NULL;
	if (h->n == 0)
		return 0;
	ra = backends_relay(b, error_r);
	for (i = 0; ra != NULL && i < h->n; i++)
		if (relay_rate_release(ra, h->v[i].customer, h->v[i].at,
		    h->v[i].msgs, h->v[i].rcpts, error_r) == -1)
			rc = -1;
	policy_holds_free(h);
	return ra == NULL ? -1 : rc;
}

void
policy_grant_describe(const struct relay_grant *g, char *out, size_t outsz)
{
	char opened[32];
	struct tm tm;
	time_t t = g->opened;

	switch (g->kind) {
	case GRANT_TRUSTED:
		(void)snprintf(out, outsz, "trusted-network client=%s",
		    g->client);
		break;
	case GRANT_AUTH:
		(void)snprintf(out, outsz, "smtp-auth mailbox=%s customer=%s "
		    "listener=%s", g->mailbox, g->customer, g->listener);
		break;
	case GRANT_POP:
		(void)gmtime_r(&t, &tm);
		(void)strftime(opened, sizeof(opened), "%Y-%m-%dT%H:%M:%SZ",
		    &tm);
		(void)snprintf(out, outsz, "pop-before-smtp key=%s customer=%s "
		    "mailbox=%s login=%s login-client=%s listener=%s", g->key,
		    g->customer, g->mailbox[0] != '\0' ? g->mailbox : "-",
		    opened, g->client[0] != '\0' ? g->client : "-",
		    g->listener);
		break;
	default:
		(void)snprintf(out, outsz, "none");
		break;
	}
}
