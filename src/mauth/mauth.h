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

/* ---- results (RFC 8601 section 2.7) ---- */

enum mauth_result {
	MAUTH_NONE,
	MAUTH_PASS,
	MAUTH_FAIL,
	MAUTH_NEUTRAL,
	MAUTH_POLICY,
	MAUTH_TEMPERROR,
	MAUTH_PERMERROR,
};
const char *mauth_result_name(enum mauth_result);

/* ---- tag lists (RFC 6376 section 3.2: DKIM-Signature, key records,
   ARC-Seal, ARC-Message-Signature, DMARC records) ---- */

#define MAUTH_TAGS_MAX	32
struct mauth_tag {
	const char	*name, *val;	/* into the parsed text */
	size_t		 nlen, vlen;	/* VAL without blanks around it */
	size_t		 voff;		/* of VAL in the text */
};
struct mauth_tags {
	size_t		 n;
	struct mauth_tag t[MAUTH_TAGS_MAX];
};
/* Parses the tag list S of LEN octets (folded with LF or CRLF). 0, or
   -1 with the reason in *ERR_R: a bad name or value, a tag twice, more
   than MAUTH_TAGS_MAX. */
int	mauth_tags_parse(const char *s, size_t len, struct mauth_tags *,
	    const char **err_r);
/* The tag NAME (case-sensitive, as RFC 6376 says), or NULL. */
const struct mauth_tag *mauth_tag(const struct mauth_tags *, const char *name);
/* VAL of T without its folding blanks (b=, bh=, p=, h=), appended. */
void	mauth_tag_compact(const struct mauth_tag *, struct buf *out);

/* ---- the message: DKIM signatures and ARC sets ---- */

enum mauth_sig_kind {
	MAUTH_SIG_DKIM,		/* DKIM-Signature */
	MAUTH_SIG_AMS,		/* ARC-Message-Signature */
	MAUTH_SIG_AS,		/* ARC-Seal */
};

#define MAUTH_DKIM_MAX	8	/* DKIM signatures checked, the first ones */
#define MAUTH_ARC_MAX	50	/* ARC instances (RFC 8617 4.2.1) */
#define MAUTH_ERROR_MAX	128

/* One signature: what the message says, and once checked, the result. */
struct mauth_sig {
	enum mauth_sig_kind kind;
	unsigned	 instance;	/* ARC: i= */
	enum mauth_result result;	/* NONE: not checked yet */
	char		 domain[256];	/* d= */
	char		 selector[64];	/* s= */
	char		 b8[9];		/* b='s first 8 (RFC 6008) */
	int		 alg;		/* enum dkim_alg, -1 unknown */
	char		 error[MAUTH_ERROR_MAX];	/* why, for the log */
};

struct mauth_msg;

/* A scan of one message, fed as it was spooled (header section, empty
   line, body; LF or CRLF). AUTHSERV_ID is our hostname: fields of
   Authentication-Results claiming it are found for removal. */
struct mauth_msg *mauth_msg_new(const char *authserv_id);
void	mauth_msg_free(struct mauth_msg **);
void	mauth_msg_feed(struct mauth_msg *, const void *, size_t);
/* The message is complete: the body hashes are final. */
void	mauth_msg_end(struct mauth_msg *);

/* Signatures to check: the DKIM ones, then of the ARC chain the last
   ARC-Message-Signature and every ARC-Seal (a chain whose structure
   is broken has none; mauth_arc_result says so). */
size_t	mauth_sig_count(const struct mauth_msg *);
struct mauth_sig *mauth_sig(struct mauth_msg *, size_t i);
/* The DNS name of SIG's key: "SELECTOR._domainkey.DOMAIN". 0 or -1. */
int	mauth_sig_keyname(const struct mauth_sig *, char *out, size_t outsz);
/* Checks SIG against the answer to its key's TXT query (dns_txt's
   STATUS, RECS and N) at time NOW: sets its result and error. */
void	mauth_sig_verify(struct mauth_msg *, struct mauth_sig *, int status,
	    const struct dns_txt *recs, size_t n, int64_t now);

/* ARC (RFC 8617 section 5.2) once the signatures are checked: none (no
   sets), pass, or fail with the reason in ERR; *INSTANCES_R the
   chain's length. */
enum mauth_result mauth_arc_result(const struct mauth_msg *,
	    unsigned *instances_r, char err[MAUTH_ERROR_MAX]);

/* The domain of the From: field (RFC 7489 6.6.1): 1 one field with one
   address, its domain lower-case in OUT; 0 none; -1 several fields or
   addresses, or one that does not parse. */
int	mauth_from_domain(const struct mauth_msg *, char *out, size_t outsz);

/* Authentication-Results fields claiming AUTHSERV_ID (RFC 8601 section
   5: to be removed): their offsets in the fed stream, [START, END). */
struct mauth_range {
	uint64_t	 start, end;
};
size_t	mauth_forged(const struct mauth_msg *, const struct mauth_range **);

/* The authserv-id of an Authentication-Results field body (RFC 8601
   2.2: the first token, after comments and blanks) into OUT; 0, or -1
   when there is none. */
int	mauth_ar_authserv(const char *body, size_t len, char *out,
	    size_t outsz);

/* ---- DMARC (RFC 7489) ---- */

enum dmarc_policy {
	DMARC_P_NONE,
	DMARC_P_QUARANTINE,
	DMARC_P_REJECT,
};
const char *dmarc_policy_name(enum dmarc_policy);

struct dmarc_record {
	enum dmarc_policy p, sp;
	bool		 adkim_strict, aspf_strict;
	unsigned	 pct;		/* 0-100 */
};
/* Parses a record (section 6.3): 0, or -1 with the reason (not
   "v=DMARC1" first, a bad p=, ...). A record whose p= is missing or
   bad but that is otherwise valid is p=none (section 6.6.3). */
int	dmarc_record_parse(const char *rec, size_t len, struct dmarc_record *,
	    const char **err_r);

/* The organizational domain of DOMAIN (section 3.2, the Public Suffix
   List of Debian's publicsuffix package via libpsl) into OUT. */
void	dmarc_org_domain(const char *domain, char *out, size_t outsz);
/* Whether A and B are aligned: the same name (strict), or the same
   organizational domain (relaxed). */
bool	dmarc_aligned(const char *a, const char *b, bool strict);

/* A DMARC evaluation: asks _dmarc.FROM, then the organizational
   domain's, and decides from the SPF and DKIM results. */
struct dmarc_input {
	const char	*from_domain;	/* From:, lower-case */
	enum spf_result	 spf;		/* of the MAIL FROM identity */
	const char	*spf_domain;	/* that identity's domain */
	/* the DKIM signatures (MAUTH_SIG_DKIM only count) */
	const struct mauth_sig *const *sigs;
	size_t		 nsigs;
};
struct dmarc_answer {
	enum mauth_result result;	/* none pass fail temperror
					   permerror */
	enum dmarc_policy policy;	/* the one that applies (p or sp) */
	enum dmarc_policy disposition;	/* after pct (section 6.6.4) */
	bool		 record;	/* a record was found */
	char		 domain[256];	/* where the record was */
	char		 error[MAUTH_ERROR_MAX];
};
typedef void dmarc_cb(const struct dmarc_answer *, void *arg);
struct dmarc_req;
/* IN is copied; CB runs once, later, unless cancelled. */
struct dmarc_req *dmarc_check(struct dns *, const struct dmarc_input *in,
	    unsigned timeout_ms, dmarc_cb *cb, void *arg);
void	dmarc_cancel(struct dmarc_req **);

#endif
