/*
 * web_autodiscover.c - Microsoft's autodiscover for Outlook (the "POX"
 * protocol of [MS-OXDSCLI]): the request names the account's address
 * (Autodiscover/Request/EMailAddress), the answer its IMAP, POP3 and
 * SMTP settings, best first.
 *
 * The request body is untrusted XML from anyone on the internet, so it
 * is read with expat (Debian's libexpat1, the parser of Python and
 * Firefox), not by hand: a hand-written XML reader would have to get
 * namespaces, CDATA, character references and encodings right, and
 * misreading any of them here is an attack surface for nothing. What
 * expat is asked to do is little: no DTD (a DOCTYPE, and with it every
 * entity declaration, stops the parse, so no entity expansion and no
 * external entity is ever fetched), elements at most MAX_DEPTH deep,
 * the address at most ADDR_MAX_LEN octets, the body at most
 * WEB_AUTODISCOVER_MAX. Element names are matched by their local part
 * (Outlook sends the request schema's namespace, some clients none).
 */
#include <event2/buffer.h>
#include <expat.h>

#include "web/web_int.h"
#include "core/addr.h"
#include "util/compat.h"

#define MAX_DEPTH	16
#define SCHEMA_MAX	256
#define NS_SEP		'\x01'	/* no Char of XML 1.0: never in a name */

#define OUTLOOK_SCHEMA	"http://schemas.microsoft.com/exchange/" \
	"autodiscover/outlook/responseschema/2006a"
#define RESPONSE_NS	"http://schemas.microsoft.com/exchange/" \
	"autodiscover/responseschema/2006"

enum field {
	F_NONE,
	F_EMAIL,
	F_SCHEMA,
};

struct ad_parse {
	XML_Parser	 p;
	unsigned	 depth;
	enum field	 field;		/* the text being collected */
	bool		 root_ok;	/* <Autodiscover> */
	bool		 in_request;	/* inside <Request> */
	char		 email[ADDR_MAX_LEN + 1];
	size_t		 email_len;
	unsigned	 nemail;
	char		 schema[SCHEMA_MAX + 1];
	size_t		 schema_len;
	bool		 have_schema;
	const char	*error;		/* the first, static */
};

static void
stop(struct ad_parse *a, const char *error)
{
	if (a->error == NULL)
		a->error = error;
	(void)XML_StopParser(a->p, XML_FALSE);
}

/* The local part of an expanded name "URI\1local" or "local". */
static const char *
local_name(const XML_Char *name)
{
	const char *sep = strrchr(name, NS_SEP);

	return sep != NULL ? sep + 1 : name;
}

static void XMLCALL
on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct ad_parse *a = arg;
	const char *local = local_name(name);

	(void)attrs;
	a->field = F_NONE;
	if (++a->depth > MAX_DEPTH) {
		stop(a, "elements nested too deep");
		return;
	}
	if (a->depth == 1) {
		if (strcmp(local, "Autodiscover") != 0)
			stop(a, "the document is no Autodiscover request");
		a->root_ok = true;
	} else if (a->depth == 2) {
		a->in_request = strcmp(local, "Request") == 0;
	} else if (a->depth == 3 && a->in_request) {
		if (strcmp(local, "EMailAddress") == 0) {
			if (++a->nemail > 1)
				stop(a, "more than one EMailAddress");
			a->field = F_EMAIL;
		} else if (strcmp(local, "AcceptableResponseSchema") == 0) {
			a->have_schema = true;
			a->schema_len = 0;
			a->field = F_SCHEMA;
		}
	}
}

static void XMLCALL
on_end(void *arg, const XML_Char *name)
{
	struct ad_parse *a = arg;

	(void)name;
	a->field = F_NONE;
	if (a->depth == 2)
		a->in_request = false;
	a->depth--;
}

static void
collect(struct ad_parse *a, char *buf, size_t *len, size_t max,
    const XML_Char *s, int n, const char *too_long)
{
	if (n < 0 || (size_t)n > max - *len) {
		stop(a, too_long);
		return;
	}
	memcpy(buf + *len, s, (size_t)n);
	*len += (size_t)n;
	buf[*len] = '\0';
}

static void XMLCALL
on_text(void *arg, const XML_Char *s, int n)
{
	struct ad_parse *a = arg;

	if (a->field == F_EMAIL)
		collect(a, a->email, &a->email_len, ADDR_MAX_LEN, s, n,
		    "the address is too long");
	else if (a->field == F_SCHEMA)
		collect(a, a->schema, &a->schema_len, SCHEMA_MAX, s, n,
		    "AcceptableResponseSchema is too long");
}

static void XMLCALL
on_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	stop(arg, "a DOCTYPE is not accepted");
}

/* [S, S+N) without the XML white space around it. */
static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && strchr(" \t\r\n", (*s)[0]) != NULL)
		(*s)++, (*n)--;
	while (*n > 0 && strchr(" \t\r\n", (*s)[*n - 1]) != NULL)
		(*n)--;
}

/* After a successful parse: the address checked into EMAIL. */
static int
finish(struct ad_parse *a, char email[WEB_EMAIL_MAX], int *schema_ok,
    const char **error_r)
{
	const char *s = a->email;
	size_t n = a->email_len;
	struct mailaddr m;
	const char *err;

	if (!a->root_ok || a->nemail == 0) {
		*error_r = "the request names no EMailAddress";
		return -1;
	}
	trim(&s, &n);
	if (n == 0 || addr_parse(s, n, ADDR_F_UTF8, &m, &err) == -1 ||
	    m.literal) {
		*error_r = "EMailAddress is no mail address";
		return -1;
	}
	str_lower(m.domain);
	addr_format(&m, email, WEB_EMAIL_MAX);
	s = a->schema;
	n = a->schema_len;
	trim(&s, &n);
	*schema_ok = !a->have_schema || (n == strlen(OUTLOOK_SCHEMA) &&
	    memcmp(s, OUTLOOK_SCHEMA, n) == 0);
	return 0;
}

int
web_autodiscover_parse(const char *body, size_t len,
    char email[WEB_EMAIL_MAX], int *schema_ok, const char **error_r)
{
	struct ad_parse a;
	int r = -1;

	if (len > WEB_AUTODISCOVER_MAX) {
		*error_r = "the request is too large";
		return -1;
	}
	memset(&a, 0, sizeof(a));
	/* NULL: the document says its encoding (UTF-8 when silent) */
	if ((a.p = XML_ParserCreateNS(NULL, NS_SEP)) == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	XML_SetUserData(a.p, &a);
	XML_SetElementHandler(a.p, on_start, on_end);
	XML_SetCharacterDataHandler(a.p, on_text);
	XML_SetStartDoctypeDeclHandler(a.p, on_doctype);
	(void)XML_SetParamEntityParsing(a.p, XML_PARAM_ENTITY_PARSING_NEVER);
	if (XML_Parse(a.p, body, (int)len, XML_TRUE) != XML_STATUS_OK) {
		*error_r = a.error != NULL ? a.error : "the request is no "
		    "well-formed XML";
		goto out;
	}
	r = finish(&a, email, schema_ok, error_r);
out:
	XML_ParserFree(a.p);
	explicit_bzero(&a, sizeof(a));
	return r;
}

static void
ad_protocol(struct evbuffer *out, const struct config *cfg,
    const char *type, const struct web_port *p, const char *email)
{
	(void)evbuffer_add_printf(out, "      <Protocol>\n"
	    "        <Type>%s</Type>\n        <Server>", type);
	web_esc(out, cfg->hostname);
	(void)evbuffer_add_printf(out, "</Server>\n        <Port>%u</Port>\n"
	    "        <LoginName>", (unsigned)p->port);
	web_esc(out, email);
	/* Encryption overrides SSL: "TLS" is STARTTLS, "SSL" implicit. */
	(void)evbuffer_add_printf(out, "</LoginName>\n"
	    "        <DomainRequired>off</DomainRequired>\n"
	    "        <SPA>off</SPA>\n        <SSL>on</SSL>\n"
	    "        <Encryption>%s</Encryption>\n"
	    "        <AuthRequired>on</AuthRequired>\n",
	    p->implicit_tls ? "SSL" : "TLS");
	if (strcmp(type, "SMTP") == 0)
		(void)evbuffer_add_printf(out, "        <UsePOPAuth>on"
		    "</UsePOPAuth>\n        <SMTPLast>off</SMTPLast>\n");
	(void)evbuffer_add_printf(out, "      </Protocol>\n");
}

/* The first port of the first of ROLES in PS, as a Protocol. */
static void
ad_best(struct evbuffer *out, const struct config *cfg,
    const struct web_ports *ps, const char *type, enum listen_role r1,
    enum listen_role r2, const char *email)
{
	const struct web_port *p = web_ports_first(ps, r1);

	if (p == NULL)
		p = web_ports_first(ps, r2);
	if (p != NULL)
		ad_protocol(out, cfg, type, p, email);
}

static void
ad_settings(struct evbuffer *out, const struct config *cfg,
    const char *email)
{
	struct web_ports ps;

	web_ports_get(cfg, &ps);
	(void)evbuffer_add_printf(out, "<?xml version=\"1.0\" "
	    "encoding=\"utf-8\"?>\n<Autodiscover xmlns=\"" RESPONSE_NS "\">\n"
	    "  <Response xmlns=\"" OUTLOOK_SCHEMA "\">\n"
	    "    <Account>\n      <AccountType>email</AccountType>\n"
	    "      <Action>settings</Action>\n");
	ad_best(out, cfg, &ps, "IMAP", ROLE_IMAPS, ROLE_IMAP, email);
	ad_best(out, cfg, &ps, "POP3", ROLE_POP3S, ROLE_POP3, email);
	ad_best(out, cfg, &ps, "SMTP", ROLE_SUBMISSIONS, ROLE_SUBMISSION,
	    email);
	(void)evbuffer_add_printf(out, "    </Account>\n  </Response>\n"
	    "</Autodiscover>\n");
	web_ports_free(&ps);
}

static void
ad_error(struct evbuffer *out, unsigned code, const char *message)
{
	(void)evbuffer_add_printf(out, "<?xml version=\"1.0\" "
	    "encoding=\"utf-8\"?>\n<Autodiscover xmlns=\"" RESPONSE_NS "\">\n"
	    "  <Response>\n    <Error>\n      <ErrorCode>%u</ErrorCode>\n"
	    "      <Message>%s</Message>\n      <DebugData />\n"
	    "    </Error>\n  </Response>\n</Autodiscover>\n", code, message);
}

int
web_autodiscover(struct evbuffer *out, const struct config *cfg,
    const char *body, size_t len, const char **error_r)
{
	char email[WEB_EMAIL_MAX];
	int schema_ok;

	if (web_autodiscover_parse(body, len, email, &schema_ok,
	    error_r) == -1) {
		ad_error(out, 600, "Invalid Request");
		return -1;
	}
	if (!schema_ok) {
		*error_r = "the request asks for a response schema other "
		    "than Outlook's";
		ad_error(out, 601, "Provider is not available");
		return -1;
	}
	ad_settings(out, cfg, email);
	return 0;
}
