/*
 * cli_privsep.c - the privileged helper of the daemon and its requests
 * (see cli_privsep.h), and the same requests served in-process when the
 * daemon keeps its user.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli_privsep.h"
#include "core/conn.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define HELPER_FD	3	/* the helper's end of the pair */
#define REPLY_WAIT_MS	10000	/* the daemon waits this long at most */

struct privsep {
	pthread_mutex_t	 lock;		/* one request at a time */
	char		*path;		/* the configuration file */
	int		 sock;		/* -1: in-process */
	pid_t		 pid;
	bool		 broken;	/* a protocol error or a dead helper */
	/* in-process only: */
	struct keyhold	*kh;
	struct lookhold	*lh;
	const struct config *start;	/* a ref: the keys until a reload */
	struct config	*cur;		/* read by the last open_files */
};

/* The error lines of a refusal, at most this long in all. */
#define ERRORS_TEXT_MAX	(IPC_PAYLOAD_MAX - 64)

void
privsep_files_close(struct privsep_files *f)
{
	size_t i;

	if (f->file_fd != -1)
		(void)close(f->file_fd);
	if (f->cert_fd != -1)
		(void)close(f->cert_fd);
	for (i = 0; i < f->nhosts; i++)
		if (f->host_fds[i] != -1)
			(void)close(f->host_fds[i]);
	free(f->host_fds);
	memset(f, 0, sizeof(*f));
	f->file_fd = f->cert_fd = -1;
}

/* The refusal's errors (one text of lines) from IN into ERRORS. */
static int
decode_errors(struct ipc_in *in, struct strlist *errors)
{
	const char *p, *end, *nl;
	const void *text;
	char line[1024];
	size_t n;

	if (ipc_get_bytes(in, ERRORS_TEXT_MAX, &text, &n) == -1 || n == 0 ||
	    memchr(text, '\0', n) != NULL || ipc_get_done(in, 0) == -1)
		return -1;
	p = text;
	end = p + n;
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (str_ncopy(line, p, (size_t)(nl - p), sizeof(line)) == -1)
			return -1;
		strlist_add(errors, line);
	}
	return 1;
}

int
privsep_decode_files(const struct ipc_msg *m, struct privsep_files *out,
    struct strlist *errors)
{
	struct ipc_in in;
	uint32_t ok, nhosts;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->file_fd = out->cert_fd = -1;
	ipc_in_init(&in, m);
	if (m->type != PRIVSEP_FILES || ipc_get_u32(&in, &ok) == -1 ||
	    ok > 1)
		return -1;
	if (ok == 0)
		return decode_errors(&in, errors);
	if (ipc_get_u32(&in, &nhosts) == -1 || nhosts > PRIVSEP_HOSTS_MAX ||
	    ipc_get_done(&in, 2 + nhosts) == -1)
		return -1;
	out->file_fd = m->fds[0];
	out->cert_fd = m->fds[1];
	out->nhosts = nhosts;
	out->host_fds = xcalloc((size_t)nhosts + 1, sizeof(int));
	for (i = 0; i < (size_t)nhosts; i++)
		out->host_fds[i] = m->fds[2 + i];
	return 0;
}

int
privsep_decode_req_bind(const struct ipc_msg *m, char *host,
    size_t hostsz, uint16_t *port)
{
	struct ipc_in in;
	uint32_t p;

	ipc_in_init(&in, m);
	if (m->type != PRIVSEP_REQ_BIND || ipc_get_u32(&in, &p) == -1 ||
	    p > UINT16_MAX || ipc_get_text(&in, host, hostsz) == -1 ||
	    host[0] == '\0' || ipc_get_done(&in, 0) == -1)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

int
privsep_decode_bound(const struct ipc_msg *m, int *fd_r, char *err,
    size_t errsz)
{
	struct ipc_in in;
	uint32_t e;

	*fd_r = -1;
	ipc_in_init(&in, m);
	if (m->type != PRIVSEP_BOUND || ipc_get_u32(&in, &e) == -1 ||
	    ipc_get_text(&in, err, errsz) == -1 ||
	    ipc_get_done(&in, e == 0 ? 1 : 0) == -1 ||
	    (e == 0) != (err[0] == '\0'))
		return -1;
	if (e == 0)
		*fd_r = m->fds[0];
	return 0;
}

/* ---- the requests, served where the privileges are ---- */

/* PATH opened into *FD, or an error "WHERE: PATH: cannot open: ..."
   (WHERE: the tls_host line, or NULL). */
static int
open_one(const char *path, int *fd, const char *where,
    struct strlist *errors)
{
	char line[1200];

	if ((*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) != -1)
		return 0;
	(void)snprintf(line, sizeof(line), "%s%s%s: cannot open: %s",
	    where != NULL ? where : "", where != NULL ? ": " : "", path,
	    strerror(errno));
	strlist_add(errors, line);
	return -1;
}

int
privsep_open_tls(const struct config *cfg, struct privsep_files *f,
    struct strlist *errors)
{
	size_t i, before = errors->n;

	memset(f, 0, sizeof(*f));
	f->file_fd = f->cert_fd = -1;
	if (cfg->ntls_host > PRIVSEP_HOSTS_MAX) {
		strlist_add(errors, "more tls_host lines than a reload can "
		    "pass (120)");
		return -1;
	}
	(void)open_one(cfg->tls_cert, &f->cert_fd, NULL, errors);
	f->host_fds = xcalloc(cfg->ntls_host + 1, sizeof(int));
	for (i = 0; i < cfg->ntls_host; i++) {
		const struct tls_host_cfg *h = &cfg->tls_host[i];
		char where[600];

		(void)snprintf(where, sizeof(where), "%s:%u: tls_host %s",
		    cfg->path, h->line, h->name);
		f->host_fds[i] = -1;
		f->nhosts++;
		(void)open_one(h->cert, &f->host_fds[i], where, errors);
	}
	if (errors->n > before) {
		privsep_files_close(f);
		return -1;
	}
	return 0;
}

/* Opens PATH, parses it, opens its TLS files into F. The configuration
   into *CFG_R (NULL on errors, which go to ERRORS). */
static int
open_all(const char *path, struct privsep_files *f, struct config **cfg_r,
    struct strlist *errors)
{
	struct config *cfg;
	int file_fd;

	memset(f, 0, sizeof(*f));
	f->file_fd = f->cert_fd = -1;
	*cfg_r = NULL;
	if (open_one(path, &file_fd, NULL, errors) == -1)
		return -1;
	if ((cfg = config_load_fd(file_fd, path, errors)) == NULL ||
	    privsep_open_tls(cfg, f, errors) == -1) {
		(void)close(file_fd);
		config_free(&cfg);
		return -1;
	}
	f->file_fd = file_fd;
	*cfg_r = cfg;
	return 0;
}

/* The helper's answer to PRIVSEP_REQ_FILES; CUR becomes what it read. */
static int
serve_files(int sock, const char *path, struct config **cur)
{
	struct privsep_files f;
	struct strlist errors;
	struct config *cfg;
	struct ipc_out o;
	struct buf text;
	int fds[PRIVSEP_FDS_MAX], r;
	size_t i;

	strlist_init(&errors);
	ipc_out_init(&o);
	if (open_all(path, &f, &cfg, &errors) == 0) {
		ipc_put_u32(&o, 1);
		ipc_put_u32(&o, (uint32_t)f.nhosts);
		fds[0] = f.file_fd;
		fds[1] = f.cert_fd;
		for (i = 0; i < f.nhosts; i++)
			fds[2 + i] = f.host_fds[i];
		r = ipc_send(sock, PRIVSEP_FILES, 0, &o, fds,
		    2 + (unsigned)f.nhosts);
		privsep_files_close(&f);
		config_free(cur);
		*cur = cfg;
	} else {
		buf_init(&text, ERRORS_TEXT_MAX);
		for (i = 0; i < errors.n && text.len < ERRORS_TEXT_MAX - 1100;
		    i++)
			(void)buf_printf(&text, "%s%s", i > 0 ? "\n" : "",
			    errors.v[i]);
		ipc_put_u32(&o, 0);
		ipc_put_bytes(&o, text.data, text.len);
		buf_free(&text);
		r = ipc_send(sock, PRIVSEP_FILES, 0, &o, NULL, 0);
	}
	ipc_out_free(&o);
	strlist_free(&errors);
	return r;
}

/* The helper's answer to PRIVSEP_REQ_BIND: only a listener of CUR. */
static int
serve_bind(int sock, const struct ipc_msg *m, const struct config *cur)
{
	char host[NET_ADDRSTRLEN], err[512];
	uint16_t port;
	struct ipc_out o;
	size_t i;
	int fd = -1, r;
	uint32_t e = EPERM;

	if (privsep_decode_req_bind(m, host, sizeof(host), &port) == -1)
		return -1;
	(void)snprintf(err, sizeof(err), "%s port %u is not a listener of "
	    "the configuration", host, (unsigned)port);
	for (i = 0; cur != NULL && i < cur->nlisten; i++) {
		if (cur->listen[i].port != port ||
		    strcmp(cur->listen[i].host, host) != 0)
			continue;
		fd = conn_listen_socket(host, port, err, sizeof(err));
		e = fd == -1 ? (uint32_t)(errno != 0 ? errno : EIO) : 0;
		break;
	}
	if (e != 0 && err[0] == '\0')
		(void)str_copy(err, strerror((int)e), sizeof(err));
	ipc_out_init(&o);
	ipc_put_u32(&o, e);
	ipc_put_text(&o, e != 0 ? err : "");
	r = ipc_send(sock, PRIVSEP_BOUND, m->id, &o, &fd, fd != -1);
	ipc_out_free(&o);
	if (fd != -1)
		(void)close(fd);
	return r;
}

/* The answer to the key requests M: start popgate-keys, or load the
   keys of CFG. */
static int
serve_keys(int sock, const struct ipc_msg *m, struct keyhold *kh,
    const struct config *cfg)
{
	struct keys_loaded *l = xcalloc(1, sizeof(*l));
	char err[PRIVSEP_REASON_MAX];
	uint32_t gen, keep;
	struct ipc_out o;
	long pid = 0;
	int fd = -1, r;

	if (privsep_decode_req_keys(m, &gen, &keep) == -1) {
		free(l);
		return -1;
	}
	err[0] = '\0';
	if (m->type == PRIVSEP_REQ_KEYS_START)
		r = keyhold_start(kh, gen, &fd, &pid, l, err, sizeof(err));
	else
		r = keyhold_load(kh, cfg, gen, keep, l, err, sizeof(err));
	ipc_out_init(&o);
	ipc_put_u32(&o, r == 0 ? 1 : 0);
	if (r == 0 && m->type == PRIVSEP_REQ_KEYS_START)
		ipc_put_u32(&o, (uint32_t)pid);
	if (r == 0)
		keys_put_loaded(&o, l);
	else
		ipc_put_text(&o, err[0] != '\0' ? err : "failed");
	r = ipc_send(sock, m->type + 1, m->id, &o, &fd, fd != -1);
	ipc_out_free(&o);
	if (fd != -1)
		(void)close(fd);
	free(l);
	return r;
}

/* The answer to the popgate-lookup requests M: (re)start it, or kill
   it. */
static int
serve_lookup(int sock, const struct ipc_msg *m, struct lookhold *lh)
{
	char err[PRIVSEP_REASON_MAX];
	int start_fd, reload_fd, fd = -1, r;
	struct ipc_out o;
	long pid = 0;

	if (privsep_decode_req_lookup(m, &start_fd, &reload_fd, &pid) == -1)
		return -1;
	ipc_out_init(&o);
	if (m->type == PRIVSEP_REQ_LOOKUP_KILL) {
		ipc_put_u32(&o, lookhold_kill(lh, pid) == 0 ? 1 : 0);
	} else {
		err[0] = '\0';
		r = lookhold_start(lh, start_fd, reload_fd, &fd, &pid, err,
		    sizeof(err));
		(void)close(start_fd);
		if (reload_fd != -1)
			(void)close(reload_fd);
		ipc_put_u32(&o, r == 0 ? 1 : 0);
		if (r == 0)
			ipc_put_u32(&o, (uint32_t)pid);
		else
			ipc_put_text(&o, err[0] != '\0' ? err : "failed");
	}
	r = ipc_send(sock, m->type + 1, m->id, &o, &fd, fd != -1);
	ipc_out_free(&o);
	if (fd != -1)
		(void)close(fd);
	return r;
}

/* The helper: serves until the daemon goes (end of the connection) or
   breaks the protocol. Never returns. */
static void NORETURN
helper_main(const char *path, const struct config *start)
{
	struct ipc_msg *m = xmalloc(sizeof(*m));
	struct keyhold *kh = keyhold_new(start->user, true, start->log);
	struct lookhold *lh = lookhold_new(start->user, start->data_dir, path,
	    start->log);
	struct config *cur = NULL;
	int r, sock = HELPER_FD;

	(void)prctl(PR_SET_NAME, "popgate-priv", 0, 0, 0);
	/* The daemon's handlers write to its loop, which is not here:
	   SIGTERM ends the helper, a terminal's ^C and SIGHUP are the
	   daemon's (its end of the pair closing ends the helper). */
	(void)signal(SIGTERM, SIG_DFL);
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGINT, SIG_IGN);
	log_init("popgate", start->log);
	for (;;) {
		/* popgate-keys never speaks first on our socket to it: when
		   that is readable it ended (or broke the protocol), and it
		   is reaped now rather than at the next start. */
		if (keyhold_wait(kh, sock, lh) == 1)
			continue;
		r = ipc_recv(sock, m, -1);
		if (r == 0) {
			keyhold_free(&kh);
			lookhold_free(&lh);
			_exit(0);
		}
		if (r == -1 || (m->nfds > 0 &&
		    m->type != PRIVSEP_REQ_LOOKUP_START)) {
			log_error("privileged helper: bad request from the "
			    "daemon: %s", r == -1 ? strerror(errno) :
			    "descriptors attached");
			_exit(1);
		}
		if (m->type == PRIVSEP_REQ_FILES && m->len == 0)
			r = serve_files(sock, path, &cur);
		else if (m->type == PRIVSEP_REQ_BIND)
			r = serve_bind(sock, m, cur);
		else if (m->type == PRIVSEP_REQ_KEYS_START ||
		    m->type == PRIVSEP_REQ_KEYS_LOAD)
			r = serve_keys(sock, m, kh, cur != NULL ? cur : start);
		else if (m->type == PRIVSEP_REQ_LOOKUP_START ||
		    m->type == PRIVSEP_REQ_LOOKUP_KILL)
			r = serve_lookup(sock, m, lh);
		else
			r = -1;
		if (r == -1) {
			log_error("privileged helper: request %u: %s",
			    (unsigned)m->type, errno != 0 ? strerror(errno) :
			    "malformed");
			_exit(1);
		}
	}
}

/* Closes every descriptor from FD up: close_range(2), or one by one
   where a seccomp filter (systemd's @system-service of an older
   release) refuses it. */
void
privsep_close_from(int fd)
{
	struct rlimit rl;
	rlim_t i, max = 65536;

	if (close_range((unsigned)fd, ~0U, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur;
	for (i = (rlim_t)fd; i < max; i++)
		(void)close((int)i);
}

struct privsep *
privsep_start(const char *path, const struct config *cfg, char *err,
    size_t errsz)
{
	struct privsep *p;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		(void)snprintf(err, errsz, "socketpair: %s", strerror(errno));
		return NULL;
	}
	if ((pid = fork()) == -1) {
		(void)snprintf(err, errsz, "fork: %s", strerror(errno));
		(void)close(sv[0]);
		(void)close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		/* Nothing of the daemon's: no listener, no data file, no
		   lock. Its socket becomes descriptor 3. */
		if (dup2(sv[1], HELPER_FD) == -1)
			_exit(1);
		privsep_close_from(HELPER_FD + 1);
		helper_main(path, cfg);
	}
	(void)close(sv[1]);
	p = xcalloc(1, sizeof(*p));
	if (pthread_mutex_init(&p->lock, NULL) != 0)
		PANIC("pthread_mutex_init");
	p->path = xstrdup(path);
	p->sock = sv[0];
	p->pid = pid;
	log_info("privileged helper started pid=%ld", (long)pid);
	return p;
}

struct privsep *
privsep_direct(const char *path, const struct config *cfg)
{
	struct privsep *p = xcalloc(1, sizeof(*p));

	if (pthread_mutex_init(&p->lock, NULL) != 0)
		PANIC("pthread_mutex_init");
	p->path = xstrdup(path);
	p->sock = -1;
	p->kh = keyhold_new(NULL, false, cfg->log);
	p->lh = lookhold_new(NULL, cfg->data_dir, path, cfg->log);
	p->start = config_ref(cfg);
	return p;
}

void
privsep_free(struct privsep **pp)
{
	struct privsep *p = *pp;
	int status;

	if (p == NULL)
		return;
	*pp = NULL;
	if (p->sock != -1) {
		(void)close(p->sock);	/* the helper sees the end */
		while (waitpid(p->pid, &status, 0) == -1 && errno == EINTR)
			;
	}
	keyhold_free(&p->kh);
	lookhold_free(&p->lh);
	config_unref(&p->start);
	config_free(&p->cur);
	(void)pthread_mutex_destroy(&p->lock);
	free(p->path);
	free(p);
}

/* A request to the helper and its answer into M; -1 with the reason in
   ERRORS when the helper is unusable (it is not used again). */
static int
helper_call(struct privsep *p, uint32_t type, const struct ipc_out *o,
    struct ipc_msg *m, struct strlist *errors)
{
	char line[256];

	if (p->broken) {
		strlist_add(errors, "the privileged helper is gone (see the "
		    "log); restart the daemon");
		return -1;
	}
	if (ipc_send(p->sock, type, 0, o, NULL, 0) == 0 &&
	    ipc_recv(p->sock, m, REPLY_WAIT_MS) == 1)
		return 0;
	(void)snprintf(line, sizeof(line), "the privileged helper (pid %ld) "
	    "did not answer: %s; restart the daemon", (long)p->pid,
	    errno == EPROTO ? "malformed answer" : errno == 0 ?
	    "it exited" : strerror(errno));
	strlist_add(errors, line);
	p->broken = true;
	return -1;
}

int
privsep_open_files(struct privsep *p, struct privsep_files *f,
    struct strlist *errors)
{
	struct ipc_msg *m;
	struct config *cfg;
	int r;

	(void)pthread_mutex_lock(&p->lock);
	if (p->sock == -1) {
		if ((r = open_all(p->path, f, &cfg, errors)) == 0) {
			config_free(&p->cur);
			p->cur = cfg;
		}
		(void)pthread_mutex_unlock(&p->lock);
		return r;
	}
	m = xmalloc(sizeof(*m));
	m->nfds = 0;
	errno = 0;
	r = helper_call(p, PRIVSEP_REQ_FILES, NULL, m, errors);
	if (r == 0 && (r = privsep_decode_files(m, f, errors)) != 0) {
		if (r == -1) {
			strlist_add(errors, "malformed answer of the "
			    "privileged helper; restart the daemon");
			p->broken = true;
		}
		ipc_msg_close_fds(m);
		r = -1;
	}
	(void)pthread_mutex_unlock(&p->lock);
	free(m);
	return r;
}

int
privsep_bind(struct privsep *p, const char *host, uint16_t port, char *err,
    size_t errsz)
{
	struct ipc_msg *m;
	struct strlist errors;
	struct ipc_out o;
	int fd = -1;

	if (p->sock == -1)
		return conn_listen_socket(host, port, err, errsz);
	m = xmalloc(sizeof(*m));
	m->nfds = 0;
	strlist_init(&errors);
	ipc_out_init(&o);
	ipc_put_u32(&o, port);
	ipc_put_text(&o, host);
	errno = 0;
	(void)pthread_mutex_lock(&p->lock);
	if (helper_call(p, PRIVSEP_REQ_BIND, &o, m, &errors) == -1)
		(void)str_copy(err, errors.v[0], errsz);
	else if (privsep_decode_bound(m, &fd, err, errsz) == -1) {
		(void)str_copy(err, "malformed answer of the privileged "
		    "helper", errsz);
		p->broken = true;
		ipc_msg_close_fds(m);
	}
	(void)pthread_mutex_unlock(&p->lock);
	strlist_free(&errors);
	ipc_out_free(&o);
	free(m);
	return fd;
}

/* ---- popgate-keys ---- */

int
privsep_decode_req_keys(const struct ipc_msg *m, uint32_t *gen,
    uint32_t *keep)
{
	struct ipc_in in;

	*keep = 0;
	ipc_in_init(&in, m);
	if ((m->type != PRIVSEP_REQ_KEYS_START &&
	    m->type != PRIVSEP_REQ_KEYS_LOAD) || ipc_get_u32(&in, gen) == -1 ||
	    (m->type == PRIVSEP_REQ_KEYS_LOAD &&
	    (ipc_get_u32(&in, keep) == -1 || *gen == 0)))
		return -1;
	return ipc_get_done(&in, 0);
}

int
privsep_decode_keys(const struct ipc_msg *m, long *pid_r, int *fd_r,
    struct keys_loaded *out, char *err, size_t errsz)
{
	bool started = m->type == PRIVSEP_KEYS_STARTED;
	struct ipc_in in;
	uint32_t ok, pid = 0;

	*pid_r = 0;
	*fd_r = -1;
	ipc_in_init(&in, m);
	if ((!started && m->type != PRIVSEP_KEYS_LOADED) ||
	    ipc_get_u32(&in, &ok) == -1 || ok > 1)
		return -1;
	if (ok == 0)
		return ipc_get_text(&in, err, errsz) == 0 &&
		    ipc_get_done(&in, 0) == 0 ? 0 : -1;
	if ((started && (ipc_get_u32(&in, &pid) == -1 || pid == 0 ||
	    pid > INT32_MAX)) || keys_get_loaded(&in, out) == -1 ||
	    ipc_get_done(&in, started ? 1 : 0) == -1)
		return -1;
	*pid_r = (long)pid;
	if (started)
		*fd_r = m->fds[0];
	return 1;
}

/* A key request of TYPE with GEN and KEEP to the helper and its answer:
   as privsep_keys_start; the caller holds the lock. */
static int
helper_keys(struct privsep *p, uint32_t type, uint32_t gen, uint32_t keep,
    int *sock_r, long *pid_r, struct keys_loaded *out, char *err,
    size_t errsz)
{
	struct ipc_msg *m = xmalloc(sizeof(*m));
	struct strlist errors;
	struct ipc_out o;
	int r = -1, d;

	m->nfds = 0;
	strlist_init(&errors);
	ipc_out_init(&o);
	ipc_put_u32(&o, gen);
	if (type == PRIVSEP_REQ_KEYS_LOAD)
		ipc_put_u32(&o, keep);
	errno = 0;
	if (helper_call(p, type, &o, m, &errors) == -1) {
		(void)str_copy(err, errors.v[0], errsz);
	} else if ((d = privsep_decode_keys(m, pid_r, sock_r, out, err,
	    errsz)) == -1 || m->type != type + 1) {
		if (d == 1 && *sock_r != -1)
			(void)close(*sock_r);
		*sock_r = -1;
		(void)str_copy(err, "malformed answer of the privileged "
		    "helper", errsz);
		p->broken = true;
		ipc_msg_close_fds(m);
	} else {
		r = d == 1 ? 0 : -1;
	}
	ipc_out_free(&o);
	strlist_free(&errors);
	free(m);
	return r;
}

int
privsep_keys_start(struct privsep *p, uint32_t gen, int *sock_r,
    long *pid_r, struct keys_loaded *out, char *err, size_t errsz)
{
	int r;

	*sock_r = -1;
	(void)pthread_mutex_lock(&p->lock);
	if (p->sock == -1)
		r = keyhold_start(p->kh, gen, sock_r, pid_r, out, err, errsz);
	else
		r = helper_keys(p, PRIVSEP_REQ_KEYS_START, gen, 0, sock_r,
		    pid_r, out, err, errsz);
	(void)pthread_mutex_unlock(&p->lock);
	return r;
}

int
privsep_keys_load(struct privsep *p, uint32_t gen, uint32_t keep,
    struct keys_loaded *out, char *err, size_t errsz)
{
	long pid;
	int sock = -1, r;

	(void)pthread_mutex_lock(&p->lock);
	if (p->sock == -1)
		r = keyhold_load(p->kh, p->cur != NULL ? p->cur : p->start,
		    gen, keep, out, err, errsz);
	else
		r = helper_keys(p, PRIVSEP_REQ_KEYS_LOAD, gen, keep, &sock,
		    &pid, out, err, errsz);
	(void)pthread_mutex_unlock(&p->lock);
	return r;
}

bool
privsep_separate(const struct privsep *p)
{
	return p->sock != -1;
}

bool
privsep_broken(struct privsep *p)
{
	bool b;

	(void)pthread_mutex_lock(&p->lock);
	b = p->broken;
	(void)pthread_mutex_unlock(&p->lock);
	return b;
}

/* ---- popgate-lookup ---- */

int
privsep_decode_req_lookup(const struct ipc_msg *m, int *start_r,
    int *reload_r, long *pid_r)
{
	struct ipc_in in;
	uint32_t n;

	*start_r = *reload_r = -1;
	*pid_r = 0;
	ipc_in_init(&in, m);
	if (m->type == PRIVSEP_REQ_LOOKUP_KILL) {
		if (ipc_get_u32(&in, &n) == -1 || n == 0 || n > INT32_MAX ||
		    ipc_get_done(&in, 0) == -1)
			return -1;
		*pid_r = (long)n;
		return 0;
	}
	if (m->type != PRIVSEP_REQ_LOOKUP_START ||
	    ipc_get_u32(&in, &n) == -1 || n < 1 || n > 2 ||
	    ipc_get_done(&in, n) == -1)
		return -1;
	*start_r = m->fds[0];
	if (n == 2)
		*reload_r = m->fds[1];
	return 0;
}

int
privsep_decode_lookup(const struct ipc_msg *m, long *pid_r, int *fd_r,
    char *err, size_t errsz)
{
	struct ipc_in in;
	uint32_t ok, pid;

	*pid_r = 0;
	*fd_r = -1;
	ipc_in_init(&in, m);
	if ((m->type != PRIVSEP_LOOKUP_STARTED &&
	    m->type != PRIVSEP_LOOKUP_KILLED) ||
	    ipc_get_u32(&in, &ok) == -1 || ok > 1)
		return -1;
	if (m->type == PRIVSEP_LOOKUP_KILLED)
		return ipc_get_done(&in, 0) == 0 ? (int)ok : -1;
	if (ok == 0)
		return ipc_get_text(&in, err, errsz) == 0 &&
		    ipc_get_done(&in, 0) == 0 ? 0 : -1;
	if (ipc_get_u32(&in, &pid) == -1 || pid == 0 || pid > INT32_MAX ||
	    ipc_get_done(&in, 1) == -1)
		return -1;
	*pid_r = (long)pid;
	*fd_r = m->fds[0];
	return 1;
}

/* A popgate-lookup request of TYPE to the helper, with O and the
   descriptors FDS, and its answer decoded: as privsep_decode_lookup,
   -1 also when the helper is unusable (ERR says why). The caller holds
   the lock. */
static int
helper_lookup(struct privsep *p, uint32_t type, const struct ipc_out *o,
    const int *fds, unsigned nfds, long *pid_r, int *fd_r, char *err,
    size_t errsz)
{
	struct ipc_msg *m = xmalloc(sizeof(*m));
	int r = -1;

	m->nfds = 0;
	errno = 0;
	if (p->broken)
		(void)str_copy(err, "the privileged helper is gone (see the "
		    "log)", errsz);
	else if (ipc_send(p->sock, type, 0, o, fds, nfds) == -1 ||
	    ipc_recv(p->sock, m, REPLY_WAIT_MS) != 1) {
		(void)snprintf(err, errsz, "the privileged helper (pid %ld) "
		    "did not answer: %s", (long)p->pid, errno == EPROTO ?
		    "malformed answer" : errno == 0 ? "it exited" :
		    strerror(errno));
		p->broken = true;
	} else if (m->type != type + 1 ||
	    (r = privsep_decode_lookup(m, pid_r, fd_r, err, errsz)) == -1) {
		(void)str_copy(err, "malformed answer of the privileged "
		    "helper", errsz);
		p->broken = true;
		ipc_msg_close_fds(m);
		r = -1;
	}
	free(m);
	return r;
}

int
privsep_lookup_start(struct privsep *p, int start_fd, int reload_fd,
    int *ctl_r, long *pid_r, char *err, size_t errsz)
{
	int fds[2] = { start_fd, reload_fd }, r;
	struct ipc_out o;

	*ctl_r = -1;
	(void)pthread_mutex_lock(&p->lock);
	if (p->sock == -1) {
		r = lookhold_start(p->lh, start_fd, reload_fd, ctl_r, pid_r,
		    err, errsz);
	} else {
		ipc_out_init(&o);
		ipc_put_u32(&o, reload_fd != -1 ? 2 : 1);
		r = helper_lookup(p, PRIVSEP_REQ_LOOKUP_START, &o, fds,
		    reload_fd != -1 ? 2 : 1, pid_r, ctl_r, err, errsz);
		ipc_out_free(&o);
		r = r == 1 ? 0 : -1;
	}
	(void)pthread_mutex_unlock(&p->lock);
	return r;
}

void
privsep_lookup_kill(struct privsep *p, long pid)
{
	char err[256];
	struct ipc_out o;
	long none;
	int fd;

	(void)pthread_mutex_lock(&p->lock);
	if (p->sock == -1) {
		(void)lookhold_kill(p->lh, pid);
	} else {
		ipc_out_init(&o);
		ipc_put_u32(&o, (uint32_t)pid);
		if (helper_lookup(p, PRIVSEP_REQ_LOOKUP_KILL, &o, NULL, 0,
		    &none, &fd, err, sizeof(err)) == -1)
			log_error("popgate-lookup pid=%ld: not killed: %s",
			    pid, err);
		ipc_out_free(&o);
	}
	(void)pthread_mutex_unlock(&p->lock);
}
