/*
 * srs.c - the Sender Rewriting Scheme (srs.h): SRS0 and SRS1 addresses
 * made and reversed, the "Guarded" scheme of Mail::SRS and libsrs2.
 *
 * Everything is bounded by RFC 5321: the local parts we read are at most
 * 64 octets (the SMTP parser allows no more), the addresses we make fit
 * 64 octets of local part and 254 of address, or are not made.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/srs.h"
#include "core/addr.h"
#include "util/str.h"
#include "util/compat.h"

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    "0123456789+/";

#define SRS_SLOTS	1024	/* days the 2-character stamp tells apart */
#define HASH_INPUT_MAX	(ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 8)
/* A local part being made: longer than RFC 5321 allows, so that one too
   long is found too long, not cut. */
#define LOCAL_ROOM	(2 * ADDR_BUFSZ)

static bool
is_sep(char c)
{
	return c == '=' || c == '+' || c == '-';
}

bool
srs_is_srs(const char *local, size_t len)
{
	return len >= 5 && strncasecmp(local, "SRS", 3) == 0 &&
	    (local[3] == '0' || local[3] == '1') && is_sep(local[4]);
}

/* One piece of the hashed text, as pointer and length. */
struct piece {
	const char	*p;
	size_t		 n;
};

/* HHHH for the pieces under SECRET into OUT (SRS_HASH_LEN + 1). The
   pieces are lower-cased (ASCII) first, as libsrs2 does, so that the
   hash survives a server that changed the case of the address. */
static int
hash_make(const char *secret, const struct piece *pc, size_t n,
    char out[SRS_HASH_LEN + 1])
{
	unsigned char text[HASH_INPUT_MAX], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t len = 0, i, k;

	for (i = 0; i < n; i++) {
		if (pc[i].n > sizeof(text) - len)
			return -1;
		for (k = 0; k < pc[i].n; k++) {
			char c = pc[i].p[k];

			text[len++] = (unsigned char)(c >= 'A' && c <= 'Z' ?
			    c - 'A' + 'a' : c);
		}
	}
	if (HMAC(EVP_sha1(), secret, (int)strlen(secret), text, len, md,
	    &mdlen) == NULL || mdlen < 3)
		return -1;
	/* The first 24 bits, as 4 base64 characters. */
	out[0] = b64[md[0] >> 2];
	out[1] = b64[((md[0] & 0x03) << 4) | (md[1] >> 4)];
	out[2] = b64[((md[1] & 0x0f) << 2) | (md[2] >> 6)];
	out[3] = b64[md[2] & 0x3f];
	out[4] = '\0';
	return 0;
}

/* Whether HASH (SRS_HASH_LEN characters) is that of one of SECRETS. */
static bool
hash_good(const char *hash, const char *const *secrets, size_t nsecrets,
    const struct piece *pc, size_t n)
{
	char want[SRS_HASH_LEN + 1];
	size_t i;

	for (i = 0; i < nsecrets; i++)
		if (hash_make(secrets[i], pc, n, want) == 0 &&
		    strncasecmp(hash, want, SRS_HASH_LEN) == 0)
			return true;
	return false;
}

static void
stamp_make(time_t now, char out[3])
{
	unsigned long long day = (unsigned long long)now / SRS_DAY;

	out[0] = b32[(day >> 5) & 0x1f];
	out[1] = b32[day & 0x1f];
	out[2] = '\0';
}

/* The day of a 2-character stamp (any case): 0 to 1023, or -1. */
static int
stamp_parse(const char *s)
{
	int v = 0, i;

	for (i = 0; i < 2; i++) {
		char c = s[i] >= 'a' && s[i] <= 'z' ? s[i] - 'a' + 'A' : s[i];
		const char *p = c != '\0' ? strchr(b32, c) : NULL;

		if (p == NULL)
			return -1;
		v = (v << 5) | (int)(p - b32);
	}
	return v;
}

/* OUT = LOCAL "@" DOMAIN, within the limits of RFC 5321 4.5.3.1. */
static enum srs_status
put(char *out, size_t outsz, const char *local, const char *domain)
{
	size_t n = strlen(local);

	if (n > ADDR_LOCAL_MAX || n + 1 + strlen(domain) > ADDR_MAX_LEN ||
	    str_fmt(out, outsz, "%s@%s", local, domain) == -1)
		return SRS_TOO_LONG;
	return SRS_OK;
}

/* The SRS1 address for the first forwarder HOST and the REST after its
   SRS0 tag (from its separator on). */
static enum srs_status
make_srs1(struct piece host, struct piece rest, const char *srs_domain,
    const char *secret, char *out, size_t outsz)
{
	struct piece pc[2] = { host, rest };
	char hash[SRS_HASH_LEN + 1], lp[LOCAL_ROOM];

	if (host.n == 0 || rest.n == 0)
		return SRS_MALFORMED;
	if (hash_make(secret, pc, 2, hash) == -1 ||
	    str_fmt(lp, sizeof(lp), "SRS1=%s=%.*s=%.*s", hash, (int)host.n,
	    host.p, (int)rest.n, rest.p) == -1)
		return SRS_TOO_LONG;
	return put(out, outsz, lp, srs_domain);
}

enum srs_status
srs_forward(const char *sender, const char *srs_domain, const char *secret,
    time_t now, char *out, size_t outsz)
{
	const char *at = strrchr(sender, '@'), *p, *e;
	struct piece local, host, pc[3];
	char hash[SRS_HASH_LEN + 1], stamp[3], lp[LOCAL_ROOM];

	if (outsz > 0)
		out[0] = '\0';
	/* A '=' in the domain would read back as part of the user (the
	   hashed text has no separators): no domain has one. */
	if (at == NULL || at == sender || at[1] == '\0' ||
	    strchr(at, '=') != NULL)
		return SRS_MALFORMED;
	local = (struct piece){ sender, (size_t)(at - sender) };
	host = (struct piece){ at + 1, strlen(at + 1) };
	if (srs_is_srs(local.p, local.n) && local.p[3] == '1') {
		/* SRS1=HHHH=first==rest@last: re-signed for the same first
		   forwarder, so a bounce skips the hops between. */
		p = memchr(local.p + 5, '=', local.n - 5);
		e = p == NULL ? NULL : memchr(p + 1, '=',
		    (size_t)(at - p - 1));
		if (e == NULL)
			return SRS_MALFORMED;
		return make_srs1((struct piece){ p + 1, (size_t)(e - p - 1) },
		    (struct piece){ e + 1, (size_t)(at - e - 1) }, srs_domain,
		    secret, out, outsz);
	}
	if (srs_is_srs(local.p, local.n)) {
		/* SRS0 of another forwarder: its domain and what follows
		   the tag, separator included. */
		if (local.n < 6)
			return SRS_MALFORMED;
		return make_srs1(host, (struct piece){ local.p + 4,
		    local.n - 4 }, srs_domain, secret, out, outsz);
	}
	stamp_make(now, stamp);
	pc[0] = (struct piece){ stamp, 2 };
	pc[1] = host;
	pc[2] = local;
	if (hash_make(secret, pc, 3, hash) == -1 ||
	    str_fmt(lp, sizeof(lp), "SRS0=%s=%s=%s=%.*s", hash, stamp, host.p,
	    (int)local.n, local.p) == -1)
		return SRS_TOO_LONG;
	return put(out, outsz, lp, srs_domain);
}

/* Splits S at its next '=': the piece before it into *PC (not empty),
   S moved past it. 0, or -1 when there is none. */
static int
field(const char **s, struct piece *pc)
{
	const char *e = strchr(*s, '=');

	if (e == NULL || e == *s)
		return -1;
	*pc = (struct piece){ *s, (size_t)(e - *s) };
	*s = e + 1;
	return 0;
}

/* The age in days of the stamp day THEN at NOW: SRS_SLOTS - 1 is a day
   ahead (-1). */
static int
age_of(int then, time_t now)
{
	int today = (int)(((unsigned long long)now / SRS_DAY) % SRS_SLOTS);
	int age = (today - then + SRS_SLOTS) % SRS_SLOTS;

	return age == SRS_SLOTS - 1 ? -1 : age;
}

enum srs_status
srs_reverse(const char *local, size_t len, const char *const *secrets,
    size_t nsecrets, time_t now, unsigned max_age, char *out, size_t outsz,
    int *age_r)
{
	char s[ADDR_LOCAL_MAX + 1];
	const char *p;
	struct piece hash, stamp, host, pc[3];
	int then, age;

	if (outsz > 0)
		out[0] = '\0';
	if (!srs_is_srs(local, len))
		return SRS_NOT_SRS;
	if (len > ADDR_LOCAL_MAX || memchr(local, '\0', len) != NULL)
		return SRS_MALFORMED;
	memcpy(s, local, len);
	s[len] = '\0';
	p = s + 5;
	if (field(&p, &hash) == -1 || hash.n != SRS_HASH_LEN)
		return SRS_MALFORMED;
	if (s[3] == '1') {
		/* SRS1=HHHH=first==rest: back to SRS0=rest@first. */
		if (field(&p, &host) == -1 || *p == '\0')
			return SRS_MALFORMED;
		pc[0] = host;
		pc[1] = (struct piece){ p, strlen(p) };
		if (!hash_good(hash.p, secrets, nsecrets, pc, 2))
			return SRS_BAD_HASH;
		if (age_r != NULL)
			*age_r = 0;
		return str_fmt(out, outsz, "SRS0%s@%.*s", p, (int)host.n,
		    host.p) == -1 ? SRS_TOO_LONG : SRS_OK;
	}
	if (field(&p, &stamp) == -1 || stamp.n != 2 ||
	    (then = stamp_parse(stamp.p)) == -1 ||
	    field(&p, &host) == -1 || *p == '\0')
		return SRS_MALFORMED;
	pc[0] = stamp;
	pc[1] = host;
	pc[2] = (struct piece){ p, strlen(p) };
	if (!hash_good(hash.p, secrets, nsecrets, pc, 3))
		return SRS_BAD_HASH;
	age = age_of(then, now);
	if (age_r != NULL)
		*age_r = age;
	if (age > (int)max_age)
		return SRS_EXPIRED;
	return str_fmt(out, outsz, "%s@%.*s", p, (int)host.n, host.p) == -1 ?
	    SRS_TOO_LONG : SRS_OK;
}

const char *
srs_status_text(enum srs_status s)
{
	switch (s) {
	case SRS_OK:
		return "ok";
	case SRS_NOT_SRS:
		return "not an SRS address";
	case SRS_MALFORMED:
		return "malformed SRS address";
	case SRS_BAD_HASH:
		return "bad hash (forged or mistyped)";
	case SRS_EXPIRED:
		return "expired";
	case SRS_TOO_LONG:
		return "too long";
	}
	return "?";
}
