/*
 * mauth_arc.c - the ARC chain (RFC 8617): its sets found and their
 * structure checked (section 5.2 steps 1 to 3), then the signatures to
 * check handed to mauth_sig_verify (the last ARC-Message-Signature and
 * every ARC-Seal), then the chain's result.
 */
#include <string.h>

#include "mauth/mauth_int.h"
#include "util/str.h"

static void
broken(struct mauth_msg *m, const char *why)
{
	if (m->arc_error[0] == '\0')
		(void)str_copy(m->arc_error, why, sizeof(m->arc_error));
}

/* The instance of an ARC field: i= of a seal or signature, or the
   leading "i=N;" of ARC-Authentication-Results (4.1.1). 0: none. */
static unsigned
instance_of(const struct dkim_field *f)
{
	const char *colon = memchr(f->p, ':', f->n), *p, *end = f->p + f->n;
	unsigned v = 0;

	if (colon == NULL)
		return 0;
	for (p = colon + 1; p < end; p++) {
		/* "i" "=" at a tag start: after the colon or a ';' */
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			continue;
		if (*p != 'i')
			return 0;
		break;
	}
	if (p == end)
		return 0;	/* only blanks after the colon */
	for (p++; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	if (p == end || *p++ != '=')
		return 0;
	for (; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	for (; p < end && *p >= '0' && *p <= '9' && v <= MAUTH_ARC_MAX; p++)
		v = v * 10 + (unsigned)(*p - '0');
	return v <= MAUTH_ARC_MAX ? v : 0;
}

/* i= may be anywhere in a seal or signature: their tag lists. */
static unsigned
sig_instance(const struct dkim_field *f)
{
	const char *colon = memchr(f->p, ':', f->n), *err;
	struct mauth_tags tags;
	const struct mauth_tag *t;
	unsigned v = 0;
	size_t i;

	if (colon == NULL || mauth_tags_parse(colon + 1,
	    (size_t)(f->p + f->n - colon - 1), &tags, &err) == -1 ||
	    (t = mauth_tag(&tags, "i")) == NULL || t->vlen > 2)
		return 0;
	for (i = 0; i < t->vlen; i++) {
		if (t->val[i] < '0' || t->val[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(t->val[i] - '0');
	}
	return v <= MAUTH_ARC_MAX ? v : 0;
}

/* Files field K as part KIND of its instance. */
static void
file_field(struct mauth_msg *m, size_t k, int kind)
{
	unsigned i = kind == 0 ? instance_of(&m->f[k]) :
	    sig_instance(&m->f[k]);
	size_t *slot;

	m->arc_seen = true;
	if (i == 0) {
		broken(m, "an ARC field without a valid i=");
		return;
	}
	slot = kind == 0 ? &m->arc[i].aar : kind == 1 ? &m->arc[i].ams :
	    &m->arc[i].as;
	if (*slot != SIZE_MAX) {
		broken(m, "two ARC fields of one kind in an instance");
		return;
	}
	*slot = k;
	if (i > m->narc)
		m->narc = i;
}

static void
add_sig(struct mauth_msg *m, size_t field, enum mauth_sig_kind kind)
{
	if (m->nsigs == MAUTH_SIGS_MAX)
		return;
	(void)mauth_sig_parse(m, field, kind, &m->sigs[m->nsigs],
	    &m->st[m->nsigs]);
	m->nsigs++;
}

void
mauth_arc_scan(struct mauth_msg *m)
{
	size_t k;
	unsigned i;

	for (i = 0; i <= MAUTH_ARC_MAX; i++)
		m->arc[i].aar = m->arc[i].ams = m->arc[i].as = SIZE_MAX;
	for (k = 0; k < m->nf; k++) {
		if (dkim_field_is(&m->f[k], "ARC-Authentication-Results"))
			file_field(m, k, 0);
		else if (dkim_field_is(&m->f[k], "ARC-Message-Signature"))
			file_field(m, k, 1);
		else if (dkim_field_is(&m->f[k], "ARC-Seal"))
			file_field(m, k, 2);
	}
	if (!m->arc_seen || m->arc_error[0] != '\0')
		return;
	for (i = 1; i <= m->narc; i++)
		if (m->arc[i].aar == SIZE_MAX || m->arc[i].ams == SIZE_MAX ||
		    m->arc[i].as == SIZE_MAX) {
			broken(m, "an ARC instance is incomplete or missing");
			return;
		}
	m->arc_first = m->nsigs;
	add_sig(m, m->arc[m->narc].ams, MAUTH_SIG_AMS);
	for (i = m->narc; i >= 1; i--)
		add_sig(m, m->arc[i].as, MAUTH_SIG_AS);
}

enum mauth_result
mauth_arc_result(const struct mauth_msg *m, unsigned *instances_r,
    char err[MAUTH_ERROR_MAX])
{
	size_t k;

	*instances_r = m->narc;
	err[0] = '\0';
	if (!m->arc_seen)
		return MAUTH_NONE;
	if (m->arc_error[0] != '\0') {
		(void)str_copy(err, m->arc_error, MAUTH_ERROR_MAX);
		return MAUTH_FAIL;
	}
	for (k = m->arc_first; k < m->nsigs; k++) {
		const struct mauth_sig *s = &m->sigs[k];
		const struct sig_state *st = &m->st[k];

		/* Step 2 and 3: the newest seal says fail, or a seal's
		   cv= does not fit its place. */
		if (s->kind == MAUTH_SIG_AS && s->result != MAUTH_PERMERROR &&
		    ((s->instance == m->narc && st->cv_fail) ||
		    (s->instance == 1) != st->cv_none)) {
			(void)str_copy(err, st->cv_fail ? "the chain was "
			    "sealed as failed (cv=fail)" : "an ARC-Seal's cv= "
			    "does not fit its instance", MAUTH_ERROR_MAX);
			return MAUTH_FAIL;
		}
		if (s->result != MAUTH_PASS) {
			(void)snprintf(err, MAUTH_ERROR_MAX, "%s i=%u: %s",
			    s->kind == MAUTH_SIG_AS ? "ARC-Seal" :
			    "ARC-Message-Signature", s->instance, s->error);
			return MAUTH_FAIL;
		}
	}
	return MAUTH_PASS;
}
