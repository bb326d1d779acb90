/*
 * session.c - whole SMTP, POP3 and IMAP sessions for the fuzzers: the real
 * session code, fed through a socketpair, with the real store on a
 * temporary directory (held open, as the daemon holds its data
 * directory) and workers that run inline on the loop thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "fuzz.h"
#include "core/conn.h"
#include "maildir/maildir.h"
#include "policy/policy.h"
#include "imap/imap_int.h"
#include "pop3/pop3_int.h"
#include "smtp/smtp_int.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/worker.h"

static char dir[] = "/tmp/popgate-fuzz-XXXXXX";
static int data_fd = -1;
static char data_path[32];	/* its /proc/self/fd path */
static struct queue *queue;
static struct event_base *base;
static struct config *cfg;
static struct conn_hub *hub;
static struct worker_pool *pool;
static struct policy_env penv;
static struct auth_throttle *throttle;
static struct listen_cfg lc_smtp, lc_sub, lc_pop3, lc_imap;
static unsigned runs;

static void
die(const char *what)
{
	fprintf(stderr, "fuzz setup: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
put_message(const char *path, const char *name, const char *text)
{
	char file[1024];
	int fd;

	snprintf(file, sizeof(file), "%s/cur/%s", path, name);
	fd = openat(data_fd, file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (fd == -1 || fs_write_all(fd, text, strlen(text)) == -1)
		die(file);
	close(fd);
}

/* A Maildir with a few messages, kept the same for every POP3 run. */
static void
setup_mail(void)
{
	const char *err;
	char path[1024];

	if (maildir_create(data_fd, "mail", "acme.test", "ann", &err) == -1)
		die(err);
	if (maildir_path("mail", "acme.test", "ann", path, sizeof(path)) ==
	    -1)
		die("path");
	put_message(path, "1000.M1P1.fuzz,S=40,W=43:2,", "Subject: one\n\n"
	    ".dot line\nlast line no newline");
	put_message(path, "1001.M2P1.fuzz:2,", "Subject: two\r\n\r\nbody\r\n");
	put_message(path, "1002.M3P1.fuzz,S=10,W=11:2,", "S: 3\n\nbody\n");
}

void
fuzz_session_init(void)
{
	struct strlist errs;
	struct errbuf eb;
	struct store *s;
	struct buf text;
	const char *err;

	if (base != NULL)
		return;
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL ||
	    (data_fd = fs_open_dir(AT_FDCWD, dir)) == -1 ||
	    fs_fd_path(data_fd, data_path, sizeof(data_path)) == -1)
		die("temporary directory");
	log_init("popgate-fuzz", LOG_TO_STDERR);
	if (getenv("FUZZ_QUIET_LOGS") == NULL && freopen("/dev/null", "w",
	    stderr) == NULL)
		die("stderr");
	buf_init(&text, 4096);
	(void)buf_printf(&text, "data_dir = %s\nhostname = mx.fuzz.test\n"
	    "reverse_dns = no\nauth_failure_delay = 0\nmax_errors = 1000\n"
	    "max_message_size = 1M\nrelay_max_message_size = 64K\n"
	    "trusted_networks = 127.0.0.2\nsmtp_timeout = 5s\n"
	    "pop3_timeout = 5s\nimap_timeout = 5s\n", dir);
	strlist_init(&errs);
	cfg = config_parse("fuzz.conf", buf_cstr(&text), &errs);
	if (cfg == NULL)
		die(errs.n > 0 ? errs.v[0] : "config");
	buf_free(&text);
	strlist_free(&errs);
	s = store_open("sqlite", data_path, &eb, &err);
	if (s == NULL || store_migrate(s, &err) == -1 ||
	    store_customer_add(s, "acme", &err) != 0 ||
	    store_domain_add(s, "acme.test", "acme", &err) != 0 ||
	    /* SHA-512-crypt of "s3cret": cheap enough per run. */
	    store_mailbox_add(s, "ann@acme.test",
	    "$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdp"
	    "l6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1", 0, &err) != 0 ||
	    store_alias_add(s, "fwd@acme.test", "out@example.org", &err) != 0)
		die(err);
	store_close(&s);
	if (fs_mkdir_p_at(data_fd, "tmp", 0700, false) == -1 ||
	    (queue = queue_new(data_fd, &err)) == NULL)
		die("dirs");
	setup_mail();
	base = event_base_new();
	hub = conn_hub_new(base, NULL, 1000, 1000);
	penv.cfg = cfg;
	penv.data_fd = data_fd;
	penv.queue = queue;
	pool = worker_pool_new(base, "fuzz", 0, backends_thread_init,
	    backends_thread_fini, &penv);
	throttle = auth_throttle_new(1000000, 600);
	(void)str_copy(lc_smtp.host, "127.0.0.1", sizeof(lc_smtp.host));
	lc_smtp.role = ROLE_SMTP;
	lc_sub = lc_smtp;
	lc_sub.role = ROLE_SUBMISSION;
	lc_pop3 = lc_smtp;
	lc_pop3.role = ROLE_POP3;
	lc_imap = lc_smtp;
	lc_imap.role = ROLE_IMAP;
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

/* Files and directories (nftw with FTW_DEPTH). */
static int
rm_all(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	if (f->level == 0)
		return 0;
	if (flag == FTW_DP)
		(void)rmdir(path);
	else
		(void)unlink(path);
	return 0;
}

/* Deliveries pile up: clear what the sessions wrote now and then. */
static void
tidy(void)
{
	char path[1024];

	if (++runs % 200 != 0)
		return;
	snprintf(path, sizeof(path), "%s/queue/msg", dir);
	(void)nftw(path, rm_one, 8, FTW_PHYS);
	snprintf(path, sizeof(path), "%s/queue/state", dir);
	(void)nftw(path, rm_one, 8, FTW_PHYS);
	snprintf(path, sizeof(path), "%s/mail/acme.test/ann/new", dir);
	(void)nftw(path, rm_one, 8, FTW_PHYS);
	if (runs % 1000 == 0) {
		/* IMAP sessions make folders and index files: start over. */
		snprintf(path, sizeof(path), "%s/mail/acme.test/ann", dir);
		(void)nftw(path, rm_all, 16, FTW_PHYS | FTW_DEPTH);
		setup_mail();
	}
}

void
fuzz_session_run(enum fuzz_proto proto, const char *prefix,
    const uint8_t *data, size_t len)
{
	struct smtp_deps sd;
	struct pop3_deps pd;
	struct smtp_server *smtp = NULL;
	struct pop3_server *pop3 = NULL;
	struct imap_deps id;
	struct imap_server *imap = NULL;
	struct netaddr peer;
	struct conn *c;
	size_t plen = prefix != NULL ? strlen(prefix) : 0, sent = 0;
	char *input, sink[65536];
	int sv[2], i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		die("socketpair");
	/* The first input byte picks the client address: loopback, a
	   trusted one, or a stranger. */
	if (net_addr_parse(len > 0 && (data[0] & 3) == 1 ? "127.0.0.2" :
	    len > 0 && (data[0] & 3) == 2 ? "192.0.2.7" : "127.0.0.1",
	    &peer) == -1)
		die("address");
	input = malloc(plen + len + 1);
	if (input == NULL)
		die("malloc");
	if (plen > 0)
		memcpy(input, prefix, plen);
	if (len > 0)
		memcpy(input + plen, data, len);
	c = conn_adopt(hub, proto == FUZZ_POP3 ? &lc_pop3 :
	    proto == FUZZ_IMAP ? &lc_imap : proto == FUZZ_SUBMISSION ?
	    &lc_sub : &lc_smtp, sv[0], &peer);
	if (c == NULL)
		die("conn");
	if (proto == FUZZ_POP3) {
		memset(&pd, 0, sizeof(pd));
		pd.base = base;
		pd.cfg = cfg;
		pd.io = pd.cpu = pool;
		pd.throttle = throttle;
		pop3 = pop3_server_new(&pd);
		pop3_server_accept(c, pop3);
	} else if (proto == FUZZ_IMAP) {
		memset(&id, 0, sizeof(id));
		id.base = base;
		id.cfg = cfg;
		id.io = id.cpu = pool;
		id.throttle = throttle;
		imap = imap_server_new(&id);
		imap_server_accept(c, imap);
	} else {
		memset(&sd, 0, sizeof(sd));
		sd.base = base;
		sd.cfg = cfg;
		sd.io = sd.cpu = pool;
		sd.throttle = throttle;
		sd.data_fd = data_fd;
		smtp = smtp_server_new(&sd);
		smtp_server_accept(c, smtp);
	}
	/* Feed the input while the loop runs, then end it, then let the
	   session finish; never more than a bounded number of turns. */
	for (i = 0; i < 20000; i++) {
		ssize_t n;

		if (sent < plen + len) {
			n = write(sv[1], input + sent, plen + len - sent);
			if (n > 0)
				sent += (size_t)n;
			if (sent == plen + len)
				(void)shutdown(sv[1], SHUT_WR);
		}
		while (read(sv[1], sink, sizeof(sink)) > 0)
			;
		(void)event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (sent == plen + len && ((smtp != NULL &&
		    smtp->sessions.n == 0) || (pop3 != NULL &&
		    pop3->sessions.n == 0) || (imap != NULL &&
		    imap->sessions.n == 0)))
			break;
	}
	close(sv[1]);
	/* Whatever is left (a session waiting on a timer) goes now. */
	smtp_server_free(&smtp);
	pop3_server_free(&pop3);
	imap_server_free(&imap);
	for (i = 0; i < 100; i++)
		(void)event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	free(input);
	tidy();
}
