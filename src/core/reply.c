/*
 * reply.c - the SMTP reply tables: code, RFC 3463 enhanced code, text;
 * and the one function that makes a reply line of an entry.
 */
#include <stdio.h>

#include "core/reply.h"
#include "util/compat.h"

const struct reply replies[REPLY_NREPLIES] = {
	[REPLY_OK] = { 250, "2.0.0", "Ok", NULL },
	[REPLY_SENDER_OK] = { 250, "2.1.0", "Sender ok", NULL },
	[REPLY_RCPT_OK] = { 250, "2.1.5", "Recipient ok", NULL },
	[REPLY_RESET] = { 250, "2.0.0", "Reset", NULL },
	[REPLY_NOOP] = { 250, "2.0.0", "Ok", NULL },
	[REPLY_BYE] = { 221, "2.0.0", "Bye", NULL },
	[REPLY_DATA_GO] = { 354, "", "End data with <CR><LF>.<CR><LF>", NULL },
	[REPLY_VRFY] = { 252, "2.5.0", "Cannot VRFY user, but will accept "
	    "message and attempt delivery", NULL },
	[REPLY_HELP] = { 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT "
	    "RSET NOOP QUIT VRFY HELP STARTTLS AUTH", NULL },
	[REPLY_STARTTLS_GO] = { 220, "2.0.0", "Ready to start TLS", NULL },
	[REPLY_UNKNOWN_CMD] = { 500, "5.5.1", "Command unrecognized", NULL },
	[REPLY_LINE_TOO_LONG] = { 500, "5.5.2", "Line too long (at most 512 "
	    "octets per command, MAIL 612, RCPT 1012)", NULL },
	[REPLY_BARE_LF] = { 500, "5.5.2", "Bare CR or LF in command; lines must "
	    "end with CRLF", NULL },
	[REPLY_NOT_IMPL] = { 502, "5.5.1", "Command not implemented", NULL },
	[REPLY_NEED_HELO] = { 503, "5.5.1", "Error: send HELO/EHLO first",
	    NULL },
	[REPLY_NEED_MAIL] = { 503, "5.5.1", "Error: need MAIL command", NULL },
	[REPLY_NEED_RCPT] = { 503, "5.5.1", "Error: need RCPT command", NULL },
	[REPLY_NESTED_MAIL] = { 503, "5.5.1", "Error: nested MAIL command",
	    NULL },
	[REPLY_BAD_SEQUENCE] = { 503, "5.5.1", "Error: bad sequence of "
	    "commands", NULL },
	[REPLY_TLS_ALREADY] = { 503, "5.5.1", "Error: TLS already active",
	    NULL },
	[REPLY_NO_TLS_YET] = { 503, "5.5.1", "Error: finish the transaction "
	    "before STARTTLS", NULL },
	[REPLY_TLS_UNAVAILABLE] = { 454, "4.7.0", "TLS not available", NULL },
	[REPLY_TOO_MANY_RCPTS] = { 452, "4.5.3", "Too many recipients", NULL },
	[REPLY_DISK_FULL] = { 452, "4.3.1", "Insufficient system storage",
	    NULL },
	[REPLY_TEMP_FAIL] = { 451, "4.3.0", "Temporary lookup failure, try "
	    "again later", NULL },
	[REPLY_LOCAL_ERROR] = { 451, "4.3.0", "Local error in processing, try "
	    "again later", NULL },
	[REPLY_DATA_BARE] = { 550, "5.6.0", "Message refused: bare CR or LF in "
	    "the message; lines must end with CRLF", NULL },
	[REPLY_DATA_LONG_LINE] = { 500, "5.5.2", "Message refused: a line is "
	    "longer than 1000 octets", NULL },
	[REPLY_HEADER_TOO_BIG] = { 552, "5.3.4", "Message header section too "
	    "large", NULL },
	[REPLY_TOO_MANY_ERRORS] = { 421, "4.7.0", "Too many errors, closing "
	    "connection", NULL },
	[REPLY_TIMEOUT] = { 421, "4.4.2", "Timeout, closing connection", NULL },
	[REPLY_SHUTDOWN] = { 421, "4.3.2", "Service shutting down, closing "
	    "connection", NULL },
	[REPLY_NO_MEMORY] = { 421, "4.3.0", "Out of resources, closing "
	    "connection", NULL },
	[REPLY_AUTH_REQUIRED] = { 530, "5.7.0", "Authentication required",
	    NULL },
	[REPLY_NEED_8BIT] = { 554, "5.6.7", "8-bit data needs BODY=8BITMIME",
	    NULL },
	[REPLY_BDAT_MIXED] = { 503, "5.5.1", "Error: DATA after BDAT", NULL },
	[REPLY_SUBMISSION_ONLY] = { 530, "5.7.0", "Must issue a STARTTLS "
	    "command first", NULL },
	[REPLY_AUTH_MECH] = { 504, "5.5.4", "Unrecognized authentication "
	    "mechanism", NULL },
	/* RFC 4954 section 6. */
	[REPLY_AUTH_OK] = { 235, "2.7.0", "Authentication successful", NULL },
	[REPLY_AUTH_INVALID] = { 535, "5.7.8", "Authentication credentials "
	    "invalid", NULL },
	[REPLY_AUTH_TEMP] = { 454, "4.7.0", "Temporary authentication "
	    "failure, try again later", NULL },
	[REPLY_AUTH_CANCELLED] = { 501, "5.0.0", "Authentication cancelled",
	    NULL },
	[REPLY_AUTH_ENCRYPT] = { 538, "5.7.11", "Encryption required for "
	    "requested authentication mechanism", NULL },
	/* 334 carries base64 and no enhanced code (RFC 4954 section 4). */
	[REPLY_AUTH_CHALLENGE] = { 334, "", "", NULL },
	[REPLY_AUTH_USERNAME] = { 334, "", "VXNlcm5hbWU6", NULL },
	[REPLY_AUTH_PASSWORD] = { 334, "", "UGFzc3dvcmQ6", NULL },
};

const struct reply replies_text[REPLY_NTEXT] = {
	/* RFC 5321 4.3.1: "220 domain text"; no enhanced code can come
	   before the domain. */
	[REPLY_GREETING] = { 220, "", "", " ESMTP popgate" },
	[REPLY_HELO] = { 250, "", "", "" },
	[REPLY_QUEUED] = { 250, "2.0.0", "Ok: queued as ", "" },
	[REPLY_SYNTAX] = { 501, "5.5.4", "Syntax error: ", "" },
	[REPLY_BAD_ADDR] = { 501, "5.1.3", "Bad recipient address syntax: ",
	    "" },
	[REPLY_BAD_SENDER_ADDR] = { 501, "5.1.7", "Bad sender address syntax: ",
	    "" },
	[REPLY_PARAM_UNKNOWN] = { 555, "5.5.4", "Unsupported parameter: ", "" },
	[REPLY_UNKNOWN_USER] = { 550, "5.1.1", "<", ">: Recipient address "
	    "rejected: no such mailbox here" },
	[REPLY_RELAY_DENIED] = { 554, "5.7.1", "<", ">: Relay access denied" },
	[REPLY_OVER_QUOTA] = { 452, "4.2.2", "<", ">: Mailbox full" },
	[REPLY_AUTH_BAD] = { 501, "5.5.2", "Invalid AUTH response: ", "" },
	/* gate=connect refuses in the greeting, so the name comes first;
	   the value is "NAME " REPLY_CHECK_MAIL_FIRST "PORTS". */
	[REPLY_GATE] = { 554, "5.7.1", "", "" },
	[REPLY_GATE_TEMP] = { 421, "4.7.1", "", " Relay check temporarily "
	    "unavailable, try again later" },
	/* RFC 7372 has no code for DMARC: 5.7.1, as the big providers
	   answer. The value is the From: domain. */
	[REPLY_DMARC_REJECT] = { 550, "5.7.1", "Message refused: it fails "
	    "the DMARC policy (p=reject) of ", "" },
	[REPLY_SPOOFED] = { 550, "5.7.1", "Message refused: From: ", " is "
	    "hosted here, but the message is neither DKIM-signed by it nor "
	    "sent from a host its SPF record allows" },
};

const struct reply replies_num[REPLY_NNUM] = {
	[REPLY_BDAT_OK] = { 250, "2.0.0", "Ok: ", " octets received" },
	[REPLY_MSG_TOO_BIG] = { 552, "5.3.4", "Message size exceeds the limit "
	    "of ", " octets" },
};

/* "CODE [ESC ]TEXT[VALUE AFTER]" into OUT. */
static size_t
line(char *out, size_t outsz, const struct reply *r, const char *value)
{
	int n;

	n = snprintf(out, outsz, "%d %s%s%s%s%s", r->code, r->esc,
	    *r->esc != '\0' ? " " : "", r->text, value != NULL ? value : "",
	    value != NULL ? r->after : "");
	if (n < 0) {
		out[0] = '\0';
		return 0;
	}
	return (size_t)n < outsz ? (size_t)n : outsz - 1;
}

size_t
reply_line(char *out, size_t outsz, enum reply_id id)
{
	return line(out, outsz, &replies[id], NULL);
}

size_t
reply_line_text(char *out, size_t outsz, enum reply_text_id id,
    const char *value)
{
	return line(out, outsz, &replies_text[id], value);
}

size_t
reply_line_num(char *out, size_t outsz, enum reply_num_id id,
    uint64_t value)
{
	char num[24];

	(void)snprintf(num, sizeof(num), "%llu", (unsigned long long)value);
	return line(out, outsz, &replies_num[id], num);
}
