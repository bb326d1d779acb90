/*
 * mauth.h - mail authentication of inbound mail: SPF (RFC 7208), DKIM
 * verification (RFC 6376, RFC 8463), DMARC (RFC 7489) and ARC (RFC
 * 8617), and the Authentication-Results field (RFC 8601) that records
 * them.
 *
 * Every DNS query goes through core/dns (c-ares on the event loop, its
 * TXT cache); nothing here blocks. A DNS timeout or SERVFAIL is a
 * temporary error, never a pass.
 */
#ifndef POPGATE_MAUTH_H
#define POPGATE_MAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dns.h"
#include "util/buf.h"
#include "util/net.h"

/* ---- SPF (RFC 7208) ---- */

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

/* "none", "neutral", "pass", "fail", "softfail", "temperror",
   "permerror" (RFC 8601 section 2.7.2's names). */
const char *spf_result_name(enum spf_result);

#define SPF_EXPLAIN_MAX	512

/* What check_host() found (RFC 7208 section 4). */
struct spf_answer {
	enum spf_result	 result;
	/* The domain whose policy was checked: the MAIL FROM domain, or
	   the HELO name for a null sender or the HELO check. */
	char		 domain[256];
	/* For fail: the expanded exp= text, or "" (RFC 7208 6.2). For
	   the errors: what went wrong, for the log ("more than 10 DNS
	   lookups", "x.example: bad address in 'ip4:1.2.3'", "timeout
	   after 5000 ms", "DNS error on the TXT of x.example"). */
	char		 explain[SPF_EXPLAIN_MAX];
	/* The term that decided, as written ("-all", "ip4:192.0.2.0/24",
	   "include:_spf.example.net", cut to fit), "default" when none
	   matched, or "" (none, and the errors). */
	char		 mechanism[128];
	/* DNS-querying terms evaluated and void lookups (RFC 7208 4.6.4). */
	unsigned	 lookups, voids;
};

typedef void spf_cb(const struct spf_answer *, void *arg);
struct spf_req;

/* Starts check_host(IP, DOMAIN, SENDER) (RFC 7208 section 4): SENDER
   is the MAIL FROM address, or "postmaster@HELO" for the HELO check
   and a null sender (section 2.4); HELO is the client's HELO name (for
   %{h}); RECEIVER our hostname (%{r}). The DNS limits of section 4.6.4
   hold (10 mechanisms and modifiers that query DNS, 2 void lookups, 10
   MX or PTR names each). CB runs once, later, from the event loop,
   unless the request is cancelled; TIMEOUT_MS bounds the whole check
   (temperror). The request is freed before CB runs: forget it then,
   never cancel it from CB. A NULL or "" SENDER is the null sender:
   "postmaster@HELO", and DOMAIN (if NULL or "") HELO; DOMAIN NULL or
   "" otherwise: SENDER's domain. The answer is valid during CB. */
struct spf_req *spf_check(struct dns *, const struct netaddr *ip,
	    const char *domain, const char *sender, const char *helo,
	    const char *receiver, unsigned timeout_ms, spf_cb *, void *arg);
/* CB will not run; the queries out are cancelled. Sets *REQ to NULL;
   accepts NULL. */
void	spf_cancel(struct spf_req **);

/* An SPF record parsed (for the fuzzer and tests): 0, or -1 with the
   reason in ERR. Only the syntax of RFC 7208 section 12; macros are
   checked, not expanded. */
int	spf_record_check(const char *rec, size_t len, char *err,
	    size_t errsz);

/* What the macros of RFC 7208 section 7 expand to. */
struct spf_macro_env {
	const char		*sender;	/* s; l and o from it */
	const char		*domain;	/* d: the current domain */
	const struct netaddr	*ip;		/* i, c, v */
	const char		*helo;		/* h */
	const char		*receiver;	/* r ("unknown" if NULL) */
	const char		*ptr;		/* p (validated; NULL: "unknown") */
	uint64_t		 now;		/* t, seconds since the epoch */
};
/* The macro-string S of LEN octets checked (section 7.1): EXP for the
   text of an explanation (c, r, t and spaces allowed), else a
   domain-spec or modifier value. 0, or -1 with the reason in ERR. */
int	spf_macro_check(const char *s, size_t len, bool exp, char *err,
	    size_t errsz);
/* S expanded into OUT (OUTSZ octets). Not EXP: a name, its trailing
   dot removed and cut to 253 octets from the left (section 4.8); EXP:
   an explanation, -1 if it does not fit. 0, or -1 with ERR. */
int	spf_macro_expand(const char *s, size_t len,
	    const struct spf_macro_env *, bool exp, char *out, size_t outsz,
	    char *err, size_t errsz);

#endif
