/*
 * relay_remote.c - the relay table of another process (README
 * "Processes"): a backend whose calls run in popgate-lookup, and
 * popgate-lookup's side that runs them on its own backend.
 *
 * relay.c's checks stay with the caller; each backend call crosses the
 * link as one RELAY_CALL, and its answer is the entries found (several
 * to a RELAY_ENTRIES message) and a RELAY_DONE.
 *
 * Messages (util/ipc.h), every field bounded:
 *   RELAY_CALL	     u32 op, then the op's arguments: texts (key,
 *		     customer, an address), u64 numbers, an entry
 *   RELAY_ENTRIES   u32 n, then n entries (five texts, u64 opened,
 *		     u64 expires, u32 net)
 *   RELAY_DONE	     u64 result (int64), u64 a, u64 b (rate_get's sums,
 *		     rate_hold's totals before), bytes error
 */
#include <errno.h>
#include <limits.h>

#include "relay/relay_int.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define REMOTE_ERR_MAX	1024
#define REMOTE_WAIT_MS	10000
#define ENTRY_MAX	(5 * 300 + 32)	/* one entry's fields at most */

enum relay_op {
	OP_RECORD, OP_LOOKUP, OP_REVOKE, OP_LIST, OP_EXPIRE, OP_RATE_ADD,
	OP_RATE_GET, OP_RATE_HOLD, OP_RATE_RELEASE, OP_COUNT, OP_NOPS
};

struct relay_remote {
	struct relay_auth	 base;
	struct ipc_link		*link;		/* borrowed */
};

/* The largest result of each call (relay_auth.h): a revoke counts, a
   hold says 1 or 0, the others are 0. A RELAY_DONE beyond it is
   malformed, so that no caller sees a value its header does not
   document (an int64 cut to an int, a "1" from a list). */
static const int64_t result_max[OP_NOPS] = {
	[OP_REVOKE] = INT_MAX,
	[OP_LOOKUP] = INT_MAX,	/* relay_lookup() reads the entries */
	[OP_RATE_HOLD] = 1,
};

/* The results of a call besides its entries. */
struct answer {
	enum relay_op	 op;
	int64_t		 result;
	uint64_t	 a, b;
	/* entries go to CB(ARG), or into *OUT (of *N) when CB is NULL */
	relay_entry_cb	*cb;
	void		*arg;
	struct relay_entry **out;
	size_t		*n;
};

static const struct relay_backend relay_backend_remote;

struct relay_auth *
relay_open_remote(struct ipc_link *link)
{
	struct relay_remote *r = xcalloc(1, sizeof(*r));

	r->base.be = &relay_backend_remote;
	buf_init(&r->base.err, 1024);
	r->link = link;
	return &r->base;
}

static void
remote_close(struct relay_auth *r)
{
	free(r);
}

static void
put_entry(struct ipc_out *o, const struct relay_entry *e)
{
	ipc_put_text(o, e->key);
	ipc_put_text(o, e->customer);
	ipc_put_text(o, e->mailbox);
	ipc_put_text(o, e->client);
	ipc_put_text(o, e->listener);
	ipc_put_u64(o, (uint64_t)e->opened);
	ipc_put_u64(o, (uint64_t)e->expires);
	ipc_put_u32(o, e->net ? 1 : 0);
}

static int
get_entry(struct ipc_in *in, struct relay_entry *e)
{
	uint64_t opened, expires;
	uint32_t net;

	memset(e, 0, sizeof(*e));
	if (ipc_get_text(in, e->key, sizeof(e->key)) == -1 ||
	    ipc_get_text(in, e->customer, sizeof(e->customer)) == -1 ||
	    ipc_get_text(in, e->mailbox, sizeof(e->mailbox)) == -1 ||
	    ipc_get_text(in, e->client, sizeof(e->client)) == -1 ||
	    ipc_get_text(in, e->listener, sizeof(e->listener)) == -1 ||
	    ipc_get_u64(in, &opened) == -1 ||
	    ipc_get_u64(in, &expires) == -1 ||
	    ipc_get_u32(in, &net) == -1 || net > 1)
		return -1;
	e->opened = (time_t)opened;
	e->expires = (time_t)expires;
	e->net = net == 1;
	return 0;
}

static int
take_entries(struct ipc_in *in, struct answer *a)
{
	struct relay_entry e;
	uint32_t n, i;

	if (ipc_get_u32(in, &n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (get_entry(in, &e) == -1)
			return -1;
		if (a->cb != NULL)
			a->cb(&e, a->arg);
		else if (a->out != NULL)
			relay_entry_push(a->out, a->n, &e);
		else
			return -1;	/* entries for a call that has none */
	}
	return ipc_get_done(in, 0);
}

/* Sends the call built in OUT and reads its answer into A. */
static int
call(struct relay_remote *r, struct ipc_out *out, struct answer *a)
{
	struct ipc_in in;
	uint64_t v;
	const void *p;
	size_t len;

	if (ipc_link_send(r->link, RELAY_CALL, 0, out) == -1)
		goto down;
	for (;;) {
		if (ipc_link_recv(r->link, REMOTE_WAIT_MS) == -1)
			goto down;
		ipc_in_init(&in, r->link->m);
		if (r->link->m->type == RELAY_ENTRIES) {
			if (take_entries(&in, a) == -1)
				goto bad;
			continue;
		}
		if (r->link->m->type != RELAY_DONE ||
		    ipc_get_u64(&in, &v) == -1 ||
		    ipc_get_u64(&in, &a->a) == -1 ||
		    ipc_get_u64(&in, &a->b) == -1 ||
		    ipc_get_bytes(&in, REMOTE_ERR_MAX, &p, &len) == -1 ||
		    ipc_get_done(&in, 0) == -1)
			goto bad;
		a->result = (int64_t)v;
		if (a->result > result_max[a->op])
			goto bad;
		ipc_out_free(out);
		if (a->result < 0)
			return relay_set_error(&r->base, "%.*s", (int)len,
			    (const char *)p);
		return (int)a->result;
	}
bad:
	ipc_link_close(r->link);
	ipc_out_free(out);
	return relay_set_error(&r->base, "the lookup process sent a malformed "
	    "answer");
down:
	ipc_out_free(out);
	return relay_set_error(&r->base, "the lookup process is unavailable: "
	    "%s", strerror(errno));
}

static void
begin(struct ipc_out *out, struct answer *a, enum relay_op op)
{
	a->op = op;
	ipc_out_init(out);
	ipc_put_u32(out, op);
}

static int
remote_record(struct relay_auth *base, const struct relay_entry *e)
{
	struct answer a = { 0 };
	struct ipc_out out;

	begin(&out, &a, OP_RECORD);
	put_entry(&out, e);
	return call((struct relay_remote *)base, &out, &a);
}

static int
remote_lookup(struct relay_auth *base, const char *key,
    const struct netaddr *addr, time_t now, struct relay_entry **out_r,
    size_t *n)
{
	struct answer a = { .out = out_r, .n = n };
	struct ipc_out out;
	char text[NET_ADDRSTRLEN];

	net_addr_format(addr, text, sizeof(text));
	begin(&out, &a, OP_LOOKUP);
	ipc_put_text(&out, key);
	ipc_put_text(&out, text);
	ipc_put_u64(&out, (uint64_t)now);
	return call((struct relay_remote *)base, &out, &a);
}

static int
remote_revoke(struct relay_auth *base, const char *key, const char *customer)
{
	struct answer a = { 0 };
	struct ipc_out out;

	begin(&out, &a, OP_REVOKE);
	ipc_put_u32(&out, (key != NULL ? 1 : 0) | (customer != NULL ? 2 : 0));
	ipc_put_text(&out, key != NULL ? key : "");
	ipc_put_text(&out, customer != NULL ? customer : "");
	return call((struct relay_remote *)base, &out, &a);
}

static int
remote_list(struct relay_auth *base, time_t now, relay_entry_cb *cb,
    void *arg)
{
	struct answer a = { .cb = cb, .arg = arg };
	struct ipc_out out;

	begin(&out, &a, OP_LIST);
	ipc_put_u64(&out, (uint64_t)now);
	return call((struct relay_remote *)base, &out, &a);
}

static int
remote_count(struct relay_auth *base, time_t now, uint64_t *logins,
    uint64_t *nets)
{
	struct answer a = { 0 };
	struct ipc_out out;
	int r;

	begin(&out, &a, OP_COUNT);
	ipc_put_u64(&out, (uint64_t)now);
	if ((r = call((struct relay_remote *)base, &out, &a)) >= 0) {
		*logins = a.a;
		*nets = a.b;
	}
	return r;
}

static int
remote_expire(struct relay_auth *base, time_t now)
{
	struct answer a = { 0 };
	struct ipc_out out;

	begin(&out, &a, OP_EXPIRE);
	ipc_put_u64(&out, (uint64_t)now);
	return call((struct relay_remote *)base, &out, &a);
}

/* rate_add and rate_release: the same arguments. */
static int
rate_change(struct relay_auth *base, enum relay_op op, const char *customer,
    int64_t minute, uint64_t msgs, uint64_t rcpts)
{
	struct answer a = { 0 };
	struct ipc_out out;

	begin(&out, &a, op);
	ipc_put_text(&out, customer);
	ipc_put_u64(&out, (uint64_t)minute);
	ipc_put_u64(&out, msgs);
	ipc_put_u64(&out, rcpts);
	return call((struct relay_remote *)base, &out, &a);
}

static int
remote_rate_add(struct relay_auth *base, const char *customer, int64_t minute,
    uint64_t msgs, uint64_t rcpts)
{
	return rate_change(base, OP_RATE_ADD, customer, minute, msgs, rcpts);
}

static int
remote_rate_release(struct relay_auth *base, const char *customer,
    int64_t minute, uint64_t msgs, uint64_t rcpts)
{
	return rate_change(base, OP_RATE_RELEASE, customer, minute, msgs,
	    rcpts);
}

static int
remote_rate_get(struct relay_auth *base, const char *customer, int64_t first,
    int64_t last, uint64_t *msgs_r, uint64_t *rcpts_r)
{
	struct answer a = { 0 };
	struct ipc_out out;
	int r;

	begin(&out, &a, OP_RATE_GET);
	ipc_put_text(&out, customer);
	ipc_put_u64(&out, (uint64_t)first);
	ipc_put_u64(&out, (uint64_t)last);
	if ((r = call((struct relay_remote *)base, &out, &a)) >= 0) {
		*msgs_r = a.a;
		*rcpts_r = a.b;
	}
	return r;
}

static int
remote_rate_hold(struct relay_auth *base, const char *customer,
    int64_t minute, int64_t first, struct relay_hold *h)
{
	struct answer a = { 0 };
	struct ipc_out out;
	int r;

	begin(&out, &a, OP_RATE_HOLD);
	ipc_put_text(&out, customer);
	ipc_put_u64(&out, (uint64_t)minute);
	ipc_put_u64(&out, (uint64_t)first);
	ipc_put_u64(&out, h->msgs);
	ipc_put_u64(&out, h->rcpts);
	ipc_put_u64(&out, h->max_msgs);
	ipc_put_u64(&out, h->max_rcpts);
	if ((r = call((struct relay_remote *)base, &out, &a)) >= 0) {
		h->had_msgs = a.a;
		h->had_rcpts = a.b;
	}
	return r;
}

static const struct relay_backend relay_backend_remote = {
	.name = "remote",
	.close = remote_close,
	.record = remote_record,
	.lookup = remote_lookup,
	.revoke = remote_revoke,
	.list = remote_list,
	.expire = remote_expire,
	.count = remote_count,
	.rate_add = remote_rate_add,
	.rate_get = remote_rate_get,
	.rate_hold = remote_rate_hold,
	.rate_release = remote_rate_release,
};

/* ---- popgate-lookup's side ---- */

/* Entries packed for the way back. */
struct packer {
	int		 sock;
	struct ipc_out	 out;
	uint32_t	 n;
	bool		 failed;
};

static int
flush_entries(struct packer *pk)
{
	struct ipc_out msg;
	int r;

	if (pk->n == 0)
		return 0;
	ipc_out_init(&msg);
	ipc_put_u32(&msg, pk->n);
	if (buf_append(&msg.b, pk->out.b.data, pk->out.b.len) == -1)
		msg.failed = true;
	r = ipc_send(pk->sock, RELAY_ENTRIES, 0, &msg, NULL, 0);
	ipc_out_free(&msg);
	buf_reset(&pk->out.b);
	pk->n = 0;
	return r;
}

static void
pack_entry(const struct relay_entry *e, void *arg)
{
	struct packer *pk = arg;

	if (pk->failed)
		return;
	if (pk->out.b.len > IPC_PAYLOAD_MAX - ENTRY_MAX - 64 &&
	    flush_entries(pk) == -1) {
		pk->failed = true;
		return;
	}
	put_entry(&pk->out, e);
	pk->n++;
}

static int
send_done(struct packer *pk, struct relay_auth *r, int64_t result,
    uint64_t a, uint64_t b)
{
	struct ipc_out out;
	const char *err = result < 0 ? buf_cstr(&r->err) : "";
	int rc;

	if (flush_entries(pk) == -1 || pk->failed)
		return -1;
	ipc_out_init(&out);
	ipc_put_u64(&out, (uint64_t)result);
	ipc_put_u64(&out, a);
	ipc_put_u64(&out, b);
	ipc_put_bytes(&out, err, strnlen(err, REMOTE_ERR_MAX));
	rc = ipc_send(pk->sock, RELAY_DONE, 0, &out, NULL, 0);
	ipc_out_free(&out);
	return rc;
}

/* DENY (a reason) instead of the call, once its message is read. */
static int
refuse(struct packer *pk, const char *deny)
{
	struct relay_auth none;
	int rc;

	memset(&none, 0, sizeof(none));
	buf_init(&none.err, 1024);
	(void)relay_set_error(&none, "%s", deny);
	rc = send_done(pk, &none, -1, 0, 0);
	buf_free(&none.err);
	return rc;
}

static int
serve_lookup(struct relay_auth *r, struct ipc_in *in, struct packer *pk,
    const char *deny)
{
	char key[NET_ADDRSTRLEN], text[NET_ADDRSTRLEN];
	struct relay_entry *v = NULL;
	struct netaddr addr;
	uint64_t now;
	size_t n = 0, i;
	int rc;

	if (ipc_get_text(in, key, sizeof(key)) == -1 ||
	    ipc_get_text(in, text, sizeof(text)) == -1 ||
	    ipc_get_u64(in, &now) == -1 || ipc_get_done(in, 0) == -1 ||
	    net_addr_parse(text, &addr) == -1)
		return -1;
	if (deny != NULL || r == NULL)
		return refuse(pk, deny != NULL ? deny : "no relay table");
	rc = r->be->lookup(r, key, &addr, (time_t)now, &v, &n);
	for (i = 0; rc >= 0 && i < n; i++)
		pack_entry(&v[i], pk);
	free(v);
	return send_done(pk, r, rc, 0, 0);
}

static int
serve_revoke(struct relay_auth *r, struct ipc_in *in, struct packer *pk,
    const char *deny)
{
	char key[NET_ADDRSTRLEN], customer[RELAY_NAME_MAX + 1];
	uint32_t which;
	int rc;

	if (ipc_get_u32(in, &which) == -1 || which == 0 || which > 3 ||
	    ipc_get_text(in, key, sizeof(key)) == -1 ||
	    ipc_get_text(in, customer, sizeof(customer)) == -1 ||
	    ipc_get_done(in, 0) == -1)
		return -1;
	if (deny != NULL || r == NULL)
		return refuse(pk, deny != NULL ? deny : "no relay table");
	rc = r->be->revoke(r, (which & 1) ? key : NULL,
	    (which & 2) ? customer : NULL);
	return send_done(pk, r, rc, 0, 0);
}

/* rate_add, rate_get, rate_hold, rate_release. */
static int
serve_rate(struct relay_auth *r, uint32_t op, struct ipc_in *in,
    struct packer *pk, const char *deny)
{
	char customer[RELAY_NAME_MAX + 1];
	uint64_t minute, x, y;
	struct relay_hold h = { 0 };
	int rc;

	if (ipc_get_text(in, customer, sizeof(customer)) == -1 ||
	    ipc_get_u64(in, &minute) == -1 || ipc_get_u64(in, &x) == -1)
		return -1;
	if (op == OP_RATE_GET) {
		if (ipc_get_done(in, 0) == -1)
			return -1;
		if (deny != NULL || r == NULL)
			return refuse(pk, deny != NULL ? deny :
			    "no relay table");
		rc = r->be->rate_get(r, customer, (int64_t)minute,
		    (int64_t)x, &h.had_msgs, &h.had_rcpts);
		return send_done(pk, r, rc, h.had_msgs, h.had_rcpts);
	}
	if (ipc_get_u64(in, &y) == -1)
		return -1;
	if (op == OP_RATE_HOLD) {
		h.msgs = y;
		if (ipc_get_u64(in, &h.rcpts) == -1 ||
		    ipc_get_u64(in, &h.max_msgs) == -1 ||
		    ipc_get_u64(in, &h.max_rcpts) == -1 ||
		    ipc_get_done(in, 0) == -1)
			return -1;
		if (deny != NULL || r == NULL)
			return refuse(pk, deny != NULL ? deny :
			    "no relay table");
		rc = r->be->rate_hold(r, customer, (int64_t)minute,
		    (int64_t)x, &h);
		return send_done(pk, r, rc, h.had_msgs, h.had_rcpts);
	}
	if (ipc_get_done(in, 0) == -1)
		return -1;
	if (deny != NULL || r == NULL)
		return refuse(pk, deny != NULL ? deny : "no relay table");
	rc = (op == OP_RATE_ADD ? r->be->rate_add : r->be->rate_release)(r,
	    customer, (int64_t)minute, x, y);
	return send_done(pk, r, rc, 0, 0);
}

static int
serve_call(struct relay_auth *r, uint32_t op, struct ipc_in *in,
    struct packer *pk, const char *deny)
{
	struct relay_entry e;
	uint64_t now, n[2] = { 0, 0 };
	const char *err;
	int rc;

	switch (op) {
	case OP_RECORD:
		if (get_entry(in, &e) == -1 || ipc_get_done(in, 0) == -1)
			return -1;
		if (deny != NULL || r == NULL)
			return refuse(pk, deny != NULL ? deny :
			    "no relay table");
		return send_done(pk, r, r->be->record(r, &e), 0, 0);
	case OP_LOOKUP:
		return serve_lookup(r, in, pk, deny);
	case OP_REVOKE:
		return serve_revoke(r, in, pk, deny);
	case OP_LIST:
	case OP_EXPIRE:
	case OP_COUNT:
		if (ipc_get_u64(in, &now) == -1 || ipc_get_done(in, 0) == -1)
			return -1;
		if (deny != NULL || r == NULL)
			return refuse(pk, deny != NULL ? deny :
			    "no relay table");
		if (op == OP_EXPIRE)
			return send_done(pk, r, r->be->expire(r, (time_t)now),
			    0, 0);
		if (op == OP_LIST)
			return send_done(pk, r, r->be->list(r, (time_t)now,
			    pack_entry, pk), 0, 0);
		/* Counted here: the whole table does not cross the link
		   for the metrics' scrape. */
		rc = relay_count(r, (time_t)now, &n[0], &n[1], &err);
		return send_done(pk, r, rc, n[0], n[1]);
	default:
		return serve_rate(r, op, in, pk, deny);
	}
}

int
relay_remote_serve(struct relay_auth *r, const char *open_err,
    bool writes_ok, const struct ipc_msg *m, int sock)
{
	const char *deny = NULL;
	struct packer pk;
	struct ipc_in in;
	uint32_t op;
	int rc;

	ipc_in_init(&in, m);
	if (m->type != RELAY_CALL || ipc_get_u32(&in, &op) == -1 ||
	    op >= OP_NOPS) {
		errno = EPROTO;
		return -1;
	}
	memset(&pk, 0, sizeof(pk));
	pk.sock = sock;
	ipc_out_init(&pk.out);
	if (r == NULL)
		deny = open_err;
	else if (!writes_ok && (op == OP_RECORD || op == OP_REVOKE))
		deny = "popgate-lookup opens and closes the relay only for a "
		    "login or an API request with a valid token";
	rc = serve_call(r, op, &in, &pk, deny);
	ipc_out_free(&pk.out);
	return rc;
}
