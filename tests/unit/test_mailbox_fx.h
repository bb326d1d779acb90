/*
 * test_mailbox_fx.h - the fixture of test_mailbox*.c: a temporary data
 * directory held open as the daemon holds its own, a user's Maildir in
 * it opened with mailbox_user_open(), and helpers to drop files in as
 * other programs would (SMTP delivery into new/, mutt renaming).
 */
#ifndef TEST_MAILBOX_FX_H
#define TEST_MAILBOX_FX_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailbox/mailbox.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/spool.h"
#include "util/str.h"
#include "util/compat.h"

#define ROOT	"mail/acme.test/ann"

struct fx {
	const void	*row;
	char		 dir[64];
	int		 data_fd;
	struct mailbox_user *u;
	struct mailbox_err err;
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

	if (fx == NULL)
		return -1;
	fx->row = *state;
	(void)str_copy(fx->dir, "/tmp/popgate-test-mailbox-XXXXXX",
	    sizeof(fx->dir));
	if (mkdtemp(fx->dir) == NULL ||
	    (fx->data_fd = fs_open_dir(AT_FDCWD, fx->dir)) == -1)
		return -1;
	fx->u = mailbox_user_open(fx->data_fd, ROOT, "mx.acme.test", &fx->err);
	if (fx->u == NULL)
		fail_msg("mailbox_user_open: %s", fx->err.text);
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

	mailbox_user_free(&fx->u);
	mailbox_cache_flush();
	(void)close(fx->data_fd);
	(void)nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Writes TEXT as file REL below the data directory. */
static inline void
put_file(struct fx *fx, const char *rel, const char *text)
{
	int fd = openat(fx->data_fd, rel, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_int_not_equal(fd, -1);
	assert_int_equal(fs_write_all(fd, text, strlen(text)), 0);
	assert_int_equal(close(fd), 0);
}

static inline bool
exists(struct fx *fx, const char *rel)
{
	struct stat st;

	return fstatat(fx->data_fd, rel, &st, 0) == 0;
}

/* A delivery into new/ of folder dir SUB ("" for INBOX) named NAME. */
static inline void
deliver(struct fx *fx, const char *sub, const char *name)
{
	char rel[512];

	(void)str_fmt(rel, sizeof(rel), ROOT "%s/new/%s", sub, name);
	put_file(fx, rel, "Subject: hi\n\nline one\nline two\n");
}

/* The one file in cur/ of SUB whose name starts with PREFIX, into OUT. */
static inline bool
find_cur(struct fx *fx, const char *sub, const char *prefix, char *out,
    size_t outsz)
{
	char rel[512];
	struct dirent *de;
	bool found = false;
	DIR *d;

	(void)str_fmt(rel, sizeof(rel), ROOT "%s/cur", sub);
	d = fdopendir(fs_open_dir(fx->data_fd, rel));
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' &&
		    strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			(void)str_copy(out, de->d_name, outsz);
			found = true;
		}
	(void)closedir(d);
	return found;
}

static inline size_t
count_files(struct fx *fx, const char *rel)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = fdopendir(fs_open_dir(fx->data_fd, rel));

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	(void)closedir(d);
	return n;
}

/* The messages of the folder at REL: files in its cur/ and new/. */
static inline size_t
count_msgs(struct fx *fx, const char *rel)
{
	char sub[512];
	size_t n;

	(void)str_fmt(sub, sizeof(sub), "%s/cur", rel);
	n = count_files(fx, sub);
	(void)str_fmt(sub, sizeof(sub), "%s/new", rel);
	return n + count_files(fx, sub);
}

static inline uint32_t
append_text(struct fx *fx, const char *folder, const char *text,
    unsigned flags, const char *const *kw, size_t nkw)
{
	struct mailbox_append a;
	struct spool sp;
	uint32_t uv = 0, uid = 0;

	spool_init(&sp, fx->data_fd, ROOT "/tmp");
	spool_append(&sp, text, strlen(text));
	memset(&a, 0, sizeof(a));
	a.data = &sp;
	a.flags = flags;
	a.keywords = kw;
	a.nkeywords = nkw;
	a.internaldate = 1700000000;
	if (mailbox_append(fx->u, folder, &a, &uv, &uid, &fx->err) == -1)
		fail_msg("append: %s", fx->err.text);
	assert_int_not_equal(uv, 0);
	spool_free(&sp);
	return uid;
}

static inline struct mailbox_view *
view(struct fx *fx, const char *name)
{
	struct mailbox_view *v = mailbox_view_open(fx->u, name, 0, &fx->err);

	if (v == NULL)
		fail_msg("view %s: %s", name, fx->err.text);
	return v;
}

static inline struct mailbox_msg
msg_at(struct mailbox_view *v, uint32_t seq)
{
	struct mailbox_msg m;

	assert_int_equal(mailbox_view_msgs(v, seq, seq, &m), 0);
	return m;
}

static inline void
store(struct fx *fx, struct mailbox_view *v, uint32_t uid,
    enum mailbox_store_op op, unsigned flags)
{
	struct mailbox_store st;
	struct mailbox_store_result res;

	memset(&st, 0, sizeof(st));
	st.op = op;
	st.flags = flags;
	if (mailbox_store(v, &uid, 1, &st, &res, &fx->err) == -1)
		fail_msg("store: %s", fx->err.text);
	mailbox_store_result_free(&res);
}

#endif
