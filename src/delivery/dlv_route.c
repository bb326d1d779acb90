/*
 * dlv_route.c - where mail for a domain goes, from its MX answer
 * (RFC 5321 section 5.1, RFC 7505). Pure functions: the DNS answer and
 * the random source are passed in, so tests inject both.
 */
#include "delivery/dlv_int.h"
#include "util/compat.h"

void
dlv_mx_order(struct dns_mx *v, size_t n, uint32_t (*rnd)(void *), void *arg)
{
	size_t i, j;

	/* Insertion sort by preference (n is small), then Fisher-Yates
	   within each run of equal preference. */
	for (i = 1; i < n; i++) {
		struct dns_mx t = v[i];

		for (j = i; j > 0 && v[j - 1].pref > t.pref; j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
	for (i = 0; i < n; i = j) {
		size_t k;

		for (j = i + 1; j < n && v[j].pref == v[i].pref; j++)
			;
		for (k = j - 1; k > i; k--) {
			size_t r = i + rnd(arg) % (k - i + 1);
			struct dns_mx t = v[k];

			v[k] = v[r];
			v[r] = t;
		}
	}
}

int
dlv_plan_hosts(const char *domain, int status, const struct dns_mx *mx,
    size_t n, uint32_t (*rnd)(void *), void *rnd_arg,
    char hosts[][256], size_t *nhosts_r, const char **verdict_r)
{
	struct dns_mx v[DLV_MAX_HOSTS];
	size_t i;

	*nhosts_r = 0;
	if (status == -1) {
		*verdict_r = "temporary DNS failure looking up the MX records";
		return -1;
	}
	if (status == DNS_NXDOMAIN) {
		*verdict_r = "550 5.1.2 Host or domain name not found";
		return 0;
	}
	if (status == 1 && n == 1 && mx[0].host[0] == '\0') {
		/* RFC 7505: a null MX - the domain accepts no mail. */
		*verdict_r = "556 5.1.10 The domain does not accept mail "
		    "(null MX)";
		return 0;
	}
	if (status != 1 || n == 0) {
		/* RFC 5321 5.1: without MX, the domain is its own host. */
		(void)str_copy(hosts[0], domain, 256);
		*nhosts_r = 1;
		return 1;
	}
	n = n > DLV_MAX_HOSTS ? DLV_MAX_HOSTS : n;
	memcpy(v, mx, n * sizeof(*v));
	dlv_mx_order(v, n, rnd, rnd_arg);
	for (i = 0; i < n; i++)
		if (v[i].host[0] != '\0')
			(void)str_copy(hosts[(*nhosts_r)++], v[i].host, 256);
	if (*nhosts_r == 0) {
		*verdict_r = "556 5.1.10 The domain does not accept mail "
		    "(null MX)";
		return 0;
	}
	return 1;
}
