/*
 * mailbox_view.c - a selected folder: the session's fixed sequence
 * numbers over the shared folder state, what changed since it last
 * looked (RFC 9051 7.4.1 EXPUNGE and EXISTS, 7.5.2 FETCH FLAGS, RFC 7162
 * MODSEQ and VANISHED), STORE with UNCHANGEDSINCE, EXPUNGE, reading a
 * message, and the cache blobs.
 *
 * A view holds only its UIDs; flags and the rest are read from the
 * folder under its lock. Messages expunged by others stay in the view
 * (marked expunged) until a sync that may report EXPUNGE.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailbox/mailbox_int.h"
#include "util/fsutil.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

static void
view_add_uid(struct mailbox_view *v, uint32_t uid)
{
	if (v->n == v->cap) {
		v->cap = v->cap == 0 ? 64 : v->cap * 2;
		v->uids = xreallocarray(v->uids, v->cap, sizeof(*v->uids));
	}
	v->uids[v->n++] = uid;
}

/* Under the lock: the UIDs no view has claimed yet become recent here. */
static uint32_t
claim_recent(struct mailbox_view *v)
{
	struct mbx_folder *f = v->f;
	uint32_t lo = f->recent_floor, hi = f->uidnext;

	if (lo >= hi)
		return 0;
	f->recent_floor = hi;
	if (v->nrecent > 0 && v->recent[v->nrecent - 1].hi == lo) {
		v->recent[v->nrecent - 1].hi = hi;
	} else {
		v->recent = xreallocarray(v->recent, v->nrecent + 1,
		    sizeof(*v->recent));
		v->recent[v->nrecent].lo = lo;
		v->recent[v->nrecent++].hi = hi;
	}
	return hi - lo;
}

static bool
is_recent(const struct mailbox_view *v, uint32_t uid)
{
	size_t i;

	for (i = v->nrecent; i > 0; i--)
		if (uid >= v->recent[i - 1].lo && uid < v->recent[i - 1].hi)
			return true;
	return false;
}

struct mailbox_view *
mailbox_view_open(struct mailbox_user *u, const char *name, unsigned flags,
    struct mailbox_err *err)
{
	char path[MBX_PATH_MAX];
	struct mailbox_view *v;
	struct mbx_folder *f;
	size_t i;

	if (mbx_folder_path(u->root, name, path, sizeof(path)) == -1) {
		mbx_err(err, MAILBOX_ERR_NONEXISTENT, "no such folder");
		return NULL;
	}
	if ((f = mbx_folder_get(u->dir_fd, path, err)) == NULL)
		return NULL;
	v = xcalloc(1, sizeof(*v));
	v->user = u;
	v->f = f;
	v->readonly = (flags & MAILBOX_VIEW_READONLY) != 0;
	(void)pthread_mutex_lock(&f->lock);
	v->id = ++f->next_view;
	for (i = 0; i < f->n; i++)
		view_add_uid(v, f->msgs[i].uid);
	v->modseq = f->highestmodseq;
	v->changes = atomic_load(&f->changes);
	v->uidnext = f->uidnext;
	v->nkw = f->nkw;
	if (!v->readonly)
		(void)claim_recent(v);
	(void)pthread_mutex_unlock(&f->lock);
	return v;
}

void
mailbox_view_close(struct mailbox_view **vp)
{
	struct mailbox_view *v = *vp;

	if (v == NULL)
		return;
	*vp = NULL;
	mbx_folder_put(&v->f);
	free(v->uids);
	free(v->recent);
	free(v);
}

static void
fill_msg(const struct mailbox_view *v, const struct mbx_msg *m,
    struct mailbox_msg *o)
{
	o->uid = m->uid;
	o->flags = m->flags;
	o->recent = is_recent(v, m->uid);
	o->expunged = false;
	o->keywords[0] = m->kw[0];
	o->keywords[1] = m->kw[1];
	o->modseq = m->modseq;
	o->size = m->size;
	o->internaldate = m->idate;
}

void
mailbox_view_get_info(struct mailbox_view *v, struct mailbox_view_info *in)
{
	struct mbx_folder *f = v->f;
	struct mbx_msg *m;
	size_t i, j = 0;

	memset(in, 0, sizeof(*in));
	(void)pthread_mutex_lock(&f->lock);
	in->exists = (uint32_t)v->n;
	for (i = 0; i < v->n; i++) {
		while (j < f->n && f->msgs[j].uid < v->uids[i])
			j++;
		m = j < f->n && f->msgs[j].uid == v->uids[i] ? &f->msgs[j] :
		    NULL;
		if (is_recent(v, v->uids[i]))
			in->recent++;
		if (m != NULL && !(m->flags & MAILBOX_SEEN)) {
			if (in->first_unseen == 0)
				in->first_unseen = (uint32_t)i + 1;
			in->unseen++;
		}
	}
	in->uidnext = v->uidnext;
	in->uidvalidity = f->uidvalidity;
	in->highestmodseq = v->modseq;
	in->nkeywords = v->nkw;
	(void)pthread_mutex_unlock(&f->lock);
}

const char *
mailbox_view_keyword(struct mailbox_view *v, unsigned idx)
{
	/* Slots never change once defined: no lock needed for these. */
	return idx < v->nkw ? v->f->kw[idx] : NULL;
}

int
mailbox_view_msgs(struct mailbox_view *v, uint32_t first, uint32_t last,
    struct mailbox_msg *out)
{
	struct mbx_folder *f = v->f;
	struct mbx_msg *m;
	size_t s, j;

	if (first == 0 || first > last || last > v->n)
		return -1;
	(void)pthread_mutex_lock(&f->lock);
	m = mbx_folder_find(f, v->uids[first - 1]);
	/* Both lists ascend: one walk, not a search per message. */
	j = m != NULL ? (size_t)(m - f->msgs) : 0;
	for (s = first; s <= last; s++) {
		struct mailbox_msg *o = &out[s - first];
		uint32_t uid = v->uids[s - 1];

		while (j < f->n && f->msgs[j].uid < uid)
			j++;
		if (j < f->n && f->msgs[j].uid == uid) {
			fill_msg(v, &f->msgs[j], o);
		} else {
			memset(o, 0, sizeof(*o));
			o->uid = uid;
			o->expunged = true;
		}
	}
	(void)pthread_mutex_unlock(&f->lock);
	return 0;
}

uint32_t
mailbox_view_seq(struct mailbox_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v->uids[mid] == uid)
			return (uint32_t)mid + 1;
		if (v->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

uint32_t
mailbox_view_uid(struct mailbox_view *v, uint32_t seq)
{
	return seq >= 1 && seq <= v->n ? v->uids[seq - 1] : 0;
}

void
mailbox_changes_free(struct mailbox_changes *ch)
{
	free(ch->expunged);
	free(ch->vanished);
	free(ch->changed);
	memset(ch, 0, sizeof(*ch));
}

/* Under the lock: drops the view's UIDs that are gone from the folder
   into CH (descending sequence numbers, ascending UIDs). */
static void
sync_expunges(struct mailbox_view *v, struct mailbox_changes *ch)
{
	struct mbx_folder *f = v->f;
	size_t i, j = 0, keep = 0, k = 0, gone = 0;

	for (i = 0; i < v->n; i++)
		if (mbx_folder_find(f, v->uids[i]) == NULL)
			gone++;
	if (gone == 0)
		return;
	ch->expunged = xreallocarray(NULL, gone, sizeof(uint32_t));
	ch->vanished = xreallocarray(NULL, gone, sizeof(uint32_t));
	for (i = 0; i < v->n; i++) {
		while (j < f->n && f->msgs[j].uid < v->uids[i])
			j++;
		if (j < f->n && f->msgs[j].uid == v->uids[i]) {
			v->uids[keep++] = v->uids[i];
			continue;
		}
		ch->vanished[k] = v->uids[i];
		ch->expunged[gone - 1 - k] = (uint32_t)i + 1;
		k++;
	}
	ch->nexpunged = gone;
	v->n = keep;
}

/* Under the lock: flag changes others made, by sequence number. */
static void
sync_flags(struct mailbox_view *v, struct mailbox_changes *ch)
{
	struct mbx_folder *f = v->f;
	size_t i, j = 0;

	for (i = 0; i < v->n; i++) {
		while (j < f->n && f->msgs[j].uid < v->uids[i])
			j++;
		if (j == f->n || f->msgs[j].uid != v->uids[i] ||
		    f->msgs[j].modseq <= v->modseq ||
		    f->msgs[j].writer == v->id)
			continue;
		ch->changed = xreallocarray(ch->changed, ch->nchanged + 1,
		    sizeof(uint32_t));
		ch->changed[ch->nchanged++] = (uint32_t)i + 1;
	}
}

int
mailbox_view_sync(struct mailbox_view *v, bool expunges,
    struct mailbox_changes *ch, struct mailbox_err *err)
{
	struct mbx_folder *f = v->f;
	size_t i, before;

	memset(ch, 0, sizeof(*ch));
	(void)pthread_mutex_lock(&f->lock);
	if (mbx_folder_sync(f, false, err) == -1) {
		(void)pthread_mutex_unlock(&f->lock);
		return -1;
	}
	v->changes = atomic_load(&f->changes);
	if (expunges)
		sync_expunges(v, ch);
	sync_flags(v, ch);
	before = v->n;
	for (i = 0; i < f->n; i++)
		if (f->msgs[i].uid >= v->uidnext)
			view_add_uid(v, f->msgs[i].uid);
	ch->exists_changed = v->n != before || ch->nexpunged > 0;
	ch->exists = (uint32_t)v->n;
	if (!v->readonly)
		(void)claim_recent(v);
	for (i = 0; i < v->n; i++)
		if (is_recent(v, v->uids[i]))
			ch->recent++;
	ch->keywords_added = f->nkw > v->nkw;
	v->nkw = f->nkw;
	v->uidnext = f->uidnext;
	v->modseq = f->highestmodseq;
	ch->highestmodseq = v->modseq;
	(void)pthread_mutex_unlock(&f->lock);
	return 0;
}

bool
mailbox_view_poll(struct mailbox_view *v)
{
	struct mbx_folder *f = v->f;
	bool r;

	if (atomic_load(&f->changes) != v->changes)
		return true;
	(void)pthread_mutex_lock(&f->lock);
	r = f->gone || mbx_folder_disk_changed(f);
	(void)pthread_mutex_unlock(&f->lock);
	return r;
}

int
mailbox_view_vanished_since(struct mailbox_view *v, uint64_t modseq,
    uint32_t **uids_r, size_t *n_r)
{
	struct mbx_folder *f = v->f;
	uint32_t *u = NULL;
	size_t i, n = 0;
	int complete;

	(void)pthread_mutex_lock(&f->lock);
	complete = modseq >= f->tomb_floor;
	for (i = 0; i < f->ntombs; i++) {
		if (f->tombs[i].modseq <= modseq)
			continue;
		u = xreallocarray(u, n + 1, sizeof(*u));
		u[n++] = f->tombs[i].uid;
	}
	(void)pthread_mutex_unlock(&f->lock);
	/* Ascending UIDs for the set the session prints. */
	for (i = 1; i < n; i++) {
		uint32_t x = u[i];
		size_t k = i;

		for (; k > 0 && u[k - 1] > x; k--)
			u[k] = u[k - 1];
		u[k] = x;
	}
	*uids_r = u;
	*n_r = n;
	return complete;
}

/* ---- STORE ---- */

void
mailbox_store_result_free(struct mailbox_store_result *r)
{
	free(r->modified);
	free(r->changed);
	memset(r, 0, sizeof(*r));
}

static void
push_uid(uint32_t **v, size_t *n, uint32_t uid)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = uid;
}

/* The keyword bits of ST in F, defining new names. -1: table full. */
static int
store_keywords(struct mbx_folder *f, const struct mailbox_store *st,
    uint64_t kw[2], struct mailbox_err *err)
{
	size_t i;
	int slot;

	kw[0] = kw[1] = 0;
	for (i = 0; i < st->nkeywords; i++) {
		slot = mbx_folder_keyword(f, st->keywords[i],
		    st->op != MAILBOX_STORE_REMOVE);
		if (slot >= 0) {
			kw[slot / 64] |= 1ULL << (slot % 64);
			continue;
		}
		if (st->op == MAILBOX_STORE_REMOVE &&
		    mbx_keyword_valid(st->keywords[i]))
			continue;	/* never defined: on no message */
		mbx_err(err, mbx_keyword_valid(st->keywords[i]) ?
		    MAILBOX_ERR_LIMIT : MAILBOX_ERR_CANNOT,
		    "keyword %s: %s", st->keywords[i],
		    mbx_keyword_valid(st->keywords[i]) ?
		    "too many keywords in this folder" : "invalid");
		return -1;
	}
	return 0;
}

/* Renames M's file for FLAGS; a file renamed by someone else is found
   by a rescan once. 0, or -1 (errno). *MP may move. */
static int
rename_flags(struct mbx_folder *f, struct mbx_msg **mp, unsigned flags)
{
	char from[MBX_PATH_MAX + 300], to[MBX_PATH_MAX + 300], name[NAME_MAX];
	struct mbx_msg *m = *mp;
	uint32_t uid = m->uid;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (mbx_name_with_flags(m->name, m->base_len, flags, name,
		    sizeof(name)) == -1 ||
		    mbx_msg_path(f, m, from, sizeof(from)) == -1 ||
		    str_fmt(to, sizeof(to), "%s/cur/%s", f->path, name) == -1) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (renameat(f->dir_fd, from, f->dir_fd, to) == 0) {
			free(m->name);
			m->name = xstrdup(name);
			m->in_new = false;
			return 0;
		}
		if (errno != ENOENT || tries > 0 ||
		    mbx_folder_sync(f, true, NULL) == -1 ||
		    (m = mbx_folder_find(f, uid)) == NULL)
			return -1;
		*mp = m;
	}
	return -1;
}

static void
apply_op(const struct mailbox_store *st, const uint64_t kw[2],
    const struct mbx_msg *m, unsigned *flags, uint64_t nkw[2])
{
	int i;

	for (i = 0; i < 2; i++) {
		if (st->op == MAILBOX_STORE_SET)
			nkw[i] = kw[i];
		else if (st->op == MAILBOX_STORE_ADD)
			nkw[i] = m->kw[i] | kw[i];
		else
			nkw[i] = m->kw[i] & ~kw[i];
	}
	if (st->op == MAILBOX_STORE_SET)
		*flags = st->flags & MAILBOX_FLAGS_ALL;
	else if (st->op == MAILBOX_STORE_ADD)
		*flags = (m->flags | st->flags) & MAILBOX_FLAGS_ALL;
	else
		*flags = m->flags & ~st->flags & MAILBOX_FLAGS_ALL;
}

/* Which directories a change renamed files out of. */
#define OUT_OF_CUR	0x1
#define OUT_OF_NEW	0x2

/* Fsyncs the directories of a folder that OUT names (OUT_OF_*): cur/
   whenever anything changed, new/ too when a file left it. */
static int
fsync_dirs(const struct mbx_folder *f, unsigned out)
{
	char path[MBX_PATH_MAX + 8];

	if (str_fmt(path, sizeof(path), "%s/cur", f->path) == -1 ||
	    fs_fsync_dir_at(f->dir_fd, path) == -1)
		return -1;
	if ((out & OUT_OF_NEW) != 0 && (str_fmt(path, sizeof(path),
	    "%s/new", f->path) == -1 || fs_fsync_dir_at(f->dir_fd, path) == -1))
		return -1;
	return 0;
}

/* Under the lock: STORE on one UID. 1 changed, 0 not, -1 error. */
static int
store_one(struct mailbox_view *v, uint32_t uid, const struct mailbox_store *st,
    const uint64_t kw[2], struct mailbox_store_result *res, unsigned *renamed)
{
	bool was_new;

	struct mbx_folder *f = v->f;
	struct mbx_msg *m = mbx_folder_find(f, uid);
	uint64_t nkw[2];
	unsigned flags;

	if (m == NULL)
		return 0;
	if (st->unchangedsince_set && m->modseq > st->unchangedsince) {
		push_uid(&res->modified, &res->nmodified, uid);
		return 0;
	}
	apply_op(st, kw, m, &flags, nkw);
	if (flags == m->flags && nkw[0] == m->kw[0] && nkw[1] == m->kw[1])
		return 0;
	if (flags != m->flags && m->in_new) {
		/* Its first flag: new/ goes to cur/ whole (mailbox_folder.c);
		   M moved in memory, and the scan may have seen its flags
		   changed by someone else. */
		if (mbx_folder_empty_new(f, NULL) == -1)
			return -1;
		if ((m = mbx_folder_find(f, uid)) == NULL)
			return 0;
		apply_op(st, kw, m, &flags, nkw);
	}
	if (flags != m->flags) {
		was_new = m->in_new;
		if (rename_flags(f, &m, flags) == -1)
			return errno == ENOENT ? 0 : -1;
		*renamed |= was_new ? OUT_OF_NEW : OUT_OF_CUR;
	}
	m->flags = (uint8_t)flags;
	m->kw[0] = nkw[0];
	m->kw[1] = nkw[1];
	m->modseq = ++f->highestmodseq;
	m->writer = v->id;
	mbx_log_flags(f, m);
	push_uid(&res->changed, &res->nchanged, uid);
	return 1;
}

int
mailbox_store(struct mailbox_view *v, const uint32_t *uids, size_t n,
    const struct mailbox_store *st, struct mailbox_store_result *res,
    struct mailbox_err *err)
{
	struct mbx_folder *f = v->f;
	uint64_t kw[2];
	unsigned renamed = 0;
	bool was;
	size_t i;
	int r = 0;

	memset(res, 0, sizeof(*res));
	if (v->readonly) {
		mbx_err(err, MAILBOX_ERR_CANNOT, "the folder is read-only");
		return -1;
	}
	(void)pthread_mutex_lock(&f->lock);
	if (f->gone) {
		mbx_err(err, MAILBOX_ERR_GONE, "the folder was deleted");
		goto fail;
	}
	if (store_keywords(f, st, kw, err) == -1)
		goto fail;
	/* Names this STORE defined are the view's at once. */
	res->keywords_added = f->nkw > v->nkw;
	v->nkw = f->nkw;
	was = mbx_cur_begin(f);
	for (i = 0; i < n && r != -1; i++)
		if (store_one(v, uids[i], st, kw, res, &renamed) == -1) {
			mbx_err(err, MAILBOX_ERR_TEMP, "%s: rename: %s",
			    f->path, strerror(errno));
			r = -1;
		}
	/* The renames first, then the log: a crash between leaves names
	   that are the truth anyway. */
	if (renamed != 0 && fsync_dirs(f, renamed) == -1 && r == 0) {
		mbx_err(err, MAILBOX_ERR_TEMP, "%s: fsync: %s", f->path,
		    strerror(errno));
		r = -1;
	}
	mbx_cur_end(f, was);
	if (mbx_index_commit(f, true, r == 0 ? err : NULL) == -1)
		r = -1;
	if (res->nchanged > 0 || f->pending.len > 0)
		atomic_fetch_add(&f->changes, 1);
	(void)pthread_mutex_unlock(&f->lock);
	if (r == -1)
		mailbox_store_result_free(res);
	return r;
fail:
	(void)pthread_mutex_unlock(&f->lock);
	return -1;
}

/* ---- EXPUNGE ---- */

int
mbx_expunge_marked(struct mbx_folder *f, const bool *drop,
    struct mailbox_err *err)
{
	char path[MBX_PATH_MAX + 300];
	size_t i, keep = 0;
	unsigned out = 0;
	bool was = mbx_cur_begin(f);
	int r = 0;

	for (i = 0; i < f->n; i++) {
		struct mbx_msg *m = &f->msgs[i];

		if (!drop[i]) {
			f->msgs[keep++] = *m;
			continue;
		}
		if (mbx_msg_path(f, m, path, sizeof(path)) == 0 &&
		    unlinkat(f->dir_fd, path, 0) == -1 && errno != ENOENT) {
			mbx_err(err, MAILBOX_ERR_TEMP, "%s: unlink: %s",
			    f->path, strerror(errno));
			r = -1;
			f->msgs[keep++] = *m;
			continue;
		}
		out |= m->in_new ? OUT_OF_NEW : OUT_OF_CUR;
		mbx_folder_tomb(f, m->uid, ++f->highestmodseq);
		mbx_log_expunge(f, m->uid, f->highestmodseq);
		mbx_msg_free(m);
	}
	f->n = keep;
	if (out == 0)
		return r;
	if (fsync_dirs(f, out) == -1) {
		mbx_err(err, MAILBOX_ERR_TEMP, "%s: fsync: %s", f->path,
		    strerror(errno));
		r = -1;
	}
	mbx_cur_end(f, was);
	atomic_fetch_add(&f->changes, 1);
	if (mbx_index_commit(f, true, r == 0 ? err : NULL) == -1)
		r = -1;
	return r;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
mailbox_expunge(struct mailbox_view *v, const uint32_t *uids, size_t n,
    struct mailbox_err *err)
{
	struct mbx_folder *f = v->f;
	uint32_t *set = NULL;
	bool *drop;
	size_t i;
	int r;

	if (v->readonly) {
		mbx_err(err, MAILBOX_ERR_CANNOT, "the folder is read-only");
		return -1;
	}
	if (uids != NULL && n > 0) {
		set = xreallocarray(NULL, n, sizeof(*set));
		memcpy(set, uids, n * sizeof(*set));
		qsort(set, n, sizeof(*set), cmp_u32);
	}
	(void)pthread_mutex_lock(&f->lock);
	if (f->gone) {
		(void)pthread_mutex_unlock(&f->lock);
		free(set);
		mbx_err(err, MAILBOX_ERR_GONE, "the folder was deleted");
		return -1;
	}
	drop = xcalloc(f->n + 1, sizeof(*drop));
	for (i = 0; i < f->n; i++)
		drop[i] = (f->msgs[i].flags & MAILBOX_DELETED) &&
		    (uids == NULL || (set != NULL && bsearch(&f->msgs[i].uid,
		    set, n, sizeof(*set), cmp_u32) != NULL));
	r = mbx_expunge_marked(f, drop, err);
	(void)pthread_mutex_unlock(&f->lock);
	free(drop);
	free(set);
	return r;
}

/* ---- reading ---- */

int
mailbox_msg_open(struct mailbox_view *v, uint32_t uid, int *fd_r,
    uint64_t *size_r, struct mailbox_err *err)
{
	struct mbx_folder *f = v->f;
	char path[MBX_PATH_MAX + 300];
	struct mbx_msg *m;
	struct stat st;
	int fd = -1, tries, r = 0;

	(void)pthread_mutex_lock(&f->lock);
	for (tries = 0; tries < 2; tries++) {
		if ((m = mbx_folder_find(f, uid)) == NULL)
			break;
		if (mbx_msg_path(f, m, path, sizeof(path)) == 0 &&
		    (fd = openat(f->dir_fd, path, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC)) != -1)
			break;
		if (errno != ENOENT) {
			mbx_err(err, MAILBOX_ERR_TEMP, "%s: %s", path,
			    strerror(errno));
			r = -1;
			break;
		}
		/* Renamed by another program: look again once. */
		if (tries == 0 && mbx_folder_sync(f, true, err) == -1) {
			r = -1;
			break;
		}
	}
	(void)pthread_mutex_unlock(&f->lock);
	if (fd == -1)
		return r;
	if (fstat(fd, &st) == -1) {
		mbx_err(err, MAILBOX_ERR_TEMP, "fstat: %s", strerror(errno));
		(void)close(fd);
		return -1;
	}
	*fd_r = fd;
	*size_r = (uint64_t)st.st_size;
	return 1;
}

int
mailbox_msg_uidl(struct mailbox_view *v, uint32_t uid,
    char out[MAILBOX_UIDL_MAX + 1])
{
	struct mbx_msg *m;
	int r = 0;

	(void)pthread_mutex_lock(&v->f->lock);
	if ((m = mbx_folder_find(v->f, uid)) != NULL) {
		mailbox_uidl(m->name, out);
		r = 1;
	}
	(void)pthread_mutex_unlock(&v->f->lock);
	return r;
}

int
mailbox_cache_get(struct mailbox_view *v, uint32_t uid, struct buf *out)
{
	struct mbx_msg *m;
	int r = 0;

	(void)pthread_mutex_lock(&v->f->lock);
	if ((m = mbx_folder_find(v->f, uid)) != NULL && m->cache_len > 0)
		r = buf_append(out, m->cache, m->cache_len) == 0 ? 1 : -1;
	(void)pthread_mutex_unlock(&v->f->lock);
	return r;
}

int
mailbox_cache_put(struct mailbox_view *v, uint32_t uid, const void *p,
    size_t len, struct mailbox_err *err)
{
	struct mbx_folder *f = v->f;
	struct mbx_msg *m;
	int r = 0;

	if (len > MAILBOX_CACHE_MAX) {
		mbx_err(err, MAILBOX_ERR_LIMIT, "cache blob too large");
		return -1;
	}
	(void)pthread_mutex_lock(&f->lock);
	if (!f->gone && (m = mbx_folder_find(f, uid)) != NULL) {
		free(m->cache);
		m->cache = NULL;
		m->cache_len = (uint32_t)len;
		if (len > 0) {
			m->cache = xmalloc(len);
			memcpy(m->cache, p, len);
		}
		mbx_log_cache(f, m);
		r = mbx_index_commit(f, false, err);
	}
	(void)pthread_mutex_unlock(&f->lock);
	return r;
}
