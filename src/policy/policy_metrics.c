/*
 * policy_metrics.c - what the decisions count (core/metrics.h): every
 * decision of the relay rules by stage, rule and result, the decisions
 * on hosted recipients, what let relayed recipients relay, and logins
 * by protocol and result with the time their check took.
 *
 * The decisions count themselves (policy_check.c, policy_auth.c), so
 * that SMTP, POP3 and IMAP cannot count differently; the counting is a
 * relaxed atomic add on a worker thread. `popgate relay explain` runs
 * the same decisions in the CLI's process, where nothing is registered
 * or shown.
 */
#include <string.h>

#include "policy/policy_int.h"
#include "core/metrics.h"
#include "util/clock.h"
#include "util/compat.h"

static const char *const stage_values[] = { "mail", "rcpt", "data", NULL };
static const char *const result_values[] = { "accepted", "refused",
	"deferred", NULL };
/* enum relay_grant_kind, from GRANT_TRUSTED (GRANT_NONE relays
   nothing) */
static const char *const grant_values[] = { "trusted-networks",
	"smtp-auth", "pop-before-smtp", NULL };
static const char *const proto_values[] = { "pop3", "imap", "smtp-auth",
	NULL };
static const char *const login_values[] = { "ok", "fail", "throttled",
	"tempfail", NULL };

enum { LOGIN_OK, LOGIN_FAIL, LOGIN_THROTTLED, LOGIN_TEMPFAIL };

/* The rule names, each once (several reasons share one: the three
   temporary failures, the two From: refusals), and each reason's. */
static const char *rule_values[POLICY_NREASONS + 1];
static size_t rule_of[POLICY_NREASONS];

static struct metric m_relay = {
	.name = "popgate_relay_decisions_total",
	.help = "Decisions of the relay rules (SPEC 1) on relayed mail, by "
	    "stage, the rule that decided (ok: every rule passed) and "
	    "result.",
	.type = METRIC_COUNTER,
	.labels = { { "stage", stage_values }, { "rule", rule_values },
	    { "result", result_values } },
	.sparse = true,
};

static struct metric m_rcpt = {
	.name = "popgate_recipient_decisions_total",
	.help = "Decisions on recipients in hosted domains (and the limits "
	    "of every recipient), by rule and result.",
	.type = METRIC_COUNTER,
	.labels = { { "rule", rule_values }, { "result", result_values } },
	.sparse = true,
};

static struct metric m_grant = {
	.name = "popgate_relay_grants_total",
	.help = "Relayed recipients accepted, by what let them relay.",
	.type = METRIC_COUNTER,
	.labels = { { "grant", grant_values } },
};

static struct metric m_login = {
	.name = "popgate_logins_total",
	.help = "Logins (POP3, IMAP, SMTP AUTH) by protocol and result of "
	    "the credential check.",
	.type = METRIC_COUNTER,
	.labels = { { "protocol", proto_values }, { "result",
	    login_values } },
};

/* From 1 ms (a cached login) to yescrypt on a busy machine. */
static const uint64_t login_bounds[] = { 1000, 5000, 10000, 25000, 50000,
	100000, 250000, 500000, 1000000, 2500000, 5000000, 0 };

static struct metric m_login_time = {
	.name = "popgate_login_duration_seconds",
	.help = "Time from the password's arrival to the result of its "
	    "check (store look-up and hash, not the delay of a failure's "
	    "answer), by protocol.",
	.type = METRIC_HISTOGRAM,
	.labels = { { "protocol", proto_values } },
	.bounds = login_bounds,
};

void
policy_metrics_register(void)
{
	size_t i, j, n = 0;

	for (i = 0; i < POLICY_NREASONS; i++) {
		const char *name = policy_reason_name((enum policy_reason)i);

		for (j = 0; j < n && strcmp(rule_values[j], name) != 0; j++)
			;
		if (j == n)
			rule_values[n++] = name;
		rule_of[i] = j;
	}
	rule_values[n] = NULL;
	metrics_register(&m_relay);
	metrics_register(&m_rcpt);
	metrics_register(&m_grant);
	metrics_register(&m_login);
	metrics_register(&m_login_time);
}

static size_t
result_of(int r)
{
	return r == 1 ? 0 : r == 0 ? 1 : 2;
}

void
policy_count_decision(enum policy_stage stage,
    const struct policy_decision *d, int r)
{
	size_t rule = rule_of[d->reason];

	if (d->relayed || stage == POLICY_STAGE_DATA)
		metric_inc(&m_relay, metric_cell3(&m_relay, (size_t)stage,
		    rule, result_of(r)));
	else if (stage == POLICY_STAGE_RCPT)
		metric_inc(&m_rcpt, metric_cell2(&m_rcpt, rule,
		    result_of(r)));
	if (stage == POLICY_STAGE_RCPT && d->relayed && r == 1 &&
	    d->grant.kind != GRANT_NONE)
		metric_inc(&m_grant, (size_t)d->grant.kind - GRANT_TRUSTED);
}

/* The protocol of a login on the listener of role name LISTENER. */
static size_t
proto_of(const char *listener)
{
	if (strncmp(listener, "pop3", 4) == 0)
		return 0;
	if (strncmp(listener, "imap", 4) == 0)
		return 1;
	return 2;
}

void
policy_count_login(const struct login *l, bool throttled)
{
	size_t proto = proto_of(l->listener), res;

	if (throttled)
		res = LOGIN_THROTTLED;
	else {
		res = l->result == 1 ? LOGIN_OK : l->result == 0 ?
		    LOGIN_FAIL : LOGIN_TEMPFAIL;
		metric_observe_us(&m_login_time, proto, clock_mono_us() -
		    l->started_us);
	}
	metric_inc(&m_login, metric_cell2(&m_login, proto, res));
}
