/*
 * test_web.c - the pieces of src/web/ below the pages: escaping into
 * well-formed UTF-8 XML text, durations and sizes in words, the ports
 * customers see (one per port and role, sorted, loopback left out next
 * to public listeners), the autodiscover request parser, and the DKIM
 * zone line.
 */
#include <event2/buffer.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "testlib.h"

#include "web/web_int.h"
#include "store/store.h"
#include "util/compat.h"

/* OUT's text as a NUL-terminated string of the caller's. */
static char *
text_of(struct evbuffer *out)
{
	size_t n = evbuffer_get_length(out);
	char *s = malloc(n + 1);

	assert_non_null(s);
	evbuffer_copyout(out, s, n);
	s[n] = '\0';
	return s;
}

/* ---- escaping ---- */

struct esc_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	const char	*want;
};

static const struct esc_case esc_cases[] = {
	{ "esc: plain text stays", "Acme Hosting", 12, "Acme Hosting" },
	{ "esc: the five markup characters", "<a href=\"x\">&'", 14,
	    "&lt;a href=&quot;x&quot;&gt;&amp;&#39;" },
	{ "esc: UTF-8 kept", "J\xc3\xb6rg \xe2\x82\xac \xf0\x9f\x93\xa7", 14,
	    "J\xc3\xb6rg \xe2\x82\xac \xf0\x9f\x93\xa7" },
	{ "esc: a lone continuation octet is U+FFFD", "a\x80z", 3,
	    "a\xef\xbf\xbdz" },
	{ "esc: a truncated sequence is U+FFFD", "a\xe2\x82", 3,
	    "a\xef\xbf\xbd\xef\xbf\xbd" },
	{ "esc: an overlong form is refused", "\xc0\xbc", 2,
	    "\xef\xbf\xbd\xef\xbf\xbd" },
	{ "esc: a surrogate is refused", "\xed\xa0\x80", 3,
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
	{ "esc: past U+10FFFF is refused", "\xf4\x90\x80\x80", 4,
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
	{ "esc: control characters dropped, tab kept", "a\x01\x1b\tb\x7f", 6,
	    "a\tb" },
	{ "esc: a NUL in the middle is dropped", "a\0b", 3, "ab" },
	{ "esc: C1 controls and U+FFFE dropped", "\xc2\x85x\xef\xbf\xbe", 6,
	    "x" },
};

static void
test_esc(void **state)
{
	const struct esc_case *tc = *state;
	struct evbuffer *out = evbuffer_new();
	char *s;

	web_esc_n(out, tc->in, tc->len);
	s = text_of(out);
	assert_string_equal(s, tc->want);
	free(s);
	evbuffer_free(out);
}

/* ---- numbers in words ---- */

struct words_case {
	const char	*name;
	int		 size;		/* else a duration */
	uint64_t	 v;
	const char	*want;
};

static const struct words_case words_cases[] = {
	{ "duration: 90m as the file says it", 0, 5400, "90 minutes" },
	{ "duration: whole hours", 0, 7200, "2 hours" },
	{ "duration: one hour", 0, 3600, "1 hour" },
	{ "duration: one day", 0, 86400, "1 day" },
	{ "duration: 36 hours", 0, 36 * 3600, "36 hours" },
	{ "duration: one second", 0, 1, "1 second" },
	{ "duration: minutes and seconds", 0, 61, "1 minute and 1 second" },
	{ "duration: three parts", 0, 3661,
	    "1 hour, 1 minute and 1 second" },
	{ "size: 10M", 1, 10ULL << 20, "10 MB" },
	{ "size: 4G", 1, 4ULL << 30, "4 GB" },
	{ "size: 1.5 GB", 1, 3ULL << 29, "1.5 GB" },
	{ "size: kilobytes", 1, 512 * 1024, "512 KB" },
	{ "size: bytes", 1, 100, "100 bytes" },
	{ "size: one byte", 1, 1, "1 byte" },
};

static void
test_words(void **state)
{
	const struct words_case *tc = *state;
	char out[128];

	if (tc->size)
		web_fmt_size(out, sizeof(out), tc->v);
	else
		web_fmt_duration(out, sizeof(out), tc->v);
	assert_string_equal(out, tc->want);
}

/* ---- the ports customers see ---- */

static struct config *
parse(const char *text)
{
	struct strlist errs;
	struct config *c;

	strlist_init(&errs);
	c = config_parse("test.conf", text, &errs);
	if (c == NULL)
		fail_msg("%s", errs.n > 0 ? errs.v[0] : "?");
	strlist_free(&errs);
	return c;
}

struct ports_case {
	const char	*name;
	const char	*conf;
	const char	*want;	/* "port/role[/gate]" each, sorted */
};

static const struct ports_case ports_cases[] = {
	{ "ports: by role then port, TLS mode by role",
	    "listen = 127.0.0.1:993 imaps\nlisten = 127.0.0.1:25 smtp\n"
	    "listen = 127.0.0.1:2525 smtp\nlisten = 127.0.0.1:465 submissions\n"
	    "listen = 127.0.0.1:587 submission\nlisten = 127.0.0.1:110 pop3\n",
	    "25/smtp 2525/smtp 587/submission 465/submissions* 110/pop3 "
	    "993/imaps*" },
	{ "ports: one row for a port on two addresses",
	    "listen = 0.0.0.0:25 smtp\nlisten = [::]:25 smtp\n"
	    "listen = [::]:995 pop3s\nlisten = 0.0.0.0:995 pop3s\n",
	    "25/smtp 995/pop3s*" },
	{ "ports: loopback ones hidden beside public ones",
	    "listen = 0.0.0.0:25 smtp\nlisten = 127.0.0.1:2526 smtp "
	    "gate=connect\nlisten = [::1]:143 imap\nlisten = 192.0.2.1:143 "
	    "imap\n",
	    "25/smtp 143/imap" },
	{ "ports: all loopback: all shown, gate noted",
	    "listen = 127.0.0.1:2526 smtp gate=connect\n"
	    "listen = 127.0.0.1:1110 pop3\n",
	    "2526/smtp/gate 1110/pop3" },
};

static void
test_ports(void **state)
{
	const struct ports_case *tc = *state;
	char conf[1024], got[512] = "";
	struct web_ports ps;
	struct config *c;
	size_t i, pos = 0;

	(void)str_fmt(conf, sizeof(conf), "hostname = mail.example.net\n%s",
	    tc->conf);
	c = parse(conf);
	web_ports_get(c, &ps);
	for (i = 0; i < ps.n; i++)
		pos += (size_t)snprintf(got + pos, sizeof(got) - pos,
		    "%s%u/%s%s%s", i ? " " : "", (unsigned)ps.v[i].port,
		    config_role_name(ps.v[i].role),
		    ps.v[i].implicit_tls ? "*" : "",
		    ps.v[i].gate_connect ? "/gate" : "");
	assert_string_equal(got, tc->want);
	web_ports_free(&ps);
	config_free(&c);
}

/* ---- the autodiscover request parser ---- */

#define NS "http://schemas.microsoft.com/exchange/autodiscover/outlook/" \
	"requestschema/2006"
#define RS "http://schemas.microsoft.com/exchange/autodiscover/outlook/" \
	"responseschema/2006a"
#define REQ(inner) "<Autodiscover xmlns=\"" NS "\"><Request>" inner \
	"</Request></Autodiscover>"

struct ad_case {
	const char	*name;
	const char	*body;
	int		 r;
	const char	*want;		/* the address, or the error */
	int		 schema_ok;
};

static const struct ad_case ad_cases[] = {
	{ "ad: Outlook's request", "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	    REQ("<EMailAddress>ann@acme.test</EMailAddress>"
	    "<AcceptableResponseSchema>" RS "</AcceptableResponseSchema>"),
	    0, "ann@acme.test", 1 },
	{ "ad: domain lower-cased, space trimmed, local part kept",
	    REQ("<EMailAddress>\n  Ann@ACME.Test \n</EMailAddress>"), 0,
	    "Ann@acme.test", 1 },
	{ "ad: no namespace", "<Autodiscover><Request><EMailAddress>"
	    "a@b.test</EMailAddress></Request></Autodiscover>", 0, "a@b.test",
	    1 },
	{ "ad: a prefixed namespace", "<x:Autodiscover xmlns:x=\"" NS "\">"
	    "<x:Request><x:EMailAddress>a@b.test</x:EMailAddress></x:Request>"
	    "</x:Autodiscover>", 0, "a@b.test", 1 },
	{ "ad: character references and CDATA",
	    REQ("<EMailAddress><![CDATA[ann]]>&#64;acme&#x2e;test"
	    "</EMailAddress>"), 0, "ann@acme.test", 1 },
	{ "ad: ISO-8859-1 is read as such",
	    "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
	    REQ("<EMailAddress>j\xf6rg@acme.test</EMailAddress>"), 0,
	    "j\xc3\xb6rg@acme.test", 1 },
	{ "ad: another schema", REQ("<EMailAddress>a@b.test</EMailAddress>"
	    "<AcceptableResponseSchema>urn:other</AcceptableResponseSchema>"),
	    0, "a@b.test", 0 },
	{ "ad: an EMailAddress outside Request is not it",
	    "<Autodiscover><EMailAddress>a@b.test</EMailAddress>"
	    "</Autodiscover>", -1, "the request names no EMailAddress", 0 },
	{ "ad: empty body", "", -1, "the request is no well-formed XML", 0 },
	{ "ad: not XML", "hello", -1, "the request is no well-formed XML",
	    0 },
	{ "ad: DOCTYPE refused",
	    "<!DOCTYPE a [<!ENTITY e \"x@y.test\">]>"
	    REQ("<EMailAddress>&e;</EMailAddress>"), -1,
	    "a DOCTYPE is not accepted", 0 },
	{ "ad: another root", "<Autodiscovery/>", -1,
	    "the document is no Autodiscover request", 0 },
	{ "ad: two addresses",
	    REQ("<EMailAddress>a@b.test</EMailAddress>"
	    "<EMailAddress>c@d.test</EMailAddress>"), -1,
	    "more than one EMailAddress", 0 },
	{ "ad: no address", REQ(""), -1, "the request names no EMailAddress",
	    0 },
	{ "ad: an empty address", REQ("<EMailAddress> </EMailAddress>"), -1,
	    "EMailAddress is no mail address", 0 },
	{ "ad: an address literal", REQ("<EMailAddress>a@[127.0.0.1]"
	    "</EMailAddress>"), -1, "EMailAddress is no mail address", 0 },
	{ "ad: markup in the address is no address",
	    REQ("<EMailAddress>a&lt;b@c.test</EMailAddress>"), -1,
	    "EMailAddress is no mail address", 0 },
};

static void
test_ad(void **state)
{
	const struct ad_case *tc = *state;
	char email[WEB_EMAIL_MAX];
	const char *err = NULL;
	int schema_ok = -1;
	int r;

	r = web_autodiscover_parse(tc->body, strlen(tc->body), email,
	    &schema_ok, &err);
	assert_int_equal(r, tc->r);
	if (r == 0) {
		assert_string_equal(email, tc->want);
		assert_int_equal(schema_ok, tc->schema_ok);
	} else {
		assert_non_null(err);
		assert_string_equal(err, tc->want);
	}
}

/* The limits: the address, the depth, the body. */
static void
test_ad_limits(void **state)
{
	char body[WEB_AUTODISCOVER_MAX + 64], email[WEB_EMAIL_MAX];
	const char *err = NULL;
	int ok, i, n;

	(void)state;
	n = snprintf(body, sizeof(body), "<Autodiscover><Request>"
	    "<EMailAddress>%0250d@a.test</EMailAddress></Request>"
	    "</Autodiscover>", 0);
	assert_int_equal(web_autodiscover_parse(body, (size_t)n, email, &ok,
	    &err), -1);
	assert_string_equal(err, "the address is too long");
	n = snprintf(body, sizeof(body), "<Autodiscover>");
	for (i = 0; i < 20; i++)
		n += snprintf(body + n, sizeof(body) - (size_t)n, "<x>");
	assert_int_equal(web_autodiscover_parse(body, (size_t)n, email, &ok,
	    &err), -1);
	assert_string_equal(err, "elements nested too deep");
	memset(body, ' ', sizeof(body));
	(void)str_ncopy(body, "<Autodiscover/>", 15, sizeof(body));
	body[15] = ' ';
	assert_int_equal(web_autodiscover_parse(body,
	    WEB_AUTODISCOVER_MAX + 1, email, &ok, &err), -1);
	assert_string_equal(err, "the request is too large");
}

/* ---- the DKIM zone line ---- */

static void
test_dkim_line(void **state)
{
	static struct store_dkim_key k;
	struct evbuffer *out = evbuffer_new();
	char *s, *p;
	size_t i;

	(void)state;
	(void)str_copy(k.domain, "acme.test", sizeof(k.domain));
	(void)str_copy(k.selector, "p20260101r", sizeof(k.selector));
	(void)str_copy(k.algorithm, "rsa-sha256", sizeof(k.algorithm));
	/* longer than one TXT string: split at 255 octets */
	for (i = 0; i < 400; i++)
		k.public_key[i] = "ABCD"[i % 4];
	k.public_key[400] = '\0';
	web_dns_dkim(out, &k);
	s = text_of(out);
	assert_true(strncmp(s, "p20260101r._domainkey.acme.test. IN TXT ( "
	    "\"v=DKIM1; k=rsa; p=ABCD", 62) == 0);
	p = strstr(s, "\" \"");
	assert_non_null(p);
	assert_int_equal(p - strchr(s, '"') - 1, 255);
	assert_string_equal(s + strlen(s) - 3, " )\n");
	free(s);
	evbuffer_free(out);
}

int
main(void)
{
	size_t i;
	int r;

#define ADD(table, fn)                                                     \
	for (i = 0; i < nitems(table); i++)                                \
		add_test(table[i].name, fn, &table[i])

	ADD(esc_cases, test_esc);
	ADD(words_cases, test_words);
	ADD(ports_cases, test_ports);
	ADD(ad_cases, test_ad);
	add_test("ad: limits", test_ad_limits, NULL);
	add_test("dkim zone line", test_dkim_line, NULL);
	r = _cmocka_run_group_tests("web", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
