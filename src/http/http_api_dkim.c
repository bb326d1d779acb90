/*
 * http_api_dkim.c - a domain's DKIM keys and their DNS records (SPEC
 * 10), /api/v1/domains/NAME/dkim, through the operations of `popgate
 * domain dkim show|rotate` (ops_dkim.c): each key the row of `domain
 * dkim show --json` (the same members and values). A customer token
 * sees and rotates only its own domains' keys. The private keys never
 * leave the store.
 */
#include "core/dkim.h"
#include "http/http_int.h"
#include "util/compat.h"

static json_t *
key_json(const struct store_dkim_key *k)
{
	char name[OPS_DKIM_NAME_MAX], created[32], until[32];
	struct buf rec;
	json_t *o;

	buf_init(&rec, BUF_UNLIMITED);
	dkim_record((enum dkim_alg)dkim_alg_parse(k->algorithm),
	    k->public_key, &rec);
	ops_dkim_name(k, name, sizeof(name));
	http_api_fmt_time(created, sizeof(created), k->created);
	until[0] = '\0';
	if (!k->active)
		http_api_fmt_time(until, sizeof(until), k->retired +
		    OPS_DKIM_OVERLAP);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", name,
	    "algorithm", k->algorithm, "state", k->active ? "active" :
	    "retired", "created", created, "remove_after", until, "record",
	    buf_cstr(&rec), "type", "TXT");
	buf_free(&rec);
	return o;
}

/* The keys of the path's domain as {domain, keys} (NULL: C has the
   error). */
static json_t *
keys_read(struct store *s, struct http_call *c)
{
	struct ops_dkim_keys ks = { NULL, 0 };
	struct store_domain d;
	struct ops_result r;
	json_t *keys;
	size_t i;

	ops_domain_get(s, &c->actor, c->match.params[0], &d, &r);
	if (!http_api_from_ops(c, &r))
		return NULL;
	ops_dkim_list(s, &c->actor, d.name, &ks, &r);
	if (!http_api_from_ops(c, &r))
		return NULL;
	keys = json_array();
	for (i = 0; i < ks.n; i++)
		(void)json_array_append_new(keys, key_json(&ks.v[i]));
	ops_dkim_keys_free(&ks);
	return json_pack("{s:s, s:o}", "domain", d.name, "keys", keys);
}

void
http_api_dkim_show(struct backends *b, struct http_call *c)
{
	struct store *s;
	json_t *obj;

	if ((s = http_api_store(b, c)) != NULL && (obj = keys_read(s, c)) !=
	    NULL)
		http_api_reply(c, 200, obj);
}

void
http_api_dkim_rotate(struct backends *b, struct http_call *c)
{
	struct ops_result r;
	struct strlist gone;
	struct store *s;
	json_t *obj, *deleted;
	size_t i;

	if ((s = http_api_store(b, c)) == NULL)
		return;
	strlist_init(&gone);
	ops_dkim_rotate(s, &c->actor, c->match.params[0], time(NULL), &gone,
	    &r);
	if (http_api_from_ops(c, &r) && (obj = keys_read(s, c)) != NULL) {
		deleted = json_array();
		for (i = 0; i < gone.n; i++)
			(void)json_array_append_new(deleted,
			    json_string(gone.v[i]));
		(void)json_object_set_new(obj, "deleted", deleted);
		http_api_reply(c, 200, obj);
		c->etag[0] = '\0';
	}
	strlist_free(&gone);
}
