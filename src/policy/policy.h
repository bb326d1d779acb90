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

#include "core/addr.h"
#include "core/config.h"
#include "store/store.h"

/* A worker thread's handles, opened on first use. */
struct backends {
	const struct config	*cfg;
	struct store		*store;
};

/* worker_init_fn / worker_fini_fn for the pools: ARG is the config. */
void	*backends_thread_init(void *cfg);
void	 backends_thread_fini(void *);
/* The thread's store, opened now if needed; NULL with *ERROR_R. */
struct store *backends_store(struct backends *, const char **error_r);
/* After a failure the handle is reopened on next use. */
void	 backends_reset(struct backends *);

enum target_kind {
	TARGET_MAILBOX,		/* a hosted mailbox */
	TARGET_REMOTE,		/* an external address (alias forwarding) */
	TARGET_SYSTEM,		/* the system postmaster Maildir */
};

struct target {
	enum target_kind	kind;
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

#endif
