/*
 * cli_keyhold.c - the owner of popgate-keys (cli_privsep.h): the process
 * that starts it, loads its keys and reaps it. That is popgate-priv when
 * the daemon gives up root (so a key file is opened as root and passed
 * to popgate-keys without going through the daemon), the daemon itself
 * when it keeps its user.
 *
 * The owner keeps the key files of the generations popgate-keys holds
 * (the one in use and the one loaded last) open: a restarted
 * popgate-keys gets the keys of the generation in use from those, not
 * from whatever files the configuration names by then. The daemon as
 * owner (no privilege drop) keeps their names only, and opens them
 * again for a restart: it holds no key file between two loads. It alone signals
 * popgate-keys, its own child that it alone reaps, so the pid is never
 * another process's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli_privsep.h"
#include "util/log.h"
#include "util/priv.h"
#include "util/xalloc.h"
#include "util/compat.h"

/* The key files of one generation, as KEYS_LOAD sends them. */
struct held {
	uint32_t	 gen;		/* 0: empty */
	int		 fds[KEYS_MAX];	/* -1: closed (!hold_files) */
	char		*paths[KEYS_MAX];
	size_t		 n;
};

struct keyhold {
	char		*user;		/* NULL: keep ours */
	enum log_target	 log;
	bool		 hold_files;	/* else their names only */
	pid_t		 pid;		/* 0: none (reaped) */
	int		 sock;		/* our end of its owner socket */
	struct held	 held[2];
};

static void
held_clear(struct held *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		if (h->fds[i] != -1)
			(void)close(h->fds[i]);
		free(h->paths[i]);
	}
	memset(h, 0, sizeof(*h));
}

struct keyhold *
keyhold_new(const char *user, bool hold_files, enum log_target log)
{
	struct keyhold *kh = xcalloc(1, sizeof(*kh));

	kh->hold_files = hold_files;
	kh->user = user != NULL && *user != '\0' ? xstrdup(user) : NULL;
	kh->log = log;
	kh->sock = -1;
	return kh;
}

/* Kills and reaps popgate-keys (if it has not ended already, it has not
   answered well), logging how it ended. */
static void
stop(struct keyhold *kh)
{
	int status = 0;

	if (kh->sock != -1)
		(void)close(kh->sock);
	kh->sock = -1;
	if (kh->pid <= 0)
		return;
	/* Our child, not reaped yet: the pid is still its. */
	(void)kill(kh->pid, SIGKILL);
	while (waitpid(kh->pid, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFSIGNALED(status))
		log_info("popgate-keys pid=%ld killed by signal %d",
		    (long)kh->pid, WTERMSIG(status));
	else
		log_info("popgate-keys pid=%ld exited status=%d",
		    (long)kh->pid, WEXITSTATUS(status));
	kh->pid = 0;
}

void
keyhold_free(struct keyhold **khp)
{
	struct keyhold *kh = *khp;
	int status;
	size_t i;

	if (kh == NULL)
		return;
	*khp = NULL;
	if (kh->sock != -1)
		(void)close(kh->sock);	/* popgate-keys sees the end */
	if (kh->pid > 0) {
		/* Our unreaped child: it holds nothing to save, and one that
		   hangs must not hold up the end. */
		(void)kill(kh->pid, SIGKILL);
		while (waitpid(kh->pid, &status, 0) == -1 && errno == EINTR)
			;
	}
	for (i = 0; i < nitems(kh->held); i++)
		held_clear(&kh->held[i]);
	free(kh->user);
	free(kh);
}

/* The child between fork and exec: its owner socket becomes descriptor
   PRIVSEP_KEYS_OWNER_FD, the daemon's PRIVSEP_KEYS_DAEMON_FD, nothing
   else stays; then the daemon's user. */
static void NORETURN
exec_child(int owner, int daemon, const char *user, enum log_target log)
{
	char *argv[] = { "popgate-keys", PRIVSEP_KEYS_ARG,
	    log == LOG_TO_SYSLOG ? "syslog" : "stderr", NULL };
	const char *err;
	sigset_t none;
	int o, d;

	/* Above both targets first: either may be where the other goes. */
	if ((o = fcntl(owner, F_DUPFD, PRIVSEP_KEYS_DAEMON_FD + 1)) == -1 ||
	    (d = fcntl(daemon, F_DUPFD, PRIVSEP_KEYS_DAEMON_FD + 1)) == -1 ||
	    dup2(o, PRIVSEP_KEYS_OWNER_FD) == -1 ||
	    dup2(d, PRIVSEP_KEYS_DAEMON_FD) == -1)
		_exit(127);
	privsep_close_from(PRIVSEP_KEYS_DAEMON_FD + 1);
	if (user != NULL && priv_drop(user, &err) == -1)
		_exit(126);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)execv("/proc/self/exe", argv);
	_exit(127);
}

/* A new popgate-keys: its owner socket into kh->sock, the daemon's end
   into *SOCK_R. 0, or -1 with the reason in ERR. */
static int
spawn(struct keyhold *kh, int *sock_r, char *err, size_t errsz)
{
	int own[2], dmn[2];
	pid_t pid;

	*sock_r = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, own) == -1) {
		(void)snprintf(err, errsz, "socketpair: %s", strerror(errno));
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, dmn) == -1) {
		(void)snprintf(err, errsz, "socketpair: %s", strerror(errno));
		(void)close(own[0]);
		(void)close(own[1]);
		return -1;
	}
	if ((pid = fork()) == -1) {
		(void)snprintf(err, errsz, "fork: %s", strerror(errno));
		(void)close(own[0]);
		(void)close(own[1]);
		(void)close(dmn[0]);
		(void)close(dmn[1]);
		return -1;
	}
	if (pid == 0)
		exec_child(own[1], dmn[1], kh->user, kh->log);
	(void)close(own[1]);
	(void)close(dmn[1]);
	kh->pid = pid;
	kh->sock = own[0];
	*sock_r = dmn[0];
	return 0;
}

static struct held *
find_held(struct keyhold *kh, uint32_t gen)
{
	size_t i;

	for (i = 0; gen != 0 && i < nitems(kh->held); i++)
		if (kh->held[i].gen == gen)
			return &kh->held[i];
	return NULL;
}

/* H's files opened again by name (they were closed): 0, or -1 with
   the first that cannot be in ERR. */
static int
reopen(struct held *h, char *err, size_t errsz)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		if (h->fds[i] != -1)
			continue;
		h->fds[i] = open(h->paths[i], O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (h->fds[i] == -1) {
			(void)snprintf(err, errsz, "%s: cannot open: %s",
			    h->paths[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Closes H's files, keeping their names (the daemon as owner). */
static void
close_files(struct held *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		if (h->fds[i] != -1)
			(void)close(h->fds[i]);
		h->fds[i] = -1;
	}
}

int
keyhold_wait(struct keyhold *kh, int sock, struct lookhold *lh)
{
	struct pollfd pfd[3];

	pfd[0].fd = sock;
	pfd[1].fd = kh->sock;	/* -1: ignored */
	pfd[2].fd = lookhold_fd(lh);
	pfd[0].events = pfd[1].events = pfd[2].events = POLLIN;
	if (poll(pfd, 3, -1) == -1)
		return errno == EINTR ? 1 : 0;
	if (pfd[2].revents != 0) {
		lookhold_reap(lh);
		return 1;
	}
	if (pfd[1].revents == 0)
		return 0;
	stop(kh);
	return 1;
}

int
keyhold_start(struct keyhold *kh, uint32_t gen, int *sock_r, long *pid_r,
    struct keys_loaded *out, char *err, size_t errsz)
{
	struct held *h = find_held(kh, gen);

	stop(kh);
	out->n = 0;
	if (spawn(kh, sock_r, err, errsz) == -1)
		return -1;
	*pid_r = (long)kh->pid;
	if (h != NULL && (reopen(h, err, errsz) == -1 ||
	    keys_owner_load(kh->sock, gen, gen, h->fds, h->n, out, err,
	    errsz) == -1)) {
		if (!kh->hold_files)
			close_files(h);
		stop(kh);
		(void)close(*sock_r);
		*sock_r = -1;
		return -1;
	}
	if (h != NULL && !kh->hold_files)
		close_files(h);
	return 0;
}

/* The key files of CFG (the main key, then each tls_host's) into H:
   0, or -1 with the first that cannot be opened in ERR (a tls_host's
   with its line). */
static int
open_keys(const struct config *cfg, struct held *h, char *err, size_t errsz)
{
	size_t i;

	memset(h, 0, sizeof(*h));
	if (1 + cfg->ntls_host > KEYS_MAX) {
		(void)str_copy(err, "more tls_host lines than popgate-keys "
		    "holds", errsz);
		return -1;
	}
	for (i = 0; i <= cfg->ntls_host; i++) {
		h->paths[i] = xstrdup(i == 0 ? cfg->tls_key :
		    cfg->tls_host[i - 1].key);
		h->fds[i] = -1;
		h->n++;
	}
	if (reopen(h, err, errsz) == -1) {
		if (h->fds[0] != -1)	/* a tls_host's: say which line */
			for (i = 1; i < h->n; i++)
				if (h->fds[i] == -1) {
					(void)snprintf(err, errsz, "%s:%u: "
					    "tls_host %s: %s: cannot open: %s",
					    cfg->path,
					    cfg->tls_host[i - 1].line,
					    cfg->tls_host[i - 1].name,
					    h->paths[i], strerror(errno));
					break;
				}
		held_clear(h);
		return -1;
	}
	return 0;
}

int
keyhold_load(struct keyhold *kh, const struct config *cfg, uint32_t gen,
    uint32_t keep, struct keys_loaded *out, char *err, size_t errsz)
{
	struct held fresh, *slot = NULL;
	size_t i;

	if (gen == 0) {
		(void)str_copy(err, "generation 0", errsz);
		return -1;
	}
	if (kh->pid <= 0) {
		(void)str_copy(err, "popgate-keys is not running (it is being "
		    "restarted)", errsz);
		return -1;
	}
	if (open_keys(cfg, &fresh, err, errsz) == -1)
		return -1;
	if (keys_owner_load(kh->sock, gen, keep, fresh.fds, fresh.n, out,
	    err, errsz) == -1) {
		held_clear(&fresh);
		stop(kh);	/* the daemon sees its socket end */
		return -1;
	}
	fresh.gen = gen;
	if (!kh->hold_files)
		close_files(&fresh);
	/* As popgate-keys does: the new generation replaces one of the same
	   number or one not kept. */
	if ((slot = find_held(kh, gen)) == NULL)
		for (i = 0; slot == NULL && i < nitems(kh->held); i++)
			if (kh->held[i].gen != keep)
				slot = &kh->held[i];
	if (slot == NULL)
		slot = &kh->held[0];
	held_clear(slot);
	*slot = fresh;
	return 0;
}
