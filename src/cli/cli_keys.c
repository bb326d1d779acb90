/*
 * cli_keys.c - popgate-keys as the daemon runs it (core/keys.h; README
 * "Processes"): started after the privilege drop, as the daemon's user,
 * by fork and exec of popgate itself (the daemon has threads by then on
 * a restart: a fresh image holds none of their locks). It gets the key
 * files as descriptors the daemon opened as root and closes at once
 * (at start-up), or that the privileged helper opens (at a reload and
 * a restart): a daemon that behaves never reads a private key, but one
 * taken over could ask the helper for those descriptors and read them
 * (the helper should hand them to popgate-keys itself; issue 19 is not
 * done). The TLS contexts
 * get the certificates and key objects whose private operation goes to
 * popgate-keys.
 *
 * The daemon watches it by SIGCHLD (a pidfd would do, but older seccomp
 * filters refuse pidfd_open): when it exits, the daemon logs it and
 * starts another (at most one start a second), which gets the
 * keys of the generation in use; handshakes fail meanwhile. A round trip
 * that times out or gets a malformed answer kills it, with the same
 * effect.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cli/cli.h"
#include "cli/cli_daemon.h"
#include "core/keys.h"
#include "core/tls.h"
#include "util/log.h"
#include "util/sandbox.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define KEYS_FD		3	/* popgate-keys's end of the pair */
#define RESTART_GAP	1	/* seconds between two starts at least */
#define KEYS_ARG	"__keys"	/* popgate's argv[1] for it */

struct keyproc {
	struct daemon		*d;
	struct keys_client	*kc;
	_Atomic pid_t		 pid;		/* 0: none running */
	struct event		*chld_ev;	/* SIGCHLD */
	struct event		*restart_ev;	/* a delayed start */
	time_t			 started;
	uint32_t		 gen;		/* in use by d->ssl_ctx */
	uint32_t		 pending;	/* loaded, not applied yet */
	unsigned char		 pub[KEYS_MAX][KEYS_PUB_DIGEST];
	unsigned char		 pending_pub[KEYS_MAX][KEYS_PUB_DIGEST];
	size_t			 npub, npending;
};

/* ---- popgate-keys itself ---- */

int
cli_keys_main(int argc, char **argv)
{
	enum log_target log = LOG_TO_STDERR;
	struct errbuf eb;
	int type = 0;
	socklen_t len = sizeof(type);

	/* Started by the daemon only: its socket is descriptor 3. */
	if (getsockopt(KEYS_FD, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_SEQPACKET) {
		fprintf(stderr, "popgate: %s is the daemon's, not a command\n",
		    KEYS_ARG);
		return EXIT_USER;
	}
	if (argc == 3 && strcmp(argv[2], "syslog") == 0)
		log = LOG_TO_SYSLOG;
	(void)prctl(PR_SET_NAME, "popgate-keys", 0, 0, 0);
	/* Not readable through /proc/PID/mem or ptrace by the daemon's
	   user, no core file with the keys. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		fprintf(stderr, "popgate-keys: prctl: %s\n", strerror(errno));
		return EXIT_SYSTEM;
	}
	(void)signal(SIGHUP, SIG_IGN);	/* the daemon's */
	(void)signal(SIGINT, SIG_IGN);
	(void)signal(SIGTERM, SIG_DFL);
	log_init("popgate", log);
	if (sandbox_apply(SANDBOX_KEYS, &eb) == -1) {
		log_error("popgate-keys: %s", eb.text);
		return EXIT_SYSTEM;
	}
	return keys_serve(KEYS_FD) == 0 ? 0 : 1;
}

/* ---- starting and watching ---- */

bool
cli_is_keys_process(int argc, char **argv)
{
	return argc >= 2 && strcmp(argv[1], KEYS_ARG) == 0;
}

/* The child between fork and exec: async-signal-safe calls only. */
static void NORETURN
exec_child(int sock, enum log_target log)
{
	char *argv[] = { "popgate-keys", KEYS_ARG,
	    log == LOG_TO_SYSLOG ? "syslog" : "stderr", NULL };
	sigset_t none;

	if (sock == KEYS_FD) {
		if (fcntl(sock, F_SETFD, 0) == -1)
			_exit(127);
	} else if (dup2(sock, KEYS_FD) == -1) {
		_exit(127);
	}
	privsep_close_from(KEYS_FD + 1);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)execv("/proc/self/exe", argv);
	_exit(127);
}

static void on_broken(void *);

/* A new popgate-keys with its socket in kp->kc: 0, or -1 after logging
   why. */
static int
spawn(struct keyproc *kp)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_error("popgate-keys: socketpair: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_error("popgate-keys: fork: %s", strerror(errno));
		(void)close(sv[0]);
		(void)close(sv[1]);
		return -1;
	}
	if (pid == 0)
		exec_child(sv[1], kp->d->cfg->log);
	(void)close(sv[1]);
	kp->started = time(NULL);
	kp->pid = pid;
	keys_client_set_sock(kp->kc, sv[0]);
	log_info("popgate-keys started pid=%ld", (long)pid);
	return 0;
}

/* A round trip failed: popgate-keys is killed (the watcher restarts
   it). Called under the client's lock, from any thread. */
static void
on_broken(void *arg)
{
	struct keyproc *kp = arg;
	pid_t pid = kp->pid;

	if (pid > 0)
		(void)kill(pid, SIGKILL);
}

/* Logs how the process that ended did. */
static void
report_end(pid_t pid, int status)
{
	if (WIFSIGNALED(status))
		log_error("popgate-keys pid=%ld killed by signal %d; TLS "
		    "handshakes fail until another runs", (long)pid,
		    WTERMSIG(status));
	else
		log_error("popgate-keys pid=%ld exited status=%d; TLS "
		    "handshakes fail until another runs", (long)pid,
		    WEXITSTATUS(status));
}

static int load_current(struct keyproc *);

static void
on_restart(evutil_socket_t fd, short what, void *arg)
{
	struct keyproc *kp = arg;

	(void)fd;
	(void)what;
	if (kp->pid != 0)
		return;
	if (spawn(kp) == -1) {
		struct timeval tv = { RESTART_GAP, 0 };

		(void)event_add(kp->restart_ev, &tv);
		return;
	}
	/* Without its keys it is of no use: killed, its watcher tries
	   again (a second later). */
	if (load_current(kp) == -1)
		on_broken(kp);
}

/* SIGCHLD: if popgate-keys ended, another starts (after RESTART_GAP
   when it ran less than that). */
static void
on_sigchld(evutil_socket_t fd, short what, void *arg)
{
	struct keyproc *kp = arg;
	struct timeval tv = { 0, 0 };
	pid_t pid = kp->pid;
	int status = 0;

	(void)fd;
	(void)what;
	if (pid <= 0 || waitpid(pid, &status, WNOHANG) != pid)
		return;		/* another child, or not yet */
	kp->pid = 0;
	keys_client_set_sock(kp->kc, -1);
	report_end(pid, status);
	if (time(NULL) - kp->started < RESTART_GAP)
		tv.tv_sec = RESTART_GAP;
	(void)event_add(kp->restart_ev, &tv);
}

int
keyproc_start(struct daemon *d)
{
	struct keyproc *kp = xcalloc(1, sizeof(*kp));

	kp->d = d;
	kp->kc = keys_client_new();
	keys_client_on_broken(kp->kc, on_broken, kp);
	kp->restart_ev = evtimer_new(d->base, on_restart, kp);
	kp->chld_ev = evsignal_new(d->base, SIGCHLD, on_sigchld, kp);
	d->keys = kp;
	if (kp->restart_ev == NULL || kp->chld_ev == NULL ||
	    event_add(kp->chld_ev, NULL) == -1) {
		log_error("popgate-keys: cannot watch it");
		return -1;
	}
	return spawn(kp);
}

void
keyproc_free(struct keyproc **kpp)
{
	struct keyproc *kp = *kpp;
	int status;

	if (kp == NULL)
		return;
	*kpp = NULL;
	if (kp->chld_ev != NULL)
		event_free(kp->chld_ev);
	if (kp->restart_ev != NULL)
		event_free(kp->restart_ev);
	keys_client_free(&kp->kc);	/* popgate-keys sees the end */
	if (kp->pid > 0)
		while (waitpid(kp->pid, &status, 0) == -1 && errno == EINTR)
			;
	free(kp);
}

/* ---- the keys of a configuration ---- */

/* The key descriptors of F in the order of a generation: the main key,
   then each tls_host's. Their number. */
static size_t
key_fds(const struct privsep_files *f, int fds[KEYS_MAX])
{
	size_t i, n = 0;

	fds[n++] = f->key_fd;
	for (i = 0; i < f->nhosts && n < KEYS_MAX; i++)
		fds[n++] = f->host_fds[2 * i + 1];
	return n;
}

/* The first certificate of the file FD (NAME for messages). */
static X509 *
read_leaf(const char *name, int fd, char err[TLS_ERROR_MAX])
{
	BIO *bio = tls_read_file(name, fd, err);
	X509 *x;

	if (bio == NULL)
		return NULL;
	if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
		tls_openssl_error(name, err, TLS_ERROR_MAX);
	BIO_free(bio);
	return x;
}

/* One certificate and key: key IDX of generation GEN as L said it, into
   *CTX (made by the first pair, HOST NULL) or as HOST's context. */
struct pair {
	const char	*host, *cert, *key;
	int		 cert_fd;
	uint32_t	 idx;
};

static int
add_pair(struct keyproc *kp, SSL_CTX **ctx, const struct pair *p,
    uint32_t gen, const struct keys_loaded *l, char err[TLS_ERROR_MAX])
{
	X509 *x = read_leaf(p->cert, p->cert_fd, err);
	EVP_PKEY *pub, *proxy = NULL;
	struct tls_files tf;
	char why[160];
	int r = -1;

	if (x == NULL)
		return -1;
	pub = X509_get0_pubkey(x);
	if (pub == NULL ||
	    (proxy = keys_proxy_new(kp->kc, pub, gen, p->idx, why,
	    sizeof(why))) == NULL) {
		(void)snprintf(err, TLS_ERROR_MAX, "%s: %s", p->cert,
		    pub == NULL ? "no public key" : why);
		goto done;
	}
	if (!l->key[p->idx].ok) {
		(void)snprintf(err, TLS_ERROR_MAX, "%s: %.160s", p->key,
		    l->key[p->idx].reason);
		goto done;
	}
	if (keys_pub_digest(pub, kp->pending_pub[p->idx]) == -1 ||
	    memcmp(kp->pending_pub[p->idx], l->key[p->idx].pub,
	    KEYS_PUB_DIGEST) != 0) {
		(void)snprintf(err, TLS_ERROR_MAX, "%s is not the key of the "
		    "certificate %s", p->key, p->cert);
		goto done;
	}
	tf.cert = p->cert;
	tf.key = p->key;
	tf.cert_fd = p->cert_fd;
	tf.key_fd = -1;
	tf.pkey = proxy;
	if (*ctx == NULL)
		r = (*ctx = tls_server_ctx_files(&tf, err)) != NULL ? 0 : -1;
	else
		r = tls_server_add_host_files(*ctx, p->host, &tf, err);
done:
	EVP_PKEY_free(proxy);
	X509_free(x);
	return r;
}

/* The pairs of CFG and F after the first; NULL on an error. */
static SSL_CTX *
add_hosts(struct keyproc *kp, SSL_CTX *ctx, const struct config *cfg,
    const struct privsep_files *f, uint32_t gen,
    const struct keys_loaded *l, struct strlist *report)
{
	char err[TLS_ERROR_MAX], line[1200];
	size_t i;

	for (i = 0; i < cfg->ntls_host; i++) {
		const struct tls_host_cfg *h = &cfg->tls_host[i];
		struct pair p = { h->name, h->cert, h->key,
		    f->host_fds[2 * i], (uint32_t)(1 + i) };

		if (add_pair(kp, &ctx, &p, gen, l, err) == -1) {
			(void)snprintf(line, sizeof(line), "TLS: %s:%u: "
			    "tls_host %s: %s", cfg->path, h->line, h->name,
			    err);
			strlist_add(report, line);
			SSL_CTX_free(ctx);
			return NULL;
		}
	}
	return ctx;
}

SSL_CTX *
keyproc_tls_ctx(struct keyproc *kp, const struct config *cfg,
    const struct privsep_files *f, struct strlist *report)
{
	struct keys_loaded *l = xcalloc(1, sizeof(*l));
	char err[TLS_ERROR_MAX], line[TLS_ERROR_MAX + 16];
	int fds[KEYS_MAX];
	uint32_t gen = kp->gen + 1 != 0 ? kp->gen + 1 : 1;
	struct pair p = { NULL, cfg->tls_cert, cfg->tls_key, f->cert_fd, 0 };
	size_t n = key_fds(f, fds);
	SSL_CTX *ctx = NULL;

	if (f->nhosts != cfg->ntls_host || n != 1 + cfg->ntls_host) {
		strlist_add(report, "TLS: more tls_host lines than "
		    "popgate-keys holds");
		goto done;
	}
	if (keys_client_load(kp->kc, gen, kp->gen, fds, n, l, err,
	    sizeof(err)) == -1 || add_pair(kp, &ctx, &p, gen, l, err) == -1) {
		(void)snprintf(line, sizeof(line), "TLS: %s", err);
		strlist_add(report, line);
		goto done;
	}
	if ((ctx = add_hosts(kp, ctx, cfg, f, gen, l, report)) != NULL) {
		kp->pending = gen;
		kp->npending = n;
	}
done:
	free(l);
	return ctx;
}

void
keyproc_commit(struct keyproc *kp)
{
	kp->gen = kp->pending;
	kp->npub = kp->npending;
	memcpy(kp->pub, kp->pending_pub, sizeof(kp->pub));
}

/* A new popgate-keys gets the keys in use again, from the files the
   configuration names now (opened by the privileged helper); a key that
   changed since is refused by the comparison with the certificate. 0,
   or -1 after logging why. */
static int
load_current(struct keyproc *kp)
{
	struct keys_loaded *l;
	struct privsep_files f;
	struct strlist errors;
	char err[TLS_ERROR_MAX];
	int fds[KEYS_MAX], r = -1;
	size_t i, n;

	if (kp->npub == 0)
		return 0;		/* nothing in use yet */
	strlist_init(&errors);
	if (privsep_open_files(kp->d->priv, &f, &errors) == -1) {
		for (i = 0; i < errors.n; i++)
			log_error("popgate-keys: reopening the keys: %s",
			    errors.v[i]);
		strlist_free(&errors);
		return -1;
	}
	strlist_free(&errors);
	l = xcalloc(1, sizeof(*l));
	if ((n = key_fds(&f, fds)) != kp->npub)
		log_error("popgate-keys: the configuration names %zu keys, "
		    "%zu are in use: reload the daemon", n, kp->npub);
	else if (keys_client_load(kp->kc, kp->gen, kp->gen, fds, n, l, err,
	    sizeof(err)) == -1)
		log_error("popgate-keys: %s", err);
	else
		r = 0;
	for (i = 0; r == 0 && i < n; i++)
		if (!l->key[i].ok || memcmp(l->key[i].pub, kp->pub[i],
		    KEYS_PUB_DIGEST) != 0)
			log_error("popgate-keys: key %zu is not the one in use "
			    "(%s): its handshakes fail until a reload", i,
			    l->key[i].ok ? "the file changed" :
			    l->key[i].reason);
	privsep_files_close(&f);
	free(l);
	if (r == 0)
		log_info("popgate-keys pid=%ld holds generation %u",
		    (long)kp->pid, (unsigned)kp->gen);
	return r;
}
