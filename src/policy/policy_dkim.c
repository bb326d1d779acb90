/*
 * policy_dkim.c - DKIM-signing a message from a hosted domain with the
 * domain's active keys from the account store (SPEC 10).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "policy/policy.h"
#include "core/rfc5322.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define MAX_KEYS	4	/* active keys used per domain */

struct loaded {
	struct dkim_key	 k[MAX_KEYS];
	EVP_PKEY	*pkey[MAX_KEYS];
	char		 sel[MAX_KEYS][STORE_DKIM_SEL_MAX + 1];
	char		 domain[ADDR_DOMAIN_MAX + 1];
	size_t		 n;
	char		 err[DKIM_ERROR_MAX];
	bool		 bad;
};

static void
load_key(const struct store_dkim_key *sk, void *arg)
{
	struct loaded *l = arg;
	int alg = dkim_alg_parse(sk->algorithm);
	EVP_PKEY *pk;

	if (l->n == MAX_KEYS || alg == -1 || l->bad)
		return;
	pk = dkim_key_load((enum dkim_alg)alg, sk->private_key, l->err);
	if (pk == NULL) {
		l->bad = true;
		return;
	}
	l->pkey[l->n] = pk;
	(void)str_copy(l->sel[l->n], sk->selector, sizeof(l->sel[0]));
	l->k[l->n].alg = (enum dkim_alg)alg;
	l->k[l->n].domain = l->domain;
	l->k[l->n].selector = l->sel[l->n];
	l->k[l->n].pkey = pk;
	l->n++;
}

static void
loaded_free(struct loaded *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		EVP_PKEY_free(l->pkey[i]);
	l->n = 0;
}

static int
feed(void *arg, const void *p, size_t n)
{
	dkim_signer_feed(arg, p, n);
	return 0;
}

int
policy_dkim_sign(struct backends *b, const char *domain,
    const struct spool *spool, const void *data, size_t len,
    struct buf *out, char why[DKIM_ERROR_MAX])
{
	struct dkim_signer *s;
	struct loaded *l = xcalloc(1, sizeof(*l));
	struct store *st;
	const char *err;
	int r = -1;

	(void)str_copy(l->domain, domain, sizeof(l->domain));
	if ((st = backends_store(b, &err)) == NULL ||
	    store_dkim_list(st, domain, true, load_key, l, &err) != 0) {
		(void)str_fmt(why, DKIM_ERROR_MAX, "account store: %s", err);
		goto out;
	}
	if (l->bad) {
		(void)str_fmt(why, DKIM_ERROR_MAX, "key of %s: %s", domain,
		    l->err);
		goto out;
	}
	if (l->n == 0) {
		r = 0;
		goto out;
	}
	s = dkim_signer_new();
	if (spool != NULL && spool_copy(spool, feed, s) == -1) {
		(void)str_fmt(why, DKIM_ERROR_MAX, "reading the message: %s",
		    strerror(errno));
		dkim_signer_free(&s);
		goto out;
	}
	if (data != NULL)
		dkim_signer_feed(s, data, len);
	if (dkim_sign(s, l->k, l->n, time(NULL), out, why) == 0)
		r = 1;
	dkim_signer_free(&s);
out:
	loaded_free(l);
	free(l);
	return r;
}

/* The first address of the first From: field. */
struct first_from {
	char	domain[ADDR_DOMAIN_MAX + 1];
	bool	found;
};

static void
from_field(const char *body, size_t len, void *arg)
{
	struct first_from *ff = arg;
	struct strlist addrs;
	const char *err, *at;

	if (ff->found)
		return;
	strlist_init(&addrs);
	if (rfc5322_parse_addresses(body, len, &addrs, &err) == 0 &&
	    addrs.n > 0 && (at = strrchr(addrs.v[0], '@')) != NULL) {
		(void)str_copy(ff->domain, at + 1, sizeof(ff->domain));
		ff->found = true;
	}
	strlist_free(&addrs);
}

int
policy_from_domain(const char *headers, size_t len, char *domain,
    size_t domainsz)
{
	struct first_from ff;

	memset(&ff, 0, sizeof(ff));
	(void)rfc5322_fields(headers, len, "From", from_field, &ff);
	if (!ff.found)
		return -1;
	return str_copy(domain, ff.domain, domainsz);
}
