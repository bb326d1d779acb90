/*
 * policy.h - where mail may go: recipient resolution (hosted mailboxes,
 * aliases, postmaster) and the relay rules of SPEC section 1.
 *
 * Everything here is synchronous and runs on worker threads with the
 * thread's own backend handles (struct backends), so the rules can be
 * driven directly by the golden-file tests of tests/policy.
 */
#ifndef POPGATE_POLICY_H
#define POPGATE_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

#include "core/addr.h"
#include "core/config.h"
#include "queue/queue.h"
#include "relay/relay_auth.h"
#include "store/store.h"

struct login_cache;

/* What every worker thread shares: the configuration, and the cache of
   recently verified logins (NULL: every login runs crypt(3)). */
struct policy_env {
	const struct config	*cfg;
	struct login_cache	*logins;
	int			 data_fd;	/* data_dir, held open */
	struct queue		*queue;		/* below it */
};

/* A worker thread's handles, opened on first use. Files are reached
   below DATA_FD (the store and relay table by its /proc/self/fd path,
   Maildirs by the *at calls), never from the current directory. */
struct backends {
	const struct config	*cfg;
	struct login_cache	*logins;
	int			 data_fd;	/* borrowed from the env */
	struct queue		*queue;		/* borrowed from the env */
	struct store		*store;
	struct relay_auth	*relay;
	struct errbuf		 open_error;	/* of the last failed open */
};

/* worker_init_fn / worker_fini_fn for the pools: ARG is a struct
   policy_env that outlives the pool. */
void	*backends_thread_init(void *env);
void	 backends_thread_fini(void *);
/* The thread's store, opened now if needed; NULL with *ERROR_R. */
struct store *backends_store(struct backends *, const char **error_r);
/* The thread's relay table, opened now if needed; NULL with *ERROR_R. */
struct relay_auth *backends_relay(struct backends *, const char **error_r);

enum target_kind {
	TARGET_MAILBOX,		/* a hosted mailbox */
	TARGET_REMOTE,		/* an external address (alias forwarding) */
	TARGET_SYSTEM,		/* the system postmaster Maildir */
};

struct target {
	enum target_kind	kind;
	bool			relayed;	/* by a customer's grant */
	char			address[ADDR_BUFSZ];
	char			path[1024];	/* Maildir (MAILBOX, SYSTEM) */
	uint64_t		quota;
	char			customer[STORE_NAME_MAX + 1];
};

#define POLICY_MAX_TARGETS	1000	/* per expanded recipient */
#define POLICY_MAX_DEPTH	10	/* alias nesting */

struct resolution {
	bool		 hosted;	/* the domain is hosted here */
	char		 customer[STORE_NAME_MAX + 1];	/* its owner */
	struct target	*v;
	size_t		 n;
};

/* Where mail for ADDRESS (canonical, see addr_canonicalize) goes.
   POSTMASTER: the bare <postmaster> of RFC 5321 section 4.5.1. Returns 1
   with R->v filled (hosted and deliverable), 0 when the domain is not
   hosted (R->hosted false) or nothing takes the mail (R->hosted true,
   R->n 0), -1 on a temporary failure (*ERROR_R). Free with
   resolution_free(). */
int	policy_resolve(struct backends *, const char *address,
	    bool postmaster, struct resolution *r, const char **error_r);
void	resolution_free(struct resolution *);

/* ---- the relay rules of SPEC section 1: policy_rules.c ---- */

/* What the session knows about itself. */
struct relay_session {
	struct netaddr		client;
	enum listen_role	role;
	bool			trusted;	/* in trusted_networks */
	bool			authenticated;	/* SMTP AUTH done */
	char			auth_mailbox[ADDR_BUFSZ];
	char			auth_customer[STORE_NAME_MAX + 1];
};

enum relay_grant_kind {
	GRANT_NONE,
	GRANT_TRUSTED,		/* trusted_networks */
	GRANT_AUTH,		/* SMTP AUTH in this session */
	GRANT_POP,		/* a POP3 login (or `relay allow`) */
};

/* What let a message relay: the audit trail of SPEC section 1. */
struct relay_grant {
	enum relay_grant_kind	kind;
	char			customer[STORE_NAME_MAX + 1];
	char			mailbox[ADDR_BUFSZ];
	char			key[NET_ADDRSTRLEN];
	char			client[NET_ADDRSTRLEN];
	char			listener[32];
	time_t			opened, expires;
};

enum relay_rule {
	RULE_OK,
	RULE_AUTHORIZED,	/* 554 5.7.1 */
	RULE_STANDING,		/* 550 5.7.1 */
	RULE_NULL_SENDER,	/* 550 5.7.1 */
	RULE_SENDER,		/* 553 5.7.1 */
	RULE_RCPT_CAP,		/* 452 4.5.3 */
	RULE_HOURLY_MESSAGES,	/* 450 4.7.1 */
	RULE_HOURLY_RECIPIENTS,	/* 450 4.7.1 */
	RULE_SIZE,		/* 552 5.3.4 */
	RULE_HEADER_FROM,	/* 550 5.7.1 */
	RULE_TEMP,		/* 451 4.3.0 */
};

struct relay_verdict {
	enum relay_rule		rule;
	int			code;
	const char		*esc;
	char			text[400];	/* reply text */
	char			why[400];	/* for the log */
	struct relay_grant	grant;		/* RULE_OK: who */
};

/* Optional rule-by-rule trace (popgate relay explain). */
struct relay_trace {
	void	(*fn)(void *arg, const char *rule, int ok, const char *detail);
	void	*arg;
};

/* The rule name for logs ("authorized", "sender", ...). */
const char *policy_rule_name(enum relay_rule);

/* May SENDER ("" for <>) relay one more message or recipient now? The
   rules in order: authorized, good standing, null sender, sender
   affiliated, recipients per message (NRELAYED already accepted),
   hourly caps, size (SIZE from MAIL, 0 if none). Fills V; returns 1
   allowed, 0 refused, -1 temporary failure (V says which). */
int	policy_relay_check(struct backends *, const struct relay_session *,
	    const char *sender, uint64_t size, size_t nrelayed, time_t now,
	    const struct relay_trace *, struct relay_verdict *v);
/* End of DATA: every address of every From: in HEADERS (LF line ends)
   must belong to the grant's customer. 1, 0 (V filled), -1. */
int	policy_check_from(struct backends *, const struct relay_grant *,
	    const char *headers, size_t len, struct relay_verdict *v);
/* Counts a relayed message with NRCPTS recipients against the hourly
   caps of the grant's customer. 0 or -1 (*ERROR_R). */
int	policy_charge(struct backends *, const struct relay_grant *,
	    uint64_t nrcpts, time_t now, const char **error_r);
/* One line for logs naming the grant. */
void	policy_grant_describe(const struct relay_grant *, char *, size_t);

/* ---- logins (POP3, SMTP AUTH): policy_auth.c ---- */

struct login {
	/* in */
	char		user[ADDR_BUFSZ];
	char		pass[PASSWD_MAX + 1];	/* wiped after use */
	struct netaddr	client;
	char		listener[32];
	/* out */
	int		result;		/* 1 ok, 0 refused, -1 temporary */
	struct store_mailbox mbox;
	bool		relay_opened;
	const char	*relay_note;	/* why not opened, or NULL */
	char		error[256];
};

/* Recently verified logins, so that a mail client checking every minute
   does not cost a yescrypt computation each time. An entry is an
   HMAC-SHA256, under a key drawn at start-up and kept only in memory,
   of the address, the stored hash and the password: a copy of the cache
   reveals no password, and a changed hash (`mailbox passwd`, on any
   host) no longer matches, so the entry is dropped on its next use.
   Entries expire TTL seconds after the login that verified them; the
   store is still read on every login (status, current hash). Shared by
   the worker threads. */
struct login_cache *login_cache_new(unsigned ttl_seconds, size_t max_entries);
void	login_cache_free(struct login_cache **);
/* Whether ADDRESS with PASSWORD matched HASH within the TTL. */
bool	login_cache_check(struct login_cache *, const char *address,
	    const char *hash, const char *password);
void	login_cache_add(struct login_cache *, const char *address,
	    const char *hash, const char *password);

/* Verifies the login (store lookup, then the login cache or crypt(3));
   fills L->mbox on success. On a worker thread. */
void	policy_login(struct backends *, struct login *);
/* After a successful POP3 login: records the relay authorization for
   L->client, unless the customer is suspended or the address is in
   relay_never_authorize (L->relay_note says which). */
void	policy_record_relay(struct backends *, struct login *);

/* Failed logins per client address, on the loop thread: after
   auth_max_failures failures within the window, further logins from that
   address are refused without checking the password. */
struct auth_throttle;
struct auth_throttle *auth_throttle_new(unsigned max_failures,
	    unsigned window_seconds);
void	auth_throttle_free(struct auth_throttle **);
bool	auth_throttle_blocked(struct auth_throttle *, const struct netaddr *,
	    time_t now);
void	auth_throttle_failed(struct auth_throttle *, const struct netaddr *,
	    time_t now);
/* A failed login from ADDR: counts it, and says how long to wait before
   answering so that the answer comes DELAY seconds after the command
   (STARTED_MS, clock_mono_ms()), however long the check took. */
void	auth_failure_wait(struct auth_throttle *, const struct netaddr *,
	    uint64_t delay, uint64_t started_ms, struct timeval *wait_r);

#endif
