/* fuzz_smtp_data.c - the DATA and BDAT readers: a session that gets to
   the message body at once (second byte: DATA or BDAT), the rest of the
   input is the body and whatever follows it. */
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
	static const char data_prefix[] = "EHLO fuzz\r\n"
	    "MAIL FROM:<a@example.org>\r\nRCPT TO:<ann@acme.test>\r\n"
	    "RCPT TO:<fwd@acme.test>\r\nDATA\r\n";
	static const char bdat_prefix[] = "EHLO fuzz\r\n"
	    "MAIL FROM:<a@example.org>\r\nRCPT TO:<ann@acme.test>\r\n";

	fuzz_session_init();
	if (len < 2)
		return 0;
	fuzz_session_run(FUZZ_SMTP, (data[1] & 1) ? bdat_prefix : data_prefix,
	    data + 2, len - 2);
	return 0;
}
