/*
 * cli_privsep.h - what the daemon needs root for after it dropped root: the
 * files a reload reads (the configuration, TLS certificates and keys that
 * may be root's only) and the ports it binds (below 1024 for `smtp`).
 *
 * As root with `user` set, `popgate serve` forks a privileged helper
 * before it drops root (OpenSMTPD's parent, Postfix's master): it keeps
 * root, holds no socket of the network and no file of the data
 * directory, and answers the daemon's requests over a socket pair:
 * "open the files of the configuration" (it parses the file to learn
 * their names, and passes the descriptors of the file and of the
 * certificates, never of a key), "bind HOST:PORT" (only a listener of
 * the configuration it last read), "start popgate-keys" and "load
 * generation G" (the keys of the configuration it last read), "start
 * popgate-lookup" and "kill popgate-lookup PID" (cli_lookhold.c: it
 * starts it as the daemon's user and gives the daemon its control
 * socket, so the network process never forks or signals it).
 * It owns popgate-keys (cli_keyhold.c): it starts it as the daemon's
 * user, opens the key files as root and sends them to it on a socket
 * of its own, and gives the daemon another socket to it, for private
 * operations only; the daemon gets back the public keys' digests (the
 * KEYS_LOADED answer), never a key file. Without a privilege drop the
 * daemon does all of it itself through the same interface.
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
#include "core/keys.h"
#include "util/compat.h"
#include "util/buf.h"
#include "util/ipc.h"
#include "util/str.h"

#define PRIVSEP_HOSTS_MAX		120	/* tls_host lines (SCM_MAX_FD is 253) */
#define PRIVSEP_FDS_MAX		(2 + PRIVSEP_HOSTS_MAX)

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
	PRIVSEP_REQ_KEYS_START,	/* daemon: u32 gen (in use; 0: none) */
	PRIVSEP_KEYS_STARTED,	/* helper: u32 ok; ok: u32 pid, the
				   fields of KEYS_LOADED (n 0: gen is
				   not held) and the daemon's socket to
				   popgate-keys; not ok: text reason */
	PRIVSEP_REQ_KEYS_LOAD,	/* daemon: u32 gen, u32 keep */
	PRIVSEP_KEYS_LOADED,	/* helper: u32 ok; ok: the fields of
				   KEYS_LOADED; not ok: text reason */
	PRIVSEP_REQ_LOOKUP_START, /* daemon: u32 nfiles (1 or 2) and as
				   many descriptors: the configuration
				   files of its start and of its last
				   reload */
	PRIVSEP_LOOKUP_STARTED,	/* helper: u32 ok; ok: u32 pid and the
				   daemon's control socket to it; not
				   ok: text reason */
	PRIVSEP_REQ_LOOKUP_KILL, /* daemon: u32 pid (it did not answer) */
	PRIVSEP_LOOKUP_KILLED,	/* helper: u32 killed (0: not running) */
};

/* popgate-keys: popgate's argv[1] for it, and its two descriptors. */
#define PRIVSEP_KEYS_ARG	"__keys"
#define PRIVSEP_KEYS_OWNER_FD	3
#define PRIVSEP_KEYS_DAEMON_FD	4
#define PRIVSEP_REASON_MAX	1024	/* a refusal of the key requests */

/* popgate-lookup: popgate's argv[1] for it, and its descriptors: the
   control socket, the data directory, the configuration files of the
   daemon's start and of its last reload (/dev/null: none). */
#define PRIVSEP_LOOKUP_ARG	"__lookup"
#define PRIVSEP_LOOKUP_CTL_FD	3
#define PRIVSEP_LOOKUP_NFDS	4

/* The messages of popgate-lookup's control socket. */
enum lookup_ctl_msg {
	LOOKUP_CONNECT = 401,	/* daemon: 1 descriptor, a connection's end */
	LOOKUP_RELOAD,		/* daemon: 1 descriptor, the configuration */
	LOOKUP_READY,		/* popgate-lookup, once, first: u32 ok (the
				   store migrated), text error (empty for
				   ok); nothing after it */
};
#define LOOKUP_ERROR_MAX	512

_Static_assert(PRIVSEP_FDS_MAX <= IPC_FDS_MAX, "descriptors of a message");

/* What a reload reads, open: the configuration file and its
   certificates (no key: those go to popgate-keys alone), in the order
   of the configuration parsed from FILE_FD. */
struct privsep_files {
	int		 file_fd;
	int		 cert_fd;
	int		*host_fds;	/* each tls_host's cert */
	size_t		 nhosts;
};

void	privsep_files_close(struct privsep_files *);
/* The certificates of CFG opened into F (file_fd -1), as the caller
   may: 0, or -1 with the files that cannot be opened in ERRORS (F
   closed). */
int	privsep_open_tls(const struct config *cfg, struct privsep_files *f,
	    struct strlist *errors) WARN_UNUSED;
/* Closes every descriptor from FD up (in a child about to exec or
   serve: what it must not hold of the daemon's). */
void	privsep_close_from(int fd);

struct privsep;

/* Forks the helper (as root, before the drop). PATH is the configuration
   file, CFG what it said at start-up (whose keys the first generation
   loads). NULL with the reason in ERR. */
struct privsep *privsep_start(const char *path, const struct config *cfg,
	    char *err, size_t errsz);
/* The same requests served in the daemon itself (no privilege drop). */
struct privsep *privsep_direct(const char *path, const struct config *cfg);
void	privsep_free(struct privsep **);
/* The files of the configuration as it is now. 0, or -1 with the
   errors (the configuration's, or why the files cannot be opened) in
   ERRORS. Blocks for at most a few seconds. */
int	privsep_open_files(struct privsep *, struct privsep_files *,
	    struct strlist *errors) WARN_UNUSED;
/* A listening socket for HOST:PORT, or -1 with the reason in ERR. */
int	privsep_bind(struct privsep *, const char *host, uint16_t port, char *err,
	    size_t errsz) WARN_UNUSED;
/* (Re)starts popgate-keys: the one running is killed and reaped, the
   new one gets generation GEN again (from the key files opened when it
   was loaded; OUT->n 0 when there is none of that number). Its socket
   for private operations into *SOCK_R, its pid into *PID_R. 0, or -1
   with the reason in ERR. Blocks for up to about KEYS_WAIT_MS; safe
   from any thread (a lock serializes the requests). */
int	privsep_keys_start(struct privsep *, uint32_t gen, int *sock_r,
	    long *pid_r, struct keys_loaded *out, char *err, size_t errsz)
	    WARN_UNUSED;
/* Loads the keys of the configuration read last (by
   privsep_open_files, or at start-up) into popgate-keys as generation
   GEN, keeping KEEP; their public keys' digests into OUT. 0, or -1
   with the reason in ERR. */
int	privsep_keys_load(struct privsep *, uint32_t gen, uint32_t keep,
	    struct keys_loaded *out, char *err, size_t errsz) WARN_UNUSED;
/* (Re)starts popgate-lookup with the configuration files START_FD and
   RELOAD_FD (-1: no reload yet; both stay the caller's): the one
   running is killed and reaped. The daemon's control socket to it into
   *CTL_R, its pid into *PID_R. 0, or -1 with the reason in ERR. Safe
   from any thread. */
int	privsep_lookup_start(struct privsep *, int start_fd, int reload_fd,
	    int *ctl_r, long *pid_r, char *err, size_t errsz) WARN_UNUSED;
/* SIGKILLs popgate-lookup PID if it is the one running (it did not
   answer in time). Safe from any thread. */
void	privsep_lookup_kill(struct privsep *, long pid);
/* Whether the requests go to popgate-priv (a process of its own that
   owns popgate-lookup and popgate-keys), not to the daemon itself. */
bool	privsep_separate(const struct privsep *);
/* Whether the helper broke (it is not asked again: restart the daemon). */
bool	privsep_broken(struct privsep *);

/* ---- the owner of popgate-keys (cli_keyhold.c) ---- */

struct keyhold;

/* An owner whose popgate-keys runs as USER (NULL or "": as we do),
   which keeps the key files of the generations it holds open for a
   restart when HOLD_FILES (popgate-priv), else their names only (the
   daemon as owner: it holds no key file between two loads). */
struct keyhold *keyhold_new(const char *user, bool hold_files,
	    enum log_target log);
/* Ends popgate-keys (it sees its owner socket close) and reaps it. */
void	keyhold_free(struct keyhold **);
struct lookhold;

/* Waits until SOCK (the daemon's) is readable: 0; or until
   popgate-keys ended (its owner socket readable) or popgate-lookup of
   LH did, which is then reaped and its end logged: 1. */
int	keyhold_wait(struct keyhold *, int sock, struct lookhold *lh);
/* privsep_keys_start() where the privileges are. */
int	keyhold_start(struct keyhold *, uint32_t gen, int *sock_r,
	    long *pid_r, struct keys_loaded *out, char *err, size_t errsz)
	    WARN_UNUSED;
/* Opens CFG's key files and loads them as GEN, keeping KEEP; the files
   stay open for a restart. A popgate-keys that does not answer well is
   killed. 0, or -1 with the reason in ERR. */
int	keyhold_load(struct keyhold *, const struct config *cfg,
	    uint32_t gen, uint32_t keep, struct keys_loaded *out, char *err,
	    size_t errsz) WARN_UNUSED;

/* ---- the owner of popgate-lookup (cli_lookhold.c) ---- */

/* An owner whose popgate-lookup runs as USER (NULL or "": as we do) in
   DATA_DIR (opened at each start); PATH names the configuration in its
   messages. */
struct lookhold *lookhold_new(const char *user, const char *data_dir,
	    const char *path, enum log_target log);
/* Waits a moment for popgate-lookup to end (the daemon closed its
   control socket), kills it if it does not, and reaps it. */
void	lookhold_free(struct lookhold **);
/* privsep_lookup_start() where the privileges are. */
int	lookhold_start(struct lookhold *, int start_fd, int reload_fd,
	    int *ctl_r, long *pid_r, char *err, size_t errsz) WARN_UNUSED;
/* SIGKILL to popgate-lookup PID if it is the one running: 0, else -1. */
int	lookhold_kill(struct lookhold *, long pid);
/* A descriptor readable once popgate-lookup ended (-1: none runs), and
   the reaping then (its end logged). */
int	lookhold_fd(const struct lookhold *);
void	lookhold_reap(struct lookhold *);

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
/* PRIVSEP_REQ_KEYS_START (*KEEP 0) or PRIVSEP_REQ_KEYS_LOAD. */
int	privsep_decode_req_keys(const struct ipc_msg *m, uint32_t *gen,
	    uint32_t *keep);
/* PRIVSEP_KEYS_STARTED or PRIVSEP_KEYS_LOADED: 1 ok (the pid and the
   socket, for STARTED, into *PID_R and *FD_R, else 0 and -1), 0 a
   refusal with its reason in ERR, -1 malformed. */
int	privsep_decode_keys(const struct ipc_msg *m, long *pid_r, int *fd_r,
	    struct keys_loaded *out, char *err, size_t errsz);
/* PRIVSEP_REQ_LOOKUP_START: the files into *START_R and *RELOAD_R (-1:
   none). PRIVSEP_REQ_LOOKUP_KILL: the pid into *PID_R. 0 or -1. */
int	privsep_decode_req_lookup(const struct ipc_msg *m, int *start_r,
	    int *reload_r, long *pid_r);
/* LOOKUP_READY: 1 ok, 0 not (the reason in ERR), -1 malformed. */
int	privsep_decode_lookup_ready(const struct ipc_msg *m, char *err,
	    size_t errsz);
/* PRIVSEP_LOOKUP_STARTED: 1 ok (pid and socket into *PID_R and *FD_R),
   0 a refusal with its reason in ERR, -1 malformed. PRIVSEP_LOOKUP_
   KILLED: 1 or 0 (killed or not), -1 malformed. */
int	privsep_decode_lookup(const struct ipc_msg *m, long *pid_r,
	    int *fd_r, char *err, size_t errsz);

#endif
