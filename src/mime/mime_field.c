/*
 * mime_field.c - the tree's arena, and the header fields IMAP reports:
 * Content-Type and Content-Disposition with their parameters (RFC 2045
 * 5.1, RFC 2183, RFC 2231 3-4 continuations), the other Content-*
 * fields (RFC 2045, RFC 3282, RFC 2557, RFC 1864) and the envelope
 * fields (RFC 5322 3.6).
 *
 * Values are kept raw, as BODYSTRUCTURE returns them. RFC 2231 pieces
 * are merged the way Dovecot merges them, so that clients see the same
 * strings from both: "name*0", "name*1" become "name"; when any piece
 * is extended ("name*1*") the result is "name*" holding
 * charset'language'percent-encoded, the plain pieces percent-encoded
 * into it. Merged parameters follow the plain ones, by name.
 */
#include "mime/mime_int.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define BLOCK_SIZE	(16 * 1024)

struct mime_block {
	struct mime_block	*next;
	size_t			 used, cap;
	max_align_t		 data[];
};

struct mime_tree *
mime_tree_new(void)
{
	return xcalloc(1, sizeof(struct mime_tree));
}

void
mime_tree_free(struct mime_tree **tp)
{
	struct mime_tree *t = *tp;
	struct mime_block *b, *next;

	if (t == NULL)
		return;
	for (b = t->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(t);
	*tp = NULL;
}

void *
mime_alloc(struct mime_tree *t, size_t n)
{
	struct mime_block *b = t->blocks;
	size_t a = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	void *r;

	if (n > MIME_KEPT_MAX || t->kept + a > MIME_KEPT_MAX) {
		t->truncated = true;
		return NULL;
	}
	if (b == NULL || b->cap - b->used < a) {
		size_t cap = a > BLOCK_SIZE ? a : BLOCK_SIZE;

		b = xmalloc(sizeof(*b) + cap);
		b->used = 0;
		b->cap = cap;
		b->next = t->blocks;
		t->blocks = b;
	}
	r = (char *)b->data + b->used;
	b->used += a;
	t->kept += a;
	memset(r, 0, n);
	return r;
}

char *
mime_strndup(struct mime_tree *t, const char *s, size_t n)
{
	char *r = mime_alloc(t, n + 1);

	if (r != NULL) {
		if (n > 0)
			memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

struct mime_part *
mime_part_add(struct mime_tree *t, struct mime_part *parent,
    struct mime_part *prev)
{
	struct mime_part *p;

	if (t->nparts >= MIME_PARTS_MAX ||
	    (p = mime_alloc(t, sizeof(*p))) == NULL) {
		t->truncated = true;
		return NULL;
	}
	t->nparts++;
	p->parent = parent;
	if (parent != NULL) {
		p->depth = parent->depth + 1;
		if (prev != NULL)
			prev->next = p;
		else
			parent->children = p;
	}
	return p;
}

/* ---- types ---- */

void
mime_part_type(const struct mime_part *p, const char **type_r,
    const char **subtype_r)
{
	if (p->type != NULL) {
		*type_r = p->type;
		*subtype_r = p->subtype;
	} else if (p->flags & MIME_PART_DIGEST_CHILD) {
		*type_r = "message";
		*subtype_r = "rfc822";
	} else {
		*type_r = "text";
		*subtype_r = "plain";
	}
}

bool
mime_part_is(const struct mime_part *p, const char *type,
    const char *subtype)
{
	const char *t, *s;

	mime_part_type(p, &t, &s);
	return strcasecmp(t, type) == 0 &&
	    (subtype == NULL || strcasecmp(s, subtype) == 0);
}

const char *
mime_part_param(const struct mime_part *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nparams; i++)
		if (strcasecmp(p->params[i].name, name) == 0)
			return p->params[i].value;
	return NULL;
}

/* ---- lexing (RFC 2045 5.1 tokens, RFC 5322 CFWS) ---- */

struct lex {
	const char	*p, *end;
};

static bool
is_tspecial(char c)
{
	return c != '\0' && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool
is_token_char(char c)
{
	return (unsigned char)c > ' ' && (unsigned char)c != 0x7f &&
	    !is_tspecial(c);
}

static void
skip_cfws(struct lex *lx)
{
	int depth = 0;

	for (; lx->p < lx->end; lx->p++) {
		char c = *lx->p;

		if (depth > 0 && c == '\\') {
			if (lx->p + 1 < lx->end)
				lx->p++;
		} else if (c == '(') {
			depth++;
		} else if (depth > 0 && c == ')') {
			depth--;
		} else if (depth == 0 && !mime_is_wsp(c)) {
			return;
		}
	}
}

/* A token; its length (0: none). */
static size_t
lex_token(struct lex *lx, const char **s_r)
{
	const char *s = lx->p;

	while (lx->p < lx->end && is_token_char(*lx->p))
		lx->p++;
	*s_r = s;
	return (size_t)(lx->p - s);
}

/* A quoted string at lx->p, unescaped into B. 0, or -1 if unterminated
   (what was read is kept: lenient). */
static int
lex_quoted(struct lex *lx, struct buf *b)
{
	for (lx->p++; lx->p < lx->end; lx->p++) {
		char c = *lx->p;

		if (c == '"') {
			lx->p++;
			return 0;
		}
		if (c == '\\' && lx->p + 1 < lx->end)
			c = *++lx->p;
		if (buf_putc(b, c) == -1)
			return -1;
	}
	return -1;
}

/* A token (maybe empty) or a quoted string into B; what follows up to
   the next ';' is the caller's junk to skip. Dovecot reads values so:
   "a/b" is "a", ",x" is "". 0, or -1 (an unterminated quoted string:
   the parameter is dropped). */
static int
lex_value(struct lex *lx, struct buf *b)
{
	const char *s;
	size_t n;

	buf_reset(b);
	if (lx->p < lx->end && *lx->p == '"')
		return lex_quoted(lx, b);
	n = lex_token(lx, &s);
	return n == 0 ? 0 : buf_append(b, s, n);
}

/* ---- parameters ---- */

struct rawparam {
	char		*name;		/* owned */
	char		*value;
	unsigned	 index;		/* RFC 2231 piece, or UINT_MAX: none */
	bool		 extended;	/* "*" after the index */
	bool		 raw;		/* piece of a broken set: kept as is */
	size_t		 base;		/* name length without "*..." */
	size_t		 order;		/* position in the field */
};

struct paramlist {
	struct rawparam	v[MIME_PARAMS_MAX];
	size_t		n;
};

static void
paramlist_free(struct paramlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	l->n = 0;
}

/* Splits "name*3*" into its base, index and extended flag. */
static void
rfc2231_split(struct rawparam *r)
{
	char *star = strchr(r->name, '*');
	uint64_t idx;
	size_t digits;

	r->index = UINT32_MAX;
	r->extended = false;
	r->base = strlen(r->name);
	if (star == NULL || star == r->name)
		return;
	digits = strspn(star + 1, "0123456789");
	if (star[1] == '\0') {
		/* "title*=us-ascii'en'x": one extended piece. */
		r->base = (size_t)(star - r->name);
		r->index = 0;
		r->extended = true;
	} else if (digits > 0 && digits <= 3 &&
	    (star[1] != '0' || digits == 1) &&
	    (star[1 + digits] == '\0' ||
	    (star[1 + digits] == '*' && star[2 + digits] == '\0')) &&
	    str_to_uint_n(star + 1, digits, 0, 999, &idx) == 0) {
		r->base = (size_t)(star - r->name);
		r->index = (unsigned)idx;
		r->extended = star[1 + digits] == '*';
	}
}

/* Reads ";name=value" pairs up to the end of LX into L. */
static void
parse_params(struct lex *lx, struct paramlist *l)
{
	struct buf v;
	const char *name;
	size_t nlen;

	buf_init(&v, MIME_FIELD_MAX);
	while (l->n < nitems(l->v)) {
		skip_cfws(lx);
		if (lx->p >= lx->end)
			break;
		if (*lx->p != ';') {
			/* Junk: skip to the next ';', as Dovecot does. */
			while (lx->p < lx->end && *lx->p != ';')
				lx->p++;
			continue;
		}
		lx->p++;
		skip_cfws(lx);
		nlen = lex_token(lx, &name);	/* an empty name is one */
		skip_cfws(lx);
		if (lx->p >= lx->end || *lx->p != '=') {
			/* No value: this ';' and what follows up to the
			   next one are skipped (Dovecot: "a; b=c" has
			   none, "; ;; =x" has "" = "x"). */
			if (lx->p < lx->end)
				lx->p++;
			while (lx->p < lx->end && *lx->p != ';')
				lx->p++;
			continue;
		}
		lx->p++;
		skip_cfws(lx);
		/* "n=" at the end is n with an empty value (Dovecot). */
		buf_reset(&v);
		if (lx->p < lx->end && lex_value(lx, &v) == -1)
			continue;
		l->v[l->n].name = xstrndup(name, nlen);
		l->v[l->n].value = xstrndup(v.len ? v.data : "", v.len);
		rfc2231_split(&l->v[l->n]);
		l->v[l->n].order = l->n;
		l->n++;
	}
	buf_free(&v);
}

static bool
is_attr_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '*' && c != '\'' && c != '%' &&
	    !is_tspecial((char)c);
}

/* Appends S to B percent-encoded where it is not an attribute-char. */
static void
pct_encode(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (is_attr_char((unsigned char)*s))
			(void)buf_putc(b, *s);
		else
			(void)buf_printf(b, "%%%02X", (unsigned char)*s);
	}
}

static int
cmp_piece(const void *a, const void *b)
{
	const struct rawparam *x = *(const struct rawparam *const *)a;
	const struct rawparam *y = *(const struct rawparam *const *)b;
	int c = strncmp(x->name, y->name, x->base < y->base ? x->base :
	    y->base);

	if (c == 0 && x->base != y->base)
		c = x->base < y->base ? -1 : 1;
	if (c == 0 && x->index != y->index)
		c = x->index < y->index ? -1 : 1;
	if (c == 0 && x->order != y->order)
		c = x->order < y->order ? -1 : 1;
	return c;
}

static bool
same_base(const struct rawparam *a, const struct rawparam *b)
{
	return a->base == b->base && strncmp(a->name, b->name, a->base) == 0;
}

/* The pieces of a set are merged only when they are exactly 0..n-1;
   a set with a gap or a twice-given piece stays as written (Dovecot). */
static void
mark_broken_sets(struct rawparam **pc, size_t np)
{
	size_t i, j, k;

	for (i = 0; i < np; i = j) {
		bool ok = true;

		for (j = i; j < np && same_base(pc[j], pc[i]); j++)
			if (pc[j]->index != j - i)
				ok = false;
		for (k = i; !ok && k < j; k++)
			pc[k]->raw = true;
	}
}

/* Merges the pieces PC[0..N) of one base name (indexes 0..N-1) into
   NAME and VAL. */
static void
merge_pieces(struct rawparam **pc, size_t n, struct buf *name,
    struct buf *val)
{
	bool ext = false;
	size_t i;

	for (i = 0; i < n; i++)
		ext = ext || pc[i]->extended;
	buf_reset(name);
	buf_reset(val);
	(void)buf_append(name, pc[0]->name, pc[0]->base);
	if (ext) {
		(void)buf_putc(name, '*');
		if (!pc[0]->extended)
			(void)buf_append_str(val, "''");
	}
	for (i = 0; i < n; i++) {
		if (ext && !pc[i]->extended)
			pct_encode(val, pc[i]->value);
		else
			(void)buf_append_str(val, pc[i]->value);
	}
}

static bool
keep_param(struct mime_tree *t, struct mime_param *out, const char *name,
    size_t nlen, const char *value, size_t vlen)
{
	out->name = mime_strndup(t, name, nlen);
	out->value = mime_strndup(t, value, vlen);
	return out->name != NULL && out->value != NULL;
}

/* The parameters of L, RFC 2231 pieces merged, in T's arena. */
static size_t
finish_params(struct mime_tree *t, struct paramlist *l,
    struct mime_param **r)
{
	struct rawparam *pieces[MIME_PARAMS_MAX];
	struct mime_param *out;
	struct buf name, val;
	size_t i, j, n = 0, np = 0;

	*r = NULL;
	if (l->n == 0 || (out = mime_alloc(t, l->n * sizeof(*out))) == NULL)
		return 0;
	for (i = 0; i < l->n; i++)
		if (l->v[i].index != UINT32_MAX)
			pieces[np++] = &l->v[i];
	qsort(pieces, np, sizeof(pieces[0]), cmp_piece);
	mark_broken_sets(pieces, np);
	/* Plain parameters and broken pieces in their order, then the
	   merged sets by name. */
	for (i = 0; i < l->n; i++)
		if ((l->v[i].index == UINT32_MAX || l->v[i].raw) &&
		    keep_param(t, &out[n], l->v[i].name,
		    strlen(l->v[i].name), l->v[i].value,
		    strlen(l->v[i].value)))
			n++;
	buf_init(&name, BUF_UNLIMITED);
	buf_init(&val, BUF_UNLIMITED);
	for (i = 0; i < np; i = j) {
		for (j = i + 1; j < np && same_base(pieces[j], pieces[i]); j++)
			;
		if (pieces[i]->raw)
			continue;
		merge_pieces(pieces + i, j - i, &name, &val);
		if (keep_param(t, &out[n], buf_cstr(&name), name.len,
		    buf_cstr(&val), val.len))
			n++;
	}
	buf_free(&name);
	buf_free(&val);
	*r = out;
	return n;
}

/* "type/subtype; params" (Content-Type). */
static void
parse_content_type(struct mime_tree *t, struct mime_part *p,
    const char *s, size_t len)
{
	struct lex lx = { s, s + len };
	struct paramlist *l;
	const char *ty, *sub = "";
	size_t tlen, slen = 0;

	/* "type" alone is a type with an empty subtype; anything else
	   but "type/subtype" before the first ';' is unparsable, an empty
	   type (not the default) without parameters, as Dovecot has it. */
	skip_cfws(&lx);
	if ((tlen = lex_token(&lx, &ty)) == 0)
		goto bad;
	skip_cfws(&lx);
	if (lx.p < lx.end) {
		if (*lx.p != '/')
			goto bad;
		lx.p++;
		skip_cfws(&lx);
		if ((slen = lex_token(&lx, &sub)) == 0)
			goto bad;
		skip_cfws(&lx);
		if (lx.p < lx.end && *lx.p != ';')
			goto bad;
	}
	p->type = mime_strndup(t, ty, tlen);
	p->subtype = mime_strndup(t, sub, slen);
	if (p->type == NULL || p->subtype == NULL) {
		p->type = p->subtype = NULL;
		return;
	}
	l = xcalloc(1, sizeof(*l));
	parse_params(&lx, l);
	p->nparams = finish_params(t, l, &p->params);
	paramlist_free(l);
	free(l);
	return;
bad:
	p->type = p->subtype = "";
}

static void
parse_disposition(struct mime_tree *t, struct mime_part *p,
    const char *s, size_t len)
{
	struct lex lx = { s, s + len };
	struct paramlist *l;
	const char *d;
	size_t dlen;

	skip_cfws(&lx);
	if ((dlen = lex_token(&lx, &d)) == 0 ||
	    (p->disposition = mime_strndup(t, d, dlen)) == NULL)
		return;
	l = xcalloc(1, sizeof(*l));
	parse_params(&lx, l);
	p->ndisp_params = finish_params(t, l, &p->disp_params);
	paramlist_free(l);
	free(l);
}

/* Content-Language: a list of tags (RFC 3282), up to the first thing
   that is not one (Dovecot's reading: "en, fr; x" is en and fr). */
static void
parse_language(struct mime_tree *t, struct mime_part *p, const char *s,
    size_t len)
{
	struct lex lx = { s, s + len };
	const char *tags[MIME_PARAMS_MAX], *tag;
	size_t lens[MIME_PARAMS_MAX], n = 0, i, tlen;

	while (n < nitems(tags)) {
		skip_cfws(&lx);
		if ((tlen = lex_token(&lx, &tag)) == 0)
			break;
		tags[n] = tag;
		lens[n++] = tlen;
		skip_cfws(&lx);
		if (lx.p >= lx.end || *lx.p != ',')
			break;
		lx.p++;
	}
	if (n == 0 || (p->languages = mime_alloc(t, n * sizeof(char *))) ==
	    NULL)
		return;
	for (i = 0; i < n; i++)
		if ((p->languages[p->nlanguages] = mime_strndup(t, tags[i],
		    lens[i])) != NULL)
			p->nlanguages++;
}

/* Subject as Dovecot returns it: white space runs as one space, none at
   either end. */
static const char *
keep_collapsed(struct mime_tree *t, const char *s, size_t len)
{
	char *r = mime_alloc(t, len + 1);
	size_t i, o = 0;

	if (r == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (!mime_is_wsp(s[i]))
			r[o++] = s[i];
		else if (o > 0 && r[o - 1] != ' ')
			r[o++] = ' ';
	}
	if (o > 0 && r[o - 1] == ' ')
		o--;
	r[o] = '\0';
	return r;
}

/* Parses V and appends its addresses to field F's. */
static void
add_addresses(struct mime_tree *t, struct mime_envelope *env,
    enum mime_env_field f, const char *v, size_t vlen)
{
	struct mime_addr *a, *all;
	size_t n = mime_addr_parse(t, v, vlen, &a);

	if (n == 0)
		return;
	if (env->naddrs[f] == 0) {
		env->addrs[f] = a;
		env->naddrs[f] = n;
		return;
	}
	if (env->naddrs[f] + n > MIME_ADDRS_MAX || (all = mime_alloc(t,
	    (env->naddrs[f] + n) * sizeof(*all))) == NULL) {
		t->truncated = true;
		return;
	}
	memcpy(all, env->addrs[f], env->naddrs[f] * sizeof(*all));
	memcpy(all + env->naddrs[f], a, n * sizeof(*all));
	env->addrs[f] = all;
	env->naddrs[f] += n;
}

static const struct {
	const char		*name;
	enum mime_env_field	 field;
	bool			 addresses;
} env_fields[] = {
	{ "date", MIME_ENV_DATE, false },
	{ "subject", MIME_ENV_SUBJECT, false },
	{ "from", MIME_ENV_FROM, true },
	{ "sender", MIME_ENV_SENDER, true },
	{ "reply-to", MIME_ENV_REPLY_TO, true },
	{ "to", MIME_ENV_TO, true },
	{ "cc", MIME_ENV_CC, true },
	{ "bcc", MIME_ENV_BCC, true },
	{ "in-reply-to", MIME_ENV_IN_REPLY_TO, false },
	{ "message-id", MIME_ENV_MESSAGE_ID, false },
};

static void
apply_envelope(struct mime_tree *t, struct mime_envelope *env,
    const char *name, size_t nlen, const char *v, size_t vlen)
{
	size_t i;

	for (i = 0; i < nitems(env_fields); i++) {
		enum mime_env_field f = env_fields[i].field;

		if (strlen(env_fields[i].name) != nlen ||
		    strncasecmp(env_fields[i].name, name, nlen) != 0)
			continue;
		/* Repeated fields: the last text, all the addresses
		   (Dovecot's reading; RFC 5322 3.6 allows one). */
		env->field[f] = f == MIME_ENV_SUBJECT ?
		    keep_collapsed(t, v, vlen) : mime_strndup(t, v, vlen);
		if (env_fields[i].addresses && env->field[f] != NULL)
			add_addresses(t, env, f, v, vlen);
		return;
	}
}

/* Content-Transfer-Encoding: its token. */
static const char *
keep_token(struct mime_tree *t, const char *s, size_t len)
{
	struct lex lx = { s, s + len };
	const char *tok;
	size_t n;

	skip_cfws(&lx);
	n = lex_token(&lx, &tok);
	return n == 0 ? NULL : mime_strndup(t, tok, n);
}

/* Whether NAME is "content-" SUFFIX (case-insensitive). */
static bool
is_content(const char *name, size_t nlen, const char *suffix)
{
	size_t sl = strlen(suffix);

	return nlen == 8 + sl && strncasecmp(name, "content-", 8) == 0 &&
	    strncasecmp(name + 8, suffix, sl) == 0;
}

void
mime_field_end(struct mime_part *p, unsigned seen)
{
	if (p->env == NULL || (seen & (MIME_SEEN_CT | MIME_SEEN_MIMEVER)))
		return;
	p->encoding = p->id = p->description = p->md5 = p->location = NULL;
	p->disposition = NULL;
	p->ndisp_params = p->nlanguages = 0;
}

void
mime_field_apply(struct mime_tree *t, struct mime_part *p, unsigned *seen,
    const char *name, size_t nlen, const char *v, size_t vlen)
{
	static const struct {
		const char	*suffix;
		unsigned	 seen;
	} kinds[] = {
		{ "type", MIME_SEEN_CT },
		{ "transfer-encoding", MIME_SEEN_CTE },
		{ "id", MIME_SEEN_ID }, { "description", MIME_SEEN_DESC },
		{ "disposition", MIME_SEEN_DISP },
		{ "language", MIME_SEEN_LANG }, { "location", MIME_SEEN_LOC },
		{ "md5", MIME_SEEN_MD5 },
	};
	size_t i;

	if (p->env != NULL) {
		apply_envelope(t, p->env, name, nlen, v, vlen);
		if (nlen == 12 && strncasecmp(name, "mime-version", 12) == 0)
			*seen |= MIME_SEEN_MIMEVER;
	}
	for (i = 0; i < nitems(kinds); i++)
		if (is_content(name, nlen, kinds[i].suffix))
			break;
	if (i == nitems(kinds) || (*seen & kinds[i].seen))
		return;
	*seen |= kinds[i].seen;
	switch (kinds[i].seen) {
	case MIME_SEEN_CT:
		parse_content_type(t, p, v, vlen);
		break;
	case MIME_SEEN_CTE:
		p->encoding = keep_token(t, v, vlen);
		break;
	case MIME_SEEN_ID:
		p->id = mime_strndup(t, v, vlen);
		break;
	case MIME_SEEN_DESC:
		p->description = mime_strndup(t, v, vlen);
		break;
	case MIME_SEEN_DISP:
		parse_disposition(t, p, v, vlen);
		break;
	case MIME_SEEN_LANG:
		parse_language(t, p, v, vlen);
		break;
	case MIME_SEEN_LOC:
		p->location = mime_strndup(t, v, vlen);
		break;
	default:
		p->md5 = mime_strndup(t, v, vlen);
		break;
	}
}
