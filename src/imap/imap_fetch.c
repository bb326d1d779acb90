/*
 * imap_fetch.c - FETCH and UID FETCH (RFC 9051 6.4.5, 7.5.2; RFC 7162
 * CHANGEDSINCE and VANISHED), on the io pool.
 *
 * The MIME structure of a message (ENVELOPE, BODYSTRUCTURE, sections)
 * comes from the folder index's cache, else from one streaming parse of
 * the file, which is then cached. Sections are read straight from the
 * file, LF turned into CRLF on the way, cut to <origin.count> in CRLF
 * octets. A fetch stops after about a megabyte of responses and goes on
 * when the client has read them (imap_job.c). A body fetch without
 * .PEEK sets \Seen once for each stretch of messages, before their
 * responses, which then carry the new FLAGS.
 */
#include <errno.h>
#include <unistd.h>

#include "imap/imap_int.h"
#include "imap/imap_body.h"
#include "mime/mime.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define FETCH_STRETCH	256	/* messages per \Seen update */
#define FETCH_CHUNK	(16 * 1024)	/* octets converted per call */

struct fetch_arg {
	uint32_t	*uids;
	size_t		 n, next;
	bool		 started;
};

static void
fetch_free(void *arg)
{
	struct fetch_arg *a = arg;

	free(a->uids);
	free(a);
}

/* ---- the MIME tree of a message ---- */

static struct mime_tree *
parse_file(int fd)
{
	struct mime_parser *p = mime_parser_new();
	char chunk[65536];
	off_t off = 0;
	ssize_t r;

	while ((r = pread(fd, chunk, sizeof(chunk), off)) > 0) {
		mime_parser_feed(p, chunk, (size_t)r);
		off += r;
	}
	if (r == -1) {
		mime_parser_free(&p);
		return NULL;
	}
	return mime_parser_finish(&p);
}

static struct mime_tree *
message_tree(struct imap_job *j, uint32_t uid, int fd)
{
	struct mime_tree *t = NULL;
	struct mailbox_err err;
	struct buf b;

	buf_init(&b, MAILBOX_CACHE_MAX);
	if (mailbox_cache_get(j->box.view, uid, &b) == 1)
		t = mime_tree_decode(b.data, b.len);
	if (t == NULL && (t = parse_file(fd)) != NULL) {
		buf_truncate(&b, 0);
		if (mime_tree_encode(t, &b) == 0)
			(void)!mailbox_cache_put(j->box.view, uid, b.data,
			    b.len, &err);
	}
	buf_free(&b);
	return t;
}

/* ---- sections ---- */

static const char *const text_names[] = {
	[IMAP_SECTION_ALL] = "", [IMAP_SECTION_HEADER] = "HEADER",
	[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
	[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
	[IMAP_SECTION_TEXT] = "TEXT", [IMAP_SECTION_MIME] = "MIME",
};

/* The item's name as the response gives it: "BODY[1.HEADER]<0>". */
static void
put_item_name(struct buf *out, const struct imap_fetch_att *a)
{
	const struct imap_section *sec = &a->section;
	size_t i;

	if (a->kind == IMAP_FETCH_RFC822 || a->kind == IMAP_FETCH_RFC822_TEXT ||
	    a->kind == IMAP_FETCH_RFC822_HEADER) {
		(void)buf_append_str(out, a->kind == IMAP_FETCH_RFC822 ?
		    "RFC822" : a->kind == IMAP_FETCH_RFC822_TEXT ?
		    "RFC822.TEXT" : "RFC822.HEADER");
		return;
	}
	(void)buf_append_str(out, "BODY[");
	for (i = 0; i < sec->nparts; i++)
		(void)buf_printf(out, "%s%u", i > 0 ? "." : "", sec->part[i]);
	if (sec->text != IMAP_SECTION_ALL)
		(void)buf_printf(out, "%s%s", sec->nparts > 0 ? "." : "",
		    text_names[sec->text]);
	if (sec->text == IMAP_SECTION_HEADER_FIELDS ||
	    sec->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
		(void)buf_append_str(out, " (");
		for (i = 0; i < sec->nfields; i++)
			(void)buf_printf(out, "%s%s", i > 0 ? " " : "",
			    sec->field[i].s);
		(void)buf_putc(out, ')');
	}
	(void)buf_putc(out, ']');
	if (a->partial)
		(void)buf_printf(out, "<%llu>", (unsigned long long)a->offset);
}

static enum mime_sec_kind
sec_kind(const struct imap_fetch_att *a)
{
	switch (a->kind) {
	case IMAP_FETCH_RFC822_HEADER:
		return MIME_SEC_HEADER;
	case IMAP_FETCH_RFC822_TEXT:
		return MIME_SEC_TEXT;
	case IMAP_FETCH_RFC822:
		return MIME_SEC_BODY;
	default:
		break;
	}
	switch (a->section.text) {
	case IMAP_SECTION_HEADER:
		return MIME_SEC_HEADER;
	case IMAP_SECTION_HEADER_FIELDS:
		return MIME_SEC_HEADER_FIELDS;
	case IMAP_SECTION_HEADER_FIELDS_NOT:
		return MIME_SEC_HEADER_FIELDS_NOT;
	case IMAP_SECTION_TEXT:
		return MIME_SEC_TEXT;
	case IMAP_SECTION_MIME:
		return MIME_SEC_MIME;
	default:
		return MIME_SEC_BODY;
	}
}

/* HEADER.FIELDS (...): the selected fields, already CRLF, into LIT. */
static int
filtered_fields(const struct imap_fetch_att *a, int fd,
    const struct mime_range *r, struct buf *lit)
{
	const char *names[IMAP_LIST_MAX + 1];
	char *hdr;
	size_t i, n = r->len > MIME_HEADER_MAX ? MIME_HEADER_MAX :
	    (size_t)r->len;
	ssize_t got;
	int rc;

	for (i = 0; i < a->section.nfields && i < IMAP_LIST_MAX; i++)
		names[i] = a->section.field[i].s;
	names[i] = NULL;
	hdr = xmalloc(n + 1);
	got = pread(fd, hdr, n, (off_t)r->off);
	rc = got < 0 ? -1 : mime_header_filter(hdr, (size_t)got,
	    mime_name_in, names, a->section.text ==
	    IMAP_SECTION_HEADER_FIELDS_NOT, lit);
	free(hdr);
	return rc;
}

/* Appends the literal of a section of the message in FD. */
static int
put_section(struct buf *out, const struct imap_fetch_att *a,
    const struct mime_tree *t, int fd)
{
	struct mime_section sec = { a->section.part, a->section.nparts,
		sec_kind(a) };
	struct mime_crlf_reader rd;
	struct mime_range r;
	struct buf lit;
	uint64_t n, count = a->partial ? a->length : UINT64_MAX;
	ssize_t got;
	char *p;

	if (mime_section_range(t, &sec, &r) != 1) {
		(void)buf_append_str(out, "\"\"");
		return 0;
	}
	if (sec.kind == MIME_SEC_HEADER_FIELDS ||
	    sec.kind == MIME_SEC_HEADER_FIELDS_NOT) {
		buf_init(&lit, MIME_HEADER_MAX + 4096);
		if (filtered_fields(a, fd, &r, &lit) == -1) {
			buf_free(&lit);
			return -1;
		}
		n = lit.len;
		if (a->partial)
			n = a->offset >= n ? 0 : n - a->offset > count ?
			    count : n - a->offset;
		(void)buf_printf(out, "{%llu}\r\n", (unsigned long long)n);
		(void)buf_append(out, lit.data + (a->partial ? (n == 0 ? 0 :
		    a->offset) : 0), (size_t)n);
		buf_free(&lit);
		return 0;
	}
	n = mime_partial_len(r.len_crlf, a->partial ? a->offset : 0, count);
	(void)buf_printf(out, "{%llu}\r\n", (unsigned long long)n);
	mime_crlf_init(&rd, fd, &r, a->partial ? a->offset : 0, count);
	/* Converted straight into the output. For a big literal, room at
	   once for what this job will write (it stops past
	   IMAP_JOB_OUT_MAX), so the output is never moved as it grows. */
	if (n >= FETCH_CHUNK && buf_space(out, (size_t)(n < IMAP_JOB_OUT_MAX ?
	    n : IMAP_JOB_OUT_MAX) + (out->len < IMAP_JOB_OUT_MAX ?
	    IMAP_JOB_OUT_MAX - out->len : 0)) == NULL)
		return -1;
	do {
		if ((p = buf_space(out, FETCH_CHUNK)) == NULL)
			return -1;
		if ((got = mime_crlf_read(&rd, p, FETCH_CHUNK)) > 0)
			buf_commit(out, (size_t)got);
	} while (got > 0);
	return got == -1 ? -1 : 0;
}

/* ---- BINARY (RFC 3516, RFC 9051 6.4.5) ---- */

/* The part the section names: the message itself for none. */
static const struct mime_part *
binary_part(const struct mime_tree *t, const struct imap_section *sec)
{
	const struct mime_part *p = mime_tree_root(t);
	size_t i;
	uint32_t k;

	for (i = 0; i < sec->nparts && p != NULL; i++) {
		if (p->flags & MIME_PART_MESSAGE)
			p = p->children;	/* into the message */
		if (p == NULL || !(p->flags & MIME_PART_MULTIPART)) {
			if (sec->part[i] != 1 || i + 1 != sec->nparts)
				return NULL;
			return p;	/* part 1 of a single part: itself */
		}
		for (p = p->children, k = 1; p != NULL && k < sec->part[i];
		    k++)
			p = p->next;
	}
	return p;
}

/* The decoded content of part P of the message in FD into OUT. -1 on a
   read error; -2 for an unknown encoding. */
static int
decode_part(const struct mime_part *p, int fd, bool whole, struct buf *out)
{
	struct imap_decoder d;
	enum imap_cte cte = whole ? IMAP_CTE_IDENTITY :
	    imap_cte_of(p->encoding);
	uint64_t off = whole ? p->hdr_off : p->body_off, left = whole ?
	    p->hdr_size + p->body_size : p->body_size;
	char chunk[65536];
	ssize_t r;

	if (cte == IMAP_CTE_UNKNOWN)
		return -2;
	imap_decode_init(&d, cte);
	while (left > 0) {
		r = pread(fd, chunk, left > sizeof(chunk) ? sizeof(chunk) :
		    (size_t)left, (off_t)off);
		if (r <= 0)
			return -1;
		if (imap_decode(&d, chunk, (size_t)r, out) == -1)
			return -1;
		off += (uint64_t)r;
		left -= (uint64_t)r;
	}
	return imap_decode_end(&d, out);
}

static int
put_binary(struct imap_job *j, struct buf *out, const struct imap_fetch_att *a,
    const struct mime_tree *t, int fd)
{
	const struct mime_part *p = binary_part(t, &a->section);
	struct buf dec;
	uint64_t off = a->partial ? a->offset : 0, n;
	size_t i;
	int r;

	(void)buf_append_str(out, a->kind == IMAP_FETCH_BINARY_SIZE ?
	    "BINARY.SIZE[" : "BINARY[");
	for (i = 0; i < a->section.nparts; i++)
		(void)buf_printf(out, "%s%u", i > 0 ? "." : "",
		    a->section.part[i]);
	(void)buf_putc(out, ']');
	if (a->partial && a->kind == IMAP_FETCH_BINARY)
		(void)buf_printf(out, "<%llu>", (unsigned long long)off);
	if (p == NULL || (p->flags & MIME_PART_MULTIPART)) {
		(void)buf_append_str(out, a->kind == IMAP_FETCH_BINARY_SIZE ?
		    " 0" : " \"\"");
		return 0;
	}
	buf_init(&dec, j->s->cfg->max_message_size * 2 + 4096);
	r = decode_part(p, fd, a->section.nparts == 0, &dec);
	if (r == -2) {
		buf_free(&dec);
		j->cte_unknown = true;
		return -1;
	}
	if (r == -1) {
		buf_free(&dec);
		return -1;
	}
	if (a->kind == IMAP_FETCH_BINARY_SIZE) {
		(void)buf_printf(out, " %zu", dec.len);
	} else {
		n = off >= dec.len ? 0 : dec.len - off;
		if (a->partial && n > a->length)
			n = a->length;
		/* RFC 3516: literal8 when the octets hold a NUL. */
		(void)buf_printf(out, " %s{%llu}\r\n", n > 0 && memchr(
		    dec.data + off, '\0', (size_t)n) != NULL ? "~" : "",
		    (unsigned long long)n);
		if (n > 0)
			(void)buf_append(out, dec.data + off, (size_t)n);
	}
	buf_free(&dec);
	return 0;
}

/* ---- one message ---- */

static bool
needs_file(const struct imap_fetch *f)
{
	size_t i;

	for (i = 0; i < f->natts; i++)
		if (f->att[i].kind == IMAP_FETCH_ENVELOPE ||
		    f->att[i].kind == IMAP_FETCH_BODY ||
		    f->att[i].kind == IMAP_FETCH_BODYSTRUCTURE ||
		    f->att[i].kind >= IMAP_FETCH_RFC822)
			return true;
	return false;
}

/* Whether the fetch sets \Seen (RFC 9051 6.4.5). */
static bool
sets_seen(const struct imap_fetch *f)
{
	size_t i;

	for (i = 0; i < f->natts; i++)
		if (((f->att[i].kind == IMAP_FETCH_BODY_SECTION ||
		    f->att[i].kind == IMAP_FETCH_BINARY) &&
		    !f->att[i].peek) || f->att[i].kind == IMAP_FETCH_RFC822 ||
		    f->att[i].kind == IMAP_FETCH_RFC822_TEXT)
			return true;
	return false;
}

static bool
has_att(const struct imap_fetch *f, enum imap_fetch_kind k)
{
	size_t i;

	for (i = 0; i < f->natts; i++)
		if (f->att[i].kind == k)
			return true;
	return false;
}

/* One item of message M (file FD, tree T) into OUT. -1 on a read
   error. */
static int
put_item(struct imap_job *j, const struct imap_fetch_att *a,
    const struct mailbox_msg *m, const struct mime_tree *t, int fd,
    struct buf *out)
{
	switch (a->kind) {
	case IMAP_FETCH_FLAGS:
		(void)buf_append_str(out, "FLAGS ");
		imap_put_flags(j, m, out);
		return 0;
	case IMAP_FETCH_UID:
		return 0;	/* first, always (fetch_one) */
	case IMAP_FETCH_INTERNALDATE:
		(void)buf_append_str(out, "INTERNALDATE ");
		return imap_put_datetime(out, (time_t)m->internaldate, 0);
	case IMAP_FETCH_RFC822_SIZE:
		return buf_printf(out, "RFC822.SIZE %llu",
		    (unsigned long long)m->size) < 0 ? -1 : 0;
	case IMAP_FETCH_MODSEQ:
		return buf_printf(out, "MODSEQ (%llu)",
		    (unsigned long long)m->modseq) < 0 ? -1 : 0;
	case IMAP_FETCH_ENVELOPE:
		(void)buf_append_str(out, "ENVELOPE ");
		return imap_body_envelope(mime_tree_root(t), out);
	case IMAP_FETCH_BODY:
	case IMAP_FETCH_BODYSTRUCTURE:
		(void)buf_append_str(out, a->kind == IMAP_FETCH_BODY ?
		    "BODY " : "BODYSTRUCTURE ");
		return imap_body_structure(mime_tree_root(t), a->kind ==
		    IMAP_FETCH_BODYSTRUCTURE, out);
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE:
		return put_binary(j, out, a, t, fd);
	default:
		put_item_name(out, a);
		(void)buf_putc(out, ' ');
		return put_section(out, a, t, fd);
	}
}

/* "* SEQ FETCH (...)" of UID. 0, or -1 (J says why). */
static int
fetch_one(struct imap_job *j, const struct imap_fetch *f, uint32_t uid,
    bool seen_set)
{
	uint32_t seq = mailbox_view_seq(j->box.view, uid);
	struct mime_tree *t = NULL;
	struct mailbox_msg m;
	struct mailbox_err err;
	uint64_t size;
	int fd = -1, rc = 0;
	size_t i, start;
	bool flags = has_att(f, IMAP_FETCH_FLAGS);

	if (seq == 0 || mailbox_view_msgs(j->box.view, seq, seq, &m) == -1)
		return 0;
	if (needs_file(f)) {
		if (mailbox_msg_open(j->box.view, uid, &fd, &size, &err) != 1)
			return 0;	/* gone meanwhile: nothing to say */
		if ((t = message_tree(j, uid, fd)) == NULL) {
			(void)close(fd);
			j->log_why = "fetch";
			(void)str_fmt(j->log_text, sizeof(j->log_text),
			    "cannot read uid %u: %s", uid, strerror(errno));
			return -1;
		}
	}
	start = j->out.len;
	(void)buf_printf(&j->out, "* %u FETCH (UID %u", seq, uid);
	for (i = 0; i < f->natts && rc == 0; i++) {
		if (f->att[i].kind == IMAP_FETCH_UID)
			continue;
		(void)buf_putc(&j->out, ' ');
		rc = put_item(j, &f->att[i], &m, t, fd, &j->out);
	}
	/* A changed \Seen, or what CONDSTORE clients are owed. */
	if (rc == 0 && seen_set && !flags) {
		(void)buf_append_str(&j->out, " FLAGS ");
		imap_put_flags(j, &m, &j->out);
	}
	if (rc == 0 && !has_att(f, IMAP_FETCH_MODSEQ) &&
	    (f->changedsince_set || ((j->box.enabled & IMAP_EN_CONDSTORE) &&
	    (flags || seen_set))))
		(void)buf_printf(&j->out, " MODSEQ (%llu)",
		    (unsigned long long)m.modseq);
	(void)buf_append_str(&j->out, ")\r\n");
	if (rc == -1)
		buf_truncate(&j->out, start);	/* no half response */
	mime_tree_free(&t);
	if (fd != -1)
		(void)close(fd);
	return rc;
}

/* \Seen for the next stretch of UIDS that need it; true when any
   changed (their responses carry FLAGS). */
static bool
mark_seen(struct imap_job *j, const uint32_t *uids, size_t n)
{
	struct mailbox_store st;
	struct mailbox_store_result res;
	struct mailbox_err err;
	bool any;

	memset(&st, 0, sizeof(st));
	st.op = MAILBOX_STORE_ADD;
	st.flags = MAILBOX_SEEN;
	memset(&res, 0, sizeof(res));
	if (mailbox_store(j->box.view, uids, n, &st, &res, &err) == -1)
		return false;
	any = res.nchanged > 0;
	mailbox_store_result_free(&res);
	return any;
}

static bool
start(struct imap_job *j, struct fetch_arg *a)
{
	const struct imap_cmd *c = &j->box.cmd;
	struct mailbox_view_info vi;

	a->started = true;
	mailbox_view_get_info(j->box.view, &vi);
	if (!imap_job_seq_ok(j, &c->set, c->uid, vi.exists)) {
		imap_job_bad(j, "Invalid message sequence number (%u "
		    "messages)", vi.exists);
		return false;
	}
	a->uids = imap_job_uids(j, &c->set, c->uid, &a->n);
	if (c->fetch.vanished && c->fetch.changedsince_set) {
		if (!(j->box.enabled & IMAP_EN_QRESYNC)) {
			imap_job_bad(j, "VANISHED needs ENABLE QRESYNC");
			return false;
		}
		imap_job_vanished_earlier(j, c->fetch.changedsince, &c->set);
	}
	return true;
}

static void
fetch_work(struct imap_job *j, struct backends *b)
{
	struct fetch_arg *a = j->arg;
	const struct imap_fetch *f = &j->box.cmd.fetch;
	struct mailbox_msg m;
	bool seen = sets_seen(f) && !j->box.readonly, changed = false;
	size_t stretch_end = 0;
	uint32_t seq;

	(void)b;
	if (!a->started && !start(j, a))
		return;
	while (a->next < a->n) {
		if (imap_job_full(j)) {
			j->more = true;
			return;
		}
		if (seen && a->next >= stretch_end) {
			stretch_end = a->next + FETCH_STRETCH < a->n ?
			    a->next + FETCH_STRETCH : a->n;
			changed = mark_seen(j, a->uids + a->next,
			    stretch_end - a->next);
		}
		if (f->changedsince_set) {
			seq = mailbox_view_seq(j->box.view, a->uids[a->next]);
			if (seq == 0 || mailbox_view_msgs(j->box.view, seq,
			    seq, &m) == -1 || m.modseq <= f->changedsince) {
				a->next++;
				continue;
			}
		}
		if (fetch_one(j, f, a->uids[a->next], changed) == -1) {
			if (j->cte_unknown)
				imap_job_no(j, "[UNKNOWN-CTE] A part has a "
				    "transfer encoding this server cannot "
				    "decode");
			else
				imap_job_no(j, "[SERVERBUG] Cannot read a "
				    "message");
			return;
		}
		a->next++;
	}
	imap_job_changes(j, false);
	imap_job_ok(j, "%sFETCH completed", j->box.cmd.uid ? "UID " : "");
}

void
imap_cmd_fetch(struct imap_session *s)
{
	imap_job_submit(s, fetch_work, xcalloc(1, sizeof(struct fetch_arg)),
	    fetch_free);
}
