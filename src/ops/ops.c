/*
 * ops.c - customers, domains and mailboxes for the CLI and the API
 * (ops.h). Each change: begin, the checks that classify it (found?
 * visible to the actor? still holding children?), the store's change,
 * commit; a refusal keeps the store's own words for the user and gets
 * its status from those checks, made before the change (in PostgreSQL a
 * failed statement ends the transaction's usefulness).
 */
#include <stdarg.h>
#include <strings.h>

#include "maildir/maildir.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/log.h"
#include "util/compat.h"

void
ops_res_init(struct ops_result *r)
{
	memset(r, 0, sizeof(*r));
	r->status = OPS_OK;
}

void
ops_res_set(struct ops_result *r, enum ops_status st, const char *field,
    const char *fmt, ...)
{
	va_list ap;

	r->status = st;
	r->field = field;
	va_start(ap, fmt);
	(void)vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

void
ops_res_store(struct ops_result *r, int rc, const char *err, enum ops_status as,
    const char *field)
{
	if (rc == 0)
		return;
	ops_res_set(r, rc == STORE_REFUSED ? as : OPS_FAILED,
	    rc == STORE_REFUSED && as == OPS_INVALID ? field : NULL, "%s",
	    err);
}

bool
ops_sees(const struct ops_actor *a, const char *customer)
{
	return a->customer == NULL || strcasecmp(a->customer, customer) == 0;
}

const char *
ops_who(const struct ops_actor *a)
{
	return a->who != NULL ? a->who : "-";
}

bool
ops_expect(struct store *s, const struct ops_actor *a, struct ops_result *r)
{
	char why[sizeof(r->error)];
	int rc;

	if (a->expect == NULL)
		return true;
	why[0] = '\0';
	rc = a->expect(s, a->expect_arg, why, sizeof(why));
	if (rc == 1)
		return true;
	ops_res_set(r, rc == 0 ? OPS_PRECONDITION : OPS_FAILED, NULL, "%s",
	    why[0] != '\0' ? why : rc == 0 ? "the precondition failed" :
	    "cannot read the object");
	return false;
}

bool
ops_begin(struct store *s, struct ops_result *r)
{
	const char *err;

	if (store_begin(s, &err) == -1) {
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
		return false;
	}
	return true;
}

bool
ops_finish(struct store *s, struct ops_result *r)
{
	const char *err;

	if (r->status != OPS_OK) {
		store_rollback(s);
		return false;
	}
	if (store_commit(s, &err) == -1) {
		store_rollback(s);
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
		return false;
	}
	return true;
}

/* ---- customers ---- */

/* The customer NAME as the actor sees it: 1, 0 (R says "no customer"),
   -1 (R says why). */
static int
customer_find(struct store *s, const struct ops_actor *a, const char *name,
    struct store_customer *cu, struct ops_result *r)
{
	const char *err;
	int rc;

	rc = store_customer_get(s, name, cu, &err);
	if (rc == -1) {
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
		return -1;
	}
	if (rc == 0 || !ops_sees(a, cu->name)) {
		ops_res_set(r, OPS_NOT_FOUND, NULL, "no customer '%s'", name);
		return 0;
	}
	return 1;
}

void
ops_customer_add(struct store *s, const struct ops_actor *a,
    const char *name, struct ops_result *r)
{
	struct store_customer cu;
	const char *err;
	bool had;
	int rc;

	ops_res_init(r);
	if (a->customer != NULL) {
		ops_res_set(r, OPS_NOT_FOUND, NULL, "customers are added by an "
		    "administrator");
		return;
	}
	if (!ops_begin(s, r))
		return;
	had = store_customer_get(s, name, &cu, &err) == 1;
	rc = store_customer_add(s, name, &err);
	ops_res_store(r, rc, err, had ? OPS_CONFLICT : OPS_INVALID, "name");
	if (ops_finish(s, r))
		log_info("ops customer-added customer=%s by=%s", name, ops_who(a));
}

void
ops_customer_get(struct store *s, const struct ops_actor *a,
    const char *name, struct store_customer *cu, struct ops_result *r)
{
	ops_res_init(r);
	(void)customer_find(s, a, name, cu, r);
}

void
ops_customer_list(struct store *s, const struct ops_actor *a,
    struct store_window *w, store_customer_cb *cb, void *arg,
    struct ops_result *r)
{
	struct store_customer cu;
	const char *err;
	int rc;

	ops_res_init(r);
	if (a->customer == NULL) {
		if (store_customer_page(s, w, cb, arg, &err) == -1)
			ops_res_set(r, OPS_FAILED, NULL, "%s", err);
		return;
	}
	/* A customer's actor sees one: its own. */
	rc = store_customer_get(s, a->customer, &cu, &err);
	if (rc == -1) {
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
		return;
	}
	if (w != NULL)
		w->total = (uint64_t)rc;
	if (rc == 1 && (w == NULL || (w->offset == 0 && w->limit != 0)))
		cb(&cu, arg);
}

/* SPEC 1: a suspended or deleted customer's relay authorizations go at
   once (the daemon also checks the standing at every MAIL). */
static void
revoke(const struct ops_env *env, const char *name, struct ops_result *r)
{
	char lower[STORE_NAME_MAX + 1];
	const char *err;
	int n;

	if (env == NULL || env->relay == NULL)
		return;
	(void)str_copy(lower, name, sizeof(lower));
	str_lower(lower);
	n = relay_revoke(env->relay, NULL, lower, &err);
	if (n < 0) {
		ops_res_set(r, OPS_FAILED, NULL, "the change is made, but its "
		    "relay authorizations could not be revoked: %s", err);
		return;
	}
	r->revoked = n;
}

void
ops_customer_set_suspended(struct store *s, const struct ops_env *env,
    const struct ops_actor *a, const char *name, bool suspended,
    struct ops_result *r)
{
	struct store_customer cu;
	const char *err;
	int rc;

	ops_res_init(r);
	if (!ops_begin(s, r))
		return;
	if (customer_find(s, a, name, &cu, r) == 1 && ops_expect(s, a, r)) {
		rc = store_customer_set_suspended(s, name, suspended, &err);
		ops_res_store(r, rc, err, OPS_NOT_FOUND, NULL);
	}
	if (!ops_finish(s, r))
		return;
	log_info("ops customer-%s customer=%s by=%s", suspended ?
	    "suspended" : "resumed", cu.name, ops_who(a));
	if (suspended)
		revoke(env, cu.name, r);
}

void
ops_customer_delete(struct store *s, const struct ops_env *env,
    const struct ops_actor *a, const char *name, bool force,
    struct ops_result *r)
{
	struct store_customer cu;
	const char *err;
	int rc;

	ops_res_init(r);
	if (a->customer != NULL) {
		ops_res_set(r, OPS_NOT_FOUND, NULL, "no customer '%s'", name);
		return;
	}
	if (!ops_begin(s, r))
		return;
	if (customer_find(s, a, name, &cu, r) == 1 && ops_expect(s, a, r)) {
		rc = store_customer_delete(s, name, force, &err);
		ops_res_store(r, rc, err, OPS_CONFLICT, NULL);
	}
	if (!ops_finish(s, r))
		return;
	log_info("ops customer-deleted customer=%s force=%s by=%s", cu.name,
	    force ? "yes" : "no", ops_who(a));
	revoke(env, cu.name, r);
}

/* ---- domains ---- */

static int
domain_find(struct store *s, const struct ops_actor *a, const char *domain,
    struct store_domain *d, struct ops_result *r)
{
	const char *err;
	int rc;

	rc = store_domain_get(s, domain, d, &err);
	if (rc == -1) {
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
		return -1;
	}
	if (rc == 0 || !ops_sees(a, d->customer)) {
		ops_res_set(r, OPS_NOT_FOUND, NULL, "no domain '%s'", domain);
		return 0;
	}
	return 1;
}

void
ops_domain_add(struct store *s, const struct ops_actor *a,
    const char *domain, const char *customer, struct ops_result *r)
{
	struct store_customer cu;
	struct store_domain d;
	const char *err;
	bool had, cust;
	int rc;

	ops_res_init(r);
	if (!ops_begin(s, r))
		return;
	/* What classifies a refusal; the store says it in its words. */
	had = store_domain_get(s, domain, &d, &err) == 1;
	cust = store_customer_get(s, customer, &cu, &err) == 1;
	if (a->customer != NULL && (!cust || !ops_sees(a, cu.name)))
		ops_res_set(r, OPS_INVALID, "customer", "no customer '%s' (add "
		    "it with: popgate customer add %s)", customer, customer);
	else if (a->customer != NULL && had && !ops_sees(a, d.customer))
		ops_res_set(r, OPS_CONFLICT, NULL, "domain '%s' already "
		    "exists", domain);
	else {
		rc = store_domain_add(s, domain, customer, &err);
		if (rc == 0)
			rc = ops_dkim_make(s, domain, &err);
		ops_res_store(r, rc, err, had ? OPS_CONFLICT : OPS_INVALID,
		    cust ? "name" : "customer");
	}
	if (ops_finish(s, r))
		log_info("ops domain-added domain=%s customer=%s by=%s",
		    domain, cu.name, ops_who(a));
}

void
ops_domain_get(struct store *s, const struct ops_actor *a,
    const char *domain, struct store_domain *d, struct ops_result *r)
{
	ops_res_init(r);
	(void)domain_find(s, a, domain, d, r);
}

void
ops_domain_list(struct store *s, const struct ops_actor *a,
    const char *customer, struct store_window *w, store_domain_cb *cb,
    void *arg, struct ops_result *r)
{
	struct store_customer cu;
	const char *err;

	ops_res_init(r);
	if (customer != NULL && customer_find(s, a, customer, &cu, r) != 1)
		return;
	if (customer == NULL)
		customer = a->customer;
	if (store_domain_page(s, customer, w, cb, arg, &err) == -1)
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
}

void
ops_domain_delete(struct store *s, const struct ops_actor *a,
    const char *domain, bool force, struct ops_result *r)
{
	struct store_domain d;
	const char *err;
	int rc;

	ops_res_init(r);
	if (!ops_begin(s, r))
		return;
	if (domain_find(s, a, domain, &d, r) == 1 && ops_expect(s, a, r)) {
		rc = store_domain_delete(s, domain, force, &err);
		ops_res_store(r, rc, err, OPS_CONFLICT, NULL);
	}
	if (ops_finish(s, r))
		log_info("ops domain-deleted domain=%s force=%s by=%s", d.name,
		    force ? "yes" : "no", ops_who(a));
}
