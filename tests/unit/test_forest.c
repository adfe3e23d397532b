/* test_forest: random forests against scikit-learn on iris, wine, breast cancer, diabetes. */
#include <ibx/forest.h>
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
 * printed by tests/fixtures/tree_reference.py: the mean over random_state 0..4 of
 * RandomForest{Classifier,Regressor}(n_estimators=100).fit(Xtr, ytr).score(Xte, yte)
 * (accuracy, or R^2 for diabetes), and oob_score_ with oob_score=True, random_state=0. */
static const struct {
    const char *name;
    enum ml_task task;
    double sklearn_score;
} score_cases[] = {
    {"iris", ML_CLASSIFICATION, 0.9632},
    {"wine", ML_CLASSIFICATION, 1.0000},
    {"breast_cancer", ML_CLASSIFICATION, 0.9608},
    {"diabetes", ML_REGRESSION, 0.4101},
};
static const double sklearn_oob_breast_cancer = 0.9624, sklearn_oob_diabetes = 0.4295;

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

static void params_for(struct forest_params *prm, enum ml_task task, const struct th_mldata *d)
{
    forest_params_default(prm, task, task == ML_CLASSIFICATION ? d->nclasses : 0);
}

static struct forest_model *fit(const struct forest_params *prm, const struct th_mldata *d,
                                int threads)
{
    struct ml_matrix x = mat(d);
    struct ml_control ctl = {.threads = threads};
    struct forest_model *m = NULL;
    assert_int_equal(forest_fit(prm, &x, d->y, &ctl, &m), 0);
    assert_non_null(m);
    return m;
}

static double score(const struct forest_model *m, const struct th_mldata *test)
{
    struct ml_matrix x = mat(test);
    double *pred = malloc(test->n * sizeof *pred);
    assert_non_null(pred);
    assert_int_equal(forest_predict(m, &x, pred), 0);
    double s;
    if (forest_task(m) == ML_CLASSIFICATION) {
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
        load_split(score_cases[c].name, &s);
        double mean = 0.0;
        for (uint64_t seed = 0; seed < 5; seed++) {
            struct forest_params prm;
            params_for(&prm, score_cases[c].task, &s.train);
            prm.random_state = seed;
            struct forest_model *m = fit(&prm, &s.train, 2);
            mean += score(m, &s.test) / 5.0;
            forest_free(m);
        }
        print_message("%-14s %.4f (scikit-learn %.4f)\n", score_cases[c].name, mean,
                      score_cases[c].sklearn_score);
        assert_true(fabs(mean - score_cases[c].sklearn_score) <= 0.02 + 1e-9);
        free_split(&s);
    }
}

static void test_oob_score(void **state)
{
    (void)state;
    const char *names[] = {"breast_cancer", "diabetes"};
    double want[] = {sklearn_oob_breast_cancer, sklearn_oob_diabetes};
    for (int t = 0; t < 2; t++) {
        struct split s;
        load_split(names[t], &s);
        struct forest_params prm;
        params_for(&prm, t ? ML_REGRESSION : ML_CLASSIFICATION, &s.train);
        prm.oob_score = 1;
        struct forest_model *m = fit(&prm, &s.train, 2);
        double oob = 0.0;
        assert_int_equal(forest_oob_score(m, &oob), 0);
        print_message("oob %s %.4f (scikit-learn %.4f)\n", names[t], oob, want[t]);
        assert_true(fabs(oob - want[t]) <= 0.03);
        forest_free(m);
        prm.oob_score = 0;
        m = fit(&prm, &s.train, 1);
        assert_int_equal(forest_oob_score(m, &oob), -ENOENT);
        forest_free(m);
        free_split(&s);
    }
}

static void encode(const struct forest_model *m, struct buf *b)
{
    buf_init(b, 1 << 28);
    assert_int_equal(forest_save(m, b), 0);
}

static void test_deterministic_whatever_the_threads(void **state)
{
    (void)state;
    struct split s;
    load_split("breast_cancer", &s);
    struct forest_params prm;
    params_for(&prm, ML_CLASSIFICATION, &s.train);
    prm.n_estimators = 40;
    prm.oob_score = 1;
    prm.random_state = 9;
    struct buf enc[3];
    int threads[3] = {1, 2, 3};
    for (int t = 0; t < 3; t++) {
        struct forest_model *m = fit(&prm, &s.train, threads[t]);
        encode(m, &enc[t]);
        forest_free(m);
    }
    for (int t = 1; t < 3; t++) {
        assert_int_equal(enc[0].len, enc[t].len);
        assert_memory_equal(enc[0].data, enc[t].data, enc[0].len);
    }
    prm.random_state = 10;
    struct forest_model *m = fit(&prm, &s.train, 2);
    struct buf other;
    encode(m, &other);
    assert_false(other.len == enc[0].len && memcmp(other.data, enc[0].data, other.len) == 0);
    buf_release(&other);
    forest_free(m);
    for (int t = 0; t < 3; t++)
        buf_release(&enc[t]);
    free_split(&s);
}

static int try_load(const void *data, size_t len)
{
    struct forest_model *m = NULL;
    int rc = forest_load(data, len, NULL, &m);
    forest_free(m);
    return rc;
}

static void test_save_load_round_trip_and_tampering(void **state)
{
    (void)state;
    const char *names[] = {"iris", "diabetes"};
    for (int t = 0; t < 2; t++) {
        struct split s;
        load_split(names[t], &s);
        struct forest_params prm;
        params_for(&prm, t ? ML_REGRESSION : ML_CLASSIFICATION, &s.train);
        prm.n_estimators = 8;
        prm.tree.max_depth = 4;
        prm.oob_score = 1;
        struct forest_model *m = fit(&prm, &s.train, 2);
        struct buf b;
        encode(m, &b);
        assert_int_equal(forest_save(m, &b), 0);
        size_t one = b.len / 2, used = 0;
        struct forest_model *back = NULL;
        assert_int_equal(forest_load(b.data, b.len, NULL, &back), -EINVAL);
        assert_int_equal(forest_load(b.data + one, b.len - one, &used, &back), 0);
        assert_int_equal(used, one);
        size_t w = t ? 1 : forest_n_classes(m);
        struct ml_matrix x = mat(&s.test);
        double *pa = malloc(s.test.n * w * sizeof *pa), *pb = malloc(s.test.n * w * sizeof *pb);
        assert_non_null(pa);
        assert_non_null(pb);
        if (t) {
            assert_int_equal(forest_predict(m, &x, pa), 0);
            assert_int_equal(forest_predict(back, &x, pb), 0);
        } else {
            assert_int_equal(forest_predict_proba(m, &x, pa), 0);
            assert_int_equal(forest_predict_proba(back, &x, pb), 0);
        }
        assert_memory_equal(pa, pb, s.test.n * w * sizeof *pa);
        double o1, o2;
        assert_int_equal(forest_oob_score(m, &o1), 0);
        assert_int_equal(forest_oob_score(back, &o2), 0);
        assert_true(o1 == o2);
        assert_int_equal(th_ml_tamper_accepted(b.data, one, try_load), 0);
        free(pa);
        free(pb);
        forest_free(back);
        forest_free(m);
        buf_release(&b);
        free_split(&s);
    }
}

static void test_importance_and_trees(void **state)
{
    (void)state;
    struct split s;
    load_split("wine", &s);
    struct forest_params prm;
    params_for(&prm, ML_CLASSIFICATION, &s.train);
    prm.n_estimators = 20;
    prm.bootstrap = 0;
    struct forest_model *m = fit(&prm, &s.train, 2);
    assert_int_equal(forest_n_trees(m), 20);
    double imp[13], sum = 0.0;
    forest_feature_importance(m, imp);
    for (int j = 0; j < 13; j++) {
        assert_true(imp[j] >= 0.0);
        sum += imp[j];
    }
    assert_true(fabs(sum - 1.0) < 1e-12);
    /* without bootstrap every tree sees every row */
    for (size_t t = 0; t < 20; t++) {
        size_t n;
        const struct tree_node *nodes = tree_nodes(forest_tree(m, t), &n);
        assert_int_equal(nodes[0].samples, s.train.n);
        assert_true(nodes[0].weight == (double)s.train.n);
    }
    assert_null(forest_tree(m, 20));
    /* probabilities are means of the trees' */
    struct ml_matrix x = mat(&s.test);
    double *proba = malloc(s.test.n * 3 * sizeof *proba);
    assert_non_null(proba);
    assert_int_equal(forest_predict_proba(m, &x, proba), 0);
    for (size_t i = 0; i < s.test.n; i++)
        assert_true(fabs(proba[i * 3] + proba[i * 3 + 1] + proba[i * 3 + 2] - 1.0) < 1e-12);
    free(proba);
    forest_free(m);
    free_split(&s);
}

static void test_max_samples(void **state)
{
    (void)state;
    struct split s;
    load_split("breast_cancer", &s);
    struct forest_params prm;
    params_for(&prm, ML_CLASSIFICATION, &s.train);
    prm.n_estimators = 10;
    prm.max_samples = 0.25;
    struct forest_model *m = fit(&prm, &s.train, 2);
    size_t n;
    const struct tree_node *nodes = tree_nodes(forest_tree(m, 0), &n);
    assert_true(nodes[0].weight == round(0.25 * (double)s.train.n));
    forest_free(m);
    double bad[] = {-1.0, 1.5, (double)s.train.n + 1.0};
    struct ml_matrix x = mat(&s.train);
    for (int i = 0; i < 3; i++) {
        prm.max_samples = bad[i];
        assert_int_equal(forest_fit(&prm, &x, s.train.y, NULL, &m), -EINVAL);
    }
    prm.max_samples = 0.0;
    prm.bootstrap = 0;
    prm.oob_score = 1;
    assert_int_equal(forest_fit(&prm, &x, s.train.y, NULL, &m), -EINVAL);
    prm.oob_score = 0;
    prm.n_estimators = 0;
    assert_int_equal(forest_fit(&prm, &x, s.train.y, NULL, &m), -EINVAL);
    free_split(&s);
}

/* A batch large enough to be predicted on several threads gives what row-by-row calls give. */
static void test_large_batch_equals_single_rows(void **state)
{
    (void)state;
    struct split s;
    load_split("breast_cancer", &s);
    struct forest_params prm;
    params_for(&prm, ML_CLASSIFICATION, &s.train);
    prm.n_estimators = 10;
    struct forest_model *m = fit(&prm, &s.train, 2);
    size_t n = 9000, p = s.test.p;
    double *x = malloc(n * p * sizeof *x), *all = malloc(n * 2 * sizeof *all), one[2];
    assert_non_null(x);
    assert_non_null(all);
    for (size_t i = 0; i < n; i++)
        memcpy(x + i * p, s.test.x + (i % s.test.n) * p, p * sizeof *x);
    struct ml_matrix mx = {x, n, p};
    assert_int_equal(forest_predict_proba(m, &mx, all), 0);
    for (size_t i = 0; i < n; i += 7) {
        struct ml_matrix row = {x + i * p, 1, p};
        assert_int_equal(forest_predict_proba(m, &row, one), 0);
        assert_memory_equal(one, all + i * 2, sizeof one);
    }
    free(x);
    free(all);
    forest_free(m);
    free_split(&s);
}

struct progress_log {
    size_t calls, last_done, last_total, raise_at;
    volatile int *cancel;
};

static void on_progress(void *ctx, size_t done, size_t total)
{
    struct progress_log *l = ctx;
    assert_true(done > l->last_done && done <= total);
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
    load_split("breast_cancer", &s);
    struct forest_params prm;
    params_for(&prm, ML_CLASSIFICATION, &s.train);
    prm.n_estimators = 200;
    volatile int cancel = 0;
    struct progress_log log = {.cancel = &cancel};
    struct ml_control ctl = {.progress = on_progress, .ctx = &log, .cancel = &cancel, .threads = 2};
    struct ml_matrix x = mat(&s.train);
    struct forest_model *m = NULL;
    assert_int_equal(forest_fit(&prm, &x, s.train.y, &ctl, &m), 0);
    assert_true(log.calls >= 1);
    assert_int_equal(log.last_done, 200);
    assert_int_equal(log.last_total, 200);
    forest_free(m);
    m = NULL;
    log = (struct progress_log){.cancel = &cancel, .raise_at = 1};
    assert_int_equal(forest_fit(&prm, &x, s.train.y, &ctl, &m), -ECANCELED);
    assert_null(m);
    assert_true(log.last_done < 200);
    free_split(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores_match_sklearn),
        cmocka_unit_test(test_oob_score),
        cmocka_unit_test(test_deterministic_whatever_the_threads),
        cmocka_unit_test(test_save_load_round_trip_and_tampering),
        cmocka_unit_test(test_importance_and_trees),
        cmocka_unit_test(test_max_samples),
        cmocka_unit_test(test_large_batch_equals_single_rows),
        cmocka_unit_test(test_progress_and_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
