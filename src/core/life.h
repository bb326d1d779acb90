/*
 * life.h - the life of a protocol session on its connection: work
 * deferred to the loop, closing once the last reply has left, and being
 * freed only from the loop, never inside its own callbacks (STYLE.md 6,
 * like Redis's freeClientAsync()).
 *
 * The session embeds a struct life and gives it two callbacks: RESUME
 * (go on reading input) and DESTROY (free everything, the struct life
 * included, through life_fini()).
 */
#ifndef POPGATE_LIFE_H
#define POPGATE_LIFE_H

#include <stdbool.h>

struct event_base;
struct conn;

struct life {
	struct conn	*conn;		/* borrowed */
	struct event	*ev;
	bool		 dying;		/* DESTROY is due */
	bool		 closing;	/* waiting for the output to leave */
	unsigned	 lingers;
	void		(*resume)(void *);
	void		(*destroy)(void *);
	void		*arg;
};

void	life_init(struct life *, struct event_base *, struct conn *,
	    void (*resume)(void *), void (*destroy)(void *), void *arg);
void	life_fini(struct life *);
/* RESUME from the loop, soon. */
void	life_wake(struct life *);
/* DESTROY from the loop, soon; nothing more is read or written. */
void	life_kill(struct life *);
/* Stops reading; DESTROY once everything written has left (TLS layer
   included), or after five seconds of a client that does not read. */
void	life_close(struct life *);
/* For the session's write callback: true when the life handled it
   (dying or closing), false when the session should go on. */
bool	life_written(struct life *);

#endif
