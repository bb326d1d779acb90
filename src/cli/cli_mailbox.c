/*
 * cli_mailbox.c - popgate mailbox add|list|show|passwd|quota|delete.
 *
 * Passwords come from standard input (one line) when it is not a
 * terminal, else from a prompt without echo; they are hashed with
 * yescrypt here, so the store never sees them. --hash imports an existing
 * crypt(3) hash instead. The Maildir is created with the mailbox.
 */
#include <errno.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "ops/ops.h"
#include "maildir/maildir.h"
#include "util/compat.h"

static const char *const cols[] = { "address", "customer", "quota",
	"status", "created" };
static const bool numeric[] = { false, false, false, false, false };

static void
add_row(const struct store_mailbox *m, void *arg)
{
	char q[32], created[32];

	if (m->quota == 0)
		(void)str_copy(q, "unlimited", sizeof(q));
	else
		str_fmt_size(q, sizeof(q), m->quota);
	cli_fmt_time(created, sizeof(created), m->created);
	cli_table_row(arg, m->address, m->customer, q,
	    m->suspended ? "suspended" : "active", created);
}

/* The hash for the command: --hash, or a password read and hashed. */
static int
get_hash(struct cli *c, char *hash, size_t hashsz)
{
	char pw[PASSWD_MAX + 2];
	const char *err;
	int r;

	if (c->hash != NULL) {
		if (passwd_check_hash(c->hash) == -1) {
			cli_err(c, "--hash is not a supported crypt(3) hash "
			    "(expected $y$, $6$ or $2b$...)");
			return EXIT_USER;
		}
		(void)str_copy(hash, c->hash, hashsz);
		return 0;
	}
	if ((r = cli_read_password(c, pw, sizeof(pw))) != 0)
		return r;
	r = passwd_hash(pw, hash, hashsz, &err);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (r == -1) {
		cli_err(c, "%s", err);
		return EXIT_SYSTEM;
	}
	return 0;
}

static int
cmd_add(struct cli *c)
{
	char hash[PASSWD_HASH_MAX + 1];
	struct ops_result res;
	struct ops_env env;
	struct mailaddr a;
	const char *err;
	int r;

	if (store_parse_address(c->pos[0], &a, &err) == -1) {
		cli_err(c, "bad address '%s': %s", c->pos[0], err);
		return EXIT_USER;
	}
	if ((r = cli_open(c)) != 0 || (r = get_hash(c, hash, sizeof(hash))) !=
	    0)
		return r;
	env.data_fd = c->data_fd;
	env.mail_dir = config_rel(c->cfg, c->cfg->mail_dir);
	env.relay = NULL;
	ops_mailbox_add(c->store, &env, &cli_actor, c->pos[0], hash, c->quota,
	    &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	printf("mailbox %s added\n", c->pos[0]);
	return 0;
}

static int
cmd_list(struct cli *c)
{
	struct ops_result res;
	struct cli_table t;
	int r;

	if (c->npos > 0 && c->customer != NULL) {
		cli_err(c, "give a domain or --customer, not both");
		return EXIT_USER;
	}
	if ((r = cli_open(c)) != 0)
		return r;
	cli_table_init(&t, cols, nitems(cols), numeric);
	ops_mailbox_list(c->store, &cli_actor, c->npos > 0 ? c->pos[0] : NULL,
	    c->customer, NULL, add_row, &t, &res);
	if (res.status == OPS_OK)
		cli_table_print(&t, c->json);
	cli_table_free(&t);
	return cli_ops_result(c, &res);
}

static int
cmd_show(struct cli *c)
{
	struct store_mailbox m;
	struct ops_result res;
	struct cli_table t;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	ops_mailbox_get(c->store, &cli_actor, c->pos[0], &m, &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	cli_table_init(&t, cols, nitems(cols), numeric);
	add_row(&m, &t);
	cli_table_print_record(&t, c->json);
	cli_table_free(&t);
	return 0;
}

static int
cmd_passwd(struct cli *c)
{
	char hash[PASSWD_HASH_MAX + 1];
	struct store_mailbox m;
	struct ops_result res;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	/* Refuse an unknown mailbox before asking for a password. */
	ops_mailbox_get(c->store, &cli_actor, c->pos[0], &m, &res);
	if ((r = cli_ops_result(c, &res)) != 0 ||
	    (r = get_hash(c, hash, sizeof(hash))) != 0)
		return r;
	ops_mailbox_set_hash(c->store, &cli_actor, c->pos[0], hash, &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	printf("password of %s changed\n", c->pos[0]);
	return 0;
}

static int
cmd_quota(struct cli *c)
{
	struct ops_result res;
	uint64_t q;
	int r;

	if (strcmp(c->pos[1], "unlimited") == 0)
		q = 0;
	else if (str_parse_size(c->pos[1], &q) == -1) {
		cli_err(c, "bad quota '%s' (expected a size like 500M or 2G, "
		    "or 0 or unlimited)", c->pos[1]);
		return EXIT_USER;
	}
	if ((r = cli_open(c)) != 0)
		return r;
	ops_mailbox_set_quota(c->store, &cli_actor, c->pos[0], q, &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	printf("quota of %s set to %s\n", c->pos[0], q == 0 ? "unlimited" :
	    c->pos[1]);
	return 0;
}

static int
cmd_delete(struct cli *c)
{
	struct ops_result res;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	ops_mailbox_delete(c->store, &cli_actor, c->pos[0], &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	printf("mailbox %s deleted (its Maildir is kept)\n", c->pos[0]);
	return 0;
}

static const struct cli_cmd cmds[] = {
	{ "add", cmd_add, OPT_QUOTA | OPT_HASH, 1, 1,
	    "ADDRESS [--quota SIZE] [--hash HASH]",
	    "add a mailbox; the password comes from stdin or a prompt" },
	{ "list", cmd_list, OPT_JSON | OPT_CUSTOMER, 0, 1,
	    "[DOMAIN | --customer NAME]", "list mailboxes" },
	{ "show", cmd_show, OPT_JSON, 1, 1, "ADDRESS", "show one mailbox" },
	{ "passwd", cmd_passwd, OPT_HASH, 1, 1, "ADDRESS [--hash HASH]",
	    "set a new password (stdin or prompt)" },
	{ "quota", cmd_quota, 0, 2, 2, "ADDRESS SIZE",
	    "set the quota (0 or unlimited: none)" },
	{ "delete", cmd_delete, 0, 1, 1, "ADDRESS",
	    "delete (the Maildir stays on disk)" },
};

int
cli_mailbox(int argc, char **argv)
{
	return cli_dispatch("mailbox", cmds, nitems(cmds), argc, argv);
}
