/*
 * queue_file.c - the queue file format, its durable writer and its
 * strict reader.
 *
 *   "POPGATEQ" '1' '\n'                       10-octet header
 *   record*: type (1 octet), length (8 octets, big-endian), data
 *   'Z' record: SHA-256 of every octet before it; nothing may follow.
 *
 * Envelope records come first, the message ('M') last but one. The state
 * file (queue/state/ID) is text, one line per recipient:
 *   INDEX STATE NEXT_TRY ATTEMPTS<TAB>LAST_ERROR
 * plus an optional "warned TIME" line.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "queue/queue.h"
#include "util/fsutil.h"
#include "util/spool.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define MAGIC		"POPGATEQ1\n"
#define MAGIC_LEN	10
#define REC_HDR		9

enum rec_type {
	REC_ID = 'I',
	REC_TIME = 'T',
	REC_SENDER = 'S',
	REC_RCPT = 'R',
	REC_ORCPT = 'O',	/* for the preceding R */
	REC_NOTIFY = 'N',	/* for the preceding R */
	REC_AUTH = 'A',
	REC_CLIENT = 'C',
	REC_FLAGS = 'F',
	REC_ENVID = 'E',
	REC_RET = 'X',
	REC_LINES = 'L',
	REC_MESSAGE = 'M',
	REC_END = 'Z',
};

void
queue_env_init(struct queue_env *e)
{
	memset(e, 0, sizeof(*e));
}

void
queue_env_free(struct queue_env *e)
{
	free(e->rcpts);
	e->rcpts = NULL;
	e->nrcpts = 0;
}

struct queue_rcpt *
queue_env_add_rcpt(struct queue_env *e, const char *address)
{
	struct queue_rcpt *r;

	e->rcpts = xreallocarray(e->rcpts, e->nrcpts + 1, sizeof(*e->rcpts));
	r = &e->rcpts[e->nrcpts++];
	memset(r, 0, sizeof(*r));
	(void)str_copy(r->address, address, sizeof(r->address));
	return r;
}

int
queue_init_dirs(const char **error_r)
{
	static const char *const dirs[] = { QUEUE_DIR "/tmp",
		QUEUE_DIR "/msg", QUEUE_DIR "/state" };
	size_t i;

	for (i = 0; i < nitems(dirs); i++) {
		if (fs_mkdir_p(dirs[i], 0700, true) == -1) {
			*error_r = strerror(errno);
			return -1;
		}
	}
	return 0;
}

void
queue_msg_path(const char *id, char *out, size_t outsz)
{
	(void)str_fmt(out, outsz, QUEUE_DIR "/msg/%s", id);
}

static void
state_path(const char *id, char *out, size_t outsz)
{
	(void)str_fmt(out, outsz, QUEUE_DIR "/state/%s", id);
}

/* ---- writer ---- */

/* Records are gathered in BUF and written 64 KiB at a time: a write(2)
   per record would be some thirty calls for a small message. */
struct writer {
	int		 fd;
	EVP_MD_CTX	*md;
	int		 err;
	size_t		 used;
	unsigned char	 buf[64 * 1024];
};

static void
w_flush(struct writer *w)
{
	if (w->err == 0 && w->used > 0 &&
	    fs_write_all(w->fd, w->buf, w->used) == -1)
		w->err = errno;
	w->used = 0;
}

/* Octets for the file, outside the checksum. */
static void
w_out(struct writer *w, const void *p, size_t n)
{
	if (w->err != 0 || n == 0)
		return;
	if (n > sizeof(w->buf) - w->used) {
		w_flush(w);
		if (n > sizeof(w->buf)) {
			if (w->err == 0 && fs_write_all(w->fd, p, n) == -1)
				w->err = errno;
			return;
		}
	}
	memcpy(w->buf + w->used, p, n);
	w->used += n;
}

static void
w_raw(struct writer *w, const void *p, size_t n)
{
	if (w->err != 0)
		return;
	if (EVP_DigestUpdate(w->md, p, n) != 1)
		w->err = EIO;
	w_out(w, p, n);
}

static void
w_hdr(struct writer *w, char type, uint64_t len)
{
	unsigned char h[REC_HDR];
	int i;

	h[0] = (unsigned char)type;
	for (i = 0; i < 8; i++)
		h[1 + i] = (unsigned char)(len >> (56 - 8 * i));
	w_raw(w, h, sizeof(h));
}

static void
w_str(struct writer *w, char type, const char *s)
{
	w_hdr(w, type, strlen(s));
	w_raw(w, s, strlen(s));
}

static void
w_env(struct writer *w, const struct queue_env *e)
{
	char num[32];
	size_t i;

	w_str(w, REC_ID, e->id);
	(void)str_fmt(num, sizeof(num), "%lld", (long long)e->arrival);
	w_str(w, REC_TIME, num);
	w_str(w, REC_SENDER, e->sender);
	for (i = 0; i < e->nrcpts; i++) {
		w_str(w, REC_RCPT, e->rcpts[i].address);
		if (e->rcpts[i].orcpt[0] != '\0')
			w_str(w, REC_ORCPT, e->rcpts[i].orcpt);
		if (e->rcpts[i].notify[0] != '\0')
			w_str(w, REC_NOTIFY, e->rcpts[i].notify);
	}
	w_str(w, REC_AUTH, e->auth);
	w_str(w, REC_CLIENT, e->client);
	(void)str_fmt(num, sizeof(num), "%s%s%s", e->body8bit ? "8" : "",
	    e->smtputf8 ? "U" : "", e->is_bounce ? "B" : "");
	w_str(w, REC_FLAGS, num);
	w_str(w, REC_ENVID, e->envid);
	w_str(w, REC_RET, e->ret);
	(void)str_fmt(num, sizeof(num), "%llu", (unsigned long long)e->lines);
	w_str(w, REC_LINES, num);
}

static void
w_body(struct writer *w, const char *prefix, size_t plen,
    const struct spool *body)
{
	char chunk[65536];
	uint64_t off = 0;

	w_hdr(w, REC_MESSAGE, plen + body->len);
	w_raw(w, prefix, plen);
	if (body->fd == -1) {
		w_raw(w, body->mem.data, body->len);
		return;
	}
	while (off < body->len && w->err == 0) {
		size_t n = body->len - off > sizeof(chunk) ? sizeof(chunk) :
		    (size_t)(body->len - off);

		if (spool_read(body, off, chunk, n) == -1)
			w->err = errno;
		else
			w_raw(w, chunk, n);
		off += n;
	}
}

int
queue_write(struct queue_env *e, const char *prefix, size_t plen,
    const struct spool *body, const char **error_r)
{
	char tmp[128], dst[128];
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned sumlen = 0;
	struct writer *w = xcalloc(1, sizeof(*w));	/* 64 KiB */
	int tries, err;

	w->fd = -1;
	for (tries = 0; tries < 5 && w->fd == -1; tries++) {
		/* The id the client was told (and Received: names), unless
		   it is taken. */
		if (tries > 0 || e->id[0] == '\0')
			ids_new(e->id);
		(void)str_fmt(tmp, sizeof(tmp), QUEUE_DIR "/tmp/%s", e->id);
		queue_msg_path(e->id, dst, sizeof(dst));
		if (access(dst, F_OK) == 0)
			continue;
		w->fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (w->fd == -1 && errno != EEXIST) {
			err = errno;
			free(w);
			errno = err;
			*error_r = strerror(err);
			return -1;
		}
	}
	if (w->fd == -1) {
		free(w);
		errno = EEXIST;
		*error_r = "no free queue id";
		return -1;
	}
	w->md = EVP_MD_CTX_new();
	if (w->md == NULL || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1)
		w->err = ENOMEM;
	w_raw(w, MAGIC, MAGIC_LEN);
	w_env(w, e);
	w_body(w, prefix, plen, body);
	if (w->err == 0 && EVP_DigestFinal_ex(w->md, sum, &sumlen) != 1)
		w->err = EIO;
	if (w->err == 0) {
		/* The END record is not part of its own checksum. */
		unsigned char h[REC_HDR] = { REC_END, 0, 0, 0, 0, 0, 0, 0, 32 };

		w_out(w, h, sizeof(h));
		w_out(w, sum, sumlen);
	}
	w_flush(w);
	EVP_MD_CTX_free(w->md);
	if (w->err == 0 && fsync(w->fd) == -1)
		w->err = errno;
	if (close(w->fd) == -1 && w->err == 0)
		w->err = errno;
	if (w->err == 0 && rename(tmp, dst) == -1)
		w->err = errno;
	if (w->err == 0 && fs_fsync_dir_shared(QUEUE_DIR "/msg") == -1)
		w->err = errno;
	err = w->err;
	free(w);
	if (err != 0) {
		(void)unlink(tmp);
		(void)unlink(dst);
		errno = err;
		*error_r = strerror(err);
		return -1;
	}
	return 0;
}

/* ---- reader ---- */

static int
copy_field(char *dst, size_t dstsz, const unsigned char *p, uint64_t n)
{
	if (n >= dstsz || memchr(p, '\0', (size_t)n) != NULL ||
	    memchr(p, '\n', (size_t)n) != NULL)
		return -1;
	memcpy(dst, p, (size_t)n);
	dst[n] = '\0';
	return 0;
}

static int
parse_record(struct queue_env *e, int type, const unsigned char *p,
    uint64_t n)
{
	struct queue_rcpt *last = e->nrcpts > 0 ? &e->rcpts[e->nrcpts - 1] :
	    NULL;
	char num[32];
	uint64_t v;

	switch (type) {
	case REC_ID:
		return copy_field(e->id, sizeof(e->id), p, n);
	case REC_TIME:
		if (copy_field(num, sizeof(num), p, n) == -1 ||
		    str_to_uint(num, 0, INT64_MAX, &v) == -1)
			return -1;
		e->arrival = (time_t)v;
		return 0;
	case REC_SENDER:
		return copy_field(e->sender, sizeof(e->sender), p, n);
	case REC_RCPT:
		last = queue_env_add_rcpt(e, "");
		return copy_field(last->address, sizeof(last->address), p, n);
	case REC_ORCPT:
		return last == NULL ? -1 :
		    copy_field(last->orcpt, sizeof(last->orcpt), p, n);
	case REC_NOTIFY:
		return last == NULL ? -1 :
		    copy_field(last->notify, sizeof(last->notify), p, n);
	case REC_AUTH:
		return copy_field(e->auth, sizeof(e->auth), p, n);
	case REC_CLIENT:
		return copy_field(e->client, sizeof(e->client), p, n);
	case REC_FLAGS:
		if (copy_field(num, sizeof(num), p, n) == -1)
			return -1;
		e->body8bit = strchr(num, '8') != NULL;
		e->smtputf8 = strchr(num, 'U') != NULL;
		e->is_bounce = strchr(num, 'B') != NULL;
		return 0;
	case REC_ENVID:
		return copy_field(e->envid, sizeof(e->envid), p, n);
	case REC_RET:
		return copy_field(e->ret, sizeof(e->ret), p, n);
	case REC_LINES:
		if (copy_field(num, sizeof(num), p, n) == -1 ||
		    str_to_uint(num, 0, UINT64_MAX, &v) == -1)
			return -1;
		e->lines = v;
		return 0;
	default:
		return -1;
	}
}

/* The envelope records of DATA (the file up to its message record). */
static int
parse_envelope(struct queue_env *e, const unsigned char *data, size_t len,
    const char **error_r)
{
	size_t off = MAGIC_LEN;

	if (len < MAGIC_LEN || memcmp(data, MAGIC, MAGIC_LEN) != 0) {
		*error_r = "not a queue file (bad header)";
		return -1;
	}
	while (off + REC_HDR <= len) {
		uint64_t n = 0;
		int i;

		for (i = 0; i < 8; i++)
			n = (n << 8) | data[off + 1 + i];
		if (n > len - off - REC_HDR) {
			*error_r = "truncated record";
			return -1;
		}
		if (data[off] == REC_MESSAGE || data[off] == REC_END) {
			*error_r = "bad record order";
			return -1;
		}
		if (parse_record(e, data[off], data + off + REC_HDR, n) == -1) {
			*error_r = "bad envelope record";
			return -1;
		}
		off += REC_HDR + (size_t)n;
	}
	if (off != len || e->id[0] == '\0' || e->nrcpts == 0) {
		*error_r = "envelope incomplete";
		return -1;
	}
	return 0;
}

int
queue_parse(const unsigned char *data, size_t len, struct queue_env *e,
    uint64_t *body_off, uint64_t *body_len, const char **error_r)
{
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned sumlen = 0;
	size_t off = MAGIC_LEN;
	bool have_body = false;

	queue_env_init(e);
	if (len < MAGIC_LEN || memcmp(data, MAGIC, MAGIC_LEN) != 0) {
		*error_r = "not a queue file (bad header)";
		return -1;
	}
	while (off + REC_HDR <= len) {
		int type = data[off];
		uint64_t n = 0;
		int i;

		for (i = 0; i < 8; i++)
			n = (n << 8) | data[off + 1 + i];
		if (n > len - off - REC_HDR) {
			*error_r = "truncated record";
			goto fail;
		}
		if (type == REC_END) {
			if (n != 32 || off + REC_HDR + n != len || !have_body) {
				*error_r = "bad END record";
				goto fail;
			}
			if (EVP_Digest(data, off, sum, &sumlen, EVP_sha256(),
			    NULL) != 1 || sumlen != 32 ||
			    memcmp(sum, data + off + REC_HDR, 32) != 0) {
				*error_r = "checksum mismatch";
				goto fail;
			}
			if (e->id[0] == '\0' || e->nrcpts == 0) {
				*error_r = "envelope incomplete";
				goto fail;
			}
			return 0;
		}
		if (have_body) {
			*error_r = "record after the message";
			goto fail;
		}
		if (type == REC_MESSAGE) {
			have_body = true;
			*body_off = off + REC_HDR;
			*body_len = n;
		} else if (parse_record(e, type, data + off + REC_HDR, n) ==
		    -1) {
			*error_r = "bad envelope record";
			goto fail;
		}
		off += REC_HDR + (size_t)n;
	}
	*error_r = "no END record (incomplete file)";
fail:
	queue_env_free(e);
	return -1;
}

static const char *const state_names[] = { "pending", "deferred",
	"delivered", "bounced" };

void
queue_state_parse(struct queue_env *e, char *text)
{
	char *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char st[16], *tab = strchr(line, '\t');
		unsigned long long idx, next, att;
		size_t k;

		if (sscanf(line, "warned %llu", &next) == 1) {
			e->warned = (time_t)next;
			continue;
		}
		if (sscanf(line, "%llu %15s %llu %llu", &idx, st, &next,
		    &att) != 4 || idx >= e->nrcpts)
			continue;
		for (k = 0; k < nitems(state_names); k++)
			if (strcmp(st, state_names[k]) == 0)
				e->rcpts[idx].state = (enum queue_rstate)k;
		e->rcpts[idx].next_try = (time_t)next;
		e->rcpts[idx].attempts = (unsigned)att;
		if (tab != NULL)
			(void)str_copy(e->rcpts[idx].last_error, tab + 1,
			    sizeof(e->rcpts[idx].last_error));
	}
}

/* Applies the state file, if any, to E. */
static int
read_state(struct queue_env *e)
{
	char path[128];
	struct buf b;

	state_path(e->id, path, sizeof(path));
	buf_init(&b, 4 * 1024 * 1024);
	if (fs_read_file(path, &b) == -1) {
		buf_free(&b);
		return errno == ENOENT ? 0 : -1;
	}
	if (b.len > 0)
		queue_state_parse(e, b.data);
	buf_free(&b);
	return 0;
}

int
queue_read(const char *id, struct queue_env *e, uint64_t *body_off,
    uint64_t *body_len, const char **error_r)
{
	char path[128];
	struct buf b;
	int r;

	queue_msg_path(id, path, sizeof(path));
	buf_init(&b, BUF_UNLIMITED);
	if (fs_read_file(path, &b) == -1) {
		buf_free(&b);
		if (errno == ENOENT) {
			queue_env_init(e);
			return 0;
		}
		*error_r = strerror(errno);
		return -1;
	}
	r = queue_parse((const unsigned char *)b.data, b.len, e, body_off,
	    body_len, error_r);
	buf_free(&b);
	if (r == -1)
		return -1;
	if (strcmp(e->id, id) != 0) {
		*error_r = "file name and queue id differ";
		queue_env_free(e);
		return -1;
	}
	if (read_state(e) == -1) {
		*error_r = strerror(errno);
		queue_env_free(e);
		return -1;
	}
	return 1;
}

/* Reads exactly N octets at OFF. */
static int
pread_all(int fd, void *p, size_t n, uint64_t off)
{
	char *c = p;

	while (n > 0) {
		ssize_t r = pread(fd, c, n, (off_t)off);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		c += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* N octets at OFF: from HEAD (the file's first HEADLEN octets, read
   once) when they lie there, else from the file. */
static int
read_at(int fd, const unsigned char *head, size_t headlen, void *p,
    size_t n, uint64_t off)
{
	if (off + n <= headlen) {
		memcpy(p, head + off, n);
		return 0;
	}
	return pread_all(fd, p, n, off);
}

int
queue_open(const char *id, struct queue_env *e, int *fd_r,
    uint64_t *body_off, uint64_t *body_len, const char **error_r)
{
	unsigned char hdr[REC_HDR], sum[EVP_MAX_MD_SIZE], want[32];
	unsigned char chunk[65536];
	char path[128];
	struct buf env;
	struct stat st;
	uint64_t off = MAGIC_LEN, end, n = 0, pos;
	size_t headlen;
	unsigned sumlen = 0;
	EVP_MD_CTX *md = NULL;
	int fd, i, r = -1;

	queue_env_init(e);
	queue_msg_path(id, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		*error_r = strerror(errno);
		return -1;
	}
	buf_init(&env, 16 * 1024 * 1024);
	if (fstat(fd, &st) == -1) {
		*error_r = strerror(errno);
		goto out;
	}
	end = (uint64_t)st.st_size;
	/* One read for the envelope, and all of a small message. */
	headlen = end < sizeof(chunk) ? (size_t)end : sizeof(chunk);
	if (pread_all(fd, chunk, headlen, 0) == -1) {
		*error_r = "truncated queue file";
		goto out;
	}
	/* Walk the record headers up to the message. */
	for (;;) {
		if (off + REC_HDR > end || read_at(fd, chunk, headlen, hdr,
		    REC_HDR, off) == -1) {
			*error_r = "truncated queue file";
			goto out;
		}
		for (n = 0, i = 0; i < 8; i++)
			n = (n << 8) | hdr[1 + i];
		if (n > end - off - REC_HDR) {
			*error_r = "truncated record";
			goto out;
		}
		if (hdr[0] == REC_MESSAGE)
			break;
		off += REC_HDR + n;
		if (off > 16 * 1024 * 1024) {
			*error_r = "envelope too large";
			goto out;
		}
	}
	*body_off = off + REC_HDR;
	*body_len = n;
	/* The END record follows the message: check it, then the sum. */
	pos = off + REC_HDR + n;
	if (pos + REC_HDR + 32 != end || read_at(fd, chunk, headlen, hdr,
	    REC_HDR, pos) == -1 || hdr[0] != REC_END || read_at(fd, chunk,
	    headlen, want, 32, pos + REC_HDR) == -1) {
		*error_r = "no END record (incomplete file)";
		goto out;
	}
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		*error_r = "out of memory";
		goto out;
	}
	for (off = 0; off < pos; off += n) {
		n = pos - off > sizeof(chunk) ? sizeof(chunk) : pos - off;
		/* The first chunk is in hand already. */
		if ((off != 0 || n > headlen) &&
		    pread_all(fd, chunk, (size_t)n, off) == -1) {
			*error_r = strerror(errno);
			goto out;
		}
		if (EVP_DigestUpdate(md, chunk, (size_t)n) != 1) {
			*error_r = strerror(errno);
			goto out;
		}
		/* Keep the envelope records (up to the message's record
		   header) for parsing. */
		if (off < *body_off - REC_HDR && buf_append(&env, chunk,
		    (size_t)(*body_off - REC_HDR - off < n ?
		    *body_off - REC_HDR - off : n)) == -1) {
			*error_r = "envelope too large";
			goto out;
		}
	}
	if (EVP_DigestFinal_ex(md, sum, &sumlen) != 1 || sumlen != 32 ||
	    memcmp(sum, want, 32) != 0) {
		*error_r = "checksum mismatch";
		goto out;
	}
	r = parse_envelope(e, (const unsigned char *)env.data, env.len,
	    error_r);
	if (r == 0 && strcmp(e->id, id) != 0) {
		*error_r = "file name and queue id differ";
		r = -1;
	}
	if (r == 0 && read_state(e) == -1) {
		*error_r = strerror(errno);
		r = -1;
	}
	if (r == 0) {
		*fd_r = fd;
		fd = -1;
		r = 1;
	} else {
		queue_env_free(e);
		r = -1;
	}
out:
	EVP_MD_CTX_free(md);
	buf_free(&env);
	if (fd != -1)
		(void)close(fd);
	return r;
}

int
queue_write_state(const struct queue_env *e)
{
	char path[128];
	struct buf b;
	size_t i;
	int r;

	state_path(e->id, path, sizeof(path));
	buf_init(&b, BUF_UNLIMITED);
	if (e->warned != 0)
		(void)buf_printf(&b, "warned %lld\n", (long long)e->warned);
	for (i = 0; i < e->nrcpts; i++) {
		const struct queue_rcpt *r0 = &e->rcpts[i];
		size_t k;

		(void)buf_printf(&b, "%zu %s %lld %u\t", i,
		    state_names[r0->state], (long long)r0->next_try,
		    r0->attempts);
		for (k = 0; r0->last_error[k] != '\0'; k++)
			(void)buf_putc(&b, r0->last_error[k] == '\n' ? ' ' :
			    r0->last_error[k]);
		(void)buf_putc(&b, '\n');
	}
	r = fs_write_atomic(path, buf_cstr(&b), b.len, 0600);
	buf_free(&b);
	return r;
}

int
queue_remove_done(const char *id)
{
	char path[128];

	state_path(id, path, sizeof(path));
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	queue_msg_path(id, path, sizeof(path));
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

int
queue_remove(const char *id)
{
	if (queue_remove_done(id) == -1)
		return -1;
	return fs_fsync_dir_shared(QUEUE_DIR "/msg");
}

int
queue_scan(void (*fn)(const char *, void *), void *arg)
{
	DIR *d = opendir(QUEUE_DIR "/msg");
	struct dirent *de;

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) == ID_LEN &&
		    strspn(de->d_name, "0123456789abcdef") == ID_LEN)
			fn(de->d_name, arg);
	}
	return closedir(d);
}
