/*
 * sandbox.h - PR_SET_NO_NEW_PRIVS and a seccomp allow-list per process.
 */
#ifndef POPGATE_SANDBOX_H
#define POPGATE_SANDBOX_H

#include "util/str.h"
#include "util/compat.h"

enum sandbox_role {
	/* `popgate serve` once started: every parser runs there (the
	   future popgate-net). */
	SANDBOX_DAEMON,
	/* The same with popgate-priv owning its children (popgate-lookup,
	   popgate-keys): threads only: no fork, exec or kill. */
	SANDBOX_NET,
	/* popgate-keys: receives, parses keys, signs, sends, logs, exits. */
	SANDBOX_KEYS,
};

/* Sets PR_SET_NO_NEW_PRIVS and loads ROLE's seccomp filter on every
   thread of the process (SECCOMP_FILTER_FLAG_TSYNC). A system call not
   on the list kills the whole process with SIGSYS (the kernel logs it
   as an audit record with the call's number: `dmesg | grep 1326`).
   Once loaded it cannot be lifted; children and exec'd images inherit
   it. 0, or -1 with EB saying why (the caller logs it and fails its
   start: a daemon that was meant to be confined does not run
   unconfined). */
int	sandbox_apply(enum sandbox_role, struct errbuf *eb) WARN_UNUSED;

#endif
