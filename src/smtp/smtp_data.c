/*
 * smtp_data.c - message bodies: DATA (RFC 5321 4.1.1.4, dot-stuffing of
 * 4.5.2) and BDAT (RFC 3030), then the durable delivery of the message.
 *
 * Lines must end in CRLF. A bare CR or LF never ends a line, so "\n.\n",
 * "\r\n.\n" and "\n.\r\n" can never end DATA (SMTP smuggling); a message
 * that contains one is refused at its end. Text lines over 1000 octets
 * and messages over the size limit are read to their end and refused.
 * The body is stored with LF line ends (the Maildir convention).
 *
 * Delivery runs on a worker: the queue file for remote recipients first,
 * then one durable copy per local mailbox (maildir_deliver); "250" is
 * sent only when all of it is on stable storage, and a failure removes
 * whatever was already written, so no recipient keeps a partial or a
 * single copy of a refused message. A mailbox over its quota does not
 * fail the others: its copy goes into the queue file as a local
 * recipient, delivered by the queue manager once there is room or
 * bounced at max_queue_lifetime (as Postfix with Dovecot); only when no
 * copy at all can be made is the message refused with 452 4.2.2.
 */
#include <errno.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "smtp/smtp_int.h"
#include "core/metrics.h"
#include "maildir/maildir.h"
#include "notice/notice.h"
#include "queue/queue.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

static void
body_start(struct smtp_tx *tx, bool dot)
{
	memset(&tx->bp, 0, sizeof(tx->bp));
	tx->bp.dot = dot;
	tx->bp.bol = true;
}

/* Content octets of one line (no line end) into the spool: the one
   copy of the message a session holds (the From: rule reads its header
   section from there, on the worker, when the message is relayed). */
static void
emit(struct smtp_tx *tx, const unsigned char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	if (!(tx->flags & TX_8BIT))
		for (i = 0; i < n; i++)
			if (p[i] >= 0x80) {
				tx->flags |= TX_8BIT;
				break;
			}
	tx->size += n;
	tx->bp.line_len += n;
	if (tx->size > tx->pol.max_size)
		tx->flags |= TX_TOOBIG;
	if (tx->flags & (TX_TOOBIG | TX_BARE | TX_LONG))
		return;		/* refused anyway: keep nothing more */
	spool_append(&tx->body, p, n);
}

/* The CRLF that ends a line. */
static void
end_line(struct smtp_tx *tx)
{
	if (tx->bp.line_len + 2 > SMTP_TEXT_LINE_MAX)
		tx->flags |= TX_LONG;
	tx->size += 2;
	tx->lines++;
	if (tx->size > tx->pol.max_size)
		tx->flags |= TX_TOOBIG;
	if (!(tx->flags & (TX_TOOBIG | TX_BARE | TX_LONG)))
		spool_append(&tx->body, "\n", 1);
	tx->bp.line_len = 0;
	tx->bp.bol = true;
}

/* A CR or LF that is not part of a CRLF. */
static void
bare(struct smtp_tx *tx, unsigned char c)
{
	tx->flags |= TX_BARE;
	tx->bp.bol = false;	/* a bare LF starts no line */
	emit(tx, &c, 1);
}

/* Feeds N octets; returns how many were consumed. In DATA mode it stops
   after the terminating ".\r\n" (*END set) or before a '.' at a line
   start whose meaning needs octets not yet received. */
static size_t
body_feed(struct smtp_tx *tx, const unsigned char *p, size_t n, bool *end)
{
	struct body_proc *bp = &tx->bp;
	size_t i = 0;

	*end = false;
	while (i < n) {
		const unsigned char *lf, *cr;
		size_t span;

		if (bp->pending_cr) {
			bp->pending_cr = false;
			if (p[i] == '\n') {
				end_line(tx);
				i++;
				continue;
			}
			bare(tx, '\r');
		}
		if (bp->dot && bp->bol && p[i] == '.') {
			if (n - i < 3 && !(n - i == 2 && p[i + 1] != '\r'))
				return i;	/* ".", ".\r": wait */
			if (p[i + 1] == '\r' && p[i + 2] == '\n') {
				*end = true;
				return i + 3;
			}
			i++;		/* RFC 5321 4.5.2: drop the dot */
			bp->line_len++;
			bp->bol = false;
			continue;
		}
		bp->bol = false;
		lf = memchr(p + i, '\n', n - i);
		span = (lf != NULL ? (size_t)(lf - p) : n) - i;
		/* Any CR inside the span but at its very end is bare. */
		while ((cr = memchr(p + i, '\r', span)) != NULL &&
		    cr != p + i + span - 1) {
			emit(tx, p + i, (size_t)(cr - (p + i)));
			span -= (size_t)(cr - (p + i)) + 1;
			i = (size_t)(cr - p) + 1;
			bare(tx, '\r');
		}
		if (span > 0 && p[i + span - 1] == '\r') {
			emit(tx, p + i, span - 1);
			i += span;
			if (lf == NULL) {
				bp->pending_cr = true;
				continue;
			}
			end_line(tx);	/* CRLF */
			i++;
			continue;
		}
		emit(tx, p + i, span);
		i += span;
		if (lf != NULL) {
			bare(tx, '\n');
			i++;
		}
	}
	return i;
}

/* ---- the Received: header and delivery ---- */

static void
rfc5322_date(char *out, size_t outsz, time_t t)
{
	struct tm tm;

	(void)gmtime_r(&t, &tm);
	if (strftime(out, outsz, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		(void)str_copy(out, "Thu, 01 Jan 1970 00:00:00 +0000", outsz);
}

static void
received(struct smtp_session *s, struct buf *b)
{
	struct smtp_tx *tx = s->tx;
	char date[64], tls[160];

	rfc5322_date(date, sizeof(date), time(NULL));
	conn_tls_info(s->conn, tls, sizeof(tls));
	/* RFC 3848: ESMTPS with TLS, ESMTPA with AUTH. */
	(void)buf_printf(b, "Received: from %s (%s [%s])\n\tby %s (popgate) "
	    "with %s%s%s id %s", s->client.helo[0] != '\0' ?
	    s->client.helo : "unknown",
	    s->rdns[0] != '\0' ? s->rdns : "unknown", s->conn->peer_str,
	    s->cfg->hostname, s->client.esmtp ? "ESMTP" : "SMTP",
	    s->conn->tls ? "S" : "", s->client.rs.authenticated ? "A" : "",
	    tx->id);
	if (tls[0] != '\0')
		(void)buf_printf(b, "\n\t(using %s)", tls);
	/* Who sent it, as much as the administrator lets us say: never the
	   address of the POP3 login. */
	if ((tx->pol.nrelayed > 0 || s->client.rs.authenticated) &&
	    s->cfg->received_auth != RECEIVED_AUTH_NONE) {
		const struct relay_session *rs = &s->client.rs;
		const char *who = rs->authenticated ? rs->auth_mailbox :
		    tx->pol.grant.mailbox;
		const char *cust = rs->authenticated ? rs->auth_customer :
		    tx->pol.grant.customer;

		if (s->cfg->received_auth == RECEIVED_AUTH_CUSTOMER ||
		    *who == '\0')
			(void)buf_printf(b, "\n\t(authenticated: customer %s)",
			    cust);
		else
			(void)buf_printf(b, "\n\t(authenticated: %s)", who);
	}
	if (tx->pol.rcpts.n == 1)
		(void)buf_printf(b, "\n\tfor <%s>", tx->pol.rcpts.v[0]);
	(void)buf_printf(b, "; %s\n", date);
}

struct deliver_job {
	struct smtp_session	*s;
	struct backends		*b;		/* the worker's, while it runs */
	char			 id[ID_LEN + 1];
	const char		*hostname;
	struct buf		 local_prefix;	/* Return-Path + Received */
	struct buf		 remote_prefix;	/* Received */
	struct spool		 body;
	uint64_t		 lines;
	struct target		*targets;
	size_t			 ntargets;
	bool			*full;		/* per target: queued, full */
	struct queue_env	 env;
	size_t			 nremote;	/* env.rcpts before the full */
	struct relay_grant	 grant;
	size_t			 nrelayed;
	struct policy_holds	 holds;		/* of the hourly caps */
	bool			 needs_headers;	/* the From: rule applies */
	char			 quarantine[256];	/* "" not held */
	bool			 junk;		/* DMARC: Junk folders */
	struct buf		 headers;	/* its From: fields */
	struct strlist		 expanded, expanded_orcpt;	/* of pol */
	struct strlist		 notice_ids;	/* notices queued */
	/* results */
	bool			 hdrbig;	/* header section too large */
	int			 err;		/* errno, 0 ok */
	char			 failed[ADDR_BUFSZ];
	bool			 queued;
	int			 from_ok;	/* policy_end_of_data() */
	struct policy_decision	 verdict;
};

static void
deliver_release(void *arg)
{
	struct deliver_job *j = arg;

	buf_free(&j->local_prefix);
	buf_free(&j->remote_prefix);
	buf_free(&j->headers);
	strlist_free(&j->expanded);
	strlist_free(&j->expanded_orcpt);
	strlist_free(&j->notice_ids);
	spool_free(&j->body);
	free(j->targets);
	free(j->full);
	queue_env_free(&j->env);
	policy_holds_free(&j->holds);
	free(j);
}

static uint64_t
count_lf(const struct buf *b)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < b->len; i++)
		n += b->data[i] == '\n';
	return n;
}

/* T as a recipient of ENV, with its DSN parameters. */
static struct queue_rcpt *
rcpt_of_target(struct queue_env *env, const struct target *t)
{
	struct queue_rcpt *r = queue_env_add_rcpt(env, t->address);

	r->notify = t->notify;
	(void)str_copy(r->orcpt, t->orcpt, sizeof(r->orcpt));
	return r;
}

/* Marks the local destinations (DESTS, for targets TIX) that cannot
   take the message now. 0, or -1 (J->err, J->failed). */
static int
find_full(struct deliver_job *j, int dir_fd, const struct maildir_dest *dests,
    const size_t *tix, size_t n, const struct maildir_msg *m)
{
	size_t k;
	int r;

	for (k = 0; k < n; k++) {
		/* Quarantined: every copy waits in the queue, held. */
		if (j->quarantine[0] != '\0') {
			j->full[tix[k]] = true;
			continue;
		}
		if ((r = maildir_room(dir_fd, &dests[k], m)) == -1) {
			j->err = errno;
			(void)str_copy(j->failed, j->targets[tix[k]].address,
			    sizeof(j->failed));
			return -1;
		}
		j->full[tix[k]] = r == 0;
	}
	return 0;
}

/* One try: the queue file for the remote targets and the full
   mailboxes (local targets of the queue, retried by the queue manager),
   then a copy into every mailbox with room. 0 when all is on stable
   storage; 1 when mailbox *K_R filled up meanwhile; -1 (J->err,
   J->failed). Unless 0, nothing stays written. */
static int
store_once(struct deliver_job *j, struct backends *b,
    const struct maildir_dest *dests, const size_t *tix, size_t n,
    const struct maildir_msg *m, size_t *k_r)
{
	struct maildir_dest *room = xcalloc(n + 1, sizeof(*room));
	size_t *rix = xcalloc(n + 1, sizeof(*rix));
	size_t k, nroom = 0, failed = 0;
	const char *err;
	int r = -1, saved;

	j->env.nrcpts = j->nremote;
	for (k = 0; k < n; k++) {
		if (j->full[tix[k]])
			rcpt_of_target(&j->env, &j->targets[tix[k]])->local =
			    true;
		else {
			room[nroom] = dests[k];
			rix[nroom++] = k;
		}
	}
	if (nroom == 0 && j->nremote == 0 && j->quarantine[0] == '\0') {
		/* No copy could be made: refused (452), not queued. */
		j->err = EDQUOT;
		(void)str_copy(j->failed, j->targets[tix[0]].address,
		    sizeof(j->failed));
		goto out;
	}
	if (j->quarantine[0] != '\0')
		(void)queue_env_hold(&j->env, j->quarantine, time(NULL));
	if (j->env.nrcpts > 0) {
		if (queue_write(b->queue, &j->env, j->remote_prefix.data,
		    j->remote_prefix.len, &j->body, &err) == -1) {
			j->err = errno;
			(void)str_copy(j->failed, "(queue)", sizeof(j->failed));
			goto out;
		}
		j->queued = true;
	}
	if (nroom > 0 && maildir_deliver(b->data_fd, room, nroom, m,
	    j->hostname, &failed) == -1) {
		saved = errno;
		if (j->queued && queue_remove(b->queue, j->env.id) == -1)
			log_error("qid=%s cannot remove after a failed local "
			    "delivery: %s", j->env.id, strerror(errno));
		j->queued = false;
		if (saved == EDQUOT) {
			*k_r = rix[failed];
			r = 1;
			goto out;
		}
		j->err = saved;
		(void)str_copy(j->failed, j->targets[tix[rix[failed]]].address,
		    sizeof(j->failed));
		goto out;
	}
	r = 0;
out:
	free(room);
	free(rix);
	return r;
}

/* A relayed message leaves signed by its From: domain (SPEC 10): the
   relay rules have made sure that domain is the customer's. A domain
   without keys sends it unsigned, saying so. A signature that cannot be
   made now (the store or popgate-lookup unavailable, a key that does
   not load) is a temporary failure of the message (J->err, 451 4.3.0:
   the client tries again), as OpenDKIM's On-InternalError tempfail:
   never a message of a domain with keys sent without them. 0 or -1. */
static int
dkim_sign_relayed(struct deliver_job *j, struct backends *b)
{
	char domain[ADDR_DOMAIN_MAX + 1], why[DKIM_ERROR_MAX];
	struct buf sig;
	int r;

	if (j->nrelayed == 0 || j->nremote == 0 ||
	    policy_from_domain(j->headers.data, j->headers.len, domain,
	    sizeof(domain)) == -1)
		return 0;
	buf_init(&sig, BUF_UNLIMITED);
	r = policy_dkim_sign(b, domain, &j->body, NULL, 0, &sig, why);
	if (r == 1) {
		(void)buf_append(&sig, j->remote_prefix.data,
		    j->remote_prefix.len);
		j->env.lines += count_lf(&sig) - count_lf(&j->remote_prefix);
		buf_free(&j->remote_prefix);
		j->remote_prefix = sig;
		log_debug("qid=%s dkim signed d=%s", j->id, domain);
		return 0;
	}
	buf_free(&sig);
	if (r == 0) {
		log_info("qid=%s dkim unsigned d=%s reason=\"no key: popgate "
		    "domain dkim rotate %s\"", j->id, domain, domain);
		return 0;
	}
	log_error("qid=%s dkim cannot sign d=%s: %s; the message is refused "
	    "for now (451)", j->id, domain, why);
	j->err = EAGAIN;
	(void)str_copy(j->failed, "(dkim)", sizeof(j->failed));
	return -1;
}

/* The envelope sender toward J's remote recipients (policy_srs.c): the
   SRS address when the sender is rewritten, beside the original in the
   queue file. 0, or -1 (J->err) when the store failed. */
static int
srs_rewrite(struct deliver_job *j, struct backends *b)
{
	char qf[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)], qs[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)];
	const char *why, *err;

	if (j->nremote == 0)
		return 0;
	switch (policy_srs_forward(b, j->env.sender, time(NULL),
	    j->env.srs_sender, &why, &err)) {
	case -1:
		log_error("qid=%s srs: cannot read the secret: %s", j->id,
		    err);
		j->err = EAGAIN;
		(void)str_copy(j->failed, "(srs)", sizeof(j->failed));
		return -1;
	case 1:
		log_info("qid=%s srs from=%s srs=%s", j->id,
		    log_quote_addr(qf, sizeof(qf), j->env.sender),
		    log_quote_addr(qs, sizeof(qs), j->env.srs_sender));
		break;
	default:
		if (why != NULL)
			log_info("qid=%s srs not-rewritten from=%s "
			    "reason=\"%s\"", j->id, log_quote_addr(qf,
			    sizeof(qf), j->env.sender), why);
		break;
	}
	return 0;
}

/* The message on stable storage: a copy in every local mailbox with
   room, and the queue file for the remote targets and the mailboxes
   that are full (the queue manager delivers them once they have room,
   or bounces at max_queue_lifetime). When no copy at all can be made
   (every target a full mailbox), or on a failure, J->err and J->failed
   say why, and nothing stays written. */
static int
store_message(void *arg)
{
	struct deliver_job *j = arg;
	struct backends *b = j->b;
	struct maildir_dest *dests;
	struct maildir_msg m;
	size_t *tix, i, n = 0, k = 0;
	char **junk;

	dests = xcalloc(j->ntargets + 1, sizeof(*dests));
	tix = xcalloc(j->ntargets + 1, sizeof(*tix));
	junk = xcalloc(j->ntargets + 1, sizeof(*junk));
	for (i = 0; i < j->ntargets; i++) {
		if (j->targets[i].kind == TARGET_REMOTE)
			continue;
		dests[n].path = j->targets[i].path;
		/* DMARC quarantine: the Junk folder (Maildir++ ".Junk",
		   IMAP's \Junk), made if missing. */
		if (j->junk) {
			size_t len = strlen(j->targets[i].path) + 7;

			junk[n] = xmalloc(len);
			(void)str_fmt(junk[n], len, "%s/.Junk",
			    j->targets[i].path);
			dests[n].path = junk[n];
		}
		dests[n].quota = j->targets[i].quota;
		tix[n++] = i;
	}
	m.prefix = j->local_prefix.data;
	m.prefix_len = j->local_prefix.len;
	m.body = &j->body;
	m.lines = j->lines + count_lf(&j->local_prefix);
	/* A mailbox that fills up between the check and the copy joins the
	   queued ones (each time one more, so this ends). */
	if (dkim_sign_relayed(j, b) == 0 && srs_rewrite(j, b) == 0 &&
	    find_full(j, b->data_fd, dests, tix, n, &m) == 0)
		while (store_once(j, b, dests, tix, n, &m, &k) == 1)
			j->full[tix[k]] = true;
	for (i = 0; i < n; i++)
		free(junk[i]);
	free(junk);
	free(dests);
	free(tix);
	return j->err == 0 ? 0 : -1;
}

/* ---- the From: fields, for the From: rule ---- */

/* Reads the header section of a spool for its From: fields: only they
   are kept (the rule reads nothing else), each with its continuation
   lines, so that rfc5322_fields() finds in them exactly what it would
   find in the whole section. Lines are at most SMTP_TEXT_LINE_MAX (a
   longer one refused the message already). */
struct from_scan {
	struct buf	*out;
	char		 line[SMTP_TEXT_LINE_MAX + 1];
	size_t		 len;
	uint64_t	 hdrlen;	/* octets of the section so far */
	bool		 keep;		/* the current field is a From: */
	bool		 done;		/* the empty line was reached */
	bool		 big;		/* over SMTP_HEADER_MAX */
};

/* "From", blanks, ':' (obs-optional), as rfc5322_fields() names it. */
static bool
is_from_field(const char *p, size_t n)
{
	size_t i = 4;

	if (n <= 4 || strncasecmp(p, "From", 4) != 0)
		return false;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

/* One whole line of the header section (no LF). */
static void
scan_line(struct from_scan *fs)
{
	if (fs->len == 0) {
		fs->done = true;	/* the empty line */
		return;
	}
	fs->hdrlen += fs->len + 1;
	if (fs->hdrlen > SMTP_HEADER_MAX) {
		fs->big = fs->done = true;
		return;
	}
	if (fs->line[0] != ' ' && fs->line[0] != '\t')
		fs->keep = is_from_field(fs->line, fs->len);
	if (fs->keep && (buf_append(fs->out, fs->line, fs->len) == -1 ||
	    buf_putc(fs->out, '\n') == -1))
		fs->big = fs->done = true;
}

static int
scan_chunk(void *arg, const void *p, size_t n)
{
	struct from_scan *fs = arg;
	const char *c = p, *end = c + n;

	while (c < end && !fs->done) {
		const char *lf = memchr(c, '\n', (size_t)(end - c));
		size_t span = (size_t)((lf != NULL ? lf : end) - c);

		if (span > sizeof(fs->line) - fs->len) {
			fs->big = fs->done = true;	/* cannot happen */
			break;
		}
		memcpy(fs->line + fs->len, c, span);
		fs->len += span;
		c += span;
		if (lf != NULL) {
			scan_line(fs);
			fs->len = 0;
			c++;
		}
	}
	if (fs->done) {
		errno = 0;
		return -1;	/* stop reading */
	}
	return 0;
}

/* The From: fields of J's message into J->headers. 0, or -1 (J->err). */
static int
from_fields(struct deliver_job *j)
{
	struct from_scan *fs = xcalloc(1, sizeof(*fs));
	int r = 0;

	fs->out = &j->headers;
	if (spool_copy(&j->body, scan_chunk, fs) == -1 && !fs->done) {
		j->err = errno != 0 ? errno : EIO;
		(void)str_copy(j->failed, "(spool)", sizeof(j->failed));
		r = -1;
	} else if (!fs->done && fs->len > 0) {
		scan_line(fs);	/* a last line without LF */
	}
	j->hdrbig = fs->big;
	free(fs);
	return r;
}

/* ---- success notices (RFC 3461 NOTIFY=SUCCESS) ---- */

/* One notice of ACTION about the recipients of NE, when it has any. */
static void
notice_one(struct deliver_job *j, struct backends *b, struct queue_env *ne,
    enum notice_action action)
{
	struct notice_of n;
	bool *which;
	const char *err = "";
	size_t i;

	if (ne->nrcpts == 0)
		return;
	which = xcalloc(ne->nrcpts, sizeof(*which));
	for (i = 0; i < ne->nrcpts; i++)
		which[i] = true;
	memset(&n, 0, sizeof(n));
	n.env = ne;
	n.which = which;
	n.prefix = j->local_prefix.data;
	n.plen = j->local_prefix.len;
	n.body = &j->body;
	if (notice_send(b, &n, action, j->hostname, &j->notice_ids,
	    &err) == -1)
		log_error("qid=%s cannot send the %s notice to <%s>: %s",
		    j->id, notice_action_name(action), ne->sender, err);
	else
		log_info("qid=%s %s notice sent for %zu recipient(s)", j->id,
		    notice_action_name(action), ne->nrcpts);
	free(which);
	ne->nrcpts = 0;
}

/* The message is stored: a "delivered" notice for the mailboxes that
   took their copy and asked for one, an "expanded" one for the aliases
   that did. */
static void
success_notices(struct deliver_job *j, struct backends *b)
{
	struct queue_env ne;
	size_t i;

	if (j->env.sender[0] == '\0')
		return;
	queue_env_init(&ne);
	(void)str_copy(ne.id, j->env.id, sizeof(ne.id));
	ne.arrival = j->env.arrival;
	(void)str_copy(ne.sender, j->env.sender, sizeof(ne.sender));
	(void)str_copy(ne.envid, j->env.envid, sizeof(ne.envid));
	for (i = 0; i < j->ntargets; i++)
		if (j->targets[i].kind != TARGET_REMOTE && !j->full[i] &&
		    (j->targets[i].notify & DSN_NOTIFY_SUCCESS))
			(void)str_copy(rcpt_of_target(&ne,
			    &j->targets[i])->last_error, "250 2.0.0 delivered "
			    "to the mailbox", sizeof(ne.rcpts[0].last_error));
	notice_one(j, b, &ne, NOTICE_DELIVERED);
	for (i = 0; i < j->expanded.n; i++) {
		struct queue_rcpt *r = queue_env_add_rcpt(&ne,
		    j->expanded.v[i]);

		(void)str_copy(r->orcpt, j->expanded_orcpt.v[i],
		    sizeof(r->orcpt));
		(void)str_copy(r->last_error, "250 2.0.0 delivered to the "
		    "alias's members", sizeof(r->last_error));
	}
	notice_one(j, b, &ne, NOTICE_EXPANDED);
	queue_env_free(&ne);
}

static void
deliver_work(void *ctx, void *arg)
{
	struct deliver_job *j = arg;
	const char *err;

	j->from_ok = 1;
	err = NULL;
	if (j->body.err != 0) {
		j->err = j->body.err;
		(void)policy_release(ctx, &j->holds, &err);
	} else if (j->needs_headers && (from_fields(j) == -1 || j->hdrbig)) {
		/* The whole header section counts, as it would for a copy
		   of it; the refused message gives its holds back. */
		(void)policy_release(ctx, &j->holds, &err);
	} else {
		j->b = ctx;
		j->from_ok = policy_end_of_data(ctx, &j->grant, j->nrelayed,
		    &j->holds, j->headers.data, j->headers.len, store_message,
		    j, &j->verdict, &err);
		if (j->from_ok == 1 && j->err == 0)
			success_notices(j, ctx);
	}
	if (err != NULL)
		log_warn("qid=%s smtp hourly holds not given back (they count "
		    "until they leave the hour): %s", j->id, err);
}

static void
log_results(struct smtp_session *s, struct deliver_job *j, const char *res)
{
	struct smtp_tx *tx = s->tx;
	const struct target *t = tx->pol.targets;
	char grant[512], qt[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)], qf[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)];
	char held[LOG_QUOTE_SZ(sizeof(j->quarantine)) + 16];
	bool quarantined = j->err == 0 && j->quarantine[0] != '\0';
	size_t i;

	policy_grant_describe(&tx->pol.grant, grant, sizeof(grant));
	held[0] = '\0';
	if (quarantined) {
		(void)str_copy(held, " reason=", sizeof(held));
		(void)log_quote_text(held + 8, sizeof(held) - 8, j->quarantine);
	}
	for (i = 0; i < tx->pol.ntargets; i++) {
		bool full = j->err == 0 && j->full[i] && !quarantined;

		log_info("sess=%s qid=%s smtp %s to=%s from=%s size=%llu "
		    "client=%s%s%s%s%s%s result=\"%s\"", s->conn->id, j->id,
		    j->err != 0 ? "not-delivered" : quarantined ? "quarantined" :
		    full ? "deferred" :
		    t[i].relayed ? "relayed" : t[i].kind == TARGET_REMOTE ?
		    "forwarded" : "delivered", log_quote_addr(qt, sizeof(qt),
		    t[i].address), log_quote_addr(qf, sizeof(qf),
		    tx->pol.sender),
		    (unsigned long long)tx->size, s->conn->peer_str,
		    t[i].relayed ? " grant=\"" : "", t[i].relayed ? grant : "",
		    t[i].relayed ? "\"" : "", full ? " dsn=4.2.2 reason=\"mailbox "
		    "full, queued for retry\"" : "", held, res);
	}
}

/* ---- metrics ---- */

static const char *const msg_values[] = { "accepted", "refused", "failed",
	NULL };
enum { MSG_ACCEPTED, MSG_REFUSED, MSG_FAILED };

static struct metric m_msgs = {
	.name = "popgate_smtp_messages_total",
	.help = "Messages at the end of DATA: accepted (250), refused (5xx: "
	    "the checks of the message, mail authentication, a content "
	    "filter), or failed (4xx: not stored, a filter's tempfail).",
	.type = METRIC_COUNTER,
	.labels = { { "result", msg_values } },
};

static const uint64_t data_bounds[] = { 1000, 2500, 5000, 10000, 25000,
	50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
	0 };

static struct metric m_data_time = {
	.name = "popgate_smtp_data_duration_seconds",
	.help = "Time from the end of a message's data to its 250 reply "
	    "(checks, filters, the queue or Maildir write and its fsync).",
	.type = METRIC_HISTOGRAM,
	.bounds = data_bounds,
};

void
smtp_data_metrics_register(void)
{
	metrics_register(&m_msgs);
	metrics_register(&m_data_time);
}

void
smtp_data_count_ended(bool refused)
{
	metric_inc(&m_msgs, refused ? MSG_REFUSED : MSG_FAILED);
}

/* The 250 of TX's message is being sent: counted, timed, and charged
   to the customer it relayed for. */
static void
count_accepted(const struct smtp_tx *tx)
{
	metric_inc(&m_msgs, MSG_ACCEPTED);
	metric_observe_us(&m_data_time, 0, clock_mono_us() - tx->eod_us);
	if (tx->pol.nrelayed > 0)
		metrics_customer_relayed(tx->pol.grant.customer,
		    tx->pol.nrelayed, clock_now());
}

static void
deliver_done(void *arg)
{
	struct deliver_job *j = arg;
	struct smtp_session *s = j->s;
	char res[128], qf[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)];
	size_t i;

	s->base.job = NULL;
	if (j->hdrbig) {
		/* The From: rule needs the whole header section. */
		log_info("sess=%s qid=%s smtp message-rejected client=%s "
		    "reason=header-too-large", s->conn->id, j->id,
		    s->conn->peer_str);
		smtp_reply_id(s, REPLY_HEADER_TOO_BIG);
		metric_inc(&m_msgs, MSG_REFUSED);
	} else if (j->from_ok != 1) {
		log_info("sess=%s qid=%s smtp message-rejected client=%s "
		    "from=%s rule=%s why=\"%s\" result=\"%d %s %s\"",
		    s->conn->id, j->id, s->conn->peer_str, log_quote_addr(qf,
		    sizeof(qf), s->tx->pol.sender),
		    policy_reason_name(j->verdict.reason), j->verdict.why,
		    j->verdict.code, j->verdict.esc, j->verdict.text);
		smtp_reply(s, j->verdict.code, j->verdict.esc, "%s",
		    j->verdict.reply);
		metric_inc(&m_msgs, j->verdict.code >= 500 ? MSG_REFUSED :
		    MSG_FAILED);
	} else if (j->err == 0) {
		(void)reply_line_text(res, sizeof(res), REPLY_QUEUED, j->id);
		log_results(s, j, res);
		count_accepted(s->tx);
		smtp_reply_text(s, REPLY_QUEUED, j->id);
		s->nmsgs++;
		if (j->queued && s->srv->d.queued != NULL)
			s->srv->d.queued(s->srv->d.queued_arg, j->env.id);
		for (i = 0; i < j->notice_ids.n && s->srv->d.queued != NULL;
		    i++)
			s->srv->d.queued(s->srv->d.queued_arg,
			    j->notice_ids.v[i]);
	} else if (j->err == EDQUOT) {
		log_results(s, j, "452 4.2.2 mailbox full");
		smtp_reply_text(s, REPLY_OVER_QUOTA, j->failed);
		metric_inc(&m_msgs, MSG_FAILED);
	} else if (fs_errno_is_full(j->err)) {
		log_error("sess=%s qid=%s disk full delivering to <%s>",
		    s->conn->id, j->id, j->failed);
		log_results(s, j, "452 4.3.1 insufficient storage");
		smtp_reply_id(s, REPLY_DISK_FULL);
		metric_inc(&m_msgs, MSG_FAILED);
	} else {
		log_error("sess=%s qid=%s delivery to <%s> failed: %s",
		    s->conn->id, j->id, j->failed, strerror(j->err));
		log_results(s, j, "451 4.3.0 local error");
		smtp_reply_id(s, REPLY_LOCAL_ERROR);
		metric_inc(&m_msgs, MSG_FAILED);
	}
	deliver_release(j);
	smtp_tx_free(&s->tx);
	smtp_enter_state(s, SS_READY);
	smtp_resume(s);
}

static const struct worker_ops deliver_ops = {
	deliver_work, deliver_done, deliver_release,
};

/* The transaction's envelope for its remote targets. */
static void
make_env(struct smtp_session *s, struct deliver_job *j)
{
	struct smtp_tx *tx = s->tx;
	size_t i;

	queue_env_init(&j->env);
	(void)str_copy(j->env.id, tx->id, sizeof(j->env.id));
	j->env.arrival = time(NULL);
	(void)str_copy(j->env.sender, tx->pol.sender, sizeof(j->env.sender));
	(void)str_fmt(j->env.client, sizeof(j->env.client), "%s [%s]",
	    s->rdns[0] != '\0' ? s->rdns : "unknown", s->conn->peer_str);
	if (tx->pol.nrelayed > 0)
		policy_grant_describe(&tx->pol.grant, j->env.auth,
		    sizeof(j->env.auth));
	else
		(void)str_copy(j->env.auth, "forward", sizeof(j->env.auth));
	j->env.body8bit = (tx->flags & TX_8BIT) != 0;
	j->env.smtputf8 = tx->mail.smtputf8;
	(void)str_copy(j->env.envid, tx->mail.envid, sizeof(j->env.envid));
	(void)str_copy(j->env.ret, tx->mail.ret, sizeof(j->env.ret));
	for (i = 0; i < tx->pol.ntargets; i++)
		if (tx->pol.targets[i].kind == TARGET_REMOTE)
			(void)rcpt_of_target(&j->env, &tx->pol.targets[i]);
}

void
smtp_deliver(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	struct deliver_job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	(void)str_copy(j->id, tx->id, sizeof(j->id));
	j->hostname = s->cfg->hostname;
	buf_init(&j->local_prefix, BUF_UNLIMITED);
	buf_init(&j->remote_prefix, BUF_UNLIMITED);
	(void)buf_printf(&j->local_prefix, "Return-Path: <%s>\n",
	    tx->pol.sender);
	if (tx->received.len == 0)
		received(s, &tx->received);
	/* A message the filters rewrote has the field already. */
	if (!tx->received_in_body) {
		(void)buf_append(&j->local_prefix, tx->received.data,
		    tx->received.len);
		(void)buf_append(&j->remote_prefix, tx->received.data,
		    tx->received.len);
	}
	spool_move(&j->body, &tx->body);
	j->lines = tx->lines;
	j->ntargets = tx->pol.ntargets;
	j->targets = xreallocarray(NULL, tx->pol.ntargets,
	    sizeof(*j->targets));
	memcpy(j->targets, tx->pol.targets,
	    tx->pol.ntargets * sizeof(*j->targets));
	j->full = xcalloc(tx->pol.ntargets + 1, sizeof(*j->full));
	make_env(s, j);
	j->nremote = j->env.nrcpts;
	j->env.lines = tx->lines + count_lf(&j->remote_prefix);
	j->grant = tx->pol.grant;
	j->nrelayed = tx->pol.nrelayed;
	policy_holds_move(&j->holds, &tx->pol.holds);
	buf_init(&j->headers, SMTP_HEADER_MAX);
	j->needs_headers = policy_needs_headers(&tx->pol);
	(void)str_copy(j->quarantine, tx->quarantine, sizeof(j->quarantine));
	j->junk = tx->junk;
	j->expanded = tx->pol.expanded;
	j->expanded_orcpt = tx->pol.expanded_orcpt;
	strlist_init(&tx->pol.expanded);
	strlist_init(&tx->pol.expanded_orcpt);
	strlist_init(&j->notice_ids);
	session_submit(&s->base, s->srv->d.io, &deliver_ops, j);
}

/* The whole message was read: refuse it or deliver it. */
static void
message_end(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	char qf[LOG_QUOTE_SZ(ADDR_BUFSZ + 2)];

	tx->eod_us = clock_mono_us();
	/* The limit may have come down after octets arrived (a relaying
	   RCPT between BDAT chunks): the whole message is held to it. */
	if (tx->size > tx->pol.max_size)
		tx->flags |= TX_TOOBIG;
	if (tx->flags & (TX_BARE | TX_LONG | TX_TOOBIG | TX_SPOOLERR) ||
	    tx->body.err != 0) {
		log_info("sess=%s qid=%s smtp message-rejected client=%s "
		    "from=%s size=%llu reason=%s", s->conn->id, tx->id,
		    s->conn->peer_str, log_quote_addr(qf, sizeof(qf),
		    tx->pol.sender),
		    (unsigned long long)tx->size,
		    tx->flags & TX_BARE ? "bare-cr-lf" : tx->flags & TX_LONG ?
		    "line-too-long" : tx->flags & TX_TOOBIG ? "too-big" :
		    "spool-error");
		if (tx->flags & (TX_BARE | TX_LONG))
			smtp_reply_error(s, tx->flags & TX_BARE ?
			    REPLY_DATA_BARE : REPLY_DATA_LONG_LINE);
		else if (tx->flags & TX_TOOBIG)
			smtp_reply_num(s, REPLY_MSG_TOO_BIG, tx->pol.max_size);
		else
			smtp_reply_id(s, fs_errno_is_full(tx->body.err) ?
			    REPLY_DISK_FULL : REPLY_LOCAL_ERROR);
		metric_inc(&m_msgs, tx->flags & (TX_BARE | TX_LONG |
		    TX_TOOBIG) ? MSG_REFUSED : MSG_FAILED);
		smtp_tx_free(&s->tx);
		if (s->base.state != SS_CLOSING)
			smtp_enter_state(s, SS_READY);
		return;
	}
	if (smtp_mauth_start(s))
		return;
	smtp_data_accept(s);
}

void
smtp_data_accept(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;

	/* The filters see our Received: field first, as the mailboxes
	   will, and the Authentication-Results below it. */
	received(s, &tx->received);
	(void)buf_append(&tx->received, tx->authres.data, tx->authres.len);
	if (tx->milter != NULL) {
		(void)smtp_milter_eom(s);
		return;
	}
	smtp_deliver(s);
}

void
smtp_cmd_data(struct session *base, const char *arg, size_t len)
{
	struct smtp_session *s = smtp_of(base);

	(void)arg;
	(void)len;
	if (s->tx->bdat) {
		smtp_reply_error(s, REPLY_BDAT_MIXED);
		return;
	}
	if (!smtp_milter_data(s))
		smtp_data_go(s);
}

void
smtp_data_go(struct smtp_session *s)
{
	body_start(s->tx, true);
	smtp_enter_state(s, SS_DATA);
	smtp_reply_id(s, REPLY_DATA_GO);
}

void
smtp_cmd_bdat(struct session *base, const char *arg, size_t len)
{
	struct smtp_session *s = smtp_of(base);
	uint64_t size;
	bool last;

	if (smtp_parse_bdat(arg, len, &size, &last) == -1) {
		/* RFC 3030 section 2: the chunk that follows cannot be
		   found any more; the session cannot go on. */
		smtp_reply_error_text(s, REPLY_SYNTAX, "BDAT needs SIZE [LAST]");
		smtp_close(s, "bad BDAT");
		return;
	}
	if (!s->tx->bdat) {
		s->tx->bdat = true;
		body_start(s->tx, false);
	}
	s->tx->bdat_left = size;
	s->tx->bdat_last = last;
	smtp_enter_state(s, SS_BDAT);
}

/* BDAT chunk done: answer it, or end the message. */
static void
chunk_end(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;

	if (!tx->bdat_last) {
		smtp_enter_state(s, SS_RCPT);
		smtp_reply_num(s, REPLY_BDAT_OK, tx->bdat_total);
		return;
	}
	if (tx->bp.pending_cr) {
		tx->bp.pending_cr = false;
		bare(tx, '\r');
	}
	if (!tx->bp.bol)
		end_line(tx);	/* RFC 3030: complete the last line */
	message_end(s);
}

bool
smtp_data_input(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->conn->bev);
	struct smtp_tx *tx = s->tx;
	size_t have = evbuffer_get_length(in), used;
	const unsigned char *p;
	bool end = false;

	if (s->base.state == SS_BDAT) {
		if (tx->bdat_left == 0) {
			chunk_end(s);
			return true;
		}
		if (have == 0)
			return false;
		if (have > tx->bdat_left)
			have = (size_t)tx->bdat_left;
		p = evbuffer_pullup(in, (ssize_t)have);
		used = body_feed(tx, p, have, &end);
		(void)evbuffer_drain(in, used);
		tx->bdat_left -= used;
		tx->bdat_total += used;
		if (tx->bdat_left == 0)
			chunk_end(s);
		return true;
	}
	if (have == 0)
		return false;
	p = evbuffer_pullup(in, (ssize_t)have);
	used = body_feed(tx, p, have, &end);
	(void)evbuffer_drain(in, used);
	if (end) {
		message_end(s);
		return true;
	}
	return false;
}
