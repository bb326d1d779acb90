/*
 * test_imap_parse.c - the IMAP command parser (src/imap/imap_parse*.c)
 * and its helpers.
 *
 * Table-driven; every row is its own cmocka test. A good command is
 * checked through its canonical form (imap_cmd_write), which must also
 * parse back to itself; a bad one by its error text, code and whether
 * the tag was read. Every input is copied into a malloc'ed buffer of
 * exactly its length, without a NUL, so that AddressSanitizer stops any
 * read past it, and every shorter prefix of it is parsed too (the
 * session may hand over less than a command; nothing may read past
 * it). Field-level tests check what the canonical form cannot show;
 * the limits are tested just under and just over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parse.h"
#include "util/buf.h"
#include "util/compat.h"

/* ---- helpers ---- */

static struct imap_parser *parser;
static char *input, *again;
static struct buf canon_buf;

static int
teardown(void **state)
{
	(void)state;
	free(input);
	input = NULL;
	free(again);
	again = NULL;
	buf_free(&canon_buf);
	imap_parser_free(&parser);
	return 0;
}

#define TEST_TEARDOWN teardown
#include "testlib.h"

/* N bytes of S in a buffer of exactly N bytes; the previous is freed. */
static char *
exact(const char *s, size_t n)
{
	free(input);
	input = malloc(n > 0 ? n : 1);
	assert_non_null(input);
	if (n > 0)
		memcpy(input, s, n);
	return input;
}

static size_t
in_len(const char *s, size_t len)
{
	return len != 0 ? len : strlen(s);
}

static struct imap_parser *
get_parser(void)
{
	if (parser == NULL)
		parser = imap_parser_new();
	return parser;
}

/* Parses N octets of S (exact copy); the result in *C / *E. */
static int
parse(const char *s, size_t n, struct imap_cmd *c, struct imap_error *e)
{
	return imap_parse(get_parser(), exact(s, n), n, c, e);
}

/* Every proper prefix of S parses or fails without reading past it. */
static void
prefixes(const char *s, size_t n)
{
	struct imap_cmd c;
	struct imap_error e;
	size_t i;

	for (i = 0; i < n; i++)
		if (parse(s, i, &c, &e) == -1)
			assert_non_null(e.text);
}

/* The canonical form of C, in OUT. */
static const char *
canon(const struct imap_cmd *c)
{
	buf_free(&canon_buf);
	buf_init(&canon_buf, 1 << 24);
	assert_int_equal(imap_cmd_write(&canon_buf, c, true), 0);
	return buf_cstr(&canon_buf);
}

/* ---- good commands, by their canonical form ---- */

struct good_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	const char	*want;		/* canonical; NULL: the input */
	size_t		 wantlen;	/* when WANT holds a NUL */
};

#define G(nm, s, w)	{ nm, s, 0, w, 0 }
#define GS(nm, s)	{ nm, s, 0, NULL, 0 }

#include "test_imap_parse_good.h"

static void
test_good(void **state)
{
	const struct good_case *tc = *state;
	size_t n = in_len(tc->in, tc->len);
	const char *want = tc->want != NULL ? tc->want : tc->in;
	size_t wn = tc->want != NULL ? in_len(tc->want, tc->wantlen) : n;
	struct imap_cmd c;
	struct imap_error e;

	if (parse(tc->in, n, &c, &e) != 0)
		fail_msg("parse failed: %s%s at %zu", e.tagged ? "" :
		    "(untagged) ", e.text, e.offset);
	canon(&c);
	if (canon_buf.len != wn || memcmp(canon_buf.data, want, wn) != 0)
		fail_msg("canonical form\n  got  [%s]\n  want [%s]",
		    buf_cstr(&canon_buf), want);
	/* The canonical form is a fixed point (AGAIN: freed by the
	   teardown, as a failed assertion does not return). */
	wn = canon_buf.len;
	free(again);
	again = malloc(wn + 1);
	assert_non_null(again);
	memcpy(again, canon_buf.data, wn);
	if (imap_parse(get_parser(), again, wn, &c, &e) != 0)
		fail_msg("canonical form does not parse: %s", e.text);
	canon(&c);
	assert_int_equal(canon_buf.len, wn);
	assert_memory_equal(canon_buf.data, again, wn);
	prefixes(tc->in, n);
}

/* ---- bad commands, by their error ---- */

struct bad_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	bool		 tagged;
	enum imap_err_code code;
	const char	*text;
};

#define B(nm, s, t)	{ nm, s, 0, true, IMAP_ERRC_NONE, t }
#define BU(nm, s, t)	{ nm, s, 0, false, IMAP_ERRC_NONE, t }
#define BN(nm, s, n, t)	{ nm, s, n, true, IMAP_ERRC_NONE, t }
#define BC(nm, s, c, t)	{ nm, s, 0, true, c, t }

#include "test_imap_parse_bad.h"

static void
test_bad(void **state)
{
	const struct bad_case *tc = *state;
	size_t n = in_len(tc->in, tc->len);
	struct imap_cmd c;
	struct imap_error e;

	memset(&c, 0x5a, sizeof(c));
	if (parse(tc->in, n, &c, &e) != -1)
		fail_msg("parsed: %s", canon(&c));
	assert_string_equal(e.text, tc->text);
	assert_int_equal(e.tagged, tc->tagged);
	assert_int_equal(e.code, tc->code);
	if (e.tagged)
		assert_true(e.tag.len > 0 && e.tag.s[e.tag.len] == '\0');
	/* *CMD is left alone on failure. */
	assert_int_equal(((unsigned char *)&c)[0], 0x5a);
	prefixes(tc->in, n);
}

#define ADD_TABLE(table, fn)                                               \
	for (i = 0; i < nitems(table); i++)                                \
		add_test((table)[i].name, (fn), &(table)[i])

#include "test_imap_parse_fields.h"
#include "test_imap_parse_limits.h"
#include "test_imap_parse_helpers.h"

int
main(void)
{
	size_t i;
	int r;

	ADD_TABLE(good_cases, test_good);
	ADD_TABLE(bad_cases, test_bad);
	add_fields_tests();
	add_limit_tests();
	add_helper_tests();
	r = _cmocka_run_group_tests("imap_parse", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
