/*
 * test_milter_msg.c - the message as content filters see and change it
 * (src/milter/milter_msg.c): the header section split into fields with
 * their continuation lines, the body in CRLF chunks from a spool in
 * memory and in a file, a replaced body back to LF line ends across
 * chunk splits, and the message written again with every header change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "milter/milter_int.h"
#include "util/spool.h"
#include "util/xalloc.h"
#include "util/compat.h"


static const char MSG[] =
    "Subject: hello\n"
    "X-Folded: one\n"
    "\ttwo\n"
    "subject: again\n"
    "\n"
    "body line 1\n"
    "body line 2\n";

static const char RCVD[] = "Received: from x\n\tby y; date\n";

static void
spool_of(struct spool *sp, int dir_fd, const char *text, size_t len)
{
	spool_init(sp, dir_fd, ".");
	spool_append(sp, text, len);
	assert_int_equal(sp->err, 0);
}

static char *
spool_text(const struct spool *sp)
{
	char *t = xcalloc(1, (size_t)sp->len + 1);

	assert_int_equal(spool_read(sp, 0, t, (size_t)sp->len),
	    (ssize_t)sp->len);
	return t;
}

static void
test_hdrs(void **state)
{
	struct milter_hdrs h;
	struct spool sp;

	(void)state;
	spool_of(&sp, AT_FDCWD, MSG, sizeof(MSG) - 1);
	assert_int_equal(milter_hdrs_read(&h, RCVD, sizeof(RCVD) - 1, &sp), 0);
	assert_int_equal(h.n, 4);
	assert_memory_equal(h.text.data + h.v[0].name, "Received", 8);
	assert_int_equal(h.v[0].value_len, strlen(" from x\n\tby y; date"));
	assert_memory_equal(h.text.data + h.v[2].value, " one\n\ttwo", 9);
	assert_int_equal(h.v[2].value_len, 9);
	assert_memory_equal(h.text.data + h.v[3].name, "subject", 7);
	assert_memory_equal(MSG + h.body_off, "body line 1\n", 12);
	milter_hdrs_free(&h);
	spool_free(&sp);
}

/* A line without a colon ends the header section: it is body. */
static void
test_hdrs_no_colon(void **state)
{
	static const char m[] = "A: 1\nnot a header\nmore\n";
	struct milter_hdrs h;
	struct spool sp;

	(void)state;
	spool_of(&sp, AT_FDCWD, m, sizeof(m) - 1);
	assert_int_equal(milter_hdrs_read(&h, "", 0, &sp), 0);
	assert_int_equal(h.n, 1);
	assert_memory_equal(m + h.body_off, "not a header\n", 13);
	milter_hdrs_free(&h);
	spool_free(&sp);
}

/* The body chunks are CRLF, from memory and from a file alike, and
   never larger than a packet. */
static void
test_body_chunks(void **state)
{
	struct spool sp;
	struct buf out, all;
	uint64_t pos;
	size_t i, len = 200000;
	char *big = xmalloc(len);
	int n, dir;

	(void)state;
	for (i = 0; i < len; i++)
		big[i] = i % 2 ? '\n' : 'x';	/* every line one octet */
	dir = open("/tmp", O_RDONLY | O_DIRECTORY);
	assert_true(dir >= 0);
	spool_of(&sp, dir, big, len);
	assert_true(sp.fd != -1);	/* in a file by now */
	buf_init(&out, BUF_UNLIMITED);
	buf_init(&all, BUF_UNLIMITED);
	pos = 0;
	while ((n = milter_body_chunk(&sp, &pos, &out)) > 0) {
		assert_true(out.len <= MILTER_CHUNK_SIZE);
		(void)buf_append(&all, out.data, out.len);
	}
	assert_int_equal(n, 0);
	assert_int_equal(all.len, len / 2 * 3);
	assert_memory_equal(all.data, "x\r\nx\r\n", 6);
	buf_free(&out);
	buf_free(&all);
	spool_free(&sp);
	free(big);
	(void)close(dir);
}

/* A replaced body comes back to LF ends, a CRLF split across chunks
   too; a lone CR stays. */
static void
test_body_append(void **state)
{
	struct milter_result r;

	(void)state;
	memset(&r, 0, sizeof(r));
	buf_init(&r.body, BUF_UNLIMITED);
	assert_int_equal(milter_body_append(&r, "a\r\nb\r", 5), 0);
	assert_int_equal(milter_body_append(&r, "\nc\rd\r\n", 6), 0);
	assert_int_equal(r.body.len, strlen("a\nb\nc\rd\n"));
	assert_memory_equal(r.body.data, "a\nb\nc\rd\n", r.body.len);
	milter_result_reset(&r);
}

static void
add_mod(struct milter_result *r, enum milter_rep cmd, uint32_t index,
    const char *name, const char *value)
{
	struct milter_mod *m;

	r->mods = xreallocarray(r->mods, r->nmods + 1, sizeof(*r->mods));
	m = &r->mods[r->nmods++];
	memset(m, 0, sizeof(*m));
	m->cmd = cmd;
	m->index = index;
	m->name = xstrdup(name);
	m->value = xstrdup(value);
}

static void
test_rewrite(void **state)
{
	static const char want[] =
	    "X-Top: first\n"
	    "Received: from x\n\tby y; date\n"
	    "Subject: hello\n"
	    "subject: changed\n"
	    "X-Added: yes\n"
	    "X-New: made by chgheader\n"
	    "\n"
	    "body line 1\n"
	    "body line 2\n";
	struct milter_result r;
	struct spool sp, out;
	char *t;

	(void)state;
	memset(&r, 0, sizeof(r));
	add_mod(&r, MILTER_R_ADDHEADER, 0, "X-Added", " yes");
	add_mod(&r, MILTER_R_INSHEADER, 0, "X-Top", " first");
	add_mod(&r, MILTER_R_CHGHEADER, 1, "X-Folded", "");	/* deletes */
	add_mod(&r, MILTER_R_CHGHEADER, 2, "SUBJECT", " changed");
	add_mod(&r, MILTER_R_CHGHEADER, 1, "X-New", " made by chgheader");
	add_mod(&r, MILTER_R_CHGHEADER, 3, "Subject", "");	/* none */
	spool_of(&sp, AT_FDCWD, MSG, sizeof(MSG) - 1);
	spool_init(&out, AT_FDCWD, ".");
	assert_int_equal(milter_rewrite(&r, RCVD, sizeof(RCVD) - 1, &sp, &out),
	    0);
	t = spool_text(&out);
	assert_string_equal(t, want);
	free(t);
	spool_free(&out);
	spool_free(&sp);
	milter_result_reset(&r);
}

static void
test_rewrite_body(void **state)
{
	struct milter_result r;
	struct spool sp, out;
	char *t;

	(void)state;
	memset(&r, 0, sizeof(r));
	buf_init(&r.body, BUF_UNLIMITED);
	r.body_replaced = true;
	assert_int_equal(milter_body_append(&r, "new\r\n", 5), 0);
	spool_of(&sp, AT_FDCWD, "A: b\n\nold\n", 10);
	spool_init(&out, AT_FDCWD, ".");
	assert_int_equal(milter_rewrite(&r, "", 0, &sp, &out), 0);
	t = spool_text(&out);
	assert_string_equal(t, "A: b\n\nnew\n");
	free(t);
	spool_free(&out);
	spool_free(&sp);
	milter_result_reset(&r);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		cmocka_unit_test(test_hdrs),
		cmocka_unit_test(test_hdrs_no_colon),
		cmocka_unit_test(test_body_chunks),
		cmocka_unit_test(test_body_append),
		cmocka_unit_test(test_rewrite),
		cmocka_unit_test(test_rewrite_body),
	};

	return cmocka_run_group_tests_name("milter_msg", cases, NULL, NULL);
}
