/*
 * cli_alias.c - popgate alias add|list|show|delete.
 *
 * An alias maps an address of a hosted domain to one or more targets,
 * local or external. "add" of several targets is one transaction.
 */
#include "cli/cli.h"
#include "ops/ops.h"
#include "util/compat.h"

static const char *const cols[] = { "address", "target", "customer" };

static void
add_row(const struct store_alias *al, void *arg)
{
	cli_table_row(arg, al->address, al->target, al->customer);
}

static int
cmd_add(struct cli *c)
{
	struct ops_result res;
	int i, r;

	if ((r = cli_open(c)) != 0)
		return r;
	ops_alias_add(c->store, &cli_actor, c->pos[0], &c->pos[1],
	    (size_t)c->npos - 1, &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	for (i = 1; i < c->npos; i++)
		printf("alias %s -> %s added\n", c->pos[0], c->pos[i]);
	return 0;
}

static int
list(struct cli *c, const char *domain, bool only_address)
{
	struct ops_result res;
	struct cli_table t;
	const char *err;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	cli_table_init(&t, cols, nitems(cols), NULL);
	ops_alias_list(c->store, &cli_actor, domain, c->customer, NULL,
	    add_row, &t, &res);
	if (only_address && res.status == OPS_NOT_FOUND) {
		cli_table_free(&t);
		cli_err(c, "no alias '%s'", c->pos[0]);
		return EXIT_USER;
	}
	r = res.status == OPS_OK ? 0 : -1;
	if (r == 0 && only_address) {
		/* show: keep the rows of this address only. */
		struct mailaddr a;
		char want[ADDR_BUFSZ];
		struct strlist keep;
		size_t i, j;

		(void)store_parse_address(c->pos[0], &a, &err);
		addr_format(&a, want, sizeof(want));
		strlist_init(&keep);
		for (i = 0; i + t.ncols <= t.cells.n; i += t.ncols)
			if (strcmp(t.cells.v[i], want) == 0)
				for (j = 0; j < t.ncols; j++)
					strlist_add(&keep, t.cells.v[i + j]);
		strlist_free(&t.cells);
		t.cells = keep;
		if (keep.n == 0) {
			cli_table_free(&t);
			cli_err(c, "no alias '%s'", c->pos[0]);
			return EXIT_USER;
		}
	}
	if (r == 0)
		cli_table_print(&t, c->json);
	cli_table_free(&t);
	return cli_ops_result(c, &res);
}

static int
cmd_list(struct cli *c)
{
	if (c->npos > 0 && c->customer != NULL) {
		cli_err(c, "give a domain or --customer, not both");
		return EXIT_USER;
	}
	return list(c, c->npos > 0 ? c->pos[0] : NULL, false);
}

static int
cmd_show(struct cli *c)
{
	struct mailaddr a;
	const char *err;

	if (store_parse_address(c->pos[0], &a, &err) == -1) {
		cli_err(c, "bad address '%s': %s", c->pos[0], err);
		return EXIT_USER;
	}
	return list(c, a.domain, true);
}

static int
cmd_delete(struct cli *c)
{
	struct ops_result res;
	int i, r;

	if ((r = cli_open(c)) != 0)
		return r;
	ops_alias_delete(c->store, &cli_actor, c->pos[0], &c->pos[1],
	    (size_t)c->npos - 1, &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	if (c->npos == 1)
		printf("alias %s deleted\n", c->pos[0]);
	for (i = 1; i < c->npos; i++)
		printf("alias %s -> %s deleted\n", c->pos[0], c->pos[i]);
	return 0;
}

static const struct cli_cmd cmds[] = {
	{ "add", cmd_add, 0, 2, -1, "ADDRESS TARGET...",
	    "forward an address to mailboxes or external addresses" },
	{ "list", cmd_list, OPT_JSON | OPT_CUSTOMER, 0, 1,
	    "[DOMAIN | --customer NAME]", "list aliases" },
	{ "show", cmd_show, OPT_JSON, 1, 1, "ADDRESS", "show one alias" },
	{ "delete", cmd_delete, 0, 1, -1, "ADDRESS [TARGET...]",
	    "delete some targets, or the whole alias" },
};

int
cli_alias(int argc, char **argv)
{
	return cli_dispatch("alias", cmds, nitems(cmds), argc, argv);
}
