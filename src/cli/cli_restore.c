/*
 * cli_restore.c - popgate restore DIR: a backup of `popgate backup` into
 * the data directory of the configuration given, which must be empty of
 * accounts, relay authorizations and queued mail, with no daemon on it.
 *
 * In this order, so that a bad backup or a busy directory is refused
 * before anything is written: the manifest (format, complete, the files
 * it names), every queued message of the backup read and checked, the
 * data directory (made when missing) and its lock file popgate.pid
 * taken, so no daemon starts on it meanwhile, the emptiness of the
 * store, relay table and queue there. Then the store and the relay
 * table (SQLite's backup API, after a quick_check of the copy), the
 * queue (queue_copy(), each message checked again), the counts compared
 * with the manifest. As root everything written is given to `user`, in
 * the modes `popgate init` and the daemon use; nothing is written
 * through a symbolic link.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "queue/queue.h"
#include "relay/relay_auth.h"
#include "util/fsutil.h"
#include "util/pidlock.h"
#include "util/priv.h"
#include "util/compat.h"

#define LOCK_FILE	"popgate.pid"	/* as cli_serve.c */

/* One restore. */
struct rs {
	struct cli	*c;
	const char	*dir;		/* the backup, as given */
	int		 dir_fd;
	char		 dir_path[32];
	struct cli_manifest man;
	int		 lock_fd;
	bool		 root, made_data, made_lock, wrote;
	uid_t		 uid;
	gid_t		 gid;
	char		 file[4200];	/* scratch paths */
	char		 store_path[4096];	/* "" unless a SQLite store */
	char		 store_shown[4096];	/* it for messages, or the URI */
};

/* The backup's manifest, checked. 0 or an exit code. */
static int
read_manifest(struct rs *r)
{
	if ((r->dir_fd = fs_open_dir(AT_FDCWD, r->dir)) == -1) {
		cli_err(r->c, "cannot open the backup %s: %s", r->dir,
		    strerror(errno));
		return EXIT_USER;
	}
	if (fs_fd_path(r->dir_fd, r->dir_path, sizeof(r->dir_path)) == -1)
		PANIC("descriptor path");
	return cli_manifest_read(r->c, r->dir, r->dir_fd, &r->man);
}

/* The data directory made (as init makes it) when missing, opened, and
   its lock taken. 0 or an exit code. */
static int
open_data(struct rs *r)
{
	struct cli *c = r->c;
	struct errbuf eb;
	pid_t holder = 0;

	if (access(c->cfg->data_dir, F_OK) == -1 && errno == ENOENT) {
		if (fs_mkdir_p(c->cfg->data_dir, 0750, true) == -1) {
			cli_err(c, "cannot create %s: %s", c->cfg->data_dir,
			    strerror(errno));
			return EXIT_SYSTEM;
		}
		r->made_data = true;
	}
	if ((c->data_fd = cli_open_data_dir(c->cfg, &eb)) == -1) {
		cli_err(c, "%s", eb.text);
		return EXIT_SYSTEM;
	}
	if (fs_fd_path(c->data_fd, c->data_path, sizeof(c->data_path)) == -1)
		PANIC("descriptor path");
	r->made_lock = faccessat(c->data_fd, LOCK_FILE, F_OK,
	    AT_SYMLINK_NOFOLLOW) == -1;
	r->lock_fd = pidlock_take(c->data_fd, LOCK_FILE, &holder);
	if (r->lock_fd == PIDLOCK_HELD) {
		cli_err(c, "a popgate daemon (pid %ld) runs on %s: stop it "
		    "first", (long)holder, c->cfg->data_dir);
		r->made_lock = false;
		return EXIT_USER;
	}
	if (r->lock_fd == -1) {
		cli_err(c, "cannot lock %s/%s: %s", c->cfg->data_dir,
		    LOCK_FILE, strerror(errno));
		r->made_lock = false;
		return EXIT_SYSTEM;
	}
	/* What it made is the daemon's user's at once, whatever follows. */
	if (r->root && ((r->made_data && fchown(c->data_fd, r->uid,
	    r->gid) == -1) || (r->made_lock && fchown(r->lock_fd, r->uid,
	    r->gid) == -1))) {
		cli_err(c, "cannot give %s to %s: %s", c->cfg->data_dir,
		    c->cfg->user, strerror(errno));
		return EXIT_SYSTEM;
	}
	return 0;
}

static void
count_customer(const struct store_customer *cu, void *arg)
{
	struct store_counts *n = arg;

	n->customers++;
	n->domains += cu->ndomains;
	n->mailboxes += cu->nmailboxes;
}

static void
count_alias(const struct store_alias *a, void *arg)
{
	(void)a;
	((struct store_counts *)arg)->aliases++;
}

/* What store S holds (a store without a schema holds nothing). */
static int
count_store(struct store *s, struct store_counts *n, const char **err)
{
	int v;

	memset(n, 0, sizeof(*n));
	if ((v = store_schema_version(s, err)) <= 0)
		return v;
	if (store_customer_list(s, count_customer, n, err) == -1 ||
	    store_alias_list(s, NULL, count_alias, n, err) == -1)
		return -1;
	return 0;
}

static void
count_entry(const struct relay_entry *e, void *arg)
{
	(void)e;
	(*(uint64_t *)arg)++;
}

/* The store and relay table there hold nothing yet (a schema made by
   an earlier start is nothing). 0 or an exit code. */
static int
check_tables(struct rs *r)
{
	struct cli *c = r->c;
	struct store *s;
	struct relay_auth *ra;
	struct store_counts n;
	uint64_t live = 0;
	const char *err = "";
	int v;

	if (r->store_path[0] != '\0' && access(r->store_path, F_OK) == 0) {
		if ((s = store_open(c->cfg->store, c->data_path,
		    &c->open_error, &err)) == NULL) {
			cli_err(c, "%s", err);
			return EXIT_SYSTEM;
		}
		/* ERR lives as long as the handle. */
		if ((v = count_store(s, &n, &err)) == -1)
			cli_err(c, "%s", err);
		store_close(&s);
		if (v == -1)
			return EXIT_SYSTEM;
		if (n.customers > 0) {
			cli_err(c, "the account store %s already holds %llu "
			    "customer(s): restore only into an empty data "
			    "directory", r->store_shown,
			    (unsigned long long)n.customers);
			return EXIT_USER;
		}
	}
	if (strcmp(c->cfg->relay_store, "local") != 0 ||
	    faccessat(c->data_fd, BACKUP_RELAY_FILE, F_OK, 0) == -1)
		return 0;
	if ((ra = relay_open(c->cfg->relay_store, c->data_path,
	    &c->open_error, &err)) == NULL) {
		cli_err(c, "%s", err);
		return EXIT_SYSTEM;
	}
	if ((v = relay_list(ra, time(NULL), count_entry, &live, &err)) == -1)
		cli_err(c, "%s", err);
	relay_close(&ra);
	if (v == -1)
		return EXIT_SYSTEM;
	if (live > 0) {
		cli_err(c, "the relay table %s/%s already holds %llu "
		    "authorization(s): restore only into an empty data "
		    "directory", c->cfg->data_dir, BACKUP_RELAY_FILE,
		    (unsigned long long)live);
		return EXIT_USER;
	}
	return 0;
}

static void
count_id(const char *id, void *arg)
{
	(void)id;
	(*(uint64_t *)arg)++;
}

/* Nothing there may be overwritten or mixed: the store, relay table and
   queue of the data directory are empty. 0 or an exit code. */
static int
check_empty(struct rs *r)
{
	struct queue *q;
	const char *err = "";
	uint64_t n = 0;
	int e;

	if ((r->root && (e = cli_backup_no_links(r->c, "written")) != 0) ||
	    (e = check_tables(r)) != 0)
		return e;
	if ((q = queue_attach(r->c->data_fd, &err)) == NULL) {
		if (errno == ENOENT)
			return 0;
		cli_err(r->c, "%s/queue: %s", r->c->cfg->data_dir, err);
		return EXIT_SYSTEM;
	}
	e = queue_scan(q, count_id, &n);
	queue_free(&q);
	if (e == -1) {
		cli_err(r->c, "%s/queue/msg: %s", r->c->cfg->data_dir,
		    strerror(errno));
		return EXIT_SYSTEM;
	}
	if (n > 0) {
		cli_err(r->c, "the queue %s/queue already holds %llu "
		    "message(s): restore only into an empty data directory",
		    r->c->cfg->data_dir, (unsigned long long)n);
		return EXIT_USER;
	}
	return 0;
}

/* The restored store's counts against the manifest's. */
static int
check_counts(struct rs *r, const struct store_counts *n)
{
	const struct {
		const char	*key;
		uint64_t	 have;
	} k[] = { { "store_customers", n->customers },
		{ "store_domains", n->domains },
		{ "store_mailboxes", n->mailboxes },
		{ "store_alias_targets", n->aliases } };
	size_t i;
	int64_t want;

	for (i = 0; i < nitems(k); i++) {
		want = cli_manifest_count(&r->man, k[i].key);
		if (want >= 0 && (uint64_t)want != k[i].have) {
			cli_err(r->c, "the restored store holds %llu for %s, "
			    "the manifest says %lld", (unsigned long long)
			    k[i].have, k[i].key, (long long)want);
			return EXIT_SYSTEM;
		}
	}
	return 0;
}

/* The store, unless it is PostgreSQL or the backup has none. */
static int
restore_store(struct rs *r)
{
	struct cli *c = r->c;
	struct store *s;
	struct store_counts n;
	char dir[PATH_MAX];
	const char *err = "";
	int e;

	if (strcmp(cli_manifest_get(&r->man, "store_file", "none"),
	    "none") == 0) {
		printf("  store   none in the backup (%s): nothing restored\n",
		    cli_manifest_get(&r->man, "store", "?"));
		return 0;
	}
	if (r->store_path[0] == '\0') {
		if (realpath(r->dir, dir) == NULL)
			(void)str_copy(dir, r->dir, sizeof(dir));
		printf("  store   NOT RESTORED: the store is PostgreSQL (%s); "
		    "restore it from its pg_dump, or copy the backup's into "
		    "it: popgate store copy --from sqlite:%s/%s --to URI\n",
		    r->store_shown, dir, BACKUP_STORE_FILE);
		return 0;
	}
	r->wrote = true;
	if ((s = store_open(c->cfg->store, c->data_path, &c->open_error,
	    &err)) == NULL) {
		cli_err(c, "%s", err);
		return EXIT_SYSTEM;
	}
	(void)str_fmt(r->file, sizeof(r->file), "%s/%s", r->dir_path,
	    BACKUP_STORE_FILE);
	e = store_restore(s, r->file, &err) != 0 ||
	    store_migrate(s, &err) == -1 || count_store(s, &n, &err) == -1;
	if (e)
		cli_err(c, "%s", err);
	store_close(&s);
	if (e)
		return EXIT_SYSTEM;
	if ((e = check_counts(r, &n)) != 0)
		return e;
	printf("  store   %llu customer(s), %llu domain(s), %llu mailbox(es), "
	    "%llu alias target(s) into %s\n", (unsigned long long)n.customers,
	    (unsigned long long)n.domains, (unsigned long long)n.mailboxes,
	    (unsigned long long)n.aliases, r->store_shown);
	return 0;
}

/* The relay table, unless it is Redis or the backup has none. */
static int
restore_relay(struct rs *r)
{
	struct cli *c = r->c;
	struct relay_auth *ra;
	uint64_t live = 0;
	const char *err = "";
	int e;

	if (strcmp(cli_manifest_get(&r->man, "relay_file", "none"),
	    "none") == 0) {
		printf("  relay   none in the backup: nothing restored\n");
		return 0;
	}
	if (strcmp(c->cfg->relay_store, "local") != 0) {
		printf("  relay   NOT RESTORED: the relay table is Redis; "
		    "customers open the relay again by checking mail\n");
		return 0;
	}
	r->wrote = true;
	if ((ra = relay_open(c->cfg->relay_store, c->data_path,
	    &c->open_error, &err)) == NULL) {
		cli_err(c, "%s", err);
		return EXIT_SYSTEM;
	}
	(void)str_fmt(r->file, sizeof(r->file), "%s/%s", r->dir_path,
	    BACKUP_RELAY_FILE);
	e = relay_restore(ra, r->file, &err) == -1 ||
	    relay_list(ra, time(NULL), count_entry, &live, &err) == -1;
	if (e)
		cli_err(c, "%s", err);
	relay_close(&ra);
	if (e)
		return EXIT_SYSTEM;
	printf("  relay   %llu live authorization(s) into %s/%s\n",
	    (unsigned long long)live, c->cfg->data_dir, BACKUP_RELAY_FILE);
	return 0;
}

static int
restore_queue(struct rs *r)
{
	struct queue *from, *to;
	struct cli_qcopy n;
	const char *err = "";
	int e;

	if ((from = queue_attach(r->dir_fd, &err)) == NULL) {
		if (errno != ENOENT) {
			cli_err(r->c, "%s/queue: %s", r->dir, err);
			return EXIT_SYSTEM;
		}
		printf("  queue   none in the backup\n");
		return 0;
	}
	r->wrote = true;
	if ((to = queue_new(r->c->data_fd, &err)) == NULL) {
		cli_err(r->c, "cannot make %s/queue: %s", r->c->cfg->data_dir,
		    err);
		queue_free(&from);
		return EXIT_SYSTEM;
	}
	e = cli_copy_queue(r->c, from, to, r->dir, &n);
	queue_free(&from);
	queue_free(&to);
	if (e == 0 && (n.damaged > 0 || n.gone > 0)) {
		cli_err(r->c, "%llu message(s) of %s/queue were not restored",
		    (unsigned long long)(n.damaged + n.gone), r->dir);
		e = EXIT_SYSTEM;
	}
	if (e != 0)
		return e;
	printf("  queue   %llu message(s), %llu octets into %s/queue\n",
	    (unsigned long long)n.done, (unsigned long long)n.bytes,
	    r->c->cfg->data_dir);
	return 0;
}

/* lchown of PATH and the files SQLite keeps beside it, when there. */
static int
chown_db(const char *path, uid_t uid, gid_t gid)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[4200];
	size_t i;

	for (i = 0; i < nitems(sfx); i++) {
		if (str_fmt(p, sizeof(p), "%s%s", path, sfx[i]) == -1)
			return -1;
		if (lchown(p, uid, gid) == -1 && errno != ENOENT)
			return -1;
	}
	return 0;
}

/* As root: what restore wrote becomes the daemon user's, as after
   `popgate init`. 0 or an exit code. */
static int
give_away(struct rs *r)
{
	struct cli *c = r->c;
	const char *what = r->store_path;

	if (!r->root)
		return 0;
	if (r->store_path[0] != '\0' &&
	    chown_db(r->store_path, r->uid, r->gid) == -1)
		goto fail;
	what = BACKUP_RELAY_FILE;
	(void)str_fmt(r->file, sizeof(r->file), "%s/%s", c->data_path,
	    BACKUP_RELAY_FILE);
	if (chown_db(r->file, r->uid, r->gid) == -1)
		goto fail;
	what = QUEUE_DIR;
	(void)str_fmt(r->file, sizeof(r->file), "%s/%s", c->data_path,
	    QUEUE_DIR);
	if (access(r->file, F_OK) == 0 &&
	    priv_chown_tree(r->file, r->uid, r->gid) == -1)
		goto fail;
	return 0;
fail:
	cli_err(c, "cannot give %s/%s to %s: %s", c->cfg->data_dir, what,
	    c->cfg->user, strerror(errno));
	return EXIT_SYSTEM;
}

/* fsync of PATH (a file). */
static int
sync_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), e;

	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	e = fsync(fd);
	if (close(fd) == -1)
		e = -1;
	return e;
}

/* The SQLite files and the directories holding them on disk (the queue
   synced its own). 0 or an exit code. */
static int
sync_all(struct rs *r)
{
	struct cli *c = r->c;

	(void)str_fmt(r->file, sizeof(r->file), "%s/%s", c->data_path,
	    BACKUP_RELAY_FILE);
	if ((r->store_path[0] != '\0' && (sync_file(r->store_path) == -1 ||
	    fs_fsync_parent(r->store_path) == -1)) ||
	    sync_file(r->file) == -1 || fs_fsync_dir_at(c->data_fd, ".") == -1) {
		cli_err(c, "cannot sync what was restored in %s: %s",
		    c->cfg->data_dir, strerror(errno));
		return EXIT_SYSTEM;
	}
	return 0;
}

/* As root: the daemon's user, whose files restore writes. */
static int
lookup_user(struct rs *r)
{
	const char *err;

	if (*r->c->cfg->user == '\0') {
		cli_err(r->c, "refusing to restore as root without 'user' in "
		    "%s (the files must be the daemon's user's)",
		    r->c->config_path);
		return EXIT_USER;
	}
	if (priv_lookup(r->c->cfg->user, &r->uid, &r->gid, &err) == -1) {
		cli_err(r->c, "user '%s': %s", r->c->cfg->user, err);
		return EXIT_USER;
	}
	return 0;
}

static int
prepare(struct rs *r)
{
	struct cli *c = r->c;
	int e;

	if ((e = cli_load_config(c)) != 0 || (e = read_manifest(r)) != 0 ||
	    (e = cli_backup_verify_queue(c, r->dir, r->dir_fd, &r->man)) !=
	    0 ||
	    (r->root && (e = lookup_user(r)) != 0) ||
	    (e = open_data(r)) != 0)
		return e;
	if (cli_backup_store_file(c, r->store_path, sizeof(r->store_path),
	    r->store_shown, sizeof(r->store_shown)) == -1) {
		cli_err(c, "store path too long in %s", c->config_path);
		return EXIT_USER;
	}
	if ((e = check_empty(r)) != 0)
		return e;
	printf("restore of %s (made %s on %s) into %s:\n", r->dir,
	    cli_manifest_get(&r->man, "created", "?"),
	    cli_manifest_get(&r->man, "hostname", "?"), c->cfg->data_dir);
	return 0;
}

static int
cmd_restore(struct cli *c)
{
	struct rs r;
	int e;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.dir = c->pos[0];
	r.dir_fd = r.lock_fd = -1;
	r.root = geteuid() == 0;
	strlist_init(&r.man.lines);
	/* The modes of `popgate init` and the daemon: files 0640 (queue
	   files 0600), directories 0750 (queue/ 0700). */
	(void)umask(027);
	if ((e = prepare(&r)) != 0 || (e = restore_store(&r)) != 0 ||
	    (e = restore_relay(&r)) != 0 || (e = restore_queue(&r)) != 0 ||
	    (e = give_away(&r)) != 0 || (e = sync_all(&r)) != 0)
		goto out;
	printf("  mail    not in a backup: restore mail_dir (%s), tls/ and "
	    "the configuration from your file backup\ndone: start the "
	    "daemon (popgate serve)\n", c->cfg->mail_dir);
out:
	if (e != 0 && r.wrote)
		cli_err(c, "%s is now partly restored: remove what restore "
		    "wrote there (%s, %s, queue/) before trying again",
		    c->cfg->data_dir, BACKUP_STORE_FILE, BACKUP_RELAY_FILE);
	if (r.lock_fd >= 0)
		pidlock_release(&r.lock_fd);
	if (r.dir_fd != -1)
		(void)close(r.dir_fd);
	cli_manifest_free(&r.man);
	return e;
}

static const struct cli_cmd cmd[] = {
	{ "", cmd_restore, OPT_NOSTORE, 1, 1, "DIR",
	    "restore a backup of `popgate backup` into the data_dir of the "
	    "configuration\n(made when missing): the account store (SQLite), "
	    "the relay table (local)\nand the queue. Refused before anything "
	    "of it is written when the backup is\nincomplete or damaged, a "
	    "daemon runs on data_dir, or the store, relay table\nor queue "
	    "there is not empty. As root the files become `user`'s. A\n"
	    "PostgreSQL store or Redis relay table is not restored (it says "
	    "so);\nmail_dir, tls/ and the configuration come from your file "
	    "backup." },
};

int
cli_restore(int argc, char **argv)
{
	return cli_dispatch("restore", cmd, 1, argc, argv);
}
