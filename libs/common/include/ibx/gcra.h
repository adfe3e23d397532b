/* gcra: the Generic Cell Rate Algorithm: a token bucket kept as one timestamp (the
 * theoretical arrival time, TAT), with partial grants so a caller can take a slice of a
 * budget at once (leases), and a capped credit for tokens given back unused.
 *
 * Pure arithmetic: no clock, no locks, no allocation, no I/O. Times are microseconds on
 * whatever clock the caller uses consistently (a shared database clock for a budget
 * shared by replicas, a monotonic clock for a process-local one). The caller serialises
 * access to a state.
 *
 * A limit is one token every interval_us with at most burst tokens at once. A full
 * bucket holds burst tokens; it refills one token per interval. Over any span of D
 * microseconds at most burst + D / interval_us tokens are granted.
 *
 * Clock going backwards: a TAT more than burst intervals ahead of now can only come from
 * a clock that stepped back; it is clamped to now + burst * interval_us, so a backward
 * step never locks a caller out for longer than it takes to refill a whole bucket.
 *
 * Credit: tokens given back (gcra_give) are kept as credit and taken before the bucket.
 * Credit is capped by the bucket's outstanding debt (whole intervals between now and the
 * TAT), so available tokens plus credit never exceed burst: giving back can restore
 * tokens that were charged and not yet refilled, never create new ones. */
#ifndef IBX_GCRA_H
#define IBX_GCRA_H

#include <stdint.h>

#define GCRA_MAX_PER_MINUTE 1000000L
#define GCRA_MAX_BURST      1000000L

struct gcra_limit {
    int64_t interval_us; /* one token every interval_us (>= 1) */
    int64_t burst;       /* tokens in a full bucket (>= 1) */
};

struct gcra_state {
    int64_t tat_us; /* theoretical arrival time; 0 (or anything <= now) = a full bucket */
    int64_t credit; /* tokens given back and not yet taken again (>= 0) */
};

struct gcra_result {
    int64_t granted;        /* tokens taken: 0..want */
    int64_t remaining;      /* tokens that could be taken right after this call */
    int64_t retry_after_us; /* 0 when remaining >= 1, else the wait for the next token */
    int64_t reset_us;       /* wait until the bucket is full again (0 when it is) */
};

/* A limit of per_minute tokens a minute (1..GCRA_MAX_PER_MINUTE) with a burst of
 * 1..GCRA_MAX_BURST. 0, or -EINVAL (out untouched). */
int gcra_limit_per_minute(long per_minute, long burst, struct gcra_limit *out)
    __attribute__((warn_unused_result));

/* Take up to want tokens (want <= 0 only reports) at now_us and update st. Takes from
 * the credit first, then from the bucket; grants as many as are available up to want. */
void gcra_take(const struct gcra_limit *l, struct gcra_state *st, int64_t now_us, int64_t want,
               struct gcra_result *out);

/* Give n unused tokens back (n <= 0 does nothing but the clamp). The credit grows by n
 * but never past the outstanding debt, so nothing is created. */
void gcra_give(const struct gcra_limit *l, struct gcra_state *st, int64_t now_us, int64_t n);

/* Microseconds rounded up to whole seconds (for Retry-After / RateLimit-Reset); 0 for
 * us <= 0. */
int64_t gcra_ceil_s(int64_t us);

#endif
