/*
 * priv.c - privilege drop: supplementary groups, gid, uid, in that order,
 * then a check that setuid(0) fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/priv.h"
#include "util/compat.h"

int
priv_lookup(const char *user, uid_t *uid_r, gid_t *gid_r,
    const char **error_r)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		*error_r = errno != 0 ? strerror(errno) : "no such user";
		return -1;
	}
	if (pw->pw_uid == 0) {
		*error_r = "the user has uid 0";
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	return 0;
}

int
priv_drop(const char *user, const char **error_r)
{
	uid_t uid;
	gid_t gid;

	if (priv_lookup(user, &uid, &gid, error_r) == -1)
		return -1;
	if (initgroups(user, gid) == -1 || setgid(gid) == -1 ||
	    setuid(uid) == -1) {
		*error_r = strerror(errno);
		return -1;
	}
	if (setuid(0) != -1 || geteuid() == 0 || getuid() == 0) {
		*error_r = "root could be regained after the switch";
		return -1;
	}
	return 0;
}

static uid_t chown_uid;
static gid_t chown_gid;

static int
chown_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return lchown(path, chown_uid, chown_gid) == -1 ? -1 : 0;
}

int
priv_chown_tree(const char *path, uid_t uid, gid_t gid)
{
	chown_uid = uid;
	chown_gid = gid;
	return nftw(path, chown_one, 32, FTW_PHYS);
}
