/*
 * sasl.h - SASL PLAIN (RFC 4616) and LOGIN response decoding, shared by
 * POP3 AUTH (RFC 5034) and SMTP AUTH (RFC 4954). Pure functions.
 */
#ifndef POPGATE_SASL_H
#define POPGATE_SASL_H

#include <stddef.h>

#include "core/addr.h"
#include "util/compat.h"

#define SASL_USER_MAX	ADDR_BUFSZ	/* with NUL */
#define SASL_PASS_MAX	1025		/* with NUL; longer than PASSWD_MAX,
					   so too long fails as a mismatch */

/* Decodes a base64 PLAIN response: authzid NUL authcid NUL passwd. The
   authzid must be empty or equal to the authcid (no proxy logins).
   0, or -1 with *ERROR_R. */
int	sasl_plain_decode(const char *b64, size_t len,
	    char user[SASL_USER_MAX], char pass[SASL_PASS_MAX],
	    const char **error_r) WARN_UNUSED;
/* Decodes one base64 LOGIN response (user name or password) into OUT.
   0 or -1. */
int	sasl_login_decode(const char *b64, size_t len, char *out,
	    size_t outsz, const char **error_r) WARN_UNUSED;

#endif
