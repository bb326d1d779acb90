/*
 * testlib.h - what the table-driven cmocka tests share: a growing list of
 * named tests, one per table row. Include it after cmocka.h; a file whose
 * tests need a fixture defines TEST_SETUP and/or TEST_TEARDOWN (names of
 * its functions, declared before) first.
 */
#ifndef POPGATE_TESTLIB_H
#define POPGATE_TESTLIB_H

#include <stdint.h>
#include <stdlib.h>

#ifndef TEST_SETUP
#define TEST_SETUP NULL
#endif
#ifndef TEST_TEARDOWN
#define TEST_TEARDOWN NULL
#endif

static struct CMUnitTest *tests;
static size_t ntests, captests;

/* Adds test NAME running FN with ROW as its state. */
static void
add_test(const char *name, CMUnitTestFunction fn, const void *row)
{
	if (ntests == captests) {
		captests = captests == 0 ? 64 : captests * 2;
		tests = realloc(tests, captests * sizeof(*tests));
		if (tests == NULL)
			abort();
	}
	tests[ntests].name = name;
	tests[ntests].test_func = fn;
	tests[ntests].setup_func = TEST_SETUP;
	tests[ntests].teardown_func = TEST_TEARDOWN;
	tests[ntests].initial_state = (void *)(uintptr_t)row;
	ntests++;
}

#endif
