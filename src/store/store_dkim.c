/*
 * store_dkim.c - the DKIM keys of the hosted domains (store.h), kept in
 * the account store so that every host sharing it signs alike.
 *
 * The pairs a domain gets when it is added and at each rotation are
 * made here (store_dkim_make), by the process that holds the store:
 * through popgate-lookup's link (store_remote.c) the network process
 * asks for them and never sees the private half (README "Processes").
 * One RSA-2048 and one Ed25519 pair (RFC 8463 asks for both while
 * receivers learn Ed25519), each under its own selector "pYYYYMMDD[x]r"
 * / "...e": a new pair per rotation, so a record once published never
 * changes meaning.
 */
#include <string.h>
#include <time.h>

#include "core/dkim.h"
#include "store/store_int.h"
#include "util/xalloc.h"
#include "util/compat.h"

static bool
selector_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > STORE_DKIM_SEL_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return false;
	return true;
}

int
store_dkim_add(struct store *s, const struct store_dkim_key *k,
    const char **error_r)
{
	char dom[ADDR_DOMAIN_MAX + 1];
	struct store_domain d;
	struct store_val v[8];
	int r;

	if ((r = store_canon_domain(s, k->domain, dom, error_r)) != 0)
		return r;
	if (!selector_ok(k->selector)) {
		*error_r = store_set_error(s, "bad selector '%s': a DNS label "
		    "of lower-case letters, digits and '-'", k->selector);
		return STORE_REFUSED;
	}
	if (strcmp(k->algorithm, "rsa-sha256") != 0 &&
	    strcmp(k->algorithm, "ed25519-sha256") != 0) {
		*error_r = store_set_error(s, "bad algorithm '%s'",
		    k->algorithm);
		return STORE_REFUSED;
	}
	if ((r = store_domain_find(s, dom, &d, error_r)) != 1) {
		if (r == 0)
			*error_r = store_set_error(s, "domain '%s' is not "
			    "hosted", dom);
		return r == 0 ? STORE_REFUSED : -1;
	}
	v[0] = SV_T(dom);
	v[1] = SV_T(k->selector);
	v[2] = SV_T(k->algorithm);
	v[3] = SV_T(k->private_key);
	v[4] = SV_T(k->public_key);
	v[5] = SV_T(k->active ? "active" : "retired");
	v[6] = SV_I(k->created);
	v[7] = SV_I(k->retired);
	r = store_result(s, s->be->exec(s, SQL_DKIM_ADD, v, 8, NULL, NULL),
	    error_r);
	if (r == STORE_REFUSED)
		*error_r = store_set_error(s, "domain '%s' has a key with "
		    "selector '%s' already", dom, k->selector);
	return r;
}

struct list_ctx {
	store_dkim_cb	*cb;
	void		*arg;
};

static void
row_dkim(struct store_row *r, void *arg)
{
	struct list_ctx *lc = arg;
	struct store_dkim_key k;

	memset(&k, 0, sizeof(k));
	(void)str_copy(k.domain, store_row_text(r, 0), sizeof(k.domain));
	(void)str_copy(k.selector, store_row_text(r, 1), sizeof(k.selector));
	(void)str_copy(k.algorithm, store_row_text(r, 2),
	    sizeof(k.algorithm));
	(void)str_copy(k.private_key, store_row_text(r, 3),
	    sizeof(k.private_key));
	(void)str_copy(k.public_key, store_row_text(r, 4),
	    sizeof(k.public_key));
	k.active = strcmp(store_row_text(r, 5), "active") == 0;
	k.created = store_row_int(r, 6);
	k.retired = store_row_int(r, 7);
	lc->cb(&k, lc->arg);
	explicit_bzero(k.private_key, sizeof(k.private_key));
}

int
store_dkim_list(struct store *s, const char *domain, bool active_only,
    store_dkim_cb *cb, void *arg, const char **error_r)
{
	char dom[ADDR_DOMAIN_MAX + 1];
	struct list_ctx lc = { cb, arg };
	struct store_val v[2];
	int r;

	v[0] = SV_N;
	if (domain != NULL) {
		if ((r = store_canon_domain(s, domain, dom, error_r)) != 0)
			return r;
		v[0] = SV_T(dom);
	}
	v[1] = active_only ? SV_T("active") : SV_N;
	return store_result(s, s->be->exec(s, SQL_DKIM_LIST, v, 2, row_dkim,
	    &lc), error_r);
}

int
store_dkim_retire(struct store *s, const char *domain, int64_t when,
    const char **error_r)
{
	char dom[ADDR_DOMAIN_MAX + 1];
	struct store_val v[2];
	int r;

	if ((r = store_canon_domain(s, domain, dom, error_r)) != 0)
		return r;
	v[0] = SV_T(dom);
	v[1] = SV_I(when);
	return store_result(s, s->be->exec(s, SQL_DKIM_RETIRE, v, 2, NULL,
	    NULL), error_r);
}

int
store_dkim_delete(struct store *s, const char *domain, const char *selector,
    const char **error_r)
{
	char dom[ADDR_DOMAIN_MAX + 1];
	struct store_val v[2];
	int64_t n;
	int r;

	if ((r = store_canon_domain(s, domain, dom, error_r)) != 0)
		return r;
	v[0] = SV_T(dom);
	v[1] = SV_T(selector);
	n = s->be->exec(s, SQL_DKIM_DELETE, v, 2, NULL, NULL);
	if (n == 0) {
		*error_r = store_set_error(s, "domain '%s' has no retired key "
		    "with selector '%s'", dom, selector);
		return STORE_REFUSED;
	}
	return store_result(s, n, error_r);
}

struct copy {
	struct store	*to;
	uint64_t	*n;
	int		 r;
	const char	*err;
};

static void
copy_key(const struct store_dkim_key *k, void *arg)
{
	struct copy *cp = arg;

	if (cp->r == 0 && (cp->r = store_dkim_add(cp->to, k, &cp->err)) == 0)
		++*cp->n;
}

int
store_dkim_copy(struct store *from, struct store *to, uint64_t *count_r,
    const char **error_r)
{
	struct copy cp = { to, count_r, 0, NULL };
	const char *err;

	if (store_dkim_list(from, NULL, false, copy_key, &cp, &err) == -1) {
		*error_r = store_set_error(to, "reading the source: %s", err);
		return -1;
	}
	if (cp.r != 0) {
		*error_r = cp.err;
		return -1;
	}
	return 0;
}

/* ---- making pairs ---- */

static void
collect(const struct store_dkim_key *k, void *arg)
{
	strlist_add(arg, k->selector);
}

static bool
taken(const struct strlist *names, const char *sel)
{
	size_t i;

	for (i = 0; i < names->n; i++)
		if (strcmp(names->v[i], sel) == 0)
			return true;
	return false;
}

/* The selector stem for a new pair made at NOW: "p20261203", then
   "p20261203b" ... for more pairs the same day. */
static int
new_stem(const struct strlist *names, time_t now, char *stem, size_t stemsz)
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
		if (!taken(names, r) && !taken(names, e))
			return 0;
	}
	return -1;
}

/* One new pair of ALG under STEM + its letter for DOM. */
static int
make_one(struct store *s, const char *dom, const char *stem,
    enum dkim_alg alg, time_t now, const char **error_r)
{
	struct store_dkim_key *k = xcalloc(1, sizeof(*k));
	char err[DKIM_ERROR_MAX], *pem, *pub;
	int r;

	if (dkim_keygen(alg, &pem, &pub, err) == -1) {
		free(k);
		*error_r = store_set_error(s, "DKIM key: %s", err);
		return -1;
	}
	(void)str_copy(k->domain, dom, sizeof(k->domain));
	(void)str_fmt(k->selector, sizeof(k->selector), "%s%c", stem,
	    alg == DKIM_RSA_SHA256 ? 'r' : 'e');
	(void)str_copy(k->algorithm, dkim_alg_name(alg), sizeof(k->algorithm));
	(void)str_copy(k->private_key, pem, sizeof(k->private_key));
	(void)str_copy(k->public_key, pub, sizeof(k->public_key));
	k->active = true;
	k->created = now;
	explicit_bzero(pem, strlen(pem));
	free(pem);
	free(pub);
	r = store_dkim_add(s, k, error_r);
	explicit_bzero(k, sizeof(*k));
	free(k);
	return r;
}

int
store_dkim_make_local(struct store *s, const char *domain,
    const char **error_r)
{
	static const enum dkim_alg algs[] = { DKIM_RSA_SHA256,
		DKIM_ED25519_SHA256 };
	char dom[ADDR_DOMAIN_MAX + 1], stem[STORE_DKIM_SEL_MAX - 1];
	struct strlist names;
	time_t now = time(NULL);
	size_t i;
	int r;

	if ((r = store_canon_domain(s, domain, dom, error_r)) != 0)
		return r;
	strlist_init(&names);
	r = store_dkim_list(s, dom, false, collect, &names, error_r);
	if (r == 0 && new_stem(&names, now, stem, sizeof(stem)) == -1) {
		*error_r = store_set_error(s, "too many DKIM keys made today "
		    "for this domain");
		r = STORE_REFUSED;
	}
	strlist_free(&names);
	for (i = 0; r == 0 && i < nitems(algs); i++)
		r = make_one(s, dom, stem, algs[i], now, error_r);
	return r;
}

int
store_dkim_make(struct store *s, const char *domain, const char **error_r)
{
	char dom[ADDR_DOMAIN_MAX + 1];
	int r;

	if (s->be->dkim_make == NULL)
		return store_dkim_make_local(s, domain, error_r);
	if ((r = store_canon_domain(s, domain, dom, error_r)) != 0)
		return r;
	return store_result(s, s->be->dkim_make(s, dom), error_r);
}
