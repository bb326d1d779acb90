/*
 * dkim.h - DKIM signing (RFC 6376; RSA-SHA256 and, per RFC 8463,
 * Ed25519-SHA256; RSA keys of 2048 bits, RFC 8301): key pairs and their
 * DNS records, and a signer that is fed a message as it is spooled (LF
 * or CRLF line ends) and writes a DKIM-Signature field per key, with
 * relaxed/relaxed canonicalization.
 *
 * The header fields signed are those of DKIM_SIGNED_FIELDS that the
 * message has, as many times as it has them, and From: once more
 * (oversigned: no From: can be added above the signed one).
 */
#ifndef POPGATE_DKIM_H
#define POPGATE_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "util/buf.h"
#include "util/compat.h"

#define DKIM_ERROR_MAX		256
#define DKIM_SELECTOR_MAX	63	/* one DNS label */
#define DKIM_HEADER_MAX		(1024 * 1024)	/* header section kept */
#define DKIM_HASH_LEN		32		/* SHA-256 */

enum dkim_alg {
	DKIM_RSA_SHA256,
	DKIM_ED25519_SHA256,
};

/* "rsa-sha256", "ed25519-sha256"; and back (-1: unknown). */
const char *dkim_alg_name(enum dkim_alg);
int	dkim_alg_parse(const char *);

/* A new key pair: the private key as PKCS#8 PEM and the p= value of its
   record (base64), both NUL-terminated and the caller's. 0, or -1 with
   the reason in ERR. */
int	dkim_keygen(enum dkim_alg, char **pem_r, char **pub_r,
	    char err[DKIM_ERROR_MAX]) WARN_UNUSED;
/* The record's text: "v=DKIM1; k=rsa; p=...". */
void	dkim_record(enum dkim_alg, const char *pub, struct buf *out);
/* A private key from PEM, checked to be of ALG (RSA: at least 1024
   bits, RFC 8301). NULL with the reason in ERR. This and
   dkim_pubkey_load keep the last keys loaded (dkim.c): each call gives
   a reference of the caller's, to EVP_PKEY_free. */
EVP_PKEY *dkim_key_load(enum dkim_alg, const char *pem,
	    char err[DKIM_ERROR_MAX]);

#define DKIM_SIG_MAX		1024	/* octets: RSA up to 8192 bits */

struct dkim_key;
/* The private step of a signature by K: SIG (raw octets, at most
   DKIM_SIG_MAX) over MD, the SHA-256 of the signed data. For
   rsa-sha256 that is the digest signed with PKCS#1 v1.5; for
   ed25519-sha256 it is the very message PureEdDSA signs (RFC 8463
   3: Ed25519 over the SHA-256 of the data). 0, or -1 with ERR. */
typedef int dkim_private_fn(const struct dkim_key *k,
	    const unsigned char md[DKIM_HASH_LEN], struct buf *sig,
	    char err[DKIM_ERROR_MAX], void *arg);

/* A signing key: whose and which. Its private step is SIGN(..., ARG)
   when SIGN is set (another process holds the key: PKEY is NULL), else
   dkim_sign_digest() with PKEY. */
struct dkim_key {
	enum dkim_alg	 alg;
	const char	*domain;
	const char	*selector;
	EVP_PKEY	*pkey;		/* borrowed */
	dkim_private_fn	*sign;
	void		*arg;
};

/* The private step with KEY in hand (of ALG; see dkim_private_fn),
   appended to SIG. 0, or -1 with ERR. */
int	dkim_sign_digest(enum dkim_alg, EVP_PKEY *key,
	    const unsigned char md[DKIM_HASH_LEN], struct buf *sig,
	    char err[DKIM_ERROR_MAX]) WARN_UNUSED;

struct dkim_signer;

struct dkim_signer *dkim_signer_new(void);
void	dkim_signer_free(struct dkim_signer **);
/* The next octets of the message: the header section, an empty line,
   the body. */
void	dkim_signer_feed(struct dkim_signer *, const void *, size_t);
/* Appends one "DKIM-Signature: ..." field per key of KEYS to OUT,
   folded, with LF line ends (the spool's), to be put above the message.
   T is the signature time (t=). Each key's private step runs once. 0,
   or -1 with the reason in ERR (a header section larger than
   DKIM_HEADER_MAX, a key that fails). */
int	dkim_sign(struct dkim_signer *, const struct dkim_key *keys,
	    size_t nkeys, time_t t, struct buf *out,
	    char err[DKIM_ERROR_MAX]) WARN_UNUSED;

/* The canonical body (RFC 6376 3.4.3 simple, 3.4.4 relaxed) hashed
   with SHA-256 as it is fed (LF or CRLF line ends, any pieces), its
   first LIMIT octets (l=; UINT64_MAX: all). dkim_body_final, once,
   gives the hash and how long the whole canonical body is. */
struct dkim_body;
struct dkim_body *dkim_body_new(bool relaxed, uint64_t limit);
void	dkim_body_free(struct dkim_body **);
void	dkim_body_feed(struct dkim_body *, const void *, size_t);
void	dkim_body_final(struct dkim_body *, unsigned char md[DKIM_HASH_LEN],
	    uint64_t *len_r);

/* A header field of a header section: its first octet, and its length
   with its continuation lines and line ends. */
struct dkim_field {
	const char	*p;
	size_t		 n;
};
/* The fields of a header section of LEN octets, in order, in *V_R (the
   caller's, free(3)); a continuation line before any field is none. */
size_t	dkim_fields_split(const char *hdr, size_t len,
	    struct dkim_field **v_r);
/* Whether F is a field named NAME (case-insensitive). */
bool	dkim_field_is(const struct dkim_field *f, const char *name);

/* A public key from the base64 p= value of a key record (RSA:
   SubjectPublicKeyInfo or RSAPublicKey, at least 1024 bits; Ed25519:
   the 32 raw octets). NULL with the reason in ERR. */
EVP_PKEY *dkim_pubkey_load(enum dkim_alg, const char *p64, size_t len,
	    char err[DKIM_ERROR_MAX]);
/* Whether SIG is KEY's signature of DATA under ALG (Ed25519 over its
   SHA-256 hash, RFC 8463): 0 it is, -1 not. */
int	dkim_verify_data(enum dkim_alg, EVP_PKEY *key, const void *data,
	    size_t len, const unsigned char *sig, size_t siglen);

/* Relaxed canonicalization of one header field (RFC 6376 3.4.2) of N
   octets, folded with LF or CRLF, into OUT as "name:value\r\n"; for the
   fuzzer and tests. -1 when it is no field (no colon, or no name on
   its first line before it). */
int	dkim_canon_header(const char *field, size_t n, struct buf *out);

#endif
