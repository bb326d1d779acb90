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

/* The VFS name for sqlite3_open_v2() to open PATH with: this module's
   for a path below /proc/self/fd/, else NULL (SQLite's default).
   Registered on first use; thread-safe. */
const char *sqlite_fd_vfs(const char *path);
/* PATH for messages: a /proc/self/fd/N prefix becomes the directory's
   own path. Returns OUT (or PATH when it cannot be shown better). */
const char *sqlite_fd_display(const char *path, char *out, size_t outsz);

#endif
