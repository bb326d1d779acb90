/*
 * dns_txt.c - the answer to a TXT query, parsed from the DNS message
 * (RFC 1035 section 4.1): c-ares 1.18's ares_parse_txt_reply gives
 * neither the TTL nor the SOA that bounds a negative answer (RFC 2308),
 * and popgate caches both.
 */
#include <stdlib.h>
#include <string.h>

#include "core/dns.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define T_TXT		16
#define T_SOA		6
#define C_IN		1
#define TTL_MAX		86400u		/* a day */
#define NEG_TTL_MAX	3600u		/* an hour */

struct rd {
	const unsigned char	*p;
	size_t			 len, off;
};

static int
get16(struct rd *r, unsigned *v)
{
	if (r->len - r->off < 2)
		return -1;
	*v = (unsigned)r->p[r->off] << 8 | r->p[r->off + 1];
	r->off += 2;
	return 0;
}

static int
get32(struct rd *r, uint32_t *v)
{
	if (r->len - r->off < 4)
		return -1;
	*v = (uint32_t)r->p[r->off] << 24 | (uint32_t)r->p[r->off + 1] << 16 |
	    (uint32_t)r->p[r->off + 2] << 8 | r->p[r->off + 3];
	r->off += 4;
	return 0;
}

/* Steps over a domain name: labels ending in the root or a pointer. */
static int
skip_name(struct rd *r)
{
	unsigned n;

	for (;;) {
		if (r->off >= r->len)
			return -1;
		n = r->p[r->off];
		if ((n & 0xc0) == 0xc0) {
			if (r->len - r->off < 2)
				return -1;
			r->off += 2;
			return 0;
		}
		if ((n & 0xc0) != 0)
			return -1;	/* the reserved label types */
		r->off++;
		if (n == 0)
			return 0;
		if (r->len - r->off < n)
			return -1;
		r->off += n;
	}
}

/* The character-strings of one TXT rdata, joined, as a new record. */
static int
add_txt(struct dns_txt_set *set, struct buf *texts, size_t *starts,
    const unsigned char *p, size_t len)
{
	size_t off = 0, n;

	if (set->n == DNS_TXT_MAX)
		return 0;	/* more than any sane name has: ignored */
	starts[set->n] = texts->len;
	while (off < len) {
		n = p[off++];
		if (len - off < n)
			return -1;
		if (buf_append(texts, p + off, n) == -1)
			return -1;
		off += n;
	}
	set->rec[set->n].len = texts->len - starts[set->n];
	if (buf_append(texts, "", 1) == -1)
		return -1;
	set->n++;
	return 0;
}

/* The negative TTL of an SOA record: the smaller of its own TTL and
   its MINIMUM field (RFC 2308 section 5). */
static int
soa_ttl(struct rd *r, size_t end, uint32_t ttl, uint32_t *out)
{
	uint32_t v[5];
	int i;

	for (i = 0; i < 2; i++)		/* MNAME, RNAME */
		if (skip_name(r) == -1)
			return -1;
	for (i = 0; i < 5; i++)
		if (get32(r, &v[i]) == -1)
			return -1;
	if (r->off != end)
		return -1;
	*out = ttl < v[4] ? ttl : v[4];
	return 0;
}

/* One resource record of section SEC (0 answer, 1 authority): a
   record of type QTYPE in the answer lowers *TTL (and, SET not NULL, is
   a TXT record kept); an SOA in the authority gives *NEG. */
static int
one_rr(struct rd *r, int sec, unsigned qtype, struct dns_txt_set *set,
    struct buf *texts, size_t *starts, uint32_t *ttl, uint32_t *neg,
    size_t *nans)
{
	unsigned type, class, rdlen;
	uint32_t t;
	size_t end;

	if (skip_name(r) == -1 || get16(r, &type) == -1 ||
	    get16(r, &class) == -1 || get32(r, &t) == -1 ||
	    get16(r, &rdlen) == -1 || r->len - r->off < rdlen)
		return -1;
	end = r->off + rdlen;
	if (t > 0x7fffffffu)
		t = 0;		/* RFC 2181 section 8 */
	if (class == C_IN && sec == 0 && type == qtype) {
		if (set != NULL && add_txt(set, texts, starts, r->p + r->off,
		    rdlen) == -1)
			return -1;
		if (t < *ttl)
			*ttl = t;
		(*nans)++;
	} else if (class == C_IN && sec == 1 && type == T_SOA) {
		if (soa_ttl(r, end, t, neg) == -1)
			return -1;
	}
	r->off = end;
	return 0;
}

/* The header's six counts into HDR, and the questions stepped over. */
static int
skip_header(struct rd *r, unsigned hdr[6])
{
	unsigned i;

	for (i = 0; i < 6; i++)
		if (get16(r, &hdr[i]) == -1)
			return -1;
	for (i = 0; i < hdr[2]; i++) {
		if (skip_name(r) == -1 || r->len - r->off < 4)
			return -1;
		r->off += 4;
	}
	return 0;
}

/* The sections of a message: the header, the questions skipped, the
   answers and the authority records, as one_rr() takes them. */
static int
walk(const unsigned char *abuf, size_t alen, unsigned qtype,
    struct dns_txt_set *set, struct buf *texts, size_t *starts,
    uint32_t *ttl_r)
{
	struct rd r = { abuf, alen, 0 };
	unsigned hdr[6], i, sec;
	uint32_t ttl = TTL_MAX, neg = 0;
	size_t nans = 0;

	if (skip_header(&r, hdr) == -1)
		return -1;
	for (sec = 0; sec < 2; sec++)
		for (i = 0; i < hdr[3 + sec]; i++)
			if (one_rr(&r, (int)sec, qtype, set, texts, starts,
			    &ttl, &neg, &nans) == -1)
				return -1;
	*ttl_r = nans > 0 ? ttl : neg < NEG_TTL_MAX ? neg : NEG_TTL_MAX;
	return 0;
}

int
dns_txt_parse(const unsigned char *abuf, size_t alen, struct dns_txt_set *set)
{
	size_t starts[DNS_TXT_MAX], blen, i;
	struct buf texts;
	uint32_t ttl;

	set->n = 0;
	set->blob = NULL;
	set->ttl = 0;
	buf_init(&texts, BUF_UNLIMITED);
	if (walk(abuf, alen, T_TXT, set, &texts, starts, &ttl) == -1) {
		buf_free(&texts);
		set->n = 0;
		return -1;
	}
	set->blob = buf_steal(&texts, &blen);
	for (i = 0; i < set->n; i++)
		set->rec[i].text = set->blob + starts[i];
	set->ttl = ttl;
	return 0;
}

int
dns_answer_ttl(const unsigned char *abuf, size_t alen, unsigned qtype,
    uint32_t *ttl_r)
{
	*ttl_r = 0;
	return walk(abuf, alen, qtype, NULL, NULL, NULL, ttl_r);
}

void
dns_txt_set_free(struct dns_txt_set *set)
{
	free(set->blob);
	set->blob = NULL;
	set->n = 0;
}

/* ---- answers asked with AD: the RCODE, AD, TLSA records ---- */

#define T_TLSA		52

/* One TLSA rdata of RDLEN octets at R's offset into SET. */
static void
add_tlsa(struct dns_tlsa_set *set, const unsigned char *p, unsigned rdlen)
{
	struct dns_tlsa *t;

	if (set->n >= DNS_TLSA_MAX || rdlen < 3)
		return;		/* a short one is no record at all */
	t = &set->rec[set->n++];
	t->usage = p[0];
	t->selector = p[1];
	t->mtype = p[2];
	t->len = rdlen - 3;
	if (t->len > DNS_TLSA_DATA_MAX) {
		t->usage = 255;
		t->len = 0;
		return;
	}
	memcpy(t->data, p + 3, t->len);
}

int
dns_tlsa_parse(const unsigned char *abuf, size_t alen, unsigned qtype,
    struct dns_tlsa_set *set)
{
	struct rd r = { abuf, alen, 0 };
	unsigned hdr[6], i, type, class, rdlen;
	uint32_t ttl;
	bool found = false;

	set->n = 0;
	set->secure = false;
	set->status = -1;
	if (skip_header(&r, hdr) == -1)
		return -1;
	for (i = 0; i < hdr[3]; i++) {
		if (skip_name(&r) == -1 || get16(&r, &type) == -1 ||
		    get16(&r, &class) == -1 || get32(&r, &ttl) == -1 ||
		    get16(&r, &rdlen) == -1 || r.len - r.off < rdlen) {
			set->n = 0;
			return -1;
		}
		if (class == C_IN && type == qtype) {
			found = true;
			if (type == T_TLSA)
				add_tlsa(set, r.p + r.off, rdlen);
		}
		r.off += rdlen;
	}
	set->secure = (hdr[1] & 0x0020) != 0;
	switch (hdr[1] & 0x000f) {
	case 0:
		set->status = found ? 1 : 0;
		break;
	case 3:
		set->status = DNS_NXDOMAIN;
		break;
	default:
		set->status = -1;
		set->secure = false;
		break;
	}
	return 0;
}
