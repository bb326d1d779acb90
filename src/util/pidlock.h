/*
 * pidlock.h - a lock file that says which process holds it: one daemon
 * per directory.
 *
 * The lock is flock(2) on an open file, not the file's existence: it
 * goes with the descriptor, across setuid(2), and the kernel drops it
 * when the process ends however it ends, so a file left by a daemon
 * killed with SIGKILL never stops the next one.
 */
#ifndef POPGATE_PIDLOCK_H
#define POPGATE_PIDLOCK_H

#include <sys/types.h>

#include "util/compat.h"

#define PIDLOCK_HELD	(-2)

/* Takes the lock file NAME below DIRFD (created 0640 if absent, never
   through a symlink, O_CLOEXEC) without waiting, then truncates it and
   writes our pid. Returns the descriptor, which holds the lock while it
   is open; PIDLOCK_HELD when another process holds it (*HOLDER_R: its
   pid as the file says, 0 when it says none yet), the file untouched;
   or -1 (errno). */
int	pidlock_take(int dirfd, const char *name, pid_t *holder_r)
	    WARN_UNUSED;
/* At a clean stop: empties the file (no pid is running) and closes
   *FDP, which lets the lock go. */
void	pidlock_release(int *fdp);

#endif
