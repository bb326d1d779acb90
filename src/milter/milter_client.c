/*
 * milter_client.c - the chain of content filters of one SMTP session
 * (milter.h): each filter over its own connection, every step through
 * them in order, each command sent when the one before was answered.
 *
 * A step is a program per filter: a list of phases, each sending one
 * command (its macros first) and, unless the filter said it does not
 * answer it (SMFIP_NR_*) or does not want it (SMFIP_NO*), waiting for
 * its reply, under the command timeout (restarted by a progress reply)
 * and the total timeout of the transaction. The first filter that
 * refuses ends the step; a filter that fails gets its default action.
 * Callbacks of the caller come from the loop, never from inside a call.
 */
#include <errno.h>
#include <string.h>

#include <event2/event.h>

#include "core/config.h"
#include "milter/milter_int.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"


/* ---- results ---- */

static void
result_set(struct milter_chain *ch, const struct mfilter *f,
    enum milter_verdict v, const char *reply, const char *why)
{
	struct milter_result *r = &ch->res;

	r->v = v;
	(void)str_copy(r->filter, f->cfg->name, sizeof(r->filter));
	(void)str_copy(r->why, why, sizeof(r->why));
	buf_reset(&r->reply);
	if (reply != NULL)
		(void)buf_append_str(&r->reply, reply);
}

static void
finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct milter_chain *ch = arg;
	milter_done_fn *done = ch->done;

	(void)fd;
	(void)what;
	ch->step = STEP_NONE;
	ch->done = NULL;
	if (done != NULL)
		done(ch->arg, &ch->res);
}

/* The step is over: the caller hears of it from the loop. */
static void
finish(struct milter_chain *ch)
{
	milter_hdrs_free(&ch->hdrs);
	event_active(ch->ev_done, EV_TIMEOUT, 1);
}

/* ---- failures and the default action ---- */

void
mfilter_fail(struct mfilter *f, const char *why)
{
	struct milter_chain *ch = f->ch;
	bool running = ch->step != STEP_NONE && &ch->f[ch->cur] == f;

	log_warn("sess=%s milter=%s failed stage=%s: %s (default action %s)",
	    ch->sess, f->cfg->name, milter_stage_name(f->waiting_stage), why,
	    config_milter_action_name(f->cfg->default_action));
	mfilter_close(f);
	f->dead = true;
	if (!running)
		return;
	if (f->cfg->default_action == MILTER_ACTION_TEMPFAIL) {
		result_set(ch, f, MILTER_V_TEMPFAIL, MILTER_TEMPFAIL_REPLY, why);
		ch->res.failed = true;
		finish(ch);
		return;
	}
	ch->cur++;
	mchain_advance(ch);
}

/* ---- macros ---- */

/* The value of macro NAME ("{x}" or "x") now, "" when unknown. */
static const char *
macro_value(const struct milter_chain *ch, const char *name, char *tmp,
    size_t tmpsz)
{
	const struct milter_client_info *in = &ch->info;
	char n[40];
	size_t len = strlen(name);

	if (len >= 2 && name[0] == '{' && name[len - 1] == '}')
		(void)str_ncopy(n, name + 1, len - 2, sizeof(n));
	else
		(void)str_copy(n, name, sizeof(n));
	if (strcmp(n, "j") == 0)
		return in->myhostname;
	if (strcmp(n, "v") == 0)
		return "popgate";
	if (strcmp(n, "_") == 0) {
		(void)str_fmt(tmp, tmpsz, "%s [%s]", in->name, in->addr);
		return tmp;
	}
	if (strcmp(n, "i") == 0)
		return ch->qid;
	if (strcmp(n, "client_addr") == 0)
		return in->addr;
	if (strcmp(n, "client_name") == 0 || strcmp(n, "client_ptr") == 0)
		return in->name;
	if (strcmp(n, "client_port") == 0) {
		(void)str_fmt(tmp, tmpsz, "%u", (unsigned)in->port);
		return tmp;
	}
	if (strcmp(n, "if_addr") == 0 || strcmp(n, "daemon_addr") == 0)
		return in->if_addr;
	if (strcmp(n, "daemon_name") == 0)
		return in->daemon;
	if (strcmp(n, "tls_version") == 0)
		return in->tls_version;
	if (strcmp(n, "cipher") == 0)
		return in->cipher;
	if (strcmp(n, "auth_type") == 0)
		return in->auth_type;
	if (strcmp(n, "auth_authen") == 0)
		return in->auth_authen;
	if (strcmp(n, "mail_addr") == 0)
		return ch->mail_addr;
	if (strcmp(n, "rcpt_addr") == 0)
		return ch->rcpt_addr;
	return "";
}

/* What we send at each stage unless the filter asked for its own list
   (as Postfix's milter_*_macros). */
static const char *const default_macros[MILTER_M_NSTAGES] = {
	/* One list of names, split for the line length. */
	/* NOLINTNEXTLINE(bugprone-suspicious-missing-comma) */
	[MILTER_M_CONNECT] = "j {daemon_name} v _ {client_addr} {client_name} "
	    "{client_port} {if_addr}",
	[MILTER_M_HELO] = "{tls_version} {cipher}",
	[MILTER_M_ENVFROM] = "i {auth_type} {auth_authen} {mail_addr}",
	[MILTER_M_ENVRCPT] = "{rcpt_addr}",
	[MILTER_M_DATA] = "i",
	[MILTER_M_EOM] = "i",
	[MILTER_M_EOH] = "",
};

/* The MACRO packet for command CMD at macro stage MS into OUT. */
static int
enc_macros(const struct mfilter *f, char cmd, enum milter_mstage ms,
    struct buf *out)
{
	const char *list = f->macros[ms] != NULL ? f->macros[ms] :
	    default_macros[ms];
	const char *names[24], *values[24];
	char namebuf[24][40], tmp[24][300];
	size_t n = 0, len;
	const char *p = list, *v;

	while (*p != '\0' && n < nitems(names)) {
		while (*p == ' ' || *p == ',')
			p++;
		len = strcspn(p, " ,");
		if (len == 0)
			break;
		(void)str_ncopy(namebuf[n], p, len, sizeof(namebuf[n]));
		p += len;
		v = macro_value(f->ch, namebuf[n], tmp[n], sizeof(tmp[n]));
		if (*v == '\0')
			continue;
		names[n] = namebuf[n];
		values[n++] = v;
	}
	return n == 0 ? 0 : milter_enc_macros(out, cmd, names, values, n);
}

/* ---- sending one command ---- */

/* What a phase did: sent and waits (PH_WAIT), nothing to wait for (go
   on), the filter is through with the step, or it failed (handled). */
enum ph_result { PH_WAIT, PH_GO_ON, PH_FILTER_DONE, PH_FAILED };

/* Sends what was encoded into ch->pkt; waits for a reply at STAGE
   unless NR (a flag of SMFIP_NR_*) was negotiated. */
static enum ph_result
send_pkt(struct mfilter *f, enum milter_stage stage, uint32_t nr)
{
	struct milter_chain *ch = f->ch;

	if (mfilter_write(f, ch->pkt.data, ch->pkt.len) == -1)
		return PH_FAILED;
	buf_reset(&ch->pkt);
	if (nr != 0 && (f->protocol & nr))
		return PH_GO_ON;
	mfilter_expect(f, stage);
	return PH_WAIT;
}

static enum ph_result
encode_failed(struct mfilter *f, const char *what)
{
	buf_reset(&f->ch->pkt);
	mfilter_fail(f, what);
	return PH_FAILED;
}

static enum ph_result
ph_connect(struct mfilter *f)
{
	struct milter_chain *ch = f->ch;
	const struct milter_client_info *in = &ch->info;

	if (f->protocol & MILTER_P_NOCONNECT)
		return PH_GO_ON;
	if (enc_macros(f, MILTER_C_CONNECT, MILTER_M_CONNECT, &ch->pkt) == -1 ||
	    milter_enc_connect(&ch->pkt, in->name, in->family, in->port,
	    in->addr) == -1)
		return encode_failed(f, "CONNECT does not fit a packet");
	return send_pkt(f, MILTER_S_CONNECT, MILTER_P_NR_CONN);
}

static enum ph_result
ph_helo(struct mfilter *f)
{
	struct milter_chain *ch = f->ch;

	if (f->protocol & MILTER_P_NOHELO || ch->info.helo[0] == '\0')
		return PH_GO_ON;
	if (enc_macros(f, MILTER_C_HELO, MILTER_M_HELO, &ch->pkt) == -1 ||
	    milter_enc_helo(&ch->pkt, ch->info.helo) == -1)
		return encode_failed(f, "HELO does not fit a packet");
	return send_pkt(f, MILTER_S_HELO, MILTER_P_NR_HELO);
}

static enum ph_result
ph_mail(struct mfilter *f)
{
	struct milter_chain *ch = f->ch;

	f->greeted = true;
	f->in_tx = true;
	f->tx_done = false;
	f->tx_deadline_ms = clock_mono_ms() + f->cfg->total_timeout * 1000;
	if (f->protocol & MILTER_P_NOMAIL)
		return PH_GO_ON;
	if (enc_macros(f, MILTER_C_MAIL, MILTER_M_ENVFROM, &ch->pkt) == -1 ||
	    milter_enc_mail(&ch->pkt, (const char *const *)ch->argv.v,
	    ch->argv.n) == -1)
		return encode_failed(f, "MAIL does not fit a packet");
	return send_pkt(f, MILTER_S_MAIL, MILTER_P_NR_MAIL);
}

static enum ph_result
ph_rcpt(struct mfilter *f)
{
	struct milter_chain *ch = f->ch;

	if (f->protocol & MILTER_P_NORCPT)
		return PH_GO_ON;
	if (enc_macros(f, MILTER_C_RCPT, MILTER_M_ENVRCPT, &ch->pkt) == -1 ||
	    milter_enc_rcpt(&ch->pkt, (const char *const *)ch->argv.v,
	    ch->argv.n) == -1)
		return encode_failed(f, "RCPT does not fit a packet");
	return send_pkt(f, MILTER_S_RCPT, MILTER_P_NR_RCPT);
}

static enum ph_result
ph_data(struct mfilter *f)
{
	struct milter_chain *ch = f->ch;

	if (f->protocol & MILTER_P_NODATA)
		return PH_GO_ON;
	if (enc_macros(f, MILTER_C_DATA, MILTER_M_DATA, &ch->pkt) == -1 ||
	    milter_enc_bare(&ch->pkt, MILTER_C_DATA) == -1)
		return encode_failed(f, "DATA does not fit a packet");
	return send_pkt(f, MILTER_S_DATA, MILTER_P_NR_DATA);
}

/* The next header field; PH_FILTER_DONE-like "no more" is PH_GO_ON with
   f->hdr_ix at the end. */
static enum ph_result
ph_header(struct mfilter *f, bool *more)
{
	struct milter_chain *ch = f->ch;
	const struct milter_field *fl;
	char *name, *value;
	const char *v;
	size_t vlen;
	int r;

	*more = false;
	if (f->protocol & MILTER_P_NOHDRS || f->hdr_ix >= ch->hdrs.n)
		return PH_GO_ON;
	*more = true;
	fl = &ch->hdrs.v[f->hdr_ix++];
	v = ch->hdrs.text.data + fl->value;
	vlen = fl->value_len;
	if (!(f->protocol & MILTER_P_HDR_LEADSPC))
		while (vlen > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
	name = xstrndup(ch->hdrs.text.data + fl->name, fl->name_len);
	value = xstrndup(v, vlen);
	r = milter_enc_header(&ch->pkt, name, value);
	free(name);
	free(value);
	if (r == -1)
		return encode_failed(f, "a header field does not fit a packet");
	return send_pkt(f, MILTER_S_HEADER, MILTER_P_NR_HDR);
}

static enum ph_result
ph_eoh(struct mfilter *f)
{
	struct milter_chain *ch = f->ch;

	if (f->protocol & MILTER_P_NOEOH)
		return PH_GO_ON;
	if (enc_macros(f, MILTER_C_EOH, MILTER_M_EOH, &ch->pkt) == -1 ||
	    milter_enc_bare(&ch->pkt, MILTER_C_EOH) == -1)
		return encode_failed(f, "EOH does not fit a packet");
	return send_pkt(f, MILTER_S_EOH, MILTER_P_NR_EOH);
}

static enum ph_result
ph_body(struct mfilter *f, bool *more)
{
	struct milter_chain *ch = f->ch;
	int n;

	*more = false;
	if (f->protocol & MILTER_P_NOBODY || f->skip_body)
		return PH_GO_ON;
	if (f->body_pos == 0)
		f->body_pos = ch->hdrs.body_off;
	if ((n = milter_body_chunk(ch->msg, &f->body_pos, &ch->body)) == -1) {
		log_error("sess=%s milter=%s cannot read the message: %s",
		    ch->sess, f->cfg->name, strerror(errno));
		return encode_failed(f, "the message could not be read");
	}
	if (n == 0)
		return PH_GO_ON;
	*more = true;
	if (milter_enc_body(&ch->pkt, ch->body.data, ch->body.len) == -1)
		return encode_failed(f, "a body chunk does not fit a packet");
	return send_pkt(f, MILTER_S_BODY, MILTER_P_NR_BODY);
}

static enum ph_result
ph_eom(struct mfilter *f)
{
	struct milter_chain *ch = f->ch;

	f->replacing = false;
	if (enc_macros(f, MILTER_C_EOM, MILTER_M_EOM, &ch->pkt) == -1 ||
	    milter_enc_bare(&ch->pkt, MILTER_C_EOM) == -1)
		return encode_failed(f, "EOM does not fit a packet");
	return send_pkt(f, MILTER_S_EOM, 0);
}

/* ---- the programs of the steps ---- */

/* Runs F's next phases of the step until one waits. */
static enum ph_result
filter_next(struct mfilter *f)
{
	enum ph_result r = PH_GO_ON;
	bool more;

	while (r == PH_GO_ON) {
		if (mfilter_backlogged(f))
			return PH_WAIT;	/* the filter reads first */
		switch (f->phase++) {
		case PH_OPEN:
			if (f->bev == NULL)
				r = mfilter_open(f) == 0 ? PH_WAIT : PH_FAILED;
			break;
		case PH_CONNECT:
			r = f->greeted ? PH_GO_ON : ph_connect(f);
			break;
		case PH_HELO:
			r = f->greeted ? PH_GO_ON : ph_helo(f);
			break;
		case PH_MAIL:
			r = ph_mail(f);
			break;
		case PH_RCPT:
			r = ph_rcpt(f);
			break;
		case PH_DATA:
			r = ph_data(f);
			break;
		case PH_HEADERS:
			r = ph_header(f, &more);
			if (more)
				f->phase--;
			break;
		case PH_EOH:
			r = ph_eoh(f);
			break;
		case PH_BODY:
			r = ph_body(f, &more);
			if (more)
				f->phase--;
			break;
		case PH_EOM:
			r = ph_eom(f);
			break;
		default:	/* the end of the step's phases */
			return PH_FILTER_DONE;
		}
	}
	return r;
}

/* Whether F takes part in the step running. */
static bool
takes_part(const struct milter_chain *ch, const struct mfilter *f)
{
	const struct milter_cfg *m = f->cfg;

	if (m->apply != MILTER_APPLY_ALL && (m->apply == MILTER_APPLY_RELAY) !=
	    ch->relay)
		return false;
	if (ch->step == STEP_MAIL)
		return !f->conn_done;
	return f->in_tx && !f->tx_done && !f->dead && !f->conn_done;
}

/* Goes on with the filter at work, then the next ones. */
void
mchain_advance(struct milter_chain *ch)
{
	struct mfilter *f;

	while (ch->cur < ch->n) {
		f = &ch->f[ch->cur];
		if (!takes_part(ch, f)) {
			ch->cur++;
			continue;
		}
		if (ch->step == STEP_MAIL && f->conn_v != MILTER_V_CONTINUE) {
			/* Refused at CONNECT or HELO: every MAIL is. */
			result_set(ch, f, f->conn_v, f->conn_reply.data,
			    "refused at connect");
			finish(ch);
			return;
		}
		/* A filter that failed is tried again at the next message:
		   it may be back. */
		if (ch->step == STEP_MAIL)
			f->dead = false;
		switch (filter_next(f)) {
		case PH_WAIT:
		case PH_FAILED:
			return;
		case PH_GO_ON:
		case PH_FILTER_DONE:
			ch->cur++;
			break;
		}
	}
	finish(ch);
}

/* ---- replies ---- */

static void
refusal(struct mfilter *f, const struct milter_reply *r)
{
	struct milter_chain *ch = f->ch;
	enum milter_stage st = f->waiting_stage;
	bool at_end = st >= MILTER_S_HEADER && st != MILTER_S_UNKNOWN;
	enum milter_verdict v;
	char why[64];

	buf_reset(&ch->pkt);
	switch (r->cmd) {
	case MILTER_R_REJECT:
		v = MILTER_V_REJECT;
		(void)buf_append_str(&ch->pkt, at_end ? MILTER_REJECT_MSG_REPLY :
		    MILTER_REJECT_REPLY);
		break;
	case MILTER_R_REPLYCODE:
		v = r->code >= 500 ? MILTER_V_REJECT : MILTER_V_TEMPFAIL;
		if (milter_reply_smtp(r, &ch->pkt) == -1)
			(void)buf_append_str(&ch->pkt, v == MILTER_V_REJECT ?
			    MILTER_REJECT_REPLY : MILTER_TEMPFAIL_REPLY);
		break;
	case MILTER_R_DISCARD:
		v = MILTER_V_DISCARD;
		break;
	case MILTER_R_SHUTDOWN:
	case MILTER_R_CONNFAIL:
		/* The filter wants the session ended (as Postfix: 421). */
		v = MILTER_V_TEMPFAIL;
		(void)buf_append_str(&ch->pkt, MILTER_SHUTDOWN_REPLY);
		break;
	default:	/* tempfail */
		v = MILTER_V_TEMPFAIL;
		(void)buf_append_str(&ch->pkt, MILTER_TEMPFAIL_REPLY);
		break;
	}
	(void)str_fmt(why, sizeof(why), "%s at %s", milter_rep_name(r->cmd),
	    milter_stage_name(st));
	log_info("sess=%s qid=%s milter=%s %s", ch->sess, ch->qid,
	    f->cfg->name, why);
	if (st == MILTER_S_CONNECT || st == MILTER_S_HELO) {
		f->conn_v = v;
		buf_reset(&f->conn_reply);
		(void)buf_append(&f->conn_reply, ch->pkt.data, ch->pkt.len);
	}
	result_set(ch, f, v, ch->pkt.data, why);
	buf_reset(&ch->pkt);
	finish(ch);
}

/* A change at the end of the message, kept in order. */
static void
keep_mod(struct mfilter *f, const struct milter_reply *r)
{
	struct milter_result *res = &f->ch->res;
	struct milter_mod *m;
	struct buf v;

	res->mods = xreallocarray(res->mods, res->nmods + 1, sizeof(*m));
	m = &res->mods[res->nmods++];
	memset(m, 0, sizeof(*m));
	m->cmd = r->cmd;
	m->index = r->index;
	if (r->name != NULL)
		m->name = xstrdup(r->name);
	if (r->value != NULL) {
		buf_init(&v, BUF_UNLIMITED);
		if (!(f->protocol & MILTER_P_HDR_LEADSPC) &&
		    !(r->cmd == MILTER_R_CHGHEADER && *r->value == '\0'))
			(void)buf_putc(&v, ' ');
		/* The message keeps LF line ends. */
		for (const char *p = r->value; *p != '\0'; p++)
			if (*p != '\r' || p[1] != '\n')
				(void)buf_putc(&v, *p);
		m->value = xstrdup(buf_cstr(&v));
		buf_free(&v);
	}
	if (r->addr != NULL)
		m->addr = xstrdup(r->addr);
	if (r->args != NULL)
		m->args = xstrdup(r->args);
}

/* An end-of-message action that is not the final reply. */
static void
eom_action(struct mfilter *f, const struct milter_reply *r)
{
	struct milter_result *res = &f->ch->res;

	switch (r->cmd) {
	case MILTER_R_REPLBODY:
		if (!f->replacing) {
			/* A later filter's body replaces an earlier one's. */
			buf_reset(&res->body);
			res->body_cr = false;
			f->replacing = true;
		}
		res->body_replaced = true;
		if (milter_body_append(res, r->body, r->bodylen) == -1)
			mfilter_fail(f, "replaced body too large");
		break;
	case MILTER_R_QUARANTINE:
		if (res->quarantine[0] == '\0')
			(void)str_fmt(res->quarantine, sizeof(res->quarantine),
			    "%s: %s", f->cfg->name, r->value);
		log_info("sess=%s qid=%s milter=%s quarantine reason=\"%s\"",
		    f->ch->sess, f->ch->qid, f->cfg->name, r->value);
		break;
	default:
		keep_mod(f, r);
		break;
	}
}

void
mfilter_reply(struct mfilter *f, const struct milter_reply *r)
{
	struct milter_chain *ch = f->ch;
	enum milter_stage st = f->waiting_stage;

	switch (r->cmd) {
	case MILTER_R_OPTNEG:
		mfilter_negotiated(f, r);
		break;
	case MILTER_R_PROGRESS:
		mfilter_expect(f, st);	/* the timer starts again */
		return;
	case MILTER_R_CONTINUE:
		break;
	case MILTER_R_SKIP:
		f->skip_body = true;
		break;
	case MILTER_R_ACCEPT:
		if (st == MILTER_S_CONNECT || st == MILTER_S_HELO)
			f->conn_done = true;
		else
			f->tx_done = true;
		f->in_tx = st != MILTER_S_EOM && !f->conn_done;
		f->phase = PH_END;
		break;
	case MILTER_R_REJECT:
	case MILTER_R_TEMPFAIL:
	case MILTER_R_REPLYCODE:
	case MILTER_R_DISCARD:
	case MILTER_R_SHUTDOWN:
	case MILTER_R_CONNFAIL:
		if (st == MILTER_S_EOM)
			f->in_tx = false;
		refusal(f, r);
		return;
	default:
		if (st == MILTER_S_EOM) {
			eom_action(f, r);
			if (f->bev != NULL)
				mfilter_expect(f, st);
			return;
		}
		mfilter_fail(f, "reply not allowed here");
		return;
	}
	if (st == MILTER_S_EOM)
		f->in_tx = false;
	mchain_advance(ch);
}

/* ---- the chain ---- */

struct milter_chain *
milter_chain_new(struct event_base *base, const struct config *cfg,
    const char *sess_id)
{
	struct milter_chain *ch;
	size_t i;

	if (cfg->nmilter == 0)
		return NULL;
	ch = xcalloc(1, sizeof(*ch));
	ch->base = base;
	ch->cfg = cfg;
	(void)str_copy(ch->sess, sess_id, sizeof(ch->sess));
	ch->n = cfg->nmilter;
	ch->f = xcalloc(ch->n, sizeof(*ch->f));
	for (i = 0; i < ch->n; i++)
		mfilter_init(&ch->f[i], ch, &cfg->milter[i]);
	ch->ev_done = event_new(base, -1, 0, finish_cb, ch);
	buf_init(&ch->pkt, BUF_UNLIMITED);
	buf_init(&ch->body, BUF_UNLIMITED);
	buf_init(&ch->res.reply, BUF_UNLIMITED);
	buf_init(&ch->res.body, MILTER_BODY_MAX);
	strlist_init(&ch->argv);
	return ch;
}

void
milter_chain_free(struct milter_chain **chp)
{
	struct milter_chain *ch = *chp;
	size_t i;

	if (ch == NULL)
		return;
	*chp = NULL;
	for (i = 0; i < ch->n; i++)
		mfilter_quit(&ch->f[i]);
	free(ch->f);
	event_free(ch->ev_done);
	buf_free(&ch->pkt);
	buf_free(&ch->body);
	milter_hdrs_free(&ch->hdrs);
	milter_result_reset(&ch->res);
	strlist_free(&ch->argv);
	free(ch);
}

bool
milter_chain_applies(const struct milter_chain *ch, bool relay)
{
	size_t i;

	for (i = 0; ch != NULL && i < ch->n; i++)
		if (ch->f[i].cfg->apply == MILTER_APPLY_ALL ||
		    (ch->f[i].cfg->apply == MILTER_APPLY_RELAY) == relay)
			return true;
	return false;
}

static void
step_start(struct milter_chain *ch, enum chain_step step, int phase,
    milter_done_fn *done, void *arg)
{
	size_t i;

	milter_result_reset(&ch->res);
	ch->step = step;
	ch->done = done;
	ch->arg = arg;
	ch->cur = 0;
	for (i = 0; i < ch->n; i++) {
		ch->f[i].phase = phase;
		ch->f[i].hdr_ix = 0;
		ch->f[i].body_pos = 0;
		ch->f[i].skip_body = false;
	}
	mchain_advance(ch);
}

static void
set_argv(struct milter_chain *ch, const char *const *argv, size_t argc)
{
	size_t i;

	strlist_free(&ch->argv);
	strlist_init(&ch->argv);
	for (i = 0; i < argc; i++)
		strlist_add(&ch->argv, argv[i]);
}

void
milter_chain_mail(struct milter_chain *ch, const struct milter_client_info *in,
    bool relay, const char *qid, const char *const *argv, size_t argc,
    milter_done_fn *done, void *arg)
{
	milter_chain_abort(ch);
	ch->info = *in;
	ch->relay = relay;
	(void)str_copy(ch->qid, qid, sizeof(ch->qid));
	set_argv(ch, argv, argc);
	milter_addr_bare(argv[0], ch->mail_addr, sizeof(ch->mail_addr));
	step_start(ch, STEP_MAIL, PH_OPEN, done, arg);
}

void
milter_chain_rcpt(struct milter_chain *ch, const char *const *argv,
    size_t argc, milter_done_fn *done, void *arg)
{
	set_argv(ch, argv, argc);
	milter_addr_bare(argv[0], ch->rcpt_addr, sizeof(ch->rcpt_addr));
	step_start(ch, STEP_RCPT, PH_RCPT, done, arg);
}

void
milter_chain_data(struct milter_chain *ch, milter_done_fn *done, void *arg)
{
	step_start(ch, STEP_DATA, PH_DATA, done, arg);
}

void
milter_chain_eom(struct milter_chain *ch, const char *prefix,
    size_t prefix_len, const struct spool *msg, milter_done_fn *done,
    void *arg)
{
	ch->msg = msg;
	milter_hdrs_free(&ch->hdrs);
	if (milter_hdrs_read(&ch->hdrs, prefix, prefix_len, msg) == -1) {
		log_error("sess=%s milter cannot read the message: %s",
		    ch->sess, strerror(errno));
		ch->step = STEP_EOM;
		ch->done = done;
		ch->arg = arg;
		milter_result_reset(&ch->res);
		ch->res.v = MILTER_V_TEMPFAIL;
		(void)buf_append_str(&ch->res.reply, MILTER_TEMPFAIL_REPLY);
		finish(ch);
		return;
	}
	step_start(ch, STEP_EOM, PH_HEADERS, done, arg);
}

void
milter_chain_abort(struct milter_chain *ch)
{
	size_t i;

	if (ch == NULL)
		return;
	if (ch->step != STEP_NONE) {
		/* Cancelled mid-step: the filter at work is mid-command. */
		event_del(ch->ev_done);
		if (ch->cur < ch->n && ch->f[ch->cur].waiting)
			mfilter_close(&ch->f[ch->cur]);
		ch->step = STEP_NONE;
		ch->done = NULL;
	}
	for (i = 0; i < ch->n; i++) {
		if (ch->f[i].in_tx && ch->f[i].bev != NULL)
			mfilter_abort(&ch->f[i]);
		ch->f[i].in_tx = false;
		ch->f[i].tx_done = false;
	}
}
