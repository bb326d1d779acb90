/*
 * http_api_relay.c - /api/v1/relay: the live relay authorizations (SPEC
 * 1 and 12) through the operations of `popgate relay` (ops_relay.c), on
 * a worker with its thread's relay table, so a change acts on the
 * running daemon at once (the next RCPT reads it).
 *
 * An authorization is the object of `relay list --json`'s rows (the
 * same members and values) plus "network": whether the administrator
 * allowed a network. Its path is /api/v1/relay/ADDRESS for a host key
 * ("192.0.2.7", or an IPv6 address: widened to relay_ipv6_prefix as at
 * a login) and /api/v1/relay/NETWORK/BITS for a network (a path segment
 * cannot hold its "/"). A customer token sees and revokes only its own
 * customer's; allowing and explaining need an admin token (an allowed
 * network lets anyone there relay as the customer, and an explanation
 * names whoever holds an address).
 */
#include <strings.h>

#include "http/http_int.h"
#include "policy/policy.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/compat.h"

const struct http_field http_relay_body[] = {
	{ "address", HF_STRING, true, NET_ADDRSTRLEN, "an address or network "
	    "(192.0.2.7, 192.0.2.0/24, 2001:db8::/64)" },
	{ "customer", HF_STRING, true, STORE_NAME_MAX, "on whose behalf" },
	{ "for", HF_STRING, false, 16, "how long, like \"90m\" (default: "
	    "relay_window)" },
	{ NULL, HF_STRING, false, 0, NULL },
};

static json_t *
relay_json(const struct relay_entry *e)
{
	char opened[32], expires[32];

	http_api_fmt_time(opened, sizeof(opened), e->opened);
	http_api_fmt_time(expires, sizeof(expires), e->expires);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
	    "address", e->key, "customer", e->customer, "mailbox",
	    e->mailbox[0] != '\0' ? e->mailbox : "-", "client",
	    e->client[0] != '\0' ? e->client : "-", "listener", e->listener,
	    "opened", opened, "expires", expires, "network", e->net);
}

static struct relay_auth *
relay_of(struct backends *b, struct http_call *c)
{
	const char *err;
	struct relay_auth *ra = backends_relay(b, &err);

	if (ra == NULL) {
		log_warn("http relay table: %s", err);
		http_api_error(c, 503, NULL, "the relay table is not "
		    "available; try again");
	}
	return ra;
}

/* The key of the path: "ADDRESS" or "NETWORK/BITS" into E (false: C has
   the 404; a path that cannot be a key names no authorization). */
static bool
path_key(struct backends *b, struct http_call *c, struct relay_entry *e)
{
	char arg[HTTP_PARAM_MAX * 2 + 2];
	struct ops_result r;

	if (c->match.nparams == 2)
		(void)str_fmt(arg, sizeof(arg), "%s/%s", c->match.params[0],
		    c->match.params[1]);
	else
		(void)str_copy(arg, c->match.params[0], sizeof(arg));
	memset(e, 0, sizeof(*e));
	if (ops_relay_target(arg, (unsigned)b->cfg->relay_ipv6_prefix, e,
	    &r) == 0)
		return true;
	http_api_error(c, 404, NULL, "no authorization for '%s': %s", arg,
	    r.error);
	return false;
}

static void
list_one(const struct relay_entry *e, void *arg)
{
	http_api_page_add(arg, relay_json(e));
}

void
http_api_relay_list(struct backends *b, struct http_call *c)
{
	char cbuf[STORE_NAME_MAX + 1];
	const char *customer;
	struct relay_auth *ra;
	struct ops_result r;
	struct page p;

	if (!http_api_filter(c, "customer", cbuf, sizeof(cbuf), &customer) ||
	    (ra = relay_of(b, c)) == NULL || !http_api_page_init(c, &p, true))
		return;
	ops_relay_list(ra, &c->actor, customer, clock_now(), list_one, &p, &r);
	http_api_page_reply(c, &p, &r);
}

struct key_filter {
	const char	*key;
	json_t		*items;
};

static void
key_one(const struct relay_entry *e, void *arg)
{
	struct key_filter *kf = arg;

	if (strcmp(e->key, kf->key) == 0)
		(void)json_array_append_new(kf->items, relay_json(e));
}

/* The authorizations of KEY the actor sees: {address, items} (false: C
   has the error, 404 when there are none). */
static bool
key_read(struct relay_auth *ra, struct http_call *c, const char *key,
    json_t **out)
{
	struct key_filter kf = { key, json_array() };
	struct ops_result r;

	ops_relay_list(ra, &c->actor, NULL, clock_now(), key_one, &kf, &r);
	if (!http_api_from_ops(c, &r) || json_array_size(kf.items) == 0) {
		if (r.status == OPS_OK)
			http_api_error(c, 404, NULL, "no live authorization "
			    "for %s", key);
		json_decref(kf.items);
		return false;
	}
	*out = json_pack("{s:s, s:o}", "address", key, "items", kf.items);
	return true;
}

void
http_api_relay_get(struct backends *b, struct http_call *c)
{
	struct relay_entry e;
	struct relay_auth *ra;
	json_t *obj;

	if (path_key(b, c, &e) && (ra = relay_of(b, c)) != NULL &&
	    key_read(ra, c, e.key, &obj))
		http_api_reply(c, 200, obj);
}

void
http_api_relay_allow(struct backends *b, struct http_call *c)
{
	const char *address = json_string_value(json_object_get(c->body,
	    "address"));
	const char *customer = json_string_value(json_object_get(c->body,
	    "customer"));
	const char *dur = json_string_value(json_object_get(c->body, "for"));
	uint64_t duration = b->cfg->relay_window;
	struct relay_auth *ra;
	struct relay_entry e;
	struct ops_result r;
	struct store *s;
	json_t *obj;

	if (dur != NULL && (str_parse_duration(dur, &duration) == -1 ||
	    duration == 0)) {
		http_api_error(c, 422, "for", "bad 'for' '%s' (expected a "
		    "duration like 90m, 4h or 1d)", dur);
		return;
	}
	memset(&e, 0, sizeof(e));
	(void)str_copy(e.listener, "api", sizeof(e.listener));
	if (ops_relay_target(address, (unsigned)b->cfg->relay_ipv6_prefix,
	    &e, &r) == -1) {
		(void)http_api_from_ops(c, &r);
		return;
	}
	if ((s = http_api_store(b, c)) == NULL || (ra = relay_of(b, c)) ==
	    NULL)
		return;
	ops_relay_allow(s, ra, &c->actor, customer, clock_now(), duration, &e,
	    &r);
	if (!http_api_from_ops(c, &r) || !key_read(ra, c, e.key, &obj))
		return;
	(void)str_fmt(c->location, sizeof(c->location), "/api/v1/relay/%s",
	    e.key);
	http_api_reply(c, 201, obj);
}

void
http_api_relay_revoke(struct backends *b, struct http_call *c)
{
	char cbuf[STORE_NAME_MAX + 1];
	const char *customer;
	struct relay_auth *ra;
	struct relay_entry e;
	struct ops_result r;

	if (!http_api_filter(c, "customer", cbuf, sizeof(cbuf), &customer) ||
	    !path_key(b, c, &e) || (ra = relay_of(b, c)) == NULL)
		return;
	ops_relay_revoke(ra, &c->actor, e.key, customer, &r);
	if (!http_api_from_ops(c, &r))
		return;
	if (r.revoked == 0)
		http_api_error(c, 404, NULL, "no authorization for %s%s%s",
		    e.key, customer != NULL ? " of customer " : "",
		    customer != NULL ? customer : "");
	else
		c->status = 204;
}

static json_t *
explain_json(const struct ops_explain *x)
{
	json_t *rules = json_array(), *o;
	size_t i;

	for (i = 0; i < x->nsteps; i++)
		(void)json_array_append_new(rules, json_pack("{s:s, s:s, s:s}",
		    "rule", x->steps[i].rule, "result", x->steps[i].ok == 1 ?
		    "yes" : x->steps[i].ok == 0 ? "no" : "error", "detail",
		    x->steps[i].detail));
	o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:i, s:s}", "client",
	    x->client, "sender", x->sender, "recipient", x->recipient,
	    "rules", rules, "decided_by", x->relayed ? "relay rules" :
	    "hosted domain", "verdict", x->accepted ? (x->relayed ?
	    "relayed" : "accepted") : "refused", "code", x->code, "esc",
	    x->esc);
	if (o == NULL)
		return NULL;
	if (x->rule != NULL)
		(void)json_object_set_new(o, "rule", json_string(x->rule));
	if (!x->accepted && x->relayed)
		(void)json_object_set_new(o, "text", json_string(x->text));
	if (x->accepted && x->relayed) {
		(void)json_object_set_new(o, "grant", json_string(x->grant));
		(void)json_object_set_new(o, "max_message_size",
		    json_integer((json_int_t)x->max_size));
	}
	return o;
}

void
http_api_relay_explain(struct backends *b, struct http_call *c)
{
	static const char *const names[] = { "client", "sender",
		"recipient" };
	char v[3][ADDR_BUFSZ];
	const char *p;
	struct ops_explain x;
	struct ops_result r;
	size_t i;

	for (i = 0; i < nitems(names); i++) {
		if (!http_api_filter(c, names[i], v[i], sizeof(v[i]), &p))
			return;
		if (p == NULL && i == 1)	/* no sender: <> */
			(void)str_copy(v[i], "<>", sizeof(v[i]));
		else if (p == NULL) {
			http_api_error(c, 422, names[i], "?%s= is required",
			    names[i]);
			return;
		}
	}
	if (http_api_store(b, c) == NULL)
		return;
	ops_relay_explain(b, v[0], v[1], v[2], clock_now(), &x, &r);
	if (http_api_from_ops(c, &r)) {
		http_api_reply(c, 200, explain_json(&x));
		c->etag[0] = '\0';
	}
	ops_explain_free(&x);
}
