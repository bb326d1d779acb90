/*
 * sqlite_fd.c - a pass-through SQLite VFS that opens paths as given.
 *
 * A copy of the default "unix" VFS with one method replaced: the full
 * path of an absolute name is the name itself, no symbolic link
 * resolved. Everything else, locking and the -wal/-shm files included,
 * is SQLite's own (the files sit beside the database, as always; locks
 * are per inode, so the CLI and the daemon share them whatever path
 * each used).
 *
 * Also the copy of a whole database for `popgate backup` and `restore`
 * (SQLite's online backup API), shared by the account store and the
 * relay table.
 */
#include <errno.h>
#include <fcntl.h>
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

/* ---- whole-database copies ---- */

/* How long a copy waits for a lock held by another connection (a
   checkpoint, a writer of the destination): BUSY_TRIES of BUSY_MS. */
#define BUSY_TRIES	250
#define BUSY_MS		20

/* Copies FROM into TO in one step. 0, or -1 with EB set. */
static int
copy_db(sqlite3 *from, sqlite3 *to, struct errbuf *eb)
{
	sqlite3_backup *b;
	int rc, tries;

	b = sqlite3_backup_init(to, "main", from, "main");
	if (b == NULL) {
		(void)errbuf_set(eb, "%s", sqlite3_errmsg(to));
		return -1;
	}
	/* One step (-1): one read transaction of FROM, never restarted by
	   a write of another connection as a stepwise copy would be. */
	for (tries = 0;; tries++) {
		rc = sqlite3_backup_step(b, -1);
		if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) ||
		    tries == BUSY_TRIES)
			break;
		(void)sqlite3_sleep(BUSY_MS);
	}
	(void)sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		(void)errbuf_set(eb, "%s", rc == SQLITE_BUSY ||
		    rc == SQLITE_LOCKED ? "the database stayed locked" :
		    sqlite3_errcode(to) != SQLITE_OK ? sqlite3_errmsg(to) :
		    sqlite3_errstr(rc));
		return -1;
	}
	return 0;
}

static int
fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r;

	if (fd == -1)
		return -1;
	r = fsync(fd);
	if (close(fd) == -1)
		r = -1;
	return r;
}

int
sqlite_fd_backup(struct sqlite3 *from, const char *path,
    sqlite_fd_inspect_fn *inspect, void *arg, struct errbuf *eb)
{
	sqlite3 *to = NULL;
	int rc, r = -1;

	if (access(path, F_OK) == 0) {
		(void)errbuf_set(eb, "it exists already");
		return -1;
	}
	rc = sqlite3_open_v2(path, &to, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, sqlite_fd_vfs(path));
	if (rc != SQLITE_OK) {
		(void)errbuf_set(eb, "%s", to != NULL ? sqlite3_errmsg(to) :
		    sqlite3_errstr(rc));
		goto out;
	}
	if (copy_db(from, to, eb) == -1)
		goto out;
	/* The copy took FROM's WAL mode with its pages: one file instead,
	   readable without -wal and -shm beside it. */
	if (sqlite3_exec(to, "PRAGMA journal_mode = DELETE", NULL, NULL,
	    NULL) != SQLITE_OK) {
		(void)errbuf_set(eb, "%s", sqlite3_errmsg(to));
		goto out;
	}
	if (inspect != NULL && inspect(to, arg, eb) == -1)
		goto out;
	r = 0;
out:
	if (sqlite3_close(to) != SQLITE_OK && r == 0) {
		(void)errbuf_set(eb, "%s", sqlite3_errmsg(to));
		r = -1;
	}
	if (r == 0 && fsync_path(path) == -1) {
		(void)errbuf_set(eb, "fsync: %s", strerror(errno));
		r = -1;
	}
	if (r == -1)
		(void)unlink(path);
	return r;
}

/* PRAGMA quick_check of DB: 0 when it says "ok", else -1 with EB. */
static int
quick_check(sqlite3 *db, struct errbuf *eb)
{
	sqlite3_stmt *st;
	const unsigned char *t;
	int r = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st,
	    NULL) != SQLITE_OK) {
		(void)errbuf_set(eb, "%s", sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		t = sqlite3_column_text(st, 0);
		if (t != NULL && strcmp((const char *)t, "ok") == 0)
			r = 0;
		else
			(void)errbuf_set(eb, "damaged: %s", t != NULL ?
			    (const char *)t : "?");
	} else {
		(void)errbuf_set(eb, "%s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return r;
}

int
sqlite_fd_restore(struct sqlite3 *to, const char *path, struct errbuf *eb)
{
	sqlite3 *from = NULL;
	int rc, r = -1;

	rc = sqlite3_open_v2(path, &from, SQLITE_OPEN_READONLY,
	    sqlite_fd_vfs(path));
	if (rc != SQLITE_OK) {
		(void)errbuf_set(eb, "%s", from != NULL ?
		    sqlite3_errmsg(from) : sqlite3_errstr(rc));
		goto out;
	}
	if (quick_check(from, eb) == -1 || copy_db(from, to, eb) == -1)
		goto out;
	r = 0;
out:
	(void)sqlite3_close(from);
	return r;
}
