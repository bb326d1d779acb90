/*
 * ops_mailbox.c - mailboxes for the CLI and the API (ops.h): the store's
 * rows and, for a new one, its Maildir, created before the commit so
 * that a mailbox never exists without one.
 */
#include "maildir/maildir.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/log.h"
#include "util/compat.h"

static int
mailbox_find(struct store *s, const struct ops_actor *a, const char *address,
    struct store_mailbox *m, struct ops_result *r)
{
	const char *err;
	int rc;

	rc = store_mailbox_get(s, address, m, &err);
	if (rc == -1) {
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
		return -1;
	}
	if (rc == 0 || !ops_sees(a, m->customer)) {
		ops_res_set(r, OPS_NOT_FOUND, NULL, "no mailbox '%s'", address);
		return 0;
	}
	return 1;
}

/* Whether ADDRESS's domain is hosted for the actor: 1, 0 (R says the
   store's words for a domain not hosted), -1. */
static int
domain_visible(struct store *s, const struct ops_actor *a,
    const struct mailaddr *ma, struct ops_result *r)
{
	struct store_domain d;
	const char *err;
	int rc;

	rc = store_domain_get(s, ma->domain, &d, &err);
	if (rc == -1) {
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
		return -1;
	}
	if (rc == 0 || !ops_sees(a, d.customer)) {
		ops_res_set(r, OPS_INVALID, "address", "domain '%s' is not hosted "
		    "here (add it with: popgate domain add %s --customer "
		    "NAME)", ma->domain, ma->domain);
		return 0;
	}
	return 1;
}

void
ops_mailbox_add(struct store *s, const struct ops_env *env,
    const struct ops_actor *a, const char *address, const char *hash,
    uint64_t quota, struct ops_result *r)
{
	struct store_mailbox m;
	struct mailaddr ma;
	const char *err;
	int rc, had;

	ops_res_init(r);
	if (store_parse_address(address, &ma, &err) == -1) {
		ops_res_set(r, OPS_INVALID, "address", "bad address '%s': %s",
		    address, err);
		return;
	}
	if (!ops_begin(s, r))
		return;
	if (domain_visible(s, a, &ma, r) != 1)
		goto done;
	had = store_mailbox_get(s, address, &m, &err);
	if (had != -1)
		rc = store_mailbox_add(s, address, hash, quota, &err);
	else
		rc = -1;
	if (rc != 0) {
		ops_res_set(r, rc == STORE_REFUSED ? (had == 1 ? OPS_CONFLICT :
		    OPS_INVALID) : OPS_FAILED, rc == STORE_REFUSED &&
		    had != 1 ? (passwd_check_hash(hash) == -1 ? "password" :
		    "quota") : NULL, "%s", err);
		goto done;
	}
	if (maildir_create(env->data_fd, env->mail_dir, ma.domain, ma.local,
	    &err) == -1)
		ops_res_set(r, OPS_FAILED, NULL, "cannot create the Maildir: %s",
		    err);
done:
	if (ops_finish(s, r))
		log_info("ops mailbox-added mailbox=%s@%s by=%s", ma.local,
		    ma.domain, ops_who(a));
}

void
ops_mailbox_get(struct store *s, const struct ops_actor *a,
    const char *address, struct store_mailbox *m, struct ops_result *r)
{
	ops_res_init(r);
	(void)mailbox_find(s, a, address, m, r);
}

void
ops_mailbox_list(struct store *s, const struct ops_actor *a,
    const char *domain, const char *customer, struct store_window *w,
    store_mailbox_cb *cb, void *arg, struct ops_result *r)
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
			ops_res_set(r, rc == 0 ? OPS_NOT_FOUND : OPS_FAILED, NULL,
			    rc == 0 ? "no customer '%s'" : "%s",
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
			ops_res_set(r, rc == 0 ? OPS_NOT_FOUND : OPS_FAILED, NULL,
			    rc == 0 ? "no domain '%s' is hosted here" : "%s",
			    rc == 0 ? domain : err);
			return;
		}
		(void)str_copy(filter, domain, sizeof(filter));
	}
	if (store_mailbox_page(s, customer != NULL || domain != NULL ?
	    filter : NULL, w, cb, arg, &err) == -1)
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
}

/* One change of an existing mailbox: its password (HASH not NULL)
   and/or its quota (QUOTA not NULL), or its deletion. */
static void
change(struct store *s, const struct ops_actor *a, const char *address,
    bool delete, const char *hash, const uint64_t *quota,
    struct ops_result *r)
{
	struct store_mailbox m;
	const char *err = "", *field = NULL;
	int rc = 0;

	ops_res_init(r);
	if (!ops_begin(s, r))
		return;
	if (mailbox_find(s, a, address, &m, r) != 1 || !ops_expect(s, a, r))
		goto done;
	if (delete) {
		rc = store_mailbox_delete(s, address, &err);
	} else {
		if (hash != NULL) {
			field = "password";
			rc = store_mailbox_set_hash(s, address, hash, &err);
		}
		if (rc == 0 && quota != NULL) {
			field = "quota";
			rc = store_mailbox_set_quota(s, address, *quota, &err);
		}
	}
	if (rc != 0)
		ops_res_set(r, rc == STORE_REFUSED ? OPS_INVALID : OPS_FAILED,
		    rc == STORE_REFUSED ? field : NULL, "%s", err);
done:
	if (!ops_finish(s, r))
		return;
	if (delete)
		log_info("ops mailbox-deleted mailbox=%s by=%s", m.address,
		    ops_who(a));
	if (hash != NULL)
		log_info("ops mailbox-password-changed mailbox=%s by=%s",
		    m.address, ops_who(a));
	if (quota != NULL)
		log_info("ops mailbox-quota-set mailbox=%s by=%s", m.address,
		    ops_who(a));
}

void
ops_mailbox_set_hash(struct store *s, const struct ops_actor *a,
    const char *address, const char *hash, struct ops_result *r)
{
	change(s, a, address, false, hash, NULL, r);
}

void
ops_mailbox_set_quota(struct store *s, const struct ops_actor *a,
    const char *address, uint64_t quota, struct ops_result *r)
{
	change(s, a, address, false, NULL, &quota, r);
}

void
ops_mailbox_update(struct store *s, const struct ops_actor *a,
    const char *address, const char *hash, const uint64_t *quota,
    struct ops_result *r)
{
	change(s, a, address, false, hash, quota, r);
}

void
ops_mailbox_delete(struct store *s, const struct ops_actor *a,
    const char *address, struct ops_result *r)
{
	change(s, a, address, true, NULL, NULL, r);
}
