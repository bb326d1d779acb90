/*
 * cli_relay.c - popgate relay list|allow|revoke|explain: the live relay
 * authorizations, edited in the table the daemon reads, so a change acts
 * on the running daemon at once.
 *
 * `allow` lets another POP/IMAP server (a Dovecot post-login script, for
 * example) open the relay, so popgate can front an existing system.
 */
#include <time.h>

#include "cli/cli.h"
#include "ops/ops.h"
#include "policy/policy.h"
#include "relay/relay_auth.h"
#include "util/clock.h"
#include "util/compat.h"

static const char *const cols[] = { "address", "customer", "mailbox",
	"client", "listener", "opened", "expires" };

static int
open_relay(struct cli *c, struct relay_auth **ra)
{
	const char *err;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	*ra = relay_open(c->cfg->relay_store, c->data_path, &c->open_error,
	    &err);
	if (*ra == NULL) {
		cli_err(c, "%s", err);
		return EXIT_SYSTEM;
	}
	return 0;
}

static void
add_row(const struct relay_entry *e, void *arg)
{
	char opened[32], expires[32];

	cli_fmt_time(opened, sizeof(opened), e->opened);
	cli_fmt_time(expires, sizeof(expires), e->expires);
	cli_table_row(arg, e->key, e->customer, e->mailbox[0] != '\0' ?
	    e->mailbox : "-", e->client[0] != '\0' ? e->client : "-",
	    e->listener, opened, expires);
}

static int
cmd_list(struct cli *c)
{
	struct relay_auth *ra = NULL;
	struct ops_result res;
	struct cli_table t;
	int r;

	if ((r = open_relay(c, &ra)) != 0)
		return r;
	cli_table_init(&t, cols, nitems(cols), NULL);
	ops_relay_list(ra, &cli_actor, c->customer, clock_now(), add_row, &t,
	    &res);
	if ((r = cli_ops_result(c, &res)) == 0)
		cli_table_print(&t, c->json);
	cli_table_free(&t);
	relay_close(&ra);
	return r;
}

static int
cmd_allow(struct cli *c)
{
	struct relay_auth *ra = NULL;
	struct ops_result res;
	struct relay_entry e;
	char until[32];
	int r;

	if (c->customer == NULL) {
		cli_err(c, "whose authorization is it? give --customer NAME");
		return EXIT_USER;
	}
	if ((r = open_relay(c, &ra)) != 0)
		return r;
	memset(&e, 0, sizeof(e));
	(void)str_copy(e.listener, "cli", sizeof(e.listener));
	if (ops_relay_target(c->pos[0], (unsigned)c->cfg->relay_ipv6_prefix,
	    &e, &res) == 0)
		ops_relay_allow(c->store, ra, &cli_actor, c->customer,
		    clock_now(), c->have_for ? c->duration :
		    c->cfg->relay_window, &e, &res);
	relay_close(&ra);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	cli_fmt_time(until, sizeof(until), e.expires);
	printf("relay open for %s (customer %s) until %s UTC\n", e.key,
	    e.customer, until);
	return 0;
}

static int
cmd_revoke(struct cli *c)
{
	struct relay_auth *ra = NULL;
	struct ops_result res;
	struct relay_entry e;
	int r;

	if (c->npos == 0 && c->customer == NULL) {
		cli_err(c, "give an address or network, --customer NAME, or "
		    "both");
		return EXIT_USER;
	}
	if ((r = open_relay(c, &ra)) != 0)
		return r;
	memset(&e, 0, sizeof(e));
	if (c->npos == 0 || ops_relay_target(c->pos[0],
	    (unsigned)c->cfg->relay_ipv6_prefix, &e, &res) == 0)
		ops_relay_revoke(ra, &cli_actor, c->npos > 0 ? e.key : NULL,
		    c->customer, &res);
	/* The error may live in RA: said before closing. */
	r = cli_ops_result(c, &res);
	relay_close(&ra);
	if (r == 0)
		printf("%d authorization(s) revoked\n", res.revoked);
	return r;
}

int
cli_relay_revoke_customer(struct cli *c, const char *customer,
    int *revoked_r)
{
	struct relay_auth *ra;
	const char *err;
	char name[STORE_NAME_MAX + 1];
	int n;

	(void)str_copy(name, customer, sizeof(name));
	str_lower(name);
	ra = relay_open(c->cfg->relay_store, c->data_path, &c->open_error,
	    &err);
	n = ra != NULL ? relay_revoke(ra, NULL, name, &err) : -1;
	if (n < 0) {
		/* ERR may live in RA: say it before closing. */
		cli_err(c, "the change is made, but its relay authorizations "
		    "could not be revoked: %s", err);
		relay_close(&ra);
		return EXIT_SYSTEM;
	}
	relay_close(&ra);
	if (revoked_r != NULL)
		*revoked_r = n;
	if (n > 0)
		printf("%d relay authorization(s) of %s revoked\n", n, name);
	return 0;
}

/* The verdict on a recipient in a hosted domain. */
static void
explain_hosted(const struct ops_explain *x)
{
	printf("  %s is a hosted domain: inbound mail, accepted from anyone; "
	    "no relay rule applies.\n  => ", x->domain);
	if (x->accepted)
		printf("accepted (250 2.1.5)\n");
	else if (x->unknown_user)
		printf("refused: 550 5.1.1 no such mailbox here\n");
	else
		printf("refused by rule %s: %d %s\n", x->rule, x->code, x->esc);
}

/* popgate relay explain IP SENDER RECIPIENT: every rule, now, by the
   server's own RCPT decision (ops_relay_explain). */
static int
cmd_explain(struct cli *c)
{
	struct backends b;
	struct ops_explain x;
	struct ops_result res;
	size_t i;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	memset(&b, 0, sizeof(b));
	b.cfg = c->cfg;
	b.data_fd = c->data_fd;
	b.store = c->store;
	ops_relay_explain(&b, c->pos[0], c->pos[1], c->pos[2], clock_now(),
	    &x, &res);
	relay_close(&b.relay);
	b.store = NULL;
	if ((r = cli_ops_result(c, &res)) != 0) {
		ops_explain_free(&x);
		return r;
	}
	printf("client %s, sender <%s>, recipient <%s>:\n", c->pos[0],
	    x.sender, x.recipient);
	for (i = 0; i < x.nsteps; i++)
		printf("  %-18s %-5s %s\n", x.steps[i].rule, x.steps[i].ok ==
		    1 ? "yes" : x.steps[i].ok == 0 ? "NO" : "ERROR",
		    x.steps[i].detail);
	if (!x.relayed)
		explain_hosted(&x);
	else if (x.accepted)
		printf("  => relayed now (%s); From: must name the same "
		    "customer, size at most %llu octets\n", x.grant,
		    (unsigned long long)x.max_size);
	else
		printf("  => refused by rule %s: %d %s %s\n", x.rule, x.code,
		    x.esc, x.text);
	ops_explain_free(&x);
	return 0;
}

static const struct cli_cmd cmds[] = {
	{ "list", cmd_list, OPT_JSON | OPT_CUSTOMER, 0, 0,
	    "[--customer NAME]", "the live relay authorizations" },
	{ "allow", cmd_allow, OPT_CUSTOMER | OPT_FOR, 1, 1,
	    "IP|NETWORK --customer NAME [--for 90m]",
	    "open the relay for an address on behalf of a customer" },
	{ "revoke", cmd_revoke, OPT_CUSTOMER, 0, 1,
	    "[IP|NETWORK] [--customer NAME]", "close it again" },
	{ "explain", cmd_explain, 0, 3, 3, "IP SENDER RECIPIENT",
	    "which rule would allow or refuse that relay now, and why" },
};

int
cli_relay(int argc, char **argv)
{
	return cli_dispatch("relay", cmds, nitems(cmds), argc, argv);
}
