/*
 * imap_parse_fetch.c - the arguments of FETCH and STORE: fetch
 * attributes and macros, section specifications and partial ranges
 * (RFC 9051 6.4.5, 9), BINARY (RFC 3516), MODSEQ, CHANGEDSINCE, VANISHED
 * and UNCHANGEDSINCE (RFC 7162), and the STORE flag actions (6.4.6).
 */
#include <strings.h>

#include "imap/imap_parse_int.h"
#include "util/compat.h"

/* How an attribute takes a section. */
enum sect {
	SECT_NONE,		/* never */
	SECT_OPTIONAL,		/* BODY, and BODY[...] */
	SECT_REQUIRED,		/* BODY.PEEK[...] */
	SECT_BINARY,		/* BINARY[part]: part numbers only */
};

static const struct fetch_def {
	const char	*name;
	enum imap_fetch_kind kind;
	enum sect	 sect;
	bool		 peek;
	bool		 partial;	/* <offset.length> may follow */
} fetch_defs[] = {
	{ "ENVELOPE", IMAP_FETCH_ENVELOPE, SECT_NONE, false, false },
	{ "FLAGS", IMAP_FETCH_FLAGS, SECT_NONE, false, false },
	{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE, SECT_NONE, false, false },
	{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE, SECT_NONE, false, false },
	{ "BODY", IMAP_FETCH_BODY, SECT_OPTIONAL, false, true },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE, SECT_NONE, false,
	    false },
	{ "UID", IMAP_FETCH_UID, SECT_NONE, false, false },
	{ "MODSEQ", IMAP_FETCH_MODSEQ, SECT_NONE, false, false },
	{ "RFC822", IMAP_FETCH_RFC822, SECT_NONE, false, false },
	{ "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER, SECT_NONE, false,
	    false },
	{ "RFC822.TEXT", IMAP_FETCH_RFC822_TEXT, SECT_NONE, false, false },
	{ "BODY.PEEK", IMAP_FETCH_BODY_SECTION, SECT_REQUIRED, true, true },
	{ "BINARY", IMAP_FETCH_BINARY, SECT_BINARY, false, true },
	{ "BINARY.PEEK", IMAP_FETCH_BINARY, SECT_BINARY, true, true },
	{ "BINARY.SIZE", IMAP_FETCH_BINARY_SIZE, SECT_BINARY, false, false },
};

const char *
imap_fetch_att_name(enum imap_fetch_kind kind, bool peek)
{
	size_t i;

	for (i = 0; i < nitems(fetch_defs); i++)
		if (fetch_defs[i].kind == kind && fetch_defs[i].peek == peek)
			return fetch_defs[i].name;
	/* BODY[...] is the BODY row with a section. */
	return kind == IMAP_FETCH_BODY_SECTION ? "BODY" : "";
}

/* The macros (RFC 9051 6.4.5), expanded. */
static const enum imap_fetch_kind macro_all[] = {
	IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY,
};

/* section-part = nz-number *("." nz-number); stops before a "." that
   is not followed by a digit (the section-text after the part). */
static int
section_parts(struct imap_parser *p, struct imap_section *s)
{
	struct imap_vec v = { 0 };
	uint32_t *part;
	uint64_t n;

	for (;;) {
		if ((part = imap_vec_push(p, &v, sizeof(*part),
		    IMAP_PARTS_MAX, "section parts")) == NULL ||
		    imap_lex_number(p, 1, IMAP_NUM32_MAX, &n,
		    "section part") == -1)
			return -1;
		*part = (uint32_t)n;
		if (imap_peek(p) != '.' || p->pos + 1 >= p->len ||
		    p->in[p->pos + 1] < '0' || p->in[p->pos + 1] > '9')
			break;
		p->pos++;
	}
	s->part = v.v;
	s->nparts = v.n;
	return 0;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")" */
static int
header_list(struct imap_parser *p, struct imap_section *s)
{
	struct imap_vec v = { 0 };
	struct imap_str *f;

	if (imap_sp(p, "header field list") == -1 ||
	    imap_expect(p, '(', "header field list") == -1)
		return -1;
	do {
		if (v.n > 0 && imap_sp(p, "header field name") == -1)
			return -1;
		if ((f = imap_vec_push(p, &v, sizeof(*f), IMAP_LIST_MAX,
		    "header fields")) == NULL ||
		    imap_lex_astring(p, f, "header field name") == -1)
			return -1;
	} while (!imap_accept(p, ')'));
	s->field = v.v;
	s->nfields = v.n;
	return 0;
}

static const struct {
	const char	*name;
	enum imap_section_text text;
} section_texts[] = {
	{ "HEADER", IMAP_SECTION_HEADER },
	{ "HEADER.FIELDS", IMAP_SECTION_HEADER_FIELDS },
	{ "HEADER.FIELDS.NOT", IMAP_SECTION_HEADER_FIELDS_NOT },
	{ "TEXT", IMAP_SECTION_TEXT },
	{ "MIME", IMAP_SECTION_MIME },
};

const char *
imap_section_text_name(enum imap_section_text text)
{
	size_t i;

	for (i = 0; i < nitems(section_texts); i++)
		if (section_texts[i].text == text)
			return section_texts[i].name;
	return "";
}

/* section-msgtext / "MIME" after a part */
static int
section_text(struct imap_parser *p, struct imap_section *s)
{
	struct imap_span sp;
	size_t i;

	if (imap_lex_atom(p, "[<", &sp, "section") == -1)
		return -1;
	for (i = 0; i < nitems(section_texts); i++)
		if (imap_span_is(&sp, section_texts[i].name))
			break;
	if (i == nitems(section_texts) ||
	    (section_texts[i].text == IMAP_SECTION_MIME && s->nparts == 0))
		return imap_perr_word(p, "unknown section %s", sp.s, sp.len);
	s->text = section_texts[i].text;
	if (s->text == IMAP_SECTION_HEADER_FIELDS ||
	    s->text == IMAP_SECTION_HEADER_FIELDS_NOT)
		return header_list(p, s);
	return 0;
}

/* section = "[" [section-spec] "]"; section-binary = "[" [section-part]
   "]" */
static int
section(struct imap_parser *p, struct imap_section *s, bool binary)
{
	int c;

	if (imap_expect(p, '[', "section") == -1)
		return -1;
	if (imap_accept(p, ']'))
		return 0;
	c = imap_peek(p);
	if (c >= '0' && c <= '9') {
		if (section_parts(p, s) == -1)
			return -1;
		if (!binary && imap_accept(p, '.') &&
		    section_text(p, s) == -1)
			return -1;
	} else if (binary) {
		return imap_perr(p, IMAP_ERRC_NONE,
		    "BINARY takes part numbers only");
	} else if (section_text(p, s) == -1) {
		return -1;
	}
	return imap_expect(p, ']', "end of section");
}

/* partial = "<" number64 "." nz-number64 ">" */
static int
partial(struct imap_parser *p, struct imap_fetch_att *a)
{
	if (!imap_accept(p, '<'))
		return 0;
	if (imap_lex_number(p, 0, IMAP_NUM64_MAX, &a->offset,
	    "partial offset") == -1 ||
	    imap_expect(p, '.', "partial length") == -1 ||
	    imap_lex_number(p, 1, IMAP_NUM64_MAX, &a->length,
	    "partial length") == -1 ||
	    imap_expect(p, '>', "end of partial") == -1)
		return -1;
	a->partial = true;
	return 0;
}

static int
fetch_att(struct imap_parser *p, struct imap_vec *v)
{
	const struct fetch_def *d = NULL;
	struct imap_fetch_att *a;
	struct imap_span sp;
	size_t i;

	if (imap_lex_atom(p, "[", &sp, "FETCH attribute") == -1)
		return -1;
	for (i = 0; i < nitems(fetch_defs); i++)
		if (imap_span_is(&sp, fetch_defs[i].name))
			d = &fetch_defs[i];
	if (d == NULL)
		return imap_perr_word(p, "unknown FETCH attribute %s", sp.s,
		    sp.len);
	if ((a = imap_vec_push(p, v, sizeof(*a), IMAP_FETCH_ATTS_MAX,
	    "FETCH attributes")) == NULL)
		return -1;
	memset(a, 0, sizeof(*a));
	a->kind = d->kind;
	a->peek = d->peek;
	if (d->sect == SECT_NONE || (d->sect == SECT_OPTIONAL &&
	    imap_peek(p) != '['))
		return 0;
	if (d->sect == SECT_OPTIONAL)
		a->kind = IMAP_FETCH_BODY_SECTION;
	if (section(p, &a->section, d->sect == SECT_BINARY) == -1)
		return -1;
	return d->partial ? partial(p, a) : 0;
}

static int
fetch_macro(struct imap_parser *p, struct imap_fetch *f,
    const struct imap_span *sp)
{
	struct imap_fetch_att *a;
	size_t n, i;

	if (imap_span_is(sp, "ALL")) {
		f->macro = IMAP_FETCH_MACRO_ALL;
		n = 4;
	} else if (imap_span_is(sp, "FAST")) {
		f->macro = IMAP_FETCH_MACRO_FAST;
		n = 3;
	} else if (imap_span_is(sp, "FULL")) {
		f->macro = IMAP_FETCH_MACRO_FULL;
		n = 5;
	} else {
		return 1;
	}
	if ((a = imap_arena_alloc(p, n * sizeof(*a))) == NULL)
		return -1;
	memset(a, 0, n * sizeof(*a));
	for (i = 0; i < n; i++)
		a[i].kind = macro_all[i];
	f->att = a;
	f->natts = n;
	return 0;
}

/* fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")" */
static int
fetch_modifiers(struct imap_parser *p, struct imap_fetch *f)
{
	struct imap_span sp;
	size_t n = 0;

	if (imap_sp(p, "FETCH modifiers") == -1 ||
	    imap_expect(p, '(', "FETCH modifiers") == -1)
		return -1;
	do {
		if (n++ > 0 && imap_sp(p, "FETCH modifier") == -1)
			return -1;
		if (imap_lex_atom(p, NULL, &sp, "FETCH modifier") == -1)
			return -1;
		if (imap_span_is(&sp, "CHANGEDSINCE") && !f->changedsince_set) {
			if (imap_sp(p, "mod-sequence") == -1 ||
			    imap_lex_number(p, 0, IMAP_NUM64_MAX,
			    &f->changedsince, "mod-sequence") == -1)
				return -1;
			f->changedsince_set = true;
		} else if (imap_span_is(&sp, "VANISHED") && !f->vanished) {
			f->vanished = true;
		} else {
			return imap_perr_word(p, "bad FETCH modifier %s",
			    sp.s, sp.len);
		}
	} while (!imap_accept(p, ')'));
	/* RFC 7162 3.2.6: VANISHED only in UID FETCH, with CHANGEDSINCE. */
	if (f->vanished && (!p->cmd.uid || !f->changedsince_set))
		return imap_perr(p, IMAP_ERRC_NONE,
		    "VANISHED needs UID FETCH and CHANGEDSINCE");
	return 0;
}

/* FETCH seq SP ("ALL" / "FULL" / "FAST" / fetch-att /
   "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers] */
int
imap_args_fetch(struct imap_parser *p)
{
	struct imap_fetch *f = &p->cmd.fetch;
	struct imap_vec v = { 0 };
	struct imap_span sp;
	size_t save = p->pos;
	int r;

	if (imap_peek(p) == '(') {
		p->pos++;
		do {
			if (v.n > 0 && imap_sp(p, "FETCH attribute") == -1)
				return -1;
			if (fetch_att(p, &v) == -1)
				return -1;
		} while (!imap_accept(p, ')'));
	} else if (imap_lex_atom(p, "[", &sp, "FETCH attributes") == -1) {
		return -1;
	} else if ((r = fetch_macro(p, f, &sp)) == -1) {
		return -1;
	} else if (r == 1) {
		p->pos = save;
		if (fetch_att(p, &v) == -1)
			return -1;
	}
	if (f->macro == IMAP_FETCH_NO_MACRO) {
		f->att = v.v;
		f->natts = v.n;
	}
	if (imap_peek(p) == ' ')
		return fetch_modifiers(p, f);
	return 0;
}

/* ---- STORE ---- */

/* store-modifiers = SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")" */
static int
store_modifiers(struct imap_parser *p, struct imap_store *s)
{
	struct imap_span sp;

	p->pos++;
	if (imap_lex_atom(p, NULL, &sp, "STORE modifier") == -1)
		return -1;
	if (!imap_span_is(&sp, "UNCHANGEDSINCE"))
		return imap_perr_word(p, "bad STORE modifier %s", sp.s,
		    sp.len);
	if (imap_sp(p, "mod-sequence") == -1 ||
	    imap_lex_number(p, 0, IMAP_NUM64_MAX, &s->unchangedsince,
	    "mod-sequence") == -1 ||
	    imap_expect(p, ')', "end of STORE modifiers") == -1 ||
	    imap_sp(p, "STORE flags") == -1)
		return -1;
	s->unchangedsince_set = true;
	return 0;
}

/* (["+" / "-"] "FLAGS" [".SILENT"]) */
static int
store_action(struct imap_parser *p, struct imap_store *s)
{
	struct imap_span sp, rest;

	if (imap_lex_atom(p, NULL, &sp, "STORE action") == -1)
		return -1;
	rest = sp;
	if (rest.len > 0 && (rest.s[0] == '+' || rest.s[0] == '-')) {
		s->op = rest.s[0] == '+' ? IMAP_STORE_ADD : IMAP_STORE_REMOVE;
		rest.s++;
		rest.len--;
	}
	if (rest.len > 7 &&
	    strncasecmp(rest.s + rest.len - 7, ".SILENT", 7) == 0) {
		s->silent = true;
		rest.len -= 7;
	}
	if (!imap_span_is(&rest, "FLAGS"))
		return imap_perr_word(p, "bad STORE action %s", sp.s, sp.len);
	return 0;
}

/* STORE seq [store-modifiers] SP store-att-flags, store-att-flags =
   action SP (flag-list / (flag *(SP flag))) */
int
imap_args_store(struct imap_parser *p)
{
	struct imap_store *s = &p->cmd.store;
	struct imap_vec kw = { 0 };
	size_t count = 0;

	if (imap_peek(p) == '(' && store_modifiers(p, s) == -1)
		return -1;
	if (store_action(p, s) == -1 || imap_sp(p, "flags") == -1)
		return -1;
	if (imap_peek(p) == '(')
		return imap_lex_flag_list(p, &s->flags);
	do {
		if (imap_lex_flag(p, &s->flags, &kw, &count) == -1)
			return -1;
	} while (imap_accept(p, ' '));
	return 0;
}
