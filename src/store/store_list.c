/*
 * store_list.c - the lists of customers, domains, mailboxes and aliases
 * (store.h), whole or a window of them (the API's pages): the window is
 * the statement's LIMIT and OFFSET, so the store reads and counts the
 * children of the rows of the page only, and a second statement counts
 * the whole list. An alias's targets are one row each but one item: its
 * window is over alias addresses.
 */
#include <stdint.h>

#include "store/store_int.h"
#include "util/compat.h"

struct list_ctx {
	void	*cb;
	void	*arg;
};

/* The LIMIT and OFFSET of W (NULL: every row) into V[0] and V[1]. */
static void
window_vals(const struct store_window *w, struct store_val v[2])
{
	v[0] = SV_I(w == NULL || w->limit == 0 || w->limit > INT64_MAX ?
	    INT64_MAX : (int64_t)w->limit);
	v[1] = SV_I(w == NULL || w->offset > INT64_MAX ? 0 :
	    (int64_t)w->offset);
}

static void
row_count(struct store_row *r, void *arg)
{
	*(uint64_t *)arg = (uint64_t)store_row_int(r, 0);
}

/* The rows of LIST (its NARGS filters in V, then room for two more),
   through ROW, windowed by W; W's total from COUNT. 0 or -1. */
static int
run_window(struct store *s, enum store_stmt list, enum store_stmt count,
    struct store_val *v, int nargs, struct store_window *w,
    store_row_cb *row, struct list_ctx *lc, const char **error_r)
{
	int64_t r;

	window_vals(w, v + nargs);
	r = s->be->exec(s, list, v, nargs + 2, row, lc);
	if (r >= 0 && w != NULL) {
		w->total = 0;
		r = s->be->exec(s, count, v, nargs, row_count, &w->total);
	}
	return store_result(s, r, error_r);
}

/* ---- customers ---- */

static void
row_customer_list(struct store_row *r, void *arg)
{
	struct list_ctx *lc = arg;
	struct store_customer c;

	memset(&c, 0, sizeof(c));
	store_row_customer(r, &c);
	((store_customer_cb *)lc->cb)(&c, lc->arg);
}

int
store_customer_page(struct store *s, struct store_window *w,
    store_customer_cb *cb, void *arg, const char **error_r)
{
	struct list_ctx lc = { (void *)cb, arg };
	struct store_val v[2];

	return run_window(s, SQL_CUSTOMER_LIST, SQL_CUSTOMER_COUNT, v, 0, w,
	    row_customer_list, &lc, error_r);
}

int
store_customer_list(struct store *s, store_customer_cb *cb, void *arg,
    const char **error_r)
{
	return store_customer_page(s, NULL, cb, arg, error_r);
}

/* ---- domains ---- */

static void
row_domain_list(struct store_row *r, void *arg)
{
	struct list_ctx *lc = arg;
	struct store_domain d;

	memset(&d, 0, sizeof(d));
	store_row_domain(r, &d);
	((store_domain_cb *)lc->cb)(&d, lc->arg);
}

int
store_domain_page(struct store *s, const char *customer,
    struct store_window *w, store_domain_cb *cb, void *arg,
    const char **error_r)
{
	char cn[STORE_NAME_MAX + 1];
	struct list_ctx lc = { (void *)cb, arg };
	struct store_val v[3];
	int r;

	v[0] = SV_N;
	if (customer != NULL) {
		if ((r = store_canon_customer(s, customer, cn, error_r)) != 0)
			return r;
		v[0] = SV_T(cn);
	}
	return run_window(s, SQL_DOMAIN_LIST, SQL_DOMAIN_COUNT, v, 1, w,
	    row_domain_list, &lc, error_r);
}

int
store_domain_list(struct store *s, const char *customer, store_domain_cb *cb,
    void *arg, const char **error_r)
{
	return store_domain_page(s, customer, NULL, cb, arg, error_r);
}

/* ---- mailboxes and aliases ---- */

/* FILTER: NULL, a domain, or "customer:NAME" into two bound values. */
static int
list_filter(struct store *s, const char *filter, struct store_val v[2],
    char dom[ADDR_DOMAIN_MAX + 1], char cust[STORE_NAME_MAX + 1],
    const char **error_r)
{
	v[0] = SV_N;
	v[1] = SV_N;
	if (filter == NULL)
		return 0;
	if (strncmp(filter, "customer:", 9) == 0) {
		int r = store_canon_customer(s, filter + 9, cust, error_r);

		v[1] = SV_T(cust);
		return r;
	}
	v[0] = SV_T(dom);
	return store_canon_domain(s, filter, dom, error_r);
}

static void
row_mailbox_list(struct store_row *r, void *arg)
{
	struct list_ctx *lc = arg;
	struct store_mailbox m;

	memset(&m, 0, sizeof(m));
	store_row_mailbox(r, &m);
	((store_mailbox_cb *)lc->cb)(&m, lc->arg);
}

int
store_mailbox_page(struct store *s, const char *filter,
    struct store_window *w, store_mailbox_cb *cb, void *arg,
    const char **error_r)
{
	char dom[ADDR_DOMAIN_MAX + 1], cust[STORE_NAME_MAX + 1];
	struct list_ctx lc = { (void *)cb, arg };
	struct store_val v[4];
	int r;

	if ((r = list_filter(s, filter, v, dom, cust, error_r)) != 0)
		return r;
	return run_window(s, SQL_MAILBOX_LIST, SQL_MAILBOX_COUNT, v, 2, w,
	    row_mailbox_list, &lc, error_r);
}

int
store_mailbox_list(struct store *s, const char *filter, store_mailbox_cb *cb,
    void *arg, const char **error_r)
{
	return store_mailbox_page(s, filter, NULL, cb, arg, error_r);
}

static void
row_alias_list(struct store_row *r, void *arg)
{
	struct list_ctx *lc = arg;
	struct store_alias al;

	memset(&al, 0, sizeof(al));
	(void)str_copy(al.address, store_row_text(r, 0), sizeof(al.address));
	(void)str_copy(al.target, store_row_text(r, 1), sizeof(al.target));
	(void)str_copy(al.customer, store_row_text(r, 2),
	    sizeof(al.customer));
	(void)str_copy(al.domain, store_row_text(r, 3), sizeof(al.domain));
	al.created = store_row_int(r, 4);
	((store_alias_cb *)lc->cb)(&al, lc->arg);
}

int
store_alias_page(struct store *s, const char *filter,
    struct store_window *w, store_alias_cb *cb, void *arg,
    const char **error_r)
{
	char dom[ADDR_DOMAIN_MAX + 1], cust[STORE_NAME_MAX + 1];
	struct list_ctx lc = { (void *)cb, arg };
	struct store_val v[4];
	int r;

	if ((r = list_filter(s, filter, v, dom, cust, error_r)) != 0)
		return r;
	return run_window(s, SQL_ALIAS_LIST, SQL_ALIAS_COUNT, v, 2, w,
	    row_alias_list, &lc, error_r);
}

int
store_alias_list(struct store *s, const char *filter, store_alias_cb *cb,
    void *arg, const char **error_r)
{
	return store_alias_page(s, filter, NULL, cb, arg, error_r);
}
