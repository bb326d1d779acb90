/*
 * queue_file.c - the queue file format, its durable writer and its
 * strict reader.
 *
 *   "POPGATEQ" '1' '\n'                       10-octet header
 *   record*: type (1 octet), length (8 octets, big-endian), data
 *   'Z' record: SHA-256 of every octet before it; nothing may follow.
 *
 * Envelope records come first, the message ('M') last but one. An 'H'
 * record (empty) after an 'R' makes that recipient a hosted mailbox of
 * this host, delivered into its Maildir by the queue manager (a copy
 * that found the mailbox full); files written before 'H' existed have
 * none and read as before (every recipient remote). A 'V' record after
 * the sender 'S' is the sender's SRS address (policy_srs.c), the MAIL
 * FROM toward remote recipients; a file without one is sent from 'S',
 * as before. The state file
 * (queue/state/ID: recipient states, the hold) is queue_state.c's.
 */
#include <errno.h>
#include <limits.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "queue/queue_int.h"
#include "util/clock.h"
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
	REC_SRS_SENDER = 'V',	/* MAIL FROM for the remote recipients */
	REC_RCPT = 'R',
	REC_ORCPT = 'O',	/* for the preceding R */
	REC_NOTIFY = 'N',	/* for the preceding R */
	REC_HOSTED = 'H',	/* the preceding R is a local mailbox */
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

bool
queue_id_ok(const char *id)
{
	return strlen(id) == ID_LEN &&
	    strspn(id, "0123456789abcdef") == ID_LEN;
}

struct queue *
queue_new(int data_fd, const char **error_r)
{
	static const char *const dirs[] = { QUEUE_DIR "/tmp",
		QUEUE_DIR "/msg", QUEUE_DIR "/state" };
	struct queue *q = xcalloc(1, sizeof(*q));
	int *fds[3];
	size_t i;

	fds[0] = &q->tmp_fd;
	fds[1] = &q->msg_fd;
	fds[2] = &q->state_fd;
	q->tmp_fd = q->msg_fd = q->state_fd = -1;
	for (i = 0; i < nitems(dirs); i++) {
		if (fs_mkdir_p_at(data_fd, dirs[i], 0700, true) == -1 ||
		    (*fds[i] = fs_open_dir(data_fd, dirs[i])) == -1) {
			*error_r = strerror(errno);
			queue_free(&q);
			return NULL;
		}
	}
	return q;
}

void
queue_free(struct queue **qp)
{
	struct queue *q = *qp;

	if (q == NULL)
		return;
	if (q->tmp_fd != -1)
		(void)close(q->tmp_fd);
	if (q->msg_fd != -1)
		(void)close(q->msg_fd);
	if (q->state_fd != -1)
		(void)close(q->state_fd);
	free(q);
	*qp = NULL;
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
	char num[32], notify[DSN_NOTIFY_SZ];
	size_t i;

	w_str(w, REC_ID, e->id);
	(void)str_fmt(num, sizeof(num), "%lld", (long long)e->arrival);
	w_str(w, REC_TIME, num);
	w_str(w, REC_SENDER, e->sender);
	if (e->srs_sender[0] != '\0')
		w_str(w, REC_SRS_SENDER, e->srs_sender);
	for (i = 0; i < e->nrcpts; i++) {
		w_str(w, REC_RCPT, e->rcpts[i].address);
		if (e->rcpts[i].orcpt[0] != '\0')
			w_str(w, REC_ORCPT, e->rcpts[i].orcpt);
		if (e->rcpts[i].notify != 0) {
			dsn_notify_format(e->rcpts[i].notify, notify,
			    sizeof(notify));
			w_str(w, REC_NOTIFY, notify);
		}
		if (e->rcpts[i].local)
			w_hdr(w, REC_HOSTED, 0);
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

static int
w_chunk(void *arg, const void *p, size_t n)
{
	struct writer *w = arg;

	w_raw(w, p, n);
	if (w->err != 0) {
		errno = w->err;
		return -1;
	}
	return 0;
}

static void
w_body(struct writer *w, const char *prefix, size_t plen,
    const struct spool *body)
{
	w_hdr(w, REC_MESSAGE, plen + body->len);
	w_raw(w, prefix, plen);
	if (w->err == 0 && spool_copy(body, w_chunk, w) == -1 && w->err == 0)
		w->err = errno != 0 ? errno : EIO;
}

/* A new file in queue/tmp for E, under the id the client was told (and
   Received: names) unless it is taken. The descriptor, or -1. A state
   file without its message (a held message's write cut short by a
   crash) takes its id too: a new message must not inherit it. */
static int
create_tmp(struct queue *q, struct queue_env *e, const char **error_r)
{
	int tries, fd;

	for (tries = 0; tries < 5; tries++) {
		if (tries > 0 || e->id[0] == '\0')
			ids_new(e->id);
		if (faccessat(q->msg_fd, e->id, F_OK, 0) == 0 ||
		    faccessat(q->state_fd, e->id, F_OK, 0) == 0)
			continue;
		fd = openat(q->tmp_fd, e->id, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
		if (fd != -1)
			return fd;
		if (errno != EEXIST) {
			*error_r = strerror(errno);
			return -1;
		}
	}
	errno = EEXIST;
	*error_r = "no free queue id";
	return -1;
}

/* The records of E and the message through W, then the END record. */
static void
w_file(struct writer *w, const struct queue_env *e, const char *prefix,
    size_t plen, const struct spool *body)
{
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned sumlen = 0;

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
	w->md = NULL;
}

int
queue_write(struct queue *q, struct queue_env *e, const char *prefix,
    size_t plen, const struct spool *body, const char **error_r)
{
	struct writer *w;
	bool held = queue_env_held(e);
	int fd, err;

	if ((fd = create_tmp(q, e, error_r)) == -1)
		return -1;
	if (held && e->held_at == 0)
		e->held_at = clock_now();
	w = xcalloc(1, sizeof(*w));	/* 64 KiB */
	w->fd = fd;
	w_file(w, e, prefix, plen, body);
	if (w->err == 0 && fsync(w->fd) == -1)
		w->err = errno;
	if (close(w->fd) == -1 && w->err == 0)
		w->err = errno;
	/* A quarantine: the hold is on the disk before the message is in
	   msg/, where the queue manager finds it (at start-up, too). */
	if (w->err == 0 && held && queue_write_state(q, e) == -1)
		w->err = errno;
	if (w->err == 0 && renameat(q->tmp_fd, e->id, q->msg_fd, e->id) == -1)
		w->err = errno;
	if (w->err == 0 && fs_fsync_dir_shared_at(q->msg_fd, ".") == -1)
		w->err = errno;
	err = w->err;
	free(w);
	if (err != 0) {
		(void)unlinkat(q->tmp_fd, e->id, 0);
		(void)unlinkat(q->msg_fd, e->id, 0);
		if (held)
			(void)unlinkat(q->state_fd, e->id, 0);
		errno = err;
		*error_r = strerror(err);
		return -1;
	}
	return 0;
}

/* ---- reader ---- */

/*
 * One reader for every use - the delivery (queue_open), `popgate queue
 * list|show` (the same) and the fuzzer (queue_parse, an image in memory)
 * - with one strictness: the header, envelope records up to the message,
 * the message, the END record right after it and last, its SHA-256 over
 * everything before it, an id and a recipient. The octets come from a
 * source: the file's first HEADLEN octets in memory (one read holds the
 * envelope and all of a small message), the rest read where it lies.
 */
#define ENVELOPE_MAX	(16 * 1024 * 1024)
#define HEAD_MAX	(64 * 1024)
#define SUM_LEN		32

struct qsrc {
	int			 fd;	/* -1: the whole file is HEAD */
	const unsigned char	*head;
	size_t			 headlen;
	uint64_t		 size;
};

/* Where the records put the message and the END record. */
struct qlayout {
	uint64_t	body_off, body_len;
	uint64_t	end_off;	/* the checksum covers [0, end_off) */
	unsigned char	want[SUM_LEN];
};

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

/* N octets at OFF (within the file: the caller checked) into P. */
static int
src_read(const struct qsrc *s, void *p, size_t n, uint64_t off)
{
	if (off + n <= s->headlen) {
		memcpy(p, s->head + off, n);
		return 0;
	}
	if (s->fd == -1) {
		errno = EIO;
		return -1;
	}
	return pread_all(s->fd, p, n, off);
}

/* N octets at OFF: in the head, or read into *SCRATCH (malloc'ed,
   replaced on each call). */
static const unsigned char *
src_view(const struct qsrc *s, uint64_t off, size_t n,
    unsigned char **scratch)
{
	if (off + n <= s->headlen)
		return s->head + off;
	free(*scratch);
	*scratch = xmalloc(n > 0 ? n : 1);
	if (src_read(s, *scratch, n, off) == -1)
		return NULL;
	return *scratch;
}

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
parse_number(const unsigned char *p, uint64_t n, uint64_t max, uint64_t *v)
{
	return n > 20 ? -1 : str_to_uint_n((const char *)p, (size_t)n, 0,
	    max, v);
}

static int
parse_record(struct queue_env *e, int type, const unsigned char *p,
    uint64_t n)
{
	struct queue_rcpt *last = e->nrcpts > 0 ? &e->rcpts[e->nrcpts - 1] :
	    NULL;
	char flags[32];
	uint64_t v;

	switch (type) {
	case REC_ID:
		return copy_field(e->id, sizeof(e->id), p, n);
	case REC_TIME:
		if (parse_number(p, n, INT64_MAX, &v) == -1)
			return -1;
		e->arrival = (time_t)v;
		return 0;
	case REC_SENDER:
		return copy_field(e->sender, sizeof(e->sender), p, n);
	case REC_SRS_SENDER:
		return copy_field(e->srs_sender, sizeof(e->srs_sender), p, n);
	case REC_RCPT:
		last = queue_env_add_rcpt(e, "");
		return copy_field(last->address, sizeof(last->address), p, n);
	case REC_ORCPT:
		return last == NULL ? -1 :
		    copy_field(last->orcpt, sizeof(last->orcpt), p, n);
	case REC_NOTIFY:
		/* A value this version would not take (an older one kept
		   any) is "not given": the default notices, nothing lost. */
		if (last == NULL || last->notify != 0)
			return -1;
		if (dsn_notify_parse((const char *)p, (size_t)n,
		    &last->notify) == -1)
			last->notify = 0;
		return 0;
	case REC_HOSTED:
		if (last == NULL || n != 0 || last->local)
			return -1;
		last->local = true;
		return 0;
	case REC_AUTH:
		return copy_field(e->auth, sizeof(e->auth), p, n);
	case REC_CLIENT:
		return copy_field(e->client, sizeof(e->client), p, n);
	case REC_FLAGS:
		if (copy_field(flags, sizeof(flags), p, n) == -1)
			return -1;
		e->body8bit = strchr(flags, '8') != NULL;
		e->smtputf8 = strchr(flags, 'U') != NULL;
		e->is_bounce = strchr(flags, 'B') != NULL;
		return 0;
	case REC_ENVID:
		return copy_field(e->envid, sizeof(e->envid), p, n);
	case REC_RET:
		return copy_field(e->ret, sizeof(e->ret), p, n);
	case REC_LINES:
		if (parse_number(p, n, UINT64_MAX, &v) == -1)
			return -1;
		e->lines = v;
		return 0;
	default:
		return -1;
	}
}

/* The record header at OFF: 0 with its type and length (which fits the
   file), 1 when no header fits before the end, -1 (*ERROR_R). */
static int
read_hdr(const struct qsrc *s, uint64_t off, int *type_r, uint64_t *n_r,
    const char **error_r)
{
	unsigned char h[REC_HDR];
	uint64_t n = 0;
	int i;

	if (off + REC_HDR > s->size)
		return 1;
	if (src_read(s, h, sizeof(h), off) == -1) {
		*error_r = strerror(errno);
		return -1;
	}
	for (i = 0; i < 8; i++)
		n = (n << 8) | h[1 + i];
	if (n > s->size - off - REC_HDR) {
		*error_r = "truncated record";
		return -1;
	}
	*type_r = h[0];
	*n_r = n;
	return 0;
}

/* The envelope records after the header, into E, up to the message
   record, whose place goes into L. */
static int
read_envelope(const struct qsrc *s, struct queue_env *e, struct qlayout *l,
    const char **error_r)
{
	unsigned char magic[MAGIC_LEN];
	const unsigned char *p;
	unsigned char *scratch = NULL;
	uint64_t off = MAGIC_LEN, n;
	int type, r = -1;

	if (s->size < MAGIC_LEN || src_read(s, magic, MAGIC_LEN, 0) == -1 ||
	    memcmp(magic, MAGIC, MAGIC_LEN) != 0) {
		*error_r = "not a queue file (bad header)";
		return -1;
	}
	for (;;) {
		if ((r = read_hdr(s, off, &type, &n, error_r)) != 0) {
			if (r == 1)
				*error_r = "no END record (incomplete file)";
			r = -1;
			break;
		}
		if (type == REC_MESSAGE) {
			l->body_off = off + REC_HDR;
			l->body_len = n;
			r = 0;
			break;
		}
		r = -1;
		if (type == REC_END) {
			*error_r = "bad END record";
			break;
		}
		if (off + REC_HDR + n > ENVELOPE_MAX) {
			*error_r = "envelope too large";
			break;
		}
		p = src_view(s, off + REC_HDR, (size_t)n, &scratch);
		if (p == NULL || parse_record(e, type, p, n) == -1) {
			*error_r = p == NULL ? strerror(errno) :
			    "bad envelope record";
			break;
		}
		off += REC_HDR + n;
	}
	free(scratch);
	return r;
}

/* The END record: right after the message, SUM_LEN octets, the last. */
static int
read_end(const struct qsrc *s, struct qlayout *l, const char **error_r)
{
	uint64_t off = l->body_off + l->body_len, n;
	int type, r;

	r = read_hdr(s, off, &type, &n, error_r);
	if (r == 1) {
		*error_r = "no END record (incomplete file)";
		return -1;
	}
	if (r == -1)
		return -1;
	if (type != REC_END) {
		*error_r = "record after the message";
		return -1;
	}
	if (n != SUM_LEN || off + REC_HDR + n != s->size) {
		*error_r = "bad END record";
		return -1;
	}
	if (src_read(s, l->want, SUM_LEN, off + REC_HDR) == -1) {
		*error_r = strerror(errno);
		return -1;
	}
	l->end_off = off;
	return 0;
}

/* The SHA-256 of [0, end_off), in one streaming pass. */
static int
check_sum(const struct qsrc *s, const struct qlayout *l,
    const char **error_r)
{
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned char *chunk = NULL;
	unsigned sumlen = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint64_t off = 0, n;
	int r = -1;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		*error_r = "out of memory";
		goto out;
	}
	n = l->end_off < s->headlen ? l->end_off : s->headlen;
	if (EVP_DigestUpdate(md, s->head, (size_t)n) != 1)
		goto fail_md;
	if (n < l->end_off)
		chunk = xmalloc(HEAD_MAX);
	for (off = n; off < l->end_off; off += n) {
		n = l->end_off - off > HEAD_MAX ? HEAD_MAX : l->end_off - off;
		if (src_read(s, chunk, (size_t)n, off) == -1) {
			*error_r = strerror(errno);
			goto out;
		}
		if (EVP_DigestUpdate(md, chunk, (size_t)n) != 1)
			goto fail_md;
	}
	if (EVP_DigestFinal_ex(md, sum, &sumlen) != 1)
		goto fail_md;
	if (sumlen != SUM_LEN || memcmp(sum, l->want, SUM_LEN) != 0) {
		*error_r = "checksum mismatch";
		goto out;
	}
	r = 0;
	goto out;
fail_md:
	*error_r = "cannot compute the checksum";
out:
	free(chunk);
	EVP_MD_CTX_free(md);
	return r;
}

/* The whole file of S into E and L. 0, or -1 (*ERROR_R; E freed). */
static int
read_file(const struct qsrc *s, struct queue_env *e, struct qlayout *l,
    const char **error_r)
{
	queue_env_init(e);
	if (read_envelope(s, e, l, error_r) == -1 ||
	    read_end(s, l, error_r) == -1 || check_sum(s, l, error_r) == -1)
		goto fail;
	if (e->id[0] == '\0' || e->nrcpts == 0) {
		*error_r = "envelope incomplete";
		goto fail;
	}
	return 0;
fail:
	queue_env_free(e);
	return -1;
}

int
queue_parse(const unsigned char *data, size_t len, struct queue_env *e,
    uint64_t *body_off, uint64_t *body_len, const char **error_r)
{
	struct qsrc s = { -1, data, len, len };
	struct qlayout l;

	if (read_file(&s, e, &l, error_r) == -1)
		return -1;
	*body_off = l.body_off;
	*body_len = l.body_len;
	return 0;
}

/* The open file FD of message ID, its first octets in HEAD, as a source. */
static int
open_src(int fd, unsigned char *head, struct qsrc *s, const char **error_r)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		*error_r = strerror(errno);
		return -1;
	}
	s->fd = fd;
	s->head = head;
	s->size = (uint64_t)st.st_size;
	s->headlen = s->size < HEAD_MAX ? (size_t)s->size : HEAD_MAX;
	if (pread_all(fd, head, s->headlen, 0) == -1) {
		*error_r = "truncated queue file";
		return -1;
	}
	return 0;
}

int
queue_open(struct queue *q, const char *id, struct queue_env *e, int *fd_r,
    uint64_t *body_off, uint64_t *body_len, const char **error_r)
{
	unsigned char *head;
	struct qsrc s;
	struct qlayout l;
	int fd, r = -1;

	queue_env_init(e);
	if (!queue_id_ok(id)) {
		*error_r = "bad queue id";
		return -1;
	}
	fd = openat(q->msg_fd, id, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		*error_r = strerror(errno);
		return -1;
	}
	head = xmalloc(HEAD_MAX);
	if (open_src(fd, head, &s, error_r) == -1 ||
	    read_file(&s, e, &l, error_r) == -1)
		goto out;
	r = 1;
	if (strcmp(e->id, id) != 0) {
		*error_r = "file name and queue id differ";
		r = -1;
	} else if (queue_state_read(q, e) == -1) {
		*error_r = strerror(errno);
		r = -1;
	}
	if (r == -1) {
		queue_env_free(e);
		goto out;
	}
	*fd_r = fd;
	fd = -1;
	*body_off = l.body_off;
	*body_len = l.body_len;
out:
	free(head);
	if (fd != -1)
		(void)close(fd);
	return r;
}

int
queue_remove_done(struct queue *q, const char *id)
{
	if (!queue_id_ok(id)) {
		errno = EINVAL;
		return -1;
	}
	if (unlinkat(q->state_fd, id, 0) == -1 && errno != ENOENT)
		return -1;
	if (unlinkat(q->msg_fd, id, 0) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

int
queue_remove(struct queue *q, const char *id)
{
	if (queue_remove_done(q, id) == -1)
		return -1;
	return fs_fsync_dir_shared_at(q->msg_fd, ".");
}

int
queue_exists(struct queue *q, const char *id)
{
	if (!queue_id_ok(id))
		return 0;
	if (faccessat(q->msg_fd, id, F_OK, 0) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

/* Calls FN for each name in the directory DIR_FD that is a queue id
   (with ALL, every name but dot-files). */
static int
scan_dir(int dir_fd, bool all, void (*fn)(const char *, void *), void *arg)
{
	struct dirent *de;
	DIR *d;
	int fd = fs_open_dir(dir_fd, ".");

	if (fd == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (all ? de->d_name[0] != '.' : queue_id_ok(de->d_name))
			fn(de->d_name, arg);
	return closedir(d);
}

int
queue_scan(struct queue *q, void (*fn)(const char *, void *), void *arg)
{
	return scan_dir(q->msg_fd, false, fn, arg);
}

struct clean_ctx {
	struct queue	*q;
	unsigned	 failed;
};

static void
clean_one(const char *id, void *arg)
{
	struct clean_ctx *c = arg;

	if (unlinkat(c->q->tmp_fd, id, 0) == -1 && errno != ENOENT)
		c->failed++;
}

int
queue_clean_tmp(struct queue *q)
{
	struct clean_ctx c = { q, 0 };

	if (scan_dir(q->tmp_fd, true, clean_one, &c) == -1)
		return -1;
	if (c.failed > 0) {
		errno = EIO;
		return -1;
	}
	return 0;
}
