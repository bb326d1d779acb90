/*
 * tls.c - server and client TLS contexts, self-signed certificates.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/tls.h"
#include "util/str.h"
#include "util/compat.h"

/* "WHAT: OpenSSL's first queued error" into ERROR_R; the queue is
   emptied. */
static void
ssl_error(const char *what, char error_r[TLS_ERROR_MAX])
{
	unsigned long e = ERR_get_error();
	char detail[160];

	if (e != 0)
		ERR_error_string_n(e, detail, sizeof(detail));
	else
		(void)str_copy(detail, "unknown error", sizeof(detail));
	ERR_clear_error();
	(void)snprintf(error_r, TLS_ERROR_MAX, "%s: %s", what, detail);
}

static void
errno_error(char error_r[TLS_ERROR_MAX])
{
	(void)str_copy(error_r, strerror(errno), TLS_ERROR_MAX);
}

static int
add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	int r;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ex == NULL)
		return -1;
	r = X509_add_ext(cert, ex, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ex);
	return r;
}

/* Opens PATH for writing with MODE, replacing any file. */
static FILE *
open_mode(const char *path, mode_t mode)
{
	int fd;
	FILE *f;

	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd == -1)
		return NULL;
	f = fdopen(fd, "w");
	if (f == NULL)
		(void)close(fd);
	return f;
}

/* Version 3, a random positive serial, valid from an hour ago for ten
   years, KEY's public key. 0, or -1 with ERROR_R. */
static int
cert_fields(X509 *cert, EVP_PKEY *key, char error_r[TLS_ERROR_MAX])
{
	unsigned char serial[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(serial, sizeof(serial)) != 1) {
		ssl_error("certificate", error_r);
		return -1;
	}
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ok = bn != NULL && X509_set_version(cert, 2) == 1 &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL &&
	    X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 86400) !=
	    NULL && X509_set_pubkey(cert, key) == 1;
	if (!ok)
		ssl_error("certificate fields", error_r);
	BN_free(bn);
	return ok ? 0 : -1;
}

/* Subject and issuer CN=HOSTNAME, the names it serves (HOSTNAME,
   localhost and the loopback addresses) and a server's key usage. 0, or
   -1 with ERROR_R. */
static int
cert_names(X509 *cert, const char *hostname, char error_r[TLS_ERROR_MAX])
{
	X509_NAME *name = X509_get_subject_name(cert);
	char san[600];

	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)hostname, -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"popgate self-signed", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(cert, name) != 1) {
		ssl_error("certificate name", error_r);
		return -1;
	}
	if (str_fmt(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1,"
	    "IP:::1", hostname) == -1 ||
	    add_ext(cert, NID_subject_alt_name, san) == -1 ||
	    add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") == -1 ||
	    add_ext(cert, NID_key_usage, "critical,digitalSignature") == -1 ||
	    add_ext(cert, NID_ext_key_usage, "serverAuth") == -1) {
		ssl_error("certificate extensions", error_r);
		return -1;
	}
	return 0;
}

/* The self-signed certificate of KEY for HOSTNAME; NULL with ERROR_R. */
static X509 *
new_cert(EVP_PKEY *key, const char *hostname, char error_r[TLS_ERROR_MAX])
{
	X509 *cert = X509_new();

	if (cert == NULL) {
		ssl_error("certificate", error_r);
		return NULL;
	}
	if (cert_fields(cert, key, error_r) == -1 ||
	    cert_names(cert, hostname, error_r) == -1)
		goto fail;
	if (X509_sign(cert, key, EVP_sha256()) == 0) {
		ssl_error("signing", error_r);
		goto fail;
	}
	return cert;
fail:
	X509_free(cert);
	return NULL;
}

/* Writes KEY, or CERT when KEY is NULL, as PEM to a new file PATH of
   MODE, on disk when it returns 0; -1 with ERROR_R. */
static int
write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert,
    char error_r[TLS_ERROR_MAX])
{
	FILE *f = open_mode(path, mode);
	int ok;

	if (f == NULL) {
		errno_error(error_r);
		return -1;
	}
	if (key != NULL)
		ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL,
		    NULL) == 1;
	else
		ok = PEM_write_X509(f, cert) == 1;
	if (!ok) {
		ssl_error(key != NULL ? "writing the key" :
		    "writing the certificate", error_r);
		goto fail;
	}
	if (fflush(f) == EOF || fsync(fileno(f)) == -1) {
		errno_error(error_r);
		goto fail;
	}
	if (fclose(f) == EOF) {
		errno_error(error_r);
		return -1;
	}
	return 0;
fail:
	(void)fclose(f);
	return -1;
}

int
tls_make_selfsigned(const char *hostname, const char *cert_path,
    const char *key_path, char error_r[TLS_ERROR_MAX])
{
	EVP_PKEY *key;
	X509 *cert;
	int r = -1;

	key = EVP_EC_gen("P-256");
	if (key == NULL) {
		ssl_error("key generation", error_r);
		return -1;
	}
	cert = new_cert(key, hostname, error_r);
	if (cert != NULL &&
	    write_pem(key_path, 0600, key, NULL, error_r) == 0 &&
	    write_pem(cert_path, 0644, NULL, cert, error_r) == 0)
		r = 0;
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}

SSL_CTX *
tls_server_ctx(const char *cert, const char *key,
    char error_r[TLS_ERROR_MAX])
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		ssl_error("TLS context", error_r);
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_error(cert, error_r);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ssl_error(key, error_r);
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	(void)SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)"popgate", 7);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_client_ctx(bool verify, char error_r[TLS_ERROR_MAX])
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		ssl_error("TLS client context", error_r);
		return NULL;
	}
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (verify) {
		if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
			ssl_error("trust store", error_r);
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
}

void
tls_describe(SSL *ssl, char *out, size_t outsz)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	int alg = 0, bits = c != NULL ? SSL_CIPHER_get_bits(c, &alg) : 0;

	(void)snprintf(out, outsz, "%s with cipher %s (%d/%d bits)",
	    SSL_get_version(ssl), c != NULL ? SSL_CIPHER_get_name(c) : "none",
	    bits, alg);
}
