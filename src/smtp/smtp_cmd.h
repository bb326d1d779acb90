/*
 * smtp_cmd.h - SMTP command-line parsing, pure and separately tested.
 *
 * A command line (CRLF already removed, at most 510 octets) becomes a verb
 * and its arguments; MAIL and RCPT arguments become a path and the
 * parameters we support (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531
 * SMTPUTF8, RFC 4954 AUTH, RFC 3461 DSN: RET, ENVID, NOTIFY, ORCPT).
 * Errors come back as a reply id and a static detail text.
 */
#ifndef POPGATE_SMTP_CMD_H
#define POPGATE_SMTP_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/dsn.h"
#include "core/reply.h"

enum smtp_verb {
	V_HELO,
	V_EHLO,
	V_MAIL,
	V_RCPT,
	V_DATA,
	V_BDAT,
	V_RSET,
	V_NOOP,
	V_QUIT,
	V_VRFY,
	V_EXPN,
	V_HELP,
	V_STARTTLS,
	V_AUTH,
	V_UNKNOWN,
};

enum smtp_body {
	BODY_UNSPEC,
	BODY_7BIT,
	BODY_8BITMIME,
	BODY_BINARYMIME,
};

struct smtp_mail_args {
	struct mailaddr		addr;
	enum addr_path_kind	kind;
	uint64_t		size;		/* SIZE=, 0 if absent */
	bool			has_size;
	enum smtp_body		body;
	bool			smtputf8;
	char			envid[DSN_ENVID_MAX + 1];	/* xtext */
	char			ret[8];		/* "FULL", "HDRS", "" */
};

struct smtp_rcpt_args {
	struct mailaddr		addr;
	enum addr_path_kind	kind;
	unsigned		notify;		/* DSN_NOTIFY_*, 0: none */
	char			orcpt[DSN_ORCPT_MAX + 1];	/* "" if none */
};

/* The verb of LINE (case-insensitive) and where its argument starts
   (after one space; *ARG_R points into LINE). */
enum smtp_verb smtp_cmd_verb(const char *line, size_t len,
	    const char **arg_r, size_t *arglen_r);
/* "FROM:<path> [params]". On error returns -1 with *REPLY_R (REPLY_SYNTAX,
   REPLY_BAD_SENDER_ADDR or REPLY_PARAM_UNKNOWN) and *DETAIL_R. UTF8_OK: the
   server offers SMTPUTF8. */
int	smtp_parse_mail(const char *arg, size_t len,
	    struct smtp_mail_args *, enum reply_text_id *reply_r,
	    const char **detail_r);
/* "TO:<path> [params]"; SMTPUTF8 is the transaction's flag. */
int	smtp_parse_rcpt(const char *arg, size_t len, bool smtputf8,
	    struct smtp_rcpt_args *, enum reply_text_id *reply_r,
	    const char **detail_r);
/* "SIZE [LAST]" of RFC 3030 BDAT. 0 or -1. */
int	smtp_parse_bdat(const char *arg, size_t len, uint64_t *size_r,
	    bool *last_r);
/* EHLO/HELO argument: a domain or an address literal; 0 or -1. */
int	smtp_parse_helo(const char *arg, size_t len, const char **detail_r);

#endif
