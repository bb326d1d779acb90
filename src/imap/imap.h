/*
 * imap.h - the IMAP server (RFC 9051 IMAP4rev2, answering RFC 3501
 * IMAP4rev1 clients; SPEC section 9) over the same Maildirs as POP3,
 * where every good login of a customer in good standing opens the relay
 * for the client's address, exactly as a POP3 login does.
 */
#ifndef POPGATE_IMAP_H
#define POPGATE_IMAP_H

#include "core/conn.h"
#include "core/config.h"

struct event_base;
struct worker_pool;
struct auth_throttle;
struct imap_server;

struct imap_deps {
	struct event_base	*base;
	const struct config	*cfg;
	struct worker_pool	*io;	/* Maildir and index work */
	struct worker_pool	*cpu;	/* password checks */
	struct auth_throttle	*throttle;	/* shared with POP3, SMTP */
};

struct imap_server *imap_server_new(const struct imap_deps *);
/* conn_accept_fn: ARG is the imap_server. */
void	imap_server_accept(struct conn *, void *arg);
/* Says BYE to every session and closes it. */
void	imap_server_free(struct imap_server **);
/* A reload: sessions from now on get CFG (borrowed until the next call
   or the end); those open keep theirs. */
void	imap_server_set_config(struct imap_server *, const struct config *);
extern const char imap_refuse_line[];

#endif
