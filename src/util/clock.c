/*
 * clock.c - real or injected wall clock.
 */
#include <stdatomic.h>

#include "util/clock.h"
#include "util/compat.h"

static _Atomic time_t clock_fake;

time_t
clock_now(void)
{
	time_t f = atomic_load(&clock_fake);

	return f != 0 ? f : time(NULL);
}

uint64_t
clock_mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
clock_mono_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void
clock_set_fake(time_t now)
{
	atomic_store(&clock_fake, now);
}
