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
 * look up, as CNAMEs of the hostname, and Outlook's _autodiscover._tcp
 * SRV record naming the https listener's port.
 */
#include <event2/buffer.h>

#include "web/web_int.h"
#include "core/dkim.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/net.h"
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

static bool
on_loopback(const struct listen_cfg *l)
{
	struct netaddr a;

	return net_addr_parse(l->host, &a) == 0 && net_addr_is_loopback(&a);
}

/* The port Outlook's _autodiscover._tcp SRV names, the way
   web_ports_get() picks the mail ports: an https listener's, one on
   loopback only when every mail listener is (a demo), else 443 of what
   stands in front of an http or loopback https listener (*PROXIED); 0
   when no listener serves autodiscover. */
static unsigned
autodiscover_port(const struct config *cfg, bool *proxied)
{
	bool all_loopback = true, tls, http = false;
	size_t i;

	*proxied = false;
	for (i = 0; i < cfg->nlisten; i++)
		if (web_mail_role(cfg->listen[i].role, &tls) &&
		    !on_loopback(&cfg->listen[i]))
			all_loopback = false;
	for (i = 0; i < cfg->nlisten; i++) {
		const struct listen_cfg *l = &cfg->listen[i];

		if (l->role == ROLE_HTTPS && (all_loopback || !on_loopback(l)))
			return l->port;
		if (l->role == ROLE_HTTP || l->role == ROLE_HTTPS)
			http = true;
	}
	*proxied = http;
	return http ? 443 : 0;
}

/* Outlook's SRV (Microsoft's [MS-OXDSCLI] 3.1.5.2: priority and weight
   0), for when autodiscover.DOMAIN does not answer. */
static void
autodiscover_srv(struct evbuffer *out, const struct config *cfg,
    const char *domain)
{
	bool proxied;
	unsigned port = autodiscover_port(cfg, &proxied);

	if (port == 0) {
		(void)evbuffer_add_printf(out, "; no https or http listener "
		    "serves autodiscover\n_autodiscover._tcp.%s. IN SRV 0 0 0 "
		    ".\n", domain);
		return;
	}
	if (proxied)
		(void)evbuffer_add_printf(out, "; HTTPS on port 443 of a "
		    "reverse proxy in front of the http listener\n");
	(void)evbuffer_add_printf(out, "_autodiscover._tcp.%s. IN SRV 0 0 %u "
	    "%s.\n", domain, port, cfg->hostname);
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
	(void)evbuffer_add_printf(out, "; client autoconfiguration "
	    "(Thunderbird, Outlook)\nautoconfig.%s. IN CNAME %s.\n"
	    "autodiscover.%s. IN CNAME %s.\n", domain, cfg->hostname, domain,
	    cfg->hostname);
	autodiscover_srv(out, cfg, domain);
	web_ports_free(&ps);
}
