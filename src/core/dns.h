/*
 * dns.h - asynchronous DNS on the event loop (c-ares): reverse names of
 * clients, MX records and addresses of destinations.
 *
 * Every request has its own time limit and can be cancelled; the
 * callback runs exactly once unless the request was cancelled, never
 * from inside the call that started it. Results:
 *   1  found,  0  no such records (NODATA),  -2  no such domain
 *   (NXDOMAIN),  -1  temporary failure (SERVFAIL, timeout, network).
 */
#ifndef POPGATE_DNS_H
#define POPGATE_DNS_H

#include <stddef.h>

#include "util/net.h"

struct event_base;
struct dns;
struct dns_req;

#define DNS_NXDOMAIN	(-2)

/* SERVERS: "" for /etc/resolv.conf, else "IP[:PORT], ..." (the tests'
   stub on loopback). NULL with *ERROR_R. */
struct dns *dns_new(struct event_base *, const char *servers,
	    const char **error_r);
void	dns_free(struct dns **);
/* The callback of *REQ will not run. Sets *REQ to NULL. */
void	dns_cancel(struct dns_req **);

/* Forward-confirmed reverse name of ADDR: the PTR name, if that name
   resolves back to ADDR (else status 0). NAME valid during the call. */
typedef void dns_name_cb(int status, const char *name, void *arg);
struct dns_req *dns_reverse(struct dns *, const struct netaddr *,
	    unsigned timeout_ms, dns_name_cb *, void *arg);

struct dns_mx {
	char		host[256];	/* "" for the root: a null MX */
	unsigned	pref;
};
typedef void dns_mx_cb(int status, const struct dns_mx *, size_t n,
	    void *arg);
struct dns_req *dns_mx(struct dns *, const char *domain,
	    unsigned timeout_ms, dns_mx_cb *, void *arg);

/* A and AAAA records of HOST (IPv4 first). */
typedef void dns_addr_cb(int status, const struct netaddr *, size_t n,
	    void *arg);
struct dns_req *dns_addrs(struct dns *, const char *host,
	    unsigned timeout_ms, dns_addr_cb *, void *arg);

/* The name that asks DNS blocklist ZONE about ADDR (RFC 5782 sections
   2.1 and 2.4): the octets of an IPv4 address, or the 32 nibbles of an
   IPv6 one, in reverse, then ZONE ("2.0.0.127.zen.example"). 0, or -1
   when it does not fit OUT. */
int	dns_dnsbl_name(const struct netaddr *, const char *zone, char *out,
	    size_t outsz);

#endif
