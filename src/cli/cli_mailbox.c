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
	struct mailaddr a;
	const char *err;
	int r;

	if (store_parse_address(c->pos[0], &a, &err) == -1) {
		cli_err(c, "bad address '%s': %s", c->pos[0], err);
		return EXIT_USER;
	}
	if ((r = cli_open(c)) != 0 || (r = get_hash(c, hash, sizeof(hash))) !=
	    0 || (r = cli_begin(c)) != 0)
		return r;
	r = store_mailbox_add(c->store, c->pos[0], hash, c->quota, &err);
	if (r == 0 && maildir_create(c->data_fd,
	    config_rel(c->cfg, c->cfg->mail_dir),
	    a.domain, a.local, &err) == -1) {
		store_rollback(c->store);
		cli_err(c, "cannot create the Maildir: %s", err);
		return EXIT_SYSTEM;
	}
	if ((r = cli_finish(c, r, err)) != 0)
		return r;
	printf("mailbox %s added\n", c->pos[0]);
	return 0;
}

static int
cmd_list(struct cli *c)
{
	char filter[80 + ADDR_DOMAIN_MAX];
	struct cli_table t;
	const char *err;
	int r;

	if (c->npos > 0 && c->customer != NULL) {
		cli_err(c, "give a domain or --customer, not both");
		return EXIT_USER;
	}
	if (c->customer != NULL)
		(void)str_fmt(filter, sizeof(filter), "customer:%s",
		    c->customer);
	else if (c->npos > 0)
		(void)str_copy(filter, c->pos[0], sizeof(filter));
	if ((r = cli_open(c)) != 0 || (r = cli_need_filter(c, c->customer,
	    c->npos > 0 ? c->pos[0] : NULL)) != 0)
		return r;
	cli_table_init(&t, cols, nitems(cols), numeric);
	r = store_mailbox_list(c->store, c->customer != NULL || c->npos > 0 ?
	    filter : NULL, add_row, &t, &err);
	if (r == 0)
		cli_table_print(&t, c->json);
	cli_table_free(&t);
	return cli_store_result(c, r, err);
}

static int
cmd_show(struct cli *c)
{
	struct store_mailbox m;
	struct cli_table t;
	const char *err;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	r = store_mailbox_get(c->store, c->pos[0], &m, &err);
	if (r <= 0) {
		if (r == 0)
			cli_err(c, "no mailbox '%s'", c->pos[0]);
		return r == 0 ? EXIT_USER : cli_store_result(c, -1, err);
	}
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
	const char *err;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	/* Refuse an unknown mailbox before asking for a password. */
	r = store_mailbox_get(c->store, c->pos[0], &m, &err);
	if (r <= 0) {
		if (r == 0)
			cli_err(c, "no mailbox '%s'", c->pos[0]);
		return r == 0 ? EXIT_USER : cli_store_result(c, -1, err);
	}
	if ((r = get_hash(c, hash, sizeof(hash))) != 0 ||
	    (r = cli_begin(c)) != 0)
		return r;
	r = store_mailbox_set_hash(c->store, c->pos[0], hash, &err);
	if ((r = cli_finish(c, r, err)) != 0)
		return r;
	printf("password of %s changed\n", c->pos[0]);
	return 0;
}

static int
cmd_quota(struct cli *c)
{
	const char *err;
	uint64_t q;
	int r;

	if (strcmp(c->pos[1], "unlimited") == 0)
		q = 0;
	else if (str_parse_size(c->pos[1], &q) == -1) {
		cli_err(c, "bad quota '%s' (expected a size like 500M or 2G, "
		    "or 0 or unlimited)", c->pos[1]);
		return EXIT_USER;
	}
	if ((r = cli_open(c)) != 0 || (r = cli_begin(c)) != 0)
		return r;
	r = store_mailbox_set_quota(c->store, c->pos[0], q, &err);
	if ((r = cli_finish(c, r, err)) != 0)
		return r;
	printf("quota of %s set to %s\n", c->pos[0], q == 0 ? "unlimited" :
	    c->pos[1]);
	return 0;
}

static int
cmd_delete(struct cli *c)
{
	const char *err;
	int r;

	if ((r = cli_open(c)) != 0 || (r = cli_begin(c)) != 0)
		return r;
	r = store_mailbox_delete(c->store, c->pos[0], &err);
	if ((r = cli_finish(c, r, err)) != 0)
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
