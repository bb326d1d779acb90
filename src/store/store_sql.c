/*
 * store_sql.c - the schema and the statements, in the SQL that SQLite and
 * PostgreSQL both accept: $N parameters, TEXT and BIGINT columns, no
 * auto-increment keys (names are the keys), CAST(... AS TEXT) where a
 * parameter must have a type before it is compared with NULL.
 */
#include "store/store_int.h"
#include "util/compat.h"

const char *const store_migrations[] = {
	/* 0 -> 1: the first schema. */
	"CREATE TABLE schema_version (version INTEGER NOT NULL);"
	"INSERT INTO schema_version (version) VALUES (0);"
	"CREATE TABLE customers ("
	"  name TEXT PRIMARY KEY,"
	"  status TEXT NOT NULL DEFAULT 'active'"
	"    CHECK (status IN ('active', 'suspended')),"
	"  created BIGINT NOT NULL);"
	"CREATE TABLE domains ("
	"  name TEXT PRIMARY KEY,"
	"  customer TEXT NOT NULL REFERENCES customers (name)"
	"    ON DELETE CASCADE,"
	"  created BIGINT NOT NULL);"
	"CREATE INDEX domains_customer ON domains (customer);"
	"CREATE TABLE mailboxes ("
	"  address TEXT PRIMARY KEY,"
	"  domain TEXT NOT NULL REFERENCES domains (name) ON DELETE CASCADE,"
	"  local TEXT NOT NULL,"
	"  password TEXT NOT NULL,"
	"  quota BIGINT NOT NULL DEFAULT 0,"
	"  created BIGINT NOT NULL);"
	"CREATE INDEX mailboxes_domain ON mailboxes (domain);"
	"CREATE TABLE aliases ("
	"  address TEXT NOT NULL,"
	"  domain TEXT NOT NULL REFERENCES domains (name) ON DELETE CASCADE,"
	"  target TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  PRIMARY KEY (address, target));"
	"CREATE INDEX aliases_domain ON aliases (domain);",
	/* 1 -> 2: DKIM keys (SPEC 10). A domain has one active pair at a
	   time (RSA and Ed25519, each its selector); retired ones stay
	   published, and signing-free, for an overlap. */
	"CREATE TABLE dkim_keys ("
	"  domain TEXT NOT NULL REFERENCES domains (name) ON DELETE CASCADE,"
	"  selector TEXT NOT NULL,"
	"  algorithm TEXT NOT NULL"
	"    CHECK (algorithm IN ('rsa-sha256', 'ed25519-sha256')),"
	"  private_key TEXT NOT NULL,"
	"  public_key TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'active'"
	"    CHECK (state IN ('active', 'retired')),"
	"  created BIGINT NOT NULL,"
	"  retired BIGINT NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (domain, selector));",
	/* 2 -> 3: the SRS secrets (SPEC 10), one store for every host so
	   that a bounce may come back to any of them: the one that signs,
	   and after a rotation the one before, which still verifies. */
	"CREATE TABLE srs_secrets ("
	"  slot TEXT PRIMARY KEY CHECK (slot IN ('current', 'previous')),"
	"  secret TEXT NOT NULL,"
	"  created BIGINT NOT NULL);",
	/* 3 -> 4: API tokens (SPEC 12): the SHA-256 of a random secret,
	   never the secret; a customer's go with the customer. */
	"CREATE TABLE api_tokens ("
	"  name TEXT PRIMARY KEY,"
	"  hash TEXT NOT NULL UNIQUE,"
	"  customer TEXT REFERENCES customers (name) ON DELETE CASCADE,"
	"  created BIGINT NOT NULL,"
	"  expires BIGINT NOT NULL DEFAULT 0);",
};

const unsigned store_nmigrations = nitems(store_migrations);

#define CUSTOMER_COLS                                                      \
	"c.name, c.status, c.created,"                                     \
	" (SELECT count(*) FROM domains d WHERE d.customer = c.name),"     \
	" (SELECT count(*) FROM mailboxes m JOIN domains d"                \
	"   ON d.name = m.domain WHERE d.customer = c.name)"

#define DOMAIN_COLS                                                        \
	"d.name, d.customer, c.status, d.created,"                         \
	" (SELECT count(*) FROM mailboxes m WHERE m.domain = d.name),"     \
	" (SELECT count(DISTINCT a.address) FROM aliases a"                \
	"   WHERE a.domain = d.name)"

#define MAILBOX_COLS                                                       \
	"m.address, m.domain, m.local, m.password, m.quota, m.created,"    \
	" d.customer, c.status"

#define FILTER                                                             \
	" (CAST($1 AS TEXT) IS NULL OR d.name = $1)"                       \
	" AND (CAST($2 AS TEXT) IS NULL OR d.customer = $2)"

const char *const store_sql[SQL_NSTMTS] = {
	[SQL_CUSTOMER_ADD] = "INSERT INTO customers (name, status, created)"
	    " VALUES ($1, 'active', $2)",
	[SQL_CUSTOMER_GET] = "SELECT " CUSTOMER_COLS
	    " FROM customers c WHERE c.name = $1",
	[SQL_CUSTOMER_FIND] = "SELECT c.name, c.status, c.created, 0, 0"
	    " FROM customers c WHERE c.name = $1",
	[SQL_CUSTOMER_SET_STATUS] = "UPDATE customers SET status = $2"
	    " WHERE name = $1",
	[SQL_CUSTOMER_DELETE] = "DELETE FROM customers WHERE name = $1",
	[SQL_CUSTOMER_LIST] = "SELECT " CUSTOMER_COLS
	    " FROM customers c ORDER BY c.name LIMIT $1 OFFSET $2",
	[SQL_DOMAIN_ADD] = "INSERT INTO domains (name, customer, created)"
	    " VALUES ($1, $2, $3)",
	[SQL_DOMAIN_GET] = "SELECT " DOMAIN_COLS " FROM domains d"
	    " JOIN customers c ON c.name = d.customer WHERE d.name = $1",
	/* The row alone: no count, which is a scan of the domain's
	   mailboxes (the look-ups of every recipient). */
	[SQL_DOMAIN_FIND] = "SELECT d.name, d.customer, c.status, d.created,"
	    " 0, 0 FROM domains d JOIN customers c ON c.name = d.customer"
	    " WHERE d.name = $1",
	[SQL_DOMAIN_DELETE] = "DELETE FROM domains WHERE name = $1",
	[SQL_DOMAIN_LIST] = "SELECT " DOMAIN_COLS " FROM domains d"
	    " JOIN customers c ON c.name = d.customer"
	    " WHERE (CAST($1 AS TEXT) IS NULL OR d.customer = $1)"
	    " ORDER BY d.name LIMIT $2 OFFSET $3",
	[SQL_MAILBOX_ADD] = "INSERT INTO mailboxes"
	    " (address, domain, local, password, quota, created)"
	    " VALUES ($1, $2, $3, $4, $5, $6)",
	[SQL_MAILBOX_GET] = "SELECT " MAILBOX_COLS " FROM mailboxes m"
	    " JOIN domains d ON d.name = m.domain"
	    " JOIN customers c ON c.name = d.customer WHERE m.address = $1",
	[SQL_MAILBOX_SET_HASH] = "UPDATE mailboxes SET password = $2"
	    " WHERE address = $1",
	[SQL_MAILBOX_SET_QUOTA] = "UPDATE mailboxes SET quota = $2"
	    " WHERE address = $1",
	[SQL_MAILBOX_DELETE] = "DELETE FROM mailboxes WHERE address = $1",
	[SQL_MAILBOX_LIST] = "SELECT " MAILBOX_COLS " FROM mailboxes m"
	    " JOIN domains d ON d.name = m.domain"
	    " JOIN customers c ON c.name = d.customer WHERE" FILTER
	    " ORDER BY m.domain, m.local LIMIT $3 OFFSET $4",
	[SQL_ALIAS_ADD] = "INSERT INTO aliases (address, domain, target,"
	    " created) VALUES ($1, $2, $3, $4)",
	[SQL_ALIAS_TARGETS] = "SELECT target FROM aliases WHERE address = $1"
	    " ORDER BY target",
	[SQL_ALIAS_DELETE_ONE] = "DELETE FROM aliases WHERE address = $1"
	    " AND target = $2",
	[SQL_ALIAS_DELETE_ALL] = "DELETE FROM aliases WHERE address = $1",
	/* A window of alias addresses, each with every target. */
	[SQL_ALIAS_LIST] = "SELECT a.address, a.target, d.customer,"
	    " a.domain, a.created"
	    " FROM aliases a JOIN domains d ON d.name = a.domain"
	    " WHERE a.address IN (SELECT a.address FROM aliases a"
	    " JOIN domains d ON d.name = a.domain WHERE" FILTER
	    " GROUP BY a.address ORDER BY a.address LIMIT $3 OFFSET $4)"
	    " ORDER BY a.address, a.target",
	[SQL_SCHEMA_VERSION] = "SELECT version FROM schema_version",
	[SQL_DKIM_ADD] = "INSERT INTO dkim_keys (domain, selector, algorithm,"
	    " private_key, public_key, state, created, retired)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	[SQL_DKIM_LIST] = "SELECT domain, selector, algorithm, private_key,"
	    " public_key, state, created, retired FROM dkim_keys"
	    " WHERE (CAST($1 AS TEXT) IS NULL OR domain = $1)"
	    " AND (CAST($2 AS TEXT) IS NULL OR state = $2)"
	    " ORDER BY domain, created DESC, selector",
	[SQL_DKIM_RETIRE] = "UPDATE dkim_keys SET state = 'retired',"
	    " retired = $2 WHERE domain = $1 AND state = 'active'",
	[SQL_DKIM_DELETE] = "DELETE FROM dkim_keys WHERE domain = $1"
	    " AND selector = $2 AND state = 'retired'",
	[SQL_SRS_LIST] = "SELECT slot, secret, created FROM srs_secrets"
	    " ORDER BY slot",
	/* Two hosts making the first secret at once: the second keeps
	   the first's. */
	[SQL_SRS_ADD] = "INSERT INTO srs_secrets (slot, secret, created)"
	    " VALUES ($1, $2, $3) ON CONFLICT (slot) DO NOTHING",
	[SQL_SRS_DROP_PREVIOUS] = "DELETE FROM srs_secrets"
	    " WHERE slot = 'previous'",
	[SQL_SRS_DEMOTE] = "UPDATE srs_secrets SET slot = 'previous'"
	    " WHERE slot = 'current'",
	[SQL_TOKEN_ADD] = "INSERT INTO api_tokens (name, hash, customer,"
	    " created, expires) VALUES ($1, $2, $3, $4, $5)",
	[SQL_TOKEN_FIND] = "SELECT name, hash, customer, created, expires"
	    " FROM api_tokens WHERE hash = $1",
	[SQL_TOKEN_DELETE] = "DELETE FROM api_tokens WHERE name = $1",
	[SQL_TOKEN_LIST] = "SELECT name, hash, customer, created, expires"
	    " FROM api_tokens ORDER BY name",
	/* The lengths of the lists above, for their windows. */
	[SQL_CUSTOMER_COUNT] = "SELECT count(*) FROM customers",
	[SQL_DOMAIN_COUNT] = "SELECT count(*) FROM domains d"
	    " WHERE (CAST($1 AS TEXT) IS NULL OR d.customer = $1)",
	[SQL_MAILBOX_COUNT] = "SELECT count(*) FROM mailboxes m"
	    " JOIN domains d ON d.name = m.domain WHERE" FILTER,
	[SQL_ALIAS_COUNT] = "SELECT count(DISTINCT a.address) FROM aliases a"
	    " JOIN domains d ON d.name = a.domain WHERE" FILTER,
};

bool
store_stmt_writes(enum store_stmt stmt)
{
	switch (stmt) {
	case SQL_CUSTOMER_ADD:
	case SQL_CUSTOMER_SET_STATUS:
	case SQL_CUSTOMER_DELETE:
	case SQL_DOMAIN_ADD:
	case SQL_DOMAIN_DELETE:
	case SQL_MAILBOX_ADD:
	case SQL_MAILBOX_SET_HASH:
	case SQL_MAILBOX_SET_QUOTA:
	case SQL_MAILBOX_DELETE:
	case SQL_ALIAS_ADD:
	case SQL_ALIAS_DELETE_ONE:
	case SQL_ALIAS_DELETE_ALL:
	case SQL_DKIM_ADD:
	case SQL_DKIM_RETIRE:
	case SQL_DKIM_DELETE:
	case SQL_SRS_DROP_PREVIOUS:
	case SQL_SRS_DEMOTE:
	case SQL_TOKEN_ADD:
	case SQL_TOKEN_DELETE:
		return true;
	default:
		/* SQL_SRS_ADD too: the first secret, made by whichever
		   process needs it first; it never replaces one. */
		return false;
	}
}

bool
store_col_secret(enum store_stmt stmt, int col)
{
	switch (stmt) {
	case SQL_MAILBOX_GET:
	case SQL_MAILBOX_LIST:
		return col == 3;	/* m.password */
	case SQL_TOKEN_FIND:
	case SQL_TOKEN_LIST:
		return col == 1;	/* hash */
	case SQL_DKIM_LIST:
		return col == 3;	/* private_key */
	default:
		return false;
	}
}
