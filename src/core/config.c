/*
 * config.c - the popgate.conf parser: one table of typed parameters.
 *
 * Each key has a type, a default (a string parsed like the file's text,
 * so defaults go through the same checks) and a target field. Errors are
 * collected, each prefixed with FILE:LINE, and the whole load fails if
 * there is any. Defaults that depend on other keys (mail_dir, tls_*,
 * hostname) are derived after the file was read.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "core/config.h"
#include "core/addr.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/xalloc.h"
#include "util/compat.h"

enum ptype {
	P_STRING,	/* free text, may be empty */
	P_PATH,		/* absolute path, or empty for "derived" */
	P_HOSTNAME,	/* a domain name, or empty for "this host" */
	P_USER,		/* a user name, or empty */
	P_SIZE,
	P_DURATION,
	P_UINT,
	P_BOOL,
	P_ENUM,
	P_NETLIST,	/* prefixes, comma or space separated */
	P_LISTEN,	/* repeats */
	P_TRANSPORT,	/* repeats; "transport DOMAIN = HOST:PORT" */
	P_RELAYHOST,	/* "", "host", "host:port", "[host]:port" */
	P_DNS,		/* "", addresses with optional ports */
	P_STORE,	/* "sqlite", "sqlite:PATH", "postgresql://..." */
	P_RELAY_STORE,	/* "local", "redis://host:port/db" */
	P_ADDRESS,	/* a mail address, or empty */
};

struct param {
	const char		*name;
	enum ptype		 type;
	size_t			 off;
	const char		*def;
	uint64_t		 min, max;
	const char *const	*names;	/* P_ENUM */
};

static const char *const log_names[] = { "stderr", "syslog", NULL };
static const char *const sender_names[] = { "domain", "address", NULL };
static const char *const plaintext_names[] = { "no", "loopback", "yes",
	NULL };
static const char *const received_auth_names[] = { "none", "mailbox",
	"customer", NULL };
static const char *const role_names[] = { "smtp", "submission",
	"submissions", "pop3", "pop3s", NULL };

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
	{ "store", P_STORE, OFF(store), "sqlite", 0, 0, NULL },
	{ "relay_store", P_RELAY_STORE, OFF(relay_store), "local", 0, 0,
	    NULL },
	{ "dns_servers", P_DNS, OFF(dns_servers), "", 0, 0, NULL },
	{ "reverse_dns", P_BOOL, OFF(reverse_dns), "yes", 0, 0, NULL },
	{ "relayhost", P_RELAYHOST, OFF(relayhost), "", 0, 0, NULL },
	{ "transport", P_TRANSPORT, 0, NULL, 0, 0, NULL },
	{ "max_queue_lifetime", P_DURATION, OFF(max_queue_lifetime), "5d", 1,
	    60 * DAY, NULL },
	{ "retry_min", P_DURATION, OFF(retry_min), "5m", 1, 7 * DAY, NULL },
	{ "retry_max", P_DURATION, OFF(retry_max), "4h", 1, 7 * DAY, NULL },
	{ "delay_warning", P_DURATION, OFF(delay_warning), "4h", 0, 60 * DAY,
	    NULL },
	{ "postmaster", P_ADDRESS, OFF(postmaster), "", 0, 0, NULL },
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
	{ "auth_failure_delay", P_DURATION, OFF(auth_failure_delay), "1s", 0,
	    60, NULL },
	{ "auth_max_failures", P_UINT, OFF(auth_max_failures), "10", 1, 10000,
	    NULL },
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
	{ "tls_verify_peer", P_BOOL, OFF(tls_verify_peer), "no", 0, 0, NULL },
	{ "tls_ca_file", P_PATH, OFF(tls_ca_file), "", 0, 0, NULL },
	{ "debug", P_BOOL, OFF(debug), "no", 0, 0, NULL },
};

/* Parse state: where we are and what went wrong. */
struct pstate {
	const char	*file;
	unsigned	 line;
	struct strlist	*errors;
	unsigned	 seen[nitems(params)];	/* line of first setting */
	unsigned	 listen_line[64];	/* of the first listen lines */
};

static void PRINTFLIKE(2, 3)
perr(struct pstate *ps, const char *fmt, ...)
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

static char **
str_field(struct config *c, const struct param *p)
{
	return (char **)(void *)((char *)c + p->off);
}

static uint64_t *
u64_field(struct config *c, const struct param *p)
{
	return (uint64_t *)(void *)((char *)c + p->off);
}

static void
set_str(struct config *c, const struct param *p, const char *v)
{
	char **f = str_field(c, p);

	free(*f);
	*f = xstrdup(v);
}

/* Splits V on commas and blanks, calling FN for each item. */
static int
for_each_item(const char *v, int (*fn)(const char *, void *), void *arg)
{
	char item[512];
	size_t n;

	while (*v != '\0') {
		while (*v == ',' || *v == ' ' || *v == '\t')
			v++;
		n = strcspn(v, ", \t");
		if (n == 0)
			break;
		if (str_ncopy(item, v, n, sizeof(item)) == -1 ||
		    fn(item, arg) == -1)
			return -1;
		v += n;
	}
	return 0;
}

static int
add_prefix(const char *item, void *arg)
{
	struct netprefix p;

	if (net_prefix_parse(item, false, &p) == -1)
		return -1;
	netlist_add(arg, &p);
	return 0;
}

static int
check_dns_item(const char *item, void *arg)
{
	struct netaddr a;
	char host[NET_ADDRSTRLEN];
	uint16_t port;

	(void)arg;
	if (net_addr_parse(item, &a) == 0)
		return 0;
	if (net_hostport_parse(item, host, sizeof(host), &port) == 0 &&
	    net_addr_parse(host, &a) == 0)
		return 0;
	return -1;
}

static int
parse_enum(const char *const *names, const char *v)
{
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], v) == 0)
			return i;
	return -1;
}

static void
enum_expected(const char *const *names, struct buf *b)
{
	int i;

	for (i = 0; names[i] != NULL; i++)
		(void)buf_printf(b, "%s%s", i == 0 ? "" :
		    names[i + 1] == NULL ? " or " : ", ", names[i]);
}

/* A destination host: an IP address or a domain name. */
static bool
good_host(const char *h)
{
	struct netaddr a;
	const char *err;

	return net_addr_parse(h, &a) == 0 ||
	    addr_domain_check(h, strlen(h), 0, &err) == 0;
}

/* "HOST:PORT ROLE [gate=connect|rcpt]" */
static int
parse_listen(struct config *c, struct pstate *ps, const char *v)
{
	struct listen_cfg l;
	char addr[NET_ADDRSTRLEN + 16], role[32], opt[64];
	struct netaddr na;
	int r, n;

	memset(&l, 0, sizeof(l));
	opt[0] = '\0';
	n = sscanf(v, "%79s %31s %63s", addr, role, opt);
	if (n < 2) {
		perr(ps, "bad value for 'listen': '%s' (expected ADDRESS:PORT "
		    "ROLE [gate=connect], e.g. 0.0.0.0:25 smtp)", v);
		return -1;
	}
	if (net_hostport_parse(addr, l.host, sizeof(l.host), &l.port) == -1 ||
	    net_addr_parse(l.host, &na) == -1) {
		perr(ps, "bad address in 'listen': '%s' (expected IP:PORT or "
		    "[IPv6]:PORT)", addr);
		return -1;
	}
	r = parse_enum(role_names, role);
	if (r < 0) {
		perr(ps, "bad role in 'listen': '%s' (expected smtp, "
		    "submission, submissions, pop3 or pop3s)", role);
		return -1;
	}
	l.role = (enum listen_role)r;
	if (n == 3) {
		if (strcmp(opt, "gate=connect") == 0)
			l.gate_connect = true;
		else if (strcmp(opt, "gate=rcpt") != 0) {
			perr(ps, "bad option in 'listen': '%s' (expected "
			    "gate=connect or gate=rcpt)", opt);
			return -1;
		}
		if (l.gate_connect && l.role != ROLE_SMTP &&
		    l.role != ROLE_SUBMISSION && l.role != ROLE_SUBMISSIONS) {
			perr(ps, "gate=connect is only for SMTP listeners");
			return -1;
		}
		{
			char junk[8];

			if (sscanf(v, "%*s %*s %*s %7s", junk) == 1) {
				perr(ps, "too many fields in 'listen': '%s'",
				    v);
				return -1;
			}
		}
	}
	c->listen = xreallocarray(c->listen, c->nlisten + 1,
	    sizeof(*c->listen));
	if (c->nlisten < nitems(ps->listen_line))
		ps->listen_line[c->nlisten] = ps->line;
	c->listen[c->nlisten++] = l;
	return 0;
}

/* "transport DOMAIN = HOST:PORT" */
static int
parse_transport(struct config *c, struct pstate *ps, const char *domain,
    const char *v)
{
	struct transport_cfg t;
	const char *err;
	size_t i;

	memset(&t, 0, sizeof(t));
	if (domain == NULL || *domain == '\0') {
		perr(ps, "'transport' needs a domain: transport DOMAIN = "
		    "HOST:PORT");
		return -1;
	}
	if (addr_domain_check(domain, strlen(domain), 0, &err) == -1 ||
	    str_copy(t.domain, domain, sizeof(t.domain)) == -1) {
		perr(ps, "bad domain in 'transport': '%s' (%s)", domain, err);
		return -1;
	}
	str_lower(t.domain);
	if (net_hostport_parse(v, t.host, sizeof(t.host), &t.port) == -1 ||
	    !good_host(t.host)) {
		perr(ps, "bad value for 'transport %s': '%s' (expected "
		    "HOST:PORT)", domain, v);
		return -1;
	}
	for (i = 0; i < c->ntransport; i++) {
		if (strcmp(c->transport[i].domain, t.domain) == 0) {
			perr(ps, "duplicate 'transport %s'", t.domain);
			return -1;
		}
	}
	c->transport = xreallocarray(c->transport, c->ntransport + 1,
	    sizeof(*c->transport));
	c->transport[c->ntransport++] = t;
	return 0;
}

static int
check_relayhost(const char *v)
{
	char host[256];
	uint16_t port;
	const char *err;
	size_t n = strlen(v);

	if (n == 0)
		return 0;
	(void)err;
	if (net_hostport_parse(v, host, sizeof(host), &port) == 0)
		return good_host(host) ? 0 : -1;
	if (v[0] == '[' && v[n - 1] == ']' &&
	    str_ncopy(host, v + 1, n - 2, sizeof(host)) == 0)
		v = host;
	else if (strchr(v, ':') != NULL)
		return -1;
	return good_host(v) ? 0 : -1;
}

int
config_redis_uri(const char *uri, struct redis_uri *out,
    const char **error_r)
{
	const char *p, *at, *end, *slash, *colon;
	unsigned long v;
	char *ep;
	size_t n;

	memset(out, 0, sizeof(*out));
	out->port = 6379;
	if (strncmp(uri, "redis://", 8) != 0) {
		*error_r = "does not start with redis://";
		return -1;
	}
	p = uri + 8;
	slash = strchr(p, '/');
	end = slash != NULL ? slash : p + strlen(p);
	at = memrchr(p, '@', (size_t)(end - p));
	if (at != NULL) {
		colon = memchr(p, ':', (size_t)(at - p));
		if (colon == NULL) {
			*error_r = "expected :PASSWORD@ or USER:PASSWORD@ "
			    "before the host";
			return -1;
		}
		if (str_ncopy(out->user, p, (size_t)(colon - p),
		    sizeof(out->user)) == -1 ||
		    str_ncopy(out->password, colon + 1,
		    (size_t)(at - colon - 1), sizeof(out->password)) == -1) {
			*error_r = "user name or password too long";
			return -1;
		}
		p = at + 1;
	}
	n = (size_t)(end - p);
	if (*p == '[') {
		const char *rb = memchr(p, ']', n);

		if (rb == NULL || str_ncopy(out->host, p + 1,
		    (size_t)(rb - p - 1), sizeof(out->host)) == -1) {
			*error_r = "bad [IPv6] host";
			return -1;
		}
		colon = rb + 1 < end ? rb + 1 : NULL;
		if (colon != NULL && *colon != ':') {
			*error_r = "expected :PORT after the ]";
			return -1;
		}
	} else {
		colon = memchr(p, ':', n);
		if (str_ncopy(out->host, p, (size_t)((colon != NULL ? colon :
		    end) - p), sizeof(out->host)) == -1) {
			*error_r = "host name too long";
			return -1;
		}
	}
	if (out->host[0] == '\0' || !good_host(out->host)) {
		*error_r = "expected a host name or an IP address";
		return -1;
	}
	if (colon != NULL) {
		errno = 0;
		v = strtoul(colon + 1, &ep, 10);
		if (ep == colon + 1 || ep != end || v == 0 || v > 65535 ||
		    colon[1] == '-' || colon[1] == '+' || errno != 0) {
			*error_r = "the port is not a number from 1 to 65535";
			return -1;
		}
		out->port = (uint16_t)v;
	}
	if (slash != NULL && slash[1] != '\0') {
		errno = 0;
		v = strtoul(slash + 1, &ep, 10);
		if (*ep != '\0' || !isdigit((unsigned char)slash[1]) ||
		    v > 1000000 || errno != 0) {
			*error_r = "the database after / is not a number";
			return -1;
		}
		out->db = (unsigned)v;
	}
	return 0;
}

/* libpq's port list: "5432" or "5432,5433" (one per host). */
static bool
good_ports(const char *v)
{
	unsigned long n;
	char *ep;

	for (;;) {
		if (!isdigit((unsigned char)*v))
			return false;
		n = strtoul(v, &ep, 10);
		if (n == 0 || n > 65535)
			return false;
		if (*ep == '\0')
			return true;
		if (*ep != ',')
			return false;
		v = ep + 1;
	}
}

int
config_postgresql_uri(const char *uri, const char **error_r)
{
	static _Thread_local char msg[256];
	PQconninfoOption *opts, *o;
	char *err = NULL;

	if (strncmp(uri, "postgresql://", 13) != 0 &&
	    strncmp(uri, "postgres://", 11) != 0) {
		*error_r = "does not start with postgresql://";
		return -1;
	}
	opts = PQconninfoParse(uri, &err);
	if (opts == NULL) {
		(void)snprintf(msg, sizeof(msg), "%s", err != NULL ? err :
		    "out of memory");
		msg[strcspn(msg, "\n")] = '\0';
		PQfreemem(err);
		*error_r = msg;
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "port") == 0 && o->val != NULL &&
		    !good_ports(o->val)) {
			(void)snprintf(msg, sizeof(msg), "bad port \"%.64s\"",
			    o->val);
			PQconninfoFree(opts);
			*error_r = msg;
			return -1;
		}
	PQconninfoFree(opts);
	return 0;
}

void
config_uri_masked(const char *uri, char *out, size_t outsz)
{
	const char *scheme = strstr(uri, "://"), *at, *colon, *end;

	if (scheme == NULL) {
		(void)str_copy(out, uri, outsz);
		return;
	}
	scheme += 3;
	end = scheme + strcspn(scheme, "/?");
	at = memrchr(scheme, '@', (size_t)(end - scheme));
	colon = at != NULL ? memchr(scheme, ':', (size_t)(at - scheme)) : NULL;
	if (colon == NULL) {
		(void)str_copy(out, uri, outsz);
		return;
	}
	(void)snprintf(out, outsz, "%.*s:***%s", (int)(colon - uri), uri, at);
}

static int
set_value(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	struct buf exp;
	uint64_t u;
	const char *err;
	int e;

	switch (p->type) {
	case P_STRING:
		set_str(c, p, v);
		return 0;
	case P_PATH:
		if (*v != '\0' && *v != '/') {
			perr(ps, "bad value for '%s': '%s' (expected an "
			    "absolute path)", p->name, v);
			return -1;
		}
		if (strlen(v) >= PATH_MAX - 256) {
			perr(ps, "bad value for '%s': path too long",
			    p->name);
			return -1;
		}
		set_str(c, p, v);
		return 0;
	case P_HOSTNAME:
		if (*v != '\0' &&
		    addr_domain_check(v, strlen(v), 0, &err) == -1) {
			perr(ps, "bad value for '%s': '%s' (%s)", p->name, v,
			    err);
			return -1;
		}
		set_str(c, p, v);
		str_lower(*str_field(c, p));
		return 0;
	case P_USER:
		if (strspn(v, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != strlen(v) ||
		    strlen(v) > 32 || v[0] == '-') {
			perr(ps, "bad value for '%s': '%s' (expected a user "
			    "name)", p->name, v);
			return -1;
		}
		set_str(c, p, v);
		return 0;
	case P_SIZE:
		if (str_parse_size(v, &u) == -1 || u < p->min || u > p->max) {
			char lo[32], hi[32];

			str_fmt_size(lo, sizeof(lo), p->min);
			str_fmt_size(hi, sizeof(hi), p->max);
			perr(ps, "bad value for '%s': '%s' (expected a size "
			    "from %s to %s, like 512K or 10M)", p->name, v,
			    lo, hi);
			return -1;
		}
		*u64_field(c, p) = u;
		return 0;
	case P_DURATION:
		if (str_parse_duration(v, &u) == -1 || u < p->min ||
		    u > p->max) {
			char lo[32], hi[32];

			str_fmt_duration(lo, sizeof(lo), p->min);
			str_fmt_duration(hi, sizeof(hi), p->max);
			perr(ps, "bad value for '%s': '%s' (expected a "
			    "duration from %s to %s, like 30s, 90m, 4h or "
			    "5d)", p->name, v, lo, hi);
			return -1;
		}
		*u64_field(c, p) = u;
		return 0;
	case P_UINT:
		if (str_to_uint(v, p->min, p->max, &u) == -1) {
			perr(ps, "bad value for '%s': '%s' (expected a whole "
			    "number from %llu to %llu)", p->name, v,
			    (unsigned long long)p->min,
			    (unsigned long long)p->max);
			return -1;
		}
		*u64_field(c, p) = u;
		return 0;
	case P_BOOL:
		if (strcmp(v, "yes") == 0 || strcmp(v, "no") == 0) {
			*(bool *)(void *)((char *)c + p->off) =
			    strcmp(v, "yes") == 0;
			return 0;
		}
		perr(ps, "bad value for '%s': '%s' (expected yes or no)",
		    p->name, v);
		return -1;
	case P_ENUM:
		e = parse_enum(p->names, v);
		if (e >= 0) {
			*(int *)(void *)((char *)c + p->off) = e;
			return 0;
		}
		buf_init(&exp, 256);
		enum_expected(p->names, &exp);
		perr(ps, "bad value for '%s': '%s' (expected %s)", p->name, v,
		    buf_cstr(&exp));
		buf_free(&exp);
		return -1;
	case P_NETLIST: {
		struct netlist *l = (void *)((char *)c + p->off);

		netlist_free(l);
		if (for_each_item(v, add_prefix, l) == -1) {
			perr(ps, "bad value for '%s': '%s' (expected IP "
			    "addresses or networks like 192.0.2.0/24, "
			    "2001:db8::/32, separated by commas)", p->name,
			    v);
			return -1;
		}
		return 0;
	}
	case P_DNS:
		if (for_each_item(v, check_dns_item, NULL) == -1) {
			perr(ps, "bad value for '%s': '%s' (expected IP "
			    "addresses with optional ports, like 127.0.0.1, "
			    "127.0.0.1:5353 or [::1]:53)", p->name, v);
			return -1;
		}
		set_str(c, p, v);
		return 0;
	case P_RELAYHOST:
		if (check_relayhost(v) == -1) {
			perr(ps, "bad value for '%s': '%s' (expected HOST, "
			    "HOST:PORT or [HOST]:PORT)", p->name, v);
			return -1;
		}
		set_str(c, p, v);
		return 0;
	case P_STORE:
		if (strncmp(v, "postgres", 8) == 0) {
			if (config_postgresql_uri(v, &err) == -1) {
				perr(ps, "bad value for '%s': %s (expected "
				    "postgresql://[USER[:PASSWORD]@]HOST"
				    "[:PORT]/DBNAME[?OPTIONS])", p->name, err);
				return -1;
			}
			set_str(c, p, v);
			return 0;
		}
		if (strcmp(v, "sqlite") == 0 ||
		    (strncmp(v, "sqlite:", 7) == 0 && v[7] == '/')) {
			set_str(c, p, v);
			return 0;
		}
		perr(ps, "bad value for '%s': '%s' (expected sqlite, "
		    "sqlite:/PATH or postgresql://...)", p->name, v);
		return -1;
	case P_RELAY_STORE: {
		struct redis_uri ru;

		if (strcmp(v, "local") == 0) {
			set_str(c, p, v);
			return 0;
		}
		if (strncmp(v, "redis:", 6) == 0) {
			if (config_redis_uri(v, &ru, &err) == -1) {
				perr(ps, "bad value for '%s': '%s': %s "
				    "(expected redis://HOST:PORT/DB)", p->name,
				    v, err);
				return -1;
			}
			set_str(c, p, v);
			return 0;
		}
		perr(ps, "bad value for '%s': '%s' (expected local or "
		    "redis://HOST:PORT/DB)", p->name, v);
		return -1;
	}
	case P_ADDRESS: {
		struct mailaddr a;

		if (*v != '\0' &&
		    addr_parse(v, strlen(v), 0, &a, &err) == -1) {
			perr(ps, "bad value for '%s': '%s' (%s)", p->name, v,
			    err);
			return -1;
		}
		set_str(c, p, v);
		str_lower(*str_field(c, p));
		return 0;
	}
	case P_LISTEN:
		return parse_listen(c, ps, v);
	case P_TRANSPORT:
		break;
	}
	return -1;
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
		perr(ps, "unknown key '%s' (did you mean '%s'?)", key, best);
	else
		perr(ps, "unknown key '%s'", key);
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
		perr(ps, "expected 'key = value', got '%s'", line);
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
		perr(ps, "missing key before '='");
		return;
	}
	p = find_param(key);
	if (p == NULL) {
		unknown_key(ps, key);
		return;
	}
	if (p->type == P_TRANSPORT) {
		(void)parse_transport(c, ps, arg, val);
		return;
	}
	if (*arg != '\0') {
		perr(ps, "unexpected '%s' after key '%s'", arg, key);
		return;
	}
	idx = (size_t)(p - params);
	if (p->type != P_LISTEN && ps->seen[idx] != 0) {
		perr(ps, "duplicate key '%s' (first set at line %u)", key,
		    ps->seen[idx]);
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
	if (*c->hostname == '\0') {
		char h[256];
		const char *err;

		if (gethostname(h, sizeof(h)) == 0 &&
		    memchr(h, '\0', sizeof(h)) != NULL &&
		    addr_domain_check(h, strlen(h), 0, &err) == 0) {
			free(c->hostname);
			c->hostname = xstrdup(h);
			str_lower(c->hostname);
		} else {
			free(c->hostname);
			c->hostname = xstrdup("localhost");
		}
	}
	if (c->nlisten == 0) {
		ps->line = 0;
		for (i = 0; i < nitems(default_listen); i++)
			(void)parse_listen(c, ps, default_listen[i]);
	}
	if (c->retry_min > c->retry_max) {
		ps->line = seen_line(ps, "retry_min", "retry_max");
		perr(ps, "retry_min (%llus) is larger than retry_max (%llus)",
		    (unsigned long long)c->retry_min,
		    (unsigned long long)c->retry_max);
	}
	if (c->relay_max_message_size > c->max_message_size) {
		ps->line = seen_line(ps, "relay_max_message_size",
		    "max_message_size");
		perr(ps, "relay_max_message_size is larger than "
		    "max_message_size");
	}
	for (i = 0; i < c->nlisten; i++) {
		size_t j;

		for (j = 0; j < i; j++) {
			if (!same_listen(&c->listen[i], &c->listen[j]))
				continue;
			ps->line = i < nitems(ps->listen_line) ?
			    ps->listen_line[i] : 0;
			perr(ps, "a second 'listen' for %s port %u (first at "
			    "line %u)", c->listen[i].host,
			    (unsigned)c->listen[i].port,
			    j < nitems(ps->listen_line) ?
			    ps->listen_line[j] : 0);
		}
	}
}

struct config *
config_parse(const char *name, const char *text, struct strlist *errors)
{
	struct config *c = xcalloc(1, sizeof(*c));
	struct pstate ps;
	size_t i, before = errors->n;
	const char *p, *nl;

	memset(&ps, 0, sizeof(ps));
	ps.file = name;
	ps.errors = errors;
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
			perr(&ps, "line too long (at most %zu characters)",
			    sizeof(line) - 1);
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

struct config *
config_load(const char *path, struct strlist *errors)
{
	struct buf b;
	struct config *c;

	buf_init(&b, 1024 * 1024);
	if (fs_read_file(path, &b) == -1) {
		struct buf e;

		buf_init(&e, 1024);
		(void)buf_printf(&e, "%s: cannot read: %s", path,
		    errno == EFBIG ? "file too large" : strerror(errno));
		strlist_add(errors, buf_cstr(&e));
		buf_free(&e);
		buf_free(&b);
		return NULL;
	}
	if (memchr(b.data != NULL ? b.data : "", '\0', b.len) != NULL) {
		struct buf e;

		buf_init(&e, 1024);
		(void)buf_printf(&e, "%s: contains a NUL byte (not a text "
		    "file?)", path);
		strlist_add(errors, buf_cstr(&e));
		buf_free(&e);
		buf_free(&b);
		return NULL;
	}
	c = config_parse(path, buf_cstr(&b), errors);
	buf_free(&b);
	return c;
}

void
config_free(struct config **cp)
{
	struct config *c = *cp;
	size_t i;

	if (c == NULL)
		return;
	*cp = NULL;
	for (i = 0; i < nitems(params); i++) {
		switch (params[i].type) {
		case P_STRING: case P_PATH: case P_HOSTNAME: case P_USER:
		case P_RELAYHOST: case P_DNS: case P_STORE: case P_RELAY_STORE:
		case P_ADDRESS:
			free(*str_field(c, &params[i]));
			break;
		case P_NETLIST:
			netlist_free((void *)((char *)c + params[i].off));
			break;
		default:
			break;
		}
	}
	free(c->listen);
	free(c->transport);
	free(c->path);
	free(c);
}

static void
print_param(const struct config *cc, const struct param *p, FILE *f)
{
	struct config *c = (struct config *)(uintptr_t)cc;
	char tmp[64];
	size_t i;

	switch (p->type) {
	case P_STRING: case P_PATH: case P_HOSTNAME: case P_USER:
	case P_RELAYHOST: case P_DNS: case P_ADDRESS:
		fprintf(f, "%s = %s\n", p->name, *str_field(c, p));
		break;
	case P_STORE: case P_RELAY_STORE: {
		/* Like doveconf: passwords are not printed. */
		char uri[1024];

		config_uri_masked(*str_field(c, p), uri, sizeof(uri));
		fprintf(f, "%s = %s\n", p->name, uri);
		break;
	}
	case P_SIZE:
		str_fmt_size(tmp, sizeof(tmp), *u64_field(c, p));
		fprintf(f, "%s = %s\n", p->name, tmp);
		break;
	case P_DURATION:
		str_fmt_duration(tmp, sizeof(tmp), *u64_field(c, p));
		fprintf(f, "%s = %s\n", p->name,
		    *u64_field(c, p) == 0 ? "0" : tmp);
		break;
	case P_UINT:
		fprintf(f, "%s = %llu\n", p->name,
		    (unsigned long long)*u64_field(c, p));
		break;
	case P_BOOL:
		fprintf(f, "%s = %s\n", p->name,
		    *(bool *)(void *)((char *)c + p->off) ? "yes" : "no");
		break;
	case P_ENUM:
		fprintf(f, "%s = %s\n", p->name,
		    p->names[*(int *)(void *)((char *)c + p->off)]);
		break;
	case P_NETLIST: {
		const struct netlist *l = (void *)((char *)c + p->off);

		fprintf(f, "%s =", p->name);
		for (i = 0; i < l->n; i++) {
			char pfx[NET_ADDRSTRLEN];

			net_prefix_format(&l->v[i], pfx, sizeof(pfx));
			fprintf(f, "%s%s", i == 0 ? " " : ", ", pfx);
		}
		fputc('\n', f);
		break;
	}
	case P_LISTEN:
		for (i = 0; i < c->nlisten; i++) {
			const struct listen_cfg *l = &c->listen[i];
			bool v6 = strchr(l->host, ':') != NULL;

			fprintf(f, "listen = %s%s%s:%u %s%s\n", v6 ? "[" : "",
			    l->host, v6 ? "]" : "", (unsigned)l->port,
			    role_names[l->role],
			    l->gate_connect ? " gate=connect" : "");
		}
		break;
	case P_TRANSPORT:
		for (i = 0; i < c->ntransport; i++) {
			const struct transport_cfg *t = &c->transport[i];
			bool v6 = strchr(t->host, ':') != NULL;

			fprintf(f, "transport %s = %s%s%s:%u\n", t->domain,
			    v6 ? "[" : "", t->host, v6 ? "]" : "",
			    (unsigned)t->port);
		}
		break;
	}
}

void
config_print(const struct config *c, FILE *f)
{
	size_t i;

	for (i = 0; i < nitems(params); i++)
		print_param(c, &params[i], f);
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
config_role_name(enum listen_role r)
{
	return role_names[r];
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
