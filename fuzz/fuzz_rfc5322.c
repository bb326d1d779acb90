/* fuzz_rfc5322.c - From: address lists and header field finding. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/rfc5322.h"

static void
each(const char *body, size_t len, void *arg)
{
	const char *err;

	if (rfc5322_parse_addresses(body, len, arg, &err) == -1 && err == NULL)
		abort();	/* a refusal always says why */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *p = malloc(len ? len : 1);
	struct strlist out;
	const char *err;

	if (p == NULL)
		return 0;
	memcpy(p, data, len);
	strlist_init(&out);
	if (rfc5322_parse_addresses(p, len, &out, &err) == -1 && out.n != 0)
		abort();	/* all or nothing */
	strlist_free(&out);
	strlist_init(&out);
	(void)rfc5322_fields(p, len, "From", each, &out);
	strlist_free(&out);
	free(p);
	return 0;
}
