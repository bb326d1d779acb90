/* fuzz_imap_binary.c - the BINARY[] decodings (src/imap/imap_binary.c):
   the first byte picks base64, quoted-printable or identity; the rest is
   fed in pieces the second byte sizes. Checks: nothing is written past
   what the output allows, base64 never yields more than 3/4 of its
   input, identity and QP at most twice it (LF -> CRLF), and the result
   does not depend on how the input was split. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "imap/imap_int.h"

static void
run(enum imap_cte cte, const char *p, size_t n, size_t piece, struct buf *out)
{
	struct imap_decoder d;
	size_t i, k;

	imap_decode_init(&d, cte);
	for (i = 0; i < n; i += k) {
		k = n - i < piece ? n - i : piece;
		if (imap_decode(&d, p + i, k, out) == -1)
			abort();
	}
	if (imap_decode_end(&d, out) == -1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const enum imap_cte ctes[] = { IMAP_CTE_BASE64, IMAP_CTE_QP,
		IMAP_CTE_IDENTITY };
	struct buf whole, split;
	enum imap_cte cte;
	char *p;
	size_t n, piece;

	if (len < 2)
		return 0;
	cte = ctes[data[0] % 3];
	piece = (size_t)(data[1] % 17) + 1;
	n = len - 2;
	p = malloc(n ? n : 1);	/* exact size: overreads show */
	if (p == NULL)
		return 0;
	memcpy(p, data + 2, n);
	buf_init(&whole, 4 * n + 16);
	buf_init(&split, 4 * n + 16);
	run(cte, p, n, n ? n : 1, &whole);
	run(cte, p, n, piece, &split);
	if (whole.len != split.len || (whole.len > 0 &&
	    memcmp(whole.data, split.data, whole.len) != 0))
		abort();
	if ((cte == IMAP_CTE_BASE64 && whole.len > n * 3 / 4 + 1) ||
	    whole.len > 2 * n)
		abort();
	buf_free(&whole);
	buf_free(&split);
	free(p);
	return 0;
}
