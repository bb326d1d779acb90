/*
 * sandbox.c - PR_SET_NO_NEW_PRIVS and the seccomp allow-lists of the
 * daemon (`popgate serve` once started, the future popgate-net) and of
 * popgate-keys, built with libseccomp (a well-kept library rather than
 * hand-written BPF: it knows each architecture's numbers, the x32 trap
 * and the argument layout).
 *
 * Each list is what the process was seen to call, grouped by the
 * feature that needs it: `strace -f -c` attached to every daemon of
 * the black-box suite once it had started (75 calls), the suite run
 * under the filter in log mode (POPGATE_SANDBOX_LOG below) for what
 * was missing, strace of popgate-keys from its filter on. A call the
 * suite never made stays when a path has it: bind and listen for a
 * reload without the root helper, glibc's resolver (sendmmsg) and
 * getaddrinfo, SQLite's fallocate, fchmod and the old unlink, rename,
 * mkdir and rmdir numbers that glibc still uses on x86_64, the exit
 * and abort paths, vDSO fallbacks (clock_gettime, gettimeofday).
 * Arguments are checked where that is cheap and safe: socket domains
 * and types, clone flags (no namespaces), ioctl and prctl requests,
 * the signals the daemon sends. Not on any list, so killed: ptrace
 * (outside sanitizer builds), mount, bpf, process_vm_*, personality,
 * unshare, setns, keyctl, perf_event_open, io_uring, userfaultfd,
 * kexec and module loading, the set*id family, chroot.
 *
 * The default action is SCMP_ACT_KILL_PROCESS, not SCMP_ACT_ERRNO:
 * a call off the list is either an attacker's (then the process should
 * end at the first probe, not hand back EPERM and let the exploit try
 * the next call) or a gap in the list (then a crash is found by the
 * black-box suite, which runs under the filter, and logged by the
 * kernel with the call's number, where an EPERM would look like an
 * ordinary I/O error, a 451 or a retry, and hide the gap in a rare path
 * for good). The cost, a daemon that dies, is what the process design
 * plans for: the parent restarts a dead popgate-net; until then systemd
 * restarts the daemon (contrib/systemd/popgate.service: Restart=always)
 * and the queue is durable.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>

#include "util/sandbox.h"
#include "util/compat.h"

/* A build for collecting a list: calls off it are allowed and logged by
   the kernel (dmesg: "audit: type=1326 ... syscall=N"), nothing dies.
   Never in a release. */
#ifdef POPGATE_SANDBOX_LOG
#define SANDBOX_DEFAULT SCMP_ACT_LOG
#else
#define SANDBOX_DEFAULT SCMP_ACT_KILL_PROCESS
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif

/* The daemon, with no argument checked. */
static const int daemon_calls[] = {
	/* descriptors, sockets' and files' I/O */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(lseek),
	SCMP_SYS(close), SCMP_SYS(close_range), SCMP_SYS(dup), SCMP_SYS(dup2),
	SCMP_SYS(fcntl), SCMP_SYS(pipe2),
	/* the queue, the Maildirs, the spools, SQLite (its locks are
	   fcntl, its -shm an mmap) */
	SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(statx),
	SCMP_SYS(getdents64), SCMP_SYS(mkdirat), SCMP_SYS(mkdir),
	SCMP_SYS(unlinkat), SCMP_SYS(unlink), SCMP_SYS(rmdir),
	SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(rename),
	SCMP_SYS(linkat), SCMP_SYS(link), SCMP_SYS(fsync),
	SCMP_SYS(fdatasync), SCMP_SYS(ftruncate), SCMP_SYS(fallocate),
	SCMP_SYS(fchmod), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	SCMP_SYS(access), SCMP_SYS(readlink), SCMP_SYS(utimensat),
	SCMP_SYS(flock), SCMP_SYS(getcwd), SCMP_SYS(umask),
	/* memory */
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(brk),
	/* threads (the worker pools) */
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(getppid),
	SCMP_SYS(tgkill), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres),
	SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(restart_syscall),
	/* signals; wait4 for popgate-priv at the end (and the children
	   of SANDBOX_DAEMON) */
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack), SCMP_SYS(wait4),
	/* the event loop (libevent: epoll, its wake-up eventfd or pipe;
	   no timerfd without EVENT_BASE_FLAG_PRECISE_TIMER); poll() in
	   libpq, hiredis and glibc's resolver */
	SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
	SCMP_SYS(eventfd2), SCMP_SYS(poll),
	/* sockets of every kind the filter lets socket() make: listeners
	   (bound again by a reload without the root helper), clients,
	   c-ares, libpq, hiredis, milters, webhooks, outbound SMTP, the
	   control socket, popgate-keys (SCM_RIGHTS) */
	SCMP_SYS(connect), SCMP_SYS(accept4),
	SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(getsockname),
	SCMP_SYS(getpeername), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmmsg),
	SCMP_SYS(shutdown),
	/* OpenSSL, ids, SQLite */
	SCMP_SYS(getrandom),
	/* identity and limits (logs, the fd limit, glibc) */
	SCMP_SYS(uname), SCMP_SYS(getuid), SCMP_SYS(geteuid),
	SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(prlimit64),
	SCMP_SYS(getrlimit), SCMP_SYS(getrusage), SCMP_SYS(sysinfo),
};

/* The daemon that owns its children (no root helper): a restart of
   popgate-lookup or popgate-keys, a fork and exec of /proc/self/exe and
   the new image's start-up (the dynamic loader, the sanitizer runtime;
   it then runs under this filter), the pidfd that sees it end, kill.
   Not SANDBOX_NET's: popgate-priv starts, kills and reaps
   those children. */
static const int spawn_calls[] = {
	SCMP_SYS(execve), SCMP_SYS(arch_prctl), SCMP_SYS(set_tid_address),
	SCMP_SYS(seccomp), SCMP_SYS(pidfd_open), SCMP_SYS(pidfd_send_signal),
};

/* popgate-keys: a request on its socket, a key read from a descriptor
   (PEM: OpenSSL reads its configuration file the first time), a
   signature, the answer, a log line (stderr or syslog), exit. What a
   release build was seen to call (strace from the filter's load on),
   and syslog's reconnect. */
static const int keys_calls[] = {
	/* the daemon's socket, the key's descriptor, openssl.cnf */
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(poll),
	SCMP_SYS(read), SCMP_SYS(pread64), SCMP_SYS(lseek),
	SCMP_SYS(newfstatat), SCMP_SYS(close),
	/* log lines: stderr, or syslog (glibc reconnects when the socket
	   broke) */
	SCMP_SYS(write), SCMP_SYS(sendto), SCMP_SYS(connect),
	SCMP_SYS(getpid), SCMP_SYS(clock_gettime),
	/* memory (glibc's malloc: brk, mmap for large blocks, mremap to
	   grow them), OpenSSL's locks and randomness */
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(futex), SCMP_SYS(getrandom),
	/* a poll() resumed after SIGSTOP; the end */
	SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
};

#ifdef SANDBOX_SANITIZER
/* ASan, UBSan and LeakSanitizer (the test build): reports, the leak
   check at exit (a tracer that ptraces the threads while it scans),
   the symbolizer. Never in a release build. */
static const int sanitizer_calls[] = {
	SCMP_SYS(ptrace), SCMP_SYS(wait4), SCMP_SYS(sched_yield),
	SCMP_SYS(sigaltstack), SCMP_SYS(readlink), SCMP_SYS(getdents64),
	SCMP_SYS(prlimit64), SCMP_SYS(tgkill), SCMP_SYS(gettid),
	SCMP_SYS(nanosleep), SCMP_SYS(mincore), SCMP_SYS(getdents),
	SCMP_SYS(getppid), SCMP_SYS(madvise), SCMP_SYS(mprotect),
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(write),
	/* its own stat() is the old call on x86_64 (the symbolizer's
	   file checks) */
	SCMP_SYS(stat), SCMP_SYS(lstat),
};
#endif

static int
allow_all(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0)) < 0)
			return r;
	return 0;
}

/* socket(): the three families a mail server speaks, of the three
   types it uses (no raw or packet sockets), and the routing socket. */
static int
allow_sockets(scmp_filter_ctx ctx)
{
	static const int domains[] = { AF_UNIX, AF_INET, AF_INET6 };
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET };
	const unsigned long tmask = ~(unsigned long)(SOCK_NONBLOCK |
	    SOCK_CLOEXEC);
	size_t i, j;
	int r;

	for (i = 0; i < nitems(domains); i++)
		for (j = 0; j < nitems(types); j++)
			if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(socket), 2,
			    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)domains[i]),
			    SCMP_A1(SCMP_CMP_MASKED_EQ, tmask,
			    (scmp_datum_t)types[j]))) < 0)
				return r;
	/* glibc's getaddrinfo() asks the kernel for the local addresses
	   (__check_pf) to sort several answers (RFC 6724), e.g. libpq or
	   hiredis reconnecting to a host name that has an IPv4 and an IPv6
	   address: a read-only routing socket, which only CAP_NET_ADMIN
	   could use to change anything. */
	for (j = 0; j < 2; j++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket),
		    3, SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
		    SCMP_A1(SCMP_CMP_MASKED_EQ, tmask,
		    j == 0 ? SOCK_RAW : SOCK_DGRAM),
		    SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE))) < 0)
			return r;
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
	    SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
}

/* clone() without a new namespace: threads, and with PROCESSES the
   fork of a restart of popgate-lookup or popgate-keys; without them
   only threads (CLONE_THREAD), and in a sanitizer build LeakSanitizer's
   tracer (CLONE_VM, no exec: it shares the memory it reads). clone3()
   passes its flags in memory, out of the filter's reach, so it fails
   with ENOSYS and glibc falls back to clone(). */
static int
allow_clone(scmp_filter_ctx ctx, bool processes)
{
	const scmp_datum_t ns = CLONE_NEWNS | CLONE_NEWCGROUP |
	    CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
	    CLONE_NEWNET;
	int r;

	if (processes)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, ns, 0));
	else
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, ns | CLONE_THREAD,
		    CLONE_THREAD));
#ifdef SANDBOX_SANITIZER
	if (r == 0 && !processes)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, ns | CLONE_VM | CLONE_THREAD,
		    CLONE_VM));
#endif
	if (r < 0)
		return r;
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3),
	    0);
}

/* ioctl(): what libevent (FIONREAD), glibc's stdio (TCGETS on stderr)
   and non-blocking set-up (FIONBIO) ask. */
static int
allow_ioctl(scmp_filter_ctx ctx)
{
	static const unsigned long reqs[] = { FIONREAD, FIONBIO, TCGETS,
	    FIOCLEX };
	size_t i;
	int r;

	for (i = 0; i < nitems(reqs); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl),
		    1, SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)reqs[i]))) < 0)
			return r;
	return 0;
}

/* prctl(): thread names; the dumpable bit as read by glibc; what a
   restarted popgate-keys sets. */
static int
allow_prctl(scmp_filter_ctx ctx)
{
	static const int ops[] = { PR_SET_NAME, PR_GET_NAME,
	    PR_GET_DUMPABLE,
#ifdef SANDBOX_SANITIZER
	    /* LeakSanitizer's tracer at exit */
	    PR_SET_DUMPABLE, PR_SET_PTRACER, PR_SET_PDEATHSIG,
#endif
	};
	size_t i;
	int r;

	for (i = 0; i < nitems(ops); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl),
		    1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)ops[i]))) < 0)
			return r;
	/* A restarted popgate-keys, before its own filter: not dumpable,
	   no new privileges (only ever set, never cleared). */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 2,
	    SCMP_A0(SCMP_CMP_EQ, PR_SET_DUMPABLE), SCMP_A1(SCMP_CMP_EQ, 0))) < 0)
		return r;
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 2,
	    SCMP_A0(SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS), SCMP_A1(SCMP_CMP_EQ, 1));
}

/* kill(): the daemon ends popgate-keys (SIGKILL, SIGTERM) and checks
   it is there (0); tgkill() is for its own threads. */
static int
allow_kill(scmp_filter_ctx ctx)
{
	static const int sigs[] = { 0, SIGKILL, SIGTERM };
	size_t i;
	int r;

	for (i = 0; i < nitems(sigs); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill),
		    1, SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)sigs[i]))) < 0)
			return r;
	return 0;
}

/* SANDBOX_DAEMON, or SANDBOX_NET without SPAWN: no process of its own
   (no fork, exec or kill), threads only. */
static int
rules_daemon(scmp_filter_ctx ctx, bool spawn)
{
	int r;

	if ((r = allow_all(ctx, daemon_calls, nitems(daemon_calls))) < 0 ||
	    (r = allow_sockets(ctx)) < 0 ||
	    (r = allow_clone(ctx, spawn)) < 0 ||
	    (r = allow_ioctl(ctx)) < 0 || (r = allow_prctl(ctx)) < 0)
		return r;
	if (spawn && ((r = allow_all(ctx, spawn_calls,
	    nitems(spawn_calls))) < 0 || (r = allow_kill(ctx)) < 0))
		return r;
	return 0;
}

/* popgate-keys opens files for reading only (OpenSSL's configuration);
   its sockets are syslog's: AF_UNIX datagrams, or a stream where
   /dev/log is one (glibc's openlog() tries both). */
static int
rules_keys(scmp_filter_ctx ctx)
{
	const scmp_datum_t wr = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND;
	const unsigned long tmask = ~(unsigned long)(SOCK_NONBLOCK |
	    SOCK_CLOEXEC);
	int r;

	if ((r = allow_all(ctx, keys_calls, nitems(keys_calls))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, wr, O_RDONLY))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
	    SCMP_A1(SCMP_CMP_MASKED_EQ, wr, O_RDONLY))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
	    SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, tmask, SOCK_DGRAM))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
	    SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, tmask, SOCK_STREAM))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, TCGETS))) < 0)
		return r;
	return 0;
}

int
sandbox_apply(enum sandbox_role role, struct errbuf *eb)
{
	scmp_filter_ctx ctx;
	int r;

	/* The filter needs it without CAP_SYS_ADMIN; and no exec after
	   this gains privileges (setuid bits, file capabilities). With
	   TSYNC the kernel sets it on every thread. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		errbuf_set(eb, "sandbox: PR_SET_NO_NEW_PRIVS: %s",
		    strerror(errno));
		return -1;
	}
	if ((ctx = seccomp_init(SANDBOX_DEFAULT)) == NULL) {
		errbuf_set(eb, "sandbox: seccomp_init failed");
		return -1;
	}
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r == 0)
		r = role == SANDBOX_KEYS ? rules_keys(ctx) :
		    rules_daemon(ctx, role == SANDBOX_DAEMON);
#ifdef SANDBOX_SANITIZER
	if (r == 0)
		r = allow_all(ctx, sanitizer_calls, nitems(sanitizer_calls));
	if (r == 0 && role == SANDBOX_KEYS &&
	    ((r = allow_clone(ctx, true)) == 0))
		r = allow_prctl(ctx);
#endif
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0) {
		errbuf_set(eb, "sandbox: cannot load the seccomp filter: %s",
		    strerror(-r));
		return -1;
	}
	return 0;
}
