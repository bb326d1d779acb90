/*
 * smtp_cmd.c - SMTP command parsing (RFC 5321 section 4.1, with the
 * parameters of RFC 1870, 3030, 3461, 4954, 6152, 6531).
 */
#include <ctype.h>

#include "smtp/smtp_cmd.h"
#include "util/str.h"
#include "util/compat.h"

static const struct {
	const char	*name;
	enum smtp_verb	 verb;
} verbs[] = {
	{ "HELO", V_HELO }, { "EHLO", V_EHLO }, { "MAIL", V_MAIL },
	{ "RCPT", V_RCPT }, { "DATA", V_DATA }, { "BDAT", V_BDAT },
	{ "RSET", V_RSET }, { "NOOP", V_NOOP }, { "QUIT", V_QUIT },
	{ "VRFY", V_VRFY }, { "EXPN", V_EXPN }, { "HELP", V_HELP },
	{ "STARTTLS", V_STARTTLS }, { "AUTH", V_AUTH },
};

enum smtp_verb
smtp_cmd_verb(const char *line, size_t len, const char **arg_r,
    size_t *arglen_r)
{
	size_t n = 0, i;

	while (n < len && line[n] != ' ')
		n++;
	*arg_r = n < len ? line + n + 1 : line + len;
	*arglen_r = n < len ? len - n - 1 : 0;
	for (i = 0; i < nitems(verbs); i++)
		if (strlen(verbs[i].name) == n &&
		    strncasecmp(line, verbs[i].name, n) == 0)
			return verbs[i].verb;
	return V_UNKNOWN;
}

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-");
   esmtp-value = 1*(%d33-60 / %d62-126 / UTF-8 non-ASCII). */
static bool
good_keyword(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (i > 0 && c == '-')))
			return false;
	}
	return true;
}

static bool
good_value(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 33 || c == '=' || c == 127)
			return false;
	}
	return true;
}

struct param {
	const char	*key;
	size_t		 klen;
	const char	*val;	/* NULL: no "=" */
	size_t		 vlen;
};

/* Splits the next " KEY[=VALUE]" off *P. 1 found, 0 end, -1 bad. */
static int
next_param(const char **p, const char *end, struct param *pm)
{
	const char *s = *p, *e, *eq;

	while (s < end && *s == ' ')
		s++;
	if (s >= end)
		return 0;
	e = memchr(s, ' ', (size_t)(end - s));
	if (e == NULL)
		e = end;
	eq = memchr(s, '=', (size_t)(e - s));
	pm->key = s;
	pm->klen = (size_t)((eq != NULL ? eq : e) - s);
	pm->val = eq != NULL ? eq + 1 : NULL;
	pm->vlen = eq != NULL ? (size_t)(e - eq - 1) : 0;
	*p = e;
	if (!good_keyword(pm->key, pm->klen) ||
	    (pm->val != NULL && !good_value(pm->val, pm->vlen)))
		return -1;
	return 1;
}

static bool
is_key(const struct param *pm, const char *key)
{
	return pm->klen == strlen(key) &&
	    strncasecmp(pm->key, key, pm->klen) == 0;
}

/* "FROM:" or "TO:" and an optional space; the offset of the path. */
static int
skip_prefix(const char *arg, size_t len, const char *prefix, size_t *off)
{
	size_t n = strlen(prefix);

	if (len < n || strncasecmp(arg, prefix, n) != 0)
		return -1;
	/* Lenient like Postfix: "MAIL FROM: <a@b>" is common. */
	while (n < len && arg[n] == ' ')
		n++;
	*off = n;
	return 0;
}

/* BODY= of RFC 6152 and RFC 3030; BODY_UNSPEC for anything else. */
static enum smtp_body
body_value(const struct param *pm)
{
	if (pm->vlen == 4 && strncasecmp(pm->val, "7BIT", 4) == 0)
		return BODY_7BIT;
	if (pm->vlen == 8 && strncasecmp(pm->val, "8BITMIME", 8) == 0)
		return BODY_8BITMIME;
	if (pm->vlen == 10 && strncasecmp(pm->val, "BINARYMIME", 10) == 0)
		return BODY_BINARYMIME;
	return BODY_UNSPEC;
}

/* One MAIL parameter into M (SIZE and BODY at most once). 0, or -1
   with the reply. */
static int
mail_param(struct smtp_mail_args *m, const struct param *pm,
    enum reply_text_id *reply_r, const char **detail_r)
{
	if (is_key(pm, "SIZE") && pm->val != NULL && !m->has_size) {
		if (str_to_uint_n(pm->val, pm->vlen, 0, UINT64_MAX,
		    &m->size) == -1) {
			*reply_r = REPLY_SYNTAX;
			*detail_r = "bad SIZE value";
			return -1;
		}
		m->has_size = true;
	} else if (is_key(pm, "BODY") && pm->val != NULL &&
	    m->body == BODY_UNSPEC) {
		m->body = body_value(pm);
		if (m->body == BODY_UNSPEC) {
			*reply_r = REPLY_PARAM_UNKNOWN;
			*detail_r = "BODY must be 7BIT, 8BITMIME or "
			    "BINARYMIME";
			return -1;
		}
	} else if (is_key(pm, "SMTPUTF8") && pm->val == NULL) {
		m->smtputf8 = true;
	} else if (is_key(pm, "AUTH") && pm->val != NULL) {
		/* RFC 4954 section 5: accepted, not trusted. */
	} else if (is_key(pm, "RET") && pm->val != NULL && m->ret[0] == '\0') {
		if (pm->vlen != 4 || (strncasecmp(pm->val, "FULL", 4) != 0 &&
		    strncasecmp(pm->val, "HDRS", 4) != 0)) {
			*reply_r = REPLY_SYNTAX;
			*detail_r = "RET must be FULL or HDRS";
			return -1;
		}
		(void)str_copy(m->ret, toupper((unsigned char)pm->val[0]) ==
		    'F' ? "FULL" : "HDRS", sizeof(m->ret));
	} else if (is_key(pm, "ENVID") && pm->val != NULL &&
	    m->envid[0] == '\0') {
		if (pm->vlen > DSN_ENVID_MAX || !dsn_xtext_ok(pm->val,
		    pm->vlen)) {
			*reply_r = REPLY_SYNTAX;
			*detail_r = "ENVID must be xtext of at most 100 octets";
			return -1;
		}
		(void)str_ncopy(m->envid, pm->val, pm->vlen,
		    sizeof(m->envid));
	} else {
		*reply_r = REPLY_PARAM_UNKNOWN;
		*detail_r = "unknown or repeated MAIL parameter";
		return -1;
	}
	return 0;
}

int
smtp_parse_mail(const char *arg, size_t len, struct smtp_mail_args *m,
    enum reply_text_id *reply_r, const char **detail_r)
{
	const char *p, *end = arg + len, *err;
	struct param pm;
	size_t off, used;
	unsigned flags = ADDR_F_NULL | ADDR_F_LITERAL;
	int r;

	memset(m, 0, sizeof(*m));
	if (skip_prefix(arg, len, "FROM:", &off) == -1) {
		*reply_r = REPLY_SYNTAX;
		*detail_r = "use MAIL FROM:<address>";
		return -1;
	}
	/* Parsed with UTF-8 allowed; whether it may be used is known only
	   from the SMTPUTF8 parameter that follows (checked below). */
	p = arg + off;
	if (addr_parse_path(p, (size_t)(end - p), flags | ADDR_F_UTF8,
	    &m->addr, &m->kind, &used, &err) == -1) {
		*reply_r = REPLY_BAD_SENDER_ADDR;
		*detail_r = err;
		return -1;
	}
	p += used;
	if (p < end && *p != ' ') {
		*reply_r = REPLY_SYNTAX;
		*detail_r = "junk after the address";
		return -1;
	}
	while ((r = next_param(&p, end, &pm)) == 1) {
		if (mail_param(m, &pm, reply_r, detail_r) == -1)
			return -1;
	}
	if (r == -1) {
		*reply_r = REPLY_SYNTAX;
		*detail_r = "bad MAIL parameter syntax";
		return -1;
	}
	if (m->addr.utf8 && !m->smtputf8) {
		*reply_r = REPLY_BAD_SENDER_ADDR;
		*detail_r = "non-ASCII address without SMTPUTF8";
		return -1;
	}
	return 0;
}

/* One RCPT parameter into RC (each at most once). 0, or -1 with the
   reply. */
static int
rcpt_param(struct smtp_rcpt_args *rc, const struct param *pm,
    enum reply_text_id *reply_r, const char **detail_r)
{
	if (is_key(pm, "NOTIFY") && pm->val != NULL && rc->notify == 0) {
		if (dsn_notify_parse(pm->val, pm->vlen, &rc->notify) == -1) {
			*reply_r = REPLY_SYNTAX;
			*detail_r = "NOTIFY must be NEVER or a list of SUCCESS, "
			    "FAILURE, DELAY";
			return -1;
		}
	} else if (is_key(pm, "ORCPT") && pm->val != NULL &&
	    rc->orcpt[0] == '\0') {
		if (!dsn_orcpt_ok(pm->val, pm->vlen)) {
			*reply_r = REPLY_SYNTAX;
			*detail_r = "ORCPT must be addr-type;xtext of at most "
			    "500 octets";
			return -1;
		}
		(void)str_ncopy(rc->orcpt, pm->val, pm->vlen,
		    sizeof(rc->orcpt));
	} else {
		*reply_r = REPLY_PARAM_UNKNOWN;
		*detail_r = "unknown or repeated RCPT parameter";
		return -1;
	}
	return 0;
}

int
smtp_parse_rcpt(const char *arg, size_t len, bool smtputf8,
    struct smtp_rcpt_args *rc, enum reply_text_id *reply_r,
    const char **detail_r)
{
	const char *p, *end = arg + len, *err;
	struct param pm;
	size_t off, used;
	int r;

	memset(rc, 0, sizeof(*rc));
	if (skip_prefix(arg, len, "TO:", &off) == -1) {
		*reply_r = REPLY_SYNTAX;
		*detail_r = "use RCPT TO:<address>";
		return -1;
	}
	p = arg + off;
	if (addr_parse_path(p, (size_t)(end - p), ADDR_F_POSTMASTER |
	    ADDR_F_LITERAL | (smtputf8 ? ADDR_F_UTF8 : 0), &rc->addr,
	    &rc->kind, &used, &err) == -1) {
		*reply_r = REPLY_BAD_ADDR;
		*detail_r = err;
		return -1;
	}
	p += used;
	if (p < end && *p != ' ') {
		*reply_r = REPLY_SYNTAX;
		*detail_r = "junk after the address";
		return -1;
	}
	while ((r = next_param(&p, end, &pm)) == 1) {
		if (rcpt_param(rc, &pm, reply_r, detail_r) == -1)
			return -1;
	}
	if (r == -1) {
		*reply_r = REPLY_SYNTAX;
		*detail_r = "bad RCPT parameter syntax";
		return -1;
	}
	return 0;
}

int
smtp_parse_bdat(const char *arg, size_t len, uint64_t *size_r, bool *last_r)
{
	const char *sp = memchr(arg, ' ', len);
	size_t n = sp != NULL ? (size_t)(sp - arg) : len;

	*last_r = false;
	if (str_to_uint_n(arg, n, 0, UINT64_MAX, size_r) == -1)
		return -1;
	if (sp == NULL)
		return 0;
	if (len - n - 1 == 4 && strncasecmp(sp + 1, "LAST", 4) == 0) {
		*last_r = true;
		return 0;
	}
	return -1;
}

int
smtp_parse_helo(const char *arg, size_t len, const char **detail_r)
{
	struct mailaddr dummy;
	char tmp[ADDR_DOMAIN_MAX + 8];

	if (len == 0) {
		*detail_r = "EHLO and HELO need a domain name";
		return -1;
	}
	if (memchr(arg, '\0', len) != NULL) {
		*detail_r = "bad character in EHLO/HELO name";
		return -1;
	}
	if (arg[0] == '[') {
		/* Reuse the literal parser through a fake mailbox. */
		if (str_fmt(tmp, sizeof(tmp), "x@%.*s", (int)len, arg) == -1 ||
		    addr_parse(tmp, strlen(tmp), ADDR_F_LITERAL, &dummy,
		    detail_r) == -1) {
			*detail_r = "bad address literal in EHLO/HELO";
			return -1;
		}
		return 0;
	}
	/* Be liberal about the name (many clients send bare hostnames or
	   underscores), strict about what reaches the Received: header. */
	{
		size_t i;

		for (i = 0; i < len; i++) {
			unsigned char c = (unsigned char)arg[i];

			if (c <= ' ' || c >= 0x7f || strchr("()<>[]\\\";",
			    c) != NULL) {
				*detail_r = "bad character in EHLO/HELO name";
				return -1;
			}
		}
	}
	if (len > ADDR_DOMAIN_MAX) {
		*detail_r = "EHLO/HELO name too long";
		return -1;
	}
	return 0;
}
