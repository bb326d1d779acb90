/*
 * store_token.c - the API tokens (store.h, SPEC 12): a name, the SHA-256
 * of a random secret (the secret itself is shown once, by `popgate token
 * add`, and never stored), the customer it is limited to, and an
 * expiry. A high-entropy random secret needs no slow hash: SHA-256 of
 * 256 random bits cannot be searched. Looked up by hash on every request,
 * so a deleted token stops working at once.
 */
#include <string.h>

#include "store/store_int.h"
#include "util/compat.h"

static int
hash_ok(const char *h)
{
	size_t i;

	for (i = 0; h[i] != '\0'; i++)
		if (!((h[i] >= '0' && h[i] <= '9') ||
		    (h[i] >= 'a' && h[i] <= 'f')))
			return 0;
	return i == STORE_TOKEN_HASH_LEN;
}

int
store_token_add(struct store *s, const struct store_token *t,
    const char **error_r)
{
	struct store_val v[5];
	struct store_customer cu;
	const char *err;
	int r;

	if (store_check_customer_name(t->name, &err) == -1) {
		*error_r = store_set_error(s, "bad token name '%s': %s "
		    "(the same rules as customer names)", t->name, err);
		return STORE_REFUSED;
	}
	if (!hash_ok(t->hash)) {
		*error_r = store_set_error(s, "bad token hash");
		return STORE_REFUSED;
	}
	if (t->customer[0] != '\0') {
		r = store_customer_find(s, t->customer, &cu, error_r);
		if (r != 1) {
			if (r == 0)
				*error_r = store_set_error(s, "no customer "
				    "'%s'", t->customer);
			return r == 0 ? STORE_REFUSED : -1;
		}
	}
	v[0] = SV_T(t->name);
	v[1] = SV_T(t->hash);
	v[2] = t->customer[0] != '\0' ? SV_T(cu.name) : SV_N;
	v[3] = SV_I(t->created);
	v[4] = SV_I(t->expires);
	r = store_result(s, s->be->exec(s, SQL_TOKEN_ADD, v, 5, NULL, NULL),
	    error_r);
	if (r == STORE_REFUSED)
		*error_r = store_set_error(s, "token '%s' exists", t->name);
	return r;
}

static void
row_token(struct store_row *r, void *arg)
{
	struct store_token *t = arg;

	memset(t, 0, sizeof(*t));
	(void)str_copy(t->name, store_row_text(r, 0), sizeof(t->name));
	(void)str_copy(t->hash, store_row_text(r, 1), sizeof(t->hash));
	(void)str_copy(t->customer, store_row_text(r, 2),
	    sizeof(t->customer));
	t->created = store_row_int(r, 3);
	t->expires = store_row_int(r, 4);
}

int
store_token_find(struct store *s, const char *hash, struct store_token *out,
    const char **error_r)
{
	struct store_val v[1];
	int64_t n;

	memset(out, 0, sizeof(*out));
	if (!hash_ok(hash))
		return 0;
	v[0] = SV_T(hash);
	n = s->be->exec(s, SQL_TOKEN_FIND, v, 1, row_token, out);
	if (n < 0) {
		*error_r = buf_cstr(&s->err);
		return -1;
	}
	return n > 0;
}

int
store_token_delete(struct store *s, const char *name, const char **error_r)
{
	struct store_val v[1];
	int64_t n;

	v[0] = SV_T(name);
	n = s->be->exec(s, SQL_TOKEN_DELETE, v, 1, NULL, NULL);
	if (n < 0)
		return store_result(s, n, error_r);
	if (n == 0) {
		*error_r = store_set_error(s, "no token '%s'", name);
		return STORE_REFUSED;
	}
	return 0;
}

struct list_ctx {
	store_token_cb	*cb;
	void		*arg;
};

static void
row_list(struct store_row *r, void *arg)
{
	struct list_ctx *lc = arg;
	struct store_token t;

	row_token(r, &t);
	lc->cb(&t, lc->arg);
}

int
store_token_list(struct store *s, store_token_cb *cb, void *arg,
    const char **error_r)
{
	struct list_ctx lc = { cb, arg };

	return store_result(s, s->be->exec(s, SQL_TOKEN_LIST, NULL, 0,
	    row_list, &lc), error_r);
}

struct copy_ctx {
	struct store	*to;
	uint64_t	 n;
	int		 r;
	const char	*err;
};

static void
copy_one(const struct store_token *t, void *arg)
{
	struct copy_ctx *cc = arg;

	if (cc->r == 0 && (cc->r = store_token_add(cc->to, t, &cc->err)) == 0)
		cc->n++;
}

int
store_token_copy(struct store *from, struct store *to, uint64_t *count_r,
    const char **error_r)
{
	struct copy_ctx cc = { to, 0, 0, NULL };
	const char *err;

	if (store_token_list(from, copy_one, &cc, &err) == -1) {
		*error_r = store_set_error(to, "reading the source: %s", err);
		return -1;
	}
	if (cc.r != 0) {
		*error_r = cc.err;
		return -1;
	}
	*count_r = cc.n;
	return 0;
}
