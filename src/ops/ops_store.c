/*
 * ops_store.c - what an account store holds, for `popgate store info`
 * and GET /api/v1/store (ops.h): its schema version and its counts.
 */
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/compat.h"

static void
count_customer(const struct store_customer *cu, void *arg)
{
	struct ops_store_info *si = arg;

	si->customers++;
	si->domains += cu->ndomains;
	si->mailboxes += cu->nmailboxes;
}

void
ops_store_info(struct store *s, struct ops_store_info *si,
    struct ops_result *r)
{
	const char *err;

	ops_res_init(r);
	memset(si, 0, sizeof(*si));
	si->schema_version = store_schema_version(s, &err);
	if (si->schema_version < 0 ||
	    store_customer_list(s, count_customer, si, &err) != 0)
		ops_res_set(r, OPS_FAILED, NULL, "%s", err);
}
