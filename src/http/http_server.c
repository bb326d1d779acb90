/*
 * http_server.c - the HTTP listeners (http.h): libevent's evhttp on the
 * daemon's loop (RFC 9112 framing, header and body limits, timeouts are
 * its), TLS by bufferevent_openssl with the hub's context (SNI picks the
 * tls_host certificate as on every listener), the route table
 * (http_routes.c), bearer tokens, and the calls' trip to a worker and
 * back.
 *
 * Connections count against the same max_connections and
 * max_connections_per_ip as the mail listeners: evhttp accepts them
 * itself, so one is counted at its first request and released when it
 * closes (XXX: libevent 2.1 has no accept hook; a client that connects
 * and sends nothing holds a descriptor until HTTP_TIMEOUT without being
 * counted).
 *
 * A token is checked against the store on every call (a revoked one
 * fails at once); a failed check is answered auth_failure_delay after
 * the request and counts against the client address like a failed
 * login (the same throttle as POP3, IMAP and SMTP AUTH).
 */
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "core/conn.h"
#include "http/http_int.h"
#include "policy/policy.h"
#include "util/clock.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

struct hconn {
	struct http_server	*srv;
	char			 key[32];
	char			 peer[NET_ADDRSTRLEN];
	enum listen_role	 role;
	bool			 counted;
};

/* A listening socket, as evhttp holds it. */
struct hbound {
	struct listen_cfg		 lc;
	struct evhttp_bound_socket	*bs;
};

struct http_server {
	struct http_deps	 d;
	const struct config	*cfg;
	struct evhttp		*plain, *tls;
	struct hbound		*bound;
	size_t			 nbound;
	struct hmap		*conns;		/* "%p" of the evcon */
	struct http_call	*pending;	/* on a worker or waiting */
};

/* ---- replies ---- */

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 503: return "Service Unavailable";
	}
	return "Error";
}

/* Sends STATUS with BODY (JSON, may be NULL) and logs the request. */
static void
send_json(struct evhttp_request *req, int status, json_t *body,
    const char *who, const char *peer)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();
	char *text = NULL, qp[LOG_QUOTE_SZ(512)];
	const char *uri = evhttp_request_get_uri(req);

	if (body != NULL && status != 204 &&
	    (text = json_dumps(body, JSON_INDENT(2))) != NULL) {
		(void)evhttp_add_header(h, "Content-Type",
		    "application/json");
		if (out != NULL) {
			(void)evbuffer_add(out, text, strlen(text));
			(void)evbuffer_add(out, "\n", 1);
		}
	}
	free(text);
	(void)evhttp_add_header(h, "Cache-Control", "no-store");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD && out != NULL)
		(void)evbuffer_drain(out, evbuffer_get_length(out));
	evhttp_send_reply(req, status, reason(status), out);
	if (out != NULL)
		evbuffer_free(out);
	if (strlen(uri) > 500)
		uri = "(long)";
	log_info("http request client=%s uri=%s status=%d by=%s", peer,
	    log_quote(qp, sizeof(qp), uri), status, who);
}

static void
send_error(struct evhttp_request *req, int status, const char *field,
    const char *msg, const char *peer)
{
	json_t *b = json_pack("{s:s}", "error", msg);

	if (field != NULL && field[0] != '\0' && b != NULL)
		(void)json_object_set_new(b, "field", json_string(field));
	send_json(req, status, b, "-", peer);
	json_decref(b);
}

/* ---- calls ---- */

static void
call_unlink(struct http_call *c)
{
	struct http_server *srv = c->srv;

	if (srv == NULL)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->pending = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
}

static void
call_free(struct http_call *c)
{
	call_unlink(c);
	if (c->delay != NULL)
		event_free(c->delay);
	json_decref(c->body);
	json_decref(c->reply);
	free(c->query);
	free(c->raw);
	free(c);
}

static void
call_reply(struct http_call *c)
{
	struct evkeyvalq *h;

	if (c->req == NULL)
		return;
	h = evhttp_request_get_output_headers(c->req);
	if (c->etag[0] != '\0')
		(void)evhttp_add_header(h, "ETag", c->etag);
	if (c->location[0] != '\0')
		(void)evhttp_add_header(h, "Location", c->location);
	if (c->status == 401)
		(void)evhttp_add_header(h, "WWW-Authenticate",
		    "Bearer realm=\"popgate\"");
	send_json(c->req, c->status, c->reply, c->who, c->peer);
	c->req = NULL;
}

static void
on_delayed(evutil_socket_t fd, short what, void *arg)
{
	struct http_call *c = arg;

	(void)fd;
	(void)what;
	call_reply(c);
	call_free(c);
}

/* A token that did not check: answered auth_failure_delay after the
   request came, counted against the client. */
static void
fail_later(struct http_call *c)
{
	struct http_server *srv = c->srv;
	struct timeval tv;
	struct login l;

	log_warn("http token-failed client=%s uri=%s", c->peer, c->path);
	memset(&l, 0, sizeof(l));
	l.client = c->peer_addr;
	l.started_us = c->started_us;
	auth_failure_wait(srv->d.throttle, &l, srv->cfg->auth_failure_delay,
	    &tv);
	http_api_error(c, 401, NULL, "no valid token: give "
	    "'Authorization: Bearer SECRET' with a token of `popgate token "
	    "add`");
	(void)str_copy(c->who, "-", sizeof(c->who));
	c->delay = evtimer_new(srv->d.base, on_delayed, c);
	if (c->delay == NULL || evtimer_add(c->delay, &tv) == -1)
		on_delayed(-1, 0, c);
}

/* On the worker, after the token: the body parsed and checked. */
static bool
parse_body(struct http_call *c)
{
	struct http_error e;

	if (c->route->body == NULL)
		return true;
	if (!c->json_type) {
		http_api_error(c, 415, NULL, "the body must be "
		    "Content-Type: application/json");
		return false;
	}
	memset(&e, 0, sizeof(e));
	if (http_json_body(c->raw, c->raw_len, c->route->body, &c->body,
	    &e) != 0) {
		http_api_error(c, e.status, e.field[0] != '\0' ? e.field :
		    NULL, "%s", e.message);
		return false;
	}
	return true;
}

static void
call_work(void *ctx, void *arg)
{
	struct backends *b = ctx;
	struct http_call *c = arg;
	const char *err;
	int r;

	if (c->route->auth != HTTP_AUTH_NONE) {
		/* Through popgate-lookup, this also lets the request's
		   changes into the store (until policy_api_end()). */
		r = policy_api_begin(b, c->token_hash, &c->token, &err);
		if (r == -1) {
			log_warn("http token lookup: %s", err);
			http_api_error(c, 503, NULL, "the account store is "
			    "not available; try again");
			return;
		}
		if (r == 0 || (c->token.expires != 0 &&
		    c->token.expires <= (int64_t)clock_now())) {
			policy_api_end(b);
			c->auth_failed = true;
			return;
		}
		(void)str_fmt(c->who, sizeof(c->who), "token=%s",
		    c->token.name);
		c->actor.who = c->who;
		c->actor.customer = c->token.customer[0] != '\0' ?
		    c->token.customer : NULL;
		if (c->route->auth == HTTP_AUTH_ADMIN &&
		    c->actor.customer != NULL) {
			http_api_error(c, 403, NULL, "this needs an admin "
			    "token");
			policy_api_end(b);
			return;
		}
	}
	if (parse_body(c))
		c->route->api(b, c);
	if (c->route->auth != HTTP_AUTH_NONE)
		policy_api_end(b);
}

static void
call_done(void *arg)
{
	struct http_call *c = arg;

	c->job = NULL;
	if (c->auth_failed && c->req != NULL) {
		fail_later(c);
		return;
	}
	if (c->loop != NULL && c->srv != NULL) {
		c->loop(&c->srv->d, c);
		if (c->wait != NULL)
			return;		/* http_call_answered() */
	}
	call_reply(c);
	call_free(c);
}

void
http_call_answered(struct http_call *c)
{
	c->wait = NULL;
	call_reply(c);
	call_free(c);
}

static void
call_release(void *arg)
{
	call_free(arg);
}

static const struct worker_ops call_ops = {
	.work = call_work,
	.done = call_done,
	.release = call_release,
};

/* ---- requests ---- */

static void
on_close(struct evhttp_connection *evcon, void *arg)
{
	struct http_server *srv = arg;
	struct hconn *hc;
	char key[32];

	(void)str_fmt(key, sizeof(key), "%p", (void *)evcon);
	hc = hmap_del(srv->conns, key);
	if (hc == NULL)
		return;
	if (hc->counted)
		conn_hub_release(srv->d.hub, hc->peer, hc->role);
	free(hc);
}

/* The connection of REQ counted against the caps: false when over them
   (then REQ is answered). */
static bool
count_conn(struct http_server *srv, struct evhttp_request *req,
    const char *peer, bool tls)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char key[32];
	struct hconn *hc;

	(void)str_fmt(key, sizeof(key), "%p", (void *)evcon);
	hc = hmap_get(srv->conns, key);
	if (hc == NULL) {
		hc = xcalloc(1, sizeof(*hc));
		hc->srv = srv;
		(void)str_copy(hc->key, key, sizeof(hc->key));
		(void)str_copy(hc->peer, peer, sizeof(hc->peer));
		hc->role = tls ? ROLE_HTTPS : ROLE_HTTP;
		hc->counted = conn_hub_acquire(srv->d.hub, peer, hc->role);
		(void)hmap_put(srv->conns, key, hc);
		evhttp_connection_set_closecb(evcon, on_close, srv);
	}
	if (!hc->counted) {
		(void)evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		send_error(req, 503, NULL, "too many connections; try again "
		    "later", peer);
	}
	return hc->counted;
}

static const char *
method_name(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	default:
		return "OTHER";
	}
}

/* A page's headers: the evhttp reply's. */
struct http_page_headers {
	struct evkeyvalq	*out;
};

static bool
header_text_ok(const char *s, bool name)
{
	const unsigned char *p;

	if (s == NULL || (name && *s == '\0'))
		return false;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f ||
		    (name && (*p == ':' || *p == ' ' || *p == '\t')))
			return false;
	return true;
}

int
http_page_header(const struct http_page_req *req, const char *name,
    const char *value)
{
	static const char *const servers[] = { "Content-Type",
		"Content-Length", "Transfer-Encoding", "Connection" };
	size_t i;

	if (req->headers == NULL || !header_text_ok(name, true) ||
	    !header_text_ok(value, false))
		return -1;
	for (i = 0; i < nitems(servers); i++)
		if (strcasecmp(name, servers[i]) == 0)
			return -1;
	return evhttp_add_header(req->headers->out, name, value) == 0 ? 0 :
	    -1;
}

static void
serve_page(struct http_server *srv, struct evhttp_request *req,
    const struct http_route *rt, const char *path, const char *query,
    const struct netaddr *peer, const char *peer_str, bool tls)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evbuffer *out = evbuffer_new();
	struct http_page_req pr;
	struct http_page_headers ph;
	const char *ctype = "text/plain; charset=utf-8";
	struct buf body, page;
	int status;

	buf_init(&body, HTTP_MAX_BODY);
	buf_init(&page, BUF_UNLIMITED);
	if (evbuffer_get_length(in) > 0)
		(void)buf_append(&body, evbuffer_pullup(in, -1),
		    evbuffer_get_length(in));
	memset(&pr, 0, sizeof(pr));
	pr.method = method_name(req);
	pr.path = path;
	pr.query = query;
	pr.body = buf_cstr(&body);
	pr.body_len = body.len;
	pr.peer = peer;
	pr.tls = tls;
	ph.out = evhttp_request_get_output_headers(req);
	pr.headers = &ph;
	status = rt->page(srv->cfg, &pr, &page, &ctype);
	(void)evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", ctype);
	if (out != NULL && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		(void)evbuffer_add(out, page.data, page.len);
	evhttp_send_reply(req, status, reason(status), out);
	if (out != NULL)
		evbuffer_free(out);
	log_info("http request client=%s path=%s status=%d", peer_str,
	    rt->pattern, status);
	buf_free(&page);
	buf_free(&body);
}

/* The bearer token of REQ hashed into C: true, or false (none given). */
static bool
bearer(struct evhttp_request *req, struct http_call *c)
{
	const char *v = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Authorization");
	size_t n;

	if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
		return false;
	v += 7;
	while (*v == ' ')
		v++;
	n = strlen(v);
	while (n > 0 && v[n - 1] == ' ')
		n--;
	if (n == 0 || n > 256)
		return false;
	ops_token_hash(v, n, c->token_hash);
	return true;
}

/* C's body, for a route that takes one, kept for the worker: it is
   checked once the token is (no detail for a caller without one). */
static void
take_body(struct evhttp_request *req, struct http_call *c)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *ct = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Content-Type");

	if (c->route->body == NULL)
		return;
	c->json_type = ct != NULL &&
	    strncasecmp(ct, "application/json", 16) == 0 &&
	    (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
	c->raw_len = evbuffer_get_length(in);
	c->raw = xmalloc(c->raw_len + 1);
	if (c->raw_len > 0)
		(void)evbuffer_copyout(in, c->raw, c->raw_len);
	c->raw[c->raw_len] = '\0';
}

/* A JSON API call: to a worker (after the token's throttle). */
static void
serve_api(struct http_server *srv, struct evhttp_request *req,
    struct http_call *c)
{
	const char *im = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "If-Match");

	if (im != NULL)
		(void)str_copy(c->if_match, im, sizeof(c->if_match));
	take_body(req, c);
	c->srv = srv;
	c->req = req;
	c->next = srv->pending;
	if (c->next != NULL)
		c->next->prev = c;
	srv->pending = c;
	if (c->route->auth != HTTP_AUTH_NONE) {
		if (!bearer(req, c)) {
			http_api_error(c, 401, NULL, "this needs "
			    "'Authorization: Bearer SECRET' (a token of "
			    "`popgate token add`)");
			call_reply(c);
			call_free(c);
			return;
		}
		if (auth_throttle_blocked(srv->d.throttle, &c->peer_addr,
		    clock_now())) {
			log_warn("http token-throttled client=%s", c->peer);
			fail_later(c);
			return;
		}
	}
	c->job = worker_submit(srv->d.io, &call_ops, c);
}

static void
on_request(struct http_server *srv, struct evhttp_request *req, bool tls)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const char *uri = evhttp_request_get_uri(req), *q;
	struct http_match m;
	struct http_call *c;
	char *host = NULL, allow[64];
	ev_uint16_t port = 0;
	struct netaddr peer;
	char peer_str[NET_ADDRSTRLEN];
	char path[512];
	size_t plen;
	int r;

	evhttp_connection_get_peer(evcon, &host, &port);
	if (host == NULL || net_addr_parse(host, &peer) == -1)
		memset(&peer, 0, sizeof(peer));
	net_addr_format(&peer, peer_str, sizeof(peer_str));
	if (!count_conn(srv, req, peer_str, tls))
		return;
	if (uri == NULL || uri[0] != '/') {
		send_error(req, 400, NULL, "the request target must be a "
		    "path", peer_str);
		return;
	}
	q = strchr(uri, '?');
	plen = q != NULL ? (size_t)(q - uri) : strlen(uri);
	r = http_route_match(http_routes, http_nroutes,
	    http_method_bit(method_name(req)), uri, plen, &m);
	if (r == 405) {
		http_allow_text(m.allow, allow, sizeof(allow));
		(void)evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", allow);
		send_error(req, 405, NULL, "method not allowed here", peer_str);
		return;
	}
	if (r != 200) {
		send_error(req, r, NULL, r == 404 ? "no such resource" :
		    "bad path", peer_str);
		return;
	}
	if (m.route->page != NULL) {
		(void)str_fmt(path, sizeof(path), "%.*s", (int)plen, uri);
		serve_page(srv, req, m.route, path, q != NULL ? q + 1 : NULL,
		    &peer, peer_str, tls);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->route = m.route;
	c->match = m;
	c->query = q != NULL ? xstrdup(q + 1) : NULL;
	c->started_us = clock_mono_us();
	c->peer_addr = peer;
	(void)str_copy(c->peer, peer_str, sizeof(c->peer));
	(void)str_copy(c->method, method_name(req), sizeof(c->method));
	(void)str_copy(c->path, m.route->pattern, sizeof(c->path));
	(void)str_copy(c->who, "-", sizeof(c->who));
	serve_api(srv, req, c);
}

static void
on_request_plain(struct evhttp_request *req, void *arg)
{
	on_request(arg, req, false);
}

static void
on_request_tls(struct evhttp_request *req, void *arg)
{
	on_request(arg, req, true);
}

/* ---- the server ---- */

/* evhttp's bufferevent for an https connection: TLS over the socket it
   sets later, with the hub's context as it is now (a reload's new
   certificates serve the next connection). */
static struct bufferevent *
tls_bev(struct event_base *base, void *arg)
{
	struct http_server *srv = arg;
	SSL_CTX *ctx = conn_hub_tls(srv->d.hub);
	struct bufferevent *bev;
	SSL *ssl;

	if (ctx == NULL || (ssl = SSL_new(ctx)) == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static struct evhttp *
front_new(struct http_server *srv, bool tls)
{
	struct evhttp *h = evhttp_new(srv->d.base);

	if (h == NULL)
		return NULL;
	evhttp_set_max_headers_size(h, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(h, HTTP_MAX_BODY);
	evhttp_set_timeout(h, HTTP_TIMEOUT);
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_HEAD);
	evhttp_set_gencb(h, tls ? on_request_tls : on_request_plain, srv);
	if (tls)
		evhttp_set_bevcb(h, tls_bev, srv);
	return h;
}

struct http_server *
http_server_new(const struct http_deps *d)
{
	struct http_server *srv = xcalloc(1, sizeof(*srv));

	srv->d = *d;
	srv->cfg = d->cfg;
	srv->conns = hmap_new();
	return srv;
}

int
http_server_listen(struct http_server *srv, const struct listen_cfg *lc,
    int fd)
{
	bool tls = lc->role == ROLE_HTTPS;
	struct evhttp **hp = tls ? &srv->tls : &srv->plain;
	struct evconnlistener *lev;
	struct evhttp_bound_socket *bs;

	if (*hp == NULL && (*hp = front_new(srv, tls)) == NULL) {
		(void)close(fd);
		return -1;
	}
	lev = evconnlistener_new(srv->d.base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 1024, fd);
	if (lev == NULL) {
		(void)close(fd);
		return -1;
	}
	if ((bs = evhttp_bind_listener(*hp, lev)) == NULL) {
		evconnlistener_free(lev);
		return -1;
	}
	srv->bound = xreallocarray(srv->bound, srv->nbound + 1,
	    sizeof(*srv->bound));
	srv->bound[srv->nbound].lc = *lc;
	srv->bound[srv->nbound].bs = bs;
	srv->nbound++;
	return 0;
}

static bool
same_address(const struct listen_cfg *a, const struct listen_cfg *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}

bool
http_server_has(const struct http_server *srv, const struct listen_cfg *lc)
{
	size_t i;

	for (i = 0; i < srv->nbound; i++)
		if (same_address(&srv->bound[i].lc, lc) &&
		    srv->bound[i].lc.role == lc->role)
			return true;
	return false;
}

int
http_server_dup_fd(const struct http_server *srv, const struct listen_cfg *lc)
{
	size_t i;

	for (i = 0; i < srv->nbound; i++)
		if (same_address(&srv->bound[i].lc, lc))
			return fcntl(evhttp_bound_socket_get_fd(
			    srv->bound[i].bs), F_DUPFD_CLOEXEC, 0);
	return -1;
}

size_t
http_server_retain(struct http_server *srv, const struct config *cfg)
{
	size_t i, j, kept = 0, closed = 0;

	for (i = 0; i < srv->nbound; i++) {
		struct hbound *b = &srv->bound[i];

		for (j = 0; j < cfg->nlisten; j++)
			if (same_address(&cfg->listen[j], &b->lc) &&
			    cfg->listen[j].role == b->lc.role)
				break;
		if (j < cfg->nlisten) {
			b->lc = cfg->listen[j];
			srv->bound[kept++] = *b;
			continue;
		}
		/* The socket closes; its connections go on. */
		evhttp_del_accept_socket(b->lc.role == ROLE_HTTPS ? srv->tls :
		    srv->plain, b->bs);
		closed++;
	}
	srv->nbound = kept;
	return closed;
}

void
http_server_set_config(struct http_server *srv, const struct config *cfg)
{
	srv->cfg = cfg;
}

static void
free_hconn(void *v)
{
	free(v);
}

void
http_server_free(struct http_server **sp)
{
	struct http_server *srv = *sp;
	struct http_call *c, *next;

	if (srv == NULL)
		return;
	*sp = NULL;
	/* The calls first: their requests go with the connections. */
	for (c = srv->pending; c != NULL; c = next) {
		next = c->next;
		/* A hold's answer still due is never heard. */
		if (c->wait != NULL && srv->d.qmgr != NULL)
			srv->d.qmgr->hold_cancel(srv->d.qmgr->arg, c->wait);
		c->srv = NULL;
		c->req = NULL;
		c->next = c->prev = NULL;
		if (c->job != NULL)
			worker_cancel(&c->job);
		else
			call_free(c);
	}
	srv->pending = NULL;
	if (srv->plain != NULL)
		evhttp_free(srv->plain);
	if (srv->tls != NULL)
		evhttp_free(srv->tls);
	free(srv->bound);
	hmap_free(&srv->conns, free_hconn);
	free(srv);
}
