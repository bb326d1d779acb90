/*
 * ops_queue.c - the durable queue for `popgate queue` and /api/v1/queue
 * (ops.h).
 *
 * Reading (list, show) reads the queue files: the daemon only ever
 * replaces them atomically, so reading beside it is safe. Changing
 * (flush, delete) is the daemon's alone while it runs, since its queue
 * manager holds the messages being delivered: the change is made on the
 * daemon's loop by ops_queue_apply(), which the control socket calls
 * for the CLI (cli_control.c) and the HTTP server for the API, and the
 * answer read by ops_queue_result() on either side, so the two say the
 * same. With no daemon running, a delete changes the files themselves.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/log.h"
#include "util/compat.h"

#define HEADERS_MAX	(1024 * 1024)

void
ops_queue_fmt_age(char *out, size_t outsz, time_t since, time_t now)
{
	long long sec = (long long)(now - since);

	if (sec < 0)
		sec = 0;
	if (sec < 120)
		(void)str_fmt(out, outsz, "%llds", sec);
	else if (sec < 7200)
		(void)str_fmt(out, outsz, "%lldm", sec / 60);
	else if (sec < 172800)
		(void)str_fmt(out, outsz, "%lldh", sec / 3600);
	else
		(void)str_fmt(out, outsz, "%lldd", sec / 86400);
}

static void
collect_id(const char *id, void *arg)
{
	strlist_add(arg, id);
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
ops_queue_list(struct queue *q, ops_queue_cb *fn, void *arg,
    struct ops_result *r)
{
	struct queue_env e;
	struct strlist ids;
	uint64_t off, len;
	const char *err;
	size_t i;
	int fd, rc;

	ops_res_init(r);
	strlist_init(&ids);
	if (queue_scan(q, collect_id, &ids) == -1) {
		ops_res_set(r, OPS_FAILED, NULL, "cannot read the queue: %s",
		    strerror(errno));
		strlist_free(&ids);
		return;
	}
	if (ids.n > 1)
		qsort(ids.v, ids.n, sizeof(*ids.v), cmp_id);
	for (i = 0; i < ids.n; i++) {
		fd = -1;
		rc = queue_open(q, ids.v[i], &e, &fd, &off, &len, &err);
		if (rc == -1)
			fn(ids.v[i], NULL, 0, err, arg);
		if (rc != 1)
			continue;	/* gone since the scan */
		(void)close(fd);
		fn(ids.v[i], &e, len + e.lines, NULL, arg);
		queue_env_free(&e);
	}
	strlist_free(&ids);
}

/* The header section of the message at OFF (LEN octets) in FD, LF line
   ends, into OUT (up to its blank line; the whole message when it has
   none, never a byte past it; what OUT holds when it is longer). 0, or
   -1 (errno). */
static int
read_headers(int fd, uint64_t off, uint64_t len, struct buf *out)
{
	char chunk[4096];
	uint64_t pos = 0;
	const char *end;
	size_t from;

	while (pos < len) {
		size_t want = len - pos < sizeof(chunk) ? (size_t)(len - pos) :
		    sizeof(chunk);
		ssize_t n = pread(fd, chunk, want, (off_t)(off + pos));

		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO;	/* the file is shorter than it says */
		if (n <= 0)
			return -1;
		if (buf_append(out, chunk, (size_t)n) == -1)
			break;		/* OUT is full: as much as it holds */
		pos += (uint64_t)n;
		/* The blank line may straddle the chunks. */
		from = out->len - (size_t)n > 0 ? out->len - (size_t)n - 1 : 0;
		end = memmem(out->data + from, out->len - from, "\n\n", 2);
		if (end != NULL) {
			buf_truncate(out, (size_t)(end - out->data) + 1);
			break;
		}
	}
	return 0;
}

void
ops_queue_show(struct queue *q, const char *id, struct queue_env *e,
    uint64_t *size, struct buf *headers, struct ops_result *r)
{
	uint64_t off, len;
	const char *err;
	int fd = -1, rc;

	ops_res_init(r);
	if (!queue_id_ok(id)) {
		ops_res_set(r, OPS_INVALID, "id", "bad queue id '%s' (%d "
		    "hexadecimal digits)", id, ID_LEN);
		return;
	}
	rc = queue_open(q, id, e, &fd, &off, &len, &err);
	if (rc != 1) {
		if (rc == 0)
			ops_res_set(r, OPS_NOT_FOUND, NULL, "no message %s in "
			    "the queue", id);
		else
			ops_res_set(r, OPS_FAILED, NULL, "message %s: %s", id,
			    err);
		return;
	}
	*size = len + e->lines;
	if (headers != NULL && read_headers(fd, off, len, headers) == -1) {
		ops_res_set(r, OPS_FAILED, NULL, "message %s: cannot read its "
		    "header: %s", id, strerror(errno));
		queue_env_free(e);
	}
	(void)close(fd);
}

void
ops_queue_apply(const struct ops_qmgr *qm, const struct ops_actor *a,
    enum ops_queue_verb verb, const char *id, struct ops_queue_answer *ans)
{
	memset(ans, 0, sizeof(*ans));
	ans->outcome = OPS_QUEUE_DONE;
	if (verb == OPS_QUEUE_DELETE) {
		ans->n = qm->remove(qm->arg, id) == 1 ? 1 : 0;
		log_info("ops queue-delete qid=%s deleted=%u by=%s", id,
		    ans->n, ops_who(a));
		return;
	}
	if (id != NULL && qm->is_held(qm->arg, id)) {
		ans->outcome = OPS_QUEUE_HELD;
		return;
	}
	ans->n = qm->flush(qm->arg, id);
	log_info("ops queue-flush qid=%s messages=%u by=%s", id != NULL ? id :
	    "all", ans->n, ops_who(a));
}

void
ops_queue_result(enum ops_queue_verb verb, const char *id,
    const struct ops_queue_answer *ans, struct ops_result *r)
{
	ops_res_init(r);
	switch (ans->outcome) {
	case OPS_QUEUE_DONE:
		if (id != NULL && ans->n == 0)
			ops_res_set(r, OPS_NOT_FOUND, NULL, "no message %s in "
			    "the queue", id);
		break;
	case OPS_QUEUE_HELD:
		ops_res_set(r, OPS_CONFLICT, NULL, "message %s is held: "
		    "`popgate queue release %s` tries it", id, id);
		break;
	case OPS_QUEUE_NO_DAEMON:
		ops_res_set(r, OPS_FAILED, NULL, verb == OPS_QUEUE_FLUSH ?
		    "the daemon is not running: the queue is tried as soon as "
		    "it starts" : "the daemon is not running");
		break;
	case OPS_QUEUE_NO_ANSWER:
		ops_res_set(r, OPS_FAILED, NULL, "the daemon did not answer "
		    "in time; it may still act on the request (see popgate "
		    "queue show %s)", id != NULL ? id : "ID");
		break;
	case OPS_QUEUE_ERROR:
	default:
		ops_res_set(r, OPS_FAILED, NULL, "the daemon says: %s",
		    ans->text);
		break;
	}
}

struct ops_hold_wait *
ops_queue_hold(const struct ops_qmgr *qm, const struct ops_actor *a,
    const char *id, const char *reason, ops_hold_fn *done, void *darg)
{
	char qr[LOG_QUOTE_SZ(QUEUE_HOLD_MAX)];

	log_info("ops queue-%s qid=%s%s%s by=%s", reason != NULL ? "hold" :
	    "release", id, reason != NULL ? " reason=" : "", reason != NULL ?
	    log_quote_text(qr, sizeof(qr), reason) : "", ops_who(a));
	return qm->hold(qm->arg, id, reason, done, darg);
}

void
ops_queue_hold_result(const char *id, const char *reason,
    const struct ops_hold_answer *ans, struct ops_result *r)
{
	ops_res_init(r);
	switch (ans->outcome) {
	case OPS_HOLD_DONE:
	case OPS_HOLD_PENDING:
		break;
	case OPS_HOLD_NONE:
		ops_res_set(r, OPS_NOT_FOUND, NULL, "no message %s in the "
		    "queue", id);
		break;
	case OPS_HOLD_ALREADY:
		if (reason != NULL)
			ops_res_set(r, OPS_CONFLICT, NULL, "message %s is %s",
			    id, ans->text);
		else
			ops_res_set(r, OPS_CONFLICT, NULL, "message %s is not "
			    "held", id);
		break;
	case OPS_HOLD_BUSY:
		ops_res_set(r, OPS_CONFLICT, NULL, "a hold or release of %s "
		    "is under way; try again", id);
		break;
	case OPS_HOLD_FAILED:
	default:
		ops_res_set(r, OPS_FAILED, NULL, "cannot %s %s: %s", reason !=
		    NULL ? "hold" : "release", id, ans->text);
		break;
	}
}

void
ops_queue_delete_files(struct queue *q, const struct ops_actor *a,
    const char *id, struct ops_result *r)
{
	int rc;

	ops_res_init(r);
	if ((rc = queue_exists(q, id)) != 1) {
		if (rc == 0)
			ops_res_set(r, OPS_NOT_FOUND, NULL, "no message %s in "
			    "the queue", id);
		else
			ops_res_set(r, OPS_FAILED, NULL, "cannot read the "
			    "queue: %s", strerror(errno));
		return;
	}
	if (queue_remove(q, id) == -1) {
		ops_res_set(r, OPS_FAILED, NULL, "cannot delete %s: %s", id,
		    strerror(errno));
		return;
	}
	log_info("ops queue-delete qid=%s deleted=1 daemon=no by=%s", id,
	    ops_who(a));
}
