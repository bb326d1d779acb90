/*
 * policy.h - where mail may go: recipient resolution (hosted mailboxes,
 * aliases, postmaster) and the relay rules of SPEC section 1.
 *
 * Everything here is synchronous and runs on worker threads with the
 * thread's own backend handles (struct backends). Each decision is one
 * call (policy_check_mail, policy_check_rcpt, policy_end_of_data) that
 * the SMTP session only applies, and that the golden-file tests of
 * tests/policy and `popgate relay explain` call the same way.
 */
#ifndef POPGATE_POLICY_H
#define POPGATE_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

#include "core/addr.h"
#include "core/config.h"
#include "core/dkim.h"
#include "core/dsn.h"
#include "core/reply.h"
#include "core/srs.h"
#include "queue/queue.h"
#include "relay/relay_auth.h"
#include "store/store.h"
#include "util/spool.h"

struct login_cache;

/* What every worker thread shares: the configuration, and the cache of
   recently verified logins (NULL: every login runs crypt(3)). */
struct policy_env {
	/* A reload stores a new one (policy_env_set_config); each job
	   reads it once, before it starts (backends_refresh). */
	_Atomic(const struct config *) cfg;
	struct login_cache	*logins;
	int			 data_fd;	/* data_dir, held open */
	struct queue		*queue;		/* below it */
	/* In the network process: a new connection to popgate-lookup (a
	   socket, or -1), which then holds the store, the relay table and
	   the logins (README "Processes"). NULL: they are opened here. */
	int			(*lookup_connect)(void *);
	/* A call to it got no answer in time: it is ended (and another
	   started), so that the call does not run later. */
	void			(*lookup_broken)(void *);
	void			*lookup_arg;
	/* popgate-lookup's: a thread opens the store and the relay table
	   on first use, not at its start (a connection per thread of the
	   daemon, most of them seldom used: their descriptors would add up
	   to the daemon's limit). */
	bool			 open_lazily;
};

/* A worker thread's handles, opened on first use. Files are reached
   below DATA_FD (the store and relay table by its /proc/self/fd path,
   Maildirs by the *at calls), never from the current directory. */
struct backends {
	const struct config	*cfg;		/* backends_refresh() */
	const struct policy_env	*env;		/* NULL outside the daemon */
	struct login_cache	*logins;
	int			 data_fd;	/* borrowed from the env */
	struct queue		*queue;		/* borrowed from the env */
	struct store		*store;
	struct relay_auth	*relay;
	struct ipc_link		*link;		/* to popgate-lookup, or NULL */
	/* In popgate-lookup: a token-checked API request is in progress
	   on this connection (policy_api_serve()), so the store and the
	   relay table take changes from it. */
	bool			 api_request;
	struct errbuf		 open_error;	/* of the last failed open */
};

/* worker_init_fn / worker_fini_fn for the pools: ARG is a struct
   policy_env that outlives the pool. */
void	*backends_thread_init(void *env);
void	 backends_thread_fini(void *);
/* worker_pool_set_refresh() for those pools: the job about to run sees
   the configuration of the env as it is now. */
void	 backends_refresh(void *);
/* A reload: jobs submitted from now on see CFG. The old one must stay
   valid until the pools' worker_pool_quiesce(). */
void	 policy_env_set_config(struct policy_env *, const struct config *);
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
	/* RFC 3461, of the recipient it came from (policy_check_rcpt) */
	unsigned		notify;		/* DSN_NOTIFY_* */
	char			orcpt[DSN_ORCPT_MAX + 1];
};

#define POLICY_MAX_TARGETS	1000	/* per expanded recipient */
#define POLICY_MAX_DEPTH	10	/* alias nesting */

struct resolution {
	bool		 hosted;	/* the domain is hosted here */
	char		 customer[STORE_NAME_MAX + 1];	/* its owner */
	struct target	*v;
	size_t		 n;
};

/* Where mail for ADDRESS goes; NULL: the bare <postmaster> of RFC 5321
   section 4.5.1. Returns 1 with R->v filled (hosted and deliverable), 0
   when the domain is not hosted (R->hosted false) or nothing takes the
   mail (R->hosted true, R->n 0), -1 on a temporary failure (*ERROR_R).
   Free with resolution_free(). */
int	policy_resolve(struct backends *, const struct addr_canon *address,
	    struct resolution *r, const char **error_r);
void	resolution_free(struct resolution *);

/* ---- the MAIL, RCPT and end-of-DATA decisions: policy_check.c ---- */

/* The lists a client is listed by, as text: room for a few zones. */
#define POLICY_DNSBL_LISTS_MAX	512

/* What the session knows about itself. */
struct relay_session {
	struct netaddr		client;
	enum listen_role	role;
	bool			trusted;	/* in trusted_networks */
	bool			authenticated;	/* SMTP AUTH done */
	char			auth_mailbox[ADDR_BUFSZ];
	char			auth_customer[STORE_NAME_MAX + 1];
	/* DNS blocklists at connect (smtp listeners): whether the weights
	   of the lists that list the client reach dnsbl_threshold, and
	   those lists ("zen.example, b.example"; "" none). */
	bool			dnsbl_listed;
	char			dnsbl_lists[POLICY_DNSBL_LISTS_MAX];
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

/* Every answer a decision can give. Each has one entry in the table of
   policy_rules.c: its rule name (rule= in the logs, relay explain) and
   its reply: a relay rule's own code, enhanced code and text, or for a
   hosted recipient a generic reply of core/reply.h. */
enum policy_reason {
	POLICY_OK,
	/* the relay rules of SPEC section 1, in their order */
	POLICY_AUTHORIZED,
	POLICY_STANDING,
	POLICY_NULL_SENDER,
	POLICY_SENDER,
	POLICY_RCPT_CAP,
	POLICY_HOURLY_MESSAGES,
	POLICY_HOURLY_RECIPIENTS,
	POLICY_SIZE,
	POLICY_FROM_UNPARSEABLE,	/* end of DATA */
	POLICY_FROM_FOREIGN,
	POLICY_TEMP_RELAY,		/* the relay table failed */
	POLICY_TEMP_SENDER,		/* the store, checking the sender */
	POLICY_TEMP_FROM,		/* the store, checking From: */
	/* a client the DNS blocklists list (RFC 5782), not authorized */
	POLICY_DNSBL,
	/* recipients in hosted domains, and the inbound limits */
	POLICY_UNKNOWN_USER,
	POLICY_QUOTA,
	POLICY_TEMP_LOOKUP,		/* resolving the recipient failed */
	POLICY_TOO_MANY_RCPTS,		/* max_recipients */
	/* a recipient that is an SRS address of ours (policy_srs.c) */
	POLICY_SRS_FORGED,		/* bad hash, malformed */
	POLICY_SRS_EXPIRED,		/* older than srs_max_age */
	POLICY_SRS_NOT_BOUNCE,		/* srs_bounces_only, a sender */
	POLICY_NREASONS
};

/* A decision: the answer for the client, and what the log says. */
struct policy_decision {
	enum policy_reason	 reason;
	bool			 relayed;	/* the relay rules decided */
	int			 code;
	const char		*esc;		/* enhanced status code */
	/* The reply: a generic one of core/reply.h, with a fixed text
	   (REPLY_ID) or naming ADDR (REPLY_TEXT_ID); when neither
	   (REPLY_NREPLIES and REPLY_NTEXT), REPLY is its text. */
	enum reply_id		 reply_id;
	enum reply_text_id	 reply_text_id;
	char			 reply[ADDR_BUFSZ + 400];
	char			 text[400];	/* the rule's text (result=) */
	char			 why[400];	/* for the log */
	char			 addr[ADDR_BUFSZ];	/* the address named */
	struct relay_grant	 grant;		/* who lets it relay */
};

/* Where a decision is made (the stage label of its metrics). */
enum policy_stage {
	POLICY_STAGE_MAIL,
	POLICY_STAGE_RCPT,
	POLICY_STAGE_DATA,
};

/* The daemon, at start-up on the loop thread: the metrics of the
   decisions and logins are shown (popgate_relay_decisions_total,
   popgate_recipient_decisions_total, popgate_relay_grants_total,
   popgate_logins_total, popgate_login_duration_seconds). */
void	policy_metrics_register(void);

/* The rule name of R for logs ("authorized", "sender", "quota", ...). */
const char *policy_reason_name(enum policy_reason r);

/* Optional rule-by-rule trace (popgate relay explain). */
struct relay_trace {
	void	(*fn)(void *arg, const char *rule, int ok, const char *detail);
	void	*arg;
};

/* What a transaction holds of its customer's hourly caps (SPEC 1): each
   relaying RCPT takes its recipient, the first one the message too, at
   once (relay_rate_hold), so that parallel transactions cannot all pass
   at the last unit. An accepted message keeps its holds: they are its
   charge. Any other end of the transaction (RSET, a refused message, a
   new EHLO, a lost connection) gives them back: policy_release(). One
   entry per customer and minute of the clock. */
struct policy_hold {
	char		customer[STORE_NAME_MAX + 1];
	time_t		at;		/* when held: its minute's bucket */
	uint64_t	msgs, rcpts;
};

struct policy_holds {
	struct policy_hold	*v;
	size_t			 n;
};

/* A transaction as the decisions see it, from MAIL to the end of DATA.
   The session owns it; while a decision runs on a worker the job holds
   it (moved, not shared). */
struct policy_tx {
	char			 sender[ADDR_BUFSZ];	/* "" = <>; as given,
							   domain lower-case */
	struct addr_canon	 sender_key;	/* its canonical form */
	uint64_t		 size;		/* SIZE= of MAIL, 0 if none */
	uint64_t		 received;	/* octets already received
						   (BDAT chunks), set by the
						   session before RCPT */
	uint64_t		 max_size;	/* the message size limit */
	struct strlist		 rcpts;		/* accepted, as given */
	/* Recipients that asked NOTIFY=SUCCESS and were expanded to more
	   than one target (an alias): each gets an "expanded" notice once
	   the message is accepted (RFC 3461 section 6.2.7.3), and ORCPT
	   of each, "" if none (same index). */
	struct strlist		 expanded, expanded_orcpt;
	struct target		*targets;	/* resolved, unique */
	size_t			 ntargets;
	struct relay_grant	 grant;		/* who lets it relay */
	size_t			 nrelayed;	/* remote rcpts via grant */
	struct policy_holds	 holds;		/* of the hourly caps */
	bool			 no_holds;	/* relay explain: decide as
						   now, hold nothing */
};

/* Starts TX for the sender of MAIL (KIND ADDR_PATH_NULL: <>) declaring
   SIZE (0: none). */
void	policy_tx_init(struct policy_tx *tx, const struct config *,
	    const struct mailaddr *sender, enum addr_path_kind kind,
	    uint64_t size);
/* Frees TX. Its holds must have been given back (policy_release) or
   moved out first: what is left is only freed, and stays counted. */
void	policy_tx_free(struct policy_tx *tx);

/* What a transaction had before a recipient was added, to take it
   back when a content filter refuses the recipient after the relay
   rules took it. */
struct policy_mark {
	size_t			 rcpts, expanded, ntargets, nrelayed;
	uint64_t		 max_size;
	struct relay_grant	 grant;
	struct policy_holds	 holds;		/* a copy */
};

void	policy_tx_mark(const struct policy_tx *, struct policy_mark *);
/* Takes back what TX got since MARK (freed): the holds taken since go
   into *RELEASE, to be given back (policy_release, on a worker). */
void	policy_tx_rollback(struct policy_tx *, struct policy_mark *,
	    struct policy_holds *release);
void	policy_mark_free(struct policy_mark *);

/* Moves the holds of FROM to *TO (FROM is left with none). */
void	policy_holds_move(struct policy_holds *to, struct policy_holds *from);
void	policy_holds_free(struct policy_holds *);
/* Gives back the holds of H and empties it: the end of a transaction
   that was not accepted. 0, or -1 (*ERROR_R) when some could not be
   given back: they then count until they leave the hour. On a worker. */
int	policy_release(struct backends *, struct policy_holds *h,
	    const char **error_r);

/* Whether policy_check_mail() needs the store (the customer rules apply
   at MAIL on submission). When false it decides at once, without
   touching B, and may run on the loop thread with B NULL. */
bool	policy_mail_blocks(const struct relay_session *);
/* MAIL: on submission everything is submission, so the relay rules
   apply to the sender now (SPEC 1); on port 25 every sender is taken.
   Fills D, records the grant in TX; 1 accepted, 0 refused, -1
   temporary failure. */
int	policy_check_mail(struct backends *, const struct relay_session *,
	    struct policy_tx *tx, time_t now, const struct relay_trace *,
	    struct policy_decision *d);

/* A recipient as the SMTP parser gave it. */
struct policy_rcpt {
	struct mailaddr		addr;		/* as parsed */
	bool			postmaster;	/* the bare <postmaster> */
	unsigned		notify;		/* RFC 3461 NOTIFY, 0: none */
	char			orcpt[DSN_ORCPT_MAX + 1];	/* "" none */
};

/* RCPT: max_recipients, then the DNS blocklists (a client they list
   that is not authorized to relay by a POP3 login, SMTP AUTH or
   trusted_networks is refused every recipient), then resolution (hosted mailboxes, aliases,
   quota) or, for a domain not hosted here, the relay rules: the size
   rule by the larger of SIZE= and the octets already received
   (TX->received), then the recipient held against the hourly caps
   (TX->holds). On acceptance adds the recipient and its targets to TX
   (once: the same target twice is one) and counts a relayed one. The
   targets carry NOTIFY and ORCPT of RC (an ORCPT made of the address
   given when an alias changed it); an alias of several targets takes
   SUCCESS off them and notes the recipient in TX->expanded. Fills
   D; 1 accepted, 0 refused, -1 temporary failure. On a worker (it
   blocks on the store). */
int	policy_check_rcpt(struct backends *, const struct relay_session *,
	    struct policy_tx *tx, const struct policy_rcpt *,
	    time_t now, const struct relay_trace *, struct policy_decision *d);

/* Whether the end-of-DATA rule reads the whole header section (the
   From: rule of a relayed message). */
bool	policy_needs_headers(const struct policy_tx *);
/* Stores the message (the queue, the Maildirs): 0, or -1 when it is
   not stored (the reason kept in ARG). */
typedef int policy_store_fn(void *arg);
/* End of DATA of a message relayed NRELAYED times on grant G (0: none):
   the From: rule (SPEC 1: every address of every From: in HEADERS, LF
   line ends, belongs to the grant's customer), then STORE. Stored, the
   message keeps the HOLDS of its transaction (they are its charge of
   the hourly caps); refused or not stored, they are given back. HOLDS
   is emptied either way (NULL: none). Returns 1 when the rule let it
   pass and STORE ran; 0 refused or -1 temporary failure (D filled,
   STORE not called). *HOLD_ERROR_R: NULL, or why holds could not be
   given back. On a worker. */
int	policy_end_of_data(struct backends *, const struct relay_grant *g,
	    size_t nrelayed, struct policy_holds *holds, const char *headers,
	    size_t len, policy_store_fn *store, void *arg,
	    struct policy_decision *d, const char **hold_error_r);

/* One line for logs naming the grant. */
void	policy_grant_describe(const struct relay_grant *, char *, size_t);

/* ---- the Sender Rewriting Scheme: policy_srs.c ---- */

/* Whether A is an SRS address of ours to take back: srs on, the domain
   srs_domain, an SRS0 or SRS1 local part. */
bool	policy_srs_is_ours(const struct config *, const struct mailaddr *a);
/* The envelope sender for the remote recipients of a message from
   SENDER ("" for <>) at NOW: 1 with the SRS address in OUT when SENDER
   is rewritten; 0 with OUT "" when it goes as it is (srs off, <>, a
   hosted domain, the SRS domain; *WHY_R then NULL, or why an address
   that should have been rewritten could not be: too long, a quoted
   local part); -1 on a temporary failure of the store (*ERROR_R). The
   first secret is made here when the store has none. On a worker. */
int	policy_srs_forward(struct backends *, const char *sender, time_t now,
	    char out[ADDR_BUFSZ], const char **why_r, const char **error_r);
/* Takes back the SRS address A (policy_srs_is_ours) at NOW: 1 with the
   address it stands for (the original sender, or for SRS1 the SRS0
   address at the first forwarder) in OUT as it was given, the domain
   lower-case, and in *ORIG canonical (for a hosted one); 0 refused,
   *ST_R says why (SRS_BAD_HASH, SRS_EXPIRED, SRS_MALFORMED); -1 a
   temporary failure of the store (*ERROR_R). On a worker. */
int	policy_srs_reverse(struct backends *, const struct mailaddr *a,
	    time_t now, char out[ADDR_BUFSZ], struct addr_canon *orig,
	    enum srs_status *st_r, const char **error_r);
/* The secrets of store S into *SEC: 1, 0 none (made first when MAKE,
   then 1), -1 (*ERROR_R). */
int	policy_srs_secrets(struct store *s, bool make,
	    struct store_srs_secrets *sec, const char **error_r);
/* A new random secret (32 base64 characters) into OUT: 0 or -1. */
int	policy_srs_make_secret(char *out, size_t outsz);

/* ---- logins (POP3, SMTP AUTH): policy_auth.c ---- */

struct login {
	/* in: login_init() */
	char		user[ADDR_BUFSZ];
	char		pass[PASSWD_MAX + 1];	/* wiped after use */
	struct netaddr	client;
	char		listener[32];
	uint64_t	started_us;	/* the last response, clock_mono_us() */
	/* out */
	int		result;		/* 1 ok, 0 refused, -1 temporary */
	struct store_mailbox mbox;
	bool		relay_opened;
	const char	*relay_note;	/* why not opened, or NULL */
	char		relay_note_buf[64];	/* popgate-lookup's note */
	char		error[256];
	/* popgate-lookup's grant for the relay record of this login
	   (policy_record_relay()), 0 for none */
	uint64_t	grant;
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

/* Starts L: a login of USER with PASS from CLIENT on LISTENER (a role
   name). Call it once the client's last response, the one that carries
   the password, has been read: a failure is answered a fixed time after
   it (auth_failure_wait()), however long the client took before. */
void	login_init(struct login *, const char *user, const char *pass,
	    const struct netaddr *client, const char *listener);
/* Verifies the login (store lookup, then the login cache or crypt(3));
   fills L->mbox on success. On a worker thread. */
void	policy_login(struct backends *, struct login *);
/* The check itself, without the webhook and the metrics (what
   popgate-lookup runs for a LOGIN_CHECK). */
void	policy_verify_login(struct backends *, struct login *);
/* Message types of the login check in popgate-lookup (policy_remote.c):
   LOGIN_CHECK (user, password, client, listener) and LOGIN_RESULT (the
   result, the mailbox without its hash, the error). */
enum login_msg {
	LOGIN_CHECK = 301,
	LOGIN_RESULT,
	LOGIN_RELAY,		/* u64 grant: record the relay of that login */
	LOGIN_RELAYED,		/* u32 opened, text note */
	API_BEGIN,		/* text token digest */
	API_BEGUN,		/* u32 result, the token (no digest), error */
	API_END,		/* (no answer) */
	DKIM_SIGN,		/* texts domain, selector, u32 alg, digest */
	DKIM_SIGNED,		/* u32 result, bytes signature, text error */
	POLICY_MSG_LAST = DKIM_SIGNED,
};
/* The network process's side: L checked by popgate-lookup over B's link. */
void	policy_login_remote(struct backends *, struct login *);
/* The relay record of the login L (its grant) by popgate-lookup. */
void	policy_record_relay_remote(struct backends *, struct login *);
/* popgate-lookup's side: answers M (a LOGIN_, API_ or DKIM_ type) on
   SOCK. 0, or -1 when M is malformed or the answer could not be sent. */
int	policy_lookup_serve(struct backends *, const struct ipc_msg *m,
	    int sock);

/* An API request with the bearer token whose SHA-256 (hex) is HASH:
   its token into *T when it is valid (1), 0 for none or an expired
   one, -1 (*ERROR_R). Through popgate-lookup, the store takes changes
   from B's connection until policy_api_end(). */
int	policy_api_begin(struct backends *, const char *hash,
	    struct store_token *t, const char **error_r);
void	policy_api_end(struct backends *);
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
/* The failed login L: counts it against its client, and says how long
   to wait before answering so that the answer comes DELAY seconds after
   L's last response whatever failed (an unknown user, a wrong password
   against any kind of hash, a throttled address) and however long the
   check took. The one place of that delay for every protocol. */
void	auth_failure_wait(struct auth_throttle *, const struct login *,
	    uint64_t delay, struct timeval *wait_r);
struct conn;
/* The start of every login (SMTP AUTH, POP3, IMAP): login_init() of L
   for USER and PASS from connection C, then the throttle. True when C's
   address is throttled: logged "sess=ID EVENT user=... client=..."
   (EVENT "pop3 login-throttled", say); the caller then answers a
   failure without checking the password, so a correct one gets the
   same. */
bool	policy_login_begin(struct login *l, struct auth_throttle *,
	    const struct conn *c, const char *event, const char *user,
	    const char *pass);

/* ---- DKIM signing: policy_dkim.c ---- */

/* DKIM-Signature fields for a message whose From: is in DOMAIN, signed
   with DOMAIN's active keys of the store, onto OUT (LF line ends, to go
   above the message). The message is SPOOL's content, then DATA (either
   may be NULL). Through popgate-lookup (B's link) it signs the digests
   (DKIM_SIGN), once per key. 1 signed, 0 DOMAIN has no key, -1 with
   WHY. */
int	policy_dkim_sign(struct backends *, const char *domain,
	    const struct spool *spool, const void *data, size_t len,
	    struct buf *out, char why[DKIM_ERROR_MAX]);
/* The domain of the first address of the first From: field of the
   header section HEADERS (LF line ends) into DOMAIN: 0, or -1. */
int	policy_from_domain(const char *headers, size_t len, char *domain,
	    size_t domainsz);

#endif
