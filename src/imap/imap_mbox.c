/*
 * imap_mbox.c - the folder commands (RFC 9051 6.3, 6.4.1-6.4.3; RFC
 * 6154 SPECIAL-USE, RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC
 * 9208 QUOTA, RFC 2177 IDLE, RFC 3691 UNSELECT, RFC 7889 APPENDLIMIT),
 * each run on the io pool against mailbox.h.
 */
#include <event2/event.h>

#include "imap/imap_int.h"
#include "util/log.h"
#include "util/spool.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define IDLE_POLL_MS	500	/* a delivery shows within a second */

struct mailbox_user *
imap_open_user(struct backends *b, const char *path, const char *hostname,
    struct mailbox_err *err)
{
	return mailbox_user_open(b->data_fd, path, hostname, err);
}

/* ---- SELECT / EXAMINE ---- */


/* RFC 7162 3.2.5: what changed since the client's MODSEQ, at once. */
static void
qresync(struct imap_job *j, const struct mailbox_view_info *vi)
{
	const struct imap_select *q = &j->box.cmd.select;
	struct mailbox_msg m;
	uint32_t seq;

	imap_job_vanished_earlier(j, q->modseq, &q->known_uids);
	for (seq = 1; seq <= vi->exists; seq++) {
		if (mailbox_view_msgs(j->box.view, seq, seq, &m) == -1 ||
		    m.modseq <= q->modseq)
			continue;
		(void)buf_printf(&j->out, "* %u FETCH (UID %u MODSEQ (%llu) "
		    "FLAGS ", seq, m.uid, (unsigned long long)m.modseq);
		imap_put_flags(j, &m, &j->out);
		(void)buf_append_str(&j->out, ")\r\n");
	}
}

static void
select_work(struct imap_job *j, struct backends *b)
{
	const struct imap_cmd *c = &j->box.cmd;
	char name[MAILBOX_NAME_MAX + 1];
	struct mailbox_view_info vi;
	struct mailbox_err err;

	(void)b;
	/* RFC 9051 6.3.2: a failed SELECT leaves no mailbox selected. */
	mailbox_view_close(&j->box.view);
	j->state = IS_AUTH;
	if (!imap_job_name(j, &c->mailbox, name))
		return;
	j->box.view = mailbox_view_open(j->box.user, name, c->id ==
	    IMAP_CMD_EXAMINE ? MAILBOX_VIEW_READONLY : 0, &err);
	if (j->box.view == NULL) {
		imap_job_err(j, &err);
		return;
	}
	j->box.readonly = c->id == IMAP_CMD_EXAMINE;
	(void)str_copy(j->box.selected, name, sizeof(j->box.selected));
	if (c->select.condstore)
		j->box.enabled |= IMAP_EN_CONDSTORE;
	mailbox_view_get_info(j->box.view, &vi);
	if (c->select.qresync && !(j->box.enabled & IMAP_EN_QRESYNC)) {
		mailbox_view_close(&j->box.view);
		imap_job_bad(j, "QRESYNC needs ENABLE QRESYNC first");
		return;
	}
	imap_put_permanent(j, &vi, false);
	imap_put_permanent(j, &vi, true);
	(void)buf_printf(&j->out, "* %u EXISTS\r\n", vi.exists);
	if (!(j->box.enabled & IMAP_EN_REV2)) {
		(void)buf_printf(&j->out, "* %u RECENT\r\n", vi.recent);
		if (vi.first_unseen != 0)
			(void)buf_printf(&j->out, "* OK [UNSEEN %u] First "
			    "unseen\r\n", vi.first_unseen);
	}
	(void)buf_printf(&j->out, "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	    "* OK [UIDNEXT %u] Predicted next UID\r\n"
	    "* OK [HIGHESTMODSEQ %llu] Highest\r\n", vi.uidvalidity,
	    vi.uidnext, (unsigned long long)vi.highestmodseq);
	if (j->box.enabled & IMAP_EN_REV2) {
		(void)buf_append_str(&j->out, "* LIST () \".\" ");
		imap_put_name(j, name, &j->out);
		(void)buf_append_str(&j->out, "\r\n");
	}
	if (c->select.qresync && c->select.uidvalidity == vi.uidvalidity)
		qresync(j, &vi);
	j->state = IS_SELECTED;
	imap_job_ok(j, "[%s] %s completed", j->box.readonly ? "READ-ONLY" :
	    "READ-WRITE", c->id == IMAP_CMD_EXAMINE ? "EXAMINE" : "SELECT");
}

void
imap_cmd_select(struct imap_session *s)
{
	/* RFC 7162 3.2.5 wants it for QRESYNC clients. */
	if (s->box.view != NULL && (s->box.enabled & IMAP_EN_QRESYNC))
		imap_send(s, "* OK [CLOSED] Previous mailbox closed");
	imap_job_submit(s, select_work, NULL, NULL);
}

/* ---- CREATE, DELETE, RENAME, SUBSCRIBE ---- */

static void
create_work(struct imap_job *j, struct backends *b)
{
	const struct imap_cmd *c = &j->box.cmd;
	char name[MAILBOX_NAME_MAX + 1], to[MAILBOX_NAME_MAX + 1];
	struct mailbox_err err;
	unsigned use = 0;
	int r = -1;

	(void)b;
	if (!imap_job_name(j, &c->mailbox, name))
		goto out;
	switch (c->id) {
	case IMAP_CMD_CREATE:
		if (c->use & IMAP_USE_OTHER) {
			imap_job_no(j, "[USEATTR] Unsupported SPECIAL-USE "
			    "attribute");
			goto out;
		}
		use = (c->use & IMAP_USE_SENT ? MAILBOX_USE_SENT : 0) |
		    (c->use & IMAP_USE_DRAFTS ? MAILBOX_USE_DRAFTS : 0) |
		    (c->use & IMAP_USE_TRASH ? MAILBOX_USE_TRASH : 0) |
		    (c->use & IMAP_USE_JUNK ? MAILBOX_USE_JUNK : 0) |
		    (c->use & IMAP_USE_ARCHIVE ? MAILBOX_USE_ARCHIVE : 0);
		r = mailbox_create(j->box.user, name, use, &err);
		break;
	case IMAP_CMD_DELETE:
		r = mailbox_delete(j->box.user, name, &err);
		break;
	case IMAP_CMD_RENAME:
		if (!imap_job_name(j, &c->newname, to))
			goto out;
		r = mailbox_rename(j->box.user, name, to, &err);
		break;
	default:
		r = mailbox_subscribe(j->box.user, name,
		    c->id == IMAP_CMD_SUBSCRIBE, &err);
		break;
	}
	if (r == -1)
		imap_job_err(j, &err);
	else
		imap_job_ok(j, "%s completed", imap_cmd_info(c->id)->name);
out:
	imap_job_changes(j, true);
}

void
imap_cmd_create(struct imap_session *s)
{
	imap_job_submit(s, create_work, NULL, NULL);
}

void
imap_cmd_delete(struct imap_session *s)
{
	imap_job_submit(s, create_work, NULL, NULL);
}

void
imap_cmd_rename(struct imap_session *s)
{
	imap_job_submit(s, create_work, NULL, NULL);
}

void
imap_cmd_subscribe(struct imap_session *s)
{
	imap_job_submit(s, create_work, NULL, NULL);
}

/* ---- LIST, LSUB, STATUS ---- */

static void
put_status(struct imap_job *j, const char *name, unsigned items)
{
	struct mailbox_status st;
	struct mailbox_err err;
	const char *sep = "";

	if (mailbox_status(j->box.user, name, &st, &err) == -1)
		return;
	(void)buf_append_str(&j->out, "* STATUS ");
	imap_put_name(j, name, &j->out);
	(void)buf_append_str(&j->out, " (");
#define ITEM(bit, fmt, v) do {						\
	if (items & (bit)) {						\
		(void)buf_printf(&j->out, "%s" fmt, sep, v);		\
		sep = " ";						\
	}								\
} while (0)
	ITEM(IMAP_STATUS_MESSAGES, "MESSAGES %u", st.messages);
	ITEM(IMAP_STATUS_RECENT, "RECENT %u", st.recent);
	ITEM(IMAP_STATUS_UIDNEXT, "UIDNEXT %u", st.uidnext);
	ITEM(IMAP_STATUS_UIDVALIDITY, "UIDVALIDITY %u", st.uidvalidity);
	ITEM(IMAP_STATUS_UNSEEN, "UNSEEN %u", st.unseen);
	ITEM(IMAP_STATUS_DELETED, "DELETED %u", st.deleted);
	ITEM(IMAP_STATUS_SIZE, "SIZE %llu", (unsigned long long)st.size);
	ITEM(IMAP_STATUS_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu",
	    (unsigned long long)st.highestmodseq);
	ITEM(IMAP_STATUS_APPENDLIMIT, "APPENDLIMIT %llu",
	    (unsigned long long)j->s->cfg->max_message_size);
#undef ITEM
	(void)buf_append_str(&j->out, ")\r\n");
}

static void
put_attrs(struct buf *out, unsigned a, bool lsub)
{
	static const struct {
		unsigned	 bit;
		const char	*name;
	} names[] = {
		{ MAILBOX_ATTR_NONEXISTENT, "\\NonExistent" },
		{ MAILBOX_ATTR_NOSELECT, "\\Noselect" },
		{ MAILBOX_ATTR_HASCHILDREN, "\\HasChildren" },
		{ MAILBOX_ATTR_HASNOCHILDREN, "\\HasNoChildren" },
		{ MAILBOX_ATTR_SUBSCRIBED, "\\Subscribed" },
		{ MAILBOX_USE_SENT, "\\Sent" }, { MAILBOX_USE_DRAFTS,
		"\\Drafts" }, { MAILBOX_USE_TRASH, "\\Trash" },
		{ MAILBOX_USE_JUNK, "\\Junk" }, { MAILBOX_USE_ARCHIVE,
		"\\Archive" },
	};
	const char *sep = "";
	size_t i;

	if (a & MAILBOX_ATTR_NONEXISTENT)
		a |= MAILBOX_ATTR_NOSELECT;
	(void)buf_putc(out, '(');
	for (i = 0; i < nitems(names); i++) {
		if (!(a & names[i].bit) || (lsub && (names[i].bit &
		    (MAILBOX_ATTR_SUBSCRIBED | MAILBOX_ATTR_NONEXISTENT))))
			continue;
		/* \Noselect implies \NonExistent's meaning already. */
		if (names[i].bit == MAILBOX_ATTR_NOSELECT &&
		    (a & MAILBOX_ATTR_NONEXISTENT) && !lsub)
			continue;
		(void)buf_printf(out, "%s%s", sep, names[i].name);
		sep = " ";
	}
	(void)buf_putc(out, ')');
}

/* The reference joined to the pattern (RFC 9051 6.3.9), UTF-8. */
static bool
join_pattern(struct imap_job *j, const struct imap_str *pat, char *out)
{
	const struct imap_cmd *c = &j->box.cmd;
	struct imap_mailbox m;
	char ref[MAILBOX_NAME_MAX + 1] = "", p[MAILBOX_NAME_MAX + 1];

	if (c->list.ref.name.len > 0 && !imap_job_name(j, &c->list.ref,
	    ref))
		return false;
	memset(&m, 0, sizeof(m));
	m.name = *pat;
	if (!imap_job_name(j, &m, p))
		return false;
	if (str_fmt(out, MAILBOX_NAME_MAX + 1, "%s%s", ref, p) == -1) {
		imap_job_no(j, "[CANNOT] Pattern too long");
		return false;
	}
	return true;
}

static void
list_work(struct imap_job *j, struct backends *b)
{
	const struct imap_cmd *c = &j->box.cmd;
	bool lsub = c->id == IMAP_CMD_LSUB;
	unsigned flags = lsub || (c->list.sel & IMAP_LIST_SEL_SUBSCRIBED) ?
	    MAILBOX_LIST_SUBSCRIBED : 0;
	char pattern[MAILBOX_NAME_MAX + 1];
	struct mailbox_list l;
	struct mailbox_err err;
	size_t i, k;

	(void)b;
	memset(&l, 0, sizeof(l));
	for (i = 0; i < c->list.npatterns; i++) {
		if (c->list.pattern[i].len == 0) {
			/* RFC 9051 6.3.9: the hierarchy delimiter. */
			(void)buf_printf(&j->out, "* %s (\\Noselect) \".\" "
			    "\"\"\r\n", lsub ? "LSUB" : "LIST");
			continue;
		}
		if (!join_pattern(j, &c->list.pattern[i], pattern))
			goto out;
		if (mailbox_list(j->box.user, pattern, flags, &l, &err) == -1) {
			imap_job_err(j, &err);
			goto out;
		}
		for (k = 0; k < l.n; k++) {
			if ((c->list.sel & IMAP_LIST_SEL_SPECIAL_USE) &&
			    !(l.v[k].attrs & MAILBOX_USE_ALL))
				continue;
			(void)buf_printf(&j->out, "* %s ", lsub ? "LSUB" :
			    "LIST");
			put_attrs(&j->out, l.v[k].attrs, lsub);
			(void)buf_append_str(&j->out, " \".\" ");
			imap_put_name(j, l.v[k].name, &j->out);
			(void)buf_append_str(&j->out, "\r\n");
			if ((c->list.ret & IMAP_LIST_RET_STATUS) &&
			    !(l.v[k].attrs & (MAILBOX_ATTR_NOSELECT |
			    MAILBOX_ATTR_NONEXISTENT)))
				put_status(j, l.v[k].name, c->list.status);
		}
		mailbox_list_free(&l);
	}
	imap_job_ok(j, "%s completed", lsub ? "LSUB" : "LIST");
out:
	mailbox_list_free(&l);
	imap_job_changes(j, true);
}

void
imap_cmd_list(struct imap_session *s)
{
	imap_job_submit(s, list_work, NULL, NULL);
}

static void
status_work(struct imap_job *j, struct backends *b)
{
	const struct imap_cmd *c = &j->box.cmd;
	char name[MAILBOX_NAME_MAX + 1];
	struct mailbox_status st;
	struct mailbox_err err;

	(void)b;
	if (imap_job_name(j, &c->mailbox, name)) {
		if (mailbox_status(j->box.user, name, &st, &err) == -1) {
			imap_job_err(j, &err);
		} else {
			put_status(j, name, c->status);
			imap_job_ok(j, "STATUS completed");
		}
	}
	imap_job_changes(j, true);
}

void
imap_cmd_status(struct imap_session *s)
{
	imap_job_submit(s, status_work, NULL, NULL);
}

/* ---- APPEND ---- */

/* The whole command (its literal is the message), moved out of the
   session. */
struct append_arg {
	struct buf	 cmdbuf;
};

static void
append_free(void *arg)
{
	struct append_arg *a = arg;

	buf_free(&a->cmdbuf);
	free(a);
}

static void
append_work(struct imap_job *j, struct backends *b)
{
	const struct imap_cmd *c = &j->box.cmd;
	const struct imap_append *ap = &c->append;
	char name[MAILBOX_NAME_MAX + 1];
	const char *kw[IMAP_FLAGS_MAX];
	struct mailbox_append ma;
	struct mailbox_err err;
	struct spool sp;
	uint32_t uidv, uid;
	size_t i;

	if (!imap_job_name(j, &c->mailbox, name))
		goto out;
	if (ap->datalen > j->s->cfg->max_message_size) {
		imap_job_no(j, "[TOOBIG] The message is larger than %llu "
		    "octets", (unsigned long long)j->s->cfg->max_message_size);
		goto out;
	}
	spool_init(&sp, b->data_fd, "tmp");
	spool_append(&sp, ap->data, ap->datalen);
	memset(&ma, 0, sizeof(ma));
	ma.data = &sp;
	ma.flags = ap->flags.sys;	/* the same bits as MAILBOX_* */
	for (i = 0; i < ap->flags.nkw && i < nitems(kw); i++)
		kw[i] = ap->flags.kw[i].s;
	ma.keywords = kw;
	ma.nkeywords = i;
	ma.internaldate = ap->date_set ? (int64_t)ap->date : 0;
	if (sp.err != 0) {
		err.code = MAILBOX_ERR_TEMP;
		(void)str_copy(err.text, strerror(sp.err), sizeof(err.text));
		imap_job_err(j, &err);
	} else if (mailbox_append(j->box.user, name, &ma, &uidv, &uid,
	    &err) == -1) {
		if (err.code == MAILBOX_ERR_NONEXISTENT)
			imap_job_no(j, "[TRYCREATE] No such mailbox");
		else
			imap_job_err(j, &err);
	} else {
		imap_job_ok(j, "[APPENDUID %u %u] APPEND completed", uidv,
		    uid);
	}
	spool_free(&sp);
out:
	imap_job_changes(j, true);
}

void
imap_cmd_append(struct imap_session *s)
{
	struct append_arg *a = xcalloc(1, sizeof(*a));

	/* The message stays where it was read; the job owns it now. */
	a->cmdbuf = s->cmdbuf;
	buf_init(&s->cmdbuf, s->cmdbuf.max);
	imap_job_submit(s, append_work, a, append_free);
}

/* ---- QUOTA (RFC 9208) ---- */

static void
quota_work(struct imap_job *j, struct backends *b)
{
	const struct imap_cmd *c = &j->box.cmd;
	struct mailbox_err err;
	uint64_t octets, msgs;

	(void)b;
	if (c->id == IMAP_CMD_SETQUOTA) {
		imap_job_no(j, "[NOPERM] Quotas are set by the administrator");
		goto out;
	}
	if (c->id == IMAP_CMD_GETQUOTA && (c->quota_root.len != 0 ||
	    j->box.quota == 0)) {
		imap_job_no(j, "[NONEXISTENT] No such quota root");
		goto out;
	}
	if (c->id == IMAP_CMD_GETQUOTAROOT) {
		(void)buf_append_str(&j->out, "* QUOTAROOT ");
		imap_put_name(j, c->mailbox.inbox ? "INBOX" :
		    c->mailbox.name.s, &j->out);
		(void)buf_append_str(&j->out, j->box.quota != 0 ? " \"\"\r\n" :
		    "\r\n");
	}
	if (j->box.quota != 0) {
		if (mailbox_quota_usage(j->box.user, &octets, &msgs,
		    &err) == -1) {
			imap_job_err(j, &err);
			goto out;
		}
		(void)buf_printf(&j->out, "* QUOTA \"\" (STORAGE %llu %llu)\r\n",
		    (unsigned long long)((octets + 1023) / 1024),
		    (unsigned long long)(j->box.quota / 1024));
	}
	imap_job_ok(j, "%s completed", imap_cmd_info(c->id)->name);
out:
	imap_job_changes(j, true);
}

void
imap_cmd_getquota(struct imap_session *s)
{
	imap_job_submit(s, quota_work, NULL, NULL);
}

/* ---- NOOP and CHECK while selected, CLOSE, UNSELECT, EXPUNGE ---- */

static void
check_work(struct imap_job *j, struct backends *b)
{
	(void)b;
	imap_job_changes(j, true);
	imap_job_ok(j, "%s completed", imap_cmd_info(j->box.cmd.id)->name);
}

void
imap_cmd_check(struct imap_session *s)
{
	imap_job_submit(s, check_work, NULL, NULL);
}

static void
close_work(struct imap_job *j, struct backends *b)
{
	struct mailbox_err err;

	(void)b;
	/* CLOSE expunges silently (RFC 9051 6.4.1); UNSELECT does not. */
	if (j->box.cmd.id == IMAP_CMD_CLOSE && !j->box.readonly &&
	    mailbox_expunge(j->box.view, NULL, 0, &err) == -1)
		log_warn("imap close of %s: %s", j->box.selected, err.text);
	mailbox_view_close(&j->box.view);
	j->box.selected[0] = '\0';
	j->state = IS_AUTH;
	imap_job_ok(j, "%s completed", imap_cmd_info(j->box.cmd.id)->name);
}

void
imap_cmd_close(struct imap_session *s)
{
	imap_job_submit(s, close_work, NULL, NULL);
}

static void
expunge_work(struct imap_job *j, struct backends *b)
{
	const struct imap_cmd *c = &j->box.cmd;
	struct mailbox_err err;
	uint32_t *uids = NULL;
	size_t n = 0;
	int r;

	(void)b;
	if (j->box.readonly) {
		imap_job_no(j, "[READ-ONLY] The mailbox is read-only");
		return;
	}
	if (c->uid)
		uids = imap_job_uids(j, &c->set, true, &n);
	r = c->uid && n == 0 ? 0 : mailbox_expunge(j->box.view, uids, n,
	    &err);
	free(uids);
	imap_job_changes(j, true);
	if (r == -1)
		imap_job_err(j, &err);
	else
		imap_job_ok(j, "EXPUNGE completed");
}

void
imap_cmd_expunge(struct imap_session *s)
{
	imap_job_submit(s, expunge_work, NULL, NULL);
}

/* ---- IDLE (RFC 2177) ---- */

static void
idle_sync_work(struct imap_job *j, struct backends *b)
{
	(void)b;
	imap_job_changes(j, true);
}

static void
on_idle_timer(evutil_socket_t fd, short what, void *arg)
{
	struct imap_session *s = arg;
	struct timeval tv = { 0, IDLE_POLL_MS * 1000 };

	(void)fd;
	(void)what;
	if (s->base.state != IS_IDLE)
		return;
	if (!s->base.busy && s->box.view != NULL &&
	    mailbox_view_poll(s->box.view)) {
		imap_job_submit(s, idle_sync_work, NULL, NULL);
	}
	(void)evtimer_add(s->idle_timer, &tv);
}

void
imap_cmd_idle(struct imap_session *s)
{
	struct timeval tv = { 0, IDLE_POLL_MS * 1000 };

	if (s->idle_timer == NULL)
		s->idle_timer = evtimer_new(s->srv->d.base, on_idle_timer, s);
	if (s->idle_timer == NULL) {
		imap_no(s, false, "[UNAVAILABLE] Cannot idle now");
		return;
	}
	imap_send(s, "+ idling");
	imap_enter_state(s, IS_IDLE);
	/* An idle session holds no parsed command (10 000 of them idle). */
	imap_parser_clear(s->box.parser);
	(void)evtimer_add(s->idle_timer, &tv);
	/* What happened before IDLE began comes at once. */
	if (s->box.view != NULL)
		imap_job_submit(s, idle_sync_work, NULL, NULL);
}

void
imap_idle_line(struct imap_session *s, const char *line, size_t len)
{
	if (s->idle_timer != NULL)
		(void)evtimer_del(s->idle_timer);
	imap_enter_state(s, s->box.view != NULL ? IS_SELECTED : IS_AUTH);
	if (!imap_is_done(line, len)) {
		imap_bad(s, "Expected DONE");
		return;
	}
	imap_ok(s, "IDLE terminated");
}
