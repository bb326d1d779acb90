/*
 * mime_int.h - what the files of the MIME module share: the tree and its
 * arena, header field handling for the parser and the cache decoder.
 * Never included from outside src/mime/.
 */
#ifndef POPGATE_MIME_INT_H
#define POPGATE_MIME_INT_H

#include "mime/mime.h"

struct mime_block;

/* All of a tree's memory: parts, strings and arrays come from its arena,
   counted against MIME_KEPT_MAX, and go with mime_tree_free(). */
struct mime_tree {
	struct mime_part	*root;
	size_t			 nparts;
	bool			 truncated;
	uint64_t		 size, size_crlf;
	struct mime_block	*blocks;
	size_t			 kept;
};

struct mime_tree *mime_tree_new(void);
/* N zeroed octets from T's arena, or NULL past MIME_KEPT_MAX (T is then
   marked truncated). */
void	*mime_alloc(struct mime_tree *, size_t n);
/* A NUL-terminated copy of N octets, or NULL (as mime_alloc). */
char	*mime_strndup(struct mime_tree *, const char *, size_t n);
/* A new part, last child of PARENT after PREV (NULL: the first), or the
   root when PARENT is NULL; NULL past MIME_PARTS_MAX or the arena. */
struct mime_part *mime_part_add(struct mime_tree *, struct mime_part *parent,
	    struct mime_part *prev);

/* Fields already seen in one header section (the first one counts). */
enum mime_seen {
	MIME_SEEN_CT	= 1 << 0,
	MIME_SEEN_CTE	= 1 << 1,
	MIME_SEEN_ID	= 1 << 2,
	MIME_SEEN_DESC	= 1 << 3,
	MIME_SEEN_DISP	= 1 << 4,
	MIME_SEEN_LANG	= 1 << 5,
	MIME_SEEN_LOC	= 1 << 6,
	MIME_SEEN_MD5	= 1 << 7,
	MIME_SEEN_MIMEVER = 1 << 8,
};

/* Applies one unfolded field NAME: VALUE of P's header section to P (its
   Content-* members, and its envelope when it has one). */
void	mime_field_apply(struct mime_tree *, struct mime_part *,
	    unsigned *seen, const char *name, size_t nlen, const char *value,
	    size_t vlen);
/* The header section of P has ended: a message without MIME-Version
   and Content-Type is no MIME message, its other Content-* fields are
   dropped (as Dovecot does: RFC 2045 4). */
void	mime_field_end(struct mime_part *, unsigned seen);

/* Parses an address list leniently into T's arena (mime_addr.c). The
   count, 0 for an empty or hopeless field. */
size_t	mime_addr_parse(struct mime_tree *, const char *s, size_t len,
	    struct mime_addr **addrs_r);

/* White space of header syntax. */
static inline bool
mime_is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

#endif
