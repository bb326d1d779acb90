/*
 * cli_init.c - popgate init [DIR]: a working instance in one command.
 *
 * Writes the configuration, the data directory, a self-signed TLS
 * certificate (OpenSSL API, no shell-out) and, for --dev or --demo, a
 * demo customer, domain and mailbox whose password is printed once. As
 * root (without --dev) it is a production instance: the standard ports
 * on every IPv4 address and, where the host has IPv6, every IPv6
 * address; everything belongs to `user` but the TLS key, root's and
 * 0600 (the daemon loads it before it drops root). As an ordinary user,
 * or with --dev, it listens on high loopback ports.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cli/cli.h"
#include "core/tls.h"
#include "maildir/maildir.h"
#include "policy/policy.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/priv.h"
#include "util/compat.h"

#define DEMO_CUSTOMER	"demo"
#define DEMO_DOMAIN	"demo.test"
#define DEMO_MAILBOX	"demo@demo.test"

struct init_plan {
	char		 conf[1024];
	char		 data[1024];
	bool		 root;		/* chown to user, drop afterwards */
	bool		 dev;		/* high loopback ports */
	bool		 demo;		/* the demo customer and mailbox */
	bool		 ipv6;		/* IPv6 listeners too */
	const char	*user;
	char		 hostname[256];
	uint64_t	 base;
};

static int
random_password(char *out, size_t len)
{
	static const char alpha[] = "abcdefghijkmnpqrstuvwxyz"
	    "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char rnd[64];
	size_t i;

	if (len > sizeof(rnd) || RAND_bytes(rnd, (int)len) != 1)
		return -1;
	for (i = 0; i + 1 < len; i++)
		out[i] = alpha[rnd[i] % (sizeof(alpha) - 1)];
	out[len - 1] = '\0';
	return 0;
}

/* Whether this host can listen on IPv6 at all (a kernel or container
   without it would make every [::] listener fail the start). */
static bool
host_has_ipv6(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return false;
	(void)close(fd);
	return true;
}

static void
listen_lines(struct buf *b, const struct init_plan *p)
{
	static const char *const std[] = { "25 smtp", "2525 smtp",
		"587 submission", "465 submissions", "110 pop3", "995 pop3s",
		"143 imap", "993 imaps" };
	size_t i;

	if (!p->dev) {
		for (i = 0; i < nitems(std); i++)
			(void)buf_printf(b, "listen = 0.0.0.0:%s\n", std[i]);
		for (i = 0; p->ipv6 && i < nitems(std); i++)
			(void)buf_printf(b, "listen = [::]:%s\n", std[i]);
		(void)buf_append_str(b,
		    "listen = 127.0.0.1:2526 smtp gate=connect\n");
		return;
	}
	(void)buf_printf(b,
	    "listen = 127.0.0.1:%llu smtp\n"
	    "listen = 127.0.0.1:%llu smtp\n"
	    "listen = 127.0.0.1:%llu submission\n"
	    "listen = 127.0.0.1:%llu submissions\n"
	    "listen = 127.0.0.1:%llu pop3\n"
	    "listen = 127.0.0.1:%llu pop3s\n"
	    "listen = 127.0.0.1:%llu imap\n"
	    "listen = 127.0.0.1:%llu imaps\n"
	    "listen = 127.0.0.1:%llu smtp gate=connect\n",
	    (unsigned long long)(p->base + 25),
	    (unsigned long long)(p->base + 2525),
	    (unsigned long long)(p->base + 587),
	    (unsigned long long)(p->base + 465),
	    (unsigned long long)(p->base + 110),
	    (unsigned long long)(p->base + 995),
	    (unsigned long long)(p->base + 143),
	    (unsigned long long)(p->base + 993),
	    (unsigned long long)(p->base + 2526));
}

/* "KEY = DEFAULT" for each of KEYS, the defaults taken from the table of
   src/core/config.c: what init writes out is what popgate.conf(5) shows
   and what popgate would use without the line. */
static void
default_lines(struct buf *b, const char *const *keys, size_t n)
{
	const char *def;
	size_t i;

	for (i = 0; i < n; i++) {
		def = config_key_default(keys[i]);
		if (def == NULL)
			PANIC("init writes '%s', which has no default", keys[i]);
		(void)buf_printf(b, "%s =%s%s\n", keys[i], *def != '\0' ?
		    " " : "", def);
	}
}

/* The configuration text for plan P into B. */
static void
config_text(struct buf *b, const struct init_plan *p)
{
	static const char *const log_keys[] = { "log" };
	static const char *const relay_keys[] = { "relay_window",
		"relay_ipv6_prefix", "trusted_networks", "sender_policy",
		"relay_max_recipients", "relay_max_messages_per_hour",
		"relay_max_recipients_per_hour", "relay_max_message_size",
		"max_message_size", "pop3_plaintext_auth",
		"imap_plaintext_auth" };
	static const char *const store_keys[] = { "store", "relay_store",
		"dns_servers" };
	static const char *const queue_keys[] = { "relayhost",
		"max_queue_lifetime", "retry_min", "retry_max",
		"delay_warning" };

	(void)buf_printf(b,
	    "# popgate configuration, written by 'popgate init'.\n"
	    "# Every key, its default and meaning: man 5 popgate.conf\n"
	    "# (docs/popgate.conf.5); 'popgate check-config' shows the "
	    "effective values.\n\n"
	    "hostname = %s\n"
	    "data_dir = %s\n"
	    "mail_dir = %s/mail\n"
	    "%s%s%s"
	    "tls_cert = %s/tls/cert.pem\n"
	    "tls_key = %s/tls/key.pem\n"
	    "# Another certificate for clients asking for a name (SNI), "
	    "e.g. certbot's:\n"
	    "# tls_host = mail.example.com /etc/letsencrypt/live/"
	    "mail.example.com/fullchain.pem /etc/letsencrypt/live/"
	    "mail.example.com/privkey.pem\n", p->hostname, p->data, p->data,
	    p->root ? "user = " : "", p->root ? p->user : "",
	    p->root ? "\n" : "", p->data, p->data);
	default_lines(b, log_keys, nitems(log_keys));
	(void)buf_append_str(b, "\n");
	listen_lines(b, p);
	(void)buf_append_str(b, "\n# The relay opens for a client IP for "
	    "relay_window after a POP3 login.\n");
	default_lines(b, relay_keys, nitems(relay_keys));
	if (p->demo) {
		(void)buf_printf(b, "postmaster = %s\n\n", DEMO_MAILBOX);
	} else {
		static const char *const pm_keys[] = { "postmaster" };

		(void)buf_append_str(b, "# Where mail to postmaster@ of any "
		    "domain goes (empty: data_dir/postmaster/).\n");
		default_lines(b, pm_keys, nitems(pm_keys));
		(void)buf_append_str(b, "\n");
	}
	default_lines(b, store_keys, nitems(store_keys));
	/* Dev instances answer without waiting for DNS: no reverse
	   names, no SPF, DKIM, DMARC of the mail they are sent. */
	(void)buf_printf(b, "reverse_dns = %s\n", p->dev ? "no" :
	    config_key_default("reverse_dns"));
	(void)buf_printf(b, "inbound_auth = %s\n", p->dev ? "no" :
	    config_key_default("inbound_auth"));
	default_lines(b, queue_keys, nitems(queue_keys));
}

static int
make_dirs(struct cli *c, const struct init_plan *p)
{
	static const char *const subs[] = { "", "/mail", "/tls" };
	char path[1100], conf_dir[1024], err[TLS_ERROR_MAX];
	size_t i;

	(void)str_copy(conf_dir, p->conf, sizeof(conf_dir));
	*strrchr(conf_dir, '/') = '\0';
	/* The instance directory stays searchable (the config in it is
	   not readable), as before: the daemon reaches data_dir through a
	   descriptor opened as root, but a mail_dir or sqlite:/PATH moved
	   outside data_dir is reached by its path. */
	(void)umask(022);
	if (*conf_dir != '\0' && fs_mkdir_p(conf_dir, 0755, true) == -1) {
		cli_err(c, "cannot create %s: %s", conf_dir, strerror(errno));
		return EXIT_SYSTEM;
	}
	(void)umask(027);
	for (i = 0; i < nitems(subs); i++) {
		(void)str_fmt(path, sizeof(path), "%s%s", p->data, subs[i]);
		if (fs_mkdir_p(path, 0750, true) == -1 ||
		    chmod(path, i == 2 ? 0700 : 0750) == -1) {
			cli_err(c, "cannot create %s: %s", path,
			    strerror(errno));
			return EXIT_SYSTEM;
		}
	}
	(void)str_fmt(path, sizeof(path), "%s/tls/cert.pem", p->data);
	{
		char key[1100];

		(void)str_fmt(key, sizeof(key), "%s/tls/key.pem", p->data);
		if (tls_make_selfsigned(p->hostname, path, key, err) == -1) {
			cli_err(c, "cannot make the TLS certificate: %s", err);
			return EXIT_SYSTEM;
		}
	}
	return 0;
}

/* The demo customer, domain, mailbox and postmaster alias, in one
   transaction; the password goes to PW. */
static int
make_demo(struct cli *c, char *pw, size_t pwsz)
{
	char hash[PASSWD_HASH_MAX + 1];
	const char *err;
	int r;

	if (random_password(pw, pwsz) == -1) {
		cli_err(c, "no randomness for the demo password");
		return EXIT_SYSTEM;
	}
	if (passwd_hash(pw, hash, sizeof(hash), &err) == -1) {
		cli_err(c, "%s", err);
		return EXIT_SYSTEM;
	}
	/* Still as the invoking user (root included): everything made here
	   is given to the daemon's user afterwards. */
	if ((r = cli_open_store(c, c->cfg->data_dir)) != 0)
		return r;
	if ((r = cli_begin(c)) != 0)
		return r;
	if ((r = store_customer_add(c->store, DEMO_CUSTOMER, &err)) != 0 ||
	    (r = store_domain_add(c->store, DEMO_DOMAIN, DEMO_CUSTOMER,
	    &err)) != 0 ||
	    (r = store_mailbox_add(c->store, DEMO_MAILBOX, hash, 0, &err)) !=
	    0 ||
	    (r = store_alias_add(c->store, "postmaster@" DEMO_DOMAIN,
	    DEMO_MAILBOX, &err)) != 0) {
		store_rollback(c->store);
		return cli_store_result(c, r, err);
	}
	if (maildir_create(AT_FDCWD, c->cfg->mail_dir, DEMO_DOMAIN, "demo",
	    &err) == -1) {
		store_rollback(c->store);
		cli_err(c, "cannot create the demo Maildir: %s", err);
		return EXIT_SYSTEM;
	}
	if ((r = cli_commit(c)) != 0)
		return r;
	store_close(&c->store);
	return 0;
}

/* The store (made and migrated when new) with its first SRS secret, so
   that every host that comes to share it finds the same one. */
static int
make_srs_secret(struct cli *c)
{
	struct store_srs_secrets sec;
	const char *err = "";
	int r;

	if ((r = cli_open_store(c, c->cfg->data_dir)) != 0)
		return r;
	r = policy_srs_secrets(c->store, true, &sec, &err);
	explicit_bzero(&sec, sizeof(sec));
	store_close(&c->store);
	return r == 1 ? 0 : cli_store_result(c, -1, err);
}

static int
plan(struct cli *c, struct init_plan *p)
{
	char cwd[900];
	const char *dir = c->npos > 0 ? c->pos[0] : NULL;

	memset(p, 0, sizeof(*p));
	p->root = geteuid() == 0;
	p->dev = c->dev || !p->root;
	p->demo = p->dev || c->demo;
	p->ipv6 = !p->dev && host_has_ipv6();
	p->user = c->user != NULL ? c->user : "popgate";
	p->base = c->port_base != 0 ? c->port_base : 10000;
	if (c->user != NULL && !p->root) {
		cli_err(c, "--user only applies when run as root");
		return EXIT_USER;
	}
	if (dir == NULL && !p->root) {
		cli_err(c, "give a directory for the instance, e.g. "
		    "popgate init ./popgate-dev");
		return EXIT_USER;
	}
	if (dir == NULL) {
		(void)str_copy(p->conf, CONFIG_DEFAULT_PATH, sizeof(p->conf));
		(void)str_copy(p->data, "/var/lib/popgate", sizeof(p->data));
	} else {
		if (dir[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL) {
			cli_err(c, "getcwd: %s", strerror(errno));
			return EXIT_SYSTEM;
		}
		if (str_fmt(p->data, sizeof(p->data), "%s%s%s/data",
		    dir[0] == '/' ? "" : cwd, dir[0] == '/' ? "" : "/", dir) ==
		    -1 || str_fmt(p->conf, sizeof(p->conf), "%.*s/popgate.conf",
		    (int)(strlen(p->data) - 5), p->data) == -1) {
			cli_err(c, "directory name too long");
			return EXIT_USER;
		}
	}
	if (c->hostname != NULL) {
		const char *err;

		if (addr_domain_check(c->hostname, strlen(c->hostname), 0,
		    &err) == -1) {
			cli_err(c, "bad --hostname '%s': %s", c->hostname,
			    err);
			return EXIT_USER;
		}
		(void)str_copy(p->hostname, c->hostname, sizeof(p->hostname));
	} else if (p->dev) {
		(void)str_copy(p->hostname, "localhost", sizeof(p->hostname));
	} else if (gethostname(p->hostname, sizeof(p->hostname)) == -1) {
		(void)str_copy(p->hostname, "localhost", sizeof(p->hostname));
	}
	return 0;
}

static void
print_summary(const struct init_plan *p, const char *pw)
{
	printf("popgate instance written:\n"
	    "  config     %s\n  data       %s\n  TLS        %s/tls/cert.pem "
	    "(self-signed)\n", p->conf, p->data, p->data);
	if (p->dev)
		printf("  ports      SMTP %llu and %llu, submission %llu, "
		    "submissions %llu,\n             POP3 %llu, POP3S %llu, "
		    "SMTP gate=connect %llu (127.0.0.1)\n",
		    (unsigned long long)(p->base + 25),
		    (unsigned long long)(p->base + 2525),
		    (unsigned long long)(p->base + 587),
		    (unsigned long long)(p->base + 465),
		    (unsigned long long)(p->base + 110),
		    (unsigned long long)(p->base + 995),
		    (unsigned long long)(p->base + 2526));
	else
		printf("  ports      25, 2525, 587, 465, 110, 995, 143, 993 on "
		    "0.0.0.0%s (and 2526\n             gate=connect on "
		    "127.0.0.1)\n", p->ipv6 ? " and [::]" : "");
	if (!p->demo) {
		printf("  accounts   none yet: popgate customer add NAME; "
		    "popgate domain add DOMAIN\n             --customer NAME; "
		    "popgate mailbox add USER@DOMAIN\n\n"
		    "Start it:    popgate serve -c %s\n", p->conf);
		return;
	}
	printf("  demo       customer %s, domain %s\n"
	    "  mailbox    %s  password: %s\n"
	    "             (shown once; change it with: popgate mailbox "
	    "passwd %s)\n\n"
	    "Start it:    popgate serve -c %s\n", DEMO_CUSTOMER, DEMO_DOMAIN,
	    DEMO_MAILBOX, pw, DEMO_MAILBOX, p->conf);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) == -1 ? -1 : 0;
}

/* DATA to the daemon's user, but for the TLS key: root's, 0600, read
   by the daemon before it drops root, so a compromised daemon cannot
   read it. 0, or -1 after saying why. */
static int
give_away(struct cli *c, const struct init_plan *p, uid_t uid, gid_t gid)
{
	char key[1100];

	if (priv_chown_tree(p->data, uid, gid) == -1) {
		cli_err(c, "cannot give %s to %s: %s", p->data, p->user,
		    strerror(errno));
		return -1;
	}
	(void)str_fmt(key, sizeof(key), "%s/tls/key.pem", p->data);
	if (!p->dev && (chown(key, 0, 0) == -1 || chmod(key, 0600) == -1)) {
		cli_err(c, "cannot give %s to root: %s", key, strerror(errno));
		return -1;
	}
	return 0;
}

/* Builds the instance; on failure the caller removes what it made. */
static int
build(struct cli *c, const struct init_plan *p, char *pw, size_t pwsz)
{
	struct strlist errors;
	struct buf text;
	uid_t uid = 0;
	gid_t gid = 0;
	const char *err;
	size_t i;
	int r;

	if (p->root && priv_lookup(p->user, &uid, &gid, &err) == -1) {
		cli_err(c, "user '%s': %s; create it with: useradd --system "
		    "--home-dir %s --shell /usr/sbin/nologin %s", p->user, err,
		    p->data, p->user);
		return EXIT_USER;
	}
	if ((r = make_dirs(c, p)) != 0)
		return r;
	buf_init(&text, 64 * 1024);
	config_text(&text, p);
	strlist_init(&errors);
	/* Parsed before it is written: init never leaves a config that
	   popgate itself would refuse. */
	c->cfg = config_parse(p->conf, buf_cstr(&text), &errors);
	for (i = 0; i < errors.n; i++)
		cli_err(c, "%s", errors.v[i]);
	strlist_free(&errors);
	if (c->cfg == NULL) {
		buf_free(&text);
		return EXIT_USER;
	}
	r = p->demo ? make_demo(c, pw, pwsz) : 0;
	if (r == 0)
		r = make_srs_secret(c);
	if (r == 0 && p->root && give_away(c, p, uid, gid) == -1)
		r = EXIT_SYSTEM;
	if (r == 0 && fs_write_atomic(p->conf, text.data, text.len, 0640) ==
	    -1) {
		cli_err(c, "cannot write %s: %s", p->conf, strerror(errno));
		r = EXIT_SYSTEM;
	}
	buf_free(&text);
	return r;
}

static int
cmd_init(struct cli *c)
{
	struct init_plan p;
	char pw[17];
	bool had_data;
	int r;

	if ((r = plan(c, &p)) != 0)
		return r;
	if (access(p.conf, F_OK) == 0) {
		cli_err(c, "%s already exists; not overwritten (remove it to "
		    "start afresh)", p.conf);
		return EXIT_USER;
	}
	had_data = access(p.data, F_OK) == 0;
	{
		char db[1100];

		(void)str_fmt(db, sizeof(db), "%s/store.db", p.data);
		if (access(db, F_OK) == 0) {
			cli_err(c, "%s already holds an instance; not "
			    "overwritten", p.data);
			return EXIT_USER;
		}
	}
	umask(027);
	r = build(c, &p, pw, sizeof(pw));
	if (r != 0) {
		store_close(&c->store);
		if (!had_data)
			(void)nftw(p.data, rm_one, 32, FTW_DEPTH | FTW_PHYS);
		(void)unlink(p.conf);
		return r;
	}
	print_summary(&p, pw);
	OPENSSL_cleanse(pw, sizeof(pw));
	return 0;
}

static const struct cli_cmd cmd[] = {
	{ "", cmd_init, OPT_DEV | OPT_DEMO | OPT_USER | OPT_PORTBASE |
	    OPT_HOSTNAME | OPT_NOSTORE, 0, 1,
	    "[--dev] [--demo] [--user USER] [--port-base N] [--hostname NAME] "
	    "[DIR]",
	    "write a working instance: config (DIR/popgate.conf), data "
	    "directory\n(DIR/data), self-signed certificate; with --dev or "
	    "--demo a demo mailbox.\nAs root without --dev: standard ports, "
	    "IPv4 and IPv6. Without DIR, as root:\n" CONFIG_DEFAULT_PATH
	    " and /var/lib/popgate." },
};

int
cli_init(int argc, char **argv)
{
	return cli_dispatch("init", cmd, 1, argc, argv);
}
