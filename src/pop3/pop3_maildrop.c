/*
 * pop3_maildrop.c - Maildir listing, sizes, UIDLs, deletion and message
 * streaming for POP3 (RFC 1939 sections 5-7, 11).
 *
 * What LIST and STAT report is exactly what RETR sends before dot-
 * stuffing: every LF not preceded by a CR becomes CRLF, and a last line
 * without a line end gets one. Streaming reads the file in bounded
 * chunks; a message is never held in memory whole.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/evp.h>

#include "pop3/pop3_maildrop.h"
#include "mailbox/mailbox.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define INDEX_FILE	"popgate-sizes"
#define CHUNK		(64 * 1024)

/* The UIDL of a file name: its unique part (before the first ',' or
   ':'), or a SHA-256 prefix of it when that is not a valid UIDL. */
static void
make_uidl(const char *file, char out[POP3_UIDL_MAX + 1])
{
	size_t n = strcspn(file, ",:"), i;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	bool ok = n > 0 && n <= POP3_UIDL_MAX;

	for (i = 0; ok && i < n; i++)
		if (file[i] < 0x21 || file[i] > 0x7e)
			ok = false;
	if (ok) {
		memcpy(out, file, n);
		out[n] = '\0';
		return;
	}
	(void)EVP_Digest(file, n, md, &mdlen, EVP_sha256(), NULL);
	for (i = 0; i < 20 && i < mdlen; i++)
		(void)snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The ,W= size in the base name (before ':'), if any. */
static int
name_vsize(const char *file, uint64_t *size)
{
	size_t base = strcspn(file, ":");
	const char *w = file;

	while ((w = strstr(w, ",W=")) != NULL && (size_t)(w - file) < base) {
		size_t digits = strspn(w + 3, "0123456789");

		if (digits > 0 && str_to_uint_n(w + 3, digits, 0, UINT64_MAX,
		    size) == 0)
			return 0;
		w += 3;
	}
	return -1;
}

/* Reads the file once: the octets RETR will send (before stuffing). */
static int
count_size(int dir_fd, const char *path, uint64_t *size)
{
	unsigned char buf[CHUNK];
	uint64_t total = 0;
	bool prev_cr = false, any = false;
	unsigned char last = '\n';
	ssize_t n, i;
	int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' && !prev_cr)
				total++;
			prev_cr = buf[i] == '\r';
		}
		total += (uint64_t)n;
		last = buf[n - 1];
		any = true;
	}
	(void)close(fd);
	if (n == -1)
		return -1;
	if (any && last != '\n')
		total += 2;
	*size = total;
	return 0;
}

/* The path of M's file: in new/ or cur/, where the listing found it.
   Messages are not moved from new/ to cur/: POP3 has no flags to keep,
   and 10 000 renames would make a first login slow for nothing. */
static void
msg_path(const struct maildrop *d, const struct pop3_msg *m, char *out,
    size_t outsz)
{
	(void)str_fmt(out, outsz, "%s/%s/%s", d->path, m->in_new ? "new" :
	    "cur", m->file);
}

static void
load_index(int dir_fd, const char *path, struct hmap *idx)
{
	char file[1100], *line, *save = NULL;
	struct buf b;

	(void)str_fmt(file, sizeof(file), "%s/" INDEX_FILE, path);
	buf_init(&b, 64 * 1024 * 1024);
	if (fs_read_file_at(dir_fd, file, &b) == 0 && b.len > 0) {
		for (line = strtok_r(b.data, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			char *sp = strrchr(line, ' ');
			uint64_t v;

			if (sp == NULL || str_to_uint(sp + 1, 0, UINT64_MAX,
			    &v) == -1)
				continue;
			*sp = '\0';
			(void)hmap_put(idx, line, (void *)(uintptr_t)(v + 1));
		}
	}
	buf_free(&b);
}

static void
save_index(struct maildrop *d)
{
	char file[1100];
	struct buf b;
	size_t i;

	buf_init(&b, BUF_UNLIMITED);
	for (i = 0; i < d->n; i++) {
		uint64_t v;

		if (name_vsize(d->v[i].file, &v) == 0)
			continue;	/* the name has it */
		(void)buf_printf(&b, "%.*s %llu\n",
		    (int)strcspn(d->v[i].file, ":"), d->v[i].file,
		    (unsigned long long)d->v[i].size);
	}
	(void)str_fmt(file, sizeof(file), "%s/" INDEX_FILE, d->path);
	if (fs_write_atomic_at(d->dir_fd, file, buf_cstr(&b), b.len, 0600) ==
	    -1)
		log_warn("maildir %s: cannot write the size index: %s",
		    d->path, strerror(errno));
	buf_free(&b);
}

static int
cmp_msg(const void *a, const void *b)
{
	return strcmp(((const struct pop3_msg *)a)->file,
	    ((const struct pop3_msg *)b)->file);
}

/* Size of one listed message; *COUNTED when the file had to be read. */
static int
msg_size(struct maildrop *d, struct pop3_msg *m, struct hmap *idx,
    bool *counted)
{
	char key[512], file[1400];
	uintptr_t v;

	if (name_vsize(m->file, &m->size) == 0)
		return 0;
	(void)str_fmt(key, sizeof(key), "%.*s", (int)strcspn(m->file, ":"),
	    m->file);
	v = (uintptr_t)hmap_get(idx, key);
	if (v != 0) {
		m->size = (uint64_t)(v - 1);
		return 0;
	}
	msg_path(d, m, file, sizeof(file));
	if (count_size(d->dir_fd, file, &m->size) == -1)
		return -1;
	*counted = true;
	return 0;
}

/* Appends the messages of PATH/SUB to D. 0, or -1 (errno); a missing
   directory is empty. */
static int
list_dir(struct maildrop *d, const char *sub, bool in_new)
{
	char dir[1100];
	struct dirent *de;
	DIR *dp;
	int fd;

	(void)str_fmt(dir, sizeof(dir), "%s/%s", d->path, sub);
	fd = fs_open_dir(d->dir_fd, dir);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if ((dp = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (d->n == d->cap) {
			d->cap = d->cap == 0 ? 64 : d->cap * 2;
			d->v = xreallocarray(d->v, d->cap, sizeof(*d->v));
		}
		memset(&d->v[d->n], 0, sizeof(d->v[d->n]));
		d->v[d->n].file = xstrdup(de->d_name);
		d->v[d->n].in_new = in_new;
		d->n++;
	}
	(void)closedir(dp);
	return 0;
}

/* Whether two names are the same message: the same unique part (a file
   caught in both new/ and cur/ while another reader moved it). */
static bool
same_message(const char *a, const char *b)
{
	size_t n = strcspn(a, ",:");

	return n == strcspn(b, ",:") && strncmp(a, b, n) == 0;
}

int
maildrop_open(struct maildrop *d, int dir_fd, const char *path,
    const char **error_r)
{
	struct hmap *idx;
	bool counted = false;
	size_t i, keep;

	memset(d, 0, sizeof(*d));
	d->dir_fd = dir_fd;
	if (str_copy(d->path, path, sizeof(d->path)) == -1) {
		*error_r = "mailbox path too long";
		return -1;
	}
	if (list_dir(d, "cur", false) == -1 || list_dir(d, "new", true) == -1) {
		*error_r = strerror(errno);
		maildrop_free(d);
		return -1;
	}
	/* qsort(NULL, 0, ...) is undefined: an empty Maildir has no array. */
	if (d->n > 1)
		qsort(d->v, d->n, sizeof(*d->v), cmp_msg);
	idx = hmap_new();
	load_index(dir_fd, path, idx);
	for (i = keep = 0; i < d->n; i++) {
		if ((keep > 0 && same_message(d->v[keep - 1].file,
		    d->v[i].file)) ||
		    msg_size(d, &d->v[i], idx, &counted) == -1) {
			/* Listed twice, or vanished since the listing. */
			free(d->v[i].file);
			continue;
		}
		make_uidl(d->v[i].file, d->v[i].uidl);
		d->total += d->v[i].size;
		d->v[keep++] = d->v[i];
	}
	d->n = keep;
	hmap_free(&idx, NULL);
	if (counted)
		save_index(d);
	return 0;
}

void
maildrop_free(struct maildrop *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->v[i].file);
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

unsigned
maildrop_commit(struct maildrop *d)
{
	char file[1400], dir[1100];
	unsigned failed = 0;
	bool removed[2] = { false, false };	/* cur/, new/ */
	size_t i;
	int k;

	for (i = 0; i < d->n; i++) {
		if (!d->v[i].deleted)
			continue;
		msg_path(d, &d->v[i], file, sizeof(file));
		k = unlinkat(d->dir_fd, file, 0);
		/* An IMAP session may have moved it (new/ to cur/, flags). */
		if (k == -1 && errno == ENOENT && mailbox_file_find(d->dir_fd,
		    d->path, d->v[i].file, file, sizeof(file)) == 1) {
			k = unlinkat(d->dir_fd, file, 0);
			if (k == 0)
				removed[0] = true;	/* cur/ */
		}
		if (k == -1 && errno != ENOENT) {
			log_warn("maildir %s: cannot delete %s: %s", d->path,
			    d->v[i].file, strerror(errno));
			failed++;
		} else {
			removed[d->v[i].in_new] = true;
		}
	}
	for (k = 0; k < 2; k++) {
		if (!removed[k])
			continue;
		(void)str_fmt(dir, sizeof(dir), "%s/%s", d->path,
		    k ? "new" : "cur");
		if (fs_fsync_dir_at(d->dir_fd, dir) == -1) {
			log_warn("maildir %s: fsync: %s", dir,
			    strerror(errno));
			failed++;
		}
	}
	return failed;
}

/* ---- streaming ---- */

int
pop3_stream_open(struct pop3_stream *st, const struct maildrop *d,
    const struct pop3_msg *m, long top_lines)
{
	char file[1400];

	memset(st, 0, sizeof(*st));
	msg_path(d, m, file, sizeof(file));
	st->fd = openat(d->dir_fd, file, O_RDONLY | O_CLOEXEC);
	/* Moved meanwhile by an IMAP session: look for it again. */
	if (st->fd == -1 && errno == ENOENT && mailbox_file_find(d->dir_fd,
	    d->path, m->file, file, sizeof(file)) == 1)
		st->fd = openat(d->dir_fd, file, O_RDONLY | O_CLOEXEC);
	if (st->fd == -1)
		return -1;
	st->bol = true;
	st->in_headers = true;
	st->body_lines = top_lines;
	return 0;
}

void
pop3_stream_close(struct pop3_stream *st)
{
	if (st->fd != -1)
		(void)close(st->fd);
	st->fd = -1;
}

static void
finish(struct pop3_stream *st, struct evbuffer *out)
{
	if (!st->bol)
		(void)evbuffer_add(out, "\r\n", 2);
	(void)evbuffer_add(out, ".\r\n", 3);
	st->done = true;
	pop3_stream_close(st);
}

/* Converts one chunk of N octets at P into O (room for 2 * N + 2): LF
   to CRLF, dot-stuffing, TOP's line count. Returns the octets written;
   *MORE is false when TOP has sent enough. Output is built here and
   committed once per chunk: a call into the evbuffer per line would
   cost more than the conversion. */
static size_t
convert(struct pop3_stream *st, char *o, const char *p, size_t n,
    bool *more)
{
	size_t i = 0, w = 0;

	*more = true;
	while (i < n) {
		const char *lf = memchr(p + i, '\n', n - i);
		size_t seg = (lf != NULL ? (size_t)(lf - p) : n) - i;

		if (st->bol && seg > 0 && p[i] == '.')
			o[w++] = '.';		/* stuffing */
		if (seg > 0) {
			memcpy(o + w, p + i, seg);
			w += seg;
			st->prev_cr = p[i + seg - 1] == '\r';
			st->bol = false;
			st->line_len += seg;
		}
		i += seg;
		if (lf == NULL)
			break;
		if (!(st->prev_cr && st->line_len > 0))
			o[w++] = '\r';
		o[w++] = '\n';
		i++;
		if (st->in_headers && (st->line_len == 0 ||
		    (st->line_len == 1 && st->prev_cr)))
			st->in_headers = false;
		else if (!st->in_headers && st->body_lines > 0)
			st->body_lines--;
		st->bol = true;
		st->prev_cr = false;
		st->line_len = 0;
		if (!st->in_headers && st->body_lines == 0) {
			*more = false;
			break;
		}
	}
	return w;
}

int
pop3_stream_fill(struct pop3_stream *st, struct evbuffer *out, size_t want)
{
	char buf[CHUNK];
	struct evbuffer_iovec v;
	size_t start = evbuffer_get_length(out);
	ssize_t n;
	bool more;

	if (st->done)
		return 1;
	if (st->body_lines == 0 && !st->in_headers) {
		finish(st, out);
		return 1;
	}
	while (evbuffer_get_length(out) - start < want) {
		n = read(st->fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			finish(st, out);
			return 1;
		}
		/* At most every octet doubled (LF to CRLF, "." to ".."). */
		if (evbuffer_reserve_space(out, 2 * (size_t)n + 2, &v, 1) < 1)
			return -1;
		v.iov_len = convert(st, v.iov_base, buf, (size_t)n, &more);
		if (evbuffer_commit_space(out, &v, 1) == -1)
			return -1;
		if (!more) {
			finish(st, out);
			return 1;
		}
	}
	return 0;
}
