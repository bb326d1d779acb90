/*
 * passwd.h - password hashes in crypt(3) form (SPEC 4).
 *
 * New hashes are yescrypt ("$y$"); SHA-512-crypt ("$6$") and bcrypt
 * ("$2b$", "$2y$") hashes imported from other systems verify too.
 * Verification is slow on purpose: call it from a worker thread.
 */
#ifndef POPGATE_PASSWD_H
#define POPGATE_PASSWD_H

#include <stddef.h>

#include "util/compat.h"

#define PASSWD_HASH_MAX	256	/* longest hash we store, without NUL */
#define PASSWD_MAX	511	/* longest password (libxcrypt's limit) */

/* Hashes PASSWORD with a fresh yescrypt salt into OUT (OUTSZ bytes,
   PASSWD_HASH_MAX + 1 is enough). 0, or -1 with *ERROR_R. */
int	passwd_hash(const char *password, char *out, size_t outsz,
	    const char **error_r) WARN_UNUSED;
/* 1 when PASSWORD matches HASH, 0 when not, -1 when HASH is not a hash
   this system can verify. Compares in constant time. */
int	passwd_verify(const char *password, const char *hash) WARN_UNUSED;
/* A verification of PASSWORD as costly as one against a hash that
   passwd_hash() makes (the default kind and cost), for a login that
   fails anyway: an unknown user costs what a known one does. */
void	passwd_verify_dummy(const char *password);
/* 0 when HASH looks like a supported crypt(3) hash, else -1. */
int	passwd_check_hash(const char *hash) WARN_UNUSED;

#endif
