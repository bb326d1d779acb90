/*
 * mime.h - a streaming MIME parser (RFC 2045-2049, RFC 5322 header
 * syntax, RFC 2231 parameters) for IMAP's BODYSTRUCTURE, ENVELOPE and
 * BODY[section] (RFC 9051 6.4.5, 7.5.2).
 *
 * A message is fed in chunks of any size (down to one octet; the result
 * never depends on the split) and becomes a tree of parts. The tree keeps
 * offsets and sizes, never bodies: memory is O(parts + kept header
 * fields), bounded by the MIME_*_MAX limits below. Past a limit the rest
 * is opaque (a part not descended into, a header field ignored), never an
 * error.
 *
 * Sizes. Messages are stored with LF line ends (Maildir), IMAP counts
 * octets with CRLF. Every offset here is an offset in the stored file
 * (LF form); every *_crlf size is what the range is on the wire, where
 * each LF not preceded by CR counts as CRLF and nothing is added at the
 * end (so a message without a final line end stays without one). Line
 * counts are counts of LF. The CRLF size of the whole message is its
 * RFC822.SIZE; it equals the Maildir ,W= size for messages delivered by
 * popgate (which always end with a line end and store no CR).
 *
 * Strings in the tree are the raw field values (unfolded: the CRLF or
 * LF of folds dropped; NUL octets made 0x80), not decoded: BODYSTRUCTURE and ENVELOPE return them so
 * (RFC 9051 7.5.2). mime_decode_words() decodes RFC 2047 where IMAP needs
 * the text (SEARCH), mime_param_decode() the RFC 2231 charset form.
 */
#ifndef POPGATE_MIME_H
#define POPGATE_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/compat.h"

/* Limits. Past any of them the parse goes on with the rest opaque. */
#define MIME_DEPTH_MAX		20		/* nesting of parts */
#define MIME_PARTS_MAX		1000		/* parts in one message */
#define MIME_HEADER_MAX		(256 * 1024)	/* header section of a part */
#define MIME_FIELD_MAX		(64 * 1024)	/* one (unfolded) field */
#define MIME_PARAMS_MAX		64		/* parameters of one field */
#define MIME_ADDRS_MAX		1000		/* addresses of one field */
#define MIME_BOUNDARY_MAX	200		/* longer: not a multipart */
#define MIME_KEPT_MAX		(4 * 1024 * 1024) /* tree memory */

struct mime_param {
	const char	*name;		/* as written; RFC 2231 pieces merged */
	const char	*value;		/* unquoted */
};

/* One ENVELOPE address (RFC 9051 7.5.2). A group starts with an entry
   whose host is NULL and mailbox the group name, and ends with an entry
   whose four members are NULL. */
struct mime_addr {
	const char	*name;		/* display name (phrase), or NULL */
	const char	*adl;		/* obsolete route "@a,@b", or NULL */
	const char	*mailbox;
	const char	*host;
};

enum mime_env_field {
	MIME_ENV_DATE,
	MIME_ENV_SUBJECT,
	MIME_ENV_FROM,
	MIME_ENV_SENDER,
	MIME_ENV_REPLY_TO,
	MIME_ENV_TO,
	MIME_ENV_CC,
	MIME_ENV_BCC,
	MIME_ENV_IN_REPLY_TO,
	MIME_ENV_MESSAGE_ID,
	MIME_ENV_N
};

/* The envelope of a message: the first of each field, raw (unfolded,
   leading white space dropped; the subject with white space runs
   collapsed, as Dovecot does), NULL when absent. Address fields are
   parsed too (naddrs[f] 0 for the others). */
struct mime_envelope {
	const char		*field[MIME_ENV_N];
	struct mime_addr	*addrs[MIME_ENV_N];
	size_t			 naddrs[MIME_ENV_N];
};

enum mime_part_flag {
	MIME_PART_MULTIPART	= 1 << 0,  /* children: its body parts */
	MIME_PART_MESSAGE	= 1 << 1,  /* child: the embedded message */
	MIME_PART_OPAQUE	= 1 << 2,  /* multipart/message past a limit */
	MIME_PART_HDR_TRUNCATED	= 1 << 3,  /* fields past MIME_HEADER_MAX
					      ignored */
	MIME_PART_DIGEST_CHILD	= 1 << 4,  /* default type message/rfc822 */
};

/* One part. Read-only for users of the tree. The root is the message;
   the child of a message/rfc822 part is the embedded message, whose
   header is that part's body. env is set on both kinds of message. */
struct mime_part {
	struct mime_part	*parent, *children, *next;
	unsigned		 flags;		/* enum mime_part_flag */
	unsigned		 depth;		/* root 0 */
	/* Content-Type, NULL when absent or unparsable (then text/plain,
	   or message/rfc822 in a digest: mime_part_type()). */
	const char		*type, *subtype;
	struct mime_param	*params;
	size_t			 nparams;
	const char		*encoding;	/* Content-Transfer-Encoding */
	const char		*id, *description, *md5, *location;
	const char		*disposition;	/* the token, or NULL */
	struct mime_param	*disp_params;
	size_t			 ndisp_params;
	const char		**languages;	/* Content-Language tags */
	size_t			 nlanguages;
	struct mime_envelope	*env;		/* message roots only */
	/* The header section [hdr_off, body_off) includes its blank line;
	   the body is [body_off, body_off + body_size). */
	uint64_t		 hdr_off, hdr_size, hdr_size_crlf, hdr_lines;
	uint64_t		 body_off, body_size, body_size_crlf,
				 body_lines;
};

struct mime_tree;
struct mime_parser;

/* A parser for one message, fed from offset 0. Never fails. */
struct mime_parser *mime_parser_new(void);
/* Feeds the next LEN octets. */
void	mime_parser_feed(struct mime_parser *, const void *, size_t len);
/* Ends the message and returns its tree (owned by the caller, free with
   mime_tree_free); the parser is freed and *P set to NULL. */
struct mime_tree *mime_parser_finish(struct mime_parser **p);
/* Frees a parser without a result. NULL is fine. */
void	mime_parser_free(struct mime_parser **p);
/* Parses a whole message in memory. */
struct mime_tree *mime_parse(const void *msg, size_t len);

/* Frees a tree and everything borrowed from it; NULL is fine, *T is set
   to NULL. */
void	mime_tree_free(struct mime_tree **t);
/* The message (root part). Borrowed, lives as long as the tree. */
const struct mime_part *mime_tree_root(const struct mime_tree *);
/* Parts in the tree (at most MIME_PARTS_MAX). */
size_t	mime_tree_nparts(const struct mime_tree *);
/* True when some limit made part of the message opaque. */
bool	mime_tree_truncated(const struct mime_tree *);
/* The whole message: stored octets and RFC822.SIZE. */
uint64_t mime_tree_size(const struct mime_tree *);
uint64_t mime_tree_size_crlf(const struct mime_tree *);

/* The effective content type of P ("text"/"plain" when none was given,
   "message"/"rfc822" in a digest); borrowed strings. */
void	mime_part_type(const struct mime_part *, const char **type_r,
	    const char **subtype_r);
/* True when P's effective type is TYPE/SUBTYPE, case-insensitively
   (SUBTYPE NULL: any subtype). */
bool	mime_part_is(const struct mime_part *, const char *type,
	    const char *subtype);
/* The value of parameter NAME (case-insensitive) of P's Content-Type, or
   NULL. */
const char *mime_part_param(const struct mime_part *, const char *name);

/* ---- sections (BODY[section], RFC 9051 6.4.5) ---- */

enum mime_sec_kind {
	MIME_SEC_BODY,		/* [] or [1.2]: the whole message / part */
	MIME_SEC_HEADER,	/* [HEADER], [1.2.HEADER] */
	MIME_SEC_HEADER_FIELDS,	/* same range as HEADER, then filtered */
	MIME_SEC_HEADER_FIELDS_NOT,
	MIME_SEC_TEXT,
	MIME_SEC_MIME,		/* [1.2.MIME]: needs a part number */
};

/* A section as the command parser gives it (part numbers borrowed). */
struct mime_section {
	const uint32_t		*part;		/* 1.2.3 as {1, 2, 3} */
	size_t			 nparts;
	enum mime_sec_kind	 kind;
};

/* A range of the stored message and its size on the wire. */
struct mime_range {
	uint64_t	off, len;	/* in the stored (LF) message */
	uint64_t	len_crlf;
	uint64_t	lines;
};

/* Parses the section text S (LEN octets) up to an optional field list:
   "", "1.2", "1.2.MIME", "HEADER", "3.HEADER.FIELDS.NOT" (the field
   list itself is the command parser's), the numbers into PARTS (room
   for MAX). 0, or -1 if malformed. */
int	mime_section_parse(const char *s, size_t len, uint32_t *parts,
	    size_t max, struct mime_section *r) WARN_UNUSED;
/* The range SEC selects in the message of T: 1 and *R_R, or 0 when the
   message has no such part (or the kind does not apply to it; IMAP then
   returns an empty string). For the HEADER.FIELDS kinds the range is
   the header section, to be passed to mime_header_filter(). */
int	mime_section_range(const struct mime_tree *,
	    const struct mime_section *, struct mime_range *r_r) WARN_UNUSED;
/* Appends to OUT the fields of the header section HDR (LEN octets, LF or
   CRLF) for which LISTED(name, name length, ARG) is true (NOT false) or
   false (NOT true), then the blank line; in CRLF form, as
   BODY[HEADER.FIELDS (...)] returns them. LISTED compares names
   case-insensitively (mime_name_in() does for a string array). 0, or
   -1 when OUT is full. */
int	mime_header_filter(const char *hdr, size_t len,
	    bool (*listed)(const char *, size_t, void *), void *arg,
	    bool not, struct buf *out) WARN_UNUSED;
/* A LISTED for mime_header_filter: ARG is a NULL-terminated array of C
   strings. */
bool	mime_name_in(const char *name, size_t len, void *arg);

/* The octets <ORIGIN.COUNT> selects of a range of LEN_CRLF octets
   (COUNT UINT64_MAX: to the end); the n of the {n} literal. */
uint64_t mime_partial_len(uint64_t len_crlf, uint64_t origin,
	    uint64_t count);

/* Reads a range of a stored message from a file, converting LF to CRLF,
   and cuts <ORIGIN.COUNT> measured in CRLF octets (IMAP partial fetch).
   The caller owns FD (read with pread, so its offset is not used). */
struct mime_crlf_reader {
	int		fd;
	uint64_t	pos, end;	/* file offsets still to read */
	uint64_t	vpos;		/* CRLF octets produced so far */
	uint64_t	vstart, vend;	/* the slice to return */
	bool		prev_cr, pending_lf;
};
void	mime_crlf_init(struct mime_crlf_reader *, int fd,
	    const struct mime_range *, uint64_t origin, uint64_t count);
/* Up to DSTSZ octets into DST: the count (0 at the end), or -1 on a read
   error (errno) or when the file is shorter than the range (EIO). */
ssize_t	mime_crlf_read(struct mime_crlf_reader *, char *dst, size_t dstsz);

/* ---- the index's cache ---- */

#define MIME_CACHE_VERSION	1

/* Appends a compact, versioned form of T to OUT. 0, or -1 if OUT is
   full. */
int	mime_tree_encode(const struct mime_tree *, struct buf *out)
	    WARN_UNUSED;
/* The tree of an encoded form, or NULL when it is damaged, truncated, of
   another version or past a limit (a cache miss: parse the message). */
struct mime_tree *mime_tree_decode(const void *, size_t len);

/* ---- decoding for SEARCH ---- */

/* Appends the field value S (LEN octets) to OUT with RFC 2047 encoded
   words decoded to UTF-8 (charsets through iconv; an unknown charset or
   a broken word stays as written). 0, or -1 when OUT is full. */
int	mime_decode_words(const char *s, size_t len, struct buf *out)
	    WARN_UNUSED;
/* Splits an RFC 2231 extended value (a parameter whose name ends in
   '*', as merged by the parser: charset'language'%XX...) into OUT (the
   octets percent-decoded) and its charset (*CHARSET_R, into CS of CSSZ;
   "" when none). 0, or -1 when malformed or OUT is full. */
int	mime_param_decode(const char *value, struct buf *out, char *cs,
	    size_t cssz) WARN_UNUSED;

#endif
