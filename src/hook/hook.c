/*
 * hook.c - webhooks: the events fired, the queue of deliveries.
 *
 * hook_fire() may run on any thread: it builds the event's JSON body
 * (jansson) outside any lock, then appends it to the list of fired
 * events under LOCK and wakes the loop through an eventfd. On the loop,
 * every event becomes one delivery per URL subscribed to it at that
 * moment; a delivery keeps a copy of its URL, so a reload changes the
 * subscriptions of the events that follow it, not of those queued.
 *
 * A delivery waits on its timer: the next attempt, then, while an
 * attempt runs, its deadline (webhook_timeout for the whole attempt,
 * from the DNS lookup to the last octet of the answer: evhttp's own
 * timeout is per read, a receiver sending a byte a second would keep it
 * open forever). At most HOOK_INFLIGHT_MAX attempts run at once.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "hook/hook_int.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define ONCE_MAX	4096	/* keys hook_once() remembers */

/* A fired event on its way to the loop. */
struct fired {
	struct fired	*next;
	enum hook_event	 event;
	char		 id[HOOK_ID_LEN + 1];
	char		*body;
	size_t		 len;
};

/* Shared by every thread, under LOCK. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct hooks *active;
static unsigned subscribed;	/* bit E: some URL wants event E */
static size_t fired_max;	/* webhook_queue_max */
static struct fired *fired_head, **fired_tail = &fired_head;
static size_t nfired;
static struct hmap *once;	/* "E KEY" -> time_t *, until when */
static struct hook_seen *seen;
static time_t ip_memory;
static unsigned ipv6_prefix;

static unsigned
event_mask(const struct config *cfg)
{
	unsigned m = 0;
	size_t i;

	for (i = 0; i < cfg->nwebhook; i++)
		m |= cfg->webhook[i].events;
	return m;
}

static bool
wanted(enum hook_event ev)
{
	bool w;

	pthread_mutex_lock(&lock);
	w = active != NULL && (subscribed & (1u << ev)) != 0;
	pthread_mutex_unlock(&lock);
	return w;
}

/* S as a JSON string: bytes that are not UTF-8 become '?'. */
static json_t *
jstr(const char *s)
{
	json_t *j = json_string(s);
	char *copy;
	size_t i;

	if (j != NULL)
		return j;
	copy = xstrdup(s);
	for (i = 0; copy[i] != '\0'; i++)
		if ((unsigned char)copy[i] >= 0x80)
			copy[i] = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static void
random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[32];
	size_t i;

	if (nbytes > sizeof(r) || RAND_bytes(r, (int)nbytes) != 1)
		PANIC("no randomness for a webhook id");
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[2 * nbytes] = '\0';
}

/* {"id": ID, "event": NAME, "time": "2026-12-03T17:50:58Z",
   "data": {FIELDS}}, compact; NULL when it cannot be made. */
static char *
make_body(enum hook_event ev, const char *id, const struct hook_field *f,
    size_t n, size_t *len_r)
{
	json_t *o = json_object(), *data = json_object();
	char when[32], *s = NULL;
	time_t now = clock_now();
	struct tm tm;
	size_t i;

	if (o == NULL || data == NULL)
		goto out;
	(void)gmtime_r(&now, &tm);
	(void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	for (i = 0; i < n; i++)
		(void)json_object_set_new(data, f[i].name, f[i].str != NULL ?
		    jstr(f[i].str) : json_integer(f[i].num));
	(void)json_object_set_new(o, "id", json_string(id));
	(void)json_object_set_new(o, "event",
	    json_string(config_webhook_event(ev)));
	(void)json_object_set_new(o, "time", json_string(when));
	(void)json_object_set(o, "data", data);
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s != NULL && strlen(s) > HOOK_BODY_MAX) {
		free(s);
		s = NULL;
	}
	if (s != NULL)
		*len_r = strlen(s);
out:
	json_decref(data);
	json_decref(o);
	return s;
}

void
hook_fire(enum hook_event ev, const struct hook_field *f, size_t n)
{
	struct fired *e;
	uint64_t one = 1;
	bool taken = false;

	if ((unsigned)ev >= HOOK_NEVENTS || !wanted(ev))
		return;
	e = xcalloc(1, sizeof(*e));
	e->event = ev;
	random_hex(e->id, HOOK_ID_LEN / 2);
	e->body = make_body(ev, e->id, f, n, &e->len);
	if (e->body == NULL) {
		log_error("webhook event=%s: cannot make its body",
		    config_webhook_event(ev));
		free(e);
		return;
	}
	pthread_mutex_lock(&lock);
	if (active != NULL && nfired < fired_max) {
		*fired_tail = e;
		fired_tail = &e->next;
		if (nfired++ == 0 && write(active->efd, &one, sizeof(one)) ==
		    -1 && errno != EAGAIN)
			log_error("webhook: eventfd write: %s",
			    strerror(errno));
		taken = true;
	}
	pthread_mutex_unlock(&lock);
	if (!taken) {
		log_warn("webhook event=%s id=%s dropped: too many waiting",
		    config_webhook_event(ev), e->id);
		free(e->body);
		free(e);
	}
}

static bool
once_expired(const char *key, void *val, void *arg)
{
	(void)key;
	if (*(time_t *)val > *(const time_t *)arg)
		return false;
	free(val);
	return true;
}

bool
hook_once(enum hook_event ev, const char *key, unsigned window)
{
	char k[512];
	time_t now = clock_now(), *until;
	bool first = true;

	if ((unsigned)ev >= HOOK_NEVENTS ||
	    str_fmt(k, sizeof(k), "%u %s", (unsigned)ev, key) == -1)
		return false;
	pthread_mutex_lock(&lock);
	if (active == NULL || (subscribed & (1u << ev)) == 0) {
		first = false;
	} else if ((until = hmap_get(once, k)) != NULL) {
		first = *until <= now;
		if (first)
			*until = now + (time_t)window;
	} else {
		if (hmap_count(once) >= ONCE_MAX)
			hmap_sweep(once, once_expired, &now);
		/* Still full: fire, without remembering. */
		if (hmap_count(once) < ONCE_MAX) {
			until = xmalloc(sizeof(*until));
			*until = now + (time_t)window;
			(void)hmap_put(once, k, until);
		}
	}
	pthread_mutex_unlock(&lock);
	return first;
}

void
hook_login(const char *mailbox, const char *customer,
    const struct netaddr *addr, const char *listener)
{
	struct netaddr a = *addr;
	char ip[NET_ADDRSTRLEN];
	bool fresh = false;

	/* Remembered whoever subscribes, so that a reload that adds
	   login.new_ip finds the mailboxes' addresses known. */
	pthread_mutex_lock(&lock);
	if (active != NULL) {
		/* An IPv6 client moves inside its prefix by itself. */
		if (a.family == AF_INET6)
			net_addr_mask(&a, ipv6_prefix);
		fresh = hook_seen_check(seen, mailbox, &a, clock_now(),
		    ip_memory) &&
		    (subscribed & (1u << HOOK_LOGIN_NEW_IP)) != 0;
	}
	pthread_mutex_unlock(&lock);
	if (!fresh)
		return;
	net_addr_format(addr, ip, sizeof(ip));
	HOOK_FIRE(HOOK_LOGIN_NEW_IP, HOOK_STR("mailbox", mailbox),
	    HOOK_STR("customer", customer), HOOK_STR("ip", ip),
	    HOOK_STR("listener", listener));
}

/* ---- the queue, on the loop ---- */

static void on_timer(evutil_socket_t, short, void *);

static void
dlv_free(struct hook_dlv *d)
{
	hook_attempt_stop(d);
	if (d->timer != NULL)
		event_free(d->timer);
	free(d->body);
	free(d);
}

/* D is done with (delivered, refused, too old, dropped): its copy goes. */
static void
finish(struct hook_dlv *d)
{
	struct hooks *h = d->h;

	if (d->inflight) {
		d->inflight = false;
		h->inflight--;
	}
	hook_spool_drop(h->spool, d);
	TAILQ_REMOVE(&h->q, d, link);
	h->nq--;
	dlv_free(d);
}

static void
arm(struct hook_dlv *d, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
		(suseconds_t)(ms % 1000) * 1000 };

	(void)evtimer_add(d->timer, &tv);
}

/* Appends D to the queue, the oldest going when it is full. */
static void
enqueue(struct hooks *h, struct hook_dlv *d, bool save)
{
	struct hook_dlv *old;

	/* One goes, one comes: a reload that lowers webhook_queue_max
	   shrinks the queue as old deliveries end. */
	if (h->nq >= h->cfg->webhook_queue_max &&
	    (old = TAILQ_FIRST(&h->q)) != NULL) {
		log_warn("webhook delivery=%s event=%s url=%s dropped: the "
		    "queue is full (webhook_queue_max=%llu)", old->id,
		    config_webhook_event(old->event), old->url.url,
		    (unsigned long long)h->cfg->webhook_queue_max);
		finish(old);
	}
	d->h = h;
	d->timer = evtimer_new(h->base, on_timer, d);
	TAILQ_INSERT_TAIL(&h->q, d, link);
	h->nq++;
	if (save)
		hook_spool_save(h->spool, d);
	arm(d, 0);
}

static struct hook_dlv *
dlv_new(const char *id, enum hook_event ev, const struct webhook_cfg *url,
    time_t created, const char *body, size_t len)
{
	struct hook_dlv *d = xcalloc(1, sizeof(*d));

	(void)str_copy(d->id, id, sizeof(d->id));
	d->event = ev;
	d->url = *url;
	d->created = created;
	d->body = xmalloc(len + 1);
	memcpy(d->body, body, len);
	d->body[len] = '\0';
	d->len = len;
	return d;
}

void
hook_requeue(struct hooks *h, const char *id, enum hook_event ev,
    const struct webhook_cfg *url, time_t created, const char *body,
    size_t len)
{
	enqueue(h, dlv_new(id, ev, url, created, body, len), false);
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct hooks *h = arg;
	struct fired *e, *next;
	const struct config *cfg = h->cfg;
	uint64_t v;
	char id[sizeof(((struct hook_dlv *)0)->id)];
	size_t i;

	(void)what;
	/* the count is not needed: the list is (EAGAIN when drained) */
	if (read(fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		log_error("webhook: eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&lock);
	e = fired_head;
	fired_head = NULL;
	fired_tail = &fired_head;
	nfired = 0;
	pthread_mutex_unlock(&lock);
	for (; e != NULL; e = next) {
		next = e->next;
		for (i = 0; i < cfg->nwebhook; i++) {
			if ((cfg->webhook[i].events & (1u << e->event)) == 0)
				continue;
			(void)str_fmt(id, sizeof(id), "%s.%zu", e->id, i + 1);
			enqueue(h, dlv_new(id, e->event, &cfg->webhook[i],
			    clock_now(), e->body, e->len), true);
		}
		free(e->body);
		free(e);
	}
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct hook_dlv *d = arg;
	struct hooks *h = d->h;

	(void)fd;
	(void)what;
	if (d->inflight) {
		/* the deadline */
		hook_attempt_stop(d);
		hook_attempt_done(d, 0, 0, "no answer within webhook_timeout");
		return;
	}
	if (h->inflight >= HOOK_INFLIGHT_MAX) {
		arm(d, 1000);
		return;
	}
	d->inflight = true;
	h->inflight++;
	arm(d, h->cfg->webhook_timeout * 1000);
	hook_attempt(d);
}

void
hook_attempt_done(struct hook_dlv *d, int status, unsigned retry_after,
    const char *why)
{
	struct hooks *h = d->h;
	uint32_t rnd = 0;
	uint64_t ms;
	time_t now = clock_now();

	if (!d->inflight)
		return;
	d->inflight = false;
	h->inflight--;
	(void)event_del(d->timer);
	d->attempts++;
	if (status >= 200 && status < 300) {
		log_info("webhook delivery=%s event=%s url=%s delivered "
		    "status=%d attempts=%u", d->id,
		    config_webhook_event(d->event), d->url.url, status,
		    d->attempts);
		finish(d);
		return;
	}
	if (!hook_status_retries(status)) {
		log_warn("webhook delivery=%s event=%s url=%s refused "
		    "status=%d attempts=%u: not retried", d->id,
		    config_webhook_event(d->event), d->url.url, status,
		    d->attempts);
		finish(d);
		return;
	}
	(void)RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
	ms = hook_backoff(d->attempts, h->cfg->webhook_retry_min, rnd);
	if (retry_after > ms / 1000)
		ms = (uint64_t)(retry_after < 3600 ? retry_after : 3600) * 1000;
	if (now + (time_t)(ms / 1000) > d->created +
	    (time_t)h->cfg->webhook_max_age) {
		log_warn("webhook delivery=%s event=%s url=%s given up after "
		    "attempts=%u (webhook_max_age): %s%.0d", d->id,
		    config_webhook_event(d->event), d->url.url, d->attempts,
		    status != 0 ? "status " : why, status);
		finish(d);
		return;
	}
	log_info("webhook delivery=%s event=%s url=%s failed attempts=%u: "
	    "%s%.0d; retry in %llus", d->id, config_webhook_event(d->event),
	    d->url.url, d->attempts, status != 0 ? "status " : why, status,
	    (unsigned long long)((ms + 999) / 1000));
	arm(d, ms);
}

/* ---- start, reload, stop ---- */

/* CFG's secret into *SECRET_R: the key's text, or the file's first
   line. 0, or -1 with *ERROR_R. */
static int
load_secret(const struct config *cfg, char **secret_r, const char **error_r)
{
	struct buf b;
	char *s;

	*secret_r = NULL;
	if (*cfg->webhook_secret_file == '\0') {
		*secret_r = xstrdup(cfg->webhook_secret);
		return 0;
	}
	buf_init(&b, 4096);
	if (fs_read_file(cfg->webhook_secret_file, &b) == -1) {
		buf_free(&b);
		*error_r = "cannot read webhook_secret_file";
		return -1;
	}
	s = xstrdup(buf_cstr(&b));
	buf_free(&b);
	s[strcspn(s, "\r\n")] = '\0';
	if (*s == '\0') {
		free(s);
		*error_r = "webhook_secret_file is empty";
		return -1;
	}
	*secret_r = s;
	return 0;
}

/* The settings every thread reads, from CFG. */
static void
publish(struct hooks *h, const struct config *cfg)
{
	pthread_mutex_lock(&lock);
	active = h;
	subscribed = h != NULL ? event_mask(cfg) : 0;
	fired_max = (size_t)cfg->webhook_queue_max;
	ip_memory = (time_t)cfg->webhook_ip_memory;
	ipv6_prefix = (unsigned)cfg->relay_ipv6_prefix;
	pthread_mutex_unlock(&lock);
}

int
hook_reload(struct hooks *h, const struct config *cfg, const char **error_r)
{
	char *secret;
	SSL_CTX *tls;

	if (load_secret(cfg, &secret, error_r) == -1)
		return -1;
	if ((tls = hook_tls_ctx(cfg->webhook_ca_file, error_r)) == NULL) {
		free(secret);
		return -1;
	}
	if (h->secret != NULL)
		OPENSSL_cleanse(h->secret, strlen(h->secret));
	free(h->secret);
	h->secret = secret;
	if (h->tls != NULL)
		SSL_CTX_free(h->tls);
	h->tls = tls;
	config_unref(&h->cfg);
	h->cfg = config_ref(cfg);
	publish(h, cfg);
	return 0;
}

struct hooks *
hook_new(struct event_base *base, struct dns *dns, struct worker_pool *io,
    int data_fd, const struct config *cfg, const char **error_r)
{
	struct hooks *h = xcalloc(1, sizeof(*h));

	h->base = base;
	h->dns = dns;
	h->data_fd = data_fd;
	TAILQ_INIT(&h->q);
	h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->efd == -1 || (h->ev_wake = event_new(base, h->efd,
	    EV_READ | EV_PERSIST, on_wake, h)) == NULL) {
		*error_r = "webhooks: no eventfd";
		goto fail;
	}
	(void)event_add(h->ev_wake, NULL);
	if (hook_reload(h, cfg, error_r) == -1)
		goto fail;
	h->spool = hook_spool_new(io, data_fd);
	pthread_mutex_lock(&lock);
	once = hmap_new();
	seen = hook_seen_new();
	hook_seen_load(seen, data_fd);
	pthread_mutex_unlock(&lock);
	hook_spool_load(h);
	return h;
fail:
	publish(NULL, cfg);
	if (h->ev_wake != NULL)
		event_free(h->ev_wake);
	if (h->efd != -1)
		(void)close(h->efd);
	config_unref(&h->cfg);
	free(h->secret);
	free(h);
	return NULL;
}

void
hook_free(struct hooks **hp)
{
	struct hooks *h = *hp;
	struct hook_dlv *d;
	struct fired *e, *next;

	if (h == NULL)
		return;
	*hp = NULL;
	pthread_mutex_lock(&lock);
	active = NULL;
	subscribed = 0;
	e = fired_head;
	fired_head = NULL;
	fired_tail = &fired_head;
	nfired = 0;
	hook_seen_save(seen, h->data_fd);
	hook_seen_free(&seen);
	hmap_free(&once, free);
	pthread_mutex_unlock(&lock);
	for (; e != NULL; e = next) {
		next = e->next;
		free(e->body);
		free(e);
	}
	/* The waiting deliveries stay in the spool for the next start. */
	while ((d = TAILQ_FIRST(&h->q)) != NULL) {
		TAILQ_REMOVE(&h->q, d, link);
		dlv_free(d);
	}
	hook_spool_free(&h->spool);
	event_free(h->ev_wake);
	(void)close(h->efd);
	if (h->tls != NULL)
		SSL_CTX_free(h->tls);
	if (h->secret != NULL)
		OPENSSL_cleanse(h->secret, strlen(h->secret));
	free(h->secret);
	config_unref(&h->cfg);
	free(h);
}
