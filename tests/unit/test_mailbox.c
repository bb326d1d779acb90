/*
 * test_mailbox.c - the folders of src/mailbox/ (mailbox_user.c,
 * mailbox_name.c): the SPECIAL-USE defaults, LIST with '*' and '%',
 * CREATE, RENAME (INBOX too), DELETE, SUBSCRIBE in Dovecot's file,
 * names (every escape attempt refused), modified UTF-7, STATUS, QUOTA.
 * The index and views are in test_mailbox_index.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_mailbox_fx.h"

static const struct mailbox_entry *
entry(const struct mailbox_list *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

static void
list(struct fx *fx, const char *pattern, unsigned flags,
    struct mailbox_list *l)
{
	if (mailbox_list(fx->u, pattern, flags, l, &fx->err) == -1)
		fail_msg("list: %s", fx->err.text);
}

static void
test_defaults(void **state)
{
	struct fx *fx = *state;
	struct mailbox_list l;
	struct buf b;
	const struct mailbox_entry *e;

	list(fx, "*", 0, &l);
	assert_int_equal(l.n, 6);
	assert_string_equal(l.v[0].name, "INBOX");
	e = entry(&l, "Sent");
	assert_non_null(e);
	assert_true(e->attrs & MAILBOX_USE_SENT);
	assert_true(e->attrs & MAILBOX_ATTR_SUBSCRIBED);
	assert_true(e->attrs & MAILBOX_ATTR_HASNOCHILDREN);
	assert_true(entry(&l, "Junk")->attrs & MAILBOX_USE_JUNK);
	assert_true(entry(&l, "Trash")->attrs & MAILBOX_USE_TRASH);
	assert_true(entry(&l, "Drafts")->attrs & MAILBOX_USE_DRAFTS);
	assert_true(entry(&l, "Archive")->attrs & MAILBOX_USE_ARCHIVE);
	mailbox_list_free(&l);
	assert_true(exists(fx, ROOT "/.Sent/maildirfolder"));
	assert_true(exists(fx, ROOT "/.Sent/cur"));
	/* Dovecot's subscriptions file, version 2. */
	buf_init(&b, 4096);
	assert_int_equal(fs_read_file_at(fx->data_fd, ROOT "/subscriptions",
	    &b), 0);
	assert_true(strncmp(buf_cstr(&b), "V\t2\n\nINBOX\n", 11) == 0);
	assert_non_null(strstr(buf_cstr(&b), "\nArchive\n"));
	buf_free(&b);
	/* Deleted once, never made again. */
	assert_int_equal(mailbox_delete(fx->u, "Junk", &fx->err), 0);
	mailbox_user_free(&fx->u);
	fx->u = mailbox_user_open(fx->data_fd, ROOT, "mx", &fx->err);
	assert_non_null(fx->u);
	assert_false(exists(fx, ROOT "/.Junk"));
}

static void
test_create_list(void **state)
{
	struct fx *fx = *state;
	struct mailbox_list l;
	const struct mailbox_entry *e;

	assert_int_equal(mailbox_create(fx->u, "Work.2024.Q1", 0, &fx->err), 0);
	assert_true(exists(fx, ROOT "/.Work/cur"));
	assert_true(exists(fx, ROOT "/.Work.2024/maildirfolder"));
	assert_int_equal(mailbox_create(fx->u, "Work.2024.Q1", 0, &fx->err),
	    -1);
	assert_int_equal(fx->err.code, MAILBOX_ERR_EXISTS);
	assert_int_equal(mailbox_create(fx->u, "inbox", 0, &fx->err), -1);
	assert_int_equal(fx->err.code, MAILBOX_ERR_EXISTS);
	list(fx, "%", 0, &l);
	assert_int_equal(l.n, 7);
	assert_non_null(entry(&l, "Work"));
	assert_null(entry(&l, "Work.2024"));
	assert_true(entry(&l, "Work")->attrs & MAILBOX_ATTR_HASCHILDREN);
	mailbox_list_free(&l);
	list(fx, "Work.%", 0, &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].name, "Work.2024");
	mailbox_list_free(&l);
	list(fx, "*Q1", 0, &l);
	assert_int_equal(l.n, 1);
	mailbox_list_free(&l);
	list(fx, "inbox", 0, &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].name, "INBOX");
	mailbox_list_free(&l);
	/* A parent that is no folder: \NonExistent under '%'. */
	assert_int_equal(mailbox_delete(fx->u, "Work.2024", &fx->err), 0);
	assert_true(exists(fx, ROOT "/.Work.2024.Q1/cur"));
	list(fx, "Work.%", 0, &l);
	e = entry(&l, "Work.2024");
	assert_non_null(e);
	assert_true(e->attrs & MAILBOX_ATTR_NONEXISTENT);
	assert_true(e->attrs & MAILBOX_ATTR_NOSELECT);
	assert_true(e->attrs & MAILBOX_ATTR_HASCHILDREN);
	mailbox_list_free(&l);
	list(fx, "*", 0, &l);
	assert_null(entry(&l, "Work.2024"));
	mailbox_list_free(&l);
	/* RFC 9051 6.3.5: no DELETE of a \Noselect name with children. */
	assert_int_equal(mailbox_delete(fx->u, "Work.2024", &fx->err), -1);
	assert_int_equal(fx->err.code, MAILBOX_ERR_CANNOT);
	assert_int_equal(mailbox_delete(fx->u, "Nope", &fx->err), -1);
	assert_int_equal(fx->err.code, MAILBOX_ERR_NONEXISTENT);
	assert_int_equal(mailbox_delete(fx->u, "INBOX", &fx->err), -1);
	assert_int_equal(fx->err.code, MAILBOX_ERR_CANNOT);
	/* No trace of deleted folders is left in tmp/. */
	assert_int_equal(count_files(fx, ROOT "/tmp"), 0);
}

static void
test_special_use_create(void **state)
{
	struct fx *fx = *state;
	struct mailbox_list l;

	assert_int_equal(mailbox_create(fx->u, "Old", MAILBOX_USE_ARCHIVE,
	    &fx->err), 0);
	list(fx, "*", 0, &l);
	assert_true(entry(&l, "Old")->attrs & MAILBOX_USE_ARCHIVE);
	assert_false(entry(&l, "Archive")->attrs & MAILBOX_USE_ARCHIVE);
	mailbox_list_free(&l);
	assert_int_equal(mailbox_rename(fx->u, "Old", "Older", &fx->err), 0);
	list(fx, "Older", 0, &l);
	assert_int_equal(l.n, 1);
	assert_true(l.v[0].attrs & MAILBOX_USE_ARCHIVE);
	mailbox_list_free(&l);
}

static void
test_rename(void **state)
{
	struct fx *fx = *state;
	struct mailbox_list l;
	struct mailbox_view *v;
	struct mailbox_changes ch;

	assert_int_equal(mailbox_create(fx->u, "A.B", 0, &fx->err), 0);
	assert_int_equal(mailbox_subscribe(fx->u, "A.B", true, &fx->err), 0);
	(void)append_text(fx, "A.B", "Subject: x\r\n\r\nhi\r\n", 0, NULL, 0);
	v = view(fx, "A.B");
	assert_int_equal(mailbox_rename(fx->u, "A", "Z", &fx->err), 0);
	assert_true(exists(fx, ROOT "/.Z.B/cur"));
	assert_false(exists(fx, ROOT "/.A.B"));
	/* The open view of the old name learns it is gone. */
	assert_int_equal(mailbox_view_sync(v, true, &ch, &fx->err), -1);
	assert_int_equal(fx->err.code, MAILBOX_ERR_GONE);
	mailbox_view_close(&v);
	list(fx, "*", MAILBOX_LIST_SUBSCRIBED, &l);
	assert_non_null(entry(&l, "Z.B"));
	assert_null(entry(&l, "A.B"));
	mailbox_list_free(&l);
	v = view(fx, "Z.B");
	assert_int_equal(mailbox_view_uid(v, 1), 1);
	mailbox_view_close(&v);
	assert_int_equal(mailbox_rename(fx->u, "Z", "Z.C", &fx->err), -1);
	assert_int_equal(fx->err.code, MAILBOX_ERR_CANNOT);
	assert_int_equal(mailbox_rename(fx->u, "Z", "Sent", &fx->err), -1);
	assert_int_equal(fx->err.code, MAILBOX_ERR_EXISTS);
	assert_int_equal(mailbox_rename(fx->u, "Nope", "Nope2", &fx->err), -1);
	assert_int_equal(fx->err.code, MAILBOX_ERR_NONEXISTENT);
}

static void
test_rename_inbox(void **state)
{
	struct fx *fx = *state;
	struct mailbox_status st;

	deliver(fx, "", "1700000000.M1P1Q1.h,S=30,W=33");
	(void)append_text(fx, "INBOX", "Subject: y\r\n\r\nyo\r\n",
	    MAILBOX_FLAGGED, NULL, 0);
	assert_int_equal(mailbox_rename(fx->u, "INBOX", "Old", &fx->err), 0);
	assert_int_equal(mailbox_status(fx->u, "INBOX", &st, &fx->err), 0);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.uidnext, 3);	/* UIDs are never reused */
	assert_int_equal(mailbox_status(fx->u, "Old", &st, &fx->err), 0);
	assert_int_equal(st.messages, 2);
	assert_int_equal(count_files(fx, ROOT "/cur"), 0);
}

static void
test_subscribe(void **state)
{
	struct fx *fx = *state;
	struct mailbox_list l;
	const struct mailbox_entry *e;

	assert_int_equal(mailbox_subscribe(fx->u, "Ghost", true, &fx->err), 0);
	assert_int_equal(mailbox_subscribe(fx->u, "Sent", false, &fx->err), 0);
	list(fx, "*", MAILBOX_LIST_SUBSCRIBED, &l);
	e = entry(&l, "Ghost");
	assert_non_null(e);
	assert_true(e->attrs & MAILBOX_ATTR_NONEXISTENT);
	assert_null(entry(&l, "Sent"));
	mailbox_list_free(&l);
	/* Dovecot's version 1 file (one name a line) reads too. */
	put_file(fx, ROOT "/subscriptions", "INBOX\nEntw&APw-rfe\na.b\n");
	list(fx, "*", MAILBOX_LIST_SUBSCRIBED, &l);
	assert_int_equal(l.n, 3);
	assert_non_null(entry(&l, "Entw\xc3\xbcrfe"));
	assert_non_null(entry(&l, "a.b"));
	mailbox_list_free(&l);
}

/* ---- names ---- */

static const char *const bad_names[] = {
	"", ".", "..", "...", ".hidden", "a.", "a..b", "a/b", "/etc",
	"../../etc", "a/../../b", "x\x01y", "x\ny", "x\x7fy", "a*", "a%",
	"\xff", "\xc0\xae\xc0\xae", "\xc0\xaf", "\xed\xa0\x80", "\xc2\x85",
	"INBOX.child", "inbox.x",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
};

static char bad_titles[nitems(bad_names)][32];

static void
test_bad_name(void **state)
{
	struct fx *fx = *state;
	const char *name = *(const char *const *)fx->row;
	struct mailbox_view *v;
	struct mailbox_status st;

	assert_false(mailbox_name_valid(name));
	assert_int_equal(mailbox_create(fx->u, name, 0, &fx->err), -1);
	assert_true(fx->err.code == MAILBOX_ERR_CANNOT ||
	    fx->err.code == MAILBOX_ERR_EXISTS);
	assert_int_equal(mailbox_rename(fx->u, "Sent", name, &fx->err), -1);
	assert_int_equal(mailbox_delete(fx->u, name, &fx->err), -1);
	assert_int_equal(mailbox_subscribe(fx->u, name, true, &fx->err), -1);
	assert_int_equal(mailbox_status(fx->u, name, &st, &fx->err), -1);
	v = mailbox_view_open(fx->u, name, 0, &fx->err);
	assert_null(v);
	/* Nothing appeared beside the Maildir or the data directory. */
	assert_int_equal(count_files(fx, "mail/acme.test"), 1);
	assert_int_equal(count_files(fx, "."), 1);
	assert_true(exists(fx, ROOT "/.Sent/cur"));
}

static const char *const good_names[] = {
	"Sent", "a.b.c", "\xc3\x9c" "ber", "\xe6\x97\xa5\xe6\x9c\xac",
	"with space", "amp&rsand", "~tilde", "a-b_c+d", "\xf0\x9f\x93\xa7",
};

static void
test_good_name(void **state)
{
	struct fx *fx = *state;
	const char *name = *(const char *const *)fx->row;
	struct mailbox_list l;

	assert_true(mailbox_name_valid(name));
	if (strcmp(name, "Sent") != 0)
		assert_int_equal(mailbox_create(fx->u, name, 0, &fx->err), 0);
	list(fx, name, 0, &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].name, name);
	mailbox_list_free(&l);
	assert_int_equal(mailbox_delete(fx->u, name, &fx->err), 0);
}

static const struct mutf7_case {
	const char	*utf8, *mutf7;
} mutf7_cases[] = {
	{ "Entw\xc3\xbcrfe", "Entw&APw-rfe" },
	{ "&", "&-" },
	{ "a&b", "a&-b" },
	{ "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "&ZeVnLIqe-" },
	{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac"
	    "\xe8\xaa\x9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ "\xf0\x9f\x93\xa7", "&2D3c5w-" },
	{ "plain", "plain" },
};

static void
test_mutf7(void **state)
{
	const struct mutf7_case *c = ((struct fx *)*state)->row;
	char out[256];

	assert_int_equal(mailbox_utf8_to_mutf7(c->utf8, out, sizeof(out)), 0);
	assert_string_equal(out, c->mutf7);
	assert_int_equal(mailbox_mutf7_to_utf8(c->mutf7, out, sizeof(out)), 0);
	assert_string_equal(out, c->utf8);
}

static void
test_mutf7_bad(void **state)
{
	static const char *const bad[] = {
		"&", "&Jjo", "&AGE-", "&-&", "&2D0-", "&3Dw-", "a\x80",
		"&ZeVnLIqe", "&AOR-",
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(bad); i++)
		if (mailbox_mutf7_to_utf8(bad[i], out, sizeof(out)) == 0)
			fail_msg("accepted %s", bad[i]);
	assert_int_equal(mailbox_utf8_to_mutf7("\xe6\x97\xa5", out, 4), -1);
}

static void
test_dir_names(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(mailbox_create(fx->u, "Entw\xc3\xbcrfe.\xe6\x97\xa5",
	    0, &fx->err), 0);
	assert_true(exists(fx, ROOT "/.Entw&APw-rfe/cur"));
	assert_true(exists(fx, ROOT "/.Entw&APw-rfe.&ZeU-/cur"));
	/* A directory no name can map to is not listed. */
	assert_int_equal(mkdirat(fx->data_fd, ROOT "/.bad&-&", 0700), 0);
	assert_int_equal(mkdirat(fx->data_fd, ROOT "/..x", 0700), 0);
	{
		struct mailbox_list l;

		assert_int_equal(mailbox_list(fx->u, "*", 0, &l, &fx->err), 0);
		assert_int_equal(l.n, 8);
		mailbox_list_free(&l);
	}
}

static const struct pat_case {
	const char	*pattern, *name;
	bool		 match;
} pat_cases[] = {
	{ "*", "a.b.c", true }, { "%", "a.b", false }, { "%", "a", true },
	{ "a%", "abc", true }, { "a.%", "a.b", true }, { "a.%", "a.b.c", false },
	{ "a.*", "a.b.c", true }, { "*b", "a.b", true }, { "%b", "a.b", false },
	{ "%.%", "a.b", true }, { "inbox", "INBOX", true },
	{ "INB*", "INBOX", true }, { "inbox", "inbox2", false },
	{ "Sent", "sent", false }, { "", "", true }, { "", "a", false },
	{ "a*b*c", "axxbyyc", true }, { "a*b*c", "axxbyy", false },
	{ "%%%", "abc", true }, { "*.*", "abc", false },
	{ "*a*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },
};

static void
test_pattern(void **state)
{
	const struct pat_case *c = ((struct fx *)*state)->row;

	assert_int_equal(mailbox_pattern_match(c->pattern, c->name), c->match);
}

/* ---- STATUS, QUOTA ---- */

static void
test_status_quota(void **state)
{
	struct fx *fx = *state;
	struct mailbox_status st;
	uint64_t octets, msgs;

	deliver(fx, "", "1700000000.M1P1Q1.h");
	deliver(fx, "", "1700000001.M1P1Q2.h,S=33,W=36");
	(void)append_text(fx, "INBOX", "Subject: z\r\n\r\nz\r\n",
	    MAILBOX_SEEN | MAILBOX_DELETED, NULL, 0);
	(void)append_text(fx, "Sent", "Subject: s\n\nsent\n", MAILBOX_SEEN,
	    NULL, 0);
	assert_int_equal(mailbox_status(fx->u, "inbox", &st, &fx->err), 0);
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.unseen, 2);
	assert_int_equal(st.deleted, 1);
	assert_int_equal(st.uidnext, 4);
	assert_int_not_equal(st.uidvalidity, 0);
	assert_int_equal(st.size, 35 + 36 + 17);
	assert_true(st.highestmodseq >= 3);
	assert_true(exists(fx, ROOT "/new/1700000000.M1P1Q1.h"));
	assert_int_equal(mailbox_quota_usage(fx->u, &octets, &msgs, &fx->err),
	    0);
	assert_int_equal(msgs, 4);
	assert_int_equal(octets, 31 + 33 + 14 + 17);
	assert_int_equal(mailbox_status(fx->u, "Nope", &st, &fx->err), -1);
	assert_int_equal(fx->err.code, MAILBOX_ERR_NONEXISTENT);
}

static void
test_uidl(void **state)
{
	char out[MAILBOX_UIDL_MAX + 1];

	(void)state;
	mailbox_uidl("1700000000.M1P1Q1.host,S=10,W=12:2,S", out);
	assert_string_equal(out, "1700000000.M1P1Q1.host");
	mailbox_uidl("weird name:2,", out);
	assert_int_equal(strlen(out), 40);	/* a SHA-256 prefix */
}

int
main(void)
{
	size_t i;
	int r;

	log_init("test_mailbox", LOG_TO_STDERR);
	add_test("defaults: special-use folders, subscriptions", test_defaults,
	    NULL);
	add_test("create with parents, list % and *", test_create_list, NULL);
	add_test("create with SPECIAL-USE, rename keeps it",
	    test_special_use_create, NULL);
	add_test("rename a tree, subscriptions follow", test_rename, NULL);
	add_test("rename INBOX moves its messages", test_rename_inbox, NULL);
	add_test("subscribe, Dovecot's v1 file", test_subscribe, NULL);
	for (i = 0; i < nitems(bad_names); i++) {
		/* The names themselves hold control bytes: not for TAP. */
		(void)str_fmt(bad_titles[i], sizeof(bad_titles[i]),
		    "refused name %zu", i);
		add_test(bad_titles[i], test_bad_name, &bad_names[i]);
	}
	for (i = 0; i < nitems(good_names); i++)
		add_test(good_names[i], test_good_name, &good_names[i]);
	for (i = 0; i < nitems(mutf7_cases); i++)
		add_test(mutf7_cases[i].mutf7, test_mutf7, &mutf7_cases[i]);
	add_test("invalid modified UTF-7", test_mutf7_bad, NULL);
	add_test("directory names in modified UTF-7", test_dir_names, NULL);
	for (i = 0; i < nitems(pat_cases); i++)
		add_test(pat_cases[i].pattern, test_pattern, &pat_cases[i]);
	add_test("status and quota", test_status_quota, NULL);
	add_test("POP3 UIDL rule", test_uidl, NULL);
	r = _cmocka_run_group_tests("mailbox", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
