/*
 * mime_cache.c - the parsed tree as bytes, for the folder index to keep
 * BODYSTRUCTURE, ENVELOPE and section ranges without parsing again.
 *
 * Layout: "PGM" and a version octet, the message sizes, the parts in
 * pre-order (each: sizes, strings, envelope, number of children), then
 * a 64-bit FNV-1a of everything before it. Numbers are LEB128 varints,
 * strings a varint length + 1 (0 for NULL) then the octets.
 *
 * Decoding trusts nothing: every count is bounded by the octets left and
 * the MIME_*_MAX limits, every range is checked against its parent and
 * the message, strings may hold no NUL, and the checksum must match; any
 * failure is a cache miss (NULL), never a crash or a partial tree.
 */
#include "mime/mime_int.h"
#include "util/compat.h"

#define MAGIC		"PGM"
#define FNV_OFFSET	0xcbf29ce484222325ULL
#define FNV_PRIME	0x100000001b3ULL

static uint64_t
fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = FNV_OFFSET;

	while (n-- > 0) {
		h ^= *p++;
		h *= FNV_PRIME;
	}
	return h;
}

/* ---- encoding ---- */

static void
put_u(struct buf *b, uint64_t v)
{
	unsigned char o[10];
	size_t n = 0;

	do {
		o[n] = v & 0x7f;
		v >>= 7;
		if (v != 0)
			o[n] |= 0x80;
		n++;
	} while (v != 0);
	(void)buf_append(b, o, n);
}

static void
put_s(struct buf *b, const char *s)
{
	size_t n;

	if (s == NULL) {
		put_u(b, 0);
		return;
	}
	n = strlen(s);
	put_u(b, (uint64_t)n + 1);
	(void)buf_append(b, s, n);
}

static void
put_params(struct buf *b, const struct mime_param *v, size_t n)
{
	size_t i;

	put_u(b, n);
	for (i = 0; i < n; i++) {
		put_s(b, v[i].name);
		put_s(b, v[i].value);
	}
}

static void
put_env(struct buf *b, const struct mime_envelope *env)
{
	size_t f, i;

	put_u(b, env != NULL);
	if (env == NULL)
		return;
	for (f = 0; f < MIME_ENV_N; f++) {
		put_s(b, env->field[f]);
		put_u(b, env->naddrs[f]);
		for (i = 0; i < env->naddrs[f]; i++) {
			put_s(b, env->addrs[f][i].name);
			put_s(b, env->addrs[f][i].adl);
			put_s(b, env->addrs[f][i].mailbox);
			put_s(b, env->addrs[f][i].host);
		}
	}
}

static void
put_part(struct buf *b, const struct mime_part *p)
{
	const struct mime_part *c;
	size_t i, n = 0;

	put_u(b, p->flags);
	put_u(b, p->hdr_off);
	put_u(b, p->hdr_size);
	put_u(b, p->hdr_size_crlf);
	put_u(b, p->hdr_lines);
	put_u(b, p->body_size);
	put_u(b, p->body_size_crlf);
	put_u(b, p->body_lines);
	put_s(b, p->type);
	put_s(b, p->subtype);
	put_params(b, p->params, p->nparams);
	put_s(b, p->encoding);
	put_s(b, p->id);
	put_s(b, p->description);
	put_s(b, p->md5);
	put_s(b, p->location);
	put_s(b, p->disposition);
	put_params(b, p->disp_params, p->ndisp_params);
	put_u(b, p->nlanguages);
	for (i = 0; i < p->nlanguages; i++)
		put_s(b, p->languages[i]);
	put_env(b, p->env);
	for (c = p->children; c != NULL; c = c->next)
		n++;
	put_u(b, n);
	for (c = p->children; c != NULL; c = c->next)
		put_part(b, c);
}

int
mime_tree_encode(const struct mime_tree *t, struct buf *out)
{
	struct buf b;
	uint64_t h;
	unsigned char hb[8];
	size_t i;
	int r;

	/* Built whole first: a failed append half way would leave a short
	   form that still carries a valid checksum. */
	buf_init(&b, BUF_UNLIMITED);
	(void)buf_append(&b, MAGIC, 3);
	(void)buf_putc(&b, MIME_CACHE_VERSION);
	put_u(&b, t->size);
	put_u(&b, t->size_crlf);
	put_u(&b, t->nparts);
	put_u(&b, t->truncated);
	put_part(&b, t->root);
	h = fnv1a((const unsigned char *)b.data, b.len);
	for (i = 0; i < 8; i++)
		hb[i] = (unsigned char)(h >> (8 * i));
	(void)buf_append(&b, hb, 8);
	r = buf_append(out, b.data, b.len);
	buf_free(&b);
	return r;
}

/* ---- decoding ---- */

struct rd {
	const unsigned char	*p, *end;
	struct mime_tree	*t;
	size_t			 parts;	/* as announced */
	bool			 bad;
};

static uint64_t
get_u(struct rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (!r->bad) {
		unsigned char c;

		if (r->p >= r->end || shift > 63) {
			r->bad = true;
			break;
		}
		c = *r->p++;
		if (shift == 63 && (c & 0x7e) != 0) {
			r->bad = true;	/* past 64 bits */
			break;
		}
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
		shift += 7;
	}
	return 0;
}

/* A count of items each at least MIN_OCTETS long, at most MAX. */
static size_t
get_n(struct rd *r, size_t max, size_t min_octets)
{
	uint64_t n = get_u(r);

	if (r->bad || n > max || n * min_octets > (uint64_t)(r->end - r->p)) {
		r->bad = true;
		return 0;
	}
	return (size_t)n;
}

static const char *
get_s(struct rd *r)
{
	uint64_t n = get_u(r);
	const char *s;

	if (r->bad || n == 0)
		return NULL;
	n--;
	if (n > (uint64_t)(r->end - r->p) || n > MIME_FIELD_MAX ||
	    memchr(r->p, '\0', (size_t)n) != NULL) {
		r->bad = true;
		return NULL;
	}
	s = mime_strndup(r->t, (const char *)r->p, (size_t)n);
	if (s == NULL)
		r->bad = true;
	r->p += n;
	return s;
}

static size_t
get_params(struct rd *r, struct mime_param **v_r)
{
	size_t n = get_n(r, MIME_PARAMS_MAX, 2), i;
	struct mime_param *v;

	*v_r = NULL;
	if (n == 0)
		return 0;
	if ((v = mime_alloc(r->t, n * sizeof(*v))) == NULL) {
		r->bad = true;
		return 0;
	}
	for (i = 0; i < n; i++) {
		v[i].name = get_s(r);
		v[i].value = get_s(r);
		if (v[i].name == NULL || v[i].value == NULL)
			r->bad = true;
	}
	*v_r = v;
	return r->bad ? 0 : n;
}

static void
get_addrs(struct rd *r, struct mime_envelope *env, size_t f)
{
	size_t n = get_n(r, MIME_ADDRS_MAX, 4), i;
	struct mime_addr *a;

	if (n == 0)
		return;
	if (env->field[f] == NULL ||
	    (a = mime_alloc(r->t, n * sizeof(*a))) == NULL) {
		r->bad = true;
		return;
	}
	for (i = 0; i < n; i++) {
		a[i].name = get_s(r);
		a[i].adl = get_s(r);
		a[i].mailbox = get_s(r);
		a[i].host = get_s(r);
	}
	env->addrs[f] = a;
	env->naddrs[f] = n;
}

static struct mime_envelope *
get_env(struct rd *r)
{
	struct mime_envelope *env;
	uint64_t has = get_u(r);
	size_t f;

	if (r->bad || has > 1) {
		r->bad = true;
		return NULL;
	}
	if (has == 0)
		return NULL;
	if ((env = mime_alloc(r->t, sizeof(*env))) == NULL) {
		r->bad = true;
		return NULL;
	}
	for (f = 0; f < MIME_ENV_N && !r->bad; f++) {
		env->field[f] = get_s(r);
		get_addrs(r, env, f);
	}
	return env;
}

static void
get_strings(struct rd *r, struct mime_part *p)
{
	size_t i;

	p->type = get_s(r);
	p->subtype = get_s(r);
	if ((p->type == NULL) != (p->subtype == NULL))
		r->bad = true;
	p->nparams = get_params(r, &p->params);
	p->encoding = get_s(r);
	p->id = get_s(r);
	p->description = get_s(r);
	p->md5 = get_s(r);
	p->location = get_s(r);
	p->disposition = get_s(r);
	p->ndisp_params = get_params(r, &p->disp_params);
	if (p->disposition == NULL && p->ndisp_params > 0)
		r->bad = true;
	p->nlanguages = get_n(r, MIME_PARAMS_MAX, 1);
	if (p->nlanguages > 0 && (p->languages = mime_alloc(r->t,
	    p->nlanguages * sizeof(char *))) == NULL)
		r->bad = true;
	for (i = 0; i < p->nlanguages && !r->bad; i++)
		if ((p->languages[i] = get_s(r)) == NULL)
			r->bad = true;
}

/* Sizes of P, checked against LO..HI, the range its parent gives it. */
static void
get_sizes(struct rd *r, struct mime_part *p, uint64_t lo, uint64_t hi)
{
	p->hdr_off = get_u(r);
	p->hdr_size = get_u(r);
	p->hdr_size_crlf = get_u(r);
	p->hdr_lines = get_u(r);
	p->body_size = get_u(r);
	p->body_size_crlf = get_u(r);
	p->body_lines = get_u(r);
	p->body_off = p->hdr_off + p->hdr_size;
	/* Within the parent, no overflow, CRLF forms at most twice. */
	if (p->hdr_off < lo || p->hdr_off > hi || p->hdr_size > hi -
	    p->hdr_off || p->body_size > hi - p->body_off ||
	    p->hdr_size_crlf < p->hdr_size || p->hdr_size_crlf - p->hdr_size >
	    p->hdr_size || p->body_size_crlf < p->body_size ||
	    p->body_size_crlf - p->body_size > p->body_size ||
	    p->hdr_lines > p->hdr_size || p->body_lines > p->body_size)
		r->bad = true;
}

static struct mime_part *
get_part(struct rd *r, struct mime_part *parent, struct mime_part *prev,
    uint64_t lo, uint64_t hi)
{
	struct mime_part *p, *c = NULL;
	uint64_t flags = get_u(r);
	size_t n, i;

	if (r->bad || flags >= (MIME_PART_DIGEST_CHILD << 1) ||
	    (flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) ==
	    (MIME_PART_MULTIPART | MIME_PART_MESSAGE) ||
	    (p = mime_part_add(r->t, parent, prev)) == NULL ||
	    r->t->nparts > r->parts) {
		r->bad = true;
		return NULL;
	}
	p->flags = (unsigned)flags;
	get_sizes(r, p, lo, hi);
	get_strings(r, p);
	p->env = get_env(r);
	n = get_n(r, MIME_PARTS_MAX, 8);
	if ((n > 0 && (p->depth >= MIME_DEPTH_MAX ||
	    !(p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)))) ||
	    ((p->flags & MIME_PART_MESSAGE) && (n != 1)))
		r->bad = true;
	for (i = 0; i < n && !r->bad; i++) {
		c = get_part(r, p, c, p->body_off, p->body_off +
		    p->body_size);
		if (c != NULL && (p->flags & MIME_PART_MESSAGE) &&
		    c->env == NULL)
			r->bad = true;
	}
	return p;
}

struct mime_tree *
mime_tree_decode(const void *data, size_t len)
{
	const unsigned char *d = data;
	struct rd r = { d, d + len, NULL, 0, false };
	uint64_t h = 0;
	size_t i;

	if (len < 4 + 8 || memcmp(d, MAGIC, 3) != 0 ||
	    d[3] != MIME_CACHE_VERSION)
		return NULL;
	for (i = 0; i < 8; i++)
		h |= (uint64_t)d[len - 8 + i] << (8 * i);
	if (fnv1a(d, len - 8) != h)
		return NULL;
	r.p = d + 4;
	r.end = d + len - 8;
	r.t = mime_tree_new();
	r.t->size = get_u(&r);
	r.t->size_crlf = get_u(&r);
	r.parts = get_n(&r, MIME_PARTS_MAX, 0);
	r.t->truncated = get_u(&r) != 0;
	if (r.parts == 0 || r.t->size_crlf < r.t->size ||
	    r.t->size_crlf - r.t->size > r.t->size)
		r.bad = true;
	if (!r.bad)
		r.t->root = get_part(&r, NULL, NULL, 0, r.t->size);
	if (!r.bad && (r.t->root->hdr_off != 0 || r.t->root->env == NULL ||
	    r.t->nparts != r.parts || r.p != r.end))
		r.bad = true;
	if (r.bad)
		mime_tree_free(&r.t);
	return r.t;
}
