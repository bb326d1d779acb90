/*
 * mailbox_user.c - a user's folders (Maildir++ as Dovecot lays it out):
 * LIST, CREATE, DELETE, RENAME, SUBSCRIBE (RFC 9051 6.3), SPECIAL-USE
 * (RFC 6154), STATUS (6.3.11) and the usage QUOTA reports (RFC 9208).
 *
 * Folder ".A.B" is a directory of the user's Maildir holding cur/ new/
 * tmp/ and an empty maildirfolder file. Subscriptions are Dovecot's
 * "subscriptions" file ("V\t2\n\n", then one name a line, its levels
 * separated by TAB, in modified UTF-7), read in its version 1 form too.
 * SPECIAL-USE is popgate-special-use ("Use<TAB>name" lines, UTF-8);
 * its presence also says the defaults were made once, so a user who
 * deletes Junk does not get it back. Changes to these files are
 * serialised by one lock for the process (they are rare).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "mailbox/mailbox_int.h"
#include "maildir/maildir.h"
#include "util/fsutil.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define SUBS_FILE	"subscriptions"
#define SU_FILE		"popgate-special-use"
#define META_MAX	(1024 * 1024)

static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct {
	const char	*name;		/* the default folder, and the word */
	unsigned	 use;
} uses[] = {
	{ "Sent", MAILBOX_USE_SENT },
	{ "Drafts", MAILBOX_USE_DRAFTS },
	{ "Trash", MAILBOX_USE_TRASH },
	{ "Junk", MAILBOX_USE_JUNK },
	{ "Archive", MAILBOX_USE_ARCHIVE },
};

static int
meta_path(const struct mailbox_user *u, const char *file, char *out,
    size_t outsz)
{
	return str_fmt(out, outsz, "%s/%s", u->root, file);
}

static int
meta_write(const struct mailbox_user *u, const char *file,
    const struct buf *b)
{
	char path[MBX_PATH_MAX + 32];

	if (meta_path(u, file, path, sizeof(path)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return fs_write_atomic_at(u->dir_fd, path, b->len > 0 ? b->data : "",
	    b->len, 0600);
}

/* Reads FILE of the user's Maildir into B ("" when missing). */
static int
meta_read(const struct mailbox_user *u, const char *file, struct buf *b)
{
	char path[MBX_PATH_MAX + 32];

	if (meta_path(u, file, path, sizeof(path)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (fs_read_file_at(u->dir_fd, path, b) == -1 && errno != ENOENT)
		return -1;
	(void)buf_putc(b, '\0');
	b->len--;
	return 0;
}

/* ---- subscriptions ---- */

/* One line of the file to a UTF-8 name; false for a line to skip. */
static bool
subs_decode(char *line, bool v2, char *out, size_t outsz)
{
	char *p;

	if (v2)
		for (p = line; *p != '\0'; p++)
			if (*p == '\t')
				*p = '.';
	if (*line == '\0')
		return false;
	if (mailbox_mutf7_to_utf8(line, out, outsz) == -1 &&
	    str_copy(out, line, outsz) == -1)
		return false;
	if (mbx_is_inbox(out))
		(void)str_copy(out, "INBOX", outsz);
	return mailbox_name_valid(out);
}

static int
subs_load(const struct mailbox_user *u, struct strlist *l)
{
	char name[MAILBOX_NAME_MAX + 1], *line, *nl;
	struct buf b;
	bool v2;

	buf_init(&b, META_MAX);
	if (meta_read(u, SUBS_FILE, &b) == -1) {
		buf_free(&b);
		return -1;
	}
	line = b.len > 0 ? b.data : (char *)"";
	v2 = strncmp(line, "V\t2\n\n", 5) == 0;
	if (v2)
		line += 5;
	for (; *line != '\0'; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			nl = line + strlen(line) - 1;
		else
			*nl = '\0';
		if (subs_decode(line, v2, name, sizeof(name)) &&
		    !strlist_has(l, name, false))
			strlist_add(l, name);
		if (nl[1] == '\0')
			break;
	}
	buf_free(&b);
	return 0;
}

static int
subs_save(const struct mailbox_user *u, const struct strlist *l)
{
	char enc[4 * MAILBOX_NAME_MAX], *p;
	struct buf b;
	size_t i;
	int r;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_append_str(&b, "V\t2\n\n");
	for (i = 0; i < l->n; i++) {
		if (mailbox_utf8_to_mutf7(l->v[i], enc, sizeof(enc)) == -1)
			continue;
		for (p = enc; *p != '\0'; p++)
			if (*p == '.')
				*p = '\t';
		(void)buf_printf(&b, "%s\n", enc);
	}
	r = meta_write(u, SUBS_FILE, &b);
	buf_free(&b);
	return r;
}

/* ---- SPECIAL-USE ---- */

struct su {
	char		 name[nitems(uses)][MAILBOX_NAME_MAX + 1];
};

/* 1 loaded, 0 no file yet, -1 error. */
static int
su_load(const struct mailbox_user *u, struct su *su)
{
	char path[MBX_PATH_MAX + 32], *line, *nl, *tab;
	struct buf b;
	struct stat st;
	size_t i;

	memset(su, 0, sizeof(*su));
	if (meta_path(u, SU_FILE, path, sizeof(path)) == -1)
		return -1;
	if (fstatat(u->dir_fd, path, &st, 0) == -1)
		return errno == ENOENT ? 0 : -1;
	buf_init(&b, META_MAX);
	if (meta_read(u, SU_FILE, &b) == -1) {
		buf_free(&b);
		return -1;
	}
	for (line = b.len > 0 ? b.data : (char *)""; *line != '\0';
	    line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			break;
		*nl = '\0';
		if ((tab = strchr(line, '\t')) == NULL)
			continue;
		*tab = '\0';
		for (i = 0; i < nitems(uses); i++)
			if (strcmp(line, uses[i].name) == 0 &&
			    mailbox_name_valid(tab + 1))
				(void)str_copy(su->name[i], tab + 1,
				    sizeof(su->name[i]));
	}
	buf_free(&b);
	return 1;
}

static int
su_save(const struct mailbox_user *u, const struct su *su)
{
	struct buf b;
	size_t i;
	int r;

	buf_init(&b, BUF_UNLIMITED);
	for (i = 0; i < nitems(uses); i++)
		if (su->name[i][0] != '\0')
			(void)buf_printf(&b, "%s\t%s\n", uses[i].name,
			    su->name[i]);
	r = meta_write(u, SU_FILE, &b);
	buf_free(&b);
	return r;
}

static unsigned
su_of(const struct su *su, const char *name)
{
	unsigned use = 0;
	size_t i;

	for (i = 0; i < nitems(uses); i++)
		if (strcmp(su->name[i], name) == 0)
			use |= uses[i].use;
	return use;
}

/* ---- folder directories ---- */

/* Makes the folder directory PATH (a Maildir with maildirfolder).
   1 made, 0 it existed, -1 error. */
static int
make_folder_dir(const struct mailbox_user *u, const char *path)
{
	char mf[MBX_PATH_MAX + 16], cur[MBX_PATH_MAX + 8];
	struct stat st;
	bool made;
	int fd;

	if (str_fmt(cur, sizeof(cur), "%s/cur", path) == -1 ||
	    str_fmt(mf, sizeof(mf), "%s/maildirfolder", path) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	made = fstatat(u->dir_fd, cur, &st, 0) == -1;
	if (!made)
		return 0;
	if (maildir_create_path(u->dir_fd, path) == -1)
		return -1;
	fd = openat(u->dir_fd, mf, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1 || fsync(fd) == -1) {
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	if (close(fd) == -1 || fs_fsync_dir_at(u->dir_fd, path) == -1)
		return -1;
	return 1;
}

/* The folder names of the user (not INBOX), UTF-8, into L. */
static int
scan_folders(const struct mailbox_user *u, struct strlist *l)
{
	char name[MAILBOX_NAME_MAX + 1];
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = fs_open_dir(u->dir_fd, u->root)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] != '.' || de->d_name[1] == '\0' ||
		    de->d_name[1] == '.' ||
		    mailbox_mutf7_to_utf8(de->d_name + 1, name,
		    sizeof(name)) == -1 || !mailbox_name_valid(name) ||
		    mbx_is_inbox(name))
			continue;
		if (de->d_type != DT_DIR && (de->d_type != DT_UNKNOWN ||
		    fstatat(dirfd(d), de->d_name, &st, 0) == -1 ||
		    !S_ISDIR(st.st_mode)))
			continue;
		strlist_add(l, name);
	}
	(void)closedir(d);
	return 0;
}

static bool
folder_exists(const struct mailbox_user *u, const char *name)
{
	char path[MBX_PATH_MAX], cur[MBX_PATH_MAX + 8];
	struct stat st;

	return mbx_folder_path(u->root, name, path, sizeof(path)) == 0 &&
	    str_fmt(cur, sizeof(cur), "%s/cur", path) == 0 &&
	    fstatat(u->dir_fd, cur, &st, 0) == 0;
}

/* Whether some name of L is below NAME. */
static bool
has_children(const struct strlist *l, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < l->n; i++)
		if (strncmp(l->v[i], name, n) == 0 && l->v[i][n] == '.')
			return true;
	return false;
}

/* ---- open ---- */

/* The first open of a Maildir: the SPECIAL-USE folders (RFC 6154). */
static int
make_defaults(struct mailbox_user *u)
{
	char path[MBX_PATH_MAX];
	struct strlist subs;
	struct su su;
	size_t i;
	int r = -1;

	memset(&su, 0, sizeof(su));
	strlist_init(&subs);
	if (subs_load(u, &subs) == -1)
		goto out;
	if (!strlist_has(&subs, "INBOX", false))
		strlist_add(&subs, "INBOX");
	for (i = 0; i < nitems(uses); i++) {
		if (mbx_folder_path(u->root, uses[i].name, path,
		    sizeof(path)) == -1 || make_folder_dir(u, path) == -1)
			goto out;
		(void)str_copy(su.name[i], uses[i].name, sizeof(su.name[i]));
		if (!strlist_has(&subs, uses[i].name, false))
			strlist_add(&subs, uses[i].name);
	}
	if (subs_save(u, &subs) == 0 && su_save(u, &su) == 0)
		r = 0;
out:
	strlist_free(&subs);
	return r;
}

struct mailbox_user *
mailbox_user_open(int dir_fd, const char *path, const char *hostname,
    struct mailbox_err *err)
{
	struct mailbox_user *u = xcalloc(1, sizeof(*u));
	struct su su;
	int r;

	u->dir_fd = dir_fd;
	if (str_copy(u->root, path, sizeof(u->root) - 300) == -1 ||
	    str_copy(u->host, hostname, sizeof(u->host)) == -1) {
		mbx_err(err, MAILBOX_ERR_CANNOT, "mailbox path too long");
		goto fail;
	}
	if (maildir_create_path(dir_fd, path) == -1) {
		mbx_err(err, MAILBOX_ERR_TEMP, "%s: %s", path, strerror(errno));
		goto fail;
	}
	(void)pthread_mutex_lock(&meta_lock);
	r = su_load(u, &su);
	if (r == 0)
		r = make_defaults(u) == 0 ? 1 : -1;
	(void)pthread_mutex_unlock(&meta_lock);
	if (r == -1) {
		mbx_err(err, MAILBOX_ERR_TEMP, "%s: cannot make the folders: "
		    "%s", path, strerror(errno));
		goto fail;
	}
	return u;
fail:
	free(u);
	return NULL;
}

void
mailbox_user_free(struct mailbox_user **up)
{
	free(*up);
	*up = NULL;
}

/* ---- LIST ---- */

void
mailbox_list_free(struct mailbox_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void
list_add(struct mailbox_list *l, const char *name, unsigned attrs)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return;
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	(void)str_copy(l->v[l->n].name, name, sizeof(l->v[0].name));
	l->v[l->n++].attrs = attrs;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct mailbox_entry *x = a, *y = b;

	if (strcmp(x->name, "INBOX") == 0)
		return strcmp(y->name, "INBOX") == 0 ? 0 : -1;
	if (strcmp(y->name, "INBOX") == 0)
		return 1;
	return strcmp(x->name, y->name);
}

/* The attributes of NAME among NAMES (existing folders). */
static unsigned
attrs_of(const struct strlist *names, const struct strlist *subs,
    const struct su *su, const char *name)
{
	unsigned a = su_of(su, name);

	if (!strlist_has(names, name, false))
		a |= MAILBOX_ATTR_NONEXISTENT | MAILBOX_ATTR_NOSELECT;
	a |= has_children(names, name) ? MAILBOX_ATTR_HASCHILDREN :
	    MAILBOX_ATTR_HASNOCHILDREN;
	if (strlist_has(subs, name, false))
		a |= MAILBOX_ATTR_SUBSCRIBED;
	return a;
}

/* Parents of existing names that do not exist themselves. */
static void
list_parents(struct mailbox_list *out, const struct strlist *names,
    const struct strlist *subs, const struct su *su, const char *pattern)
{
	char prefix[MAILBOX_NAME_MAX + 1];
	const char *dot;
	size_t i;

	for (i = 0; i < names->n; i++) {
		for (dot = strchr(names->v[i], '.'); dot != NULL;
		    dot = strchr(dot + 1, '.')) {
			(void)str_ncopy(prefix, names->v[i],
			    (size_t)(dot - names->v[i]), sizeof(prefix));
			if (!strlist_has(names, prefix, false) &&
			    mailbox_pattern_match(pattern, prefix))
				list_add(out, prefix, attrs_of(names, subs, su,
				    prefix));
		}
	}
}

int
mailbox_list(struct mailbox_user *u, const char *pattern, unsigned flags,
    struct mailbox_list *out, struct mailbox_err *err)
{
	struct strlist names, subs;
	struct su su;
	size_t i, plen = strlen(pattern);
	int r = -1;

	memset(out, 0, sizeof(*out));
	strlist_init(&names);
	strlist_init(&subs);
	strlist_add(&names, "INBOX");
	(void)pthread_mutex_lock(&meta_lock);
	if (scan_folders(u, &names) == -1 || subs_load(u, &subs) == -1 ||
	    su_load(u, &su) == -1) {
		(void)pthread_mutex_unlock(&meta_lock);
		mbx_err(err, MAILBOX_ERR_TEMP, "%s: %s", u->root,
		    strerror(errno));
		goto out;
	}
	(void)pthread_mutex_unlock(&meta_lock);
	if (flags & MAILBOX_LIST_SUBSCRIBED) {
		for (i = 0; i < subs.n; i++)
			if (mailbox_pattern_match(pattern, subs.v[i]))
				list_add(out, subs.v[i], attrs_of(&names,
				    &subs, &su, subs.v[i]));
	} else {
		for (i = 0; i < names.n; i++)
			if (mailbox_pattern_match(pattern, names.v[i]))
				list_add(out, names.v[i], attrs_of(&names,
				    &subs, &su, names.v[i]));
		/* RFC 9051 6.3.9: with '%' last, the levels above matching
		   names are listed too, \NonExistent when they are not
		   folders. */
		if (plen > 0 && pattern[plen - 1] == '%')
			list_parents(out, &names, &subs, &su, pattern);
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_entry);
	r = 0;
out:
	strlist_free(&names);
	strlist_free(&subs);
	return r;
}

/* ---- CREATE ---- */

/* Under the meta lock: NAME's parents and NAME as folders. */
static int
create_locked(struct mailbox_user *u, const char *name,
    struct mailbox_err *err)
{
	char prefix[MAILBOX_NAME_MAX + 1], path[MBX_PATH_MAX];
	const char *dot;

	if (folder_exists(u, name)) {
		mbx_err(err, MAILBOX_ERR_EXISTS, "the folder exists");
		return -1;
	}
	for (dot = strchr(name, '.'); dot != NULL; dot = strchr(dot + 1, '.')) {
		(void)str_ncopy(prefix, name, (size_t)(dot - name),
		    sizeof(prefix));
		if (mbx_folder_path(u->root, prefix, path, sizeof(path)) == -1 ||
		    make_folder_dir(u, path) == -1)
			goto fail;
	}
	if (mbx_folder_path(u->root, name, path, sizeof(path)) == -1) {
		mbx_err(err, MAILBOX_ERR_CANNOT, "name too long");
		return -1;
	}
	if (make_folder_dir(u, path) == -1)
		goto fail;
	/* A folder of that name deleted earlier may still have a state
	   held by a view: it is not this folder. */
	mbx_folder_forget(u->dir_fd, path, false);
	return 0;
fail:
	mbx_err(err, MAILBOX_ERR_TEMP, "%s: %s", name, strerror(errno));
	return -1;
}

int
mailbox_create(struct mailbox_user *u, const char *name, unsigned use,
    struct mailbox_err *err)
{
	struct su su;
	size_t i;
	int r;

	if (mbx_is_inbox(name)) {
		mbx_err(err, MAILBOX_ERR_EXISTS, "INBOX always exists");
		return -1;
	}
	if (!mailbox_name_valid(name)) {
		mbx_err(err, MAILBOX_ERR_CANNOT, "invalid folder name");
		return -1;
	}
	(void)pthread_mutex_lock(&meta_lock);
	r = create_locked(u, name, err);
	if (r == 0 && (use & MAILBOX_USE_ALL) != 0) {
		if (su_load(u, &su) == -1)
			memset(&su, 0, sizeof(su));
		for (i = 0; i < nitems(uses); i++)
			if (use & uses[i].use)
				(void)str_copy(su.name[i], name,
				    sizeof(su.name[i]));
		if (su_save(u, &su) == -1) {
			mbx_err(err, MAILBOX_ERR_TEMP, "special-use: %s",
			    strerror(errno));
			r = -1;
		}
	}
	(void)pthread_mutex_unlock(&meta_lock);
	return r;
}

/* ---- DELETE ---- */

/* Removes the tree at PATH below DIR_FD: a folder is files and the
   directories cur/ new/ tmp/ of files (depth 2 is enough; deeper
   content is left in tmp/, never followed). */
static int
remove_tree(int dir_fd, const char *path, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if ((fd = openat(dir_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			continue;
		if ((errno != EISDIR && errno != EPERM) || depth == 0 ||
		    remove_tree(dirfd(d), de->d_name, depth - 1) == -1)
			r = -1;
	}
	(void)closedir(d);
	if (r == 0 && unlinkat(dir_fd, path, AT_REMOVEDIR) == -1)
		r = -1;
	return r;
}

static void
su_drop(struct mailbox_user *u, const char *from, const char *to)
{
	struct su su;
	size_t i, n = strlen(from);
	bool changed = false;

	if (su_load(u, &su) != 1)
		return;
	for (i = 0; i < nitems(uses); i++) {
		if (strncmp(su.name[i], from, n) != 0 ||
		    (su.name[i][n] != '\0' && (to == NULL ||
		    su.name[i][n] != '.')))
			continue;
		if (to == NULL) {
			su.name[i][0] = '\0';
		} else {
			char nn[MAILBOX_NAME_MAX + 1];

			if (str_fmt(nn, sizeof(nn), "%s%s", to,
			    su.name[i] + n) == -1)
				continue;
			(void)str_copy(su.name[i], nn, sizeof(su.name[i]));
		}
		changed = true;
	}
	if (changed)
		(void)su_save(u, &su);
}

int
mailbox_delete(struct mailbox_user *u, const char *name,
    struct mailbox_err *err)
{
	char path[MBX_PATH_MAX], gone[MBX_PATH_MAX + 64];
	struct strlist names;
	unsigned char rnd[8];
	int r = -1;

	if (mbx_is_inbox(name) || !mailbox_name_valid(name)) {
		mbx_err(err, MAILBOX_ERR_CANNOT, "cannot delete %s",
		    mbx_is_inbox(name) ? "INBOX" : "an invalid name");
		return -1;
	}
	strlist_init(&names);
	(void)pthread_mutex_lock(&meta_lock);
	if (!folder_exists(u, name)) {
		(void)scan_folders(u, &names);
		mbx_err(err, has_children(&names, name) ? MAILBOX_ERR_CANNOT :
		    MAILBOX_ERR_NONEXISTENT, has_children(&names, name) ?
		    "a name with children and no messages" : "no such folder");
		goto out;
	}
	if (mbx_folder_path(u->root, name, path, sizeof(path)) == -1 ||
	    RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    str_fmt(gone, sizeof(gone), "%s/tmp/popgate-deleted-%02x%02x%02x"
	    "%02x%02x%02x%02x%02x", u->root, rnd[0], rnd[1], rnd[2], rnd[3],
	    rnd[4], rnd[5], rnd[6], rnd[7]) == -1) {
		mbx_err(err, MAILBOX_ERR_TEMP, "cannot name the deleted folder");
		goto out;
	}
	mbx_folder_forget(u->dir_fd, path, false);
	/* One rename takes it out of every listing at once; the files go
	   after. */
	if (renameat(u->dir_fd, path, u->dir_fd, gone) == -1 ||
	    fs_fsync_dir_at(u->dir_fd, u->root) == -1) {
		mbx_err(err, MAILBOX_ERR_TEMP, "%s: %s", name, strerror(errno));
		goto out;
	}
	(void)remove_tree(u->dir_fd, gone, 2);
	su_drop(u, name, NULL);
	r = 0;
out:
	(void)pthread_mutex_unlock(&meta_lock);
	strlist_free(&names);
	return r;
}

/* ---- RENAME ---- */

/* Renames the subscriptions at or below FROM to TO. */
static void
subs_rename(struct mailbox_user *u, const char *from, const char *to)
{
	char nn[MAILBOX_NAME_MAX + 1];
	struct strlist subs;
	size_t i, n = strlen(from);
	bool changed = false;

	strlist_init(&subs);
	if (subs_load(u, &subs) == 0) {
		for (i = 0; i < subs.n; i++) {
			if (strncmp(subs.v[i], from, n) != 0 ||
			    (subs.v[i][n] != '\0' && subs.v[i][n] != '.') ||
			    str_fmt(nn, sizeof(nn), "%s%s", to,
			    subs.v[i] + n) == -1)
				continue;
			free(subs.v[i]);
			subs.v[i] = xstrdup(nn);
			changed = true;
		}
		if (changed)
			(void)subs_save(u, &subs);
	}
	strlist_free(&subs);
}

/* Under the meta lock: the renames of FROM and its children. */
static int
rename_tree(struct mailbox_user *u, const struct strlist *names,
    const char *from, const char *to, struct mailbox_err *err)
{
	char nn[MAILBOX_NAME_MAX + 1], a[MBX_PATH_MAX], b[MBX_PATH_MAX];
	size_t i, n = strlen(from), pass;

	/* Pass 0 checks every target, pass 1 renames. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < names->n; i++) {
			const char *s = names->v[i];

			if (strncmp(s, from, n) != 0 ||
			    (s[n] != '\0' && s[n] != '.'))
				continue;
			if (str_fmt(nn, sizeof(nn), "%s%s", to, s + n) == -1 ||
			    !mailbox_name_valid(nn) ||
			    mbx_folder_path(u->root, s, a, sizeof(a)) == -1 ||
			    mbx_folder_path(u->root, nn, b, sizeof(b)) == -1) {
				mbx_err(err, MAILBOX_ERR_CANNOT, "name too "
				    "long");
				return -1;
			}
			if (pass == 0 && strlist_has(names, nn, false)) {
				mbx_err(err, MAILBOX_ERR_EXISTS, "%s exists",
				    nn);
				return -1;
			}
			if (pass == 1 && renameat(u->dir_fd, a, u->dir_fd,
			    b) == -1) {
				mbx_err(err, MAILBOX_ERR_TEMP, "%s: %s", s,
				    strerror(errno));
				return -1;
			}
		}
		if (pass == 0 && mbx_folder_path(u->root, from, a,
		    sizeof(a)) == 0)
			mbx_folder_forget(u->dir_fd, a, true);
	}
	return fs_fsync_dir_at(u->dir_fd, u->root) == -1 ? -1 : 0;
}

/* RFC 9051 6.3.6: INBOX's messages move to a new folder TO. */
static int
rename_inbox(struct mailbox_user *u, const char *to, struct mailbox_err *err)
{
	struct mailbox_copy_result res;
	struct mbx_folder *f;
	uint32_t *uids;
	size_t i, n;
	int r;

	(void)pthread_mutex_lock(&meta_lock);
	r = create_locked(u, to, err);
	(void)pthread_mutex_unlock(&meta_lock);
	if (r == -1 || (f = mbx_folder_get(u->dir_fd, u->root, err)) == NULL)
		return -1;
	(void)pthread_mutex_lock(&f->lock);
	n = f->n;
	uids = xcalloc(n + 1, sizeof(*uids));
	for (i = 0; i < n; i++)
		uids[i] = f->msgs[i].uid;
	(void)pthread_mutex_unlock(&f->lock);
	r = mbx_copy(u, f, 0, uids, n, to, true, &res, err);
	if (r == 0)
		mailbox_copy_result_free(&res);
	free(uids);
	mbx_folder_put(&f);
	return r;
}

int
mailbox_rename(struct mailbox_user *u, const char *from, const char *to,
    struct mailbox_err *err)
{
	struct strlist names;
	size_t n = strlen(from);
	int r = -1;

	if (!mailbox_name_valid(from) || !mailbox_name_valid(to) ||
	    mbx_is_inbox(to)) {
		mbx_err(err, MAILBOX_ERR_CANNOT, "invalid folder name");
		return -1;
	}
	if (mbx_is_inbox(from))
		return rename_inbox(u, to, err);
	if (strncmp(to, from, n) == 0 && (to[n] == '\0' || to[n] == '.')) {
		mbx_err(err, MAILBOX_ERR_CANNOT, "cannot rename a folder "
		    "into itself");
		return -1;
	}
	strlist_init(&names);
	(void)pthread_mutex_lock(&meta_lock);
	if (!folder_exists(u, from)) {
		mbx_err(err, MAILBOX_ERR_NONEXISTENT, "no such folder");
	} else if (folder_exists(u, to)) {
		mbx_err(err, MAILBOX_ERR_EXISTS, "the target exists");
	} else if (scan_folders(u, &names) == -1) {
		mbx_err(err, MAILBOX_ERR_TEMP, "%s", strerror(errno));
	} else if (rename_tree(u, &names, from, to, err) == 0) {
		subs_rename(u, from, to);
		su_drop(u, from, to);
		r = 0;
	}
	(void)pthread_mutex_unlock(&meta_lock);
	strlist_free(&names);
	return r;
}

/* ---- SUBSCRIBE ---- */

int
mailbox_subscribe(struct mailbox_user *u, const char *name, bool on,
    struct mailbox_err *err)
{
	struct strlist subs;
	const char *n = mbx_is_inbox(name) ? "INBOX" : name;
	size_t i;
	int r = 0;

	if (!mailbox_name_valid(name)) {
		mbx_err(err, MAILBOX_ERR_CANNOT, "invalid folder name");
		return -1;
	}
	strlist_init(&subs);
	(void)pthread_mutex_lock(&meta_lock);
	if (subs_load(u, &subs) == -1) {
		r = -1;
	} else if (on && !strlist_has(&subs, n, false)) {
		strlist_add(&subs, n);
		r = subs_save(u, &subs);
	} else if (!on) {
		for (i = 0; i < subs.n; i++) {
			if (strcmp(subs.v[i], n) != 0)
				continue;
			free(subs.v[i]);
			subs.v[i] = subs.v[--subs.n];
			r = subs_save(u, &subs);
			break;
		}
	}
	(void)pthread_mutex_unlock(&meta_lock);
	strlist_free(&subs);
	if (r == -1)
		mbx_err(err, MAILBOX_ERR_TEMP, "subscriptions: %s",
		    strerror(errno));
	return r;
}

/* ---- STATUS, QUOTA ---- */

int
mailbox_status(struct mailbox_user *u, const char *name,
    struct mailbox_status *st, struct mailbox_err *err)
{
	char path[MBX_PATH_MAX];
	struct mbx_folder *f;
	size_t i;

	memset(st, 0, sizeof(*st));
	if (mbx_folder_path(u->root, name, path, sizeof(path)) == -1) {
		mbx_err(err, MAILBOX_ERR_NONEXISTENT, "no such folder");
		return -1;
	}
	if ((f = mbx_folder_get(u->dir_fd, path, err)) == NULL)
		return -1;
	(void)pthread_mutex_lock(&f->lock);
	st->messages = (uint32_t)f->n;
	for (i = 0; i < f->n; i++) {
		st->unseen += !(f->msgs[i].flags & MAILBOX_SEEN);
		st->deleted += (f->msgs[i].flags & MAILBOX_DELETED) != 0;
		st->recent += f->msgs[i].uid >= f->recent_floor;
		st->size += f->msgs[i].size;
	}
	st->uidnext = f->uidnext;
	st->uidvalidity = f->uidvalidity;
	st->highestmodseq = f->highestmodseq;
	(void)pthread_mutex_unlock(&f->lock);
	mbx_folder_put(&f);
	return 0;
}

/* Files and octets in new/ and cur/ of the folder at PATH. */
static int
usage_of(int dir_fd, const char *path, uint64_t *octets, uint64_t *msgs)
{
	static const char *const subs[] = { "new", "cur" };
	char dir[MBX_PATH_MAX + 8];
	struct dirent *de;
	uint64_t v;
	size_t i;
	DIR *d;
	int fd;

	for (i = 0; i < nitems(subs); i++) {
		if (str_fmt(dir, sizeof(dir), "%s/%s", path, subs[i]) == -1)
			return -1;
		if ((fd = fs_open_dir(dir_fd, dir)) == -1) {
			if (errno == ENOENT)
				continue;
			return -1;
		}
		if ((d = fdopendir(fd)) == NULL) {
			(void)close(fd);
			return -1;
		}
		while ((de = readdir(d)) != NULL) {
			const char *s = strstr(de->d_name, ",S=");
			struct stat sb;

			if (de->d_name[0] == '.')
				continue;
			(*msgs)++;
			if (s != NULL && str_to_uint_n(s + 3, strspn(s + 3,
			    "0123456789"), 0, UINT64_MAX, &v) == 0)
				*octets += v;
			else if (fstatat(dirfd(d), de->d_name, &sb, 0) == 0)
				*octets += (uint64_t)sb.st_size;
		}
		(void)closedir(d);
	}
	return 0;
}

int
mailbox_quota_usage(struct mailbox_user *u, uint64_t *octets_r,
    uint64_t *messages_r, struct mailbox_err *err)
{
	char path[MBX_PATH_MAX];
	struct strlist names;
	uint64_t octets = 0, msgs = 0;
	size_t i;
	int r = 0;

	strlist_init(&names);
	strlist_add(&names, "INBOX");
	if (scan_folders(u, &names) == -1)
		r = -1;
	for (i = 0; r == 0 && i < names.n; i++)
		if (mbx_folder_path(u->root, names.v[i], path,
		    sizeof(path)) == 0 &&
		    usage_of(u->dir_fd, path, &octets, &msgs) == -1)
			r = -1;
	strlist_free(&names);
	if (r == -1) {
		mbx_err(err, MAILBOX_ERR_TEMP, "%s: %s", u->root,
		    strerror(errno));
		return -1;
	}
	*octets_r = octets;
	*messages_r = msgs;
	return 0;
}
