/*
 * main.c - the popgate binary: one table of subcommands.
 */
#include <sys/stat.h>

#include <locale.h>
#include <signal.h>

#include "cli/cli.h"
#include "util/compat.h"


static const struct {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*help;
} commands[] = {
	{ "init", cli_init, "write a working config, data directory, "
	    "certificate and demo" },
	{ "serve", cli_serve, "run the daemon (foreground)" },
	{ "reload", cli_reload, "make the running daemon reread its "
	    "configuration and TLS files" },
	{ "metrics", cli_metrics, "print the running daemon's metrics "
	    "(Prometheus text format)" },
	{ "check-config", cli_check_config, "check the configuration and "
	    "print it" },
	{ "customer", cli_customer, "add|list|show|suspend|resume|delete "
	    "customers" },
	{ "domain", cli_domain, "add|list|show|delete hosted domains" },
	{ "mailbox", cli_mailbox, "add|list|show|passwd|quota|delete "
	    "mailboxes" },
	{ "alias", cli_alias, "add|list|show|delete aliases" },
	{ "relay", cli_relay, "list|allow|revoke|explain relay "
	    "authorizations" },
	{ "queue", cli_queue, "list|show|flush|delete|hold|release the "
	    "outbound queue" },
	{ "store", cli_store, "copy|info the account store (SQLite, "
	    "PostgreSQL)" },
	{ "backup", cli_backup, "back up store, relay table and queue "
	    "into DIR" },
	{ "restore", cli_restore, "restore a backup into an empty data "
	    "directory" },
	{ "token", cli_token, "add|list|revoke API tokens" },
	{ "srs", cli_srs, "show|rotate|encode|decode the sender rewriting "
	    "of forwarded mail" },
	{ "help-page", cli_help_page, "print the customers' help page "
	    "(HTML) from the configuration" },
	{ "autoconfig", cli_autoconfig, "print a mail client's "
	    "autoconfiguration (Mozilla, autodiscover, Apple)" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: popgate COMMAND [ARGS]   (popgate %s)\n\n"
	    "commands:\n", POPGATE_VERSION);
	for (i = 0; i < nitems(commands); i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nEvery command takes --help and -c FILE (default: "
	    "$POPGATE_CONFIG, then %s).\n", CONFIG_DEFAULT_PATH);
}

int
main(int argc, char **argv)
{
	size_t i;

	(void)setlocale(LC_ALL, "C");
	/* Whatever popgate creates (stores, relay table, queue, Maildirs)
	   is nobody else's business: the daemon's group at most. */
	(void)umask(027);
	/* A server (Redis, PostgreSQL, the control socket) that went away
	   is an error to report, not a reason to die. */
	(void)signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USER;
	}
	if (cli_is_keys_process(argc, argv))
		return cli_keys_main(argc, argv);
	if (cli_is_lookup_process(argc, argv))
		return cli_lookup_main(argc, argv);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("popgate %s\n", POPGATE_VERSION);
		return 0;
	}
	/* `popgate -c FILE COMMAND ...` as well as `COMMAND -c FILE`. */
	if (argc >= 3 && (strcmp(argv[1], "-c") == 0 ||
	    strcmp(argv[1], "--config") == 0)) {
		if (setenv("POPGATE_CONFIG", argv[2], 1) == -1) {
			perror("popgate: setenv");
			return EXIT_SYSTEM;
		}
		argc -= 2;
		argv += 2;
		if (argc < 2) {
			usage(stderr);
			return EXIT_USER;
		}
	}
	for (i = 0; i < nitems(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "popgate: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USER;
}
