/*
 * fsutil.c - durable file writes and directory syncs. Every step takes
 * a directory descriptor and a path below it (the _at forms); the forms
 * without take paths as the user gave them (the CLI's arguments).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/str.h"
#include "util/compat.h"

int
fs_fsync_dir_at(int dirfd, const char *path)
{
	int fd, r, saved;

	if (dirfd != AT_FDCWD && strcmp(path, ".") == 0)
		return fsync(dirfd);
	fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	r = fsync(fd);
	saved = errno;
	if (close(fd) == -1 && r == 0)
		return -1;
	errno = saved;
	return r;
}

int
fs_fsync_dir(const char *path)
{
	return fs_fsync_dir_at(AT_FDCWD, path);
}

/*
 * Group commit of directory syncs. Threads that each need the same
 * directory synced after their own change (a link into a Maildir's new/,
 * a rename into the queue) share fsync(2) calls: one thread syncs while
 * the others that asked meanwhile wait for the next one, which covers
 * all of them. A sync started after a caller asked covers its change;
 * one already running when it asked may not, so that caller waits for
 * the next. A slot serves one directory at a time; a caller that finds
 * its slot busy with another directory syncs on its own. A directory
 * is a path below a directory descriptor (or AT_FDCWD).
 */
#define SYNC_SLOTS	64

struct sync_slot {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	int		 dirfd;
	char		 path[256];	/* "" when free */
	unsigned	 users;
	uint64_t	 requested, completed;
	uint64_t	 failed;	/* the last batch that failed */
	int		 fail_errno;
	bool		 running;
};

static struct sync_slot slots[SYNC_SLOTS];
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static void
slots_init(void)
{
	size_t i;

	for (i = 0; i < SYNC_SLOTS; i++) {
		(void)pthread_mutex_init(&slots[i].lock, NULL);
		(void)pthread_cond_init(&slots[i].cond, NULL);
	}
}

static size_t
slot_of(int dirfd, const char *path)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	h = (h ^ (uint64_t)(unsigned)dirfd) * 1099511628211ULL;
	for (; *path != '\0'; path++)
		h = (h ^ (unsigned char)*path) * 1099511628211ULL;
	return (size_t)(h % SYNC_SLOTS);
}

int
fs_fsync_dir_shared_at(int dirfd, const char *path)
{
	struct sync_slot *s;
	uint64_t mine, target;
	int r = 0, e;

	if (*path == '\0' || strlen(path) >= sizeof(s->path))
		return fs_fsync_dir_at(dirfd, path);
	(void)pthread_once(&slots_once, slots_init);
	s = &slots[slot_of(dirfd, path)];
	(void)pthread_mutex_lock(&s->lock);
	if (s->path[0] != '\0' && (s->dirfd != dirfd ||
	    strcmp(s->path, path) != 0)) {
		(void)pthread_mutex_unlock(&s->lock);
		return fs_fsync_dir_at(dirfd, path);
	}
	s->dirfd = dirfd;
	(void)str_copy(s->path, path, sizeof(s->path));
	s->users++;
	mine = ++s->requested;
	while (s->completed < mine) {
		if (s->running) {
			(void)pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		s->running = true;
		target = s->requested;
		(void)pthread_mutex_unlock(&s->lock);
		r = fs_fsync_dir_at(dirfd, path);
		e = errno;
		(void)pthread_mutex_lock(&s->lock);
		s->running = false;
		s->completed = target;
		if (r == -1) {
			s->failed = target;
			s->fail_errno = e;
		}
		(void)pthread_cond_broadcast(&s->cond);
	}
	/* A failure of any sync that may have carried this change counts
	   (at worst a later one's: the caller answers 4xx, nothing is lost). */
	r = s->failed >= mine ? -1 : 0;
	e = s->fail_errno;
	if (--s->users == 0) {
		s->path[0] = '\0';
		s->requested = s->completed = s->failed = 0;
	}
	(void)pthread_mutex_unlock(&s->lock);
	if (r == -1)
		errno = e;
	return r;
}

int
fs_fsync_dir_shared(const char *path)
{
	return fs_fsync_dir_shared_at(AT_FDCWD, path);
}

int
fs_fsync_parent_at(int dirfd, const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return fs_fsync_dir_at(dirfd, ".");
	if (slash == path)
		return fs_fsync_dir("/");
	if (str_ncopy(dir, path, (size_t)(slash - path), sizeof(dir)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return fs_fsync_dir_at(dirfd, dir);
}

int
fs_fsync_parent(const char *path)
{
	return fs_fsync_parent_at(AT_FDCWD, path);
}

int
fs_mkdir_p_at(int dirfd, const char *path, mode_t mode, bool durable)
{
	char tmp[4096];
	size_t i, len = strlen(path);

	if (len == 0 || len >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdirat(dirfd, tmp, mode) == 0) {
			if (durable && fs_fsync_parent_at(dirfd, tmp) == -1)
				return -1;
		} else if (errno != EEXIST) {
			return -1;
		}
		if (i < len)
			tmp[i] = '/';
	}
	return 0;
}

int
fs_mkdir_p(const char *path, mode_t mode, bool durable)
{
	return fs_mkdir_p_at(AT_FDCWD, path, mode, durable);
}

int
fs_write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len > 0) {
		ssize_t n = write(fd, c, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fs_write_atomic_at(int dirfd, const char *path, const void *p, size_t len,
    mode_t mode)
{
	char tmp[4096];
	int fd, saved;

	if (str_fmt(tmp, sizeof(tmp), "%s.tmp", path) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    mode);
	if (fd == -1)
		return -1;
	if (fs_write_all(fd, p, len) == -1 || fsync(fd) == -1) {
		saved = errno;
		(void)close(fd);
		goto fail;
	}
	if (close(fd) == -1 || renameat(dirfd, tmp, dirfd, path) == -1) {
		saved = errno;
		goto fail;
	}
	return fs_fsync_parent_at(dirfd, path);
fail:
	(void)unlinkat(dirfd, tmp, 0);
	errno = saved;
	return -1;
}

int
fs_write_atomic(const char *path, const void *p, size_t len, mode_t mode)
{
	return fs_write_atomic_at(AT_FDCWD, path, p, len, mode);
}

int
fs_read_fd(int fd, struct buf *b)
{
	char chunk[8192];
	off_t off = 0;
	ssize_t n;

	for (;;) {
		n = pread(fd, chunk, sizeof(chunk), off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
		if (buf_append(b, chunk, (size_t)n) == -1) {
			errno = EFBIG;
			return -1;
		}
	}
	return n == -1 ? -1 : 0;
}

int
fs_read_file_at(int dirfd, const char *path, struct buf *b)
{
	int fd, r, saved;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	r = fs_read_fd(fd, b);
	saved = errno;
	(void)close(fd);
	errno = saved;
	return r;
}

int
fs_read_file(const char *path, struct buf *b)
{
	return fs_read_file_at(AT_FDCWD, path, b);
}

int
fs_open_dir(int dirfd, const char *path)
{
	return openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int
fs_fd_path(int fd, char *out, size_t outsz)
{
	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	return str_fmt(out, outsz, "/proc/self/fd/%d", fd);
}

bool
fs_errno_is_full(int err)
{
	return err == ENOSPC || err == EDQUOT;
}
