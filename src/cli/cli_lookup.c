/*
 * cli_lookup.c - popgate-lookup (README "Processes"): the process that
 * alone opens the account store and the relay table and checks
 * passwords, and the daemon's side that starts and watches it.
 *
 * Its owner starts it (cli_lookhold.c: popgate-priv when the daemon
 * gives up root, so the network process neither forks nor signals it;
 * else the daemon itself), by fork and exec of popgate itself (a fresh
 * image, as popgate-keys), with its control socket, the data directory,
 * the configuration file the daemon started with and the one of its
 * last reload as descriptors 3 to 6 (the keys that need a restart keep
 * the first one's values, as in the daemon); the daemon gets the other
 * end of the control socket. Each worker thread of the daemon gets a
 * connection of its own (LOOKUP_CONNECT carries the new socket's other
 * end), served here by a thread with its own store and relay handles:
 * the statements of store_remote.c, the calls of relay_remote.c, the
 * logins of policy_remote.c. A reload sends the file again
 * (LOOKUP_RELOAD).
 *
 * A message it does not expect, or one not consumed exactly, ends that
 * connection (logged); the end of the control socket ends the process.
 * It never writes on that socket, so the daemon sees its end there and
 * has the owner start another within a second (the owner reaps it and
 * logs how it ended); meanwhile every call fails as a temporary failure
 * (a login gets -ERR [SYS/TEMP], NO [UNAVAILABLE] or 454 4.7.0, a
 * recipient 451). A call that gets no answer in time has the owner kill
 * it, so that the request still queued does not run later, after its
 * caller was told it failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "cli/cli_daemon.h"
#include "cli/cli_privsep.h"
#include "policy/policy.h"
#include "store/store.h"
#include "util/fsutil.h"
#include "util/ipc.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define CTL_FD		PRIVSEP_LOOKUP_CTL_FD	/* its descriptors */
#define DATA_FD		(CTL_FD + 1)
#define CONFIG_FD	(CTL_FD + 2)	/* of the daemon's start */
#define RELOADED_FD	(CTL_FD + 3)	/* of its last reload (or /dev/null) */
#define RESTART_GAP	1	/* seconds between two starts at least */
#define LOOKUP_ARG	PRIVSEP_LOOKUP_ARG	/* popgate's argv[1] for it */

#define READY_WAIT_MS	60000	/* for the store's migration at most */
#define CONNECT_WAIT_MS	3000	/* for a new one, when one ended */

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

/* The store brought to the current schema (here: the daemon opens no
   store), and LOOKUP_READY saying so. 0, or -1 (logged) when the store
   cannot serve. */
static int
ready(const struct config *cfg)
{
	char dir[64], why[LOOKUP_ERROR_MAX];
	const char *err = "";
	struct errbuf eb;
	struct ipc_out o;
	struct store *s;
	int r = -1;

	why[0] = '\0';
	if (fs_fd_path(DATA_FD, dir, sizeof(dir)) == -1)
		(void)str_copy(why, "the data directory's path", sizeof(why));
	else if ((s = store_open(cfg->store, dir, &eb, &err)) == NULL)
		(void)str_fmt(why, sizeof(why), "store: %s", err);
	else {
		if ((r = store_migrate(s, &err)) == -1)
			(void)str_fmt(why, sizeof(why), "store: %s", err);
		store_close(&s);
	}
	if (r == -1)
		log_error("popgate-lookup: %s", why);
	ipc_out_init(&o);
	ipc_put_u32(&o, r == 0 ? 1 : 0);
	ipc_put_text(&o, r == 0 ? "" : why);
	if (ipc_send(CTL_FD, LOOKUP_READY, 0, &o, NULL, 0) == -1)
		r = -1;
	ipc_out_free(&o);
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
	env.open_lazily = true;
	if (cfg->auth_cache_ttl > 0)
		env.logins = login_cache_new((unsigned)cfg->auth_cache_ttl,
		    LOGIN_CACHE_MAX);
	if (ready(first_cfg) == -1)
		_exit(1);
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

struct start_job;

struct lookupproc {
	struct daemon		*d;
	pthread_mutex_t		 lock;		/* the fields below d */
	pthread_cond_t		 cv;		/* a new ctl, or stopping */
	int			 ctl;		/* -1: none running */
	bool			 ctl_ok;	/* not seen ended by a send */
	bool			 stopping;
	_Atomic long		 pid;		/* 0: none */
	_Atomic long		 killed;	/* the pid killed last */
	int			 start_fd;	/* the configuration at start */
	int			 reload_fd;	/* of the last reload, or -1 */
	unsigned		 reload_gen;	/* reloads so far */
	struct start_job	*done;		/* a start for the loop */
	pthread_t		 thread;	/* of a start under way */
	bool			 starting;	/* (the loop's) */
	struct event		*ctl_ev, *restart_ev, *done_ev;
	time_t			 started;
};

/* A start by the owner (popgate-priv, or the daemon itself), and what
   it got. */
struct start_job {
	struct lookupproc	*lp;
	int			 ctl;
	long			 pid;
	int			 r;
	char			 err[PRIVSEP_REASON_MAX];
};

static void on_ctl(evutil_socket_t, short, void *);

/* Its first message on CTL: ready, the store migrated. 0, or -1 with
   why not in ERR. */
static int
wait_ready(int ctl, char *err, size_t errsz)
{
	struct ipc_msg *m = xmalloc(sizeof(*m));
	int r;

	m->nfds = 0;
	r = ipc_recv(ctl, m, READY_WAIT_MS);
	if (r == 1) {
		if ((r = privsep_decode_lookup_ready(m, err, errsz)) == -1)
			(void)str_copy(err, "a malformed or unexpected first "
			    "message", errsz);
		ipc_msg_close_fds(m);
	} else
		(void)str_fmt(err, errsz, "no answer: %s", r == 0 ?
		    "it exited" : strerror(errno));
	free(m);
	return r == 1 ? 0 : -1;
}

/* The start itself, and its control socket handed to the callers of
   lookup_connect() at once (from the start's thread). */
static void
start_work(struct start_job *j)
{
	struct lookupproc *lp = j->lp;
	unsigned gen;
	int rfd;

	/* The last reload's file as it is now (a reload may replace it
	   meanwhile: then it is sent as LOOKUP_RELOAD below). */
	(void)pthread_mutex_lock(&lp->lock);
	rfd = lp->reload_fd != -1 ? fcntl(lp->reload_fd, F_DUPFD_CLOEXEC, 0) :
	    -1;
	gen = lp->reload_gen;
	(void)pthread_mutex_unlock(&lp->lock);
	j->r = privsep_lookup_start(lp->d->priv, lp->start_fd, rfd, &j->ctl,
	    &j->pid, j->err, sizeof(j->err));
	if (rfd != -1)
		(void)close(rfd);
	if (j->r == 0 && (j->r = wait_ready(j->ctl, j->err,
	    sizeof(j->err))) == -1) {
		privsep_lookup_kill(lp->d->priv, j->pid);
		(void)close(j->ctl);
		j->ctl = -1;
	}
	/* A full control socket fails a connection at once (a temporary
	   failure) instead of blocking a worker with the lock held. */
	if (j->r == 0)
		(void)fcntl(j->ctl, F_SETFL, O_NONBLOCK);
	(void)pthread_mutex_lock(&lp->lock);
	if (j->r == 0 && gen != lp->reload_gen &&
	    ipc_send(j->ctl, LOOKUP_RELOAD, 0, NULL, &lp->reload_fd, 1) == -1)
		log_error("popgate-lookup: reload not sent: %s",
		    strerror(errno));
	if (j->r == 0) {
		lp->ctl = j->ctl;
		lp->ctl_ok = true;
		lp->pid = j->pid;
		(void)pthread_cond_broadcast(&lp->cv);
	}
	lp->done = j;
	(void)pthread_mutex_unlock(&lp->lock);
}

static void
restart_later(struct lookupproc *lp)
{
	struct timeval tv = { 0, 0 };

	if (time(NULL) - lp->started < RESTART_GAP)
		tv.tv_sec = RESTART_GAP;
	(void)event_add(lp->restart_ev, &tv);
}

/* On the loop, after start_work(): the new one's control socket watched
   for its end, or another try. */
static void
start_done(struct lookupproc *lp)
{
	struct start_job *j;

	(void)pthread_mutex_lock(&lp->lock);
	j = lp->done;
	lp->done = NULL;
	(void)pthread_mutex_unlock(&lp->lock);
	if (j == NULL)
		return;
	if (lp->starting) {
		(void)pthread_join(lp->thread, NULL);
		lp->starting = false;
	}
	lp->started = time(NULL);
	if (j->r == -1) {
		log_error("popgate-lookup: cannot start it: %s", j->err);
		if (!privsep_broken(lp->d->priv))
			restart_later(lp);
	} else {
		lp->ctl_ev = event_new(lp->d->base, j->ctl, EV_READ |
		    EV_CLOSED | EV_PERSIST, on_ctl, lp);
		if (lp->ctl_ev == NULL || event_add(lp->ctl_ev, NULL) == -1)
			log_error("popgate-lookup pid=%ld: cannot watch it: a "
			    "restart needs a restart of the daemon", j->pid);
	}
	free(j);
}

static void *
start_main(void *arg)
{
	struct start_job *j = arg;
	struct lookupproc *lp = j->lp;

	start_work(j);
	event_active(lp->done_ev, 0, 0);
	return NULL;
}

static void
on_started(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	start_done(arg);
}

/* A start: on a thread of its own once the daemon serves (the workers
   may all be waiting in lookup_connect() for it), else here. */
static void
start(struct lookupproc *lp)
{
	struct start_job *j = xcalloc(1, sizeof(*j));

	j->lp = lp;
	j->ctl = -1;
	if (lp->d->io == NULL) {
		start_work(j);
		start_done(lp);
		return;
	}
	lp->starting = true;
	if (pthread_create(&lp->thread, NULL, start_main, j) != 0) {
		lp->starting = false;
		log_error("popgate-lookup: no thread to start it; tried again "
		    "in %d s", RESTART_GAP);
		free(j);
		lp->started = time(NULL);
		restart_later(lp);
	}
}

/* policy_env's lookup_connect: a new connection, from any thread. One
   that ended is waited for a moment: its successor is on its way. */
static int
lookup_connect(void *arg)
{
	struct lookupproc *lp = arg;
	int sv[2], r = -1, e = ECONNREFUSED;
	struct timespec until;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	(void)clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += CONNECT_WAIT_MS / 1000;
	(void)pthread_mutex_lock(&lp->lock);
	while (!lp->stopping) {
		if (lp->ctl != -1 && lp->ctl_ok) {
			r = ipc_send(lp->ctl, LOOKUP_CONNECT, 0, NULL, &sv[1],
			    1);
			e = errno;
			if (r == 0 || (e != EPIPE && e != ECONNRESET &&
			    e != ECONNREFUSED))
				break;
			lp->ctl_ok = false;	/* it ended */
		}
		if (pthread_cond_timedwait(&lp->cv, &lp->lock, &until) ==
		    ETIMEDOUT)
			break;
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

/* policy_env's lookup_broken: from any thread. Its owner kills it (its
   child, unreaped: the pid is still its), once per pid. */
static void
lookup_broken(void *arg)
{
	struct lookupproc *lp = arg;
	long pid = lp->pid;

	if (pid <= 0 || atomic_exchange(&lp->killed, pid) == pid)
		return;
	log_error("popgate-lookup pid=%ld did not answer in time: killed",
	    pid);
	privsep_lookup_kill(lp->d->priv, pid);
}

static void
on_restart(evutil_socket_t fd, short what, void *arg)
{
	struct lookupproc *lp = arg;

	(void)fd;
	(void)what;
	if (lp->pid == 0 && !lp->starting)
		start(lp);
}

/* Its control socket: popgate-lookup writes nothing on it after
   LOOKUP_READY, so readable means it ended (or broke the protocol: it
   is ended too). Its owner reaps it and logs how it ended. */
static void
on_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct lookupproc *lp = arg;
	long pid = lp->pid;

	(void)fd;
	(void)what;
	event_free(lp->ctl_ev);
	lp->ctl_ev = NULL;
	(void)pthread_mutex_lock(&lp->lock);
	(void)close(lp->ctl);
	lp->ctl = -1;
	lp->pid = 0;
	(void)pthread_mutex_unlock(&lp->lock);
	log_info("popgate-lookup pid=%ld: its control socket ended; another "
	    "is started", pid);
	restart_later(lp);
}

int
lookupproc_start(struct daemon *d)
{
	struct lookupproc *lp = xcalloc(1, sizeof(*lp));
	pthread_condattr_t ca;

	lp->d = d;
	lp->ctl = lp->reload_fd = -1;
	lp->start_fd = d->config_fd;
	d->config_fd = -1;
	if (pthread_mutex_init(&lp->lock, NULL) != 0 ||
	    pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&lp->cv, &ca) != 0)
		log_fatal("popgate-lookup: mutex");
	(void)pthread_condattr_destroy(&ca);
	d->lookup = lp;
	lp->restart_ev = evtimer_new(d->base, on_restart, lp);
	lp->done_ev = event_new(d->base, -1, 0, on_started, lp);
	if (lp->start_fd == -1 || lp->restart_ev == NULL ||
	    lp->done_ev == NULL) {
		log_error("popgate-lookup: cannot start or watch it");
		return -1;
	}
	d->penv.lookup_connect = lookup_connect;
	d->penv.lookup_broken = lookup_broken;
	d->penv.lookup_arg = lp;
	start(lp);
	return lp->pid != 0 ? 0 : -1;
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
	/* A start under way gets the old file or this one; it sends this
	   one when it is not what it started with. */
	(void)pthread_mutex_lock(&lp->lock);
	if (lp->reload_fd != -1)
		(void)close(lp->reload_fd);
	lp->reload_fd = fd;
	lp->reload_gen++;
	if (lp->ctl != -1 &&
	    ipc_send(lp->ctl, LOOKUP_RELOAD, 0, NULL, &fd, 1) == -1)
		log_error("popgate-lookup: reload not sent: %s",
		    strerror(errno));
	(void)pthread_mutex_unlock(&lp->lock);
}

void
lookupproc_free(struct lookupproc **lpp)
{
	struct lookupproc *lp = *lpp;

	if (lp == NULL)
		return;
	*lpp = NULL;
	(void)pthread_mutex_lock(&lp->lock);
	lp->stopping = true;
	(void)pthread_cond_broadcast(&lp->cv);
	(void)pthread_mutex_unlock(&lp->lock);
	/* A start under way ends within its timeouts; its result, if any,
	   is dropped (the new one sees its control socket close). */
	if (lp->starting)
		(void)pthread_join(lp->thread, NULL);
	if (lp->done != NULL && lp->done->ctl != -1 &&
	    lp->done->ctl != lp->ctl)
		(void)close(lp->done->ctl);
	free(lp->done);
	if (lp->ctl_ev != NULL)
		event_free(lp->ctl_ev);
	if (lp->restart_ev != NULL)
		event_free(lp->restart_ev);
	if (lp->done_ev != NULL)
		event_free(lp->done_ev);
	/* The end of its control socket ends it; its owner waits for
	   that, and kills one that does not end. */
	if (lp->ctl != -1)
		(void)close(lp->ctl);
	if (lp->start_fd != -1)
		(void)close(lp->start_fd);
	if (lp->reload_fd != -1)
		(void)close(lp->reload_fd);
	(void)pthread_cond_destroy(&lp->cv);
	(void)pthread_mutex_destroy(&lp->lock);
	free(lp);
}
