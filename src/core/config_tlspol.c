/*
 * config_tlspol.c - the outbound TLS policy of popgate.conf:
 *
 *   tls_policy DOMAIN = none | may | encrypt | verify
 *   tls_policy .DOMAIN = ...		(every name below DOMAIN)
 *
 * one line per destination, in any order, each destination once (any
 * case, stored in lower case). The policy of a destination is its own
 * line, else the ".PARENT" line of its nearest parent, else
 * tls_policy_default (raised to verify by the older tls_verify_peer =
 * yes). src/delivery/dlv_tlspol.c applies it, with MTA-STS and DANE.
 */
#include <stddef.h>

#include "core/config_int.h"
#include "core/addr.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define USAGE	"tls_policy DOMAIN = none|may|encrypt|verify"

static const char *const level_names[] = { "none", "may", "encrypt",
	"verify", NULL };

const char *
config_tls_level_name(enum tls_level l)
{
	return (unsigned)l < nitems(level_names) - 1 ? level_names[l] : "?";
}

int
config_tls_level_parse(const char *s, enum tls_level *level_r)
{
	size_t i;

	for (i = 0; level_names[i] != NULL; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*level_r = (enum tls_level)i;
			return 0;
		}
	}
	return -1;
}

int
config_parse_tls_policy(struct config *c, struct pstate *ps,
    const char *domain, const char *v)
{
	struct tls_policy_cfg t;
	const char *err = "empty", *name;
	size_t i;

	memset(&t, 0, sizeof(t));
	if (domain == NULL || *domain == '\0') {
		config_perr(ps, "'tls_policy' needs a domain: " USAGE);
		return -1;
	}
	name = domain[0] == '.' ? domain + 1 : domain;
	if (*name == '\0' ||
	    addr_domain_check(name, strlen(name), 0, &err) == -1 ||
	    str_copy(t.domain, domain, sizeof(t.domain)) == -1) {
		config_perr(ps, "bad domain in 'tls_policy': '%s' (%s)", domain,
		    err);
		return -1;
	}
	str_lower(t.domain);
	if (config_tls_level_parse(v, &t.level) == -1) {
		config_perr(ps, "bad value for 'tls_policy %s': '%s' (expected "
		    "none, may, encrypt or verify)", domain, v);
		return -1;
	}
	for (i = 0; i < c->ntls_policy; i++) {
		if (strcmp(c->tls_policy[i].domain, t.domain) == 0) {
			config_perr(ps, "duplicate 'tls_policy %s' (first at "
			    "line %u)", t.domain, c->tls_policy[i].line);
			return -1;
		}
	}
	t.line = ps->line;
	c->tls_policy = xreallocarray(c->tls_policy, c->ntls_policy + 1,
	    sizeof(*c->tls_policy));
	c->tls_policy[c->ntls_policy++] = t;
	return 0;
}

/* Parsed with its domain by parse_line (config_parse_tls_policy). */
int
config_tls_policy_value(struct config *c, struct pstate *ps,
    const struct param *p, const char *v)
{
	(void)c;
	(void)v;
	PANIC("%s is parsed with its domain, line %u", p->name, ps->line);
}

void
config_tls_policy_release(struct config *c, const struct param *p)
{
	(void)p;
	free(c->tls_policy);
}

void
config_tls_policy_print(const struct config *c, const struct param *p,
    FILE *f)
{
	size_t i;

	for (i = 0; i < c->ntls_policy; i++)
		fprintf(f, "%s %s = %s\n", p->name, c->tls_policy[i].domain,
		    level_names[c->tls_policy[i].level]);
}

static const struct tls_policy_cfg *
find_rule(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->ntls_policy; i++)
		if (strcasecmp(c->tls_policy[i].domain, name) == 0)
			return &c->tls_policy[i];
	return NULL;
}

const struct tls_policy_cfg *
config_tls_policy(const struct config *c, const char *domain)
{
	const struct tls_policy_cfg *r;
	const char *p;

	if ((r = find_rule(c, domain)) != NULL)
		return r;
	/* ".example.org" for a.example.org, then for b.a.example.org... */
	for (p = strchr(domain, '.'); p != NULL; p = strchr(p + 1, '.'))
		if ((r = find_rule(c, p)) != NULL)
			return r;
	return NULL;
}

enum tls_level
config_tls_default(const struct config *c)
{
	if (c->tls_verify_peer && c->tls_policy_default < TLS_LEVEL_VERIFY)
		return TLS_LEVEL_VERIFY;
	return (enum tls_level)c->tls_policy_default;
}
