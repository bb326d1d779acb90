/*
 * smtp_server.c - the SMTP server: its sessions (the session itself is
 * smtp_session.c), accepting a connection and the steps before the
 * greeting (reverse DNS, the relay lookup of gate=connect, the DNS
 * blocklists of smtp_dnsbl.c), and the replies.
 */
#include <stdarg.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "smtp/smtp_int.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/worker.h"
#include "util/xalloc.h"
#include "util/compat.h"

const char smtp_refuse_line[] =
    "421 4.7.0 Too many connections, try again later\r\n";

struct smtp_server *
smtp_server_new(const struct smtp_deps *d)
{
	struct smtp_server *srv = xcalloc(1, sizeof(*srv));

	memcpy((void *)&srv->d, d, sizeof(*d));
	smtp_data_metrics_register();
	return srv;
}

void
smtp_server_free(struct smtp_server **sp)
{
	struct smtp_server *srv = *sp;

	if (srv == NULL)
		return;
	*sp = NULL;
	session_set_free(&srv->sessions);
	free(srv);
}

static void
write_line(struct smtp_session *s, const char *text, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(s->conn->bev);

	if (s->base.life.dying)
		return;
	(void)evbuffer_add(out, text, len);
	(void)evbuffer_add(out, "\r\n", 2);
}

/* Sends LINE (LEN octets, no CRLF) as a reply and traces it. */
static void
send_reply(struct smtp_session *s, const char *line, size_t len)
{
	write_line(s, line, len);
	log_debug("sess=%s smtp reply \"%.*s\"", s->conn->id, (int)len, line);
}

void
smtp_reply(struct smtp_session *s, int code, const char *esc,
    const char *fmt, ...)
{
	char line[SMTP_LINE_MAX + 64];
	va_list ap;
	int n, m;

	n = snprintf(line, sizeof(line), "%d %s%s", code, esc,
	    *esc != '\0' ? " " : "");
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	if ((size_t)(n + m) >= sizeof(line))
		m = (int)(sizeof(line) - (size_t)n - 1);
	send_reply(s, line, (size_t)(n + m));
}

void
smtp_reply_lines(struct smtp_session *s, const char *text, size_t len)
{
	const char *eol;
	size_t n;

	while (len > 0) {
		eol = memchr(text, '\n', len);
		n = eol != NULL ? (size_t)(eol - text) + 1 : len;
		send_reply(s, text, n - (eol != NULL) - (n >= 2 && eol != NULL &&
		    text[n - 2] == '\r'));
		text += n;
		len -= n;
	}
}

void
smtp_reply_id(struct smtp_session *s, enum reply_id id)
{
	char line[SMTP_LINE_MAX + 64];

	send_reply(s, line, reply_line(line, sizeof(line), id));
}

void
smtp_reply_text(struct smtp_session *s, enum reply_text_id id,
    const char *value)
{
	char line[SMTP_LINE_MAX + 64];

	send_reply(s, line, reply_line_text(line, sizeof(line), id, value));
}

void
smtp_reply_num(struct smtp_session *s, enum reply_num_id id, uint64_t value)
{
	char line[SMTP_LINE_MAX + 64];

	send_reply(s, line, reply_line_num(line, sizeof(line), id, value));
}

void
smtp_reply_error(struct smtp_session *s, enum reply_id id)
{
	smtp_reply_id(s, id);
	session_count_error(&s->base);
}

void
smtp_reply_error_text(struct smtp_session *s, enum reply_text_id id,
    const char *value)
{
	smtp_reply_text(s, id, value);
	session_count_error(&s->base);
}

#define RDNS_TIMEOUT_MS 10000

void
smtp_pre_greet_done(struct smtp_session *s)
{
	if (--s->pre_greet > 0 || s->base.life.dying)
		return;
	if (s->conn->lc->gate_connect && !s->client.rs.trusted &&
	    !s->ip_authorized) {
		/* SPEC 2: the original relay-host behaviour; closed, but only
		   for now, when the relay table could not be asked. */
		enum reply_text_id id = s->ip_authz_failed ?
		    REPLY_GATE_TEMP : REPLY_GATE;
		char v[512];

		log_info("sess=%s smtp gate-refused client=%s rule=%s",
		    s->conn->id, s->conn->peer_str, s->ip_authz_failed ?
		    "temporary-failure" : "authorized");
		if (id == REPLY_GATE)
			(void)str_fmt(v, sizeof(v), "%s " REPLY_CHECK_MAIL_FIRST
			    "%s", s->cfg->hostname, s->cfg->submission_ports);
		else
			(void)str_copy(v, s->cfg->hostname, sizeof(v));
		smtp_reply_text(s, id, v);
		smtp_close(s, "gate=connect");
		return;
	}
	smtp_greet(s);
	smtp_resume(s);
}

static void
on_rdns(int status, const char *name, void *arg)
{
	struct smtp_session *s = arg;

	s->dnsreq = NULL;
	if (status == 1) {
		(void)str_copy(s->rdns, name, sizeof(s->rdns));
		str_lower(s->rdns);
	}
	log_info("sess=%s smtp client=%s name=%s", s->conn->id,
	    s->conn->peer_str, status == 1 ? s->rdns : status == -1 ?
	    "unknown(temporary)" : "unknown");
	smtp_pre_greet_done(s);
}

/* Is the client authorized to relay right now? For gate=connect and for
   the limits a relaying session is told in EHLO. */
struct authz_job {
	struct smtp_session	*s;
	struct netaddr		 client;
	int			 r;
};

static void
authz_work(void *ctx, void *arg)
{
	struct authz_job *j = arg;
	struct backends *b = ctx;
	struct relay_auth *ra;
	struct relay_entry *e = NULL;
	const char *err = "";
	size_t n = 0;

	ra = backends_relay(b, &err);
	j->r = ra == NULL ? -1 : relay_lookup(ra, &j->client,
	    (unsigned)b->cfg->relay_ipv6_prefix, clock_now(), &e, &n, &err);
	if (j->r == -1)
		log_warn("relay lookup at connect: %s", err);
	free(e);
}

static void
authz_release(void *arg)
{
	free(arg);
}

static void
authz_done(void *arg)
{
	struct authz_job *j = arg;
	struct smtp_session *s = j->s;

	s->base.job = NULL;
	s->ip_authorized = j->r == 1;
	s->ip_authz_failed = j->r == -1;
	free(j);
	smtp_pre_greet_done(s);
}

static const struct worker_ops authz_ops = {
	authz_work, authz_done, authz_release,
};

void
smtp_server_accept(struct conn *c, void *arg)
{
	struct smtp_server *srv = arg;
	struct smtp_session *s = smtp_session_new(srv, c);

	/* Before the greeting (Postfix-like): the client's name, for
	   Received: and the logs; and on smtp listeners whether it may
	   relay (gate=connect, and the limits EHLO announces) and what
	   the DNS blocklists say. */
	s->pre_greet = 1;
	if (srv->d.dns != NULL && s->cfg->reverse_dns) {
		s->pre_greet++;
		s->dnsreq = dns_reverse(srv->d.dns, &c->peer, RDNS_TIMEOUT_MS,
		    on_rdns, s);
	}
	if (c->lc->role == ROLE_SMTP && !s->client.rs.trusted) {
		struct authz_job *j = xcalloc(1, sizeof(*j));

		j->s = s;
		j->client = c->peer;
		s->pre_greet++;
		session_submit(&s->base, srv->d.io, &authz_ops, j);
	}
	/* smtp listeners: the DNS blocklists, answered at RCPT */
	if (c->lc->role == ROLE_SMTP && !s->client.rs.trusted &&
	    smtp_dnsbl_start(s, srv->d.dns))
		s->pre_greet++;
	smtp_pre_greet_done(s);
}

void
smtp_server_set_config(struct smtp_server *srv, const struct config *cfg)
{
	srv->d.cfg = cfg;
}
