/*
 * pop3_int.h - what the files of src/pop3 share. Not for outside use.
 */
#ifndef POPGATE_POP3_INT_H
#define POPGATE_POP3_INT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include "core/conn.h"
#include "core/life.h"
#include "core/linereader.h"
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
	PS_TRANSACTION,
	PS_UPDATE,	/* QUIT: deleting */
	PS_TLS,		/* STLS handshake */
	PS_CLOSING,
	PS_NSTATES
};

#define PST(s)	(1u << (s))

struct pop3_server {
	struct pop3_deps	 d;
	LIST_HEAD(, pop3_session) sessions;
	struct hmap		*locks;		/* mailbox -> session */
};

struct pop3_session {
	struct pop3_server	*srv;
	const struct config	*cfg;
	struct conn		*conn;
	enum pop3_state		 state;
	struct linereader	 lr;
	struct buf		 line;
	bool			 busy;		/* async step running */
	struct life		 life;		/* resume, close, free */
	struct worker_job	*job;
	struct event		*ev_delay;	/* failed-login delay */
	char			 user[ADDR_BUFSZ];	/* after USER */
	bool			 sasl_pending;	/* waiting for AUTH data */
	unsigned		 auth_failures;
	unsigned		 errors;
	char			 mailbox[ADDR_BUFSZ];	/* locked */
	struct maildrop		 drop;
	bool			 streaming;
	struct pop3_stream	 stream;
	size_t			 list_next;	/* LIST/UIDL continuation */
	bool			 list_uidl;
	uint64_t		 retrieved, deleted;
	LIST_ENTRY(pop3_session) entry;	/* in the server's sessions */
};

/* pop3_session.c */
void	pop3_reply(struct pop3_session *, const char *fmt, ...)
	    PRINTFLIKE(2, 3);
/* A "-ERR" caused by the client: counts towards max_errors. */
void	pop3_error(struct pop3_session *, const char *fmt, ...)
	    PRINTFLIKE(2, 3);
void	pop3_enter_state(struct pop3_session *, enum pop3_state);
void	pop3_close(struct pop3_session *, const char *why);
void	pop3_resume(struct pop3_session *);
void	pop3_starttls_begin(struct pop3_session *);
bool	pop3_plaintext_ok(const struct pop3_session *);

/* pop3_auth.c: AUTHORIZATION state. */
void	pop3_cmd_capa(struct pop3_session *, const char *, size_t);
void	pop3_cmd_user(struct pop3_session *, const char *, size_t);
void	pop3_cmd_pass(struct pop3_session *, const char *, size_t);
void	pop3_cmd_auth(struct pop3_session *, const char *, size_t);
void	pop3_cmd_stls(struct pop3_session *, const char *, size_t);
/* The SASL response line after "+ ". */
void	pop3_sasl_response(struct pop3_session *, const char *, size_t);
void	pop3_unlock(struct pop3_session *);

#endif
