/*
 * bench_milter - the no-op content filter of the bench's milter row
 * (bench/README.md, `local-1k-c50-milter`), built on Sendmail's
 * libmilter, the reference implementation most filters are built on.
 *
 *     bench_milter PORT | /PATH
 *
 * Listens on inet:PORT@127.0.0.1 (the bench's row), or on the unix
 * socket /PATH (to compare by hand what TCP on loopback costs). It
 * registers every callback and asks for no protocol option, so popgate
 * sends every step of every transaction (connect, HELO, MAIL, RCPT,
 * DATA, each header, end of headers, the body in chunks, end of
 * message), waiting for the reply to each; every callback answers
 * CONTINUE, end of message included, and the filter changes nothing. On SIGTERM or SIGINT it stops (libmilter's
 * signal thread) and prints one line on stderr: the connections, messages
 * and body octets it saw, so the bench can check that the messages went
 * through it.
 */
#include <libmilter/mfapi.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_ulong n_conns, n_msgs, n_body;

static sfsistat
noop_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)ctx, (void)host, (void)addr;
	atomic_fetch_add_explicit(&n_conns, 1, memory_order_relaxed);
	return SMFIS_CONTINUE;
}

static sfsistat
noop_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx, (void)helo;
	return SMFIS_CONTINUE;
}

static sfsistat
noop_argv(SMFICTX *ctx, char **argv)
{
	(void)ctx, (void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat
noop_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx, (void)name, (void)value;
	return SMFIS_CONTINUE;
}

static sfsistat
noop_step(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
noop_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	(void)ctx, (void)data;
	atomic_fetch_add_explicit(&n_body, len, memory_order_relaxed);
	return SMFIS_CONTINUE;
}

static sfsistat
noop_eom(SMFICTX *ctx)
{
	(void)ctx;
	atomic_fetch_add_explicit(&n_msgs, 1, memory_order_relaxed);
	return SMFIS_CONTINUE;
}

static sfsistat
noop_unknown(SMFICTX *ctx, const char *cmd)
{
	(void)ctx, (void)cmd;
	return SMFIS_CONTINUE;
}

static struct smfiDesc noop_desc = {
	.xxfi_name = "bench-noop",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = 0,		/* modifies nothing */
	.xxfi_connect = noop_connect,
	.xxfi_helo = noop_helo,
	.xxfi_envfrom = noop_argv,
	.xxfi_envrcpt = noop_argv,
	.xxfi_header = noop_header,
	.xxfi_eoh = noop_step,
	.xxfi_body = noop_body,
	.xxfi_eom = noop_eom,
	.xxfi_abort = noop_step,
	.xxfi_close = noop_step,
	.xxfi_unknown = noop_unknown,
	.xxfi_data = noop_step,
	.xxfi_negotiate = NULL,	/* every step, no option asked for */
};

int
main(int argc, char **argv)
{
	char conn[64];
	char *end;
	long port;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: bench_milter PORT | /PATH\n");
		return 2;
	}
	if (argv[1][0] == '/') {
		if ((size_t)snprintf(conn, sizeof(conn), "unix:%s", argv[1]) >=
		    sizeof(conn)) {
			fprintf(stderr, "bench_milter: path too long\n");
			return 2;
		}
	} else {
		port = strtol(argv[1], &end, 10);
		if (*argv[1] == '\0' || *end != '\0' || port < 1 ||
		    port > 65535) {
			fprintf(stderr, "bench_milter: bad port %s\n",
			    argv[1]);
			return 2;
		}
		snprintf(conn, sizeof(conn), "inet:%ld@127.0.0.1", port);
	}
	if (smfi_setconn(conn) != MI_SUCCESS ||
	    smfi_setbacklog(1024) != MI_SUCCESS ||
	    smfi_register(noop_desc) != MI_SUCCESS) {
		fprintf(stderr, "bench_milter: libmilter set-up failed\n");
		return 1;
	}
	/* Fail now, not in smfi_main, if the port is taken. */
	if (smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "bench_milter: cannot listen on %s\n", conn);
		return 1;
	}
	rc = smfi_main();
	fprintf(stderr, "bench_milter: connections=%lu messages=%lu "
	    "body_octets=%lu\n", atomic_load(&n_conns), atomic_load(&n_msgs),
	    atomic_load(&n_body));
	return rc == MI_SUCCESS ? 0 : 1;
}
