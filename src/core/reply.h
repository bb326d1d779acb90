/*
 * reply.h - every fixed SMTP reply in one table (STYLE.md section 3).
 *
 * Each entry has the code, the RFC 3463 enhanced status code and the
 * default text, so a reply can never lose its enhanced code. Texts that
 * need values are printf formats; callers use smtp_reply_id() with the
 * arguments.
 */
#ifndef POPGATE_REPLY_H
#define POPGATE_REPLY_H

enum reply_id {
	REPLY_OK,			/* 250 2.0.0 */
	REPLY_SENDER_OK,
	REPLY_RCPT_OK,
	REPLY_RESET,
	REPLY_NOOP,
	REPLY_BYE,
	REPLY_DATA_GO,
	REPLY_VRFY,
	REPLY_HELP,
	REPLY_STARTTLS_GO,
	REPLY_QUEUED,		/* 250 2.0.0 Ok: queued as %s */
	REPLY_BDAT_OK,		/* 250 2.0.0 Ok: %llu octets */
	REPLY_UNKNOWN_CMD,		/* 500 5.5.1 */
	REPLY_LINE_TOO_LONG,	/* 500 5.5.2 */
	REPLY_BARE_LF,		/* 500 5.5.2 */
	REPLY_SYNTAX,		/* 501 5.5.4 %s */
	REPLY_BAD_ADDR,		/* 501 5.1.3 %s */
	REPLY_BAD_SENDER_ADDR,	/* 501 5.1.7 %s */
	REPLY_PARAM_UNKNOWN,	/* 555 5.5.4 */
	REPLY_NOT_IMPL,		/* 502 5.5.1 */
	REPLY_NEED_HELO,		/* 503 5.5.1 */
	REPLY_NEED_MAIL,
	REPLY_NEED_RCPT,
	REPLY_NESTED_MAIL,
	REPLY_BAD_SEQUENCE,
	REPLY_TLS_ALREADY,
	REPLY_NO_TLS_YET,		/* 503 5.5.1 data pending before STARTTLS */
	REPLY_TLS_UNAVAILABLE,	/* 454 4.7.0 */
	REPLY_UNKNOWN_USER,		/* 550 5.1.1 */
	REPLY_RELAY_DENIED,		/* 554 5.7.1 */
	REPLY_TOO_MANY_RCPTS,	/* 452 4.5.3 */
	REPLY_MSG_TOO_BIG,		/* 552 5.3.4 */
	REPLY_OVER_QUOTA,		/* 452 4.2.2 */
	REPLY_DISK_FULL,		/* 452 4.3.1 */
	REPLY_TEMP_FAIL,		/* 451 4.3.0 */
	REPLY_LOCAL_ERROR,		/* 451 4.3.0 */
	REPLY_DATA_BARE,		/* 550 5.6.0 */
	REPLY_DATA_LONG_LINE,	/* 500 5.5.2 */
	REPLY_HEADER_TOO_BIG,	/* 552 5.3.4 */
	REPLY_TOO_MANY_ERRORS,	/* 421 4.7.0 */
	REPLY_TIMEOUT,		/* 421 4.4.2 */
	REPLY_SHUTDOWN,		/* 421 4.3.2 */
	REPLY_NO_MEMORY,		/* 421 4.3.0 */
	REPLY_AUTH_REQUIRED,	/* 530 5.7.0 */
	REPLY_NEED_8BIT,		/* 554 5.6.7 */
	REPLY_BDAT_MIXED,		/* 503 5.5.1 */
	REPLY_SUBMISSION_ONLY,	/* 530 5.7.0 */
	REPLY_AUTH_MECH,		/* 504 5.5.4 */
	REPLY_AUTH_BAD,		/* 501 5.5.2 %s */
	REPLY_GATE,			/* 554 5.7.1 (greeting) */
	REPLY_GATE_TEMP,		/* 421 4.7.1 (greeting) */
	REPLY_NREPLIES
};

struct reply {
	int		 code;
	const char	*esc;		/* enhanced status code */
	const char	*text;		/* default text, may be a format */
};

extern const struct reply replies[REPLY_NREPLIES];

#endif
