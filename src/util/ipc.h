/*
 * ipc.h - the messages between popgate's processes (README "Processes"):
 * typed, bounded, checked whole.
 *
 * A message is one SOCK_SEQPACKET datagram: a header of type, payload
 * length and request id (u32 each, host order: both ends are one
 * binary), the payload, and descriptors by SCM_RIGHTS. The payload is
 * a sequence of fields written by the ipc_put_* functions and read back
 * in the same order by the ipc_get_* ones: u32, u64, and byte strings or
 * texts as a u32 length and the bytes. Every read checks the field's
 * length against the message and against the caller's limit for that
 * field; ipc_get_done() then fails when bytes are left over or the
 * message carries another number of descriptors than its type says. A
 * receiver treats any failure as a protocol error of its peer: it logs
 * it and drops the connection (OpenSMTPD's imsg rule), never guesses.
 */
#ifndef POPGATE_IPC_H
#define POPGATE_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/compat.h"

#define IPC_HDR_SIZE	12		/* type, length, request id */
#define IPC_PAYLOAD_MAX	65536
#define IPC_FDS_MAX	250		/* below SCM_MAX_FD (253) */

/* A received message. */
struct ipc_msg {
	uint32_t	 type;
	uint32_t	 id;
	size_t		 len;
	unsigned char	 data[IPC_PAYLOAD_MAX];
	int		 fds[IPC_FDS_MAX];
	unsigned	 nfds;
};

/* ---- building ---- */

/* A payload being built: B (max IPC_PAYLOAD_MAX) and a sticky failure,
   set when a field did not fit (the message must then not be sent). */
struct ipc_out {
	struct buf	 b;
	bool		 failed;
};

void	ipc_out_init(struct ipc_out *);
void	ipc_out_free(struct ipc_out *);
void	ipc_put_u32(struct ipc_out *, uint32_t);
void	ipc_put_u64(struct ipc_out *, uint64_t);
/* N bytes of P as a u32 length and the bytes. */
void	ipc_put_bytes(struct ipc_out *, const void *p, size_t n);
/* S without its NUL, as ipc_put_bytes. */
void	ipc_put_text(struct ipc_out *, const char *s);

/* ---- reading ---- */

/* A cursor over a received message; M is borrowed. */
struct ipc_in {
	const struct ipc_msg	*m;
	size_t			 off;
};

void	ipc_in_init(struct ipc_in *, const struct ipc_msg *m);
/* Each reads the next field: 0, or -1 when the message ends before it
   or its length passes MAX (the out-parameters are then untouched). */
int	ipc_get_u32(struct ipc_in *, uint32_t *v) WARN_UNUSED;
int	ipc_get_u64(struct ipc_in *, uint64_t *v) WARN_UNUSED;
/* A byte string of at most MAX bytes: *P points into the message
   (borrowed, as long as the message), *N its length. */
int	ipc_get_bytes(struct ipc_in *, size_t max, const void **p,
	    size_t *n) WARN_UNUSED;
/* A text (no NUL inside) copied into OUT with its NUL; at most
   OUTSZ - 1 bytes. */
int	ipc_get_text(struct ipc_in *, char *out, size_t outsz) WARN_UNUSED;
/* 0 when the message was read to its last byte and carries exactly
   NFDS descriptors; -1 otherwise. */
int	ipc_get_done(const struct ipc_in *, unsigned nfds) WARN_UNUSED;

/* ---- the socket ---- */

/* Sends one message of TYPE and ID with the payload of OUT (NULL: none)
   and FDS attached (they stay the caller's). 0, or -1 with errno
   (EMSGSIZE for a payload that failed to build or is too large). */
int	ipc_send(int sock, uint32_t type, uint32_t id,
	    const struct ipc_out *out, const int *fds, unsigned nfds)
	    WARN_UNUSED;
/* One message into M, waiting at most TIMEOUT_MS (-1: forever). 1; 0
   at the end of the connection; -1 on an error, a timeout (ETIMEDOUT)
   or a datagram that is not one whole message (EPROTO; the descriptors
   that came with it are closed). The descriptors received are M's (the
   caller closes or takes them; ipc_msg_close_fds). */
int	ipc_recv(int sock, struct ipc_msg *m, int timeout_ms) WARN_UNUSED;
/* A datagram of N bytes into M (its descriptors the caller's to set):
   0, or -1 when it is shorter than the header or the header's length
   is not the rest (the fuzzers' entry). */
int	ipc_msg_parse(struct ipc_msg *m, const void *datagram, size_t n)
	    WARN_UNUSED;
void	ipc_msg_close_fds(struct ipc_msg *m);

/* ---- a link: one thread's connection to a server process ----
 *
 * The socket is made on first use by CONNECT(ARG) (a new connected
 * socket, or -1), and again after a failure: a call that fails closes
 * it, so the next one tries a new connection (the server may have been
 * restarted). GEN counts the connections made, so that a caller can
 * tell that its peer's state (a transaction) went with the old one.
 * Not shared between threads. */
struct ipc_link {
	int		  sock;		/* -1: none */
	unsigned	  gen;
	/* No new connection while set (a transaction on this one). */
	bool		  pinned;
	int		(*connect)(void *arg);
	/* A request got no answer in time: the server may run it later
	   (BROKEN(ARG) makes sure it does not, by ending the server). */
	void		(*broken)(void *arg);
	void		 *arg;
	struct ipc_msg	 *m;		/* the last answer (heap: it is large) */
};

/* BROKEN may be NULL. */
struct ipc_link *ipc_link_new(int (*connect)(void *), void (*broken)(void *),
	    void *arg);
void	ipc_link_free(struct ipc_link **);
/* Sends a request, connecting first when needed: 0, or -1 (the link is
   closed). */
int	ipc_link_send(struct ipc_link *, uint32_t type, uint32_t id,
	    const struct ipc_out *out) WARN_UNUSED;
/* The next answer into L->m (descriptors are refused): 1, or -1 with
   errno (the end of the connection is EPIPE; the link is closed). */
int	ipc_link_recv(struct ipc_link *, int timeout_ms) WARN_UNUSED;
/* Connects L now if it is not: 0, or -1 (tried again on use). */
int	ipc_link_open(struct ipc_link *);
/* Closes L's connection (after a malformed answer). */
void	ipc_link_close(struct ipc_link *);

#endif
