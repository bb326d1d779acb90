/*
 * spfcheck.c - runs popgate's SPF check_host() (src/mauth/spf.c) over
 * the real c-ares resolver, for tests/blackbox/test_spf.py.
 *
 *   spfcheck DNS_SERVERS [TIMEOUT_MS]
 *
 * reads one case a line from stdin,
 *
 *   IP SENDER HELO [DOMAIN [CANCEL_MS]]
 *
 * (SENDER "<>" for the null sender, DOMAIN "-" or absent: the sender's
 * domain) and prints for each, once its callback ran,
 *
 *   RESULT<TAB>MECHANISM<TAB>LOOKUPS<TAB>VOIDS<TAB>EXPLANATION
 *
 * or with CANCEL_MS, "cancelled" once the check was cancelled that
 * long after it started (unless it answered before).
 *
 * Each case has a resolver of its own, so no answer is cached from one
 * case to the next. The receiver (%{r}) is "receiver.test", the clock
 * (%{t}) frozen at 1800000000.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/dns.h"
#include "mauth/mauth.h"
#include "util/clock.h"
#include "util/str.h"
#include "util/compat.h"

struct run {
	struct event_base	*base;
	struct spf_req		*req;
	bool			 done;
};

static void
on_answer(const struct spf_answer *a, void *arg)
{
	struct run *r = arg;

	printf("%s\t%s\t%u\t%u\t%s\n", spf_result_name(a->result),
	    a->mechanism, a->lookups, a->voids, a->explain);
	(void)fflush(stdout);
	r->done = true;
	r->req = NULL;	/* freed before this callback */
	(void)event_base_loopbreak(r->base);
}

static void
on_cancel(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	(void)fd;
	(void)what;
	if (r->done)
		return;
	spf_cancel(&r->req);
	printf("cancelled\n");
	(void)fflush(stdout);
	r->done = true;
}

static int
one(const char *servers, unsigned timeout_ms, char *line)
{
	char *f[5] = { NULL, NULL, NULL, NULL, NULL }, *save = NULL, *p;
	struct netaddr ip;
	struct run r;
	struct dns *dns;
	struct event *cancel = NULL;
	const char *err;
	size_t n = 0;
	uint64_t ms = 0;

	for (p = strtok_r(line, " \t\n", &save); p != NULL && n < 5;
	    p = strtok_r(NULL, " \t\n", &save))
		f[n++] = p;
	if (n < 3 || net_addr_parse(f[0], &ip) == -1 || (n == 5 &&
	    str_to_uint(f[4], 0, 60000, &ms) == -1)) {
		fprintf(stderr, "spfcheck: bad case line\n");
		return -1;
	}
	r.base = event_base_new();
	r.done = false;
	if ((dns = dns_new(r.base, servers, &err)) == NULL) {
		fprintf(stderr, "spfcheck: %s\n", err);
		return -1;
	}
	r.req = spf_check(dns, &ip, n >= 4 && strcmp(f[3], "-") != 0 ? f[3] :
	    NULL, strcmp(f[1], "<>") == 0 ? NULL : f[1], f[2],
	    "receiver.test", timeout_ms, on_answer, &r);
	if (n == 5) {
		struct timeval tv = { (time_t)(ms / 1000),
			(suseconds_t)(ms % 1000) * 1000 };

		cancel = evtimer_new(r.base, on_cancel, &r);
		(void)evtimer_add(cancel, &tv);
	}
	while (!r.done)
		(void)event_base_loop(r.base, EVLOOP_ONCE);
	if (cancel != NULL)
		event_free(cancel);
	dns_free(&dns);
	event_base_free(r.base);
	return 0;
}

int
main(int argc, char **argv)
{
	char line[2048];
	uint64_t t = 5000;

	if (argc < 2 || argc > 3 || (argc == 3 &&
	    str_to_uint(argv[2], 1, 600000, &t) == -1)) {
		fprintf(stderr, "usage: spfcheck DNS_SERVERS [TIMEOUT_MS]\n");
		return 2;
	}
	clock_set_fake(1800000000);
	while (fgets(line, sizeof(line), stdin) != NULL)
		if (one(argv[1], (unsigned)t, line) == -1)
			return 1;
	return 0;
}
