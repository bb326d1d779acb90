/*
 * test_imap_parse_fields.h - what the canonical form does not show: the
 * fields of struct imap_cmd and struct imap_error themselves, ownership
 * and the command table (included by test_imap_parse.c only).
 */

/* Parses S, which must succeed, into *C. */
static void
must_parse(const char *s, size_t n, struct imap_cmd *c)
{
	struct imap_error e;

	if (parse(s, n, c, &e) != 0)
		fail_msg("parse failed: %s", e.text);
}

static void
assert_str(const struct imap_str *s, const char *want)
{
	assert_non_null(s->s);
	assert_int_equal(s->len, strlen(want));
	assert_memory_equal(s->s, want, s->len);
	assert_int_equal(s->s[s->len], '\0');
	assert_true(imap_parser_owns(parser, s->s, s->len + 1));
}

static void
test_login_fields(void **state)
{
	static const char in[] = "t1 LOGIN {3+}\r\nann \"s\\\"3\"";
	struct imap_cmd c;

	(void)state;
	must_parse(in, sizeof(in) - 1, &c);
	assert_int_equal(c.id, IMAP_CMD_LOGIN);
	assert_false(c.uid);
	assert_str(&c.tag, "t1");
	assert_str(&c.user, "ann");
	assert_str(&c.pass, "s\"3");
	/* Copies: not pointers into the input. */
	assert_false(c.user.s >= input && c.user.s < input + sizeof(in));
	assert_null(c.mailbox.name.s);
	assert_int_equal(c.set.n, 0);
}

static void
test_append_fields(void **state)
{
	static const char in[] = "a APPEND inbox (\\Seen \\Flagged $Work) "
	    "\"17-Jul-1996 02:44:25 -0700\" {5}\r\nHello";
	struct imap_cmd c;

	(void)state;
	must_parse(in, sizeof(in) - 1, &c);
	assert_int_equal(c.id, IMAP_CMD_APPEND);
	assert_true(c.mailbox.inbox);
	assert_str(&c.mailbox.name, "INBOX");
	assert_int_equal(c.append.flags.sys, IMAP_FLAG_SEEN |
	    IMAP_FLAG_FLAGGED);
	assert_int_equal(c.append.flags.nkw, 1);
	assert_str(&c.append.flags.kw[0], "$Work");
	assert_true(c.append.date_set);
	assert_int_equal(c.append.date, 837596665);
	assert_int_equal(c.append.zone, -420);
	/* The message points into the input, as it may be large. */
	assert_ptr_equal(c.append.data, input + sizeof(in) - 1 - 5);
	assert_int_equal(c.append.datalen, 5);
	assert_false(c.append.binary);
}

static void
test_append_binary(void **state)
{
	static const char in[] = "a APPEND x ~{3+}\r\na\0b";
	struct imap_cmd c;

	(void)state;
	must_parse(in, sizeof(in) - 1, &c);
	assert_true(c.append.binary);
	assert_false(c.append.date_set);
	assert_int_equal(c.append.datalen, 3);
	assert_memory_equal(c.append.data, "a\0b", 3);
}

static void
test_fetch_fields(void **state)
{
	static const char in[] = "a UID FETCH 5:* (UID "
	    "BODY.PEEK[1.2.HEADER.FIELDS (From {2}\r\nTo)]<5.10> BINARY[3] "
	    "RFC822.SIZE) (CHANGEDSINCE 99 VANISHED)";
	const struct imap_fetch_att *a;
	struct imap_cmd c;

	(void)state;
	must_parse(in, sizeof(in) - 1, &c);
	assert_true(c.uid);
	assert_int_equal(c.set.n, 1);
	assert_int_equal(c.set.r[0].lo, 5);
	assert_int_equal(c.set.r[0].hi, IMAP_SEQ_STAR);
	assert_int_equal(c.fetch.natts, 4);
	assert_int_equal(c.fetch.macro, IMAP_FETCH_NO_MACRO);
	a = &c.fetch.att[1];
	assert_int_equal(a->kind, IMAP_FETCH_BODY_SECTION);
	assert_true(a->peek);
	assert_int_equal(a->section.nparts, 2);
	assert_int_equal(a->section.part[0], 1);
	assert_int_equal(a->section.part[1], 2);
	assert_int_equal(a->section.text, IMAP_SECTION_HEADER_FIELDS);
	assert_int_equal(a->section.nfields, 2);
	assert_str(&a->section.field[0], "From");
	assert_str(&a->section.field[1], "To");
	assert_true(a->partial);
	assert_int_equal(a->offset, 5);
	assert_int_equal(a->length, 10);
	assert_int_equal(c.fetch.att[2].kind, IMAP_FETCH_BINARY);
	assert_false(c.fetch.att[2].peek);
	assert_int_equal(c.fetch.att[2].section.part[0], 3);
	assert_int_equal(c.fetch.att[3].kind, IMAP_FETCH_RFC822_SIZE);
	assert_true(c.fetch.changedsince_set);
	assert_int_equal(c.fetch.changedsince, 99);
	assert_true(c.fetch.vanished);
}

static void
test_fetch_macro(void **state)
{
	static const char in[] = "a FETCH 1 FULL";
	struct imap_cmd c;

	(void)state;
	must_parse(in, sizeof(in) - 1, &c);
	assert_int_equal(c.fetch.macro, IMAP_FETCH_MACRO_FULL);
	assert_int_equal(c.fetch.natts, 5);
	assert_int_equal(c.fetch.att[4].kind, IMAP_FETCH_BODY);
	assert_false(c.fetch.changedsince_set);
}

static void
test_search_tree(void **state)
{
	static const char in[] = "a UID SEARCH RETURN (COUNT) OR (FROM x "
	    "SEEN) NOT UID 1:* SINCE 1-Feb-2024 HEADER X-A \"\" LARGER 7";
	const struct imap_search_node *n;
	struct imap_cmd c;

	(void)state;
	must_parse(in, sizeof(in) - 1, &c);
	assert_true(c.search.esearch);
	assert_int_equal(c.search.ret, IMAP_SEARCH_RET_COUNT);
	assert_null(c.search.charset.s);
	n = c.search.node;
	assert_int_equal(c.search.nnodes, 10);
	assert_int_equal(n[0].key, IMAP_SK_AND);
	assert_int_equal(n[n[0].child].key, IMAP_SK_OR);
	assert_int_equal(n[1].key, IMAP_SK_OR);
	assert_int_equal(n[n[1].child].key, IMAP_SK_AND);
	assert_int_equal(n[n[n[1].child].child].key, IMAP_SK_FROM);
	assert_str(&n[3].u.str, "x");
	assert_int_equal(n[n[3].next].key, IMAP_SK_SEEN);
	assert_int_equal(n[4].next, 0);
	assert_int_equal(n[n[2].next].key, IMAP_SK_NOT);
	assert_int_equal(n[5].child, 6);
	assert_int_equal(n[6].key, IMAP_SK_UID);
	assert_int_equal(n[6].u.set.r[0].hi, IMAP_SEQ_STAR);
	assert_int_equal(n[1].next, 7);
	assert_int_equal(n[7].key, IMAP_SK_SINCE);
	assert_int_equal(n[7].u.date.year, 2024);
	assert_int_equal(n[7].u.date.mon, 2);
	assert_int_equal(n[7].u.date.day, 1);
	assert_int_equal(n[7].u.date.t, 1706745600);
	assert_int_equal(n[8].key, IMAP_SK_HEADER);
	assert_str(&n[8].u.header.name, "X-A");
	assert_str(&n[8].u.header.value, "");
	assert_int_equal(n[9].key, IMAP_SK_LARGER);
	assert_int_equal(n[9].u.number, 7);
	assert_int_equal(n[9].next, 0);
}

static void
test_search_modseq(void **state)
{
	static const char in[] = "a SEARCH MODSEQ \"/flags/\\\\Seen\" shared "
	    "5 CHARSET X";
	struct imap_cmd c;
	struct imap_error e;

	(void)state;
	/* CHARSET only leads the program. */
	assert_int_equal(parse(in, sizeof(in) - 1, &c, &e), -1);
	must_parse(in, sizeof(in) - 11, &c);
	assert_int_equal(c.search.node[1].key, IMAP_SK_MODSEQ);
	assert_str(&c.search.node[1].u.modseq.entry, "/flags/\\Seen");
	assert_int_equal(c.search.node[1].u.modseq.type, IMAP_ENTRY_SHARED);
	assert_int_equal(c.search.node[1].u.modseq.value, 5);
}

static void
test_store_fields(void **state)
{
	static const char in[] = "a STORE $ (UNCHANGEDSINCE 3) -FLAGS.SILENT "
	    "\\Draft kw";
	struct imap_cmd c;

	(void)state;
	must_parse(in, sizeof(in) - 1, &c);
	assert_true(c.set.saved);
	assert_int_equal(c.set.n, 0);
	assert_int_equal(c.store.op, IMAP_STORE_REMOVE);
	assert_true(c.store.silent);
	assert_true(c.store.unchangedsince_set);
	assert_int_equal(c.store.unchangedsince, 3);
	assert_int_equal(c.store.flags.sys, IMAP_FLAG_DRAFT);
	assert_int_equal(c.store.flags.nkw, 1);
	assert_str(&c.store.flags.kw[0], "kw");
}

static void
test_select_fields(void **state)
{
	static const char in[] = "a EXAMINE Sent (QRESYNC (7 8 1:3,9 "
	    "(2,4 20,40)) CONDSTORE)";
	struct imap_cmd c;

	(void)state;
	must_parse(in, sizeof(in) - 1, &c);
	assert_int_equal(c.id, IMAP_CMD_EXAMINE);
	assert_false(c.mailbox.inbox);
	assert_true(c.select.condstore);
	assert_true(c.select.qresync);
	assert_int_equal(c.select.uidvalidity, 7);
	assert_int_equal(c.select.modseq, 8);
	assert_int_equal(c.select.known_uids.n, 2);
	assert_int_equal(c.select.known_uids.r[1].lo, 9);
	assert_int_equal(c.select.match_seqs.n, 2);
	assert_int_equal(c.select.match_uids.r[1].lo, 40);
}

static void
test_list_fields(void **state)
{
	static const char in[] = "a LIST (SUBSCRIBED RECURSIVEMATCH) Work "
	    "(% \"a b\") RETURN (STATUS (UNSEEN SIZE) SPECIAL-USE)";
	struct imap_cmd c;

	(void)state;
	must_parse(in, sizeof(in) - 1, &c);
	assert_true(c.list.extended);
	assert_str(&c.list.ref.name, "Work");
	assert_int_equal(c.list.npatterns, 2);
	assert_str(&c.list.pattern[0], "%");
	assert_str(&c.list.pattern[1], "a b");
	assert_int_equal(c.list.sel, IMAP_LIST_SEL_SUBSCRIBED |
	    IMAP_LIST_SEL_RECURSIVEMATCH);
	assert_int_equal(c.list.ret, IMAP_LIST_RET_STATUS |
	    IMAP_LIST_RET_SPECIAL_USE);
	assert_int_equal(c.list.status, IMAP_STATUS_UNSEEN | IMAP_STATUS_SIZE);
	must_parse("a LIST \"\" *", 11, &c);
	assert_false(c.list.extended);
	assert_str(&c.list.ref.name, "");
}

static void
test_id_auth_fields(void **state)
{
	struct imap_cmd c;

	(void)state;
	must_parse("a ID (\"name\" NIL)", 17, &c);
	assert_false(c.id_nil);
	assert_int_equal(c.nidp, 1);
	assert_str(&c.idp[0].field, "name");
	assert_null(c.idp[0].value.s);
	must_parse("a ID nil", 8, &c);
	assert_true(c.id_nil);
	assert_int_equal(c.nidp, 0);
	must_parse("a AUTHENTICATE PLAIN", 20, &c);
	assert_str(&c.mech, "PLAIN");
	assert_null(c.ir.s);
	must_parse("a AUTHENTICATE PLAIN =", 22, &c);
	assert_str(&c.ir, "=");
	must_parse("a CREATE x (USE (\\Junk \\Foo))", 29, &c);
	assert_int_equal(c.use, IMAP_USE_JUNK | IMAP_USE_OTHER);
	must_parse("a STATUS x (SIZE DELETED)", 25, &c);
	assert_int_equal(c.status, IMAP_STATUS_SIZE | IMAP_STATUS_DELETED);
	must_parse("a SETQUOTA r (STORAGE 5)", 24, &c);
	assert_str(&c.quota_root, "r");
	assert_int_equal(c.nquota, 1);
	assert_str(&c.quota[0].name, "STORAGE");
	assert_int_equal(c.quota[0].limit, 5);
}

static void
test_error_fields(void **state)
{
	static const char in[] = "t7 UID FETCH 1 (FLAGS BLAH)";
	struct imap_cmd c;
	struct imap_error e;

	(void)state;
	assert_int_equal(parse(in, sizeof(in) - 1, &c, &e), -1);
	assert_true(e.tagged);
	assert_str(&e.tag, "t7");
	assert_int_equal(e.cmd, IMAP_CMD_FETCH);
	assert_true(e.uid);
	assert_int_equal(e.offset, 22);
	assert_string_equal(e.text, "unknown FETCH attribute BLAH");
	assert_ptr_equal(e.text, e.buf);
	/* The offending word is made printable and cut short. */
	assert_int_equal(parse("t FETCH 1 (\x01\x02)", 15, &c, &e), -1);
	assert_string_equal(e.text, "invalid FETCH attribute");
	assert_int_equal(parse("t FETCH 1 (X\x7f)", 14, &c, &e), -1);
	assert_string_equal(e.text, "unknown FETCH attribute X");
	assert_int_equal(parse("t FOO" "abcdefghijabcdefghijabcdefghij"
	    "abcdefghijabcdefghij", 55, &c, &e), -1);
	assert_true(strlen(e.text) < 70);
	assert_non_null(strstr(e.text, "..."));
	assert_int_equal(parse("t FETCH 1 \xff", 11, &c, &e), -1);
	assert_int_equal(e.cmd, IMAP_CMD_FETCH);
	assert_int_equal(parse("*", 1, &c, &e), -1);
	assert_false(e.tagged);
	assert_null(e.tag.s);
	assert_int_equal(e.cmd, IMAP_CMD_UNKNOWN);
}

static void
test_parser_reuse(void **state)
{
	struct imap_cmd c, c2;
	struct imap_error e;
	const char *tag;

	(void)state;
	must_parse("a1 NOOP", 7, &c);
	tag = c.tag.s;
	assert_true(imap_parser_owns(parser, tag, 3));
	must_parse("a2 SELECT x", 11, &c2);
	assert_str(&c2.tag, "a2");
	imap_parser_clear(parser);
	assert_false(imap_parser_owns(parser, c2.tag.s, 1));
	assert_int_equal(parse("a3 FOO", 6, &c, &e), -1);
	must_parse("a4 LOGOUT", 9, &c);
	assert_int_equal(c.id, IMAP_CMD_LOGOUT);
	/* A stack object is not the arena's. */
	assert_false(imap_parser_owns(parser, &c, 1));
	imap_parser_free(&parser);
	assert_null(parser);
	imap_parser_free(&parser);
}

static void
test_write_secrets(void **state)
{
	struct imap_cmd c;
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	must_parse("a LOGIN ann s3cret", 18, &c);
	assert_int_equal(imap_cmd_write(&b, &c, false), 0);
	assert_string_equal(buf_cstr(&b), "a LOGIN ann ***");
	buf_reset(&b);
	must_parse("a AUTHENTICATE PLAIN AGFu", 25, &c);
	assert_int_equal(imap_cmd_write(&b, &c, false), 0);
	assert_string_equal(buf_cstr(&b), "a AUTHENTICATE PLAIN ***");
	buf_free(&b);
	/* A full buffer: -1, and the buffer as it was. */
	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "xy", 2), 0);
	must_parse("a SELECT \"a long mailbox name\"", 30, &c);
	assert_int_equal(imap_cmd_write(&b, &c, true), -1);
	assert_int_equal(b.len, 2);
	buf_free(&b);
}

static void
test_cmd_info(void **state)
{
	const struct imap_cmd_info *info;
	int id;

	(void)state;
	for (id = IMAP_CMD_UNKNOWN + 1; id < IMAP_CMD_COUNT; id++) {
		info = imap_cmd_info((enum imap_cmd_id)id);
		assert_non_null(info);
		assert_int_equal(info->id, id);
		assert_true(info->states != 0 &&
		    (info->states & ~IMAP_STATE_ANY) == 0);
		assert_true(info->plain || info->uid);
	}
	assert_null(imap_cmd_info(IMAP_CMD_UNKNOWN));
	assert_null(imap_cmd_info(IMAP_CMD_COUNT));
	info = imap_cmd_info(IMAP_CMD_FETCH);
	assert_string_equal(info->name, "FETCH");
	assert_int_equal(info->states, IMAP_STATE_SELECTED);
	assert_true(info->plain && info->uid);
	assert_int_equal(imap_cmd_info(IMAP_CMD_LOGIN)->states,
	    IMAP_STATE_NOTAUTH);
	assert_int_equal(imap_cmd_info(IMAP_CMD_NOOP)->states, IMAP_STATE_ANY);
	assert_false(imap_cmd_info(IMAP_CMD_SELECT)->uid);
	info = imap_cmd_info(IMAP_CMD_EXPUNGE);
	assert_true(info->plain && info->uid);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(imap_flag_name(IMAP_FLAG_SEEN), "\\Seen");
	assert_string_equal(imap_flag_name(IMAP_FLAG_DRAFT), "\\Draft");
	assert_null(imap_flag_name(0));
	assert_null(imap_flag_name(IMAP_FLAG_SEEN | IMAP_FLAG_DRAFT));
	assert_string_equal(imap_status_item_name(IMAP_STATUS_MESSAGES),
	    "MESSAGES");
	assert_string_equal(imap_status_item_name(IMAP_STATUS_APPENDLIMIT),
	    "APPENDLIMIT");
	assert_null(imap_status_item_name(0x200));
}

static void
add_fields_tests(void)
{
	add_test("fields LOGIN", test_login_fields, NULL);
	add_test("fields APPEND", test_append_fields, NULL);
	add_test("fields APPEND literal8", test_append_binary, NULL);
	add_test("fields FETCH", test_fetch_fields, NULL);
	add_test("fields FETCH macro", test_fetch_macro, NULL);
	add_test("fields SEARCH tree", test_search_tree, NULL);
	add_test("fields SEARCH MODSEQ", test_search_modseq, NULL);
	add_test("fields STORE", test_store_fields, NULL);
	add_test("fields SELECT QRESYNC", test_select_fields, NULL);
	add_test("fields LIST", test_list_fields, NULL);
	add_test("fields ID AUTHENTICATE CREATE STATUS SETQUOTA",
	    test_id_auth_fields, NULL);
	add_test("fields error", test_error_fields, NULL);
	add_test("parser reuse and clear", test_parser_reuse, NULL);
	add_test("write masks secrets, fails whole", test_write_secrets, NULL);
	add_test("command table", test_cmd_info, NULL);
	add_test("flag and STATUS item names", test_names, NULL);
}
