/*
 * dlv_int.h - what the files of src/delivery share. Not for outside use.
 *
 *   qentry   every queued message, by id: ready, waiting (a heap by next
 *            try), active, held, or in a hold or release (admin)
 *   dlv_msg  an active message: envelope loaded, file open
 *   dlv_item the recipients of one message in one domain: the unit a
 *            connection delivers
 *   dlv_dest one destination domain: its queue of items and connections
 *   dlv_conn one SMTP client connection (dlv_client.c and
 *            dlv_client_tls.c, which share dlv_conn.h)
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
	QE_HELD,	/* in no list: never tried until released */
	QE_ADMIN,	/* a hold or release is writing its state */
	QE_NWHERE
};

struct qmgr_req;

struct qentry {
	char			 id[ID_LEN + 1];
	enum qe_where		 where;
	time_t			 next_try;
	size_t			 heap;		/* index while waiting */
	struct qentry		*next;		/* ready list */
	bool			 flush;		/* retry every recipient */
	bool			 delete_me;
	struct dlv_msg		*msg;		/* while its items are out */
	struct qmgr_req		*req;		/* a hold or release to make */
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
	/* success notice this round: 0, NOTICE_DELIVERED or _RELAYED */
	unsigned char		*success_now;
	/* Nothing was due and nothing changed this round: the state file
	   says it all already and is not written again. */
	bool			 unchanged;
};

struct dlv_item {
	struct dlv_item		*next;
	struct dlv_msg		*m;
	struct dlv_dest		*d;
	size_t			*idx;		/* recipients of m->env */
	size_t			 n;
	bool			 dsn_passed;	/* the next hop took NOTIFY
						   (it reports success) */
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
	/* After a connection that achieved nothing: no new connection
	   before hold_until, and mail for it is deferred with last_error
	   (qmgr_dest_failed). */
	unsigned		 fails;
	time_t			 hold_until;
	char			 last_error[700];
};

struct dlv_conn;
struct dlv_sts_cache;

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
	struct dlv_sts_cache	*sts;		/* MTA-STS policies */
	unsigned		 cfg_gen;	/* reloads seen */
	bool			 stopping;
	/* Entries by where they are, kept by qmgr_entry_where() (the
	   queue depth of the metrics: never a walk of the queue). */
	size_t			 nwhere[QE_NWHERE];
};

/* E goes to W: the one way to change e->where, so that q->nwhere
   stays true. */
static inline void
qmgr_entry_where(struct qmgr *q, struct qentry *e, enum qe_where w)
{
	q->nwhere[e->where]--;
	q->nwhere[w]++;
	e->where = w;
}

/* dlv_sched.c */
void	qmgr_kick(struct qmgr *);
/* E (in no list) goes to the end of the ready list. */
void	qmgr_entry_ready(struct qmgr *, struct qentry *e);
/* The waiting heap by next_try (dlv_heap.c): E in, E out (it must be
   in). */
void	qmgr_heap_push(struct qmgr *, struct qentry *e);
void	qmgr_heap_remove(struct qmgr *, struct qentry *e);
/* E (in no list) waits in the heap for its next_try. */
void	qmgr_entry_wait(struct qmgr *, struct qentry *e);
/* E leaves the ready list or the heap, whichever it is in. */
void	qmgr_entry_unqueue(struct qmgr *, struct qentry *e);
/* E is no longer queued: freed. */
void	qmgr_entry_forget(struct qmgr *, struct qentry *e);
void	dlv_msg_free(struct dlv_msg *);
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
/* A connection to D failed without a transaction answered: D is held
   for the back-off of its consecutive failures (retry_min doubling up
   to retry_max), which is also the least time before its next
   connection; REPLY ("451 4.x.x ...") defers what waits for it once no
   connection to it is left. */
void	qmgr_dest_failed(struct qmgr *, struct dlv_dest *, const char *reply);
/* The server of D answered a transaction: D is no longer held. */
void	qmgr_dest_ok(struct dlv_dest *);

/* dlv_metrics.c: the queue's and the deliveries' metrics. */
/* Shown from now on, for Q (qmgr_new); dlv_metrics_stop() at its end. */
void	dlv_metrics_start(struct qmgr *q);
void	dlv_metrics_stop(struct qmgr *q);
/* One recipient's attempt ended with REPLY ("250 ..", "4..", "5..")
   through TRANSPORT (local: a Maildir). */
void	dlv_count_delivery(bool local, const char *reply);

/* dlv_client.c */
/* Opens a connection to D and delivers queued items until none is
   left. */
void	dlv_conn_start(struct qmgr *, struct dlv_dest *);
/* Hands new work to an idle connection of D; false if there is none. */
bool	dlv_conn_wake(struct qmgr *, struct dlv_dest *);
void	dlv_conn_free_all(struct qmgr *);

/* dlv_reply.c: what the client reads and writes, as pure functions
   (unit-tested, fuzzed through fuzz_dlv_client). */
#define DLV_REPLY_LINE_MAX	4096	/* RFC 5321 4.5.3.1.5 says 512 */

/* What a server offers in its EHLO reply. */
struct dlv_caps {
	bool		pipelining, starttls, eightbit, utf8, dsn;
	bool		size_offered;
	uint64_t	size_max;	/* 0: no limit announced */
};

/* Takes one reply line off IN into LINE (its LF or CRLF dropped;
   servers are taken at their word on line ends). 1 read, 0 not complete
   yet, -1 not a reply line: longer than DLV_REPLY_LINE_MAX, no code
   200-599, neither ' ' nor '-' after it, or a NUL in it. */
int	dlv_reply_line(struct evbuffer *in, struct buf *line);
/* The capabilities in LINES, the EHLO reply ("250-KEYWORD params\n"
   each). */
void	dlv_ehlo_parse(const char *lines, struct dlv_caps *caps_r);
/* Appends N octets of the message (LF line ends) to OUT as DATA wants
   them: CRLF line ends, a dot doubled at the start of a line (RFC 5321
   4.5.2). *BOL says whether a line starts here; it is carried from one
   call to the next. */
void	dlv_body_put(struct evbuffer *out, const char *p, size_t n,
	    bool *bol);

/* dlv_local.c: the local recipients (mailboxes that were full). */
/* At max_queue_lifetime, bounces with 5.2.2 the local recipients of M
   that were still full (before split()'s generic expiry). */
void	dlv_local_expire(struct qmgr *, struct dlv_msg *m, time_t now);
/* Takes the due local recipients of M (not TAKEN; marks them) into one
   item, delivered into their Maildirs on the io pool; the results come
   back through qmgr_item_done(). The number of items started (0, 1). */
unsigned dlv_local_take(struct qmgr *, struct dlv_msg *m, bool *taken);

/* dlv_hold.c: holds and releases, where the scheduler meets them. */
/* M of E was loaded (not to be deleted): true when the hold took it
   (M freed, E held or in a hold or release), false to deliver it. */
bool	dlv_hold_loaded(struct qmgr *, struct qentry *e, struct dlv_msg *m);
/* The round of M ends: a hold asked for meanwhile goes into its
   envelope, so the state written next holds it. true when it did (no
   delay notice then). */
bool	dlv_hold_finishing(struct dlv_msg *m);
/* E's round ended with ENV written (ERR: errno of a failure), E in no
   list, not removed: true when a hold or release took E, false to let
   it wait. */
bool	dlv_hold_finished(struct qmgr *, struct qentry *e,
	    const struct queue_env *env, int err);
/* E is removed (delivered, bounced or deleted): the request still due
   is answered. */
void	dlv_hold_gone(struct qentry *e);
/* Frees E's request, unanswered (the qmgr stops). */
void	dlv_hold_drop(struct qentry *e);

/* dlv_bounce.c: on a worker. */
/* Sends the notices of M this round: a bounce for the recipients marked
   bounced_now, a delay notice for those marked delayed_now, success
   notices for those marked in success_now, each to the recipients whose
   NOTIFY wants it. Writes new queue ids (for remote senders) into
   NEW_IDS. */
void	dlv_bounce_send(void *backends, struct dlv_msg *m,
	    const char *hostname, struct strlist *new_ids);

/* dlv_sts.c: MTA-STS (RFC 8461) as pure functions (unit-tested,
   fuzzed through fuzz_mta_sts). */
#define STS_ID_MAX	32		/* 1*32(ALPHA / DIGIT) */
#define STS_MX_MAX	32		/* mx patterns kept */
#define STS_POLICY_MAX	(64 * 1024)	/* octets of a policy file */
#define STS_MAX_AGE_MAX	31557600	/* a year (section 3.2) */

enum sts_mode {
	STS_NONE,
	STS_TESTING,
	STS_ENFORCE,
};

struct sts_policy {
	enum sts_mode	 mode;
	uint64_t	 max_age;		/* seconds */
	size_t		 nmx;
	char		 mx[STS_MX_MAX][256];	/* lower case, no final dot;
						   "*.DOMAIN" a wildcard */
};

/* The TXT record TEXT of LEN octets at _mta-sts.DOMAIN (section 3.1):
   1 an STS record, its id into ID_R; 0 not one (no "v=STSv1;"); -1 one
   that is malformed (no id, or a bad one). */
int	dlv_sts_txt(const char *text, size_t len, char id_r[STS_ID_MAX + 1]);
/* The policy file TEXT of LEN octets (section 3.2: "key: value" lines,
   CRLF or LF) into POL: 0, or -1 with *ERROR_R (static text). Unknown
   keys are ignored; version STSv1, mode and max_age are required, and
   an mx line unless the mode is none. */
int	dlv_sts_parse(const char *text, size_t len, struct sts_policy *pol,
	    const char **error_r);
/* Whether HOST (any case, a final dot allowed) matches an mx pattern of
   POL (section 4.1: "*.example.com" covers one label more). */
bool	dlv_sts_match(const struct sts_policy *pol, const char *host);
const char *dlv_sts_mode_name(enum sts_mode);

/* dlv_sts_fetch.c: MTA-STS policies fetched (TXT, then HTTPS) and kept
   in memory and below data_dir/mta-sts/, one file per domain. */
struct dlv_sts_wait;
/* The policy for a domain, or NULL when it has none (or it cannot be
   had and none is cached); borrowed for the call. */
typedef void dlv_sts_cb(const struct sts_policy *, void *arg);
/* Reads the policies saved below data_dir (DATA_FD; -1: memory only). */
void	dlv_sts_init(struct qmgr *, int data_fd);
void	dlv_sts_free(struct qmgr *);
/* Looks for DOMAIN's policy: CB once with ARG, never from inside this
   call, unless the wait is cancelled. */
struct dlv_sts_wait *dlv_sts_get(struct qmgr *, const char *domain,
	    dlv_sts_cb *cb, void *arg);
/* CB of *W will not run; *W set to NULL. */
void	dlv_sts_cancel(struct dlv_sts_wait **w);

/* dlv_tlspol.c: what TLS one MX host's connection demands, from the
   tls_policy lines, DANE (RFC 7672) and MTA-STS (RFC 8461). */
enum dlv_dane {
	DLV_DANE_NONE,		/* no TLSA records, or insecure answers */
	DLV_DANE_USABLE,	/* usable records: TLS verified by them */
	DLV_DANE_UNUSABLE,	/* records, none usable: TLS, unverified */
};
struct dlv_tlsreq {
	enum tls_level	 level;
	bool		 dane;		/* VERIFY by the TLSA records */
	bool		 sts_testing;	/* log what enforce would refuse */
	const struct sts_policy *sts;	/* testing: its patterns */
	char		 rule[300];	/* for logs: which policy decided */
};
/* The demand for HOST of destination DOMAIN (MX routing when MX is
   true) under CFG, with DOMAIN's MTA-STS policy STS (NULL: none) and
   HOST's DANE state: 1 with *REQ filled, 0 when HOST may not be used
   (*WHY_R: it is not in the enforced MTA-STS policy). An explicit
   tls_policy line wins; else DANE, then MTA-STS enforce, each at least
   tls_policy_default. */
int	dlv_tls_decide(const struct config *cfg, const char *domain, bool mx,
	    const struct sts_policy *sts, const char *host, enum dlv_dane,
	    struct dlv_tlsreq *req, const char **why_r);
/* The DANE state of TLSA records (RFC 7672 3.1: DANE-TA(2), DANE-EE(3);
   selectors 0, 1; matching 0, 1, 2 of the right lengths). */
enum dlv_dane dlv_dane_state(const struct dns_tlsa *, size_t n);
/* Sets SSL up for REQ towards HOST: SNI, the verification (chain and
   name, or the usable TLSA records). 0, or -1 (out of memory, DANE not
   available). */
int	dlv_tls_setup(SSL *ssl, const char *host, const struct dlv_tlsreq *req,
	    const struct dns_tlsa *tlsa, size_t ntlsa);

#endif
