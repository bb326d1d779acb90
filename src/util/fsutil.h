/*
 * fsutil.h - file system steps with every result checked (STYLE.md 7).
 *
 * The _at forms work below a directory descriptor DIRFD, as openat(2):
 * the daemon and the CLI hold their data directory open and never
 * depend on a current directory. The forms without are for paths as a
 * user gave them (AT_FDCWD).
 */
#ifndef POPGATE_FSUTIL_H
#define POPGATE_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/compat.h"

/* fsync(2) of the directory PATH ("." below a descriptor: DIRFD
   itself). 0, or -1 with errno set. */
int	fs_fsync_dir_at(int dirfd, const char *path) WARN_UNUSED;
int	fs_fsync_dir(const char *path) WARN_UNUSED;
/* The same for many threads at once: callers that need PATH synced
   after their own change share fsync calls (group commit). Thread-safe.
   0, or -1 with errno set. */
int	fs_fsync_dir_shared_at(int dirfd, const char *path) WARN_UNUSED;
int	fs_fsync_dir_shared(const char *path) WARN_UNUSED;
/* fsync of the directory that holds PATH. */
int	fs_fsync_parent_at(int dirfd, const char *path) WARN_UNUSED;
int	fs_fsync_parent(const char *path) WARN_UNUSED;
/* mkdir -p with MODE for each created directory; when DURABLE, the parent
   of each created directory is fsynced. 0, or -1 with errno set. */
int	fs_mkdir_p_at(int dirfd, const char *path, mode_t mode, bool durable)
	    WARN_UNUSED;
int	fs_mkdir_p(const char *path, mode_t mode, bool durable) WARN_UNUSED;
/* Opens the directory PATH below DIRFD for the *at calls (O_RDONLY, so
   it can be fsynced too). The descriptor, or -1 (errno). */
int	fs_open_dir(int dirfd, const char *path) WARN_UNUSED;
/* "/proc/self/fd/N": the directory FD as a path, for what takes only
   paths (SQLite, a Unix socket's address). Resolving it needs no
   permission on FD's parents; valid while FD is open. 0 or -1. */
int	fs_fd_path(int fd, char *out, size_t outsz) WARN_UNUSED;
/* Writes LEN bytes fully, retrying on EINTR. 0 or -1 (errno). */
int	fs_write_all(int fd, const void *, size_t) WARN_UNUSED;
/* Writes PATH atomically and durably: PATH.tmp, fsync, close, rename,
   fsync of the directory. 0 or -1 (errno; the temporary is removed). */
int	fs_write_atomic_at(int dirfd, const char *path, const void *, size_t,
	    mode_t) WARN_UNUSED;
int	fs_write_atomic(const char *path, const void *, size_t, mode_t)
	    WARN_UNUSED;
/* Reads the whole file into B (which enforces its own max). 0 or -1
   (errno, EFBIG when B's limit was reached). */
/* Appends the whole of the file open at FD (from offset 0, with pread:
   FD's offset is left alone) to B. -1 with errno (EFBIG past B's
   limit). */
int	fs_read_fd(int fd, struct buf *b) WARN_UNUSED;
int	fs_read_file_at(int dirfd, const char *path, struct buf *b)
	    WARN_UNUSED;
int	fs_read_file(const char *path, struct buf *b) WARN_UNUSED;
/* True when errno means the disk (or the quota) is full. */
bool	fs_errno_is_full(int err);

#endif
