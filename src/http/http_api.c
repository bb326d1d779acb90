/*
 * http_api.c - the provisioning API's calls (SPEC 12), each on a worker
 * thread with its own store handle, through the operations the CLI uses
 * (src/ops/): customers, domains, mailboxes. Objects have the members
 * and values of the CLI's --json output (plus a few of their own), so
 * that the two agree; each has an ETag, and a change with If-Match that
 * no longer matches is 412.
 */
#include <stdarg.h>
#include <stdint.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "http/http_int.h"
#include "hook/hook.h"
#include "policy/policy.h"
#include "store/passwd.h"
#include "util/log.h"
#include "util/compat.h"

#define LIST_DEFAULT	100
#define LIST_MAX	1000

const struct http_field http_customer_body[] = {
	{ "name", HF_STRING, true, STORE_NAME_MAX, "the customer's name" },
	{ NULL, HF_STRING, false, 0, NULL },
};
const struct http_field http_customer_patch_body[] = {
	{ "suspended", HF_BOOL, true, 0, "suspended: no relaying, "
	    "authorizations revoked at once" },
	{ NULL, HF_STRING, false, 0, NULL },
};
const struct http_field http_domain_body[] = {
	{ "name", HF_STRING, true, ADDR_DOMAIN_MAX, "the domain" },
	{ "customer", HF_STRING, false, STORE_NAME_MAX, "its customer "
	    "(default: a customer token's own)" },
	{ NULL, HF_STRING, false, 0, NULL },
};
const struct http_field http_mailbox_body[] = {
	{ "address", HF_STRING, true, ADDR_BUFSZ - 1, "the address" },
	{ "password", HF_STRING, false, PASSWD_MAX, "its password (hashed "
	    "with yescrypt here)" },
	{ "hash", HF_STRING, false, PASSWD_HASH_MAX, "or an existing "
	    "crypt(3) hash" },
	{ "quota", HF_SIZE, false, 0, "bytes or a size like \"500M\"; 0: "
	    "unlimited" },
	{ NULL, HF_STRING, false, 0, NULL },
};
const struct http_field http_mailbox_patch_body[] = {
	{ "password", HF_STRING, false, PASSWD_MAX, "a new password" },
	{ "hash", HF_STRING, false, PASSWD_HASH_MAX, "or a crypt(3) hash" },
	{ "quota", HF_SIZE, false, 0, "bytes or a size; 0: unlimited" },
	{ NULL, HF_STRING, false, 0, NULL },
};

void
http_api_error(struct http_call *c, int status, const char *field,
    const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(c->reply);
	c->status = status;
	c->reply = json_pack("{s:s}", "error", msg);
	if (field != NULL && c->reply != NULL)
		(void)json_object_set_new(c->reply, "field",
		    json_string(field));
}

static bool
from_ops(struct http_call *c, const struct ops_result *r)
{
	static const int codes[] = { [OPS_OK] = 200, [OPS_NOT_FOUND] = 404,
		[OPS_CONFLICT] = 409, [OPS_INVALID] = 422,
		[OPS_FAILED] = 503, [OPS_PRECONDITION] = 412 };

	if (r->status == OPS_OK)
		return true;
	if (r->status == OPS_FAILED)
		log_warn("http %s %s by=%s failed: %s", c->method, c->path,
		    c->who, r->error);
	http_api_error(c, codes[r->status], r->status == OPS_INVALID ?
	    r->field : NULL, "%s", r->status == OPS_FAILED ?
	    "a temporary failure of the server; try again" : r->error);
	return false;
}

static struct store *
store_of(struct backends *b, struct http_call *c)
{
	const char *err;
	struct store *s = backends_store(b, &err);

	if (s == NULL) {
		log_warn("http store: %s", err);
		http_api_error(c, 503, NULL, "the account store is not "
		    "available; try again");
	}
	return s;
}

static void
fmt_time(char *dst, size_t dstsz, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(dst, dstsz, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		(void)str_copy(dst, "?", dstsz);
}

/* ---- objects ---- */

static json_t *
customer_json(const struct store_customer *cu)
{
	char created[32];

	fmt_time(created, sizeof(created), cu->created);
	return json_pack("{s:s, s:s, s:I, s:I, s:s}", "name", cu->name,
	    "status", cu->suspended ? "suspended" : "active", "domains",
	    (json_int_t)cu->ndomains, "mailboxes", (json_int_t)cu->nmailboxes,
	    "created", created);
}

static json_t *
domain_json(const struct store_domain *d)
{
	char created[32];

	fmt_time(created, sizeof(created), d->created);
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "domain", d->name,
	    "customer", d->customer, "status", d->suspended ? "suspended" :
	    "active", "mailboxes", (json_int_t)d->nmailboxes, "aliases",
	    (json_int_t)d->naliases, "created", created);
}

static json_t *
mailbox_json(const struct store_mailbox *m)
{
	char created[32], q[32];

	fmt_time(created, sizeof(created), m->created);
	if (m->quota == 0)
		(void)str_copy(q, "unlimited", sizeof(q));
	else
		str_fmt_size(q, sizeof(q), m->quota);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "address",
	    m->address, "customer", m->customer, "quota", q, "status",
	    m->suspended ? "suspended" : "active", "created", created,
	    "domain", m->domain, "quota_bytes", (json_int_t)m->quota);
}

/* The ETag of OBJ: a digest of its canonical JSON (RFC 9110 8.8.3). */
static void
etag_of(json_t *obj, char out[48])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char *text;
	size_t i;

	out[0] = '\0';
	text = json_dumps(obj, JSON_SORT_KEYS | JSON_COMPACT);
	if (text == NULL || EVP_Digest(text, strlen(text), md, &n,
	    EVP_sha256(), NULL) != 1) {
		free(text);
		return;
	}
	free(text);
	out[0] = '"';
	for (i = 0; i < 16 && i < n; i++)
		(void)str_fmt(out + 1 + 2 * i, 3, "%02x", md[i]);
	(void)str_copy(out + 33, "\"", 2);
}

/* ---- If-Match ----
   A change is read first (a 404, or a stale tag, before any work: a
   password is hashed only for a mailbox that is there), then checked
   again inside the change's transaction (the actor's expect(), ops.h),
   so that of two panels holding one ETag only the first changes. */

/* C's If-Match against CURRENT (consumed): 1, 0 stale (WHY says so),
   -1. */
static int
tag_matches(struct http_call *c, json_t *current, char *why, size_t whysz)
{
	char tag[48];

	if (current == NULL) {
		(void)str_copy(why, "out of memory", whysz);
		return -1;
	}
	etag_of(current, tag);
	json_decref(current);
	if (c->if_match[0] == '\0' || strcmp(c->if_match, "*") == 0 ||
	    strcmp(c->if_match, tag) == 0)
		return 1;
	(void)str_fmt(why, whysz, "the object changed since it was read "
	    "(its ETag is now %s): read it again", tag);
	return 0;
}

/* The first look: the object C's change is about, as JSON (NULL: C has
   the error); a stale If-Match is 412. */
static bool
precondition(struct http_call *c, json_t *current)
{
	char why[256];
	int r = tag_matches(c, current, why, sizeof(why));

	if (r != 1)
		http_api_error(c, r == 0 ? 412 : 503, NULL, "%s", why);
	return r == 1;
}

/* The checks inside the transaction (ops_expect_fn), one per kind of
   object: read again, the tag compared. */
static int
expect_customer(struct store *s, void *arg, char *why, size_t whysz)
{
	struct http_call *c = arg;
	struct store_customer cu;
	struct ops_result r;

	ops_customer_get(s, &c->actor, c->match.params[0], &cu, &r);
	if (r.status != OPS_OK) {
		(void)str_copy(why, r.error, whysz);
		return -1;
	}
	return tag_matches(c, customer_json(&cu), why, whysz);
}

static int
expect_domain(struct store *s, void *arg, char *why, size_t whysz)
{
	struct http_call *c = arg;
	struct store_domain d;
	struct ops_result r;

	ops_domain_get(s, &c->actor, c->match.params[0], &d, &r);
	if (r.status != OPS_OK) {
		(void)str_copy(why, r.error, whysz);
		return -1;
	}
	return tag_matches(c, domain_json(&d), why, whysz);
}

static int
expect_mailbox(struct store *s, void *arg, char *why, size_t whysz)
{
	struct http_call *c = arg;
	struct store_mailbox m;
	struct ops_result r;

	ops_mailbox_get(s, &c->actor, c->match.params[0], &m, &r);
	if (r.status != OPS_OK) {
		(void)str_copy(why, r.error, whysz);
		return -1;
	}
	return tag_matches(c, mailbox_json(&m), why, whysz);
}

/* C's change checks its If-Match with FN in its transaction. */
static void
expect(struct http_call *c, ops_expect_fn *fn)
{
	if (c->if_match[0] == '\0' || strcmp(c->if_match, "*") == 0)
		return;
	c->actor.expect = fn;
	c->actor.expect_arg = c;
}

static void
reply_object(struct http_call *c, int status, json_t *obj)
{
	json_decref(c->reply);
	c->status = status;
	c->reply = obj;
	if (obj != NULL)
		etag_of(obj, c->etag);
	else
		http_api_error(c, 503, NULL, "out of memory");
}

/* ---- lists: ?limit=&offset= (struct page: http_int.h) ----
   For the store's lists the window goes to the store (LIMIT and OFFSET
   of its statement, a second one counting the whole list): only the
   page's rows are read and made JSON. The lists of http_api_*.c (the
   relay table, the queue) are cut here as their items come. */

static bool
page_init(struct http_call *c, struct page *p)
{
	char v[24];

	memset(p, 0, sizeof(*p));
	p->w.limit = LIST_DEFAULT;
	if (http_query_get(c->query, "limit", v, sizeof(v)) != 0 &&
	    str_to_uint(v, 1, LIST_MAX, &p->w.limit) == -1) {
		http_api_error(c, 422, "limit", "limit must be 1 to %d",
		    LIST_MAX);
		return false;
	}
	if (http_query_get(c->query, "offset", v, sizeof(v)) != 0 &&
	    str_to_uint(v, 0, UINT32_MAX, &p->w.offset) == -1) {
		http_api_error(c, 422, "offset", "offset must be a number "
		    "from 0");
		return false;
	}
	p->items = json_array();
	return true;
}

static void
page_add(struct page *p, json_t *item)
{
	if (!p->here || (p->seen >= p->w.offset &&
	    p->seen < p->w.offset + p->w.limit))
		(void)json_array_append_new(p->items, item);
	else
		json_decref(item);
	p->seen++;
}

static void
page_reply(struct http_call *c, struct page *p, const struct ops_result *r)
{
	uint64_t total = p->here ? p->seen : p->w.total;

	if (!from_ops(c, r)) {
		json_decref(p->items);
		return;
	}
	reply_object(c, 200, json_pack("{s:o, s:I, s:I, s:I}", "items",
	    p->items, "total", (json_int_t)total, "limit",
	    (json_int_t)p->w.limit, "offset", (json_int_t)p->w.offset));
	c->etag[0] = '\0';
}

/* A filter of the query: NULL absent, else OUT; false when bad. */
static bool
filter(struct http_call *c, const char *name, char *out, size_t outsz,
    const char **v)
{
	int r = http_query_get(c->query, name, out, outsz);

	*v = r == 1 ? out : NULL;
	if (r == -1 || (r == 1 && out[0] == '\0')) {
		http_api_error(c, 422, name, "bad '%s' filter", name);
		return false;
	}
	return true;
}

static bool
force_of(struct http_call *c, bool *force)
{
	char v[8];
	int r = http_query_get(c->query, "force", v, sizeof(v));

	*force = r == 1 && strcmp(v, "true") == 0;
	if (r == -1 || (r == 1 && !*force && strcmp(v, "false") != 0)) {
		http_api_error(c, 422, "force", "force must be true or false");
		return false;
	}
	return true;
}

/* ---- customers ---- */

static void
list_customer(const struct store_customer *cu, void *arg)
{
	page_add(arg, customer_json(cu));
}

void
http_api_customer_list(struct backends *b, struct http_call *c)
{
	struct ops_result r;
	struct store *s;
	struct page p;

	if ((s = store_of(b, c)) == NULL || !page_init(c, &p))
		return;
	ops_customer_list(s, &c->actor, &p.w, list_customer, &p, &r);
	page_reply(c, &p, &r);
}

void
http_api_customer_get(struct backends *b, struct http_call *c)
{
	struct store_customer cu;
	struct ops_result r;
	struct store *s;

	if ((s = store_of(b, c)) == NULL)
		return;
	ops_customer_get(s, &c->actor, c->match.params[0], &cu, &r);
	if (from_ops(c, &r))
		reply_object(c, 200, customer_json(&cu));
}

void
http_api_customer_add(struct backends *b, struct http_call *c)
{
	const char *name = json_string_value(json_object_get(c->body, "name"));
	struct store_customer cu;
	struct ops_result r;
	struct store *s;

	if ((s = store_of(b, c)) == NULL)
		return;
	ops_customer_add(s, &c->actor, name, &r);
	if (!from_ops(c, &r))
		return;
	ops_customer_get(s, &c->actor, name, &cu, &r);
	if (!from_ops(c, &r))
		return;
	(void)str_fmt(c->location, sizeof(c->location),
	    "/api/v1/customers/%s", cu.name);
	reply_object(c, 201, customer_json(&cu));
}

/* Reads the customer for a change: false when C has the error. */
static bool
customer_current(struct store *s, struct http_call *c)
{
	struct store_customer cu;
	struct ops_result r;

	ops_customer_get(s, &c->actor, c->match.params[0], &cu, &r);
	return from_ops(c, &r) && precondition(c, customer_json(&cu));
}

void
http_api_customer_patch(struct backends *b, struct http_call *c)
{
	struct store_customer cu;
	struct ops_result r;
	struct ops_env env;
	char lower[STORE_NAME_MAX + 1];
	bool suspend;
	struct store *s;
	const char *err;

	if ((s = store_of(b, c)) == NULL || !customer_current(s, c))
		return;
	memset(&env, 0, sizeof(env));
	env.data_fd = -1;
	env.relay = backends_relay(b, &err);
	suspend = json_is_true(json_object_get(c->body, "suspended"));
	expect(c, expect_customer);
	ops_customer_set_suspended(s, &env, &c->actor, c->match.params[0],
	    suspend, &r);
	c->actor.expect = NULL;
	if (!from_ops(c, &r))
		return;
	if (suspend) {
		/* As `customer suspend` tells the daemon (webhooks). */
		(void)str_copy(lower, c->match.params[0], sizeof(lower));
		str_lower(lower);
		HOOK_FIRE(HOOK_CUSTOMER_SUSPENDED, HOOK_STR("customer", lower),
		    HOOK_NUM("revoked_authorizations",
		    r.revoked > 0 ? r.revoked : 0));
	}
	ops_customer_get(s, &c->actor, c->match.params[0], &cu, &r);
	if (from_ops(c, &r))
		reply_object(c, 200, customer_json(&cu));
}

void
http_api_customer_delete(struct backends *b, struct http_call *c)
{
	struct ops_result r;
	struct ops_env env;
	struct store *s;
	const char *err;
	bool force;

	if (!force_of(c, &force) || (s = store_of(b, c)) == NULL ||
	    !customer_current(s, c))
		return;
	memset(&env, 0, sizeof(env));
	env.data_fd = -1;
	env.relay = backends_relay(b, &err);
	expect(c, expect_customer);
	ops_customer_delete(s, &env, &c->actor, c->match.params[0], force, &r);
	if (from_ops(c, &r))
		c->status = 204;
}

/* ---- domains ---- */

static void
list_domain(const struct store_domain *d, void *arg)
{
	page_add(arg, domain_json(d));
}

void
http_api_domain_list(struct backends *b, struct http_call *c)
{
	char cbuf[STORE_NAME_MAX + 1];
	const char *customer;
	struct ops_result r;
	struct store *s;
	struct page p;

	if (!filter(c, "customer", cbuf, sizeof(cbuf), &customer) ||
	    (s = store_of(b, c)) == NULL || !page_init(c, &p))
		return;
	ops_domain_list(s, &c->actor, customer, &p.w, list_domain, &p, &r);
	page_reply(c, &p, &r);
}

void
http_api_domain_get(struct backends *b, struct http_call *c)
{
	struct store_domain d;
	struct ops_result r;
	struct store *s;

	if ((s = store_of(b, c)) == NULL)
		return;
	ops_domain_get(s, &c->actor, c->match.params[0], &d, &r);
	if (from_ops(c, &r))
		reply_object(c, 200, domain_json(&d));
}

void
http_api_domain_add(struct backends *b, struct http_call *c)
{
	const char *name = json_string_value(json_object_get(c->body, "name"));
	const char *customer = json_string_value(json_object_get(c->body,
	    "customer"));
	struct store_domain d;
	struct ops_result r;
	struct store *s;

	if (customer == NULL)
		customer = c->actor.customer;
	if (customer == NULL) {
		http_api_error(c, 422, "customer", "'customer' is required "
		    "with an admin token");
		return;
	}
	if ((s = store_of(b, c)) == NULL)
		return;
	ops_domain_add(s, &c->actor, name, customer, &r);
	if (!from_ops(c, &r))
		return;
	ops_domain_get(s, &c->actor, name, &d, &r);
	if (!from_ops(c, &r))
		return;
	(void)str_fmt(c->location, sizeof(c->location), "/api/v1/domains/%s",
	    d.name);
	reply_object(c, 201, domain_json(&d));
}

void
http_api_domain_delete(struct backends *b, struct http_call *c)
{
	struct store_domain d;
	struct ops_result r;
	struct store *s;
	bool force;

	if (!force_of(c, &force) || (s = store_of(b, c)) == NULL)
		return;
	ops_domain_get(s, &c->actor, c->match.params[0], &d, &r);
	if (!from_ops(c, &r) || !precondition(c, domain_json(&d)))
		return;
	expect(c, expect_domain);
	ops_domain_delete(s, &c->actor, c->match.params[0], force, &r);
	if (from_ops(c, &r))
		c->status = 204;
}

/* ---- mailboxes ---- */

static void
list_mailbox(const struct store_mailbox *m, void *arg)
{
	page_add(arg, mailbox_json(m));
}

void
http_api_mailbox_list(struct backends *b, struct http_call *c)
{
	char cbuf[STORE_NAME_MAX + 1], dbuf[ADDR_DOMAIN_MAX + 1];
	const char *customer, *domain;
	struct ops_result r;
	struct store *s;
	struct page p;

	if (!filter(c, "customer", cbuf, sizeof(cbuf), &customer) ||
	    !filter(c, "domain", dbuf, sizeof(dbuf), &domain))
		return;
	if (customer != NULL && domain != NULL) {
		http_api_error(c, 422, "domain", "give domain or customer, "
		    "not both");
		return;
	}
	if ((s = store_of(b, c)) == NULL || !page_init(c, &p))
		return;
	ops_mailbox_list(s, &c->actor, domain, customer, &p.w, list_mailbox,
	    &p, &r);
	page_reply(c, &p, &r);
}

void
http_api_mailbox_get(struct backends *b, struct http_call *c)
{
	struct store_mailbox m;
	struct ops_result r;
	struct store *s;

	if ((s = store_of(b, c)) == NULL)
		return;
	ops_mailbox_get(s, &c->actor, c->match.params[0], &m, &r);
	if (from_ops(c, &r))
		reply_object(c, 200, mailbox_json(&m));
}

/* The hash of the body's password or hash member into OUT: 1, 0 when
   neither is there, -1 (C has the error). */
static int
body_hash(struct backends *b, struct http_call *c, char *out, size_t outsz)
{
	const char *pw = json_string_value(json_object_get(c->body,
	    "password"));
	const char *hash = json_string_value(json_object_get(c->body, "hash"));
	const char *err;

	if (pw != NULL && hash != NULL) {
		http_api_error(c, 422, "hash", "give password or hash, not "
		    "both");
		return -1;
	}
	if (hash != NULL) {
		if (passwd_check_hash(hash) == -1) {
			http_api_error(c, 422, "hash", "not a supported "
			    "crypt(3) hash (expected $y$, $6$ or $2b$...)");
			return -1;
		}
		return str_copy(out, hash, outsz) == 0 ? 1 : -1;
	}
	if (pw == NULL)
		return 0;
	if (strlen(pw) < b->cfg->password_min_length) {
		http_api_error(c, 422, "password", "the password must have at "
		    "least %llu characters",
		    (unsigned long long)b->cfg->password_min_length);
		return -1;
	}
	if (passwd_hash(pw, out, outsz, &err) == -1) {
		http_api_error(c, 503, NULL, "cannot hash the password: %s",
		    err);
		return -1;
	}
	return 1;
}

void
http_api_mailbox_add(struct backends *b, struct http_call *c)
{
	const char *address = json_string_value(json_object_get(c->body,
	    "address"));
	char hash[PASSWD_HASH_MAX + 1];
	struct store_mailbox m;
	struct http_error e;
	struct ops_result r;
	struct ops_env env;
	struct store *s;
	uint64_t quota = 0;
	int h;

	if (http_json_size(c->body, "quota", &quota, &e) == -1) {
		http_api_error(c, e.status, e.field, "%s", e.message);
		return;
	}
	if ((h = body_hash(b, c, hash, sizeof(hash))) == -1)
		return;
	if (h == 0) {
		http_api_error(c, 422, "password", "'password' (or 'hash') is "
		    "required");
		return;
	}
	if ((s = store_of(b, c)) == NULL)
		return;
	env.data_fd = b->data_fd;
	env.mail_dir = config_rel(b->cfg, b->cfg->mail_dir);
	env.relay = NULL;
	ops_mailbox_add(s, &env, &c->actor, address, hash, quota, &r);
	OPENSSL_cleanse(hash, sizeof(hash));
	if (!from_ops(c, &r))
		return;
	ops_mailbox_get(s, &c->actor, address, &m, &r);
	if (!from_ops(c, &r))
		return;
	(void)str_fmt(c->location, sizeof(c->location),
	    "/api/v1/mailboxes/%s", m.address);
	reply_object(c, 201, mailbox_json(&m));
}

static bool
mailbox_current(struct store *s, struct http_call *c)
{
	struct store_mailbox m;
	struct ops_result r;

	ops_mailbox_get(s, &c->actor, c->match.params[0], &m, &r);
	return from_ops(c, &r) && precondition(c, mailbox_json(&m));
}

void
http_api_mailbox_patch(struct backends *b, struct http_call *c)
{
	char hash[PASSWD_HASH_MAX + 1];
	struct store_mailbox m;
	struct http_error e;
	struct ops_result r;
	struct store *s;
	uint64_t quota;
	int h, q;

	if ((q = http_json_size(c->body, "quota", &quota, &e)) == -1) {
		http_api_error(c, e.status, e.field, "%s", e.message);
		return;
	}
	if ((s = store_of(b, c)) == NULL || !mailbox_current(s, c) ||
	    (h = body_hash(b, c, hash, sizeof(hash))) == -1)
		return;
	if (h == 0 && q == 0) {
		http_api_error(c, 422, "password", "nothing to change: give "
		    "password, hash or quota");
		return;
	}
	expect(c, expect_mailbox);
	ops_mailbox_update(s, &c->actor, c->match.params[0], h == 1 ? hash :
	    NULL, q == 1 ? &quota : NULL, &r);
	c->actor.expect = NULL;
	OPENSSL_cleanse(hash, sizeof(hash));
	if (!from_ops(c, &r))
		return;
	ops_mailbox_get(s, &c->actor, c->match.params[0], &m, &r);
	if (from_ops(c, &r))
		reply_object(c, 200, mailbox_json(&m));
}

void
http_api_mailbox_delete(struct backends *b, struct http_call *c)
{
	struct ops_result r;
	struct store *s;

	if ((s = store_of(b, c)) == NULL || !mailbox_current(s, c))
		return;
	expect(c, expect_mailbox);
	ops_mailbox_delete(s, &c->actor, c->match.params[0], &r);
	if (from_ops(c, &r))
		c->status = 204;
}

void
http_api_openapi(struct backends *b, struct http_call *c)
{
	(void)b;
	reply_object(c, 200, http_openapi(http_routes, http_nroutes));
	c->etag[0] = '\0';
}

/* ---- for the calls of the other files (http_int.h) ---- */

bool
http_api_from_ops(struct http_call *c, const struct ops_result *r)
{
	return from_ops(c, r);
}

struct store *
http_api_store(struct backends *b, struct http_call *c)
{
	return store_of(b, c);
}

void
http_api_reply(struct http_call *c, int status, json_t *obj)
{
	reply_object(c, status, obj);
}

bool
http_api_page_init(struct http_call *c, struct page *p, bool here)
{
	if (!page_init(c, p))
		return false;
	p->here = here;
	return true;
}

int
http_api_tag_matches(struct http_call *c, json_t *current, char *why,
    size_t whysz)
{
	return tag_matches(c, current, why, whysz);
}

bool
http_api_precondition(struct http_call *c, json_t *current)
{
	return precondition(c, current);
}

void
http_api_expect(struct http_call *c, ops_expect_fn *fn)
{
	expect(c, fn);
}

void
http_api_page_add(struct page *p, json_t *item)
{
	page_add(p, item);
}

void
http_api_page_reply(struct http_call *c, struct page *p,
    const struct ops_result *r)
{
	page_reply(c, p, r);
}

bool
http_api_filter(struct http_call *c, const char *name, char *out,
    size_t outsz, const char **v)
{
	return filter(c, name, out, outsz, v);
}

void
http_api_fmt_time(char *dst, size_t dstsz, int64_t t)
{
	fmt_time(dst, dstsz, t);
}
