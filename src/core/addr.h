/*
 * addr.h - mail addresses: RFC 5321 paths and mailboxes, domains.
 *
 * Pure functions over (pointer, length), fuzzed and unit-tested alone.
 * A source route is parsed and dropped (RFC 5321 section 4.1.1.3 lets us
 * ignore it); a quoted local part stays quoted. Nothing here decides
 * whether an address is local: that is a lookup of the whole domain.
 */
#ifndef POPGATE_ADDR_H
#define POPGATE_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "util/compat.h"

#define ADDR_LOCAL_MAX	64	/* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX	255	/* RFC 5321 4.5.3.1.2 */
#define ADDR_LABEL_MAX	63
#define ADDR_MAX_LEN	254	/* local@domain, RFC 5321 4.5.3.1.3 */
/* local@domain plus NUL */
#define ADDR_BUFSZ	(ADDR_LOCAL_MAX + 1 + ADDR_DOMAIN_MAX + 1)

struct mailaddr {
	char	local[ADDR_LOCAL_MAX + 1];	/* as on the wire */
	char	domain[ADDR_DOMAIN_MAX + 1];	/* incl. [..] for literals */
	bool	quoted;		/* local part is a Quoted-string */
	bool	literal;	/* domain is an address literal */
	bool	utf8;		/* contains UTF-8 (SMTPUTF8 only) */
};

enum addr_path_kind {
	ADDR_PATH_MAILBOX,
	ADDR_PATH_NULL,		/* <> */
	ADDR_PATH_POSTMASTER,	/* <postmaster>, any case */
};

/* Flags for addr_parse_path() and addr_parse(). */
#define ADDR_F_NULL		0x01	/* <> allowed (MAIL FROM) */
#define ADDR_F_POSTMASTER	0x02	/* <postmaster> allowed (RCPT TO) */
#define ADDR_F_UTF8		0x04	/* SMTPUTF8: UTF-8 allowed */
#define ADDR_F_LITERAL		0x08	/* address literals allowed */

/* Checks an RFC 5321 Domain (no trailing dot, labels <= 63, total <= 255,
   letters, digits, inner hyphens). 0, or -1 with *ERROR_R set to a
   static message. */
int	addr_domain_check(const char *, size_t, unsigned flags,
	    const char **error_r) WARN_UNUSED;
/* Parses "local@domain" (a Mailbox) filling A. 0 or -1 (*ERROR_R). */
int	addr_parse(const char *, size_t, unsigned flags, struct mailaddr *a,
	    const char **error_r) WARN_UNUSED;
/* Parses a Path at the start of S ("<...>"), with the source route
   dropped. *KIND_R says which form it was; *END_R is set to the number of
   bytes consumed. 0, or -1 with *ERROR_R. */
int	addr_parse_path(const char *s, size_t len, unsigned flags,
	    struct mailaddr *a, enum addr_path_kind *kind_r, size_t *end_r,
	    const char **error_r) WARN_UNUSED;
/* "local@domain" into DST (ADDR_BUFSZ is always enough). */
void	addr_format(const struct mailaddr *, char *dst, size_t dstsz);
/* Lower-cases the domain and, for hosted-domain lookups, the local part;
   a quoted local part whose content is a plain dot-atom is unquoted
   ("ann"@x is ann@x). */
void	addr_canonicalize(struct mailaddr *);
/* Domain part of a "local@domain" string (after the last '@'). */
const char *addr_domain_of(const char *address);

/* A mailbox address canonicalized once (addr_canonicalize) with its
   "local@domain" text: the key of hosted mailboxes and aliases, made
   where an address enters (the SMTP parser's struct mailaddr, a stored
   alias target, a From: address) and passed down to the store as it is,
   so no floor formats it to a string and parses it again. */
struct addr_canon {
	struct mailaddr	a;		/* canonical parts */
	char		text[ADDR_BUFSZ];	/* a.local@a.domain */
};

/* C from the parsed address A (copied, then canonicalized). */
void	addr_canon_set(struct addr_canon *c, const struct mailaddr *a);
/* Parses "local@domain" (FLAGS as for addr_parse) into C. 0 or -1
   (*ERROR_R). */
int	addr_canon_parse(const char *, size_t, unsigned flags,
	    struct addr_canon *c, const char **error_r) WARN_UNUSED;

#endif
