/* fuzz_imap_session.c - whole IMAP sessions against the real folder
   store; the first byte chooses the client address (loopback may log
   in in plaintext). Logged in as ann@acme.test unless the input begins
   with "!" (then the input itself must log in). */
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
	if (len >= 2 && data[1] == '!')
		fuzz_session_run(FUZZ_IMAP, NULL, data + 2, len - 2);
	else
		fuzz_session_run(FUZZ_IMAP, "a0 LOGIN ann@acme.test s3cret\r\n",
		    data + 1, len - 1);
	return 0;
}
