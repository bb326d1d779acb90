/*
 * tls.h - TLS contexts (OpenSSL 3) and the self-signed certificate that
 * `popgate init` makes so TLS works out of the box.
 */
#ifndef POPGATE_TLS_H
#define POPGATE_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "util/compat.h"

/* Writes a new EC P-256 key (mode 0600) and a self-signed certificate for
   HOSTNAME (and localhost, 127.0.0.1, ::1), valid ten years. 0, or -1
   with *ERROR_R (static or OpenSSL's text). */
int	tls_make_selfsigned(const char *hostname, const char *cert_path,
	    const char *key_path, const char **error_r) WARN_UNUSED;
/* A server context with CERT and KEY; TLS 1.2 and later only (RFC 8996).
   NULL with *ERROR_R. */
SSL_CTX	*tls_server_ctx(const char *cert, const char *key,
	    const char **error_r);
/* A client context for outbound STARTTLS; VERIFY checks the peer's
   certificate against the system trust store. */
SSL_CTX	*tls_client_ctx(bool verify, const char **error_r);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" for
   Received: headers and logs. */
void	tls_describe(SSL *, char *out, size_t outsz);

#endif
