/*
 * pidlock.c - the lock file of pidlock.h: open, flock(LOCK_EX | LOCK_NB),
 * and only once the lock is ours, truncate and write the pid. A process
 * that fails to get the lock only reads the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/log.h"
#include "util/pidlock.h"
#include "util/str.h"
#include "util/compat.h"

#define PID_TEXT_MAX	24	/* "4194304\n" with room to spare */

/* The pid the file FD names, 0 when it names none (empty, being
   written, or not a number). */
static pid_t
read_holder(int fd)
{
	char text[PID_TEXT_MAX];
	uint64_t pid;
	ssize_t n;

	do
		n = pread(fd, text, sizeof(text) - 1, 0);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	text[strcspn(text, "\n")] = '\0';
	if (str_to_uint(text, 1, INT32_MAX, &pid) == -1)
		return 0;
	return (pid_t)pid;
}

static int
write_pid(int fd)
{
	char text[PID_TEXT_MAX];
	int len;

	len = str_fmt(text, sizeof(text), "%ld\n", (long)getpid());
	if (len == -1) {
		errno = EOVERFLOW;
		return -1;
	}
	if (ftruncate(fd, 0) == -1 || lseek(fd, 0, SEEK_SET) == -1)
		return -1;
	return fs_write_all(fd, text, strlen(text));
}

int
pidlock_take(int dirfd, const char *name, pid_t *holder_r)
{
	struct stat st;
	int fd, saved;

	*holder_r = 0;
	/* O_NONBLOCK: a FIFO put there must not hang the open. */
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    O_NOCTTY | O_NONBLOCK, 0640);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK)
			goto fail;
		*holder_r = read_holder(fd);
		(void)close(fd);
		return PIDLOCK_HELD;
	}
	if (write_pid(fd) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

void
pidlock_release(int *fdp)
{
	if (*fdp == -1)
		return;
	/* An emptied file names nobody; when that fails the lock still
	   goes with the descriptor, and a reader sees a stale pid only. */
	if (ftruncate(*fdp, 0) == -1)
		log_debug("cannot empty the lock file: %s", strerror(errno));
	(void)close(*fdp);
	*fdp = -1;
}
