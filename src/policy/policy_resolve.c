/*
 * policy_resolve.c - recipient resolution: hosted mailboxes, aliases
 * (expanded recursively, loop-safe, depth and fan-out bounded) and the
 * postmaster of RFC 5321 section 4.5.1.
 *
 * Only the domain as parsed decides whether an address is hosted: a
 * source route, '%', '!' or quotes never turn a remote address into a
 * local one (the parser keeps them in the local part).
 */
#include <errno.h>
#include <stdatomic.h>

#include "policy/policy.h"
#include "maildir/maildir.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/compat.h"

/* Every worker thread would say the same at start-up: once is enough. */
static atomic_bool store_warned, relay_warned;

static void
warn_once(atomic_bool *warned, const char *what, const char *err)
{
	if (!atomic_exchange(warned, true))
		log_warn("workers: %s unavailable at start-up (tried again on "
		    "use): %s", what, err);
}

/* postgresql://, redis://: a server, not a file of ours. */
static bool
is_network(const char *uri)
{
	return strstr(uri, "://") != NULL;
}

void *
backends_thread_init(void *arg)
{
	const struct policy_env *env = arg;
	struct backends *b = xcalloc(1, sizeof(*b));
	const char *err = "";

	b->env = env;
	b->cfg = atomic_load(&env->cfg);
	b->logins = env->logins;
	b->data_fd = env->data_fd;
	b->queue = env->queue;
	if (env->lookup_connect != NULL) {
		/* The store and the relay table are popgate-lookup's: one
		   connection for this thread, made now like the files below
		   (again on use after a failure). */
		b->link = ipc_link_new(env->lookup_connect, env->lookup_broken,
		    env->lookup_arg);
		if (ipc_link_open(b->link) == -1)
			warn_once(&store_warned, "popgate-lookup",
			    strerror(errno));
		return b;
	}
	if (env->open_lazily)
		return b;
	/* Local files are opened now, not on first use: the daemon's
	   descriptors are all taken at start-up, and a store it cannot open
	   shows at once (a first read opens the WAL files too). Network
	   stores connect on first use: every worker thread would hold a
	   server connection it may seldom need. A failure is retried on
	   use. */
	if (!is_network(b->cfg->store) && (backends_store(b, &err) == NULL ||
	    store_schema_version(b->store, &err) == -1))
		warn_once(&store_warned, "account store", err);
	if (!is_network(b->cfg->relay_store)) {
		uint64_t m, r;

		if (backends_relay(b, &err) == NULL ||
		    relay_rate_get(b->relay, "", 0, &m, &r, &err) == -1)
			warn_once(&relay_warned, "relay table", err);
	}
	return b;
}

void
backends_refresh(void *p)
{
	struct backends *b = p;

	b->cfg = atomic_load(&b->env->cfg);
}

void
policy_env_set_config(struct policy_env *env, const struct config *cfg)
{
	atomic_store(&env->cfg, cfg);
}

void
backends_thread_fini(void *p)
{
	struct backends *b = p;

	if (b == NULL)
		return;
	store_close(&b->store);
	relay_close(&b->relay);
	ipc_link_free(&b->link);
	free(b);
}

struct store *
backends_store(struct backends *b, const char **error_r)
{
	char dir[64];

	if (b->store != NULL)
		return b->store;
	if (b->link != NULL)
		return b->store = store_open_remote(b->link);
	if (fs_fd_path(b->data_fd, dir, sizeof(dir)) == -1) {
		*error_r = "no data directory";
		return NULL;
	}
	b->store = store_open(b->cfg->store, dir, &b->open_error, error_r);
	return b->store;
}

struct relay_auth *
backends_relay(struct backends *b, const char **error_r)
{
	char dir[64];

	if (b->relay != NULL)
		return b->relay;
	if (b->link != NULL)
		return b->relay = relay_open_remote(b->link);
	if (fs_fd_path(b->data_fd, dir, sizeof(dir)) == -1) {
		*error_r = "no data directory";
		return NULL;
	}
	b->relay = relay_open(b->cfg->relay_store, dir, &b->open_error,
	    error_r);
	return b->relay;
}

void
resolution_free(struct resolution *r)
{
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

struct expand {
	struct backends		*b;
	struct store		*s;
	struct resolution	*r;
	struct strlist		 seen;
	const char		*error;
	bool			 temp;
};

static bool
has_target(const struct resolution *r, const char *address)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].address, address) == 0)
			return true;
	return false;
}

static struct target *
add_target(struct resolution *r, enum target_kind kind, const char *address)
{
	struct target *t;

	if (r->n >= POLICY_MAX_TARGETS || has_target(r, address))
		return NULL;
	r->v = xreallocarray(r->v, r->n + 1, sizeof(*r->v));
	t = &r->v[r->n++];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	(void)str_copy(t->address, address, sizeof(t->address));
	return t;
}

/* The postmaster of a hosted domain without a mailbox or alias of that
   name: the configured address, or the system Maildir. */
static void
add_postmaster(struct expand *e, int depth);

static void
add_mailbox(struct expand *e, const struct store_mailbox *m)
{
	struct target *t = add_target(e->r, TARGET_MAILBOX, m->address);

	if (t == NULL)
		return;
	t->quota = m->quota;
	(void)str_copy(t->customer, m->customer, sizeof(t->customer));
	if (maildir_path(config_rel(e->b->cfg, e->b->cfg->mail_dir),
	    m->domain, m->local, t->path, sizeof(t->path)) == -1)
		e->r->n--;	/* cannot happen for a stored address */
}

static void
temp_failure(struct expand *e, const char *err)
{
	e->temp = true;
	e->error = err;
}

/* The mailbox of C, when there is one (an alias keeping a copy). */
static void
add_own_mailbox(struct expand *e, const struct addr_canon *c)
{
	struct store_mailbox m;
	const char *err;
	int r;

	r = store_mailbox_get_addr(e->s, c, &m, &err);
	if (r == 1)
		add_mailbox(e, &m);
	else if (r == -1)
		temp_failure(e, err);
}

static void expand(struct expand *, const struct addr_canon *, int depth);

/* An alias target, as stored: canonical text, parsed once here. */
static void
expand_target(struct expand *e, const char *target, int depth)
{
	struct addr_canon c;
	const char *err;

	if (addr_canon_parse(target, strlen(target), 0, &c, &err) == -1) {
		/* Not written by popgate (the store refuses it): forwarded
		   as it stands, so a bounce tells the sender. */
		log_warn("alias target <%s> unparseable: %s", target, err);
		(void)add_target(e->r, TARGET_REMOTE, target);
		return;
	}
	expand(e, &c, depth);
}

static void
expand_hosted(struct expand *e, const struct addr_canon *c, int depth)
{
	struct store_mailbox m;
	struct strlist targets;
	const char *err;
	size_t i;
	int r;

	strlist_init(&targets);
	r = store_alias_targets_addr(e->s, c, &targets, &err);
	if (r == -1) {
		temp_failure(e, err);
		return;
	}
	if (r == 1) {
		for (i = 0; i < targets.n && !e->temp; i++) {
			if (strcmp(targets.v[i], c->text) != 0)
				expand_target(e, targets.v[i], depth + 1);
			else	/* the alias keeps a copy in its own mailbox */
				add_own_mailbox(e, c);
		}
		strlist_free(&targets);
		return;
	}
	strlist_free(&targets);
	r = store_mailbox_get_addr(e->s, c, &m, &err);
	if (r == 1)
		add_mailbox(e, &m);
	else if (r == -1)
		temp_failure(e, err);
	else if (strcmp(c->a.local, "postmaster") == 0)
		add_postmaster(e, depth);
}

static void
expand(struct expand *e, const struct addr_canon *c, int depth)
{
	struct store_domain d;
	const char *err;
	int r;

	if (e->temp)
		return;
	if (depth > POLICY_MAX_DEPTH) {
		log_warn("alias expansion too deep at %s: loop?", c->text);
		return;
	}
	if (strlist_has(&e->seen, c->text, false))
		return;		/* a loop, or reached twice: once is enough */
	strlist_add(&e->seen, c->text);
	r = store_domain_find(e->s, c->a.domain, &d, &err);
	if (r == -1) {
		temp_failure(e, err);
		return;
	}
	if (r == 0) {
		(void)add_target(e->r, TARGET_REMOTE, c->text);
		return;
	}
	expand_hosted(e, c, depth);
}

static void
add_postmaster(struct expand *e, int depth)
{
	const char *pm = e->b->cfg->postmaster;
	struct target *t;

	if (*pm != '\0' && !strlist_has(&e->seen, pm, false)) {
		expand_target(e, pm, depth + 1);
		return;
	}
	t = add_target(e->r, TARGET_SYSTEM, "postmaster");
	if (t != NULL)
		(void)str_copy(t->path, "postmaster", sizeof(t->path));
}

int
policy_resolve(struct backends *b, const struct addr_canon *address,
    struct resolution *r, const char **error_r)
{
	struct expand e;
	struct store_domain d;
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&e, 0, sizeof(e));
	e.b = b;
	e.r = r;
	e.s = backends_store(b, error_r);
	if (e.s == NULL)
		return -1;
	strlist_init(&e.seen);
	if (address == NULL) {
		r->hosted = true;
		add_postmaster(&e, 0);
		goto done;
	}
	rc = store_domain_find(e.s, address->a.domain, &d, error_r);
	if (rc != 1) {
		strlist_free(&e.seen);
		return rc;
	}
	r->hosted = true;
	(void)str_copy(r->customer, d.customer, sizeof(r->customer));
	expand(&e, address, 0);
done:
	strlist_free(&e.seen);
	if (e.temp) {
		*error_r = e.error;
		resolution_free(r);
		return -1;
	}
	return r->n > 0 ? 1 : 0;
}
