/*
 * ops.h - the provisioning operations the CLI and the API share (SPEC
 * 12): customers, domains, mailboxes and API tokens, each change one
 * transaction, each outcome a structured result so that `popgate
 * customer delete` and `DELETE /api/v1/customers/NAME` cannot disagree.
 *
 * An actor scoped to a customer sees only that customer's objects: any
 * other is "not found" (never "forbidden"), so names cannot be probed.
 * The store handle is the caller's (the CLI's, or a worker thread's);
 * nothing here touches the event loop.
 */
#ifndef POPGATE_OPS_H
#define POPGATE_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "relay/relay_auth.h"
#include "store/store.h"

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

#endif
