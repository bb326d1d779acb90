/*
 * ops_relay.c - the live relay authorizations for `popgate relay
 * list|allow|revoke|explain` and /api/v1/relay (ops.h): the table the
 * daemon reads (relay_auth.h), so a change acts on the running daemon
 * at once, and the explanation made by the server's own RCPT decision
 * (policy_check_rcpt), nothing held, nothing sent.
 *
 * An actor scoped to a customer sees and revokes only that customer's
 * authorizations; another customer's are "not found".
 */
#include <strings.h>

#include "ops/ops.h"
#include "ops/ops_int.h"
#include "policy/policy.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

int
ops_relay_target(const char *arg, unsigned ipv6_prefix, struct relay_entry *e,
    struct ops_result *r)
{
	struct netprefix p;
	unsigned host_bits;

	if (net_prefix_parse(arg, false, &p) == -1) {
		ops_res_set(r, OPS_INVALID, "address", "bad address or network "
		    "'%s' (expected e.g. 192.0.2.7, 192.0.2.0/24 or "
		    "2001:db8::/64)", arg);
		return -1;
	}
	host_bits = p.addr.family == AF_INET ? 32 : ipv6_prefix;
	if (p.bits == (p.addr.family == AF_INET ? 32 : 128) ||
	    p.bits == host_bits) {
		relay_key(&p.addr, ipv6_prefix, e->key, sizeof(e->key));
		e->net = false;
	} else {
		net_prefix_format(&p, e->key, sizeof(e->key));
		e->net = true;
	}
	return 0;
}

struct list_filter {
	const struct ops_actor	*actor;
	const char		*customer;
	relay_entry_cb		*fn;
	void			*arg;
};

static void
list_one(const struct relay_entry *e, void *arg)
{
	struct list_filter *lf = arg;

	if (!ops_sees(lf->actor, e->customer) || (lf->customer != NULL &&
	    strcasecmp(lf->customer, e->customer) != 0))
		return;
	lf->fn(e, lf->arg);
}

void
ops_relay_list(struct relay_auth *ra, const struct ops_actor *a,
    const char *customer, time_t now, relay_entry_cb *fn, void *arg,
    struct ops_result *r)
{
	struct list_filter lf = { a, customer, fn, arg };
	const char *err;

	ops_res_init(r);
	if (customer != NULL && !ops_sees(a, customer)) {
		ops_res_set(r, OPS_NOT_FOUND, NULL, "no customer '%s'",
		    customer);
		return;
	}
	if (relay_list(ra, now, list_one, &lf, &err) == -1)
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
}

void
ops_relay_allow(struct store *s, struct relay_auth *ra,
    const struct ops_actor *a, const char *customer, time_t now,
    uint64_t duration, struct relay_entry *e, struct ops_result *r)
{
	struct store_customer cu;
	const char *err;
	int rc;

	ops_res_init(r);
	if (duration == 0 || duration > OPS_RELAY_FOR_MAX) {
		ops_res_set(r, OPS_INVALID, "for", "an authorization lasts 1s "
		    "to 365d");
		return;
	}
	rc = store_customer_get(s, customer, &cu, &err);
	if (rc == -1) {
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
		return;
	}
	if (rc == 0 || !ops_sees(a, cu.name)) {
		ops_res_set(r, OPS_INVALID, "customer", "no customer '%s'",
		    customer);
		return;
	}
	if (cu.suspended) {
		ops_res_set(r, OPS_CONFLICT, NULL, "customer '%s' is "
		    "suspended: it may not relay", cu.name);
		return;
	}
	(void)str_copy(e->customer, cu.name, sizeof(e->customer));
	e->opened = now;
	e->expires = now + (time_t)duration;
	if (relay_record(ra, e, &err) == -1) {
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
		return;
	}
	log_info("ops relay-allowed key=%s customer=%s until=%lld by=%s",
	    e->key, e->customer, (long long)e->expires, ops_who(a));
}

void
ops_relay_revoke(struct relay_auth *ra, const struct ops_actor *a,
    const char *key, const char *customer, struct ops_result *r)
{
	char name[RELAY_NAME_MAX + 1];
	const char *err;
	int n;

	ops_res_init(r);
	if (a->customer != NULL) {
		if (customer != NULL && strcasecmp(customer, a->customer) != 0) {
			ops_res_set(r, OPS_NOT_FOUND, NULL, "no customer '%s'",
			    customer);
			return;
		}
		customer = a->customer;
	}
	if (key == NULL && customer == NULL) {
		ops_res_set(r, OPS_INVALID, "address", "give an address or "
		    "network, a customer, or both");
		return;
	}
	if (customer != NULL) {
		if (str_copy(name, customer, sizeof(name)) == -1) {
			ops_res_set(r, OPS_INVALID, "customer", "bad customer "
			    "name");
			return;
		}
		str_lower(name);
	}
	n = relay_revoke(ra, key, customer != NULL ? name : NULL, &err);
	if (n < 0) {
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
		return;
	}
	r->revoked = n;
	log_info("ops relay-revoked key=%s customer=%s n=%d by=%s",
	    key != NULL ? key : "-", customer != NULL ? name : "-", n,
	    ops_who(a));
}

/* ---- explain ---- */

static void
explain_step(void *arg, const char *rule, int ok, const char *detail)
{
	struct ops_explain *x = arg;
	struct ops_explain_step *st;

	x->steps = xreallocarray(x->steps, x->nsteps + 1, sizeof(*x->steps));
	st = &x->steps[x->nsteps++];
	(void)str_copy(st->rule, rule, sizeof(st->rule));
	st->ok = ok;
	/* str_copy() leaves nothing of a text too long: cut it here. */
	if (str_copy(st->detail, detail, sizeof(st->detail)) == -1) {
		memcpy(st->detail, detail, sizeof(st->detail) - 4);
		memcpy(st->detail + sizeof(st->detail) - 4, "...", 4);
	}
}

/* The client, sender ("<>" or "" for the null sender) and recipient,
   parsed as the server parses them: false with R. */
static bool
explain_args(const char *client, const char *sender, const char *rcpt,
    struct relay_session *rs, struct mailaddr *sa, bool *null_sender,
    struct policy_rcpt *pr, struct ops_result *r)
{
	const char *err = "";

	memset(rs, 0, sizeof(*rs));
	memset(pr, 0, sizeof(*pr));
	if (net_addr_parse(client, &rs->client) == -1) {
		ops_res_set(r, OPS_INVALID, "client", "bad client address "
		    "'%s'", client);
		return false;
	}
	*null_sender = strcmp(sender, "<>") == 0 || *sender == '\0';
	if (!*null_sender && addr_parse(sender, strlen(sender), 0, sa,
	    &err) == -1) {
		ops_res_set(r, OPS_INVALID, "sender", "bad sender '%s': %s "
		    "(use <> for the null sender)", sender, err);
		return false;
	}
	if (addr_parse(rcpt, strlen(rcpt), ADDR_F_LITERAL, &pr->addr,
	    &err) == -1) {
		ops_res_set(r, OPS_INVALID, "recipient", "bad recipient "
		    "'%s': %s", rcpt, err);
		return false;
	}
	rs->role = ROLE_SMTP;
	return true;
}

/* X's verdict from the decision D (policy_check_rcpt gave RC). */
static void
explain_verdict(struct ops_explain *x, const struct config *cfg, int rc,
    const struct policy_decision *d)
{
	x->relayed = d->relayed;
	x->accepted = rc == 1;
	x->code = rc == 1 ? 250 : d->code;
	(void)str_copy(x->esc, rc == 1 ? "2.1.5" : d->esc != NULL ? d->esc :
	    "", sizeof(x->esc));
	x->rule = rc == 1 ? NULL : !d->relayed &&
	    d->reason == POLICY_UNKNOWN_USER ? NULL :
	    policy_reason_name(d->reason);
	x->unknown_user = rc != 1 && !d->relayed &&
	    d->reason == POLICY_UNKNOWN_USER;
	(void)str_copy(x->text, rc == 1 ? "" : d->text, sizeof(x->text));
	if (rc == 1 && d->relayed)
		policy_grant_describe(&d->grant, x->grant, sizeof(x->grant));
	x->max_size = cfg->relay_max_message_size;
}

void
ops_relay_explain(struct backends *b, const char *client, const char *sender,
    const char *rcpt, time_t now, struct ops_explain *x, struct ops_result *r)
{
	struct relay_trace t = { explain_step, x };
	struct relay_session rs;
	struct policy_decision d;
	struct policy_rcpt pr;
	struct policy_tx tx;
	struct addr_canon key;
	struct mailaddr sa;
	bool null_sender;
	int rc;

	ops_res_init(r);
	memset(x, 0, sizeof(*x));
	if (!explain_args(client, sender, rcpt, &rs, &sa, &null_sender, &pr,
	    r))
		return;
	addr_canon_set(&key, &pr.addr);
	rs.trusted = netlist_match(&b->cfg->trusted_networks, &rs.client);
	policy_tx_init(&tx, b->cfg, null_sender ? NULL : &sa, null_sender ?
	    ADDR_PATH_NULL : ADDR_PATH_MAILBOX, 0);
	tx.no_holds = true;	/* it only tells: nothing held, nothing sent */
	net_addr_format(&rs.client, x->client, sizeof(x->client));
	(void)str_copy(x->sender, tx.sender, sizeof(x->sender));
	(void)str_copy(x->recipient, key.text, sizeof(x->recipient));
	(void)str_copy(x->domain, key.a.domain, sizeof(x->domain));
	rc = policy_check_rcpt(b, &rs, &tx, &pr, now, &t, &d);
	policy_tx_free(&tx);
	if (rc == -1 && !d.relayed) {
		ops_res_set(r, OPS_FAILED, NULL, "%s", d.why);
		return;
	}
	explain_verdict(x, b->cfg, rc, &d);
}

void
ops_explain_free(struct ops_explain *x)
{
	free(x->steps);
	x->steps = NULL;
	x->nsteps = 0;
}
