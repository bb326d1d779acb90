/*
 * cli_dkim.c - popgate domain dkim show|rotate DOMAIN, and the key pairs
 * `domain add` makes (SPEC 10).
 *
 * A domain signs with one RSA-2048 and one Ed25519 key (RFC 8463 asks
 * for both while receivers learn Ed25519), each under its own selector
 * "pYYYYMMDD[x]r" / "...e": a new pair per rotation, so a record once
 * published never changes meaning. A rotation retires the pair in use:
 * it signs no more but stays listed (and must stay in DNS) for
 * OPS_DKIM_OVERLAP, while mail signed with it is still queued or
 * checked; the next rotation after that deletes it and says which
 * records to remove. The keys are listed and rotated by ops_dkim.c,
 * which the API calls too.
 */
#include <event2/buffer.h>

#include <time.h>

#include "cli/cli.h"
#include "core/dkim.h"
#include "ops/ops.h"
#include "web/web.h"
#include "util/xalloc.h"
#include "util/compat.h"

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
	char name[OPS_DKIM_NAME_MAX], created[32], until[32];
	struct buf rec;

	buf_init(&rec, BUF_UNLIMITED);
	dkim_record((enum dkim_alg)dkim_alg_parse(k->algorithm),
	    k->public_key, &rec);
	ops_dkim_name(k, name, sizeof(name));
	cli_fmt_time(created, sizeof(created), k->created);
	until[0] = '\0';
	if (!k->active)
		cli_fmt_time(until, sizeof(until), k->retired +
		    OPS_DKIM_OVERLAP);
	cli_table_row(t, name, k->algorithm, k->active ? "active" : "retired",
	    created, until, buf_cstr(&rec));
	buf_free(&rec);
}

static void
print_keys(struct cli *c, const struct ops_dkim_keys *ks)
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
			    k->retired + OPS_DKIM_OVERLAP);
			printf("; %s, retired: keep it in DNS until %s, then "
			    "remove it\n", k->algorithm, until);
		}
		zone_line(k, stdout);
	}
}

static int
dkim_show(struct cli *c)
{
	struct ops_dkim_keys ks = { NULL, 0 };
	struct ops_result res;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	ops_dkim_list(c->store, &cli_actor, c->pos[1], &ks, &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		return r;
	if (ks.n == 0 && !c->json)
		printf("; domain %s has no DKIM key: `popgate domain dkim "
		    "rotate %s` makes one\n", c->pos[1], c->pos[1]);
	print_keys(c, &ks);
	ops_dkim_keys_free(&ks);
	return 0;
}

static int
dkim_rotate(struct cli *c)
{
	struct ops_dkim_keys ks = { NULL, 0 };
	struct ops_result res;
	struct strlist gone;
	size_t i;
	int r;

	if ((r = cli_open(c)) != 0)
		return r;
	strlist_init(&gone);
	ops_dkim_rotate(c->store, &cli_actor, c->pos[1], time(NULL), &gone,
	    &res);
	if ((r = cli_ops_result(c, &res)) != 0)
		goto out;
	ops_dkim_list(c->store, &cli_actor, c->pos[1], &ks, &res);
	if ((r = cli_ops_result(c, &res)) != 0)
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
	ops_dkim_keys_free(&ks);
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
