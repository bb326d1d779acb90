/*
 * store_remote.c - the account store of another process (README
 * "Processes"): a backend whose statements run in popgate-lookup, and
 * popgate-lookup's side that runs them.
 *
 * The generic layer (store.c) stays with the caller: it validates and
 * canonicalizes, then asks for one of the shared statements by number.
 * The statement crosses the link with its bound values; the rows come
 * back as text (NULL as "", as store_row_text() reads it), several to a
 * message, then a STORE_DONE with the result and the error. A secret
 * column (store_col_secret(): password hashes, token digests, DKIM
 * private keys) is sent as "": they never leave popgate-lookup, which
 * checks logins itself (policy_auth.c) and signs with the DKIM keys
 * (policy_remote.c).
 *
 * Messages (util/ipc.h), every field bounded:
 *   STORE_EXEC	      u32 stmt, u32 nargs, per arg u32 type and bytes
 *		      (text) or u64 (int)
 *   STORE_SCRIPT     u32 what (begin, commit, rollback)
 *   STORE_HAS_SCHEMA (empty)
 *   STORE_ROWS	      u32 nrows, per row u32 ncols and ncols bytes
 *   STORE_DONE	      u64 result (int64), bytes error, then the last
 *		      rows as in STORE_ROWS (most answers are this one
 *		      message)
 *   STORE_DKIM_MAKE  text domain (canonical): store_dkim_make() runs in
 *		      popgate-lookup, answered by a STORE_DONE without
 *		      rows (0, STORE_REFUSED or -1); a change, so only for
 *		      an API request, as SQL_DKIM_ADD is never taken from
 *		      the link (the network process holds no private key,
 *		      not even one it made up)
 * A transaction lives on one connection: the link is pinned to it from
 * BEGIN on, and when that connection is lost the statements fail until
 * the caller's COMMIT or ROLLBACK, so that no half of it runs outside
 * it.
 */
#include <errno.h>

#include "store/store_int.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define REMOTE_ARGS_MAX	16
#define REMOTE_COLS_MAX	16
#define REMOTE_TEXT_MAX	8192
#define REMOTE_ERR_MAX	1024
#define REMOTE_WAIT_MS	10000	/* a statement waits at most this */
#define MAKE_WAIT_MS	30000	/* RSA key generation, on a busy host */

enum { SCRIPT_BEGIN, SCRIPT_COMMIT, SCRIPT_ROLLBACK };

struct store_remote {
	struct store	 base;
	struct ipc_link	*link;		/* borrowed */
	bool		 in_tx;
	unsigned	 tx_gen;	/* the link's connection at BEGIN */
};

/* A row as it came: its columns' texts in B, each with its NUL. */
struct remote_row {
	int		 ncols;
	size_t		 off[REMOTE_COLS_MAX];
	struct buf	 b;
};

static const struct store_backend store_backend_remote;

struct store *
store_open_remote(struct ipc_link *link)
{
	struct store_remote *s = xcalloc(1, sizeof(*s));

	s->base.be = &store_backend_remote;
	buf_init(&s->base.err, 1024);
	s->link = link;
	return &s->base;
}

static void
remote_close(struct store *base)
{
	free(base);
}

static const char *
remote_row_text(struct store_row *r, int col)
{
	const struct remote_row *rr = r->impl;

	if (col < 0 || col >= rr->ncols)
		return "";
	return (const char *)rr->b.data + rr->off[col];
}

static int64_t
remote_row_int(struct store_row *r, int col)
{
	return strtoll(remote_row_text(r, col), NULL, 10);
}

static int
remote_row_ncols(struct store_row *r)
{
	return ((const struct remote_row *)r->impl)->ncols;
}

static int64_t
unavailable(struct store_remote *s, const char *what)
{
	(void)store_set_error(&s->base, "the lookup process is unavailable "
	    "(%s): %s", what, strerror(errno));
	return -1;
}

/* The rows of one STORE_ROWS message to CB: 0, or -1 if malformed. */
static int
deliver_rows(struct ipc_in *in, struct remote_row *rr, int64_t *n,
    store_row_cb *cb, void *cbarg)
{
	struct store_row row = { &store_backend_remote, rr };
	uint32_t nrows, ncols, i, c;
	const void *p;
	size_t len;

	if (ipc_get_u32(in, &nrows) == -1)
		return -1;
	for (i = 0; i < nrows; i++) {
		if (ipc_get_u32(in, &ncols) == -1 || ncols > REMOTE_COLS_MAX)
			return -1;
		buf_reset(&rr->b);
		for (c = 0; c < ncols; c++) {
			if (ipc_get_bytes(in, REMOTE_TEXT_MAX, &p, &len) == -1 ||
			    memchr(p, '\0', len) != NULL)
				return -1;
			rr->off[c] = rr->b.len;
			if (buf_append(&rr->b, p, len) == -1 ||
			    buf_append(&rr->b, "", 1) == -1)
				return -1;
		}
		rr->ncols = (int)ncols;
		(*n)++;
		if (cb != NULL)
			cb(&row, cbarg);
	}
	return ipc_get_done(in, 0);
}

/* The answer to a request just sent: rows to CB, then the result. The
   result must be one the backend call answered can return, within MIN
   and MAX and, when COUNTED (a query), the number of rows that came;
   without COUNTED no row may come. Anything else is malformed, so that
   the generic layer never sees a value it does not expect (a lookup
   "found" with no row, an int64 cut to an int). */
static int64_t
await_done(struct store_remote *s, store_row_cb *cb, void *cbarg,
    int64_t min, int64_t max, bool counted, int wait_ms)
{
	struct remote_row rr;
	struct ipc_in in;
	int64_t rows = 0, result = -1;
	uint64_t v;
	const void *p;
	size_t len;
	int bad = 0;

	memset(&rr, 0, sizeof(rr));
	buf_init(&rr.b, IPC_PAYLOAD_MAX + REMOTE_COLS_MAX);
	for (;;) {
		if (ipc_link_recv(s->link, wait_ms) == -1) {
			result = unavailable(s, "answer");
			break;
		}
		ipc_in_init(&in, s->link->m);
		if (s->link->m->type == STORE_ROWS) {
			if ((bad = deliver_rows(&in, &rr, &rows, cb,
			    cbarg)) == -1)
				break;
			continue;
		}
		if (s->link->m->type != STORE_DONE ||
		    ipc_get_u64(&in, &v) == -1 ||
		    ipc_get_bytes(&in, REMOTE_ERR_MAX, &p, &len) == -1 ||
		    deliver_rows(&in, &rr, &rows, cb, cbarg) == -1) {
			bad = -1;
			break;
		}
		result = (int64_t)v;
		if (result < min || result > max ||
		    (counted ? result >= 0 && result != rows : rows != 0)) {
			bad = -1;
			break;
		}
		if (result < 0)
			(void)store_set_error(&s->base, "%.*s", (int)len,
			    (const char *)p);
		break;
	}
	if (bad == -1) {
		ipc_link_close(s->link);
		(void)store_set_error(&s->base, "the lookup process sent a "
		    "malformed answer");
		result = -1;
	}
	buf_free(&rr.b);
	return result;
}

/* Whether the transaction begun went with its connection. */
static bool
tx_lost(const struct store_remote *s)
{
	return s->in_tx && (s->link->sock == -1 || s->tx_gen != s->link->gen);
}

static int64_t
remote_exec(struct store *base, enum store_stmt which,
    const struct store_val *args, int nargs, store_row_cb *cb, void *cbarg)
{
	struct store_remote *s = (struct store_remote *)base;
	struct ipc_out out;
	bool query;
	int64_t r;
	int i;

	if (tx_lost(s)) {
		(void)store_set_error(base, "the lookup process restarted "
		    "during the transaction");
		return -1;
	}
	if (nargs < 0 || nargs > REMOTE_ARGS_MAX)
		PANIC("store_remote: %d arguments", nargs);
	for (i = 0; i < nargs; i++)
		if (args[i].type == SV_TEXT &&
		    strlen(args[i].s) > REMOTE_TEXT_MAX) {
			(void)store_set_error(base, "a value of over %d octets",
			    REMOTE_TEXT_MAX);
			return STORE_REFUSED;
		}
	ipc_out_init(&out);
	ipc_put_u32(&out, (uint32_t)which);
	ipc_put_u32(&out, (uint32_t)nargs);
	for (i = 0; i < nargs; i++) {
		ipc_put_u32(&out, (uint32_t)args[i].type);
		if (args[i].type == SV_TEXT)
			ipc_put_text(&out, args[i].s);
		else if (args[i].type == SV_INT)
			ipc_put_u64(&out, (uint64_t)args[i].i);
	}
	/* A query (all that return rows are SELECTs) violates no
	   constraint: it is never STORE_REFUSED, which store_result() would
	   pass on to a list documented "0 or -1". */
	query = strncmp(store_sql[which], "SELECT", 6) == 0;
	if (ipc_link_send(s->link, STORE_EXEC, 0, &out) == -1)
		r = unavailable(s, "request");
	else
		r = await_done(s, cb, cbarg, query ? -1 : STORE_REFUSED,
		    INT64_MAX, query, REMOTE_WAIT_MS);
	ipc_out_free(&out);
	return r;
}

static int
remote_script(struct store *base, const char *sql)
{
	struct store_remote *s = (struct store_remote *)base;
	struct ipc_out out;
	uint32_t what;
	int64_t r;

	if (sql == base->be->begin_sql)
		what = SCRIPT_BEGIN;
	else if (strcmp(sql, "COMMIT") == 0)
		what = SCRIPT_COMMIT;
	else if (strcmp(sql, "ROLLBACK") == 0)
		what = SCRIPT_ROLLBACK;
	else {
		(void)store_set_error(base, "no scripts in the lookup "
		    "process's store (migrations run there)");
		return -1;
	}
	if (what != SCRIPT_BEGIN && tx_lost(s)) {
		s->in_tx = false;
		s->link->pinned = false;
		(void)store_set_error(base, "the lookup process restarted "
		    "during the transaction");
		return -1;
	}
	/* Nothing to roll back (the transaction was lost or never
	   began): the error of before stays the one to read. */
	if (what == SCRIPT_ROLLBACK && !s->in_tx)
		return 0;
	ipc_out_init(&out);
	ipc_put_u32(&out, what);
	if (ipc_link_send(s->link, STORE_SCRIPT, 0, &out) == -1)
		r = unavailable(s, "request");
	else
		r = await_done(s, NULL, NULL, -1, 0, false, REMOTE_WAIT_MS);
	ipc_out_free(&out);
	if (what == SCRIPT_BEGIN && r >= 0) {
		s->in_tx = true;
		s->tx_gen = s->link->gen;
	} else if (what == SCRIPT_ROLLBACK || r >= 0 || tx_lost(s))
		s->in_tx = false;	/* a failed COMMIT still wants ROLLBACK */
	s->link->pinned = s->in_tx;
	return r < 0 ? -1 : 0;
}

static int
remote_has_schema(struct store *base)
{
	struct store_remote *s = (struct store_remote *)base;

	if (ipc_link_send(s->link, STORE_HAS_SCHEMA, 0, NULL) == -1)
		return (int)unavailable(s, "request");
	return (int)await_done(s, NULL, NULL, -1, 1, false, REMOTE_WAIT_MS);
}

static int64_t
remote_dkim_make(struct store *base, const char *dom)
{
	struct store_remote *s = (struct store_remote *)base;
	struct ipc_out out;
	int64_t r;

	if (tx_lost(s)) {
		(void)store_set_error(base, "the lookup process restarted "
		    "during the transaction");
		return -1;
	}
	ipc_out_init(&out);
	ipc_put_text(&out, dom);
	if (ipc_link_send(s->link, STORE_DKIM_MAKE, 0, &out) == -1)
		r = unavailable(s, "request");
	else
		r = await_done(s, NULL, NULL, STORE_REFUSED, 0, false,
		    MAKE_WAIT_MS);
	ipc_out_free(&out);
	return r;
}

static const struct store_backend store_backend_remote = {
	.scheme = "remote",
	.close = remote_close,
	.exec = remote_exec,
	.script = remote_script,
	.has_schema = remote_has_schema,
	.dkim_make = remote_dkim_make,
	.row_text = remote_row_text,
	.row_int = remote_row_int,
	.row_ncols = remote_row_ncols,
	.begin_sql = "BEGIN (remote)",
};

/* ---- popgate-lookup's side ---- */

/* Rows packed for the way back. */
struct packer {
	int		 sock;
	enum store_stmt	 stmt;
	struct ipc_out	 out;
	uint32_t	 nrows;
	struct buf	 row;		/* the row being packed */
	bool		 failed;
};

static int
flush_rows(struct packer *pk)
{
	struct ipc_out msg;
	int r;

	if (pk->nrows == 0)
		return 0;
	ipc_out_init(&msg);
	ipc_put_u32(&msg, pk->nrows);
	if (buf_append(&msg.b, pk->out.b.data, pk->out.b.len) == -1)
		msg.failed = true;
	r = ipc_send(pk->sock, STORE_ROWS, 0, &msg, NULL, 0);
	ipc_out_free(&msg);
	buf_reset(&pk->out.b);
	pk->nrows = 0;
	return r;
}

static void
pack_row(struct store_row *r, void *arg)
{
	struct packer *pk = arg;
	struct ipc_out one;
	int c, n = r->be->row_ncols(r);

	if (pk->failed)
		return;
	ipc_out_init(&one);
	if (n > REMOTE_COLS_MAX)
		one.failed = true;
	ipc_put_u32(&one, (uint32_t)n);
	for (c = 0; c < n && !one.failed; c++) {
		const char *t = store_col_secret(pk->stmt, c) ? "" :
		    r->be->row_text(r, c);

		if (strlen(t) > REMOTE_TEXT_MAX)
			one.failed = true;
		ipc_put_text(&one, t);
	}
	/* Room is left for STORE_DONE's own fields: the last rows go in
	   it. */
	if (one.failed ||
	    (pk->out.b.len + one.b.len > IPC_PAYLOAD_MAX - REMOTE_ERR_MAX -
	    64 && flush_rows(pk) == -1) ||
	    buf_append(&pk->out.b, one.b.data, one.b.len) == -1)
		pk->failed = true;
	else
		pk->nrows++;
	ipc_out_free(&one);
}

/* STORE_DONE with the rows still in PK (NULL: none). */
static int
send_done(int sock, int64_t result, const char *error, struct packer *pk)
{
	struct ipc_out out;
	int r;

	ipc_out_init(&out);
	ipc_put_u64(&out, (uint64_t)result);
	ipc_put_bytes(&out, error, strnlen(error, REMOTE_ERR_MAX));
	ipc_put_u32(&out, pk != NULL ? pk->nrows : 0);
	if (pk != NULL && buf_append(&out.b, pk->out.b.data,
	    pk->out.b.len) == -1)
		out.failed = true;
	r = ipc_send(sock, STORE_DONE, 0, &out, NULL, 0);
	ipc_out_free(&out);
	return r;
}

/* STORE_EXEC's fields into STMT and ARGS, their texts copied into POOL
   (the message's length and a NUL each: they fit). */
static int
decode_exec(struct ipc_in *in, uint32_t *stmt, struct store_val *args,
    uint32_t *nargs, char *pool)
{
	uint32_t i, type;
	uint64_t v;
	const void *p;
	size_t len;

	if (ipc_get_u32(in, stmt) == -1 || *stmt >= SQL_NSTMTS ||
	    ipc_get_u32(in, nargs) == -1 || *nargs > REMOTE_ARGS_MAX)
		return -1;
	for (i = 0; i < *nargs; i++) {
		if (ipc_get_u32(in, &type) == -1)
			return -1;
		switch (type) {
		case SV_NULL:
			args[i] = SV_N;
			break;
		case SV_TEXT:
			if (ipc_get_bytes(in, REMOTE_TEXT_MAX, &p, &len) == -1 ||
			    memchr(p, '\0', len) != NULL)
				return -1;
			memcpy(pool, p, len);
			pool[len] = '\0';
			args[i] = SV_T(pool);
			pool += len + 1;
			break;
		case SV_INT:
			if (ipc_get_u64(in, &v) == -1)
				return -1;
			args[i] = SV_I((int64_t)v);
			break;
		default:
			return -1;
		}
	}
	return ipc_get_done(in, 0);
}

static int run_exec(struct store *, enum store_stmt, const struct store_val *,
	    uint32_t, int);

#define NO_WRITES	"popgate-lookup changes the store only for an API " \
	"request with a valid token"

static int
serve_exec(struct store *s, const char *open_err, bool writes_ok,
    struct ipc_in *in, int sock)
{
	struct store_val args[REMOTE_ARGS_MAX];
	char *pool = xmalloc(in->m->len + REMOTE_ARGS_MAX);
	uint32_t stmt, nargs;
	int rc;

	if (decode_exec(in, &stmt, args, &nargs, pool) == -1)
		rc = -1;
	else if (s == NULL)
		rc = send_done(sock, -1, open_err, NULL);
	else if (!writes_ok && store_stmt_writes((enum store_stmt)stmt))
		rc = send_done(sock, -1, NO_WRITES, NULL);
	else if (stmt == SQL_DKIM_ADD)
		rc = send_done(sock, -1, "DKIM keys are made in popgate-lookup "
		    "(STORE_DKIM_MAKE), never sent to it", NULL);
	else
		rc = run_exec(s, (enum store_stmt)stmt, args, nargs, sock);
	free(pool);
	return rc;
}

/* STMT with ARGS, its rows and result to SOCK. */
static int
run_exec(struct store *s, enum store_stmt stmt, const struct store_val *args,
    uint32_t nargs, int sock)
{
	struct packer pk;
	int64_t r;
	int rc;

	memset(&pk, 0, sizeof(pk));
	pk.sock = sock;
	pk.stmt = stmt;
	ipc_out_init(&pk.out);
	r = s->be->exec(s, pk.stmt, args, (int)nargs, pack_row, &pk);
	if (pk.failed)
		rc = send_done(sock, -1, "a row too large for the link", NULL);
	else
		rc = send_done(sock, r, r < 0 ? buf_cstr(&s->err) : "", &pk);
	ipc_out_free(&pk.out);
	return rc;
}

static int
serve_script(struct store *s, const char *open_err, struct ipc_in *in,
    int sock)
{
	uint32_t what;
	const char *sql;

	if (ipc_get_u32(in, &what) == -1 || what > SCRIPT_ROLLBACK ||
	    ipc_get_done(in, 0) == -1)
		return -1;
	if (s == NULL)
		return send_done(sock, -1, open_err, NULL);
	sql = what == SCRIPT_BEGIN ? s->be->begin_sql :
	    what == SCRIPT_COMMIT ? "COMMIT" : "ROLLBACK";
	if (s->be->script(s, sql) == -1)
		return send_done(sock, -1, buf_cstr(&s->err), NULL);
	return send_done(sock, 0, "", NULL);
}

static int
serve_dkim_make(struct store *s, const char *open_err, bool writes_ok,
    struct ipc_in *in, int sock)
{
	char dom[ADDR_DOMAIN_MAX + 1];
	const char *err = "";
	int r;

	if (ipc_get_text(in, dom, sizeof(dom)) == -1 ||
	    ipc_get_done(in, 0) == -1)
		return -1;
	if (s == NULL)
		return send_done(sock, -1, open_err, NULL);
	if (!writes_ok)
		return send_done(sock, -1, NO_WRITES, NULL);
	r = store_dkim_make_local(s, dom, &err);
	return send_done(sock, r, r < 0 ? err : "", NULL);
}

int
store_remote_serve(struct store *s, const char *open_err, bool writes_ok,
    const struct ipc_msg *m, int sock)
{
	struct ipc_in in;
	int r;

	ipc_in_init(&in, m);
	switch (m->type) {
	case STORE_EXEC:
		return serve_exec(s, open_err, writes_ok, &in, sock);
	case STORE_SCRIPT:
		return serve_script(s, open_err, &in, sock);
	case STORE_DKIM_MAKE:
		return serve_dkim_make(s, open_err, writes_ok, &in, sock);
	case STORE_HAS_SCHEMA:
		if (ipc_get_done(&in, 0) == -1)
			return -1;
		if (s == NULL)
			return send_done(sock, -1, open_err, NULL);
		r = s->be->has_schema(s);
		return send_done(sock, r, r < 0 ? buf_cstr(&s->err) : "",
		    NULL);
	default:
		errno = EPROTO;
		return -1;
	}
}
