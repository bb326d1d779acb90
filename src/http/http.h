/*
 * http.h - the HTTP listeners (roles http and https, SPEC 12): libevent's
 * evhttp on the daemon's loop, TLS through bufferevent_openssl with the
 * listeners' SNI certificates, the provisioning API under /api/v1/ and
 * the plain pages other modules add (src/http/http_routes.c).
 *
 * Limits: header and body sizes, a timeout per connection, and the
 * connection caps of every other listener (counted in the same hub).
 * Nothing blocks the loop: token checks and store work run on the io
 * pool and the reply is sent from the loop when they are done.
 */
#ifndef POPGATE_HTTP_H
#define POPGATE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "util/buf.h"
#include "util/net.h"

struct event_base;
struct conn_hub;
struct worker_pool;
struct auth_throttle;
struct http_server;
struct ops_qmgr;

struct http_deps {
	struct event_base	*base;
	const struct config	*cfg;		/* borrowed; see set_config */
	struct conn_hub		*hub;		/* caps and TLS context */
	struct worker_pool	*io;		/* store work */
	struct auth_throttle	*throttle;	/* failed token checks */
	/* The queue manager's flush and delete, on the loop (the control
	   socket's, cli_control.h); NULL: those calls answer 503. */
	const struct ops_qmgr	*qmgr;
};

#define HTTP_MAX_HEADERS	(16 * 1024)	/* octets of the header */
#define HTTP_MAX_BODY		(64 * 1024)	/* octets of a JSON body */
#define HTTP_TIMEOUT		30		/* seconds idle or reading */

struct http_server *http_server_new(const struct http_deps *);
/* Serves the listening socket FD (bound for LC, role http or https);
   the server owns FD from now on. 0 or -1. */
int	http_server_listen(struct http_server *, const struct listen_cfg *lc,
	    int fd);
/* Reloads: whether the server listens on LC's address and port in
   LC's role. */
bool	http_server_has(const struct http_server *,
	    const struct listen_cfg *lc);
/* A duplicate (close-on-exec) of the server's listening socket on LC's
   address and port, whatever its role, for a reload that gives the
   address another one; -1 when there is none. */
int	http_server_dup_fd(const struct http_server *,
	    const struct listen_cfg *lc);
/* A reload: closes each listening socket whose address, port and role
   no listen line of CFG has (the connections it accepted go on).
   Returns how many closed. */
size_t	http_server_retain(struct http_server *, const struct config *cfg);
/* A reload: pages and limits use CFG from the next request on (it
   must outlive the requests running; the daemon's retired list keeps
   the old one until the pools are quiet). */
void	http_server_set_config(struct http_server *, const struct config *);
/* Closes the listeners and the connections; calls still on a worker
   are cancelled (their replies are never sent). Sets *SRV to NULL. */
void	http_server_free(struct http_server **);

/* ---- plain pages (GET routes that are not JSON) ----
   A page is made on the loop thread from the live configuration; it
   must not block. One line of the route table adds one:
	HTTP_PAGE("/help", help_page, "the customers' help page"),
   (and a POST one with HTTP_PAGE_POST). */
struct http_page_headers;
struct http_page_req {
	const char		*method;	/* "GET", "POST" */
	const char		*path;		/* decoded, no query */
	const char		*query;		/* raw, or NULL */
	const char		*body;		/* POST: the body, NUL-ended */
	size_t			 body_len;
	const struct netaddr	*peer;
	bool			 tls;		/* came over https */
	struct http_page_headers *headers;	/* the reply's: see below */
};
/* Adds "NAME: VALUE" to the reply of the page REQ is for (from the page
   function, before it returns): Content-Disposition, Cache-Control ...
   Not Content-Type (that is *CTYPE_R) nor the framing ones (Content-
   Length, Transfer-Encoding, Connection), which are the server's. 0, or
   -1 for such a name, or a name or value with a CR, LF or other control
   octet (nothing added). */
int	http_page_header(const struct http_page_req *req, const char *name,
	    const char *value);
/* Writes the page onto OUT and its media type ("text/plain;
   version=0.0.4", "text/html; charset=utf-8", "application/xml") into
   *CTYPE_R (static text). Returns the HTTP status: 200, or 404 and such
   (then OUT is the error text). */
typedef int http_page_fn(const struct config *cfg,
	    const struct http_page_req *req, struct buf *out,
	    const char **ctype_r);

#endif
