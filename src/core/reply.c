/*
 * reply.c - the SMTP reply table: code, RFC 3463 enhanced code, text.
 */
#include "core/reply.h"
#include "util/compat.h"

const struct reply replies[REPLY_NREPLIES] = {
	[REPLY_OK] = { 250, "2.0.0", "Ok" },
	[REPLY_SENDER_OK] = { 250, "2.1.0", "Sender ok" },
	[REPLY_RCPT_OK] = { 250, "2.1.5", "Recipient ok" },
	[REPLY_RESET] = { 250, "2.0.0", "Reset" },
	[REPLY_NOOP] = { 250, "2.0.0", "Ok" },
	[REPLY_BYE] = { 221, "2.0.0", "Bye" },
	[REPLY_DATA_GO] = { 354, "", "End data with <CR><LF>.<CR><LF>" },
	[REPLY_VRFY] = { 252, "2.5.0", "Cannot VRFY user, but will accept "
	    "message and attempt delivery" },
	[REPLY_HELP] = { 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT "
	    "RSET NOOP QUIT VRFY HELP STARTTLS AUTH" },
	[REPLY_STARTTLS_GO] = { 220, "2.0.0", "Ready to start TLS" },
	[REPLY_QUEUED] = { 250, "2.0.0", "Ok: queued as %s" },
	[REPLY_BDAT_OK] = { 250, "2.0.0", "Ok: %llu octets received" },
	[REPLY_UNKNOWN_CMD] = { 500, "5.5.1", "Command unrecognized" },
	[REPLY_LINE_TOO_LONG] = { 500, "5.5.2", "Line too long (at most 512 "
	    "octets per command)" },
	[REPLY_BARE_LF] = { 500, "5.5.2", "Bare CR or LF in command; lines must "
	    "end with CRLF" },
	[REPLY_SYNTAX] = { 501, "5.5.4", "Syntax error: %s" },
	[REPLY_BAD_ADDR] = { 501, "5.1.3", "Bad recipient address syntax: %s" },
	[REPLY_BAD_SENDER_ADDR] = { 501, "5.1.7", "Bad sender address syntax: %s" },
	[REPLY_PARAM_UNKNOWN] = { 555, "5.5.4", "Unsupported parameter: %s" },
	[REPLY_NOT_IMPL] = { 502, "5.5.1", "Command not implemented" },
	[REPLY_NEED_HELO] = { 503, "5.5.1", "Error: send HELO/EHLO first" },
	[REPLY_NEED_MAIL] = { 503, "5.5.1", "Error: need MAIL command" },
	[REPLY_NEED_RCPT] = { 503, "5.5.1", "Error: need RCPT command" },
	[REPLY_NESTED_MAIL] = { 503, "5.5.1", "Error: nested MAIL command" },
	[REPLY_BAD_SEQUENCE] = { 503, "5.5.1", "Error: bad sequence of commands" },
	[REPLY_TLS_ALREADY] = { 503, "5.5.1", "Error: TLS already active" },
	[REPLY_NO_TLS_YET] = { 503, "5.5.1", "Error: finish the transaction "
	    "before STARTTLS" },
	[REPLY_TLS_UNAVAILABLE] = { 454, "4.7.0", "TLS not available" },
	[REPLY_UNKNOWN_USER] = { 550, "5.1.1", "<%s>: Recipient address "
	    "rejected: no such mailbox here" },
	[REPLY_RELAY_DENIED] = { 554, "5.7.1", "<%s>: Relay access denied" },
	[REPLY_TOO_MANY_RCPTS] = { 452, "4.5.3", "Too many recipients" },
	[REPLY_MSG_TOO_BIG] = { 552, "5.3.4", "Message size exceeds the limit "
	    "of %llu octets" },
	[REPLY_OVER_QUOTA] = { 452, "4.2.2", "<%s>: Mailbox full" },
	[REPLY_DISK_FULL] = { 452, "4.3.1", "Insufficient system storage" },
	[REPLY_TEMP_FAIL] = { 451, "4.3.0", "Temporary lookup failure, try "
	    "again later" },
	[REPLY_LOCAL_ERROR] = { 451, "4.3.0", "Local error in processing, try "
	    "again later" },
	[REPLY_DATA_BARE] = { 550, "5.6.0", "Message refused: bare CR or LF in "
	    "the message; lines must end with CRLF" },
	[REPLY_DATA_LONG_LINE] = { 500, "5.5.2", "Message refused: a line is "
	    "longer than 1000 octets" },
	[REPLY_HEADER_TOO_BIG] = { 552, "5.3.4", "Message header section too "
	    "large" },
	[REPLY_TOO_MANY_ERRORS] = { 421, "4.7.0", "Too many errors, closing "
	    "connection" },
	[REPLY_TIMEOUT] = { 421, "4.4.2", "Timeout, closing connection" },
	[REPLY_SHUTDOWN] = { 421, "4.3.2", "Service shutting down, closing "
	    "connection" },
	[REPLY_NO_MEMORY] = { 421, "4.3.0", "Out of resources, closing "
	    "connection" },
	[REPLY_AUTH_REQUIRED] = { 530, "5.7.0", "Authentication required" },
	[REPLY_NEED_8BIT] = { 554, "5.6.7", "8-bit data needs BODY=8BITMIME" },
	[REPLY_BDAT_MIXED] = { 503, "5.5.1", "Error: DATA after BDAT" },
	[REPLY_SUBMISSION_ONLY] = { 530, "5.7.0", "Must issue a STARTTLS "
	    "command first" },
	[REPLY_AUTH_MECH] = { 504, "5.5.4", "Unrecognized authentication "
	    "mechanism" },
	[REPLY_AUTH_BAD] = { 501, "5.5.2", "Invalid AUTH response: %s" },
	[REPLY_GATE] = { 554, "5.7.1", "Relay access denied: check your mail "
	    "first (POP3 login), or use SMTP AUTH on port 587" },
	[REPLY_GATE_TEMP] = { 421, "4.7.1", "Relay check temporarily "
	    "unavailable, try again later" },
};
