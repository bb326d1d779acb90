/*
 * conn.h - listeners and client connections over libevent bufferevents,
 * with TLS (implicit or STARTTLS) and connection caps.
 *
 * The hub owns what all listeners share: the event base, the server TLS
 * context, the connection counts in total and per client IP. A listener
 * accepts, enforces the caps (refusing with the role's text, e.g.
 * "421 4.7.0 ..."), wraps implicit-TLS sockets and hands a struct conn to
 * the protocol. The protocol owns the conn from then on and frees it
 * with conn_free().
 */
#ifndef POPGATE_CONN_H
#define POPGATE_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "core/config.h"
#include "core/ids.h"
#include "util/net.h"

struct conn_hub;
struct listener;

struct conn {
	struct conn_hub		*hub;
	struct bufferevent	*bev;
	const struct listen_cfg	*lc;		/* &lc_own */
	struct listen_cfg	 lc_own;	/* the listener's, as it was
						   when the client came (it
						   may close before) */
	struct netaddr		 peer;
	uint16_t		 peer_port;
	char			 peer_str[NET_ADDRSTRLEN];
	struct netaddr		 local;
	SSL			*ssl;		/* NULL until TLS */
	bool			 tls;		/* handshake done */
	bool			 compressed;	/* COMPRESS=DEFLATE */
	char			 id[ID_LEN + 1];
	uint64_t		 start_ms;
};

/* Called with a new connection; the callee owns it. */
typedef void conn_accept_fn(struct conn *, void *arg);

/* Descriptors kept back from new clients for the sessions already open:
   1/16 of the limit, within these bounds. */
#define CONN_FD_RESERVE_MIN	32
#define CONN_FD_RESERVE_MAX	1024
/* The first client descriptor number refused under RLIMIT_NOFILE. */
uint64_t conn_fd_ceiling(void);
/* The hub takes a reference on the TLS context (NULL: none). */
struct conn_hub *conn_hub_new(struct event_base *, SSL_CTX *,
	    uint64_t max_total, uint64_t max_per_ip);
void	conn_hub_free(struct conn_hub **);
struct event_base *conn_hub_base(struct conn_hub *);
/* A reload: the TLS context for new connections and handshakes (DEF
   gains a reference; the old one is dropped, sessions using it keep
   theirs) and the caps (counts so far stay). */
void	conn_hub_set_tls(struct conn_hub *, SSL_CTX *def);
void	conn_hub_set_caps(struct conn_hub *, uint64_t max_total,
	    uint64_t max_per_ip);
/* Connections open now. */
uint64_t conn_hub_count(struct conn_hub *);
/* The TLS context for a new connection (borrowed: take a reference or
   make the SSL now). NULL when there is none. */
SSL_CTX	*conn_hub_tls(struct conn_hub *);
/* A connection accepted outside the listeners (the HTTP server's) from
   PEER (as net_addr_format() writes it) on a listener of ROLE: counted
   against the same caps and in the same metrics (sessions by listener,
   refusals). True when under them; then conn_hub_release() with the
   same ROLE once it closes. A refusal is logged as the listeners' are. */
bool	conn_hub_acquire(struct conn_hub *, const char *peer,
	    enum listen_role role);
void	conn_hub_release(struct conn_hub *, const char *peer,
	    enum listen_role role);

/* A listening socket for HOST:PORT (IPv6 ones v6-only), non-blocking and
   close-on-exec, with SO_REUSEADDR. The descriptor, or -1 with the
   reason ("cannot listen on [::1]:25: Permission denied") in ERR. */
int	conn_listen_socket(const char *host, uint16_t port, char *err,
	    size_t errsz);
/* Accepts on FD, a socket of conn_listen_socket() for LC's address; the
   listener owns it and a copy of LC. REFUSE is the line sent when a cap
   is reached (borrowed for the listener's life). */
struct listener *listener_new(struct conn_hub *, const struct listen_cfg *,
	    int fd, conn_accept_fn *, void *arg, const char *refuse_text);
/* Whether the listener is for LC's address and port. */
bool	listener_is(const struct listener *, const struct listen_cfg *);
/* A duplicate (close-on-exec) of the listening socket, for a reload
   that gives its address to the HTTP server: -1 on failure. */
int	listener_dup_fd(const struct listener *);
/* A reload that keeps the address: LC's role and settings from now on
   (the connections open keep theirs). */
void	listener_update(struct listener *, const struct listen_cfg *);
void	listener_free(struct listener **);

/* A connection for an already connected socket FD from PEER (tests and
   fuzzers drive sessions through a socketpair). NULL on failure. */
struct conn *conn_adopt(struct conn_hub *, const struct listen_cfg *,
	    evutil_socket_t fd, const struct netaddr *peer);
/* Closes the connection and updates the counts. Sets *C to NULL. */
void	conn_free(struct conn **);
/* STARTTLS/STLS: discards every byte already received (RFC 3207 section
   4.2: nothing sent before the handshake may be acted on) and puts a TLS
   filter over the connection. The caller sets its callbacks on the new
   c->bev again. 0, or -1 with *ERROR_R. */
int	conn_starttls(struct conn *, const char **error_r);
/* Call on BEV_EVENT_CONNECTED of a TLS bufferevent: records the TLS
   state. */
void	conn_tls_done(struct conn *);
/* After BEV_EVENT_ERROR or EOF before the handshake was done: why, for
   the log, into OUT: OpenSSL's reason ("no shared cipher", "wrong
   version number", "tlsv1 alert unknown ca"), else "connection reset"
   or "connection closed". The bufferevent's queued errors are consumed.
   Returns whether the client sent any byte to the TLS layer (false for a
   client that connected and went away, like a port scanner). */
bool	conn_tls_error(struct conn *, char *out, size_t outsz);
/* COMPRESS=DEFLATE (RFC 4978, conn_deflate.c): raw deflate both ways on
   top of the connection from now on. 0, or -1 with *ERROR_R. */
int	conn_compress(struct conn *, const char **error_r);
/* "TLSv1.3 with cipher ..." or "" into OUT. */
void	conn_tls_info(const struct conn *, char *out, size_t outsz);
/* At shutdown (the loop no longer runs): hands what is buffered for the
   client straight to the kernel, best effort, without blocking. */
void	conn_flush_now(struct conn *);
/* True when everything written has left for the socket, including what
   a TLS filter still holds below it. */
bool	conn_flushed(const struct conn *);
/* Idle timeout (reading, and writing pending output) in seconds;
   0 = none. */
void	conn_set_timeout(struct conn *, uint64_t seconds);

#endif
