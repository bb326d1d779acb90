/*
 * dlv_client_tls.c - the TLS side of an outbound connection: before an
 * MX host is used, the destination's MTA-STS policy (dlv_sts_fetch.c)
 * and the host's DANE records (RFC 7672 2.2: only through authenticated
 * answers) are found and dlv_tls_decide() says what the host demands;
 * after STARTTLS, the handshake set up for it (dlv_tls_setup), logged
 * with the policy that applied, and its failure a deferral whenever the
 * policy requires TLS (never a fallback to clear text).
 */
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "delivery/dlv_conn.h"
#include "core/tls.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

/* ---- before the host is used ---- */

bool
dlv_conn_mx_routed(const struct dlv_conn *c)
{
	return c->d->route == ROUTE_MX;
}

/* The current host's TLS demand is known (c->dane, c->sts): it is used,
   or skipped when the policy refuses it. */
static void
host_decided(struct dlv_conn *c)
{
	const char *host = c->hosts[c->hi], *why = "";
	struct netaddr a;

	if (dlv_tls_decide(c->q->d.cfg, c->d->domain, dlv_conn_mx_routed(c), c->sts,
	    host, c->dane, &c->req, &why) == 0) {
		dlv_conn_fail(c, ST_POLICY, "%s: %s", host, why);
		return;
	}
	if (c->req.sts_testing && !dlv_sts_match(c->req.sts, host))
		log_info("delivery to=%s mta-sts testing: host %s is not an mx "
		    "of the policy; mode enforce would not use it",
		    c->d->domain, host);
	if (net_addr_parse(host, &a) == 0) {
		dlv_conn_on_addrs(1, &a, 1, c);
		return;
	}
	c->dnsreq = dns_addrs(c->q->d.dns, host, DLV_DNS_TIMEOUT_MS, dlv_conn_on_addrs,
	    c);
}

/* RFC 7672 2.2: the TLSA records of a host reached securely. */
static void
on_tlsa(int status, bool secure, const struct dns_tlsa *t, size_t n,
    void *arg)
{
	struct dlv_conn *c = arg;

	c->dnsreq = NULL;
	if (status == -1) {
		/* RFC 7672 2.2: a failed TLSA lookup of a secure host is
		   no licence for clear text */
		dlv_conn_fail(c, ST_DNS, "%s: temporary DNS failure looking up "
		    "its TLSA records", c->hosts[c->hi]);
		return;
	}
	if (status == 1 && secure && n > 0) {
		c->tlsa = xreallocarray(NULL, n, sizeof(*t));
		memcpy(c->tlsa, t, n * sizeof(*t));
		c->ntlsa = n;
		c->dane = dlv_dane_state(t, n);
	}
	host_decided(c);
}

static void
on_host_secure(int status, bool secure, void *arg)
{
	struct dlv_conn *c = arg;
	char name[300];

	c->dnsreq = NULL;
	/* an authenticated NODATA (an IPv6-only host) is secure too */
	if ((status != 1 && status != 0) || !secure ||
	    str_fmt(name, sizeof(name), "_25._tcp.%s", c->hosts[c->hi]) == -1) {
		host_decided(c);	/* insecure: no DANE */
		return;
	}
	c->dnsreq = dns_tlsa(c->q->d.dns, name, DLV_DNS_TIMEOUT_MS, on_tlsa, c);
}

void
dlv_conn_resolve_host(struct dlv_conn *c)
{
	struct netaddr a;

	c->state = CS_RESOLVE;
	free(c->tlsa);
	c->tlsa = NULL;
	c->ntlsa = 0;
	c->dane = DLV_DANE_NONE;
	if (dlv_conn_mx_routed(c) && c->mx_secure && c->q->d.cfg->dane &&
	    net_addr_parse(c->hosts[c->hi], &a) == -1) {
		/* RFC 7672 2.2.2: only an address found securely */
		c->dnsreq = dns_secure(c->q->d.dns, c->hosts[c->hi], 1,
		    DLV_DNS_TIMEOUT_MS, on_host_secure, c);
		return;
	}
	host_decided(c);
}

static void
on_sts(const struct sts_policy *pol, void *arg)
{
	struct dlv_conn *c = arg;

	c->stswait = NULL;
	if (pol != NULL) {
		c->sts = xmalloc(sizeof(*c->sts));
		*c->sts = *pol;
	}
	c->hi = 0;
	dlv_conn_resolve_host(c);
}

/* The MX hosts are known (and whether the MX answer was secure): the
   domain's MTA-STS policy next. */
void
dlv_conn_hosts_planned(struct dlv_conn *c)
{
	if (dlv_conn_mx_routed(c) && c->q->d.cfg->mta_sts && c->q->sts != NULL &&
	    config_tls_policy(c->q->d.cfg, c->d->domain) == NULL) {
		c->stswait = dlv_sts_get(c->q, c->d->domain, on_sts, c);
		return;
	}
	c->hi = 0;
	dlv_conn_resolve_host(c);
}

void
dlv_conn_on_mx_secure(int status, bool secure, void *arg)
{
	struct dlv_conn *c = arg;

	c->dnsreq = NULL;
	/* RFC 7672 2.2.1: DANE only for MX hosts found securely */
	c->mx_secure = status == 1 && secure;
	dlv_conn_hosts_planned(c);
}

/* ---- STARTTLS ---- */

/* Whether the current host's policy demands TLS. */
bool
dlv_conn_tls_needed(const struct dlv_conn *c)
{
	return c->req.level >= TLS_LEVEL_ENCRYPT;
}

static bool
verify_on(const struct dlv_conn *c)
{
	return c->req.level == TLS_LEVEL_VERIFY;
}

/* "tls_policy example.org = verify", "dane", "mta-sts enforce", ... */
const char *
dlv_conn_policy_name(const struct dlv_conn *c, char *out, size_t outsz)
{
	if (strncmp(c->req.rule, "tls_", 4) == 0)
		(void)str_fmt(out, outsz, "%s = %s", c->req.rule,
		    strcmp(c->req.rule, "tls_verify_peer") == 0 ? "yes" :
		    config_tls_level_name(c->req.level));
	else
		(void)str_fmt(out, outsz, "%s", c->req.rule);
	return out;
}

/* MTA-STS testing: what enforce would have refused, logged. */
void
dlv_conn_sts_note(const struct dlv_conn *c, const char *what)
{
	if (c->req.sts_testing && dlv_sts_match(c->req.sts, c->hosts[c->hi]))
		log_info("delivery to=%s mta-sts testing: %s %s; mode enforce "
		    "would defer", c->d->domain, c->peer, what);
}

/* After "220" to STARTTLS: the handshake, with nothing of the clear-text
   session kept (RFC 3207 4.2; CVE-2011-0411). */
void
dlv_conn_start_tls(struct dlv_conn *c)
{
	struct bufferevent *tls;
	const char *host = c->hosts[c->hi];

	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
		dlv_conn_fail(c, ST_PROTOCOL, "protocol error from %s (data after "
		    "its 220 reply to STARTTLS)", c->peer);
		return;
	}
	buf_reset(&c->rline);
	buf_reset(&c->reply);
	buf_reset(&c->ehlo);
	c->rlines = 0;
	memset(&c->caps, 0, sizeof(c->caps));
	c->ssl = SSL_new(c->q->d.tls);
	if (c->ssl == NULL) {
		dlv_conn_fail(c, ST_LOCAL, "cannot start TLS with %s: out of "
		    "memory", c->peer);
		return;
	}
	if (dlv_tls_setup(c->ssl, host, &c->req, c->tlsa, c->ntlsa) == -1) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		dlv_conn_fail(c, ST_LOCAL, "cannot set up TLS (DANE) with %s",
		    c->peer);
		return;
	}
	tls = bufferevent_openssl_filter_new(c->q->d.base, c->bev, c->ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		dlv_conn_fail(c, ST_LOCAL, "cannot start TLS with %s", c->peer);
		return;
	}
	c->bev = tls;
	bufferevent_setcb(c->bev, dlv_conn_on_read, dlv_conn_on_write, dlv_conn_on_event, c);
	dlv_conn_timeouts(c, DLV_CMD_TIMEOUT);
	c->asked_ms = clock_mono_ms();
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->state = CS_TLS;
}

/* The handshake is done: EHLO again, from a clean slate. */
void
dlv_conn_tls_up(struct dlv_conn *c)
{
	char info[200];

	char pol[400];
	long v = SSL_get_verify_result(c->ssl);

	tls_describe(c->ssl, info, sizeof(info));
	dlv_conn_policy_name(c, pol, sizeof(pol));
	if (verify_on(c))
		log_info("delivery tls peer=%s %s verify=yes%s policy=\"%s\"",
		    c->peer, info, c->req.dane ? " (dane)" : "", pol);
	else
		log_info("delivery tls peer=%s %s verify=no (certificate not "
		    "verified: %s; it would have been %s) policy=\"%s\"",
		    c->peer, info, pol, v == X509_V_OK ? "accepted" :
		    X509_verify_cert_error_string(v), pol);
	if (!verify_on(c) && v != X509_V_OK)
		dlv_conn_sts_note(c, X509_verify_cert_error_string(v));
	c->state = CS_EHLO;
	buf_reset(&c->ehlo);
	dlv_conn_send(c, "EHLO %s", c->q->d.cfg->hostname);
}

/* The handshake failed: when the policy demands TLS a deferral, else
   the same address again in the clear (opportunistic TLS). */
void
dlv_conn_tls_failed(struct dlv_conn *c)
{
	long v = c->ssl != NULL ? SSL_get_verify_result(c->ssl) : X509_V_OK;
	char pol[400];

	if (dlv_conn_tls_needed(c)) {
		dlv_conn_fail(c, ST_TLS, "TLS with %s failed (%s): %s", c->peer,
		    dlv_conn_policy_name(c, pol, sizeof(pol)), v != X509_V_OK ?
		    X509_verify_cert_error_string(v) : "handshake failed");
		return;
	}
	dlv_conn_sts_note(c, "failed the TLS handshake");
	log_warn("delivery tls peer=%s failed; retrying without TLS",
	    c->peer);
	c->tls_failed = true;
	dlv_conn_connect_addr(c);
}
