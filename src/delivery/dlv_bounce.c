/*
 * dlv_bounce.c - the notices of a round of deliveries (notice/notice.h):
 * a bounce for the recipients that failed for good or expired, a delay
 * notice once after delay_warning, a success notice for those that asked
 * NOTIFY=SUCCESS and were delivered here or relayed to a hop without DSN.
 * Each only for the recipients whose NOTIFY asks for it (RFC 3461
 * section 4.1).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "delivery/dlv_int.h"
#include "notice/notice.h"
#include "util/log.h"
#include "util/spool.h"
#include "util/xalloc.h"
#include "util/compat.h"

/* Which recipients of M get a notice of ACTION this round (into WHICH),
   and how many; those whose NOTIFY does not want it are counted in
   *UNWANTED. */
static size_t
marked(const struct dlv_msg *m, enum notice_action action, bool *which,
    size_t *unwanted)
{
	const struct queue_env *e = &m->env;
	size_t i, n = 0;

	for (i = 0; i < e->nrcpts; i++) {
		bool due = action == NOTICE_FAILED ? m->bounced_now[i] :
		    action == NOTICE_DELAYED ? m->delayed_now[i] :
		    m->success_now[i] == (unsigned char)action;
		unsigned what = action == NOTICE_FAILED ? DSN_NOTIFY_FAILURE :
		    action == NOTICE_DELAYED ? DSN_NOTIFY_DELAY :
		    DSN_NOTIFY_SUCCESS;

		which[i] = due && dsn_notify_wants(e->rcpts[i].notify, what);
		if (due && !which[i])
			(*unwanted)++;
		n += which[i];
	}
	return n;
}

/* One notice of ACTION about M, when any recipient is due one. */
static void
send_one(struct backends *b, struct dlv_msg *m, enum notice_action action,
    bool *which, const char *hostname, struct strlist *new_ids)
{
	const struct queue_env *e = &m->env;
	struct notice_of n;
	struct spool body;
	const char *err = "";
	char qt[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)];
	size_t count, unwanted = 0;

	count = marked(m, action, which, &unwanted);
	if (unwanted > 0)
		log_info("qid=%s no %s notice for %zu recipient(s): their "
		    "NOTIFY does not ask for it", e->id,
		    notice_action_name(action), unwanted);
	if (count == 0)
		return;
	if (e->sender[0] == '\0') {
		log_info("qid=%s no notice: the sender is <> (%s, %zu "
		    "recipients)", e->id, notice_action_name(action), count);
		return;
	}
	memset(&n, 0, sizeof(n));
	n.env = e;
	n.which = which;
	n.until = queue_env_expiry(e, m->q->d.cfg->max_queue_lifetime);
	if (spool_view(&body, m->fd, m->body_off, m->body_len) == -1) {
		log_error("qid=%s cannot send the %s notice: %s", e->id,
		    notice_action_name(action), strerror(errno));
		return;
	}
	n.body = &body;
	if (notice_send(b, &n, action, hostname, new_ids, &err) == -1)
		log_error("qid=%s cannot send the %s notice to <%s>: %s",
		    e->id, notice_action_name(action), e->sender, err);
	else
		log_info("qid=%s %s notice sent to=%s", e->id,
		    notice_action_name(action), log_quote_addr(qt, sizeof(qt),
		    e->sender));
	spool_free(&body);
}

void
dlv_bounce_send(void *ctx, struct dlv_msg *m, const char *hostname,
    struct strlist *new_ids)
{
	static const enum notice_action order[] = {
		NOTICE_FAILED, NOTICE_DELAYED, NOTICE_DELIVERED,
		NOTICE_RELAYED,
	};
	bool *which = xcalloc(m->env.nrcpts + 1, sizeof(*which));
	size_t i;

	for (i = 0; i < nitems(order); i++)
		send_one(ctx, m, order[i], which, hostname, new_ids);
	free(which);
}
