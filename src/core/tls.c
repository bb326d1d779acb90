/*
 * tls.c - server and client TLS contexts, self-signed certificates, the
 * certificates per host name chosen by SNI.
 *
 * The host contexts of a server context are a table in its ex_data
 * (freed by the ex_data's free callback when the default context goes)
 * and the servername callback's argument: at the ClientHello it looks
 * the name up (exact, then wildcard) and moves the connection to that
 * context with SSL_set_SSL_CTX, which takes its certificate and key.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/tls.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

/* The host names of a server context and their contexts. */
struct sni_host {
	char	 name[256];	/* lower case; "*.example.com" */
	SSL_CTX	*ctx;
};

struct sni_table {
	struct sni_host	*v;
	size_t		 n;
};

void
tls_openssl_error(const char *what, char *out, size_t outsz)
{
	unsigned long e = ERR_get_error();
	char detail[160];

	if (e != 0)
		ERR_error_string_n(e, detail, sizeof(detail));
	else
		(void)str_copy(detail, "unknown error", sizeof(detail));
	ERR_clear_error();
	(void)snprintf(out, outsz, "%s: %s", what, detail);
}

static void
ssl_error(const char *what, char error_r[TLS_ERROR_MAX])
{
	tls_openssl_error(what, error_r, TLS_ERROR_MAX);
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

#define PEM_FILE_MAX	(1024 * 1024)	/* bytes of a certificate chain */

BIO *
tls_read_file(const char *name, int fd, char error_r[TLS_ERROR_MAX])
{
	struct stat st;
	const char *why = NULL;
	char *data;
	size_t got = 0;
	ssize_t n;
	BIO *bio;

	if (fstat(fd, &st) == -1)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_size > PEM_FILE_MAX)
		why = "larger than 1 MiB";
	if (why != NULL) {
		(void)snprintf(error_r, TLS_ERROR_MAX, "%s: %s", name, why);
		return NULL;
	}
	data = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size &&
	    (n = pread(fd, data + got, (size_t)st.st_size - got,
	    (off_t)got)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			(void)snprintf(error_r, TLS_ERROR_MAX, "%s: %s", name,
			    strerror(errno));
			OPENSSL_clear_free(data, (size_t)st.st_size + 1);
			return NULL;
		}
		got += (size_t)n;
	}
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || BIO_write(bio, data, (int)got) != (int)got) {
		BIO_free(bio);
		bio = NULL;
		ssl_error(name, error_r);
	}
	OPENSSL_clear_free(data, (size_t)st.st_size + 1);
	return bio;
}

/* The leaf certificate, then the chain, as
   SSL_CTX_use_certificate_chain_file() reads a file. */
static int
use_chain(SSL_CTX *ctx, const char *name, BIO *bio,
    char error_r[TLS_ERROR_MAX])
{
	X509 *x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
	unsigned long e;

	if (x == NULL || SSL_CTX_use_certificate(ctx, x) != 1) {
		X509_free(x);
		ssl_error(name, error_r);
		return -1;
	}
	X509_free(x);
	if (SSL_CTX_clear_chain_certs(ctx) != 1) {
		ssl_error(name, error_r);
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			ssl_error(name, error_r);
			return -1;
		}
	}
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
		ERR_clear_error();
		return 0;
	}
	ssl_error(name, error_r);
	return -1;
}

static int
use_key(SSL_CTX *ctx, const char *name, BIO *bio,
    char error_r[TLS_ERROR_MAX])
{
	EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	int r = -1;

	if (k != NULL && SSL_CTX_use_PrivateKey(ctx, k) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1)
		r = 0;
	else
		ssl_error(name, error_r);
	EVP_PKEY_free(k);
	return r;
}

SSL_CTX *
tls_server_ctx_files(const struct tls_files *f, char error_r[TLS_ERROR_MAX])
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	BIO *cert = NULL, *key = NULL;

	if (ctx == NULL) {
		ssl_error("TLS context", error_r);
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		ssl_error("TLS context", error_r);
		goto fail;
	}
	if ((cert = tls_read_file(f->cert, f->cert_fd, error_r)) == NULL ||
	    use_chain(ctx, f->cert, cert, error_r) == -1)
		goto fail;
	if (f->pkey != NULL) {
		/* popgate-keys holds the private part: no check of the
		   pair here (its public key was compared already). It
		   signs, it does not decrypt: no RSA key exchange (which
		   has no forward secrecy either). */
		if (SSL_CTX_set_cipher_list(ctx, "DEFAULT:!kRSA") != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, f->pkey) != 1) {
			ssl_error(f->key, error_r);
			goto fail;
		}
	} else if ((key = tls_read_file(f->key, f->key_fd, error_r)) ==
	    NULL || use_key(ctx, f->key, key, error_r) == -1) {
		goto fail;
	}
	BIO_free(cert);
	BIO_free(key);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	(void)SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)"popgate", 7);
	return ctx;
fail:
	BIO_free(cert);
	BIO_free(key);
	SSL_CTX_free(ctx);
	return NULL;
}

/* Opens CERT and KEY into F; -1 with the reason. */
static int
open_files(struct tls_files *f, const char *cert, const char *key,
    char error_r[TLS_ERROR_MAX])
{
	f->cert = cert;
	f->key = key;
	f->key_fd = -1;
	f->pkey = NULL;
	if ((f->cert_fd = open(cert, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (f->key_fd = open(key, O_RDONLY | O_CLOEXEC)) == -1) {
		(void)snprintf(error_r, TLS_ERROR_MAX, "%s: %s",
		    f->cert_fd == -1 ? cert : key, strerror(errno));
		if (f->cert_fd != -1)
			(void)close(f->cert_fd);
		return -1;
	}
	return 0;
}

static void
close_files(struct tls_files *f)
{
	(void)close(f->cert_fd);
	(void)close(f->key_fd);
}

SSL_CTX *
tls_server_ctx(const char *cert, const char *key,
    char error_r[TLS_ERROR_MAX])
{
	struct tls_files f;
	SSL_CTX *ctx;

	if (open_files(&f, cert, key, error_r) == -1)
		return NULL;
	ctx = tls_server_ctx_files(&f, error_r);
	close_files(&f);
	return ctx;
}

static int sni_index = -1;
static pthread_once_t sni_once = PTHREAD_ONCE_INIT;

/* The ex_data's free callback: runs for every SSL_CTX freed, with the
   table only on a default context that has one. */
static void
sni_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct sni_table *t = ptr;
	size_t i;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		SSL_CTX_free(t->v[i].ctx);
	free(t->v);
	free(t);
}

static void
sni_init(void)
{
	sni_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, sni_free);
}

static struct sni_table *
sni_table(SSL_CTX *ctx)
{
	(void)pthread_once(&sni_once, sni_init);
	return sni_index == -1 ? NULL : SSL_CTX_get_ex_data(ctx, sni_index);
}

/* The context for NAME: an exact name first, then a wildcard for its
   first label; NULL when none. */
static SSL_CTX *
sni_find(const struct sni_table *t, const char *name)
{
	char want[256];
	const char *dot;
	size_t i, n;

	if (str_copy(want, name, sizeof(want)) == -1)
		return NULL;
	n = strlen(want);
	if (n > 0 && want[n - 1] == '.')
		want[n - 1] = '\0';
	str_lower(want);
	for (i = 0; i < t->n; i++)
		if (t->v[i].name[0] != '*' && strcmp(t->v[i].name, want) == 0)
			return t->v[i].ctx;
	dot = strchr(want, '.');
	if (dot == NULL || dot == want)
		return NULL;
	for (i = 0; i < t->n; i++)
		if (t->v[i].name[0] == '*' &&
		    strcmp(t->v[i].name + 1, dot) == 0)
			return t->v[i].ctx;
	return NULL;
}

/* The servername callback (at the ClientHello): the context of the name
   the client asked for, else the default one it started with. */
static int
sni_select(SSL *ssl, int *alert, void *arg)
{
	const struct sni_table *t = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	SSL_CTX *ctx;

	(void)alert;
	if (name == NULL || (ctx = sni_find(t, name)) == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	if (SSL_set_SSL_CTX(ssl, ctx) != ctx)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	return SSL_TLSEXT_ERR_OK;
}

int
tls_server_add_host_files(SSL_CTX *def, const char *host,
    const struct tls_files *f, char error_r[TLS_ERROR_MAX])
{
	struct sni_table *t = sni_table(def);
	struct sni_host h;
	size_t i;

	memset(&h, 0, sizeof(h));
	if (sni_index == -1) {
		ssl_error("TLS host names", error_r);
		return -1;
	}
	if (str_copy(h.name, host, sizeof(h.name)) == -1) {
		(void)snprintf(error_r, TLS_ERROR_MAX, "host name too long");
		return -1;
	}
	str_lower(h.name);
	for (i = 0; t != NULL && i < t->n; i++) {
		if (strcmp(t->v[i].name, h.name) == 0) {
			(void)str_copy(error_r, "a second certificate for the "
			    "name", TLS_ERROR_MAX);
			return -1;
		}
	}
	if ((h.ctx = tls_server_ctx_files(f, error_r)) == NULL)
		return -1;
	if (t == NULL) {
		t = xcalloc(1, sizeof(*t));
		if (SSL_CTX_set_ex_data(def, sni_index, t) != 1) {
			free(t);
			SSL_CTX_free(h.ctx);
			ssl_error("TLS host names", error_r);
			return -1;
		}
		SSL_CTX_set_tlsext_servername_callback(def, sni_select);
		SSL_CTX_set_tlsext_servername_arg(def, t);
	}
	t->v = xreallocarray(t->v, t->n + 1, sizeof(*t->v));
	t->v[t->n++] = h;
	return 0;
}

int
tls_server_add_host(SSL_CTX *def, const char *host, const char *cert,
    const char *key, char error_r[TLS_ERROR_MAX])
{
	struct tls_files f;
	int r;

	if (open_files(&f, cert, key, error_r) == -1)
		return -1;
	r = tls_server_add_host_files(def, host, &f, error_r);
	close_files(&f);
	return r;
}

size_t
tls_server_hosts(SSL_CTX *def)
{
	const struct sni_table *t = sni_table(def);

	return t != NULL ? t->n : 0;
}

bool
tls_server_covers(SSL_CTX *def, const char *host)
{
	const struct sni_table *t = sni_table(def);
	SSL_CTX *ctx = t != NULL ? sni_find(t, host) : NULL;
	X509 *x;
	char probe[300];

	/* A wildcard by the name of a label below it, as a client would
	   ask: a certificate for *.DOMAIN covers it. */
	if (strncmp(host, "*.", 2) == 0) {
		if (str_fmt(probe, sizeof(probe), "popgate-check%s",
		    host + 1) == -1)
			return false;
		ctx = t != NULL ? sni_find(t, probe) : NULL;
		host = probe;
	}
	x = SSL_CTX_get0_certificate(ctx != NULL ? ctx : def);
	return x != NULL && X509_check_host(x, host, 0, 0, NULL) == 1;
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
