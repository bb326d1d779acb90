/*
 * ops_dkim.c - the DKIM key pairs a domain gets when it is added and at
 * each rotation (SPEC 10), shown and rotated by `popgate domain dkim`
 * (src/cli/cli_dkim.c) and /api/v1/domains/NAME/dkim.
 *
 * One RSA-2048 and one Ed25519 pair (RFC 8463 asks for both while
 * receivers learn Ed25519), each under its own selector "pYYYYMMDD[x]r"
 * / "...e": a new pair per rotation, so a record once published never
 * changes meaning. A rotation retires the pair in use: it signs no more
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

struct selectors {
	struct strlist	names;
};

static void
collect(const struct store_dkim_key *k, void *arg)
{
	struct selectors *ss = arg;

	strlist_add(&ss->names, k->selector);
}

static bool
taken(const struct selectors *ss, const char *sel)
{
	size_t i;

	for (i = 0; i < ss->names.n; i++)
		if (strcmp(ss->names.v[i], sel) == 0)
			return true;
	return false;
}

/* The selector stem for a new pair made at NOW: "p20261203", then
   "p20261203b" ... for more pairs the same day. */
static int
new_stem(const struct selectors *ss, time_t now, char *stem, size_t stemsz)
{
	char date[16], r[STORE_DKIM_SEL_MAX + 1], e[STORE_DKIM_SEL_MAX + 1];
	struct tm tm;
	int i;

	(void)gmtime_r(&now, &tm);
	(void)strftime(date, sizeof(date), "%Y%m%d", &tm);
	for (i = 0; i < 26; i++) {
		char suffix = (char)('a' + i);

		(void)str_fmt(stem, stemsz, "p%s%.*s", date, i > 0, &suffix);
		(void)str_fmt(r, sizeof(r), "%sr", stem);
		(void)str_fmt(e, sizeof(e), "%se", stem);
		if (!taken(ss, r) && !taken(ss, e))
			return 0;
	}
	return -1;
}

int
ops_dkim_make(struct store *s, const char *domain, const char **error_r)
{
	static const enum dkim_alg algs[] = { DKIM_RSA_SHA256,
		DKIM_ED25519_SHA256 };
	static _Thread_local char ebuf[DKIM_ERROR_MAX + 32];
	struct store_dkim_key k;
	struct selectors ss;
	char stem[STORE_DKIM_SEL_MAX - 1], err[DKIM_ERROR_MAX], *pem, *pub;
	time_t now = time(NULL);
	size_t i;
	int r;

	strlist_init(&ss.names);
	r = store_dkim_list(s, domain, false, collect, &ss, error_r);
	if (r != 0) {
		strlist_free(&ss.names);
		return r;
	}
	r = new_stem(&ss, now, stem, sizeof(stem));
	strlist_free(&ss.names);
	if (r == -1) {
		*error_r = "too many DKIM keys made today for this domain";
		return STORE_REFUSED;
	}
	for (i = 0; i < nitems(algs); i++) {
		memset(&k, 0, sizeof(k));
		if (dkim_keygen(algs[i], &pem, &pub, err) == -1) {
			(void)str_fmt(ebuf, sizeof(ebuf), "DKIM key: %s", err);
			*error_r = ebuf;
			return -1;
		}
		(void)str_copy(k.domain, domain, sizeof(k.domain));
		(void)str_fmt(k.selector, sizeof(k.selector), "%s%c", stem,
		    algs[i] == DKIM_RSA_SHA256 ? 'r' : 'e');
		(void)str_copy(k.algorithm, dkim_alg_name(algs[i]),
		    sizeof(k.algorithm));
		(void)str_copy(k.private_key, pem, sizeof(k.private_key));
		(void)str_copy(k.public_key, pub, sizeof(k.public_key));
		k.active = true;
		k.created = now;
		explicit_bzero(pem, strlen(pem));
		free(pem);
		free(pub);
		r = store_dkim_add(s, &k, error_r);
		explicit_bzero(&k, sizeof(k));
		if (r != 0)
			return r;
	}
	return 0;
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
