/*
 * dlv_bounce.c - delivery status notifications (RFC 3464, RFC 6522):
 * a bounce for recipients that failed for good or expired, a delay
 * notice once after delay_warning. Sent from the null sender with
 * Auto-Submitted: auto-replied (RFC 3834), never to the null sender, so
 * a notice can never cause another. A notice for a sender of a hosted
 * domain lands straight in its Maildir; others are queued.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "delivery/dlv_int.h"
#include "maildir/maildir.h"
#include "policy/policy.h"
#include "util/log.h"
#include "util/spool.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define HEADERS_MAX	(64 * 1024)

static void
date822(char *out, size_t outsz, time_t t)
{
	struct tm tm;

	(void)gmtime_r(&t, &tm);
	if (strftime(out, outsz, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		(void)str_copy(out, "Thu, 01 Jan 1970 00:00:00 +0000", outsz);
}

/* The header section of the queued message (bounded), LF line ends. */
static void
orig_headers(const struct dlv_msg *m, struct buf *out)
{
	char chunk[8192];
	uint64_t pos = 0;
	const char *end;

	while (pos < m->body_len && out->len < HEADERS_MAX) {
		size_t n = m->body_len - pos > sizeof(chunk) ? sizeof(chunk) :
		    (size_t)(m->body_len - pos);
		ssize_t r = pread(m->fd, chunk, n, (off_t)(m->body_off + pos));

		if (r <= 0)
			break;
		if (buf_append(out, chunk, (size_t)r) == -1)
			break;
		pos += (uint64_t)r;
		end = strstr(buf_cstr(out), "\n\n");
		if (end != NULL) {
			buf_truncate(out, (size_t)(end - out->data) + 1);
			return;
		}
	}
	if (out->len > HEADERS_MAX)
		buf_truncate(out, HEADERS_MAX);
}

static void
status_fields(struct buf *b, const struct queue_rcpt *r, bool failed)
{
	char status[16];
	const char *e = r->last_error;
	bool smtp = strlen(e) > 3 && e[0] >= '2' && e[0] <= '5' &&
	    e[3] == ' ';

	dlv_status_of(e[0] != '\0' ? e : "451 4.0.0", status);
	if (failed && status[0] == '4')
		status[0] = '5';	/* expired after temporary errors */
	(void)buf_printf(b, "\nFinal-Recipient: rfc822; %s\n", r->address);
	if (r->orcpt[0] != '\0')
		(void)buf_printf(b, "Original-Recipient: %s\n", r->orcpt);
	(void)buf_printf(b, "Action: %s\nStatus: %s\n", failed ? "failed" :
	    "delayed", status);
	if (e[0] != '\0')
		(void)buf_printf(b, "Diagnostic-Code: %s; %s\n",
		    smtp ? "smtp" : "x-popgate", e);
}

/* The whole notice for M into B. */
static void
compose(struct buf *b, const struct dlv_msg *m, const bool *which,
    bool failed, const char *hostname)
{
	const struct queue_env *e = &m->env;
	char date[64], arrival[64], until[64], boundary[80];
	struct buf hdrs;
	size_t i;

	date822(date, sizeof(date), time(NULL));
	date822(arrival, sizeof(arrival), e->arrival);
	(void)str_fmt(boundary, sizeof(boundary), "%s.%s/%s", e->id,
	    failed ? "bounce" : "delay", hostname);
	(void)buf_printf(b, "Date: %s\n"
	    "From: Mail Delivery System <MAILER-DAEMON@%s>\n"
	    "To: <%s>\n"
	    "Subject: %s\n"
	    "Message-ID: <%s.%s@%s>\n"
	    "Auto-Submitted: auto-replied\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"%s\"\n\n"
	    "This is a MIME-encapsulated message.\n\n"
	    "--%s\n"
	    "Content-Description: Notification\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n"
	    "This is the mail system at host %s.\n\n",
	    date, hostname, e->sender, failed ?
	    "Undelivered Mail Returned to Sender" :
	    "Delayed Mail (still being retried)", e->id,
	    failed ? "bounce" : "delay", hostname, boundary, boundary,
	    hostname);
	if (failed)
		(void)buf_printf(b, "I'm sorry to have to inform you that your "
		    "message could not\nbe delivered to one or more "
		    "recipients. It's attached below.\n\n");
	else
	{
		date822(until, sizeof(until), e->arrival +
		    (time_t)m->q->d.cfg->max_queue_lifetime);
		(void)buf_printf(b, "Your message could not be delivered yet "
		    "to one or more recipients.\nIt will be retried until "
		    "%s; there is nothing you need\nto do now.\n\n", until);
	}
	for (i = 0; i < e->nrcpts; i++)
		if (which[i])
			(void)buf_printf(b, "<%s>: %s\n", e->rcpts[i].address,
			    e->rcpts[i].last_error);
	(void)buf_printf(b, "\n--%s\n"
	    "Content-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; %s\n"
	    "X-Popgate-Queue-ID: %s\n"
	    "Arrival-Date: %s\n", boundary, hostname, e->id, arrival);
	if (e->envid[0] != '\0')
		(void)buf_printf(b, "Original-Envelope-Id: %s\n", e->envid);
	for (i = 0; i < e->nrcpts; i++) {
		if (!which[i])
			continue;
		status_fields(b, &e->rcpts[i], failed);
		if (!failed) {
			date822(until, sizeof(until), e->arrival +
			    (time_t)m->q->d.cfg->max_queue_lifetime);
			(void)buf_printf(b, "Will-Retry-Until: %s\n", until);
		}
	}
	(void)buf_printf(b, "\n--%s\n"
	    "Content-Description: Undelivered Message Headers\n"
	    "Content-Type: text/rfc822-headers\n\n", boundary);
	buf_init(&hdrs, HEADERS_MAX + 8192);
	orig_headers(m, &hdrs);
	(void)buf_append(b, hdrs.data, hdrs.len);
	buf_free(&hdrs);
	(void)buf_printf(b, "\n--%s--\n", boundary);
}

static uint64_t
count_lf(const char *p, size_t n)
{
	uint64_t c = 0;
	size_t i;

	for (i = 0; i < n; i++)
		c += p[i] == '\n';
	return c;
}

/* Delivers the notice TEXT to SENDER: its mailbox here, else the queue. */
static int
send_notice(struct backends *b, const char *sender, const struct buf *text,
    const char *hostname, struct strlist *new_ids, const char **error_r)
{
	struct resolution res;
	struct maildir_dest dests[16];
	struct maildir_msg mm;
	struct queue_env env;
	struct spool body;
	const char *prefix = "Return-Path: <>\n";
	size_t i, n = 0, failed;
	struct addr_canon sa;
	const char *err;
	int rc = -1;

	spool_init(&body, b->data_fd, "tmp");
	spool_append(&body, text->data, text->len);
	queue_env_init(&env);
	memset(&res, 0, sizeof(res));
	/* A sender that does not parse is no mailbox here: the queue. */
	if (addr_canon_parse(sender, strlen(sender), ADDR_F_LITERAL |
	    ADDR_F_UTF8, &sa, &err) == 0 &&
	    policy_resolve(b, &sa, &res, error_r) == -1)
		goto out;
	for (i = 0; i < res.n; i++) {
		if (res.v[i].kind == TARGET_REMOTE) {
			(void)queue_env_add_rcpt(&env, res.v[i].address);
		} else if (n < nitems(dests)) {
			dests[n].path = res.v[i].path;
			dests[n].quota = 0;	/* notices are never refused */
			n++;
		}
	}
	if (!res.hosted)
		(void)queue_env_add_rcpt(&env, sender);
	mm.prefix = prefix;
	mm.prefix_len = strlen(prefix);
	mm.body = &body;
	mm.lines = count_lf(text->data, text->len) + 1;
	if (n > 0 && maildir_deliver(b->data_fd, dests, n, &mm, hostname,
	    &failed) == -1) {
		*error_r = strerror(errno);
		goto out;
	}
	if (env.nrcpts > 0) {
		env.arrival = time(NULL);
		env.is_bounce = true;
		env.lines = count_lf(text->data, text->len);
		(void)str_copy(env.auth, "bounce", sizeof(env.auth));
		(void)str_copy(env.client, "popgate", sizeof(env.client));
		if (queue_write(b->queue, &env, "", 0, &body, error_r) == -1)
			goto out;
		strlist_add(new_ids, env.id);
	}
	rc = 0;
out:
	resolution_free(&res);
	queue_env_free(&env);
	spool_free(&body);
	return rc;
}

void
dlv_bounce_send(void *ctx, struct dlv_msg *m, const char *hostname,
    struct strlist *new_ids)
{
	struct backends *b = ctx;
	const struct queue_env *e = &m->env;
	struct buf text;
	const char *err = "";
	char qt[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)];
	size_t i, nfail = 0, ndelay = 0;
	int pass;

	for (i = 0; i < e->nrcpts; i++) {
		nfail += m->bounced_now[i];
		ndelay += m->delayed_now[i];
	}
	if (nfail + ndelay == 0)
		return;
	if (e->sender[0] == '\0') {
		log_info("qid=%s no notice: the sender is <> (%zu failed, %zu "
		    "delayed)", e->id, nfail, ndelay);
		return;
	}
	for (pass = 0; pass < 2; pass++) {
		bool failed = pass == 0;

		if ((failed ? nfail : ndelay) == 0)
			continue;
		buf_init(&text, BUF_UNLIMITED);
		compose(&text, m, failed ? m->bounced_now : m->delayed_now,
		    failed, hostname);
		if (send_notice(b, e->sender, &text, hostname, new_ids,
		    &err) == -1)
			log_error("qid=%s cannot send the %s notice to <%s>: "
			    "%s", e->id, failed ? "bounce" : "delay",
			    e->sender, err);
		else
			log_info("qid=%s %s notice sent to=%s", e->id,
			    failed ? "bounce" : "delay", log_quote_addr(qt,
			    sizeof(qt), e->sender));
		buf_free(&text);
	}
}
