/*
 * pop3_cmd.c - parsing POP3 command lines (pop3_cmd.h).
 */
#include <strings.h>

#include "pop3/pop3_cmd.h"
#include "util/str.h"
#include "util/compat.h"

/* The names; which state allows each command and which argument it
   takes is the session's command table (pop3_session.c). */
static const char *const verbs[P3_NVERBS] = {
	[P3_CAPA] = "CAPA", [P3_QUIT] = "QUIT", [P3_NOOP] = "NOOP",
	[P3_USER] = "USER", [P3_PASS] = "PASS", [P3_AUTH] = "AUTH",
	[P3_STLS] = "STLS", [P3_STAT] = "STAT", [P3_LIST] = "LIST",
	[P3_UIDL] = "UIDL", [P3_RETR] = "RETR", [P3_TOP] = "TOP",
	[P3_DELE] = "DELE", [P3_RSET] = "RSET",
};

int
pop3_cmd_parse(const char *line, size_t len, struct pop3_line *out,
    char err[POP3_ERR_MAX])
{
	const char *sp = memchr(line, ' ', len);
	size_t n = sp != NULL ? (size_t)(sp - line) : len;
	char vis[24];
	unsigned v;

	/* The commands see C strings: a NUL would cut the name or the
	   argument short ("USER ann@acme.test\0junk" logging in as ann). */
	if (memchr(line, '\0', len) != NULL) {
		(void)str_copy(err, "-ERR NUL in command line", POP3_ERR_MAX);
		return -1;
	}
	for (v = 0; v < P3_NVERBS; v++)
		if (n > 0 && strlen(verbs[v]) == n &&
		    strncasecmp(line, verbs[v], n) == 0)
			break;
	if (v == P3_NVERBS) {
		(void)snprintf(err, POP3_ERR_MAX, "-ERR Unknown command: %s",
		    str_vis(vis, sizeof(vis), line, n));
		return -1;
	}
	out->verb = (enum pop3_verb)v;
	out->arg = sp != NULL ? sp + 1 : line + len;
	out->arglen = sp != NULL ? len - n - 1 : 0;
	return 0;
}

int
pop3_msgno(const char *arg, size_t len, uint64_t *n)
{
	return str_to_uint_n(arg, len, 1, UINT64_MAX, n);
}

int
pop3_top_args(const char *arg, size_t len, size_t *msglen, uint64_t *lines)
{
	const char *sp = memchr(arg, ' ', len);

	if (sp == NULL)
		return -1;
	*msglen = (size_t)(sp - arg);
	return str_to_uint_n(sp + 1, len - *msglen - 1, 0, 1000000000, lines);
}
