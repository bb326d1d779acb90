/*
 * sqlite_fd.c - a pass-through SQLite VFS that opens paths as given.
 *
 * A copy of the default "unix" VFS with one method replaced: the full
 * path of an absolute name is the name itself, no symbolic link
 * resolved. Everything else, locking and the -wal/-shm files included,
 * is SQLite's own (the files sit beside the database, as always; locks
 * are per inode, so the CLI and the daemon share them whatever path
 * each used).
 */
#include <pthread.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util/sqlite_fd.h"
#include "util/str.h"
#include "util/compat.h"

#define FD_PREFIX	"/proc/self/fd/"
#define VFS_NAME	"popgate-fd"

static sqlite3_vfs fd_vfs;
static sqlite3_vfs *base_vfs;	/* the one copied */
static const char *fd_vfs_name;
static pthread_once_t fd_vfs_once = PTHREAD_ONCE_INIT;

static int
fd_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	if (name[0] != '/')
		return base_vfs->xFullPathname(base_vfs, name, n, out);
	if (n <= 0 || str_copy(out, name, (size_t)n) == -1)
		return SQLITE_CANTOPEN;
	return SQLITE_OK;
}

static void
fd_vfs_init(void)
{
	base_vfs = sqlite3_vfs_find(NULL);
	if (base_vfs == NULL)
		return;
	/* Its methods find their own data through pAppData: copied too. */
	fd_vfs = *base_vfs;
	fd_vfs.pNext = NULL;
	fd_vfs.zName = VFS_NAME;
	fd_vfs.xFullPathname = fd_full_pathname;
	if (sqlite3_vfs_register(&fd_vfs, 0) == SQLITE_OK)
		fd_vfs_name = VFS_NAME;
}

const char *
sqlite_fd_vfs(const char *path)
{
	if (strncmp(path, FD_PREFIX, strlen(FD_PREFIX)) != 0)
		return NULL;
	(void)pthread_once(&fd_vfs_once, fd_vfs_init);
	return fd_vfs_name;
}

const char *
sqlite_fd_display(const char *path, char *out, size_t outsz)
{
	char link[64], dir[4096];
	size_t n = strlen(FD_PREFIX);
	const char *rest;
	ssize_t len;

	if (strncmp(path, FD_PREFIX, n) != 0)
		return path;
	rest = path + n + strspn(path + n, "0123456789");
	if (str_ncopy(link, path, (size_t)(rest - path), sizeof(link)) == -1 ||
	    (len = readlink(link, dir, sizeof(dir) - 1)) <= 0)
		return path;
	dir[len] = '\0';
	if (str_fmt(out, outsz, "%s%s", dir, rest) == -1)
		return path;
	return out;
}
