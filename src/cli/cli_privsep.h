/*
 * cli_privsep.h - what the daemon needs root for after it dropped root: the
 * files a reload reads (the configuration, TLS certificates and keys that
 * may be root's only) and the ports it binds (below 1024 for `smtp`).
 *
 * As root with `user` set, `popgate serve` forks a privileged helper
 * before it drops root (OpenSMTPD's parent, Postfix's master): it keeps
 * root, holds no socket of the network and no file of the data
 * directory, and answers two requests of the daemon over a socket pair:
 * "open the files of the configuration" (it parses the file to learn
 * their names, and passes the descriptors) and "bind HOST:PORT" (only a
 * listener of the configuration it last read). Without a privilege drop
 * the daemon does both itself through the same interface.
 *
 * The messages are util/ipc.h's (SOCK_SEQPACKET, one per datagram,
 * fields checked whole): a datagram of another length than its header
 * says, a field out of bounds, bytes left over or descriptors other
 * than the type carries are a protocol error, and the receiver drops
 * the connection (the helper exits; the daemon refuses the reload and
 * stops using the helper).
 */
#ifndef POPGATE_CLI_PRIVSEP_H
#define POPGATE_CLI_PRIVSEP_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "util/compat.h"
#include "util/buf.h"
#include "util/ipc.h"
#include "util/str.h"

#define PRIVSEP_HOSTS_MAX		120	/* tls_host lines (SCM_MAX_FD is 253) */
#define PRIVSEP_FDS_MAX		(3 + 2 * PRIVSEP_HOSTS_MAX)

enum privsep_type {
	PRIVSEP_REQ_FILES = 1,	/* daemon: no payload */
	PRIVSEP_FILES,		/* helper: u32 ok; ok: u32 nhosts and the
				   descriptors of the file, tls_cert,
				   tls_key and each tls_host's cert and
				   key; not ok: a text of the errors, one
				   per line */
	PRIVSEP_REQ_BIND,		/* daemon: u32 port, text host */
	PRIVSEP_BOUND,		/* helper: u32 errno (0: the socket comes
				   with it), text error (empty for 0) */
};

_Static_assert(PRIVSEP_FDS_MAX <= IPC_FDS_MAX, "descriptors of a message");

/* What a reload reads, open: the configuration file and its TLS files,
   in the order of the configuration parsed from FILE_FD. */
struct privsep_files {
	int		 file_fd;
	int		 cert_fd, key_fd;
	int		*host_fds;	/* 2 per tls_host: cert, key */
	size_t		 nhosts;
};

void	privsep_files_close(struct privsep_files *);
/* The TLS files of CFG opened into F (file_fd -1), as the caller may:
   0, or -1 with the files that cannot be opened in ERRORS (F closed). */
int	privsep_open_tls(const struct config *cfg, struct privsep_files *f,
	    struct strlist *errors) WARN_UNUSED;
/* Closes every descriptor from FD up (in a child about to exec or
   serve: what it must not hold of the daemon's). */
void	privsep_close_from(int fd);

struct privsep;

/* Forks the helper (as root, before the drop). PATH is the configuration
   file, CFG what it said at start-up. NULL with the reason in ERR. */
struct privsep *privsep_start(const char *path, const struct config *cfg,
	    char *err, size_t errsz);
/* The same requests served in the daemon itself (no privilege drop). */
struct privsep *privsep_direct(const char *path);
void	privsep_free(struct privsep **);
/* The files of the configuration as it is now. 0, or -1 with the
   errors (the configuration's, or why the files cannot be opened) in
   ERRORS. Blocks for at most a few seconds. */
int	privsep_open_files(struct privsep *, struct privsep_files *,
	    struct strlist *errors) WARN_UNUSED;
/* A listening socket for HOST:PORT, or -1 with the reason in ERR. */
int	privsep_bind(struct privsep *, const char *host, uint16_t port, char *err,
	    size_t errsz) WARN_UNUSED;

/* The decoders (and the fuzzer's targets): 0 when M is a well-formed
   message of its type, its fields into the out-parameters (descriptors
   move there from M); -1 when it is not (M keeps its descriptors).
   privsep_decode_files returns 1 for the helper's refusal, its errors
   added to ERRORS. */
int	privsep_decode_files(const struct ipc_msg *m, struct privsep_files *out,
	    struct strlist *errors);
int	privsep_decode_req_bind(const struct ipc_msg *m, char *host,
	    size_t hostsz, uint16_t *port);
int	privsep_decode_bound(const struct ipc_msg *m, int *fd_r, char *err,
	    size_t errsz);

#endif
