/*
 * pgbench.c - the load generator's entry point: modes, options, usage.
 *
 *   pgbench MODE [options]
 *
 * See usage() and bench/README.md. Every mode prints one "RESULT ..."
 * line on stdout; the exit status is 0 when every message or session
 * succeeded, 1 when some failed or the run timed out, 2 on usage or
 * system errors.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <limits.h>

#include "pgbench.h"

static const char usage_text[] =
"usage: pgbench MODE [options]\n"
"modes:\n"
"  smtp        -c C (-n N | --duration S) -s SIZE [--per-conn K]\n"
"              [--pipelining] --from A --rcpt A [--rcpts R]\n"
"              [--maildir DIR | --sink-port P [--sink-store DIR]]\n"
"              [--header-file FILE]: FILE (header lines, CRLF) above\n"
"              every message's header\n"
"  smtp-rcpt   (-n N | --duration S) --rcpt A [--rcpts R] [--from A]\n"
"              [--per-conn K]: one connection at a time, K (20) times\n"
"              MAIL, RCPT (timed), RSET per connection\n"
"  sink        --sink-port P [--sink-store DIR] [--duration S]\n"
"  pop3-check  --user U --pass P [--sessions R]\n"
"  pop3-retr   --user U --pass P\n"
"  pop3-load   -c K (-n N | --duration S) --user U --users N --pass P\n"
"  imap-select --user U --pass P [--sessions R]\n"
"  imap-fetch  --user U --pass P [--sessions R]\n"
"  imap-login  -c K (-n N | --duration S) --user U --users N --pass P\n"
"  imap-idle   -n K [-c SETUP] [--hold S] --user U [--users N] --pass P\n"
"  idle        -n K [-c SETUP] [--hold S]\n"
"              [--rcpt A [--from A] -s SIZE]: held inside DATA after SIZE\n"
"              octets of header lines\n"
"  fsync       --dir DIR (-n N | --duration S)\n"
"common: --host 127.0.0.1 --port P --pid PID (server tree, repeatable)\n"
"        --timeout S (default 300)\n"
"  --rcpts R: recipients R numbered addresses (u@d -> u0@d ... u{R-1}@d);\n"
"  --maildir DIR: a message is delivered when its file appears in\n"
"  DIR/LOCAL/new (inotify); --sink-port: when the sink received it.\n";

NORETURN static void
usage(void)
{
	(void)fputs(usage_text, stderr);
	exit(2);
}

enum {
	O_HOST = 256, O_PORT, O_DURATION, O_PER_CONN, O_PIPELINING, O_FROM,
	O_RCPT, O_RCPTS, O_MAILDIR, O_SINK_PORT, O_SINK_STORE, O_USER,
	O_USERS, O_PASS, O_SESSIONS, O_TIMEOUT, O_HOLD, O_DIR, O_PID,
	O_HEADER_FILE,
};

static const struct option longopts[] = {
	{ "host", required_argument, NULL, O_HOST },
	{ "port", required_argument, NULL, O_PORT },
	{ "concurrency", required_argument, NULL, 'c' },
	{ "count", required_argument, NULL, 'n' },
	{ "size", required_argument, NULL, 's' },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "per-conn", required_argument, NULL, O_PER_CONN },
	{ "pipelining", no_argument, NULL, O_PIPELINING },
	{ "from", required_argument, NULL, O_FROM },
	{ "rcpt", required_argument, NULL, O_RCPT },
	{ "rcpts", required_argument, NULL, O_RCPTS },
	{ "maildir", required_argument, NULL, O_MAILDIR },
	{ "sink-port", required_argument, NULL, O_SINK_PORT },
	{ "sink-store", required_argument, NULL, O_SINK_STORE },
	{ "header-file", required_argument, NULL, O_HEADER_FILE },
	{ "user", required_argument, NULL, O_USER },
	{ "users", required_argument, NULL, O_USERS },
	{ "pass", required_argument, NULL, O_PASS },
	{ "sessions", required_argument, NULL, O_SESSIONS },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "hold", required_argument, NULL, O_HOLD },
	{ "dir", required_argument, NULL, O_DIR },
	{ "pid", required_argument, NULL, O_PID },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* An unsigned number in [LO, HI], with an optional K or M (binary)
   suffix. */
static unsigned long long
num(const char *opt, const char *s, unsigned long long lo,
    unsigned long long hi)
{
	unsigned long long v, mul = 1;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end == 'K' || *end == 'k')
		mul = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mul = 1024 * 1024, end++;
	if (errno != 0 || end == s || *end != '\0' || *s == '-' ||
	    v > hi / mul || v * mul < lo)
		pgb_fatal("%s: bad number '%s' (%llu to %llu)", opt, s, lo, hi);
	return v * mul;
}

static double
seconds(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 1e6)
		pgb_fatal("%s: bad duration '%s' (seconds)", opt, s);
	return v;
}

/* The options of the POP3, IMAP, idle and fsync modes, and --pid. */
static void
set_opt_pop3(struct pgb_opts *o, int ch, const char *arg)
{
	switch (ch) {
	case O_USER:
		o->user = arg;
		break;
	case O_USERS:
		o->users = (unsigned)num("--users", arg, 0, 1000000);
		break;
	case O_PASS:
		o->pass = arg;
		break;
	case O_SESSIONS:
		o->sessions = (unsigned)num("--sessions", arg, 1, 1000000);
		break;
	case O_TIMEOUT:
		o->timeout = seconds("--timeout", arg);
		break;
	case O_HOLD:
		o->hold = seconds("--hold", arg);
		break;
	case O_DIR:
		o->dir = arg;
		break;
	case O_PID:
		if (o->npids == PGB_MAX_PIDS)
			pgb_fatal("--pid: at most %d", PGB_MAX_PIDS);
		o->pids[o->npids++] = (pid_t)num("--pid", arg, 1, INT_MAX);
		break;
	default:
		usage();
	}
}

static void
set_opt(struct pgb_opts *o, int ch, const char *arg)
{
	switch (ch) {
	case O_HOST:
		o->host = arg;
		break;
	case O_PORT:
		o->port = (int)num("--port", arg, 1, 65535);
		break;
	case 'c':
		o->conc = (unsigned)num("-c", arg, 1, 1000000);
		break;
	case 'n':
		o->count = num("-n", arg, 1, ULONG_MAX);
		break;
	case 's':
		o->size = num("-s", arg, 64, 1 << 30);
		break;
	case O_DURATION:
		o->duration = seconds("--duration", arg);
		break;
	case O_PER_CONN:
		o->per_conn = (unsigned)num("--per-conn", arg, 0, UINT_MAX);
		break;
	case O_PIPELINING:
		o->pipelining = true;
		break;
	case O_FROM:
		o->from = arg;
		break;
	case O_RCPT:
		o->rcpt = arg;
		break;
	case O_RCPTS:
		o->rcpts = (unsigned)num("--rcpts", arg, 0, 1000000);
		break;
	case O_MAILDIR:
		o->maildir = arg;
		break;
	case O_SINK_PORT:
		o->sink_port = (int)num("--sink-port", arg, 1, 65535);
		break;
	case O_SINK_STORE:
		o->sink_store = arg;
		break;
	case O_HEADER_FILE:
		o->header_file = arg;
		break;
	default:
		set_opt_pop3(o, ch, arg);
	}
}

int
main(int argc, char **argv)
{
	struct pgb_opts o;
	const char *mode;
	int ch;

	if (argc < 2 || argv[1][0] == '-')
		usage();
	mode = argv[1];
	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.conc = 1;
	o.size = 1024;
	o.per_conn = 1;
	o.from = "pgbench@bench.test";
	o.sessions = 1;
	o.timeout = 300;
	o.hold = 2;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:n:s:h", longopts, NULL)) != -1)
		set_opt(&o, ch, optarg);
	if (optind != argc)
		usage();
	/* A server that resets a connection must not kill us. */
	(void)signal(SIGPIPE, SIG_IGN);
	pgb_raise_fd_limit();
	(void)setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "smtp") == 0)
		return pgb_smtp_run(&o);
	if (strcmp(mode, "smtp-rcpt") == 0)
		return pgb_rcpt_run(&o);
	if (strcmp(mode, "sink") == 0)
		return pgb_sink_run(&o);
	if (strncmp(mode, "pop3-", 5) == 0 && (strcmp(mode + 5, "check") == 0 ||
	    strcmp(mode + 5, "retr") == 0 || strcmp(mode + 5, "load") == 0))
		return pgb_pop3_run(&o, mode);
	if (strncmp(mode, "imap-", 5) == 0 && (strcmp(mode + 5, "select") ==
	    0 || strcmp(mode + 5, "fetch") == 0 || strcmp(mode + 5, "login") ==
	    0 || strcmp(mode + 5, "idle") == 0))
		return pgb_imap_run(&o, mode);
	if (strcmp(mode, "idle") == 0)
		return pgb_idle_run(&o);
	if (strcmp(mode, "fsync") == 0)
		return pgb_fsync_run(&o);
	usage();
}
