/*
 * cli_customer.c - popgate customer add|list|show|suspend|resume|delete,
 * through the operations the API shares (src/ops/).
 */
#include "cli/cli.h"
#include "ops/ops.h"
#include "cli/cli_control.h"
#include "store/store.h"
#include "util/str.h"
#include "util/compat.h"

static const char *const cols[] = { "name", "status", "domains",
	"mailboxes", "created" };
static const bool numeric[] = { false, false, true, true, false };

static void
add_row(const struct store_customer *c, void *arg)
{
	char nd[24], nm[24], created[32];

	(void)str_fmt(nd, sizeof(nd), "%llu", (unsigned long long)c->ndomains);
	(void)str_fmt(nm, sizeof(nm), "%llu",
	    (unsigned long long)c->nmailboxes);
	cli_fmt_time(created, sizeof(created), c->created);
	cli_table_row(arg, c->name, c->suspended ? "suspended" : "active", nd,
	    nm, created);
}

static int
cmd_add(struct cli *c)
{
	struct ops_result res;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	ops_customer_add(c->store, &cli_actor, c->pos[0], &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	printf("customer %s added\n", c->pos[0]);
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
	ops_customer_list(c->store, &cli_actor, NULL, add_row, &t, &res);
	if (res.status == OPS_OK)
		cli_table_print(&t, c->json);
	cli_table_free(&t);
	return cli_ops_result(c, &res);
}

static int
cmd_show(struct cli *c)
{
	struct store_customer cu;
	struct ops_result res;
	struct cli_table t;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	ops_customer_get(c->store, &cli_actor, c->pos[0], &cu, &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	cli_table_init(&t, cols, nitems(cols), numeric);
	add_row(&cu, &t);
	cli_table_print_record(&t, c->json);
	cli_table_free(&t);
	return 0;
}

/* A running daemon hears of the suspension (its webhook event
   customer.suspended); without one there is nobody to tell. */
static void
tell_daemon(struct cli *c, const char *customer, int revoked)
{
	char req[128], name[STORE_NAME_MAX + 1], ans[64];

	if (c->data_fd == -1)
		return;
	(void)str_copy(name, customer, sizeof(name));
	str_lower(name);
	if (str_fmt(req, sizeof(req), "suspended %s %d", name,
	    revoked > 0 ? revoked : 0) == -1)
		return;
	(void)control_call(c->data_fd, req, ans, sizeof(ans));
}

static int
set_status(struct cli *c, bool suspended)
{
	struct ops_result res;
	int r, n = 0;

	if ((r = cli_open(c)) != 0)
		return r;
	/* The relay table is the CLI's own to open: revoked below. */
	ops_customer_set_suspended(c->store, NULL, &cli_actor, c->pos[0],
	    suspended, &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	printf("customer %s %s\n", c->pos[0],
	    suspended ? "suspended" : "resumed");
	/* SPEC 1: suspending revokes the customer's authorizations at
	   once; the daemon also checks the standing at every MAIL. */
	if (!suspended)
		return 0;
	r = cli_relay_revoke_customer(c, c->pos[0], &n);
	tell_daemon(c, c->pos[0], n);
	return r;
}

static int
cmd_suspend(struct cli *c)
{
	return set_status(c, true);
}

static int
cmd_resume(struct cli *c)
{
	return set_status(c, false);
}

static int
cmd_delete(struct cli *c)
{
	struct ops_result res;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	ops_customer_delete(c->store, NULL, &cli_actor, c->pos[0], c->force,
	    &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	printf("customer %s deleted (Maildirs under %s are kept)\n",
	    c->pos[0], c->cfg->mail_dir);
	return cli_relay_revoke_customer(c, c->pos[0], NULL);
}

static const struct cli_cmd cmds[] = {
	{ "add", cmd_add, 0, 1, 1, "NAME", "add a customer (active)" },
	{ "list", cmd_list, OPT_JSON, 0, 0, "", "list the customers" },
	{ "show", cmd_show, OPT_JSON, 1, 1, "NAME", "show one customer" },
	{ "suspend", cmd_suspend, 0, 1, 1, "NAME",
	    "suspend: no relaying, authorizations revoked at once" },
	{ "resume", cmd_resume, 0, 1, 1, "NAME", "make active again" },
	{ "delete", cmd_delete, OPT_FORCE, 1, 1, "NAME [--force]",
	    "delete (--force: with its domains and mailboxes)" },
};

int
cli_customer(int argc, char **argv)
{
	return cli_dispatch("customer", cmds, nitems(cmds), argc, argv);
}
