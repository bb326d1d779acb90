/*
 * test_addr.c - RFC 5321 address syntax (src/core/addr.c).
 *
 * Table-driven; every row is its own cmocka test. Every input is copied
 * into a malloc'ed buffer of exactly its length, without a NUL, so that
 * AddressSanitizer stops any read past LEN. Path cases also run as the
 * prefix of a longer buffer (the rest of a MAIL FROM line after '>') and,
 * like a trickled input, as every shorter prefix of themselves, which must
 * all be refused without reading past their end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <stdbool.h>

#include "core/addr.h"
#include "util/compat.h"

/* ---- helpers ---- */


/* N bytes of S in a buffer of exactly N bytes (no NUL after them). */
static char *
exact(const char *s, size_t n)
{
	char *p = malloc(n);

	assert_true(p != NULL || n == 0);
	if (n > 0)
		memcpy(p, s, n);
	return p;
}

/* S followed by TAIL, in a buffer of exactly that length. */
static char *
exact_cat(const char *s, size_t n, const char *tail, size_t *len_r)
{
	size_t t = strlen(tail);
	char *p = malloc(n + t);

	assert_non_null(p);
	memcpy(p, s, n);
	memcpy(p + n, tail, t);
	*len_r = n + t;
	return p;
}

#define L10	"abcdefghij"
#define L60	L10 L10 L10 L10 L10 L10
#define L62	L60 "ab"
#define L63	L60 "abc"
#define L64	L60 "abcd"
#define L65	L60 "abcde"
/* 63 + 1 + 63 + 1 + 63 + 1 + 63 = 255 octets */
#define D255	L63 "." L63 "." L63 "." L63
/* 63 + 1 + 63 + 1 + 63 + 1 + 62 + 1 + 1 = 256 octets */
#define D256	L63 "." L63 "." L63 "." L62 ".a"
/* 64 + 1 + 189 = 254: the longest address (RFC 5321 4.5.3.1.3) */
#define D189	L63 "." L63 "." L60 "a"

#define E_NONASCII "non-ASCII address (internationalized addresses are " \
	"not supported here)"

/* ---- addr_domain_check ---- */

struct domain_case {
	const char	*name;
	const char	*in;
	size_t		 len;	/* 0: strlen(in) */
	unsigned	 flags;
	const char	*err;	/* NULL: valid */
};

static const struct domain_case domain_cases[] = {
	{ "domain simple", "example.com", 0, 0, NULL },
	{ "domain one label", "localhost", 0, 0, NULL },
	{ "domain upper case", "MAIL.Example.COM", 0, 0, NULL },
	{ "domain digits and inner hyphens", "mx-1.a--b.123.example", 0, 0,
	    NULL },
	{ "domain A-label", "xn--bcher-kva.example", 0, 0, NULL },
	{ "domain single-letter labels", "a.b.c", 0, 0, NULL },
	{ "domain label of 63", L63 ".example", 0, 0, NULL },
	{ "domain label of 64", L64 ".example", 0, 0,
	    "domain label longer than 63 octets" },
	{ "domain last label of 64", "example." L64, 0, 0,
	    "domain label longer than 63 octets" },
	{ "domain of 255", D255, 0, 0, NULL },
	{ "domain of 256", D256, 0, 0, "domain longer than 255 octets" },
	{ "domain empty", "", 0, 0, "empty domain" },
	{ "domain leading hyphen", "-mail.example", 0, 0,
	    "domain label starts with '-'" },
	{ "domain inner label leading hyphen", "mail.-x.example", 0, 0,
	    "domain label starts with '-'" },
	{ "domain trailing hyphen", "mail-.example", 0, 0,
	    "domain label ends with '-'" },
	{ "domain last label trailing hyphen", "mail.example-", 0, 0,
	    "domain label ends with '-'" },
	{ "domain empty first label", ".example.com", 0, 0,
	    "empty label in domain" },
	{ "domain empty inner label", "example..com", 0, 0,
	    "empty label in domain" },
	{ "domain trailing dot refused", "example.com.", 0, 0,
	    "domain ends with a dot" },
	{ "domain only a dot", ".", 0, 0, "domain ends with a dot" },
	{ "domain underscore", "_dmarc.example.com", 0, 0,
	    "invalid character in domain" },
	{ "domain blank", "exa mple.com", 0, 0,
	    "invalid character in domain" },
	{ "domain at sign", "elsewhere.test@hosted.test", 0, 0,
	    "invalid character in domain" },
	{ "domain NUL inside length", "exa\0mple.com", 12, 0,
	    "invalid character in domain" },
	{ "domain length shorter than string", "example.com.evil", 11, 0,
	    NULL },
	{ "domain non-ASCII without UTF8", "b\xc3\xbc" "cher.example", 0, 0,
	    E_NONASCII },
	{ "domain non-ASCII with UTF8", "b\xc3\xbc" "cher.example", 0,
	    ADDR_F_UTF8, NULL },
	{ "domain CJK with UTF8", "\xe4\xbe\x8b\xe5\xad\x90.\xe6\xb5\x8b"
	    "\xe8\xaf\x95", 0, ADDR_F_UTF8, NULL },
	{ "domain 4-byte UTF-8", "\xf0\x9f\x98\x80.example", 0, ADDR_F_UTF8,
	    NULL },
	{ "domain 63 octets of UTF-8",
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac.example", 0, ADDR_F_UTF8, NULL },
	{ "domain invalid UTF-8 continuation", "b\xc3\x28" "cher.example", 0,
	    ADDR_F_UTF8, "invalid UTF-8 in domain" },
	{ "domain invalid UTF-8 byte ff", "ex\xff" "ample.com", 0,
	    ADDR_F_UTF8, "invalid UTF-8 in domain" },
	{ "domain lone continuation byte", "ex\x80" "ample.com", 0,
	    ADDR_F_UTF8, "invalid UTF-8 in domain" },
	{ "domain overlong UTF-8", "ex\xc0\xae" "ample.com", 0, ADDR_F_UTF8,
	    "invalid UTF-8 in domain" },
	{ "domain overlong 3-byte UTF-8", "ex\xe0\x80\xae" "ample.com", 0,
	    ADDR_F_UTF8, "invalid UTF-8 in domain" },
	{ "domain UTF-16 surrogate", "ex\xed\xa0\x80" "ample.com", 0,
	    ADDR_F_UTF8, "invalid UTF-8 in domain" },
	{ "domain above U+10FFFF", "ex\xf4\x90\x80\x80" "ample.com", 0,
	    ADDR_F_UTF8, "invalid UTF-8 in domain" },
	{ "domain truncated UTF-8 at the end", "example.b\xc3", 0,
	    ADDR_F_UTF8, "invalid UTF-8 in domain" },
	{ "domain truncated 4-byte UTF-8 at the end", "example.\xf0\x9f\x98",
	    0, ADDR_F_UTF8, "invalid UTF-8 in domain" },
	{ "domain literal is no domain", "[127.0.0.1]", 0, ADDR_F_LITERAL,
	    "invalid character in domain" },
};

static void
test_domain(void **state)
{
	const struct domain_case *tc = *state;
	size_t n = tc->len != 0 ? tc->len : strlen(tc->in);
	char *buf = exact(tc->in, n);
	const char *err = NULL;
	int r;

	r = addr_domain_check(buf, n, tc->flags, &err);
	free(buf);
	if (tc->err == NULL) {
		if (r != 0)
			fail_msg("refused: %s", err != NULL ? err : "(null)");
	} else {
		assert_int_equal(r, -1);
		assert_non_null(err);
		assert_string_equal(err, tc->err);
	}
}

/* ---- addr_parse (a Mailbox without brackets) ---- */

struct mbox_case {
	const char	*name;
	const char	*in;
	unsigned	 flags;
	const char	*err;		/* NULL: valid, then: */
	const char	*local;
	const char	*domain;
	bool		 quoted, literal, utf8;
};

#define MBAD(n, i, f, e) { .name = (n), .in = (i), .flags = (f), .err = (e) }

static const struct mbox_case mbox_cases[] = {
	{ "mailbox simple", "user@example.com", 0, NULL, "user",
	    "example.com", false, false, false },
	{ "mailbox kept as on the wire", "User.Name+tag@Sub.Example.COM", 0,
	    NULL, "User.Name+tag", "Sub.Example.COM", false, false, false },
	{ "mailbox all atext specials", "!#$%&'*+-/=?^_`{|}~@example.com", 0,
	    NULL, "!#$%&'*+-/=?^_`{|}~", "example.com", false, false,
	    false },
	{ "mailbox local part of 64", L64 "@example.com", 0, NULL, L64,
	    "example.com", false, false, false },
	MBAD("mailbox local part of 65", L65 "@example.com", 0,
	    "local part longer than 64 octets"),
	{ "mailbox quoted local part of 64", "\"" L62 "\"@example.com", 0,
	    NULL, "\"" L62 "\"", "example.com", true, false, false },
	MBAD("mailbox quoted local part of 65", "\"" L63 "\"@example.com", 0,
	    "local part longer than 64 octets"),
	MBAD("mailbox domain of 255", "a@" D255, 0,
	    "address longer than 254 octets"),
	MBAD("mailbox domain of 256", "a@" D256, 0,
	    "domain longer than 255 octets"),
	{ "mailbox longest of all", L64 "@" D189, 0, NULL, L64, D189, false,
	    false, false },
	MBAD("mailbox one octet too long", L64 "@a." D189, 0,
	    "address longer than 254 octets"),
	/* open-relay tricks are plain local parts of the last domain */
	{ "percent hack is a local part", "user%elsewhere.test@hosted.test", 0,
	    NULL, "user%elsewhere.test", "hosted.test", false, false,
	    false },
	{ "bang path is a local part", "elsewhere.test!user@hosted.test", 0,
	    NULL, "elsewhere.test!user", "hosted.test", false, false,
	    false },
	{ "quoted at sign is a local part",
	    "\"user@elsewhere.test\"@hosted.test", 0, NULL,
	    "\"user@elsewhere.test\"", "hosted.test", true, false, false },
	MBAD("two at signs", "user@elsewhere.test@hosted.test", 0,
	    "invalid character in domain"),
	/* quoted local parts */
	{ "quoted with blank", "\"john smith\"@example.com", 0, NULL,
	    "\"john smith\"", "example.com", true, false, false },
	{ "quoted with escaped quote", "\"a\\\"b\"@example.com", 0, NULL,
	    "\"a\\\"b\"", "example.com", true, false, false },
	{ "quoted with escaped backslash", "\"a\\\\\"@example.com", 0, NULL,
	    "\"a\\\\\"", "example.com", true, false, false },
	MBAD("quoted with junk after", "\"abc\"def@example.com", 0,
	    "invalid character in local part"),
	MBAD("quoted unterminated", "\"abc@example.com", 0,
	    "unterminated quoted local part"),
	MBAD("quoted control character", "\"a\tb\"@example.com", 0,
	    "invalid character in quoted local part"),
	MBAD("quoted pair of a control character", "\"a\\\x01\"@example.com", 0,
	    "bad quoted pair in local part"),
	MBAD("quoted backslash at the end", "\"abc\\", 0,
	    "bad quoted pair in local part"),
	/* dot-atom errors */
	MBAD("empty local part", "@example.com", 0, "empty local part"),
	MBAD("no at sign", "user", 0, "address has no '@domain'"),
	MBAD("empty domain", "user@", 0, "empty domain"),
	MBAD("leading dot", ".user@example.com", 0,
	    "misplaced dot in local part"),
	MBAD("trailing dot", "user.@example.com", 0,
	    "misplaced dot in local part"),
	MBAD("double dot", "us..er@example.com", 0,
	    "misplaced dot in local part"),
	MBAD("blank in local part", "us er@example.com", 0,
	    "invalid character in local part"),
	MBAD("comma in local part", "us,er@example.com", 0,
	    "invalid character in local part"),
	MBAD("trailing dot in domain", "user@example.com.", 0,
	    "domain ends with a dot"),
	/* UTF-8 */
	MBAD("UTF-8 local part refused without SMTPUTF8",
	    "j\xc3\xb6ran@example.com", 0, E_NONASCII),
	{ "UTF-8 local part with SMTPUTF8", "j\xc3\xb6ran@example.com",
	    ADDR_F_UTF8, NULL, "j\xc3\xb6ran", "example.com", false, false,
	    true },
	{ "UTF-8 domain with SMTPUTF8", "user@b\xc3\xbc" "cher.example",
	    ADDR_F_UTF8, NULL, "user", "b\xc3\xbc" "cher.example", false,
	    false, true },
	MBAD("UTF-8 quoted local part refused without SMTPUTF8",
	    "\"j\xc3\xb6ran\"@example.com", 0, E_NONASCII),
	{ "UTF-8 quoted local part with SMTPUTF8",
	    "\"j\xc3\xb6 ran\"@example.com", ADDR_F_UTF8, NULL,
	    "\"j\xc3\xb6 ran\"", "example.com", true, false, true },
	MBAD("invalid UTF-8 local part", "j\xc3(ran@example.com", ADDR_F_UTF8,
	    "invalid UTF-8 in local part"),
	MBAD("invalid UTF-8 quoted local part", "\"j\xff\"@example.com",
	    ADDR_F_UTF8, "invalid UTF-8 in local part"),
	MBAD("truncated UTF-8 in local part", "\xe2\x82", ADDR_F_UTF8,
	    "invalid UTF-8 in local part"),
	/* address literals */
	{ "IPv4 literal", "user@[127.0.0.1]", ADDR_F_LITERAL, NULL, "user",
	    "[127.0.0.1]", false, true, false },
	MBAD("IPv4 literal refused", "user@[127.0.0.1]", 0,
	    "address literals are not accepted here"),
	{ "IPv6 literal", "user@[IPv6:::1]", ADDR_F_LITERAL, NULL, "user",
	    "[IPv6:::1]", false, true, false },
	{ "IPv6 literal full", "user@[IPv6:2001:db8::25]", ADDR_F_LITERAL,
	    NULL, "user", "[IPv6:2001:db8::25]", false, true, false },
	MBAD("IPv6 literal refused", "user@[IPv6:::1]", 0,
	    "address literals are not accepted here"),
	MBAD("IPv6 literal without tag", "user@[::1]", ADDR_F_LITERAL,
	    "bad address literal (only IPv4 and IPv6: literals are "
	    "accepted)"),
	MBAD("IPv6 tag with IPv4 address", "user@[IPv6:127.0.0.1]",
	    ADDR_F_LITERAL, "bad IPv6 address literal"),
	MBAD("bad IPv4 literal", "user@[127.0.0.256]", ADDR_F_LITERAL,
	    "bad address literal (only IPv4 and IPv6: literals are "
	    "accepted)"),
	MBAD("unterminated literal", "user@[127.0.0.1", ADDR_F_LITERAL,
	    "unterminated address literal"),
	MBAD("junk after literal", "user@[127.0.0.1]x", ADDR_F_LITERAL,
	    "junk after address literal"),
	MBAD("literal too long", "user@[IPv6:" L60 "]", ADDR_F_LITERAL,
	    "address literal too long"),
	MBAD("empty literal", "user@[]", ADDR_F_LITERAL,
	    "bad address literal (only IPv4 and IPv6: literals are "
	    "accepted)"),
};

static void
check_mbox(const struct mbox_case *tc, const struct mailaddr *a)
{
	assert_string_equal(a->local, tc->local);
	assert_string_equal(a->domain, tc->domain);
	assert_int_equal(a->quoted, tc->quoted);
	assert_int_equal(a->literal, tc->literal);
	assert_int_equal(a->utf8, tc->utf8);
}

static void
test_mbox(void **state)
{
	const struct mbox_case *tc = *state;
	size_t n = strlen(tc->in);
	char *buf = exact(tc->in, n);
	struct mailaddr a;
	const char *err = NULL;
	int r;

	r = addr_parse(buf, n, tc->flags, &a, &err);
	free(buf);
	if (tc->err == NULL) {
		if (r != 0)
			fail_msg("refused: %s", err != NULL ? err : "(null)");
		check_mbox(tc, &a);
	} else {
		if (r != -1)
			fail_msg("accepted, expected: %s", tc->err);
		assert_non_null(err);
		assert_string_equal(err, tc->err);
	}
}

/* ---- addr_parse_path ---- */

struct path_case {
	const char		*name;
	const char		*in;
	unsigned		 flags;
	const char		*err;	/* NULL: valid, then: */
	enum addr_path_kind	 kind;
	const char		*local;
	const char		*domain;
	bool			 quoted, literal, utf8;
	size_t			 end;	/* 0: the whole input */
};

#define F_ALL (ADDR_F_NULL | ADDR_F_POSTMASTER)

#define PBAD(n, i, f, e) { .name = (n), .in = (i), .flags = (f), .err = (e) }

static const struct path_case path_cases[] = {
	{ "path simple", "<user@example.com>", 0, NULL, ADDR_PATH_MAILBOX,
	    "user", "example.com", false, false, false, 0 },
	{ "path with SIZE parameter", "<user@example.com> SIZE=100", 0, NULL,
	    ADDR_PATH_MAILBOX, "user", "example.com", false, false, false,
	    18 },
	{ "path with two parameters",
	    "<user@example.com> SIZE=100 BODY=8BITMIME", 0, NULL,
	    ADDR_PATH_MAILBOX, "user", "example.com", false, false, false,
	    18 },
	{ "null path allowed", "<>", ADDR_F_NULL, NULL, ADDR_PATH_NULL, "",
	    "", false, false, false, 0 },
	{ "null path with parameter", "<> SIZE=1000", ADDR_F_NULL, NULL,
	    ADDR_PATH_NULL, "", "", false, false, false, 2 },
	PBAD("null path refused", "<>", ADDR_F_POSTMASTER,
	    "null address <> not allowed here"),
	PBAD("null path refused without flags", "<>", 0,
	    "null address <> not allowed here"),
	{ "postmaster allowed", "<postmaster>", ADDR_F_POSTMASTER, NULL,
	    ADDR_PATH_POSTMASTER, "", "", false, false, false, 0 },
	{ "postmaster any case", "<PostMaster>", F_ALL, NULL,
	    ADDR_PATH_POSTMASTER, "", "", false, false, false, 0 },
	{ "postmaster upper case", "<POSTMASTER> NOTIFY=NEVER",
	    ADDR_F_POSTMASTER, NULL, ADDR_PATH_POSTMASTER, "", "", false,
	    false, false, 12 },
	PBAD("postmaster refused without flag", "<postmaster>", ADDR_F_NULL,
	    "address has no '@domain'"),
	{ "postmaster at a domain is a mailbox", "<Postmaster@Example.COM>",
	    ADDR_F_POSTMASTER, NULL, ADDR_PATH_MAILBOX, "Postmaster",
	    "Example.COM", false, false, false, 0 },
	PBAD("postmaster prefix is not postmaster", "<postmasterx>",
	    ADDR_F_POSTMASTER, "address has no '@domain'"),
	/* source routes are dropped */
	{ "source route of two hops dropped",
	    "<@a.example,@b.example:user@c.example>", 0, NULL,
	    ADDR_PATH_MAILBOX, "user", "c.example", false, false, false, 0 },
	{ "source route of one hop dropped", "<@a.example:user@c.example>",
	    0, NULL, ADDR_PATH_MAILBOX, "user", "c.example", false, false,
	    false, 0 },
	{ "source route then parameter",
	    "<@a.example,@b.example:user@c.example> SIZE=5", 0, NULL,
	    ADDR_PATH_MAILBOX, "user", "c.example", false, false, false,
	    38 },
	PBAD("source route without colon", "<@a.example>", 0,
	    "bad source route"),
	PBAD("source route without second at",
	    "<@a.example,b.example:user@c.example>", 0, "bad source route"),
	PBAD("source route with bad domain", "<@a..example:user@c.example>", 0,
	    "empty label in domain"),
	PBAD("source route with empty domain", "<@:user@c.example>", 0,
	    "empty domain"),
	PBAD("source route to postmaster is no postmaster",
	    "<@a.example:postmaster>", ADDR_F_POSTMASTER,
	    "address has no '@domain'"),
	/* quoted local parts */
	{ "quoted local part", "<\"john smith\"@example.com>", 0, NULL,
	    ADDR_PATH_MAILBOX, "\"john smith\"", "example.com", true, false,
	    false, 0 },
	{ "quoted escaped quote", "<\"a\\\"b\"@example.com>", 0, NULL,
	    ADDR_PATH_MAILBOX, "\"a\\\"b\"", "example.com", true, false,
	    false, 0 },
	{ "quoted escaped quote then '>'", "<\"a\\\">b\"@example.com>", 0,
	    NULL, ADDR_PATH_MAILBOX, "\"a\\\">b\"", "example.com", true,
	    false, false, 0 },
	{ "quoted at sign", "<\"user@elsewhere.test\"@hosted.test>", 0, NULL,
	    ADDR_PATH_MAILBOX, "\"user@elsewhere.test\"", "hosted.test",
	    true, false, false, 0 },
	{ "quoted '>' does not end the path", "<\"a>b\"@example.com> SIZE=1",
	    0, NULL, ADDR_PATH_MAILBOX, "\"a>b\"", "example.com", true,
	    false, false, 19 },
	PBAD("quoted unterminated", "<\"user@example.com>", 0,
	    "missing '>' after address"),
	/* open-relay tricks */
	{ "path percent hack", "<user%elsewhere.test@hosted.test>", 0, NULL,
	    ADDR_PATH_MAILBOX, "user%elsewhere.test", "hosted.test", false,
	    false, false, 0 },
	{ "path bang path", "<elsewhere.test!user@hosted.test>", 0, NULL,
	    ADDR_PATH_MAILBOX, "elsewhere.test!user", "hosted.test", false,
	    false, false, 0 },
	PBAD("path two at signs", "<user@elsewhere.test@hosted.test>", 0,
	    "invalid character in domain"),
	/* brackets and blanks */
	PBAD("path without brackets", "user@example.com", 0,
	    "address must be in angle brackets <...>"),
	PBAD("path empty", "", F_ALL,
	    "address must be in angle brackets <...>"),
	PBAD("path only '<'", "<", F_ALL, "missing '>' after address"),
	PBAD("path missing '>'", "<user@example.com", 0,
	    "missing '>' after address"),
	PBAD("path blank before '<'", " <user@example.com>", 0,
	    "address must be in angle brackets <...>"),
	PBAD("path blank after '<'", "< user@example.com>", 0,
	    "invalid character in local part"),
	PBAD("path blank before '>'", "<user@example.com >", 0,
	    "invalid character in domain"),
	PBAD("path blank before '@'", "<user @example.com>", 0,
	    "invalid character in local part"),
	PBAD("path blank after '@'", "<user@ example.com>", 0,
	    "invalid character in domain"),
	PBAD("path without domain", "<user>", 0, "address has no '@domain'"),
	PBAD("path empty local part", "<@example.com>", 0,
	    "bad source route"),
	PBAD("path empty domain", "<user@>", 0, "empty domain"),
	PBAD("path trailing dot", "<user@example.com.>", 0,
	    "domain ends with a dot"),
	{ "path local part of 64", "<" L64 "@example.com>", 0, NULL,
	    ADDR_PATH_MAILBOX, L64, "example.com", false, false, false, 0 },
	PBAD("path local part of 65", "<" L65 "@example.com>", 0,
	    "local part longer than 64 octets"),
	PBAD("path domain of 255", "<a@" D255 ">", 0,
	    "address longer than 254 octets"),
	PBAD("path domain of 256", "<a@" D256 ">", 0,
	    "domain longer than 255 octets"),
	/* literals and UTF-8 */
	{ "path IPv4 literal", "<user@[127.0.0.1]>", ADDR_F_LITERAL, NULL,
	    ADDR_PATH_MAILBOX, "user", "[127.0.0.1]", false, true, false, 0 },
	PBAD("path IPv4 literal refused", "<user@[127.0.0.1]>", F_ALL,
	    "address literals are not accepted here"),
	{ "path IPv6 literal", "<user@[IPv6:::1]>", ADDR_F_LITERAL, NULL,
	    ADDR_PATH_MAILBOX, "user", "[IPv6:::1]", false, true, false, 0 },
	PBAD("path IPv6 literal refused", "<user@[IPv6:::1]>", 0,
	    "address literals are not accepted here"),
	{ "path UTF-8 with SMTPUTF8",
	    "<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe6\xb5\x8b"
	    "\xe8\xaf\x95>", ADDR_F_UTF8, NULL, ADDR_PATH_MAILBOX,
	    "\xe7\x94\xa8\xe6\x88\xb7",
	    "\xe4\xbe\x8b\xe5\xad\x90.\xe6\xb5\x8b\xe8\xaf\x95", false,
	    false, true, 0 },
	PBAD("path UTF-8 without SMTPUTF8",
	    "<\xe7\x94\xa8\xe6\x88\xb7@example.com>", 0, E_NONASCII),
	PBAD("path invalid UTF-8", "<user@ex\xff.com>", ADDR_F_UTF8,
	    "invalid UTF-8 in domain"),
	PBAD("path truncated UTF-8 before '>'", "<user@ex\xe2\x82>",
	    ADDR_F_UTF8,
	    "invalid UTF-8 in domain"),
};

static void
check_path(const struct path_case *tc, int r, const char *err,
    const struct mailaddr *a, enum addr_path_kind kind, size_t end,
    const char *how)
{
	size_t want_end = tc->end != 0 ? tc->end : strlen(tc->in);

	if (tc->err != NULL) {
		if (r != -1)
			fail_msg("%s: accepted, expected: %s", how, tc->err);
		if (err == NULL || strcmp(err, tc->err) != 0)
			fail_msg("%s: error '%s', expected '%s'", how,
			    err != NULL ? err : "(null)", tc->err);
		return;
	}
	if (r != 0)
		fail_msg("%s: refused: %s", how, err != NULL ? err : "(null)");
	assert_int_equal(kind, tc->kind);
	assert_int_equal(end, want_end);
	assert_string_equal(a->local, tc->local);
	assert_string_equal(a->domain, tc->domain);
	assert_int_equal(a->quoted, tc->quoted);
	assert_int_equal(a->literal, tc->literal);
	assert_int_equal(a->utf8, tc->utf8);
}

static int
run_path(const char *s, size_t n, unsigned flags, struct mailaddr *a,
    enum addr_path_kind *kind, size_t *end, const char **err)
{
	char *buf = exact(s, n);
	int r;

	*err = NULL;
	*kind = (enum addr_path_kind)-1;
	*end = (size_t)-1;
	r = addr_parse_path(buf, n, flags, a, kind, end, err);
	free(buf);
	if (r == 0)
		assert_true(*end <= n);
	return r;
}

static void
test_path(void **state)
{
	const struct path_case *tc = *state;
	/* What may follow the path on a MAIL/RCPT line; no '>', '"' or
	   ':' so that refusals stay the same. */
	static const char *const tails[] = { " SIZE=100 BODY=8BITMIME",
		"x", " " };
	/* After a valid path anything may follow. */
	static const char *const nasty[] = { ">", "\">\"<@a,@b:>",
		"@evil.example>" };
	size_t n = strlen(tc->in), len, i;
	struct mailaddr a;
	enum addr_path_kind kind;
	size_t end;
	const char *err;
	char *buf;
	int r;

	/* 1. exactly the input */
	r = run_path(tc->in, n, tc->flags, &a, &kind, &end, &err);
	check_path(tc, r, err, &a, kind, end, "exact");

	/* 2. the input as the prefix of a longer line */
	for (i = 0; i < nitems(tails); i++) {
		buf = exact_cat(tc->in, n, tails[i], &len);
		r = run_path(buf, len, tc->flags, &a, &kind, &end, &err);
		free(buf);
		check_path(tc, r, err, &a, kind, end, tails[i]);
	}
	if (tc->err == NULL) {
		for (i = 0; i < nitems(nasty); i++) {
			buf = exact_cat(tc->in, n, nasty[i], &len);
			r = run_path(buf, len, tc->flags, &a, &kind, &end,
			    &err);
			free(buf);
			check_path(tc, r, err, &a, kind, end, nasty[i]);
		}
	}

	/* 3. trickled: every shorter prefix of a complete path is refused
	   (the closing '>' is missing), never read past its end */
	if (tc->err == NULL) {
		size_t want_end = tc->end != 0 ? tc->end : n;

		for (i = 0; i < want_end; i++) {
			r = run_path(tc->in, i, tc->flags, &a, &kind, &end,
			    &err);
			if (r != -1)
				fail_msg("prefix of %zu bytes accepted", i);
			assert_non_null(err);
		}
	}
}

/* ---- addr_canonicalize, addr_format, addr_domain_of ---- */

struct canon_case {
	const char	*name;
	const char	*in;
	unsigned	 flags;
	const char	*local;
	const char	*domain;
	bool		 quoted;
};

static const struct canon_case canon_cases[] = {
	{ "canon lower-cases", "Ann.Lee@Example.COM", 0, "ann.lee",
	    "example.com", false },
	{ "canon unquotes a plain quoted string", "\"ann\"@X.Example", 0,
	    "ann", "x.example", false },
	{ "canon unquotes a quoted dot-atom", "\"Ann.Lee\"@x.example", 0,
	    "ann.lee", "x.example", false },
	{ "canon keeps a quoted blank", "\"a b\"@X.example", 0, "\"a b\"",
	    "x.example", true },
	{ "canon keeps a quoted blank, lower-cased", "\"A B\"@x.example", 0,
	    "\"a b\"", "x.example", true },
	{ "canon keeps an escape", "\"a\\\"b\"@x.example", 0, "\"a\\\"b\"",
	    "x.example", true },
	{ "canon keeps a quoted at sign", "\"user@elsewhere.test\"@hosted.test",
	    0, "\"user@elsewhere.test\"", "hosted.test", true },
	{ "canon keeps quoted double dot", "\"a..b\"@x.example", 0,
	    "\"a..b\"", "x.example", true },
	{ "canon keeps quoted leading dot", "\".a\"@x.example", 0, "\".a\"",
	    "x.example", true },
	{ "canon keeps empty quoted string", "\"\"@x.example", 0, "\"\"",
	    "x.example", true },
	{ "canon percent hack stays a local part",
	    "User%Elsewhere.Test@Hosted.Test", 0, "user%elsewhere.test",
	    "hosted.test", false },
	{ "canon unquotes UTF-8", "\"J\xc3\xb6ran\"@X.example", ADDR_F_UTF8,
	    "j\xc3\xb6ran", "x.example", false },
	{ "canon literal", "User@[IPv6:2001:DB8::1]", ADDR_F_LITERAL, "user",
	    "[ipv6:2001:db8::1]", false },
};

static void
test_canon(void **state)
{
	const struct canon_case *tc = *state;
	struct mailaddr a;
	const char *err;
	char out[ADDR_BUFSZ], want[ADDR_BUFSZ];

	if (addr_parse(tc->in, strlen(tc->in), tc->flags, &a, &err) != 0)
		fail_msg("refused: %s", err);
	addr_canonicalize(&a);
	assert_string_equal(a.local, tc->local);
	assert_string_equal(a.domain, tc->domain);
	assert_int_equal(a.quoted, tc->quoted);
	addr_format(&a, out, sizeof(out));
	(void)snprintf(want, sizeof(want), "%s@%s", tc->local, tc->domain);
	assert_string_equal(out, want);
	/* Canonical forms are fixed points. */
	addr_canonicalize(&a);
	assert_string_equal(a.local, tc->local);
	assert_string_equal(a.domain, tc->domain);
}

/* addr_canon_parse: the same canonical parts, and their text. */
static void
test_canon_type(void **state)
{
	const struct canon_case *tc = *state;
	struct addr_canon c, again;
	struct mailaddr given;
	const char *err;
	char want[ADDR_BUFSZ];

	if (addr_canon_parse(tc->in, strlen(tc->in), tc->flags, &c, &err) !=
	    0)
		fail_msg("refused: %s", err);
	assert_string_equal(c.a.local, tc->local);
	assert_string_equal(c.a.domain, tc->domain);
	assert_int_equal(c.a.quoted, tc->quoted);
	(void)snprintf(want, sizeof(want), "%s@%s", tc->local, tc->domain);
	assert_string_equal(c.text, want);
	/* From a parsed address: that one is left as given. */
	assert_int_equal(addr_parse(tc->in, strlen(tc->in), tc->flags,
	    &given, &err), 0);
	addr_canon_set(&again, &given);
	assert_string_equal(again.text, want);
	addr_format(&given, want, sizeof(want));
	assert_string_equal(want, tc->in);
}

static void
test_canon_refused(void **state)
{
	struct addr_canon c;
	const char *err = NULL;

	(void)state;
	assert_int_equal(addr_canon_parse("a@[192.0.2.1]", 13, 0, &c, &err),
	    -1);
	assert_non_null(err);
	assert_int_equal(addr_canon_parse("no-at-sign", 10, 0, &c, &err), -1);
}

static void
test_format_longest(void **state)
{
	struct mailaddr a;
	const char *err;
	char out[ADDR_BUFSZ];

	(void)state;
	assert_int_equal(addr_parse(L64 "@" D189, strlen(L64 "@" D189), 0, &a,
	    &err), 0);
	addr_format(&a, out, sizeof(out));
	assert_string_equal(out, L64 "@" D189);
	assert_int_equal(strlen(out), ADDR_MAX_LEN);
}

static void
test_domain_of(void **state)
{
	(void)state;
	assert_string_equal(addr_domain_of("user@example.com"), "example.com");
	assert_string_equal(addr_domain_of("\"a@b\"@c.example"), "c.example");
	assert_string_equal(addr_domain_of("nodomain"), "");
	assert_string_equal(addr_domain_of("user@"), "");
}

int
main(void)
{
	size_t i;
	int r;

#define ADD(table, fn)                                                     \
	for (i = 0; i < nitems(table); i++)                                \
		add_test(table[i].name, fn, &table[i])

	ADD(domain_cases, test_domain);
	ADD(mbox_cases, test_mbox);
	ADD(path_cases, test_path);
	ADD(canon_cases, test_canon);
	for (i = 0; i < nitems(canon_cases); i++) {
		static char names[nitems(canon_cases)][96];

		(void)snprintf(names[i], sizeof(names[i]), "addr_canon: %s",
		    canon_cases[i].name);
		add_test(names[i], test_canon_type, &canon_cases[i]);
	}
	add_test("addr_canon refuses what addr_parse refuses",
	    test_canon_refused, NULL);
	add_test("format the longest address", test_format_longest, NULL);
	add_test("addr_domain_of", test_domain_of, NULL);
	r = _cmocka_run_group_tests("addr", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
