/*
 * imap_body.c - ENVELOPE, BODY and BODYSTRUCTURE (RFC 9051 7.5.2 and
 * the grammar of section 9: body, body-type-1part, body-type-mpart,
 * body-ext-1part, body-ext-mpart, envelope, address) rendered from a
 * MIME tree. Pure formatting: every decision about the message was made
 * by the parser; the defaults are Dovecot's (imap_body.h).
 *
 * The recursion follows the tree, whose depth the parser bounds
 * (MIME_DEPTH_MAX), as the cache decoder does.
 */
#include <inttypes.h>

#include "imap/imap_body.h"
#include "util/compat.h"

/* Longer strings go as literals: clients handle both, and a literal
   needs no escaping. */
#define QUOTED_MAX	1024

/* A buffer and whether an append failed (then the result is refused
   whole by the caller). */
struct out {
	struct buf	*b;
	bool		 fail;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (!o->fail && buf_append(o->b, s, n) == -1)
		o->fail = true;
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static bool
quotable(const char *s, size_t n)
{
	size_t i;

	if (n > QUOTED_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80)
			return false;
	}
	return true;
}

static void
string(struct out *o, const char *s)
{
	size_t n = strlen(s), i, start;
	char lit[32];

	if (!quotable(s, n)) {
		(void)snprintf(lit, sizeof(lit), "{%zu}\r\n", n);
		puts_(o, lit);
		put(o, s, n);
		return;
	}
	put(o, "\"", 1);
	for (i = start = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\') {
			put(o, s + start, i - start);
			put(o, "\\", 1);
			start = i;
		}
	}
	put(o, s + start, n - start);
	put(o, "\"", 1);
}

static void
nstring(struct out *o, const char *s)
{
	if (s == NULL)
		puts_(o, "NIL");
	else
		string(o, s);
}

int
imap_body_nstring(struct buf *b, const char *s)
{
	struct out o = { b, false };
	size_t len0 = b->len;

	nstring(&o, s);
	if (o.fail)
		buf_truncate(b, len0);
	return o.fail ? -1 : 0;
}

static void
number(struct out *o, uint64_t v)
{
	char n[24];

	(void)snprintf(n, sizeof(n), "%" PRIu64, v);
	puts_(o, n);
}

/* ---- ENVELOPE ---- */

static void
address_list(struct out *o, const struct mime_addr *a, size_t n)
{
	size_t i;

	if (n == 0) {
		puts_(o, "NIL");
		return;
	}
	put(o, "(", 1);
	for (i = 0; i < n; i++) {
		put(o, "(", 1);
		nstring(o, a[i].name);
		put(o, " ", 1);
		nstring(o, a[i].adl);
		put(o, " ", 1);
		nstring(o, a[i].mailbox);
		put(o, " ", 1);
		nstring(o, a[i].host);
		put(o, ")", 1);
	}
	put(o, ")", 1);
}

static void
envelope(struct out *o, const struct mime_envelope *env)
{
	static const enum mime_env_field order[] = {
		MIME_ENV_DATE, MIME_ENV_SUBJECT, MIME_ENV_FROM,
		MIME_ENV_SENDER, MIME_ENV_REPLY_TO, MIME_ENV_TO, MIME_ENV_CC,
		MIME_ENV_BCC, MIME_ENV_IN_REPLY_TO, MIME_ENV_MESSAGE_ID,
	};
	size_t i;

	if (env == NULL) {
		puts_(o, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		return;
	}
	put(o, "(", 1);
	for (i = 0; i < nitems(order); i++) {
		enum mime_env_field f = order[i];

		if (i > 0)
			put(o, " ", 1);
		if (f == MIME_ENV_DATE || f == MIME_ENV_SUBJECT ||
		    f == MIME_ENV_IN_REPLY_TO || f == MIME_ENV_MESSAGE_ID) {
			nstring(o, env->field[f]);
			continue;
		}
		/* RFC 9051 7.5.2: Sender and Reply-To absent or empty are
		   From. */
		if ((f == MIME_ENV_SENDER || f == MIME_ENV_REPLY_TO) &&
		    env->naddrs[f] == 0)
			f = MIME_ENV_FROM;
		address_list(o, env->addrs[f], env->naddrs[f]);
	}
	put(o, ")", 1);
}

int
imap_body_envelope(const struct mime_part *m, struct buf *b)
{
	struct out o = { b, false };
	size_t len0 = b->len;

	envelope(&o, m != NULL ? m->env : NULL);
	if (o.fail)
		buf_truncate(b, len0);
	return o.fail ? -1 : 0;
}

/* ---- BODY, BODYSTRUCTURE ---- */

static void
params(struct out *o, const struct mime_param *v, size_t n,
    bool add_charset)
{
	size_t i;

	if (n == 0 && !add_charset) {
		puts_(o, "NIL");
		return;
	}
	put(o, "(", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			put(o, " ", 1);
		string(o, v[i].name);
		put(o, " ", 1);
		string(o, v[i].value);
	}
	if (add_charset)
		puts_(o, n > 0 ? " \"charset\" \"us-ascii\"" :
		    "\"charset\" \"us-ascii\"");
	put(o, ")", 1);
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void
ext_common(struct out *o, const struct mime_part *p)
{
	size_t i;

	if (p->disposition == NULL) {
		puts_(o, "NIL");
	} else {
		put(o, "(", 1);
		string(o, p->disposition);
		put(o, " ", 1);
		params(o, p->disp_params, p->ndisp_params, false);
		put(o, ")", 1);
	}
	put(o, " ", 1);
	if (p->nlanguages == 0) {
		puts_(o, "NIL");
	} else {
		put(o, "(", 1);
		for (i = 0; i < p->nlanguages; i++) {
			if (i > 0)
				put(o, " ", 1);
			string(o, p->languages[i]);
		}
		put(o, ")", 1);
	}
	put(o, " ", 1);
	nstring(o, p->location);
}

/* The one part given to a multipart with none (Dovecot's, and the grammar
   wants 1*body). */
static void
empty_part(struct out *o, bool ext)
{
	puts_(o, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 0 0");
	puts_(o, ext ? " NIL NIL NIL NIL)" : ")");
}

static void body(struct out *, const struct mime_part *, bool);

static void
multipart(struct out *o, const struct mime_part *p, bool ext)
{
	const struct mime_part *c;

	put(o, "(", 1);
	if (p->children == NULL)
		empty_part(o, ext);
	for (c = p->children; c != NULL; c = c->next)
		body(o, c, ext);
	put(o, " ", 1);
	string(o, p->subtype != NULL ? p->subtype : "mixed");
	if (ext) {
		put(o, " ", 1);
		params(o, p->params, p->nparams, false);
		put(o, " ", 1);
		ext_common(o, p);
	}
	put(o, ")", 1);
}

static void
body(struct out *o, const struct mime_part *p, bool ext)
{
	const char *type, *subtype;
	bool text;

	if (mime_part_is(p, "multipart", NULL)) {
		multipart(o, p, ext);
		return;
	}
	mime_part_type(p, &type, &subtype);
	text = strcasecmp(type, "text") == 0;
	put(o, "(", 1);
	string(o, type);
	put(o, " ", 1);
	string(o, subtype);
	put(o, " ", 1);
	params(o, p->params, p->nparams, text &&
	    mime_part_param(p, "charset") == NULL);
	put(o, " ", 1);
	nstring(o, p->id);
	put(o, " ", 1);
	nstring(o, p->description);
	put(o, " ", 1);
	string(o, p->encoding != NULL ? p->encoding : "7bit");
	put(o, " ", 1);
	number(o, p->body_size_crlf);
	if (text) {
		put(o, " ", 1);
		number(o, p->body_lines);
	} else if (mime_part_is(p, "message", "rfc822") ||
	    mime_part_is(p, "message", "global")) {
		/* An embedded message the parser did not open (a limit)
		   still needs an envelope and a body. */
		put(o, " ", 1);
		envelope(o, p->children != NULL ? p->children->env : NULL);
		put(o, " ", 1);
		if (p->children != NULL)
			body(o, p->children, ext);
		else
			empty_part(o, ext);
		put(o, " ", 1);
		number(o, p->body_lines);
	}
	if (ext) {
		put(o, " ", 1);
		nstring(o, p->md5);
		put(o, " ", 1);
		ext_common(o, p);
	}
	put(o, ")", 1);
}

int
imap_body_structure(const struct mime_part *p, bool ext, struct buf *b)
{
	struct out o = { b, false };
	size_t len0 = b->len;

	body(&o, p, ext);
	if (o.fail)
		buf_truncate(b, len0);
	return o.fail ? -1 : 0;
}
