/*
 * config_milter.c - the content-filter keys of popgate.conf (SPEC 11):
 *
 *   milter = NAME unix:/PATH | inet:HOST:PORT | inet6:[ADDR]:PORT
 *   milter_apply NAME = inbound | relay | all
 *   milter_connect_timeout [NAME] = DURATION
 *   milter_command_timeout [NAME] = DURATION
 *   milter_total_timeout [NAME] = DURATION
 *   milter_default_action [NAME] = tempfail | accept
 *
 * "milter" repeats, one filter per line, applied in the order written;
 * a name is unique. The last four keys without a name are the global
 * defaults (rows of params[] in config.c); with the name of a filter
 * declared on an earlier line they override it for that filter. HOST of
 * inet: is an IPv4 address or "localhost": the daemon never waits for a
 * resolver to reach its filters.
 */
#include <stddef.h>

#include "core/config_int.h"
#include "util/net.h"
#include "util/xalloc.h"
#include "util/compat.h"

static const char *const apply_names[] = { "all", "inbound", "relay",
	NULL };
static const char *const action_names[] = { "tempfail", "accept", NULL };

/* The keys that take a filter name, and which of set_line[] each sets. */
static const char *const keyed[] = { "milter_apply",
	"milter_connect_timeout", "milter_command_timeout",
	"milter_total_timeout", "milter_default_action" };

static int
keyed_index(const char *key)
{
	size_t i;

	for (i = 0; i < nitems(keyed); i++)
		if (strcmp(keyed[i], key) == 0)
			return (int)i;
	return -1;
}

bool
config_milter_keyed(const struct param *p)
{
	return keyed_index(p->name) >= 0;
}

static bool
good_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(((struct milter_cfg *)0)->name))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_.-") == n;
}

static struct milter_cfg *
find(struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nmilter; i++)
		if (strcmp(c->milter[i].name, name) == 0)
			return &c->milter[i];
	return NULL;
}

const struct milter_cfg *
config_milter(const struct config *c, const char *name)
{
	return find((struct config *)(uintptr_t)c, name);
}

/* "unix:/PATH", "inet:HOST:PORT" or "inet6:[ADDR]:PORT" into M; NULL, or
   what is wrong. */
static const char *
parse_address(const char *v, struct milter_cfg *m)
{
	struct netaddr a;

	if (strncmp(v, "unix:", 5) == 0) {
		m->family = MILTER_UNIX;
		if (v[5] != '/')
			return "the socket path must be absolute";
		if (str_copy(m->path, v + 5, sizeof(m->path)) == -1)
			return "the socket path is too long";
		return NULL;
	}
	if (strncmp(v, "inet:", 5) == 0) {
		m->family = MILTER_INET;
		if (v[5] == '[' || net_hostport_parse(v + 5, m->host,
		    sizeof(m->host), &m->port) == -1 || m->port == 0)
			return "expected inet:HOST:PORT";
		if (strcmp(m->host, "localhost") == 0)
			(void)str_copy(m->host, "127.0.0.1", sizeof(m->host));
		if (net_addr_parse(m->host, &a) == -1 ||
		    strchr(m->host, ':') != NULL)
			return "HOST of inet: must be an IPv4 address or "
			    "localhost";
		return NULL;
	}
	if (strncmp(v, "inet6:", 6) == 0) {
		m->family = MILTER_INET6;
		if (v[6] != '[' || net_hostport_parse(v + 6, m->host,
		    sizeof(m->host), &m->port) == -1 || m->port == 0 ||
		    net_addr_parse(m->host, &a) == -1 ||
		    strchr(m->host, ':') == NULL)
			return "expected inet6:[ADDRESS]:PORT";
		return NULL;
	}
	return "expected unix:/PATH, inet:HOST:PORT or inet6:[ADDRESS]:PORT";
}

/* The next blank-separated field of *P into OUT; false when there is
   none or it does not fit. */
static bool
next_field(const char **p, char *out, size_t outsz)
{
	size_t n;

	*p += strspn(*p, " \t");
	n = strcspn(*p, " \t");
	if (n == 0 || str_ncopy(out, *p, n, outsz) == -1)
		return false;
	*p += n;
	return true;
}

int
config_parse_milter(struct config *c, struct pstate *ps, const char *v)
{
	struct milter_cfg m;
	char name[64], addr[512];
	const char *err, *p = v;

	memset(&m, 0, sizeof(m));
	if (!next_field(&p, name, sizeof(name)) ||
	    !next_field(&p, addr, sizeof(addr)) ||
	    p[strspn(p, " \t")] != '\0') {
		config_perr(ps, "bad value for 'milter': '%s' (expected NAME "
		    "unix:/PATH, NAME inet:HOST:PORT or NAME "
		    "inet6:[ADDRESS]:PORT)", v);
		return -1;
	}
	if (!good_name(name)) {
		config_perr(ps, "bad filter name in 'milter': '%s' (1 to 32 "
		    "letters, digits, '_', '.', '-')", name);
		return -1;
	}
	if (find(c, name) != NULL) {
		config_perr(ps, "duplicate filter name '%s' in 'milter' "
		    "(first at line %u)", name, find(c, name)->line);
		return -1;
	}
	if ((err = parse_address(addr, &m)) != NULL) {
		config_perr(ps, "bad address for milter %s: '%s' (%s)", name,
		    addr, err);
		return -1;
	}
	(void)str_copy(m.name, name, sizeof(m.name));
	m.line = ps->line;
	m.apply = MILTER_APPLY_ALL;
	c->milter = xreallocarray(c->milter, c->nmilter + 1,
	    sizeof(*c->milter));
	c->milter[c->nmilter++] = m;
	return 0;
}

int
config_milter_parse(struct config *c, struct pstate *ps,
    const struct param *p, const char *v)
{
	(void)p;
	return config_parse_milter(c, ps, v);
}

int
config_milter_apply_parse(struct config *c, struct pstate *ps,
    const struct param *p, const char *v)
{
	(void)c;
	(void)v;
	config_perr(ps, "'%s' needs a filter name: %s NAME = inbound, relay "
	    "or all", p->name, p->name);
	return -1;
}

/* The value of the keyed setting P into M. 0 or -1 after config_perr. */
static int
set_keyed(struct milter_cfg *m, struct pstate *ps, const struct param *p,
    int k, const char *v)
{
	struct config tmp;
	size_t i;

	if (k == 0) {
		for (i = 0; apply_names[i] != NULL; i++) {
			if (strcmp(apply_names[i], v) == 0) {
				m->apply = (enum milter_apply)i;
				return 0;
			}
		}
		config_perr(ps, "bad value for 'milter_apply %s': '%s' "
		    "(expected inbound, relay or all)", m->name, v);
		return -1;
	}
	/* the global key's type checks the value, into a scratch copy */
	memset(&tmp, 0, sizeof(tmp));
	if (config_types[p->type].parse(&tmp, ps, p, v) == -1)
		return -1;
	if (k == 4)
		m->default_action = tmp.milter_default_action;
	else
		*(k == 1 ? &m->connect_timeout : k == 2 ?
		    &m->command_timeout : &m->total_timeout) =
		    *(const uint64_t *)(const void *)((const char *)&tmp +
		    p->off);
	return 0;
}

int
config_parse_milter_keyed(struct config *c, struct pstate *ps,
    const struct param *p, const char *name, const char *v)
{
	struct milter_cfg *m = find(c, name);
	int k = keyed_index(p->name);

	if (k < 0)
		PANIC("%s takes no filter name", p->name);
	if (m == NULL) {
		config_perr(ps, "'%s %s': no filter named '%s' (declare it "
		    "first with 'milter = %s ADDRESS')", p->name, name, name,
		    name);
		return -1;
	}
	if (m->set_line[k] != 0) {
		config_perr(ps, "duplicate key '%s %s' (first set at line %u)",
		    p->name, name, m->set_line[k]);
		return -1;
	}
	if (set_keyed(m, ps, p, k, v) == -1)
		return -1;
	m->set_line[k] = ps->line;
	return 0;
}

void
config_milter_derive(struct config *c)
{
	size_t i;

	for (i = 0; i < c->nmilter; i++) {
		struct milter_cfg *m = &c->milter[i];

		if (m->set_line[1] == 0)
			m->connect_timeout = c->milter_connect_timeout;
		if (m->set_line[2] == 0)
			m->command_timeout = c->milter_command_timeout;
		if (m->set_line[3] == 0)
			m->total_timeout = c->milter_total_timeout;
		if (m->set_line[4] == 0)
			m->default_action = c->milter_default_action;
	}
}

void
config_milter_release(struct config *c, const struct param *p)
{
	(void)p;
	free(c->milter);
	c->milter = NULL;
	c->nmilter = 0;
}

static void
print_one(const struct milter_cfg *m, FILE *f)
{
	char d[3][32];

	if (m->family == MILTER_UNIX)
		fprintf(f, "milter = %s unix:%s\n", m->name, m->path);
	else
		fprintf(f, "milter = %s %s%s%s:%u\n", m->name,
		    m->family == MILTER_INET ? "inet:" : "inet6:[", m->host,
		    m->family == MILTER_INET ? "" : "]", (unsigned)m->port);
	str_fmt_duration(d[0], sizeof(d[0]), m->connect_timeout);
	str_fmt_duration(d[1], sizeof(d[1]), m->command_timeout);
	str_fmt_duration(d[2], sizeof(d[2]), m->total_timeout);
	fprintf(f, "milter_apply %s = %s\n", m->name, apply_names[m->apply]);
	fprintf(f, "milter_connect_timeout %s = %s\n", m->name, d[0]);
	fprintf(f, "milter_command_timeout %s = %s\n", m->name, d[1]);
	fprintf(f, "milter_total_timeout %s = %s\n", m->name, d[2]);
	fprintf(f, "milter_default_action %s = %s\n", m->name,
	    action_names[m->default_action]);
}

void
config_milter_print(const struct config *c, const struct param *p, FILE *f)
{
	size_t i;

	(void)p;
	for (i = 0; i < c->nmilter; i++)
		print_one(&c->milter[i], f);
}

const char *
config_milter_apply_name(enum milter_apply a)
{
	return apply_names[a];
}

const char *
config_milter_action_name(enum milter_action a)
{
	return action_names[a];
}
