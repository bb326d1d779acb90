/*
 * cli_srs.c - popgate srs show|rotate|encode|decode: the Sender
 * Rewriting Scheme of forwarded mail (SPEC 10, policy_srs.c).
 *
 * `encode` and `decode` ask the daemon's own functions what it would
 * do with a sender or a bounce address now (or on a given day), so an
 * administrator can follow a bounce back by hand. `rotate` makes a new
 * secret; the one before still takes back what it made, until the next
 * rotation: rotate no more often than srs_max_age.
 */
#include <time.h>

#include "cli/cli.h"
#include "policy/policy.h"
#include "util/compat.h"

/* Backends over the command's store, for the policy functions. */
static void
backends_of(struct cli *c, struct backends *b)
{
	memset(b, 0, sizeof(*b));
	b->cfg = c->cfg;
	b->store = c->store;
	b->data_fd = c->data_fd;
}

static int
cmd_show(struct cli *c)
{
	struct store_srs_secrets sec;
	char when[32], prev[32];
	const char *err;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	if ((r = store_srs_get(c->store, &sec, &err)) == -1)
		return cli_store_result(c, -1, err);
	cli_fmt_time(when, sizeof(when), sec.created);
	cli_fmt_time(prev, sizeof(prev), sec.previous_created);
	printf("srs: %s\nsrs_domain: %s\nsrs_max_age: %llu days\n"
	    "srs_bounces_only: %s\nsecret: %s\nprevious secret: %s\n",
	    c->cfg->srs ? "yes" : "no", c->cfg->srs_domain,
	    (unsigned long long)(c->cfg->srs_max_age / SRS_DAY),
	    c->cfg->srs_bounces_only ? "yes" : "no",
	    r == 1 ? when : "none yet (made on first need)",
	    sec.previous[0] != '\0' ? prev : "none");
	printf("; %s must take mail here (an MX or A record naming this "
	    "host) and publish SPF for it, e.g.\n; %s. IN TXT \"v=spf1 a mx "
	    "-all\"\n", c->cfg->srs_domain, c->cfg->srs_domain);
	explicit_bzero(&sec, sizeof(sec));
	return 0;
}

static int
cmd_rotate(struct cli *c)
{
	char secret[STORE_SRS_SECRET_MAX + 1];
	const char *err = "";
	int r;

	if ((r = cli_open(c)) != 0 || (r = cli_begin(c)) != 0)
		return r;
	if (policy_srs_make_secret(secret, sizeof(secret)) == -1) {
		store_rollback(c->store);
		cli_err(c, "no random octets for the secret");
		return EXIT_SYSTEM;
	}
	r = store_srs_rotate(c->store, secret, (int64_t)time(NULL), &err);
	explicit_bzero(secret, sizeof(secret));
	if ((r = cli_finish(c, r, err)) != 0)
		return r;
	printf("srs: a new secret signs from now on; the previous one still "
	    "takes back the addresses it made (rotate again no sooner than "
	    "srs_max_age)\n");
	return 0;
}

/* DATE (YYYY-MM-DD, UTC) at noon into *T_R: 0, or an exit code. */
static int
parse_day(struct cli *c, const char *date, time_t *t_r)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(date, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0' || tm.tm_year < 70) {
		cli_err(c, "bad date '%s': expected YYYY-MM-DD", date);
		return EXIT_USER;
	}
	tm.tm_hour = 12;
	*t_r = timegm(&tm);
	return 0;
}

static int
cmd_encode(struct cli *c)
{
	struct backends b;
	char out[ADDR_BUFSZ];
	const char *why, *err, *sender = c->pos[0];
	time_t now = time(NULL);
	int r;

	if (c->npos > 1 && (r = parse_day(c, c->pos[1], &now)) != 0)
		return r;
	if ((r = cli_open(c)) != 0)
		return r;
	backends_of(c, &b);
	r = policy_srs_forward(&b, strcmp(sender, "<>") == 0 ? "" : sender,
	    now, out, &why, &err);
	if (r == -1)
		return cli_store_result(c, -1, err);
	if (r == 1) {
		printf("%s\n", out);
		return 0;
	}
	cli_err(c, "<%s> is not rewritten: %s", sender, why != NULL ? why :
	    !c->cfg->srs ? "srs = no" : "the null sender, a hosted domain or "
	    "the SRS domain itself");
	return EXIT_USER;
}

static int
cmd_decode(struct cli *c)
{
	struct backends b;
	struct mailaddr a;
	struct addr_canon orig;
	enum srs_status st;
	char out[ADDR_BUFSZ];
	const char *err, *addr = c->pos[0];
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	if (addr_parse(addr, strlen(addr), ADDR_F_UTF8, &a, &err) == -1) {
		cli_err(c, "bad address '%s': %s", addr, err);
		return EXIT_USER;
	}
	if (!policy_srs_is_ours(c->cfg, &a)) {
		cli_err(c, "<%s> is no SRS address of %s%s", addr,
		    c->cfg->srs_domain, c->cfg->srs ? "" : " (srs = no)");
		return EXIT_USER;
	}
	backends_of(c, &b);
	r = policy_srs_reverse(&b, &a, time(NULL), out, &orig, &st, &err);
	if (r == -1)
		return cli_store_result(c, -1, err);
	if (r == 0) {
		cli_err(c, "<%s>: %s", addr, srs_status_text(st));
		return EXIT_USER;
	}
	printf("%s\n", out);
	return 0;
}

static const struct cli_cmd cmds[] = {
	{ "show", cmd_show, 0, 0, 0, "",
	    "the SRS settings, the secrets' age, the DNS the domain needs" },
	{ "rotate", cmd_rotate, 0, 0, 0, "",
	    "a new secret; the previous one still takes back its addresses" },
	{ "encode", cmd_encode, 0, 1, 2, "SENDER [YYYY-MM-DD]",
	    "the address forwarded mail from SENDER leaves with (made now, "
	    "or on that day)" },
	{ "decode", cmd_decode, 0, 1, 1, "ADDRESS",
	    "the address a bounce to the SRS address ADDRESS goes back to" },
};

int
cli_srs(int argc, char **argv)
{
	return cli_dispatch("srs", cmds, nitems(cmds), argc, argv);
}
