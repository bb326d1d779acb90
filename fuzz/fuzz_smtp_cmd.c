/* fuzz_smtp_cmd.c - the SMTP command-line parsers. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "smtp/smtp_cmd.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	/* An exact-size copy, not NUL-terminated: overreads show. */
	char *p = malloc(len ? len : 1);
	const char *arg, *detail;
	size_t arglen;
	struct smtp_mail_args m;
	struct smtp_rcpt_args r;
	enum reply_text_id rid;
	uint64_t size;
	bool last;

	if (p == NULL)
		return 0;
	memcpy(p, data, len);
	(void)smtp_cmd_verb(p, len, &arg, &arglen);
	if (smtp_parse_mail(arg, arglen, &m, &rid, &detail) == -1 &&
	    detail == NULL)
		abort();
	if (smtp_parse_rcpt(arg, arglen, false, &r, &rid, &detail) == -1 &&
	    detail == NULL)
		abort();
	if (smtp_parse_rcpt(arg, arglen, true, &r, &rid, &detail) == -1 &&
	    detail == NULL)
		abort();
	if (smtp_parse_bdat(arg, arglen, &size, &last) == 0 && last &&
	    arglen < 6)
		abort();
	if (smtp_parse_helo(arg, arglen, &detail) == -1 && detail == NULL)
		abort();
	free(p);
	return 0;
}
