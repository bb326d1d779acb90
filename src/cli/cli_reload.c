/*
 * cli_reload.c - SIGHUP and `popgate reload`: the daemon takes a new
 * configuration and new TLS certificates without dropping a session
 * (SPEC 14).
 *
 * Everything is prepared before anything changes: the files opened by
 * root's part (cli_privsep.c), the configuration parsed and checked, the
 * keys that need a restart given their old values back, the TLS context
 * built, the new listeners bound. Any error refuses the whole reload and
 * the daemon goes on as it was. Then, in one turn of the loop: the
 * listeners (kept ones take their new settings, new ones accept, removed
 * ones close; their sessions go on), the hub's TLS context and caps, and
 * the configuration of the servers, the queue manager and the workers.
 *
 * A session keeps the configuration it started with (a reference); jobs
 * on the worker threads see the one that was current when they started.
 * So a replaced configuration is freed only once no session holds it and
 * the pools have finished every job that may have seen it
 * (worker_pool_quiesce): it waits on the daemon's retired list, looked at
 * every RETIRE_CHECK seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_daemon.h"
#include "core/tls.h"
#include "delivery/dlv.h"
#include "http/http.h"
#include "imap/imap.h"
#include "pop3/pop3.h"
#include "smtp/smtp.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define RETIRE_CHECK	5	/* seconds */

struct retired {
	struct retired		*next;
	const struct config	*cfg;		/* the daemon's reference */
	unsigned		 waiting;	/* pools not yet quiescent */
	bool			 asked;		/* quiescence asked for */
};

/* The listeners of the new configuration: each kept or new one. An
   HTTP one (evhttp's, src/http/) is kept when fd is -1. */
struct plan {
	struct listener	**keep;		/* per new listen line: an old one */
	int		 *fd;		/* or a new socket (-1: kept) */
	size_t		  n;
	size_t		  added;
};

/* ---- the configurations replaced ---- */

static void
retired_quiet(void *arg)
{
	struct retired *r = arg;

	if (r->waiting > 0)
		r->waiting--;
}

/* Frees what no one can see any more; asks the pools about the ones no
   session holds. */
static void
retired_check(struct daemon *d)
{
	struct retired **rp = &d->retired, *r;
	struct timeval tv = { RETIRE_CHECK, 0 };

	while ((r = *rp) != NULL) {
		if (r->asked && r->waiting == 0 && r->cfg->refs == 1) {
			*rp = r->next;
			config_unref(&r->cfg);
			free(r);
			continue;
		}
		if (!r->asked && r->cfg->refs == 1) {
			r->asked = true;
			r->waiting = 2;
			worker_pool_quiesce(d->io, retired_quiet, r);
			worker_pool_quiesce(d->cpu, retired_quiet, r);
			continue;	/* may be done at once: look again */
		}
		rp = &r->next;
	}
	if (d->retired != NULL && d->retire_ev != NULL)
		(void)event_add(d->retire_ev, &tv);
}

static void
on_retire(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	retired_check(arg);
}

static void
retire(struct daemon *d, const struct config *old)
{
	struct retired *r = xcalloc(1, sizeof(*r));

	r->cfg = old;
	r->next = d->retired;
	d->retired = r;
	if (d->retire_ev == NULL)
		d->retire_ev = evtimer_new(d->base, on_retire, d);
	if (d->retire_ev == NULL)
		log_fatal("cannot create the retire timer");
	retired_check(d);
}

void
daemon_retired_free(struct daemon *d)
{
	struct retired *r;

	/* The pools are gone (their barriers ran): only sessions could
	   hold these, and they are gone too. */
	while ((r = d->retired) != NULL) {
		d->retired = r->next;
		config_unref(&r->cfg);
		free(r);
	}
	if (d->retire_ev != NULL)
		event_free(d->retire_ev);
	d->retire_ev = NULL;
}

/* ---- preparing ---- */

static void
report_add(struct strlist *report, const char *fmt, ...) PRINTFLIKE(2, 3);

static void
report_add(struct strlist *report, const char *fmt, ...)
{
	char line[1200];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	strlist_add(report, line);
}

static void
plan_free(struct plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->fd[i] != -1)
			(void)close(p->fd[i]);
	free(p->keep);
	free(p->fd);
	memset(p, 0, sizeof(*p));
}

/* The socket an old listener of the other kind (a mail listener for an
   HTTP line, an HTTP one for a mail line, or HTTP in its other role)
   has on LC's address, duplicated: the address changes role without
   closing. -1 when there is none. */
static int
other_kind_fd(struct daemon *d, const struct listen_cfg *lc)
{
	size_t j;
	int fd;

	/* LC is not kept: what the HTTP server has there is of the
	   other role. */
	if (d->http != NULL && (fd = http_server_dup_fd(d->http, lc)) != -1)
		return fd;
	if (!daemon_is_http(lc->role))
		return -1;	/* a mail listener there would be kept */
	for (j = 0; j < d->nlisteners; j++)
		if (d->listeners[j] != NULL &&
		    listener_is(d->listeners[j], lc))
			return listener_dup_fd(d->listeners[j]);
	return -1;
}

/* Which listeners of CFG exist and which are bound now (through root's
   part: a port below 1024 needs it). */
static int
plan_listeners(struct daemon *d, const struct config *cfg, struct plan *p,
    struct strlist *report)
{
	char err[512];
	size_t i, j;

	p->n = cfg->nlisten;
	p->keep = xcalloc(p->n + 1, sizeof(*p->keep));
	p->fd = xcalloc(p->n + 1, sizeof(*p->fd));
	for (i = 0; i < p->n; i++) {
		const struct listen_cfg *lc = &cfg->listen[i];

		p->fd[i] = -1;
		if (daemon_is_http(lc->role)) {
			if (d->http != NULL && http_server_has(d->http, lc))
				continue;
		} else {
			for (j = 0; j < d->nlisteners; j++)
				if (d->listeners[j] != NULL &&
				    listener_is(d->listeners[j], lc))
					p->keep[i] = d->listeners[j];
			if (p->keep[i] != NULL)
				continue;
		}
		p->added++;
		if ((p->fd[i] = other_kind_fd(d, lc)) != -1)
			continue;
		p->fd[i] = privsep_bind(d->priv, lc->host, lc->port, err,
		    sizeof(err));
		if (p->fd[i] == -1) {
			report_add(report, "%s", err);
			return -1;
		}
	}
	return 0;
}

/* ---- applying ---- */

/* The listeners of P replace the daemon's; returns how many closed. */
static size_t
apply_listeners(struct daemon *d, const struct config *cfg, struct plan *p)
{
	struct listener **next = xcalloc(p->n + 1, sizeof(*next));
	size_t i, j, closed = 0;

	if (d->http != NULL)
		closed += http_server_retain(d->http, cfg);
	for (i = 0; i < p->n; i++) {
		const struct listen_cfg *lc = &cfg->listen[i];

		if (daemon_is_http(lc->role)) {
			next[i] = NULL;
			if (p->fd[i] != -1 && http_server_listen(d->http, lc,
			    p->fd[i]) == -1)
				log_error("reload: cannot serve HTTP on %s:%u",
				    lc->host, (unsigned)lc->port);
			p->fd[i] = -1;	/* the server's, or closed */
		} else if (p->keep[i] != NULL) {
			listener_update(p->keep[i], lc);
			next[i] = p->keep[i];
		} else {
			next[i] = listener_new(d->hub, lc, p->fd[i],
			    daemon_accept, d, daemon_refuse_text(lc->role));
			p->fd[i] = -1;
		}
	}
	for (j = 0; j < d->nlisteners; j++) {
		if (d->listeners[j] == NULL)
			continue;
		for (i = 0; i < p->n && p->keep[i] != d->listeners[j]; i++)
			;
		if (i == p->n) {
			listener_free(&d->listeners[j]);
			closed++;
		}
	}
	free(d->listeners);
	d->listeners = next;
	d->nlisteners = p->n;
	return closed;
}

static void
apply_config(struct daemon *d, const struct config *cfg, SSL_CTX *ctx)
{
	const struct config *old = d->cfg;

	conn_hub_set_tls(d->hub, ctx);
	keyproc_commit(d->keys);
	if (d->ssl_ctx != NULL)
		SSL_CTX_free(d->ssl_ctx);
	d->ssl_ctx = ctx;
	conn_hub_set_caps(d->hub, cfg->max_connections,
	    cfg->max_connections_per_ip);
	d->cfg = cfg;
	smtp_server_set_config(d->smtp, cfg);
	pop3_server_set_config(d->pop3, cfg);
	imap_server_set_config(d->imap, cfg);
	http_server_set_config(d->http, cfg);
	qmgr_set_config(d->qmgr, cfg);
	policy_env_set_config(&d->penv, cfg);
	log_set_debug(cfg->debug);
	retire(d, old);
}

/* Parses the file of F as the new configuration. */
static struct config *
new_config(struct daemon *d, const struct privsep_files *f,
    struct strlist *report)
{
	struct config *cfg = config_load_fd(f->file_fd, d->config_path,
	    report);

	if (cfg != NULL && cfg->ntls_host != f->nhosts) {
		/* The helper read the file at another moment. */
		report_add(report, "%s changed during the reload: try again",
		    d->config_path);
		config_free(&cfg);
	}
	return cfg;
}

static void
log_report(const struct strlist *report, bool refused)
{
	size_t i;

	for (i = 0; i < report->n; i++) {
		if (refused)
			log_error("reload: %s", report->v[i]);
		else
			log_warn("reload: %s", report->v[i]);
	}
}

int
daemon_reload(struct daemon *d, struct strlist *report)
{
	struct privsep_files f;
	struct config *cfg = NULL;
	struct plan p;
	SSL_CTX *ctx = NULL;
	const char *herr;
	size_t closed, kept;
	int cfg_fd = -1;

	memset(&p, 0, sizeof(p));
	log_info("reload config=%s", d->config_path);
	if (privsep_open_files(d->priv, &f, report) == -1)
		goto refused;
	cfg = new_config(d, &f, report);
	if (cfg != NULL)
		(void)config_keep_restart_keys(cfg, d->cfg, report);
	if (cfg == NULL ||
	    (ctx = keyproc_tls_ctx(d->keys, cfg, &f, report)) == NULL ||
	    plan_listeners(d, cfg, &p, report) == -1) {
		privsep_files_close(&f);
		goto refused;
	}
	/* popgate-lookup reads the same file once the reload is taken. */
	cfg_fd = fcntl(f.file_fd, F_DUPFD_CLOEXEC, 0);
	privsep_files_close(&f);
	/* The last step that may fail: the webhooks' secret and CA file. */
	if (d->hooks != NULL && hook_reload(d->hooks, cfg, &herr) == -1) {
		report_add(report, "%s", herr);
		goto refused;
	}
	closed = apply_listeners(d, cfg, &p);
	kept = p.n - p.added;
	apply_config(d, cfg, ctx);	/* ctx is the daemon's now */
	if (cfg_fd != -1)
		lookupproc_reload(d->lookup, cfg_fd);
	log_report(report, false);
	log_info("reload done listeners=%zu kept=%zu added=%zu closed=%zu "
	    "tls_hosts=%zu restart_needed=%zu", p.n, kept, p.added, closed,
	    cfg->ntls_host, report->n);
	plan_free(&p);
	if (cfg_fd != -1)
		(void)close(cfg_fd);
	return 0;
refused:
	plan_free(&p);
	if (cfg_fd != -1)
		(void)close(cfg_fd);
	if (ctx != NULL)
		SSL_CTX_free(ctx);
	config_free(&cfg);
	log_report(report, true);
	log_error("reload refused: the configuration in use is kept");
	return -1;
}

void
daemon_on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct strlist report;

	(void)sig;
	(void)what;
	strlist_init(&report);
	(void)daemon_reload(arg, &report);
	strlist_free(&report);
}

/* ---- popgate reload ---- */

#define RELOAD_ANSWER_MAX	65536

/* Prints the report of ANS (tab-separated after its first word). */
static void
print_report(const char *ans, FILE *f)
{
	const char *p = strchr(ans, '\t'), *next;

	for (; p != NULL; p = next) {
		next = strchr(p + 1, '\t');
		fprintf(f, "%.*s\n", (int)(next != NULL ? next - p - 1 :
		    (ptrdiff_t)strlen(p + 1)), p + 1);
	}
}

static int
cmd_reload(struct cli *c)
{
	char *ans;
	int r;

	if ((r = cli_load_config(c)) != 0) {
		cli_err(c, "the configuration has errors: the running daemon "
		    "was not asked, and keeps the one it has");
		return r;
	}
	if ((r = cli_drop_root(c)) != 0)
		return r;
	ans = xmalloc(RELOAD_ANSWER_MAX);
	r = control_call(c->data_fd, "reload", ans, RELOAD_ANSWER_MAX);
	if (r == -1) {
		cli_err(c, "no daemon is running for data_dir %s",
		    c->cfg->data_dir);
		r = EXIT_USER;
	} else if (r == -2) {
		cli_err(c, "the daemon did not answer within %ds; see its log",
		    CONTROL_WAIT);
		r = EXIT_SYSTEM;
	} else if (strncmp(ans, "ok", 2) == 0 && (ans[2] == '\0' ||
	    ans[2] == '\t')) {
		print_report(ans, stdout);
		printf("reloaded\n");
		r = 0;
	} else {
		print_report(ans, stderr);
		cli_err(c, "the daemon refused the new configuration and "
		    "keeps the one it has");
		r = EXIT_USER;
	}
	free(ans);
	return r;
}

static const struct cli_cmd cmd[] = {
	{ "", cmd_reload, OPT_NOSTORE, 0, 0, "[-c FILE]",
	    "make the running daemon reread its configuration and TLS "
	    "files (as SIGHUP does), without dropping a session" },
};

int
cli_reload(int argc, char **argv)
{
	return cli_dispatch("reload", cmd, 1, argc, argv);
}
