/*
 * dlv_sched.c - the queue manager: which message is tried when, with
 * how many at once, and what becomes of each recipient.
 *
 * Every queued message has a small entry (its id and next try); only
 * DLV_MAX_ACTIVE messages are loaded at a time. An active message is
 * split into one item per recipient domain, queued on that domain's
 * destination, and picked up by its connections (at most
 * delivery_concurrency_per_destination, delivery_concurrency in all).
 * When every item has come back, the state file is rewritten durably
 * (not after a round that changed nothing: a message loaded with no
 * recipient due, as every deferred one is after a restart), notices go
 * out (bounces, delay warnings), and the message is removed
 * or waits for its next try: retry_min doubling up to retry_max, until
 * max_queue_lifetime. Queue files are read and written on the io pool.
 *
 * Invariants (issue 13): every recipient a round did not finish is
 * deferred with a 4.x.x reason and a next try, never later than the
 * message's expiry, and the message waits in the heap no later than
 * that, so the scheduler bounces it at max_queue_lifetime whatever its
 * back-off. A destination whose connection failed before any
 * transaction is held (back-off per destination): no connection is
 * opened to it before hold_until, and its mail is deferred meanwhile.
 *
 * A held message (quarantine, dlv_hold.c) is loaded once, seen held and
 * parked outside every list; its expiry and delay notice count only the
 * time it was not held (queue_env_age(), queue_env_expiry()).
 */
#include <errno.h>
#include <unistd.h>

#include <event2/event.h>

#include "delivery/dlv_int.h"
#include "notice/notice.h"
#include "policy/policy.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

/* ---- entries ---- */

static void
ready_push(struct qmgr *q, struct qentry *e)
{
	qmgr_entry_where(q, e, QE_READY);
	e->next = NULL;
	if (q->ready_tail != NULL)
		q->ready_tail->next = e;
	else
		q->ready_head = e;
	q->ready_tail = e;
}

static struct qentry *
ready_pop(struct qmgr *q)
{
	struct qentry *e = q->ready_head;

	if (e != NULL) {
		q->ready_head = e->next;
		if (q->ready_head == NULL)
			q->ready_tail = NULL;
	}
	return e;
}

static void
ready_unlink(struct qmgr *q, struct qentry *e)
{
	struct qentry **pp, *prev = NULL;

	for (pp = &q->ready_head; *pp != NULL; prev = *pp, pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			if (q->ready_tail == e)
				q->ready_tail = prev;
			return;
		}
}

static void
forget(struct qmgr *q, struct qentry *e)
{
	(void)hmap_del(q->entries, e->id);
	q->nwhere[e->where]--;
	dlv_hold_gone(e);
	free(e);
}

void
qmgr_entry_ready(struct qmgr *q, struct qentry *e)
{
	ready_push(q, e);
}

void
qmgr_entry_wait(struct qmgr *q, struct qentry *e)
{
	qmgr_entry_where(q, e, QE_WAITING);
	qmgr_heap_push(q, e);
}

void
qmgr_entry_unqueue(struct qmgr *q, struct qentry *e)
{
	if (e->where == QE_WAITING)
		qmgr_heap_remove(q, e);
	else if (e->where == QE_READY)
		ready_unlink(q, e);
}

void
qmgr_entry_forget(struct qmgr *q, struct qentry *e)
{
	forget(q, e);
}

static struct qentry *
entry_add(struct qmgr *q, const char *id)
{
	struct qentry *e = hmap_get(q->entries, id);

	if (e != NULL)
		return e;
	e = xcalloc(1, sizeof(*e));
	q->nwhere[e->where]++;		/* QE_READY, as ready_push() takes it */
	(void)str_copy(e->id, id, sizeof(e->id));
	(void)hmap_put(q->entries, e->id, e);
	ready_push(q, e);
	return e;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr *q = arg;
	time_t now = clock_now();

	(void)fd;
	(void)what;
	while (q->nheap > 0 && q->heap[0]->next_try <= now) {
		struct qentry *e = q->heap[0];

		qmgr_heap_remove(q, e);
		ready_push(q, e);
	}
	qmgr_kick(q);
}

static void
arm_timer(struct qmgr *q)
{
	struct timeval tv = { 0, 0 };
	time_t now = clock_now();

	if (q->nheap == 0) {
		(void)event_del(q->timer);
		return;
	}
	if (q->heap[0]->next_try > now)
		tv.tv_sec = q->heap[0]->next_try - now;
	(void)event_add(q->timer, &tv);
}

/* ---- destinations ---- */

#define CONN_SHARE	4	/* queued messages per new connection */

/* Where mail for D's domain goes under the configuration now: a
   transport route, the relayhost, or the domain's MX. */
static void
dest_route(const struct qmgr *q, struct dlv_dest *d)
{
	const struct config *cfg = q->d.cfg;
	const struct transport_cfg *t = config_transport(cfg, d->domain);

	d->host_mx = false;
	if (t != NULL) {
		d->route = ROUTE_HOST;
		(void)str_copy(d->host, t->host, sizeof(d->host));
		d->port = t->port;
	} else if (*cfg->relayhost != '\0') {
		char host[256];
		uint16_t port = 25;
		const char *rh = cfg->relayhost;

		d->route = ROUTE_HOST;
		if (net_hostport_parse(rh, host, sizeof(host), &port) == -1) {
			size_t n = strlen(rh);

			if (rh[0] == '[' && rh[n - 1] == ']')
				(void)str_ncopy(host, rh + 1, n - 2,
				    sizeof(host));
			else
				(void)str_copy(host, rh, sizeof(host));
		}
		/* Postfix: "host" means its MX, "[host]" the host itself. */
		d->host_mx = rh[0] != '[' && strchr(rh, ':') == NULL;
		(void)str_copy(d->host, host, sizeof(d->host));
		d->port = port;
	} else {
		d->route = ROUTE_MX;
		d->host[0] = '\0';
		d->port = 25;
	}
}

static struct dlv_dest *
dest_get(struct qmgr *q, const char *domain)
{
	struct dlv_dest *d = hmap_get(q->dests, domain);

	if (d != NULL)
		return d;
	d = xcalloc(1, sizeof(*d));
	(void)str_copy(d->domain, domain, sizeof(d->domain));
	dest_route(q, d);
	(void)hmap_put(q->dests, d->domain, d);
	return d;
}

static bool
reroute(const char *key, void *val, void *arg)
{
	(void)key;
	dest_route(arg, val);
	return false;
}

void
qmgr_set_config(struct qmgr *q, const struct config *cfg)
{
	q->d.cfg = cfg;
	q->cfg_gen++;
	hmap_sweep(q->dests, reroute, q);
}

static bool
dest_held(const struct dlv_dest *d)
{
	return d->hold_until != 0 && clock_now() < d->hold_until;
}

void
qmgr_dest_failed(struct qmgr *q, struct dlv_dest *d, const char *reply)
{
	const struct config *cfg = q->d.cfg;
	time_t now = clock_now();

	if (d->fails < 64)
		d->fails++;
	d->hold_until = dlv_next_try(now, d->fails, cfg->retry_min,
	    cfg->retry_max);
	(void)str_copy(d->last_error, reply, sizeof(d->last_error));
	log_info("delivery to=%s held for %llds after %u failed "
	    "connection(s)", d->domain, (long long)(d->hold_until - now),
	    d->fails);
}

void
qmgr_dest_ok(struct dlv_dest *d)
{
	d->fails = 0;
	d->hold_until = 0;
}

static void
dest_kick(struct qmgr *q, struct dlv_dest *d)
{
	const struct config *cfg = q->d.cfg;

	while (d->nqueued > 0 && dlv_conn_wake(q, d))
		;
	if (dest_held(d)) {
		/* No new connection yet; nobody left to take the mail. */
		if (d->nconn == 0 && d->nqueued > 0)
			qmgr_fail_dest(q, d, d->last_error, false);
		return;
	}
	/* A connection delivers one message after another: open another
	   only for every few waiting (and never past the limits). */
	while (!q->stopping && d->nqueued > 0 &&
	    d->nqueued > CONN_SHARE * d->nconn &&
	    d->nconn < cfg->delivery_concurrency_per_destination &&
	    q->nconn < cfg->delivery_concurrency)
		dlv_conn_start(q, d);
}

static bool
kick_one(const char *key, void *val, void *arg)
{
	struct dlv_dest *d = val;

	(void)key;
	if (d->nqueued > 0)
		dest_kick(arg, d);
	return false;
}

void
qmgr_kick_dests(struct qmgr *q, struct dlv_dest *d)
{
	if (d->nqueued > 0)
		dest_kick(q, d);
	if (q->nconn < q->d.cfg->delivery_concurrency)
		hmap_sweep(q->dests, kick_one, q);
}

struct dlv_item *
qmgr_take(struct qmgr *q, struct dlv_dest *d)
{
	struct dlv_item *it = d->head;

	(void)q;
	if (it == NULL)
		return NULL;
	d->head = it->next;
	if (d->head == NULL)
		d->tail = NULL;
	d->nqueued--;
	it->next = NULL;
	return it;
}

static void
dest_push(struct qmgr *q, struct dlv_dest *d, struct dlv_item *it)
{
	it->d = d;
	it->next = NULL;
	if (d->tail != NULL)
		d->tail->next = it;
	else
		d->head = it;
	d->tail = it;
	d->nqueued++;
	dest_kick(q, d);
}

/* ---- activation: load, split, finish ---- */

struct load_job {
	struct qmgr	*q;
	struct qentry	*qe;
	struct dlv_msg	*m;
	int		 r;
	char		 error[256];
};

static void
load_work(void *ctx, void *arg)
{
	struct load_job *j = arg;
	const char *err = "";

	(void)ctx;
	j->r = queue_open(j->q->d.queue, j->qe->id, &j->m->env, &j->m->fd,
	    &j->m->body_off, &j->m->body_len, &err);
	if (j->r == -1)
		(void)str_copy(j->error, err, sizeof(j->error));
}

void
dlv_msg_free(struct dlv_msg *m)
{
	if (m == NULL)
		return;
	if (m->fd != -1)
		(void)close(m->fd);
	queue_env_free(&m->env);
	free(m->bounced_now);
	free(m->delayed_now);
	free(m->success_now);
	free(m);
}

static void
load_release(void *arg)
{
	struct load_job *j = arg;

	dlv_msg_free(j->m);
	free(j);
}

static void finish(struct qmgr *, struct dlv_msg *);

/* Recipients due now, grouped by domain into items. */
static void
split(struct qmgr *q, struct dlv_msg *m)
{
	const struct config *cfg = q->d.cfg;
	struct queue_env *e = &m->env;
	time_t now = clock_now();
	bool expired = queue_env_age(e, now) >=
	    (time_t)cfg->max_queue_lifetime;
	size_t i, k;
	bool *taken = xcalloc(e->nrcpts + 1, sizeof(*taken));
	char qt[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)], qr[LOG_QUOTE_SZ(sizeof(e->rcpts[0].last_error))];

	/* One item more while splitting: an item that comes back at once
	   (a held destination) cannot finish M before all are out. */
	m->items++;
	dlv_local_expire(q, m, now);
	for (i = 0; i < e->nrcpts; i++) {
		struct queue_rcpt *r = &e->rcpts[i];

		if (r->state == QR_DELIVERED || r->state == QR_BOUNCED)
			taken[i] = true;
		else if (expired) {
			char last[512];

			(void)str_copy(last, r->last_error, sizeof(last));
			/* RFC 3463 X.4.7: delivery time expired. */
			(void)snprintf(r->last_error, sizeof(r->last_error),
			    "554 5.4.7 message expired after %llus in the "
			    "queue%s%.400s", (unsigned long long)
			    cfg->max_queue_lifetime, last[0] != '\0' ?
			    "; last error: " : "", last);
			r->state = QR_BOUNCED;
			m->bounced_now[i] = true;
			taken[i] = true;
			log_info("qid=%s delivery to=%s status=expired "
			    "reason=%s", e->id, log_quote_addr(qt, sizeof(qt),
			    r->address), log_quote_text(qr, sizeof(qr),
			    r->last_error));
		} else if (r->state == QR_DEFERRED && r->next_try > now &&
		    !m->qe->flush) {
			taken[i] = true;	/* not due yet */
		}
	}
	m->qe->flush = false;
	/* Not one recipient due, none bounced: a round that changes
	   nothing (every deferred message once after a restart). */
	m->unchanged = true;
	for (i = 0; i < e->nrcpts; i++)
		if (!taken[i] || m->bounced_now[i])
			m->unchanged = false;
	m->items += dlv_local_take(q, m, taken);
	for (i = 0; i < e->nrcpts; i++) {
		struct dlv_item *it;
		const char *dom;

		if (taken[i])
			continue;
		dom = addr_domain_of(e->rcpts[i].address);
		it = xcalloc(1, sizeof(*it));
		it->m = m;
		it->idx = xcalloc(DLV_RCPTS_PER_TXN, sizeof(*it->idx));
		for (k = i; k < e->nrcpts && it->n < DLV_RCPTS_PER_TXN; k++) {
			if (taken[k] || strcasecmp(addr_domain_of(
			    e->rcpts[k].address), dom) != 0)
				continue;
			it->idx[it->n++] = k;
			taken[k] = true;
		}
		m->items++;
		dest_push(q, dest_get(q, dom), it);
	}
	free(taken);
	if (--m->items == 0)
		finish(q, m);
}

static void
load_done(void *arg)
{
	struct load_job *j = arg;
	struct qmgr *q = j->q;
	struct qentry *qe = j->qe;
	struct dlv_msg *m = j->m;
	int r = j->r;

	if (r == -1)
		log_error("qid=%s cannot read the queue file: %s; left in "
		    "place", qe->id, j->error);
	free(j);
	if (r != 1) {
		dlv_msg_free(m);
		q->nactive--;
		forget(q, qe);
		qmgr_kick(q);
		return;
	}
	if (!qe->delete_me && dlv_hold_loaded(q, qe, m))
		return;
	qe->msg = m;
	m->bounced_now = xcalloc(m->env.nrcpts + 1, sizeof(bool));
	m->delayed_now = xcalloc(m->env.nrcpts + 1, sizeof(bool));
	m->success_now = xcalloc(m->env.nrcpts + 1, 1);
	if (qe->delete_me) {
		finish(q, m);
		return;
	}
	split(q, m);
}

static const struct worker_ops load_ops = {
	load_work, load_done, load_release,
};

void
qmgr_kick(struct qmgr *q)
{
	struct qentry *e;

	while (!q->stopping && q->nactive < DLV_MAX_ACTIVE &&
	    (e = ready_pop(q)) != NULL) {
		struct load_job *j = xcalloc(1, sizeof(*j));

		j->q = q;
		j->qe = e;
		j->m = xcalloc(1, sizeof(*j->m));
		j->m->q = q;
		j->m->qe = e;
		j->m->fd = -1;
		qmgr_entry_where(q, e, QE_ACTIVE);
		q->nactive++;
		(void)worker_submit(q->d.io, &load_ops, j);
	}
	arm_timer(q);
}

/* ---- results ---- */

/* When a recipient deferred for the ATTEMPTS-th time is tried again:
   its back-off, not before its destination's hold ends, never after the
   message expires (split() bounces it then). */
static time_t
retry_time(const struct config *cfg, const struct queue_env *e,
    const struct dlv_dest *d, time_t now, unsigned attempts)
{
	time_t t = dlv_next_try(now, attempts, cfg->retry_min, cfg->retry_max);
	time_t expiry = queue_env_expiry(e, cfg->max_queue_lifetime);

	if (d != NULL && d->hold_until > t)
		t = d->hold_until;
	if (t > expiry)
		t = expiry > now ? expiry : now;
	return t;
}

void
qmgr_item_done(struct qmgr *q, struct dlv_item *it, char **rcpt_replies,
    const char *failure, const char *relay)
{
	const struct config *cfg = q->d.cfg;
	struct dlv_msg *m = it->m;
	struct queue_env *e = &m->env;
	time_t now = clock_now();
	char qt[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)], qf[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)], qr[LOG_QUOTE_SZ(600)];
	char qs[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)];
	size_t i;

	for (i = 0; i < it->n; i++) {
		struct queue_rcpt *r = &e->rcpts[it->idx[i]];
		const char *rep = rcpt_replies != NULL &&
		    rcpt_replies[i] != NULL ? rcpt_replies[i] : failure;
		char dsn[16];
		const char *status;

		notice_status_of(rep, dsn);
		if (rep[0] == '2') {
			r->state = QR_DELIVERED;
			status = "sent";
			/* RFC 3461 5.2.2: delivered here, or relayed to a hop
			   that does not report success itself. */
			if ((r->notify & DSN_NOTIFY_SUCCESS) && !it->dsn_passed) {
				m->success_now[it->idx[i]] = r->local ?
				    NOTICE_DELIVERED : NOTICE_RELAYED;
				(void)str_copy(r->last_error, rep,
				    sizeof(r->last_error));
			}
		} else if (rep[0] == '5') {
			r->state = QR_BOUNCED;
			m->bounced_now[it->idx[i]] = true;
			status = "bounced";
		} else {
			r->state = QR_DEFERRED;
			r->attempts++;
			r->next_try = retry_time(cfg, e, it->d, now,
			    r->attempts);
			status = "deferred";
		}
		if (r->state != QR_DELIVERED)
			(void)str_copy(r->last_error, rep,
			    sizeof(r->last_error));
		dlv_count_delivery(r->local, rep);
		log_info("qid=%s delivery to=%s from=%s%s%s relay=%s "
		    "delay=%llds attempts=%u status=%s dsn=%s reply=%s",
		    e->id, log_quote_addr(qt, sizeof(qt), r->address),
		    log_quote_addr(qf, sizeof(qf), e->sender),
		    e->srs_sender[0] != '\0' && !r->local ? " srs=" : "",
		    e->srs_sender[0] != '\0' && !r->local ?
		    log_quote_addr(qs, sizeof(qs), e->srs_sender) : "",
		    relay,
		    (long long)(now - e->arrival), r->attempts +
		    (r->state != QR_DEFERRED), status, dsn,
		    log_quote_text(qr, sizeof(qr), rep));
	}
	free(it->idx);
	free(it);
	if (--m->items == 0)
		finish(q, m);
}

void
qmgr_fail_dest(struct qmgr *q, struct dlv_dest *d, const char *text,
    bool permanent)
{
	struct dlv_item *it;
	char rep[600];

	(void)str_fmt(rep, sizeof(rep), "%s", text);
	if (permanent && rep[0] != '5')
		(void)str_fmt(rep, sizeof(rep), "550 5.4.4 %s", text);
	while ((it = qmgr_take(q, d)) != NULL)
		qmgr_item_done(q, it, NULL, rep, d->domain);
}

/* ---- finishing a round: state, notices, removal ---- */

struct finish_job {
	struct qmgr	*q;
	struct dlv_msg	*m;
	bool		 all_final;
	bool		 removed;
	struct strlist	 new_ids;
	int		 err;
};

static void
finish_work(void *ctx, void *arg)
{
	struct finish_job *j = arg;
	struct dlv_msg *m = j->m;

	if (m->qe->delete_me) {
		if (queue_remove(j->q->d.queue, m->env.id) == -1)
			j->err = errno;
		j->removed = j->err == 0;
		return;
	}
	dlv_bounce_send(ctx, m, j->q->d.cfg->hostname, &j->new_ids);
	if (j->all_final) {
		if (queue_remove_done(j->q->d.queue, m->env.id) == -1)
			j->err = errno;
		j->removed = j->err == 0;
	} else if (!m->unchanged &&
	    queue_write_state(j->q->d.queue, &m->env) == -1) {
		j->err = errno;
	}
}

static void
finish_release(void *arg)
{
	struct finish_job *j = arg;

	strlist_free(&j->new_ids);
	dlv_msg_free(j->m);
	free(j);
}

static void
finish_done(void *arg)
{
	struct finish_job *j = arg;
	struct qmgr *q = j->q;
	struct dlv_msg *m = j->m;
	struct qentry *qe = m->qe;
	time_t next = 0, expiry = queue_env_expiry(&m->env,
	    q->d.cfg->max_queue_lifetime);
	size_t i;

	if (j->err != 0)
		log_error("qid=%s cannot update the queue: %s", m->env.id,
		    strerror(j->err));
	for (i = 0; i < j->new_ids.n; i++)
		(void)entry_add(q, j->new_ids.v[i]);
	q->nactive--;
	if (j->removed) {
		log_info("qid=%s removed%s", m->env.id, qe->delete_me ?
		    " (deleted by the administrator)" : "");
		forget(q, qe);
	} else {
		for (i = 0; i < m->env.nrcpts; i++) {
			const struct queue_rcpt *r = &m->env.rcpts[i];

			if (r->state == QR_DEFERRED &&
			    (next == 0 || r->next_try < next))
				next = r->next_try;
		}
		qe->msg = NULL;
		qe->next_try = next != 0 ? next : retry_time(q->d.cfg,
		    &m->env, NULL, clock_now(), 1);
		/* Never past the expiry (a state written before may say
		   later): split() bounces the message then. */
		if (qe->next_try > expiry)
			qe->next_try = expiry;
		/* A flush during the round (after split() took the last
		   one) is for the next round, now. */
		if (dlv_hold_finished(q, qe, &m->env, j->err))
			;
		else if (qe->flush)
			ready_push(q, qe);
		else {
			qmgr_entry_where(q, qe, QE_WAITING);
			qmgr_heap_push(q, qe);
		}
	}
	finish_release(j);
	qmgr_kick(q);
}

static const struct worker_ops finish_ops = {
	finish_work, finish_done, finish_release,
};

/* Every item of M has come back. */
static void
finish(struct qmgr *q, struct dlv_msg *m)
{
	const struct config *cfg = q->d.cfg;
	struct finish_job *j = xcalloc(1, sizeof(*j));
	time_t now = clock_now();
	bool holding = dlv_hold_finishing(m);
	size_t i;

	j->q = q;
	j->m = m;
	j->all_final = true;
	strlist_init(&j->new_ids);
	for (i = 0; i < m->env.nrcpts; i++)
		if (m->env.rcpts[i].state == QR_PENDING ||
		    m->env.rcpts[i].state == QR_DEFERRED)
			j->all_final = false;
	if (holding)
		m->unchanged = false;	/* the hold goes onto the disk */
	/* One delay notice per message, after delay_warning (time held
	   not counted), and none for a message that is being held. */
	if (!holding && !j->all_final &&
	    cfg->delay_warning > 0 && m->env.warned == 0 &&
	    queue_env_age(&m->env, now) >= (time_t)cfg->delay_warning) {
		for (i = 0; i < m->env.nrcpts; i++)
			if (m->env.rcpts[i].state == QR_DEFERRED)
				m->delayed_now[i] = true;
		m->env.warned = now;
		m->unchanged = false;
	}
	/* The job owns the message from here. */
	m->qe->msg = NULL;
	(void)worker_submit(q->d.io, &finish_ops, j);
}

/* ---- the public side ---- */

static void
scan_one(const char *id, void *arg)
{
	(void)entry_add(arg, id);
}

struct qmgr *
qmgr_new(const struct qmgr_deps *d, const char **error_r)
{
	struct qmgr *q = xcalloc(1, sizeof(*q));

	q->d = *d;
	q->entries = hmap_new();
	q->dests = hmap_new();
	q->timer = evtimer_new(d->base, on_timer, q);
	/* A private CA for tls_verify_peer (tests verify against theirs). */
	if (d->tls != NULL && *d->cfg->tls_ca_file != '\0' &&
	    SSL_CTX_load_verify_locations(d->tls, d->cfg->tls_ca_file,
	    NULL) != 1) {
		log_error("tls_ca_file %s: cannot load the certificates",
		    d->cfg->tls_ca_file);
		*error_r = "tls_ca_file cannot be loaded";
		qmgr_free(&q);
		return NULL;
	}
	/* Any destination's policy may ask for verification (tls_policy,
	   MTA-STS) or DANE, whatever tls_verify_peer says: each connection
	   sets its own verification mode. */
	if (d->tls != NULL) {
		if (SSL_CTX_set_default_verify_paths(d->tls) != 1)
			log_warn("outbound TLS: the system's trust store cannot "
			    "be loaded (only tls_ca_file is trusted)");
		if (SSL_CTX_dane_enable(d->tls) <= 0)
			log_warn("outbound TLS: DANE is not available");
		else
			(void)SSL_CTX_dane_set_flags(d->tls,
			    DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	}
	dlv_sts_init(q, d->data_fd > 0 ? d->data_fd : -1);
	if (queue_scan(q->d.queue, scan_one, q) == -1) {
		*error_r = strerror(errno);
		qmgr_free(&q);
		return NULL;
	}
	log_info("queue manager started messages=%zu",
	    hmap_count(q->entries));
	dlv_metrics_start(q);
	qmgr_kick(q);
	return q;
}

static void
free_dest(void *p)
{
	struct dlv_dest *d = p;
	struct dlv_item *it;

	while ((it = d->head) != NULL) {
		d->head = it->next;
		free(it->idx);
		free(it);
	}
	free(d);
}

static bool
drop_entry(const char *key, void *val, void *arg)
{
	struct qentry *e = val;

	(void)key;
	(void)arg;
	if (e->msg != NULL)
		dlv_msg_free(e->msg);
	dlv_hold_drop(e);
	free(e);
	return true;
}

void
qmgr_free(struct qmgr **qp)
{
	struct qmgr *q = *qp;

	if (q == NULL)
		return;
	*qp = NULL;
	dlv_metrics_stop(q);
	q->stopping = true;
	dlv_conn_free_all(q);
	dlv_sts_free(q);
	hmap_free(&q->dests, free_dest);
	hmap_sweep(q->entries, drop_entry, NULL);
	hmap_free(&q->entries, NULL);
	free(q->heap);
	if (q->timer != NULL)
		event_free(q->timer);
	free(q);
}

void
qmgr_queued(void *arg, const char *id)
{
	struct qmgr *q = arg;

	(void)entry_add(q, id);
	qmgr_kick(q);
}

static unsigned
flush_one(struct qmgr *q, struct qentry *e)
{
	/* Held (or being held or released): only a release tries it. */
	if (e->where == QE_HELD || e->where == QE_ADMIN || e->req != NULL)
		return 0;
	e->flush = true;
	if (e->where == QE_WAITING) {
		qmgr_heap_remove(q, e);
		ready_push(q, e);
	}
	return 1;
}

static bool
flush_each(const char *key, void *val, void *arg)
{
	unsigned *n = ((void **)arg)[1];

	(void)key;
	*n += flush_one(((void **)arg)[0], val);
	return false;
}

static bool
unhold_one(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	qmgr_dest_ok(val);
	return false;
}

unsigned
qmgr_flush(struct qmgr *q, const char *id)
{
	unsigned n = 0;

	/* The administrator says now: held destinations too. */
	hmap_sweep(q->dests, unhold_one, NULL);

	if (id != NULL) {
		struct qentry *e = hmap_get(q->entries, id);

		if (e != NULL)
			n = flush_one(q, e);
	} else {
		void *args[2] = { q, &n };

		hmap_sweep(q->entries, flush_each, args);
	}
	qmgr_kick(q);
	return n;
}

int
qmgr_delete(struct qmgr *q, const char *id)
{
	struct qentry *e = hmap_get(q->entries, id);

	if (e == NULL)
		return 0;
	e->delete_me = true;
	/* Not active: load it to remove it (finish() sees delete_me). */
	if (e->where == QE_WAITING) {
		qmgr_heap_remove(q, e);
		ready_push(q, e);
	} else if (e->where == QE_READY) {
		ready_unlink(q, e);
		ready_push(q, e);
	} else if (e->where == QE_HELD) {
		ready_push(q, e);
	}
	/* QE_ADMIN: dlv_hold.c loads it when its job is done. */
	qmgr_kick(q);
	return 1;
}
