/*
 * smtp_int.h - what the files of src/smtp share. Not for outside use.
 */
#ifndef POPGATE_SMTP_INT_H
#define POPGATE_SMTP_INT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include "core/conn.h"
#include "core/dns.h"
#include "core/ids.h"
#include "core/life.h"
#include "core/linereader.h"
#include "core/reply.h"
#include "policy/policy.h"
#include "smtp/smtp.h"
#include "smtp/smtp_cmd.h"
#include "util/buf.h"
#include "util/spool.h"
#include "util/str.h"

#define SMTP_LINE_MAX		512	/* command line incl. CRLF */
#define SMTP_SASL_MAX		12288	/* AUTH responses (RFC 4954 4) */
#define SMTP_TEXT_LINE_MAX	1000	/* text line incl. CRLF */
#define SMTP_HEADER_MAX		(256 * 1024)
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
	SS_TLS,		/* STARTTLS handshake */
	SS_CLOSING,	/* flushing the last reply */
	SS_NSTATES
};

#define ST(s)	(1u << (s))

/* Body flags. */
#define TX_BARE		0x01	/* bare CR or LF seen */
#define TX_LONG		0x02	/* a line over 1000 octets */
#define TX_TOOBIG	0x04	/* over the size limit */
#define TX_HDRBIG	0x08	/* header section over SMTP_HEADER_MAX */
#define TX_8BIT		0x10	/* octets >= 0x80 seen */
#define TX_SPOOLERR	0x20	/* writing the spool failed */

/* Streaming body parser shared by DATA and BDAT. */
struct body_proc {
	bool		 dot;		/* DATA: dot-stuffing, "." ends */
	bool		 bol;		/* at the start of a line */
	bool		 pending_cr;	/* last octet was a CR */
	bool		 in_headers;
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
	struct buf		 headers;	/* header section, LF */
	uint64_t		 size;		/* wire octets (CRLF) */
	uint64_t		 lines;
	unsigned		 flags;
	bool			 bdat;		/* BDAT used */
	bool			 bdat_last;
	uint64_t		 bdat_left;	/* octets of the chunk */
	uint64_t		 bdat_total;	/* octets of all chunks */
};

struct smtp_server {
	struct smtp_deps	 d;
	LIST_HEAD(, smtp_session) sessions;	/* for shutdown */
	uint64_t		 nsessions;
	char			 tmpdir[16];	/* spool files */
};

struct smtp_session {
	struct smtp_server	*srv;
	const struct config	*cfg;
	struct conn		*conn;
	enum smtp_state		 state;
	struct linereader	 lr;
	struct buf		 line;
	char			 helo[ADDR_DOMAIN_MAX + 1];
	char			 rdns[ADDR_DOMAIN_MAX + 1];	/* "" unknown */
	bool			 esmtp;
	bool			 busy;		/* an async step runs */
	struct worker_job	*job;
	struct dns_req		*dnsreq;
	struct life		 life;		/* resume, close, free */
	struct smtp_tx		*tx;
	unsigned		 errors;
	uint64_t		 nmsgs;
	uint64_t		 discard;	/* octets of a refused BDAT */
	enum reply_id		 discard_reply;
	unsigned		 pre_greet;	/* steps before the greeting */
	struct relay_session	 rs;		/* for the relay rules */
	bool			 ip_authorized;	/* at connect time */
	bool			 ip_authz_failed; /* the lookup failed */
	/* AUTH (smtp_auth.c) */
	enum { SASL_NONE, SASL_PLAIN, SASL_LOGIN_USER, SASL_LOGIN_PASS }
				 sasl;
	char			 sasl_user[ADDR_BUFSZ];
	unsigned		 auth_failures;
	struct event		*ev_delay;
	uint64_t		 auth_started_ms;
	LIST_ENTRY(smtp_session) entry;	/* in the server's sessions */
};

/* smtp_server.c: output and session life. */
void	smtp_reply(struct smtp_session *, int code, const char *esc,
	    const char *fmt, ...) PRINTFLIKE(4, 5);
void	smtp_reply_id(struct smtp_session *, enum reply_id, ...);
/* A negative reply caused by the client: counts towards max_errors. */
void	smtp_reply_error(struct smtp_session *, enum reply_id, ...);
void	smtp_enter_state(struct smtp_session *, enum smtp_state);
/* Flushes the output and closes. */
void	smtp_close(struct smtp_session *, const char *why);
/* Puts TLS over the connection after "220 Ready to start TLS". */
void	smtp_starttls_begin(struct smtp_session *);
/* Resumes input processing after an async step. */
void	smtp_resume(struct smtp_session *);
void	smtp_process(struct smtp_session *);
const char *smtp_state_name(enum smtp_state);

/* smtp_session.c: the command handlers. */
struct smtp_cmd {
	const char	*name;
	enum smtp_verb	 verb;
	void		(*fn)(struct smtp_session *, const char *arg,
			    size_t arglen);
	unsigned	 states;	/* ST(...) where it is allowed */
	unsigned	 flags;
};
#define CMD_LAST	0x01	/* must be last in a pipelined group */
#define CMD_NOARG	0x02	/* takes no argument */

extern const struct smtp_cmd smtp_cmds[];
const struct smtp_cmd *smtp_cmd_find(enum smtp_verb);
/* The 503 text for VERB in STATE. */
enum reply_id smtp_sequence_error(const struct smtp_session *,
	    enum smtp_verb);
void	smtp_greet(struct smtp_session *);
void	smtp_tx_free(struct smtp_tx **);

/* Sessions that relay get the smaller relay limits advertised. */
bool	smtp_relay_capable(const struct smtp_session *);

/* smtp_auth.c: SMTP AUTH (RFC 4954). */
void	smtp_cmd_auth(struct smtp_session *, const char *, size_t);
/* The line after "334 " while an AUTH exchange is running. */
void	smtp_auth_response(struct smtp_session *, const char *, size_t);
/* AUTH is offered: after TLS, on submissions, or from loopback. */
bool	smtp_auth_offered(const struct smtp_session *);

/* smtp_data.c: message bodies and their delivery. */
void	smtp_cmd_data(struct smtp_session *, const char *, size_t);
void	smtp_cmd_bdat(struct smtp_session *, const char *, size_t);
/* Consumes body input in SS_DATA/SS_BDAT; false when it needs more. */
bool	smtp_data_input(struct smtp_session *);

#endif
