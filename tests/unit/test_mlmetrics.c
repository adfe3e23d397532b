/* test_mlmetrics: every metric against scikit-learn's value for the same inputs. */
#include <ibx/mlmetrics.h>
#include <ibx/mlrand.h>

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Expected values below were printed by scikit-learn 1.2.1 (Debian's /usr/bin/python3,
 * sklearn.metrics) for exactly these inputs: roc_curve, roc_auc_score,
 * precision_recall_curve, average_precision_score, log_loss, precision_recall_fscore_support
 * (zero_division=0; average None, "macro", "weighted"), accuracy_score, confusion_matrix,
 * roc_auc_score(multi_class="ovr", average="macro"),
 * average_precision_score(label_binarize(y, classes=[0, 1, 2]), P, average="macro"),
 * mean_absolute_error, mean_squared_error (squared True/False), r2_score. */

/* binary, with tied scores */
static const double bin_y[] = {0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0};
static const double bin_s[] = {0.1, 0.8, 0.8, 0.35, 0.6, 0.8, 0.2, 0.9, 0.4, 0.4, 0.55, 0.05};
static const double bin_fpr[] = {
    0.0, 0.0, 0.16666666666666666, 0.16666666666666666, 0.3333333333333333, 1.0};
static const double bin_tpr[] = {0.0, 0.16666666666666666, 0.5, 0.8333333333333334, 1.0, 1.0};
static const double bin_roc_thr[] = {1.9, 0.9, 0.8, 0.55, 0.4, 0.05};
static const double bin_auc = 0.8750000000000001;
static const double bin_prec[] = {
    0.5, 0.5454545454545454, 0.6, 0.6666666666666666, 0.75, 0.8333333333333334, 0.8, 0.75, 1.0,
    1.0};
static const double bin_rec[] = {
    1.0, 1.0, 1.0, 1.0, 1.0, 0.8333333333333334, 0.6666666666666666, 0.5, 0.16666666666666666, 0.0};
static const double bin_pr_thr[] = {0.05, 0.1, 0.2, 0.35, 0.4, 0.55, 0.6, 0.8, 0.9, NAN};
static const double bin_ap = 0.8138888888888889;
static const double bin_log_loss = 0.4589537323611786; /* proba [1 - s, s] */

/* straight stretches that drop_intermediate removes (11 points without it) */
static const double col_y[] = {1, 1, 1, 1, 0, 0, 0, 0, 1, 0};
static const double col_s[] = {1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1};
static const double col_fpr[] = {0.0, 0.0, 0.0, 0.8, 0.8, 1.0};
static const double col_tpr[] = {0.0, 0.2, 0.8, 0.8, 1.0, 1.0};
static const double col_thr[] = {2.0, 1.0, 0.7, 0.3, 0.2, 0.1};

/* three classes */
static const double mc_true[] = {0, 1, 2, 2, 1, 0, 0, 2, 1, 1, 2, 0, 1, 2, 2};
static const double mc_pred[] = {0, 2, 2, 2, 1, 0, 1, 2, 1, 0, 2, 0, 0, 1, 2};
static const double mc_proba[] = {0.337, 0.518, 0.14500000000000002,
                                  0.137, 0.428, 0.435,
                                  0.32,  0.554, 0.1259999999999999,
                                  0.476, 0.025, 0.499,
                                  0.419, 0.13,  0.45099999999999996,
                                  0.515, 0.014, 0.471,
                                  0.257, 0.458, 0.285,
                                  0.611, 0.3,   0.08900000000000002,
                                  0.295, 0.568, 0.13700000000000012,
                                  0.072, 0.14,  0.788,
                                  0.52,  0.155, 0.32499999999999996,
                                  0.766, 0.195, 0.03899999999999998,
                                  0.456, 0.351, 0.19300000000000006,
                                  0.181, 0.37,  0.44899999999999995,
                                  0.247, 0.272, 0.481};
static const double mc_prec[] = {0.6, 0.5, 0.8333333333333334};
static const double mc_rec[] = {0.75, 0.4, 0.8333333333333334};
static const double mc_f1[] = {0.6666666666666665, 0.4444444444444445, 0.8333333333333334};
static const size_t mc_confusion[] = {3, 1, 0, 2, 2, 1, 0, 1, 5};

/* zero division (class 2 never predicted), and a fourth class in neither array */
static const double zd_true[] = {0, 0, 1, 1, 2, 2};
static const double zd_pred[] = {0, 1, 1, 1, 0, 1};
static const double zd_prec[] = {0.5, 0.5, 0.0, 0.0};
static const double zd_rec[] = {0.5, 1.0, 0.0, 0.0};
static const double zd_f1[] = {0.5, 0.6666666666666666, 0.0, 0.0};

static const struct {
    const char *what;
    const double *y_true, *y_pred;
    size_t n, nclasses;
    const double *prec, *rec, *f1;
    double accuracy;
    double macro[3], weighted[3]; /* precision, recall, f1 */
} report_cases[] = {
    {"three classes",
     mc_true,
     mc_pred,
     15,
     3,
     mc_prec,
     mc_rec,
     mc_f1,
     0.6666666666666666,
     {0.6444444444444445, 0.6611111111111111, 0.648148148148148},
     {0.66, 0.6666666666666666, 0.6592592592592593}},
    {"zero division",
     zd_true,
     zd_pred,
     6,
     4,
     zd_prec,
     zd_rec,
     zd_f1,
     0.5,
     {0.3333333333333333, 0.5, 0.38888888888888884},
     {0.3333333333333333, 0.5, 0.38888888888888884}},
};

static int near(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return fabs(a - b) <= 1e-12;
}

static void assert_series(const double *got, const double *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_true(near(got[i], want[i]));
}

static void test_classification_report(void **state)
{
    for (size_t c = 0; c < sizeof report_cases / sizeof report_cases[0]; c++) {
        struct mlmetrics_classification m;
        size_t k = report_cases[c].nclasses;
        assert_int_equal(mlmetrics_classification(report_cases[c].y_true, report_cases[c].y_pred,
                                                  report_cases[c].n, k, &m),
                         0);
        assert_true(near(m.accuracy, report_cases[c].accuracy));
        assert_series(m.precision, report_cases[c].prec, k);
        assert_series(m.recall, report_cases[c].rec, k);
        assert_series(m.f1, report_cases[c].f1, k);
        assert_true(near(m.macro_precision, report_cases[c].macro[0]));
        assert_true(near(m.macro_recall, report_cases[c].macro[1]));
        assert_true(near(m.macro_f1, report_cases[c].macro[2]));
        assert_true(near(m.weighted_precision, report_cases[c].weighted[0]));
        assert_true(near(m.weighted_recall, report_cases[c].weighted[1]));
        assert_true(near(m.weighted_f1, report_cases[c].weighted[2]));
        double acc;
        assert_int_equal(mlmetrics_accuracy(report_cases[c].y_true, report_cases[c].y_pred,
                                            report_cases[c].n, &acc),
                         0);
        assert_true(near(acc, report_cases[c].accuracy));
        mlmetrics_classification_release(&m);
        mlmetrics_classification_release(&m);
    }
}

static void test_confusion_matrix_and_json(void **state)
{
    struct mlmetrics_classification m;
    assert_int_equal(mlmetrics_classification(mc_true, mc_pred, 15, 3, &m), 0);
    assert_memory_equal(m.confusion, mc_confusion, sizeof mc_confusion);
    assert_int_equal(m.support[2], 6);
    json_t *j = NULL;
    assert_int_equal(mlmetrics_classification_json(&m, &j), 0);
    assert_true(near(json_real_value(json_object_get(j, "f1_macro")), 0.648148148148148));
    json_t *cm = json_object_get(j, "confusion_matrix");
    assert_int_equal(json_array_size(cm), 3);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(cm, 1), 0)), 2);
    json_t *row = json_array_get(json_object_get(j, "per_class"), 1);
    assert_true(near(json_real_value(json_object_get(row, "recall")), 0.4));
    assert_int_equal(json_integer_value(json_object_get(row, "support")), 5);
    json_decref(j);
    mlmetrics_classification_release(&m);
}

static const struct {
    const char *what;
    enum mlmetrics_curve_kind kind;
    const double *y, *s;
    size_t n;
    const double *x, *yv, *thr;
    size_t npoints;
    double area;
} curve_cases[] = {
    {"roc with ties", MLMETRICS_ROC, bin_y, bin_s, 12, bin_fpr, bin_tpr, bin_roc_thr, 6, bin_auc},
    {"roc drop_intermediate", MLMETRICS_ROC, col_y, col_s, 10, col_fpr, col_tpr, col_thr, 6, NAN},
    {"pr with ties", MLMETRICS_PR, bin_y, bin_s, 12, bin_rec, bin_prec, bin_pr_thr, 10, bin_ap},
};

static void test_curves_like_sklearn(void **state)
{
    for (size_t c = 0; c < sizeof curve_cases / sizeof curve_cases[0]; c++) {
        struct mlmetrics_curve cv;
        assert_int_equal(mlmetrics_curve(curve_cases[c].kind, curve_cases[c].y, curve_cases[c].s,
                                         curve_cases[c].n, 1.0, 0, &cv),
                         0);
        assert_int_equal(cv.npoints, curve_cases[c].npoints);
        assert_series(cv.x, curve_cases[c].x, cv.npoints);
        assert_series(cv.y, curve_cases[c].yv, cv.npoints);
        assert_series(cv.thresholds, curve_cases[c].thr, cv.npoints);
        if (!isnan(curve_cases[c].area))
            assert_true(near(cv.area, curve_cases[c].area));
        mlmetrics_curve_release(&cv);
        mlmetrics_curve_release(&cv);
    }
}

static void test_curve_json(void **state)
{
    struct mlmetrics_curve cv;
    assert_int_equal(mlmetrics_curve(MLMETRICS_PR, bin_y, bin_s, 12, 1.0, 0, &cv), 0);
    json_t *j = NULL;
    assert_int_equal(mlmetrics_curve_json(&cv, &j), 0);
    assert_true(near(json_real_value(json_object_get(j, "average_precision")), bin_ap));
    json_t *thr = json_object_get(j, "thresholds");
    assert_int_equal(json_array_size(thr), 10);
    assert_true(json_is_null(json_array_get(thr, 9))); /* the (0, 1) end has none */
    assert_int_equal(json_array_size(json_object_get(j, "precision")), 10);
    json_decref(j);
    mlmetrics_curve_release(&cv);
}

static void test_capped_curve_keeps_area_and_ends(void **state)
{
    enum { N = 5000 };
    double *y = malloc(N * sizeof *y), *s = malloc(N * sizeof *s);
    assert_non_null(y);
    assert_non_null(s);
    struct mlrand r;
    mlrand_seed(&r, 5);
    for (size_t i = 0; i < N; i++) {
        y[i] = (double)mlrand_below(&r, 2);
        s[i] = mlrand_uniform(&r) + 0.3 * y[i];
    }
    for (int kind = MLMETRICS_ROC; kind <= MLMETRICS_PR; kind++) {
        struct mlmetrics_curve full, capped;
        assert_int_equal(mlmetrics_curve(kind, y, s, N, 1.0, 0, &full), 0);
        assert_int_equal(mlmetrics_curve(kind, y, s, N, 1.0, 200, &capped), 0);
        assert_true(full.npoints > 200);
        assert_int_equal(capped.npoints, 200);
        assert_true(capped.area == full.area);
        assert_true(capped.x[0] == full.x[0] && capped.y[0] == full.y[0]);
        assert_true(capped.x[199] == full.x[full.npoints - 1]);
        assert_true(capped.y[199] == full.y[full.npoints - 1]);
        mlmetrics_curve_release(&full);
        mlmetrics_curve_release(&capped);
    }
    free(y);
    free(s);
}

static void test_one_vs_rest(void **state)
{
    struct {
        enum mlmetrics_curve_kind kind;
        double macro;
        const char *key;
    } cases[] = {{MLMETRICS_ROC, 0.5862850729517396, "macro_auc"},
                 {MLMETRICS_PR, 0.5218684556184556, "macro_average_precision"}};
    for (size_t c = 0; c < 2; c++) {
        struct mlmetrics_ovr o;
        assert_int_equal(mlmetrics_ovr(cases[c].kind, mc_true, mc_proba, 15, 3, 200, &o), 0);
        assert_true(near(o.macro_area, cases[c].macro));
        json_t *j = NULL;
        assert_int_equal(mlmetrics_ovr_json(&o, &j), 0);
        assert_true(near(json_real_value(json_object_get(j, cases[c].key)), cases[c].macro));
        assert_int_equal(json_array_size(json_object_get(j, "per_class")), 3);
        json_decref(j);
        mlmetrics_ovr_release(&o);
        mlmetrics_ovr_release(&o);
    }
}

static void test_ovr_class_missing_from_truth(void **state)
{
    /* class 2 never occurs: its area is NaN (null) and the macro uses classes 0 and 1 */
    double y[] = {0, 1, 0, 1};
    double p[] = {0.8, 0.1, 0.1, 0.3, 0.6, 0.1, 0.6, 0.3, 0.1, 0.2, 0.7, 0.1};
    struct mlmetrics_ovr o;
    assert_int_equal(mlmetrics_ovr(MLMETRICS_ROC, y, p, 4, 3, 0, &o), 0);
    assert_true(isnan(o.curves[2].area));
    assert_int_equal(o.curves[2].npoints, 0);
    assert_true(near(o.macro_area, 1.0));
    json_t *j = NULL;
    assert_int_equal(mlmetrics_ovr_json(&o, &j), 0);
    json_t *c2 = json_array_get(json_object_get(j, "per_class"), 2);
    assert_true(json_is_null(json_object_get(c2, "auc")));
    json_decref(j);
    mlmetrics_ovr_release(&o);
}

static void test_log_loss(void **state)
{
    double proba[24];
    for (size_t i = 0; i < 12; i++) {
        proba[2 * i] = 1.0 - bin_s[i];
        proba[2 * i + 1] = bin_s[i];
    }
    double v;
    assert_int_equal(mlmetrics_log_loss(bin_y, proba, 12, 2, &v), 0);
    assert_true(near(v, bin_log_loss));
    assert_int_equal(mlmetrics_log_loss(mc_true, mc_proba, 15, 3, &v), 0);
    assert_true(near(v, 1.1790915783755704));
    /* log_loss([0, 1], [[0, 1], [0, 1]]): the zero is clipped to eps */
    double y[] = {0, 1}, hard[] = {0, 1, 0, 1};
    assert_int_equal(mlmetrics_log_loss(y, hard, 2, 2, &v), 0);
    assert_true(fabs(v - 18.021826694558577) < 1e-9);
}

static void test_regression(void **state)
{
    struct {
        double t[5], p[5];
        size_t n;
        double mae, mse, rmse, r2;
    } cases[] = {
        {{3.0, -0.5, 2.0, 7.0, 4.2},
         {2.5, 0.0, 2.1, 7.8, 3.9},
         5,
         0.44000000000000006,
         0.24799999999999994,
         0.49799598391954925,
         0.9594665271966527},
        {{2, 2, 2}, {2, 2, 2}, 3, 0, 0, 0, 1.0},
        {{2, 2, 2}, {2, 2, 3}, 3, 1.0 / 3, 1.0 / 3, 0.5773502691896257, 0.0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct mlmetrics_regression r;
        assert_int_equal(mlmetrics_regression(cases[c].t, cases[c].p, cases[c].n, &r), 0);
        assert_true(near(r.mae, cases[c].mae));
        assert_true(near(r.mse, cases[c].mse));
        assert_true(near(r.rmse, cases[c].rmse));
        assert_true(near(r.r2, cases[c].r2));
        json_t *j = NULL;
        assert_int_equal(mlmetrics_regression_json(&r, &j), 0);
        assert_true(near(json_real_value(json_object_get(j, "r2")), cases[c].r2));
        json_decref(j);
    }
}

static void test_rejects_bad_input(void **state)
{
    double y[] = {0, 1, 1}, bad[] = {0, 1.5, 1}, same[] = {1, 1, 1}, s[] = {0.1, NAN, 0.3};
    double good_s[] = {0.1, 0.2, 0.3};
    struct mlmetrics_classification m;
    struct mlmetrics_curve cv;
    struct mlmetrics_regression r;
    double v;
    assert_int_equal(mlmetrics_classification(y, bad, 3, 2, &m), -EINVAL);
    assert_int_equal(mlmetrics_classification(y, y, 3, 1, &m), -EINVAL); /* class 1 of 1 */
    assert_int_equal(mlmetrics_classification(y, y, 0, 2, &m), -EINVAL);
    assert_int_equal(mlmetrics_curve(MLMETRICS_ROC, y, s, 3, 1.0, 0, &cv), -EINVAL);
    assert_int_equal(mlmetrics_curve(MLMETRICS_ROC, same, good_s, 3, 1.0, 0, &cv), -EINVAL);
    assert_int_equal(mlmetrics_curve(MLMETRICS_ROC, y, good_s, 3, 1.0, 1, &cv), -EINVAL);
    assert_int_equal(mlmetrics_curve(MLMETRICS_PR, same, good_s, 3, 0.0, 0, &cv), -EINVAL);
    assert_int_equal(mlmetrics_log_loss(bad, good_s, 3, 1, &v), -EINVAL);
    assert_int_equal(mlmetrics_regression(y, s, 3, &r), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classification_report),
        cmocka_unit_test(test_confusion_matrix_and_json),
        cmocka_unit_test(test_curves_like_sklearn),
        cmocka_unit_test(test_curve_json),
        cmocka_unit_test(test_capped_curve_keeps_area_and_ends),
        cmocka_unit_test(test_one_vs_rest),
        cmocka_unit_test(test_ovr_class_missing_from_truth),
        cmocka_unit_test(test_log_loss),
        cmocka_unit_test(test_regression),
        cmocka_unit_test(test_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
