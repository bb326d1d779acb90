/*
 * test_queue_hold.c - the hold (quarantine) of a queued message
 * (src/queue/queue_state.c): its lines in the state file, read back
 * from disk and parsed from text (old files without them, damaged
 * ones), queue_set_hold() on the files, a held queue_write(), and what
 * the held time does to the age of a message.
 *
 * Each test gets a fresh temporary data directory, as test_queue.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/queue.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/spool.h"
#include "util/str.h"
#include "util/compat.h"

struct fx {
	const void	*row;	/* the table row of the test */
	char		 dir[64];
	int		 data_fd;
	struct queue	*q;
};

static int setup(void **state);
static int teardown(void **state);

#define TEST_SETUP setup
#define TEST_TEARDOWN teardown
#include "testlib.h"

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	const char *err = "";

	if (fx == NULL)
		return -1;
	fx->row = *state;
	(void)str_copy(fx->dir, "/tmp/popgate-test-hold-XXXXXX",
	    sizeof(fx->dir));
	if (mkdtemp(fx->dir) == NULL ||
	    (fx->data_fd = fs_open_dir(AT_FDCWD, fx->dir)) == -1 ||
	    fs_mkdir_p_at(fx->data_fd, "tmp", 0700, false) == -1)
		return -1;
	fx->q = queue_new(fx->data_fd, &err);
	if (fx->q == NULL)
		fail_msg("queue_new: %s", err);
	*state = fx;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) == -1 ? -1 : 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	queue_free(&fx->q);
	(void)close(fx->data_fd);
	(void)nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Queues a message to two recipients; held with REASON unless NULL.
   Its id into ID (which may name the id wanted). */
static void
write_msg(struct fx *fx, const char *reason, char *id)
{
	struct queue_env e;
	struct spool body;
	const char *err = "";

	queue_env_init(&e);
	(void)str_copy(e.id, id, sizeof(e.id));
	e.arrival = 1700000000;
	(void)str_copy(e.sender, "ann@example.com", sizeof(e.sender));
	(void)queue_env_add_rcpt(&e, "bob@example.org");
	queue_env_add_rcpt(&e, "full@acme.test")->local = true;
	if (reason != NULL)
		assert_true(queue_env_hold(&e, reason, 1700000100));
	spool_init(&body, fx->data_fd, "tmp");
	spool_append(&body, "Subject: s\n\nbody\n", 18);
	assert_int_equal(queue_write(fx->q, &e, "", 0, &body, &err), 0);
	spool_free(&body);
	(void)str_copy(id, e.id, ID_LEN + 1);
	queue_env_free(&e);
}

/* Message ID as the queue manager loads it into E (free it). */
static void
load(struct fx *fx, const char *id, struct queue_env *e)
{
	uint64_t off, len;
	const char *err = "";
	int fd = -1;

	assert_int_equal(queue_open(fx->q, id, e, &fd, &off, &len, &err), 1);
	(void)close(fd);
}

/* The state file of ID as text into OUT. */
static void
state_text(struct fx *fx, const char *id, char *out, size_t outsz)
{
	char path[128];
	struct buf b;

	(void)str_fmt(path, sizeof(path), "%s/queue/state/%s", fx->dir, id);
	buf_init(&b, 64 * 1024);
	assert_int_equal(fs_read_file(path, &b), 0);
	assert_int_equal(str_copy(out, buf_cstr(&b), outsz), 0);
	buf_free(&b);
}

/* queue_write() of a held envelope: held from the first read, the
   state file already there with the reason and time, and the
   recipients as they were (one of them local). */
static void
test_write_held(void **state)
{
	struct fx *fx = *state;
	struct queue_env e;
	char id[ID_LEN + 1] = "", text[1024];

	write_msg(fx, "spam score 12.5 (rspamd)", id);
	load(fx, id, &e);
	assert_true(queue_env_held(&e));
	assert_string_equal(e.hold, "spam score 12.5 (rspamd)");
	assert_int_equal(e.held_at, 1700000100);
	assert_int_equal(e.held_for, 0);
	assert_int_equal(e.nrcpts, 2);
	assert_true(e.rcpts[1].local);
	assert_int_equal(e.rcpts[0].state, QR_PENDING);
	queue_env_free(&e);
	state_text(fx, id, text, sizeof(text));
	assert_string_equal(text, "hold 1700000100\tspam score 12.5 (rspamd)\n"
	    "0 pending 0 0\t\n1 pending 0 0\t\n");
	/* Unheld, no state file at all, as before. */
	id[0] = '\0';
	write_msg(fx, NULL, id);
	load(fx, id, &e);
	assert_false(queue_env_held(&e));
	assert_int_equal(e.held_at, 0);
	queue_env_free(&e);
	(void)str_fmt(text, sizeof(text), "queue/state/%s", id);
	assert_int_equal(faccessat(fx->data_fd, text, F_OK, 0), -1);
}

/* A state file left by a held write a crash cut short (no message):
   the id is not reused, so nothing inherits that hold. */
static void
test_orphan_state_not_inherited(void **state)
{
	struct fx *fx = *state;
	struct queue_env e;
	static const char orphan[] = "00000000000000aa";
	char id[ID_LEN + 1], path[128];
	FILE *f;

	(void)str_fmt(path, sizeof(path), "%s/queue/state/%s", fx->dir,
	    orphan);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs("hold 5\tleft over\n", f) >= 0);
	assert_int_equal(fclose(f), 0);
	(void)str_copy(id, orphan, sizeof(id));
	write_msg(fx, NULL, id);
	assert_string_not_equal(id, orphan);
	load(fx, id, &e);
	assert_false(queue_env_held(&e));
	queue_env_free(&e);
	/* A free id is kept (the one the client was told). */
	(void)str_copy(id, "00000000000000bb", sizeof(id));
	write_msg(fx, NULL, id);
	assert_string_equal(id, "00000000000000bb");
}

/* queue_set_hold() on the files: hold, hold again, release, release
   again, and a message that is not there. The recipients' states and
   the delay notice survive both ways; a release makes a deferred
   recipient due at once. */
static void
test_set_hold(void **state)
{
	struct fx *fx = *state;
	struct queue_env e, got;
	char id[ID_LEN + 1] = "", text[1024];
	const char *err = "";

	write_msg(fx, NULL, id);
	load(fx, id, &e);
	e.rcpts[0].state = QR_DEFERRED;
	e.rcpts[0].next_try = 1700009999;
	e.rcpts[0].attempts = 2;
	(void)str_copy(e.rcpts[0].last_error, "451 4.4.1 later",
	    sizeof(e.rcpts[0].last_error));
	e.warned = 1700000500;
	assert_int_equal(queue_write_state(fx->q, &e), 0);
	queue_env_free(&e);

	assert_int_equal(queue_set_hold(fx->q, id, "by the admin", 1700001000,
	    &got, &err), QUEUE_HOLD_DONE);
	assert_string_equal(got.hold, "by the admin");
	queue_env_free(&got);
	load(fx, id, &e);
	assert_string_equal(e.hold, "by the admin");
	assert_int_equal(e.held_at, 1700001000);
	assert_int_equal(e.rcpts[0].state, QR_DEFERRED);
	assert_int_equal(e.rcpts[0].next_try, 1700009999);
	assert_int_equal(e.rcpts[0].attempts, 2);
	assert_string_equal(e.rcpts[0].last_error, "451 4.4.1 later");
	assert_int_equal(e.warned, 1700000500);
	queue_env_free(&e);

	assert_int_equal(queue_set_hold(fx->q, id, "again", 1700001500,
	    &got, &err), QUEUE_HOLD_ALREADY);
	assert_string_equal(err, "already held");
	assert_string_equal(got.hold, "by the admin");	/* unchanged */
	queue_env_free(&got);

	assert_int_equal(queue_set_hold(fx->q, id, NULL, 1700004600, NULL,
	    &err), QUEUE_HOLD_DONE);
	load(fx, id, &e);
	assert_false(queue_env_held(&e));
	assert_int_equal(e.held_for, 3600);
	assert_int_equal(e.rcpts[0].attempts, 2);
	queue_env_free(&e);
	/* Released: the deferred recipient is due at once. */
	state_text(fx, id, text, sizeof(text));
	assert_string_equal(text, "held_for 3600\nwarned 1700000500\n"
	    "0 deferred 1700004600 2\t451 4.4.1 later\n1 pending 0 0\t\n");

	assert_int_equal(queue_set_hold(fx->q, id, NULL, 1700004700, NULL,
	    &err), QUEUE_HOLD_ALREADY);
	assert_string_equal(err, "not held");
	/* A second hold and release add up. */
	assert_int_equal(queue_set_hold(fx->q, id, "x", 1700005000, NULL,
	    &err), QUEUE_HOLD_DONE);
	assert_int_equal(queue_set_hold(fx->q, id, NULL, 1700005060, NULL,
	    &err), QUEUE_HOLD_DONE);
	load(fx, id, &e);
	assert_int_equal(e.held_for, 3660);
	queue_env_free(&e);

	assert_int_equal(queue_set_hold(fx->q, "0123456789abcdef", "x", 1,
	    NULL, &err), QUEUE_HOLD_NONE);
	assert_int_equal(queue_set_hold(fx->q, "../state/x", "x", 1, NULL,
	    &err), QUEUE_HOLD_FAILED);
	/* Deleting a held message removes its state with it. */
	assert_int_equal(queue_set_hold(fx->q, id, "x", 1700005100, NULL,
	    &err), QUEUE_HOLD_DONE);
	assert_int_equal(queue_remove(fx->q, id), 0);
	assert_int_equal(queue_exists(fx->q, id), 0);
	(void)str_fmt(text, sizeof(text), "queue/state/%s", id);
	assert_int_equal(faccessat(fx->data_fd, text, F_OK, 0), -1);
}

/* A reason written into the envelope by hand with an LF in it is still
   one line of the state file. */
static void
test_reason_set_by_hand(void **state)
{
	struct fx *fx = *state;
	struct queue_env e;
	char id[ID_LEN + 1] = "";

	write_msg(fx, NULL, id);
	load(fx, id, &e);
	(void)str_copy(e.hold, "two\nlines", sizeof(e.hold));
	e.held_at = 9;
	assert_int_equal(queue_write_state(fx->q, &e), 0);
	queue_env_free(&e);
	load(fx, id, &e);
	assert_string_equal(e.hold, "two lines");
	assert_int_equal(e.held_at, 9);
	assert_int_equal(e.nrcpts, 2);
	queue_env_free(&e);
}

struct parse_case {
	const char	*name;
	const char	*text;
	size_t		 len;		/* 0: strlen(text) */
	const char	*hold;		/* "" not held */
	long long	 held_at;
	unsigned long long held_for;
	unsigned	 att0;		/* recipient 0's attempts */
};

static const struct parse_case parse_cases[] = {
	{ "old file: no hold lines", "warned 5\n0 deferred 100 2\tx\n", 0,
	    "", 0, 0, 2 },
	{ "as written", "hold 77\tquarantined: virus\nheld_for 30\n"
	    "0 deferred 100 2\tx\n", 0, "quarantined: virus", 77, 30, 2 },
	{ "a tab in the reason", "hold 77\ta\tb\n", 0, "a b", 77, 0, 0 },
	{ "CR in the reason", "hold 77\ta\rb\n", 0, "a b", 77, 0, 0 },
	{ "bare word still holds", "hold\n", 0, "held", 0, 0, 0 },
	{ "no reason still holds", "hold 77\n", 0, "held", 77, 0, 0 },
	{ "empty reason still holds", "hold 77\t\n", 0, "held", 77, 0, 0 },
	{ "bad time still holds", "hold -3\tr\n", 0, "r", 0, 0, 0 },
	{ "no final LF", "hold 1\tr", 0, "r", 1, 0, 0 },
	{ "NUL ends the reason", "hold 1\tab\0cd\n", 13, "ab", 1, 0, 0 },
	{ "a longer word is not a hold", "holder 1\tr\n", 0, "", 0, 0, 0 },
	{ "HOLD is not a hold", "HOLD 1\tr\n", 0, "", 0, 0, 0 },
	{ "later hold line wins", "hold 1\ta\nhold 2\tb\n", 0, "b", 2, 0,
	    0 },
	{ "bad held_for skipped", "held_for x\n", 0, "", 0, 0, 0 },
	{ "negative held_for skipped", "held_for -1\n", 0, "", 0, 0, 0 },
	{ "held_for past a century skipped", "held_for 99999999999\n", 0, "",
	    0, 0, 0 },
	{ "held_for with a blank skipped", "held_for 5 \n", 0, "", 0, 0, 0 },
	{ "hold line not taken for a recipient", "hold 0 deferred 1 1\n0 "
	    "deferred 1 3\n", 0, "held", 0, 0, 3 },
};

static void
test_parse_case(void **state)
{
	const struct parse_case *c = ((struct fx *)*state)->row;
	struct queue_env e;

	queue_env_init(&e);
	(void)queue_env_add_rcpt(&e, "a@example.org");
	queue_state_parse(&e, c->text, c->len != 0 ? c->len : strlen(c->text));
	assert_string_equal(e.hold, c->hold);
	assert_int_equal(queue_env_held(&e), c->hold[0] != '\0');
	assert_int_equal(e.held_at, c->held_at);
	assert_int_equal(e.held_for, c->held_for);
	assert_int_equal(e.rcpts[0].attempts, c->att0);
	queue_env_free(&e);
}

/* A reason over QUEUE_HOLD_MAX octets in a state file is cut at a
   character, never inside one. */
static void
test_parse_long_reason(void **state)
{
	struct queue_env e;
	char text[600];
	size_t n;

	(void)state;
	(void)str_copy(text, "hold 1\t", sizeof(text));
	n = strlen(text);
	memset(text + n, 'a', QUEUE_HOLD_MAX - 1);
	n += QUEUE_HOLD_MAX - 1;
	memcpy(text + n, "\xc3\xa9" "zz\n", 6);	/* e-acute across the end */
	queue_env_init(&e);
	queue_state_parse(&e, text, n + 5);
	assert_int_equal(strlen(e.hold), QUEUE_HOLD_MAX - 1);
	assert_int_equal(e.hold[QUEUE_HOLD_MAX - 2], 'a');
	queue_env_free(&e);
}

/* queue_env_hold() takes any text, queue_hold_reason_ok() says whether
   it had to change it. */
static void
test_env_hold_reason(void **state)
{
	struct queue_env e;
	char big[QUEUE_HOLD_MAX + 10];

	(void)state;
	queue_env_init(&e);
	assert_true(queue_env_hold(&e, "caf\xc3\xa9 filter", 3));
	assert_string_equal(e.hold, "caf\xc3\xa9 filter");
	assert_int_equal(e.held_at, 3);
	assert_true(queue_hold_reason_ok("caf\xc3\xa9 filter"));
	assert_false(queue_env_hold(&e, "a\r\nb\tc\x7f", 4));
	assert_string_equal(e.hold, "a  b c ");
	assert_false(queue_hold_reason_ok("a\tb"));
	assert_false(queue_env_hold(&e, "", 5));
	assert_string_equal(e.hold, "held");
	assert_false(queue_hold_reason_ok(""));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_false(queue_hold_reason_ok(big));
	assert_false(queue_env_hold(&e, big, 6));
	assert_int_equal(strlen(e.hold), QUEUE_HOLD_MAX);
	big[QUEUE_HOLD_MAX] = '\0';
	assert_true(queue_hold_reason_ok(big));
	assert_true(queue_env_hold(&e, big, 6));
	queue_env_free(&e);
}

/* The age that max_queue_lifetime and delay_warning measure leaves out
   the time held, now and before; the expiry moves by as much. */
static void
test_age_and_expiry(void **state)
{
	struct queue_env e;

	(void)state;
	queue_env_init(&e);
	e.arrival = 1000;
	assert_int_equal(queue_env_age(&e, 1600), 600);
	assert_int_equal(queue_env_expiry(&e, 3600), 4600);
	(void)queue_env_hold(&e, "r", 1600);
	assert_int_equal(queue_env_age(&e, 1600), 600);
	assert_int_equal(queue_env_age(&e, 9000), 600);	/* frozen */
	queue_env_release(&e, 9000);
	assert_false(queue_env_held(&e));
	assert_int_equal(e.held_for, 7400);
	assert_int_equal(e.held_at, 0);
	assert_int_equal(queue_env_age(&e, 9000), 600);
	assert_int_equal(queue_env_age(&e, 9100), 700);
	assert_int_equal(queue_env_expiry(&e, 3600), 12000);
	/* Releasing what is not held changes nothing. */
	queue_env_release(&e, 9500);
	assert_int_equal(e.held_for, 7400);
	/* A hold of unknown start (a damaged line) adds nothing. */
	(void)str_copy(e.hold, "held", sizeof(e.hold));
	e.held_at = 0;
	queue_env_release(&e, 9999);
	assert_int_equal(e.held_for, 7400);
	/* Nor does a clock that went back. */
	(void)queue_env_hold(&e, "r", 20000);
	queue_env_release(&e, 19000);
	assert_int_equal(e.held_for, 7400);
	assert_int_equal(queue_env_age(&e, 500), 0);
	/* Times from a damaged file do not overflow. */
	e.arrival = INT64_MAX;
	e.held_for = 3600;
	assert_int_equal(queue_env_expiry(&e, 3600), INT64_MAX);
	assert_int_equal(queue_env_age(&e, 1700000000), 0);
	queue_env_free(&e);
}

int
main(void)
{
	size_t i;
	int r;

	add_test("a held queue_write: held from the first read",
	    test_write_held, NULL);
	add_test("an orphan state file is not inherited",
	    test_orphan_state_not_inherited, NULL);
	add_test("queue_set_hold: hold, again, release, again, none",
	    test_set_hold, NULL);
	add_test("a reason set by hand stays one line",
	    test_reason_set_by_hand, NULL);
	for (i = 0; i < nitems(parse_cases); i++)
		add_test(parse_cases[i].name, test_parse_case, &parse_cases[i]);
	add_test("a long reason cut at a character", test_parse_long_reason,
	    NULL);
	add_test("queue_env_hold and queue_hold_reason_ok",
	    test_env_hold_reason, NULL);
	add_test("age and expiry leave out the time held",
	    test_age_and_expiry, NULL);
	r = _cmocka_run_group_tests("queue_hold", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
