/*
 * notice.h - delivery status notifications (RFC 3464 reports in an RFC
 * 6522 multipart/report, asked for per RFC 3461): the bounce of
 * recipients that failed for good or expired, the delay notice, and the
 * success notices ("delivered" into a mailbox here, "relayed" to a next
 * hop that does not speak DSN, "expanded" for an alias of several
 * targets). Written by the SMTP server (at the end of DATA) and by the
 * queue manager (after a round of deliveries), on a worker.
 *
 * A notice is sent from the null sender with Auto-Submitted:
 * auto-replied (RFC 3834), never to the null sender, so it can never
 * cause another. A notice for a sender of a hosted domain lands straight
 * in its Maildir; others are queued.
 */
#ifndef POPGATE_NOTICE_H
#define POPGATE_NOTICE_H

#include <stdbool.h>
#include <time.h>

#include "policy/policy.h"
#include "queue/queue.h"
#include "util/spool.h"
#include "util/str.h"

enum notice_action {
	NOTICE_FAILED,
	NOTICE_DELAYED,
	NOTICE_DELIVERED,
	NOTICE_RELAYED,
	NOTICE_EXPANDED,
};

/* What the notice reports on: the message E (its sender, id, arrival,
   ENVID, RET, recipients with their last reply in last_error), the
   recipients marked in WHICH, and the message itself: PREFIX (PLEN
   octets) then BODY, LF line ends (the header section is returned, the
   whole message in a failure notice under RET=FULL). */
struct notice_of {
	const struct queue_env	*env;
	const bool		*which;
	const char		*prefix;
	size_t			 plen;
	const struct spool	*body;
	time_t			 until;	/* NOTICE_DELAYED: retried until */
};

/* Composes the notice of ACTION about N and sends it to the sender of
   N->env (nothing for the null sender). Queue ids of what it queued (for
   a remote sender) go into NEW_IDS, for the queue manager. 0, or -1
   (*ERROR_R). */
int	notice_send(struct backends *, const struct notice_of *n,
	    enum notice_action action, const char *hostname,
	    struct strlist *new_ids, const char **error_r);
/* The RFC 3464 status of an SMTP reply ("550 5.1.1 ..." -> "5.1.1";
   without an enhanced code, from the reply code class). */
void	notice_status_of(const char *reply, char out[16]);
/* "bounce", "delay", "delivered", "relayed", "expanded" (for logs). */
const char *notice_action_name(enum notice_action);

#endif
