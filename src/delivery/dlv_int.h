/*
 * dlv_int.h - what the files of src/delivery share. Not for outside use.
 *
 *   qentry   every queued message, by id: ready, waiting (a heap by next
 *            try) or active
 *   dlv_msg  an active message: envelope loaded, file open
 *   dlv_item the recipients of one message in one domain: the unit a
 *            connection delivers
 *   dlv_dest one destination domain: its queue of items and connections
 *   dlv_conn one SMTP client connection (dlv_client.c)
 */
#ifndef POPGATE_DLV_INT_H
#define POPGATE_DLV_INT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>

#include "delivery/dlv.h"
#include "core/ids.h"
#include "queue/queue.h"
#include "util/buf.h"
#include "util/hmap.h"

#define DLV_MAX_ACTIVE		256	/* messages loaded at once */
/* Recipients per transaction: RFC 5321 4.5.3.1.8 makes servers take at
   least 100; more are split over several transactions. */
#define DLV_RCPTS_PER_TXN	100
#define DLV_DNS_TIMEOUT_MS	15000
#define DLV_CMD_TIMEOUT		300	/* RFC 5321 4.5.3.2 */
#define DLV_DATA_TIMEOUT	600	/* after the final "." */

enum qe_where {
	QE_READY,
	QE_WAITING,
	QE_ACTIVE,
};

struct qentry {
	char			 id[ID_LEN + 1];
	enum qe_where		 where;
	time_t			 next_try;
	size_t			 heap;		/* index while waiting */
	struct qentry		*next;		/* ready list */
	bool			 flush;		/* retry every recipient */
	bool			 delete_me;
	struct dlv_msg		*msg;		/* while its items are out */
};

struct dlv_msg {
	struct qmgr		*q;
	struct qentry		*qe;
	struct queue_env	 env;
	int			 fd;
	uint64_t		 body_off, body_len;
	unsigned		 items;		/* out with connections */
	bool			*bounced_now;	/* per recipient, this round */
	bool			*delayed_now;	/* delay notice, this round */
};

struct dlv_item {
	struct dlv_item		*next;
	struct dlv_msg		*m;
	struct dlv_dest		*d;
	size_t			*idx;		/* recipients of m->env */
	size_t			 n;
};

enum route_kind {
	ROUTE_MX,		/* DNS: MX, else the domain's addresses */
	ROUTE_HOST,		/* transport or relayhost: one host */
};

struct dlv_dest {
	char			 domain[256];
	enum route_kind		 route;
	char			 host[256];	/* ROUTE_HOST */
	uint16_t		 port;
	bool			 host_mx;	/* relayhost without [] */
	struct dlv_item		*head, *tail;
	size_t			 nqueued;
	unsigned		 nconn;
};

struct dlv_conn;

struct qmgr {
	struct qmgr_deps	 d;
	struct hmap		*entries;	/* id -> qentry */
	struct qentry		*ready_head, *ready_tail;
	struct qentry		**heap;		/* waiting, by next_try */
	size_t			 nheap, heapcap;
	struct hmap		*dests;		/* domain -> dlv_dest */
	LIST_HEAD(, dlv_conn)	 conns;		/* all open connections */
	unsigned		 nactive;	/* loaded messages */
	unsigned		 nconn;
	struct event		*timer;		/* next waiting entry */
	bool			 stopping;
};

/* dlv_sched.c */
void	qmgr_kick(struct qmgr *);
/* A connection has results for ITEM (one reply per recipient: "250 ..",
   "451 ..", "550 .."; NULL entries mean "not tried": deferred with
   FAILURE). RELAY names the host it talked to. */
void	qmgr_item_done(struct qmgr *, struct dlv_item *, char **replies,
	    const char *failure, const char *relay);
/* Starts connections for D first, then for every destination with mail
   waiting (after a connection ended, delivery_concurrency has room). */
void	qmgr_kick_dests(struct qmgr *, struct dlv_dest *d);
/* Takes the next item queued for D, or NULL. */
struct dlv_item *qmgr_take(struct qmgr *, struct dlv_dest *);
/* Defers (PERMANENT: bounces) every queued item of D with TEXT. */
void	qmgr_fail_dest(struct qmgr *, struct dlv_dest *, const char *text,
	    bool permanent);

/* dlv_client.c */
/* Opens a connection to D and delivers queued items until none is
   left. */
void	dlv_conn_start(struct qmgr *, struct dlv_dest *);
/* Hands new work to an idle connection of D; false if there is none. */
bool	dlv_conn_wake(struct qmgr *, struct dlv_dest *);
void	dlv_conn_free_all(struct qmgr *);

/* dlv_local.c: the local recipients (mailboxes that were full). */
/* At max_queue_lifetime, bounces with 5.2.2 the local recipients of M
   that were still full (before split()'s generic expiry). */
void	dlv_local_expire(struct qmgr *, struct dlv_msg *m, time_t now);
/* Takes the due local recipients of M (not TAKEN; marks them) into one
   item, delivered into their Maildirs on the io pool; the results come
   back through qmgr_item_done(). The number of items started (0, 1). */
unsigned dlv_local_take(struct qmgr *, struct dlv_msg *m, bool *taken);

/* dlv_bounce.c: on a worker. */
/* Sends the notices of M this round: a bounce for the recipients marked
   bounced_now, a delay notice for those marked delayed_now. Writes new
   queue ids (for remote senders) into NEW_IDS. */
void	dlv_bounce_send(void *backends, struct dlv_msg *m,
	    const char *hostname, struct strlist *new_ids);

#endif
