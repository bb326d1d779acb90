/*
 * life.c - deferred resume, close-after-flush and deferred free.
 */
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "core/life.h"
#include "core/conn.h"
#include "util/log.h"
#include "util/compat.h"

#define LINGER_TICK_US	20000
#define LINGER_TICKS	250	/* five seconds */

static void
linger(struct life *l)
{
	static const struct timeval tick = { 0, LINGER_TICK_US };

	/* A TLS filter hands its output on without saying when the socket
	   beneath has sent it: look, now and then. */
	if (conn_flushed(l->conn) || ++l->lingers > LINGER_TICKS) {
		life_kill(l);
		return;
	}
	(void)event_add(l->ev, &tick);
}

static void
on_ev(evutil_socket_t fd, short what, void *arg)
{
	struct life *l = arg;

	(void)fd;
	(void)what;
	if (l->dying)
		l->destroy(l->arg);
	else if (l->closing)
		linger(l);
	else
		l->resume(l->arg);
}

void
life_init(struct life *l, struct event_base *base, struct conn *c,
    void (*resume)(void *), void (*destroy)(void *), void *arg)
{
	l->conn = c;
	l->ev = event_new(base, -1, 0, on_ev, l);
	if (l->ev == NULL)
		PANIC("cannot create a session event");
	l->dying = l->closing = false;
	l->lingers = 0;
	l->resume = resume;
	l->destroy = destroy;
	l->arg = arg;
}

void
life_fini(struct life *l)
{
	if (l->ev != NULL)
		event_free(l->ev);
	l->ev = NULL;
}

void
life_wake(struct life *l)
{
	if (!l->dying && !l->closing)
		event_active(l->ev, 0, 0);
}

void
life_kill(struct life *l)
{
	l->dying = true;
	bufferevent_disable(l->conn->bev, EV_READ | EV_WRITE);
	(void)event_del(l->ev);
	event_active(l->ev, 0, 0);
}

void
life_close(struct life *l)
{
	if (l->closing || l->dying)
		return;
	l->closing = true;
	bufferevent_disable(l->conn->bev, EV_READ);
	linger(l);
}

bool
life_written(struct life *l)
{
	if (l->dying)
		return true;
	if (l->closing) {
		if (conn_flushed(l->conn))
			life_kill(l);
		return true;
	}
	return false;
}
