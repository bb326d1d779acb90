/*
 * test_imap_parse_helpers.h - the helpers of imap_parse.h for the
 * session: literal announcements, peek, DONE, sequence sets, dates,
 * response strings, mailbox names, UTF-8 (included by test_imap_parse.c
 * only).
 */

/* ---- imap_literal_scan ---- */

struct lit_case {
	const char	*name;
	const char	*line;
	uint64_t	 max;
	int		 r;
	uint64_t	 size;
	bool		 nonsync, binary;
};

static const struct lit_case lit_cases[] = {
	{ "literal sync", "a LOGIN {5}", 100, 1, 5, false, false },
	{ "literal non-sync", "a LOGIN {5+}", 100, 1, 5, true, false },
	{ "literal8", "a APPEND x ~{5}", 100, 1, 5, false, true },
	{ "literal8 non-sync", "a APPEND x ~{7+}", 100, 1, 7, true, true },
	{ "literal zero", "a LOGIN {0}", 100, 1, 0, false, false },
	{ "literal leading zeros", "a LOGIN {007}", 100, 1, 7, false, false },
	{ "literal alone", "{5}", 100, 1, 5, false, false },
	{ "literal at max", "a {100}", 100, 1, 100, false, false },
	{ "literal over max", "a {101}", 100, -1, 101, false, false },
	{ "literal non-sync over max", "a {4097+}", 4096, -1, 4097, true,
	    false },
	{ "literal 2^63-1", "a {9223372036854775807}", UINT64_MAX, 1,
	    9223372036854775807ull, false, false },
	{ "literal 2^63", "a {9223372036854775808}", UINT64_MAX, -1,
	    UINT64_MAX, false, false },
	{ "literal overflow", "a {99999999999999999999999}", UINT64_MAX, -1,
	    UINT64_MAX, false, false },
	{ "no literal", "a NOOP", 100, 0, 0, false, false },
	{ "empty line", "", 100, 0, 0, false, false },
	{ "brace alone", "}", 100, 0, 0, false, false },
	{ "empty braces", "a {}", 100, 0, 0, false, false },
	{ "plus only", "a {+}", 100, 0, 0, false, false },
	{ "no opening brace", "a 5}", 100, 0, 0, false, false },
	{ "digits at line start", "5}", 100, 0, 0, false, false },
	{ "not at the end", "a {5} x", 100, 0, 0, false, false },
	{ "inside quotes", "a \"{5}\"", 100, 0, 0, false, false },
	{ "letters inside", "a {5a}", 100, 0, 0, false, false },
	{ "double plus", "a {5++}", 100, 0, 0, false, false },
};

static void
test_literal_scan(void **state)
{
	const struct lit_case *tc = *state;
	struct imap_literal lit = { 0, false, false };
	size_t n = strlen(tc->line);
	int r = imap_literal_scan(exact(tc->line, n), n, tc->max, &lit);

	assert_int_equal(r, tc->r);
	if (r != 0) {
		assert_true(lit.size == tc->size);
		assert_int_equal(lit.nonsync, tc->nonsync);
		assert_int_equal(lit.binary, tc->binary);
	}
}

/* ---- imap_cmd_peek, imap_is_done ---- */

struct peek_case {
	const char	*name;
	const char	*line;
	int		 r;
	enum imap_cmd_id id;
	bool		 uid;
};

static const struct peek_case peek_cases[] = {
	{ "peek FETCH", "a FETCH 1 (BODY[HEADER.FIELDS {4}", 0,
	    IMAP_CMD_FETCH, false },
	{ "peek UID FETCH", "a uid fetch 1:* FLAGS", 0, IMAP_CMD_FETCH, true },
	{ "peek APPEND", "a APPEND INBOX {5}", 0, IMAP_CMD_APPEND, false },
	{ "peek LOGIN", "a login {3}", 0, IMAP_CMD_LOGIN, false },
	{ "peek UID EXPUNGE", "a UID EXPUNGE 1", 0, IMAP_CMD_EXPUNGE, true },
	{ "peek name only", "a NOOP", 0, IMAP_CMD_NOOP, false },
	{ "peek unknown", "a FOO {5}", 0, IMAP_CMD_UNKNOWN, false },
	{ "peek UID alone", "a UID", 0, IMAP_CMD_UNKNOWN, false },
	{ "peek UID NOOP", "a UID NOOP", 0, IMAP_CMD_UNKNOWN, true },
	{ "peek tag only", "a", -1, IMAP_CMD_UNKNOWN, false },
	{ "peek tag and space", "a ", -1, IMAP_CMD_UNKNOWN, false },
	{ "peek empty", "", -1, IMAP_CMD_UNKNOWN, false },
	{ "peek no tag", " FETCH", -1, IMAP_CMD_UNKNOWN, false },
	{ "peek bad tag", "a+ FETCH", -1, IMAP_CMD_UNKNOWN, false },
	{ "peek UID and nothing", "a UID ", -1, IMAP_CMD_UNKNOWN, false },
};

static void
test_peek(void **state)
{
	const struct peek_case *tc = *state;
	enum imap_cmd_id id = IMAP_CMD_COUNT;
	size_t n = strlen(tc->line);
	bool uid = false;

	assert_int_equal(imap_cmd_peek(exact(tc->line, n), n, &id, &uid),
	    tc->r);
	if (tc->r == 0) {
		assert_int_equal(id, tc->id);
		assert_int_equal(uid, tc->uid);
	}
}

static void
test_done(void **state)
{
	(void)state;
	assert_true(imap_is_done(exact("DONE", 4), 4));
	assert_true(imap_is_done(exact("done", 4), 4));
	assert_true(imap_is_done(exact("DoNe", 4), 4));
	assert_false(imap_is_done(exact("DONE ", 5), 5));
	assert_false(imap_is_done(exact("DON", 3), 3));
	assert_false(imap_is_done(exact("a DONE", 6), 6));
	assert_false(imap_is_done(exact("", 0), 0));
}

/* ---- sequence sets ---- */

#define STAR IMAP_SEQ_STAR

struct set_case {
	const char	*name;
	struct imap_range in[4];
	size_t		 nin;
	uint32_t	 max;
	bool		 in_bounds;
	struct imap_range out[4];	/* resolved */
	size_t		 nout;
	uint32_t	 yes[4], no[4];	/* members and not (0 ends) */
};

static const struct set_case set_cases[] = {
	{ "set range", { { 1, 5 } }, 1, 10, true, { { 1, 5 } }, 1,
	    { 1, 3, 5 }, { 6, 10 } },
	{ "set star range past max", { { 5, STAR } }, 1, 3, false,
	    { { 3, 3 } }, 1, { 3, 4, 5 }, { 2, 6 } },
	{ "set star alone", { { STAR, STAR } }, 1, 7, true, { { 7, 7 } }, 1,
	    { 7 }, { 6, 8 } },
	{ "set star on empty mailbox", { { 1, STAR } }, 1, 0, false, { { 0 } },
	    0, { 1 }, { 2 } },
	{ "set beyond max", { { 7, 7 } }, 1, 3, false, { { 0 } }, 0, { 7 },
	    { 3 } },
	{ "set unsorted", { { 10, STAR }, { 3, 3 }, { 1, 2 } }, 3, 12, true,
	    { { 1, 3 }, { 10, 12 } }, 2, { 1, 2, 3, 11 }, { 4, 9 } },
	{ "set overlapping", { { 1, 5 }, { 3, 8 }, { 9, 10 } }, 3, 20, true,
	    { { 1, 10 } }, 1, { 1, 8, 9, 10 }, { 11 } },
	{ "set duplicates", { { 4, 4 }, { 4, 4 }, { 4, 6 } }, 3, 20, true,
	    { { 4, 6 } }, 1, { 4, 6 }, { 3, 7 } },
	{ "set top of range", { { 4294967295u, 4294967295u }, { 1, STAR } },
	    2, 4294967295u, true, { { 1, 4294967295u } }, 1,
	    { 1, 4294967295u }, { 0 } },
	{ "set max clamps", { { 2, 100 } }, 1, 50, false, { { 2, 50 } }, 1,
	    { 2, 50, 51, 100 }, { 1, 101 } },
};

static void
test_seqset(void **state)
{
	const struct set_case *tc = *state;
	struct imap_seqset set = { tc->in, tc->nin, false };
	struct imap_range out[4];
	size_t n, i;

	assert_int_equal(imap_seqset_in_bounds(&set, tc->max), tc->in_bounds);
	n = imap_seqset_resolve(&set, tc->max, out);
	assert_int_equal(n, tc->nout);
	for (i = 0; i < n; i++) {
		assert_int_equal(out[i].lo, tc->out[i].lo);
		assert_int_equal(out[i].hi, tc->out[i].hi);
	}
	for (i = 0; i < 4 && tc->yes[i] != 0; i++)
		if (!imap_seqset_contains(&set, tc->yes[i], tc->max))
			fail_msg("%u not in the set", (unsigned)tc->yes[i]);
	for (i = 0; i < 4 && tc->no[i] != 0; i++)
		if (imap_seqset_contains(&set, tc->no[i], tc->max))
			fail_msg("%u in the set", (unsigned)tc->no[i]);
}

static void
test_seqset_saved_and_iter(void **state)
{
	static const struct imap_range r[] = {
		{ 1, 3 }, { 7, 7 }, { 4294967294u, 4294967295u },
	};
	struct imap_seqset saved = { NULL, 0, true };
	struct imap_range out[1];
	struct imap_seq_iter it;
	uint32_t v, got[8];
	size_t n = 0;

	(void)state;
	assert_false(imap_seqset_contains(&saved, 1, 10));
	assert_true(imap_seqset_in_bounds(&saved, 0));
	assert_int_equal(imap_seqset_resolve(&saved, 10, out), 0);
	imap_seq_iter_init(&it, r, 3);
	while (imap_seq_iter_next(&it, &v) == 1 && n < 8)
		got[n++] = v;
	assert_int_equal(n, 6);
	assert_int_equal(got[0], 1);
	assert_int_equal(got[2], 3);
	assert_int_equal(got[3], 7);
	assert_int_equal(got[4], 4294967294u);
	assert_int_equal(got[5], 4294967295u);
	assert_int_equal(imap_seq_iter_next(&it, &v), 0);
	imap_seq_iter_init(&it, r, 0);
	assert_int_equal(imap_seq_iter_next(&it, &v), 0);
}

/* ---- dates ---- */

struct date_case {
	const char	*name;
	const char	*in;
	int		 r;
	int		 year, mon, day;
	int64_t		 t;
};

static const struct date_case date_cases[] = {
	{ "date plain", "1-Feb-2024", 0, 2024, 2, 1, 1706745600 },
	{ "date 2-digit day", "01-Feb-2024", 0, 2024, 2, 1, 1706745600 },
	{ "date lower-case month", "1-feb-2024", 0, 2024, 2, 1, 1706745600 },
	{ "date upper-case month", "1-FEB-2024", 0, 2024, 2, 1, 1706745600 },
	{ "date epoch", "1-Jan-1970", 0, 1970, 1, 1, 0 },
	{ "date before the epoch", "31-Dec-1969", 0, 1969, 12, 31, -86400 },
	{ "date leap day", "29-Feb-2024", 0, 2024, 2, 29, 1709164800 },
	{ "date leap 2000", "29-Feb-2000", 0, 2000, 2, 29, 951782400 },
	{ "date year 1", "1-Jan-0001", 0, 1, 1, 1, -62135596800 },
	{ "date year 9999", "31-Dec-9999", 0, 9999, 12, 31, 253402214400 },
	{ "date no leap 1900", "29-Feb-1900", -1, 0, 0, 0, 0 },
	{ "date no leap 2023", "29-Feb-2023", -1, 0, 0, 0, 0 },
	{ "date 31 April", "31-Apr-2024", -1, 0, 0, 0, 0 },
	{ "date day 0", "0-Jan-2024", -1, 0, 0, 0, 0 },
	{ "date day 32", "32-Jan-2024", -1, 0, 0, 0, 0 },
	{ "date 3-digit day", "001-Jan-2024", -1, 0, 0, 0, 0 },
	{ "date 3-digit year", "1-Jan-024", -1, 0, 0, 0, 0 },
	{ "date 5-digit year", "1-Jan-20245", -1, 0, 0, 0, 0 },
	{ "date spaces", "1 Jan 2024", -1, 0, 0, 0, 0 },
	{ "date unknown month", "1-Jnu-2024", -1, 0, 0, 0, 0 },
	{ "date number month", "1-01-2024", -1, 0, 0, 0, 0 },
	{ "date empty", "", -1, 0, 0, 0, 0 },
	{ "date sign in year", "1-Jan-+202", -1, 0, 0, 0, 0 },
};

static void
test_date(void **state)
{
	const struct date_case *tc = *state;
	size_t n = strlen(tc->in);
	struct imap_date d;

	assert_int_equal(imap_date_parse(exact(tc->in, n), n, &d), tc->r);
	if (tc->r == 0) {
		assert_int_equal(d.year, tc->year);
		assert_int_equal(d.mon, tc->mon);
		assert_int_equal(d.day, tc->day);
		assert_true((int64_t)d.t == tc->t);
	}
}

struct datetime_case {
	const char	*name;
	const char	*in;
	int		 r;
	int64_t		 t;
	int		 zone;
	const char	*out;		/* imap_put_datetime(), or NULL */
};

static const struct datetime_case datetime_cases[] = {
	{ "date-time RFC example", "17-Jul-1996 02:44:25 -0700", 0, 837596665,
	    -420, "\"17-Jul-1996 02:44:25 -0700\"" },
	{ "date-time day with space", " 7-Jul-1996 02:44:25 +0200", 0,
	    836700265, 120, "\" 7-Jul-1996 02:44:25 +0200\"" },
	{ "date-time day 07", "07-Jul-1996 02:44:25 +0200", 0, 836700265,
	    120, "\" 7-Jul-1996 02:44:25 +0200\"" },
	{ "date-time day 7", "7-Jul-1996 02:44:25 +0200", 0, 836700265, 120,
	    NULL },
	{ "date-time epoch", " 1-Jan-1970 00:00:00 +0000", 0, 0, 0,
	    "\" 1-Jan-1970 00:00:00 +0000\"" },
	{ "date-time half-hour zone", "10-Feb-2023 14:41:12 +0530", 0,
	    1676020272, 330, NULL },
	{ "date-time leap second", "31-Dec-1969 23:59:60 +0000", 0, 0, 0,
	    NULL },
	{ "date-time lower-case month", "10-feb-2023 09:11:12 +0000", 0,
	    1676020272, 0, NULL },
	{ "date-time hour 24", "17-Jul-1996 24:00:00 +0000", -1, 0, 0, NULL },
	{ "date-time minute 60", "17-Jul-1996 02:60:00 +0000", -1, 0, 0,
	    NULL },
	{ "date-time second 61", "17-Jul-1996 02:44:61 +0000", -1, 0, 0,
	    NULL },
	{ "date-time zone minutes 60", "17-Jul-1996 02:44:25 -0760", -1, 0, 0,
	    NULL },
	{ "date-time no zone", "17-Jul-1996 02:44:25", -1, 0, 0, NULL },
	{ "date-time zone without sign", "17-Jul-1996 02:44:25 0700", -1, 0,
	    0, NULL },
	{ "date-time T", "17-Jul-1996T02:44:25 -0700", -1, 0, 0, NULL },
	{ "date-time two spaces", "17-Jul-1996  02:44:25 -0700", -1, 0, 0,
	    NULL },
	{ "date-time 30 Feb", "30-Feb-1996 02:44:25 -0700", -1, 0, 0, NULL },
	{ "date-time one-digit hour", "17-Jul-1996 2:44:25 -0700", -1, 0, 0,
	    NULL },
	{ "date-time trailing junk", "17-Jul-1996 02:44:25 -0700x", -1, 0, 0,
	    NULL },
	{ "date-time empty", "", -1, 0, 0, NULL },
};

static void
test_datetime(void **state)
{
	const struct datetime_case *tc = *state;
	size_t n = strlen(tc->in);
	struct buf b;
	time_t t;
	int zone;

	assert_int_equal(imap_datetime_parse(exact(tc->in, n), n, &t, &zone),
	    tc->r);
	if (tc->r != 0)
		return;
	assert_true((int64_t)t == tc->t);
	assert_int_equal(zone, tc->zone);
	if (tc->out == NULL)
		return;
	buf_init(&b, 64);
	assert_int_equal(imap_put_datetime(&b, t, zone), 0);
	assert_string_equal(buf_cstr(&b), tc->out);
	buf_free(&b);
}

static void
test_put_datetime_limits(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(imap_put_datetime(&b, 0, 6000), -1);
	assert_int_equal(imap_put_datetime(&b, 0, -6000), -1);
	assert_int_equal(imap_put_datetime(&b, (time_t)253402300800, 0), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(imap_put_datetime(&b, 0, 5999), 0);
	assert_string_equal(buf_cstr(&b), "\" 5-Jan-1970 03:59:00 +9959\"");
	buf_free(&b);
	/* A full buffer: -1. */
	buf_init(&b, 10);
	assert_int_equal(imap_put_datetime(&b, 0, 0), -1);
	buf_free(&b);
}

/* ---- response strings ---- */

enum put_fn { PUT_ASTRING, PUT_STRING, PUT_NSTRING };

struct put_case {
	const char	*name;
	enum put_fn	 fn;
	const char	*in;		/* NULL: NIL */
	size_t		 len;
	unsigned	 flags;
	const char	*want;
	size_t		 wantlen;
};

#define P(nm, fn, s, fl, w)	{ nm, fn, s, 0, fl, w, 0 }

static const struct put_case put_cases[] = {
	P("astring atom", PUT_ASTRING, "INBOX", 0, "INBOX"),
	P("astring with ]", PUT_ASTRING, "a]b", 0, "a]b"),
	P("astring empty", PUT_ASTRING, "", 0, "\"\""),
	P("astring NIL quoted", PUT_ASTRING, "NIL", 0, "\"NIL\""),
	P("astring nil quoted", PUT_ASTRING, "nil", 0, "\"nil\""),
	P("astring NILS atom", PUT_ASTRING, "NILS", 0, "NILS"),
	P("astring space", PUT_ASTRING, "a b", 0, "\"a b\""),
	P("astring wildcard", PUT_ASTRING, "a*", 0, "\"a*\""),
	P("astring percent", PUT_ASTRING, "50%", 0, "\"50%\""),
	P("astring parenthesis", PUT_ASTRING, "(x)", 0, "\"(x)\""),
	P("astring brace", PUT_ASTRING, "{x", 0, "\"{x\""),
	P("astring quote", PUT_ASTRING, "a\"b", 0, "\"a\\\"b\""),
	P("astring backslash", PUT_ASTRING, "a\\b", 0, "\"a\\\\b\""),
	P("astring CRLF", PUT_ASTRING, "a\r\nb", 0, "{4}\r\na\r\nb"),
	P("astring tab", PUT_ASTRING, "a\tb", 0, "\"a\tb\""),
	P("astring 8-bit without UTF8", PUT_ASTRING, "\xc3\xa9", 0,
	    "{2}\r\n\xc3\xa9"),
	P("astring 8-bit with UTF8", PUT_ASTRING, "\xc3\xa9", IMAP_PUT_UTF8,
	    "\"\xc3\xa9\""),
	P("astring bad UTF-8 with UTF8", PUT_ASTRING, "\xc3(", IMAP_PUT_UTF8,
	    "{2}\r\n\xc3("),
	{ "astring NUL", PUT_ASTRING, "a\0b", 3, 0, "{3}\r\na\0b", 8 },
	P("string never an atom", PUT_STRING, "abc", 0, "\"abc\""),
	P("string empty", PUT_STRING, "", 0, "\"\""),
	P("string quote and backslash", PUT_STRING, "\"\\", 0,
	    "\"\\\"\\\\\""),
	P("nstring NIL", PUT_NSTRING, NULL, 0, "NIL"),
	P("nstring empty", PUT_NSTRING, "", 0, "\"\""),
	P("nstring text", PUT_NSTRING, "x y", 0, "\"x y\""),
};

static void
test_put(void **state)
{
	const struct put_case *tc = *state;
	size_t n = tc->in == NULL ? 0 : in_len(tc->in, tc->len);
	size_t wn = in_len(tc->want, tc->wantlen);
	struct buf b;
	int r;

	buf_init(&b, 4096);
	if (tc->fn == PUT_ASTRING)
		r = imap_put_astring(&b, tc->in, n, tc->flags);
	else if (tc->fn == PUT_STRING)
		r = imap_put_string(&b, tc->in, n, tc->flags);
	else
		r = imap_put_nstring(&b, tc->in, n, tc->flags);
	assert_int_equal(r, 0);
	assert_int_equal(b.len, wn);
	assert_memory_equal(b.data, tc->want, wn);
	buf_free(&b);
}

static void
test_put_long_and_full(void **state)
{
	char s[1100];
	struct buf b;

	(void)state;
	memset(s, 'a', sizeof(s));
	s[0] = ' ';
	buf_init(&b, 4096);
	assert_int_equal(imap_put_astring(&b, s, 1024, 0), 0);
	assert_int_equal(b.data[0], '"');
	assert_int_equal(b.len, 1026);
	buf_reset(&b);
	assert_int_equal(imap_put_astring(&b, s, 1025, 0), 0);
	assert_memory_equal(b.data, "{1025}\r\n ", 9);
	buf_free(&b);
	/* Over the buffer's max: -1, the buffer as it was. */
	buf_init(&b, 8);
	assert_int_equal(buf_append(&b, "ab", 2), 0);
	assert_int_equal(imap_put_astring(&b, "a b c d", 7, 0), -1);
	assert_int_equal(b.len, 2);
	assert_int_equal(imap_put_string(&b, "a\r\nbcdef", 8, 0), -1);
	assert_int_equal(b.len, 2);
	assert_int_equal(imap_put_astring(&b, "abcdefg", 7, 0), -1);
	assert_int_equal(b.len, 2);
	buf_free(&b);
}

/* ---- mailbox names, UTF-8 ---- */

struct name_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	bool		 ok;
	const char	*why;
};

#define N_OK(nm, s)		{ nm, s, 0, true, NULL }
#define N_BAD(nm, s, w)		{ nm, s, 0, false, w }

#define X50	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static const struct name_case name_cases[] = {
	N_OK("name INBOX", "INBOX"),
	N_OK("name Sent", "Sent"),
	N_OK("name levels", "Archive.2024.Q1"),
	N_OK("name UTF-8", "Entw\xc3\xbcrfe"),
	N_OK("name space", "Sent Items"),
	N_OK("name tilde and hash", "~#x"),
	N_OK("name modified UTF-7", "Entw&APw-rfe"),
	N_OK("name 250 octets", X50 X50 X50 X50 X50),
	N_BAD("name 251 octets", X50 X50 X50 X50 X50 "x",
	    "mailbox name too long"),
	N_BAD("name empty", "", "empty mailbox name"),
	N_BAD("name leading dot", ".Sent", "empty level in mailbox name"),
	N_BAD("name trailing dot", "Sent.", "empty level in mailbox name"),
	N_BAD("name double dot", "a..b", "empty level in mailbox name"),
	N_BAD("name dot only", ".", "empty level in mailbox name"),
	N_BAD("name dot-dot", "..", "empty level in mailbox name"),
	N_BAD("name slash", "a/b", "'/' in mailbox name"),
	N_BAD("name slash-dot-dot", "../x", "empty level in mailbox name"),
	N_BAD("name star", "a*", "wildcard in mailbox name"),
	N_BAD("name percent", "a%b", "wildcard in mailbox name"),
	N_BAD("name tab", "a\tb", "control character in mailbox name"),
	N_BAD("name DEL", "a\x7f", "control character in mailbox name"),
	N_BAD("name LF", "a\nb", "control character in mailbox name"),
	{ "name NUL", "a\0b", 3, false, "control character in mailbox name" },
	N_BAD("name bad UTF-8", "\xff", "mailbox name is not UTF-8"),
	N_BAD("name overlong UTF-8", "\xc0\xae", "mailbox name is not UTF-8"),
};

static void
test_mailbox_name(void **state)
{
	const struct name_case *tc = *state;
	size_t n = in_len(tc->in, tc->len);
	const char *why = NULL;

	assert_int_equal(imap_mailbox_name_ok(exact(tc->in, n), n, &why),
	    tc->ok);
	if (!tc->ok)
		assert_string_equal(why, tc->why);
}

struct utf8_case {
	const char	*name;
	const char	*in;
	bool		 ok;
};

static const struct utf8_case utf8_cases[] = {
	{ "utf8 empty", "", true },
	{ "utf8 ASCII", "abc", true },
	{ "utf8 2 octets", "\xc3\xa9", true },
	{ "utf8 3 octets", "\xe2\x82\xac", true },
	{ "utf8 4 octets", "\xf0\x9f\x98\x80", true },
	{ "utf8 U+10FFFF", "\xf4\x8f\xbf\xbf", true },
	{ "utf8 beyond U+10FFFF", "\xf4\x90\x80\x80", false },
	{ "utf8 F5", "\xf5\x80\x80\x80", false },
	{ "utf8 surrogate", "\xed\xa0\x80", false },
	{ "utf8 overlong 2", "\xc1\xbf", false },
	{ "utf8 overlong 3", "\xe0\x80\xaf", false },
	{ "utf8 overlong 4", "\xf0\x8f\xbf\xbf", false },
	{ "utf8 truncated", "a\xc3", false },
	{ "utf8 truncated 3", "\xe2\x82", false },
	{ "utf8 lone continuation", "\x80", false },
	{ "utf8 bad continuation", "\xc3\x28", false },
	{ "utf8 FF", "\xff", false },
};

static void
test_utf8(void **state)
{
	const struct utf8_case *tc = *state;
	size_t n = strlen(tc->in);

	assert_int_equal(imap_utf8_valid(exact(tc->in, n), n), tc->ok);
}

static void
add_helper_tests(void)
{
	size_t i;

	ADD_TABLE(lit_cases, test_literal_scan);
	ADD_TABLE(peek_cases, test_peek);
	add_test("DONE", test_done, NULL);
	ADD_TABLE(set_cases, test_seqset);
	add_test("set saved, iteration", test_seqset_saved_and_iter, NULL);
	ADD_TABLE(date_cases, test_date);
	ADD_TABLE(datetime_cases, test_datetime);
	add_test("date-time output limits", test_put_datetime_limits, NULL);
	ADD_TABLE(put_cases, test_put);
	add_test("put long strings, full buffer", test_put_long_and_full, NULL);
	ADD_TABLE(name_cases, test_mailbox_name);
	ADD_TABLE(utf8_cases, test_utf8);
}
