/*
 * fuzz_privsep.c - the messages between the daemon and its privileged
 * helper (cli_privsep.h, on util/ipc.h): a datagram as the receiver
 * parses it, with the
 * number of descriptors the first byte says attached, then every decoder
 * of the receivers: the helper's (a bind request, a start of
 * popgate-keys or a load of a generation, a start or a kill of
 * popgate-lookup) and the daemon's (the files, a bound socket,
 * popgate-keys started or its keys loaded, popgate-lookup started or
 * killed, popgate-lookup's first message). A decoder
 * that accepts must hand over exactly the descriptors the message
 * carries; one that refuses must leave them to the caller.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "cli/cli_privsep.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct ipc_msg m;
	static struct keys_loaded l;
	struct privsep_files f;
	uint32_t gen, keep;
	long pid;
	struct strlist errors;
	char host[64], err[256];
	uint16_t port;
	unsigned i, nfds;
	int fd, fd2, r;

	if (len < 1)
		return 0;
	nfds = data[0] % 8;
	if (ipc_msg_parse(&m, data + 1, len - 1) == -1)
		return 0;
	for (i = 0; i < nfds; i++)
		m.fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	m.nfds = nfds;
	if (privsep_decode_req_bind(&m, host, sizeof(host), &port) == 0 &&
	    (host[0] == '\0' || strlen(host) >= sizeof(host)))
		abort();
	if (privsep_decode_bound(&m, &fd, err, sizeof(err)) == 0 &&
	    ((fd == -1) != (m.nfds == 0)))
		abort();
	if (privsep_decode_req_keys(&m, &gen, &keep) == 0 && (m.nfds != 0 ||
	    (m.type == PRIVSEP_REQ_KEYS_LOAD && gen == 0) ||
	    (m.type == PRIVSEP_REQ_KEYS_START && keep != 0)))
		abort();
	r = privsep_decode_keys(&m, &pid, &fd, &l, err, sizeof(err));
	if ((r == 1 && (l.n > KEYS_MAX || (fd == -1) != (m.nfds == 0) ||
	    (fd != -1) != (m.type == PRIVSEP_KEYS_STARTED) ||
	    (m.type == PRIVSEP_KEYS_STARTED && pid <= 0))) ||
	    (r == 0 && (fd != -1 || m.nfds != 0 || memchr(err, '\0',
	    sizeof(err)) == NULL)))
		abort();
	r = privsep_decode_req_lookup(&m, &fd, &fd2, &pid);
	if (r == 0 && (m.type == PRIVSEP_REQ_LOOKUP_KILL ? pid <= 0 ||
	    m.nfds != 0 || fd != -1 : fd == -1 || (fd2 == -1) !=
	    (m.nfds == 1)))
		abort();
	r = privsep_decode_lookup(&m, &pid, &fd, err, sizeof(err));
	if (r == 1 && m.type == PRIVSEP_LOOKUP_STARTED && (pid <= 0 ||
	    fd == -1 || m.nfds != 1))
		abort();
	if (r >= 0 && m.type != PRIVSEP_LOOKUP_STARTED && (fd != -1 ||
	    m.nfds != 0))
		abort();
	r = privsep_decode_lookup_ready(&m, err, sizeof(err));
	if (r >= 0 && (m.nfds != 0 || (r == 1) != (err[0] == '\0') ||
	    memchr(err, '\0', sizeof(err)) == NULL))
		abort();
	strlist_init(&errors);
	r = privsep_decode_files(&m, &f, &errors);
	if (r == 0) {
		if (m.nfds != 2 + f.nhosts)
			abort();
		privsep_files_close(&f);	/* they are f's now */
	} else {
		if (r == 1 && (errors.n == 0 || m.nfds != 0))
			abort();
		ipc_msg_close_fds(&m);
	}
	strlist_free(&errors);
	return 0;
}
