/* fuzz_smtp_session.c - whole SMTP sessions on an smtp or submission
   listener (second byte chooses), from a stranger, a trusted network or
   loopback (first byte). */
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
	if (len < 2)
		return 0;
	fuzz_session_run((data[1] & 1) ? FUZZ_SUBMISSION : FUZZ_SMTP, NULL,
	    data + 2, len - 2);
	return 0;
}
