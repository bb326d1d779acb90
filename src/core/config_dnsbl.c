/*
 * config_dnsbl.c - the DNS blocklists of popgate.conf (RFC 5782):
 *
 *   dnsbl = ZONE [WEIGHT]
 *
 * one line per list, in the file's order. ZONE is a domain name (any
 * case, stored in lower case, each zone once); WEIGHT a whole number
 * from 1 to 100, 1 when left out. A client of an smtp listener whose
 * lists' weights add up to dnsbl_threshold is refused at RCPT unless it
 * may relay (src/smtp/smtp_dnsbl.c, src/policy).
 */
#include <stddef.h>

#include "core/config_int.h"
#include "core/addr.h"
#include "util/net.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define USAGE	"dnsbl = ZONE [WEIGHT]"

/* ZONE's trouble as a zone name, NULL when it is good. */
static const char *
zone_error(const char *zone)
{
	struct netaddr a;
	const char *err;

	if (net_addr_parse(zone, &a) == 0)
		return "an IP address, not a zone";
	if (addr_domain_check(zone, strlen(zone), 0, &err) == -1)
		return err;
	if (strchr(zone, '.') == NULL)
		return "a single label";
	/* room for 32 nibbles and their dots before it */
	if (strlen(zone) > 255 - 64)
		return "too long for the names below it";
	return NULL;
}

/* Splits V (a copy in BUF) into the zone and the weight (NULL when not
   given): 0, or -1 after config_perr. */
static int
split(struct pstate *ps, const char *v, char *buf, size_t bufsz,
    char **zone, char **weight)
{
	char *p = buf, *w, *extra = NULL;

	*zone = *weight = NULL;
	if (str_copy(buf, v, bufsz) == -1) {
		config_perr(ps, "'dnsbl' value too long");
		return -1;
	}
	while ((w = strsep(&p, " \t")) != NULL) {
		if (*w == '\0')
			continue;
		if (*zone == NULL)
			*zone = w;
		else if (*weight == NULL)
			*weight = w;
		else
			extra = w;
	}
	if (*zone == NULL) {
		config_perr(ps, "'dnsbl' needs a zone: " USAGE);
		return -1;
	}
	if (extra != NULL) {
		config_perr(ps, "too many fields in 'dnsbl': '%s' (expected "
		    USAGE ")", v);
		return -1;
	}
	return 0;
}

int
config_dnsbl_parse(struct config *c, struct pstate *ps,
    const struct param *p, const char *v)
{
	struct dnsbl_cfg l;
	char buf[512], *zone, *weight;
	const char *err;
	uint64_t u = 1;
	size_t i;

	(void)p;
	if (split(ps, v, buf, sizeof(buf), &zone, &weight) == -1)
		return -1;
	if ((err = zone_error(zone)) != NULL) {
		config_perr(ps, "bad zone in 'dnsbl': '%s' (%s)", zone, err);
		return -1;
	}
	if (weight != NULL && str_to_uint(weight, 1, 100, &u) == -1) {
		config_perr(ps, "bad weight in 'dnsbl %s': '%s' (expected a "
		    "whole number from 1 to 100)", zone, weight);
		return -1;
	}
	memset(&l, 0, sizeof(l));
	(void)str_copy(l.zone, zone, sizeof(l.zone));
	str_lower(l.zone);
	for (i = 0; i < c->ndnsbl; i++) {
		if (strcmp(c->dnsbl[i].zone, l.zone) == 0) {
			config_perr(ps, "duplicate 'dnsbl %s' (first at line "
			    "%u)", l.zone, c->dnsbl[i].line);
			return -1;
		}
	}
	l.weight = (unsigned)u;
	l.line = ps->line;
	c->dnsbl = xreallocarray(c->dnsbl, c->ndnsbl + 1, sizeof(*c->dnsbl));
	c->dnsbl[c->ndnsbl++] = l;
	return 0;
}

void
config_dnsbl_release(struct config *c, const struct param *p)
{
	(void)p;
	free(c->dnsbl);
}

void
config_dnsbl_print(const struct config *c, const struct param *p, FILE *f)
{
	size_t i;

	for (i = 0; i < c->ndnsbl; i++)
		fprintf(f, "%s = %s %u\n", p->name, c->dnsbl[i].zone,
		    c->dnsbl[i].weight);
}
