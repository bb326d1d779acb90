/*
 * cli_config.c - popgate check-config [-c FILE]: the effective
 * configuration on stdout, or every error (FILE:LINE: ...) and exit 1.
 *
 * Beyond the syntax, the certificates of the tls_host lines are loaded
 * as the daemon loads them at start (a missing file, a file that is not
 * PEM, a key that is not its certificate's: an error naming the line);
 * the default tls_cert and tls_key only draw a warning when unreadable
 * (before `popgate init` made them, say), though serve needs them too.
 */
#include <errno.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/tls.h"
#include "util/compat.h"

/* Whether H's files can be read: 0; 1 when one is readable only by
   root and we are not (the daemon reads them as root: no error, but not
   checked either); -1 after the error "FILE:LINE: ...". */
static int
readable(const struct config *cfg, const struct tls_host_cfg *h)
{
	const char *path[2] = { h->cert, h->key };
	int i, r = 0;

	for (i = 0; i < 2; i++) {
		if (access(path[i], R_OK) == 0)
			continue;
		if (errno == EACCES && geteuid() != 0) {
			fprintf(stderr, "popgate check-config: warning: %s:%u: "
			    "tls_host %s: cannot read %s as uid %ld (the daemon "
			    "reads it as root at start); not checked\n",
			    cfg->path, h->line, h->name, path[i],
			    (long)geteuid());
			r = 1;
			continue;
		}
		fprintf(stderr, "%s:%u: tls_host %s: %s: %s\n", cfg->path,
		    h->line, h->name, path[i], strerror(errno));
		return -1;
	}
	return r;
}

/* Host H loaded into DEF as `popgate serve` would: 0, or -1 after the
   error "FILE:LINE: ...". Warns about a certificate without H's name. */
static int
check_tls_host(const struct config *cfg, SSL_CTX *def,
    const struct tls_host_cfg *h)
{
	char err[TLS_ERROR_MAX];
	int r = readable(cfg, h);

	if (r != 0)
		return r == 1 ? 0 : -1;
	if (tls_server_add_host(def, h->name, h->cert, h->key, err) == -1) {
		fprintf(stderr, "%s:%u: tls_host %s: %s\n", cfg->path, h->line,
		    h->name, err);
		return -1;
	}
	if (!tls_server_covers(def, h->name))
		fprintf(stderr, "popgate check-config: warning: %s:%u: tls_host "
		    "%s: the certificate %s does not name %s: clients checking "
		    "the name will refuse it\n", cfg->path, h->line, h->name,
		    h->cert, h->name);
	return 0;
}

/* Every tls_host line checked; the number that failed. */
static size_t
check_tls_hosts(const struct config *cfg)
{
	SSL_CTX *def;
	size_t i, bad = 0;

	if (cfg->ntls_host == 0)
		return 0;
	/* A bare context stands for the default one, which may be missing
	   here: only the hosts are checked. */
	def = SSL_CTX_new(TLS_server_method());
	if (def == NULL) {
		fprintf(stderr, "popgate check-config: cannot create a TLS "
		    "context\n");
		return cfg->ntls_host;
	}
	for (i = 0; i < cfg->ntls_host; i++)
		if (check_tls_host(cfg, def, &cfg->tls_host[i]) == -1)
			bad++;
	SSL_CTX_free(def);
	return bad;
}

static int
cmd_check(struct cli *c)
{
	int r;

	if ((r = cli_load_config(c)) != 0)
		return r;
	if (check_tls_hosts(c->cfg) > 0)
		return EXIT_USER;
	config_print(c->cfg, stdout);
	if (access(c->cfg->tls_cert, R_OK) == -1 ||
	    access(c->cfg->tls_key, R_OK) == -1)
		fprintf(stderr, "popgate check-config: warning: cannot read "
		    "%s or %s: popgate serve will not start\n",
		    c->cfg->tls_cert, c->cfg->tls_key);
	return 0;
}

static const struct cli_cmd cmd[] = {
	{ "", cmd_check, OPT_NOSTORE, 0, 0, "[-c FILE]",
	    "check the configuration and print every key's effective value" },
};

int
cli_check_config(int argc, char **argv)
{
	return cli_dispatch("check-config", cmd, 1, argc, argv);
}
