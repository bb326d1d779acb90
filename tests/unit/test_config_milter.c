/*
 * test_config_milter.c - the content-filter keys of popgate.conf
 * (src/core/config_milter.c, SPEC 11): milter, milter_apply and the
 * timeouts and default action, global and per filter.
 *
 * Table-driven: good files check every filter's typed settings; bad
 * files check the exact errors with their FILE:LINE; the printed
 * configuration parses back to the same filters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <stdbool.h>

#include "core/config.h"
#include "util/str.h"
#include "util/compat.h"

#define NAME "t.conf"

struct want_milter {
	const char		*name;
	enum milter_family_cfg	 family;
	const char		*where;		/* path or host */
	uint16_t		 port;
	enum milter_apply	 apply;
	uint64_t		 connect, command, total;
	enum milter_action	 action;
};

struct good_case {
	const char		*name;
	const char		*text;
	size_t			 n;
	struct want_milter	 m[4];
};

#define DFLT	10, 30, 300, MILTER_ACTION_TEMPFAIL

static const struct good_case good_cases[] = {
	{ "no filters", "", 0, { { NULL, 0, NULL, 0, 0, 0, 0, 0, 0 } } },
	{ "one unix filter", "milter = rspamd unix:/run/rspamd/milter.sock\n",
	  1, { { "rspamd", MILTER_UNIX, "/run/rspamd/milter.sock", 0,
	  MILTER_APPLY_ALL, DFLT } } },
	{ "order kept, every family",
	  "milter = b inet:127.0.0.1:11332\n"
	  "milter = a inet6:[::1]:8891\n"
	  "milter = c.d-e_f inet:localhost:3310\n", 3, {
	  { "b", MILTER_INET, "127.0.0.1", 11332, MILTER_APPLY_ALL, DFLT },
	  { "a", MILTER_INET6, "::1", 8891, MILTER_APPLY_ALL, DFLT },
	  { "c.d-e_f", MILTER_INET, "127.0.0.1", 3310, MILTER_APPLY_ALL,
	    DFLT } } },
	{ "apply and overrides",
	  "milter_command_timeout = 1m\n"
	  "milter = rspamd inet:127.0.0.1:11332\n"
	  "milter = dkim unix:/run/dkim.sock\n"
	  "milter_apply rspamd = inbound\n"
	  "milter_apply dkim = relay\n"
	  "milter_command_timeout rspamd = 5s\n"
	  "milter_default_action dkim = accept\n"
	  "milter_connect_timeout dkim = 2s\n"
	  "milter_total_timeout rspamd = 1h\n"
	  "milter_default_action = accept\n", 2, {
	  { "rspamd", MILTER_INET, "127.0.0.1", 11332, MILTER_APPLY_INBOUND,
	    10, 5, 3600, MILTER_ACTION_ACCEPT },
	  { "dkim", MILTER_UNIX, "/run/dkim.sock", 0, MILTER_APPLY_RELAY,
	    2, 60, 300, MILTER_ACTION_ACCEPT } } },
	{ "global default tempfail, one accept",
	  "milter = x unix:/x\nmilter = y unix:/y\n"
	  "milter_default_action y = accept\nmilter_apply x = all\n", 2, {
	  { "x", MILTER_UNIX, "/x", 0, MILTER_APPLY_ALL, DFLT },
	  { "y", MILTER_UNIX, "/y", 0, MILTER_APPLY_ALL, 10, 30, 300,
	    MILTER_ACTION_ACCEPT } } },
};

static void
check_milters(const struct config *c, const struct good_case *tc)
{
	size_t i;

	assert_int_equal(c->nmilter, tc->n);
	for (i = 0; i < tc->n; i++) {
		const struct milter_cfg *m = &c->milter[i];
		const struct want_milter *w = &tc->m[i];

		assert_string_equal(m->name, w->name);
		assert_int_equal(m->family, w->family);
		assert_string_equal(w->family == MILTER_UNIX ? m->path : m->host,
		    w->where);
		assert_int_equal(m->port, w->port);
		assert_int_equal(m->apply, w->apply);
		assert_int_equal(m->connect_timeout, w->connect);
		assert_int_equal(m->command_timeout, w->command);
		assert_int_equal(m->total_timeout, w->total);
		assert_int_equal(m->default_action, w->action);
		assert_ptr_equal(config_milter(c, w->name), m);
	}
	assert_null(config_milter(c, "nosuch"));
}

static void
test_good(void **state)
{
	const struct good_case *tc = *state;
	struct strlist errs;
	struct config *c, *again;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	strlist_init(&errs);
	c = config_parse(NAME, tc->text, &errs);
	if (c == NULL)
		fail_msg("%s", errs.n ? errs.v[0] : "?");
	check_milters(c, tc);
	/* the printed configuration reads back to the same filters */
	f = open_memstream(&text, &len);
	assert_non_null(f);
	config_print(c, f);
	assert_int_equal(fclose(f), 0);
	again = config_parse(NAME, text, &errs);
	if (again == NULL)
		fail_msg("printed config: %s", errs.n ? errs.v[0] : "?");
	check_milters(again, tc);
	free(text);
	config_free(&again);
	config_free(&c);
	strlist_free(&errs);
}

struct bad_case {
	const char	*name;
	const char	*text;
	const char	*err[3];
};

static const struct bad_case bad_cases[] = {
	{ "no address", "milter = rspamd\n", { "t.conf:1: bad value for "
	  "'milter': 'rspamd' (expected NAME unix:/PATH, NAME inet:HOST:PORT "
	  "or NAME inet6:[ADDRESS]:PORT)" } },
	{ "three fields", "milter = a unix:/x y\n", { "t.conf:1: bad value "
	  "for 'milter': 'a unix:/x y' (expected NAME unix:/PATH, NAME "
	  "inet:HOST:PORT or NAME inet6:[ADDRESS]:PORT)" } },
	{ "bad name", "milter = a/b unix:/x\n", { "t.conf:1: bad filter name "
	  "in 'milter': 'a/b' (1 to 32 letters, digits, '_', '.', '-')" } },
	{ "duplicate name", "milter = a unix:/x\n\nmilter = a unix:/y\n",
	  { "t.conf:3: duplicate filter name 'a' in 'milter' (first at line "
	  "1)" } },
	{ "relative path", "milter = a unix:x.sock\n", { "t.conf:1: bad "
	  "address for milter a: 'unix:x.sock' (the socket path must be "
	  "absolute)" } },
	{ "unknown scheme", "milter = a local:/x\n", { "t.conf:1: bad "
	  "address for milter a: 'local:/x' (expected unix:/PATH, "
	  "inet:HOST:PORT or inet6:[ADDRESS]:PORT)" } },
	{ "inet no port", "milter = a inet:127.0.0.1\n", { "t.conf:1: bad "
	  "address for milter a: 'inet:127.0.0.1' (expected "
	  "inet:HOST:PORT)" } },
	{ "inet port 0", "milter = a inet:127.0.0.1:0\n", { "t.conf:1: bad "
	  "address for milter a: 'inet:127.0.0.1:0' (expected "
	  "inet:HOST:PORT)" } },
	{ "inet hostname", "milter = a inet:filter.example:25\n", {
	  "t.conf:1: bad address for milter a: 'inet:filter.example:25' "
	  "(HOST of inet: must be an IPv4 address or localhost)" } },
	{ "inet6 not v6", "milter = a inet6:[127.0.0.1]:25\n", { "t.conf:1: "
	  "bad address for milter a: 'inet6:[127.0.0.1]:25' (expected "
	  "inet6:[ADDRESS]:PORT)" } },
	{ "apply unknown name", "milter = a unix:/x\nmilter_apply b = all\n",
	  { "t.conf:2: 'milter_apply b': no filter named 'b' (declare it "
	  "first with 'milter = b ADDRESS')" } },
	{ "apply before milter", "milter_apply a = all\nmilter = a unix:/x\n",
	  { "t.conf:1: 'milter_apply a': no filter named 'a' (declare it "
	  "first with 'milter = a ADDRESS')" } },
	{ "apply without name", "milter_apply = all\n", { "t.conf:1: "
	  "'milter_apply' needs a filter name: milter_apply NAME = inbound, "
	  "relay or all" } },
	{ "apply bad value", "milter = a unix:/x\nmilter_apply a = outbound\n",
	  { "t.conf:2: bad value for 'milter_apply a': 'outbound' (expected "
	  "inbound, relay or all)" } },
	{ "apply twice", "milter = a unix:/x\nmilter_apply a = all\n"
	  "milter_apply a = relay\n", { "t.conf:3: duplicate key "
	  "'milter_apply a' (first set at line 2)" } },
	{ "timeout per filter bad", "milter = a unix:/x\n"
	  "milter_command_timeout a = 2h\n", { "t.conf:2: bad value for "
	  "'milter_command_timeout': '2h' (expected a duration from 1s to 1h, "
	  "like 30s, 90m, 4h or 5d)" } },
	{ "timeout unknown filter", "milter_total_timeout z = 1m\n", {
	  "t.conf:1: 'milter_total_timeout z': no filter named 'z' (declare "
	  "it first with 'milter = z ADDRESS')" } },
	{ "action bad", "milter_default_action = reject\n", { "t.conf:1: bad "
	  "value for 'milter_default_action': 'reject' (expected tempfail or "
	  "accept)" } },
	{ "global twice", "milter_connect_timeout = 1s\n"
	  "milter_connect_timeout = 2s\n", { "t.conf:2: duplicate key "
	  "'milter_connect_timeout' (first set at line 1)" } },
	{ "all errors reported", "milter = a unix:/x\nmilter = a unix:/y\n"
	  "milter_apply b = all\n", { "t.conf:2: duplicate filter name 'a' in "
	  "'milter' (first at line 1)", "t.conf:3: 'milter_apply b': no "
	  "filter named 'b' (declare it first with 'milter = b ADDRESS')" } },
};

static void
test_bad(void **state)
{
	const struct bad_case *tc = *state;
	struct strlist errs;
	struct config *c;
	size_t i, n = 0;

	strlist_init(&errs);
	c = config_parse(NAME, tc->text, &errs);
	assert_null(c);
	while (n < nitems(tc->err) && tc->err[n] != NULL)
		n++;
	for (i = 0; i < errs.n && i < n; i++)
		assert_string_equal(errs.v[i], tc->err[i]);
	assert_int_equal(errs.n, n);
	strlist_free(&errs);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < nitems(good_cases); i++)
		add_test(good_cases[i].name, test_good, &good_cases[i]);
	for (i = 0; i < nitems(bad_cases); i++)
		add_test(bad_cases[i].name, test_bad, &bad_cases[i]);
	return _cmocka_run_group_tests("config_milter", tests, ntests, NULL,
	    NULL);
}
