/*
 * keys_server.c - popgate-keys (see keys.h): the TLS private keys of the
 * daemon's last two generations, and the private operations it asks
 * for. One request at a time, answered before the next is read; nothing
 * here parses anything of the network. Its input is two sockets, every
 * message checked whole (util/ipc.h): its owner's (popgate-priv, or the
 * daemon itself when it keeps its user), which loads keys and nothing
 * else, and the daemon's, which asks for signatures and nothing else.
 */
/* RSA_private_encrypt is the raw operation an RSA_METHOD forwards (the
   daemon's OpenSSL pads): deprecated in OpenSSL 3, still the one. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "core/keys.h"
#include "core/tls.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

struct keyset {
	uint32_t	 gen;
	bool		 used;
	EVP_PKEY	*key[KEYS_MAX];		/* NULL: did not load */
	size_t		 n;
};

struct keys_srv {
	struct keyset	 set[2];
};

static void
keyset_clear(struct keyset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		EVP_PKEY_free(s->key[i]);
	memset(s, 0, sizeof(*s));
}

/* ---- decoding ---- */

static int
decode_load(struct ipc_in *in, struct keys_req *r)
{
	if (ipc_get_u32(in, &r->gen) == -1 ||
	    ipc_get_u32(in, &r->keep) == -1 ||
	    ipc_get_u32(in, &r->n) == -1 || r->n > KEYS_MAX)
		return -1;
	return ipc_get_done(in, r->n);
}

int
keys_decode_req(const struct ipc_msg *m, struct keys_req *r)
{
	struct ipc_in in;

	memset(r, 0, sizeof(*r));
	r->type = m->type;
	ipc_in_init(&in, m);
	switch (m->type) {
	case KEYS_LOAD:
		return decode_load(&in, r);
	case KEYS_RSA:
		if (ipc_get_u32(&in, &r->gen) == -1 ||
		    ipc_get_u32(&in, &r->idx) == -1 ||
		    ipc_get_u32(&in, &r->padding) == -1 ||
		    (r->padding != RSA_PKCS1_PADDING &&
		    r->padding != RSA_NO_PADDING))
			return -1;
		break;
	case KEYS_ECDSA:
		if (ipc_get_u32(&in, &r->gen) == -1 ||
		    ipc_get_u32(&in, &r->idx) == -1)
			return -1;
		break;
	default:
		return -1;
	}
	if (ipc_get_bytes(&in, KEYS_SIG_MAX, &r->in, &r->inlen) == -1 ||
	    r->inlen == 0)
		return -1;
	return ipc_get_done(&in, 0);
}

/* ---- loading ---- */

/* The private key in FD; NULL with the reason. RSA and EC only: the
   daemon cannot forward the others. */
static EVP_PKEY *
load_key(int fd, char reason[TLS_ERROR_MAX])
{
	BIO *bio = tls_read_file("key", fd, reason);
	EVP_PKEY *k;

	if (bio == NULL)
		return NULL;
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (k == NULL) {
		tls_openssl_error("key", reason, TLS_ERROR_MAX);
		return NULL;
	}
	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA &&
	    EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) {
		(void)str_copy(reason, "not an RSA or ECDSA key (popgate-keys "
		    "signs with those only)", TLS_ERROR_MAX);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

/* Answers KEYS_LOAD of R with the descriptors of M. */
static int
serve_load(struct keys_srv *s, int sock, const struct keys_req *r,
    const struct ipc_msg *m)
{
	struct keyset *slot = NULL, fresh;
	char reason[TLS_ERROR_MAX];
	unsigned char dig[KEYS_PUB_DIGEST];
	struct ipc_out o;
	size_t i;
	int ret;

	memset(&fresh, 0, sizeof(fresh));
	fresh.gen = r->gen;
	fresh.used = true;
	ipc_out_init(&o);
	ipc_put_u32(&o, r->n);
	for (i = 0; i < r->n; i++) {
		fresh.key[i] = load_key(m->fds[i], reason);
		fresh.n++;
		if (fresh.key[i] != NULL &&
		    keys_pub_digest(fresh.key[i], dig) == 0) {
			ipc_put_u32(&o, 1);
			ipc_put_bytes(&o, dig, sizeof(dig));
			continue;
		}
		if (fresh.key[i] != NULL)
			(void)str_copy(reason, "cannot encode the public key",
			    sizeof(reason));
		EVP_PKEY_free(fresh.key[i]);
		fresh.key[i] = NULL;
		ipc_put_u32(&o, 0);
		ipc_put_text(&o, reason);
	}
	/* The new generation replaces one the daemon no longer uses (nor
	   one of the same number: a restarted daemon's reload). */
	for (i = 0; i < nitems(s->set); i++)
		if (s->set[i].used && s->set[i].gen == r->gen)
			slot = &s->set[i];
	for (i = 0; slot == NULL && i < nitems(s->set); i++)
		if (!s->set[i].used || s->set[i].gen != r->keep)
			slot = &s->set[i];
	if (slot == NULL)
		slot = &s->set[0];	/* keep == gen of both: impossible */
	keyset_clear(slot);
	*slot = fresh;
	ret = ipc_send(sock, KEYS_LOADED, m->id, &o, NULL, 0);
	ipc_out_free(&o);
	return ret;
}

/* ---- signing ---- */

static EVP_PKEY *
find_key(struct keys_srv *s, uint32_t gen, uint32_t idx)
{
	size_t i;

	for (i = 0; i < nitems(s->set); i++)
		if (s->set[i].used && s->set[i].gen == gen &&
		    idx < s->set[i].n)
			return s->set[i].key[idx];
	return NULL;
}

/* ---- what a raw RSA block may be ----
   A private operation without padding (m^d mod n of any m) is also a
   decryption: popgate-keys performs it only on a block that is an
   EMSA-PSS encoding (RFC 8017 9.1) as TLS makes one, with SHA-256,
   SHA-384 or SHA-512, MGF1 of the same hash and a salt of the hash's
   length. Checking the structure needs no message hash. */

/* MGF1 (RFC 8017 B.2.1) of SEED with MD, XORed into OUT (LEN octets). */
static bool
mgf1_xor(unsigned char *out, size_t len, const unsigned char *seed,
    size_t seedlen, const EVP_MD *md)
{
	unsigned char in[EVP_MAX_MD_SIZE + 4], h[EVP_MAX_MD_SIZE];
	unsigned int hlen;
	uint32_t c;
	size_t i, done = 0;

	memcpy(in, seed, seedlen);
	for (c = 0; done < len; c++) {
		in[seedlen] = (unsigned char)(c >> 24);
		in[seedlen + 1] = (unsigned char)(c >> 16);
		in[seedlen + 2] = (unsigned char)(c >> 8);
		in[seedlen + 3] = (unsigned char)c;
		if (EVP_Digest(in, seedlen + 4, h, &hlen, md, NULL) != 1)
			return false;
		for (i = 0; i < hlen && done < len; i++)
			out[done++] ^= h[i];
	}
	return true;
}

/* Whether EM (EMLEN octets, EMBITS significant) is a PSS encoding with
   MD and a salt of its length. */
static bool
pss_with(const unsigned char *em, size_t emlen, unsigned embits,
    const EVP_MD *md)
{
	unsigned char db[KEYS_SIG_MAX];
	size_t hlen = (size_t)EVP_MD_get_size(md), dblen, i;
	bool ok;

	if (emlen < 2 * hlen + 2 || emlen - hlen - 1 > sizeof(db))
		return false;
	dblen = emlen - hlen - 1;
	memcpy(db, em, dblen);
	if (!mgf1_xor(db, dblen, em + dblen, hlen, md))
		return false;
	db[0] &= (unsigned char)(0xff >> (8 * emlen - embits));
	/* DB = PS (zeros) || 0x01 || salt (hlen octets) */
	for (i = 0; i < dblen - hlen - 1 && db[i] == 0; i++)
		;
	ok = i == dblen - hlen - 1 && db[i] == 0x01;
	OPENSSL_cleanse(db, sizeof(db));
	return ok;
}

/* Whether BLOCK (RSA_size(RSA) octets) is what RSA-PSS signing with RSA
   would pass to the raw private operation. */
static bool
pss_block_ok(const RSA *rsa, const unsigned char *block, size_t n)
{
	unsigned embits = (unsigned)RSA_bits(rsa) - 1;
	size_t emlen = (embits + 7) / 8;
	const unsigned char *em = block + (n - emlen);

	if (n < emlen || (n > emlen && block[0] != 0) ||
	    (embits % 8 != 0 && (em[0] >> (embits % 8)) != 0) ||
	    em[emlen - 1] != 0xbc)
		return false;
	return pss_with(em, emlen, embits, EVP_sha256()) ||
	    pss_with(em, emlen, embits, EVP_sha384()) ||
	    pss_with(em, emlen, embits, EVP_sha512());
}

/* The signature of R's input with K into SIG; its length, or -1. */
static int
sign(EVP_PKEY *k, const struct keys_req *r, unsigned char *sig,
    size_t sigsz)
{
	EVP_PKEY_CTX *ctx;
	size_t n = sigsz;
	int ret = -1;

	if (r->type == KEYS_RSA) {
		RSA *rsa = (RSA *)EVP_PKEY_get0_RSA(k);

		if (rsa == NULL || (size_t)RSA_size(rsa) > sigsz ||
		    (r->padding == RSA_NO_PADDING &&
		    (r->inlen != (size_t)RSA_size(rsa) ||
		    !pss_block_ok(rsa, r->in, r->inlen))))
			return -1;
		return RSA_private_encrypt((int)r->inlen, r->in, sig, rsa,
		    (int)r->padding);
	}
	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
	    (ctx = EVP_PKEY_CTX_new(k, NULL)) == NULL)
		return -1;
	if (EVP_PKEY_sign_init(ctx) == 1 &&
	    EVP_PKEY_sign(ctx, sig, &n, r->in, r->inlen) == 1)
		ret = (int)n;
	EVP_PKEY_CTX_free(ctx);
	return ret;
}

static int
serve_sign(struct keys_srv *s, int sock, const struct keys_req *r,
    uint32_t id)
{
	unsigned char sig[KEYS_SIG_MAX];
	EVP_PKEY *k = find_key(s, r->gen, r->idx);
	struct ipc_out o;
	int n = -1, ret;

	if (k != NULL && (r->type == KEYS_RSA) ==
	    (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA))
		n = sign(k, r, sig, sizeof(sig));
	ipc_out_init(&o);
	if (n > 0) {
		ipc_put_u32(&o, 1);
		ipc_put_bytes(&o, sig, (size_t)n);
	} else {
		char reason[TLS_ERROR_MAX];

		if (k == NULL)
			(void)str_copy(reason, "no such key", sizeof(reason));
		else
			tls_openssl_error("sign", reason, sizeof(reason));
		ipc_put_u32(&o, 0);
		ipc_put_text(&o, reason);
	}
	OPENSSL_cleanse(sig, sizeof(sig));
	ret = ipc_send(sock, KEYS_SIGNED, id, &o, NULL, 0);
	ipc_out_free(&o);
	return ret;
}

/* One message of SOCK (the owner's when OWNER) into M and its answer:
   1 served, 0 the end of the connection, -1 a protocol error (logged). */
static int
serve_one(struct keys_srv *s, int sock, bool owner, struct ipc_msg *m)
{
	const char *peer = owner ? "its owner" : "the daemon";
	struct keys_req r;
	int got;

	if ((got = ipc_recv(sock, m, -1)) != 1) {
		if (got == -1)
			log_error("popgate-keys: from %s: %s", peer,
			    strerror(errno));
		return got;
	}
	/* The owner loads, the daemon signs: a type its peer may not
	   send is a protocol error. */
	if (keys_decode_req(m, &r) == -1 || (r.type == KEYS_LOAD) != owner) {
		log_error("popgate-keys: malformed request from %s type=%u "
		    "len=%zu fds=%u", peer, (unsigned)m->type, m->len,
		    m->nfds);
		ipc_msg_close_fds(m);
		return -1;
	}
	got = owner ? serve_load(s, sock, &r, m) :
	    serve_sign(s, sock, &r, m->id);
	ipc_msg_close_fds(m);
	if (got == -1) {
		log_error("popgate-keys: answering %s: %s", peer,
		    strerror(errno));
		return -1;
	}
	return 1;
}

int
keys_serve(int owner, int daemon)
{
	struct keys_srv *s = xcalloc(1, sizeof(*s));
	struct ipc_msg *m = xmalloc(sizeof(*m));
	struct pollfd pfd[2];
	int ret = -1, got = 1;
	size_t i;

	pfd[0].fd = owner;
	pfd[1].fd = daemon;
	while (got == 1) {
		pfd[0].events = pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_error("popgate-keys: poll: %s", strerror(errno));
			break;
		}
		/* The owner's first: a generation loaded before the
		   daemon's requests that name it. */
		if (pfd[0].revents != 0)
			got = serve_one(s, owner, true, m);
		else if (pfd[1].revents != 0)
			got = serve_one(s, daemon, false, m);
		if (got == 0)
			ret = 0;
	}
	for (i = 0; i < nitems(s->set); i++)
		keyset_clear(&s->set[i]);
	free(s);
	free(m);
	return ret;
}
