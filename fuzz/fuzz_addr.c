/* fuzz_addr.c - RFC 5321 paths and mailboxes, every flag combination. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/addr.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *p, out[ADDR_BUFSZ];
	struct mailaddr a;
	enum addr_path_kind kind;
	const char *err;
	size_t end;
	unsigned flags;

	if (len < 1)
		return 0;
	flags = data[0] & 0x0f;
	data++;
	len--;
	p = malloc(len ? len : 1);
	if (p == NULL)
		return 0;
	memcpy(p, data, len);
	if (addr_parse_path(p, len, flags, &a, &kind, &end, &err) == 0) {
		if (end > len)
			abort();
		if (kind == ADDR_PATH_MAILBOX) {
			addr_canonicalize(&a);
			addr_format(&a, out, sizeof(out));
			if (strlen(out) > ADDR_MAX_LEN)
				abort();
		}
	}
	if (addr_parse(p, len, flags, &a, &err) == 0) {
		addr_format(&a, out, sizeof(out));
		(void)addr_domain_of(out);
	}
	if (addr_domain_check(p, len, flags, &err) == -1 && err == NULL)
		abort();	/* a refusal always says why */
	free(p);
	return 0;
}
