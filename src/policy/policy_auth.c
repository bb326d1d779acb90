/*
 * policy_auth.c - logins for POP3 and SMTP AUTH, the relay authorization
 * a good POP3 login records (SPEC section 1), and the per-address
 * throttle of failed logins.
 *
 * The password is checked against the crypt(3) hash (slow on purpose:
 * this runs on the cpu worker pool). An unknown user costs a hash
 * computation too, so the answer time does not tell whether a mailbox
 * exists.
 */
#include <openssl/crypto.h>

#include "policy/policy.h"
#include "util/clock.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

/* A yescrypt hash of a random password: unknown users are checked
   against it so they take as long as known ones. */
static const char dummy_hash[] =
    "$y$j9T$6opquLorg4m0d3p4M3j7./$k80GB4G3b0EgKCVph8IH/IIOg8Tv4RVes/amLFQj"
    "zVC";

void
policy_record_relay(struct backends *b, struct login *l)
{
	const struct config *cfg = b->cfg;
	struct relay_auth *ra;
	struct relay_entry e;
	const char *err;
	time_t now = clock_now();

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

void
policy_login(struct backends *b, struct login *l)
{
	struct store *s;
	const char *err = "";
	int r, v;

	l->result = -1;
	s = backends_store(b, &err);
	if (s == NULL) {
		(void)str_copy(l->error, err, sizeof(l->error));
		goto out;
	}
	r = store_mailbox_get(s, l->user, &l->mbox, &err);
	if (r == -1) {
		(void)str_copy(l->error, err, sizeof(l->error));
		goto out;
	}
	v = passwd_verify(l->pass, r == 1 ? l->mbox.hash : dummy_hash);
	if (r == 0 || v == 0) {
		l->result = 0;
		goto out;
	}
	if (v == -1) {
		/* A hash this system cannot check: the administrator must
		   fix it; to the client it is a failed login. */
		log_error("login mailbox=%s: unsupported password hash",
		    l->mbox.address);
		l->result = 0;
		goto out;
	}
	l->result = 1;
	OPENSSL_cleanse(l->mbox.hash, sizeof(l->mbox.hash));
out:
	OPENSSL_cleanse(l->pass, sizeof(l->pass));
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

void
auth_failure_wait(struct auth_throttle *t, const struct netaddr *a,
    uint64_t delay, uint64_t started_ms, struct timeval *wait_r)
{
	uint64_t ms = delay * 1000, spent = clock_mono_ms() - started_ms;

	auth_throttle_failed(t, a, clock_now());
	ms = spent >= ms ? 0 : ms - spent;
	wait_r->tv_sec = (time_t)(ms / 1000);
	wait_r->tv_usec = (suseconds_t)(ms % 1000) * 1000;
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
