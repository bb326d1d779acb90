/*
 * net.h - IP addresses, prefixes and host:port strings.
 */
#ifndef POPGATE_NET_H
#define POPGATE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/compat.h"

/* An IPv4 or IPv6 address. IPv4-mapped IPv6 addresses are stored as
   IPv4 so that one client has one key. */
struct netaddr {
	int	family;		/* AF_INET or AF_INET6 */
	uint8_t	a[16];		/* network order; 4 bytes used for AF_INET */
};

struct netprefix {
	struct netaddr	addr;	/* host bits are zero */
	unsigned	bits;
};

/* Text form of an address or "ADDR/BITS", large enough for either. */
#define NET_ADDRSTRLEN 64

int	net_addr_parse(const char *, struct netaddr *) WARN_UNUSED;
int	net_addr_from_sockaddr(const struct sockaddr *, struct netaddr *)
	    WARN_UNUSED;
/* Fills a sockaddr_storage for ADDR and PORT; returns its length. */
socklen_t net_addr_to_sockaddr(const struct netaddr *, uint16_t port,
	    struct sockaddr_storage *);
void	net_addr_format(const struct netaddr *, char *, size_t);
bool	net_addr_is_loopback(const struct netaddr *);
bool	net_addr_equal(const struct netaddr *, const struct netaddr *);
/* Clears the host bits beyond BITS. */
void	net_addr_mask(struct netaddr *, unsigned bits);

/* "ADDR" (a host prefix) or "ADDR/BITS"; host bits must be zero unless
   LOOSE. 0 or -1. */
int	net_prefix_parse(const char *, bool loose, struct netprefix *)
	    WARN_UNUSED;
bool	net_prefix_match(const struct netprefix *, const struct netaddr *);
void	net_prefix_format(const struct netprefix *, char *, size_t);

/* "HOST:PORT" or "[HOST]:PORT" (brackets required for IPv6). HOST is
   copied into HOST (HOSTSZ bytes). 0 or -1. */
int	net_hostport_parse(const char *, char *host, size_t hostsz,
	    uint16_t *port) WARN_UNUSED;

/* A list of prefixes. */
struct netlist {
	struct netprefix	*v;
	size_t			 n;
};
void	netlist_free(struct netlist *);
void	netlist_add(struct netlist *, const struct netprefix *);
bool	netlist_match(const struct netlist *, const struct netaddr *);

#endif
