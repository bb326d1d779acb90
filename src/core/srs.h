/*
 * srs.h - the Sender Rewriting Scheme: the envelope sender of forwarded
 * mail rewritten into an address of our own domain, so that the mail
 * passes SPF at the destination, and reversed when a bounce comes back.
 *
 * The scheme of Shevek's Mail::SRS and libsrs2 in its "Guarded" form,
 * as postsrsd and Exim make it, so that addresses interoperate:
 *
 *   user@orig.example  ->  SRS0=HHHH=TT=orig.example=user@SRS_DOMAIN
 *   SRS0=rest@fwd.example  ->  SRS1=HHHH=fwd.example==rest@SRS_DOMAIN
 *   SRS1=XXXX=fwd.example==rest@other  ->  SRS1=HHHH=fwd.example==rest@..
 *
 * HHHH: the first 4 base64 characters of HMAC-SHA1 under the secret of
 * the lower-cased TT, domain and local part (SRS1: of the first
 * forwarder's domain and the rest); compared in any case, since some
 * servers change the case of local parts. TT: the day (unix days mod
 * 1024) in 2 base32 characters. A bounce to an SRS1 address goes
 * straight back to the first forwarder (its SRS0 address there), not
 * through every hop.
 *
 * Pure functions, fuzzed (fuzz/fuzz_srs.c) and unit-tested alone; which
 * mail is rewritten and which addresses are ours is policy_srs.c's.
 */
#ifndef POPGATE_SRS_H
#define POPGATE_SRS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/compat.h"

#define SRS_HASH_LEN	4	/* base64 characters of the HMAC kept */
#define SRS_SECRET_MAX	128	/* octets of a secret (the HMAC key) */
#define SRS_DAY		86400
#define SRS_MAX_AGE_MAX	1000	/* days: the 10-bit stamp wraps at 1024 */

enum srs_status {
	SRS_OK,
	SRS_NOT_SRS,		/* no SRS0= or SRS1= local part */
	SRS_MALFORMED,		/* SRS-like, but its parts are missing */
	SRS_BAD_HASH,		/* no secret made this hash: forged */
	SRS_EXPIRED,		/* the hash is good, the day too old */
	SRS_TOO_LONG,		/* the result would not fit RFC 5321 */
};

/* Whether the local part LOCAL (LEN octets) has the SRS0 or SRS1 form:
   the tag in any case, then '=', '+' or '-'. */
bool	srs_is_srs(const char *local, size_t len);

/* The address that replaces the envelope sender SENDER ("local@domain")
   of a message forwarded at NOW, at SRS_DOMAIN, hashed with SECRET:
   SRS0 for an ordinary sender, SRS1 for a sender that is an SRS0 or
   SRS1 address of another forwarder. Into OUT (OUTSZ >= 1). SRS_OK;
   SRS_MALFORMED (no '@', an empty part, an SRS1 sender without its
   parts); SRS_TOO_LONG when the local part would pass 64 octets or the
   address 254 (RFC 5321 4.5.3.1). */
enum srs_status srs_forward(const char *sender, const char *srs_domain,
	    const char *secret, time_t now, char *out, size_t outsz);

/* Reverses the SRS local part LOCAL (LEN octets; the domain is the
   caller's to have checked): an SRS0 address gives the original sender
   "local@domain", an SRS1 address the SRS0 address at the first
   forwarder. The hash is checked against each of the NSECRETS SECRETS
   (the current one and the previous ones), in any case; then the day:
   at most MAX_AGE days old, and one day ahead is taken (the clocks of
   several hosts around midnight). Into OUT. SRS_OK, SRS_NOT_SRS,
   SRS_MALFORMED, SRS_BAD_HASH, SRS_EXPIRED, SRS_TOO_LONG (OUT too
   small). *AGE_R (when not NULL) gets the age in days of a good hash
   (-1: a day ahead). */
enum srs_status srs_reverse(const char *local, size_t len,
	    const char *const *secrets, size_t nsecrets, time_t now,
	    unsigned max_age, char *out, size_t outsz, int *age_r);

/* A short text for S, for logs and replies ("bad hash", "expired"). */
const char *srs_status_text(enum srs_status s);

#endif
