/*
 * test_linereader.c - strict CRLF lines with a hard limit
 * (src/core/linereader.c) over a libevent evbuffer.
 *
 * Table-driven: each row is an input, a limit, the results it must give
 * (every result but LINE_NONE, with the line for LINE_OK) and how many
 * octets are left in the evbuffer at the end. Every row runs fully
 * buffered (all input added, then read until LINE_NONE), trickled byte
 * by byte (one octet added, then read until LINE_NONE, and so on), and
 * in chunks of a few sizes around the limit; all must give exactly the
 * same results (Dovecot test-smtp-command-parser.c style).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "core/linereader.h"
#include "util/buf.h"
#include "util/compat.h"

/* ---- helpers ---- */


static int cleanup(void **);

#define TEST_TEARDOWN cleanup
#include "testlib.h"


#define MAXEV	8

struct ev {
	enum line_result	 r;
	const char		*line;	/* LINE_OK: the content */
};

struct lr_case {
	const char	*name;
	/* The input: PARTS are concatenated (so that long runs can be
	   built at run time: a part "\x01N" is N octets of 'x'). */
	const char	*parts[8];
	size_t		 max;
	struct ev	 want[MAXEV];	/* ends at r == LINE_NONE */
	size_t		 left;		/* octets left in the evbuffer */
};

/* The input of a case in a malloc'ed buffer. */
static unsigned char *
case_input(const struct lr_case *tc, size_t *len_r)
{
	size_t len = 0, i, n;
	unsigned char *p;

	for (i = 0; i < nitems(tc->parts) && tc->parts[i] != NULL; i++)
		len += tc->parts[i][0] == '\x01' ?
		    (size_t)strtoul(tc->parts[i] + 1, NULL, 10) :
		    strlen(tc->parts[i]);
	p = malloc(len > 0 ? len : 1);
	assert_non_null(p);
	len = 0;
	for (i = 0; i < nitems(tc->parts) && tc->parts[i] != NULL; i++) {
		if (tc->parts[i][0] == '\x01') {
			n = (size_t)strtoul(tc->parts[i] + 1, NULL, 10);
			memset(p + len, 'x', n);
		} else {
			n = strlen(tc->parts[i]);
			memcpy(p + len, tc->parts[i], n);
		}
		len += n;
	}
	*len_r = len;
	return p;
}

static const char *
result_name(enum line_result r)
{
	switch (r) {
	case LINE_NONE:
		return "NONE";
	case LINE_OK:
		return "OK";
	case LINE_TOO_LONG:
		return "TOO_LONG";
	case LINE_BARE:
		return "BARE";
	}
	return "?";
}

struct got {
	enum line_result	 r[64];
	char			*line[64];
	size_t			 n;
};

static void
got_free(struct got *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		free(g->line[i]);
	g->n = 0;
}

/* What one run holds, global so that the teardown frees it after a
   failed assertion (a longjmp). */
static struct evbuffer *cur_ev;
static unsigned char *cur_in;
static struct buf cur_line;
static struct got cur_got;
static char *cur_exp;

static void
release(void)
{
	if (cur_ev != NULL)
		evbuffer_free(cur_ev);
	cur_ev = NULL;
	free(cur_in);
	cur_in = NULL;
	buf_free(&cur_line);
	got_free(&cur_got);
	free(cur_exp);
	cur_exp = NULL;
}

static int
cleanup(void **state)
{
	(void)state;
	release();
	return 0;
}

/* Reads every available result into G. */
static void
drain_results(struct linereader *lr, struct evbuffer *in, struct buf *line,
    struct got *g)
{
	enum line_result r;
	int guard = 0;

	while ((r = linereader_get(lr, in, line)) != LINE_NONE) {
		assert_true(g->n < 64);
		assert_true(++guard < 10000);
		g->r[g->n] = r;
		g->line[g->n] = NULL;
		if (r == LINE_OK) {
			g->line[g->n] = malloc(line->len + 1);
			assert_non_null(g->line[g->n]);
			memcpy(g->line[g->n], line->len > 0 ? line->data : "",
			    line->len);
			g->line[g->n][line->len] = '\0';
			/* Exactly what was between the line start and CRLF:
			   no CR or LF ever reaches the caller. */
			assert_null(memchr(g->line[g->n], '\r', line->len));
			assert_null(memchr(g->line[g->n], '\n', line->len));
		} else {
			assert_int_equal(line->len, 0);
		}
		g->n++;
	}
}

static void
check_results(const struct lr_case *tc, const struct got *g, size_t left,
    const char *mode)
{
	size_t i, nwant = 0;

	while (nwant < MAXEV && tc->want[nwant].r != LINE_NONE)
		nwant++;
	for (i = 0; i < g->n || i < nwant; i++) {
		if (i >= g->n)
			fail_msg("%s: result %zu missing: want %s", mode, i,
			    result_name(tc->want[i].r));
		if (i >= nwant)
			fail_msg("%s: extra result %zu: %s", mode, i,
			    result_name(g->r[i]));
		if (g->r[i] != tc->want[i].r)
			fail_msg("%s: result %zu is %s, want %s", mode, i,
			    result_name(g->r[i]), result_name(tc->want[i].r));
		if (g->r[i] == LINE_OK) {
			const char *want = tc->want[i].line;

			if (want[0] == '\x01') {
				size_t n = (size_t)strtoul(want + 1, NULL, 10);

				free(cur_exp);
				cur_exp = malloc(n + 1);
				assert_non_null(cur_exp);
				memset(cur_exp, 'x', n);
				cur_exp[n] = '\0';
				want = cur_exp;
			}
			if (strcmp(g->line[i], want) != 0) {
				fail_msg("%s: line %zu is \"%.60s\" (%zu), "
				    "want \"%.60s\" (%zu)", mode, i,
				    g->line[i], strlen(g->line[i]), want,
				    strlen(want));
			}
		}
	}
	if (left != tc->left)
		fail_msg("%s: %zu octets left, want %zu", mode, left,
		    tc->left);
}

/* Feeds the input in chunks of STEP octets (0: all at once). */
static void
run_mode(const struct lr_case *tc, size_t step, const char *mode)
{
	struct linereader lr;
	struct evbuffer *in;
	struct buf *line = &cur_line;
	struct got *g = &cur_got;
	unsigned char *p;
	size_t len, off, n;

	release();
	in = cur_ev = evbuffer_new();
	assert_non_null(in);
	p = cur_in = case_input(tc, &len);
	linereader_init(&lr, tc->max);
	buf_init(line, tc->max);
	/* Nothing there yet. */
	assert_int_equal(linereader_get(&lr, in, line), LINE_NONE);
	if (step == 0)
		step = len > 0 ? len : 1;
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		assert_int_equal(evbuffer_add(in, p + off, n), 0);
		drain_results(&lr, in, line, g);
	}
	/* A last call with nothing new changes nothing. */
	drain_results(&lr, in, line, g);
	check_results(tc, g, evbuffer_get_length(in), mode);
	release();
}

static void
test_case(void **state)
{
	const struct lr_case *tc = *state;
	static const size_t steps[] = { 2, 3, 7, 511, 512, 513, 1000 };
	char mode[32];
	size_t i;

	run_mode(tc, 0, "fully buffered");
	run_mode(tc, 1, "byte by byte");
	for (i = 0; i < nitems(steps); i++) {
		(void)snprintf(mode, sizeof(mode), "chunks of %zu", steps[i]);
		run_mode(tc, steps[i], mode);
	}
}

#define OK(s)		{ LINE_OK, s }
#define LONG		{ LINE_TOO_LONG, NULL }
#define BARE		{ LINE_BARE, NULL }
#define X(n)		"\x01" #n	/* N octets of 'x' */

static const struct lr_case cases[] = {
	/* CRLF lines */
	{ "one CRLF line", { "NOOP\r\n" }, 512, { OK("NOOP") }, 0 },
	{ "empty line", { "\r\n" }, 512, { OK("") }, 0 },
	{ "three lines", { "EHLO a\r\nMAIL FROM:<>\r\nDATA\r\n" }, 512,
	    { OK("EHLO a"), OK("MAIL FROM:<>"), OK("DATA") }, 0 },
	{ "partial line stays buffered", { "NOOP\r\nQUI" }, 512,
	    { OK("NOOP") }, 3 },
	{ "line ending in CR waits for LF", { "NOOP\r" }, 512, { { 0 } },
	    5 },
	{ "nothing", { "" }, 512, { { 0 } }, 0 },
	{ "8-bit content", { "\xc3\xa4\xff\x80\r\n" }, 512,
	    { OK("\xc3\xa4\xff\x80") }, 0 },
	{ "tab and blanks kept", { " \ta b \t\r\n" }, 512,
	    { OK(" \ta b \t") }, 0 },
	/* the limit (octets including CRLF) */
	{ "limit exactly at max", { X(510), "\r\n" }, 512, { OK(X(510)) },
	    0 },
	{ "limit one over max", { X(511), "\r\n" }, 512, { LONG }, 0 },
	{ "limit one under max", { X(509), "\r\n" }, 512, { OK(X(509)) },
	    0 },
	{ "limit exactly at max then a line", { X(510), "\r\nNOOP\r\n" },
	    512, { OK(X(510)), OK("NOOP") }, 0 },
	{ "limit one over then a line", { X(511), "\r\nNOOP\r\n" }, 512,
	    { LONG, OK("NOOP") }, 0 },
	{ "limit at max, bare LF", { X(511), "\n" }, 512, { LONG }, 0 },
	{ "limit one over, bare LF", { X(512), "\n" }, 512, { LONG }, 0 },
	{ "small limit exact", { "abc\r\n" }, 5, { OK("abc") }, 0 },
	{ "small limit one over", { "abcd\r\nab\r\n" }, 5,
	    { LONG, OK("ab") }, 0 },
	{ "text line limit 1000 exact", { X(998), "\r\n" }, 1000,
	    { OK(X(998)) }, 0 },
	{ "text line limit 1000 one over", { X(999), "\r\n" }, 1000,
	    { LONG }, 0 },
	/* bare CR */
	{ "bare CR inside", { "NO\rOP\r\n" }, 512, { BARE }, 0 },
	{ "bare CR before CRLF", { "NOOP\r\r\n" }, 512, { BARE }, 0 },
	{ "bare CR then a good line", { "RSET\rQUIT\r\nNOOP\r\n" }, 512,
	    { BARE, OK("NOOP") }, 0 },
	{ "bare CR at the start", { "\rNOOP\r\n" }, 512, { BARE }, 0 },
	{ "only CR CR LF", { "\r\r\n" }, 512, { BARE }, 0 },
	{ "bare CR without any LF waits", { "NO\rOP" }, 512, { { 0 } }, 5 },
	{ "bare CR then CR LF at the end", { "a\rb\r", "\nok\r\n" }, 512,
	    { BARE, OK("ok") }, 0 },
	/* bare LF: never a line end, the line goes on to its CRLF */
	{ "bare LF alone waits for CRLF", { "NOOP\n" }, 512, { { 0 } }, 5 },
	{ "only LF waits", { "\n" }, 512, { { 0 } }, 1 },
	{ "bare LF does not split a line", { "NOOP\nQUIT\r\n" }, 512,
	    { BARE }, 0 },
	{ "smuggled RCPT behind a bare LF",
	    { "NOOP\nRCPT TO:<x@acme.test>\r\nNOOP\r\n" }, 512,
	    { BARE, OK("NOOP") }, 0 },
	{ "LF LF waits", { "\n\n" }, 512, { { 0 } }, 2 },
	{ "LF LF CRLF is one bad line", { "\n\n\r\nok\r\n" }, 512,
	    { BARE, OK("ok") }, 0 },
	{ "CRLF then bare LF", { "\r\n\n" }, 512, { OK("") }, 1 },
	{ "smuggling form LF dot LF", { "hello\n.\nNOOP\r\n" }, 512,
	    { BARE }, 0 },
	{ "smuggling form LF dot CRLF", { "hello\n.\r\nok\r\n" }, 512,
	    { BARE, OK("ok") }, 0 },
	{ "LF CR LF", { "a\n\r\n" }, 512, { BARE }, 0 },
	{ "bare LF and CR mixed", { "a\rb\nc\r\r\nok\r\n" }, 512,
	    { BARE, OK("ok") }, 0 },
	/* the limit holds for the whole bad line */
	{ "bad line exactly at max", { X(255), "\n", X(254), "\r\n" }, 512,
	    { BARE }, 0 },
	{ "bad line one over max", { X(255), "\n", X(255), "\r\nok\r\n" },
	    512, { LONG, OK("ok") }, 0 },
	{ "over-long with many bare LFs", { X(300), "\n", X(300), "\n",
	    X(300), "\r\nNOOP\r\n" }, 512, { LONG, OK("NOOP") }, 0 },
	/* over the limit: discard mode up to the LF */
	{ "over-long without LF", { X(600) }, 512, { LONG }, 0 },
	{ "over-long then rest and a line", { X(600), "QUIT\r\nNOOP\r\n" },
	    512, { LONG, OK("NOOP") }, 0 },
	{ "very long line over many feeds",
	    { X(5000), X(5000), X(5000), "\r\nNOOP\r\n" }, 512,
	    { LONG, OK("NOOP") }, 0 },
	{ "over-long with bare CR and LF in the rest",
	    { X(700), "\rQUIT\nNOOP\r\nok\r\n" }, 512, { LONG, OK("ok") },
	    0 },
	{ "over-long: a bare LF does not end it", { X(700), "\nNOOP\r\n" },
	    512, { LONG }, 0 },
	{ "over-long: LF then CRLF", { X(600), "\n\r\nok\r\n" }, 512,
	    { LONG, OK("ok") }, 0 },
	{ "over-long: CR then not LF", { X(600), "\rx\r\nok\r\n" }, 512,
	    { LONG, OK("ok") }, 0 },
	{ "over-long: CRLF across the discard step",
	    { X(1023), "\r\nok\r\n" }, 512, { LONG, OK("ok") }, 0 },
	{ "over-long: CR at the end waits for LF", { X(600), "\r" }, 512,
	    { LONG }, 0 },
	{ "two over-long lines", { X(600), "\r\n", X(600), "\r\nok\r\n" },
	    512, { LONG, LONG, OK("ok") }, 0 },
	{ "over-long then partial", { X(600), "\r\nNO" }, 512, { LONG },
	    2 },
	{ "max octets without LF yet", { X(512) }, 512, { LONG }, 0 },
	{ "max-1 octets without LF waits", { X(511) }, 512, { { 0 } }, 511 },
	{ "max-1 then CR waits", { X(510), "\r" }, 512, { { 0 } }, 511 },
	{ "over-long then good line at max", { X(513), "\r\n", X(510),
	    "\r\n" }, 512, { LONG, OK(X(510)) }, 0 },
};

/* A NUL octet is content like any other (the line is pointer + length),
   fully buffered and byte by byte. */
static void
test_nul_in_line(void **state)
{
	static const char in[] = "a\0b\r\n\0\r\n";
	struct linereader lr;
	struct evbuffer *ev = evbuffer_new();
	struct buf line;
	size_t step, off;
	int got;

	(void)state;
	assert_non_null(ev);
	buf_init(&line, 512);
	for (step = 1; step <= sizeof(in) - 1; step += sizeof(in) - 2) {
		linereader_init(&lr, 512);
		got = 0;
		for (off = 0; off < sizeof(in) - 1; off += step) {
			size_t n = sizeof(in) - 1 - off < step ?
			    sizeof(in) - 1 - off : step;
			enum line_result r;

			assert_int_equal(evbuffer_add(ev, in + off, n), 0);
			while ((r = linereader_get(&lr, ev, &line)) !=
			    LINE_NONE) {
				assert_int_equal(r, LINE_OK);
				if (got == 0) {
					assert_int_equal(line.len, 3);
					assert_memory_equal(line.data, "a\0b", 3);
				} else {
					assert_int_equal(line.len, 1);
					assert_int_equal(line.data[0], '\0');
				}
				got++;
			}
		}
		assert_int_equal(got, 2);
		assert_int_equal(evbuffer_get_length(ev), 0);
	}
	buf_free(&line);
	evbuffer_free(ev);
}

/* A line that fits the reader but not the caller's buffer is refused
   as too long, and the reader goes on with the next line. */
static void
test_line_buffer_smaller(void **state)
{
	struct linereader lr;
	struct evbuffer *ev = evbuffer_new();
	struct buf line;

	(void)state;
	assert_non_null(ev);
	linereader_init(&lr, 512);
	buf_init(&line, 4);
	assert_int_equal(evbuffer_add(ev, "abcdef\r\nabc\r\n", 13), 0);
	assert_int_equal(linereader_get(&lr, ev, &line), LINE_TOO_LONG);
	assert_int_equal(linereader_get(&lr, ev, &line), LINE_OK);
	assert_int_equal(line.len, 3);
	assert_memory_equal(line.data, "abc", 3);
	assert_int_equal(linereader_get(&lr, ev, &line), LINE_NONE);
	buf_free(&line);
	evbuffer_free(ev);
}

int
main(void)
{
	size_t i;
	int r;

	for (i = 0; i < nitems(cases); i++)
		add_test(cases[i].name, test_case, &cases[i]);
	add_test("NUL inside a line is content", test_nul_in_line, NULL);
	add_test("line longer than the caller's buffer",
	    test_line_buffer_smaller, NULL);
	r = _cmocka_run_group_tests("linereader", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
