/* test_profile: column profiling: number/time parsing, type inference, exact statistics
 * against hand-computed values, sketches within their stated bounds, PII, correlations. */
#include <ibx/profile.h>

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAXV 16

/* One-column profile of values (NULL: missing). */
static struct profile *one_column(const char *name, const char *const *vals, size_t n)
{
    struct profile *p = NULL;
    assert_int_equal(profile_new(1, 0, &p), 0);
    assert_int_equal(profile_add_columns(p, &name, 1), 0);
    for (size_t i = 0; i < n; i++) {
        struct colf_cell c = {vals[i], vals[i] ? strlen(vals[i]) : 0};
        assert_int_equal(profile_row(p, &c, 1), 0);
    }
    assert_int_equal(profile_finish(p), 0);
    return p;
}

static json_t *stats_of(struct profile *p, size_t i)
{
    json_t *c = profile_column_json(p, i);
    assert_non_null(c);
    return c;
}

static double num(const json_t *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    const json_t *v = o;
    for (char *tok = buf, *dot; tok; tok = dot ? dot + 1 : NULL) {
        dot = strchr(tok, '.');
        if (dot)
            *dot = '\0';
        v = json_object_get(v, tok);
        if (!v)
            fail_msg("no %s", path);
    }
    return json_number_value(v);
}

static void test_parse_number(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int ok, is_int;
        double v;
    } cases[] = {
        {"12", 1, 1, 12},
        {"-3.5", 1, 0, -3.5},
        {"+7", 1, 1, 7},
        {" 42 ", 1, 1, 42},
        {"0.1", 1, 0, 0.1},
        {"1e3", 1, 0, 1000},
        {"2.5E-3", 1, 0, 0.0025},
        {".5", 1, 0, 0.5},
        {"5.", 1, 0, 5},
        {"007", 1, 1, 7},
        {"123456789012345678901234", 1, 0, 123456789012345678901234.0},
        {"9007199254740993", 1, 1, 9007199254740993.0},
        {"3.141592653589793238", 1, 0, 3.141592653589793238},
        {"1e400", 0, 0, 0},
        {"abc", 0, 0, 0},
        {"1.2.3", 0, 0, 0},
        {"", 0, 0, 0},
        {"-", 0, 0, 0},
        {"1e", 0, 0, 0},
        {"0x10", 0, 0, 0},
        {"inf", 0, 0, 0},
        {"1,5", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double v = -1;
        int is_int = -1;
        int rc = profile_parse_number(cases[i].s, strlen(cases[i].s), &v, &is_int);
        if ((rc == 0) != cases[i].ok)
            fail_msg("'%s': rc %d", cases[i].s, rc);
        if (!cases[i].ok)
            continue;
        if (v != cases[i].v || is_int != cases[i].is_int)
            fail_msg("'%s': %.17g int %d", cases[i].s, v, is_int);
    }
}

static void test_parse_time(void **state)
{
    (void)state;
    const double d = 18690 * 86400.0; /* 2021-03-04 */
    static const struct {
        const char *s;
        int ok;
        double off;
    } cases[] = {
        {"2021-03-04", 1, 0},
        {"2021/03/04", 1, 0},
        {"04/03/2021", 1, 0},
        {"4-3-2021", 1, 0},
        {"04.03.2021", 1, 0},
        {"2021-03-04T05:06:07Z", 1, 18367},
        {"2021-03-04 05:06", 1, 18360},
        {"2021-03-04T05:06:07.250", 1, 18367.25},
        {"2021-03-04T05:06:07+01:00", 1, 18367 - 3600},
        {"2021-03-04T05:06:07-0130", 1, 18367 + 5400},
        {"2021-02-29", 0, 0},
        {"12/31/2020", 0, 0},
        {"2021-13-01", 0, 0},
        {"2021-03-04T25:00", 0, 0},
        {"20210304", 0, 0},
        {"2021-03-04x", 0, 0},
        {"March 4", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double t = 0;
        int rc = profile_parse_time(cases[i].s, strlen(cases[i].s), &t);
        if ((rc == 0) != cases[i].ok)
            fail_msg("'%s': rc %d", cases[i].s, rc);
        if (cases[i].ok && t != d + cases[i].off)
            fail_msg("'%s': %.3f", cases[i].s, t - d);
    }
    double t = 0;
    assert_int_equal(profile_parse_time("2020-02-29", 10, &t), 0);
    assert_true(t == 18321 * 86400.0);
    char b[48];
    profile_format_time(0, b, sizeof(b));
    assert_string_equal(b, "1970-01-01");
    profile_format_time(d + 18367.5, b, sizeof(b));
    assert_string_equal(b, "2021-03-04T05:06:07.500Z");
    profile_format_time(-86400, b, sizeof(b));
    assert_string_equal(b, "1969-12-31");
}

/* a and b hold the same bits (-0.0 differs from 0.0). */
static int same_bits(double a, double b)
{
    uint64_t x, y;
    memcpy(&x, &a, sizeof(x));
    memcpy(&y, &b, sizeof(y));
    return x == y;
}

/* Plain decimals (the fast path) equal strtod and the general scan (a leading space sends
 * the same text through it), over many random shapes; so do the plain date shapes. */
static void test_parse_fast_paths(void **state)
{
    (void)state;
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char b[48], sp[49];
        size_t n = 0, nd = 1 + (size_t)(x % 19), dot = (size_t)((x >> 8) % (nd + 2));
        if ((x >> 16) % 4 == 0)
            b[n++] = (x >> 18) % 2 ? '-' : '+';
        uint64_t y = x;
        for (size_t k = 0; k < nd; k++) {
            if (k == dot)
                b[n++] = '.';
            b[n++] = (char)('0' + (k == 0 && (x >> 20) % 3 ? 0 : (y >> 24) % 10));
            y = y * 6364136223846793005ull + 1442695040888963407ull;
        }
        if (dot == nd)
            b[n++] = '.';
        b[n] = '\0';
        double v = 0, w = 0;
        int iv = -1, iw = -1;
        assert_int_equal(profile_parse_number(b, n, &v, &iv), 0);
        snprintf(sp, sizeof(sp), " %s", b);
        assert_int_equal(profile_parse_number(sp, n + 1, &w, &iw), 0);
        char *end = NULL;
        double want = strtod(b, &end);
        if (!same_bits(v, want) || !same_bits(v, w) || iv != iw)
            fail_msg("'%s': %.17g, general %.17g, strtod %.17g (int %d/%d)", b, v, w, want, iv, iw);
    }
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char b[32], sp[33];
        unsigned k = (unsigned)(x >> 20);
        int n = snprintf(b, sizeof(b), "%04u%c%02u%c%02u%c%02u:%02u:%02u", 1 + k % 2999,
                         k % 5 ? '-' : '/', k % 14, k % 7 ? (k % 5 ? '-' : '/') : '-', k % 33,
                         k % 2 ? 'T' : ' ', (k >> 3) % 26, (k >> 5) % 62, (k >> 7) % 62);
        for (int len = 10; len <= n; len += n - 10) {
            double t = 0, u = 0;
            memcpy(sp, b, (size_t)len);
            sp[len] = ' '; /* trailing space: the general parser */
            int r1 = profile_parse_time(b, (size_t)len, &t);
            int r2 = profile_parse_time(sp, (size_t)len + 1, &u);
            if (r1 != r2 || (r1 == 0 && !same_bits(t, u)))
                fail_msg("'%.*s': %d %.3f, general %d %.3f", len, b, r1, t, r2, u);
        }
    }
}

static void test_types(void **state)
{
    (void)state;
    static const struct {
        const char *vals[MAXV];
        const char *type;
    } cases[] = {
        {{"1", "2", NULL, "-3"}, "numerical_integer"},
        {{"1.5", "2", "3e2"}, "numerical_float"},
        {{"true", "false", "true"}, "boolean"},
        {{"Yes", "No", NULL, "Yes"}, "boolean"},
        {{"0", "1", "1", "0"}, "boolean"},
        {{"1", "1", "1"}, "numerical_integer"},
        {{"true", "True", "false"}, "text"},
        {{"2020-01-01", "2021-05-06 10:00", "31/12/2020"}, "temporal"},
        {{"a", "b", "a", "b", "a", "b", "a", "b"}, "categorical"},
        {{"red", "green", "red", "green", "red"}, "categorical"},
        {{"alpha", "beta", "gamma"}, "text"},
        {{"1", "x", "2", "x", "1", "x", "1", "x"}, "categorical"},
        {{NULL, NULL}, "text"},
        {{"1", "2020-01-01"}, "text"},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        size_t n = 0;
        while (n < MAXV && (cases[c].vals[n] || (n + 1 < MAXV && cases[c].vals[n + 1])))
            n++;
        if (n == 0)
            n = 2;
        struct profile *p = one_column("v", cases[c].vals, n);
        if (strcmp(profile_type(p, 0), cases[c].type) != 0)
            fail_msg("case %zu: %s, want %s", c, profile_type(p, 0), cases[c].type);
        profile_free(p);
    }
}

static void test_exact_stats(void **state)
{
    (void)state;
    const char *vals[] = {"1", "2", NULL, "3", "4", "10", "2"};
    struct profile *p = one_column("x", vals, 7);
    json_t *c = stats_of(p, 0);
    const json_t *st = json_object_get(c, "stats");
    assert_string_equal(json_string_value(json_object_get(c, "type")), "numerical_integer");
    assert_int_equal(json_integer_value(json_object_get(c, "missing")), 1);
    assert_true(json_is_true(json_object_get(c, "nullable")));
    assert_int_equal(num(st, "count"), 6);
    assert_int_equal(num(st, "nulls"), 1);
    assert_true(fabs(num(st, "missing_percentage") - 100.0 / 7) < 1e-12);
    assert_int_equal(num(st, "distinct"), 5);
    assert_true(json_is_true(json_object_get(st, "distinct_exact")));
    /* values 1 2 2 3 4 10: mean 11/3, sample variance (sum of squares 134 - 6 mean^2) / 5 */
    assert_true(fabs(num(st, "mean") - 22.0 / 6) < 1e-12);
    assert_true(fabs(num(st, "std") - sqrt((134.0 - 6 * (22.0 / 6) * (22.0 / 6)) / 5)) < 1e-12);
    assert_int_equal(num(st, "min"), 1);
    assert_int_equal(num(st, "max"), 10);
    /* numpy linear quantiles over 1 2 2 3 4 10 */
    assert_true(fabs(num(st, "quantiles.p50") - 2.5) < 1e-12);
    assert_true(fabs(num(st, "quantiles.p25") - 2.0) < 1e-12);
    assert_true(fabs(num(st, "quantiles.p75") - 3.75) < 1e-12);
    assert_true(fabs(num(st, "quantiles.p1") - 1.05) < 1e-12);
    assert_true(fabs(num(st, "quantiles.p99") - 9.7) < 1e-12);
    assert_true(json_is_true(json_object_get(st, "quantiles_exact")));
    const json_t *h = json_object_get(st, "histogram");
    assert_true(json_is_true(json_object_get(h, "exact")));
    const json_t *counts = json_object_get(h, "counts"), *edges = json_object_get(h, "edges");
    assert_int_equal(json_array_size(counts), 20);
    assert_int_equal(json_array_size(edges), 21);
    /* bins of width 0.45 over [1, 10]: 1 | 2 2 (bin 2) | 3 (bin 4) | 4 (bin 6) | 10 (last) */
    static const int want[20] = {1, 0, 2, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(json_integer_value(json_array_get(counts, i)), want[i]);
    const json_t *top = json_object_get(st, "top_values");
    assert_string_equal(json_string_value(json_object_get(json_array_get(top, 0), "value")), "2");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(top, 0), "count")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(top, 1), "value")), "1");
    const json_t *ex = json_object_get(c, "examples");
    assert_int_equal(json_array_size(ex), 5);
    assert_string_equal(json_string_value(json_array_get(ex, 4)), "10");
    assert_int_equal(num(st, "length.max"), 2);
    json_decref(c);
    profile_free(p);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Exact quantiles rest on sorting every value: against qsort over shapes that stress the
 * sort (one bucket of many values, equal runs, sorted and reversed input, both signs, tiny
 * and huge magnitudes). */
static void test_exact_quantiles_sorted(void **state)
{
    (void)state;
    enum { N = 60000 };
    static char text[N][32];
    static const char *vals[N];
    static double v[N];
    uint64_t x = 0x853C49E6748FEA9Bull;
    for (int shape = 0; shape < 6; shape++) {
        for (int i = 0; i < N; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            double d;
            switch (shape) {
            case 0:
                d = (double)(x % 2000000) / 1000.0 - 1000.0;
                break;
            case 1:
                d = x % 97 == 0 ? 1e300 : (double)(x % 1000000) * 1e-9;
                break;
            case 2:
                d = (double)(x % 5);
                break;
            case 3:
                d = i;
                break;
            case 4:
                d = N - i;
                break;
            default:
                d = (x % 2 ? -1.0 : 1.0) * (double)(x >> 40) * 1e-200;
                break;
            }
            snprintf(text[i], sizeof(text[i]), "%.17g", d);
            vals[i] = text[i];
            v[i] = strtod(text[i], NULL);
        }
        struct profile *p = one_column("x", vals, N);
        json_t *c = stats_of(p, 0);
        const json_t *st = json_object_get(c, "stats");
        assert_true(json_is_true(json_object_get(st, "quantiles_exact")));
        qsort(v, N, sizeof(v[0]), cmp_double);
        static const struct {
            const char *k;
            double q;
        } qs[] = {{"quantiles.p1", .01}, {"quantiles.p50", .5}, {"quantiles.p99", .99}};
        for (size_t k = 0; k < 3; k++) {
            double pos = qs[k].q * (N - 1), want = v[(size_t)pos];
            if ((size_t)pos + 1 < N)
                want += (v[(size_t)pos + 1] - v[(size_t)pos]) * (pos - (double)(size_t)pos);
            if (!same_bits(num(st, qs[k].k), want))
                fail_msg("shape %d %s: %.17g, want %.17g", shape, qs[k].k, num(st, qs[k].k), want);
        }
        json_decref(c);
        profile_free(p);
    }
}

/* Top values keep their first PROFILE_VALUE_BYTES bytes: a character cut there is dropped
 * (the column's JSON used to fail on it, and the whole upload with it). */
static void test_long_values_cut(void **state)
{
    (void)state;
    char a[200], b[200];
    memset(a, 'a', sizeof(a));
    memcpy(a + PROFILE_VALUE_BYTES - 1, "\xC3\xA9", 2); /* é across the cut */
    a[sizeof(a) - 1] = '\0';
    memset(b, 'b', sizeof(b));
    memcpy(b + PROFILE_VALUE_BYTES - 2, "\xE2\x82\xAC", 3); /* € across the cut */
    b[sizeof(b) - 1] = '\0';
    const char *vals[] = {a, a, b};
    struct profile *p = one_column("notes", vals, 3);
    json_t *c = profile_column_json(p, 0);
    assert_non_null(c);
    const json_t *top = json_object_get(json_object_get(c, "stats"), "top_values");
    assert_int_equal(json_array_size(top), 2);
    const char *v0 = json_string_value(json_object_get(json_array_get(top, 0), "value"));
    const char *v1 = json_string_value(json_object_get(json_array_get(top, 1), "value"));
    assert_int_equal(strlen(v0), PROFILE_VALUE_BYTES - 1);
    assert_int_equal(strlen(v1), PROFILE_VALUE_BYTES - 2);
    assert_memory_equal(v0, a, PROFILE_VALUE_BYTES - 1);
    json_decref(c);
    profile_free(p);
}

static void test_temporal_stats(void **state)
{
    (void)state;
    const char *vals[] = {"2021-01-01", "2021-01-03", "2021-01-05"};
    struct profile *p = one_column("when", vals, 3);
    json_t *c = stats_of(p, 0);
    const json_t *st = json_object_get(c, "stats");
    assert_string_equal(json_string_value(json_object_get(st, "min")), "2021-01-01");
    assert_string_equal(json_string_value(json_object_get(st, "max")), "2021-01-05");
    assert_string_equal(json_string_value(json_object_get(st, "mean")), "2021-01-03");
    assert_true(fabs(num(st, "std_seconds") - 2 * 86400.0) < 1e-6);
    assert_string_equal(json_string_value(json_object_get(json_object_get(st, "quantiles"), "p50")),
                        "2021-01-03");
    assert_null(json_object_get(st, "histogram"));
    json_decref(c);
    profile_free(p);
}

/* Fill one column with n generated values. */
static struct profile *generated(size_t n, void (*gen)(size_t i, char *b, size_t bn))
{
    struct profile *p = NULL;
    const char *name = "g";
    assert_int_equal(profile_new(1, 0, &p), 0);
    assert_int_equal(profile_add_columns(p, &name, 1), 0);
    for (size_t i = 0; i < n; i++) {
        char b[64];
        gen(i, b, sizeof(b));
        struct colf_cell c = {b, strlen(b)};
        assert_int_equal(profile_row(p, &c, 1), 0);
    }
    assert_int_equal(profile_finish(p), 0);
    return p;
}

static void gen_distinct(size_t i, char *b, size_t bn)
{
    snprintf(b, bn, "user-%zu", i * 7919);
}

static void test_hll_bound(void **state)
{
    (void)state;
    struct profile *p = generated(100000, gen_distinct);
    json_t *c = stats_of(p, 0);
    const json_t *st = json_object_get(c, "stats");
    assert_true(json_is_false(json_object_get(st, "distinct_exact")));
    double err = num(st, "distinct_error");
    assert_true(fabs(err - 1.04 / 128) < 1e-12); /* 2^14 registers */
    double d = num(st, "distinct");
    assert_true(fabs(d - 100000) <= 3 * err * 100000);
    assert_true(json_is_false(json_object_get(st, "top_values_exact")));
    assert_int_equal(json_array_size(json_object_get(st, "top_values")), 0); /* none frequent */
    assert_string_equal(json_string_value(json_object_get(c, "type")), "text");
    json_decref(c);
    profile_free(p);
}

/* A permutation of 0..n-1 scaled to [0, 1), so quantiles are known. */
static void gen_uniform(size_t i, char *b, size_t bn)
{
    snprintf(b, bn, "%.6f", (double)((i * 104729) % 200000) / 200000.0);
}

static void test_digest_bound(void **state)
{
    (void)state;
    struct profile *p = generated(200000, gen_uniform);
    json_t *c = stats_of(p, 0);
    const json_t *st = json_object_get(c, "stats");
    assert_true(json_is_false(json_object_get(st, "quantiles_exact")));
    static const struct {
        const char *k;
        double q, tol;
    } qs[] = {
        {"quantiles.p1", .01, .002}, {"quantiles.p50", .5, .01}, {"quantiles.p99", .99, .002}};
    for (size_t i = 0; i < 3; i++)
        if (fabs(num(st, qs[i].k) - qs[i].q) > qs[i].tol)
            fail_msg("%s = %f", qs[i].k, num(st, qs[i].k));
    const json_t *h = json_object_get(st, "histogram");
    assert_true(json_is_false(json_object_get(h, "exact")));
    json_int_t total = 0;
    for (size_t k = 0; k < 20; k++) {
        json_int_t v = json_integer_value(json_array_get(json_object_get(h, "counts"), k));
        assert_true(llabs((long long)v - 10000) < 500);
        total += v;
    }
    assert_int_equal(total, 200000);
    assert_true(fabs(num(st, "mean") - 0.4999975) < 1e-9); /* Welford stays exact */
    json_decref(c);
    profile_free(p);
}

static void test_correlation(void **state)
{
    (void)state;
    const char *names[] = {"x", "y", "z", "k", "t"};
    struct profile *p = NULL;
    assert_int_equal(profile_new(5, 0, &p), 0);
    assert_int_equal(profile_add_columns(p, names, 5), 0);
    for (int i = 0; i < 3000; i++) {
        char x[32], y[32], z[32];
        snprintf(x, sizeof(x), "%d", 1000000 + i);
        snprintf(y, sizeof(y), "%d", 2 * i + 1);
        snprintf(z, sizeof(z), "%d", -(i % 7) * (i % 3));
        struct colf_cell row[5] = {{x, strlen(x)},
                                   {i % 10 == 3 ? NULL : y, strlen(y)},
                                   {z, strlen(z)},
                                   {"5", 1},
                                   {"txt", 3}};
        if (i % 10 == 3)
            row[1].len = 0;
        assert_int_equal(profile_row(p, row, 5), 0);
    }
    assert_int_equal(profile_finish(p), 0);
    json_t *cr = profile_correlations_json(p);
    assert_non_null(cr);
    const json_t *cols = json_object_get(cr, "columns"), *m = json_object_get(cr, "matrix");
    assert_int_equal(json_array_size(cols), 4); /* x y z k; t is text */
    assert_string_equal(json_string_value(json_array_get(cols, 3)), "k");
    double xy = json_number_value(json_array_get(json_array_get(m, 0), 1));
    assert_true(fabs(xy - 1.0) < 1e-9);
    assert_true(json_is_null(json_array_get(json_array_get(m, 0), 3))); /* constant column */
    assert_true(json_number_value(json_array_get(json_array_get(m, 2), 2)) == 1.0);
    double xz = json_number_value(json_array_get(json_array_get(m, 0), 2));
    assert_true(fabs(xz) < 0.1);
    json_decref(cr);
    profile_free(p);
}

static void test_pii(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *vals[4];
        int pii;
        const char *reason;
    } cases[] = {
        {"email", {"x", "y"}, 1, "(email)"},
        {"firstName", {"Ann", "Bob"}, 1, "(name)"},
        {"Name", {"Ann", "Bob"}, 1, "(name)"},
        {"species_name", {"setosa", "virginica"}, 0, NULL},
        {"date_of_birth", {"x", "y"}, 1, "(birth)"},
        {"Credit Card", {"x", "y"}, 1, "(credit_card)"},
        {"contact", {"ann@example.org", "bob@mail.example.com", "n/a?"}, 1, "e-mail addresses"},
        {"tel", {"x"}, 1, "(tel)"},
        {"contact2", {"+33 6 12 34 56 78", "06 12 34 56 78", "0612345678"}, 1, "phone numbers"},
        {"acct", {"DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"}, 1, "IBANs"},
        {"acct2", {"DE89 3704 0044 0532 0130 01", "GB82WEST12345698765433"}, 0, NULL},
        {"pan", {"4111 1111 1111 1111", "5500-0000-0000-0004"}, 1, "payment card"},
        {"pan2", {"4111 1111 1111 1112", "5500-0000-0000-0005"}, 0, NULL},
        {"notes", {"hello world", "12.5", "n"}, 0, NULL},
        {"ids", {"12345678", "23456789"}, 0, NULL},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        size_t n = 0;
        while (n < 4 && cases[c].vals[n])
            n++;
        struct profile *p = one_column(cases[c].name, cases[c].vals, n);
        json_t *o = stats_of(p, 0);
        int pii = json_is_true(json_object_get(o, "pii"));
        const char *reason = json_string_value(json_object_get(o, "pii_reason"));
        if (pii != cases[c].pii ||
            (cases[c].reason && (!reason || !strstr(reason, cases[c].reason))))
            fail_msg("%s: pii %d reason %s", cases[c].name, pii, reason ? reason : "null");
        json_decref(o);
        profile_free(p);
    }
}

static void test_cells_and_limits(void **state)
{
    (void)state;
    const char *names[] = {"i", "f", "b", "s"};
    const char *vals[][4] = {{"1", "1.5", "yes", "a"}, {"2", "2", "no", "b"}};
    struct profile *p = NULL;
    assert_int_equal(profile_new(0, 3, &p), 0);
    assert_int_equal(profile_add_columns(p, names, 4), -E2BIG);
    assert_int_equal(profile_add_columns(p, names, 3), 0);
    struct colf_cell row[4];
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < 3; i++)
            row[i] = (struct colf_cell){vals[r][i], strlen(vals[r][i])};
        assert_int_equal(profile_row(p, row, 4), -EINVAL);
        assert_int_equal(profile_row(p, row, r == 0 ? 3 : 2), 0); /* fewer cells: missing */
    }
    assert_int_equal(profile_finish(p), 0);
    assert_int_equal(profile_row(p, row, 1), -EINVAL);
    assert_int_equal(profile_missing(p, 2), 1);
    assert_int_equal(profile_distinct(p, 0), 2);
    json_t *v = profile_cell_json(p, 0, "2", 1);
    assert_true(json_is_integer(v) && json_integer_value(v) == 2);
    json_decref(v);
    v = profile_cell_json(p, 1, "2", 1);
    assert_true(json_is_real(v) && json_real_value(v) == 2.0);
    json_decref(v);
    v = profile_cell_json(p, 2, "Yes", 3);
    assert_true(json_is_true(v));
    json_decref(v);
    v = profile_cell_json(p, 2, NULL, 0);
    assert_true(json_is_null(v));
    json_decref(v);
    assert_string_equal(profile_type(p, 2), "boolean");
    assert_null(profile_type(p, 3));
    profile_free(p);
    profile_free(NULL);
}

/* ---- threads ---------------------------------------------------------------------------- */

#define TCOLS    80
#define TROWS    6000
#define TLATE    70 /* columns before TLATE_AT rows; the rest arrive then (as JSON keys do) */
#define TLATE_AT 2500

/* Generated cells: numbers (integers, decimals, large), dates, categories, booleans, text
 * and a column that turns to text late, with missing cells; kind by column. */
struct tcells {
    char *text;
    size_t *off, *len; /* TROWS x TCOLS; len (size_t)-1: missing */
};

static void tcells_make(struct tcells *t)
{
    t->text = malloc((size_t)TROWS * TCOLS * 24);
    t->off = malloc(sizeof(size_t) * TROWS * TCOLS);
    t->len = malloc(sizeof(size_t) * TROWS * TCOLS);
    assert_true(t->text && t->off && t->len);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    size_t n = 0;
    for (size_t r = 0; r < TROWS; r++) {
        for (size_t c = 0; c < TCOLS; c++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            unsigned k = (unsigned)(x >> 33);
            char *b = t->text + n;
            int w;
            switch (c % 8) {
            case 0:
                w = snprintf(b, 24, "%u", k % 1000);
                break;
            case 1:
                w = snprintf(b, 24, "%u.%03u", k % 5000, k % 1000);
                break;
            case 2:
                w = snprintf(b, 24, "20%02u-%02u-%02u", k % 30, 1 + k % 12, 1 + k % 28);
                break;
            case 3:
                w = snprintf(b, 24, "cat%u", k % (c < 64 ? 7 : 90));
                break;
            case 4:
                w = snprintf(b, 24, "%s", k % 3 ? "yes" : "no");
                break;
            case 5:
                w = snprintf(b, 24, "w%u x%zu", k % 100000, r);
                break;
            case 6:
                w = snprintf(b, 24, "%se%d", k % 2 ? "-1.5" : "2.25", (int)(k % 40) - 20);
                break;
            default:
                w = r == 4321 ? snprintf(b, 24, "oops") : snprintf(b, 24, "%u", k);
                break;
            }
            assert_true(w > 0 && w < 24);
            t->off[r * TCOLS + c] = n;
            t->len[r * TCOLS + c] = k % 23 == 0 ? (size_t)-1 : (size_t)w;
            n += (size_t)w;
        }
    }
}

static void tcells_free(struct tcells *t)
{
    free(t->text), free(t->off), free(t->len);
}

/* Rows [r0, r0 + rows) as cells of their first n columns. */
static void tcells_rows(const struct tcells *t, size_t r0, size_t rows, size_t n,
                        struct colf_cell *out)
{
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < n; c++) {
            size_t at = (r0 + r) * TCOLS + c;
            out[r * n + c] = t->len[at] == (size_t)-1
                                 ? (struct colf_cell){NULL, 0}
                                 : (struct colf_cell){t->text + t->off[at], t->len[at]};
        }
    }
}

/* The whole profile (every column and the correlations) as text, the rows fed by profile_row
 * (batch 0) or by batches of `batch` rows on `threads` threads; hint as profile_new's. */
static char *tprofile(const struct tcells *t, size_t hint, size_t threads, size_t batch)
{
    static const char *names[TCOLS];
    static char nbuf[TCOLS][8];
    for (size_t c = 0; c < TCOLS; c++) {
        snprintf(nbuf[c], sizeof(nbuf[c]), "c%zu", c);
        names[c] = nbuf[c];
    }
    struct profile *p = NULL;
    assert_int_equal(profile_new(hint, 0, &p), 0);
    assert_int_equal(profile_set_threads(p, threads), 0);
    assert_int_equal(profile_add_columns(p, names, hint ? TCOLS : TLATE), 0);
    struct colf_cell *cells = malloc(sizeof(*cells) * TCOLS * (batch ? batch : 1));
    struct colf_cell *keep = malloc(sizeof(*keep) * TCOLS * (batch ? batch : 1));
    assert_true(cells && keep);
    for (size_t r = 0; r < TROWS;) {
        if (!hint && r == TLATE_AT)
            assert_int_equal(profile_add_columns(p, names + TLATE, TCOLS - TLATE), 0);
        size_t n = hint || r >= TLATE_AT ? TCOLS : TLATE;
        size_t end = r + (batch ? batch : 1);
        if (end > TROWS)
            end = TROWS;
        if (!hint && r < TLATE_AT && end > TLATE_AT)
            end = TLATE_AT;
        tcells_rows(t, r, end - r, n, cells);
        if (batch)
            assert_int_equal(profile_batch(p, cells, end - r, n), 0);
        else
            assert_int_equal(profile_row(p, cells, n), 0);
        /* the batch is borrowed until the next call: keep it intact, fill the other buffer */
        struct colf_cell *tmp = cells;
        cells = keep;
        keep = tmp;
        r = end;
    }
    assert_int_equal(profile_wait(p), 0);
    assert_int_equal(profile_finish(p), 0);
    json_t *all = json_array();
    for (size_t c = 0; c < TCOLS; c++)
        assert_int_equal(json_array_append_new(all, profile_column_json(p, c)), 0);
    assert_int_equal(json_array_append_new(all, profile_correlations_json(p)), 0);
    char *d = json_dumps(all, JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    assert_non_null(d);
    json_decref(all);
    free(cells);
    free(keep);
    profile_free(p);
    return d;
}

/* The same statistics row by row, in batches, and on 1 to 4 threads; with a known column
 * count and with columns arriving late (small budgets: sketches and t-digests in use). */
static void test_threads(void **state)
{
    (void)state;
    struct tcells t;
    tcells_make(&t);
    static const struct {
        size_t threads, batch;
    } runs[] = {{1, 333}, {2, 1000}, {3, 777}, {4, 64},  {2, 6000},
                {0, 257}, {2, 64},   {2, 64},  {2, 100}, {3, 64}}; /* repeats: other timings */
    for (size_t hint = 0; hint <= TCOLS; hint += TCOLS) {
        char *want = tprofile(&t, hint, 1, 0);
        for (size_t k = 0; k < sizeof(runs) / sizeof(runs[0]); k++) {
            char *got = tprofile(&t, hint, runs[k].threads, runs[k].batch);
            if (strcmp(got, want) != 0)
                fail_msg("hint %zu, %zu threads, batches of %zu: another profile", hint,
                         runs[k].threads, runs[k].batch);
            free(got);
        }
        if (!hint) { /* the late columns' small budgets switched to sketches */
            assert_non_null(strstr(want, "\"distinct_exact\": false"));
            assert_non_null(strstr(want, "\"quantiles_exact\": false"));
        }
        free(want);
    }
    tcells_free(&t);
    struct profile *p = NULL;
    assert_int_equal(profile_new(1, 0, &p), 0);
    assert_int_equal(profile_set_threads(p, 2), 0);
    const char *name = "x";
    assert_int_equal(profile_add_columns(p, &name, 1), 0);
    struct colf_cell c = {"1", 1};
    assert_int_equal(profile_batch(p, &c, 1, 1), 0);
    assert_int_equal(profile_set_threads(p, 2), -EINVAL); /* after the first row */
    assert_int_equal(profile_batch(p, &c, 1, 2), -EINVAL);
    assert_int_equal(profile_batch(p, &c, 0, 1), 0);
    assert_int_equal(profile_finish(p), 0);
    assert_int_equal(profile_batch(p, &c, 1, 1), -EINVAL);
    assert_int_equal(profile_rows(p), 1);
    profile_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_number),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_parse_fast_paths),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_exact_stats),
        cmocka_unit_test(test_temporal_stats),
        cmocka_unit_test(test_hll_bound),
        cmocka_unit_test(test_digest_bound),
        cmocka_unit_test(test_correlation),
        cmocka_unit_test(test_pii),
        cmocka_unit_test(test_cells_and_limits),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_exact_quantiles_sorted),
        cmocka_unit_test(test_long_values_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
