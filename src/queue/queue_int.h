/*
 * queue_int.h - what the files of src/queue share. Not for outside use.
 */
#ifndef POPGATE_QUEUE_INT_H
#define POPGATE_QUEUE_INT_H

#include "queue/queue.h"

/* The queue's directories, held open: every file is reached below one
   of them, never through a path from the current directory. */
struct queue {
	int	tmp_fd, msg_fd, state_fd;
};

/* queue_state.c */
/* Applies the state file of E->id, if there is one, to E. 0, or -1
   (errno). */
int	queue_state_read(struct queue *, struct queue_env *e);

#endif
