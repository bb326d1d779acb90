/*
 * policy_driver.c - runs the relay rules on golden files (STYLE.md 10).
 *
 * Each line of the .in file sets something up or asks a question; the
 * driver prints one line per question, and CI diffs that with the .ref:
 *
 *   config KEY = VALUE        a popgate.conf line (before any other)
 *   customer NAME             domain DOMAIN CUSTOMER
 *   mailbox ADDRESS           alias ADDRESS TARGET
 *   suspend NAME              resume NAME
 *   login IP MAILBOX [LISTENER]   a good POP3 login from IP
 *   allow NETWORK CUSTOMER    popgate relay allow
 *   revoke-customer NAME
 *   time +SECONDS             the clock moves on
 *   session IP [smtp|submission] [auth=MAILBOX]
 *   mail SENDER [SIZE]        ("<>" for the null sender)
 *   rcpt ADDRESS              -> prints the decision
 *   from FIELD-BODY           -> the From: rule for the transaction
 *   deliver                   -> counts the transaction (end of DATA)
 *   # comment
 *
 * The store and relay table live in a temporary directory; the clock is
 * frozen at 2027-01-15 08:00:00 UTC plus the "time" steps.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <unistd.h>

#include "policy/policy.h"
#include "store/passwd.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/compat.h"

#define T0 1800000000

static char tmpdir[] = "/tmp/popgate-policy-XXXXXX";
static time_t now = T0;
static struct config *cfg;
static struct buf cfgtext;
static struct backends b;
static struct relay_session rs;
static char sender[ADDR_BUFSZ];
static uint64_t size;
static size_t nrelayed;
static struct relay_grant grant;
static bool in_tx;
static unsigned lineno;

static void NORETURN PRINTFLIKE(1, 2)
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "policy_driver: line %u: ", lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void
need_config(void)
{
	struct strlist errs;
	const char *err;

	if (cfg != NULL)
		return;
	strlist_init(&errs);
	if (buf_printf(&cfgtext, "data_dir = %s\nhostname = mx.test\n",
	    tmpdir) == -1)
		die("config too long");
	cfg = config_parse("policy.conf", buf_cstr(&cfgtext), &errs);
	if (cfg == NULL)
		die("config: %s", errs.n > 0 ? errs.v[0] : "?");
	strlist_free(&errs);
	b.data_fd = fs_open_dir(AT_FDCWD, tmpdir);
	if (b.data_fd == -1)
		die("%s: %s", tmpdir, strerror(errno));
	b.cfg = cfg;
	if (backends_store(&b, &err) == NULL ||
	    store_migrate(b.store, &err) == -1)
		die("store: %s", err);
}

static void
check(int r, const char *err)
{
	if (r != 0)
		die("%s", err);
}

static void
show_verdict(const char *what, int r, const struct relay_verdict *v)
{
	char g[512];

	if (r == 1) {
		policy_grant_describe(&v->grant, g, sizeof(g));
		printf("%s -> ok (%s)\n", what, g);
	} else {
		printf("%s -> %d %s rule=%s (%s)\n", what, v->code, v->esc,
		    policy_rule_name(v->rule), v->text);
	}
}

static void
cmd_login(char *args)
{
	char ip[64], mbox[ADDR_BUFSZ], listener[32] = "pop3";
	struct login l;
	struct store_mailbox m;
	const char *err;

	if (sscanf(args, "%63s %319s %31s", ip, mbox, listener) < 2)
		die("login IP MAILBOX [LISTENER]");
	memset(&l, 0, sizeof(l));
	if (net_addr_parse(ip, &l.client) == -1)
		die("bad IP %s", ip);
	if (store_mailbox_get(b.store, mbox, &m, &err) != 1)
		die("no mailbox %s", mbox);
	l.mbox = m;
	(void)str_copy(l.listener, listener, sizeof(l.listener));
	policy_record_relay(&b, &l);
	printf("login %s %s -> relay %s%s%s\n", ip, mbox, l.relay_opened ?
	    "opened" : "not opened", l.relay_note != NULL ? ": " : "",
	    l.relay_note != NULL ? l.relay_note : "");
}

static void
cmd_allow(char *args)
{
	char net[64], cust[STORE_NAME_MAX + 1];
	struct relay_entry e;
	struct netprefix p;
	const char *err;

	if (sscanf(args, "%63s %64s", net, cust) != 2 ||
	    net_prefix_parse(net, false, &p) == -1)
		die("allow NETWORK CUSTOMER");
	memset(&e, 0, sizeof(e));
	net_prefix_format(&p, e.key, sizeof(e.key));
	e.net = p.bits != (p.addr.family == AF_INET ? 32u : 128u);
	(void)str_copy(e.customer, cust, sizeof(e.customer));
	(void)str_copy(e.listener, "cli", sizeof(e.listener));
	e.opened = now;
	e.expires = now + (time_t)cfg->relay_window;
	check(relay_record(backends_relay(&b, &err), &e, &err), err);
}

static void
cmd_session(char *args)
{
	char ip[64], role[32] = "smtp", auth[ADDR_BUFSZ + 8] = "";
	struct store_mailbox m;
	const char *err;

	if (sscanf(args, "%63s %31s %327s", ip, role, auth) < 1)
		die("session IP [ROLE] [auth=MAILBOX]");
	memset(&rs, 0, sizeof(rs));
	if (net_addr_parse(ip, &rs.client) == -1)
		die("bad IP %s", ip);
	rs.role = strcmp(role, "submission") == 0 ? ROLE_SUBMISSION :
	    ROLE_SMTP;
	rs.trusted = netlist_match(&cfg->trusted_networks, &rs.client);
	if (strncmp(auth, "auth=", 5) == 0) {
		if (store_mailbox_get(b.store, auth + 5, &m, &err) != 1)
			die("no mailbox %s", auth + 5);
		rs.authenticated = true;
		(void)str_copy(rs.auth_mailbox, m.address,
		    sizeof(rs.auth_mailbox));
		(void)str_copy(rs.auth_customer, m.customer,
		    sizeof(rs.auth_customer));
	}
	in_tx = false;
}

static void
cmd_mail(char *args)
{
	char s[ADDR_BUFSZ];
	unsigned long long sz = 0;
	struct relay_verdict v;
	char what[ADDR_BUFSZ + 16];
	int r;

	if (sscanf(args, "%319s %llu", s, &sz) < 1)
		die("mail SENDER [SIZE]");
	(void)str_copy(sender, strcmp(s, "<>") == 0 ? "" : s, sizeof(sender));
	size = sz;
	nrelayed = 0;
	memset(&grant, 0, sizeof(grant));
	in_tx = true;
	if (rs.role == ROLE_SMTP)
		return;
	/* Submission: the customer rules apply at MAIL. */
	r = policy_relay_check(&b, &rs, sender, size, 0, now, NULL, &v);
	(void)str_fmt(what, sizeof(what), "mail <%s>", sender);
	show_verdict(what, r, &v);
	if (r == 1)
		grant = v.grant;
	else
		in_tx = false;
}

static void
cmd_rcpt(char *args)
{
	char a[ADDR_BUFSZ + 8], what[ADDR_BUFSZ + 16];
	struct resolution res;
	struct relay_verdict v;
	const char *err;
	int r;

	if (!in_tx || sscanf(args, "%327s", a) != 1)
		die("rcpt ADDRESS (after mail)");
	r = policy_resolve(&b, a, false, &res, &err);
	if (r == -1)
		die("resolve: %s", err);
	(void)str_fmt(what, sizeof(what), "rcpt <%s>", a);
	if (res.hosted) {
		printf("%s -> %s\n", what, r == 1 ? "ok (hosted)" :
		    "550 5.1.1 (no such mailbox)");
		resolution_free(&res);
		return;
	}
	r = policy_relay_check(&b, &rs, sender, size, nrelayed, now, NULL,
	    &v);
	show_verdict(what, r, &v);
	if (r == 1) {
		grant = v.grant;
		nrelayed++;
	}
}

static void
cmd_from(char *args)
{
	struct relay_verdict v;
	struct buf h;
	int r;

	buf_init(&h, 65536);
	if (buf_printf(&h, "Subject: test\nFrom: %s\nTo: x@example.org\n",
	    args) == -1)
		die("from: too long");
	r = policy_check_from(&b, &grant, h.data, h.len, &v);
	if (r == 1)
		printf("from %s -> ok\n", args);
	else
		printf("from %s -> %d %s rule=%s (%s)\n", args, v.code, v.esc,
		    policy_rule_name(v.rule), v.text);
	buf_free(&h);
}

static void
cmd_deliver(void)
{
	const char *err;

	if (nrelayed > 0)
		check(policy_charge(&b, &grant, nrelayed, now, &err), err);
	printf("deliver -> %zu relayed recipient(s) counted\n", nrelayed);
	in_tx = false;
}

static void
setup(const char *cmd, char *args)
{
	char x[400], y[400];
	const char *err = "";
	char hash[PASSWD_HASH_MAX + 1];

	need_config();
	x[0] = y[0] = '\0';
	(void)sscanf(args, "%399s %399s", x, y);
	if (strcmp(cmd, "customer") == 0)
		check(store_customer_add(b.store, x, &err), err);
	else if (strcmp(cmd, "domain") == 0)
		check(store_domain_add(b.store, x, y, &err), err);
	else if (strcmp(cmd, "mailbox") == 0) {
		/* A fixed SHA-512-crypt hash: no yescrypt cost per line. */
		(void)str_copy(hash, "$6$saltsalt$ok", sizeof(hash));
		check(store_mailbox_add(b.store, x, hash, 0, &err), err);
	} else if (strcmp(cmd, "alias") == 0)
		check(store_alias_add(b.store, x, y, &err), err);
	else if (strcmp(cmd, "suspend") == 0 || strcmp(cmd, "resume") == 0)
		check(store_customer_set_suspended(b.store, x,
		    strcmp(cmd, "suspend") == 0, &err), err);
	else if (strcmp(cmd, "revoke-customer") == 0) {
		int n = relay_revoke(backends_relay(&b, &err), NULL, x, &err);

		if (n < 0)
			die("%s", err);
		printf("revoke-customer %s -> %d revoked\n", x, n);
	} else
		die("unknown command '%s'", cmd);
}

static void
line(char *l)
{
	char *args, *sp;

	l = str_trim(l);
	if (*l == '\0' || *l == '#')
		return;
	sp = strchr(l, ' ');
	args = sp != NULL ? sp + 1 : l + strlen(l);
	if (sp != NULL)
		*sp = '\0';
	if (strcmp(l, "config") == 0) {
		if (cfg != NULL)
			die("config after the first other line");
		if (buf_printf(&cfgtext, "%s\n", args) == -1)
			die("config too long");
		return;
	}
	if (strcmp(l, "time") == 0) {
		now += strtol(args, NULL, 10);
		clock_set_fake(now);
		return;
	}
	need_config();
	if (strcmp(l, "login") == 0)
		cmd_login(args);
	else if (strcmp(l, "allow") == 0)
		cmd_allow(args);
	else if (strcmp(l, "session") == 0)
		cmd_session(args);
	else if (strcmp(l, "mail") == 0)
		cmd_mail(args);
	else if (strcmp(l, "rcpt") == 0)
		cmd_rcpt(args);
	else if (strcmp(l, "from") == 0)
		cmd_from(args);
	else if (strcmp(l, "deliver") == 0)
		cmd_deliver();
	else
		setup(l, args);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) == -1 ? -1 : 0;
}

int
main(int argc, char **argv)
{
	char text[4096];
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: policy_driver FILE.in\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (f == NULL || mkdtemp(tmpdir) == NULL) {
		fprintf(stderr, "policy_driver: %s: %s\n", argv[1],
		    strerror(errno));
		return 2;
	}
	buf_init(&cfgtext, 65536);
	clock_set_fake(now);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(text, sizeof(text), f) != NULL) {
		lineno++;
		text[strcspn(text, "\n")] = '\0';
		line(text);
	}
	(void)fclose(f);
	store_close(&b.store);
	relay_close(&b.relay);
	config_free(&cfg);
	buf_free(&cfgtext);
	(void)nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
