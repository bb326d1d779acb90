/*
 * dlv_sts_fetch.c - MTA-STS policies (RFC 8461) found, fetched, kept.
 *
 * For each destination domain routed by MX, a connection asks for the
 * domain's policy before it picks an MX host. The TXT record
 * _mta-sts.DOMAIN (cached for its TTL by dns.c) is read every time;
 * when it names an id other than the cached policy's, or the cached
 * policy is older than its max_age, the policy is fetched again
 * (section 3.3): HTTPS to mta-sts.DOMAIN on port 443, its certificate
 * verified for that name with tls_ca_file or the system's store, a GET
 * of /.well-known/mta-sts.txt; only a 200 answer with Content-Type
 * text/plain is taken, no redirect followed, at most STS_POLICY_MAX
 * octets, each read within STS_HTTP_TIMEOUT and the whole fetch within
 * STS_FETCH_TIMEOUT. A valid cached policy stays in use
 * when the TXT record disappears or a refresh fails (section 5.1), and
 * until its max_age.
 *
 * Fetches run on the event loop (evhttp over a bufferevent_openssl);
 * connections to one domain wait together for one fetch, others never
 * wait. Policies are kept in memory and in data_dir/mta-sts/DOMAIN
 * (written on the io workers, read at start-up), so a restart keeps
 * them.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "delivery/dlv_int.h"
#include "core/addr.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define STS_PORT		443
#define STS_HTTP_TIMEOUT	30	/* seconds, connect and each read */
#define STS_FETCH_TIMEOUT	60	/* seconds, a whole fetch */
#define STS_DNS_TIMEOUT_MS	15000
#define STS_CACHE_MAX		10000	/* domains kept */
#define STS_DIR			"mta-sts"
#define STS_FILE_MAGIC		"popgate-mta-sts 1\n"
#define STS_PATH		"/.well-known/mta-sts.txt"

struct dlv_sts_wait {
	struct dlv_sts_wait	*next;
	struct sts_entry	*e;
	dlv_sts_cb		*cb;
	void			*arg;
};

struct sts_entry {
	struct dlv_sts_cache	*cache;
	char			 domain[256];	/* lower case */
	/* the policy kept */
	bool			 have;
	struct sts_policy	 pol;
	char			 id[STS_ID_MAX + 1];
	time_t			 fetched;
	/* a lookup under way */
	bool			 busy;
	char			 newid[STS_ID_MAX + 1];
	struct dns_req		*dnsreq;
	struct evhttp_connection *http;
	struct event		*ev_free;	/* frees http from the loop */
	struct event		*ev_deadline;	/* of a fetch: a server that
						   drips bytes cannot hold the
						   domain's mail longer */
	struct dlv_sts_wait	*waiters;
};

struct dlv_sts_cache {
	struct qmgr		*q;
	struct hmap		*entries;	/* domain: sts_entry */
	int			 dirfd;		/* -1: memory only */
};

static void free_http(evutil_socket_t, short, void *);
static void fetch_deadline(evutil_socket_t, short, void *);

/* ---- the files ---- */

struct save_job {
	int		 dirfd;
	char		 name[256];
	char		*data;
	size_t		 len;
	int		 err;
};

static void
save_work(void *ctx, void *arg)
{
	struct save_job *j = arg;

	(void)ctx;
	if (fs_write_atomic_at(j->dirfd, j->name, j->data, j->len, 0600) == -1)
		j->err = errno;
}

static void
save_release(void *arg)
{
	struct save_job *j = arg;

	(void)close(j->dirfd);
	free(j->data);
	free(j);
}

static void
save_done(void *arg)
{
	struct save_job *j = arg;

	if (j->err != 0)
		log_warn("mta-sts domain=%s cannot save the policy in %s/%s: "
		    "%s", j->name, STS_DIR, j->name, strerror(j->err));
	save_release(j);
}

static const struct worker_ops save_ops = { save_work, save_done,
	save_release };

static void
save_policy(struct sts_entry *e, const char *text, size_t len)
{
	struct dlv_sts_cache *sc = e->cache;
	struct save_job *j;
	struct buf b;

	if (sc->dirfd == -1 || sc->q->d.io == NULL)
		return;
	j = xcalloc(1, sizeof(*j));
	/* its own: the cache may be gone before the job runs */
	if ((j->dirfd = fcntl(sc->dirfd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("mta-sts domain=%s cannot save the policy: %s",
		    e->domain, strerror(errno));
		free(j);
		return;
	}
	(void)str_copy(j->name, e->domain, sizeof(j->name));
	buf_init(&b, BUF_UNLIMITED);
	(void)buf_printf(&b, STS_FILE_MAGIC "id %s\nfetched %lld\n\n", e->id,
	    (long long)e->fetched);
	(void)buf_append(&b, text, len);
	j->data = buf_steal(&b, &j->len);
	(void)worker_submit(sc->q->d.io, &save_ops, j);
}

/* A saved file (header, blank line, the policy as fetched) into E. 0,
   or -1 when it is not one. */
static int
load_text(struct sts_entry *e, const char *p, size_t n)
{
	const char *end = p + n, *body, *err;
	char head[128], id[STS_ID_MAX + 1];
	long long fetched;
	size_t hl;
	int used = -1;

	if (n < sizeof(STS_FILE_MAGIC) - 1 ||
	    memcmp(p, STS_FILE_MAGIC, sizeof(STS_FILE_MAGIC) - 1) != 0)
		return -1;
	p += sizeof(STS_FILE_MAGIC) - 1;
	if ((body = memmem(p, (size_t)(end - p), "\n\n", 2)) == NULL ||
	    (hl = (size_t)(body - p)) >= sizeof(head))
		return -1;
	memcpy(head, p, hl);
	head[hl] = '\0';
	/* "id ID\nfetched SECONDS", nothing else */
	if (sscanf(head, "id %32[A-Za-z0-9] fetched %lld%n", id, &fetched,
	    &used) != 2 || (size_t)used != hl)
		return -1;
	body += 2;
	if (dlv_sts_parse(body, (size_t)(end - body), &e->pol, &err) == -1)
		return -1;
	(void)str_copy(e->id, id, sizeof(e->id));
	e->fetched = (time_t)fetched;
	e->have = true;
	return 0;
}

static struct sts_entry *
entry_new(struct dlv_sts_cache *sc, const char *domain)
{
	struct sts_entry *e = xcalloc(1, sizeof(*e));

	e->cache = sc;
	(void)str_copy(e->domain, domain, sizeof(e->domain));
	str_lower(e->domain);
	e->ev_free = event_new(sc->q->d.base, -1, 0, free_http, e);
	e->ev_deadline = evtimer_new(sc->q->d.base, fetch_deadline, e);
	return e;
}

static bool
expired(const struct sts_entry *e, time_t now)
{
	return !e->have || now >= e->fetched + (time_t)e->pol.max_age;
}

static void
load_all(struct dlv_sts_cache *sc)
{
	struct dirent *de;
	DIR *dir;
	int fd = dup(sc->dirfd);
	size_t n = 0;

	if (fd == -1 || (dir = fdopendir(fd)) == NULL) {
		if (fd != -1)
			(void)close(fd);
		return;
	}
	while ((de = readdir(dir)) != NULL && n < STS_CACHE_MAX) {
		const char *err;
		struct sts_entry *e;
		struct buf b;

		size_t nl = strlen(de->d_name);

		/* fs_write_atomic_at's temporaries end in ".tmp" */
		if (de->d_name[0] == '.' || strchr(de->d_name, '.') == NULL ||
		    (nl > 4 && strcmp(de->d_name + nl - 4, ".tmp") == 0) ||
		    addr_domain_check(de->d_name, strlen(de->d_name), 0,
		    &err) == -1)
			continue;	/* a temporary file, not a domain */
		buf_init(&b, STS_POLICY_MAX + 1024);
		e = entry_new(sc, de->d_name);
		if (fs_read_file_at(sc->dirfd, de->d_name, &b) == -1 ||
		    load_text(e, b.data, b.len) == -1 ||
		    expired(e, clock_now())) {
			event_free(e->ev_free);
			event_free(e->ev_deadline);
			free(e);
		} else {
			(void)hmap_put(sc->entries, e->domain, e);
			n++;
		}
		buf_free(&b);
	}
	(void)closedir(dir);
	if (n > 0)
		log_info("mta-sts policies loaded=%zu from %s/", n, STS_DIR);
}

/* ---- a lookup ---- */

static void
entry_done(struct sts_entry *e)
{
	struct dlv_sts_wait *w = e->waiters, *next;
	const struct sts_policy *pol = expired(e, clock_now()) ? NULL : &e->pol;

	e->busy = false;
	e->waiters = NULL;
	(void)event_del(e->ev_deadline);
	for (; w != NULL; w = next) {
		next = w->next;
		w->cb(pol, w->arg);
		free(w);
	}
}

static void PRINTFLIKE(2, 3)
entry_fail(struct sts_entry *e, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!expired(e, clock_now()))
		log_warn("mta-sts domain=%s policy fetch failed: %s; the cached "
		    "policy id=%s mode=%s stays in use", e->domain, why, e->id,
		    dlv_sts_mode_name(e->pol.mode));
	else
		log_warn("mta-sts domain=%s policy fetch failed: %s; no policy "
		    "applies", e->domain, why);
	entry_done(e);
}

static void
free_http(evutil_socket_t fd, short what, void *arg)
{
	struct sts_entry *e = arg;

	(void)fd;
	(void)what;
	if (e->http != NULL)
		evhttp_connection_free(e->http);
	e->http = NULL;
}

static void
fetch_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct sts_entry *e = arg;

	(void)fd;
	(void)what;
	dns_cancel(&e->dnsreq);
	if (e->http != NULL) {
		/* not inside its callbacks: freed now, the request with it */
		(void)event_del(e->ev_free);
		evhttp_connection_free(e->http);
		e->http = NULL;
	}
	entry_fail(e, "https://mta-sts.%s%s: no policy within %d s", e->domain,
	    STS_PATH, STS_FETCH_TIMEOUT);
}

/* Content-Type text/plain, perhaps with parameters (section 3.2). */
static bool
text_plain(const char *ct)
{
	size_t n = sizeof("text/plain") - 1;

	return ct != NULL && strncasecmp(ct, "text/plain", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

static void
on_http(struct evhttp_request *req, void *arg)
{
	struct sts_entry *e = arg;
	struct evbuffer *in;
	struct sts_policy pol;
	const char *err = "too large";
	char *text;
	size_t len;
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;

	/* the connection goes once this callback has returned */
	event_active(e->ev_free, 0, 0);
	if (code == 0) {
		struct bufferevent *bev = e->http != NULL ?
		    evhttp_connection_get_bufferevent(e->http) : NULL;
		SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
		long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;

		entry_fail(e, "https://mta-sts.%s%s: %s", e->domain, STS_PATH,
		    v != X509_V_OK ? X509_verify_cert_error_string(v) :
		    "no answer (connection, TLS, timeout or size)");
		return;
	}
	if (code != 200) {
		entry_fail(e, "https://mta-sts.%s%s: HTTP status %d%s",
		    e->domain, STS_PATH, code, code / 100 == 3 ?
		    " (redirects are not followed)" : "");
		return;
	}
	if (!text_plain(evhttp_find_header(evhttp_request_get_input_headers(
	    req), "Content-Type"))) {
		entry_fail(e, "https://mta-sts.%s%s: not text/plain", e->domain,
		    STS_PATH);
		return;
	}
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	text = (char *)evbuffer_pullup(in, -1);
	if (len > STS_POLICY_MAX || (len > 0 && text == NULL) ||
	    dlv_sts_parse(text != NULL ? text : "", len, &pol, &err) == -1) {
		entry_fail(e, "https://mta-sts.%s%s: bad policy: %s", e->domain,
		    STS_PATH, err);
		return;
	}
	e->pol = pol;
	e->have = true;
	(void)str_copy(e->id, e->newid, sizeof(e->id));
	e->fetched = clock_now();
	log_info("mta-sts domain=%s policy fetched id=%s mode=%s max_age=%llu "
	    "mx=%zu", e->domain, e->id, dlv_sts_mode_name(pol.mode),
	    (unsigned long long)pol.max_age, pol.nmx);
	save_policy(e, text != NULL ? text : "", len);
	entry_done(e);
}

static void
fetch_from(struct sts_entry *e, const struct netaddr *a)
{
	struct qmgr *q = e->cache->q;
	char host[300], ip[NET_ADDRSTRLEN];
	struct evhttp_request *req;
	struct bufferevent *bev;
	SSL *ssl;

	(void)str_fmt(host, sizeof(host), "mta-sts.%s", e->domain);
	if (e->http != NULL) {
		/* the last fetch's, not freed yet */
		(void)event_del(e->ev_free);
		evhttp_connection_free(e->http);
		e->http = NULL;
	}
	if (q->d.tls == NULL || (ssl = SSL_new(q->d.tls)) == NULL) {
		entry_fail(e, "TLS is not available here");
		return;
	}
	(void)SSL_set_tlsext_host_name(ssl, host);
	(void)SSL_set1_host(ssl, host);
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	bev = bufferevent_openssl_socket_new(q->d.base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(ssl);
		entry_fail(e, "out of sockets");
		return;
	}
	/* a policy ends with the connection when no length is given */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	net_addr_format(a, ip, sizeof(ip));
	e->http = evhttp_connection_base_bufferevent_new(q->d.base, NULL, bev,
	    ip, STS_PORT);
	if (e->http == NULL) {
		bufferevent_free(bev);
		entry_fail(e, "out of memory");
		return;
	}
	evhttp_connection_set_timeout(e->http, STS_HTTP_TIMEOUT);
	evhttp_connection_set_retries(e->http, 0);
	evhttp_connection_set_max_body_size(e->http, STS_POLICY_MAX);
	evhttp_connection_set_max_headers_size(e->http, 16 * 1024);
	req = evhttp_request_new(on_http, e);
	(void)evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
	    host);
	(void)evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Connection", "close");
	if (evhttp_make_request(e->http, req, EVHTTP_REQ_GET, STS_PATH) == -1) {
		/* the request was freed */
		event_active(e->ev_free, 0, 0);
		entry_fail(e, "cannot send the request");
	}
}

static void
on_host(int status, const struct netaddr *a, size_t n, void *arg)
{
	struct sts_entry *e = arg;

	e->dnsreq = NULL;
	if (status != 1 || n == 0) {
		entry_fail(e, "mta-sts.%s: %s", e->domain, status == -1 ?
		    "temporary DNS failure" : "no address");
		return;
	}
	fetch_from(e, &a[0]);
}

static void
on_txt(int status, const struct dns_txt *t, size_t n, void *arg)
{
	struct sts_entry *e = arg;
	char id[STS_ID_MAX + 1] = "", name[300];
	struct timeval deadline = { STS_FETCH_TIMEOUT, 0 };
	size_t i, nsts = 0;
	bool bad = false;

	e->dnsreq = NULL;
	for (i = 0; status == 1 && i < n; i++) {
		int r = dlv_sts_txt(t[i].text, t[i].len, id);

		nsts += r != 0;
		bad |= r == -1;
	}
	if (status != 1 || nsts != 1 || bad) {
		/* RFC 8461 3.1: no usable record means no new policy; a
		   cached one holds until its max_age (section 5.1). */
		if (nsts > 0)
			log_warn("mta-sts domain=%s TXT record malformed or "
			    "not unique (records=%zu)", e->domain, nsts);
		entry_done(e);
		return;
	}
	if (!expired(e, clock_now()) && strcmp(id, e->id) == 0) {
		entry_done(e);
		return;
	}
	(void)str_copy(e->newid, id, sizeof(e->newid));
	(void)str_fmt(name, sizeof(name), "mta-sts.%s", e->domain);
	(void)evtimer_add(e->ev_deadline, &deadline);
	e->dnsreq = dns_addrs(e->cache->q->d.dns, name, STS_DNS_TIMEOUT_MS,
	    on_host, e);
}

/* ---- the public side ---- */

void
dlv_sts_init(struct qmgr *q, int data_fd)
{
	struct dlv_sts_cache *sc = xcalloc(1, sizeof(*sc));

	sc->q = q;
	sc->entries = hmap_new();
	sc->dirfd = -1;
	q->sts = sc;
	if (data_fd < 0)
		return;
	if (fs_mkdir_p_at(data_fd, STS_DIR, 0700, false) == -1 ||
	    (sc->dirfd = fs_open_dir(data_fd, STS_DIR)) == -1) {
		log_warn("cannot use %s/ for the MTA-STS policies (kept in "
		    "memory only): %s", STS_DIR, strerror(errno));
		return;
	}
	load_all(sc);
}

static void
entry_free(void *p)
{
	struct sts_entry *e = p;
	struct dlv_sts_wait *w, *next;

	dns_cancel(&e->dnsreq);
	if (e->http != NULL)
		evhttp_connection_free(e->http);
	event_free(e->ev_free);
	event_free(e->ev_deadline);
	for (w = e->waiters; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
	free(e);
}

void
dlv_sts_free(struct qmgr *q)
{
	struct dlv_sts_cache *sc = q->sts;

	if (sc == NULL)
		return;
	hmap_free(&sc->entries, entry_free);
	if (sc->dirfd != -1)
		(void)close(sc->dirfd);
	free(sc);
	q->sts = NULL;
}

/* Drops the entries that are neither valid nor busy. */
static bool
stale(const char *key, void *val, void *arg)
{
	struct sts_entry *e = val;

	(void)key;
	(void)arg;
	if (e->busy || !expired(e, clock_now()))
		return false;
	entry_free(e);
	return true;
}

struct dlv_sts_wait *
dlv_sts_get(struct qmgr *q, const char *domain, dlv_sts_cb *cb, void *arg)
{
	struct dlv_sts_cache *sc = q->sts;
	struct dlv_sts_wait *w = xcalloc(1, sizeof(*w)), **tail;
	char key[256], name[300];
	struct sts_entry *e;

	(void)str_copy(key, domain, sizeof(key));
	str_lower(key);
	if ((e = hmap_get(sc->entries, key)) == NULL) {
		if (hmap_count(sc->entries) >= STS_CACHE_MAX)
			hmap_sweep(sc->entries, stale, NULL);
		e = entry_new(sc, key);
		(void)hmap_put(sc->entries, e->domain, e);
	}
	w->e = e;
	w->cb = cb;
	w->arg = arg;
	for (tail = &e->waiters; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = w;
	if (!e->busy) {
		e->busy = true;
		(void)str_fmt(name, sizeof(name), "_mta-sts.%s", e->domain);
		e->dnsreq = dns_txt(q->d.dns, name, STS_DNS_TIMEOUT_MS, on_txt,
		    e);
	}
	return w;
}

void
dlv_sts_cancel(struct dlv_sts_wait **wp)
{
	struct dlv_sts_wait *w = *wp, **pp;

	if (w == NULL)
		return;
	*wp = NULL;
	for (pp = &w->e->waiters; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	free(w);
}
