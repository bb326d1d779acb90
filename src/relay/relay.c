/*
 * relay.c - the relay authorization table over its backends: the table
 * key of a client address, the choice of backend by the relay_store URI,
 * argument checks and the order of results, so that relay_local.c and
 * relay_redis.c only store and fetch.
 */
#include <stdarg.h>

#include "relay/relay_int.h"
#include "util/xalloc.h"

int
relay_set_error(struct relay_auth *r, const char *fmt, ...)
{
	va_list ap;

	buf_reset(&r->err);
	va_start(ap, fmt);
	if (buf_vprintf(&r->err, fmt, ap) == -1) {
		buf_reset(&r->err);
		(void)buf_append_str(&r->err, "relay table error");
	}
	va_end(ap);
	return -1;
}

void
relay_key(const struct netaddr *a, unsigned ipv6_prefix, char *out,
    size_t outsz)
{
	struct netprefix p;

	p.addr = *a;
	p.bits = a->family == AF_INET ? 32 : ipv6_prefix;
	net_addr_mask(&p.addr, p.bits);
	net_prefix_format(&p, out, outsz);
}

void
relay_entry_push(struct relay_entry **out, size_t *n,
    const struct relay_entry *e)
{
	*out = xreallocarray(*out, *n + 1, sizeof(**out));
	(*out)[(*n)++] = *e;
}

bool
relay_entry_covers(const struct relay_entry *e, const char *key,
    const struct netaddr *addr)
{
	struct netprefix p;

	if (strcmp(e->key, key) == 0)
		return true;
	return e->net && net_prefix_parse(e->key, false, &p) == 0 &&
	    net_prefix_match(&p, addr);
}

struct relay_auth *
relay_open(const char *uri, const char *data_dir, struct errbuf *eb,
    const char **error_r)
{
	const struct relay_backend *be;
	struct relay_auth *r;

	if (strcmp(uri, "local") == 0)
		be = &relay_backend_local;
	else if (strncmp(uri, "redis://", 8) == 0)
		be = &relay_backend_redis;
	else {
		*error_r = "unknown relay_store (expected local or "
		    "redis://HOST:PORT/DB)";
		return NULL;
	}
	r = be->open(uri, data_dir, eb, error_r);
	if (r == NULL)
		return NULL;
	r->be = be;
	buf_init(&r->err, 1024);
	return r;
}

void
relay_close(struct relay_auth **rp)
{
	struct relay_auth *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	buf_free(&r->err);
	r->be->close(r);
}

static int
done(struct relay_auth *r, int rc, const char **error_r)
{
	if (rc < 0)
		*error_r = buf_cstr(&r->err);
	return rc;
}

int
relay_record(struct relay_auth *r, const struct relay_entry *e,
    const char **error_r)
{
	return done(r, r->be->record(r, e), error_r);
}

/* Newest first; ties by key and customer, so the order is stable. */
static int
cmp_newest(const void *a, const void *b)
{
	const struct relay_entry *x = a, *y = b;
	int c;

	if (x->opened != y->opened)
		return x->opened > y->opened ? -1 : 1;
	if ((c = strcmp(x->key, y->key)) != 0)
		return c;
	return strcmp(x->customer, y->customer);
}

int
relay_lookup(struct relay_auth *r, const struct netaddr *addr,
    unsigned ipv6_prefix, time_t now, struct relay_entry **out, size_t *n,
    const char **error_r)
{
	char key[NET_ADDRSTRLEN];

	*out = NULL;
	*n = 0;
	relay_key(addr, ipv6_prefix, key, sizeof(key));
	if (r->be->lookup(r, key, addr, now, out, n) == -1) {
		free(*out);
		*out = NULL;
		*n = 0;
		return done(r, -1, error_r);
	}
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), cmp_newest);
	return *n > 0;
}

int
relay_revoke(struct relay_auth *r, const char *key, const char *customer,
    const char **error_r)
{
	if (key == NULL && customer == NULL) {
		*error_r = "revoke needs an address or a customer";
		return -1;
	}
	return done(r, r->be->revoke(r, key, customer), error_r);
}

int
relay_list(struct relay_auth *r, time_t now, relay_entry_cb *cb, void *arg,
    const char **error_r)
{
	return done(r, r->be->list(r, now, cb, arg), error_r);
}

static void
count_one(const struct relay_entry *e, void *arg)
{
	uint64_t *n = arg;

	n[e->net ? 1 : 0]++;
}

int
relay_count(struct relay_auth *r, time_t now, uint64_t *logins,
    uint64_t *nets, const char **error_r)
{
	uint64_t n[2] = { 0, 0 };
	int rc;

	if (r->be->count != NULL)
		return done(r, r->be->count(r, now, logins, nets), error_r);
	rc = r->be->list(r, now, count_one, n);
	*logins = n[0];
	*nets = n[1];
	return done(r, rc, error_r);
}

int
relay_expire(struct relay_auth *r, time_t now, const char **error_r)
{
	return done(r, r->be->expire(r, now), error_r);
}

int
relay_rate_add(struct relay_auth *r, const char *customer, time_t now,
    uint64_t msgs, uint64_t rcpts, const char **error_r)
{
	return done(r, r->be->rate_add(r, customer, now / 60, msgs, rcpts),
	    error_r);
}

int
relay_rate_get(struct relay_auth *r, const char *customer, time_t now,
    uint64_t *msgs_r, uint64_t *rcpts_r, const char **error_r)
{
	int64_t last = now / 60;

	*msgs_r = *rcpts_r = 0;
	return done(r, r->be->rate_get(r, customer, last - 59, last, msgs_r,
	    rcpts_r), error_r);
}

int
relay_rate_hold(struct relay_auth *r, const char *customer, time_t now,
    struct relay_hold *h, const char **error_r)
{
	int64_t minute = now / 60;

	h->had_msgs = h->had_rcpts = 0;
	return done(r, r->be->rate_hold(r, customer, minute, minute - 59, h),
	    error_r);
}

int
relay_rate_release(struct relay_auth *r, const char *customer, time_t held,
    uint64_t msgs, uint64_t rcpts, const char **error_r)
{
	if (msgs == 0 && rcpts == 0)
		return 0;
	return done(r, r->be->rate_release(r, customer, held / 60, msgs,
	    rcpts), error_r);
}

int
relay_backup(struct relay_auth *r, const char *path, time_t now,
    uint64_t *live_r, const char **error_r)
{
	*live_r = 0;
	if (r->be->backup == NULL)
		return done(r, relay_set_error(r, "a %s relay table is not "
		    "copied by popgate (use its own persistence)",
		    r->be->name), error_r);
	return done(r, r->be->backup(r, path, now, live_r), error_r);
}

int
relay_restore(struct relay_auth *r, const char *path, const char **error_r)
{
	if (r->be->restore == NULL)
		return done(r, relay_set_error(r, "a %s relay table is not "
		    "restored by popgate", r->be->name), error_r);
	return done(r, r->be->restore(r, path), error_r);
}
