/*
 * imap_job.c - a command's mailbox work on the io pool (mailbox.h calls
 * block on the disk), and what every selected-state command ends with:
 * the untagged responses that tell the client what other sessions,
 * deliveries and programs changed (RFC 9051 7.4.1, 5.2; RFC 7162).
 *
 * The session's box (its folder handles and the parsed command) moves
 * into the job and back in done(): a session that goes while a worker
 * runs leaves the box to the job's release, never freed under it. A
 * job that has written IMAP_JOB_OUT_MAX octets stops (MORE); done()
 * sends what it has and the output hook starts the rest once the client
 * has read it, so a FETCH of a whole folder never sits in memory.
 */
#include <stdarg.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "imap/imap_int.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

void
imap_box_free(struct imap_box *b)
{
	mailbox_view_close(&b->view);
	mailbox_user_free(&b->user);
	imap_parser_free(&b->parser);
	free(b->saved);
	b->saved = NULL;
	b->nsaved = 0;
}

static void
job_release(void *arg)
{
	struct imap_job *j = arg;

	if (j->arg_free != NULL)
		j->arg_free(j->arg);
	imap_box_free(&j->box);
	buf_free(&j->out);
	free(j);
}

static void
job_work(void *ctx, void *arg)
{
	struct imap_job *j = arg;

	j->more = false;
	j->work(j, ctx);
}

static void
free_out(const void *data, size_t len, void *arg)
{
	(void)len, (void)arg;
	free((void *)data);
}

/* The job's output into the connection: small answers copied, big ones
   (FETCH of bodies) handed over whole, not copied again. */
static void
send_out(struct imap_job *j, struct evbuffer *out)
{
	size_t len;
	char *p;

	if (j->out.len < 16 * 1024) {
		(void)evbuffer_add(out, j->out.data, j->out.len);
		buf_truncate(&j->out, 0);
		return;
	}
	p = buf_steal(&j->out, &len);
	if (evbuffer_add_reference(out, p, len, free_out, NULL) == -1) {
		(void)evbuffer_add(out, p, len);
		free(p);
	}
}

static void
job_done(void *arg)
{
	struct imap_job *j = arg;
	struct imap_session *s = j->s;
	struct evbuffer *out = bufferevent_get_output(s->conn->bev);

	s->base.job = NULL;
	s->box = j->box;
	memset(&j->box, 0, sizeof(j->box));
	if (j->log_why != NULL)
		log_error("sess=%s imap %s: %s", s->conn->id, j->log_why,
		    j->log_text);
	if (!s->base.life.dying)
		send_out(j, out);
	buf_truncate(&j->out, 0);
	if (j->state >= 0)
		imap_enter_state(s, (enum imap_state)j->state);
	j->state = -1;
	if (j->bye) {
		imap_close(s, "mailbox gone");
		job_release(j);
		return;
	}
	if (j->more) {
		/* The rest once the client has read this (imap_job_output). */
		s->pending = j;
		imap_resume(s);
		return;
	}
	job_release(j);
	imap_resume(s);
}

static const struct worker_ops job_ops = {
	job_work, job_done, job_release,
};

static void
submit(struct imap_session *s, struct imap_job *j)
{
	j->box = s->box;
	memset(&s->box, 0, sizeof(s->box));
	session_submit(&s->base, s->srv->d.io, &job_ops, j);
}

void
imap_job_submit(struct imap_session *s, imap_work_fn *work, void *arg,
    void (*arg_free)(void *))
{
	struct imap_job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	j->work = work;
	j->arg = arg;
	j->arg_free = arg_free;
	j->state = -1;
	(void)str_copy(j->tag, s->tag, sizeof(j->tag));
	buf_init(&j->out, BUF_UNLIMITED);
	submit(s, j);
}

enum session_input
imap_job_output(struct imap_session *s, struct evbuffer *out)
{
	struct imap_job *j = s->pending;

	if (j == NULL)
		return SESSION_INPUT_LINES;
	if (evbuffer_get_length(out) > IMAP_OUTPUT_MAX / 2)
		return SESSION_INPUT_WAIT;	/* on_write brings us back */
	s->pending = NULL;
	submit(s, j);
	return SESSION_INPUT_WAIT;
}

void
imap_job_cancel_pending(struct imap_session *s)
{
	if (s->pending == NULL)
		return;
	/* The session keeps its box: give it back first. */
	s->box = s->pending->box;
	memset(&s->pending->box, 0, sizeof(s->pending->box));
	job_release(s->pending);
	s->pending = NULL;
}

bool
imap_job_full(const struct imap_job *j)
{
	return j->out.len >= IMAP_JOB_OUT_MAX;
}

/* ---- tagged lines ---- */

static void
vtagged(struct imap_job *j, const char *status, const char *fmt, va_list ap)
{
	(void)buf_printf(&j->out, "%s %s ", j->tag, status);
	(void)buf_vprintf(&j->out, fmt, ap);
	(void)buf_append(&j->out, "\r\n", 2);
}

void
imap_job_ok(struct imap_job *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vtagged(j, "OK", fmt, ap);
	va_end(ap);
}

void
imap_job_no(struct imap_job *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vtagged(j, "NO", fmt, ap);
	va_end(ap);
}

void
imap_job_bad(struct imap_job *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vtagged(j, "BAD", fmt, ap);
	va_end(ap);
}

void
imap_job_err(struct imap_job *j, const struct mailbox_err *e)
{
	static const char *const codes[] = {
		[MAILBOX_ERR_NONE] = "", [MAILBOX_ERR_TEMP] = "[UNAVAILABLE] ",
		[MAILBOX_ERR_NONEXISTENT] = "[NONEXISTENT] ",
		[MAILBOX_ERR_EXISTS] = "[ALREADYEXISTS] ",
		[MAILBOX_ERR_CANNOT] = "[CANNOT] ",
		[MAILBOX_ERR_LIMIT] = "[LIMIT] ",
		[MAILBOX_ERR_GONE] = "[NONEXISTENT] ",
	};

	if (e->code == MAILBOX_ERR_TEMP) {
		j->log_why = "mailbox error";
		(void)str_copy(j->log_text, e->text, sizeof(j->log_text));
	}
	imap_job_no(j, "%s%s", (size_t)e->code < nitems(codes) ?
	    codes[e->code] : "", e->text[0] != '\0' ? e->text : "Failed");
}

/* ---- names ---- */

bool
imap_job_name(struct imap_job *j, const struct imap_mailbox *m,
    char out[MAILBOX_NAME_MAX + 1])
{
	if (m->inbox) {
		(void)str_copy(out, "INBOX", MAILBOX_NAME_MAX + 1);
		return true;
	}
	if (m->name.len > MAILBOX_NAME_MAX) {
		imap_job_no(j, "[CANNOT] Mailbox name too long");
		return false;
	}
	if (j->box.enabled & IMAP_EN_REV2) {
		(void)str_ncopy(out, m->name.s, m->name.len,
		    MAILBOX_NAME_MAX + 1);
		return true;
	}
	if (mailbox_mutf7_to_utf8(m->name.s, out, MAILBOX_NAME_MAX + 1) ==
	    -1) {
		imap_job_no(j, "[CANNOT] Bad modified UTF-7 in the mailbox "
		    "name");
		return false;
	}
	return true;
}

void
imap_put_name(struct imap_job *j, const char *name, struct buf *out)
{
	char m7[MAILBOX_NAME_MAX * 4 + 1];

	if (!(j->box.enabled & IMAP_EN_REV2) &&
	    mailbox_utf8_to_mutf7(name, m7, sizeof(m7)) == 0)
		name = m7;
	(void)imap_put_astring(out, name, strlen(name),
	    (j->box.enabled & IMAP_EN_REV2) ? IMAP_PUT_UTF8 : 0);
}

/* ---- messages ---- */

void
imap_put_flags(struct imap_job *j, const struct mailbox_msg *m,
    struct buf *out)
{
	static const struct {
		unsigned	 bit;
		const char	*name;
	} sys[] = {
		{ MAILBOX_SEEN, "\\Seen" }, { MAILBOX_ANSWERED, "\\Answered" },
		{ MAILBOX_FLAGGED, "\\Flagged" }, { MAILBOX_DELETED,
		"\\Deleted" }, { MAILBOX_DRAFT, "\\Draft" },
	};
	const char *sep = "";
	size_t i;

	(void)buf_putc(out, '(');
	for (i = 0; i < nitems(sys); i++)
		if (m->flags & sys[i].bit) {
			(void)buf_printf(out, "%s%s", sep, sys[i].name);
			sep = " ";
		}
	if (m->recent && !(j->box.enabled & IMAP_EN_REV2)) {
		(void)buf_printf(out, "%s\\Recent", sep);
		sep = " ";
	}
	/* Only the bits that are set: O(keywords of M), no lock (the
	   folder-wide count would walk the whole folder per message). */
	for (i = 0; i < 128; i++) {
		const char *kw;

		if (!(m->keywords[i / 64] & (UINT64_C(1) << (i % 64))) ||
		    (kw = mailbox_view_keyword(j->box.view, (unsigned)i)) ==
		    NULL)
			continue;
		(void)buf_printf(out, "%s%s", sep, kw);
		sep = " ";
	}
	(void)buf_putc(out, ')');
}

void
imap_put_permanent(struct imap_job *j, const struct mailbox_view_info *vi,
    bool permanent)
{
	unsigned i;

	(void)buf_append_str(&j->out, permanent ? "* OK [PERMANENTFLAGS (" :
	    "* FLAGS (");
	(void)buf_append_str(&j->out, "\\Answered \\Flagged \\Deleted "
	    "\\Seen \\Draft");
	for (i = 0; i < vi->nkeywords; i++)
		(void)buf_printf(&j->out, " %s", mailbox_view_keyword(
		    j->box.view, i));
	if (permanent)
		(void)buf_append_str(&j->out, j->box.readonly ? ")] Read-only" :
		    " \\*)] Flags and keywords are kept");
	else
		(void)buf_append_str(&j->out, ")");
	(void)buf_append_str(&j->out, "\r\n");
}

/* FETCH (FLAGS ...) for message SEQ after another session changed it. */
static void
flags_line(struct imap_job *j, uint32_t seq)
{
	struct mailbox_msg m;

	if (mailbox_view_msgs(j->box.view, seq, seq, &m) == -1)
		return;
	(void)buf_printf(&j->out, "* %u FETCH (", seq);
	if (j->box.enabled & (IMAP_EN_CONDSTORE | IMAP_EN_QRESYNC))
		(void)buf_printf(&j->out, "UID %u MODSEQ (%llu) ", m.uid,
		    (unsigned long long)m.modseq);
	else if (j->box.enabled & IMAP_EN_REV2)
		(void)buf_printf(&j->out, "UID %u ", m.uid);
	(void)buf_append_str(&j->out, "FLAGS ");
	imap_put_flags(j, &m, &j->out);
	(void)buf_append_str(&j->out, ")\r\n");
}

/* "1:3,7" of the ascending UIDS. */
void
imap_put_uidset(struct buf *out, const uint32_t *u, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		for (k = i; k + 1 < n && u[k + 1] == u[k] + 1; k++)
			continue;
		(void)buf_printf(out, "%s%u", i > 0 ? "," : "", u[i]);
		if (k > i)
			(void)buf_printf(out, ":%u", u[k]);
		i = k + 1;
	}
}

void
imap_job_changes(struct imap_job *j, bool expunges)
{
	struct mailbox_changes ch;
	struct mailbox_view_info before;
	struct mailbox_err err;
	size_t i;

	if (j->box.view == NULL)
		return;
	mailbox_view_get_info(j->box.view, &before);
	memset(&ch, 0, sizeof(ch));
	if (mailbox_view_sync(j->box.view, expunges, &ch, &err) == -1) {
		if (err.code == MAILBOX_ERR_GONE) {
			(void)buf_append_str(&j->out, "* BYE [NONEXISTENT] "
			    "The selected mailbox was deleted\r\n");
			j->bye = true;
		}
		return;
	}
	if (ch.keywords_added) {
		/* RFC 9051 7.3.5: a new keyword, a new FLAGS. */
		mailbox_view_get_info(j->box.view, &before);
		imap_put_permanent(j, &before, false);
		imap_put_permanent(j, &before, true);
	}
	if (ch.nexpunged > 0 && (j->box.enabled & IMAP_EN_QRESYNC)) {
		(void)buf_append_str(&j->out, "* VANISHED ");
		imap_put_uidset(&j->out, ch.vanished, ch.nexpunged);
		(void)buf_append_str(&j->out, "\r\n");
	} else {
		for (i = 0; i < ch.nexpunged; i++)
			(void)buf_printf(&j->out, "* %u EXPUNGE\r\n",
			    ch.expunged[i]);
	}
	/* An EXPUNGE says the count went down already; EXISTS only for
	   messages that came (RFC 9051 7.4.1). */
	if (ch.exists_changed && ch.exists + ch.nexpunged != before.exists) {
		(void)buf_printf(&j->out, "* %u EXISTS\r\n", ch.exists);
		if (!(j->box.enabled & IMAP_EN_REV2))
			(void)buf_printf(&j->out, "* %u RECENT\r\n",
			    ch.recent);
	}
	for (i = 0; i < ch.nchanged; i++)
		flags_line(j, ch.changed[i]);
	mailbox_changes_free(&ch);
}

static void
push(uint32_t **v, size_t *n, size_t *cap, uint32_t u)
{
	if (u == 0)
		return;
	if (*n == *cap) {
		*cap = *cap == 0 ? 64 : *cap * 2;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	(*v)[(*n)++] = u;
}

void
imap_job_vanished_earlier(struct imap_job *j, uint64_t modseq,
    const struct imap_seqset *known)
{
	struct mailbox_view_info vi;
	uint32_t *v = NULL, *out, u;
	size_t n = 0, k = 0, i;
	int r;

	mailbox_view_get_info(j->box.view, &vi);
	r = mailbox_view_vanished_since(j->box.view, modseq, &v, &n);
	if (r == -1)
		return;
	if (r == 0) {
		/* The history does not reach back: every UID the client may
		   know that the view has not (RFC 7162 3.2.5.2). */
		free(v);
		v = NULL;
		n = 0;
		for (u = 1; u < vi.uidnext && n < 1000000; u++)
			if ((known == NULL || known->n == 0 ||
			    imap_seqset_contains(known, u, vi.uidnext - 1)) &&
			    mailbox_view_seq(j->box.view, u) == 0) {
				v = xreallocarray(v, n + 1, sizeof(*v));
				v[n++] = u;
			}
	}
	out = xreallocarray(NULL, n + 1, sizeof(*out));
	for (i = 0; i < n; i++)
		if (known == NULL || known->n == 0 ||
		    imap_seqset_contains(known, v[i], vi.uidnext > 0 ?
		    vi.uidnext - 1 : 0))
			out[k++] = v[i];
	if (k > 0) {
		(void)buf_append_str(&j->out, "* VANISHED (EARLIER) ");
		imap_put_uidset(&j->out, out, k);
		(void)buf_append_str(&j->out, "\r\n");
	}
	free(out);
	free(v);
}

bool
imap_job_seq_ok(struct imap_job *j, const struct imap_seqset *set, bool uid,
    uint32_t exists)
{
	size_t i;

	(void)j;
	if (uid || set->saved || imap_seqset_in_bounds(set, exists))
		return true;
	/* "1:*" on an empty mailbox: nothing, not an error (clients send it
	   to list whatever there is, as Dovecot answers it). */
	if (exists == 0) {
		for (i = 0; i < set->n; i++)
			if (set->r[i].hi != IMAP_SEQ_STAR)
				return false;
		return true;
	}
	return false;
}

uint32_t *
imap_job_uids(struct imap_job *j, const struct imap_seqset *set, bool uid,
    size_t *n_r)
{
	struct mailbox_view_info vi;
	struct imap_range *r;
	struct imap_seq_iter it;
	uint32_t *out = NULL, n, last;
	size_t nr, cap = 0, cnt = 0, i;

	*n_r = 0;
	mailbox_view_get_info(j->box.view, &vi);
	if (vi.exists == 0)
		return NULL;
	if (set->saved) {
		/* "$": the UIDs SEARCH saved that are still here. */
		for (i = 0; i < j->box.nsaved; i++)
			if (mailbox_view_seq(j->box.view, j->box.saved[i]) != 0)
				push(&out, &cnt, &cap, j->box.saved[i]);
		*n_r = cnt;
		return out;
	}
	last = uid ? mailbox_view_uid(j->box.view, vi.exists) : vi.exists;
	r = xreallocarray(NULL, set->n + 1, sizeof(*r));
	nr = imap_seqset_resolve(set, last, r);
	if (!uid) {
		imap_seq_iter_init(&it, r, nr);
		while (imap_seq_iter_next(&it, &n) == 1)
			push(&out, &cnt, &cap, mailbox_view_uid(j->box.view,
			    n));
	} else {
		/* Both ascending: one walk, whatever the UIDs' spread. */
		for (n = 1, i = 0; n <= vi.exists && i < nr; n++) {
			uint32_t u = mailbox_view_uid(j->box.view, n);

			while (i < nr && r[i].hi < u)
				i++;
			if (i < nr && r[i].lo <= u)
				push(&out, &cnt, &cap, u);
		}
	}
	free(r);
	*n_r = cnt;
	return out;
}
