/*
 * spool.c - memory-then-file body storage. Readers get the content
 * through spool_copy() or spool_read(), never through the layout.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/spool.h"
#include "util/fsutil.h"
#include "util/xalloc.h"
#include "util/compat.h"

void
spool_init(struct spool *s, int dir_fd, const char *tmpdir)
{
	/* One octet less: the buffer, with its NUL, never grows past
	   SPOOL_MEM_MAX. */
	buf_init(&s->mem, SPOOL_MEM_MAX - 1);
	s->fd = -1;
	s->off = 0;
	s->len = 0;
	s->view = false;
	s->dir_fd = dir_fd;
	s->tmpdir = tmpdir;
	s->err = 0;
}

void
spool_free(struct spool *s)
{
	buf_free(&s->mem);
	if (s->fd != -1)
		(void)close(s->fd);
	s->fd = -1;
	s->off = 0;
	s->len = 0;
	s->err = 0;
	s->view = false;
}

/* Moves the memory content into an anonymous file in tmpdir. */
static int
to_file(struct spool *s)
{
	s->fd = openat(s->dir_fd, s->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC,
	    0600);
	if (s->fd == -1)
		return -1;
	if (fs_write_all(s->fd, s->mem.data, s->mem.len) == -1)
		return -1;
	buf_free(&s->mem);
	return 0;
}

void
spool_append(struct spool *s, const void *p, size_t n)
{
	if (s->view)
		s->err = EBADF;
	if (s->err != 0 || n == 0)
		return;
	if (s->fd == -1 && buf_append(&s->mem, p, n) == 0) {
		s->len += n;
		return;
	}
	if ((s->fd == -1 && to_file(s) == -1) ||
	    fs_write_all(s->fd, p, n) == -1) {
		s->err = errno != 0 ? errno : EIO;
		return;
	}
	s->len += n;
}

#define SPOOL_CHUNK (64 * 1024)

int
spool_copy(const struct spool *s, spool_sink_fn *sink, void *arg)
{
	char *chunk;
	uint64_t off = 0;
	int r = 0, saved;

	if (s->fd == -1)
		return s->len == 0 ? 0 : sink(arg, s->mem.data, (size_t)s->len);
	chunk = xmalloc(SPOOL_CHUNK);
	while (off < s->len && r == 0) {
		size_t want = s->len - off > SPOOL_CHUNK ? SPOOL_CHUNK :
		    (size_t)(s->len - off);
		ssize_t n = pread(s->fd, chunk, want, (off_t)(s->off + off));

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			r = -1;
			break;
		}
		r = sink(arg, chunk, (size_t)n);
		off += (uint64_t)n;
	}
	saved = errno;
	free(chunk);
	errno = saved;
	return r;
}

ssize_t
spool_read(const struct spool *s, uint64_t pos, void *p, size_t n)
{
	ssize_t r;

	if (pos >= s->len)
		return 0;
	if (n > s->len - pos)
		n = (size_t)(s->len - pos);
	if (s->fd == -1) {
		memcpy(p, s->mem.data + pos, n);
		return (ssize_t)n;
	}
	do
		r = pread(s->fd, p, n, (off_t)(s->off + pos));
	while (r == -1 && errno == EINTR);
	if (r == 0)
		errno = EIO;
	return r <= 0 ? -1 : r;
}

int
spool_view(struct spool *s, int fd, uint64_t off, uint64_t len)
{
	spool_init(s, -1, NULL);
	s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (s->fd == -1)
		return -1;
	s->off = off;
	s->len = len;
	s->view = true;
	return 0;
}

void
spool_move(struct spool *to, struct spool *from)
{
	*to = *from;
	spool_init(from, from->dir_fd, from->tmpdir);
}
