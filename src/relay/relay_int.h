/*
 * relay_int.h - the backend vtable behind relay_auth.h. Not for outside
 * use.
 *
 * relay.c dispatches on the relay_store URI and checks arguments; a
 * backend (relay_local.c, relay_redis.c) only stores and fetches. Every
 * handle starts with struct relay_auth; backends set errors through
 * relay_set_error().
 */
#ifndef POPGATE_RELAY_INT_H
#define POPGATE_RELAY_INT_H

#include "relay/relay_auth.h"
#include "util/buf.h"
#include "util/compat.h"

struct relay_backend {
	const char	*name;		/* for messages: "local", "redis" */
	/* Opens URI (already matched to this backend). NULL with
	   *ERROR_R static or in EB. */
	struct relay_auth *(*open)(const char *uri, const char *data_dir,
			    struct errbuf *eb, const char **error_r);
	void	(*close)(struct relay_auth *);
	int	(*record)(struct relay_auth *, const struct relay_entry *);
	/* KEY is ADDR's table key; the backend adds the administrator
	   networks that contain ADDR. Entries are appended to *OUT. */
	int	(*lookup)(struct relay_auth *, const char *key,
		    const struct netaddr *addr, time_t now,
		    struct relay_entry **out, size_t *n);
	int	(*revoke)(struct relay_auth *, const char *key,
		    const char *customer);
	int	(*list)(struct relay_auth *, time_t now, relay_entry_cb *,
		    void *);
	int	(*expire)(struct relay_auth *, time_t now);
	/* The live entries by kind (NULL: relay.c counts a list). */
	int	(*count)(struct relay_auth *, time_t now, uint64_t *logins,
		    uint64_t *nets);
	int	(*rate_add)(struct relay_auth *, const char *customer,
		    int64_t minute, uint64_t msgs, uint64_t rcpts);
	/* Sums of the buckets FIRST..LAST (minutes) inclusive. */
	int	(*rate_get)(struct relay_auth *, const char *customer,
		    int64_t first, int64_t last, uint64_t *msgs_r,
		    uint64_t *rcpts_r);
	/* The check-and-add of relay_rate_hold() on the buckets FIRST..
	   MINUTE, adding to MINUTE: 1, 0 (over a cap), -1. */
	int	(*rate_hold)(struct relay_auth *, const char *customer,
		    int64_t minute, int64_t first, struct relay_hold *h);
	int	(*rate_release)(struct relay_auth *, const char *customer,
		    int64_t minute, uint64_t msgs, uint64_t rcpts);
	/* relay_backup() and relay_restore(); NULL when the backend has
	   no copy of its own. */
	int	(*backup)(struct relay_auth *, const char *path, time_t now,
		    uint64_t *live_r);
	int	(*restore)(struct relay_auth *, const char *path);
};

struct relay_auth {
	const struct relay_backend	*be;
	struct buf			 err;
};

/* Sets the handle's error text; returns -1. */
int	relay_set_error(struct relay_auth *, const char *fmt, ...)
	    PRINTFLIKE(2, 3);
/* Appends E to the growing array *OUT of *N. */
void	relay_entry_push(struct relay_entry **out, size_t *n,
	    const struct relay_entry *e);
/* Whether entry E (a row for KEY or a network) covers ADDR. */
bool	relay_entry_covers(const struct relay_entry *e, const char *key,
	    const struct netaddr *addr);

/* relay_redis_lua.c: the scripts, by what they do. */
enum redis_script {
	LUA_RECORD,
	LUA_SETTLE,
	LUA_REVOKE,
	LUA_RATE_ADD,
	LUA_RATE_HOLD,
	LUA_RATE_RELEASE,
	LUA_NSCRIPTS
};
extern const char *const relay_redis_scripts[LUA_NSCRIPTS];

extern const struct relay_backend relay_backend_local;
extern const struct relay_backend relay_backend_redis;

#endif
