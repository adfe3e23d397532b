/* clock: wall-clock and monotonic milliseconds, ISO-8601 formatting. */
#ifndef IBX_CLOCK_H
#define IBX_CLOCK_H

#include <stdint.h>
#include <stddef.h>

int64_t clock_wall_ms(void);
int64_t clock_mono_ms(void);
double clock_mono_s(void);
/* Writes e.g. 2026-11-22T04:27:29.123Z into out (at least 25 bytes). */
void clock_iso8601(int64_t wall_ms, char *out, size_t n);

#endif
