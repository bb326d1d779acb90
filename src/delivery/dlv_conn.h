/*
 * dlv_conn.h - one SMTP client connection of outbound delivery, as the
 * two files that drive it share it: dlv_client.c (the connection and
 * the protocol) and dlv_client_tls.c (its TLS policy: MTA-STS and DANE
 * before the hosts are used, STARTTLS and the handshake). Not for
 * outside use.
 */
#ifndef POPGATE_DLV_CONN_H
#define POPGATE_DLV_CONN_H

#include "delivery/dlv_int.h"
#include "util/compat.h"

enum cstate {
	CS_RESOLVE,
	CS_CONNECT,
	CS_GREETING,
	CS_EHLO,
	CS_HELO,
	CS_STARTTLS,
	CS_TLS,
	CS_TRANS,	/* MAIL, RCPT, DATA replies pending */
	CS_BODY,
	CS_DOT,
	CS_RSET,
	CS_IDLE,	/* kept open a moment for more mail */
	CS_QUIT,
	CS_CLOSED,
};

/* RFC 3463 codes of the deferrals. */
#define ST_CONNECT	"4.4.1"		/* no answer, refused greeting */
#define ST_LOST		"4.4.2"		/* lost connection, timeout */
#define ST_DNS		"4.4.3"
#define ST_PROTOCOL	"4.5.0"		/* a reply that is no SMTP */
#define ST_LOCAL	"4.3.0"
#define ST_TLS		"4.7.5"		/* TLS demanded, not had */
#define ST_POLICY	"4.7.0"		/* an MX host MTA-STS does not list */

enum expect {
	E_MAIL,
	E_RCPT,
	E_DATA,
};

struct dlv_conn {
	LIST_ENTRY(dlv_conn)	 entry;		/* in the qmgr's conns */
	struct qmgr		*q;
	struct dlv_dest		*d;
	enum cstate		 state;
	struct bufferevent	*bev;
	SSL			*ssl;
	struct dns_req		*dnsreq;
	struct event		*ev_close;
	/* where to */
	char			 hosts[DLV_MAX_HOSTS][256];
	size_t			 nhosts, hi;
	struct netaddr		 addrs[32];
	size_t			 naddrs, ai;
	char			 peer[320];	/* host[ip]:port */
	char			 lasterr[600];
	bool			 tls_failed;
	/* the TLS policy (dlv_tlspol.c) */
	bool			 mx_secure;	/* MX answer authenticated */
	enum dlv_dane		 dane;		/* the current host's */
	struct dlv_sts_wait	*stswait;
	struct sts_policy	*sts;		/* the domain's, or NULL */
	struct dns_tlsa		*tlsa;		/* the current host's */
	size_t			 ntlsa;
	struct dlv_tlsreq	 req;		/* the current host's */
	unsigned		 cfg_gen;	/* the qmgr's when it started */
	unsigned		 ntx;		/* transactions the server answered */
	int			 timeout;	/* seconds, of the reply awaited */
	uint64_t		 asked_ms;	/* when the reply awaited was asked */
	/* what the server offers */
	struct dlv_caps		 caps;
	/* the reply being read */
	struct buf		 rline;
	struct buf		 reply;		/* "250 text" of its last line */
	struct buf		 ehlo;		/* all EHLO lines */
	unsigned		 rlines;
	/* the transaction */
	struct dlv_item		*item;
	char			**replies;	/* per recipient */
	size_t			 rcpt_sent, rcpt_replied, naccepted;
	bool			 mail_ok;
	char			*mail_reply;
	enum expect		 expect[1024];
	size_t			 exp_head, exp_tail;
	uint64_t		 body_pos;
	bool			 bol;
	unsigned		 nmsgs;
};

/* dlv_client.c */
/* The one failure path (see dlv_client.c): logged, the transaction
   deferred with "451 STATUS reason", the next address or host tried
   before a transaction, else the connection ends. */
void	dlv_conn_fail(struct dlv_conn *, const char *status, const char *fmt,
	    ...) PRINTFLIKE(3, 4);
/* A command line; its reply is awaited from now. */
void	dlv_conn_send(struct dlv_conn *, const char *fmt, ...)
	    PRINTFLIKE(2, 3);
void	dlv_conn_timeouts(struct dlv_conn *, int seconds);
/* Connects to the current address (c->addrs[c->ai]). */
void	dlv_conn_connect_addr(struct dlv_conn *);
/* The addresses of the current host (dns_addr_cb). */
void	dlv_conn_on_addrs(int status, const struct netaddr *, size_t n,
	    void *arg);
void	dlv_conn_on_read(struct bufferevent *, void *arg);
void	dlv_conn_on_write(struct bufferevent *, void *arg);
void	dlv_conn_on_event(struct bufferevent *, short what, void *arg);

/* dlv_client_tls.c */
/* Whether the destination is routed by MX (MTA-STS and DANE apply). */
bool	dlv_conn_mx_routed(const struct dlv_conn *);
/* The MX hosts are planned: the domain's MTA-STS policy, then the
   first host. */
void	dlv_conn_hosts_planned(struct dlv_conn *);
/* Whether the MX answer was authenticated (dns_secure_cb), then as
   dlv_conn_hosts_planned. */
void	dlv_conn_on_mx_secure(int status, bool secure, void *arg);
/* The current host: its DANE records when it is reached securely, its
   TLS demand (c->req), then its addresses; a host the policy refuses is
   skipped. */
void	dlv_conn_resolve_host(struct dlv_conn *);
/* Whether the current host's demand requires TLS. */
bool	dlv_conn_tls_needed(const struct dlv_conn *);
/* The policy that decided, for logs and replies ("tls_policy
   example.org = verify", "dane", "mta-sts enforce"), in OUT. */
const char *dlv_conn_policy_name(const struct dlv_conn *, char *out,
	    size_t outsz);
/* MTA-STS testing: logs that enforce would refuse WHAT. */
void	dlv_conn_sts_note(const struct dlv_conn *, const char *what);
/* After "220" to STARTTLS: the handshake, nothing of the clear-text
   session kept (RFC 3207 4.2; CVE-2011-0411). */
void	dlv_conn_start_tls(struct dlv_conn *);
/* The handshake is done (logged with the policy): EHLO again. */
void	dlv_conn_tls_up(struct dlv_conn *);
/* The handshake failed: a deferral when TLS is required, else the same
   address again in the clear. */
void	dlv_conn_tls_failed(struct dlv_conn *);

#endif
