/*
 * test_store.c - the account store (src/store/store.c + the SQLite
 * backend).
 *
 * Every test gets a fresh store in its own temporary directory, filled
 * with a small fixture (customers acme and beta, domains example.com and
 * beta.example, the mailbox ann@example.com and the alias
 * info@example.com -> ann@example.com) and a frozen clock. Refusals are
 * table-driven: each row names the change, the expected result code and
 * the EXACT message, and checks afterwards that nothing changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <unistd.h>

#include <sqlite3.h>

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


/* ---- fixture ---- */

struct fx {
	char		 dir[64];
	struct store	*s;
	const void	*row;	/* the table row, for table tests */
};

/* CALL must succeed; its error text is in the caller's ERR. */
#define OK(call)                                                           \
	do {                                                               \
		int r_ = (call);                                           \
		if (r_ != 0)                                               \
			fail_msg("%s: %d %s", #call, r_,                   \
			    err != NULL ? err : "");                       \
	} while (0)

static struct store *
open_store(const char *dir)
{
	static struct errbuf eb;
	const char *err = NULL;
	struct store *s = store_open("sqlite", dir, &eb, &err);

	if (s == NULL)
		fail_msg("store_open: %s", err);
	return s;
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	const char *err = NULL;

	if (fx == NULL)
		return -1;
	fx->row = *state;
	memcpy(fx->dir, "/tmp/popgate-test-store-XXXXXX", 31);
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	clock_set_fake(NOW);
	fx->s = open_store(fx->dir);
	assert_int_equal(store_schema_version(fx->s, &err), 0);
	if (store_migrate(fx->s, &err) != 0)
		fail_msg("migrate: %s", err);
	assert_int_equal(store_customer_add(fx->s, "acme", &err), 0);
	assert_int_equal(store_customer_add(fx->s, "beta", &err), 0);
	assert_int_equal(store_domain_add(fx->s, "example.com", "acme", &err),
	    0);
	assert_int_equal(store_domain_add(fx->s, "beta.example", "beta",
	    &err), 0);
	assert_int_equal(store_mailbox_add(fx->s, "ann@example.com", HASH,
	    1048576, &err), 0);
	assert_int_equal(store_alias_add(fx->s, "info@example.com",
	    "ann@example.com", &err), 0);
	*state = fx;
	return 0;
}

static void
rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		(void)unlink(path);
	}
	(void)closedir(d);
	(void)rmdir(dir);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	store_close(&fx->s);
	rm_dir(fx->dir);
	clock_set_fake(0);
	free(fx);
	return 0;
}

/* ---- snapshots: everything in the store as text ---- */

static void
cb_customer(const struct store_customer *c, void *arg)
{
	char line[256];

	(void)snprintf(line, sizeof(line), "customer %s %s %lld d=%llu m=%llu",
	    c->name, c->suspended ? "suspended" : "active",
	    (long long)c->created, (unsigned long long)c->ndomains,
	    (unsigned long long)c->nmailboxes);
	strlist_add(arg, line);
}

static void
cb_domain(const struct store_domain *d, void *arg)
{
	char line[512];

	(void)snprintf(line, sizeof(line), "domain %s %s%s %lld m=%llu a=%llu",
	    d->name, d->customer, d->suspended ? " suspended" : "",
	    (long long)d->created, (unsigned long long)d->nmailboxes,
	    (unsigned long long)d->naliases);
	strlist_add(arg, line);
}

static void
cb_mailbox(const struct store_mailbox *m, void *arg)
{
	char line[1024];

	(void)snprintf(line, sizeof(line), "mailbox %s %s %s %s q=%llu %s%s",
	    m->address, m->local, m->domain, m->hash,
	    (unsigned long long)m->quota, m->customer,
	    m->suspended ? " suspended" : "");
	strlist_add(arg, line);
}

static void
cb_alias(const struct store_alias *a, void *arg)
{
	char line[1024];

	(void)snprintf(line, sizeof(line), "alias %s -> %s %s", a->address,
	    a->target, a->customer);
	strlist_add(arg, line);
}

static void
snapshot(struct store *s, struct strlist *l)
{
	const char *err = NULL;

	strlist_init(l);
	if (store_customer_list(s, cb_customer, l, &err) != 0 ||
	    store_domain_list(s, NULL, cb_domain, l, &err) != 0 ||
	    store_mailbox_list(s, NULL, cb_mailbox, l, &err) != 0 ||
	    store_alias_list(s, NULL, cb_alias, l, &err) != 0)
		fail_msg("snapshot: %s", err);
}

static void
assert_list(const struct strlist *got, const char *const *want)
{
	size_t i, n = 0;

	while (want[n] != NULL)
		n++;
	for (i = 0; i < got->n && i < n; i++)
		if (strcmp(got->v[i], want[i]) != 0)
			break;
	if (i == n && got->n == n)
		return;
	for (i = 0; i < got->n; i++)
		print_error("  got:  %s\n", got->v[i]);
	for (i = 0; i < n; i++)
		print_error("  want: %s\n", want[i]);
	fail_msg("lists differ");
}

#define T "1700000000"

static const char *const fixture_snapshot[] = {
	"customer acme active " T " d=1 m=1",
	"customer beta active " T " d=1 m=0",
	"domain beta.example beta " T " m=0 a=0",
	"domain example.com acme " T " m=1 a=1",
	"mailbox ann@example.com ann example.com " HASH " q=1048576 acme",
	"alias info@example.com -> ann@example.com acme",
	NULL
};

static void
test_fixture(void **state)
{
	struct fx *fx = *state;
	struct strlist l;
	const char *err = NULL;

	snapshot(fx->s, &l);
	assert_list(&l, fixture_snapshot);
	strlist_free(&l);
	assert_int_equal(store_schema_version(fx->s, &err), 4);
	/* migrating again changes nothing */
	assert_int_equal(store_migrate(fx->s, &err), 0);
	assert_int_equal(store_schema_version(fx->s, &err), 4);
	snapshot(fx->s, &l);
	assert_list(&l, fixture_snapshot);
	strlist_free(&l);
}

/* ---- refusals ---- */

enum op {
	CUST_ADD, CUST_DEL, CUST_SUSPEND, DOM_ADD, DOM_DEL, MBOX_ADD,
	MBOX_DEL, MBOX_HASH, MBOX_QUOTA, ALIAS_ADD, ALIAS_DEL, MBOX_LIST,
	DOM_LIST,
};

struct refuse_case {
	const char	*name;
	enum op		 op;
	const char	*a, *b;
	int		 rc;
	const char	*err;
};

#define BADNAME "customer names are letters, digits and . _ - (not first)"
#define BADLEN "customer names are 1 to 64 characters"
#define L65 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij" \
	"abcde"
#define NOTHOSTED(d) "domain '" d "' is not hosted here (add it with: " \
	"popgate domain add " d " --customer NAME)"
#define R STORE_REFUSED

static const struct refuse_case refuse_cases[] = {
	{ "customer add duplicate", CUST_ADD, "acme", NULL, R,
	    "customer 'acme' already exists" },
	{ "customer add duplicate other case", CUST_ADD, "AcMe", NULL, R,
	    "customer 'acme' already exists" },
	{ "customer add leading dash", CUST_ADD, "-acme", NULL, R,
	    "bad customer name '-acme': " BADNAME },
	{ "customer add leading dot", CUST_ADD, ".acme", NULL, R,
	    "bad customer name '.acme': " BADNAME },
	{ "customer add blank", CUST_ADD, "ac me", NULL, R,
	    "bad customer name 'ac me': " BADNAME },
	{ "customer add quote", CUST_ADD, "ac'me", NULL, R,
	    "bad customer name 'ac'me': " BADNAME },
	{ "customer add non-ASCII", CUST_ADD, "acm\xc3\xa9", NULL, R,
	    "bad customer name 'acm\xc3\xa9': " BADNAME },
	{ "customer add empty", CUST_ADD, "", NULL, R,
	    "bad customer name '': " BADLEN },
	{ "customer add 65 characters", CUST_ADD, L65, NULL, R,
	    "bad customer name '" L65 "': " BADLEN },
	{ "customer delete unknown", CUST_DEL, "nobody", NULL, R,
	    "no customer 'nobody'" },
	{ "customer delete with domains", CUST_DEL, "ACME", NULL, R,
	    "customer 'acme' still has 1 domain(s) with 1 mailbox(es); delete "
	    "them first or use --force to delete them all" },
	{ "customer delete with an empty domain", CUST_DEL, "beta", NULL, R,
	    "customer 'beta' still has 1 domain(s) with 0 mailbox(es); delete "
	    "them first or use --force to delete them all" },
	{ "customer suspend unknown", CUST_SUSPEND, "nobody", NULL, R,
	    "no customer 'nobody'" },
	{ "customer suspend bad name", CUST_SUSPEND, "no body", NULL, R,
	    "bad customer name 'no body': " BADNAME },
	{ "domain add duplicate", DOM_ADD, "Example.COM", "acme", R,
	    "domain 'example.com' already exists (customer 'acme')" },
	{ "domain add duplicate for another customer", DOM_ADD, "example.com",
	    "beta", R, "domain 'example.com' already exists (customer "
	    "'acme')" },
	{ "domain add unknown customer", DOM_ADD, "new.example", "Nobody", R,
	    "no customer 'nobody' (add it with: popgate customer add "
	    "nobody)" },
	{ "domain add bad domain", DOM_ADD, "bad..example", "acme", R,
	    "bad domain 'bad..example': empty label in domain" },
	{ "domain add trailing dot", DOM_ADD, "example.org.", "acme", R,
	    "bad domain 'example.org.': domain ends with a dot" },
	{ "domain add literal", DOM_ADD, "[127.0.0.1]", "acme", R,
	    "bad domain '[127.0.0.1]': invalid character in domain" },
	{ "domain add bad customer name", DOM_ADD, "new.example", "-x", R,
	    "bad customer name '-x': " BADNAME },
	{ "domain delete unknown", DOM_DEL, "nowhere.example", NULL, R,
	    "no domain 'nowhere.example'" },
	{ "domain delete with children", DOM_DEL, "EXAMPLE.com", NULL, R,
	    "domain 'example.com' still has 1 mailbox(es) and 1 alias(es); "
	    "delete them first or use --force" },
	{ "mailbox add domain not hosted", MBOX_ADD, "bob@elsewhere.test",
	    HASH, R, NOTHOSTED("elsewhere.test") },
	{ "mailbox add subdomain not hosted", MBOX_ADD,
	    "bob@sub.example.com", HASH, R, NOTHOSTED("sub.example.com") },
	{ "mailbox add duplicate", MBOX_ADD, "Ann@EXAMPLE.com", HASH, R,
	    "mailbox 'ann@example.com' already exists" },
	{ "mailbox add duplicate quoted", MBOX_ADD, "\"ann\"@example.com",
	    HASH, R, "mailbox 'ann@example.com' already exists" },
	{ "mailbox add no domain", MBOX_ADD, "ann", HASH, R,
	    "bad address 'ann': address has no '@domain'" },
	{ "mailbox add literal", MBOX_ADD, "bob@[127.0.0.1]", HASH, R,
	    "bad address 'bob@[127.0.0.1]': address literals are not "
	    "accepted here" },
	{ "mailbox add non-ASCII", MBOX_ADD, "j\xc3\xb6rg@example.com", HASH,
	    R, "bad address 'j\xc3\xb6rg@example.com': non-ASCII address "
	    "(internationalized addresses are not supported here)" },
	{ "mailbox add two at signs", MBOX_ADD, "bob@elsewhere.test@"
	    "example.com", HASH, R, "bad address 'bob@elsewhere.test@"
	    "example.com': invalid character in domain" },
	{ "mailbox add plain password", MBOX_ADD, "bob@example.com", "s3cret",
	    R, "not a supported password hash" },
	{ "mailbox add MD5 hash", MBOX_ADD, "bob@example.com",
	    "$1$saltsalt$RwMqRjSWhXMKbW72DwzGd1", R,
	    "not a supported password hash" },
	{ "mailbox delete unknown", MBOX_DEL, "zed@example.com", NULL, R,
	    "no mailbox 'zed@example.com'" },
	{ "mailbox delete bad address", MBOX_DEL, "zed", NULL, R,
	    "bad address 'zed': address has no '@domain'" },
	{ "mailbox set hash unknown", MBOX_HASH, "zed@example.com", HASH2, R,
	    "no mailbox 'zed@example.com'" },
	{ "mailbox set hash unsupported", MBOX_HASH, "ann@example.com",
	    "s3cret", R, "not a supported password hash" },
	{ "mailbox set quota unknown", MBOX_QUOTA, "zed@example.com", "5", R,
	    "no mailbox 'zed@example.com'" },
	{ "mailbox set quota too large", MBOX_QUOTA, "ann@example.com",
	    "9223372036854775808", R, "quota too large" },
	{ "alias add domain not hosted", ALIAS_ADD, "x@elsewhere.test",
	    "ann@example.com", R, NOTHOSTED("elsewhere.test") },
	{ "alias add duplicate", ALIAS_ADD, "info@example.com",
	    "ann@example.com", R,
	    "alias 'info@example.com' -> 'ann@example.com' already exists" },
	{ "alias add duplicate other case", ALIAS_ADD, "INFO@example.com",
	    "Ann@Example.COM", R,
	    "alias 'info@example.com' -> 'ann@example.com' already exists" },
	{ "alias target missing in hosted domain", ALIAS_ADD,
	    "sales@example.com", "nobody@example.com", R,
	    "target 'nobody@example.com' is in a hosted domain but is no "
	    "mailbox or alias" },
	{ "alias target missing in another hosted domain", ALIAS_ADD,
	    "sales@example.com", "nobody@Beta.Example", R,
	    "target 'nobody@beta.example' is in a hosted domain but is no "
	    "mailbox or alias" },
	{ "alias bad target", ALIAS_ADD, "sales@example.com", "nope", R,
	    "bad address 'nope': address has no '@domain'" },
	{ "alias bad address", ALIAS_ADD, "sales@", "ann@example.com", R,
	    "bad address 'sales@': empty domain" },
	{ "alias delete unknown", ALIAS_DEL, "nobody@example.com", NULL, R,
	    "no alias 'nobody@example.com'" },
	{ "alias delete unknown target", ALIAS_DEL, "info@example.com",
	    "x@y.example", R, "no alias 'info@example.com' -> 'x@y.example'" },
	{ "alias delete mailbox is no alias", ALIAS_DEL, "ann@example.com",
	    NULL, R, "no alias 'ann@example.com'" },
	{ "mailbox list bad domain filter", MBOX_LIST, "bad..example", NULL,
	    R, "bad domain 'bad..example': empty label in domain" },
	{ "mailbox list bad customer filter", MBOX_LIST, "customer:-x", NULL,
	    R, "bad customer name '-x': " BADNAME },
	{ "domain list bad customer", DOM_LIST, "a b", NULL, R,
	    "bad customer name 'a b': " BADNAME },
};

static void
cb_ignore_mailbox(const struct store_mailbox *m, void *arg)
{
	(void)m;
	(void)arg;
	fail_msg("no rows expected");
}

static void
cb_ignore_domain(const struct store_domain *d, void *arg)
{
	(void)d;
	(void)arg;
	fail_msg("no rows expected");
}

static int
do_op(struct store *s, enum op op, const char *a, const char *b,
    const char **err)
{
	uint64_t q;

	switch (op) {
	case CUST_ADD:
		return store_customer_add(s, a, err);
	case CUST_DEL:
		return store_customer_delete(s, a, false, err);
	case CUST_SUSPEND:
		return store_customer_set_suspended(s, a, true, err);
	case DOM_ADD:
		return store_domain_add(s, a, b, err);
	case DOM_DEL:
		return store_domain_delete(s, a, false, err);
	case MBOX_ADD:
		return store_mailbox_add(s, a, b, 0, err);
	case MBOX_DEL:
		return store_mailbox_delete(s, a, err);
	case MBOX_HASH:
		return store_mailbox_set_hash(s, a, b, err);
	case MBOX_QUOTA:
		if (str_to_uint(b, 0, UINT64_MAX, &q) != 0)
			fail_msg("test bug: quota %s", b);
		return store_mailbox_set_quota(s, a, q, err);
	case ALIAS_ADD:
		return store_alias_add(s, a, b, err);
	case ALIAS_DEL:
		return store_alias_delete(s, a, b, err);
	case MBOX_LIST:
		return store_mailbox_list(s, a, cb_ignore_mailbox, NULL, err);
	case DOM_LIST:
		return store_domain_list(s, a, cb_ignore_domain, NULL, err);
	}
	return -100;
}

static void
test_refuse(void **state)
{
	struct fx *fx = *state;
	const struct refuse_case *tc = fx->row;
	const char *err = NULL;
	struct strlist l;
	int r;

	r = do_op(fx->s, tc->op, tc->a, tc->b, &err);
	if (r != tc->rc)
		fail_msg("result %d, expected %d (%s)", r, tc->rc,
		    err != NULL ? err : "no error text");
	assert_non_null(err);
	assert_string_equal(err, tc->err);
	/* A refusal changes nothing. */
	snapshot(fx->s, &l);
	assert_list(&l, fixture_snapshot);
	strlist_free(&l);
}

/* ---- changes that work ---- */

static void
test_customers(void **state)
{
	struct fx *fx = *state;
	struct store_customer c;
	const char *err = NULL;
	struct strlist l;
	static const char *const want[] = {
		"customer acme active " T " d=1 m=1",
		"customer beta active " T " d=1 m=0",
		"customer my_shop-2.de active 1700000100 d=0 m=0",
		"customer zeta active 1700000100 d=0 m=0",
		NULL
	};

	clock_set_fake(NOW + 100);
	OK(store_customer_add(fx->s, "Zeta", &err));
	OK(store_customer_add(fx->s, "my_shop-2.DE", &err));
	/* 64 characters is the limit */
	OK(store_customer_add(fx->s, "a123456789b123456789c123456789d123456789"
	    "e123456789f123456789g123", &err));
	assert_int_equal(store_customer_get(fx->s, "ZETA", &c, &err), 1);
	assert_string_equal(c.name, "zeta");
	assert_false(c.suspended);
	assert_int_equal(c.created, NOW + 100);
	assert_int_equal(c.ndomains, 0);
	assert_int_equal(store_customer_get(fx->s, "nobody", &c, &err), 0);
	assert_int_equal(store_customer_get(fx->s, "bad name", &c, &err), 0);
	OK(store_customer_delete(fx->s, "a123456789b123456789c123456789d12345"
	    "6789e123456789f123456789g123", false, &err));
	strlist_init(&l);
	OK(store_customer_list(fx->s, cb_customer, &l, &err));
	assert_list(&l, want);
	strlist_free(&l);
	/* an empty customer goes without --force */
	OK(store_customer_delete(fx->s, "zeta", false, &err));
	assert_int_equal(store_customer_get(fx->s, "zeta", &c, &err), 0);
}

static void
test_suspend(void **state)
{
	struct fx *fx = *state;
	struct store_customer c;
	struct store_domain d;
	struct store_mailbox m;
	const char *err = NULL;

	OK(store_customer_set_suspended(fx->s, "ACME", true, &err));
	assert_int_equal(store_customer_get(fx->s, "acme", &c, &err), 1);
	assert_true(c.suspended);
	assert_int_equal(store_domain_get(fx->s, "example.com", &d, &err), 1);
	assert_true(d.suspended);
	assert_int_equal(store_mailbox_get(fx->s, "ann@example.com", &m,
	    &err), 1);
	assert_true(m.suspended);
	/* the other customer is untouched */
	assert_int_equal(store_customer_get(fx->s, "beta", &c, &err), 1);
	assert_false(c.suspended);
	/* twice is fine, and resume */
	OK(store_customer_set_suspended(fx->s, "acme", true, &err));
	OK(store_customer_set_suspended(fx->s, "acme", false, &err));
	assert_int_equal(store_mailbox_get(fx->s, "ann@example.com", &m,
	    &err), 1);
	assert_false(m.suspended);
}

/* The look-ups of every recipient: the row of get, without the counts
   (whose cost grows with the domain's mailboxes), suspension included. */
static void
test_find(void **state)
{
	struct fx *fx = *state;
	struct store_customer c, cf;
	struct store_domain d, df;
	const char *err = NULL;

	assert_int_equal(store_domain_get(fx->s, "example.com", &d, &err), 1);
	assert_int_equal(store_domain_find(fx->s, "Example.COM", &df, &err),
	    1);
	assert_string_equal(df.name, d.name);
	assert_string_equal(df.customer, "acme");
	assert_int_equal(df.created, d.created);
	assert_false(df.suspended);
	assert_int_equal(d.nmailboxes, 1);
	assert_int_equal(df.nmailboxes, 0);
	assert_int_equal(df.naliases, 0);
	assert_int_equal(store_domain_find(fx->s, "example.net", &df, &err),
	    0);
	assert_int_equal(store_domain_find(fx->s, "bad..name", &df, &err), 0);
	assert_int_equal(store_customer_get(fx->s, "acme", &c, &err), 1);
	assert_int_equal(store_customer_find(fx->s, "ACME", &cf, &err), 1);
	assert_string_equal(cf.name, "acme");
	assert_int_equal(cf.created, c.created);
	assert_true(c.ndomains > 0);
	assert_int_equal(cf.ndomains, 0);
	assert_int_equal(store_customer_find(fx->s, "nobody", &cf, &err), 0);
	OK(store_customer_set_suspended(fx->s, "acme", true, &err));
	assert_int_equal(store_customer_find(fx->s, "acme", &cf, &err), 1);
	assert_true(cf.suspended);
	assert_int_equal(store_domain_find(fx->s, "example.com", &df, &err),
	    1);
	assert_true(df.suspended);
}

static void
test_domains(void **state)
{
	struct fx *fx = *state;
	struct store_domain d;
	const char *err = NULL;
	struct strlist l;
	static const char *const want_all[] = {
		"domain beta.example beta " T " m=0 a=0",
		"domain example.com acme " T " m=1 a=1",
		"domain example.org acme " T " m=0 a=0",
		"domain xn--bcher-kva.example acme " T " m=0 a=0",
		NULL
	};
	static const char *const want_acme[] = {
		"domain example.com acme " T " m=1 a=1",
		"domain example.org acme " T " m=0 a=0",
		"domain xn--bcher-kva.example acme " T " m=0 a=0",
		NULL
	};
	static const char *const want_none[] = { NULL };

	OK(store_domain_add(fx->s, "EXAMPLE.ORG", "Acme", &err));
	OK(store_domain_add(fx->s, "xn--bcher-kva.example", "acme", &err));
	assert_int_equal(store_domain_get(fx->s, "Example.Org", &d, &err), 1);
	assert_string_equal(d.name, "example.org");
	assert_string_equal(d.customer, "acme");
	assert_int_equal(d.created, NOW);
	assert_false(d.suspended);
	assert_int_equal(store_domain_get(fx->s, "example.net", &d, &err), 0);
	assert_int_equal(store_domain_get(fx->s, "bad..name", &d, &err), 0);

	strlist_init(&l);
	OK(store_domain_list(fx->s, NULL, cb_domain, &l, &err));
	assert_list(&l, want_all);
	strlist_free(&l);
	strlist_init(&l);
	OK(store_domain_list(fx->s, "ACME", cb_domain, &l, &err));
	assert_list(&l, want_acme);
	strlist_free(&l);
	strlist_init(&l);
	OK(store_domain_list(fx->s, "nobody", cb_domain, &l, &err));
	assert_list(&l, want_none);
	strlist_free(&l);

	/* an empty domain goes without force */
	OK(store_domain_delete(fx->s, "example.org", false, &err));
	assert_int_equal(store_domain_get(fx->s, "example.org", &d, &err), 0);
}

static void
test_mailboxes(void **state)
{
	struct fx *fx = *state;
	struct store_mailbox m;
	const char *err = NULL;
	struct strlist l;
	static const char *const want_example[] = {
		"mailbox ann@example.com ann example.com " HASH2 " q=0 acme",
		"mailbox bob.smith@example.com bob.smith example.com " HASH
		    " q=5242880 acme",
		NULL
	};
	static const char *const want_beta[] = {
		"mailbox carol@beta.example carol beta.example " HASH
		    " q=0 beta",
		NULL
	};

	OK(store_mailbox_add(fx->s, "Bob.Smith@Example.COM", HASH, 5242880,
	    &err));
	OK(store_mailbox_add(fx->s, "\"carol\"@beta.example", HASH, 0, &err));
	assert_int_equal(store_mailbox_get(fx->s, "BOB.SMITH@example.com", &m,
	    &err), 1);
	assert_string_equal(m.address, "bob.smith@example.com");
	assert_string_equal(m.local, "bob.smith");
	assert_string_equal(m.domain, "example.com");
	assert_string_equal(m.hash, HASH);
	assert_int_equal(m.quota, 5242880);
	assert_string_equal(m.customer, "acme");
	assert_false(m.suspended);
	assert_int_equal(m.created, NOW);
	assert_int_equal(store_mailbox_get(fx->s, "bob@example.com", &m,
	    &err), 0);
	assert_int_equal(store_mailbox_get(fx->s, "not an address", &m, &err),
	    0);

	OK(store_mailbox_set_hash(fx->s, "ANN@example.com", HASH2, &err));
	OK(store_mailbox_set_quota(fx->s, "ann@example.com", 0, &err));
	OK(store_mailbox_set_quota(fx->s, "ann@example.com", INT64_MAX, &err));
	assert_int_equal(store_mailbox_get(fx->s, "ann@example.com", &m,
	    &err), 1);
	assert_int_equal(m.quota, INT64_MAX);
	OK(store_mailbox_set_quota(fx->s, "ann@example.com", 0, &err));

	strlist_init(&l);
	OK(store_mailbox_list(fx->s, "Example.com", cb_mailbox, &l, &err));
	assert_list(&l, want_example);
	strlist_free(&l);
	strlist_init(&l);
	OK(store_mailbox_list(fx->s, "customer:acme", cb_mailbox, &l, &err));
	assert_list(&l, want_example);
	strlist_free(&l);
	strlist_init(&l);
	OK(store_mailbox_list(fx->s, "customer:BETA", cb_mailbox, &l, &err));
	assert_list(&l, want_beta);
	strlist_free(&l);

	OK(store_mailbox_delete(fx->s, "Bob.Smith@example.com", &err));
	assert_int_equal(store_mailbox_get(fx->s, "bob.smith@example.com", &m,
	    &err), 0);
}

static void
test_aliases(void **state)
{
	struct fx *fx = *state;
	const char *err = NULL;
	struct strlist l;
	static const char *const want_targets[] = {
		"ann@elsewhere.test", "ann@example.com", NULL
	};
	static const char *const want_all[] = {
		"alias ann@example.com -> ann@example.com acme",
		"alias info@example.com -> ann@elsewhere.test acme",
		"alias info@example.com -> ann@example.com acme",
		"alias sales@example.com -> info@example.com acme",
		"alias x@beta.example -> ann@example.com beta",
		NULL
	};
	static const char *const want_beta[] = {
		"alias x@beta.example -> ann@example.com beta",
		NULL
	};
	static const char *const want_after[] = {
		"alias ann@example.com -> ann@example.com acme",
		"alias sales@example.com -> info@example.com acme",
		"alias x@beta.example -> ann@example.com beta",
		NULL
	};

	/* an external target, an alias as target (a chain), a target in
	   another customer's domain, and a mailbox keeping a copy */
	OK(store_alias_add(fx->s, "Info@Example.com", "Ann@Elsewhere.TEST",
	    &err));
	OK(store_alias_add(fx->s, "sales@example.com", "info@example.com",
	    &err));
	OK(store_alias_add(fx->s, "x@beta.example", "ann@example.com", &err));
	OK(store_alias_add(fx->s, "ann@example.com", "ann@example.com", &err));

	strlist_init(&l);
	assert_int_equal(store_alias_targets(fx->s, "INFO@example.com", &l,
	    &err), 1);
	assert_list(&l, want_targets);
	strlist_free(&l);
	strlist_init(&l);
	assert_int_equal(store_alias_targets(fx->s, "nobody@example.com", &l,
	    &err), 0);
	assert_int_equal(l.n, 0);
	strlist_free(&l);

	strlist_init(&l);
	OK(store_alias_list(fx->s, NULL, cb_alias, &l, &err));
	assert_list(&l, want_all);
	strlist_free(&l);
	strlist_init(&l);
	OK(store_alias_list(fx->s, "customer:beta", cb_alias, &l, &err));
	assert_list(&l, want_beta);
	strlist_free(&l);
	strlist_init(&l);
	OK(store_alias_list(fx->s, "beta.example", cb_alias, &l, &err));
	assert_list(&l, want_beta);
	strlist_free(&l);

	/* one target, then all targets */
	OK(store_alias_delete(fx->s, "info@example.com", "ANN@elsewhere.test",
	    &err));
	strlist_init(&l);
	assert_int_equal(store_alias_targets(fx->s, "info@example.com", &l,
	    &err), 1);
	assert_int_equal(l.n, 1);
	strlist_free(&l);
	OK(store_alias_delete(fx->s, "info@example.com", NULL, &err));
	strlist_init(&l);
	OK(store_alias_list(fx->s, NULL, cb_alias, &l, &err));
	assert_list(&l, want_after);
	strlist_free(&l);
}

/* A window: W's rows of LIST (one of the four) into a list. */
static void
windowed(struct fx *fx, int list, const char *filter, uint64_t limit,
    uint64_t offset, uint64_t want_total, const char *const *want)
{
	struct store_window w = { limit, offset, 12345 };
	const char *err = NULL;
	struct strlist l;

	strlist_init(&l);
	if (list == 0)
		OK(store_customer_page(fx->s, &w, cb_customer, &l, &err));
	else if (list == 1)
		OK(store_domain_page(fx->s, filter, &w, cb_domain, &l, &err));
	else if (list == 2)
		OK(store_mailbox_page(fx->s, filter, &w, cb_mailbox, &l,
		    &err));
	else
		OK(store_alias_page(fx->s, filter, &w, cb_alias, &l, &err));
	assert_list(&l, want);
	strlist_free(&l);
	assert_int_equal(w.total, want_total);
}

static void
test_windows(void **state)
{
	static const char *const cust_1_2[] = {
		"customer beta active 1700000000 d=1 m=0",
		"customer c1 active 1700000000 d=0 m=0", NULL };
	static const char *const none[] = { NULL };
	static const char *const dom_1_1[] = {
		"domain d2.example acme 1700000000 m=0 a=0", NULL };
	static const char *const box_1_2[] = {
		"mailbox bob@example.com bob example.com " HASH " q=0 acme",
		"mailbox carl@example.com carl example.com " HASH " q=0 acme",
		NULL };
	/* an alias is one item, all its targets */
	static const char *const alias_0_1[] = {
		"alias info@example.com -> ann@example.com acme",
		"alias info@example.com -> bob@example.com acme", NULL };
	static const char *const alias_1_1[] = {
		"alias sales@example.com -> ann@example.com acme", NULL };
	struct fx *fx = *state;
	const char *err = NULL;
	size_t i, n;

	OK(store_customer_add(fx->s, "c1", &err));
	OK(store_customer_add(fx->s, "c2", &err));
	OK(store_domain_add(fx->s, "d1.example", "acme", &err));
	OK(store_domain_add(fx->s, "d2.example", "acme", &err));
	OK(store_mailbox_add(fx->s, "carl@example.com", HASH, 0, &err));
	OK(store_mailbox_add(fx->s, "bob@example.com", HASH, 0, &err));
	OK(store_alias_add(fx->s, "info@example.com", "bob@example.com",
	    &err));
	OK(store_alias_add(fx->s, "sales@example.com", "ann@example.com",
	    &err));

	/* acme beta c1 c2: the second and third */
	windowed(fx, 0, NULL, 2, 1, 4, cust_1_2);
	windowed(fx, 0, NULL, 10, 4, 4, none);
	/* d1.example d2.example example.com of acme; beta's alone */
	windowed(fx, 1, "ACME", 1, 1, 3, dom_1_1);
	windowed(fx, 1, NULL, 1000, 1000, 4, none);
	/* ann bob carl of example.com */
	windowed(fx, 2, "example.com", 2, 1, 3, box_1_2);
	windowed(fx, 2, "customer:acme", 2, 1, 3, box_1_2);
	windowed(fx, 2, "customer:beta", 5, 0, 0, none);
	windowed(fx, 3, NULL, 1, 0, 2, alias_0_1);
	windowed(fx, 3, "example.com", 1, 1, 2, alias_1_1);
	windowed(fx, 3, "customer:acme", 5, 2, 2, none);
	/* limit 0: the whole list, as the list calls give it */
	{
		struct store_window w = { 0, 0, 0 };
		struct strlist all, got;

		strlist_init(&all);
		strlist_init(&got);
		OK(store_customer_list(fx->s, cb_customer, &all, &err));
		OK(store_customer_page(fx->s, &w, cb_customer, &got, &err));
		assert_int_equal(got.n, all.n);
		assert_int_equal(w.total, all.n);
		for (i = 0, n = all.n; i < n; i++)
			assert_string_equal(got.v[i], all.v[i]);
		strlist_free(&all);
		strlist_free(&got);
	}
}

static void
test_delete_force(void **state)
{
	struct fx *fx = *state;
	const char *err = NULL;
	struct strlist l;
	static const char *const want_after_domain[] = {
		"customer acme active " T " d=1 m=0",
		"customer beta active " T " d=1 m=0",
		"domain beta.example beta " T " m=0 a=0",
		"domain example.org acme " T " m=0 a=0",
		NULL
	};
	static const char *const want_after_customer[] = {
		"customer beta active " T " d=1 m=0",
		"domain beta.example beta " T " m=0 a=0",
		NULL
	};
	struct store_mailbox m;

	OK(store_domain_add(fx->s, "example.org", "acme", &err));
	/* force takes the mailboxes and aliases with the domain */
	OK(store_domain_delete(fx->s, "example.com", true, &err));
	snapshot(fx->s, &l);
	assert_list(&l, want_after_domain);
	strlist_free(&l);
	assert_int_equal(store_mailbox_get(fx->s, "ann@example.com", &m,
	    &err), 0);

	/* the customer's remaining domains go with it */
	OK(store_mailbox_add(fx->s, "zoe@example.org", HASH, 0, &err));
	OK(store_alias_add(fx->s, "a@example.org", "zoe@example.org", &err));
	OK(store_customer_delete(fx->s, "acme", true, &err));
	snapshot(fx->s, &l);
	assert_list(&l, want_after_customer);
	strlist_free(&l);
	assert_int_equal(store_mailbox_get(fx->s, "zoe@example.org", &m,
	    &err), 0);
}

/* Everything between begin and rollback is gone, also when one step in
   the middle was refused. */
static void
test_rollback(void **state)
{
	struct fx *fx = *state;
	const char *err = NULL;
	struct strlist l;
	struct store_customer c;

	OK(store_begin(fx->s, &err));
	OK(store_customer_add(fx->s, "tx", &err));
	OK(store_domain_add(fx->s, "tx.example", "tx", &err));
	OK(store_mailbox_add(fx->s, "a@tx.example", HASH, 0, &err));
	OK(store_alias_add(fx->s, "b@tx.example", "a@tx.example", &err));
	OK(store_mailbox_delete(fx->s, "ann@example.com", &err));
	OK(store_customer_set_suspended(fx->s, "beta", true, &err));
	/* inside the transaction the changes are visible */
	assert_int_equal(store_customer_get(fx->s, "tx", &c, &err), 1);
	assert_int_equal(c.ndomains, 1);
	/* a refused step */
	assert_int_equal(store_mailbox_add(fx->s, "a@tx.example", HASH, 0,
	    &err), STORE_REFUSED);
	assert_string_equal(err, "mailbox 'a@tx.example' already exists");
	store_rollback(fx->s);
	snapshot(fx->s, &l);
	assert_list(&l, fixture_snapshot);
	strlist_free(&l);

	/* the handle still works after a rollback */
	OK(store_begin(fx->s, &err));
	OK(store_customer_add(fx->s, "tx", &err));
	OK(store_commit(fx->s, &err));
	assert_int_equal(store_customer_get(fx->s, "tx", &c, &err), 1);
}

/* What one handle commits, another sees; closing keeps it. */
static void
test_persist(void **state)
{
	struct fx *fx = *state;
	struct store *s2;
	struct store_mailbox m;
	const char *err = NULL;
	struct strlist l;

	s2 = open_store(fx->dir);
	assert_int_equal(store_schema_version(s2, &err), 4);
	OK(store_mailbox_add(fx->s, "dave@example.com", HASH2, 7, &err));
	assert_int_equal(store_mailbox_get(s2, "dave@example.com", &m, &err),
	    1);
	assert_int_equal(m.quota, 7);
	store_close(&s2);
	assert_null(s2);
	store_close(&s2);	/* NULL is fine */

	store_close(&fx->s);
	fx->s = open_store(fx->dir);
	OK(store_mailbox_delete(fx->s, "dave@example.com", &err));
	snapshot(fx->s, &l);
	assert_list(&l, fixture_snapshot);
	strlist_free(&l);
}

/* A store made by a newer popgate is left alone. */
static void
test_newer_schema(void **state)
{
	struct fx *fx = *state;
	char path[128];
	sqlite3 *db;
	const char *err = NULL;
	struct strlist l;

	(void)snprintf(path, sizeof(path), "%s/store.db", fx->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET "
	    "version = 99", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	assert_int_equal(store_schema_version(fx->s, &err), 99);
	assert_int_equal(store_migrate(fx->s, &err), -1);
	assert_string_equal(err, "the store has schema version 99, newer "
	    "than this popgate knows (4): upgrade popgate");
	assert_int_equal(store_schema_version(fx->s, &err), 99);
	snapshot(fx->s, &l);
	assert_list(&l, fixture_snapshot);
	strlist_free(&l);
}

/* A store locked by another writer is a temporary failure (-1), never
   "not found" or a refusal; readers are not blocked (WAL). */
static void
test_busy(void **state)
{
	struct fx *fx = *state;
	struct store *s2 = open_store(fx->dir);
	struct store_customer c;
	const char *err = NULL;
	struct strlist l;

	OK(store_begin(s2, &err));
	OK(store_customer_add(s2, "holder", &err));
	assert_int_equal(store_customer_get(fx->s, "acme", &c, &err), 1);
	assert_int_equal(store_customer_add(fx->s, "newco", &err), -1);
	assert_string_equal(err, "the account store is busy (locked by "
	    "another writer); try again");
	assert_int_equal(store_begin(fx->s, &err), -1);
	assert_string_equal(err, "the account store is busy (locked by "
	    "another writer); try again");
	store_rollback(s2);
	store_close(&s2);
	OK(store_customer_add(fx->s, "newco", &err));
	OK(store_customer_delete(fx->s, "newco", false, &err));
	snapshot(fx->s, &l);
	assert_list(&l, fixture_snapshot);
	strlist_free(&l);
}

/* The lookups of an address parsed once (the mail path): the same rows
   as the string lookups, and nothing for what the store cannot hold. */
static void
test_lookup_parsed(void **state)
{
	struct fx *fx = *state;
	struct store_mailbox m;
	struct addr_canon c;
	struct strlist l;
	const char *err = NULL;
	static const struct {
		const char	*in;
		int		 mailbox, alias;
	} cases[] = {
		{ "Ann@Example.COM", 1, 0 },
		{ "\"ann\"@example.com", 1, 0 },
		{ "INFO@example.com", 0, 1 },
		{ "nobody@example.com", 0, 0 },
		{ "ann@[192.0.2.1]", 0, 0 },
		{ "\xc3\xa4nn@example.com", 0, 0 },
	};
	size_t i;

	for (i = 0; i < nitems(cases); i++) {
		if (addr_canon_parse(cases[i].in, strlen(cases[i].in),
		    ADDR_F_LITERAL | ADDR_F_UTF8, &c, &err) == -1)
			fail_msg("%s: %s", cases[i].in, err);
		assert_int_equal(store_mailbox_get_addr(fx->s, &c, &m, &err),
		    cases[i].mailbox);
		if (cases[i].mailbox == 1)
			assert_string_equal(m.address, "ann@example.com");
		strlist_init(&l);
		assert_int_equal(store_alias_targets_addr(fx->s, &c, &l,
		    &err), cases[i].alias);
		assert_int_equal(l.n, (size_t)cases[i].alias);
		if (cases[i].alias == 1)
			assert_string_equal(l.v[0], "ann@example.com");
		strlist_free(&l);
	}
}

static void
test_open_errors(void **state)
{
	struct errbuf eb;
	struct fx *fx = *state;
	const char *err = NULL;
	struct store *s;
	char path[128];

	s = store_open("mysql://db", fx->dir, &eb, &err);
	assert_null(s);
	assert_string_equal(err, "unknown store type (expected sqlite, "
	    "sqlite:/PATH or postgresql://...)");
	/* Loopback port 1: nothing listens, no name to look up. */
	s = store_open("postgresql://u@127.0.0.1:1/popgate", fx->dir, &eb, &err);
	assert_null(s);
	assert_non_null(strstr(err, "account store (postgresql): cannot "
	    "connect: "));
	assert_non_null(strstr(err, "127.0.0.1"));
	s = store_open("sqlitex", fx->dir, &eb, &err);
	assert_null(s);
	s = store_open("sqlite", "/nonexistent/popgate", &eb, &err);
	assert_null(s);
	assert_string_equal(err, "cannot open /nonexistent/popgate/store.db: "
	    "unable to open database file");
	/* sqlite:/PATH names the file itself */
	(void)snprintf(path, sizeof(path), "sqlite:%s/other.db", fx->dir);
	s = store_open(path, "/nonexistent", &eb, &err);
	if (s == NULL)
		fail_msg("%s: %s", path, err);
	assert_int_equal(store_schema_version(s, &err), 0);
	assert_int_equal(store_migrate(s, &err), 0);
	assert_int_equal(store_customer_add(s, "solo", &err), 0);
	store_close(&s);
	(void)snprintf(path, sizeof(path), "%s/other.db", fx->dir);
	assert_int_equal(access(path, F_OK), 0);
}

/* store_backup() writes one self-contained file of what the store
   holds; store_restore() puts it into another store whole, and leaves
   that store as it was when the file is not sound. */
static void
test_backup_restore(void **state)
{
	struct fx *fx = *state;
	struct store_counts n;
	struct store *s2;
	struct strlist l;
	char copy[128], other[128], bad[128], wal[140], uri[140];
	unsigned char hdr[20];
	struct errbuf eb;
	const char *err = NULL;
	FILE *f;

	(void)str_fmt(copy, sizeof(copy), "%s/copy.db", fx->dir);
	(void)str_fmt(other, sizeof(other), "%s/other.db", fx->dir);
	(void)str_fmt(bad, sizeof(bad), "%s/bad.db", fx->dir);
	OK(store_backup(fx->s, copy, &n, &err));
	assert_int_equal(n.customers, 2);
	assert_int_equal(n.domains, 2);
	assert_int_equal(n.mailboxes, 1);
	assert_int_equal(n.aliases, 1);
	assert_int_equal(store_backup(fx->s, copy, &n, &err), -1);
	assert_non_null(strstr(err, "exists"));
	/* Rollback-journal mode (header octets 18 and 19 are 1), no -wal. */
	f = fopen(copy, "rb");
	assert_non_null(f);
	assert_int_equal(fread(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	(void)fclose(f);
	assert_int_equal(hdr[18], 1);
	assert_int_equal(hdr[19], 1);
	(void)str_fmt(wal, sizeof(wal), "%s-wal", copy);
	assert_int_equal(access(wal, F_OK), -1);

	(void)str_fmt(uri, sizeof(uri), "sqlite:%s", other);
	s2 = store_open(uri, fx->dir, &eb, &err);
	assert_non_null(s2);
	f = fopen(bad, "wb");
	assert_non_null(f);
	(void)fputs("SQLite format 3 but not really a database", f);
	(void)fclose(f);
	assert_int_equal(store_restore(s2, bad, &err), -1);
	assert_int_equal(store_schema_version(s2, &err), 0);
	OK(store_restore(s2, copy, &err));
	OK(store_migrate(s2, &err));
	snapshot(s2, &l);
	assert_list(&l, fixture_snapshot);
	strlist_free(&l);
	store_close(&s2);
	(void)unlink(other);
}

/* The SRS secrets: none at first, the first made once (a second host
   keeps the first's), a rotation keeps the one before, and a copy of
   the store carries both. */
static void
test_srs_secrets(void **state)
{
	struct fx *fx = *state;
	struct store_srs_secrets sec;
	struct store_counts n;
	struct store *s2;
	static struct errbuf eb;
	const char *err = NULL;
	char other[512];

	assert_int_equal(store_srs_get(fx->s, &sec, &err), 0);
	assert_string_equal(sec.current, "");
	assert_int_equal(store_srs_init(fx->s, "short", 1, &err),
	    STORE_REFUSED);
	assert_int_equal(store_srs_init(fx->s, "has a blank in it!!", 1,
	    &err), STORE_REFUSED);
	OK(store_srs_init(fx->s, "first-secret-0123456789", 100, &err));
	OK(store_srs_init(fx->s, "second-secret-0123456789", 200, &err));
	assert_int_equal(store_srs_get(fx->s, &sec, &err), 1);
	assert_string_equal(sec.current, "first-secret-0123456789");
	assert_int_equal(sec.created, 100);
	assert_string_equal(sec.previous, "");
	OK(store_begin(fx->s, &err));
	OK(store_srs_rotate(fx->s, "rotated-secret-0123456789", 300, &err));
	OK(store_commit(fx->s, &err));
	OK(store_begin(fx->s, &err));
	OK(store_srs_rotate(fx->s, "rotated-again-0123456789", 400, &err));
	OK(store_commit(fx->s, &err));
	assert_int_equal(store_srs_get(fx->s, &sec, &err), 1);
	assert_string_equal(sec.current, "rotated-again-0123456789");
	assert_string_equal(sec.previous, "rotated-secret-0123456789");
	assert_int_equal(sec.previous_created, 300);

	(void)snprintf(other, sizeof(other), "sqlite:%s/other.db", fx->dir);
	s2 = store_open(other, fx->dir, &eb, &err);
	assert_non_null(s2);
	OK(store_copy(fx->s, s2, &n, &err));
	assert_int_equal(store_srs_get(s2, &sec, &err), 1);
	assert_string_equal(sec.current, "rotated-again-0123456789");
	assert_string_equal(sec.previous, "rotated-secret-0123456789");
	assert_int_equal(sec.created, 400);
	store_close(&s2);
}

/* API tokens: looked up by hash, scoped to a customer or not, gone
   with their customer, carried by store copy. */
#define TH1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TH2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void
test_tokens(void **state)
{
	struct fx *fx = *state;
	struct store_token t, got;
	struct store_counts n;
	struct store *s2;
	static struct errbuf eb;
	const char *err = NULL;
	char other[512];

	memset(&t, 0, sizeof(t));
	(void)str_copy(t.name, "panel", sizeof(t.name));
	(void)str_copy(t.hash, TH1, sizeof(t.hash));
	t.created = 10;
	OK(store_token_add(fx->s, &t, &err));
	assert_int_equal(store_token_add(fx->s, &t, &err), STORE_REFUSED);
	assert_string_equal(err, "token 'panel' exists");
	(void)str_copy(t.name, "acme-panel", sizeof(t.name));
	(void)str_copy(t.hash, "nothex", sizeof(t.hash));
	assert_int_equal(store_token_add(fx->s, &t, &err), STORE_REFUSED);
	(void)str_copy(t.hash, TH2, sizeof(t.hash));
	(void)str_copy(t.customer, "nobody", sizeof(t.customer));
	assert_int_equal(store_token_add(fx->s, &t, &err), STORE_REFUSED);
	assert_string_equal(err, "no customer 'nobody'");
	(void)str_copy(t.customer, "ACME", sizeof(t.customer));
	t.expires = 99;
	OK(store_token_add(fx->s, &t, &err));
	assert_int_equal(store_token_find(fx->s, TH2, &got, &err), 1);
	assert_string_equal(got.name, "acme-panel");
	assert_string_equal(got.customer, "acme");
	assert_int_equal(got.expires, 99);
	assert_int_equal(store_token_find(fx->s, TH1, &got, &err), 1);
	assert_string_equal(got.customer, "");
	assert_int_equal(store_token_find(fx->s, "x", &got, &err), 0);

	(void)snprintf(other, sizeof(other), "sqlite:%s/other.db", fx->dir);
	s2 = store_open(other, fx->dir, &eb, &err);
	assert_non_null(s2);
	OK(store_copy(fx->s, s2, &n, &err));
	assert_int_equal(n.tokens, 2);
	assert_int_equal(store_token_find(s2, TH2, &got, &err), 1);
	store_close(&s2);

	OK(store_token_delete(fx->s, "panel", &err));
	assert_int_equal(store_token_find(fx->s, TH1, &got, &err), 0);
	assert_int_equal(store_token_delete(fx->s, "panel", &err),
	    STORE_REFUSED);
	OK(store_customer_delete(fx->s, "acme", true, &err));
	assert_int_equal(store_token_find(fx->s, TH2, &got, &err), 0);
}

int
main(void)
{
	size_t i;
	int r;

	add_test("fixture and migrate", test_fixture, NULL);
	for (i = 0; i < nitems(refuse_cases); i++)
		add_test(refuse_cases[i].name, test_refuse, &refuse_cases[i]);
	add_test("customers", test_customers, NULL);
	add_test("suspend and resume", test_suspend, NULL);
	add_test("domains", test_domains, NULL);
	add_test("find: the row without the counts", test_find, NULL);
	add_test("mailboxes", test_mailboxes, NULL);
	add_test("aliases", test_aliases, NULL);
	add_test("windows of the lists", test_windows, NULL);
	add_test("delete with force", test_delete_force, NULL);
	add_test("rollback leaves nothing", test_rollback, NULL);
	add_test("persistence across handles", test_persist, NULL);
	add_test("newer schema refused", test_newer_schema, NULL);
	add_test("busy store is a temporary failure", test_busy, NULL);
	add_test("open errors and sqlite:/PATH", test_open_errors, NULL);
	add_test("lookups of a parsed address", test_lookup_parsed, NULL);
	add_test("backup and restore of the whole store", test_backup_restore,
	    NULL);
	add_test("srs secrets", test_srs_secrets, NULL);
	add_test("api tokens", test_tokens, NULL);
	r = _cmocka_run_group_tests("store", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
