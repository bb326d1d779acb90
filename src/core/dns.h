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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* A and AAAA records of HOST (IPv4 first). MX and address answers are
   cached like TXT ones (dns_txt below): found ones for their TTL, no
   MX for the SOA's negative TTL; failures, and hosts without
   addresses, are not. */
typedef void dns_addr_cb(int status, const struct netaddr *, size_t n,
	    void *arg);
struct dns_req *dns_addrs(struct dns *, const char *host,
	    unsigned timeout_ms, dns_addr_cb *, void *arg);

/* TXT records of NAME, each one's strings joined (RFC 7208 section
   3.3, RFC 6376 section 3.6.2.2). Answers are cached for their TTL
   (at most a day), no-such answers for the SOA's negative TTL (RFC
   2308, at most an hour); temporary failures are not cached. TEXT is
   NUL-terminated (a record with a NUL in it keeps its LEN). */
#define DNS_TXT_MAX	32
struct dns_txt {
	const char	*text;
	size_t		 len;
};
typedef void dns_txt_cb(int status, const struct dns_txt *, size_t n,
	    void *arg);
struct dns_req *dns_txt(struct dns *, const char *name,
	    unsigned timeout_ms, dns_txt_cb *, void *arg);

/* The parsed answer of a TXT query (for dns.c and the fuzzer). */
struct dns_txt_set {
	int		 status;	/* as the callbacks' */
	uint32_t	 ttl;		/* seconds it may be kept */
	size_t		 n;
	struct dns_txt	 rec[DNS_TXT_MAX];
	char		*blob;		/* the texts; the set's */
};
/* Parses the DNS message ABUF of ALEN octets, the answer to a TXT
   query with RCODE already mapped to STATUS by the caller: TXT records
   of the answer section, the smallest TTL, or for no records the
   negative TTL from the authority section's SOA. 0, or -1 when the
   message is malformed (SET is then empty). */
int	dns_txt_parse(const unsigned char *abuf, size_t alen,
	    struct dns_txt_set *set);
void	dns_txt_set_free(struct dns_txt_set *);
/* How long the answer ABUF to a query of type QTYPE may be cached: the
   smallest TTL of its records of that type, or the negative TTL (as
   dns_txt_parse). 0, or -1 for a malformed message. */
int	dns_answer_ttl(const unsigned char *abuf, size_t alen, unsigned qtype,
	    uint32_t *ttl_r);

/* The name that asks DNS blocklist ZONE about ADDR (RFC 5782 sections
   2.1 and 2.4): the octets of an IPv4 address, or the 32 nibbles of an
   IPv6 one, in reverse, then ZONE ("2.0.0.127.zen.example"). 0, or -1
   when it does not fit OUT. */
int	dns_dnsbl_name(const struct netaddr *, const char *zone, char *out,
	    size_t outsz);

/* ---- DNSSEC-authenticated answers (DANE, RFC 7672) ----
   popgate validates no signatures: it asks with the AD bit set (RFC
   6840 5.7) and believes the AD bit of the answer, so only a validating
   resolver it can trust (on the host, or over a trusted network) may be
   named in dns_servers for DANE to mean anything. */

/* Whether the answer for NAME of TYPE (1 A, 15 MX, 28 AAAA, ...) is
   authenticated: STATUS as above (of the answer's RCODE), SECURE when
   the resolver set AD. */
typedef void dns_secure_cb(int status, bool secure, void *arg);
struct dns_req *dns_secure(struct dns *, const char *name, unsigned type,
	    unsigned timeout_ms, dns_secure_cb *, void *arg);

#define DNS_TLSA_MAX		16	/* records kept */
#define DNS_TLSA_DATA_MAX	2048	/* octets of one's data */
/* One TLSA record (RFC 6698 2.1). A record whose data was too long is
   kept with usage 255 (unusable) and no data. */
struct dns_tlsa {
	uint8_t		 usage, selector, mtype;
	size_t		 len;
	unsigned char	 data[DNS_TLSA_DATA_MAX];
};
/* TLSA records of NAME ("_25._tcp.mx.example.org"), asked with AD:
   STATUS as above, SECURE when the answer was authenticated. */
typedef void dns_tlsa_cb(int status, bool secure, const struct dns_tlsa *,
	    size_t n, void *arg);
struct dns_req *dns_tlsa(struct dns *, const char *name,
	    unsigned timeout_ms, dns_tlsa_cb *, void *arg);

/* The parsed answer of a query asked with AD (for dns.c and the
   fuzzer). */
struct dns_tlsa_set {
	int		 status;	/* from the RCODE and the answers */
	bool		 secure;	/* AD */
	size_t		 n;
	struct dns_tlsa	 rec[DNS_TLSA_MAX];
};
/* Parses the DNS message ABUF of ALEN octets, the answer to a query of
   TYPE: the status from its RCODE (NOERROR with records of TYPE 1,
   without 0, NXDOMAIN -2, others -1), AD, and for TYPE 52 the TLSA
   records of the answer section. 0, or -1 when the message is
   malformed. */
int	dns_tlsa_parse(const unsigned char *abuf, size_t alen, unsigned type,
	    struct dns_tlsa_set *set);
/* The A (FAMILY AF_INET) or AAAA (AF_INET6) records of HOST alone, by a
   query of that type only (no search list, no /etc/hosts): for SPF,
   whose mechanisms look at the client's family only (RFC 7208 5.3). */
struct dns_req *dns_addrs_family(struct dns *, const char *host, int family,
	    unsigned timeout_ms, dns_addr_cb *, void *arg);

/* Every PTR name of ADDR (at most 32, each once, in the answer's
   order), not confirmed: SPF's "ptr" and %{p} confirm them themselves
   (RFC 7208 5.5). NAMES valid during the call. */
typedef void dns_names_cb(int status, const char *const *names, size_t n,
	    void *arg);
struct dns_req *dns_ptr(struct dns *, const struct netaddr *,
	    unsigned timeout_ms, dns_names_cb *, void *arg);

/* The event loop D runs on (for the requests of modules built on it). */
struct event_base *dns_event_base(struct dns *);

#endif
