/*
 * policy_dkim.c - DKIM-signing a message from a hosted domain with the
 * domain's active keys from the account store (SPEC 10).
 *
 * The private keys are the store's data: with the store in hand (the
 * CLI, a daemon without popgate-lookup) they are loaded and used here;
 * through popgate-lookup the network process never sees them (the
 * private_key column crosses as "") and sends, per key, what it would
 * sign: the SHA-256 of the signed data. popgate-lookup signs it with
 * that key, if it is an active key of that domain (README "Processes").
 *
 * Messages (util/ipc.h), every field bounded:
 *   DKIM_SIGN	  texts domain, selector, u32 algorithm (enum dkim_alg),
 *		  bytes digest (exactly DKIM_HASH_LEN)
 *   DKIM_SIGNED  u32 result (0 refused: no such active key, or one that
 *		  fails; 1 signed; 2 temporary), bytes signature (at
 *		  most DKIM_SIG_MAX, present exactly when signed), text
 *		  error
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "policy/policy_int.h"
#include "core/rfc5322.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define MAX_KEYS	4	/* active keys used per domain */
#define SIGN_WAIT_MS	10000	/* as a login: a store behind a network */

enum { SIGN_REFUSED, SIGN_DONE, SIGN_TEMPORARY };

struct loaded {
	struct dkim_key	 k[MAX_KEYS];
	EVP_PKEY	*pkey[MAX_KEYS];
	char		 sel[MAX_KEYS][STORE_DKIM_SEL_MAX + 1];
	char		 domain[ADDR_DOMAIN_MAX + 1];
	size_t		 n;
	struct backends	*remote;	/* popgate-lookup signs, or NULL */
	char		 err[DKIM_ERROR_MAX];
	bool		 bad;
};

static dkim_private_fn sign_remote;

static void
load_key(const struct store_dkim_key *sk, void *arg)
{
	struct loaded *l = arg;
	int alg = dkim_alg_parse(sk->algorithm);
	EVP_PKEY *pk = NULL;

	if (l->n == MAX_KEYS || alg == -1 || l->bad)
		return;
	if (l->remote == NULL &&
	    (pk = dkim_key_load((enum dkim_alg)alg, sk->private_key,
	    l->err)) == NULL) {
		l->bad = true;
		return;
	}
	l->pkey[l->n] = pk;
	(void)str_copy(l->sel[l->n], sk->selector, sizeof(l->sel[0]));
	l->k[l->n].alg = (enum dkim_alg)alg;
	l->k[l->n].domain = l->domain;
	l->k[l->n].selector = l->sel[l->n];
	l->k[l->n].pkey = pk;
	if (l->remote != NULL) {
		l->k[l->n].sign = sign_remote;
		l->k[l->n].arg = l->remote;
	}
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
	/* Through popgate-lookup the list has no private keys: it signs
	   the digests (README "Processes"). */
	l->remote = b->link != NULL ? b : NULL;
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

/* ---- the private step in popgate-lookup ---- */

/* The network process's side: DKIM_SIGN of K's digest MD over the link
   of the backends ARG, the signature into SIG. */
static int
sign_remote(const struct dkim_key *k, const unsigned char md[DKIM_HASH_LEN],
    struct buf *sig, char err[DKIM_ERROR_MAX], void *arg)
{
	struct backends *b = arg;
	struct ipc_out out;
	struct ipc_in in;
	const void *p;
	uint32_t result;
	size_t n;
	int r = -1;

	ipc_out_init(&out);
	ipc_put_text(&out, k->domain);
	ipc_put_text(&out, k->selector);
	ipc_put_u32(&out, (uint32_t)k->alg);
	ipc_put_bytes(&out, md, DKIM_HASH_LEN);
	if (ipc_link_send(b->link, DKIM_SIGN, 0, &out) == -1 ||
	    ipc_link_recv(b->link, SIGN_WAIT_MS) == -1) {
		(void)snprintf(err, DKIM_ERROR_MAX, "the lookup process is "
		    "unavailable: %s", strerror(errno));
		goto out;
	}
	ipc_in_init(&in, b->link->m);
	if (b->link->m->type != DKIM_SIGNED ||
	    ipc_get_u32(&in, &result) == -1 || result > SIGN_TEMPORARY ||
	    ipc_get_bytes(&in, DKIM_SIG_MAX, &p, &n) == -1 ||
	    (result == SIGN_DONE) != (n > 0) ||
	    ipc_get_text(&in, err, DKIM_ERROR_MAX) == -1 ||
	    ipc_get_done(&in, 0) == -1) {
		ipc_link_close(b->link);
		(void)snprintf(err, DKIM_ERROR_MAX, "the lookup process sent "
		    "a malformed answer");
		goto out;
	}
	if (result == SIGN_DONE && buf_append(sig, p, n) == 0)
		r = 0;
	else if (result == SIGN_DONE)
		(void)snprintf(err, DKIM_ERROR_MAX, "signature too long");
out:
	ipc_out_free(&out);
	return r;
}

/* The key that DKIM_SIGN names: an active one of its domain. */
struct wanted {
	const char	*selector;
	enum dkim_alg	 alg;
	EVP_PKEY	*pkey;
	bool		 found;
	char		 err[DKIM_ERROR_MAX];
};

static void
find_key(const struct store_dkim_key *sk, void *arg)
{
	struct wanted *w = arg;

	if (w->found || !sk->active || strcmp(sk->selector, w->selector) != 0)
		return;
	w->found = true;
	if (dkim_alg_parse(sk->algorithm) != (int)w->alg)
		(void)str_copy(w->err, "the key is of another algorithm",
		    sizeof(w->err));
	else
		w->pkey = dkim_key_load(w->alg, sk->private_key, w->err);
}

/* DKIM_SIGN with B's store: the result code, SIG, ERR. */
static uint32_t
sign_here(struct backends *b, const char *domain, struct wanted *w,
    const unsigned char *md, struct buf *sig)
{
	struct store *st;
	const char *err = "";
	uint32_t r = SIGN_TEMPORARY;

	if ((st = backends_store(b, &err)) == NULL ||
	    store_dkim_list(st, domain, true, find_key, w, &err) != 0)
		(void)str_fmt(w->err, sizeof(w->err), "account store: %s",
		    err);
	else if (!w->found) {
		(void)str_fmt(w->err, sizeof(w->err), "no active key %s of "
		    "%s", w->selector, domain);
		r = SIGN_REFUSED;
	} else if (w->pkey == NULL)
		r = SIGN_REFUSED;	/* a key the store holds but that fails */
	else if (dkim_sign_digest(w->alg, w->pkey, md, sig, w->err) == 0)
		r = SIGN_DONE;
	EVP_PKEY_free(w->pkey);
	w->pkey = NULL;
	return r;
}

int
policy_dkim_serve(struct backends *b, const struct ipc_msg *m, int sock)
{
	char domain[ADDR_DOMAIN_MAX + 1], sel[STORE_DKIM_SEL_MAX + 1];
	struct wanted w;
	struct ipc_out out;
	struct ipc_in in;
	struct buf sig;
	const void *md;
	uint32_t alg, result;
	size_t n;
	int r;

	ipc_in_init(&in, m);
	memset(&w, 0, sizeof(w));
	if (ipc_get_text(&in, domain, sizeof(domain)) == -1 ||
	    ipc_get_text(&in, sel, sizeof(sel)) == -1 ||
	    ipc_get_u32(&in, &alg) == -1 || alg > DKIM_ED25519_SHA256 ||
	    ipc_get_bytes(&in, DKIM_HASH_LEN, &md, &n) == -1 ||
	    n != DKIM_HASH_LEN || ipc_get_done(&in, 0) == -1) {
		errno = EPROTO;
		return -1;
	}
	w.selector = sel;
	w.alg = (enum dkim_alg)alg;
	buf_init(&sig, DKIM_SIG_MAX);
	result = sign_here(b, domain, &w, md, &sig);
	if (result != SIGN_DONE)
		log_warn("popgate-lookup: dkim-sign-failed d=%s s=%s: %s",
		    domain, sel, w.err);
	ipc_out_init(&out);
	ipc_put_u32(&out, result);
	ipc_put_bytes(&out, sig.data, result == SIGN_DONE ? sig.len : 0);
	ipc_put_text(&out, result == SIGN_DONE ? "" : w.err);
	r = ipc_send(sock, DKIM_SIGNED, 0, &out, NULL, 0);
	ipc_out_free(&out);
	buf_free(&sig);
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
