/*
 * test_config.c - popgate.conf parsing (src/core/config.c, SPEC 8).
 *
 * Table-driven: every row of every table is its own cmocka test, named
 * after the row, so a failure says which input broke. Good inputs check
 * the typed value each key ends up with; bad inputs check the EXACT error
 * text (the text is interface: it is what an administrator reads), and
 * that all errors of a file are reported, not only the first. The
 * printed configuration must parse back to itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/config.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/net.h"
#include "util/str.h"
#include "util/compat.h"

#define NAME "t.conf"
#define MAXERR 8

/* ---- helpers ---- */

/* The dynamic test list: one entry per table row. */

static void
print_errors(const struct strlist *errs)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		print_error("  error: %s\n", errs->v[i]);
}

/* TEXT in a heap buffer of exactly its size, so that AddressSanitizer
   catches a read past the terminating NUL. */
static struct config *
parse_exact(const char *text, struct strlist *errs)
{
	size_t n = strlen(text) + 1;
	char *copy = malloc(n);
	struct config *c;

	assert_non_null(copy);
	memcpy(copy, text, n);
	c = config_parse(NAME, copy, errs);
	free(copy);
	return c;
}

/* Parses TEXT and insists that it is accepted. */
static struct config *
parse_ok(const char *text)
{
	struct strlist errs;
	struct config *c;

	strlist_init(&errs);
	c = parse_exact(text, &errs);
	if (c == NULL || errs.n != 0) {
		print_error("config refused:\n%s\n", text);
		print_errors(&errs);
		strlist_free(&errs);
		config_free(&c);
		fail_msg("expected the configuration to be accepted");
	}
	strlist_free(&errs);
	return c;
}

/* config_print() into a malloc'ed string. */
static char *
print_config(const struct config *c)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	assert_non_null(f);
	config_print(c, f);
	assert_int_equal(fclose(f), 0);
	return s;
}

/* The value printed for KEY ("key = VALUE"), malloc'ed, or NULL. */
static char *
printed_value(const struct config *c, const char *key)
{
	char *all = print_config(c), *line, *next, *r = NULL;
	size_t klen = strlen(key);

	for (line = all; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (strncmp(line, key, klen) == 0 &&
		    strncmp(line + klen, " =", 2) == 0) {
			r = strdup(line[klen + 2] == ' ' ? line + klen + 3 :
			    line + klen + 2);
			break;
		}
	}
	free(all);
	return r;
}

static void
addr_of(const char *s, struct netaddr *a)
{
	if (net_addr_parse(s, a) != 0)
		fail_msg("test bug: bad address %s", s);
}

/* ---- good inputs: numbers (sizes, durations, counts) ---- */

struct u64_case {
	const char	*name;
	const char	*text;
	size_t		 off;
	uint64_t	 want;
};

#define F(f) offsetof(struct config, f)

static const struct u64_case u64_cases[] = {
	/* sizes, powers of 1024 */
	{ "size 10M", "relay_max_message_size = 10M\n",
	    F(relay_max_message_size), 10ULL << 20 },
	{ "size 512K", "relay_max_message_size = 512K\n",
	    F(relay_max_message_size), 512ULL << 10 },
	{ "size 2G", "max_message_size = 2G\n", F(max_message_size),
	    2ULL << 30 },
	{ "size lower-case k", "relay_max_message_size = 100k\n",
	    F(relay_max_message_size), 100ULL << 10 },
	{ "size lower-case m", "max_message_size = 20m\n", F(max_message_size),
	    20ULL << 20 },
	{ "size plain bytes", "relay_max_message_size = 1536\n",
	    F(relay_max_message_size), 1536 },
	{ "size min 1K", "relay_max_message_size = 1K\n",
	    F(relay_max_message_size), 1024 },
	{ "size max 4G", "max_message_size = 4G\n", F(max_message_size),
	    4ULL << 30 },
	/* durations */
	{ "duration 30s", "relay_window = 30s\n", F(relay_window), 30 },
	{ "duration bare seconds", "relay_window = 45\n", F(relay_window),
	    45 },
	{ "duration 90m", "relay_window = 90m\n", F(relay_window), 5400 },
	{ "duration 4h", "retry_max = 4h\n", F(retry_max), 4 * 3600 },
	{ "duration 5d", "max_queue_lifetime = 5d\n", F(max_queue_lifetime),
	    5 * 86400 },
	{ "duration 1w", "relay_window = 1w\n", F(relay_window), 604800 },
	{ "duration 0 where allowed", "delay_warning = 0\n",
	    F(delay_warning), 0 },
	{ "duration 60d max lifetime", "max_queue_lifetime = 60d\n",
	    F(max_queue_lifetime), 60 * 86400 },
	{ "connect_timeout 2m", "connect_timeout = 2m\n", F(connect_timeout),
	    120 },
	{ "auth_failure_delay 0", "auth_failure_delay = 0\n",
	    F(auth_failure_delay), 0 },
	/* counts */
	{ "relay_ipv6_prefix 48", "relay_ipv6_prefix = 48\n",
	    F(relay_ipv6_prefix), 48 },
	{ "relay_ipv6_prefix 128", "relay_ipv6_prefix = 128\n",
	    F(relay_ipv6_prefix), 128 },
	{ "relay_ipv6_prefix 16", "relay_ipv6_prefix = 16\n",
	    F(relay_ipv6_prefix), 16 },
	{ "relay_max_recipients 1", "relay_max_recipients = 1\n",
	    F(relay_max_recipients), 1 },
	{ "messages per hour 0", "relay_max_messages_per_hour = 0\n",
	    F(relay_max_messages_per_hour), 0 },
	{ "recipients per hour", "relay_max_recipients_per_hour = 1000\n",
	    F(relay_max_recipients_per_hour), 1000 },
	{ "max_connections", "max_connections = 50\n", F(max_connections),
	    50 },
	{ "delivery_concurrency_per_destination",
	    "delivery_concurrency_per_destination = 3\n",
	    F(delivery_concurrency_per_destination), 3 },
	/* defaults */
	{ "default relay_window 90m", "", F(relay_window), 5400 },
	{ "default relay_ipv6_prefix", "", F(relay_ipv6_prefix), 64 },
	{ "default relay_max_recipients", "", F(relay_max_recipients), 50 },
	{ "default relay_max_messages_per_hour", "",
	    F(relay_max_messages_per_hour), 200 },
	{ "default relay_max_recipients_per_hour", "",
	    F(relay_max_recipients_per_hour), 500 },
	{ "default relay_max_message_size 10M", "",
	    F(relay_max_message_size), 10ULL << 20 },
	{ "default max_message_size 50M", "", F(max_message_size),
	    50ULL << 20 },
	{ "default max_queue_lifetime 5d", "", F(max_queue_lifetime),
	    5 * 86400 },
	{ "default retry_min 5m", "", F(retry_min), 300 },
	{ "default retry_max 4h", "", F(retry_max), 14400 },
	{ "default delay_warning 4h", "", F(delay_warning), 14400 },
	{ "default max_recipients", "", F(max_recipients), 1000 },
	{ "default max_connections", "", F(max_connections), 2000 },
	{ "default max_connections_per_ip", "", F(max_connections_per_ip),
	    20 },
	{ "default max_errors", "", F(max_errors), 10 },
	{ "default smtp_timeout 5m", "", F(smtp_timeout), 300 },
	{ "default pop3_timeout 10m", "", F(pop3_timeout), 600 },
	{ "default auth_failure_delay 1s", "", F(auth_failure_delay), 1 },
	{ "default auth_max_failures", "", F(auth_max_failures), 10 },
	{ "default password_min_length", "", F(password_min_length), 8 },
	{ "password_min_length set", "password_min_length = 12\n",
	    F(password_min_length), 12 },
	{ "default delivery_concurrency", "", F(delivery_concurrency), 100 },
	{ "default delivery_concurrency_per_destination", "",
	    F(delivery_concurrency_per_destination), 10 },
	{ "default connect_timeout 30s", "", F(connect_timeout), 30 },
	/* syntax around the value */
	{ "no blanks around =", "relay_window=30m\n", F(relay_window), 1800 },
	{ "tabs and trailing blanks", "\trelay_window\t=\t30m \t\n",
	    F(relay_window), 1800 },
	{ "inline comment", "relay_window = 30m # half an hour\n",
	    F(relay_window), 1800 },
	{ "inline comment after tab", "relay_window = 30m\t#x\n",
	    F(relay_window), 1800 },
	{ "comment lines and blank lines",
	    "# popgate.conf\n\n   # indented comment\n\t\nrelay_window = 2h\n"
	    "# relay_window = 3h\n", F(relay_window), 7200 },
	{ "CRLF line ends", "log = stderr\r\nrelay_window = 15m\r\n"
	    "debug = no\r\n", F(relay_window), 900 },
	{ "last line without newline", "log = stderr\nrelay_window = 20m",
	    F(relay_window), 1200 },
	{ "retry_min equal to retry_max", "retry_min = 1h\nretry_max = 1h\n",
	    F(retry_min), 3600 },
	{ "relay size equal to max size",
	    "relay_max_message_size = 20M\nmax_message_size = 20M\n",
	    F(relay_max_message_size), 20ULL << 20 },
};

static void
test_u64(void **state)
{
	const struct u64_case *tc = *state;
	struct config *c = parse_ok(tc->text);
	uint64_t got;

	memcpy(&got, (const char *)c + tc->off, sizeof(got));
	assert_int_equal(got, tc->want);
	config_free(&c);
	assert_null(c);
}

/* ---- good inputs: strings, paths, enums, booleans ---- */

struct str_case {
	const char	*name;
	const char	*text;
	size_t		 off;
	const char	*want;
};

static const struct str_case str_cases[] = {
	{ "hostname", "hostname = mail.example.net\n", F(hostname),
	    "mail.example.net" },
	{ "hostname lower-cased", "hostname = MAIL.Example.NET\n",
	    F(hostname), "mail.example.net" },
	{ "data_dir", "data_dir = /srv/popgate\n", F(data_dir),
	    "/srv/popgate" },
	{ "default data_dir", "", F(data_dir), "/var/lib/popgate" },
	{ "default mail_dir derived", "", F(mail_dir),
	    "/var/lib/popgate/mail" },
	{ "mail_dir derived from data_dir", "data_dir = /srv/pg\n",
	    F(mail_dir), "/srv/pg/mail" },
	{ "mail_dir derived from data_dir set later",
	    "mail_dir =\ndata_dir = /srv/pg\n", F(mail_dir), "/srv/pg/mail" },
	{ "mail_dir explicit", "data_dir = /srv/pg\nmail_dir = /home/mail\n",
	    F(mail_dir), "/home/mail" },
	{ "tls_cert derived", "data_dir = /srv/pg\n", F(tls_cert),
	    "/srv/pg/tls/cert.pem" },
	{ "tls_key derived", "data_dir = /srv/pg\n", F(tls_key),
	    "/srv/pg/tls/key.pem" },
	{ "default tls_cert", "", F(tls_cert),
	    "/var/lib/popgate/tls/cert.pem" },
	{ "default tls_key", "", F(tls_key), "/var/lib/popgate/tls/key.pem" },
	{ "tls_cert explicit", "tls_cert = /etc/ssl/mail.pem\n", F(tls_cert),
	    "/etc/ssl/mail.pem" },
	{ "tls_key explicit", "tls_key = /etc/ssl/mail.key\n", F(tls_key),
	    "/etc/ssl/mail.key" },
	{ "user", "user = popgate\n", F(user), "popgate" },
	{ "user empty (default)", "", F(user), "" },
	{ "user empty value", "user =\n", F(user), "" },
	{ "user with dot dash underscore", "user = mail_gw-1.x\n", F(user),
	    "mail_gw-1.x" },
	{ "store default", "", F(store), "sqlite" },
	{ "store sqlite path", "store = sqlite:/var/db/accounts.db\n",
	    F(store), "sqlite:/var/db/accounts.db" },
	{ "store postgresql",
	    "store = postgresql://popgate@db.example.net/popgate\n", F(store),
	    "postgresql://popgate@db.example.net/popgate" },
	{ "relay_store default", "", F(relay_store), "local" },
	{ "relay_store redis", "relay_store = redis://127.0.0.1:6379/0\n",
	    F(relay_store), "redis://127.0.0.1:6379/0" },
	{ "dns_servers default empty", "", F(dns_servers), "" },
	{ "dns_servers empty value", "dns_servers =\n", F(dns_servers), "" },
	{ "dns_servers list",
	    "dns_servers = 127.0.0.1:5353, [::1]:53 192.0.2.53\n",
	    F(dns_servers), "127.0.0.1:5353, [::1]:53 192.0.2.53" },
	{ "dns_servers with comment", "dns_servers = 127.0.0.1 # stub\n",
	    F(dns_servers), "127.0.0.1" },
	{ "relayhost default empty", "", F(relayhost), "" },
	{ "relayhost empty value", "relayhost =\n", F(relayhost), "" },
	{ "relayhost bracketed with port",
	    "relayhost = [smtp.example.net]:587\n", F(relayhost),
	    "[smtp.example.net]:587" },
	{ "relayhost host only", "relayhost = smtp.example.net\n",
	    F(relayhost), "smtp.example.net" },
	{ "relayhost host:port", "relayhost = smtp.example.net:2525\n",
	    F(relayhost), "smtp.example.net:2525" },
	{ "relayhost IPv6", "relayhost = [2001:db8::25]:25\n", F(relayhost),
	    "[2001:db8::25]:25" },
	{ "relayhost bracketed without port",
	    "relayhost = [smtp.example.net]\n", F(relayhost),
	    "[smtp.example.net]" },
	{ "postmaster empty default", "", F(postmaster), "" },
	{ "srs_domain defaults to the hostname",
	    "hostname = Mail.Example.NET\n", F(srs_domain),
	    "mail.example.net" },
	{ "srs_domain lower-cased", "srs_domain = SRS.Example.NET\n",
	    F(srs_domain), "srs.example.net" },
	{ "postmaster lower-cased", "postmaster = Admin@Example.NET\n",
	    F(postmaster), "admin@example.net" },
	{ "value keeps inner '#'", "store = postgresql://u@h/db#x\n",
	    F(store), "postgresql://u@h/db#x" },
};

static void
test_str(void **state)
{
	const struct str_case *tc = *state;
	struct config *c = parse_ok(tc->text);
	char *got;

	memcpy(&got, (const char *)c + tc->off, sizeof(got));
	assert_non_null(got);
	assert_string_equal(got, tc->want);
	config_free(&c);
}

struct enum_case {
	const char	*name;
	const char	*text;
	const char	*key;	/* checked through config_print() too */
	size_t		 off;
	int		 want;
	const char	*printed;
};

static const struct enum_case enum_cases[] = {
	{ "log default", "", "log", F(log), LOG_TO_STDERR, "stderr" },
	{ "log syslog", "log = syslog\n", "log", F(log), LOG_TO_SYSLOG,
	    "syslog" },
	{ "sender_policy default", "", "sender_policy", F(sender_policy),
	    SENDER_POLICY_DOMAIN, "domain" },
	{ "sender_policy address", "sender_policy = address\n",
	    "sender_policy", F(sender_policy), SENDER_POLICY_ADDRESS,
	    "address" },
	{ "pop3_plaintext_auth default", "", "pop3_plaintext_auth",
	    F(pop3_plaintext_auth), PLAINTEXT_LOOPBACK, "loopback" },
	{ "pop3_plaintext_auth no", "pop3_plaintext_auth = no\n",
	    "pop3_plaintext_auth", F(pop3_plaintext_auth), PLAINTEXT_NO,
	    "no" },
	{ "pop3_plaintext_auth yes", "pop3_plaintext_auth = yes\n",
	    "pop3_plaintext_auth", F(pop3_plaintext_auth), PLAINTEXT_YES,
	    "yes" },
	{ "received_auth default", "", "received_auth", F(received_auth),
	    RECEIVED_AUTH_MAILBOX, "mailbox" },
	{ "received_auth none", "received_auth = none\n", "received_auth",
	    F(received_auth), RECEIVED_AUTH_NONE, "none" },
	{ "received_auth customer", "received_auth = customer\n",
	    "received_auth", F(received_auth), RECEIVED_AUTH_CUSTOMER,
	    "customer" },
};

static void
test_enum(void **state)
{
	const struct enum_case *tc = *state;
	struct config *c = parse_ok(tc->text);
	char *p;
	int got;

	memcpy(&got, (const char *)c + tc->off, sizeof(got));
	assert_int_equal(got, tc->want);
	p = printed_value(c, tc->key);
	assert_non_null(p);
	assert_string_equal(p, tc->printed);
	free(p);
	config_free(&c);
}

struct bool_case {
	const char	*name;
	const char	*text;
	size_t		 off;
	bool		 want;
};

static const struct bool_case bool_cases[] = {
	{ "reverse_dns default yes", "", F(reverse_dns), true },
	{ "reverse_dns no", "reverse_dns = no\n", F(reverse_dns), false },
	{ "reverse_dns yes", "reverse_dns = yes\n", F(reverse_dns), true },
	{ "inbound_auth no", "inbound_auth = no\n", F(inbound_auth), false },
	{ "spoof_protection no", "spoof_protection = no\n",
	    F(spoof_protection), false },
	{ "tls_verify_peer default no", "", F(tls_verify_peer), false },
	{ "tls_verify_peer yes", "tls_verify_peer = yes\n",
	    F(tls_verify_peer), true },
	{ "debug default no", "", F(debug), false },
	{ "debug yes", "debug = yes\n", F(debug), true },
};

static void
test_bool(void **state)
{
	const struct bool_case *tc = *state;
	struct config *c = parse_ok(tc->text);
	bool got;

	memcpy(&got, (const char *)c + tc->off, sizeof(got));
	assert_int_equal(got, tc->want);
	config_free(&c);
}

/* ---- good inputs: network lists ---- */

struct net_case {
	const char	*name;
	const char	*text;
	size_t		 off;
	size_t		 n;		/* prefixes expected */
	const char	*in[6];		/* addresses that match */
	const char	*out[6];	/* addresses that do not */
};

static const struct net_case net_cases[] = {
	{ "trusted_networks empty by default", "", F(trusted_networks), 0,
	    { NULL }, { "127.0.0.1", "::1", "192.0.2.1", NULL } },
	{ "trusted_networks empty value", "trusted_networks =\n",
	    F(trusted_networks), 0, { NULL }, { "127.0.0.1", NULL } },
	{ "trusted_networks comma separated",
	    "trusted_networks = 192.0.2.0/24,198.51.100.7\n",
	    F(trusted_networks), 2,
	    { "192.0.2.0", "192.0.2.255", "198.51.100.7", NULL },
	    { "192.0.3.1", "198.51.100.8", NULL } },
	{ "trusted_networks comma and space separated",
	    "trusted_networks = 192.0.2.0/24, 2001:db8::/32   10.0.0.0/8\n",
	    F(trusted_networks), 3,
	    { "192.0.2.9", "2001:db8:1::25", "10.200.1.1", NULL },
	    { "2001:db9::1", "11.0.0.1", "192.0.1.255", NULL } },
	{ "trusted_networks space separated only",
	    "trusted_networks = 127.0.0.0/8 ::1\n", F(trusted_networks), 2,
	    { "127.0.0.1", "127.255.0.1", "::1", NULL },
	    { "::2", "128.0.0.1", NULL } },
	{ "trusted_networks IPv6 host and /64",
	    "trusted_networks = 2001:db8:0:1::/64, 2001:db8::25\n",
	    F(trusted_networks), 2,
	    { "2001:db8:0:1:ffff::1", "2001:db8::25", NULL },
	    { "2001:db8:0:2::1", "2001:db8::26", NULL } },
	{ "trusted_networks IPv4-mapped address is IPv4",
	    "trusted_networks = ::ffff:192.0.2.7\n", F(trusted_networks), 1,
	    { "192.0.2.7", "::ffff:192.0.2.7", NULL },
	    { "192.0.2.8", NULL } },
	{ "trusted_networks mapped client matches IPv4 network",
	    "trusted_networks = 192.0.2.0/24\n", F(trusted_networks), 1,
	    { "::ffff:192.0.2.200", NULL }, { "::ffff:192.0.3.1", NULL } },
	{ "trusted_networks trailing comma",
	    "trusted_networks = 192.0.2.0/24,\n", F(trusted_networks), 1,
	    { "192.0.2.1", NULL }, { NULL } },
	{ "relay_never_authorize",
	    "relay_never_authorize = 198.51.100.0/24, 2001:db8:ffff::/48\n",
	    F(relay_never_authorize), 2,
	    { "198.51.100.20", "2001:db8:ffff:1::1", NULL },
	    { "198.51.101.20", "2001:db8:fffe::1", NULL } },
	{ "relay_never_authorize empty by default", "",
	    F(relay_never_authorize), 0, { NULL }, { "198.51.100.1", NULL } },
};

static void
test_netlist(void **state)
{
	const struct net_case *tc = *state;
	struct config *c = parse_ok(tc->text);
	const struct netlist *l =
	    (const void *)((const char *)c + tc->off);
	struct netaddr a;
	size_t i;

	assert_int_equal(l->n, tc->n);
	for (i = 0; tc->in[i] != NULL; i++) {
		addr_of(tc->in[i], &a);
		if (!netlist_match(l, &a))
			fail_msg("%s should match", tc->in[i]);
	}
	for (i = 0; tc->out[i] != NULL; i++) {
		addr_of(tc->out[i], &a);
		if (netlist_match(l, &a))
			fail_msg("%s should not match", tc->out[i]);
	}
	config_free(&c);
}

/* ---- good inputs: listen ---- */

struct listen_want {
	const char		*host;
	uint16_t		 port;
	enum listen_role	 role;
	bool			 gate;
};

struct listen_case {
	const char		*name;
	const char		*text;
	size_t			 n;
	struct listen_want	 l[8];
};

static const struct listen_case listen_cases[] = {
	{ "default listeners when none", "", 8, {
	    { "0.0.0.0", 25, ROLE_SMTP, false },
	    { "0.0.0.0", 2525, ROLE_SMTP, false },
	    { "0.0.0.0", 587, ROLE_SUBMISSION, false },
	    { "0.0.0.0", 465, ROLE_SUBMISSIONS, false },
	    { "0.0.0.0", 110, ROLE_POP3, false },
	    { "0.0.0.0", 995, ROLE_POP3S, false },
	    { "0.0.0.0", 143, ROLE_IMAP, false },
	    { "0.0.0.0", 993, ROLE_IMAPS, false } } },
	{ "imap and imaps roles",
	    "listen = 127.0.0.1:143 imap\n"
	    "listen = [::1]:993 imaps\n", 2, {
	    { "127.0.0.1", 143, ROLE_IMAP, false },
	    { "::1", 993, ROLE_IMAPS, false } } },
	{ "http on loopback, https anywhere, http_insecure",
	    "listen = 127.0.0.1:8080 http\n"
	    "listen = [::1]:8081 http\n"
	    "listen = 0.0.0.0:8443 https\n"
	    "listen = 192.0.2.1:80 http\n"
	    "http_insecure = yes\n", 4, {
	    { "127.0.0.1", 8080, ROLE_HTTP, false },
	    { "::1", 8081, ROLE_HTTP, false },
	    { "0.0.0.0", 8443, ROLE_HTTPS, false },
	    { "192.0.2.1", 80, ROLE_HTTP, false } } },
	{ "one listen replaces the defaults",
	    "listen = 127.0.0.1:2525 smtp\n", 1, {
	    { "127.0.0.1", 2525, ROLE_SMTP, false } } },
	{ "repeated listen, every role, IPv6, gate=connect",
	    "listen = [::1]:25 smtp\n"
	    "listen = 127.0.0.1:2526 smtp gate=connect\n"
	    "listen = 0.0.0.0:587 submission\n"
	    "listen = [::]:465 submissions gate=connect\n"
	    "listen = 127.0.0.1:110 pop3\n"
	    "listen = 127.0.0.1:995 pop3s\n"
	    "listen = 127.0.0.1:2587 submission gate=rcpt\n", 7, {
	    { "::1", 25, ROLE_SMTP, false },
	    { "127.0.0.1", 2526, ROLE_SMTP, true },
	    { "0.0.0.0", 587, ROLE_SUBMISSION, false },
	    { "::", 465, ROLE_SUBMISSIONS, true },
	    { "127.0.0.1", 110, ROLE_POP3, false },
	    { "127.0.0.1", 995, ROLE_POP3S, false },
	    { "127.0.0.1", 2587, ROLE_SUBMISSION, false } } },
	{ "listen with blanks and comment",
	    "listen =   127.0.0.1:10025\t smtp   gate=connect  # test\n", 1, {
	    { "127.0.0.1", 10025, ROLE_SMTP, true } } },
	{ "same port on two addresses",
	    "listen = 127.0.0.1:25 smtp\nlisten = 127.0.0.2:25 smtp\n", 2, {
	    { "127.0.0.1", 25, ROLE_SMTP, false },
	    { "127.0.0.2", 25, ROLE_SMTP, false } } },
};

static void
test_listen(void **state)
{
	const struct listen_case *tc = *state;
	struct config *c = parse_ok(tc->text);
	size_t i;

	assert_int_equal(c->nlisten, tc->n);
	for (i = 0; i < tc->n; i++) {
		assert_string_equal(c->listen[i].host, tc->l[i].host);
		assert_int_equal(c->listen[i].port, tc->l[i].port);
		assert_int_equal(c->listen[i].role, tc->l[i].role);
		assert_int_equal(c->listen[i].gate_connect, tc->l[i].gate);
	}
	config_free(&c);
}

/* Where the relay refusal says to SMTP AUTH (issue 17). */
static const struct {
	const char	*name;
	const char	*text;
	const char	*want;
} sub_cases[] = {
	{ "submission ports: the default's", "", "port 587" },
	{ "submission ports: one, once for two addresses",
	    "listen = 127.0.0.1:10587 submission\n"
	    "listen = [::1]:10587 submission\n"
	    "listen = 127.0.0.1:10465 submissions\n", "port 10587" },
	{ "submission ports: two",
	    "listen = 127.0.0.1:587 submission\n"
	    "listen = 127.0.0.1:2587 submission gate=connect\n",
	    "ports 587 or 2587" },
	{ "submission ports: none",
	    "listen = 127.0.0.1:25 smtp\n"
	    "listen = 127.0.0.1:465 submissions\n", "the submission port" },
};

static void
test_submission_ports(void **state)
{
	const __typeof__(sub_cases[0]) *tc = *state;
	struct config *c = parse_ok(tc->text);

	assert_string_equal(c->submission_ports, tc->want);
	config_free(&c);
}

/* ---- good inputs: transport ---- */

struct transport_case {
	const char		*name;
	const char		*text;
	size_t			 n;
	struct transport_cfg	 t[4];
	const char		*lookup;	/* config_transport() */
	int			 found;		/* index, or -1 */
};

static const struct transport_case transport_cases[] = {
	{ "no transport by default", "", 0, { { "", "", 0 } },
	    "example.org", -1 },
	{ "transport to IPv4 loopback",
	    "transport example.org = 127.0.0.1:2600\n", 1,
	    { { "example.org", "127.0.0.1", 2600 } }, "example.org", 0 },
	{ "transport domain lower-cased, lookup any case",
	    "transport Example.ORG = 127.0.0.1:2600\n", 1,
	    { { "example.org", "127.0.0.1", 2600 } }, "EXAMPLE.org", 0 },
	{ "transport to IPv6 and to a host name",
	    "transport a.example = [::1]:2601\n"
	    "transport b.example = relay.example.net:25\n", 2,
	    { { "a.example", "::1", 2601 },
	      { "b.example", "relay.example.net", 25 } }, "b.example", 1 },
	{ "transport with blanks and comment",
	    "transport   c.example\t=\t127.0.0.1:25   # route\n", 1,
	    { { "c.example", "127.0.0.1", 25 } }, "d.example", -1 },
};

static void
test_transport(void **state)
{
	const struct transport_case *tc = *state;
	struct config *c = parse_ok(tc->text);
	const struct transport_cfg *t;
	size_t i;

	assert_int_equal(c->ntransport, tc->n);
	for (i = 0; i < tc->n; i++) {
		assert_string_equal(c->transport[i].domain, tc->t[i].domain);
		assert_string_equal(c->transport[i].host, tc->t[i].host);
		assert_int_equal(c->transport[i].port, tc->t[i].port);
	}
	t = config_transport(c, tc->lookup);
	if (tc->found < 0)
		assert_null(t);
	else
		assert_ptr_equal(t, &c->transport[tc->found]);
	config_free(&c);
}

/* ---- good inputs: tls_host ---- */

struct tls_host_case {
	const char	*name;
	const char	*text;
	size_t		 n;
	struct {
		const char	*name, *cert, *key;
		unsigned	 line;
	} h[3];
};

static const struct tls_host_case tls_host_cases[] = {
	{ "no tls_host by default", "", 0, { { NULL, NULL, NULL, 0 } } },
	{ "tls_host, name lower-cased",
	    "tls_host = Mail.Customer.EXAMPLE /etc/le/c.pem /etc/le/k.pem\n",
	    1,
	    { { "mail.customer.example", "/etc/le/c.pem", "/etc/le/k.pem",
	      1 } } },
	{ "tls_host repeats in file order, wildcard, blanks and comment",
	    "# hosts\n"
	    "tls_host = b.example /c/b.pem /k/b.pem\n"
	    "tls_host\t=\t*.hosted.example\t/c/w.pem   /k/w.pem  # all\n"
	    "tls_host = hosted.example /c/h.pem /k/h.pem\n", 3,
	    { { "b.example", "/c/b.pem", "/k/b.pem", 2 },
	      { "*.hosted.example", "/c/w.pem", "/k/w.pem", 3 },
	      { "hosted.example", "/c/h.pem", "/k/h.pem", 4 } } },
};

static void
test_tls_host(void **state)
{
	const struct tls_host_case *tc = *state;
	struct config *c = parse_ok(tc->text);
	size_t i;

	assert_int_equal(c->ntls_host, tc->n);
	for (i = 0; i < tc->n; i++) {
		assert_string_equal(c->tls_host[i].name, tc->h[i].name);
		assert_string_equal(c->tls_host[i].cert, tc->h[i].cert);
		assert_string_equal(c->tls_host[i].key, tc->h[i].key);
		assert_int_equal(c->tls_host[i].line, tc->h[i].line);
	}
	config_free(&c);
}

/* ---- good inputs: dnsbl ---- */

struct dnsbl_case {
	const char	*name;
	const char	*text;
	size_t		 n;
	struct dnsbl_cfg l[3];
	uint64_t	 threshold;
};

static const struct dnsbl_case dnsbl_cases[] = {
	{ "no dnsbl by default, threshold 1", "", 0, { { "", 0, 0 } }, 1 },
	{ "dnsbl weight 1 when left out, zone lower-cased",
	    "dnsbl = Zen.Spamhaus.ORG\n", 1,
	    { { "zen.spamhaus.org", 1, 1 } }, 1 },
	{ "dnsbl repeats in file order with weights, threshold",
	    "# lists\n"
	    "dnsbl = a.example 3\n"
	    "dnsbl\t=\tb.example\t100   # heavy\n"
	    "dnsbl_threshold = 1000\n"
	    "dnsbl = c.example 1\n", 3,
	    { { "a.example", 3, 2 }, { "b.example", 100, 3 },
	      { "c.example", 1, 5 } }, 1000 },
};

static void
test_dnsbl(void **state)
{
	const struct dnsbl_case *tc = *state;
	struct config *c = parse_ok(tc->text);
	size_t i;

	assert_int_equal(c->ndnsbl, tc->n);
	for (i = 0; i < tc->n; i++) {
		assert_string_equal(c->dnsbl[i].zone, tc->l[i].zone);
		assert_int_equal(c->dnsbl[i].weight, tc->l[i].weight);
		assert_int_equal(c->dnsbl[i].line, tc->l[i].line);
	}
	assert_int_equal(c->dnsbl_threshold, tc->threshold);
	config_free(&c);
}

/* ---- bad inputs: exact error texts ---- */

struct bad_case {
	const char	*name;
	const char	*text;
	const char	*want[MAXERR];
};

#define SIZE_EXP(k, v) "t.conf:1: bad value for '" k "': '" v "' " \
	"(expected a size from 1K to 4G, like 512K or 10M)"
#define DUR_EXP(k, v, lo, hi) "t.conf:1: bad value for '" k "': '" v "' " \
	"(expected a duration from " lo " to " hi ", like 30s, 90m, 4h or 5d)"
#define UINT_EXP(k, v, lo, hi) "t.conf:1: bad value for '" k "': '" v "' " \
	"(expected a whole number from " lo " to " hi ")"
#define NET_EXP(k, v) "t.conf:1: bad value for '" k "': '" v "' " \
	"(expected IP addresses or networks like 192.0.2.0/24, " \
	"2001:db8::/32, separated by commas)"
#define LISTEN_EXP(v) "t.conf:1: bad value for 'listen': '" v "' " \
	"(expected ADDRESS:PORT ROLE [gate=connect], e.g. 0.0.0.0:25 smtp)"
#define LADDR_EXP(v) "t.conf:1: bad address in 'listen': '" v "' " \
	"(expected IP:PORT or [IPv6]:PORT)"
#define PATH_EXP(k, v) "t.conf:1: bad value for '" k "': '" v "' " \
	"(expected an absolute path)"

static const struct bad_case bad_cases[] = {
	/* keys */
	{ "unknown key with suggestion",
	    "hostname = mail.example.net\nrelay_windw = 30m\n",
	    { "t.conf:2: unknown key 'relay_windw' (did you mean "
	      "'relay_window'?)" } },
	{ "unknown key, wrong case, with suggestion", "Debug = yes\n",
	    { "t.conf:1: unknown key 'Debug' (did you mean 'debug'?)" } },
	{ "unknown key two edits away", "relay_max_recipient = 5\n",
	    { "t.conf:1: unknown key 'relay_max_recipient' (did you mean "
	      "'relay_max_recipients'?)" } },
	{ "unknown key without suggestion", "frobnicate = 1\n",
	    { "t.conf:1: unknown key 'frobnicate'" } },
	{ "duplicate key names the first line",
	    "relay_window = 30m\nlog = syslog\nrelay_window = 1h\n",
	    { "t.conf:3: duplicate key 'relay_window' (first set at line "
	      "1)" } },
	{ "duplicate key even with the same value",
	    "# c\ndebug = no\n\ndebug = no\n",
	    { "t.conf:4: duplicate key 'debug' (first set at line 2)" } },
	{ "line without '='", "relay_window 90m\n",
	    { "t.conf:1: expected 'key = value', got 'relay_window 90m'" } },
	{ "missing key", "= 90m\n", { "t.conf:1: missing key before '='" } },
	{ "extra word after key", "relay_window extra = 5m\n",
	    { "t.conf:1: unexpected 'extra' after key 'relay_window'" } },
	{ "line too long", NULL,
	    { "t.conf:1: line too long (at most 4095 characters)" } },
	/* sizes */
	{ "bad size unit", "max_message_size = 10X\n",
	    { SIZE_EXP("max_message_size", "10X") } },
	{ "size with two-letter unit", "max_message_size = 10MB\n",
	    { SIZE_EXP("max_message_size", "10MB") } },
	{ "size with fraction", "relay_max_message_size = 1.5M\n",
	    { SIZE_EXP("relay_max_message_size", "1.5M") } },
	{ "size below minimum", "relay_max_message_size = 1023\n",
	    { SIZE_EXP("relay_max_message_size", "1023") } },
	{ "size above maximum", "max_message_size = 5G\n",
	    { SIZE_EXP("max_message_size", "5G") } },
	{ "size overflow", "max_message_size = 99999999999999999999G\n",
	    { SIZE_EXP("max_message_size", "99999999999999999999G") } },
	{ "size empty", "max_message_size =\n",
	    { SIZE_EXP("max_message_size", "") } },
	{ "size negative", "max_message_size = -10M\n",
	    { SIZE_EXP("max_message_size", "-10M") } },
	/* durations */
	{ "bad duration unit", "relay_window = 90x\n",
	    { DUR_EXP("relay_window", "90x", "1s", "7d") } },
	{ "duration zero where not allowed", "relay_window = 0\n",
	    { DUR_EXP("relay_window", "0", "1s", "7d") } },
	{ "duration above maximum", "relay_window = 2w\n",
	    { DUR_EXP("relay_window", "2w", "1s", "7d") } },
	{ "duration with blank before unit", "relay_window = 90 m\n",
	    { DUR_EXP("relay_window", "90 m", "1s", "7d") } },
	{ "duration unit only", "retry_min = m\n",
	    { DUR_EXP("retry_min", "m", "1s", "7d") } },
	{ "duration glued comment is no comment", "relay_window = 30m#x\n",
	    { DUR_EXP("relay_window", "30m#x", "1s", "7d") } },
	{ "max_queue_lifetime above 60d", "max_queue_lifetime = 61d\n",
	    { DUR_EXP("max_queue_lifetime", "61d", "1s", "60d") } },
	{ "connect_timeout above 10m", "connect_timeout = 11m\n",
	    { DUR_EXP("connect_timeout", "11m", "1s", "10m") } },
	{ "auth_failure_delay above 1m", "auth_failure_delay = 2m\n",
	    { DUR_EXP("auth_failure_delay", "2m", "0s", "1m") } },
	/* enums and booleans */
	{ "bad sender_policy", "sender_policy = strict\n",
	    { "t.conf:1: bad value for 'sender_policy': 'strict' (expected "
	      "domain or address)" } },
	{ "bad pop3_plaintext_auth", "pop3_plaintext_auth = maybe\n",
	    { "t.conf:1: bad value for 'pop3_plaintext_auth': 'maybe' "
	      "(expected no, loopback or yes)" } },
	{ "bad log", "log = /var/log/popgate\n",
	    { "t.conf:1: bad value for 'log': '/var/log/popgate' (expected "
	      "stderr or syslog)" } },
	{ "bad received_auth", "received_auth = all\n",
	    { "t.conf:1: bad value for 'received_auth': 'all' (expected "
	      "none, mailbox or customer)" } },
	{ "enum is case-sensitive", "sender_policy = Domain\n",
	    { "t.conf:1: bad value for 'sender_policy': 'Domain' (expected "
	      "domain or address)" } },
	{ "bool true is not yes", "reverse_dns = true\n",
	    { "t.conf:1: bad value for 'reverse_dns': 'true' (expected yes "
	      "or no)" } },
	{ "bool empty", "debug =\n",
	    { "t.conf:1: bad value for 'debug': '' (expected yes or no)" } },
	/* whole numbers */
	{ "uint below minimum", "relay_ipv6_prefix = 8\n",
	    { UINT_EXP("relay_ipv6_prefix", "8", "16", "128") } },
	{ "uint above maximum", "relay_ipv6_prefix = 129\n",
	    { UINT_EXP("relay_ipv6_prefix", "129", "16", "128") } },
	{ "uint negative", "relay_max_recipients = -1\n",
	    { UINT_EXP("relay_max_recipients", "-1", "1", "100000") } },
	{ "uint with unit", "relay_max_recipients = 1k\n",
	    { UINT_EXP("relay_max_recipients", "1k", "1", "100000") } },
	{ "uint zero not allowed", "max_errors = 0\n",
	    { UINT_EXP("max_errors", "0", "1", "1000") } },
	/* network lists */
	{ "network with host bits", "trusted_networks = 192.0.2.1/24\n",
	    { NET_EXP("trusted_networks", "192.0.2.1/24") } },
	{ "network list with a name",
	    "trusted_networks = 192.0.2.0/24, example.com\n",
	    { NET_EXP("trusted_networks", "192.0.2.0/24, example.com") } },
	{ "IPv6 prefix too long", "trusted_networks = 2001:db8::/129\n",
	    { NET_EXP("trusted_networks", "2001:db8::/129") } },
	{ "IPv6 network with host bits",
	    "relay_never_authorize = 2001:db8::1/64\n",
	    { NET_EXP("relay_never_authorize", "2001:db8::1/64") } },
	{ "IPv4 prefix too long", "trusted_networks = 10.0.0.0/33\n",
	    { NET_EXP("trusted_networks", "10.0.0.0/33") } },
	/* listen */
	{ "listen without role", "listen = 0.0.0.0:25\n",
	    { LISTEN_EXP("0.0.0.0:25") } },
	{ "listen empty", "listen =\n", { LISTEN_EXP("") } },
	{ "listen IPv6 without brackets", "listen = ::1:25 smtp\n",
	    { LADDR_EXP("::1:25") } },
	{ "listen host name", "listen = localhost:25 smtp\n",
	    { LADDR_EXP("localhost:25") } },
	{ "listen without port", "listen = 127.0.0.1 smtp\n",
	    { LADDR_EXP("127.0.0.1") } },
	{ "listen port 0", "listen = 127.0.0.1:0 smtp\n",
	    { LADDR_EXP("127.0.0.1:0") } },
	{ "listen port too large", "listen = 127.0.0.1:65536 smtp\n",
	    { LADDR_EXP("127.0.0.1:65536") } },
	{ "listen bad role", "listen = 0.0.0.0:119 nntp\n",
	    { "t.conf:1: bad role in 'listen': 'nntp' (expected smtp, "
	      "submission, submissions, pop3, pop3s, imap, imaps, http "
	      "or https)" } },
	{ "listen http off loopback", "listen = 0.0.0.0:8080 http\n",
	    { "t.conf:1: 'listen = 0.0.0.0:8080 http' is clear text on a "
	      "non-loopback address: tokens and passwords would cross the "
	      "network unencrypted; use https, a loopback address "
	      "(127.0.0.1 or ::1) behind a TLS proxy, or set "
	      "http_insecure = yes" } },
	{ "listen role is case-sensitive", "listen = 0.0.0.0:25 SMTP\n",
	    { "t.conf:1: bad role in 'listen': 'SMTP' (expected smtp, "
	      "submission, submissions, pop3, pop3s, imap, imaps, http "
	      "or https)" } },
	{ "listen bad option", "listen = 0.0.0.0:25 smtp gate=always\n",
	    { "t.conf:1: bad option in 'listen': 'gate=always' (expected "
	      "gate=connect or gate=rcpt)" } },
	{ "gate=connect on pop3", "listen = 0.0.0.0:110 pop3 gate=connect\n",
	    { "t.conf:1: gate=connect is only for SMTP listeners" } },
	{ "gate=connect on pop3s",
	    "listen = 0.0.0.0:995 pop3s gate=connect\n",
	    { "t.conf:1: gate=connect is only for SMTP listeners" } },
	{ "listen too many fields",
	    "listen = 0.0.0.0:25 smtp gate=connect now\n",
	    { "t.conf:1: too many fields in 'listen': '0.0.0.0:25 smtp "
	      "gate=connect now'" } },
	{ "two listen lines for one address and port",
	    "listen = 127.0.0.1:25 smtp\nlisten = 127.0.0.1:25 pop3\n",
	    { "t.conf:2: a second 'listen' for 127.0.0.1 port 25 (first at "
	      "line 1)" } },
	/* transport */
	{ "transport without domain", "transport = 127.0.0.1:25\n",
	    { "t.conf:1: 'transport' needs a domain: transport DOMAIN = "
	      "HOST:PORT" } },
	{ "transport bad domain", "transport bad..example = 127.0.0.1:25\n",
	    { "t.conf:1: bad domain in 'transport': 'bad..example' (empty "
	      "label in domain)" } },
	{ "transport two domains", "transport a.example b.example = "
	    "127.0.0.1:25\n",
	    { "t.conf:1: bad domain in 'transport': 'a.example b.example' "
	      "(invalid character in domain)" } },
	{ "transport without port", "transport example.org = 127.0.0.1\n",
	    { "t.conf:1: bad value for 'transport example.org': '127.0.0.1' "
	      "(expected HOST:PORT)" } },
	{ "transport empty value", "transport example.org =\n",
	    { "t.conf:1: bad value for 'transport example.org': '' "
	      "(expected HOST:PORT)" } },
	{ "transport IPv6 without brackets",
	    "transport example.org = ::1:25\n",
	    { "t.conf:1: bad value for 'transport example.org': '::1:25' "
	      "(expected HOST:PORT)" } },
	{ "duplicate transport, any case",
	    "transport example.org = 127.0.0.1:25\n"
	    "transport EXAMPLE.org = 127.0.0.1:26\n",
	    { "t.conf:2: duplicate 'transport example.org'" } },
	/* paths and names */
	{ "relative data_dir", "data_dir = var/lib/popgate\n",
	    { PATH_EXP("data_dir", "var/lib/popgate") } },
	{ "relative mail_dir", "mail_dir = ./mail\n",
	    { PATH_EXP("mail_dir", "./mail") } },
	{ "relative tls_cert", "tls_cert = cert.pem\n",
	    { PATH_EXP("tls_cert", "cert.pem") } },
	{ "relative tls_key", "tls_key = ~/key.pem\n",
	    { PATH_EXP("tls_key", "~/key.pem") } },
	{ "hostname with leading hyphen", "hostname = -mail.example.net\n",
	    { "t.conf:1: bad value for 'hostname': '-mail.example.net' "
	      "(domain label starts with '-')" } },
	{ "hostname with trailing dot", "hostname = mail.example.net.\n",
	    { "t.conf:1: bad value for 'hostname': 'mail.example.net.' "
	      "(domain ends with a dot)" } },
	{ "hostname with underscore", "hostname = mail_1.example.net\n",
	    { "t.conf:1: bad value for 'hostname': 'mail_1.example.net' "
	      "(invalid character in domain)" } },
	{ "user starting with hyphen", "user = -root\n",
	    { "t.conf:1: bad value for 'user': '-root' (expected a user "
	      "name)" } },
	{ "user with blank", "user = pop gate\n",
	    { "t.conf:1: bad value for 'user': 'pop gate' (expected a user "
	      "name)" } },
	{ "user too long", "user = abcdefghijklmnopqrstuvwxyz0123456\n",
	    { "t.conf:1: bad value for 'user': "
	      "'abcdefghijklmnopqrstuvwxyz0123456' (expected a user "
	      "name)" } },
	{ "srs_max_age under a day", "srs_max_age = 12h\n",
	    { DUR_EXP("srs_max_age", "12h", "1d", "1000d") } },
	{ "srs_max_age past the stamp's wrap", "srs_max_age = 1001d\n",
	    { DUR_EXP("srs_max_age", "1001d", "1d", "1000d") } },
	{ "srs_domain not a domain", "srs_domain = mail_x\n",
	    { "t.conf:1: bad value for 'srs_domain': 'mail_x' (invalid "
	      "character in domain)" } },
	{ "postmaster without domain", "postmaster = nobody\n",
	    { "t.conf:1: bad value for 'postmaster': 'nobody' (address has "
	      "no '@domain')" } },
	/* backends, relayhost, DNS */
	{ "unknown store", "store = mysql://db\n",
	    { "t.conf:1: bad value for 'store': 'mysql://db' (expected "
	      "sqlite, sqlite:/PATH or postgresql://...)" } },
	{ "sqlite store with relative path", "store = sqlite:accounts.db\n",
	    { "t.conf:1: bad value for 'store': 'sqlite:accounts.db' "
	      "(expected sqlite, sqlite:/PATH or postgresql://...)" } },
	{ "unknown relay_store", "relay_store = memcached://127.0.0.1\n",
	    { "t.conf:1: bad value for 'relay_store': 'memcached://127.0.0.1'"
	      " (expected local or redis://HOST:PORT/DB)" } },
	{ "malformed redis relay_store", "relay_store = redis://h:x/0\n",
	    { "t.conf:1: bad value for 'relay_store': 'redis://h:x/0': the "
	      "port is not a number from 1 to 65535 (expected "
	      "redis://HOST:PORT/DB)" } },
	{ "malformed postgresql store", "store = postgresql://u@h/db?bad=1\n",
	    { "t.conf:1: bad value for 'store': invalid URI query parameter: "
	      "\"bad\" (expected postgresql://[USER[:PASSWORD]@]HOST[:PORT]"
	      "/DBNAME[?OPTIONS])" } },
	{ "dns_servers with a name", "dns_servers = ns1.example.net\n",
	    { "t.conf:1: bad value for 'dns_servers': 'ns1.example.net' "
	      "(expected IP addresses with optional ports, like 127.0.0.1, "
	      "127.0.0.1:5353 or [::1]:53)" } },
	{ "relayhost port too large", "relayhost = smtp.example.net:99999\n",
	    { "t.conf:1: bad value for 'relayhost': 'smtp.example.net:99999' "
	      "(expected HOST, HOST:PORT or [HOST]:PORT)" } },
	{ "relayhost bare IPv6", "relayhost = 2001:db8::25\n",
	    { "t.conf:1: bad value for 'relayhost': '2001:db8::25' (expected "
	      "HOST, HOST:PORT or [HOST]:PORT)" } },
	{ "relayhost bad name", "relayhost = smtp..example.net\n",
	    { "t.conf:1: bad value for 'relayhost': 'smtp..example.net' "
	      "(expected HOST, HOST:PORT or [HOST]:PORT)" } },
	{ "relayhost HOST:PORT with a bad host",
	    "relayhost = smtp..example.net:25\n",
	    { "t.conf:1: bad value for 'relayhost': 'smtp..example.net:25' "
	      "(expected HOST, HOST:PORT or [HOST]:PORT)" } },
	{ "relayhost [HOST]:PORT with a bad host",
	    "relayhost = [-smtp.example.net]:25\n",
	    { "t.conf:1: bad value for 'relayhost': '[-smtp.example.net]:25' "
	      "(expected HOST, HOST:PORT or [HOST]:PORT)" } },
	{ "transport with a bad host",
	    "transport example.org = bad..host:25\n",
	    { "t.conf:1: bad value for 'transport example.org': "
	      "'bad..host:25' (expected HOST:PORT)" } },
	/* tls_host */
	{ "tls_host empty", "tls_host =\n",
	    { "t.conf:1: 'tls_host' needs a host name, a certificate and a "
	      "key: tls_host = HOSTNAME CERT KEY" } },
	{ "tls_host without certificate and key",
	    "tls_host = mail.example.com\n",
	    { "t.conf:1: 'tls_host mail.example.com' needs a certificate and "
	      "a key file: tls_host = HOSTNAME CERT KEY" } },
	{ "tls_host without key", "tls_host = mail.example.com /c.pem\n",
	    { "t.conf:1: 'tls_host mail.example.com' needs a key file after "
	      "the certificate: tls_host = HOSTNAME CERT KEY" } },
	{ "tls_host with four fields",
	    "tls_host = a.example /c.pem /k.pem /x.pem\n",
	    { "t.conf:1: too many fields in 'tls_host': 'a.example /c.pem "
	      "/k.pem /x.pem' (expected tls_host = HOSTNAME CERT KEY; paths "
	      "cannot contain blanks)" } },
	{ "tls_host bad host name", "tls_host = bad..example /c.pem /k.pem\n",
	    { "t.conf:1: bad host name in 'tls_host': 'bad..example' (empty "
	      "label in domain)" } },
	{ "tls_host host name with underscore",
	    "tls_host = mail_1.example /c.pem /k.pem\n",
	    { "t.conf:1: bad host name in 'tls_host': 'mail_1.example' "
	      "(invalid character in domain)" } },
	{ "tls_host IP address", "tls_host = 192.0.2.1 /c.pem /k.pem\n",
	    { "t.conf:1: bad host name in 'tls_host': '192.0.2.1' (an IP "
	      "address: SNI carries host names only)" } },
	{ "tls_host wildcard not the whole first label",
	    "tls_host = m*.example.com /c.pem /k.pem\n",
	    { "t.conf:1: bad host name in 'tls_host': 'm*.example.com' (a "
	      "wildcard is '*.' before a domain, like *.example.com, and "
	      "matches one label)" } },
	{ "tls_host two wildcards", "tls_host = *.*.example /c.pem /k.pem\n",
	    { "t.conf:1: bad host name in 'tls_host': '*.*.example' (a "
	      "wildcard is '*.' before a domain, like *.example.com, and "
	      "matches one label)" } },
	{ "tls_host bare star", "tls_host = * /c.pem /k.pem\n",
	    { "t.conf:1: bad host name in 'tls_host': '*' (a wildcard is "
	      "'*.' before a domain, like *.example.com, and matches one "
	      "label)" } },
	{ "tls_host relative certificate",
	    "tls_host = a.example cert.pem /k.pem\n",
	    { "t.conf:1: bad certificate path in 'tls_host a.example': "
	      "'cert.pem' (expected an absolute path)" } },
	{ "tls_host relative key", "tls_host = a.example /c.pem ./k.pem\n",
	    { "t.conf:1: bad key path in 'tls_host a.example': './k.pem' "
	      "(expected an absolute path)" } },
	{ "duplicate tls_host, any case",
	    "tls_host = a.example /c.pem /k.pem\n"
	    "log = stderr\n"
	    "tls_host = A.Example /c2.pem /k2.pem\n",
	    { "t.conf:3: duplicate 'tls_host a.example' (first at line 1)" } },
	{ "duplicate tls_host wildcard",
	    "tls_host = *.a.example /c.pem /k.pem\n"
	    "tls_host = *.A.example /c.pem /k.pem\n",
	    { "t.conf:2: duplicate 'tls_host *.a.example' (first at line "
	      "1)" } },
	{ "tls_host name as key argument",
	    "tls_host a.example = /c.pem /k.pem\n",
	    { "t.conf:1: unexpected 'a.example' after key 'tls_host'" } },
	/* checks across keys */
	{ "retry_min larger than retry_max", "retry_min = 5h\n",
	    { "t.conf:1: retry_min (18000s) is larger than retry_max "
	      "(14400s)" } },
	{ "retry_min larger than explicit retry_max",
	    "retry_min = 2h\nretry_max = 1h\n",
	    { "t.conf:1: retry_min (7200s) is larger than retry_max "
	      "(3600s)" } },
	{ "relay size larger than inbound size",
	    "relay_max_message_size = 60M\n",
	    { "t.conf:1: relay_max_message_size is larger than "
	      "max_message_size" } },
	/* all errors of a file, in file order, derived checks last */
	{ "every error is reported",
	    "# several mistakes\n"
	    "relay_windw = 30m\n"
	    "max_message_size = 10X\n"
	    "hostname = mail.example.net\n"
	    "hostname = other.example.net\n"
	    "data_dir = relative\n"
	    "listen = 0.0.0.0:25 nntp\n"
	    "retry_min = 1w\n",
	    { "t.conf:2: unknown key 'relay_windw' (did you mean "
	      "'relay_window'?)",
	      "t.conf:3: bad value for 'max_message_size': '10X' (expected a "
	      "size from 1K to 4G, like 512K or 10M)",
	      "t.conf:5: duplicate key 'hostname' (first set at line 4)",
	      "t.conf:6: bad value for 'data_dir': 'relative' (expected an "
	      "absolute path)",
	      "t.conf:7: bad role in 'listen': 'nntp' (expected smtp, "
	      "submission, submissions, pop3, pop3s, imap, imaps, http "
	      "or https)",
	      "t.conf:8: retry_min (604800s) is larger than retry_max "
	      "(14400s)" } },
	{ "dnsbl without zone", "dnsbl =\n",
	    { "t.conf:1: 'dnsbl' needs a zone: dnsbl = ZONE [WEIGHT]" } },
	{ "dnsbl bad zone", "\ndnsbl = bad..example\n",
	    { "t.conf:2: bad zone in 'dnsbl': 'bad..example' (empty label in "
	      "domain)" } },
	{ "dnsbl zone an IP address", "dnsbl = 127.0.0.2\n",
	    { "t.conf:1: bad zone in 'dnsbl': '127.0.0.2' (an IP address, not "
	      "a zone)" } },
	{ "dnsbl zone of one label", "dnsbl = localhost\n",
	    { "t.conf:1: bad zone in 'dnsbl': 'localhost' (a single label)" } },
	{ "dnsbl weight 0", "dnsbl = zen.example 0\n",
	    { "t.conf:1: bad weight in 'dnsbl zen.example': '0' (expected a "
	      "whole number from 1 to 100)" } },
	{ "dnsbl weight 101", "dnsbl = zen.example 101\n",
	    { "t.conf:1: bad weight in 'dnsbl zen.example': '101' (expected a "
	      "whole number from 1 to 100)" } },
	{ "dnsbl weight not a number", "dnsbl = zen.example heavy\n",
	    { "t.conf:1: bad weight in 'dnsbl zen.example': 'heavy' (expected "
	      "a whole number from 1 to 100)" } },
	{ "tls_policy without domain", "tls_policy = verify\n",
	    { "t.conf:1: 'tls_policy' needs a domain: tls_policy DOMAIN = "
	      "none|may|encrypt|verify" } },
	{ "tls_policy bad domain", "tls_policy bad..example = verify\n",
	    { "t.conf:1: bad domain in 'tls_policy': 'bad..example' (empty "
	      "label in domain)" } },
	{ "tls_policy bare dot", "tls_policy . = verify\n",
	    { "t.conf:1: bad domain in 'tls_policy': '.' (empty)" } },
	{ "tls_policy bad level", "tls_policy a.example = dane\n",
	    { "t.conf:1: bad value for 'tls_policy a.example': 'dane' "
	      "(expected none, may, encrypt or verify)" } },
	{ "tls_policy twice, any case", "tls_policy a.example = may\n"
	    "tls_policy A.Example = verify\n",
	    { "t.conf:2: duplicate 'tls_policy a.example' (first at line "
	      "1)" } },
	{ "tls_policy_default bad", "tls_policy_default = strict\n",
	    { "t.conf:1: bad value for 'tls_policy_default': 'strict' "
	      "(expected none, may, encrypt or verify)" } },
	{ "dnsbl three fields", "dnsbl = zen.example 2 3\n",
	    { "t.conf:1: too many fields in 'dnsbl': 'zen.example 2 3' "
	      "(expected dnsbl = ZONE [WEIGHT])" } },
	{ "dnsbl zone twice, any case",
	    "dnsbl = zen.example\ndnsbl = ZEN.example 2\n",
	    { "t.conf:2: duplicate 'dnsbl zen.example' (first at line 1)" } },
	{ "dnsbl_threshold 0", "dnsbl_threshold = 0\n",
	    { "t.conf:1: bad value for 'dnsbl_threshold': '0' (expected a "
	      "whole number from 1 to 1000)" } },
	{ "dnsbl_threshold twice",
	    "dnsbl_threshold = 2\ndnsbl_threshold = 3\n",
	    { "t.conf:2: duplicate key 'dnsbl_threshold' (first set at line "
	      "1)" } },
	{ "errors on CRLF lines are numbered like LF lines",
	    "log = stderr\r\n\r\nsender_policy = loose\r\n",
	    { "t.conf:3: bad value for 'sender_policy': 'loose' (expected "
	      "domain or address)" } },
};

static void
test_bad(void **state)
{
	const struct bad_case *tc = *state;
	struct strlist errs;
	struct config *c;
	char *text = NULL;
	size_t i, nwant = 0;

	while (nwant < MAXERR && tc->want[nwant] != NULL)
		nwant++;
	if (tc->text == NULL) {
		/* The over-long line: 4096 characters. */
		text = malloc(4096 + 16);
		assert_non_null(text);
		memcpy(text, "postmaster = ", 13);
		memset(text + 13, 'a', 4096 - 13);
		memcpy(text + 4096, "\n", 2);
	}
	strlist_init(&errs);
	/* An error already in the list stays there: loading appends. */
	strlist_add(&errs, "earlier error");
	c = parse_exact(text != NULL ? text : tc->text, &errs);
	if (c != NULL) {
		config_free(&c);
		strlist_free(&errs);
		free(text);
		fail_msg("accepted; expected: %s", tc->want[0]);
	}
	if (errs.n != nwant + 1) {
		print_errors(&errs);
		fail_msg("expected %zu error(s), got %zu", nwant,
		    errs.n - 1);
	}
	assert_string_equal(errs.v[0], "earlier error");
	for (i = 0; i < nwant; i++) {
		if (strcmp(errs.v[i + 1], tc->want[i]) != 0)
			print_errors(&errs);
		assert_string_equal(errs.v[i + 1], tc->want[i]);
	}
	strlist_free(&errs);
	free(text);
}

/* ---- whole-file properties ---- */

/* The effective defaults, printed: every key of the interface (SPEC 8)
   in table order, with its default. */
static const char default_print[] =
    "hostname = mail.example.net\n"
    "data_dir = /var/lib/popgate\n"
    "mail_dir = /var/lib/popgate/mail\n"
    "user = \n"
    "tls_cert = /var/lib/popgate/tls/cert.pem\n"
    "tls_key = /var/lib/popgate/tls/key.pem\n"
    "log = stderr\n"
    "listen = 0.0.0.0:25 smtp\n"
    "listen = 0.0.0.0:2525 smtp\n"
    "listen = 0.0.0.0:587 submission\n"
    "listen = 0.0.0.0:465 submissions\n"
    "listen = 0.0.0.0:110 pop3\n"
    "listen = 0.0.0.0:995 pop3s\n"
    "listen = 0.0.0.0:143 imap\n"
    "listen = 0.0.0.0:993 imaps\n"
    "relay_window = 90m\n"
    "relay_ipv6_prefix = 64\n"
    "trusted_networks =\n"
    "relay_never_authorize =\n"
    "sender_policy = domain\n"
    "relay_max_recipients = 50\n"
    "relay_max_messages_per_hour = 200\n"
    "relay_max_recipients_per_hour = 500\n"
    "relay_max_message_size = 10M\n"
    "max_message_size = 50M\n"
    "received_auth = mailbox\n"
    "pop3_plaintext_auth = loopback\n"
    "imap_plaintext_auth = loopback\n"
    "store = sqlite\n"
    "relay_store = local\n"
    "dns_servers = \n"
    "reverse_dns = yes\n"
    "inbound_auth = yes\n"
    "dmarc_policy = enforce\n"
    "spoof_protection = yes\n"
    "dnsbl_threshold = 1\n"
    "relayhost = \n"
    "max_queue_lifetime = 5d\n"
    "retry_min = 5m\n"
    "retry_max = 4h\n"
    "delay_warning = 4h\n"
    "postmaster = \n"
    "srs = yes\n"
    "srs_domain = mail.example.net\n"
    "srs_max_age = 21d\n"
    "srs_bounces_only = yes\n"
    "max_recipients = 1000\n"
    "max_connections = 2000\n"
    "max_connections_per_ip = 20\n"
    "max_errors = 10\n"
    "smtp_timeout = 5m\n"
    "pop3_timeout = 10m\n"
    "imap_timeout = 30m\n"
    "auth_failure_delay = 1s\n"
    "auth_max_failures = 10\n"
    "password_min_length = 8\n"
    "login_default_domain = \n"
    "auth_cache_ttl = 1h\n"
    "delivery_concurrency = 100\n"
    "delivery_concurrency_per_destination = 10\n"
    "connect_timeout = 30s\n"
    "milter_connect_timeout = 10s\n"
    "milter_command_timeout = 30s\n"
    "milter_total_timeout = 5m\n"
    "milter_default_action = tempfail\n"
    "tls_verify_peer = no\n"
    "tls_ca_file = \n"
    "tls_policy_default = may\n"
    "mta_sts = yes\n"
    "dane = yes\n"
    "webhook_secret = \n"
    "webhook_secret_file = \n"
    "webhook_insecure = no\n"
    "webhook_ca_file = \n"
    "webhook_timeout = 10s\n"
    "webhook_retry_min = 10s\n"
    "webhook_max_age = 1d\n"
    "webhook_queue_max = 1000\n"
    "webhook_ip_memory = 30d\n"
    "help_title = \n"
    "help_company = \n"
    "debug = no\n"
    "sandbox = yes\n"
    "http_insecure = no\n"
    "metrics_networks =\n";

static void
test_defaults_printed(void **state)
{
	struct config *c = parse_ok("hostname = mail.example.net\n");
	char *s = print_config(c);

	(void)state;
	assert_string_equal(s, default_print);
	free(s);
	config_free(&c);
}

/* tls_policy lines: lower-cased, printed in the file's order, found for
   their domain and, with a leading dot, for the names below it. */
static void
test_tls_policy(void **state)
{
	struct config *c = parse_ok("tls_policy B.example = verify\n"
	    "tls_policy .Sub.Example = encrypt\n"
	    "tls_policy_default = none\n");
	char *s = print_config(c);

	(void)state;
	assert_non_null(strstr(s, "tls_policy b.example = verify\n"
	    "tls_policy .sub.example = encrypt\n"));
	assert_non_null(strstr(s, "tls_policy_default = none\n"));
	assert_int_equal(config_tls_policy(c, "b.EXAMPLE")->level,
	    TLS_LEVEL_VERIFY);
	assert_null(config_tls_policy(c, "a.b.example"));
	assert_null(config_tls_policy(c, "sub.example"));
	assert_int_equal(config_tls_policy(c, "x.y.sub.example")->level,
	    TLS_LEVEL_ENCRYPT);
	assert_int_equal(config_tls_default(c), TLS_LEVEL_NONE);
	free(s);
	config_free(&c);
}

static void
test_default_hostname(void **state)
{
	struct config *c = parse_ok("");
	const char *err;

	(void)state;
	/* This host's name when it is a valid domain, else localhost. */
	assert_non_null(c->hostname);
	assert_true(*c->hostname != '\0');
	assert_int_equal(addr_domain_check(c->hostname, strlen(c->hostname),
	    0, &err), 0);
	config_free(&c);
}

static void
test_path_recorded(void **state)
{
	struct config *c = parse_ok("");

	(void)state;
	assert_string_equal(c->path, NAME);
	config_free(&c);
	assert_null(c);
	config_free(&c);	/* NULL is fine */
}

static void
test_config_rel(void **state)
{
	struct config *c = parse_ok("data_dir = /srv/pg\n");

	(void)state;
	assert_string_equal(config_rel(c, "/srv/pg"), ".");
	assert_string_equal(config_rel(c, "/srv/pg/mail"), "mail");
	assert_string_equal(config_rel(c, "/srv/pg/tls/cert.pem"),
	    "tls/cert.pem");
	assert_string_equal(config_rel(c, "/srv/pgx/mail"), "/srv/pgx/mail");
	assert_string_equal(config_rel(c, "/etc/ssl/k.pem"), "/etc/ssl/k.pem");
	config_free(&c);
}

static void
test_role_names(void **state)
{
	(void)state;
	assert_string_equal(config_role_name(ROLE_SMTP), "smtp");
	assert_string_equal(config_role_name(ROLE_SUBMISSION), "submission");
	assert_string_equal(config_role_name(ROLE_SUBMISSIONS),
	    "submissions");
	assert_string_equal(config_role_name(ROLE_POP3), "pop3");
	assert_string_equal(config_role_name(ROLE_POP3S), "pop3s");
}

static void
test_load_file(void **state)
{
	char dir[] = "/tmp/popgate-test-config-XXXXXX", path[256];
	struct strlist errs;
	struct config *c;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/popgate.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("relay_window = 45m\nbogus = 1\n", f);
	assert_int_equal(fclose(f), 0);

	strlist_init(&errs);
	c = config_load(path, &errs);
	assert_null(c);
	assert_int_equal(errs.n, 1);
	{
		char want[512];

		(void)snprintf(want, sizeof(want), "%s:2: unknown key 'bogus'",
		    path);
		assert_string_equal(errs.v[0], want);
	}
	strlist_free(&errs);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("relay_window = 45m\n", f);
	assert_int_equal(fclose(f), 0);
	c = config_load(path, &errs);
	assert_non_null(c);
	assert_int_equal(errs.n, 0);
	assert_int_equal(c->relay_window, 45 * 60);
	assert_string_equal(c->path, path);
	config_free(&c);

	assert_int_equal(unlink(path), 0);
	c = config_load(path, &errs);
	assert_null(c);
	assert_int_equal(errs.n, 1);
	{
		char want[512];

		(void)snprintf(want, sizeof(want),
		    "%s: cannot read: No such file or directory", path);
		assert_string_equal(errs.v[0], want);
	}
	strlist_free(&errs);
	assert_int_equal(rmdir(dir), 0);
}

/* Two spellings of one IPv6 address are one listener: binding both
   fails at run time, so the parser should say so with the file. */
static void
test_listen_dup_spelling(void **state)
{
	static const char *const texts[] = {
		"listen = [::1]:25 smtp\nlisten = [0:0::1]:25 pop3\n",
		"listen = [2001:db8::1]:25 smtp\n"
		"listen = [2001:DB8:0::1]:25 smtp\n",
	};
	struct strlist errs;
	struct config *c;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(texts); i++) {
		strlist_init(&errs);
		c = config_parse(NAME, texts[i], &errs);
		if (c != NULL || errs.n != 1) {
			print_error("input: %s", texts[i]);
			print_errors(&errs);
			config_free(&c);
			strlist_free(&errs);
			fail_msg("expected one 'two listen lines' error");
		}
		assert_true(strncmp(errs.v[0],
		    "t.conf:2: a second 'listen' for ", 32) == 0);
		strlist_free(&errs);
	}
}

/* Lines up to 4095 characters are fine. */
static void
test_longest_line(void **state)
{
	char *text = malloc(4095 + 2);
	struct config *c;

	(void)state;
	assert_non_null(text);
	memset(text, 'x', 4095);
	text[0] = '#';
	text[1] = ' ';
	memcpy(text + 4095, "\n", 2);
	c = parse_ok(text);
	config_free(&c);
	free(text);
}

/* ---- config_print() round trip ---- */

struct rt_case {
	const char	*name;
	const char	*text;
};

static const struct rt_case rt_cases[] = {
	{ "defaults", "hostname = mail.example.net\n" },
	{ "the SPEC example",
	    "hostname        = mail.example.net\n"
	    "data_dir        = /var/lib/popgate        # store, queue\n"
	    "mail_dir        = /var/lib/popgate/mail\n"
	    "user            = popgate\n"
	    "tls_cert        = /var/lib/popgate/tls/cert.pem\n"
	    "tls_key         = /var/lib/popgate/tls/key.pem\n"
	    "log             = stderr\n"
	    "listen          = 0.0.0.0:25 smtp\n"
	    "listen          = 0.0.0.0:2525 smtp\n"
	    "listen          = 0.0.0.0:587 submission\n"
	    "listen          = 0.0.0.0:465 submissions\n"
	    "listen          = 0.0.0.0:110 pop3\n"
	    "listen          = 0.0.0.0:995 pop3s\n"
	    "listen          = 127.0.0.1:2526 smtp gate=connect\n"
	    "relay_window    = 90m\n"
	    "relay_ipv6_prefix = 64\n"
	    "trusted_networks =\n"
	    "sender_policy   = domain\n"
	    "relay_max_recipients          = 50\n"
	    "relay_max_messages_per_hour   = 200\n"
	    "relay_max_recipients_per_hour = 500\n"
	    "relay_max_message_size        = 10M\n"
	    "max_message_size              = 50M\n"
	    "pop3_plaintext_auth = loopback\n"
	    "store           = sqlite\n"
	    "relay_store     = local\n"
	    "dns_servers     =\n"
	    "reverse_dns     = yes\n"
	    "relayhost       =\n"
	    "transport example.org = 127.0.0.1:2600\n"
	    "max_queue_lifetime = 5d\n"
	    "retry_min       = 5m\n"
	    "retry_max       = 4h\n"
	    "delay_warning   = 4h\n" },
	{ "every key away from its default",
	    "hostname = MX1.Example.NET\n"
	    "data_dir = /srv/pg\n"
	    "mail_dir = /srv/mail\n"
	    "user = _popgate\n"
	    "tls_cert = /etc/ssl/mx1.pem\n"
	    "tls_key = /etc/ssl/private/mx1.key\n"
	    "tls_host = Mail.Customer.Example /etc/le/m/fullchain.pem "
	    "/etc/le/m/privkey.pem\n"
	    "tls_host = *.hosted.example /etc/ssl/w.pem /etc/ssl/w.key\n"
	    "log = syslog\n"
	    "listen = [::1]:25 smtp\n"
	    "listen = [2001:db8::1]:587 submission gate=connect\n"
	    "listen = 127.0.0.1:995 pop3s\n"
	    "listen = [::1]:993 imaps\n"
	    "relay_window = 1w\n"
	    "relay_ipv6_prefix = 56\n"
	    "trusted_networks = 192.0.2.0/24, 2001:db8::/32 ::ffff:10.1.2.3\n"
	    "relay_never_authorize = 198.51.100.0/24\n"
	    "sender_policy = address\n"
	    "relay_max_recipients = 7\n"
	    "relay_max_messages_per_hour = 0\n"
	    "relay_max_recipients_per_hour = 12345\n"
	    "relay_max_message_size = 1536\n"
	    "max_message_size = 2G\n"
	    "received_auth = none\n"
	    "pop3_plaintext_auth = yes\n"
	    "imap_plaintext_auth = no\n"
	    "store = sqlite:/srv/pg/accounts.db\n"
	    "relay_store = redis://127.0.0.1:6379/2\n"
	    "dns_servers = 127.0.0.1:5353, [::1]:53\n"
	    "reverse_dns = no\n"
	    "relayhost = [smtp.example.net]:587\n"
	    "transport A.example = [::1]:2600\n"
	    "transport b.example = relay.example.net:25\n"
	    "max_queue_lifetime = 36h\n"
	    "retry_min = 90s\n"
	    "retry_max = 100m\n"
	    "delay_warning = 0\n"
	    "postmaster = Hostmaster@Example.NET\n"
	    "max_recipients = 99\n"
	    "max_connections = 3\n"
	    "max_connections_per_ip = 1\n"
	    "max_errors = 1000\n"
	    "smtp_timeout = 1d\n"
	    "pop3_timeout = 61s\n"
	    "imap_timeout = 2h\n"
	    "auth_failure_delay = 0\n"
	    "auth_max_failures = 1\n"
	    "password_min_length = 128\n"
	    "delivery_concurrency = 10000\n"
	    "delivery_concurrency_per_destination = 1\n"
	    "connect_timeout = 10m\n"
	    "tls_verify_peer = yes\n"
	    "debug = yes\n" },
};

static void
test_roundtrip(void **state)
{
	const struct rt_case *tc = *state;
	struct config *c1 = parse_ok(tc->text), *c2;
	char *p1 = print_config(c1), *p2;

	c2 = parse_ok(p1);
	p2 = print_config(c2);
	assert_string_equal(p2, p1);
	free(p1);
	free(p2);
	config_free(&c1);
	config_free(&c2);
}

/* ---- store URIs ---- */

struct redis_case {
	const char	*name;
	const char	*uri;
	const char	*host;	/* NULL: an error containing ERR */
	unsigned	 port, db;
	const char	*user, *password, *err;
};

static const struct redis_case redis_cases[] = {
	{ "redis host:port/db", "redis://127.0.0.1:6380/2", "127.0.0.1", 6380,
	    2, "", "", NULL },
	{ "redis defaults", "redis://cache.example", "cache.example", 6379, 0,
	    "", "", NULL },
	{ "redis trailing slash", "redis://h:1/", "h", 1, 0, "", "", NULL },
	{ "redis password", "redis://:s3cret@10.0.0.5/1", "10.0.0.5", 6379, 1,
	    "", "s3cret", NULL },
	{ "redis user and password", "redis://app:pw@h:7000/0", "h", 7000, 0,
	    "app", "pw", NULL },
	{ "redis ipv6", "redis://[::1]:6390/3", "::1", 6390, 3, "", "", NULL },
	{ "redis bad port", "redis://h:notaport/0", NULL, 0, 0, NULL, NULL,
	    "the port is not a number from 1 to 65535" },
	{ "redis port 0", "redis://h:0/0", NULL, 0, 0, NULL, NULL,
	    "the port is not a number" },
	{ "redis port too big", "redis://h:65536", NULL, 0, 0, NULL, NULL,
	    "the port is not a number" },
	{ "redis bad db", "redis://h:6379/x", NULL, 0, 0, NULL, NULL,
	    "the database after / is not a number" },
	{ "redis negative db", "redis://h:6379/-1", NULL, 0, 0, NULL, NULL,
	    "the database after / is not a number" },
	{ "redis no host", "redis://:6379/0", NULL, 0, 0, NULL, NULL,
	    "expected a host name or an IP address" },
	{ "redis user without colon", "redis://user@h/0", NULL, 0, 0, NULL,
	    NULL, "expected :PASSWORD@" },
	{ "redis bad ipv6", "redis://[::1/0", NULL, 0, 0, NULL, NULL,
	    "bad [IPv6] host" },
	{ "redis not redis", "http://h/0", NULL, 0, 0, NULL, NULL,
	    "does not start with redis://" },
};

static void
test_redis_uri(void **state)
{
	const struct redis_case *t = *state;
	struct redis_uri u;
	const char *err = NULL;
	int r = config_redis_uri(t->uri, &u, &err);

	if (t->host == NULL) {
		assert_int_equal(r, -1);
		assert_non_null(strstr(err, t->err));
		return;
	}
	assert_int_equal(r, 0);
	assert_string_equal(u.host, t->host);
	assert_int_equal(u.port, t->port);
	assert_int_equal(u.db, t->db);
	assert_string_equal(u.user, t->user);
	assert_string_equal(u.password, t->password);
}

static void
test_postgresql_uri(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(config_postgresql_uri("postgresql://u@127.0.0.1:5432/"
	    "db", err, sizeof(err)), 0);
	assert_int_equal(config_postgresql_uri("postgres:///db?host=/tmp/s&"
	    "port=5433", err, sizeof(err)), 0);
	assert_int_equal(config_postgresql_uri("postgresql://u@h/db?"
	    "nosuchoption=1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nosuchoption"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(config_postgresql_uri("postgresql://u@h:x/db", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "bad port \"x\"");
	assert_int_equal(config_postgresql_uri("mysql://h/db", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "does not start with postgresql://");
	/* A small buffer truncates, never overflows. */
	assert_int_equal(config_postgresql_uri("mysql://h/db", err, 8), -1);
	assert_string_equal(err, "does no");
}

static void
test_uri_masked(void **state)
{
	static const char *const cases[][2] = {
		{ "postgresql://u:pw@h/db", "postgresql://u:***@h/db" },
		{ "redis://:pw@h:6379/0", "redis://:***@h:6379/0" },
		{ "redis://h:6379/0", "redis://h:6379/0" },
		{ "postgresql://u@h/db", "postgresql://u@h/db" },
		{ "sqlite", "sqlite" },
		{ "postgresql:///db?host=/tmp/a@b", "postgresql:///db?host="
		    "/tmp/a@b" },
	};
	char out[128];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		config_uri_masked(cases[i][0], out, sizeof(out));
		assert_string_equal(out, cases[i][1]);
	}
}

/* ---- docs/popgate.conf.5 against the table ---- */

/* The man page says, for every key, its default and range; they must be
   the table's (config_key_default, config_key_range), so that changing
   one without the other fails here. The page's shape: in the KEYS
   section each key is a ".TP" followed by '.BI "KEY = " form' (or .BR;
   'transport DOMAIN = ...'); its text holds "Default:" followed by
   "empty ...", "none ..." or, on the next line, ".BR VALUE ." and, for
   numbers, a line "LOW to HIGH." */
#ifndef POPGATE_SRCDIR
#define POPGATE_SRCDIR "."
#endif
#define MAN_PATH POPGATE_SRCDIR "/docs/popgate.conf.5"

static struct buf man;

static const char *
man_text(void)
{
	if (man.data == NULL) {
		buf_init(&man, 1024 * 1024);
		if (fs_read_file(MAN_PATH, &man) == -1)
			fail_msg("cannot read %s: %s", MAN_PATH,
			    strerror(errno));
	}
	return buf_cstr(&man);
}

/* The line after P, or NULL at the end of the text. */
static const char *
next_line(const char *p)
{
	p = strchr(p, '\n');
	return p != NULL ? p + 1 : NULL;
}

/* If LINE is a key heading (the line after a ".TP" in KEYS), its key
   into KEY. */
static bool
heading_key(const char *line, char *key, size_t keysz)
{
	size_t n;

	if (strncmp(line, ".BI \"", 5) != 0 && strncmp(line, ".BR \"", 5) != 0)
		return false;
	line += 5;
	n = strspn(line, "abcdefghijklmnopqrstuvwxyz0123456789_");
	if (n == 0 || line[n] != ' ')
		return false;
	return str_ncopy(key, line, n, keysz) == 0;
}

/* Calls FN for every key entry of the KEYS section with the key and the
   text from its heading to the next heading or section. */
static void
man_entries(void (*fn)(const char *key, const char *start, size_t len,
    void *arg), void *arg)
{
	const char *p = strstr(man_text(), "\n.SH KEYS\n"), *prev = NULL,
	    *start = NULL;
	char key[64], cur[64];

	assert_non_null(p);
	for (p = next_line(p + 1); p != NULL; prev = p, p = next_line(p)) {
		bool head = prev != NULL && strncmp(prev, ".TP\n", 4) == 0 &&
		    heading_key(p, key, sizeof(key));
		bool end = strncmp(p, ".SH ", 4) == 0;

		/* An entry ends before the ".TP" of the next one, or at a
		   section heading (its last line included). */
		if (start != NULL && (head || end || strncmp(p, ".SS ", 4) == 0))
			fn(cur, start, (size_t)((head ? prev : p) - start), arg);
		if (head || strncmp(p, ".SS ", 4) == 0)
			start = NULL;
		if (end)
			break;
		if (head) {
			(void)str_copy(cur, key, sizeof(cur));
			start = p;
		}
	}
}

struct man_key {
	const char	*key;
	bool		 found;
	bool		 has_default;	/* else "Default: none" */
	char		 def[64];
	bool		 has_range;
	char		 lo[32], hi[32];
	int		 reload;	/* "Reload: yes" 1, "no" 0, else -1 */
};

/* "LOW to HIGH" at the start of LINE, ending the sentence or the line. */
static bool
range_line(const char *line, char *lo, size_t losz, char *hi, size_t hisz)
{
	static const char word[] = "0123456789KMGsmhdw";
	size_t a = strspn(line, word), b;

	if (a == 0 || strncmp(line + a, " to ", 4) != 0)
		return false;
	b = strspn(line + a + 4, word);
	if (b == 0 || strchr(".,\n", line[a + 4 + b]) == NULL)
		return false;
	return str_ncopy(lo, line, a, losz) == 0 &&
	    str_ncopy(hi, line + a + 4, b, hisz) == 0;
}

/* The value of "Default:" at P (just after the colon) into M. */
static void
default_value(const char *p, struct man_key *m)
{
	size_t n;

	if (strncmp(p, " empty", 6) == 0) {
		m->has_default = true;
		m->def[0] = '\0';
		return;
	}
	if (strncmp(p, " none", 5) == 0)
		return;
	if (*p != '\n' || (strncmp(p + 1, ".BR ", 4) != 0 &&
	    strncmp(p + 1, ".B ", 3) != 0))
		fail_msg("%s: cannot read 'Default:%.20s'", m->key, p);
	p += p[3] == 'R' ? 5 : 4;
	n = strcspn(p, " \n");
	assert_int_equal(str_ncopy(m->def, p, n, sizeof(m->def)), 0);
	m->has_default = true;
}

static void
read_entry(const char *key, const char *start, size_t len, void *arg)
{
	struct man_key *m = arg;
	const char *p, *end = start + len;

	if (strcmp(key, m->key) != 0)
		return;
	if (m->found)
		fail_msg("%s is described twice", key);
	m->found = true;
	for (p = start; p != NULL && p < end; p = next_line(p)) {
		if (strncmp(p, "Default:", 8) == 0)
			default_value(p + 8, m);
		else if (strncmp(p, "Reload: yes", 11) == 0)
			m->reload = 1;
		else if (strncmp(p, "Reload: no", 10) == 0 ||
		    strncmp(p, "Reload: not used", 16) == 0)
			m->reload = 0;
		else if (!m->has_range)
			m->has_range = range_line(p, m->lo, sizeof(m->lo),
			    m->hi, sizeof(m->hi));
	}
}

/* "man page: KEY", kept for the run. */
static const char *
man_test_name(const char *key)
{
	static char names[96][64];
	static size_t n;

	if (n == nitems(names))
		abort();
	(void)str_fmt(names[n], sizeof(names[n]), "man page: %s", key);
	return names[n++];
}

static void
test_man_key(void **state)
{
	const char *key = *state, *def = config_key_default(key);
	struct man_key m;
	char lo[32], hi[32];

	memset(&m, 0, sizeof(m));
	m.key = key;
	m.reload = -1;
	man_entries(read_entry, &m);
	if (!m.found)
		fail_msg("%s: not described in %s", key, MAN_PATH);
	if (m.reload == -1)
		fail_msg("%s: the man page does not say 'Reload: yes' or "
		    "'Reload: no'", key);
	/* password_min_length: the daemon does not read it at all. */
	if (m.reload != (int)config_key_reloads(key) &&
	    strcmp(key, "password_min_length") != 0)
		fail_msg("%s: the man page says 'Reload: %s', the daemon %s",
		    key, m.reload ? "yes" : "no", config_key_reloads(key) ?
		    "reloads it" : "keeps it until a restart");
	if (def == NULL && m.has_default)
		fail_msg("%s: the man page says 'Default: %s', the table has "
		    "none", key, m.def);
	if (def != NULL && !m.has_default)
		fail_msg("%s: the man page has no default, the table '%s'",
		    key, def);
	if (def != NULL && strcmp(def, m.def) != 0)
		fail_msg("%s: the man page's default is '%s', the table's "
		    "'%s'", key, m.def, def);
	if (config_key_range(key, lo, sizeof(lo), hi, sizeof(hi))) {
		if (!m.has_range)
			fail_msg("%s: the man page gives no range, the table "
			    "%s to %s", key, lo, hi);
		if (strcmp(lo, m.lo) != 0 || strcmp(hi, m.hi) != 0)
			fail_msg("%s: the man page says %s to %s, the table "
			    "%s to %s", key, m.lo, m.hi, lo, hi);
	} else if (m.has_range) {
		fail_msg("%s: the man page gives a range (%s to %s) the table "
		    "does not have", key, m.lo, m.hi);
	}
}

static void
count_unknown(const char *key, const char *start, size_t len, void *arg)
{
	size_t i;

	(void)start;
	(void)len;
	for (i = 0; config_key_name(i) != NULL; i++)
		if (strcmp(config_key_name(i), key) == 0)
			return;
	print_error("%s describes '%s', which is not in the table\n", MAN_PATH,
	    key);
	++*(size_t *)arg;
}

static void
count_entry(const char *key, const char *start, size_t len, void *arg)
{
	(void)key;
	(void)start;
	(void)len;
	++*(size_t *)arg;
}

static void
test_man_only_table_keys(void **state)
{
	size_t unknown = 0, n = 0;

	(void)state;
	man_entries(count_unknown, &unknown);
	man_entries(count_entry, &n);
	assert_int_equal(unknown, 0);
	/* The reader above still finds the entries: not one per key would
	   mean the page's shape changed under it. */
	for (unknown = 0; config_key_name(unknown) != NULL; unknown++)
		continue;
	assert_int_equal(n, unknown);
}

int
main(void)
{
	size_t i;

#define ADD(table, fn)                                                     \
	for (i = 0; i < nitems(table); i++)                                \
		add_test(table[i].name, fn, &table[i])

	ADD(u64_cases, test_u64);
	ADD(str_cases, test_str);
	ADD(enum_cases, test_enum);
	ADD(bool_cases, test_bool);
	ADD(net_cases, test_netlist);
	ADD(listen_cases, test_listen);
	ADD(sub_cases, test_submission_ports);
	ADD(transport_cases, test_transport);
	ADD(tls_host_cases, test_tls_host);
	ADD(dnsbl_cases, test_dnsbl);
	ADD(bad_cases, test_bad);
	ADD(rt_cases, test_roundtrip);
	add_test("defaults printed, every key", test_defaults_printed, NULL);
	add_test("tls_policy lines", test_tls_policy, NULL);
	for (i = 0; config_key_name(i) != NULL; i++)
		add_test(man_test_name(config_key_name(i)), test_man_key,
		    config_key_name(i));
	add_test("man page: only the table's keys", test_man_only_table_keys,
	    NULL);
	add_test("default hostname", test_default_hostname, NULL);
	add_test("path recorded, free NULL", test_path_recorded, NULL);
	add_test("config_rel", test_config_rel, NULL);
	add_test("role names", test_role_names, NULL);
	add_test("config_load", test_load_file, NULL);
	add_test("duplicate listen, two spellings",
	    test_listen_dup_spelling, NULL);
	add_test("longest line", test_longest_line, NULL);
	ADD(redis_cases, test_redis_uri);
	add_test("postgresql URIs", test_postgresql_uri, NULL);
	add_test("passwords masked in URIs", test_uri_masked, NULL);
	i = (size_t)_cmocka_run_group_tests("config", tests, ntests, NULL,
	    NULL);
	free(tests);
	return (int)i;
}
