/*
 * pop3_cmd.h - the POP3 command line (RFC 1939, 2449, 2595, 5034) as
 * data: which command, its argument, and the numbers RETR, TOP, DELE,
 * LIST and UIDL take. Pure functions over length-tracked input, so the
 * session code only checks state and acts, and fuzz_pop3_cmd can drive
 * the parsing alone.
 */
#ifndef POPGATE_POP3_CMD_H
#define POPGATE_POP3_CMD_H

#include <stddef.h>
#include <stdint.h>

enum pop3_verb {
	P3_CAPA,
	P3_QUIT,
	P3_NOOP,
	P3_USER,
	P3_PASS,
	P3_AUTH,
	P3_STLS,
	P3_STAT,
	P3_LIST,
	P3_UIDL,
	P3_RETR,
	P3_TOP,
	P3_DELE,
	P3_RSET,
	P3_NVERBS
};

struct pop3_line {
	enum pop3_verb	 verb;
	const char	*arg;	/* into the line; its end when none */
	size_t		 arglen;
};

#define POP3_ERR_MAX	96	/* an error text, with its NUL */

/* Parses LINE (LEN octets, no CRLF; not NUL-terminated): the verb, case
   insensitive, and its argument (after one space). 0, or -1 (no such
   command, or a NUL in the line) with the -ERR line for the client in
   ERR. Whether the verb may take an argument is the session's rule. */
int	pop3_cmd_parse(const char *line, size_t len, struct pop3_line *out,
	    char err[POP3_ERR_MAX]);
/* A message number: 1 to UINT64_MAX, digits only. 0 or -1. */
int	pop3_msgno(const char *arg, size_t len, uint64_t *n);
/* TOP's "MSG LINES": the length of MSG (checked with pop3_msgno()) and
   LINES, 0 to 10^9. 0 or -1. */
int	pop3_top_args(const char *arg, size_t len, size_t *msglen,
	    uint64_t *lines);

#endif
