/*
 * pop3.h - the POP3 server (RFC 1939, 2449, 2595, 5034; SPEC section 5),
 * where every good login of a customer in good standing opens the relay
 * for the client's address.
 */
#ifndef POPGATE_POP3_H
#define POPGATE_POP3_H

#include "core/conn.h"
#include "core/config.h"

struct event_base;
struct worker_pool;
struct auth_throttle;
struct pop3_server;

struct pop3_deps {
	struct event_base	*base;
	const struct config	*cfg;
	struct worker_pool	*io;	/* Maildir work */
	struct worker_pool	*cpu;	/* password checks */
	struct auth_throttle	*throttle;	/* shared with SMTP AUTH */
};

struct pop3_server *pop3_server_new(const struct pop3_deps *);
/* conn_accept_fn: ARG is the pop3_server. */
void	pop3_server_accept(struct conn *, void *arg);
/* Closes every session (nothing is deleted: no UPDATE state). */
void	pop3_server_free(struct pop3_server **);
/* A reload: sessions from now on get CFG (borrowed until the next call
   or the end); those open keep theirs. */
void	pop3_server_set_config(struct pop3_server *, const struct config *);
extern const char pop3_refuse_line[];

#endif
