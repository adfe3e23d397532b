/* metrics: lock-free-lookup registry of counters, gauges and histograms; Prometheus text. */
#include <ibx/metrics.h>
#include <ibx/log.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_SLOTS    16384 /* power of two, well above METRICS_MAX_SERIES */
#define METRICS_NAME_MAX 128
#define METRICS_HELP_MAX 1024

enum metrics_kind { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };
enum metrics_drop { METRICS_DROP_LIMIT, METRICS_DROP_INVALID };

static const char *const metrics_kind_names[] = {"counter", "gauge", "histogram"};
static const char *const metrics_drop_names[] = {"series_limit", "invalid"};

static const double metrics_default_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                0.1,    0.25,  0.5,    1,     2.5,  5,     10};

/* One metric name: immutable after creation, freed only by metrics_reset(). */
struct metrics_family {
    char *name;
    char *help;
    enum metrics_kind kind;
    size_t nbounds;
    double bounds[METRICS_MAX_BUCKETS];
};

/* One labelled series. value is the counter/gauge value or the histogram sum; counts[]
 * (histograms only) holds nbounds + 1 non-cumulative bucket counts, the last for +Inf. */
struct metrics_series {
    const struct metrics_family *fam;
    uint64_t hash;
    const char *labels; /* points into the same allocation */
    _Atomic double value;
    _Atomic uint64_t counts[];
};

/* Slots are published with a release store once the series is complete, and read without
 * a lock; they are only cleared by metrics_reset(). */
static _Atomic(struct metrics_series *) metrics_slots[METRICS_SLOTS];
static struct metrics_family *metrics_fams[METRICS_MAX_FAMILIES];
static size_t metrics_nfams, metrics_nseries;
static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER; /* creation, render, reset */
static _Atomic uint64_t metrics_dropped[2];
static atomic_flag metrics_warned[2] = {ATOMIC_FLAG_INIT, ATOMIC_FLAG_INIT};

static void metrics_drop(enum metrics_drop why, const char *name)
{
    atomic_fetch_add_explicit(&metrics_dropped[why], 1, memory_order_relaxed);
    if (atomic_flag_test_and_set(&metrics_warned[why]))
        return;
    if (why == METRICS_DROP_LIMIT)
        log_warn("metrics: series limit %d reached; updates of new series are dropped",
                 METRICS_MAX_SERIES);
    else
        log_warn("metrics: invalid update of %.64s dropped (name, labels, type or value)",
                 name ? name : "(null)");
}

static uint64_t metrics_hash(const char *name, const char *labels)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL; /* 0xff never occurs in a valid name */
    for (const unsigned char *p = (const unsigned char *)labels; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

/* Lock-free lookup; NULL when the series does not exist yet. */
static struct metrics_series *metrics_find(const char *name, const char *labels, uint64_t h)
{
    for (size_t i = 0; i < METRICS_SLOTS; i++) {
        size_t idx = (size_t)(h + i) & (METRICS_SLOTS - 1);
        struct metrics_series *s = atomic_load_explicit(&metrics_slots[idx], memory_order_acquire);
        if (!s)
            return NULL;
        if (s->hash == h && strcmp(s->labels, labels) == 0 && strcmp(s->fam->name, name) == 0)
            return s;
    }
    return NULL;
}

static int metrics_valid_name(const char *s)
{
    size_t len = strnlen(s, METRICS_NAME_MAX + 1);
    if (len == 0 || len > METRICS_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:") == len;
}

static int metrics_valid_label_name(const char *s, size_t len)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
    if (len == 0 || (s[0] >= '0' && s[0] <= '9') || (len >= 2 && s[0] == '_' && s[1] == '_'))
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!memchr(ok, s[i], sizeof(ok) - 1))
            return 0;
    }
    return 1;
}

/* Length of the UTF-8 sequence at s (1..4), or 0 when it is not valid UTF-8. */
static size_t metrics_utf8_seq(const unsigned char *s)
{
    uint32_t c = s[0], min;
    size_t n;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        n = 1, min = 0x80, c &= 0x1f;
    else if ((c & 0xf0) == 0xe0)
        n = 2, min = 0x800, c &= 0x0f;
    else if ((c & 0xf8) == 0xf0)
        n = 3, min = 0x10000, c &= 0x07;
    else
        return 0;
    for (size_t i = 1; i <= n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return n + 1;
}

static int metrics_utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = metrics_utf8_seq(p);
        if (n == 0)
            return 0;
        p += n;
    }
    return 1;
}

/* p points after the opening quote; returns the closing quote or NULL. */
static const char *metrics_scan_value(const char *p)
{
    while (*p && *p != '"') {
        if (*p == '\n')
            return NULL;
        if (*p == '\\' && (p[1] == '\0' || !strchr("\\\"n", p[1])))
            return NULL;
        p += *p == '\\' ? 2 : 1;
    }
    return *p == '"' ? p : NULL;
}

/* 1 when name[0..len) is the same as an earlier label name. */
static int metrics_dup_name(const char *const starts[], const size_t lens[], size_t n,
                            const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (lens[i] == len && memcmp(starts[i], name, len) == 0)
            return 1;
    }
    return 0;
}

static int metrics_valid_labels(const char *labels, enum metrics_kind kind)
{
    const char *starts[METRICS_MAX_LABELS];
    size_t lens[METRICS_MAX_LABELS], n = 0;
    if (strnlen(labels, METRICS_MAX_LABELS_LEN + 1) > METRICS_MAX_LABELS_LEN ||
        !metrics_utf8_ok(labels))
        return 0;
    for (const char *p = labels; *p;) {
        const char *eq = strchr(p, '=');
        size_t len = eq ? (size_t)(eq - p) : 0;
        if (!eq || n == METRICS_MAX_LABELS || !metrics_valid_label_name(p, len) ||
            metrics_dup_name(starts, lens, n, p, len) || eq[1] != '"')
            return 0;
        if (kind == METRICS_HISTOGRAM && len == 2 && memcmp(p, "le", 2) == 0)
            return 0;
        starts[n] = p;
        lens[n++] = len;
        const char *close = metrics_scan_value(eq + 2);
        if (!close)
            return 0;
        p = close + 1;
        if (*p == '\0')
            break;
        if (*p != ',' || p[1] == '\0')
            return 0;
        p++;
    }
    return 1;
}

static struct metrics_family *metrics_family_find(const char *name)
{
    for (size_t i = 0; i < metrics_nfams; i++) {
        if (strcmp(metrics_fams[i]->name, name) == 0)
            return metrics_fams[i];
    }
    return NULL;
}

/* Caller holds the lock and has validated name. */
static int metrics_family_add(const char *name, const char *help, enum metrics_kind kind,
                              const double *bounds, size_t nbounds, struct metrics_family **out)
{
    if (metrics_nfams == METRICS_MAX_FAMILIES)
        return -EMSGSIZE;
    struct metrics_family *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->name = strdup(name);
    f->help = strndup(help ? help : "", METRICS_HELP_MAX);
    if (!f->name || !f->help) {
        free(f->name);
        free(f->help);
        free(f);
        return -ENOMEM;
    }
    f->kind = kind;
    f->nbounds = nbounds;
    if (nbounds)
        memcpy(f->bounds, bounds, nbounds * sizeof(bounds[0]));
    metrics_fams[metrics_nfams++] = f;
    *out = f;
    return 0;
}

/* Family for a new series: existing (same kind) or created with default buckets.
 * -EINVAL for a type conflict, or metrics_family_add()'s error. */
static int metrics_family_get(const char *name, const char *help, enum metrics_kind kind,
                              struct metrics_family **out)
{
    struct metrics_family *f = metrics_family_find(name);
    if (f) {
        *out = f;
        return f->kind == kind ? 0 : -EINVAL;
    }
    size_t nb = kind == METRICS_HISTOGRAM ? sizeof(metrics_default_bounds) / sizeof(double) : 0;
    return metrics_family_add(name, help, kind, metrics_default_bounds, nb, out);
}

static struct metrics_series *metrics_series_new(const struct metrics_family *f, const char *labels,
                                                 uint64_t h)
{
    size_t ncounts = f->kind == METRICS_HISTOGRAM ? f->nbounds + 1 : 0;
    size_t lablen = strlen(labels);
    size_t size = sizeof(struct metrics_series) + ncounts * sizeof(_Atomic uint64_t);
    struct metrics_series *s = malloc(size + lablen + 1);
    if (!s)
        return NULL;
    s->fam = f;
    s->hash = h;
    char *copy = (char *)s + size;
    memcpy(copy, labels, lablen + 1);
    s->labels = copy;
    atomic_init(&s->value, 0.0);
    for (size_t i = 0; i < ncounts; i++)
        atomic_init(&s->counts[i], 0);
    return s;
}

static void metrics_publish(struct metrics_series *s)
{
    for (size_t i = 0;; i++) {
        size_t idx = (size_t)(s->hash + i) & (METRICS_SLOTS - 1);
        if (!atomic_load_explicit(&metrics_slots[idx], memory_order_relaxed)) {
            atomic_store_explicit(&metrics_slots[idx], s, memory_order_release);
            metrics_nseries++;
            return;
        }
    }
}

/* Slow path under the lock: find again, validate, create. NULL means dropped (*why set). */
static struct metrics_series *metrics_create(enum metrics_kind kind, const char *name,
                                             const char *help, const char *labels, uint64_t h,
                                             enum metrics_drop *why)
{
    *why = METRICS_DROP_INVALID;
    struct metrics_series *s = metrics_find(name, labels, h);
    if (s)
        return s;
    if (!metrics_valid_name(name) || !metrics_valid_labels(labels, kind))
        return NULL;
    struct metrics_family *f = NULL;
    int rc = metrics_family_get(name, help, kind, &f);
    if (rc == -EMSGSIZE)
        *why = METRICS_DROP_LIMIT;
    if (rc)
        return NULL;
    if (metrics_nseries >= METRICS_MAX_SERIES) {
        *why = METRICS_DROP_LIMIT;
        return NULL;
    }
    s = metrics_series_new(f, labels, h);
    if (s)
        metrics_publish(s);
    return s;
}

/* The series for (name, labels) of this kind, created on first use; NULL when dropped. */
static struct metrics_series *metrics_get(enum metrics_kind kind, const char *name,
                                          const char *help, const char *labels)
{
    if (!name) {
        metrics_drop(METRICS_DROP_INVALID, name);
        return NULL;
    }
    if (!labels)
        labels = "";
    uint64_t h = metrics_hash(name, labels);
    struct metrics_series *s = metrics_find(name, labels, h);
    enum metrics_drop why = METRICS_DROP_INVALID;
    if (!s) {
        pthread_mutex_lock(&metrics_lock);
        s = metrics_create(kind, name, help, labels, h, &why);
        pthread_mutex_unlock(&metrics_lock);
    }
    if (s && s->fam->kind == kind)
        return s;
    metrics_drop(why, name);
    return NULL;
}

static void metrics_atomic_add(_Atomic double *p, double v)
{
    double old = atomic_load_explicit(p, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(p, &old, old + v, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void metrics_counter_add(const char *name, const char *help, const char *labels, double v)
{
    if (!(v >= 0)) { /* negative or NaN */
        metrics_drop(METRICS_DROP_INVALID, name);
        return;
    }
    struct metrics_series *s = metrics_get(METRICS_COUNTER, name, help, labels);
    if (s)
        metrics_atomic_add(&s->value, v);
}

void metrics_gauge_set(const char *name, const char *help, const char *labels, double v)
{
    struct metrics_series *s = metrics_get(METRICS_GAUGE, name, help, labels);
    if (s)
        atomic_store_explicit(&s->value, v, memory_order_relaxed);
}

void metrics_gauge_add(const char *name, const char *help, const char *labels, double v)
{
    struct metrics_series *s = metrics_get(METRICS_GAUGE, name, help, labels);
    if (s)
        metrics_atomic_add(&s->value, v);
}

void metrics_histogram_observe(const char *name, const char *help, const char *labels, double v)
{
    if (isnan(v)) {
        metrics_drop(METRICS_DROP_INVALID, name);
        return;
    }
    struct metrics_series *s = metrics_get(METRICS_HISTOGRAM, name, help, labels);
    if (!s)
        return;
    size_t i = 0;
    while (i < s->fam->nbounds && v > s->fam->bounds[i])
        i++;
    atomic_fetch_add_explicit(&s->counts[i], 1, memory_order_relaxed);
    metrics_atomic_add(&s->value, v);
}

int metrics_histogram_define(const char *name, const char *help, const double *bounds, size_t n)
{
    if (!name || !metrics_valid_name(name) || !bounds || n == 0 || n > METRICS_MAX_BUCKETS)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            return -EINVAL;
    }
    struct metrics_family *f = NULL;
    int rc = -EEXIST;
    pthread_mutex_lock(&metrics_lock);
    if (!metrics_family_find(name))
        rc = metrics_family_add(name, help, METRICS_HISTOGRAM, bounds, n, &f);
    pthread_mutex_unlock(&metrics_lock);
    return rc;
}

void metrics_reset(void)
{
    pthread_mutex_lock(&metrics_lock);
    for (size_t i = 0; i < METRICS_SLOTS; i++) {
        free(atomic_load_explicit(&metrics_slots[i], memory_order_relaxed));
        atomic_store_explicit(&metrics_slots[i], NULL, memory_order_relaxed);
    }
    for (size_t i = 0; i < metrics_nfams; i++) {
        free(metrics_fams[i]->name);
        free(metrics_fams[i]->help);
        free(metrics_fams[i]);
        metrics_fams[i] = NULL;
    }
    metrics_nfams = 0;
    metrics_nseries = 0;
    for (size_t i = 0; i < 2; i++) {
        atomic_store(&metrics_dropped[i], 0);
        atomic_flag_clear(&metrics_warned[i]);
    }
    pthread_mutex_unlock(&metrics_lock);
}

int metrics_escape_label(const char *value, char *out, size_t outsize)
{
    size_t o = 0;
    for (const char *p = value; *p; p++) {
        const char *rep = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        size_t n = rep ? 2 : 1;
        if (o + n >= outsize) {
            if (outsize)
                out[0] = '\0';
            return -EMSGSIZE;
        }
        memcpy(out + o, rep ? rep : p, n);
        o += n;
    }
    if (o >= outsize)
        return -EMSGSIZE;
    out[o] = '\0';
    return 0;
}

int metrics_label_append(char *out, size_t outsize, const char *key, const char *value)
{
    if (!key || !value || !metrics_valid_label_name(key, strlen(key)))
        return -EINVAL;
    size_t cur = strnlen(out, outsize);
    if (cur == outsize)
        return -EMSGSIZE;
    size_t klen = strlen(key), sep = cur ? 1 : 0;
    /* key, =", value, " and the NUL must fit after the comma */
    if (cur + sep + klen + 4 > outsize)
        return -EMSGSIZE;
    size_t at = cur + sep + klen + 2;
    if (metrics_escape_label(value, out + at, outsize - at - 1) != 0) {
        out[cur] = '\0';
        return -EMSGSIZE;
    }
    size_t vlen = strlen(out + at);
    if (cur)
        out[cur] = ',';
    memcpy(out + cur + sep, key, klen);
    memcpy(out + cur + sep + klen, "=\"", 2);
    memcpy(out + at + vlen, "\"", 2);
    return 0;
}

/* Shortest text that reads back as v; Prometheus spellings for infinities and NaN. */
static void metrics_fmt_double(double v, char *out, size_t n)
{
    if (isnan(v)) {
        snprintf(out, n, "NaN");
    } else if (isinf(v)) {
        snprintf(out, n, "%s", v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(out, n, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, n, "%.17g", v);
    }
}

static int metrics_cmp(const void *a, const void *b)
{
    const struct metrics_series *x = *(const struct metrics_series *const *)a;
    const struct metrics_series *y = *(const struct metrics_series *const *)b;
    int c = strcmp(x->fam->name, y->fam->name);
    return c ? c : strcmp(x->labels, y->labels);
}

/* # HELP (backslash and newline escaped) and # TYPE lines. */
static int metrics_put_header(struct buf *b, const char *name, const char *help, const char *kind)
{
    int rc = buf_printf(b, "# HELP %s ", name);
    for (const char *p = help; *p && rc == 0; p++) {
        if (*p == '\\')
            rc = buf_append(b, "\\\\", 2);
        else if (*p == '\n')
            rc = buf_append(b, "\\n", 2);
        else
            rc = buf_append(b, p, 1);
    }
    return rc ? rc : buf_printf(b, "\n# TYPE %s %s\n", name, kind);
}

/* name[suffix]{labels[,extra]} value */
static int metrics_put_sample(struct buf *b, const char *name, const char *suffix,
                              const char *labels, const char *extra, const char *value)
{
    int rc = buf_printf(b, "%s%s", name, suffix);
    if (rc == 0 && (*labels || *extra))
        rc = buf_printf(b, "{%s%s%s}", labels, *labels && *extra ? "," : "", extra);
    return rc ? rc : buf_printf(b, " %s\n", value);
}

static int metrics_put_histogram(struct buf *b, const struct metrics_series *s)
{
    const struct metrics_family *f = s->fam;
    char le[48], val[32];
    uint64_t cum = 0;
    int rc = 0;
    for (size_t i = 0; i <= f->nbounds && rc == 0; i++) {
        cum += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
        char bound[32];
        metrics_fmt_double(i < f->nbounds ? f->bounds[i] : INFINITY, bound, sizeof(bound));
        snprintf(le, sizeof(le), "le=\"%s\"", bound);
        snprintf(val, sizeof(val), "%" PRIu64, cum);
        rc = metrics_put_sample(b, f->name, "_bucket", s->labels, le, val);
    }
    metrics_fmt_double(atomic_load_explicit(&s->value, memory_order_relaxed), val, sizeof(val));
    rc = rc ? rc : metrics_put_sample(b, f->name, "_sum", s->labels, "", val);
    snprintf(val, sizeof(val), "%" PRIu64, cum); /* _count equals the +Inf bucket */
    return rc ? rc : metrics_put_sample(b, f->name, "_count", s->labels, "", val);
}

static int metrics_put_series(struct buf *b, const struct metrics_series *s)
{
    if (s->fam->kind == METRICS_HISTOGRAM)
        return metrics_put_histogram(b, s);
    char val[32];
    metrics_fmt_double(atomic_load_explicit(&s->value, memory_order_relaxed), val, sizeof(val));
    return metrics_put_sample(b, s->fam->name, "", s->labels, "", val);
}

static int metrics_put_dropped(struct buf *b)
{
    int rc = metrics_put_header(b, "ibx_metrics_dropped_total",
                                "Metric updates dropped by the registry", "counter");
    for (size_t i = 0; i < 2 && rc == 0; i++)
        rc = buf_printf(b, "ibx_metrics_dropped_total{reason=\"%s\"} %" PRIu64 "\n",
                        metrics_drop_names[i],
                        atomic_load_explicit(&metrics_dropped[i], memory_order_relaxed));
    return rc;
}

/* All series, sorted; the caller frees the array (not the series). */
static int metrics_snapshot(struct metrics_series ***out, size_t *n)
{
    pthread_mutex_lock(&metrics_lock);
    /* an array of pointers, so sizeof a pointer is meant */
    struct metrics_series **all =
        malloc((metrics_nseries + 1) * sizeof(*all)); // NOLINT(bugprone-sizeof-expression)
    size_t k = 0;
    for (size_t i = 0; all && i < METRICS_SLOTS; i++) {
        struct metrics_series *s = atomic_load_explicit(&metrics_slots[i], memory_order_acquire);
        if (s)
            all[k++] = s;
    }
    pthread_mutex_unlock(&metrics_lock);
    if (!all)
        return -ENOMEM;
    qsort(all, k, sizeof(*all), metrics_cmp); // NOLINT(bugprone-sizeof-expression)
    *out = all;
    *n = k;
    return 0;
}

int metrics_render(struct buf *out)
{
    struct metrics_series **all = NULL;
    size_t n = 0;
    int rc = metrics_snapshot(&all, &n);
    if (rc)
        return rc;
    struct buf tmp;
    buf_init(&tmp, out->limit - out->len);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct metrics_family *f = all[i]->fam;
        if (i == 0 || all[i - 1]->fam != f)
            rc = metrics_put_header(&tmp, f->name, f->help, metrics_kind_names[f->kind]);
        rc = rc ? rc : metrics_put_series(&tmp, all[i]);
    }
    rc = rc ? rc : metrics_put_dropped(&tmp);
    rc = rc ? rc : buf_append(out, tmp.data, tmp.len);
    buf_release(&tmp);
    free(all);
    return rc;
}
