/*
 * dlv_local.c - queued mail for the hosted mailboxes of this host.
 *
 * A copy that found its mailbox over quota at the end of DATA waits in
 * the queue as a local recipient (queue.h: `local`), while the other
 * recipients already have theirs. The queue manager hands the due local
 * recipients of a message here as one item, delivered on the io pool
 * into the Maildir with the mailbox's quota as it is now (`popgate
 * mailbox quota` takes effect at the next try). The results go back
 * through qmgr_item_done() like a remote server's replies: "250" is
 * delivered, "452 4.2.2" (still full) and other 4xx wait with the usual
 * back-off, "550 5.1.1" (the mailbox is gone) bounces. A recipient still
 * full at max_queue_lifetime bounces with 5.2.2 (RFC 3463: mailbox
 * full), not the generic 5.4.7.
 */
#include <errno.h>
#include <unistd.h>

#include "delivery/dlv_int.h"
#include "core/reply.h"
#include "maildir/maildir.h"
#include "policy/policy.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/spool.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define LOCAL_RELAY	"local"

void
dlv_local_expire(struct qmgr *q, struct dlv_msg *m, time_t now)
{
	uint64_t life = q->d.cfg->max_queue_lifetime;
	struct queue_env *e = &m->env;
	char qt[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)], qr[LOG_QUOTE_SZ(sizeof(e->rcpts[0].last_error))];
	size_t i;

	if (queue_env_age(e, now) < (time_t)life)
		return;
	for (i = 0; i < e->nrcpts; i++) {
		struct queue_rcpt *r = &e->rcpts[i];

		if (!r->local || (r->state != QR_PENDING &&
		    r->state != QR_DEFERRED) ||
		    strncmp(r->last_error, "452 4.2.2 ", 10) != 0)
			continue;	/* the generic expiry says the rest */
		(void)snprintf(r->last_error, sizeof(r->last_error),
		    "552 5.2.2 <%s>: Mailbox full; message expired after %llus "
		    "in the queue", r->address, (unsigned long long)life);
		r->state = QR_BOUNCED;
		m->bounced_now[i] = true;
		log_info("qid=%s delivery to=%s relay=%s status=expired "
		    "dsn=5.2.2 reason=%s", e->id, log_quote_addr(qt,
		    sizeof(qt), r->address), LOCAL_RELAY, log_quote_text(qr,
		    sizeof(qr), r->last_error));
	}
}

/* A job owns copies of what its work needs: the envelope stays with
   the event loop. */
struct local_job {
	struct qmgr		*q;
	struct dlv_item		*it;
	char			 sender[ADDR_BUFSZ];
	char			(*addrs)[ADDR_BUFSZ];
	struct spool		 body;		/* a view of the queue file */
	uint64_t		 lines;
	int			 view_err;
	char			**replies;	/* per recipient of IT */
	size_t			 n;		/* IT's recipients */
};

/* Delivers M to the mailbox ADDRESS; its reply line into OUT. */
static void
deliver_one(struct backends *b, const char *address,
    const struct maildir_msg *m, char *out, size_t outsz)
{
	char path[MAILDIR_PATH_MAX];
	struct store_mailbox mb;
	struct maildir_dest d;
	struct addr_canon c;
	struct store *st;
	const char *err = "";
	size_t failed;
	int r;

	if (addr_canon_parse(address, strlen(address), 0, &c, &err) == -1) {
		(void)snprintf(out, outsz, "550 5.1.3 <%s>: %s", address, err);
		return;
	}
	if ((st = backends_store(b, &err)) == NULL ||
	    (r = store_mailbox_get_addr(st, &c, &mb, &err)) == -1) {
		(void)snprintf(out, outsz, "451 4.3.0 account store: %s", err);
		return;
	}
	if (r == 0 || maildir_path(config_rel(b->cfg, b->cfg->mail_dir),
	    mb.domain, mb.local, path, sizeof(path)) == -1) {
		(void)reply_line_text(out, outsz, REPLY_UNKNOWN_USER, address);
		return;
	}
	memset(&d, 0, sizeof(d));
	d.path = path;
	d.quota = mb.quota;
	if (maildir_deliver(b->data_fd, &d, 1, m, b->cfg->hostname,
	    &failed) == 0)
		(void)snprintf(out, outsz, "250 2.0.0 delivered to the mailbox "
		    "as %s", d.name);
	else if (errno == EDQUOT)
		(void)reply_line_text(out, outsz, REPLY_OVER_QUOTA, address);
	else if (fs_errno_is_full(errno))
		(void)snprintf(out, outsz, "452 4.3.1 insufficient storage");
	else
		(void)snprintf(out, outsz, "451 4.3.0 local delivery failed: "
		    "%s", strerror(errno));
}

static void
local_work(void *ctx, void *arg)
{
	struct local_job *j = arg;
	char prefix[ADDR_BUFSZ + 32], line[600];
	struct maildir_msg m;
	size_t i;

	(void)snprintf(prefix, sizeof(prefix), "Return-Path: <%s>\n",
	    j->sender);
	m.prefix = prefix;
	m.prefix_len = strlen(prefix);
	m.body = &j->body;
	m.lines = j->lines + 1;
	for (i = 0; i < j->n; i++) {
		if (j->view_err != 0)
			(void)snprintf(line, sizeof(line), "451 4.3.0 cannot "
			    "read the queued message: %s",
			    strerror(j->view_err));
		else
			deliver_one(ctx, j->addrs[i], &m, line, sizeof(line));
		j->replies[i] = xstrdup(line);
	}
}

static void
local_free(struct local_job *j)
{
	size_t i;

	for (i = 0; i < j->n; i++)
		free(j->replies[i]);
	free(j->replies);
	free(j->addrs);
	spool_free(&j->body);
	free(j);
}

static void
local_done(void *arg)
{
	struct local_job *j = arg;

	/* qmgr_item_done() frees the item. */
	qmgr_item_done(j->q, j->it, j->replies, "451 4.3.0 local delivery "
	    "not tried", LOCAL_RELAY);
	local_free(j);
}

/* The pool shut down: the message stays queued as it was. */
static void
local_release(void *arg)
{
	struct local_job *j = arg;
	struct dlv_item *it = j->it;

	local_free(j);
	free(it->idx);
	free(it);
}

static const struct worker_ops local_ops = {
	local_work, local_done, local_release,
};

unsigned
dlv_local_take(struct qmgr *q, struct dlv_msg *m, bool *taken)
{
	struct queue_env *e = &m->env;
	struct local_job *j;
	struct dlv_item *it;
	size_t i;

	for (i = 0; i < e->nrcpts; i++)
		if (!taken[i] && e->rcpts[i].local)
			break;
	if (i == e->nrcpts)
		return 0;
	it = xcalloc(1, sizeof(*it));
	it->m = m;
	it->idx = xcalloc(e->nrcpts, sizeof(*it->idx));
	j = xcalloc(1, sizeof(*j));
	j->q = q;
	j->it = it;
	j->addrs = xcalloc(e->nrcpts, sizeof(*j->addrs));
	for (; i < e->nrcpts; i++) {
		if (taken[i] || !e->rcpts[i].local)
			continue;
		taken[i] = true;
		(void)str_copy(j->addrs[it->n], e->rcpts[i].address,
		    sizeof(j->addrs[it->n]));
		it->idx[it->n++] = i;
	}
	j->n = it->n;
	j->replies = xcalloc(it->n, sizeof(*j->replies));
	(void)str_copy(j->sender, e->sender, sizeof(j->sender));
	j->lines = e->lines;
	if (spool_view(&j->body, m->fd, m->body_off, m->body_len) == -1)
		j->view_err = errno;
	(void)worker_submit(q->d.io, &local_ops, j);
	return 1;
}
