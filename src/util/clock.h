/*
 * clock.h - the wall clock, replaceable by tests (STYLE.md section 10).
 */
#ifndef POPGATE_CLOCK_H
#define POPGATE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Seconds since the epoch, from the real or the injected clock. */
time_t	clock_now(void);
/* Monotonic milliseconds, for durations only (never injected). */
uint64_t clock_mono_ms(void);
/* Monotonic microseconds, the same clock. */
uint64_t clock_mono_us(void);
/* Tests: NOW != 0 freezes the clock at NOW; 0 returns to real time. */
void	clock_set_fake(time_t now);

#endif
