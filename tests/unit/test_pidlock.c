/*
 * test_pidlock.c - the lock file of util/pidlock.h: one holder at a time,
 * the others told its pid and leaving the file alone, the lock gone
 * with the descriptor whatever the file still says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/pidlock.h"
#include "util/compat.h"

struct fx {
	char	dir[32];
	int	dirfd;
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	(void)snprintf(fx->dir, sizeof(fx->dir), "/tmp/popgate-lock-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx->dirfd = open(fx->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fx->dirfd >= 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	(void)unlinkat(fx->dirfd, "lock", 0);
	(void)unlinkat(fx->dirfd, "link", 0);
	(void)close(fx->dirfd);
	(void)rmdir(fx->dir);
	free(fx);
	return 0;
}

/* The whole text of the file "lock". */
static void
file_text(struct fx *fx, char *out, size_t outsz)
{
	int fd = openat(fx->dirfd, "lock", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, out, outsz - 1);
	assert_true(n >= 0);
	out[n] = '\0';
	(void)close(fd);
}

static void
test_take_and_refuse(void **state)
{
	struct fx *fx = *state;
	char want[32], got[32];
	pid_t holder = -1;
	int fd, again;

	fd = pidlock_take(fx->dirfd, "lock", &holder);
	assert_true(fd >= 0);
	assert_int_equal(holder, 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	(void)snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	file_text(fx, got, sizeof(got));
	assert_string_equal(got, want);
	/* flock(2) belongs to the open file: a second open, even in this
	   process, is refused and told the holder. */
	again = pidlock_take(fx->dirfd, "lock", &holder);
	assert_int_equal(again, PIDLOCK_HELD);
	assert_int_equal(holder, getpid());
	file_text(fx, got, sizeof(got));
	assert_string_equal(got, want);
	pidlock_release(&fd);
	assert_int_equal(fd, -1);
	file_text(fx, got, sizeof(got));
	assert_string_equal(got, "");
	fd = pidlock_take(fx->dirfd, "lock", &holder);
	assert_true(fd >= 0);
	pidlock_release(&fd);
	pidlock_release(&fd);		/* twice is harmless */
}

/* A holder that died without a word (SIGKILL) leaves its pid in the
   file, not the lock. */
static void
test_stale_file(void **state)
{
	struct fx *fx = *state;
	char got[32];
	pid_t child, holder = -1;
	int fd, st;

	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pid_t h;

		if (pidlock_take(fx->dirfd, "lock", &h) < 0)
			_exit(1);
		(void)kill(getpid(), SIGKILL);
		_exit(2);
	}
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	fd = pidlock_take(fx->dirfd, "lock", &holder);
	assert_true(fd >= 0);
	assert_int_equal(holder, 0);
	file_text(fx, got, sizeof(got));
	assert_int_equal(strtol(got, NULL, 10), getpid());
	pidlock_release(&fd);
}

/* Held by another process that has not written its pid yet: PIDLOCK_HELD
   and holder 0, and the file is not truncated by the loser. */
static void
test_held_without_pid(void **state)
{
	struct fx *fx = *state;
	char got[32];
	pid_t holder = -1;
	int other, fd;

	other = openat(fx->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	assert_true(other >= 0);
	assert_int_equal(write(other, "junk", 4), 4);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), 0);
	fd = pidlock_take(fx->dirfd, "lock", &holder);
	assert_int_equal(fd, PIDLOCK_HELD);
	assert_int_equal(holder, 0);
	file_text(fx, got, sizeof(got));
	assert_string_equal(got, "junk");
	(void)close(other);
}

static void
test_no_symlink(void **state)
{
	struct fx *fx = *state;
	pid_t holder;

	assert_int_equal(symlinkat("/tmp/elsewhere", fx->dirfd, "link"), 0);
	assert_int_equal(pidlock_take(fx->dirfd, "link", &holder), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(mkdirat(fx->dirfd, "lock", 0700), 0);
	assert_int_equal(pidlock_take(fx->dirfd, "lock", &holder), -1);
	assert_int_equal(unlinkat(fx->dirfd, "lock", AT_REMOVEDIR), 0);
}

int
main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup_teardown(test_take_and_refuse, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stale_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_held_without_pid, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_symlink, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("pidlock", t, NULL, NULL);
}
