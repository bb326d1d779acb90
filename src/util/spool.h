/*
 * spool.h - a message body being received: in memory while small, in an
 * unlinked temporary file once it grows, so a 50 MB message costs a
 * session no more than SPOOL_MEM_MAX of memory.
 */
#ifndef POPGATE_SPOOL_H
#define POPGATE_SPOOL_H

#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/compat.h"

#define SPOOL_MEM_MAX (256 * 1024)

struct spool {
	struct buf	 mem;
	int		 fd;		/* -1 while in memory */
	uint64_t	 len;
	const char	*tmpdir;	/* borrowed */
	int		 err;		/* first write error (errno), sticky */
};

/* Empty spool; a file is made in TMPDIR when needed. */
void	spool_init(struct spool *, const char *tmpdir);
void	spool_free(struct spool *);
/* Appends; on failure the error is kept in ->err and later appends are
   ignored. */
void	spool_append(struct spool *, const void *, size_t);
/* Reads LEN bytes at OFF (memory or pread). 0 or -1 (errno). */
int	spool_read(const struct spool *, uint64_t off, void *, size_t len)
	    WARN_UNUSED;
/* Moves the content of FROM into TO (TO must be empty/freed). */
void	spool_move(struct spool *to, struct spool *from);

#endif
