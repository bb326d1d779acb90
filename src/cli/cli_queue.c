/*
 * cli_queue.c - popgate queue list|show|flush|delete.
 *
 * list and show read the queue files (the daemon only ever replaces
 * them atomically, so reading beside it is safe); flush and delete go
 * through the daemon's control socket so they act on the running
 * daemon. With no daemon running, delete removes the files itself and
 * flush says the queue is tried when the daemon starts.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_control.h"
#include "core/ids.h"
#include "queue/queue.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/compat.h"

static const char *const state_names[] = { "pending", "deferred",
	"delivered", "bounced" };

static const char *const cols[] = { "id", "age", "size", "sender",
	"recipient", "state", "attempts", "next_try", "last_error" };

static void
fmt_age(char *out, size_t outsz, time_t since)
{
	long long s = (long long)(clock_now() - since);

	if (s < 0)
		s = 0;
	if (s < 120)
		(void)snprintf(out, outsz, "%llds", s);
	else if (s < 7200)
		(void)snprintf(out, outsz, "%lldm", s / 60);
	else if (s < 172800)
		(void)snprintf(out, outsz, "%lldh", s / 3600);
	else
		(void)snprintf(out, outsz, "%lldd", s / 86400);
}

struct list_ctx {
	struct cli		*c;
	struct queue		*q;
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

static void
list_one(const char *id, void *arg)
{
	struct list_ctx *lc = arg;
	struct queue_env e;
	uint64_t off, len;
	const char *err;
	char age[32], size[32], next[32], att[16];
	size_t i;
	int fd = -1, r;

	r = queue_open(lc->q, id, &e, &fd, &off, &len, &err);
	if (r != 1) {
		if (r == -1) {
			cli_table_row(lc->t, id, "?", "?", "?", "?", "damaged",
			    "", "", err);
			lc->damaged++;
		}
		return;
	}
	(void)close(fd);
	lc->n++;
	fmt_age(age, sizeof(age), e.arrival);
	(void)str_fmt(size, sizeof(size), "%llu",
	    (unsigned long long)(len + e.lines));
	for (i = 0; i < e.nrcpts; i++) {
		const struct queue_rcpt *rc = &e.rcpts[i];

		next[0] = '\0';
		if (rc->state == QR_DEFERRED)
			cli_fmt_time(next, sizeof(next), rc->next_try);
		(void)str_fmt(att, sizeof(att), "%u", rc->attempts);
		cli_table_row(lc->t, e.id, age, size, e.sender[0] != '\0' ?
		    e.sender : "<>", rc->address, state_names[rc->state], att,
		    next, rc->last_error);
	}
	queue_env_free(&e);
}

static int
cmd_list(struct cli *c)
{
	struct cli_table t;
	struct list_ctx lc;
	int r;

	if ((r = cli_load_config(c)) != 0 || (r = cli_drop_root(c)) != 0)
		return r;
	memset(&lc, 0, sizeof(lc));
	if ((lc.q = open_queue(c)) == NULL)
		return EXIT_SYSTEM;
	cli_table_init(&t, cols, nitems(cols), NULL);
	lc.c = c;
	lc.t = &t;
	if (queue_scan(lc.q, list_one, &lc) == -1) {
		cli_err(c, "cannot read the queue: %s", strerror(errno));
		cli_table_free(&t);
		queue_free(&lc.q);
		return EXIT_SYSTEM;
	}
	queue_free(&lc.q);
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

/* The header section of the queued message, as it will be sent. */
static void
print_headers(int fd, uint64_t off, uint64_t len)
{
	struct buf b;
	char chunk[4096];
	uint64_t pos = 0;
	const char *end;

	buf_init(&b, 1024 * 1024);
	while (pos < len) {
		ssize_t n = pread(fd, chunk, sizeof(chunk), (off_t)(off + pos));

		if (n <= 0 || buf_append(&b, chunk, (size_t)n) == -1)
			break;
		pos += (uint64_t)n;
		if ((end = strstr(buf_cstr(&b), "\n\n")) != NULL) {
			buf_truncate(&b, (size_t)(end - b.data) + 1);
			break;
		}
	}
	fwrite(buf_cstr(&b), 1, b.len, stdout);
	buf_free(&b);
}

static int
cmd_show(struct cli *c)
{
	struct cli_table t;
	struct list_ctx lc;
	struct queue_env e;
	uint64_t off, len;
	const char *err;
	int fd = -1, r;

	if (!good_id(c, c->pos[0]))
		return EXIT_USER;
	if ((r = cli_load_config(c)) != 0 || (r = cli_drop_root(c)) != 0)
		return r;
	memset(&lc, 0, sizeof(lc));
	if ((lc.q = open_queue(c)) == NULL)
		return EXIT_SYSTEM;
	r = queue_open(lc.q, c->pos[0], &e, &fd, &off, &len, &err);
	if (r != 1) {
		if (r == 0)
			cli_err(c, "no message %s in the queue", c->pos[0]);
		else
			cli_err(c, "message %s: %s", c->pos[0], err);
		queue_free(&lc.q);
		return r == 0 ? EXIT_USER : EXIT_SYSTEM;
	}
	cli_table_init(&t, cols, nitems(cols), NULL);
	lc.t = &t;
	list_one(c->pos[0], &lc);
	queue_free(&lc.q);
	cli_table_print(&t, c->json);
	cli_table_free(&t);
	if (!c->json) {
		printf("\nclient: %s\nauthorized by: %s\n\n", e.client, e.auth);
		print_headers(fd, off, len);
	}
	(void)close(fd);
	queue_env_free(&e);
	return 0;
}

static int
cmd_flush(struct cli *c)
{
	char req[64], ans[128];
	int r;

	if (c->npos > 0 && !good_id(c, c->pos[0]))
		return EXIT_USER;
	if ((r = cli_load_config(c)) != 0 || (r = cli_drop_root(c)) != 0)
		return r;
	(void)str_fmt(req, sizeof(req), "flush%s%s", c->npos > 0 ? " " : "",
	    c->npos > 0 ? c->pos[0] : "");
	if (control_call(c->data_fd, req, ans, sizeof(ans)) == -1) {
		cli_err(c, "the daemon is not running: the queue is tried as "
		    "soon as it starts");
		return EXIT_SYSTEM;
	}
	if (strncmp(ans, "ok ", 3) != 0) {
		cli_err(c, "the daemon says: %s", ans);
		return EXIT_SYSTEM;
	}
	if (c->npos > 0 && strcmp(ans, "ok 0") == 0) {
		cli_err(c, "no message %s in the queue", c->pos[0]);
		return EXIT_USER;
	}
	printf("%s message(s) to be tried now\n", ans + 3);
	return 0;
}

static int
cmd_delete(struct cli *c)
{
	struct queue *q;
	char req[64], ans[128];
	int r;

	if (!good_id(c, c->pos[0]))
		return EXIT_USER;
	if ((r = cli_load_config(c)) != 0 || (r = cli_drop_root(c)) != 0)
		return r;
	(void)str_fmt(req, sizeof(req), "delete %s", c->pos[0]);
	if (control_call(c->data_fd, req, ans, sizeof(ans)) == 0) {
		if (strcmp(ans, "ok 1") != 0) {
			cli_err(c, "no message %s in the queue", c->pos[0]);
			return EXIT_USER;
		}
		printf("message %s deleted\n", c->pos[0]);
		return 0;
	}
	/* No daemon: nobody else touches the queue. */
	if ((q = open_queue(c)) == NULL)
		return EXIT_SYSTEM;
	if ((r = queue_exists(q, c->pos[0])) != 1) {
		if (r == 0)
			cli_err(c, "no message %s in the queue", c->pos[0]);
		else
			cli_err(c, "cannot read the queue: %s",
			    strerror(errno));
		queue_free(&q);
		return r == 0 ? EXIT_USER : EXIT_SYSTEM;
	}
	if (queue_remove(q, c->pos[0]) == -1) {
		cli_err(c, "cannot delete %s: %s", c->pos[0], strerror(errno));
		queue_free(&q);
		return EXIT_SYSTEM;
	}
	queue_free(&q);
	printf("message %s deleted\n", c->pos[0]);
	return 0;
}

static const struct cli_cmd cmds[] = {
	{ "list", cmd_list, OPT_JSON | OPT_NOSTORE, 0, 0, "",
	    "queued messages, one line per recipient with its state" },
	{ "show", cmd_show, OPT_JSON | OPT_NOSTORE, 1, 1, "ID",
	    "one message: recipients, who let it through, its headers" },
	{ "flush", cmd_flush, OPT_NOSTORE, 0, 1, "[ID]",
	    "try now (every message, or one)" },
	{ "delete", cmd_delete, OPT_NOSTORE, 1, 1, "ID",
	    "remove a message from the queue, without a bounce" },
};

int
cli_queue(int argc, char **argv)
{
	return cli_dispatch("queue", cmds, nitems(cmds), argc, argv);
}
