/*
 * queue.h - the durable queue of mail for remote recipients (SPEC 4, 6),
 * and for hosted mailboxes that were full at the end of DATA.
 *
 * One file per message in queue/msg/ID: a version header, typed
 * length-prefixed records (envelope, then the message) and a mandatory
 * END record holding a SHA-256 of everything before it (STYLE.md 7), so
 * a reader rejects anything incomplete. Per-recipient delivery state
 * lives beside it in queue/state/ID, replaced atomically. Files are made
 * in queue/tmp, fsynced, renamed into msg/, and msg/ is fsynced: once
 * queue_write() returns 0 the message survives a crash.
 *
 * A message may be held (quarantine, Postfix's hold queue): its state
 * file says so, with a reason and since when, and the queue manager
 * never tries, warns about or expires it until it is released; the
 * time it spent held does not count against max_queue_lifetime.
 *
 * A struct queue holds those directories open, below the data directory
 * it was made from: no path depends on the current directory. It is
 * only read after queue_new(), so threads share one.
 */
#ifndef POPGATE_QUEUE_H
#define POPGATE_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/addr.h"
#include "core/dsn.h"
#include "core/ids.h"
#include "util/buf.h"
#include "util/compat.h"

struct spool;

#define QUEUE_DIR	"queue"
#define QUEUE_HOLD_MAX	255	/* octets of a hold reason */

enum queue_rstate {
	QR_PENDING,
	QR_DEFERRED,
	QR_DELIVERED,
	QR_BOUNCED,
};

struct queue_rcpt {
	char			address[ADDR_BUFSZ];
	char			orcpt[DSN_ORCPT_MAX + 1];	/* "" if none */
	unsigned		notify;		/* DSN_NOTIFY_*, 0: not given */
	bool			local;	/* a hosted mailbox, not remote */
	enum queue_rstate	state;
	time_t			next_try;
	unsigned		attempts;
	char			last_error[512];
};

struct queue_env {
	char			 id[ID_LEN + 1];
	time_t			 arrival;
	char			 sender[ADDR_BUFSZ];	/* "" = <> */
	/* The sender rewritten by SRS, for the remote recipients' MAIL
	   FROM ("" = none): the sender stays the original, for hosted
	   mailboxes (Return-Path) and our own notices. */
	char			 srs_sender[ADDR_BUFSZ];
	char			 auth[512];	/* what let it through */
	char			 client[300];	/* host [ip] */
	bool			 body8bit, smtputf8;
	bool			 is_bounce;	/* a DSN we made */
	char			 envid[DSN_ENVID_MAX + 1];	/* xtext */
	char			 ret[8];	/* "FULL", "HDRS", "" */
	time_t			 warned;	/* delay notice sent at */
	uint64_t		 lines;		/* LF count of the message */
	struct queue_rcpt	*rcpts;
	size_t			 nrcpts;
	/* The hold, in the state file: set it with queue_env_hold(). */
	char			 hold[QUEUE_HOLD_MAX + 1];	/* "": not held */
	time_t			 held_at;	/* since when (0: unknown) */
	uint64_t		 held_for;	/* seconds of earlier holds */
};

void	queue_env_init(struct queue_env *);
/* The MAIL FROM of E toward remote recipients: its SRS address if it
   has one, else its sender. */
static inline const char *
queue_env_mail_from(const struct queue_env *e)
{
	return e->srs_sender[0] != '\0' ? e->srs_sender : e->sender;
}
void	queue_env_free(struct queue_env *);
struct queue_rcpt *queue_env_add_rcpt(struct queue_env *,
	    const char *address);

/* Whether E is held. */
static inline bool
queue_env_held(const struct queue_env *e)
{
	return e->hold[0] != '\0';
}
/* Holds E from NOW with REASON, which may be anything (a filter's
   text): control characters become spaces, it is cut to QUEUE_HOLD_MAX
   octets (never inside a UTF-8 sequence), and "" reads "held". false
   when REASON had to be changed so. Done before queue_write() (a
   quarantine), the message is held from its first instant. */
bool	queue_env_hold(struct queue_env *, const char *reason, time_t now);
/* Releases E at NOW: the time it was held goes into held_for. */
void	queue_env_release(struct queue_env *, time_t now);
/* How long E has waited in the queue at NOW, not counting the time it
   was held (what max_queue_lifetime and delay_warning measure). */
time_t	queue_env_age(const struct queue_env *, time_t now);
/* When E expires after LIFETIME seconds in the queue, held time not
   counted (meaningless while it is held). */
time_t	queue_env_expiry(const struct queue_env *, uint64_t lifetime);
/* Whether REASON can be a hold reason as it is: 1 to QUEUE_HOLD_MAX
   octets, no control character (the CLI refuses anything else). */
bool	queue_hold_reason_ok(const char *reason);

struct queue;

/* Whether ID is a queue id (hexadecimal, ID_LEN digits). */
bool	queue_id_ok(const char *id);
/* The queue below the data directory DATA_FD: queue/{tmp,msg,state},
   made (durably) when missing, each held open. NULL with *ERROR_R. */
struct queue *queue_new(int data_fd, const char **error_r);
void	queue_free(struct queue **);
/* Writes ENV (a fresh id is made into env->id unless it has a free one)
   and the message, PREFIX then BODY, durably. 0, or -1 with errno and
   *ERROR_R. A held ENV (queue_env_hold(); a held_at of 0 is made now)
   has its state file written before the message is in msg/: nothing
   can find it unheld. */
int	queue_write(struct queue *, struct queue_env *env, const char *prefix,
	    size_t prefix_len, const struct spool *body,
	    const char **error_r) WARN_UNUSED;
/* Opens message ID for delivery without reading the message into
   memory: the envelope and states into ENV, the file descriptor (close
   it) and where the message is (LF line ends). The checksum is verified
   by one streaming pass. 1, 0 (no such message), -1 (damaged or I/O
   error, *ERROR_R). */
int	queue_open(struct queue *, const char *id, struct queue_env *env,
	    int *fd_r, uint64_t *body_off, uint64_t *body_len,
	    const char **error_r) WARN_UNUSED;
/* Parses a queue file image with the reader of queue_open (for the
   fuzzer and tests). 0, or -1 (*ERROR_R). */
int	queue_parse(const unsigned char *data, size_t len,
	    struct queue_env *env, uint64_t *body_off, uint64_t *body_len,
	    const char **error_r) WARN_UNUSED;
/* Applies the text of a state file, LEN octets, to ENV: lines it cannot
   use (bad numbers, an unknown state, an index past the recipients) are
   skipped. */
void	queue_state_parse(struct queue_env *, const char *text, size_t len);
/* Replaces the state file of ENV durably. 0 or -1 (errno). */
int	queue_write_state(struct queue *, const struct queue_env *)
	    WARN_UNUSED;

enum queue_hold_result {
	QUEUE_HOLD_FAILED = -1,	/* *ERROR_R says why */
	QUEUE_HOLD_NONE = 0,	/* no such message */
	QUEUE_HOLD_DONE = 1,
	QUEUE_HOLD_ALREADY = 2,	/* already held, or not held to release */
};
/* Holds message ID with REASON (as queue_env_hold() takes it) at NOW,
   or releases it when REASON is NULL (every deferred recipient due at
   once), with the rest of its state as it is on disk, durably. Only
   for whoever alone writes the state of ID: the queue manager, or the
   CLI when no daemon runs. *ENV_R (when not NULL) gets the envelope
   after the change (free it), for DONE and ALREADY. */
enum queue_hold_result queue_set_hold(struct queue *, const char *id,
	    const char *reason, time_t now, struct queue_env *env_r,
	    const char **error_r) WARN_UNUSED;
/* Removes message ID (state first, then the message), durably. */
int	queue_remove(struct queue *, const char *id) WARN_UNUSED;
/* Removes message ID when every recipient is final (delivered, or
   bounced with the bounce queued). Not waited onto the disk: only a
   crash of the whole system before the directory is written can bring
   it back, for a second delivery, never a lost one (as Postfix). */
int	queue_remove_done(struct queue *, const char *id) WARN_UNUSED;
/* 1 when message ID is queued, 0 not, -1 (errno). */
int	queue_exists(struct queue *, const char *id) WARN_UNUSED;
/* Calls FN for each queued message id; 0 or -1. */
int	queue_scan(struct queue *, void (*fn)(const char *id, void *),
	    void *arg) WARN_UNUSED;
/* Removes what an interrupted queue_write() left in queue/tmp (at
   start-up, before anything writes). 0 or -1 (errno). */
int	queue_clean_tmp(struct queue *) WARN_UNUSED;

/* The queue below DATA_FD as it is, creating nothing (a queue to copy
   from: a live one, or a backup's, where tmp/ may be missing). NULL
   with errno (ENOENT: there is no queue) and *ERROR_R. */
struct queue *queue_attach(int data_fd, const char **error_r);

enum queue_copy_result {
	QUEUE_COPY_FAILED = -1,	/* writing the destination failed */
	QUEUE_COPY_GONE = 0,	/* no such message (any more): not copied */
	QUEUE_COPY_DONE = 1,
	QUEUE_COPY_DAMAGED = 2,	/* it does not read (checksum, I/O): not
				   copied */
};
/* Copies message ID of FROM into the queue TO (which must not hold
   it), whole or not at all, while others write and remove messages in
   FROM (queue_copy.c says why that is safe): the message file checked
   as queue_open() checks it and copied as it is, its state as it was at
   one moment, written anew (queue_write_state()); in TO the state is in
   place before the message. Each file is fsynced, the directories by
   queue_sync(). *BYTES_R: the size of the message file. FAILED and
   DAMAGED set *ERROR_R; nothing of ID is left in TO but for DONE. */
enum queue_copy_result queue_copy(struct queue *from, const char *id,
	    struct queue *to, uint64_t *bytes_r, const char **error_r)
	    WARN_UNUSED;
/* fsync of the msg/ and state/ directories: what queue_copy() put in
   is on disk. 0 or -1 (errno). */
int	queue_sync(struct queue *) WARN_UNUSED;

#endif
