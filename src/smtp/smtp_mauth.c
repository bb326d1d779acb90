/*
 * smtp_mauth.c - the authentication of mail from the internet (SPEC
 * 10), once its last octet is in and before the content filters and
 * the delivery:
 *
 *   1. the spool is scanned (mauth_msg: DKIM signatures, ARC sets,
 *      their body hashes, From:) and Authentication-Results fields
 *      claiming our hostname are cut out of it (RFC 8601 section 5):
 *      on the loop for a spool in memory (at most SPOOL_MEM_MAX, no
 *      disk read), else on a worker;
 *   2. on the loop, all at once: SPF of the HELO name and of MAIL FROM
 *      (RFC 7208), the key of every signature;
 *   3. DMARC (RFC 7489) from those results;
 *   4. one Authentication-Results field under our hostname goes above
 *      the message (after our Received:), and the verdict: DMARC's
 *      p=reject with dmarc_policy = enforce, and a hosted From: domain
 *      neither DKIM-signed by it nor SPF-aligned with spoof_protection,
 *      are refused 550 5.7.1; p=quarantine goes to the Junk folders.
 *      Whether the From: domain is hosted is asked of the store (on a
 *      worker) only when the answer matters: when the message is
 *      neither DKIM-signed by that domain nor SPF-aligned with it.
 *
 * Customers (authenticated, authorized, trusted, submission) are not
 * checked: their mail is ours to sign, not to judge.
 */
#include <errno.h>
#include <string.h>

#include "mauth/mauth.h"
#include "store/store.h"
#include "smtp/smtp_int.h"
#include "util/log.h"
#include "util/str.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define MAUTH_DNS_TIMEOUT_MS	8000
#define MAUTH_SPF_TIMEOUT_MS	15000

struct key_query {
	struct smtp_mauth	*ma;
	size_t			 i;
	struct dns_req		*q;
};

struct smtp_mauth {
	struct smtp_session	*s;
	struct mauth_msg	*msg;
	char			 from[256];
	int			 from_r;	/* mauth_from_domain */
	struct spf_req		*spf_helo, *spf_mail;
	struct spf_answer	 helo, mail;
	struct key_query	 keys[MAUTH_DKIM_MAX + 1 + MAUTH_ARC_MAX];
	struct dmarc_req	*dmarc;
	struct dmarc_answer	 dm;
	unsigned		 pending;	/* SPF checks and keys out */
};

/* ---- 1: the scan, on a worker ---- */

struct scan_job {
	struct smtp_session	*s;
	struct spool		 body;
	struct mauth_msg	*msg;
	char			 from[256];
	int			 from_r;
	uint64_t		 lines_cut;
	int			 err;
};

static int
feed_sink(void *arg, const void *p, size_t n)
{
	mauth_msg_feed(arg, p, n);
	return 0;
}

/* Copies a spool without the forged fields. */
struct cut_sink {
	struct spool			*out;
	const struct mauth_range	*r;
	size_t				 n;
	uint64_t			 off, lines;
};

static int
cut_sink(void *arg, const void *data, size_t len)
{
	struct cut_sink *c = arg;
	const char *p = data;
	size_t i, k;

	for (i = 0; i < len; i++, c->off++) {
		for (k = 0; k < c->n; k++)
			if (c->off >= c->r[k].start && c->off < c->r[k].end)
				break;
		if (k < c->n) {
			c->lines += p[i] == '\n';
			continue;
		}
		spool_append(c->out, p + i, 1);
	}
	return 0;
}

static int
cut_forged(struct scan_job *j)
{
	const struct mauth_range *r;
	struct cut_sink c;
	struct spool out;
	size_t n = mauth_forged(j->msg, &r);

	if (n == 0)
		return 0;
	spool_init(&out, j->body.dir_fd, j->body.tmpdir);
	memset(&c, 0, sizeof(c));
	c.out = &out;
	c.r = r;
	c.n = n;
	if (spool_copy(&j->body, cut_sink, &c) == -1 || out.err != 0) {
		spool_free(&out);
		return -1;
	}
	spool_free(&j->body);
	spool_move(&j->body, &out);
	j->lines_cut = c.lines;
	return 0;
}

static bool
is_hosted(struct backends *b, const char *domain)
{
	struct store_domain d;
	const char *err;
	char org[256];
	struct store *st = backends_store(b, &err);

	if (st == NULL)
		return false;
	if (store_domain_find(st, domain, &d, &err) == 1)
		return true;
	dmarc_org_domain(domain, org, sizeof(org));
	return strcmp(org, domain) != 0 &&
	    store_domain_find(st, org, &d, &err) == 1;
}

/* The scan of J's spool, anywhere: 0, or -1 with J->err. */
static int
scan(struct scan_job *j)
{
	if (spool_copy(&j->body, feed_sink, j->msg) == -1) {
		j->err = errno;
		return -1;
	}
	mauth_msg_end(j->msg);
	if (cut_forged(j) == -1) {
		j->err = errno != 0 ? errno : EIO;
		return -1;
	}
	j->from_r = mauth_from_domain(j->msg, j->from, sizeof(j->from));
	return 0;
}

static void
scan_work(void *ctx, void *arg)
{
	(void)ctx;
	(void)scan(arg);
}

static void
scan_release(void *arg)
{
	struct scan_job *j = arg;

	spool_free(&j->body);
	mauth_msg_free(&j->msg);
	free(j);
}

static void keys_and_spf(struct smtp_mauth *);
static void scan_took(struct scan_job *);

static void
scan_done(void *arg)
{
	struct scan_job *j = arg;

	j->s->base.job = NULL;
	scan_took(j);
}

/* The scan's results into the transaction, and on (or the refusal of a
   spool that could not be read). */
static void
scan_took(struct scan_job *j)
{
	struct smtp_session *s = j->s;
	struct smtp_tx *tx = s->tx;
	struct smtp_mauth *ma = tx->mauth;

	spool_move(&tx->body, &j->body);
	tx->lines -= j->lines_cut;
	ma->msg = j->msg;
	j->msg = NULL;
	ma->from_r = j->from_r;
	(void)str_copy(ma->from, j->from, sizeof(ma->from));
	if (j->err != 0) {
		log_error("sess=%s qid=%s smtp auth-scan failed: %s",
		    s->conn->id, tx->id, strerror(j->err));
		smtp_reply_id(s, REPLY_LOCAL_ERROR);
		smtp_tx_free(&s->tx);
		smtp_enter_state(s, SS_READY);
		scan_release(j);
		smtp_resume(s);
		return;
	}
	scan_release(j);
	keys_and_spf(ma);
}

static const struct worker_ops scan_ops = {
	scan_work, scan_done, scan_release,
};

/* ---- 2: SPF and the keys, on the loop ---- */

static void dmarc_step(struct smtp_mauth *);

/* A closing session (the client left) goes no further: its
   transaction is freed with the session, cancelling what is left. */
static bool
closing(const struct smtp_mauth *ma)
{
	return ma->s->base.state == SS_CLOSING;
}

static void
one_done(struct smtp_mauth *ma)
{
	if (--ma->pending == 0 && !closing(ma))
		dmarc_step(ma);
}

static void
on_spf_helo(const struct spf_answer *a, void *arg)
{
	struct smtp_mauth *ma = arg;

	ma->spf_helo = NULL;
	ma->helo = *a;
	if (ma->s->tx->pol.sender[0] == '\0')
		ma->mail = *a;	/* RFC 7208 2.4: the HELO identity */
	one_done(ma);
}

static void
on_spf_mail(const struct spf_answer *a, void *arg)
{
	struct smtp_mauth *ma = arg;

	ma->spf_mail = NULL;
	ma->mail = *a;
	one_done(ma);
}

static void
on_key(int status, const struct dns_txt *recs, size_t n, void *arg)
{
	struct key_query *k = arg;
	struct smtp_mauth *ma = k->ma;

	k->q = NULL;
	mauth_sig_verify(ma->msg, mauth_sig(ma->msg, k->i), status, recs, n,
	    (int64_t)time(NULL));
	one_done(ma);
}

static void
start_spf(struct smtp_mauth *ma)
{
	struct smtp_session *s = ma->s;
	const char *helo = s->client.helo, *sender = s->tx->pol.sender;
	const char *at = strrchr(sender, '@');
	struct dns *dns = s->srv->d.dns;
	char pm[ADDR_BUFSZ];

	ma->helo.result = ma->mail.result = SPF_NONE;
	/* An address literal names no domain (RFC 7208 2.3). */
	if (helo[0] != '\0' && helo[0] != '[') {
		(void)str_copy(ma->helo.domain, helo, sizeof(ma->helo.domain));
		(void)str_fmt(pm, sizeof(pm), "postmaster@%s", helo);
		ma->pending++;
		ma->spf_helo = spf_check(dns, &s->conn->peer, helo, pm, helo,
		    s->cfg->hostname, MAUTH_SPF_TIMEOUT_MS, on_spf_helo, ma);
	}
	if (sender[0] != '\0' && at != NULL) {
		(void)str_copy(ma->mail.domain, at + 1, sizeof(ma->mail.domain));
		ma->pending++;
		ma->spf_mail = spf_check(dns, &s->conn->peer, at + 1, sender,
		    helo, s->cfg->hostname, MAUTH_SPF_TIMEOUT_MS, on_spf_mail,
		    ma);
	}
}

static void
keys_and_spf(struct smtp_mauth *ma)
{
	size_t i, n = mauth_sig_count(ma->msg);
	char name[400];

	ma->pending = 1;	/* held until everything is started */
	start_spf(ma);
	for (i = 0; i < n && i < nitems(ma->keys); i++) {
		struct mauth_sig *sig = mauth_sig(ma->msg, i);

		if (sig->result != MAUTH_NONE)
			continue;	/* refused when parsed */
		if (mauth_sig_keyname(sig, name, sizeof(name)) == -1) {
			mauth_sig_verify(ma->msg, sig, 0, NULL, 0, 0);
			continue;
		}
		ma->keys[i].ma = ma;
		ma->keys[i].i = i;
		ma->pending++;
		ma->keys[i].q = dns_txt(ma->s->srv->d.dns, name,
		    MAUTH_DNS_TIMEOUT_MS, on_key, &ma->keys[i]);
	}
	one_done(ma);
}

/* ---- 3: DMARC ---- */

static void finish(struct smtp_mauth *);

static void
on_dmarc(const struct dmarc_answer *a, void *arg)
{
	struct smtp_mauth *ma = arg;

	ma->dmarc = NULL;
	ma->dm = *a;
	if (!closing(ma))
		finish(ma);
}

static void
dmarc_step(struct smtp_mauth *ma)
{
	const struct mauth_sig *sigs[MAUTH_DKIM_MAX];
	struct dmarc_input in;
	size_t i, n = mauth_sig_count(ma->msg), k = 0;

	memset(&ma->dm, 0, sizeof(ma->dm));
	if (ma->from_r != 1) {
		ma->dm.result = ma->from_r == 0 ? MAUTH_NONE : MAUTH_PERMERROR;
		(void)str_copy(ma->dm.error, ma->from_r == 0 ? "no From: "
		    "field" : "not one From: address", sizeof(ma->dm.error));
		finish(ma);
		return;
	}
	for (i = 0; i < n && k < nitems(sigs); i++)
		if (mauth_sig(ma->msg, i)->kind == MAUTH_SIG_DKIM)
			sigs[k++] = mauth_sig(ma->msg, i);
	memset(&in, 0, sizeof(in));
	in.from_domain = ma->from;
	in.spf = ma->mail.result;
	in.spf_domain = ma->mail.domain;
	in.sigs = sigs;
	in.nsigs = k;
	ma->dmarc = dmarc_check(ma->s->srv->d.dns, &in, MAUTH_DNS_TIMEOUT_MS,
	    on_dmarc, ma);
}

/* ---- 4: the field and the verdict ---- */

/* A name from the message fit for the field: letters, digits, '.',
   '-', '_' (anything else, folding included, could forge fields). */
static bool
safe(const char *s)
{
	return s[0] != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_+/=") == strlen(s);
}

static void
ar_spf(struct buf *b, const struct spf_answer *a, const char *prop)
{
	(void)buf_printf(b, ";\n\tspf=%s", spf_result_name(a->result));
	if (a->result == SPF_TEMPERROR || a->result == SPF_PERMERROR)
		(void)buf_printf(b, " (%s)", safe(a->explain) ? a->explain :
		    "error");
	if (safe(a->domain))
		(void)buf_printf(b, " %s=%s", prop, a->domain);
}

static void
ar_dkim(struct buf *b, const struct mauth_sig *sig)
{
	(void)buf_printf(b, ";\n\tdkim=%s", mauth_result_name(sig->result));
	if (sig->result != MAUTH_PASS && sig->error[0] != '\0')
		(void)buf_printf(b, " (%s)", sig->error);
	if (safe(sig->domain))
		(void)buf_printf(b, " header.d=%s", sig->domain);
	if (safe(sig->selector))
		(void)buf_printf(b, " header.s=%s", sig->selector);
	if (sig->alg != -1)
		(void)buf_printf(b, " header.a=%s",
		    dkim_alg_name((enum dkim_alg)sig->alg));
	if (safe(sig->b8))
		(void)buf_printf(b, " header.b=%s", sig->b8);
}

static void
authres(struct smtp_mauth *ma, enum mauth_result arc, unsigned narc,
    const char *arc_err, struct buf *b)
{
	struct smtp_session *s = ma->s;
	size_t i, n = mauth_sig_count(ma->msg), ndkim = 0;

	(void)buf_printf(b, "Authentication-Results: %s", s->cfg->hostname);
	if (s->tx->pol.sender[0] != '\0')
		ar_spf(b, &ma->mail, "smtp.mailfrom");
	if (ma->helo.domain[0] != '\0')
		ar_spf(b, &ma->helo, "smtp.helo");
	for (i = 0; i < n; i++) {
		const struct mauth_sig *sig = mauth_sig(ma->msg, i);

		if (sig->kind != MAUTH_SIG_DKIM)
			continue;
		ar_dkim(b, sig);
		ndkim++;
	}
	if (ndkim == 0)
		(void)buf_printf(b, ";\n\tdkim=none");
	(void)buf_printf(b, ";\n\tdmarc=%s", mauth_result_name(ma->dm.result));
	if (ma->dm.record)
		(void)buf_printf(b, " (p=%s dis=%s)",
		    dmarc_policy_name(ma->dm.policy),
		    dmarc_policy_name(ma->dm.disposition));
	else if (ma->dm.error[0] != '\0')
		(void)buf_printf(b, " (%s)", ma->dm.error);
	if (ma->from_r == 1 && safe(ma->from))
		(void)buf_printf(b, " header.from=%s", ma->from);
	(void)buf_printf(b, ";\n\tarc=%s", mauth_result_name(arc));
	if (arc == MAUTH_FAIL && arc_err[0] != '\0')
		(void)buf_printf(b, " (%s)", arc_err);
	else if (arc == MAUTH_PASS)
		(void)buf_printf(b, " (i=%u)", narc);
	(void)buf_putc(b, '\n');
}

/* spoof_protection, before the store is asked: the From: domain neither
   signed the message (a DKIM signature of its domain verifies) nor is
   SPF-aligned with MAIL FROM; spoofed if the domain is hosted. */
static bool
unauthenticated(const struct smtp_mauth *ma)
{
	size_t i, n = mauth_sig_count(ma->msg);

	if (!ma->s->cfg->spoof_protection || ma->from_r != 1)
		return false;
	if (ma->mail.result == SPF_PASS && dmarc_aligned(ma->mail.domain,
	    ma->from, false))
		return false;
	for (i = 0; i < n; i++) {
		const struct mauth_sig *sig = mauth_sig(ma->msg, i);

		if (sig->kind == MAUTH_SIG_DKIM && sig->result == MAUTH_PASS &&
		    dmarc_aligned(sig->domain, ma->from, false))
			return false;
	}
	return true;
}

static void
refuse(struct smtp_session *s, enum reply_text_id id, const char *why)
{
	struct smtp_mauth *ma = s->tx->mauth;

	log_info("sess=%s qid=%s smtp message-rejected client=%s from=%s "
	    "reason=%s", s->conn->id, s->tx->id, s->conn->peer_str, ma->from,
	    why);
	smtp_reply_text(s, id, ma->from);
	smtp_data_count_ended(true);
	smtp_tx_free(&s->tx);
	smtp_enter_state(s, SS_READY);
	smtp_resume(s);
}

/* ---- spoof_protection: is the From: domain ours? (on a worker) ---- */

struct hosted_job {
	struct smtp_session	*s;
	char			 domain[256];
	bool			 hosted;
};

static void
hosted_work(void *ctx, void *arg)
{
	struct hosted_job *j = arg;

	j->hosted = is_hosted(ctx, j->domain);
}

static void
hosted_done(void *arg)
{
	struct hosted_job *j = arg;
	struct smtp_session *s = j->s;
	bool hosted = j->hosted;

	s->base.job = NULL;
	free(j);
	if (hosted)
		refuse(s, REPLY_SPOOFED, "spoofed-hosted-domain");
	else
		smtp_data_accept(s);
}

static void
hosted_release(void *arg)
{
	free(arg);
}

static const struct worker_ops hosted_ops = {
	hosted_work, hosted_done, hosted_release,
};

static void
ask_hosted(struct smtp_mauth *ma)
{
	struct hosted_job *j = xcalloc(1, sizeof(*j));

	j->s = ma->s;
	(void)str_copy(j->domain, ma->from, sizeof(j->domain));
	session_submit(&ma->s->base, ma->s->srv->d.io, &hosted_ops, j);
}

static void
finish(struct smtp_mauth *ma)
{
	struct smtp_session *s = ma->s;
	struct smtp_tx *tx = s->tx;
	char arc_err[MAUTH_ERROR_MAX];
	enum mauth_result arc;
	unsigned narc;

	arc = mauth_arc_result(ma->msg, &narc, arc_err);
	buf_reset(&tx->authres);
	authres(ma, arc, narc, arc_err, &tx->authres);
	log_info("sess=%s qid=%s smtp auth spf=%s helo-spf=%s dmarc=%s "
	    "arc=%s from=%s", s->conn->id, tx->id,
	    spf_result_name(ma->mail.result), spf_result_name(ma->helo.result),
	    mauth_result_name(ma->dm.result), mauth_result_name(arc),
	    ma->from_r == 1 ? ma->from : "-");
	if (s->cfg->dmarc_policy == DMARC_ENFORCE &&
	    ma->dm.result == MAUTH_FAIL) {
		if (ma->dm.disposition == DMARC_P_REJECT) {
			refuse(s, REPLY_DMARC_REJECT, "dmarc");
			return;
		}
		tx->junk = ma->dm.disposition == DMARC_P_QUARANTINE;
	}
	if (unauthenticated(ma))
		ask_hosted(ma);
	else
		smtp_data_accept(s);
}

bool
smtp_mauth_start(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	struct scan_job *j;

	if (!s->cfg->inbound_auth || smtp_relay_capable(s) ||
	    tx->pol.nrelayed > 0 || s->srv->d.dns == NULL)
		return false;
	tx->mauth = xcalloc(1, sizeof(*tx->mauth));
	tx->mauth->s = s;
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->msg = mauth_msg_new(s->cfg->hostname);
	spool_move(&j->body, &tx->body);
	if (j->body.fd == -1) {
		/* In memory: no read to wait for, and no hand-off to a
		   worker and back for it. The session waits as for a job
		   (a refusal without any DNS resumes it from here, one
		   level deep: its next RCPT goes to a worker). */
		s->base.busy = true;
		(void)scan(j);
		scan_took(j);
	} else
		session_submit(&s->base, s->srv->d.io, &scan_ops, j);
	return true;
}

void
smtp_mauth_free(struct smtp_mauth **map)
{
	struct smtp_mauth *ma = *map;
	size_t i;

	if (ma == NULL)
		return;
	*map = NULL;
	spf_cancel(&ma->spf_helo);
	spf_cancel(&ma->spf_mail);
	for (i = 0; i < nitems(ma->keys); i++)
		dns_cancel(&ma->keys[i].q);
	dmarc_cancel(&ma->dmarc);
	mauth_msg_free(&ma->msg);
	free(ma);
}
