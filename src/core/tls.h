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

/* Room for an error text of the functions below, with its NUL. */
#define TLS_ERROR_MAX	256

/* "WHAT: OpenSSL's first queued error" into OUT; the queue is emptied
   (for every user of OpenSSL here: TLS, DKIM). */
void	tls_openssl_error(const char *what, char *out, size_t outsz);

/* Writes a new EC P-256 key (mode 0600) and a self-signed certificate for
   HOSTNAME (and localhost, 127.0.0.1, ::1), valid ten years. 0, or -1
   with the reason (the step and OpenSSL's text, or errno's) in the
   caller's ERROR_R. */
int	tls_make_selfsigned(const char *hostname, const char *cert_path,
	    const char *key_path, char error_r[TLS_ERROR_MAX]) WARN_UNUSED;
/* A certificate chain and its key as open files (the daemon's key may
   be root's only: root opens it, before the privilege drop or in the
   privileged helper on reload); the names are for messages. */
struct tls_files {
	const char	*cert, *key;
	int		 cert_fd, key_fd;
	EVP_PKEY	*pkey;	/* non-NULL: the key to use instead of
				   reading key_fd (popgate-keys's proxy,
				   keys.h; borrowed) */
};

/* The whole content of the open file FD (a regular file of at most
   1 MiB; NAME for messages) as a memory BIO, read from its start. NULL
   with the reason in ERROR_R. */
BIO	*tls_read_file(const char *name, int fd, char error_r[TLS_ERROR_MAX]);

/* A server context with CERT and KEY; TLS 1.2 and later only (RFC 8996).
   NULL with the reason in ERROR_R. */
SSL_CTX	*tls_server_ctx(const char *cert, const char *key,
	    char error_r[TLS_ERROR_MAX]);
/* The same from open files (read from their start; left open). */
SSL_CTX	*tls_server_ctx_files(const struct tls_files *,
	    char error_r[TLS_ERROR_MAX]);
/*
 * Certificates per host name (SPEC 14): a client that asks for HOST by
 * SNI gets HOST's certificate instead of DEF's own. HOST is a host name
 * (any case) or a wildcard "*.DOMAIN" matching one label before DOMAIN;
 * an exact name is preferred over a wildcard, and a client without SNI,
 * or with a name that matches none, gets DEF's certificate. The new
 * context has the settings of tls_server_ctx() and is freed with DEF.
 * Call before DEF serves its first handshake. 0, or -1 with the reason
 * (the file and OpenSSL's text) in ERROR_R.
 */
int	tls_server_add_host(SSL_CTX *def, const char *host, const char *cert,
	    const char *key, char error_r[TLS_ERROR_MAX]) WARN_UNUSED;
int	tls_server_add_host_files(SSL_CTX *def, const char *host,
	    const struct tls_files *, char error_r[TLS_ERROR_MAX]) WARN_UNUSED;
/* The number of host names added to DEF. */
size_t	tls_server_hosts(SSL_CTX *def);
/* Whether the certificate DEF gives a client asking for HOST names HOST
   (for a wildcard HOST: a name one label below its domain), as a client
   checking the name would see it. */
bool	tls_server_covers(SSL_CTX *def, const char *host);
/* A client context for outbound STARTTLS; VERIFY checks the peer's
   certificate against the system trust store. NULL with the reason in
   ERROR_R. */
SSL_CTX	*tls_client_ctx(bool verify, char error_r[TLS_ERROR_MAX]);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" for
   Received: headers and logs. */
void	tls_describe(SSL *, char *out, size_t outsz);

#endif
