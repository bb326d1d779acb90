/*
 * cli_daemon.h - the daemon of `popgate serve`, shared by its start-up
 * and shutdown (cli_serve.c) and its reload (cli_reload.c).
 */
#ifndef POPGATE_CLI_DAEMON_H
#define POPGATE_CLI_DAEMON_H

#include <event2/event.h>
#include <openssl/ssl.h>

#include "cli/cli_control.h"
#include "cli/cli_privsep.h"
#include "core/conn.h"
#include "core/config.h"
#include "hook/hook.h"
#include "policy/policy.h"
#include "util/str.h"

struct retired;
struct keyproc;

#define LOGIN_CACHE_MAX	100000	/* verified logins remembered */

struct daemon {
	const struct config	*cfg;		/* the one in use: a ref */
	char			*config_path;	/* absolute */
	struct privsep		*priv;		/* root's part */
	struct keyproc		*keys;		/* popgate-keys */
	struct lookupproc	*lookup;	/* popgate-lookup */
	int			 config_fd;	/* opened as root, until
						   popgate-lookup has it */
	struct privsep_files	 tls_start;	/* certificates opened as
						   root, until the TLS
						   contexts have them */
	int			 data_fd;	/* data_dir, held open */
	int			 lock_fd;	/* LOCK_FILE, locked */
	struct queue		*queue;
	struct event_base	*base;
	SSL_CTX			*ssl_ctx;
	struct conn_hub		*hub;
	struct listener		**listeners;
	size_t			 nlisteners;
	int			*http_fds;	/* per listen line, until served */
	size_t			 nhttp_fds;
	struct event		*sig_term, *sig_int, *sig_hup;
	struct worker_pool	*io, *cpu;
	struct dns		*dns;
	struct auth_throttle	*throttle;
	struct smtp_server	*smtp;
	struct pop3_server	*pop3;
	struct imap_server	*imap;
	struct http_server	*http;	/* the API listeners */
	SSL_CTX			*tls_client;
	struct qmgr		*qmgr;
	struct control		*control;
	struct hooks		*hooks;		/* webhooks */
	struct policy_env	 penv;		/* shared by the workers */
	struct event		*tidy;		/* relay table expiry */
	struct worker_job	*tidy_job;
	struct worker_job	*count_job;	/* live relay authorizations */
	struct retired		*retired;	/* configurations replaced */
	struct event		*retire_ev;	/* looks at them */
};

/* Whether ROLE's listeners are evhttp's (src/http/), not a struct
   listener: d->listeners has NULL in their place. */
bool	daemon_is_http(enum listen_role);
/* Every listener's connections: to the protocol of its role. */
void	daemon_accept(struct conn *, void *daemon);
/* The line a listener of ROLE refuses a client over a cap with. */
const char *daemon_refuse_text(enum listen_role);
/* SIGHUP and `popgate reload`: rereads the configuration and its TLS
   files (through the privileged helper) and applies them without
   dropping a session. 0 when taken, -1 when refused (the old one stays);
   what to tell the caller goes to REPORT, and to the log. */
int	daemon_reload(struct daemon *, struct strlist *report);
/* On the loop: SIGHUP. */
void	daemon_on_hup(evutil_socket_t, short, void *daemon);
/* At shutdown, after the worker pools are gone: the configurations that
   were replaced. */
void	daemon_retired_free(struct daemon *);

/* popgate-lookup (cli_lookup.c): started as the daemon's user with
   d->config_fd, before the worker pools (whose threads connect to it
   through d->penv). 0, or -1 after logging why. */
int	lookupproc_start(struct daemon *);
/* A reload: popgate-lookup reads CONFIG_FD (the file the reload read;
   still the caller's) as its configuration. */
void	lookupproc_reload(struct lookupproc *, int config_fd);
/* Stops it (after the worker pools). */
void	lookupproc_free(struct lookupproc **);

/* popgate-keys (cli_keys.c): started by its owner (d->priv) as the
   daemon's user once the loop exists, into d->keys. 0, or -1 after
   logging why. */
int	keyproc_start(struct daemon *);
/* Stops it (after every TLS context using it is gone). */
void	keyproc_free(struct keyproc **);
/* A server context for CFG from the certificates F: the owner of
   popgate-keys loads the keys of the configuration it read (CFG's) as
   a new generation, the context gets the certificates and key objects
   of that generation. NULL with the reasons in REPORT ("TLS: ..."). */
SSL_CTX	*keyproc_tls_ctx(struct keyproc *, const struct config *cfg,
	    const struct privsep_files *f, struct strlist *report);
/* The generation of the last keyproc_tls_ctx() is the one in use (a
   restarted popgate-keys gets it). */
void	keyproc_commit(struct keyproc *);

#endif
