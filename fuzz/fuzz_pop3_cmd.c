/* fuzz_pop3_cmd.c - the POP3 command-line parser (src/pop3/pop3_cmd.c). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pop3/pop3_cmd.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	/* An exact-size copy, not NUL-terminated: overreads show. */
	char *p = malloc(len ? len : 1);
	char err[POP3_ERR_MAX];
	struct pop3_line pl;
	uint64_t n, lines;
	size_t msglen;
	int r;

	if (p == NULL)
		return 0;
	memcpy(p, data, len);
	err[0] = '\0';
	r = pop3_cmd_parse(p, len, &pl, err);
	if (r != 0 && (strncmp(err, "-ERR ", 5) != 0 ||
	    strpbrk(err, "\r\n") != NULL))
		abort();	/* every failure has a clean -ERR line */
	if (r != -1) {
		if (pl.verb >= P3_NVERBS || pl.arg < p ||
		    pl.arg + pl.arglen > p + len)
			abort();
		if (pop3_msgno(pl.arg, pl.arglen, &n) == 0 && n == 0)
			abort();
		if (pop3_top_args(pl.arg, pl.arglen, &msglen, &lines) == 0 &&
		    (msglen >= pl.arglen || lines > 1000000000))
			abort();
	}
	free(p);
	return 0;
}
