/*
 * bench_rcpt.c - the smtp-rcpt mode: how long one RCPT TO takes, alone.
 *
 * One connection at a time, blocking sockets (the latency of one
 * command, not a throughput): connect, greeting (timed: for a client
 * from the internet the server looks it up in the relay table before
 * it greets), EHLO, then --per-conn transactions of MAIL FROM, RCPT TO
 * (timed: the recipient's look-up in the account store, or for an
 * outside address whether the client may relay), RSET; QUIT, and the
 * next connection, until -n RCPTs or --duration. Recipients are
 * numbered with --rcpts as in the smtp mode, in turn. Every RCPT must
 * get a 2xx or the run fails.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "pgbench.h"

struct rconn {
	int	fd;
	char	buf[8192];
	size_t	len;		/* octets in BUF */
};

/* Takes one complete reply out of C's buffer: its code, 0 when it is
   not complete yet. */
static int
take_reply(struct rconn *c)
{
	char *p = c->buf, *end = c->buf + c->len, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		char *line = p;

		p = nl + 1;
		if (nl - line < 3)
			continue;
		if (nl - line == 3 || line[3] != '-') {
			int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
			    (line[2] - '0');

			memmove(c->buf, p, (size_t)(end - p));
			c->len = (size_t)(end - p);
			return code > 0 ? code : -1;
		}
	}
	return 0;
}

/* Reads one whole reply; its code, or -1. */
static int
reply(struct rconn *c)
{
	for (;;) {
		int code = take_reply(c);
		ssize_t r;

		if (code != 0)
			return code;
		if (c->len == sizeof(c->buf))
			return -1;
		r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
}

/* Sends LINE (CRLF added) and reads the reply: its code, or -1. */
static int
command(struct rconn *c, const char *line)
{
	char out[PGB_ADDR_MAX + 32];
	size_t off = 0, n;

	if (pgb_fmt(out, sizeof(out), "%s\r\n", line) == -1)
		return -1;
	n = strlen(out);
	while (off < n) {
		ssize_t w = write(c->fd, out + off, n - off);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return reply(c);
}

static int
dial(const struct pgb_opts *o)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)o->port);
	if (inet_pton(AF_INET, o->host, &sin.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		(void)close(fd);
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

struct rcpt_run {
	const struct pgb_opts	*o;
	struct pgb_stats	 rcpt, greet;
	unsigned long		 done, failed, next;
	double			 deadline;
};

/* One connection: up to PER transactions. -1 when something failed. */
static int
one_conn(struct rcpt_run *rr, unsigned per)
{
	const struct pgb_opts *o = rr->o;
	struct rconn c = { .len = 0 };
	char line[PGB_ADDR_MAX + 16], addr[PGB_ADDR_MAX];
	double t0 = pgb_now();
	unsigned i;
	int r = -1;

	if ((c.fd = dial(o)) == -1) {
		pgb_warn("connect: %s", strerror(errno));
		return -1;
	}
	if (reply(&c) != 220)
		goto out;
	pgb_stats_add(&rr->greet, (pgb_now() - t0) * 1e3);
	if (command(&c, "EHLO pgbench.bench.test") != 250)
		goto out;
	for (i = 0; i < per; i++) {
		int code;

		if ((o->count > 0 && rr->done >= o->count) ||
		    (o->duration > 0 && pgb_now() >= rr->deadline))
			break;
		if (pgb_fmt(line, sizeof(line), "MAIL FROM:<%s>", o->from) ==
		    -1 || command(&c, line) != 250)
			goto out;
		if (pgb_addr(o->rcpt, rr->next++ % (o->rcpts ? o->rcpts : 1),
		    o->rcpts > 0, addr, sizeof(addr)) == -1 ||
		    pgb_fmt(line, sizeof(line), "RCPT TO:<%s>", addr) == -1)
			goto out;
		t0 = pgb_now();
		code = command(&c, line);
		if (code / 100 != 2) {
			pgb_warn("RCPT TO:<%s>: %d", addr, code);
			goto out;
		}
		pgb_stats_add(&rr->rcpt, (pgb_now() - t0) * 1e3);
		rr->done++;
		if (command(&c, "RSET") != 250)
			goto out;
	}
	r = command(&c, "QUIT") == 221 ? 0 : -1;
out:
	(void)close(c.fd);
	return r;
}

int
pgb_rcpt_run(const struct pgb_opts *o)
{
	struct rcpt_run rr;
	struct pgb_usage u0, u1;
	double t0;
	int have_cpu;

	if (o->rcpt == NULL || (o->count == 0 && o->duration <= 0))
		pgb_fatal("smtp-rcpt needs --rcpt and -n or --duration");
	memset(&rr, 0, sizeof(rr));
	rr.o = o;
	have_cpu = pgb_cpu_sample(o, &u0);
	t0 = pgb_now();
	rr.deadline = t0 + o->duration;
	while (!(o->count > 0 && rr.done >= o->count) &&
	    !(o->duration > 0 && pgb_now() >= rr.deadline)) {
		if (one_conn(&rr, o->per_conn > 1 ? o->per_conn : 20) == -1 &&
		    ++rr.failed >= 3)
			break;
		if (pgb_now() - t0 > o->timeout)
			break;
	}
	(void)pgb_cpu_sample(o, &u1);
	(void)printf("RESULT mode=smtp-rcpt rcpts=%lu failed=%lu secs=%.3f "
	    "rcpt_p50_ms=%.4f rcpt_p99_ms=%.4f greet_p50_ms=%.4f "
	    "greet_p99_ms=%.4f cpu_ms_per_rcpt=%.4f other_cpu_pct=%.1f\n",
	    rr.done, rr.failed, pgb_now() - t0,
	    pgb_stats_pct(&rr.rcpt, 50), pgb_stats_pct(&rr.rcpt, 99),
	    pgb_stats_pct(&rr.greet, 50), pgb_stats_pct(&rr.greet, 99),
	    have_cpu == 0 && rr.done > 0 ? pgb_cpu_ms(&u0, &u1) /
	    (double)rr.done : 0.0, have_cpu == 0 ? pgb_other_pct(&u0, &u1) :
	    0.0);
	(void)fprintf(stderr, "smtp-rcpt: %lu RCPTs, p50 %.3f ms, p99 %.3f "
	    "ms; greeting p50 %.3f ms; %lu failed connections\n", rr.done,
	    pgb_stats_pct(&rr.rcpt, 50), pgb_stats_pct(&rr.rcpt, 99),
	    pgb_stats_pct(&rr.greet, 50), rr.failed);
	pgb_stats_free(&rr.rcpt);
	pgb_stats_free(&rr.greet);
	return rr.failed > 0 || rr.done == 0 ? 1 : 0;
}
