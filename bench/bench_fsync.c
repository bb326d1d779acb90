/*
 * bench_fsync.c - mode "fsync": the physical reference for durable
 * delivery. One stream does what a Maildir delivery must do for each
 * message: create a file in tmp/, write 4 KiB, fsync it, close it, rename
 * it into new/ and fsync new/. Its rate is what one writer gets from the
 * file system; concurrent writers can beat it only by sharing journal
 * commits.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgbench.h"

#define FSYNC_SIZE	4096

struct fsync_dirs {
	char	tmp[1024], new[1024];
	int	newfd;
};

static void
make_dirs(const struct pgb_opts *o, struct fsync_dirs *d)
{
	if (pgb_fmt(d->tmp, sizeof(d->tmp), "%s/tmp", o->dir) == -1 ||
	    pgb_fmt(d->new, sizeof(d->new), "%s/new", o->dir) == -1)
		pgb_fatal("fsync: directory name too long");
	if ((mkdir(o->dir, 0700) == -1 && errno != EEXIST) ||
	    (mkdir(d->tmp, 0700) == -1 && errno != EEXIST) ||
	    (mkdir(d->new, 0700) == -1 && errno != EEXIST))
		pgb_fatal("fsync: mkdir under %s: %s", o->dir, strerror(errno));
	d->newfd = open(d->new, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->newfd == -1)
		pgb_fatal("fsync: %s: %s", d->new, strerror(errno));
}

/* One durable file, number I. */
static void
one_file(struct fsync_dirs *d, const char *data, unsigned long i)
{
	char tmp[1100], dst[1100];
	ssize_t n;
	int fd;

	if (pgb_fmt(tmp, sizeof(tmp), "%s/%lu", d->tmp, i) == -1 ||
	    pgb_fmt(dst, sizeof(dst), "%s/%lu", d->new, i) == -1)
		pgb_fatal("fsync: file name too long");
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		pgb_fatal("fsync: %s: %s", tmp, strerror(errno));
	n = write(fd, data, FSYNC_SIZE);
	if (n != FSYNC_SIZE)
		pgb_fatal("fsync: write %s: %s", tmp,
		    n == -1 ? strerror(errno) : "short write");
	if (fsync(fd) == -1 || close(fd) == -1)
		pgb_fatal("fsync: %s: %s", tmp, strerror(errno));
	if (rename(tmp, dst) == -1 || fsync(d->newfd) == -1)
		pgb_fatal("fsync: %s: %s", dst, strerror(errno));
}

static void
remove_files(struct fsync_dirs *d, const struct pgb_opts *o,
    unsigned long n)
{
	char path[1100];
	unsigned long i;

	for (i = 0; i < n; i++)
		if (pgb_fmt(path, sizeof(path), "%s/%lu", d->new, i) == 0 &&
		    unlink(path) == -1)
			pgb_warn("fsync: %s: %s", path, strerror(errno));
	if (close(d->newfd) == -1 || rmdir(d->new) == -1 ||
	    rmdir(d->tmp) == -1 || rmdir(o->dir) == -1)
		pgb_warn("fsync: cleaning %s: %s", o->dir, strerror(errno));
}

int
pgb_fsync_run(const struct pgb_opts *o)
{
	struct fsync_dirs d;
	struct pgb_stats lat = { NULL, 0, 0 };
	struct pgb_usage u0, u1;
	char data[FSYNC_SIZE];
	unsigned long n = 0;
	double t0, t, secs;

	if (o->dir == NULL || (o->count == 0 && o->duration == 0))
		pgb_fatal("fsync: --dir and -n or --duration are needed");
	memset(data, 'x', sizeof(data));
	make_dirs(o, &d);
	(void)pgb_cpu_sample(o, &u0);
	t0 = t = pgb_now();
	while ((o->count == 0 || n < o->count) &&
	    (o->duration == 0 || t - t0 < o->duration)) {
		one_file(&d, data, n++);
		pgb_stats_add(&lat, pgb_now() - t);
		t = pgb_now();
	}
	secs = t - t0;
	(void)pgb_cpu_sample(o, &u1);
	(void)printf("RESULT mode=fsync files=%lu secs=%.3f rate=%.1f "
	    "lat_p50_ms=%.3f lat_p99_ms=%.3f other_cpu_pct=%.0f\n", n, secs,
	    (double)n / secs, pgb_stats_pct(&lat, 50) * 1e3,
	    pgb_stats_pct(&lat, 99) * 1e3, pgb_other_pct(&u0, &u1));
	(void)fprintf(stderr, "fsync: %lu files in %.2fs: %.1f/s\n", n, secs,
	    (double)n / secs);
	remove_files(&d, o, n);
	pgb_stats_free(&lat);
	return 0;
}
