/*
 * dlv.h - the queue manager and outbound delivery (SPEC section 6).
 *
 * Relayed and forwarded mail waits in the durable queue (queue.h). The
 * queue manager tries each message at once, then again with exponential
 * back-off (retry_min doubling up to retry_max) until it is delivered or
 * max_queue_lifetime has passed; permanent failures and expiry send an
 * RFC 3464 bounce to the sender, never to the null sender. Routes:
 * `transport DOMAIN = HOST:PORT`, then `relayhost`, else the MX records
 * (RFC 7505 null MX: bounce at once; no MX: the domain's addresses).
 * Only as many messages are loaded as are being delivered, so a burst of
 * queued mail costs bounded memory and descriptors. A held message
 * (quarantine; queue.h) is never tried until it is released.
 */
#ifndef POPGATE_DLV_H
#define POPGATE_DLV_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>

#include "core/config.h"
#include "core/dns.h"

#define DLV_MAX_HOSTS	16	/* MX hosts tried per connection */

struct event_base;
struct worker_pool;
struct qmgr;

struct qmgr_deps {
	struct event_base	*base;
	const struct config	*cfg;
	struct worker_pool	*io;	/* queue files, bounces */
	struct dns		*dns;
	SSL_CTX			*tls;	/* client context for STARTTLS */
	struct queue		*queue;	/* the daemon's, outlives the qmgr */
	/* The data directory (MTA-STS policies below mta-sts/); 0 or -1:
	   none, policies kept in memory only. Borrowed. */
	int			 data_fd;
	/* How long an idle connection waits for more mail before QUIT,
	   in microseconds; 0: 2 s (like Postfix's connection cache). The
	   fuzzer makes it short to reach QUIT. */
	unsigned		 idle_usec;
};

/* Scans the queue (a restart picks it up where it was) and starts
   delivering. NULL with *ERROR_R. */
struct qmgr *qmgr_new(const struct qmgr_deps *, const char **error_r);
/* Stops: connections are dropped (their messages stay queued). */
void	qmgr_free(struct qmgr **);
/* A reload: CFG from now on (borrowed until the next call or the end);
   every destination's route (transport, relayhost) is worked out again
   for its next connection. */
void	qmgr_set_config(struct qmgr *, const struct config *);
/* A new message was queued (smtp_deps.queued): try it now. */
void	qmgr_queued(void *qmgr, const char *id);
/* Retries ID (or every message when ID is NULL) now. The number of
   messages affected. */
unsigned qmgr_flush(struct qmgr *, const char *id);
/* Removes ID from the queue (after its delivery attempt, if one is
   running), held or not. 1 removed or marked, 0 no such message. */
int	qmgr_delete(struct qmgr *, const char *id);

/* What became of a hold or release (qmgr_hold). */
enum qmgr_hold_answer {
	QMGR_HOLD_FAILED = -1,	/* the text says why */
	QMGR_HOLD_NONE = 0,	/* no such message (any more) */
	QMGR_HOLD_DONE = 1,	/* held or released, on the disk */
	QMGR_HOLD_ALREADY = 2,	/* already held, or not held to release */
	QMGR_HOLD_PENDING = 3,	/* being delivered: no new attempt starts,
				   held once this one ends */
	QMGR_HOLD_BUSY = 4,	/* another hold or release of it is under way */
};
/* The answer to one qmgr_hold(), on the loop; TEXT (borrowed for the
   call) says it for people. */
typedef void qmgr_hold_fn(void *arg, enum qmgr_hold_answer,
	    const char *text);
/* Holds message ID with REASON (any text: queue_env_hold() makes it
   fit) or, when REASON is NULL, releases it: it is tried at once, every
   recipient, and the time it was held does not count against
   max_queue_lifetime. DONE is called once with ARG, perhaps before this
   returns, when the change is on the disk or cannot be made; a message
   being delivered is answered PENDING at once (and not again). */
void	qmgr_hold(struct qmgr *, const char *id, const char *reason,
	    qmgr_hold_fn *done, void *arg);
/* Drops every answer still due (whoever waits for them is going); the
   holds and releases go on. */
void	qmgr_hold_forget_answers(struct qmgr *);
/* Whether ID is held (or to be held after its current attempt). */
bool	qmgr_is_held(struct qmgr *, const char *id);

/* ---- pure helpers, unit-tested with an injected clock and RNG ---- */

/* When to try again after ATTEMPTS failed attempts: retry_min doubled
   for each attempt after the first, at most retry_max. */
time_t	dlv_next_try(time_t now, unsigned attempts, uint64_t retry_min,
	    uint64_t retry_max);
/* Orders MX records by preference, shuffling equal preferences with
   RND (RFC 5321 5.1). */
void	dlv_mx_order(struct dns_mx *, size_t n,
	    uint32_t (*rnd)(void *), void *rnd_arg);
/* The hosts to try for DOMAIN from its MX answer (STATUS and records as
   dns_mx() gives them): 1 with HOSTS filled (MX hosts in order, or the
   domain itself when it has no MX), 0 when the mail must bounce
   (*VERDICT_R: NXDOMAIN, null MX), -1 when it must wait (*VERDICT_R:
   temporary DNS failure). HOSTS has room for DLV_MAX_HOSTS. */
int	dlv_plan_hosts(const char *domain, int status,
	    const struct dns_mx *, size_t n, uint32_t (*rnd)(void *),
	    void *rnd_arg, char hosts[][256], size_t *nhosts_r,
	    const char **verdict_r);

#endif
