/*
 * reply.c - the SMTP reply table: code, RFC 3463 enhanced code, text.
 */
#include "core/reply.h"
#include "util/compat.h"

const struct reply replies[R_NREPLIES] = {
	[R_OK] = { 250, "2.0.0", "Ok" },
	[R_SENDER_OK] = { 250, "2.1.0", "Sender ok" },
	[R_RCPT_OK] = { 250, "2.1.5", "Recipient ok" },
	[R_RESET] = { 250, "2.0.0", "Reset" },
	[R_NOOP] = { 250, "2.0.0", "Ok" },
	[R_BYE] = { 221, "2.0.0", "Bye" },
	[R_DATA_GO] = { 354, "", "End data with <CR><LF>.<CR><LF>" },
	[R_VRFY] = { 252, "2.5.0", "Cannot VRFY user, but will accept "
	    "message and attempt delivery" },
	[R_HELP] = { 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT "
	    "RSET NOOP QUIT VRFY HELP STARTTLS AUTH" },
	[R_STARTTLS_GO] = { 220, "2.0.0", "Ready to start TLS" },
	[R_QUEUED] = { 250, "2.0.0", "Ok: queued as %s" },
	[R_BDAT_OK] = { 250, "2.0.0", "Ok: %llu octets received" },
	[R_UNKNOWN_CMD] = { 500, "5.5.1", "Command unrecognized" },
	[R_LINE_TOO_LONG] = { 500, "5.5.2", "Line too long (at most 512 "
	    "octets per command)" },
	[R_BARE_LF] = { 500, "5.5.2", "Bare CR or LF in command; lines must "
	    "end with CRLF" },
	[R_SYNTAX] = { 501, "5.5.4", "Syntax error: %s" },
	[R_BAD_ADDR] = { 501, "5.1.3", "Bad recipient address syntax: %s" },
	[R_BAD_SENDER_ADDR] = { 501, "5.1.7", "Bad sender address syntax: %s" },
	[R_PARAM_UNKNOWN] = { 555, "5.5.4", "Unsupported parameter: %s" },
	[R_NOT_IMPL] = { 502, "5.5.1", "Command not implemented" },
	[R_NEED_HELO] = { 503, "5.5.1", "Error: send HELO/EHLO first" },
	[R_NEED_MAIL] = { 503, "5.5.1", "Error: need MAIL command" },
	[R_NEED_RCPT] = { 503, "5.5.1", "Error: need RCPT command" },
	[R_NESTED_MAIL] = { 503, "5.5.1", "Error: nested MAIL command" },
	[R_BAD_SEQUENCE] = { 503, "5.5.1", "Error: bad sequence of commands" },
	[R_TLS_ALREADY] = { 503, "5.5.1", "Error: TLS already active" },
	[R_NO_TLS_YET] = { 503, "5.5.1", "Error: finish the transaction "
	    "before STARTTLS" },
	[R_TLS_UNAVAILABLE] = { 454, "4.7.0", "TLS not available" },
	[R_UNKNOWN_USER] = { 550, "5.1.1", "<%s>: Recipient address "
	    "rejected: no such mailbox here" },
	[R_RELAY_DENIED] = { 554, "5.7.1", "<%s>: Relay access denied" },
	[R_TOO_MANY_RCPTS] = { 452, "4.5.3", "Too many recipients" },
	[R_MSG_TOO_BIG] = { 552, "5.3.4", "Message size exceeds the limit "
	    "of %llu octets" },
	[R_OVER_QUOTA] = { 452, "4.2.2", "<%s>: Mailbox full" },
	[R_DISK_FULL] = { 452, "4.3.1", "Insufficient system storage" },
	[R_TEMP_FAIL] = { 451, "4.3.0", "Temporary lookup failure, try "
	    "again later" },
	[R_LOCAL_ERROR] = { 451, "4.3.0", "Local error in processing, try "
	    "again later" },
	[R_DATA_BARE] = { 550, "5.6.0", "Message refused: bare CR or LF in "
	    "the message; lines must end with CRLF" },
	[R_DATA_LONG_LINE] = { 500, "5.5.2", "Message refused: a line is "
	    "longer than 1000 octets" },
	[R_HEADER_TOO_BIG] = { 552, "5.3.4", "Message header section too "
	    "large" },
	[R_TOO_MANY_ERRORS] = { 421, "4.7.0", "Too many errors, closing "
	    "connection" },
	[R_TIMEOUT] = { 421, "4.4.2", "Timeout, closing connection" },
	[R_SHUTDOWN] = { 421, "4.3.2", "Service shutting down, closing "
	    "connection" },
	[R_NO_MEMORY] = { 421, "4.3.0", "Out of resources, closing "
	    "connection" },
	[R_AUTH_REQUIRED] = { 530, "5.7.0", "Authentication required" },
	[R_NEED_8BIT] = { 554, "5.6.7", "8-bit data needs BODY=8BITMIME" },
	[R_BDAT_MIXED] = { 503, "5.5.1", "Error: DATA after BDAT" },
	[R_SUBMISSION_ONLY] = { 530, "5.7.0", "Must issue a STARTTLS "
	    "command first" },
	[R_AUTH_MECH] = { 504, "5.5.4", "Unrecognized authentication "
	    "mechanism" },
	[R_AUTH_BAD] = { 501, "5.5.2", "Invalid AUTH response: %s" },
	[R_GATE] = { 554, "5.7.1", "Relay access denied: check your mail "
	    "first (POP3 login), or use SMTP AUTH on port 587" },
};
