/* test_gbt: histogram gradient boosting against scikit-learn's HistGradientBoosting. */
#include <ibx/gbt.h>
#include <ibx/ml.h>
#include <ibx/mlrand.h>

#include "th_mldata.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* scikit-learn 1.2.1 (Debian's /usr/bin/python3) on the th_mldata split (test rows X[::4]),
 * printed by tests/fixtures/tree_reference.py:
 * HistGradientBoosting{Classifier,Regressor}(max_iter=100, early_stopping=False)
 * .fit(Xtr, ytr).score(Xte, yte) (accuracy, or R^2 for diabetes); "missing": the same after
 * setting every 7th value of X (row-major position over the whole file) to NaN. */
static const struct {
    const char *name;
    enum ml_task task;
    int missing;
    double sklearn_score;
} score_cases[] = {
    {"iris", ML_CLASSIFICATION, 0, 0.9737},          {"wine", ML_CLASSIFICATION, 0, 1.0000},
    {"breast_cancer", ML_CLASSIFICATION, 0, 0.9860}, {"diabetes", ML_REGRESSION, 0, 0.3784},
    {"iris", ML_CLASSIFICATION, 1, 0.9474},          {"wine", ML_CLASSIFICATION, 1, 1.0000},
    {"breast_cancer", ML_CLASSIFICATION, 1, 0.9580},
};

struct split {
    struct th_mldata train, test;
};

static void load_split(const char *name, int missing, struct split *s)
{
    struct th_mldata all;
    assert_int_equal(th_mldata_load(name, &all), 0);
    for (size_t i = 0; missing && i < all.n * all.p; i++)
        if (i % 7 == 0)
            all.x[i] = NAN;
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

static void params_for(struct gbt_params *prm, enum ml_task task, const struct th_mldata *d)
{
    gbt_params_default(prm, task, task == ML_CLASSIFICATION ? d->nclasses : 0);
    prm->early_stopping = 0;
}

static struct gbt_model *fit(const struct gbt_params *prm, const struct th_mldata *d, int threads)
{
    struct ml_matrix x = mat(d);
    struct ml_control ctl = {.threads = threads};
    struct gbt_model *m = NULL;
    assert_int_equal(gbt_fit(prm, &x, d->y, &ctl, &m), 0);
    assert_non_null(m);
    return m;
}

static double score(const struct gbt_model *m, const struct th_mldata *test)
{
    struct ml_matrix x = mat(test);
    double *pred = malloc(test->n * sizeof *pred);
    assert_non_null(pred);
    assert_int_equal(gbt_predict(m, &x, pred), 0);
    double s;
    if (gbt_task(m) == ML_CLASSIFICATION) {
        s = th_accuracy(test->y, pred, test->n);
    } else {
        double mean = 0.0, res = 0.0, tot = 0.0;
        for (size_t i = 0; i < test->n; i++)
            mean += test->y[i] / (double)test->n;
        for (size_t i = 0; i < test->n; i++) {
            res += (test->y[i] - pred[i]) * (test->y[i] - pred[i]);
            tot += (test->y[i] - mean) * (test->y[i] - mean);
        }
        s = 1.0 - res / tot;
    }
    free(pred);
    return s;
}

static void test_scores_match_sklearn(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof score_cases / sizeof score_cases[0]; c++) {
        struct split s;
        load_split(score_cases[c].name, score_cases[c].missing, &s);
        struct gbt_params prm;
        params_for(&prm, score_cases[c].task, &s.train);
        struct gbt_model *m = fit(&prm, &s.train, 2);
        double sc = score(m, &s.test);
        print_message("%-14s missing %d: %.4f (scikit-learn %.4f)\n", score_cases[c].name,
                      score_cases[c].missing, sc, score_cases[c].sklearn_score);
        assert_true(fabs(sc - score_cases[c].sklearn_score) <= 0.02 + 1e-9);
        assert_int_equal(gbt_n_iter(m), 100);
        assert_int_equal(gbt_n_trees(m), 100 * gbt_n_outputs(m));
        gbt_free(m);
        free_split(&s);
    }
}

/* Rows with a NaN feature follow the learned side: a feature whose missing values mean
 * class 1 is enough to separate the classes. */
static void test_missing_values_learn_a_direction(void **state)
{
    (void)state;
    size_t n = 400;
    double *x = malloc(n * 2 * sizeof *x), *y = malloc(n * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    struct mlrand r;
    mlrand_seed(&r, 5);
    for (size_t i = 0; i < n; i++) {
        y[i] = (double)(i % 2);
        x[2 * i] = y[i] == 1.0 ? NAN : mlrand_uniform(&r);
        x[2 * i + 1] = mlrand_uniform(&r);
    }
    struct gbt_params prm;
    gbt_params_default(&prm, ML_CLASSIFICATION, 2);
    prm.max_iter = 10;
    struct ml_matrix mx = {x, n, 2};
    struct gbt_model *m = NULL;
    assert_int_equal(gbt_fit(&prm, &mx, y, NULL, &m), 0);
    double q[4] = {NAN, 0.5, 0.3, 0.5}, out[2];
    struct ml_matrix mq = {q, 2, 2};
    assert_int_equal(gbt_predict(m, &mq, out), 0);
    assert_true(out[0] == 1.0 && out[1] == 0.0);
    size_t count, output;
    const struct gbt_node *nodes = gbt_tree(m, 0, &count, &output);
    assert_non_null(nodes);
    assert_int_equal(nodes[0].feature, 0);
    double imp[2];
    gbt_feature_importance(m, imp);
    assert_true(imp[0] > 0.99 && fabs(imp[0] + imp[1] - 1.0) < 1e-12);
    gbt_free(m);
    free(x);
    free(y);
}

static void synthetic(size_t n, size_t p, size_t k, double **x, double **y)
{
    struct mlrand r;
    mlrand_seed(&r, 11);
    *x = malloc(n * p * sizeof **x);
    *y = malloc(n * sizeof **y);
    assert_non_null(*x);
    assert_non_null(*y);
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (size_t j = 0; j < p; j++) {
            double v = mlrand_normal(&r);
            (*x)[i * p + j] = (i + j) % 13 == 0 ? NAN : v;
            s += j < 3 ? v : 0.0;
        }
        s += 0.8 * mlrand_normal(&r);
        (*y)[i] = k ? (double)(s < -0.6 ? 0 : s < 0.6 ? 1 % k : (k - 1)) : s;
    }
}

static void encode(const struct gbt_model *m, struct buf *b)
{
    buf_init(b, 1 << 26);
    assert_int_equal(gbt_save(m, b), 0);
}

static void test_deterministic_whatever_the_threads(void **state)
{
    (void)state;
    size_t n = 12000, p = 8; /* big enough for threads and for early stopping */
    size_t classes[3] = {2, 3, 0};
    for (int c = 0; c < 3; c++) {
        double *x, *y;
        synthetic(n, p, classes[c], &x, &y);
        struct ml_matrix mx = {x, n, p};
        struct gbt_params prm;
        gbt_params_default(&prm, classes[c] ? ML_CLASSIFICATION : ML_REGRESSION, classes[c]);
        prm.max_iter = 15;
        prm.early_stopping = 1;
        prm.random_state = 3;
        struct buf enc[2];
        for (int t = 0; t < 2; t++) {
            struct ml_control ctl = {.threads = t + 1};
            struct gbt_model *m = NULL;
            assert_int_equal(gbt_fit(&prm, &mx, y, &ctl, &m), 0);
            size_t nloss;
            assert_non_null(gbt_validation_loss(m, &nloss));
            assert_int_equal(nloss, gbt_n_iter(m) + 1);
            encode(m, &enc[t]);
            gbt_free(m);
        }
        assert_int_equal(enc[0].len, enc[1].len);
        assert_memory_equal(enc[0].data, enc[1].data, enc[0].len);
        buf_release(&enc[0]);
        buf_release(&enc[1]);
        free(x);
        free(y);
    }
}

static double *raw_scores(const struct gbt_model *m, const struct ml_matrix *x)
{
    double *raw = malloc(x->n * gbt_n_outputs(m) * sizeof *raw);
    assert_non_null(raw);
    assert_int_equal(gbt_predict_raw(m, x, raw), 0);
    return raw;
}

/* Without a leaf cap the leaves of a level are split together (in batches of at most 64, on
 * the pool): the model is the same on 1, 2 and 3 threads, and its trees are those that
 * best-first growth under a cap it never reaches finds (node order aside: the same raw
 * scores to the bit). Depth 8 gives levels of more than 64 leaves; 36000 rows, leaves
 * partitioned in several chunks; NaNs, the missing value paths. */
static void test_level_growth_matches_best_first(void **state)
{
    (void)state;
    size_t n = 36000, p = 8;
    size_t classes[3] = {2, 3, 0}, depth[3] = {5, 4, 8};
    for (int c = 0; c < 3; c++) {
        double *x, *y;
        synthetic(n, p, classes[c], &x, &y);
        struct ml_matrix mx = {x, n, p};
        struct gbt_params prm;
        gbt_params_default(&prm, classes[c] ? ML_CLASSIFICATION : ML_REGRESSION, classes[c]);
        prm.max_iter = 4;
        prm.early_stopping = 0;
        prm.max_depth = depth[c];
        prm.max_leaves = 0;
        prm.min_samples_leaf = 5;
        prm.l2 = 1.0;
        struct buf enc[3];
        struct gbt_model *m = NULL;
        for (int t = 0; t < 3; t++) {
            struct ml_control ctl = {.threads = t + 1};
            assert_int_equal(gbt_fit(&prm, &mx, y, &ctl, &m), 0);
            encode(m, &enc[t]);
            if (t < 2)
                gbt_free(m);
        }
        for (int t = 1; t < 3; t++) {
            assert_int_equal(enc[0].len, enc[t].len);
            assert_memory_equal(enc[0].data, enc[t].data, enc[0].len);
        }
        size_t leaves = 0, count;
        for (size_t i = 0; i < gbt_n_trees(m); i++) {
            size_t out;
            const struct gbt_node *nd = gbt_tree(m, i, &count, &out);
            for (size_t j = 0; j < count; j++)
                leaves += nd[j].feature < 0;
        }
        assert_true(leaves > prm.max_iter * 8 * (classes[c] > 2 ? classes[c] : 1));
        prm.max_leaves = n;
        struct ml_control ctl = {.threads = 2};
        struct gbt_model *bf = NULL;
        assert_int_equal(gbt_fit(&prm, &mx, y, &ctl, &bf), 0);
        double *a = raw_scores(m, &mx), *b = raw_scores(bf, &mx);
        assert_memory_equal(a, b, n * gbt_n_outputs(m) * sizeof *a);
        free(a);
        free(b);
        gbt_free(bf);
        gbt_free(m);
        for (int t = 0; t < 3; t++)
            buf_release(&enc[t]);
        free(x);
        free(y);
    }
}

static void test_early_stopping_stops(void **state)
{
    (void)state;
    size_t n = 3000, p = 5;
    double *x, *y;
    synthetic(n, p, 2, &x, &y);
    struct ml_matrix mx = {x, n, p};
    struct gbt_params prm;
    gbt_params_default(&prm, ML_CLASSIFICATION, 2);
    prm.max_iter = 1000;
    prm.learning_rate = 0.5;
    prm.early_stopping = 1;
    prm.n_iter_no_change = 5;
    struct gbt_model *m = NULL;
    assert_int_equal(gbt_fit(&prm, &mx, y, NULL, &m), 0);
    size_t it = gbt_n_iter(m), nloss;
    assert_true(it >= 5 && it < 1000);
    const double *loss = gbt_validation_loss(m, &nloss);
    assert_int_equal(nloss, it + 1);
    /* the rule: none of the last five improved on the one before them */
    for (size_t i = nloss - 5; i < nloss; i++)
        assert_true(loss[i] >= loss[nloss - 6] - prm.tol);
    gbt_free(m);
    /* auto: off for 3000 rows */
    prm.early_stopping = -1;
    prm.max_iter = 30;
    assert_int_equal(gbt_fit(&prm, &mx, y, NULL, &m), 0);
    assert_int_equal(gbt_n_iter(m), 30);
    assert_null(gbt_validation_loss(m, &nloss));
    gbt_free(m);
    free(x);
    free(y);
}

static int try_load(const void *data, size_t len)
{
    struct gbt_model *m = NULL;
    int rc = gbt_load(data, len, NULL, &m);
    gbt_free(m);
    return rc;
}

static void test_save_load_round_trip_and_tampering(void **state)
{
    (void)state;
    const char *names[] = {"breast_cancer", "iris", "diabetes"};
    for (int t = 0; t < 3; t++) {
        struct split s;
        load_split(names[t], t == 0, &s);
        struct gbt_params prm;
        params_for(&prm, t == 2 ? ML_REGRESSION : ML_CLASSIFICATION, &s.train);
        prm.max_iter = 10;
        prm.max_leaves = 8;
        struct gbt_model *m = fit(&prm, &s.train, 2);
        struct buf b;
        encode(m, &b);
        assert_int_equal(gbt_save(m, &b), 0);
        size_t one = b.len / 2, used = 0;
        struct gbt_model *back = NULL;
        assert_int_equal(gbt_load(b.data, b.len, NULL, &back), -EINVAL);
        assert_int_equal(gbt_load(b.data + one, b.len - one, &used, &back), 0);
        assert_int_equal(used, one);
        size_t k = gbt_n_outputs(m);
        struct ml_matrix x = mat(&s.test);
        double *pa = malloc(s.test.n * k * sizeof *pa), *pb = malloc(s.test.n * k * sizeof *pb);
        assert_non_null(pa);
        assert_non_null(pb);
        assert_int_equal(gbt_predict_raw(m, &x, pa), 0);
        assert_int_equal(gbt_predict_raw(back, &x, pb), 0);
        assert_memory_equal(pa, pb, s.test.n * k * sizeof *pa);
        assert_int_equal(th_ml_tamper_accepted(b.data, one, try_load), 0);
        free(pa);
        free(pb);
        gbt_free(back);
        gbt_free(m);
        buf_release(&b);
        free_split(&s);
    }
}

static void test_structure_and_probabilities(void **state)
{
    (void)state;
    struct split s;
    load_split("wine", 0, &s);
    struct gbt_params prm;
    params_for(&prm, ML_CLASSIFICATION, &s.train);
    prm.max_iter = 20;
    prm.max_leaves = 5;
    prm.max_depth = 3;
    prm.min_samples_leaf = 7;
    struct gbt_model *m = fit(&prm, &s.train, 1);
    assert_int_equal(gbt_n_outputs(m), 3);
    assert_int_equal(gbt_n_trees(m), 60);
    for (size_t t = 0; t < gbt_n_trees(m); t++) {
        size_t count, output, leaves = 0;
        const struct gbt_node *nodes = gbt_tree(m, t, &count, &output);
        assert_int_equal(output, t % 3);
        for (size_t i = 0; i < count; i++)
            leaves += nodes[i].feature < 0;
        assert_true(leaves <= 5 && count == 2 * leaves - 1);
    }
    struct ml_matrix x = mat(&s.test);
    double *proba = malloc(s.test.n * 3 * sizeof *proba);
    assert_non_null(proba);
    assert_int_equal(gbt_predict_proba(m, &x, proba), 0);
    for (size_t i = 0; i < s.test.n; i++)
        assert_true(fabs(proba[3 * i] + proba[3 * i + 1] + proba[3 * i + 2] - 1.0) < 1e-12);
    free(proba);
    double imp[13], sum = 0.0;
    gbt_feature_importance(m, imp);
    for (int j = 0; j < 13; j++)
        sum += imp[j];
    assert_true(fabs(sum - 1.0) < 1e-12);
    gbt_free(m);
    free_split(&s);
}

/* A batch large enough to be predicted on several threads gives what row-by-row calls give. */
static void test_large_batch_equals_single_rows(void **state)
{
    (void)state;
    struct split s;
    load_split("iris", 1, &s);
    struct gbt_params prm;
    params_for(&prm, ML_CLASSIFICATION, &s.train);
    prm.max_iter = 10;
    struct gbt_model *m = fit(&prm, &s.train, 2);
    size_t n = 9000, p = s.test.p;
    double *x = malloc(n * p * sizeof *x), *all = malloc(n * 3 * sizeof *all), one[3];
    assert_non_null(x);
    assert_non_null(all);
    for (size_t i = 0; i < n; i++)
        memcpy(x + i * p, s.test.x + (i % s.test.n) * p, p * sizeof *x);
    struct ml_matrix mx = {x, n, p};
    assert_int_equal(gbt_predict_raw(m, &mx, all), 0);
    for (size_t i = 0; i < n; i += 7) {
        struct ml_matrix row = {x + i * p, 1, p};
        assert_int_equal(gbt_predict_raw(m, &row, one), 0);
        assert_memory_equal(one, all + i * 3, sizeof one);
    }
    free(x);
    free(all);
    gbt_free(m);
    free_split(&s);
}

static void test_rejects_bad_input(void **state)
{
    (void)state;
    double x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[4] = {0, 1, 0, 1};
    struct ml_matrix mx = {x, 4, 2};
    struct gbt_params prm;
    struct gbt_model *m = NULL;
    gbt_params_default(&prm, ML_CLASSIFICATION, 2);
    prm.learning_rate = 0.0;
    assert_int_equal(gbt_fit(&prm, &mx, y, NULL, &m), -EINVAL);
    gbt_params_default(&prm, ML_CLASSIFICATION, 2);
    prm.max_leaves = 0;
    assert_int_equal(gbt_fit(&prm, &mx, y, NULL, &m), -EINVAL);
    gbt_params_default(&prm, ML_CLASSIFICATION, 2);
    prm.max_bins = 256;
    assert_int_equal(gbt_fit(&prm, &mx, y, NULL, &m), -EINVAL);
    gbt_params_default(&prm, ML_CLASSIFICATION, 2);
    y[1] = 2.0;
    assert_int_equal(gbt_fit(&prm, &mx, y, NULL, &m), -EINVAL);
    y[1] = 1.0;
    x[3] = INFINITY;
    assert_int_equal(gbt_fit(&prm, &mx, y, NULL, &m), -EINVAL);
    x[3] = NAN; /* missing is fine */
    prm.min_samples_leaf = 1;
    assert_int_equal(gbt_fit(&prm, &mx, y, NULL, &m), 0);
    struct ml_matrix wrong = {x, 2, 3};
    double out[8];
    assert_int_equal(gbt_predict(m, &wrong, out), -EINVAL);
    gbt_free(m);
    gbt_params_default(&prm, ML_REGRESSION, 0);
    prm.min_samples_leaf = 1;
    assert_int_equal(gbt_fit(&prm, &mx, y, NULL, &m), 0);
    assert_int_equal(gbt_predict_proba(m, &mx, out), -EINVAL);
    gbt_free(m);
}

struct progress_log {
    size_t calls, last_done, last_total, raise_at;
    volatile int *cancel;
};

static void on_progress(void *ctx, size_t done, size_t total)
{
    struct progress_log *l = ctx;
    assert_int_equal(done, l->last_done + 1);
    l->calls++;
    l->last_done = done;
    l->last_total = total;
    if (l->raise_at && done >= l->raise_at)
        *l->cancel = 1;
}

static void test_progress_and_cancel(void **state)
{
    (void)state;
    struct split s;
    load_split("breast_cancer", 0, &s);
    struct gbt_params prm;
    params_for(&prm, ML_CLASSIFICATION, &s.train);
    prm.max_iter = 25;
    volatile int cancel = 0;
    struct progress_log log = {.cancel = &cancel};
    struct ml_control ctl = {.progress = on_progress, .ctx = &log, .cancel = &cancel, .threads = 2};
    struct ml_matrix x = mat(&s.train);
    struct gbt_model *m = NULL;
    assert_int_equal(gbt_fit(&prm, &x, s.train.y, &ctl, &m), 0);
    assert_int_equal(log.calls, 25);
    assert_int_equal(log.last_total, 25);
    gbt_free(m);
    m = NULL;
    log = (struct progress_log){.cancel = &cancel, .raise_at = 3};
    assert_int_equal(gbt_fit(&prm, &x, s.train.y, &ctl, &m), -ECANCELED);
    assert_null(m);
    assert_int_equal(log.last_done, 3);
    free_split(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores_match_sklearn),
        cmocka_unit_test(test_missing_values_learn_a_direction),
        cmocka_unit_test(test_deterministic_whatever_the_threads),
        cmocka_unit_test(test_level_growth_matches_best_first),
        cmocka_unit_test(test_early_stopping_stops),
        cmocka_unit_test(test_save_load_round_trip_and_tampering),
        cmocka_unit_test(test_structure_and_probabilities),
        cmocka_unit_test(test_large_batch_equals_single_rows),
        cmocka_unit_test(test_rejects_bad_input),
        cmocka_unit_test(test_progress_and_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
