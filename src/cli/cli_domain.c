/*
 * cli_domain.c - popgate domain add|list|show|delete|dkim.
 */
#include "cli/cli.h"
#include "ops/ops.h"
#include "util/compat.h"

static const char *const cols[] = { "domain", "customer", "status",
	"mailboxes", "aliases", "created" };
static const bool numeric[] = { false, false, false, true, true, false };

static void
add_row(const struct store_domain *d, void *arg)
{
	char nm[24], na[24], created[32];

	(void)str_fmt(nm, sizeof(nm), "%llu",
	    (unsigned long long)d->nmailboxes);
	(void)str_fmt(na, sizeof(na), "%llu", (unsigned long long)d->naliases);
	cli_fmt_time(created, sizeof(created), d->created);
	cli_table_row(arg, d->name, d->customer,
	    d->suspended ? "suspended" : "active", nm, na, created);
}

static int
cmd_add(struct cli *c)
{
	struct ops_result res;
	int r;

	if (c->customer == NULL) {
		cli_err(c, "which customer owns it? give --customer NAME");
		return EXIT_USER;
	}
	if ((r = cli_open(c)) != 0)
		return r;
	ops_domain_add(c->store, &cli_actor, c->pos[0], c->customer, &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	printf("domain %s added for customer %s; its DKIM records: `popgate "
	    "domain dkim show %s`\n", c->pos[0], c->customer, c->pos[0]);
	return 0;
}

static int
cmd_list(struct cli *c)
{
	struct ops_result res;
	struct cli_table t;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	cli_table_init(&t, cols, nitems(cols), numeric);
	ops_domain_list(c->store, &cli_actor, c->customer, NULL, add_row, &t,
	    &res);
	if (res.status == OPS_OK)
		cli_table_print(&t, c->json);
	cli_table_free(&t);
	return cli_ops_result(c, &res);
}

static int
cmd_show(struct cli *c)
{
	struct store_domain d;
	struct ops_result res;
	struct cli_table t;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	ops_domain_get(c->store, &cli_actor, c->pos[0], &d, &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	cli_table_init(&t, cols, nitems(cols), numeric);
	add_row(&d, &t);
	cli_table_print_record(&t, c->json);
	cli_table_free(&t);
	return 0;
}

static int
cmd_delete(struct cli *c)
{
	struct ops_result res;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	ops_domain_delete(c->store, &cli_actor, c->pos[0], c->force, &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	printf("domain %s deleted (Maildirs under %s are kept)\n", c->pos[0],
	    c->cfg->mail_dir);
	return 0;
}

static const struct cli_cmd cmds[] = {
	{ "add", cmd_add, OPT_CUSTOMER, 1, 1, "DOMAIN --customer NAME",
	    "host a domain for a customer" },
	{ "list", cmd_list, OPT_JSON | OPT_CUSTOMER, 0, 0,
	    "[--customer NAME]", "list the hosted domains" },
	{ "show", cmd_show, OPT_JSON, 1, 1, "DOMAIN", "show one domain" },
	{ "delete", cmd_delete, OPT_FORCE, 1, 1, "DOMAIN [--force]",
	    "stop hosting (--force: with its mailboxes and aliases)" },
	{ "dkim", cli_dkim, OPT_JSON, 2, 2, "show|rotate DOMAIN",
	    "the DKIM records to publish; rotate: new signing keys, the old "
	    "ones kept in DNS for 7 days" },
	{ "dns", cli_domain_dns, 0, 1, 1, "DOMAIN",
	    "every DNS record the domain should publish (MX, SPF, DKIM, "
	    "DMARC, SRV, autoconfig)" },
};

int
cli_domain(int argc, char **argv)
{
	return cli_dispatch("domain", cmds, nitems(cmds), argc, argv);
}
