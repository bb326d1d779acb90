/*
 * fuzz_mauth.c - inbound mail authentication's parsers: a message
 * scanned for DKIM signatures and ARC sets (fed in pieces of a size
 * the input picks), every signature checked against a key record the
 * input gives, the ARC result, From:, the Authentication-Results
 * fields found forged; and the tag lists, DMARC records and
 * authserv-ids alone.
 *
 * Input: one byte (piece size), the key record's line, the message.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mauth/mauth.h"

static void
parsers(const char *p, size_t n)
{
	struct mauth_tags tags;
	struct dmarc_record d;
	const char *err;
	char id[256];
	size_t i;

	if (mauth_tags_parse(p, n, &tags, &err) == 0) {
		if (tags.n > MAUTH_TAGS_MAX)
			abort();
		for (i = 0; i < tags.n; i++)
			if (tags.t[i].voff + tags.t[i].vlen > n ||
			    tags.t[i].val != p + tags.t[i].voff)
				abort();
	}
	if (dmarc_record_parse(p, n, &d, &err) == 0 && d.pct > 100)
		abort();
	if (mauth_ar_authserv(p, n, id, sizeof(id)) == 0 &&
	    strlen(id) == 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *p = (const char *)data, *nl;
	struct dns_txt key;
	struct mauth_msg *m;
	const struct mauth_range *r;
	char dom[256], err[MAUTH_ERROR_MAX];
	size_t piece, off, i, n, msglen;
	unsigned narc;

	if (len < 2)
		return 0;
	piece = (size_t)data[0] % 64 + 1;
	p++;
	len--;
	parsers(p, len);
	nl = memchr(p, '\n', len);
	if (nl == NULL)
		return 0;
	key.len = (size_t)(nl - p);
	if ((key.text = calloc(1, key.len + 1)) == NULL)
		return 0;
	memcpy((char *)key.text, p, key.len);
	p = nl + 1;
	msglen = len - key.len - 1;
	m = mauth_msg_new("mx.example.net");
	for (off = 0; off < msglen; off += piece)
		mauth_msg_feed(m, p + off, msglen - off < piece ? msglen - off :
		    piece);
	mauth_msg_end(m);
	for (i = 0; i < mauth_sig_count(m); i++)
		mauth_sig_verify(m, mauth_sig(m, i), i % 5 == 4 ? -1 : 1, &key,
		    1, 1700000000);
	if (mauth_arc_result(m, &narc, err) == MAUTH_PASS && narc == 0)
		abort();
	if (mauth_from_domain(m, dom, sizeof(dom)) == 1 && dom[0] == '\0')
		abort();
	n = mauth_forged(m, &r);
	for (i = 0; i < n; i++)
		if (r[i].start >= r[i].end || r[i].end > msglen)
			abort();
	mauth_msg_free(&m);
	free((char *)key.text);
	return 0;
}
