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
 *   hourly caps      messages and recipients per customer per hour
 *   size             relay_max_message_size
 *
 * Several customers may be authorized from one address (NAT): the sender
 * picks the one it belongs to, and that one is charged. Trusted networks
 * relay without a customer (no customer rules, no counting). A temporary
 * failure of the store or relay table is a 4xx, never a refusal.
 */
#include <stdarg.h>
#include <time.h>

#include "policy/policy.h"
#include "core/rfc5322.h"
#include "util/log.h"
#include "util/compat.h"

static const char *const rule_names[] = {
	[RULE_OK] = "ok",
	[RULE_AUTHORIZED] = "authorized",
	[RULE_STANDING] = "good-standing",
	[RULE_NULL_SENDER] = "null-sender",
	[RULE_SENDER] = "sender",
	[RULE_RCPT_CAP] = "recipients",
	[RULE_HOURLY_MESSAGES] = "hourly-messages",
	[RULE_HOURLY_RECIPIENTS] = "hourly-recipients",
	[RULE_SIZE] = "size",
	[RULE_HEADER_FROM] = "header-from",
	[RULE_TEMP] = "temporary-failure",
};

const char *
policy_rule_name(enum relay_rule r)
{
	return rule_names[r];
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

/* Fills V for RULE; returns 0 (refused) or -1 (RULE_TEMP). */
static int
refuse(struct relay_verdict *v, enum relay_rule rule, const char *fmt, ...)
    PRINTFLIKE(3, 4);

static int
refuse(struct relay_verdict *v, enum relay_rule rule, const char *fmt, ...)
{
	static const struct {
		int		 code;
		const char	*esc;
	} codes[] = {
		[RULE_OK] = { 250, "2.0.0" },
		[RULE_AUTHORIZED] = { 554, "5.7.1" },
		[RULE_STANDING] = { 550, "5.7.1" },
		[RULE_NULL_SENDER] = { 550, "5.7.1" },
		[RULE_SENDER] = { 553, "5.7.1" },
		[RULE_RCPT_CAP] = { 452, "4.5.3" },
		[RULE_HOURLY_MESSAGES] = { 450, "4.7.1" },
		[RULE_HOURLY_RECIPIENTS] = { 450, "4.7.1" },
		[RULE_SIZE] = { 552, "5.3.4" },
		[RULE_HEADER_FROM] = { 550, "5.7.1" },
		[RULE_TEMP] = { 451, "4.7.1" },
	};
	va_list ap;

	v->rule = rule;
	v->code = codes[rule].code;
	v->esc = codes[rule].esc;
	va_start(ap, fmt);
	(void)vsnprintf(v->text, sizeof(v->text), fmt, ap);
	va_end(ap);
	return rule == RULE_TEMP ? -1 : 0;
}

/* Is ADDRESS one of CUSTOMER's, by sender_policy? 1, 0, -1. */
static int
affiliated(struct store *s, const struct config *cfg, const char *customer,
    const char *address, const char **why_r, const char **error_r)
{
	struct store_domain d;
	struct store_mailbox m;
	struct strlist targets;
	int r;

	r = store_domain_get(s, addr_domain_of(address), &d, error_r);
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
	r = store_mailbox_get(s, address, &m, error_r);
	if (r != 0) {
		*why_r = "it is a mailbox of the customer";
		return r;
	}
	strlist_init(&targets);
	r = store_alias_targets(s, address, &targets, error_r);
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
    struct relay_verdict *v)
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
		(void)str_copy(v->why, err, sizeof(v->why));
		trace(t, "authorized", -1, "relay table unavailable: %s", err);
		return refuse(v, RULE_TEMP, "Relay check temporarily "
		    "unavailable, try again later");
	}
	if (*ncand == 0) {
		trace(t, "authorized", 0, "no POP3 login from %s within the "
		    "relay window, no SMTP AUTH, not a trusted network", ip);
		(void)str_fmt(v->why, sizeof(v->why), "no authorization for "
		    "%s", ip);
		return refuse(v, RULE_AUTHORIZED, "Relay access denied: check "
		    "your mail first (POP3 login), or use SMTP AUTH on port "
		    "587");
	}
	trace(t, "authorized", 1, "%zu live authorization(s) for %s, newest "
	    "by %s (customer %s) via %s", *ncand, ip, (*cand)[0].mailbox[0] !=
	    '\0' ? (*cand)[0].mailbox : "the administrator",
	    (*cand)[0].customer, (*cand)[0].listener);
	return 1;
}

/* 1 when CUSTOMER is active, 0 suspended or gone, -1 store trouble. */
static int
active(struct store *s, const char *customer, const char **error_r)
{
	struct store_customer cu;
	int r = store_customer_get(s, customer, &cu, error_r);

	return r == 1 ? !cu.suspended : r;
}

/* Rules 2-4 for SMTP AUTH and POP3 grants. With several POP3
   authorizations (NAT) the sender picks the customer. */
static int
customer_rules(struct backends *b, const struct relay_session *rs,
    const char *sender, const struct relay_entry *cand, size_t ncand,
    const struct relay_trace *t, struct relay_verdict *v)
{
	struct store *s;
	const char *err = "", *why = "no authorized customer owns it";
	const char *who;
	size_t i, pick = ncand;
	int aff = 0, act = 0, r;

	s = backends_store(b, &err);
	if (s == NULL)
		goto temp;
	if (rs->authenticated) {
		memset(&v->grant, 0, sizeof(v->grant));
		v->grant.kind = GRANT_AUTH;
		(void)str_copy(v->grant.customer, rs->auth_customer,
		    sizeof(v->grant.customer));
		(void)str_copy(v->grant.mailbox, rs->auth_mailbox,
		    sizeof(v->grant.mailbox));
		net_addr_format(&rs->client, v->grant.client,
		    sizeof(v->grant.client));
		(void)str_copy(v->grant.listener, config_role_name(rs->role),
		    sizeof(v->grant.listener));
		if ((act = active(s, rs->auth_customer, &err)) == -1)
			goto temp;
		if (*sender != '\0' && (aff = affiliated(s, b->cfg,
		    rs->auth_customer, sender, &why, &err)) == -1)
			goto temp;
	} else {
		for (i = 0; *sender != '\0' && i < ncand && aff == 0; i++) {
			aff = affiliated(s, b->cfg, cand[i].customer, sender,
			    &why, &err);
			if (aff == -1)
				goto temp;
			if (aff == 1)
				pick = i;
		}
		/* Standing: of the customer the sender picked, else of
		   anyone authorized here. */
		for (i = pick < ncand ? pick : 0; i < ncand && act == 0; i++) {
			if ((act = active(s, cand[i].customer, &err)) == -1)
				goto temp;
			if (pick < ncand)
				break;
		}
		if (pick < ncand)
			grant_from_entry(&v->grant, &cand[pick]);
	}
	who = rs->authenticated || pick < ncand ? v->grant.customer :
	    ncand == 1 ? cand[0].customer : "every customer authorized here";
	if (!act) {
		trace(t, "good-standing", 0, "customer %s is suspended", who);
		(void)str_fmt(v->why, sizeof(v->why), "customer %s suspended",
		    who);
		return refuse(v, RULE_STANDING, "Relaying denied: the account "
		    "is suspended");
	}
	trace(t, "good-standing", 1, "customer %s is active", who);
	if (*sender == '\0') {
		trace(t, "null-sender", 0, "the null sender <> may not relay");
		(void)str_copy(v->why, "null sender", sizeof(v->why));
		return refuse(v, RULE_NULL_SENDER, "Relaying denied: the null "
		    "sender <> may not relay");
	}
	trace(t, "null-sender", 1, "the sender is not <>");
	if (aff != 1) {
		trace(t, "sender", 0, "<%s> is not an address of %s: %s",
		    sender, who, why);
		(void)str_fmt(v->why, sizeof(v->why), "sender <%s> not "
		    "affiliated with %s: %s", sender, who, why);
		return refuse(v, RULE_SENDER, "<%s>: Sender address rejected: "
		    "not an address of your account", sender);
	}
	trace(t, "sender", 1, "<%s>: %s (customer %s, sender_policy = %s)",
	    sender, why, v->grant.customer,
	    b->cfg->sender_policy == SENDER_POLICY_DOMAIN ? "domain" :
	    "address");
	return 1;
temp:
	(void)str_copy(v->why, err, sizeof(v->why));
	trace(t, "good-standing", -1, "account store unavailable: %s", err);
	r = refuse(v, RULE_TEMP, "Temporary failure checking the sender, try "
	    "again later");
	v->esc = "4.3.0";
	return r;
}

/* Rules 5-7: counts and sizes. */
static int
limits(struct backends *b, const struct relay_grant *g, uint64_t size,
    size_t nrelayed, time_t now, const struct relay_trace *t,
    struct relay_verdict *v)
{
	const struct config *cfg = b->cfg;
	struct relay_auth *ra;
	uint64_t msgs = 0, rcpts = 0;
	const char *err = "";

	if (nrelayed >= cfg->relay_max_recipients) {
		trace(t, "recipients", 0, "%zu recipients already, at most "
		    "%llu per message", nrelayed,
		    (unsigned long long)cfg->relay_max_recipients);
		(void)str_fmt(v->why, sizeof(v->why), "more than %llu "
		    "recipients", (unsigned long long)cfg->relay_max_recipients);
		return refuse(v, RULE_RCPT_CAP, "Too many recipients for one "
		    "relayed message (at most %llu)",
		    (unsigned long long)cfg->relay_max_recipients);
	}
	trace(t, "recipients", 1, "%zu of %llu per message", nrelayed + 1,
	    (unsigned long long)cfg->relay_max_recipients);
	if (g->kind != GRANT_TRUSTED) {
		ra = backends_relay(b, &err);
		if (ra == NULL || relay_rate_get(ra, g->customer, now, &msgs,
		    &rcpts, &err) == -1) {
			(void)str_copy(v->why, err, sizeof(v->why));
			trace(t, "hourly-messages", -1, "counters unavailable: "
			    "%s", err);
			return refuse(v, RULE_TEMP, "Relay check temporarily "
			    "unavailable, try again later");
		}
		/* The message counts once, at its first relayed recipient. */
		if (nrelayed == 0 && msgs >= cfg->relay_max_messages_per_hour) {
			trace(t, "hourly-messages", 0, "%llu messages in the "
			    "last hour, at most %llu",
			    (unsigned long long)msgs, (unsigned long long)
			    cfg->relay_max_messages_per_hour);
			(void)str_fmt(v->why, sizeof(v->why), "customer %s: "
			    "%llu messages in the last hour", g->customer,
			    (unsigned long long)msgs);
			return refuse(v, RULE_HOURLY_MESSAGES, "Hourly message "
			    "limit reached (%llu per hour), try again later",
			    (unsigned long long)
			    cfg->relay_max_messages_per_hour);
		}
		trace(t, "hourly-messages", 1, "%llu of %llu in the last hour",
		    (unsigned long long)msgs,
		    (unsigned long long)cfg->relay_max_messages_per_hour);
		if (rcpts + nrelayed >= cfg->relay_max_recipients_per_hour) {
			trace(t, "hourly-recipients", 0, "%llu recipients in "
			    "the last hour, at most %llu",
			    (unsigned long long)(rcpts + nrelayed),
			    (unsigned long long)
			    cfg->relay_max_recipients_per_hour);
			(void)str_fmt(v->why, sizeof(v->why), "customer %s: "
			    "%llu recipients in the last hour", g->customer,
			    (unsigned long long)(rcpts + nrelayed));
			return refuse(v, RULE_HOURLY_RECIPIENTS, "Hourly "
			    "recipient limit reached (%llu per hour), try "
			    "again later", (unsigned long long)
			    cfg->relay_max_recipients_per_hour);
		}
		trace(t, "hourly-recipients", 1, "%llu of %llu in the last "
		    "hour", (unsigned long long)(rcpts + nrelayed),
		    (unsigned long long)cfg->relay_max_recipients_per_hour);
	}
	if (size > cfg->relay_max_message_size) {
		trace(t, "size", 0, "SIZE=%llu, at most %llu",
		    (unsigned long long)size,
		    (unsigned long long)cfg->relay_max_message_size);
		(void)str_fmt(v->why, sizeof(v->why), "SIZE=%llu",
		    (unsigned long long)size);
		return refuse(v, RULE_SIZE, "Message too large to relay (at "
		    "most %llu octets)",
		    (unsigned long long)cfg->relay_max_message_size);
	}
	trace(t, "size", 1, "at most %llu octets (checked at MAIL SIZE= and "
	    "while reading DATA)",
	    (unsigned long long)cfg->relay_max_message_size);
	return 1;
}

int
policy_relay_check(struct backends *b, const struct relay_session *rs,
    const char *sender, uint64_t size, size_t nrelayed, time_t now,
    const struct relay_trace *t, struct relay_verdict *v)
{
	struct relay_entry *cand = NULL;
	size_t ncand = 0;
	int r;

	memset(v, 0, sizeof(*v));
	r = authorized(b, rs, now, t, &cand, &ncand, v);
	if (r != 1)
		goto out;
	if (rs->trusted && !rs->authenticated) {
		memset(&v->grant, 0, sizeof(v->grant));
		v->grant.kind = GRANT_TRUSTED;
		net_addr_format(&rs->client, v->grant.client,
		    sizeof(v->grant.client));
		if (*sender == '\0') {
			trace(t, "null-sender", 0, "the null sender <> may not "
			    "relay");
			(void)str_copy(v->why, "null sender", sizeof(v->why));
			r = refuse(v, RULE_NULL_SENDER, "Relaying denied: the "
			    "null sender <> may not relay");
			goto out;
		}
		trace(t, "sender", 1, "trusted network: no customer rules");
	} else {
		r = customer_rules(b, rs, sender, cand, ncand, t, v);
		if (r != 1)
			goto out;
	}
	r = limits(b, &v->grant, size, nrelayed, now, t, v);
	if (r == 1)
		v->rule = RULE_OK;
out:
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

int
policy_check_from(struct backends *b, const struct relay_grant *g,
    const char *headers, size_t len, struct relay_verdict *v)
{
	struct from_ctx fc;
	struct store *s;
	const char *err = "", *why;
	size_t i;
	int r = 1;

	memset(v, 0, sizeof(*v));
	if (g->kind == GRANT_TRUSTED)
		return 1;
	strlist_init(&fc.addrs);
	fc.error = NULL;
	(void)rfc5322_fields(headers, len, "From", collect_from, &fc);
	if (fc.error != NULL) {
		(void)str_fmt(v->why, sizeof(v->why), "From: unparseable: %s",
		    fc.error);
		r = refuse(v, RULE_HEADER_FROM, "Message refused: the From: "
		    "header cannot be parsed (%s)", fc.error);
		goto out;
	}
	s = backends_store(b, &err);
	for (i = 0; s != NULL && i < fc.addrs.n; i++) {
		r = affiliated(s, b->cfg, g->customer, fc.addrs.v[i], &why,
		    &err);
		if (r == 0) {
			(void)str_fmt(v->why, sizeof(v->why), "From: <%s> not "
			    "affiliated (%s)", fc.addrs.v[i], why);
			r = refuse(v, RULE_HEADER_FROM, "Message refused: From: "
			    "address <%s> is not an address of your account",
			    fc.addrs.v[i]);
			goto out;
		}
		if (r == -1)
			break;
	}
	if (s == NULL || r == -1) {
		(void)str_copy(v->why, err, sizeof(v->why));
		r = refuse(v, RULE_TEMP, "Temporary failure checking the "
		    "From: header, try again later");
		goto out;
	}
	r = 1;
out:
	strlist_free(&fc.addrs);
	return r;
}

int
policy_charge(struct backends *b, const struct relay_grant *g,
    uint64_t nrcpts, time_t now, const char **error_r)
{
	struct relay_auth *ra;

	if (g->kind == GRANT_TRUSTED || g->kind == GRANT_NONE)
		return 0;
	ra = backends_relay(b, error_r);
	if (ra == NULL)
		return -1;
	return relay_rate_add(ra, g->customer, now, 1, nrcpts, error_r);
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
