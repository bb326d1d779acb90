/*
 * session.h - the one skeleton of a line-based protocol session (SMTP,
 * POP3, and IMAP next) on its connection (STYLE.md section 3).
 *
 * The skeleton owns what every protocol does the same way: accepting
 * the connection, the TLS upgrade (STARTTLS/STLS; implicit TLS is the
 * listener's), the input loop with the bounded line reader, pipelining
 * (lines run until one starts an async step; session_resume() goes on),
 * output back-pressure (no reading above the output high-water mark,
 * reading again once the client has read), the idle timeout, the cap on
 * client errors, the command table with its state and argument rules,
 * closing after the last reply, and the deferred free (core/life.h).
 *
 * A protocol embeds struct session as the first member of its session,
 * describes itself in a struct session_proto (its states, limits,
 * command table and hooks), and gets its session from session_new().
 * Everything the skeleton logs carries "sess=ID PROTO".
 */
#ifndef POPGATE_SESSION_H
#define POPGATE_SESSION_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/life.h"
#include "core/linereader.h"
#include "util/buf.h"

struct conn;
struct event;
struct event_base;
struct evbuffer;
struct timeval;
struct worker_job;
struct worker_ops;
struct worker_pool;
struct session;

/* The bit of protocol state ST in a command's allowed-states mask. */
#define SESSION_ST(st)	(1u << (st))

/* A command of a protocol: the one table shape for every protocol. The
   dispatcher alone refuses a command in a state not in STATES, or with
   an argument that FLAGS forbid or require; FN only ever runs when the
   rules hold. ARG points into the line (not NUL-terminated), and lives
   until FN returns. */
struct session_cmd {
	const char	*name;		/* the command word, upper case */
	void		(*fn)(struct session *, const char *arg,
			    size_t arglen);
	unsigned	 states;	/* SESSION_ST()s that allow it */
	unsigned	 flags;		/* SESSION_CMD_* */
};
#define SESSION_CMD_NOARG	0x01	/* takes no argument */
#define SESSION_CMD_ARG		0x02	/* needs one */
#define SESSION_CMD_LAST	0x04	/* last in a pipelined group */

/* Why the dispatcher refused a command. */
enum session_refusal {
	SESSION_WRONG_STATE,
	SESSION_EXTRA_ARG,		/* SESSION_CMD_NOARG, but an argument */
	SESSION_MISSING_ARG,		/* SESSION_CMD_ARG, but none */
};

/* What a protocol's raw-input hook did. */
enum session_input {
	SESSION_INPUT_LINES,	/* nothing for me: read command lines */
	SESSION_INPUT_AGAIN,	/* consumed or produced some: loop again */
	SESSION_INPUT_WAIT,	/* needs more input: stop until it comes */
};

struct session_proto {
	const char	*name;		/* "smtp", in the skeleton's logs */
	const char	*starttls_name;	/* "starttls": in its error line */
	const char *const *state_names;	/* indexed by the protocol's state */
	unsigned	 tls_state;	/* STARTTLS handshake running */
	unsigned	 closing_state;	/* flushing the last reply */
	/* States whose lines are SASL responses, not commands: AUTH_LINE
	   gets them, limited to AUTH_LINE_MAX octets (CRLF included). */
	unsigned	 auth_states;
	size_t		 line_max;	/* command lines, CRLF included */
	size_t		 auth_line_max;
	size_t		 input_max;	/* read watermark */
	size_t		 output_max;	/* no reading while more is queued */

	/* The command that LINE (LEN octets, no CRLF) asks for in TABLE,
	   with its argument; NULL after answering an unknown command. */
	const struct session_cmd *(*parse)(struct session *,
		    const char *line, size_t len, const char **arg_r,
		    size_t *arglen_r);
	/* Answers a command the table does not allow (the dispatcher's
	   only way to answer). */
	void	(*refuse)(struct session *, const struct session_cmd *,
		    enum session_refusal, const char *arg, size_t arglen);
	/* A SASL response line in one of AUTH_STATES. */
	void	(*auth_line)(struct session *, const char *line, size_t len);
	/* An over-long line (LINE_TOO_LONG) or a bare CR or LF (LINE_BARE),
	   already dropped. */
	void	(*bad_line)(struct session *, enum line_result);
	/* Optional: output that continues over several turns (a message
	   being streamed), before the high-water check. */
	enum session_input (*output)(struct session *, struct evbuffer *out);
	/* Optional: input that is not command lines (a message body, a
	   chunk to skip), before the line reader. */
	enum session_input (*input)(struct session *, struct evbuffer *in);
	/* The handshake of STARTTLS is done: forget what the client said
	   before (RFC 3207 section 4.2) and enter the state after it. */
	void	(*tls_reset)(struct session *);
	/* The idle timeout: log it; when REPLY, also answer it (the
	   skeleton closes then). */
	void	(*timeout)(struct session *, bool reply);
	/* Optional: the client went away (EOF or a connection error). */
	void	(*lost)(struct session *);
	/* The error cap was reached: log it and answer; the skeleton
	   closes. */
	void	(*too_many_errors)(struct session *);
	/* The daemon stops: answer that, best effort. */
	void	(*shutdown)(struct session *);
	/* Frees what the protocol added, after its last log lines; not
	   the session itself. */
	void	(*fini)(struct session *);
};

/* The sessions of one protocol server, for shutdown. */
struct session_set {
	LIST_HEAD(, session)	 list;
	uint64_t		 n;
};

struct session {
	const struct session_proto *proto;
	struct session_set	*set;
	struct conn		*conn;		/* owned */
	unsigned		 state;		/* the protocol's state enum */
	bool			 busy;		/* an async step runs */
	bool			 stalled;	/* until the client reads */
	unsigned		 errors;	/* client errors so far */
	uint64_t		 max_errors;
	uint64_t		 timeout;	/* idle seconds */
	struct worker_job	*job;		/* the async step on a worker */
	struct event		*ev_delay;	/* session_delay() */
	uint64_t		 delay_until_us; /* its end, clock_mono_us() */
	void			(*delayed)(struct session *);
	struct linereader	 lr;
	struct buf		 line;
	struct life		 life;		/* resume, close, free */
	LIST_ENTRY(session)	 entry;		/* in SET */
};

/* A new session of SIZE octets (the protocol's struct, which starts
   with its struct session), zeroed, for connection C, in SET; it owns
   C from now on. Logs the connection and starts reading; the protocol
   sends its greeting or starts what comes before it. */
struct session *session_new(const struct session_proto *, size_t size,
	    struct session_set *, struct event_base *, struct conn *c,
	    uint64_t timeout, uint64_t max_errors);
/* Answers every session of SET with the protocol's shutdown line, best
   effort, and frees them (the loop no longer runs). */
void	session_set_free(struct session_set *);

/* Enters protocol state ST (logged at debug level); the line limit
   follows the state. */
void	session_enter_state(struct session *, unsigned st);
/* The name of the current state. */
const char *session_state_name(const struct session *);
/* Processes buffered input until a step waits. */
void	session_process(struct session *);
/* An async step is done: go on with the input. */
void	session_resume(struct session *);
/* Runs OPS with ARG on POOL as the session's async step; its done()
   sets s->job to NULL and calls session_resume() (or closes). */
void	session_submit(struct session *, struct worker_pool *,
	    const struct worker_ops *, void *arg);
/* Calls FN after TV, never sooner (a reply delayed on purpose: a failed
   login); the session is busy until then. */
void	session_delay(struct session *, const struct timeval *tv,
	    void (*fn)(struct session *));
/* Counts a negative reply caused by the client; at max_errors the
   protocol answers (too_many_errors) and the session closes. */
void	session_count_error(struct session *);
/* Closes once the output has left; cancels the async step. */
void	session_close(struct session *, const char *why);
/* Puts TLS over the connection, after the reply that says so. */
void	session_starttls(struct session *);
/* Compresses the connection from now on (after the reply that says
   so). 0, or -1 (logged; the session is closing). */
int	session_compress(struct session *);

#endif
