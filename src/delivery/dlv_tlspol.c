/*
 * dlv_tlspol.c - what TLS a connection to one MX host demands, and the
 * SSL object set up for it.
 *
 * Sources, strongest claim first (RFC 8461 section 2: DANE before
 * MTA-STS):
 *   - a tls_policy line for the destination (or a ".parent" one): the
 *     administrator's word, used alone;
 *   - DANE (RFC 7672): usable TLSA records of an MX host reached through
 *     authenticated answers make TLS mandatory and verified by them
 *     (DANE-TA(2), DANE-EE(3)); records that are all unusable make TLS
 *     mandatory without authentication (section 2.2);
 *   - MTA-STS (RFC 8461 section 5): mode enforce lets only the MX hosts
 *     its patterns match be used, with TLS verified for their names;
 *     mode testing changes nothing but is logged;
 *   - tls_policy_default (tls_verify_peer = yes: verify), which is also
 *     the least any of the others demands.
 */
#include <openssl/x509v3.h>

#include "delivery/dlv_int.h"
#include "util/compat.h"

int
dlv_tls_decide(const struct config *cfg, const char *domain, bool mx,
    const struct sts_policy *sts, const char *host, enum dlv_dane dane,
    struct dlv_tlsreq *req, const char **why_r)
{
	const struct tls_policy_cfg *rule = config_tls_policy(cfg, domain);
	enum tls_level def = config_tls_default(cfg);

	memset(req, 0, sizeof(*req));
	if (rule != NULL) {
		req->level = rule->level;
		(void)str_fmt(req->rule, sizeof(req->rule), "tls_policy %s",
		    rule->domain);
		return 1;
	}
	req->level = def;
	(void)str_fmt(req->rule, sizeof(req->rule), "%s",
	    cfg->tls_verify_peer && cfg->tls_policy_default < TLS_LEVEL_VERIFY ?
	    "tls_verify_peer" : "tls_policy_default");
	if (!mx)
		return 1;	/* a transport or relayhost: no DNS policy */
	if (dane == DLV_DANE_USABLE) {
		req->level = TLS_LEVEL_VERIFY;
		req->dane = true;
		(void)str_copy(req->rule, "dane", sizeof(req->rule));
		return 1;
	}
	if (dane == DLV_DANE_UNUSABLE) {
		if (req->level < TLS_LEVEL_ENCRYPT)
			req->level = TLS_LEVEL_ENCRYPT;
		(void)str_copy(req->rule, "dane (no usable TLSA record)",
		    sizeof(req->rule));
		return 1;
	}
	if (sts == NULL || sts->mode == STS_NONE)
		return 1;
	if (sts->mode == STS_TESTING) {
		req->sts_testing = true;
		req->sts = sts;
		return 1;
	}
	if (!dlv_sts_match(sts, host)) {
		*why_r = "the host is not an mx of the domain's MTA-STS "
		    "policy (mode enforce)";
		return 0;
	}
	req->level = TLS_LEVEL_VERIFY;
	(void)str_copy(req->rule, "mta-sts enforce", sizeof(req->rule));
	return 1;
}

/* RFC 7672 3.1: PKIX-TA(0), PKIX-EE(1) are unusable for SMTP. */
static bool
tlsa_usable(const struct dns_tlsa *t)
{
	if (t->usage != 2 && t->usage != 3)
		return false;
	if (t->selector > 1)
		return false;
	switch (t->mtype) {
	case 0:
		return t->len > 0;
	case 1:
		return t->len == 32;
	case 2:
		return t->len == 64;
	default:
		return false;
	}
}

enum dlv_dane
dlv_dane_state(const struct dns_tlsa *t, size_t n)
{
	size_t i;

	if (n == 0)
		return DLV_DANE_NONE;
	for (i = 0; i < n; i++)
		if (tlsa_usable(&t[i]))
			return DLV_DANE_USABLE;
	return DLV_DANE_UNUSABLE;
}

static int
setup_dane(SSL *ssl, const char *host, const struct dns_tlsa *t, size_t n)
{
	size_t i;
	int added = 0;

	if (SSL_dane_enable(ssl, host) <= 0)
		return -1;
	/* RFC 7672 3.1.1: DANE-EE(3) binds the key, not a name. */
	(void)SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (i = 0; i < n; i++) {
		if (!tlsa_usable(&t[i]))
			continue;
		if (SSL_dane_tlsa_add(ssl, t[i].usage, t[i].selector,
		    t[i].mtype, t[i].data, t[i].len) > 0)
			added++;
	}
	if (added == 0)
		return -1;
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	return 0;
}

int
dlv_tls_setup(SSL *ssl, const char *host, const struct dlv_tlsreq *req,
    const struct dns_tlsa *tlsa, size_t ntlsa)
{
	struct netaddr a;
	bool literal = net_addr_parse(host, &a) == 0;

	if (req->dane)
		return setup_dane(ssl, host, tlsa, ntlsa);
	/* RFC 6066 3: no SNI for an address literal; the certificate is
	   then checked against the address. The name is checked (and the
	   result logged) even when nothing depends on it. */
	if (literal) {
		(void)X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	} else {
		(void)SSL_set_tlsext_host_name(ssl, host);
		(void)SSL_set1_host(ssl, host);
	}
	SSL_set_verify(ssl, req->level == TLS_LEVEL_VERIFY ? SSL_VERIFY_PEER :
	    SSL_VERIFY_NONE, NULL);
	return 0;
}
