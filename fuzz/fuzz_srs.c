/*
 * fuzz_srs.c - the SRS codec (core/srs.c): any octets as the local part
 * of a bounce to our SRS domain (under two secrets, at a time the input
 * picks), and as an envelope sender to rewrite, whose rewritten form
 * must fit RFC 5321 and reverse to what it was made from.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "core/addr.h"
#include "core/srs.h"

static const char *const secrets[] = { "fuzz-current", "s3cret" };

static void
check_forward(const char *sender, time_t now)
{
	char fwd[ADDR_BUFSZ], back[ADDR_BUFSZ];
	const char *at;
	enum srs_status st;
	int age;

	st = srs_forward(sender, "fwd.test", secrets[0], now, fwd,
	    sizeof(fwd));
	if (st != SRS_OK)
		return;
	at = strrchr(fwd, '@');
	if (at == NULL || strcmp(at, "@fwd.test") != 0 ||
	    strlen(fwd) > ADDR_MAX_LEN || (size_t)(at - fwd) > ADDR_LOCAL_MAX)
		abort();
	st = srs_reverse(fwd, (size_t)(at - fwd), secrets, 2, now, 21, back,
	    sizeof(back), &age);
	if (st != SRS_OK || strchr(back, '@') == NULL)
		abort();	/* what we made we must take back */
	/* An ordinary sender comes back as it was, an SRS0 one too (the
	   tag perhaps in another case), an SRS1 one as the SRS0 address at
	   its first forwarder. */
	if (!srs_is_srs(sender, strlen(sender)) ? strcmp(back, sender) != 0 :
	    sender[3] == '0' ? strcmp(back + 4, sender + 4) != 0 :
	    strncmp(back, "SRS0", 4) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char back[ADDR_BUFSZ], *p;
	time_t now;
	unsigned max_age;
	int age;

	if (len < 3)
		return 0;
	/* two octets: the day (any of the 1024 stamps) and the max age */
	now = (time_t)(data[0] | (data[1] & 0x03) << 8) * SRS_DAY + 1000;
	max_age = data[2] % 40;
	data += 3;
	len -= 3;
	p = malloc(len + 1);
	if (p == NULL)
		return 0;
	memcpy(p, data, len);
	p[len] = '\0';
	back[0] = 'x';
	switch (srs_reverse(p, len, secrets, 2, now, max_age, back,
	    sizeof(back), &age)) {
	case SRS_OK:
		if (strchr(back, '@') == NULL || age > (int)max_age)
			abort();
		break;
	case SRS_EXPIRED:
		if (age <= (int)max_age || back[0] != '\0')
			abort();
		break;
	default:
		if (back[0] != '\0')
			abort();
		break;
	}
	if (strlen(p) == len)
		check_forward(p, now);
	free(p);
	return 0;
}
