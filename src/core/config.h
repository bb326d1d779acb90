/*
 * config.h - popgate.conf: one table of typed keys (SPEC 8, STYLE.md 8).
 *
 * "key = value" per line, '#' comments, sizes with units (10M), durations
 * with units (30s, 90m, 4h, 5d). listen, transport, tls_host, milter
 * and dnsbl repeat; every other key may appear once. Every error names
 * FILE:LINE and what was expected; loading collects all errors instead
 * of stopping at the first.
 */
#ifndef POPGATE_CONFIG_H
#define POPGATE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "util/log.h"
#include "util/net.h"
#include "util/str.h"

#define CONFIG_DEFAULT_PATH "/etc/popgate/popgate.conf"

enum listen_role {
	ROLE_SMTP,
	ROLE_SUBMISSION,
	ROLE_SUBMISSIONS,
	ROLE_POP3,
	ROLE_POP3S,
	ROLE_IMAP,
	ROLE_IMAPS,
	ROLE_HTTP,	/* the API (src/http/), clear text: loopback or
			   http_insecure = yes (behind a TLS proxy) */
	ROLE_HTTPS,	/* the API over TLS, the tls_host certificates */
};

struct listen_cfg {
	char			 host[NET_ADDRSTRLEN];
	uint16_t		 port;
	enum listen_role	 role;
	bool			 gate_connect;
};

/* "tls_host = NAME CERT KEY" (SPEC 14): the certificate a client gets
   when it asks for NAME by SNI. */
struct tls_host_cfg {
	char		 name[256];	/* lower case; a wildcard "*.DOMAIN"
					   matches one label before DOMAIN */
	char		*cert;		/* absolute paths */
	char		*key;
	unsigned	 line;		/* where it was set */
};

/* "dnsbl = ZONE [WEIGHT]" (RFC 5782): a DNS blocklist asked about the
   clients of smtp listeners. */
struct dnsbl_cfg {
	char		 zone[256];	/* lower case */
	unsigned	 weight;	/* 1 to 100 */
	unsigned	 line;		/* where it was set */
};

/* Outbound TLS (config_tlspol.c): what a destination's connections
   demand. Ordered: each level demands what the one before does. */
enum tls_level {
	TLS_LEVEL_NONE,		/* never STARTTLS */
	TLS_LEVEL_MAY,		/* STARTTLS when offered, else clear text */
	TLS_LEVEL_ENCRYPT,	/* TLS required, any certificate */
	TLS_LEVEL_VERIFY,	/* TLS required, the certificate verified
				   for the host name */
};

/* "tls_policy DOMAIN = LEVEL"; DOMAIN ".parent" for the names below. */
struct tls_policy_cfg {
	char		 domain[256];	/* lower case */
	enum tls_level	 level;
	unsigned	 line;		/* where it was set */
};

struct transport_cfg {
	char		domain[256];
	char		host[256];
	uint16_t	port;
};

/* Content filters (SPEC 11): "milter = NAME unix:/path | inet:HOST:PORT
   | inet6:[ADDR]:PORT", applied in the order written. */
enum milter_apply {
	MILTER_APPLY_ALL,
	MILTER_APPLY_INBOUND,	/* mail from clients the relay rules do
				   not authorize */
	MILTER_APPLY_RELAY,	/* mail from authorized clients */
};

enum milter_action {
	MILTER_ACTION_TEMPFAIL,	/* 451 4.7.1 at the command it failed */
	MILTER_ACTION_ACCEPT,	/* the filter skipped for the message */
};

enum milter_family_cfg {
	MILTER_UNIX,
	MILTER_INET,
	MILTER_INET6,
};

struct milter_cfg {
	char			 name[33];
	enum milter_family_cfg	 family;
	char			 path[108];	/* MILTER_UNIX */
	char			 host[NET_ADDRSTRLEN];	/* INET, INET6 */
	uint16_t		 port;
	enum milter_apply	 apply;
	uint64_t		 connect_timeout;	/* seconds */
	uint64_t		 command_timeout;
	uint64_t		 total_timeout;
	enum milter_action	 default_action;
	/* the lines of the per-filter settings (0: the global one) */
	unsigned		 line, set_line[5];
};

/* "webhook = URL [EVENT,...]" (config_webhook.c): a control panel's
   receiver of events (src/hook). */
#define WEBHOOK_URL_MAX	1024
struct webhook_cfg {
	char		 url[WEBHOOK_URL_MAX];	/* as written */
	bool		 https;
	char		 host[256];	/* name or address, no brackets */
	uint16_t	 port;
	char		 path[WEBHOOK_URL_MAX];	/* "/..." with the query */
	unsigned	 events;	/* bit I: config_webhook_event(I) */
	unsigned	 line;
};

enum plaintext_auth {
	PLAINTEXT_NO,
	PLAINTEXT_LOOPBACK,
	PLAINTEXT_YES,
};

enum dmarc_mode {
	DMARC_ENFORCE,		/* p=reject refused, quarantine to Junk */
	DMARC_REPORT,		/* only Authentication-Results */
};

enum sender_policy {
	SENDER_POLICY_DOMAIN,
	SENDER_POLICY_ADDRESS,
};

enum received_auth {
	RECEIVED_AUTH_NONE,
	RECEIVED_AUTH_MAILBOX,
	RECEIVED_AUTH_CUSTOMER,
};

struct config {
	unsigned		 refs;		/* config_ref(); 1 when new */
	char			*path;		/* the file it came from */
	char			*hostname;
	char			*login_default_domain;	/* "" = none */
	char			*data_dir;
	char			*mail_dir;
	char			*user;		/* "" = do not switch */
	char			*tls_cert;
	char			*tls_key;
	struct tls_host_cfg	*tls_host;	/* in the file's order */
	size_t			 ntls_host;
	char			*tls_ca_file;	/* "" = the system's only */
	enum log_target		 log;
	struct listen_cfg	*listen;
	size_t			 nlisten;
	/* Derived: where to SMTP AUTH, for the replies that say so: "port
	   587", "ports 587 and 1587", or "the submission port" when no
	   listener has the role submission. */
	char			 submission_ports[64];

	uint64_t		 relay_window;
	uint64_t		 relay_ipv6_prefix;
	struct netlist		 trusted_networks;
	struct netlist		 relay_never_authorize;
	enum sender_policy	 sender_policy;
	uint64_t		 relay_max_recipients;
	uint64_t		 relay_max_messages_per_hour;
	uint64_t		 relay_max_recipients_per_hour;
	uint64_t		 relay_max_message_size;
	uint64_t		 max_message_size;
	enum received_auth	 received_auth;

	bool			 http_insecure;	/* http on any address */
	bool			 sandbox;	/* seccomp after start-up */
	struct netlist		 metrics_networks;	/* may GET /metrics;
					   empty: loopback */
	enum plaintext_auth	 pop3_plaintext_auth;
	enum plaintext_auth	 imap_plaintext_auth;
	char			*store;
	char			*relay_store;
	char			*dns_servers;
	bool			 reverse_dns;
	bool			 inbound_auth;	/* SPF DKIM DMARC ARC */
	enum dmarc_mode		 dmarc_policy;
	bool			 spoof_protection;
	struct dnsbl_cfg	*dnsbl;		/* in the file's order */
	size_t			 ndnsbl;
	uint64_t		 dnsbl_threshold;
	char			*relayhost;	/* "" or host:port */
	struct transport_cfg	*transport;
	size_t			 ntransport;
	uint64_t		 max_queue_lifetime;
	uint64_t		 retry_min;
	uint64_t		 retry_max;
	uint64_t		 delay_warning;

	char			*postmaster;	/* "" = data_dir/postmaster */
	bool			 srs;		/* rewrite forwarded senders */
	char			*srs_domain;	/* "" in the file: hostname */
	uint64_t		 srs_max_age;	/* seconds, whole days used */
	bool			 srs_bounces_only;	/* <> only to SRS */
	uint64_t		 max_recipients;
	uint64_t		 max_connections;
	uint64_t		 max_connections_per_ip;
	uint64_t		 max_errors;
	uint64_t		 smtp_timeout;
	uint64_t		 pop3_timeout;
	uint64_t		 imap_timeout;
	uint64_t		 auth_failure_delay;
	uint64_t		 auth_max_failures;
	uint64_t		 password_min_length;	/* characters */
	uint64_t		 auth_cache_ttl;	/* 0: no login cache */
	uint64_t		 delivery_concurrency;
	uint64_t		 delivery_concurrency_per_destination;
	uint64_t		 connect_timeout;
	struct milter_cfg	*milter;
	size_t			 nmilter;
	uint64_t		 milter_connect_timeout;
	uint64_t		 milter_command_timeout;
	uint64_t		 milter_total_timeout;
	enum milter_action	 milter_default_action;
	bool			 tls_verify_peer;
	struct tls_policy_cfg	*tls_policy;	/* in the file's order */
	size_t			 ntls_policy;
	int			 tls_policy_default;	/* enum tls_level */
	bool			 mta_sts;
	bool			 dane;
	/* webhooks (config_webhook.c, src/hook) */
	struct webhook_cfg	*webhook;	/* in the file's order */
	size_t			 nwebhook;
	char			*webhook_secret;	/* "" = none */
	char			*webhook_secret_file;	/* "" = none */
	bool			 webhook_insecure;	/* http:// anywhere */
	char			*webhook_ca_file;	/* "" = the system's */
	uint64_t		 webhook_timeout;	/* per attempt, s */
	uint64_t		 webhook_retry_min;	/* first back-off, s */
	uint64_t		 webhook_max_age;	/* give up after, s */
	uint64_t		 webhook_queue_max;	/* deliveries kept */
	uint64_t		 webhook_ip_memory;	/* login.new_ip, s */
	/* The help page (src/web/): its title ("" = "Mail settings for
	   HOSTNAME") and the hosting company's name ("" = none). */
	char			*help_title;
	char			*help_company;
	bool			 debug;
};

/* relay_store = redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] */
struct redis_uri {
	char		host[256];
	uint16_t	port;		/* 6379 when absent */
	unsigned	db;		/* 0 when absent */
	char		user[128];	/* "" unless given */
	char		password[256];	/* "" unless given */
};

/* Parses URI into *OUT: 0, or -1 with *ERROR_R saying what is wrong. */
int	config_redis_uri(const char *uri, struct redis_uri *out,
	    const char **error_r);
/* Whether URI is a PostgreSQL connection URI libpq accepts: 0, or -1
   with the reason in the caller's ERR (ERRSZ bytes; 256 is enough). */
int	config_postgresql_uri(const char *uri, char *err, size_t errsz);
/* URI with any password replaced by "***", into OUT. */
void	config_uri_masked(const char *uri, char *out, size_t outsz);

/* Parses TEXT as if read from NAME. Returns the configuration, or NULL
   with every error appended to ERRORS ("NAME:LINE: ..."). */
struct config *config_parse(const char *name, const char *text,
	    struct strlist *errors);
#define CONFIG_FILE_MAX	(1024 * 1024)	/* bytes */
/* Reads and parses PATH. NULL with ERRORS filled on failure. */
struct config *config_load(const char *path, struct strlist *errors);
/* The same for the file open at FD (read from its start), named PATH in
   the errors: the daemon's reload reads what its privileged helper
   opened. */
struct config *config_load_fd(int fd, const char *path,
	    struct strlist *errors);
void	config_free(struct config **);
/*
 * The daemon's sessions keep the configuration they started with across
 * a reload (SPEC 14): each holds a reference. A new configuration holds
 * one; config_unref() frees it with the last. The count is not atomic:
 * the loop thread alone takes and drops references (the worker threads
 * see a configuration through worker_pool_set_refresh()).
 */
const struct config *config_ref(const struct config *);
void	config_unref(const struct config **);
/* Whether KEY takes effect on reload (else: at the next restart). */
bool	config_key_reloads(const char *key);
/* For a reload from OLD to NEW: every key that needs a restart and that
   NEW changes gets OLD's value back in NEW, and a line in NOTES saying
   so ("data_dir: the file now says X; the running daemon keeps Y until
   it restarts"). Returns how many. */
size_t	config_keep_restart_keys(struct config *new, const struct config *old,
	    struct strlist *notes);
/* Writes the effective configuration, every key, to F. */
void	config_print(const struct config *, FILE *);
/* The table of keys, read by `popgate init` for the values it writes and
   by the test that holds docs/popgate.conf.5 to it. The name of key I in
   the table's order, NULL past the last. */
const char *config_key_name(size_t i);
/* KEY's default as it would be written in the file ("" when empty),
   borrowed from the table; NULL for an unknown key and for the keys
   that repeat (listen, transport, tls_host, milter, dnsbl), which have
   none. */
const char *config_key_default(const char *key);
/* Whether KEY is a number, size or duration; then its lowest and
   highest value, as the file would write them, into LO and HI. */
bool	config_key_range(const char *key, char *lo, size_t losz, char *hi,
	    size_t hisz);
/* The path the CLI uses: EXPLICIT, else $POPGATE_CONFIG, else the
   default. Borrowed. */
const char *config_default_path(const char *explicit_path);
const char *config_role_name(enum listen_role);
/* Every role's name, by enum listen_role, NULL-terminated (the listener
   label of the metrics). */
const char *const *config_role_names(void);
/* PATH relative to data_dir when it lies inside it (the daemon and the
   CLI reach it below the data directory's descriptor, opened as root, so
   parents need no permissions), else PATH. Borrowed from PATH. */
const char *config_rel(const struct config *, const char *path);
/* The name of webhook event I ("customer.suspended", ...), NULL past
   the last: bit I of webhook_cfg.events. */
const char *config_webhook_event(unsigned i);
#define WEBHOOK_ALL_EVENTS	0xfu
/* The filter named NAME, or NULL. */
const struct milter_cfg *config_milter(const struct config *,
	    const char *name);
const char *config_milter_apply_name(enum milter_apply);
const char *config_milter_action_name(enum milter_action);
/* The transport route for DOMAIN, or NULL. */
const struct transport_cfg *config_transport(const struct config *,
	    const char *domain);

/* The tls_policy line for DOMAIN: its own, else the ".PARENT" one of
   its nearest parent; NULL when none applies. Borrowed from C. */
const struct tls_policy_cfg *config_tls_policy(const struct config *,
	    const char *domain);
/* The level of destinations without a tls_policy line:
   tls_policy_default, at least verify with tls_verify_peer = yes. */
enum tls_level config_tls_default(const struct config *);
/* "none", "may", "encrypt", "verify". */
const char *config_tls_level_name(enum tls_level);
/* One of those names (any case) into *LEVEL_R: 0, or -1. */
int	config_tls_level_parse(const char *, enum tls_level *level_r);

#endif
