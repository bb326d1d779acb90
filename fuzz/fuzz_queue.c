/* fuzz_queue.c - the queue file reader: anything incomplete or damaged
   is refused, nothing is read past the data. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "queue/queue.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	unsigned char *p = malloc(len ? len : 1);
	struct queue_env e;
	uint64_t off, blen;
	const char *err;

	if (p == NULL)
		return 0;
	memcpy(p, data, len);
	if (queue_parse(p, len, &e, &off, &blen, &err) == 0) {
		if (off > len || blen > len - off)
			abort();
		queue_env_free(&e);
	}
	free(p);
	return 0;
}
