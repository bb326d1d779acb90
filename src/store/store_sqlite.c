/*
 * store_sqlite.c - the SQLite backend of the account store.
 *
 * One file (DATA_DIR/store.db by default) in WAL mode, so readers in the
 * daemon never wait for the CLI writing, with foreign keys on and full
 * synchronous commits: an account change is durable once the CLI says
 * so. Statements are prepared once per handle and reset after use; all
 * values are bound, never pasted into SQL. A busy or locked database is
 * a temporary failure (-1), never "not found".
 */
#include <errno.h>

#include <sqlite3.h>

#include "store/store_int.h"
#include "util/sqlite_fd.h"
#include "util/xalloc.h"
#include "util/compat.h"

struct store_sqlite {
	struct store	 base;	/* first: the generic layer's view */
	sqlite3		*db;
	sqlite3_stmt	*stmts[SQL_NSTMTS];
};

#define SQLITE_BUSY_MS 2000

static const char *
errtext(struct store_sqlite *s, int rc)
{
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return store_set_error(&s->base, "the account store is busy "
		    "(locked by another writer); try again");
	return store_set_error(&s->base, "account store: %s",
	    sqlite3_errmsg(s->db));
}

static struct store *
sqlite_open(const char *uri, const char *data_dir, struct errbuf *eb,
    const char **error_r)
{
	struct store_sqlite *s;
	char path[4096], shown[4096];
	int rc;

	if (strcmp(uri, "sqlite") == 0) {
		if (str_fmt(path, sizeof(path), "%s/store.db", data_dir) == -1) {
			*error_r = "store path too long";
			return NULL;
		}
	} else if (str_copy(path, uri + 7, sizeof(path)) == -1) {
		*error_r = "store path too long";
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->base.be = &store_backend_sqlite;
	buf_init(&s->base.err, 4096);
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, sqlite_fd_vfs(path));
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(s->db, SQLITE_BUSY_MS);
		(void)sqlite3_extended_result_codes(s->db, 0);
		rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL;"
		    "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;",
		    NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return &s->base;
	}
	/* The handle goes: the text goes to the caller's buffer. */
	*error_r = errbuf_set(eb, "cannot open %s: %s",
	    sqlite_fd_display(path, shown, sizeof(shown)), s->db != NULL ?
	    sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	sqlite3_close(s->db);
	buf_free(&s->base.err);
	free(s);
	return NULL;
}

static void
sqlite_close(struct store *base)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	size_t i;

	for (i = 0; i < SQL_NSTMTS; i++)
		sqlite3_finalize(s->stmts[i]);
	if (sqlite3_close(s->db) != SQLITE_OK)
		sqlite3_close_v2(s->db);
	free(s);
}

static const char *
sqlite_row_text(struct store_row *r, int col)
{
	const unsigned char *t = sqlite3_column_text(r->impl, col);

	return t != NULL ? (const char *)t : "";
}

static int64_t
sqlite_row_int(struct store_row *r, int col)
{
	return sqlite3_column_int64(r->impl, col);
}

static int
sqlite_row_ncols(struct store_row *r)
{
	return sqlite3_column_count(r->impl);
}

static int
bind(sqlite3_stmt *st, const struct store_val *args, int nargs)
{
	char name[16];
	int i, idx, rc = SQLITE_OK;

	for (i = 0; i < nargs && rc == SQLITE_OK; i++) {
		(void)snprintf(name, sizeof(name), "$%d", i + 1);
		idx = sqlite3_bind_parameter_index(st, name);
		if (idx == 0)
			continue;
		switch (args[i].type) {
		case SV_NULL:
			rc = sqlite3_bind_null(st, idx);
			break;
		case SV_TEXT:
			rc = sqlite3_bind_text(st, idx, args[i].s, -1,
			    SQLITE_STATIC);
			break;
		case SV_INT:
			rc = sqlite3_bind_int64(st, idx, args[i].i);
			break;
		}
	}
	return rc;
}

static int64_t
sqlite_exec(struct store *base, enum store_stmt which,
    const struct store_val *args, int nargs, store_row_cb *cb, void *cbarg)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	struct store_row row = { &store_backend_sqlite, NULL };
	sqlite3_stmt *st;
	int64_t n = 0;
	int rc;

	if (s->stmts[which] == NULL) {
		rc = sqlite3_prepare_v3(s->db, store_sql[which], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->stmts[which], NULL);
		if (rc != SQLITE_OK) {
			(void)errtext(s, rc);
			return -1;
		}
	}
	st = s->stmts[which];
	rc = bind(st, args, nargs);
	if (rc != SQLITE_OK) {
		(void)errtext(s, rc);
		goto out;
	}
	row.impl = st;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n++;
		if (cb != NULL)
			cb(&row, cbarg);
	}
	if (rc == SQLITE_DONE) {
		if (sqlite3_column_count(st) == 0)
			n = sqlite3_changes(s->db);
	} else {
		(void)errtext(s, rc);
		n = rc == SQLITE_CONSTRAINT ? STORE_REFUSED : -1;
	}
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return n;
}

static int
sqlite_script(struct store *base, const char *sql)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		(void)errtext(s, rc);
		return -1;
	}
	return 0;
}

static int
sqlite_has_schema(struct store *base)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE "
	    "type = 'table' AND name = 'schema_version'", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		(void)errtext(s, rc);
		return -1;
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		(void)errtext(s, rc);
		return -1;
	}
	return rc == SQLITE_ROW;
}

/* What a backup copy holds, for its manifest. */
static int
count_copy(sqlite3 *db, void *arg, struct errbuf *eb)
{
	struct store_counts *n = arg;
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM customers),"
	    " (SELECT count(*) FROM domains), (SELECT count(*) FROM"
	    " mailboxes), (SELECT count(*) FROM aliases)", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		n->customers = (uint64_t)sqlite3_column_int64(st, 0);
		n->domains = (uint64_t)sqlite3_column_int64(st, 1);
		n->mailboxes = (uint64_t)sqlite3_column_int64(st, 2);
		n->aliases = (uint64_t)sqlite3_column_int64(st, 3);
		rc = SQLITE_OK;
	} else {
		(void)errbuf_set(eb, "counting the copy: %s",
		    sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : -1;
}

static int
sqlite_backup(struct store *base, const char *path,
    struct store_counts *counts_r)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	struct errbuf eb;

	memset(counts_r, 0, sizeof(*counts_r));
	if (sqlite_fd_backup(s->db, path, count_copy, counts_r, &eb) == -1) {
		(void)store_set_error(base, "copying the account store: %s",
		    eb.text);
		return -1;
	}
	return 0;
}

static int
sqlite_restore(struct store *base, const char *path)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	char shown[4096];
	struct errbuf eb;

	if (sqlite_fd_restore(s->db, path, &eb) == -1) {
		(void)store_set_error(base, "restoring the account store from "
		    "%s: %s", sqlite_fd_display(path, shown, sizeof(shown)),
		    eb.text);
		return -1;
	}
	return 0;
}

const struct store_backend store_backend_sqlite = {
	.scheme = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.exec = sqlite_exec,
	.script = sqlite_script,
	.has_schema = sqlite_has_schema,
	.row_text = sqlite_row_text,
	.row_int = sqlite_row_int,
	.row_ncols = sqlite_row_ncols,
	.backup = sqlite_backup,
	.restore = sqlite_restore,
	.begin_sql = "BEGIN IMMEDIATE",
};
