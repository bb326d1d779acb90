/*
 * mauth_sig.c - DKIM-Signature (RFC 6376 section 3.5), and the
 * ARC-Message-Signature and ARC-Seal that share its syntax (RFC 8617
 * sections 4.1.2 and 4.1.3): parsed when the header section ends,
 * checked once the key's TXT record is in (section 6.1).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "mauth/mauth_int.h"
#include "util/base64.h"
#include "util/str.h"
#include "util/compat.h"

bool
mauth_domain_within(const char *d, const char *parent)
{
	size_t n = strlen(d), pn = strlen(parent);

	if (n == pn)
		return strcasecmp(d, parent) == 0;
	return n > pn && d[n - pn - 1] == '.' &&
	    strcasecmp(d + n - pn, parent) == 0;
}

static int
fail(struct mauth_sig *sig, enum mauth_result r, const char *why)
{
	sig->result = r;
	(void)str_copy(sig->error, why, sizeof(sig->error));
	return -1;
}

/* A tag's value as a C string into OUT (lower-case if LOWER). */
static int
tag_str(const struct mauth_tag *t, char *out, size_t outsz, bool lower)
{
	size_t i;

	if (t == NULL || t->vlen == 0 || t->vlen >= outsz)
		return -1;
	for (i = 0; i < t->vlen; i++)
		out[i] = lower ? (char)tolower((unsigned char)t->val[i]) :
		    t->val[i];
	out[i] = '\0';
	return 0;
}

/* A decimal tag (l=, t=, x=, i= of ARC) of at most 18 digits. */
static int
tag_num(const struct mauth_tag *t, int64_t *v)
{
	size_t i;

	*v = 0;
	if (t->vlen == 0 || t->vlen > 18)
		return -1;
	for (i = 0; i < t->vlen; i++) {
		if (t->val[i] < '0' || t->val[i] > '9')
			return -1;
		*v = *v * 10 + (t->val[i] - '0');
	}
	return 0;
}

static int
tag_b64(const struct mauth_tag *t, struct buf *out)
{
	struct buf c;
	int r;

	buf_init(&c, BUF_UNLIMITED);
	mauth_tag_compact(t, &c);
	r = c.len > 0 ? base64_decode(c.data, c.len, out) : -1;
	buf_free(&c);
	return r;
}

/* c=: "simple", "relaxed", "H/B" (RFC 6376 3.5). */
static int
canon_tag(const struct mauth_tag *t, bool *hdr, bool *body)
{
	char v[32], *slash;

	*hdr = *body = false;
	if (t == NULL)
		return 0;
	if (tag_str(t, v, sizeof(v), true) == -1)
		return -1;
	if ((slash = strchr(v, '/')) != NULL)
		*slash++ = '\0';
	if (strcmp(v, "relaxed") == 0)
		*hdr = true;
	else if (strcmp(v, "simple") != 0)
		return -1;
	if (slash == NULL)
		return 0;
	if (strcmp(slash, "relaxed") == 0)
		*body = true;
	else if (strcmp(slash, "simple") != 0)
		return -1;
	return 0;
}

/* The tags every kind has: a= b= d= s=, and i= for ARC. */
static int
common_tags(const struct mauth_tags *tags, enum mauth_sig_kind kind,
    struct mauth_sig *sig, struct sig_state *st)
{
	const struct mauth_tag *t;
	char a[32];
	int64_t n;

	if (tag_str(mauth_tag(tags, "a"), a, sizeof(a), true) == -1)
		return fail(sig, MAUTH_PERMERROR, "no a= tag");
	sig->alg = dkim_alg_parse(a);
	if (sig->alg == -1)
		return fail(sig, MAUTH_PERMERROR, strcmp(a, "rsa-sha1") == 0 ?
		    "rsa-sha1 is not accepted (RFC 8301)" :
		    "unknown algorithm");
	if (tag_str(mauth_tag(tags, "d"), sig->domain, sizeof(sig->domain),
	    true) == -1 || tag_str(mauth_tag(tags, "s"), sig->selector,
	    sizeof(sig->selector), true) == -1)
		return fail(sig, MAUTH_PERMERROR, "no d= or s= tag");
	if ((t = mauth_tag(tags, "b")) == NULL || tag_b64(t, &st->b) == -1)
		return fail(sig, MAUTH_PERMERROR, "no b= tag, or not base64");
	{
		struct buf c;

		buf_init(&c, BUF_UNLIMITED);
		mauth_tag_compact(t, &c);
		(void)str_ncopy(sig->b8, buf_cstr(&c), c.len < 8 ? c.len : 8,
		    sizeof(sig->b8));
		buf_free(&c);
	}
	if (kind != MAUTH_SIG_DKIM) {
		if ((t = mauth_tag(tags, "i")) == NULL ||
		    tag_num(t, &n) == -1 || n < 1 || n > MAUTH_ARC_MAX)
			return fail(sig, MAUTH_PERMERROR, "bad i= tag");
		sig->instance = (unsigned)n;
	}
	st->t = st->x = -1;
	if ((t = mauth_tag(tags, "t")) != NULL && tag_num(t, &st->t) == -1)
		return fail(sig, MAUTH_PERMERROR, "bad t= tag");
	if ((t = mauth_tag(tags, "x")) != NULL && (tag_num(t, &st->x) == -1 ||
	    (st->t != -1 && st->x < st->t)))
		return fail(sig, MAUTH_PERMERROR, "bad x= tag");
	return 0;
}

/* What DKIM-Signature and ARC-Message-Signature have beside those. */
static int
message_tags(const struct mauth_tags *tags, enum mauth_sig_kind kind,
    struct mauth_sig *sig, struct sig_state *st)
{
	const struct mauth_tag *t;
	struct buf bh;
	int64_t l;
	char *at;
	bool from = false;
	const char *p, *e;

	if (kind == MAUTH_SIG_DKIM && ((t = mauth_tag(tags, "v")) == NULL ||
	    t->vlen != 1 || t->val[0] != '1'))
		return fail(sig, MAUTH_PERMERROR, "no v=1 tag");
	if (canon_tag(mauth_tag(tags, "c"), &st->relaxed_hdr,
	    &st->relaxed_body) == -1)
		return fail(sig, MAUTH_PERMERROR, "bad c= tag");
	if ((t = mauth_tag(tags, "h")) == NULL)
		return fail(sig, MAUTH_PERMERROR, "no h= tag");
	mauth_tag_compact(t, &st->hlist);
	for (p = buf_cstr(&st->hlist); *p != '\0'; p = *e ? e + 1 : e) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		from |= (size_t)(e - p) == 4 && strncasecmp(p, "from", 4) == 0;
	}
	if (!from)
		return fail(sig, MAUTH_PERMERROR, "h= does not sign From:");
	buf_init(&bh, 64);
	if ((t = mauth_tag(tags, "bh")) == NULL || tag_b64(t, &bh) == -1 ||
	    bh.len != DKIM_HASH_LEN) {
		buf_free(&bh);
		return fail(sig, MAUTH_PERMERROR, "bad bh= tag");
	}
	memcpy(st->bh, bh.data, DKIM_HASH_LEN);
	buf_free(&bh);
	st->limit = UINT64_MAX;
	if ((t = mauth_tag(tags, "l")) != NULL) {
		if (tag_num(t, &l) == -1)
			return fail(sig, MAUTH_PERMERROR, "bad l= tag");
		st->limit = (uint64_t)l;
	}
	if (kind == MAUTH_SIG_DKIM && (t = mauth_tag(tags, "i")) != NULL) {
		if (tag_str(t, st->auid, sizeof(st->auid), true) == -1 ||
		    (at = strrchr(st->auid, '@')) == NULL ||
		    !mauth_domain_within(at + 1, sig->domain))
			return fail(sig, MAUTH_PERMERROR, "i= is not within d=");
	}
	if ((t = mauth_tag(tags, "q")) != NULL && (t->vlen < 7 ||
	    strncasecmp(t->val, "dns/txt", 7) != 0))
		return fail(sig, MAUTH_PERMERROR, "q= is not dns/txt");
	return 0;
}

int
mauth_sig_parse(struct mauth_msg *m, size_t field, enum mauth_sig_kind kind,
    struct mauth_sig *sig, struct sig_state *st)
{
	const struct dkim_field *f = &m->f[field];
	const char *colon = memchr(f->p, ':', f->n), *err;
	struct mauth_tags tags;
	const struct mauth_tag *t;

	memset(sig, 0, sizeof(*sig));
	sig->kind = kind;
	sig->alg = -1;
	st->field = field;
	st->body = SIZE_MAX;
	buf_reset(&st->hlist);
	buf_reset(&st->b);
	if (colon == NULL)
		return fail(sig, MAUTH_PERMERROR, "no field");
	if (mauth_tags_parse(colon + 1, (size_t)(f->p + f->n - colon - 1),
	    &tags, &err) == -1)
		return fail(sig, MAUTH_PERMERROR, err);
	if (common_tags(&tags, kind, sig, st) == -1)
		return -1;
	if (kind == MAUTH_SIG_AS) {
		st->relaxed_hdr = true;	/* RFC 8617 4.1.3: always */
		if (mauth_tag(&tags, "h") != NULL)
			return fail(sig, MAUTH_PERMERROR, "h= in an ARC-Seal");
		if ((t = mauth_tag(&tags, "cv")) == NULL)
			return fail(sig, MAUTH_PERMERROR, "no cv= tag");
		st->cv_none = t->vlen == 4 && strncasecmp(t->val, "none",
		    4) == 0;
		st->cv_fail = t->vlen == 4 && strncasecmp(t->val, "fail",
		    4) == 0;
		if (!st->cv_none && !st->cv_fail && !(t->vlen == 4 &&
		    strncasecmp(t->val, "pass", 4) == 0))
			return fail(sig, MAUTH_PERMERROR, "bad cv= tag");
		return 0;
	}
	return message_tags(&tags, kind, sig, st);
}

int
mauth_sig_keyname(const struct mauth_sig *sig, char *out, size_t outsz)
{
	return str_fmt(out, outsz, "%s._domainkey.%s", sig->selector,
	    sig->domain);
}
