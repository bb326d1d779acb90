/*
 * hook_send.c - one attempt of a webhook delivery, on the loop: the
 * host's address through popgate's resolver (c-ares, never
 * getaddrinfo), then evhttp over a socket or a bufferevent_openssl
 * (the certificate verified for the URL's host against webhook_ca_file
 * or the system's store), one POST, the answer's status. evhttp parses
 * the answer; what it may hold is bounded (HOOK_HEADERS_MAX of headers,
 * HOOK_RESPONSE_MAX of body, else the attempt fails), and hook.c's
 * deadline ends an attempt that takes longer than webhook_timeout.
 */
#include <errno.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/x509v3.h>

#include "core/dns.h"
#include "hook/hook_int.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define BACKOFF_MAX_S	3600

void
hook_sign(const char *secret, const char *ts, const char *body, size_t len,
    char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	size_t tl = strlen(ts);
	unsigned char *msg = xmalloc(tl + 1 + len + 1);

	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): octets */
	memcpy(msg, ts, tl);
	msg[tl] = '.';
	memcpy(msg + tl + 1, body, len);
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, tl + 1 + len,
	    md, &mdlen) == NULL || mdlen != 32)
		PANIC("HMAC-SHA256 failed");
	free(msg);
	for (i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
}

uint64_t
hook_backoff(unsigned attempt, uint64_t min_s, uint32_t rnd)
{
	uint64_t base = min_s * 1000, cap = BACKOFF_MAX_S * 1000ULL;
	unsigned i;

	if (attempt == 0)
		attempt = 1;
	for (i = 1; i < attempt && base < cap; i++)
		base *= 2;
	if (base > cap)
		base = cap;
	/* equal jitter: half fixed, half drawn; never below MIN_S */
	base = base / 2 + (base / 2 + 1) * (uint64_t)rnd / 0x100000000ULL;
	return base < min_s * 1000 ? min_s * 1000 : base;
}

bool
hook_status_retries(int status)
{
	return status == 0 || status == 408 || status == 429 ||
	    (status >= 500 && status <= 599);
}

SSL_CTX *
hook_tls_ctx(const char *ca_file, const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		*error_r = "webhooks: no TLS context";
		return NULL;
	}
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* the system's store, and a private CA in addition */
	if (SSL_CTX_set_default_verify_paths(ctx) != 1 ||
	    (*ca_file != '\0' && SSL_CTX_load_verify_locations(ctx, ca_file,
	    NULL) != 1)) {
		ERR_clear_error();
		SSL_CTX_free(ctx);
		*error_r = *ca_file != '\0' ? "cannot load webhook_ca_file" :
		    "cannot load the system's CA store";
		return NULL;
	}
	return ctx;
}

/* Frees a connection whose request callback has returned. */
static void
reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evhttp_connection_free(arg);
}

void
hook_attempt_stop(struct hook_dlv *d)
{
	dns_cancel(&d->dns);
	if (d->conn != NULL) {
		/* not inside its callbacks: freed with its request */
		evhttp_connection_free(d->conn);
		d->conn = NULL;
	}
}

/* Retry-After in seconds (RFC 9110 10.2.3), 0 when absent or a date. */
static unsigned
retry_after(struct evhttp_request *req)
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(
	    req), "Retry-After");
	uint64_t u;

	if (v == NULL || str_to_uint(v, 0, 86400, &u) == -1)
		return 0;
	return (unsigned)u;
}

static void
on_answer(struct evhttp_request *req, void *arg)
{
	struct hook_dlv *d = arg;
	struct timeval now = { 0, 0 };
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	const char *why = "no answer (connection, TLS, timeout or size)";
	struct bufferevent *bev;
	SSL *ssl;
	long v;

	if (d->conn != NULL) {
		bev = evhttp_connection_get_bufferevent(d->conn);
		ssl = d->url.https && bev != NULL ?
		    bufferevent_openssl_get_ssl(bev) : NULL;
		v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
		if (code == 0 && v != X509_V_OK)
			why = X509_verify_cert_error_string(v);
		/* the connection goes once this callback has returned */
		if (event_base_once(d->h->base, -1, EV_TIMEOUT, reap, d->conn,
		    &now) == -1)
			log_error("webhook: cannot free a connection");
		d->conn = NULL;
	}
	hook_attempt_done(d, code, code != 0 ? retry_after(req) : 0, why);
}

static void
add_header(struct evhttp_request *req, const char *name, const char *value)
{
	(void)evhttp_add_header(evhttp_request_get_output_headers(req), name,
	    value);
}

/* The request of D, signed now. */
static struct evhttp_request *
make_request(struct hook_dlv *d)
{
	struct evhttp_request *req = evhttp_request_new(on_answer, d);
	char ts[24], sig[80], hex[65], host[300];
	bool v6 = strchr(d->url.host, ':') != NULL;
	bool dflt = d->url.port == (d->url.https ? 443 : 80);

	if (req == NULL)
		return NULL;
	(void)str_fmt(ts, sizeof(ts), "%lld", (long long)clock_now());
	hook_sign(d->h->secret, ts, d->body, d->len, hex);
	(void)str_fmt(sig, sizeof(sig), "sha256=%s", hex);
	if (dflt)
		(void)str_fmt(host, sizeof(host), "%s%s%s", v6 ? "[" : "",
		    d->url.host, v6 ? "]" : "");
	else
		(void)str_fmt(host, sizeof(host), "%s%s%s:%u", v6 ? "[" : "",
		    d->url.host, v6 ? "]" : "", (unsigned)d->url.port);
	add_header(req, "Host", host);
	add_header(req, "User-Agent", "popgate-webhook/1");
	add_header(req, "Content-Type", "application/json");
	add_header(req, "Connection", "close");
	add_header(req, "X-Popgate-Event", config_webhook_event(d->event));
	add_header(req, "X-Popgate-Delivery", d->id);
	add_header(req, "X-Popgate-Timestamp", ts);
	add_header(req, "X-Popgate-Signature", sig);
	(void)evbuffer_add(evhttp_request_get_output_buffer(req), d->body,
	    d->len);
	return req;
}

static struct bufferevent *
make_bev(struct hook_dlv *d)
{
	struct event_base *base = d->h->base;
	struct bufferevent *bev;
	struct netaddr a;
	SSL *ssl;

	if (!d->url.https)
		return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if ((ssl = SSL_new(d->h->tls)) == NULL)
		return NULL;
	if (net_addr_parse(d->url.host, &a) == 0) {
		(void)X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    d->url.host);
	} else {
		(void)SSL_set_tlsext_host_name(ssl, d->url.host);
		(void)SSL_set1_host(ssl, d->url.host);
	}
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* the answer may end with the connection */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static void
send_to(struct hook_dlv *d, const struct netaddr *a)
{
	char ip[NET_ADDRSTRLEN];
	struct evhttp_request *req;
	struct bufferevent *bev;

	if ((bev = make_bev(d)) == NULL) {
		hook_attempt_done(d, 0, 0, "out of sockets or TLS");
		return;
	}
	net_addr_format(a, ip, sizeof(ip));
	d->conn = evhttp_connection_base_bufferevent_new(d->h->base, NULL, bev,
	    ip, d->url.port);
	if (d->conn == NULL) {
		bufferevent_free(bev);
		hook_attempt_done(d, 0, 0, "out of memory");
		return;
	}
	evhttp_connection_set_timeout(d->conn,
	    (int)d->h->cfg->webhook_timeout);
	evhttp_connection_set_retries(d->conn, 0);
	evhttp_connection_set_max_body_size(d->conn, HOOK_RESPONSE_MAX);
	evhttp_connection_set_max_headers_size(d->conn, HOOK_HEADERS_MAX);
	if ((req = make_request(d)) == NULL ||
	    evhttp_make_request(d->conn, req, EVHTTP_REQ_POST,
	    d->url.path) == -1) {
		/* the request was freed; we are not in a callback */
		evhttp_connection_free(d->conn);
		d->conn = NULL;
		hook_attempt_done(d, 0, 0, "cannot send the request");
	}
}

static void
on_addrs(int status, const struct netaddr *a, size_t n, void *arg)
{
	struct hook_dlv *d = arg;

	d->dns = NULL;
	if (status != 1 || n == 0) {
		hook_attempt_done(d, 0, 0, status == -1 ?
		    "temporary DNS failure" : "the host has no address");
		return;
	}
	send_to(d, &a[0]);
}

void
hook_attempt(struct hook_dlv *d)
{
	struct netaddr a;

	if (strcmp(d->url.host, "localhost") == 0 &&
	    net_addr_parse("127.0.0.1", &a) == 0) {
		send_to(d, &a);
		return;
	}
	if (net_addr_parse(d->url.host, &a) == 0) {
		send_to(d, &a);
		return;
	}
	d->dns = dns_addrs(d->h->dns, d->url.host,
	    (unsigned)d->h->cfg->webhook_timeout * 1000, on_addrs, d);
	if (d->dns == NULL)
		hook_attempt_done(d, 0, 0, "cannot ask DNS");
}
