/*
 * spf.c - check_host() of SPF (RFC 7208 section 4), asynchronous.
 *
 * A request walks the terms of the record of its domain, one DNS query
 * at a time through core/dns, and resumes from each answer; includes
 * push a frame, redirect= replaces the current one. The limits of
 * section 4.6.4 bound the work: 10 terms that query DNS (include, a,
 * mx, ptr, exists, redirect), 2 void lookups, 10 MX names per mx, 10
 * PTR names confirmed. A timer bounds the whole check (temperror). The
 * answer reaches the caller from the event loop, never from inside
 * spf_check().
 *
 * Written here rather than on libspf2, which is unmaintained and has
 * had remotely exploitable bugs (CVE-2021-20314, CVE-2023-42118).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "mauth/mauth.h"
#include "mauth/spf_int.h"
#include "util/clock.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define DEPTH_MAX	12	/* frames; the lookup limit binds first */
#define LOOKUPS_MAX	10	/* section 4.6.4 */
#define VOIDS_MAX	2
#define NAMES_MAX	10	/* MX names, PTR names */

struct frame {
	char			 domain[256];
	char			*text;		/* the record, owned */
	struct spf_record	 rec;
	size_t			 next;		/* the term being evaluated */
	bool			 include;	/* pushed by an include */
	bool			 redirected;	/* reached by redirect= */
};

enum ptr_state {
	PTR_UNKNOWN,
	PTR_RUNNING,
	PTR_KNOWN,
};

struct spf_req {
	struct dns		*dns;
	struct netaddr		 ip;
	char			 sender[512];
	char			 helo[256];
	char			 receiver[256];
	unsigned		 timeout_ms;
	spf_cb			*cb;
	void			*arg;
	struct event		*timer;
	struct event		*deliver;
	struct dns_req		*q;		/* the query out, or NULL */
	bool			 done;

	struct frame		 f[DEPTH_MAX];
	size_t			 depth;		/* frames in use */
	char			 target[256];	/* the current term's name */
	char			 hosts[NAMES_MAX][256];	/* its MX hosts */
	size_t			 nhosts, ihost;

	/* The validated names of the client (section 5.5), found once
	   for ptr and %{p}. */
	enum ptr_state		 ptr;
	int			 ptr_status;	/* of the PTR query */
	char			 ptrs[NAMES_MAX][256];
	bool			 valid[NAMES_MAX];
	size_t			 nptrs, iptr;

	bool			 in_exp;	/* fetching the explanation */
	char			*exptext;	/* its TXT, once fetched */
	struct spf_answer	 ans;
};

static void run(struct spf_req *);
static void exp_continue(struct spf_req *);

const char *
spf_result_name(enum spf_result r)
{
	static const char *const names[] = {
		[SPF_NONE] = "none",
		[SPF_NEUTRAL] = "neutral",
		[SPF_PASS] = "pass",
		[SPF_FAIL] = "fail",
		[SPF_SOFTFAIL] = "softfail",
		[SPF_TEMPERROR] = "temperror",
		[SPF_PERMERROR] = "permerror",
	};

	return (unsigned)r < nitems(names) ? names[r] : "permerror";
}

static struct frame *
top(struct spf_req *req)
{
	return &req->f[req->depth - 1];
}

static void
copy_text(char *dst, size_t dstsz, const char *s, size_t len)
{
	size_t n = len < dstsz - 1 ? len : dstsz - 1;

	memcpy(dst, s, n);
	dst[n] = '\0';
}

static void
finish(struct spf_req *req, enum spf_result res)
{
	if (req->done)
		return;
	req->done = true;
	req->ans.result = res;
	dns_cancel(&req->q);
	(void)event_del(req->timer);
	event_active(req->deliver, 0, 0);
}

static void
finish_err(struct spf_req *req, enum spf_result res, const char *fmt, ...)
    PRINTFLIKE(3, 4);

static void
finish_err(struct spf_req *req, enum spf_result res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(req->ans.explain, sizeof(req->ans.explain), fmt, ap);
	va_end(ap);
	finish(req, res);
}

static void
on_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct spf_req *req = arg;
	spf_cb *cb = req->cb;
	void *cbarg = req->arg;
	struct spf_answer ans = req->ans;

	(void)fd;
	(void)what;
	/* The request is gone before the user hears: the callback may
	   start another. */
	spf_cancel(&req);
	cb(&ans, cbarg);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct spf_req *req = arg;

	(void)fd;
	(void)what;
	finish_err(req, SPF_TEMPERROR, "timeout after %u ms", req->timeout_ms);
}

/* Section 4.3: a domain that can be asked about (labels of 1 to 63
   octets, at most 253 in all, a trailing dot allowed); MULTI: two
   labels at least. Not an address literal ("[192.0.2.1]" as HELO), no
   space or control character, no backslash (c-ares would take it for
   an escape). */
static bool
name_ok(const char *d, bool multi)
{
	size_t len = strlen(d), lab = 0, labels = 0, i;

	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)d[i] <= ' ' || d[i] == 0x7f ||
		    d[i] == '[' || d[i] == ']' || d[i] == '\\')
			return false;
	for (i = 0; i <= len; i++) {
		if (i == len || d[i] == '.') {
			if (lab == 0 || lab > 63)
				return false;
			labels++;
			lab = 0;
		} else {
			lab++;
		}
	}
	return !multi || labels >= 2;
}

/* The validated name for %{p} (section 7.3): DOMAIN itself, else a
   subdomain of it, else any; NULL ("unknown") when there is none. */
static const char *
ptr_name(const struct spf_req *req, const char *domain)
{
	size_t i, dl = strlen(domain), nl;
	const char *any = NULL;

	for (i = 0; i < req->nptrs; i++)
		if (req->valid[i] && strcasecmp(req->ptrs[i], domain) == 0)
			return req->ptrs[i];
	for (i = 0; i < req->nptrs; i++) {
		if (!req->valid[i])
			continue;
		nl = strlen(req->ptrs[i]);
		if (nl > dl && req->ptrs[i][nl - dl - 1] == '.' &&
		    strcasecmp(req->ptrs[i] + nl - dl, domain) == 0)
			return req->ptrs[i];
		if (any == NULL)
			any = req->ptrs[i];
	}
	return any;
}

static void
env_of(const struct spf_req *req, const char *domain,
    struct spf_macro_env *env)
{
	env->sender = req->sender;
	env->domain = domain;
	env->ip = &req->ip;
	env->helo = req->helo;
	env->receiver = req->receiver;
	env->ptr = ptr_name(req, domain);
	env->now = (uint64_t)clock_now();
}

static bool
needs_ptr(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i + 2 < len; i++)
		if (s[i] == '%' && s[i + 1] == '{' &&
		    (s[i + 2] == 'p' || s[i + 2] == 'P'))
			return true;
	return false;
}

/* ---- the validated names of the client (section 5.5) ---- */

static void ptr_next(struct spf_req *);

static void
ptr_done(struct spf_req *req)
{
	req->ptr = PTR_KNOWN;
	if (req->in_exp)
		exp_continue(req);
	else
		run(req);
}

static void
on_ptr_addrs(int status, const struct netaddr *a, size_t n, void *arg)
{
	struct spf_req *req = arg;
	size_t i;

	req->q = NULL;
	/* A DNS error on one name skips that name (section 5.5). */
	for (i = 0; status == 1 && i < n; i++)
		if (net_addr_equal(&a[i], &req->ip))
			req->valid[req->iptr] = true;
	req->iptr++;
	ptr_next(req);
}

static void
ptr_next(struct spf_req *req)
{
	while (req->iptr < req->nptrs && !name_ok(req->ptrs[req->iptr],
	    false))
		req->iptr++;
	if (req->iptr >= req->nptrs) {
		ptr_done(req);
		return;
	}
	req->q = dns_addrs_family(req->dns, req->ptrs[req->iptr],
	    req->ip.family, req->timeout_ms, on_ptr_addrs, req);
}

static void
on_ptr_names(int status, const char *const *names, size_t n, void *arg)
{
	struct spf_req *req = arg;
	size_t i;

	req->q = NULL;
	req->ptr_status = status;
	/* Section 4.6.4: the names beyond the first 10 are ignored. */
	for (i = 0; status == 1 && i < n && req->nptrs < NAMES_MAX; i++)
		if (str_copy(req->ptrs[req->nptrs], names[i],
		    sizeof(req->ptrs[0])) == 0)
			req->nptrs++;
	req->iptr = 0;
	ptr_next(req);
}

/* Starts the search when it has not run: true if the caller must wait
   (ptr_done() resumes it). */
static bool
ptr_wait(struct spf_req *req)
{
	if (req->ptr == PTR_KNOWN)
		return false;
	if (req->ptr == PTR_UNKNOWN) {
		req->ptr = PTR_RUNNING;
		req->q = dns_ptr(req->dns, &req->ip, req->timeout_ms,
		    on_ptr_names, req);
	}
	return true;
}

/* ---- the record of a frame (section 4.4, 4.5) ---- */

static void
on_record(int status, const struct dns_txt *txt, size_t n, void *arg)
{
	struct spf_req *req = arg;
	struct frame *fr = top(req);
	char err[256];
	size_t i, k = 0, found = 0;

	req->q = NULL;
	if (status == -1) {
		finish_err(req, SPF_TEMPERROR, "DNS error on the TXT of %s",
		    fr->domain);
		return;
	}
	for (i = 0; i < n; i++)
		if (spf_is_record(txt[i].text, txt[i].len)) {
			found++;
			k = i;
		}
	if (found > 1) {
		finish_err(req, SPF_PERMERROR, "%zu SPF records at %s", found,
		    fr->domain);
		return;
	}
	if (found == 0) {
		if (req->depth == 1 && !fr->redirected)
			finish(req, SPF_NONE);
		else
			finish_err(req, SPF_PERMERROR, "no SPF record at %s",
			    fr->domain);
		return;
	}
	fr->text = xstrndup(txt[k].text, txt[k].len);
	if (spf_record_parse(fr->text, txt[k].len, &fr->rec, err,
	    sizeof(err)) == -1) {
		finish_err(req, SPF_PERMERROR, "%s: %s", fr->domain, err);
		return;
	}
	run(req);
}

/* Looks up the record of the top frame, whose domain is set. */
static void
load(struct spf_req *req)
{
	struct frame *fr = top(req);

	free(fr->text);
	fr->text = NULL;
	spf_record_free(&fr->rec);
	fr->next = 0;
	if (!name_ok(fr->domain, true)) {
		if (req->depth == 1 && !fr->redirected)
			finish(req, SPF_NONE);
		else
			finish_err(req, SPF_PERMERROR, "no SPF record at %s",
			    fr->domain);
		return;
	}
	req->q = dns_txt(req->dns, fr->domain, req->timeout_ms, on_record,
	    req);
}

/* ---- results ---- */

/* The top frame's record ended with RES, decided by the term TEXT. */
static void
frame_result(struct spf_req *req, enum spf_result res, const char *text,
    size_t len)
{
	struct frame *fr;
	const struct spf_term *t;

	while (req->depth > 1) {
		fr = top(req);
		free(fr->text);
		spf_record_free(&fr->rec);
		memset(fr, 0, sizeof(*fr));
		req->depth--;
		fr = top(req);
		t = &fr->rec.terms[fr->next];
		/* Section 5.2's table: what an include's result means. */
		switch (res) {
		case SPF_PASS:
			res = t->qual;
			text = t->text;
			len = t->textlen;
			continue;
		case SPF_FAIL:
		case SPF_SOFTFAIL:
		case SPF_NEUTRAL:
			fr->next++;
			run(req);
			return;
		case SPF_TEMPERROR:
			finish(req, SPF_TEMPERROR);
			return;
		default:
			finish(req, SPF_PERMERROR);
			return;
		}
	}
	copy_text(req->ans.mechanism, sizeof(req->ans.mechanism), text, len);
	if (res == SPF_FAIL && top(req)->rec.exp != NULL) {
		req->ans.result = res;
		req->in_exp = true;
		exp_continue(req);
		return;
	}
	finish(req, res);
}

/* A DNS term is evaluated: true unless the limit is passed (then the
   check is over). */
static bool
count_lookup(struct spf_req *req)
{
	if (++req->ans.lookups <= LOOKUPS_MAX)
		return true;
	finish_err(req, SPF_PERMERROR, "more than %d DNS lookups",
	    LOOKUPS_MAX);
	return false;
}

/* A query of the current term found nothing: true unless that passes
   the limit. */
static bool
count_void(struct spf_req *req)
{
	if (++req->ans.voids <= VOIDS_MAX)
		return true;
	finish_err(req, SPF_PERMERROR, "more than %d void lookups",
	    VOIDS_MAX);
	return false;
}

/* The current term's answer is in: on to the next term, or its
   result. */
static void
resume(struct spf_req *req, bool match)
{
	struct frame *fr = top(req);
	const struct spf_term *t = &fr->rec.terms[fr->next];

	if (match) {
		frame_result(req, t->qual, t->text, t->textlen);
		return;
	}
	fr->next++;
	run(req);
}

static bool
cidr_match(const struct spf_req *req, const struct netaddr *a,
    const struct spf_term *t)
{
	struct netprefix p;

	if (a->family != req->ip.family)
		return false;
	p.addr = *a;
	p.bits = a->family == AF_INET ? t->cidr4 : t->cidr6;
	net_addr_mask(&p.addr, p.bits);
	return net_prefix_match(&p, &req->ip);
}

/* The answer to a term's query: -1 (the check is over), 0 nothing
   (void), 1 records. */
static int
term_status(struct spf_req *req, int status)
{
	req->q = NULL;
	if (status == -1) {
		finish_err(req, SPF_TEMPERROR, "DNS error on %s", req->target);
		return -1;
	}
	if (status != 1)
		return count_void(req) ? 0 : -1;
	return 1;
}

static void
on_a(int status, const struct netaddr *a, size_t n, void *arg)
{
	struct spf_req *req = arg;
	struct frame *fr = top(req);
	const struct spf_term *t = &fr->rec.terms[fr->next];
	size_t i;
	int st;

	if ((st = term_status(req, status)) == -1)
		return;
	for (i = 0; st == 1 && i < n; i++)
		if (t->mech == SPF_M_EXISTS || cidr_match(req, &a[i], t)) {
			resume(req, true);
			return;
		}
	resume(req, false);
}

static void mx_next(struct spf_req *);

static void
on_mx_addrs(int status, const struct netaddr *a, size_t n, void *arg)
{
	struct spf_req *req = arg;
	struct frame *fr = top(req);
	const struct spf_term *t = &fr->rec.terms[fr->next];
	size_t i;

	req->q = NULL;
	if (status == -1) {
		finish_err(req, SPF_TEMPERROR, "DNS error on %s",
		    req->hosts[req->ihost]);
		return;
	}
	for (i = 0; status == 1 && i < n; i++)
		if (cidr_match(req, &a[i], t)) {
			resume(req, true);
			return;
		}
	req->ihost++;
	mx_next(req);
}

static void
mx_next(struct spf_req *req)
{
	/* A null MX (RFC 7505) names no host. */
	while (req->ihost < req->nhosts &&
	    !name_ok(req->hosts[req->ihost], false))
		req->ihost++;
	if (req->ihost >= req->nhosts) {
		resume(req, false);
		return;
	}
	req->q = dns_addrs_family(req->dns, req->hosts[req->ihost],
	    req->ip.family, req->timeout_ms, on_mx_addrs, req);
}

static void
on_mx(int status, const struct dns_mx *mx, size_t n, void *arg)
{
	struct spf_req *req = arg;
	size_t i;
	int st;

	if ((st = term_status(req, status)) == -1)
		return;
	/* Section 4.6.4: more than 10 MX records is a permerror. */
	if (st == 1 && n > NAMES_MAX) {
		finish_err(req, SPF_PERMERROR, "more than %d MX names at %s",
		    NAMES_MAX, req->target);
		return;
	}
	req->nhosts = req->ihost = 0;
	for (i = 0; st == 1 && i < n; i++)
		if (str_copy(req->hosts[req->nhosts], mx[i].host,
		    sizeof(req->hosts[0])) == 0)
			req->nhosts++;
	mx_next(req);
}

/* ptr (section 5.5): a validated name that is TARGET or under it. A
   failed PTR query is no match (5.5), not a temperror. */
static bool
ptr_match(struct spf_req *req)
{
	size_t i, tl = strlen(req->target), nl;

	for (i = 0; i < req->nptrs; i++) {
		if (!req->valid[i])
			continue;
		nl = strlen(req->ptrs[i]);
		if (strcasecmp(req->ptrs[i], req->target) == 0 ||
		    (nl > tl && req->ptrs[i][nl - tl - 1] == '.' &&
		    strcasecmp(req->ptrs[i] + nl - tl, req->target) == 0))
			return true;
	}
	return false;
}

/* Expands SPEC (or the current domain when NULL) into req->target.
   An expansion that is no name cannot be found: "" (section 4.3). */
static void
expand_target(struct spf_req *req, const char *spec, size_t len)
{
	struct spf_macro_env env;
	char err[128];

	if (spec == NULL) {
		(void)str_copy(req->target, top(req)->domain,
		    sizeof(req->target));
		return;
	}
	env_of(req, top(req)->domain, &env);
	if (spf_macro_expand(spec, len, &env, false, req->target,
	    sizeof(req->target), err, sizeof(err)) == -1)
		req->target[0] = '\0';
}

/* Starts the include of req->target. */
static void
include(struct spf_req *req)
{
	struct frame *fr;

	if (req->depth == DEPTH_MAX) {
		finish_err(req, SPF_PERMERROR, "includes nested too deep");
		return;
	}
	fr = &req->f[req->depth++];
	memset(fr, 0, sizeof(*fr));
	fr->include = true;
	(void)str_copy(fr->domain, req->target, sizeof(fr->domain));
	load(req);
}

/* Evaluates term T of the top frame: 1 matched, 0 not, -1 wait (a
   query is out or the check is over). */
static int
eval_term(struct spf_req *req, const struct spf_term *t)
{
	switch (t->mech) {
	case SPF_M_ALL:
		return 1;
	case SPF_M_IP4:
	case SPF_M_IP6:
		return cidr_match(req, &t->net, t) ? 1 : 0;
	default:
		break;
	}
	if ((t->mech == SPF_M_PTR || (t->spec != NULL &&
	    needs_ptr(t->spec, t->speclen))) && ptr_wait(req))
		return -1;
	/* %{p} adds no lookup of its own: its PTR query belongs to the
	   term that expands it (as pyspf counts). */
	if (!count_lookup(req))
		return -1;
	expand_target(req, t->spec, t->speclen);
	if (t->mech == SPF_M_INCLUDE) {
		include(req);
		return -1;
	}
	if (t->mech == SPF_M_PTR) {
		if (req->ptr_status != 1 && req->ptr_status != -1 &&
		    !count_void(req))
			return -1;
		return ptr_match(req) ? 1 : 0;
	}
	/* A name that cannot be asked about matches nothing; no query was
	   made, so it is no void lookup either. */
	if (!name_ok(req->target, false))
		return 0;
	if (t->mech == SPF_M_MX)
		req->q = dns_mx(req->dns, req->target, req->timeout_ms, on_mx,
		    req);
	else
		req->q = dns_addrs_family(req->dns, req->target,
		    t->mech == SPF_M_EXISTS ? AF_INET : req->ip.family,
		    req->timeout_ms, on_a, req);
	return -1;
}

/* No term of the top frame matched (section 4.7, 6.1). */
static void
no_match(struct spf_req *req)
{
	struct frame *fr = top(req);
	const struct spf_record *rec = &fr->rec;

	if (rec->redirect == NULL) {
		frame_result(req, SPF_NEUTRAL, "default", 7);
		return;
	}
	if (needs_ptr(rec->redirect, rec->redirectlen) && ptr_wait(req))
		return;
	if (!count_lookup(req))
		return;
	expand_target(req, rec->redirect, rec->redirectlen);
	fr->redirected = true;
	(void)str_copy(fr->domain, req->target, sizeof(fr->domain));
	load(req);
}

static void
run(struct spf_req *req)
{
	struct frame *fr;
	int r;

	while (!req->done && req->q == NULL && req->ptr != PTR_RUNNING) {
		fr = top(req);
		if (fr->next >= fr->rec.nterms) {
			no_match(req);
			return;
		}
		r = eval_term(req, &fr->rec.terms[fr->next]);
		if (r == -1)
			return;
		if (r == 1) {
			resume(req, true);
			return;
		}
		fr->next++;
	}
}

/* ---- the explanation (section 6.2) ---- */

static void
on_exp(int status, const struct dns_txt *txt, size_t n, void *arg)
{
	struct spf_req *req = arg;

	req->q = NULL;
	/* Any trouble: as if there were no exp=. */
	if (status != 1 || n != 1) {
		finish(req, SPF_FAIL);
		return;
	}
	req->exptext = xstrndup(txt[0].text, txt[0].len);
	exp_continue(req);
}

/* Fetches and expands the explanation of the top frame's record. */
static void
exp_continue(struct spf_req *req)
{
	const struct spf_record *rec = &top(req)->rec;
	struct spf_macro_env env;
	char err[128];

	if (req->exptext == NULL) {
		if (needs_ptr(rec->exp, rec->explen) && ptr_wait(req))
			return;
		expand_target(req, rec->exp, rec->explen);
		if (!name_ok(req->target, false)) {
			finish(req, SPF_FAIL);
			return;
		}
		req->q = dns_txt(req->dns, req->target, req->timeout_ms, on_exp,
		    req);
		return;
	}
	if (needs_ptr(req->exptext, strlen(req->exptext)) && ptr_wait(req))
		return;
	env_of(req, top(req)->domain, &env);
	if (spf_macro_expand(req->exptext, strlen(req->exptext), &env, true,
	    req->ans.explain, sizeof(req->ans.explain), err,
	    sizeof(err)) == -1)
		req->ans.explain[0] = '\0';
	finish(req, SPF_FAIL);
}

/* ---- requests ---- */

struct spf_req *
spf_check(struct dns *dns, const struct netaddr *ip, const char *domain,
    const char *sender, const char *helo, const char *receiver,
    unsigned timeout_ms, spf_cb *cb, void *arg)
{
	struct spf_req *req = xcalloc(1, sizeof(*req));
	struct event_base *base = dns_event_base(dns);
	struct timeval tv = { timeout_ms / 1000,
		(suseconds_t)(timeout_ms % 1000) * 1000 };

	req->dns = dns;
	req->ip = *ip;
	req->timeout_ms = timeout_ms;
	req->cb = cb;
	req->arg = arg;
	req->timer = evtimer_new(base, on_timeout, req);
	req->deliver = event_new(base, -1, 0, on_deliver, req);
	(void)evtimer_add(req->timer, &tv);
	(void)str_copy(req->helo, helo != NULL ? helo : "", sizeof(req->helo));
	(void)str_copy(req->receiver, receiver != NULL ? receiver : "",
	    sizeof(req->receiver));
	/* Section 2.4: a null sender is checked as postmaster@HELO. */
	if (sender == NULL || *sender == '\0')
		(void)str_fmt(req->sender, sizeof(req->sender),
		    "postmaster@%s", req->helo);
	else if (str_copy(req->sender, sender, sizeof(req->sender)) == -1)
		req->sender[0] = '\0';
	if (domain == NULL || *domain == '\0') {
		const char *at = strrchr(req->sender, '@');

		domain = at != NULL ? at + 1 : req->helo;
	}
	req->depth = 1;
	if (str_copy(req->f[0].domain, domain, sizeof(req->f[0].domain)) ==
	    -1)
		req->f[0].domain[0] = '\0';
	(void)str_copy(req->ans.domain, req->f[0].domain,
	    sizeof(req->ans.domain));
	load(req);
	return req;
}

void
spf_cancel(struct spf_req **reqp)
{
	struct spf_req *req = *reqp;
	size_t i;

	if (req == NULL)
		return;
	*reqp = NULL;
	dns_cancel(&req->q);
	for (i = 0; i < req->depth; i++) {
		free(req->f[i].text);
		spf_record_free(&req->f[i].rec);
	}
	free(req->exptext);
	event_free(req->timer);
	event_free(req->deliver);
	free(req);
}
