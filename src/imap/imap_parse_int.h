/*
 * imap_parse_int.h - what the imap_parse_*.c files share: the parser's
 * state, its arena, its error reporting and the lexer (RFC 9051 9 core
 * rules: atoms, strings, literals, numbers, sets, flags, dates). Never
 * included from outside src/imap/imap_parse_*.c.
 */
#ifndef POPGATE_IMAP_PARSE_INT_H
#define POPGATE_IMAP_PARSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_parse.h"

/* The arena: chunks of memory bumped, freed all at once. */
struct imap_chunk;

/* A growing array inside the arena: a full one moves to twice its room,
   the old room is left behind (at most as much again as is in use). */
struct imap_vec {
	void		*v;
	size_t		 n, cap;
};

struct imap_parser {
	struct imap_chunk *chunks;	/* newest first */
	size_t		 arena_size;	/* octets allocated, all chunks */

	/* One parse: the input, where we are, the result being built. */
	const char	*in;
	size_t		 len, pos;
	size_t		 line_start;	/* after the last literal */
	size_t		 append_len;	/* APPEND data: not in IMAP_CMD_MAX */
	size_t		 nranges;	/* sequence-set ranges so far */
	struct imap_cmd	 cmd;
	struct imap_error *err;
	bool		 failed;
	struct imap_vec	 nodes;		/* search nodes */
};

/* Arena: NULL (and the error set) when memory or its limit runs out. */
void	*imap_arena_alloc(struct imap_parser *, size_t);
/* A NUL-terminated copy of LEN octets. */
char	*imap_arena_strdup(struct imap_parser *, const char *, size_t);
/* Room for one more element of ELEM octets in V; NULL when out of
   memory or when V already holds MAX (the error names WHAT). */
void	*imap_vec_push(struct imap_parser *, struct imap_vec *, size_t elem,
	    size_t max, const char *what);

/* Errors: each sets the parse's error once (the first one wins) and
   returns -1, so that "return imap_perr(...)" unwinds. The -1 is
   inline, for the analyzers to see that a failure fills nothing. */
void	imap_perr_set(struct imap_parser *, enum imap_err_code,
	    const char *text);
/* TEXT with "%s" replaced by WORD (LEN octets of the input, made
   printable and cut short). */
void	imap_perr_word_set(struct imap_parser *, const char *fmt,
	    const char *word, size_t len);
/* "too many X (limit N)" with [LIMIT]. */
void	imap_perr_limit_set(struct imap_parser *, const char *what,
	    size_t limit);

static inline int
imap_perr(struct imap_parser *p, enum imap_err_code code, const char *text)
{
	imap_perr_set(p, code, text);
	return -1;
}

static inline int
imap_perr_word(struct imap_parser *p, const char *fmt, const char *word,
    size_t len)
{
	imap_perr_word_set(p, fmt, word, len);
	return -1;
}

static inline int
imap_perr_limit(struct imap_parser *p, const char *what, size_t limit)
{
	imap_perr_limit_set(p, what, limit);
	return -1;
}

/* ---- the lexer (imap_parse_lex.c) ---- */

/* A piece of the input. */
struct imap_span {
	const char	*s;
	size_t		 len;
};

static inline bool
imap_at_end(const struct imap_parser *p)
{
	return p->pos >= p->len;
}

/* The next octet, or -1 at the end. */
static inline int
imap_peek(const struct imap_parser *p)
{
	return p->pos < p->len ? (unsigned char)p->in[p->pos] : -1;
}

bool	imap_is_atom_char(int c);
bool	imap_is_astring_char(int c);

/* Consumes C, or fails: "missing WHAT" at the end, else "expected
   WHAT". */
int	imap_expect(struct imap_parser *, int c, const char *what);
/* Consumes one SP before WHAT (missing WHAT at the end). */
int	imap_sp(struct imap_parser *, const char *what);
/* True (and consumed) when the next octet is C. */
bool	imap_accept(struct imap_parser *, int c);

/* A run of ATOM-CHARs other than those in STOP (may be NULL); fails
   with "missing WHAT" when there is none. */
int	imap_lex_atom(struct imap_parser *, const char *stop,
	    struct imap_span *, const char *what);
/* True (and WORD consumed) when WORD, in any case, comes next and a
   space after it. */
bool	imap_peek_word(struct imap_parser *, const char *word);
/* True when SP equals WORD, ASCII case-insensitively. */
bool	imap_span_is(const struct imap_span *, const char *word);

/* astring / string / nstring (RFC 9051 9), copied into the arena. */
int	imap_lex_astring(struct imap_parser *, struct imap_str *,
	    const char *what);
int	imap_lex_string(struct imap_parser *, struct imap_str *,
	    const char *what);
int	imap_lex_nstring(struct imap_parser *, struct imap_str *,
	    const char *what);
/* A mailbox: astring, with INBOX folded. */
int	imap_lex_mailbox(struct imap_parser *, struct imap_mailbox *,
	    const char *what);
/* list-mailbox: 1*list-char (wildcards allowed) or a string. */
int	imap_lex_list_mailbox(struct imap_parser *, struct imap_str *);
/* A literal or, when BINARY is not NULL, a literal8 too (*BINARY then
   says which): its octets, in the input. NULs are refused unless
   ALLOW_NUL (a literal8, or APPEND data). */
int	imap_lex_literal(struct imap_parser *, struct imap_span *,
	    bool *binary, bool allow_nul);

/* Numbers: number (32 bits), nz-number, number64 and
   mod-sequence-value (63 bits). */
int	imap_lex_number(struct imap_parser *, uint64_t min, uint64_t max,
	    uint64_t *, const char *what);
#define IMAP_NUM32_MAX	UINT32_MAX
#define IMAP_NUM64_MAX	INT64_MAX

/* sequence-set; flags: */
#define IMAP_SET_STAR	0x01u	/* '*' allowed */
#define IMAP_SET_SAVED	0x02u	/* "$" allowed */
int	imap_lex_seqset(struct imap_parser *, struct imap_seqset *,
	    unsigned flags, const char *what);

/* One flag into *F (system bit or keyword, through KW); a flag list
   "(...)" into *F. */
int	imap_lex_flag(struct imap_parser *, struct imap_flags *,
	    struct imap_vec *kw, size_t *count);
int	imap_lex_flag_list(struct imap_parser *, struct imap_flags *);

/* date (SEARCH), quoted or not; date-time (APPEND), quoted. */
int	imap_lex_date(struct imap_parser *, struct imap_date *);
int	imap_lex_datetime(struct imap_parser *, time_t *, int *zone);

/* A list of STATUS items "(...)" into *MASK. */
int	imap_lex_status_items(struct imap_parser *, unsigned *mask);

/* ---- the argument grammars (imap_parse_*.c) ---- */

int	imap_args_fetch(struct imap_parser *);		/* _fetch.c */
int	imap_args_store(struct imap_parser *);
int	imap_args_search(struct imap_parser *);		/* _search.c */
int	imap_args_select(struct imap_parser *);		/* _mbox.c */
int	imap_args_create(struct imap_parser *);
int	imap_args_list(struct imap_parser *);
int	imap_args_lsub(struct imap_parser *);
int	imap_args_status(struct imap_parser *);
int	imap_args_append(struct imap_parser *);

/* ---- names, shared by parsing and writing ---- */

/* A word and its bit. */
struct imap_name {
	const char	*name;
	unsigned	 bit;
};

extern const char imap_months[12][4];			/* _util.c */
extern const struct imap_name imap_sysflag_names[5];	/* _lex.c */
extern const struct imap_name imap_status_names[9];
extern const struct imap_name imap_use_names[7];	/* _mbox.c */
extern const struct imap_name imap_list_sel_names[4];
extern const struct imap_name imap_list_ret_names[4];
extern const struct imap_name imap_search_ret_names[5];	/* _search.c */
/* The word of KEY ("" for AND and SEQSET). */
const char *imap_search_key_name(enum imap_search_key);
/* "BODY.PEEK", "RFC822.SIZE", ...; "TEXT", "HEADER.FIELDS", ... */
const char *imap_fetch_att_name(enum imap_fetch_kind, bool peek);
const char *imap_section_text_name(enum imap_section_text);

#endif
