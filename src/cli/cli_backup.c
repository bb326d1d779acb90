/*
 * cli_backup.c - popgate backup DIR: a consistent snapshot of what the
 * data directory holds that a file copy of a running daemon's would not
 * get right, taken while the daemon runs.
 *
 *   DIR/store.db     the account store (SQLite's online backup API: the
 *                    state of one commit, however the daemon writes)
 *   DIR/relay.db     the `local` relay table, likewise
 *   DIR/queue/msg/   every committed queue message, each whole or not
 *   DIR/queue/state/ at all, with its state (queue_copy())
 *   DIR/MANIFEST     key=value lines: version, date, host, what is in it
 *                    and how much; written last, so a backup without it
 *                    did not finish and `restore` refuses it
 *
 * A PostgreSQL store and a Redis relay table are not copied: the
 * manifest says so and which tool is theirs. Maildirs are not copied
 * either: plain files, often huge, for rsync or the host's file backup.
 * Everything is written 0600 (directories 0700) and fsynced, and the
 * directories too, before "done" is printed. Run as root, the backup
 * stays root's: it reads the data directory as root and writes nothing
 * there (SQLite gives a -wal or -shm file it makes the database's own
 * owner).
 *
 * cli_backup_read.c reads this format for `popgate restore`.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cli/cli.h"
#include "queue/queue.h"
#include "relay/relay_auth.h"
#include "util/fsutil.h"
#include "util/compat.h"

/* One backup being made. */
struct bk {
	struct cli	*c;
	const char	*dir;		/* as given */
	int		 dir_fd;
	char		 dir_path[32];	/* its /proc/self/fd path */
	struct buf	 man;		/* the manifest's lines */
	char		 file[4200];	/* scratch: a path below dir_path */
	bool		 started;	/* DIR is ours to fill */
	bool		 made;		/* and made by us */
};

int
cli_backup_store_file(struct cli *c, char *path, size_t pathsz, char *shown,
    size_t shownsz)
{
	const char *uri = c->cfg->store;
	int r;

	if (strcmp(uri, "sqlite") == 0) {
		r = str_fmt(path, pathsz, "%s/" BACKUP_STORE_FILE,
		    c->data_path);
		(void)str_fmt(shown, shownsz, "%s/" BACKUP_STORE_FILE,
		    c->cfg->data_dir);
	} else if (strncmp(uri, "sqlite:", 7) == 0) {
		r = str_copy(path, uri + 7, pathsz);
		(void)str_copy(shown, uri + 7, shownsz);
	} else {
		config_uri_masked(uri, shown, shownsz);
		return 0;
	}
	return r == -1 ? -1 : 1;
}

/* V onto B as a conninfo value: quoted when it needs to be. */
static void
conninfo_value(struct buf *b, const char *v)
{
	if (*v != '\0' && strpbrk(v, " '\\") == NULL) {
		(void)buf_append_str(b, v);
		return;
	}
	(void)buf_putc(b, '\'');
	for (; *v != '\0'; v++) {
		if (*v == '\'' || *v == '\\')
			(void)buf_putc(b, '\\');
		(void)buf_putc(b, *v);
	}
	(void)buf_putc(b, '\'');
}

void
cli_backup_pg_name(const char *uri, char *db, size_t dbsz, struct buf *conn)
{
	PQconninfoOption *opts, *o;
	char *err = NULL;

	(void)str_copy(db, "", dbsz);
	if ((opts = PQconninfoParse(uri, &err)) == NULL) {
		PQfreemem(err);
		return;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || strcmp(o->keyword, "password") == 0)
			continue;
		if (strcmp(o->keyword, "dbname") == 0)
			(void)str_copy(db, o->val, dbsz);
		if (conn != NULL) {
			(void)buf_printf(conn, "%s%s=", conn->len > 0 ? " " :
			    "", o->keyword);
			conninfo_value(conn, o->val);
		}
	}
	PQconninfoFree(opts);
}

/* Whether DIR_FD holds anything: 0 empty, 1 (its first name into
   NAME), -1 (errno). */
static int
dir_has(int dir_fd, char *name, size_t namesz)
{
	struct dirent *de;
	DIR *d;
	int fd = fs_open_dir(dir_fd, "."), r = 0;

	if (fd == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		(void)str_copy(name, de->d_name, namesz);
		r = 1;
		break;
	}
	(void)closedir(d);
	return r;
}

/* DIR made (0700) or found empty, open into B. 0 or an exit code. */
static int
open_target(struct bk *b)
{
	char name[256];
	int r;

	if (mkdir(b->dir, 0700) == 0) {
		b->made = true;
		if (fs_fsync_parent(b->dir) == -1) {
			cli_err(b->c, "cannot sync the directory above %s: %s",
			    b->dir, strerror(errno));
			return EXIT_SYSTEM;
		}
	} else if (errno != EEXIST) {
		cli_err(b->c, "cannot create %s: %s", b->dir, strerror(errno));
		return errno == ENOENT || errno == ENOTDIR ? EXIT_USER :
		    EXIT_SYSTEM;
	}
	if ((b->dir_fd = fs_open_dir(AT_FDCWD, b->dir)) == -1) {
		cli_err(b->c, "cannot open %s: %s", b->dir, strerror(errno));
		return errno == ENOTDIR ? EXIT_USER : EXIT_SYSTEM;
	}
	if ((r = dir_has(b->dir_fd, name, sizeof(name))) != 0) {
		if (r == -1)
			cli_err(b->c, "cannot read %s: %s", b->dir,
			    strerror(errno));
		else
			cli_err(b->c, "%s is not empty (it holds '%s'): give "
			    "a new or empty directory", b->dir, name);
		return r == -1 ? EXIT_SYSTEM : EXIT_USER;
	}
	if (fs_fd_path(b->dir_fd, b->dir_path, sizeof(b->dir_path)) == -1)
		PANIC("descriptor path");
	return 0;
}

/* B->file := the backup's NAME. */
static const char *
target(struct bk *b, const char *name)
{
	(void)str_fmt(b->file, sizeof(b->file), "%s/%s", b->dir_path, name);
	return b->file;
}

/* A PostgreSQL store is the database's to back up: what to run. */
static int
backup_pg_note(struct bk *b, const char *uri)
{
	struct buf conn;
	char db[256];

	buf_init(&conn, 8192);
	cli_backup_pg_name(b->c->cfg->store, db, sizeof(db), &conn);
	if (db[0] == '\0')	/* libpq's default: the user's name */
		(void)str_copy(db, "(the default)", sizeof(db));
	(void)buf_printf(&b->man, "store_file=none\nstore_note=a PostgreSQL "
	    "store is not in the backup: back up database '%s' with "
	    "pg_dump\n", db);
	printf("  store   NOT INCLUDED: %s is PostgreSQL: back up database "
	    "'%s' with pg_dump,\n          e.g. pg_dump -Fc -f popgate.dump "
	    "-d \"%s\"\n          (the password from ~/.pgpass or "
	    "PGPASSWORD)\n", uri, db, buf_cstr(&conn));
	buf_free(&conn);
	return 0;
}

static int
backup_store(struct bk *b)
{
	struct store *s;
	struct store_counts n;
	char path[4096], shown[4096], uri[1024];
	const char *err;
	int r;

	config_uri_masked(b->c->cfg->store, uri, sizeof(uri));
	(void)buf_printf(&b->man, "store=%s\n", uri);
	r = cli_backup_store_file(b->c, path, sizeof(path), shown,
	    sizeof(shown));
	if (r == 0)
		return backup_pg_note(b, uri);
	if (r == -1 || access(path, F_OK) == -1) {
		cli_err(b->c, "no account store at %s (%s; the store key in "
		    "%s)", shown, r == -1 ? "path too long" : strerror(errno),
		    b->c->config_path);
		return EXIT_USER;
	}
	if ((s = store_open(b->c->cfg->store, b->c->data_path,
	    &b->c->open_error, &err)) == NULL) {
		cli_err(b->c, "%s", err);
		return EXIT_SYSTEM;
	}
	r = store_backup(s, target(b, BACKUP_STORE_FILE), &n, &err);
	if (r != 0)
		cli_err(b->c, "%s (into %s/%s)", err, b->dir,
		    BACKUP_STORE_FILE);
	store_close(&s);
	if (r != 0)
		return r == STORE_REFUSED ? EXIT_USER : EXIT_SYSTEM;
	(void)buf_printf(&b->man, "store_file=" BACKUP_STORE_FILE "\n"
	    "store_customers=%llu\nstore_domains=%llu\nstore_mailboxes=%llu\n"
	    "store_alias_targets=%llu\n", (unsigned long long)n.customers,
	    (unsigned long long)n.domains, (unsigned long long)n.mailboxes,
	    (unsigned long long)n.aliases);
	printf("  store   %llu customer(s), %llu domain(s), %llu mailbox(es), "
	    "%llu alias target(s) into " BACKUP_STORE_FILE "\n",
	    (unsigned long long)n.customers, (unsigned long long)n.domains,
	    (unsigned long long)n.mailboxes, (unsigned long long)n.aliases);
	return 0;
}

static int
backup_relay(struct bk *b)
{
	struct relay_auth *ra;
	uint64_t live = 0;
	char uri[1024];
	const char *err;
	int r;

	config_uri_masked(b->c->cfg->relay_store, uri, sizeof(uri));
	(void)buf_printf(&b->man, "relay_store=%s\n", uri);
	if (strcmp(b->c->cfg->relay_store, "local") != 0) {
		(void)buf_printf(&b->man, "relay_file=none\nrelay_note=a "
		    "Redis relay table is not in the backup (Redis keeps it "
		    "with RDB or AOF; losing it only means customers check "
		    "mail once more)\n");
		printf("  relay   NOT INCLUDED: %s is Redis; its own "
		    "persistence (RDB, AOF) keeps it\n", uri);
		return 0;
	}
	/* No table yet (the daemon never ran): none made here. */
	if (faccessat(b->c->data_fd, BACKUP_RELAY_FILE, F_OK, 0) == -1) {
		(void)buf_printf(&b->man, "relay_file=none\n"
		    "relay_authorizations=0\n");
		printf("  relay   no relay table yet (%s/" BACKUP_RELAY_FILE
		    ")\n", b->c->cfg->data_dir);
		return 0;
	}
	if ((ra = relay_open(b->c->cfg->relay_store, b->c->data_path,
	    &b->c->open_error, &err)) == NULL) {
		cli_err(b->c, "%s", err);
		return EXIT_SYSTEM;
	}
	r = relay_backup(ra, target(b, BACKUP_RELAY_FILE), time(NULL), &live,
	    &err);
	if (r != 0)
		cli_err(b->c, "%s (into %s/%s)", err, b->dir,
		    BACKUP_RELAY_FILE);
	relay_close(&ra);
	if (r != 0)
		return EXIT_SYSTEM;
	(void)buf_printf(&b->man, "relay_file=" BACKUP_RELAY_FILE "\n"
	    "relay_authorizations=%llu\n", (unsigned long long)live);
	printf("  relay   %llu live authorization(s) into " BACKUP_RELAY_FILE
	    "\n", (unsigned long long)live);
	return 0;
}

static void
add_id(const char *id, void *arg)
{
	strlist_add(arg, id);
}

int
cli_copy_queue(struct cli *c, struct queue *from, struct queue *to,
    const char *where, struct cli_qcopy *n)
{
	struct strlist ids;
	const char *err = "";
	uint64_t bytes;
	size_t i;
	int r = 0;

	memset(n, 0, sizeof(*n));
	strlist_init(&ids);
	/* The names first: copying while readdir(3) goes on would be
	   correct too, but a long copy would see new arrivals. */
	if (queue_scan(from, add_id, &ids) == -1) {
		cli_err(c, "cannot read the queue %s/queue/msg: %s", where,
		    strerror(errno));
		r = EXIT_SYSTEM;
	}
	for (i = 0; r == 0 && i < ids.n; i++) {
		switch (queue_copy(from, ids.v[i], to, &bytes, &err)) {
		case QUEUE_COPY_DONE:
			n->done++;
			n->bytes += bytes;
			break;
		case QUEUE_COPY_GONE:
			n->gone++;
			break;
		case QUEUE_COPY_DAMAGED:
			cli_err(c, "warning: queue message %s in %s/queue "
			    "does not read (%s): not copied", ids.v[i], where,
			    err);
			n->damaged++;
			break;
		case QUEUE_COPY_FAILED:
			cli_err(c, "cannot copy queue message %s: %s",
			    ids.v[i], err);
			r = EXIT_SYSTEM;
			break;
		}
	}
	if (r == 0 && queue_sync(to) == -1) {
		cli_err(c, "cannot sync the queue directories: %s",
		    strerror(errno));
		r = EXIT_SYSTEM;
	}
	strlist_free(&ids);
	return r;
}

static int
backup_queue(struct bk *b)
{
	struct queue *from, *to;
	struct cli_qcopy n;
	const char *err;
	int r;

	memset(&n, 0, sizeof(n));
	if ((from = queue_attach(b->c->data_fd, &err)) == NULL) {
		if (errno != ENOENT) {
			cli_err(b->c, "cannot open the queue in %s: %s",
			    b->c->cfg->data_dir, err);
			return EXIT_SYSTEM;
		}
		(void)buf_printf(&b->man, "queue_messages=0\n");
		printf("  queue   no queue yet (%s/queue)\n",
		    b->c->cfg->data_dir);
		return 0;
	}
	if ((to = queue_new(b->dir_fd, &err)) == NULL) {
		cli_err(b->c, "cannot make %s/queue: %s", b->dir, err);
		queue_free(&from);
		return EXIT_SYSTEM;
	}
	r = cli_copy_queue(b->c, from, to, b->c->cfg->data_dir, &n);
	queue_free(&from);
	queue_free(&to);
	/* Nothing is left in tmp/ of a finished copy: no tmp/ at all. */
	if (r == 0 && unlinkat(b->dir_fd, QUEUE_DIR "/tmp", AT_REMOVEDIR) ==
	    -1) {
		cli_err(b->c, "cannot remove %s/queue/tmp: %s", b->dir,
		    strerror(errno));
		r = EXIT_SYSTEM;
	}
	if (r != 0)
		return r;
	(void)buf_printf(&b->man, "queue_messages=%llu\nqueue_octets=%llu\n"
	    "queue_damaged_skipped=%llu\n", (unsigned long long)n.done,
	    (unsigned long long)n.bytes, (unsigned long long)n.damaged);
	printf("  queue   %llu message(s), %llu octets into queue/%s\n",
	    (unsigned long long)n.done, (unsigned long long)n.bytes,
	    n.damaged > 0 ? " (damaged ones skipped: see above)" : "");
	return 0;
}

/* The manifest's first lines: who, when, where from. */
static void
manifest_head(struct bk *b)
{
	char host[256], when[32];
	time_t now = time(NULL);
	struct tm tm;

	if (gethostname(host, sizeof(host)) == -1)
		(void)str_copy(host, "?", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)str_copy(when, "?", sizeof(when));
	(void)buf_printf(&b->man, "# popgate backup: restore it with "
	    "`popgate restore DIR`\nformat=" BACKUP_FORMAT "\n"
	    "popgate_version=" POPGATE_VERSION "\ncreated=%s\nhostname=%s\n"
	    "config=%s\ndata_dir=%s\n", when, host, b->c->config_path,
	    b->c->cfg->data_dir);
}

static int
write_manifest(struct bk *b)
{
	(void)buf_printf(&b->man, "mail=not included: back up mail_dir (%s) "
	    "with rsync or a file backup\ncomplete=yes\n",
	    b->c->cfg->mail_dir);
	if (fs_write_atomic_at(b->dir_fd, BACKUP_MANIFEST, b->man.data,
	    b->man.len, 0600) == -1) {
		cli_err(b->c, "cannot write %s/%s: %s", b->dir,
		    BACKUP_MANIFEST, strerror(errno));
		return EXIT_SYSTEM;
	}
	return 0;
}

static bool partial_keep_top;

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	if (f->level == 0 && partial_keep_top)
		return 0;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) == -1 ? -1 : 0;
}

/* A backup that failed leaves nothing: what it wrote goes, and DIR
   too when it made it. */
static void
remove_partial(struct bk *b)
{
	char real[PATH_MAX];

	partial_keep_top = !b->made;
	/* DIR itself may be a link to the directory: its files are there. */
	if (realpath(b->dir, real) == NULL)
		(void)str_copy(real, b->dir, sizeof(real));
	if (nftw(real, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0)
		cli_err(b->c, "nothing of the backup is left in %s", b->dir);
	else
		cli_err(b->c, "the backup in %s is not complete (no %s): "
		    "remove it (%s)", b->dir, BACKUP_MANIFEST,
		    strerror(errno));
}

static int
cmd_backup(struct cli *c)
{
	struct bk b;
	struct errbuf eb;
	int r;

	memset(&b, 0, sizeof(b));
	b.c = c;
	b.dir = c->pos[0];
	b.dir_fd = -1;
	buf_init(&b.man, 64 * 1024);
	/* Nobody else's business, whoever runs it. */
	(void)umask(077);
	if ((r = cli_load_config(c)) != 0 || (r = open_target(&b)) != 0)
		goto out;
	b.started = true;
	if ((c->data_fd = cli_open_data_dir(c->cfg, &eb)) == -1) {
		cli_err(c, "%s", eb.text);
		r = EXIT_SYSTEM;
		goto out;
	}
	if (fs_fd_path(c->data_fd, c->data_path, sizeof(c->data_path)) == -1)
		PANIC("descriptor path");
	if (geteuid() == 0 && (r = cli_backup_no_links(c, "read")) != 0)
		goto out;
	printf("backup of %s into %s:\n", c->cfg->data_dir, b.dir);
	manifest_head(&b);
	if ((r = backup_store(&b)) != 0 || (r = backup_relay(&b)) != 0 ||
	    (r = backup_queue(&b)) != 0 || (r = write_manifest(&b)) != 0)
		goto out;
	printf("  mail    not included: back up mail_dir (%s) with rsync or "
	    "a file backup\ndone: %s/%s written, everything on disk\n",
	    c->cfg->mail_dir, b.dir, BACKUP_MANIFEST);
out:
	if (r != 0 && b.started)
		remove_partial(&b);
	if (b.dir_fd != -1)
		(void)close(b.dir_fd);
	buf_free(&b.man);
	return r;
}

static const struct cli_cmd cmd[] = {
	{ "", cmd_backup, OPT_NOSTORE, 1, 1, "DIR",
	    "write a consistent backup of the account store (SQLite), the "
	    "relay table\n(local) and every queued message into DIR, which "
	    "must be new or empty,\nwhile the daemon runs. DIR/MANIFEST says "
	    "what is in it; files are 0600\nand on disk when it says done. "
	    "Not included: a PostgreSQL store (pg_dump),\na Redis relay "
	    "table, the Maildirs of mail_dir (rsync or a file backup),\ntls/ "
	    "and the configuration. Restore with `popgate restore DIR`." },
};

int
cli_backup(int argc, char **argv)
{
	return cli_dispatch("backup", cmd, 1, argc, argv);
}
