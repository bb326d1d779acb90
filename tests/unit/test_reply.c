/*
 * test_reply.c - the SMTP reply tables (src/core/reply.c).
 *
 * Every entry of the three tables, as the line that goes on the wire
 * (and into the log). The expected lines are the texts the server sent
 * before the tables were typed, byte for byte: the tests of the protocol
 * assert them, and a table edit that changes one shows here first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testlib.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/reply.h"
#include "util/compat.h"

struct fixed_case {
	enum reply_id	 id;
	const char	*line;
};

struct text_case {
	enum reply_text_id	 id;
	const char		*value;
	const char		*line;
};

struct num_case {
	enum reply_num_id	 id;
	uint64_t		 value;
	const char		*line;
};

static const struct fixed_case fixed_cases[] = {
	{ REPLY_OK, "250 2.0.0 Ok" },
	{ REPLY_SENDER_OK, "250 2.1.0 Sender ok" },
	{ REPLY_RCPT_OK, "250 2.1.5 Recipient ok" },
	{ REPLY_RESET, "250 2.0.0 Reset" },
	{ REPLY_NOOP, "250 2.0.0 Ok" },
	{ REPLY_BYE, "221 2.0.0 Bye" },
	{ REPLY_DATA_GO, "354 End data with <CR><LF>.<CR><LF>" },
	{ REPLY_VRFY, "252 2.5.0 Cannot VRFY user, but will accept message and"
	    " attempt delivery" },
	{ REPLY_HELP,
	    "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP"
	    " QUIT VRFY HELP STARTTLS AUTH" },
	{ REPLY_STARTTLS_GO, "220 2.0.0 Ready to start TLS" },
	{ REPLY_UNKNOWN_CMD, "500 5.5.1 Command unrecognized" },
	{ REPLY_LINE_TOO_LONG,
	    "500 5.5.2 Line too long (at most 512 octets per command, "
	    "MAIL 612, RCPT 1012)" },
	{ REPLY_BARE_LF,
	    "500 5.5.2 Bare CR or LF in command; lines must end with CRLF" },
	{ REPLY_NOT_IMPL, "502 5.5.1 Command not implemented" },
	{ REPLY_NEED_HELO, "503 5.5.1 Error: send HELO/EHLO first" },
	{ REPLY_NEED_MAIL, "503 5.5.1 Error: need MAIL command" },
	{ REPLY_NEED_RCPT, "503 5.5.1 Error: need RCPT command" },
	{ REPLY_NESTED_MAIL, "503 5.5.1 Error: nested MAIL command" },
	{ REPLY_BAD_SEQUENCE, "503 5.5.1 Error: bad sequence of commands" },
	{ REPLY_TLS_ALREADY, "503 5.5.1 Error: TLS already active" },
	{ REPLY_NO_TLS_YET,
	    "503 5.5.1 Error: finish the transaction before STARTTLS" },
	{ REPLY_TLS_UNAVAILABLE, "454 4.7.0 TLS not available" },
	{ REPLY_TOO_MANY_RCPTS, "452 4.5.3 Too many recipients" },
	{ REPLY_DISK_FULL, "452 4.3.1 Insufficient system storage" },
	{ REPLY_TEMP_FAIL,
	    "451 4.3.0 Temporary lookup failure, try again later" },
	{ REPLY_LOCAL_ERROR,
	    "451 4.3.0 Local error in processing, try again later" },
	{ REPLY_DATA_BARE,
	    "550 5.6.0 Message refused: bare CR or LF in the message;"
	    " lines must end with CRLF" },
	{ REPLY_DATA_LONG_LINE,
	    "500 5.5.2 Message refused: a line is longer than 1000 octets" },
	{ REPLY_HEADER_TOO_BIG, "552 5.3.4 Message header section too large" },
	{ REPLY_TOO_MANY_ERRORS,
	    "421 4.7.0 Too many errors, closing connection" },
	{ REPLY_TIMEOUT, "421 4.4.2 Timeout, closing connection" },
	{ REPLY_SHUTDOWN,
	    "421 4.3.2 Service shutting down, closing connection" },
	{ REPLY_NO_MEMORY, "421 4.3.0 Out of resources, closing connection" },
	{ REPLY_AUTH_REQUIRED, "530 5.7.0 Authentication required" },
	{ REPLY_NEED_8BIT, "554 5.6.7 8-bit data needs BODY=8BITMIME" },
	{ REPLY_BDAT_MIXED, "503 5.5.1 Error: DATA after BDAT" },
	{ REPLY_SUBMISSION_ONLY,
	    "530 5.7.0 Must issue a STARTTLS command first" },
	{ REPLY_AUTH_MECH, "504 5.5.4 Unrecognized authentication mechanism" },
	{ REPLY_AUTH_INVALID, "535 5.7.8 Authentication credentials invalid" },
	{ REPLY_AUTH_OK, "235 2.7.0 Authentication successful" },
	{ REPLY_AUTH_TEMP,
	    "454 4.7.0 Temporary authentication failure, try again later" },
	{ REPLY_AUTH_CANCELLED, "501 5.0.0 Authentication cancelled" },
	{ REPLY_AUTH_ENCRYPT,
	    "538 5.7.11 Encryption required for requested authentication"
	    " mechanism" },
	{ REPLY_AUTH_CHALLENGE, "334 " },
	{ REPLY_AUTH_USERNAME, "334 VXNlcm5hbWU6" },
	{ REPLY_AUTH_PASSWORD, "334 UGFzc3dvcmQ6" },
};

static const struct text_case text_cases[] = {
	{ REPLY_QUEUED, "Q1234567",
	    "250 2.0.0 Ok: queued as Q1234567" },
	{ REPLY_SYNTAX, "some detail",
	    "501 5.5.4 Syntax error: some detail" },
	{ REPLY_BAD_ADDR, "some detail",
	    "501 5.1.3 Bad recipient address syntax: some detail" },
	{ REPLY_BAD_SENDER_ADDR, "some detail",
	    "501 5.1.7 Bad sender address syntax: some detail" },
	{ REPLY_PARAM_UNKNOWN, "some detail",
	    "555 5.5.4 Unsupported parameter: some detail" },
	{ REPLY_UNKNOWN_USER, "ann@acme.test",
	    "550 5.1.1 <ann@acme.test>: Recipient address rejected: no"
	    " such mailbox here" },
	{ REPLY_RELAY_DENIED, "ann@acme.test",
	    "554 5.7.1 <ann@acme.test>: Relay access denied" },
	{ REPLY_OVER_QUOTA, "ann@acme.test",
	    "452 4.2.2 <ann@acme.test>: Mailbox full" },
	{ REPLY_AUTH_BAD, "some detail",
	    "501 5.5.2 Invalid AUTH response: some detail" },
	{ REPLY_GATE, "mx.test " REPLY_CHECK_MAIL_FIRST "port 587",
	    "554 5.7.1 mx.test Relay access denied: check your mail"
	    " first (POP3 login), or use SMTP AUTH on port 587" },
	{ REPLY_GATE_TEMP, "mx.test",
	    "421 4.7.1 mx.test Relay check temporarily unavailable, try"
	    " again later" },
	{ REPLY_DMARC_REJECT, "example.org",
	    "550 5.7.1 Message refused: it fails the DMARC policy"
	    " (p=reject) of example.org" },
	{ REPLY_SPOOFED, "acme.test",
	    "550 5.7.1 Message refused: From: acme.test is hosted here, but"
	    " the message is neither DKIM-signed by it nor sent from a host"
	    " its SPF record allows" },
	{ REPLY_GREETING, "mx.test",
	    "220 mx.test ESMTP popgate" },
	{ REPLY_HELO, "mx.test",
	    "250 mx.test" },
};

static const struct num_case num_cases[] = {
	{ REPLY_BDAT_OK, 10485760,
	    "250 2.0.0 Ok: 10485760 octets received" },
	{ REPLY_MSG_TOO_BIG, 10485760,
	    "552 5.3.4 Message size exceeds the limit of 10485760 octets" },
};

static void
check_line(const char *got, size_t n, const char *want)
{
	assert_string_equal(got, want);
	assert_int_equal(n, strlen(want));
}

static void
test_fixed(void **state)
{
	const struct fixed_case *c = *state;
	char line[600];

	check_line(line, reply_line(line, sizeof(line), c->id), c->line);
}

static void
test_text(void **state)
{
	const struct text_case *c = *state;
	char line[600];

	check_line(line, reply_line_text(line, sizeof(line), c->id, c->value),
	    c->line);
}

static void
test_num(void **state)
{
	const struct num_case *c = *state;
	char line[600];

	check_line(line, reply_line_num(line, sizeof(line), c->id, c->value),
	    c->line);
}

/* Each entry of each table has its case, and is filled in. */
static void
test_every_entry(void **state)
{
	bool fixed[REPLY_NREPLIES] = { false }, text[REPLY_NTEXT] = { false },
	    num[REPLY_NNUM] = { false };
	size_t i;

	(void)state;
	for (i = 0; i < nitems(fixed_cases); i++)
		fixed[fixed_cases[i].id] = true;
	for (i = 0; i < nitems(text_cases); i++)
		text[text_cases[i].id] = true;
	for (i = 0; i < nitems(num_cases); i++)
		num[num_cases[i].id] = true;
	for (i = 0; i < REPLY_NREPLIES; i++) {
		if (!fixed[i])
			fail_msg("reply %zu has no case", i);
		assert_true(replies[i].code >= 200 && replies[i].code < 600);
		assert_non_null(replies[i].text);
		assert_null(replies[i].after);
	}
	for (i = 0; i < REPLY_NTEXT; i++) {
		if (!text[i])
			fail_msg("text reply %zu has no case", i);
		assert_true(replies_text[i].code >= 200);
		assert_non_null(replies_text[i].after);
	}
	for (i = 0; i < REPLY_NNUM; i++) {
		if (!num[i])
			fail_msg("number reply %zu has no case", i);
		assert_non_null(replies_num[i].after);
	}
	assert_int_equal(nitems(fixed_cases), REPLY_NREPLIES);
	assert_int_equal(nitems(text_cases), REPLY_NTEXT);
	assert_int_equal(nitems(num_cases), REPLY_NNUM);
}

/* A line longer than the buffer is cut, never overflows. */
static void
test_truncated(void **state)
{
	char line[12];

	(void)state;
	assert_int_equal(reply_line_text(line, sizeof(line), REPLY_QUEUED,
	    "Q1234567"), 11);
	assert_string_equal(line, "250 2.0.0 O");
	assert_int_equal(reply_line_num(line, 4, REPLY_BDAT_OK, 7), 3);
	assert_string_equal(line, "250");
}

int
main(void)
{
	size_t i;

	for (i = 0; i < nitems(fixed_cases); i++)
		add_test(fixed_cases[i].line, test_fixed, &fixed_cases[i]);
	for (i = 0; i < nitems(text_cases); i++)
		add_test(text_cases[i].line, test_text, &text_cases[i]);
	for (i = 0; i < nitems(num_cases); i++)
		add_test(num_cases[i].line, test_num, &num_cases[i]);
	add_test("every entry has a case", test_every_entry, NULL);
	add_test("truncated, not overflowed", test_truncated, NULL);
	i = (size_t)_cmocka_run_group_tests("reply", tests, ntests, NULL,
	    NULL);
	free(tests);
	return (int)i;
}
