/*
 * mailbox.h - the IMAP mail store over a user's Maildir (SPEC 9):
 * Maildir++ folders, a crash-safe index per folder (UIDs, MODSEQs,
 * keywords, sizes, cached MIME data), views that learn what other
 * sessions changed, and the operations an IMAP session needs.
 *
 * Layout. The user's Maildir (mail_dir/DOMAIN/LOCAL/, src/maildir/) is
 * INBOX. A folder "A.B" is the directory ".A.B/" beside new/ cur/ tmp/,
 * a Maildir itself with an empty "maildirfolder" file (Maildir++, the
 * hierarchy separator is '.'). Folder names are UTF-8 in this API and
 * modified UTF-7 (RFC 3501 5.1.3) on disk, as Dovecot stores them by
 * default, so Dovecot lists the same folders. Subscriptions live in the
 * "subscriptions" file of the Maildir in Dovecot's format; the
 * SPECIAL-USE attributes in "popgate-special-use".
 *
 * Flags. \Seen \Answered \Flagged \Deleted \Draft live in the file
 * names (":2,DFRST", letters sorted; other letters are kept as found).
 * When the name and the index disagree, the name wins (another program
 * changed it) and the message's MODSEQ is bumped. Keywords live only in
 * the index. \Recent is per process: a new message is recent to the
 * first view that learns of it.
 *
 * The index of a folder: "popgate-index" (snapshot) and
 * "popgate-index.log" (append-only changes), described in
 * mailbox_index.c. It is never trusted blindly: every sync compares it
 * with a scan of new/ and cur/ (new files get UIDs in delivery order,
 * vanished files are expunged, renamed flag suffixes update flags).
 * A damaged index is rebuilt from the Maildir keeping every UID it can
 * still prove; UIDVALIDITY changes only when no UIDNEXT survives.
 *
 * POP3 coexistence (SPEC 9), the rule:
 *  - A message's POP3 UIDL is, as it always was, the unique part of its
 *    file name (before the first ',' or ':'; pop3_maildrop.c), which no
 *    rename for flags and no move from new/ to cur/ changes: existing
 *    mailboxes keep their UIDLs and nothing is downloaded again.
 *  - The index keys each message by its base name (before ':'), of
 *    which the UIDL is the start: one file, one UID, one UIDL
 *    (mailbox_uidl() computes the UIDL exactly as POP3 does). INBOX
 *    UIDs are given in delivery order, so both lists name the files in
 *    the same order.
 *  - A POP3 DELE unlinks the file at QUIT: the next sync of each IMAP
 *    view expunges its UID (EXPUNGE / VANISHED). An IMAP EXPUNGE or
 *    MOVE unlinks: the next POP3 login does not list it; a POP3 session
 *    open meanwhile finds the file gone and must answer -ERR for it.
 *  - The first sync moves new/ to cur/ (":2," appended). A POP3
 *    session that listed a file in new/ must look for it in cur/ too
 *    (mailbox_file_find()) before RETR fails or DELE misses it.
 *  - POP3 sessions stay exclusive among themselves ([IN-USE]); IMAP
 *    views never lock POP3 out, nor POP3 them.
 *
 * Threads. Every function is synchronous (run it on a worker) and
 * thread-safe: all views of one folder in the process share one
 * in-memory state under one mutex. The index files belong to the one
 * process that serves the data directory; other programs (delivery,
 * Dovecot, mutt, POP3) may change the Maildir at any time.
 *
 * Errors: functions returning int give 0 (or 1/0 where said) on
 * success and -1 with *ERR filled.
 */
#ifndef POPGATE_MAILBOX_H
#define POPGATE_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compat.h"

struct buf;
struct spool;
struct mailbox_user;
struct mailbox_view;

#define MAILBOX_NAME_MAX	255	/* octets of a UTF-8 folder name */
#define MAILBOX_KEYWORDS_MAX	128	/* keyword names per folder */
#define MAILBOX_KEYWORD_MAX	64	/* octets of one keyword */
#define MAILBOX_CACHE_MAX	(64 * 1024)	/* octets of a cache blob */
#define MAILBOX_UIDL_MAX	70	/* RFC 1939 */

enum mailbox_errcode {
	MAILBOX_ERR_NONE,
	MAILBOX_ERR_TEMP,	/* I/O trouble: NO [UNAVAILABLE], try again */
	MAILBOX_ERR_NONEXISTENT, /* NO [NONEXISTENT] */
	MAILBOX_ERR_EXISTS,	/* NO [ALREADYEXISTS] */
	MAILBOX_ERR_CANNOT,	/* NO [CANNOT]: bad name, INBOX, ... */
	MAILBOX_ERR_LIMIT,	/* NO [LIMIT]: too many keywords, too big */
	MAILBOX_ERR_GONE,	/* the selected folder was deleted: BYE */
};

struct mailbox_err {
	enum mailbox_errcode code;
	char		 text[200];	/* for logs and NO texts */
};

/* System flags (bits of mailbox_msg.flags). */
#define MAILBOX_SEEN		0x01
#define MAILBOX_ANSWERED	0x02
#define MAILBOX_FLAGGED		0x04
#define MAILBOX_DELETED		0x08
#define MAILBOX_DRAFT		0x10
#define MAILBOX_FLAGS_ALL	0x1f

/* Folder attributes (LIST, RFC 9051 7.3.1, RFC 6154). */
#define MAILBOX_ATTR_NOSELECT		0x0001
#define MAILBOX_ATTR_NONEXISTENT	0x0002	/* implies NOSELECT */
#define MAILBOX_ATTR_HASCHILDREN	0x0004
#define MAILBOX_ATTR_HASNOCHILDREN	0x0008
#define MAILBOX_ATTR_SUBSCRIBED		0x0010
#define MAILBOX_USE_SENT		0x0100
#define MAILBOX_USE_DRAFTS		0x0200
#define MAILBOX_USE_TRASH		0x0400
#define MAILBOX_USE_JUNK		0x0800
#define MAILBOX_USE_ARCHIVE		0x1000
#define MAILBOX_USE_ALL			0x1f00

/* ---- names ---- */

/* Whether NAME (UTF-8) can name a folder: valid UTF-8, 1 to
   MAILBOX_NAME_MAX octets, no control bytes, no '/', no empty level
   (no leading, trailing or doubled '.'), no level "." or "..", no '*'
   or '%', and not below INBOX. "INBOX" in any case is INBOX. */
bool	mailbox_name_valid(const char *name);
/* Modified UTF-7 (RFC 3501 5.1.3) to UTF-8 and back, for IMAP4rev1
   clients and the directory names. 0, or -1 when IN is not valid or
   the result does not fit OUTSZ. */
int	mailbox_mutf7_to_utf8(const char *in, char *out, size_t outsz)
	    WARN_UNUSED;
int	mailbox_utf8_to_mutf7(const char *in, char *out, size_t outsz)
	    WARN_UNUSED;
/* RFC 9051 6.3.9 LIST matching of NAME against PATTERN ('*' matches
   anything, '%' anything but the separator '.'); "INBOX" matches
   case-insensitively. Linear in the product of the lengths. */
bool	mailbox_pattern_match(const char *pattern, const char *name);
/* The POP3 UIDL of the Maildir file name FILE (pop3_maildrop.c's rule:
   its unique part, or a SHA-256 prefix when that is no valid UIDL). */
void	mailbox_uidl(const char *file, char out[MAILBOX_UIDL_MAX + 1]);

/* The states of the last folders used stay in memory without a view
   (at most 64), so a SELECT or STATUS again costs a check of the
   directory mtimes, not a reload. This frees them (their index records
   are synced first): at shutdown, and in tests that change index files
   behind the module's back. */
void	mailbox_cache_flush(void);

/* Where the message file NAME, as a listing of new/ or cur/ of the
   Maildir PATH below DIR_FD found it, is now: a sync moves new/ to cur/
   and renames for flags, so a POP3 session that listed it before must
   look again. Its path below DIR_FD into OUT. 1 found, 0 gone, -1 on
   an error (errno). O(messages): for the rare miss only. */
int	mailbox_file_find(int dir_fd, const char *path, const char *name,
	    char *out, size_t outsz) WARN_UNUSED;

/* ---- the user's folders ---- */

/* The Maildir PATH below DIR_FD (both must outlive the handle; PATH is
   copied), made if missing. HOSTNAME goes into new file names. On the
   first open of a Maildir (no popgate-special-use file yet) the folders
   Sent Drafts Trash Junk Archive are made, subscribed and given their
   SPECIAL-USE. NULL on failure. */
struct mailbox_user *mailbox_user_open(int dir_fd, const char *path,
	    const char *hostname, struct mailbox_err *);
/* Closes the handle; views must be closed first. NULL-safe. */
void	mailbox_user_free(struct mailbox_user **);

struct mailbox_entry {
	char		 name[MAILBOX_NAME_MAX + 1];	/* UTF-8 */
	unsigned	 attrs;		/* MAILBOX_ATTR_*, MAILBOX_USE_* */
};

struct mailbox_list {
	struct mailbox_entry *v;	/* sorted by name, INBOX first */
	size_t		 n;
};

#define MAILBOX_LIST_SUBSCRIBED	0x01	/* LSUB / (SUBSCRIBED): only those */

/* The folders matching PATTERN (the reference already joined to it),
   with attributes; parents that do not exist but have children are
   listed \NonExistent when the pattern ends in '%' or when FLAGS asks
   for subscribed names (RFC 9051 6.3.9). OUT is replaced. */
int	mailbox_list(struct mailbox_user *, const char *pattern,
	    unsigned flags, struct mailbox_list *out, struct mailbox_err *)
	    WARN_UNUSED;
void	mailbox_list_free(struct mailbox_list *);
/* Creates NAME (and any missing parent, RFC 9051 6.3.4) with the
   SPECIAL-USE bits USE (MAILBOX_USE_*, RFC 6154 CREATE-SPECIAL-USE; 0
   for none). ERR_EXISTS when it exists, ERR_CANNOT for a bad name. */
int	mailbox_create(struct mailbox_user *, const char *name, unsigned use,
	    struct mailbox_err *) WARN_UNUSED;
/* Deletes NAME and its messages (never INBOX). Its children stay: the
   name then lists as \NonExistent parent (Maildir++ has no \Noselect
   folder that holds nothing). Views of it get ERR_GONE. */
int	mailbox_delete(struct mailbox_user *, const char *name,
	    struct mailbox_err *) WARN_UNUSED;
/* Renames FROM and its children to TO. Renaming INBOX moves its
   messages into a new folder TO and leaves INBOX empty (RFC 9051
   6.3.6). Subscriptions and SPECIAL-USE follow. */
int	mailbox_rename(struct mailbox_user *, const char *from,
	    const char *to, struct mailbox_err *) WARN_UNUSED;
/* SUBSCRIBE / UNSUBSCRIBE (the name need not exist, RFC 9051 6.3.7). */
int	mailbox_subscribe(struct mailbox_user *, const char *name, bool on,
	    struct mailbox_err *) WARN_UNUSED;

struct mailbox_status {
	uint32_t	 messages, recent, unseen, deleted;
	uint32_t	 uidnext, uidvalidity;
	uint64_t	 size;		/* sum of RFC822.SIZE (STATUS=SIZE) */
	uint64_t	 highestmodseq;
};
/* STATUS of NAME, synced with its Maildir, without a view. */
int	mailbox_status(struct mailbox_user *, const char *name,
	    struct mailbox_status *, struct mailbox_err *) WARN_UNUSED;
/* Octets (file sizes, as the SMTP quota counts them) and messages in
   all folders of the user, for QUOTA (RFC 9208); the limit is the
   caller's (the account store's). */
int	mailbox_quota_usage(struct mailbox_user *, uint64_t *octets_r,
	    uint64_t *messages_r, struct mailbox_err *) WARN_UNUSED;

/* APPEND (RFC 9051 6.3.12, UIDPLUS): DATA (CRLF or LF line ends;
   stored with LF, as delivery does) into folder NAME with FLAGS and
   KEYWORDS, INTERNALDATE (0: now). Durable before it returns: tmp/,
   fsync, link into cur/, fsync of cur/, the index record synced. The
   new UID and the folder's UIDVALIDITY (APPENDUID) into the _r's. */
struct mailbox_append {
	const struct spool *data;
	unsigned	 flags;
	const char *const *keywords;
	size_t		 nkeywords;
	int64_t		 internaldate;
};
int	mailbox_append(struct mailbox_user *, const char *name,
	    const struct mailbox_append *, uint32_t *uidvalidity_r,
	    uint32_t *uid_r, struct mailbox_err *) WARN_UNUSED;

/* ---- views (a selected folder) ---- */

#define MAILBOX_VIEW_READONLY	0x01	/* EXAMINE: no STORE, EXPUNGE,
					   MOVE, and no \Recent claimed */

/* SELECT / EXAMINE NAME ("INBOX" in any case): syncs with the Maildir
   and fixes the view's sequence numbers. FLAGS: MAILBOX_VIEW_*. NULL on
   failure. */
struct mailbox_view *mailbox_view_open(struct mailbox_user *,
	    const char *name, unsigned flags, struct mailbox_err *);
void	mailbox_view_close(struct mailbox_view **);

struct mailbox_msg {
	uint32_t	 uid;
	unsigned	 flags;		/* MAILBOX_SEEN ... */
	bool		 recent;
	bool		 expunged;	/* gone, EXPUNGE not yet reported */
	uint64_t	 keywords[2];	/* bit i: mailbox_view_keyword(i) */
	uint64_t	 modseq;
	uint64_t	 size;		/* RFC822.SIZE: octets with CRLF */
	int64_t		 internaldate;	/* seconds since the epoch */
};

/* What the view knows as of its last sync. */
struct mailbox_view_info {
	uint32_t	 exists, recent, unseen;
	uint32_t	 first_unseen;	/* sequence number, 0 none */
	uint32_t	 uidnext, uidvalidity;
	uint64_t	 highestmodseq;
	unsigned	 nkeywords;
};
void	mailbox_view_get_info(struct mailbox_view *,
	    struct mailbox_view_info *);
/* Keyword IDX (< nkeywords), valid while the view is open. */
const char *mailbox_view_keyword(struct mailbox_view *, unsigned idx);
/* Messages FIRST..LAST (sequence numbers, 1-based, LAST <= exists)
   copied into OUT (LAST - FIRST + 1 entries). 0, or -1 out of range. */
int	mailbox_view_msgs(struct mailbox_view *, uint32_t first,
	    uint32_t last, struct mailbox_msg *out) WARN_UNUSED;
/* The sequence number of UID, 0 if the view has none. Logarithmic. */
uint32_t mailbox_view_seq(struct mailbox_view *, uint32_t uid);
/* The UID of sequence number SEQ, 0 out of range. */
uint32_t mailbox_view_uid(struct mailbox_view *, uint32_t seq);

/* What changed since the view's last sync (RFC 9051 7.4.1, 7.3.4,
   RFC 7162 3.2.10). Arrays are malloc'ed; mailbox_changes_free(). */
struct mailbox_changes {
	uint32_t	*expunged;	/* sequence numbers, in sending order */
	uint32_t	*vanished;	/* the same messages' UIDs, ascending */
	size_t		 nexpunged;
	uint32_t	*changed;	/* sequence numbers (after the
					   expunges) of flag/keyword changes
					   other views or programs made */
	size_t		 nchanged;
	uint32_t	 exists;	/* message count after */
	uint32_t	 recent;
	bool		 exists_changed;
	bool		 keywords_added; /* send FLAGS / PERMANENTFLAGS */
	uint64_t	 highestmodseq;
};
/* Syncs with the Maildir and other views. With EXPUNGES false (during
   FETCH, STORE, SEARCH: RFC 9051 7.4.1) expunged messages stay in the
   view, marked expunged, and are reported by a later sync. */
int	mailbox_view_sync(struct mailbox_view *, bool expunges,
	    struct mailbox_changes *, struct mailbox_err *) WARN_UNUSED;
void	mailbox_changes_free(struct mailbox_changes *);
/* Cheap check for IDLE timers and between commands: true when a sync
   may report something (a change by another view, or new/ or cur/
   changed on disk). Two stat(2) calls and a lock; no directory scan. */
bool	mailbox_view_poll(struct mailbox_view *);
/* UIDs expunged with a MODSEQ above MODSEQ (QRESYNC VANISHED (EARLIER),
   RFC 7162 3.2.5.2), ascending, malloc'ed. 1 when the history reaches
   back that far, 0 when it does not (the caller then reports every UID
   of the client's set that is not in the view). */
int	mailbox_view_vanished_since(struct mailbox_view *, uint64_t modseq,
	    uint32_t **uids_r, size_t *n_r) WARN_UNUSED;

enum mailbox_store_op {
	MAILBOX_STORE_SET,	/* FLAGS */
	MAILBOX_STORE_ADD,	/* +FLAGS */
	MAILBOX_STORE_REMOVE,	/* -FLAGS */
};

struct mailbox_store {
	enum mailbox_store_op op;
	unsigned	 flags;
	const char *const *keywords;	/* new names are defined */
	size_t		 nkeywords;
	bool		 unchangedsince_set;	/* RFC 7162 3.1.3 */
	uint64_t	 unchangedsince;
};

struct mailbox_store_result {
	uint32_t	*modified;	/* UIDs that failed UNCHANGEDSINCE */
	size_t		 nmodified;
	uint32_t	*changed;	/* UIDs whose flags changed now */
	size_t		 nchanged;
	bool		 keywords_added; /* new names: send FLAGS */
};
/* STORE on the N messages UIDS (expunged ones are skipped). Renames the
   files, fsyncs cur/, appends the index records and syncs them. The
   view's next sync does not report these changes again. */
int	mailbox_store(struct mailbox_view *, const uint32_t *uids, size_t n,
	    const struct mailbox_store *, struct mailbox_store_result *,
	    struct mailbox_err *) WARN_UNUSED;
void	mailbox_store_result_free(struct mailbox_store_result *);
/* EXPUNGE (UIDS NULL) or UID EXPUNGE (RFC 4315): removes the messages
   marked \Deleted (among UIDS). The next sync reports them. */
int	mailbox_expunge(struct mailbox_view *, const uint32_t *uids,
	    size_t n, struct mailbox_err *) WARN_UNUSED;

struct mailbox_copy_result {
	uint32_t	 uidvalidity;	/* of the destination */
	uint32_t	*src, *dst;	/* COPYUID pairs, ascending src */
	size_t		 n;
};
/* COPY / MOVE (RFC 6851) of the messages UIDS into folder DEST, flags,
   keywords and cache with them. Durable in DEST before the sources are
   expunged (MOVE): a crash may leave a copy, never a loss. */
int	mailbox_copy(struct mailbox_view *, const uint32_t *uids, size_t n,
	    const char *dest, bool move, struct mailbox_copy_result *,
	    struct mailbox_err *) WARN_UNUSED;
void	mailbox_copy_result_free(struct mailbox_copy_result *);

/* Opens message UID for reading: *FD_R (the caller closes it) and the
   file's size *SIZE_R (LF line ends as stored). 1, 0 when it is gone,
   -1 on error. */
int	mailbox_msg_open(struct mailbox_view *, uint32_t uid, int *fd_r,
	    uint64_t *size_r, struct mailbox_err *) WARN_UNUSED;
/* The POP3 UIDL of message UID into OUT. 1, 0 if it is gone. */
int	mailbox_msg_uidl(struct mailbox_view *, uint32_t uid,
	    char out[MAILBOX_UIDL_MAX + 1]);
/* The cache blob of UID (the MIME parser's serialised BODYSTRUCTURE and
   ENVELOPE): appended to OUT. 1, 0 when there is none, -1 if OUT's
   limit was reached. */
int	mailbox_cache_get(struct mailbox_view *, uint32_t uid,
	    struct buf *out) WARN_UNUSED;
/* Stores LEN (<= MAILBOX_CACHE_MAX) octets as UID's cache blob; logged,
   not synced (a lost cache is computed again). */
int	mailbox_cache_put(struct mailbox_view *, uint32_t uid,
	    const void *p, size_t len, struct mailbox_err *) WARN_UNUSED;

#endif
