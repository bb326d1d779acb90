/*
 * mauth_dmarc_check.c - a DMARC evaluation on the event loop (RFC 7489
 * section 6.6): the record of the From: domain or else of its
 * organizational domain, then the result from the SPF and DKIM results
 * and the disposition its policy asks for.
 */
#include <string.h>

#include <openssl/rand.h>

#include "mauth/mauth_int.h"
#include "util/str.h"
#include "util/xalloc.h"

struct dmarc_req {
	struct dns		*dns;
	struct dns_req		*q;
	unsigned		 timeout_ms;
	dmarc_cb		*cb;
	void			*arg;
	char			 from[256], org[256];
	enum spf_result		 spf;
	char			 spf_domain[256];
	size_t			 nsigs;
	struct {
		char		 domain[256];
		bool		 pass;
	}			 sigs[MAUTH_DKIM_MAX];
	bool			 at_org;	/* asking the org domain */
	struct dmarc_answer	 ans;
};

static void on_txt(int status, const struct dns_txt *recs, size_t n,
    void *arg);

static void
ask(struct dmarc_req *r, const char *domain)
{
	char name[300];

	(void)str_copy(r->ans.domain, domain, sizeof(r->ans.domain));
	(void)str_fmt(name, sizeof(name), "_dmarc.%s", domain);
	r->q = dns_txt(r->dns, name, r->timeout_ms, on_txt, r);
}

static void
finish(struct dmarc_req *r)
{
	r->cb(&r->ans, r->arg);
	free(r);
}

/* pct= (6.6.4): the policy applies to that share of failing mail; the
   rest gets the next milder one. */
static enum dmarc_policy
sampled(enum dmarc_policy p, unsigned pct)
{
	unsigned char b;

	if (pct >= 100 || p == DMARC_P_NONE)
		return p;
	if (RAND_bytes(&b, 1) == 1 && (unsigned)b * 100 / 256 < pct)
		return p;
	return p == DMARC_P_REJECT ? DMARC_P_QUARANTINE : DMARC_P_NONE;
}

static void
decide(struct dmarc_req *r, const struct dmarc_record *d)
{
	bool pass = false;
	size_t i;

	r->ans.record = true;
	r->ans.policy = r->at_org && strcmp(r->from, r->org) != 0 ? d->sp :
	    d->p;
	if (r->spf == SPF_PASS && dmarc_aligned(r->spf_domain, r->from,
	    d->aspf_strict))
		pass = true;
	for (i = 0; i < r->nsigs && !pass; i++)
		if (r->sigs[i].pass && dmarc_aligned(r->sigs[i].domain,
		    r->from, d->adkim_strict))
			pass = true;
	r->ans.result = pass ? MAUTH_PASS : MAUTH_FAIL;
	r->ans.disposition = pass ? DMARC_P_NONE :
	    sampled(r->ans.policy, d->pct);
}

static void
on_txt(int status, const struct dns_txt *recs, size_t n, void *arg)
{
	struct dmarc_req *r = arg;
	struct dmarc_record d, found = { 0 };
	const char *err = NULL;
	size_t i, nrec = 0;

	r->q = NULL;
	if (status == -1) {
		r->ans.result = MAUTH_TEMPERROR;
		(void)str_fmt(r->ans.error, sizeof(r->ans.error),
		    "DNS lookup of _dmarc.%s failed", r->ans.domain);
		finish(r);
		return;
	}
	for (i = 0; i < n; i++)
		if (dmarc_record_parse(recs[i].text, recs[i].len, &d,
		    &err) == 0 && nrec++ == 0)
			found = d;
	/* 6.6.3: none, or more than one, is no record. */
	if (nrec == 1) {
		decide(r, &found);
		finish(r);
		return;
	}
	if (!r->at_org && strcmp(r->from, r->org) != 0) {
		r->at_org = true;
		ask(r, r->org);
		return;
	}
	r->ans.result = MAUTH_NONE;
	r->ans.domain[0] = '\0';
	if (nrec > 1)
		(void)str_copy(r->ans.error, "more than one DMARC record",
		    sizeof(r->ans.error));
	finish(r);
}

struct dmarc_req *
dmarc_check(struct dns *dns, const struct dmarc_input *in,
    unsigned timeout_ms, dmarc_cb *cb, void *arg)
{
	struct dmarc_req *r = xcalloc(1, sizeof(*r));
	size_t i;

	r->dns = dns;
	r->timeout_ms = timeout_ms;
	r->cb = cb;
	r->arg = arg;
	(void)str_copy(r->from, in->from_domain, sizeof(r->from));
	dmarc_org_domain(r->from, r->org, sizeof(r->org));
	r->spf = in->spf;
	(void)str_copy(r->spf_domain, in->spf_domain != NULL ?
	    in->spf_domain : "", sizeof(r->spf_domain));
	for (i = 0; i < in->nsigs && r->nsigs < MAUTH_DKIM_MAX; i++) {
		if (in->sigs[i]->kind != MAUTH_SIG_DKIM)
			continue;
		(void)str_copy(r->sigs[r->nsigs].domain, in->sigs[i]->domain,
		    sizeof(r->sigs[0].domain));
		r->sigs[r->nsigs++].pass = in->sigs[i]->result == MAUTH_PASS;
	}
	ask(r, r->from);
	return r;
}

void
dmarc_cancel(struct dmarc_req **rp)
{
	struct dmarc_req *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	dns_cancel(&r->q);
	free(r);
}
