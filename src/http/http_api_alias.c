/*
 * http_api_alias.c - the API's aliases (SPEC 12): one object per
 * address, its targets a list, through the operations the CLI uses
 * (ops_alias.c); If-Match checked again inside the change's transaction
 * as for the other objects (http_api.c).
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"
#include "util/compat.h"

/* ---- aliases: one object per address, its targets a list ---- */

const struct http_field http_alias_body[] = {
	{ "address", HF_STRING, true, ADDR_BUFSZ - 1, "the alias, in a "
	    "hosted domain" },
	{ "target", HF_STRING, true, ADDR_BUFSZ - 1, "one more target: a "
	    "mailbox, an alias or an external address" },
	{ NULL, HF_STRING, false, 0, NULL },
};

struct aliases {
	struct page	*page;		/* lists */
	const char	*only;		/* get: this address */
	json_t		*cur;		/* the alias being filled */
};

static void
alias_flush(struct aliases *al)
{
	if (al->cur == NULL)
		return;
	if (al->page != NULL)
		http_api_page_add(al->page, al->cur);
	else
		return;		/* get: kept in cur */
	al->cur = NULL;
}

/* Rows come ordered by address, then target. */
static void
list_alias(const struct store_alias *a, void *arg)
{
	struct aliases *al = arg;

	if (al->only != NULL && strcasecmp(al->only, a->address) != 0)
		return;
	if (al->cur != NULL && strcmp(json_string_value(json_object_get(
	    al->cur, "address")), a->address) != 0)
		alias_flush(al);
	if (al->cur == NULL)
		al->cur = json_pack("{s:s, s:[], s:s, s:s}", "address",
		    a->address, "targets", "customer", a->customer, "domain",
		    a->domain);
	if (al->cur != NULL)
		(void)json_array_append_new(json_object_get(al->cur,
		    "targets"), json_string(a->target));
}

void
http_api_alias_list(struct backends *b, struct http_call *c)
{
	char cbuf[STORE_NAME_MAX + 1], dbuf[ADDR_DOMAIN_MAX + 1];
	const char *customer, *domain;
	struct aliases al;
	struct ops_result r;
	struct store *s;
	struct page p;

	if (!http_api_filter(c, "customer", cbuf, sizeof(cbuf), &customer) ||
	    !http_api_filter(c, "domain", dbuf, sizeof(dbuf), &domain))
		return;
	if (customer != NULL && domain != NULL) {
		http_api_error(c, 422, "domain", "give domain or customer, "
		    "not both");
		return;
	}
	if ((s = http_api_store(b, c)) == NULL ||
	    !http_api_page_init(c, &p, false))
		return;
	memset(&al, 0, sizeof(al));
	al.page = &p;
	ops_alias_list(s, &c->actor, domain, customer, &p.w, list_alias, &al,
	    &r);
	alias_flush(&al);
	http_api_page_reply(c, &p, &r);
}

/* The alias ADDRESS as JSON: 1, 0 (C has the 404), -1 (C has it). */
static int
alias_read(struct store *s, struct http_call *c, const char *address,
    json_t **out)
{
	struct aliases al;
	struct mailaddr ma;
	struct ops_result r;
	char canon[ADDR_BUFSZ];
	const char *err;

	*out = NULL;
	if (store_parse_address(address, &ma, &err) == -1) {
		http_api_error(c, 404, NULL, "no alias '%s'", address);
		return 0;
	}
	addr_format(&ma, canon, sizeof(canon));
	memset(&al, 0, sizeof(al));
	al.only = canon;
	ops_alias_list(s, &c->actor, ma.domain, NULL, NULL, list_alias, &al,
	    &r);
	if (r.status == OPS_FAILED) {
		json_decref(al.cur);
		return http_api_from_ops(c, &r) ? 0 : -1;
	}
	if (al.cur == NULL) {
		http_api_error(c, 404, NULL, "no alias '%s'", address);
		return 0;
	}
	*out = al.cur;
	return 1;
}

static int
expect_alias(struct store *s, void *arg, char *why, size_t whysz)
{
	struct http_call *c = arg;
	json_t *obj;

	if (alias_read(s, c, c->match.params[0], &obj) != 1) {
		(void)str_copy(why, "the alias went while it was changed",
		    whysz);
		return -1;
	}
	return http_api_tag_matches(c, obj, why, whysz);
}

void
http_api_alias_get(struct backends *b, struct http_call *c)
{
	struct store *s;
	json_t *obj;

	if ((s = http_api_store(b, c)) != NULL &&
	    alias_read(s, c, c->match.params[0], &obj) == 1)
		http_api_reply(c, 200, obj);
}

void
http_api_alias_add(struct backends *b, struct http_call *c)
{
	const char *address = json_string_value(json_object_get(c->body,
	    "address"));
	char *target = (char *)(uintptr_t)json_string_value(
	    json_object_get(c->body, "target"));
	struct ops_result r;
	struct store *s;
	json_t *obj;

	if ((s = http_api_store(b, c)) == NULL)
		return;
	ops_alias_add(s, &c->actor, address, &target, 1, &r);
	if (!http_api_from_ops(c, &r) || alias_read(s, c, address, &obj) != 1)
		return;
	(void)str_fmt(c->location, sizeof(c->location), "/api/v1/aliases/%s",
	    json_string_value(json_object_get(obj, "address")));
	http_api_reply(c, 201, obj);
}

void
http_api_alias_delete(struct backends *b, struct http_call *c)
{
	char tbuf[ADDR_BUFSZ], *target = tbuf;
	const char *t;
	struct ops_result r;
	struct store *s;
	json_t *obj;

	if (!http_api_filter(c, "target", tbuf, sizeof(tbuf), &t) ||
	    (s = http_api_store(b, c)) == NULL ||
	    alias_read(s, c, c->match.params[0], &obj) != 1 ||
	    !http_api_precondition(c, obj))
		return;
	http_api_expect(c, expect_alias);
	ops_alias_delete(s, &c->actor, c->match.params[0], &target,
	    t != NULL ? 1 : 0, &r);
	if (http_api_from_ops(c, &r))
		c->status = 204;
}
