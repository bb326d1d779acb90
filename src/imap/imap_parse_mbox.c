/*
 * imap_parse_mbox.c - the arguments of the mailbox commands: SELECT and
 * EXAMINE parameters (CONDSTORE, QRESYNC: RFC 7162 3.2.5), CREATE (USE
 * (...)) (RFC 6154), LIST with selection and return options and several
 * patterns (RFC 5258, 5819, 6154; all in RFC 9051 6.3.9), LSUB, STATUS
 * and APPEND (flags, date-time, literal or literal8: RFC 3516).
 */
#include <strings.h>

#include "imap/imap_parse_int.h"
#include "util/compat.h"

/* ---- SELECT / EXAMINE ---- */

/* "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids]
   [SP seq-match-data] ")"; seq-match-data = "(" known-sequence-set SP
   known-uid-set ")". None of the sets may hold '*' or '$'. */
static int
select_qresync(struct imap_parser *p, struct imap_select *s)
{
	uint64_t n;

	if (imap_sp(p, "QRESYNC parameters") == -1 ||
	    imap_expect(p, '(', "QRESYNC parameters") == -1 ||
	    imap_lex_number(p, 1, IMAP_NUM32_MAX, &n, "UIDVALIDITY") == -1 ||
	    imap_sp(p, "mod-sequence") == -1 ||
	    imap_lex_number(p, 1, IMAP_NUM64_MAX, &s->modseq,
	    "mod-sequence") == -1)
		return -1;
	s->uidvalidity = (uint32_t)n;
	s->qresync = true;
	if (!imap_accept(p, ' '))
		return imap_expect(p, ')', "end of QRESYNC parameters");
	if (imap_peek(p) != '(') {
		if (imap_lex_seqset(p, &s->known_uids, 0, "known UIDs") == -1)
			return -1;
		if (!imap_accept(p, ' '))
			return imap_expect(p, ')',
			    "end of QRESYNC parameters");
	}
	if (imap_expect(p, '(', "sequence match data") == -1 ||
	    imap_lex_seqset(p, &s->match_seqs, 0, "known sequence set") ==
	    -1 || imap_sp(p, "known UID set") == -1 ||
	    imap_lex_seqset(p, &s->match_uids, 0, "known UID set") == -1 ||
	    imap_expect(p, ')', "end of sequence match data") == -1)
		return -1;
	return imap_expect(p, ')', "end of QRESYNC parameters");
}

/* [SP "(" select-param *(SP select-param) ")"] */
int
imap_args_select(struct imap_parser *p)
{
	struct imap_select *s = &p->cmd.select;
	struct imap_span sp;

	if (imap_at_end(p))
		return 0;
	if (imap_sp(p, "SELECT parameters") == -1 ||
	    imap_expect(p, '(', "SELECT parameters") == -1)
		return -1;
	do {
		if (imap_lex_atom(p, NULL, &sp, "SELECT parameter") == -1)
			return -1;
		if (imap_span_is(&sp, "CONDSTORE") && !s->condstore)
			s->condstore = true;
		else if (imap_span_is(&sp, "QRESYNC") && !s->qresync) {
			if (select_qresync(p, s) == -1)
				return -1;
		} else
			return imap_perr_word(p, "bad SELECT parameter %s",
			    sp.s, sp.len);
		if (imap_accept(p, ')'))
			return 0;
	} while (imap_sp(p, "SELECT parameter") == 0);
	return -1;
}

/* ---- CREATE ---- */

/* In bit order. */
const struct imap_name imap_use_names[7] = {
	{ "\\All", IMAP_USE_ALL },
	{ "\\Archive", IMAP_USE_ARCHIVE },
	{ "\\Drafts", IMAP_USE_DRAFTS },
	{ "\\Flagged", IMAP_USE_FLAGGED },
	{ "\\Junk", IMAP_USE_JUNK },
	{ "\\Sent", IMAP_USE_SENT },
	{ "\\Trash", IMAP_USE_TRASH },
};

/* "USE" SP "(" [use-attr *(SP use-attr)] ")", after USE */
static int
create_use(struct imap_parser *p)
{
	struct imap_span sp;
	size_t i, n = 0;

	if (imap_sp(p, "USE attributes") == -1 ||
	    imap_expect(p, '(', "USE attributes") == -1)
		return -1;
	while (!imap_accept(p, ')')) {
		if (n++ > 0 && imap_sp(p, "USE attribute") == -1)
			return -1;
		if (n > IMAP_LIST_MAX)
			return imap_perr_limit(p, "USE attributes",
			    IMAP_LIST_MAX);
		if (imap_expect(p, '\\', "USE attribute") == -1 ||
		    imap_lex_atom(p, NULL, &sp, "USE attribute") == -1)
			return -1;
		for (i = 0; i < nitems(imap_use_names); i++)
			if (imap_span_is(&sp, imap_use_names[i].name + 1))
				break;
		/* use-attr-ext: valid syntax, refused by the session
		   with NO [USEATTR] (RFC 6154 3). */
		p->cmd.use |= i < nitems(imap_use_names) ?
		    imap_use_names[i].bit :
		    IMAP_USE_OTHER;
	}
	return 0;
}

/* [SP "(" create-param *(SP create-param) ")"] */
int
imap_args_create(struct imap_parser *p)
{
	struct imap_span sp;
	bool use = false;

	if (imap_at_end(p))
		return 0;
	if (imap_sp(p, "CREATE parameters") == -1 ||
	    imap_expect(p, '(', "CREATE parameters") == -1)
		return -1;
	do {
		if (imap_lex_atom(p, NULL, &sp, "CREATE parameter") == -1)
			return -1;
		if (!imap_span_is(&sp, "USE") || use)
			return imap_perr_word(p, "bad CREATE parameter %s",
			    sp.s, sp.len);
		use = true;
		if (create_use(p) == -1)
			return -1;
		if (imap_accept(p, ')'))
			return 0;
	} while (imap_sp(p, "CREATE parameter") == 0);
	return -1;
}

/* ---- LIST / LSUB ---- */

/* In bit order. */
const struct imap_name imap_list_sel_names[4] = {
	{ "SUBSCRIBED", IMAP_LIST_SEL_SUBSCRIBED },
	{ "REMOTE", IMAP_LIST_SEL_REMOTE },
	{ "RECURSIVEMATCH", IMAP_LIST_SEL_RECURSIVEMATCH },
	{ "SPECIAL-USE", IMAP_LIST_SEL_SPECIAL_USE },
};

const struct imap_name imap_list_ret_names[4] = {
	{ "SUBSCRIBED", IMAP_LIST_RET_SUBSCRIBED },
	{ "CHILDREN", IMAP_LIST_RET_CHILDREN },
	{ "SPECIAL-USE", IMAP_LIST_RET_SPECIAL_USE },
	{ "STATUS", IMAP_LIST_RET_STATUS },
};

/* "(" [option *(SP option)] ")" of the table OPTS into *MASK; STATUS
   takes its item list into L->status. */
static int
list_options(struct imap_parser *p, const struct imap_name *opts, size_t nopts,
    unsigned *mask, const char *what)
{
	struct imap_span sp;
	size_t i, n = 0;

	if (imap_expect(p, '(', what) == -1)
		return -1;
	while (!imap_accept(p, ')')) {
		if (n++ > 0 && imap_sp(p, what) == -1)
			return -1;
		if (n > IMAP_LIST_MAX)
			return imap_perr_limit(p, "LIST options",
			    IMAP_LIST_MAX);
		if (imap_lex_atom(p, NULL, &sp, what) == -1)
			return -1;
		for (i = 0; i < nopts; i++)
			if (imap_span_is(&sp, opts[i].name))
				break;
		/* RFC 5258 3: an unknown option is BAD. */
		if (i == nopts)
			return imap_perr_word(p, "unknown LIST option %s",
			    sp.s, sp.len);
		*mask |= opts[i].bit;
		if (opts[i].bit == IMAP_LIST_RET_STATUS && opts == imap_list_ret_names &&
		    (imap_sp(p, "STATUS items") == -1 ||
		    imap_lex_status_items(p, &p->cmd.list.status) == -1))
			return -1;
	}
	return 0;
}

/* mbox-or-pat = list-mailbox / patterns; patterns = "(" list-mailbox
   *(SP list-mailbox) ")" */
static int
list_patterns(struct imap_parser *p, struct imap_list *l)
{
	struct imap_vec v = { 0 };
	struct imap_str *s;
	bool paren = imap_accept(p, '(');

	if (paren)
		l->extended = true;
	do {
		if (v.n > 0 && imap_sp(p, "mailbox pattern") == -1)
			return -1;
		if ((s = imap_vec_push(p, &v, sizeof(*s), IMAP_LIST_MAX,
		    "mailbox patterns")) == NULL ||
		    imap_lex_list_mailbox(p, s) == -1)
			return -1;
	} while (paren && !imap_accept(p, ')'));
	l->pattern = v.v;
	l->npatterns = v.n;
	return 0;
}

/* LIST [SP list-select-opts] SP mailbox SP mbox-or-pat
   [SP list-return-opts] */
int
imap_args_list(struct imap_parser *p)
{
	struct imap_list *l = &p->cmd.list;

	if (imap_peek(p) == '(') {
		l->extended = true;
		if (list_options(p, imap_list_sel_names,
		    nitems(imap_list_sel_names), &l->sel,
		    "LIST selection option") == -1 ||
		    imap_sp(p, "reference name") == -1)
			return -1;
		/* RFC 5258 3.1: RECURSIVEMATCH refines another option. */
		if (l->sel == IMAP_LIST_SEL_RECURSIVEMATCH)
			return imap_perr(p, IMAP_ERRC_NONE,
			    "RECURSIVEMATCH needs another selection option");
	}
	if (imap_lex_mailbox(p, &l->ref, "reference name") == -1 ||
	    imap_sp(p, "mailbox pattern") == -1 ||
	    list_patterns(p, l) == -1)
		return -1;
	if (imap_at_end(p))
		return 0;
	l->extended = true;
	if (imap_sp(p, "RETURN options") == -1 ||
	    !imap_peek_word(p, "RETURN"))
		return imap_perr(p, IMAP_ERRC_NONE, "expected RETURN options");
	return imap_sp(p, "RETURN options") == -1 ? -1 :
	    list_options(p, imap_list_ret_names,
	    nitems(imap_list_ret_names), &l->ret,
	    "LIST return option");
}

/* LSUB SP mailbox SP list-mailbox */
int
imap_args_lsub(struct imap_parser *p)
{
	struct imap_list *l = &p->cmd.list;
	struct imap_str *s;

	if (imap_lex_mailbox(p, &l->ref, "reference name") == -1 ||
	    imap_sp(p, "mailbox pattern") == -1 ||
	    (s = imap_arena_alloc(p, sizeof(*s))) == NULL ||
	    imap_lex_list_mailbox(p, s) == -1)
		return -1;
	l->pattern = s;
	l->npatterns = 1;
	return 0;
}

/* ---- STATUS ---- */

int
imap_args_status(struct imap_parser *p)
{
	return imap_lex_status_items(p, &p->cmd.status);
}

/* ---- APPEND ---- */

/* APPEND mailbox [SP flag-list] [SP date-time] SP (literal / literal8);
   one message (no MULTIAPPEND). */
int
imap_args_append(struct imap_parser *p)
{
	struct imap_append *a = &p->cmd.append;
	struct imap_span sp;

	if (imap_peek(p) == '(') {
		if (imap_lex_flag_list(p, &a->flags) == -1 ||
		    imap_sp(p, "message literal") == -1)
			return -1;
	}
	if (imap_peek(p) == '"') {
		if (imap_lex_datetime(p, &a->date, &a->zone) == -1 ||
		    imap_sp(p, "message literal") == -1)
			return -1;
		a->date_set = true;
	}
	if (imap_peek(p) != '{' && imap_peek(p) != '~')
		return imap_perr(p, IMAP_ERRC_NONE,
		    imap_at_end(p) ? "missing message literal" :
		    "expected the message as a literal");
	if (imap_lex_literal(p, &sp, &a->binary, true) == -1)
		return -1;
	a->data = sp.s;
	a->datalen = sp.len;
	p->append_len = sp.len;
	return 0;
}
