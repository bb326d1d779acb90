/*
 * mauth_dmarc.c - DMARC (RFC 7489): the record (section 6.3), its
 * discovery at the From: domain and then at its organizational domain
 * (6.6.3), identifier alignment (3.1) and the policy that applies,
 * sampled by pct= (6.6.4).
 *
 * The organizational domain comes from the Public Suffix List through
 * libpsl, which reads Debian's publicsuffix package (the newest of its
 * file and its own built-in copy).
 */
#include <ctype.h>
#include <pthread.h>
#include <string.h>

#include <libpsl.h>
#include <openssl/rand.h>

#include "mauth/mauth_int.h"
#include "util/str.h"
#include "util/xalloc.h"

#define PSL_FILE	"/usr/share/publicsuffix/public_suffix_list.dat"

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	return p == DMARC_P_REJECT ? "reject" : p == DMARC_P_QUARANTINE ?
	    "quarantine" : "none";
}

static int
policy_of(const struct mauth_tag *t, enum dmarc_policy *p)
{
	if (t->vlen == 4 && strncasecmp(t->val, "none", 4) == 0)
		*p = DMARC_P_NONE;
	else if (t->vlen == 10 && strncasecmp(t->val, "quarantine", 10) == 0)
		*p = DMARC_P_QUARANTINE;
	else if (t->vlen == 6 && strncasecmp(t->val, "reject", 6) == 0)
		*p = DMARC_P_REJECT;
	else
		return -1;
	return 0;
}

static int
strict_of(const struct mauth_tag *t, bool *strict)
{
	if (t == NULL)
		return 0;
	if (t->vlen != 1 || (tolower((unsigned char)t->val[0]) != 's' &&
	    tolower((unsigned char)t->val[0]) != 'r'))
		return -1;
	*strict = tolower((unsigned char)t->val[0]) == 's';
	return 0;
}

int
dmarc_record_parse(const char *rec, size_t len, struct dmarc_record *d,
    const char **err_r)
{
	struct mauth_tags tags;
	const struct mauth_tag *t;
	size_t i;
	unsigned pct = 0;

	memset(d, 0, sizeof(*d));
	d->pct = 100;
	if (mauth_tags_parse(rec, len, &tags, err_r) == -1)
		return -1;
	if (tags.n == 0 || tags.t[0].nlen != 1 || tags.t[0].name[0] != 'v' ||
	    tags.t[0].vlen != 6 || memcmp(tags.t[0].val, "DMARC1", 6) != 0) {
		*err_r = "not a DMARC record (v=DMARC1 first)";
		return -1;
	}
	/* 6.6.3: a bad or missing p= is p=none when the record is
	   otherwise sound (it may carry rua= for reports). */
	if ((t = mauth_tag(&tags, "p")) == NULL || policy_of(t, &d->p) == -1)
		d->p = DMARC_P_NONE;
	d->sp = d->p;
	if ((t = mauth_tag(&tags, "sp")) != NULL && policy_of(t, &d->sp) == -1)
		d->sp = d->p;
	if (strict_of(mauth_tag(&tags, "adkim"), &d->adkim_strict) == -1 ||
	    strict_of(mauth_tag(&tags, "aspf"), &d->aspf_strict) == -1) {
		*err_r = "bad adkim= or aspf=";
		return -1;
	}
	if ((t = mauth_tag(&tags, "pct")) != NULL) {
		if (t->vlen == 0 || t->vlen > 3) {
			*err_r = "bad pct=";
			return -1;
		}
		for (i = 0; i < t->vlen; i++) {
			if (t->val[i] < '0' || t->val[i] > '9') {
				*err_r = "bad pct=";
				return -1;
			}
			pct = pct * 10 + (unsigned)(t->val[i] - '0');
		}
		d->pct = pct > 100 ? 100 : pct;
	}
	return 0;
}

/* ---- organizational domains ---- */

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static psl_ctx_t *psl;

static void
psl_init(void)
{
	psl = psl_latest(PSL_FILE);
	if (psl == NULL)
		psl = (psl_ctx_t *)psl_builtin();
}

void
dmarc_org_domain(const char *domain, char *out, size_t outsz)
{
	const char *reg = NULL;
	char low[256];
	size_t i;

	for (i = 0; domain[i] != '\0' && i + 1 < sizeof(low); i++)
		low[i] = (char)tolower((unsigned char)domain[i]);
	low[i] = '\0';
	(void)pthread_once(&psl_once, psl_init);
	if (psl != NULL)
		reg = psl_registrable_domain(psl, low);
	(void)str_copy(out, reg != NULL ? reg : low, outsz);
}

bool
dmarc_aligned(const char *a, const char *b, bool strict)
{
	char oa[256], ob[256];

	if (strcasecmp(a, b) == 0)
		return true;
	if (strict)
		return false;
	dmarc_org_domain(a, oa, sizeof(oa));
	dmarc_org_domain(b, ob, sizeof(ob));
	return strcasecmp(oa, ob) == 0;
}
