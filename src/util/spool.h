/*
 * spool.h - a message body being received: in memory while small, in an
 * unlinked temporary file once it grows, so a 50 MB message costs a
 * session no more than SPOOL_MEM_MAX of memory. Small: a thousand
 * sessions inside DATA hold at most a thousand times that (most mail is
 * smaller and never touches the disk; larger mail is written once more,
 * without fsync, which costs little beside the durable copies).
 */
#ifndef POPGATE_SPOOL_H
#define POPGATE_SPOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/compat.h"

#define SPOOL_MEM_MAX (64 * 1024)

struct spool {
	struct buf	 mem;
	int		 fd;		/* -1 while in memory */
	uint64_t	 off;		/* of the content in FD */
	uint64_t	 len;
	int		 dir_fd;	/* borrowed: TMPDIR is below it */
	const char	*tmpdir;	/* borrowed */
	int		 err;		/* first write error (errno), sticky */
	bool		 view;		/* spool_view(): read only */
};

/* Empty spool; an unnamed file is made in the directory TMPDIR below
   DIR_FD when needed (both must outlive the spool). */
void	spool_init(struct spool *, int dir_fd, const char *tmpdir);
void	spool_free(struct spool *);
/* Appends; on failure the error is kept in ->err and later appends are
   ignored. */
void	spool_append(struct spool *, const void *, size_t);
/* Receives the spool's content in order, N octets at P (borrowed for
   the call). 0 to go on, or -1 to stop (errno set). */
typedef int spool_sink_fn(void *arg, const void *p, size_t n);
/* Hands its content to SINK from the
   first octet to the last, in chunks of at most 64 KiB (one call for a
   spool in memory). 0, or -1 with errno (the sink's, or EIO for a file
   shorter than LEN). */
int	spool_copy(const struct spool *, spool_sink_fn *sink, void *arg)
	    WARN_UNUSED;
/* Reads up to N octets of the content at POS into P, for a reader
   that goes step by step (the content filters): the count, 0 at the
   end, or -1 (errno; EIO for a file shorter than LEN). */
ssize_t	spool_read(const struct spool *, uint64_t pos, void *p, size_t n)
	    WARN_UNUSED;
/* A read-only spool of the LEN octets at OFF in the open file FD (a
   queued message), for spool_copy(): FD is duplicated, spool_free()
   closes the copy. 0, or -1 (errno). */
int	spool_view(struct spool *, int fd, uint64_t off, uint64_t len)
	    WARN_UNUSED;
/* Moves the content of FROM into TO (TO must be empty/freed). */
void	spool_move(struct spool *to, struct spool *from);

#endif
