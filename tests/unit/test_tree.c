/* test_tree: CART decision trees against scikit-learn on iris, wine, breast cancer, diabetes. */
#include <ibx/ml.h>
#include <ibx/mlrand.h>
#include <ibx/tree.h>

#include "th_mldata.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* scikit-learn 1.2.1 (Debian's /usr/bin/python3) on the th_mldata split (test rows X[::4]),
 * printed by tests/fixtures/tree_reference.py: the mean over random_state 0..4 of
 * DecisionTree{Classifier,Regressor}(...).fit(Xtr, ytr).score(Xte, yte) (accuracy, or R^2
 * for diabetes). */
static const struct {
    const char *name;
    enum ml_task task;
    enum tree_criterion criterion;
    size_t max_depth;
    double sklearn_score;
} score_cases[] = {
    {"iris", ML_CLASSIFICATION, TREE_GINI, 5, 0.9211},
    {"iris", ML_CLASSIFICATION, TREE_GINI, 0, 0.9211},
    {"iris", ML_CLASSIFICATION, TREE_ENTROPY, 0, 0.9421},
    {"wine", ML_CLASSIFICATION, TREE_GINI, 5, 0.9556},
    {"wine", ML_CLASSIFICATION, TREE_GINI, 0, 0.9556},
    {"wine", ML_CLASSIFICATION, TREE_ENTROPY, 0, 0.9556},
    {"breast_cancer", ML_CLASSIFICATION, TREE_GINI, 5, 0.9091},
    {"breast_cancer", ML_CLASSIFICATION, TREE_GINI, 0, 0.9091},
    {"breast_cancer", ML_CLASSIFICATION, TREE_ENTROPY, 0, 0.8979},
    {"diabetes", ML_REGRESSION, TREE_SQUARED_ERROR, 4, 0.3283},
};

struct split {
    struct th_mldata train, test;
};

static void load_split(const char *name, struct split *s)
{
    struct th_mldata all;
    assert_int_equal(th_mldata_load(name, &all), 0);
    assert_int_equal(th_mldata_split(&all, &s->train, &s->test), 0);
    th_mldata_free(&all);
}

static void free_split(struct split *s)
{
    th_mldata_free(&s->train);
    th_mldata_free(&s->test);
}

static struct ml_matrix mat(const struct th_mldata *d)
{
    return (struct ml_matrix){.x = d->x, .n = d->n, .p = d->p};
}

static struct tree_model *fit(const struct tree_params *prm, const struct th_mldata *d,
                              const struct ml_control *ctl)
{
    struct ml_matrix x = mat(d);
    struct tree_model *m = NULL;
    assert_int_equal(tree_fit(prm, &x, d->y, ctl, &m), 0);
    assert_non_null(m);
    return m;
}

static double r2(const double *truth, const double *pred, size_t n)
{
    double mean = 0.0, ss_res = 0.0, ss_tot = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += truth[i] / (double)n;
    for (size_t i = 0; i < n; i++) {
        ss_res += (truth[i] - pred[i]) * (truth[i] - pred[i]);
        ss_tot += (truth[i] - mean) * (truth[i] - mean);
    }
    return 1.0 - ss_res / ss_tot;
}

static double score(const struct tree_model *m, const struct th_mldata *test)
{
    struct ml_matrix x = mat(test);
    double *pred = malloc(test->n * sizeof *pred);
    assert_non_null(pred);
    assert_int_equal(tree_predict(m, &x, pred), 0);
    double s = tree_task(m) == ML_CLASSIFICATION ? th_accuracy(test->y, pred, test->n)
                                                 : r2(test->y, pred, test->n);
    free(pred);
    return s;
}

static void params_for(struct tree_params *prm, enum ml_task task, const struct th_mldata *d)
{
    tree_params_default(prm, task, task == ML_CLASSIFICATION ? d->nclasses : 0);
}

static void test_scores_match_sklearn(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof score_cases / sizeof score_cases[0]; c++) {
        struct split s;
        load_split(score_cases[c].name, &s);
        double mean = 0.0;
        for (uint64_t seed = 0; seed < 5; seed++) {
            struct tree_params prm;
            params_for(&prm, score_cases[c].task, &s.train);
            prm.criterion = score_cases[c].criterion;
            prm.max_depth = score_cases[c].max_depth;
            prm.random_state = seed;
            struct tree_model *m = fit(&prm, &s.train, NULL);
            mean += score(m, &s.test) / 5.0;
            tree_free(m);
        }
        print_message("%-14s crit %d depth %zu: %.4f (scikit-learn %.4f)\n", score_cases[c].name,
                      score_cases[c].criterion, score_cases[c].max_depth, mean,
                      score_cases[c].sklearn_score);
        assert_true(fabs(mean - score_cases[c].sklearn_score) <= 0.02 + 1e-9);
        free_split(&s);
    }
}

/* The IBIS-X reference run: iris, depth 5, lands in [0.90, 0.97]. */
static void test_iris_depth5_reference_range(void **state)
{
    (void)state;
    struct split s;
    load_split("iris", &s);
    struct tree_params prm;
    params_for(&prm, ML_CLASSIFICATION, &s.train);
    prm.max_depth = 5;
    struct tree_model *m = fit(&prm, &s.train, NULL);
    double acc = score(m, &s.test);
    assert_true(acc >= 0.90 && acc <= 0.97);
    assert_true(tree_depth(m) <= 5);
    tree_free(m);
    free_split(&s);
}

/* Synthetic data large enough that binning runs on a thread pool; some features have
 * more distinct values than bins. */
static void synthetic(size_t n, size_t p, uint64_t seed, double **x, double **y)
{
    struct mlrand r;
    mlrand_seed(&r, seed);
    *x = malloc(n * p * sizeof **x);
    *y = malloc(n * sizeof **y);
    assert_non_null(*x);
    assert_non_null(*y);
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (size_t j = 0; j < p; j++) {
            double v = j % 3 == 0 ? (double)mlrand_below(&r, 7) : mlrand_normal(&r);
            (*x)[i * p + j] = v;
            s += j < 4 ? v : 0.0;
        }
        (*y)[i] = s + 0.5 * mlrand_normal(&r) > 1.0 ? 1.0 : 0.0;
    }
}

static void encode(const struct tree_model *m, struct buf *b)
{
    buf_init(b, 1 << 26);
    assert_int_equal(tree_save(m, b), 0);
}

static void fit_encode(const struct tree_params *prm, const struct ml_matrix *mx, const double *y,
                       int threads, struct buf *b)
{
    struct ml_control ctl = {.threads = threads};
    struct tree_model *m = NULL;
    assert_int_equal(tree_fit(prm, mx, y, &ctl, &m), 0);
    encode(m, b);
    tree_free(m);
}

static void test_deterministic_across_seeds_and_threads(void **state)
{
    (void)state;
    size_t n = 6000, p = 12;
    double *x, *y;
    synthetic(n, p, 7, &x, &y);
    struct ml_matrix mx = {x, n, p};
    /* sqrt: one feature after the other; all: large nodes search features in parallel */
    enum tree_max_features mfs[2] = {TREE_MF_SQRT, TREE_MF_ALL};
    for (int k = 0; k < 2; k++) {
        struct tree_params prm;
        tree_params_default(&prm, ML_CLASSIFICATION, 2);
        prm.max_features = mfs[k];
        prm.random_state = 42;
        struct buf enc[3], other;
        for (int t = 0; t < 3; t++)
            fit_encode(&prm, &mx, y, t == 2 ? 2 : 1, &enc[t]);
        for (int t = 1; t < 3; t++) {
            assert_int_equal(enc[0].len, enc[t].len);
            assert_memory_equal(enc[0].data, enc[t].data, enc[0].len);
        }
        prm.random_state = 43; /* another seed draws other features */
        fit_encode(&prm, &mx, y, 2, &other);
        if (k == 0)
            assert_false(other.len == enc[0].len &&
                         memcmp(other.data, enc[0].data, other.len) == 0);
        buf_release(&other);
        for (int t = 0; t < 3; t++)
            buf_release(&enc[t]);
    }
    free(x);
    free(y);
}

static struct tree_model *g_loaded;

static int try_load(const void *data, size_t len)
{
    struct tree_model *m = NULL;
    int rc = tree_load(data, len, NULL, &m);
    tree_free(m);
    return rc;
}

static void same_predictions(const struct tree_model *a, const struct tree_model *b,
                             const struct th_mldata *test)
{
    struct ml_matrix x = mat(test);
    size_t w = tree_task(a) == ML_CLASSIFICATION ? tree_n_classes(a) : 1;
    double *pa = calloc(test->n * w, sizeof *pa), *pb = calloc(test->n * w, sizeof *pb);
    assert_non_null(pa);
    assert_non_null(pb);
    if (tree_task(a) == ML_CLASSIFICATION) {
        assert_int_equal(tree_predict_proba(a, &x, pa), 0);
        assert_int_equal(tree_predict_proba(b, &x, pb), 0);
    } else {
        assert_int_equal(tree_predict(a, &x, pa), 0);
        assert_int_equal(tree_predict(b, &x, pb), 0);
    }
    assert_memory_equal(pa, pb, test->n * w * sizeof *pa);
    free(pa);
    free(pb);
}

static void test_save_load_round_trip_and_tampering(void **state)
{
    (void)state;
    const char *names[] = {"iris", "diabetes"};
    for (int t = 0; t < 2; t++) {
        struct split s;
        load_split(names[t], &s);
        struct tree_params prm;
        params_for(&prm, t ? ML_REGRESSION : ML_CLASSIFICATION, &s.train);
        prm.max_depth = t ? 4 : 0;
        struct tree_model *m = fit(&prm, &s.train, NULL);
        struct buf b;
        encode(m, &b);
        assert_int_equal(tree_save(m, &b), 0); /* two encodings back to back */
        size_t one = b.len / 2, used = 0;
        assert_int_equal(tree_load(b.data, b.len, NULL, &g_loaded), -EINVAL);
        assert_int_equal(tree_load(b.data + one, b.len - one, &used, &g_loaded), 0);
        assert_int_equal(used, one);
        same_predictions(m, g_loaded, &s.test);
        size_t na, nb;
        tree_nodes(m, &na);
        tree_nodes(g_loaded, &nb);
        assert_int_equal(na, nb);
        assert_int_equal(th_ml_tamper_accepted(b.data, one, try_load), 0);
        tree_free(g_loaded);
        g_loaded = NULL;
        tree_free(m);
        buf_release(&b);
        free_split(&s);
    }
}

static void test_save_respects_buffer_limit(void **state)
{
    (void)state;
    struct split s;
    load_split("wine", &s);
    struct tree_params prm;
    params_for(&prm, ML_CLASSIFICATION, &s.train);
    struct tree_model *m = fit(&prm, &s.train, NULL);
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(tree_save(m, &b), -EMSGSIZE);
    assert_int_equal(b.len, 0);
    buf_release(&b);
    tree_free(m);
    free_split(&s);
}

static void test_importance_and_structure(void **state)
{
    (void)state;
    struct split s;
    load_split("breast_cancer", &s);
    struct tree_params prm;
    params_for(&prm, ML_CLASSIFICATION, &s.train);
    prm.min_samples_leaf = 5;
    struct tree_model *m = fit(&prm, &s.train, NULL);
    double imp[64], sum = 0.0;
    tree_feature_importance(m, imp);
    for (size_t j = 0; j < s.train.p; j++) {
        assert_true(imp[j] >= 0.0);
        sum += imp[j];
    }
    assert_true(fabs(sum - 1.0) < 1e-12);
    size_t n;
    const struct tree_node *nodes = tree_nodes(m, &n);
    size_t width;
    const double *values = tree_values(m, &width);
    assert_int_equal(width, 2);
    assert_int_equal(nodes[0].samples, s.train.n);
    for (size_t i = 0; i < n; i++) {
        if (nodes[i].feature < 0) {
            assert_true(nodes[i].samples >= 5);
            continue;
        }
        const struct tree_node *l = &nodes[nodes[i].left], *r = &nodes[nodes[i].right];
        assert_int_equal(l->samples + r->samples, nodes[i].samples);
        assert_true(values[i * 2] == values[nodes[i].left * 2] + values[nodes[i].right * 2]);
    }
    assert_int_equal(tree_n_leaves(m), (n + 1) / 2);
    tree_free(m);

    /* a pure training set is one leaf: no importance at all */
    double y0[4] = {1, 1, 1, 1}, x0[4] = {1, 2, 3, 4};
    struct ml_matrix mx = {x0, 4, 1};
    assert_int_equal(tree_fit(&prm, &mx, y0, NULL, &m), 0);
    tree_feature_importance(m, imp);
    assert_true(imp[0] == 0.0);
    assert_int_equal(tree_depth(m), 0);
    tree_free(m);
    free_split(&s);
}

/* Thresholds are midpoints between training values, as in scikit-learn. */
static void test_thresholds_are_midpoints(void **state)
{
    (void)state;
    double x[6] = {1.0, 2.0, 3.0, 10.0, 11.0, 12.0}, y[6] = {0, 0, 0, 1, 1, 1};
    struct ml_matrix mx = {x, 6, 1};
    struct tree_params prm;
    tree_params_default(&prm, ML_CLASSIFICATION, 2);
    struct tree_model *m = NULL;
    assert_int_equal(tree_fit(&prm, &mx, y, NULL, &m), 0);
    size_t n;
    const struct tree_node *nodes = tree_nodes(m, &n);
    assert_int_equal(n, 3);
    assert_true(nodes[0].threshold == 6.5);
    double q[2] = {6.5, 6.50001}, out[2];
    struct ml_matrix mq = {q, 2, 1};
    assert_int_equal(tree_predict(m, &mq, out), 0);
    assert_true(out[0] == 0.0 && out[1] == 1.0);
    tree_free(m);
}

static void test_json_and_truncation(void **state)
{
    (void)state;
    struct split s;
    load_split("iris", &s);
    struct tree_params prm;
    params_for(&prm, ML_CLASSIFICATION, &s.train);
    struct tree_model *m = fit(&prm, &s.train, NULL);
    const char *names[] = {"sepal \"length\"", "sepal width", "petal length", "petal width"};
    size_t n;
    tree_nodes(m, &n);
    size_t budgets[] = {1000, 5, 1};
    for (int t = 0; t < 3; t++) {
        struct buf b;
        buf_init(&b, 1 << 20);
        assert_int_equal(tree_to_json(m, names, budgets[t], &b), 0);
        json_error_t err;
        json_t *doc = json_loads(b.data, 0, &err);
        assert_non_null(doc);
        json_t *nodes = json_object_get(doc, "nodes");
        size_t want = budgets[t] < n ? (budgets[t] % 2 ? budgets[t] : budgets[t] - 1) : n;
        assert_int_equal(json_array_size(nodes), want);
        assert_int_equal(json_is_true(json_object_get(doc, "truncated")), want < n);
        json_t *root = json_array_get(nodes, 0);
        assert_int_equal(json_integer_value(json_object_get(root, "samples")), s.train.n);
        assert_int_equal(json_array_size(json_object_get(root, "value")), 3);
        if (want > 1) {
            assert_string_equal(json_string_value(json_object_get(root, "feature_name")),
                                names[json_integer_value(json_object_get(root, "feature"))]);
            assert_int_equal(json_integer_value(json_object_get(root, "left")), 1);
        } else {
            assert_true(json_is_true(json_object_get(root, "truncated")));
        }
        json_decref(doc);
        buf_release(&b);
    }
    tree_free(m);
    free_split(&s);
}

static void test_max_features_and_min_leaf(void **state)
{
    (void)state;
    struct split s;
    load_split("wine", &s);
    struct {
        enum tree_max_features mf;
        double value;
        size_t want;
    } cases[] = {{TREE_MF_ALL, 0, 13},       {TREE_MF_SQRT, 0, 3},   {TREE_MF_LOG2, 0, 3},
                 {TREE_MF_FRACTION, 0.5, 6}, {TREE_MF_COUNT, 4, 4},  {TREE_MF_COUNT, 14, 0},
                 {TREE_MF_FRACTION, 0.0, 0}, {TREE_MF_COUNT, 2.5, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        assert_int_equal(tree_resolve_max_features(cases[c].mf, cases[c].value, 13), cases[c].want);
        struct tree_params prm;
        params_for(&prm, ML_CLASSIFICATION, &s.train);
        prm.max_features = cases[c].mf;
        prm.max_features_value = cases[c].value;
        prm.min_samples_leaf = 3;
        struct ml_matrix x = mat(&s.train);
        struct tree_model *m = NULL;
        int rc = tree_fit(&prm, &x, s.train.y, NULL, &m);
        assert_int_equal(rc, cases[c].want ? 0 : -EINVAL);
        if (rc)
            continue;
        assert_true(score(m, &s.test) > 0.8);
        size_t n;
        const struct tree_node *nodes = tree_nodes(m, &n);
        for (size_t i = 0; i < n; i++)
            assert_true(nodes[i].feature >= 0 || nodes[i].samples >= 3);
        tree_free(m);
    }
    free_split(&s);
}

static void test_rejects_bad_input(void **state)
{
    (void)state;
    double x[4] = {1, 2, 3, 4}, y[4] = {0, 1, 0, 1};
    struct ml_matrix mx = {x, 4, 1};
    struct tree_params prm;
    tree_params_default(&prm, ML_CLASSIFICATION, 2);
    struct tree_model *m = NULL;
    y[2] = 2.0; /* not a class */
    assert_int_equal(tree_fit(&prm, &mx, y, NULL, &m), -EINVAL);
    y[2] = 0.5;
    assert_int_equal(tree_fit(&prm, &mx, y, NULL, &m), -EINVAL);
    y[2] = 0.0;
    x[1] = NAN;
    assert_int_equal(tree_fit(&prm, &mx, y, NULL, &m), -EINVAL);
    x[1] = 2.0;
    prm.min_samples_split = 1;
    assert_int_equal(tree_fit(&prm, &mx, y, NULL, &m), -EINVAL);
    tree_params_default(&prm, ML_CLASSIFICATION, 2);
    prm.criterion = TREE_SQUARED_ERROR;
    assert_int_equal(tree_fit(&prm, &mx, y, NULL, &m), -EINVAL);
    assert_null(m);
    tree_params_default(&prm, ML_CLASSIFICATION, 2);
    assert_int_equal(tree_fit(&prm, &mx, y, NULL, &m), 0);
    double q[2] = {1, 2}, out[2];
    struct ml_matrix wrong = {q, 1, 2};
    assert_int_equal(tree_predict(m, &wrong, out), -EINVAL);
    struct ml_matrix nan_row = {(double[]){NAN}, 1, 1};
    assert_int_equal(tree_predict(m, &nan_row, out), -EINVAL);
    tree_free(m);
    tree_params_default(&prm, ML_REGRESSION, 0);
    assert_int_equal(tree_fit(&prm, &mx, y, NULL, &m), 0);
    struct ml_matrix ok = {q, 1, 1};
    assert_int_equal(tree_predict_proba(m, &ok, out), -EINVAL); /* no probabilities */
    tree_free(m);
}

struct progress_log {
    size_t calls, last_done, last_total;
};

static void on_progress(void *ctx, size_t done, size_t total)
{
    struct progress_log *l = ctx;
    l->calls++;
    l->last_done = done;
    l->last_total = total;
}

static void test_progress_and_cancel(void **state)
{
    (void)state;
    size_t n = 2000, p = 6;
    double *x, *y;
    synthetic(n, p, 3, &x, &y);
    struct ml_matrix mx = {x, n, p};
    struct tree_params prm;
    tree_params_default(&prm, ML_CLASSIFICATION, 2);
    struct progress_log log = {0};
    volatile int cancel = 0;
    struct ml_control ctl = {.progress = on_progress, .ctx = &log, .cancel = &cancel};
    struct tree_model *m = NULL;
    assert_int_equal(tree_fit(&prm, &mx, y, &ctl, &m), 0);
    assert_int_equal(log.calls, 1);
    assert_int_equal(log.last_done, log.last_total);
    tree_free(m);
    m = NULL;
    cancel = 1;
    assert_int_equal(tree_fit(&prm, &mx, y, &ctl, &m), -ECANCELED);
    assert_null(m);
    free(x);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores_match_sklearn),
        cmocka_unit_test(test_iris_depth5_reference_range),
        cmocka_unit_test(test_deterministic_across_seeds_and_threads),
        cmocka_unit_test(test_save_load_round_trip_and_tampering),
        cmocka_unit_test(test_save_respects_buffer_limit),
        cmocka_unit_test(test_importance_and_structure),
        cmocka_unit_test(test_thresholds_are_midpoints),
        cmocka_unit_test(test_json_and_truncation),
        cmocka_unit_test(test_max_features_and_min_leaf),
        cmocka_unit_test(test_rejects_bad_input),
        cmocka_unit_test(test_progress_and_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
