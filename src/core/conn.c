/*
 * conn.c - accepting, counting, TLS-wrapping and closing connections.
 *
 * When the process runs out of file descriptors, accept(2) fails with
 * EMFILE and the pending client would spin the loop: we keep one spare
 * descriptor, give it up to accept that client, send it the refusal and
 * close it, then take the spare back (the classic libev/Postfix trick).
 *
 * That alone would let new clients take the last descriptors the sessions
 * already open need (a Maildir file, a queue file, a message to RETR).
 * So a client is refused while its descriptor falls within a reserve below
 * the limit: descriptors are handed out lowest first, so the number of the
 * new one tells how many are in use.
 *
 * Under a flood every refused client would be a warning line (1 000 in
 * 30 ms): the refusals are logged at most once a second, and the lines left
 * out are counted in one "conn refused suppressed=N" line a second later.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <openssl/err.h>

#include "core/conn.h"
#include "core/metrics.h"
#include "core/tls.h"
#include "util/clock.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

struct conn_hub {
	struct event_base	*base;
	SSL_CTX			*ssl_ctx;
	uint64_t		 max_total, max_per_ip;
	uint64_t		 count;
	struct hmap		*per_ip;	/* peer_str -> count */
	int			 spare_fd;
	uint64_t		 fd_refuse;	/* refuse a client fd >= this */
	struct event		*refused_ev;	/* ends the quiet second */
	bool			 refused_quiet;	/* a refusal logged < 1 s ago */
	unsigned long		 refused_suppressed;	/* not logged since */
	char			 err[256];
};

/* The quiet period of the "conn refused" warning. */
#define REFUSED_LOG_PERIOD_S	1

struct listener {
	struct conn_hub		*hub;
	struct listen_cfg	 lc[1];		/* a copy */
	struct evconnlistener	*lev;
	conn_accept_fn		*cb;
	void			*arg;
	const char		*refuse;
};

static void
spare_take(struct conn_hub *h)
{
	if (h->spare_fd == -1)
		h->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

uint64_t
conn_fd_ceiling(void)
{
	struct rlimit rl;
	uint64_t lim, reserve;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
		return UINT64_MAX;
	lim = (uint64_t)rl.rlim_cur;
	reserve = lim / 16;
	if (reserve < CONN_FD_RESERVE_MIN)
		reserve = CONN_FD_RESERVE_MIN;
	if (reserve > CONN_FD_RESERVE_MAX)
		reserve = CONN_FD_RESERVE_MAX;
	return lim > reserve ? lim - reserve : 0;
}

void
conn_hub_set_tls(struct conn_hub *h, SSL_CTX *def)
{
	if (SSL_CTX_up_ref(def) != 1)
		log_fatal("SSL_CTX_up_ref failed");
	if (h->ssl_ctx != NULL)
		SSL_CTX_free(h->ssl_ctx);
	h->ssl_ctx = def;
}

/* Sessions by the role of their listener (the values are the roles'
   names, set at registration). */
static struct metric m_sessions = {
	.name = "popgate_sessions_total",
	.help = "Connections accepted, by the role of their listener.",
	.type = METRIC_COUNTER,
	.labels = { { "listener", NULL } },
};

static struct metric m_open = {
	.name = "popgate_sessions_open",
	.help = "Connections open now, by the role of their listener.",
	.type = METRIC_GAUGE,
	.labels = { { "listener", NULL } },
};

static const char *const refusal_values[] = { "max_connections",
	"max_connections_per_ip", "descriptors", NULL };
enum { REFUSED_TOTAL, REFUSED_PER_IP, REFUSED_FDS };

static struct metric m_refused = {
	.name = "popgate_connections_refused_total",
	.help = "Connections refused at once over a cap, by cap.",
	.type = METRIC_COUNTER,
	.labels = { { "reason", refusal_values } },
};

static void
metrics_start(void)
{
	m_sessions.labels[0].values = config_role_names();
	m_open.labels[0].values = config_role_names();
	metrics_register(&m_sessions);
	metrics_register(&m_open);
	metrics_register(&m_refused);
}

/* C is open, on the listener of its role. */
static void
counted(const struct conn *c)
{
	metric_inc(&m_sessions, (size_t)c->lc->role);
	metric_inc(&m_open, (size_t)c->lc->role);
}

struct conn_hub *
conn_hub_new(struct event_base *base, SSL_CTX *ctx, uint64_t max_total,
    uint64_t max_per_ip)
{
	struct conn_hub *h = xcalloc(1, sizeof(*h));

	h->base = base;
	if (ctx != NULL)
		conn_hub_set_tls(h, ctx);
	h->max_total = max_total;
	h->max_per_ip = max_per_ip;
	h->per_ip = hmap_new();
	h->spare_fd = -1;
	h->fd_refuse = conn_fd_ceiling();
	spare_take(h);
	metrics_start();
	return h;
}

void
conn_hub_free(struct conn_hub **hp)
{
	struct conn_hub *h = *hp;

	if (h == NULL)
		return;
	*hp = NULL;
	if (h->refused_ev != NULL)
		event_free(h->refused_ev);
	hmap_free(&h->per_ip, NULL);
	if (h->spare_fd != -1)
		(void)close(h->spare_fd);
	if (h->ssl_ctx != NULL)
		SSL_CTX_free(h->ssl_ctx);
	free(h);
}

void
conn_hub_set_caps(struct conn_hub *h, uint64_t max_total,
    uint64_t max_per_ip)
{
	h->max_total = max_total;
	h->max_per_ip = max_per_ip;
}

struct event_base *
conn_hub_base(struct conn_hub *h)
{
	return h->base;
}

uint64_t
conn_hub_count(struct conn_hub *h)
{
	return h->count;
}

static uintptr_t
ip_count(struct conn_hub *h, const char *ip)
{
	return (uintptr_t)hmap_get(h->per_ip, ip);
}

static void
ip_adjust(struct conn_hub *h, const char *ip, int delta)
{
	uintptr_t n = ip_count(h, ip);

	if (delta < 0 && n <= 1)
		(void)hmap_del(h->per_ip, ip);
	else
		(void)hmap_put(h->per_ip, ip, (void *)(n + (uintptr_t)delta));
}

/* Best effort: the refusal goes out if the socket buffer takes it. */
static void
refuse(int fd, const char *text)
{
	(void)!send(fd, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)close(fd);
}

static void	refused_period_end(evutil_socket_t, short, void *);

static void
refused_period(struct conn_hub *h)
{
	struct timeval tv = { REFUSED_LOG_PERIOD_S, 0 };

	if (h->refused_ev == NULL)
		h->refused_ev = evtimer_new(h->base, refused_period_end, h);
	if (h->refused_ev == NULL || evtimer_add(h->refused_ev, &tv) == -1) {
		h->refused_quiet = false;	/* no timer: log them all */
		return;
	}
	h->refused_quiet = true;
}

/* The end of a quiet second: the count of the lines left out, and another
   quiet second if there were some (the flood goes on). */
static void
refused_period_end(evutil_socket_t fd, short what, void *arg)
{
	struct conn_hub *h = arg;
	unsigned long n = h->refused_suppressed;

	(void)fd;
	(void)what;
	h->refused_quiet = false;
	if (n == 0)
		return;
	h->refused_suppressed = 0;
	log_warn("conn refused suppressed=%lu period=%ds", n,
	    REFUSED_LOG_PERIOD_S);
	refused_period(h);
}

/* Whether a "conn refused" line is to be left out (and counted); if not,
   a quiet second starts. */
static bool
refused_log_skip(struct conn_hub *h)
{
	if (h->refused_quiet) {
		h->refused_suppressed++;
		return true;
	}
	refused_period(h);
	return false;
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	struct conn_hub *h = l->hub;
	struct conn *c;
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	int one = 1;

	(void)lev;
	(void)salen;
	c = xcalloc(1, sizeof(*c));
	if (net_addr_from_sockaddr(sa, &c->peer) == -1) {
		free(c);
		(void)close(fd);
		return;
	}
	c->peer_port = ntohs(sa->sa_family == AF_INET ?
	    ((struct sockaddr_in *)(void *)sa)->sin_port :
	    ((struct sockaddr_in6 *)(void *)sa)->sin6_port);
	net_addr_format(&c->peer, c->peer_str, sizeof(c->peer_str));
	if (h->count >= h->max_total ||
	    ip_count(h, c->peer_str) >= h->max_per_ip ||
	    (uint64_t)fd >= h->fd_refuse) {
		metric_inc(&m_refused, h->count >= h->max_total ?
		    REFUSED_TOTAL : ip_count(h, c->peer_str) >= h->max_per_ip ?
		    REFUSED_PER_IP : REFUSED_FDS);
		if (!refused_log_skip(h))
			log_warn("conn refused client=%s listener=%s reason=%s",
			    c->peer_str, config_role_name(l->lc->role),
			    h->count >= h->max_total ? "max_connections" :
			    ip_count(h, c->peer_str) >= h->max_per_ip ?
			    "max_connections_per_ip" : "descriptors");
		free(c);
		refuse(fd, l->refuse);
		return;
	}
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == -1 ||
	    net_addr_from_sockaddr((struct sockaddr *)&local, &c->local) ==
	    -1)
		memset(&c->local, 0, sizeof(c->local));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->hub = h;
	c->lc_own = *l->lc;
	c->lc = &c->lc_own;
	c->start_ms = clock_mono_ms();
	ids_new(c->id);
	if (l->lc->role == ROLE_SUBMISSIONS || l->lc->role == ROLE_POP3S ||
	    l->lc->role == ROLE_IMAPS) {
		c->ssl = SSL_new(h->ssl_ctx);
		c->bev = c->ssl == NULL ? NULL :
		    bufferevent_openssl_socket_new(h->base, fd, c->ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	} else {
		c->bev = bufferevent_socket_new(h->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	}
	if (c->bev == NULL) {
		log_error("conn client=%s: cannot set up the connection",
		    c->peer_str);
		if (c->ssl != NULL)
			SSL_free(c->ssl);
		free(c);
		(void)close(fd);
		return;
	}
	h->count++;
	ip_adjust(h, c->peer_str, 1);
	counted(c);
	l->cb(c, l->arg);
}

SSL_CTX *
conn_hub_tls(struct conn_hub *h)
{
	return h->ssl_ctx;
}

bool
conn_hub_acquire(struct conn_hub *h, const char *peer, enum listen_role role)
{
	if (h->count >= h->max_total || ip_count(h, peer) >= h->max_per_ip) {
		metric_inc(&m_refused, h->count >= h->max_total ?
		    REFUSED_TOTAL : REFUSED_PER_IP);
		if (!refused_log_skip(h))
			log_warn("conn refused client=%s listener=%s reason=%s",
			    peer, config_role_name(role),
			    h->count >= h->max_total ? "max_connections" :
			    "max_connections_per_ip");
		return false;
	}
	h->count++;
	ip_adjust(h, peer, 1);
	metric_inc(&m_sessions, (size_t)role);
	metric_inc(&m_open, (size_t)role);
	return true;
}

void
conn_hub_release(struct conn_hub *h, const char *peer, enum listen_role role)
{
	h->count--;
	ip_adjust(h, peer, -1);
	metric_dec(&m_open, (size_t)role);
}

/* accept(2) failed: on descriptor exhaustion, refuse one client with the
   spare descriptor so the loop does not spin on it. */
static void
on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct listener *l = arg;
	struct conn_hub *h = l->hub;
	int err = EVUTIL_SOCKET_ERROR(), fd;

	if (err != EMFILE && err != ENFILE) {
		log_warn("accept: %s", strerror(err));
		return;
	}
	if (h->spare_fd != -1) {
		(void)close(h->spare_fd);
		h->spare_fd = -1;
	}
	fd = accept4(evconnlistener_get_fd(lev), NULL, NULL, SOCK_CLOEXEC);
	if (fd != -1) {
		metric_inc(&m_refused, REFUSED_FDS);
		if (!refused_log_skip(h))
			log_warn("conn refused listener=%s "
			    "reason=out-of-descriptors",
			    config_role_name(l->lc->role));
		refuse(fd, l->refuse);
	}
	spare_take(h);
}

int
conn_listen_socket(const char *host, uint16_t port, char *err, size_t errsz)
{
	struct netaddr a;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, saved;

	if (net_addr_parse(host, &a) == -1) {
		(void)snprintf(err, errsz, "bad listen address %s", host);
		return -1;
	}
	sl = net_addr_to_sockaddr(&a, port, &ss);
	fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (a.family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
	    &one, sizeof(one)) == -1) ||
	    bind(fd, (struct sockaddr *)&ss, sl) == -1 ||
	    listen(fd, 1024) == -1) {
		saved = errno;
		(void)snprintf(err, errsz, "cannot listen on %s%s%s:%u: %s",
		    a.family == AF_INET6 ? "[" : "", host,
		    a.family == AF_INET6 ? "]" : "", (unsigned)port,
		    strerror(saved));
		if (fd != -1)
			(void)close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

struct listener *
listener_new(struct conn_hub *h, const struct listen_cfg *lc, int fd,
    conn_accept_fn *cb, void *arg, const char *refuse_text)
{
	struct listener *l = xcalloc(1, sizeof(*l));

	l->hub = h;
	l->lc[0] = *lc;
	l->cb = cb;
	l->arg = arg;
	l->refuse = refuse_text;
	l->lev = evconnlistener_new(h->base, on_accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 1024, fd);
	if (l->lev == NULL)
		log_fatal("cannot watch the listening socket %s:%u",
		    lc->host, (unsigned)lc->port);
	evconnlistener_set_error_cb(l->lev, on_accept_error);
	return l;
}

bool
listener_is(const struct listener *l, const struct listen_cfg *lc)
{
	return l->lc->port == lc->port && strcmp(l->lc->host, lc->host) == 0;
}

int
listener_dup_fd(const struct listener *l)
{
	return fcntl(evconnlistener_get_fd(l->lev), F_DUPFD_CLOEXEC, 0);
}

void
listener_update(struct listener *l, const struct listen_cfg *lc)
{
	l->lc[0] = *lc;
}

void
listener_free(struct listener **lp)
{
	struct listener *l = *lp;

	if (l == NULL)
		return;
	*lp = NULL;
	evconnlistener_free(l->lev);
	free(l);
}

struct conn *
conn_adopt(struct conn_hub *h, const struct listen_cfg *lc, evutil_socket_t fd,
    const struct netaddr *peer)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->hub = h;
	c->lc_own = *lc;
	c->lc = &c->lc_own;
	c->peer = *peer;
	c->local = *peer;
	net_addr_format(&c->peer, c->peer_str, sizeof(c->peer_str));
	c->start_ms = clock_mono_ms();
	ids_new(c->id);
	c->bev = bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		free(c);
		return NULL;
	}
	h->count++;
	ip_adjust(h, c->peer_str, 1);
	counted(c);
	return c;
}

void
conn_free(struct conn **cp)
{
	struct conn *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->bev != NULL) {
		if (c->ssl != NULL) {
			/* Send close_notify if we can; never wait for it. */
			SSL_set_shutdown(c->ssl, SSL_RECEIVED_SHUTDOWN);
			(void)SSL_shutdown(c->ssl);
		}
		bufferevent_free(c->bev);
	}
	c->hub->count--;
	ip_adjust(c->hub, c->peer_str, -1);
	metric_dec(&m_open, (size_t)c->lc->role);
	free(c);
}

int
conn_starttls(struct conn *c, const char **error_r)
{
	struct bufferevent *tls;
	struct evbuffer *in = bufferevent_get_input(c->bev);

	/* STARTTLS injection: whatever followed the command in the same
	   packet was sent in the clear and is thrown away unread. */
	(void)evbuffer_drain(in, evbuffer_get_length(in));
	c->ssl = SSL_new(c->hub->ssl_ctx);
	if (c->ssl == NULL) {
		*error_r = "cannot start TLS";
		return -1;
	}
	tls = bufferevent_openssl_filter_new(c->hub->base, c->bev, c->ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		*error_r = "cannot start TLS";
		return -1;
	}
	c->bev = tls;
	return 0;
}

void
conn_tls_done(struct conn *c)
{
	c->tls = true;
}

bool
conn_tls_error(struct conn *c, char *out, size_t outsz)
{
	unsigned long e, first = 0;
	const char *reason;
	BIO *rb = c->ssl != NULL ? SSL_get_rbio(c->ssl) : NULL;
	int serr = errno;
	bool sent = rb != NULL && BIO_number_read(rb) > 0;

	/* libevent queues SSL_get_error()'s code (no library) before the
	   errors of OpenSSL's queue: the first with a library is the
	   reason. */
	while ((e = bufferevent_get_openssl_error(c->bev)) != 0)
		if (first == 0 && ERR_GET_LIB(e) != 0)
			first = e;
	/* Without a byte read, OpenSSL can only say "unexpected eof". */
	if (sent && first != 0 &&
	    (reason = ERR_reason_error_string(first)) != NULL)
		(void)str_copy(out, reason, outsz);
	else if (sent && first != 0)
		ERR_error_string_n(first, out, outsz);
	else if (serr == ECONNRESET || serr == EPIPE)
		(void)str_copy(out, "connection reset", outsz);
	else
		(void)str_copy(out, "connection closed", outsz);
	return sent;
}

void
conn_tls_info(const struct conn *c, char *out, size_t outsz)
{
	if (c->ssl == NULL || !c->tls) {
		if (outsz > 0)
			out[0] = '\0';
		return;
	}
	tls_describe(c->ssl, out, outsz);
}

void
conn_flush_now(struct conn *c)
{
	struct bufferevent *bev = c->bev;
	struct bufferevent *under = bufferevent_get_underlying(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	unsigned char *p;
	size_t n;

	/* A socket bufferevent's output cannot be drained from outside its
	   callbacks (libevent freezes it): copy, do not evbuffer_write(). */
	if (under != NULL) {
		/* STARTTLS: the filter passed it on, encrypted, at once. */
		bev = under;
		out = bufferevent_get_output(under);
	} else if (c->ssl != NULL) {
		/* Implicit TLS: the SSL object writes to the socket. */
		n = evbuffer_get_length(out);
		p = evbuffer_pullup(out, -1);
		if (p != NULL && n > 0 && n <= INT_MAX)
			(void)SSL_write(c->ssl, p, (int)n);
		return;
	}
	n = evbuffer_get_length(out);
	p = evbuffer_pullup(out, -1);
	if (p != NULL && n > 0)
		(void)send(bufferevent_getfd(bev), p, n, MSG_DONTWAIT |
		    MSG_NOSIGNAL);
}

bool
conn_flushed(const struct conn *c)
{
	struct bufferevent *under = bufferevent_get_underlying(c->bev);

	return evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 &&
	    (under == NULL ||
	    evbuffer_get_length(bufferevent_get_output(under)) == 0);
}

void
conn_set_timeout(struct conn *c, uint64_t seconds)
{
	struct timeval tv = { (time_t)seconds, 0 };

	/* Both ways: a client that never reads its replies must time out
	   too, even while we stopped reading from it. */
	bufferevent_set_timeouts(c->bev, seconds != 0 ? &tv : NULL,
	    seconds != 0 ? &tv : NULL);
}
