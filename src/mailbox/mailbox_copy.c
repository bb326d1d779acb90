/*
 * mailbox_copy.c - messages entering a folder: APPEND (RFC 9051
 * 6.3.12) and COPY / MOVE (RFC 9051 6.4.7, RFC 6851), with the UIDPLUS
 * data (RFC 4315 APPENDUID, COPYUID).
 *
 * Durability, as for SMTP's 250 (STYLE.md 7): the file is complete and
 * fsynced in tmp/ before it is renamed into cur/, cur/ is fsynced, and
 * the index record that gives it its UID is synced before the caller
 * hears of it. The slow part (writing, linking into tmp/) runs outside
 * the folder lock; the rename into cur/ and the UID run inside it, so a
 * concurrent scan never adopts a file before its flags and keywords are
 * recorded. MOVE expunges the sources only once the copies are durable:
 * a crash in between leaves both, never neither.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailbox/mailbox_int.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/spool.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

/* One message on its way in. */
struct incoming {
	uint32_t	 src_uid;
	char		 tmp[MBX_PATH_MAX + 300];	/* in DEST's tmp/ */
	char		 name[NAME_MAX];	/* final name in cur/ */
	unsigned	 flags;
	uint64_t	 kw[2];		/* bits of the operation's names */
	uint64_t	 vsize;
	int64_t		 idate;
	unsigned char	*cache;
	uint32_t	 cache_len;
};

/* The keyword names the bits of an incoming message refer to. */
struct names {
	char		*v[MAILBOX_KEYWORDS_MAX];
	unsigned	 n;
};

static void
names_free(struct names *nm)
{
	unsigned i;

	for (i = 0; i < nm->n; i++)
		free(nm->v[i]);
	nm->n = 0;
}

/* Under DF's lock: renames IN into cur/ and gives it a UID. 0 or -1. */
static int
enter(struct mbx_folder *df, struct incoming *in, const struct names *nm,
    uint32_t *uid_r)
{
	char to[MBX_PATH_MAX + 300];
	struct mbx_msg m;
	unsigned i;
	int slot;

	if (df->uidnext == UINT32_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	if (str_fmt(to, sizeof(to), "%s/cur/%s", df->path, in->name) == -1 ||
	    renameat(df->dir_fd, in->tmp, df->dir_fd, to) == -1)
		return -1;
	in->tmp[0] = '\0';
	memset(&m, 0, sizeof(m));
	for (i = 0; i < nm->n; i++)
		if ((in->kw[i / 64] & (1ULL << (i % 64))) &&
		    (slot = mbx_folder_keyword(df, nm->v[i], true)) >= 0)
			m.kw[slot / 64] |= 1ULL << (slot % 64);
	m.uid = df->uidnext++;
	m.flags = (uint8_t)in->flags;
	m.modseq = ++df->highestmodseq;
	m.size = in->vsize;
	m.idate = in->idate;
	m.name = xstrdup(in->name);
	m.base_len = (uint16_t)mbx_base_len(in->name);
	m.cache = in->cache;
	m.cache_len = in->cache_len;
	in->cache = NULL;
	mbx_log_msg(df, mbx_folder_add(df, &m));
	*uid_r = m.uid;
	return 0;
}

/* Enters N messages into DF durably; their UIDs into UIDS (0: failed).
   Returns how many entered, -1 on a failure after which none counts. */
static int
enter_all(struct mbx_folder *df, struct incoming *in, size_t n,
    const struct names *nm, uint32_t *uids, struct mailbox_err *err)
{
	char cur[MBX_PATH_MAX + 8];
	size_t i, done = 0;
	bool was;

	(void)pthread_mutex_lock(&df->lock);
	if (df->gone) {
		(void)pthread_mutex_unlock(&df->lock);
		mbx_err(err, MAILBOX_ERR_NONEXISTENT, "the folder was deleted");
		return -1;
	}
	was = mbx_cur_begin(df);
	for (i = 0; i < n; i++) {
		uids[i] = 0;
		if (in[i].tmp[0] != '\0' && enter(df, &in[i], nm, &uids[i]) ==
		    0)
			done++;
	}
	if (done > 0 && (str_fmt(cur, sizeof(cur), "%s/cur", df->path) == -1 ||
	    fs_fsync_dir_at(df->dir_fd, cur) == -1)) {
		mbx_err(err, MAILBOX_ERR_TEMP, "%s: fsync: %s", df->path,
		    strerror(errno));
		(void)mbx_index_commit(df, true, NULL);
		(void)pthread_mutex_unlock(&df->lock);
		return -1;
	}
	mbx_cur_end(df, was);
	if (done > 0) {
		atomic_fetch_add(&df->changes, 1);
		if (mbx_index_commit(df, true, err) == -1) {
			(void)pthread_mutex_unlock(&df->lock);
			return -1;
		}
	}
	(void)pthread_mutex_unlock(&df->lock);
	return (int)done;
}

static void
incoming_drop(int dir_fd, struct incoming *in, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (in[i].tmp[0] != '\0')
			(void)unlinkat(dir_fd, in[i].tmp, 0);
		free(in[i].cache);
	}
	free(in);
}

/* ---- APPEND ---- */

/* LF line ends as delivery writes them; the CRLF size as FETCH counts. */
struct writer {
	int		 fd;
	bool		 cr;		/* a CR held back from the last chunk */
	bool		 prev_cr;	/* the last octet written was CR */
	unsigned char	 last;
	uint64_t	 size, vsize;
	unsigned char	 out[64 * 1024];
};

static int
emit(struct writer *w, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n' && !w->prev_cr)
			w->vsize++;
		w->prev_cr = p[i] == '\r';
	}
	if (n > 0)
		w->last = p[n - 1];
	w->size += n;
	w->vsize += n;
	return fs_write_all(w->fd, p, n);
}

static int
write_chunk(void *arg, const void *data, size_t n)
{
	struct writer *w = arg;
	const unsigned char *p = data;
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (w->cr) {
			w->cr = false;
			if (p[i] != '\n')
				w->out[o++] = '\r';
		}
		if (p[i] == '\r') {
			w->cr = true;
			continue;
		}
		w->out[o++] = p[i];
		if (o >= sizeof(w->out) - 1) {
			if (emit(w, w->out, o) == -1)
				return -1;
			o = 0;
		}
	}
	return emit(w, w->out, o);
}

/* Writes DATA into DEST's tmp/ as IN->tmp, fsynced, mtime IDATE. */
static int
write_tmp(struct mailbox_user *u, const char *dest,
    const struct mailbox_append *a, struct incoming *in)
{
	struct writer *w = xcalloc(1, sizeof(*w));
	char unique[NAME_MAX];
	struct timespec ts[2];
	int r = -1;

	w->last = '\n';
	if (mbx_unique_name(u->host, 0, 0, unique, sizeof(unique)) == -1 ||
	    str_fmt(in->tmp, sizeof(in->tmp), "%s/tmp/%s", dest, unique) == -1)
		goto out;
	w->fd = openat(u->dir_fd, in->tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC, 0600);
	if (w->fd == -1) {
		in->tmp[0] = '\0';
		goto out;
	}
	if (spool_copy(a->data, write_chunk, w) == 0 &&
	    (!w->cr || emit(w, (const unsigned char *)"\r", 1) == 0)) {
		if (w->size > 0 && w->last != '\n')
			w->vsize += 2;
		ts[0].tv_sec = ts[1].tv_sec = (time_t)in->idate;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (futimens(w->fd, ts) == 0 && fsync(w->fd) == 0)
			r = 0;
	}
	if (close(w->fd) == -1)
		r = -1;
	in->vsize = w->vsize;
	if (r == 0 && mbx_unique_name(u->host, w->size, w->vsize, unique,
	    sizeof(unique)) == -1)
		r = -1;
	if (r == 0 && mbx_name_with_flags(unique, strlen(unique), in->flags,
	    in->name, sizeof(in->name)) == -1)
		r = -1;
out:
	free(w);
	return r;
}

int
mailbox_append(struct mailbox_user *u, const char *name,
    const struct mailbox_append *a, uint32_t *uidvalidity_r, uint32_t *uid_r,
    struct mailbox_err *err)
{
	char path[MBX_PATH_MAX];
	struct incoming *in;
	struct mbx_folder *f;
	struct names nm;
	size_t i;
	uint32_t uid = 0;
	int r = -1;

	if (mbx_folder_path(u->root, name, path, sizeof(path)) == -1) {
		mbx_err(err, MAILBOX_ERR_NONEXISTENT, "no such folder");
		return -1;
	}
	for (i = 0; i < a->nkeywords; i++)
		if (!mbx_keyword_valid(a->keywords[i])) {
			mbx_err(err, MAILBOX_ERR_CANNOT, "invalid keyword");
			return -1;
		}
	if (a->nkeywords > MAILBOX_KEYWORDS_MAX) {
		mbx_err(err, MAILBOX_ERR_LIMIT, "too many keywords");
		return -1;
	}
	if ((f = mbx_folder_get(u->dir_fd, path, err)) == NULL)
		return -1;
	in = xcalloc(1, sizeof(*in));
	in->flags = a->flags & MAILBOX_FLAGS_ALL;
	in->idate = a->internaldate != 0 ? a->internaldate : clock_now();
	nm.n = 0;
	for (i = 0; i < a->nkeywords; i++) {
		nm.v[nm.n++] = xstrdup(a->keywords[i]);
		in->kw[i / 64] |= 1ULL << (i % 64);
	}
	if (write_tmp(u, path, a, in) == -1) {
		mbx_err(err, MAILBOX_ERR_TEMP, "%s: cannot write: %s", path,
		    strerror(errno));
	} else if (enter_all(f, in, 1, &nm, &uid, err) == 1) {
		(void)pthread_mutex_lock(&f->lock);
		*uidvalidity_r = f->uidvalidity;
		(void)pthread_mutex_unlock(&f->lock);
		*uid_r = uid;
		r = 0;
	} else if (err != NULL && err->code == MAILBOX_ERR_NONE) {
		mbx_err(err, MAILBOX_ERR_TEMP, "%s: %s", path,
		    strerror(errno));
	}
	incoming_drop(u->dir_fd, in, 1);
	names_free(&nm);
	mbx_folder_put(&f);
	return r;
}

/* ---- COPY / MOVE ---- */

void
mailbox_copy_result_free(struct mailbox_copy_result *r)
{
	free(r->src);
	free(r->dst);
	memset(r, 0, sizeof(*r));
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Under SRC's lock: what is needed of message M to copy it into DEST:
   a hard link (a copy across file systems) in DEST's tmp/. */
static int
prepare(struct mailbox_user *u, struct mbx_folder *src,
    const struct mbx_msg *m, const char *dest, struct incoming *in)
{
	char from[MBX_PATH_MAX + 300], unique[NAME_MAX];
	uint64_t size;
	struct stat st;

	in->src_uid = m->uid;
	in->flags = m->flags;
	in->vsize = m->size;
	in->idate = m->idate;
	in->kw[0] = m->kw[0];	/* the source's slots: names_of() */
	in->kw[1] = m->kw[1];
	if (mbx_msg_path(src, m, from, sizeof(from)) == -1 ||
	    fstatat(u->dir_fd, from, &st, 0) == -1)
		return -1;
	size = (uint64_t)st.st_size;
	if (mbx_unique_name(u->host, size, m->size, unique,
	    sizeof(unique)) == -1 ||
	    mbx_name_with_flags(unique, strlen(unique), m->flags, in->name,
	    sizeof(in->name)) == -1 ||
	    str_fmt(in->tmp, sizeof(in->tmp), "%s/tmp/%s", dest, unique) == -1)
		return -1;
	if (linkat(u->dir_fd, from, u->dir_fd, in->tmp, 0) == -1) {
		/* XXX: no copy across file systems: every folder of a user
		   is one directory tree, on one file system. */
		in->tmp[0] = '\0';
		return -1;
	}
	if (m->cache_len > 0) {
		in->cache = xmalloc(m->cache_len);
		memcpy(in->cache, m->cache, m->cache_len);
		in->cache_len = m->cache_len;
	}
	return 0;
}

/* Under SRC's lock: links the messages of SET (sorted) into DEST's tmp/.
   The number prepared. */
static size_t
prepare_all(struct mailbox_user *u, struct mbx_folder *src,
    const uint32_t *set, size_t n, const char *dest, struct incoming *in)
{
	size_t i, k = 0;
	struct mbx_msg *m;

	for (i = 0; i < n; i++) {
		if ((i > 0 && set[i] == set[i - 1]) ||
		    (m = mbx_folder_find(src, set[i])) == NULL)
			continue;
		if (prepare(u, src, m, dest, &in[k]) == 0)
			k++;
		else
			memset(&in[k], 0, sizeof(in[k]));
	}
	return k;
}

/* Under SRC's lock: expunges the sources of what was copied. */
static int
expunge_sources(struct mbx_folder *src, const struct mailbox_copy_result *r,
    uint32_t writer, struct mailbox_err *err)
{
	bool *drop = xcalloc(src->n + 1, sizeof(*drop));
	size_t i;
	int ret;

	(void)writer;
	for (i = 0; i < src->n; i++)
		drop[i] = bsearch(&src->msgs[i].uid, r->src, r->n,
		    sizeof(*r->src), cmp_u32) != NULL;
	ret = mbx_expunge_marked(src, drop, err);
	free(drop);
	return ret;
}

int
mbx_copy(struct mailbox_user *u, struct mbx_folder *src, uint32_t writer,
    const uint32_t *uids, size_t n, const char *dest, bool move,
    struct mailbox_copy_result *res, struct mailbox_err *err)
{
	char path[MBX_PATH_MAX];
	struct mbx_folder *df;
	struct incoming *in;
	struct names nm;
	uint32_t *set, *newuids;
	size_t i, k;
	int done, r = -1;

	memset(res, 0, sizeof(*res));
	if (mbx_folder_path(u->root, dest, path, sizeof(path)) == -1) {
		mbx_err(err, MAILBOX_ERR_NONEXISTENT, "no such folder");
		return -1;
	}
	if ((df = mbx_folder_get(u->dir_fd, path, err)) == NULL)
		return -1;
	set = xreallocarray(NULL, n + 1, sizeof(*set));
	if (n > 0)
		memcpy(set, uids, n * sizeof(*set));
	qsort(set, n, sizeof(*set), cmp_u32);
	in = xcalloc(n + 1, sizeof(*in));
	(void)pthread_mutex_lock(&src->lock);
	k = src->gone ? 0 : prepare_all(u, src, set, n, path, in);
	for (nm.n = 0; nm.n < src->nkw; nm.n++)
		nm.v[nm.n] = xstrdup(src->kw[nm.n]);
	(void)pthread_mutex_unlock(&src->lock);
	newuids = xcalloc(k + 1, sizeof(*newuids));
	if ((done = enter_all(df, in, k, &nm, newuids, err)) == -1)
		goto out;
	res->src = xcalloc((size_t)done + 1, sizeof(*res->src));
	res->dst = xcalloc((size_t)done + 1, sizeof(*res->dst));
	for (i = 0; i < k; i++) {
		if (newuids[i] == 0)
			continue;
		res->src[res->n] = in[i].src_uid;
		res->dst[res->n++] = newuids[i];
	}
	(void)pthread_mutex_lock(&df->lock);
	res->uidvalidity = df->uidvalidity;
	(void)pthread_mutex_unlock(&df->lock);
	r = 0;
	if (move && res->n > 0) {
		(void)pthread_mutex_lock(&src->lock);
		r = expunge_sources(src, res, writer, err);
		(void)pthread_mutex_unlock(&src->lock);
	}
out:
	if (r == -1)
		mailbox_copy_result_free(res);
	names_free(&nm);
	incoming_drop(u->dir_fd, in, k);
	free(newuids);
	free(set);
	mbx_folder_put(&df);
	return r;
}

int
mailbox_copy(struct mailbox_view *v, const uint32_t *uids, size_t n,
    const char *dest, bool move, struct mailbox_copy_result *res,
    struct mailbox_err *err)
{
	if (move && v->readonly) {
		memset(res, 0, sizeof(*res));
		mbx_err(err, MAILBOX_ERR_CANNOT, "the folder is read-only");
		return -1;
	}
	return mbx_copy(v->user, v->f, v->id, uids, n, dest, move, res, err);
}
