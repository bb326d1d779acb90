/*
 * fuzz_keys.c - the messages of popgate-keys (core/keys.h): a datagram
 * (util/ipc.h framing) with the number of descriptors the first byte
 * says attached, through every decoder of its receivers (popgate-keys's
 * requests, the daemon's KEYS_LOADED and KEYS_SIGNED), then to a real
 * keys_serve(), on the daemon's socket or, when bit 3 of the first byte
 * is set, on its owner's; when bit 2 is set, it holds an RSA key
 * (index 0) and an ECDSA key (1) of generation 1 first (loaded by the
 * owner), so that a request that decodes reaches the signing (loading
 * the keys is the slow part: the other inputs go without).
 * A decoder that accepts must stay inside the message and report what
 * it carries; keys_serve must answer or end, never crash.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "fuzz.h"
#include "core/keys.h"
#include "util/log.h"

static int keyfd[2];	/* RSA, EC: PEM files in memory */

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "fuzz_keys: %s\n", what);
	exit(1);
}

static int
pem_file(EVP_PKEY *k)
{
	int fd = memfd_create("key", MFD_CLOEXEC);
	FILE *f = NULL;

	if (k == NULL || fd == -1 || (f = fdopen(dup(fd), "w")) == NULL)
		die("key file");
	if (PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fclose(f) != 0)
		die("key file");
	EVP_PKEY_free(k);
	return fd;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	(void)signal(SIGPIPE, SIG_IGN);
	log_init("popgate-fuzz", LOG_TO_STDERR);
	if (getenv("FUZZ_QUIET_LOGS") == NULL && freopen("/dev/null", "w",
	    stderr) == NULL)
		die("stderr");
	keyfd[0] = pem_file(EVP_RSA_gen(1024));	/* faster than 2048 */
	keyfd[1] = pem_file(EVP_EC_gen("P-256"));
	return 0;
}

/* Sends the raw datagram P (N bytes) with NFDS descriptors of
   /dev/null. */
static void
send_raw(int sock, const void *p, size_t n, unsigned nfds)
{
	struct iovec iov = { (void *)(uintptr_t)p, n };
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(int) * 8)];
	} u;
	struct msghdr mh;
	int fds[8];
	unsigned i;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	for (i = 0; i < nfds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
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
	(void)sendmsg(sock, &mh, MSG_NOSIGNAL);
	for (i = 0; i < nfds; i++)
		(void)close(fds[i]);
}

/* The decoders on M, which carries NFDS descriptors. */
static void
decode_all(struct ipc_msg *m, unsigned nfds)
{
	static struct keys_loaded l;
	unsigned char sig[KEYS_SIG_MAX];
	char reason[KEYS_REASON_MAX];
	struct keys_req r;
	size_t n = 0;
	unsigned i;

	for (i = 0; i < nfds; i++)
		m->fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	m->nfds = nfds;
	if (keys_decode_req(m, &r) == 0) {
		if (r.type == KEYS_LOAD ? r.n != m->nfds || r.n > KEYS_MAX :
		    m->nfds != 0 || r.inlen == 0 || r.inlen > KEYS_SIG_MAX ||
		    (const unsigned char *)r.in < m->data ||
		    (const unsigned char *)r.in + r.inlen > m->data + m->len)
			abort();
	}
	if (keys_decode_loaded(m, &l) == 0 && (l.n > KEYS_MAX ||
	    m->nfds != 0))
		abort();
	if (keys_decode_signed(m, sig, sizeof(sig), &n, reason) == 1 &&
	    (n == 0 || n > sizeof(sig) || m->nfds != 0))
		abort();
	ipc_msg_close_fds(m);
}

/* keys_serve (with the two keys loaded when LOAD), then the datagram
   on the daemon's socket, or its owner's when OWNER. */
static void
serve(const uint8_t *p, size_t n, unsigned nfds, bool load, bool owner)
{
	struct ipc_out o;
	int sv[2], own[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, own) == -1)
		die("socketpair");
	ipc_out_init(&o);
	ipc_put_u32(&o, 1);
	ipc_put_u32(&o, 1);
	ipc_put_u32(&o, 2);
	if (load && ipc_send(own[0], KEYS_LOAD, 1, &o, keyfd, 2) == -1)
		die("send");
	ipc_out_free(&o);
	send_raw(owner ? own[0] : sv[0], p, n, nfds);
	/* The other end stays open: the datagram is served before the
	   end of its own socket. */
	(void)shutdown(owner ? own[0] : sv[0], SHUT_WR);
	(void)keys_serve(own[1], sv[1]);
	(void)close(sv[0]);
	(void)close(sv[1]);
	(void)close(own[0]);
	(void)close(own[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct ipc_msg m;
	unsigned nfds;

	if (len < 1 || len - 1 > IPC_HDR_SIZE + IPC_PAYLOAD_MAX)
		return 0;
	nfds = data[0] % 4;
	if (ipc_msg_parse(&m, data + 1, len - 1) == 0)
		decode_all(&m, nfds);
	serve(data + 1, len - 1, nfds, (data[0] & 4) != 0,
	    (data[0] & 8) != 0);
	return 0;
}
