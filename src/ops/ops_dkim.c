/*
 * ops_dkim.c - the DKIM key pairs a domain gets when it is added and at
 * each rotation (SPEC 10; shown and rotated by src/cli/cli_dkim.c).
 *
 * One RSA-2048 and one Ed25519 pair (RFC 8463 asks for both while
 * receivers learn Ed25519), each under its own selector "pYYYYMMDD[x]r"
 * / "...e": a new pair per rotation, so a record once published never
 * changes meaning.
 */
#include <time.h>

#include "core/dkim.h"
#include "ops/ops.h"
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
