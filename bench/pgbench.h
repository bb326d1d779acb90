/*
 * pgbench.h - the load generator of bench/ (pgbench): options, results,
 * and what the mode files share (clock, statistics, /proc sampling,
 * sockets).
 *
 * pgbench measures a mail server from the outside: SMTP senders, a
 * loopback SMTP sink, POP3 and IMAP clients, idle sessions, and the
 * fsync rate of the file system as a physical reference. Each mode
 * prints one line "RESULT mode=... key=value ..." on stdout for
 * bench/run.py, and a human-readable summary on stderr.
 */
#ifndef PGBENCH_H
#define PGBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))

#ifndef nitems
#define nitems(a) (sizeof(a) / sizeof((a)[0]))
#endif

#define PGB_MAX_PIDS	8	/* --pid roots of the server's process tree */
#define PGB_ADDR_MAX	320	/* an address with its number */

struct event_base;
struct bufferevent;

struct pgb_opts {
	const char	*host;		/* server address (IPv4 literal) */
	int		 port;		/* server port */
	unsigned	 conc;		/* -c: concurrent connections */
	unsigned long	 count;		/* -n: messages or sessions, 0 = no cap */
	double		 duration;	/* --duration: seconds, 0 = no cap */
	size_t		 size;		/* -s: message size in octets */
	unsigned	 per_conn;	/* messages per connection */
	bool		 pipelining;	/* use PIPELINING when offered */
	const char	*from;		/* envelope sender */
	const char	*rcpt;		/* recipient (numbered with --rcpts) */
	unsigned	 rcpts;		/* number of recipients, 0 = RCPT as is */
	const char	*maildir;	/* DIR: count files in DIR/LOCAL/new */
	int		 sink_port;	/* run the sink there and count it */
	const char	*sink_store;	/* sink writes + fsyncs messages there */
	const char	*header_file;	/* put above every message's header */
	const char	*user;		/* POP3/IMAP user (numbered: --users) */
	unsigned	 users;		/* number of users, 0 = USER as is */
	const char	*pass;		/* POP3/IMAP password */
	unsigned	 sessions;	/* sequential sessions (check, retr) */
	double		 timeout;	/* seconds before a run gives up */
	double		 hold;		/* idle: seconds to hold the sessions */
	const char	*dir;		/* fsync: directory to write in */
	pid_t		 pids[PGB_MAX_PIDS];
	size_t		 npids;
};

/* ---- bench_util.c ---- */

/* Seconds on the monotonic clock. */
double	pgb_now(void);

/* Prints "pgbench: MESSAGE" on stderr and exits 2. */
NORETURN void pgb_fatal(const char *, ...) PRINTFLIKE(1, 2);

/* Prints "pgbench: MESSAGE" on stderr. */
void	pgb_warn(const char *, ...) PRINTFLIKE(1, 2);

/* Formats into OUT; -1 when it does not fit. */
int	pgb_fmt(char *out, size_t outsz, const char *, ...) PRINTFLIKE(3, 4);

/* ADDR with N inserted before its '@' ("u@d" -> "u7@d") when NUMBERED,
   else ADDR itself, into OUT; -1 when it does not fit. */
int	pgb_addr(const char *addr, unsigned long n, bool numbered, char *out,
	    size_t outsz);

/* The local part of ADDR (before the last '@') into OUT. */
int	pgb_local(const char *addr, char *out, size_t outsz);

/* A sample set for percentiles. */
struct pgb_stats {
	double	*v;
	size_t	 n, cap;
};

void	pgb_stats_add(struct pgb_stats *, double);
/* The P-th percentile (0..100) of the samples, 0 when there are none;
   sorts the samples. */
double	pgb_stats_pct(struct pgb_stats *, double p);
void	pgb_stats_free(struct pgb_stats *);

/* CPU time of the server: utime + stime of every process of the trees
   rooted at the --pid processes, plus the time of their waited-for
   children (cutime + cstime), in clock ticks; with the busy time of the
   whole machine (/proc/stat) and our own, to tell what else ran. */
struct pgb_usage {
	uint64_t	ticks;		/* the server */
	unsigned	nproc;
	uint64_t	busy;		/* all CPUs, not idle or iowait */
	double		self;		/* pgbench, seconds */
	double		t;		/* pgb_now() of the sample */
};

/* -1 when no --pid process was found (0 when none was given). */
int	pgb_cpu_sample(const struct pgb_opts *, struct pgb_usage *);
/* Milliseconds of server CPU between two samples. */
double	pgb_cpu_ms(const struct pgb_usage *before,
	    const struct pgb_usage *after);
/* Percent of the machine's CPU capacity used by other processes (not
   the server, not pgbench) between two samples. */
double	pgb_other_pct(const struct pgb_usage *before,
	    const struct pgb_usage *after);
/* Percent of one CPU used by pgbench between two samples. */
double	pgb_self_pct(const struct pgb_usage *before,
	    const struct pgb_usage *after);

/* Memory of the server trees from /proc/PID/smaps_rollup, in KiB. */
struct pgb_mem {
	uint64_t	rss_kb, pss_kb;
	unsigned	nproc;
};

int	pgb_mem_sample(const struct pgb_opts *, struct pgb_mem *);

/* This process's CPU seconds (user + system). */
double	pgb_self_cpu(void);

/* Raises the descriptor limit to the hard limit. */
void	pgb_raise_fd_limit(void);

/* A non-blocking TCP connection to HOST:PORT started on BASE, with the
   callbacks of bufferevent_setcb(); NULL on failure (errno set). */
struct bufferevent *pgb_connect(struct event_base *, const char *host,
	    int port, void (*readcb)(struct bufferevent *, void *),
	    void (*eventcb)(struct bufferevent *, short, void *), void *arg);

/* Closes the connection with a reset (no TIME_WAIT left behind) and
   frees the bufferevent. */
void	pgb_abort(struct bufferevent **);

/* ---- the modes: each returns the exit status of pgbench ---- */

int	pgb_smtp_run(const struct pgb_opts *);
int	pgb_sink_run(const struct pgb_opts *);
int	pgb_rcpt_run(const struct pgb_opts *);
int	pgb_pop3_run(const struct pgb_opts *, const char *mode);
int	pgb_idle_run(const struct pgb_opts *);
int	pgb_imap_run(const struct pgb_opts *, const char *mode);
int	pgb_fsync_run(const struct pgb_opts *);

/* ---- bench_sink.c: the loopback SMTP sink on its own thread ---- */

struct pgb_sink;

/* Starts the sink on 127.0.0.1:PORT (it answers 250 to everything and
   counts messages); STORE, if not NULL, is a directory where every
   message is written and fsynced before its 250. NULL on failure. */
struct pgb_sink *pgb_sink_start(int port, const char *store);
/* Messages received so far, and the clock time of the last one. */
unsigned long	pgb_sink_count(struct pgb_sink *, double *last_r);
/* Stops the thread and frees the sink. */
void	pgb_sink_stop(struct pgb_sink **);

#undef alloca
#pragma GCC poison strcpy strcat sprintf vsprintf gets strtok atoi atol alloca

#endif
