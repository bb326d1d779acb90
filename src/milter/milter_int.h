/*
 * milter_int.h - what the files of src/milter share. Not for outside use.
 */
#ifndef POPGATE_MILTER_INT_H
#define POPGATE_MILTER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "milter/milter.h"
#include "util/buf.h"
#include "util/str.h"

struct spool;

/* The header section of a message as the filters see it: our Received:
   field, then the message's own fields, LF line ends. */
struct milter_field {
	size_t		 name, name_len;	/* in TEXT */
	size_t		 value, value_len;	/* after the colon, as is */
};

struct milter_hdrs {
	struct buf		 text;
	struct milter_field	*v;
	size_t			 n;
	uint64_t		 body_off;	/* where the body starts in MSG */
};

/* Reads PREFIX and the header section of MSG into H (at most
   MILTER_HDRS_MAX octets: a longer section ends there, the rest is
   body, as a line without a colon ends it). 0, or -1 (errno). */
#define MILTER_HDRS_MAX	(256 * 1024)
int	milter_hdrs_read(struct milter_hdrs *, const char *prefix,
	    size_t prefix_len, const struct spool *msg);
void	milter_hdrs_free(struct milter_hdrs *);

/* The next body chunk of MSG at *POS (a spool offset at or after the
   body's start) with CRLF line ends, at most MILTER_CHUNK_SIZE octets,
   into OUT (emptied first); *POS moves on. The chunk's length (0 at the
   end) or -1 (errno). */
int	milter_body_chunk(const struct spool *msg, uint64_t *pos,
	    struct buf *out);

/* Appends a REPLBODY chunk (CRLF line ends) to R's body with LF ends. */
int	milter_body_append(struct milter_result *r, const char *p, size_t n);

/* Frees the modifications and body of R, and empties it. */
void	milter_result_reset(struct milter_result *r);

/* ---- the client: milter_client.c (the chain and its steps) and
   milter_conn.c (one filter's connection) ---- */

struct bufferevent;
struct event;
struct event_base;
struct milter_cfg;
struct config;

#define MILTER_REJECT_REPLY	"550 5.7.1 Command rejected\r\n"
#define MILTER_REJECT_MSG_REPLY	"550 5.7.1 Message content rejected\r\n"
#define MILTER_SHUTDOWN_REPLY	"421 4.7.0 Service closing transmission " \
				"channel\r\n"
#define MILTER_TEMPFAIL_REPLY	"451 4.7.1 Service unavailable - try " \
				"again later\r\n"
/* The largest body a filter may put in place of the message's. */
#define MILTER_BODY_MAX		(64 * 1024 * 1024)
/* Output queued to a filter above which we wait for it to read. */
#define MILTER_OUTPUT_MAX	(256 * 1024)

enum chain_step { STEP_NONE, STEP_MAIL, STEP_RCPT, STEP_DATA, STEP_EOM };

/* The phases of the steps, in order: MAIL runs PH_OPEN to PH_MAIL, RCPT
   PH_RCPT, DATA PH_DATA, the message PH_HEADERS to PH_EOM; each step
   ends at the phase after its last. */
enum phase {
	PH_OPEN, PH_CONNECT, PH_HELO, PH_MAIL, PH_MAIL_END,
	PH_RCPT, PH_RCPT_END,
	PH_DATA, PH_DATA_END,
	PH_HEADERS, PH_EOH, PH_BODY, PH_EOM, PH_END
};

struct mfilter {
	struct milter_chain	*ch;
	const struct milter_cfg	*cfg;
	struct bufferevent	*bev;		/* NULL: not connected */
	struct event		*timer;
	struct milter_reader	 rd;
	bool			 connecting;
	bool			 negotiated;	/* OPTNEG answered */
	uint32_t		 actions, protocol;	/* negotiated */
	char			*macros[MILTER_M_NSTAGES];	/* asked for */
	bool			 greeted;	/* CONNECT, HELO sent */
	bool			 dead;		/* failed: default action */
	bool			 conn_done;	/* ACCEPT at CONNECT/HELO */
	enum milter_verdict	 conn_v;	/* refused at CONNECT/HELO */
	struct buf		 conn_reply;
	bool			 in_tx;		/* has had MAIL */
	bool			 tx_done;	/* ACCEPT in the transaction */
	uint64_t		 tx_deadline_ms;	/* the total timeout */
	/* the step */
	int			 phase;
	bool			 waiting;	/* for a reply */
	enum milter_stage	 waiting_stage;
	size_t			 hdr_ix;
	uint64_t		 body_pos;
	bool			 skip_body;	/* SKIP */
	bool			 backlog;	/* waits for the filter to read */
	bool			 replacing;	/* REPLBODY in this EOM */
};

struct milter_chain {
	struct event_base	*base;
	const struct config	*cfg;
	char			 sess[32];
	struct mfilter		*f;
	size_t			 n;
	enum chain_step		 step;
	size_t			 cur;		/* the filter at work */
	milter_done_fn		*done;
	void			*arg;
	struct event		*ev_done;
	struct milter_result	 res;
	/* what the steps tell */
	struct milter_client_info info;
	bool			 relay;
	char			 qid[32];
	struct strlist		 argv;		/* MAIL, RCPT */
	char			 mail_addr[512], rcpt_addr[512];
	const struct spool	*msg;
	struct milter_hdrs	 hdrs;
	struct buf		 pkt;		/* being encoded */
	struct buf		 body;		/* a body chunk */
};

/* milter_client.c */
/* Goes on with the step running, from the filter at work. */
void	mchain_advance(struct milter_chain *);
/* A validated reply of F to the command it waited on. */
void	mfilter_reply(struct mfilter *, const struct milter_reply *);
/* F failed (logged): closed, left out, its default action taken. */
void	mfilter_fail(struct mfilter *, const char *why);

/* milter_conn.c */
void	mfilter_init(struct mfilter *, struct milter_chain *,
	    const struct milter_cfg *);
/* Starts connecting; OPTNEG follows. 0, or -1 (failed, handled). */
int	mfilter_open(struct mfilter *);
/* Queues LEN octets of packets. 0, or -1 (failed, handled). */
int	mfilter_write(struct mfilter *, const void *p, size_t len);
/* Waits for a reply at STAGE, under the timeouts. */
void	mfilter_expect(struct mfilter *, enum milter_stage);
/* Whether more output than MILTER_OUTPUT_MAX waits to go (the chain
   goes on once it went). */
bool	mfilter_backlogged(struct mfilter *);
/* The OPTNEG reply R: what was negotiated. */
void	mfilter_negotiated(struct mfilter *, const struct milter_reply *r);
/* ABORT (no reply comes). */
void	mfilter_abort(struct mfilter *);
/* Closes the connection; the filter is opened again at the next MAIL. */
void	mfilter_close(struct mfilter *);
/* QUIT, best effort, and everything freed. */
void	mfilter_quit(struct mfilter *);

#endif
