/*
 * ops_dkim.c - the DKIM key pairs a domain gets when it is added and at
 * each rotation (SPEC 10), shown and rotated by `popgate domain dkim`
 * (src/cli/cli_dkim.c) and /api/v1/domains/NAME/dkim.
 *
 * One RSA-2048 and one Ed25519 pair (RFC 8463 asks for both while
 * receivers learn Ed25519), each under its own selector "pYYYYMMDD[x]r"
 * / "...e": a new pair per rotation, so a record once published never
 * changes meaning; they are made by the process that holds the store
 * (store_dkim_make: popgate-lookup for the daemon). A rotation retires the pair in use: it signs no more
 * but stays listed (and must stay in DNS) for OPS_DKIM_OVERLAP, while
 * mail signed with it is still queued or checked; the next rotation
 * after that deletes it and says which records to remove.
 */
#include <time.h>

#include "core/dkim.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

int
ops_dkim_make(struct store *s, const char *domain, const char **error_r)
{
	/* In the process that holds the store (store_dkim.c): through
	   popgate-lookup's link the private halves stay there. */
	return store_dkim_make(s, domain, error_r);
}

void
ops_dkim_keys_free(struct ops_dkim_keys *ks)
{
	if (ks->v != NULL)
		explicit_bzero(ks->v, ks->n * sizeof(*ks->v));
	free(ks->v);
	ks->v = NULL;
	ks->n = 0;
}

static void
collect_key(const struct store_dkim_key *k, void *arg)
{
	struct ops_dkim_keys *ks = arg;

	ks->v = xreallocarray(ks->v, ks->n + 1, sizeof(*ks->v));
	ks->v[ks->n++] = *k;
}

void
ops_dkim_list(struct store *s, const struct ops_actor *a, const char *domain,
    struct ops_dkim_keys *ks, struct ops_result *r)
{
	struct store_domain d;
	const char *err;
	int rc;

	ops_domain_get(s, a, domain, &d, r);
	if (r->status != OPS_OK)
		return;
	rc = store_dkim_list(s, d.name, false, collect_key, ks, &err);
	if (rc != 0) {
		ops_dkim_keys_free(ks);
		ops_res_store(r, rc, err, OPS_INVALID, "domain");
	}
}

/* Retired pairs of KS past their overlap at NOW go; their record names
   into GONE. A store result code. */
static int
drop_expired(struct store *s, const struct ops_dkim_keys *ks, time_t now,
    struct strlist *gone, const char **error_r)
{
	char name[OPS_DKIM_NAME_MAX];
	size_t i;
	int rc;

	for (i = 0; i < ks->n; i++) {
		const struct store_dkim_key *k = &ks->v[i];

		if (k->active || k->retired + OPS_DKIM_OVERLAP > now)
			continue;
		rc = store_dkim_delete(s, k->domain, k->selector, error_r);
		if (rc != 0)
			return rc;
		ops_dkim_name(k, name, sizeof(name));
		strlist_add(gone, name);
	}
	return 0;
}

void
ops_dkim_rotate(struct store *s, const struct ops_actor *a,
    const char *domain, time_t now, struct strlist *gone,
    struct ops_result *r)
{
	struct ops_dkim_keys ks = { NULL, 0 };
	struct store_domain d;
	const char *err = "";
	int rc;

	ops_res_init(r);
	if (!ops_begin(s, r))
		return;
	ops_domain_get(s, a, domain, &d, r);
	if (r->status == OPS_OK)
		ops_dkim_list(s, a, d.name, &ks, r);
	if (r->status == OPS_OK) {
		rc = drop_expired(s, &ks, now, gone, &err);
		if (rc == 0)
			rc = store_dkim_retire(s, d.name, now, &err);
		if (rc == 0)
			rc = ops_dkim_make(s, d.name, &err);
		ops_res_store(r, rc, err, OPS_CONFLICT, NULL);
	}
	ops_dkim_keys_free(&ks);
	if (ops_finish(s, r))
		log_info("ops dkim-rotated domain=%s deleted=%zu by=%s", d.name,
		    gone->n, ops_who(a));
}

void
ops_dkim_name(const struct store_dkim_key *k, char *out, size_t outsz)
{
	(void)str_fmt(out, outsz, "%s._domainkey.%s", k->selector, k->domain);
}
