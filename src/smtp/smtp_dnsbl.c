/*
 * smtp_dnsbl.c - the DNS blocklists of an smtp listener's client (RFC
 * 5782), looked up before the greeting and answered at RCPT by the
 * policy (policy_dnsbl_check), so that a customer authorized on a listed
 * address still relays and gets its mail.
 *
 * Every list of the session's configuration is asked at once, on the
 * loop: an A record in 127.0.0.0/8 lists the client, except the codes
 * 127.255.255.x by which lists say that they refused the query or
 * failed (Spamhaus), which are logged and count for nothing; NXDOMAIN
 * and NODATA mean not listed, and so does a list that does not answer
 * (logged). The weights of the lists that list the client are its score;
 * at dnsbl_threshold the session is marked listed, with the lists.
 */
#include "smtp/smtp_int.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

/* As the reverse DNS: a slow list delays the greeting at most so long. */
#define DNSBL_TIMEOUT_MS	10000

struct dnsbl_query {
	struct smtp_dnsbl	*b;
	struct dns_req		*req;
	bool			 listed;
};

struct smtp_dnsbl {
	struct smtp_session	*s;
	size_t			 pending;
	struct dnsbl_query	 q[];	/* one per list, s->cfg->dnsbl */
};

/* The score and the lists that listed the client, in the file's order;
   then the greeting's step is done. */
static void
finish(struct smtp_dnsbl *b)
{
	struct smtp_session *s = b->s;
	const struct config *cfg = s->cfg;
	char lists[POLICY_DNSBL_LISTS_MAX] = "", logl[POLICY_DNSBL_LISTS_MAX] =
	    "";
	unsigned score = 0;
	size_t i;

	for (i = 0; i < cfg->ndnsbl; i++) {
		if (!b->q[i].listed)
			continue;
		score += cfg->dnsbl[i].weight;
		(void)str_fmt(lists + strlen(lists), sizeof(lists) -
		    strlen(lists), "%s%s", lists[0] != '\0' ? ", " : "",
		    cfg->dnsbl[i].zone);
		(void)str_fmt(logl + strlen(logl), sizeof(logl) - strlen(logl),
		    "%s%s", logl[0] != '\0' ? "," : "", cfg->dnsbl[i].zone);
	}
	if (score > 0)
		log_info("sess=%s smtp dnsbl client=%s score=%u lists=%s",
		    s->conn->id, s->conn->peer_str, score, logl);
	s->dnsbl_listed = score > 0 && score >= cfg->dnsbl_threshold;
	(void)str_copy(s->dnsbl_lists, lists, sizeof(s->dnsbl_lists));
	smtp_dnsbl_apply(s);
	s->dnsbl = NULL;
	free(b);
	smtp_pre_greet_done(s);
}

/* An answer of ZONE: listed, a list error, or nothing. */
static bool
listed_by(const struct smtp_session *s, const char *zone,
    const struct netaddr *a, size_t n)
{
	char ip[NET_ADDRSTRLEN] = "";
	bool listed = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (a[i].family != AF_INET)
			continue;
		if (a[i].a[0] == 127 && !(a[i].a[1] == 255 &&
		    a[i].a[2] == 255))
			listed = true;
		else if (ip[0] == '\0')
			net_addr_format(&a[i], ip, sizeof(ip));
	}
	if (!listed && ip[0] != '\0')
		log_warn("sess=%s smtp dnsbl-error client=%s list=%s "
		    "answer=%s error=\"%s, not counted\"", s->conn->id,
		    s->conn->peer_str, zone, ip, strncmp(ip, "127.", 4) == 0 ?
		    "the list refused the query or failed" :
		    "an answer outside 127.0.0.0/8");
	return listed;
}

static void
on_answer(int status, const struct netaddr *a, size_t n, void *arg)
{
	struct dnsbl_query *q = arg;
	struct smtp_dnsbl *b = q->b;
	struct smtp_session *s = b->s;
	const char *zone = s->cfg->dnsbl[q - b->q].zone;

	q->req = NULL;
	if (status == 1)
		q->listed = listed_by(s, zone, a, n);
	else if (status == -1)
		log_warn("sess=%s smtp dnsbl-error client=%s list=%s "
		    "error=\"no answer (timeout or server failure), not "
		    "listed\"", s->conn->id, s->conn->peer_str, zone);
	if (--b->pending == 0)
		finish(b);
}

bool
smtp_dnsbl_start(struct smtp_session *s, struct dns *dns)
{
	const struct config *cfg = s->cfg;
	struct smtp_dnsbl *b;
	char name[512];
	size_t i;

	if (dns == NULL || cfg->ndnsbl == 0)
		return false;
	b = xcalloc(1, sizeof(*b) + cfg->ndnsbl * sizeof(b->q[0]));
	b->s = s;
	s->dnsbl = b;
	for (i = 0; i < cfg->ndnsbl; i++) {
		b->q[i].b = b;
		/* The final dot: the name as it is, never a search domain's
		   added (the zone checks keep it below 255 octets). */
		if (dns_dnsbl_name(&s->conn->peer, cfg->dnsbl[i].zone, name,
		    sizeof(name) - 1) == -1)
			continue;
		(void)str_fmt(name + strlen(name), 2, ".");
		b->pending++;
		b->q[i].req = dns_addrs(dns, name, DNSBL_TIMEOUT_MS,
		    on_answer, &b->q[i]);
	}
	if (b->pending == 0) {
		s->dnsbl = NULL;
		free(b);
		return false;
	}
	return true;
}

void
smtp_dnsbl_cancel(struct smtp_session *s)
{
	struct smtp_dnsbl *b = s->dnsbl;
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < s->cfg->ndnsbl; i++)
		dns_cancel(&b->q[i].req);
	s->dnsbl = NULL;
	free(b);
}

void
smtp_dnsbl_apply(struct smtp_session *s)
{
	struct relay_session *rs = &s->client.rs;

	rs->dnsbl_listed = s->dnsbl_listed;
	(void)str_copy(rs->dnsbl_lists, s->dnsbl_lists,
	    sizeof(rs->dnsbl_lists));
}
