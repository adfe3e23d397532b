/* gcra: Generic Cell Rate Algorithm arithmetic (partial grants, capped credit). */
#include <ibx/gcra.h>

#include <errno.h>

int gcra_limit_per_minute(long per_minute, long burst, struct gcra_limit *out)
{
    if (per_minute < 1 || per_minute > GCRA_MAX_PER_MINUTE || burst < 1 || burst > GCRA_MAX_BURST)
        return -EINVAL;
    out->interval_us = 60000000LL / per_minute;
    out->burst = burst;
    return 0;
}

static int64_t gcra_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t gcra_max(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* The TAT to compute from: never before now, never more than a full bucket ahead. */
static int64_t gcra_base(const struct gcra_limit *l, const struct gcra_state *st, int64_t now_us)
{
    int64_t dvt = l->interval_us * l->burst;
    return gcra_min(gcra_max(st->tat_us, now_us), now_us + dvt);
}

/* Credit still backed by debt (whole intervals between now and base). */
static int64_t gcra_live_credit(const struct gcra_limit *l, const struct gcra_state *st,
                                int64_t debt_us)
{
    return gcra_max(0, gcra_min(st->credit, debt_us / l->interval_us));
}

void gcra_take(const struct gcra_limit *l, struct gcra_state *st, int64_t now_us, int64_t want,
               struct gcra_result *out)
{
    int64_t dvt = l->interval_us * l->burst;
    int64_t base = gcra_base(l, st, now_us);
    int64_t credit = gcra_live_credit(l, st, base - now_us);
    int64_t avail = (dvt - (base - now_us)) / l->interval_us;
    want = gcra_max(0, want);
    int64_t from_credit = gcra_min(want, credit);
    int64_t from_bucket = gcra_min(want - from_credit, avail);
    st->tat_us = base + from_bucket * l->interval_us;
    st->credit = credit - from_credit;
    int64_t debt = st->tat_us - now_us;
    out->granted = from_credit + from_bucket;
    out->remaining = (dvt - debt) / l->interval_us + st->credit;
    out->retry_after_us = out->remaining >= 1 ? 0 : debt + l->interval_us - dvt;
    out->reset_us = gcra_max(0, debt - st->credit * l->interval_us);
}

void gcra_give(const struct gcra_limit *l, struct gcra_state *st, int64_t now_us, int64_t n)
{
    int64_t base = gcra_base(l, st, now_us);
    int64_t cap = (base - now_us) / l->interval_us;
    int64_t credit = gcra_live_credit(l, st, base - now_us) + gcra_max(0, n);
    st->tat_us = base;
    st->credit = gcra_min(credit, cap);
}

int64_t gcra_ceil_s(int64_t us)
{
    if (us <= 0)
        return 0;
    return (us + 999999) / 1000000;
}
