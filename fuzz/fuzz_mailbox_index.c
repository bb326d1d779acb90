/* fuzz_mailbox_index.c - the folder index reader (src/mailbox/
   mailbox_index.c) through the real open path: the input becomes the
   popgate-index and popgate-index.log files of an INBOX that holds three
   message files, and the folder is opened, checked, closed and opened
   again. Whatever the bytes, the view must agree with the directory
   (three messages), UIDs must ascend below UIDNEXT, MODSEQs stay at or
   below HIGHESTMODSEQ, and a reopen must give the same UIDVALIDITY, UIDs
   and flags (the repaired index was written back whole).

   Input: byte 0 is a control mask (1: prepend the snapshot magic, 2:
   the log magic, 4/8: fix the record checksums of the snapshot/log, 16:
   no log file, 32: no snapshot file, 64: neither, and the log part is
   a dovecot-uidlist to take the UIDs over from), bytes 1-2 where the
   input splits into snapshot and log. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "mailbox/mailbox.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/str.h"

#define NFILES	3

static char dir[64] = "/tmp/popgate-fuzz-mbx-XXXXXX";
static int data_fd = -1;
static struct mailbox_user *user;
static uint32_t crc_table[256];

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_mailbox_index: %s\n", what);
	abort();
}

static void
put_file(const char *path, const void *p, size_t n)
{
	int fd = openat(data_fd, path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd == -1 || (n > 0 && fs_write_all(fd, p, n) == -1) ||
	    close(fd) == -1)
		die(path);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) == -1 ? -1 : 0;
}

/* The temporary Maildir goes with the process (make test replays). */
static void
cleanup(void)
{
	mailbox_user_free(&user);
	mailbox_cache_flush();
	(void)nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const files[NFILES] = {
		"u/cur/1700000000.M1P1Q1.h,S=10,W=12:2,S",
		"u/cur/1700000001.M2P1Q2.h:2,",
		"u/cur/1700000002.M3P1Q3.h,S=5:2,FT",
	};
	struct mailbox_err err;
	uint32_t c, i, k;

	(void)argc;
	(void)argv;
	/* No syslog socket here: warnings about damage go nowhere. */
	log_init("fuzz", LOG_TO_SYSLOG);
	for (i = 0; i < 256; i++) {
		for (c = i, k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
	if (mkdtemp(dir) == NULL ||
	    (data_fd = fs_open_dir(AT_FDCWD, dir)) == -1)
		die("temporary directory");
	user = mailbox_user_open(data_fd, "u", "fuzz.test", &err);
	if (user == NULL)
		die(err.text);
	for (i = 0; i < NFILES; i++)
		put_file(files[i], "Subject: x\n\nbody\n", 17);
	(void)atexit(cleanup);
	return 0;
}

static void
fix_crcs(unsigned char *p, size_t n)
{
	size_t off = 8;

	while (off + 9 <= n) {
		uint32_t len = p[off] | p[off + 1] << 8 | p[off + 2] << 16 |
		    (uint32_t)p[off + 3] << 24, c = 0xffffffffu;
		size_t i;

		if (len > n - off - 9)
			return;
		for (i = off; i < off + 5 + len; i++)
			c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
		c ^= 0xffffffffu;
		for (i = 0; i < 4; i++)
			p[off + 5 + len + i] = (unsigned char)(c >> (8 * i));
		off += 9 + len;
	}
}

/* MAGIC, then the N octets at P, as FILE (checksums fixed if FIX). */
static void
write_part(const char *file, const char *magic, const uint8_t *p, size_t n,
    bool fix)
{
	size_t m = magic != NULL ? 8 : 0;
	unsigned char *b = malloc(n + m + 1);

	if (b == NULL)
		die("malloc");
	if (m > 0)
		memcpy(b, magic, m);
	if (n > 0)
		memcpy(b + m, p, n);
	if (fix)
		fix_crcs(b, n + m);
	put_file(file, b, n + m);
	free(b);
}

struct seen {
	uint32_t	 uidvalidity;
	uint32_t	 uids[NFILES];
	unsigned	 flags[NFILES];
};

static void
check(struct seen *s, bool again)
{
	struct mailbox_err err;
	struct mailbox_view_info in;
	struct mailbox_msg m[NFILES];
	struct mailbox_view *v;
	uint32_t i;

	/* From the files, not from the state kept of the last use. */
	mailbox_cache_flush();
	if ((v = mailbox_view_open(user, "INBOX", 0, &err)) == NULL)
		die(err.text);
	mailbox_view_get_info(v, &in);
	if (in.exists != NFILES || mailbox_view_msgs(v, 1, NFILES, m) != 0)
		die("the view does not match the directory");
	for (i = 0; i < NFILES; i++) {
		if (m[i].uid == 0 || m[i].uid >= in.uidnext ||
		    (i > 0 && m[i].uid <= m[i - 1].uid) ||
		    m[i].modseq == 0 || m[i].modseq > in.highestmodseq ||
		    m[i].expunged || (m[i].flags & ~MAILBOX_FLAGS_ALL) != 0)
			die("inconsistent message");
		if (in.nkeywords < 128 && ((in.nkeywords < 64 &&
		    m[i].keywords[0] >> in.nkeywords != 0) ||
		    (in.nkeywords <= 64 && m[i].keywords[1] != 0) ||
		    (in.nkeywords > 64 &&
		    m[i].keywords[1] >> (in.nkeywords - 64) != 0)))
			die("keyword bit without a name");
		if (again && (m[i].uid != s->uids[i] ||
		    m[i].flags != s->flags[i]))
			die("UIDs or flags changed across a reopen");
		s->uids[i] = m[i].uid;
		s->flags[i] = m[i].flags;
	}
	/* The names say S, nothing, FT: the names are the truth. */
	for (i = 0; i < NFILES; i++) {
		static const unsigned want[NFILES] = { MAILBOX_SEEN, 0,
		    MAILBOX_FLAGGED | MAILBOX_DELETED };
		char uidl[MAILBOX_UIDL_MAX + 1];
		size_t k;

		if (mailbox_msg_uidl(v, m[i].uid, uidl) != 1 ||
		    strncmp(uidl, "170000000", 9) != 0 ||
		    (k = (size_t)(uidl[9] - '0')) >= NFILES)
			die("a message that is no file");
		if (m[i].flags != want[k])
			die("flags not taken from the file names");
	}
	if (again && in.uidvalidity != s->uidvalidity)
		die("UIDVALIDITY changed across a reopen");
	s->uidvalidity = in.uidvalidity;
	mailbox_view_close(&v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct seen s;
	size_t split;
	unsigned ctl;

	if (data_fd == -1)
		(void)LLVMFuzzerInitialize(NULL, NULL);
	if (len < 3)
		return 0;
	ctl = data[0];
	split = ((size_t)data[1] | (size_t)data[2] << 8) % (len - 2);
	data += 3;
	len -= 3;
	if (ctl & 64) {
		(void)unlinkat(data_fd, "u/popgate-index", 0);
		(void)unlinkat(data_fd, "u/popgate-index.log", 0);
		write_part("u/dovecot-uidlist", NULL, data + split,
		    len - split, false);
		memset(&s, 0, sizeof(s));
		check(&s, false);
		check(&s, true);
		(void)unlinkat(data_fd, "u/dovecot-uidlist", 0);
		return 0;
	}
	if (ctl & 32)
		(void)unlinkat(data_fd, "u/popgate-index", 0);
	else
		write_part("u/popgate-index", ctl & 1 ? "PGMBXIX1" : NULL,
		    data, split, ctl & 4);
	if (ctl & 16)
		(void)unlinkat(data_fd, "u/popgate-index.log", 0);
	else
		write_part("u/popgate-index.log", ctl & 2 ? "PGMBXLG1" : NULL,
		    data + split, len - split, ctl & 8);
	memset(&s, 0, sizeof(s));
	check(&s, false);
	check(&s, true);
	return 0;
}
