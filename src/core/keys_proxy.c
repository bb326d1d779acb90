/*
 * keys_proxy.c - the daemon's side of popgate-keys (see keys.h): the
 * round trips, and key objects whose private operation is one.
 *
 * A key object is an RSA or EC_KEY with the certificate's public key
 * and an RSA_METHOD / EC_KEY_METHOD whose private operations send the
 * request to popgate-keys and wait for its answer, on the caller's
 * thread (as OpenSMTPD's ca.c does; OpenSSL keeps such "foreign" keys
 * on its legacy path, which calls the methods). The calls of all
 * threads share one socket under a lock: a TLS handshake is signed on
 * the event loop, so there is no contention to speak of.
 */
/* RSA_METHOD and EC_KEY_METHOD: deprecated in OpenSSL 3, but the way
   a key's private operation can be taken over without a provider. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/keys.h"
#include "core/tls.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

struct keys_client {
	pthread_mutex_t	 lock;
	int		 sock;		/* -1: no popgate-keys now */
	uint32_t	 next_id;
	bool		 broken;
	struct ipc_msg	*m;		/* the answer, under the lock */
};

/* What a key object names: key IDX of generation GEN, through KC. */
struct proxy_ref {
	struct keys_client	*kc;
	uint32_t		 gen, idx;
};

/* ---- the client ---- */

struct keys_client *
keys_client_new(void)
{
	struct keys_client *kc = xcalloc(1, sizeof(*kc));

	if (pthread_mutex_init(&kc->lock, NULL) != 0)
		PANIC("pthread_mutex_init");
	kc->sock = -1;
	kc->m = xcalloc(1, sizeof(*kc->m));
	return kc;
}

void
keys_client_free(struct keys_client **kcp)
{
	struct keys_client *kc = *kcp;

	if (kc == NULL)
		return;
	*kcp = NULL;
	if (kc->sock != -1)
		(void)close(kc->sock);
	(void)pthread_mutex_destroy(&kc->lock);
	free(kc->m);
	free(kc);
}

void
keys_client_set_sock(struct keys_client *kc, int sock)
{
	(void)pthread_mutex_lock(&kc->lock);
	if (kc->sock != -1)
		(void)close(kc->sock);
	kc->sock = sock;
	kc->broken = false;
	(void)pthread_mutex_unlock(&kc->lock);
}

bool
keys_client_broken(struct keys_client *kc)
{
	bool b;

	(void)pthread_mutex_lock(&kc->lock);
	b = kc->broken || kc->sock == -1;
	(void)pthread_mutex_unlock(&kc->lock);
	return b;
}

bool
keys_client_ended(struct keys_client *kc)
{
	struct pollfd pfd;
	bool ended;

	(void)pthread_mutex_lock(&kc->lock);
	ended = kc->broken || kc->sock == -1;
	pfd.fd = kc->sock;
	pfd.events = POLLIN;
	/* No round trip runs (the lock): what can be read is the answer of
	   one that timed out, or the end. */
	while (!ended && poll(&pfd, 1, 0) == 1) {
		if ((pfd.revents & (POLLHUP | POLLERR)) != 0 ||
		    ipc_recv(kc->sock, kc->m, 0) != 1)
			ended = true;
		else
			ipc_msg_close_fds(kc->m);
	}
	(void)pthread_mutex_unlock(&kc->lock);
	return ended;
}

/* Sends TYPE with O and FDS on SOCK as request ID and waits for the
   answer of the same id into M. 0, or -1 with errno (an answer of a
   call that timed out earlier is skipped). */
static int
round_trip(int sock, uint32_t id, uint32_t type, const struct ipc_out *o,
    const int *fds, unsigned nfds, struct ipc_msg *m)
{
	int64_t deadline = (int64_t)clock_mono_ms() + KEYS_WAIT_MS, left;
	int r;

	if (ipc_send(sock, type, id, o, fds, nfds) == -1)
		return -1;
	for (;;) {
		if ((left = deadline - (int64_t)clock_mono_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = ipc_recv(sock, m, (int)left);
		if (r == 0)
			errno = ECONNRESET;
		if (r != 1)
			return -1;
		if (m->id == id)
			return 0;
		ipc_msg_close_fds(m);
	}
}

/* A round trip of KC; the caller holds the lock. */
static int
call_locked(struct keys_client *kc, uint32_t type, const struct ipc_out *o)
{
	if (kc->sock == -1 || kc->broken) {
		errno = ENOTCONN;
		return -1;
	}
	return round_trip(kc->sock, ++kc->next_id, type, o, NULL, 0, kc->m);
}

/* A round trip that failed: the socket is not used again, and shut down,
   so that the daemon's watcher of it (keys_client_ended) sees the end
   and has popgate-keys restarted by the process that started it. No
   signal from here: the daemon may not be its parent, and a pid it
   did not reap itself may be another process's by now. */
static void
call_failed(struct keys_client *kc, const char *what)
{
	kc->broken = true;
	log_error("popgate-keys: %s: %s", what,
	    errno == EPROTO ? "malformed answer" : strerror(errno));
	(void)shutdown(kc->sock, SHUT_RDWR);
}

int
keys_get_loaded(struct ipc_in *in, struct keys_loaded *out)
{
	uint32_t n, ok;
	const void *p;
	size_t i, len;

	if (ipc_get_u32(in, &n) == -1 || n > KEYS_MAX)
		return -1;
	out->n = n;
	for (i = 0; i < n; i++) {
		if (ipc_get_u32(in, &ok) == -1 || ok > 1)
			return -1;
		out->key[i].ok = ok == 1;
		if (ok == 0) {
			if (ipc_get_text(in, out->key[i].reason,
			    sizeof(out->key[i].reason)) == -1)
				return -1;
			continue;
		}
		if (ipc_get_bytes(in, KEYS_PUB_DIGEST, &p, &len) == -1 ||
		    len != KEYS_PUB_DIGEST)
			return -1;
		memcpy(out->key[i].pub, p, len);
	}
	return 0;
}

void
keys_put_loaded(struct ipc_out *o, const struct keys_loaded *l)
{
	size_t i;

	ipc_put_u32(o, (uint32_t)l->n);
	for (i = 0; i < l->n; i++) {
		ipc_put_u32(o, l->key[i].ok ? 1 : 0);
		if (l->key[i].ok)
			ipc_put_bytes(o, l->key[i].pub, KEYS_PUB_DIGEST);
		else
			ipc_put_text(o, l->key[i].reason);
	}
}

int
keys_decode_loaded(const struct ipc_msg *m, struct keys_loaded *out)
{
	struct ipc_in in;

	ipc_in_init(&in, m);
	if (m->type != KEYS_LOADED || keys_get_loaded(&in, out) == -1)
		return -1;
	return ipc_get_done(&in, 0);
}

int
keys_owner_load(int sock, uint32_t gen, uint32_t keep, const int *fds,
    size_t n, struct keys_loaded *out, char *err, size_t errsz)
{
	struct ipc_msg *m;
	struct ipc_out o;
	int r = -1;

	if (n > KEYS_MAX) {
		(void)str_copy(err, "too many keys", errsz);
		return -1;
	}
	m = xmalloc(sizeof(*m));
	m->nfds = 0;
	ipc_out_init(&o);
	ipc_put_u32(&o, gen);
	ipc_put_u32(&o, keep);
	ipc_put_u32(&o, (uint32_t)n);
	if (round_trip(sock, gen, KEYS_LOAD, &o, fds, (unsigned)n, m) == 0) {
		if (keys_decode_loaded(m, out) == 0 && out->n == n)
			r = 0;
		else
			errno = EPROTO;
		ipc_msg_close_fds(m);
	}
	if (r == -1)
		(void)snprintf(err, errsz, "popgate-keys did not load the "
		    "keys: %s", errno == EPROTO ? "malformed answer" :
		    errno == ECONNRESET ? "it is gone" : strerror(errno));
	ipc_out_free(&o);
	free(m);
	return r;
}

int
keys_decode_signed(const struct ipc_msg *m, unsigned char *sig,
    size_t sigsz, size_t *siglen, char reason[KEYS_REASON_MAX])
{
	struct ipc_in in;
	const void *p;
	uint32_t ok;
	size_t n;

	ipc_in_init(&in, m);
	if (m->type != KEYS_SIGNED || ipc_get_u32(&in, &ok) == -1 || ok > 1)
		return -1;
	if (ok == 0)
		return ipc_get_text(&in, reason, KEYS_REASON_MAX) == 0 &&
		    ipc_get_done(&in, 0) == 0 ? 0 : -1;
	if (ipc_get_bytes(&in, sigsz, &p, &n) == -1 || n == 0 ||
	    ipc_get_done(&in, 0) == -1)
		return -1;
	memcpy(sig, p, n);
	*siglen = n;
	return 1;
}

/* The private operation O (KEYS_RSA or KEYS_ECDSA) of REF into SIG
   (at most SIGSZ bytes): its length, or -1 (the handshake fails). */
static int
sign_remote(const struct proxy_ref *ref, uint32_t type, struct ipc_out *o,
    unsigned char *sig, size_t sigsz)
{
	struct keys_client *kc = ref->kc;
	char reason[KEYS_REASON_MAX];
	size_t n = 0;
	int r = -1, d;

	(void)pthread_mutex_lock(&kc->lock);
	if (call_locked(kc, type, o) == 0) {
		d = keys_decode_signed(kc->m, sig, sigsz, &n, reason);
		ipc_msg_close_fds(kc->m);
		if (d == 1)
			r = (int)n;
		else if (d == 0)
			log_warn("popgate-keys refused to sign gen=%u key=%u: "
			    "%s", (unsigned)ref->gen, (unsigned)ref->idx,
			    reason);
		else {
			errno = EPROTO;
			call_failed(kc, "signing");
		}
	} else if (!kc->broken) {
		call_failed(kc, "signing");
	}
	(void)pthread_mutex_unlock(&kc->lock);
	return r;
}

/* ---- the key objects ---- */

static RSA_METHOD *rsa_meth;
static EC_KEY_METHOD *ec_meth;
static int rsa_idx = -1, ec_idx = -1;
static pthread_once_t meth_once = PTHREAD_ONCE_INIT;
static bool meth_ok;		/* meth_init() made all of them */

static int
rsa_priv_enc(int flen, const unsigned char *from, unsigned char *to,
    RSA *rsa, int padding)
{
	const struct proxy_ref *ref = RSA_get_ex_data(rsa, rsa_idx);
	struct ipc_out o;
	int r;

	if (ref == NULL || flen <= 0)
		return -1;
	ipc_out_init(&o);
	ipc_put_u32(&o, ref->gen);
	ipc_put_u32(&o, ref->idx);
	ipc_put_u32(&o, (uint32_t)padding);
	ipc_put_bytes(&o, from, (size_t)flen);
	r = sign_remote(ref, KEYS_RSA, &o, to, (size_t)RSA_size(rsa));
	ipc_out_free(&o);
	return r;
}

/* RSA key exchange (a decryption) is not forwarded: TLS 1.2's ECDHE
   suites and TLS 1.3 need signatures only. */
static int
rsa_priv_dec(int flen, const unsigned char *from, unsigned char *to,
    RSA *rsa, int padding)
{
	(void)flen;
	(void)from;
	(void)to;
	(void)rsa;
	(void)padding;
	return -1;
}

static int
ec_sign(int type, const unsigned char *dgst, int dlen, unsigned char *sig,
    unsigned int *siglen, const BIGNUM *kinv, const BIGNUM *r, EC_KEY *ec)
{
	const struct proxy_ref *ref = EC_KEY_get_ex_data(ec, ec_idx);
	struct ipc_out o;
	int n;

	(void)type;
	(void)kinv;
	(void)r;
	if (ref == NULL || dlen <= 0)
		return 0;
	ipc_out_init(&o);
	ipc_put_u32(&o, ref->gen);
	ipc_put_u32(&o, ref->idx);
	ipc_put_bytes(&o, dgst, (size_t)dlen);
	n = sign_remote(ref, KEYS_ECDSA, &o, sig, (size_t)ECDSA_size(ec));
	ipc_out_free(&o);
	if (n <= 0)
		return 0;
	*siglen = (unsigned)n;
	return 1;
}

static ECDSA_SIG *
ec_sign_sig(const unsigned char *dgst, int dlen, const BIGNUM *kinv,
    const BIGNUM *r, EC_KEY *ec)
{
	unsigned char der[KEYS_SIG_MAX];
	const unsigned char *p = der;
	unsigned int n = 0;

	if (ECDSA_size(ec) > (int)sizeof(der) ||
	    ec_sign(0, dgst, dlen, der, &n, kinv, r, ec) != 1)
		return NULL;
	return d2i_ECDSA_SIG(NULL, &p, (long)n);
}

static void
ref_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

static void
meth_init(void)
{
	int (*setup)(EC_KEY *, BN_CTX *, BIGNUM **, BIGNUM **) = NULL;

	rsa_idx = RSA_get_ex_new_index(0, NULL, NULL, NULL, ref_free);
	ec_idx = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL, ref_free);
	rsa_meth = RSA_meth_dup(RSA_get_default_method());
	ec_meth = EC_KEY_METHOD_new(EC_KEY_get_default_method());
	if (rsa_meth == NULL || ec_meth == NULL || rsa_idx == -1 ||
	    ec_idx == -1)
		return;
	if (RSA_meth_set1_name(rsa_meth, "popgate-keys") != 1 ||
	    RSA_meth_set_priv_enc(rsa_meth, rsa_priv_enc) != 1 ||
	    RSA_meth_set_priv_dec(rsa_meth, rsa_priv_dec) != 1) {
		RSA_meth_free(rsa_meth);
		rsa_meth = NULL;
	}
	EC_KEY_METHOD_get_sign(ec_meth, NULL, &setup, NULL);
	EC_KEY_METHOD_set_sign(ec_meth, ec_sign, setup, ec_sign_sig);
	meth_ok = rsa_meth != NULL;
}

/* PUB's RSA public key as a key object of REF (taken). */
static EVP_PKEY *
proxy_rsa(EVP_PKEY *pub, struct proxy_ref *ref)
{
	const RSA *pr = EVP_PKEY_get0_RSA(pub);
	const BIGNUM *n = NULL, *e = NULL;
	EVP_PKEY *pk = NULL;
	RSA *rsa;
	BIGNUM *n2, *e2;

	if (pr == NULL || rsa_meth == NULL || (rsa = RSA_new()) == NULL) {
		free(ref);
		return NULL;
	}
	RSA_get0_key(pr, &n, &e, NULL);
	n2 = BN_dup(n);
	e2 = BN_dup(e);
	if (n2 == NULL || e2 == NULL || RSA_set0_key(rsa, n2, e2, NULL) != 1) {
		BN_free(n2);
		BN_free(e2);
		RSA_free(rsa);
		free(ref);
		return NULL;
	}
	if (RSA_set_ex_data(rsa, rsa_idx, ref) != 1) {
		RSA_free(rsa);
		free(ref);
		return NULL;
	}
	/* ref is rsa's now (its ex_data is freed with it). */
	if (RSA_set_method(rsa, rsa_meth) != 1 || (pk = EVP_PKEY_new()) ==
	    NULL || EVP_PKEY_assign_RSA(pk, rsa) != 1) {
		EVP_PKEY_free(pk);
		RSA_free(rsa);
		return NULL;
	}
	return pk;
}

/* PUB's EC public key as a key object of REF (taken). */
static EVP_PKEY *
proxy_ec(EVP_PKEY *pub, struct proxy_ref *ref)
{
	const EC_KEY *pe = EVP_PKEY_get0_EC_KEY(pub);
	EVP_PKEY *pk = NULL;
	EC_KEY *ec;

	if (pe == NULL || (ec = EC_KEY_dup(pe)) == NULL) {
		free(ref);
		return NULL;
	}
	if (EC_KEY_set_ex_data(ec, ec_idx, ref) != 1) {
		EC_KEY_free(ec);
		free(ref);
		return NULL;
	}
	if (EC_KEY_set_method(ec, ec_meth) != 1 || (pk = EVP_PKEY_new()) ==
	    NULL || EVP_PKEY_assign_EC_KEY(pk, ec) != 1) {
		EVP_PKEY_free(pk);
		EC_KEY_free(ec);
		return NULL;
	}
	return pk;
}

EVP_PKEY *
keys_proxy_new(struct keys_client *kc, EVP_PKEY *pub, uint32_t gen,
    uint32_t idx, char *err, size_t errsz)
{
	struct proxy_ref *ref;
	EVP_PKEY *pk = NULL;
	int id = EVP_PKEY_get_base_id(pub);

	if (id != EVP_PKEY_RSA && id != EVP_PKEY_EC) {
		(void)snprintf(err, errsz, "%s keys are not supported "
		    "(popgate-keys signs with RSA and ECDSA keys only)",
		    OBJ_nid2sn(id));
		return NULL;
	}
	(void)pthread_once(&meth_once, meth_init);
	if (!meth_ok) {
		(void)snprintf(err, errsz, "OpenSSL could not make the key "
		    "methods that forward to popgate-keys");
		return NULL;
	}
	ref = xcalloc(1, sizeof(*ref));
	ref->kc = kc;
	ref->gen = gen;
	ref->idx = idx;
	pk = id == EVP_PKEY_RSA ? proxy_rsa(pub, ref) : proxy_ec(pub, ref);
	if (pk == NULL)
		tls_openssl_error("key object", err, errsz);
	return pk;
}

int
keys_pub_digest(EVP_PKEY *pub, unsigned char out[KEYS_PUB_DIGEST])
{
	unsigned char *der = NULL;
	unsigned int n = KEYS_PUB_DIGEST;
	int len = i2d_PUBKEY(pub, &der);
	int r;

	if (len <= 0)
		return -1;
	r = EVP_Digest(der, (size_t)len, out, &n, EVP_sha256(), NULL) == 1 ?
	    0 : -1;
	OPENSSL_free(der);
	return r;
}
