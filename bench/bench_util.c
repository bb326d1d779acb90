/*
 * bench_util.c - what the pgbench modes share: the clock, messages,
 * addresses, percentiles, sockets, and the server's CPU time and memory
 * read from /proc (proc(5): stat fields 14-17, smaps_rollup).
 *
 * The server is a tree of processes (popgate is one; Postfix and
 * Dovecot are a master and its children): its CPU time is the sum over
 * the live processes of the tree of utime + stime, plus cutime + cstime
 * for children they have already reaped, so a Postfix smtpd that exits
 * during a run still counts (in its master).
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "pgbench.h"

double
pgb_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
vwarn(const char *fmt, va_list ap)
{
	(void)fputs("pgbench: ", stderr);
	(void)vfprintf(stderr, fmt, ap);
	(void)fputc('\n', stderr);
}

void
pgb_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(2);
}

void
pgb_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

int
pgb_fmt(char *out, size_t outsz, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outsz, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

int
pgb_addr(const char *addr, unsigned long n, bool numbered, char *out,
    size_t outsz)
{
	const char *at = strrchr(addr, '@');

	if (!numbered)
		return pgb_fmt(out, outsz, "%s", addr);
	if (at == NULL)
		return pgb_fmt(out, outsz, "%s%lu", addr, n);
	return pgb_fmt(out, outsz, "%.*s%lu%s", (int)(at - addr), addr, n, at);
}

int
pgb_local(const char *addr, char *out, size_t outsz)
{
	const char *at = strrchr(addr, '@');
	size_t n = at != NULL ? (size_t)(at - addr) : strlen(addr);

	return pgb_fmt(out, outsz, "%.*s", (int)n, addr);
}

/* ---- percentiles ---- */

void
pgb_stats_add(struct pgb_stats *s, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap == 0 ? 1024 : s->cap * 2;
		double *nv = reallocarray(s->v, cap, sizeof(*nv));

		if (nv == NULL)
			pgb_fatal("out of memory");
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double
pgb_stats_pct(struct pgb_stats *s, double p)
{
	size_t i;

	if (s->n == 0)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	/* Nearest rank: the smallest sample with at least P% at or below. */
	i = (size_t)(p / 100 * (double)s->n + 0.999999);
	if (i > 0)
		i--;
	if (i >= s->n)
		i = s->n - 1;
	return s->v[i];
}

void
pgb_stats_free(struct pgb_stats *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- the server's process tree ---- */

struct proc_ent {
	pid_t		pid, ppid;
	uint64_t	ticks;		/* utime + stime + cutime + cstime */
	bool		in;
};

struct proc_list {
	struct proc_ent	*v;
	size_t		 n, cap;
};

/* Reads /proc/PID/stat: the parent and the four time fields. */
static int
read_stat(pid_t pid, struct proc_ent *e)
{
	char path[64], buf[1024], *p;
	unsigned long long t[4];
	long long ppid;
	FILE *f;
	size_t n;

	if (pgb_fmt(path, sizeof(path), "/proc/%d/stat", (int)pid) == -1 ||
	    (f = fopen(path, "re")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	(void)fclose(f);
	buf[n] = '\0';
	/* The command name may hold anything: parse after its last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %*c %lld %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %llu %llu %llu %llu", &ppid, &t[0], &t[1], &t[2],
	    &t[3]) != 5)
		return -1;
	e->pid = pid;
	e->ppid = (pid_t)ppid;
	e->ticks = t[0] + t[1] + t[2] + t[3];
	e->in = false;
	return 0;
}

static void
scan_procs(struct proc_list *l)
{
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (d == NULL)
		pgb_fatal("/proc: %s", strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (l->n == l->cap) {
			size_t cap = l->cap == 0 ? 512 : l->cap * 2;
			struct proc_ent *nv = reallocarray(l->v, cap,
			    sizeof(*nv));

			if (nv == NULL)
				pgb_fatal("out of memory");
			l->v = nv;
			l->cap = cap;
		}
		if (read_stat((pid_t)strtol(de->d_name, NULL, 10),
		    &l->v[l->n]) == 0)
			l->n++;
	}
	(void)closedir(d);
}

/* Marks the processes of the trees rooted at the --pid processes. */
static void
mark_trees(const struct pgb_opts *o, struct proc_list *l)
{
	bool changed = true;
	size_t i, j, k;

	for (i = 0; i < l->n; i++)
		for (k = 0; k < o->npids; k++)
			if (l->v[i].pid == o->pids[k])
				l->v[i].in = true;
	/* Parents usually come first, but pids wrap: iterate to a fixpoint
	   (a tree is a few levels deep). */
	while (changed) {
		changed = false;
		for (i = 0; i < l->n; i++) {
			if (l->v[i].in)
				continue;
			for (j = 0; j < l->n; j++) {
				if (l->v[j].in && l->v[j].pid == l->v[i].ppid) {
					l->v[i].in = changed = true;
					break;
				}
			}
		}
	}
}

/* Busy ticks of all CPUs: the first line of /proc/stat less idle and
   iowait. */
static uint64_t
sys_busy(void)
{
	unsigned long long v[8];
	FILE *f = fopen("/proc/stat", "re");
	int n;

	if (f == NULL)
		return 0;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	(void)fclose(f);
	if (n != 8)
		return 0;
	return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

int
pgb_cpu_sample(const struct pgb_opts *o, struct pgb_usage *u)
{
	struct proc_list l = { NULL, 0, 0 };
	size_t i;

	memset(u, 0, sizeof(*u));
	u->busy = sys_busy();
	u->self = pgb_self_cpu();
	u->t = pgb_now();
	if (o->npids == 0)
		return 0;
	scan_procs(&l);
	mark_trees(o, &l);
	for (i = 0; i < l.n; i++) {
		if (!l.v[i].in)
			continue;
		u->ticks += l.v[i].ticks;
		u->nproc++;
	}
	free(l.v);
	return u->nproc > 0 ? 0 : -1;
}

double
pgb_cpu_ms(const struct pgb_usage *before, const struct pgb_usage *after)
{
	long hz = sysconf(_SC_CLK_TCK);

	if (hz <= 0 || after->ticks < before->ticks)
		return 0;
	return (double)(after->ticks - before->ticks) * 1000.0 / (double)hz;
}

double
pgb_other_pct(const struct pgb_usage *before, const struct pgb_usage *after)
{
	long hz = sysconf(_SC_CLK_TCK), ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	double busy, mine, secs = after->t - before->t;

	if (hz <= 0 || ncpu <= 0 || secs <= 0 || after->busy < before->busy)
		return 0;
	busy = (double)(after->busy - before->busy) / (double)hz;
	mine = pgb_cpu_ms(before, after) / 1000 + after->self - before->self;
	if (busy < mine)
		return 0;
	return (busy - mine) * 100 / (secs * (double)ncpu);
}

double
pgb_self_pct(const struct pgb_usage *before, const struct pgb_usage *after)
{
	double secs = after->t - before->t;

	return secs > 0 ? (after->self - before->self) * 100 / secs : 0;
}

/* Adds the Rss and Pss lines of /proc/PID/smaps_rollup to M. */
static int
read_rollup(pid_t pid, struct pgb_mem *m)
{
	char path[64], line[256];
	unsigned long long kb;
	FILE *f;

	if (pgb_fmt(path, sizeof(path), "/proc/%d/smaps_rollup",
	    (int)pid) == -1 || (f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "Rss: %llu kB", &kb) == 1)
			m->rss_kb += kb;
		else if (sscanf(line, "Pss: %llu kB", &kb) == 1)
			m->pss_kb += kb;
	}
	(void)fclose(f);
	m->nproc++;
	return 0;
}

int
pgb_mem_sample(const struct pgb_opts *o, struct pgb_mem *m)
{
	struct proc_list l = { NULL, 0, 0 };
	size_t i;

	memset(m, 0, sizeof(*m));
	if (o->npids == 0)
		return 0;
	scan_procs(&l);
	mark_trees(o, &l);
	for (i = 0; i < l.n; i++)
		if (l.v[i].in)
			(void)read_rollup(l.v[i].pid, m);
	free(l.v);
	return m->nproc > 0 ? 0 : -1;
}

double
pgb_self_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void
pgb_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			pgb_warn("cannot raise the descriptor limit: %s",
			    strerror(errno));
	}
}

/* ---- sockets ---- */

struct bufferevent *
pgb_connect(struct event_base *base, const char *host, int port,
    void (*readcb)(struct bufferevent *, void *),
    void (*eventcb)(struct bufferevent *, short, void *), void *arg)
{
	struct sockaddr_in sin;
	struct bufferevent *bev;
	int one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		errno = EINVAL;
		return NULL;
	}
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;
	bufferevent_setcb(bev, readcb, NULL, eventcb, arg);
	if (bufferevent_socket_connect(bev, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1) {
		bufferevent_free(bev);
		return NULL;
	}
	/* Small request/reply exchanges: no Nagle delay on our side. */
	(void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY,
	    &one, sizeof(one));
	if (bufferevent_enable(bev, EV_READ | EV_WRITE) == -1) {
		bufferevent_free(bev);
		return NULL;
	}
	return bev;
}

void
pgb_abort(struct bufferevent **bevp)
{
	struct linger lg = { 1, 0 };
	int fd;

	if (*bevp == NULL)
		return;
	fd = bufferevent_getfd(*bevp);
	if (fd != -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	bufferevent_free(*bevp);
	*bevp = NULL;
}
