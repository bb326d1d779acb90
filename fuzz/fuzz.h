/*
 * fuzz.h - what the libFuzzer harnesses share.
 *
 * Each fuzz_<target>.c defines LLVMFuzzerTestOneInput (and may define
 * LLVMFuzzerInitialize). With clang they link against libFuzzer
 * (`make fuzz`); with gcc they link against standalone_main.c, which
 * replays a corpus (`make test`).
 */
#ifndef POPGATE_FUZZ_H
#define POPGATE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *argc, char ***argv);

/* session.c: the real SMTP/POP3/IMAP session code over a socketpair. */
enum fuzz_proto {
	FUZZ_SMTP,
	FUZZ_SUBMISSION,
	FUZZ_POP3,
	FUZZ_IMAP,
};
/* Sets up once: a temporary data directory with a store (customer
   acme, domain acme.test, mailbox ann@acme.test password "s3cret",
   a few messages), config, event loop, inline workers. */
void	fuzz_session_init(void);
/* Feeds PREFIX then DATA to a fresh session and runs it to its end. */
void	fuzz_session_run(enum fuzz_proto, const char *prefix,
	    const uint8_t *data, size_t len);

#endif
