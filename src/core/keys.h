/*
 * keys.h - popgate-keys, the process that alone holds the TLS private
 * keys (README "Processes", SPEC 14), and the daemon's side of it: a key
 * object for OpenSSL whose private operation is a round trip to it.
 *
 * It has two sockets. Its owner's (popgate-priv, the root helper that
 * starts it; the daemon itself when it keeps its user) sends the key
 * files as descriptors (KEYS_LOAD, the main key first, then each
 * tls_host's) under a generation number; popgate-keys parses them and
 * answers each key's public key (the SHA-256 of its DER
 * SubjectPublicKeyInfo), which the daemon compares with its
 * certificate's, or why it cannot be used. It keeps the generation
 * loaded last and the one named as still in use (a reload's handshakes
 * in flight). The daemon's socket asks for private operations only:
 * a KEYS_LOAD there, as any type its peer may not send, is a protocol
 * error, and popgate-keys exits (so a daemon taken over cannot have it
 * read a file of its choosing, and never holds a key file itself).
 * A private operation names a key by generation and index: an RSA
 * private encryption (PKCS#1 v1.5, or the raw block of an RSA-PSS
 * signature the daemon's OpenSSL padded: popgate-keys checks that the
 * block is a PSS encoding with SHA-256, -384 or -512 and a salt of the
 * hash's length, so the raw operation is no decryption oracle), or an
 * ECDSA signature of a digest. Ed25519 and RSA decryption are not
 * forwarded.
 *
 * Messages (util/ipc.h), every field bounded:
 *   KEYS_LOAD	   owner:  u32 gen, u32 keep, u32 n; n descriptors
 *   KEYS_LOADED   keys:   u32 n, then per key u32 ok and bytes (ok: the
 *		   SHA-256 of the public key's DER; not ok: the reason)
 *   KEYS_RSA	   daemon: u32 gen, u32 idx, u32 padding, bytes input
 *   KEYS_ECDSA	   daemon: u32 gen, u32 idx, bytes digest
 *   KEYS_SIGNED   keys:   u32 ok, bytes (ok: the signature; else the
 *		   reason)
 * popgate-keys exits on anything else (a message of another type, not
 * consumed exactly, with descriptors it does not carry); the daemon
 * treats a malformed answer as a dead popgate-keys.
 */
#ifndef POPGATE_KEYS_H
#define POPGATE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "util/ipc.h"
#include "util/compat.h"

#define KEYS_MAX	128	/* keys of one generation */
#define KEYS_PUB_DIGEST	32	/* SHA-256 of a public key's DER */
#define KEYS_SIG_MAX	2048	/* a signature (RSA 16384 bits) */
#define KEYS_REASON_MAX	256
#define KEYS_WAIT_MS	5000	/* a round trip waits at most this */

enum keys_type {
	KEYS_LOAD = 1,
	KEYS_LOADED,
	KEYS_RSA,
	KEYS_ECDSA,
	KEYS_SIGNED,
};

/* ---- popgate-keys ---- */

/* Serves its owner on OWNER (KEYS_LOAD only) and the daemon on DAEMON
   (KEYS_RSA, KEYS_ECDSA only) until one of them closes its end (0) or
   breaks the protocol (-1, after logging why). The keys are freed on
   return. */
int	keys_serve(int owner, int daemon);

/* A decoded request (the fuzzer's targets). */
struct keys_req {
	uint32_t	 type;
	uint32_t	 gen, keep, n;		/* KEYS_LOAD */
	uint32_t	 idx, padding;		/* KEYS_RSA, KEYS_ECDSA */
	const void	*in;			/* borrowed from the message */
	size_t		 inlen;
};

/* M as a request of the owner or the daemon into R: 0, or -1 when it
   is not one (which of them may send it is keys_serve's check). */
int	keys_decode_req(const struct ipc_msg *m, struct keys_req *r);

/* ---- the daemon's side ---- */

struct keys_client;

/* A client without a process yet (keys_client_set_sock). */
struct keys_client *keys_client_new(void);
/* Frees KC; every key object made from it must be gone. */
void	keys_client_free(struct keys_client **);
/* The socket to popgate-keys from now on (-1: none; the old one is
   closed). Safe while other threads sign. */
void	keys_client_set_sock(struct keys_client *, int sock);
/* Whether a round trip failed since the last keys_client_set_sock():
   popgate-keys is gone or broken. A failed round trip (a timeout, a
   malformed answer, the end of the connection) also shuts the socket
   down, so that a watcher of its end sees it. */
bool	keys_client_broken(struct keys_client *);
/* For the watcher of the socket (on the loop, when it is readable or
   closed): whether the connection ended or broke. An answer left over
   by a round trip that timed out is read and dropped. */
bool	keys_client_ended(struct keys_client *);

/* What KEYS_LOADED said of each key. */
struct keys_loaded {
	size_t		 n;
	struct {
		bool		 ok;
		unsigned char	 pub[KEYS_PUB_DIGEST];	/* ok */
		char		 reason[KEYS_REASON_MAX];	/* not ok */
	}		 key[KEYS_MAX];
};

/* The owner's side: loads the N key files FDS as generation GEN
   (keeping generation KEEP too) through popgate-keys's owner socket
   SOCK and fills OUT (heap: it is large). 0, or -1 with the reason in
   ERR when popgate-keys did not answer well (within KEYS_WAIT_MS). */
int	keys_owner_load(int sock, uint32_t gen, uint32_t keep,
	    const int *fds, size_t n, struct keys_loaded *out, char *err,
	    size_t errsz) WARN_UNUSED;
/* M as KEYS_LOADED into OUT: 0, or -1 (the fuzzer's target). */
int	keys_decode_loaded(const struct ipc_msg *m, struct keys_loaded *out);
/* L as the fields of KEYS_LOADED, into O or read from IN (0, or -1):
   for a message that carries them on (popgate-priv's answer). */
void	keys_put_loaded(struct ipc_out *o, const struct keys_loaded *l);
int	keys_get_loaded(struct ipc_in *in, struct keys_loaded *out)
	    WARN_UNUSED;
/* M as KEYS_SIGNED: 1 with the signature into SIG (*SIGLEN), 0 with
   popgate-keys's refusal in REASON, -1 when malformed. */
int	keys_decode_signed(const struct ipc_msg *m, unsigned char *sig,
	    size_t sigsz, size_t *siglen, char reason[KEYS_REASON_MAX]);

/* A key object with the public key PUB (a certificate's; borrowed)
   whose private operations are key IDX of generation GEN in
   popgate-keys through KC, for SSL_CTX_use_PrivateKey(). RSA and EC
   keys only: NULL otherwise, with the reason in ERR. */
EVP_PKEY *keys_proxy_new(struct keys_client *kc, EVP_PKEY *pub,
	    uint32_t gen, uint32_t idx, char *err, size_t errsz);
/* The SHA-256 of PUB's DER SubjectPublicKeyInfo into OUT: 0, or -1. */
int	keys_pub_digest(EVP_PKEY *pub, unsigned char out[KEYS_PUB_DIGEST])
	    WARN_UNUSED;

#endif
