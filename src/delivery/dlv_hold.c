/*
 * dlv_hold.c - holding and releasing queued messages in the running
 * daemon (`popgate queue hold|release`, through the control socket).
 *
 * The hold lives in the message's state file (queue.h), which the queue
 * manager alone writes while it runs, so a hold or release is made by
 * it, at a moment when nothing else uses the message:
 *   - waiting or ready (not loaded): the entry leaves its list and an
 *     admin job on the io pool rewrites the state (queue_set_hold()),
 *     after which the entry is held, or ready at once when released;
 *   - being loaded: the same, from the end of the load;
 *   - out with connections: the hold is answered PENDING at once, no
 *     new attempt starts, and the state written at the end of the round
 *     carries it;
 *   - at the end of its round (the state being written): the same as
 *     waiting, from the end of the round.
 * A held entry is in no list: the scheduler never loads, tries, warns
 * about or expires it. Only a hold or release made durable is answered
 * DONE. A message with no answer due (held by a filter at DATA, found
 * held at start-up) is parked on loading.
 */
#include <errno.h>

#include "delivery/dlv_int.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

struct qmgr_req {
	bool		 hold;		/* false: release */
	bool		 after_round;	/* made by the end of this round */
	bool		 applied;	/* in the envelope of the round */
	char		 reason[QUEUE_HOLD_MAX + 1];
	time_t		 at;
	qmgr_hold_fn	*done;		/* NULL: answered already */
	void		*arg;
	enum qe_where	 back;	/* where the entry goes if nothing changes */
};

static void
req_answer(struct qmgr_req *r, enum qmgr_hold_answer a, const char *text)
{
	qmgr_hold_fn *done = r->done;

	r->done = NULL;
	if (done != NULL)
		done(r->arg, a, text);
}

static void
req_free(struct qentry *e)
{
	free(e->req);
	e->req = NULL;
}

static void
log_held(const struct qentry *e, const char *reason, const char *how)
{
	char qr[LOG_QUOTE_SZ(QUEUE_HOLD_MAX)];

	log_info("qid=%s held%s reason=%s", e->id, how,
	    log_quote_text(qr, sizeof(qr), reason));
}

/* ---- the admin job: the state rewritten on the io pool ---- */

struct admin_job {
	struct qmgr		*q;
	struct qentry		*qe;
	char			 id[ID_LEN + 1];
	bool			 hold;
	char			 reason[QUEUE_HOLD_MAX + 1];
	time_t			 at;
	enum queue_hold_result	 r;
	char			 error[256];
	char			 current[QUEUE_HOLD_MAX + 1];	/* hold after */
	uint64_t		 held_for;
};

static void
admin_work(void *ctx, void *arg)
{
	struct admin_job *j = arg;
	struct queue_env env;
	const char *err = "";

	(void)ctx;
	j->r = queue_set_hold(j->q->d.queue, j->id, j->hold ? j->reason :
	    NULL, j->at, &env, &err);
	if (j->r == QUEUE_HOLD_FAILED || j->r == QUEUE_HOLD_NONE) {
		(void)str_copy(j->error, err, sizeof(j->error));
		return;
	}
	(void)str_copy(j->current, env.hold, sizeof(j->current));
	j->held_for = env.held_for;
	queue_env_free(&env);
}

static void
admin_release(void *arg)
{
	free(arg);
}

/* E goes back where it came from: nothing changed. */
static void
put_back(struct qmgr *q, struct qentry *e, enum qe_where back)
{
	if (back == QE_WAITING)
		qmgr_entry_wait(q, e);
	else if (back == QE_HELD)
		qmgr_entry_where(q, e, QE_HELD);
	else
		qmgr_entry_ready(q, e);
}

/* E after the hold or release of J. true when E is released. */
static bool
admin_place(struct qmgr *q, struct qentry *e, const struct admin_job *j)
{
	char text[400];
	bool released = false;

	switch (j->r) {
	case QUEUE_HOLD_DONE:
		if (j->hold) {
			qmgr_entry_where(q, e, QE_HELD);
			log_held(e, j->current, " by=administrator");
			req_answer(e->req, QMGR_HOLD_DONE, "held");
			break;
		}
		log_info("qid=%s released held_for=%llus", e->id,
		    (unsigned long long)j->held_for);
		qmgr_entry_ready(q, e);
		req_answer(e->req, QMGR_HOLD_DONE, "released");
		released = true;
		break;
	case QUEUE_HOLD_ALREADY:
		if (j->hold) {
			qmgr_entry_where(q, e, QE_HELD);
			(void)str_fmt(text, sizeof(text), "already held: %s",
			    j->current);
			req_answer(e->req, QMGR_HOLD_ALREADY, text);
		} else {
			put_back(q, e, e->req->back == QE_HELD ? QE_READY :
			    e->req->back);
			req_answer(e->req, QMGR_HOLD_ALREADY, "not held");
		}
		break;
	case QUEUE_HOLD_NONE:
		req_answer(e->req, QMGR_HOLD_NONE, "no such message");
		req_free(e);
		qmgr_entry_forget(q, e);
		return false;
	case QUEUE_HOLD_FAILED:
	default:
		log_error("qid=%s cannot %s: %s", e->id, j->hold ? "hold" :
		    "release", j->error);
		put_back(q, e, e->req->back);
		req_answer(e->req, QMGR_HOLD_FAILED, j->error);
		break;
	}
	req_free(e);
	/* Deleted meanwhile: loaded to be removed (dlv_sched.c). */
	if (e->delete_me && e->where != QE_READY) {
		qmgr_entry_unqueue(q, e);
		qmgr_entry_ready(q, e);
	}
	return released;
}

static void
admin_done(void *arg)
{
	struct admin_job *j = arg;
	struct qmgr *q = j->q;

	/* Released: what `queue flush ID` does, every recipient now. */
	if (admin_place(q, j->qe, j))
		(void)qmgr_flush(q, j->id);
	free(j);
	qmgr_kick(q);
}

static const struct worker_ops admin_ops = {
	admin_work, admin_done, admin_release,
};

/* E (in no list, idle) gets its request written by an admin job. */
static void
admin_start(struct qmgr *q, struct qentry *e, enum qe_where back)
{
	struct admin_job *j = xcalloc(1, sizeof(*j));

	e->req->back = back;
	qmgr_entry_where(q, e, QE_ADMIN);
	j->q = q;
	j->qe = e;
	(void)str_copy(j->id, e->id, sizeof(j->id));
	j->hold = e->req->hold;
	(void)str_copy(j->reason, e->req->reason, sizeof(j->reason));
	j->at = e->req->at;
	(void)worker_submit(q->d.io, &admin_ops, j);
}

/* ---- the public side ---- */

static struct qmgr_req *
req_new(const char *reason, qmgr_hold_fn *done, void *arg)
{
	struct qmgr_req *r = xcalloc(1, sizeof(*r));
	struct queue_env tmp;

	queue_env_init(&tmp);
	r->hold = reason != NULL;
	r->at = clock_now();
	if (reason != NULL) {
		/* The same text as the state file will have. */
		(void)queue_env_hold(&tmp, reason, r->at);
		(void)str_copy(r->reason, tmp.hold, sizeof(r->reason));
	}
	r->done = done;
	r->arg = arg;
	return r;
}

/* A request for E, which is active. */
static void
hold_active(struct qentry *e, const char *reason, qmgr_hold_fn *done,
    void *arg)
{
	if (e->msg == NULL) {
		/* Loading, or writing its round: decided when that ends. */
		e->req = req_new(reason, done, arg);
		return;
	}
	if (reason == NULL) {
		done(arg, QMGR_HOLD_ALREADY, "not held");
		return;
	}
	e->req = req_new(reason, NULL, NULL);
	e->req->after_round = true;
	done(arg, QMGR_HOLD_PENDING, "being delivered: no new attempt "
	    "starts, and it is held when this one ends");
}

void
qmgr_hold(struct qmgr *q, const char *id, const char *reason,
    qmgr_hold_fn *done, void *arg)
{
	struct qentry *e = hmap_get(q->entries, id);

	if (e == NULL || e->delete_me) {
		done(arg, QMGR_HOLD_NONE, "no such message");
		return;
	}
	if (e->req != NULL) {
		/* Releasing a hold that waits for the end of a round: it
		   was never made. */
		if (reason == NULL && e->req->after_round &&
		    !e->req->applied) {
			req_free(e);
			log_info("qid=%s hold withdrawn before it was made",
			    e->id);
			done(arg, QMGR_HOLD_DONE, "released");
			return;
		}
		done(arg, QMGR_HOLD_BUSY, "a hold or release of it is under "
		    "way");
		return;
	}
	switch (e->where) {
	case QE_HELD:
		if (reason != NULL) {
			done(arg, QMGR_HOLD_ALREADY, "already held");
			return;
		}
		e->req = req_new(reason, done, arg);
		admin_start(q, e, QE_HELD);
		return;
	case QE_WAITING:
		/* Loaded before: it is not held. */
		if (reason == NULL) {
			done(arg, QMGR_HOLD_ALREADY, "not held");
			return;
		}
		/* FALLTHROUGH */
	case QE_READY:
		qmgr_entry_unqueue(q, e);
		e->req = req_new(reason, done, arg);
		admin_start(q, e, e->where);
		return;
	case QE_ACTIVE:
		hold_active(e, reason, done, arg);
		return;
	case QE_ADMIN:
	default:
		done(arg, QMGR_HOLD_BUSY, "a hold or release of it is under "
		    "way");
		return;
	}
}

static bool
forget_one(const char *key, void *val, void *arg)
{
	struct qentry *e = val;

	(void)key;
	(void)arg;
	if (e->req != NULL)
		e->req->done = NULL;
	return false;
}

void
qmgr_hold_forget_answers(struct qmgr *q)
{
	hmap_sweep(q->entries, forget_one, NULL);
}

bool
qmgr_is_held(struct qmgr *q, const char *id)
{
	struct qentry *e = hmap_get(q->entries, id);

	return e != NULL && (e->where == QE_HELD ||
	    (e->req != NULL && e->req->hold));
}

/* ---- where the scheduler meets them ---- */

bool
dlv_hold_loaded(struct qmgr *q, struct qentry *e, struct dlv_msg *m)
{
	bool held = queue_env_held(&m->env);
	struct qmgr_req *r = e->req;

	if (!held && r == NULL)
		return false;
	if (r != NULL && r->hold == held) {
		req_answer(r, QMGR_HOLD_ALREADY, held ? "already held" :
		    "not held");
		req_free(e);
		r = NULL;
		if (!held)
			return false;
	}
	if (r == NULL)
		log_held(e, m->env.hold, "");
	dlv_msg_free(m);
	q->nactive--;
	if (r != NULL)
		admin_start(q, e, QE_READY);
	else
		qmgr_entry_where(q, e, QE_HELD);
	qmgr_kick(q);
	return true;
}

bool
dlv_hold_finishing(struct dlv_msg *m)
{
	struct qmgr_req *r = m->qe->req;

	if (r == NULL || !r->after_round || m->qe->delete_me)
		return false;
	(void)queue_env_hold(&m->env, r->reason, r->at);
	r->applied = true;
	return true;
}

bool
dlv_hold_finished(struct qmgr *q, struct qentry *e,
    const struct queue_env *env, int err)
{
	struct qmgr_req *r = e->req;
	char text[300];

	if (r == NULL)
		return false;
	if (!r->applied) {
		admin_start(q, e, QE_WAITING);
		return true;
	}
	/* Held in memory whatever the disk says: it was asked for. */
	qmgr_entry_where(q, e, QE_HELD);
	log_held(e, env->hold, " by=administrator");
	if (err != 0) {
		(void)str_fmt(text, sizeof(text), "held until the daemon "
		    "stops, but not on the disk: %s", strerror(err));
		req_answer(r, QMGR_HOLD_FAILED, text);
	} else {
		req_answer(r, QMGR_HOLD_DONE, "held");
	}
	req_free(e);
	return true;
}

void
dlv_hold_gone(struct qentry *e)
{
	if (e->req == NULL)
		return;
	req_answer(e->req, QMGR_HOLD_NONE, e->delete_me ? "deleted" :
	    "no longer queued: every recipient is final");
	req_free(e);
}

void
dlv_hold_drop(struct qentry *e)
{
	req_free(e);
}
