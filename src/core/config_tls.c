/*
 * config_tls.c - the certificates per host name of popgate.conf
 * (SPEC 14):
 *
 *   tls_host = NAME CERT KEY
 *
 * one line per name. NAME is a host name (any case, stored in lower
 * case) or a wildcard "*.DOMAIN", which matches exactly one label before
 * DOMAIN; CERT (a PEM chain) and KEY (its private key, PEM) are absolute
 * paths without blanks. A name may appear once. The daemon gives a client
 * that asks for NAME by SNI this certificate instead of tls_cert (the
 * contexts are built by core/tls.c at start).
 */
#include <limits.h>
#include <stddef.h>

#include "core/config_int.h"
#include "core/addr.h"
#include "util/net.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define USAGE	"tls_host = HOSTNAME CERT KEY"

/* NAME's trouble as a host name or wildcard, NULL when it is good. */
static const char *
name_error(const char *name)
{
	struct netaddr a;
	const char *d = name, *err;

	if (strncmp(name, "*.", 2) == 0)
		d = name + 2;
	if (strchr(d, '*') != NULL)
		return "a wildcard is '*.' before a domain, like *.example.com, "
		    "and matches one label";
	if (net_addr_parse(d, &a) == 0)
		return "an IP address: SNI carries host names only";
	if (addr_domain_check(d, strlen(d), 0, &err) == -1)
		return err;
	if (strlen(name) >= sizeof(((struct tls_host_cfg *)0)->name))
		return "longer than 255 octets";
	return NULL;
}

/* WHAT ("certificate" or "key") path V of host NAME: 0, or -1 after
   saying why. */
static int
check_path(struct pstate *ps, const char *name, const char *what,
    const char *v)
{
	if (*v != '/') {
		config_perr(ps, "bad %s path in 'tls_host %s': '%s' (expected "
		    "an absolute path)", what, name, v);
		return -1;
	}
	if (strlen(v) >= PATH_MAX - 256) {
		config_perr(ps, "bad %s path in 'tls_host %s': path too long",
		    what, name);
		return -1;
	}
	return 0;
}

/* Splits V (a copy in BUF) into at most 3 blank-separated words of TOK;
   the number of words, 4 when there are more. */
static int
split(char *buf, char *tok[3])
{
	char *p = buf, *w;
	int n = 0;

	while ((w = strsep(&p, " \t")) != NULL) {
		if (*w == '\0')
			continue;
		if (n == 3)
			return 4;
		tok[n++] = w;
	}
	return n;
}

/* The checks of one line's words; 0, or -1 after config_perr. */
static int
check_words(struct pstate *ps, const char *v, char *tok[3], int n)
{
	const char *err;

	if (n == 0) {
		config_perr(ps, "'tls_host' needs a host name, a certificate "
		    "and a key: " USAGE);
		return -1;
	}
	if (n > 3) {
		config_perr(ps, "too many fields in 'tls_host': '%s' (expected "
		    USAGE "; paths cannot contain blanks)", v);
		return -1;
	}
	if ((err = name_error(tok[0])) != NULL) {
		config_perr(ps, "bad host name in 'tls_host': '%s' (%s)",
		    tok[0], err);
		return -1;
	}
	if (n < 3) {
		config_perr(ps, "'tls_host %s' needs %s: " USAGE, tok[0],
		    n == 1 ? "a certificate and a key file" :
		    "a key file after the certificate");
		return -1;
	}
	if (check_path(ps, tok[0], "certificate", tok[1]) == -1 ||
	    check_path(ps, tok[0], "key", tok[2]) == -1)
		return -1;
	return 0;
}

int
config_tls_host_parse(struct config *c, struct pstate *ps,
    const struct param *p, const char *v)
{
	struct tls_host_cfg h;
	char buf[4096], *tok[3];
	size_t i;
	int n;

	(void)p;
	if (str_copy(buf, v, sizeof(buf)) == -1) {
		config_perr(ps, "'tls_host' value too long");
		return -1;
	}
	n = split(buf, tok);
	if (check_words(ps, v, tok, n) == -1)
		return -1;
	memset(&h, 0, sizeof(h));
	(void)str_copy(h.name, tok[0], sizeof(h.name));
	str_lower(h.name);
	for (i = 0; i < c->ntls_host; i++) {
		if (strcmp(c->tls_host[i].name, h.name) == 0) {
			config_perr(ps, "duplicate 'tls_host %s' (first at "
			    "line %u)", h.name, c->tls_host[i].line);
			return -1;
		}
	}
	h.cert = xstrdup(tok[1]);
	h.key = xstrdup(tok[2]);
	h.line = ps->line;
	c->tls_host = xreallocarray(c->tls_host, c->ntls_host + 1,
	    sizeof(*c->tls_host));
	c->tls_host[c->ntls_host++] = h;
	return 0;
}

void
config_tls_host_release(struct config *c, const struct param *p)
{
	size_t i;

	(void)p;
	for (i = 0; i < c->ntls_host; i++) {
		free(c->tls_host[i].cert);
		free(c->tls_host[i].key);
	}
	free(c->tls_host);
}

void
config_tls_host_print(const struct config *c, const struct param *p,
    FILE *f)
{
	size_t i;

	for (i = 0; i < c->ntls_host; i++)
		fprintf(f, "%s = %s %s %s\n", p->name, c->tls_host[i].name,
		    c->tls_host[i].cert, c->tls_host[i].key);
}
