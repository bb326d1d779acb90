/*
 * imap_parse.h - IMAP client commands as data (RFC 9051 section 9, the
 * RFC 3501 forms IMAP4rev1 clients still send, and the extensions
 * popgate offers: IDLE, UIDPLUS, MOVE, LITERAL+, ENABLE, NAMESPACE, ID,
 * SPECIAL-USE, CONDSTORE, QRESYNC, QUOTA, STATUS=SIZE, APPENDLIMIT,
 * SASL-IR, UNSELECT, COMPRESS).
 *
 * imap_parse() is a pure function from the bytes of one complete command
 * to a struct: the session reads lines (imap_literal_scan() tells it when
 * a literal follows and how long it is), hands over the whole command
 * and then only checks the state and acts. Nothing here does I/O or
 * keeps state between commands but the parser's memory.
 *
 * The session's reading loop: read a line (core/linereader.h, bounded);
 * if imap_literal_scan() says a literal follows, answer "+ " unless it
 * is {n+}, read its octets and the next line, keeping each CRLF, and
 * scan that line again; then hand the whole, without its last CRLF, to
 * imap_parse(). imap_cmd_peek() on the first line tells which command
 * it is, to choose the literal limit (APPENDLIMIT for APPEND).
 *
 * Ownership: every string of a parsed command is a copy in the parser's
 * arena, NUL-terminated after LEN octets, valid until the next
 * imap_parse() or imap_parser_clear() on the same parser; the one
 * exception is an APPEND message, which points into the input (it may
 * be large, and may hold NULs).
 */
#ifndef POPGATE_IMAP_PARSE_H
#define POPGATE_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/buf.h"

/* ---- limits: exceeding one is a parse error naming it ([LIMIT]) ---- */

#define IMAP_LINE_MAX		65536	/* a line, without literals or CRLF */
#define IMAP_CMD_MAX		(1024 * 1024)	/* a command, but APPEND data */
#define IMAP_DEPTH_MAX		32	/* search nesting: (), NOT, OR */
#define IMAP_SEARCH_NODES_MAX	1000	/* search keys in one command */
#define IMAP_FETCH_ATTS_MAX	64	/* FETCH attributes (macros expanded) */
#define IMAP_RANGES_MAX		10000	/* sequence-set ranges in one command */
#define IMAP_FLAGS_MAX		128	/* flags in one list */
#define IMAP_LIST_MAX		128	/* any other list: header fields, ... */
#define IMAP_PARTS_MAX		32	/* part numbers in a section: 1.2.3 */
#define IMAP_ID_PAIRS_MAX	30	/* ID field-value pairs (RFC 2971) */
#define IMAP_MAILBOX_MAX	250	/* a mailbox name: one Maildir++ name */
#define IMAP_ERR_MAX		160	/* an error text, with its NUL */

/* ---- commands ---- */

enum imap_cmd_id {
	IMAP_CMD_UNKNOWN,
	/* any state */
	IMAP_CMD_CAPABILITY,
	IMAP_CMD_NOOP,
	IMAP_CMD_LOGOUT,
	IMAP_CMD_ID,
	/* not authenticated */
	IMAP_CMD_STARTTLS,
	IMAP_CMD_AUTHENTICATE,
	IMAP_CMD_LOGIN,
	/* authenticated */
	IMAP_CMD_ENABLE,
	IMAP_CMD_SELECT,
	IMAP_CMD_EXAMINE,
	IMAP_CMD_CREATE,
	IMAP_CMD_DELETE,
	IMAP_CMD_RENAME,
	IMAP_CMD_SUBSCRIBE,
	IMAP_CMD_UNSUBSCRIBE,
	IMAP_CMD_LIST,
	IMAP_CMD_LSUB,
	IMAP_CMD_NAMESPACE,
	IMAP_CMD_STATUS,
	IMAP_CMD_APPEND,
	IMAP_CMD_IDLE,
	IMAP_CMD_GETQUOTA,
	IMAP_CMD_GETQUOTAROOT,
	IMAP_CMD_SETQUOTA,
	IMAP_CMD_COMPRESS,
	/* selected */
	IMAP_CMD_CHECK,
	IMAP_CMD_CLOSE,
	IMAP_CMD_UNSELECT,
	IMAP_CMD_EXPUNGE,	/* with the UID prefix: UID EXPUNGE set */
	IMAP_CMD_SEARCH,
	IMAP_CMD_FETCH,
	IMAP_CMD_STORE,
	IMAP_CMD_COPY,
	IMAP_CMD_MOVE,
	IMAP_CMD_COUNT
};

/* Session states, for the states mask of the command table. */
#define IMAP_STATE_NOTAUTH	0x01u
#define IMAP_STATE_AUTH		0x02u
#define IMAP_STATE_SELECTED	0x04u
#define IMAP_STATE_ANY		0x07u

/* A row of the command table (imap_parse.c): the grammar of the
   arguments stays inside the parser; the states are RFC 9051's, for the
   session's dispatcher to check (it alone answers "wrong state"). */
struct imap_cmd_info {
	const char	*name;		/* upper case, as in the RFC */
	enum imap_cmd_id id;
	unsigned	 states;	/* IMAP_STATE_* where it is valid */
	bool		 plain;		/* may come without the UID prefix */
	bool		 uid;		/* may come with the UID prefix */
};

/* The table row of ID, or NULL for IMAP_CMD_UNKNOWN and out-of-range
   values. Static storage. */
const struct imap_cmd_info *imap_cmd_info(enum imap_cmd_id);

/* ---- argument types ---- */

/* A string: S is NUL-terminated after LEN octets (arena copy, see the
   top of this file); S is NULL for NIL or an absent optional string. */
struct imap_str {
	const char	*s;
	size_t		 len;
};

/* A message number or UID range. '*' is IMAP_SEQ_STAR (0 is no valid
   number). Normalised: LO <= HI when both are numbers; when one is '*'
   it is HI ("*:5" is stored as 5:*). */
#define IMAP_SEQ_STAR	0u
struct imap_range {
	uint32_t	 lo, hi;
};

/* A sequence set; SAVED for "$" (RFC 9051 6.4.4.1, the result of the
   last SEARCH RETURN (SAVE)), which then has no ranges. */
struct imap_seqset {
	const struct imap_range *r;
	size_t		 n;
	bool		 saved;
};

/* System flags, as bits. */
#define IMAP_FLAG_SEEN		0x01u
#define IMAP_FLAG_ANSWERED	0x02u
#define IMAP_FLAG_FLAGGED	0x04u
#define IMAP_FLAG_DELETED	0x08u
#define IMAP_FLAG_DRAFT		0x10u

/* The name of one system flag bit ("\\Seen"), or NULL. Static. */
const char *imap_flag_name(unsigned bit);

/* A flag list: the system flags as bits, keywords (atoms, as sent;
   IMAP keywords compare case-insensitively) in KW. \Recent and unknown
   \Flags are parse errors: a client may not set them (RFC 9051 2.3.2). */
struct imap_flags {
	unsigned	 sys;
	const struct imap_str *kw;
	size_t		 nkw;
};

/* A mailbox name; INBOX in any case is folded to "INBOX" (RFC 9051
   5.1), other names are as sent. Whether a name is acceptable is
   imap_mailbox_name_ok(), for the session to call where it matters. */
struct imap_mailbox {
	struct imap_str	 name;
	bool		 inbox;
};

/* A calendar date (SEARCH BEFORE/ON/SINCE/SENT*): T is its 00:00:00 UTC;
   the session compares days in the zone it chooses. */
struct imap_date {
	int		 year, mon, day;	/* 1-12, 1-31 */
	time_t		 t;
};

/* ---- STATUS items (also LIST RETURN (STATUS (...))) ---- */

#define IMAP_STATUS_MESSAGES		0x001u
#define IMAP_STATUS_RECENT		0x002u	/* RFC 3501 */
#define IMAP_STATUS_UIDNEXT		0x004u
#define IMAP_STATUS_UIDVALIDITY		0x008u
#define IMAP_STATUS_UNSEEN		0x010u
#define IMAP_STATUS_DELETED		0x020u
#define IMAP_STATUS_SIZE		0x040u
#define IMAP_STATUS_HIGHESTMODSEQ	0x080u	/* RFC 7162 */
#define IMAP_STATUS_APPENDLIMIT		0x100u	/* RFC 7889 */

/* The name of one STATUS item bit ("MESSAGES"), or NULL. Static. */
const char *imap_status_item_name(unsigned bit);

/* ---- FETCH ---- */

enum imap_fetch_kind {
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_BODY,		/* BODY alone: the non-extensible
					   BODYSTRUCTURE */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_UID,
	IMAP_FETCH_MODSEQ,		/* RFC 7162 */
	IMAP_FETCH_RFC822,		/* = BODY[] (sets \Seen) */
	IMAP_FETCH_RFC822_HEADER,	/* = BODY.PEEK[HEADER] */
	IMAP_FETCH_RFC822_TEXT,		/* = BODY[TEXT] (sets \Seen) */
	IMAP_FETCH_BODY_SECTION,	/* BODY[...] and BODY.PEEK[...] */
	IMAP_FETCH_BINARY,		/* BINARY[...] and BINARY.PEEK[...] */
	IMAP_FETCH_BINARY_SIZE,		/* BINARY.SIZE[...] */
	IMAP_FETCH_KIND_COUNT
};

enum imap_section_text {
	IMAP_SECTION_ALL,		/* BODY[] or BODY[1.2]: the part */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,		/* only after a part number */
};

struct imap_section {
	const uint32_t	*part;		/* 1.2.3 as {1, 2, 3}; each >= 1 */
	size_t		 nparts;
	enum imap_section_text text;
	const struct imap_str *field;	/* HEADER.FIELDS[.NOT] names */
	size_t		 nfields;
};

struct imap_fetch_att {
	enum imap_fetch_kind kind;
	bool		 peek;		/* BODY.PEEK / BINARY.PEEK */
	struct imap_section section;	/* BODY_SECTION, BINARY, BINARY_SIZE */
	bool		 partial;	/* <offset.length> was given */
	uint64_t	 offset, length;	/* length >= 1 */
};

enum imap_fetch_macro {
	IMAP_FETCH_NO_MACRO,
	IMAP_FETCH_MACRO_ALL,		/* expanded into ATT all the same */
	IMAP_FETCH_MACRO_FAST,
	IMAP_FETCH_MACRO_FULL,
};

struct imap_fetch {
	const struct imap_fetch_att *att;
	size_t		 natts;
	enum imap_fetch_macro macro;
	bool		 changedsince_set;	/* (CHANGEDSINCE n): RFC 7162 */
	uint64_t	 changedsince;
	bool		 vanished;	/* (VANISHED): UID FETCH only, with
					   CHANGEDSINCE (RFC 7162 3.2.6) */
};

/* ---- STORE ---- */

enum imap_store_op {
	IMAP_STORE_SET,		/* FLAGS */
	IMAP_STORE_ADD,		/* +FLAGS */
	IMAP_STORE_REMOVE,	/* -FLAGS */
};

struct imap_store {
	enum imap_store_op op;
	bool		 silent;	/* .SILENT */
	bool		 unchangedsince_set;	/* (UNCHANGEDSINCE n) */
	uint64_t	 unchangedsince;
	struct imap_flags flags;
};

/* ---- SEARCH ---- */

enum imap_search_key {
	IMAP_SK_AND,		/* the root, and each ( ... ): all children */
	IMAP_SK_OR,		/* two children */
	IMAP_SK_NOT,		/* one child */
	IMAP_SK_ALL,
	IMAP_SK_ANSWERED,
	IMAP_SK_DELETED,
	IMAP_SK_DRAFT,
	IMAP_SK_FLAGGED,
	IMAP_SK_SEEN,
	IMAP_SK_UNANSWERED,
	IMAP_SK_UNDELETED,
	IMAP_SK_UNDRAFT,
	IMAP_SK_UNFLAGGED,
	IMAP_SK_UNSEEN,
	IMAP_SK_NEW,		/* RFC 3501: RECENT UNSEEN */
	IMAP_SK_OLD,		/* RFC 3501: NOT RECENT */
	IMAP_SK_RECENT,		/* RFC 3501 */
	IMAP_SK_KEYWORD,	/* u.str: a keyword */
	IMAP_SK_UNKEYWORD,
	IMAP_SK_BCC,		/* u.str: a substring */
	IMAP_SK_BODY,
	IMAP_SK_CC,
	IMAP_SK_FROM,
	IMAP_SK_SUBJECT,
	IMAP_SK_TEXT,
	IMAP_SK_TO,
	IMAP_SK_HEADER,		/* u.header */
	IMAP_SK_BEFORE,		/* u.date: internal date */
	IMAP_SK_ON,
	IMAP_SK_SINCE,
	IMAP_SK_SENTBEFORE,	/* u.date: Date: header field */
	IMAP_SK_SENTON,
	IMAP_SK_SENTSINCE,
	IMAP_SK_LARGER,		/* u.number: RFC822.SIZE */
	IMAP_SK_SMALLER,
	IMAP_SK_SEQSET,		/* u.set: message numbers */
	IMAP_SK_UID,		/* u.set: UIDs */
	IMAP_SK_MODSEQ,		/* u.modseq: RFC 7162 */
	IMAP_SK_COUNT
};

enum imap_entry_type {
	IMAP_ENTRY_NONE,	/* MODSEQ without an entry name */
	IMAP_ENTRY_PRIV,
	IMAP_ENTRY_SHARED,
	IMAP_ENTRY_ALL,
};

/* One search key. CHILD is the index of the first child, NEXT of the
   next sibling; 0 ends both (node 0 is the root, never a child). */
struct imap_search_node {
	enum imap_search_key key;
	uint32_t	 child, next;
	union {
		struct imap_str	str;
		struct {
			struct imap_str	name, value;
		} header;
		struct imap_date date;
		uint64_t	number;
		struct imap_seqset set;
		struct {
			uint64_t	value;	/* 0 allowed (valzer) */
			struct imap_str	entry;	/* "/flags/\\Seen", or NULL */
			enum imap_entry_type type;
		} modseq;
	} u;
};

/* SEARCH RETURN options (RFC 9051 6.4.4, ESEARCH). */
#define IMAP_SEARCH_RET_MIN	0x01u
#define IMAP_SEARCH_RET_MAX	0x02u
#define IMAP_SEARCH_RET_ALL	0x04u
#define IMAP_SEARCH_RET_COUNT	0x08u
#define IMAP_SEARCH_RET_SAVE	0x10u

struct imap_search {
	struct imap_str	 charset;	/* CHARSET x, or NULL */
	bool		 esearch;	/* RETURN (...) was given: answer
					   ESEARCH; RETURN () means ALL */
	unsigned	 ret;		/* IMAP_SEARCH_RET_* */
	const struct imap_search_node *node;	/* node[0]: the root AND */
	size_t		 nnodes;
};

/* ---- SELECT / EXAMINE parameters ---- */

struct imap_select {
	bool		 condstore;	/* (CONDSTORE) */
	bool		 qresync;	/* (QRESYNC (...)), RFC 7162 3.2.5 */
	uint32_t	 uidvalidity;
	uint64_t	 modseq;
	struct imap_seqset known_uids;	/* n == 0 when not given */
	struct imap_seqset match_seqs, match_uids;	/* seq-match-data */
};

/* ---- LIST / LSUB ---- */

#define IMAP_LIST_SEL_SUBSCRIBED	0x01u
#define IMAP_LIST_SEL_REMOTE		0x02u
#define IMAP_LIST_SEL_RECURSIVEMATCH	0x04u
#define IMAP_LIST_SEL_SPECIAL_USE	0x08u

#define IMAP_LIST_RET_SUBSCRIBED	0x01u
#define IMAP_LIST_RET_CHILDREN		0x02u
#define IMAP_LIST_RET_SPECIAL_USE	0x04u
#define IMAP_LIST_RET_STATUS		0x08u

struct imap_list {
	struct imap_mailbox ref;	/* the reference name, maybe "" */
	const struct imap_str *pattern;	/* one or more; wildcards kept */
	size_t		 npatterns;
	bool		 extended;	/* options or a pattern list given
					   (RFC 5258 LIST-EXTENDED) */
	unsigned	 sel;		/* IMAP_LIST_SEL_* */
	unsigned	 ret;		/* IMAP_LIST_RET_* */
	unsigned	 status;	/* IMAP_STATUS_* of RETURN (STATUS) */
};

/* ---- CREATE (USE (...)): RFC 6154 ---- */

#define IMAP_USE_ALL		0x01u
#define IMAP_USE_ARCHIVE	0x02u
#define IMAP_USE_DRAFTS		0x04u
#define IMAP_USE_FLAGGED	0x08u
#define IMAP_USE_JUNK		0x10u
#define IMAP_USE_SENT		0x20u
#define IMAP_USE_TRASH		0x40u
#define IMAP_USE_OTHER		0x80u	/* an unknown \Attr: NO [USEATTR] */

/* ---- APPEND ---- */

struct imap_append {
	struct imap_flags flags;	/* empty when not given */
	bool		 date_set;	/* a date-time was given */
	time_t		 date;		/* UTC */
	int		 zone;		/* minutes east of UTC */
	const char	*data;		/* the message: into the input */
	size_t		 datalen;
	bool		 binary;	/* literal8 ~{n} (RFC 3516) */
};

/* ---- ID (RFC 2971) ---- */

struct imap_id_param {
	struct imap_str	 field, value;	/* value.s NULL for NIL */
};

/* ---- SETQUOTA (RFC 9208) ---- */

struct imap_quota_res {
	struct imap_str	 name;		/* STORAGE, MESSAGE, ... */
	uint64_t	 limit;
};

/* ---- the command ---- */

/* Which fields are set depends on ID (and UID); the rest are zero. */
struct imap_cmd {
	struct imap_str	 tag;
	enum imap_cmd_id id;
	bool		 uid;		/* the UID prefix */

	struct imap_mailbox mailbox;	/* SELECT EXAMINE CREATE DELETE
					   RENAME (old) SUBSCRIBE UNSUBSCRIBE
					   STATUS APPEND GETQUOTAROOT;
					   COPY and MOVE: the destination */
	struct imap_mailbox newname;	/* RENAME */
	struct imap_seqset set;		/* FETCH STORE COPY MOVE UID EXPUNGE */

	struct imap_str	 user, pass;	/* LOGIN */
	struct imap_str	 mech;		/* AUTHENTICATE, COMPRESS */
	struct imap_str	 ir;		/* AUTHENTICATE initial response
					   (RFC 4959), NULL when none; "="
					   is the empty response */
	const struct imap_str *cap;	/* ENABLE */
	size_t		 ncaps;
	bool		 id_nil;	/* ID NIL */
	const struct imap_id_param *idp;	/* ID ( ... ) */
	size_t		 nidp;
	struct imap_str	 quota_root;	/* GETQUOTA SETQUOTA */
	const struct imap_quota_res *quota;	/* SETQUOTA */
	size_t		 nquota;
	unsigned	 use;		/* CREATE (USE (...)): IMAP_USE_* */
	unsigned	 status;	/* STATUS: IMAP_STATUS_* */

	struct imap_select select;	/* SELECT EXAMINE */
	struct imap_list list;		/* LIST LSUB */
	struct imap_append append;	/* APPEND */
	struct imap_fetch fetch;	/* FETCH */
	struct imap_store store;	/* STORE */
	struct imap_search search;	/* SEARCH */
};

/* ---- errors ---- */

enum imap_err_code {
	IMAP_ERRC_NONE,
	IMAP_ERRC_LIMIT,	/* [LIMIT] (RFC 5530): a limit above */
	IMAP_ERRC_TOOBIG,	/* [TOOBIG]: the command is too large */
	IMAP_ERRC_SERVERBUG,	/* [SERVERBUG]: out of memory */
};

/* Why a command was refused: "TAG BAD [CODE] TEXT" when TAGGED, else
   "* BAD [CODE] TEXT". TEXT is printable ASCII, no CR or LF, quoting
   at most a short piece of the input; it points to static storage or
   into BUF. */
struct imap_error {
	const char	*text;
	enum imap_err_code code;
	bool		 tagged;
	struct imap_str	 tag;		/* when TAGGED: arena copy */
	enum imap_cmd_id cmd;		/* the command, when it was read */
	bool		 uid;
	size_t		 offset;	/* where in the input (for logs) */
	char		 buf[IMAP_ERR_MAX];
};

/* ---- the parser ---- */

struct imap_parser;

/* A parser with no memory yet. Aborts on out of memory (xalloc). */
struct imap_parser *imap_parser_new(void);
/* Frees it and its arena; NULL is fine; *P becomes NULL. */
void	imap_parser_free(struct imap_parser **p);
/* Frees the arena: every result of the last parse becomes invalid. An
   idle session calls it to hold no memory between commands. */
void	imap_parser_clear(struct imap_parser *);
/* True when [PTR, PTR + LEN) lies inside the parser's arena (for the
   tests and the fuzz harness). */
bool	imap_parser_owns(const struct imap_parser *, const void *ptr,
	    size_t len);

/* Parses one whole command: IN holds LEN octets, the tag through the
   last argument, with each literal inline as on the wire ("{3}" CRLF
   and its octets), without the final CRLF; IN need not be
   NUL-terminated and nothing past LEN is read. Frees the previous
   results first. 0 and *CMD filled; or -1 and *ERR says why (and
   whether the tag was read). An empty line is an untagged error; the
   session may prefer to ignore it. */
int	imap_parse(struct imap_parser *, const char *in, size_t len,
	    struct imap_cmd *cmd, struct imap_error *err);

/* ---- helpers for the session's reading loop ---- */

struct imap_literal {
	uint64_t	 size;		/* octets that follow the CRLF */
	bool		 nonsync;	/* {n+} (RFC 7888): no "+" awaited */
	bool		 binary;	/* ~{n}: literal8 (RFC 3516) */
};

/* Looks at the end of LINE (LEN octets, no CRLF): 1 when it announces a
   literal ("{n}", "{n+}", "~{n}", "~{n+}") of at most MAX octets, *LIT
   filled: read SIZE octets (after sending "+ ..." unless NONSYNC), then
   another line of the same command. 0 when the line ends the command.
   -1 when the literal is larger than MAX (SIZE is UINT64_MAX when the
   number does not fit in 64 bits; *LIT is filled): a synchronising one
   is refused before the client sends it ("TAG NO [TOOBIG]" or BAD, and
   the command ends there); a non-synchronising one is on its way all
   the same, so the session answers BAD [TOOBIG] and must skip SIZE
   octets and the rest of the command, or close the connection (RFC
   7888 4; with LITERAL- the limit for NONSYNC is 4096). */
int	imap_literal_scan(const char *line, size_t len, uint64_t max,
	    struct imap_literal *lit);

/* The tag and command of a first line, before the whole command is in
   (to choose a literal limit: APPEND takes APPENDLIMIT, the rest
   less). 0 and *ID, *UID set (ID may be IMAP_CMD_UNKNOWN), or -1 when
   not even a tag and a word are there. */
int	imap_cmd_peek(const char *line, size_t len, enum imap_cmd_id *id,
	    bool *uid);

/* True when LINE is "DONE" in any case (the end of IDLE, RFC 2177). */
bool	imap_is_done(const char *line, size_t len);

/* ---- sequence sets ---- */

/* True when N is in SET, '*' being MAX (the number of messages, or the
   highest UID); reversed ranges count both ways (RFC 9051 9: "*:4" is
   "4:*"). A "$" set contains nothing here: the session keeps it. */
bool	imap_seqset_contains(const struct imap_seqset *, uint32_t n,
	    uint32_t max);
/* True when no number of SET exceeds MAX ('*' aside): message numbers
   beyond the mailbox are BAD (RFC 9051 6.4.8), UIDs beyond it are not. */
bool	imap_seqset_in_bounds(const struct imap_seqset *, uint32_t max);
/* Resolves SET against MAX into OUT (room for SET->n ranges): sorted,
   disjoint, merged, each within 1..MAX. Returns their number (0 when
   MAX is 0 or nothing is left). */
size_t	imap_seqset_resolve(const struct imap_seqset *, uint32_t max,
	    struct imap_range *out);

/* Walks resolved ranges number by number. */
struct imap_seq_iter {
	const struct imap_range *r;
	size_t		 n, i;
	uint32_t	 next;
};
void	imap_seq_iter_init(struct imap_seq_iter *, const struct imap_range *,
	    size_t n);
/* 1 and *N set, or 0 at the end. */
int	imap_seq_iter_next(struct imap_seq_iter *, uint32_t *n);

/* ---- dates (RFC 9051 9: date, date-time) ---- */

/* "1-Feb-2024" (day of 1 or 2 digits, month any case, 4-digit year;
   the unquoted form). 0 and *D, or -1 (no such day: 30-Feb). */
int	imap_date_parse(const char *s, size_t len, struct imap_date *d);
/* The inside of a date-time: "17-Jul-1996 02:44:25 -0700" (day " 7"
   or "07"; 7 alone accepted too). 0 with *T in UTC and *ZONE in
   minutes east, or -1. */
int	imap_datetime_parse(const char *s, size_t len, time_t *t, int *zone);
/* Appends T shown in ZONE as a quoted date-time (INTERNALDATE). */
int	imap_put_datetime(struct buf *, time_t t, int zone);

/* ---- strings in responses ---- */

/* IMAP_PUT_UTF8: the client may get UTF-8 in quoted strings (IMAP4rev2
   or UTF8=ACCEPT); without it 8-bit text goes as a literal. */
#define IMAP_PUT_UTF8	0x01u

/* Appends S (LEN octets) as a string: quoted when it can be (escaping
   '"' and '\\'), else as a literal "{n}" CRLF octets (CR, LF, NUL, long
   or, without IMAP_PUT_UTF8, 8-bit text). 0, or -1 when the buffer's
   max is passed. */
int	imap_put_string(struct buf *, const char *s, size_t len,
	    unsigned flags);
/* The same, but an atom when S is one (and not NIL). */
int	imap_put_astring(struct buf *, const char *s, size_t len,
	    unsigned flags);
/* NIL when S is NULL, else imap_put_string(). */
int	imap_put_nstring(struct buf *, const char *s, size_t len,
	    unsigned flags);

/* ---- mailbox names ---- */

/* True when NAME may name a folder here (Maildir++, separator '.'):
   not empty, at most IMAP_MAILBOX_MAX octets, valid UTF-8 without
   control characters, no '/', no wildcard ('*', '%'), no empty level
   (leading, trailing or doubled '.'). Else false and *WHY says why
   (static). */
bool	imap_mailbox_name_ok(const char *name, size_t len, const char **why);
/* True when S is valid UTF-8 (no overlong forms, no surrogates). */
bool	imap_utf8_valid(const char *s, size_t len);

/* ---- the canonical form ---- */

/* Appends CMD as a canonical command line (upper-case words, strings
   as atoms, quoted or literals, macros expanded, sets normalised): the
   tests compare it and the fuzz harness checks that it parses back to
   itself. The LOGIN password and AUTHENTICATE initial response are
   written as "***" unless SECRETS. 0, or -1 when the buffer's max is
   passed. */
int	imap_cmd_write(struct buf *, const struct imap_cmd *, bool secrets);

#endif
