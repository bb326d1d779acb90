/*
 * cli_config.c - popgate check-config [-c FILE]: the effective
 * configuration on stdout, or every error (FILE:LINE: ...) and exit 1.
 */
#include <unistd.h>

#include "cli/cli.h"
#include "util/compat.h"

static int
cmd_check(struct cli *c)
{
	int r;

	if ((r = cli_load_config(c)) != 0)
		return r;
	config_print(c->cfg, stdout);
	if (access(c->cfg->tls_cert, R_OK) == -1 ||
	    access(c->cfg->tls_key, R_OK) == -1)
		fprintf(stderr, "popgate check-config: warning: cannot read "
		    "%s or %s: TLS listeners will not start\n",
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
