/*
 * mauth_verify.c - checking a signature (RFC 6376 section 6.1): its key
 * record (3.6.1), the body hash, then the signature over the header
 * fields h= names and the signature field itself without b=; for an
 * ARC-Seal, over the ARC sets up to its own (RFC 8617 section 5.1.1).
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

#include "mauth/mauth_int.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

static void
set(struct mauth_sig *sig, enum mauth_result r, const char *why)
{
	sig->result = r;
	(void)str_copy(sig->error, why, sizeof(sig->error));
}

void
mauth_canon_field(const struct dkim_field *f, bool relaxed, struct buf *out)
{
	size_t i;

	if (relaxed) {
		(void)dkim_canon_header(f->p, f->n, out);
		return;
	}
	/* simple (3.4.1): as it is, with CRLF line ends */
	for (i = 0; i < f->n; i++) {
		if (f->p[i] == '\n' && (i == 0 || f->p[i - 1] != '\r'))
			(void)buf_putc(out, '\r');
		(void)buf_putc(out, f->p[i]);
	}
	if (f->n == 0 || f->p[f->n - 1] != '\n')
		(void)buf_append(out, "\r\n", 2);
}

int
mauth_canon_self(const struct dkim_field *f, bool relaxed, struct buf *out)
{
	const char *colon = memchr(f->p, ':', f->n), *err;
	struct mauth_tags tags;
	const struct mauth_tag *b;
	struct dkim_field cut;
	struct buf copy;
	size_t vstart;

	if (colon == NULL)
		return -1;
	vstart = (size_t)(colon + 1 - f->p);
	if (mauth_tags_parse(colon + 1, f->n - vstart, &tags, &err) == -1 ||
	    (b = mauth_tag(&tags, "b")) == NULL)
		return -1;
	buf_init(&copy, BUF_UNLIMITED);
	(void)buf_append(&copy, f->p, vstart + b->voff);
	(void)buf_append(&copy, f->p + vstart + b->voff + b->vlen,
	    f->n - vstart - b->voff - b->vlen);
	cut.p = copy.data;
	cut.n = copy.len;
	mauth_canon_field(&cut, relaxed, out);
	buf_free(&copy);
	out->len -= 2;		/* no CRLF after the field itself */
	return 0;
}

/* The header fields a DKIM-Signature or AMS names, bottom up per name
   (RFC 6376 5.4.2), then itself. */
static void
signed_fields(const struct mauth_msg *m, const struct sig_state *st,
    struct buf *data)
{
	bool *used = xcalloc(m->nf + 1, sizeof(*used));
	const char *p = buf_cstr(&st->hlist), *e;
	char name[128];
	size_t k;

	for (; *p != '\0'; p = *e != '\0' ? e + 1 : e) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) == 0 || (size_t)(e - p) >= sizeof(name))
			continue;
		memcpy(name, p, (size_t)(e - p));
		name[e - p] = '\0';
		for (k = m->nf; k > 0; k--)
			if (!used[k - 1] && k - 1 != st->field &&
			    dkim_field_is(&m->f[k - 1], name))
				break;
		if (k == 0)
			continue;	/* none (left): nothing (5.4.2) */
		used[k - 1] = true;
		mauth_canon_field(&m->f[k - 1], st->relaxed_hdr, data);
	}
	free(used);
	(void)mauth_canon_self(&m->f[st->field], st->relaxed_hdr, data);
}

/* The ARC sets 1..I, AAR AMS AS each, relaxed; AS(I) without b=. */
static int
seal_fields(const struct mauth_msg *m, unsigned inst, struct buf *data)
{
	unsigned i;

	for (i = 1; i <= inst && i <= m->narc; i++) {
		mauth_canon_field(&m->f[m->arc[i].aar], true, data);
		mauth_canon_field(&m->f[m->arc[i].ams], true, data);
		if (i < inst)
			mauth_canon_field(&m->f[m->arc[i].as], true, data);
	}
	if (inst > m->narc)
		return -1;
	return mauth_canon_self(&m->f[m->arc[inst].as], true, data);
}

/* The key record (RFC 6376 3.6.1) of SIG among RECS: its key, or NULL
   with SIG's result set. */
static EVP_PKEY *
key_of(struct mauth_sig *sig, const struct sig_state *st,
    const struct dns_txt *recs, size_t n)
{
	const struct mauth_tag *t;
	struct mauth_tags tags;
	char err[DKIM_ERROR_MAX];
	const char *perr;
	struct buf p;
	EVP_PKEY *key;
	size_t i;

	for (i = 0; i < n; i++) {
		if (mauth_tags_parse(recs[i].text, recs[i].len, &tags,
		    &perr) == -1)
			continue;
		t = mauth_tag(&tags, "v");
		if (t != NULL && (t != &tags.t[0] || t->vlen != 5 ||
		    memcmp(t->val, "DKIM1", 5) != 0))
			continue;
		break;
	}
	if (i == n) {
		set(sig, MAUTH_PERMERROR, "no valid key record");
		return NULL;
	}
	t = mauth_tag(&tags, "k");
	if ((t == NULL ? DKIM_RSA_SHA256 : t->vlen == 3 &&
	    strncasecmp(t->val, "rsa", 3) == 0 ? DKIM_RSA_SHA256 :
	    t->vlen == 7 && strncasecmp(t->val, "ed25519", 7) == 0 ?
	    DKIM_ED25519_SHA256 : -1) != sig->alg) {
		set(sig, MAUTH_PERMERROR, "key type does not match a=");
		return NULL;
	}
	if ((t = mauth_tag(&tags, "h")) != NULL && !memmem(t->val, t->vlen,
	    "sha256", 6)) {
		set(sig, MAUTH_PERMERROR, "key record refuses sha256 (h=)");
		return NULL;
	}
	if ((t = mauth_tag(&tags, "s")) != NULL && !memmem(t->val, t->vlen,
	    "*", 1) && !memmem(t->val, t->vlen, "email", 5)) {
		set(sig, MAUTH_PERMERROR, "key is not for email (s=)");
		return NULL;
	}
	if ((t = mauth_tag(&tags, "t")) != NULL && memchr(t->val, 's',
	    t->vlen) != NULL && st->auid[0] != '\0' &&
	    strcasecmp(strrchr(st->auid, '@') + 1, sig->domain) != 0) {
		set(sig, MAUTH_PERMERROR, "i= is a subdomain of d= under t=s");
		return NULL;
	}
	if ((t = mauth_tag(&tags, "p")) == NULL || t->vlen == 0) {
		set(sig, MAUTH_PERMERROR, t == NULL ? "key record has no p=" :
		    "key revoked (empty p=)");
		return NULL;
	}
	buf_init(&p, BUF_UNLIMITED);
	mauth_tag_compact(t, &p);
	key = dkim_pubkey_load((enum dkim_alg)sig->alg, p.data, p.len,
	    err);
	buf_free(&p);
	if (key == NULL)
		set(sig, MAUTH_PERMERROR, err);
	return key;
}

/* The body hash of SIG against bh= (DKIM, AMS). 0 or -1 (result set). */
static int
body_ok(const struct mauth_msg *m, struct mauth_sig *sig,
    const struct sig_state *st)
{
	const struct body_hash *bh;

	if (st->body == SIZE_MAX) {
		set(sig, MAUTH_PERMERROR, "too many body hashes to compute");
		return -1;
	}
	bh = &m->bodies[st->body];
	if (st->limit != UINT64_MAX && st->limit > bh->len) {
		set(sig, MAUTH_FAIL, "l= is longer than the body");
		return -1;
	}
	if (CRYPTO_memcmp(bh->md, st->bh, DKIM_HASH_LEN) != 0) {
		set(sig, MAUTH_FAIL, "body hash did not verify");
		return -1;
	}
	return 0;
}

void
mauth_sig_verify(struct mauth_msg *m, struct mauth_sig *sig, int status,
    const struct dns_txt *recs, size_t n, int64_t now)
{
	struct sig_state *st = &m->st[sig - m->sigs];
	EVP_PKEY *key;
	struct buf data;
	int r;

	if (sig->result != MAUTH_NONE)
		return;		/* refused when parsed */
	if (status == -1) {
		set(sig, MAUTH_TEMPERROR, "key lookup failed");
		return;
	}
	if (status != 1) {
		set(sig, MAUTH_PERMERROR, "no key for the signature");
		return;
	}
	if (st->x != -1 && st->x < now) {
		set(sig, MAUTH_FAIL, "signature expired (x=)");
		return;
	}
	if ((key = key_of(sig, st, recs, n)) == NULL)
		return;
	if (sig->kind != MAUTH_SIG_AS && body_ok(m, sig, st) == -1) {
		EVP_PKEY_free(key);
		return;
	}
	buf_init(&data, BUF_UNLIMITED);
	if (sig->kind == MAUTH_SIG_AS)
		r = seal_fields(m, sig->instance, &data);
	else {
		signed_fields(m, st, &data);
		r = 0;
	}
	if (r == 0)
		r = dkim_verify_data((enum dkim_alg)sig->alg, key, data.data,
		    data.len, (const unsigned char *)st->b.data, st->b.len);
	if (r == 0)
		set(sig, MAUTH_PASS, "");
	else
		set(sig, MAUTH_FAIL, "signature did not verify");
	buf_free(&data);
	EVP_PKEY_free(key);
}
