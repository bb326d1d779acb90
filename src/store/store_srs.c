/*
 * store_srs.c - the SRS secrets (store.h), kept in the account store so
 * that every host sharing it makes and takes back the same addresses: a
 * bounce to an address one host made may arrive at any MX.
 */
#include <string.h>

#include "store/store_int.h"
#include "util/compat.h"

#define SECRET_MIN	16

static void
row_secret(struct store_row *r, void *arg)
{
	struct store_srs_secrets *s = arg;
	const char *slot = store_row_text(r, 0);

	if (strcmp(slot, "current") == 0) {
		(void)str_copy(s->current, store_row_text(r, 1),
		    sizeof(s->current));
		s->created = store_row_int(r, 2);
	} else {
		(void)str_copy(s->previous, store_row_text(r, 1),
		    sizeof(s->previous));
		s->previous_created = store_row_int(r, 2);
	}
}

int
store_srs_get(struct store *s, struct store_srs_secrets *out,
    const char **error_r)
{
	int r;

	memset(out, 0, sizeof(*out));
	r = store_result(s, s->be->exec(s, SQL_SRS_LIST, NULL, 0, row_secret,
	    out), error_r);
	if (r != 0) {
		explicit_bzero(out, sizeof(*out));
		return -1;
	}
	/* A previous one alone (cannot be made so): it still verifies,
	   but nothing signs until a rotation. */
	return out->current[0] != '\0' ? 1 : 0;
}

static int
secret_ok(struct store *s, const char *secret, const char **error_r)
{
	size_t n = strlen(secret), i;

	for (i = 0; i < n; i++)
		if (secret[i] <= ' ' || secret[i] > '~')
			break;
	if (n < SECRET_MIN || n > STORE_SRS_SECRET_MAX || i < n) {
		*error_r = store_set_error(s, "bad SRS secret: %d to %d "
		    "printable characters, no blank", SECRET_MIN,
		    STORE_SRS_SECRET_MAX);
		return STORE_REFUSED;
	}
	return 0;
}

static int
add(struct store *s, const char *slot, const char *secret, int64_t when,
    const char **error_r)
{
	struct store_val v[3];

	v[0] = SV_T(slot);
	v[1] = SV_T(secret);
	v[2] = SV_I(when);
	return store_result(s, s->be->exec(s, SQL_SRS_ADD, v, 3, NULL, NULL),
	    error_r);
}

int
store_srs_init(struct store *s, const char *secret, int64_t now,
    const char **error_r)
{
	int r;

	if ((r = secret_ok(s, secret, error_r)) != 0)
		return r;
	return add(s, "current", secret, now, error_r);
}

int
store_srs_rotate(struct store *s, const char *secret, int64_t now,
    const char **error_r)
{
	int r;

	if ((r = secret_ok(s, secret, error_r)) != 0)
		return r;
	if ((r = store_result(s, s->be->exec(s, SQL_SRS_DROP_PREVIOUS, NULL,
	    0, NULL, NULL), error_r)) != 0 ||
	    (r = store_result(s, s->be->exec(s, SQL_SRS_DEMOTE, NULL, 0, NULL,
	    NULL), error_r)) != 0)
		return r;
	return add(s, "current", secret, now, error_r);
}

int
store_srs_copy(struct store *from, struct store *to, const char **error_r)
{
	struct store_srs_secrets sec;
	const char *err;
	int r;

	if (store_srs_get(from, &sec, &err) == -1) {
		*error_r = store_set_error(to, "reading the source: %s", err);
		return -1;
	}
	r = 0;
	if (sec.current[0] != '\0')
		r = add(to, "current", sec.current, sec.created, error_r);
	if (r == 0 && sec.previous[0] != '\0')
		r = add(to, "previous", sec.previous, sec.previous_created,
		    error_r);
	explicit_bzero(&sec, sizeof(sec));
	return r == 0 ? 0 : -1;
}
