/*
 * web_dns.c - the DNS records a hosted domain publishes (SPEC 12), as
 * zone file lines: what `popgate domain dns DOMAIN` prints and a
 * customer's page will show.
 *
 * MX to the hostname; SPF (RFC 7208) allowing the hostname's addresses;
 * the domain's DKIM keys (RFC 6376, 8463) from the store, the same lines
 * as `domain dkim show`; DMARC (RFC 7489); the SRV records of RFC 6186
 * with RFC 8314's implicit-TLS services, implicit TLS preferred (a lower
 * priority) and IMAP before POP3, and "0 0 0 ." (RFC 2782: "service
 * decidedly not available") for the services the configuration does not
 * offer; the autoconfig and autodiscover names Thunderbird and Outlook
 * look up, as CNAMEs of the hostname.
 */
#include <event2/buffer.h>

#include "web/web_int.h"
#include "core/dkim.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/compat.h"

#define TXT_CHUNK	255		/* octets per TXT string */

void
web_dns_dkim(struct evbuffer *out, const struct store_dkim_key *k)
{
	struct buf rec;
	size_t i;

	buf_init(&rec, BUF_UNLIMITED);
	dkim_record((enum dkim_alg)dkim_alg_parse(k->algorithm),
	    k->public_key, &rec);
	(void)evbuffer_add_printf(out, "%s._domainkey.%s. IN TXT (",
	    k->selector, k->domain);
	for (i = 0; i < rec.len; i += TXT_CHUNK)
		(void)evbuffer_add_printf(out, " \"%.*s\"", (int)(rec.len - i <
		    TXT_CHUNK ? rec.len - i : TXT_CHUNK), rec.data + i);
	(void)evbuffer_add_printf(out, " )\n");
	buf_free(&rec);
}

/* The SRV services, in the order printed, with their priorities:
   RFC 8314 5.1 asks implicit TLS before STARTTLS, RFC 6186 3.4 lets
   the priorities across _imap and _pop3 say which to prefer. */
static const struct {
	const char		*service;
	enum listen_role	 role;
	unsigned		 priority;
} srv[] = {
	{ "_submissions", ROLE_SUBMISSIONS, 0 },
	{ "_submission", ROLE_SUBMISSION, 10 },
	{ "_imaps", ROLE_IMAPS, 0 },
	{ "_imap", ROLE_IMAP, 10 },
	{ "_pop3s", ROLE_POP3S, 20 },
	{ "_pop3", ROLE_POP3, 30 },
};

static void
srv_records(struct evbuffer *out, const struct config *cfg,
    const char *domain, const struct web_ports *ps)
{
	size_t i, j, n;

	(void)evbuffer_add_printf(out, "; mail programs find the servers "
	    "(RFC 6186, RFC 8314; \".\" = not offered)\n");
	for (i = 0; i < nitems(srv); i++) {
		for (j = 0, n = 0; j < ps->n; j++) {
			if (ps->v[j].role != srv[i].role)
				continue;
			(void)evbuffer_add_printf(out, "%s._tcp.%s. IN SRV %u 1 "
			    "%u %s.\n", srv[i].service, domain,
			    srv[i].priority, (unsigned)ps->v[j].port,
			    cfg->hostname);
			n++;
		}
		if (n == 0)
			(void)evbuffer_add_printf(out, "%s._tcp.%s. IN SRV 0 0 0 "
			    ".\n", srv[i].service, domain);
	}
}

void
web_dns_records(struct evbuffer *out, const struct config *cfg,
    const char *domain, const struct store_dkim_key *keys, size_t nkeys)
{
	struct web_ports ps;
	size_t i;

	web_ports_get(cfg, &ps);
	(void)evbuffer_add_printf(out, "; the DNS records of %s, served by "
	    "%s\n; mail to the domain\n%s. IN MX 10 %s.\n", domain,
	    cfg->hostname, domain, cfg->hostname);
	(void)evbuffer_add_printf(out, "; who may send as the domain: SPF, "
	    "DKIM, DMARC\n%s. IN TXT \"v=spf1 a:%s -all\"\n", domain,
	    cfg->hostname);
	if (*cfg->relayhost != '\0')
		(void)evbuffer_add_printf(out, "; mail leaves through the "
		    "relayhost %s: add what its provider publishes for SPF "
		    "(include:...)\n", cfg->relayhost);
	for (i = 0; i < nkeys; i++) {
		(void)evbuffer_add_printf(out, "; DKIM %s, %s\n",
		    keys[i].algorithm, keys[i].active ? "signing" :
		    "retired: remove once `popgate domain dkim show` says so");
		web_dns_dkim(out, &keys[i]);
	}
	if (nkeys == 0)
		(void)evbuffer_add_printf(out, "; no DKIM key: `popgate domain "
		    "dkim rotate %s` makes one\n", domain);
	(void)evbuffer_add_printf(out, "_dmarc.%s. IN TXT \"v=DMARC1; "
	    "p=quarantine; adkim=r; aspf=r\"\n", domain);
	srv_records(out, cfg, domain, &ps);
	/* XXX: _autodiscover._tcp SRV needs the https listener's port,
	   which the HTTP server brings. */
	(void)evbuffer_add_printf(out, "; client autoconfiguration "
	    "(Thunderbird, Outlook)\nautoconfig.%s. IN CNAME %s.\n"
	    "autodiscover.%s. IN CNAME %s.\n", domain, cfg->hostname, domain,
	    cfg->hostname);
	web_ports_free(&ps);
}
