/*
 * cli_metrics.c - popgate metrics: the running daemon's metrics, as a
 * Prometheus scrape would get them (text format 0.0.4), through the
 * control socket (cli_control.c). For a node_exporter textfile, a
 * cron job, or a look by hand; the HTTP listeners serve the same text
 * at /metrics.
 */
#include <errno.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/cli_control.h"
#include "util/buf.h"
#include "util/compat.h"

/* A scrape is a few hundred lines; this is far above it. */
#define METRICS_ANSWER_MAX	(16u << 20)

static int
cmd_metrics(struct cli *c)
{
	struct buf ans;
	const char *body;
	int r;

	if ((r = cli_load_config(c)) != 0 || (r = cli_drop_root(c)) != 0)
		return r;
	buf_init(&ans, METRICS_ANSWER_MAX);
	r = control_call_all(c->data_fd, "metrics", &ans);
	body = buf_cstr(&ans);
	if (r == -1) {
		cli_err(c, "no daemon is running for data_dir %s",
		    c->cfg->data_dir);
		r = EXIT_USER;
	} else if (r == -2 || strncmp(body, "ok\n", 3) != 0) {
		if (r == 0)
			cli_err(c, "the daemon says: %.*s", (int)strcspn(body,
			    "\n"), body);
		else
			cli_err(c, "the daemon did not answer within %ds",
			    CONTROL_WAIT);
		r = EXIT_SYSTEM;
	} else if (fwrite(body + 3, 1, ans.len - 3, stdout) != ans.len - 3 ||
	    fflush(stdout) == EOF) {
		cli_err(c, "cannot write the metrics: %s", strerror(errno));
		r = EXIT_SYSTEM;
	} else
		r = 0;
	buf_free(&ans);
	return r;
}

static const struct cli_cmd cmd[] = {
	{ "", cmd_metrics, OPT_NOSTORE, 0, 0, "[-c FILE]",
	    "print the running daemon's metrics in the Prometheus text "
	    "format" },
};

int
cli_metrics(int argc, char **argv)
{
	return cli_dispatch("metrics", cmd, 1, argc, argv);
}
