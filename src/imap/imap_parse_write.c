/*
 * imap_parse_write.c - a parsed command written back as one canonical
 * command (imap_cmd_write()): what the unit tests compare and what the
 * fuzz harness parses again, so that parse and write check each other
 * (writing the result of parsing a written command gives the same text).
 * Debug traces may use it too; secrets are masked unless asked for.
 */
#include <strings.h>

#include "imap/imap_parse_int.h"
#include "util/compat.h"

/* Every helper returns 0 or -1 (buffer full); W() chains them. */
#define W(e)                                                               \
	do {                                                               \
		if ((e) == -1)                                             \
			return -1;                                         \
	} while (0)

static int
put(struct buf *b, const char *s)
{
	return buf_append_str(b, s);
}

static int
astr(struct buf *b, const struct imap_str *s)
{
	return imap_put_astring(b, s->s, s->len, IMAP_PUT_UTF8);
}

static int
str(struct buf *b, const struct imap_str *s)
{
	return imap_put_string(b, s->s, s->len, IMAP_PUT_UTF8);
}

static int
pattern(struct buf *b, const struct imap_str *s)
{
	size_t i;

	for (i = 0; i < s->len; i++)
		if (s->s[i] != '%' && s->s[i] != '*' &&
		    !imap_is_astring_char((unsigned char)s->s[i]))
			return str(b, s);
	return s->len > 0 ? buf_append(b, s->s, s->len) : str(b, s);
}

static int
seqnum(struct buf *b, uint32_t n)
{
	return n == IMAP_SEQ_STAR ? buf_putc(b, '*') :
	    buf_printf(b, "%u", (unsigned)n);
}

static int
seqset(struct buf *b, const struct imap_seqset *s)
{
	size_t i;

	if (s->saved)
		return buf_putc(b, '$');
	for (i = 0; i < s->n; i++) {
		if (i > 0)
			W(buf_putc(b, ','));
		W(seqnum(b, s->r[i].lo));
		if (s->r[i].hi != s->r[i].lo) {
			W(buf_putc(b, ':'));
			W(seqnum(b, s->r[i].hi));
		}
	}
	return 0;
}

/* The names of the bits of MASK, in table order, space separated. */
static int
bits(struct buf *b, unsigned mask, const struct imap_name *names, size_t n)
{
	bool first = true;
	size_t i;

	for (i = 0; i < n; i++)
		if (mask & names[i].bit) {
			W(put(b, first ? "" : " "));
			W(put(b, names[i].name));
			first = false;
		}
	return 0;
}

static int
flags(struct buf *b, const struct imap_flags *f)
{
	size_t i;

	W(buf_putc(b, '('));
	W(bits(b, f->sys, imap_sysflag_names, nitems(imap_sysflag_names)));
	for (i = 0; i < f->nkw; i++) {
		W(put(b, i > 0 || f->sys != 0 ? " " : ""));
		W(buf_append(b, f->kw[i].s, f->kw[i].len));
	}
	return buf_putc(b, ')');
}

static int
status_items(struct buf *b, unsigned mask)
{
	W(buf_putc(b, '('));
	W(bits(b, mask, imap_status_names, nitems(imap_status_names)));
	return buf_putc(b, ')');
}

static int
mailbox(struct buf *b, const struct imap_mailbox *m)
{
	return astr(b, &m->name);
}

/* ---- FETCH ---- */

static int
section(struct buf *b, const struct imap_section *s)
{
	size_t i;

	W(buf_putc(b, '['));
	for (i = 0; i < s->nparts; i++)
		W(buf_printf(b, "%s%u", i > 0 ? "." : "",
		    (unsigned)s->part[i]));
	if (s->text != IMAP_SECTION_ALL)
		W(buf_printf(b, "%s%s", s->nparts > 0 ? "." : "",
		    imap_section_text_name(s->text)));
	if (s->nfields > 0) {
		W(put(b, " ("));
		for (i = 0; i < s->nfields; i++) {
			W(put(b, i > 0 ? " " : ""));
			W(astr(b, &s->field[i]));
		}
		W(buf_putc(b, ')'));
	}
	return buf_putc(b, ']');
}

static int
fetch_att(struct buf *b, const struct imap_fetch_att *a)
{
	W(put(b, imap_fetch_att_name(a->kind, a->peek)));
	if (a->kind != IMAP_FETCH_BODY_SECTION &&
	    a->kind != IMAP_FETCH_BINARY && a->kind != IMAP_FETCH_BINARY_SIZE)
		return 0;
	W(section(b, &a->section));
	if (a->partial)
		W(buf_printf(b, "<%llu.%llu>", (unsigned long long)a->offset,
		    (unsigned long long)a->length));
	return 0;
}

static int
fetch(struct buf *b, const struct imap_fetch *f)
{
	size_t i;

	W(put(b, " ("));
	for (i = 0; i < f->natts; i++) {
		W(put(b, i > 0 ? " " : ""));
		W(fetch_att(b, &f->att[i]));
	}
	W(buf_putc(b, ')'));
	if (!f->changedsince_set)
		return 0;
	W(buf_printf(b, " (CHANGEDSINCE %llu",
	    (unsigned long long)f->changedsince));
	return put(b, f->vanished ? " VANISHED)" : ")");
}

static int
store(struct buf *b, const struct imap_store *s)
{
	static const char *const ops[] = { "", "+", "-" };

	if (s->unchangedsince_set)
		W(buf_printf(b, " (UNCHANGEDSINCE %llu)",
		    (unsigned long long)s->unchangedsince));
	W(buf_printf(b, " %sFLAGS%s ", ops[s->op],
	    s->silent ? ".SILENT" : ""));
	return flags(b, &s->flags);
}

/* ---- SEARCH ---- */

static int search_key(struct buf *, const struct imap_search *, uint32_t);

/* The children of node I, space separated. */
static int
search_children(struct buf *b, const struct imap_search *s, uint32_t i)
{
	uint32_t c;

	for (c = s->node[i].child; c != 0; c = s->node[c].next) {
		if (c != s->node[i].child)
			W(buf_putc(b, ' '));
		W(search_key(b, s, c));
	}
	return 0;
}

static int
search_modseq(struct buf *b, const struct imap_search_node *n)
{
	static const char *const types[] = { "", "priv", "shared", "all" };

	if (n->u.modseq.entry.s != NULL) {
		W(str(b, &n->u.modseq.entry));
		W(buf_printf(b, " %s ", types[n->u.modseq.type]));
	}
	return buf_printf(b, "%llu", (unsigned long long)n->u.modseq.value);
}

static int
search_key(struct buf *b, const struct imap_search *s, uint32_t i)
{
	const struct imap_search_node *n = &s->node[i];

	switch (n->key) {
	case IMAP_SK_AND:
		W(buf_putc(b, '('));
		W(search_children(b, s, i));
		return buf_putc(b, ')');
	case IMAP_SK_SEQSET:
		return seqset(b, &n->u.set);
	default:
		break;
	}
	W(put(b, imap_search_key_name(n->key)));
	if (n->key >= IMAP_SK_ALL && n->key <= IMAP_SK_RECENT)
		return 0;
	W(buf_putc(b, ' '));
	switch (n->key) {
	case IMAP_SK_OR:
	case IMAP_SK_NOT:
		return search_children(b, s, i);
	case IMAP_SK_KEYWORD:
	case IMAP_SK_UNKEYWORD:
		return buf_append(b, n->u.str.s, n->u.str.len);
	case IMAP_SK_HEADER:
		W(astr(b, &n->u.header.name));
		W(buf_putc(b, ' '));
		return astr(b, &n->u.header.value);
	case IMAP_SK_BEFORE:
	case IMAP_SK_ON:
	case IMAP_SK_SINCE:
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		return buf_printf(b, "%d-%s-%04d", n->u.date.day,
		    imap_months[n->u.date.mon - 1], n->u.date.year);
	case IMAP_SK_LARGER:
	case IMAP_SK_SMALLER:
		return buf_printf(b, "%llu", (unsigned long long)n->u.number);
	case IMAP_SK_UID:
		return seqset(b, &n->u.set);
	case IMAP_SK_MODSEQ:
		return search_modseq(b, n);
	default:
		return astr(b, &n->u.str);
	}
}

static int
search(struct buf *b, const struct imap_search *s)
{
	if (s->esearch) {
		W(put(b, " RETURN ("));
		W(bits(b, s->ret, imap_search_ret_names,
		    nitems(imap_search_ret_names)));
		W(buf_putc(b, ')'));
	}
	if (s->charset.s != NULL) {
		W(put(b, " CHARSET "));
		W(astr(b, &s->charset));
	}
	W(buf_putc(b, ' '));
	return search_children(b, s, 0);
}

/* ---- mailbox commands ---- */

static int
select_params(struct buf *b, const struct imap_select *s)
{
	if (!s->condstore && !s->qresync)
		return 0;
	W(put(b, s->condstore ? " (CONDSTORE" : " ("));
	if (s->qresync) {
		W(buf_printf(b, "%sQRESYNC (%u %llu", s->condstore ? " " : "",
		    (unsigned)s->uidvalidity, (unsigned long long)s->modseq));
		if (s->known_uids.n > 0) {
			W(buf_putc(b, ' '));
			W(seqset(b, &s->known_uids));
		}
		if (s->match_seqs.n > 0) {
			W(put(b, " ("));
			W(seqset(b, &s->match_seqs));
			W(buf_putc(b, ' '));
			W(seqset(b, &s->match_uids));
			W(buf_putc(b, ')'));
		}
		W(buf_putc(b, ')'));
	}
	return buf_putc(b, ')');
}

static int
list(struct buf *b, const struct imap_cmd *c)
{
	const struct imap_list *l = &c->list;
	size_t i;

	if (l->extended) {
		W(put(b, " ("));
		W(bits(b, l->sel, imap_list_sel_names,
		    nitems(imap_list_sel_names)));
		W(buf_putc(b, ')'));
	}
	W(buf_putc(b, ' '));
	W(mailbox(b, &l->ref));
	W(put(b, l->extended ? " (" : " "));
	for (i = 0; i < l->npatterns; i++) {
		W(put(b, i > 0 ? " " : ""));
		W(pattern(b, &l->pattern[i]));
	}
	W(put(b, l->extended ? ")" : ""));
	if (l->ret == 0)
		return 0;
	W(put(b, " RETURN ("));
	W(bits(b, l->ret & ~IMAP_LIST_RET_STATUS, imap_list_ret_names,
	    nitems(imap_list_ret_names)));
	if (l->ret & IMAP_LIST_RET_STATUS) {
		W(put(b, l->ret != IMAP_LIST_RET_STATUS ? " STATUS " :
		    "STATUS "));
		W(status_items(b, l->status));
	}
	return buf_putc(b, ')');
}

/* An unknown attribute was refused with a name: any other does. */
static int
create_use(struct buf *b, unsigned use)
{
	if (use == 0)
		return 0;
	W(put(b, " (USE ("));
	W(bits(b, use, imap_use_names, nitems(imap_use_names)));
	if (use & IMAP_USE_OTHER)
		W(put(b, use != IMAP_USE_OTHER ? " \\XUnknown" :
		    "\\XUnknown"));
	return put(b, "))");
}

static int
append(struct buf *b, const struct imap_append *a)
{
	if (a->flags.sys != 0 || a->flags.nkw != 0) {
		W(buf_putc(b, ' '));
		W(flags(b, &a->flags));
	}
	if (a->date_set) {
		W(buf_putc(b, ' '));
		W(imap_put_datetime(b, a->date, a->zone));
	}
	W(buf_printf(b, " %s{%zu}\r\n", a->binary ? "~" : "", a->datalen));
	return buf_append(b, a->data, a->datalen);
}

/* ---- the simple commands ---- */

static int
id(struct buf *b, const struct imap_cmd *c)
{
	size_t i;

	if (c->id_nil)
		return put(b, " NIL");
	W(put(b, " ("));
	for (i = 0; i < c->nidp; i++) {
		W(put(b, i > 0 ? " " : ""));
		W(str(b, &c->idp[i].field));
		W(buf_putc(b, ' '));
		W(imap_put_nstring(b, c->idp[i].value.s, c->idp[i].value.len,
		    IMAP_PUT_UTF8));
	}
	return buf_putc(b, ')');
}

static int
simple(struct buf *b, const struct imap_cmd *c, bool secrets)
{
	size_t i;

	switch (c->id) {
	case IMAP_CMD_LOGIN:
		W(buf_putc(b, ' '));
		W(astr(b, &c->user));
		W(buf_putc(b, ' '));
		return secrets ? astr(b, &c->pass) : put(b, "***");
	case IMAP_CMD_AUTHENTICATE:
	case IMAP_CMD_COMPRESS:
		W(buf_putc(b, ' '));
		W(buf_append(b, c->mech.s, c->mech.len));
		if (c->ir.s == NULL)
			return 0;
		W(buf_putc(b, ' '));
		return secrets ? buf_append(b, c->ir.s, c->ir.len) :
		    put(b, "***");
	case IMAP_CMD_ENABLE:
		for (i = 0; i < c->ncaps; i++) {
			W(buf_putc(b, ' '));
			W(buf_append(b, c->cap[i].s, c->cap[i].len));
		}
		return 0;
	case IMAP_CMD_ID:
		return id(b, c);
	default:
		return 0;
	}
}

static int
quota(struct buf *b, const struct imap_cmd *c)
{
	size_t i;

	W(buf_putc(b, ' '));
	W(astr(b, &c->quota_root));
	if (c->id != IMAP_CMD_SETQUOTA)
		return 0;
	W(put(b, " ("));
	for (i = 0; i < c->nquota; i++)
		W(buf_printf(b, "%s%s %llu", i > 0 ? " " : "",
		    c->quota[i].name.s, (unsigned long long)c->quota[i].limit));
	return buf_putc(b, ')');
}

/* The arguments after the command name. */
static int
args(struct buf *b, const struct imap_cmd *c, bool secrets)
{
	switch (c->id) {
	case IMAP_CMD_SELECT:
	case IMAP_CMD_EXAMINE:
		W(buf_putc(b, ' '));
		W(mailbox(b, &c->mailbox));
		return select_params(b, &c->select);
	case IMAP_CMD_CREATE:
		W(buf_putc(b, ' '));
		W(mailbox(b, &c->mailbox));
		return create_use(b, c->use);
	case IMAP_CMD_DELETE:
	case IMAP_CMD_SUBSCRIBE:
	case IMAP_CMD_UNSUBSCRIBE:
	case IMAP_CMD_GETQUOTAROOT:
		W(buf_putc(b, ' '));
		return mailbox(b, &c->mailbox);
	case IMAP_CMD_RENAME:
		W(buf_putc(b, ' '));
		W(mailbox(b, &c->mailbox));
		W(buf_putc(b, ' '));
		return mailbox(b, &c->newname);
	case IMAP_CMD_LIST:
	case IMAP_CMD_LSUB:
		return list(b, c);
	case IMAP_CMD_STATUS:
		W(buf_putc(b, ' '));
		W(mailbox(b, &c->mailbox));
		W(buf_putc(b, ' '));
		return status_items(b, c->status);
	case IMAP_CMD_APPEND:
		W(buf_putc(b, ' '));
		W(mailbox(b, &c->mailbox));
		return append(b, &c->append);
	case IMAP_CMD_GETQUOTA:
	case IMAP_CMD_SETQUOTA:
		return quota(b, c);
	case IMAP_CMD_SEARCH:
		return search(b, &c->search);
	default:
		break;
	}
	if (c->id == IMAP_CMD_FETCH || c->id == IMAP_CMD_STORE ||
	    c->id == IMAP_CMD_COPY || c->id == IMAP_CMD_MOVE ||
	    (c->id == IMAP_CMD_EXPUNGE && c->uid)) {
		W(buf_putc(b, ' '));
		W(seqset(b, &c->set));
	}
	if (c->id == IMAP_CMD_FETCH)
		return fetch(b, &c->fetch);
	if (c->id == IMAP_CMD_STORE)
		return store(b, &c->store);
	if (c->id == IMAP_CMD_COPY || c->id == IMAP_CMD_MOVE) {
		W(buf_putc(b, ' '));
		return mailbox(b, &c->mailbox);
	}
	return simple(b, c, secrets);
}

int
imap_cmd_write(struct buf *b, const struct imap_cmd *c, bool secrets)
{
	const struct imap_cmd_info *info = imap_cmd_info(c->id);
	size_t save = b->len;

	if (info == NULL || buf_append(b, c->tag.s, c->tag.len) == -1 ||
	    buf_printf(b, " %s%s", c->uid ? "UID " : "", info->name) == -1 ||
	    args(b, c, secrets) == -1) {
		buf_truncate(b, save);
		return -1;
	}
	return 0;
}
