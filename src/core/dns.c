/*
 * dns.c - c-ares driven by libevent.
 *
 * c-ares tells us which sockets it wants watched (ARES_OPT_SOCK_STATE_CB);
 * each gets a libevent event that calls ares_process_fd(), and one timer
 * follows ares_timeout(). c-ares cannot cancel a single query, so a
 * request that timed out or was cancelled stays allocated, marked done,
 * until c-ares has called back for each of its queries.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <arpa/nameser.h>

#include <ares.h>
#include <event2/event.h>

#include "core/dns.h"
#include "util/clock.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

struct dns_sock {
	struct dns_sock		*next;
	ares_socket_t		 fd;
	struct event		*ev;
	struct dns		*dns;
};

struct dns {
	struct event_base	*base;
	ares_channel		 ch;
	struct dns_sock		*socks;
	struct event		*timer;
	struct hmap		*txt_cache;	/* name: struct txt_entry */
	struct hmap		*rr_cache;	/* struct rr_entry */
	char			 err[256];
};

/* A cached TXT answer. */
struct txt_entry {
	struct dns_txt_set	 set;
	uint64_t		 expires;	/* clock_mono_ms() */
};

/* A cached MX ("m:NAME") or address ("a:NAME") answer. */
struct rr_entry {
	int			 status;
	uint64_t		 expires;
	size_t			 n;
	struct dns_mx		*mx;
	struct netaddr		*addrs;
};
#define TXT_CACHE_MAX	20000	/* entries, then the cache starts anew */

enum req_kind {
	REQ_REVERSE,
	REQ_MX,
	REQ_ADDRS,
	REQ_TXT,
	REQ_PTR,
	REQ_AD,		/* dns_secure, dns_tlsa */
};

#define MAX_ADDRS	32
#define MAX_MX		32

struct dns_req {
	struct dns		*dns;
	enum req_kind		 kind;
	void			*cb;
	void			*arg;
	struct event		*timer;		/* the time limit */
	struct event		*deliver;	/* answers, deferred */
	int			 pending;	/* c-ares queries out */
	bool			 done;		/* the result is set */
	bool			 delivered;	/* the user was called */
	bool			 cancelled;
	int			 status;
	struct netaddr		 addr;		/* REVERSE: the client */
	char			 name[256];	/* REVERSE: the PTR name */
	struct dns_mx		 mx[MAX_MX];
	size_t			 nmx;
	struct netaddr		 addrs[MAX_ADDRS];
	size_t			 naddrs;
	struct dns_txt_set	 txt;		/* TXT: the answer */
	struct dns_tlsa_set	*ad;		/* AD: the answer */
	bool			 ad_tlsa;	/* AD: dns_tlsa's callback */
	unsigned		 ad_type;	/* AD: the type asked */
	char			 qname[256];	/* TXT: the name asked;
						   MX, ADDRS: its cache key */
};

static void dns_schedule(struct dns *);
static void txt_entry_free(void *);
static void rr_entry_free(void *);
static void txt_deliver(struct dns_req *);
static void ad_deliver(struct dns_req *);
static void ptr_deliver(struct dns_req *);

static void
on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct dns_sock *ds = arg;
	struct dns *d = ds->dns;

	/* ares_process_fd() may close the socket: sock_state() then frees
	   DS, so nothing of it is used afterwards. */
	ares_process_fd(d->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	dns_schedule(d);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;

	(void)fd;
	(void)what;
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_schedule(d);
}

static void
dns_schedule(struct dns *d)
{
	struct timeval tv, *t;

	t = ares_timeout(d->ch, NULL, &tv);
	if (t == NULL)
		(void)event_del(d->timer);
	else
		(void)event_add(d->timer, t);
}

static void
sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	struct dns_sock **pp, *ds;

	for (pp = &d->socks; (ds = *pp) != NULL; pp = &ds->next)
		if (ds->fd == fd)
			break;
	if (!readable && !writable) {
		if (ds != NULL) {
			*pp = ds->next;
			event_free(ds->ev);
			free(ds);
		}
		return;
	}
	if (ds == NULL) {
		ds = xcalloc(1, sizeof(*ds));
		ds->fd = fd;
		ds->dns = d;
		ds->next = d->socks;
		d->socks = ds;
	} else {
		event_free(ds->ev);
	}
	ds->ev = event_new(d->base, fd, EV_PERSIST |
	    (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0), on_sock, ds);
	if (ds->ev == NULL || event_add(ds->ev, NULL) == -1)
		log_error("dns: cannot watch a resolver socket");
}

struct dns *
dns_new(struct event_base *base, const char *servers, const char **error_r)
{
	struct dns *d = xcalloc(1, sizeof(*d));
	struct ares_options o;
	int mask, r;

	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = d;
	o.timeout = 2000;	/* per try, ms */
	o.tries = 2;
	o.lookups = (char *)"b";	/* DNS only, never /etc/hosts */
	mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	    ARES_OPT_LOOKUPS;
	d->base = base;
	r = ares_library_init(ARES_LIB_INIT_ALL);
	if (r == ARES_SUCCESS)
		r = ares_init_options(&d->ch, &o, mask);
	if (r == ARES_SUCCESS && servers != NULL && *servers != '\0')
		r = ares_set_servers_ports_csv(d->ch, servers);
	if (r != ARES_SUCCESS) {
		(void)snprintf(d->err, sizeof(d->err), "resolver: %s",
		    ares_strerror(r));
		*error_r = d->err;
		free(d);
		return NULL;
	}
	d->timer = evtimer_new(base, on_timer, d);
	d->txt_cache = hmap_new();
	d->rr_cache = hmap_new();
	return d;
}

void
dns_free(struct dns **dp)
{
	struct dns *d = *dp;
	struct dns_sock *ds;

	if (d == NULL)
		return;
	*dp = NULL;
	/* Calls every outstanding callback with ARES_EDESTRUCTION. */
	ares_destroy(d->ch);
	while ((ds = d->socks) != NULL) {
		d->socks = ds->next;
		event_free(ds->ev);
		free(ds);
	}
	event_free(d->timer);
	hmap_free(&d->txt_cache, txt_entry_free);
	hmap_free(&d->rr_cache, rr_entry_free);
	ares_library_cleanup();
	free(d);
}

static void
txt_entry_free(void *p)
{
	struct txt_entry *e = p;

	dns_txt_set_free(&e->set);
	free(e);
}

static void
req_put(struct dns_req *r)
{
	if (r->pending == 0 && r->done && (r->delivered || r->cancelled)) {
		dns_txt_set_free(&r->txt);
		free(r->ad);
		event_free(r->timer);
		event_free(r->deliver);
		free(r);
	}
}

static int
map_status(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return 1;
	case ARES_ENODATA:
		return 0;
	case ARES_ENOTFOUND:
		return DNS_NXDOMAIN;
	default:
		return -1;
	}
}

/* Sets the result once; the user hears of it from the loop, never from
   inside the call that started the request. */
static void
finish(struct dns_req *r, int status)
{
	if (r->done)
		return;
	r->done = true;
	r->status = status;
	(void)event_del(r->timer);
	event_active(r->deliver, 0, 0);
}

static void
on_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct dns_req *r = arg;

	(void)fd;
	(void)what;
	if (!r->cancelled) {
		r->delivered = true;
		switch (r->kind) {
		case REQ_REVERSE:
			((dns_name_cb *)r->cb)(r->status, r->status == 1 ?
			    r->name : NULL, r->arg);
			break;
		case REQ_MX:
			((dns_mx_cb *)r->cb)(r->status, r->mx, r->nmx, r->arg);
			break;
		case REQ_ADDRS:
			((dns_addr_cb *)r->cb)(r->status, r->addrs, r->naddrs,
			    r->arg);
			break;
		case REQ_TXT:
			txt_deliver(r);
			break;
		case REQ_PTR:
			ptr_deliver(r);
			break;
		case REQ_AD:
			ad_deliver(r);
			break;
		}
	}
	req_put(r);
}

static void
txt_deliver(struct dns_req *r)
{
	((dns_txt_cb *)r->cb)(r->status, r->status == 1 ? r->txt.rec : NULL,
	    r->status == 1 ? r->txt.n : 0, r->arg);
}

static void
on_req_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dns_req *r = arg;

	(void)fd;
	(void)what;
	r->nmx = r->naddrs = 0;
	dns_txt_set_free(&r->txt);
	finish(r, -1);
}

static struct dns_req *
req_new(struct dns *d, enum req_kind kind, void *cb, void *arg,
    unsigned timeout_ms)
{
	struct dns_req *r = xcalloc(1, sizeof(*r));
	struct timeval tv = { timeout_ms / 1000,
		(suseconds_t)(timeout_ms % 1000) * 1000 };

	r->dns = d;
	r->kind = kind;
	r->cb = cb;
	r->arg = arg;
	r->timer = evtimer_new(d->base, on_req_timeout, r);
	r->deliver = event_new(d->base, -1, 0, on_deliver, r);
	(void)evtimer_add(r->timer, &tv);
	return r;
}

void
dns_cancel(struct dns_req **rp)
{
	struct dns_req *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	r->cancelled = true;
	if (!r->done) {
		r->done = true;
		(void)event_del(r->timer);
	}
	(void)event_del(r->deliver);
	req_put(r);
}

/* Collects the addresses of an addrinfo result. */
static size_t
collect(const struct ares_addrinfo *ai, struct netaddr *out, size_t max)
{
	const struct ares_addrinfo_node *n;
	size_t k = 0;
	int fam;

	/* IPv4 first, then IPv6: most MX hosts are reached over v4. */
	for (fam = 0; fam < 2; fam++) {
		for (n = ai != NULL ? ai->nodes : NULL; n != NULL && k < max;
		    n = n->ai_next) {
			if ((fam == 0) != (n->ai_family == AF_INET))
				continue;
			if (net_addr_from_sockaddr(n->ai_addr, &out[k]) == 0)
				k++;
		}
	}
	return k;
}

/* The smallest TTL of an addrinfo's addresses. */
static uint32_t
min_ttl(const struct ares_addrinfo *ai)
{
	const struct ares_addrinfo_node *n;
	uint32_t t = UINT32_MAX;

	for (n = ai != NULL ? ai->nodes : NULL; n != NULL; n = n->ai_next)
		if (n->ai_ttl >= 0 && (uint32_t)n->ai_ttl < t)
			t = (uint32_t)n->ai_ttl;
	return t == UINT32_MAX ? 0 : t;
}

/* ---- reverse ---- */

static void
on_confirm(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct dns_req *r = arg;
	struct netaddr a[MAX_ADDRS];
	size_t n, i;

	(void)timeouts;
	r->pending--;
	if (!r->done) {
		int st = map_status(status);

		n = st == 1 ? collect(ai, a, MAX_ADDRS) : 0;
		for (i = 0; i < n; i++)
			if (net_addr_equal(&a[i], &r->addr))
				break;
		finish(r, st == -1 ? -1 : i < n ? 1 : 0);
	}
	if (ai != NULL)
		ares_freeaddrinfo(ai);
	req_put(r);
}

static void
on_ptr(void *arg, int status, int timeouts, struct hostent *he)
{
	struct dns_req *r = arg;
	struct ares_addrinfo_hints hints;

	(void)timeouts;
	r->pending--;
	if (!r->done) {
		int st = map_status(status);

		if (st != 1 || he == NULL || he->h_name == NULL ||
		    str_copy(r->name, he->h_name, sizeof(r->name)) == -1 ||
		    strspn(r->name, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
		    strlen(r->name)) {
			finish(r, st == -1 ? -1 : 0);
		} else {
			memset(&hints, 0, sizeof(hints));
			hints.ai_family = AF_UNSPEC;
			hints.ai_flags = ARES_AI_NOSORT;
			r->pending++;
			ares_getaddrinfo(r->dns->ch, r->name, NULL, &hints,
			    on_confirm, r);
			dns_schedule(r->dns);
		}
	}
	req_put(r);
}

struct dns_req *
dns_reverse(struct dns *d, const struct netaddr *addr, unsigned timeout_ms,
    dns_name_cb *cb, void *arg)
{
	struct dns_req *r = req_new(d, REQ_REVERSE, (void *)cb, arg,
	    timeout_ms);

	r->addr = *addr;
	r->pending++;
	ares_gethostbyaddr(d->ch, addr->a, addr->family == AF_INET ? 4 : 16,
	    addr->family, on_ptr, r);
	dns_schedule(d);
	return r;
}

/* ---- the MX and address cache ---- */

static void
rr_entry_free(void *p)
{
	struct rr_entry *e = p;

	free(e->mx);
	free(e->addrs);
	free(e);
}

/* R's cache key, "m:NAME" or "a:NAME" in lower case; false when NAME
   is too long to be one. */
static bool
rr_key(struct dns_req *r, char kind, const char *name)
{
	size_t i;

	if (str_fmt(r->qname, sizeof(r->qname), "%c:%s", kind, name) == -1)
		return false;
	for (i = 2; r->qname[i] != '\0'; i++)
		if (r->qname[i] >= 'A' && r->qname[i] <= 'Z')
			r->qname[i] = (char)(r->qname[i] - 'A' + 'a');
	return true;
}

/* An answer from the cache into R: true when there was one. */
static bool
rr_cached(struct dns_req *r)
{
	struct rr_entry *e = hmap_get(r->dns->rr_cache, r->qname);

	if (e == NULL)
		return false;
	if (e->expires <= clock_mono_ms()) {
		rr_entry_free(hmap_del(r->dns->rr_cache, r->qname));
		return false;
	}
	if (r->kind == REQ_MX) {
		r->nmx = e->n;
		if (e->n > 0)
			memcpy(r->mx, e->mx, e->n * sizeof(*r->mx));
	} else {
		r->naddrs = e->n;
		if (e->n > 0)
			memcpy(r->addrs, e->addrs, e->n * sizeof(*r->addrs));
	}
	finish(r, e->status);
	return true;
}

/* Keeps R's definite answer for TTL seconds. */
static void
rr_remember(struct dns_req *r, int status, uint32_t ttl)
{
	struct rr_entry *e, *old;
	size_t n = r->kind == REQ_MX ? r->nmx : r->naddrs;

	if (ttl == 0 || status == -1 || r->qname[0] == '\0')
		return;
	if (hmap_count(r->dns->rr_cache) >= TXT_CACHE_MAX) {
		hmap_free(&r->dns->rr_cache, rr_entry_free);
		r->dns->rr_cache = hmap_new();
	}
	e = xcalloc(1, sizeof(*e));
	e->status = status;
	e->expires = clock_mono_ms() + (uint64_t)(ttl < 86400 ? ttl : 86400) *
	    1000;
	e->n = n;
	if (r->kind == REQ_MX && n > 0) {
		e->mx = xreallocarray(NULL, n, sizeof(*e->mx));
		memcpy(e->mx, r->mx, n * sizeof(*e->mx));
	} else if (n > 0) {
		e->addrs = xreallocarray(NULL, n, sizeof(*e->addrs));
		memcpy(e->addrs, r->addrs, n * sizeof(*e->addrs));
	}
	if ((old = hmap_put(r->dns->rr_cache, r->qname, e)) != NULL)
		rr_entry_free(old);
}

/* ---- MX ---- */

static void
on_mx(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_req *r = arg;
	struct ares_mx_reply *mx = NULL, *m;
	uint32_t ttl;
	int st;

	(void)timeouts;
	r->pending--;
	if (!r->done) {
		st = map_status(status);
		if (st == 1) {
			int pr = ares_parse_mx_reply(abuf, alen, &mx);

			if (pr == ARES_ENODATA)
				st = 0;
			else if (pr != ARES_SUCCESS)
				st = -1;
		}
		for (m = mx; st == 1 && m != NULL && r->nmx < MAX_MX;
		    m = m->next) {
			struct dns_mx *o = &r->mx[r->nmx];
			const char *h = strcmp(m->host, ".") == 0 ? "" :
			    m->host;

			if (str_copy(o->host, h, sizeof(o->host)) == -1)
				continue;
			o->pref = m->priority;
			r->nmx++;
		}
		if (st == 1 && r->nmx == 0)
			st = 0;
		if (st != -1 && abuf != NULL && alen > 0 &&
		    dns_answer_ttl(abuf, (size_t)alen, ns_t_mx, &ttl) == 0)
			rr_remember(r, st, ttl);
		finish(r, st);
	}
	if (mx != NULL)
		ares_free_data(mx);
	req_put(r);
}

struct dns_req *
dns_mx(struct dns *d, const char *domain, unsigned timeout_ms, dns_mx_cb *cb,
    void *arg)
{
	struct dns_req *r = req_new(d, REQ_MX, (void *)cb, arg, timeout_ms);

	if (rr_key(r, 'm', domain) && rr_cached(r))
		return r;
	r->pending++;
	ares_query(d->ch, domain, ns_c_in, ns_t_mx, on_mx, r);
	dns_schedule(d);
	return r;
}

/* ---- A / AAAA ---- */

static void
on_addrs(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct dns_req *r = arg;
	int st;

	(void)timeouts;
	r->pending--;
	if (!r->done) {
		st = map_status(status);
		r->naddrs = st == 1 ? collect(ai, r->addrs, MAX_ADDRS) : 0;
		if (st == 1 && r->naddrs == 0)
			st = 0;
		/* Only found ones: getaddrinfo has no negative TTL. */
		if (st == 1)
			rr_remember(r, st, min_ttl(ai));
		finish(r, st);
	}
	if (ai != NULL)
		ares_freeaddrinfo(ai);
	req_put(r);
}

struct dns_req *
dns_addrs(struct dns *d, const char *host, unsigned timeout_ms,
    dns_addr_cb *cb, void *arg)
{
	struct dns_req *r = req_new(d, REQ_ADDRS, (void *)cb, arg, timeout_ms);
	struct ares_addrinfo_hints hints;

	if (rr_key(r, 'a', host) && rr_cached(r))
		return r;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = ARES_AI_NOSORT;
	r->pending++;
	ares_getaddrinfo(d->ch, host, NULL, &hints, on_addrs, r);
	dns_schedule(d);
	return r;
}

/* ---- TXT ---- */

/* DST: a copy of SRC, its texts its own. */
static void
set_copy(struct dns_txt_set *dst, const struct dns_txt_set *src)
{
	size_t i, total = 0;

	*dst = *src;
	dst->blob = NULL;
	if (src->n == 0)
		return;
	for (i = 0; i < src->n; i++)
		total += src->rec[i].len + 1;
	dst->blob = xmalloc(total);
	total = 0;
	for (i = 0; i < src->n; i++) {
		memcpy(dst->blob + total, src->rec[i].text, src->rec[i].len + 1);
		dst->rec[i].text = dst->blob + total;
		total += src->rec[i].len + 1;
	}
}

/* Keeps a definite answer (found, NODATA, NXDOMAIN) for its TTL. */
static void
txt_remember(struct dns *d, const char *name, int status,
    struct dns_txt_set *set)
{
	struct txt_entry *e, *old;

	if (set->ttl == 0)
		return;
	if (hmap_count(d->txt_cache) >= TXT_CACHE_MAX) {
		hmap_free(&d->txt_cache, txt_entry_free);
		d->txt_cache = hmap_new();
	}
	e = xcalloc(1, sizeof(*e));
	set->status = status;
	e->expires = clock_mono_ms() + (uint64_t)set->ttl * 1000;
	set_copy(&e->set, set);
	if ((old = hmap_put(d->txt_cache, name, e)) != NULL)
		txt_entry_free(old);
}

static void
on_txt(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_req *r = arg;
	int st;

	(void)timeouts;
	r->pending--;
	if (!r->done) {
		st = map_status(status);
		if (st != -1 && (abuf == NULL || alen < 0 ||
		    dns_txt_parse(abuf, (size_t)alen, &r->txt) == -1))
			st = -1;
		if (st == 1 && r->txt.n == 0)
			st = 0;
		if (st != -1)
			txt_remember(r->dns, r->qname, st, &r->txt);
		finish(r, st);
	}
	req_put(r);
}

struct dns_req *
dns_txt(struct dns *d, const char *name, unsigned timeout_ms, dns_txt_cb *cb,
    void *arg)
{
	struct dns_req *r = req_new(d, REQ_TXT, (void *)cb, arg, timeout_ms);
	struct txt_entry *e;
	size_t i;

	if (str_copy(r->qname, name, sizeof(r->qname)) == -1) {
		finish(r, DNS_NXDOMAIN);	/* no such name can exist */
		return r;
	}
	for (i = 0; r->qname[i] != '\0'; i++)
		if (r->qname[i] >= 'A' && r->qname[i] <= 'Z')
			r->qname[i] = (char)(r->qname[i] - 'A' + 'a');
	if ((e = hmap_get(d->txt_cache, r->qname)) != NULL) {
		if (e->expires > clock_mono_ms()) {
			set_copy(&r->txt, &e->set);
			finish(r, e->set.status);
			return r;
		}
		txt_entry_free(hmap_del(d->txt_cache, r->qname));
	}
	r->pending++;
	ares_query(d->ch, name, ns_c_in, ns_t_txt, on_txt, r);
	dns_schedule(d);
	return r;
}

/* ---- DNS blocklists ---- */

int
dns_dnsbl_name(const struct netaddr *addr, const char *zone, char *out,
    size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	char rev[64 + 1], *p = rev;
	int i;

	if (addr->family == AF_INET) {
		(void)snprintf(rev, sizeof(rev), "%u.%u.%u.%u.", addr->a[3],
		    addr->a[2], addr->a[1], addr->a[0]);
	} else {
		for (i = 15; i >= 0; i--) {
			*p++ = hex[addr->a[i] & 0x0f];
			*p++ = '.';
			*p++ = hex[addr->a[i] >> 4];
			*p++ = '.';
		}
		*p = '\0';
	}
	return str_fmt(out, outsz, "%s%s", rev, zone);
}

/* ---- A or AAAA alone ---- */

static void
on_family(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_req *r = arg;
	struct ares_addrttl a4[MAX_ADDRS];
	struct ares_addr6ttl a6[MAX_ADDRS];
	int st, n = MAX_ADDRS, pr, i;

	(void)timeouts;
	r->pending--;
	if (!r->done) {
		st = map_status(status);
		if (st == 1) {
			/* r->addr.family: the family asked for. */
			pr = r->addr.family == AF_INET ?
			    ares_parse_a_reply(abuf, alen, NULL, a4, &n) :
			    ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n);
			if (pr == ARES_ENODATA)
				st = 0;
			else if (pr != ARES_SUCCESS)
				st = -1;
		}
		for (i = 0; st == 1 && i < n && r->naddrs < MAX_ADDRS; i++) {
			struct netaddr *o = &r->addrs[r->naddrs++];

			o->family = r->addr.family;
			if (o->family == AF_INET)
				memcpy(o->a, &a4[i].ipaddr, 4);
			else
				memcpy(o->a, &a6[i].ip6addr, 16);
		}
		if (st == 1 && r->naddrs == 0)
			st = 0;
		finish(r, st);
	}
	req_put(r);
}

struct dns_req *
dns_addrs_family(struct dns *d, const char *host, int family,
    unsigned timeout_ms, dns_addr_cb *cb, void *arg)
{
	struct dns_req *r = req_new(d, REQ_ADDRS, (void *)cb, arg, timeout_ms);

	r->addr.family = family;
	r->pending++;
	ares_query(d->ch, host, ns_c_in, family == AF_INET ? ns_t_a :
	    ns_t_aaaa, on_family, r);
	dns_schedule(d);
	return r;
}

/* ---- every PTR name ---- */

/* Keeps NAME (once) in the MX slots, which a PTR request does not use
   otherwise. */
static void
ptr_keep(struct dns_req *r, const char *name)
{
	size_t i;

	if (name == NULL || strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != strlen(name))
		return;
	for (i = 0; i < r->nmx; i++)
		if (strcasecmp(r->mx[i].host, name) == 0)
			return;
	if (r->nmx < MAX_MX &&
	    str_copy(r->mx[r->nmx].host, name, sizeof(r->mx[0].host)) == 0)
		r->nmx++;
}

static void
on_ptrs(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_req *r = arg;
	struct hostent *he = NULL;
	int st, pr;
	size_t i;

	(void)timeouts;
	r->pending--;
	if (!r->done) {
		st = map_status(status);
		if (st == 1) {
			pr = ares_parse_ptr_reply(abuf, alen, r->addr.a,
			    r->addr.family == AF_INET ? 4 : 16,
			    r->addr.family, &he);
			if (pr == ARES_ENODATA)
				st = 0;
			else if (pr != ARES_SUCCESS)
				st = -1;
		}
		/* c-ares puts every name among the aliases and one of
		   them in h_name too; in the answer's order. */
		for (i = 0; st == 1 && he != NULL && he->h_aliases != NULL &&
		    he->h_aliases[i] != NULL; i++)
			ptr_keep(r, he->h_aliases[i]);
		if (st == 1 && he != NULL)
			ptr_keep(r, he->h_name);
		if (st == 1 && r->nmx == 0)
			st = 0;
		finish(r, st);
	}
	if (he != NULL)
		ares_free_hostent(he);
	req_put(r);
}

static void
ptr_deliver(struct dns_req *r)
{
	const char *names[MAX_MX];
	size_t i;

	for (i = 0; i < r->nmx; i++)
		names[i] = r->mx[i].host;
	((dns_names_cb *)r->cb)(r->status, r->status == 1 ? names : NULL,
	    r->status == 1 ? r->nmx : 0, r->arg);
}

struct dns_req *
dns_ptr(struct dns *d, const struct netaddr *addr, unsigned timeout_ms,
    dns_names_cb *cb, void *arg)
{
	struct dns_req *r = req_new(d, REQ_PTR, (void *)cb, arg, timeout_ms);
	char qname[128];

	r->addr = *addr;
	if (dns_dnsbl_name(addr, addr->family == AF_INET ? "in-addr.arpa" :
	    "ip6.arpa", qname, sizeof(qname)) == -1) {
		finish(r, -1);
		return r;
	}
	r->pending++;
	ares_query(d->ch, qname, ns_c_in, ns_t_ptr, on_ptrs, r);
	dns_schedule(d);
	return r;
}

struct event_base *
dns_event_base(struct dns *d)
{
	return d->base;
}

/* ---- asked with AD: dns_secure, dns_tlsa ---- */

static void
ad_deliver(struct dns_req *r)
{
	const struct dns_tlsa_set *a = r->ad;
	bool ok = r->status != -1;

	if (r->ad_tlsa)
		((dns_tlsa_cb *)r->cb)(r->status, ok && a->secure,
		    r->status == 1 ? a->rec : NULL, r->status == 1 ? a->n : 0,
		    r->arg);
	else
		((dns_secure_cb *)r->cb)(r->status, ok && a->secure, r->arg);
}

static void
on_ad(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_req *r = arg;
	int st = -1;

	(void)timeouts;
	r->pending--;
	if (!r->done) {
		/* ares_send answers any RCODE with ARES_SUCCESS (but
		   SERVFAIL, REFUSED after every server): the message says. */
		if (status == ARES_SUCCESS && abuf != NULL && alen > 0 &&
		    dns_tlsa_parse(abuf, (size_t)alen, r->ad_type,
		    r->ad) == 0)
			st = r->ad->status;
		else
			r->ad->n = 0;
		finish(r, st);
	}
	req_put(r);
}

/* A query of TYPE for NAME with the AD bit set (RFC 6840 5.7), sent
   with EDNS so that larger answers come over UDP. */
static struct dns_req *
ad_query(struct dns *d, const char *name, unsigned type, bool tlsa,
    unsigned timeout_ms, void *cb, void *arg)
{
	struct dns_req *r = req_new(d, REQ_AD, cb, arg, timeout_ms);
	unsigned char *q = NULL;
	int qlen = 0;

	r->ad = xcalloc(1, sizeof(*r->ad));
	r->ad_tlsa = tlsa;
	r->ad_type = type;
	if (ares_create_query(name, ns_c_in, (int)type, 0, 1, &q, &qlen,
	    1232) != ARES_SUCCESS || qlen < 12) {
		if (q != NULL)
			ares_free_string(q);
		finish(r, DNS_NXDOMAIN);	/* no such name can exist */
		return r;
	}
	q[3] |= 0x20;	/* AD */
	r->pending++;
	ares_send(d->ch, q, qlen, on_ad, r);
	ares_free_string(q);
	dns_schedule(d);
	return r;
}

struct dns_req *
dns_secure(struct dns *d, const char *name, unsigned type,
    unsigned timeout_ms, dns_secure_cb *cb, void *arg)
{
	return ad_query(d, name, type, false, timeout_ms, (void *)cb, arg);
}

struct dns_req *
dns_tlsa(struct dns *d, const char *name, unsigned timeout_ms,
    dns_tlsa_cb *cb, void *arg)
{
	return ad_query(d, name, 52, true, timeout_ms, (void *)cb, arg);
}
