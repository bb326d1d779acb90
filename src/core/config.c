/*
 * config.c - the popgate.conf parser: one table of typed parameters.
 *
 * Each key has a type, a default (a string parsed like the file's text,
 * so defaults go through the same checks) and a target field. Errors are
 * collected, each prefixed with FILE:LINE, and the whole load fails if
 * there is any. Defaults that depend on other keys (mail_dir, tls_*,
 * hostname) are derived after the file was read.
 *
 * Two tables: params[] here (one row per key: name, type, default,
 * limits, field) and config_types[] in config_types.c (one row per type:
 * parse, release, print), so parsing, freeing and printing walk params[]
 * and never switch on a type. This file reads the text (lines, comments,
 * keys, errors) and derives and checks across keys; config_types.c knows
 * the values' syntax. docs/popgate.conf.5 gives every default and range
 * of params[] (tests/unit/test_config.c checks it), and `popgate init`
 * writes its defaults from it (config_key_default).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include "core/config_int.h"
#include "core/addr.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/xalloc.h"
#include "util/compat.h"

static const char *const log_names[] = { "stderr", "syslog", NULL };
static const char *const sender_names[] = { "domain", "address", NULL };
static const char *const plaintext_names[] = { "no", "loopback", "yes",
	NULL };
static const char *const received_auth_names[] = { "none", "mailbox",
	"customer", NULL };
static const char *const dmarc_names[] = { "enforce", "report", NULL };
static const char *const milter_action_names[] = { "tempfail", "accept",
	NULL };
/* config_tlspol.c's, in enum tls_level's order */
static const char *const tls_level_names[] = { "none", "may", "encrypt",
	"verify", NULL };

#define OFF(f) offsetof(struct config, f)
#define KB 1024ULL
#define MB (1024ULL * 1024)
#define GB (1024ULL * MB)
#define DAY 86400ULL

static const struct param params[] = {
	{ "hostname", P_HOSTNAME, OFF(hostname), "", 0, 0, NULL },
	{ "data_dir", P_PATH, OFF(data_dir), "/var/lib/popgate", 0, 0, NULL },
	{ "mail_dir", P_PATH, OFF(mail_dir), "", 0, 0, NULL },
	{ "user", P_USER, OFF(user), "", 0, 0, NULL },
	{ "tls_cert", P_PATH, OFF(tls_cert), "", 0, 0, NULL },
	{ "tls_key", P_PATH, OFF(tls_key), "", 0, 0, NULL },
	{ "tls_host", P_TLS_HOST, 0, NULL, 0, 0, NULL },
	{ "log", P_ENUM, OFF(log), "stderr", 0, 0, log_names },
	{ "listen", P_LISTEN, 0, NULL, 0, 0, NULL },
	{ "relay_window", P_DURATION, OFF(relay_window), "90m", 1, 7 * DAY,
	    NULL },
	{ "relay_ipv6_prefix", P_UINT, OFF(relay_ipv6_prefix), "64", 16, 128,
	    NULL },
	{ "trusted_networks", P_NETLIST, OFF(trusted_networks), "", 0, 0,
	    NULL },
	{ "relay_never_authorize", P_NETLIST, OFF(relay_never_authorize), "",
	    0, 0, NULL },
	{ "sender_policy", P_ENUM, OFF(sender_policy), "domain", 0, 0,
	    sender_names },
	{ "relay_max_recipients", P_UINT, OFF(relay_max_recipients), "50", 1,
	    100000, NULL },
	{ "relay_max_messages_per_hour", P_UINT,
	    OFF(relay_max_messages_per_hour), "200", 0, 10000000, NULL },
	{ "relay_max_recipients_per_hour", P_UINT,
	    OFF(relay_max_recipients_per_hour), "500", 0, 10000000, NULL },
	{ "relay_max_message_size", P_SIZE, OFF(relay_max_message_size),
	    "10M", 1 * KB, 4 * GB, NULL },
	{ "max_message_size", P_SIZE, OFF(max_message_size), "50M", 1 * KB,
	    4 * GB, NULL },
	{ "received_auth", P_ENUM, OFF(received_auth), "mailbox", 0, 0,
	    received_auth_names },
	{ "pop3_plaintext_auth", P_ENUM, OFF(pop3_plaintext_auth),
	    "loopback", 0, 0, plaintext_names },
	{ "imap_plaintext_auth", P_ENUM, OFF(imap_plaintext_auth),
	    "loopback", 0, 0, plaintext_names },
	{ "store", P_STORE, OFF(store), "sqlite", 0, 0, NULL },
	{ "relay_store", P_RELAY_STORE, OFF(relay_store), "local", 0, 0,
	    NULL },
	{ "dns_servers", P_DNS, OFF(dns_servers), "", 0, 0, NULL },
	{ "reverse_dns", P_BOOL, OFF(reverse_dns), "yes", 0, 0, NULL },
	/* mail authentication of inbound mail (smtp_mauth.c) */
	{ "inbound_auth", P_BOOL, OFF(inbound_auth), "yes", 0, 0, NULL },
	{ "dmarc_policy", P_ENUM, OFF(dmarc_policy), "enforce", 0, 0,
	    dmarc_names },
	{ "spoof_protection", P_BOOL, OFF(spoof_protection), "yes", 0, 0,
	    NULL },
	/* DNS blocklists of smtp listeners (config_dnsbl.c) */
	{ "dnsbl", P_DNSBL, 0, NULL, 0, 0, NULL },
	{ "dnsbl_threshold", P_UINT, OFF(dnsbl_threshold), "1", 1, 1000,
	    NULL },
	{ "relayhost", P_RELAYHOST, OFF(relayhost), "", 0, 0, NULL },
	{ "transport", P_TRANSPORT, 0, NULL, 0, 0, NULL },
	{ "max_queue_lifetime", P_DURATION, OFF(max_queue_lifetime), "5d", 1,
	    60 * DAY, NULL },
	{ "retry_min", P_DURATION, OFF(retry_min), "5m", 1, 7 * DAY, NULL },
	{ "retry_max", P_DURATION, OFF(retry_max), "4h", 1, 7 * DAY, NULL },
	{ "delay_warning", P_DURATION, OFF(delay_warning), "4h", 0, 60 * DAY,
	    NULL },
	{ "postmaster", P_ADDRESS, OFF(postmaster), "", 0, 0, NULL },
	/* the Sender Rewriting Scheme of forwarded mail (policy_srs.c) */
	{ "srs", P_BOOL, OFF(srs), "yes", 0, 0, NULL },
	{ "srs_domain", P_HOSTNAME, OFF(srs_domain), "", 0, 0, NULL },
	{ "srs_max_age", P_DURATION, OFF(srs_max_age), "21d", DAY, 1000 * DAY,
	    NULL },
	{ "srs_bounces_only", P_BOOL, OFF(srs_bounces_only), "yes", 0, 0,
	    NULL },
	{ "max_recipients", P_UINT, OFF(max_recipients), "1000", 1, 100000,
	    NULL },
	{ "max_connections", P_UINT, OFF(max_connections), "2000", 1, 1000000,
	    NULL },
	{ "max_connections_per_ip", P_UINT, OFF(max_connections_per_ip), "20",
	    1, 1000000, NULL },
	{ "max_errors", P_UINT, OFF(max_errors), "10", 1, 1000, NULL },
	{ "smtp_timeout", P_DURATION, OFF(smtp_timeout), "5m", 1, DAY, NULL },
	{ "pop3_timeout", P_DURATION, OFF(pop3_timeout), "10m", 1, DAY,
	    NULL },
	/* RFC 9051 5.4: an idle client is logged out after at least 30
	   minutes (IDLE clients re-issue it every 29). */
	{ "imap_timeout", P_DURATION, OFF(imap_timeout), "30m", 1, DAY,
	    NULL },
	{ "auth_failure_delay", P_DURATION, OFF(auth_failure_delay), "1s", 0,
	    60, NULL },
	{ "auth_max_failures", P_UINT, OFF(auth_max_failures), "10", 1, 10000,
	    NULL },
	/* mailbox add and passwd (cli_read_password) */
	{ "password_min_length", P_UINT, OFF(password_min_length), "8", 1,
	    128, NULL },
	{ "login_default_domain", P_HOSTNAME, OFF(login_default_domain), "",
	    0, 0, NULL },
	{ "auth_cache_ttl", P_DURATION, OFF(auth_cache_ttl), "1h", 0, DAY,
	    NULL },
	{ "delivery_concurrency", P_UINT, OFF(delivery_concurrency), "100", 1,
	    10000, NULL },
	{ "delivery_concurrency_per_destination", P_UINT,
	    OFF(delivery_concurrency_per_destination), "10", 1, 1000, NULL },
	{ "connect_timeout", P_DURATION, OFF(connect_timeout), "30s", 1, 600,
	    NULL },
	/* content filters (config_milter.c): "milter" repeats, the others
	   also take a filter's name ("milter_apply NAME = relay") */
	{ "milter", P_MILTER, 0, NULL, 0, 0, NULL },
	{ "milter_apply", P_MILTER_APPLY, 0, NULL, 0, 0, NULL },
	{ "milter_connect_timeout", P_DURATION, OFF(milter_connect_timeout),
	    "10s", 1, 600, NULL },
	{ "milter_command_timeout", P_DURATION, OFF(milter_command_timeout),
	    "30s", 1, 3600, NULL },
	{ "milter_total_timeout", P_DURATION, OFF(milter_total_timeout), "5m",
	    1, DAY, NULL },
	{ "milter_default_action", P_ENUM, OFF(milter_default_action),
	    "tempfail", 0, 0, milter_action_names },
	{ "tls_verify_peer", P_BOOL, OFF(tls_verify_peer), "no", 0, 0, NULL },
	{ "tls_ca_file", P_PATH, OFF(tls_ca_file), "", 0, 0, NULL },
	/* outbound TLS policy (config_tlspol.c, src/delivery/dlv_tlspol.c) */
	{ "tls_policy", P_TLS_POLICY, 0, NULL, 0, 0, NULL },
	{ "tls_policy_default", P_ENUM, OFF(tls_policy_default), "may", 0, 0,
	    tls_level_names },
	{ "mta_sts", P_BOOL, OFF(mta_sts), "yes", 0, 0, NULL },
	{ "dane", P_BOOL, OFF(dane), "yes", 0, 0, NULL },
	/* webhooks of a control panel (config_webhook.c, src/hook) */
	{ "webhook", P_WEBHOOK, 0, NULL, 0, 0, NULL },
	{ "webhook_secret", P_SECRET, OFF(webhook_secret), "", 0, 0, NULL },
	{ "webhook_secret_file", P_PATH, OFF(webhook_secret_file), "", 0, 0,
	    NULL },
	{ "webhook_insecure", P_BOOL, OFF(webhook_insecure), "no", 0, 0,
	    NULL },
	{ "webhook_ca_file", P_PATH, OFF(webhook_ca_file), "", 0, 0, NULL },
	{ "webhook_timeout", P_DURATION, OFF(webhook_timeout), "10s", 1, 300,
	    NULL },
	{ "webhook_retry_min", P_DURATION, OFF(webhook_retry_min), "10s", 1,
	    DAY, NULL },
	{ "webhook_max_age", P_DURATION, OFF(webhook_max_age), "1d", 1,
	    7 * DAY, NULL },
	{ "webhook_queue_max", P_UINT, OFF(webhook_queue_max), "1000", 1,
	    100000, NULL },
	{ "webhook_ip_memory", P_DURATION, OFF(webhook_ip_memory), "30d", 1,
	    365 * DAY, NULL },
	/* the customers' help page and client autoconfiguration
	   (src/web/) */
	{ "help_title", P_STRING, OFF(help_title), "", 0, 0, NULL },
	{ "help_company", P_STRING, OFF(help_company), "", 0, 0, NULL },
	{ "debug", P_BOOL, OFF(debug), "no", 0, 0, NULL },
	/* the daemon's seccomp allow-list (src/util/sandbox.c): off only
	   while a call it lacks is reported */
	{ "sandbox", P_BOOL, OFF(sandbox), "yes", 0, 0, NULL },
	/* the API (src/http/): clear-text http on a non-loopback address */
	{ "http_insecure", P_BOOL, OFF(http_insecure), "no", 0, 0, NULL },
	/* who may read /metrics on the HTTP listeners */
	{ "metrics_networks", P_NETLIST, OFF(metrics_networks), "", 0, 0,
	    NULL },
};

void
config_perr(struct pstate *ps, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 4096);
	if (ps->line > 0)
		(void)buf_printf(&b, "%s:%u: ", ps->file, ps->line);
	else
		(void)buf_printf(&b, "%s: ", ps->file);
	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	strlist_add(ps->errors, buf_cstr(&b));
	buf_free(&b);
}

static int
set_value(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	return config_types[p->type].parse(c, ps, p, v);
}

static const struct param *
find_param(const char *name)
{
	size_t i;

	for (i = 0; i < nitems(params); i++)
		if (strcmp(params[i].name, name) == 0)
			return &params[i];
	return NULL;
}

/* Edit distance, for "did you mean" on unknown keys. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[64], prev, tmp;

	if (lb >= nitems(row) || la >= 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

static void
unknown_key(struct pstate *ps, const char *key)
{
	const char *best = NULL;
	size_t i, d, bestd = 3;

	for (i = 0; i < nitems(params); i++) {
		d = distance(key, params[i].name);
		if (d < bestd) {
			bestd = d;
			best = params[i].name;
		}
	}
	if (best != NULL)
		config_perr(ps, "unknown key '%s' (did you mean '%s'?)", key,
		    best);
	else
		config_perr(ps, "unknown key '%s'", key);
}

/* One "key = value" line, comments already stripped. */
static void
parse_line(struct config *c, struct pstate *ps, char *line)
{
	char *eq, *key, *val, *arg = NULL;
	const struct param *p;
	size_t idx;

	line = str_trim(line);
	if (*line == '\0')
		return;
	eq = strchr(line, '=');
	if (eq == NULL) {
		config_perr(ps, "expected 'key = value', got '%s'", line);
		return;
	}
	*eq = '\0';
	key = str_trim(line);
	val = str_trim(eq + 1);
	arg = key + strcspn(key, " \t");
	if (*arg != '\0') {
		*arg++ = '\0';
		arg = str_trim(arg);
	}
	if (*key == '\0') {
		config_perr(ps, "missing key before '='");
		return;
	}
	p = find_param(key);
	if (p == NULL) {
		unknown_key(ps, key);
		return;
	}
	if (p->type == P_TRANSPORT) {
		(void)config_parse_transport(c, ps, arg, val);
		return;
	}
	if (p->type == P_TLS_POLICY) {
		(void)config_parse_tls_policy(c, ps, arg, val);
		return;
	}
	if (*arg != '\0' && config_milter_keyed(p)) {
		(void)config_parse_milter_keyed(c, ps, p, arg, val);
		return;
	}
	if (*arg != '\0') {
		config_perr(ps, "unexpected '%s' after key '%s'", arg, key);
		return;
	}
	idx = (size_t)(p - params);
	if (p->type != P_LISTEN && p->type != P_MILTER &&
	    p->type != P_TLS_HOST && p->type != P_DNSBL &&
	    p->type != P_WEBHOOK &&
	    ps->seen[idx] != 0) {
		config_perr(ps, "duplicate key '%s' (first set at line %u)",
		    key, ps->seen[idx]);
		return;
	}
	ps->seen[idx] = ps->line;
	(void)set_value(c, ps, p, val);
}

/* Removes a '#' comment: at line start or after a blank. */
static void
strip_comment(char *line)
{
	char *h;

	for (h = line; (h = strchr(h, '#')) != NULL; h++) {
		if (h == line || h[-1] == ' ' || h[-1] == '\t') {
			*h = '\0';
			return;
		}
	}
}

static const char *const default_listen[] = {
	"0.0.0.0:25 smtp", "0.0.0.0:2525 smtp", "0.0.0.0:587 submission",
	"0.0.0.0:465 submissions", "0.0.0.0:110 pop3", "0.0.0.0:995 pop3s",
	"0.0.0.0:143 imap", "0.0.0.0:993 imaps",
};

static char *
join_path(const char *dir, const char *rel)
{
	struct buf b;
	char *r;

	buf_init(&b, PATH_MAX);
	if (buf_printf(&b, "%s/%s", dir, rel) == -1)
		return xstrdup(dir);
	r = xstrdup(buf_cstr(&b));
	buf_free(&b);
	return r;
}

unsigned
config_seen_line(const struct pstate *ps, const char *name)
{
	const struct param *p = find_param(name);

	return p != NULL ? ps->seen[p - params] : 0;
}

/* The line where KEY (else OTHER) was set, 0 if neither was. */
static unsigned
seen_line(const struct pstate *ps, const char *key, const char *other)
{
	const struct param *p = find_param(key), *q = find_param(other);

	if (ps->seen[p - params] != 0)
		return ps->seen[p - params];
	return ps->seen[q - params];
}

static bool
same_listen(const struct listen_cfg *x, const struct listen_cfg *y)
{
	struct netaddr a, b;

	return x->port == y->port && net_addr_parse(x->host, &a) == 0 &&
	    net_addr_parse(y->host, &b) == 0 && net_addr_equal(&a, &b);
}

/* The empty hostname: this host's name when it is a domain name. */
static void
derive_hostname(struct config *c)
{
	char h[256];
	const char *err;

	free(c->hostname);
	if (gethostname(h, sizeof(h)) == 0 &&
	    memchr(h, '\0', sizeof(h)) != NULL &&
	    addr_domain_check(h, strlen(h), 0, &err) == 0) {
		c->hostname = xstrdup(h);
		str_lower(c->hostname);
	} else {
		c->hostname = xstrdup("localhost");
	}
}

/* A clear-text API listener carries bearer tokens and passwords: on
   loopback only (a reverse proxy on the host terminates TLS), unless
   the administrator says the network between is trusted. */
static void
check_http(struct config *c, struct pstate *ps, size_t i)
{
	const struct listen_cfg *l = &c->listen[i];
	struct netaddr a;

	if (l->role != ROLE_HTTP || c->http_insecure ||
	    (net_addr_parse(l->host, &a) == 0 && net_addr_is_loopback(&a)))
		return;
	ps->line = i < nitems(ps->listen_line) ? ps->listen_line[i] : 0;
	config_perr(ps, "'listen = %s:%u http' is clear text on a "
	    "non-loopback address: tokens and passwords would cross the "
	    "network unencrypted; use https, a loopback address (127.0.0.1 "
	    "or ::1) behind a TLS proxy, or set http_insecure = yes",
	    l->host, (unsigned)l->port);
}

/* The rules across keys, each error at the line of the key set last. */
static void
check_across(struct config *c, struct pstate *ps)
{
	size_t i, j;

	if (c->retry_min > c->retry_max) {
		ps->line = seen_line(ps, "retry_min", "retry_max");
		config_perr(ps, "retry_min (%llus) is larger than retry_max "
		    "(%llus)", (unsigned long long)c->retry_min,
		    (unsigned long long)c->retry_max);
	}
	if (c->relay_max_message_size > c->max_message_size) {
		ps->line = seen_line(ps, "relay_max_message_size",
		    "max_message_size");
		config_perr(ps, "relay_max_message_size is larger than "
		    "max_message_size");
	}
	for (i = 0; i < c->nlisten; i++) {
		for (j = 0; j < i; j++) {
			if (!same_listen(&c->listen[i], &c->listen[j]))
				continue;
			ps->line = i < nitems(ps->listen_line) ?
			    ps->listen_line[i] : 0;
			config_perr(ps, "a second 'listen' for %s port %u "
			    "(first at line %u)", c->listen[i].host,
			    (unsigned)c->listen[i].port,
			    j < nitems(ps->listen_line) ?
			    ps->listen_line[j] : 0);
		}
		check_http(c, ps, i);
	}
}

/* cfg->submission_ports: each port of a submission listener once, in
   the order written. */
static void
derive_submission_ports(struct config *c)
{
	uint16_t ports[4];
	size_t i, j, n = 0, more = 0;
	struct buf b;

	for (i = 0; i < c->nlisten; i++) {
		if (c->listen[i].role != ROLE_SUBMISSION)
			continue;
		for (j = 0; j < n && ports[j] != c->listen[i].port; j++)
			;
		if (j < n)
			continue;
		if (n < nitems(ports))
			ports[n++] = c->listen[i].port;
		else
			more++;
	}
	buf_init(&b, sizeof(c->submission_ports));
	if (n == 0)
		(void)buf_printf(&b, "the submission port");
	else
		(void)buf_printf(&b, "port%s %u", n > 1 ? "s" : "",
		    (unsigned)ports[0]);
	for (i = 1; i < n; i++)
		(void)buf_printf(&b, "%s%u", i + 1 == n && more == 0 ?
		    " or " : ", ", (unsigned)ports[i]);
	if (more > 0)
		(void)buf_printf(&b, " and others");
	(void)str_copy(c->submission_ports, buf_cstr(&b),
	    sizeof(c->submission_ports));
	buf_free(&b);
}

/* The defaults that depend on other keys, then the checks across keys. */
static void
derive(struct config *c, struct pstate *ps)
{
	size_t i;

	if (*c->mail_dir == '\0') {
		free(c->mail_dir);
		c->mail_dir = join_path(c->data_dir, "mail");
	}
	if (*c->tls_cert == '\0') {
		free(c->tls_cert);
		c->tls_cert = join_path(c->data_dir, "tls/cert.pem");
	}
	if (*c->tls_key == '\0') {
		free(c->tls_key);
		c->tls_key = join_path(c->data_dir, "tls/key.pem");
	}
	if (*c->hostname == '\0')
		derive_hostname(c);
	if (*c->srs_domain == '\0') {
		free(c->srs_domain);
		c->srs_domain = xstrdup(c->hostname);
	}
	if (c->nlisten == 0) {
		ps->line = 0;
		for (i = 0; i < nitems(default_listen); i++)
			(void)config_parse_listen(c, ps, default_listen[i]);
	}
	config_milter_derive(c);
	derive_submission_ports(c);
	check_across(c, ps);
	config_webhook_check(c, ps);
}

struct config *
config_parse(const char *name, const char *text, struct strlist *errors)
{
	struct config *c = xcalloc(1, sizeof(*c));
	struct pstate ps;
	unsigned seen[nitems(params)];
	size_t i, before = errors->n;
	const char *p, *nl;

	memset(&ps, 0, sizeof(ps));
	memset(seen, 0, sizeof(seen));
	ps.seen = seen;
	ps.file = name;
	ps.errors = errors;
	c->refs = 1;
	c->path = xstrdup(name);
	for (i = 0; i < nitems(params); i++)
		if (params[i].def != NULL &&
		    set_value(c, &ps, &params[i], params[i].def) == -1)
			PANIC("bad default for %s", params[i].name);
	for (p = text; *p != '\0'; p = nl + 1) {
		char line[4096];
		size_t n;

		ps.line++;
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (memchr(p, '\0', n) != NULL ||
		    str_ncopy(line, p, n, sizeof(line)) == -1) {
			config_perr(&ps, "line too long (at most %zu "
			    "characters)", sizeof(line) - 1);
		} else {
			strip_comment(line);
			parse_line(c, &ps, line);
		}
		if (*nl == '\0')
			break;
	}
	derive(c, &ps);
	if (errors->n > before) {
		config_free(&c);
		return NULL;
	}
	return c;
}

/* Parses what was read from PATH into B; R is the read's result. */
static struct config *
load_buf(const char *path, struct buf *b, int r, struct strlist *errors)
{
	struct config *c;
	struct buf e;

	buf_init(&e, 1024);
	if (r == -1)
		(void)buf_printf(&e, "%s: cannot read: %s", path,
		    errno == EFBIG ? "file too large" : strerror(errno));
	else if (memchr(b->data != NULL ? b->data : "", '\0', b->len) != NULL)
		(void)buf_printf(&e, "%s: contains a NUL byte (not a text "
		    "file?)", path);
	if (e.len > 0) {
		strlist_add(errors, buf_cstr(&e));
		buf_free(&e);
		buf_free(b);
		return NULL;
	}
	buf_free(&e);
	c = config_parse(path, buf_cstr(b), errors);
	buf_free(b);
	return c;
}

struct config *
config_load(const char *path, struct strlist *errors)
{
	struct buf b;
	int r;

	buf_init(&b, CONFIG_FILE_MAX);
	r = fs_read_file(path, &b);
	return load_buf(path, &b, r, errors);
}

struct config *
config_load_fd(int fd, const char *path, struct strlist *errors)
{
	struct buf b;
	int r;

	buf_init(&b, CONFIG_FILE_MAX);
	r = fs_read_fd(fd, &b);
	return load_buf(path, &b, r, errors);
}

void
config_free(struct config **cp)
{
	struct config *c = *cp;
	size_t i;

	if (c == NULL)
		return;
	*cp = NULL;
	for (i = 0; i < nitems(params); i++)
		config_types[params[i].type].release(c, &params[i]);
	free(c->path);
	free(c);
}

const struct config *
config_ref(const struct config *c)
{
	/* The count is the one field a holder of a const pointer changes. */
	struct config *m = (struct config *)(uintptr_t)c;

	if (m->refs == UINT_MAX)
		PANIC("configuration reference count overflow");
	m->refs++;
	return c;
}

void
config_unref(const struct config **cp)
{
	struct config *c = (struct config *)(uintptr_t)*cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->refs == 0)
		PANIC("configuration unreferenced more than referenced");
	if (--c->refs == 0)
		config_free(&c);
}

/* The keys a reload cannot change: what the daemon opened, created or
   became at start-up (the data directory and what lives there, the
   stores, the resolver, the user it runs as, where it logs, the login
   throttle and cache, the outbound TLS context). */
static const char *const restart_keys[] = {
	"data_dir", "mail_dir", "user", "log", "store", "relay_store",
	"dns_servers", "auth_cache_ttl", "auth_max_failures",
	"tls_verify_peer", "tls_ca_file", "sandbox",
};

bool
config_key_reloads(const char *key)
{
	size_t i;

	for (i = 0; i < nitems(restart_keys); i++)
		if (strcmp(restart_keys[i], key) == 0)
			return false;
	return true;
}

/* P's value in C as text, for the note (URIs masked). */
static void
restart_value(const struct config *c, const struct param *p, char *out,
    size_t outsz)
{
	const void *f = (const char *)c + p->off;

	switch (p->type) {
	case P_DURATION:
	case P_UINT:
		config_fmt_number(p, *(const uint64_t *)f, out, outsz);
		break;
	case P_BOOL:
		(void)str_copy(out, *(const bool *)f ? "yes" : "no", outsz);
		break;
	case P_ENUM:
		(void)str_copy(out, p->names[*(const int *)f], outsz);
		break;
	default:
		config_uri_masked(*(char *const *)f, out, outsz);
		break;
	}
}

static bool
restart_same(const struct config *x, const struct config *y,
    const struct param *p)
{
	const void *a = (const char *)x + p->off, *b = (const char *)y + p->off;

	switch (p->type) {
	case P_DURATION:
	case P_UINT:
		return *(const uint64_t *)a == *(const uint64_t *)b;
	case P_BOOL:
		return *(const bool *)a == *(const bool *)b;
	case P_ENUM:
		return *(const int *)a == *(const int *)b;
	default:
		return strcmp(*(char *const *)a, *(char *const *)b) == 0;
	}
}

/* Copies P's value from OLD into NEW. */
static void
restart_copy(struct config *new, const struct config *old,
    const struct param *p)
{
	void *to = (char *)new + p->off;
	const void *from = (const char *)old + p->off;

	switch (p->type) {
	case P_DURATION:
	case P_UINT:
		*(uint64_t *)to = *(const uint64_t *)from;
		break;
	case P_BOOL:
		*(bool *)to = *(const bool *)from;
		break;
	case P_ENUM:
		*(int *)to = *(const int *)from;
		break;
	default:
		free(*(char **)to);
		*(char **)to = xstrdup(*(char *const *)from);
		break;
	}
}

size_t
config_keep_restart_keys(struct config *new, const struct config *old,
    struct strlist *notes)
{
	char a[512], b[512], line[1200];
	const struct param *p;
	size_t i, n = 0;

	for (i = 0; i < nitems(restart_keys); i++) {
		p = find_param(restart_keys[i]);
		if (p == NULL)
			PANIC("restart key %s is not a key", restart_keys[i]);
		if (restart_same(old, new, p))
			continue;
		restart_value(old, p, a, sizeof(a));
		restart_value(new, p, b, sizeof(b));
		(void)snprintf(line, sizeof(line), "%s: the file now says "
		    "'%s'; the running daemon keeps '%s' until it restarts",
		    p->name, b, a);
		strlist_add(notes, line);
		restart_copy(new, old, p);
		n++;
	}
	return n;
}

void
config_print(const struct config *c, FILE *f)
{
	size_t i;

	for (i = 0; i < nitems(params); i++)
		config_types[params[i].type].print(c, &params[i], f);
}

const char *
config_key_name(size_t i)
{
	return i < nitems(params) ? params[i].name : NULL;
}

const char *
config_key_default(const char *key)
{
	const struct param *p = find_param(key);

	return p != NULL ? p->def : NULL;
}

bool
config_key_range(const char *key, char *lo, size_t losz, char *hi,
    size_t hisz)
{
	const struct param *p = find_param(key);

	if (p == NULL || (p->type != P_SIZE && p->type != P_DURATION &&
	    p->type != P_UINT))
		return false;
	config_fmt_number(p, p->min, lo, losz);
	config_fmt_number(p, p->max, hi, hisz);
	return true;
}

const char *
config_default_path(const char *explicit_path)
{
	const char *env;

	if (explicit_path != NULL)
		return explicit_path;
	env = getenv("POPGATE_CONFIG");
	if (env != NULL && *env != '\0')
		return env;
	return CONFIG_DEFAULT_PATH;
}
const char *
config_rel(const struct config *c, const char *path)
{
	size_t n = strlen(c->data_dir);

	if (strcmp(path, c->data_dir) == 0)
		return ".";
	if (strncmp(path, c->data_dir, n) == 0 && path[n] == '/' &&
	    path[n + 1] != '\0')
		return path + n + 1;
	return path;
}

const struct transport_cfg *
config_transport(const struct config *c, const char *domain)
{
	size_t i;

	for (i = 0; i < c->ntransport; i++)
		if (strcasecmp(c->transport[i].domain, domain) == 0)
			return &c->transport[i];
	return NULL;
}
