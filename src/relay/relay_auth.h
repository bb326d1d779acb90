/*
 * relay_auth.h - the relay authorization table and the per-customer rate
 * counters (SPEC sections 1 and 4).
 *
 * A POP3 login (or `popgate relay allow`) records who opened the relay
 * for a client address: customer, mailbox, login time, listener, expiry.
 * The key is the client IP, or for IPv6 its relay_ipv6_prefix network
 * (privacy addresses change). Several customers may hold a key at once
 * (NAT). Calls are synchronous and made from worker threads, each with
 * its own handle; the `local` backend is a SQLite file in the data
 * directory that the daemon and the CLI share, so a restart keeps live
 * authorizations and the CLI acts on the running daemon at once.
 *
 * Results as in STYLE.md: lookups 1/0/-1, changes 0/-1 (or a count).
 */
#ifndef POPGATE_RELAY_AUTH_H
#define POPGATE_RELAY_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/addr.h"
#include "util/ipc.h"
#include "util/net.h"
#include "util/str.h"

#define RELAY_NAME_MAX	64

struct relay_auth;

struct relay_entry {
	char	key[NET_ADDRSTRLEN];	/* "192.0.2.7", "2001:db8::/64" */
	char	customer[RELAY_NAME_MAX + 1];
	char	mailbox[ADDR_BUFSZ];	/* "" when opened by the CLI */
	char	client[NET_ADDRSTRLEN];	/* the exact address of the login */
	char	listener[32];		/* pop3, pop3s, cli, ... */
	time_t	opened;
	time_t	expires;
	bool	net;	/* KEY is a network allowed by the administrator */
};

/* The table key of ADDR: the address itself, or its IPv6 network of
   PREFIX bits, as text. */
void	relay_key(const struct netaddr *, unsigned ipv6_prefix,
	    char *out, size_t outsz);

/* URI "local" (DATA_DIR/relay.db; DATA_DIR may be "/proc/self/fd/N", a
   directory the caller holds open). Creates the tables if needed. NULL
   with *ERROR_R (static, or in EB). */
struct relay_auth *relay_open(const char *uri, const char *data_dir,
	    struct errbuf *eb, const char **error_r);
void	relay_close(struct relay_auth **);

/* Records or refreshes E (key + customer identify it). 0 or -1. */
int	relay_record(struct relay_auth *, const struct relay_entry *e,
	    const char **error_r);
/* The live entries (expires > NOW) that cover ADDR - its own key, and
   any administrator network containing it - into *OUT (malloc'ed, *N of
   them), newest first. 1 found, 0 none, -1 failure. */
int	relay_lookup(struct relay_auth *, const struct netaddr *addr,
	    unsigned ipv6_prefix, time_t now, struct relay_entry **out,
	    size_t *n, const char **error_r);
/* Removes entries by KEY and/or CUSTOMER (NULL = any; not both NULL).
   Returns the number removed, or -1. */
int	relay_revoke(struct relay_auth *, const char *key,
	    const char *customer, const char **error_r);
typedef void relay_entry_cb(const struct relay_entry *, void *);
/* Every live entry, ordered by key. 0 or -1. */
int	relay_list(struct relay_auth *, time_t now, relay_entry_cb *,
	    void *, const char **error_r);
/* The live entries into *LOGINS (opened by a login or the CLI) and
   *NETS (administrator networks). 0 or -1. */
int	relay_count(struct relay_auth *, time_t now, uint64_t *logins,
	    uint64_t *nets, const char **error_r);
/* Deletes expired entries and old rate buckets. 0 or -1. */
int	relay_expire(struct relay_auth *, time_t now, const char **error_r);

/* Hourly rate counters: a sliding window of one hour in one-minute
   buckets. Adds MSGS messages and RCPTS recipients at NOW. 0 or -1. */
int	relay_rate_add(struct relay_auth *, const char *customer, time_t now,
	    uint64_t msgs, uint64_t rcpts, const char **error_r);
/* Totals of the last hour before NOW. 0 or -1. */
int	relay_rate_get(struct relay_auth *, const char *customer, time_t now,
	    uint64_t *msgs_r, uint64_t *rcpts_r, const char **error_r);

/* A hold on the hourly counters: what a transaction will cost, taken at
   RCPT so that parallel sessions (and hosts sharing Redis) cannot all
   pass the check at the last unit. */
struct relay_hold {
	uint64_t	msgs, rcpts;		/* in: what to hold */
	uint64_t	max_msgs, max_rcpts;	/* in: the caps */
	uint64_t	had_msgs, had_rcpts;	/* out: the totals before it */
};
/* Adds H->msgs and H->rcpts at NOW if the totals of the last hour stay
   within H->max_msgs and H->max_rcpts with them: one atomic check-and-
   add (a transaction of the local table, one Lua script in Redis).
   The held counts are counted like any others from then on: an accepted
   message keeps them (they are its charge), any other end gives them
   back with relay_rate_release(). 1 held, 0 a cap would be passed
   (nothing added; H->had_* say why), -1 failure. */
int	relay_rate_hold(struct relay_auth *, const char *customer, time_t now,
	    struct relay_hold *h, const char **error_r);
/* Gives back MSGS and RCPTS held at HELD (the NOW of relay_rate_hold),
   never below zero. 0 or -1. */
int	relay_rate_release(struct relay_auth *, const char *customer,
	    time_t held, uint64_t msgs, uint64_t rcpts, const char **error_r);

/* Writes a consistent copy of the whole table (authorizations and rate
   counters) into the new file PATH while the daemon goes on writing:
   the `local` backend's SQLite online backup API, one file, fsynced
   (its directory is the caller's); the authorizations in it live at
   NOW into *LIVE_R. 0, or -1 (*ERROR_R; Redis is not copied by
   popgate: its own persistence, RDB or AOF, is the tool). */
int	relay_backup(struct relay_auth *, const char *path, time_t now,
	    uint64_t *live_r, const char **error_r);
/* Replaces the whole table with the file PATH (a relay_backup() copy),
   once SQLite's quick_check finds it sound. 0, or -1 (*ERROR_R; the
   table unchanged). */
int	relay_restore(struct relay_auth *, const char *path,
	    const char **error_r);

/* The relay table of popgate-lookup through LINK (relay_remote.c;
   README "Processes"): the same calls, each a round trip. LINK is
   borrowed. */
struct relay_auth *relay_open_remote(struct ipc_link *link);
/* Message types of that link (util/ipc.h). */
enum relay_msg {
	RELAY_CALL = 201,
	RELAY_ENTRIES,
	RELAY_DONE,
};
/* popgate-lookup's side: answers M (a RELAY_ type) on SOCK with R (NULL
   when it could not be opened: the answer is then OPEN_ERR); a record
   or a revocation is refused unless WRITES_OK (a token-checked API
   request; a login's record is policy_remote.c's). 0, or -1 when M is
   malformed or the answer could not be sent. */
int	relay_remote_serve(struct relay_auth *r, const char *open_err,
	    bool writes_ok, const struct ipc_msg *m, int sock);

#endif
