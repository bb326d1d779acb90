/*
 * http_api_store.c - GET /api/v1/store: what `popgate store info` says
 * of the daemon's account store (ops_store.c), its URI with the
 * password masked. Admin tokens only.
 */
#include "http/http_int.h"
#include "policy/policy.h"
#include "util/compat.h"

void
http_api_store_info(struct backends *b, struct http_call *c)
{
	struct ops_store_info si;
	struct ops_result r;
	struct store *s;
	char uri[1024];

	if ((s = http_api_store(b, c)) == NULL)
		return;
	ops_store_info(s, &si, &r);
	if (!http_api_from_ops(c, &r))
		return;
	config_uri_masked(b->cfg->store, uri, sizeof(uri));
	http_api_reply(c, 200, json_pack("{s:s, s:i, s:I, s:I, s:I}",
	    "store", uri, "schema_version", si.schema_version, "customers",
	    (json_int_t)si.customers, "domains", (json_int_t)si.domains,
	    "mailboxes", (json_int_t)si.mailboxes));
	c->etag[0] = '\0';
}
