/*
 * cli_lookup.c - popgate-lookup (README "Processes"): the process that
 * alone opens the account store and the relay table and checks
 * passwords, and the daemon's side that starts and watches it.
 *
 * The daemon starts it after the privilege drop, by fork and exec of
 * popgate itself (a fresh image, as popgate-keys), with its control
 * socket, the data directory and the configuration file as descriptors
 * 3, 4 and 5. Each worker thread of the daemon gets a connection of its
 * own (LOOKUP_CONNECT carries the new socket's other end), served here
 * by a thread with its own store and relay handles: the statements of
 * store_remote.c, the calls of relay_remote.c, the logins of
 * policy_remote.c. A reload sends the file again (LOOKUP_RELOAD).
 *
 * A message it does not expect, or one not consumed exactly, ends that
 * connection (logged); the end of the control socket ends the process.
 * The daemon watches it by SIGCHLD and starts another within a second;
 * meanwhile every call fails as a temporary failure (a login gets
 * -ERR [SYS/TEMP], NO [UNAVAILABLE] or 454 4.7.0, a recipient 451).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_daemon.h"
#include "cli/cli_privsep.h"
#include "policy/policy.h"
#include "util/ipc.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define CTL_FD		3
#define DATA_FD		4
#define CONFIG_FD	5
#define RESTART_GAP	1
#define LOOKUP_ARG	"__lookup"
#define OLD_CONFIGS_MAX	64

enum lookup_msg {
	LOOKUP_CONNECT = 401,	/* 1 descriptor: a connection's end */
	LOOKUP_RELOAD,		/* 1 descriptor: the configuration file */
};

/* ---- popgate-lookup itself ---- */

static struct policy_env env;
/* Replaced configurations: a connection's thread may still read one
   (freed at the end: reloads are few). */
static struct config *old_configs[OLD_CONFIGS_MAX];
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
		if (m->nfds > 0) {
			ipc_msg_close_fds(m);
			r = -1;
		} else if (m->type >= STORE_EXEC && m->type <= STORE_DONE) {
			struct store *s = backends_store(b, &err);

			r = store_remote_serve(s, err, b->api_request, m,
			    sock);
		} else if (m->type >= RELAY_CALL && m->type <= RELAY_DONE) {
			struct relay_auth *ra = backends_relay(b, &err);

			r = relay_remote_serve(ra, err, b->api_request, m,
			    sock);
		} else if (m->type >= LOGIN_CHECK &&
		    m->type <= POLICY_MSG_LAST)
			r = policy_lookup_serve(b, m, sock);
		else
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

static struct config *
read_config(int fd, const char *path)
{
	struct strlist errors;
	struct config *cfg;
	size_t i;

	strlist_init(&errors);
	if (lseek(fd, 0, SEEK_SET) == -1)
		log_error("popgate-lookup: %s: %s", path, strerror(errno));
	cfg = config_load_fd(fd, path, &errors);
	for (i = 0; i < errors.n; i++)
		log_error("popgate-lookup: %s", errors.v[i]);
	strlist_free(&errors);
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
	if (nold == OLD_CONFIGS_MAX) {
		config_free(&cfg);
		log_error("popgate-lookup: too many reloads; restart popgate");
		return;
	}
	old_configs[nold++] = (struct config *)atomic_load(&env.cfg);
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
	(void)close(CONFIG_FD);
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
	pthread_mutex_t		 lock;		/* ctl */
	int			 ctl;		/* -1: none running */
	_Atomic pid_t		 pid;
	int			 config_fd;	/* of the configuration in use */
	struct event		*chld_ev, *restart_ev;
	time_t			 started;
};

/* The child between fork and exec: async-signal-safe calls only. */
static void NORETURN
exec_child(int ctl, int data_fd, int config_fd, enum log_target log,
    const char *path)
{
	char *argv[] = { "popgate-lookup", LOOKUP_ARG,
	    log == LOG_TO_SYSLOG ? "syslog" : "stderr", (char *)path, NULL };
	int from[3] = { ctl, data_fd, config_fd }, i;
	sigset_t none;

	/* Out of the way of 3..5 first, then into place. */
	for (i = 0; i < 3; i++)
		if ((from[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 10)) == -1)
			_exit(127);
	for (i = 0; i < 3; i++)
		if (dup2(from[i], CTL_FD + i) == -1)
			_exit(127);
	privsep_close_from(CONFIG_FD + 1);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)execv("/proc/self/exe", argv);
	_exit(127);
}

static int
spawn(struct lookupproc *lp)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_error("popgate-lookup: socketpair: %s", strerror(errno));
		return -1;
	}
	(void)lseek(lp->config_fd, 0, SEEK_SET);
	if ((pid = fork()) == -1) {
		log_error("popgate-lookup: fork: %s", strerror(errno));
		(void)close(sv[0]);
		(void)close(sv[1]);
		return -1;
	}
	if (pid == 0)
		exec_child(sv[1], lp->d->data_fd, lp->config_fd,
		    lp->d->cfg->log, lp->d->config_path);
	(void)close(sv[1]);
	lp->started = time(NULL);
	lp->pid = pid;
	(void)pthread_mutex_lock(&lp->lock);
	lp->ctl = sv[0];
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
	lp->pid = 0;
	(void)pthread_mutex_lock(&lp->lock);
	(void)close(lp->ctl);
	lp->ctl = -1;
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
	lp->ctl = -1;
	lp->config_fd = d->config_fd;
	d->config_fd = -1;
	if (pthread_mutex_init(&lp->lock, NULL) != 0)
		log_fatal("popgate-lookup: mutex");
	d->lookup = lp;
	lp->restart_ev = evtimer_new(d->base, on_restart, lp);
	lp->chld_ev = evsignal_new(d->base, SIGCHLD, on_sigchld, lp);
	if (lp->config_fd == -1 || lp->restart_ev == NULL ||
	    lp->chld_ev == NULL || event_add(lp->chld_ev, NULL) == -1) {
		log_error("popgate-lookup: cannot start or watch it");
		return -1;
	}
	d->penv.lookup_connect = lookup_connect;
	d->penv.lookup_arg = lp;
	return spawn(lp);
}

void
lookupproc_reload(struct lookupproc *lp, int config_fd)
{
	int fd = fcntl(config_fd, F_DUPFD_CLOEXEC, 0);

	if (fd == -1) {
		log_error("popgate-lookup: reload: %s", strerror(errno));
		return;
	}
	(void)close(lp->config_fd);
	lp->config_fd = fd;
	(void)pthread_mutex_lock(&lp->lock);
	if (lp->ctl != -1 &&
	    ipc_send(lp->ctl, LOOKUP_RELOAD, 0, NULL, &fd, 1) == -1)
		log_error("popgate-lookup: reload: %s", strerror(errno));
	(void)pthread_mutex_unlock(&lp->lock);
}

void
lookupproc_free(struct lookupproc **lpp)
{
	struct lookupproc *lp = *lpp;
	int status;

	if (lp == NULL)
		return;
	*lpp = NULL;
	if (lp->chld_ev != NULL)
		event_free(lp->chld_ev);
	if (lp->restart_ev != NULL)
		event_free(lp->restart_ev);
	if (lp->ctl != -1)
		(void)close(lp->ctl);	/* it sees the end and exits */
	if (lp->pid > 0)
		while (waitpid(lp->pid, &status, 0) == -1 && errno == EINTR)
			;
	if (lp->config_fd != -1)
		(void)close(lp->config_fd);
	(void)pthread_mutex_destroy(&lp->lock);
	free(lp);
}
