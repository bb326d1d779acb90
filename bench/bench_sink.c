/*
 * bench_sink.c - a loopback SMTP sink that is never the bottleneck.
 *
 * It runs on its own thread and event loop, answers 250 to every command
 * (354 to DATA, 221 to QUIT), offers PIPELINING and answers a whole batch
 * of pipelined commands in one write, and counts the messages whose end
 * of data (RFC 5321 4.1.1.4: "." on a line of its own) it has read. With
 * a store directory it writes each message to a file and fsyncs it before
 * the 250, like a durable receiver; by default it keeps nothing.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "pgbench.h"

#define SINK_LINE_MAX	4096	/* longest command line we read */

struct pgb_sink {
	struct event_base	*base;
	struct evconnlistener	*lsn;
	struct event		*tick;
	pthread_t		 thread;
	const char		*store;
	atomic_bool		 stop;
	atomic_ulong		 count;
	_Atomic double		 last;	/* pgb_now() of the last message */
	unsigned long		 seq;
};

struct sink_conn {
	struct pgb_sink		*s;
	struct bufferevent	*bev;
	bool			 in_data;
	bool			 quit;
	bool			 lost;	/* a store write failed */
	int			 fd;	/* store file, -1 */
	char			 path[256];
};

static void
conn_free(struct sink_conn *c)
{
	if (c->fd != -1) {
		(void)close(c->fd);
		(void)unlink(c->path);
	}
	bufferevent_free(c->bev);
	free(c);
}

static int
store_open(struct sink_conn *c)
{
	if (c->s->store == NULL)
		return 0;
	if (pgb_fmt(c->path, sizeof(c->path), "%s/%lu", c->s->store,
	    ++c->s->seq) == -1)
		return -1;
	c->fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	return c->fd == -1 ? -1 : 0;
}

/* The message is complete: make it durable when storing. */
static int
store_close(struct sink_conn *c)
{
	int rc = 0;

	if (c->fd == -1)
		return 0;
	if (fsync(c->fd) == -1)
		rc = -1;
	if (close(c->fd) == -1)
		rc = -1;
	c->fd = -1;
	return rc;
}

static void
reply(struct sink_conn *c, const char *text)
{
	(void)evbuffer_add(bufferevent_get_output(c->bev), text,
	    strlen(text));
}

static void
command(struct sink_conn *c, const char *line)
{
	if (strncasecmp(line, "EHLO", 4) == 0) {
		reply(c, "250-sink.pgbench\r\n250-PIPELINING\r\n"
		    "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
	} else if (strncasecmp(line, "DATA", 4) == 0) {
		if (store_open(c) == -1) {
			reply(c, "451 4.3.0 sink cannot store\r\n");
			return;
		}
		c->in_data = true;
		reply(c, "354 go ahead\r\n");
	} else if (strncasecmp(line, "QUIT", 4) == 0) {
		c->quit = true;
		reply(c, "221 2.0.0 bye\r\n");
	} else {
		reply(c, "250 2.0.0 ok\r\n");
	}
}

/* One line of DATA at the front of IN, LEN octets with its CRLF. */
static void
data_line(struct sink_conn *c, struct evbuffer *in, size_t len)
{
	char head[3];
	size_t got = evbuffer_copyout(in, head, len < 3 ? len : 3);

	if (len == 3 && got == 3 && memcmp(head, ".\r\n", 3) == 0) {
		(void)evbuffer_drain(in, len);
		c->in_data = false;
		if (store_close(c) == -1 || c->lost) {
			c->lost = false;
			reply(c, "451 4.3.0 sink cannot store\r\n");
			return;
		}
		atomic_store(&c->s->last, pgb_now());
		atomic_fetch_add(&c->s->count, 1);
		reply(c, "250 2.0.0 queued\r\n");
		return;
	}
	if (c->fd != -1) {
		/* Writing drains what was written. */
		int n = evbuffer_write_atmost(in, c->fd, (ev_ssize_t)len);

		if (n == (int)len)
			return;
		(void)close(c->fd);
		(void)unlink(c->path);
		c->fd = -1;
		c->lost = true;
		len -= n > 0 ? (size_t)n : 0;
	}
	(void)evbuffer_drain(in, len);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct sink_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr p;
	size_t eol;
	char *line;

	while (!c->quit) {
		if (c->in_data) {
			p = evbuffer_search_eol(in, NULL, &eol,
			    EVBUFFER_EOL_CRLF_STRICT);
			if (p.pos == -1)
				break;
			data_line(c, in, (size_t)p.pos + eol);
			continue;
		}
		line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > SINK_LINE_MAX)
				goto drop;
			break;
		}
		command(c, line);
		free(line);
	}
	return;
drop:
	conn_free(c);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct sink_conn *c = arg;

	if (c->quit && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(arg);
}

static void
on_accept(struct evconnlistener *lsn, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct pgb_sink *s = arg;
	struct sink_conn *c = calloc(1, sizeof(*c));

	(void)lsn;
	(void)sa;
	(void)salen;
	if (c == NULL) {
		(void)close(fd);
		return;
	}
	c->s = s;
	c->fd = -1;
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		(void)close(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) == -1) {
		conn_free(c);
		return;
	}
	reply(c, "220 sink.pgbench ESMTP\r\n");
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct pgb_sink *s = arg;

	(void)fd;
	(void)what;
	if (atomic_load(&s->stop))
		(void)event_base_loopbreak(s->base);
}

static void *
sink_main(void *arg)
{
	struct pgb_sink *s = arg;

	(void)event_base_dispatch(s->base);
	return NULL;
}

static int
sink_listen(struct pgb_sink *s, int port)
{
	struct sockaddr_in sin;
	struct timeval tv = { 0, 20000 };

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lsn = evconnlistener_new_bind(s->base, on_accept, s,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
	    (struct sockaddr *)&sin, sizeof(sin));
	s->tick = event_new(s->base, -1, EV_PERSIST, on_tick, s);
	if (s->lsn == NULL || s->tick == NULL || event_add(s->tick, &tv) == -1)
		return -1;
	return 0;
}

struct pgb_sink *
pgb_sink_start(int port, const char *store)
{
	struct pgb_sink *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->store = store;
	atomic_init(&s->stop, false);
	atomic_init(&s->count, 0);
	atomic_init(&s->last, 0.0);
	s->base = event_base_new();
	if (s->base == NULL || sink_listen(s, port) == -1 ||
	    pthread_create(&s->thread, NULL, sink_main, s) != 0) {
		if (s->tick != NULL)
			event_free(s->tick);
		if (s->lsn != NULL)
			evconnlistener_free(s->lsn);
		if (s->base != NULL)
			event_base_free(s->base);
		free(s);
		return NULL;
	}
	return s;
}

unsigned long
pgb_sink_count(struct pgb_sink *s, double *last_r)
{
	if (last_r != NULL)
		*last_r = atomic_load(&s->last);
	return atomic_load(&s->count);
}

void
pgb_sink_stop(struct pgb_sink **sp)
{
	struct pgb_sink *s = *sp;

	if (s == NULL)
		return;
	atomic_store(&s->stop, true);
	(void)pthread_join(s->thread, NULL);
	/* Connections still open are not freed: the process ends next. */
	evconnlistener_free(s->lsn);
	event_free(s->tick);
	event_base_free(s->base);
	free(s);
	*sp = NULL;
}

/* Mode "sink": only the sink, until SIGINT/SIGTERM or --duration;
   prints the count every second. */
int
pgb_sink_run(const struct pgb_opts *o)
{
	struct pgb_sink *s = pgb_sink_start(o->sink_port, o->sink_store);
	double t0 = pgb_now(), last;
	unsigned long n = 0, prev = 0;

	if (s == NULL)
		pgb_fatal("sink on port %d: %s", o->sink_port, strerror(errno));
	while (o->duration == 0 || pgb_now() - t0 < o->duration) {
		(void)sleep(1);
		n = pgb_sink_count(s, &last);
		(void)fprintf(stderr, "sink: %lu messages (%lu/s)\n", n,
		    n - prev);
		prev = n;
	}
	pgb_sink_stop(&s);
	(void)printf("RESULT mode=sink messages=%lu\n", n);
	return 0;
}
