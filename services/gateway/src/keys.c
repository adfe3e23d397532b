/* keys: API keys: secret format, scopes and the route-to-scope map, and the in-process
 * lookup cache (revocation bound, last_used_at written at most once a minute per key). */
#include "gateway.h"

#include <ibx/clock.h>
#include <ibx/hash.h>
#include <ibx/ids.h>
#include <ibx/log.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEYS_SLOTS          4096 /* direct-mapped by hash: a collision costs one lookup */
#define KEYS_TOUCH_EVERY_MS 60000
#define KEYS_TICK_MS        1000

enum keys_slot_state { KEYS_EMPTY = 0, KEYS_FOUND, KEYS_MISSING };

struct keys_slot {
    char hash[HASH_SHA256_HEX_LEN + 1];
    enum keys_slot_state state;
    struct gw_key key;
    int64_t fetched_ms; /* monotonic: when PostgreSQL last answered for this hash */
    int64_t touched_ms; /* monotonic: when last_used_at was last written (0: never) */
    int used;           /* used since touched_ms */
};

struct keys_cache {
    struct svc *s;
    int64_t ttl_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    pthread_t thread;
    struct keys_slot slot[KEYS_SLOTS];
};

int keys_is_secret(const char *bearer)
{
    return bearer && strncmp(bearer, KEYS_SECRET_PREFIX, 4) == 0;
}

void keys_new_secret(char secret[KEYS_SECRET_LEN + 1], char prefix[KEYS_PREFIX_LEN + 1],
                     char hash[65])
{
    char rnd[((KEYS_SECRET_BYTES * 4 + 2) / 3) + 1];
    ids_random_token(rnd, KEYS_SECRET_BYTES);
    snprintf(secret, KEYS_SECRET_LEN + 1, KEYS_SECRET_PREFIX "%s", rnd);
    snprintf(prefix, KEYS_PREFIX_LEN + 1, "%.*s", KEYS_PREFIX_LEN, secret);
    hash_sha256_hex(secret, strlen(secret), hash);
    explicit_bzero(rnd, sizeof(rnd));
}

static const char *const keys_scope_set[] = {"llm", "predict", "read", "write"};
#define KEYS_NSCOPES (sizeof(keys_scope_set) / sizeof(keys_scope_set[0]))

/* Mark the scope named s in seen[]; the problem (static) when it is unknown or repeated. */
static const char *keys_scope_mark(const char *s, int seen[KEYS_NSCOPES])
{
    for (size_t j = 0; j < KEYS_NSCOPES; j++) {
        if (strcmp(s, keys_scope_set[j]) == 0) {
            if (seen[j])
                return "must not repeat a scope";
            seen[j] = 1;
            return NULL;
        }
    }
    return "must only contain llm, predict, read or write";
}

const char *keys_scopes_problem(const json_t *scopes, char *out, size_t n)
{
    if (!json_is_array(scopes) || json_array_size(scopes) == 0)
        return "must be a non-empty array of scopes (llm, predict, read, write)";
    if (json_array_size(scopes) > KEYS_NSCOPES)
        return "has more scopes than exist";
    int seen[KEYS_NSCOPES] = {0};
    for (size_t i = 0; i < json_array_size(scopes); i++) {
        const char *s = json_string_value(json_array_get(scopes, i));
        const char *problem = s ? keys_scope_mark(s, seen) : "must only contain strings";
        if (problem)
            return problem;
    }
    size_t len = 0;
    out[0] = '\0';
    for (size_t j = 0; j < KEYS_NSCOPES; j++) {
        if (seen[j])
            len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s", len ? " " : "",
                                    keys_scope_set[j]);
    }
    return len < n ? NULL : "are too long";
}

/* 1 when path is prefix itself or continues below it with '/'. */
static int keys_under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* /api/v1/models/{id}/predict and anything below it. */
static int keys_is_predict(const char *path)
{
    if (!keys_under(path, "/api/v1/models"))
        return 0;
    const char *id = path + strlen("/api/v1/models");
    if (*id != '/' || id[1] == '/' || id[1] == '\0')
        return 0;
    const char *rest = strchr(id + 1, '/');
    return rest && keys_under(rest, "/predict");
}

const char *keys_required_scope(const char *method, const char *path)
{
    static const char *const never[] = {"/api/v1/api-keys", "/api/v1/users", "/api/v1/auth",
                                        "/api/v1/admin", "/api/v1/sessions"};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        if (keys_under(path, never[i]))
            return NULL;
    }
    if (keys_under(path, "/v1") || keys_under(path, "/api/v1/llm"))
        return "llm";
    if (keys_under(path, "/v2") || keys_is_predict(path))
        return "predict";
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return "read";
    return "write";
}

int keys_has_scope(const char *scopes, const char *scope)
{
    size_t n = strlen(scope);
    for (const char *p = scopes; p && *p;) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, scope, n) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

/* ---- the lookup cache ---- */

static size_t keys_slot_of(const char *hash)
{
    size_t v = 0;
    for (int i = 0; i < 3; i++) {
        char c = hash[i];
        v = v * 16 + (size_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return v % KEYS_SLOTS;
}

/* The secret looks like one of ours: prefix, length, base64url characters. */
static int keys_well_formed(const char *secret)
{
    if (!keys_is_secret(secret) || strlen(secret) != KEYS_SECRET_LEN)
        return 0;
    for (const char *p = secret + 4; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return 0;
    }
    return 1;
}

/* Answer from the cache: 0 (hit, *out), -EPERM (known missing), -ENOENT (ask PostgreSQL). */
static int keys_cached(struct keys_cache *c, const char *hash, struct gw_key *out)
{
    int rc = -ENOENT;
    pthread_mutex_lock(&c->mu);
    struct keys_slot *sl = &c->slot[keys_slot_of(hash)];
    if (sl->state != KEYS_EMPTY && strcmp(sl->hash, hash) == 0 &&
        clock_mono_ms() - sl->fetched_ms < c->ttl_ms) {
        rc = sl->state == KEYS_FOUND ? 0 : -EPERM;
        if (rc == 0) {
            *out = sl->key;
            sl->used = 1;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static void keys_remember(struct keys_cache *c, const char *hash, const struct gw_key *k)
{
    pthread_mutex_lock(&c->mu);
    struct keys_slot *sl = &c->slot[keys_slot_of(hash)];
    int same = k && sl->state == KEYS_FOUND && strcmp(sl->key.id, k->id) == 0;
    int64_t touched = same ? sl->touched_ms : 0;
    memset(sl, 0, sizeof(*sl));
    snprintf(sl->hash, sizeof(sl->hash), "%s", hash);
    sl->state = k ? KEYS_FOUND : KEYS_MISSING;
    if (k)
        sl->key = *k;
    sl->fetched_ms = clock_mono_ms();
    sl->touched_ms = touched;
    sl->used = k != NULL;
    pthread_mutex_unlock(&c->mu);
}

int keys_resolve(struct svc *s, const char *secret, struct gw_key *out, const char **why)
{
    struct keys_cache *c = ((struct gw *)s->app)->keys;
    if (!c || !keys_well_formed(secret)) {
        *why = "this API key is not valid";
        return -EPERM;
    }
    char hash[HASH_SHA256_HEX_LEN + 1];
    hash_sha256_hex(secret, strlen(secret), hash);
    struct gw_key k;
    int rc = keys_cached(c, hash, &k);
    if (rc == -ENOENT) {
        rc = store_key_by_hash(s, hash, &k);
        if (rc == 0 || rc == -ENOENT)
            keys_remember(c, hash, rc == 0 ? &k : NULL);
        if (rc == -ENOENT)
            rc = -EPERM;
    }
    if (rc == 0 && k.expires_ms && clock_wall_ms() >= k.expires_ms)
        rc = -EPERM;
    if (rc == -EPERM)
        *why = "this API key is unknown, revoked or expired";
    else if (rc)
        *why = "API keys cannot be checked right now; retry shortly";
    else
        *out = k;
    return rc;
}

void keys_forget(struct keys_cache *c, const char *key_id)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < KEYS_SLOTS; i++) {
        if (c->slot[i].state == KEYS_FOUND && strcmp(c->slot[i].key.id, key_id) == 0)
            memset(&c->slot[i], 0, sizeof(c->slot[i]));
    }
    pthread_mutex_unlock(&c->mu);
}

/* Write last_used_at for keys used since their last write a minute ago (or never). */
static void keys_flush(struct keys_cache *c, int64_t every_ms)
{
    static char ids[KEYS_SLOTS][IDS_UUID_LEN + 1]; /* only the cache's thread flushes */
    const char *idp[KEYS_SLOTS];
    size_t n = 0;
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < KEYS_SLOTS; i++) {
        struct keys_slot *sl = &c->slot[i];
        if (sl->state != KEYS_FOUND || !sl->used ||
            (sl->touched_ms && now - sl->touched_ms < every_ms))
            continue;
        sl->used = 0;
        sl->touched_ms = now;
        snprintf(ids[n], sizeof(ids[n]), "%s", sl->key.id);
        idp[n] = ids[n];
        n++;
    }
    pthread_mutex_unlock(&c->mu);
    if (n && store_keys_touch(c->s, idp, n) != 0)
        log_warn("could not record when %zu API keys were last used", n);
}

static void *keys_thread(void *arg)
{
    struct keys_cache *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += KEYS_TICK_MS / 1000;
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        if (c->stop)
            break;
        pthread_mutex_unlock(&c->mu);
        keys_flush(c, KEYS_TOUCH_EVERY_MS);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int keys_start(struct svc *s, long cache_s, struct keys_cache **out)
{
    struct keys_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->s = s;
    c->ttl_ms = (int64_t)cache_s * 1000;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&c->thread, NULL, keys_thread, c) != 0) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return -EAGAIN;
    }
    *out = c;
    return 0;
}

void keys_stop(struct keys_cache *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    keys_flush(c, KEYS_TOUCH_EVERY_MS);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* ---- RFC 3339 ---- */

/* n decimal digits at p into *v; 0 or -EINVAL. */
static int keys_digits(const char *p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -EINVAL;
        x = x * 10 + (p[i] - '0');
    }
    *v = x;
    return 0;
}

/* The zone at p (Z, +hh:mm, -hh:mm, after optional fractions): offset in seconds. */
static int keys_zone(const char *p, long *offset_s)
{
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        *offset_s = 0;
        return 0;
    }
    int hh = 0, mm = 0;
    if ((*p != '+' && *p != '-') || strlen(p) != 6 || p[3] != ':' || keys_digits(p + 1, 2, &hh) ||
        keys_digits(p + 4, 2, &mm) || hh > 23 || mm > 59)
        return -EINVAL;
    *offset_s = (*p == '-' ? -1L : 1L) * (hh * 3600L + mm * 60L);
    return 0;
}

int keys_parse_time(const char *s, long long *ms)
{
    int y, mo, d, h, mi, se;
    long off = 0;
    if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':' || keys_digits(s, 4, &y) || keys_digits(s + 5, 2, &mo) ||
        keys_digits(s + 8, 2, &d) || keys_digits(s + 11, 2, &h) || keys_digits(s + 14, 2, &mi) ||
        keys_digits(s + 17, 2, &se) || keys_zone(s + 19, &off))
        return -EINVAL;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se};
    time_t t = timegm(&tm);
    if (y < 1970 || tm.tm_year != y - 1900 || tm.tm_mon != mo - 1 || tm.tm_mday != d ||
        tm.tm_hour != h || tm.tm_min != mi || tm.tm_sec != se)
        return -EINVAL; /* 2026-02-30 normalises to March: not a date */
    *ms = ((long long)t - off) * 1000;
    return 0;
}

const char *keys_expiry_problem(const char *s, long long *ms)
{
    long long t = 0;
    if (!s) {
        *ms = 0;
        return NULL;
    }
    if (keys_parse_time(s, &t) != 0)
        return "must be an RFC 3339 time such as 2030-01-31T00:00:00Z";
    if (t <= clock_wall_ms())
        return "must be in the future";
    *ms = t;
    return NULL;
}
