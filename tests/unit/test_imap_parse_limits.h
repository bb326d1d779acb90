/*
 * test_imap_parse_limits.h - every limit of imap_parse.h, just under
 * (parses) and just over (a parse error naming it, with [LIMIT] or
 * [TOOBIG]) (included by test_imap_parse.c only).
 */

/* A generated command: PREFIX, then N times ITEM joined by SEP, then
   SUFFIX; PAD octets of 'x' after the prefix when PAD_AT says so. */
struct limit_case {
	const char	*name;
	const char	*prefix, *item, *sep, *suffix;
	size_t		 n;
	int		 r;		/* 0, or -1 */
	enum imap_err_code code;
	const char	*text;		/* when r == -1 */
};

static char *
build(const char *prefix, const char *item, const char *sep,
    const char *suffix, size_t n, size_t *len)
{
	struct buf b;
	size_t i;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(buf_append_str(&b, prefix), 0);
	for (i = 0; i < n; i++) {
		if (i > 0)
			assert_int_equal(buf_append_str(&b, sep), 0);
		assert_int_equal(buf_append_str(&b, item), 0);
	}
	assert_int_equal(buf_append_str(&b, suffix), 0);
	*len = b.len;
	return b.data;
}

#define LOK(nm, pre, it, sep, suf, n)                                      \
	{ nm, pre, it, sep, suf, n, 0, IMAP_ERRC_NONE, NULL }
#define LBAD(nm, pre, it, sep, suf, n, t)                                  \
	{ nm, pre, it, sep, suf, n, -1, IMAP_ERRC_LIMIT, t }

static const struct limit_case limit_cases[] = {
	LOK("depth: 32 NOTs", "a SEARCH ", "NOT", " ", " ALL", 32),
	LBAD("depth: 33 NOTs", "a SEARCH ", "NOT", " ", " ALL", 33,
	    "search keys nested too deep"),
	LOK("depth: 32 ORs", "a SEARCH ", "OR", " ", " ALL"
	    " ALL ALL ALL ALL ALL ALL ALL ALL ALL ALL ALL ALL ALL ALL ALL ALL"
	    " ALL ALL ALL ALL ALL ALL ALL ALL ALL ALL ALL ALL ALL ALL ALL ALL",
	    32),
	LBAD("depth: 33 ORs", "a SEARCH ", "OR", " ", " ALL", 33,
	    "search keys nested too deep"),
	LOK("search keys: 999 and the root", "a SEARCH ", "ALL", " ", "", 999),
	LBAD("search keys: 1000 and the root", "a SEARCH ", "ALL", " ", "",
	    1000, "too many search keys (limit 1000)"),
	LBAD("search keys: nested too", "a SEARCH ", "(ALL ALL)", " ", "",
	    334, "too many search keys (limit 1000)"),
	LOK("FETCH attributes: 64", "a FETCH 1 (", "UID", " ", ")", 64),
	LBAD("FETCH attributes: 65", "a FETCH 1 (", "UID", " ", ")", 65,
	    "too many FETCH attributes (limit 64)"),
	LOK("ranges: 10000", "a FETCH ", "1", ",", " FLAGS", 10000),
	LBAD("ranges: 10001", "a FETCH ", "1", ",", " FLAGS", 10001,
	    "too many sequence ranges (limit 10000)"),
	LOK("ranges: 10000 in two sets", "a SEARCH UID 1:2 ", "3", ",", "",
	    9999),
	LBAD("ranges: 10001 in two sets", "a SEARCH UID 1:2 ", "3", ",", "",
	    10000, "too many sequence ranges (limit 10000)"),
	LOK("flags: 128 in STORE", "a STORE 1 FLAGS (", "\\Seen", " ", ")",
	    128),
	LBAD("flags: 129 in STORE", "a STORE 1 FLAGS (", "\\Seen", " ", ")",
	    129, "too many flags (limit 128)"),
	LOK("flags: 128 bare", "a STORE 1 FLAGS ", "k", " ", "", 128),
	LBAD("flags: 129 bare", "a STORE 1 FLAGS ", "k", " ", "", 129,
	    "too many flags (limit 128)"),
	LOK("flags: 128 in APPEND", "a APPEND x (", "$k", " ", ") {0}\r\n",
	    128),
	LBAD("flags: 129 in APPEND", "a APPEND x (", "$k", " ", ") {0}\r\n",
	    129, "too many flags (limit 128)"),
	LOK("header fields: 128", "a FETCH 1 BODY[HEADER.FIELDS (", "From",
	    " ", ")]", 128),
	LBAD("header fields: 129", "a FETCH 1 BODY[HEADER.FIELDS (", "From",
	    " ", ")]", 129, "too many header fields (limit 128)"),
	LOK("ENABLE: 128", "a ENABLE ", "X", " ", "", 128),
	LBAD("ENABLE: 129", "a ENABLE ", "X", " ", "", 129,
	    "too many capabilities (limit 128)"),
	LOK("LIST patterns: 128", "a LIST \"\" (", "%", " ", ")", 128),
	LBAD("LIST patterns: 129", "a LIST \"\" (", "%", " ", ")", 129,
	    "too many mailbox patterns (limit 128)"),
	LOK("LIST options: 128", "a LIST (", "REMOTE", " ", ") \"\" *", 128),
	LBAD("LIST options: 129", "a LIST (", "REMOTE", " ", ") \"\" *", 129,
	    "too many LIST options (limit 128)"),
	LOK("STATUS items: 128", "a STATUS x (", "SIZE", " ", ")", 128),
	LBAD("STATUS items: 129", "a STATUS x (", "SIZE", " ", ")", 129,
	    "too many STATUS items (limit 128)"),
	LOK("USE attributes: 128", "a CREATE x (USE (", "\\Sent", " ", "))",
	    128),
	LBAD("USE attributes: 129", "a CREATE x (USE (", "\\Sent", " ", "))",
	    129, "too many USE attributes (limit 128)"),
	LOK("quota resources: 128", "a SETQUOTA r (", "STORAGE 1", " ", ")",
	    128),
	LBAD("quota resources: 129", "a SETQUOTA r (", "STORAGE 1", " ", ")",
	    129, "too many quota resources (limit 128)"),
	LOK("section parts: 32", "a FETCH 1 BODY[", "1", ".", "]", 32),
	LBAD("section parts: 33", "a FETCH 1 BODY[", "1", ".", "]", 33,
	    "too many section parts (limit 32)"),
	LOK("ID pairs: 30", "a ID (", "\"k\" \"v\"", " ", ")", 30),
	LBAD("ID pairs: 31", "a ID (", "\"k\" \"v\"", " ", ")", 31,
	    "too many ID fields (limit 30)"),
};

static void
test_limit(void **state)
{
	const struct limit_case *tc = *state;
	struct imap_cmd c;
	struct imap_error e;
	size_t n;
	char *s = build(tc->prefix, tc->item, tc->sep, tc->suffix, tc->n, &n);
	int r = parse(s, n, &c, &e);

	free(s);
	if (r != tc->r)
		fail_msg("returned %d: %s", r, r == 0 ? "" : e.text);
	if (r == -1) {
		assert_string_equal(e.text, tc->text);
		assert_int_equal(e.code, tc->code);
		assert_true(e.tagged);
	}
}

/* A LOGIN of N octets in all: the user name pads it. */
static int
login_of(size_t n, struct imap_error *e)
{
	struct imap_cmd c;
	char *s = malloc(n);
	int r;

	assert_non_null(s);
	assert_true(n > 12);
	memcpy(s, "a LOGIN ", 8);
	memset(s + 8, 'u', n - 8 - 2);
	memcpy(s + n - 2, " x", 2);
	r = parse(s, n, &c, e);
	free(s);
	return r;
}

static void
test_line_limit(void **state)
{
	struct imap_error e;

	(void)state;
	assert_int_equal(login_of(IMAP_LINE_MAX, &e), 0);
	assert_int_equal(login_of(IMAP_LINE_MAX + 1, &e), -1);
	assert_string_equal(e.text, "command line too long");
	assert_int_equal(e.code, IMAP_ERRC_LIMIT);
	assert_true(e.tagged);
}

/* "a SEARCH TEXT 0...0 TEXT {N}" CRLF N octets " TEXT q...q": a first
   line of 23 + FIRST octets (N < 10), a last one of 6 + LAST. */
static int
literal_of(size_t first, size_t n, size_t last, struct imap_error *e)
{
	struct imap_cmd c;
	struct buf b;
	size_t i;
	int r;

	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(buf_append_str(&b, "a SEARCH TEXT "), 0);
	for (i = 0; i < first; i++)
		assert_int_equal(buf_putc(&b, '0'), 0);
	assert_int_equal(buf_printf(&b, " TEXT {%zu}\r\n", n), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(buf_putc(&b, 'p'), 0);
	assert_int_equal(buf_append_str(&b, " TEXT "), 0);
	for (i = 0; i < last; i++)
		assert_int_equal(buf_putc(&b, 'q'), 0);
	r = parse(b.data, b.len, &c, e);
	buf_free(&b);
	return r;
}

static void
test_line_limit_literals(void **state)
{
	struct imap_error e;

	(void)state;
	assert_int_equal(literal_of(IMAP_LINE_MAX - 23, 1, 1, &e), 0);
	assert_int_equal(literal_of(IMAP_LINE_MAX - 22, 1, 1, &e), -1);
	assert_string_equal(e.text, "command line too long");
	assert_int_equal(e.code, IMAP_ERRC_LIMIT);
	/* The line after the literal counts alone. */
	assert_int_equal(literal_of(1, 1, IMAP_LINE_MAX - 6, &e), 0);
	assert_int_equal(literal_of(1, 1, IMAP_LINE_MAX - 5, &e), -1);
	assert_string_equal(e.text, "command line too long");
	assert_int_equal(literal_of(1, 1, 1, &e), 0);
}

/* A line between two literals; a tag as long as a line. */
static void
test_line_limit_middle_and_tag(void **state)
{
	struct imap_cmd c;
	struct imap_error e;
	size_t n = IMAP_LINE_MAX + 64, mid;
	char *s = malloc(n);

	(void)state;
	assert_non_null(s);
	for (mid = IMAP_LINE_MAX; mid <= IMAP_LINE_MAX + 1; mid++) {
		/* "a SEARCH TEXT {1}" CRLF "p TEXT " pad " TEXT {1}" CRLF
		   "p": the middle line is 6 + pad + 9 octets. */
		size_t pad = mid - 15, k = 26;

		memcpy(s, "a SEARCH TEXT {1}\r\np TEXT ", 26);
		memset(s + k, 'x', pad);
		k += pad;
		memcpy(s + k, " TEXT {1}\r\np", 12);
		k += 12;
		assert_true(k <= n);
		if (mid == IMAP_LINE_MAX) {
			assert_int_equal(parse(s, k, &c, &e), 0);
		} else {
			assert_int_equal(parse(s, k, &c, &e), -1);
			assert_string_equal(e.text, "command line too long");
		}
	}
	memset(s, 't', n);
	assert_int_equal(parse(s, IMAP_LINE_MAX + 1, &c, &e), -1);
	assert_string_equal(e.text, "command line too long");
	assert_false(e.tagged);
	free(s);
}

/* N parentheses around ALL. */
static void
test_depth_parens(void **state)
{
	struct imap_cmd c;
	struct imap_error e;
	struct buf b;
	size_t i, n;

	(void)state;
	for (n = IMAP_DEPTH_MAX; n <= IMAP_DEPTH_MAX + 1; n++) {
		buf_init(&b, BUF_UNLIMITED);
		assert_int_equal(buf_append_str(&b, "a SEARCH "), 0);
		for (i = 0; i < n; i++)
			assert_int_equal(buf_putc(&b, '('), 0);
		assert_int_equal(buf_append_str(&b, "ALL"), 0);
		for (i = 0; i < n; i++)
			assert_int_equal(buf_putc(&b, ')'), 0);
		if (n == IMAP_DEPTH_MAX) {
			assert_int_equal(parse(b.data, b.len, &c, &e), 0);
			assert_int_equal(c.search.nnodes, n + 2);
		} else {
			assert_int_equal(parse(b.data, b.len, &c, &e), -1);
			assert_string_equal(e.text,
			    "search keys nested too deep");
			assert_int_equal(e.code, IMAP_ERRC_LIMIT);
		}
		buf_free(&b);
	}
}

static void
test_command_limit(void **state)
{
	struct imap_cmd c;
	struct imap_error e;
	size_t big = IMAP_CMD_MAX, head;
	char *s;

	(void)state;
	/* "a LOGIN u {N}" CRLF N: the whole command at IMAP_CMD_MAX. */
	s = malloc(big + 64);
	assert_non_null(s);
	head = (size_t)snprintf(s, 64, "a LOGIN u {%zu}\r\n", big - 21);
	memset(s + head, 'p', big - 21);
	assert_int_equal(parse(s, head + big - 21, &c, &e), 0);
	head = (size_t)snprintf(s, 64, "a LOGIN u {%zu}\r\n", big - 20);
	memset(s + head, 'p', big - 20);
	assert_int_equal(parse(s, head + big - 20, &c, &e), -1);
	assert_string_equal(e.text, "command too long");
	assert_int_equal(e.code, IMAP_ERRC_TOOBIG);
	/* One literal over the limit is refused before it is copied. */
	head = (size_t)snprintf(s, 64, "a LOGIN u {%zu}\r\n", big + 1);
	assert_int_equal(parse(s, head, &c, &e), -1);
	assert_string_equal(e.text, "literal too large");
	assert_int_equal(e.code, IMAP_ERRC_TOOBIG);
	free(s);
}

static void
test_append_beyond_command_limit(void **state)
{
	struct imap_cmd c;
	struct imap_error e;
	size_t n = 3 * (size_t)IMAP_CMD_MAX, head;
	char *s = malloc(n + 64);

	(void)state;
	assert_non_null(s);
	head = (size_t)snprintf(s, 64, "a APPEND INBOX {%zu+}\r\n", n);
	memset(s + head, 'm', n);
	assert_int_equal(parse(s, head + n, &c, &e), 0);
	assert_int_equal(c.append.datalen, n);
	assert_ptr_equal(c.append.data, input + head);
	free(s);
}

static void
add_limit_tests(void)
{
	size_t i;

	for (i = 0; i < nitems(limit_cases); i++)
		add_test(limit_cases[i].name, test_limit, &limit_cases[i]);
	add_test("limit: line length", test_line_limit, NULL);
	add_test("limit: line length around literals",
	    test_line_limit_literals, NULL);
	add_test("limit: nesting of parentheses", test_depth_parens, NULL);
	add_test("limit: line between literals, tag",
	    test_line_limit_middle_and_tag, NULL);
	add_test("limit: command size", test_command_limit, NULL);
	add_test("limit: APPEND data beyond the command size",
	    test_append_beyond_command_limit, NULL);
}
