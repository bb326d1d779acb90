/* fuzz_queue.c - the queue file reader: anything incomplete or damaged
   is refused, nothing is read past the data. Each input is read as it
   is, then once more with a valid END record (its SHA-256) appended, so
   that the records behind the checksum are reached too; the input is
   also applied as a state file to the envelope that parsed (its hold
   lines included). */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fuzz.h"
#include "queue/queue.h"

#define END_LEN	(1 + 8 + 32)

/* The hold read from a state file: one line of text without control
   characters; the times derived from it, and a release, stay defined
   (UBSan) whatever the file says. */
static void
check_hold(struct queue_env *e)
{
	size_t i, n = strnlen(e->hold, sizeof(e->hold));

	if (n >= sizeof(e->hold))
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)e->hold[i] < 0x20 || e->hold[i] == 0x7f)
			abort();
	(void)queue_env_age(e, 1700000000);
	(void)queue_env_expiry(e, 60 * 86400);
	queue_env_release(e, 1700000000);
	if (queue_env_held(e) || queue_env_age(e, 1700000000) < 0)
		abort();
}

static void
parse(const unsigned char *p, size_t len, const uint8_t *state,
    size_t slen)
{
	struct queue_env e;
	uint64_t off, blen;
	const char *err;
	size_t i;

	if (queue_parse(p, len, &e, &off, &blen, &err) != 0)
		return;
	if (off > len || blen > len - off || e.id[0] == '\0' ||
	    e.nrcpts == 0)
		abort();
	queue_state_parse(&e, (const char *)state, slen);
	for (i = 0; i < e.nrcpts; i++)
		if (e.rcpts[i].state > QR_BOUNCED ||
		    strnlen(e.rcpts[i].last_error,
		    sizeof(e.rcpts[i].last_error)) >=
		    sizeof(e.rcpts[i].last_error))
			abort();
	check_hold(&e);
	queue_env_free(&e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	unsigned char *p = malloc(len + END_LEN);
	unsigned sumlen = 0;

	if (p == NULL)
		return 0;
	if (len > 0)
		memcpy(p, data, len);
	parse(p, len, data, len);
	p[len] = 'Z';
	memset(p + len + 1, 0, 7);
	p[len + 8] = 32;
	if (EVP_Digest(p, len, p + len + 9, &sumlen, EVP_sha256(), NULL) == 1)
		parse(p, len + END_LEN, data, len);
	free(p);
	return 0;
}
