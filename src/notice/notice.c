/*
 * notice.c - composing a delivery status notification and sending it to
 * the sender: its Maildir when hosted here, else the queue.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "notice/notice.h"
#include "core/ids.h"
#include "hook/hook.h"
#include "maildir/maildir.h"
#include "util/log.h"
#include "util/buf.h"
#include "util/compat.h"

#define HEADERS_MAX	(64 * 1024)	/* of a returned header section */

/* The notice being written: a spool (it may hold a whole message under
   RET=FULL) and its line count, for the Maildir. */
struct out {
	struct spool	 sp;
	uint64_t	 lines;
};

static void
put(struct out *o, const void *p, size_t n)
{
	const char *s = p;
	size_t i;

	for (i = 0; i < n; i++)
		o->lines += s[i] == '\n';
	spool_append(&o->sp, p, n);
}

static void PRINTFLIKE(2, 3)
putf(struct out *o, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(o, line, (size_t)n < sizeof(line) ? (size_t)n :
		    sizeof(line) - 1);
}

static void
date822(char *out, size_t outsz, time_t t)
{
	struct tm tm;

	(void)gmtime_r(&t, &tm);
	if (strftime(out, outsz, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		(void)str_copy(out, "Thu, 01 Jan 1970 00:00:00 +0000", outsz);
}

void
notice_status_of(const char *reply, char out[16])
{
	size_t n;

	/* "550 5.1.1 text": a class digit, a dot, digits, a dot, digits. */
	if (strlen(reply) > 4 && reply[4] >= '2' && reply[4] <= '5' &&
	    reply[5] == '.') {
		n = strspn(reply + 4, "0123456789.");
		if (n >= 5 && n < 12) {
			memcpy(out, reply + 4, n);
			out[n] = '\0';
			return;
		}
	}
	(void)snprintf(out, 16, "%c.0.0", reply[0] >= '2' && reply[0] <= '5' ?
	    reply[0] : '4');
}

static const struct {
	const char	*name, *action, *subject, *intro;
} kinds[] = {
	[NOTICE_FAILED] = { "bounce", "failed",
	    "Undelivered Mail Returned to Sender",
	    "I'm sorry to have to inform you that your message could not\n"
	    "be delivered to one or more recipients. It's attached below.\n" },
	[NOTICE_DELAYED] = { "delay", "delayed",
	    "Delayed Mail (still being retried)", NULL },
	[NOTICE_DELIVERED] = { "delivered", "delivered",
	    "Successful Mail Delivery Report",
	    "Your message was delivered to the mailboxes of the recipients\n"
	    "listed below, as you asked.\n" },
	[NOTICE_RELAYED] = { "relayed", "relayed",
	    "Successful Mail Delivery Report",
	    "Your message was passed on to the next mail server for the\n"
	    "recipients listed below. That server does not report delivery\n"
	    "status, so no further notice about them will come.\n" },
	[NOTICE_EXPANDED] = { "expanded", "expanded",
	    "Successful Mail Delivery Report",
	    "Your message was delivered to the aliases listed below, which\n"
	    "passed it on to their members.\n" },
};

const char *
notice_action_name(enum notice_action a)
{
	return kinds[a].name;
}

/* ---- the returned message ---- */

struct copy {
	struct out	*o;
	bool		 headers;	/* stop after the header section */
	bool		 lf;		/* the last octet was a LF */
	bool		 done;
	uint64_t	 n;
};

/* Copies up to the end of the header section (its empty line
   excluded), at most HEADERS_MAX octets; everything without HEADERS. */
static int
copy_sink(void *arg, const void *p, size_t n)
{
	struct copy *c = arg;
	const char *s = p;
	size_t i, take = n;

	if (c->done)
		return 0;
	if (c->headers) {
		for (i = 0; i < n; i++) {
			if (s[i] == '\n' && c->lf) {
				c->done = true;
				break;
			}
			c->lf = s[i] == '\n';
		}
		take = i;
		if (c->n + take >= HEADERS_MAX) {
			take = (size_t)(HEADERS_MAX - c->n);
			c->done = true;
		}
	}
	put(c->o, p, take);
	c->n += take;
	return 0;
}

/* The header section (or, FULL, the whole) of the message of N into O,
   ending in a LF. */
static void
copy_message(struct out *o, const struct notice_of *n, bool full)
{
	struct copy c = { o, !full, true, false, 0 };

	(void)copy_sink(&c, n->prefix, n->plen);
	if (n->body != NULL && spool_copy(n->body, copy_sink, &c) == -1)
		putf(o, "X-Popgate-Notice: the rest of the message could "
		    "not be read\n");
	if (!c.lf && c.n > 0)
		put(o, "\n", 1);
}

/* ---- the report ---- */

static void
status_fields(struct out *o, const struct queue_rcpt *r,
    enum notice_action a, time_t until)
{
	char status[16], dec[DSN_ORCPT_MAX + 1], date[64];
	const char *e = r->last_error, *semi;
	bool smtp = strlen(e) > 3 && e[0] >= '2' && e[0] <= '5' &&
	    e[3] == ' ';

	notice_status_of(e[0] != '\0' ? e : a >= NOTICE_DELIVERED ?
	    "250 2.0.0" : "451 4.0.0", status);
	if (a == NOTICE_FAILED && status[0] == '4')
		status[0] = '5';	/* expired after temporary errors */
	if (a >= NOTICE_DELIVERED && status[0] != '2')
		(void)str_copy(status, "2.0.0", sizeof(status));
	putf(o, "\nFinal-Recipient: rfc822; %s\n", r->address);
	/* RFC 3464 2.3.1: addr-type, then the address decoded. */
	if (r->orcpt[0] != '\0' && (semi = strchr(r->orcpt, ';')) != NULL &&
	    dsn_xtext_decode(semi + 1, strlen(semi + 1), dec,
	    sizeof(dec)) == 0)
		putf(o, "Original-Recipient: %.*s; %s\n",
		    (int)(semi - r->orcpt), r->orcpt, dec);
	putf(o, "Action: %s\nStatus: %s\n", kinds[a].action, status);
	if (e[0] != '\0' && smtp)
		putf(o, "Diagnostic-Code: smtp; %s\n", e);
	else if (e[0] != '\0')
		putf(o, "Diagnostic-Code: x-popgate; %s\n", e);
	if (a == NOTICE_DELAYED) {
		date822(date, sizeof(date), until);
		putf(o, "Will-Retry-Until: %s\n", date);
	}
}

static void
human_part(struct out *o, const struct notice_of *n, enum notice_action a,
    const char *hostname)
{
	const struct queue_env *e = n->env;
	char until[64];
	size_t i;

	putf(o, "This is the mail system at host %s.\n\n", hostname);
	if (a == NOTICE_DELAYED) {
		date822(until, sizeof(until), n->until);
		putf(o, "Your message could not be delivered yet to one or "
		    "more recipients.\nIt will be retried until %s; there is "
		    "nothing you need\nto do now.\n", until);
	} else {
		put(o, kinds[a].intro, strlen(kinds[a].intro));
	}
	put(o, "\n", 1);
	for (i = 0; i < e->nrcpts; i++)
		if (n->which[i])
			putf(o, "<%s>: %s\n", e->rcpts[i].address,
			    e->rcpts[i].last_error[0] != '\0' ?
			    e->rcpts[i].last_error : kinds[a].action);
}

static void
compose(struct out *o, const struct notice_of *n, enum notice_action a,
    const char *hostname)
{
	const struct queue_env *e = n->env;
	char date[64], arrival[64], boundary[80], mid[ID_LEN + 1];
	char envid[DSN_ENVID_MAX + 1];
	bool full = a == NOTICE_FAILED && strcmp(e->ret, "FULL") == 0;
	size_t i;

	date822(date, sizeof(date), time(NULL));
	date822(arrival, sizeof(arrival), e->arrival);
	ids_new(mid);
	(void)str_fmt(boundary, sizeof(boundary), "%s.%s/%s", e->id,
	    mid, hostname);
	putf(o, "Date: %s\nFrom: Mail Delivery System <MAILER-DAEMON@%s>\n"
	    "To: <%s>\nSubject: %s\nMessage-ID: <%s.%s.%s@%s>\n"
	    "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"%s\"\n\n", date, hostname, e->sender,
	    kinds[a].subject, e->id, kinds[a].name, mid, hostname, boundary);
	putf(o, "This is a MIME-encapsulated message.\n\n--%s\n"
	    "Content-Description: Notification\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n", boundary);
	human_part(o, n, a, hostname);
	putf(o, "\n--%s\nContent-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; %s\nX-Popgate-Queue-ID: %s\n", boundary,
	    hostname, e->id);
	if (e->envid[0] != '\0' && dsn_xtext_decode(e->envid,
	    strlen(e->envid), envid, sizeof(envid)) == 0)
		putf(o, "Original-Envelope-Id: %s\n", envid);
	putf(o, "Arrival-Date: %s\n", arrival);
	for (i = 0; i < e->nrcpts; i++)
		if (n->which[i])
			status_fields(o, &e->rcpts[i], a, n->until);
	putf(o, "\n--%s\nContent-Description: %s\nContent-Type: %s\n\n",
	    boundary, full ? "Undelivered Message" : a == NOTICE_FAILED ?
	    "Undelivered Message Headers" : "Message Headers", full ?
	    "message/rfc822" : "text/rfc822-headers");
	copy_message(o, n, full);
	putf(o, "\n--%s--\n", boundary);
}

/* ---- sending ---- */

/* The Maildirs of the hosted targets of RES into DESTS (at most MAX);
   the remote ones onto ENV. The number of Maildirs. */
static size_t
split_targets(const struct resolution *res, struct maildir_dest *dests,
    size_t max, struct queue_env *env)
{
	size_t i, n = 0;

	for (i = 0; i < res->n; i++) {
		if (res->v[i].kind == TARGET_REMOTE) {
			(void)queue_env_add_rcpt(env, res->v[i].address);
		} else if (n < max) {
			dests[n].path = res->v[i].path;
			dests[n].quota = 0;	/* notices are never refused */
			n++;
		}
	}
	return n;
}

/* Delivers the notice O to SENDER: its mailbox here, else the queue. */
/* A notice leaving for the internet is signed as mail of HOSTNAME: by
   the first of HOSTNAME and its parent domains that is hosted here and
   has keys (a From: of MAILER-DAEMON@mail.hoster.example aligns with
   d=hoster.example under DMARC's relaxed rule). Unsigned when none has. */
static void
dkim_sign_notice(struct backends *b, const char *hostname, struct out *o,
    struct buf *sig)
{
	char why[DKIM_ERROR_MAX];
	const char *d = hostname, *dot;
	int r;

	while (d != NULL && (dot = strchr(d, '.')) != NULL) {
		r = policy_dkim_sign(b, d, &o->sp, NULL, 0, sig, why);
		if (r == 1)
			return;
		if (r == -1) {
			log_warn("notice dkim unsigned d=%s reason=\"%s\"", d,
			    why);
			return;
		}
		d = strchr(dot + 1, '.') != NULL ? dot + 1 : NULL;
	}
}

static size_t
count_lf(const struct buf *b)
{
	size_t i, n = 0;

	for (i = 0; i < b->len; i++)
		n += b->data[i] == '\n';
	return n;
}

static int
deliver(struct backends *b, const char *sender, struct out *o,
    const char *hostname, struct strlist *new_ids, const char **error_r)
{
	struct resolution res;
	struct maildir_dest dests[16];
	struct maildir_msg mm;
	struct queue_env env;
	struct addr_canon sa;
	const char *prefix = "Return-Path: <>\n", *err;
	struct buf sig;
	size_t n, failed;
	int rc = -1;

	buf_init(&sig, BUF_UNLIMITED);
	queue_env_init(&env);
	memset(&res, 0, sizeof(res));
	if (o->sp.err != 0) {
		*error_r = strerror(o->sp.err);
		goto out;
	}
	/* A sender that does not parse is no mailbox here: the queue. */
	if (addr_canon_parse(sender, strlen(sender), ADDR_F_LITERAL |
	    ADDR_F_UTF8, &sa, &err) == 0 &&
	    policy_resolve(b, &sa, &res, error_r) == -1)
		goto out;
	n = split_targets(&res, dests, nitems(dests), &env);
	if (!res.hosted)
		(void)queue_env_add_rcpt(&env, sender);
	mm.prefix = prefix;
	mm.prefix_len = strlen(prefix);
	mm.body = &o->sp;
	mm.lines = o->lines + 1;
	if (n > 0 && maildir_deliver(b->data_fd, dests, n, &mm, hostname,
	    &failed) == -1) {
		*error_r = strerror(errno);
		goto out;
	}
	if (env.nrcpts > 0) {
		dkim_sign_notice(b, hostname, o, &sig);
		env.arrival = time(NULL);
		env.is_bounce = true;
		env.lines = o->lines + count_lf(&sig);
		(void)str_copy(env.auth, "bounce", sizeof(env.auth));
		(void)str_copy(env.client, "popgate", sizeof(env.client));
		if (queue_write(b->queue, &env, sig.data != NULL ? sig.data :
		    "", sig.len, &o->sp, error_r) == -1)
			goto out;
		strlist_add(new_ids, env.id);
	}
	rc = 0;
out:
	buf_free(&sig);
	resolution_free(&res);
	queue_env_free(&env);
	return rc;
}

/* The customer of E's "customer=NAME" in OUT ("" when none); false
   when E was not relayed (forwarded, or a notice itself). */
static bool
relayed_by(const struct queue_env *e, char *out, size_t outsz)
{
	const char *p = strstr(e->auth, " customer=");

	*out = '\0';
	if (*e->auth == '\0' || strcmp(e->auth, "forward") == 0 ||
	    strcmp(e->auth, "bounce") == 0)
		return false;
	if (p != NULL)
		(void)str_ncopy(out, p + 10, strcspn(p + 10, " "), outsz);
	return true;
}

/* The webhook event message.bounced, one per failed recipient of a
   relayed message. */
static void
fire_bounced(const struct notice_of *n)
{
	char customer[STORE_NAME_MAX + 1], status[16];
	const struct queue_env *e = n->env;
	size_t i;

	if (!relayed_by(e, customer, sizeof(customer)))
		return;
	for (i = 0; i < e->nrcpts; i++) {
		if (!n->which[i])
			continue;
		notice_status_of(e->rcpts[i].last_error, status);
		HOOK_FIRE(HOOK_MESSAGE_BOUNCED, HOOK_STR("queue_id", e->id),
		    HOOK_STR("customer", customer),
		    HOOK_STR("sender", e->sender),
		    HOOK_STR("recipient", e->rcpts[i].address),
		    HOOK_STR("status", status),
		    HOOK_STR("reply", e->rcpts[i].last_error));
	}
}

int
notice_send(struct backends *b, const struct notice_of *n,
    enum notice_action action, const char *hostname,
    struct strlist *new_ids, const char **error_r)
{
	struct out o;
	int r;

	if (n->env->sender[0] == '\0')
		return 0;
	if (action == NOTICE_FAILED)
		fire_bounced(n);
	spool_init(&o.sp, b->data_fd, "tmp");
	o.lines = 0;
	compose(&o, n, action, hostname);
	r = deliver(b, n->env->sender, &o, hostname, new_ids, error_r);
	spool_free(&o.sp);
	return r;
}
