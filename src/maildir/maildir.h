/*
 * maildir.h - Maildirs at mail_dir/DOMAIN/LOCALPART/ (SPEC 4).
 *
 * Both parts lower-case (callers pass canonical addresses). The local
 * part is encoded for the file system: '/', '%', control bytes and a
 * leading '.' become %XX, so no address can name a path outside its
 * domain's directory.
 *
 * Paths are below a directory descriptor DIR_FD (the data directory the
 * caller holds; an absolute path, a mail_dir outside it, ignores it).
 */
#ifndef POPGATE_MAILDIR_H
#define POPGATE_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/compat.h"

#define MAILDIR_PATH_MAX 1024

/* mail_dir/domain/encoded-local into OUT. 0, or -1 if it does not fit. */
int	maildir_path(const char *mail_dir, const char *domain,
	    const char *local, char *out, size_t outsz) WARN_UNUSED;
/* Creates the Maildir (and tmp, new, cur) if missing, durably. 0, or -1
   with *ERROR_R (static or strerror). */
int	maildir_create(int dir_fd, const char *mail_dir, const char *domain,
	    const char *local, const char **error_r) WARN_UNUSED;
/* Same for a Maildir given by its path. 0 or -1 (errno). */
int	maildir_create_path(int dir_fd, const char *path) WARN_UNUSED;

struct spool;

/* One Maildir to deliver into. */
struct maildir_dest {
	const char	*path;		/* the Maildir (made if missing) */
	uint64_t	 quota;		/* octets, 0 = none */
	char		 name[256];	/* out: file name in new/ */
};

/* The message: PREFIX (trace headers) then BODY, LF line ends, LINES
   the number of LF in both (for the W= size POP3 reports). */
struct maildir_msg {
	const char		*prefix;
	size_t			 prefix_len;
	const struct spool	*body;
	uint64_t		 lines;
};

/* Delivers one durable copy into each destination's new/: written once
   into tmp/, fsync, hard links (copies across file systems) into each
   new/, fsync of each new/. A missing Maildir is made (tmp/ new/ cur/)
   on the way. File names carry ,S=<octets>,W=<octets with
   CRLF>. All or nothing: on failure every copy already made is removed
   again. 0, or -1 with errno set (EDQUOT: destination *FAILED_R is over
   its quota; ENOSPC: disk full) and *FAILED_R the index that failed. */
int	maildir_deliver(int dir_fd, struct maildir_dest *, size_t n,
	    const struct maildir_msg *, const char *hostname,
	    size_t *failed_r) WARN_UNUSED;
/* Whether message M fits the quota of destination D: 1 it does (or D
   has none), 0 it does not, -1 on an error reading the Maildir (errno). */
int	maildir_room(int dir_fd, const struct maildir_dest *d,
	    const struct maildir_msg *m) WARN_UNUSED;
/* Octets used by the messages of the Maildir at PATH (from the ,S= of
   the file names, stat(2) for names without). 0 or -1 (errno). */
int	maildir_usage(int dir_fd, const char *path, uint64_t *used_r)
	    WARN_UNUSED;

#endif
