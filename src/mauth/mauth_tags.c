/*
 * mauth_tags.c - tag=value lists (RFC 6376 section 3.2), the syntax of
 * DKIM signatures and keys, ARC seals and DMARC records:
 *
 *   tag-list  = tag-spec *( ";" tag-spec ) [ ";" ]
 *   tag-spec  = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 *   tag-name  = ALPHA *ALNUMPUNC   (ALNUMPUNC: ALPHA / DIGIT / "_")
 *   tag-value = [ tval *( 1*(WSP / FWS) tval ) ]
 *   tval      = 1*VALCHAR          (VALCHAR: %x21-3A / %x3C-7E)
 */
#include <string.h>

#include "mauth/mauth.h"

static bool
is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_valchar(char c)
{
	return c >= 0x21 && c <= 0x7e && c != ';';
}

/* One tag-spec in [P, END): into T. */
static int
one_tag(const char *s, const char *p, const char *end, struct mauth_tag *t,
    const char **err_r)
{
	const char *q;

	while (p < end && is_fws(*p))
		p++;
	if (p == end || !is_alpha(*p)) {
		*err_r = "a tag name must start with a letter";
		return -1;
	}
	t->name = p;
	while (p < end && (is_alpha(*p) || (*p >= '0' && *p <= '9') ||
	    *p == '_'))
		p++;
	t->nlen = (size_t)(p - t->name);
	while (p < end && is_fws(*p))
		p++;
	if (p == end || *p != '=') {
		*err_r = "a tag name must be followed by '='";
		return -1;
	}
	p++;
	while (p < end && is_fws(*p))
		p++;
	t->val = p;
	t->voff = (size_t)(p - s);
	for (q = end; q > p && is_fws(q[-1]); q--)
		;
	t->vlen = (size_t)(q - p);
	for (; p < q; p++)
		if (!is_valchar(*p) && !is_fws(*p)) {
			*err_r = "a tag value holds a character it may not";
			return -1;
		}
	return 0;
}

int
mauth_tags_parse(const char *s, size_t len, struct mauth_tags *tags,
    const char **err_r)
{
	const char *p = s, *end = s + len, *semi;
	size_t i;

	tags->n = 0;
	while (p < end) {
		const char *q;

		semi = memchr(p, ';', (size_t)(end - p));
		if (semi == NULL)
			semi = end;
		for (q = p; q < semi && is_fws(*q); q++)
			;
		if (q == semi) {
			/* Only blanks: allowed as the end ("a=b;"). */
			if (semi != end) {
				for (q = semi + 1; q < end && is_fws(*q); q++)
					;
				if (q != end) {
					*err_r = "an empty tag";
					return -1;
				}
			}
			break;
		}
		if (tags->n == MAUTH_TAGS_MAX) {
			*err_r = "too many tags";
			return -1;
		}
		if (one_tag(s, p, semi, &tags->t[tags->n], err_r) == -1)
			return -1;
		for (i = 0; i < tags->n; i++)
			if (tags->t[i].nlen == tags->t[tags->n].nlen &&
			    memcmp(tags->t[i].name, tags->t[tags->n].name,
			    tags->t[i].nlen) == 0) {
				*err_r = "a tag appears twice";
				return -1;
			}
		tags->n++;
		p = semi == end ? end : semi + 1;
	}
	return 0;
}

const struct mauth_tag *
mauth_tag(const struct mauth_tags *tags, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < tags->n; i++)
		if (tags->t[i].nlen == n && memcmp(tags->t[i].name, name,
		    n) == 0)
			return &tags->t[i];
	return NULL;
}

void
mauth_tag_compact(const struct mauth_tag *t, struct buf *out)
{
	size_t i;

	for (i = 0; i < t->vlen; i++)
		if (!is_fws(t->val[i]))
			(void)buf_putc(out, t->val[i]);
}
