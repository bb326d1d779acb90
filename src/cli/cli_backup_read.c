/*
 * cli_backup_read.c - a backup of cli_backup.c as `popgate restore`
 * (cli_restore.c) reads it: the manifest, parsed and checked (the
 * format this popgate writes, complete=yes, the files it names there),
 * and the check that every queued message of the backup reads as the
 * queue manager would read it, as many as the manifest says. Also the
 * check both commands make as root of the data directory they read or
 * write: no symbolic link where its files are.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "queue/queue.h"
#include "util/fsutil.h"
#include "util/compat.h"

#define MANIFEST_MAX	(64 * 1024)

const char *
cli_manifest_get(const struct cli_manifest *m, const char *key,
    const char *def)
{
	size_t i, n = strlen(key);

	for (i = 0; i < m->lines.n; i++)
		if (strncmp(m->lines.v[i], key, n) == 0 &&
		    m->lines.v[i][n] == '=')
			return m->lines.v[i] + n + 1;
	return def;
}

int64_t
cli_manifest_count(const struct cli_manifest *m, const char *key)
{
	const char *v = cli_manifest_get(m, key, NULL);
	uint64_t n;

	if (v == NULL || str_to_uint(v, 0, INT64_MAX, &n) == -1)
		return -1;
	return (int64_t)n;
}

/* A file the manifest names (KEY) must be in the backup. */
static int
man_file(struct cli *c, const struct cli_manifest *m, const char *dir,
    int dir_fd, const char *key, const char *name)
{
	const char *v = cli_manifest_get(m, key, "none");

	if (strcmp(v, "none") == 0)
		return 0;
	if (strcmp(v, name) != 0) {
		cli_err(c, "%s/%s: %s=%s is not a file this popgate restores",
		    dir, BACKUP_MANIFEST, key, v);
		return EXIT_USER;
	}
	if (faccessat(dir_fd, name, R_OK, AT_SYMLINK_NOFOLLOW) == -1) {
		cli_err(c, "%s/%s: %s (the manifest names it)", dir, name,
		    strerror(errno));
		return EXIT_USER;
	}
	return 0;
}

/* The lines of MANIFEST below DIR_FD into M. 0 or an exit code. */
static int
man_lines(struct cli *c, const char *dir, int dir_fd, struct cli_manifest *m)
{
	struct buf b;
	const char *p, *nl;
	int e;

	buf_init(&b, MANIFEST_MAX);
	if (fs_read_file_at(dir_fd, BACKUP_MANIFEST, &b) == -1) {
		e = errno;
		cli_err(c, "%s/%s: %s%s", dir, BACKUP_MANIFEST, strerror(e),
		    e == ENOENT ? " (not a popgate backup, or one that did "
		    "not finish)" : "");
		buf_free(&b);
		return e == ENOENT || e == EFBIG ? EXIT_USER : EXIT_SYSTEM;
	}
	for (p = buf_cstr(&b); *p != '\0'; p = nl + (*nl != '\0')) {
		nl = p + strcspn(p, "\n");
		if (*p != '#' && nl > p)
			strlist_addn(&m->lines, p, (size_t)(nl - p));
	}
	buf_free(&b);
	return 0;
}

int
cli_manifest_read(struct cli *c, const char *dir, int dir_fd,
    struct cli_manifest *m)
{
	const char *v;
	int e;

	if ((e = man_lines(c, dir, dir_fd, m)) != 0)
		return e;
	v = cli_manifest_get(m, "format", NULL);
	if (v == NULL || strcmp(v, BACKUP_FORMAT) != 0) {
		cli_err(c, "%s/%s: %s", dir, BACKUP_MANIFEST, v == NULL ?
		    "no format= line: not a popgate backup manifest" :
		    "a backup format this popgate does not know (newer?)");
		return EXIT_USER;
	}
	if (strcmp(cli_manifest_get(m, "complete", ""), "yes") != 0) {
		cli_err(c, "%s/%s: the backup did not finish (no "
		    "complete=yes)", dir, BACKUP_MANIFEST);
		return EXIT_USER;
	}
	if ((e = man_file(c, m, dir, dir_fd, "store_file",
	    BACKUP_STORE_FILE)) != 0 ||
	    (e = man_file(c, m, dir, dir_fd, "relay_file",
	    BACKUP_RELAY_FILE)) != 0)
		return e;
	return 0;
}

void
cli_manifest_free(struct cli_manifest *m)
{
	strlist_free(&m->lines);
}

struct verify {
	struct queue	*q;
	uint64_t	 n, bad;
	char		 first_bad[ID_LEN + 1];
	const char	*err;
};

static void
verify_one(const char *id, void *arg)
{
	struct verify *v = arg;
	struct queue_env e;
	uint64_t off, len;
	int fd = -1;

	if (queue_open(v->q, id, &e, &fd, &off, &len, &v->err) == 1) {
		queue_env_free(&e);
		(void)close(fd);
		v->n++;
	} else if (v->bad++ == 0) {
		(void)str_copy(v->first_bad, id, sizeof(v->first_bad));
	}
}

int
cli_backup_verify_queue(struct cli *c, const char *dir, int dir_fd,
    const struct cli_manifest *m)
{
	struct verify v;
	int64_t want = cli_manifest_count(m, "queue_messages");

	memset(&v, 0, sizeof(v));
	v.err = "";
	if ((v.q = queue_attach(dir_fd, &v.err)) == NULL &&
	    errno != ENOENT) {
		cli_err(c, "%s/queue: %s", dir, v.err);
		return EXIT_SYSTEM;
	}
	if (v.q != NULL && queue_scan(v.q, verify_one, &v) == -1) {
		cli_err(c, "%s/queue/msg: %s", dir, strerror(errno));
		queue_free(&v.q);
		return EXIT_SYSTEM;
	}
	queue_free(&v.q);
	if (v.bad > 0) {
		cli_err(c, "%s/queue/msg/%s does not read (%s; %llu "
		    "damaged): nothing restored", dir, v.first_bad, v.err,
		    (unsigned long long)v.bad);
		return EXIT_USER;
	}
	if (want >= 0 && (uint64_t)want != v.n) {
		cli_err(c, "%s holds %llu queue message(s), its manifest "
		    "says %lld: nothing restored", dir,
		    (unsigned long long)v.n, (long long)want);
		return EXIT_USER;
	}
	return 0;
}

int
cli_backup_no_links(struct cli *c, const char *what)
{
	static const char *const names[] = { BACKUP_STORE_FILE,
		BACKUP_RELAY_FILE, QUEUE_DIR, QUEUE_DIR "/msg",
		QUEUE_DIR "/state", QUEUE_DIR "/tmp" };
	struct stat st;
	size_t i;

	for (i = 0; i < nitems(names); i++) {
		if (fstatat(c->data_fd, names[i], &st, AT_SYMLINK_NOFOLLOW) ==
		    0 && S_ISLNK(st.st_mode)) {
			cli_err(c, "%s/%s is a symbolic link: not %s through "
			    "as root", c->cfg->data_dir, names[i], what);
			return EXIT_USER;
		}
	}
	return 0;
}
