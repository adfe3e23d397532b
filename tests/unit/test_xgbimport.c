/* test_xgbimport: XGBoost JSON models imported as gbt models predict what XGBoost predicts. */
#include <ibx/buf.h>
#include <ibx/gbt.h>
#include <ibx/xgbimport.h>

#include "th_mldata.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* tests/fixtures/xgb_fixtures.py (python3-xgboost 1.7.4) wrote xgb_<case>.json and
 * xgb_<case>_expected.csv: per row XGBoost's margins, then its probabilities or prediction. */
static const struct {
    const char *cas;
    const char *data;
    int missing;
    size_t outputs; /* margins per row */
    size_t values;  /* probabilities (or 1 prediction) per row in the CSV */
} cases[] = {
    {"binary", "breast_cancer", 1, 1, 1},
    {"multi", "iris", 0, 3, 3},
    {"reg", "diabetes", 1, 1, 1},
};

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct buf b;
    buf_init(&b, 1 << 24);
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(buf_append(&b, chunk, got), 0);
    fclose(f);
    *len = b.len;
    return buf_steal(&b);
}

/* The expected CSV as n * width doubles. */
static double *read_expected(const char *cas, size_t n, size_t width)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/xgb_%s_expected.csv", cas);
    size_t len;
    char *text = read_file(path, &len);
    double *v = malloc(n * width * sizeof *v);
    assert_non_null(v);
    char *p = text;
    for (size_t i = 0; i < n * width; i++) {
        char *end = NULL;
        v[i] = strtod(p, &end);
        assert_true(end != p);
        assert_true(*end == ',' || *end == '\n');
        p = end + 1;
    }
    assert_true(*p == '\0');
    free(text);
    return v;
}

static struct gbt_model *import_case(const char *cas)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/xgb_%s.json", cas);
    size_t len;
    char *json = read_file(path, &len);
    struct gbt_model *m = NULL;
    assert_int_equal(xgbimport_load(json, len, &m), 0);
    free(json);
    return m;
}

static void load_data(const char *name, int missing, struct th_mldata *d)
{
    assert_int_equal(th_mldata_load(name, d), 0);
    for (size_t i = 0; missing && i < d->n * d->p; i++)
        if (i % 7 == 0)
            d->x[i] = NAN;
}

static void check_predictions(const struct gbt_model *m, size_t c, const struct th_mldata *d,
                              const double *want)
{
    size_t k = cases[c].outputs, width = k + cases[c].values;
    struct ml_matrix x = {d->x, d->n, d->p};
    double *raw = malloc(d->n * k * sizeof *raw), *out = malloc(d->n * 3 * sizeof *out);
    assert_non_null(raw);
    assert_non_null(out);
    assert_int_equal(gbt_predict_raw(m, &x, raw), 0);
    double worst = 0.0;
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < k; j++)
            worst = fmax(worst, fabs(raw[i * k + j] - want[i * width + j]));
    if (gbt_task(m) == ML_CLASSIFICATION) {
        assert_int_equal(gbt_predict_proba(m, &x, out), 0);
        size_t nc = gbt_n_classes(m);
        for (size_t i = 0; i < d->n; i++)
            for (size_t j = 0; j < cases[c].values; j++) {
                /* binary: XGBoost gives P(class 1) */
                double got = nc == 2 ? out[i * 2 + 1] : out[i * nc + j];
                worst = fmax(worst, fabs(got - want[i * width + k + j]));
            }
    } else {
        assert_int_equal(gbt_predict(m, &x, out), 0);
        for (size_t i = 0; i < d->n; i++)
            worst = fmax(worst, fabs(out[i] - want[i * width + k]));
    }
    print_message("%-7s largest difference from XGBoost %.3g\n", cases[c].cas, worst);
    assert_true(worst <= 1e-6);
    free(raw);
    free(out);
}

static void test_predictions_match_xgboost(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct th_mldata d;
        load_data(cases[c].data, cases[c].missing, &d);
        double *want = read_expected(cases[c].cas, d.n, cases[c].outputs + cases[c].values);
        struct gbt_model *m = import_case(cases[c].cas);
        assert_int_equal(gbt_n_features(m), d.p);
        assert_int_equal(gbt_n_outputs(m), cases[c].outputs);
        check_predictions(m, c, &d, want);
        /* an imported model saves and loads like any other */
        struct buf b;
        buf_init(&b, 1 << 24);
        assert_int_equal(gbt_save(m, &b), 0);
        struct gbt_model *back = NULL;
        assert_int_equal(gbt_load(b.data, b.len, NULL, &back), 0);
        check_predictions(back, c, &d, want);
        double imp[64], sum = 0.0;
        gbt_feature_importance(back, imp);
        for (size_t j = 0; j < d.p; j++)
            sum += imp[j];
        assert_true(fabs(sum - 1.0) < 1e-12);
        gbt_free(back);
        buf_release(&b);
        gbt_free(m);
        free(want);
        th_mldata_free(&d);
    }
}

/* Replace the first occurrence of from by to in a copy of text. */
static char *replaced(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    size_t head = (size_t)(at - text), tl = strlen(to), fl = strlen(from);
    char *out = malloc(strlen(text) - fl + tl + 1);
    assert_non_null(out);
    size_t total = strlen(text) - fl + tl + 1;
    snprintf(out, total, "%.*s%s%s", (int)head, text, to, at + fl);
    return out;
}

static void test_rejects_what_it_cannot_import(void **state)
{
    (void)state;
    size_t len;
    char *json = read_file("tests/fixtures/xgb_binary.json", &len);
    struct gbt_model *m = NULL;
    assert_int_equal(xgbimport_load(json, len / 2, &m), -EINVAL); /* truncated */
    assert_int_equal(xgbimport_load("[]", 2, &m), -EINVAL);
    const struct {
        const char *from, *to;
    } edits[] = {
        {"binary:logistic", "rank:pairwise"},              /* objective */
        {"\"gbtree\"", "\"dart\""},                        /* booster */
        {"\"split_type\":[0", "\"split_type\":[1"},        /* categorical split */
        {"\"left_children\":[1", "\"left_children\":[0"},  /* a cycle */
        {"\"left_children\":[1", "\"left_children\":[99"}, /* out of range */
        {"\"split_indices\":[", "\"split_indices\":[77,"}, /* wrong length */
        {"\"num_class\":\"0\"", "\"num_class\":\"x\""},    /* not a number */
        {"\"base_score\":\"", "\"base_score\":\"2"},       /* not a probability */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char *bad = replaced(json, edits[i].from, edits[i].to);
        assert_int_equal(xgbimport_load(bad, strlen(bad), &m), -EINVAL);
        assert_null(m);
        free(bad);
    }
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_predictions_match_xgboost),
        cmocka_unit_test(test_rejects_what_it_cannot_import),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
