/*
 * test_hook.c - the pure parts of the webhooks (src/hook): the
 * signature against known answers (Python's hmac, as a receiver checks
 * it), the back-off's bounds and growth, which statuses are retried,
 * the webhook keys of popgate.conf (good and bad URLs and events, the
 * loopback rule, the secret's rules, the secret never printed),
 * firing without a daemon costing nothing, and the logins' memory of
 * login.new_ip (baseline, news, expiry, replacement, saved and read).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include "core/config.h"
#include "hook/hook.h"
#include "hook/hook_int.h"
#include "util/str.h"
#include "util/compat.h"

struct sign_case {
	const char	*secret, *ts, *body, *hex;
};

/* hmac.new(SECRET, TS + b"." + BODY, hashlib.sha256).hexdigest() */
static const struct sign_case sign_cases[] = {
	{ "whsec", "1700000000", "{\"a\":1}",
	    "8ad37ba156048ae0e0a5533c75cdf26fee88b07f93cb57ee4c80adb053012032" },
	{ "key", "0", "",
	    "85841b4efc3cd7776c3c8f9b7cca9e281c550e5d19889d78e9e669c6337f000d" },
};

static void
test_sign(void **state)
{
	const struct sign_case *c = *state;
	char hex[65];

	hook_sign(c->secret, c->ts, c->body, strlen(c->body), hex);
	assert_string_equal(hex, c->hex);
}

/* Attempt N waits between half and all of MIN doubled N-1 times, at
   most an hour, never below MIN; RND picks the point. */
static void
test_backoff(void **state)
{
	unsigned n;
	uint64_t full;

	(void)state;
	for (n = 1; n <= 40; n++) {
		full = 10000ULL << (n - 1 < 20 ? n - 1 : 20);
		if (full > 3600000)
			full = 3600000;
		assert_int_equal(hook_backoff(n, 10, 0), full / 2 < 10000 ?
		    10000 : full / 2);
		assert_true(hook_backoff(n, 10, UINT32_MAX) <= full);
		assert_true(hook_backoff(n, 10, UINT32_MAX) >= full - 1);
		assert_true(hook_backoff(n, 10, 0x80000000u) >= full / 2);
	}
	assert_int_equal(hook_backoff(0, 1, 0), 1000);
	/* a MIN above the hour's cap wins */
	assert_int_equal(hook_backoff(1, 86400, 0), 86400000);
}

static void
test_statuses(void **state)
{
	static const int yes[] = { 0, 408, 429, 500, 502, 503, 599 };
	static const int no[] = { 200, 204, 301, 400, 401, 403, 404, 410,
		422, 600 };
	size_t i;

	(void)state;
	for (i = 0; i < nitems(yes); i++)
		assert_true(hook_status_retries(yes[i]));
	for (i = 0; i < nitems(no); i++)
		assert_false(hook_status_retries(no[i]));
}

static struct config *
parse(const char *text, struct strlist *errors)
{
	strlist_init(errors);
	return config_parse("t.conf", text, errors);
}

struct good_case {
	const char	*line;
	bool		 https;
	const char	*host;
	unsigned	 port;
	const char	*path;
	unsigned	 events;
};

static const struct good_case good_cases[] = {
	{ "webhook = http://127.0.0.1:8080/hook", false, "127.0.0.1", 8080,
	    "/hook", WEBHOOK_ALL_EVENTS },
	{ "webhook = HTTPS://Panel.Example.COM/x?y=1 login.new_ip", true,
	    "panel.example.com", 443, "/x?y=1", 1u << HOOK_LOGIN_NEW_IP },
	{ "webhook = https://[2001:db8::1]:8443 customer.suspended,"
	    "message.bounced", true, "2001:db8::1", 8443, "/",
	    (1u << HOOK_CUSTOMER_SUSPENDED) | (1u << HOOK_MESSAGE_BOUNCED) },
	{ "webhook = http://localhost?a relay.cap_reached", false,
	    "localhost", 80, "/?a", 1u << HOOK_RELAY_CAP_REACHED },
	{ "webhook = http://[::1]:81/p", false, "::1", 81, "/p",
	    WEBHOOK_ALL_EVENTS },
};

static void
test_good(void **state)
{
	const struct good_case *c = *state;
	struct strlist errors;
	char text[512];
	struct config *cfg;

	(void)str_fmt(text, sizeof(text), "%s\nwebhook_secret = s\n",
	    c->line);
	cfg = parse(text, &errors);
	if (cfg == NULL)
		fail_msg("%s: %s", c->line, errors.n > 0 ? errors.v[0] : "?");
	assert_int_equal(cfg->nwebhook, 1);
	assert_int_equal(cfg->webhook[0].https, c->https);
	assert_string_equal(cfg->webhook[0].host, c->host);
	assert_int_equal(cfg->webhook[0].port, c->port);
	assert_string_equal(cfg->webhook[0].path, c->path);
	assert_int_equal(cfg->webhook[0].events, c->events);
	config_free(&cfg);
	strlist_free(&errors);
}

struct bad_case {
	const char	*text;
	const char	*error;
};

static const struct bad_case bad_cases[] = {
	{ "webhook = ftp://127.0.0.1/\nwebhook_secret = s\n",
	    "t.conf:1: bad URL in 'webhook': 'ftp://127.0.0.1/' (not http:// "
	    "or https://)" },
	{ "webhook = http://192.0.2.1/\nwebhook_secret = s\n",
	    "t.conf:1: 'webhook http://192.0.2.1/': http:// only to a "
	    "loopback address (use https://, or set webhook_insecure = yes)" },
	{ "webhook = http://127.0.0.1/ login.old_ip\nwebhook_secret = s\n",
	    "t.conf:1: unknown event in 'webhook': 'login.old_ip' (expected "
	    "customer.suspended, relay.cap_reached, message.bounced or "
	    "login.new_ip)" },
	{ "webhook = https://u:p@panel.example/\nwebhook_secret = s\n",
	    "t.conf:1: bad URL in 'webhook': 'https://u:p@panel.example/' "
	    "(user information in the URL)" },
	{ "webhook = https://panel.example:0/\nwebhook_secret = s\n",
	    "t.conf:1: bad URL in 'webhook': 'https://panel.example:0/' (a bad "
	    "port)" },
	{ "webhook = https://panel.example/#x\nwebhook_secret = s\n",
	    "t.conf:1: bad URL in 'webhook': 'https://panel.example/#x' (a "
	    "fragment)" },
	{ "webhook = https://pa_nel!/\nwebhook_secret = s\n",
	    "t.conf:1: bad URL in 'webhook': 'https://pa_nel!/' (a bad host "
	    "name)" },
	{ "webhook = https://[::1/\nwebhook_secret = s\n",
	    "t.conf:1: bad URL in 'webhook': 'https://[::1/' (an unclosed "
	    "'[')" },
	{ "webhook = https://panel.example/ a b\nwebhook_secret = s\n",
	    "t.conf:1: bad value for 'webhook': 'https://panel.example/ a b' "
	    "(expected webhook = http[s]://HOST[:PORT]/PATH [EVENT,...])" },
	{ "webhook = https://panel.example/\n",
	    "t.conf:1: 'webhook' needs webhook_secret or webhook_secret_file "
	    "(deliveries are signed)" },
	{ "webhook_secret = s\nwebhook_secret_file = /etc/s\n",
	    "t.conf:2: webhook_secret and webhook_secret_file are both set: "
	    "keep one" },
};

static void
test_bad(void **state)
{
	const struct bad_case *c = *state;
	struct strlist errors;
	struct config *cfg = parse(c->text, &errors);

	assert_null(cfg);
	assert_int_equal(errors.n, 1);
	assert_string_equal(errors.v[0], c->error);
	strlist_free(&errors);
}

static void
test_insecure_and_print(void **state)
{
	struct strlist errors;
	struct config *cfg = parse("webhook = http://192.0.2.1/h "
	    "login.new_ip,message.bounced\nwebhook_insecure = yes\n"
	    "webhook_secret = hunter2\n", &errors);
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(cfg);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	config_print(cfg, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "\nwebhook = http://192.0.2.1/h "
	    "message.bounced,login.new_ip\n"));
	assert_non_null(strstr(out, "\nwebhook_secret = ***\n"));
	assert_null(strstr(out, "hunter2"));
	free(out);
	config_free(&cfg);
	strlist_free(&errors);
}

/* No daemon: nothing is queued, nothing remembered. */
static void
test_no_daemon(void **state)
{
	struct netaddr a;

	(void)state;
	assert_int_equal(net_addr_parse("192.0.2.1", &a), 0);
	HOOK_FIRE(HOOK_CUSTOMER_SUSPENDED, HOOK_STR("customer", "acme"));
	hook_login("ann@acme.test", "acme", &a, "pop3");
	assert_false(hook_once(HOOK_RELAY_CAP_REACHED, "acme x", 3600));
	assert_true(strcmp(config_webhook_event(HOOK_LOGIN_NEW_IP),
	    "login.new_ip") == 0);
	assert_null(config_webhook_event(HOOK_NEVENTS));
}

static struct netaddr
ip(const char *s)
{
	struct netaddr a;

	assert_int_equal(net_addr_parse(s, &a), 0);
	return a;
}

/* The logins' memory: a first login is the baseline; a new address is
   news once; an address unused for MEMORY is news again; 8 addresses a
   mailbox, the least recent replaced. */
static void
test_seen(void **state)
{
	struct hook_seen *s = hook_seen_new();
	struct netaddr a = ip("192.0.2.1"), b = ip("192.0.2.2");
	char text[32];
	unsigned i;

	(void)state;
	assert_false(hook_seen_check(s, "ann@x.test", &a, 1000, 100));
	assert_false(hook_seen_check(s, "ann@x.test", &a, 1001, 100));
	assert_true(hook_seen_check(s, "ann@x.test", &b, 1002, 100));
	assert_false(hook_seen_check(s, "ann@x.test", &b, 1003, 100));
	/* a's last use was at 1001 */
	assert_false(hook_seen_check(s, "ann@x.test", &a, 1101, 100));
	assert_true(hook_seen_check(s, "ann@x.test", &b, 1104, 100));
	/* another mailbox knows neither */
	assert_false(hook_seen_check(s, "bob@x.test", &b, 1104, 100));
	for (i = 3; i <= 9; i++) {
		struct netaddr c;

		(void)str_fmt(text, sizeof(text), "192.0.2.%u", i);
		c = ip(text);
		assert_true(hook_seen_check(s, "ann@x.test", &c, 1200 + i,
		    1000));
	}
	/* a (1101) was the least recent of nine: forgotten; coming back,
	   it replaces b (1104), the least recent then */
	assert_true(hook_seen_check(s, "ann@x.test", &a, 1300, 1000));
	b = ip("192.0.2.9");
	assert_false(hook_seen_check(s, "ann@x.test", &b, 1301, 1000));
	b = ip("192.0.2.2");
	assert_true(hook_seen_check(s, "ann@x.test", &b, 1302, 1000));
	hook_seen_free(&s);
	assert_null(s);
}

/* Saved at stop, read at start: what was known stays known. */
static void
test_seen_saved(void **state)
{
	char dir[] = "/tmp/test_hook.XXXXXX";
	struct hook_seen *s = hook_seen_new();
	struct netaddr a = ip("2001:db8::1"), b = ip("198.51.100.7");
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_false(hook_seen_check(s, "ann@x.test", &a, 1000, 100));
	assert_true(hook_seen_check(s, "ann@x.test", &b, 1001, 100));
	hook_seen_save(s, fd);
	hook_seen_free(&s);
	s = hook_seen_new();
	hook_seen_load(s, fd);
	assert_false(hook_seen_check(s, "ann@x.test", &a, 1050, 100));
	assert_false(hook_seen_check(s, "ann@x.test", &b, 1050, 100));
	assert_true(hook_seen_check(s, "ann@x.test", &b, 1050 + 101, 100));
	hook_seen_free(&s);
	assert_int_equal(unlinkat(fd, HOOK_SEEN_FILE, 0), 0);
	assert_int_equal(close(fd), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < nitems(sign_cases); i++)
		add_test(sign_cases[i].hex, test_sign, &sign_cases[i]);
	add_test("back-off", test_backoff, NULL);
	add_test("statuses retried", test_statuses, NULL);
	for (i = 0; i < nitems(good_cases); i++)
		add_test(good_cases[i].line, test_good, &good_cases[i]);
	for (i = 0; i < nitems(bad_cases); i++)
		add_test(bad_cases[i].error, test_bad, &bad_cases[i]);
	add_test("insecure, printed, secret masked", test_insecure_and_print,
	    NULL);
	add_test("no daemon", test_no_daemon, NULL);
	add_test("logins' memory", test_seen, NULL);
	add_test("logins' memory saved", test_seen_saved, NULL);
	i = (size_t)_cmocka_run_group_tests("hook", tests, ntests, NULL,
	    NULL);
	free(tests);
	return (int)i;
}
