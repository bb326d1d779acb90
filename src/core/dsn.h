/*
 * dsn.h - the parameters of RFC 3461 delivery status notifications, as
 * pure functions: NOTIFY as a set of flags, the xtext of ENVID and
 * ORCPT (RFC 3461 section 4), and the ORCPT "addr-type;xtext" form.
 * What a notice says and where it goes is notice/notice.h.
 */
#ifndef POPGATE_DSN_H
#define POPGATE_DSN_H

#include <stdbool.h>
#include <stddef.h>

/* NOTIFY: none of these is "not given" (the server decides: failures,
   and delays, are reported). NEVER stands alone. */
#define DSN_NOTIFY_NEVER	0x01u
#define DSN_NOTIFY_SUCCESS	0x02u
#define DSN_NOTIFY_FAILURE	0x04u
#define DSN_NOTIFY_DELAY	0x08u

#define DSN_ENVID_MAX	100	/* RFC 3461 section 4.4, octets of xtext */
#define DSN_ORCPT_MAX	500	/* RFC 3461 section 4.2 */
#define DSN_NOTIFY_SZ	40	/* "SUCCESS,FAILURE,DELAY" and a NUL */

/* The NOTIFY value (N octets at S, "NEVER" or a comma list of SUCCESS,
   FAILURE, DELAY, each at most once, any case) as flags. 0, or -1. */
int	dsn_notify_parse(const char *s, size_t n, unsigned *flags_r);
/* FLAGS as a NOTIFY value into OUT (DSN_NOTIFY_SZ); "" for none. */
void	dsn_notify_format(unsigned flags, char *out, size_t outsz);
/* Whether a notice of the kind WHAT (DSN_NOTIFY_SUCCESS, _FAILURE or
   _DELAY) is wanted under FLAGS: when NOTIFY was not given, failures
   and delays are (RFC 3461 section 4.1 leaves it to the server). */
bool	dsn_notify_wants(unsigned flags, unsigned what);

/* Whether the N octets at S are xtext: "+" and two upper-case hex digits,
   or a printable character other than "+" and "=". */
bool	dsn_xtext_ok(const char *s, size_t n);
/* Decodes the xtext S into OUT; characters that would not be printable
   ASCII stay encoded, so the result is safe in a header field. -1 when
   S is not xtext or OUT is too small. */
int	dsn_xtext_decode(const char *s, size_t n, char *out, size_t outsz);
/* Encodes the N octets at S as xtext into OUT. -1 when too small. */
int	dsn_xtext_encode(const char *s, size_t n, char *out, size_t outsz);
/* Whether an ORCPT value is "addr-type ; xtext" (RFC 3461 section 4.2),
   at most DSN_ORCPT_MAX octets. */
bool	dsn_orcpt_ok(const char *s, size_t n);
/* "rfc822;" and ADDRESS as xtext, the ORCPT a relaying MTA adds (RFC
   3461 section 4.2) into OUT (DSN_ORCPT_MAX + 1). -1 if too long. */
int	dsn_orcpt_make(const char *address, char *out, size_t outsz);

#endif
