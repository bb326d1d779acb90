/*
 * smtp_int.h - what the files of src/smtp share. Not for outside use.
 */
#ifndef POPGATE_SMTP_INT_H
#define POPGATE_SMTP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conn.h"
#include "core/dns.h"
#include "core/ids.h"
#include "core/reply.h"
#include "core/session.h"
#include "milter/milter.h"
#include "policy/policy.h"
#include "smtp/smtp.h"
#include "smtp/smtp_cmd.h"
#include "util/buf.h"
#include "util/spool.h"
#include "util/str.h"

#define SMTP_LINE_MAX		512	/* command line incl. CRLF */
/* RFC 3461 section 5: MAIL may be 100 octets longer (ENVID), RCPT 500
   (ORCPT). */
#define SMTP_MAIL_LINE_MAX	(SMTP_LINE_MAX + 100)
#define SMTP_RCPT_LINE_MAX	(SMTP_LINE_MAX + 500)
#define SMTP_SASL_MAX		12288	/* AUTH responses (RFC 4954 4) */
#define SMTP_TEXT_LINE_MAX	1000	/* text line incl. CRLF */
#define SMTP_HEADER_MAX		(256 * 1024)	/* checked when relayed */
#define SMTP_INPUT_MAX		(64 * 1024)	/* read watermark */
#define SMTP_OUTPUT_MAX		(256 * 1024)	/* stop reading above */

enum smtp_state {
	SS_CONNECTED,	/* before the greeting */
	SS_HELO,	/* greeted; EHLO/HELO expected */
	SS_READY,	/* no transaction */
	SS_MAIL,	/* MAIL accepted */
	SS_RCPT,	/* at least one RCPT accepted */
	SS_DATA,	/* reading DATA */
	SS_BDAT,	/* reading a BDAT chunk */
	SS_AUTH_PLAIN,	/* AUTH PLAIN: waiting for the response */
	SS_AUTH_LOGIN_USER,	/* AUTH LOGIN: waiting for the user name */
	SS_AUTH_LOGIN_PASS,	/* AUTH LOGIN: waiting for the password */
	SS_TLS,		/* STARTTLS handshake */
	SS_CLOSING,	/* flushing the last reply */
	SS_NSTATES
};

#define ST(s)	SESSION_ST(s)

/* Body flags. */
#define TX_BARE		0x01	/* bare CR or LF seen */
#define TX_LONG		0x02	/* a line over 1000 octets */
#define TX_TOOBIG	0x04	/* over the size limit */
#define TX_8BIT		0x10	/* octets >= 0x80 seen */
#define TX_SPOOLERR	0x20	/* writing the spool failed */

/* Streaming body parser shared by DATA and BDAT. */
struct body_proc {
	bool		 dot;		/* DATA: dot-stuffing, "." ends */
	bool		 bol;		/* at the start of a line */
	bool		 pending_cr;	/* last octet was a CR */
	size_t		 line_len;	/* wire octets of this line */
};

struct smtp_tx {
	char			 id[ID_LEN + 1];
	struct smtp_mail_args	 mail;
	/* Sender, recipients, targets, grant, size limit: what the policy
	   decisions read and change (NULLed while a decision runs). */
	struct policy_tx	 pol;
	struct body_proc	 bp;
	struct spool		 body;		/* LF line ends */
	uint64_t		 size;		/* wire octets (CRLF) */
	uint64_t		 lines;
	unsigned		 flags;
	bool			 bdat;		/* BDAT used */
	bool			 bdat_last;
	uint64_t		 bdat_left;	/* octets of the chunk */
	uint64_t		 bdat_total;	/* octets of all chunks */
	/* Where the holds of pol go back when the transaction ends
	   unaccepted (smtp_tx_free). */
	struct worker_pool	*io;
	/* Content filters (smtp_milter.c): the session's chain when they
	   apply to this transaction (borrowed; ABORT when it ends), what
	   they decided and changed. */
	struct milter_chain	*milter;
	bool			 discard;	/* accept, deliver nothing */
	char			 quarantine[256];	/* "" not held */
	struct buf		 received;	/* our Received: field */
	bool			 received_in_body;	/* rewritten with it */
	struct policy_mark	 mark;		/* before the RCPT running */
	size_t			*rcpt_start;	/* per rcpt: its first
						   target */
	struct strlist		 add_rcpts, del_rcpts;
	struct policy_decision	*mdec;		/* answered after them */
	/* Mail authentication (smtp_mauth.c): the checks running, their
	   Authentication-Results field, and DMARC's quarantine. */
	struct smtp_mauth	*mauth;
	struct buf		 authres;
	bool			 junk;		/* into the Junk folders */
	uint64_t		 eod_us;	/* end of data, mono clock */
};

struct smtp_server {
	struct smtp_deps	 d;
	struct session_set	 sessions;	/* for shutdown */
};

/* What the client told us or proved: forgotten as a whole when TLS
   starts (RFC 3207 section 4.2), when smtp_session.c initialises it
   again as at connect. */
struct smtp_client {
	char			 helo[ADDR_DOMAIN_MAX + 1];
	bool			 esmtp;
	struct relay_session	 rs;		/* for the relay rules */
	char			 sasl_user[ADDR_BUFSZ];	/* AUTH LOGIN */
	char			 auth_mech[8];	/* PLAIN, LOGIN */
};

/* The SMTP session: its centre is smtp_session.c (states, commands,
   life); BASE is the protocol-independent part (core/session.h). */
struct smtp_session {
	struct session		 base;		/* first: see smtp_of() */
	struct smtp_server	*srv;
	const struct config	*cfg;
	struct conn		*conn;		/* base.conn, borrowed */
	struct smtp_client	 client;
	char			 rdns[ADDR_DOMAIN_MAX + 1];	/* "" unknown */
	struct dns_req		*dnsreq;
	struct smtp_tx		*tx;
	uint64_t		 nmsgs;
	uint64_t		 discard;	/* octets of a refused BDAT */
	enum reply_id		 discard_reply;
	unsigned		 pre_greet;	/* steps before the greeting */
	bool			 ip_authorized;	/* at connect time */
	bool			 ip_authz_failed; /* the lookup failed */
	struct smtp_dnsbl	*dnsbl;		/* the lookups running */
	bool			 dnsbl_listed;	/* at dnsbl_threshold */
	char			 dnsbl_lists[POLICY_DNSBL_LISTS_MAX];
	unsigned		 auth_failures;	/* smtp_auth.c */
	struct milter_chain	*milter;	/* NULL: no filters */
	bool			 milter_wait;	/* a filter step runs */
};

static inline struct smtp_session *
smtp_of(struct session *base)
{
	return (struct smtp_session *)(void *)base;
}

static inline void
smtp_enter_state(struct smtp_session *s, enum smtp_state st)
{
	session_enter_state(&s->base, st);
}

/* Flushes the output and closes. */
static inline void
smtp_close(struct smtp_session *s, const char *why)
{
	session_close(&s->base, why);
}

/* Resumes input processing after an async step. */
static inline void
smtp_resume(struct smtp_session *s)
{
	session_resume(&s->base);
}

/* smtp_server.c: the server, the connection's start, replies. Every
   reply of the server's own is an entry of src/core/reply.c, sent by the
   helper of its kind; the compiler checks the id and the value. */
void	smtp_reply_id(struct smtp_session *, enum reply_id);
/* A reply carrying the text VALUE (borrowed for the call). */
void	smtp_reply_text(struct smtp_session *, enum reply_text_id,
	    const char *value);
void	smtp_reply_num(struct smtp_session *, enum reply_num_id,
	    uint64_t value);
/* A negative reply caused by the client: counts towards max_errors (and
   closes the session at the limit). */
void	smtp_reply_error(struct smtp_session *, enum reply_id);
void	smtp_reply_error_text(struct smtp_session *, enum reply_text_id,
	    const char *value);
/* Reply lines as they are, LEN octets of CRLF-ended lines (a content
   filter's own reply). */
void	smtp_reply_lines(struct smtp_session *, const char *text, size_t len);
/* A reply whose code and text are data from elsewhere (a relay rule's
   verdict, policy/): FMT is a literal at the call site. */
void	smtp_reply(struct smtp_session *, int code, const char *esc,
	    const char *fmt, ...) PRINTFLIKE(4, 5);

/* One step before the greeting (reverse DNS, the relay lookup, the
   blocklists) is done; the last one greets. */
void	smtp_pre_greet_done(struct smtp_session *);

/* smtp_dnsbl.c: the DNS blocklists of an smtp listener's client (RFC
   5782), asked before the greeting. */
/* Asks every list of S's configuration about its client at once, with
   DNS; when all have answered (never from inside the call) S is marked
   and smtp_pre_greet_done(S) runs. False when there is nothing to ask
   (no lists, no resolver). */
bool	smtp_dnsbl_start(struct smtp_session *, struct dns *dns);
/* Stops lookups still running (the session ends). */
void	smtp_dnsbl_cancel(struct smtp_session *);
/* Copies the session's result into the relay session (at connect and
   again when TLS starts and the client is forgotten). */
void	smtp_dnsbl_apply(struct smtp_session *);

/* smtp_session.c: the session, its states and its commands. */
/* A session for C (owned from now on), before its greeting. */
struct smtp_session *smtp_session_new(struct smtp_server *, struct conn *c);
void	smtp_greet(struct smtp_session *);
/* Frees the transaction; hourly holds it still has are given back (on
   a worker, nobody waiting). */
void	smtp_tx_free(struct smtp_tx **);

/* The reply of a relay rule's decision D. */
void	smtp_reply_decision(struct smtp_session *,
	    const struct policy_decision *d);
/* Gives the holds of H back (moved; on a worker, nobody waiting), of
   transaction ID. */
void	smtp_release_holds_io(struct worker_pool *, const char *id,
	    struct policy_holds *h);
void	smtp_release_holds(struct smtp_tx *, struct policy_holds *h);

/* Sessions that relay get the smaller relay limits advertised. */
bool	smtp_relay_capable(const struct smtp_session *);

/* smtp_auth.c: SMTP AUTH (RFC 4954). */
void	smtp_cmd_auth(struct session *, const char *, size_t);
/* The line after "334 " in the SS_AUTH_* states. */
void	smtp_auth_response(struct session *, const char *, size_t);
/* AUTH is offered: after TLS, on submissions, or from loopback. */
bool	smtp_auth_offered(const struct smtp_session *);

/* smtp_data.c: message bodies and their delivery. */
void	smtp_cmd_data(struct session *, const char *, size_t);
void	smtp_cmd_bdat(struct session *, const char *, size_t);
/* Consumes body input in SS_DATA/SS_BDAT; false when it needs more. */
bool	smtp_data_input(struct smtp_session *);
/* DATA accepted: 354, and the body is read. */
void	smtp_data_go(struct smtp_session *);
/* The message on stable storage, and the reply. */
void	smtp_deliver(struct smtp_session *);
/* The message was read and checked: our Received: (and the
   Authentication-Results) above it, then the filters or the delivery. */
void	smtp_data_accept(struct smtp_session *);
/* The metrics of messages (smtp_server_new): shown from now on. */
void	smtp_data_metrics_register(void);
/* A message ended at the end of DATA otherwise than accepted by the
   delivery (the mail authentication or a filter refused it): REFUSED
   for a 5xx, else a 4xx. */
void	smtp_data_count_ended(bool refused);

/* smtp_mauth.c: SPF, DKIM, DMARC and ARC of mail from the internet.
   start: false when they do not apply (a customer's mail, or
   inbound_auth = no); true when they run: their end refuses the
   message or calls smtp_data_accept(). */
struct smtp_mauth;
bool	smtp_mauth_start(struct smtp_session *);
void	smtp_mauth_free(struct smtp_mauth **);

/* smtp_milter.c: the content filters in the transaction. Each returns
   false when no filter applies (the caller goes on as without), true
   when the step runs: its end replies and resumes the session. */
bool	smtp_milter_mail(struct smtp_session *,
	    const struct policy_decision *d);
bool	smtp_milter_rcpt(struct smtp_session *,
	    const struct policy_decision *d);
bool	smtp_milter_data(struct smtp_session *);
bool	smtp_milter_eom(struct smtp_session *);
/* The recipients the filters added and deleted (on a worker), then the
   delivery. */
void	smtp_milter_envelope(struct smtp_session *);
/* A message accepted and delivered to nobody: logged with WHY, 250. */
void	smtp_discarded(struct smtp_session *, const char *why);

#endif
