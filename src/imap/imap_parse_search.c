/*
 * imap_parse_search.c - the arguments of SEARCH: RETURN options (RFC
 * 9051 6.4.4, ESEARCH and SEARCHRES), CHARSET, and the search keys as a
 * tree: every key of RFC 9051 9, NEW / OLD / RECENT of RFC 3501, MODSEQ
 * of RFC 7162 3.1.5; parentheses, OR and NOT nest up to IMAP_DEPTH_MAX,
 * with at most IMAP_SEARCH_NODES_MAX keys in all.
 */
#include <strings.h>

#include "imap/imap_parse_int.h"
#include "util/compat.h"

enum skarg {
	SKA_NONE,
	SKA_ASTRING,
	SKA_KEYWORD,
	SKA_DATE,
	SKA_NUMBER,
	SKA_HEADER,
	SKA_SET,
	SKA_NOT,
	SKA_OR,
	SKA_MODSEQ,
};

static const struct {
	const char	*name;
	enum imap_search_key key;
	enum skarg	 arg;
} skeys[] = {
	{ "ALL", IMAP_SK_ALL, SKA_NONE },
	{ "ANSWERED", IMAP_SK_ANSWERED, SKA_NONE },
	{ "BCC", IMAP_SK_BCC, SKA_ASTRING },
	{ "BEFORE", IMAP_SK_BEFORE, SKA_DATE },
	{ "BODY", IMAP_SK_BODY, SKA_ASTRING },
	{ "CC", IMAP_SK_CC, SKA_ASTRING },
	{ "DELETED", IMAP_SK_DELETED, SKA_NONE },
	{ "DRAFT", IMAP_SK_DRAFT, SKA_NONE },
	{ "FLAGGED", IMAP_SK_FLAGGED, SKA_NONE },
	{ "FROM", IMAP_SK_FROM, SKA_ASTRING },
	{ "HEADER", IMAP_SK_HEADER, SKA_HEADER },
	{ "KEYWORD", IMAP_SK_KEYWORD, SKA_KEYWORD },
	{ "LARGER", IMAP_SK_LARGER, SKA_NUMBER },
	{ "MODSEQ", IMAP_SK_MODSEQ, SKA_MODSEQ },
	{ "NEW", IMAP_SK_NEW, SKA_NONE },
	{ "NOT", IMAP_SK_NOT, SKA_NOT },
	{ "OLD", IMAP_SK_OLD, SKA_NONE },
	{ "ON", IMAP_SK_ON, SKA_DATE },
	{ "OR", IMAP_SK_OR, SKA_OR },
	{ "RECENT", IMAP_SK_RECENT, SKA_NONE },
	{ "SEEN", IMAP_SK_SEEN, SKA_NONE },
	{ "SENTBEFORE", IMAP_SK_SENTBEFORE, SKA_DATE },
	{ "SENTON", IMAP_SK_SENTON, SKA_DATE },
	{ "SENTSINCE", IMAP_SK_SENTSINCE, SKA_DATE },
	{ "SINCE", IMAP_SK_SINCE, SKA_DATE },
	{ "SMALLER", IMAP_SK_SMALLER, SKA_NUMBER },
	{ "SUBJECT", IMAP_SK_SUBJECT, SKA_ASTRING },
	{ "TEXT", IMAP_SK_TEXT, SKA_ASTRING },
	{ "TO", IMAP_SK_TO, SKA_ASTRING },
	{ "UID", IMAP_SK_UID, SKA_SET },
	{ "UNANSWERED", IMAP_SK_UNANSWERED, SKA_NONE },
	{ "UNDELETED", IMAP_SK_UNDELETED, SKA_NONE },
	{ "UNDRAFT", IMAP_SK_UNDRAFT, SKA_NONE },
	{ "UNFLAGGED", IMAP_SK_UNFLAGGED, SKA_NONE },
	{ "UNKEYWORD", IMAP_SK_UNKEYWORD, SKA_KEYWORD },
	{ "UNSEEN", IMAP_SK_UNSEEN, SKA_NONE },
};

const char *
imap_search_key_name(enum imap_search_key key)
{
	size_t i;

	for (i = 0; i < nitems(skeys); i++)
		if (skeys[i].key == key)
			return skeys[i].name;
	return "";
}

static struct imap_search_node *
node_at(struct imap_parser *p, uint32_t i)
{
	return (struct imap_search_node *)p->nodes.v + i;
}

/* A new node of KEY; its index in *I. */
static int
node_new(struct imap_parser *p, enum imap_search_key key, uint32_t *i)
{
	struct imap_search_node *n;

	if ((n = imap_vec_push(p, &p->nodes, sizeof(*n),
	    IMAP_SEARCH_NODES_MAX, "search keys")) == NULL)
		return -1;
	memset(n, 0, sizeof(*n));
	n->key = key;
	*i = (uint32_t)(p->nodes.n - 1);
	return 0;
}

static int search_key(struct imap_parser *, unsigned depth, uint32_t *);

/* Keys into PARENT's children, until ')' when PAREN, else the end. */
static int
key_list(struct imap_parser *p, uint32_t parent, unsigned depth, bool paren)
{
	uint32_t last = 0, k;

	for (;;) {
		if (search_key(p, depth, &k) == -1)
			return -1;
		if (last == 0)
			node_at(p, parent)->child = k;
		else
			node_at(p, last)->next = k;
		last = k;
		if (paren && imap_accept(p, ')'))
			return 0;
		if (!paren && imap_at_end(p))
			return 0;
		if (imap_sp(p, "search key") == -1)
			return -1;
	}
}

/* MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer;
   entry-name = DQUOTE "/flags/" attr-flag DQUOTE */
static int
key_modseq(struct imap_parser *p, uint32_t k)
{
	struct imap_str entry = { NULL, 0 };
	enum imap_entry_type type = IMAP_ENTRY_NONE;
	struct imap_span sp;
	uint64_t v;

	if (imap_peek(p) == '"' || imap_peek(p) == '{') {
		if (imap_lex_string(p, &entry, "MODSEQ entry name") == -1)
			return -1;
		if (entry.len < 7 || strncasecmp(entry.s, "/flags/", 7) != 0)
			return imap_perr(p, IMAP_ERRC_NONE,
			    "bad MODSEQ entry name");
		if (imap_sp(p, "MODSEQ entry type") == -1 ||
		    imap_lex_atom(p, NULL, &sp, "MODSEQ entry type") == -1)
			return -1;
		if (imap_span_is(&sp, "priv"))
			type = IMAP_ENTRY_PRIV;
		else if (imap_span_is(&sp, "shared"))
			type = IMAP_ENTRY_SHARED;
		else if (imap_span_is(&sp, "all"))
			type = IMAP_ENTRY_ALL;
		else
			return imap_perr_word(p, "bad MODSEQ entry type %s",
			    sp.s, sp.len);
		if (imap_sp(p, "mod-sequence") == -1)
			return -1;
	}
	if (imap_lex_number(p, 0, IMAP_NUM64_MAX, &v, "mod-sequence") == -1)
		return -1;
	node_at(p, k)->u.modseq.value = v;
	node_at(p, k)->u.modseq.entry = entry;
	node_at(p, k)->u.modseq.type = type;
	return 0;
}

/* The argument of key K (index I), after its SP. The node array may
   move while a child is parsed: nodes are reached by index. */
static int
key_arg(struct imap_parser *p, enum skarg arg, uint32_t i, unsigned depth)
{
	struct imap_search_node tmp;
	struct imap_span sp;
	uint32_t c1, c2;

	memset(&tmp, 0, sizeof(tmp));
	switch (arg) {
	case SKA_NONE:
		return 0;
	case SKA_ASTRING:
		if (imap_lex_astring(p, &tmp.u.str, "search string") == -1)
			return -1;
		break;
	case SKA_KEYWORD:
		if (imap_lex_atom(p, NULL, &sp, "keyword") == -1 ||
		    (tmp.u.str.s = imap_arena_strdup(p, sp.s, sp.len)) ==
		    NULL)
			return -1;
		tmp.u.str.len = sp.len;
		break;
	case SKA_DATE:
		if (imap_lex_date(p, &tmp.u.date) == -1)
			return -1;
		break;
	case SKA_NUMBER:
		if (imap_lex_number(p, 0, IMAP_NUM64_MAX, &tmp.u.number,
		    "size") == -1)
			return -1;
		break;
	case SKA_HEADER:
		if (imap_lex_astring(p, &tmp.u.header.name,
		    "header field name") == -1 ||
		    imap_sp(p, "header value") == -1 ||
		    imap_lex_astring(p, &tmp.u.header.value,
		    "header value") == -1)
			return -1;
		break;
	case SKA_SET:
		if (imap_lex_seqset(p, &tmp.u.set, IMAP_SET_STAR |
		    IMAP_SET_SAVED, "UID set") == -1)
			return -1;
		break;
	case SKA_NOT:
		if (search_key(p, depth + 1, &c1) == -1)
			return -1;
		node_at(p, i)->child = c1;
		return 0;
	case SKA_OR:
		if (search_key(p, depth + 1, &c1) == -1 ||
		    imap_sp(p, "second OR key") == -1 ||
		    search_key(p, depth + 1, &c2) == -1)
			return -1;
		node_at(p, i)->child = c1;
		node_at(p, c1)->next = c2;
		return 0;
	case SKA_MODSEQ:
		return key_modseq(p, i);
	}
	node_at(p, i)->u = tmp.u;
	return 0;
}

static int
search_key(struct imap_parser *p, unsigned depth, uint32_t *k)
{
	struct imap_span sp;
	size_t i;
	int c = imap_peek(p);

	if (depth > IMAP_DEPTH_MAX)
		return imap_perr(p, IMAP_ERRC_LIMIT,
		    "search keys nested too deep");
	if (c == '(') {
		p->pos++;
		return node_new(p, IMAP_SK_AND, k) == -1 ? -1 :
		    key_list(p, *k, depth + 1, true);
	}
	if ((c >= '0' && c <= '9') || c == '*' || c == '$') {
		if (node_new(p, IMAP_SK_SEQSET, k) == -1)
			return -1;
		return imap_lex_seqset(p, &node_at(p, *k)->u.set,
		    IMAP_SET_STAR | IMAP_SET_SAVED, "sequence set");
	}
	if (imap_lex_atom(p, NULL, &sp, "search key") == -1)
		return -1;
	for (i = 0; i < nitems(skeys); i++)
		if (imap_span_is(&sp, skeys[i].name))
			break;
	if (i == nitems(skeys))
		return imap_perr_word(p, "unknown search key %s", sp.s,
		    sp.len);
	if (node_new(p, skeys[i].key, k) == -1)
		return -1;
	if (skeys[i].arg != SKA_NONE && imap_sp(p, "search key argument") ==
	    -1)
		return -1;
	return key_arg(p, skeys[i].arg, *k, depth);
}

/* In bit order. */
const struct imap_name imap_search_ret_names[5] = {
	{ "MIN", IMAP_SEARCH_RET_MIN },
	{ "MAX", IMAP_SEARCH_RET_MAX },
	{ "ALL", IMAP_SEARCH_RET_ALL },
	{ "COUNT", IMAP_SEARCH_RET_COUNT },
	{ "SAVE", IMAP_SEARCH_RET_SAVE },
};

/* "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")" SP,
   after the word RETURN. */
static int
return_options(struct imap_parser *p, struct imap_search *s)
{
	struct imap_span sp;
	size_t i, n = 0;

	if (imap_sp(p, "RETURN options") == -1 ||
	    imap_expect(p, '(', "RETURN options") == -1)
		return -1;
	s->esearch = true;
	while (!imap_accept(p, ')')) {
		if (n++ > 0 && imap_sp(p, "RETURN option") == -1)
			return -1;
		if (imap_lex_atom(p, NULL, &sp, "RETURN option") == -1)
			return -1;
		for (i = 0; i < nitems(imap_search_ret_names); i++)
			if (imap_span_is(&sp, imap_search_ret_names[i].name))
				break;
		if (i == nitems(imap_search_ret_names))
			return imap_perr_word(p, "unknown RETURN option %s",
			    sp.s, sp.len);
		s->ret |= imap_search_ret_names[i].bit;
	}
	/* RFC 9051 6.4.4: "RETURN ()" is "RETURN (ALL)". */
	if (s->ret == 0)
		s->ret = IMAP_SEARCH_RET_ALL;
	return imap_sp(p, "search criteria");
}

/* SEARCH [search-return-opts] SP search-program; search-program =
   ["CHARSET" SP charset SP] search-key *(SP search-key) */
int
imap_args_search(struct imap_parser *p)
{
	struct imap_search *s = &p->cmd.search;
	uint32_t root;

	if (imap_peek_word(p, "RETURN") && return_options(p, s) == -1)
		return -1;
	if (imap_peek_word(p, "CHARSET") &&
	    (imap_sp(p, "charset") == -1 ||
	    imap_lex_astring(p, &s->charset, "charset") == -1 ||
	    imap_sp(p, "search criteria") == -1))
		return -1;
	if (node_new(p, IMAP_SK_AND, &root) == -1 ||
	    key_list(p, root, 0, false) == -1)
		return -1;
	s->node = p->nodes.v;
	s->nnodes = p->nodes.n;
	return 0;
}
