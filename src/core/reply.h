/*
 * reply.h - every SMTP reply of the server in one place (STYLE.md
 * section 3), typed by what it carries.
 *
 * Each entry has the code, the RFC 3463 enhanced status code and the
 * text, so a reply can never lose its enhanced code. No text is a printf
 * format: a reply that carries a value (an address, a queue id, a size)
 * is in a table of its own kind, its text split around the value, and
 * is sent by the helper of that kind (smtp_reply_text(), smtp_reply_num()
 * in src/smtp/), so the compiler checks both the id and the value.
 */
#ifndef POPGATE_REPLY_H
#define POPGATE_REPLY_H

#include <stddef.h>
#include <stdint.h>

/* Replies with a fixed text. */
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
	REPLY_UNKNOWN_CMD,		/* 500 5.5.1 */
	REPLY_LINE_TOO_LONG,	/* 500 5.5.2 */
	REPLY_BARE_LF,		/* 500 5.5.2 */
	REPLY_NOT_IMPL,		/* 502 5.5.1 */
	REPLY_NEED_HELO,		/* 503 5.5.1 */
	REPLY_NEED_MAIL,
	REPLY_NEED_RCPT,
	REPLY_NESTED_MAIL,
	REPLY_BAD_SEQUENCE,
	REPLY_TLS_ALREADY,
	REPLY_NO_TLS_YET,		/* 503 5.5.1 data pending before STARTTLS */
	REPLY_TLS_UNAVAILABLE,	/* 454 4.7.0 */
	REPLY_TOO_MANY_RCPTS,	/* 452 4.5.3 */
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
	REPLY_AUTH_OK,		/* 235 2.7.0 */
	REPLY_AUTH_INVALID,		/* 535 5.7.8 */
	REPLY_AUTH_TEMP,		/* 454 4.7.0 */
	REPLY_AUTH_CANCELLED,	/* 501 5.0.0 */
	REPLY_AUTH_ENCRYPT,		/* 538 5.7.11 */
	REPLY_AUTH_CHALLENGE,	/* 334, empty: send the initial response */
	REPLY_AUTH_USERNAME,	/* 334 "Username:" in base64 */
	REPLY_AUTH_PASSWORD,	/* 334 "Password:" in base64 */
	REPLY_NREPLIES
};

/* Replies that carry one text: a detail, an address, a queue id, this
   server's name. */
enum reply_text_id {
	REPLY_GREETING,		/* 220 NAME ESMTP popgate */
	REPLY_HELO,			/* 250 NAME */
	REPLY_QUEUED,		/* 250 2.0.0 Ok: queued as ID */
	REPLY_SYNTAX,		/* 501 5.5.4 DETAIL */
	REPLY_BAD_ADDR,		/* 501 5.1.3 DETAIL */
	REPLY_BAD_SENDER_ADDR,	/* 501 5.1.7 DETAIL */
	REPLY_PARAM_UNKNOWN,	/* 555 5.5.4 DETAIL */
	REPLY_UNKNOWN_USER,		/* 550 5.1.1 <ADDRESS> */
	REPLY_RELAY_DENIED,		/* 554 5.7.1 <ADDRESS> */
	REPLY_OVER_QUOTA,		/* 452 4.2.2 <ADDRESS> */
	REPLY_AUTH_BAD,		/* 501 5.5.2 DETAIL */
	REPLY_GATE,			/* 554 5.7.1 NAME TEXT (greeting) */
	REPLY_GATE_TEMP,		/* 421 4.7.1 NAME (greeting) */
	REPLY_DMARC_REJECT,		/* 550 5.7.1 DOMAIN: after DATA */
	REPLY_SPOOFED,		/* 550 5.7.1 DOMAIN: after DATA */
	REPLY_NTEXT
};

/* Replies that carry one number. */
enum reply_num_id {
	REPLY_BDAT_OK,		/* 250 2.0.0 Ok: N octets received */
	REPLY_MSG_TOO_BIG,		/* 552 5.3.4 ... of N octets */
	REPLY_NNUM
};

struct reply {
	int		 code;
	const char	*esc;		/* enhanced status code, "" for none */
	const char	*text;		/* the text; with a value, before it */
	const char	*after;		/* with a value, the text after it */
};

extern const struct reply replies[REPLY_NREPLIES];
extern const struct reply replies_text[REPLY_NTEXT];
extern const struct reply replies_num[REPLY_NNUM];
/* The refusal of an unauthorized relay (SPEC 1), before where to SMTP
   AUTH (config's submission_ports): at RCPT, and with gate = connect in
   the greeting (REPLY_GATE). */
#define REPLY_CHECK_MAIL_FIRST "Relay access denied: check your mail " \
	"first (POP3 login), or use SMTP AUTH on "


/* The reply line of ID, without CRLF, into OUT (truncated to OUTSZ - 1
   octets; OUTSZ > 0). Returns its length. The same text goes on the
   wire and into the log. */
size_t	reply_line(char *out, size_t outsz, enum reply_id id);
/* The same for a reply carrying the text VALUE. */
size_t	reply_line_text(char *out, size_t outsz, enum reply_text_id id,
	    const char *value);
/* The same for a reply carrying the number VALUE. */
size_t	reply_line_num(char *out, size_t outsz, enum reply_num_id id,
	    uint64_t value);

#endif
