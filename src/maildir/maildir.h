/*
 * maildir.h - Maildirs at mail_dir/DOMAIN/LOCALPART/ (SPEC 4).
 *
 * Both parts lower-case (callers pass canonical addresses). The local
 * part is encoded for the file system: '/', '%', control bytes and a
 * leading '.' become %XX, so no address can name a path outside its
 * domain's directory.
 */
#ifndef POPGATE_MAILDIR_H
#define POPGATE_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/compat.h"

#define MAILDIR_PATH_MAX 1024

/* mail_dir/domain/encoded-local into OUT. 0, or -1 if it does not fit. */
int	maildir_path(const char *mail_dir, const char *domain,
	    const char *local, char *out, size_t outsz) WARN_UNUSED;
/* Creates the Maildir (and tmp, new, cur) if missing, durably. 0, or -1
   with *ERROR_R (static or strerror). */
int	maildir_create(const char *mail_dir, const char *domain,
	    const char *local, const char **error_r) WARN_UNUSED;

#endif
