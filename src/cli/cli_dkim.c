/*
 * cli_dkim.c - popgate domain dkim show|rotate DOMAIN, and the key pairs
 * `domain add` makes (SPEC 10).
 *
 * A domain signs with one RSA-2048 and one Ed25519 key (RFC 8463 asks
 * for both while receivers learn Ed25519), each under its own selector
 * "pYYYYMMDD[x]r" / "...e": a new pair per rotation, so a record once
 * published never changes meaning. A rotation retires the pair in use:
 * it signs no more but stays listed (and must stay in DNS) for
 * DKIM_OVERLAP, while mail signed with it is still queued or checked;
 * the next rotation after that deletes it and says which records to
 * remove.
 */
#include <event2/buffer.h>

#include <time.h>

#include "cli/cli.h"
#include "core/dkim.h"
#include "ops/ops.h"
#include "web/web.h"
#include "util/xalloc.h"
#include "util/compat.h"

#define DKIM_OVERLAP	(7 * 86400)	/* a retired pair stays in DNS */

struct keys {
	struct store_dkim_key	*v;
	size_t			 n;
};

static void
collect(const struct store_dkim_key *k, void *arg)
{
	struct keys *ks = arg;

	ks->v = xreallocarray(ks->v, ks->n + 1, sizeof(*ks->v));
	ks->v[ks->n++] = *k;
}

static void
keys_free(struct keys *ks)
{
	if (ks->v != NULL)
		explicit_bzero(ks->v, ks->n * sizeof(*ks->v));
	free(ks->v);
	ks->v = NULL;
	ks->n = 0;
}

int
cli_dkim_make(struct cli *c, const char *domain, const char **error_r)
{
	return ops_dkim_make(c->store, domain, error_r);
}

/* The record of K as a zone file line: web_dns_dkim's, so `domain dns`
   prints the same. */
static void
zone_line(const struct store_dkim_key *k, FILE *f)
{
	struct evbuffer *out = evbuffer_new();
	size_t n;

	if (out == NULL)
		PANIC("evbuffer_new");
	web_dns_dkim(out, k);
	n = evbuffer_get_length(out);
	(void)fwrite(evbuffer_pullup(out, -1), 1, n, f);
	evbuffer_free(out);
}

static const char *const cols[] = { "name", "algorithm", "state",
	"created", "remove_after", "record" };
static const bool numeric[] = { false, false, false, false, false, false };

static void
table_row(struct cli_table *t, const struct store_dkim_key *k)
{
	char name[STORE_DKIM_SEL_MAX + ADDR_DOMAIN_MAX + 16], created[32],
	    until[32];
	struct buf rec;

	buf_init(&rec, BUF_UNLIMITED);
	dkim_record((enum dkim_alg)dkim_alg_parse(k->algorithm),
	    k->public_key, &rec);
	(void)str_fmt(name, sizeof(name), "%s._domainkey.%s", k->selector,
	    k->domain);
	cli_fmt_time(created, sizeof(created), k->created);
	until[0] = '\0';
	if (!k->active)
		cli_fmt_time(until, sizeof(until), k->retired + DKIM_OVERLAP);
	cli_table_row(t, name, k->algorithm, k->active ? "active" : "retired",
	    created, until, buf_cstr(&rec));
	buf_free(&rec);
}

static void
print_keys(struct cli *c, const struct keys *ks)
{
	struct cli_table t;
	char until[32];
	size_t i;

	if (c->json) {
		cli_table_init(&t, cols, nitems(cols), numeric);
		for (i = 0; i < ks->n; i++)
			table_row(&t, &ks->v[i]);
		cli_table_print(&t, true);
		cli_table_free(&t);
		return;
	}
	for (i = 0; i < ks->n; i++) {
		const struct store_dkim_key *k = &ks->v[i];

		if (k->active)
			printf("; %s, signing\n", k->algorithm);
		else {
			cli_fmt_time(until, sizeof(until),
			    k->retired + DKIM_OVERLAP);
			printf("; %s, retired: keep it in DNS until %s, then "
			    "remove it\n", k->algorithm, until);
		}
		zone_line(k, stdout);
	}
}

static int
load(struct cli *c, struct keys *ks)
{
	struct store_domain d;
	const char *err;
	int r;

	r = store_domain_get(c->store, c->pos[1], &d, &err);
	if (r <= 0) {
		if (r == 0)
			cli_err(c, "no domain '%s'", c->pos[1]);
		return r == 0 ? EXIT_USER : cli_store_result(c, -1, err);
	}
	r = store_dkim_list(c->store, c->pos[1], false, collect, ks, &err);
	return cli_store_result(c, r, err);
}

static int
dkim_show(struct cli *c)
{
	struct keys ks = { NULL, 0 };
	int r;

	if ((r = cli_open(c)) != 0 || (r = load(c, &ks)) != 0)
		return r;
	if (ks.n == 0 && !c->json)
		printf("; domain %s has no DKIM key: `popgate domain dkim "
		    "rotate %s` makes one\n", c->pos[1], c->pos[1]);
	print_keys(c, &ks);
	keys_free(&ks);
	return 0;
}

/* Retired pairs past their overlap go; their names into GONE. */
static int
drop_expired(struct cli *c, const struct keys *ks, time_t now,
    struct strlist *gone, const char **error_r)
{
	char name[STORE_DKIM_SEL_MAX + ADDR_DOMAIN_MAX + 16];
	size_t i;
	int r;

	for (i = 0; i < ks->n; i++) {
		const struct store_dkim_key *k = &ks->v[i];

		if (k->active || k->retired + DKIM_OVERLAP > now)
			continue;
		r = store_dkim_delete(c->store, k->domain, k->selector,
		    error_r);
		if (r != 0)
			return r;
		(void)str_fmt(name, sizeof(name), "%s._domainkey.%s",
		    k->selector, k->domain);
		strlist_add(gone, name);
	}
	return 0;
}

static int
dkim_rotate(struct cli *c)
{
	struct keys ks = { NULL, 0 };
	struct strlist gone;
	time_t now = time(NULL);
	const char *err = "";
	size_t i;
	int r;

	if ((r = cli_open(c)) != 0 || (r = cli_begin(c)) != 0)
		return r;
	strlist_init(&gone);
	if ((r = load(c, &ks)) != 0) {
		store_rollback(c->store);
		goto out;
	}
	r = drop_expired(c, &ks, now, &gone, &err);
	if (r == 0)
		r = store_dkim_retire(c->store, c->pos[1], now, &err);
	if (r == 0)
		r = cli_dkim_make(c, c->pos[1], &err);
	if ((r = cli_finish(c, r, err)) != 0)
		goto out;
	keys_free(&ks);
	if ((r = load(c, &ks)) != 0)
		goto out;
	if (!c->json) {
		for (i = 0; i < gone.n; i++)
			printf("; deleted: remove %s from DNS now\n",
			    gone.v[i]);
		printf("; domain %s: new DKIM keys, signing now. Publish the "
		    "signing records; keep the retired ones until the date "
		    "given.\n", c->pos[1]);
	}
	print_keys(c, &ks);
out:
	strlist_free(&gone);
	keys_free(&ks);
	return r;
}

int
cli_dkim(struct cli *c)
{
	if (strcmp(c->pos[0], "show") == 0)
		return dkim_show(c);
	if (strcmp(c->pos[0], "rotate") == 0)
		return dkim_rotate(c);
	cli_err(c, "unknown action '%s': show or rotate", c->pos[0]);
	return EXIT_USER;
}
