/*
 * http_api_queue.c - /api/v1/queue: the durable queue (SPEC 6 and 12)
 * through the operations of `popgate queue` (ops_queue.c).
 *
 * list and show read the queue files on the worker; flush, delete,
 * hold and release are the queue manager's, which lives on the daemon's
 * loop: the worker checks the call, then a step on the loop
 * (http_call.loop) makes the change by ops_queue_apply() or
 * ops_queue_hold(), the functions the control socket calls for `popgate
 * queue flush|delete|hold|release`, and reads the answer as the CLI
 * does (ops_queue_result(), ops_queue_hold_result()). The loop never
 * waits: a flush or delete is immediate there, and a hold or release
 * is answered when its io job has put it on the disk
 * (http_call_answered()).
 *
 * The queue does not record which customer a message is of (its
 * "authorized by" is text for people), so every queue route needs an
 * admin token.
 *
 * A message is an object whose members, with each of its recipients'
 * flattened in, are a row of `queue list --json` (the same names and
 * values), plus its arrival, client and who authorized it.
 */
#include <strings.h>

#include "http/http_int.h"
#include "policy/policy.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/str.h"
#include "util/compat.h"

static const char *const state_names[] = { "pending", "deferred",
	"delivered", "bounced" };

static json_t *
rcpt_json(const struct queue_rcpt *rc)
{
	char next[32];

	next[0] = '\0';
	if (rc->state == QR_DEFERRED)
		http_api_fmt_time(next, sizeof(next), rc->next_try);
	return json_pack("{s:s, s:s, s:i, s:s, s:s}", "recipient",
	    rc->address, "state", state_names[rc->state], "attempts",
	    (int)rc->attempts, "next_try", next, "last_error",
	    rc->last_error);
}

static json_t *
msg_json(const struct queue_env *e, uint64_t size)
{
	char age[32], arrival[32], held_at[32];
	json_t *rcpts = json_array(), *o;
	size_t i;

	ops_queue_fmt_age(age, sizeof(age), e->arrival, clock_now());
	http_api_fmt_time(arrival, sizeof(arrival), e->arrival);
	held_at[0] = '\0';
	if (queue_env_held(e) && e->held_at != 0)
		http_api_fmt_time(held_at, sizeof(held_at), e->held_at);
	for (i = 0; i < e->nrcpts; i++)
		(void)json_array_append_new(rcpts, rcpt_json(&e->rcpts[i]));
	o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:o}",
	    "id", e->id, "age", age, "arrival", arrival, "size",
	    (json_int_t)size, "sender", e->sender[0] != '\0' ? e->sender :
	    "<>", "client", e->client, "authorized_by", e->auth, "held",
	    e->hold, "held_at", held_at, "recipients", rcpts);
	return o;
}

/* The list's filters: NULL absent. */
struct queue_filter {
	struct page	*page;
	const char	*state, *sender, *recipient;
	int		 held;		/* -1 any, 0 not held, 1 held */
	bool		 any;		/* a filter was given */
};

static bool
matches(const struct queue_filter *f, const struct queue_env *e)
{
	bool state = f->state == NULL, rcpt = f->recipient == NULL;
	size_t i;

	if (f->held != -1 && queue_env_held(e) != (f->held == 1))
		return false;
	if (f->sender != NULL && strcasecmp(f->sender, e->sender[0] != '\0' ?
	    e->sender : "<>") != 0)
		return false;
	for (i = 0; i < e->nrcpts; i++) {
		if (f->state != NULL &&
		    strcmp(f->state, state_names[e->rcpts[i].state]) == 0)
			state = true;
		if (f->recipient != NULL &&
		    strcasecmp(f->recipient, e->rcpts[i].address) == 0)
			rcpt = true;
	}
	return state && rcpt;
}

static void
list_one(const char *id, const struct queue_env *e, uint64_t size,
    const char *error, void *arg)
{
	struct queue_filter *f = arg;

	if (e == NULL) {
		if (!f->any)
			http_api_page_add(f->page, json_pack("{s:s, s:b, s:s}",
			    "id", id, "damaged", 1, "error", error));
		return;
	}
	if (matches(f, e))
		http_api_page_add(f->page, msg_json(e, size));
}

/* ?state=, ?held=, ?sender=, ?recipient= into F: false when one is bad
   (C has the 422). */
static bool
filters(struct http_call *c, struct queue_filter *f, char (*v)[ADDR_BUFSZ])
{
	const char *held;
	size_t i;

	memset(f, 0, sizeof(*f));
	f->held = -1;
	if (!http_api_filter(c, "state", v[0], ADDR_BUFSZ, &f->state) ||
	    !http_api_filter(c, "held", v[1], ADDR_BUFSZ, &held) ||
	    !http_api_filter(c, "sender", v[2], ADDR_BUFSZ, &f->sender) ||
	    !http_api_filter(c, "recipient", v[3], ADDR_BUFSZ, &f->recipient))
		return false;
	if (f->state != NULL) {
		for (i = 0; i < nitems(state_names); i++)
			if (strcmp(f->state, state_names[i]) == 0)
				break;
		if (i == nitems(state_names)) {
			http_api_error(c, 422, "state", "state must be pending, "
			    "deferred, delivered or bounced");
			return false;
		}
	}
	if (held != NULL) {
		if (strcmp(held, "true") != 0 && strcmp(held, "false") != 0) {
			http_api_error(c, 422, "held", "held must be true or "
			    "false");
			return false;
		}
		f->held = strcmp(held, "true") == 0;
	}
	f->any = f->state != NULL || f->sender != NULL ||
	    f->recipient != NULL || f->held != -1;
	return true;
}

static bool
queue_of(struct backends *b, struct http_call *c)
{
	if (b->queue != NULL)
		return true;
	http_api_error(c, 503, NULL, "the queue is not available here");
	return false;
}

void
http_api_queue_list(struct backends *b, struct http_call *c)
{
	char v[4][ADDR_BUFSZ];
	struct queue_filter f;
	struct ops_result r;
	struct page p;

	if (!filters(c, &f, v) || !queue_of(b, c) || !http_api_page_init(c,
	    &p, true))
		return;
	f.page = &p;
	ops_queue_list(b->queue, list_one, &f, &r);
	http_api_page_reply(c, &p, &r);
}

/* The path's id: false when it cannot name a message (C has the 404). */
static bool
path_id(struct http_call *c)
{
	if (queue_id_ok(c->match.params[0]))
		return true;
	http_api_error(c, 404, NULL, "no message %s in the queue (an id has "
	    "%d hexadecimal digits)", c->match.params[0], ID_LEN);
	return false;
}

/* N octets of text at P as a JSON string: raw 8-bit header octets (not
   UTF-8) and NULs become U+FFFD, which JSON can carry. NULL: out of
   memory. */
static json_t *
text_json(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	struct buf b;
	json_t *j;
	size_t i = 0, k;
	int r = 0;

	buf_init(&b, BUF_UNLIMITED);
	while (i < n && r == 0) {
		k = s[i] >= 0x80 ? str_utf8_seq(s + i, n - i) : s[i] != 0;
		if (k == 0) {
			r = buf_append(&b, "\xef\xbf\xbd", 3);
			i++;
		} else {
			r = buf_append(&b, p + i, k);
			i += k;
		}
	}
	j = r == 0 ? json_stringn(b.data != NULL ? b.data : "", b.len) : NULL;
	buf_free(&b);
	return j;
}

void
http_api_queue_get(struct backends *b, struct http_call *c)
{
	struct queue_env e;
	struct ops_result r;
	uint64_t size;
	struct buf h;
	json_t *obj;

	if (!path_id(c) || !queue_of(b, c))
		return;
	buf_init(&h, 1024 * 1024);
	ops_queue_show(b->queue, c->match.params[0], &e, &size, &h, &r);
	if (http_api_from_ops(c, &r)) {
		obj = msg_json(&e, size);
		if (obj != NULL && json_object_set_new(obj, "headers",
		    text_json(h.data, h.len)) == -1) {
			json_decref(obj);
			obj = NULL;
		}
		http_api_reply(c, 200, obj);
		queue_env_free(&e);
	}
	buf_free(&h);
}

/* ---- the changes, on the loop ---- */

/* VERB of the path's id (or, for a flush without one, of every
   message) by the daemon's queue manager, answered as the CLI reads
   the control socket's answer. */
static void
apply(const struct http_deps *d, struct http_call *c,
    enum ops_queue_verb verb)
{
	const char *id = c->match.nparams > 0 ? c->match.params[0] : NULL;
	struct ops_queue_answer ans;
	struct ops_result r;

	if (d->qmgr == NULL) {
		http_api_error(c, 503, NULL, "no queue manager runs here");
		return;
	}
	ops_queue_apply(d->qmgr, &c->actor, verb, id, &ans);
	ops_queue_result(verb, id, &ans, &r);
	if (!http_api_from_ops(c, &r))
		return;
	if (verb == OPS_QUEUE_DELETE) {
		json_decref(c->reply);
		c->reply = NULL;
		c->status = 204;
		return;
	}
	http_api_reply(c, 200, id != NULL ? json_pack("{s:s, s:I}", "id", id,
	    "flushed", (json_int_t)ans.n) : json_pack("{s:I}", "flushed",
	    (json_int_t)ans.n));
	c->etag[0] = '\0';
}

static void
loop_flush(const struct http_deps *d, struct http_call *c)
{
	apply(d, c, OPS_QUEUE_FLUSH);
}

static void
loop_delete(const struct http_deps *d, struct http_call *c)
{
	apply(d, c, OPS_QUEUE_DELETE);
}

/* ---- holds: PUT and DELETE /api/v1/queue/{id}/hold ---- */

#define DEFAULT_REASON	"held by the administrator"

const struct http_field http_hold_body[] = {
	{ "reason", HF_STRING, false, QUEUE_HOLD_MAX, "why (default: \""
	    DEFAULT_REASON "\")" },
	{ NULL, HF_STRING, false, 0, NULL },
};

/* The queue manager's answer to C's hold or release. */
static void
hold_answered(void *arg, const struct ops_hold_answer *ans)
{
	struct http_call *c = arg;
	const char *reason = c->route->method == HTTP_PUT ?
	    json_string_value(json_object_get(c->body, "reason")) : NULL;
	struct ops_result r;

	if (c->route->method == HTTP_PUT && reason == NULL)
		reason = DEFAULT_REASON;
	ops_queue_hold_result(c->match.params[0], reason, ans, &r);
	if (http_api_from_ops(c, &r)) {
		if (reason == NULL) {
			json_decref(c->reply);
			c->reply = NULL;
			c->status = 204;
		} else {
			http_api_reply(c, 200, json_pack("{s:s, s:s, s:s}",
			    "id", c->match.params[0], "held", reason,
			    "outcome", ans->outcome == OPS_HOLD_PENDING ?
			    "pending" : "done"));
			c->etag[0] = '\0';
		}
	}
	if (c->wait != NULL)
		http_call_answered(c);
}

static void
loop_hold(const struct http_deps *d, struct http_call *c)
{
	const char *reason = NULL;

	if (d->qmgr == NULL) {
		http_api_error(c, 503, NULL, "no queue manager runs here");
		return;
	}
	if (c->route->method == HTTP_PUT) {
		reason = json_string_value(json_object_get(c->body, "reason"));
		if (reason == NULL)
			reason = DEFAULT_REASON;
	}
	/* Answered now (C->wait stays NULL) or later. */
	c->wait = ops_queue_hold(d->qmgr, &c->actor, c->match.params[0],
	    reason, hold_answered, c);
}

void
http_api_queue_hold(struct backends *b, struct http_call *c)
{
	const char *reason = json_string_value(json_object_get(c->body,
	    "reason"));

	(void)b;
	if (!path_id(c))
		return;
	if (reason != NULL && !queue_hold_reason_ok(reason)) {
		http_api_error(c, 422, "reason", "bad reason: 1 to %d octets, "
		    "no control characters", QUEUE_HOLD_MAX);
		return;
	}
	c->loop = loop_hold;
}

void
http_api_queue_release(struct backends *b, struct http_call *c)
{
	(void)b;
	if (path_id(c))
		c->loop = loop_hold;
}

void
http_api_queue_flush(struct backends *b, struct http_call *c)
{
	(void)b;
	if (c->match.nparams == 0 || path_id(c))
		c->loop = loop_flush;
}

void
http_api_queue_delete(struct backends *b, struct http_call *c)
{
	(void)b;
	if (path_id(c))
		c->loop = loop_delete;
}
