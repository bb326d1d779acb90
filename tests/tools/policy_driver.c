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
 *   dnsbl ZONE[, ZONE...]     the session's client is listed at
 *                             dnsbl_threshold by those lists (what the
 *                             SMTP session finds at connect)
 *   mail SENDER [SIZE]        ("<>" for the null sender; on submission
 *                             -> prints the decision)
 *   rcpt ADDRESS              -> prints the decision
 *   bdat OCTETS               a BDAT chunk of OCTETS arrives (the size
 *                             rule of a later RCPT counts it)
 *   from FIELD-BODY           -> the end of DATA with that From: field,
 *                             the message then not stored (the
 *                             transaction stays open, its holds too)
 *   deliver                   -> the end of DATA, stored: its holds of
 *                             the hourly caps are its charge
 *   rset                      -> the transaction ends: its holds are
 *                             given back (so does a new mail, session)
 *   counters CUSTOMER         -> the hourly counters, holds included
 *   # comment
 *
 * MAIL and RCPT go through the server's own parser (smtp_parse_mail,
 * smtp_parse_rcpt) and decisions (policy_check_mail, policy_check_rcpt,
 * policy_end_of_data), so the goldens test the code the server runs.
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
#include "smtp/smtp_cmd.h"
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
static struct policy_tx tx;
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
show_decision(const char *what, int r, const struct policy_decision *d)
{
	char g[512];

	if (r == 1) {
		policy_grant_describe(&d->grant, g, sizeof(g));
		printf("%s -> ok (%s)\n", what, g);
	} else {
		printf("%s -> %d %s rule=%s (%s)\n", what, d->code, d->esc,
		    policy_reason_name(d->reason), d->text);
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

/* The transaction ends unaccepted: its holds go back. */
static void
end_tx(void)
{
	const char *err;

	if (policy_release(&b, &tx.holds, &err) == -1)
		die("release: %s", err);
	in_tx = false;
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
	end_tx();
}

static void
cmd_mail(char *args)
{
	char line[ADDR_BUFSZ + 64], what[ADDR_BUFSZ + 16], a[ADDR_BUFSZ];
	unsigned long long sz = 0;
	struct smtp_mail_args m;
	struct policy_decision d;
	enum reply_text_id rid;
	const char *err;
	int r;

	if (sscanf(args, "%319s %llu", a, &sz) < 1)
		die("mail SENDER [SIZE]");
	(void)str_fmt(line, sizeof(line), "FROM:<%s>", strcmp(a, "<>") == 0 ?
	    "" : a);
	if (sz > 0)
		(void)str_fmt(line + strlen(line), sizeof(line) - strlen(line),
		    " SIZE=%llu", sz);
	if (smtp_parse_mail(line, strlen(line), &m, &rid, &err) == -1)
		die("mail: %s", err);
	end_tx();
	policy_tx_free(&tx);
	policy_tx_init(&tx, cfg, &m.addr, m.kind, m.size);
	in_tx = true;
	r = policy_check_mail(&b, &rs, &tx, now, NULL, &d);
	if (policy_mail_blocks(&rs)) {
		/* Submission: the customer rules apply at MAIL. */
		(void)str_fmt(what, sizeof(what), "mail <%s>", tx.sender);
		show_decision(what, r, &d);
	}
	if (r != 1)
		in_tx = false;
}

static void
cmd_rcpt(char *args)
{
	char a[ADDR_BUFSZ + 8], line[ADDR_BUFSZ + 16], what[ADDR_BUFSZ + 16];
	struct smtp_rcpt_args ra;
	struct policy_rcpt rc;
	struct policy_decision d;
	enum reply_text_id rid;
	const char *err;
	int r;

	if (!in_tx || sscanf(args, "%327s", a) != 1)
		die("rcpt ADDRESS (after mail)");
	(void)str_fmt(line, sizeof(line), "TO:<%s>", a);
	if (smtp_parse_rcpt(line, strlen(line), false, &ra, &rid, &err) == -1)
		die("rcpt: %s", err);
	memset(&rc, 0, sizeof(rc));
	rc.addr = ra.addr;
	rc.postmaster = ra.kind == ADDR_PATH_POSTMASTER;
	r = policy_check_rcpt(&b, &rs, &tx, &rc, now, NULL, &d);
	(void)str_fmt(what, sizeof(what), "rcpt <%s>", a);
	if (d.relayed)
		show_decision(what, r, &d);
	else if (r == 1)
		printf("%s -> ok (hosted)\n", what);
	else if (d.reason == POLICY_UNKNOWN_USER)
		printf("%s -> 550 5.1.1 (no such mailbox)\n", what);
	else if (r == -1)
		die("resolve: %s", d.why);
	else
		printf("%s -> %d %s rule=%s\n", what, d.code, d.esc,
		    policy_reason_name(d.reason));
}

/* The store step of the end of DATA: stored, or not. */
static int
stored(void *arg)
{
	return *(const bool *)arg ? 0 : -1;
}

/* The end of DATA of the transaction with HEADERS; STORE: whether the
   message is then stored (and its holds kept as the charge; when not,
   the holds stay with the open transaction). */
static int
end_of_data(const char *headers, bool store, struct policy_decision *d)
{
	const char *err;
	int r;

	r = policy_end_of_data(&b, &tx.grant, tx.nrelayed, store ? &tx.holds :
	    NULL, headers, strlen(headers), stored, &store, d, &err);
	if (err != NULL)
		die("%s", err);
	return r;
}

static void
cmd_from(char *args)
{
	struct policy_decision d;
	struct buf h;
	int r;

	buf_init(&h, 65536);
	if (buf_printf(&h, "Subject: test\nFrom: %s\nTo: x@example.org\n",
	    args) == -1)
		die("from: too long");
	r = end_of_data(buf_cstr(&h), false, &d);
	if (r == 1)
		printf("from %s -> ok\n", args);
	else
		printf("from %s -> %d %s rule=%s (%s)\n", args, d.code, d.esc,
		    policy_reason_name(d.reason), d.text);
	buf_free(&h);
}

static void
cmd_deliver(void)
{
	struct policy_decision d;

	if (end_of_data("", true, &d) != 1)
		die("deliver: %s", d.text);
	printf("deliver -> %zu relayed recipient(s) counted\n", tx.nrelayed);
	in_tx = false;
}

static void
cmd_bdat(char *args)
{
	if (!in_tx)
		die("bdat OCTETS (after mail)");
	tx.received += strtoull(args, NULL, 10);
}

static void
cmd_rset(void)
{
	uint64_t m = 0, r = 0;
	size_t i;

	for (i = 0; i < tx.holds.n; i++) {
		m += tx.holds.v[i].msgs;
		r += tx.holds.v[i].rcpts;
	}
	end_tx();
	printf("rset -> %llu message(s), %llu recipient(s) given back\n",
	    (unsigned long long)m, (unsigned long long)r);
}

static void
cmd_counters(char *args)
{
	uint64_t m, r;
	const char *err = "";
	struct relay_auth *ra = backends_relay(&b, &err);

	if (ra == NULL || relay_rate_get(ra, args, now, &m, &r, &err) == -1)
		die("counters: %s", err);
	printf("counters %s -> %llu message(s), %llu recipient(s) in the "
	    "last hour\n", args, (unsigned long long)m, (unsigned long long)r);
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
	else if (strcmp(l, "dnsbl") == 0) {
		rs.dnsbl_listed = true;
		if (str_copy(rs.dnsbl_lists, args, sizeof(rs.dnsbl_lists)) ==
		    -1)
			die("dnsbl: too many lists");
	} else if (strcmp(l, "mail") == 0)
		cmd_mail(args);
	else if (strcmp(l, "rcpt") == 0)
		cmd_rcpt(args);
	else if (strcmp(l, "from") == 0)
		cmd_from(args);
	else if (strcmp(l, "deliver") == 0)
		cmd_deliver();
	else if (strcmp(l, "bdat") == 0)
		cmd_bdat(args);
	else if (strcmp(l, "rset") == 0)
		cmd_rset();
	else if (strcmp(l, "counters") == 0)
		cmd_counters(args);
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
	policy_tx_free(&tx);
	store_close(&b.store);
	relay_close(&b.relay);
	config_free(&cfg);
	buf_free(&cfgtext);
	(void)nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
