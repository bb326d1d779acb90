/*
 * cli.h - what the subcommands share: one option parser, config and store
 * opening (with the drop from root to `user`), password input, and
 * aligned-column or JSON output.
 *
 * Exit codes: 0 done, 1 the user asked for something wrong, 2 the system
 * failed (I/O, store, daemon).
 */
#ifndef POPGATE_CLI_H
#define POPGATE_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/str.h"

#define EXIT_USER	1
#define EXIT_SYSTEM	2

/* Options a command accepts (cli_cmd.opts). */
#define OPT_JSON	0x01	/* --json */
#define OPT_FORCE	0x02	/* --force */
#define OPT_CUSTOMER	0x04	/* --customer NAME */
#define OPT_QUOTA	0x08	/* --quota SIZE */
#define OPT_HASH	0x10	/* --hash HASH */
#define OPT_FOR		0x20	/* --for DURATION */
#define OPT_DEV		0x40	/* --dev */
#define OPT_USER	0x80	/* --user USER */
#define OPT_PORTBASE	0x100	/* --port-base N */
#define OPT_HOSTNAME	0x200	/* --hostname NAME */
#define OPT_NOSTORE	0x400	/* the command opens no store */
#define OPT_FROM	0x800	/* --from URI */
#define OPT_TO		0x1000	/* --to URI */
#define OPT_DEMO	0x2000	/* --demo */
#define OPT_SCOPE	0x4000	/* --scope admin|customer:NAME */
#define OPT_EXPIRES	0x8000	/* --expires DURATION */
#define OPT_FORMAT	0x10000	/* --format NAME */

struct cli {
	const char	*name;		/* "customer add" */
	const char	*config_path;
	struct config	*cfg;
	struct store	*store;
	int		 data_fd;	/* data_dir, -1 until cli_drop_root */
	char		 data_path[32];	/* its /proc/self/fd path */
	struct errbuf	 open_error;	/* of a failed store or relay open */
	bool		 json, force, dev, demo;
	const char	*customer;
	const char	*hash;
	const char	*user;
	const char	*hostname;
	const char	*from, *to;
	const char	*scope;
	bool		 have_expires;
	uint64_t	 expires;	/* seconds */
	const char	*format;	/* --format, NULL when not given */
	bool		 have_quota, have_for;
	uint64_t	 quota;
	uint64_t	 duration;
	uint64_t	 port_base;
	char		**pos;		/* positional arguments */
	int		 npos;
};

struct cli_cmd {
	const char	*name;
	int		(*fn)(struct cli *);
	unsigned	 opts;
	int		 min_pos, max_pos;	/* -1: no maximum */
	const char	*usage;		/* arguments, after the name */
	const char	*help;		/* one line */
};

/* Runs the command of TABLE named by ARGV[1] (ARGV[0] is the group). */
int	cli_dispatch(const char *group, const struct cli_cmd *table,
	    size_t n, int argc, char **argv);

/* Loads the configuration (printing every error): 0 or an exit code. */
int	cli_load_config(struct cli *);
/* Opens data_dir into c->data_fd (as root, before anything else: its
   parents need no permission for `user`), and when root becomes `user`.
   Every file of the data directory is reached below c->data_fd, never
   from the current directory. 0 or exit code. */
int	cli_drop_root(struct cli *);
/* The two steps for the daemon too: data_dir opened, the descriptor or
   -1 with *EB; `user` become (when root) and the directory usable by
   it, 0 or -1 with *EB. */
int	cli_open_data_dir(const struct config *, struct errbuf *eb);
int	cli_become_user(const struct config *, int data_fd,
	    struct errbuf *eb);
/* Loads config, drops root, opens and migrates the store. */
int	cli_open(struct cli *);
/* The store of C's configuration below DATA_DIR, opened into C and
   migrated: 0, or an exit code after saying why. */
int	cli_open_store(struct cli *, const char *data_dir);
void	cli_close(struct cli *);

/* Maps a store result (0, -1, STORE_REFUSED) to an exit code, printing
   ERROR for failures. */
int	cli_store_result(struct cli *, int r, const char *error);
/* Ends the command's one transaction: R is the result of its change;
   0 commits, anything else rolls back and reports ERROR. An exit code. */
int	cli_finish(struct cli *, int r, const char *error);
/* Begins / commits the command's one transaction (exit codes). */
int	cli_begin(struct cli *);
int	cli_commit(struct cli *);

/* Reads a password: prompted twice without echo on a terminal, else
   one line of stdin; at least password_min_length characters. 0, or an
   exit code after printing why. */
int	cli_read_password(struct cli *, char *out, size_t outsz);

/* Prints to stderr "popgate NAME: MSG". */
void	cli_err(struct cli *, const char *fmt, ...) PRINTFLIKE(2, 3);

/* Output: a table of rows with named columns, printed as aligned text
   or as a JSON array of objects. */
struct cli_table {
	const char *const	*cols;
	size_t			 ncols;
	struct strlist		 cells;
	const bool		*numeric;	/* JSON: unquoted columns */
};
void	cli_table_init(struct cli_table *, const char *const *cols,
	    size_t ncols, const bool *numeric);
/* Adds one row of NCOLS strings. */
void	cli_table_row(struct cli_table *, ...);
void	cli_table_print(struct cli_table *, bool json);
/* One record as "key: value" lines or a JSON object. */
void	cli_table_print_record(struct cli_table *, bool json);
void	cli_table_free(struct cli_table *);

/* Formats a unix time as UTC "YYYY-MM-DD HH:MM:SS". */
void	cli_fmt_time(char *, size_t, int64_t);

/* The CLI as an actor of src/ops/ (it sees everything). */
struct ops_actor;
struct ops_result;
extern const struct ops_actor cli_actor;
/* An operation's outcome: 0, or an exit code after printing its error
   (a refusal EXIT_USER, a failure EXIT_SYSTEM). */
int	cli_ops_result(struct cli *, const struct ops_result *);

/* Revokes every relay authorization of CUSTOMER (after suspend or
   delete); how many into *REVOKED_R (may be NULL). 0 or an exit code. */
int	cli_relay_revoke_customer(struct cli *, const char *customer,
	    int *revoked_r);

/* What backup (cli_backup.c) and restore (cli_restore.c, with the
   reader cli_backup_read.c) share: the backup's file names, its
   manifest's format. */
#ifndef POPGATE_VERSION
#define POPGATE_VERSION		"0.1.0"	/* debian/changelog's (test_install) */
#endif
#define BACKUP_MANIFEST		"MANIFEST"
#define BACKUP_FORMAT		"1"
#define BACKUP_STORE_FILE	"store.db"
#define BACKUP_RELAY_FILE	"relay.db"
/* The SQLite file of the configuration's store (below c->data_path)
   into PATH and as a user knows it into SHOWN: 1; 0 when the store is
   no file (PostgreSQL: SHOWN gets its URI, password masked); -1 too
   long. */
int	cli_backup_store_file(struct cli *, char *path, size_t pathsz,
	    char *shown, size_t shownsz);
/* The database a PostgreSQL URI names into DB ("" when it names none),
   and when CONN is not NULL the URI as a libpq conninfo string without
   its password onto CONN (for pg_dump -d). */
void	cli_backup_pg_name(const char *uri, char *db, size_t dbsz,
	    struct buf *conn);
struct queue;
struct cli_qcopy {
	uint64_t	done, gone, damaged, bytes;
};
/* Copies every message of the queue FROM into TO with queue_copy(),
   warning about each damaged one (WHERE names FROM's directory), and
   syncs TO. Counts into *N. 0 or an exit code. */
int	cli_copy_queue(struct cli *, struct queue *from, struct queue *to,
	    const char *where, struct cli_qcopy *n);

/* A backup's manifest as restore reads it: its "key=value" lines (init
   LINES with strlist_init()). */
struct cli_manifest {
	struct strlist	lines;
};
/* Reads and checks the manifest of the backup DIR (open as DIR_FD)
   into M: the format this popgate writes, complete=yes, the files it
   names present. 0 or an exit code after saying why; free M either
   way. */
int	cli_manifest_read(struct cli *, const char *dir, int dir_fd,
	    struct cli_manifest *m);
void	cli_manifest_free(struct cli_manifest *);
/* The value of KEY, or DEF when the manifest has none. */
const char *cli_manifest_get(const struct cli_manifest *, const char *key,
	    const char *def);
/* The number KEY holds, or -1 when none. */
int64_t	cli_manifest_count(const struct cli_manifest *, const char *key);
/* Every queued message of the backup DIR (open as DIR_FD) reads, as
   queue_open() checks it, and they are as many as its manifest M says.
   0 or an exit code after saying which does not. */
int	cli_backup_verify_queue(struct cli *, const char *dir, int dir_fd,
	    const struct cli_manifest *m);
/* As root: none of store.db, relay.db, queue/ and its directories in
   c->data_fd is a symbolic link, which the daemon's user could have put
   there to have root read or write (WHAT: "read", "written") some other
   file. 0 or an exit code after naming it. */
int	cli_backup_no_links(struct cli *, const char *what);

/* The subcommand groups. */
int	cli_customer(int argc, char **argv);
int	cli_domain(int argc, char **argv);
/* cli_dkim.c: a new signing pair (RSA and Ed25519) for DOMAIN, in the
   open transaction; and `domain dkim show|rotate DOMAIN`. */
int	cli_dkim_make(struct cli *, const char *domain, const char **error_r);
int	cli_dkim(struct cli *);
int	cli_mailbox(int argc, char **argv);
int	cli_alias(int argc, char **argv);
int	cli_init(int argc, char **argv);
int	cli_check_config(int argc, char **argv);
int	cli_serve(int argc, char **argv);
/* popgate-keys, which the daemon starts as `popgate __keys` with its
   socket as descriptor 3 (cli_keys.c). */
bool	cli_is_keys_process(int argc, char **argv);
int	cli_keys_main(int argc, char **argv);
/* popgate-lookup (cli_lookup.c): popgate run by the daemon as it. */
bool	cli_is_lookup_process(int argc, char **argv);
int	cli_lookup_main(int argc, char **argv);
int	cli_reload(int argc, char **argv);
int	cli_metrics(int argc, char **argv);
int	cli_relay(int argc, char **argv);
int	cli_queue(int argc, char **argv);
int	cli_store(int argc, char **argv);
int	cli_backup(int argc, char **argv);
int	cli_restore(int argc, char **argv);
int	cli_srs(int argc, char **argv);
int	cli_token(int argc, char **argv);
/* cli_web.c: what customers and their mail programs are told (src/web/):
   `popgate help-page`, `popgate autoconfig`, `domain dns DOMAIN`. */
int	cli_help_page(int argc, char **argv);
int	cli_autoconfig(int argc, char **argv);
int	cli_domain_dns(struct cli *);

#endif
