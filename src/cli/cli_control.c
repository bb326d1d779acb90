/*
 * cli_control.c - the daemon's control socket, so that `popgate queue
 * flush|delete|hold|release` act on the running daemon.
 *
 * A Unix socket "control" in the data directory, mode 0600, owned by
 * the daemon's user (the CLI becomes that user too). One request line
 * per connection and one answer line:
 *   flush, flush ID, delete ID       "ok N" (messages affected), or
 *                                    "error held: ..." (flush ID);
 *                                    made by ops_queue_apply(), as the
 *                                    API's in the daemon are
 *   hold ID [REASON], release ID     "ok WORD TEXT" or "error WORD TEXT",
 *                                    WORD one of done, pending, none,
 *                                    already, busy, failed (dlv.h)
 *   reload                           "ok" or "error", then each line of
 *                                    the report after a tab
 *   suspended NAME N                 "ok": `customer suspend` says so;
 *                                    fires customer.suspended (N: the
 *                                    authorizations it revoked)
 *   metrics                          "ok", then the scrape in the
 *                                    Prometheus text format up to the
 *                                    end of the connection
 * or "error TEXT". A hold or release is answered once it is on the disk
 * (an io job of the queue manager): the connection waits for it, and
 * control_free() drops the answers still due. Both sides name the
 * socket below the data directory they hold open (its /proc/self/fd
 * path: an address must be a path), so its parents need no permission.
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "cli/cli_control.h"
#include "hook/hook.h"
#include "core/metrics.h"
#include "queue/queue.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define CONTROL_PATH	"control"

/* Who asks over the socket, in the operations' log lines. */
static const struct ops_actor control_actor = { .who = "control" };
/* "hold ID REASON": the longest request. */
#define CONTROL_LINE	(5 + ID_LEN + 1 + QUEUE_HOLD_MAX + 1)

/* One connection, from its request to the end of its answer. */
struct ctl_call {
	LIST_ENTRY(ctl_call)	 link;
	struct control		*ctl;
	struct bufferevent	*bev;
	struct ops_hold_wait	*wait;	/* its hold's answer, while due */
};

/* A hold or release whose answer is due, for the socket or the API: it
   outlives a caller that goes (hold_cancel), and control_free() drops
   it with the answers still due. */
struct ops_hold_wait {
	LIST_ENTRY(ops_hold_wait) link;
	struct control		*ctl;
	ops_hold_fn		*done;	/* NULL: cancelled */
	void			*arg;
	bool			 in_call, answered;
};

struct control {
	struct evconnlistener	*lev;
	struct qmgr		*q;
	struct ops_qmgr		 qm;	/* Q's changes, for ops_queue_apply */
	int			 data_fd;	/* borrowed */
	LIST_HEAD(, ctl_call)	 calls;
	LIST_HEAD(, ops_hold_wait) waits;
	control_reload_fn	*reload;
	void			*reload_arg;
};

/* The socket's address below the directory DATA_FD. 0 or -1. */
static int
control_addr(int data_fd, struct sockaddr_un *sun)
{
	char dir[64];

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (fs_fd_path(data_fd, dir, sizeof(dir)) == -1 ||
	    str_fmt(sun->sun_path, sizeof(sun->sun_path), "%s/%s", dir,
	    CONTROL_PATH) == -1)
		return -1;
	return 0;
}

static void
call_free(struct ctl_call *c)
{
	if (c->wait != NULL)
		c->ctl->qm.hold_cancel(c->ctl, c->wait);
	LIST_REMOVE(c, link);
	bufferevent_free(c->bev);
	free(c);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	call_free(arg);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	call_free(arg);
}

/* The answer line of C; the connection ends once it is written. */
static void
call_answer(struct ctl_call *c, const char *fmt, ...) PRINTFLIKE(2, 3);

static void
call_answer(struct ctl_call *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	va_start(ap, fmt);
	(void)evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	(void)evbuffer_add(out, "\n", 1);
}

static void
answer_count(struct ctl_call *c, long n)
{
	if (n < 0)
		call_answer(c, "error unknown request");
	else
		call_answer(c, "ok %ld", n);
}

static const char *
hold_word(const struct ops_hold_answer *a)
{
	switch (a->outcome) {
	case OPS_HOLD_DONE:
		return "ok done";
	case OPS_HOLD_PENDING:
		return "ok pending";
	case OPS_HOLD_NONE:
		return "error none";
	case OPS_HOLD_ALREADY:
		return "error already";
	case OPS_HOLD_BUSY:
		return "error busy";
	case OPS_HOLD_FAILED:
	default:
		return "error failed";
	}
}

static void
hold_answered(void *arg, const struct ops_hold_answer *a)
{
	struct ctl_call *c = arg;

	c->wait = NULL;
	call_answer(c, "%s %s", hold_word(a), a->text);
}

/* "hold ID[ REASON]" or "release ID", ARGS after the verb: 0, or -1
   when it is not one. */
static int
hold_request(struct ctl_call *c, bool hold, const char *args)
{
	char id[ID_LEN + 1];
	const char *reason = NULL;

	if (str_ncopy(id, args, strcspn(args, " "), sizeof(id)) == -1 ||
	    !queue_id_ok(id))
		return -1;
	args += ID_LEN;
	if (hold)
		reason = *args == ' ' ? args + 1 : "";
	else if (*args != '\0')
		return -1;
	c->wait = ops_queue_hold(&c->ctl->qm, &control_actor, id, reason,
	    hold_answered, c);
	return 0;
}

/* The daemon reloads now (on the loop: it is brief) and says how. */
static void
reload_request(struct ctl_call *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct strlist report;
	size_t i;
	int r;

	if (c->ctl->reload == NULL) {
		call_answer(c, "error this daemon cannot reload");
		return;
	}
	strlist_init(&report);
	r = c->ctl->reload(c->ctl->reload_arg, &report);
	(void)evbuffer_add_printf(out, "%s", r == 0 ? "ok" : "error");
	for (i = 0; i < report.n; i++)
		(void)evbuffer_add_printf(out, "\t%s", report.v[i]);
	(void)evbuffer_add(out, "\n", 1);
	strlist_free(&report);
}

/* "NAME N" from `customer suspend`: the webhook event. */
static void
suspended(struct ctl_call *c, const char *args)
{
	char name[65];
	const char *sp = strchr(args, ' ');
	uint64_t n;

	if (sp == NULL || str_ncopy(name, args, (size_t)(sp - args),
	    sizeof(name)) == -1 || *name == '\0' ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") !=
	    strlen(name) || str_to_uint(sp + 1, 0, UINT32_MAX, &n) == -1) {
		call_answer(c, "error bad request");
		return;
	}
	HOOK_FIRE(HOOK_CUSTOMER_SUSPENDED, HOOK_STR("customer", name),
	    HOOK_NUM("revoked_authorizations", n));
	call_answer(c, "ok");
}

/* The scrape, rendered on the loop (it reads only memory and
   /proc/self); the answer is its own end. */
static void
metrics_request(struct ctl_call *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	(void)evbuffer_add(out, "ok\n", 3);
	if (metrics_render(out) == -1)
		log_warn("control metrics: out of memory");
}

/* ---- the queue manager's changes, for the socket and the API ---- */

static unsigned
qm_flush(void *arg, const char *id)
{
	return qmgr_flush(((struct control *)arg)->q, id);
}

static int
qm_remove(void *arg, const char *id)
{
	return qmgr_delete(((struct control *)arg)->q, id);
}

static bool
qm_is_held(void *arg, const char *id)
{
	return qmgr_is_held(((struct control *)arg)->q, id);
}

static void
wait_free(struct ops_hold_wait *w)
{
	LIST_REMOVE(w, link);
	free(w);
}

static void
wait_answered(void *arg, enum qmgr_hold_answer a, const char *text)
{
	struct ops_hold_wait *w = arg;
	struct ops_hold_answer ans;

	memset(&ans, 0, sizeof(ans));
	ans.outcome = a == QMGR_HOLD_DONE ? OPS_HOLD_DONE :
	    a == QMGR_HOLD_PENDING ? OPS_HOLD_PENDING :
	    a == QMGR_HOLD_NONE ? OPS_HOLD_NONE :
	    a == QMGR_HOLD_ALREADY ? OPS_HOLD_ALREADY :
	    a == QMGR_HOLD_BUSY ? OPS_HOLD_BUSY : OPS_HOLD_FAILED;
	(void)str_copy(ans.text, text, sizeof(ans.text));
	if (w->done != NULL)
		w->done(w->arg, &ans);
	if (w->in_call)
		w->answered = true;	/* qm_hold() frees it */
	else
		wait_free(w);
}

static struct ops_hold_wait *
qm_hold(void *arg, const char *id, const char *reason, ops_hold_fn *done,
    void *darg)
{
	struct control *ctl = arg;
	struct ops_hold_wait *w = xcalloc(1, sizeof(*w));

	w->ctl = ctl;
	w->done = done;
	w->arg = darg;
	w->in_call = true;
	LIST_INSERT_HEAD(&ctl->waits, w, link);
	qmgr_hold(ctl->q, id, reason, wait_answered, w);
	w->in_call = false;
	if (w->answered) {
		wait_free(w);
		return NULL;
	}
	return w;
}

static void
qm_hold_cancel(void *arg, struct ops_hold_wait *w)
{
	(void)arg;
	w->done = NULL;
}

const struct ops_qmgr *
control_qmgr(struct control *ctl)
{
	return &ctl->qm;
}

/* A flush or delete of the socket: made (ops_queue_apply, as for the
   API) and answered "ok N" or "error held: ...". */
static void
queue_request(struct ctl_call *c, enum ops_queue_verb verb, const char *id)
{
	struct ops_queue_answer ans;

	ops_queue_apply(&c->ctl->qm, &control_actor, verb, id, &ans);
	if (ans.outcome == OPS_QUEUE_HELD)
		call_answer(c, "error held: release it first");
	else
		answer_count(c, (long)ans.n);
}

static void
dispatch(struct ctl_call *c, const char *line)
{
	if (strcmp(line, "flush") == 0)
		queue_request(c, OPS_QUEUE_FLUSH, NULL);
	else if (strncmp(line, "flush ", 6) == 0 && queue_id_ok(line + 6))
		queue_request(c, OPS_QUEUE_FLUSH, line + 6);
	else if (strncmp(line, "delete ", 7) == 0 && queue_id_ok(line + 7))
		queue_request(c, OPS_QUEUE_DELETE, line + 7);
	else if (strncmp(line, "hold ", 5) == 0 &&
	    hold_request(c, true, line + 5) == 0)
		return;
	else if (strncmp(line, "release ", 8) == 0 &&
	    hold_request(c, false, line + 8) == 0)
		return;
	else if (strcmp(line, "reload") == 0)
		reload_request(c);
	else if (strncmp(line, "suspended ", 10) == 0)
		suspended(c, line + 10);
	else if (strcmp(line, "metrics") == 0)
		metrics_request(c);
	else
		answer_count(c, -1);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct ctl_call *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line, ql[LOG_QUOTE_SZ(CONTROL_LINE)];
	size_t n;

	if (evbuffer_get_length(in) > CONTROL_LINE + 1 &&
	    evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF).pos == -1) {
		call_free(c);
		return;
	}
	line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
	if (line == NULL)
		return;
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, on_write, on_event, c);
	log_info("control request=%s", log_quote_text(ql, sizeof(ql),
	    n > CONTROL_LINE ? "(too long)" : line));
	if (n > CONTROL_LINE)
		call_answer(c, "error request too long");
	else
		dispatch(c, line);
	free(line);
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct control *ctl = arg;
	struct bufferevent *bev;
	struct ctl_call *c;
	struct timeval tv = { 5, 0 };

	(void)sa;
	(void)salen;
	bev = bufferevent_socket_new(evconnlistener_get_base(lev), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		(void)close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->ctl = ctl;
	c->bev = bev;
	LIST_INSERT_HEAD(&ctl->calls, c, link);
	bufferevent_setcb(bev, on_read, NULL, on_event, c);
	/* Reading times out; an answer being waited for does not. */
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

struct control *
control_new(struct event_base *base, struct qmgr *q, int data_fd,
    const char **error_r)
{
	struct control *ctl;
	struct sockaddr_un sun;
	mode_t old;

	if (control_addr(data_fd, &sun) == -1) {
		*error_r = "no data directory";
		return NULL;
	}
	ctl = xcalloc(1, sizeof(*ctl));
	ctl->data_fd = data_fd;
	LIST_INIT(&ctl->calls);
	LIST_INIT(&ctl->waits);
	/* Left by an earlier daemon. */
	(void)unlinkat(data_fd, CONTROL_PATH, 0);
	old = umask(077);
	ctl->lev = evconnlistener_new_bind(base, on_accept, ctl,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
	    (struct sockaddr *)&sun, sizeof(sun));
	(void)umask(old);
	if (ctl->lev == NULL) {
		*error_r = strerror(errno);
		free(ctl);
		return NULL;
	}
	ctl->q = q;
	ctl->qm.flush = qm_flush;
	ctl->qm.remove = qm_remove;
	ctl->qm.is_held = qm_is_held;
	ctl->qm.hold = qm_hold;
	ctl->qm.hold_cancel = qm_hold_cancel;
	ctl->qm.arg = ctl;
	return ctl;
}

void
control_set_reload(struct control *ctl, control_reload_fn *fn, void *arg)
{
	ctl->reload = fn;
	ctl->reload_arg = arg;
}

void
control_free(struct control **cp)
{
	struct control *ctl = *cp;
	struct ctl_call *c, *next;
	struct ops_hold_wait *w, *wnext;

	if (ctl == NULL)
		return;
	*cp = NULL;
	/* Nobody is left to hear the answers still due. */
	qmgr_hold_forget_answers(ctl->q);
	for (c = LIST_FIRST(&ctl->calls); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		c->wait = NULL;		/* freed below */
		call_free(c);
	}
	for (w = LIST_FIRST(&ctl->waits); w != NULL; w = wnext) {
		wnext = LIST_NEXT(w, link);
		free(w);
	}
	evconnlistener_free(ctl->lev);
	(void)unlinkat(ctl->data_fd, CONTROL_PATH, 0);
	free(ctl);
}

/* Connects to the daemon's socket below DATA_FD and sends REQUEST:
   the socket, -1 when no daemon listens, -2 when the request could not
   be sent. */
static int
call_open(int data_fd, const char *request)
{
	struct sockaddr_un sun;
	struct timeval tv = { CONTROL_WAIT, 0 };
	int fd;

	if (control_addr(data_fd, &sun) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		(void)close(fd);
		return -1;
	}
	/* Connected: a daemon is there, whatever follows. */
	if (fs_write_all(fd, request, strlen(request)) == -1 ||
	    fs_write_all(fd, "\n", 1) == -1) {
		(void)close(fd);
		return -2;
	}
	return fd;
}

int
control_call(int data_fd, const char *request, char *answer_r,
    size_t answersz)
{
	size_t got = 0;
	int fd, r = -2;

	if ((fd = call_open(data_fd, request)) < 0)
		return fd;
	while (got + 1 < answersz) {
		ssize_t n = read(fd, answer_r + got, answersz - got - 1);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(answer_r, '\n', got) != NULL)
			break;
	}
	answer_r[got] = '\0';
	answer_r[strcspn(answer_r, "\n")] = '\0';
	if (got > 0)
		r = 0;
	(void)close(fd);
	return r;
}

int
control_call_all(int data_fd, const char *request, struct buf *answer)
{
	char chunk[8192];
	int fd, r = -2;

	if ((fd = call_open(data_fd, request)) < 0)
		return fd;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0) {
			r = answer->len > 0 ? 0 : -2;
			break;
		}
		if (n < 0 || buf_append(answer, chunk, (size_t)n) == -1)
			break;
	}
	(void)close(fd);
	return r;
}
