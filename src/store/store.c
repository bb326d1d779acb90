/*
 * store.c - the generic account-store layer over a backend vtable.
 *
 * Validates and canonicalizes every argument (customer names, domains,
 * addresses; lower-case), turns rows into structs and gives refusals a
 * message a person can act on. Backends (store_sqlite.c, ...) only run
 * the shared statements of store_sql.c. Modelled on OpenSMTPD's table.c:
 * the generic layer does the checks so the backends stay small.
 */
#include <stdarg.h>

#include "store/store_int.h"
#include "util/clock.h"
#include "util/compat.h"

static const struct store_backend *const backends[] = {
	&store_backend_sqlite,
	&store_backend_pgsql,
};

const char *
store_set_error(struct store *s, const char *fmt, ...)
{
	va_list ap;

	buf_reset(&s->err);
	va_start(ap, fmt);
	if (buf_vprintf(&s->err, fmt, ap) == -1) {
		buf_reset(&s->err);
		(void)buf_append_str(&s->err, "(error text too long)");
	}
	va_end(ap);
	return buf_cstr(&s->err);
}

const char *
store_row_text(struct store_row *r, int col)
{
	return r->be->row_text(r, col);
}

int64_t
store_row_int(struct store_row *r, int col)
{
	return r->be->row_int(r, col);
}

struct store *
store_open(const char *uri, const char *data_dir, struct errbuf *eb,
    const char **error_r)
{
	size_t i;

	/* libpq takes both spellings of its URI scheme. */
	if (strncmp(uri, "postgres://", 11) == 0)
		return store_backend_pgsql.open(uri, data_dir, eb, error_r);
	for (i = 0; i < nitems(backends); i++) {
		size_t n = strlen(backends[i]->scheme);

		if (strncmp(uri, backends[i]->scheme, n) == 0 &&
		    (uri[n] == '\0' || uri[n] == ':'))
			return backends[i]->open(uri, data_dir, eb, error_r);
	}
	*error_r = "unknown store type (expected sqlite, sqlite:/PATH or "
	    "postgresql://...)";
	return NULL;
}

void
store_close(struct store **sp)
{
	struct store *s = *sp;

	if (s == NULL)
		return;
	*sp = NULL;
	buf_free(&s->err);
	s->be->close(s);
}

static int64_t
run(struct store *s, enum store_stmt st, const struct store_val *args,
    int nargs, store_row_cb *cb, void *arg)
{
	return s->be->exec(s, st, args, nargs, cb, arg);
}

static void
row_version(struct store_row *r, void *arg)
{
	*(int *)arg = (int)store_row_int(r, 0);
}

int
store_schema_version(struct store *s, const char **error_r)
{
	int v = 0;

	/* A missing table means an empty store: version 0. */
	switch (s->be->has_schema(s)) {
	case -1:
		*error_r = buf_cstr(&s->err);
		return -1;
	case 0:
		return 0;
	}
	if (run(s, SQL_SCHEMA_VERSION, NULL, 0, row_version, &v) < 0) {
		*error_r = buf_cstr(&s->err);
		return -1;
	}
	return v;
}

int
store_migrate(struct store *s, const char **error_r)
{
	int v;
	unsigned i;
	char sql[64];

	if (store_begin(s, error_r) == -1)
		return -1;
	v = store_schema_version(s, error_r);
	if (v < 0)
		goto fail;
	if ((unsigned)v > store_nmigrations) {
		*error_r = store_set_error(s, "the store has schema version "
		    "%d, newer than this popgate knows (%u): upgrade popgate",
		    v, store_nmigrations);
		goto fail;
	}
	for (i = (unsigned)v; i < store_nmigrations; i++) {
		if (s->be->script(s, store_migrations[i]) == -1 ||
		    str_fmt(sql, sizeof(sql),
		    "UPDATE schema_version SET version = %u", i + 1) == -1 ||
		    s->be->script(s, sql) == -1) {
			*error_r = buf_cstr(&s->err);
			goto fail;
		}
	}
	return store_commit(s, error_r);
fail:
	store_rollback(s);
	return -1;
}

int
store_begin(struct store *s, const char **error_r)
{
	if (s->be->script(s, s->be->begin_sql) == -1) {
		*error_r = buf_cstr(&s->err);
		return -1;
	}
	return 0;
}

int
store_commit(struct store *s, const char **error_r)
{
	if (s->be->script(s, "COMMIT") == -1) {
		*error_r = buf_cstr(&s->err);
		store_rollback(s);
		return -1;
	}
	return 0;
}

void
store_rollback(struct store *s)
{
	(void)s->be->script(s, "ROLLBACK");
}

int
store_check_customer_name(const char *name, const char **error_r)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > STORE_NAME_MAX) {
		*error_r = "customer names are 1 to 64 characters";
		return -1;
	}
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (i > 0 && strchr("._-", c))))
			goto bad;
	}
	return 0;
bad:
	*error_r = "customer names are letters, digits and . _ - (not first)";
	return -1;
}

int
store_parse_address(const char *s, struct mailaddr *a, const char **error_r)
{
	if (addr_parse(s, strlen(s), 0, a, error_r) == -1)
		return -1;
	addr_canonicalize(a);
	return 0;
}

int
store_canon_customer(struct store *s, const char *name,
    char out[STORE_NAME_MAX + 1], const char **error_r)
{
	const char *err;

	if (store_check_customer_name(name, &err) == -1) {
		*error_r = store_set_error(s, "bad customer name '%s': %s",
		    name, err);
		return STORE_REFUSED;
	}
	(void)str_copy(out, name, STORE_NAME_MAX + 1);
	str_lower(out);
	return 0;
}

static int
canon_domain(struct store *s, const char *domain,
    char out[ADDR_DOMAIN_MAX + 1], const char **error_r)
{
	return store_canon_domain(s, domain, out, error_r);
}

int
store_canon_domain(struct store *s, const char *domain,
    char out[ADDR_DOMAIN_MAX + 1], const char **error_r)
{
	const char *err;

	if (addr_domain_check(domain, strlen(domain), 0, &err) == -1 ||
	    str_copy(out, domain, ADDR_DOMAIN_MAX + 1) == -1) {
		*error_r = store_set_error(s, "bad domain '%s': %s", domain,
		    err);
		return STORE_REFUSED;
	}
	str_lower(out);
	return 0;
}

/* ADDRESS parsed and canonicalized once into C, or a refusal. */
static int
canon_address(struct store *s, const char *address, struct addr_canon *c,
    const char **error_r)
{
	const char *err;

	if (store_parse_address(address, &c->a, &err) == -1) {
		*error_r = store_set_error(s, "bad address '%s': %s", address,
		    err);
		return STORE_REFUSED;
	}
	addr_canon_set(c, &c->a);
	return 0;
}

/* Whether C is an address the store can hold: what store_parse_address()
   accepts (no address literal, no UTF-8). */
static bool
storable(const struct addr_canon *c)
{
	return !c->a.literal && !c->a.utf8;
}

/* Maps a backend result to the store.h convention. */
static int
result(struct store *s, int64_t r, const char **error_r)
{
	return store_result(s, r, error_r);
}

int
store_result(struct store *s, int64_t r, const char **error_r)
{
	if (r < 0) {
		*error_r = buf_cstr(&s->err);
		return r == STORE_REFUSED ? STORE_REFUSED : -1;
	}
	return 0;
}

/* One row by KEY into OUT (cleared first): the lookup convention. */
static int
lookup(struct store *s, enum store_stmt st, const char *key,
    store_row_cb *cb, void *out, size_t outsz, const char **error_r)
{
	struct store_val v[1];
	int64_t r;

	v[0] = SV_T(key);
	if (outsz > 0)
		memset(out, 0, outsz);
	r = run(s, st, v, 1, cb, out);
	if (r < 0) {
		*error_r = buf_cstr(&s->err);
		return -1;
	}
	return r > 0;
}

/* ---- customers ---- */

void
store_row_customer(struct store_row *r, void *arg)
{
	struct store_customer *c = arg;

	(void)str_copy(c->name, store_row_text(r, 0), sizeof(c->name));
	c->suspended = strcmp(store_row_text(r, 1), "suspended") == 0;
	c->created = store_row_int(r, 2);
	c->ndomains = (uint64_t)store_row_int(r, 3);
	c->nmailboxes = (uint64_t)store_row_int(r, 4);
}

int
store_customer_get(struct store *s, const char *name,
    struct store_customer *c, const char **error_r)
{
	char n[STORE_NAME_MAX + 1];

	if (store_canon_customer(s, name, n, error_r) != 0)
		return 0;
	return lookup(s, SQL_CUSTOMER_GET, n, store_row_customer, c, sizeof(*c),
	    error_r);
}

int
store_customer_find(struct store *s, const char *name,
    struct store_customer *c, const char **error_r)
{
	char n[STORE_NAME_MAX + 1];

	if (store_canon_customer(s, name, n, error_r) != 0)
		return 0;
	return lookup(s, SQL_CUSTOMER_FIND, n, store_row_customer, c,
	    sizeof(*c), error_r);
}

int
store_customer_add(struct store *s, const char *name, const char **error_r)
{
	char n[STORE_NAME_MAX + 1];
	struct store_customer c;
	struct store_val v[2];
	int r;

	if ((r = store_canon_customer(s, name, n, error_r)) != 0)
		return r;
	r = store_customer_get(s, n, &c, error_r);
	if (r != 0) {
		if (r == 1)
			*error_r = store_set_error(s, "customer '%s' already "
			    "exists", n);
		return r == 1 ? STORE_REFUSED : -1;
	}
	v[0] = SV_T(n);
	v[1] = SV_I(clock_now());
	return result(s, run(s, SQL_CUSTOMER_ADD, v, 2, NULL, NULL), error_r);
}

int
store_customer_set_suspended(struct store *s, const char *name,
    bool suspended, const char **error_r)
{
	char n[STORE_NAME_MAX + 1];
	struct store_val v[2];
	int64_t r;
	int rc;

	if ((rc = store_canon_customer(s, name, n, error_r)) != 0)
		return rc;
	v[0] = SV_T(n);
	v[1] = SV_T(suspended ? "suspended" : "active");
	r = run(s, SQL_CUSTOMER_SET_STATUS, v, 2, NULL, NULL);
	if (r == 0) {
		*error_r = store_set_error(s, "no customer '%s'", n);
		return STORE_REFUSED;
	}
	return result(s, r, error_r);
}

int
store_customer_delete(struct store *s, const char *name, bool force,
    const char **error_r)
{
	char n[STORE_NAME_MAX + 1];
	struct store_customer c;
	struct store_val v[1];
	int r;

	if ((r = store_canon_customer(s, name, n, error_r)) != 0)
		return r;
	r = store_customer_get(s, n, &c, error_r);
	if (r <= 0) {
		if (r == 0)
			*error_r = store_set_error(s, "no customer '%s'", n);
		return r == 0 ? STORE_REFUSED : -1;
	}
	if (c.ndomains > 0 && !force) {
		*error_r = store_set_error(s, "customer '%s' still has %llu "
		    "domain(s) with %llu mailbox(es); delete them first or "
		    "use --force to delete them all", n,
		    (unsigned long long)c.ndomains,
		    (unsigned long long)c.nmailboxes);
		return STORE_REFUSED;
	}
	v[0] = SV_T(n);
	return result(s, run(s, SQL_CUSTOMER_DELETE, v, 1, NULL, NULL),
	    error_r);
}

/* ---- domains ---- */

void
store_row_domain(struct store_row *r, void *arg)
{
	struct store_domain *d = arg;

	(void)str_copy(d->name, store_row_text(r, 0), sizeof(d->name));
	(void)str_copy(d->customer, store_row_text(r, 1),
	    sizeof(d->customer));
	d->suspended = strcmp(store_row_text(r, 2), "suspended") == 0;
	d->created = store_row_int(r, 3);
	d->nmailboxes = (uint64_t)store_row_int(r, 4);
	d->naliases = (uint64_t)store_row_int(r, 5);
}

int
store_domain_get(struct store *s, const char *domain, struct store_domain *d,
    const char **error_r)
{
	char n[ADDR_DOMAIN_MAX + 1];

	if (canon_domain(s, domain, n, error_r) != 0)
		return 0;
	return lookup(s, SQL_DOMAIN_GET, n, store_row_domain, d, sizeof(*d),
	    error_r);
}

int
store_domain_find(struct store *s, const char *domain, struct store_domain *d,
    const char **error_r)
{
	char n[ADDR_DOMAIN_MAX + 1];

	if (canon_domain(s, domain, n, error_r) != 0)
		return 0;
	return lookup(s, SQL_DOMAIN_FIND, n, store_row_domain, d, sizeof(*d),
	    error_r);
}

int
store_domain_add(struct store *s, const char *domain, const char *customer,
    const char **error_r)
{
	char n[ADDR_DOMAIN_MAX + 1], cn[STORE_NAME_MAX + 1];
	struct store_customer c;
	struct store_domain d;
	struct store_val v[3];
	int r;

	if ((r = canon_domain(s, domain, n, error_r)) != 0 ||
	    (r = store_canon_customer(s, customer, cn, error_r)) != 0)
		return r;
	r = store_customer_get(s, cn, &c, error_r);
	if (r <= 0) {
		if (r == 0)
			*error_r = store_set_error(s, "no customer '%s' (add "
			    "it with: popgate customer add %s)", cn, cn);
		return r == 0 ? STORE_REFUSED : -1;
	}
	r = store_domain_get(s, n, &d, error_r);
	if (r != 0) {
		if (r == 1)
			*error_r = store_set_error(s, "domain '%s' already "
			    "exists (customer '%s')", n, d.customer);
		return r == 1 ? STORE_REFUSED : -1;
	}
	v[0] = SV_T(n);
	v[1] = SV_T(cn);
	v[2] = SV_I(clock_now());
	return result(s, run(s, SQL_DOMAIN_ADD, v, 3, NULL, NULL), error_r);
}

int
store_domain_delete(struct store *s, const char *domain, bool force,
    const char **error_r)
{
	char n[ADDR_DOMAIN_MAX + 1];
	struct store_domain d;
	struct store_val v[1];
	int r;

	if ((r = canon_domain(s, domain, n, error_r)) != 0)
		return r;
	r = store_domain_get(s, n, &d, error_r);
	if (r <= 0) {
		if (r == 0)
			*error_r = store_set_error(s, "no domain '%s'", n);
		return r == 0 ? STORE_REFUSED : -1;
	}
	if ((d.nmailboxes > 0 || d.naliases > 0) && !force) {
		*error_r = store_set_error(s, "domain '%s' still has %llu "
		    "mailbox(es) and %llu alias(es); delete them first or "
		    "use --force", n, (unsigned long long)d.nmailboxes,
		    (unsigned long long)d.naliases);
		return STORE_REFUSED;
	}
	v[0] = SV_T(n);
	return result(s, run(s, SQL_DOMAIN_DELETE, v, 1, NULL, NULL),
	    error_r);
}

/* ---- mailboxes ---- */

void
store_row_mailbox(struct store_row *r, void *arg)
{
	struct store_mailbox *m = arg;

	(void)str_copy(m->address, store_row_text(r, 0), sizeof(m->address));
	(void)str_copy(m->domain, store_row_text(r, 1), sizeof(m->domain));
	(void)str_copy(m->local, store_row_text(r, 2), sizeof(m->local));
	(void)str_copy(m->hash, store_row_text(r, 3), sizeof(m->hash));
	m->quota = (uint64_t)store_row_int(r, 4);
	m->created = store_row_int(r, 5);
	(void)str_copy(m->customer, store_row_text(r, 6),
	    sizeof(m->customer));
	m->suspended = strcmp(store_row_text(r, 7), "suspended") == 0;
}

int
store_mailbox_get_addr(struct store *s, const struct addr_canon *c,
    struct store_mailbox *m, const char **error_r)
{
	if (!storable(c)) {
		memset(m, 0, sizeof(*m));
		return 0;
	}
	return lookup(s, SQL_MAILBOX_GET, c->text, store_row_mailbox, m,
	    sizeof(*m), error_r);
}

int
store_mailbox_get(struct store *s, const char *address,
    struct store_mailbox *m, const char **error_r)
{
	struct addr_canon c;

	if (canon_address(s, address, &c, error_r) != 0)
		return 0;
	return store_mailbox_get_addr(s, &c, m, error_r);
}

/* The hosted domain of C, or a refusal naming it. */
static int
need_domain(struct store *s, const struct addr_canon *c,
    struct store_domain *d, const char **error_r)
{
	int r = store_domain_get(s, c->a.domain, d, error_r);

	if (r == 0) {
		*error_r = store_set_error(s, "domain '%s' is not hosted here "
		    "(add it with: popgate domain add %s --customer NAME)",
		    c->a.domain, c->a.domain);
		return STORE_REFUSED;
	}
	return r == 1 ? 0 : -1;
}

int
store_mailbox_add(struct store *s, const char *address, const char *hash,
    uint64_t quota, const char **error_r)
{
	struct addr_canon a;
	struct store_domain d;
	struct store_mailbox m;
	struct store_val v[6];
	int r;

	if ((r = canon_address(s, address, &a, error_r)) != 0 ||
	    (r = need_domain(s, &a, &d, error_r)) != 0)
		return r;
	if (passwd_check_hash(hash) == -1) {
		*error_r = store_set_error(s, "not a supported password hash");
		return STORE_REFUSED;
	}
	r = store_mailbox_get_addr(s, &a, &m, error_r);
	if (r != 0) {
		if (r == 1)
			*error_r = store_set_error(s, "mailbox '%s' already "
			    "exists", a.text);
		return r == 1 ? STORE_REFUSED : -1;
	}
	if (quota > INT64_MAX) {
		*error_r = store_set_error(s, "quota too large");
		return STORE_REFUSED;
	}
	v[0] = SV_T(a.text);
	v[1] = SV_T(a.a.domain);
	v[2] = SV_T(a.a.local);
	v[3] = SV_T(hash);
	v[4] = SV_I(quota);
	v[5] = SV_I(clock_now());
	return result(s, run(s, SQL_MAILBOX_ADD, v, 6, NULL, NULL), error_r);
}

/* UPDATE/DELETE of one mailbox by address. */
static int
mailbox_change(struct store *s, enum store_stmt st, const char *address,
    struct store_val extra, const char **error_r)
{
	struct addr_canon a;
	struct store_val v[2];
	int64_t r;
	int rc;

	if ((rc = canon_address(s, address, &a, error_r)) != 0)
		return rc;
	v[0] = SV_T(a.text);
	v[1] = extra;
	r = run(s, st, v, extra.type == SV_NULL ? 1 : 2, NULL, NULL);
	if (r == 0) {
		*error_r = store_set_error(s, "no mailbox '%s'", a.text);
		return STORE_REFUSED;
	}
	return result(s, r, error_r);
}

int
store_mailbox_set_hash(struct store *s, const char *address,
    const char *hash, const char **error_r)
{
	if (passwd_check_hash(hash) == -1) {
		*error_r = store_set_error(s, "not a supported password hash");
		return STORE_REFUSED;
	}
	return mailbox_change(s, SQL_MAILBOX_SET_HASH, address, SV_T(hash),
	    error_r);
}

int
store_mailbox_set_quota(struct store *s, const char *address, uint64_t quota,
    const char **error_r)
{
	if (quota > INT64_MAX) {
		*error_r = store_set_error(s, "quota too large");
		return STORE_REFUSED;
	}
	return mailbox_change(s, SQL_MAILBOX_SET_QUOTA, address, SV_I(quota),
	    error_r);
}

int
store_mailbox_delete(struct store *s, const char *address,
    const char **error_r)
{
	return mailbox_change(s, SQL_MAILBOX_DELETE, address, SV_N, error_r);
}

static void
row_target(struct store_row *r, void *arg)
{
	strlist_add(arg, store_row_text(r, 0));
}

int
store_alias_targets_addr(struct store *s, const struct addr_canon *c,
    struct strlist *out, const char **error_r)
{
	if (!storable(c))
		return 0;
	return lookup(s, SQL_ALIAS_TARGETS, c->text, row_target, out, 0,
	    error_r);
}

int
store_alias_targets(struct store *s, const char *address, struct strlist *out,
    const char **error_r)
{
	struct addr_canon c;

	if (canon_address(s, address, &c, error_r) != 0)
		return 0;
	return store_alias_targets_addr(s, &c, out, error_r);
}

int
store_alias_add(struct store *s, const char *address, const char *target,
    const char **error_r)
{
	struct addr_canon a, t;
	struct store_domain d, td;
	struct store_mailbox m;
	struct strlist cur;
	struct store_val v[4];
	int r;

	if ((r = canon_address(s, address, &a, error_r)) != 0 ||
	    (r = need_domain(s, &a, &d, error_r)) != 0 ||
	    (r = canon_address(s, target, &t, error_r)) != 0)
		return r;
	/* A target in a hosted domain must exist, unless it is the alias
	   itself (an alias that also keeps a copy in its mailbox). */
	r = store_domain_get(s, t.a.domain, &td, error_r);
	if (r == -1)
		return -1;
	if (r == 1 && strcmp(a.text, t.text) != 0) {
		strlist_init(&cur);
		r = store_mailbox_get_addr(s, &t, &m, error_r);
		if (r == 0)
			r = store_alias_targets_addr(s, &t, &cur, error_r);
		strlist_free(&cur);
		if (r == -1)
			return -1;
		if (r == 0) {
			*error_r = store_set_error(s, "target '%s' is in a "
			    "hosted domain but is no mailbox or alias", t.text);
			return STORE_REFUSED;
		}
	}
	strlist_init(&cur);
	r = store_alias_targets_addr(s, &a, &cur, error_r);
	if (r == 1 && strlist_has(&cur, t.text, false)) {
		strlist_free(&cur);
		*error_r = store_set_error(s, "alias '%s' -> '%s' already "
		    "exists", a.text, t.text);
		return STORE_REFUSED;
	}
	strlist_free(&cur);
	if (r == -1)
		return -1;
	v[0] = SV_T(a.text);
	v[1] = SV_T(a.a.domain);
	v[2] = SV_T(t.text);
	v[3] = SV_I(clock_now());
	return result(s, run(s, SQL_ALIAS_ADD, v, 4, NULL, NULL), error_r);
}

int
store_alias_delete(struct store *s, const char *address, const char *target,
    const char **error_r)
{
	struct addr_canon a, t;
	struct store_val v[2];
	int64_t r;
	int rc;

	if ((rc = canon_address(s, address, &a, error_r)) != 0)
		return rc;
	v[0] = SV_T(a.text);
	if (target != NULL) {
		if ((rc = canon_address(s, target, &t, error_r)) != 0)
			return rc;
		v[1] = SV_T(t.text);
		r = run(s, SQL_ALIAS_DELETE_ONE, v, 2, NULL, NULL);
	} else {
		r = run(s, SQL_ALIAS_DELETE_ALL, v, 1, NULL, NULL);
	}
	if (r == 0) {
		*error_r = target != NULL ?
		    store_set_error(s, "no alias '%s' -> '%s'", a.text,
		    t.text) : store_set_error(s, "no alias '%s'", a.text);
		return STORE_REFUSED;
	}
	return result(s, r, error_r);
}

/* ---- copying a whole store ---- */

struct copy {
	struct store		*to;
	struct store_counts	*n;
	int64_t			 r;	/* the first failure, else 0 */
};

static void
copy_insert(struct copy *cp, enum store_stmt st, const struct store_val *v,
    int nv)
{
	if (cp->r == 0 && run(cp->to, st, v, nv, NULL, NULL) < 0)
		cp->r = -1;
}

static void
copy_customer(const struct store_customer *c, void *arg)
{
	struct copy *cp = arg;
	struct store_val v[2];

	v[0] = SV_T(c->name);
	v[1] = SV_I(c->created);
	copy_insert(cp, SQL_CUSTOMER_ADD, v, 2);
	if (c->suspended) {
		v[1] = SV_T("suspended");
		copy_insert(cp, SQL_CUSTOMER_SET_STATUS, v, 2);
	}
	cp->n->customers++;
}

static void
copy_domain(const struct store_domain *d, void *arg)
{
	struct copy *cp = arg;
	struct store_val v[3];

	v[0] = SV_T(d->name);
	v[1] = SV_T(d->customer);
	v[2] = SV_I(d->created);
	copy_insert(cp, SQL_DOMAIN_ADD, v, 3);
	cp->n->domains++;
}

static void
copy_mailbox(const struct store_mailbox *m, void *arg)
{
	struct copy *cp = arg;
	struct store_val v[6];

	v[0] = SV_T(m->address);
	v[1] = SV_T(m->domain);
	v[2] = SV_T(m->local);
	v[3] = SV_T(m->hash);
	v[4] = SV_I(m->quota);
	v[5] = SV_I(m->created);
	copy_insert(cp, SQL_MAILBOX_ADD, v, 6);
	cp->n->mailboxes++;
}

static void
copy_alias(const struct store_alias *a, void *arg)
{
	struct copy *cp = arg;
	struct store_val v[4];

	v[0] = SV_T(a->address);
	v[1] = SV_T(a->domain);
	v[2] = SV_T(a->target);
	v[3] = SV_I(a->created);
	copy_insert(cp, SQL_ALIAS_ADD, v, 4);
	cp->n->aliases++;
}

static void
count_customer(const struct store_customer *c, void *arg)
{
	(void)c;
	(*(uint64_t *)arg)++;
}

int
store_copy(struct store *from, struct store *to,
    struct store_counts *counts_r, const char **error_r)
{
	struct copy cp = { to, counts_r, 0 };
	uint64_t present = 0;
	const char *err;

	memset(counts_r, 0, sizeof(*counts_r));
	if (store_migrate(to, error_r) == -1 || store_begin(to, error_r) == -1)
		return -1;
	if (store_customer_list(to, count_customer, &present, error_r) == -1)
		goto fail;
	if (present > 0) {
		*error_r = store_set_error(to, "the destination already holds "
		    "%llu customer(s); copy only into an empty store",
		    (unsigned long long)present);
		store_rollback(to);
		return STORE_REFUSED;
	}
	/* In the order of the foreign keys. */
	if (store_customer_list(from, copy_customer, &cp, &err) == -1 ||
	    (cp.r == 0 && store_domain_list(from, NULL, copy_domain, &cp,
	    &err) == -1) ||
	    (cp.r == 0 && store_mailbox_list(from, NULL, copy_mailbox, &cp,
	    &err) == -1) ||
	    (cp.r == 0 && store_alias_list(from, NULL, copy_alias, &cp,
	    &err) == -1)) {
		*error_r = store_set_error(to, "reading the source: %s", err);
		goto fail;
	}
	if (cp.r == 0 && (store_dkim_copy(from, to, &counts_r->dkim_keys,
	    error_r) == -1 || store_srs_copy(from, to, error_r) == -1 ||
	    store_token_copy(from, to, &counts_r->tokens, error_r) == -1))
		goto fail;
	if (cp.r != 0) {
		*error_r = buf_cstr(&to->err);
		goto fail;
	}
	return store_commit(to, error_r);
fail:
	store_rollback(to);
	return -1;
}

int
store_backup(struct store *s, const char *path,
    struct store_counts *counts_r, const char **error_r)
{
	if (s->be->backup == NULL) {
		*error_r = store_set_error(s, "a %s store is not copied by "
		    "popgate: use the database's own tool (pg_dump)",
		    s->be->scheme);
		return STORE_REFUSED;
	}
	if (s->be->backup(s, path, counts_r) == -1) {
		*error_r = buf_cstr(&s->err);
		return -1;
	}
	return 0;
}

int
store_restore(struct store *s, const char *path, const char **error_r)
{
	if (s->be->restore == NULL) {
		*error_r = store_set_error(s, "a %s store is not restored by "
		    "popgate: use the database's own tool (pg_restore, psql)",
		    s->be->scheme);
		return STORE_REFUSED;
	}
	if (s->be->restore(s, path) == -1) {
		*error_r = buf_cstr(&s->err);
		return -1;
	}
	return 0;
}
