/*
 * ops_alias.c - aliases for the CLI and the API (ops.h): an address of a
 * hosted domain forwarded to targets, local or external. An actor
 * scoped to a customer adds and sees aliases of its own domains only,
 * and may point one into a hosted domain only if the domain is its own
 * (another customer's mailbox would answer whether it exists).
 */
#include <strings.h>

#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/log.h"
#include "util/compat.h"

/* The domain of ADDRESS hosted and visible to the actor: 1, 0 (R says
   it is not hosted, in the store's words), -1. */
static int
domain_of(struct store *s, const struct ops_actor *a, const char *address,
    const char *field, struct ops_result *r)
{
	struct store_domain d;
	struct mailaddr ma;
	const char *err;
	int rc;

	if (store_parse_address(address, &ma, &err) == -1) {
		ops_res_set(r, OPS_INVALID, field, "bad address '%s': %s",
		    address, err);
		return 0;
	}
	rc = store_domain_get(s, ma.domain, &d, &err);
	if (rc == -1) {
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
		return -1;
	}
	if (rc == 1 && ops_sees(a, d.customer))
		return 1;
	if (strcmp(field, "target") == 0)
		return rc == 0 ? 2 : 0;		/* external: fine */
	ops_res_set(r, OPS_INVALID, field, "domain '%s' is not hosted here "
	    "(add it with: popgate domain add %s --customer NAME)", ma.domain,
	    ma.domain);
	return 0;
}

/* Whether ADDRESS already forwards to TARGET. */
static bool
has_target(struct store *s, const char *address, const char *target)
{
	struct mailaddr t;
	struct strlist cur;
	char want[ADDR_BUFSZ];
	const char *err;
	bool has = false;
	size_t i;

	if (store_parse_address(target, &t, &err) == -1)
		return false;
	addr_format(&t, want, sizeof(want));
	strlist_init(&cur);
	if (store_alias_targets(s, address, &cur, &err) == 1)
		for (i = 0; i < cur.n && !has; i++)
			has = strcasecmp(cur.v[i], want) == 0;
	strlist_free(&cur);
	return has;
}

void
ops_alias_add(struct store *s, const struct ops_actor *a, const char *address,
    char *const *targets, size_t n, struct ops_result *r)
{
	const char *err = "";
	size_t i;
	int rc = 0, vis;
	bool dup;

	ops_res_init(r);
	if (!ops_begin(s, r))
		return;
	if (domain_of(s, a, address, "address", r) != 1)
		goto done;
	for (i = 0; i < n && rc == 0; i++) {
		vis = domain_of(s, a, targets[i], "target", r);
		if (vis == -1 || r->status != OPS_OK)
			goto done;
		if (vis == 0) {
			ops_res_set(r, OPS_INVALID, "target", "target '%s' is "
			    "in a hosted domain but is no mailbox or alias",
			    targets[i]);
			goto done;
		}
		dup = has_target(s, address, targets[i]);
		rc = store_alias_add(s, address, targets[i], &err);
		ops_res_store(r, rc, err, dup ? OPS_CONFLICT : OPS_INVALID,
		    "target");
	}
done:
	if (ops_finish(s, r))
		for (i = 0; i < n; i++)
			log_info("ops alias-added alias=%s target=%s by=%s",
			    address, targets[i], ops_who(a));
}

void
ops_alias_list(struct store *s, const struct ops_actor *a, const char *domain,
    const char *customer, struct store_window *w, store_alias_cb *cb,
    void *arg, struct ops_result *r)
{
	char filter[16 + ADDR_DOMAIN_MAX + STORE_NAME_MAX];
	struct store_customer cu;
	struct store_domain d;
	const char *err;
	int rc;

	ops_res_init(r);
	if (customer == NULL && domain == NULL)
		customer = a->customer;
	if (customer != NULL) {
		rc = store_customer_get(s, customer, &cu, &err);
		if (rc == 1 && !ops_sees(a, cu.name))
			rc = 0;
		if (rc != 1) {
			ops_res_set(r, rc == 0 ? OPS_NOT_FOUND : OPS_FAILED,
			    NULL, rc == 0 ? "no customer '%s'" : "%s",
			    rc == 0 ? customer : err);
			return;
		}
		(void)str_fmt(filter, sizeof(filter), "customer:%s", customer);
	}
	if (domain != NULL) {
		rc = store_domain_get(s, domain, &d, &err);
		if (rc == 1 && !ops_sees(a, d.customer))
			rc = 0;
		if (rc != 1) {
			ops_res_set(r, rc == 0 ? OPS_NOT_FOUND : OPS_FAILED,
			    NULL, rc == 0 ? "no domain '%s' is hosted here" :
			    "%s", rc == 0 ? domain : err);
			return;
		}
		(void)str_copy(filter, domain, sizeof(filter));
	}
	if (store_alias_page(s, customer != NULL || domain != NULL ? filter :
	    NULL, w, cb, arg, &err) == -1)
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
}

void
ops_alias_delete(struct store *s, const struct ops_actor *a,
    const char *address, char *const *targets, size_t n,
    struct ops_result *r)
{
	const char *err = "";
	size_t i;
	int rc = 0;

	struct mailaddr ma;

	ops_res_init(r);
	if (store_parse_address(address, &ma, &err) == -1) {
		ops_res_set(r, OPS_INVALID, "address", "bad address '%s': %s",
		    address, err);
		return;
	}
	if (!ops_begin(s, r))
		return;
	if (domain_of(s, a, address, "address", r) != 1) {
		/* another's, or not hosted: no such alias for the actor */
		if (r->status == OPS_INVALID)
			ops_res_set(r, OPS_NOT_FOUND, NULL, "no alias '%s'",
			    address);
		goto done;
	}
	if (!ops_expect(s, a, r))
		goto done;
	for (i = 0; (i < n || i == 0) && rc == 0; i++) {
		rc = store_alias_delete(s, address, n > 0 ? targets[i] : NULL,
		    &err);
		ops_res_store(r, rc, err, OPS_NOT_FOUND, NULL);
	}
done:
	if (ops_finish(s, r))
		log_info("ops alias-deleted alias=%s targets=%zu by=%s",
		    address, n, ops_who(a));
}
