/*
 * spool.c - memory-then-file body storage.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "util/spool.h"
#include "util/fsutil.h"
#include "util/compat.h"

void
spool_init(struct spool *s, const char *tmpdir)
{
	buf_init(&s->mem, SPOOL_MEM_MAX);
	s->fd = -1;
	s->len = 0;
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
	s->len = 0;
	s->err = 0;
}

/* Moves the memory content into an anonymous file in tmpdir. */
static int
to_file(struct spool *s)
{
	s->fd = open(s->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
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

int
spool_read(const struct spool *s, uint64_t off, void *p, size_t len)
{
	char *c = p;

	if (off > s->len || len > s->len - off) {
		errno = EINVAL;
		return -1;
	}
	if (s->fd == -1) {
		memcpy(p, s->mem.data + off, len);
		return 0;
	}
	while (len > 0) {
		ssize_t n = pread(s->fd, c, len, (off_t)off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		c += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

void
spool_move(struct spool *to, struct spool *from)
{
	*to = *from;
	spool_init(from, from->tmpdir);
}
