/*
 * ops.h - the operations the CLI and the API share (SPEC 12): customers,
 * domains, mailboxes, aliases, DKIM keys, API tokens, the relay
 * authorizations, the queue and the store's counts, each change one
 * transaction, each outcome a structured result so that `popgate
 * customer delete` and `DELETE /api/v1/customers/NAME` cannot disagree.
 *
 * An actor scoped to a customer sees only that customer's objects: any
 * other is "not found" (never "forbidden"), so names cannot be probed.
 * The store, relay and queue handles are the caller's (the CLI's, or a
 * worker thread's). Only the queue manager's changes (ops_queue_apply,
 * ops_queue_hold) run on the daemon's loop, through the functions the
 * daemon gives (struct ops_qmgr); nothing here touches libevent.
 */
#ifndef POPGATE_OPS_H
#define POPGATE_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "queue/queue.h"
#include "relay/relay_auth.h"
#include "store/store.h"
#include "util/buf.h"

struct backends;

enum ops_status {
	OPS_OK,
	OPS_NOT_FOUND,		/* 404 */
	OPS_CONFLICT,		/* 409: exists, or still has children */
	OPS_INVALID,		/* 422: FIELD is wrong, ERROR says how */
	OPS_FAILED,		/* a system failure (the store, a disk) */
	OPS_PRECONDITION,	/* 412: the actor's expect() said no */
};

struct ops_result {
	enum ops_status	 status;
	const char	*field;		/* OPS_INVALID: the field's name */
	char		 error[512];	/* what went wrong, for a user */
	int		 revoked;	/* relay authorizations revoked */
};

/* A change's precondition (the API's If-Match): called by a change of
   an existing object (suspend, delete, a mailbox's password or quota)
   inside its transaction, once the object is found and before it
   changes, with the store to read it from; so no other writer comes in
   between. 1 goes on; 0 refuses with OPS_PRECONDITION (WHY, WHYSZ
   octets, says why); -1 a failure to read (OPS_FAILED). */
typedef int ops_expect_fn(struct store *, void *arg, char *why,
	    size_t whysz);

/* Who asks: CUSTOMER NULL sees everything. WHO names the actor in the
   log ("cli", "token=panel"). EXPECT: NULL, or the actor's
   precondition for the next change (with EXPECT_ARG). */
struct ops_actor {
	const char	*customer;
	const char	*who;
	ops_expect_fn	*expect;
	void		*expect_arg;
};

/* What mailbox creation needs: the Maildirs' directory relative to
   DATA_FD. */
struct ops_env {
	int		 data_fd;
	const char	*mail_dir;	/* config_rel(cfg, cfg->mail_dir) */
	struct relay_auth *relay;	/* for revocations; NULL: none */
};

/* Customers. Suspending or deleting one revokes its relay
   authorizations at once (SPEC 1) through ENV->relay. */
void	ops_customer_add(struct store *, const struct ops_actor *,
	    const char *name, struct ops_result *);
void	ops_customer_get(struct store *, const struct ops_actor *,
	    const char *name, struct store_customer *, struct ops_result *);
/* The lists take a window of the store (NULL: the whole list; else its
   total is filled, counting what the actor sees). */
void	ops_customer_list(struct store *, const struct ops_actor *,
	    struct store_window *, store_customer_cb *, void *,
	    struct ops_result *);
void	ops_customer_set_suspended(struct store *, const struct ops_env *,
	    const struct ops_actor *, const char *name, bool suspended,
	    struct ops_result *);
void	ops_customer_delete(struct store *, const struct ops_env *,
	    const struct ops_actor *, const char *name, bool force,
	    struct ops_result *);

/* Domains; a new one gets its DKIM key pairs in the same transaction. */
void	ops_domain_add(struct store *, const struct ops_actor *,
	    const char *domain, const char *customer, struct ops_result *);
void	ops_domain_get(struct store *, const struct ops_actor *,
	    const char *domain, struct store_domain *, struct ops_result *);
/* CUSTOMER NULL: every domain the actor sees. */
void	ops_domain_list(struct store *, const struct ops_actor *,
	    const char *customer, struct store_window *, store_domain_cb *,
	    void *, struct ops_result *);
void	ops_domain_delete(struct store *, const struct ops_actor *,
	    const char *domain, bool force, struct ops_result *);

/* Mailboxes; HASH is a crypt(3) hash (passwd_hash()). */
void	ops_mailbox_add(struct store *, const struct ops_env *,
	    const struct ops_actor *, const char *address, const char *hash,
	    uint64_t quota, struct ops_result *);
void	ops_mailbox_get(struct store *, const struct ops_actor *,
	    const char *address, struct store_mailbox *, struct ops_result *);
/* DOMAIN and CUSTOMER may be NULL (not both given). */
void	ops_mailbox_list(struct store *, const struct ops_actor *,
	    const char *domain, const char *customer, struct store_window *,
	    store_mailbox_cb *, void *, struct ops_result *);
void	ops_mailbox_set_hash(struct store *, const struct ops_actor *,
	    const char *address, const char *hash, struct ops_result *);
/* Both in one transaction: HASH NULL or QUOTA NULL keeps that one. */
void	ops_mailbox_update(struct store *, const struct ops_actor *,
	    const char *address, const char *hash, const uint64_t *quota,
	    struct ops_result *);
void	ops_mailbox_set_quota(struct store *, const struct ops_actor *,
	    const char *address, uint64_t quota, struct ops_result *);
void	ops_mailbox_delete(struct store *, const struct ops_actor *,
	    const char *address, struct ops_result *);

/* Aliases (ops_alias.c): ADDRESS forwarded to each of TARGETS (N of
   them), all or none. */
void	ops_alias_add(struct store *, const struct ops_actor *,
	    const char *address, char *const *targets, size_t n,
	    struct ops_result *);
/* DOMAIN and CUSTOMER as for ops_mailbox_list(): one call per target. */
void	ops_alias_list(struct store *, const struct ops_actor *,
	    const char *domain, const char *customer, struct store_window *,
	    store_alias_cb *, void *, struct ops_result *);
/* The TARGETS (N) of ADDRESS, or with N 0 the whole alias. */
void	ops_alias_delete(struct store *, const struct ops_actor *,
	    const char *address, char *const *targets, size_t n,
	    struct ops_result *);

/* DOMAIN's new DKIM pairs (RSA-2048 and Ed25519), in the caller's
   transaction (`domain add`, `domain dkim rotate`). Store result codes. */
int	ops_dkim_make(struct store *, const char *domain,
	    const char **error_r);

/* A domain's DKIM keys, as ops_dkim_list() gives them (ops_dkim.c).
   They hold private keys: ops_dkim_keys_free() wipes them. */
struct ops_dkim_keys {
	struct store_dkim_key	*v;
	size_t			 n;
};
/* How long a retired pair stays listed, and must stay in DNS. */
#define OPS_DKIM_OVERLAP	(7 * 86400)
#define OPS_DKIM_NAME_MAX	(STORE_DKIM_SEL_MAX + ADDR_DOMAIN_MAX + 16)
/* The keys of DOMAIN (one the actor sees: else OPS_NOT_FOUND), signing
   and retired, into KS (empty on entry; the caller's to free). */
void	ops_dkim_list(struct store *, const struct ops_actor *,
	    const char *domain, struct ops_dkim_keys *ks, struct ops_result *);
void	ops_dkim_keys_free(struct ops_dkim_keys *);
/* `domain dkim rotate`, one transaction: the retired pairs past their
   overlap at NOW are deleted (their record names appended to GONE: to
   remove from DNS), the signing pair retired, a new one made. */
void	ops_dkim_rotate(struct store *, const struct ops_actor *,
	    const char *domain, time_t now, struct strlist *gone,
	    struct ops_result *);
/* K's record name, "SELECTOR._domainkey.DOMAIN" (OPS_DKIM_NAME_MAX). */
void	ops_dkim_name(const struct store_dkim_key *k, char *out,
	    size_t outsz);

/* What a store holds (ops_store.c). */
struct ops_store_info {
	int		schema_version;
	uint64_t	customers, domains, mailboxes;
};
void	ops_store_info(struct store *, struct ops_store_info *,
	    struct ops_result *);

/* ---- the queue (ops_queue.c) ---- */

/* One queued message: its envelope and states, and its SIZE in octets as
   sent (CRLF); ENV NULL for a damaged one (ERROR says how). */
typedef void ops_queue_cb(const char *id, const struct queue_env *env,
	    uint64_t size, const char *error, void *arg);
/* Every message of the queue, ordered by id, read from the files (safe
   beside the daemon: it replaces them atomically). */
void	ops_queue_list(struct queue *, ops_queue_cb *, void *,
	    struct ops_result *);
/* Message ID into ENV (the caller's to queue_env_free() when R is OK)
   and *SIZE, its header section as it will be sent (LF line ends) into
   HEADERS unless NULL. A bad ID is OPS_INVALID (field "id"). */
void	ops_queue_show(struct queue *, const char *id, struct queue_env *env,
	    uint64_t *size, struct buf *headers, struct ops_result *);

/* How long ago SINCE was at NOW, for people: "42s", "5m", "3h", "2d". */
void	ops_queue_fmt_age(char *out, size_t outsz, time_t since, time_t now);

/* The changes the daemon alone makes while it runs: its queue manager
   holds the messages being delivered. */
enum ops_queue_verb {
	OPS_QUEUE_FLUSH,	/* try ID (NULL: every message not held) now */
	OPS_QUEUE_DELETE,	/* remove ID, held or not, without a bounce */
};
/* What became of a hold or release (the queue manager's answer). */
struct ops_hold_answer {
	enum {
		OPS_HOLD_DONE,		/* held or released, on the disk */
		OPS_HOLD_PENDING,	/* being delivered: held after it */
		OPS_HOLD_NONE,		/* no such message */
		OPS_HOLD_ALREADY,	/* already held, or not held */
		OPS_HOLD_BUSY,		/* another is under way */
		OPS_HOLD_FAILED,	/* TEXT says why */
	} outcome;
	char	text[400];		/* for people */
};
typedef void ops_hold_fn(void *arg, const struct ops_hold_answer *);
struct ops_hold_wait;

/* The daemon's queue manager, as its control socket gives it
   (cli_control.c); the functions run on the daemon's loop only. */
struct ops_qmgr {
	unsigned (*flush)(void *arg, const char *id);	/* how many */
	int	(*remove)(void *arg, const char *id);	/* 1, 0 none */
	bool	(*is_held)(void *arg, const char *id);
	/* Holds ID with REASON, or releases it (REASON NULL): DONE(DARG)
	   once, when it is on the disk or cannot be made, perhaps before
	   this returns (then NULL), else the wait, for hold_cancel until
	   DONE is called. */
	struct ops_hold_wait *(*hold)(void *arg, const char *id,
		    const char *reason, ops_hold_fn *done, void *darg);
	/* DONE will not be called for W (the hold goes on). */
	void	(*hold_cancel)(void *arg, struct ops_hold_wait *w);
	void	*arg;
};
struct ops_queue_answer {
	enum {
		OPS_QUEUE_DONE,		/* N messages affected */
		OPS_QUEUE_HELD,		/* a flush of a held message */
		OPS_QUEUE_NO_DAEMON,	/* none runs (the CLI's side) */
		OPS_QUEUE_NO_ANSWER,	/* it did not answer in time */
		OPS_QUEUE_ERROR,	/* TEXT says what it said */
	} outcome;
	unsigned	n;
	char		text[128];
};
/* On the daemon's loop: VERB of ID by QM, logged with the actor, into
   ANS (the control socket sends it to the CLI; the API reads it). */
void	ops_queue_apply(const struct ops_qmgr *qm, const struct ops_actor *,
	    enum ops_queue_verb, const char *id, struct ops_queue_answer *ans);
/* What ANS to VERB of ID (NULL: all) means, for the CLI and the API
   alike: no such message OPS_NOT_FOUND, held OPS_CONFLICT, no daemon or
   no answer OPS_FAILED. */
void	ops_queue_result(enum ops_queue_verb, const char *id,
	    const struct ops_queue_answer *ans, struct ops_result *r);
/* On the daemon's loop: holds ID with REASON (queue_env_hold() makes it
   fit) or releases it (NULL) by QM, logged with the actor; as
   QM->hold. */
struct ops_hold_wait *ops_queue_hold(const struct ops_qmgr *qm,
	    const struct ops_actor *, const char *id, const char *reason,
	    ops_hold_fn *done, void *darg);
/* What ANS to a hold (REASON not NULL) or release of ID means, for the
   CLI and the API alike: OPS_OK for DONE and PENDING; no such message
   OPS_NOT_FOUND, already (not) held or busy OPS_CONFLICT, a failure
   OPS_FAILED. */
void	ops_queue_hold_result(const char *id, const char *reason,
	    const struct ops_hold_answer *ans, struct ops_result *r);

/* Deletes ID from the files, when no daemon runs (nobody else touches
   the queue then). */
void	ops_queue_delete_files(struct queue *, const struct ops_actor *,
	    const char *id, struct ops_result *r);

/* API tokens (ops_token.c). A new secret: "pgt_" and 64 hex digits of
   256 random bits, into SECRET. 0 or -1. */
#define OPS_TOKEN_SECRET_LEN	68
int	ops_token_secret(char secret[OPS_TOKEN_SECRET_LEN + 1]);
/* The SHA-256 of SECRET in hex, what the store keeps. */
void	ops_token_hash(const char *secret, size_t len,
	    char out[STORE_TOKEN_HASH_LEN + 1]);
/* SCOPE "admin" or "customer:NAME" into T->customer: 0, or -1 with a
   reason in R (field "scope"). */
int	ops_token_scope(const char *scope, struct store_token *t,
	    struct ops_result *r);

/* ---- relay authorizations (ops_relay.c): the table the daemon reads,
   so a change acts on it at once ---- */

/* The table key of ARG, an address or network typed by an administrator,
   into E->key: a host (an IPv6 one widened to IPV6_PREFIX) is keyed like
   a login; any other network is stored as a network (E->net). 0, or -1
   with R (OPS_INVALID, field "address"). */
int	ops_relay_target(const char *arg, unsigned ipv6_prefix,
	    struct relay_entry *e, struct ops_result *r);
/* The live authorizations the actor sees at NOW, ordered by key; only
   CUSTOMER's when it is not NULL. */
void	ops_relay_list(struct relay_auth *, const struct ops_actor *,
	    const char *customer, time_t now, relay_entry_cb *, void *,
	    struct ops_result *);
/* The longest a relay authorization opened by hand may last. */
#define OPS_RELAY_FOR_MAX	(365 * 24 * 3600)

/* Opens the relay for E->key (ops_relay_target; E->listener says who:
   "cli", "api") on behalf of CUSTOMER from NOW for DURATION seconds; E
   completed. An unknown customer is OPS_INVALID (field "customer"), a
   DURATION of 0 or over OPS_RELAY_FOR_MAX too (field "for"), a suspended
   customer OPS_CONFLICT. */
void	ops_relay_allow(struct store *, struct relay_auth *,
	    const struct ops_actor *, const char *customer, time_t now,
	    uint64_t duration, struct relay_entry *e, struct ops_result *);
/* Revokes the authorizations of KEY and/or CUSTOMER (NULL: any; not both
   NULL, though an actor scoped to a customer revokes only its own):
   R->revoked says how many. */
void	ops_relay_revoke(struct relay_auth *, const struct ops_actor *,
	    const char *key, const char *customer, struct ops_result *);

/* One rule of an explanation, in the order the server checks them. */
struct ops_explain_step {
	char	rule[32];
	int	ok;		/* 1 yes, 0 no, -1 error */
	char	detail[400];
};

/* What the server would answer at RCPT now, and why. */
struct ops_explain {
	char	client[NET_ADDRSTRLEN];
	char	sender[ADDR_BUFSZ];		/* "" for <> */
	char	recipient[ADDR_BUFSZ];		/* canonical */
	char	domain[ADDR_DOMAIN_MAX + 1];	/* the recipient's */
	struct ops_explain_step *steps;		/* malloc'ed, NSTEPS */
	size_t	nsteps;
	bool	relayed;	/* the relay rules decided (else: hosted) */
	bool	accepted;
	bool	unknown_user;	/* hosted, and no such mailbox */
	int	code;		/* 250, or the refusal's */
	char	esc[16];
	const char *rule;	/* the refusing rule's name (static), or NULL */
	char	text[400];	/* the refusing rule's text */
	char	grant[512];	/* relayed: the grant, for people */
	uint64_t max_size;	/* relayed: relay_max_message_size */
};
/* `relay explain`: CLIENT, SENDER ("<>" or "" the null sender) and RCPT
   parsed as the server parses them (OPS_INVALID names the field:
   client, sender, recipient), then the server's own RCPT decision
   (policy_check_rcpt) with B's handles at NOW, holding nothing, traced
   into X. X is the caller's to ops_explain_free(), whatever R says. */
void	ops_relay_explain(struct backends *b, const char *client,
	    const char *sender, const char *rcpt, time_t now,
	    struct ops_explain *x, struct ops_result *r);
void	ops_explain_free(struct ops_explain *);

#endif
