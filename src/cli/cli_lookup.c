/*
 * cli_lookup.c - popgate-lookup (README "Processes"): the process that
 * alone opens the account store and the relay table and checks
 * passwords, and the daemon's side that starts and watches it.
 *
 * The daemon starts it after the privilege drop, by fork and exec of
 * popgate itself (a fresh image, as popgate-keys), with its control
 * socket, the data directory, the configuration file the daemon started
 * with and the one of its last reload as descriptors 3 to 6 (the keys
 * that need a restart keep the first one's values, as in the daemon). Each worker thread of the daemon gets a connection of its
 * own (LOOKUP_CONNECT carries the new socket's other end), served here
 * by a thread with its own store and relay handles: the statements of
 * store_remote.c, the calls of relay_remote.c, the logins of
 * policy_remote.c. A reload sends the file again (LOOKUP_RELOAD).
 *
 * A message it does not expect, or one not consumed exactly, ends that
 * connection (logged); the end of the control socket ends the process.
 * The daemon watches it by SIGCHLD and starts another within a second;
 * meanwhile every call fails as a temporary failure (a login gets
 * -ERR [SYS/TEMP], NO [UNAVAILABLE] or 454 4.7.0, a recipient 451). A
 * call that gets no answer in time has the daemon kill it (through a
 * pidfd: no other process gets the signal), so that the request still
 * queued does not run later, after its caller was told it failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <poll.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "cli/cli_daemon.h"
#include "cli/cli_privsep.h"
#include "policy/policy.h"
#include "util/ipc.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define CTL_FD		3	/* popgate-lookup's descriptors */
#define DATA_FD		4
#define CONFIG_FD	5	/* the configuration the daemon started with */
#define RELOADED_FD	6	/* that of its last reload (or /dev/null) */
#define RESTART_GAP	1	/* seconds between two starts at least */
#define STOP_WAIT_MS	2000	/* at shutdown, before SIGKILL */
#define LOOKUP_ARG	"__lookup"	/* popgate's argv[1] for it */

enum lookup_msg {
	LOOKUP_CONNECT = 401,	/* 1 descriptor: a connection's end */
	LOOKUP_RELOAD,		/* 1 descriptor: the configuration file */
};

/* ---- popgate-lookup itself ---- */

static struct policy_env env;
/* The configuration of the start, for the keys that need a restart. */
static const struct config *first_cfg;
/* Replaced configurations: a connection's thread may still read one.
   Kept to the end (one a reload; a few KiB each). */
static struct config **old_configs;
static size_t nold;

static void *
serve_conn(void *arg)
{
	int sock = (int)(intptr_t)arg;
	struct backends *b = backends_thread_init(&env);
	struct ipc_msg *m = xmalloc(sizeof(*m));
	const char *err = "";
	int r;

	while ((r = ipc_recv(sock, m, -1)) == 1) {
		backends_refresh(b);
		errno = 0;
		if (m->nfds > 0) {
			ipc_msg_close_fds(m);
			r = -1;
		} else if (m->type >= STORE_EXEC &&
		    m->type <= STORE_MSG_LAST) {
			struct store *s = backends_store(b, &err);

			r = store_remote_serve(s, err, b->api_request, m,
			    sock);
		} else if (m->type >= RELAY_CALL && m->type <= RELAY_DONE) {
			struct relay_auth *ra = backends_relay(b, &err);

			r = relay_remote_serve(ra, err, b->api_request, m,
			    sock);
		} else if (m->type >= LOGIN_CHECK &&
		    m->type <= POLICY_MSG_LAST) {
			r = policy_lookup_serve(b, m, sock);
			/* The password: not left for a later message. */
			OPENSSL_cleanse(m->data, m->len);
		} else
			r = -1;
		if (r == -1)
			break;
	}
	if (r == -1)
		log_error("popgate-lookup: connection ended: %s (message "
		    "type %u)", errno == EPROTO || errno == 0 ?
		    "malformed or unexpected message" : strerror(errno),
		    (unsigned)m->type);
	free(m);
	backends_thread_fini(b);
	(void)close(sock);
	return NULL;
}

static void
start_conn(int sock)
{
	pthread_attr_t attr;
	pthread_t t;

	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0 ||
	    pthread_create(&t, &attr, serve_conn, (void *)(intptr_t)sock) != 0) {
		log_error("popgate-lookup: no thread for a connection");
		(void)close(sock);
	}
	(void)pthread_attr_destroy(&attr);
}

/* The file FD (read whole from its start) as a configuration; the keys
   that need a restart keep FIRST_CFG's values (once there is one). */
static struct config *
read_config(int fd, const char *path)
{
	struct strlist errors, notes;
	struct config *cfg;
	size_t i;

	strlist_init(&errors);
	strlist_init(&notes);
	cfg = config_load_fd(fd, path, &errors);
	for (i = 0; i < errors.n; i++)
		log_error("popgate-lookup: %s", errors.v[i]);
	if (cfg != NULL && first_cfg != NULL)
		(void)config_keep_restart_keys(cfg, first_cfg, &notes);
	strlist_free(&errors);
	strlist_free(&notes);	/* the daemon says them */
	return cfg;
}

static void
reload(int fd, const char *path)
{
	struct config *cfg = read_config(fd, path);

	(void)close(fd);
	if (cfg == NULL) {
		log_error("popgate-lookup: reload refused, the configuration "
		    "in use is kept");
		return;
	}
	old_configs = xreallocarray(old_configs, nold + 1,
	    sizeof(*old_configs));
	old_configs[nold++] = (struct config *)atomic_load(&env.cfg);
	log_set_debug(cfg->debug);
	policy_env_set_config(&env, cfg);
}

/* The control socket until the daemon closes it. */
static int
control(const char *path)
{
	struct ipc_msg *m = xmalloc(sizeof(*m));
	int r;

	while ((r = ipc_recv(CTL_FD, m, -1)) == 1) {
		if (m->type == LOOKUP_CONNECT && m->len == 0 && m->nfds == 1)
			start_conn(m->fds[0]);
		else if (m->type == LOOKUP_RELOAD && m->len == 0 &&
		    m->nfds == 1)
			reload(m->fds[0], path);
		else {
			ipc_msg_close_fds(m);
			log_error("popgate-lookup: unexpected control message "
			    "type %u", (unsigned)m->type);
			r = -1;
			break;
		}
	}
	free(m);
	return r;
}

static bool
fstat_is_file(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

int
cli_lookup_main(int argc, char **argv)
{
	enum log_target log = LOG_TO_STDERR;
	int type = 0;
	socklen_t len = sizeof(type);
	struct config *cfg;
	const char *path = argc >= 4 ? argv[3] : "popgate.conf";
	int r;

	if (getsockopt(CTL_FD, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_SEQPACKET) {
		fprintf(stderr, "popgate: %s is the daemon's, not a command\n",
		    LOOKUP_ARG);
		return EXIT_USER;
	}
	if (argc >= 3 && strcmp(argv[2], "syslog") == 0)
		log = LOG_TO_SYSLOG;
	(void)prctl(PR_SET_NAME, "popgate-lookup", 0, 0, 0);
	/* No core file and no ptrace by the network process's user: this
	   process reads the password hashes. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		fprintf(stderr, "popgate-lookup: prctl: %s\n", strerror(errno));
		return EXIT_SYSTEM;
	}
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGINT, SIG_IGN);
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGTERM, SIG_DFL);
	log_init("popgate", log);
	if ((cfg = read_config(CONFIG_FD, path)) == NULL)
		return EXIT_SYSTEM;
	first_cfg = cfg;
	(void)close(CONFIG_FD);
	/* Started again after a reload: that reload's file, with the
	   first one's keys that need a restart. */
	if (fstat_is_file(RELOADED_FD)) {
		struct config *now = read_config(RELOADED_FD, path);

		if (now != NULL) {
			old_configs = xreallocarray(old_configs, 1,
			    sizeof(*old_configs));
			old_configs[nold++] = cfg;
			cfg = now;
		}
	}
	(void)close(RELOADED_FD);
	log_set_debug(cfg->debug);
	policy_env_set_config(&env, cfg);
	env.data_fd = DATA_FD;
	if (cfg->auth_cache_ttl > 0)
		env.logins = login_cache_new((unsigned)cfg->auth_cache_ttl,
		    LOGIN_CACHE_MAX);
	r = control(path);
	/* The daemon is gone: connection threads may still be in a call;
	   the store's files stay consistent whatever point they are at. */
	_exit(r == 0 ? 0 : 1);
}

bool
cli_is_lookup_process(int argc, char **argv)
{
	return argc >= 2 && strcmp(argv[1], LOOKUP_ARG) == 0;
}

/* ---- starting and watching ---- */

struct lookupproc {
	struct daemon		*d;
	pthread_mutex_t		 lock;		/* ctl and pidfd */
	int			 ctl;		/* -1: none running */
	int			 pidfd;		/* of the one running, or -1 */
	_Atomic pid_t		 pid;		/* 0: none */
	int			 start_fd;	/* the configuration at start */
	int			 reload_fd;	/* of the last reload, or -1 */
	struct event		*chld_ev, *restart_ev;
	time_t			 started;
};

/* The child between fork and exec: async-signal-safe calls only. FDS
   go to 3, 4, ... in their order. */
static void NORETURN
exec_child(const int *fds, int nfds, enum log_target log, const char *path)
{
	char *argv[] = { "popgate-lookup", LOOKUP_ARG,
	    log == LOG_TO_SYSLOG ? "syslog" : "stderr", (char *)path, NULL };
	int from[4], i;
	sigset_t none;

	/* Out of the way of 3..6 first, then into place. */
	for (i = 0; i < nfds; i++)
		if ((from[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10)) == -1)
			_exit(127);
	for (i = 0; i < nfds; i++)
		if (dup2(from[i], CTL_FD + i) == -1)
			_exit(127);
	privsep_close_from(CTL_FD + nfds);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)execv("/proc/self/exe", argv);
	_exit(127);
}

static int
spawn(struct lookupproc *lp)
{
	int sv[2], fds[4], null = -1, pidfd;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_error("popgate-lookup: socketpair: %s", strerror(errno));
		return -1;
	}
	if (lp->reload_fd == -1 &&
	    (null = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		log_error("popgate-lookup: /dev/null: %s", strerror(errno));
		(void)close(sv[0]);
		(void)close(sv[1]);
		return -1;
	}
	fds[0] = sv[1];
	fds[1] = lp->d->data_fd;
	fds[2] = lp->start_fd;
	fds[3] = lp->reload_fd != -1 ? lp->reload_fd : null;
	if ((pid = fork()) == -1) {
		log_error("popgate-lookup: fork: %s", strerror(errno));
		(void)close(sv[0]);
		(void)close(sv[1]);
		if (null != -1)
			(void)close(null);
		return -1;
	}
	if (pid == 0)
		exec_child(fds, 4, lp->d->cfg->log, lp->d->config_path);
	(void)close(sv[1]);
	if (null != -1)
		(void)close(null);
	/* A full control socket fails a connection at once (a temporary
	   failure) instead of blocking a worker with the lock held. */
	(void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
	pidfd = pidfd_open(pid, 0);
	lp->started = time(NULL);
	lp->pid = pid;
	(void)pthread_mutex_lock(&lp->lock);
	lp->ctl = sv[0];
	lp->pidfd = pidfd;
	(void)pthread_mutex_unlock(&lp->lock);
	log_info("popgate-lookup started pid=%ld", (long)pid);
	return 0;
}

/* policy_env's lookup_connect: a new connection, from any thread. */
static int
lookup_connect(void *arg)
{
	struct lookupproc *lp = arg;
	int sv[2], r = -1, e = ECONNREFUSED;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	(void)pthread_mutex_lock(&lp->lock);
	if (lp->ctl != -1) {
		r = ipc_send(lp->ctl, LOOKUP_CONNECT, 0, NULL, &sv[1], 1);
		e = errno;
	}
	(void)pthread_mutex_unlock(&lp->lock);
	(void)close(sv[1]);
	if (r == -1) {
		(void)close(sv[0]);
		errno = e;
		return -1;
	}
	return sv[0];
}

/* policy_env's lookup_broken: from any thread. The pidfd names the
   process that runs, never one that took its pid after it ended. */
static void
lookup_broken(void *arg)
{
	struct lookupproc *lp = arg;

	(void)pthread_mutex_lock(&lp->lock);
	if (lp->pidfd != -1 &&
	    pidfd_send_signal(lp->pidfd, SIGKILL, NULL, 0) == 0)
		log_error("popgate-lookup pid=%ld did not answer in time: "
		    "killed", (long)lp->pid);
	(void)pthread_mutex_unlock(&lp->lock);
}

static void
on_restart(evutil_socket_t fd, short what, void *arg)
{
	struct lookupproc *lp = arg;

	(void)fd;
	(void)what;
	if (lp->pid == 0 && spawn(lp) == -1) {
		struct timeval tv = { RESTART_GAP, 0 };

		(void)event_add(lp->restart_ev, &tv);
	}
}

static void
on_sigchld(evutil_socket_t fd, short what, void *arg)
{
	struct lookupproc *lp = arg;
	struct timeval tv = { 0, 0 };
	pid_t pid = lp->pid;
	int status = 0;

	(void)fd;
	(void)what;
	if (pid <= 0 || waitpid(pid, &status, WNOHANG) != pid)
		return;
	(void)pthread_mutex_lock(&lp->lock);
	lp->pid = 0;
	(void)close(lp->ctl);
	lp->ctl = -1;
	if (lp->pidfd != -1)
		(void)close(lp->pidfd);
	lp->pidfd = -1;
	(void)pthread_mutex_unlock(&lp->lock);
	if (WIFSIGNALED(status))
		log_error("popgate-lookup pid=%ld killed by signal %d; logins "
		    "and look-ups fail until another runs", (long)pid,
		    WTERMSIG(status));
	else
		log_error("popgate-lookup pid=%ld exited status=%d; logins "
		    "and look-ups fail until another runs", (long)pid,
		    WEXITSTATUS(status));
	if (time(NULL) - lp->started < RESTART_GAP)
		tv.tv_sec = RESTART_GAP;
	(void)event_add(lp->restart_ev, &tv);
}

int
lookupproc_start(struct daemon *d)
{
	struct lookupproc *lp = xcalloc(1, sizeof(*lp));

	lp->d = d;
	lp->ctl = lp->pidfd = lp->reload_fd = -1;
	lp->start_fd = d->config_fd;
	d->config_fd = -1;
	if (pthread_mutex_init(&lp->lock, NULL) != 0)
		log_fatal("popgate-lookup: mutex");
	d->lookup = lp;
	lp->restart_ev = evtimer_new(d->base, on_restart, lp);
	lp->chld_ev = evsignal_new(d->base, SIGCHLD, on_sigchld, lp);
	if (lp->start_fd == -1 || lp->restart_ev == NULL ||
	    lp->chld_ev == NULL || event_add(lp->chld_ev, NULL) == -1) {
		log_error("popgate-lookup: cannot start or watch it");
		return -1;
	}
	d->penv.lookup_connect = lookup_connect;
	d->penv.lookup_broken = lookup_broken;
	d->penv.lookup_arg = lp;
	return spawn(lp);
}

void
lookupproc_reload(struct lookupproc *lp, int config_fd)
{
	int fd = fcntl(config_fd, F_DUPFD_CLOEXEC, 0);

	if (fd == -1) {
		log_error("popgate-lookup: reload not sent: %s",
		    strerror(errno));
		return;
	}
	if (lp->reload_fd != -1)
		(void)close(lp->reload_fd);
	lp->reload_fd = fd;
	(void)pthread_mutex_lock(&lp->lock);
	if (lp->ctl != -1 &&
	    ipc_send(lp->ctl, LOOKUP_RELOAD, 0, NULL, &fd, 1) == -1)
		log_error("popgate-lookup: reload not sent: %s",
		    strerror(errno));
	(void)pthread_mutex_unlock(&lp->lock);
}

/* At shutdown: the end of its control socket ends it; one that does not
   end (stopped, stuck in a call) is killed. */
static void
stop(struct lookupproc *lp)
{
	struct pollfd pfd = { lp->pidfd, POLLIN, 0 };
	int status;

	if (lp->ctl != -1)
		(void)close(lp->ctl);
	lp->ctl = -1;
	if (lp->pid <= 0)
		return;
	if (lp->pidfd == -1 || poll(&pfd, 1, STOP_WAIT_MS) != 1)
		(void)kill(lp->pid, SIGKILL);	/* not reaped: still ours */
	while (waitpid(lp->pid, &status, 0) == -1 && errno == EINTR)
		;
}

void
lookupproc_free(struct lookupproc **lpp)
{
	struct lookupproc *lp = *lpp;

	if (lp == NULL)
		return;
	*lpp = NULL;
	if (lp->chld_ev != NULL)
		event_free(lp->chld_ev);
	if (lp->restart_ev != NULL)
		event_free(lp->restart_ev);
	stop(lp);
	if (lp->pidfd != -1)
		(void)close(lp->pidfd);
	if (lp->start_fd != -1)
		(void)close(lp->start_fd);
	if (lp->reload_fd != -1)
		(void)close(lp->reload_fd);
	(void)pthread_mutex_destroy(&lp->lock);
	free(lp);
}
