/*
 * mailbox_folder.c - the one in-memory state of each open folder, shared
 * by every view of it in the process (a registry keyed by directory),
 * and its sync with the Maildir on disk.
 *
 * Sync. cur/ and new/ are listed and compared with the index by base
 * name: a known file whose info letters changed updates the flags (the
 * name is the truth) with a new MODSEQ; a file gone is expunged; an
 * unknown file gets the next UID, in order of delivery (the time in its
 * name, else its mtime). The new UIDs are synced to the log before
 * anyone sees them. A base in both directories counts once, from cur/.
 *
 * new/ is emptied into cur/ (":2," appended, as Dovecot does) only when
 * a message in it first gets a flag: opening a big INBOX costs no
 * rename per message, and a client that only looks never pays them
 * (Maildir allows it; Dovecot, mutt and POP3 read both directories).
 * It is emptied whole, not file by file: a folder whose new/ holds
 * thousands of files would otherwise be listed again after each flag
 * change (its mtime moved, and within the racy window again at the
 * next commands), where an empty new/ costs nothing to list.
 *
 * Change detection without a scan: the mtimes of new/ and cur/ are
 * taken before they are read, so a change while reading shows as a
 * newer mtime. An mtime within the file system's timestamp granularity
 * of the moment it was taken is "racy" (a change in the same tick would
 * not move it) and forces the next scan. Changes made through this
 * module bump a counter that views compare.
 *
 * Lock order: the registry lock, then a folder lock; never a second
 * folder lock while one is held.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailbox/mailbox_int.h"
#include "maildir/maildir.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hmap *registry;
/* Unreferenced states kept for the next use, oldest first. */
static struct mbx_folder *idle_head, *idle_tail;
static size_t nidle;

/* Under the registry lock. */
static void
idle_unlink(struct mbx_folder *f)
{
	if (!f->idle)
		return;
	if (f->idle_prev != NULL)
		f->idle_prev->idle_next = f->idle_next;
	else
		idle_head = f->idle_next;
	if (f->idle_next != NULL)
		f->idle_next->idle_prev = f->idle_prev;
	else
		idle_tail = f->idle_prev;
	f->idle_prev = f->idle_next = NULL;
	f->idle = false;
	nidle--;
}

static void
idle_push(struct mbx_folder *f)
{
	f->idle_prev = idle_tail;
	f->idle_next = NULL;
	if (idle_tail != NULL)
		idle_tail->idle_next = f;
	else
		idle_head = f;
	idle_tail = f;
	f->idle = true;
	nidle++;
}

uint32_t
mbx_new_uidvalidity(uint32_t old)
{
	uint32_t now = (uint32_t)clock_now();

	return now > old ? now : old + 1;
}

void
mbx_msg_free(struct mbx_msg *m)
{
	free(m->name);
	free(m->cache);
	m->name = NULL;
	m->cache = NULL;
}

void
mbx_folder_clear(struct mbx_folder *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		mbx_msg_free(&f->msgs[i]);
	free(f->msgs);
	free(f->tombs);
	f->msgs = NULL;
	f->tombs = NULL;
	f->n = f->cap = f->ntombs = f->captombs = 0;
	for (i = 0; i < f->nkw; i++)
		free(f->kw[i]);
	free(f->kw);
	f->kw = NULL;
	f->nkw = 0;
	f->tomb_floor = 0;
	f->loaded = false;
}

struct mbx_msg *
mbx_folder_add(struct mbx_folder *f, struct mbx_msg *m)
{
	if (f->n == f->cap) {
		f->cap = f->cap == 0 ? 64 : f->cap * 2;
		f->msgs = xreallocarray(f->msgs, f->cap, sizeof(*f->msgs));
	}
	f->msgs[f->n] = *m;
	return &f->msgs[f->n++];
}

void
mbx_folder_tomb(struct mbx_folder *f, uint32_t uid, uint64_t modseq)
{
	if (f->ntombs == MBX_TOMBS_MAX) {
		/* The oldest half goes; QRESYNC falls back on the client's
		   known UIDs for expunges that old. */
		f->tomb_floor = f->tombs[f->ntombs / 2 - 1].modseq;
		memmove(f->tombs, f->tombs + f->ntombs / 2,
		    (f->ntombs - f->ntombs / 2) * sizeof(*f->tombs));
		f->ntombs -= f->ntombs / 2;
	}
	if (f->ntombs == f->captombs) {
		f->captombs = f->captombs == 0 ? 64 : f->captombs * 2;
		f->tombs = xreallocarray(f->tombs, f->captombs,
		    sizeof(*f->tombs));
	}
	f->tombs[f->ntombs].uid = uid;
	f->tombs[f->ntombs++].modseq = modseq;
}

void
mbx_folder_remove(struct mbx_folder *f, size_t i, uint64_t modseq)
{
	mbx_folder_tomb(f, f->msgs[i].uid, modseq);
	mbx_msg_free(&f->msgs[i]);
	memmove(f->msgs + i, f->msgs + i + 1, (f->n - i - 1) *
	    sizeof(*f->msgs));
	f->n--;
}

int
mbx_msg_path(const struct mbx_folder *f, const struct mbx_msg *m, char *out,
    size_t outsz)
{
	return str_fmt(out, outsz, "%s/%s/%s", f->path, m->in_new ? "new" :
	    "cur", m->name);
}

int
mbx_folder_keyword(struct mbx_folder *f, const char *name, bool define)
{
	unsigned i;

	for (i = 0; i < f->nkw; i++)
		if (strcasecmp(f->kw[i], name) == 0)
			return (int)i;
	if (!define || f->nkw == MAILBOX_KEYWORDS_MAX ||
	    !mbx_keyword_valid(name))
		return -1;
	mbx_folder_kw_add(f, name);
	mbx_log_keyword(f, f->nkw - 1);
	return (int)f->nkw - 1;
}

void
mbx_folder_kw_add(struct mbx_folder *f, const char *name)
{
	/* Most folders never get a keyword: no table until one comes. */
	if (f->kw == NULL)
		f->kw = xcalloc(MAILBOX_KEYWORDS_MAX, sizeof(*f->kw));
	f->kw[f->nkw++] = xstrdup(name);
}

/* ---- registry ---- */

static void
folder_free(struct mbx_folder *f)
{
	mbx_folder_clear(f);
	hmap_free(&f->import, NULL);
	if (f->log_fd != -1)
		(void)close(f->log_fd);
	buf_free(&f->pending);
	(void)pthread_mutex_destroy(&f->lock);
	free(f);
}

/* The registry key of PATH below DIR_FD: the directory's device and
   inode, not the descriptor's number, which another directory may get
   once this one is closed. */
static int
folder_key(int dir_fd, const char *path, char *out, size_t outsz)
{
	struct stat st;

	if (fstat(dir_fd, &st) == -1)
		return -1;
	return str_fmt(out, outsz, "%llx.%llx:%s",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, path);
}

/* The registry entry for KEY, made if missing, with a reference. */
static struct mbx_folder *
folder_ref(int dir_fd, const char *path, const char *key)
{
	struct mbx_folder *f;

	(void)pthread_mutex_lock(&reg_lock);
	if (registry == NULL)
		registry = hmap_new();
	f = hmap_get(registry, key);
	if (f == NULL) {
		f = xcalloc(1, sizeof(*f));
		(void)pthread_mutex_init(&f->lock, NULL);
		(void)str_copy(f->key, key, sizeof(f->key));
		(void)str_copy(f->path, path, sizeof(f->path));
		f->dir_fd = dir_fd;
		f->log_fd = -1;
		buf_init(&f->pending, BUF_UNLIMITED);
		(void)hmap_put(registry, key, f);
	}
	idle_unlink(f);
	f->refs++;
	(void)pthread_mutex_unlock(&reg_lock);
	return f;
}

static bool
is_folder_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	errno = 0;
	return slash != NULL && slash[1] == '.';
}

struct mbx_folder *
mbx_folder_get(int dir_fd, const char *path, struct mailbox_err *err)
{
	char key[MBX_PATH_MAX + 16], cur[MBX_PATH_MAX + 8];
	struct mbx_folder *f;
	struct stat st;

	if (folder_key(dir_fd, path, key, sizeof(key)) == -1 ||
	    str_fmt(cur, sizeof(cur), "%s/cur", path) == -1) {
		mbx_err(err, MAILBOX_ERR_CANNOT, "folder path too long");
		return NULL;
	}
	f = folder_ref(dir_fd, path, key);
	(void)pthread_mutex_lock(&f->lock);
	if (!f->loaded) {
		/* A folder (".Name") that is a symbolic link is not one. */
		if (fstatat(dir_fd, cur, &st, 0) == -1 ||
		    (is_folder_dir(path) && (fstatat(dir_fd, path, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISDIR(st.st_mode)))) {
			mbx_err(err, errno == ENOENT || errno == 0 ?
			    MAILBOX_ERR_NONEXISTENT : MAILBOX_ERR_TEMP,
			    "%s: %s", path, errno == 0 ? "not a folder" :
			    strerror(errno));
			goto fail;
		}
		if (mbx_index_load(f, err) == -1)
			goto fail;
		f->recent_floor = f->uidnext;
	}
	if (mbx_folder_sync(f, false, err) == -1)
		goto fail;
	(void)pthread_mutex_unlock(&f->lock);
	return f;
fail:
	(void)pthread_mutex_unlock(&f->lock);
	mbx_folder_put(&f);
	return NULL;
}

void
mbx_folder_put(struct mbx_folder **fp)
{
	struct mbx_folder *f = *fp;

	if (f == NULL)
		return;
	*fp = NULL;
	(void)pthread_mutex_lock(&f->lock);
	if (f->pending.len > 0 && !f->gone)
		(void)mbx_index_commit(f, true, NULL);
	(void)pthread_mutex_unlock(&f->lock);
	(void)pthread_mutex_lock(&reg_lock);
	if (--f->refs > 0) {
		(void)pthread_mutex_unlock(&reg_lock);
		return;
	}
	if (hmap_get(registry, f->key) == f && f->loaded && !f->gone) {
		idle_push(f);
		f = NULL;
		if (nidle > MBX_IDLE_MAX) {
			f = idle_head;
			idle_unlink(f);
			(void)hmap_del(registry, f->key);
		}
	} else if (hmap_get(registry, f->key) == f) {
		(void)hmap_del(registry, f->key);
	}
	(void)pthread_mutex_unlock(&reg_lock);
	/* Out of the registry with no reference: nobody can reach it. */
	if (f != NULL)
		folder_free(f);
}

void
mailbox_cache_flush(void)
{
	struct mbx_folder *f;

	for (;;) {
		(void)pthread_mutex_lock(&reg_lock);
		if ((f = idle_head) != NULL) {
			idle_unlink(f);
			(void)hmap_del(registry, f->key);
		}
		(void)pthread_mutex_unlock(&reg_lock);
		if (f == NULL)
			return;
		if (f->pending.len > 0)
			(void)mbx_index_commit(f, true, NULL);
		folder_free(f);
	}
}

struct forget {
	const char	*prefix;
	size_t		 len;
	bool		 children;
};

static bool
forget_one(const char *key, void *val, void *arg)
{
	struct forget *fg = arg;
	struct mbx_folder *f = val;

	if (strncmp(key, fg->prefix, fg->len) != 0 ||
	    (key[fg->len] != '\0' && (!fg->children ||
	    key[fg->len] != '.')))
		return false;
	(void)pthread_mutex_lock(&f->lock);
	f->gone = true;
	atomic_fetch_add(&f->changes, 1);
	(void)pthread_mutex_unlock(&f->lock);
	if (f->idle) {
		idle_unlink(f);
		folder_free(f);	/* no view, no reference */
	}
	return true;	/* out of the map; its views hold it until closed */
}

void
mbx_folder_forget(int dir_fd, const char *path, bool children)
{
	char key[MBX_PATH_MAX + 16];
	struct forget fg = { key, 0, children };

	if (folder_key(dir_fd, path, key, sizeof(key)) == -1)
		return;
	fg.len = strlen(key);
	(void)pthread_mutex_lock(&reg_lock);
	if (registry != NULL)
		hmap_sweep(registry, forget_one, &fg);
	(void)pthread_mutex_unlock(&reg_lock);
}

/* ---- change detection ---- */

static bool
ts_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Whether MTIME, taken at NOW, may hide a later change in its tick. A
   whole-second mtime suggests a file system of 1-2 s timestamps. */
static bool
is_racy(const struct timespec *mtime, const struct timespec *now)
{
	int64_t gran = mtime->tv_nsec == 0 ? 2000000000LL : 20000000LL;
	int64_t d = ((int64_t)now->tv_sec - mtime->tv_sec) * 1000000000LL +
	    (now->tv_nsec - mtime->tv_nsec);

	/* An mtime far in the future (a file server's clock ahead of
	   ours) would be racy forever: a scan at every poll. */
	return d < gran && d > -gran;
}

static int
dir_mtime(const struct mbx_folder *f, const char *sub, struct timespec *ts)
{
	char path[MBX_PATH_MAX + 8];
	struct stat st;

	if (str_fmt(path, sizeof(path), "%s/%s", f->path, sub) == -1 ||
	    fstatat(f->dir_fd, path, &st, 0) == -1)
		return -1;
	*ts = st.st_mtim;
	return 0;
}

bool
mbx_folder_disk_changed(struct mbx_folder *f)
{
	struct timespec n, c;

	/* A scan every 5 minutes at least bounds what a change hidden in
	   a timestamp tick can cost (see mbx_cur_end()). */
	if (f->racy || clock_mono_ms() - f->last_scan_ms > 300000 ||
	    dir_mtime(f, "new", &n) == -1 ||
	    dir_mtime(f, "cur", &c) == -1)
		return true;
	return !ts_eq(&n, &f->new_mtime) || !ts_eq(&c, &f->cur_mtime);
}

/* ---- scanning ---- */

struct entry {
	char		*name;
	size_t		 base_len;
	bool		 used;
	bool		 in_new;
	bool		 is_reg;	/* d_type said a regular file */
	uint64_t	 order;		/* delivery time, microseconds */
};

struct scan {
	struct entry	*v;
	size_t		 n, cap;
};

static void
scan_free(struct scan *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].name);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static DIR *
open_sub(const struct mbx_folder *f, const char *sub)
{
	char path[MBX_PATH_MAX + 8];
	DIR *d;
	int fd;

	if (str_fmt(path, sizeof(path), "%s/%s", f->path, sub) == -1) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	if ((fd = openat(f->dir_fd, path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		(void)close(fd);
	return d;
}

/* rename(2) that never replaces a file of cur/ (a name delivered twice
   would otherwise overwrite a message): EEXIST then. */
static int
move_noreplace(int dir_fd, const char *from, const char *to)
{
	if (renameat2(dir_fd, from, dir_fd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE: link, then unlink. */
	if (linkat(dir_fd, from, dir_fd, to, 0) == -1)
		return -1;
	return unlinkat(dir_fd, from, 0);
}

/* Moves everything in new/ to cur/ until new/ reads empty (at most 8
   rounds). A file that cannot be moved stays in new/ (and is logged). 0,
   or -1 when new/ cannot be read. */
static int
drain_new(struct mbx_folder *f)
{
	char from[MBX_PATH_MAX + 300], to[MBX_PATH_MAX + 300];
	struct dirent *de;
	unsigned moved, rounds = 0;
	DIR *d;

	do {
		moved = 0;
		if ((d = open_sub(f, "new")) == NULL)
			return -1;
		while ((de = readdir(d)) != NULL) {
			if (!mbx_file_name_ok(de->d_name) ||
			    str_fmt(from, sizeof(from), "%s/new/%s", f->path,
			    de->d_name) == -1 ||
			    str_fmt(to, sizeof(to), "%s/cur/%s%s", f->path,
			    de->d_name, strchr(de->d_name, ':') != NULL ? "" :
			    ":2,") == -1)
				continue;
			if (move_noreplace(f->dir_fd, from, to) == 0)
				moved++;
			else if (errno != ENOENT)
				log_warn("mailbox %s: cannot move %s to cur/: "
				    "%s", f->path, de->d_name,
				    strerror(errno));
		}
		(void)closedir(d);
	} while (moved > 0 && ++rounds < 8);
	return 0;
}

/* The delivery time of a Maildir name "SECONDS.M<usec>...", else 0. */
static uint64_t
name_time(const char *name)
{
	uint64_t sec = 0, usec = 0;
	size_t n = strspn(name, "0123456789");

	if (n == 0 || n > 12 || name[n] != '.' ||
	    str_to_uint_n(name, n, 0, UINT64_MAX, &sec) == -1)
		return 0;
	name += n + 1;
	if (name[0] == 'M' && (n = strspn(name + 1, "0123456789")) > 0 &&
	    n <= 6 && str_to_uint_n(name + 1, n, 0, 999999, &usec) == -1)
		usec = 0;
	return sec * 1000000 + usec;
}

/* The files of SUB ("cur" or "new") into S; its mtime, taken before
   the read, into *MTIME. */
static int
list_sub(struct mbx_folder *f, const char *sub, struct timespec *mtime,
    struct scan *s)
{
	struct dirent *de;
	struct entry *e;
	DIR *d;

	if (dir_mtime(f, sub, mtime) == -1 || (d = open_sub(f, sub)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!mbx_file_name_ok(de->d_name))
			continue;
		if (s->n == s->cap) {
			s->cap = s->cap == 0 ? 256 : s->cap * 2;
			s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
		}
		e = &s->v[s->n++];
		e->name = xstrdup(de->d_name);
		e->base_len = mbx_base_len(de->d_name);
		e->used = false;
		e->in_new = sub[0] == 'n';
		e->is_reg = de->d_type == DT_REG;
		e->order = name_time(de->d_name);
	}
	(void)closedir(d);
	return 0;
}

static int
list_dirs(struct mbx_folder *f, struct scan *s)
{
	return list_sub(f, "cur", &f->cur_mtime, s) == -1 ||
	    list_sub(f, "new", &f->new_mtime, s) == -1 ? -1 : 0;
}

static int
entry_path(const struct mbx_folder *f, const struct entry *e, char *out,
    size_t outsz)
{
	return str_fmt(out, outsz, "%s/%s/%s", f->path, e->in_new ? "new" :
	    "cur", e->name);
}

/* The ,W= size in the base of NAME (BASE_LEN octets), if any. */
static int
name_vsize(const char *name, size_t base_len, uint64_t *size)
{
	const char *w = name;

	while ((w = strstr(w, ",W=")) != NULL && (size_t)(w - name) < base_len) {
		size_t digits = strspn(w + 3, "0123456789");

		if (digits > 0 && digits <= 19 && str_to_uint_n(w + 3, digits,
		    0, UINT64_MAX, size) == 0)
			return 0;
		w += 3;
	}
	return -1;
}

int
mbx_count_vsize(int dir_fd, const char *path, uint64_t *vsize_r)
{
	unsigned char b[64 * 1024];
	uint64_t total = 0;
	bool prev_cr = false, any = false;
	unsigned char last = '\n';
	ssize_t n, i;
	int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return -1;
	while ((n = read(fd, b, sizeof(b))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			(void)close(fd);
			return -1;
		}
		for (i = 0; i < n; i++) {
			if (b[i] == '\n' && !prev_cr)
				total++;
			prev_cr = b[i] == '\r';
		}
		total += (uint64_t)n;
		last = b[n - 1];
		any = true;
	}
	(void)close(fd);
	/* What FETCH sends ends with a line end, as POP3 RETR does. */
	if (any && last != '\n')
		total += 2;
	*vsize_r = total;
	return 0;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a;
	const struct entry *y = *(struct entry *const *)b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The INTERNALDATE of the unknown file E at PATH; -1 when it is no
   regular file (a link planted in cur/ names nothing here) or vanished.
   A file of new/ that readdir called regular and whose name gives its
   delivery time takes that, with no stat(2): nothing but a delivery
   puts files in new/ (APPEND and COPY, which set other dates, write to
   cur/), and a delivery's file is written in the second its name
   gives. */
static int
entry_date(const struct mbx_folder *f, const struct entry *e,
    const char *path, int64_t *date)
{
	struct stat st;

	/* A plausible time only (after 2001, not beyond tomorrow): a name
	   that merely starts with digits is no delivery time. */
	if (e->in_new && e->is_reg && e->order / 1000000 > 1000000000 &&
	    e->order / 1000000 < (uint64_t)clock_now() + 86400) {
		*date = (int64_t)(e->order / 1000000);
		return 0;
	}
	if (fstatat(f->dir_fd, path, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(st.st_mode))
		return -1;
	*date = (int64_t)st.st_mtim.tv_sec;
	return 0;
}

/* Gives the unknown file E the UID UID (0: the next); false when it
   vanished meanwhile. */
static bool
adopt(struct mbx_folder *f, struct entry *e, uint32_t uid)
{
	char path[MBX_PATH_MAX + 300];
	struct mbx_msg m;

	memset(&m, 0, sizeof(m));
	if (entry_path(f, e, path, sizeof(path)) == -1 ||
	    entry_date(f, e, path, &m.idate) == -1)
		return false;
	if (name_vsize(e->name, e->base_len, &m.size) == -1 &&
	    mbx_count_vsize(f->dir_fd, path, &m.size) == -1)
		return false;
	m.uid = uid != 0 ? uid : f->uidnext++;
	m.flags = (uint8_t)mbx_flags_from_name(e->name);
	m.modseq = ++f->highestmodseq;
	m.base_len = (uint16_t)e->base_len;
	m.in_new = e->in_new;
	m.name = e->name;
	e->name = NULL;
	mbx_log_msg(f, mbx_folder_add(f, &m));
	return true;
}

struct hint {
	uint32_t	 uid;
	struct entry	*e;
};

static int
cmp_hint(const void *a, const void *b)
{
	uint32_t x = ((const struct hint *)a)->uid;
	uint32_t y = ((const struct hint *)b)->uid;

	return x < y ? -1 : x > y;
}

/* The first scan after an import of Dovecot's UIDs (mailbox_index.c):
   the files Dovecot knew keep their UIDs, in UID order, and leave V;
   the rest (*N of them, compacted) go on in delivery order. */
static bool
adopt_imported(struct mbx_folder *f, struct entry **v, size_t *n)
{
	char key[MBX_BASE_MAX + 1];
	struct hint *h = xcalloc(*n + 1, sizeof(*h));
	size_t i, k = 0, rest = 0;
	uint32_t last = 0;
	uintptr_t uid;
	bool changed = false;

	for (i = 0; i < *n; i++) {
		(void)str_ncopy(key, v[i]->name, v[i]->base_len, sizeof(key));
		uid = (uintptr_t)hmap_get(f->import, key);
		if (uid != 0 && uid < f->uidnext) {
			h[k].uid = (uint32_t)uid;
			h[k++].e = v[i];
		} else {
			v[rest++] = v[i];
		}
	}
	if (k > 1)
		qsort(h, k, sizeof(*h), cmp_hint);
	for (i = 0; i < k; i++) {
		if (h[i].uid <= last)
			v[rest++] = h[i].e;	/* one UID, two files */
		else if (adopt(f, h[i].e, h[i].uid)) {
			last = h[i].uid;
			changed = true;
		}
	}
	hmap_free(&f->import, NULL);
	free(h);
	*n = rest;
	return changed;
}

/* The files no message claimed, in delivery order, get UIDs. */
static bool
adopt_new(struct mbx_folder *f, struct scan *s)
{
	struct entry **v;
	struct stat st;
	char path[MBX_PATH_MAX + 300];
	size_t i, n = 0;
	bool changed = false;

	v = xreallocarray(NULL, s->n + 1, sizeof(*v));
	for (i = 0; i < s->n; i++) {
		if (s->v[i].used)
			continue;
		if (s->v[i].order == 0 && entry_path(f, &s->v[i], path,
		    sizeof(path)) == 0 && fstatat(f->dir_fd, path, &st, 0) == 0)
			s->v[i].order = (uint64_t)st.st_mtim.tv_sec * 1000000 +
			    (uint64_t)st.st_mtim.tv_nsec / 1000;
		v[n++] = &s->v[i];
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_entry);
	if (f->import != NULL)
		changed = adopt_imported(f, v, &n);
	for (i = 0; i < n; i++) {
		if (f->uidnext == UINT32_MAX) {
			log_warn("mailbox %s: UIDs exhausted", f->path);
			break;
		}
		if (adopt(f, v[i], 0))
			changed = true;
	}
	free(v);
	return changed;
}

/* Compares the index with the listing S; true when anything changed. */
static bool
reconcile(struct mbx_folder *f, struct scan *s)
{
	char key[MBX_BASE_MAX + 1];
	struct hmap *h = hmap_new();
	struct mbx_msg *m;
	uintptr_t e;
	size_t i, keep = 0;
	bool changed = false;
	unsigned flags;

	for (i = 0; i < s->n; i++) {
		(void)str_ncopy(key, s->v[i].name, s->v[i].base_len,
		    sizeof(key));
		if (hmap_get(h, key) == NULL)
			(void)hmap_put(h, key, (void *)(uintptr_t)(i + 1));
		else
			s->v[i].used = true;	/* twice: the first counts */
	}
	for (i = 0; i < f->n; i++) {
		m = &f->msgs[i];
		(void)str_ncopy(key, m->name, m->base_len, sizeof(key));
		if ((e = (uintptr_t)hmap_get(h, key)) == 0 ||
		    s->v[e - 1].used) {
			mbx_folder_tomb(f, m->uid, ++f->highestmodseq);
			mbx_log_expunge(f, m->uid, f->highestmodseq);
			mbx_msg_free(m);
			changed = true;
			continue;
		}
		s->v[e - 1].used = true;
		if (strcmp(m->name, s->v[e - 1].name) != 0) {
			free(m->name);
			m->name = s->v[e - 1].name;
			s->v[e - 1].name = NULL;
		}
		m->in_new = s->v[e - 1].in_new;
		flags = mbx_flags_from_name(m->name);
		if (flags != m->flags) {
			m->flags = (uint8_t)flags;
			m->modseq = ++f->highestmodseq;
			m->writer = 0;
			mbx_log_flags(f, m);
			changed = true;
		}
		f->msgs[keep++] = *m;
	}
	f->n = keep;
	hmap_free(&h, NULL);
	return adopt_new(f, s) || changed;
}

int
mbx_folder_sync(struct mbx_folder *f, bool force, struct mailbox_err *err)
{
	struct timespec now;
	struct scan s;
	bool changed, imported;

	if (f->gone) {
		mbx_err(err, MAILBOX_ERR_GONE, "the folder was deleted");
		return -1;
	}
	if (!force && !mbx_folder_disk_changed(f))
		return 0;
	memset(&s, 0, sizeof(s));
	(void)clock_gettime(CLOCK_REALTIME, &now);
	if (list_dirs(f, &s) == -1) {
		mbx_err(err, MAILBOX_ERR_TEMP, "%s: cannot list: %s", f->path,
		    strerror(errno));
		scan_free(&s);
		return -1;
	}
	imported = f->import != NULL;
	changed = reconcile(f, &s);
	scan_free(&s);
	f->racy = is_racy(&f->new_mtime, &now) || is_racy(&f->cur_mtime, &now);
	f->last_scan_ms = clock_mono_ms();
	if (!changed)
		return 0;
	atomic_fetch_add(&f->changes, 1);
	/* UIDs taken over lie below UIDNEXT: a snapshot holds them, a log
	   only ever adds UIDs above it. */
	if (imported)
		return mbx_index_compact(f, err);
	return mbx_index_commit(f, true, err);
}

int
mbx_folder_empty_new(struct mbx_folder *f, struct mailbox_err *err)
{
	if (drain_new(f) == -1) {
		mbx_err(err, MAILBOX_ERR_TEMP, "%s: cannot list new/: %s",
		    f->path, strerror(errno));
		return -1;
	}
	/* The scan finds each file under its new name by its base, and
	   whatever was delivered meanwhile. */
	return mbx_folder_sync(f, true, err);
}

bool
mbx_cur_begin(struct mbx_folder *f)
{
	struct timespec c;

	return !f->racy && dir_mtime(f, "cur", &c) == 0 &&
	    ts_eq(&c, &f->cur_mtime);
}

/* Only cur/: a file renamed out of new/ (its first flags) changes the
   mtime of new/, and the next look at the folder scans it once, so a
   delivery in the same moment is never taken for our own change. */
void
mbx_cur_end(struct mbx_folder *f, bool was_current)
{
	struct timespec c;

	/* XXX: a program renaming a file in cur/ in the same timestamp
	   tick as our own last change is seen only by the next scan (at
	   most 5 minutes later, or at the next SELECT). */
	if (was_current && dir_mtime(f, "cur", &c) == 0)
		f->cur_mtime = c;
}

/* ---- for POP3 ---- */

/* Whether the directory SUB of PATH holds a file of NAME's base; its
   path into OUT. 1, 0, -1. */
static int
find_in(int dir_fd, const char *path, const char *sub, const char *name,
    char *out, size_t outsz)
{
	char dir[MBX_PATH_MAX + 8];
	size_t base = mbx_base_len(name);
	struct dirent *de;
	int fd, r = 0;
	DIR *d;

	if (str_fmt(dir, sizeof(dir), "%s/%s", path, sub) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = fs_open_dir(dir_fd, dir)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while (r == 0 && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && strncmp(de->d_name, name, base) ==
		    0 && (de->d_name[base] == '\0' || de->d_name[base] == ':'))
			r = str_fmt(out, outsz, "%s/%s", dir, de->d_name) == 0 ?
			    1 : -1;
	(void)closedir(d);
	return r;
}

int
mailbox_file_find(int dir_fd, const char *path, const char *name, char *out,
    size_t outsz)
{
	static const struct {
		const char	*sub, *suffix;
	} guess[] = { { "new", "" }, { "cur", "" }, { "cur", ":2," } };
	struct stat st;
	size_t i;
	int r;

	if (!mbx_file_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	/* The usual cases first: where it was, or moved by a first sync. */
	for (i = 0; i < nitems(guess); i++) {
		if (i == 2 && strchr(name, ':') != NULL)
			break;
		if (str_fmt(out, outsz, "%s/%s/%s%s", path, guess[i].sub, name,
		    guess[i].suffix) == 0 &&
		    fstatat(dir_fd, out, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			return 1;
	}
	if ((r = find_in(dir_fd, path, "cur", name, out, outsz)) != 0)
		return r;
	return find_in(dir_fd, path, "new", name, out, outsz);
}
