/*
 * test_ops.c - the operations' precondition (ops.h ops_expect_fn, the
 * API's If-Match): called by each change of an existing object inside
 * the change's transaction, after the object is found and before it
 * changes; a "no" refuses with OPS_PRECONDITION and changes nothing, a
 * failure to read is OPS_FAILED; reads and additions never call it.
 *
 * A fresh SQLite store per test: customer acme with example.com, the
 * mailbox ann@example.com (quota 1 MiB) and the alias info@example.com.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <unistd.h>

#include "ops/ops.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/str.h"
#include "util/compat.h"

#define NOW	1700000000
#define HASH	"$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46" \
	"nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1"
#define HASH2	"$2b$05$CCCCCCCCCCCCCCCCCCCCC." \
	"E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"

static int setup(void **state);
static int teardown(void **state);

#define TEST_SETUP setup
#define TEST_TEARDOWN teardown
#include "testlib.h"

struct fx {
	char		 dir[64];
	struct store	*s;
	const void	*row;
	/* what the precondition saw and says */
	int		 answer;	/* 1, 0 or -1 */
	unsigned	 calls;
	bool		 in_transaction;
	bool		 suspended_seen;
};

static int
setup(void **state)
{
	static struct errbuf eb;
	struct fx *fx = calloc(1, sizeof(*fx));
	const char *err = NULL;

	if (fx == NULL)
		return -1;
	fx->row = *state;
	memcpy(fx->dir, "/tmp/popgate-test-ops-XXXXXX", 29);
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	clock_set_fake(NOW);
	if ((fx->s = store_open("sqlite", fx->dir, &eb, &err)) == NULL ||
	    store_migrate(fx->s, &err) != 0)
		fail_msg("store: %s", err);
	assert_int_equal(store_customer_add(fx->s, "acme", &err), 0);
	assert_int_equal(store_domain_add(fx->s, "example.com", "acme", &err),
	    0);
	assert_int_equal(store_mailbox_add(fx->s, "ann@example.com", HASH,
	    1048576, &err), 0);
	assert_int_equal(store_alias_add(fx->s, "info@example.com",
	    "ann@example.com", &err), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char path[512];
	struct dirent *de;
	DIR *d;

	store_close(&fx->s);
	if ((d = opendir(fx->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			(void)snprintf(path, sizeof(path), "%s/%s", fx->dir,
			    de->d_name);
			(void)unlink(path);
		}
		(void)closedir(d);
	}
	(void)rmdir(fx->dir);
	clock_set_fake(0);
	free(fx);
	return 0;
}

/* The precondition: records whether the change's transaction is open
   (a second BEGIN on the handle fails inside one) and what the store
   holds then, and answers FX->answer. */
static int
expect(struct store *s, void *arg, char *why, size_t whysz)
{
	struct fx *fx = arg;
	struct store_customer cu;
	const char *err;

	fx->calls++;
	fx->in_transaction = store_begin(s, &err) == -1;
	if (!fx->in_transaction)
		store_rollback(s);
	fx->suspended_seen = store_customer_get(s, "acme", &cu, &err) == 1 &&
	    cu.suspended;
	if (fx->answer != 1)
		(void)str_copy(why, fx->answer == 0 ? "stale tag" :
		    "cannot read", whysz);
	return fx->answer;
}

static struct ops_actor
actor(struct fx *fx)
{
	struct ops_actor a = { .customer = NULL, .who = "test" };

	a.expect = expect;
	a.expect_arg = fx;
	return a;
}

/* One change of the objects of the fixture. */
enum what { SUSPEND, CUSTOMER_DELETE, DOMAIN_DELETE, MAILBOX_UPDATE,
	MAILBOX_DELETE, ALIAS_DELETE, NWHAT };
static const char *const what_names[] = { "suspend", "customer delete",
	"domain delete", "mailbox update", "mailbox delete", "alias delete" };

static void
run(struct fx *fx, enum what w, struct ops_result *r)
{
	struct ops_actor a = actor(fx);
	uint64_t quota = 2048;

	switch (w) {
	case SUSPEND:
		ops_customer_set_suspended(fx->s, NULL, &a, "acme", true, r);
		break;
	case CUSTOMER_DELETE:
		ops_customer_delete(fx->s, NULL, &a, "acme", true, r);
		break;
	case DOMAIN_DELETE:
		ops_domain_delete(fx->s, &a, "example.com", true, r);
		break;
	case MAILBOX_UPDATE:
		ops_mailbox_update(fx->s, &a, "ann@example.com", HASH2, &quota,
		    r);
		break;
	case MAILBOX_DELETE:
		ops_mailbox_delete(fx->s, &a, "ann@example.com", r);
		break;
	default:
		ops_alias_delete(fx->s, &a, "info@example.com", NULL, 0, r);
		break;
	}
}

/* The fixture as it was set up, untouched. */
static void
assert_unchanged(struct fx *fx)
{
	struct store_customer cu;
	struct store_domain d;
	struct store_mailbox m;
	struct strlist t;
	const char *err;

	assert_int_equal(store_customer_get(fx->s, "acme", &cu, &err), 1);
	assert_false(cu.suspended);
	assert_int_equal(store_domain_get(fx->s, "example.com", &d, &err), 1);
	assert_int_equal(store_mailbox_get(fx->s, "ann@example.com", &m,
	    &err), 1);
	assert_string_equal(m.hash, HASH);
	assert_int_equal(m.quota, 1048576);
	strlist_init(&t);
	assert_int_equal(store_alias_targets(fx->s, "info@example.com", &t,
	    &err), 1);
	strlist_free(&t);
}

struct row {
	const char	*name;
	enum what	 what;
	int		 answer;
};

static void
test_refused(void **state)
{
	struct fx *fx = *state;
	const struct row *row = fx->row;
	struct ops_result r;

	fx->answer = row->answer;
	run(fx, row->what, &r);
	assert_int_equal(fx->calls, 1);
	assert_true(fx->in_transaction);
	assert_int_equal(r.status, row->answer == 0 ? OPS_PRECONDITION :
	    OPS_FAILED);
	assert_string_equal(r.error, row->answer == 0 ? "stale tag" :
	    "cannot read");
	assert_int_equal(r.revoked, 0);
	assert_unchanged(fx);
}

static void
test_allowed(void **state)
{
	struct fx *fx = *state;
	const struct row *row = fx->row;
	struct store_mailbox m;
	struct ops_result r;
	const char *err;

	fx->answer = 1;
	run(fx, row->what, &r);
	assert_int_equal(r.status, OPS_OK);
	assert_int_equal(fx->calls, 1);
	assert_true(fx->in_transaction);
	/* the check came before the change */
	assert_false(fx->suspended_seen);
	if (row->what == MAILBOX_UPDATE) {
		/* both in the one change */
		assert_int_equal(store_mailbox_get(fx->s, "ann@example.com",
		    &m, &err), 1);
		assert_string_equal(m.hash, HASH2);
		assert_int_equal(m.quota, 2048);
	}
}

/* Reads, additions and a change of nothing there never ask. */
static void
test_not_asked(void **state)
{
	struct fx *fx = *state;
	struct ops_actor a = actor(fx);
	struct store_customer cu;
	struct ops_result r;

	fx->answer = 0;
	ops_customer_get(fx->s, &a, "acme", &cu, &r);
	assert_int_equal(r.status, OPS_OK);
	ops_customer_add(fx->s, &a, "beta", &r);
	assert_int_equal(r.status, OPS_OK);
	ops_domain_add(fx->s, &a, "beta.example", "beta", &r);
	assert_int_equal(r.status, OPS_OK);
	ops_customer_set_suspended(fx->s, NULL, &a, "nobody", true, &r);
	assert_int_equal(r.status, OPS_NOT_FOUND);
	ops_mailbox_delete(fx->s, &a, "nobody@example.com", &r);
	assert_int_equal(r.status, OPS_NOT_FOUND);
	assert_int_equal(fx->calls, 0);
	/* without one, a change is made as before */
	a.expect = NULL;
	ops_customer_set_suspended(fx->s, NULL, &a, "acme", true, &r);
	assert_int_equal(r.status, OPS_OK);
	assert_int_equal(fx->calls, 0);
}

static struct row rows[NWHAT * 3];
static char names[NWHAT * 3][64];

int
main(void)
{
	size_t i, n = 0;
	int r, w, k;
	static const int answers[] = { 0, -1, 1 };

	for (w = 0; w < NWHAT; w++) {
		for (k = 0; k < 3; k++, n++) {
			(void)str_fmt(names[n], sizeof(names[n]), "%s: %s",
			    what_names[w], answers[k] == 0 ? "stale" :
			    answers[k] == -1 ? "read failure" : "holds");
			rows[n].name = names[n];
			rows[n].what = (enum what)w;
			rows[n].answer = answers[k];
		}
	}
	for (i = 0; i < n; i++)
		add_test(rows[i].name, rows[i].answer == 1 ? test_allowed :
		    test_refused, &rows[i]);
	add_test("reads and additions do not ask", test_not_asked, NULL);
	r = _cmocka_run_group_tests("ops", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
