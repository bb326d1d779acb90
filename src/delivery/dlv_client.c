/*
 * dlv_client.c - the SMTP client of outbound delivery (RFC 5321, with
 * RFC 2920 PIPELINING, RFC 3207 STARTTLS, RFC 1870 SIZE, RFC 6152
 * 8BITMIME, RFC 6531 SMTPUTF8).
 *
 * A connection finds its destination (a transport or relayhost route,
 * else the MX hosts in preference order, equal ones shuffled, else the
 * domain's own addresses; each address tried in turn with
 * connect_timeout), says EHLO (HELO if refused), starts TLS as the
 * destination's TLS policy says (dlv_client_tls.c and dlv_tlspol.c:
 * tls_policy, DANE, MTA-STS; opportunistic by default, the certificate
 * then checked but not required; logs say so), then delivers the items
 * queued for its destination one after another over the same
 * connection, and quits when none is left.
 * Results are per recipient: 2xx delivered, 4xx deferred, 5xx bounced.
 *
 * The remote server is not trusted (issue 13). Every error, whatever the
 * state, goes through dlv_conn_fail(): logged, the transaction in progress
 * deferred with a 4.x.x reason, the next address tried before a
 * transaction, and a connection that achieved nothing holds its
 * destination (dlv_sched.c: back-off, what waits there is deferred). A
 * reply is bounded in line length, line count and time; a reply nobody
 * asked for is a protocol error. Bytes after the 220 to STARTTLS are a
 * protocol error (the client side of CVE-2011-0411), and nothing read
 * in the clear is used after the handshake. When the policy demands TLS
 * (encrypt, verify, DANE, MTA-STS enforce) there is no clear text: no
 * STARTTLS, a refusal, a failed handshake or certificate are each a
 * 4.7.5 deferral naming the policy; an MX host an enforced MTA-STS
 * policy does not list is not used (4.7.0).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "delivery/dlv_conn.h"
#include "core/tls.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define REPLY_LINES_MAX	100
#define BODY_CHUNK	(64 * 1024)
#define OUT_HIGH	(256 * 1024)

static const char *const cstate_names[] = {
	"resolve", "connect", "greeting", "ehlo", "helo", "starttls", "tls",
	"transaction", "body", "dot", "rset", "idle", "quit", "closed",
};

#define IDLE_USEC	2000000	/* qmgr_deps.idle_usec by default */


static void ready(struct dlv_conn *);

static uint32_t
rnd32(void *arg)
{
	(void)arg;
	return arc4random();
}

/* ---- life ---- */

static void
close_now(evutil_socket_t fd, short what, void *arg)
{
	struct dlv_conn *c = arg;
	struct qmgr *q = c->q;
	struct dlv_dest *d = c->d;

	(void)fd;
	(void)what;
	LIST_REMOVE(c, entry);
	dns_cancel(&c->dnsreq);
	dlv_sts_cancel(&c->stswait);
	free(c->sts);
	free(c->tlsa);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	buf_free(&c->rline);
	buf_free(&c->reply);
	buf_free(&c->ehlo);
	event_free(c->ev_close);
	free(c);
	/* A connection is free: mail waiting for this destination, or for
	   any other held back by delivery_concurrency, may go now. */
	if (!q->stopping) {
		qmgr_kick(q);
		qmgr_kick_dests(q, d);
	}
}

static void
conn_close(struct dlv_conn *c)
{
	if (c->state == CS_CLOSED)
		return;
	c->state = CS_CLOSED;
	/* Counted out at once: a connection failing right after sees
	   whether it is the last one to this destination. */
	c->d->nconn--;
	c->q->nconn--;
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(c->ev_close, 0, 0);
}

/* The current transaction ends with FAILURE for every recipient that
   has no final reply yet. */
static void
item_end(struct dlv_conn *c, const char *failure)
{
	size_t i;

	size_t n;

	if (c->item == NULL)
		return;
	n = c->item->n;
	/* qmgr_item_done() frees the item. */
	qmgr_item_done(c->q, c->item, c->replies, failure, c->peer);
	for (i = 0; c->replies != NULL && i < n; i++)
		free(c->replies[i]);
	free(c->replies);
	free(c->mail_reply);
	c->replies = NULL;
	c->mail_reply = NULL;
	c->item = NULL;
}

static bool conn_advance(struct dlv_conn *);

/* The one failure path: every error of a connection, in any state,
   comes here with its RFC 3463 STATUS and a reason. The reason is
   logged; the transaction in progress is deferred with "451 STATUS
   reason"; before a transaction the next address or host is tried;
   otherwise the connection ends, and when it achieved nothing its
   destination is held (qmgr_dest_failed: back-off, a minimum interval
   before the next connection, what waits there deferred). */
void PRINTFLIKE(3, 4)
dlv_conn_fail(struct dlv_conn *c, const char *status, const char *fmt, ...)
{
	char rep[700];
	bool before = c->state <= CS_TLS;
	va_list ap;

	if (c->state == CS_CLOSED)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(c->lasterr, sizeof(c->lasterr), fmt, ap);
	va_end(ap);
	(void)str_fmt(rep, sizeof(rep), "451 %s %s", status, c->lasterr);
	log_info("delivery to=%s failed state=%s: %s", c->d->domain,
	    cstate_names[c->state], rep);
	if (c->item != NULL)
		item_end(c, rep);
	if (before && conn_advance(c))
		return;
	if (c->ntx == 0)
		qmgr_dest_failed(c->q, c->d, rep);
	conn_close(c);
}

void PRINTFLIKE(2, 3)
dlv_conn_send(struct dlv_conn *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	va_start(ap, fmt);
	(void)evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	(void)evbuffer_add(out, "\r\n", 2);
	/* Its reply has c->timeout from now (pipelined ones each from the
	   end of the one before: dlv_conn_on_read). */
	c->asked_ms = clock_mono_ms();
}

/* ---- connecting ---- */

void
dlv_conn_timeouts(struct dlv_conn *c, int seconds)
{
	struct timeval tv = { seconds, 0 };

	c->timeout = seconds;
	bufferevent_set_timeouts(c->bev, &tv, &tv);
}

void
dlv_conn_connect_addr(struct dlv_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char ip[NET_ADDRSTRLEN];
	struct timeval tv = { (time_t)c->q->d.cfg->connect_timeout, 0 };

	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
		c->ssl = NULL;
	}
	net_addr_format(&c->addrs[c->ai], ip, sizeof(ip));
	(void)str_fmt(c->peer, sizeof(c->peer), "%s[%s]:%u",
	    c->hosts[c->hi], ip, (unsigned)c->d->port);
	sl = net_addr_to_sockaddr(&c->addrs[c->ai], c->d->port, &ss);
	c->bev = bufferevent_socket_new(c->q->d.base, -1,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		dlv_conn_fail(c, ST_LOCAL, "out of sockets");
		return;
	}
	bufferevent_setcb(c->bev, dlv_conn_on_read, dlv_conn_on_write, dlv_conn_on_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	c->state = CS_CONNECT;
	c->timeout = (int)c->q->d.cfg->connect_timeout;
	buf_reset(&c->rline);
	buf_reset(&c->reply);
	buf_reset(&c->ehlo);
	c->rlines = 0;
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&ss,
	    (int)sl) == -1)
		dlv_conn_fail(c, ST_CONNECT, "connect to %s: %s", c->peer,
		    strerror(errno));
}

/* Before a transaction, the current address did not work: tries the
   next one, or the next host. False when there is none left. */
static bool
conn_advance(struct dlv_conn *c)
{
	if (c->ai + 1 < c->naddrs) {
		c->ai++;
		dlv_conn_connect_addr(c);
		return true;
	}
	if (c->hi + 1 < c->nhosts) {
		c->hi++;
		c->naddrs = c->ai = 0;
		dlv_conn_resolve_host(c);
		return true;
	}
	return false;
}

void
dlv_conn_on_addrs(int status, const struct netaddr *a, size_t n, void *arg)
{
	struct dlv_conn *c = arg;

	c->dnsreq = NULL;
	if (status != 1) {
		if (c->d->route == ROUTE_MX && c->nhosts == 1 &&
		    strcmp(c->hosts[0], c->d->domain) == 0 &&
		    (status == DNS_NXDOMAIN || status == 0)) {
			/* No MX and no address: the domain takes no mail. */
			qmgr_fail_dest(c->q, c->d, status == DNS_NXDOMAIN ?
			    "550 5.1.2 Host or domain name not found" :
			    "550 5.1.2 The domain has no mail server", true);
			conn_close(c);
			return;
		}
		c->naddrs = 0;
		c->ai = 0;
		dlv_conn_fail(c, status == -1 ? ST_DNS : ST_CONNECT, "%s: %s",
		    c->hosts[c->hi], status == DNS_NXDOMAIN ?
		    "host not found" : status == 0 ? "no address" :
		    "temporary DNS failure");
		return;
	}
	c->naddrs = n > nitems(c->addrs) ? nitems(c->addrs) : n;
	memcpy(c->addrs, a, c->naddrs * sizeof(*a));
	c->ai = 0;
	dlv_conn_connect_addr(c);
}
static void
on_mx(int status, const struct dns_mx *mx, size_t n, void *arg)
{
	struct dlv_conn *c = arg;
	const char *verdict;
	int r;

	c->dnsreq = NULL;
	r = dlv_plan_hosts(c->d->route == ROUTE_MX ? c->d->domain : c->d->host,
	    status, mx, n, rnd32, NULL, c->hosts, &c->nhosts, &verdict);
	if (r == -1) {
		dlv_conn_fail(c, ST_DNS, "%s", verdict);
		return;
	}
	if (r == 0) {
		qmgr_fail_dest(c->q, c->d, verdict, true);
		conn_close(c);
		return;
	}
	if (dlv_conn_mx_routed(c) && c->q->d.cfg->dane && status == 1 &&
	    config_tls_policy(c->q->d.cfg, c->d->domain) == NULL) {
		c->dnsreq = dns_secure(c->q->d.dns, c->d->domain, 15,
		    DLV_DNS_TIMEOUT_MS, dlv_conn_on_mx_secure, c);
		return;
	}
	dlv_conn_hosts_planned(c);
}

void
dlv_conn_start(struct qmgr *q, struct dlv_dest *d)
{
	struct dlv_conn *c = xcalloc(1, sizeof(*c));

	c->q = q;
	c->d = d;
	c->cfg_gen = q->cfg_gen;
	buf_init(&c->rline, DLV_REPLY_LINE_MAX);
	buf_init(&c->reply, DLV_REPLY_LINE_MAX);
	buf_init(&c->ehlo, 64 * 1024);
	c->ev_close = event_new(q->d.base, -1, 0, close_now, c);
	LIST_INSERT_HEAD(&q->conns, c, entry);
	d->nconn++;
	q->nconn++;
	c->state = CS_RESOLVE;
	if (d->route == ROUTE_HOST && !d->host_mx) {
		(void)str_copy(c->hosts[0], d->host, sizeof(c->hosts[0]));
		c->nhosts = 1;
		dlv_conn_resolve_host(c);
		return;
	}
	c->dnsreq = dns_mx(q->d.dns, d->route == ROUTE_MX ? d->domain :
	    d->host, DLV_DNS_TIMEOUT_MS, on_mx, c);
}

void
dlv_conn_free_all(struct qmgr *q)
{
	struct dlv_conn *c, *next;

	for (c = LIST_FIRST(&q->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		/* The message stays queued; the next start retries it. */
		if (c->item != NULL) {
			size_t i;

			for (i = 0; c->replies != NULL && i < c->item->n; i++)
				free(c->replies[i]);
			free(c->replies);
			c->replies = NULL;
			free(c->item->idx);
			free(c->item);
			c->item = NULL;
		}
		free(c->mail_reply);
		c->mail_reply = NULL;
		if (c->state != CS_CLOSED) {
			c->state = CS_CLOSED;
			c->d->nconn--;
			q->nconn--;
		}
		close_now(-1, 0, c);
	}
}

/* ---- the protocol ---- */

static void
expect_push(struct dlv_conn *c, enum expect e)
{
	c->expect[c->exp_tail++ % nitems(c->expect)] = e;
}

/* Octets on the wire for the message (CRLF line ends). */
static uint64_t
wire_size(const struct dlv_msg *m)
{
	return m->body_len + m->env.lines;
}

static void
send_rcpt(struct dlv_conn *c)
{
	const struct queue_rcpt *r =
	    &c->item->m->env.rcpts[c->item->idx[c->rcpt_sent]];
	char notify[DSN_NOTIFY_SZ] = "";

	/* RFC 3461: NOTIFY and ORCPT go on to a server that offers DSN
	   (it reports from there); else the queue manager reports the
	   success itself ("relayed"). */
	if (c->caps.dsn)
		dsn_notify_format(r->notify, notify, sizeof(notify));
	dlv_conn_send(c, "RCPT TO:<%s>%s%s%s%s", r->address, notify[0] != '\0' ?
	    " NOTIFY=" : "", notify, c->caps.dsn && r->orcpt[0] != '\0' ?
	    " ORCPT=" : "", c->caps.dsn ? r->orcpt : "");
	c->rcpt_sent++;
	expect_push(c, E_RCPT);
}

/* MAIL FROM, with parameters only for extensions the server offered. */
static void
send_mail(struct dlv_conn *c, struct dlv_item *it)
{
	const struct queue_env *e = &it->m->env;
	char size[40] = "", dsn[DSN_ENVID_MAX + 32] = "";

	if (c->caps.size_offered)
		(void)str_fmt(size, sizeof(size), " SIZE=%llu",
		    (unsigned long long)wire_size(it->m));
	if (c->caps.dsn)
		(void)str_fmt(dsn, sizeof(dsn), "%s%s%s%s", e->ret[0] != '\0' ?
		    " RET=" : "", e->ret, e->envid[0] != '\0' ? " ENVID=" : "",
		    e->envid);
	it->dsn_passed = c->caps.dsn;
	dlv_conn_send(c, "MAIL FROM:<%s>%s%s%s%s", queue_env_mail_from(e),
	    size,
	    e->body8bit && c->caps.eightbit ? " BODY=8BITMIME" : "",
	    e->smtputf8 ? " SMTPUTF8" : "", dsn);
	expect_push(c, E_MAIL);
}

/* Starts delivering ITEM. */
static void
transaction(struct dlv_conn *c, struct dlv_item *it)
{
	const struct queue_env *e = &it->m->env;
	char rep[200];
	size_t i;

	c->item = it;
	c->replies = xcalloc(it->n + 1, sizeof(*c->replies));
	c->rcpt_sent = c->rcpt_replied = c->naccepted = 0;
	c->mail_ok = false;
	c->exp_head = c->exp_tail = 0;
	if (c->caps.size_max > 0 && wire_size(it->m) > c->caps.size_max) {
		/* RFC 1870: never send what the peer said it refuses. */
		(void)str_fmt(rep, sizeof(rep), "552 5.3.4 Message size "
		    "exceeds the limit of %s (%llu octets)", c->peer,
		    (unsigned long long)c->caps.size_max);
		item_end(c, rep);
		ready(c);
		return;
	}
	if (e->smtputf8 && !c->caps.utf8) {
		item_end(c, "553 5.6.7 The destination does not support "
		    "SMTPUTF8, needed for this message");
		ready(c);
		return;
	}
	c->state = CS_TRANS;
	dlv_conn_timeouts(c, DLV_CMD_TIMEOUT);
	send_mail(c, it);
	if (!c->caps.pipelining)
		return;
	/* Items hold at most DLV_RCPTS_PER_TXN recipients (dlv_sched.c). */
	for (i = 0; i < it->n; i++)
		send_rcpt(c);
	dlv_conn_send(c, "DATA");
	expect_push(c, E_DATA);
}

/* Between transactions: the next item, or goodbye. */
static void
ready(struct dlv_conn *c)
{
	struct dlv_item *it;

	if (c->state == CS_CLOSED)
		return;
	it = qmgr_take(c->q, c->d);
	if (it == NULL) {
		unsigned us = c->q->d.idle_usec != 0 ? c->q->d.idle_usec :
		    IDLE_USEC;
		struct timeval tv = { (time_t)(us / 1000000),
		    (suseconds_t)(us % 1000000) };

		/* Mail often comes in bursts: wait a moment before QUIT. */
		c->state = CS_IDLE;
		c->timeout = (int)(us / 1000000) + 1;
		bufferevent_set_timeouts(c->bev, &tv, &tv);
		return;
	}
	transaction(c, it);
}

bool
dlv_conn_wake(struct qmgr *q, struct dlv_dest *d)
{
	struct dlv_conn *c;

	LIST_FOREACH(c, &q->conns, entry) {
		/* A connection from before a reload keeps its TLS policy:
		   it takes no new mail (and quits when idle). */
		if (c->d == d && c->state == CS_IDLE &&
		    c->cfg_gen == q->cfg_gen) {
			ready(c);
			return true;
		}
	}
	return false;
}

static void
stream_body(struct dlv_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct dlv_msg *m = c->item->m;
	char chunk[BODY_CHUNK];

	while (evbuffer_get_length(out) < OUT_HIGH &&
	    c->body_pos < m->body_len) {
		size_t n = m->body_len - c->body_pos > sizeof(chunk) ?
		    sizeof(chunk) : (size_t)(m->body_len - c->body_pos);
		ssize_t r = pread(m->fd, chunk, n,
		    (off_t)(m->body_off + c->body_pos));

		if (r <= 0) {
			const char *why = r == 0 ? "short file" :
			    strerror(errno);

			log_error("qid=%s cannot read the queue file: %s",
			    m->env.id, why);
			dlv_conn_fail(c, ST_LOCAL, "local error reading the queued "
			    "message: %s", why);
			return;
		}
		c->body_pos += (uint64_t)r;
		dlv_body_put(out, chunk, (size_t)r, &c->bol);
	}
	if (c->body_pos < m->body_len)
		return;		/* dlv_conn_on_write continues */
	if (!c->bol)
		(void)evbuffer_add(out, "\r\n", 2);
	(void)evbuffer_add(out, ".\r\n", 3);
	c->state = CS_DOT;
	dlv_conn_timeouts(c, DLV_DATA_TIMEOUT);
	c->asked_ms = clock_mono_ms();
}

static char *
reply_dup(struct dlv_conn *c)
{
	return xstrdup(buf_cstr(&c->reply));
}

/* A reply in the transaction. */
static void
trans_reply(struct dlv_conn *c, int code)
{
	enum expect e;

	if (c->exp_head == c->exp_tail) {
		dlv_conn_fail(c, ST_PROTOCOL, "protocol error from %s (a reply "
		    "to no command: %.100s)", c->peer, buf_cstr(&c->reply));
		return;
	}
	e = c->expect[c->exp_head++ % nitems(c->expect)];
	switch (e) {
	case E_MAIL:
		c->mail_ok = code / 100 == 2;
		if (!c->mail_ok)
			c->mail_reply = reply_dup(c);
		if (!c->caps.pipelining) {
			if (c->mail_ok)
				send_rcpt(c);
			else
				goto give_up;
		}
		return;
	case E_RCPT:
		if (!c->mail_ok) {
			c->replies[c->rcpt_replied] = xstrdup(c->mail_reply);
		} else if (code / 100 == 2) {
			c->naccepted++;
		} else {
			c->replies[c->rcpt_replied] = reply_dup(c);
		}
		c->rcpt_replied++;
		if (!c->caps.pipelining) {
			if (c->rcpt_sent < c->item->n)
				send_rcpt(c);
			else if (c->naccepted > 0) {
				dlv_conn_send(c, "DATA");
				expect_push(c, E_DATA);
			} else
				goto give_up;
		}
		return;
	case E_DATA:
		if (code == 354 && c->naccepted > 0 && c->mail_ok) {
			c->state = CS_BODY;
			c->body_pos = 0;
			c->bol = true;
			stream_body(c);
			return;
		}
		if (code == 354) {
			/* RFC 2920 3.1: nobody to send to, end it empty. */
			dlv_conn_send(c, ".");
			c->state = CS_DOT;
			c->naccepted = 0;
			return;
		}
		if (c->naccepted > 0) {
			size_t i;

			for (i = 0; i < c->item->n; i++)
				if (c->replies[i] == NULL)
					c->replies[i] = reply_dup(c);
		}
		goto give_up;
	}
	return;
give_up:
	/* Everyone without a reply gets MAIL's (or nobody is left). */
	c->ntx++;
	qmgr_dest_ok(c->d);
	item_end(c, c->mail_reply != NULL ? c->mail_reply :
	    "451 4.3.0 The transaction was aborted");
	c->state = CS_RSET;
	dlv_conn_send(c, "RSET");
}

/* EHLO or HELO accepted: STARTTLS first when it is offered and the
   policy is not none (and required when it demands TLS), else the
   mail. */
static void
greeted(struct dlv_conn *c)
{
	char pol[400];

	if (c->ssl == NULL && c->caps.starttls && c->q->d.tls != NULL &&
	    !c->tls_failed && c->req.level != TLS_LEVEL_NONE) {
		c->state = CS_STARTTLS;
		dlv_conn_send(c, "STARTTLS");
		return;
	}
	if (c->ssl == NULL && dlv_conn_tls_needed(c)) {
		dlv_conn_fail(c, ST_TLS, "%s offers no STARTTLS%s, and %s needs "
		    "TLS", c->peer, c->q->d.tls == NULL ?
		    " (or TLS is not available here)" : "",
		    dlv_conn_policy_name(c, pol, sizeof(pol)));
		return;
	}
	if (c->ssl == NULL && !c->tls_failed)
		dlv_conn_sts_note(c, "offers no STARTTLS");
	ready(c);
}

static void
ehlo_reply(struct dlv_conn *c, int code)
{
	if (code / 100 == 2) {
		dlv_ehlo_parse(buf_cstr(&c->ehlo), &c->caps);
		greeted(c);
		return;
	}
	if (c->state == CS_EHLO && code / 100 == 5) {
		c->state = CS_HELO;
		dlv_conn_send(c, "HELO %s", c->q->d.cfg->hostname);
		return;
	}
	dlv_conn_fail(c, ST_CONNECT, "host %s refused EHLO/HELO: %s", c->peer,
	    buf_cstr(&c->reply));
}

static void
helo_reply(struct dlv_conn *c, int code)
{
	if (code / 100 != 2) {
		ehlo_reply(c, code);
		return;
	}
	dlv_ehlo_parse(buf_cstr(&c->ehlo), &c->caps);		/* nothing offered */
	c->caps.pipelining = c->caps.starttls = false;
	greeted(c);
}

static void
dot_reply(struct dlv_conn *c)
{
	size_t i;

	c->ntx++;
	qmgr_dest_ok(c->d);
	if (c->naccepted > 0) {
		for (i = 0; i < c->item->n; i++)
			if (c->replies[i] == NULL)
				c->replies[i] = reply_dup(c);
		c->nmsgs++;
		item_end(c, buf_cstr(&c->reply));
		ready(c);
		return;
	}
	item_end(c, c->mail_reply != NULL ? c->mail_reply :
	    "451 4.3.0 The transaction was aborted");
	c->state = CS_RSET;
	dlv_conn_send(c, "RSET");
}

/* A complete reply: its code; the text is in c->reply. */
static void
handle_reply(struct dlv_conn *c, int code)
{
	switch (c->state) {
	case CS_GREETING:
		if (code / 100 != 2) {
			dlv_conn_fail(c, ST_CONNECT, "host %s refused to talk to "
			    "me: %s", c->peer, buf_cstr(&c->reply));
			return;
		}
		c->state = CS_EHLO;
		buf_reset(&c->ehlo);
		dlv_conn_send(c, "EHLO %s", c->q->d.cfg->hostname);
		return;
	case CS_EHLO:
		ehlo_reply(c, code);
		return;
	case CS_HELO:
		helo_reply(c, code);
		return;
	case CS_STARTTLS:
		if (code == 220) {
			dlv_conn_start_tls(c);
		} else if (dlv_conn_tls_needed(c)) {
			char pol[400];

			dlv_conn_fail(c, ST_TLS, "host %s refused STARTTLS, and %s "
			    "needs TLS: %s", c->peer, dlv_conn_policy_name(c, pol,
			    sizeof(pol)), buf_cstr(&c->reply));
		} else {
			dlv_conn_sts_note(c, "refused STARTTLS");
			ready(c);	/* opportunistic: go on in the clear */
		}
		return;
	case CS_TRANS:
		trans_reply(c, code);
		return;
	case CS_DOT:
		dot_reply(c);
		return;
	case CS_RSET:
		ready(c);
		return;
	case CS_QUIT:
		conn_close(c);
		return;
	default:
		/* Idle, sending the message, in the handshake: nothing was
		   asked. */
		dlv_conn_fail(c, ST_PROTOCOL, "protocol error from %s (a reply to "
		    "no command: %.100s)", c->peer, buf_cstr(&c->reply));
		return;
	}
}

/* Reads replies; a line "ddd text" ends a reply, "ddd-text" goes on.
   A reply is bounded: DLV_REPLY_LINE_MAX per line, REPLY_LINES_MAX lines,
   and c->timeout seconds in all (a server dripping bytes cannot hold a
   connection past it). */
void
dlv_conn_on_read(struct bufferevent *bev, void *arg)
{
	struct dlv_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const char *why = "bad reply line";

	/* A handshake, a new connection: this buffer is done with. */
	while (c->state != CS_CLOSED && bev == c->bev) {
		const char *l;
		int code, r;

		if (c->timeout > 0 && clock_mono_ms() - c->asked_ms >
		    (uint64_t)c->timeout * 1000) {
			why = "reply too slow";
			goto bad;
		}
		r = dlv_reply_line(in, &c->rline);
		if (r == 0)
			return;
		if (r == -1)
			goto bad;
		l = buf_cstr(&c->rline);
		if (++c->rlines > REPLY_LINES_MAX) {
			why = "reply too long";
			goto bad;
		}
		if (c->state == CS_EHLO &&
		    buf_printf(&c->ehlo, "%s\n", l) == -1) {
			why = "EHLO reply too long";
			goto bad;
		}
		if (c->rline.len > 3 && l[3] == '-')
			continue;
		code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		buf_reset(&c->reply);
		(void)buf_append(&c->reply, l, c->rline.len);
		c->rlines = 0;
		c->asked_ms = clock_mono_ms();
		/* The server speaks only when spoken to: bytes beyond the
		   replies awaited answer a command not sent yet (after
		   STARTTLS: CVE-2011-0411). */
		if (evbuffer_get_length(in) > 0 && !(c->state == CS_TRANS &&
		    c->exp_tail - c->exp_head > 1)) {
			why = c->state == CS_STARTTLS && code == 220 ?
			    "data after its 220 reply to STARTTLS" :
			    "data after a reply, before the next command";
			goto bad;
		}
		handle_reply(c, code);
	}
	return;
bad:
	dlv_conn_fail(c, ST_PROTOCOL, "protocol error from %s (%s)", c->peer, why);
}

void
dlv_conn_on_write(struct bufferevent *bev, void *arg)
{
	struct dlv_conn *c = arg;

	(void)bev;
	if (c->state == CS_BODY)
		stream_body(c);
}

void
dlv_conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct dlv_conn *c = arg;
	bool timeout = (what & BEV_EVENT_TIMEOUT) != 0;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == CS_TLS) {
			dlv_conn_tls_up(c);
			return;
		}
		c->state = CS_GREETING;
		dlv_conn_timeouts(c, DLV_CMD_TIMEOUT);
		c->asked_ms = clock_mono_ms();
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	switch (c->state) {
	case CS_CONNECT:
		dlv_conn_fail(c, ST_CONNECT, "connect to %s: %s", c->peer, timeout ?
		    "Connection timed out" : evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
		return;
	case CS_TLS:
		dlv_conn_tls_failed(c);
		return;
	case CS_IDLE:
		if (timeout) {
			/* Nothing more came: say goodbye properly. */
			c->state = CS_QUIT;
			dlv_conn_timeouts(c, 10);
			bufferevent_enable(c->bev, EV_READ | EV_WRITE);
			dlv_conn_send(c, "QUIT");
			return;
		}
		conn_close(c);
		return;
	case CS_QUIT:
	case CS_CLOSED:
		conn_close(c);
		return;
	default:
		dlv_conn_fail(c, ST_LOST, "%s with %s while %s", timeout ?
		    "timeout" : "lost connection", c->peer,
		    c->state == CS_GREETING ? "waiting for the greeting" :
		    c->state <= CS_STARTTLS ? "greeting" : c->state == CS_RSET ?
		    "resetting" : "sending the message");
		return;
	}
}
