/*
 * test_remote.c - the store and the relay table of popgate-lookup
 * through their links (store_remote.c, relay_remote.c): a real SQLite
 * store and relay table in a temporary directory, served by a thread per
 * connection as popgate-lookup serves them, used through the same calls
 * the daemon makes.
 *
 * What the network process sees must be what it saw with the store in
 * hand, except that password hashes and token digests read as "", that
 * changes are refused outside a token-checked API request, and that a
 * transaction whose connection was lost fails instead of going on
 * outside it. DKIM private keys read as "" too: popgate-lookup makes
 * the pairs (STORE_DKIM_MAKE) and signs the digests the daemon sends
 * (DKIM_SIGN), signatures identical to those made with the key in hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policy/policy.h"
#include "relay/relay_auth.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/ipc.h"
#include "util/str.h"
#include "util/compat.h"

#define NOW	1700000000
#define HASH	"$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46" \
	"nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1"

static int setup(void **state);
static int teardown(void **state);

#define TEST_SETUP setup
#define TEST_TEARDOWN teardown
#include "testlib.h"

struct fx {
	char			 dir[64];
	struct ipc_link		*link;
	struct store		*s;		/* remote */
	struct relay_auth	*ra;		/* remote */
};

static char served_dir[64];
static _Atomic bool writes_ok;
static _Atomic int last_server_fd = -1;

/* One connection, as popgate-lookup's thread serves it. */
static void *
serve(void *arg)
{
	int sock = (int)(intptr_t)arg;
	struct ipc_msg *m = malloc(sizeof(*m));
	static struct errbuf eb;
	const char *err = "";
	struct store *s = store_open("sqlite", served_dir, &eb, &err);
	struct relay_auth *ra = relay_open("local", served_dir, &eb, &err);

	struct backends b;

	memset(&b, 0, sizeof(b));
	b.store = s;
	while (m != NULL && ipc_recv(sock, m, -1) == 1) {
		int r = m->type >= LOGIN_CHECK ?
		    policy_lookup_serve(&b, m, sock) :
		    m->type >= RELAY_CALL ?
		    relay_remote_serve(ra, err, writes_ok, m, sock) :
		    store_remote_serve(s, err, writes_ok, m, sock);

		if (r == -1)
			break;
	}
	free(m);
	b.store = NULL;
	store_close(&s);
	relay_close(&ra);
	(void)close(sock);
	return NULL;
}

static int
connect_served(void *arg)
{
	pthread_t t;
	int sv[2];

	(void)arg;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	last_server_fd = sv[1];
	if (pthread_create(&t, NULL, serve, (void *)(intptr_t)sv[1]) != 0 ||
	    pthread_detach(t) != 0)
		fail_msg("pthread_create");
	return sv[0];
}

#define OK(call)                                                           \
	do {                                                               \
		int r_ = (call);                                           \
		if (r_ != 0)                                               \
			fail_msg("%s: %d %s", #call, r_,                   \
			    err != NULL ? err : "");                       \
	} while (0)

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	static struct errbuf eb;
	const char *err = NULL;
	struct store *local;

	if (fx == NULL)
		return -1;
	memcpy(fx->dir, "/tmp/popgate-test-remote-XXXXXX", 32);
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	(void)str_copy(served_dir, fx->dir, sizeof(served_dir));
	clock_set_fake(NOW);
	if ((local = store_open("sqlite", fx->dir, &eb, &err)) == NULL)
		fail_msg("store_open: %s", err);
	OK(store_migrate(local, &err));
	OK(store_customer_add(local, "acme", &err));
	OK(store_domain_add(local, "example.com", "acme", &err));
	OK(store_mailbox_add(local, "ann@example.com", HASH, 1048576, &err));
	OK(store_alias_add(local, "info@example.com", "ann@example.com",
	    &err));
	store_close(&local);
	writes_ok = false;
	fx->link = ipc_link_new(connect_served, NULL, NULL);
	fx->s = store_open_remote(fx->link);
	fx->ra = relay_open_remote(fx->link);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char path[384];
	DIR *d;
	struct dirent *de;

	store_close(&fx->s);
	relay_close(&fx->ra);
	ipc_link_free(&fx->link);
	if ((d = opendir(fx->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			(void)snprintf(path, sizeof(path), "%s/%s", fx->dir,
			    de->d_name);
			(void)unlink(path);
		}
		(void)closedir(d);
	}
	(void)rmdir(fx->dir);
	free(fx);
	return 0;
}

static void
test_reads(void **state)
{
	struct fx *fx = *state;
	struct store_mailbox m;
	struct store_customer c;
	struct strlist t;
	const char *err = NULL;

	assert_int_equal(store_mailbox_get(fx->s, "Ann@Example.COM", &m, &err),
	    1);
	assert_string_equal(m.address, "ann@example.com");
	assert_string_equal(m.customer, "acme");
	assert_int_equal(m.quota, 1048576);
	assert_int_equal(m.created, NOW);
	assert_false(m.suspended);
	/* The hash never leaves popgate-lookup. */
	assert_string_equal(m.hash, "");
	assert_int_equal(store_mailbox_get(fx->s, "bob@example.com", &m,
	    &err), 0);
	assert_int_equal(store_customer_get(fx->s, "acme", &c, &err), 1);
	assert_int_equal(c.ndomains, 1);
	assert_int_equal(c.nmailboxes, 1);
	strlist_init(&t);
	assert_int_equal(store_alias_targets(fx->s, "info@example.com", &t,
	    &err), 1);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.v[0], "ann@example.com");
	strlist_free(&t);
	assert_int_equal(store_schema_version(fx->s, &err), 4);
}

static void
test_writes_need_an_api_request(void **state)
{
	struct fx *fx = *state;
	struct store_customer c;
	const char *err = NULL;

	assert_int_equal(store_customer_add(fx->s, "beta", &err), -1);
	assert_non_null(strstr(err, "only for an API request"));
	assert_int_equal(store_customer_get(fx->s, "beta", &c, &err), 0);
	writes_ok = true;
	OK(store_customer_add(fx->s, "beta", &err));
	assert_int_equal(store_customer_get(fx->s, "beta", &c, &err), 1);
	/* A refusal of the store comes back as one, with its words. */
	assert_int_equal(store_customer_add(fx->s, "beta", &err),
	    STORE_REFUSED);
	assert_non_null(strstr(err, "exists"));
}

static void
count_one(const struct store_mailbox *m, void *arg)
{
	assert_string_equal(m->hash, "");
	(*(size_t *)arg)++;
}

static void
test_many_rows(void **state)
{
	struct fx *fx = *state;
	const char *err = NULL;
	char a[64];
	size_t n = 0;
	int i;

	writes_ok = true;
	OK(store_begin(fx->s, &err));
	for (i = 0; i < 3000; i++) {
		(void)snprintf(a, sizeof(a), "user%04d@example.com", i);
		OK(store_mailbox_add(fx->s, a, HASH, 0, &err));
	}
	OK(store_commit(fx->s, &err));
	OK(store_mailbox_list(fx->s, NULL, count_one, &n, &err));
	assert_int_equal(n, 3001);	/* several STORE_ROWS messages */
}

static void
test_lost_transaction(void **state)
{
	struct fx *fx = *state;
	struct store_customer c;
	const char *err = NULL;

	writes_ok = true;
	OK(store_begin(fx->s, &err));
	OK(store_customer_add(fx->s, "gamma", &err));
	/* popgate-lookup restarts: the connection ends. */
	(void)shutdown(last_server_fd, SHUT_RDWR);
	/* Not sent again on a new connection, where it would run alone. */
	assert_int_equal(store_customer_add(fx->s, "delta", &err), -1);
	assert_non_null(strstr(err, "lookup process is unavailable"));
	assert_int_equal(store_customer_add(fx->s, "epsilon", &err), -1);
	assert_non_null(strstr(err, "restarted during the transaction"));
	assert_int_equal(store_commit(fx->s, &err), -1);
	assert_non_null(strstr(err, "restarted during the transaction"));
	/* Nothing of it stayed, and the next call works on a new one. */
	assert_int_equal(store_customer_get(fx->s, "gamma", &c, &err), 0);
	assert_int_equal(store_customer_get(fx->s, "delta", &c, &err), 0);
	assert_int_equal(store_customer_get(fx->s, "epsilon", &c, &err), 0);
	assert_int_equal(store_customer_get(fx->s, "acme", &c, &err), 1);
}

static void
test_relay(void **state)
{
	struct fx *fx = *state;
	struct relay_entry e, *v = NULL;
	struct relay_hold h = { 1, 1, 1, 10, 0, 0 };
	struct netaddr a;
	const char *err = NULL;
	uint64_t msgs, rcpts;
	size_t n = 0;

	memset(&e, 0, sizeof(e));
	(void)str_copy(e.key, "192.0.2.7", sizeof(e.key));
	(void)str_copy(e.customer, "acme", sizeof(e.customer));
	(void)str_copy(e.mailbox, "ann@example.com", sizeof(e.mailbox));
	(void)str_copy(e.client, "192.0.2.7", sizeof(e.client));
	(void)str_copy(e.listener, "pop3", sizeof(e.listener));
	e.opened = NOW;
	e.expires = NOW + 5400;
	assert_int_equal(relay_record(fx->ra, &e, &err), -1);
	assert_non_null(strstr(err, "only for a login or an API request"));
	writes_ok = true;
	OK(relay_record(fx->ra, &e, &err));
	assert_int_equal(net_addr_parse("192.0.2.7", &a), 0);
	assert_int_equal(relay_lookup(fx->ra, &a, 64, NOW, &v, &n, &err), 1);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].customer, "acme");
	assert_string_equal(v[0].listener, "pop3");
	assert_int_equal(v[0].expires, NOW + 5400);
	free(v);
	assert_int_equal(relay_rate_hold(fx->ra, "acme", NOW, &h, &err), 1);
	assert_int_equal(relay_rate_hold(fx->ra, "acme", NOW, &h, &err), 0);
	assert_int_equal(h.had_msgs, 1);
	OK(relay_rate_get(fx->ra, "acme", NOW, &msgs, &rcpts, &err));
	assert_int_equal(msgs, 1);
	assert_int_equal(rcpts, 1);
	assert_int_equal(relay_revoke(fx->ra, NULL, "acme", &err), 1);
}

static void
pem_of(const struct store_dkim_key *k, void *arg)
{
	struct strlist *l = arg;

	strlist_add(l, k->private_key);
}

static void
sel_of(const struct store_dkim_key *k, void *arg)
{
	strlist_add(arg, k->selector);
}

#define MSG	"From: Ann <ann@example.com>\nTo: bob@example.org\n" \
	"Subject: remote\n\nHello,\n  world  \n"

/* The fields policy_dkim_sign() makes for MSG with B, in one second
   with those of LOCAL, so that both have the same t=. */
static void
sign_both(struct backends *b, struct backends *local, struct buf *rem,
    struct buf *loc)
{
	char why[DKIM_ERROR_MAX];
	time_t t0;
	int i;

	for (i = 0; i < 5; i++) {
		buf_reset(rem);
		buf_reset(loc);
		t0 = time(NULL);
		assert_int_equal(policy_dkim_sign(b, "example.com", NULL, MSG,
		    strlen(MSG), rem, why), 1);
		assert_int_equal(policy_dkim_sign(local, "example.com", NULL,
		    MSG, strlen(MSG), loc, why), 1);
		if (time(NULL) == t0)
			return;
	}
	fail_msg("no second long enough to sign twice");
}

/* A DKIM_SIGN of SEL (ALG) sent raw, DIGEST_LEN octets: the result of
   its DKIM_SIGNED, -1 when the connection ended instead. */
static int
raw_sign(struct fx *fx, const char *sel, uint32_t alg, size_t digest_len)
{
	unsigned char md[DKIM_HASH_LEN + 1];
	struct ipc_out out;
	struct ipc_in in;
	uint32_t result;
	int r;

	memset(md, 7, sizeof(md));
	ipc_out_init(&out);
	ipc_put_text(&out, "example.com");
	ipc_put_text(&out, sel);
	ipc_put_u32(&out, alg);
	ipc_put_bytes(&out, md, digest_len);
	r = ipc_link_send(fx->link, DKIM_SIGN, 0, &out);
	ipc_out_free(&out);
	assert_int_equal(r, 0);
	if (ipc_link_recv(fx->link, 5000) == -1)
		return -1;
	assert_int_equal(fx->link->m->type, DKIM_SIGNED);
	ipc_in_init(&in, fx->link->m);
	assert_int_equal(ipc_get_u32(&in, &result), 0);
	return (int)result;
}

static void
test_dkim(void **state)
{
	struct fx *fx = *state;
	static struct errbuf eb;
	struct backends b, local;
	struct store_dkim_key k;
	struct strlist pems, sels;
	struct buf rem, loc;
	char why[DKIM_ERROR_MAX];
	const char *err = NULL;
	int rsa;

	/* Made in popgate-lookup, and only for an API request. */
	assert_int_equal(store_dkim_make(fx->s, "example.com", &err), -1);
	assert_non_null(strstr(err, "only for an API request"));
	writes_ok = true;
	OK(store_dkim_make(fx->s, "Example.COM", &err));
	/* Not even an API request adds a key the daemon made up. */
	memset(&k, 0, sizeof(k));
	(void)str_copy(k.domain, "example.com", sizeof(k.domain));
	(void)str_copy(k.selector, "mine", sizeof(k.selector));
	(void)str_copy(k.algorithm, "ed25519-sha256", sizeof(k.algorithm));
	(void)str_copy(k.private_key, "-----BEGIN PRIVATE KEY-----",
	    sizeof(k.private_key));
	(void)str_copy(k.public_key, "AAAA", sizeof(k.public_key));
	k.active = true;
	assert_int_equal(store_dkim_add(fx->s, &k, &err), -1);
	assert_non_null(strstr(err, "never sent to it"));
	writes_ok = false;

	/* The daemon's view: two keys, no private half. */
	strlist_init(&pems);
	OK(store_dkim_list(fx->s, "example.com", true, pem_of, &pems, &err));
	assert_int_equal(pems.n, 2);
	assert_string_equal(pems.v[0], "");
	assert_string_equal(pems.v[1], "");
	strlist_free(&pems);

	/* The same signatures as with the keys in hand. */
	memset(&b, 0, sizeof(b));
	b.link = fx->link;
	b.store = fx->s;
	memset(&local, 0, sizeof(local));
	local.store = store_open("sqlite", fx->dir, &eb, &err);
	assert_non_null(local.store);
	strlist_init(&pems);
	OK(store_dkim_list(local.store, "example.com", true, pem_of, &pems,
	    &err));
	assert_int_equal(pems.n, 2);
	assert_non_null(strstr(pems.v[0], "PRIVATE KEY"));
	strlist_free(&pems);
	buf_init(&rem, BUF_UNLIMITED);
	buf_init(&loc, BUF_UNLIMITED);
	sign_both(&b, &local, &rem, &loc);
	assert_int_equal(rem.len, loc.len);
	assert_memory_equal(rem.data, loc.data, loc.len);
	assert_non_null(strstr(buf_cstr(&rem), "a=rsa-sha256"));
	assert_non_null(strstr(buf_cstr(&rem), "a=ed25519-sha256"));

	/* popgate-lookup signs with an active key of the domain only, of
	   the algorithm named. */
	strlist_init(&sels);
	OK(store_dkim_list(fx->s, "example.com", true, sel_of, &sels, &err));
	assert_int_equal(sels.n, 2);
	rsa = sels.v[0][strlen(sels.v[0]) - 1] == 'r' ? 0 : 1;
	assert_int_equal(raw_sign(fx, sels.v[rsa], DKIM_RSA_SHA256,
	    DKIM_HASH_LEN), 1);
	assert_int_equal(raw_sign(fx, sels.v[rsa], DKIM_ED25519_SHA256,
	    DKIM_HASH_LEN), 0);
	assert_int_equal(raw_sign(fx, "nosuch", DKIM_ED25519_SHA256,
	    DKIM_HASH_LEN), 0);
	OK(store_dkim_retire(local.store, "example.com", NOW, &err));
	assert_int_equal(raw_sign(fx, sels.v[rsa], DKIM_RSA_SHA256,
	    DKIM_HASH_LEN), 0);
	assert_int_equal(raw_sign(fx, sels.v[1 - rsa], DKIM_ED25519_SHA256,
	    DKIM_HASH_LEN), 0);
	strlist_free(&sels);
	assert_int_equal(policy_dkim_sign(&b, "example.com", NULL, MSG,
	    strlen(MSG), &rem, why), 0);
	/* A digest of another length ends the connection. */
	assert_int_equal(raw_sign(fx, "x", DKIM_ED25519_SHA256,
	    DKIM_HASH_LEN + 1), -1);
	assert_int_equal(raw_sign(fx, "x", 2, DKIM_HASH_LEN), -1);
	buf_free(&rem);
	buf_free(&loc);
	store_close(&local.store);
}

int
main(void)
{
	int r;

	add_test("reads as with the store in hand, without the hash",
	    test_reads, NULL);
	add_test("changes only in an API request", test_writes_need_an_api_request,
	    NULL);
	add_test("lists over several messages", test_many_rows, NULL);
	add_test("a transaction whose connection was lost", test_lost_transaction,
	    NULL);
	add_test("relay table calls", test_relay, NULL);
	add_test("dkim: made and used by popgate-lookup", test_dkim, NULL);
	r = _cmocka_run_group_tests("remote", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
