/*
 * imap_parse.c - the IMAP command parser (imap_parse.h): the parser and
 * its arena, the error texts, the command table and the arguments of
 * the simple commands. The larger grammars are in imap_parse_fetch.c
 * (FETCH, STORE), imap_parse_search.c (SEARCH) and imap_parse_mbox.c
 * (SELECT, CREATE, LIST, LSUB, STATUS, APPEND); the lexer is
 * imap_parse_lex.c. RFC 9051 9 (and 3501 9), 2971 (ID), 4959 (SASL-IR),
 * 4978 (COMPRESS), 5161 (ENABLE), 9208 (QUOTA).
 *
 * Guarantees: no read past the given length; work and memory linear in
 * the input, each list and the nesting bounded (the IMAP_*_MAX
 * constants); every failure is one client-presentable text.
 */
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <strings.h>

#include "imap/imap_parse_int.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "util/compat.h"

/* ---- the arena ---- */

struct imap_chunk {
	struct imap_chunk *next;
	size_t		 size, used;
	alignas(max_align_t) unsigned char data[];
};

#define CHUNK_MIN	2048
#define CHUNK_GROW	65536
/* Far above what the limits let a command use (strings are at most the
   input, the rest is bounded by counts): a guard, not a limit. */
#define ARENA_MAX	(4 * (size_t)IMAP_CMD_MAX + 16 * 1024 * 1024)

void *
imap_arena_alloc(struct imap_parser *p, size_t n)
{
	struct imap_chunk *c = p->chunks;
	size_t want, a = alignof(max_align_t);

	n = n == 0 ? a : (n + a - 1) & ~(a - 1);
	if (c != NULL && c->size - c->used >= n) {
		c->used += n;
		return c->data + c->used - n;
	}
	want = c == NULL ? CHUNK_MIN : c->size * 2;
	if (want > CHUNK_GROW)
		want = CHUNK_GROW;
	if (want < n)
		want = n;
	if (n > ARENA_MAX || p->arena_size + want > ARENA_MAX) {
		(void)imap_perr(p, IMAP_ERRC_LIMIT, "command too complex");
		return NULL;
	}
	if ((c = malloc(sizeof(*c) + want)) == NULL) {
		(void)imap_perr(p, IMAP_ERRC_SERVERBUG, "out of memory");
		return NULL;
	}
	c->size = want;
	c->used = n;
	c->next = p->chunks;
	p->chunks = c;
	p->arena_size += want;
	return c->data;
}

char *
imap_arena_strdup(struct imap_parser *p, const char *s, size_t len)
{
	char *d;

	if (len == SIZE_MAX || (d = imap_arena_alloc(p, len + 1)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

void *
imap_vec_push(struct imap_parser *p, struct imap_vec *v, size_t elem,
    size_t max, const char *what)
{
	void *nv;
	size_t ncap;

	if (v->n >= max) {
		(void)imap_perr_limit(p, what, max);
		return NULL;
	}
	if (v->n == v->cap) {
		ncap = v->cap == 0 ? 4 : v->cap * 2;
		if (ncap > max)
			ncap = max;
		if ((nv = imap_arena_alloc(p, ncap * elem)) == NULL)
			return NULL;
		if (v->n > 0)
			memcpy(nv, v->v, v->n * elem);
		v->v = nv;
		v->cap = ncap;
	}
	return (char *)v->v + elem * v->n++;
}

struct imap_parser *
imap_parser_new(void)
{
	return xcalloc(1, sizeof(struct imap_parser));
}

void
imap_parser_clear(struct imap_parser *p)
{
	struct imap_chunk *c, *next;

	for (c = p->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	p->chunks = NULL;
	p->arena_size = 0;
}

void
imap_parser_free(struct imap_parser **pp)
{
	if (*pp == NULL)
		return;
	imap_parser_clear(*pp);
	free(*pp);
	*pp = NULL;
}

bool
imap_parser_owns(const struct imap_parser *p, const void *ptr, size_t len)
{
	const struct imap_chunk *c;
	const unsigned char *u = ptr;

	for (c = p->chunks; c != NULL; c = c->next)
		if (u >= c->data && u <= c->data + c->used &&
		    len <= (size_t)(c->data + c->used - u))
			return true;
	return false;
}

/* ---- errors ---- */

void
imap_perr_set(struct imap_parser *p, enum imap_err_code code,
    const char *text)
{
	if (p->failed)
		return;
	p->failed = true;
	p->err->text = text;
	p->err->code = code;
	p->err->offset = p->pos;
}

void
imap_perr_word_set(struct imap_parser *p, const char *fmt, const char *word,
    size_t len)
{
	const char *mark = strstr(fmt, "%s");
	char vis[48];
	size_t before;

	if (p->failed)
		return;
	(void)str_vis(vis, sizeof(vis), word, len);
	/* A substitution by hand: FMT is not a literal, so no printf. */
	before = mark != NULL ? (size_t)(mark - fmt) : strlen(fmt);
	if (str_fmt(p->err->buf, sizeof(p->err->buf), "%.*s%s%s",
	    (int)before, fmt, mark != NULL ? vis : "",
	    mark != NULL ? mark + 2 : "") == -1)
		(void)str_copy(p->err->buf, "syntax error",
		    sizeof(p->err->buf));
	imap_perr_set(p, IMAP_ERRC_NONE, p->err->buf);
	/* The place of the offending word, when it is the input's. */
	if ((uintptr_t)word >= (uintptr_t)p->in &&
	    (uintptr_t)word < (uintptr_t)p->in + p->len)
		p->err->offset = (size_t)((uintptr_t)word - (uintptr_t)p->in);
}

void
imap_perr_limit_set(struct imap_parser *p, const char *what, size_t limit)
{
	if (p->failed)
		return;
	(void)snprintf(p->err->buf, sizeof(p->err->buf),
	    "too many %s (limit %zu)", what, limit);
	imap_perr_set(p, IMAP_ERRC_LIMIT, p->err->buf);
}

/* ---- the command table ---- */

/* The argument grammars, in the order a command takes them. Each but the
   optional ones (OPT_) follows one SP, consumed here. */
enum argk {
	A_END,
	A_MAILBOX,
	A_NEWNAME,
	A_SEQSET,
	A_USER,
	A_PASS,
	A_AUTH,
	A_ENABLE,
	A_ID,
	A_COMPRESS,
	A_QROOT,
	A_SETQUOTA,
	A_OPT_SELECT,
	A_OPT_CREATE,
	A_LIST,
	A_LSUB,
	A_STATUS,
	A_APPEND,
	A_SEARCH,
	A_FETCH,
	A_STORE,
};

struct cmd_def {
	struct imap_cmd_info info;
	enum argk	 args[3];
	enum argk	 uid_args[3];	/* after UID, when not as ARGS */
};

#define S_ANY	IMAP_STATE_ANY
#define S_NA	IMAP_STATE_NOTAUTH
#define S_AU	(IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define S_AO	IMAP_STATE_AUTH
#define S_SE	IMAP_STATE_SELECTED
#define PLAIN	true, false
#define BOTH	true, true

/* A row: name, id, states, plain/UID, the argument grammar. */
#define CMD(nm, id, st, fl, ...)                                           \
	{ { nm, id, st, fl }, { __VA_ARGS__ }, { A_END } }

/* RFC 9051 6.1-6.4 says where each command is valid; the session's
   dispatcher checks it. ENABLE only before SELECT (RFC 5161 3.1). */
static const struct cmd_def cmd_defs[] = {
	CMD("CAPABILITY", IMAP_CMD_CAPABILITY, S_ANY, PLAIN, A_END),
	CMD("NOOP", IMAP_CMD_NOOP, S_ANY, PLAIN, A_END),
	CMD("LOGOUT", IMAP_CMD_LOGOUT, S_ANY, PLAIN, A_END),
	CMD("ID", IMAP_CMD_ID, S_ANY, PLAIN, A_ID),
	CMD("STARTTLS", IMAP_CMD_STARTTLS, S_NA, PLAIN, A_END),
	CMD("AUTHENTICATE", IMAP_CMD_AUTHENTICATE, S_NA, PLAIN, A_AUTH),
	CMD("LOGIN", IMAP_CMD_LOGIN, S_NA, PLAIN, A_USER, A_PASS),
	CMD("ENABLE", IMAP_CMD_ENABLE, S_AO, PLAIN, A_ENABLE),
	CMD("SELECT", IMAP_CMD_SELECT, S_AU, PLAIN, A_MAILBOX, A_OPT_SELECT),
	CMD("EXAMINE", IMAP_CMD_EXAMINE, S_AU, PLAIN, A_MAILBOX, A_OPT_SELECT),
	CMD("CREATE", IMAP_CMD_CREATE, S_AU, PLAIN, A_MAILBOX, A_OPT_CREATE),
	CMD("DELETE", IMAP_CMD_DELETE, S_AU, PLAIN, A_MAILBOX),
	CMD("RENAME", IMAP_CMD_RENAME, S_AU, PLAIN, A_MAILBOX, A_NEWNAME),
	CMD("SUBSCRIBE", IMAP_CMD_SUBSCRIBE, S_AU, PLAIN, A_MAILBOX),
	CMD("UNSUBSCRIBE", IMAP_CMD_UNSUBSCRIBE, S_AU, PLAIN, A_MAILBOX),
	CMD("LIST", IMAP_CMD_LIST, S_AU, PLAIN, A_LIST),
	CMD("LSUB", IMAP_CMD_LSUB, S_AU, PLAIN, A_LSUB),
	CMD("NAMESPACE", IMAP_CMD_NAMESPACE, S_AU, PLAIN, A_END),
	CMD("STATUS", IMAP_CMD_STATUS, S_AU, PLAIN, A_MAILBOX, A_STATUS),
	CMD("APPEND", IMAP_CMD_APPEND, S_AU, PLAIN, A_MAILBOX, A_APPEND),
	CMD("IDLE", IMAP_CMD_IDLE, S_AU, PLAIN, A_END),
	CMD("GETQUOTA", IMAP_CMD_GETQUOTA, S_AU, PLAIN, A_QROOT),
	CMD("GETQUOTAROOT", IMAP_CMD_GETQUOTAROOT, S_AU, PLAIN, A_MAILBOX),
	CMD("SETQUOTA", IMAP_CMD_SETQUOTA, S_AU, PLAIN, A_QROOT, A_SETQUOTA),
	CMD("COMPRESS", IMAP_CMD_COMPRESS, S_AU, PLAIN, A_COMPRESS),
	CMD("CHECK", IMAP_CMD_CHECK, S_SE, PLAIN, A_END),
	CMD("CLOSE", IMAP_CMD_CLOSE, S_SE, PLAIN, A_END),
	CMD("UNSELECT", IMAP_CMD_UNSELECT, S_SE, PLAIN, A_END),
	/* UID EXPUNGE (RFC 4315, in RFC 9051) takes a set. */
	{ { "EXPUNGE", IMAP_CMD_EXPUNGE, S_SE, BOTH }, { A_END },
	    { A_SEQSET } },
	CMD("SEARCH", IMAP_CMD_SEARCH, S_SE, BOTH, A_SEARCH),
	CMD("FETCH", IMAP_CMD_FETCH, S_SE, BOTH, A_SEQSET, A_FETCH),
	CMD("STORE", IMAP_CMD_STORE, S_SE, BOTH, A_SEQSET, A_STORE),
	CMD("COPY", IMAP_CMD_COPY, S_SE, BOTH, A_SEQSET, A_MAILBOX),
	CMD("MOVE", IMAP_CMD_MOVE, S_SE, BOTH, A_SEQSET, A_MAILBOX),
};

const struct imap_cmd_info *
imap_cmd_info(enum imap_cmd_id id)
{
	size_t i;

	for (i = 0; i < nitems(cmd_defs); i++)
		if (cmd_defs[i].info.id == id)
			return &cmd_defs[i].info;
	return NULL;
}

/* The row for NAME, with or without UID; NULL when there is none. */
static const struct cmd_def *
cmd_lookup(const struct imap_span *name, bool uid)
{
	size_t i;

	for (i = 0; i < nitems(cmd_defs); i++)
		if (imap_span_is(name, cmd_defs[i].info.name) &&
		    (uid ? cmd_defs[i].info.uid : cmd_defs[i].info.plain))
			return &cmd_defs[i];
	return NULL;
}

/* ---- the simple arguments ---- */

/* AUTHENTICATE mech [SP initial-resp]; initial-resp = base64 / "=". */
static int
args_auth(struct imap_parser *p)
{
	struct imap_span sp;
	size_t i;

	if (imap_lex_atom(p, NULL, &sp, "SASL mechanism") == -1)
		return -1;
	if ((p->cmd.mech.s = imap_arena_strdup(p, sp.s, sp.len)) == NULL)
		return -1;
	p->cmd.mech.len = sp.len;
	if (!imap_accept(p, ' '))
		return 0;
	if (imap_lex_atom(p, NULL, &sp, "initial response") == -1)
		return -1;
	for (i = 0; i < sp.len; i++)
		if (!(sp.s[i] >= 'A' && sp.s[i] <= 'Z') &&
		    !(sp.s[i] >= 'a' && sp.s[i] <= 'z') &&
		    !(sp.s[i] >= '0' && sp.s[i] <= '9') && sp.s[i] != '+' &&
		    sp.s[i] != '/' && sp.s[i] != '=')
			return imap_perr(p, IMAP_ERRC_NONE,
			    "initial response is not base64");
	if ((p->cmd.ir.s = imap_arena_strdup(p, sp.s, sp.len)) == NULL)
		return -1;
	p->cmd.ir.len = sp.len;
	return 0;
}

/* ENABLE 1*(SP capability) */
static int
args_enable(struct imap_parser *p)
{
	struct imap_vec v = { 0 };
	struct imap_str *c;
	struct imap_span sp;

	do {
		if (imap_lex_atom(p, NULL, &sp, "capability name") == -1 ||
		    (c = imap_vec_push(p, &v, sizeof(*c), IMAP_LIST_MAX,
		    "capabilities")) == NULL ||
		    (c->s = imap_arena_strdup(p, sp.s, sp.len)) == NULL)
			return -1;
		c->len = sp.len;
	} while (imap_accept(p, ' '));
	p->cmd.cap = v.v;
	p->cmd.ncaps = v.n;
	return 0;
}

/* ID ("(" [string SP nstring *(SP string SP nstring)] ")") / NIL */
static int
args_id(struct imap_parser *p)
{
	struct imap_vec v = { 0 };
	struct imap_id_param *ip;
	struct imap_span sp;

	if (imap_peek(p) != '(') {
		if (imap_lex_atom(p, NULL, &sp, "ID parameters") == -1)
			return -1;
		if (!imap_span_is(&sp, "NIL"))
			return imap_perr(p, IMAP_ERRC_NONE,
			    "ID takes a list or NIL");
		p->cmd.id_nil = true;
		return 0;
	}
	p->pos++;
	while (!imap_accept(p, ')')) {
		if (v.n > 0 && imap_sp(p, "ID field") == -1)
			return -1;
		if ((ip = imap_vec_push(p, &v, sizeof(*ip), IMAP_ID_PAIRS_MAX,
		    "ID fields")) == NULL ||
		    imap_lex_string(p, &ip->field, "ID field") == -1 ||
		    imap_sp(p, "ID value") == -1 ||
		    imap_lex_nstring(p, &ip->value, "ID value") == -1)
			return -1;
	}
	p->cmd.idp = v.v;
	p->cmd.nidp = v.n;
	return 0;
}

/* SETQUOTA root SP "(" [name SP number64 *(SP name SP number64)] ")" */
static int
args_setquota(struct imap_parser *p)
{
	struct imap_vec v = { 0 };
	struct imap_quota_res *q;
	struct imap_span sp;

	if (imap_expect(p, '(', "quota limit list") == -1)
		return -1;
	while (!imap_accept(p, ')')) {
		if (v.n > 0 && imap_sp(p, "quota resource") == -1)
			return -1;
		if ((q = imap_vec_push(p, &v, sizeof(*q), IMAP_LIST_MAX,
		    "quota resources")) == NULL ||
		    imap_lex_atom(p, NULL, &sp, "quota resource") == -1 ||
		    (q->name.s = imap_arena_strdup(p, sp.s, sp.len)) == NULL)
			return -1;
		q->name.len = sp.len;
		if (imap_sp(p, "quota limit") == -1 ||
		    imap_lex_number(p, 0, IMAP_NUM64_MAX, &q->limit,
		    "quota limit") == -1)
			return -1;
	}
	p->cmd.quota = v.v;
	p->cmd.nquota = v.n;
	return 0;
}

/* The arguments with a grammar of one call. */
static int
arg_mailbox(struct imap_parser *p)
{
	return imap_lex_mailbox(p, &p->cmd.mailbox, "mailbox name");
}

static int
arg_newname(struct imap_parser *p)
{
	return imap_lex_mailbox(p, &p->cmd.newname, "new mailbox name");
}

static int
arg_seqset(struct imap_parser *p)
{
	return imap_lex_seqset(p, &p->cmd.set, IMAP_SET_STAR | IMAP_SET_SAVED,
	    "sequence set");
}

static int
arg_user(struct imap_parser *p)
{
	return imap_lex_astring(p, &p->cmd.user, "user name");
}

static int
arg_pass(struct imap_parser *p)
{
	return imap_lex_astring(p, &p->cmd.pass, "password");
}

static int
arg_qroot(struct imap_parser *p)
{
	return imap_lex_astring(p, &p->cmd.quota_root, "quota root");
}

/* COMPRESS algorithm (RFC 4978) */
static int
arg_compress(struct imap_parser *p)
{
	struct imap_span sp;

	if (imap_lex_atom(p, NULL, &sp, "compression mechanism") == -1 ||
	    (p->cmd.mech.s = imap_arena_strdup(p, sp.s, sp.len)) == NULL)
		return -1;
	p->cmd.mech.len = sp.len;
	return 0;
}

/* What follows an optional argument is SP or nothing. */
static int
arg_optional(struct imap_parser *p, int (*fn)(struct imap_parser *))
{
	if (!imap_at_end(p) && imap_peek(p) != ' ')
		return imap_perr(p, IMAP_ERRC_NONE,
		    imap_peek(p) == '\r' || imap_peek(p) == '\n' ?
		    "line break outside a literal" :
		    "unexpected characters after an argument");
	return fn(p);
}

static int
arg_opt_select(struct imap_parser *p)
{
	return arg_optional(p, imap_args_select);
}

static int
arg_opt_create(struct imap_parser *p)
{
	return arg_optional(p, imap_args_create);
}

/* Each grammar: what a missing one is called in "missing ..." (none for
   the optional ones, whose SP is their own business), and its parser. */
static const struct {
	const char	*what;
	int		(*fn)(struct imap_parser *);
} argks[] = {
	[A_END] = { NULL, NULL },
	[A_MAILBOX] = { "mailbox name", arg_mailbox },
	[A_NEWNAME] = { "new mailbox name", arg_newname },
	[A_SEQSET] = { "sequence set", arg_seqset },
	[A_USER] = { "user name", arg_user },
	[A_PASS] = { "password", arg_pass },
	[A_AUTH] = { "SASL mechanism", args_auth },
	[A_ENABLE] = { "capability name", args_enable },
	[A_ID] = { "ID parameters", args_id },
	[A_COMPRESS] = { "compression mechanism", arg_compress },
	[A_QROOT] = { "quota root", arg_qroot },
	[A_SETQUOTA] = { "quota limit list", args_setquota },
	[A_OPT_SELECT] = { NULL, arg_opt_select },
	[A_OPT_CREATE] = { NULL, arg_opt_create },
	[A_LIST] = { "reference name", imap_args_list },
	[A_LSUB] = { "reference name", imap_args_lsub },
	[A_STATUS] = { "STATUS items", imap_args_status },
	[A_APPEND] = { "message literal", imap_args_append },
	[A_SEARCH] = { "search criteria", imap_args_search },
	[A_FETCH] = { "FETCH attributes", imap_args_fetch },
	[A_STORE] = { "STORE flags", imap_args_store },
};

/* ---- the command ---- */

/* tag = 1*<any ASTRING-CHAR except "+"> */
static int
parse_tag(struct imap_parser *p)
{
	size_t start = p->pos;
	int c;

	while ((c = imap_peek(p)) != -1 && imap_is_astring_char(c) &&
	    c != '+')
		p->pos++;
	if (p->pos - start > IMAP_LINE_MAX)
		return imap_perr(p, IMAP_ERRC_LIMIT, "command line too long");
	if (p->pos == start)
		return imap_perr(p, IMAP_ERRC_NONE, p->len == 0 ?
		    "empty command line" : "missing or invalid tag");
	/* "a(b": no tag to answer with, the line is not a command. */
	if (c != -1 && c != ' ')
		return imap_perr(p, IMAP_ERRC_NONE, "missing or invalid tag");
	if ((p->cmd.tag.s = imap_arena_strdup(p, p->in + start,
	    p->pos - start)) == NULL)
		return -1;
	p->cmd.tag.len = p->pos - start;
	p->err->tag = p->cmd.tag;
	p->err->tagged = true;
	return 0;
}

/* The command name, with its UID prefix. */
static const struct cmd_def *
parse_name(struct imap_parser *p)
{
	const struct cmd_def *d;
	struct imap_span name;

	if (imap_sp(p, "command name") == -1 ||
	    imap_lex_atom(p, NULL, &name, "command name") == -1)
		return NULL;
	if (imap_span_is(&name, "UID")) {
		p->cmd.uid = true;
		if (imap_sp(p, "command name after UID") == -1 ||
		    imap_lex_atom(p, NULL, &name,
		    "command name after UID") == -1)
			return NULL;
	}
	if ((d = cmd_lookup(&name, p->cmd.uid)) == NULL) {
		if (cmd_lookup(&name, !p->cmd.uid) != NULL)
			(void)imap_perr_word(p, p->cmd.uid ?
			    "UID %s is no command" : "%s needs UID", name.s,
			    name.len);
		else
			(void)imap_perr_word(p, "unknown command %s", name.s,
			    name.len);
		return NULL;
	}
	p->cmd.id = d->info.id;
	p->err->cmd = d->info.id;
	p->err->uid = p->cmd.uid;
	return d;
}

/* The limits that are checked on the whole. */
static int
check_sizes(struct imap_parser *p)
{
	if (p->len - p->line_start > IMAP_LINE_MAX)
		return imap_perr(p, IMAP_ERRC_LIMIT, "command line too long");
	if (p->len - p->append_len > IMAP_CMD_MAX)
		return imap_perr(p, IMAP_ERRC_TOOBIG, "command too long");
	return 0;
}

static int
parse_cmd(struct imap_parser *p)
{
	const struct cmd_def *d;
	const enum argk *args;
	const char *what, *nl;
	size_t i;

	if (parse_tag(p) == -1)
		return -1;
	/* A first line over the limit is refused before anything else
	   is copied (the session's line reader bounds it already). */
	nl = memchr(p->in, '\n', p->len < IMAP_LINE_MAX + 2 ? p->len :
	    IMAP_LINE_MAX + 2);
	if (nl == NULL ? p->len > IMAP_LINE_MAX :
	    nl - p->in > IMAP_LINE_MAX + 1)
		return imap_perr(p, IMAP_ERRC_LIMIT, "command line too long");
	if ((d = parse_name(p)) == NULL)
		return -1;
	args = p->cmd.uid && d->uid_args[0] != A_END ? d->uid_args : d->args;
	for (i = 0; i < nitems(d->args) && args[i] != A_END; i++) {
		if ((what = argks[args[i]].what) != NULL &&
		    imap_sp(p, what) == -1)
			return -1;
		if (argks[args[i]].fn(p) == -1)
			return -1;
	}
	if (!imap_at_end(p)) {
		/* CRLF only after a literal's size (and not at the end:
		   the session strips the last one). */
		if (imap_peek(p) == '\r' || imap_peek(p) == '\n')
			return imap_perr(p, IMAP_ERRC_NONE,
			    "line break outside a literal");
		if (p->pos + 1 == p->len && imap_peek(p) == ' ')
			return imap_perr(p, IMAP_ERRC_NONE,
			    "trailing space after the command");
		if (i == 0)
			return imap_perr_word(p, "%s takes no arguments",
			    d->info.name, strlen(d->info.name));
		return imap_perr(p, IMAP_ERRC_NONE,
		    imap_peek(p) == ' ' ? "unexpected extra arguments" :
		    "unexpected characters after an argument");
	}
	return check_sizes(p);
}

int
imap_parse(struct imap_parser *p, const char *in, size_t len,
    struct imap_cmd *cmd, struct imap_error *err)
{
	imap_parser_clear(p);
	memset(&p->cmd, 0, sizeof(p->cmd));
	memset(err, 0, sizeof(*err));
	memset(&p->nodes, 0, sizeof(p->nodes));
	p->in = in;
	p->len = len;
	p->pos = p->line_start = p->append_len = p->nranges = 0;
	p->err = err;
	p->failed = false;
	if (parse_cmd(p) == -1) {
		/* An error found late (a limit) keeps the place it had. */
		if (!p->failed)
			(void)imap_perr(p, IMAP_ERRC_NONE, "syntax error");
		return -1;
	}
	*cmd = p->cmd;
	return 0;
}

/* A word of ATOM-CHARs at LINE[*I], moving *I past it. */
static bool
peek_word(const char *line, size_t len, size_t *i, struct imap_span *w)
{
	size_t s = *i;

	while (*i < len && imap_is_atom_char((unsigned char)line[*i]))
		(*i)++;
	w->s = line + s;
	w->len = *i - s;
	return w->len > 0;
}

int
imap_cmd_peek(const char *line, size_t len, enum imap_cmd_id *id, bool *uid)
{
	const struct cmd_def *d;
	struct imap_span w;
	size_t i = 0;
	bool u = false;

	while (i < len && imap_is_astring_char((unsigned char)line[i]) &&
	    line[i] != '+')
		i++;
	if (i == 0 || i >= len || line[i++] != ' ' ||
	    !peek_word(line, len, &i, &w))
		return -1;
	if (imap_span_is(&w, "UID") && i < len && line[i] == ' ') {
		u = true;
		i++;
		if (!peek_word(line, len, &i, &w))
			return -1;
	}
	d = cmd_lookup(&w, u);
	*id = d != NULL ? d->info.id : IMAP_CMD_UNKNOWN;
	*uid = u;
	return 0;
}
