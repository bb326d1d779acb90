/*
 * imap_int.h - what the files of src/imap share. Not for outside use.
 *
 *   imap_session.c  the session: states, reading commands with their
 *                   literals, the command table, replies, life
 *   imap_auth.c     not-authenticated state: CAPABILITY, STARTTLS,
 *                   LOGIN, AUTHENTICATE, and the relay a login opens
 *   imap_job.c      the mailbox work on the io pool, and the untagged
 *                   responses that tell a session what changed
 *   imap_mbox.c     folders: SELECT, LIST, STATUS, CREATE ..., APPEND,
 *                   EXPUNGE, CLOSE, IDLE
 *   imap_fetch.c    FETCH
 *   imap_msg.c      STORE, COPY, MOVE, SEARCH
 *   imap_binary.c   base64 and quoted-printable decoding for BINARY[]
 *   imap_parse*.c   the command grammar (imap_parse.h), pure
 *   imap_body.c     ENVELOPE and BODYSTRUCTURE from a MIME tree
 */
#ifndef POPGATE_IMAP_INT_H
#define POPGATE_IMAP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conn.h"
#include "core/session.h"
#include "imap/imap.h"
#include "imap/imap_parse.h"
#include "mailbox/mailbox.h"
#include "policy/policy.h"
#include "util/buf.h"

#define IMAP_SASL_MAX		12288	/* an AUTHENTICATE response line */
#define IMAP_INPUT_MAX		(64 * 1024)	/* read watermark */
#define IMAP_OUTPUT_MAX		(256 * 1024)	/* stop reading above */
#define IMAP_JOB_OUT_MAX	(1024 * 1024)	/* a job's output, then MORE */
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

/* What a command's work on a worker needs of the session: moved into
   the job while it runs (so a session that goes meanwhile frees nothing
   a worker still uses) and back when it is done. */
struct imap_box {
	struct mailbox_user	*user;		/* after the login */
	struct mailbox_view	*view;		/* while selected */
	bool			 readonly;	/* EXAMINE */
	char			 selected[MAILBOX_NAME_MAX + 1];
	struct imap_parser	*parser;	/* holds CMD's strings */
	struct imap_cmd		 cmd;
	unsigned		 enabled;	/* IMAP_EN_* */
	uint64_t		 quota;		/* octets, 0 none */
	/* SEARCH RETURN (SAVE): the "$" of later commands (UIDs) */
	uint32_t		*saved;
	size_t			 nsaved;
};

struct imap_job;
typedef void imap_work_fn(struct imap_job *, struct backends *);

/* A command's work on the io pool: it writes its untagged and tagged
   lines into OUT; done() sends them. MORE: the work stopped at a
   bound (a long FETCH) and goes on once the client has read. */
struct imap_job {
	struct imap_session	*s;
	struct imap_box		 box;
	imap_work_fn		*work;
	struct buf		 out;
	char			 tag[64];
	bool			 more;
	uint64_t		 pos;		/* where MORE goes on */
	void			*arg;		/* the command's own state */
	void			(*arg_free)(void *);
	/* out: for the loop */
	int			 state;		/* -1: unchanged */
	bool			 bye;		/* close after OUT */
	bool			 cte_unknown;	/* FETCH BINARY: NO [UNKNOWN-CTE] */
	const char		*log_why;	/* an error worth a log line */
	char			 log_text[256];
};

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
	/* AUTHENTICATE */
	char			 tag[64];	/* of the command waiting */
	char			 sasl_mech;	/* 'P' PLAIN, 'L' LOGIN */
	char			*sasl_user;	/* LOGIN step 1 (ADDR_BUFSZ), or
						   NULL: most sessions never */
	unsigned		 auth_failures;
	/* after the login */
	char			 user[ADDR_BUFSZ];	/* the mailbox address */
	char			 customer[STORE_NAME_MAX + 1];
	struct imap_box		 box;		/* NULLs while a job has it */
	struct imap_job		*pending;	/* a MORE job waiting for the
						   client to read */
	struct event		*idle_timer;	/* IDLE: polls the folder */
	bool			 idle_sync;	/* a poll said: sync */
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

/* imap_job.c */
/* Runs WORK for the running command on the io pool with the session's
   box; ARG (freed with ARG_FREE) is the command's own state. */
void	imap_job_submit(struct imap_session *, imap_work_fn *work, void *arg,
	    void (*arg_free)(void *));
/* The output hook's part: a MORE job goes on once OUT has room. */
enum session_input imap_job_output(struct imap_session *,
	    struct evbuffer *out);
void	imap_job_cancel_pending(struct imap_session *);
/* Whether J->OUT has reached the bound where a long job stops. */
bool	imap_job_full(const struct imap_job *);
/* "1:3,7" of the N ascending UIDS U. */
void	imap_put_uidset(struct buf *, const uint32_t *u, size_t n);
/* Tagged lines into J->OUT. */
void	imap_job_ok(struct imap_job *, const char *fmt, ...) PRINTFLIKE(2, 3);
void	imap_job_no(struct imap_job *, const char *fmt, ...) PRINTFLIKE(2, 3);
void	imap_job_bad(struct imap_job *, const char *fmt, ...)
	    PRINTFLIKE(2, 3);
/* NO for a mailbox error: its response code and text. */
void	imap_job_err(struct imap_job *, const struct mailbox_err *);
/* Reports to the selected view what changed (EXISTS, EXPUNGE unless
   EXPUNGES is false, FETCH FLAGS, VANISHED under QRESYNC). */
void	imap_job_changes(struct imap_job *, bool expunges);
/* "* FLAGS (...)" (PERMANENT false) or "* OK [PERMANENTFLAGS (...)]" of
   the selected view. */
void	imap_put_permanent(struct imap_job *,
	    const struct mailbox_view_info *, bool permanent);
/* "(\Seen \Flagged kw ...)" of message M into OUT. */
void	imap_put_flags(struct imap_job *, const struct mailbox_msg *m,
	    struct buf *out);
/* The folder name of the command (UTF-8) from NAME, as the client sent
   it (modified UTF-7 before IMAP4rev2 is enabled); false after NO. */
bool	imap_job_name(struct imap_job *, const struct imap_mailbox *name,
	    char out[MAILBOX_NAME_MAX + 1]);
/* Appends the folder name NAME as the client wants it (UTF-8 quoted or
   modified UTF-7). */
void	imap_put_name(struct imap_job *, const char *name, struct buf *out);
/* "* VANISHED (EARLIER) ..." of the UIDs expunged since MODSEQ that
   KNOWN (NULL or empty: any) holds (RFC 7162 3.2.5.2, 3.2.6). */
void	imap_job_vanished_earlier(struct imap_job *, uint64_t modseq,
	    const struct imap_seqset *known);
/* Whether SET names only messages there are (message numbers; UIDs and
   "$" always do); "N:*" on an empty mailbox is no error. */
bool	imap_job_seq_ok(struct imap_job *, const struct imap_seqset *set,
	    bool uid, uint32_t exists);
/* The UIDs of SET (message numbers unless UID) in the view, ascending;
   *N_R their number. NULL with N 0 when none. */
uint32_t *imap_job_uids(struct imap_job *, const struct imap_seqset *set,
	    bool uid, size_t *n_r);

/* imap_mbox.c, imap_fetch.c, imap_msg.c: the handlers */
void	imap_cmd_select(struct imap_session *);
void	imap_cmd_create(struct imap_session *);
void	imap_cmd_delete(struct imap_session *);
void	imap_cmd_rename(struct imap_session *);
void	imap_cmd_subscribe(struct imap_session *);
void	imap_cmd_list(struct imap_session *);
void	imap_cmd_status(struct imap_session *);
void	imap_cmd_append(struct imap_session *);
void	imap_cmd_getquota(struct imap_session *);
void	imap_cmd_check(struct imap_session *);
void	imap_cmd_close(struct imap_session *);
void	imap_cmd_expunge(struct imap_session *);
void	imap_cmd_idle(struct imap_session *);
void	imap_idle_line(struct imap_session *, const char *, size_t);
void	imap_cmd_fetch(struct imap_session *);
void	imap_cmd_store(struct imap_session *);
void	imap_cmd_copy(struct imap_session *);
void	imap_cmd_search(struct imap_session *);
/* At login: opens the user's folders (on a worker). */
struct mailbox_user *imap_open_user(struct backends *, const char *path,
	    const char *hostname, struct mailbox_err *);
/* Frees the box's handles (on any thread: they are thread-safe). */
void	imap_box_free(struct imap_box *);

/* imap_binary.c: content transfer decoding (RFC 3516 BINARY). */
enum imap_cte {
	IMAP_CTE_IDENTITY,	/* 7bit, 8bit, binary, none */
	IMAP_CTE_BASE64,
	IMAP_CTE_QP,
	IMAP_CTE_UNKNOWN,	/* NO [UNKNOWN-CTE] */
};
struct imap_decoder {
	enum imap_cte	 cte;
	unsigned	 bits;
	int		 nbits;
	bool		 done;		/* base64 padding seen */
	char		 qp[2];		/* "=" and a hex digit pending */
	int		 qplen;
};
enum imap_cte imap_cte_of(const char *encoding);
void	imap_decode_init(struct imap_decoder *, enum imap_cte);
/* Decodes N stored octets at P (LF line ends) onto OUT; the identity
   encoding and quoted-printable line breaks become CRLF. 0, or -1 when
   OUT is full. */
int	imap_decode(struct imap_decoder *, const char *p, size_t n,
	    struct buf *out);
int	imap_decode_end(struct imap_decoder *, struct buf *out);

/* imap_auth.c: the not-authenticated state */
void	imap_cmd_starttls(struct imap_session *);
void	imap_cmd_login(struct imap_session *);
void	imap_cmd_authenticate(struct imap_session *);
/* A line in IS_SASL: the client's response to "+ ". */
void	imap_sasl_response(struct imap_session *, const char *, size_t);
/* Wipes and frees the user name of an AUTHENTICATE LOGIN. */
void	imap_sasl_forget(struct imap_session *);

#endif
