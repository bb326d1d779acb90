/* fuzz_mta_sts.c - MTA-STS (RFC 8461) and DANE input from the network:
   the policy file (dlv_sts_parse) and its mx patterns (dlv_sts_match),
   the _mta-sts TXT record (dlv_sts_txt), and DNS answers asked with AD
   (dns_tlsa_parse, dlv_dane_state). The first byte picks the parser. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "delivery/dlv_int.h"

static void
policy(const char *p, size_t n)
{
	struct sts_policy pol;
	const char *err = NULL;
	char host[300];
	size_t i, j;

	if (dlv_sts_parse(p, n, &pol, &err) == -1) {
		if (err == NULL)
			abort();
		return;
	}
	if (pol.mode > STS_ENFORCE || pol.nmx > STS_MX_MAX ||
	    pol.max_age > STS_MAX_AGE_MAX ||
	    (pol.mode != STS_NONE && pol.nmx == 0))
		abort();
	for (i = 0; i < pol.nmx; i++) {
		const char *m = pol.mx[i];
		size_t ml = strlen(m);

		if (ml == 0 || m[ml - 1] == '.')
			abort();
		for (j = 0; j < ml; j++)
			if (isupper((unsigned char)m[j]))
				abort();
		/* every pattern matches what it names */
		if (m[0] == '*' && m[1] == '.')
			(void)snprintf(host, sizeof(host), "x%s", m + 1);
		else
			(void)snprintf(host, sizeof(host), "%s.", m);
		if (!dlv_sts_match(&pol, host))
			abort();
	}
}

static void
txt(const char *p, size_t n)
{
	char id[STS_ID_MAX + 1];
	int r = dlv_sts_txt(p, n, id);

	if (r < -1 || r > 1)
		abort();
	if (r == 1 && (strlen(id) == 0 || strlen(id) > STS_ID_MAX))
		abort();
}

static void
tlsa(const uint8_t *p, size_t n, unsigned type)
{
	static struct dns_tlsa_set set;
	size_t i;

	if (dns_tlsa_parse(p, n, type, &set) == 0) {
		if (set.n > DNS_TLSA_MAX || set.status < -2 || set.status > 1)
			abort();
		for (i = 0; i < set.n; i++)
			if (set.rec[i].len > DNS_TLSA_DATA_MAX)
				abort();
		if (dlv_dane_state(set.rec, set.n) == DLV_DANE_NONE &&
		    set.n > 0)
			abort();
	} else if (set.n != 0) {
		abort();
	}
}

/* A policy, then after a NUL the host names to match, one a line. */
static void
match(const char *p, size_t n)
{
	struct sts_policy pol;
	const char *err, *nul = memchr(p, '\0', n), *h, *end = p + n;
	char host[300];

	if (nul == NULL || dlv_sts_parse(p, (size_t)(nul - p), &pol, &err) ==
	    -1)
		return;
	for (h = nul + 1; h < end;) {
		const char *nl = memchr(h, '\n', (size_t)(end - h));
		size_t l = (size_t)((nl != NULL ? nl : end) - h);

		if (l < sizeof(host)) {
			memcpy(host, h, l);
			host[l] = '\0';
			(void)dlv_sts_match(&pol, host);
		}
		h = nl != NULL ? nl + 1 : end;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len == 0)
		return 0;
	switch (data[0] % 5) {
	case 0:
		policy((const char *)data + 1, len - 1);
		break;
	case 1:
		txt((const char *)data + 1, len - 1);
		break;
	case 2:
		tlsa(data + 1, len - 1, 52);
		break;
	case 3:
		tlsa(data + 1, len - 1, data[0] & 0x80 ? 1 : 15);
		break;
	default:
		match((const char *)data + 1, len - 1);
		break;
	}
	return 0;
}
