/*
 * buf.h - the one growable byte buffer (STYLE.md section 4).
 *
 * data is always NUL-terminated once anything was appended, so it can be
 * handed to C string functions, but the content is pointer + length and may
 * itself contain NUL bytes. max is a hard limit on len: an append that would
 * pass it fails and leaves the buffer unchanged. Functions never move the
 * handle, only data.
 */
#ifndef POPGATE_BUF_H
#define POPGATE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "util/compat.h"

struct buf {
	char	*data;
	size_t	 len, cap, max;
};

#define BUF_UNLIMITED ((size_t)-1)

/* Empty buffer holding at most MAX bytes. Allocates nothing yet. */
void	buf_init(struct buf *, size_t max);
/* Releases the storage; the buffer is empty and usable again. */
void	buf_free(struct buf *);
/* Forgets the content, keeps the storage. */
void	buf_reset(struct buf *);
/* Appends; 0, or -1 (buffer unchanged) when max would be passed. */
int	buf_append(struct buf *, const void *, size_t);
int	buf_append_str(struct buf *, const char *);
int	buf_putc(struct buf *, char);
int	buf_printf(struct buf *, const char *, ...) PRINTFLIKE(2, 3);
int	buf_vprintf(struct buf *, const char *, va_list) PRINTFLIKE(2, 0);
/* Room for N more bytes at the end, written in place and then counted
   by buf_commit(); NULL when max would be passed. */
char	*buf_space(struct buf *, size_t n);
/* Counts N bytes written into buf_space() (N <= what was asked). */
void	buf_commit(struct buf *, size_t n);
/* The storage, handed to the caller (free(3) it), *LEN its octets; the
   buffer is empty, as after buf_free(). NULL for an empty buffer. */
char	*buf_steal(struct buf *, size_t *len);
/* Removes the first N bytes. */
void	buf_consume(struct buf *, size_t n);
/* Shortens to N bytes (N <= len). */
void	buf_truncate(struct buf *, size_t n);
/* The content as a C string; "" for an empty buffer. Borrowed. */
const char *buf_cstr(const struct buf *);

#endif
