/*
 * smtp.h - the SMTP server: MX for the hosted domains, submission, and
 * the gated relay (SPEC sections 1-3).
 *
 * The daemon creates one smtp_server and hands it every connection of an
 * smtp, submission or submissions listener. Sessions run on the event
 * loop; store lookups, deliveries and password checks go to the worker
 * pools and resume the session from their callbacks.
 */
#ifndef POPGATE_SMTP_H
#define POPGATE_SMTP_H

#include "core/conn.h"
#include "core/config.h"

struct event_base;
struct worker_pool;
struct dns;
struct auth_throttle;
struct smtp_server;

struct smtp_deps {
	struct event_base	*base;
	const struct config	*cfg;
	struct worker_pool	*io;	/* lookups, delivery: may block */
	struct worker_pool	*cpu;	/* password verification */
	struct dns		*dns;	/* NULL: no reverse DNS */
	struct auth_throttle	*throttle;	/* failed AUTH, with POP3 */
	int			 data_fd;	/* data_dir: spool files in tmp/ */
	/* Called after a message was queued for remote delivery. */
	void			(*queued)(void *arg, const char *id);
	void			*queued_arg;
};

struct smtp_server *smtp_server_new(const struct smtp_deps *);
/* conn_accept_fn: ARG is the smtp_server. */
void	smtp_server_accept(struct conn *, void *arg);
/* Tells every session "421 4.3.2" and frees it, then the server. */
void	smtp_server_free(struct smtp_server **);
/* A reload: sessions from now on get CFG (borrowed until the next call
   or the end); those open keep theirs. */
void	smtp_server_set_config(struct smtp_server *, const struct config *);
/* The line sent to clients refused by a connection cap. */
extern const char smtp_refuse_line[];

#endif
