/*
 * test_keys.c - core/keys.h: popgate-keys (keys_serve on a thread here)
 * loads RSA and ECDSA keys from descriptors and answers their public
 * keys; a TLS server context whose key object forwards to it completes
 * handshakes (TLS 1.3 and 1.2, RSA-PSS, RSA PKCS#1 v1.5, ECDSA) that a
 * client verifies against the certificate; a generation it does not
 * hold, or a popgate-keys gone, fails the handshake without harm; an
 * Ed25519 key is refused by name; malformed requests end popgate-keys,
 * and so do a KEYS_LOAD on the daemon's socket and a signature asked on
 * the owner's; a failed round trip shuts the daemon's socket down (the
 * watcher's cue, no signal);
 * a raw RSA block is signed only when it is a PSS encoding (else the
 * private operation would be a decryption for whoever asks).
 */
#define OPENSSL_SUPPRESS_DEPRECATED	/* RSA_* of the raw block test */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/keys.h"
#include "util/compat.h"

struct fx {
	int			 sv[2];		/* the daemon's */
	int			 own[2];	/* the owner's */
	pthread_t		 th;
	int			 served;	/* keys_serve's result */
	struct keys_client	*kc;
	EVP_PKEY		*key;		/* the real one */
	X509			*cert;
	int			 keyfd;
};

static void *
serve(void *arg)
{
	struct fx *fx = arg;

	fx->served = keys_serve(fx->own[1], fx->sv[1]);
	return NULL;
}

static X509 *
self_signed(EVP_PKEY *k)
{
	X509 *x = X509_new();

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -60));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x),
	    "CN", MBSTRING_ASC, (const unsigned char *)"keys.test", -1, -1,
	    0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
	assert_int_equal(X509_set_pubkey(x, k), 1);
	assert_true(X509_sign(x, k, EVP_PKEY_get_base_id(k) ==
	    EVP_PKEY_ED25519 ? NULL : EVP_sha256()) > 0);
	return x;
}

/* K as PEM in an unlinked temporary file, open for reading. */
static int
key_file(EVP_PKEY *k)
{
	char path[] = "/tmp/popgate-keys-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	f = fdopen(dup(fd), "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL,
	    NULL), 1);
	assert_int_equal(fclose(f), 0);
	return fd;
}

static int
setup_with(void **state, EVP_PKEY *k)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_non_null(k);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
	    0, fx->sv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
	    0, fx->own), 0);
	assert_int_equal(pthread_create(&fx->th, NULL, serve, fx), 0);
	fx->kc = keys_client_new();
	keys_client_set_sock(fx->kc, fx->sv[0]);
	fx->key = k;
	fx->cert = self_signed(k);
	fx->keyfd = key_file(k);
	*state = fx;
	return 0;
}

static int
setup_rsa(void **state)
{
	return setup_with(state, EVP_RSA_gen(2048));
}

static int
setup_ec(void **state)
{
	return setup_with(state, EVP_EC_gen("P-256"));
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	keys_client_free(&fx->kc);	/* closes sv[0]: the server ends */
	assert_int_equal(pthread_join(fx->th, NULL), 0);
	(void)close(fx->sv[1]);
	(void)close(fx->own[0]);
	(void)close(fx->own[1]);
	(void)close(fx->keyfd);
	X509_free(fx->cert);
	EVP_PKEY_free(fx->key);
	free(fx);
	return 0;
}

/* Loads the key as generation GEN and checks its public key. */
static void
load(struct fx *fx, uint32_t gen)
{
	struct keys_loaded *l = calloc(1, sizeof(*l));
	unsigned char dig[KEYS_PUB_DIGEST];
	char err[256];

	assert_non_null(l);
	assert_int_equal(keys_owner_load(fx->own[0], gen, gen, &fx->keyfd, 1, l,
	    err, sizeof(err)), 0);
	assert_int_equal(l->n, 1);
	assert_true(l->key[0].ok);
	assert_int_equal(keys_pub_digest(X509_get0_pubkey(fx->cert), dig), 0);
	assert_memory_equal(l->key[0].pub, dig, sizeof(dig));
	free(l);
}

/* A server context with the certificate and a proxy of GEN. */
static SSL_CTX *
server_ctx(struct fx *fx, uint32_t gen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char err[256];
	EVP_PKEY *pk;

	assert_non_null(ctx);
	pk = keys_proxy_new(fx->kc, X509_get0_pubkey(fx->cert), gen, 0, err,
	    sizeof(err));
	assert_non_null(pk);
	assert_int_equal(SSL_CTX_use_certificate(ctx, fx->cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, pk), 1);
	EVP_PKEY_free(pk);
	return ctx;
}

/* A handshake over a BIO pair; 1 when both ends finished. The client
   trusts the certificate and checks the server's signature. */
static int
handshake(struct fx *fx, SSL_CTX *sctx, int version, const char *sigalgs)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	X509_STORE *st = SSL_CTX_get_cert_store(cctx);
	SSL *c, *s;
	BIO *bc, *bs;
	int i, rc = 0, rs = 0, ok;

	assert_int_equal(X509_STORE_add_cert(st, fx->cert), 1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	assert_int_equal(SSL_CTX_set_min_proto_version(cctx, version), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, version), 1);
	if (sigalgs != NULL)
		assert_int_equal(SSL_CTX_set1_sigalgs_list(cctx, sigalgs), 1);
	c = SSL_new(cctx);
	s = SSL_new(sctx);
	assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(s, bs, bs);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (i = 0; i < 20 && (rc != 1 || rs != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(c);
		if (rs != 1)
			rs = SSL_do_handshake(s);
		if ((rc <= 0 && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ) ||
		    (rs <= 0 && SSL_get_error(s, rs) != SSL_ERROR_WANT_READ))
			break;
	}
	ok = rc == 1 && rs == 1 &&
	    SSL_get_verify_result(c) == X509_V_OK;
	ERR_clear_error();
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	return ok;
}

static void
test_rsa_handshakes(void **state)
{
	struct fx *fx = *state;
	SSL_CTX *ctx;

	load(fx, 1);
	ctx = server_ctx(fx, 1);
	assert_true(handshake(fx, ctx, TLS1_3_VERSION, NULL));	/* PSS */
	assert_true(handshake(fx, ctx, TLS1_2_VERSION, "RSA+SHA256"));
	assert_true(handshake(fx, ctx, TLS1_2_VERSION, "RSA-PSS+SHA256"));
	SSL_CTX_free(ctx);
}

static void
test_ec_handshakes(void **state)
{
	struct fx *fx = *state;
	SSL_CTX *ctx;

	load(fx, 1);
	ctx = server_ctx(fx, 1);
	assert_true(handshake(fx, ctx, TLS1_3_VERSION, NULL));
	assert_true(handshake(fx, ctx, TLS1_2_VERSION, NULL));
	SSL_CTX_free(ctx);
}

/* Generation 2 is not loaded: the handshake fails, the process lives
   on (a later handshake with generation 1 works). */
static void
test_unknown_generation(void **state)
{
	struct fx *fx = *state;
	SSL_CTX *ctx, *other;

	load(fx, 1);
	other = server_ctx(fx, 2);
	assert_false(handshake(fx, other, TLS1_3_VERSION, NULL));
	assert_false(keys_client_broken(fx->kc));
	ctx = server_ctx(fx, 1);
	assert_true(handshake(fx, ctx, TLS1_3_VERSION, NULL));
	SSL_CTX_free(ctx);
	SSL_CTX_free(other);
}

/* A reload (generation 2, keeping 1), then another (3, keeping 2):
   generation 1 is gone, 2 and 3 sign. */
static void
test_generations_kept(void **state)
{
	struct fx *fx = *state;
	struct keys_loaded *l = calloc(1, sizeof(*l));
	SSL_CTX *c1, *c2, *c3;
	char err[256];

	load(fx, 1);
	assert_int_equal(keys_owner_load(fx->own[0], 2, 1, &fx->keyfd, 1, l,
	    err, sizeof(err)), 0);
	assert_int_equal(keys_owner_load(fx->own[0], 3, 2, &fx->keyfd, 1, l,
	    err, sizeof(err)), 0);
	c1 = server_ctx(fx, 1);
	c2 = server_ctx(fx, 2);
	c3 = server_ctx(fx, 3);
	assert_false(handshake(fx, c1, TLS1_3_VERSION, NULL));
	assert_true(handshake(fx, c2, TLS1_3_VERSION, NULL));
	assert_true(handshake(fx, c3, TLS1_3_VERSION, NULL));
	SSL_CTX_free(c1);
	SSL_CTX_free(c2);
	SSL_CTX_free(c3);
	free(l);
}

/* popgate-keys gone: the handshake fails, the client is broken. */
static void
test_gone(void **state)
{
	struct fx *fx = *state;
	SSL_CTX *ctx;

	load(fx, 1);
	ctx = server_ctx(fx, 1);
	assert_int_equal(shutdown(fx->sv[1], SHUT_RDWR), 0);
	assert_false(handshake(fx, ctx, TLS1_3_VERSION, NULL));
	assert_true(keys_client_broken(fx->kc));
	SSL_CTX_free(ctx);
}

/* The raw private operation: a PSS encoding is signed, any other block
   (what a decryption would ask for) refused. */
static void
test_raw_rsa_only_pss(void **state)
{
	struct fx *fx = *state;
	const RSA *real = EVP_PKEY_get0_RSA(fx->key);
	unsigned char em[256], sig[256], back[256], mhash[32];
	char err[256];
	EVP_PKEY *pk;
	RSA *proxy;
	int n;

	load(fx, 1);
	pk = keys_proxy_new(fx->kc, X509_get0_pubkey(fx->cert), 1, 0, err,
	    sizeof(err));
	assert_non_null(pk);
	proxy = (RSA *)EVP_PKEY_get0_RSA(pk);
	assert_non_null(proxy);
	n = RSA_size(real);
	assert_int_equal(n, (int)sizeof(em));
	/* any block below the modulus: refused */
	assert_int_equal(RAND_bytes(em, n), 1);
	em[0] = 0;
	assert_int_equal(RSA_private_encrypt(n, em, sig, proxy,
	    RSA_NO_PADDING), -1);
	assert_false(keys_client_broken(fx->kc));
	/* a PSS encoding of SHA-256 with a salt of 32: signed */
	assert_int_equal(RAND_bytes(mhash, sizeof(mhash)), 1);
	assert_int_equal(RSA_padding_add_PKCS1_PSS_mgf1((RSA *)real, em,
	    mhash, EVP_sha256(), EVP_sha256(), -1), 1);
	assert_int_equal(RSA_private_encrypt(n, em, sig, proxy,
	    RSA_NO_PADDING), n);
	assert_int_equal(RSA_public_decrypt(n, sig, back, (RSA *)real,
	    RSA_NO_PADDING), n);
	assert_memory_equal(back, em, (size_t)n);
	/* one bit flipped where the encoding has zeros (its padding, before
	   the 0x01 and the salt): no */
	em[10] ^= 0x01;
	assert_int_equal(RSA_private_encrypt(n, em, sig, proxy,
	    RSA_NO_PADDING), -1);
	EVP_PKEY_free(pk);
}

static void
test_ed25519_refused(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct keys_client *kc = keys_client_new();
	char err[256];

	(void)state;
	assert_non_null(k);
	assert_null(keys_proxy_new(kc, k, 1, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "ED25519"));
	EVP_PKEY_free(k);
	keys_client_free(&kc);
}

/* A file that is no key: loaded as "not ok" with a reason. */
static void
test_not_a_key(void **state)
{
	struct fx *fx = *state;
	struct keys_loaded *l = calloc(1, sizeof(*l));
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	char err[256];

	assert_int_equal(keys_owner_load(fx->own[0], 1, 1, &fd, 1, l, err,
	    sizeof(err)), 0);
	assert_false(l->key[0].ok);
	assert_true(l->key[0].reason[0] != '\0');
	(void)close(fd);
	free(l);
}

/* After popgate-keys ended: another on fresh sockets, for teardown. */
static void
serve_again(struct fx *fx)
{
	(void)close(fx->sv[1]);
	(void)close(fx->own[0]);
	(void)close(fx->own[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
	    0, fx->sv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
	    0, fx->own), 0);
	keys_client_set_sock(fx->kc, fx->sv[0]);
	assert_int_equal(pthread_create(&fx->th, NULL, serve, fx), 0);
}

/* A request of an unknown type: popgate-keys exits with -1. */
static void
test_malformed_ends_it(void **state)
{
	struct fx *fx = *state;
	struct ipc_out o;

	ipc_out_init(&o);
	ipc_put_u32(&o, 1);
	assert_int_equal(ipc_send(fx->sv[0], 99, 1, &o, NULL, 0), 0);
	ipc_out_free(&o);
	assert_int_equal(pthread_join(fx->th, NULL), 0);
	assert_int_equal(fx->served, -1);
	serve_again(fx);
}

/* KEYS_LOAD on the daemon's socket, well formed and with a real key:
   not loaded, popgate-keys exits with -1 (a daemon taken over cannot
   have it read a file of its choosing). */
static void
test_load_from_the_daemon_ends_it(void **state)
{
	struct fx *fx = *state;
	struct ipc_out o;

	ipc_out_init(&o);
	ipc_put_u32(&o, 1);
	ipc_put_u32(&o, 1);
	ipc_put_u32(&o, 1);
	assert_int_equal(ipc_send(fx->sv[0], KEYS_LOAD, 1, &o, &fx->keyfd,
	    1), 0);
	ipc_out_free(&o);
	assert_int_equal(pthread_join(fx->th, NULL), 0);
	assert_int_equal(fx->served, -1);
	serve_again(fx);
}

/* A signature asked on the owner's socket: the same. */
static void
test_sign_from_the_owner_ends_it(void **state)
{
	struct fx *fx = *state;
	unsigned char digest[32] = { 1 };
	struct ipc_out o;

	load(fx, 1);
	ipc_out_init(&o);
	ipc_put_u32(&o, 1);
	ipc_put_u32(&o, 0);
	ipc_put_bytes(&o, digest, sizeof(digest));
	assert_int_equal(ipc_send(fx->own[0], KEYS_ECDSA, 1, &o, NULL, 0), 0);
	ipc_out_free(&o);
	assert_int_equal(pthread_join(fx->th, NULL), 0);
	assert_int_equal(fx->served, -1);
	serve_again(fx);
}

/* A peer that answers one request with a malformed KEYS_SIGNED. */
static void *
bad_answer(void *arg)
{
	int sock = *(int *)arg;
	struct ipc_msg *m = malloc(sizeof(*m));
	struct ipc_out o;

	assert_non_null(m);
	assert_int_equal(ipc_recv(sock, m, 5000), 1);
	ipc_out_init(&o);
	ipc_put_u32(&o, 7);		/* ok is 0 or 1 */
	assert_int_equal(ipc_send(sock, KEYS_SIGNED, m->id, &o, NULL, 0), 0);
	ipc_out_free(&o);
	free(m);
	return NULL;
}

/* A round trip that fails shuts the daemon's socket down: the watcher
   sees the end (keys_client_ended), and so does popgate-keys, without a
   signal sent by a pid the daemon did not reap. */
static void
test_failed_round_trip_shuts_down(void **state)
{
	struct keys_client *kc = keys_client_new();
	EVP_PKEY *k = EVP_EC_gen("P-256"), *pk;
	unsigned char digest[32] = { 1 }, sig[128];
	unsigned int siglen = sizeof(sig);
	char err[256], byte;
	pthread_t th;
	int sv[2];

	(void)state;
	assert_non_null(k);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
	    0, sv), 0);
	keys_client_set_sock(kc, sv[0]);
	assert_false(keys_client_ended(kc));
	assert_int_equal(pthread_create(&th, NULL, bad_answer, &sv[1]), 0);
	pk = keys_proxy_new(kc, k, 1, 0, err, sizeof(err));
	assert_non_null(pk);
	assert_int_equal(ECDSA_sign(0, digest, sizeof(digest), sig, &siglen,
	    (EC_KEY *)EVP_PKEY_get0_EC_KEY(pk)), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(keys_client_broken(kc));
	assert_true(keys_client_ended(kc));
	/* the peer's end: the end of the connection, at once */
	assert_int_equal(recv(sv[1], &byte, 1, MSG_DONTWAIT), 0);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(k);
	keys_client_free(&kc);
	(void)close(sv[1]);
}

/* An answer left over (of a round trip that timed out) is read and
   dropped by the watcher's check: not the end. */
static void
test_left_over_answer_is_not_the_end(void **state)
{
	struct keys_client *kc = keys_client_new();
	struct ipc_out o;
	char byte;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
	    0, sv), 0);
	keys_client_set_sock(kc, sv[0]);
	ipc_out_init(&o);
	ipc_put_u32(&o, 0);
	ipc_put_text(&o, "late");
	assert_int_equal(ipc_send(sv[1], KEYS_SIGNED, 9, &o, NULL, 0), 0);
	ipc_out_free(&o);
	assert_false(keys_client_ended(kc));
	assert_int_equal(recv(sv[0], &byte, 1, MSG_DONTWAIT), -1);
	assert_int_equal(close(sv[1]), 0);
	assert_true(keys_client_ended(kc));
	keys_client_free(&kc);
}

int
main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup_teardown(test_rsa_handshakes, setup_rsa,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ec_handshakes, setup_ec,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unknown_generation,
		    setup_ec, teardown),
		cmocka_unit_test_setup_teardown(test_generations_kept,
		    setup_ec, teardown),
		cmocka_unit_test_setup_teardown(test_gone, setup_rsa,
		    teardown),
		cmocka_unit_test_setup_teardown(test_raw_rsa_only_pss,
		    setup_rsa, teardown),
		cmocka_unit_test(test_ed25519_refused),
		cmocka_unit_test_setup_teardown(test_not_a_key, setup_ec,
		    teardown),
		cmocka_unit_test_setup_teardown(test_malformed_ends_it,
		    setup_ec, teardown),
		cmocka_unit_test_setup_teardown(
		    test_load_from_the_daemon_ends_it, setup_ec, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sign_from_the_owner_ends_it, setup_ec, teardown),
		cmocka_unit_test(test_failed_round_trip_shuts_down),
		cmocka_unit_test(test_left_over_answer_is_not_the_end),
	};

	return cmocka_run_group_tests_name("keys", t, NULL, NULL);
}
