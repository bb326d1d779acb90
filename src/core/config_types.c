/*
 * config_types.c - the value types of popgate.conf: for each, a parser
 * (the syntax and range checks), a release and a printer, tied to
 * enum ptype by config_types[]; and the syntaxes behind them (listen,
 * transport, relayhost, DNS servers, the redis:// and postgresql://
 * URIs), some of which are public (config_redis_uri,
 * config_postgresql_uri, config_uri_masked in core/config.h).
 *
 * config.c walks its params[] and calls these through config_types[];
 * nothing here knows a key's name except from its struct param.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "core/config_int.h"
#include "core/addr.h"
#include "util/buf.h"
#include "util/xalloc.h"
#include "util/compat.h"

static const char *const role_names[] = { "smtp", "submission",
	"submissions", "pop3", "pop3s", "imap", "imaps", "http", "https", NULL };

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

static void *
field(struct config *c, const struct param *p)
{
	return (char *)c + p->off;
}

static const void *
cfield(const struct config *c, const struct param *p)
{
	return (const char *)c + p->off;
}

static char *const *
cstr_field(const struct config *c, const struct param *p)
{
	return cfield(c, p);
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
int
config_parse_listen(struct config *c, struct pstate *ps, const char *v)
{
	struct listen_cfg l;
	char addr[NET_ADDRSTRLEN + 16], role[32], opt[64];
	struct netaddr na;
	int r, n;

	memset(&l, 0, sizeof(l));
	opt[0] = '\0';
	n = sscanf(v, "%79s %31s %63s", addr, role, opt);
	if (n < 2) {
		config_perr(ps, "bad value for 'listen': '%s' (expected "
		    "ADDRESS:PORT ROLE [gate=connect], e.g. 0.0.0.0:25 smtp)",
		    v);
		return -1;
	}
	if (net_hostport_parse(addr, l.host, sizeof(l.host), &l.port) == -1 ||
	    net_addr_parse(l.host, &na) == -1) {
		config_perr(ps, "bad address in 'listen': '%s' (expected "
		    "IP:PORT or [IPv6]:PORT)", addr);
		return -1;
	}
	r = parse_enum(role_names, role);
	if (r < 0) {
		config_perr(ps, "bad role in 'listen': '%s' (expected smtp, "
		    "submission, submissions, pop3, pop3s, imap, imaps, http "
		    "or https)",
		    role);
		return -1;
	}
	l.role = (enum listen_role)r;
	if (n == 3) {
		if (strcmp(opt, "gate=connect") == 0)
			l.gate_connect = true;
		else if (strcmp(opt, "gate=rcpt") != 0) {
			config_perr(ps, "bad option in 'listen': '%s' "
			    "(expected gate=connect or gate=rcpt)", opt);
			return -1;
		}
		if (l.gate_connect && l.role != ROLE_SMTP &&
		    l.role != ROLE_SUBMISSION && l.role != ROLE_SUBMISSIONS) {
			config_perr(ps, "gate=connect is only for SMTP "
			    "listeners");
			return -1;
		}
		{
			char junk[8];

			if (sscanf(v, "%*s %*s %*s %7s", junk) == 1) {
				config_perr(ps, "too many fields in "
				    "'listen': '%s'", v);
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
int
config_parse_transport(struct config *c, struct pstate *ps,
    const char *domain, const char *v)
{
	struct transport_cfg t;
	const char *err;
	size_t i;

	memset(&t, 0, sizeof(t));
	if (domain == NULL || *domain == '\0') {
		config_perr(ps, "'transport' needs a domain: transport "
		    "DOMAIN = HOST:PORT");
		return -1;
	}
	if (addr_domain_check(domain, strlen(domain), 0, &err) == -1 ||
	    str_copy(t.domain, domain, sizeof(t.domain)) == -1) {
		config_perr(ps, "bad domain in 'transport': '%s' (%s)", domain,
		    err);
		return -1;
	}
	str_lower(t.domain);
	if (net_hostport_parse(v, t.host, sizeof(t.host), &t.port) == -1 ||
	    !good_host(t.host)) {
		config_perr(ps, "bad value for 'transport %s': '%s' (expected "
		    "HOST:PORT)", domain, v);
		return -1;
	}
	for (i = 0; i < c->ntransport; i++) {
		if (strcmp(c->transport[i].domain, t.domain) == 0) {
			config_perr(ps, "duplicate 'transport %s'", t.domain);
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

/* "[USER]:PASSWORD" of P..AT into OUT. */
static int
redis_userinfo(const char *p, const char *at, struct redis_uri *out,
    const char **error_r)
{
	const char *colon = memchr(p, ':', (size_t)(at - p));

	if (colon == NULL) {
		*error_r = "expected :PASSWORD@ or USER:PASSWORD@ before the "
		    "host";
		return -1;
	}
	if (str_ncopy(out->user, p, (size_t)(colon - p),
	    sizeof(out->user)) == -1 ||
	    str_ncopy(out->password, colon + 1, (size_t)(at - colon - 1),
	    sizeof(out->password)) == -1) {
		*error_r = "user name or password too long";
		return -1;
	}
	return 0;
}

/* "HOST[:PORT]" or "[IPV6][:PORT]" of P..END into OUT. */
static int
redis_hostport(const char *p, const char *end, struct redis_uri *out,
    const char **error_r)
{
	const char *colon;
	size_t n = (size_t)(end - p);
	unsigned long v;
	char *ep;

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
	if (colon == NULL)
		return 0;
	errno = 0;
	v = strtoul(colon + 1, &ep, 10);
	if (ep == colon + 1 || ep != end || v == 0 || v > 65535 ||
	    colon[1] == '-' || colon[1] == '+' || errno != 0) {
		*error_r = "the port is not a number from 1 to 65535";
		return -1;
	}
	out->port = (uint16_t)v;
	return 0;
}

int
config_redis_uri(const char *uri, struct redis_uri *out,
    const char **error_r)
{
	const char *p, *at, *end, *slash;
	unsigned long v;
	char *ep;

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
		if (redis_userinfo(p, at, out, error_r) == -1)
			return -1;
		p = at + 1;
	}
	if (redis_hostport(p, end, out, error_r) == -1)
		return -1;
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
config_postgresql_uri(const char *uri, char *err, size_t errsz)
{
	PQconninfoOption *opts, *o;
	char *pqerr = NULL;

	if (strncmp(uri, "postgresql://", 13) != 0 &&
	    strncmp(uri, "postgres://", 11) != 0) {
		(void)snprintf(err, errsz, "does not start with postgresql://");
		return -1;
	}
	opts = PQconninfoParse(uri, &pqerr);
	if (opts == NULL) {
		(void)snprintf(err, errsz, "%s", pqerr != NULL ? pqerr :
		    "out of memory");
		err[strcspn(err, "\n")] = '\0';
		PQfreemem(pqerr);
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "port") == 0 && o->val != NULL &&
		    !good_ports(o->val)) {
			(void)snprintf(err, errsz, "bad port \"%.64s\"",
			    o->val);
			PQconninfoFree(opts);
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

/*
 * The value types. Each has a parser (checks V and stores it in P's
 * field of C, or reports with config_perr and returns -1), a release (frees
 * what the parser allocated) and a printer (the value as the file would
 * write it). config_types[] below ties them to enum ptype, so config_parse,
 * config_free and config_print only walk params[].
 */

/* "bad value for 'KEY': 'V' (WHAT)": the common form of a refusal. */
static int
bad_value(struct pstate *ps, const struct param *p, const char *v,
    const char *what)
{
	config_perr(ps, "bad value for '%s': '%s' (%s)", p->name, v, what);
	return -1;
}

static int
parse_string(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	(void)ps;
	set_str(c, p, v);
	return 0;
}

static int
parse_path(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	if (*v != '\0' && *v != '/')
		return bad_value(ps, p, v, "expected an absolute path");
	if (strlen(v) >= PATH_MAX - 256) {
		config_perr(ps, "bad value for '%s': path too long", p->name);
		return -1;
	}
	set_str(c, p, v);
	return 0;
}

static int
parse_hostname(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	const char *err;

	if (*v != '\0' && addr_domain_check(v, strlen(v), 0, &err) == -1)
		return bad_value(ps, p, v, err);
	set_str(c, p, v);
	str_lower(*str_field(c, p));
	return 0;
}

static int
parse_user(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	if (strspn(v, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != strlen(v) ||
	    strlen(v) > 32 || v[0] == '-')
		return bad_value(ps, p, v, "expected a user name");
	set_str(c, p, v);
	return 0;
}

static int
parse_size(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	char lo[32], hi[32];
	uint64_t u;

	if (str_parse_size(v, &u) == 0 && u >= p->min && u <= p->max) {
		*u64_field(c, p) = u;
		return 0;
	}
	str_fmt_size(lo, sizeof(lo), p->min);
	str_fmt_size(hi, sizeof(hi), p->max);
	config_perr(ps, "bad value for '%s': '%s' (expected a size from %s "
	    "to %s, like 512K or 10M)", p->name, v, lo, hi);
	return -1;
}

static int
parse_duration(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	char lo[32], hi[32];
	uint64_t u;

	if (str_parse_duration(v, &u) == 0 && u >= p->min && u <= p->max) {
		*u64_field(c, p) = u;
		return 0;
	}
	str_fmt_duration(lo, sizeof(lo), p->min);
	str_fmt_duration(hi, sizeof(hi), p->max);
	config_perr(ps, "bad value for '%s': '%s' (expected a duration from "
	    "%s to %s, like 30s, 90m, 4h or 5d)", p->name, v, lo, hi);
	return -1;
}

static int
parse_uint(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	uint64_t u;

	if (str_to_uint(v, p->min, p->max, &u) == 0) {
		*u64_field(c, p) = u;
		return 0;
	}
	config_perr(ps, "bad value for '%s': '%s' (expected a whole number "
	    "from %llu to %llu)", p->name, v, (unsigned long long)p->min,
	    (unsigned long long)p->max);
	return -1;
}

static int
parse_bool(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
		return bad_value(ps, p, v, "expected yes or no");
	*(bool *)field(c, p) = strcmp(v, "yes") == 0;
	return 0;
}

static int
parse_enum_value(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	struct buf exp;
	int e = parse_enum(p->names, v);

	if (e >= 0) {
		*(int *)field(c, p) = e;
		return 0;
	}
	buf_init(&exp, 256);
	(void)buf_append_str(&exp, "expected ");
	enum_expected(p->names, &exp);
	(void)bad_value(ps, p, v, buf_cstr(&exp));
	buf_free(&exp);
	return -1;
}

static int
parse_netlist(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	struct netlist *l = field(c, p);

	netlist_free(l);
	if (for_each_item(v, add_prefix, l) == -1)
		return bad_value(ps, p, v, "expected IP addresses or networks "
		    "like 192.0.2.0/24, 2001:db8::/32, separated by commas");
	return 0;
}

static int
parse_dns(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	if (for_each_item(v, check_dns_item, NULL) == -1)
		return bad_value(ps, p, v, "expected IP addresses with "
		    "optional ports, like 127.0.0.1, 127.0.0.1:5353 or "
		    "[::1]:53");
	set_str(c, p, v);
	return 0;
}

static int
parse_relayhost(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	if (check_relayhost(v) == -1)
		return bad_value(ps, p, v, "expected HOST, HOST:PORT or "
		    "[HOST]:PORT");
	set_str(c, p, v);
	return 0;
}

static int
parse_store(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	char err[256];

	if (strncmp(v, "postgres", 8) == 0) {
		if (config_postgresql_uri(v, err, sizeof(err)) == -1) {
			config_perr(ps, "bad value for '%s': %s (expected "
			    "postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DBNAME"
			    "[?OPTIONS])", p->name, err);
			return -1;
		}
	} else if (strcmp(v, "sqlite") != 0 &&
	    (strncmp(v, "sqlite:", 7) != 0 || v[7] != '/')) {
		return bad_value(ps, p, v, "expected sqlite, sqlite:/PATH or "
		    "postgresql://...");
	}
	set_str(c, p, v);
	return 0;
}

static int
parse_relay_store(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	struct redis_uri ru;
	const char *err;

	if (strncmp(v, "redis:", 6) == 0) {
		if (config_redis_uri(v, &ru, &err) == -1) {
			config_perr(ps, "bad value for '%s': '%s': %s "
			    "(expected redis://HOST:PORT/DB)", p->name, v, err);
			return -1;
		}
	} else if (strcmp(v, "local") != 0) {
		return bad_value(ps, p, v, "expected local or "
		    "redis://HOST:PORT/DB");
	}
	set_str(c, p, v);
	return 0;
}

static int
parse_address(struct config *c, struct pstate *ps, const struct param *p,
    const char *v)
{
	struct mailaddr a;
	const char *err;

	if (*v != '\0' && addr_parse(v, strlen(v), 0, &a, &err) == -1)
		return bad_value(ps, p, v, err);
	set_str(c, p, v);
	str_lower(*str_field(c, p));
	return 0;
}

static int
parse_listen_value(struct config *c, struct pstate *ps,
    const struct param *p, const char *v)
{
	(void)p;
	return config_parse_listen(c, ps, v);
}

/* transport takes its domain from the key ("transport DOMAIN = ..."):
   parse_line calls config_parse_transport, and it has no default. */
static int
parse_transport_value(struct config *c, struct pstate *ps,
    const struct param *p, const char *v)
{
	(void)c;
	(void)v;
	PANIC("%s is parsed with its domain, line %u", p->name, ps->line);
}

static void
release_none(struct config *c, const struct param *p)
{
	(void)c;
	(void)p;
}

static void
print_none(const struct config *c, const struct param *p, FILE *f)
{
	(void)c;
	(void)p;
	(void)f;
}

static void
release_str(struct config *c, const struct param *p)
{
	free(*str_field(c, p));
}

static void
release_netlist(struct config *c, const struct param *p)
{
	netlist_free(field(c, p));
}

static void
release_listen(struct config *c, const struct param *p)
{
	(void)p;
	free(c->listen);
}

static void
release_transport(struct config *c, const struct param *p)
{
	(void)p;
	free(c->transport);
}

/* A number of P's type as the file would write it; 0 as "0". */
void
config_fmt_number(const struct param *p, uint64_t u, char *out,
    size_t outsz)
{
	if (p->type == P_SIZE)
		str_fmt_size(out, outsz, u);
	else if (p->type == P_DURATION && u != 0)
		str_fmt_duration(out, outsz, u);
	else
		(void)snprintf(out, outsz, "%llu", (unsigned long long)u);
}

static void
print_str(const struct config *c, const struct param *p, FILE *f)
{
	fprintf(f, "%s = %s\n", p->name, *cstr_field(c, p));
}

/* Like doveconf: passwords are not printed. */
static void
print_uri(const struct config *c, const struct param *p, FILE *f)
{
	char uri[1024];

	config_uri_masked(*cstr_field(c, p), uri, sizeof(uri));
	fprintf(f, "%s = %s\n", p->name, uri);
}

static void
print_number(const struct config *c, const struct param *p, FILE *f)
{
	char tmp[64];

	config_fmt_number(p, *(const uint64_t *)cfield(c, p), tmp,
	    sizeof(tmp));
	fprintf(f, "%s = %s\n", p->name, tmp);
}

static void
print_bool(const struct config *c, const struct param *p, FILE *f)
{
	fprintf(f, "%s = %s\n", p->name,
	    *(const bool *)cfield(c, p) ? "yes" : "no");
}

static void
print_enum(const struct config *c, const struct param *p, FILE *f)
{
	fprintf(f, "%s = %s\n", p->name,
	    p->names[*(const int *)cfield(c, p)]);
}

static void
print_netlist(const struct config *c, const struct param *p, FILE *f)
{
	const struct netlist *l = cfield(c, p);
	char pfx[NET_ADDRSTRLEN];
	size_t i;

	fprintf(f, "%s =", p->name);
	for (i = 0; i < l->n; i++) {
		net_prefix_format(&l->v[i], pfx, sizeof(pfx));
		fprintf(f, "%s%s", i == 0 ? " " : ", ", pfx);
	}
	fputc('\n', f);
}

static void
print_listen(const struct config *c, const struct param *p, FILE *f)
{
	size_t i;

	(void)p;
	for (i = 0; i < c->nlisten; i++) {
		const struct listen_cfg *l = &c->listen[i];
		bool v6 = strchr(l->host, ':') != NULL;

		fprintf(f, "listen = %s%s%s:%u %s%s\n", v6 ? "[" : "",
		    l->host, v6 ? "]" : "", (unsigned)l->port,
		    role_names[l->role], l->gate_connect ? " gate=connect" : "");
	}
}

static void
print_transport(const struct config *c, const struct param *p, FILE *f)
{
	size_t i;

	(void)p;
	for (i = 0; i < c->ntransport; i++) {
		const struct transport_cfg *t = &c->transport[i];
		bool v6 = strchr(t->host, ':') != NULL;

		fprintf(f, "transport %s = %s%s%s:%u\n", t->domain,
		    v6 ? "[" : "", t->host, v6 ? "]" : "", (unsigned)t->port);
	}
}

const struct ptype_ops config_types[] = {
	[P_STRING] = { parse_string, release_str, print_str },
	[P_PATH] = { parse_path, release_str, print_str },
	[P_HOSTNAME] = { parse_hostname, release_str, print_str },
	[P_USER] = { parse_user, release_str, print_str },
	[P_SIZE] = { parse_size, release_none, print_number },
	[P_DURATION] = { parse_duration, release_none, print_number },
	[P_UINT] = { parse_uint, release_none, print_number },
	[P_BOOL] = { parse_bool, release_none, print_bool },
	[P_ENUM] = { parse_enum_value, release_none, print_enum },
	[P_NETLIST] = { parse_netlist, release_netlist, print_netlist },
	[P_LISTEN] = { parse_listen_value, release_listen, print_listen },
	[P_TRANSPORT] = { parse_transport_value, release_transport,
	    print_transport },
	[P_RELAYHOST] = { parse_relayhost, release_str, print_str },
	[P_DNS] = { parse_dns, release_str, print_str },
	[P_STORE] = { parse_store, release_str, print_uri },
	[P_RELAY_STORE] = { parse_relay_store, release_str, print_uri },
	[P_ADDRESS] = { parse_address, release_str, print_str },
	[P_MILTER] = { config_milter_parse, config_milter_release,
	    config_milter_print },
	[P_MILTER_APPLY] = { config_milter_apply_parse, release_none,
	    print_none },
	[P_TLS_HOST] = { config_tls_host_parse, config_tls_host_release,
	    config_tls_host_print },
	[P_DNSBL] = { config_dnsbl_parse, config_dnsbl_release,
	    config_dnsbl_print },
	[P_TLS_POLICY] = { config_tls_policy_value, config_tls_policy_release,
	    config_tls_policy_print },
	[P_WEBHOOK] = { config_webhook_parse, config_webhook_release,
	    config_webhook_print },
	[P_SECRET] = { config_secret_parse, config_secret_release,
	    config_secret_print },
};
_Static_assert(nitems(config_types) == P_NTYPES,
    "every type has its operations");

const char *
config_role_name(enum listen_role r)
{
	return role_names[r];
}

const char *const *
config_role_names(void)
{
	return role_names;
}
