/*
 * net.c - address parsing, formatting and prefix matching.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "util/net.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0xff, 0xff };

/* Folds ::ffff:a.b.c.d into a.b.c.d. */
static void
unmap(struct netaddr *a)
{
	if (a->family == AF_INET6 && memcmp(a->a, v4mapped, 12) == 0) {
		memmove(a->a, a->a + 12, 4);
		memset(a->a + 4, 0, 12);
		a->family = AF_INET;
	}
}

int
net_addr_parse(const char *s, struct netaddr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->a) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->a) == 1) {
		a->family = AF_INET6;
		unmap(a);
		return 0;
	}
	return -1;
}

int
net_addr_from_sockaddr(const struct sockaddr *sa, struct netaddr *a)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		a->family = AF_INET;
		memcpy(a->a, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		a->family = AF_INET6;
		memcpy(a->a, &sin6->sin6_addr, 16);
		unmap(a);
		return 0;
	}
	return -1;
}

socklen_t
net_addr_to_sockaddr(const struct netaddr *a, uint16_t port,
    struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (void *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->a, 4);
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (void *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a->a, 16);
		return sizeof(*sin6);
	}
}

void
net_addr_format(const struct netaddr *a, char *dst, size_t dstsz)
{
	if (inet_ntop(a->family, a->a, dst, (socklen_t)dstsz) == NULL &&
	    dstsz > 0)
		dst[0] = '\0';
}

bool
net_addr_is_loopback(const struct netaddr *a)
{
	static const uint8_t v6lo[16] = { [15] = 1 };

	if (a->family == AF_INET)
		return a->a[0] == 127;
	return memcmp(a->a, v6lo, 16) == 0;
}

bool
net_addr_equal(const struct netaddr *x, const struct netaddr *y)
{
	return x->family == y->family &&
	    memcmp(x->a, y->a, x->family == AF_INET ? 4 : 16) == 0;
}

void
net_addr_mask(struct netaddr *a, unsigned bits)
{
	unsigned max = a->family == AF_INET ? 32 : 128, i;

	if (bits >= max)
		return;
	for (i = bits / 8; i < max / 8; i++) {
		if (i == bits / 8 && bits % 8 != 0)
			a->a[i] &= (uint8_t)(0xff << (8 - bits % 8));
		else
			a->a[i] = 0;
	}
}

int
net_prefix_parse(const char *s, bool loose, struct netprefix *p)
{
	char host[NET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	uint64_t bits;
	struct netaddr masked;

	if (slash == NULL) {
		if (net_addr_parse(s, &p->addr) == -1)
			return -1;
		p->bits = p->addr.family == AF_INET ? 32 : 128;
		return 0;
	}
	if (str_ncopy(host, s, (size_t)(slash - s), sizeof(host)) == -1 ||
	    net_addr_parse(host, &p->addr) == -1)
		return -1;
	/* The length counts bits of the address as written: an IPv4-mapped
	   IPv6 network (stored as IPv4) loses its 96-bit prefix. */
	if (str_to_uint(slash + 1, 0, strchr(host, ':') != NULL ? 128 : 32,
	    &bits) == -1)
		return -1;
	if (strchr(host, ':') != NULL && p->addr.family == AF_INET) {
		if (bits < 96)
			return -1;
		bits -= 96;
	}
	p->bits = (unsigned)bits;
	masked = p->addr;
	net_addr_mask(&masked, p->bits);
	if (!loose && !net_addr_equal(&masked, &p->addr))
		return -1;
	p->addr = masked;
	return 0;
}

bool
net_prefix_match(const struct netprefix *p, const struct netaddr *a)
{
	struct netaddr m = *a;

	if (p->addr.family != a->family)
		return false;
	net_addr_mask(&m, p->bits);
	return net_addr_equal(&m, &p->addr);
}

void
net_prefix_format(const struct netprefix *p, char *dst, size_t dstsz)
{
	char host[NET_ADDRSTRLEN];
	unsigned max = p->addr.family == AF_INET ? 32 : 128;

	net_addr_format(&p->addr, host, sizeof(host));
	if (p->bits == max)
		(void)snprintf(dst, dstsz, "%s", host);
	else
		(void)snprintf(dst, dstsz, "%s/%u", host, p->bits);
}

int
net_hostport_parse(const char *s, char *host, size_t hostsz, uint16_t *port)
{
	const char *colon, *hend;
	uint64_t v;

	if (s[0] == '[') {
		hend = strchr(s, ']');
		if (hend == NULL || hend[1] != ':')
			return -1;
		colon = hend + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || strchr(s, ':') != colon)
			return -1;
		hend = colon;
	}
	if (hend == s || str_ncopy(host, s, (size_t)(hend - s), hostsz) == -1)
		return -1;
	if (str_to_uint(colon + 1, 1, 65535, &v) == -1)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

void
netlist_free(struct netlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
netlist_add(struct netlist *l, const struct netprefix *p)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = *p;
}

bool
netlist_match(const struct netlist *l, const struct netaddr *a)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (net_prefix_match(&l->v[i], a))
			return true;
	return false;
}
