/* test_gcra: GCRA arithmetic: bursts, steady rate, partial grants (leases), credit for
 * tokens given back, Retry-After values, a clock going backwards, and the bound
 * burst + elapsed / interval over random schedules. */
#include <ibx/gcra.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define T0  1000000000000LL /* an arbitrary epoch, in microseconds */
#define SEC 1000000LL
#define MS  1000LL

enum op { TAKE, GIVE };

struct step {
    enum op op;
    int64_t at_us; /* offset from T0 */
    int64_t n;     /* want (TAKE) or tokens given back (GIVE) */
    int64_t granted, remaining, retry_after_us, reset_us; /* expected after a TAKE */
};

struct gcra_case {
    const char *name;
    long per_minute, burst;
    struct step steps[8];
    size_t nsteps;
};

static const struct gcra_case cases[] = {
    {"burst of 3 then denied until one interval passed",
     60,
     3,
     {{TAKE, 0, 1, 1, 2, 0, 1 * SEC},
      {TAKE, 0, 1, 1, 1, 0, 2 * SEC},
      {TAKE, 0, 1, 1, 0, 1 * SEC, 3 * SEC},
      {TAKE, 0, 1, 0, 0, 1 * SEC, 3 * SEC},
      {TAKE, 500 * MS, 1, 0, 0, 500 * MS, 2500 * MS},
      {TAKE, 1 * SEC, 1, 1, 0, 1 * SEC, 3 * SEC}},
     6},
    {"steady rate of one a second with no burst",
     60,
     1,
     {{TAKE, 0, 1, 1, 0, 1 * SEC, 1 * SEC},
      {TAKE, 999 * MS, 1, 0, 0, 1 * MS, 1 * MS},
      {TAKE, 1 * SEC, 1, 1, 0, 1 * SEC, 1 * SEC},
      {TAKE, 2 * SEC, 1, 1, 0, 1 * SEC, 1 * SEC},
      {TAKE, 3500 * MS, 1, 1, 0, 1 * SEC, 1 * SEC},
      {TAKE, 4 * SEC, 1, 0, 0, 500 * MS, 500 * MS}},
     6},
    {"a lease takes what is there, never more than burst",
     600,
     10,
     {{TAKE, 0, 4, 4, 6, 0, 400 * MS},
      {TAKE, 0, 10, 6, 0, 100 * MS, 1 * SEC},
      {TAKE, 250 * MS, 5, 2, 0, 50 * MS, 950 * MS},
      {TAKE, 10 * SEC, 50, 10, 0, 100 * MS, 1 * SEC}},
     4},
    {"tokens given back are taken first, capped by what is still owed",
     60,
     5,
     {{TAKE, 0, 5, 5, 0, 1 * SEC, 5 * SEC},
      {GIVE, 0, 3, 0, 0, 0, 0},
      {TAKE, 0, 0, 0, 3, 0, 2 * SEC},
      {TAKE, 3500 * MS, 4, 4, 0, 500 * MS, 4500 * MS}},
     4},
    {"giving back to a full bucket creates nothing",
     60,
     2,
     {{GIVE, 0, 5, 0, 0, 0, 0}, {TAKE, 0, 9, 2, 0, 1 * SEC, 2 * SEC}},
     2},
    {"credit expires as the debt behind it is repaid",
     60,
     4,
     {{TAKE, 0, 4, 4, 0, 1 * SEC, 4 * SEC},
      {GIVE, 0, 4, 0, 0, 0, 0},
      {TAKE, 3 * SEC, 0, 0, 4, 0, 0},
      {TAKE, 10 * SEC, 9, 4, 0, 1 * SEC, 4 * SEC}},
     4},
    {"a clock stepping back 100 s locks out for one interval, not 100 s",
     60,
     3,
     {{TAKE, 100 * SEC, 3, 3, 0, 1 * SEC, 3 * SEC},
      {TAKE, 0, 1, 0, 0, 1 * SEC, 3 * SEC},
      {TAKE, 1 * SEC, 1, 1, 0, 1 * SEC, 3 * SEC}},
     3},
};

static void run_case(const struct gcra_case *c)
{
    struct gcra_limit l;
    assert_int_equal(gcra_limit_per_minute(c->per_minute, c->burst, &l), 0);
    struct gcra_state st = {0, 0};
    for (size_t i = 0; i < c->nsteps; i++) {
        const struct step *s = &c->steps[i];
        if (s->op == GIVE) {
            gcra_give(&l, &st, T0 + s->at_us, s->n);
            continue;
        }
        struct gcra_result r;
        gcra_take(&l, &st, T0 + s->at_us, s->n, &r);
        if (r.granted != s->granted || r.remaining != s->remaining ||
            r.retry_after_us != s->retry_after_us || r.reset_us != s->reset_us)
            fail_msg("%s, step %zu: granted %lld remaining %lld retry %lld reset %lld", c->name, i,
                     (long long)r.granted, (long long)r.remaining, (long long)r.retry_after_us,
                     (long long)r.reset_us);
    }
}

static void test_cases(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
}

static void test_limits_and_rounding(void **state)
{
    static const struct {
        long per_minute, burst;
        int rc;
        int64_t interval_us;
    } lims[] = {
        {60, 1, 0, 1 * SEC},
        {7, 7, 0, 8571428},
        {GCRA_MAX_PER_MINUTE, GCRA_MAX_BURST, 0, 60},
        {0, 1, -EINVAL, 0},
        {-5, 1, -EINVAL, 0},
        {60, 0, -EINVAL, 0},
        {GCRA_MAX_PER_MINUTE + 1, 1, -EINVAL, 0},
        {60, GCRA_MAX_BURST + 1, -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(lims) / sizeof(lims[0]); i++) {
        struct gcra_limit l = {-1, -1};
        assert_int_equal(gcra_limit_per_minute(lims[i].per_minute, lims[i].burst, &l), lims[i].rc);
        if (lims[i].rc == 0) {
            assert_int_equal(l.interval_us, lims[i].interval_us);
            assert_int_equal(l.burst, lims[i].burst);
        } else {
            assert_int_equal(l.interval_us, -1); /* untouched on failure */
        }
    }
    static const int64_t ceil_cases[][2] = {
        {0, 0}, {-5, 0}, {1, 1}, {999999, 1}, {SEC, 1}, {SEC + 1, 2}, {59 * SEC + 1, 60},
    };
    for (size_t i = 0; i < sizeof(ceil_cases) / sizeof(ceil_cases[0]); i++)
        assert_int_equal(gcra_ceil_s(ceil_cases[i][0]), ceil_cases[i][1]);
}

/* Deterministic xorshift so the schedules are the same on every run. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random arrivals, wants and give-backs: in every window [a, b] of the history the net
 * tokens (granted minus given back) stay within burst + (b - a) / interval + 1. */
static void test_bound_over_random_schedules(void **state)
{
    enum { N = 600 };
    static int64_t at[N], net[N];
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 20; round++) {
        struct gcra_limit l;
        long per_min = 1 + (long)(rng_next(&seed) % 1200), burst = 1 + (long)(rng_next(&seed) % 40);
        assert_int_equal(gcra_limit_per_minute(per_min, burst, &l), 0);
        struct gcra_state st = {0, 0};
        int64_t now = T0, total = 0;
        for (int i = 0; i < N; i++) {
            now += (int64_t)(rng_next(&seed) % (uint64_t)(2 * l.interval_us));
            struct gcra_result r;
            gcra_take(&l, &st, now, 1 + (int64_t)(rng_next(&seed) % 5), &r);
            int64_t back = r.granted ? (int64_t)(rng_next(&seed) % (uint64_t)(r.granted + 1)) : 0;
            gcra_give(&l, &st, now, back);
            assert_true(r.remaining >= 0 && r.remaining <= l.burst);
            total += r.granted - back;
            at[i] = now;
            net[i] = total;
        }
        for (int a = 0; a < N; a++) {
            for (int b = a; b < N; b++) {
                int64_t got = net[b] - (a ? net[a - 1] : 0);
                assert_true(got <= l.burst + (at[b] - at[a]) / l.interval_us + 1);
            }
        }
    }
}

/* Taken one at a time, a fresh bucket grants exactly burst at once and then one token per
 * interval: the long-run rate is the configured one. */
static void test_long_run_rate(void **state)
{
    struct gcra_limit l;
    assert_int_equal(gcra_limit_per_minute(30, 30, &l), 0);
    struct gcra_state st = {0, 0};
    int64_t granted = 0;
    for (int64_t t = 0; t <= 60 * SEC; t += 100 * MS) {
        struct gcra_result r;
        gcra_take(&l, &st, T0 + t, 1, &r);
        granted += r.granted;
    }
    assert_int_equal(granted, 30 + 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_limits_and_rounding),
        cmocka_unit_test(test_bound_over_random_schedules),
        cmocka_unit_test(test_long_run_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
