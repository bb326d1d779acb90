/*
 * sqlite_fd.h - SQLite files below a directory held open.
 *
 * The daemon and the CLI hold their data directory open (opened before
 * the privilege drop, so its parents need no permission for the
 * unprivileged user) and name files in it by "/proc/self/fd/N/NAME".
 * SQLite takes only paths, and its default VFS resolves symbolic links
 * in them, which would turn such a path back into one through the
 * parents; the VFS here opens paths as they are and is the default one
 * in everything else.
 */
#ifndef POPGATE_SQLITE_FD_H
#define POPGATE_SQLITE_FD_H

#include <stddef.h>

#include "util/str.h"

struct sqlite3;

/* The VFS name for sqlite3_open_v2() to open PATH with: this module's
   for a path below /proc/self/fd/, else NULL (SQLite's default).
   Registered on first use; thread-safe. */
const char *sqlite_fd_vfs(const char *path);
/* PATH for messages: a /proc/self/fd/N prefix becomes the directory's
   own path. Returns OUT (or PATH when it cannot be shown better). */
const char *sqlite_fd_display(const char *path, char *out, size_t outsz);

/* Looks at a backup copy before it is closed (counts it for a
   manifest): 0, or -1 with EB set. */
typedef int sqlite_fd_inspect_fn(struct sqlite3 *copy, void *arg,
	    struct errbuf *eb);
/* Writes a consistent copy of the open database FROM into the new file
   PATH: SQLite's online backup API in one step, which is one read
   transaction of FROM, so the copy is the state of one commit while
   other connections (the daemon) go on writing (WAL). The copy is one
   self-contained file (rollback journal, not WAL) with the modes of
   the umask, fsynced (its directory is the caller's). INSPECT (may be
   NULL) gets it first. 0, or -1 with EB set (PATH removed). */
int	sqlite_fd_backup(struct sqlite3 *from, const char *path,
	    sqlite_fd_inspect_fn *inspect, void *arg, struct errbuf *eb);
/* Replaces the whole content of the open database TO with the file PATH
   (a sqlite_fd_backup() copy), once PRAGMA quick_check finds PATH
   sound: the backup API again, one write transaction of TO. 0, or -1
   with EB set (TO unchanged). */
int	sqlite_fd_restore(struct sqlite3 *to, const char *path,
	    struct errbuf *eb);

#endif
