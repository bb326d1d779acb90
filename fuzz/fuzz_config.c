/* fuzz_config.c - popgate.conf parsing and printing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *p = malloc(len + 1);
	struct strlist errs;
	struct config *c;
	FILE *f;

	if (p == NULL)
		return 0;
	memcpy(p, data, len);
	p[len] = '\0';
	strlist_init(&errs);
	c = config_parse("fuzz.conf", p, &errs);
	if (c != NULL) {
		f = fopen("/dev/null", "w");
		if (f != NULL) {
			config_print(c, f);
			fclose(f);
		}
		config_free(&c);
	} else if (errs.n == 0) {
		abort();	/* a refusal always says why */
	}
	strlist_free(&errs);
	free(p);
	return 0;
}
