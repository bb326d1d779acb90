/*
 * maildir.c - Maildir layout and creation.
 */
#include <errno.h>
#include <sys/stat.h>

#include "maildir/maildir.h"
#include "util/fsutil.h"
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
maildir_create(const char *mail_dir, const char *domain, const char *local,
    const char **error_r)
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
		if (fs_mkdir_p(sub, 0700, true) == -1) {
			*error_r = strerror(errno);
			return -1;
		}
	}
	return 0;
}
