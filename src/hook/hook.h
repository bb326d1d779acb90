/*
 * hook.h - webhooks: events a hosting control panel subscribes to
 * (`webhook = URL [EVENT,...]` in popgate.conf), POSTed to it as signed
 * JSON from the daemon's event loop, retried with back-off.
 *
 * Anything may fire an event, from any thread (the policy engine and
 * the notices run on workers): hook_fire() copies the fields into a
 * JSON body under a lock and wakes the loop, which queues one delivery
 * per subscribed URL. Without a running hooks object (the CLI, unit
 * tests, a daemon without webhooks) firing costs one lock and does
 * nothing.
 *
 * A delivery is a POST of the body with the headers
 *   X-Popgate-Event: EVENT
 *   X-Popgate-Delivery: ID          (the same on every retry)
 *   X-Popgate-Timestamp: UNIX-TIME  (of this attempt)
 *   X-Popgate-Signature: sha256=HEX
 * HEX = lower-case HMAC-SHA256 under webhook_secret of
 * TIMESTAMP "." BODY (the Stripe scheme). 2xx is delivered; connection
 * errors, timeouts, 408, 429 and 5xx are retried after
 * webhook_retry_min doubled per attempt (at most an hour, jittered),
 * until webhook_max_age; any other answer is final. At most
 * webhook_queue_max deliveries wait (the oldest is dropped, logged);
 * they are kept in DATA_DIR/webhooks/ (written by a worker), so they
 * survive a restart.
 */
#ifndef POPGATE_HOOK_H
#define POPGATE_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/net.h"

struct config;
struct dns;
struct event_base;
struct worker_pool;
struct hooks;

/* In the order of config_webhook_event(): bit E of webhook_cfg.events. */
enum hook_event {
	HOOK_CUSTOMER_SUSPENDED,
	HOOK_RELAY_CAP_REACHED,
	HOOK_MESSAGE_BOUNCED,
	HOOK_LOGIN_NEW_IP,
	HOOK_NEVENTS
};

/* One field of an event's "data" object: a string (STR not NULL) or a
   whole number. */
struct hook_field {
	const char	*name;
	const char	*str;
	long long	 num;
};
#define HOOK_STR(n, v)	{ (n), (v), 0 }
#define HOOK_NUM(n, v)	{ (n), NULL, (long long)(v) }

/* Fires EVENT with the N FIELDS (copied). Any thread. */
void	hook_fire(enum hook_event, const struct hook_field *fields, size_t n);
#define HOOK_FIRE(ev, ...) do {						\
	const struct hook_field hook_f_[] = { __VA_ARGS__ };		\
	hook_fire((ev), hook_f_, sizeof(hook_f_) / sizeof(hook_f_[0]));	\
} while (0)
/* Whether KEY was not seen in the last WINDOW seconds (then it is now):
   to fire an event once per key and period ("relay.cap_reached" once
   per customer, cap and hour). A few thousand keys are kept; false
   without webhooks for EVENT. Any thread. */
bool	hook_once(enum hook_event, const char *key, unsigned window);
/* A successful login of MAILBOX (of CUSTOMER) from ADDR on a listener
   of role LISTENER ("pop3s", "imap", "submission", ...): fires
   login.new_ip when the mailbox has logged in before, but not from ADDR
   (an IPv6 one: its relay_ipv6_prefix) within webhook_ip_memory. Any
   thread. */
void	hook_login(const char *mailbox, const char *customer,
	    const struct netaddr *addr, const char *listener);

/* The daemon's webhooks, on BASE: resolves names with DNS, writes the
   spool below DATA_FD with IO's threads (all borrowed; they outlive
   the hooks), loads what an earlier run left. Becomes the one hook_fire()
   feeds. NULL with *ERROR_R. */
struct hooks *hook_new(struct event_base *, struct dns *,
	    struct worker_pool *io, int data_fd, const struct config *,
	    const char **error_r);
/* A reload: the new subscriptions, secret, CA file and limits (CFG is
   referenced). 0, or -1 with *ERROR_R (the old ones stay). */
int	hook_reload(struct hooks *, const struct config *,
	    const char **error_r);
/* Stops: pending deliveries stay in the spool; the login memory is
   saved. Sets *HP to NULL. */
void	hook_free(struct hooks **hp);

/* ---- pure parts, for the tests ---- */

/* HEX (65 octets) = hex HMAC-SHA256 under SECRET of TS "." BODY. */
void	hook_sign(const char *secret, const char *ts, const char *body,
	    size_t len, char hex[65]);
/* The wait in milliseconds before retry ATTEMPT (1 for the first
   retry): MIN_S doubled per attempt, at most an hour, the upper half
   drawn from RND (equal jitter), at least MIN_S. */
uint64_t hook_backoff(unsigned attempt, uint64_t min_s, uint32_t rnd);
/* Whether an HTTP status (0: no answer) is worth a retry. */
bool	hook_status_retries(int status);

#endif
