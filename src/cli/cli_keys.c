/*
 * cli_keys.c - popgate-keys as the daemon sees it (core/keys.h; README
 * "Processes"). Its owner starts it as the daemon's user by fork and
 * exec of popgate itself (cli_keyhold.c): popgate-priv, the privileged
 * helper, when the daemon gave up root, else the daemon. The owner opens
 * the key files (as root) and sends them to popgate-keys on a socket of
 * its own; the daemon asks it to "load generation G" and gets back the
 * public keys' digests, never a descriptor of a key file, and has a
 * socket of its own to popgate-keys for the private operations only
 * (popgate-keys exits on a KEYS_LOAD there). A daemon taken over can
 * have keys signed with, but not read them. The TLS contexts get the
 * certificates and key objects whose private operation goes to
 * popgate-keys.
 *
 * The daemon watches that socket on its loop: when it ends (popgate-keys
 * exited, or a round trip timed out or got a malformed answer, which
 * shuts it down), the owner is asked on a worker thread, not on the loop,
 * to kill and reap it and start another (at most one start a second,
 * a few tries in a row at most) with the keys of the generation in use,
 * from the files opened when it was loaded; handshakes fail meanwhile,
 * other sessions go on.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cli/cli.h"
#include "cli/cli_daemon.h"
#include "core/keys.h"
#include "core/tls.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define RESTART_GAP	1	/* seconds between two starts at least */
#define RESTART_TRIES	5	/* failed starts in a row before giving up */
#define RESTART_LIVED	10	/* seconds: a shorter run was a failed start */

struct start_job;

struct keyproc {
	struct daemon		*d;
	struct keys_client	*kc;
	struct event		*sock_ev;	/* its socket readable or closed */
	struct event		*restart_ev;	/* a delayed start */
	struct worker_job	*job;		/* a start on a worker */
	struct start_job	*job_arg;	/* its argument */
	long			 pid;		/* for the log; 0: none */
	time_t			 started;
	unsigned		 failed;	/* starts in a row */
	uint32_t		 gen;		/* in use by d->ssl_ctx */
	uint32_t		 pending;	/* loaded, not applied yet */
	unsigned char		 pub[KEYS_MAX][KEYS_PUB_DIGEST];
	unsigned char		 pending_pub[KEYS_MAX][KEYS_PUB_DIGEST];
	size_t			 npub, npending;
};

/* ---- popgate-keys itself ---- */

static bool
is_seqpacket(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	    type == SOCK_SEQPACKET;
}

int
cli_keys_main(int argc, char **argv)
{
	enum log_target log = LOG_TO_STDERR;

	/* Started by its owner only: its sockets are descriptors 3 and 4. */
	if (!is_seqpacket(PRIVSEP_KEYS_OWNER_FD) ||
	    !is_seqpacket(PRIVSEP_KEYS_DAEMON_FD)) {
		fprintf(stderr, "popgate: %s is the daemon's, not a command\n",
		    PRIVSEP_KEYS_ARG);
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
	return keys_serve(PRIVSEP_KEYS_OWNER_FD, PRIVSEP_KEYS_DAEMON_FD) == 0 ?
	    0 : 1;
}

/* ---- starting and watching ---- */

bool
cli_is_keys_process(int argc, char **argv)
{
	return argc >= 2 && strcmp(argv[1], PRIVSEP_KEYS_ARG) == 0;
}

static void on_sock(evutil_socket_t, short, void *);
static void start(struct keyproc *, bool now);

/* SOCK (of popgate-keys PID) is the one of the key objects from now
   on, watched on the loop. */
static void
use_sock(struct keyproc *kp, int sock, long pid)
{
	if (kp->sock_ev != NULL)
		event_free(kp->sock_ev);
	kp->sock_ev = NULL;
	keys_client_set_sock(kp->kc, sock);
	kp->pid = pid;
	if (sock == -1)
		return;
	kp->started = time(NULL);
	kp->sock_ev = event_new(kp->d->base, sock, EV_READ | EV_CLOSED |
	    EV_PERSIST, on_sock, kp);
	if (kp->sock_ev == NULL || event_add(kp->sock_ev, NULL) == -1)
		log_error("popgate-keys pid=%ld: cannot watch it: a restart "
		    "needs a reload", pid);
}

/* A start on a worker, and what it got. */
struct start_job {
	struct keyproc		*kp;
	struct privsep		*priv;
	uint32_t		 gen;
	int			 sock;
	long			 pid;
	int			 r;
	char			 err[PRIVSEP_REASON_MAX];
	struct keys_loaded	 l;
};

static void
start_work(void *ctx, void *arg)
{
	struct start_job *j = arg;

	(void)ctx;
	j->r = privsep_keys_start(j->priv, j->gen, &j->sock, &j->pid, &j->l,
	    j->err, sizeof(j->err));
}

static void
start_release(void *arg)
{
	struct start_job *j = arg;

	if (j->sock != -1)
		(void)close(j->sock);
	free(j);
}

/* The pool dropped the job (shutdown, or keyproc_free cancelled it). */
static void
start_dropped(void *arg)
{
	struct start_job *j = arg;

	if (j->kp != NULL) {
		j->kp->job = NULL;
		j->kp->job_arg = NULL;
	}
	start_release(j);
}

static void start_done(void *);

static const struct worker_ops start_ops = {
	start_work, start_done, start_dropped
};

/* Whether another failed start in a row means giving up. */
static bool
give_up(struct keyproc *kp)
{
	if (privsep_broken(kp->d->priv) || ++kp->failed >= RESTART_TRIES) {
		log_error("popgate-keys: not started again (%u failed starts "
		    "in a row): TLS handshakes fail until a reload or a "
		    "restart of the daemon", kp->failed);
		return true;
	}
	return false;
}

/* Another start, RESTART_GAP from the last one at the earliest. */
static void
restart_later(struct keyproc *kp)
{
	struct timeval tv = { 0, 0 };

	if (time(NULL) - kp->started < RESTART_GAP)
		tv.tv_sec = RESTART_GAP;
	(void)event_add(kp->restart_ev, &tv);
}

/* Logs how the keys of the new popgate-keys compare with those in use. */
static void
check_loaded(struct keyproc *kp, const struct start_job *j)
{
	size_t i;

	if (kp->npub > 0 && j->l.n == 0) {
		log_error("popgate-keys pid=%ld: generation %u is not held: "
		    "TLS handshakes fail until a reload", j->pid,
		    (unsigned)kp->gen);
		return;
	}
	for (i = 0; i < j->l.n && i < kp->npub; i++)
		if (!j->l.key[i].ok || memcmp(j->l.key[i].pub, kp->pub[i],
		    KEYS_PUB_DIGEST) != 0)
			log_error("popgate-keys: key %zu is not the one in use "
			    "(%s): its handshakes fail until a reload", i,
			    j->l.key[i].ok ? "the file changed" :
			    j->l.key[i].reason);
	if (kp->npub > 0)
		log_info("popgate-keys pid=%ld holds generation %u", j->pid,
		    (unsigned)kp->gen);
}

static void
start_done(void *arg)
{
	struct start_job *j = arg;
	struct keyproc *kp = j->kp;

	kp->job = NULL;
	kp->job_arg = NULL;
	if (j->r == -1) {
		kp->started = time(NULL);
		log_error("popgate-keys: cannot start it: %s", j->err);
		if (!give_up(kp))
			restart_later(kp);
		start_release(j);
		return;
	}
	log_info("popgate-keys started pid=%ld", j->pid);
	use_sock(kp, j->sock, j->pid);
	j->sock = -1;
	check_loaded(kp, j);
	start_release(j);
}

/* A start of popgate-keys with the generation in use: on a worker (the
   owner's answer takes up to KEYS_WAIT_MS), or here when NOW or before
   the pools exist (at start-up). */
static void
start(struct keyproc *kp, bool now)
{
	struct start_job *j = xcalloc(1, sizeof(*j));

	j->kp = kp;
	j->priv = kp->d->priv;
	j->gen = kp->npub > 0 ? kp->gen : 0;
	j->sock = -1;
	if (now || kp->d->io == NULL) {
		start_work(NULL, j);
		start_done(j);
		return;
	}
	kp->job_arg = j;
	kp->job = worker_submit(kp->d->io, &start_ops, j);
}

static void
on_restart(evutil_socket_t fd, short what, void *arg)
{
	struct keyproc *kp = arg;

	(void)fd;
	(void)what;
	if (kp->job == NULL && keys_client_broken(kp->kc))
		start(kp, false);
}

/* Its socket is readable (an answer left over) or closed. */
static void
on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct keyproc *kp = arg;

	(void)fd;
	(void)what;
	if (!keys_client_ended(kp->kc))
		return;
	log_error("popgate-keys pid=%ld: its connection ended; TLS "
	    "handshakes fail until another runs", kp->pid);
	use_sock(kp, -1, 0);
	/* One that ends soon after its start failed too (it cannot load,
	   it cannot run): no start after start, for ever. */
	if (time(NULL) - kp->started >= RESTART_LIVED)
		kp->failed = 0;
	else if (give_up(kp))
		return;
	restart_later(kp);
}

int
keyproc_start(struct daemon *d)
{
	struct keyproc *kp = xcalloc(1, sizeof(*kp));

	kp->d = d;
	kp->kc = keys_client_new();
	kp->restart_ev = evtimer_new(d->base, on_restart, kp);
	d->keys = kp;
	if (kp->restart_ev == NULL) {
		log_error("popgate-keys: cannot watch it");
		return -1;
	}
	start(kp, true);
	return keys_client_broken(kp->kc) ? -1 : 0;
}

void
keyproc_free(struct keyproc **kpp)
{
	struct keyproc *kp = *kpp;

	if (kp == NULL)
		return;
	*kpp = NULL;
	if (kp->job != NULL) {
		kp->job_arg->kp = NULL;	/* released later, maybe */
		worker_cancel(&kp->job);
	}
	if (kp->sock_ev != NULL)
		event_free(kp->sock_ev);
	if (kp->restart_ev != NULL)
		event_free(kp->restart_ev);
	/* popgate-keys sees the end; its owner reaps it. */
	keys_client_free(&kp->kc);
	free(kp);
}

/* ---- the keys of a configuration ---- */

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
		    f->host_fds[i], (uint32_t)(1 + i) };

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

/* The N keys of the configuration the owner read last as generation
   GEN into L: 0, or -1 with the reason in ERR. */
static int
load(struct keyproc *kp, uint32_t gen, size_t n, struct keys_loaded *l,
    char *err, size_t errsz)
{
	if (privsep_keys_load(kp->d->priv, gen, kp->gen, l, err, errsz) == -1)
		return -1;
	if (l->n != n) {
		(void)snprintf(err, errsz, "popgate-keys loaded %zu keys, not "
		    "%zu (the configuration changed during the reload: try "
		    "again)", l->n, n);
		return -1;
	}
	return 0;
}

SSL_CTX *
keyproc_tls_ctx(struct keyproc *kp, const struct config *cfg,
    const struct privsep_files *f, struct strlist *report)
{
	struct keys_loaded *l = xcalloc(1, sizeof(*l));
	char err[PRIVSEP_REASON_MAX], line[PRIVSEP_REASON_MAX + 16];
	uint32_t gen = kp->gen + 1 != 0 ? kp->gen + 1 : 1;
	struct pair p = { NULL, cfg->tls_cert, cfg->tls_key, f->cert_fd, 0 };
	size_t n = 1 + cfg->ntls_host;
	SSL_CTX *ctx = NULL;

	if (f->nhosts != cfg->ntls_host || n > KEYS_MAX) {
		strlist_add(report, "TLS: more tls_host lines than "
		    "popgate-keys holds");
		goto done;
	}
	/* Gone and not restarted (it failed too often): a reload tries. */
	if (kp->job == NULL && keys_client_broken(kp->kc)) {
		kp->failed = 0;
		(void)event_del(kp->restart_ev);
		start(kp, true);
	}
	/* The owner opens the keys of the configuration it read (the one
	   of F), popgate-keys loads them, the daemon gets their digests. */
	if (load(kp, gen, n, l, err, sizeof(err)) == -1 ||
	    add_pair(kp, &ctx, &p, gen, l, err) == -1) {
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
