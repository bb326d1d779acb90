/*
 * rfc5322.h - header fields: finding them in a header section and parsing
 * address lists (RFC 5322 section 3.4, with the obsolete forms of 4.4)
 * for the sender-affiliation rule on From:.
 *
 * The parser is strict in what it returns: every mailbox of the list,
 * including those inside groups, as a canonical "local@domain"; display
 * names, comments, quoted strings, encoded words (RFC 2047, plain atoms
 * here) and obsolete routes are understood and dropped. Anything it
 * cannot parse is an error, never a partial list, so a malformed header
 * cannot hide an address from the check.
 */
#ifndef POPGATE_RFC5322_H
#define POPGATE_RFC5322_H

#include <stddef.h>

#include "util/str.h"
#include "util/compat.h"

#define RFC5322_MAX_ADDRS	1000

/* Appends to OUT every mailbox address in the field body BODY (LEN
   octets, may be folded with LF or CRLF). 0, or -1 with *ERROR_R. */
int	rfc5322_parse_addresses(const char *body, size_t len,
	    struct strlist *out, const char **error_r) WARN_UNUSED;
/* Calls FN with the unfolded-in-place body of each field named NAME
   (case-insensitive) in the header section HDR (LF line ends). Returns
   how many were found. */
size_t	rfc5322_fields(const char *hdr, size_t len, const char *name,
	    void (*fn)(const char *body, size_t len, void *), void *arg);

#endif
