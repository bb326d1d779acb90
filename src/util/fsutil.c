/*
 * fsutil.c - durable file writes and directory syncs.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/str.h"
#include "util/compat.h"

int
fs_fsync_dir(const char *path)
{
	int fd, r, saved;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
fs_fsync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return fs_fsync_dir(".");
	if (slash == path)
		return fs_fsync_dir("/");
	if (str_ncopy(dir, path, (size_t)(slash - path), sizeof(dir)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return fs_fsync_dir(dir);
}

int
fs_mkdir_p(const char *path, mode_t mode, bool durable)
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
		if (mkdir(tmp, mode) == 0) {
			if (durable && fs_fsync_parent(tmp) == -1)
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
fs_write_atomic(const char *path, const void *p, size_t len, mode_t mode)
{
	char tmp[4096];
	int fd, saved;

	if (str_fmt(tmp, sizeof(tmp), "%s.tmp", path) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd == -1)
		return -1;
	if (fs_write_all(fd, p, len) == -1 || fsync(fd) == -1) {
		saved = errno;
		(void)close(fd);
		goto fail;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		saved = errno;
		goto fail;
	}
	return fs_fsync_parent(path);
fail:
	(void)unlink(tmp);
	errno = saved;
	return -1;
}

int
fs_read_file(const char *path, struct buf *b)
{
	char chunk[8192];
	int fd, saved;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_append(b, chunk, (size_t)n) == -1) {
			(void)close(fd);
			errno = EFBIG;
			return -1;
		}
	}
	saved = errno;
	(void)close(fd);
	if (n == -1) {
		errno = saved;
		return -1;
	}
	return 0;
}

bool
fs_errno_is_full(int err)
{
	return err == ENOSPC || err == EDQUOT;
}
