/*
 * cli_token.c - popgate token add|list|revoke: the bearer tokens of the
 * API (SPEC 12). The secret is made here from 256 random bits, printed
 * once, and only its SHA-256 is stored (src/ops/ops_token.c); a revoked
 * token fails on the daemon's next request, which reads the store.
 */
#include <time.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "ops/ops.h"
#include "util/compat.h"

static const char *const cols[] = { "name", "scope", "created",
	"expires" };
static const bool numeric[] = { false, false, false, false };

static void
add_row(const struct store_token *t, void *arg)
{
	char scope[16 + STORE_NAME_MAX], created[32], expires[32];

	if (t->customer[0] == '\0')
		(void)str_copy(scope, "admin", sizeof(scope));
	else
		(void)str_fmt(scope, sizeof(scope), "customer:%s",
		    t->customer);
	cli_fmt_time(created, sizeof(created), t->created);
	if (t->expires == 0)
		(void)str_copy(expires, "never", sizeof(expires));
	else
		cli_fmt_time(expires, sizeof(expires), t->expires);
	cli_table_row(arg, t->name, scope, created, expires);
}

static int
cmd_add(struct cli *c)
{
	char secret[OPS_TOKEN_SECRET_LEN + 1], expires[32];
	struct ops_result res;
	struct store_token t;
	const char *err;
	int r;

	memset(&t, 0, sizeof(t));
	if (c->scope == NULL) {
		cli_err(c, "what may it change? give --scope admin or "
		    "--scope customer:NAME");
		return EXIT_USER;
	}
	if (ops_token_scope(c->scope, &t, &res) == -1)
		return cli_ops_result(c, &res);
	if (str_copy(t.name, c->pos[0], sizeof(t.name)) == -1) {
		cli_err(c, "bad token name: 1 to %d characters",
		    STORE_NAME_MAX);
		return EXIT_USER;
	}
	if ((r = cli_open(c)) != 0)
		return r;
	if (ops_token_secret(secret) == -1) {
		cli_err(c, "no random bytes for the secret");
		return EXIT_SYSTEM;
	}
	ops_token_hash(secret, strlen(secret), t.hash);
	t.created = time(NULL);
	t.expires = c->have_expires ? t.created + (int64_t)c->expires : 0;
	if ((r = cli_begin(c)) != 0)
		goto out;
	r = store_token_add(c->store, &t, &err);
	if ((r = cli_finish(c, r, err)) != 0)
		goto out;
	if (t.expires == 0)
		(void)str_copy(expires, "never", sizeof(expires));
	else
		cli_fmt_time(expires, sizeof(expires), t.expires);
	printf("token %s added (scope %s, expires %s); its secret, shown "
	    "only now:\n%s\n", t.name, c->scope, expires, secret);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	return r;
}

static int
cmd_list(struct cli *c)
{
	struct cli_table t;
	const char *err;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	cli_table_init(&t, cols, nitems(cols), numeric);
	r = store_token_list(c->store, add_row, &t, &err);
	if (r == 0)
		cli_table_print(&t, c->json);
	cli_table_free(&t);
	return cli_store_result(c, r, err);
}

static int
cmd_revoke(struct cli *c)
{
	const char *err;
	int r;

	if ((r = cli_open(c)) != 0 || (r = cli_begin(c)) != 0)
		return r;
	r = store_token_delete(c->store, c->pos[0], &err);
	if ((r = cli_finish(c, r, err)) != 0)
		return r;
	printf("token %s revoked\n", c->pos[0]);
	return 0;
}

static const struct cli_cmd cmds[] = {
	{ "add", cmd_add, OPT_SCOPE | OPT_EXPIRES, 1, 1,
	    "NAME --scope admin|customer:NAME [--expires DURATION]",
	    "a new API token; its secret is printed once" },
	{ "list", cmd_list, OPT_JSON, 0, 0, "", "list the API tokens" },
	{ "revoke", cmd_revoke, 0, 1, 1, "NAME",
	    "delete a token: it stops working at once" },
};

int
cli_token(int argc, char **argv)
{
	return cli_dispatch("token", cmds, nitems(cmds), argc, argv);
}
