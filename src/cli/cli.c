/*
 * cli.c - shared machinery of the admin subcommands.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ops/ops.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/priv.h"
#include "util/xalloc.h"
#include "util/compat.h"

void
cli_err(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "popgate %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const struct {
	unsigned	 flag;
	const char	*text;
} opt_help[] = {
	{ OPT_CUSTOMER, "  --customer NAME   the customer" },
	{ OPT_QUOTA, "  --quota SIZE      quota, like 500M or 2G (0 = "
	    "unlimited)" },
	{ OPT_HASH, "  --hash HASH       an existing crypt(3) hash ($y$, $6$, "
	    "$2b$) instead of a password" },
	{ OPT_FOR, "  --for DURATION    how long, like 90m or 2h" },
	{ OPT_FORCE, "  --force           also delete what it still holds" },
	{ OPT_JSON, "  --json            JSON output" },
	{ OPT_DEV, "  --dev             high loopback ports, even as root "
	    "(with the demo)" },
	{ OPT_DEMO, "  --demo            also a demo customer, domain and "
	    "mailbox" },
	{ OPT_USER, "  --user USER       the user the daemon runs as (root "
	    "only; default popgate)" },
	{ OPT_PORTBASE, "  --port-base N     dev ports are N+25, N+110, ... "
	    "(default 10000)" },
	{ OPT_HOSTNAME, "  --hostname NAME   the server's name (default: "
	    "this host's)" },
	{ OPT_FROM, "  --from URI        the store to read (default: the "
	    "configuration's)" },
	{ OPT_SCOPE, "  --scope SCOPE     admin, or customer:NAME (that "
	    "customer's objects only)" },
	{ OPT_EXPIRES, "  --expires DUR     valid for DUR, like 90d (default: "
	    "until revoked)" },
	{ OPT_TO, "  --to URI          the store to write: postgresql://... "
	    "or sqlite:/PATH" },
	{ OPT_FORMAT, "  --format NAME     mozilla (default), autodiscover or "
	    "apple" },
};

static void
usage(FILE *f, const char *group, const struct cli_cmd *cmd, bool single)
{
	size_t i;

	fprintf(f, "usage: popgate %s%s%s %s\n", group, single ? "" : " ",
	    single ? "" : cmd->name, cmd->usage);
	fprintf(f, "%s\n\noptions:\n", cmd->help);
	if (strcmp(group, "init") != 0)
		fprintf(f, "  -c, --config FILE the configuration (default: "
		    "$POPGATE_CONFIG, then %s)\n", CONFIG_DEFAULT_PATH);
	for (i = 0; i < nitems(opt_help); i++)
		if (cmd->opts & opt_help[i].flag)
			fprintf(f, "%s\n", opt_help[i].text);
	fprintf(f, "  -h, --help        this text\n");
}

static void
group_usage(FILE *f, const char *group, const struct cli_cmd *t, size_t n)
{
	size_t i;

	fprintf(f, "usage: popgate %s COMMAND [ARGS]\n\ncommands:\n", group);
	for (i = 0; i < n; i++)
		fprintf(f, "  %-8s %-36s %s\n", t[i].name, t[i].usage,
		    t[i].help);
	fprintf(f, "\n'popgate %s COMMAND --help' tells more.\n", group);
}

static const char *
long_name(const struct option *o, int ch)
{
	for (; o->name != NULL; o++)
		if (o->val == ch)
			return o->name;
	return "?";
}

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "help", no_argument, NULL, 'h' },
	{ "json", no_argument, NULL, 'J' },
	{ "force", no_argument, NULL, 'F' },
	{ "customer", required_argument, NULL, 'C' },
	{ "quota", required_argument, NULL, 'Q' },
	{ "hash", required_argument, NULL, 'H' },
	{ "for", required_argument, NULL, 'D' },
	{ "dev", no_argument, NULL, 'V' },
	{ "demo", no_argument, NULL, 'M' },
	{ "user", required_argument, NULL, 'U' },
	{ "port-base", required_argument, NULL, 'P' },
	{ "hostname", required_argument, NULL, 'N' },
	{ "from", required_argument, NULL, 'f' },
	{ "to", required_argument, NULL, 't' },
	{ "scope", required_argument, NULL, 'S' },
	{ "expires", required_argument, NULL, 'E' },
	{ "format", required_argument, NULL, 'O' },
	{ NULL, 0, NULL, 0 },
};

/* The options a command must declare (cli_cmd.opts) to take them;
   -c and -h apply everywhere. */
static const struct {
	int		 ch;
	unsigned	 flag;
} opt_needs[] = {
	{ 'J', OPT_JSON }, { 'F', OPT_FORCE }, { 'C', OPT_CUSTOMER },
	{ 'Q', OPT_QUOTA }, { 'H', OPT_HASH }, { 'D', OPT_FOR },
	{ 'V', OPT_DEV }, { 'U', OPT_USER }, { 'P', OPT_PORTBASE },
	{ 'N', OPT_HOSTNAME }, { 'f', OPT_FROM }, { 't', OPT_TO },
	{ 'M', OPT_DEMO }, { 'S', OPT_SCOPE }, { 'E', OPT_EXPIRES },
	{ 'O', OPT_FORMAT },
};

/* Whether CMD takes option CH. */
static bool
opt_applies(const struct cli_cmd *cmd, int ch)
{
	size_t i;

	for (i = 0; i < nitems(opt_needs); i++)
		if (opt_needs[i].ch == ch)
			return (cmd->opts & opt_needs[i].flag) != 0;
	return true;
}

/* An option with a value that needs checking: 0, or an exit code. */
static int
set_checked(struct cli *c, int ch, const char *v)
{
	switch (ch) {
	case 'Q':
		if (strcmp(v, "unlimited") == 0) {
			c->quota = 0;
		} else if (str_parse_size(v, &c->quota) == -1) {
			cli_err(c, "bad --quota '%s' (expected a size like "
			    "500M or 2G, or 0 for unlimited)", v);
			return EXIT_USER;
		}
		c->have_quota = true;
		return 0;
	case 'D':
		if (str_parse_duration(v, &c->duration) == -1 ||
		    c->duration == 0) {
			cli_err(c, "bad --for '%s' (expected a duration like "
			    "90m or 2h)", v);
			return EXIT_USER;
		}
		c->have_for = true;
		return 0;
	case 'E':
		if (str_parse_duration(v, &c->expires) == -1 ||
		    c->expires == 0) {
			cli_err(c, "bad --expires '%s' (expected a duration "
			    "like 90d or 12h)", v);
			return EXIT_USER;
		}
		c->have_expires = true;
		return 0;
	case 'P':
		/* The highest dev port is base + 2526. */
		if (str_to_uint(v, 1024, 63000, &c->port_base) == -1) {
			cli_err(c, "bad --port-base '%s' (expected a number "
			    "from 1024 to 63000)", v);
			return EXIT_USER;
		}
		return 0;
	}
	PANIC("option '%c' is not checked", ch);
}

/* Stores option CH (getopt's optarg in V): 0, or an exit code. */
static int
set_option(struct cli *c, int ch, const char *v)
{
	switch (ch) {
	case 'c':
		c->config_path = v;
		break;
	case 'J':
		c->json = true;
		break;
	case 'F':
		c->force = true;
		break;
	case 'C':
		c->customer = v;
		break;
	case 'H':
		c->hash = v;
		break;
	case 'V':
		c->dev = true;
		break;
	case 'M':
		c->demo = true;
		break;
	case 'U':
		c->user = v;
		break;
	case 'N':
		c->hostname = v;
		break;
	case 'f':
		c->from = v;
		break;
	case 't':
		c->to = v;
		break;
	case 'S':
		c->scope = v;
		break;
	case 'O':
		c->format = v;
		break;
	default:
		return set_checked(c, ch, v);
	}
	return 0;
}

/* getopt's ':' (a value missing) or '?' (unknown): the exit code. */
static int
bad_option(struct cli *c, const char *group, const struct cli_cmd *cmd,
    bool single, int ch, char **argv)
{
	if (ch == ':') {
		if (optopt != 0 && optopt != 'c')
			cli_err(c, "option '--%s' needs a value",
			    long_name(longopts, optopt));
		else
			cli_err(c, "option '%s' needs a value",
			    optopt == 'c' ? "-c" : argv[optind - 1]);
		return EXIT_USER;
	}
	/* getopt names a short option in optopt; for a long one
	   argv[optind - 1] is the word itself. */
	if (optopt != 0)
		cli_err(c, "unknown option '-%c'", optopt);
	else
		cli_err(c, "unknown option '%s'", argv[optind - 1]);
	usage(stderr, group, cmd, single);
	return EXIT_USER;
}

/* Parses options and positionals for CMD. -1 to continue, else an exit
   code. */
static int
parse(struct cli *c, const char *group, const struct cli_cmd *cmd,
    bool single, int argc, char **argv)
{
	int ch, r;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		if (ch == ':' || ch == '?')
			return bad_option(c, group, cmd, single, ch, argv);
		if (!opt_applies(cmd, ch)) {
			cli_err(c, "option '--%s' does not apply here",
			    long_name(longopts, ch));
			usage(stderr, group, cmd, single);
			return EXIT_USER;
		}
		if (ch == 'h') {
			usage(stdout, group, cmd, single);
			return 0;
		}
		if ((r = set_option(c, ch, optarg)) != 0)
			return r;
	}
	c->pos = argv + optind;
	c->npos = argc - optind;
	if (c->npos < cmd->min_pos ||
	    (cmd->max_pos >= 0 && c->npos > cmd->max_pos)) {
		cli_err(c, c->npos < cmd->min_pos ? "missing arguments" :
		    "too many arguments");
		usage(stderr, group, cmd, single);
		return EXIT_USER;
	}
	return -1;
}

static int
run(const char *group, const struct cli_cmd *cmd, bool single, int argc,
    char **argv)
{
	char name[64];
	struct cli c;
	int r;

	memset(&c, 0, sizeof(c));
	c.data_fd = -1;
	if (single)
		(void)str_copy(name, group, sizeof(name));
	else
		(void)str_fmt(name, sizeof(name), "%s %s", group, cmd->name);
	c.name = name;
	r = parse(&c, group, cmd, single, argc, argv);
	if (r >= 0)
		return r;
	r = cmd->fn(&c);
	cli_close(&c);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "popgate %s: cannot write output: %s\n", name,
		    strerror(errno));
		return EXIT_SYSTEM;
	}
	return r;
}

int
cli_dispatch(const char *group, const struct cli_cmd *table, size_t n,
    int argc, char **argv)
{
	size_t i;

	if (n == 1 && table[0].name[0] == '\0')
		return run(group, &table[0], true, argc, argv);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		group_usage(argc < 2 ? stderr : stdout, group, table, n);
		return argc < 2 ? EXIT_USER : 0;
	}
	for (i = 0; i < n; i++)
		if (strcmp(argv[1], table[i].name) == 0)
			return run(group, &table[i], false, argc - 1, argv + 1);
	fprintf(stderr, "popgate %s: unknown command '%s'\n", group, argv[1]);
	group_usage(stderr, group, table, n);
	return EXIT_USER;
}

int
cli_load_config(struct cli *c)
{
	struct strlist errors;
	size_t i;

	if (c->cfg != NULL)
		return 0;
	strlist_init(&errors);
	c->config_path = config_default_path(c->config_path);
	c->cfg = config_load(c->config_path, &errors);
	if (c->cfg == NULL) {
		for (i = 0; i < errors.n; i++)
			fprintf(stderr, "%s\n", errors.v[i]);
		if (errors.n == 1 && access(c->config_path, F_OK) == -1)
			fprintf(stderr, "popgate: give the configuration with "
			    "-c FILE or POPGATE_CONFIG (popgate init writes "
			    "one)\n");
		strlist_free(&errors);
		return EXIT_USER;
	}
	strlist_free(&errors);
	return 0;
}

int
cli_open_data_dir(const struct config *cfg, struct errbuf *eb)
{
	int fd = fs_open_dir(AT_FDCWD, cfg->data_dir);

	if (fd == -1)
		(void)errbuf_set(eb, "data directory %s: %s", cfg->data_dir,
		    strerror(errno));
	return fd;
}

int
cli_become_user(const struct config *cfg, int data_fd, struct errbuf *eb)
{
	const char *err;

	if (geteuid() != 0)
		return 0;
	if (priv_drop(cfg->user, &err) == -1) {
		(void)errbuf_set(eb, "cannot switch to user '%s': %s",
		    cfg->user, err);
		return -1;
	}
	/* The directory itself: its parents were passed as root. */
	if (faccessat(data_fd, ".", R_OK | W_OK | X_OK, 0) == -1) {
		(void)errbuf_set(eb, "user '%s' cannot use %s: %s", cfg->user,
		    cfg->data_dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
cli_drop_root(struct cli *c)
{
	struct errbuf eb;

	if (c->data_fd == -1 &&
	    (c->data_fd = cli_open_data_dir(c->cfg, &eb)) == -1) {
		cli_err(c, "%s", eb.text);
		return EXIT_SYSTEM;
	}
	if (fs_fd_path(c->data_fd, c->data_path, sizeof(c->data_path)) == -1)
		PANIC("descriptor path");
	if (geteuid() == 0 && *c->cfg->user == '\0') {
		cli_err(c, "refusing to work as root on %s: set 'user' in %s",
		    c->cfg->data_dir, c->config_path);
		return EXIT_USER;
	}
	if (cli_become_user(c->cfg, c->data_fd, &eb) == -1) {
		cli_err(c, "%s", eb.text);
		return EXIT_SYSTEM;
	}
	return 0;
}

int
cli_open(struct cli *c)
{
	int r;

	if ((r = cli_load_config(c)) != 0 || (r = cli_drop_root(c)) != 0)
		return r;
	return cli_open_store(c, c->data_path);
}

int
cli_open_store(struct cli *c, const char *data_dir)
{
	const char *err;

	c->store = store_open(c->cfg->store, data_dir, &c->open_error, &err);
	if (c->store == NULL) {
		cli_err(c, "%s", err);
		return EXIT_SYSTEM;
	}
	if (store_migrate(c->store, &err) == -1) {
		cli_err(c, "%s", err);
		return EXIT_SYSTEM;
	}
	return 0;
}

void
cli_close(struct cli *c)
{
	store_close(&c->store);
	config_free(&c->cfg);
	if (c->data_fd != -1)
		(void)close(c->data_fd);
	c->data_fd = -1;
}

int
cli_store_result(struct cli *c, int r, const char *error)
{
	if (r == 0)
		return 0;
	cli_err(c, "%s", error);
	return r == STORE_REFUSED ? EXIT_USER : EXIT_SYSTEM;
}

const struct ops_actor cli_actor = { .customer = NULL, .who = "cli" };

int
cli_ops_result(struct cli *c, const struct ops_result *r)
{
	if (r->status == OPS_OK)
		return 0;
	cli_err(c, "%s", r->error);
	return r->status == OPS_FAILED ? EXIT_SYSTEM : EXIT_USER;
}

int
cli_finish(struct cli *c, int r, const char *error)
{
	if (r != 0) {
		store_rollback(c->store);
		return cli_store_result(c, r, error);
	}
	return cli_commit(c);
}

int
cli_begin(struct cli *c)
{
	const char *err = "";

	return cli_store_result(c, store_begin(c->store, &err), err);
}

int
cli_commit(struct cli *c)
{
	const char *err = "";

	return cli_store_result(c, store_commit(c->store, &err), err);
}

/* One line from F into OUT without the line end. 0, 1 at EOF, -1 too
   long. */
static int
read_line(FILE *f, char *out, size_t outsz)
{
	size_t n;

	if (fgets(out, (int)outsz, f) == NULL)
		return 1;
	n = strlen(out);
	if (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	else if (!feof(f))
		return -1;
	if (n > 0 && out[n - 1] == '\r')
		out[--n] = '\0';
	return 0;
}

static int
prompt(const char *text, char *out, size_t outsz)
{
	struct termios old, quiet;
	int r;

	fprintf(stderr, "%s", text);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) == -1)
		return -1;
	quiet = old;
	quiet.c_lflag &= (tcflag_t)~ECHO;
	quiet.c_lflag |= ECHONL;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == -1)
		return -1;
	r = read_line(stdin, out, outsz);
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	return r;
}

/* Characters of S: its bytes but UTF-8 continuation bytes. */
static uint64_t
utf8_chars(const char *s)
{
	uint64_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

int
cli_read_password(struct cli *c, char *out, size_t outsz)
{
	char again[PASSWD_MAX + 2];
	int r;

	if (isatty(STDIN_FILENO)) {
		if (prompt("New password: ", out, outsz) != 0 ||
		    prompt("Again: ", again, sizeof(again)) != 0) {
			cli_err(c, "no password read");
			return EXIT_USER;
		}
		if (strcmp(out, again) != 0) {
			cli_err(c, "the passwords differ");
			return EXIT_USER;
		}
	} else {
		r = read_line(stdin, out, outsz);
		if (r != 0) {
			cli_err(c, r == 1 ? "no password on standard input" :
			    "password too long");
			return EXIT_USER;
		}
	}
	if (*out == '\0') {
		cli_err(c, "empty password");
		return EXIT_USER;
	}
	if (strlen(out) > PASSWD_MAX) {
		cli_err(c, "password too long (at most %d characters)",
		    PASSWD_MAX);
		return EXIT_USER;
	}
	if (c->cfg != NULL && utf8_chars(out) < c->cfg->password_min_length) {
		cli_err(c, "password too short: at least %llu characters "
		    "(password_min_length in %s)",
		    (unsigned long long)c->cfg->password_min_length,
		    c->cfg->path);
		return EXIT_USER;
	}
	return 0;
}

void
cli_table_init(struct cli_table *t, const char *const *cols, size_t ncols,
    const bool *numeric)
{
	t->cols = cols;
	t->ncols = ncols;
	t->numeric = numeric;
	strlist_init(&t->cells);
}

void
cli_table_row(struct cli_table *t, ...)
{
	va_list ap;
	size_t i;

	va_start(ap, t);
	for (i = 0; i < t->ncols; i++)
		strlist_add(&t->cells, va_arg(ap, const char *));
	va_end(ap);
}

static void
json_string(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void
json_object(struct cli_table *t, size_t row, const char *indent)
{
	size_t j;

	printf("%s{", indent);
	for (j = 0; j < t->ncols; j++) {
		const char *v = t->cells.v[row * t->ncols + j];

		printf("%s", j == 0 ? "" : ", ");
		json_string(t->cols[j]);
		printf(": ");
		if (t->numeric == NULL || !t->numeric[j])
			json_string(v);
		else if (*v != '\0' && v[strspn(v, "0123456789")] == '\0')
			printf("%s", v);
		else
			printf("null");	/* "?" of a damaged message */
	}
	printf("}");
}

static void
table_cell(const char *s, size_t width, bool last)
{
	if (last)
		printf("%s\n", s);
	else
		printf("%-*s  ", (int)width, s);
}

void
cli_table_print(struct cli_table *t, bool json)
{
	size_t rows = t->cells.n / t->ncols, i, j, w[16];

	if (json) {
		printf("[");
		for (i = 0; i < rows; i++) {
			printf("%s\n", i == 0 ? "" : ",");
			json_object(t, i, "  ");
		}
		printf("%s]\n", rows == 0 ? "" : "\n");
		return;
	}
	for (j = 0; j < t->ncols && j < nitems(w); j++) {
		w[j] = strlen(t->cols[j]);
		for (i = 0; i < rows; i++) {
			size_t n = strlen(t->cells.v[i * t->ncols + j]);

			if (n > w[j])
				w[j] = n;
		}
	}
	for (j = 0; j < t->ncols; j++) {
		char up[64];

		(void)str_copy(up, t->cols[j], sizeof(up));
		for (i = 0; up[i] != '\0'; i++)
			if (up[i] >= 'a' && up[i] <= 'z')
				up[i] = (char)(up[i] - 'a' + 'A');
		table_cell(up, w[j], j + 1 == t->ncols);
	}
	for (i = 0; i < rows; i++)
		for (j = 0; j < t->ncols; j++)
			table_cell(t->cells.v[i * t->ncols + j], w[j],
			    j + 1 == t->ncols);
}

void
cli_table_print_record(struct cli_table *t, bool json)
{
	size_t j, w = 0;

	if (json) {
		json_object(t, 0, "");
		printf("\n");
		return;
	}
	for (j = 0; j < t->ncols; j++)
		if (strlen(t->cols[j]) > w)
			w = strlen(t->cols[j]);
	for (j = 0; j < t->ncols; j++) {
		char key[80];

		(void)str_fmt(key, sizeof(key), "%s:", t->cols[j]);
		printf("%-*s %s\n", (int)w + 1, key, t->cells.v[j]);
	}
}

void
cli_table_free(struct cli_table *t)
{
	strlist_free(&t->cells);
}

void
cli_fmt_time(char *dst, size_t dstsz, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(dst, dstsz, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		(void)str_copy(dst, "?", dstsz);
}
