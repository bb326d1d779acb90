/*
 * imap_msg.c - STORE, COPY, MOVE and SEARCH (RFC 9051 6.4.4, 6.4.6-8;
 * RFC 4315 UIDPLUS, RFC 6851 MOVE, RFC 7162 UNCHANGEDSINCE and MODSEQ,
 * RFC 4731 ESEARCH), on the io pool.
 *
 * SEARCH evaluates the parser's key tree message by message: flags,
 * sizes, dates and sets from the index, header keys from the message's
 * header section (encoded words decoded), BODY and TEXT from its text,
 * all as case-insensitive substrings (RFC 9051 6.4.4; no full-text
 * index). A message's file is read only when a key needs it.
 */
#include <ctype.h>
#include <unistd.h>

#include <stdio.h>

#include "imap/imap_int.h"
#include "core/rfc5322.h"
#include "mime/mime.h"
#include "util/xalloc.h"
#include "util/compat.h"

_Static_assert(IMAP_FLAG_SEEN == MAILBOX_SEEN &&
    IMAP_FLAG_ANSWERED == MAILBOX_ANSWERED &&
    IMAP_FLAG_FLAGGED == MAILBOX_FLAGGED &&
    IMAP_FLAG_DELETED == MAILBOX_DELETED &&
    IMAP_FLAG_DRAFT == MAILBOX_DRAFT, "flag bits are shared");

#define SEARCH_TEXT_MAX	(16 * 1024 * 1024)	/* of one message read */

/* ---- STORE ---- */

static void
store_work(struct imap_job *j, struct backends *b)
{
	const struct imap_cmd *c = &j->box.cmd;
	const struct imap_store *st = &c->store;
	const char *kw[IMAP_FLAGS_MAX];
	struct mailbox_store ms;
	struct mailbox_store_result res;
	struct mailbox_view_info vi;
	struct mailbox_err err;
	struct mailbox_msg m;
	uint32_t *uids, seq;
	size_t n, i;

	(void)b;
	mailbox_view_get_info(j->box.view, &vi);
	if (j->box.readonly) {
		imap_job_no(j, "[READ-ONLY] The mailbox is read-only");
		return;
	}
	if (!imap_job_seq_ok(j, &c->set, c->uid, vi.exists)) {
		imap_job_bad(j, "Invalid message sequence number");
		return;
	}
	uids = imap_job_uids(j, &c->set, c->uid, &n);
	memset(&ms, 0, sizeof(ms));
	ms.op = st->op == IMAP_STORE_ADD ? MAILBOX_STORE_ADD :
	    st->op == IMAP_STORE_REMOVE ? MAILBOX_STORE_REMOVE :
	    MAILBOX_STORE_SET;
	ms.flags = st->flags.sys;
	for (i = 0; i < st->flags.nkw && i < nitems(kw); i++)
		kw[i] = st->flags.kw[i].s;
	ms.keywords = kw;
	ms.nkeywords = i;
	ms.unchangedsince_set = st->unchangedsince_set;
	ms.unchangedsince = st->unchangedsince;
	memset(&res, 0, sizeof(res));
	if (n > 0 && mailbox_store(j->box.view, uids, n, &ms, &res,
	    &err) == -1) {
		free(uids);
		imap_job_err(j, &err);
		return;
	}
	/* Others' changes first: a keyword defined now is in the view
	   after that, and in the FLAGS response it brings. */
	imap_job_changes(j, false);
	/* RFC 9051 6.4.6: the new flags, unless .SILENT (RFC 7162: with
	   UNCHANGEDSINCE even then, with MODSEQ). */
	for (i = 0; i < res.nchanged; i++) {
		if (st->silent && !st->unchangedsince_set)
			break;
		seq = mailbox_view_seq(j->box.view, res.changed[i]);
		if (seq == 0 || mailbox_view_msgs(j->box.view, seq, seq,
		    &m) == -1)
			continue;
		(void)buf_printf(&j->out, "* %u FETCH (", seq);
		if (c->uid)
			(void)buf_printf(&j->out, "UID %u ", m.uid);
		if (j->box.enabled & IMAP_EN_CONDSTORE ||
		    st->unchangedsince_set)
			(void)buf_printf(&j->out, "MODSEQ (%llu) ",
			    (unsigned long long)m.modseq);
		(void)buf_append_str(&j->out, "FLAGS ");
		imap_put_flags(j, &m, &j->out);
		(void)buf_append_str(&j->out, ")\r\n");
	}
	if (res.nmodified > 0) {
		(void)buf_printf(&j->out, "%s OK [MODIFIED ", j->tag);
		imap_put_uidset(&j->out, res.modified, res.nmodified);
		(void)buf_append_str(&j->out, "] Conditional STORE failed "
		    "for some\r\n");
	} else {
		imap_job_ok(j, "%sSTORE completed", c->uid ? "UID " : "");
	}
	mailbox_store_result_free(&res);
	free(uids);
}

void
imap_cmd_store(struct imap_session *s)
{
	imap_job_submit(s, store_work, NULL, NULL);
}

/* ---- COPY and MOVE ---- */

static void
copy_work(struct imap_job *j, struct backends *b)
{
	const struct imap_cmd *c = &j->box.cmd;
	bool move = c->id == IMAP_CMD_MOVE;
	char dest[MAILBOX_NAME_MAX + 1];
	struct mailbox_copy_result res;
	struct mailbox_view_info vi;
	struct mailbox_err err;
	uint32_t *uids;
	size_t n;
	struct buf code;

	(void)b;
	mailbox_view_get_info(j->box.view, &vi);
	if (!imap_job_seq_ok(j, &c->set, c->uid, vi.exists)) {
		imap_job_bad(j, "Invalid message sequence number");
		return;
	}
	if (move && j->box.readonly) {
		imap_job_no(j, "[READ-ONLY] The mailbox is read-only");
		return;
	}
	if (!imap_job_name(j, &c->mailbox, dest))
		return;
	uids = imap_job_uids(j, &c->set, c->uid, &n);
	memset(&res, 0, sizeof(res));
	if (n > 0 && mailbox_copy(j->box.view, uids, n, dest, move, &res,
	    &err) == -1) {
		free(uids);
		if (err.code == MAILBOX_ERR_NONEXISTENT)
			imap_job_no(j, "[TRYCREATE] No such mailbox");
		else
			imap_job_err(j, &err);
		imap_job_changes(j, false);
		return;
	}
	free(uids);
	buf_init(&code, BUF_UNLIMITED);
	if (res.n > 0) {
		(void)buf_printf(&code, "[COPYUID %u ", res.uidvalidity);
		imap_put_uidset(&code, res.src, res.n);
		(void)buf_putc(&code, ' ');
		imap_put_uidset(&code, res.dst, res.n);
		(void)buf_append_str(&code, "] ");
	}
	if (move) {
		/* RFC 6851 3.3: COPYUID untagged, before the expunges. */
		if (res.n > 0)
			(void)buf_printf(&j->out, "* OK %s\r\n",
			    buf_cstr(&code));
		imap_job_changes(j, true);
		imap_job_ok(j, "%sMOVE completed", c->uid ? "UID " : "");
	} else {
		imap_job_changes(j, false);
		imap_job_ok(j, "%s%sCOPY completed", buf_cstr(&code), c->uid ?
		    "UID " : "");
	}
	buf_free(&code);
	mailbox_copy_result_free(&res);
}

void
imap_cmd_copy(struct imap_session *s)
{
	imap_job_submit(s, copy_work, NULL, NULL);
}

/* ---- SEARCH ---- */

struct search_ctx {
	struct imap_job		*j;
	const struct imap_search *q;
	struct mailbox_msg	 m;
	uint32_t		 seq, exists, maxuid;
	/* the message, read when a key needs it */
	bool			 read, readerr;
	struct buf		 text;		/* the whole message */
	size_t			 hdrlen;	/* its header section */
};

static bool
ci_contains(const char *hay, size_t hn, const char *needle, size_t nn)
{
	size_t i, k;

	if (nn == 0)
		return true;
	for (i = 0; i + nn <= hn; i++) {
		for (k = 0; k < nn; k++)
			if (tolower((unsigned char)hay[i + k]) !=
			    tolower((unsigned char)needle[k]))
				break;
		if (k == nn)
			return true;
	}
	return false;
}

static void
read_message(struct search_ctx *x)
{
	struct mailbox_err err;
	uint64_t size;
	char chunk[65536];
	ssize_t r;
	off_t off = 0;
	int fd;
	const char *end;

	x->read = true;
	buf_truncate(&x->text, 0);
	if (mailbox_msg_open(x->j->box.view, x->m.uid, &fd, &size, &err) != 1) {
		x->readerr = true;
		return;
	}
	while (x->text.len < SEARCH_TEXT_MAX &&
	    (r = pread(fd, chunk, sizeof(chunk), off)) > 0) {
		(void)buf_append(&x->text, chunk, (size_t)r);
		off += r;
	}
	(void)close(fd);
	end = x->text.len > 0 ? memmem(x->text.data, x->text.len, "\n\n", 2) :
	    NULL;
	x->hdrlen = end != NULL ? (size_t)(end - x->text.data) + 1 :
	    x->text.len;
}

struct field_match {
	const struct imap_str	*want;
	bool			 found;
};

static void
field_cb(const char *body, size_t len, void *arg)
{
	struct field_match *fm = arg;
	struct buf dec;

	if (fm->found)
		return;
	buf_init(&dec, MIME_FIELD_MAX * 2);
	if (mime_decode_words(body, len, &dec) == 0)
		fm->found = ci_contains(dec.data != NULL ? dec.data : "",
		    dec.len, fm->want->s, fm->want->len);
	else
		fm->found = ci_contains(body, len, fm->want->s,
		    fm->want->len);
	buf_free(&dec);
}

static bool
header_has(struct search_ctx *x, const char *name, const struct imap_str *v)
{
	struct field_match fm = { v, false };
	char *hdr;

	if (!x->read)
		read_message(x);
	if (x->readerr)
		return false;
	/* rfc5322_fields() unfolds in place: a copy. */
	hdr = xmalloc(x->hdrlen + 1);
	memcpy(hdr, x->text.data, x->hdrlen);
	hdr[x->hdrlen] = '\0';
	if (rfc5322_fields(hdr, x->hdrlen, name, field_cb, &fm) == 0 &&
	    v->len == 0)
		fm.found = false;
	else if (v->len == 0)
		fm.found = true;	/* HEADER name "": the field exists */
	free(hdr);
	return fm.found;
}

static bool
text_has(struct search_ctx *x, const struct imap_str *v, bool whole)
{
	if (!x->read)
		read_message(x);
	if (x->readerr)
		return false;
	return whole ? ci_contains(x->text.data, x->text.len, v->s, v->len) :
	    ci_contains(x->text.data + x->hdrlen, x->text.len - x->hdrlen,
	    v->s, v->len);
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static long
days_of(long y, long m, long d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The day of an RFC 5322 date ("Tue, 1 Jul 2003 10:52:37 +0200"; the
   time and zone disregarded, RFC 9051 6.4.4), or -1. */
static long
date_day(const char *s)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	char mon[4];
	long d, y;
	const char *p;
	int n = 0;

	if ((p = strchr(s, ',')) != NULL)
		s = p + 1;
	if (sscanf(s, " %ld %3s %ld%n", &d, mon, &y, &n) != 3 || n == 0)
		return -1;
	mon[0] = (char)tolower((unsigned char)mon[0]);
	mon[1] = (char)tolower((unsigned char)mon[1]);
	mon[2] = (char)tolower((unsigned char)mon[2]);
	mon[3] = '\0';
	if ((p = strstr(months, mon)) == NULL || (p - months) % 3 != 0 ||
	    d < 1 || d > 31)
		return -1;
	if (y < 50)
		y += 2000;	/* RFC 5322 4.3: obsolete two-digit years */
	else if (y < 1000)
		y += 1900;
	return days_of(y, (p - months) / 3 + 1, d);
}

/* The Date: field's day, for SENT*; -1 when it has none. */
static long
sent_day(struct search_ctx *x)
{
	struct mime_tree *t;
	const struct mime_part *root;
	long day = -1;

	if (!x->read)
		read_message(x);
	if (x->readerr)
		return -1;
	t = mime_parse(x->text.data, x->hdrlen);
	root = t != NULL ? mime_tree_root(t) : NULL;
	if (root != NULL && root->env != NULL &&
	    root->env->field[MIME_ENV_DATE] != NULL)
		day = date_day(root->env->field[MIME_ENV_DATE]);
	mime_tree_free(&t);
	return day;
}

static bool eval(struct search_ctx *, uint32_t node);

static bool
eval_children(struct search_ctx *x, uint32_t first, bool any)
{
	const struct imap_search_node *v = x->q->node;
	uint32_t i;

	for (i = first; i != 0; i = v[i].next) {
		bool r = eval(x, i);

		if (any && r)
			return true;
		if (!any && !r)
			return false;
	}
	return !any;
}

static bool
has_kw(struct search_ctx *x, const struct imap_str *k)
{
	const char *kw;
	unsigned i;

	for (i = 0; i < 128 && (kw = mailbox_view_keyword(x->j->box.view,
	    i)) != NULL; i++)
		if (strcasecmp(kw, k->s) == 0)
			return (x->m.keywords[i / 64] >> (i % 64)) & 1;
	return false;
}

static bool
eval_field(struct search_ctx *x, const struct imap_search_node *n)
{
	switch (n->key) {
	case IMAP_SK_BCC:
		return header_has(x, "Bcc", &n->u.str);
	case IMAP_SK_CC:
		return header_has(x, "Cc", &n->u.str);
	case IMAP_SK_FROM:
		return header_has(x, "From", &n->u.str);
	case IMAP_SK_TO:
		return header_has(x, "To", &n->u.str);
	case IMAP_SK_SUBJECT:
		return header_has(x, "Subject", &n->u.str);
	case IMAP_SK_HEADER:
		return header_has(x, n->u.header.name.s, &n->u.header.value);
	case IMAP_SK_BODY:
		return text_has(x, &n->u.str, false);
	default:	/* TEXT */
		return text_has(x, &n->u.str, true);
	}
}

static bool
eval(struct search_ctx *x, uint32_t i)
{
	const struct imap_search_node *n = &x->q->node[i];
	unsigned f = x->m.flags;
	long day = (long)(x->m.internaldate / 86400), want;

	switch (n->key) {
	case IMAP_SK_AND:
		return eval_children(x, n->child, false);
	case IMAP_SK_OR:
		return eval_children(x, n->child, true);
	case IMAP_SK_NOT:
		return !eval(x, n->child);
	case IMAP_SK_ALL:
		return true;
	case IMAP_SK_ANSWERED: return (f & MAILBOX_ANSWERED) != 0;
	case IMAP_SK_DELETED: return (f & MAILBOX_DELETED) != 0;
	case IMAP_SK_DRAFT: return (f & MAILBOX_DRAFT) != 0;
	case IMAP_SK_FLAGGED: return (f & MAILBOX_FLAGGED) != 0;
	case IMAP_SK_SEEN: return (f & MAILBOX_SEEN) != 0;
	case IMAP_SK_UNANSWERED: return !(f & MAILBOX_ANSWERED);
	case IMAP_SK_UNDELETED: return !(f & MAILBOX_DELETED);
	case IMAP_SK_UNDRAFT: return !(f & MAILBOX_DRAFT);
	case IMAP_SK_UNFLAGGED: return !(f & MAILBOX_FLAGGED);
	case IMAP_SK_UNSEEN: return !(f & MAILBOX_SEEN);
	case IMAP_SK_NEW: return x->m.recent && !(f & MAILBOX_SEEN);
	case IMAP_SK_OLD: return !x->m.recent;
	case IMAP_SK_RECENT: return x->m.recent;
	case IMAP_SK_KEYWORD: return has_kw(x, &n->u.str);
	case IMAP_SK_UNKEYWORD: return !has_kw(x, &n->u.str);
	case IMAP_SK_LARGER: return x->m.size > n->u.number;
	case IMAP_SK_SMALLER: return x->m.size < n->u.number;
	case IMAP_SK_BEFORE: return day < (long)(n->u.date.t / 86400);
	case IMAP_SK_ON: return day == (long)(n->u.date.t / 86400);
	case IMAP_SK_SINCE: return day >= (long)(n->u.date.t / 86400);
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		want = (long)(n->u.date.t / 86400);
		day = sent_day(x);
		return day >= 0 && (n->key == IMAP_SK_SENTBEFORE ?
		    day < want : n->key == IMAP_SK_SENTON ? day == want :
		    day >= want);
	case IMAP_SK_SEQSET:
		if (n->u.set.saved)
			return false;	/* "$" is a UID list: see below */
		return imap_seqset_contains(&n->u.set, x->seq, x->exists);
	case IMAP_SK_UID:
		if (n->u.set.saved) {
			size_t k;

			for (k = 0; k < x->j->box.nsaved; k++)
				if (x->j->box.saved[k] == x->m.uid)
					return true;
			return false;
		}
		return imap_seqset_contains(&n->u.set, x->m.uid, x->maxuid);
	case IMAP_SK_MODSEQ:
		return x->m.modseq >= n->u.modseq.value;
	default:
		return eval_field(x, n);
	}
}

/* The results, as SEARCH or ESEARCH (RFC 4731) wants them. */
static void
search_reply(struct imap_job *j, const uint32_t *v, uint32_t *uids,
    size_t n, uint64_t maxmod)
{
	const struct imap_search *q = &j->box.cmd.search;
	bool uid = j->box.cmd.uid;
	size_t i;

	if (q->ret & IMAP_SEARCH_RET_SAVE) {
		/* RFC 5182: "$" is kept as UIDs, whatever the numbers. */
		free(j->box.saved);
		j->box.saved = NULL;
		j->box.nsaved = n;
		if (n > 0) {
			j->box.saved = uids;
			uids = NULL;
		}
	}
	free(uids);
	if (!q->esearch) {
		(void)buf_append_str(&j->out, "* SEARCH");
		for (i = 0; i < n; i++)
			(void)buf_printf(&j->out, " %u", v[i]);
		if (maxmod != 0)
			(void)buf_printf(&j->out, " (MODSEQ %llu)",
			    (unsigned long long)maxmod);
		(void)buf_append_str(&j->out, "\r\n");
		return;
	}
	(void)buf_printf(&j->out, "* ESEARCH (TAG \"%s\")%s", j->tag,
	    uid ? " UID" : "");
	if ((q->ret & IMAP_SEARCH_RET_MIN) && n > 0)
		(void)buf_printf(&j->out, " MIN %u", v[0]);
	if ((q->ret & IMAP_SEARCH_RET_MAX) && n > 0)
		(void)buf_printf(&j->out, " MAX %u", v[n - 1]);
	if (q->ret & IMAP_SEARCH_RET_COUNT)
		(void)buf_printf(&j->out, " COUNT %zu", n);
	if ((q->ret & IMAP_SEARCH_RET_ALL || q->ret == 0) && n > 0) {
		(void)buf_append_str(&j->out, " ALL ");
		imap_put_uidset(&j->out, v, n);
	}
	if (maxmod != 0)
		(void)buf_printf(&j->out, " MODSEQ %llu",
		    (unsigned long long)maxmod);
	(void)buf_append_str(&j->out, "\r\n");
}

static bool
uses_modseq(const struct imap_search *q)
{
	size_t i;

	for (i = 0; i < q->nnodes; i++)
		if (q->node[i].key == IMAP_SK_MODSEQ)
			return true;
	return false;
}

static void
search_work(struct imap_job *j, struct backends *b)
{
	const struct imap_search *q = &j->box.cmd.search;
	struct mailbox_view_info vi;
	struct search_ctx x;
	uint32_t *out = NULL, *uids;
	uint64_t maxmod = 0;
	size_t n = 0;
	bool modseq = uses_modseq(q);

	(void)b;
	if (q->charset.s != NULL && strcasecmp(q->charset.s, "UTF-8") != 0 &&
	    strcasecmp(q->charset.s, "US-ASCII") != 0) {
		imap_job_no(j, "[BADCHARSET (UTF-8 US-ASCII)] Unsupported "
		    "charset");
		return;
	}
	memset(&x, 0, sizeof(x));
	x.j = j;
	x.q = q;
	buf_init(&x.text, SEARCH_TEXT_MAX + 65536);
	mailbox_view_get_info(j->box.view, &vi);
	x.exists = vi.exists;
	x.maxuid = vi.exists > 0 ? mailbox_view_uid(j->box.view, vi.exists) :
	    0;
	out = xreallocarray(NULL, vi.exists + 1, sizeof(*out));
	uids = xreallocarray(NULL, vi.exists + 1, sizeof(*uids));
	for (x.seq = 1; x.seq <= vi.exists; x.seq++) {
		if (mailbox_view_msgs(j->box.view, x.seq, x.seq, &x.m) == -1 ||
		    x.m.expunged)
			continue;
		x.read = x.readerr = false;
		if (!eval(&x, 0))
			continue;
		uids[n] = x.m.uid;
		out[n++] = j->box.cmd.uid ? x.m.uid : x.seq;
		if (modseq && x.m.modseq > maxmod)
			maxmod = x.m.modseq;
	}
	buf_free(&x.text);
	search_reply(j, out, uids, n, maxmod);
	free(out);
	imap_job_changes(j, false);
	imap_job_ok(j, "%sSEARCH completed", j->box.cmd.uid ? "UID " : "");
}

void
imap_cmd_search(struct imap_session *s)
{
	imap_job_submit(s, search_work, NULL, NULL);
}
