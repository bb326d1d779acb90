/*
 * queue_copy.c - copying messages from one queue directory to another,
 * one message whole or not at all: for `popgate backup` (the live queue
 * into a backup) and `popgate restore` (a backup into a new data
 * directory), while the daemon may be writing and removing messages.
 *
 * What makes a copy consistent is the queue's own protocol (queue.h):
 * a file in msg/ is complete and never changes once renamed there, so
 * a message opened through queue_open() (the checksum verified) is the
 * whole message whatever happens to the name meanwhile; a state file is
 * only ever replaced by rename, so one read is one version of it; and a
 * finished message loses its state before its message file, so a
 * message still in msg/ after its state was read was not finished when
 * it was read. Files being written are in tmp/, which is never looked
 * at. In the destination a message's state file is in place before its
 * message file, as queue_write() does for a held message, so whoever
 * finds the message there finds its state too.
 *
 * The state is written anew from what the reader made of it, not copied
 * as octets: only what the queue understands goes into a copy (a state
 * file that is a link to some other file, in a queue directory the
 * daemon's user may have changed, carries none of that file into a
 * backup taken or restored as root). A message without a state file
 * gets one that says the same: every recipient pending, never tried.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/queue_int.h"
#include "util/fsutil.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define COPY_CHUNK	(64 * 1024)

struct queue *
queue_attach(int data_fd, const char **error_r)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	int err;

	q->tmp_fd = q->msg_fd = q->state_fd = -1;
	if ((q->msg_fd = fs_open_dir(data_fd, QUEUE_DIR "/msg")) == -1 ||
	    (q->state_fd = fs_open_dir(data_fd, QUEUE_DIR "/state")) == -1)
		goto fail;
	/* Only a destination needs tmp/: a queue to read may lack it. */
	if ((q->tmp_fd = fs_open_dir(data_fd, QUEUE_DIR "/tmp")) == -1 &&
	    errno != ENOENT)
		goto fail;
	return q;
fail:
	err = errno;
	*error_r = strerror(err);
	queue_free(&q);
	errno = err;
	return NULL;
}

/* The LEN octets of FD from its start into the new file NAME below
   DIR_FD, fsynced and closed. 0, or -1 (errno; NAME removed). */
static int
copy_fd(int fd, uint64_t len, int dir_fd, const char *name)
{
	char *chunk = xmalloc(COPY_CHUNK);
	uint64_t off = 0;
	int out, err = 0;
	ssize_t n;

	out = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (out == -1) {
		free(chunk);
		return -1;
	}
	while (off < len && err == 0) {
		n = pread(fd, chunk, len - off < COPY_CHUNK ?
		    (size_t)(len - off) : COPY_CHUNK, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			err = n == 0 ? EIO : errno;
		else if (fs_write_all(out, chunk, (size_t)n) == -1)
			err = errno;
		else
			off += (uint64_t)n;
	}
	if (err == 0 && fsync(out) == -1)
		err = errno;
	if (close(out) == -1 && err == 0)
		err = errno;
	free(chunk);
	if (err != 0) {
		(void)unlinkat(dir_fd, name, 0);
		errno = err;
		return -1;
	}
	return 0;
}

/* Message ID (its open file FD of LEN octets, its envelope and state E)
   into TO: the file copied into tmp/, the state written into state/,
   then the message renamed into msg/. 0, or -1 (errno; nothing left in
   TO). */
static int
put(struct queue *to, const char *id, int fd, uint64_t len,
    const struct queue_env *e)
{
	int err;

	if (faccessat(to->msg_fd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    faccessat(to->state_fd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	if (copy_fd(fd, len, to->tmp_fd, id) == -1)
		return -1;
	if (queue_write_state(to, e) == -1 ||
	    renameat(to->tmp_fd, id, to->msg_fd, id) == -1) {
		err = errno;
		(void)unlinkat(to->tmp_fd, id, 0);
		(void)unlinkat(to->state_fd, id, 0);
		errno = err;
		return -1;
	}
	return 0;
}

enum queue_copy_result
queue_copy(struct queue *from, const char *id, struct queue *to,
    uint64_t *bytes_r, const char **error_r)
{
	enum queue_copy_result res = QUEUE_COPY_FAILED;
	struct queue_env e;
	struct stat st;
	uint64_t off, len;
	int fd = -1, r;

	*bytes_r = 0;
	/* The message checked, and its state read after it was opened. */
	r = queue_open(from, id, &e, &fd, &off, &len, error_r);
	if (r != 1)
		return r == 0 ? QUEUE_COPY_GONE : QUEUE_COPY_DAMAGED;
	if (fstat(fd, &st) == -1) {
		*error_r = strerror(errno);
		res = QUEUE_COPY_DAMAGED;
		goto out;
	}
	/* Still there after its state was read: it was not finished then.
	   XXX: a message whose state is removed (delivered) between that
	   read and this check, in the instant between the two unlinks of
	   queue_remove_done(), is copied as not yet tried; a restore
	   delivers it again, as a crash of the machine could. */
	r = queue_exists(from, id);
	if (r != 1) {
		res = r == 0 ? QUEUE_COPY_GONE : QUEUE_COPY_DAMAGED;
		if (r == -1)
			*error_r = strerror(errno);
		goto out;
	}
	if (to->tmp_fd == -1) {
		*error_r = "the destination queue has no tmp/";
		goto out;
	}
	if (put(to, id, fd, (uint64_t)st.st_size, &e) == -1) {
		*error_r = strerror(errno);
		goto out;
	}
	*bytes_r = (uint64_t)st.st_size;
	res = QUEUE_COPY_DONE;
out:
	queue_env_free(&e);
	(void)close(fd);
	return res;
}

int
queue_sync(struct queue *q)
{
	if (fs_fsync_dir_at(q->state_fd, ".") == -1 ||
	    fs_fsync_dir_at(q->msg_fd, ".") == -1)
		return -1;
	return 0;
}
