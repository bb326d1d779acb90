/*
 * cli_queue.c - popgate queue list|show|flush|delete|hold|release.
 *
 * list and show read the queue files (the daemon only ever replaces
 * them atomically, so reading beside it is safe); flush, delete, hold
 * and release go through the daemon's control socket so they act on
 * the running daemon, which alone writes the queue while it runs. With
 * no daemon running, delete, hold and release change the files
 * themselves and flush says the queue is tried when the daemon starts.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_control.h"
#include "ops/ops.h"
#include "core/ids.h"
#include "queue/queue.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/compat.h"

static const char *const state_names[] = { "pending", "deferred",
	"delivered", "bounced" };

static const char *const cols[] = { "id", "age", "size", "sender",
	"recipient", "state", "attempts", "next_try", "last_error", "held",
	"held_at" };
/* --json: size and attempts are numbers (issue 17). */
static const bool numeric[] = { false, false, true, false, false, false,
	true, false, false, false, false };

#define DEFAULT_REASON	"held by the administrator"


struct list_ctx {
	struct cli_table	*t;
	unsigned		 n, damaged;
};

/* The queue below the data directory (after cli_drop_root). NULL when
   it cannot be opened (said). */
static struct queue *
open_queue(struct cli *c)
{
	struct queue *q;
	const char *err;

	q = queue_new(c->data_fd, &err);
	if (q == NULL)
		cli_err(c, "cannot read the queue: %s", err);
	return q;
}

/* The rows of a message: one per recipient. */
static void
list_one(const char *id, const struct queue_env *e, uint64_t len,
    const char *error, void *arg)
{
	struct list_ctx *lc = arg;
	char age[32], size[32], next[32], att[16], held_at[32];
	size_t i;

	if (e == NULL) {
		cli_table_row(lc->t, id, "?", "?", "?", "?", "damaged", "", "",
		    error, "", "");
		lc->damaged++;
		return;
	}
	held_at[0] = '\0';
	if (queue_env_held(e) && e->held_at != 0)
		cli_fmt_time(held_at, sizeof(held_at), e->held_at);
	lc->n++;
	ops_queue_fmt_age(age, sizeof(age), e->arrival, clock_now());
	(void)str_fmt(size, sizeof(size), "%llu", (unsigned long long)len);
	for (i = 0; i < e->nrcpts; i++) {
		const struct queue_rcpt *rc = &e->rcpts[i];

		next[0] = '\0';
		if (rc->state == QR_DEFERRED)
			cli_fmt_time(next, sizeof(next), rc->next_try);
		(void)str_fmt(att, sizeof(att), "%u", rc->attempts);
		cli_table_row(lc->t, e->id, age, size, e->sender[0] != '\0' ?
		    e->sender : "<>", rc->address, state_names[rc->state], att,
		    next, rc->last_error, e->hold, held_at);
	}
}

static int
cmd_list(struct cli *c)
{
	struct ops_result res;
	struct cli_table t;
	struct list_ctx lc;
	struct queue *q;
	int r;

	if ((r = cli_load_config(c)) != 0 || (r = cli_drop_root(c)) != 0)
		return r;
	memset(&lc, 0, sizeof(lc));
	if ((q = open_queue(c)) == NULL)
		return EXIT_SYSTEM;
	cli_table_init(&t, cols, nitems(cols), numeric);
	lc.t = &t;
	ops_queue_list(q, list_one, &lc, &res);
	queue_free(&q);
	if ((r = cli_ops_result(c, &res)) != 0) {
		cli_table_free(&t);
		return r;
	}
	if (!c->json && lc.n == 0 && lc.damaged == 0)
		printf("the queue is empty\n");
	else
		cli_table_print(&t, c->json);
	cli_table_free(&t);
	return 0;
}

static bool
good_id(struct cli *c, const char *id)
{
	if (queue_id_ok(id))
		return true;
	cli_err(c, "bad queue id '%s' (%d hexadecimal digits)", id, ID_LEN);
	return false;
}

/* The hold of E, for people. */
static void
print_hold(const struct queue_env *e)
{
	char at[32], dur[32];

	if (queue_env_held(e)) {
		if (e->held_at != 0)
			cli_fmt_time(at, sizeof(at), e->held_at);
		else
			(void)str_copy(at, "?", sizeof(at));
		printf("held: since %s UTC: %s\n", at, e->hold);
	} else {
		printf("held: no\n");
	}
	if (e->held_for != 0) {
		str_fmt_duration(dur, sizeof(dur), e->held_for);
		printf("held before: %s (not counted against "
		    "max_queue_lifetime)\n", dur);
	}
}

static int
cmd_show(struct cli *c)
{
	struct ops_result res;
	struct cli_table t;
	struct list_ctx lc;
	struct queue_env e;
	struct queue *q;
	struct buf h;
	uint64_t size;
	int r;

	if (!good_id(c, c->pos[0]))
		return EXIT_USER;
	if ((r = cli_load_config(c)) != 0 || (r = cli_drop_root(c)) != 0)
		return r;
	if ((q = open_queue(c)) == NULL)
		return EXIT_SYSTEM;
	buf_init(&h, 1024 * 1024);
	ops_queue_show(q, c->pos[0], &e, &size, &h, &res);
	queue_free(&q);
	if ((r = cli_ops_result(c, &res)) != 0) {
		buf_free(&h);
		return r;
	}
	memset(&lc, 0, sizeof(lc));
	cli_table_init(&t, cols, nitems(cols), numeric);
	lc.t = &t;
	list_one(e.id, &e, size, NULL, &lc);
	cli_table_print(&t, c->json);
	cli_table_free(&t);
	if (!c->json) {
		printf("\nclient: %s\nauthorized by: %s\n", e.client, e.auth);
		print_hold(&e);
		printf("\n");
		fwrite(buf_cstr(&h), 1, h.len, stdout);
	}
	buf_free(&h);
	queue_env_free(&e);
	return 0;
}

/* REQUEST to the daemon (flush, delete), its answer read into ANS. */
static void
ask_daemon(struct cli *c, const char *request, struct ops_queue_answer *ans)
{
	char line[128];
	uint64_t n;
	int r;

	memset(ans, 0, sizeof(*ans));
	r = control_call(c->data_fd, request, line, sizeof(line));
	if (r == -1)
		ans->outcome = OPS_QUEUE_NO_DAEMON;
	else if (r == -2)
		ans->outcome = OPS_QUEUE_NO_ANSWER;
	else if (strncmp(line, "error held", 10) == 0)
		ans->outcome = OPS_QUEUE_HELD;
	else if (strncmp(line, "ok ", 3) == 0 &&
	    str_to_uint(line + 3, 0, UINT32_MAX, &n) == 0) {
		ans->outcome = OPS_QUEUE_DONE;
		ans->n = (unsigned)n;
	} else {
		ans->outcome = OPS_QUEUE_ERROR;
		(void)str_copy(ans->text, line, sizeof(ans->text));
	}
}

static int
cmd_flush(struct cli *c)
{
	const char *id = c->npos > 0 ? c->pos[0] : NULL;
	struct ops_queue_answer ans;
	struct ops_result res;
	char req[64];
	int r;

	if (id != NULL && !good_id(c, id))
		return EXIT_USER;
	if ((r = cli_load_config(c)) != 0 || (r = cli_drop_root(c)) != 0)
		return r;
	(void)str_fmt(req, sizeof(req), "flush%s%s", id != NULL ? " " : "",
	    id != NULL ? id : "");
	ask_daemon(c, req, &ans);
	ops_queue_result(OPS_QUEUE_FLUSH, id, &ans, &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	printf("%u message(s) to be tried now\n", ans.n);
	return 0;
}

static int
cmd_delete(struct cli *c)
{
	struct ops_queue_answer ans;
	struct ops_result res;
	struct queue *q;
	char req[64];
	int r;

	if (!good_id(c, c->pos[0]))
		return EXIT_USER;
	if ((r = cli_load_config(c)) != 0 || (r = cli_drop_root(c)) != 0)
		return r;
	(void)str_fmt(req, sizeof(req), "delete %s", c->pos[0]);
	ask_daemon(c, req, &ans);
	if (ans.outcome == OPS_QUEUE_NO_DAEMON) {
		/* No daemon: nobody else touches the queue. */
		if ((q = open_queue(c)) == NULL)
			return EXIT_SYSTEM;
		ops_queue_delete_files(q, &cli_actor, c->pos[0], &res);
		queue_free(&q);
	} else
		ops_queue_result(OPS_QUEUE_DELETE, c->pos[0], &ans, &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	printf("message %s deleted\n", c->pos[0]);
	return 0;
}

/* What the CLI says when the daemon was reached but did not answer. */
static int
no_answer(struct cli *c, const char *id)
{
	cli_err(c, "the daemon did not answer within %ds; it may still act "
	    "on the request (see popgate queue show %s)", CONTROL_WAIT, id);
	return EXIT_SYSTEM;
}

/* The outcome of a hold (REASON) or release of ID, said. */
static int
hold_said(struct cli *c, const char *id, const char *reason,
    const struct ops_hold_answer *ans, bool daemon)
{
	struct ops_result res;
	int r;

	ops_queue_hold_result(id, reason, ans, &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	if (ans->outcome == OPS_HOLD_PENDING)
		printf("message %s is being delivered: no new attempt starts, "
		    "and what this attempt does not deliver is held\n", id);
	else
		printf("message %s %s\n", id, reason != NULL ? "held" :
		    daemon ? "released: it is tried now" :
		    "released: it is tried when the daemon starts");
	return 0;
}

/* The daemon's answer line LINE to a hold or release ("ok WORD TEXT",
   "error WORD TEXT") into ANS. */
static void
hold_parse(const char *line, struct ops_hold_answer *ans)
{
	static const struct {
		const char	*word;
		int		 outcome;
	} words[] = {
		{ "ok done", OPS_HOLD_DONE }, { "ok pending", OPS_HOLD_PENDING },
		{ "error none", OPS_HOLD_NONE },
		{ "error already", OPS_HOLD_ALREADY },
		{ "error busy", OPS_HOLD_BUSY },
		{ "error failed", OPS_HOLD_FAILED },
	};
	size_t i, n;

	memset(ans, 0, sizeof(*ans));
	ans->outcome = OPS_HOLD_FAILED;
	(void)str_copy(ans->text, line, sizeof(ans->text));
	for (i = 0; i < nitems(words); i++) {
		n = strlen(words[i].word);
		if (strncmp(line, words[i].word, n) == 0 &&
		    (line[n] == ' ' || line[n] == '\0')) {
			ans->outcome = words[i].outcome;
			(void)str_copy(ans->text, line[n] == ' ' ?
			    line + n + 1 : "", sizeof(ans->text));
			return;
		}
	}
}

/* The same on the files, with no daemon running. */
static int
hold_files(struct cli *c, const char *id, const char *reason)
{
	struct ops_hold_answer ans;
	struct queue *q;
	struct queue_env e;
	const char *err = "";
	enum queue_hold_result r;

	if ((q = open_queue(c)) == NULL)
		return EXIT_SYSTEM;
	r = queue_set_hold(q, id, reason, clock_now(), &e, &err);
	queue_free(&q);
	memset(&ans, 0, sizeof(ans));
	switch (r) {
	case QUEUE_HOLD_DONE:
		queue_env_free(&e);
		ans.outcome = OPS_HOLD_DONE;
		break;
	case QUEUE_HOLD_ALREADY:
		ans.outcome = OPS_HOLD_ALREADY;
		(void)str_fmt(ans.text, sizeof(ans.text), "already held: %s",
		    e.hold);
		queue_env_free(&e);
		break;
	case QUEUE_HOLD_NONE:
		ans.outcome = OPS_HOLD_NONE;
		break;
	case QUEUE_HOLD_FAILED:
	default:
		ans.outcome = OPS_HOLD_FAILED;
		(void)str_copy(ans.text, err, sizeof(ans.text));
		break;
	}
	return hold_said(c, id, reason, &ans, false);
}

/* hold ID [REASON...] and release ID. */
static int
hold_or_release(struct cli *c, bool hold)
{
	const char *id = c->pos[0];
	char reason[QUEUE_HOLD_MAX + 1], req[64 + QUEUE_HOLD_MAX], ans[512];
	struct ops_hold_answer ha;
	struct buf b;
	int i, r;

	if (!good_id(c, id))
		return EXIT_USER;
	buf_init(&b, 64 * 1024);
	for (i = 1; i < c->npos; i++)
		(void)buf_printf(&b, "%s%s", i > 1 ? " " : "", c->pos[i]);
	r = str_copy(reason, hold && c->npos > 1 ? buf_cstr(&b) :
	    DEFAULT_REASON, sizeof(reason));
	buf_free(&b);
	if (r == -1 || !queue_hold_reason_ok(reason)) {
		cli_err(c, "bad reason: 1 to %d octets, no control characters",
		    QUEUE_HOLD_MAX);
		return EXIT_USER;
	}
	if ((r = cli_load_config(c)) != 0 || (r = cli_drop_root(c)) != 0)
		return r;
	if (hold)
		(void)str_fmt(req, sizeof(req), "hold %s %s", id, reason);
	else
		(void)str_fmt(req, sizeof(req), "release %s", id);
	r = control_call(c->data_fd, req, ans, sizeof(ans));
	if (r == -2)
		return no_answer(c, id);
	if (r == 0) {
		hold_parse(ans, &ha);
		return hold_said(c, id, hold ? reason : NULL, &ha, true);
	}
	/* No daemon: nobody else touches the queue. */
	return hold_files(c, id, hold ? reason : NULL);
}

static int
cmd_hold(struct cli *c)
{
	return hold_or_release(c, true);
}

static int
cmd_release(struct cli *c)
{
	return hold_or_release(c, false);
}

static const struct cli_cmd cmds[] = {
	{ "list", cmd_list, OPT_JSON | OPT_NOSTORE, 0, 0, "",
	    "queued messages, one line per recipient with its state and "
	    "hold" },
	{ "show", cmd_show, OPT_JSON | OPT_NOSTORE, 1, 1, "ID",
	    "one message: recipients, who let it through, its hold, its "
	    "headers" },
	{ "flush", cmd_flush, OPT_NOSTORE, 0, 1, "[ID]",
	    "try now (every message that is not held, or one)" },
	{ "delete", cmd_delete, OPT_NOSTORE, 1, 1, "ID",
	    "remove a message from the queue, held or not, without a bounce" },
	{ "hold", cmd_hold, OPT_NOSTORE, 1, -1, "ID [REASON]",
	    "quarantine a message: never tried until released" },
	{ "release", cmd_release, OPT_NOSTORE, 1, 1, "ID",
	    "end the hold: tried at once; the time held does not count "
	    "against max_queue_lifetime" },
};

int
cli_queue(int argc, char **argv)
{
	return cli_dispatch("queue", cmds, nitems(cmds), argc, argv);
}
