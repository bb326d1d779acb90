/*
 * test_mailbox_index.c - the index and views of src/mailbox/: UIDs and
 * UIDVALIDITY across reopens, changes made by other programs (new/,
 * renamed flags, deleted files) with their MODSEQs, STORE with
 * UNCHANGEDSINCE, EXPUNGE, APPEND, COPY/MOVE with COPYUID data, a
 * damaged index rebuilt keeping UIDs, two views of one folder, threads
 * on one folder, and the open time of 10 000 messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <time.h>

#include "test_mailbox_fx.h"
#include "pop3/pop3_maildrop.h"
#include "util/clock.h"

static void
sync_view(struct fx *fx, struct mailbox_view *v, bool expunges,
    struct mailbox_changes *ch)
{
	if (mailbox_view_sync(v, expunges, ch, &fx->err) == -1)
		fail_msg("sync: %s", fx->err.text);
}

/* Past the file system's timestamp tick, and synced: polls answer false
   until something changes (a fresh mtime is "racy" until then). */
static void
settle(struct fx *fx, struct mailbox_view *v)
{
	struct mailbox_changes ch;

	(void)usleep(30000);
	sync_view(fx, v, false, &ch);
	mailbox_changes_free(&ch);
}

static void
test_uids_stable(void **state)
{
	struct fx *fx = *state;
	struct mailbox_view *v;
	struct mailbox_view_info in;
	uint32_t uv;

	/* Delivery order is the time in the name, not the name's order. */
	deliver(fx, "", "1700000002.M1P1Q1.b");
	deliver(fx, "", "1700000001.M9P1Q1.z");
	deliver(fx, "", "1700000003.M1P1Q1.a");
	v = view(fx, "INBOX");
	mailbox_view_get_info(v, &in);
	assert_int_equal(in.exists, 3);
	assert_int_equal(in.uidnext, 4);
	assert_int_equal(in.recent, 3);
	assert_int_equal(in.first_unseen, 1);
	uv = in.uidvalidity;
	assert_int_equal(mailbox_view_seq(v, 2), 2);
	/* Left in new/ until their flags change. */
	assert_true(exists(fx, ROOT "/new/1700000001.M9P1Q1.z"));
	assert_int_equal(count_files(fx, ROOT "/cur"), 0);
	{
		char uidl[MAILBOX_UIDL_MAX + 1];

		assert_int_equal(mailbox_msg_uidl(v, 1, uidl), 1);
		assert_string_equal(uidl, "1700000001.M9P1Q1.z");
	}
	mailbox_view_close(&v);
	mailbox_user_free(&fx->u);
	mailbox_cache_flush();	/* from the index files alone */
	fx->u = mailbox_user_open(fx->data_fd, ROOT, "mx", &fx->err);
	v = view(fx, "INBOX");
	mailbox_view_get_info(v, &in);
	assert_int_equal(in.uidvalidity, uv);
	assert_int_equal(in.uidnext, 4);
	assert_int_equal(in.recent, 0);
	assert_int_equal(mailbox_view_uid(v, 1), 1);
	assert_int_equal(mailbox_view_uid(v, 3), 3);
	mailbox_view_close(&v);
}

static void
test_external_changes(void **state)
{
	struct fx *fx = *state;
	struct mailbox_view *v;
	struct mailbox_changes ch;
	struct mailbox_msg m;
	char from[512], to[512];
	uint64_t ms;

	deliver(fx, "", "1700000001.M1P1Q1.h");
	deliver(fx, "", "1700000002.M1P1Q1.h");
	v = view(fx, "INBOX");
	settle(fx, v);
	assert_false(mailbox_view_poll(v));
	/* SMTP delivers into new/. */
	deliver(fx, "", "1700000003.M1P1Q1.h,S=31,W=35");
	assert_true(mailbox_view_poll(v));
	sync_view(fx, v, true, &ch);
	assert_true(ch.exists_changed);
	assert_int_equal(ch.exists, 3);
	assert_int_equal(ch.nchanged, 0);
	assert_int_equal(ch.recent, 3);
	ms = ch.highestmodseq;
	mailbox_changes_free(&ch);
	/* mutt marks message 1 seen and flagged by renaming it. */
	(void)str_fmt(from, sizeof(from), ROOT "/new/1700000001.M1P1Q1.h");
	(void)str_fmt(to, sizeof(to), ROOT "/cur/1700000001.M1P1Q1.h:2,FS");
	assert_int_equal(renameat(fx->data_fd, from, fx->data_fd, to), 0);
	sync_view(fx, v, true, &ch);
	assert_int_equal(ch.nchanged, 1);
	assert_int_equal(ch.changed[0], 1);
	assert_false(ch.exists_changed);
	m = msg_at(v, 1);
	assert_int_equal(m.flags, MAILBOX_SEEN | MAILBOX_FLAGGED);
	assert_true(m.modseq > ms);
	assert_int_equal(ch.highestmodseq, m.modseq);
	mailbox_changes_free(&ch);
	/* POP3 deletes message 2: held back while expunges may not be
	   sent, then reported. */
	(void)str_fmt(from, sizeof(from), ROOT "/new/1700000002.M1P1Q1.h");
	assert_int_equal(unlinkat(fx->data_fd, from, 0), 0);
	sync_view(fx, v, false, &ch);
	assert_int_equal(ch.nexpunged, 0);
	assert_true(msg_at(v, 2).expunged);
	mailbox_changes_free(&ch);
	sync_view(fx, v, true, &ch);
	assert_int_equal(ch.nexpunged, 1);
	assert_int_equal(ch.expunged[0], 2);
	assert_int_equal(ch.vanished[0], 2);
	assert_int_equal(ch.exists, 2);
	assert_int_equal(mailbox_view_uid(v, 2), 3);
	mailbox_changes_free(&ch);
	{
		uint32_t *u;
		size_t n;

		assert_int_equal(mailbox_view_vanished_since(v, ms, &u, &n), 1);
		assert_int_equal(n, 1);
		assert_int_equal(u[0], 2);
		free(u);
	}
	mailbox_view_close(&v);
}

static void
test_store(void **state)
{
	struct fx *fx = *state;
	static const char *const kw[] = { "$Forwarded", "Work" };
	struct mailbox_view *v;
	struct mailbox_store st;
	struct mailbox_store_result res;
	struct mailbox_msg m;
	uint32_t uids[2] = { 1, 2 };
	char name[256];
	uint64_t ms;

	deliver(fx, "", "1700000001.M1P1Q1.h");
	deliver(fx, "", "1700000002.M1P1Q1.h");
	v = view(fx, "INBOX");
	memset(&st, 0, sizeof(st));
	st.op = MAILBOX_STORE_ADD;
	st.flags = MAILBOX_FLAGGED | MAILBOX_SEEN;
	st.keywords = kw;
	st.nkeywords = 2;
	assert_int_equal(mailbox_store(v, uids, 2, &st, &res, &fx->err), 0);
	assert_int_equal(res.nchanged, 2);
	assert_int_equal(res.nmodified, 0);
	assert_true(res.keywords_added);
	mailbox_store_result_free(&res);
	assert_true(find_cur(fx, "", "1700000001.M1P1Q1.h:2,FS", name,
	    sizeof(name)));
	m = msg_at(v, 1);
	assert_int_equal(m.keywords[0], 3);
	assert_string_equal(mailbox_view_keyword(v, 1), "Work");
	ms = m.modseq;
	/* RFC 7162 3.1.3: UNCHANGEDSINCE below the MODSEQ fails. */
	memset(&st, 0, sizeof(st));
	st.op = MAILBOX_STORE_REMOVE;
	st.flags = MAILBOX_SEEN;
	st.unchangedsince_set = true;
	st.unchangedsince = ms - 1;
	assert_int_equal(mailbox_store(v, uids, 1, &st, &res, &fx->err), 0);
	assert_int_equal(res.nmodified, 1);
	assert_int_equal(res.modified[0], 1);
	assert_int_equal(res.nchanged, 0);
	mailbox_store_result_free(&res);
	st.unchangedsince = ms;
	assert_int_equal(mailbox_store(v, uids, 1, &st, &res, &fx->err), 0);
	assert_int_equal(res.nmodified, 0);
	assert_int_equal(res.nchanged, 1);
	mailbox_store_result_free(&res);
	m = msg_at(v, 1);
	assert_int_equal(m.flags, MAILBOX_FLAGGED);
	assert_true(m.modseq > ms);
	/* SET replaces; an unknown keyword to remove is no error. */
	memset(&st, 0, sizeof(st));
	st.op = MAILBOX_STORE_SET;
	st.flags = MAILBOX_ANSWERED;
	assert_int_equal(mailbox_store(v, uids, 1, &st, &res, &fx->err), 0);
	mailbox_store_result_free(&res);
	assert_int_equal(msg_at(v, 1).flags, MAILBOX_ANSWERED);
	assert_int_equal(msg_at(v, 1).keywords[0], 0);
	st.op = MAILBOX_STORE_REMOVE;
	st.keywords = (const char *const[]){ "Never" };
	st.nkeywords = 1;
	assert_int_equal(mailbox_store(v, uids, 1, &st, &res, &fx->err), 0);
	mailbox_store_result_free(&res);
	st.op = MAILBOX_STORE_ADD;
	st.keywords = (const char *const[]){ "bad(kw" };
	assert_int_equal(mailbox_store(v, uids, 1, &st, &res, &fx->err), -1);
	assert_int_equal(fx->err.code, MAILBOX_ERR_CANNOT);
	mailbox_view_close(&v);
	/* The keywords survive a reopen, from the log alone. */
	mailbox_cache_flush();
	v = view(fx, "INBOX");
	assert_int_equal(msg_at(v, 2).keywords[0], 3);
	assert_int_equal(msg_at(v, 2).flags, MAILBOX_FLAGGED | MAILBOX_SEEN);
	mailbox_view_close(&v);
}

static void
test_expunge(void **state)
{
	struct fx *fx = *state;
	struct mailbox_view *v;
	struct mailbox_changes ch;
	uint32_t one = 1;

	deliver(fx, "", "1700000001.M1P1Q1.h");
	deliver(fx, "", "1700000002.M1P1Q1.h");
	deliver(fx, "", "1700000003.M1P1Q1.h");
	v = view(fx, "INBOX");
	store(fx, v, 1, MAILBOX_STORE_ADD, MAILBOX_DELETED);
	store(fx, v, 3, MAILBOX_STORE_ADD, MAILBOX_DELETED);
	/* UID EXPUNGE 1: only message 1 of the two. */
	assert_int_equal(mailbox_expunge(v, &one, 1, &fx->err), 0);
	assert_int_equal(count_msgs(fx, ROOT), 2);
	sync_view(fx, v, true, &ch);
	assert_int_equal(ch.nexpunged, 1);
	assert_int_equal(ch.expunged[0], 1);
	mailbox_changes_free(&ch);
	assert_int_equal(mailbox_expunge(v, NULL, 0, &fx->err), 0);
	sync_view(fx, v, true, &ch);
	assert_int_equal(ch.nexpunged, 1);
	assert_int_equal(ch.expunged[0], 2);	/* UID 3, now sequence 2 */
	assert_int_equal(ch.vanished[0], 3);
	assert_int_equal(ch.exists, 1);
	mailbox_changes_free(&ch);
	assert_int_equal(count_msgs(fx, ROOT), 1);
	mailbox_view_close(&v);
}

static void
test_append(void **state)
{
	struct fx *fx = *state;
	static const char *const kw[] = { "$MDNSent" };
	struct mailbox_view *v;
	struct mailbox_msg m;
	struct buf b;
	char name[256], rel[512];
	struct stat st;
	uint32_t uid;
	uint64_t size;
	int fd;

	uid = append_text(fx, "Drafts", "Subject: d\r\n\r\nbody\r\nno end",
	    MAILBOX_DRAFT | MAILBOX_SEEN, kw, 1);
	assert_int_equal(uid, 1);
	assert_true(find_cur(fx, "/.Drafts", "", name, sizeof(name)));
	if (strstr(name, ",S=23,W=28:2,DS") == NULL)
		fail_msg("name %s", name);
	(void)str_fmt(rel, sizeof(rel), ROOT "/.Drafts/cur/%s", name);
	assert_int_equal(fstatat(fx->data_fd, rel, &st, 0), 0);
	assert_int_equal(st.st_mtime, 1700000000);
	buf_init(&b, 1024);
	assert_int_equal(fs_read_file_at(fx->data_fd, rel, &b), 0);
	assert_string_equal(buf_cstr(&b), "Subject: d\n\nbody\nno end");
	buf_free(&b);
	assert_int_equal(count_files(fx, ROOT "/.Drafts/tmp"), 0);
	v = view(fx, "Drafts");
	m = msg_at(v, 1);
	assert_int_equal(m.size, 28);
	assert_int_equal(m.internaldate, 1700000000);
	assert_int_equal(m.keywords[0], 1);
	assert_int_equal(m.flags, MAILBOX_DRAFT | MAILBOX_SEEN);
	assert_int_equal(mailbox_msg_open(v, 1, &fd, &size, &fx->err), 1);
	assert_int_equal(size, 23);
	(void)close(fd);
	assert_int_equal(mailbox_msg_open(v, 9, &fd, &size, &fx->err), 0);
	assert_int_equal(append_text(fx, "Drafts", "x\n", 0, NULL, 0), 2);
	mailbox_view_close(&v);
}

static void
test_copy_move(void **state)
{
	struct fx *fx = *state;
	static const char *const kw[] = { "Work" };
	struct mailbox_view *v, *a;
	struct mailbox_copy_result res;
	struct mailbox_changes ch;
	uint32_t uids[3] = { 3, 1, 2 };
	struct buf b;

	(void)append_text(fx, "INBOX", "Subject: 1\n\n1\n", MAILBOX_SEEN, kw,
	    1);
	(void)append_text(fx, "INBOX", "Subject: 2\n\n2\n", 0, NULL, 0);
	(void)append_text(fx, "INBOX", "Subject: 3\n\n3\n", MAILBOX_FLAGGED,
	    NULL, 0);
	(void)append_text(fx, "Archive", "Subject: 0\n\n0\n", 0, NULL, 0);
	v = view(fx, "INBOX");
	assert_int_equal(mailbox_cache_put(v, 1, "(\"TEXT\")", 8, &fx->err), 0);
	assert_int_equal(mailbox_copy(v, uids, 2, "Archive", false, &res,
	    &fx->err), 0);
	assert_int_equal(res.n, 2);
	assert_int_equal(res.src[0], 1);
	assert_int_equal(res.src[1], 3);
	assert_int_equal(res.dst[0], 2);
	assert_int_equal(res.dst[1], 3);
	assert_int_not_equal(res.uidvalidity, 0);
	mailbox_copy_result_free(&res);
	a = view(fx, "Archive");
	assert_int_equal(msg_at(a, 2).flags, MAILBOX_SEEN);
	assert_string_equal(mailbox_view_keyword(a, msg_at(a, 2).keywords[0] ==
	    1 ? 0 : 1), "Work");
	assert_int_equal(msg_at(a, 3).flags, MAILBOX_FLAGGED);
	buf_init(&b, 64);
	assert_int_equal(mailbox_cache_get(a, 2, &b), 1);
	assert_string_equal(buf_cstr(&b), "(\"TEXT\")");
	buf_free(&b);
	/* MOVE: the sources go, the next sync says so. */
	assert_int_equal(mailbox_copy(v, uids + 1, 2, "Archive", true, &res,
	    &fx->err), 0);
	assert_int_equal(res.n, 2);
	assert_int_equal(res.dst[0], 4);
	mailbox_copy_result_free(&res);
	sync_view(fx, v, true, &ch);
	assert_int_equal(ch.nexpunged, 2);
	assert_int_equal(ch.exists, 1);
	mailbox_changes_free(&ch);
	assert_int_equal(count_msgs(fx, ROOT), 1);
	sync_view(fx, a, true, &ch);
	assert_int_equal(ch.exists, 5);
	mailbox_changes_free(&ch);
	assert_int_equal(mailbox_copy(v, uids, 1, "Nope", false, &res,
	    &fx->err), -1);
	assert_int_equal(fx->err.code, MAILBOX_ERR_NONEXISTENT);
	mailbox_view_close(&a);
	mailbox_view_close(&v);
}

/* ---- damage ---- */

static void
log_size(struct fx *fx, off_t *size)
{
	struct stat st;

	assert_int_equal(fstatat(fx->data_fd, ROOT "/popgate-index.log", &st,
	    0), 0);
	*size = st.st_size;
}

/* Six messages, the first three in the snapshot, the rest in the log
   with flag changes after them; the UIDVALIDITY into *UV. */
static void
make_index(struct fx *fx, uint32_t *uv)
{
	struct mailbox_view *v;
	struct mailbox_view_info in;
	char name[64];
	int fd, i;

	for (i = 1; i <= 3; i++) {
		(void)str_fmt(name, sizeof(name), "170000000%d.M1P1Q1.h", i);
		deliver(fx, "", name);
	}
	v = view(fx, "INBOX");
	mailbox_view_close(&v);
	mailbox_cache_flush();
	/* A torn tail makes the next open compact: a snapshot of 3. */
	fd = openat(fx->data_fd, ROOT "/popgate-index.log", O_WRONLY |
	    O_APPEND);
	assert_int_equal(write(fd, "\x30\x00", 2), 2);
	(void)close(fd);
	for (i = 4; i <= 6; i++) {
		(void)str_fmt(name, sizeof(name), "170000000%d.M1P1Q1.h", i);
		deliver(fx, "", name);
	}
	v = view(fx, "INBOX");
	store(fx, v, 2, MAILBOX_STORE_ADD, MAILBOX_SEEN);
	mailbox_view_get_info(v, &in);
	assert_int_equal(in.exists, 6);
	*uv = in.uidvalidity;
	mailbox_view_close(&v);
	mailbox_cache_flush();	/* what follows reads the files */
}

static void
test_torn_log(void **state)
{
	struct fx *fx = *state;
	struct mailbox_view *v;
	struct mailbox_view_info in;
	off_t size;
	uint32_t uv, i;

	make_index(fx, &uv);
	log_size(fx, &size);
	assert_int_equal(truncate(fx->dir, 0), -1);	/* (a directory) */
	{
		char path[128];

		(void)str_fmt(path, sizeof(path), "%s/" ROOT
		    "/popgate-index.log", fx->dir);
		assert_int_equal(truncate(path, size - 5), 0);
	}
	v = view(fx, "INBOX");
	mailbox_view_get_info(v, &in);
	assert_int_equal(in.uidvalidity, uv);
	assert_int_equal(in.exists, 6);
	for (i = 1; i <= 6; i++)
		assert_int_equal(mailbox_view_uid(v, i), i);
	/* The lost record was the STORE: the name still says S. */
	assert_int_equal(msg_at(v, 2).flags, MAILBOX_SEEN);
	mailbox_view_close(&v);
}

static void
test_garbage_log(void **state)
{
	struct fx *fx = *state;
	struct mailbox_view *v;
	struct mailbox_view_info in;
	uint32_t uv, i;
	int fd;

	make_index(fx, &uv);
	/* Garbage over the log's records, the header left whole. */
	fd = openat(fx->data_fd, ROOT "/popgate-index.log", O_WRONLY);
	assert_int_equal(pwrite(fd, "garbage!garbage!", 16, 40), 16);
	(void)close(fd);
	v = view(fx, "INBOX");
	mailbox_view_get_info(v, &in);
	assert_int_equal(in.uidvalidity, uv);
	assert_int_equal(in.exists, 6);
	/* The snapshot's UIDs are kept; the lost ones come back above
	   every UID the lost records could have given out. */
	for (i = 1; i <= 3; i++)
		assert_int_equal(mailbox_view_uid(v, i), i);
	for (i = 4; i <= 6; i++)
		assert_true(mailbox_view_uid(v, i) > 6);
	assert_true(mailbox_view_uid(v, 5) > mailbox_view_uid(v, 4));
	assert_int_equal(msg_at(v, 2).flags, MAILBOX_SEEN);
	mailbox_view_close(&v);
	/* Written back whole: the same again. */
	mailbox_cache_flush();
	v = view(fx, "INBOX");
	assert_true(mailbox_view_uid(v, 4) > 6);
	mailbox_view_close(&v);
}

static void
test_garbage_snapshot(void **state)
{
	struct fx *fx = *state;
	struct mailbox_view *v;
	struct mailbox_view_info in;
	uint32_t uv;

	make_index(fx, &uv);
	put_file(fx, ROOT "/popgate-index", "PGMBXIX1 not an index at all");
	clock_set_fake((time_t)uv + 100);
	v = view(fx, "INBOX");
	clock_set_fake(0);
	mailbox_view_get_info(v, &in);
	assert_int_not_equal(in.uidvalidity, uv);
	assert_int_equal(in.exists, 6);
	assert_int_equal(in.uidnext, 7);
	mailbox_view_close(&v);
}

/* ---- concurrency ---- */

static void
test_two_views(void **state)
{
	struct fx *fx = *state;
	struct mailbox_view *a, *b;
	struct mailbox_changes ch;
	struct mailbox_store st;
	struct mailbox_store_result res;
	uint32_t uid = 1;

	deliver(fx, "", "1700000001.M1P1Q1.h");
	deliver(fx, "", "1700000002.M1P1Q1.h");
	a = view(fx, "INBOX");
	b = view(fx, "INBOX");
	{
		struct mailbox_view_info ia, ib;

		mailbox_view_get_info(a, &ia);
		mailbox_view_get_info(b, &ib);
		assert_int_equal(ia.recent, 2);	/* the first view only */
		assert_int_equal(ib.recent, 0);
	}
	store(fx, a, 1, MAILBOX_STORE_ADD, MAILBOX_SEEN);
	assert_true(mailbox_view_poll(b));
	sync_view(fx, b, true, &ch);
	assert_int_equal(ch.nchanged, 1);
	assert_int_equal(ch.changed[0], 1);
	assert_true(msg_at(b, 1).flags & MAILBOX_SEEN);
	mailbox_changes_free(&ch);
	sync_view(fx, a, true, &ch);
	assert_int_equal(ch.nchanged, 0);	/* its own change */
	mailbox_changes_free(&ch);
	/* B's conditional STORE loses against A's newer change. */
	memset(&st, 0, sizeof(st));
	st.op = MAILBOX_STORE_ADD;
	st.flags = MAILBOX_FLAGGED;
	st.unchangedsince_set = true;
	st.unchangedsince = msg_at(b, 1).modseq;
	store(fx, a, 1, MAILBOX_STORE_ADD, MAILBOX_ANSWERED);
	assert_int_equal(mailbox_store(b, &uid, 1, &st, &res, &fx->err), 0);
	assert_int_equal(res.nmodified, 1);
	mailbox_store_result_free(&res);
	(void)append_text(fx, "INBOX", "Subject: n\n\nnew\n", 0, NULL, 0);
	store(fx, a, 2, MAILBOX_STORE_ADD, MAILBOX_DELETED);
	assert_int_equal(mailbox_expunge(a, NULL, 0, &fx->err), 0);
	sync_view(fx, b, true, &ch);
	assert_int_equal(ch.nexpunged, 1);
	assert_int_equal(ch.expunged[0], 2);
	assert_int_equal(ch.exists, 2);
	assert_true(ch.exists_changed);
	assert_int_equal(mailbox_view_uid(b, 2), 3);
	mailbox_changes_free(&ch);
	mailbox_view_close(&a);
	mailbox_view_close(&b);
}

struct hammer {
	struct fx	*fx;
	int		 id;
	int		 failed;
};

static void *
hammer_run(void *arg)
{
	struct hammer *h = arg;
	struct mailbox_err err;
	struct mailbox_view *v = mailbox_view_open(h->fx->u, "INBOX", 0,
	    &err);
	struct mailbox_changes ch;
	struct mailbox_store st;
	struct mailbox_store_result res;
	struct mailbox_append a;
	struct spool sp;
	uint32_t uv, uid, i;

	if (v == NULL) {
		h->failed = 1;
		return NULL;
	}
	for (i = 0; i < 40 && !h->failed; i++) {
		spool_init(&sp, h->fx->data_fd, ROOT "/tmp");
		spool_append(&sp, "Subject: t\n\nt\n", 14);
		memset(&a, 0, sizeof(a));
		a.data = &sp;
		if (mailbox_append(h->fx->u, "INBOX", &a, &uv, &uid, &err) ==
		    -1)
			h->failed = 2;
		spool_free(&sp);
		memset(&st, 0, sizeof(st));
		st.op = i % 3 == 0 ? MAILBOX_STORE_ADD : MAILBOX_STORE_REMOVE;
		st.flags = i % 5 == 0 ? MAILBOX_DELETED : MAILBOX_SEEN;
		uid = mailbox_view_uid(v, 1 + i % 7);
		if (uid != 0 && mailbox_store(v, &uid, 1, &st, &res, &err) ==
		    0)
			mailbox_store_result_free(&res);
		if (mailbox_view_sync(v, i % 4 == 0, &ch, &err) == -1)
			h->failed = 3;
		mailbox_changes_free(&ch);
		if (i % 10 == 9 && mailbox_expunge(v, NULL, 0, &err) == -1)
			h->failed = 4;
		if (h->id == 0 && i % 8 == 0) {
			char name[64];

			/* Unique names: a Maildir never reuses one. */
			(void)str_fmt(name, sizeof(name), "%u.M1P2Q1.x", i);
			deliver(h->fx, "", name);
		}
	}
	mailbox_view_close(&v);
	return NULL;
}

static void
test_threads(void **state)
{
	struct fx *fx = *state;
	struct hammer h[4];
	pthread_t t[4];
	struct mailbox_view *v;
	struct mailbox_view_info in;
	struct mailbox_msg *m;
	size_t i;

	for (i = 0; i < 4; i++) {
		h[i].fx = fx;
		h[i].id = (int)i;
		h[i].failed = 0;
		assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &h[i]),
		    0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(h[i].failed, 0);
	}
	v = view(fx, "INBOX");
	mailbox_view_get_info(v, &in);
	assert_int_equal(in.exists, count_msgs(fx, ROOT));
	m = calloc(in.exists, sizeof(*m));
	assert_int_equal(mailbox_view_msgs(v, 1, in.exists, m), 0);
	for (i = 1; i < in.exists; i++)
		assert_true(m[i].uid > m[i - 1].uid);
	free(m);
	mailbox_view_close(&v);
}

static void
test_gone(void **state)
{
	struct fx *fx = *state;
	struct mailbox_view *v = view(fx, "Trash");
	struct mailbox_changes ch;

	assert_int_equal(mailbox_delete(fx->u, "Trash", &fx->err), 0);
	assert_true(mailbox_view_poll(v));
	assert_int_equal(mailbox_view_sync(v, true, &ch, &fx->err), -1);
	assert_int_equal(fx->err.code, MAILBOX_ERR_GONE);
	{
		struct mailbox_store st;
		struct mailbox_store_result res;
		uint32_t one = 1;

		memset(&st, 0, sizeof(st));
		assert_int_equal(mailbox_store(v, &one, 1, &st, &res,
		    &fx->err), -1);
		assert_int_equal(fx->err.code, MAILBOX_ERR_GONE);
	}
	mailbox_view_close(&v);
	assert_int_equal(mailbox_create(fx->u, "Trash", 0, &fx->err), 0);
	v = view(fx, "Trash");
	mailbox_view_close(&v);
}

static void
test_dovecot_uids(void **state)
{
	struct fx *fx = *state;
	struct mailbox_view *v;
	struct mailbox_view_info in;

	put_file(fx, ROOT "/.Sent/dovecot-uidlist", "3 V12345 N10 Gabc\n"
	    "3 :1700000001.M1P1Q1.h,S=31\n7 W35 :1700000002.M1P1Q1.h\n"
	    "8 :gone.M1P1Q1.h\n");
	put_file(fx, ROOT "/.Sent/cur/1700000001.M1P1Q1.h,S=31:2,S", "x\n");
	put_file(fx, ROOT "/.Sent/cur/1700000002.M1P1Q1.h:2,", "y\n");
	put_file(fx, ROOT "/.Sent/cur/1700000000.M1P1Q1.h:2,", "z\n");
	v = view(fx, "Sent");
	mailbox_view_get_info(v, &in);
	assert_int_equal(in.uidvalidity, 12345);
	assert_int_equal(in.exists, 3);
	assert_int_equal(mailbox_view_uid(v, 1), 3);
	assert_int_equal(mailbox_view_uid(v, 2), 7);
	assert_int_equal(mailbox_view_uid(v, 3), 10);
	assert_int_equal(in.uidnext, 11);
	assert_true(msg_at(v, 1).modseq > 1000000);
	mailbox_view_close(&v);
	/* Kept by popgate's own index from now on. */
	mailbox_cache_flush();
	v = view(fx, "Sent");
	mailbox_view_get_info(v, &in);
	assert_int_equal(in.uidvalidity, 12345);
	assert_int_equal(mailbox_view_uid(v, 1), 3);
	assert_int_equal(mailbox_view_uid(v, 3), 10);
	mailbox_view_close(&v);
}

static void
test_readonly(void **state)
{
	struct fx *fx = *state;
	struct mailbox_view *v, *w;
	struct mailbox_view_info in;
	struct mailbox_store st;
	struct mailbox_store_result res;
	struct mailbox_copy_result cr;
	uint32_t one = 1;

	deliver(fx, "", "1700000001.M1P1Q1.h");
	v = mailbox_view_open(fx->u, "INBOX", MAILBOX_VIEW_READONLY, &fx->err);
	assert_non_null(v);
	mailbox_view_get_info(v, &in);
	assert_int_equal(in.exists, 1);
	assert_int_equal(in.recent, 0);
	memset(&st, 0, sizeof(st));
	assert_int_equal(mailbox_store(v, &one, 1, &st, &res, &fx->err), -1);
	assert_int_equal(fx->err.code, MAILBOX_ERR_CANNOT);
	assert_int_equal(mailbox_expunge(v, NULL, 0, &fx->err), -1);
	assert_int_equal(mailbox_copy(v, &one, 1, "Trash", true, &cr,
	    &fx->err), -1);
	assert_int_equal(mailbox_copy(v, &one, 1, "Trash", false, &cr,
	    &fx->err), 0);
	mailbox_copy_result_free(&cr);
	/* EXAMINE left \Recent to the next SELECT. */
	w = view(fx, "INBOX");
	mailbox_view_get_info(w, &in);
	assert_int_equal(in.recent, 1);
	mailbox_view_close(&w);
	mailbox_view_close(&v);
}

static void
test_no_overwrite(void **state)
{
	struct fx *fx = *state;
	struct mailbox_view *v;
	struct buf b;

	put_file(fx, ROOT "/cur/1700000001.M1P1Q1.h:2,", "first\n");
	put_file(fx, ROOT "/new/1700000001.M1P1Q1.h", "second\n");
	v = view(fx, "INBOX");
	buf_init(&b, 64);
	assert_int_equal(fs_read_file_at(fx->data_fd,
	    ROOT "/cur/1700000001.M1P1Q1.h:2,", &b), 0);
	assert_string_equal(buf_cstr(&b), "first\n");
	buf_free(&b);
	assert_true(exists(fx, ROOT "/new/1700000001.M1P1Q1.h"));
	mailbox_view_close(&v);
}

/* The POP3 maildrop (the real pop3_maildrop.c) and the IMAP view of
   one INBOX: same UIDLs in the same order, before and after IMAP moved
   a file from new/ to cur/ (its first flag); a POP3 deletion is an
   expunge for IMAP. */
static void
test_pop3(void **state)
{
	struct fx *fx = *state;
	struct maildrop d;
	struct mailbox_view *v;
	struct mailbox_changes ch;
	char uidl[MAILBOX_UIDL_MAX + 1], before[3][MAILBOX_UIDL_MAX + 1];
	const char *err = "";
	size_t i;

	deliver(fx, "", "1700000001.M1P1Q1.h,S=31,W=35");
	deliver(fx, "", "1700000002.M1P1Q1.h,S=31,W=35");
	put_file(fx, ROOT "/cur/1700000000.M1P1Q1.h,S=31,W=35:2,S", "x\n");
	assert_int_equal(maildrop_open(&d, fx->data_fd, ROOT, &err), 0);
	assert_int_equal(d.n, 3);
	for (i = 0; i < 3; i++)
		(void)str_copy(before[i], d.v[i].uidl, sizeof(before[i]));
	maildrop_free(&d);
	v = view(fx, "INBOX");
	for (i = 0; i < 3; i++) {
		assert_int_equal(mailbox_msg_uidl(v, mailbox_view_uid(v,
		    (uint32_t)i + 1), uidl), 1);
		assert_string_equal(uidl, before[i]);
	}
	assert_int_equal(maildrop_open(&d, fx->data_fd, ROOT, &err), 0);
	for (i = 0; i < 3; i++)
		assert_string_equal(d.v[i].uidl, before[i]);
	d.v[1].deleted = true;
	assert_int_equal(maildrop_commit(&d), 0);
	maildrop_free(&d);
	/* A name POP3 listed in new/, found again. */
	{
		char where[512];

		assert_int_equal(mailbox_file_find(fx->data_fd, ROOT,
		    "1700000002.M1P1Q1.h,S=31,W=35", where, sizeof(where)), 1);
		assert_string_equal(where, ROOT
		    "/new/1700000002.M1P1Q1.h,S=31,W=35");
		assert_int_equal(mailbox_file_find(fx->data_fd, ROOT,
		    "1700000000.M1P1Q1.h,S=31,W=35:2,S", where, sizeof(where)),
		    1);
		/* The one POP3 deleted. */
		assert_int_equal(mailbox_file_find(fx->data_fd, ROOT,
		    "1700000001.M1P1Q1.h,S=31,W=35", where, sizeof(where)), 0);
		assert_int_equal(mailbox_file_find(fx->data_fd, ROOT,
		    "../x", where, sizeof(where)), -1);
		/* Renamed for a flag since. */
		store(fx, v, 3, MAILBOX_STORE_ADD, MAILBOX_FLAGGED);
		assert_int_equal(mailbox_file_find(fx->data_fd, ROOT,
		    "1700000002.M1P1Q1.h,S=31,W=35:2,", where, sizeof(where)),
		    1);
		assert_string_equal(where, ROOT
		    "/cur/1700000002.M1P1Q1.h,S=31,W=35:2,F");
	}
	sync_view(fx, v, true, &ch);
	assert_int_equal(ch.nexpunged, 1);
	assert_int_equal(ch.vanished[0], 2);
	mailbox_changes_free(&ch);
	mailbox_view_close(&v);
}

static void
test_10000(void **state)
{
	struct fx *fx = *state;
	struct mailbox_view *v;
	struct mailbox_view_info in;
	struct mailbox_msg *m;
	char name[128];
	uint64_t t0, t1, t2, t3, t4, t5;
	size_t i;

	for (i = 0; i < 10000; i++) {
		(void)str_fmt(name, sizeof(name),
		    "%zu.M%zuP1Q1.h,S=31,W=35", 1600000000 + i, i % 1000000);
		deliver(fx, "", name);
	}
	t0 = clock_mono_us();
	v = view(fx, "INBOX");
	t1 = clock_mono_us();
	mailbox_view_get_info(v, &in);
	assert_int_equal(in.exists, 10000);
	m = calloc(10000, sizeof(*m));
	assert_int_equal(mailbox_view_msgs(v, 1, 10000, m), 0);
	t2 = clock_mono_us();
	assert_int_equal(m[9999].uid, 10000);
	free(m);
	store(fx, v, 5000, MAILBOX_STORE_ADD, MAILBOX_SEEN);
	mailbox_view_close(&v);
	t3 = clock_mono_us();
	v = view(fx, "INBOX");		/* the state kept in memory */
	mailbox_view_close(&v);
	t4 = clock_mono_us();
	mailbox_cache_flush();
	t5 = clock_mono_us();
	v = view(fx, "INBOX");		/* from the index files */
	print_message("10000 messages: first open %.1f ms (new/ to cur/), "
	    "list %.1f ms, reopen kept %.1f ms, reopen from disk %.1f ms\n",
	    (t1 - t0) / 1000.0, (t2 - t1) / 1000.0, (t4 - t3) / 1000.0,
	    (clock_mono_us() - t5) / 1000.0);
	mailbox_view_close(&v);
}

int
main(void)
{
	int r;

	log_init("test_mailbox_index", LOG_TO_STDERR);
	add_test("UIDs and UIDVALIDITY across reopens", test_uids_stable,
	    NULL);
	add_test("deliveries, renames and deletions by others",
	    test_external_changes, NULL);
	add_test("STORE, UNCHANGEDSINCE, keywords", test_store, NULL);
	add_test("EXPUNGE and UID EXPUNGE", test_expunge, NULL);
	add_test("APPEND durable with flags, keywords, date", test_append,
	    NULL);
	add_test("COPY and MOVE with COPYUID", test_copy_move, NULL);
	add_test("torn log tail", test_torn_log, NULL);
	add_test("garbage in the log", test_garbage_log, NULL);
	add_test("garbage snapshot", test_garbage_snapshot, NULL);
	add_test("two views of one folder", test_two_views, NULL);
	add_test("threads on one folder", test_threads, NULL);
	add_test("a deleted folder under a view", test_gone, NULL);
	add_test("Dovecot's UIDs taken over", test_dovecot_uids, NULL);
	add_test("EXAMINE: read-only, no \\Recent", test_readonly, NULL);
	add_test("a name delivered twice overwrites nothing",
	    test_no_overwrite, NULL);
	add_test("POP3 UIDLs and IMAP UIDs name the same files", test_pop3,
	    NULL);
	add_test("10 000 messages", test_10000, NULL);
	r = _cmocka_run_group_tests("mailbox_index", tests, ntests, NULL,
	    NULL);
	free(tests);
	return r;
}
