/*
 * dkim.c - DKIM signing with OpenSSL (see dkim.h).
 *
 * Written here rather than with libopendkim: signing is the small part
 * of DKIM (two canonicalizations, a hash, a signature), libopendkim's
 * last release is a 2018 beta with its own resolver and global state,
 * and this code is tested against an independent implementation
 * (python3-dkim verifies what it signs, both algorithms).
 *
 * The body is canonicalized as it streams in (relaxed, RFC 6376 3.4.4):
 * runs of blanks become one space, blanks at line ends go, empty lines
 * are held back until a line with content follows (so those at the end
 * are never hashed), and line ends become CRLF. The header section is
 * kept whole for the fields to sign.
 */
#include <ctype.h>
#include <pthread.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "core/dkim.h"
#include "core/tls.h"
#include "util/base64.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define RSA_BITS	2048
#define RSA_MIN_BITS	1024
#define FOLD_AT		72	/* b= characters per folded line */

/* The fields signed, in the order of h= (RFC 6376 5.4.1's list, less
   the ones receivers change). */
static const char *const signed_fields[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "message-id",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding", "list-id", "list-unsubscribe",
	"list-unsubscribe-post",
};

struct dkim_signer {
	struct buf	 hdr;		/* the header section, as fed */
	bool		 in_body;
	bool		 line_start;	/* header: at the start of a line */
	bool		 hdr_cr;	/* a CR held there */
	bool		 hdr_big;
	struct dkim_body *body;		/* relaxed, being hashed */
	bool		 done;
	char		 bh64[64];
};

const char *
dkim_alg_name(enum dkim_alg a)
{
	return a == DKIM_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256";
}

int
dkim_alg_parse(const char *s)
{
	if (strcmp(s, "rsa-sha256") == 0)
		return DKIM_RSA_SHA256;
	if (strcmp(s, "ed25519-sha256") == 0)
		return DKIM_ED25519_SHA256;
	return -1;
}

static void
ssl_err(const char *what, char err[DKIM_ERROR_MAX])
{
	tls_openssl_error(what, err, DKIM_ERROR_MAX);
}

/* ---- keys ---- */

static char *
b64(const unsigned char *p, size_t n)
{
	struct buf b;
	char *s;

	buf_init(&b, BUF_UNLIMITED);
	if (base64_encode(p, n, &b) == -1)
		PANIC("base64 of an unlimited buffer");
	s = xstrdup(buf_cstr(&b));
	buf_free(&b);
	return s;
}

/* The p= value of KEY's public half. */
static char *
public_value(EVP_PKEY *key, enum dkim_alg alg)
{
	unsigned char raw[64], *der = NULL;
	size_t rawlen = sizeof(raw);
	int n;
	char *s;

	if (alg == DKIM_ED25519_SHA256) {
		if (EVP_PKEY_get_raw_public_key(key, raw, &rawlen) != 1)
			return NULL;
		return b64(raw, rawlen);
	}
	if ((n = i2d_PUBKEY(key, &der)) <= 0)
		return NULL;
	s = b64(der, (size_t)n);
	OPENSSL_free(der);
	return s;
}

int
dkim_keygen(enum dkim_alg alg, char **pem_r, char **pub_r,
    char err[DKIM_ERROR_MAX])
{
	EVP_PKEY *key;
	BIO *bio = NULL;
	char *data;
	long n;

	*pem_r = *pub_r = NULL;
	key = alg == DKIM_RSA_SHA256 ? EVP_RSA_gen(RSA_BITS) :
	    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (key == NULL) {
		ssl_err("key generation", err);
		return -1;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL,
	    NULL) != 1 || (n = BIO_get_mem_data(bio, &data)) <= 0 ||
	    (*pub_r = public_value(key, alg)) == NULL) {
		ssl_err("key encoding", err);
		BIO_free(bio);
		EVP_PKEY_free(key);
		return -1;
	}
	*pem_r = xmalloc((size_t)n + 1);
	memcpy(*pem_r, data, (size_t)n);
	(*pem_r)[n] = '\0';
	OPENSSL_cleanse(data, (size_t)n);
	BIO_free(bio);
	EVP_PKEY_free(key);
	return 0;
}

void
dkim_record(enum dkim_alg alg, const char *pub, struct buf *out)
{
	(void)buf_printf(out, "v=DKIM1; k=%s; p=%s",
	    alg == DKIM_RSA_SHA256 ? "rsa" : "ed25519", pub);
}

static EVP_PKEY *
private_load(enum dkim_alg alg, const char *pem, char err[DKIM_ERROR_MAX])
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL,
	    NULL, NULL) : NULL;

	BIO_free(bio);
	if (key == NULL) {
		ssl_err("private key", err);
		return NULL;
	}
	if (alg == DKIM_RSA_SHA256 ? EVP_PKEY_id(key) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(key) < RSA_MIN_BITS :
	    EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
		(void)snprintf(err, DKIM_ERROR_MAX, "private key: not an %s "
		    "key", alg == DKIM_RSA_SHA256 ? "RSA (>= 1024 bits)" :
		    "Ed25519");
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

/* ---- canonicalization ---- */

static bool
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

int
dkim_canon_header(const char *f, size_t n, struct buf *out)
{
	const char *colon = memchr(f, ':', n), *p, *end = f + n;
	size_t nlen;
	bool wsp = false, any = false;

	if (colon == NULL)
		return -1;
	for (nlen = (size_t)(colon - f); nlen > 0 && (is_wsp(f[nlen - 1]) ||
	    f[nlen - 1] == '\r' || f[nlen - 1] == '\n'); nlen--)
		;
	/* A name is one word on the field's first line. */
	if (nlen == 0 || memchr(f, '\n', nlen) != NULL ||
	    memchr(f, '\r', nlen) != NULL)
		return -1;
	for (p = f; p < f + nlen; p++)
		(void)buf_putc(out, (char)tolower((unsigned char)*p));
	(void)buf_putc(out, ':');
	for (p = colon + 1; p < end; p++) {
		if (*p == '\r' || *p == '\n')
			continue;	/* unfolding */
		if (is_wsp(*p)) {
			wsp = true;
			continue;
		}
		if (wsp && any)
			(void)buf_putc(out, ' ');
		wsp = false;
		any = true;
		(void)buf_putc(out, *p);
	}
	(void)buf_append(out, "\r\n", 2);
	return 0;
}

static void
header_put(struct dkim_signer *s, char c)
{
	if (!s->hdr_big && buf_putc(&s->hdr, c) == -1)
		s->hdr_big = true;
}

/* Header octets up to the empty line (LF or CRLF, whatever the pieces);
   returns how many were header. */
static size_t
header_feed(struct dkim_signer *s, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s->line_start && p[i] == '\n') {
			s->in_body = true;
			return i + 1;
		}
		if (s->line_start && p[i] == '\r' && !s->hdr_cr) {
			s->hdr_cr = true;	/* CRLF, or a CR of the line */
			continue;
		}
		if (s->hdr_cr) {
			s->hdr_cr = false;
			header_put(s, '\r');
		}
		s->line_start = p[i] == '\n';
		header_put(s, p[i]);
	}
	return n;
}

struct dkim_signer *
dkim_signer_new(void)
{
	struct dkim_signer *s = xcalloc(1, sizeof(*s));

	buf_init(&s->hdr, DKIM_HEADER_MAX);
	s->line_start = true;
	s->body = dkim_body_new(true, UINT64_MAX);
	return s;
}

void
dkim_signer_free(struct dkim_signer **sp)
{
	struct dkim_signer *s = *sp;

	if (s == NULL)
		return;
	*sp = NULL;
	buf_free(&s->hdr);
	dkim_body_free(&s->body);
	free(s);
}

void
dkim_signer_feed(struct dkim_signer *s, const void *data, size_t n)
{
	const char *p = data;
	size_t h = 0;

	if (s->done)
		return;
	if (!s->in_body)
		h = header_feed(s, p, n);
	if (s->in_body && h < n)
		dkim_body_feed(s->body, p + h, n - h);
}

/* The body hash, once: the body ends here. */
static void
body_finish(struct dkim_signer *s)
{
	unsigned char md[DKIM_HASH_LEN];
	struct buf b;

	if (s->done)
		return;
	dkim_body_final(s->body, md, NULL);
	buf_init(&b, sizeof(s->bh64));
	if (base64_encode(md, sizeof(md), &b) == -1)
		PANIC("base64 of a SHA-256 hash");
	(void)str_copy(s->bh64, buf_cstr(&b), sizeof(s->bh64));
	buf_free(&b);
	s->done = true;
}

/* ---- the header fields and the signature ---- */

size_t
dkim_fields_split(const char *hdr, size_t len, struct dkim_field **v_r)
{
	const char *p, *end, *nl;
	struct dkim_field *v = NULL;
	size_t n = 0;

	*v_r = NULL;
	if (len == 0)
		return 0;	/* and no data pointer */
	p = hdr;
	end = p + len;
	while (p < end) {
		const char *start = p;

		do {
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl != NULL ? nl + 1 : end;
		} while (p < end && is_wsp(*p));
		if (is_wsp(*start))
			continue;	/* a stray continuation: no field */
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n].p = start;
		v[n++].n = (size_t)(p - start);
	}
	*v_r = v;
	return n;
}

bool
dkim_field_is(const struct dkim_field *f, const char *name)
{
	size_t len = strlen(name);

	return f->n > len && strncasecmp(f->p, name, len) == 0 &&
	    (f->p[len] == ':' || is_wsp(f->p[len]));
}

/* h= into H and the canonical signed fields into DATA. */
static void
select_fields(const struct dkim_field *v, size_t nv, struct buf *h,
    struct buf *data)
{
	size_t i, k, count, taken;

	for (i = 0; i < nitems(signed_fields); i++) {
		const char *name = signed_fields[i];

		for (count = 0, k = 0; k < nv; k++)
			count += dkim_field_is(&v[k], name);
		/* From: once more than it occurs: a null instance. */
		for (taken = 0; taken < count + (i == 0); taken++)
			(void)buf_printf(h, "%s%s", h->len > 0 ? ":" : "",
			    name);
		/* The instances from the bottom up (RFC 6376 5.4.2). */
		for (k = nv, taken = 0; k > 0 && taken < count; k--) {
			if (!dkim_field_is(&v[k - 1], name))
				continue;
			(void)dkim_canon_header(v[k - 1].p, v[k - 1].n, data);
			taken++;
		}
	}
}

/* H folded after every sixth colon (FWS may surround them). */
static void
fold_list(const char *h, struct buf *out)
{
	unsigned colons = 0;

	for (; *h != '\0'; h++) {
		(void)buf_putc(out, *h);
		if (*h == ':' && ++colons % 6 == 0)
			(void)buf_append(out, "\n\t", 2);
	}
}

int
dkim_sign_digest(enum dkim_alg alg, EVP_PKEY *key,
    const unsigned char md[DKIM_HASH_LEN], struct buf *sig,
    char err[DKIM_ERROR_MAX])
{
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *out = NULL;
	size_t outlen = 0;
	int r = -1;

	if (alg == DKIM_RSA_SHA256) {
		/* PKCS#1 v1.5 of the digest: what EVP_DigestSign with
		   SHA-256 gives for the data itself. */
		if ((pctx = EVP_PKEY_CTX_new(key, NULL)) != NULL &&
		    EVP_PKEY_sign_init(pctx) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) == 1 &&
		    EVP_PKEY_sign(pctx, NULL, &outlen, md,
		    DKIM_HASH_LEN) == 1 && outlen <= DKIM_SIG_MAX) {
			out = xmalloc(outlen);
			if (EVP_PKEY_sign(pctx, out, &outlen, md,
			    DKIM_HASH_LEN) == 1)
				r = 0;
		}
	} else if ((mctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestSignInit(mctx, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestSign(mctx, NULL, &outlen, md, DKIM_HASH_LEN) == 1 &&
	    outlen <= DKIM_SIG_MAX) {
		/* PureEdDSA over the hash (RFC 8463). */
		out = xmalloc(outlen);
		if (EVP_DigestSign(mctx, out, &outlen, md,
		    DKIM_HASH_LEN) == 1)
			r = 0;
	}
	if (r == 0 && buf_append(sig, out, outlen) == -1)
		r = -1;
	if (r == -1)
		ssl_err("signing", err);
	free(out);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	return r;
}

/* K's signature of DATA, base64, into SIG. */
static int
sign_one(const struct dkim_key *k, const struct buf *data,
    struct buf *sig, char err[DKIM_ERROR_MAX])
{
	unsigned char md[DKIM_HASH_LEN];
	struct buf raw;
	int r;

	SHA256((const unsigned char *)data->data, data->len, md);
	buf_init(&raw, DKIM_SIG_MAX);
	r = k->sign != NULL ? k->sign(k, md, &raw, err, k->arg) :
	    dkim_sign_digest(k->alg, k->pkey, md, &raw, err);
	if (r == 0 && (raw.len == 0 ||
	    base64_encode(raw.data, raw.len, sig) == -1)) {
		(void)snprintf(err, DKIM_ERROR_MAX, "signing: no signature");
		r = -1;
	}
	buf_free(&raw);
	return r;
}

/* One DKIM-Signature field for K onto OUT. */
static int
sign_key(struct dkim_signer *s, const struct dkim_key *k, const char *hlist,
    const struct buf *signed_data, time_t t, struct buf *out,
    char err[DKIM_ERROR_MAX])
{
	struct buf field, data, sig;
	size_t i, start = out->len;
	int r;

	buf_init(&field, BUF_UNLIMITED);
	buf_init(&data, BUF_UNLIMITED);
	buf_init(&sig, BUF_UNLIMITED);
	(void)buf_printf(&field, "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed;"
	    " d=%s; s=%s;\n\tt=%lld; h=", dkim_alg_name(k->alg), k->domain,
	    k->selector, (long long)t);
	fold_list(hlist, &field);
	(void)buf_printf(&field, ";\n\tbh=%s;\n\tb=", s->bh64);
	(void)buf_append(&data, signed_data->data, signed_data->len);
	(void)dkim_canon_header(field.data, field.len, &data);
	data.len -= 2;		/* the signature's own field: no CRLF */
	r = sign_one(k, &data, &sig, err);
	if (r == 0) {
		(void)buf_append(out, field.data, field.len);
		for (i = 0; i < sig.len; i += FOLD_AT) {
			if (i > 0)
				(void)buf_append(out, "\n\t", 2);
			(void)buf_append(out, sig.data + i,
			    sig.len - i < FOLD_AT ? sig.len - i : FOLD_AT);
		}
		(void)buf_putc(out, '\n');
	} else
		out->len = start;
	buf_free(&field);
	buf_free(&data);
	buf_free(&sig);
	return r;
}

int
dkim_sign(struct dkim_signer *s, const struct dkim_key *keys, size_t nkeys,
    time_t t, struct buf *out, char err[DKIM_ERROR_MAX])
{
	struct dkim_field *v;
	struct buf h, data;
	size_t nv, i;
	int r = 0;

	if (s->hdr_big) {
		(void)snprintf(err, DKIM_ERROR_MAX, "header section larger "
		    "than %d octets", DKIM_HEADER_MAX);
		return -1;
	}
	body_finish(s);
	nv = dkim_fields_split(s->hdr.data, s->hdr.len, &v);
	buf_init(&h, BUF_UNLIMITED);
	buf_init(&data, BUF_UNLIMITED);
	select_fields(v, nv, &h, &data);
	for (i = 0; i < nkeys && r == 0; i++)
		r = sign_key(s, &keys[i], buf_cstr(&h), &data, t, out, err);
	buf_free(&h);
	buf_free(&data);
	free(v);
	return r;
}

/* ---- verification ---- */

static EVP_PKEY *
public_load(enum dkim_alg alg, const char *p64, size_t len,
    char err[DKIM_ERROR_MAX])
{
	struct buf raw;
	const unsigned char *d;
	EVP_PKEY *key = NULL;

	buf_init(&raw, BUF_UNLIMITED);
	if (base64_decode(p64, len, &raw) == -1 || raw.len == 0) {
		(void)snprintf(err, DKIM_ERROR_MAX, "key record: p= is not "
		    "base64");
		buf_free(&raw);
		return NULL;
	}
	d = (const unsigned char *)raw.data;
	if (alg == DKIM_ED25519_SHA256) {
		if (raw.len == 32)
			key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519,
			    NULL, d, raw.len);
	} else {
		/* SubjectPublicKeyInfo (RFC 6376 3.6.1), or the bare
		   RSAPublicKey some publish. */
		key = d2i_PUBKEY(NULL, &d, (long)raw.len);
		if (key == NULL) {
			d = (const unsigned char *)raw.data;
			key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &d,
			    (long)raw.len);
		}
	}
	buf_free(&raw);
	if (key == NULL) {
		(void)snprintf(err, DKIM_ERROR_MAX, "key record: p= is no %s "
		    "public key", alg == DKIM_RSA_SHA256 ? "RSA" : "Ed25519");
		return NULL;
	}
	if (alg == DKIM_RSA_SHA256 && (EVP_PKEY_id(key) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(key) < RSA_MIN_BITS)) {
		(void)snprintf(err, DKIM_ERROR_MAX, "key record: RSA key of "
		    "%d bits (RFC 8301: at least %d)", EVP_PKEY_get_bits(key),
		    RSA_MIN_BITS);
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

int
dkim_verify_data(enum dkim_alg alg, EVP_PKEY *key, const void *data,
    size_t len, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[SHA256_DIGEST_LENGTH];
	const unsigned char *in = data;
	int r = -1;

	if (alg == DKIM_ED25519_SHA256) {
		SHA256(in, len, md);	/* RFC 8463: over the hash */
		in = md;
		len = sizeof(md);
	}
	if (ctx != NULL && EVP_DigestVerifyInit(ctx, NULL,
	    alg == DKIM_RSA_SHA256 ? EVP_sha256() : NULL, NULL, key) == 1)
		r = EVP_DigestVerify(ctx, sig, siglen, in, len) == 1 ? 0 : -1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/* ---- the keys loaded ---- */

/*
 * Loading a key goes through OpenSSL 3's decoder framework (about 1.4
 * million instructions for an RSA public key, 9.5 for both private keys
 * of a domain), and a fresh RSA key sets up its blinding at its first
 * signature: most of what signing or checking a message cost when done
 * for every message. The last KEY_CACHE keys loaded are kept, by kind,
 * algorithm and the exact text they were loaded from (a rotated key is
 * new text, so a miss; a hit is what loading would give), and handed
 * out with a reference of their own (EVP_PKEY counts them; OpenSSL
 * signs and verifies with one key on several threads). The lock: the
 * delivery workers sign, the loop verifies.
 */
#define KEY_CACHE	128

struct key_slot {
	bool		 private;
	enum dkim_alg	 alg;
	char		*text;
	size_t		 len;
	EVP_PKEY	*key;
	uint64_t	 used;
};

static struct key_slot	 key_cache[KEY_CACHE];
static uint64_t		 key_clock;
static pthread_mutex_t	 key_lock = PTHREAD_MUTEX_INITIALIZER;

/* The slot holding the key of TEXT, or NULL; under the lock. */
static struct key_slot *
key_find(bool private, enum dkim_alg alg, const char *text, size_t len)
{
	struct key_slot *k;
	size_t i;

	for (i = 0; i < KEY_CACHE; i++) {
		k = &key_cache[i];
		if (k->key != NULL && k->private == private &&
		    k->alg == alg && k->len == len &&
		    memcmp(k->text, text, len) == 0)
			return k;
	}
	return NULL;
}

/* KEY (a reference of the caller's) kept for TEXT in the least recently
   used slot, unless another thread kept it meanwhile; under the lock. */
static void
key_keep(bool private, enum dkim_alg alg, const char *text, size_t len,
    EVP_PKEY *key)
{
	struct key_slot *old = &key_cache[0];
	size_t i;

	if (key_find(private, alg, text, len) != NULL ||
	    EVP_PKEY_up_ref(key) != 1)
		return;
	for (i = 1; i < KEY_CACHE; i++)
		if (key_cache[i].used < old->used)
			old = &key_cache[i];
	EVP_PKEY_free(old->key);
	free(old->text);
	old->private = private;
	old->alg = alg;
	old->text = xmalloc(len > 0 ? len : 1);
	memcpy(old->text, text, len);
	old->len = len;
	old->key = key;
	old->used = ++key_clock;
}

static EVP_PKEY *
key_cached(bool private, enum dkim_alg alg, const char *text, size_t len,
    char err[DKIM_ERROR_MAX])
{
	struct key_slot *k;
	EVP_PKEY *key = NULL;

	(void)pthread_mutex_lock(&key_lock);
	if ((k = key_find(private, alg, text, len)) != NULL) {
		k->used = ++key_clock;
		if (EVP_PKEY_up_ref(k->key) == 1)
			key = k->key;
	}
	(void)pthread_mutex_unlock(&key_lock);
	if (key != NULL)
		return key;
	key = private ? private_load(alg, text, err) :
	    public_load(alg, text, len, err);
	if (key == NULL)
		return NULL;
	(void)pthread_mutex_lock(&key_lock);
	key_keep(private, alg, text, len, key);
	(void)pthread_mutex_unlock(&key_lock);
	return key;
}

EVP_PKEY *
dkim_key_load(enum dkim_alg alg, const char *pem, char err[DKIM_ERROR_MAX])
{
	return key_cached(true, alg, pem, strlen(pem), err);
}

EVP_PKEY *
dkim_pubkey_load(enum dkim_alg alg, const char *p64, size_t len,
    char err[DKIM_ERROR_MAX])
{
	return key_cached(false, alg, p64, len, err);
}
