/* fuzz_smtp_cmd.c - the SMTP command-line parsers, and the RFC 3461
   parameters of core/dsn.c (NOTIFY, xtext, ORCPT) they use. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/dsn.h"
#include "smtp/smtp_cmd.h"

/* NOTIFY parses back to what it formats; decoded xtext is printable
   and no longer than the input; encoded text is xtext. */
static void
dsn_checks(const char *p, size_t len)
{
	char out[DSN_ORCPT_MAX + 1], enc[3 * 64 + 1], nf[DSN_NOTIFY_SZ];
	unsigned flags, again;
	size_t i;

	if (dsn_notify_parse(p, len, &flags) == 0) {
		dsn_notify_format(flags, nf, sizeof(nf));
		if (dsn_notify_parse(nf, strlen(nf), &again) == -1 ||
		    again != flags)
			abort();
	}
	if (dsn_xtext_decode(p, len, out, sizeof(out)) == 0) {
		if (strlen(out) > len || !dsn_xtext_ok(p, len))
			abort();
		for (i = 0; out[i] != '\0'; i++)
			if (out[i] <= ' ' || out[i] >= 0x7f)
				abort();
	}
	if (dsn_xtext_encode(p, len < 64 ? len : 64, enc, sizeof(enc)) != 0 ||
	    !dsn_xtext_ok(enc, strlen(enc)))
		abort();
	(void)dsn_orcpt_ok(p, len);
}

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
	dsn_checks(p, len);
	(void)smtp_cmd_verb(p, len, &arg, &arglen);
	if (smtp_parse_mail(arg, arglen, &m, &rid, &detail) == -1 &&
	    detail == NULL)
		abort();
	if (smtp_parse_rcpt(arg, arglen, false, &r, &rid, &detail) == -1 &&
	    detail == NULL)
		abort();
	/* What RCPT kept is what the queue and the notices take. */
	if (smtp_parse_rcpt(arg, arglen, false, &r, &rid, &detail) == 0 &&
	    r.orcpt[0] != '\0' && !dsn_orcpt_ok(r.orcpt, strlen(r.orcpt)))
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
