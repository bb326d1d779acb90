/*
 * priv.h - dropping root for good.
 */
#ifndef POPGATE_PRIV_H
#define POPGATE_PRIV_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/compat.h"

/* Looks up USER: 0 and its ids, or -1 with *ERROR_R. */
int	priv_lookup(const char *user, uid_t *uid_r, gid_t *gid_r,
	    const char **error_r) WARN_UNUSED;
/* Switches to USER (groups, gid, uid) and checks root cannot be
   regained. 0, or -1 with *ERROR_R. */
int	priv_drop(const char *user, const char **error_r) WARN_UNUSED;
/* chown -R PATH to UID:GID (no symlinks followed). 0 or -1 (errno). */
int	priv_chown_tree(const char *path, uid_t, gid_t) WARN_UNUSED;

#endif
