/* quality: the IBIS-X data-quality analysis over a frame (missing values, patterns,
 * severity, outliers, score, advice) and the statistics behind it. */
#include <ibx/quality.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INDICES   100
#define MAX_PAIRS     100
#define PAIR_CORR     0.7
#define Z_THRESHOLD   3.0
#define MIN_DIST_VALS 10

/* ---- statistics -------------------------------------------------------------------- */

int quality_is_id_like(const char *name)
{
    static const char *const exact[] = {"id",  "uuid",       "guid",   "index",
                                        "idx", "row_number", "rownum", "unnamed: 0"};
    char low[64];
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= sizeof low)
        return 0;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(low, exact[i]) == 0)
            return 1;
    return (n > 3 && strcmp(low + n - 3, "_id") == 0) || strncmp(low, "pk_", 3) == 0;
}

static double mean_of(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s / (double)n;
}

/* Central moments 2, 3 and 4 (sums divided by n). */
static void moments(const double *x, size_t n, double *m2, double *m3, double *m4)
{
    double mu = mean_of(x, n), s2 = 0, s3 = 0, s4 = 0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - mu, d2 = d * d;
        s2 += d2;
        s3 += d2 * d;
        s4 += d2 * d2;
    }
    *m2 = s2 / (double)n;
    *m3 = s3 / (double)n;
    *m4 = s4 / (double)n;
}

double quality_skew(const double *x, size_t n)
{
    if (n < 3)
        return NAN;
    double mu = mean_of(x, n), s2 = 0, s3 = 0, cnt = (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - mu;
        s2 += d * d;
        s3 += d * d * d;
    }
    /* pandas' nanskew: tiny sums are floating-point noise */
    s2 = fabs(s2) < 1e-14 ? 0 : s2;
    s3 = fabs(s3) < 1e-14 ? 0 : s3;
    if (s2 == 0)
        return 0;
    return cnt * sqrt(cnt - 1) / (cnt - 2) * (s3 / pow(s2, 1.5));
}

/* scipy.stats.skewtest's Z for the biased sample skewness b2. */
static double skew_z(double b2, double n)
{
    double y = b2 * sqrt(((n + 1) * (n + 3)) / (6.0 * (n - 2)));
    double beta2 =
        3.0 * (n * n + 27 * n - 70) * (n + 1) * (n + 3) / ((n - 2) * (n + 5) * (n + 7) * (n + 9));
    double w2 = -1 + sqrt(2 * (beta2 - 1));
    double delta = 1 / sqrt(0.5 * log(w2));
    double alpha = sqrt(2.0 / (w2 - 1));
    y = y == 0 ? 1 : y;
    return delta * log(y / alpha + sqrt((y / alpha) * (y / alpha) + 1));
}

/* scipy.stats.kurtosistest's Z for the Pearson kurtosis b2 (NaN when undefined). */
static double kurtosis_z(double b2, double n)
{
    double e = 3.0 * (n - 1) / (n + 1);
    double varb2 = 24.0 * n * (n - 2) * (n - 3) / ((n + 1) * (n + 1) * (n + 3) * (n + 5));
    double x = (b2 - e) / sqrt(varb2);
    double sqrtbeta1 = 6.0 * (n * n - 5 * n + 2) / ((n + 7) * (n + 9)) *
                       sqrt((6.0 * (n + 3) * (n + 5)) / (n * (n - 2) * (n - 3)));
    double a = 6.0 + 8.0 / sqrtbeta1 * (2.0 / sqrtbeta1 + sqrt(1 + 4.0 / (sqrtbeta1 * sqrtbeta1)));
    double term1 = 1 - 2 / (9.0 * a);
    double denom = 1 + x * sqrt(2 / (a - 4.0));
    if (denom == 0)
        return NAN;
    double term2 = (denom > 0 ? 1 : -1) * cbrt((1 - 2.0 / a) / fabs(denom));
    return (term1 - term2) / sqrt(2 / (9.0 * a));
}

int quality_normaltest(const double *x, size_t n, double *stat, double *p)
{
    double m2, m3, m4;
    if (!x || n < 8 || !stat || !p)
        return -EINVAL;
    moments(x, n, &m2, &m3, &m4);
    if (!(m2 > 0))
        return -EINVAL;
    double zs = skew_z(m3 / pow(m2, 1.5), (double)n);
    double zk = kurtosis_z(m4 / (m2 * m2), (double)n);
    double k2 = zs * zs + zk * zk;
    if (!isfinite(k2))
        return -EINVAL;
    *stat = k2;
    *p = exp(-k2 / 2); /* the chi-squared survival function with 2 degrees of freedom */
    return 0;
}

double quality_quantile(const double *sorted, size_t n, double q)
{
    double vi = (double)(n - 1) * q;
    size_t lo = vi <= 0 ? 0 : (size_t)floor(vi);
    lo = lo > n - 1 ? n - 1 : lo;
    size_t hi = lo + 1 > n - 1 ? n - 1 : lo + 1;
    double t = vi - (double)lo, a = sorted[lo], b = sorted[hi], d = b - a;
    /* numpy's _lerp: the form that is exact at whichever end t is closer to */
    return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- per-column facts -------------------------------------------------------------- */

struct outl {
    int has;
    double q1, q3, lo, hi, iqr_pct, z_pct, mean, sd, max_z;
    size_t iqr_count, z_count;
};

struct colstat {
    const struct frame_column *c;
    int analysed; /* not id-like */
    int numeric;  /* FRAME_NUMERIC or FRAME_TEMPORAL */
    size_t missing, nunique;
    double pct; /* missing % of all rows */
    int is_categorical;
    const char *dist;
    double skew, p;  /* NaN when not computed */
    struct outl out; /* FRAME_NUMERIC only */
};

struct analysis {
    const struct frame *f;
    size_t n, ncols, analysed;
    struct colstat *st;
    double *vals; /* scratch: one column's present values */
    double severity;
    const char *level;
    size_t with_missing, over40, empty_cols, empty_rows;
};

static int is_missing(const struct frame_column *c, size_t i)
{
    if (c->num)
        return isnan(c->num[i]);
    return c->codes ? c->codes[i] < 0 : c->text[i] == NULL;
}

static size_t unique_codes(const struct frame_column *c)
{
    size_t count = 0;
    unsigned char *seen = calloc(c->ndict ? c->ndict : 1, 1);
    if (!seen)
        return SIZE_MAX;
    for (size_t i = 0; i < c->n; i++) {
        if (c->codes[i] < 0 || seen[c->codes[i]])
            continue;
        seen[c->codes[i]] = 1;
        count++;
    }
    free(seen);
    return count;
}

static size_t unique_texts(const struct frame_column *c)
{
    size_t m = 0, count = 0;
    const char **v = malloc((c->n ? c->n : 1) * sizeof *v);
    if (!v)
        return SIZE_MAX;
    for (size_t i = 0; i < c->n; i++)
        if (c->text[i])
            v[m++] = c->text[i];
    qsort(v, m, sizeof *v, cmp_str);
    for (size_t i = 0; i < m; i++)
        count += i == 0 || strcmp(v[i - 1], v[i]) != 0;
    free(v);
    return count;
}

static size_t unique_sorted(const double *v, size_t m)
{
    size_t count = 0;
    for (size_t i = 0; i < m; i++)
        count += i == 0 || v[i - 1] != v[i];
    return count;
}

static void classify(struct colstat *s, const double *vals, size_t m)
{
    double stat;
    s->skew = NAN;
    s->p = NAN;
    if (!s->numeric) {
        s->dist = "categorical";
        return;
    }
    if (m < MIN_DIST_VALS) {
        s->dist = "insufficient_data";
        return;
    }
    s->skew = quality_skew(vals, m);
    if (quality_normaltest(vals, m, &stat, &s->p) != 0)
        s->p = NAN;
    if (s->p > 0.05)
        s->dist = "normal";
    else if (fabs(s->skew) < 0.5)
        s->dist = "symmetric";
    else if (s->skew > 1)
        s->dist = "right_skewed";
    else if (s->skew < -1)
        s->dist = "left_skewed";
    else
        s->dist = "moderately_skewed";
}

/* Outliers of m sorted present values of a numeric column (a->n rows in all). */
static void outliers(struct outl *o, const struct frame_column *c, const double *sorted, size_t m,
                     size_t n)
{
    o->has = m > 0;
    if (!o->has)
        return;
    o->q1 = quality_quantile(sorted, m, 0.25);
    o->q3 = quality_quantile(sorted, m, 0.75);
    o->lo = o->q1 - 1.5 * (o->q3 - o->q1);
    o->hi = o->q3 + 1.5 * (o->q3 - o->q1);
    o->mean = mean_of(sorted, m);
    double ss = 0;
    for (size_t i = 0; i < m; i++)
        ss += (sorted[i] - o->mean) * (sorted[i] - o->mean);
    o->sd = m > 1 ? sqrt(ss / (double)(m - 1)) : NAN;
    o->max_z = o->sd > 0 ? 0 : NAN;
    for (size_t i = 0; i < m; i++) {
        o->iqr_count += sorted[i] < o->lo || sorted[i] > o->hi;
        if (!(o->sd > 0))
            continue;
        double z = fabs(sorted[i] - o->mean) / o->sd;
        o->z_count += z > Z_THRESHOLD;
        o->max_z = z > o->max_z ? z : o->max_z;
    }
    o->iqr_pct = 100.0 * (double)o->iqr_count / (double)n;
    o->z_pct = 100.0 * (double)o->z_count / (double)n;
    (void)c;
}

static int column_facts(struct analysis *a, struct colstat *s)
{
    const struct frame_column *c = s->c;
    size_t m = 0;
    s->numeric = c->kind == FRAME_NUMERIC || c->kind == FRAME_TEMPORAL;
    for (size_t i = 0; i < a->n; i++) {
        if (is_missing(c, i))
            s->missing++;
        else if (s->numeric)
            a->vals[m++] = c->num[i];
    }
    s->pct = a->n ? 100.0 * (double)s->missing / (double)a->n : 0;
    classify(s, a->vals, m);
    if (s->numeric) {
        qsort(a->vals, m, sizeof *a->vals, cmp_double);
        s->nunique = unique_sorted(a->vals, m);
    } else {
        s->nunique = c->codes ? unique_codes(c) : unique_texts(c);
    }
    if (s->nunique == SIZE_MAX)
        return -ENOMEM;
    s->is_categorical = !s->numeric || s->nunique < 10;
    if (c->kind == FRAME_NUMERIC)
        outliers(&s->out, c, a->vals, m, a->n);
    return 0;
}

/* ---- missing patterns and severity ------------------------------------------------- */

static void count_empty_rows(struct analysis *a)
{
    for (size_t i = 0; a->analysed > 0 && i < a->n; i++) {
        size_t j = 0;
        while (j < a->ncols && (!a->st[j].analysed || is_missing(a->st[j].c, i)))
            j++;
        a->empty_rows += j == a->ncols;
    }
}

static void severity(struct analysis *a)
{
    for (size_t j = 0; j < a->ncols; j++) {
        const struct colstat *s = &a->st[j];
        if (!s->analysed || s->missing == 0)
            continue;
        a->with_missing++;
        a->over40 += s->pct > 40;
        a->empty_cols += s->missing == a->n;
    }
    double cols = a->analysed ? (double)a->analysed : 1;
    a->severity = 30.0 * (double)a->with_missing / cols + 40.0 * (double)a->over40 / cols +
                  10.0 * (double)a->empty_cols;
    a->severity = a->severity > 100 ? 100 : a->severity;
    if (a->with_missing == 0)
        a->level = "none";
    else
        a->level = a->severity >= 80   ? "critical"
                   : a->severity >= 60 ? "high"
                   : a->severity >= 30 ? "medium"
                                       : "low";
}

static const char *column_severity(double pct)
{
    return pct < 5 ? "low" : pct < 15 ? "medium" : pct < 30 ? "high" : "critical";
}

/* ---- JSON helpers ---- */

static double round2(double x)
{
    return round(x * 100.0) / 100.0;
}

static json_t *jnum(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

/* Set key to v (stolen) in obj; *rc becomes -ENOMEM on any failure (and stays). */
static void put(json_t *obj, const char *key, json_t *v, int *rc)
{
    if (*rc != 0 || !obj || !v || !key) {
        json_decref(v);
        *rc = -ENOMEM;
        return;
    }
    if (json_object_set_new(obj, key, v) != 0)
        *rc = -ENOMEM;
}

/* The same with a column name as the key (invalid UTF-8 becomes U+FFFD). */
static void put_name(json_t *obj, const char *name, json_t *v, int *rc)
{
    json_t *key = frame_json_string(name);
    put(obj, key ? json_string_value(key) : NULL, v, rc);
    json_decref(key);
}

static void push(json_t *arr, json_t *v, int *rc)
{
    if (*rc != 0 || !arr || !v) {
        json_decref(v);
        *rc = -ENOMEM;
        return;
    }
    if (json_array_append_new(arr, v) != 0)
        *rc = -ENOMEM;
}

/* Return o, or release it and return NULL when rc reports a failure. */
static json_t *done(json_t *o, int rc)
{
    if (rc == 0 && o)
        return o;
    json_decref(o);
    return NULL;
}

/* ---- strategies ---- */

struct strategy {
    const char *primary;
    const char *alts[2];
    size_t nalts;
    double confidence;
    char why[200];
};

static void strategy_for(const struct colstat *s, struct strategy *st)
{
    int normal = s->dist && strcmp(s->dist, "normal") == 0;
    const char *central = normal ? "mean_imputation" : "median_imputation";
    memset(st, 0, sizeof *st);
    if (s->pct > 70) {
        *st = (struct strategy){"drop_column", {NULL, NULL}, 0, 0.9, ""};
        snprintf(st->why, sizeof st->why,
                 "%.1f%% of the values are missing, too many to impute reliably.", s->pct);
    } else if (s->pct > 40) {
        *st = s->is_categorical
                  ? (struct strategy){"mode_imputation",
                                      {"create_missing_category", "drop_column"},
                                      2,
                                      0.7,
                                      ""}
                  : (struct strategy){
                        "knn_imputation", {"iterative_imputation", "drop_column"}, 2, 0.7, ""};
        snprintf(st->why, sizeof st->why, "%.1f%% of the values are missing, so %s.", s->pct,
                 s->is_categorical ? "the most frequent value fills them or missing becomes "
                                     "a category of its own"
                                   : "similar rows (k nearest neighbours) estimate them "
                                     "better than one statistic");
    } else if (s->pct > 15) {
        *st = s->is_categorical
                  ? (struct strategy){"mode_imputation", {"knn_imputation", NULL}, 1, 0.8, ""}
                  : (struct strategy){
                        central, {"knn_imputation", "iterative_imputation"}, 2, 0.8, ""};
    } else {
        *st = (struct strategy){
            s->is_categorical ? "mode_imputation" : central, {"drop_rows", NULL}, 1, 0.9, ""};
    }
    if (st->why[0])
        return;
    snprintf(st->why, sizeof st->why, "%.1f%% of the values are missing and %s.", s->pct,
             s->is_categorical ? "the column is categorical, so the most frequent value fills them"
             : normal          ? "the values look normally distributed, so the mean fills them"
                               : "the values are not normally distributed, so the median "
                                 "(robust to skew and outliers) fills them");
}

static json_t *strings_json(const char *const *v, size_t n)
{
    json_t *arr = json_array();
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        push(arr, json_string(v[i]), &rc);
    return done(arr, rc);
}

static json_t *strategy_json(const struct strategy *st, int long_keys)
{
    json_t *o = json_object();
    int rc = 0;
    put(o, long_keys ? "primary_strategy" : "strategy", json_string(st->primary), &rc);
    put(o, long_keys ? "alternative_strategies" : "alternatives", strings_json(st->alts, st->nalts),
        &rc);
    put(o, "explanation", json_string(st->why), &rc);
    put(o, "confidence", json_real(st->confidence), &rc);
    return done(o, rc);
}

/* ---- report sections ---- */

static json_t *column_missing_json(const struct colstat *s)
{
    struct strategy st;
    json_t *o = json_object();
    int rc = 0;
    strategy_for(s, &st);
    put(o, "missing_count", json_integer((json_int_t)s->missing), &rc);
    put(o, "missing_percentage", json_real(round2(s->pct)), &rc);
    put(o, "data_type", json_string(s->c->type), &rc);
    put(o, "unique_values", json_integer((json_int_t)s->nunique), &rc);
    put(o, "is_categorical", json_boolean(s->is_categorical), &rc);
    put(o, "distribution_type", json_string(s->dist), &rc);
    put(o, "skewness", jnum(s->skew), &rc);
    put(o, "normality_p_value", jnum(s->p), &rc);
    put(o, "severity", json_string(column_severity(s->pct)), &rc);
    put(o, "recommended_strategy", strategy_json(&st, 1), &rc);
    return done(o, rc);
}

struct bits {
    uint64_t *w;
    size_t count; /* ones */
};

/* Missingness indicators of the analysed columns with some but not all values missing. */
static int indicator_bits(const struct analysis *a, struct bits *b, size_t *idx, size_t *nb)
{
    size_t words = (a->n + 63) / 64;
    *nb = 0;
    for (size_t j = 0; j < a->ncols; j++) {
        const struct colstat *s = &a->st[j];
        if (!s->analysed || s->missing == 0 || s->missing == a->n)
            continue;
        struct bits *x = &b[*nb];
        x->w = calloc(words ? words : 1, sizeof *x->w);
        if (!x->w)
            return -ENOMEM;
        for (size_t i = 0; i < a->n; i++)
            if (is_missing(s->c, i))
                x->w[i / 64] |= 1ull << (i % 64);
        x->count = s->missing;
        idx[(*nb)++] = j;
    }
    return 0;
}

static double indicator_corr(const struct bits *x, const struct bits *y, size_t n)
{
    size_t both = 0;
    for (size_t k = 0; k < (n + 63) / 64; k++)
        both += (size_t)__builtin_popcountll(x->w[k] & y->w[k]);
    double dn = (double)n, a = (double)x->count, b = (double)y->count;
    return (dn * (double)both - a * b) / sqrt(a * (dn - a) * b * (dn - b));
}

static json_t *pair_json(const struct analysis *a, size_t i, size_t j, double r)
{
    json_t *o = json_object(), *cols = json_array();
    int rc = 0;
    push(cols, frame_json_string(a->st[i].c->name), &rc);
    push(cols, frame_json_string(a->st[j].c->name), &rc);
    put(o, "columns", cols, &rc);
    put(o, "correlation", json_real(round(r * 10000.0) / 10000.0), &rc);
    return done(o, rc);
}

/* correlated_missing and its total into patterns. */
static int correlated_pairs(const struct analysis *a, json_t *patterns)
{
    struct bits *b = calloc(a->ncols ? a->ncols : 1, sizeof *b);
    size_t *idx = calloc(a->ncols ? a->ncols : 1, sizeof *idx), nb = 0, total = 0;
    json_t *arr = json_array();
    int rc = b && idx ? indicator_bits(a, b, idx, &nb) : -ENOMEM;
    for (size_t x = 0; rc == 0 && x < nb; x++) {
        for (size_t y = x + 1; rc == 0 && y < nb; y++) {
            double r = indicator_corr(&b[x], &b[y], a->n);
            if (!(fabs(r) > PAIR_CORR))
                continue;
            if (++total <= MAX_PAIRS)
                push(arr, pair_json(a, idx[x], idx[y], r), &rc);
        }
    }
    put(patterns, "correlated_missing", arr, &rc);
    put(patterns, "correlated_missing_total", json_integer((json_int_t)total), &rc);
    for (size_t k = 0; b && k < nb; k++)
        free(b[k].w);
    free(b);
    free(idx);
    return rc;
}

static json_t *patterns_json(const struct analysis *a)
{
    json_t *o = json_object(), *cols = json_array();
    int rc = 0;
    for (size_t j = 0; j < a->ncols; j++)
        if (a->st[j].analysed && a->n > 0 && a->st[j].missing == a->n)
            push(cols, frame_json_string(a->st[j].c->name), &rc);
    put(o, "completely_missing_rows", json_integer((json_int_t)a->empty_rows), &rc);
    put(o, "completely_missing_columns", cols, &rc);
    if (rc == 0)
        rc = correlated_pairs(a, o);
    return done(o, rc);
}

__attribute__((format(printf, 3, 4))) static void issue(json_t *arr, int *rc, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    push(arr, json_string(msg), rc);
}

static json_t *severity_json(const struct analysis *a)
{
    json_t *o = json_object(), *issues = json_array();
    int rc = 0;
    if (a->with_missing)
        issue(issues, &rc, "Columns with missing values: %zu of %zu", a->with_missing, a->analysed);
    if (a->over40)
        issue(issues, &rc, "Columns more than 40%% missing: %zu of %zu", a->over40, a->analysed);
    if (a->empty_cols)
        issue(issues, &rc, "Completely empty columns: %zu of %zu", a->empty_cols, a->analysed);
    if (a->empty_rows)
        issue(issues, &rc, "Completely empty rows: %zu of %zu", a->empty_rows, a->n);
    put(o, "overall_score", json_real(round2(a->severity)), &rc);
    put(o, "level", json_string(a->level), &rc);
    put(o, "main_issues", issues, &rc);
    put(o, "action_required", json_boolean(a->severity >= 30), &rc);
    return done(o, rc);
}

static json_t *missing_json(const struct analysis *a)
{
    json_t *o = json_object(), *cols = json_object();
    int rc = 0;
    for (size_t j = 0; j < a->ncols; j++) {
        const struct colstat *s = &a->st[j];
        if (s->analysed && s->missing > 0)
            put_name(cols, s->c->name, column_missing_json(s), &rc);
    }
    put(o, "total_rows", json_integer((json_int_t)a->n), &rc);
    put(o, "total_columns", json_integer((json_int_t)a->ncols), &rc);
    put(o, "columns_with_missing", cols, &rc);
    put(o, "missing_patterns", patterns_json(a), &rc);
    put(o, "severity_assessment", severity_json(a), &rc);
    return done(o, rc);
}

static json_t *indices_json(const struct frame_column *c, const struct outl *o)
{
    json_t *arr = json_array();
    int rc = 0;
    size_t k = 0;
    for (size_t i = 0; i < c->n && k < MAX_INDICES; i++) {
        if (isnan(c->num[i]) || (c->num[i] >= o->lo && c->num[i] <= o->hi))
            continue;
        push(arr, json_integer((json_int_t)i), &rc);
        k++;
    }
    return done(arr, rc);
}

static json_t *iqr_json(const struct colstat *s)
{
    const struct outl *o = &s->out;
    json_t *v = json_object();
    int rc = 0;
    put(v, "method", json_string("IQR"), &rc);
    put(v, "outliers_count", json_integer((json_int_t)o->iqr_count), &rc);
    put(v, "outliers_percentage", json_real(round2(o->iqr_pct)), &rc);
    put(v, "lower_bound", jnum(o->lo), &rc);
    put(v, "upper_bound", jnum(o->hi), &rc);
    put(v, "q1", jnum(o->q1), &rc);
    put(v, "q3", jnum(o->q3), &rc);
    put(v, "outliers_indices", indices_json(s->c, o), &rc);
    return done(v, rc);
}

static json_t *zscore_json(const struct colstat *s)
{
    const struct outl *o = &s->out;
    json_t *v = json_object();
    int rc = 0;
    put(v, "method", json_string("Z-Score"), &rc);
    put(v, "threshold", json_real(Z_THRESHOLD), &rc);
    put(v, "outliers_count", json_integer((json_int_t)o->z_count), &rc);
    put(v, "outliers_percentage", json_real(round2(o->z_pct)), &rc);
    put(v, "max_zscore", jnum(o->max_z), &rc);
    return done(v, rc);
}

static json_t *outliers_json(const struct analysis *a)
{
    json_t *o = json_object(), *iqr = json_object(), *z = json_object();
    int rc = 0;
    for (size_t j = 0; j < a->ncols; j++) {
        const struct colstat *s = &a->st[j];
        if (!s->analysed || !s->out.has)
            continue;
        put_name(iqr, s->c->name, iqr_json(s), &rc);
        put_name(z, s->c->name, zscore_json(s), &rc);
    }
    put(o, "iqr_method", iqr, &rc);
    put(o, "zscore_method", z, &rc);
    return done(o, rc);
}

static double quality_score(const struct analysis *a)
{
    double score = 100.0 - 0.5 * a->severity;
    for (size_t j = 0; j < a->ncols; j++) {
        const struct outl *o = &a->st[j].out;
        if (!a->st[j].analysed || !o->has)
            continue;
        score -= o->iqr_pct > 10 ? fmin(o->iqr_pct, 20) : 0;
        score -= o->z_pct > 10 ? fmin(o->z_pct, 20) : 0;
    }
    return floor(fmax(0, score));
}

/* ---- recommendations ---- */

static int outlier_affected(const struct colstat *s)
{
    return s->analysed && s->out.has && (s->out.iqr_pct > 15 || s->out.z_pct > 15);
}

static void action(json_t *arr, int *rc, const char *what, const char *priority,
                   const char *description)
{
    json_t *o = json_object();
    put(o, "action", json_string(what), rc);
    put(o, "priority", json_string(priority), rc);
    put(o, "description", json_string(description), rc);
    push(arr, o, rc);
}

static json_t *priority_actions(const struct analysis *a, size_t drops, size_t affected)
{
    json_t *arr = json_array();
    int rc = 0;
    char msg[200];
    if (a->with_missing) {
        const char *prio = strcmp(a->level, "critical") == 0 || strcmp(a->level, "high") == 0
                               ? "high"
                           : strcmp(a->level, "medium") == 0 ? "medium"
                                                             : "low";
        snprintf(msg, sizeof msg, "Impute or remove the missing values of %zu columns.",
                 a->with_missing);
        action(arr, &rc, "handle_missing_values", prio, msg);
    }
    if (drops) {
        snprintf(msg, sizeof msg, "Drop %zu columns that are more than 70%% missing.", drops);
        action(arr, &rc, "drop_columns", "high", msg);
    }
    if (a->empty_rows) {
        snprintf(msg, sizeof msg, "Remove %zu rows in which every value is missing.",
                 a->empty_rows);
        action(arr, &rc, "drop_empty_rows", "medium", msg);
    }
    if (affected) {
        snprintf(msg, sizeof msg, "Cap or remove the outliers of %zu columns (over 15%% of rows).",
                 affected);
        action(arr, &rc, "handle_outliers", "medium", msg);
    }
    return done(arr, rc);
}

static json_t *outlier_handling(const struct analysis *a, size_t *affected)
{
    static const char *const methods[] = {"iqr_capping", "zscore_removal", "isolation_forest"};
    json_t *o = json_object(), *cols = json_array();
    int rc = 0;
    *affected = 0;
    for (size_t j = 0; j < a->ncols; j++) {
        if (!outlier_affected(&a->st[j]))
            continue;
        push(cols, frame_json_string(a->st[j].c->name), &rc);
        (*affected)++;
    }
    put(o, "affected_columns", cols, &rc);
    put(o, "recommended_methods", strings_json(methods, 3), &rc);
    put(o, "explanation",
        json_string(*affected ? "More than 15% of the rows of these columns lie outside the "
                                "IQR fences or 3 standard deviations; cap them at the fences "
                                "or remove them."
                              : "No column has more than 15% of its rows as outliers."),
        &rc);
    return done(o, rc);
}

static json_t *recommendations_json(const struct analysis *a)
{
    json_t *o = json_object(), *strat = json_object();
    int rc = 0, any_numeric = 0;
    size_t drops = 0, affected = 0;
    for (size_t j = 0; j < a->ncols; j++) {
        const struct colstat *s = &a->st[j];
        any_numeric |= s->c->kind == FRAME_NUMERIC;
        if (!s->analysed || s->missing == 0)
            continue;
        struct strategy st;
        strategy_for(s, &st);
        drops += strcmp(st.primary, "drop_column") == 0;
        put_name(strat, s->c->name, strategy_json(&st, 0), &rc);
    }
    json_t *handling = outlier_handling(a, &affected);
    put(o, "priority_actions", priority_actions(a, drops, affected), &rc);
    put(o, "missing_values_strategy", strat, &rc);
    put(o, "outlier_handling", handling, &rc);
    put(o, "feature_engineering", json_array(), &rc);
    put(o, "scaling_recommendation", json_string(any_numeric ? "robust" : "standard"), &rc);
    put(o, "encoding_recommendation", json_string("onehot"), &rc);
    return done(o, rc);
}

/* ---- the report ---- */

static json_t *overview_json(const struct analysis *a, const struct quality_options *opt)
{
    json_t *o = json_object();
    int rc = 0;
    double mb = (double)frame_memory_bytes(a->f) / (1024.0 * 1024.0);
    put(o, "total_rows", json_integer((json_int_t)a->n), &rc);
    put(o, "total_columns", json_integer((json_int_t)a->ncols), &rc);
    put(o, "memory_usage_mb", json_real(round2(mb)), &rc);
    put(o, "target_column",
        opt && opt->target_column ? frame_json_string(opt->target_column) : json_null(), &rc);
    return done(o, rc);
}

static json_t *column_types_json(const struct analysis *a, json_t **excluded)
{
    json_t *o = json_object(), *num = json_array(), *cat = json_array(), *dt = json_array();
    int rc = 0;
    *excluded = json_array();
    for (size_t j = 0; j < a->ncols; j++) {
        const struct frame_column *c = a->st[j].c;
        json_t *arr = c->kind == FRAME_NUMERIC ? num : c->kind == FRAME_TEMPORAL ? dt : cat;
        push(arr, frame_json_string(c->name), &rc);
        if (!a->st[j].analysed)
            push(*excluded, frame_json_string(c->name), &rc);
    }
    put(o, "numeric", num, &rc);
    put(o, "categorical", cat, &rc);
    put(o, "datetime", dt, &rc);
    return done(o, rc);
}

static int analyse_columns(struct analysis *a)
{
    for (size_t j = 0; j < a->ncols; j++) {
        struct colstat *s = &a->st[j];
        s->c = frame_col(a->f, j);
        s->analysed = !quality_is_id_like(s->c->name);
        a->analysed += (size_t)s->analysed;
        if (s->analysed && column_facts(a, s) != 0)
            return -ENOMEM;
    }
    count_empty_rows(a);
    severity(a);
    return 0;
}

static json_t *report_json(const struct analysis *a, const struct quality_options *opt)
{
    json_t *o = json_object(), *excluded = NULL;
    int rc = 0;
    put(o, "dataset_overview", overview_json(a, opt), &rc);
    put(o, "column_types", column_types_json(a, &excluded), &rc);
    put(o, "excluded_columns", excluded, &rc);
    put(o, "missing_data_analysis", missing_json(a), &rc);
    put(o, "outliers_analysis", outliers_json(a), &rc);
    put(o, "data_quality_score", json_integer((json_int_t)quality_score(a)), &rc);
    put(o, "preprocessing_recommendations", recommendations_json(a), &rc);
    return done(o, rc);
}

int quality_analyze(const struct frame *f, const struct quality_options *opt, json_t **out)
{
    struct analysis a = {.f = f};
    if (!f || !out)
        return -EINVAL;
    a.n = frame_nrows(f);
    a.ncols = frame_ncols(f);
    a.st = calloc(a.ncols ? a.ncols : 1, sizeof *a.st);
    a.vals = malloc((a.n ? a.n : 1) * sizeof *a.vals);
    int rc = a.st && a.vals ? analyse_columns(&a) : -ENOMEM;
    json_t *report = rc == 0 ? report_json(&a, opt) : NULL;
    free(a.st);
    free(a.vals);
    if (!report)
        return rc ? rc : -ENOMEM;
    *out = report;
    return 0;
}
