/*
 * mauth_msg.c - one message scanned for its authentication: the header
 * section kept (up to DKIM_HEADER_MAX), its DKIM signatures and ARC
 * sets parsed when the section ends, and each body hash they need
 * computed as the body streams through (one per canonicalization and
 * length, however many signatures share it).
 */
#include <ctype.h>
#include <string.h>

#include "core/rfc5322.h"
#include "mauth/mauth_int.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

const char *
mauth_result_name(enum mauth_result r)
{
	static const char *const names[] = { "none", "pass", "fail",
		"neutral", "policy", "temperror", "permerror" };

	return (size_t)r < nitems(names) ? names[r] : "none";
}

struct mauth_msg *
mauth_msg_new(const char *authserv_id)
{
	struct mauth_msg *m = xcalloc(1, sizeof(*m));
	size_t i;

	(void)str_copy(m->authserv, authserv_id, sizeof(m->authserv));
	buf_init(&m->hdr, DKIM_HEADER_MAX);
	m->line_start = true;
	for (i = 0; i < MAUTH_SIGS_MAX; i++) {
		buf_init(&m->st[i].hlist, BUF_UNLIMITED);
		buf_init(&m->st[i].b, BUF_UNLIMITED);
	}
	return m;
}

void
mauth_msg_free(struct mauth_msg **mp)
{
	struct mauth_msg *m = *mp;
	size_t i;

	if (m == NULL)
		return;
	*mp = NULL;
	buf_free(&m->hdr);
	for (i = 0; i < MAUTH_SIGS_MAX; i++) {
		buf_free(&m->st[i].hlist);
		buf_free(&m->st[i].b);
	}
	for (i = 0; i < m->nbodies; i++)
		dkim_body_free(&m->bodies[i].b);
	free(m->f);
	free(m->forged);
	free(m);
}

/* The body hash for a canonicalization and limit: shared. */
static size_t
body_for(struct mauth_msg *m, bool relaxed, uint64_t limit)
{
	size_t i;

	for (i = 0; i < m->nbodies; i++)
		if (m->bodies[i].relaxed == relaxed &&
		    m->bodies[i].limit == limit)
			return i;
	if (m->nbodies == MAUTH_BODIES_MAX)
		return SIZE_MAX;
	m->bodies[i].relaxed = relaxed;
	m->bodies[i].limit = limit;
	m->bodies[i].b = dkim_body_new(relaxed, limit);
	m->nbodies++;
	return i;
}

/* An Authentication-Results field that claims to be ours. */
static void
check_ar(struct mauth_msg *m, const struct dkim_field *f)
{
	const char *colon = memchr(f->p, ':', f->n);
	char id[256];

	if (colon == NULL || mauth_ar_authserv(colon + 1,
	    (size_t)(f->p + f->n - colon - 1), id, sizeof(id)) == -1 ||
	    strcasecmp(id, m->authserv) != 0)
		return;
	m->forged = xreallocarray(m->forged, m->nforged + 1,
	    sizeof(*m->forged));
	m->forged[m->nforged].start = (uint64_t)(f->p - m->hdr.data);
	m->forged[m->nforged].end = m->forged[m->nforged].start + f->n;
	m->nforged++;
}

/* The header section is complete: what it signs and claims. */
static void
header_done(struct mauth_msg *m)
{
	size_t i, ndkim = 0;

	m->in_body = true;
	if (m->hdr_big)
		return;		/* nothing is checked: see mauth_sig_count */
	m->nf = dkim_fields_split(m->hdr.data, m->hdr.len, &m->f);
	for (i = 0; i < m->nf; i++) {
		if (dkim_field_is(&m->f[i], "Authentication-Results"))
			check_ar(m, &m->f[i]);
		if (!dkim_field_is(&m->f[i], "DKIM-Signature") ||
		    ndkim == MAUTH_DKIM_MAX)
			continue;
		(void)mauth_sig_parse(m, i, MAUTH_SIG_DKIM,
		    &m->sigs[m->nsigs], &m->st[m->nsigs]);
		m->nsigs++;
		ndkim++;
	}
	mauth_arc_scan(m);
	for (i = 0; i < m->nsigs; i++) {
		struct sig_state *st = &m->st[i];

		st->body = SIZE_MAX;
		if (m->sigs[i].result != MAUTH_NONE ||
		    m->sigs[i].kind == MAUTH_SIG_AS)
			continue;
		st->body = body_for(m, st->relaxed_body, st->limit);
	}
}

static void
hdr_put(struct mauth_msg *m, const char *p, size_t n)
{
	if (!m->hdr_big && buf_append(&m->hdr, p, n) == -1)
		m->hdr_big = true;
}

/* Header octets up to the empty line; returns how many were header. A
   CR at the start of a line is held back until it is known not to be
   the one of the empty line; the rest of a line goes in at once. */
static size_t
header_feed(struct mauth_msg *m, const char *p, size_t n)
{
	const char *nl;
	size_t i = 0, k;

	while (i < n) {
		if (m->line_start && p[i] == '\n') {
			header_done(m);
			return i + 1;
		}
		if (m->line_start && p[i] == '\r' && !m->hdr_cr) {
			m->hdr_cr = true;	/* CRLF, or a CR of the line */
			i++;
			continue;
		}
		if (m->hdr_cr) {
			m->hdr_cr = false;
			hdr_put(m, "\r", 1);
		}
		nl = memchr(p + i, '\n', n - i);
		k = nl == NULL ? n : (size_t)(nl - p) + 1;
		hdr_put(m, p + i, k - i);
		m->line_start = nl != NULL;
		i = k;
	}
	return n;
}

void
mauth_msg_feed(struct mauth_msg *m, const void *data, size_t n)
{
	const char *p = data;
	size_t h = 0, i;

	if (m->ended)
		return;
	if (!m->in_body)
		h = header_feed(m, p, n);
	if (m->in_body && h < n)
		for (i = 0; i < m->nbodies; i++)
			dkim_body_feed(m->bodies[i].b, p + h, n - h);
	m->off += n;
}

void
mauth_msg_end(struct mauth_msg *m)
{
	size_t i;

	if (m->ended)
		return;
	if (!m->in_body)
		header_done(m);		/* no body at all */
	for (i = 0; i < m->nbodies; i++)
		dkim_body_final(m->bodies[i].b, m->bodies[i].md,
		    &m->bodies[i].len);
	m->ended = true;
}

size_t
mauth_sig_count(const struct mauth_msg *m)
{
	return m->nsigs;
}

struct mauth_sig *
mauth_sig(struct mauth_msg *m, size_t i)
{
	return i < m->nsigs ? &m->sigs[i] : NULL;
}

size_t
mauth_forged(const struct mauth_msg *m, const struct mauth_range **v)
{
	*v = m->forged;
	return m->nforged;
}

/* ---- From: ---- */

struct from_scan {
	char	domain[256];
	int	r;
};

static void
from_one(const char *body, size_t len, void *arg)
{
	struct from_scan *fs = arg;
	struct strlist addrs;
	const char *err, *at;
	size_t i;

	if (fs->r != 0) {
		fs->r = -1;	/* a second From: field */
		return;
	}
	strlist_init(&addrs);
	if (rfc5322_parse_addresses(body, len, &addrs, &err) == -1 ||
	    addrs.n != 1 || (at = strrchr(addrs.v[0], '@')) == NULL ||
	    str_copy(fs->domain, at + 1, sizeof(fs->domain)) == -1)
		fs->r = -1;
	else
		fs->r = 1;
	strlist_free(&addrs);
	for (i = 0; fs->domain[i] != '\0'; i++)
		fs->domain[i] = (char)tolower((unsigned char)fs->domain[i]);
}

int
mauth_from_domain(const struct mauth_msg *m, char *out, size_t outsz)
{
	struct from_scan fs;
	struct buf copy;
	size_t i;

	memset(&fs, 0, sizeof(fs));
	buf_init(&copy, BUF_UNLIMITED);
	/* Only the From: fields, with LF line ends, for the finder. */
	for (i = 0; i < m->nf; i++) {
		size_t k;

		if (!dkim_field_is(&m->f[i], "From"))
			continue;
		for (k = 0; k < m->f[i].n; k++)
			if (m->f[i].p[k] != '\r')
				(void)buf_putc(&copy, m->f[i].p[k]);
		if (copy.len > 0 && copy.data[copy.len - 1] != '\n')
			(void)buf_putc(&copy, '\n');
	}
	if (copy.len > 0)
		(void)rfc5322_fields(copy.data, copy.len, "From", from_one,
		    &fs);
	buf_free(&copy);
	if (fs.r == 1 && str_copy(out, fs.domain, outsz) == -1)
		return -1;
	return fs.r;
}
