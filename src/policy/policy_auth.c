/*
 * policy_auth.c - logins for POP3 and SMTP AUTH, the relay authorization
 * a good POP3 login records (SPEC section 1), and the per-address
 * throttle of failed logins.
 *
 * The password is checked against the crypt(3) hash (slow on purpose:
 * this runs on the cpu worker pool), or against the login cache of
 * recent successes (failures are never cached). An unknown user costs a
 * verification against a hash of the default kind. What makes every
 * failure take the same time is auth_failure_wait(): the answer goes
 * out auth_failure_delay after the client's last response, whether the
 * user was unknown or the hash a fast SHA-512-crypt or a slow bcrypt.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "policy/policy_int.h"
#include "core/conn.h"
#include "hook/hook.h"
#include "util/clock.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

void
policy_record_relay(struct backends *b, struct login *l)
{
	const struct config *cfg = b->cfg;
	struct relay_auth *ra;
	struct relay_entry e;
	const char *err;
	time_t now = clock_now();

	if (b->link != NULL) {
		policy_record_relay_remote(b, l);
		return;
	}
	if (l->mbox.suspended) {
		l->relay_note = "customer suspended";
		return;
	}
	if (netlist_match(&cfg->relay_never_authorize, &l->client)) {
		l->relay_note = "address in relay_never_authorize";
		return;
	}
	ra = backends_relay(b, &err);
	memset(&e, 0, sizeof(e));
	relay_key(&l->client, (unsigned)cfg->relay_ipv6_prefix, e.key,
	    sizeof(e.key));
	(void)str_copy(e.customer, l->mbox.customer, sizeof(e.customer));
	(void)str_copy(e.mailbox, l->mbox.address, sizeof(e.mailbox));
	net_addr_format(&l->client, e.client, sizeof(e.client));
	(void)str_copy(e.listener, l->listener, sizeof(e.listener));
	e.opened = now;
	e.expires = now + (time_t)cfg->relay_window;
	if (ra == NULL || relay_record(ra, &e, &err) == -1) {
		/* The login itself still works (SPEC: the relay just stays
		   closed until the next one). */
		log_error("relay-open-failed mailbox=%s client=%s: %s",
		    l->mbox.address, e.client, err);
		l->relay_note = "relay table unavailable";
		return;
	}
	l->relay_opened = true;
}

/* ---- the login cache ---- */

#define CACHE_KEY_LEN	32

struct cached_login {
	unsigned char	mac[EVP_MAX_MD_SIZE];
	uint64_t	expires_ms;	/* clock_mono_ms() */
};

struct login_cache {
	pthread_mutex_t	 lock;
	struct hmap	*entries;	/* address -> struct cached_login */
	unsigned char	 key[CACHE_KEY_LEN];
	uint64_t	 ttl_ms;
	size_t		 max;
};

struct login_cache *
login_cache_new(unsigned ttl_seconds, size_t max_entries)
{
	struct login_cache *c = xcalloc(1, sizeof(*c));

	if (RAND_bytes(c->key, sizeof(c->key)) != 1)
		log_fatal("login cache: no random key");
	if (pthread_mutex_init(&c->lock, NULL) != 0)
		log_fatal("login cache: mutex");
	c->entries = hmap_new();
	c->ttl_ms = (uint64_t)ttl_seconds * 1000;
	c->max = max_entries;
	return c;
}

void
login_cache_free(struct login_cache **cp)
{
	struct login_cache *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	hmap_free(&c->entries, free);
	(void)pthread_mutex_destroy(&c->lock);
	OPENSSL_cleanse(c->key, sizeof(c->key));
	free(c);
}

/* HMAC(key, address NUL hash NUL password) into MAC. */
static void
login_mac(const struct login_cache *c, const char *address,
    const char *hash, const char *password, unsigned char *mac)
{
	char msg[ADDR_BUFSZ + PASSWD_HASH_MAX + PASSWD_MAX + 3];
	size_t na = strlen(address) + 1, nh = strlen(hash) + 1;
	size_t np = strlen(password);
	unsigned int n = 0;

	if (na + nh + np > sizeof(msg))
		log_fatal("login cache: oversized login");
	memcpy(msg, address, na);
	memcpy(msg + na, hash, nh);
	/* Bytes for the MAC, not a string: */
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(msg + na + nh, password, np);
	if (HMAC(EVP_sha256(), c->key, sizeof(c->key),
	    (const unsigned char *)msg, na + nh + np, mac, &n) == NULL)
		log_fatal("login cache: HMAC failed");
	OPENSSL_cleanse(msg, sizeof(msg));
}

bool
login_cache_check(struct login_cache *c, const char *address,
    const char *hash, const char *password)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	struct cached_login *e;
	bool ok = false;

	login_mac(c, address, hash, password, mac);
	(void)pthread_mutex_lock(&c->lock);
	e = hmap_get(c->entries, address);
	if (e != NULL) {
		if (e->expires_ms > clock_mono_ms() &&
		    CRYPTO_memcmp(e->mac, mac, 32) == 0)
			ok = true;
		else if (e->expires_ms <= clock_mono_ms())
			free(hmap_del(c->entries, address));
	}
	(void)pthread_mutex_unlock(&c->lock);
	OPENSSL_cleanse(mac, sizeof(mac));
	return ok;
}

static bool
cache_expired(const char *key, void *val, void *arg)
{
	struct cached_login *e = val;

	(void)key;
	if (e->expires_ms > *(uint64_t *)arg)
		return false;
	free(e);
	return true;
}

void
login_cache_add(struct login_cache *c, const char *address, const char *hash,
    const char *password)
{
	struct cached_login *e = xcalloc(1, sizeof(*e));
	uint64_t now = clock_mono_ms();

	login_mac(c, address, hash, password, e->mac);
	e->expires_ms = now + c->ttl_ms;
	(void)pthread_mutex_lock(&c->lock);
	if (hmap_count(c->entries) >= c->max)
		hmap_sweep(c->entries, cache_expired, &now);
	if (hmap_count(c->entries) < c->max || hmap_get(c->entries, address))
		free(hmap_put(c->entries, address, e));
	else
		free(e);	/* full of live entries: this one is not kept */
	(void)pthread_mutex_unlock(&c->lock);
}

/* The password check: the cache, else crypt(3) (then cached). 1, 0, or
   -1 for a hash this system cannot check. */
static int
check_password(struct backends *b, struct login *l, bool known)
{
	int v;

	if (!known) {
		/* As long as a known user's check; the answer is no. */
		passwd_verify_dummy(l->pass);
		return 0;
	}
	if (b->logins != NULL && login_cache_check(b->logins, l->mbox.address,
	    l->mbox.hash, l->pass))
		return 1;
	v = passwd_verify(l->pass, l->mbox.hash);
	if (v == 1 && b->logins != NULL)
		login_cache_add(b->logins, l->mbox.address, l->mbox.hash,
		    l->pass);
	return v;
}

void
login_init(struct login *l, const char *user, const char *pass,
    const struct netaddr *client, const char *listener)
{
	memset(l, 0, sizeof(*l));
	l->started_us = clock_mono_us();
	(void)str_copy(l->user, user, sizeof(l->user));
	(void)str_copy(l->pass, pass, sizeof(l->pass));
	l->client = *client;
	(void)str_copy(l->listener, listener, sizeof(l->listener));
}

void
policy_verify_login(struct backends *b, struct login *l)
{
	struct store *s;
	const char *err = "";
	int r, v;

	l->result = -1;
	if (strchr(l->user, '@') == NULL && b->cfg != NULL &&
	    *b->cfg->login_default_domain != '\0') {
		char full[sizeof(l->user)];

		if (str_fmt(full, sizeof(full), "%s@%s", l->user,
		    b->cfg->login_default_domain) == -1) {
			l->result = 0;
			return;
		}
		(void)str_copy(l->user, full, sizeof(l->user));
	}
	s = backends_store(b, &err);
	if (s == NULL) {
		(void)str_copy(l->error, err, sizeof(l->error));
		return;
	}
	r = store_mailbox_get(s, l->user, &l->mbox, &err);
	if (r == -1) {
		(void)str_copy(l->error, err, sizeof(l->error));
		return;
	}
	v = check_password(b, l, r == 1);
	OPENSSL_cleanse(l->mbox.hash, sizeof(l->mbox.hash));
	if (r == 0 || v == 0) {
		l->result = 0;
		return;
	}
	if (v == -1) {
		/* A hash this system cannot check: the administrator must
		   fix it; to the client it is a failed login. */
		log_error("login mailbox=%s: unsupported password hash",
		    l->mbox.address);
		l->result = 0;
		return;
	}
	l->result = 1;
}

void
policy_login(struct backends *b, struct login *l)
{
	if (b->link != NULL)
		policy_login_remote(b, l);
	else
		policy_verify_login(b, l);
	/* POP3, IMAP and SMTP AUTH all pass here: the webhook's memory of
	   each mailbox's addresses. */
	if (l->result == 1)
		hook_login(l->mbox.address, l->mbox.customer, &l->client,
		    l->listener);
	OPENSSL_cleanse(l->pass, sizeof(l->pass));
	policy_count_login(l, false);
}

/* ---- throttle ---- */

struct failures {
	unsigned	count;
	time_t		first;
};

struct auth_throttle {
	struct hmap	*ips;
	unsigned	 max;
	unsigned	 window;
};

struct auth_throttle *
auth_throttle_new(unsigned max_failures, unsigned window_seconds)
{
	struct auth_throttle *t = xcalloc(1, sizeof(*t));

	t->ips = hmap_new();
	t->max = max_failures;
	t->window = window_seconds;
	return t;
}

void
auth_throttle_free(struct auth_throttle **tp)
{
	struct auth_throttle *t = *tp;

	if (t == NULL)
		return;
	*tp = NULL;
	hmap_free(&t->ips, free);
	free(t);
}

static bool
expired(const char *key, void *val, void *arg)
{
	struct failures *f = val;
	const time_t *limit = arg;

	(void)key;
	if (f->first >= *limit)
		return false;
	free(f);
	return true;
}

bool
auth_throttle_blocked(struct auth_throttle *t, const struct netaddr *a,
    time_t now)
{
	char ip[NET_ADDRSTRLEN];
	struct failures *f;

	net_addr_format(a, ip, sizeof(ip));
	f = hmap_get(t->ips, ip);
	if (f == NULL)
		return false;
	if (now - f->first >= (time_t)t->window) {
		free(hmap_del(t->ips, ip));
		return false;
	}
	return f->count >= t->max;
}

bool
policy_login_begin(struct login *l, struct auth_throttle *t,
    const struct conn *c, const char *event, const char *user,
    const char *pass)
{
	char qu[LOG_QUOTE_SZ(sizeof(l->user))];

	login_init(l, user, pass, &c->peer, config_role_name(c->lc->role));
	if (!auth_throttle_blocked(t, &c->peer, clock_now()))
		return false;
	policy_count_login(l, true);
	log_warn("sess=%s %s user=%s client=%s", c->id, event,
	    log_quote(qu, sizeof(qu), l->user), c->peer_str);
	return true;
}

void
auth_failure_wait(struct auth_throttle *t, const struct login *l,
    uint64_t delay, struct timeval *wait_r)
{
	uint64_t us = delay * 1000000, spent = clock_mono_us() - l->started_us;

	auth_throttle_failed(t, &l->client, clock_now());
	us = spent >= us ? 0 : us - spent;
	wait_r->tv_sec = (time_t)(us / 1000000);
	wait_r->tv_usec = (suseconds_t)(us % 1000000);
}

void
auth_throttle_failed(struct auth_throttle *t, const struct netaddr *a,
    time_t now)
{
	char ip[NET_ADDRSTRLEN];
	struct failures *f;

	net_addr_format(a, ip, sizeof(ip));
	f = hmap_get(t->ips, ip);
	if (f == NULL || now - f->first >= (time_t)t->window) {
		if (f == NULL)
			f = xcalloc(1, sizeof(*f));
		f->count = 0;
		f->first = now;
		(void)hmap_put(t->ips, ip, f);
	}
	f->count++;
	if (hmap_count(t->ips) > 10000) {
		time_t limit = now - (time_t)t->window;

		hmap_sweep(t->ips, expired, &limit);
	}
}
