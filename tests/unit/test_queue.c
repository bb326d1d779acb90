/*
 * test_queue.c - the queue file (src/queue/queue_file.c): its writer,
 * its one reader with one strictness whether the file is read from disk
 * (queue_open) or parsed in memory (queue_parse), the state file parser,
 * and the queue handle below a data-directory descriptor.
 *
 * Each test gets a fresh temporary data directory, held open as the
 * daemon holds its own; nothing depends on the current directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "queue/queue.h"
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
	(void)str_copy(fx->dir, "/tmp/popgate-test-queue-XXXXXX",
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

/* A message of BODYLEN octets ("x...\n" lines), written by queue_write;
   its id into ID and the file's image into *IMG (malloc'ed). */
static size_t
write_msg(struct fx *fx, size_t bodylen, char *id, unsigned char **img)
{
	struct queue_env e;
	struct spool body;
	struct stat st;
	const char *err = "";
	size_t i;
	int fd;

	queue_env_init(&e);
	e.arrival = 1700000000;
	(void)str_copy(e.sender, "ann@example.com", sizeof(e.sender));
	(void)queue_env_add_rcpt(&e, "bob@example.org");
	queue_env_add_rcpt(&e, "carl@example.net")->notify =
	    DSN_NOTIFY_FAILURE;
	(void)str_copy(e.auth, "pop-before-smtp", sizeof(e.auth));
	(void)str_copy(e.client, "h [192.0.2.7]", sizeof(e.client));
	e.body8bit = true;
	spool_init(&body, fx->data_fd, "tmp");
	for (i = 0; i < bodylen; i++)
		spool_append(&body, i % 64 == 63 ? "\n" : "x", 1);
	e.lines = bodylen / 64;
	assert_int_equal(body.err, 0);
	assert_int_equal(queue_write(fx->q, &e, "Received: x\n", 12, &body,
	    &err), 0);
	spool_free(&body);
	(void)str_copy(id, e.id, ID_LEN + 1);
	queue_env_free(&e);
	/* The image, read back as a test would. */
	{
		char path[128];

		(void)str_fmt(path, sizeof(path), "%s/queue/msg/%s", fx->dir,
		    id);
		fd = open(path, O_RDONLY);
		assert_int_not_equal(fd, -1);
		assert_int_equal(fstat(fd, &st), 0);
		*img = malloc((size_t)st.st_size);
		assert_non_null(*img);
		assert_int_equal(read(fd, *img, (size_t)st.st_size),
		    st.st_size);
		(void)close(fd);
	}
	return (size_t)st.st_size;
}

/* Replaces message ID's file by LEN octets of IMG. */
static void
put_file(struct fx *fx, const char *id, const unsigned char *img, size_t len)
{
	char path[128];
	FILE *f;

	(void)str_fmt(path, sizeof(path), "%s/queue/msg/%s", fx->dir, id);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(img, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Both readers on LEN octets of IMG: the same verdict and error. */
static int
both_readers(struct fx *fx, const char *id, const unsigned char *img,
    size_t len, const char **error_r)
{
	struct queue_env e1, e2;
	uint64_t off1 = 0, len1 = 0, off2 = 0, len2 = 0;
	const char *err1 = "", *err2 = "";
	int r1, r2, fd = -1;

	r1 = queue_parse(img, len, &e1, &off1, &len1, &err1);
	put_file(fx, id, img, len);
	r2 = queue_open(fx->q, id, &e2, &fd, &off2, &len2, &err2);
	if (r1 == 0) {
		assert_int_equal(r2, 1);
		assert_int_equal(off1, off2);
		assert_int_equal(len1, len2);
		assert_string_equal(e1.id, e2.id);
		assert_int_equal(e1.nrcpts, e2.nrcpts);
		queue_env_free(&e1);
		queue_env_free(&e2);
		(void)close(fd);
		*error_r = "";
		return 0;
	}
	assert_int_equal(r2, -1);
	if (strcmp(err1, err2) != 0)
		fail_msg("at %zu octets: memory says '%s', file says '%s'",
		    len, err1, err2);
	*error_r = err1;
	return -1;
}

static void
test_round_trip(void **state)
{
	struct fx *fx = *state;
	struct queue_env e;
	unsigned char *img;
	char id[ID_LEN + 1], text[64];
	uint64_t off, len;
	const char *err = "";
	size_t n = write_msg(fx, 1000, id, &img);
	int fd = -1;

	assert_true(queue_id_ok(id));
	assert_int_equal(queue_exists(fx->q, id), 1);
	assert_int_equal(queue_open(fx->q, id, &e, &fd, &off, &len, &err), 1);
	assert_string_equal(e.sender, "ann@example.com");
	/* A file without a 'V' record: sent from its sender. */
	assert_string_equal(e.srs_sender, "");
	assert_string_equal(queue_env_mail_from(&e), "ann@example.com");
	assert_int_equal(e.nrcpts, 2);
	assert_string_equal(e.rcpts[1].address, "carl@example.net");
	assert_int_equal(e.rcpts[1].notify, DSN_NOTIFY_FAILURE);
	/* A file without 'H' records (all files before them): remote. */
	assert_false(e.rcpts[0].local);
	assert_false(e.rcpts[1].local);
	assert_true(e.body8bit);
	assert_false(e.smtputf8);
	assert_int_equal(len, 12 + 1000);
	assert_int_equal(pread(fd, text, 12, (off_t)off), 12);
	assert_memory_equal(text, "Received: x\n", 12);
	assert_int_equal(off + len + 9 + 32, n);
	(void)close(fd);
	/* The state file, replaced and read back. */
	e.rcpts[0].state = QR_DEFERRED;
	e.rcpts[0].next_try = 1700000600;
	e.rcpts[0].attempts = 3;
	(void)str_copy(e.rcpts[0].last_error, "451 try\nlater",
	    sizeof(e.rcpts[0].last_error));
	e.warned = 1700000300;
	assert_int_equal(queue_write_state(fx->q, &e), 0);
	queue_env_free(&e);
	assert_int_equal(queue_open(fx->q, id, &e, &fd, &off, &len, &err), 1);
	(void)close(fd);
	assert_int_equal(e.rcpts[0].state, QR_DEFERRED);
	assert_int_equal(e.rcpts[0].next_try, 1700000600);
	assert_int_equal(e.rcpts[0].attempts, 3);
	assert_string_equal(e.rcpts[0].last_error, "451 try later");
	assert_int_equal(e.rcpts[1].state, QR_PENDING);
	assert_int_equal(e.warned, 1700000300);
	queue_env_free(&e);
	assert_int_equal(queue_remove(fx->q, id), 0);
	assert_int_equal(queue_exists(fx->q, id), 0);
	assert_int_equal(queue_open(fx->q, id, &e, &fd, &off, &len, &err), 0);
	free(img);
}

/* Every prefix of a file is refused, the same way by both readers. */
static void
test_every_prefix_refused(void **state)
{
	struct fx *fx = *state;
	unsigned char *img;
	char id[ID_LEN + 1];
	const char *err;
	size_t n = write_msg(fx, 300, id, &img), i;

	assert_int_equal(both_readers(fx, id, img, n, &err), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(both_readers(fx, id, img, i, &err), -1);
	free(img);
}

/* A message past the reader's first read (64 KiB) and in a spool file:
   the checksum is streamed, the spool read through spool_copy. */
static void
test_large_message(void **state)
{
	struct fx *fx = *state;
	unsigned char *img;
	char id[ID_LEN + 1];
	const char *err;
	size_t n = write_msg(fx, 3 * SPOOL_MEM_MAX, id, &img);

	assert_int_equal(both_readers(fx, id, img, n, &err), 0);
	img[n / 2] ^= 1;
	assert_int_equal(both_readers(fx, id, img, n, &err), -1);
	assert_string_equal(err, "checksum mismatch");
	free(img);
}

struct damage {
	const char	*name;
	size_t		 at;	/* from the end when FROM_END */
	bool		 from_end;
	unsigned char	 value;
	size_t		 append;	/* octets added at the end */
	const char	*error;
};

static const struct damage damages[] = {
	{ "bad magic", 0, false, 'X', 0, "not a queue file (bad header)" },
	{ "bad version", 8, false, '2', 0, "not a queue file (bad header)" },
	{ "envelope record type unknown", 10, false, 'Q', 0,
	    "bad envelope record" },
	{ "END record type changed", 41, true, 'Y', 0,
	    "record after the message" },
	{ "END record length changed", 33, true, 31, 0, "bad END record" },
	{ "END record length past the end", 33, true, 33, 0,
	    "truncated record" },
	{ "checksum octet changed", 1, true, 0, 0, "checksum mismatch" },
	{ "octet after the END record", 0, false, 0, 1, "bad END record" },
	{ "message octet changed", 60, true, '!', 0, "checksum mismatch" },
};

static void
test_damage(void **state)
{
	struct fx *fx = *state;
	const struct damage *d = fx->row;
	unsigned char *img, *bad;
	char id[ID_LEN + 1];
	const char *err;
	size_t n = write_msg(fx, 200, id, &img);

	bad = calloc(1, n + d->append);
	assert_non_null(bad);
	memcpy(bad, img, n);
	if (d->append == 0) {
		size_t at = d->from_end ? n - d->at : d->at;

		bad[at] = d->value == 0 ? (unsigned char)(bad[at] ^ 0x55) :
		    d->value;
	}
	assert_int_equal(both_readers(fx, id, bad, n + d->append, &err), -1);
	assert_string_equal(err, d->error);
	free(bad);
	free(img);
}

struct state_case {
	const char	*name;
	const char	*text;
	enum queue_rstate st0;
	long long	 next0;
	unsigned	 att0;
	const char	*err0;
	long long	 warned;
};

static const struct state_case state_cases[] = {
	{ "as written", "warned 5\n0 deferred 100 2\t451 later\n", QR_DEFERRED,
	    100, 2, "451 later", 5 },
	{ "no last error", "0 bounced 7 1\n", QR_BOUNCED, 7, 1, "", 0 },
	{ "empty last error", "0 delivered 0 1\t\n", QR_DELIVERED, 0, 1, "",
	    0 },
	{ "no final LF", "0 deferred 9 4\tx", QR_DEFERRED, 9, 4, "x", 0 },
	{ "unknown state skipped", "0 lost 9 4\tx\n", QR_PENDING, 0, 0, "",
	    0 },
	{ "index past the recipients skipped", "2 deferred 9 4\tx\n",
	    QR_PENDING, 0, 0, "", 0 },
	{ "negative number skipped", "0 deferred -9 4\tx\n", QR_PENDING, 0,
	    0, "", 0 },
	{ "sign skipped", "0 deferred +9 4\tx\n", QR_PENDING, 0, 0, "", 0 },
	{ "attempts past unsigned skipped", "0 deferred 9 4294967296\n",
	    QR_PENDING, 0, 0, "", 0 },
	{ "leading blank skipped", " 0 deferred 9 4\n", QR_PENDING, 0, 0, "",
	    0 },
	{ "missing field skipped", "0 deferred 9\n", QR_PENDING, 0, 0, "",
	    0 },
	{ "extra field skipped", "0 deferred 9 4 5\n", QR_PENDING, 0, 0, "",
	    0 },
	{ "NUL in a line skipped", "0 deferred 9 4\t\0x\n", QR_PENDING, 0, 0,
	    "", 0 },
	{ "bad warned skipped", "warned x\n", QR_PENDING, 0, 0, "", 0 },
	{ "later line wins", "0 deferred 1 1\n0 deferred 2 2\n", QR_DEFERRED,
	    2, 2, "", 0 },
	{ "CRLF is not a line end", "0 deferred 9 4\r\n", QR_PENDING, 0, 0,
	    "", 0 },
};

static void
test_state_case(void **state)
{
	const struct state_case *c = ((struct fx *)*state)->row;
	struct queue_env e;
	size_t len = strlen(c->text);

	if (strcmp(c->name, "NUL in a line skipped") == 0)
		len = 18;
	queue_env_init(&e);
	(void)queue_env_add_rcpt(&e, "a@example.org");
	(void)queue_env_add_rcpt(&e, "b@example.org");
	queue_state_parse(&e, c->text, len);
	assert_int_equal(e.rcpts[0].state, c->st0);
	assert_int_equal(e.rcpts[0].next_try, c->next0);
	assert_int_equal(e.rcpts[0].attempts, c->att0);
	assert_string_equal(e.rcpts[0].last_error, c->err0);
	assert_int_equal(e.rcpts[1].state, QR_PENDING);
	assert_int_equal(e.warned, c->warned);
	queue_env_free(&e);
}

static void
count_one(const char *id, void *arg)
{
	(void)id;
	(*(unsigned *)arg)++;
}

/* queue_scan sees queue ids only; queue_clean_tmp empties queue/tmp. */
static void
put_rec(unsigned char *img, size_t *n, char type, const char *data)
{
	size_t len = strlen(data), i;

	img[(*n)++] = (unsigned char)type;
	for (i = 0; i < 8; i++)
		img[(*n)++] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	memcpy(img + *n, data, len);
	*n += len;
}

/* Both readers on a file of an id, then the records of ORDER ('R' a
   recipient, 'H' a hosted record holding HDATA), then a message.
   0 when read (the last recipient must then be local), -1 refused. */
static int
hosted_image(struct fx *fx, const char *order, const char *hdata)
{
	static const char id[] = "0000000000000a11";
	unsigned char img[1024], sum[32];
	struct queue_env e;
	uint64_t off, len;
	const char *err = "";
	size_t n = 0;
	int r;

	memcpy(img, "POPGATEQ1\n", 10);
	n = 10;
	put_rec(img, &n, 'I', id);
	for (; *order != '\0'; order++)
		put_rec(img, &n, *order, *order == 'R' ? "x@acme.test" :
		    hdata);
	put_rec(img, &n, 'M', "Subject: s\n\nb\n");
	assert_non_null(SHA256(img, n, sum));
	img[n++] = 'Z';
	memset(img + n, 0, 8);
	img[n + 7] = 32;
	n += 8;
	memcpy(img + n, sum, 32);
	n += 32;
	r = both_readers(fx, id, img, n, &err);
	if (r == 0) {
		assert_int_equal(queue_parse(img, n, &e, &off, &len, &err), 0);
		assert_true(e.rcpts[e.nrcpts - 1].local);
		queue_env_free(&e);
	} else {
		assert_string_equal(err, "bad envelope record");
	}
	return r;
}

/* A hosted mailbox among remote recipients: its 'H' record marks it
   alone, it survives the state file, and an 'H' without a recipient or
   with content is refused. */
static void
test_hosted_recipient(void **state)
{
	struct fx *fx = *state;
	struct queue_env e;
	struct spool body;
	uint64_t off, len;
	const char *err = "";
	char id[ID_LEN + 1];
	int fd = -1;

	queue_env_init(&e);
	e.arrival = 1700000000;
	(void)str_copy(e.sender, "ann@example.com", sizeof(e.sender));
	/* forwarded: the remote ones get the SRS sender, the mailbox the
	   original */
	(void)str_copy(e.srs_sender, "SRS0=abcd=AA=example.com=ann@fwd.test",
	    sizeof(e.srs_sender));
	(void)queue_env_add_rcpt(&e, "bob@example.org");
	queue_env_add_rcpt(&e, "full@acme.test")->local = true;
	(void)queue_env_add_rcpt(&e, "carl@example.net");
	spool_init(&body, fx->data_fd, "tmp");
	spool_append(&body, "Subject: s\n\nbody\n", 18);
	assert_int_equal(queue_write(fx->q, &e, "", 0, &body, &err), 0);
	spool_free(&body);
	(void)str_copy(id, e.id, sizeof(id));
	e.rcpts[1].state = QR_DEFERRED;
	e.rcpts[1].attempts = 1;
	assert_int_equal(queue_write_state(fx->q, &e), 0);
	queue_env_free(&e);
	assert_int_equal(queue_open(fx->q, id, &e, &fd, &off, &len, &err), 1);
	(void)close(fd);
	assert_int_equal(e.nrcpts, 3);
	assert_string_equal(e.sender, "ann@example.com");
	assert_string_equal(queue_env_mail_from(&e),
	    "SRS0=abcd=AA=example.com=ann@fwd.test");
	assert_false(e.rcpts[0].local);
	assert_true(e.rcpts[1].local);
	assert_string_equal(e.rcpts[1].address, "full@acme.test");
	assert_int_equal(e.rcpts[1].state, QR_DEFERRED);
	assert_false(e.rcpts[2].local);
	queue_env_free(&e);
	/* Images built by hand: only the 'H' records differ. */
	assert_int_equal(hosted_image(fx, "RH", ""), 0);
	assert_int_equal(hosted_image(fx, "HR", ""), -1);
	assert_int_equal(hosted_image(fx, "RH", "x"), -1);
	assert_int_equal(hosted_image(fx, "RHH", ""), -1);
}

static void
test_scan_and_clean(void **state)
{
	struct fx *fx = *state;
	unsigned char *img;
	char id[ID_LEN + 1], path[128];
	unsigned n = 0;
	FILE *f;

	(void)write_msg(fx, 10, id, &img);
	free(img);
	(void)write_msg(fx, 10, id, &img);
	free(img);
	(void)str_fmt(path, sizeof(path), "%s/queue/msg/not-an-id", fx->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	(void)fclose(f);
	(void)str_fmt(path, sizeof(path), "%s/queue/tmp/%s", fx->dir, id);
	f = fopen(path, "w");
	assert_non_null(f);
	(void)fclose(f);
	assert_int_equal(queue_scan(fx->q, count_one, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(queue_clean_tmp(fx->q), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_false(queue_id_ok("not-an-id"));
	assert_false(queue_id_ok("../state/0123456789abcdef"));
}

/* The queue of a second data directory below the fixture's. */
static struct queue *
other_queue(struct fx *fx, const char *name, int *fd_r)
{
	const char *err = "";
	struct queue *q;

	assert_int_equal(fs_mkdir_p_at(fx->data_fd, name, 0700, false), 0);
	*fd_r = fs_open_dir(fx->data_fd, name);
	assert_int_not_equal(*fd_r, -1);
	q = queue_new(*fd_r, &err);
	assert_non_null(q);
	return q;
}

/* queue_copy(): whole messages with their state, nothing of a damaged
   or missing one, never over one the destination has, and a state that
   is no state file carries nothing of what it links to. */
static void
test_copy(void **state)
{
	struct fx *fx = *state;
	struct queue *to, *again;
	struct queue_env e;
	unsigned char *img;
	char id[ID_LEN + 1], plain[ID_LEN + 1], bad[ID_LEN + 1];
	char linked[ID_LEN + 1], path[160], lpath[200];
	FILE *f;
	uint64_t off, len, bytes;
	const char *err = "";
	size_t n;
	int fd = -1, to_fd;

	n = write_msg(fx, 5000, id, &img);
	free(img);
	assert_int_equal(queue_open(fx->q, id, &e, &fd, &off, &len, &err), 1);
	(void)close(fd);
	e.rcpts[1].state = QR_DEFERRED;
	e.rcpts[1].attempts = 2;
	(void)queue_env_hold(&e, "spam?", 1700000100);
	assert_int_equal(queue_write_state(fx->q, &e), 0);
	queue_env_free(&e);
	(void)write_msg(fx, 10, plain, &img);
	free(img);
	(void)write_msg(fx, 10, bad, &img);
	img[40] ^= 1;
	put_file(fx, bad, img, 30 + 40);
	free(img);

	(void)write_msg(fx, 10, linked, &img);
	free(img);
	(void)str_fmt(path, sizeof(path), "%s/secret", fx->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	(void)fputs("hold 1\tthe secret\nroot:x:0:0\n", f);
	(void)fclose(f);
	(void)str_fmt(lpath, sizeof(lpath), "%s/queue/state/%s", fx->dir,
	    linked);
	assert_int_equal(symlink(path, lpath), 0);

	to = other_queue(fx, "backup", &to_fd);
	assert_int_equal(queue_copy(fx->q, id, to, &bytes, &err),
	    QUEUE_COPY_DONE);
	assert_int_equal(bytes, n);
	assert_int_equal(queue_copy(fx->q, plain, to, &bytes, &err),
	    QUEUE_COPY_DONE);
	assert_int_equal(queue_copy(fx->q, bad, to, &bytes, &err),
	    QUEUE_COPY_DAMAGED);
	assert_int_equal(queue_copy(fx->q, linked, to, &bytes, &err),
	    QUEUE_COPY_DONE);
	assert_int_equal(queue_copy(fx->q, "0123456789abcdef", to, &bytes,
	    &err), QUEUE_COPY_GONE);
	/* Never over a message the destination holds. */
	assert_int_equal(queue_copy(fx->q, id, to, &bytes, &err),
	    QUEUE_COPY_FAILED);
	assert_int_equal(queue_sync(to), 0);
	assert_int_equal(queue_exists(to, bad), 0);

	/* The copy reads as the original, state and hold included. */
	queue_free(&to);
	to = queue_attach(to_fd, &err);
	assert_non_null(to);
	assert_int_equal(queue_open(to, id, &e, &fd, &off, &len, &err), 1);
	(void)close(fd);
	assert_string_equal(e.hold, "spam?");
	assert_int_equal(e.rcpts[1].state, QR_DEFERRED);
	assert_int_equal(e.rcpts[1].attempts, 2);
	assert_int_equal(len, 12 + 5000);
	queue_env_free(&e);
	/* A message without a state file: one that says the same. */
	assert_int_equal(queue_open(to, plain, &e, &fd, &off, &len, &err), 1);
	(void)close(fd);
	assert_int_equal(e.rcpts[0].state, QR_PENDING);
	assert_int_equal(e.rcpts[0].attempts, 0);
	assert_false(queue_env_held(&e));
	queue_env_free(&e);
	{
		unsigned left = 0;

		assert_int_equal(queue_scan(to, count_one, &left), 0);
		assert_int_equal(left, 3);
	}
	/* Only what the reader understood of the linked file: a hold
	   (erring on the safe side), never its other lines. */
	(void)str_fmt(lpath, sizeof(lpath), "%s/backup/queue/state/%s",
	    fx->dir, linked);
	{
		struct buf b;

		buf_init(&b, 4096);
		assert_int_equal(fs_read_file_at(AT_FDCWD, lpath, &b), 0);
		assert_null(strstr(buf_cstr(&b), "root:"));
		buf_free(&b);
	}
	queue_free(&to);
	(void)close(to_fd);

	/* queue_attach() makes nothing. */
	assert_int_equal(fs_mkdir_p_at(fx->data_fd, "empty", 0700, false), 0);
	to_fd = fs_open_dir(fx->data_fd, "empty");
	again = queue_attach(to_fd, &err);
	assert_null(again);
	assert_int_equal(errno, ENOENT);
	(void)str_fmt(path, sizeof(path), "%s/empty/queue", fx->dir);
	assert_int_equal(access(path, F_OK), -1);
	(void)close(to_fd);
}

int
main(void)
{
	size_t i;
	int r;

	add_test("write, open, state, remove", test_round_trip, NULL);
	add_test("every prefix refused by both readers",
	    test_every_prefix_refused, NULL);
	add_test("message past the first read, spooled to a file",
	    test_large_message, NULL);
	for (i = 0; i < nitems(damages); i++)
		add_test(damages[i].name, test_damage, &damages[i]);
	for (i = 0; i < nitems(state_cases); i++)
		add_test(state_cases[i].name, test_state_case,
		    &state_cases[i]);
	add_test("scan and clean", test_scan_and_clean, NULL);
	add_test("a hosted mailbox among the recipients",
	    test_hosted_recipient, NULL);
	add_test("copy: whole messages and their state, or nothing",
	    test_copy, NULL);
	r = _cmocka_run_group_tests("queue", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
