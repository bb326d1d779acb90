/*
 * cli_store.c - popgate store copy|info: moving an installation's account
 * store to another backend (SQLite to PostgreSQL when a second host
 * comes), and a look at what a store URI holds.
 */
#include "cli/cli.h"
#include "ops/ops.h"
#include "util/compat.h"

/* A store URI the way the `store` key takes it: 0 or an exit code. */
static int
check_uri(struct cli *c, const char *opt, const char *uri)
{
	char err[256];

	if (strcmp(uri, "sqlite") == 0 ||
	    (strncmp(uri, "sqlite:", 7) == 0 && uri[7] == '/'))
		return 0;
	if (strncmp(uri, "postgres", 8) == 0) {
		if (config_postgresql_uri(uri, err, sizeof(err)) == 0)
			return 0;
		cli_err(c, "bad %s '%s': %s", opt, uri, err);
		return EXIT_USER;
	}
	cli_err(c, "bad %s '%s' (expected sqlite, sqlite:/PATH or "
	    "postgresql://...)", opt, uri);
	return EXIT_USER;
}

/* Opens URI after the configuration is loaded and root dropped. */
static struct store *
open_uri(struct cli *c, const char *uri)
{
	struct store *s;
	const char *err;

	s = store_open(uri, c->data_path, &c->open_error, &err);
	if (s == NULL)
		cli_err(c, "%s", err);
	return s;
}

static int
cmd_copy(struct cli *c)
{
	struct store *from = NULL, *to = NULL;
	struct store_counts n;
	char furi[1024], turi[1024];
	const char *err;
	int r;

	if (c->to == NULL) {
		cli_err(c, "--to URI is required (the store to fill)");
		return EXIT_USER;
	}
	if ((r = check_uri(c, "--to", c->to)) != 0 ||
	    (c->from != NULL && (r = check_uri(c, "--from", c->from)) != 0) ||
	    (r = cli_load_config(c)) != 0 || (r = cli_drop_root(c)) != 0)
		return r;
	if (c->from == NULL)
		c->from = c->cfg->store;
	config_uri_masked(c->from, furi, sizeof(furi));
	config_uri_masked(c->to, turi, sizeof(turi));
	if (strcmp(c->from, c->to) == 0) {
		cli_err(c, "--from and --to are the same store (%s)", furi);
		return EXIT_USER;
	}
	r = EXIT_SYSTEM;
	if ((from = open_uri(c, c->from)) == NULL)
		goto out;
	if (store_migrate(from, &err) == -1) {
		cli_err(c, "%s: %s", furi, err);
		goto out;
	}
	if ((to = open_uri(c, c->to)) == NULL)
		goto out;
	switch (store_copy(from, to, &n, &err)) {
	case 0:
		printf("copied %s to %s: %llu customer(s), %llu domain(s), "
		    "%llu mailbox(es), %llu alias target(s)\n", furi, turi,
		    (unsigned long long)n.customers,
		    (unsigned long long)n.domains,
		    (unsigned long long)n.mailboxes,
		    (unsigned long long)n.aliases);
		printf("now set 'store = %s' in %s on every host and restart "
		    "popgate\n", turi, c->config_path);
		r = 0;
		break;
	case STORE_REFUSED:
		cli_err(c, "%s: %s", turi, err);
		r = EXIT_USER;
		break;
	default:
		cli_err(c, "%s (nothing was copied)", err);
		break;
	}
out:
	store_close(&from);
	store_close(&to);
	return r;
}

static int
cmd_info(struct cli *c)
{
	struct store *s = NULL;
	struct ops_store_info si;
	struct ops_result res;
	char uri[1024];
	int r;

	if ((c->from != NULL && (r = check_uri(c, "--from", c->from)) != 0) ||
	    (r = cli_load_config(c)) != 0 || (r = cli_drop_root(c)) != 0)
		return r;
	if (c->from == NULL)
		c->from = c->cfg->store;
	config_uri_masked(c->from, uri, sizeof(uri));
	if ((s = open_uri(c, c->from)) == NULL)
		return EXIT_SYSTEM;
	ops_store_info(s, &si, &res);
	if (res.status == OPS_OK)
		printf("store: %s\nschema version: %d\ncustomers: %llu\n"
		    "domains: %llu\nmailboxes: %llu\n", uri, si.schema_version,
		    (unsigned long long)si.customers,
		    (unsigned long long)si.domains,
		    (unsigned long long)si.mailboxes);
	else
		cli_err(c, "%s: %s", uri, res.error);
	store_close(&s);
	return res.status == OPS_OK ? 0 : EXIT_SYSTEM;
}

static const struct cli_cmd cmds[] = {
	{ "copy", cmd_copy, OPT_NOSTORE | OPT_FROM | OPT_TO, 0, 0,
	    "[--from URI] --to URI",
	    "copy every account into an empty store (e.g. SQLite to "
	    "PostgreSQL)" },
	{ "info", cmd_info, OPT_NOSTORE | OPT_FROM, 0, 0, "[--from URI]",
	    "connect to the store and count what it holds" },
};

int
cli_store(int argc, char **argv)
{
	return cli_dispatch("store", cmds, nitems(cmds), argc, argv);
}
