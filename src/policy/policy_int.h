/*
 * policy_int.h - what the files of src/policy share. Not for outside use:
 * the decisions of policy.h are the way in.
 */
#ifndef POPGATE_POLICY_INT_H
#define POPGATE_POLICY_INT_H

#include "policy/policy.h"

/* policy_rules.c: the relay rules of SPEC section 1. */

/* D for REASON from its table entry, with the one value its text names
   (STR, or NUM; unused otherwise); D->why is left to the caller. Returns
   1 for POLICY_OK, -1 for a temporary failure, else 0. */
int	policy_decide(struct policy_decision *d, enum policy_reason reason,
	    const char *str, unsigned long long num);
/* Whether REASON's reply at RCPT starts with "<recipient>: ". */
bool	policy_names_rcpt(enum policy_reason reason);
/* May TX's sender relay one more message or recipient now? The rules in
   order: authorized, good standing, null sender, sender affiliated,
   recipients per message, hourly caps, size. Fills D (D->grant: who);
   1, 0, -1. */
int	policy_relay_check(struct backends *, const struct relay_session *,
	    const struct policy_tx *tx, time_t now,
	    const struct relay_trace *, struct policy_decision *d);
/* A client the DNS blocklists list (RS->dnsbl_listed): 1 when it is
   authorized to relay all the same (SMTP AUTH, trusted_networks, a live
   POP3 authorization), else 0 or -1 (D filled). */
int	policy_dnsbl_check(struct backends *, const struct relay_session *,
	    time_t now, const struct relay_trace *, struct policy_decision *d);
/* The From: rule for the grant G. 1, 0 or -1 (D filled). */
int	policy_check_from(struct backends *, const struct relay_grant *g,
	    const char *headers, size_t len, struct policy_decision *d);
/* Rule 6 made good for one more relayed recipient of TX on grant G:
   holds it (and at the customer's first, the message) against the
   hourly caps, an atomic check-and-add, and records the hold in
   TX->holds. Nothing for trusted networks or with TX->no_holds. 1
   held, 0 a cap reached, -1 (D filled). */
int	policy_hold(struct backends *, struct policy_tx *tx,
	    const struct relay_grant *g, time_t now,
	    const struct relay_trace *, struct policy_decision *d);

/* policy_metrics.c: the decisions and logins count themselves. */

/* Decision D with result R (1, 0, -1) at STAGE: a decision of the
   relay rules (D->relayed, or at the end of DATA of a relayed message),
   else one on a recipient. Any thread. */
void	policy_count_decision(enum policy_stage, const struct policy_decision *d,
	    int r);
/* The login L checked (L->result), or THROTTLED (not checked). Any
   thread. */
void	policy_count_login(const struct login *l, bool throttled);

/* policy_dkim.c: popgate-lookup's answer to the DKIM_SIGN M on SOCK. 0,
   or -1 when M is malformed or the answer could not be sent. */
int	policy_dkim_serve(struct backends *, const struct ipc_msg *m, int sock);

#endif
