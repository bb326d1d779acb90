/*
 * policy_remote.c - logins checked in popgate-lookup (README
 * "Processes"): the network process sends what the client said, the
 * lookup process, which alone reads the password hashes and keeps the
 * login cache, answers valid (with the mailbox, never its hash),
 * invalid, or try later.
 *
 * A valid login comes with a grant, a random number popgate-lookup
 * keeps for GRANT_TTL seconds with what the login said: the relay
 * record of that login (after its mailbox opened) names the grant, not
 * an address, so that the network process opens the relay only for a
 * client that logged in (SPEC 1). Changes of the store and of the relay
 * table are taken from a connection only between an API_BEGIN with a
 * valid token and its API_END (README "Processes").
 *
 * Messages (util/ipc.h), every field bounded:
 *   LOGIN_CHECK   texts user, client address, listener, password
 *   LOGIN_RESULT  u32 result (0 refused, 1 valid, 2 temporary), texts
 *		   address, domain, local part, customer, u64 quota,
 *		   u32 suspended, u64 created, text error, u64 grant
 *   LOGIN_RELAY   u64 grant
 *   LOGIN_RELAYED u32 opened, text note
 *   API_BEGIN	   text token digest (hex SHA-256)
 *   API_BEGUN	   u32 result (0 none, 1 valid, 2 temporary), texts name,
 *		   customer, u64 created, u64 expires, text error
 *   API_END	   (empty; no answer)
 */
#include <errno.h>

#include <openssl/crypto.h>

#include <pthread.h>

#include <openssl/rand.h>

#include "policy/policy_int.h"
#include "util/clock.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define LOGIN_WAIT_MS	10000	/* crypt(3) and a store behind a network */
#define GRANT_TTL	120	/* seconds from a login to its relay record */
#define GRANTS_MAX	100000

/* ---- popgate-lookup's grants ---- */

struct grant {
	struct login	 l;	/* what the relay record needs of it */
	time_t		 made;
};

static pthread_mutex_t grants_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hmap *grants;

static bool
grant_expired(const char *key, void *val, void *arg)
{
	struct grant *g = val;

	(void)key;
	(void)arg;
	if (clock_now() - g->made < GRANT_TTL)
		return false;
	free(g);
	return true;
}

/* A grant for the valid login L: its number, 0 when none was made. */
static uint64_t
grant_new(const struct login *l)
{
	struct grant *g = xcalloc(1, sizeof(*g));
	char key[24];
	uint64_t id;

	if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1 || id == 0) {
		free(g);
		return 0;
	}
	g->l.mbox = l->mbox;
	g->l.client = l->client;
	(void)str_copy(g->l.listener, l->listener, sizeof(g->l.listener));
	g->made = clock_now();
	(void)snprintf(key, sizeof(key), "%016llx", (unsigned long long)id);
	(void)pthread_mutex_lock(&grants_lock);
	if (grants == NULL)
		grants = hmap_new();
	if (hmap_count(grants) >= GRANTS_MAX)
		hmap_sweep(grants, grant_expired, NULL);
	if (hmap_count(grants) < GRANTS_MAX)
		free(hmap_put(grants, key, g));
	else {
		free(g);
		id = 0;
	}
	(void)pthread_mutex_unlock(&grants_lock);
	return id;
}

/* The grant ID taken (once) into *L: 0, or -1 when it is unknown or
   expired. */
static int
grant_take(uint64_t id, struct login *l)
{
	struct grant *g = NULL;
	char key[24];

	(void)snprintf(key, sizeof(key), "%016llx", (unsigned long long)id);
	(void)pthread_mutex_lock(&grants_lock);
	if (grants != NULL)
		g = hmap_del(grants, key);
	(void)pthread_mutex_unlock(&grants_lock);
	if (g == NULL)
		return -1;
	if (clock_now() - g->made >= GRANT_TTL) {
		free(g);
		return -1;
	}
	*l = g->l;
	free(g);
	return 0;
}

static void
put_result(struct ipc_out *o, const struct login *l)
{
	const struct store_mailbox *m = &l->mbox;

	ipc_put_u32(o, l->result == 1 ? 1 : l->result == 0 ? 0 : 2);
	ipc_put_text(o, l->result == 1 ? m->address : "");
	ipc_put_text(o, l->result == 1 ? m->domain : "");
	ipc_put_text(o, l->result == 1 ? m->local : "");
	ipc_put_text(o, l->result == 1 ? m->customer : "");
	ipc_put_u64(o, l->result == 1 ? m->quota : 0);
	ipc_put_u32(o, l->result == 1 && m->suspended ? 1 : 0);
	ipc_put_u64(o, l->result == 1 ? (uint64_t)m->created : 0);
	ipc_put_text(o, l->result == -1 ? l->error : "");
	ipc_put_u64(o, l->result == 1 ? l->grant : 0);
}

static int
get_result(struct ipc_in *in, struct login *l)
{
	struct store_mailbox *m = &l->mbox;
	uint32_t result, suspended;
	uint64_t created;

	memset(m, 0, sizeof(*m));
	if (ipc_get_u32(in, &result) == -1 || result > 2 ||
	    ipc_get_text(in, m->address, sizeof(m->address)) == -1 ||
	    ipc_get_text(in, m->domain, sizeof(m->domain)) == -1 ||
	    ipc_get_text(in, m->local, sizeof(m->local)) == -1 ||
	    ipc_get_text(in, m->customer, sizeof(m->customer)) == -1 ||
	    ipc_get_u64(in, &m->quota) == -1 ||
	    ipc_get_u32(in, &suspended) == -1 || suspended > 1 ||
	    ipc_get_u64(in, &created) == -1 ||
	    ipc_get_text(in, l->error, sizeof(l->error)) == -1 ||
	    ipc_get_u64(in, &l->grant) == -1 ||
	    ipc_get_done(in, 0) == -1)
		return -1;
	if (result == 1 && (*m->address == '\0' || *m->customer == '\0'))
		return -1;
	m->suspended = suspended == 1;
	m->created = (int64_t)created;
	l->result = result == 2 ? -1 : (int)result;
	return 0;
}

void
policy_login_remote(struct backends *b, struct login *l)
{
	char client[NET_ADDRSTRLEN];
	struct ipc_out out;
	struct ipc_in in;

	l->result = -1;
	net_addr_format(&l->client, client, sizeof(client));
	ipc_out_init(&out);
	/* The password last: a field after it could move the buffer and
	   leave a copy behind. */
	ipc_put_text(&out, l->user);
	ipc_put_text(&out, client);
	ipc_put_text(&out, l->listener);
	ipc_put_text(&out, l->pass);
	if (ipc_link_send(b->link, LOGIN_CHECK, 0, &out) == -1 ||
	    ipc_link_recv(b->link, LOGIN_WAIT_MS) == -1) {
		(void)str_fmt(l->error, sizeof(l->error), "the lookup process "
		    "is unavailable: %s", strerror(errno));
		goto out;
	}
	ipc_in_init(&in, b->link->m);
	if (b->link->m->type != LOGIN_RESULT || get_result(&in, l) == -1) {
		ipc_link_close(b->link);
		l->result = -1;
		(void)str_copy(l->error, "the lookup process sent a malformed "
		    "answer", sizeof(l->error));
	}
out:
	OPENSSL_cleanse(out.b.data, out.b.len);
	ipc_out_free(&out);
}

/* The request just sent on B's link and its answer of TYPE: 0, or -1
   with ERR filled (the link closed when the answer was malformed). */
static int
round_trip(struct backends *b, uint32_t type, const struct ipc_out *out,
    uint32_t answer, char *err, size_t errsz)
{
	if (ipc_link_send(b->link, type, 0, out) == -1 ||
	    ipc_link_recv(b->link, LOGIN_WAIT_MS) == -1) {
		(void)str_fmt(err, errsz, "the lookup process is unavailable: "
		    "%s", strerror(errno));
		return -1;
	}
	if (b->link->m->type != answer) {
		ipc_link_close(b->link);
		(void)str_copy(err, "the lookup process sent a malformed "
		    "answer", errsz);
		return -1;
	}
	return 0;
}

void
policy_record_relay_remote(struct backends *b, struct login *l)
{
	struct ipc_out out;
	struct ipc_in in;
	uint32_t opened;
	char err[128];

	l->relay_note = "relay table unavailable";
	ipc_out_init(&out);
	ipc_put_u64(&out, l->grant);
	if (round_trip(b, LOGIN_RELAY, &out, LOGIN_RELAYED, err,
	    sizeof(err)) == -1) {
		log_error("relay-open-failed mailbox=%s: %s", l->mbox.address,
		    err);
		goto out;
	}
	ipc_in_init(&in, b->link->m);
	if (ipc_get_u32(&in, &opened) == -1 || opened > 1 ||
	    ipc_get_text(&in, l->relay_note_buf,
	    sizeof(l->relay_note_buf)) == -1 || ipc_get_done(&in, 0) == -1) {
		ipc_link_close(b->link);
		log_error("relay-open-failed mailbox=%s: the lookup process "
		    "sent a malformed answer", l->mbox.address);
		goto out;
	}
	l->relay_opened = opened == 1;
	l->relay_note = *l->relay_note_buf != '\0' ? l->relay_note_buf : NULL;
out:
	ipc_out_free(&out);
}

static void
get_token(struct ipc_in *in, struct store_token *t, uint32_t *result,
    char *err, size_t errsz, int *bad)
{
	uint64_t created, expires;

	memset(t, 0, sizeof(*t));
	if (ipc_get_u32(in, result) == -1 || *result > 2 ||
	    ipc_get_text(in, t->name, sizeof(t->name)) == -1 ||
	    ipc_get_text(in, t->customer, sizeof(t->customer)) == -1 ||
	    ipc_get_u64(in, &created) == -1 ||
	    ipc_get_u64(in, &expires) == -1 ||
	    ipc_get_text(in, err, errsz) == -1 || ipc_get_done(in, 0) == -1 ||
	    (*result == 1 && *t->name == '\0')) {
		*bad = 1;
		return;
	}
	t->created = (int64_t)created;
	t->expires = (int64_t)expires;
}

int
policy_api_begin(struct backends *b, const char *hash, struct store_token *t,
    const char **error_r)
{
	static __thread char err[256];
	struct ipc_out out;
	struct ipc_in in;
	uint32_t result = 0;
	int bad = 0;
	struct store *s;

	if (b->link == NULL) {
		if ((s = backends_store(b, error_r)) == NULL)
			return -1;
		return store_token_find(s, hash, t, error_r);
	}
	ipc_out_init(&out);
	ipc_put_text(&out, hash);
	if (round_trip(b, API_BEGIN, &out, API_BEGUN, err, sizeof(err)) == 0) {
		ipc_in_init(&in, b->link->m);
		get_token(&in, t, &result, err, sizeof(err), &bad);
		if (bad) {
			ipc_link_close(b->link);
			(void)str_copy(err, "the lookup process sent a "
			    "malformed answer", sizeof(err));
		}
	} else
		bad = 1;
	ipc_out_free(&out);
	if (bad || result == 2) {
		*error_r = err;
		return -1;
	}
	return (int)result;
}

void
policy_api_end(struct backends *b)
{
	if (b->link != NULL && b->link->sock != -1 &&
	    ipc_send(b->link->sock, API_END, 0, NULL, NULL, 0) == -1)
		ipc_link_close(b->link);
}

/* ---- popgate-lookup's side ---- */

static int
serve_login(struct backends *b, const struct ipc_msg *m, int sock)
{
	char client[NET_ADDRSTRLEN];
	struct ipc_out out;
	struct ipc_in in;
	struct login l;
	struct netaddr addr;
	int r;

	ipc_in_init(&in, m);
	memset(&l, 0, sizeof(l));
	if (ipc_get_text(&in, l.user, sizeof(l.user)) == -1 ||
	    ipc_get_text(&in, client, sizeof(client)) == -1 ||
	    ipc_get_text(&in, l.listener, sizeof(l.listener)) == -1 ||
	    ipc_get_text(&in, l.pass, sizeof(l.pass)) == -1 ||
	    ipc_get_done(&in, 0) == -1 || net_addr_parse(client, &addr) == -1) {
		OPENSSL_cleanse(l.pass, sizeof(l.pass));
		errno = EPROTO;
		return -1;
	}
	l.client = addr;
	policy_verify_login(b, &l);
	OPENSSL_cleanse(l.pass, sizeof(l.pass));
	if (l.result == 1)
		l.grant = grant_new(&l);
	ipc_out_init(&out);
	put_result(&out, &l);
	r = ipc_send(sock, LOGIN_RESULT, 0, &out, NULL, 0);
	ipc_out_free(&out);
	return r;
}

static int
serve_relay(struct backends *b, const struct ipc_msg *m, int sock)
{
	struct ipc_out out;
	struct ipc_in in;
	struct login l;
	uint64_t id;
	int r;

	ipc_in_init(&in, m);
	if (ipc_get_u64(&in, &id) == -1 || ipc_get_done(&in, 0) == -1) {
		errno = EPROTO;
		return -1;
	}
	memset(&l, 0, sizeof(l));
	if (id == 0 || grant_take(id, &l) == -1)
		l.relay_note = "no login to record";
	else
		policy_record_relay(b, &l);
	ipc_out_init(&out);
	ipc_put_u32(&out, l.relay_opened ? 1 : 0);
	ipc_put_text(&out, l.relay_note != NULL ? l.relay_note : "");
	r = ipc_send(sock, LOGIN_RELAYED, 0, &out, NULL, 0);
	ipc_out_free(&out);
	return r;
}

static int
serve_api_begin(struct backends *b, const struct ipc_msg *m, int sock)
{
	char hash[STORE_TOKEN_HASH_LEN + 1];
	struct store_token t;
	struct ipc_out out;
	struct ipc_in in;
	const char *err = "";
	struct store *s;
	int r;

	ipc_in_init(&in, m);
	if (ipc_get_text(&in, hash, sizeof(hash)) == -1 ||
	    ipc_get_done(&in, 0) == -1) {
		errno = EPROTO;
		return -1;
	}
	b->api_request = false;
	memset(&t, 0, sizeof(t));
	if ((s = backends_store(b, &err)) == NULL)
		r = -1;
	else
		r = store_token_find(s, hash, &t, &err);
	if (r == 1 && t.expires != 0 && t.expires <= (int64_t)clock_now())
		r = 0;
	b->api_request = r == 1;
	ipc_out_init(&out);
	ipc_put_u32(&out, r == 1 ? 1 : r == 0 ? 0 : 2);
	ipc_put_text(&out, r == 1 ? t.name : "");
	ipc_put_text(&out, r == 1 ? t.customer : "");
	ipc_put_u64(&out, r == 1 ? (uint64_t)t.created : 0);
	ipc_put_u64(&out, r == 1 ? (uint64_t)t.expires : 0);
	ipc_put_text(&out, r == -1 ? err : "");
	r = ipc_send(sock, API_BEGUN, 0, &out, NULL, 0);
	ipc_out_free(&out);
	return r;
}

int
policy_lookup_serve(struct backends *b, const struct ipc_msg *m, int sock)
{
	struct ipc_in in;

	switch (m->type) {
	case LOGIN_CHECK:
		return serve_login(b, m, sock);
	case LOGIN_RELAY:
		return serve_relay(b, m, sock);
	case API_BEGIN:
		return serve_api_begin(b, m, sock);
	case API_END:
		ipc_in_init(&in, m);
		b->api_request = false;
		return ipc_get_done(&in, 0);
	case DKIM_SIGN:
		return policy_dkim_serve(b, m, sock);
	default:
		errno = EPROTO;
		return -1;
	}
}
