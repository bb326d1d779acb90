/*
 * test_smtp_cmd.c - SMTP command-line parsing (src/smtp/smtp_cmd.c):
 * smtp_cmd_verb, smtp_parse_mail, smtp_parse_rcpt, smtp_parse_bdat,
 * smtp_parse_helo.
 *
 * Table-driven; every row is its own cmocka test. Every input is copied
 * into a malloc'ed buffer of exactly its length, without a NUL, so that
 * AddressSanitizer stops any read past LEN. Like a trickled input, every
 * shorter prefix of each input is parsed too (in its own exact buffer):
 * the result is not checked, only that nothing reads past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_cmd.h"
#include "util/compat.h"

/* No reply: the expectation of the cases that parse. */
#define NO_REPLY REPLY_NTEXT

/* ---- helpers ---- */


/* The one input buffer alive: exact() replaces it, the teardown frees
   it, so that a failed assertion (a longjmp) leaks nothing. */
static char *input;

static int
free_input(void **state)
{
	(void)state;
	free(input);
	input = NULL;
	return 0;
}

#define TEST_TEARDOWN free_input
#include "testlib.h"


/* N bytes of S in a buffer of exactly N bytes (no NUL after them); the
   previous one is freed. */
static char *
exact(const char *s, size_t n)
{
	char *p;

	free(input);
	input = p = malloc(n);
	assert_true(p != NULL || n == 0);
	if (n > 0)
		memcpy(p, s, n);
	return p;
}

/* The length of a row's input: LEN when set (inputs with NUL), else
   strlen. */
static size_t
in_len(const char *s, size_t len)
{
	return len != 0 ? len : strlen(s);
}

#define L10	"abcdefghij"
#define L60	L10 L10 L10 L10 L10 L10
#define L63	L60 "abc"
#define L64	L60 "abcd"
#define L65	L60 "abcde"
/* 63 + 1 + 63 + 1 + 63 + 1 + 63 = 255 octets */
#define D255	L63 "." L63 "." L63 "." L63
#define D256	L63 "." L63 "." L63 "." L60 "ab.a"
#define E100	L10 L10 L10 L10 L10 L10 L10 L10 L10 L10
#define E101	E100 "x"

/* ---- smtp_cmd_verb ---- */

struct verb_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	enum smtp_verb	 verb;
	const char	*arg;		/* what *ARG_R holds, ARGLEN long */
};

static const struct verb_case verb_cases[] = {
	{ "verb NOOP", "NOOP", 0, V_NOOP, "" },
	{ "verb noop lower case", "noop", 0, V_NOOP, "" },
	{ "verb mixed case", "mAiL FROM:<a@b.c>", 0, V_MAIL, "FROM:<a@b.c>" },
	{ "verb HELO", "HELO client.example", 0, V_HELO, "client.example" },
	{ "verb EHLO", "EHLO client.example", 0, V_EHLO, "client.example" },
	{ "verb RCPT", "RCPT TO:<a@b.c>", 0, V_RCPT, "TO:<a@b.c>" },
	{ "verb DATA", "DATA", 0, V_DATA, "" },
	{ "verb BDAT", "BDAT 10 LAST", 0, V_BDAT, "10 LAST" },
	{ "verb RSET", "RSET", 0, V_RSET, "" },
	{ "verb QUIT", "QUIT", 0, V_QUIT, "" },
	{ "verb VRFY", "VRFY ann", 0, V_VRFY, "ann" },
	{ "verb EXPN", "EXPN staff", 0, V_EXPN, "staff" },
	{ "verb HELP", "HELP", 0, V_HELP, "" },
	{ "verb STARTTLS", "STARTTLS", 0, V_STARTTLS, "" },
	{ "verb starttls lower", "starttls", 0, V_STARTTLS, "" },
	{ "verb AUTH", "AUTH PLAIN AGFubgBz", 0, V_AUTH, "PLAIN AGFubgBz" },
	{ "verb with trailing blank", "NOOP ", 0, V_NOOP, "" },
	{ "verb one blank only is skipped", "MAIL  FROM:<>", 0, V_MAIL,
	    " FROM:<>" },
	{ "verb argument keeps trailing blanks", "VRFY x  ", 0, V_VRFY,
	    "x  " },
	{ "verb unknown", "FOO", 0, V_UNKNOWN, "" },
	{ "verb unknown with argument", "FOO BAR", 0, V_UNKNOWN, "BAR" },
	{ "verb prefix of a verb", "NOO", 0, V_UNKNOWN, "" },
	{ "verb longer than a verb", "NOOPS", 0, V_UNKNOWN, "" },
	{ "verb glued to its argument", "MAILFROM:<a@b.c>", 0, V_UNKNOWN,
	    "" },
	{ "verb empty line", "", 0, V_UNKNOWN, "" },
	{ "verb leading blank", " NOOP", 0, V_UNKNOWN, "NOOP" },
	{ "verb tab is no separator", "NOOP\tx", 0, V_UNKNOWN, "" },
	{ "verb NUL inside", "NO\0P", 4, V_UNKNOWN, "" },
	{ "verb NUL after a verb", "NOOP\0", 5, V_UNKNOWN, "" },
	{ "verb 8-bit", "\xc3\x96OOP", 0, V_UNKNOWN, "" },
	{ "verb length shorter than string", "NOOPXYZ", 4, V_NOOP, "" },
};

static void
test_verb(void **state)
{
	const struct verb_case *tc = *state;
	size_t n = in_len(tc->in, tc->len), arglen, i;
	char *buf = exact(tc->in, n);
	const char *arg;

	assert_int_equal(smtp_cmd_verb(buf, n, &arg, &arglen), tc->verb);
	assert_true(arg >= buf && arg <= buf + n);
	assert_true(arg + arglen <= buf + n);
	assert_int_equal(arglen, strlen(tc->arg));
	assert_memory_equal(arg, tc->arg, arglen);
	for (i = 0; i < n; i++) {
		buf = exact(tc->in, i);
		(void)smtp_cmd_verb(buf, i, &arg, &arglen);
		assert_true(arg + arglen <= buf + i);
	}
}

/* ---- smtp_parse_mail ---- */

struct mail_case {
	const char		*name;
	const char		*in;
	size_t			 len;
	int			 r;
	enum reply_text_id	 reply;		/* when r == -1 */
	const char		*detail;	/* when r == -1, or NULL */
	/* when r == 0 */
	enum addr_path_kind	 kind;
	const char		*local, *domain;
	bool			 has_size;
	uint64_t		 size;
	enum smtp_body		 body;
	bool			 smtputf8;
	const char		*envid, *ret;
};

#define MOK(nm, s, kd, lo, dom, hs, sz, bd, u8, env, rt)                 \
	{ nm, s, 0, 0, NO_REPLY, NULL, kd, lo, dom, hs, sz, bd, u8, env, rt }
#define MBOX(nm, s, lo, dom)                                              \
	MOK(nm, s, ADDR_PATH_MAILBOX, lo, dom, false, 0, BODY_UNSPEC, false, \
	    "", "")
#define MBAD(nm, s, rid, det)                                             \
	{ nm, s, 0, -1, rid, det, 0, NULL, NULL, false, 0, 0, false, NULL, \
	    NULL }

static const struct mail_case mail_cases[] = {
	/* paths */
	MBOX("mail plain", "FROM:<a@example.org>", "a", "example.org"),
	MBOX("mail lower-case FROM", "from:<a@example.org>", "a",
	    "example.org"),
	MBOX("mail blank after the colon", "FROM: <a@example.org>", "a",
	    "example.org"),
	MBOX("mail blanks after the colon", "FROM:   <a@example.org>", "a",
	    "example.org"),
	MBOX("mail trailing blank", "FROM:<a@example.org> ", "a",
	    "example.org"),
	MBOX("mail source route dropped", "FROM:<@relay.example:a@example.org>",
	    "a", "example.org"),
	MBOX("mail address literal", "FROM:<a@[192.0.2.1]>", "a",
	    "[192.0.2.1]"),
	MBOX("mail quoted local part", "FROM:<\"a b\"@example.org>",
	    "\"a b\"", "example.org"),
	MBOX("mail longest local part", "FROM:<" L64 "@example.org>", L64,
	    "example.org"),
	MOK("mail null path", "FROM:<>", ADDR_PATH_NULL, "", "", false, 0,
	    BODY_UNSPEC, false, "", ""),
	MOK("mail null path with blank", "FROM: <>", ADDR_PATH_NULL, "", "",
	    false, 0, BODY_UNSPEC, false, "", ""),
	MOK("mail null path with SIZE", "FROM:<> SIZE=100", ADDR_PATH_NULL,
	    "", "", true, 100, BODY_UNSPEC, false, "", ""),
	MBAD("mail no colon", "FROM <a@example.org>", REPLY_SYNTAX,
	    "use MAIL FROM:<address>"),
	MBAD("mail TO instead of FROM", "TO:<a@example.org>", REPLY_SYNTAX,
	    "use MAIL FROM:<address>"),
	MBAD("mail empty", "", REPLY_SYNTAX, "use MAIL FROM:<address>"),
	MBAD("mail FRO", "FRO", REPLY_SYNTAX, "use MAIL FROM:<address>"),
	MBAD("mail no path", "FROM:", REPLY_BAD_SENDER_ADDR, NULL),
	MBAD("mail only blanks", "FROM:   ", REPLY_BAD_SENDER_ADDR, NULL),
	MBAD("mail without brackets", "FROM:a@example.org",
	    REPLY_BAD_SENDER_ADDR, NULL),
	MBAD("mail unterminated path", "FROM:<a@example.org",
	    REPLY_BAD_SENDER_ADDR, NULL),
	MBAD("mail postmaster is no sender", "FROM:<postmaster>",
	    REPLY_BAD_SENDER_ADDR, NULL),
	MBAD("mail local part of 65", "FROM:<" L65 "@example.org>",
	    REPLY_BAD_SENDER_ADDR, NULL),
	MBAD("mail domain of 256", "FROM:<a@" D256 ">", REPLY_BAD_SENDER_ADDR,
	    NULL),
	MBAD("mail trailing dot", "FROM:<a@example.org.>", REPLY_BAD_SENDER_ADDR,
	    NULL),
	MBAD("mail UTF-8 without SMTPUTF8", "FROM:<j\xc3\xb6@example.org>",
	    REPLY_BAD_SENDER_ADDR, NULL),
	MBAD("mail junk after the path", "FROM:<a@example.org>junk",
	    REPLY_SYNTAX, "junk after the address"),
	MBAD("mail parameter glued to the path", "FROM:<a@example.org>SIZE=1",
	    REPLY_SYNTAX, "junk after the address"),
	MBAD("mail second path", "FROM:<a@example.org><b@example.org>",
	    REPLY_SYNTAX, "junk after the address"),
	MBAD("mail blank inside the path", "FROM:< a@example.org>",
	    REPLY_BAD_SENDER_ADDR, NULL),
	/* SIZE (RFC 1870) */
	MOK("mail SIZE", "FROM:<a@example.org> SIZE=12345", ADDR_PATH_MAILBOX,
	    "a", "example.org", true, 12345, BODY_UNSPEC, false, "", ""),
	MOK("mail size lower case", "FROM:<a@example.org> size=7",
	    ADDR_PATH_MAILBOX, "a", "example.org", true, 7, BODY_UNSPEC,
	    false, "", ""),
	MOK("mail SIZE=0", "FROM:<a@example.org> SIZE=0", ADDR_PATH_MAILBOX,
	    "a", "example.org", true, 0, BODY_UNSPEC, false, "", ""),
	MOK("mail SIZE max uint64", "FROM:<a@example.org> "
	    "SIZE=18446744073709551615", ADDR_PATH_MAILBOX, "a",
	    "example.org", true, UINT64_MAX, BODY_UNSPEC, false, "", ""),
	MOK("mail SIZE blanks around parameters",
	    "FROM:<a@example.org>   SIZE=5   ", ADDR_PATH_MAILBOX, "a",
	    "example.org", true, 5, BODY_UNSPEC, false, "", ""),
	MBAD("mail SIZE overflow", "FROM:<a@example.org> "
	    "SIZE=18446744073709551616", REPLY_SYNTAX, "bad SIZE value"),
	MBAD("mail SIZE not a number", "FROM:<a@example.org> SIZE=12a",
	    REPLY_SYNTAX, "bad SIZE value"),
	MBAD("mail SIZE negative", "FROM:<a@example.org> SIZE=-1", REPLY_SYNTAX,
	    "bad SIZE value"),
	MBAD("mail SIZE empty value", "FROM:<a@example.org> SIZE=", REPLY_SYNTAX,
	    "bad MAIL parameter syntax"),
	MBAD("mail SIZE without value", "FROM:<a@example.org> SIZE",
	    REPLY_PARAM_UNKNOWN, "unknown or repeated MAIL parameter"),
	MBAD("mail SIZE repeated", "FROM:<a@example.org> SIZE=1 SIZE=1",
	    REPLY_PARAM_UNKNOWN, "unknown or repeated MAIL parameter"),
	/* BODY (RFC 6152, 3030) */
	MOK("mail BODY=7BIT", "FROM:<a@example.org> BODY=7BIT",
	    ADDR_PATH_MAILBOX, "a", "example.org", false, 0, BODY_7BIT,
	    false, "", ""),
	MOK("mail BODY=8BITMIME", "FROM:<a@example.org> BODY=8BITMIME",
	    ADDR_PATH_MAILBOX, "a", "example.org", false, 0, BODY_8BITMIME,
	    false, "", ""),
	MOK("mail body=8bitmime lower case", "FROM:<a@example.org> "
	    "body=8bitmime", ADDR_PATH_MAILBOX, "a", "example.org", false, 0,
	    BODY_8BITMIME, false, "", ""),
	MOK("mail BODY=BINARYMIME parses", "FROM:<a@example.org> "
	    "BODY=BINARYMIME", ADDR_PATH_MAILBOX, "a", "example.org", false,
	    0, BODY_BINARYMIME, false, "", ""),
	MBAD("mail BODY unknown", "FROM:<a@example.org> BODY=9BIT",
	    REPLY_PARAM_UNKNOWN, "BODY must be 7BIT, 8BITMIME or BINARYMIME"),
	MBAD("mail BODY prefix", "FROM:<a@example.org> BODY=8BIT",
	    REPLY_PARAM_UNKNOWN, "BODY must be 7BIT, 8BITMIME or BINARYMIME"),
	MBAD("mail BODY repeated", "FROM:<a@example.org> BODY=7BIT "
	    "BODY=8BITMIME", REPLY_PARAM_UNKNOWN,
	    "unknown or repeated MAIL parameter"),
	MBAD("mail BODY without value", "FROM:<a@example.org> BODY",
	    REPLY_PARAM_UNKNOWN, "unknown or repeated MAIL parameter"),
	/* SMTPUTF8 (RFC 6531) */
	MOK("mail SMTPUTF8", "FROM:<a@example.org> SMTPUTF8",
	    ADDR_PATH_MAILBOX, "a", "example.org", false, 0, BODY_UNSPEC,
	    true, "", ""),
	MOK("mail SMTPUTF8 allows a UTF-8 path",
	    "FROM:<j\xc3\xb6ran@b\xc3\xbc" "cher.example> SMTPUTF8",
	    ADDR_PATH_MAILBOX, "j\xc3\xb6ran", "b\xc3\xbc" "cher.example",
	    false, 0, BODY_UNSPEC, true, "", ""),
	MOK("mail SMTPUTF8 after other parameters",
	    "FROM:<j\xc3\xb6@example.org> SIZE=9 BODY=8BITMIME smtputf8",
	    ADDR_PATH_MAILBOX, "j\xc3\xb6", "example.org", true, 9,
	    BODY_8BITMIME, true, "", ""),
	MOK("mail SMTPUTF8 with '>' in a quoted local part",
	    "FROM:<\"a>\xc3\xb6\"@example.org> SMTPUTF8", ADDR_PATH_MAILBOX,
	    "\"a>\xc3\xb6\"", "example.org", false, 0, BODY_UNSPEC, true,
	    "", ""),
	MBAD("mail SMTPUTF8 with a value", "FROM:<a@example.org> "
	    "SMTPUTF8=yes", REPLY_PARAM_UNKNOWN,
	    "unknown or repeated MAIL parameter"),
	/* AUTH= (RFC 4954 section 5) */
	MBOX("mail AUTH=<>", "FROM:<a@example.org> AUTH=<>", "a",
	    "example.org"),
	MBOX("mail AUTH=address", "FROM:<a@example.org> AUTH=a@example.org",
	    "a", "example.org"),
	MBOX("mail AUTH xtext", "FROM:<a@example.org> AUTH=a+2Bb@example.org",
	    "a", "example.org"),
	MBAD("mail AUTH without value", "FROM:<a@example.org> AUTH",
	    REPLY_PARAM_UNKNOWN, "unknown or repeated MAIL parameter"),
	/* RET and ENVID (RFC 3461) */
	MOK("mail RET=FULL", "FROM:<a@example.org> RET=FULL",
	    ADDR_PATH_MAILBOX, "a", "example.org", false, 0, BODY_UNSPEC,
	    false, "", "FULL"),
	MOK("mail RET=HDRS", "FROM:<a@example.org> RET=HDRS",
	    ADDR_PATH_MAILBOX, "a", "example.org", false, 0, BODY_UNSPEC,
	    false, "", "HDRS"),
	MBAD("mail RET unknown", "FROM:<a@example.org> RET=HEADERS",
	    REPLY_SYNTAX, "RET must be FULL or HDRS"),
	MOK("mail RET any case", "FROM:<a@example.org> ret=full",
	    ADDR_PATH_MAILBOX, "a", "example.org", false, 0, BODY_UNSPEC,
	    false, "", "FULL"),
	MBAD("mail RET twice", "FROM:<a@example.org> RET=FULL RET=HDRS",
	    REPLY_PARAM_UNKNOWN, "unknown or repeated MAIL parameter"),
	MBAD("mail ENVID bad xtext", "FROM:<a@example.org> ENVID=a+4",
	    REPLY_SYNTAX, "ENVID must be xtext of at most 100 octets"),
	MOK("mail ENVID", "FROM:<a@example.org> ENVID=QQ314159",
	    ADDR_PATH_MAILBOX, "a", "example.org", false, 0, BODY_UNSPEC,
	    false, "QQ314159", ""),
	MOK("mail ENVID of 100", "FROM:<a@example.org> ENVID=" E100,
	    ADDR_PATH_MAILBOX, "a", "example.org", false, 0, BODY_UNSPEC,
	    false, E100, ""),
	MBAD("mail ENVID of 101", "FROM:<a@example.org> ENVID=" E101,
	    REPLY_SYNTAX, "ENVID must be xtext of at most 100 octets"),
	MBAD("mail ENVID with '='", "FROM:<a@example.org> ENVID=a=b",
	    REPLY_SYNTAX, "bad MAIL parameter syntax"),
	MOK("mail every parameter", "FROM:<a@example.org> SIZE=1000 "
	    "BODY=8BITMIME SMTPUTF8 AUTH=<> RET=HDRS ENVID=id1",
	    ADDR_PATH_MAILBOX, "a", "example.org", true, 1000, BODY_8BITMIME,
	    true, "id1", "HDRS"),
	/* unknown parameters, bad syntax */
	MBAD("mail unknown parameter", "FROM:<a@example.org> FOO=bar",
	    REPLY_PARAM_UNKNOWN, "unknown or repeated MAIL parameter"),
	MBAD("mail unknown keyword alone", "FROM:<a@example.org> X-FOO",
	    REPLY_PARAM_UNKNOWN, "unknown or repeated MAIL parameter"),
	MBAD("mail RCPT parameter on MAIL", "FROM:<a@example.org> "
	    "NOTIFY=NEVER", REPLY_PARAM_UNKNOWN,
	    "unknown or repeated MAIL parameter"),
	MBAD("mail keyword starting with '-'", "FROM:<a@example.org> -X=1",
	    REPLY_SYNTAX, "bad MAIL parameter syntax"),
	MBAD("mail keyword with '_'", "FROM:<a@example.org> X_Y=1",
	    REPLY_SYNTAX, "bad MAIL parameter syntax"),
	MBAD("mail empty keyword", "FROM:<a@example.org> =1", REPLY_SYNTAX,
	    "bad MAIL parameter syntax"),
	MBAD("mail control character in value",
	    "FROM:<a@example.org> ENVID=a\x01" "b", REPLY_SYNTAX,
	    "bad MAIL parameter syntax"),
	{ "mail NUL in value", "FROM:<a@example.org> ENVID=a\0b", 30, -1,
	    REPLY_SYNTAX, "bad MAIL parameter syntax", 0, NULL, NULL, false, 0,
	    0, false, NULL, NULL },
	{ "mail length shorter than string",
	    "FROM:<a@example.org> SIZE=12junk", 28, 0, NO_REPLY, NULL,
	    ADDR_PATH_MAILBOX, "a", "example.org", true, 12, BODY_UNSPEC,
	    false, "", "" },
};

static void
test_mail(void **state)
{
	const struct mail_case *tc = *state;
	size_t n = in_len(tc->in, tc->len), i;
	char *buf = exact(tc->in, n);
	struct smtp_mail_args m;
	enum reply_text_id rid = NO_REPLY;
	const char *detail = NULL;
	int r;

	r = smtp_parse_mail(buf, n, &m, &rid, &detail);
	if (r != tc->r)
		fail_msg("returned %d, want %d (reply %d, %s)", r, tc->r,
		    (int)rid, detail != NULL ? detail : "");
	if (r == -1) {
		assert_int_equal(rid, tc->reply);
		assert_non_null(detail);
		if (tc->detail != NULL)
			assert_string_equal(detail, tc->detail);
	} else {
		assert_int_equal(m.kind, tc->kind);
		if (tc->kind == ADDR_PATH_MAILBOX) {
			assert_string_equal(m.addr.local, tc->local);
			assert_string_equal(m.addr.domain, tc->domain);
		}
		assert_int_equal(m.has_size, tc->has_size);
		assert_true(m.size == tc->size);
		assert_int_equal(m.body, tc->body);
		assert_int_equal(m.smtputf8, tc->smtputf8);
		assert_string_equal(m.envid, tc->envid);
		assert_string_equal(m.ret, tc->ret);
	}
	for (i = 0; i < n; i++) {
		buf = exact(tc->in, i);
		(void)smtp_parse_mail(buf, i, &m, &rid, &detail);
	}
}

/* ---- smtp_parse_rcpt ---- */

struct rcpt_case {
	const char		*name;
	const char		*in;
	bool			 smtputf8;
	int			 r;
	enum reply_text_id	 reply;
	const char		*detail;
	enum addr_path_kind	 kind;
	const char		*local, *domain;
	unsigned		 notify;
	const char		*orcpt;
};

#define ROK(nm, s, u8, kd, lo, dom, nt, oc)                              \
	{ nm, s, u8, 0, NO_REPLY, NULL, kd, lo, dom, nt, oc }
#define RBOX(nm, s, lo, dom)                                             \
	ROK(nm, s, false, ADDR_PATH_MAILBOX, lo, dom, 0, "")
#define RBAD(nm, s, u8, rid, det)                                        \
	{ nm, s, u8, -1, rid, det, 0, NULL, NULL, 0, NULL }
#define N_S	DSN_NOTIFY_SUCCESS
#define N_F	DSN_NOTIFY_FAILURE
#define N_D	DSN_NOTIFY_DELAY
#define N_N	DSN_NOTIFY_NEVER

static const struct rcpt_case rcpt_cases[] = {
	RBOX("rcpt plain", "TO:<ann@acme.test>", "ann", "acme.test"),
	RBOX("rcpt lower-case TO", "to:<ann@acme.test>", "ann", "acme.test"),
	RBOX("rcpt blank after the colon", "TO: <ann@acme.test>", "ann",
	    "acme.test"),
	RBOX("rcpt keeps the case", "TO:<Ann@ACME.Test>", "Ann", "ACME.Test"),
	RBOX("rcpt trailing blank", "TO:<ann@acme.test> ", "ann",
	    "acme.test"),
	ROK("rcpt postmaster", "TO:<postmaster>", false,
	    ADDR_PATH_POSTMASTER, NULL, NULL, 0, ""),
	ROK("rcpt PostMaster any case", "TO:<PostMaster>", false,
	    ADDR_PATH_POSTMASTER, NULL, NULL, 0, ""),
	RBOX("rcpt postmaster of a domain is a mailbox",
	    "TO:<postmaster@acme.test>", "postmaster", "acme.test"),
	RBOX("rcpt source route dropped",
	    "TO:<@acme.test:user@elsewhere.test>", "user", "elsewhere.test"),
	RBOX("rcpt source route of two hops",
	    "TO:<@a.example,@b.example:ann@acme.test>", "ann", "acme.test"),
	RBOX("rcpt percent hack is a local part",
	    "TO:<user%elsewhere.test@acme.test>", "user%elsewhere.test",
	    "acme.test"),
	RBOX("rcpt quoted at sign is a local part",
	    "TO:<\"user@elsewhere.test\"@acme.test>",
	    "\"user@elsewhere.test\"", "acme.test"),
	RBOX("rcpt address literal", "TO:<user@[127.0.0.1]>", "user",
	    "[127.0.0.1]"),
	RBAD("rcpt two at signs", "TO:<user@elsewhere.test@acme.test>",
	    false, REPLY_BAD_ADDR, NULL),
	RBAD("rcpt trailing dot", "TO:<user@elsewhere.test.>", false,
	    REPLY_BAD_ADDR, NULL),
	RBAD("rcpt null path", "TO:<>", false, REPLY_BAD_ADDR, NULL),
	RBAD("rcpt no brackets", "TO:ann@acme.test", false, REPLY_BAD_ADDR,
	    NULL),
	RBAD("rcpt postmaster without brackets", "TO:postmaster", false,
	    REPLY_BAD_ADDR, NULL),
	RBAD("rcpt no colon", "TO <ann@acme.test>", false, REPLY_SYNTAX,
	    "use RCPT TO:<address>"),
	RBAD("rcpt FROM", "FROM:<ann@acme.test>", false, REPLY_SYNTAX,
	    "use RCPT TO:<address>"),
	RBAD("rcpt empty", "", false, REPLY_SYNTAX, "use RCPT TO:<address>"),
	RBAD("rcpt junk after the path", "TO:<ann@acme.test>x", false,
	    REPLY_SYNTAX, "junk after the address"),
	RBAD("rcpt UTF-8 without SMTPUTF8", "TO:<j\xc3\xb6@acme.test>", false,
	    REPLY_BAD_ADDR, NULL),
	ROK("rcpt UTF-8 with SMTPUTF8", "TO:<j\xc3\xb6@acme.test>", true,
	    ADDR_PATH_MAILBOX, "j\xc3\xb6", "acme.test", 0, ""),
	/* DSN (RFC 3461) */
	ROK("rcpt NOTIFY", "TO:<ann@acme.test> NOTIFY=SUCCESS,FAILURE", false,
	    ADDR_PATH_MAILBOX, "ann", "acme.test", N_S | N_F, ""),
	ROK("rcpt NOTIFY=NEVER", "TO:<ann@acme.test> notify=NEVER", false,
	    ADDR_PATH_MAILBOX, "ann", "acme.test", N_N, ""),
	ROK("rcpt ORCPT", "TO:<ann@acme.test> ORCPT=rfc822;ann@acme.test",
	    false, ADDR_PATH_MAILBOX, "ann", "acme.test", 0,
	    "rfc822;ann@acme.test"),
	ROK("rcpt ORCPT xtext", "TO:<ann@acme.test> ORCPT=rfc822;a+2Bb@x.y",
	    false, ADDR_PATH_MAILBOX, "ann", "acme.test", 0,
	    "rfc822;a+2Bb@x.y"),
	ROK("rcpt NOTIFY and ORCPT", "TO:<ann@acme.test> NOTIFY=DELAY "
	    "ORCPT=rfc822;x@y.z", false, ADDR_PATH_MAILBOX, "ann", "acme.test",
	    N_D, "rfc822;x@y.z"),
	ROK("rcpt postmaster with NOTIFY", "TO:<postmaster> NOTIFY=NEVER",
	    false, ADDR_PATH_POSTMASTER, NULL, NULL, N_N, ""),
	ROK("rcpt NOTIFY all three, any order and case", "TO:<ann@acme.test> "
	    "NOTIFY=delay,Success,FAILURE", false, ADDR_PATH_MAILBOX, "ann",
	    "acme.test", N_S | N_F | N_D, ""),
	ROK("rcpt ORCPT utf-8 type", "TO:<ann@acme.test> "
	    "ORCPT=utf-8;ann@acme.test", false, ADDR_PATH_MAILBOX, "ann",
	    "acme.test", 0, "utf-8;ann@acme.test"),
	RBAD("rcpt NOTIFY repeated keyword", "TO:<ann@acme.test> "
	    "NOTIFY=SUCCESS,FAILURE,DELAY,SUCCESS", false, REPLY_SYNTAX,
	    "NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY"),
	RBAD("rcpt NOTIFY NEVER with others", "TO:<ann@acme.test> "
	    "NOTIFY=NEVER,FAILURE", false, REPLY_SYNTAX,
	    "NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY"),
	RBAD("rcpt NOTIFY unknown keyword", "TO:<ann@acme.test> "
	    "NOTIFY=ALWAYS", false, REPLY_SYNTAX,
	    "NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY"),
	RBAD("rcpt NOTIFY empty item", "TO:<ann@acme.test> "
	    "NOTIFY=SUCCESS,", false, REPLY_SYNTAX,
	    "NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY"),
	RBAD("rcpt NOTIFY twice", "TO:<ann@acme.test> NOTIFY=NEVER "
	    "NOTIFY=NEVER", false, REPLY_PARAM_UNKNOWN,
	    "unknown or repeated RCPT parameter"),
	RBAD("rcpt ORCPT without type", "TO:<ann@acme.test> "
	    "ORCPT=ann@acme.test", false, REPLY_SYNTAX,
	    "ORCPT must be addr-type;xtext of at most 500 octets"),
	RBAD("rcpt ORCPT bad xtext", "TO:<ann@acme.test> "
	    "ORCPT=rfc822;a+2", false, REPLY_SYNTAX,
	    "ORCPT must be addr-type;xtext of at most 500 octets"),
	RBAD("rcpt ORCPT lower-case hex", "TO:<ann@acme.test> "
	    "ORCPT=rfc822;a+2bb", false, REPLY_SYNTAX,
	    "ORCPT must be addr-type;xtext of at most 500 octets"),
	RBAD("rcpt ORCPT empty address", "TO:<ann@acme.test> ORCPT=rfc822;",
	    false, REPLY_SYNTAX,
	    "ORCPT must be addr-type;xtext of at most 500 octets"),
	RBAD("rcpt NOTIFY without value", "TO:<ann@acme.test> NOTIFY", false,
	    REPLY_PARAM_UNKNOWN, "unknown or repeated RCPT parameter"),
	RBAD("rcpt unknown parameter", "TO:<ann@acme.test> FOO=1", false,
	    REPLY_PARAM_UNKNOWN, "unknown or repeated RCPT parameter"),
	RBAD("rcpt MAIL parameter on RCPT", "TO:<ann@acme.test> SIZE=1",
	    false, REPLY_PARAM_UNKNOWN, "unknown or repeated RCPT parameter"),
	RBAD("rcpt bad parameter syntax", "TO:<ann@acme.test> =x", false,
	    REPLY_SYNTAX, "bad RCPT parameter syntax"),
	RBAD("rcpt value with '='", "TO:<ann@acme.test> ORCPT=a=b", false,
	    REPLY_SYNTAX, "bad RCPT parameter syntax"),
};

static void
test_rcpt(void **state)
{
	const struct rcpt_case *tc = *state;
	size_t n = strlen(tc->in), i;
	char *buf = exact(tc->in, n);
	struct smtp_rcpt_args a;
	enum reply_text_id rid = NO_REPLY;
	const char *detail = NULL;
	int r;

	r = smtp_parse_rcpt(buf, n, tc->smtputf8, &a, &rid, &detail);
	if (r != tc->r)
		fail_msg("returned %d, want %d (reply %d, %s)", r, tc->r,
		    (int)rid, detail != NULL ? detail : "");
	if (r == -1) {
		assert_int_equal(rid, tc->reply);
		assert_non_null(detail);
		if (tc->detail != NULL)
			assert_string_equal(detail, tc->detail);
	} else {
		assert_int_equal(a.kind, tc->kind);
		if (tc->kind == ADDR_PATH_MAILBOX) {
			assert_string_equal(a.addr.local, tc->local);
			assert_string_equal(a.addr.domain, tc->domain);
		}
		assert_int_equal(a.notify, tc->notify);
		assert_string_equal(a.orcpt, tc->orcpt);
	}
	for (i = 0; i < n; i++) {
		buf = exact(tc->in, i);
		(void)smtp_parse_rcpt(buf, i, tc->smtputf8, &a, &rid,
		    &detail);
	}
}

/* ---- smtp_parse_bdat ---- */

struct bdat_case {
	const char	*name;
	const char	*in;
	int		 r;
	uint64_t	 size;
	bool		 last;
};

static const struct bdat_case bdat_cases[] = {
	{ "bdat size", "100", 0, 100, false },
	{ "bdat size LAST", "100 LAST", 0, 100, true },
	{ "bdat size last lower case", "100 last", 0, 100, true },
	{ "bdat 0 LAST", "0 LAST", 0, 0, true },
	{ "bdat 0", "0", 0, 0, false },
	{ "bdat leading zeros", "007", 0, 7, false },
	{ "bdat max uint64", "18446744073709551615", 0, UINT64_MAX, false },
	{ "bdat max uint64 LAST", "18446744073709551615 LAST", 0, UINT64_MAX,
	    true },
	{ "bdat overflow", "18446744073709551616", -1, 0, false },
	{ "bdat 21 digits", "000000000000000000001", -1, 0, false },
	{ "bdat empty", "", -1, 0, false },
	{ "bdat not a number", "abc", -1, 0, false },
	{ "bdat negative", "-1", -1, 0, false },
	{ "bdat plus sign", "+1", -1, 0, false },
	{ "bdat hex", "0x10", -1, 0, false },
	{ "bdat leading blank", " 10", -1, 0, false },
	{ "bdat two blanks before LAST", "10  LAST", -1, 0, false },
	{ "bdat blank after LAST", "10 LAST ", -1, 0, false },
	{ "bdat trailing blank", "10 ", -1, 0, false },
	{ "bdat LASTX", "10 LASTX", -1, 0, false },
	{ "bdat LAS", "10 LAS", -1, 0, false },
	{ "bdat other word", "10 FIRST", -1, 0, false },
	{ "bdat two numbers", "1 0", -1, 0, false },
	{ "bdat LAST alone", "LAST", -1, 0, false },
	{ "bdat tab", "10\tLAST", -1, 0, false },
};

static void
test_bdat(void **state)
{
	const struct bdat_case *tc = *state;
	size_t n = strlen(tc->in), i;
	char *buf = exact(tc->in, n);
	uint64_t size = 12345;
	bool last = true;
	int r;

	r = smtp_parse_bdat(buf, n, &size, &last);
	assert_int_equal(r, tc->r);
	if (r == 0) {
		assert_true(size == tc->size);
		assert_int_equal(last, tc->last);
	}
	for (i = 0; i < n; i++) {
		buf = exact(tc->in, i);
		(void)smtp_parse_bdat(buf, i, &size, &last);
	}
}

/* ---- smtp_parse_helo ---- */

struct helo_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	int		 r;
	const char	*detail;
};

static const struct helo_case helo_cases[] = {
	{ "helo domain", "client.example", 0, 0, NULL },
	{ "helo bare host name", "localhost", 0, 0, NULL },
	{ "helo underscore accepted", "my_host.example", 0, 0, NULL },
	{ "helo upper case", "CLIENT.EXAMPLE", 0, 0, NULL },
	{ "helo trailing dot accepted", "client.example.", 0, 0, NULL },
	{ "helo IPv4 literal", "[192.0.2.1]", 0, 0, NULL },
	{ "helo IPv6 literal", "[IPv6:2001:db8::1]", 0, 0, NULL },
	{ "helo name of 255", D255, 0, 0, NULL },
	{ "helo name of 256", D256, 0, -1, "EHLO/HELO name too long" },
	{ "helo empty", "", 0, -1, "EHLO and HELO need a domain name" },
	{ "helo blank inside", "client example", 0, -1,
	    "bad character in EHLO/HELO name" },
	{ "helo trailing blank", "client.example ", 0, -1,
	    "bad character in EHLO/HELO name" },
	{ "helo angle brackets", "<client.example>", 0, -1,
	    "bad character in EHLO/HELO name" },
	{ "helo parenthesis", "client(x)", 0, -1,
	    "bad character in EHLO/HELO name" },
	{ "helo semicolon", "a;b", 0, -1, "bad character in EHLO/HELO name" },
	{ "helo quote", "a\"b", 0, -1, "bad character in EHLO/HELO name" },
	{ "helo backslash", "a\\b", 0, -1,
	    "bad character in EHLO/HELO name" },
	{ "helo closing bracket", "a]", 0, -1,
	    "bad character in EHLO/HELO name" },
	{ "helo tab", "a\tb", 0, -1, "bad character in EHLO/HELO name" },
	{ "helo DEL", "a\x7f", 0, -1, "bad character in EHLO/HELO name" },
	{ "helo 8-bit", "b\xc3\xbc" "cher.example", 0, -1,
	    "bad character in EHLO/HELO name" },
	{ "helo NUL", "a\0b", 3, -1, "bad character in EHLO/HELO name" },
	{ "helo bad IPv4 literal", "[300.1.1.1]", 0, -1,
	    "bad address literal in EHLO/HELO" },
	{ "helo unterminated literal", "[192.0.2.1", 0, -1,
	    "bad address literal in EHLO/HELO" },
	{ "helo empty literal", "[]", 0, -1,
	    "bad address literal in EHLO/HELO" },
	{ "helo junk after literal", "[192.0.2.1]x", 0, -1,
	    "bad address literal in EHLO/HELO" },
	{ "helo NUL after literal", "[192.0.2.1]\0x", 13, -1, NULL },
	{ "helo NUL inside literal", "[192.0\0.2.1]", 12, -1, NULL },
	{ "helo huge literal", "[" D255 "]", 0, -1,
	    "bad address literal in EHLO/HELO" },
	{ "helo length shorter than string", "client.example junk", 14, 0,
	    NULL },
};

static void
test_helo(void **state)
{
	const struct helo_case *tc = *state;
	size_t n = in_len(tc->in, tc->len), i;
	char *buf = exact(tc->in, n);
	const char *detail = NULL;
	int r;

	r = smtp_parse_helo(buf, n, &detail);
	if (r != tc->r)
		fail_msg("returned %d, want %d (%s)", r, tc->r,
		    detail != NULL ? detail : "");
	if (r == -1) {
		assert_non_null(detail);
		if (tc->detail != NULL)
			assert_string_equal(detail, tc->detail);
	}
	for (i = 0; i < n; i++) {
		buf = exact(tc->in, i);
		(void)smtp_parse_helo(buf, i, &detail);
	}
}

int
main(void)
{
	size_t i;
	int r;

#define ADD(table, fn)                                                     \
	for (i = 0; i < nitems(table); i++)                                \
		add_test(table[i].name, fn, &table[i])

	ADD(verb_cases, test_verb);
	ADD(mail_cases, test_mail);
	ADD(rcpt_cases, test_rcpt);
	ADD(bdat_cases, test_bdat);
	ADD(helo_cases, test_helo);
	r = _cmocka_run_group_tests("smtp_cmd", tests, ntests, NULL, NULL);
	free(tests);
	return r;
}
