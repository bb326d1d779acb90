/*
 * test_sandbox.c - the seccomp lists of util/sandbox.h, one call per row
 * in a child that has loaded a role's filter: the calls a role makes
 * succeed, the ones off its list (or with arguments it does not allow)
 * kill the child with SIGSYS, clone3 fails with ENOSYS so that glibc's
 * threads fall back to clone, whose flags the filter sees. Every row that
 * is killed would be harmless if the filter let it through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/sandbox.h"
#include "util/compat.h"

#include "testlib.h"

#define ALLOWED	0	/* the child exits 0 */
#define KILLED	SIGSYS	/* the child dies of SIGSYS */

struct row {
	const char		*name;
	int			(*call)(void);	/* 0: it did what it should */
	enum sandbox_role	 role;
	int			 expect;
};

static int
sock(int domain, int type, int proto)
{
	int fd = socket(domain, type, proto);

	return fd >= 0 ? close(fd) : -1;
}

static int inet_stream(void) { return sock(AF_INET, SOCK_STREAM, 0); }
static int inet6_dgram(void)
{
	return sock(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}
static int unix_seqpacket(void)
{
	return sock(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
}
static int unix_stream(void) { return sock(AF_UNIX, SOCK_STREAM, 0); }
static int unix_dgram(void) { return sock(AF_UNIX, SOCK_DGRAM, 0); }
/* Fails with EPERM for a user, if it were let through. */
static int inet_raw(void) { return sock(AF_INET, SOCK_RAW, 1); }
static int packet(void) { return sock(AF_PACKET, SOCK_DGRAM, 0); }
static int netlink_route(void)
{
	return sock(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}
static int netlink_audit(void)
{
	return sock(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
}

static int
pair(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1)
		return -1;
	(void)close(sv[0]);
	return close(sv[1]);
}

static void *
thread_main(void *arg)
{
	return arg;
}

/* glibc tries clone3 first, then clone. */
static int
thread(void)
{
	pthread_t t;
	void *ret;

	if (pthread_create(&t, NULL, thread_main, &ret) != 0 ||
	    pthread_join(t, &ret) != 0)
		return -1;
	return 0;
}

static int
clone3_nosys(void)
{
	return syscall(SYS_clone3, NULL, 0) == -1 && errno == ENOSYS ? 0 : -1;
}

static int
do_fork(void)
{
	pid_t pid = fork();
	int st;

	if (pid == 0)
		_exit(0);
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* A new user namespace, which a user may make (if it were let
   through, only this dying child would have it). */
static int
clone_newuser(void)
{
	long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);

	if (pid == 0)
		_exit(0);
	return -1;
}

static int unshare_user(void) { return unshare(CLONE_NEWUSER); }
static int personality_read(void)
{
	return (int)syscall(SYS_personality, 0xffffffffUL);
}
static int thread_name(void)
{
	return prctl(PR_SET_NAME, "sandbox-test", 0, 0, 0);
}
/* Needs CAP_SYS_RESOURCE, if it were let through. */
static int prctl_mm(void)
{
	return prctl(PR_SET_MM, PR_SET_MM_START_CODE, 0, 0, 0);
}
static int fionread(void)
{
	int n, sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return -1;
	r = ioctl(sv[0], FIONREAD, &n);
	(void)close(sv[0]);
	(void)close(sv[1]);
	return r;
}
/* On /dev/null, not a terminal: ENOTTY, if it were let through. */
static int tiocsti(void)
{
	char c = 'x';
	int fd = open("/dev/null", O_RDONLY), r;

	r = ioctl(fd, TIOCSTI, &c);
	(void)close(fd);
	return r;
}
static int kill_probe(void) { return kill(getpid(), 0); }
/* SIGURG is ignored by default, if it were let through. */
static int kill_urg(void) { return kill(getpid(), SIGURG); }
static int read_only(void)
{
	int fd = openat(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);

	return fd >= 0 ? close(fd) : -1;
}
static int write_only(void)
{
	int fd = openat(AT_FDCWD, "/dev/null", O_WRONLY);

	return fd >= 0 ? close(fd) : -1;
}
static int
randomness(void)
{
	char b[16];

	return getrandom(b, sizeof(b), 0) == (ssize_t)sizeof(b) ? 0 : -1;
}
static int
exec_true(void)
{
	char *argv[] = { "true", NULL };

	(void)execv("/bin/true", argv);
	return -1;
}

static const struct row rows[] = {
	{ "daemon: AF_INET stream socket", inet_stream, SANDBOX_DAEMON,
	    ALLOWED },
	{ "daemon: AF_INET6 datagram socket", inet6_dgram, SANDBOX_DAEMON,
	    ALLOWED },
	{ "daemon: AF_UNIX seqpacket socket", unix_seqpacket, SANDBOX_DAEMON,
	    ALLOWED },
	{ "daemon: socketpair", pair, SANDBOX_DAEMON, ALLOWED },
	{ "daemon: NETLINK_ROUTE socket", netlink_route, SANDBOX_DAEMON,
	    ALLOWED },
	{ "daemon: raw IPv4 socket killed", inet_raw, SANDBOX_DAEMON, KILLED },
	{ "daemon: AF_PACKET socket killed", packet, SANDBOX_DAEMON, KILLED },
	{ "daemon: NETLINK_AUDIT socket killed", netlink_audit,
	    SANDBOX_DAEMON, KILLED },
	{ "daemon: a thread (clone3, then clone)", thread, SANDBOX_DAEMON,
	    ALLOWED },
	{ "daemon: clone3 fails with ENOSYS", clone3_nosys, SANDBOX_DAEMON,
	    ALLOWED },
	{ "daemon: fork", do_fork, SANDBOX_DAEMON, ALLOWED },
	{ "daemon: clone with CLONE_NEWUSER killed", clone_newuser,
	    SANDBOX_DAEMON, KILLED },
	{ "daemon: unshare killed", unshare_user, SANDBOX_DAEMON, KILLED },
	{ "daemon: personality killed", personality_read, SANDBOX_DAEMON,
	    KILLED },
	{ "daemon: prctl PR_SET_NAME", thread_name, SANDBOX_DAEMON, ALLOWED },
	{ "daemon: prctl PR_SET_MM killed", prctl_mm, SANDBOX_DAEMON, KILLED },
	{ "daemon: ioctl FIONREAD", fionread, SANDBOX_DAEMON, ALLOWED },
	{ "daemon: ioctl TIOCSTI killed", tiocsti, SANDBOX_DAEMON, KILLED },
	{ "daemon: kill with signal 0", kill_probe, SANDBOX_DAEMON, ALLOWED },
	{ "daemon: kill with SIGURG killed", kill_urg, SANDBOX_DAEMON,
	    KILLED },
	{ "net: a thread (clone3, then clone)", thread, SANDBOX_NET,
	    ALLOWED },
	{ "net: fork killed", do_fork, SANDBOX_NET, KILLED },
	{ "net: execve killed", exec_true, SANDBOX_NET, KILLED },
	{ "net: kill with signal 0 killed", kill_probe, SANDBOX_NET, KILLED },
	{ "net: clone with CLONE_NEWUSER killed", clone_newuser, SANDBOX_NET,
	    KILLED },
	{ "net: socketpair", pair, SANDBOX_NET, ALLOWED },
	{ "keys: open read-only", read_only, SANDBOX_KEYS, ALLOWED },
	{ "keys: open for writing killed", write_only, SANDBOX_KEYS, KILLED },
	{ "keys: getrandom", randomness, SANDBOX_KEYS, ALLOWED },
	{ "keys: AF_UNIX datagram socket (syslog)", unix_dgram, SANDBOX_KEYS,
	    ALLOWED },
	{ "keys: AF_UNIX stream socket (a stream /dev/log)", unix_stream,
	    SANDBOX_KEYS, ALLOWED },
	{ "keys: AF_UNIX seqpacket socket killed", unix_seqpacket,
	    SANDBOX_KEYS, KILLED },
	{ "keys: AF_INET socket killed", inet_stream, SANDBOX_KEYS, KILLED },
	{ "keys: execve killed", exec_true, SANDBOX_KEYS, KILLED },
	{ "keys: personality killed", personality_read, SANDBOX_KEYS,
	    KILLED },
};

static void
test_row(void **state)
{
	const struct row *r = *state;
	struct errbuf eb;
	pid_t pid;
	int st;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit none = { 0, 0 };

		/* no core file of a killed child */
		(void)setrlimit(RLIMIT_CORE, &none);
		if (sandbox_apply(r->role, &eb) == -1) {
			fprintf(stderr, "%s\n", eb.text);
			_exit(2);
		}
		_exit(r->call() == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (r->expect == ALLOWED) {
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	} else {
		assert_true(WIFSIGNALED(st));
		assert_int_equal(WTERMSIG(st), r->expect);
	}
}

int
main(void)
{
	size_t i;

	for (i = 0; i < nitems(rows); i++)
		add_test(rows[i].name, test_row, &rows[i]);
	return _cmocka_run_group_tests("sandbox", tests, ntests, NULL, NULL);
}
