/*
 * ipc.c - the message codec between popgate's processes (see ipc.h):
 * building and reading typed fields, one datagram per message with its
 * descriptors, every length checked before use.
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/ipc.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

struct hdr {
	uint32_t	type;
	uint32_t	len;
	uint32_t	id;
};

_Static_assert(sizeof(struct hdr) == IPC_HDR_SIZE, "header layout");

/* ---- building ---- */

void
ipc_out_init(struct ipc_out *o)
{
	buf_init(&o->b, IPC_PAYLOAD_MAX);
	o->failed = false;
}

void
ipc_out_free(struct ipc_out *o)
{
	buf_free(&o->b);
}

static void
put(struct ipc_out *o, const void *p, size_t n)
{
	if (!o->failed && buf_append(&o->b, p, n) == -1)
		o->failed = true;
}

void
ipc_put_u32(struct ipc_out *o, uint32_t v)
{
	put(o, &v, sizeof(v));
}

void
ipc_put_u64(struct ipc_out *o, uint64_t v)
{
	put(o, &v, sizeof(v));
}

void
ipc_put_bytes(struct ipc_out *o, const void *p, size_t n)
{
	if (n > IPC_PAYLOAD_MAX) {
		o->failed = true;
		return;
	}
	ipc_put_u32(o, (uint32_t)n);
	put(o, p, n);
}

void
ipc_put_text(struct ipc_out *o, const char *s)
{
	ipc_put_bytes(o, s, strlen(s));
}

/* ---- reading ---- */

void
ipc_in_init(struct ipc_in *in, const struct ipc_msg *m)
{
	in->m = m;
	in->off = 0;
}

/* The next N bytes, or NULL when the message ends before. */
static const unsigned char *
take(struct ipc_in *in, size_t n)
{
	const unsigned char *p;

	if (in->m->len - in->off < n)
		return NULL;
	p = in->m->data + in->off;
	in->off += n;
	return p;
}

int
ipc_get_u32(struct ipc_in *in, uint32_t *v)
{
	const unsigned char *p = take(in, sizeof(*v));

	if (p == NULL)
		return -1;
	memcpy(v, p, sizeof(*v));
	return 0;
}

int
ipc_get_u64(struct ipc_in *in, uint64_t *v)
{
	const unsigned char *p = take(in, sizeof(*v));

	if (p == NULL)
		return -1;
	memcpy(v, p, sizeof(*v));
	return 0;
}

int
ipc_get_bytes(struct ipc_in *in, size_t max, const void **p, size_t *n)
{
	size_t start = in->off;
	const unsigned char *q;
	uint32_t len;

	if (ipc_get_u32(in, &len) == -1)
		return -1;
	if (len > max || (q = take(in, len)) == NULL) {
		in->off = start;
		return -1;
	}
	*p = q;
	*n = len;
	return 0;
}

int
ipc_get_text(struct ipc_in *in, char *out, size_t outsz)
{
	size_t start = in->off, n;
	const void *p;

	if (outsz == 0 || ipc_get_bytes(in, outsz - 1, &p, &n) == -1)
		return -1;
	if (memchr(p, '\0', n) != NULL) {
		in->off = start;
		return -1;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int
ipc_get_done(const struct ipc_in *in, unsigned nfds)
{
	return in->off == in->m->len && in->m->nfds == nfds ? 0 : -1;
}

/* ---- the socket ---- */

int
ipc_send(int sock, uint32_t type, uint32_t id, const struct ipc_out *out,
    const int *fds, unsigned nfds)
{
	size_t len = out != NULL ? out->b.len : 0;
	struct hdr h = { type, (uint32_t)len, id };
	struct iovec iov[2] = {
		{ &h, sizeof(h) },
		{ out != NULL ? out->b.data : NULL, len },
	};
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(int) * IPC_FDS_MAX)];
	} u;
	struct msghdr mh;
	ssize_t n;

	if ((out != NULL && out->failed) || len > IPC_PAYLOAD_MAX ||
	    nfds > IPC_FDS_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = len > 0 ? 2 : 1;
	if (nfds > 0) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if (n != (ssize_t)(sizeof(h) + len)) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* The descriptors that came with MH into M; false when the control data
   is anything but one SCM_RIGHTS (what came is still M's, to close). */
static bool
recv_fds(struct msghdr *mh, struct ipc_msg *m)
{
	struct cmsghdr *cm;
	bool ok = (mh->msg_flags & MSG_CTRUNC) == 0;
	size_t n;

	m->nfds = 0;
	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS) {
			ok = false;
			continue;
		}
		/* A second SCM_RIGHTS is an error too, but its descriptors
		   are M's like the first's, so that they get closed. */
		if (m->nfds > 0)
			ok = false;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (n > IPC_FDS_MAX - m->nfds)
			PANIC("more descriptors than the buffer holds");
		memcpy(m->fds + m->nfds, CMSG_DATA(cm), n * sizeof(int));
		m->nfds += (unsigned)n;
	}
	return ok;
}

void
ipc_msg_close_fds(struct ipc_msg *m)
{
	unsigned i;

	for (i = 0; i < m->nfds; i++)
		(void)close(m->fds[i]);
	m->nfds = 0;
}

int
ipc_msg_parse(struct ipc_msg *m, const void *datagram, size_t n)
{
	struct hdr h;

	if (n < sizeof(h))
		return -1;
	memcpy(&h, datagram, sizeof(h));
	if (h.len != n - sizeof(h) || h.len > sizeof(m->data))
		return -1;
	m->type = h.type;
	m->id = h.id;
	m->len = h.len;
	memcpy(m->data, (const unsigned char *)datagram + sizeof(h), m->len);
	return 0;
}

/* Waits until SOCK is readable: 0, or -1 (ETIMEDOUT after TIMEOUT_MS,
   however many signals come meanwhile). */
static int
wait_readable(int sock, int timeout_ms)
{
	struct pollfd pfd = { sock, POLLIN, 0 };
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	int r, left = timeout_ms;

	if (timeout_ms < 0)
		return 0;	/* recvmsg() blocks */
	for (;;) {
		r = poll(&pfd, 1, left);
		if (r != -1 || errno != EINTR)
			break;
		left = (int)(deadline > clock_mono_ms() ?
		    deadline - clock_mono_ms() : 0);
	}
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

int
ipc_recv(int sock, struct ipc_msg *m, int timeout_ms)
{
	struct hdr h;
	unsigned char spare;
	struct iovec iov[3] = {
		{ &h, sizeof(h) },
		{ m->data, sizeof(m->data) },
		{ &spare, 1 },		/* a datagram too long lands here */
	};
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(int) * IPC_FDS_MAX)];
	} u;
	struct msghdr mh;
	ssize_t n;

	m->nfds = 0;
	if (wait_readable(sock, timeout_ms) == -1)
		return -1;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 3;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	if (!recv_fds(&mh, m) || (mh.msg_flags & MSG_TRUNC) != 0 ||
	    (size_t)n < sizeof(h) || h.len != (size_t)n - sizeof(h) ||
	    h.len > sizeof(m->data)) {
		ipc_msg_close_fds(m);
		errno = EPROTO;
		return -1;
	}
	m->type = h.type;
	m->id = h.id;
	m->len = h.len;
	return 1;
}

/* ---- links ---- */

struct ipc_link *
ipc_link_new(int (*connect)(void *), void (*broken)(void *), void *arg)
{
	struct ipc_link *l = xcalloc(1, sizeof(*l));

	l->sock = -1;
	l->connect = connect;
	l->broken = broken;
	l->arg = arg;
	l->m = xmalloc(sizeof(*l->m));
	return l;
}

void
ipc_link_close(struct ipc_link *l)
{
	if (l->sock != -1)
		(void)close(l->sock);
	l->sock = -1;
}

void
ipc_link_free(struct ipc_link **lp)
{
	struct ipc_link *l = *lp;

	if (l == NULL)
		return;
	*lp = NULL;
	ipc_link_close(l);
	free(l->m);
	free(l);
}

int
ipc_link_open(struct ipc_link *l)
{
	if (l->sock != -1)
		return 0;
	if (l->pinned) {
		errno = ECONNRESET;
		return -1;
	}
	if ((l->sock = l->connect(l->arg)) == -1)
		return -1;
	l->gen++;
	return 0;
}

int
ipc_link_send(struct ipc_link *l, uint32_t type, uint32_t id,
    const struct ipc_out *out)
{
	int attempt, e;

	/* A connection made before the server's restart fails at the
	   first send (nothing was delivered): a new one is tried once. */
	for (attempt = 0; attempt < 2; attempt++) {
		bool fresh = l->sock == -1;

		if (fresh && ipc_link_open(l) == -1)
			return -1;
		if (ipc_send(l->sock, type, id, out, NULL, 0) == 0)
			return 0;
		e = errno;
		ipc_link_close(l);
		errno = e;
		if (fresh || l->pinned || (e != EPIPE && e != ECONNRESET))
			break;
	}
	return -1;
}

int
ipc_link_recv(struct ipc_link *l, int timeout_ms)
{
	int r, e;

	if (l->sock == -1) {
		errno = EPIPE;
		return -1;
	}
	r = ipc_recv(l->sock, l->m, timeout_ms);
	if (r == 1 && l->m->nfds == 0)
		return 1;
	e = r == 0 ? EPIPE : r == 1 ? EPROTO : errno;
	if (r == 1)
		ipc_msg_close_fds(l->m);
	ipc_link_close(l);
	if (e == ETIMEDOUT && l->broken != NULL)
		l->broken(l->arg);
	errno = e;
	return -1;
}
