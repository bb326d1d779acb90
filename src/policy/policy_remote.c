/*
 * policy_remote.c - logins checked in popgate-lookup (README
 * "Processes"): the network process sends what the client said, the
 * lookup process, which alone reads the password hashes and keeps the
 * login cache, answers valid (with the mailbox, never its hash),
 * invalid, or try later.
 *
 * Messages (util/ipc.h), every field bounded:
 *   LOGIN_CHECK   texts user, password, client address, listener
 *   LOGIN_RESULT  u32 result (0 refused, 1 valid, 2 temporary), texts
 *		   address, domain, local part, customer, u64 quota,
 *		   u32 suspended, u64 created, text error
 */
#include <errno.h>

#include <openssl/crypto.h>

#include "policy/policy_int.h"
#include "util/compat.h"

#define LOGIN_WAIT_MS	10000	/* crypt(3) and a store behind a network */

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
	ipc_put_text(&out, l->user);
	ipc_put_text(&out, l->pass);
	ipc_put_text(&out, client);
	ipc_put_text(&out, l->listener);
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

int
policy_login_serve(struct backends *b, const struct ipc_msg *m, int sock)
{
	char client[NET_ADDRSTRLEN];
	struct ipc_out out;
	struct ipc_in in;
	struct login l;
	struct netaddr addr;
	int r;

	ipc_in_init(&in, m);
	memset(&l, 0, sizeof(l));
	if (m->type != LOGIN_CHECK ||
	    ipc_get_text(&in, l.user, sizeof(l.user)) == -1 ||
	    ipc_get_text(&in, l.pass, sizeof(l.pass)) == -1 ||
	    ipc_get_text(&in, client, sizeof(client)) == -1 ||
	    ipc_get_text(&in, l.listener, sizeof(l.listener)) == -1 ||
	    ipc_get_done(&in, 0) == -1 || net_addr_parse(client, &addr) == -1) {
		OPENSSL_cleanse(l.pass, sizeof(l.pass));
		errno = EPROTO;
		return -1;
	}
	l.client = addr;
	policy_verify_login(b, &l);
	OPENSSL_cleanse(l.pass, sizeof(l.pass));
	ipc_out_init(&out);
	put_result(&out, &l);
	r = ipc_send(sock, LOGIN_RESULT, 0, &out, NULL, 0);
	ipc_out_free(&out);
	return r;
}
