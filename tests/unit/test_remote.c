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
 * outside it.
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

	while (m != NULL && ipc_recv(sock, m, -1) == 1) {
		int r = m->type >= RELAY_CALL ?
		    relay_remote_serve(ra, err, writes_ok, m, sock) :
		    store_remote_serve(s, err, writes_ok, m, sock);

		if (r == -1)
			break;
	}
	free(m);
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
	r = _cmocka_run_group_tests("remote", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
