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
	struct cli_table t;
	const char *err;
	int r;

	if ((r = open_relay(c, &ra)) != 0)
		return r;
	cli_table_init(&t, cols, nitems(cols), NULL);
	r = relay_list(ra, clock_now(), add_row, &t, &err);
	if (r == 0)
		cli_table_print(&t, c->json);
	else
		cli_err(c, "%s", err);
	cli_table_free(&t);
	relay_close(&ra);
	return r == 0 ? 0 : EXIT_SYSTEM;
}

/* The table key for an address or network typed by the administrator:
   a host (an IPv6 one widened to relay_ipv6_prefix) is keyed like a
   login; any other network is stored as a network. */
static int
parse_target(struct cli *c, const char *arg, struct relay_entry *e)
{
	struct netprefix p;
	unsigned host_bits;

	if (net_prefix_parse(arg, false, &p) == -1) {
		cli_err(c, "bad address or network '%s' (expected e.g. "
		    "192.0.2.7, 192.0.2.0/24 or 2001:db8::/64)", arg);
		return EXIT_USER;
	}
	host_bits = p.addr.family == AF_INET ? 32 :
	    (unsigned)c->cfg->relay_ipv6_prefix;
	if (p.bits == (p.addr.family == AF_INET ? 32 : 128) ||
	    p.bits == host_bits) {
		relay_key(&p.addr, (unsigned)c->cfg->relay_ipv6_prefix, e->key,
		    sizeof(e->key));
		e->net = false;
	} else {
		net_prefix_format(&p, e->key, sizeof(e->key));
		e->net = true;
	}
	return 0;
}

static int
cmd_allow(struct cli *c)
{
	struct relay_auth *ra = NULL;
	struct store_customer cu;
	struct relay_entry e;
	const char *err;
	char until[32];
	time_t now = clock_now();
	int r;

	if (c->customer == NULL) {
		cli_err(c, "whose authorization is it? give --customer NAME");
		return EXIT_USER;
	}
	if ((r = open_relay(c, &ra)) != 0)
		return r;
	memset(&e, 0, sizeof(e));
	if ((r = parse_target(c, c->pos[0], &e)) != 0)
		goto out;
	r = store_customer_get(c->store, c->customer, &cu, &err);
	if (r != 1) {
		if (r == 0)
			cli_err(c, "no customer '%s'", c->customer);
		else
			cli_err(c, "%s", err);
		r = r == 0 ? EXIT_USER : EXIT_SYSTEM;
		goto out;
	}
	if (cu.suspended) {
		cli_err(c, "customer '%s' is suspended: it may not relay",
		    cu.name);
		r = EXIT_USER;
		goto out;
	}
	(void)str_copy(e.customer, cu.name, sizeof(e.customer));
	(void)str_copy(e.listener, "cli", sizeof(e.listener));
	e.opened = now;
	e.expires = now + (time_t)(c->have_for ? c->duration :
	    c->cfg->relay_window);
	if (relay_record(ra, &e, &err) == -1) {
		cli_err(c, "%s", err);
		r = EXIT_SYSTEM;
		goto out;
	}
	cli_fmt_time(until, sizeof(until), e.expires);
	printf("relay open for %s (customer %s) until %s UTC\n", e.key,
	    e.customer, until);
	r = 0;
out:
	relay_close(&ra);
	return r;
}

static int
cmd_revoke(struct cli *c)
{
	struct relay_auth *ra = NULL;
	struct relay_entry e;
	const char *err;
	int r, n;

	if (c->npos == 0 && c->customer == NULL) {
		cli_err(c, "give an address or network, --customer NAME, or "
		    "both");
		return EXIT_USER;
	}
	if ((r = open_relay(c, &ra)) != 0)
		return r;
	memset(&e, 0, sizeof(e));
	if (c->npos > 0 && (r = parse_target(c, c->pos[0], &e)) != 0) {
		relay_close(&ra);
		return r;
	}
	n = relay_revoke(ra, c->npos > 0 ? e.key : NULL, c->customer, &err);
	if (n < 0) {
		cli_err(c, "%s", err);	/* ERR may live in RA */
		relay_close(&ra);
		return EXIT_SYSTEM;
	}
	relay_close(&ra);
	printf("%d authorization(s) revoked\n", n);
	return 0;
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

static void
explain_line(void *arg, const char *rule, int ok, const char *detail)
{
	(void)arg;
	printf("  %-18s %-5s %s\n", rule, ok == 1 ? "yes" : ok == 0 ? "NO" :
	    "ERROR", detail);
}

/* The verdict on a recipient in a hosted domain. */
static void
explain_hosted(const struct addr_canon *rcpt, int r,
    const struct policy_decision *d)
{
	printf("  %s is a hosted domain: inbound mail, accepted from anyone; "
	    "no relay rule applies.\n  => ", rcpt->a.domain);
	if (r == 1)
		printf("accepted (250 2.1.5)\n");
	else if (d->reason == POLICY_UNKNOWN_USER)
		printf("refused: 550 5.1.1 no such mailbox here\n");
	else
		printf("refused by rule %s: %d %s\n",
		    policy_reason_name(d->reason), d->code, d->esc);
}

/* The client, sender and recipient of `relay explain`, parsed as the
   server parses them; SENDER NULL for <>. 0 or EXIT_USER. */
static int
explain_args(struct cli *c, struct relay_session *rs, struct mailaddr *sa,
    const struct mailaddr **sender_r, struct policy_rcpt *rcpt)
{
	const char *err = "";

	memset(rs, 0, sizeof(*rs));
	memset(rcpt, 0, sizeof(*rcpt));
	if (net_addr_parse(c->pos[0], &rs->client) == -1) {
		cli_err(c, "bad client address '%s'", c->pos[0]);
		return EXIT_USER;
	}
	*sender_r = NULL;
	if (strcmp(c->pos[1], "<>") != 0 && strcmp(c->pos[1], "") != 0) {
		if (addr_parse(c->pos[1], strlen(c->pos[1]), 0, sa, &err) ==
		    -1) {
			cli_err(c, "bad sender '%s': %s (use <> for the null "
			    "sender)", c->pos[1], err);
			return EXIT_USER;
		}
		*sender_r = sa;
	}
	if (addr_parse(c->pos[2], strlen(c->pos[2]), ADDR_F_LITERAL,
	    &rcpt->addr, &err) == -1) {
		cli_err(c, "bad recipient '%s': %s", c->pos[2], err);
		return EXIT_USER;
	}
	rs->role = ROLE_SMTP;
	return 0;
}

/* popgate relay explain IP SENDER RECIPIENT: every rule, now, by the
   server's own RCPT decision (policy_check_rcpt). */
static int
cmd_explain(struct cli *c)
{
	struct backends b;
	struct relay_session rs;
	struct policy_decision d;
	struct relay_trace t = { explain_line, NULL };
	struct policy_tx tx;
	struct policy_rcpt rcpt;
	struct addr_canon key;
	struct mailaddr sa;
	const struct mailaddr *sender;
	char grant[512];
	int r;

	if ((r = explain_args(c, &rs, &sa, &sender, &rcpt)) != 0 ||
	    (r = cli_open(c)) != 0)
		return r;
	addr_canon_set(&key, &rcpt.addr);
	memset(&b, 0, sizeof(b));
	b.cfg = c->cfg;
	b.data_fd = c->data_fd;
	b.store = c->store;
	rs.trusted = netlist_match(&c->cfg->trusted_networks, &rs.client);
	policy_tx_init(&tx, c->cfg, sender, sender == NULL ? ADDR_PATH_NULL :
	    ADDR_PATH_MAILBOX, 0);
	tx.no_holds = true;	/* it only tells: nothing held, nothing sent */
	printf("client %s, sender <%s>, recipient <%s>:\n", c->pos[0],
	    tx.sender, key.text);
	r = policy_check_rcpt(&b, &rs, &tx, &rcpt, clock_now(), &t, &d);
	relay_close(&b.relay);
	b.store = NULL;
	policy_tx_free(&tx);
	if (r == -1 && !d.relayed) {
		cli_err(c, "%s", d.why);
		return EXIT_SYSTEM;
	}
	if (!d.relayed) {
		explain_hosted(&key, r, &d);
	} else if (r == 1) {
		policy_grant_describe(&d.grant, grant, sizeof(grant));
		printf("  => relayed now (%s); From: must name the same "
		    "customer, size at most %llu octets\n", grant,
		    (unsigned long long)c->cfg->relay_max_message_size);
	} else {
		printf("  => refused by rule %s: %d %s %s\n",
		    policy_reason_name(d.reason), d.code, d.esc, d.text);
	}
	return 0;
}

static const struct cli_cmd cmds[] = {
	{ "list", cmd_list, OPT_JSON, 0, 0, "",
	    "the live relay authorizations" },
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
