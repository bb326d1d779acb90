/*
 * store_int.h - the backend vtable behind store.h. Not for outside use.
 *
 * The generic layer (store.c) has validated and canonicalized every
 * argument before a backend sees it. Backends return the store.h result
 * codes and set the error through store_set_error().
 */
#ifndef POPGATE_STORE_INT_H
#define POPGATE_STORE_INT_H

#include "store/store.h"
#include "util/buf.h"

/* Statements shared by every backend, one SQL text each, with $N
   parameters that SQLite and PostgreSQL both accept. */
enum store_stmt {
	SQL_CUSTOMER_ADD,
	SQL_CUSTOMER_GET,
	SQL_CUSTOMER_SET_STATUS,
	SQL_CUSTOMER_DELETE,
	SQL_CUSTOMER_LIST,
	SQL_DOMAIN_ADD,
	SQL_DOMAIN_GET,
	SQL_DOMAIN_DELETE,
	SQL_DOMAIN_LIST,
	SQL_MAILBOX_ADD,
	SQL_MAILBOX_GET,
	SQL_MAILBOX_SET_HASH,
	SQL_MAILBOX_SET_QUOTA,
	SQL_MAILBOX_DELETE,
	SQL_MAILBOX_LIST,
	SQL_ALIAS_ADD,
	SQL_ALIAS_TARGETS,
	SQL_ALIAS_DELETE_ONE,
	SQL_ALIAS_DELETE_ALL,
	SQL_ALIAS_LIST,
	SQL_SCHEMA_VERSION,
	SQL_DKIM_ADD,
	SQL_DKIM_LIST,
	SQL_DKIM_RETIRE,
	SQL_DKIM_DELETE,
	SQL_SRS_LIST,
	SQL_SRS_ADD,
	SQL_SRS_DROP_PREVIOUS,
	SQL_SRS_DEMOTE,
	SQL_TOKEN_ADD,
	SQL_TOKEN_FIND,
	SQL_TOKEN_DELETE,
	SQL_TOKEN_LIST,
	SQL_CUSTOMER_FIND,
	SQL_DOMAIN_FIND,
	SQL_CUSTOMER_COUNT,
	SQL_DOMAIN_COUNT,
	SQL_MAILBOX_COUNT,
	SQL_ALIAS_COUNT,
	SQL_NSTMTS
};

extern const char *const store_sql[SQL_NSTMTS];

/* Schema migrations: store_migrations[i] takes version i to i + 1. */
extern const char *const store_migrations[];
extern const unsigned store_nmigrations;

/* A bound value for a statement parameter. */
enum store_vtype {
	SV_NULL,
	SV_TEXT,
	SV_INT,
};

struct store_val {
	enum store_vtype	 type;
	const char		*s;
	int64_t			 i;
};

#define SV_T(x) ((struct store_val){ SV_TEXT, (x), 0 })
#define SV_I(x) ((struct store_val){ SV_INT, NULL, (int64_t)(x) })
#define SV_N ((struct store_val){ SV_NULL, NULL, 0 })

/* One result row, read column by column (NULL reads as "" and 0). The
   text is valid until the callback returns. */
struct store_row {
	const struct store_backend	*be;
	void				*impl;
};
const char *store_row_text(struct store_row *, int col);
int64_t	store_row_int(struct store_row *, int col);

typedef void store_row_cb(struct store_row *, void *);

struct store_backend {
	const char	*scheme;
	/* URI as given; DATA_DIR for relative defaults. NULL with
	   *ERROR_R static or in EB. */
	struct store	*(*open)(const char *uri, const char *data_dir,
			    struct errbuf *eb, const char **error_r);
	void		 (*close)(struct store *);
	/* Runs STMT with ARGS; calls CB for each row. Returns the number
	   of rows seen (for queries) or changed (for updates), -1 on a
	   failure, STORE_REFUSED on a constraint violation. */
	int64_t		 (*exec)(struct store *, enum store_stmt,
			    const struct store_val *args, int nargs,
			    store_row_cb *cb, void *cbarg);
	/* Runs a literal script (migrations, BEGIN, COMMIT). 0 or -1. */
	int		 (*script)(struct store *, const char *sql);
	/* Whether the schema_version table exists: 1, 0, or -1. Asks the
	   catalog, so it works inside a PostgreSQL transaction too (where a
	   failed statement would abort the transaction). */
	int		 (*has_schema)(struct store *);
	const char	*(*row_text)(struct store_row *, int col);
	int64_t		 (*row_int)(struct store_row *, int col);
	/* The number of columns of the row. */
	int		 (*row_ncols)(struct store_row *);
	/* store_backup() and store_restore() (NULL: the backend has no
	   copy of its own). 0 or -1. */
	int		 (*backup)(struct store *, const char *path,
			    struct store_counts *counts_r);
	int		 (*restore)(struct store *, const char *path);
	/* store_dkim_make() of the canonical domain DOM elsewhere (NULL:
	   here, store_dkim_make_local()). A store result code. */
	int64_t		 (*dkim_make)(struct store *, const char *dom);
	/* Starts a write transaction that holds its lock from the start. */
	const char	*begin_sql;
};

/* Every backend's handle starts with this. */
struct store {
	const struct store_backend	*be;
	struct buf			 err;
};

/* Sets the handle's error text; returns it. */
const char *store_set_error(struct store *, const char *fmt, ...)
	    PRINTFLIKE(2, 3);

/* store.c's rows into a struct store_customer, _domain or _mailbox
   (ARG), for store_list.c. */
store_row_cb	store_row_customer, store_row_domain, store_row_mailbox;
/* Canonical customer name into OUT: 0, or STORE_REFUSED. */
int	store_canon_customer(struct store *s, const char *name,
	    char out[STORE_NAME_MAX + 1], const char **error_r);

/* store.c's helpers, for store_dkim.c. */
int	store_result(struct store *, int64_t r, const char **error_r);
int	store_canon_domain(struct store *, const char *domain,
	    char out[ADDR_DOMAIN_MAX + 1], const char **error_r);
/* store_copy()'s part for the DKIM keys: FROM's into TO. */
int	store_dkim_copy(struct store *from, struct store *to,
	    uint64_t *count_r, const char **error_r);
/* store_copy()'s part for the SRS secrets: FROM's into TO. */
int	store_srs_copy(struct store *from, struct store *to,
	    const char **error_r);

/* store_copy()'s part for the API tokens. */
int	store_token_copy(struct store *from, struct store *to,
	    uint64_t *count_r, const char **error_r);

/* Whether column COL of STMT's rows is a secret that never leaves the
   lookup process (a password hash, a token's digest, a DKIM private
   key): store_remote.c sends it as "". */
bool	store_col_secret(enum store_stmt, int col);
/* Whether STMT changes the store (popgate-lookup runs it for the
   network process only in a token-checked API request). */
bool	store_stmt_writes(enum store_stmt);

extern const struct store_backend store_backend_sqlite;
extern const struct store_backend store_backend_pgsql;

#endif
