/*
 * cli_serve.c - popgate serve: the daemon plumbing in one place.
 *
 * Order of start-up (SPEC 2): read the configuration (any error: exit 1
 * before binding), open data_dir and take its lock file (another daemon
 * there: exit 1, touching nothing), load the TLS key and bind every
 * listener while still root, drop to `user` before the first byte is
 * read from the network, then open the store (migrating it), start the
 * workers and run one libevent loop. Every file of the data directory
 * is reached below its descriptor, opened as root (so its parents need
 * no permission for `user`), never from the current directory. SIGTERM
 * and SIGINT stop it cleanly: listeners close, sessions are told and
 * freed, workers joined.
 */
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cli/cli.h"
#include "cli/cli_control.h"
#include "cli/cli_daemon.h"
#include "core/conn.h"
#include "core/dns.h"
#include "core/metrics.h"
#include "core/tls.h"
#include "policy/policy.h"
#include "queue/queue.h"
#include "delivery/dlv.h"
#include "http/http.h"
#include "imap/imap.h"
#include "pop3/pop3.h"
#include "relay/relay_auth.h"
#include "smtp/smtp.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/pidlock.h"
#include "util/priv.h"
#include "util/sandbox.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"


#define LOCK_FILE	"popgate.pid"	/* below data_dir */
#define OWN_FDS		64	/* descriptors that are not connections */
#define IO_THREADS	32	/* fsync-bound: many, so commits batch */
#define AUTH_THROTTLE_WINDOW 600	/* seconds failed logins count */
#define TIDY_INTERVAL	300	/* seconds between relay table clean-ups */

static bool
is_pop3(enum listen_role role)
{
	return role == ROLE_POP3 || role == ROLE_POP3S;
}

static bool
is_imap(enum listen_role role)
{
	return role == ROLE_IMAP || role == ROLE_IMAPS;
}

bool
daemon_is_http(enum listen_role role)
{
	return role == ROLE_HTTP || role == ROLE_HTTPS;
}

const char *
daemon_refuse_text(enum listen_role role)
{
	if (is_pop3(role))
		return pop3_refuse_line;
	if (is_imap(role))
		return imap_refuse_line;
	return smtp_refuse_line;
}

void
daemon_accept(struct conn *c, void *arg)
{
	struct daemon *d = arg;

	if (is_pop3(c->lc->role))
		pop3_server_accept(c, d->pop3);
	else if (is_imap(c->lc->role))
		imap_server_accept(c, d->imap);
	else
		smtp_server_accept(c, d->smtp);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	log_info("daemon stopping signal=%s", sig == SIGTERM ? "TERM" : "INT");
	event_base_loopbreak(d->base);
}

/* Expired relay authorizations and old rate buckets go, on a worker
   (lookups skip them anyway; this keeps the table small). */
static void
tidy_work(void *ctx, void *arg)
{
	struct backends *b = ctx;
	struct relay_auth *ra;
	const char *err = "";

	(void)arg;
	ra = backends_relay(b, &err);
	if (ra == NULL || relay_expire(ra, clock_now(), &err) == -1)
		log_warn("relay table clean-up: %s", err);
}

static void
tidy_done(void *arg)
{
	struct daemon *d = arg;

	d->tidy_job = NULL;
}

static const struct worker_ops tidy_ops = {
	.work = tidy_work,
	.done = tidy_done,
	.release = tidy_done,
};

static void
on_tidy(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (d->tidy_job == NULL)
		d->tidy_job = worker_submit(d->io, &tidy_ops, d);
}

/* ---- metrics of the daemon itself ---- */

static const char *const version_values[] = { POPGATE_VERSION, NULL };

static struct metric m_build = {
	.name = "popgate_build_info",
	.help = "The version of popgate running (the value is 1).",
	.type = METRIC_GAUGE,
	.labels = { { "version", version_values } },
};

static void	collect_live(struct metric *, void *);

static const char *const live_values[] = { "login", "network", NULL };

/* The relay table is a store (SQLite, Redis): it is counted on a
   worker, which each scrape starts, and a scrape shows the count the
   one before it started (or the first, at start-up). */
static struct metric m_live = {
	.name = "popgate_relay_authorizations",
	.help = "Live relay authorizations (POP3 or IMAP logins, `relay "
	    "allow`), by kind, as counted at the previous scrape.",
	.type = METRIC_GAUGE,
	.labels = { { "kind", live_values } },
	.collect = collect_live,
};

static void
count_work(void *ctx, void *arg)
{
	struct backends *b = ctx;
	struct relay_auth *ra;
	uint64_t n[2] = { 0, 0 };
	const char *err = "";

	(void)arg;
	ra = backends_relay(b, &err);
	if (ra == NULL || relay_count(ra, clock_now(), &n[0], &n[1],
	    &err) == -1) {
		log_warn("metrics: cannot count the relay authorizations: %s",
		    err);
		return;
	}
	metric_set(&m_live, 0, (int64_t)n[0]);
	metric_set(&m_live, 1, (int64_t)n[1]);
}

static void
count_done(void *arg)
{
	struct daemon *d = arg;

	d->count_job = NULL;
}

static const struct worker_ops count_ops = {
	.work = count_work,
	.done = count_done,
	.release = count_done,
};

static void
collect_live(struct metric *m, void *arg)
{
	struct daemon *d = arg;

	(void)m;
	if (d != NULL && d->count_job == NULL && d->io != NULL)
		d->count_job = worker_submit(d->io, &count_ops, d);
}

/* On the loop, once the services run. */
static void
metrics_start(struct daemon *d)
{
	policy_metrics_register();
	metrics_register(&m_build);
	metric_set(&m_build, 0, 1);
	m_live.collect_arg = d;
	metrics_register(&m_live);
	collect_live(&m_live, d);
}

/* Every port, bound as root; the HTTP ones wait (in d->http_fds) for
   the API server, made after the privilege drop. */
static int
bind_all(struct daemon *d)
{
	char err[512];
	size_t i;
	int fd;

	d->listeners = xcalloc(d->cfg->nlisten, sizeof(*d->listeners));
	d->http_fds = xcalloc(d->cfg->nlisten, sizeof(*d->http_fds));
	d->nhttp_fds = d->cfg->nlisten;
	for (i = 0; i < d->cfg->nlisten; i++) {
		const struct listen_cfg *lc = &d->cfg->listen[i];

		d->http_fds[i] = -1;
		fd = conn_listen_socket(lc->host, lc->port, err, sizeof(err));
		if (fd == -1) {
			log_error("%s", err);
			return -1;
		}
		if (daemon_is_http(lc->role))
			d->http_fds[i] = fd;
		else
			d->listeners[i] = listener_new(d->hub, lc, fd,
			    daemon_accept, d, daemon_refuse_text(lc->role));
		d->nlisteners++;
	}
	return 0;
}

/* The API server on the HTTP listeners' sockets. */
static int
start_http(struct daemon *d)
{
	struct http_deps hd;
	size_t i;

	memset(&hd, 0, sizeof(hd));
	hd.base = d->base;
	hd.cfg = d->cfg;
	hd.hub = d->hub;
	hd.io = d->io;
	hd.throttle = d->throttle;
	hd.qmgr = control_qmgr(d->control);
	d->http = http_server_new(&hd);
	for (i = 0; i < d->cfg->nlisten; i++) {
		if (d->http_fds[i] == -1)
			continue;
		if (http_server_listen(d->http, &d->cfg->listen[i],
		    d->http_fds[i]) == -1) {
			d->http_fds[i] = -1;
			log_error("cannot serve HTTP on %s:%u",
			    d->cfg->listen[i].host,
			    (unsigned)d->cfg->listen[i].port);
			return -1;
		}
		d->http_fds[i] = -1;
	}
	free(d->http_fds);
	d->http_fds = NULL;
	d->nhttp_fds = 0;
	return 0;
}

static bool
needs_tls(const struct config *cfg)
{
	(void)cfg;
	return true;	/* STARTTLS and STLS are offered on every listener */
}

static void
daemon_free(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nlisteners; i++)
		listener_free(&d->listeners[i]);
	free(d->listeners);
	/* Before the pools: its calls on them are cancelled. */
	http_server_free(&d->http);
	for (i = 0; i < d->nhttp_fds; i++)
		if (d->http_fds[i] != -1)
			(void)close(d->http_fds[i]);
	free(d->http_fds);
	d->http_fds = NULL;
	d->nhttp_fds = 0;
	if (d->tidy != NULL)
		event_free(d->tidy);
	worker_cancel(&d->tidy_job);
	worker_cancel(&d->count_job);
	m_live.collect_arg = NULL;
	smtp_server_free(&d->smtp);
	pop3_server_free(&d->pop3);
	imap_server_free(&d->imap);
	control_free(&d->control);
	/* Before the io pool: its spool jobs finish on the loop. */
	hook_free(&d->hooks);
	/* The pools before the queue manager: its jobs (loading a message,
	   finishing one) use its entries until they return. */
	worker_pool_free(&d->io);
	worker_pool_free(&d->cpu);
	lookupproc_free(&d->lookup);
	if (d->config_fd != -1)
		(void)close(d->config_fd);
	daemon_retired_free(d);
	qmgr_free(&d->qmgr);
	queue_free(&d->queue);
	if (d->tls_client != NULL)
		SSL_CTX_free(d->tls_client);
	dns_free(&d->dns);
	auth_throttle_free(&d->throttle);
	login_cache_free(&d->penv.logins);
	if (d->sig_term != NULL)
		event_free(d->sig_term);
	if (d->sig_int != NULL)
		event_free(d->sig_int);
	if (d->sig_hup != NULL)
		event_free(d->sig_hup);
	/* Stopping already: a second SIGTERM must not kill us half-way
	   (after event_free(), which puts the default action back). */
	(void)signal(SIGTERM, SIG_IGN);
	(void)signal(SIGINT, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	conn_hub_free(&d->hub);
	if (d->base != NULL) {
		/* Freed bufferevents (TLS filters and the sockets beneath)
		   are finalized by the loop: let it run those callbacks. */
		int turn;

		for (turn = 0; turn < 4; turn++)
			(void)event_base_loop(d->base, EVLOOP_NONBLOCK);
	}
	if (d->ssl_ctx != NULL)
		SSL_CTX_free(d->ssl_ctx);
	d->ssl_ctx = NULL;
	/* After every context whose keys it holds. */
	keyproc_free(&d->keys);
	privsep_files_close(&d->tls_start);
	if (d->base != NULL)
		event_base_free(d->base);
	if (d->data_fd != -1)
		(void)close(d->data_fd);
	d->data_fd = -1;
	privsep_free(&d->priv);
	config_unref(&d->cfg);
	free(d->config_path);
	d->config_path = NULL;
}

/* As many descriptors as the system lets us have: every connection is
   one, and max_connections may well pass the usual soft limit of 1024. */
static void
raise_fd_limit(const struct config *cfg)
{
	struct rlimit rl;
	uint64_t ceiling, room;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("cannot raise the descriptor limit: %s",
			    strerror(errno));
	}
	/* Each connection is a descriptor; a few dozen more go to the
	   stores, the listeners and the workers. */
	ceiling = conn_fd_ceiling();
	room = ceiling > OWN_FDS ? ceiling - OWN_FDS : 0;
	if (ceiling < UINT64_MAX && cfg->max_connections > room)
		log_warn("max_connections = %llu cannot be reached: the "
		    "descriptor limit (ulimit -n) leaves room for about %llu; "
		    "clients past that get 421",
		    (unsigned long long)cfg->max_connections,
		    (unsigned long long)room);
}

/* The default certificate and one per tls_host line, opened as root
   and held until the TLS contexts have them (start_keys); the keys,
   which may be root's only as certbot leaves them, are opened by the
   owner of popgate-keys, never here. -1 after saying which cannot. */
static int
open_tls(struct daemon *d)
{
	struct strlist errors;
	size_t i;
	int r;

	strlist_init(&errors);
	r = privsep_open_tls(d->cfg, &d->tls_start, &errors);
	for (i = 0; i < errors.n; i++)
		log_error("TLS: %s", errors.v[i]);
	strlist_free(&errors);
	return r;
}

/* popgate-keys, as the daemon's user, started by its owner (the
   privileged helper, or the daemon when it keeps its user) with the
   keys of the configuration, and the TLS contexts whose keys it holds. */
static int
start_keys(struct daemon *d)
{
	const struct config *cfg = d->cfg;
	const struct tls_host_cfg *h;
	struct strlist report;
	size_t i;

	if (keyproc_start(d) == -1)
		return -1;
	strlist_init(&report);
	d->ssl_ctx = keyproc_tls_ctx(d->keys, cfg, &d->tls_start, &report);
	privsep_files_close(&d->tls_start);
	for (i = 0; i < report.n; i++)
		log_error("%s", report.v[i]);
	strlist_free(&report);
	if (d->ssl_ctx == NULL)
		return -1;
	keyproc_commit(d->keys);
	conn_hub_set_tls(d->hub, d->ssl_ctx);
	for (i = 0; i < cfg->ntls_host; i++) {
		h = &cfg->tls_host[i];
		if (!tls_server_covers(d->ssl_ctx, h->name))
			log_warn("TLS: %s:%u: tls_host %s: the certificate %s "
			    "does not name %s: clients checking the name will "
			    "refuse it", cfg->path, h->line, h->name, h->cert,
			    h->name);
	}
	return 0;
}

/* Everything that needs root: the keys and the ports. */
static int
start_privileged(struct daemon *d)
{
	raise_fd_limit(d->cfg);
	if (needs_tls(d->cfg) && open_tls(d) == -1)
		return -1;
	/* For popgate-lookup, which reads it as the daemon's user. */
	d->config_fd = open(d->config_path, O_RDONLY | O_CLOEXEC);
	if (d->config_fd == -1) {
		log_error("cannot open %s: %s", d->config_path,
		    strerror(errno));
		return -1;
	}
	d->base = event_base_new();
	if (d->base == NULL) {
		log_error("cannot create the event loop");
		return -1;
	}
	/* Caught from now on: a SIGTERM during the rest of the start-up
	   (binding, a store busy with a migration) ends the loop as soon as
	   it runs, cleanly. */
	d->sig_term = evsignal_new(d->base, SIGTERM, on_signal, d);
	d->sig_int = evsignal_new(d->base, SIGINT, on_signal, d);
	d->sig_hup = evsignal_new(d->base, SIGHUP, daemon_on_hup, d);
	if (d->sig_term == NULL || d->sig_int == NULL || d->sig_hup == NULL ||
	    event_add(d->sig_term, NULL) == -1 ||
	    event_add(d->sig_int, NULL) == -1 ||
	    event_add(d->sig_hup, NULL) == -1) {
		log_error("cannot watch signals");
		return -1;
	}
	d->hub = conn_hub_new(d->base, d->ssl_ctx, d->cfg->max_connections,
	    d->cfg->max_connections_per_ip);
	return bind_all(d);
}

/* Removes the files of DIR below the data directory (temporary files
   of an earlier run). */
static void
clean_dir(int data_fd, const char *dir)
{
	struct dirent *de;
	DIR *dp;
	int fd = fs_open_dir(data_fd, dir);

	if (fd == -1 || (dp = fdopendir(fd)) == NULL) {
		if (fd != -1)
			(void)close(fd);
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(dirfd(dp), de->d_name, 0) == -1 && errno != ENOENT)
			log_warn("cannot remove %s/%s: %s", dir, de->d_name,
			    strerror(errno));
	}
	(void)closedir(dp);
}

static int
control_reload(void *arg, struct strlist *report)
{
	return daemon_reload(arg, report);
}

/* The queue manager; leftovers of an interrupted queue write go. */
static int
start_delivery(struct daemon *d)
{
	struct qmgr_deps qd;
	char tlserr[TLS_ERROR_MAX];
	const char *err;

	if (queue_clean_tmp(d->queue) == -1)
		log_warn("cannot clean %s/tmp: %s", QUEUE_DIR, strerror(errno));
	clean_dir(d->data_fd, "tmp");
	d->tls_client = tls_client_ctx(d->cfg->tls_verify_peer, tlserr);
	if (d->tls_client == NULL)
		log_warn("outbound TLS unavailable: %s", tlserr);
	memset(&qd, 0, sizeof(qd));
	qd.base = d->base;
	qd.cfg = d->cfg;
	qd.io = d->io;
	qd.dns = d->dns;
	qd.tls = d->tls_client;
	qd.queue = d->queue;
	qd.data_fd = d->data_fd;
	d->qmgr = qmgr_new(&qd, &err);
	if (d->qmgr == NULL) {
		log_error("queue: %s", err);
		return -1;
	}
	d->control = control_new(d->base, d->qmgr, d->data_fd, &err);
	if (d->control == NULL) {
		log_error("control socket %s/control: %s", d->cfg->data_dir,
		    err);
		return -1;
	}
	control_set_reload(d->control, control_reload, d);
	return 0;
}

/* The services, after the privilege drop: workers open their store
   handles as the daemon's user. Listeners are bound before (as root)
   but only accept once the loop runs. */
static int
start_services(struct daemon *d)
{
	struct smtp_deps sd;
	struct pop3_deps pd;
	struct imap_deps id;
	const char *err;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (fs_mkdir_p_at(d->data_fd, "tmp", 0700, false) == -1) {
		log_error("cannot create %s/tmp: %s", d->cfg->data_dir,
		    strerror(errno));
		return -1;
	}
	d->queue = queue_new(d->data_fd, &err);
	if (d->queue == NULL) {
		log_error("cannot create the queue: %s", err);
		return -1;
	}
	d->dns = dns_new(d->base, d->cfg->dns_servers, &err);
	if (d->dns == NULL) {
		log_error("%s", err);
		return -1;
	}
	policy_env_set_config(&d->penv, d->cfg);
	d->penv.data_fd = d->data_fd;
	d->penv.queue = d->queue;
	/* The login cache is popgate-lookup's. */
	d->io = worker_pool_new(d->base, "io", IO_THREADS,
	    backends_thread_init, backends_thread_fini, &d->penv);
	d->cpu = worker_pool_new(d->base, "cpu", ncpu > 1 ? (unsigned)ncpu : 2,
	    backends_thread_init, backends_thread_fini, &d->penv);
	worker_pool_set_refresh(d->io, backends_refresh);
	worker_pool_set_refresh(d->cpu, backends_refresh);
	memset(&sd, 0, sizeof(sd));
	sd.base = d->base;
	sd.cfg = d->cfg;
	sd.io = d->io;
	sd.cpu = d->cpu;
	sd.dns = d->dns;
	sd.data_fd = d->data_fd;
	d->throttle = auth_throttle_new((unsigned)d->cfg->auth_max_failures,
	    AUTH_THROTTLE_WINDOW);
	sd.throttle = d->throttle;
	if (start_delivery(d) == -1)
		return -1;
	d->hooks = hook_new(d->base, d->dns, d->io, d->data_fd, d->cfg, &err);
	if (d->hooks == NULL) {
		log_error("%s", err);
		return -1;
	}
	sd.queued = qmgr_queued;
	sd.queued_arg = d->qmgr;
	d->smtp = smtp_server_new(&sd);
	memset(&pd, 0, sizeof(pd));
	pd.base = d->base;
	pd.cfg = d->cfg;
	pd.io = d->io;
	pd.cpu = d->cpu;
	pd.throttle = d->throttle;
	d->pop3 = pop3_server_new(&pd);
	memset(&id, 0, sizeof(id));
	id.base = d->base;
	id.cfg = d->cfg;
	id.io = d->io;
	id.cpu = d->cpu;
	id.throttle = d->throttle;
	d->imap = imap_server_new(&id);
	if (start_http(d) == -1)
		return -1;
	d->tidy = event_new(d->base, -1, EV_PERSIST, on_tidy, d);
	if (d->tidy != NULL) {
		struct timeval tv = { TIDY_INTERVAL, 0 };

		(void)event_add(d->tidy, &tv);
		event_active(d->tidy, EV_TIMEOUT, 0);
	}
	metrics_start(d);
	return 0;
}

/* The lock file is `user`'s, as the rest of data_dir: a daemon started
   as `user` itself can take it too. */
static void
give_lock(const struct daemon *d)
{
	const char *err;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0 || *d->cfg->user == '\0')
		return;
	if (priv_lookup(d->cfg->user, &uid, &gid, &err) == -1)
		return;		/* cli_become_user() says why */
	if (fchown(d->lock_fd, uid, gid) == -1)
		log_warn("cannot give %s/%s to user '%s': %s",
		    d->cfg->data_dir, LOCK_FILE, d->cfg->user,
		    strerror(errno));
}

/* One daemon per data directory: data_dir opened and its lock taken
   before anything else there or on the network, so that a second
   daemon leaves the first one's control socket, queue and ports alone.
   0, or an exit code after saying why. */
static int
lock_data_dir(struct cli *c, struct daemon *d)
{
	struct errbuf eb;
	pid_t holder;

	if ((d->data_fd = cli_open_data_dir(d->cfg, &eb)) == -1) {
		log_error("%s", eb.text);
		return EXIT_SYSTEM;
	}
	d->lock_fd = pidlock_take(d->data_fd, LOCK_FILE, &holder);
	if (d->lock_fd == PIDLOCK_HELD) {
		d->lock_fd = -1;
		if (holder > 0)
			cli_err(c, "data directory %s is in use by popgate "
			    "pid %ld (lock %s/%s)", d->cfg->data_dir,
			    (long)holder, d->cfg->data_dir, LOCK_FILE);
		else
			cli_err(c, "data directory %s is in use by another "
			    "popgate (lock %s/%s)", d->cfg->data_dir,
			    d->cfg->data_dir, LOCK_FILE);
		return EXIT_USER;
	}
	if (d->lock_fd == -1) {
		log_error("cannot lock %s/%s: %s", d->cfg->data_dir,
		    LOCK_FILE, strerror(errno));
		return EXIT_SYSTEM;
	}
	give_lock(d);
	return 0;
}

/* Root's part for later (reloads): the privileged helper when the
   daemon is about to give up root, else the daemon itself. */
static int
start_privsep(struct daemon *d)
{
	char err[256];

	if (geteuid() != 0 || *d->cfg->user == '\0') {
		d->priv = privsep_direct(d->config_path, d->cfg);
		return 0;
	}
	d->priv = privsep_start(d->config_path, d->cfg, err, sizeof(err));
	if (d->priv == NULL) {
		log_error("cannot start the privileged helper: %s", err);
		return -1;
	}
	return 0;
}

static int
drop_root(struct daemon *d)
{
	struct errbuf eb;

	if (cli_become_user(d->cfg, d->data_fd, &eb) == -1) {
		log_error("%s", eb.text);
		return -1;
	}
	return 0;
}

/* The seccomp allow-list once start-up is over (privileges dropped,
   listeners bound, popgate-keys and the worker threads started: the
   filter reaches them all), before the first connection is accepted. */
static int
confine(struct daemon *d)
{
	struct errbuf eb;

	if (!d->cfg->sandbox) {
		log_warn("sandbox = no in %s: the daemon runs without its "
		    "seccomp filter", d->config_path);
		return 0;
	}
	/* With popgate-priv owning popgate-lookup and popgate-keys, the
	   daemon makes threads only: no fork, exec or kill. */
	if (sandbox_apply(privsep_separate(d->priv) ? SANDBOX_NET :
	    SANDBOX_DAEMON, &eb) == -1) {
		log_error("%s", eb.text);
		return -1;
	}
	return 0;
}

static int
cmd_serve(struct cli *c)
{
	struct daemon d;
	int r;

	if ((r = cli_load_config(c)) != 0)
		return r;
	if (geteuid() == 0 && *c->cfg->user == '\0') {
		cli_err(c, "refusing to serve as root without 'user' in %s",
		    c->config_path);
		return EXIT_USER;
	}
	memset(&d, 0, sizeof(d));
	d.data_fd = -1;
	d.lock_fd = -1;
	d.config_fd = -1;
	d.tls_start.file_fd = d.tls_start.cert_fd = -1;
	d.cfg = config_ref(c->cfg);
	/* A reload opens the file again: the same file, wherever the
	   daemon's current directory is. */
	d.config_path = realpath(c->config_path, NULL);
	if (d.config_path == NULL)
		d.config_path = xstrdup(c->config_path);
	log_init("popgate", d.cfg->log);
	log_set_debug(d.cfg->debug);
	(void)signal(SIGPIPE, SIG_IGN);
	/* Until the loop watches it (start_privileged), a SIGHUP must not
	   kill the daemon: there is nothing to reload yet. */
	(void)signal(SIGHUP, SIG_IGN);
	if ((r = lock_data_dir(c, &d)) != 0) {
		daemon_free(&d);
		return r;
	}
	if (start_privileged(&d) == -1 || start_privsep(&d) == -1 ||
	    drop_root(&d) == -1 || lookupproc_start(&d) == -1 ||
	    (needs_tls(d.cfg) && start_keys(&d) == -1) ||
	    start_services(&d) == -1 ||
	    confine(&d) == -1) {
		daemon_free(&d);
		pidlock_release(&d.lock_fd);
		return EXIT_SYSTEM;
	}
	log_info("daemon started version=" POPGATE_VERSION " listeners=%zu "
	    "tls_hosts=%zu user=%s data_dir=%s sandbox=%s", d.nlisteners,
	    d.cfg->ntls_host, geteuid() == 0 ? "root" :
	    (*d.cfg->user != '\0' ? d.cfg->user : "(unchanged)"),
	    d.cfg->data_dir, d.cfg->sandbox ? "seccomp" : "off");
	r = event_base_dispatch(d.base);
	/* The lock last: until the control socket is gone, no successor
	   may make its own. */
	daemon_free(&d);
	pidlock_release(&d.lock_fd);
	log_info("daemon stopped");
	return r == -1 ? EXIT_SYSTEM : 0;
}

static const struct cli_cmd cmd[] = {
	{ "", cmd_serve, OPT_NOSTORE, 0, 0, "[-c FILE]",
	    "run the daemon in the foreground (logs to stderr or syslog)" },
};

int
cli_serve(int argc, char **argv)
{
	return cli_dispatch("serve", cmd, 1, argc, argv);
}
