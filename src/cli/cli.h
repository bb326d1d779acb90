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

/* A list filter must name something that exists: CUSTOMER and DOMAIN
   (either may be NULL). 0 or an exit code after saying what is missing. */
int	cli_need_filter(struct cli *, const char *customer, const char *domain);
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

/* Revokes every relay authorization of CUSTOMER (after suspend or
   delete). 0 or an exit code. */
int	cli_relay_revoke_customer(struct cli *, const char *customer);

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
int	cli_reload(int argc, char **argv);
int	cli_relay(int argc, char **argv);
int	cli_queue(int argc, char **argv);
int	cli_store(int argc, char **argv);

#endif
