/* limits: rate limits that hold across gateway replicas without a database round trip per
 * request, and the sign-in slow-down.
 *
 * Each limit is one GCRA bucket in PostgreSQL (gateway.rate_buckets, database clock). A
 * replica leases a slice of up to limits_slice(burst) tokens in one transaction and spends
 * it locally; it asks again only when its slice is used up, and while the shared bucket is
 * known to be empty it refuses locally until the bucket's retry time. Tokens left in a
 * slice that has not been used for lease_ms go back to the bucket as credit (capped by the
 * bucket's debt, see ibx/gcra.h), so they are neither lost nor created.
 *
 * A busy bucket does not wait for PostgreSQL: once half a slice (of at least 2 tokens) is
 * spent, the lease thread tops the slice up to a whole one in the background, while the
 * requests spend what is left. A request waits (on a worker) only when nothing is held.
 *
 * Bound: a replica holds at most one slice per bucket (a top-up asks for what is missing), so in
 * any span of D seconds the requests admitted by R replicas together are at most burst + D * rate +
 * R * slice; with one replica the leasing adds at most one slice to what a single exact GCRA
 * allows. When PostgreSQL cannot be reached a replica falls back to its own GCRA (each replica then
 * allows the full limit), logged once per outage. */
#include "gateway.h"

#include <ibx/clock.h>
#include <ibx/hash.h>
#include <ibx/log.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIM_STRIPES       64
#define LIM_CHAINS        64 /* per stripe */
#define LIM_MAX_ENTRIES   65536
#define LIM_NAME_MAX      160
#define LIM_TICK_MS       250
#define LIM_IDLE_FREE_MS  120000
#define LIM_SWEEP_MS      60000
#define LIM_RETURN_BATCH  128
#define LIM_DB_BACKOFF_MS 1000

/* Sign-in slow-down: failures allowed before waiting, the window after which the count
 * starts again, and the longest wait. The wait doubles from 1 s with each failure. */
#define LOGIN_FREE_ACCOUNT 5
#define LOGIN_FREE_ADDRESS 20
#define LOGIN_WINDOW_S     900
#define LOGIN_MAX_DELAY_S  900

struct lim_entry {
    struct lim_entry *next;
    struct lim_entry *tnext; /* in the lease thread's top-up list */
    pthread_mutex_t mu;      /* guards the bucket (never held across a database call) */
    pthread_cond_t topped;   /* a top-up ended */
    int topping;             /* a lease or top-up is in flight (a top-up holds a ref) */
    int refs;                /* requests using it; changed under the stripe's lock */
    char name[LIM_NAME_MAX];
    struct gcra_limit lim;
    int64_t held;             /* leased tokens not spent yet */
    int64_t remote_remaining; /* the shared bucket's remaining right after our lease */
    int64_t reset_at_ms;      /* monotonic: the shared bucket full again (estimate) */
    int64_t deny_until_ms;    /* monotonic: the shared bucket has nothing before this */
    int64_t last_used_ms;     /* monotonic */
    struct gcra_state local;  /* fallback while PostgreSQL is unreachable */
};

struct lim_stripe {
    pthread_mutex_t mu;
    struct lim_entry *chain[LIM_CHAINS];
};

struct limits {
    struct svc *s;
    long lease_max, lease_ms;
    struct lim_stripe stripe[LIM_STRIPES];
    atomic_long count;
    atomic_int degraded;
    atomic_llong db_retry_ms; /* monotonic: while degraded, no lease is tried before this */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    struct lim_entry *todo; /* entries to top up (under mu) */
    pthread_t thread;
};

struct lim_return {
    char name[LIM_NAME_MAX];
    struct gcra_limit lim;
    int64_t n;
};

long limits_slice(const struct limits *l, long burst)
{
    long s = burst / 10;
    if (s < 1)
        s = 1;
    return s < l->lease_max ? s : l->lease_max;
}

static uint32_t lim_hash(const char *name)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* Find or create the entry of name and pin it (refs + 1). NULL when the table is full. */
static struct lim_entry *lim_pin(struct limits *l, const char *name)
{
    uint32_t h = lim_hash(name);
    struct lim_stripe *st = &l->stripe[h % LIM_STRIPES];
    struct lim_entry **head = &st->chain[(h / LIM_STRIPES) % LIM_CHAINS];
    pthread_mutex_lock(&st->mu);
    struct lim_entry *e = *head;
    while (e && strcmp(e->name, name) != 0)
        e = e->next;
    if (!e && atomic_load(&l->count) < LIM_MAX_ENTRIES && (e = calloc(1, sizeof(*e))) != NULL) {
        pthread_mutex_init(&e->mu, NULL);
        pthread_cond_init(&e->topped, NULL);
        snprintf(e->name, sizeof(e->name), "%s", name);
        e->next = *head;
        *head = e;
        atomic_fetch_add(&l->count, 1);
    }
    if (e)
        e->refs++;
    pthread_mutex_unlock(&st->mu);
    return e;
}

static void lim_unpin(struct limits *l, struct lim_entry *e)
{
    struct lim_stripe *st = &l->stripe[lim_hash(e->name) % LIM_STRIPES];
    pthread_mutex_lock(&st->mu);
    e->refs--;
    pthread_mutex_unlock(&st->mu);
}

static void lim_degraded(struct limits *l, int now_degraded, int rc)
{
    if (now_degraded)
        atomic_store(&l->db_retry_ms, (long long)clock_mono_ms() + LIM_DB_BACKOFF_MS);
    if (atomic_exchange(&l->degraded, now_degraded) == now_degraded)
        return;
    if (now_degraded)
        log_warn("rate limits cannot lease from PostgreSQL (%s); each replica enforces them "
                 "alone until it answers",
                 strerror(-rc));
    else
        log_info("rate limits lease from PostgreSQL again");
}

/* A verdict from a GCRA result computed locally (fallback). */
static void lim_local(struct lim_entry *e, int64_t now_ms, struct limits_verdict *out)
{
    struct gcra_result r;
    gcra_take(&e->lim, &e->local, now_ms * 1000, 1, &r);
    out->allowed = r.granted == 1;
    out->remaining = (long)r.remaining;
    out->reset_s = (long)gcra_ceil_s(r.reset_us);
    out->retry_after_s = out->allowed ? 0 : (long)gcra_ceil_s(r.retry_after_us);
}

/* e->mu held: a lease of r's tokens arrived (requests only spent meanwhile, so what is held
 * stays within one slice). */
static void lim_apply(struct lim_entry *e, const struct gcra_result *r, int64_t now_ms)
{
    e->held += r->granted;
    e->remote_remaining = r->remaining;
    e->reset_at_ms = now_ms + (r->reset_us + 999) / 1000;
    e->deny_until_ms = r->remaining > 0 ? 0 : now_ms + (r->retry_after_us + 999) / 1000;
}

/* e->mu held, and released during the database call (so a loop never waits on it for
 * long): lease what makes a whole slice, the lease marked in flight (topping) so nobody
 * else leases meanwhile. 0, or the store's error. */
static int lim_lease(struct limits *l, struct lim_entry *e)
{
    if (atomic_load(&l->degraded) && clock_mono_ms() < atomic_load(&l->db_retry_ms))
        return -EIO;
    struct gcra_limit gl = e->lim;
    int64_t want = limits_slice(l, (long)gl.burst) - e->held;
    e->topping = 1;
    pthread_mutex_unlock(&e->mu);
    struct gcra_result r;
    int rc = store_rate_lease(l->s, e->name, &gl, want, &r);
    lim_degraded(l, rc != 0, rc);
    pthread_mutex_lock(&e->mu);
    if (rc == 0)
        lim_apply(e, &r, clock_mono_ms());
    e->topping = 0;
    pthread_cond_broadcast(&e->topped);
    return rc;
}

/* e->mu held: queue a top-up when half the slice is spent (see the top comment). */
static void lim_want_topup(struct limits *l, struct lim_entry *e, int64_t now)
{
    long slice = limits_slice(l, (long)e->lim.burst);
    if (slice < 2 || e->held > slice / 2 || e->topping || now < e->deny_until_ms ||
        atomic_load(&l->degraded))
        return;
    struct lim_stripe *st = &l->stripe[lim_hash(e->name) % LIM_STRIPES];
    pthread_mutex_lock(&st->mu);
    e->refs++; /* the top-up's own */
    pthread_mutex_unlock(&st->mu);
    e->topping = 1;
    pthread_mutex_lock(&l->mu);
    e->tnext = l->todo;
    l->todo = e;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* e->mu held: spend a held token, or refuse while the shared bucket is known empty. */
static void lim_spend(struct limits *l, struct lim_entry *e, int64_t now,
                      struct limits_verdict *out)
{
    if (e->held > 0) {
        e->held--;
        out->allowed = 1;
        out->remaining = (long)(e->held + e->remote_remaining);
        out->reset_s = (long)gcra_ceil_s((e->reset_at_ms - now) * 1000);
        out->retry_after_s = 0;
        lim_want_topup(l, e, now);
        return;
    }
    out->allowed = 0;
    out->remaining = 0;
    out->reset_s = (long)gcra_ceil_s((e->reset_at_ms - now) * 1000);
    out->retry_after_s = (long)gcra_ceil_s((e->deny_until_ms - now) * 1000);
    if (out->retry_after_s < 1)
        out->retry_after_s = 1;
}

/* e->mu held: 1 when deciding needs PostgreSQL now (nothing held, the bucket may have
 * tokens, and no outage back-off says to decide locally). */
static int lim_needs_lease(struct limits *l, const struct lim_entry *e, int64_t now)
{
    if (e->held > 0 || now < e->deny_until_ms)
        return 0;
    return !(atomic_load(&l->degraded) && now < atomic_load(&l->db_retry_ms));
}

static void lim_decide(struct limits *l, struct lim_entry *e, struct limits_verdict *out)
{
    int64_t now = clock_mono_ms();
    e->last_used_ms = now;
    for (int waits = 0; e->held == 0 && e->topping && waits < 50; waits++) {
        struct timespec ts; /* a top-up is under way: its tokens are as good as a lease */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&e->topped, &e->mu, &ts);
        now = clock_mono_ms();
    }
    if (e->held == 0 && e->topping) {
        lim_local(e, now, out); /* the top-up is stuck: decide here rather than overlease */
        return;
    }
    if (e->held == 0 && now >= e->deny_until_ms && lim_lease(l, e) != 0) {
        lim_local(e, clock_mono_ms(), out);
        return;
    }
    lim_spend(l, e, clock_mono_ms(), out);
}

/* Table full: one token straight from PostgreSQL (correct, one round trip). */
static void lim_direct(struct limits *l, const char *bucket, const struct gcra_limit *gl,
                       struct limits_verdict *out)
{
    struct gcra_result r;
    int rc = store_rate_lease(l->s, bucket, gl, 1, &r);
    lim_degraded(l, rc != 0, rc);
    out->allowed = rc != 0 || r.granted == 1; /* no table, no database: let it through */
    out->remaining = rc ? 0 : (long)r.remaining;
    out->reset_s = rc ? 0 : (long)gcra_ceil_s(r.reset_us);
    out->retry_after_s = out->allowed ? 0 : (long)gcra_ceil_s(r.retry_after_us);
}

/* Without waiting: 0 and *out when decided from what is held, else HTTP_NEEDS_WORKER. */
static int lim_decide_now(struct limits *l, struct lim_entry *e, const struct gcra_limit *gl,
                          struct limits_verdict *out)
{
    pthread_mutex_lock(&e->mu); /* never held across a database call */
    int64_t now = clock_mono_ms();
    int rc = 0;
    /* a new entry (its limit not set yet) is first leased by a worker */
    int fresh = e->lim.interval_us != gl->interval_us || e->lim.burst != gl->burst;
    if (fresh || lim_needs_lease(l, e, now) || (e->held == 0 && e->topping)) {
        rc = HTTP_NEEDS_WORKER;
    } else {
        e->last_used_ms = now;
        if (e->held == 0 && now >= e->deny_until_ms)
            lim_local(e, now, out); /* PostgreSQL is out: the local fallback */
        else
            lim_spend(l, e, now, out);
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int limits_check(struct limits *l, const char *bucket, long per_min, long burst, int may_block,
                 struct limits_verdict *out)
{
    struct gcra_limit gl;
    memset(out, 0, sizeof(*out));
    out->allowed = 1;
    out->limit = per_min;
    out->burst = burst;
    if (!l || gcra_limit_per_minute(per_min, burst, &gl) != 0 || strlen(bucket) >= LIM_NAME_MAX)
        return 0; /* configuration is validated at start; nothing to enforce here */
    struct lim_entry *e = lim_pin(l, bucket);
    if (!e && !may_block)
        return HTTP_NEEDS_WORKER;
    if (!e) {
        lim_direct(l, bucket, &gl, out);
        return 0;
    }
    int rc = 0;
    if (may_block) {
        pthread_mutex_lock(&e->mu);
        e->lim = gl;
        lim_decide(l, e, out);
        pthread_mutex_unlock(&e->mu);
    } else {
        rc = lim_decide_now(l, e, &gl, out);
    }
    if (rc)
        memset(out, 0, sizeof(*out));
    lim_unpin(l, e);
    return rc;
}

/* ---- the lease thread ---- */

/* Collect the stripe's idle slices (and free long-idle entries): returns the count. */
static size_t lim_collect(struct limits *l, struct lim_stripe *st, int64_t now, int all,
                          struct lim_return *ret, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&st->mu);
    for (size_t c = 0; c < LIM_CHAINS; c++) {
        for (struct lim_entry **pp = &st->chain[c]; *pp;) {
            struct lim_entry *e = *pp;
            int idle = e->refs == 0 && (all || now - e->last_used_ms >= l->lease_ms);
            if (idle && e->held > 0 && n < max) {
                snprintf(ret[n].name, sizeof(ret[n].name), "%s", e->name);
                ret[n].lim = e->lim;
                ret[n++].n = e->held;
                e->held = 0;
            }
            int dead =
                e->refs == 0 && e->held == 0 &&
                (all || (now >= e->deny_until_ms && now - e->last_used_ms >= LIM_IDLE_FREE_MS));
            if (!dead) {
                pp = &e->next;
                continue;
            }
            *pp = e->next;
            pthread_mutex_destroy(&e->mu);
            pthread_cond_destroy(&e->topped);
            free(e);
            atomic_fetch_sub(&l->count, 1);
        }
    }
    pthread_mutex_unlock(&st->mu);
    return n;
}

/* Give idle slices back (all: every slice, at shutdown). */
static void lim_return_idle(struct limits *l, int all)
{
    static struct lim_return ret[LIM_RETURN_BATCH]; /* only the lease thread or stop */
    for (size_t i = 0; i < LIM_STRIPES; i++) {
        size_t n;
        do {
            n = lim_collect(l, &l->stripe[i], clock_mono_ms(), all, ret, LIM_RETURN_BATCH);
            for (size_t j = 0; j < n; j++) {
                int rc = store_rate_give(l->s, ret[j].name, &ret[j].lim, ret[j].n);
                if (rc)
                    log_warn("could not give %lld leased tokens back (%s)", (long long)ret[j].n,
                             strerror(-rc));
            }
        } while (n == LIM_RETURN_BATCH);
    }
}

/* Top e's slice up to a whole one (the lease thread; e holds a ref for it). */
static void lim_topup(struct limits *l, struct lim_entry *e)
{
    pthread_mutex_lock(&e->mu);
    struct gcra_limit gl = e->lim;
    int64_t want = limits_slice(l, (long)gl.burst) - e->held;
    pthread_mutex_unlock(&e->mu);
    struct gcra_result r;
    int rc = want > 0 ? store_rate_lease(l->s, e->name, &gl, want, &r) : -EINVAL;
    if (want > 0)
        lim_degraded(l, rc != 0, rc);
    pthread_mutex_lock(&e->mu);
    if (rc == 0)
        lim_apply(e, &r, clock_mono_ms());
    e->topping = 0;
    pthread_cond_broadcast(&e->topped);
    pthread_mutex_unlock(&e->mu);
    lim_unpin(l, e);
}

/* mu held on entry and exit: run the queued top-ups (or, stopping, drop them). */
static void lim_run_topups(struct limits *l, int drop)
{
    while (l->todo) {
        struct lim_entry *e = l->todo;
        l->todo = NULL;
        pthread_mutex_unlock(&l->mu);
        while (e) {
            struct lim_entry *next = e->tnext;
            if (drop) {
                pthread_mutex_lock(&e->mu);
                e->topping = 0;
                pthread_cond_broadcast(&e->topped);
                pthread_mutex_unlock(&e->mu);
                lim_unpin(l, e);
            } else {
                lim_topup(l, e);
            }
            e = next;
        }
        pthread_mutex_lock(&l->mu);
    }
}

static void *lim_thread(void *arg)
{
    struct limits *l = arg;
    int64_t last_tick = clock_mono_ms(), last_sweep = last_tick;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        if (!l->todo) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += LIM_TICK_MS * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        }
        if (l->stop)
            break;
        lim_run_topups(l, 0);
        if (clock_mono_ms() - last_tick < LIM_TICK_MS)
            continue;
        last_tick = clock_mono_ms();
        pthread_mutex_unlock(&l->mu);
        lim_return_idle(l, 0);
        if (clock_mono_ms() - last_sweep >= LIM_SWEEP_MS) {
            last_sweep = clock_mono_ms();
            if (store_rate_sweep(l->s) != 0)
                log_warn("could not delete old rate-limit rows");
        }
        pthread_mutex_lock(&l->mu);
    }
    lim_run_topups(l, 1);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

int limits_start(struct svc *s, const struct gw_limits_config *cfg, struct limits **out)
{
    struct limits *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->s = s;
    l->lease_max = cfg->lease_max;
    l->lease_ms = cfg->lease_ms;
    for (size_t i = 0; i < LIM_STRIPES; i++)
        pthread_mutex_init(&l->stripe[i].mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&l->thread, NULL, lim_thread, l) != 0) {
        limits_stop(l);
        return -EAGAIN;
    }
    *out = l;
    return 0;
}

void limits_stop(struct limits *l)
{
    if (!l)
        return;
    if (l->thread) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    lim_return_idle(l, 1);
    for (size_t i = 0; i < LIM_STRIPES; i++)
        pthread_mutex_destroy(&l->stripe[i].mu);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* ---- sign-in slow-down ---- */

static void lim_account_subject(const char *email, char out[80])
{
    char lower[256];
    size_t n = 0;
    for (; n < sizeof(lower) - 1 && email[n]; n++)
        lower[n] = (email[n] >= 'A' && email[n] <= 'Z') ? (char)(email[n] + 32) : email[n];
    lower[n] = '\0';
    char hex[HASH_SHA256_HEX_LEN + 1];
    hash_sha256_hex(lower, n, hex);
    snprintf(out, 80, "acct:%s", hex);
}

int limits_login_allowed(struct svc *s, const char *email, const char *ip, long *retry_after_s)
{
    char acct[80], addr[64];
    lim_account_subject(email, acct);
    snprintf(addr, sizeof(addr), "addr:%s", ip);
    long wait = 0;
    int rc = store_login_wait(s, acct, addr, &wait);
    if (rc) {
        log_warn("cannot read sign-in failures (%s)", strerror(-rc));
        return 0;
    }
    if (wait <= 0)
        return 0;
    *retry_after_s = wait;
    return -EAGAIN;
}

/* The wait after failures failures when free are allowed: 0, then 1 s doubling to the cap. */
static long lim_login_delay(long failures, long free_failures)
{
    if (failures <= free_failures)
        return 0;
    long over = failures - free_failures - 1;
    long d = over >= 10 ? LOGIN_MAX_DELAY_S : 1L << over;
    return d < LOGIN_MAX_DELAY_S ? d : LOGIN_MAX_DELAY_S;
}

static void lim_login_count(struct svc *s, const char *subject, long free_failures)
{
    long failures = 0;
    int rc = store_login_failure(s, subject, LOGIN_WINDOW_S, &failures);
    long delay = rc ? 0 : lim_login_delay(failures, free_failures);
    if (rc == 0 && delay > 0)
        rc = store_login_block(s, subject, delay);
    if (rc)
        log_warn("cannot record a failed sign-in (%s)", strerror(-rc));
}

void limits_login_failed(struct svc *s, const char *email, const char *ip)
{
    char acct[80], addr[64];
    lim_account_subject(email, acct);
    snprintf(addr, sizeof(addr), "addr:%s", ip);
    lim_login_count(s, acct, LOGIN_FREE_ACCOUNT);
    lim_login_count(s, addr, LOGIN_FREE_ADDRESS);
}

void limits_login_succeeded(struct svc *s, const char *email)
{
    char acct[80];
    lim_account_subject(email, acct);
    if (store_login_clear(s, acct) != 0)
        log_warn("cannot clear the account's failed sign-ins");
}
