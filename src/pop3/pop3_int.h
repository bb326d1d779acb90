/*
 * pop3_int.h - what the files of src/pop3 share. Not for outside use.
 */
#ifndef POPGATE_POP3_INT_H
#define POPGATE_POP3_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conn.h"
#include "core/session.h"
#include "policy/policy.h"
#include "pop3/pop3.h"
#include "pop3/pop3_maildrop.h"
#include "util/buf.h"

#define POP3_LINE_MAX	255	/* RFC 2449: command lines incl. CRLF */
#define POP3_SASL_MAX	2048	/* AUTH responses (RFC 5034) */
#define POP3_INPUT_MAX	(16 * 1024)
#define POP3_OUTPUT_MAX	(256 * 1024)
#define POP3_MAX_AUTH_FAILURES 3	/* per session, then close */

enum pop3_state {
	PS_AUTHORIZATION,
	PS_AUTH_PLAIN,	/* AUTH PLAIN: waiting for the response */
	PS_TRANSACTION,
	PS_UPDATE,	/* QUIT: deleting */
	PS_TLS,		/* STLS handshake */
	PS_CLOSING,
	PS_NSTATES
};

#define PST(s)	SESSION_ST(s)

struct pop3_server {
	struct pop3_deps	 d;
	struct session_set	 sessions;
	struct hmap		*locks;		/* mailbox -> session */
};

/* The POP3 session: its centre is pop3_session.c (states, commands,
   life); BASE is the protocol-independent part (core/session.h). */
struct pop3_session {
	struct session		 base;		/* first: see pop3_of() */
	struct pop3_server	*srv;
	const struct config	*cfg;
	struct conn		*conn;		/* base.conn, borrowed */
	char			 user[ADDR_BUFSZ];	/* after USER */
	unsigned		 auth_failures;
	char			 mailbox[ADDR_BUFSZ];	/* locked */
	struct maildrop		 drop;
	bool			 streaming;
	struct pop3_stream	 stream;
	size_t			 list_next;	/* LIST/UIDL continuation */
	bool			 list_uidl;
	uint64_t		 retrieved, deleted;
};

static inline struct pop3_session *
pop3_of(struct session *base)
{
	return (struct pop3_session *)(void *)base;
}

static inline void
pop3_enter_state(struct pop3_session *s, enum pop3_state st)
{
	session_enter_state(&s->base, st);
}

/* Flushes the output and closes. */
static inline void
pop3_close(struct pop3_session *s, const char *why)
{
	session_close(&s->base, why);
}

/* Goes on with the input after an async step. */
static inline void
pop3_resume(struct pop3_session *s)
{
	session_resume(&s->base);
}

/* pop3_session.c */
void	pop3_reply(struct pop3_session *, const char *fmt, ...)
	    PRINTFLIKE(2, 3);
/* A "-ERR" caused by the client: counts towards max_errors. */
void	pop3_error(struct pop3_session *, const char *fmt, ...)
	    PRINTFLIKE(2, 3);
bool	pop3_plaintext_ok(const struct pop3_session *);

/* pop3_auth.c: AUTHORIZATION state. */
void	pop3_cmd_capa(struct session *, const char *, size_t);
void	pop3_cmd_user(struct session *, const char *, size_t);
void	pop3_cmd_pass(struct session *, const char *, size_t);
void	pop3_cmd_auth(struct session *, const char *, size_t);
void	pop3_cmd_stls(struct session *, const char *, size_t);
/* The SASL response line after "+ " (PS_AUTH_PLAIN). */
void	pop3_sasl_response(struct session *, const char *, size_t);
void	pop3_unlock(struct pop3_session *);

#endif
