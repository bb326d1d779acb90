/*
 * spf_int.h - what the files of SPF share (spf_record.c parses, spf.c
 * evaluates); not for use outside src/mauth/spf*.c.
 */
#ifndef POPGATE_SPF_INT_H
#define POPGATE_SPF_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "mauth/mauth.h"

enum spf_mech {
	SPF_M_NONE,
	SPF_M_ALL,
	SPF_M_INCLUDE,
	SPF_M_A,
	SPF_M_MX,
	SPF_M_PTR,
	SPF_M_IP4,
	SPF_M_IP6,
	SPF_M_EXISTS,
};

/* A directive: pointers into the record's text. */
struct spf_term {
	enum spf_result	 qual;		/* PASS, FAIL, SOFTFAIL, NEUTRAL */
	enum spf_mech	 mech;
	const char	*spec;		/* domain-spec, or NULL */
	size_t		 speclen;
	unsigned	 cidr4, cidr6;	/* a, mx, ip4, ip6 */
	struct netaddr	 net;		/* ip4, ip6 */
	const char	*text;		/* the whole term */
	size_t		 textlen;
};

struct spf_record {
	struct spf_term	*terms;
	size_t		 nterms;
	const char	*redirect, *exp;	/* domain-specs, or NULL */
	size_t		 redirectlen, explen;
	bool		 has_all;
};

/* True for a record that starts with "v=spf1" followed by a space or
   its end, in any case (RFC 7208 section 4.5). */
bool	spf_is_record(const char *, size_t);
/* Parses the record S of LEN octets into REC (its terms point into S).
   0, or -1 with the reason in ERR (REC then empty). */
int	spf_record_parse(const char *s, size_t len, struct spf_record *rec,
	    char *err, size_t errsz);
void	spf_record_free(struct spf_record *);

#endif
