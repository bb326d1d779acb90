/*
 * fuzz_dlv_client.c - the outbound SMTP client (src/delivery) against a
 * scripted remote server: the real queue manager and client, a queued
 * message, a `transport` route to a loopback port this harness listens
 * on, workers inline on the loop thread (issue 13).
 *
 * Input: one selector byte, then the server's script: chunks separated
 * by NUL. Chunk 0 is sent when the client connects, each next one once
 * the client has done all it can with the one before (so a reply can be
 * cut anywhere, or several come in one packet; a client that said
 * nothing is given its idle time, to say QUIT); after the last, the
 * server shuts its side down and the run ends when the client has gone.
 * A new connection (the clear-text retry after a failed handshake, the
 * next address) takes the chunks that are left. Selector bits: 0
 * tls_verify_peer, 1 no TLS context, 2-3 the message (one recipient;
 * three with dot lines and 8-bit text; 120 recipients, two
 * transactions; SMTPUTF8 from the null sender).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "fuzz.h"
#include "core/tls.h"
#include "delivery/dlv_int.h"
#include "maildir/maildir.h"
#include "policy/policy.h"
#include "store/store.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/spool.h"
#include "util/worker.h"

#define TURNS		40	/* loop turns per chunk */
#define END_TURNS	2000	/* after the script, at most */

struct variant {
	const char	*sender;
	const char	*text;
	unsigned	 nrcpts;
	bool		 body8bit, smtputf8;
};

static const struct variant variants[4] = {
	{ "ann@acme.test", "Subject: one\n\nhello\n", 1, false, false },
	{ "ann@acme.test", "Subject: dots\n\n.\n..leading dot\ncaf\xc3\xa9\n"
	    "no newline at the end", 3, true, false },
	{ "ann@acme.test", "Subject: many\n\nfor 120\n", 120, false, false },
	{ "", "Subject: =?utf-8?q?=C3=BC?=\n\n\xc3\xbc\n", 1, true, true },
};

static char dir[64];
static struct event_base *base;
static struct config *cfgs[2];		/* tls_verify_peer no, yes */
static SSL_CTX *tls[2];
static struct worker_pool *pool;
static struct policy_env penv;
static struct spool bodies[4];
static int lfd = -1;
static int data_fd = -1;	/* the temporary data_dir */
static struct queue *queue;
static unsigned runs;

static int
rm_any(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP)
		(void)rmdir(path);
	else
		(void)unlink(path);
	return 0;
}

/* The temporary directory goes at exit (it is on /dev/shm). */
static void
cleanup(void)
{
	if (dir[0] != '\0')
		(void)nftw(dir, rm_any, 16, FTW_DEPTH | FTW_PHYS);
}

static void
die(const char *what)
{
	fprintf(stderr, "fuzz setup: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct config *
parse_cfg(unsigned port, bool verify)
{
	struct strlist errs;
	struct config *c;
	struct buf text;

	buf_init(&text, 4096);
	(void)buf_printf(&text, "data_dir = %s\nhostname = client.fuzz.test\n"
	    "reverse_dns = no\nretry_min = 1h\nretry_max = 2h\n"
	    "delay_warning = 0\nconnect_timeout = 5s\n"
	    "tls_verify_peer = %s\ntransport fuzz.test = 127.0.0.1:%u\n",
	    dir, verify ? "yes" : "no", port);
	strlist_init(&errs);
	c = config_parse("fuzz.conf", buf_cstr(&text), &errs);
	if (c == NULL)
		die(errs.n > 0 ? errs.v[0] : "config");
	buf_free(&text);
	strlist_free(&errs);
	return c;
}

static void
setup_store(void)
{
	struct store *s;
	struct errbuf eb;
	char path[4096];
	const char *err = "";

	if (fs_fd_path(data_fd, path, sizeof(path)) == -1)
		die("data_dir path");
	s = store_open("sqlite", path, &eb, &err);
	if (s == NULL || store_migrate(s, &err) == -1 ||
	    store_customer_add(s, "acme", &err) != 0 ||
	    store_domain_add(s, "acme.test", "acme", &err) != 0 ||
	    store_mailbox_add(s, "ann@acme.test",
	    "$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdp"
	    "l6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1", 0, &err) != 0)
		die(err);
	store_close(&s);
	if (maildir_create(data_fd, "mail", "acme.test", "ann", &err) == -1)
		die(err);
}

static void
setup(void)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct event_config *ec;
	char tlserr[TLS_ERROR_MAX];
	const char *err = "";
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	(void)str_copy(dir, access("/dev/shm", W_OK) == 0 ?
	    "/dev/shm/popgate-fuzz-XXXXXX" : "/tmp/popgate-fuzz-XXXXXX",
	    sizeof(dir));
	if (mkdtemp(dir) == NULL ||
	    (data_fd = fs_open_dir(AT_FDCWD, dir)) == -1)
		die("temporary directory");
	(void)atexit(cleanup);
	log_init("popgate-fuzz", LOG_TO_STDERR);
	if (getenv("FUZZ_QUIET_LOGS") == NULL && freopen("/dev/null", "w",
	    stderr) == NULL)
		die("stderr");
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd == -1 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ==
	    -1 || listen(lfd, 16) == -1 || getsockname(lfd,
	    (struct sockaddr *)&sin, &sl) == -1)
		die("listener");
	cfgs[0] = parse_cfg(ntohs(sin.sin_port), false);
	cfgs[1] = parse_cfg(ntohs(sin.sin_port), true);
	setup_store();
	if (fs_mkdir_p_at(data_fd, "tmp", 0700, false) == -1 ||
	    (queue = queue_new(data_fd, &err)) == NULL)
		die(err);
	tls[0] = tls_client_ctx(false, tlserr);
	tls[1] = tls_client_ctx(true, tlserr);
	if (tls[0] == NULL || tls[1] == NULL)
		die(tlserr);
	for (i = 0; i < nitems(bodies); i++) {
		spool_init(&bodies[i], data_fd, "tmp");
		spool_append(&bodies[i], variants[i].text,
		    strlen(variants[i].text));
	}
	/* A precise clock: idle_usec is due when it says, not at the next
	   tick of a coarse one (runs must be the same every time). */
	ec = event_config_new();
	if (ec == NULL || event_config_set_flag(ec,
	    EVENT_BASE_FLAG_PRECISE_TIMER) == -1 ||
	    (base = event_base_new_with_config(ec)) == NULL)
		die("event base");
	event_config_free(ec);
	penv.cfg = cfgs[0];
	penv.data_fd = data_fd;
	penv.queue = queue;
	pool = worker_pool_new(base, "fuzz", 0, backends_thread_init,
	    backends_thread_fini, &penv);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (base == NULL)
		setup();
	return 0;
}

/* Queues the message of variant V; its id into ID. */
static void
queue_message(const struct variant *v, const struct spool *body, char *id)
{
	struct queue_env env;
	const char *err = "";
	const char *p;
	struct queue_rcpt *r;
	unsigned i;

	queue_env_init(&env);
	env.arrival = time(NULL);
	(void)str_copy(env.sender, v->sender, sizeof(env.sender));
	(void)str_copy(env.auth, "fuzz", sizeof(env.auth));
	(void)str_copy(env.client, "fuzz [127.0.0.1]", sizeof(env.client));
	env.body8bit = v->body8bit;
	env.smtputf8 = v->smtputf8;
	for (p = v->text; *p != '\0'; p++)
		env.lines += *p == '\n';
	for (i = 0; i < v->nrcpts; i++) {
		char a[64];

		(void)str_fmt(a, sizeof(a), "r%u@fuzz.test", i);
		r = queue_env_add_rcpt(&env, a);
		/* Every other one with DSN parameters (RFC 3461): passed on
		   to a server offering DSN, else a "relayed" notice. */
		if (i % 2 == 1) {
			r->notify = DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE;
			(void)str_fmt(r->orcpt, sizeof(r->orcpt),
			    "rfc822;o%u+2B@fuzz.test", i);
		}
	}
	if (v->nrcpts > 1) {
		(void)str_copy(env.envid, "QQ314159", sizeof(env.envid));
		(void)str_copy(env.ret, "HDRS", sizeof(env.ret));
	}
	if (queue_write(queue, &env, "", 0, body, &err) == -1)
		die(err);
	(void)str_copy(id, env.id, ID_LEN + 1);
	queue_env_free(&env);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_F)
		(void)unlink(path);
	return 0;
}

/* Whatever a run left (states, bounces in ann's Maildir) goes. */
static void
tidy(void)
{
	char path[1024], nw[1200];

	/* The harness names its files by path; the code under test uses
	   data_fd. */
	(void)str_fmt(nw, sizeof(nw), "%s/%s/msg", dir, QUEUE_DIR);
	(void)nftw(nw, rm_one, 8, FTW_PHYS);
	(void)str_fmt(nw, sizeof(nw), "%s/%s/state", dir, QUEUE_DIR);
	(void)nftw(nw, rm_one, 8, FTW_PHYS);
	if (++runs % 100 == 0 && maildir_path("mail", "acme.test", "ann",
	    path, sizeof(path)) == 0) {
		(void)str_fmt(nw, sizeof(nw), "%s/%s/new", dir, path);
		(void)nftw(nw, rm_one, 8, FTW_PHYS);
	}
}

/* Loop turns until nothing moves (at most N): a connection the client
   opened is taken (the newest replaces the one before); what the client
   sent is read and dropped. True if it sent something. */
static bool
turn(int *sfd, unsigned n)
{
	char sink[65536];
	unsigned i, quiet = 0;
	bool sent = false;

	for (i = 0; i < n && quiet < 2; i++) {
		bool moved = false;
		int fd;

		(void)event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC)) != -1) {
			if (*sfd != -1)
				(void)close(*sfd);
			*sfd = fd;
			moved = true;
		}
		if (*sfd != -1)
			while (read(*sfd, sink, sizeof(sink)) > 0)
				sent = moved = true;
		/* Loopback is synchronous: no bytes in flight. */
		if (moved || event_base_get_num_events(base,
		    EVENT_BASE_COUNT_ACTIVE) > 0)
			quiet = 0;
		else
			quiet++;
	}
	return sent;
}

/* The server writes CHUNK whole (a blocking write could stall the loop
   that must read it: small pieces, turning in between). */
static void
send_chunk(int *sfd, const uint8_t *p, size_t n)
{
	unsigned stuck = 0;

	while (n > 0 && *sfd != -1 && stuck < 100) {
		ssize_t w = write(*sfd, p, n);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			stuck = 0;
		} else if (w == -1 && errno != EAGAIN) {
			return;
		} else {
			stuck++;
		}
		turn(sfd, 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct qmgr_deps qd;
	struct qmgr *q;
	const char *err = "";
	char id[ID_LEN + 1];
	const uint8_t *p, *end;
	unsigned sel, i;
	int sfd = -1;

	if (base == NULL)
		setup();
	if (len < 1)
		return 0;
	sel = data[0];
	queue_message(&variants[(sel >> 2) & 3], &bodies[(sel >> 2) & 3], id);
	memset(&qd, 0, sizeof(qd));
	qd.base = base;
	qd.cfg = cfgs[sel & 1];
	qd.io = pool;
	qd.tls = (sel & 2) ? NULL : tls[sel & 1];
	qd.idle_usec = 10;
	qd.queue = queue;
	q = qmgr_new(&qd, &err);
	if (q == NULL)
		die(err);
	/* The load, the split, the connection. */
	turn(&sfd, TURNS);
	p = data + 1;
	end = data + len;
	while (p < end) {
		const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));
		size_t n = (nul != NULL ? nul : end) - p;

		send_chunk(&sfd, p, n);
		/* A client with nothing to say may be idle: after idle_usec
		   it says QUIT, which the next chunk may answer. */
		if (!turn(&sfd, TURNS)) {
			(void)usleep(20);
			(void)turn(&sfd, TURNS);
		}
		p += n + (nul != NULL);
	}
	/* Until the client is gone and the message is back in the queue
	   (a QUIT waits idle_usec of real time): every path of the client
	   ends once the server has hung up. */
	for (i = 0; q->nconn > 0 || q->nactive > 0; i++) {
		if (i == END_TURNS)
			abort();	/* a connection that never ends */
		if (sfd != -1)
			(void)shutdown(sfd, SHUT_WR);
		turn(&sfd, 1);
		if (i > 20)
			(void)usleep(20);
	}
	qmgr_free(&q);
	for (i = 0; i < 10; i++)
		turn(&sfd, 1);
	if (sfd != -1)
		(void)close(sfd);
	tidy();
	return 0;
}
