/*
 * relay_redis.c - the relay table in Redis (relay_store = redis://...),
 * shared by every popgate host that points at the same server: a POP3
 * login on one host opens the relay on all of them, `customer suspend`
 * on any host closes it everywhere, and the hourly counters add up
 * across hosts.
 *
 * Keys (one Redis server or a primary, not Redis Cluster):
 *   popgate:auth:KEY    hash  CUSTOMER -> "MAILBOX\tCLIENT\tLISTENER\t
 *                             OPENED\tEXPIRES\tNET"; the key's TTL runs
 *                             to the latest EXPIRES of its fields
 *   popgate:cust:NAME   set   the KEYs where customer NAME holds an
 *                             authorization (for revocation by customer)
 *   popgate:nets        set   KEYs that are administrator networks
 *   popgate:rate:NAME   hash  mMINUTE, rMINUTE -> messages, recipients
 *   popgate:undo:CUSTOMER:KEY  hash  per record not yet answered:
 *                             v:TOKEN -> the value it wrote, p:TOKEN ->
 *                             the one it replaced ("": none); top -> the
 *                             TOKEN that wrote last. TTL as the record's
 * Changes that touch several keys are Lua scripts (relay_redis_lua.c),
 * so each is atomic across hosts; lookups are one pipelined round trip (two when an
 * administrator network matches). Expired fields inside a live hash
 * are skipped on read; the key TTLs remove the rest.
 *
 * A record that times out must not open the relay later: the login is
 * logged relay=not-opened, but a hung server (stopped, swapping) still
 * holds the command and runs it when it resumes. No deadline inside the
 * script can tell that reliably (the server's clock is not ours, and a
 * write that ran in time may still lose its answer). What is certain is
 * that the server runs one connection's commands in order: so the
 * record carries a random TOKEN and notes what it replaced under
 * popgate:undo:, and when its answer does not come, the take-back of
 * TOKEN (lua_settle) is written on the same connection before that is
 * closed. Run already or not yet, the record is then followed by its
 * take-back, which puts back the field it replaced (an earlier login's
 * window stays as it was) unless a later write or a revocation has
 * changed it since. An answered record has its notes forgotten (one
 * more round trip). Only when even the take-back cannot be written (the
 * connection was lost) does the error say that the relay may still
 * open.
 *
 * Calls are synchronous, like every relay_auth.h call: they run on the
 * policy worker threads, each with its own connection, never on the
 * event loop. A connection the server closed (Redis restarted while it
 * sat idle) is made again and the call tried once more, so the first
 * lookup after a restart already works. A server that cannot be reached
 * or does not answer within COMMAND_MS is taken as down by every handle
 * of the process for RETRY_MS: calls fail at once (the relay answers
 * 451 4.7.1) instead of each worker waiting out its own timeout, and
 * one call a second finds out whether it is back.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <stdatomic.h>

#include <hiredis/hiredis.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "core/config.h"
#include "relay/relay_int.h"
#include "util/clock.h"
#include "util/str.h"
#include "util/xalloc.h"

#define CONNECT_MS	1000
#define COMMAND_MS	2000
#define RETRY_MS	1000
#define RATE_TTL	7200	/* seconds a rate hash outlives its last add */

#define K_AUTH		"popgate:auth:"
#define K_CUST		"popgate:cust:"
#define K_NETS		"popgate:nets"
#define K_RATE		"popgate:rate:"
#define K_UNDO		"popgate:undo:"
#define TOKEN_LEN	16	/* random bytes of an undo token */

struct relay_redis {
	struct relay_auth	 base;	/* first: relay.c's view */
	struct redis_uri	 uri;
	redisContext		*c;
	bool			 fresh;	/* C was made during this call */
	bool			 stale;	/* the server had closed C */
	char			 sha[LUA_NSCRIPTS][SHA_DIGEST_LENGTH * 2 + 1];
};

/* Until when (clock_mono_ms()) the server counts as down, for every
   handle: a process has one relay_store. */
static _Atomic uint64_t down_until;

static void
mark_down(void)
{
	atomic_store(&down_until, clock_mono_ms() + RETRY_MS);
}

static struct timeval
ms_tv(unsigned ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) *
	    1000 };

	return tv;
}

static void
drop_connection(struct relay_redis *r)
{
	if (r->c != NULL)
		redisFree(r->c);
	r->c = NULL;
}

/* A reply that is an error, or a lost connection: -1 with the text. A
   connection the server closed is worth one more try when it was not
   new (r->stale); one that timed out marks the server down. */
static int
reply_error(struct relay_redis *r, redisReply *rep, const char *what)
{
	int rc, e = errno;

	if (rep == NULL) {
		if (r->c != NULL && (r->c->err == REDIS_ERR_EOF ||
		    (r->c->err == REDIS_ERR_IO && (e == ECONNRESET ||
		    e == EPIPE))))
			r->stale = !r->fresh;
		else
			mark_down();
		rc = relay_set_error(&r->base, "relay table (redis %s:%u): %s: "
		    "%s", r->uri.host, r->uri.port, what, r->c != NULL &&
		    r->c->errstr[0] != '\0' ? r->c->errstr : "connection lost");
		drop_connection(r);
		return rc;
	}
	rc = relay_set_error(&r->base, "relay table (redis %s:%u): %s: %.*s",
	    r->uri.host, r->uri.port, what, (int)rep->len, rep->str);
	freeReplyObject(rep);
	return rc;
}

/* Runs a command given as argv while connecting; the reply or NULL. */
static redisReply *
command(struct relay_redis *r, int argc, const char **argv)
{
	return redisCommandArgv(r->c, argc, argv, NULL);
}

/* Logs in and selects the database on a fresh connection. */
static int
handshake(struct relay_redis *r)
{
	const char *auth[3] = { "AUTH", r->uri.user, r->uri.password };
	char db[16];
	const char *sel[2] = { "SELECT", db };
	redisReply *rep;

	if (r->uri.password[0] != '\0') {
		rep = r->uri.user[0] != '\0' ? command(r, 3, auth) :
		    (auth[1] = r->uri.password, command(r, 2, auth));
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
			return reply_error(r, rep, "AUTH");
		freeReplyObject(rep);
	}
	if (r->uri.db != 0) {
		(void)snprintf(db, sizeof(db), "%u", r->uri.db);
		rep = command(r, 2, sel);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
			return reply_error(r, rep, "SELECT");
		freeReplyObject(rep);
	}
	return 0;
}

/* Makes sure there is a connection: 0, or -1 (at once while the
   server counts as down). */
static int
connected(struct relay_redis *r)
{
	uint64_t now = clock_mono_ms(), until = atomic_load(&down_until);

	if (now < until)
		return relay_set_error(&r->base, "relay table (redis %s:%u) "
		    "unreachable; next try in %llu ms", r->uri.host,
		    r->uri.port, (unsigned long long)(until - now));
	if (r->c != NULL)
		return 0;
	r->fresh = true;
	r->c = redisConnectWithTimeout(r->uri.host, r->uri.port,
	    ms_tv(CONNECT_MS));
	if (r->c == NULL || r->c->err != 0) {
		(void)relay_set_error(&r->base, "relay table (redis %s:%u): "
		    "cannot connect: %s", r->uri.host, r->uri.port,
		    r->c != NULL ? r->c->errstr : "out of memory");
		drop_connection(r);
		mark_down();
		return -1;
	}
	if (redisSetTimeout(r->c, ms_tv(COMMAND_MS)) != REDIS_OK ||
	    redisEnableKeepAlive(r->c) != REDIS_OK || handshake(r) == -1) {
		if (r->c != NULL)
			(void)relay_set_error(&r->base, "relay table (redis "
			    "%s:%u): %s", r->uri.host, r->uri.port,
			    r->c->errstr);
		drop_connection(r);
		mark_down();
		return -1;
	}
	return 0;
}

/* Starts a call. */
static void
begin(struct relay_redis *r)
{
	r->fresh = false;
	r->stale = false;
}

/* Whether a call that returned RC should run once more: it failed on a
   connection the server had closed, and has not been retried. */
static bool
again(struct relay_redis *r, int rc, int *tries)
{
	if (rc != -1 || !r->stale || (*tries)++ > 0)
		return false;
	begin(r);
	return true;
}

/* Sends script WHICH (EVALSHA, EVAL when the server has not seen it
   yet, as after a restart) with NKEYS keys and the rest as arguments on
   the connection there is. Its reply, an error reply or NULL. */
static redisReply *
eval_reply(struct relay_redis *r, enum redis_script which, int nkeys, int argc,
    const char **args)
{
	const char *argv[16];
	char nk[8];
	redisReply *rep;

	(void)snprintf(nk, sizeof(nk), "%d", nkeys);
	argv[0] = "EVALSHA";
	argv[1] = r->sha[which];
	argv[2] = nk;
	memcpy(argv + 3, args, (size_t)argc * sizeof(*args));
	rep = command(r, argc + 3, argv);
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR &&
	    strncmp(rep->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(rep);
		argv[0] = "EVAL";
		argv[1] = relay_redis_scripts[which];
		rep = command(r, argc + 3, argv);
	}
	return rep;
}

/* Runs script WHICH (see eval_reply()). The reply, or NULL with the
   error set. */
static redisReply *
eval(struct relay_redis *r, enum redis_script which, const char *what, int nkeys,
    int argc, const char **args)
{
	redisReply *rep;

	if (connected(r) == -1)
		return NULL;
	rep = eval_reply(r, which, nkeys, argc, args);
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		(void)reply_error(r, rep, what);
		return NULL;
	}
	return rep;
}

static void
script_sha(const char *text, char out[SHA_DIGEST_LENGTH * 2 + 1])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	size_t i;

	(void)SHA1((const unsigned char *)text, strlen(text), md);
	for (i = 0; i < sizeof(md); i++)
		(void)snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static struct relay_auth *
redis_open(const char *uri, const char *data_dir, struct errbuf *eb,
    const char **error_r)
{
	struct relay_redis *r;
	const char *err;
	size_t i;

	(void)data_dir;
	r = xcalloc(1, sizeof(*r));
	if (config_redis_uri(uri, &r->uri, &err) == -1) {
		*error_r = errbuf_set(eb, "bad relay_store: %s", err);
		free(r);
		return NULL;
	}
	for (i = 0; i < LUA_NSCRIPTS; i++)
		script_sha(relay_redis_scripts[i], r->sha[i]);
	/* Not connected yet: a server that is down now is tried again on
	   use, and the daemon starts regardless (POP3 works without it). */
	return &r->base;
}

static void
redis_close(struct relay_auth *base)
{
	struct relay_redis *r = (struct relay_redis *)base;

	drop_connection(r);
	free(r);
}

static void
key_of(char *out, size_t outsz, const char *prefix, const char *name)
{
	(void)snprintf(out, outsz, "%s%s", prefix, name);
}

/* Writes the command ARGV straight to the socket of the connection:
   hiredis takes no more commands on it once a call has failed. 0 if
   all of it went out. */
static int
send_raw(struct relay_redis *r, int argc, const char **argv)
{
	char *cmd;
	int len;
	size_t off = 0;
	ssize_t n;

	len = redisFormatCommandArgv(&cmd, argc, argv, NULL);
	if (len < 0)
		return -1;
	while (off < (size_t)len) {
		n = send(r->c->fd, cmd + off, (size_t)len - off, MSG_NOSIGNAL);
		if (n > 0)
			off += (size_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else
			break;
	}
	redisFreeCommand(cmd);
	return off == (size_t)len ? 0 : -1;
}

/* The record got no answer (the server hangs, or the answer was lost):
   follows it on the same connection with its take-back (lua_settle
   with BACK, argv SETTLE), before the connection is closed. The server
   runs one connection's commands in order, so whenever it runs the
   record, now or once it resumes, the take-back runs right after it.
   Whether the record may still take effect: false when the take-back
   went out, or the record did not (an incomplete command never runs),
   true when the connection was lost or the take-back could not be
   written. */
static bool
take_back(struct relay_redis *r, const char **settle)
{
	const char *argv[3 + 8];
	char buf[4096];
	int i, e = errno;	/* for reply_error() afterwards */
	bool may = false;

	if (r->c == NULL || r->c->err == REDIS_ERR_EOF ||
	    (r->c->err == REDIS_ERR_IO && (e == ECONNRESET || e == EPIPE)))
		return true;
	if (r->c->obuf != NULL && r->c->obuf[0] != '\0')
		return false;
	argv[0] = "EVAL";
	argv[1] = relay_redis_scripts[LUA_SETTLE];
	argv[2] = "4";
	memcpy(argv + 3, settle, 8 * sizeof(*settle));
	if (send_raw(r, 11, argv) == -1)
		may = true;
	/* Closing with unread data would send a reset, which may discard
	   what is still queued to the server: read what it said first. */
	for (i = 0; i < 64 && recv(r->c->fd, buf, sizeof(buf),
	    MSG_DONTWAIT) > 0; i++)
		;
	errno = e;
	return may;
}

/* A random token for one record, as hex. 0 or -1. */
static int
new_token(char out[TOKEN_LEN * 2 + 1])
{
	unsigned char rnd[TOKEN_LEN];
	size_t i;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	for (i = 0; i < sizeof(rnd); i++)
		(void)snprintf(out + 2 * i, 3, "%02x", rnd[i]);
	return 0;
}

/* Records E: lua_record under a new token, then lua_settle for it, to
   forget the notes once the record is answered, or to take the record
   back when it is not (see take_back()). */
static int
record_once(struct relay_redis *r, const struct relay_entry *e)
{
	char auth[128], cust[128], undo[256], value[512], ttl[32];
	char token[TOKEN_LEN * 2 + 1];
	const char *args[10], *settle[8];
	time_t now = clock_now();
	redisReply *rep;

	if (new_token(token) == -1)
		return relay_set_error(&r->base, "relay table: no random "
		    "token");
	key_of(auth, sizeof(auth), K_AUTH, e->key);
	key_of(cust, sizeof(cust), K_CUST, e->customer);
	(void)snprintf(undo, sizeof(undo), "%s%s:%s", K_UNDO, e->customer,
	    e->key);
	(void)snprintf(value, sizeof(value), "%s\t%s\t%s\t%lld\t%lld\t%d",
	    e->mailbox, e->client, e->listener, (long long)e->opened,
	    (long long)e->expires, e->net ? 1 : 0);
	(void)snprintf(ttl, sizeof(ttl), "%lld", e->expires > now ?
	    (long long)(e->expires - now) : 1LL);
	args[0] = auth;
	args[1] = cust;
	args[2] = K_NETS;
	args[3] = undo;
	args[4] = e->customer;
	args[5] = value;
	args[6] = ttl;
	args[7] = e->net ? "1" : "0";
	args[8] = e->key;
	args[9] = token;
	settle[0] = undo;
	memcpy(settle + 1, args, 3 * sizeof(*args));
	settle[4] = e->customer;
	settle[5] = e->key;
	settle[6] = token;
	settle[7] = "1";
	if (connected(r) == -1)
		return -1;
	rep = eval_reply(r, LUA_RECORD, 4, 10, args);
	if (rep == NULL) {
		bool may = take_back(r, settle);

		(void)reply_error(r, NULL, "record");
		(void)buf_append_str(&r->base.err, may ? " (the server may "
		    "still apply it)" : " (not applied, even if the server "
		    "runs it later)");
		return -1;
	}
	if (rep->type == REDIS_REPLY_ERROR)
		return reply_error(r, rep, "record");
	freeReplyObject(rep);
	/* Answered: forget the notes (they expire with the record else). */
	settle[7] = "0";
	rep = eval(r, LUA_SETTLE, "record", 4, 8, settle);
	if (rep != NULL)
		freeReplyObject(rep);
	return 0;
}

/* Parses field CUSTOMER = VALUE of hash KEY into *E. 0 or -1. */
static int
parse_entry(const char *key, const redisReply *f, const redisReply *v,
    struct relay_entry *e)
{
	char tmp[512], *fld[6], *p = tmp;
	long long opened, expires;
	char *ep;
	int i;

	memset(e, 0, sizeof(*e));
	if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
	    v->len >= sizeof(tmp) || str_copy(e->key, key,
	    sizeof(e->key)) == -1 || str_ncopy(e->customer, f->str, f->len,
	    sizeof(e->customer)) == -1)
		return -1;
	memcpy(tmp, v->str, v->len);
	tmp[v->len] = '\0';
	for (i = 0; i < 6; i++) {
		fld[i] = strsep(&p, "\t");
		if (fld[i] == NULL)
			return -1;
	}
	opened = strtoll(fld[3], &ep, 10);
	if (*ep != '\0')
		return -1;
	expires = strtoll(fld[4], &ep, 10);
	if (*ep != '\0')
		return -1;
	(void)str_copy(e->mailbox, fld[0], sizeof(e->mailbox));
	(void)str_copy(e->client, fld[1], sizeof(e->client));
	(void)str_copy(e->listener, fld[2], sizeof(e->listener));
	e->opened = (time_t)opened;
	e->expires = (time_t)expires;
	e->net = strcmp(fld[5], "1") == 0;
	return 0;
}

typedef void entry_fn(const struct relay_entry *, void *);

/* Gives every live entry of the HGETALL reply REP of KEY to FN. */
static void
hash_entries(const char *key, const redisReply *rep, time_t now,
    entry_fn *fn, void *arg)
{
	struct relay_entry e;
	size_t i;

	if (rep->type != REDIS_REPLY_ARRAY)
		return;
	for (i = 0; i + 1 < rep->elements; i += 2)
		if (parse_entry(key, rep->element[i], rep->element[i + 1],
		    &e) == 0 && e.expires > now)
			fn(&e, arg);
}

struct collect {
	const char		*key;
	const struct netaddr	*addr;
	struct relay_entry	**out;
	size_t			*n;
};

static void
collect_entry(const struct relay_entry *e, void *arg)
{
	struct collect *c = arg;

	if (c->addr == NULL || relay_entry_covers(e, c->key, c->addr))
		relay_entry_push(c->out, c->n, e);
}

/* Sends each command of CMDS (NCMDS argv lists of ARGC words) at once
   and reads the replies into REPS: one round trip. 0, or -1 (and no
   reply to free). */
static int
pipeline(struct relay_redis *r, const char *what, size_t ncmds,
    const char **cmds[], const int argc[], redisReply *reps[])
{
	size_t i, got;
	void *rep;
	int rc = 0;

	if (connected(r) == -1)
		return -1;
	for (i = 0; i < ncmds; i++)
		if (redisAppendCommandArgv(r->c, argc[i], cmds[i], NULL) !=
		    REDIS_OK) {
			(void)reply_error(r, NULL, what);
			return -1;
		}
	for (got = 0; got < ncmds; got++) {
		if (redisGetReply(r->c, &rep) != REDIS_OK || rep == NULL) {
			(void)reply_error(r, NULL, what);
			rc = -1;
			break;
		}
		reps[got] = rep;
	}
	for (i = 0; i < got && rc == 0; i++)
		if (reps[i]->type == REDIS_REPLY_ERROR) {
			(void)relay_set_error(&r->base, "relay table (redis "
			    "%s:%u): %s: %.*s", r->uri.host, r->uri.port, what,
			    (int)reps[i]->len, reps[i]->str);
			rc = -1;
		}
	if (rc == -1)
		for (i = 0; i < got; i++)
			freeReplyObject(reps[i]);
	return rc;
}

static int
lookup_once(struct relay_redis *r, const char *key,
    const struct netaddr *addr, time_t now, struct relay_entry **out,
    size_t *n)
{
	struct collect c = { key, addr, out, n };
	char auth[128];
	const char *hget[2] = { "HGETALL", auth }, *smem[2] = { "SMEMBERS",
	    K_NETS };
	const char **cmds[2] = { hget, smem };
	const int argc[2] = { 2, 2 };
	redisReply *reps[2] = { NULL, NULL };
	struct netprefix p;
	size_t i;
	int rc = 0;

	key_of(auth, sizeof(auth), K_AUTH, key);
	if (pipeline(r, "lookup", 2, cmds, argc, reps) == -1)
		return -1;
	hash_entries(key, reps[0], now, collect_entry, &c);
	/* Administrator networks: rare, few; one more round trip each. */
	for (i = 0; reps[1]->type == REDIS_REPLY_ARRAY &&
	    i < reps[1]->elements && rc == 0; i++) {
		const redisReply *m = reps[1]->element[i];
		char net[NET_ADDRSTRLEN];
		redisReply *h;

		if (m->type != REDIS_REPLY_STRING ||
		    str_ncopy(net, m->str, m->len, sizeof(net)) == -1 ||
		    strcmp(net, key) == 0 ||
		    net_prefix_parse(net, false, &p) == -1 ||
		    !net_prefix_match(&p, addr))
			continue;
		key_of(auth, sizeof(auth), K_AUTH, net);
		h = command(r, 2, hget);
		if (h == NULL || h->type == REDIS_REPLY_ERROR) {
			rc = reply_error(r, h, "lookup");
			break;
		}
		hash_entries(net, h, now, collect_entry, &c);
		freeReplyObject(h);
	}
	freeReplyObject(reps[0]);
	freeReplyObject(reps[1]);
	return rc;
}

static int
revoke_once(struct relay_redis *r, const char *key, const char *customer)
{
	char auth[128], cust[128];
	const char *args[5];
	redisReply *rep;
	int n;

	key_of(auth, sizeof(auth), K_AUTH, key != NULL ? key : "");
	key_of(cust, sizeof(cust), K_CUST, customer != NULL ? customer : "");
	args[0] = auth;
	args[1] = cust;
	args[2] = K_NETS;
	args[3] = key != NULL ? key : "";
	args[4] = customer != NULL ? customer : "";
	rep = eval(r, LUA_REVOKE, "revoke", 3, 5, args);
	if (rep == NULL)
		return -1;
	n = rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : 0;
	freeReplyObject(rep);
	return n;
}

/* By key, then customer: the order relay_list() promises. */
static int
cmp_key(const void *a, const void *b)
{
	const struct relay_entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : strcmp(x->customer, y->customer);
}

/* Every live entry, from a SCAN over the auth keys, into *OUT. */
static int
scan_all(struct relay_redis *r, time_t now, struct relay_entry **out,
    size_t *n)
{
	struct collect c = { NULL, NULL, out, n };
	char cursor[32] = "0", key[128];
	static const char pattern[] = K_AUTH "*";
	const char *scan[6] = { "SCAN", cursor, "MATCH", pattern, "COUNT",
	    "1000" };
	const char *hget[2] = { "HGETALL", key };
	redisReply *rep, *h;
	size_t i;

	if (connected(r) == -1)
		return -1;
	do {
		rep = command(r, 6, scan);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY ||
		    rep->elements != 2)
			return reply_error(r, rep, "list");
		(void)str_ncopy(cursor, rep->element[0]->str,
		    rep->element[0]->len, sizeof(cursor));
		for (i = 0; i < rep->element[1]->elements; i++) {
			const redisReply *k = rep->element[1]->element[i];

			if (str_ncopy(key, k->str, k->len, sizeof(key)) == -1)
				continue;
			h = command(r, 2, hget);
			if (h == NULL || h->type == REDIS_REPLY_ERROR) {
				freeReplyObject(rep);
				return reply_error(r, h, "list");
			}
			hash_entries(key + strlen(K_AUTH), h, now,
			    collect_entry, &c);
			freeReplyObject(h);
		}
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
	return 0;
}

static int
list_once(struct relay_redis *r, time_t now, relay_entry_cb *cb,
    void *arg)
{
	struct relay_entry *v = NULL;
	size_t i, n = 0;

	if (scan_all(r, now, &v, &n) == -1) {
		free(v);
		return -1;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_key);
	for (i = 0; i < n; i++)
		cb(&v[i], arg);
	free(v);
	return 0;
}

/* The key TTLs do the expiry; what is left is to drop the networks
   whose authorizations have all gone from the set of networks. */
static int
expire_once(struct relay_redis *r, time_t now)
{
	const char *smem[2] = { "SMEMBERS", K_NETS };
	char key[128], net[NET_ADDRSTRLEN];
	const char *exists[2] = { "EXISTS", key };
	const char *srem[3] = { "SREM", K_NETS, net };
	redisReply *rep, *x;
	size_t i;
	int rc = 0;

	(void)now;
	if (connected(r) == -1)
		return -1;
	rep = command(r, 2, smem);
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
		return reply_error(r, rep, "expire");
	for (i = 0; i < rep->elements && rc == 0; i++) {
		const redisReply *m = rep->element[i];

		if (m->type != REDIS_REPLY_STRING ||
		    str_ncopy(net, m->str, m->len, sizeof(net)) == -1)
			continue;
		key_of(key, sizeof(key), K_AUTH, net);
		x = command(r, 2, exists);
		if (x != NULL && x->type == REDIS_REPLY_INTEGER &&
		    x->integer == 0) {
			freeReplyObject(x);
			x = command(r, 3, srem);
		}
		if (x == NULL || x->type == REDIS_REPLY_ERROR)
			rc = reply_error(r, x, "expire");
		else
			freeReplyObject(x);
	}
	freeReplyObject(rep);
	return rc;
}

static int
rate_add_once(struct relay_redis *r, const char *customer,
    int64_t minute, uint64_t msgs, uint64_t rcpts)
{
	char key[128], min[32], m[32], rc[32], ttl[16];
	const char *args[5] = { key, min, m, rc, ttl };
	redisReply *rep;

	key_of(key, sizeof(key), K_RATE, customer);
	(void)snprintf(min, sizeof(min), "%lld", (long long)minute);
	(void)snprintf(m, sizeof(m), "%llu", (unsigned long long)msgs);
	(void)snprintf(rc, sizeof(rc), "%llu", (unsigned long long)rcpts);
	(void)snprintf(ttl, sizeof(ttl), "%d", RATE_TTL);
	rep = eval(r, LUA_RATE_ADD, "rate", 1, 5, args);
	if (rep == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

static int
rate_get_once(struct relay_redis *r, const char *customer, int64_t first,
    int64_t last, uint64_t *msgs_r, uint64_t *rcpts_r)
{
	char key[128], fld[32];
	const char *hget[2] = { "HGETALL", key };
	redisReply *rep;
	long long minute, v;
	size_t i;
	char *ep;

	if (connected(r) == -1)
		return -1;
	key_of(key, sizeof(key), K_RATE, customer);
	rep = command(r, 2, hget);
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
		return reply_error(r, rep, "rate");
	for (i = 0; i + 1 < rep->elements; i += 2) {
		const redisReply *f = rep->element[i], *x = rep->element[i + 1];

		if (f->type != REDIS_REPLY_STRING ||
		    x->type != REDIS_REPLY_STRING ||
		    str_ncopy(fld, f->str, f->len, sizeof(fld)) == -1 ||
		    (fld[0] != 'm' && fld[0] != 'r'))
			continue;
		minute = strtoll(fld + 1, &ep, 10);
		if (*ep != '\0' || minute < first || minute > last)
			continue;
		v = strtoll(x->str, &ep, 10);
		if (v < 0)
			continue;
		if (fld[0] == 'm')
			*msgs_r += (uint64_t)v;
		else
			*rcpts_r += (uint64_t)v;
	}
	freeReplyObject(rep);
	return 0;
}

/* An integer element of a script's array reply. */
static bool
reply_int(const redisReply *rep, size_t i, long long *v)
{
	if (rep->type != REDIS_REPLY_ARRAY || i >= rep->elements ||
	    rep->element[i]->type != REDIS_REPLY_INTEGER)
		return false;
	*v = rep->element[i]->integer;
	return true;
}

static int
rate_hold_once(struct relay_redis *r, const char *customer, int64_t minute,
    int64_t first, struct relay_hold *h)
{
	char key[128], min[32], fst[32], m[32], rc[32], mm[32], mr[32],
	    ttl[16];
	const char *args[8] = { key, min, fst, m, rc, mm, mr, ttl };
	redisReply *rep;
	long long held, had_m, had_r;

	key_of(key, sizeof(key), K_RATE, customer);
	(void)snprintf(min, sizeof(min), "%lld", (long long)minute);
	(void)snprintf(fst, sizeof(fst), "%lld", (long long)first);
	(void)snprintf(m, sizeof(m), "%llu", (unsigned long long)h->msgs);
	(void)snprintf(rc, sizeof(rc), "%llu", (unsigned long long)h->rcpts);
	(void)snprintf(mm, sizeof(mm), "%llu",
	    (unsigned long long)h->max_msgs);
	(void)snprintf(mr, sizeof(mr), "%llu",
	    (unsigned long long)h->max_rcpts);
	(void)snprintf(ttl, sizeof(ttl), "%d", RATE_TTL);
	rep = eval(r, LUA_RATE_HOLD, "rate hold", 1, 8, args);
	if (rep == NULL)
		return -1;
	if (!reply_int(rep, 0, &held) || !reply_int(rep, 1, &had_m) ||
	    !reply_int(rep, 2, &had_r)) {
		freeReplyObject(rep);
		return relay_set_error(&r->base, "relay table (redis %s:%u): "
		    "rate hold: unexpected reply", r->uri.host, r->uri.port);
	}
	freeReplyObject(rep);
	h->had_msgs = had_m > 0 ? (uint64_t)had_m : 0;
	h->had_rcpts = had_r > 0 ? (uint64_t)had_r : 0;
	return held == 1;
}

static int
rate_release_once(struct relay_redis *r, const char *customer,
    int64_t minute, uint64_t msgs, uint64_t rcpts)
{
	char key[128], min[32], m[32], rc[32];
	const char *args[4] = { key, min, m, rc };
	redisReply *rep;

	key_of(key, sizeof(key), K_RATE, customer);
	(void)snprintf(min, sizeof(min), "%lld", (long long)minute);
	(void)snprintf(m, sizeof(m), "%llu", (unsigned long long)msgs);
	(void)snprintf(rc, sizeof(rc), "%llu", (unsigned long long)rcpts);
	rep = eval(r, LUA_RATE_RELEASE, "rate release", 1, 4, args);
	if (rep == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

/* ---- the calls: each tried twice when its connection had gone ---- */

static int
redis_record(struct relay_auth *base, const struct relay_entry *e)
{
	struct relay_redis *r = (struct relay_redis *)base;
	int rc, tries = 0;

	begin(r);
	do
		rc = record_once(r, e);
	while (again(r, rc, &tries));
	return rc;
}

static int
redis_lookup(struct relay_auth *base, const char *key,
    const struct netaddr *addr, time_t now, struct relay_entry **out,
    size_t *n)
{
	struct relay_redis *r = (struct relay_redis *)base;
	int rc, tries = 0;

	begin(r);
	for (;;) {
		rc = lookup_once(r, key, addr, now, out, n);
		if (!again(r, rc, &tries))
			return rc;
		free(*out);
		*out = NULL;
		*n = 0;
	}
}

static int
redis_revoke(struct relay_auth *base, const char *key, const char *customer)
{
	struct relay_redis *r = (struct relay_redis *)base;
	int rc, tries = 0;

	begin(r);
	do
		rc = revoke_once(r, key, customer);
	while (again(r, rc, &tries));
	return rc;
}

static int
redis_list(struct relay_auth *base, time_t now, relay_entry_cb *cb,
    void *arg)
{
	struct relay_redis *r = (struct relay_redis *)base;
	int rc, tries = 0;

	begin(r);
	do
		rc = list_once(r, now, cb, arg);
	while (again(r, rc, &tries));
	return rc;
}

static int
redis_expire(struct relay_auth *base, time_t now)
{
	struct relay_redis *r = (struct relay_redis *)base;
	int rc, tries = 0;

	begin(r);
	do
		rc = expire_once(r, now);
	while (again(r, rc, &tries));
	return rc;
}

static int
redis_rate_add(struct relay_auth *base, const char *customer,
    int64_t minute, uint64_t msgs, uint64_t rcpts)
{
	struct relay_redis *r = (struct relay_redis *)base;
	int rc, tries = 0;

	begin(r);
	do
		rc = rate_add_once(r, customer, minute, msgs, rcpts);
	while (again(r, rc, &tries));
	return rc;
}

static int
redis_rate_get(struct relay_auth *base, const char *customer, int64_t first,
    int64_t last, uint64_t *msgs_r, uint64_t *rcpts_r)
{
	struct relay_redis *r = (struct relay_redis *)base;
	int rc, tries = 0;

	begin(r);
	do {
		*msgs_r = *rcpts_r = 0;
		rc = rate_get_once(r, customer, first, last, msgs_r, rcpts_r);
	} while (again(r, rc, &tries));
	return rc;
}

static int
redis_rate_hold(struct relay_auth *base, const char *customer,
    int64_t minute, int64_t first, struct relay_hold *h)
{
	struct relay_redis *r = (struct relay_redis *)base;
	int rc, tries = 0;

	begin(r);
	do
		rc = rate_hold_once(r, customer, minute, first, h);
	while (again(r, rc, &tries));
	return rc;
}

static int
redis_rate_release(struct relay_auth *base, const char *customer,
    int64_t minute, uint64_t msgs, uint64_t rcpts)
{
	struct relay_redis *r = (struct relay_redis *)base;
	int rc, tries = 0;

	begin(r);
	do
		rc = rate_release_once(r, customer, minute, msgs, rcpts);
	while (again(r, rc, &tries));
	return rc;
}

const struct relay_backend relay_backend_redis = {
	.name = "redis",
	.open = redis_open,
	.close = redis_close,
	.record = redis_record,
	.lookup = redis_lookup,
	.revoke = redis_revoke,
	.list = redis_list,
	.expire = redis_expire,
	.rate_add = redis_rate_add,
	.rate_get = redis_rate_get,
	.rate_hold = redis_rate_hold,
	.rate_release = redis_rate_release,
};
