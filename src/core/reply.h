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
	R_OK,			/* 250 2.0.0 */
	R_SENDER_OK,
	R_RCPT_OK,
	R_RESET,
	R_NOOP,
	R_BYE,
	R_DATA_GO,
	R_VRFY,
	R_HELP,
	R_STARTTLS_GO,
	R_QUEUED,		/* 250 2.0.0 Ok: queued as %s */
	R_BDAT_OK,		/* 250 2.0.0 Ok: %llu octets */
	R_UNKNOWN_CMD,		/* 500 5.5.1 */
	R_LINE_TOO_LONG,	/* 500 5.5.2 */
	R_BARE_LF,		/* 500 5.5.2 */
	R_SYNTAX,		/* 501 5.5.4 %s */
	R_BAD_ADDR,		/* 501 5.1.3 %s */
	R_BAD_SENDER_ADDR,	/* 501 5.1.7 %s */
	R_PARAM_UNKNOWN,	/* 555 5.5.4 */
	R_NOT_IMPL,		/* 502 5.5.1 */
	R_NEED_HELO,		/* 503 5.5.1 */
	R_NEED_MAIL,
	R_NEED_RCPT,
	R_NESTED_MAIL,
	R_BAD_SEQUENCE,
	R_TLS_ALREADY,
	R_NO_TLS_YET,		/* 503 5.5.1 data pending before STARTTLS */
	R_TLS_UNAVAILABLE,	/* 454 4.7.0 */
	R_UNKNOWN_USER,		/* 550 5.1.1 */
	R_RELAY_DENIED,		/* 554 5.7.1 */
	R_TOO_MANY_RCPTS,	/* 452 4.5.3 */
	R_MSG_TOO_BIG,		/* 552 5.3.4 */
	R_OVER_QUOTA,		/* 452 4.2.2 */
	R_DISK_FULL,		/* 452 4.3.1 */
	R_TEMP_FAIL,		/* 451 4.3.0 */
	R_LOCAL_ERROR,		/* 451 4.3.0 */
	R_DATA_BARE,		/* 550 5.6.0 */
	R_DATA_LONG_LINE,	/* 500 5.5.2 */
	R_HEADER_TOO_BIG,	/* 552 5.3.4 */
	R_TOO_MANY_ERRORS,	/* 421 4.7.0 */
	R_TIMEOUT,		/* 421 4.4.2 */
	R_SHUTDOWN,		/* 421 4.3.2 */
	R_NO_MEMORY,		/* 421 4.3.0 */
	R_AUTH_REQUIRED,	/* 530 5.7.0 */
	R_NEED_8BIT,		/* 554 5.6.7 */
	R_BDAT_MIXED,		/* 503 5.5.1 */
	R_SUBMISSION_ONLY,	/* 530 5.7.0 */
	R_AUTH_MECH,		/* 504 5.5.4 */
	R_AUTH_BAD,		/* 501 5.5.2 %s */
	R_GATE,			/* 554 5.7.1 (greeting) */
	R_NREPLIES
};

struct reply {
	int		 code;
	const char	*esc;		/* enhanced status code */
	const char	*text;		/* default text, may be a format */
};

extern const struct reply replies[R_NREPLIES];

#endif
