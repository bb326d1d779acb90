/*
 * dlv_sts.c - MTA-STS (RFC 8461) as pure functions: the TXT record of
 * _mta-sts.DOMAIN (section 3.1), the policy file (section 3.2) and the
 * match of an MX host against its "mx" patterns (section 4.1). Unit
 * tested (tests/unit/test_dlv_sts.c) and fuzzed (fuzz/fuzz_mta_sts.c);
 * the fetch and the cache are in dlv_sts_fetch.c.
 */
#include <ctype.h>

#include "delivery/dlv_int.h"
#include "util/compat.h"

static bool
is_wsp(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* The next field of a TXT record ("key=value", fields separated by ';'
   and optional blanks): 1 with its key and value (pointer, length), 0
   at the end, -1 malformed. */
static int
txt_field(const char **pp, const char *end, const char **k, size_t *klen,
    const char **v, size_t *vlen)
{
	const char *p = *pp;

	while (p < end && is_wsp(*p))
		p++;
	if (p == end)
		return 0;
	*k = p;
	while (p < end && *p != '=' && *p != ';' && !is_wsp(*p))
		p++;
	*klen = (size_t)(p - *k);
	if (p == end || *p != '=' || *klen == 0)
		return -1;
	*v = ++p;
	while (p < end && *p != ';')
		p++;
	*vlen = (size_t)(p - *v);
	while (*vlen > 0 && is_wsp((*v)[*vlen - 1]))
		(*vlen)--;
	if (p < end)
		p++;	/* the ';' */
	*pp = p;
	return 1;
}

int
dlv_sts_txt(const char *text, size_t len, char id_r[STS_ID_MAX + 1])
{
	const char *p = text, *end = text + len, *k, *v;
	size_t kl, vl, i;
	bool have_id = false;
	int r;

	/* RFC 8461 3.1: records not starting "v=STSv1;" are not ours. */
	if (len < 8 || memcmp(text, "v=STSv1", 7) != 0 ||
	    (text[7] != ';' && !is_wsp(text[7])))
		return 0;
	while ((r = txt_field(&p, end, &k, &kl, &v, &vl)) == 1) {
		if (kl == 1 && *k == 'v')
			continue;
		if (kl == 2 && memcmp(k, "id", 2) == 0) {
			/* sts-id-value = 1*32(ALPHA / DIGIT) */
			if (have_id || vl == 0 || vl > STS_ID_MAX)
				return -1;
			for (i = 0; i < vl; i++)
				if (!isalnum((unsigned char)v[i]))
					return -1;
			memcpy(id_r, v, vl);
			id_r[vl] = '\0';
			have_id = true;
		}
		/* other extension fields are ignored (section 3.1) */
	}
	return r == -1 || !have_id ? -1 : 1;
}

/* A pattern of an "mx" line: a host name, or "*." before one. */
static bool
good_pattern(const char *v, size_t n)
{
	size_t i, label = 0;

	if (n >= 2 && v[0] == '*' && v[1] == '.') {
		v += 2;
		n -= 2;
	}
	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (isalnum(ch) || ch == '-' || ch == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0 || n > 1;	/* a trailing dot, but not "." */
}

/* One "key: value" line (section 3.2) into POL; *SEEN gathers which
   keys came. 0, or -1 with *ERROR_R. */
static int
policy_line(const char *l, size_t n, struct sts_policy *pol, unsigned *seen,
    const char **error_r)
{
	const char *colon = memchr(l, ':', n), *v;
	size_t kl, vl;
	uint64_t age = 0;
	size_t i;

	if (colon == NULL) {
		*error_r = "a line without ':'";
		return -1;
	}
	kl = (size_t)(colon - l);
	v = colon + 1;
	vl = n - kl - 1;
	while (vl > 0 && is_wsp(*v)) {
		v++;
		vl--;
	}
	while (vl > 0 && is_wsp(v[vl - 1]))
		vl--;
#define KEY(s) (kl == sizeof(s) - 1 && memcmp(l, s, kl) == 0)
	if (KEY("version")) {
		if (vl != 5 || memcmp(v, "STSv1", 5) != 0) {
			*error_r = "version is not STSv1";
			return -1;
		}
		*seen |= 1;
	} else if (KEY("mode")) {
		if (*seen & 2) {
			*error_r = "two mode lines";
			return -1;
		}
		if (vl == 7 && memcmp(v, "enforce", 7) == 0)
			pol->mode = STS_ENFORCE;
		else if (vl == 7 && memcmp(v, "testing", 7) == 0)
			pol->mode = STS_TESTING;
		else if (vl == 4 && memcmp(v, "none", 4) == 0)
			pol->mode = STS_NONE;
		else {
			*error_r = "mode is none of enforce, testing, none";
			return -1;
		}
		*seen |= 2;
	} else if (KEY("max_age")) {
		/* max-age-value = 1*10(DIGIT), at most 31557600 */
		if (vl == 0 || vl > 10 || (*seen & 4)) {
			*error_r = "bad max_age";
			return -1;
		}
		for (i = 0; i < vl; i++) {
			if (!isdigit((unsigned char)v[i])) {
				*error_r = "bad max_age";
				return -1;
			}
			age = age * 10 + (uint64_t)(v[i] - '0');
		}
		pol->max_age = age > STS_MAX_AGE_MAX ? STS_MAX_AGE_MAX : age;
		*seen |= 4;
	} else if (KEY("mx")) {
		if (!good_pattern(v, vl)) {
			*error_r = "bad mx pattern";
			return -1;
		}
		if (pol->nmx < STS_MX_MAX) {
			char *o = pol->mx[pol->nmx++];

			memcpy(o, v, vl);
			o[vl] = '\0';
			if (vl > 0 && o[vl - 1] == '.')
				o[vl - 1] = '\0';
			for (i = 0; o[i] != '\0'; i++)
				o[i] = (char)tolower((unsigned char)o[i]);
		}
		*seen |= 8;
	}
	/* other keys are extensions: ignored */
#undef KEY
	return 0;
}

int
dlv_sts_parse(const char *text, size_t len, struct sts_policy *pol,
    const char **error_r)
{
	const char *p = text, *end = text + len;
	unsigned seen = 0;

	memset(pol, 0, sizeof(*pol));
	if (len > STS_POLICY_MAX) {
		*error_r = "policy too large";
		return -1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (memchr(p, '\0', n) != NULL) {
			*error_r = "a NUL in the policy";
			return -1;
		}
		/* blank lines (a final CRLF) are let through */
		if (n > 0 && policy_line(p, n, pol, &seen, error_r) == -1)
			return -1;
		p = nl != NULL ? nl + 1 : end;
	}
	if (!(seen & 1)) {
		*error_r = "no version line";
		return -1;
	}
	if (!(seen & 2)) {
		*error_r = "no mode line";
		return -1;
	}
	if (!(seen & 4)) {
		*error_r = "no max_age line";
		return -1;
	}
	if (pol->mode != STS_NONE && pol->nmx == 0) {
		*error_r = "no mx line";
		return -1;
	}
	return 0;
}

bool
dlv_sts_match(const struct sts_policy *pol, const char *host)
{
	char h[256];
	size_t i, n;

	if (str_copy(h, host, sizeof(h)) == -1)
		return false;
	n = strlen(h);
	if (n > 0 && h[n - 1] == '.')
		h[--n] = '\0';
	for (i = 0; i < n; i++)
		h[i] = (char)tolower((unsigned char)h[i]);
	for (i = 0; i < pol->nmx; i++) {
		const char *pat = pol->mx[i];
		const char *dot;

		if (pat[0] == '*' && pat[1] == '.') {
			/* "*.example.com": exactly one label before it */
			dot = strchr(h, '.');
			if (dot != NULL && dot != h &&
			    strcmp(dot + 1, pat + 2) == 0)
				return true;
		} else if (strcmp(h, pat) == 0) {
			return true;
		}
	}
	return false;
}

const char *
dlv_sts_mode_name(enum sts_mode m)
{
	switch (m) {
	case STS_ENFORCE:
		return "enforce";
	case STS_TESTING:
		return "testing";
	default:
		return "none";
	}
}
