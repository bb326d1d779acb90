/*
 * store_pgsql.c - the PostgreSQL backend of the account store
 * (store = postgresql://...), for several popgate hosts sharing one
 * account base. Same schema, migrations and statements as SQLite
 * (store_sql.c).
 *
 * One connection per handle (each worker thread has its own), opened
 * from the URI as libpq parses it, with popgate's defaults in front:
 * a short connect timeout and TCP keepalives, so a dead server shows as
 * an error rather than a hung worker. Statements are prepared on first
 * use per connection, values sent as text parameters, never pasted into
 * SQL. A connection lost outside a transaction (the server restarted) is
 * made again and the statement run once more, so the first lookup after
 * a restart already works; inside a transaction the failure is returned
 * and the caller rolls back. While the server is down every call fails
 * at once (-1, a temporary failure: 451 4.3.0 / -ERR [SYS/TEMP]) and a
 * new connection is tried at most once per RETRY_MS.
 *
 * Writers take a transaction-wide advisory lock at BEGIN, so the CLI on
 * several hosts changes the store one at a time, as SQLite's BEGIN
 * IMMEDIATE does on one host; readers never wait for it.
 */
#include <errno.h>

#include <libpq-fe.h>

#include "store/store_int.h"
#include "util/clock.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define RETRY_MS	1000
#define WRITE_LOCK	1886351207	/* "popg" (0x706f7067): the advisory lock */

struct store_pgsql {
	struct store	 base;	/* first: the generic layer's view */
	PGconn		*conn;
	char		*uri;
	uint64_t	 retry_at;	/* monotonic ms; 0 = now */
	bool		 prepared[SQL_NSTMTS];
	int		 nparams[SQL_NSTMTS];
};

struct pg_row {
	PGresult	*res;
	int		 row;
};

/* The first line of libpq's message: they end in newlines. */
static const char *
pg_error(struct store_pgsql *s, const char *what, const char *msg)
{
	size_t n = strcspn(msg, "\n");

	return store_set_error(&s->base, "account store (postgresql): %s: "
	    "%.*s", what, (int)n, n > 0 ? msg : "unknown error");
}

static void
no_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Makes sure the connection is up: 0, or -1 with the error set. */
static int
connected(struct store_pgsql *s)
{
	static const char *const keys[] = { "connect_timeout", "keepalives",
	    "keepalives_idle", "keepalives_interval", "keepalives_count",
	    "fallback_application_name", "dbname", NULL };
	const char *vals[] = { "3", "1", "10", "5", "3", "popgate", s->uri,
	    NULL };
	uint64_t now = clock_mono_ms();

	if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
		return 0;
	if (s->retry_at != 0 && now < s->retry_at) {
		(void)store_set_error(&s->base, "account store (postgresql) "
		    "unreachable; next try in %llu ms",
		    (unsigned long long)(s->retry_at - now));
		return -1;
	}
	if (s->conn != NULL)
		PQfinish(s->conn);
	memset(s->prepared, 0, sizeof(s->prepared));
	/* Keywords in order: the URI (expanded from dbname) overrides the
	   defaults before it. */
	s->conn = PQconnectdbParams(keys, vals, 1);
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
		(void)pg_error(s, "cannot connect", s->conn != NULL ?
		    PQerrorMessage(s->conn) : "out of memory");
		PQfinish(s->conn);
		s->conn = NULL;
		s->retry_at = now + RETRY_MS;
		return -1;
	}
	PQsetNoticeProcessor(s->conn, no_notices, NULL);
	s->retry_at = 0;
	return 0;
}

static struct store *
pg_open(const char *uri, const char *data_dir, struct errbuf *eb,
    const char **error_r)
{
	struct store_pgsql *s;

	(void)data_dir;
	s = xcalloc(1, sizeof(*s));
	s->base.be = &store_backend_pgsql;
	buf_init(&s->base.err, 4096);
	s->uri = xstrdup(uri);
	if (connected(s) == -1) {
		*error_r = errbuf_set(eb, "%s", buf_cstr(&s->base.err));
		buf_free(&s->base.err);
		free(s->uri);
		free(s);
		return NULL;
	}
	return &s->base;
}

static void
pg_close(struct store *base)
{
	struct store_pgsql *s = (struct store_pgsql *)base;

	PQfinish(s->conn);
	free(s->uri);
	free(s);
}

/* Whether a failed call may be made again on a new connection: the
   connection broke, and no transaction was open on it. */
static bool
retry_after(struct store_pgsql *s, PGTransactionStatusType before)
{
	return PQstatus(s->conn) == CONNECTION_BAD &&
	    before == PQTRANS_IDLE;
}

/* The highest $N in SQL: how many parameters the statement takes. */
static int
count_params(const char *sql)
{
	const char *p;
	long n, max = 0;
	char *ep;

	for (p = strchr(sql, '$'); p != NULL; p = strchr(p + 1, '$')) {
		n = strtol(p + 1, &ep, 10);
		if (ep != p + 1 && n > max)
			max = n;
	}
	return (int)max;
}

static int
prepare(struct store_pgsql *s, enum store_stmt which, const char *name)
{
	PGresult *res;
	int ok;

	if (s->prepared[which])
		return 0;
	res = PQprepare(s->conn, name, store_sql[which], 0, NULL);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		(void)pg_error(s, "prepare", PQresultErrorMessage(res));
	PQclear(res);
	if (!ok)
		return -1;
	s->prepared[which] = true;
	s->nparams[which] = count_params(store_sql[which]);
	return 0;
}

/* Maps a failed result to -1 or STORE_REFUSED (a constraint). */
static int64_t
failed(struct store_pgsql *s, PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	(void)pg_error(s, "query", PQresultErrorMessage(res));
	/* Class 23: integrity constraint violation. */
	return state != NULL && strncmp(state, "23", 2) == 0 ?
	    STORE_REFUSED : -1;
}

static PGresult *
run_prepared(struct store_pgsql *s, enum store_stmt which,
    const struct store_val *args, int nargs)
{
	const char *values[16];
	char ints[16][24], name[16];
	int i;

	(void)snprintf(name, sizeof(name), "s%d", (int)which);
	if (prepare(s, which, name) == -1)
		return NULL;
	if (nargs > s->nparams[which])
		nargs = s->nparams[which];
	for (i = 0; i < nargs && i < (int)nitems(values); i++) {
		switch (args[i].type) {
		case SV_NULL:
			values[i] = NULL;
			break;
		case SV_TEXT:
			values[i] = args[i].s;
			break;
		case SV_INT:
			(void)snprintf(ints[i], sizeof(ints[i]), "%lld",
			    (long long)args[i].i);
			values[i] = ints[i];
			break;
		}
	}
	return PQexecPrepared(s->conn, name, nargs, values, NULL, NULL, 0);
}

static int64_t
pg_exec(struct store *base, enum store_stmt which,
    const struct store_val *args, int nargs, store_row_cb *cb, void *cbarg)
{
	struct store_pgsql *s = (struct store_pgsql *)base;
	struct pg_row pr;
	struct store_row row = { &store_backend_pgsql, &pr };
	PGTransactionStatusType before;
	PGresult *res;
	int64_t n = 0;
	int attempt;

	for (attempt = 0; ; attempt++) {
		if (connected(s) == -1)
			return -1;
		before = PQtransactionStatus(s->conn);
		res = run_prepared(s, which, args, nargs);
		if (res != NULL && (PQresultStatus(res) == PGRES_TUPLES_OK ||
		    PQresultStatus(res) == PGRES_COMMAND_OK))
			break;
		if (attempt == 0 && retry_after(s, before)) {
			PQclear(res);
			continue;
		}
		if (res == NULL)
			return -1;	/* the prepare failed; error set */
		n = failed(s, res);
		PQclear(res);
		return n;
	}
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		pr.res = res;
		for (pr.row = 0; pr.row < PQntuples(res); pr.row++) {
			n++;
			if (cb != NULL)
				cb(&row, cbarg);
		}
	} else
		n = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return n;
}

static int
pg_script(struct store *base, const char *sql)
{
	struct store_pgsql *s = (struct store_pgsql *)base;
	PGTransactionStatusType before;
	PGresult *res;
	ExecStatusType st;
	int attempt;

	for (attempt = 0; ; attempt++) {
		if (connected(s) == -1)
			return -1;
		before = PQtransactionStatus(s->conn);
		res = PQexec(s->conn, sql);
		st = PQresultStatus(res);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			PQclear(res);
			return 0;
		}
		if (attempt > 0 || !retry_after(s, before))
			break;
		PQclear(res);
	}
	(void)pg_error(s, "query", res != NULL ? PQresultErrorMessage(res) :
	    PQerrorMessage(s->conn));
	PQclear(res);
	return -1;
}

static int
pg_has_schema(struct store *base)
{
	struct store_pgsql *s = (struct store_pgsql *)base;
	PGresult *res;
	int r;

	if (connected(s) == -1)
		return -1;
	res = PQexec(s->conn, "SELECT 1 FROM pg_catalog.pg_tables WHERE "
	    "schemaname = current_schema() AND tablename = 'schema_version'");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		(void)pg_error(s, "query", PQresultErrorMessage(res));
		r = -1;
	} else
		r = PQntuples(res) > 0;
	PQclear(res);
	return r;
}

static const char *
pg_row_text(struct store_row *r, int col)
{
	struct pg_row *pr = r->impl;

	return PQgetvalue(pr->res, pr->row, col);
}

static int64_t
pg_row_int(struct store_row *r, int col)
{
	return strtoll(pg_row_text(r, col), NULL, 10);
}

static int
pg_row_ncols(struct store_row *r)
{
	struct pg_row *pr = r->impl;

	return PQnfields(pr->res);
}

#define STR_(x) #x
#define STR(x) STR_(x)

const struct store_backend store_backend_pgsql = {
	.scheme = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.exec = pg_exec,
	.script = pg_script,
	.has_schema = pg_has_schema,
	.row_text = pg_row_text,
	.row_int = pg_row_int,
	.row_ncols = pg_row_ncols,
	.begin_sql = "BEGIN; SELECT pg_advisory_xact_lock(" STR(WRITE_LOCK)
	    ")",
};
