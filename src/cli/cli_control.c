/*
 * cli_control.c - the daemon's control socket, so that `popgate queue
 * flush|delete` act on the running daemon.
 *
 * A Unix socket "control" in the data directory, mode 0600, owned by
 * the daemon's user (the CLI becomes that user too). One request line
 * per connection - "flush", "flush ID", "delete ID" - and one answer
 * line: "ok N" or "error TEXT". Both sides name the socket below the
 * data directory they hold open (its /proc/self/fd path: an address
 * must be a path), so its parents need no permission.
 */
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "cli/cli_control.h"
#include "queue/queue.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define CONTROL_PATH	"control"
#define CONTROL_LINE	128

struct control {
	struct evconnlistener	*lev;
	struct qmgr		*q;
	int			 data_fd;	/* borrowed */
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
answer(struct bufferevent *bev, long n)
{
	if (n < 0)
		(void)evbuffer_add_printf(bufferevent_get_output(bev),
		    "error unknown request\n");
	else
		(void)evbuffer_add_printf(bufferevent_get_output(bev),
		    "ok %ld\n", n);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	(void)arg;
	bufferevent_free(bev);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct control *ctl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;

	line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > CONTROL_LINE)
			bufferevent_free(bev);
		return;
	}
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, on_write, NULL, ctl);
	if (strcmp(line, "flush") == 0)
		answer(bev, qmgr_flush(ctl->q, NULL));
	else if (strncmp(line, "flush ", 6) == 0 && queue_id_ok(line + 6))
		answer(bev, qmgr_flush(ctl->q, line + 6));
	else if (strncmp(line, "delete ", 7) == 0 && queue_id_ok(line + 7))
		answer(bev, qmgr_delete(ctl->q, line + 7));
	else
		answer(bev, -1);
	log_info("control request=\"%.40s\"", line);
	free(line);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct bufferevent *bev;
	struct timeval tv = { 5, 0 };

	(void)sa;
	(void)salen;
	bev = bufferevent_socket_new(evconnlistener_get_base(lev), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		(void)close(fd);
		return;
	}
	bufferevent_setcb(bev, on_read, NULL, on_event, arg);
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
	return ctl;
}

void
control_free(struct control **cp)
{
	struct control *ctl = *cp;

	if (ctl == NULL)
		return;
	*cp = NULL;
	evconnlistener_free(ctl->lev);
	(void)unlinkat(ctl->data_fd, CONTROL_PATH, 0);
	free(ctl);
}

int
control_call(int data_fd, const char *request, char *answer_r,
    size_t answersz)
{
	struct sockaddr_un sun;
	struct timeval tv = { 10, 0 };
	size_t got = 0;
	int fd, r = -1;

	if (control_addr(data_fd, &sun) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		goto out;
	if (fs_write_all(fd, request, strlen(request)) == -1 ||
	    fs_write_all(fd, "\n", 1) == -1)
		goto out;
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
	r = got > 0 ? 0 : -1;
out:
	(void)close(fd);
	return r;
}
