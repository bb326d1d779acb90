/*
 * maildir.c - Maildir layout and creation.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "maildir/maildir.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/spool.h"
#include "util/str.h"
#include "util/compat.h"

static int
encode_local(const char *local, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)local; *p != '\0'; p++) {
		bool esc = *p == '/' || *p == '%' || *p < 0x21 || *p >= 0x7f ||
		    (p == (const unsigned char *)local && *p == '.');

		if (o + (esc ? 3 : 1) >= outsz)
			return -1;
		if (esc) {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			out[o++] = (char)*p;
		}
	}
	if (o == 0 || o >= outsz)
		return -1;
	out[o] = '\0';
	return 0;
}

int
maildir_path(const char *mail_dir, const char *domain, const char *local,
    char *out, size_t outsz)
{
	char enc[3 * 64 + 1];

	if (*domain == '\0' || *domain == '.' || strchr(domain, '/') != NULL ||
	    encode_local(local, enc, sizeof(enc)) == -1)
		return -1;
	return str_fmt(out, outsz, "%s/%s/%s", mail_dir, domain, enc);
}

int
maildir_create(int dir_fd, const char *mail_dir, const char *domain,
    const char *local, const char **error_r)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	char path[MAILDIR_PATH_MAX], sub[MAILDIR_PATH_MAX + 8];
	size_t i;

	if (maildir_path(mail_dir, domain, local, path, sizeof(path)) == -1) {
		*error_r = "mailbox path too long";
		return -1;
	}
	for (i = 0; i < nitems(subs); i++) {
		if (str_fmt(sub, sizeof(sub), "%s/%s", path, subs[i]) == -1) {
			*error_r = "mailbox path too long";
			return -1;
		}
		if (fs_mkdir_p_at(dir_fd, sub, 0700, true) == -1) {
			*error_r = strerror(errno);
			return -1;
		}
	}
	return 0;
}

int
maildir_create_path(int dir_fd, const char *path)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	char sub[MAILDIR_PATH_MAX + 8];
	size_t i;

	for (i = 0; i < nitems(subs); i++) {
		if (str_fmt(sub, sizeof(sub), "%s/%s", path, subs[i]) == -1) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (fs_mkdir_p_at(dir_fd, sub, 0700, true) == -1)
			return -1;
	}
	return 0;
}

/* ---- delivery ---- */

static _Atomic unsigned long long deliver_seq;

/* The host part of Maildir names: '/' and ':' are encoded as the
   Maildir specification asks. */
static void
safe_host(const char *hostname, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *hostname != '\0' && o + 5 < outsz; hostname++) {
		if (*hostname == '/' || *hostname == ':') {
			(void)snprintf(out + o, outsz - o, "\\%03o",
			    (unsigned char)*hostname);
			o += 4;
		} else {
			out[o++] = *hostname;
		}
	}
	out[o] = '\0';
}

/* getpid() once: popgate does not fork. */
static long
my_pid(void)
{
	static _Atomic long pid;
	long p = atomic_load(&pid);

	if (p == 0) {
		p = (long)getpid();
		atomic_store(&pid, p);
	}
	return p;
}

static int
unique_name(char *out, size_t outsz, const char *host, uint64_t size,
    uint64_t vsize)
{
	struct timespec ts;
	unsigned char rnd[4];
	uint32_t r;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	memcpy(&r, rnd, sizeof(r));
	return str_fmt(out, outsz, "%lld.M%06ldP%ldQ%lluR%08x.%s,S=%llu,W=%llu",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000, my_pid(),
	    ++deliver_seq, r, host, (unsigned long long)size,
	    (unsigned long long)vsize);
}

static int
write_chunk(void *arg, const void *p, size_t n)
{
	return fs_write_all(*(int *)arg, p, n);
}

/* Writes prefix + body to FD. */
static int
write_msg(int fd, const struct maildir_msg *m)
{
	if (fs_write_all(fd, m->prefix, m->prefix_len) == -1)
		return -1;
	return spool_copy(m->body, write_chunk, &fd);
}

/* A complete, fsynced copy at PATH. */
static int
write_copy(int dir_fd, const char *path, const struct maildir_msg *m)
{
	int fd, saved;

	fd = openat(dir_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600);
	if (fd == -1)
		return -1;
	if (write_msg(fd, m) == -1 || fsync(fd) == -1) {
		saved = errno;
		(void)close(fd);
		(void)unlinkat(dir_fd, path, 0);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1) {
		saved = errno;
		(void)unlinkat(dir_fd, path, 0);
		errno = saved;
		return -1;
	}
	return 0;
}

/* DIR below DIR_FD as a directory stream, or NULL (errno). */
static DIR *
open_dir_stream(int dir_fd, const char *dir)
{
	int fd = fs_open_dir(dir_fd, dir);
	DIR *d;

	if (fd == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		(void)close(fd);
	return d;
}

int
maildir_usage(int dir_fd, const char *path, uint64_t *used_r)
{
	static const char *const subs[] = { "new", "cur" };
	char dir[MAILDIR_PATH_MAX + 8];
	struct dirent *de;
	uint64_t used = 0, v;
	size_t i;
	DIR *d;

	for (i = 0; i < nitems(subs); i++) {
		if (str_fmt(dir, sizeof(dir), "%s/%s", path, subs[i]) == -1)
			return -1;
		d = open_dir_stream(dir_fd, dir);
		if (d == NULL) {
			if (errno == ENOENT)
				continue;
			return -1;
		}
		while ((de = readdir(d)) != NULL) {
			const char *s;
			struct stat st;

			if (de->d_name[0] == '.')
				continue;
			s = strstr(de->d_name, ",S=");
			if (s != NULL && str_to_uint_n(s + 3,
			    strspn(s + 3, "0123456789"), 0, UINT64_MAX,
			    &v) == 0) {
				used += v;
			} else if (fstatat(dirfd(d), de->d_name, &st, 0) == 0) {
				used += (uint64_t)st.st_size;
			}
		}
		(void)closedir(d);
	}
	*used_r = used;
	return 0;
}

int
maildir_room(int dir_fd, const struct maildir_dest *d,
    const struct maildir_msg *m)
{
	uint64_t used;

	if (d->quota == 0)
		return 1;
	if (maildir_usage(dir_fd, d->path, &used) == -1)
		return -1;
	return used + m->prefix_len + m->body->len <= d->quota;
}

int
maildir_deliver(int dir_fd, struct maildir_dest *d, size_t n,
    const struct maildir_msg *m, const char *hostname, size_t *failed_r)
{
	char host[256], tmp[MAILDIR_PATH_MAX + 300], dst[MAILDIR_PATH_MAX + 300];
	char newdir[MAILDIR_PATH_MAX + 8];
	uint64_t size = m->prefix_len + m->body->len;
	size_t i, done = 0;
	int saved = 0, r;

	safe_host(hostname, host, sizeof(host));
	tmp[0] = '\0';
	for (i = 0; i < n; i++) {
		*failed_r = i;
		if ((r = maildir_room(dir_fd, &d[i], m)) != 1) {
			if (r == 0)
				errno = EDQUOT;
			goto fail;
		}
		if (unique_name(d[i].name, sizeof(d[i].name), host, size,
		    size + m->lines) == -1 ||
		    str_fmt(dst, sizeof(dst), "%s/new/%s", d[i].path,
		    d[i].name) == -1) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		if (tmp[0] == '\0') {
			/* The one real write: tmp/ of the first Maildir. */
			if (str_fmt(tmp, sizeof(tmp), "%s/tmp/%s", d[i].path,
			    d[i].name) == -1) {
				errno = ENAMETOOLONG;
				goto fail;
			}
			/* A Maildir is made on its first delivery. */
			if (write_copy(dir_fd, tmp, m) == -1 &&
			    (errno != ENOENT ||
			    maildir_create_path(dir_fd, d[i].path) == -1 ||
			    write_copy(dir_fd, tmp, m) == -1)) {
				tmp[0] = '\0';
				goto fail;
			}
		}
		if (linkat(dir_fd, tmp, dir_fd, dst, 0) == -1 &&
		    (errno != ENOENT ||
		    maildir_create_path(dir_fd, d[i].path) == -1 ||
		    linkat(dir_fd, tmp, dir_fd, dst, 0) == -1)) {
			if (errno != EXDEV && errno != EPERM && errno != EMLINK)
				goto fail;
			if (write_copy(dir_fd, dst, m) == -1)
				goto fail;
		}
		done = i + 1;
	}
	/* The links are durable once each new/ is synced. */
	for (i = 0; i < n; i++) {
		*failed_r = i;
		if (str_fmt(newdir, sizeof(newdir), "%s/new", d[i].path) == -1 ||
		    fs_fsync_dir_shared_at(dir_fd, newdir) == -1)
			goto fail;
	}
	if (tmp[0] != '\0')
		(void)unlinkat(dir_fd, tmp, 0);
	return 0;
fail:
	saved = errno;
	for (i = 0; i < done; i++) {
		if (str_fmt(dst, sizeof(dst), "%s/new/%s", d[i].path,
		    d[i].name) == 0 && unlinkat(dir_fd, dst, 0) == 0 &&
		    str_fmt(newdir, sizeof(newdir), "%s/new", d[i].path) == 0 &&
		    fs_fsync_dir_at(dir_fd, newdir) == -1)
			log_warn("maildir %s: fsync after removing a partial "
			    "delivery: %s", newdir, strerror(errno));
	}
	if (tmp[0] != '\0')
		(void)unlinkat(dir_fd, tmp, 0);
	errno = saved;
	return -1;
}
