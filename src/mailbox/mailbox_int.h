/*
 * mailbox_int.h - what the files of src/mailbox/ share. Not for outside
 * use.
 */
#ifndef POPGATE_MAILBOX_INT_H
#define POPGATE_MAILBOX_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "mailbox/mailbox.h"
#include "util/buf.h"

#define MBX_PATH_MAX	1400
#define MBX_BASE_MAX	255	/* octets of a file's base name */
#define MBX_INDEX	"popgate-index"
#define MBX_LOG		"popgate-index.log"
#define MBX_TOMBS_MAX	4096	/* expunges remembered for QRESYNC */
#define MBX_IDLE_MAX	64	/* folder states kept without a view */

/* One message of a folder. */
struct mbx_msg {
	uint32_t	 uid;
	uint8_t		 flags;		/* MAILBOX_SEEN ... */
	bool		 seen_on_disk;	/* sync scratch */
	uint32_t	 writer;	/* view id of the last change, 0 other */
	uint64_t	 kw[2];
	uint64_t	 modseq;
	uint64_t	 size;		/* with CRLF */
	int64_t		 idate;
	char		*name;		/* the file in cur/ (or new/), or the
					   base alone until a scan found it */
	uint16_t	 base_len;	/* octets of NAME before ':' */
	bool		 in_new;
	uint32_t	 cache_len;
	unsigned char	*cache;
};

struct mbx_tomb {
	uint32_t	 uid;
	uint64_t	 modseq;
};

/* The in-memory state of one folder, shared by all its views. */
struct mbx_folder {
	pthread_mutex_t	 lock;
	char		 key[MBX_PATH_MAX + 16];
	int		 dir_fd;	/* borrowed from the user */
	char		 path[MBX_PATH_MAX];	/* the folder's Maildir */
	unsigned	 refs;		/* under the registry lock */
	struct mbx_folder *idle_prev, *idle_next; /* unreferenced, kept */
	bool		 idle;
	bool		 gone;		/* deleted or renamed away */
	bool		 loaded;

	uint32_t	 uidvalidity, uidnext;
	uint64_t	 highestmodseq;
	uint64_t	 generation;
	struct mbx_msg	*msgs;		/* ascending UID */
	size_t		 n, cap;
	char		**kw;		/* MAILBOX_KEYWORDS_MAX names, made at
					   the first; a name never changes */
	unsigned	 nkw;
	struct mbx_tomb	*tombs;		/* ascending modseq */
	size_t		 ntombs, captombs;
	uint64_t	 tomb_floor;	/* expunges at or below: forgotten */

	int		 log_fd;	/* -1 until the first append */
	uint64_t	 log_size, snap_size;
	struct buf	 pending;	/* log records not yet written */

	struct timespec	 new_mtime, cur_mtime;
	bool		 racy;		/* rescan even if the mtimes agree */
	uint64_t	 last_scan_ms;	/* monotonic */
	atomic_uint_fast64_t changes;	/* bumped at every change */
	uint32_t	 recent_floor;	/* UIDs from here are unclaimed */
	struct hmap	*import;	/* base -> Dovecot's UID, first scan */
	uint32_t	 next_view;
};

/* A user's Maildir (mailbox_user.c). */
struct mailbox_user {
	int		 dir_fd;	/* borrowed */
	char		 root[MBX_PATH_MAX];
	char		 host[256];
};

/* A selected folder (mailbox_view.c). */
struct mbx_range {
	uint32_t	 lo, hi;	/* [lo, hi) */
};

struct mailbox_view {
	struct mailbox_user *user;
	struct mbx_folder *f;
	uint32_t	 id;		/* writer id in the folder, > 0 */
	uint32_t	*uids;		/* sequence number - 1 -> UID */
	size_t		 n, cap;
	uint64_t	 modseq;	/* the folder's, at the last sync */
	uint_fast64_t	 changes;	/* the folder's counter, same */
	uint32_t	 uidnext;
	unsigned	 nkw;
	struct mbx_range *recent;	/* UIDs recent to this view */
	size_t		 nrecent;
	bool		 readonly;	/* EXAMINE */
};

/* ---- mailbox_copy.c ---- */
/* Copies (MOVE: then expunges) messages UIDS of SRC into folder DEST of
   USER; changes in SRC are marked as made by WRITER. */
int	mbx_copy(struct mailbox_user *, struct mbx_folder *src,
	    uint32_t writer, const uint32_t *uids, size_t n, const char *dest,
	    bool move, struct mailbox_copy_result *, struct mailbox_err *);
/* Under F's lock: unlinks and expunges the messages at the indexes
   marked in DROP (F->n entries), fsyncs cur/ and the log. */
int	mbx_expunge_marked(struct mbx_folder *, const bool *drop,
	    struct mailbox_err *);

/* ---- mailbox_name.c ---- */
/* The directory of folder NAME (UTF-8) below the user's Maildir ROOT:
   ROOT itself for INBOX, ROOT/.<mutf7 name> else. 0 or -1. */
int	mbx_folder_path(const char *root, const char *name, char *out,
	    size_t outsz);
/* Whether NAME is INBOX (any case). */
bool	mbx_is_inbox(const char *name);
/* Whether S of LEN octets is valid UTF-8 without control characters. */
bool	mbx_utf8_valid(const char *s, size_t len);
/* Whether KW is a valid keyword (an IMAP atom, not starting with '\'). */
bool	mbx_keyword_valid(const char *kw);
/* Flags <-> the info letters of a Maildir name. */
unsigned mbx_flags_from_name(const char *name);
/* NAME's base, then ":2," and the letters for FLAGS plus the letters of
   NAME's info that popgate does not manage, sorted. 0 or -1. */
int	mbx_name_with_flags(const char *name, size_t base_len, unsigned flags,
	    char *out, size_t outsz);
/* The base length of a file name (octets before ':'). */
size_t	mbx_base_len(const char *name);
/* Whether NAME can be a message file's name we index. */
bool	mbx_file_name_ok(const char *name);
/* A new unique base name with ,S=SIZE,W=VSIZE. 0 or -1. */
int	mbx_unique_name(const char *host, uint64_t size, uint64_t vsize,
	    char *out, size_t outsz);
void	mbx_err(struct mailbox_err *, enum mailbox_errcode, const char *fmt,
	    ...) PRINTFLIKE(3, 4);

/* ---- mailbox_index.c ---- */
/* Parses a snapshot (SNAP, may be NULL/0: none) and a log into F
   (empty, not loaded). Returns 0 when both were whole and consistent,
   1 when damage was found and repaired (F holds what could be proven;
   the caller rewrites the index), 2 when nothing could be kept and F
   needs a new UIDVALIDITY. Never fails otherwise. */
int	mbx_index_parse(struct mbx_folder *, const unsigned char *snap,
	    size_t snaplen, const unsigned char *log, size_t loglen,
	    size_t *log_valid_r);
/* Loads F's index from disk (see mbx_index_parse). -1 on I/O error. */
int	mbx_index_load(struct mbx_folder *, struct mailbox_err *);
/* Writes a new snapshot of F and an empty log (compaction). */
int	mbx_index_compact(struct mbx_folder *, struct mailbox_err *);
/* Queues log records for F (written by mbx_index_commit). */
void	mbx_log_msg(struct mbx_folder *, const struct mbx_msg *);
void	mbx_log_flags(struct mbx_folder *, const struct mbx_msg *);
void	mbx_log_expunge(struct mbx_folder *, uint32_t uid, uint64_t modseq);
void	mbx_log_keyword(struct mbx_folder *, unsigned idx);
void	mbx_log_cache(struct mbx_folder *, const struct mbx_msg *);
/* Appends the queued records to the log, fsynced when DURABLE; may
   compact. 0 or -1 (the records stay queued). */
int	mbx_index_commit(struct mbx_folder *, bool durable,
	    struct mailbox_err *);

/* ---- mailbox_folder.c ---- */
/* The shared state of the folder at PATH below DIR_FD, loaded and synced
   with the Maildir (a reference the caller gives back). */
struct mbx_folder *mbx_folder_get(int dir_fd, const char *path,
	    struct mailbox_err *);
void	mbx_folder_put(struct mbx_folder **);
/* Marks the state of PATH (and with CHILDREN those below it) gone. */
void	mbx_folder_forget(int dir_fd, const char *path, bool children);
/* Under F's lock: syncs with the Maildir when it changed (or FORCE). */
int	mbx_folder_sync(struct mbx_folder *, bool force, struct mailbox_err *);
/* Under F's lock: moves every file of new/ to cur/ (":2," appended),
   then rescans: what the first flag change of a message still in new/
   does (mailbox_folder.c). */
int	mbx_folder_empty_new(struct mbx_folder *, struct mailbox_err *);
/* Under F's lock: whether new/ or cur/ changed since the last scan. */
bool	mbx_folder_disk_changed(struct mbx_folder *);
/* Under F's lock, around a change of cur/ made here: whether the
   recorded mtime of cur/ was current before, and then records the new
   one if it was (no rescan for our own renames). */
bool	mbx_cur_begin(struct mbx_folder *);
void	mbx_cur_end(struct mbx_folder *, bool was_current);
/* The CRLF size (RFC822.SIZE) of the file at PATH, read once. */
int	mbx_count_vsize(int dir_fd, const char *path, uint64_t *vsize_r);
/* Under F's lock: the message with UID, or NULL. */
struct mbx_msg *mbx_folder_find(struct mbx_folder *, uint32_t uid);
/* Under F's lock: the slot of keyword NAME, defining it if DEFINE (and
   logging it). -1 when unknown or the table is full. */
int	mbx_folder_keyword(struct mbx_folder *, const char *name, bool define);
/* Under F's lock: NAME (valid, new) as the next keyword slot. */
void	mbx_folder_kw_add(struct mbx_folder *, const char *name);
/* Under F's lock: appends M (uid from uidnext) to F. */
struct mbx_msg *mbx_folder_add(struct mbx_folder *, struct mbx_msg *m);
/* Under F's lock: removes message I, remembers the expunge. */
void	mbx_folder_remove(struct mbx_folder *, size_t i, uint64_t modseq);
void	mbx_folder_tomb(struct mbx_folder *, uint32_t uid, uint64_t modseq);
void	mbx_msg_free(struct mbx_msg *);
/* Path of message M below the dir_fd: PATH/cur/NAME. 0 or -1. */
int	mbx_msg_path(const struct mbx_folder *, const struct mbx_msg *,
	    char *out, size_t outsz);
/* Frees all of F's messages etc. (state not loaded). */
void	mbx_folder_clear(struct mbx_folder *);
/* A fresh UIDVALIDITY (now, but above OLD). */
uint32_t mbx_new_uidvalidity(uint32_t old);

#endif
