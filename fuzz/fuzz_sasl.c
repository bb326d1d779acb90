/* fuzz_sasl.c - base64 and SASL PLAIN/LOGIN decoding. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/sasl.h"
#include "util/base64.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *p = malloc(len ? len : 1), user[SASL_USER_MAX],
	    pass[SASL_PASS_MAX], one[SASL_PASS_MAX];
	struct buf b, e;
	const char *err;

	if (p == NULL)
		return 0;
	memcpy(p, data, len);
	if (sasl_plain_decode(p, len, user, pass, &err) == 0 &&
	    user[0] == '\0')
		abort();	/* an empty user name is refused */
	if (sasl_login_decode(p, len, one, sizeof(one), &err) == 0 &&
	    one[0] == '\0')
		abort();
	/* Round trip: what decodes must encode back the same. */
	buf_init(&b, 1 << 20);
	buf_init(&e, 1 << 21);
	if (base64_decode(p, len, &b) == 0) {
		if (base64_encode(b.len > 0 ? b.data : "", b.len, &e) == -1 ||
		    e.len != len || (len > 0 && memcmp(e.data, p, len) != 0))
			abort();
	}
	buf_free(&b);
	buf_free(&e);
	free(p);
	return 0;
}
