/*
 * cli_control.h - the daemon's control socket (daemon and CLI sides):
 * "control" in the data directory each side holds open (DATA_FD).
 */
#ifndef POPGATE_CLI_CONTROL_H
#define POPGATE_CLI_CONTROL_H

#include <stddef.h>

#include "delivery/dlv.h"
#include "ops/ops.h"
#include "util/buf.h"
#include "util/str.h"

struct event_base;
struct control;

/* Daemon: listens on DATA_DIR/control (DATA_FD must outlive it). NULL
   with *ERROR_R. */
struct control *control_new(struct event_base *, struct qmgr *,
	    int data_fd, const char **error_r);
void	control_free(struct control **);
/* "reload": FN(ARG, REPORT) reloads, returns 0 when the new
   configuration was taken, -1 when it was refused, with the lines to
   tell the caller (errors, or the keys that wait for a restart). */
typedef int control_reload_fn(void *arg, struct strlist *report);
void	control_set_reload(struct control *, control_reload_fn *, void *arg);
/* The queue manager's changes (flush, delete) as the socket makes them,
   for the API in the daemon (http_deps.qmgr): on the loop only. Lives
   as long as the control. */
const struct ops_qmgr *control_qmgr(struct control *);
/* How long the CLI waits for an answer, in seconds. */
#define CONTROL_WAIT	30
/* CLI: sends REQUEST, puts the answer line in ANSWER_R. 0, -1 when no
   daemon listens, -2 when one was reached but did not answer within
   CONTROL_WAIT (it may still act on the request). */
int	control_call(int data_fd, const char *request, char *answer_r,
	    size_t answersz);
/* The same for a request answered by everything up to the end of the
   connection ("metrics"): the whole answer appended to ANSWER (its max
   bounds it). 0, -1 no daemon, -2 no complete answer (the daemon did
   not answer within CONTROL_WAIT, or ANSWER's max was reached). */
int	control_call_all(int data_fd, const char *request,
	    struct buf *answer);

#endif
