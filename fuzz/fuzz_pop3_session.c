/* fuzz_pop3_session.c - whole POP3 sessions; the first byte chooses the
   client address (loopback may log in in plaintext). */
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_session_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	fuzz_session_init();
	if (len < 1)
		return 0;
	fuzz_session_run(FUZZ_POP3, NULL, data + 1, len - 1);
	return 0;
}
