/*
 * cli_lookhold.c - the owner of popgate-lookup (cli_privsep.h): the
 * process that starts it, kills it when asked and reaps it. That is
 * popgate-priv when the daemon gives up root (OpenSMTPD's parent: the
 * network process neither forks nor signals the process that reads the
 * password hashes, and its confinement need not allow either), the
 * daemon itself when it keeps its user.
 *
 * popgate-lookup is a fork and exec of popgate itself with its control
 * socket (the other end goes to the daemon), the data directory (opened
 * here, from the configuration of the start: data_dir needs a restart),
 * and the two configuration files the daemon passes (of its start and
 * of its last reload) as descriptors 3 to 6. Its end is logged when it
 * is reaped: here at once when the owner polls lookhold_fd(), else at
 * the next start.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli_privsep.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/priv.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define STOP_WAIT_MS	2000	/* at the end, before SIGKILL */
#define LOOKUP_NOFILE	8192	/* its descriptor limit at least */

struct lookhold {
	char		*user;		/* NULL: keep ours */
	char		*data_dir;
	char		*config_path;	/* for its messages */
	enum log_target	 log;
	pid_t		 pid;		/* 0: none (reaped) */
	int		 pidfd;		/* of pid, or -1 */
};

struct lookhold *
lookhold_new(const char *user, const char *data_dir, const char *path,
    enum log_target log)
{
	struct lookhold *lh = xcalloc(1, sizeof(*lh));

	lh->user = user != NULL && *user != '\0' ? xstrdup(user) : NULL;
	lh->data_dir = xstrdup(data_dir);
	lh->config_path = xstrdup(path);
	lh->log = log;
	lh->pidfd = -1;
	return lh;
}

/* Reaps the one running, which has ended or is about to (WAIT: block
   until it has), logging how it ended. It exits 0 only when its control
   socket ended, that is when the daemon stops: not an error. */
static void
reap(struct lookhold *lh, bool wait)
{
	int status = 0;
	pid_t r;

	if (lh->pid <= 0)
		return;
	while ((r = waitpid(lh->pid, &status, wait ? 0 : WNOHANG)) == -1 &&
	    errno == EINTR)
		;
	if (r == 0)
		return;
	if (r == lh->pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("popgate-lookup pid=%ld ended", (long)lh->pid);
	else if (r == lh->pid && WIFSIGNALED(status))
		log_error("popgate-lookup pid=%ld killed by signal %d; logins "
		    "and look-ups fail until another runs", (long)lh->pid,
		    WTERMSIG(status));
	else if (r == lh->pid)
		log_error("popgate-lookup pid=%ld exited status=%d; logins "
		    "and look-ups fail until another runs", (long)lh->pid,
		    WEXITSTATUS(status));
	lh->pid = 0;
	if (lh->pidfd != -1)
		(void)close(lh->pidfd);
	lh->pidfd = -1;
}

/* Kills the one running (our child, not reaped yet: the pid is still
   its) and reaps it. */
static void
stop(struct lookhold *lh)
{
	if (lh->pid <= 0)
		return;
	(void)kill(lh->pid, SIGKILL);
	reap(lh, true);
}

void
lookhold_free(struct lookhold **lhp)
{
	struct lookhold *lh = *lhp;
	struct pollfd pfd;

	if (lh == NULL)
		return;
	*lhp = NULL;
	/* The daemon closed its control socket: popgate-lookup ends by
	   itself, unless it is stuck (stopped, or in a call). */
	if (lh->pid > 0) {
		pfd.fd = lh->pidfd;
		pfd.events = POLLIN;
		if (lh->pidfd == -1 || poll(&pfd, 1, STOP_WAIT_MS) != 1)
			(void)kill(lh->pid, SIGKILL);
		reap(lh, true);
	}
	free(lh->user);
	free(lh->data_dir);
	free(lh->config_path);
	free(lh);
}

/* The child between fork and exec: async-signal-safe calls only. FDS
   go to 3, 4, ... in their order; then the user. */
static void NORETURN
exec_child(const int *fds, int nfds, const struct lookhold *lh)
{
	char *argv[] = { "popgate-lookup", PRIVSEP_LOOKUP_ARG,
	    lh->log == LOG_TO_SYSLOG ? "syslog" : "stderr",
	    lh->config_path, NULL };
	const char *err;
	int from[PRIVSEP_LOOKUP_NFDS], i;
	struct rlimit rl;
	sigset_t none;

	/* Out of the way of 3..6 first, then into place. */
	for (i = 0; i < nfds; i++)
		if ((from[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10)) == -1)
			_exit(127);
	for (i = 0; i < nfds; i++)
		if (dup2(from[i], PRIVSEP_LOOKUP_CTL_FD + i) == -1)
			_exit(127);
	privsep_close_from(PRIVSEP_LOOKUP_CTL_FD + nfds);
	/* Its descriptors go with the daemon's threads (a connection, the
	   store's and the relay table's files for each), not with the
	   clients the daemon's limit was set for: at least LOOKUP_NOFILE,
	   as root may raise it. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < LOOKUP_NOFILE) {
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < LOOKUP_NOFILE &&
		    geteuid() == 0)
			rl.rlim_max = LOOKUP_NOFILE;
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
		    rl.rlim_max > LOOKUP_NOFILE ? LOOKUP_NOFILE : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (lh->user != NULL && priv_drop(lh->user, &err) == -1)
		_exit(126);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)execv("/proc/self/exe", argv);
	_exit(127);
}

static bool
is_file(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

int
lookhold_start(struct lookhold *lh, int start_fd, int reload_fd,
    int *ctl_r, long *pid_r, char *err, size_t errsz)
{
	int sv[2], fds[PRIVSEP_LOOKUP_NFDS], data_fd, null = -1;
	pid_t pid;

	*ctl_r = -1;
	stop(lh);
	if (!is_file(start_fd) || (reload_fd != -1 && !is_file(reload_fd))) {
		(void)snprintf(err, errsz, "its configuration is not a file");
		return -1;
	}
	if ((data_fd = fs_open_dir(AT_FDCWD, lh->data_dir)) == -1) {
		(void)snprintf(err, errsz, "data directory %s: %s",
		    lh->data_dir, strerror(errno));
		return -1;
	}
	if ((reload_fd == -1 &&
	    (null = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		(void)snprintf(err, errsz, "%s: %s", null == -1 &&
		    reload_fd == -1 ? "/dev/null" : "socketpair",
		    strerror(errno));
		if (null != -1)
			(void)close(null);
		(void)close(data_fd);
		return -1;
	}
	fds[0] = sv[1];
	fds[1] = data_fd;
	fds[2] = start_fd;
	fds[3] = reload_fd != -1 ? reload_fd : null;
	if ((pid = fork()) == -1) {
		(void)snprintf(err, errsz, "fork: %s", strerror(errno));
		(void)close(sv[0]);
		sv[0] = -1;
	} else if (pid == 0)
		exec_child(fds, PRIVSEP_LOOKUP_NFDS, lh);
	(void)close(sv[1]);
	(void)close(data_fd);
	if (null != -1)
		(void)close(null);
	if (pid == -1)
		return -1;
	lh->pid = pid;
	lh->pidfd = pidfd_open(pid, 0);
	*ctl_r = sv[0];
	*pid_r = (long)pid;
	log_info("popgate-lookup started pid=%ld", (long)pid);
	return 0;
}

int
lookhold_kill(struct lookhold *lh, long pid)
{
	if (lh->pid <= 0 || (long)lh->pid != pid)
		return -1;	/* ended and reaped already */
	(void)kill(lh->pid, SIGKILL);
	return 0;
}

int
lookhold_fd(const struct lookhold *lh)
{
	return lh->pidfd;
}

void
lookhold_reap(struct lookhold *lh)
{
	reap(lh, false);
}

int
privsep_decode_lookup_ready(const struct ipc_msg *m, char *err,
    size_t errsz)
{
	struct ipc_in in;
	uint32_t ok;

	ipc_in_init(&in, m);
	if (m->type != LOOKUP_READY || ipc_get_u32(&in, &ok) == -1 ||
	    ok > 1 || ipc_get_text(&in, err, errsz) == -1 ||
	    ipc_get_done(&in, 0) == -1 || (ok == 1) != (err[0] == '\0'))
		return -1;
	return (int)ok;
}
