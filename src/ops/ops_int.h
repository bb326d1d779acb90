/*
 * ops_int.h - what the files of src/ops/ share. Not for outside use.
 */
#ifndef POPGATE_OPS_INT_H
#define POPGATE_OPS_INT_H

#include "ops/ops.h"

/* R cleared: OPS_OK. */
void	ops_res_init(struct ops_result *r);
/* R becomes ST (FIELD: the field at fault, or NULL) with the text. */
void	ops_res_set(struct ops_result *r, enum ops_status st,
	    const char *field, const char *fmt, ...) PRINTFLIKE(4, 5);
/* A store result RC (ERR its text) into R: a refusal becomes AS (with
   FIELD when AS is OPS_INVALID), -1 OPS_FAILED; 0 leaves R. */
void	ops_res_store(struct ops_result *r, int rc, const char *err,
	    enum ops_status as, const char *field);
/* Whether the actor may see CUSTOMER's objects. */
bool	ops_sees(const struct ops_actor *a, const char *customer);
/* The actor's name for the log. */
const char *ops_who(const struct ops_actor *a);
/* The actor's precondition, in the change's transaction: true when
   there is none or it holds; false with R set. */
bool	ops_expect(struct store *s, const struct ops_actor *a,
	    struct ops_result *r);
/* The change's transaction: begun (false: R says why); ended, committed
   when R is OK (whether it committed). */
bool	ops_begin(struct store *s, struct ops_result *r);
bool	ops_finish(struct store *s, struct ops_result *r);

#endif
