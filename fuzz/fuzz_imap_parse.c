/*
 * fuzz_imap_parse.c - the IMAP command parser (src/imap/imap_parse*.c)
 * and its helpers.
 *
 * Besides the sanitizers, the harness checks invariants and aborts on a
 * broken one: every string of a result lies in the arena (NUL after it),
 * APPEND data in the input; sets are normalised and within the limits;
 * the search tree is a tree within its limits; a result written back
 * (imap_cmd_write) parses again to the same text; every error text is
 * printable and short; the peeked command agrees with the parsed one;
 * the input as a string argument (imap_put_astring) parses back to
 * itself; resolved sets agree with membership.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "imap/imap_parse.h"

static struct imap_parser *P, *P2;

#define CHECK(e)                                                           \
	do {                                                               \
		if (!(e))                                                  \
			abort();                                           \
	} while (0)

static void
check_str(const struct imap_str *s)
{
	if (s->s == NULL) {
		CHECK(s->len == 0);
		return;
	}
	CHECK(imap_parser_owns(P, s->s, s->len + 1));
	CHECK(s->s[s->len] == '\0');
}

static void
check_strs(const struct imap_str *v, size_t n, size_t max)
{
	size_t i;

	CHECK(n <= max);
	CHECK(n == 0 || imap_parser_owns(P, v, n * sizeof(*v)));
	for (i = 0; i < n; i++) {
		CHECK(v[i].s != NULL);
		check_str(&v[i]);
	}
}

static void
check_set(const struct imap_seqset *s, bool star)
{
	static struct imap_range out[IMAP_RANGES_MAX];
	static const uint32_t maxes[] = { 0, 1, 7, 1000, UINT32_MAX };
	size_t i, j, n;
	uint32_t k;

	CHECK(s->n <= IMAP_RANGES_MAX);
	if (s->saved) {
		CHECK(s->n == 0);
		return;
	}
	CHECK(s->n == 0 || imap_parser_owns(P, s->r, s->n * sizeof(*s->r)));
	for (i = 0; i < s->n; i++) {
		CHECK(s->r[i].lo != IMAP_SEQ_STAR ||
		    s->r[i].hi == IMAP_SEQ_STAR);
		CHECK(s->r[i].hi == IMAP_SEQ_STAR ||
		    s->r[i].lo <= s->r[i].hi);
		CHECK(star || s->r[i].hi != IMAP_SEQ_STAR);
	}
	for (j = 0; j < sizeof(maxes) / sizeof(maxes[0]); j++) {
		n = imap_seqset_resolve(s, maxes[j], out);
		CHECK(n <= s->n);
		for (i = 0; i < n; i++) {
			CHECK(out[i].lo >= 1 && out[i].lo <= out[i].hi &&
			    out[i].hi <= maxes[j]);
			CHECK(i == 0 || out[i].lo > out[i - 1].hi + 1);
			CHECK(imap_seqset_contains(s, out[i].lo, maxes[j]));
			CHECK(imap_seqset_contains(s, out[i].hi, maxes[j]));
			k = out[i].hi + 1;
			if (k <= maxes[j] && k != 0 &&
			    (i + 1 == n || k < out[i + 1].lo))
				CHECK(!imap_seqset_contains(s, k, maxes[j]));
		}
	}
}

static void
check_flags(const struct imap_flags *f)
{
	CHECK(f->sys < 0x20);
	check_strs(f->kw, f->nkw, IMAP_FLAGS_MAX);
}

/* Node I at DEPTH: every node reached once, counted in *SEEN. */
static void
check_node(const struct imap_search *s, uint32_t i, unsigned depth,
    size_t *seen)
{
	const struct imap_search_node *n = &s->node[i];
	size_t kids = 0;
	uint32_t c;

	/* The root is depth 0 here, its children the parser's depth 0. */
	CHECK(depth <= IMAP_DEPTH_MAX + 1);
	CHECK(n->key < IMAP_SK_COUNT);
	CHECK(++*seen <= s->nnodes);
	for (c = n->child; c != 0; c = s->node[c].next) {
		CHECK(c < s->nnodes);
		kids++;
		check_node(s, c, depth + 1, seen);
	}
	switch (n->key) {
	case IMAP_SK_AND:
		CHECK(kids >= 1);
		break;
	case IMAP_SK_OR:
		CHECK(kids == 2);
		break;
	case IMAP_SK_NOT:
		CHECK(kids == 1);
		break;
	case IMAP_SK_SEQSET:
	case IMAP_SK_UID:
		CHECK(kids == 0);
		check_set(&n->u.set, true);
		break;
	case IMAP_SK_HEADER:
		check_str(&n->u.header.name);
		check_str(&n->u.header.value);
		break;
	case IMAP_SK_KEYWORD:
	case IMAP_SK_UNKEYWORD:
	case IMAP_SK_BCC:
	case IMAP_SK_BODY:
	case IMAP_SK_CC:
	case IMAP_SK_FROM:
	case IMAP_SK_SUBJECT:
	case IMAP_SK_TEXT:
	case IMAP_SK_TO:
		CHECK(n->u.str.s != NULL);
		check_str(&n->u.str);
		break;
	case IMAP_SK_MODSEQ:
		check_str(&n->u.modseq.entry);
		break;
	case IMAP_SK_BEFORE:
	case IMAP_SK_ON:
	case IMAP_SK_SINCE:
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		CHECK(n->u.date.mon >= 1 && n->u.date.mon <= 12 &&
		    n->u.date.day >= 1 && n->u.date.day <= 31);
		break;
	default:
		CHECK(kids == 0);
		break;
	}
}

static void
check_fetch(const struct imap_fetch *f)
{
	size_t i, j;

	CHECK(f->natts >= 1 && f->natts <= IMAP_FETCH_ATTS_MAX);
	CHECK(imap_parser_owns(P, f->att, f->natts * sizeof(*f->att)));
	for (i = 0; i < f->natts; i++) {
		const struct imap_section *s = &f->att[i].section;

		CHECK(f->att[i].kind < IMAP_FETCH_KIND_COUNT);
		CHECK(s->nparts <= IMAP_PARTS_MAX);
		for (j = 0; j < s->nparts; j++)
			CHECK(s->part[j] >= 1);
		check_strs(s->field, s->nfields, IMAP_LIST_MAX);
		CHECK(!f->att[i].partial || f->att[i].length >= 1);
	}
	CHECK(!f->vanished || f->changedsince_set);
}

static void
check_cmd(const struct imap_cmd *c, const char *in, size_t len)
{
	const struct imap_cmd_info *info = imap_cmd_info(c->id);
	size_t seen = 0, i;

	CHECK(info != NULL);
	CHECK(c->tag.len > 0);
	check_str(&c->tag);
	check_str(&c->mailbox.name);
	check_str(&c->newname.name);
	CHECK(!c->mailbox.inbox || strcmp(c->mailbox.name.s, "INBOX") == 0);
	check_str(&c->user);
	check_str(&c->pass);
	check_str(&c->mech);
	check_str(&c->ir);
	check_str(&c->quota_root);
	check_strs(c->cap, c->ncaps, IMAP_LIST_MAX);
	CHECK(c->nidp <= IMAP_ID_PAIRS_MAX);
	for (i = 0; i < c->nidp; i++) {
		check_str(&c->idp[i].field);
		check_str(&c->idp[i].value);
	}
	for (i = 0; i < c->nquota; i++)
		check_str(&c->quota[i].name);
	check_set(&c->set, true);
	check_set(&c->select.known_uids, false);
	check_set(&c->select.match_seqs, false);
	check_set(&c->select.match_uids, false);
	check_str(&c->list.ref.name);
	check_strs(c->list.pattern, c->list.npatterns, IMAP_LIST_MAX);
	check_flags(&c->store.flags);
	check_flags(&c->append.flags);
	if (c->id == IMAP_CMD_APPEND)
		CHECK(c->append.data >= in &&
		    c->append.datalen <= (size_t)(in + len - c->append.data));
	if (c->id == IMAP_CMD_FETCH)
		check_fetch(&c->fetch);
	if (c->id == IMAP_CMD_SEARCH) {
		CHECK(c->search.nnodes >= 2 &&
		    c->search.nnodes <= IMAP_SEARCH_NODES_MAX);
		check_str(&c->search.charset);
		check_node(&c->search, 0, 0, &seen);
		CHECK(seen == c->search.nnodes);
	}
}

static void
check_error(const struct imap_error *e)
{
	size_t i, n;

	CHECK(e->text != NULL);
	n = strlen(e->text);
	CHECK(n > 0 && n < IMAP_ERR_MAX);
	for (i = 0; i < n; i++)
		CHECK(e->text[i] >= 0x20 && e->text[i] < 0x7f);
	if (e->tagged) {
		CHECK(e->tag.len > 0);
		check_str(&e->tag);
	}
}

/* Written back, the command parses again and writes the same text,
   unless the canonical form passes a size limit. */
static void
check_roundtrip(const struct imap_cmd *c)
{
	struct imap_cmd c2;
	struct imap_error e2;
	struct buf b1, b2;
	char *copy;

	buf_init(&b1, 8 * 1024 * 1024);
	buf_init(&b2, 8 * 1024 * 1024);
	CHECK(imap_cmd_write(&b1, c, true) == 0);
	copy = malloc(b1.len ? b1.len : 1);
	CHECK(copy != NULL);
	memcpy(copy, b1.data, b1.len);
	if (imap_parse(P2, copy, b1.len, &c2, &e2) == 0) {
		CHECK(imap_cmd_write(&b2, &c2, true) == 0);
		CHECK(b1.len == b2.len && memcmp(b1.data, b2.data,
		    b1.len) == 0);
	} else {
		CHECK(e2.code == IMAP_ERRC_LIMIT ||
		    e2.code == IMAP_ERRC_TOOBIG);
	}
	free(copy);
	buf_free(&b1);
	buf_free(&b2);
}

/* The input as the user name of a LOGIN comes back as itself. */
static void
check_put(const char *in, size_t len)
{
	struct imap_cmd c;
	struct imap_error e;
	struct buf b;
	char *copy;

	if (len > 4096 || memchr(in, '\0', len) != NULL)
		return;
	buf_init(&b, 65536);
	CHECK(buf_append(&b, "t LOGIN ", 8) == 0);
	CHECK(imap_put_astring(&b, in, len, (unsigned)len & 1u) == 0);
	CHECK(buf_append(&b, " x", 2) == 0);
	copy = malloc(b.len);
	CHECK(copy != NULL);
	memcpy(copy, b.data, b.len);
	CHECK(imap_parse(P2, copy, b.len, &c, &e) == 0);
	CHECK(c.user.len == len && memcmp(c.user.s, in, len) == 0);
	free(copy);
	buf_free(&b);
}

static void
check_helpers(const char *in, size_t len)
{
	struct imap_literal lit;
	struct imap_date d;
	const char *why;
	struct buf b;
	time_t t, t2;
	int r, zone, zone2;

	r = imap_literal_scan(in, len, 4096, &lit);
	CHECK(r == 0 || (r == 1 && lit.size <= 4096) ||
	    (r == -1 && lit.size > 4096));
	if (!imap_mailbox_name_ok(in, len, &why))
		CHECK(why != NULL);
	(void)imap_is_done(in, len);
	if (imap_date_parse(in, len, &d) == 0)
		CHECK(d.mon >= 1 && d.mon <= 12 && d.day >= 1);
	if (imap_datetime_parse(in, len, &t, &zone) == 0) {
		buf_init(&b, 256);
		if (imap_put_datetime(&b, t, zone) == 0) {
			CHECK(b.len >= 2 && imap_datetime_parse(b.data + 1,
			    b.len - 2, &t2, &zone2) == 0);
			CHECK(t2 == t && zone2 == zone);
		}
		buf_free(&b);
	}
	check_put(in, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	/* An exact-size copy, not NUL-terminated: overreads show. */
	char *in = malloc(len ? len : 1);
	struct imap_cmd c;
	struct imap_error e;
	enum imap_cmd_id id;
	bool uid;

	if (in == NULL)
		return 0;
	if (P == NULL) {
		P = imap_parser_new();
		P2 = imap_parser_new();
	}
	memcpy(in, data, len);
	if (imap_parse(P, in, len, &c, &e) == 0) {
		check_cmd(&c, in, len);
		CHECK(imap_cmd_peek(in, len, &id, &uid) == 0 && id == c.id &&
		    uid == c.uid);
		check_roundtrip(&c);
	} else {
		check_error(&e);
	}
	check_helpers(in, len);
	imap_parser_clear(P);
	free(in);
	return 0;
}
