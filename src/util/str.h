/*
 * str.h - small string helpers for bounded, checked text handling.
 */
#ifndef POPGATE_STR_H
#define POPGATE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compat.h"

/* Copies SRC into DST of DSTSZ bytes. 0, or -1 when it does not fit (DST
   then holds ""): never truncates silently. */
int	str_copy(char *dst, const char *src, size_t dstsz);
/* Copies N bytes of SRC plus a NUL; -1 when N + 1 > DSTSZ. */
int	str_ncopy(char *dst, const char *src, size_t n, size_t dstsz);
/* snprintf that fails (returns -1, DST "") on truncation. */
int	str_fmt(char *dst, size_t dstsz, const char *fmt, ...)
	    PRINTFLIKE(3, 4);
/* Room for the text of an error whose maker cannot keep it: a
   constructor that fails has no handle to hold it, so the caller lends
   this (STYLE.md 6: errors go to the caller, never to static storage). */
struct errbuf {
	char	text[512];
};
/* Formats into EB (truncated to fit) and returns its text. */
const char *errbuf_set(struct errbuf *, const char *fmt, ...)
	    PRINTFLIKE(2, 3);
/* Parses a whole decimal number in [MIN, MAX]. 0 or -1. */
int	str_to_uint(const char *, uint64_t min, uint64_t max, uint64_t *r)
	    WARN_UNUSED;
/* Same for a length-delimited field. */
int	str_to_uint_n(const char *, size_t, uint64_t min, uint64_t max,
	    uint64_t *r) WARN_UNUSED;
/* ASCII lower-casing in place. */
void	str_lower(char *);
bool	str_has_prefix_ci(const char *s, size_t len, const char *prefix);
/* True when S is all ASCII (no byte >= 0x80). */
bool	str_is_ascii(const char *, size_t);
/* Removes leading and trailing blanks (space, tab) in place; returns S. */
char	*str_trim(char *s);

/* Sizes with units: "512", "10k", "10K", "10M", "2G" (powers of 1024).
   0 or -1. */
int	str_parse_size(const char *, uint64_t *r) WARN_UNUSED;
/* Durations: "30" or "30s", "90m", "4h", "5d", "1w". Seconds. 0 or -1. */
int	str_parse_duration(const char *, uint64_t *r) WARN_UNUSED;
/* Formats a size in the largest unit that divides it ("10M"). */
void	str_fmt_size(char *dst, size_t dstsz, uint64_t);
/* Formats seconds in the largest unit that divides it ("90m"). */
void	str_fmt_duration(char *dst, size_t dstsz, uint64_t);

/* Escapes untrusted bytes for a log line: printable ASCII but '\\' and
   '"' is kept, everything else becomes \xNN; output is truncated with
   "..." to fit DSTSZ (for logs only). Returns DST. */
char	*str_vis(char *dst, size_t dstsz, const void *src, size_t len);

/* A growable list of owned C strings. */
struct strlist {
	char	**v;
	size_t	  n, cap;
};
void	strlist_init(struct strlist *);
void	strlist_free(struct strlist *);
/* Appends a copy of S. */
void	strlist_add(struct strlist *, const char *s);
void	strlist_addn(struct strlist *, const char *s, size_t n);
/* True when S is in the list (case-insensitive when CI). */
bool	strlist_has(const struct strlist *, const char *s, bool ci);

/* The value of the hexadecimal digit C (either case), or -1. */
int	str_hexval(char c);

/* The length of the well-formed UTF-8 sequence of a non-ASCII
   character (S[0] >= 0x80) at S, LEN octets there: 2 to 4, or 0 for an
   ill-formed one (a stray continuation, overlong, a surrogate, beyond
   U+10FFFF, cut short). */
size_t	str_utf8_seq(const unsigned char *s, size_t len);

#endif
