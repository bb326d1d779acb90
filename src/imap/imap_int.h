/*
 * imap_int.h - what the files of src/imap share. Not for outside use.
 *
 *   imap_session.c  the session: states, reading commands with their
 *                   literals, the command table, replies, life
 *   imap_auth.c     not-authenticated state: CAPABILITY, STARTTLS,
 *                   LOGIN, AUTHENTICATE, and the relay a login opens
 *   imap_parse*.c   the command grammar (imap_parse.h), pure
 */
#ifndef POPGATE_IMAP_INT_H
#define POPGATE_IMAP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conn.h"
#include "core/session.h"
#include "imap/imap.h"
#include "imap/imap_parse.h"
#include "policy/policy.h"
#include "util/buf.h"

#define IMAP_SASL_MAX		12288	/* an AUTHENTICATE response line */
#define IMAP_INPUT_MAX		(64 * 1024)	/* read watermark */
#define IMAP_OUTPUT_MAX		(256 * 1024)	/* stop reading above */
#define IMAP_MAX_AUTH_FAILURES	3	/* per session, then BYE */
/* A literal of a command other than APPEND (a LOGIN password, a search
   string): commands stay small. */
#define IMAP_LITERAL_MAX	(64 * 1024)

enum imap_state {
	IS_NOTAUTH,
	IS_AUTH,
	IS_SELECTED,
	IS_SASL,	/* AUTHENTICATE: waiting for a response line */
	IS_IDLE,	/* IDLE: waiting for DONE */
	IS_TLS,		/* STARTTLS handshake */
	IS_CLOSING,
	IS_NSTATES
};

#define IST(s)	SESSION_ST(s)

struct imap_server {
	struct imap_deps	 d;
	struct session_set	 sessions;
	/* the skeleton's command table, from the parser's */
	struct session_cmd	 cmds[IMAP_CMD_COUNT];
};

/* What ENABLE switched on (RFC 5161). */
#define IMAP_EN_REV2		0x01u
#define IMAP_EN_CONDSTORE	0x02u
#define IMAP_EN_QRESYNC		0x04u
#define IMAP_EN_UTF8		0x08u

/* The IMAP session: its centre is imap_session.c; BASE is the
   protocol-independent part (core/session.h). */
struct imap_session {
	struct session		 base;		/* first: see imap_of() */
	struct imap_server	*srv;
	const struct config	*cfg;
	struct conn		*conn;		/* base.conn, borrowed */
	/* the command being read: its lines and literals */
	struct buf		 cmdbuf;
	bool			 in_cmd;	/* a literal came: more lines */
	uint64_t		 lit_left;	/* octets of the literal to read */
	struct imap_parser	*parser;
	struct imap_cmd		 cmd;		/* the command running */
	/* AUTHENTICATE */
	char			 tag[64];	/* of the command waiting */
	char			 sasl_mech;	/* 'P' PLAIN, 'L' LOGIN */
	char			 sasl_user[ADDR_BUFSZ];	/* LOGIN, step 1 */
	unsigned		 auth_failures;
	/* after the login */
	char			 user[ADDR_BUFSZ];	/* the mailbox address */
	char			 customer[STORE_NAME_MAX + 1];
	char			 path[1024];	/* its Maildir */
	unsigned		 enabled;	/* IMAP_EN_* */
};

static inline struct imap_session *
imap_of(struct session *base)
{
	return (struct imap_session *)(void *)base;
}

static inline void
imap_enter_state(struct imap_session *s, enum imap_state st)
{
	session_enter_state(&s->base, st);
}

static inline void
imap_resume(struct imap_session *s)
{
	session_resume(&s->base);
}

/* imap_session.c */
/* Writes one response line (CRLF added). */
void	imap_send(struct imap_session *, const char *fmt, ...)
	    PRINTFLIKE(2, 3);
/* "TAG OK|NO|BAD TEXT" for the running command (its tag, else S->TAG
   for a continued AUTHENTICATE). BAD and NO caused by the client count
   towards max_errors (imap_bad always, imap_no when COUNT). */
void	imap_ok(struct imap_session *, const char *fmt, ...)
	    PRINTFLIKE(2, 3);
void	imap_no(struct imap_session *, bool count, const char *fmt, ...)
	    PRINTFLIKE(3, 4);
void	imap_bad(struct imap_session *, const char *fmt, ...)
	    PRINTFLIKE(2, 3);
/* The tag of the running command, as a C string (S->TAG). */
const char *imap_tag(struct imap_session *);
bool	imap_plaintext_ok(const struct imap_session *);
/* The CAPABILITY list for the current state, without "* CAPABILITY ". */
void	imap_capabilities(const struct imap_session *, struct buf *);
void	imap_close(struct imap_session *, const char *why);

/* imap_auth.c: the not-authenticated state */
void	imap_cmd_starttls(struct imap_session *);
void	imap_cmd_login(struct imap_session *);
void	imap_cmd_authenticate(struct imap_session *);
/* A line in IS_SASL: the client's response to "+ ". */
void	imap_sasl_response(struct imap_session *, const char *, size_t);

#endif
