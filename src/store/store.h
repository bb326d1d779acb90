/*
 * store.h - the account store: customers, domains, mailboxes, aliases.
 *
 * One interface for every backend (SQLite now, PostgreSQL later), chosen
 * by the `store` URI. Calls are synchronous: the daemon makes them from
 * worker threads, each with its own handle. The generic layer validates
 * and canonicalizes input (lower-case domains and addresses, RFC 5321
 * syntax) so backends only store and fetch.
 *
 * Results (STYLE.md section 2):
 *   lookups  1 found, 0 absent, -1 temporary failure
 *   changes  0 done, STORE_REFUSED (-2) the request is wrong (exists,
 *            unknown, invalid: *error_r says which), -1 system failure
 * *error_r is valid until the next call on the same handle.
 */
#ifndef POPGATE_STORE_H
#define POPGATE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/addr.h"
#include "store/passwd.h"
#include "util/ipc.h"
#include "util/str.h"

#define STORE_REFUSED		(-2)
#define STORE_NAME_MAX		64	/* customer names */

struct store;

struct store_customer {
	char		name[STORE_NAME_MAX + 1];
	bool		suspended;
	int64_t		created;
	uint64_t	ndomains;	/* filled by list and get */
	uint64_t	nmailboxes;
};

struct store_domain {
	char		name[ADDR_DOMAIN_MAX + 1];
	char		customer[STORE_NAME_MAX + 1];
	bool		suspended;	/* the customer's status */
	int64_t		created;
	uint64_t	nmailboxes;	/* filled by list and get */
	uint64_t	naliases;
};

struct store_mailbox {
	char		address[ADDR_BUFSZ];
	char		domain[ADDR_DOMAIN_MAX + 1];
	char		local[ADDR_LOCAL_MAX + 1];
	char		hash[PASSWD_HASH_MAX + 1];
	uint64_t	quota;		/* bytes, 0 = unlimited */
	char		customer[STORE_NAME_MAX + 1];
	bool		suspended;	/* the customer's status */
	int64_t		created;
};

struct store_alias {
	char		address[ADDR_BUFSZ];
	char		target[ADDR_BUFSZ];
	char		customer[STORE_NAME_MAX + 1];
	char		domain[ADDR_DOMAIN_MAX + 1];
	int64_t		created;
};

/* Opens the store named by URI ("sqlite", "sqlite:/path",
   "postgresql://..."); "sqlite" means DATA_DIR/store.db (DATA_DIR may be
   "/proc/self/fd/N", a directory the caller holds open). Does not create
   or migrate the schema. NULL with *ERROR_R (static, or in EB). */
struct store *store_open(const char *uri, const char *data_dir,
	    struct errbuf *eb, const char **error_r);
void	store_close(struct store **);

/* The store of popgate-lookup through LINK (store_remote.c; README
   "Processes"): the same calls, each statement a round trip; the
   password hashes and token digests read as "". LINK is borrowed. */
struct store *store_open_remote(struct ipc_link *link);
/* Message types of that link (util/ipc.h). */
enum store_msg {
	STORE_EXEC = 101,
	STORE_SCRIPT,
	STORE_HAS_SCHEMA,
	STORE_ROWS,
	STORE_DONE,
	STORE_DKIM_MAKE,	/* text domain: store_dkim_make() there */
	STORE_MSG_LAST = STORE_DKIM_MAKE,
};
/* popgate-lookup's side: answers M (a STORE_ type) on SOCK with S (NULL
   when it could not be opened: every answer is then OPEN_ERR); a
   statement that changes the store is refused unless WRITES_OK (a
   token-checked API request). 0, or -1 when M is malformed or the
   answer could not be sent. */
int	store_remote_serve(struct store *s, const char *open_err,
	    bool writes_ok, const struct ipc_msg *m, int sock);
/* Creates or upgrades the schema to the current version. 0 or -1. */
int	store_migrate(struct store *, const char **error_r);
/* Schema version found (0 = empty store), -1 on failure. */
int	store_schema_version(struct store *, const char **error_r);

/* Transactions: everything between begin and commit is one change. */
int	store_begin(struct store *, const char **error_r);
int	store_commit(struct store *, const char **error_r);
void	store_rollback(struct store *);

/* Validation shared with the CLI: 0, or -1 with *ERROR_R. */
int	store_check_customer_name(const char *, const char **error_r);
/* Parses and canonicalizes a mailbox or alias address (no literals, no
   UTF-8). */
int	store_parse_address(const char *, struct mailaddr *,
	    const char **error_r);

/* A window on a list (the API's pages): LIMIT items (0: every one)
   from OFFSET, in the list's order. A list call given one fills TOTAL
   with the number of items of the whole list. */
struct store_window {
	uint64_t	limit;
	uint64_t	offset;
	uint64_t	total;		/* out */
};

/* Customers. */
int	store_customer_add(struct store *, const char *name,
	    const char **error_r);
int	store_customer_get(struct store *, const char *name,
	    struct store_customer *, const char **error_r);
/* The same without the counts (ndomains and nmailboxes are 0), in a
   time that does not grow with the customer's mailboxes: for the
   look-ups of every message and session. */
int	store_customer_find(struct store *, const char *name,
	    struct store_customer *, const char **error_r);
int	store_customer_set_suspended(struct store *, const char *name,
	    bool suspended, const char **error_r);
/* Refuses a customer with domains unless FORCE (then they go too). */
int	store_customer_delete(struct store *, const char *name, bool force,
	    const char **error_r);
typedef void store_customer_cb(const struct store_customer *, void *);
int	store_customer_list(struct store *, store_customer_cb *cb, void *arg,
	    const char **error_r);
/* The same for the window W (NULL: the whole list), here and below. */
int	store_customer_page(struct store *, struct store_window *w,
	    store_customer_cb *cb, void *arg, const char **error_r);

/* Domains. */
int	store_domain_add(struct store *, const char *domain,
	    const char *customer, const char **error_r);
int	store_domain_get(struct store *, const char *domain,
	    struct store_domain *, const char **error_r);
/* The same without the counts (nmailboxes and naliases are 0), in a
   time that does not grow with the domain's mailboxes and aliases: for
   the look-ups of every recipient. */
int	store_domain_find(struct store *, const char *domain,
	    struct store_domain *, const char **error_r);
/* Refuses a domain with mailboxes or aliases unless FORCE. */
int	store_domain_delete(struct store *, const char *domain, bool force,
	    const char **error_r);
typedef void store_domain_cb(const struct store_domain *, void *);
/* CUSTOMER NULL: all domains. */
int	store_domain_list(struct store *, const char *customer,
	    store_domain_cb *cb, void *arg, const char **error_r);
int	store_domain_page(struct store *, const char *customer,
	    struct store_window *w, store_domain_cb *cb, void *arg,
	    const char **error_r);

/* Mailboxes. HASH is a crypt(3) hash (passwd_hash()). */
int	store_mailbox_add(struct store *, const char *address,
	    const char *hash, uint64_t quota, const char **error_r);
int	store_mailbox_get(struct store *, const char *address,
	    struct store_mailbox *, const char **error_r);
/* The same lookup of an address already canonical (the mail path: the
   SMTP parser's address, an alias target): no second parse. An address
   no mailbox can have (a literal, UTF-8) is absent. */
int	store_mailbox_get_addr(struct store *, const struct addr_canon *,
	    struct store_mailbox *, const char **error_r);
int	store_mailbox_set_hash(struct store *, const char *address,
	    const char *hash, const char **error_r);
int	store_mailbox_set_quota(struct store *, const char *address,
	    uint64_t quota, const char **error_r);
int	store_mailbox_delete(struct store *, const char *address,
	    const char **error_r);
typedef void store_mailbox_cb(const struct store_mailbox *, void *);
/* FILTER NULL: all; a domain name; or "customer:NAME". */
int	store_mailbox_list(struct store *, const char *filter,
	    store_mailbox_cb *cb, void *arg, const char **error_r);
int	store_mailbox_page(struct store *, const char *filter,
	    struct store_window *w, store_mailbox_cb *cb, void *arg,
	    const char **error_r);

/* Aliases: ADDRESS in a hosted domain, TARGET any valid address. */
int	store_alias_add(struct store *, const char *address,
	    const char *target, const char **error_r);
/* The targets of ADDRESS appended to OUT: 1, 0 (no alias), -1. */
int	store_alias_targets(struct store *, const char *address,
	    struct strlist *out, const char **error_r);
/* The same for an address already canonical (as store_mailbox_get_addr). */
int	store_alias_targets_addr(struct store *, const struct addr_canon *,
	    struct strlist *out, const char **error_r);
/* TARGET NULL deletes every target of ADDRESS. */
int	store_alias_delete(struct store *, const char *address,
	    const char *target, const char **error_r);
typedef void store_alias_cb(const struct store_alias *, void *);
/* FILTER as for store_mailbox_list(). */
int	store_alias_list(struct store *, const char *filter,
	    store_alias_cb *cb, void *arg, const char **error_r);
/* W's items are alias addresses (CB still sees one call per target). */
int	store_alias_page(struct store *, const char *filter,
	    struct store_window *w, store_alias_cb *cb, void *arg,
	    const char **error_r);

/* DKIM keys (store_dkim.c): a domain's signing pairs, active or
   retired (published for an overlap, no longer signing). */
#define STORE_DKIM_PEM_MAX	4096
#define STORE_DKIM_PUB_MAX	1024
#define STORE_DKIM_SEL_MAX	63

struct store_dkim_key {
	char		domain[ADDR_DOMAIN_MAX + 1];
	char		selector[STORE_DKIM_SEL_MAX + 1];
	char		algorithm[16];		/* "rsa-sha256", ... */
	char		private_key[STORE_DKIM_PEM_MAX];	/* PEM */
	char		public_key[STORE_DKIM_PUB_MAX];	/* p= */
	bool		active;
	int64_t		created;
	int64_t		retired;		/* 0 while active */
};

/* Adds K (its domain hosted, its selector new for the domain). */
int	store_dkim_add(struct store *, const struct store_dkim_key *k,
	    const char **error_r);
typedef void store_dkim_cb(const struct store_dkim_key *, void *);
/* DOMAIN NULL: every domain's; ACTIVE_ONLY: the signing ones. Newest
   first. */
int	store_dkim_list(struct store *, const char *domain, bool active_only,
	    store_dkim_cb *cb, void *arg, const char **error_r);
/* Every active key of DOMAIN becomes retired at WHEN. */
int	store_dkim_retire(struct store *, const char *domain, int64_t when,
	    const char **error_r);
/* Removes DOMAIN's retired key SELECTOR (once out of DNS). */
int	store_dkim_delete(struct store *, const char *domain,
	    const char *selector, const char **error_r);
/* A new active pair of each algorithm (RSA-2048, Ed25519) for DOMAIN,
   under selectors of today's date no key of DOMAIN has had, made by
   the process that holds the store: through store_open_remote()'s
   link popgate-lookup makes and adds them (in the caller's
   transaction), and the private halves never cross. A store result
   code. */
int	store_dkim_make(struct store *, const char *domain,
	    const char **error_r);
/* The same with S in hand (popgate-lookup's side of the link). */
int	store_dkim_make_local(struct store *, const char *domain,
	    const char **error_r);

/* SRS secrets (store_srs.c): the one that signs, and after a rotation
   the one before, which still verifies the addresses made with it. In
   the store, so that every host sharing it signs and verifies alike. */
#define STORE_SRS_SECRET_MAX	128

struct store_srs_secrets {
	char		current[STORE_SRS_SECRET_MAX + 1];
	char		previous[STORE_SRS_SECRET_MAX + 1];	/* "" none */
	int64_t		created;	/* of the current one */
	int64_t		previous_created;
};

/* The secrets into *OUT: 1, 0 when there is none yet, -1. */
int	store_srs_get(struct store *, struct store_srs_secrets *out,
	    const char **error_r);
/* SECRET (printable ASCII, 16 to STORE_SRS_SECRET_MAX octets) becomes
   the current one made at NOW, unless there is one already (another
   host made it first): 0 either way, STORE_REFUSED for a bad SECRET,
   -1. */
int	store_srs_init(struct store *, const char *secret, int64_t now,
	    const char **error_r);
/* A rotation, in the caller's transaction: the previous secret goes,
   the current one becomes the previous, SECRET the current. 0,
   STORE_REFUSED for a bad SECRET, -1. */
int	store_srs_rotate(struct store *, const char *secret, int64_t now,
	    const char **error_r);

/* API tokens (store_token.c, SPEC 12): a name, the SHA-256 (hex) of
   its random secret, and its scope: every object (CUSTOMER "") or one
   customer's. */
#define STORE_TOKEN_HASH_LEN	64

struct store_token {
	char		name[STORE_NAME_MAX + 1];
	char		hash[STORE_TOKEN_HASH_LEN + 1];
	char		customer[STORE_NAME_MAX + 1];	/* "": admin */
	int64_t		created;
	int64_t		expires;	/* 0: never */
};

/* Adds T: 0, STORE_REFUSED (a bad or taken name, an unknown customer,
   a bad hash), -1. */
int	store_token_add(struct store *, const struct store_token *t,
	    const char **error_r);
/* The token whose hash is HASH into *OUT: 1, 0, -1. Read from the
   store on every call (no cache: a revoked token fails at once). */
int	store_token_find(struct store *, const char *hash,
	    struct store_token *out, const char **error_r);
/* 0, STORE_REFUSED (no such token), -1. */
int	store_token_delete(struct store *, const char *name,
	    const char **error_r);
typedef void store_token_cb(const struct store_token *, void *);
int	store_token_list(struct store *, store_token_cb *cb, void *arg,
	    const char **error_r);

/* Copies everything in FROM into TO, which must hold no customers yet,
   in one transaction on TO, keeping names, statuses, hashes, quotas and
   creation times; TO's schema is made first. Counts in *COUNTS_R.
   0, STORE_REFUSED (TO not empty), or -1; *ERROR_R names the side. */
struct store_counts {
	uint64_t	customers, domains, mailboxes, aliases, dkim_keys;
	uint64_t	tokens;
};
int	store_copy(struct store *from, struct store *to,
	    struct store_counts *counts_r, const char **error_r);

/* Writes a consistent copy of the whole store into the new file PATH
   while others (the daemon) go on writing: SQLite's online backup API,
   one file, fsynced (its directory is the caller's). What the copy
   holds goes into *COUNTS_R (aliases: alias targets). 0, STORE_REFUSED
   for a backend popgate does not copy (PostgreSQL: pg_dump is the tool
   for it), or -1; *ERROR_R says why. */
int	store_backup(struct store *, const char *path,
	    struct store_counts *counts_r, const char **error_r);
/* Replaces everything the store holds with the SQLite file PATH (a
   store_backup() copy), once SQLite's quick_check finds PATH sound, in
   one write transaction. 0, STORE_REFUSED (a backend without such a
   copy), or -1 (the store unchanged). Migrate the store afterwards: the
   copy may be of an older schema. */
int	store_restore(struct store *, const char *path, const char **error_r);

#endif
