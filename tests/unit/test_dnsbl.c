/*
 * test_dnsbl.c - the names that ask a DNS blocklist about an address
 * (dns_dnsbl_name, src/core/dns.c; RFC 5782 sections 2.1 and 2.4).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include "core/dns.h"
#include "util/compat.h"

struct name_case {
	const char	*name;
	const char	*addr;
	const char	*zone;
	size_t		 outsz;
	int		 r;
	const char	*want;
};

static const struct name_case name_cases[] = {
	{ "IPv4: octets reversed (RFC 5782 2.1)", "127.0.0.2",
	    "zen.example", 256, 0, "2.0.0.127.zen.example" },
	{ "IPv4: three-digit octets", "192.168.255.10", "bl.example", 256, 0,
	    "10.255.168.192.bl.example" },
	/* RFC 5782 section 2.4's example */
	{ "IPv6: 32 nibbles reversed (RFC 5782 2.4)",
	    "2001:db8:1:2:3:4:567:89ab",
	    "ugly.example.com", 256, 0,
	    "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2."
	    "ugly.example.com" },
	{ "IPv6 loopback: every nibble, zeros too", "::1", "v6.example", 256,
	    0, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "v6.example" },
	{ "exactly fits", "127.0.0.2", "z.example", 20, 0,
	    "2.0.0.127.z.example" },
	{ "one octet too small", "127.0.0.2", "z.example", 19, -1, NULL },
};

static void
test_name(void **state)
{
	const struct name_case *tc = *state;
	struct netaddr a;
	char out[256];

	assert_int_equal(net_addr_parse(tc->addr, &a), 0);
	assert_true(tc->outsz <= sizeof(out));
	assert_int_equal(dns_dnsbl_name(&a, tc->zone, out, tc->outsz), tc->r);
	if (tc->want != NULL)
		assert_string_equal(out, tc->want);
}

int
main(void)
{
	size_t i;
	int r;

	for (i = 0; i < nitems(name_cases); i++)
		add_test(name_cases[i].name, test_name, &name_cases[i]);
	r = _cmocka_run_group_tests("dnsbl", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
