/*
 * ids.c - identifiers: 32 bits of seconds, then 32 random bits.
 */
#include <stdint.h>
#include <time.h>

#include <openssl/rand.h>

#include "core/ids.h"
#include "util/log.h"
#include "util/compat.h"

void
ids_new(char out[ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[ID_LEN / 2];
	uint32_t t = (uint32_t)time(NULL);
	int i;

	if (RAND_bytes(b + 4, 4) != 1)
		PANIC("no randomness for identifiers");
	b[0] = (unsigned char)(t >> 24);
	b[1] = (unsigned char)(t >> 16);
	b[2] = (unsigned char)(t >> 8);
	b[3] = (unsigned char)t;
	for (i = 0; i < ID_LEN / 2; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[ID_LEN] = '\0';
}
