/*
 * relay_local.c - the `local` relay table: a SQLite file (relay.db) in
 * the data directory, shared by the daemon's workers and the CLI.
 *
 * WAL mode with synchronous=NORMAL: a commit is not fsynced (a power
 * loss may forget the last logins, which only means checking mail once
 * more) but survives a crash of the daemon, and readers never wait for
 * writers. Statements are prepared once per handle, values bound.
 *
 * The generic layer (relay.c) checks arguments and orders results.
 *
 * Rate counters: rows (customer, minute, msgs, rcpts); the hourly total
 * is the sum over the last 60 one-minute buckets, a sliding window with
 * one minute of granularity. A hold (relay_rate_hold) reads the sum and
 * adds to it inside one write transaction (BEGIN IMMEDIATE), so the
 * daemon's workers and the CLI see one order of holds.
 */
#include <sqlite3.h>

#include "relay/relay_int.h"
#include "util/sqlite_fd.h"
#include "util/str.h"
#include "util/xalloc.h"

enum stmt {
	S_RECORD,
	S_LOOKUP,
	S_REVOKE,
	S_LIST,
	S_EXPIRE,
	S_EXPIRE_RATE,
	S_RATE_ADD,
	S_RATE_GET,
	S_RATE_RELEASE,
	S_NSTMTS
};

static const char *const sql[S_NSTMTS] = {
	[S_RECORD] = "INSERT INTO relay_auth (key, customer, mailbox, client,"
	    " listener, opened, expires, net) VALUES ($1, $2, $3, $4, $5, $6,"
	    " $7, $8) ON CONFLICT (key, customer) DO UPDATE SET mailbox = $3,"
	    " client = $4, listener = $5, opened = $6, expires = $7, net = $8",
	[S_LOOKUP] = "SELECT key, customer, mailbox, client, listener,"
	    " opened, expires, net FROM relay_auth WHERE (key = $1 OR net = 1)"
	    " AND expires > $2",
	[S_REVOKE] = "DELETE FROM relay_auth WHERE"
	    " (CAST($1 AS TEXT) IS NULL OR key = $1) AND"
	    " (CAST($2 AS TEXT) IS NULL OR customer = $2)",
	[S_LIST] = "SELECT key, customer, mailbox, client, listener, opened,"
	    " expires, net FROM relay_auth WHERE expires > $1 ORDER BY key,"
	    " customer",
	[S_EXPIRE] = "DELETE FROM relay_auth WHERE expires <= $1",
	[S_EXPIRE_RATE] = "DELETE FROM relay_rate WHERE minute < $1",
	[S_RATE_ADD] = "INSERT INTO relay_rate (customer, minute, msgs, rcpts)"
	    " VALUES ($1, $2, $3, $4) ON CONFLICT (customer, minute) DO"
	    " UPDATE SET msgs = msgs + $3, rcpts = rcpts + $4",
	[S_RATE_GET] = "SELECT coalesce(sum(msgs), 0), coalesce(sum(rcpts),"
	    " 0) FROM relay_rate WHERE customer = $1 AND minute >= $2"
	    " AND minute <= $3",
	/* ?N, not $N: a $N is numbered by where it first appears. */
	[S_RATE_RELEASE] = "UPDATE relay_rate SET msgs = max(msgs - ?3, 0),"
	    " rcpts = max(rcpts - ?4, 0) WHERE customer = ?1 AND minute = ?2",
};

/* Relay state is short-lived: a table of an older layout is dropped and
   made anew rather than migrated (PRAGMA user_version tells which). */
#define SCHEMA_VERSION 1
static const char schema[] =
    "DROP TABLE IF EXISTS relay_auth; DROP TABLE IF EXISTS relay_rate;"
    "CREATE TABLE relay_auth ("
    "  key TEXT NOT NULL, customer TEXT NOT NULL, mailbox TEXT NOT NULL,"
    "  client TEXT NOT NULL, listener TEXT NOT NULL,"
    "  opened INTEGER NOT NULL, expires INTEGER NOT NULL,"
    "  net INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (key, customer));"
    "CREATE INDEX relay_auth_net ON relay_auth (net)"
    "  WHERE net = 1;"
    "CREATE INDEX relay_auth_customer"
    "  ON relay_auth (customer);"
    "CREATE TABLE relay_rate ("
    "  customer TEXT NOT NULL, minute INTEGER NOT NULL,"
    "  msgs INTEGER NOT NULL, rcpts INTEGER NOT NULL,"
    "  PRIMARY KEY (customer, minute));"
    "PRAGMA user_version = 1;";

static int
user_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Creates the tables unless they have the current layout. Every worker
   opens the table at start-up: the version is checked again under the
   write lock, so one creates it and the others see it made (a second
   DROP would wipe authorizations already recorded). */
static int
ensure_schema(sqlite3 *db)
{
	int v;

	if (user_version(db) == SCHEMA_VERSION)
		return 0;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE;", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return -1;
	v = user_version(db);
	if (v != SCHEMA_VERSION &&
	    sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		(void)sqlite3_exec(db, "ROLLBACK;", NULL, NULL, NULL);
		return -1;
	}
	return sqlite3_exec(db, "COMMIT;", NULL, NULL, NULL) == SQLITE_OK ?
	    0 : -1;
}

struct relay_local {
	struct relay_auth	 base;	/* first: relay.c's view */
	sqlite3			*db;
	sqlite3_stmt		*st[S_NSTMTS];
};

static int
fail(struct relay_local *r, const char *what)
{
	int rc = sqlite3_errcode(r->db);

	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return relay_set_error(&r->base, "relay table busy (%s)", what);
	return relay_set_error(&r->base, "relay table: %s: %s", what,
	    sqlite3_errmsg(r->db));
}

static struct relay_auth *
local_open(const char *uri, const char *data_dir, struct errbuf *eb,
    const char **error_r)
{
	struct relay_local *r;
	char path[4096], shown[4096];

	(void)uri;
	if (str_fmt(path, sizeof(path), "%s/relay.db", data_dir) == -1) {
		*error_r = "relay table path too long";
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, sqlite_fd_vfs(path)) !=
	    SQLITE_OK ||
	    sqlite3_busy_timeout(r->db, 2000) != SQLITE_OK ||
	    sqlite3_exec(r->db, "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = NORMAL;", NULL, NULL, NULL) != SQLITE_OK ||
	    ensure_schema(r->db) == -1) {
		*error_r = errbuf_set(eb, "cannot open %.200s: %s",
		    sqlite_fd_display(path, shown, sizeof(shown)), r->db != NULL ?
		    sqlite3_errmsg(r->db) : "out of memory");
		sqlite3_close(r->db);
		free(r);
		return NULL;
	}
	return &r->base;
}

static void
local_close(struct relay_auth *base)
{
	struct relay_local *r = (struct relay_local *)base;
	size_t i;

	for (i = 0; i < S_NSTMTS; i++)
		sqlite3_finalize(r->st[i]);
	sqlite3_close(r->db);
	free(r);
}

/* The prepared statement WHICH, reset and ready for binding. */
static sqlite3_stmt *
stmt(struct relay_local *r, enum stmt which)
{
	if (r->st[which] == NULL &&
	    sqlite3_prepare_v3(r->db, sql[which], -1,
	    SQLITE_PREPARE_PERSISTENT, &r->st[which], NULL) != SQLITE_OK)
		return NULL;
	sqlite3_reset(r->st[which]);
	sqlite3_clear_bindings(r->st[which]);
	return r->st[which];
}

static void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		(void)sqlite3_bind_null(st, i);
	else
		(void)sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* Runs a statement without rows; the number of changed rows or -1. */
static int
run(struct relay_local *r, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return fail(r, what);
	return sqlite3_changes(r->db);
}

static int
local_record(struct relay_auth *base, const struct relay_entry *e)
{
	struct relay_local *r = (struct relay_local *)base;
	sqlite3_stmt *st = stmt(r, S_RECORD);

	if (st == NULL)
		return fail(r, "record");
	bind_text(st, 1, e->key);
	bind_text(st, 2, e->customer);
	bind_text(st, 3, e->mailbox);
	bind_text(st, 4, e->client);
	bind_text(st, 5, e->listener);
	(void)sqlite3_bind_int64(st, 6, e->opened);
	(void)sqlite3_bind_int64(st, 7, e->expires);
	(void)sqlite3_bind_int(st, 8, e->net ? 1 : 0);
	return run(r, st, "record") < 0 ? -1 : 0;
}

static void
row_entry(sqlite3_stmt *st, struct relay_entry *e)
{
	memset(e, 0, sizeof(*e));
#define COL(i) ((const char *)sqlite3_column_text(st, (i)) != NULL ? \
	    (const char *)sqlite3_column_text(st, (i)) : "")
	(void)str_copy(e->key, COL(0), sizeof(e->key));
	(void)str_copy(e->customer, COL(1), sizeof(e->customer));
	(void)str_copy(e->mailbox, COL(2), sizeof(e->mailbox));
	(void)str_copy(e->client, COL(3), sizeof(e->client));
	(void)str_copy(e->listener, COL(4), sizeof(e->listener));
#undef COL
	e->opened = (time_t)sqlite3_column_int64(st, 5);
	e->expires = (time_t)sqlite3_column_int64(st, 6);
	e->net = sqlite3_column_int(st, 7) != 0;
}

/* Steps ST to its end, giving each row to CB (NULL: none expected). */
static int
rows(struct relay_local *r, sqlite3_stmt *st, const char *what,
    void (*cb)(const struct relay_entry *, void *), void *arg)
{
	struct relay_entry e;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_entry(st, &e);
		cb(&e, arg);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : fail(r, what);
}

struct lookup {
	const char		*key;
	const struct netaddr	*addr;
	struct relay_entry	**out;
	size_t			*n;
};

static void
lookup_row(const struct relay_entry *e, void *arg)
{
	struct lookup *l = arg;

	if (relay_entry_covers(e, l->key, l->addr))
		relay_entry_push(l->out, l->n, e);
}

static int
local_lookup(struct relay_auth *base, const char *key,
    const struct netaddr *addr, time_t now, struct relay_entry **out,
    size_t *n)
{
	struct relay_local *r = (struct relay_local *)base;
	sqlite3_stmt *st = stmt(r, S_LOOKUP);
	struct lookup l = { key, addr, out, n };

	if (st == NULL)
		return fail(r, "lookup");
	bind_text(st, 1, key);
	(void)sqlite3_bind_int64(st, 2, now);
	return rows(r, st, "lookup", lookup_row, &l);
}

static int
local_revoke(struct relay_auth *base, const char *key, const char *customer)
{
	struct relay_local *r = (struct relay_local *)base;
	sqlite3_stmt *st = stmt(r, S_REVOKE);

	if (st == NULL)
		return fail(r, "revoke");
	bind_text(st, 1, key);
	bind_text(st, 2, customer);
	return run(r, st, "revoke");
}

static int
local_list(struct relay_auth *base, time_t now, relay_entry_cb *cb,
    void *arg)
{
	struct relay_local *r = (struct relay_local *)base;
	sqlite3_stmt *st = stmt(r, S_LIST);

	if (st == NULL)
		return fail(r, "list");
	(void)sqlite3_bind_int64(st, 1, now);
	return rows(r, st, "list", cb, arg);
}

static int
local_expire(struct relay_auth *base, time_t now)
{
	struct relay_local *r = (struct relay_local *)base;
	sqlite3_stmt *st = stmt(r, S_EXPIRE);

	if (st == NULL)
		return fail(r, "expire");
	(void)sqlite3_bind_int64(st, 1, now);
	if (run(r, st, "expire") < 0)
		return -1;
	if ((st = stmt(r, S_EXPIRE_RATE)) == NULL)
		return fail(r, "expire");
	(void)sqlite3_bind_int64(st, 1, now / 60 - 120);
	return run(r, st, "expire") < 0 ? -1 : 0;
}

static int
local_rate_add(struct relay_auth *base, const char *customer,
    int64_t minute, uint64_t msgs, uint64_t rcpts)
{
	struct relay_local *r = (struct relay_local *)base;
	sqlite3_stmt *st = stmt(r, S_RATE_ADD);

	if (st == NULL)
		return fail(r, "rate");
	bind_text(st, 1, customer);
	(void)sqlite3_bind_int64(st, 2, minute);
	(void)sqlite3_bind_int64(st, 3, (sqlite3_int64)msgs);
	(void)sqlite3_bind_int64(st, 4, (sqlite3_int64)rcpts);
	return run(r, st, "rate") < 0 ? -1 : 0;
}

static int
local_rate_get(struct relay_auth *base, const char *customer, int64_t first,
    int64_t last, uint64_t *msgs_r, uint64_t *rcpts_r)
{
	struct relay_local *r = (struct relay_local *)base;
	sqlite3_stmt *st = stmt(r, S_RATE_GET);
	int rc;

	if (st == NULL)
		return fail(r, "rate");
	bind_text(st, 1, customer);
	(void)sqlite3_bind_int64(st, 2, first);
	(void)sqlite3_bind_int64(st, 3, last);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*msgs_r = (uint64_t)sqlite3_column_int64(st, 0);
		*rcpts_r = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : fail(r, "rate");
}

/* The check and the add of a hold, under the write lock. */
static int
hold_locked(struct relay_local *r, const char *customer, int64_t minute,
    int64_t first, struct relay_hold *h)
{
	if (local_rate_get(&r->base, customer, first, minute, &h->had_msgs,
	    &h->had_rcpts) == -1)
		return -1;
	if (h->had_msgs + h->msgs > h->max_msgs ||
	    h->had_rcpts + h->rcpts > h->max_rcpts)
		return 0;
	return local_rate_add(&r->base, customer, minute, h->msgs,
	    h->rcpts) == -1 ? -1 : 1;
}

static int
local_rate_hold(struct relay_auth *base, const char *customer,
    int64_t minute, int64_t first, struct relay_hold *h)
{
	struct relay_local *r = (struct relay_local *)base;
	int rc;

	if (sqlite3_exec(r->db, "BEGIN IMMEDIATE;", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return fail(r, "rate hold");
	rc = hold_locked(r, customer, minute, first, h);
	if (rc == -1 || sqlite3_exec(r->db, rc == 1 ? "COMMIT;" :
	    "ROLLBACK;", NULL, NULL, NULL) != SQLITE_OK) {
		if (rc != -1)
			rc = fail(r, "rate hold");
		(void)sqlite3_exec(r->db, "ROLLBACK;", NULL, NULL, NULL);
	}
	return rc;
}

static int
local_rate_release(struct relay_auth *base, const char *customer,
    int64_t minute, uint64_t msgs, uint64_t rcpts)
{
	struct relay_local *r = (struct relay_local *)base;
	sqlite3_stmt *st = stmt(r, S_RATE_RELEASE);

	if (st == NULL)
		return fail(r, "rate release");
	bind_text(st, 1, customer);
	(void)sqlite3_bind_int64(st, 2, minute);
	(void)sqlite3_bind_int64(st, 3, (sqlite3_int64)msgs);
	(void)sqlite3_bind_int64(st, 4, (sqlite3_int64)rcpts);
	return run(r, st, "rate release") < 0 ? -1 : 0;
}

struct live_count {
	time_t		 now;
	uint64_t	*n;
};

/* The authorizations of a backup copy live at its NOW, for the
   manifest. */
static int
count_copy(sqlite3 *db, void *arg, struct errbuf *eb)
{
	struct live_count *lc = arg;
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM relay_auth WHERE"
	    " expires > ?1", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)lc->now);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*lc->n = (uint64_t)sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else {
		(void)errbuf_set(eb, "counting the copy: %s",
		    sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : -1;
}

static int
local_backup(struct relay_auth *base, const char *path, time_t now,
    uint64_t *live_r)
{
	struct relay_local *r = (struct relay_local *)base;
	struct live_count lc = { now, live_r };
	struct errbuf eb;

	*live_r = 0;
	if (sqlite_fd_backup(r->db, path, count_copy, &lc, &eb) == -1)
		return relay_set_error(base, "copying the relay table: %s",
		    eb.text);
	return 0;
}

static int
local_restore(struct relay_auth *base, const char *path)
{
	struct relay_local *r = (struct relay_local *)base;
	char shown[4096];
	struct errbuf eb;

	if (sqlite_fd_restore(r->db, path, &eb) == -1)
		return relay_set_error(base, "restoring the relay table from "
		    "%s: %s", sqlite_fd_display(path, shown, sizeof(shown)),
		    eb.text);
	return 0;
}

const struct relay_backend relay_backend_local = {
	.name = "local",
	.open = local_open,
	.close = local_close,
	.record = local_record,
	.lookup = local_lookup,
	.revoke = local_revoke,
	.list = local_list,
	.expire = local_expire,
	.rate_add = local_rate_add,
	.rate_get = local_rate_get,
	.rate_hold = local_rate_hold,
	.rate_release = local_rate_release,
	.backup = local_backup,
	.restore = local_restore,
};
