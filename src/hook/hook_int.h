/*
 * hook_int.h - what the files of src/hook share. Not for outside use:
 * hook/hook.h is the module's only public header.
 *
 * hook.c: the events fired (any thread), the queue of deliveries and
 * their timers (the loop); hook_send.c: one attempt (DNS, TCP, TLS,
 * evhttp), the signature and the back-off; hook_spool.c: the copies of
 * pending deliveries in DATA_DIR/webhooks/ and the logins' memory of
 * addresses in DATA_DIR/webhooks.seen.
 */
#ifndef POPGATE_HOOK_INT_H
#define POPGATE_HOOK_INT_H

#include <sys/queue.h>
#include <stdbool.h>
#include <time.h>

#include <openssl/ssl.h>

#include "core/config.h"
#include "hook/hook.h"

#define HOOK_DIR		"webhooks"
#define HOOK_SEEN_FILE		"webhooks.seen"
#define HOOK_INFLIGHT_MAX	16	/* attempts at once */
#define HOOK_BODY_MAX		(64 * 1024)	/* of an event's JSON */
#define HOOK_RESPONSE_MAX	(16 * 1024)	/* body of an answer */
#define HOOK_HEADERS_MAX	(8 * 1024)	/* headers of an answer */
#define HOOK_ID_LEN		32	/* hex of an event id */

struct hooks;
struct dns_req;
struct evhttp_connection;

/* One event for one URL, from its queueing to its end. */
struct hook_dlv {
	TAILQ_ENTRY(hook_dlv)	 link;
	struct hooks		*h;
	char			 id[HOOK_ID_LEN + 8];	/* "EVENT-ID.N" */
	enum hook_event		 event;
	char			*body;
	size_t			 len;
	struct webhook_cfg	 url;	/* a copy: reloads change the list */
	time_t			 created;
	unsigned		 attempts;
	bool			 inflight;
	struct event		*timer;	/* the next try, or the deadline */
	struct dns_req		*dns;
	struct evhttp_connection *conn;
	struct event		*ev_free;	/* frees conn from the loop */
};
TAILQ_HEAD(hook_dlvq, hook_dlv);

struct hook_spool;

struct hooks {
	struct event_base	*base;
	struct dns		*dns;
	int			 data_fd;
	const struct config	*cfg;		/* a reference */
	char			*secret;
	SSL_CTX			*tls;
	struct hook_dlvq	 q;
	size_t			 nq;
	unsigned		 inflight;
	int			 efd;		/* woken by hook_fire() */
	struct event		*ev_wake;
	struct hook_spool	*spool;
};

/* hook_send.c: starts an attempt of D (not in flight). It ends in
   hook_attempt_done(). */
void	hook_attempt(struct hook_dlv *d);
/* Stops D's attempt, if any, without a result. */
void	hook_attempt_stop(struct hook_dlv *d);
/* The end of an attempt: STATUS the HTTP status, 0 for none (WHY says
   what went wrong); RETRY_AFTER its Retry-After in seconds (0: none). */
void	hook_attempt_done(struct hook_dlv *d, int status, unsigned retry_after,
	    const char *why);
/* A client context for webhook_ca_file ("" = the system's store). NULL
   with *ERROR_R. */
SSL_CTX	*hook_tls_ctx(const char *ca_file, const char **error_r);

/* hook_spool.c, on the loop. */
struct hook_spool *hook_spool_new(struct worker_pool *io, int data_fd);
void	hook_spool_free(struct hook_spool **);
/* Writes D's copy (after any earlier operation). */
void	hook_spool_save(struct hook_spool *, const struct hook_dlv *d);
/* Removes D's copy (after its write). */
void	hook_spool_drop(struct hook_spool *, const struct hook_dlv *d);
/* Queues, through hook_requeue(), every copy whose URL H's configuration
   still has (others are removed). At start-up, before the loop runs. */
void	hook_spool_load(struct hooks *h);
/* hook.c: takes a delivery read back from the spool. */
void	hook_requeue(struct hooks *h, const char *id, enum hook_event,
	    const struct webhook_cfg *url, time_t created, const char *body,
	    size_t len);

/* The logins' memory (hook_spool.c), under hook.c's lock. */
struct hook_seen;
struct hook_seen *hook_seen_new(void);
void	hook_seen_free(struct hook_seen **);
/* Whether MAILBOX is known and ADDR is new for it; records ADDR (and
   forgets what is older than MEMORY seconds). */
bool	hook_seen_check(struct hook_seen *, const char *mailbox,
	    const struct netaddr *addr, time_t now, time_t memory);
void	hook_seen_load(struct hook_seen *, int data_fd);
void	hook_seen_save(struct hook_seen *, int data_fd);

#endif
