/* test_knn: exact k-nearest neighbours against brute force and scikit-learn. */
#include <ibx/knn.h>
#include <ibx/mlmetrics.h>
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

/* scikit-learn 1.2.1 (Debian's /usr/bin/python3) on the th_mldata split (test rows X[::4])
 * after StandardScaler fitted on the train rows:
 *   KNeighborsClassifier(n_neighbors=5, weights=w, metric=m).fit(Xtr, ytr).score(Xte, yte)
 * and on diabetes.csv unscaled: KNeighborsRegressor(n_neighbors=5, weights=w) .score and
 * .predict(Xte[:3]). */
static const struct {
    const char *name;
    enum knn_weights weights;
    enum knn_metric metric;
    double sklearn_accuracy;
} accuracy_cases[] = {
    {"iris", KNN_UNIFORM, KNN_EUCLIDEAN, 0.9736842105263158},
    {"iris", KNN_DISTANCE, KNN_MANHATTAN, 0.9736842105263158},
    {"wine", KNN_UNIFORM, KNN_EUCLIDEAN, 0.9777777777777777},
    {"wine", KNN_UNIFORM, KNN_MANHATTAN, 1.0},
    {"wine", KNN_DISTANCE, KNN_EUCLIDEAN, 0.9777777777777777},
    {"breast_cancer", KNN_UNIFORM, KNN_EUCLIDEAN, 0.972027972027972},
    {"breast_cancer", KNN_DISTANCE, KNN_MANHATTAN, 0.972027972027972},
};

static const struct {
    enum knn_weights weights;
    double r2;
    double first[3];
} regression_cases[] = {
    {KNN_UNIFORM, 0.4040859768686139, {192.8, 86.0, 121.6}},
    {KNN_DISTANCE, 0.40915974948263467, {192.78160865984114, 85.45388087910672, 122.5935947005301}},
};

struct split {
    struct th_mldata train, test;
};

static void load_split(const char *name, int scale, struct split *s)
{
    struct th_mldata all;
    assert_int_equal(th_mldata_load(name, &all), 0);
    assert_int_equal(th_mldata_split(&all, &s->train, &s->test), 0);
    th_mldata_free(&all);
    if (scale)
        th_mldata_standardize(&s->train, &s->test);
}

static void free_split(struct split *s)
{
    th_mldata_free(&s->train);
    th_mldata_free(&s->test);
}

static void test_accuracy_like_sklearn(void **state)
{
    for (size_t c = 0; c < sizeof accuracy_cases / sizeof accuracy_cases[0]; c++) {
        struct split s;
        load_split(accuracy_cases[c].name, 1, &s);
        struct knn_params prm;
        knn_params_default(&prm);
        prm.weights = accuracy_cases[c].weights;
        prm.metric = accuracy_cases[c].metric;
        struct ml_matrix X = {.x = s.train.x, .n = s.train.n, .p = s.train.p};
        struct ml_matrix T = {.x = s.test.x, .n = s.test.n, .p = s.test.p};
        struct knn *m = NULL;
        assert_int_equal(
            knn_fit(&prm, ML_CLASSIFICATION, &X, s.train.y, s.train.nclasses, NULL, &m), 0);
        double *pred = malloc(T.n * sizeof *pred);
        assert_non_null(pred);
        assert_int_equal(knn_predict(m, &T, pred), 0);
        assert_true(fabs(th_accuracy(s.test.y, pred, T.n) - accuracy_cases[c].sklearn_accuracy) <=
                    0.02);
        free(pred);
        knn_free(m);
        free_split(&s);
    }
}

static void test_regression_like_sklearn(void **state)
{
    struct split s;
    load_split("diabetes", 0, &s);
    for (size_t c = 0; c < 2; c++) {
        struct knn_params prm;
        knn_params_default(&prm);
        prm.weights = regression_cases[c].weights;
        struct ml_matrix X = {.x = s.train.x, .n = s.train.n, .p = s.train.p};
        struct ml_matrix T = {.x = s.test.x, .n = s.test.n, .p = s.test.p};
        struct knn *m = NULL;
        assert_int_equal(knn_fit(&prm, ML_REGRESSION, &X, s.train.y, 0, NULL, &m), 0);
        assert_int_equal(knn_nclasses(m), 0);
        double *pred = malloc(T.n * sizeof *pred);
        assert_non_null(pred);
        assert_int_equal(knn_predict(m, &T, pred), 0);
        for (size_t i = 0; i < 3; i++)
            assert_true(fabs(pred[i] - regression_cases[c].first[i]) < 1e-9);
        struct mlmetrics_regression r;
        assert_int_equal(mlmetrics_regression(s.test.y, pred, T.n, &r), 0);
        assert_true(fabs(r.r2 - regression_cases[c].r2) <= 0.02);
        double proba[4];
        assert_int_equal(knn_predict_proba(m, &T, proba), -EINVAL);
        free(pred);
        knn_free(m);
    }
    free_split(&s);
}

/* Brute force: the k smallest (distance, index) pairs, ascending. */
static void brute_force(const double *x, size_t n, size_t p, const double *q, size_t k,
                        enum knn_metric metric, size_t *idx, double *dist)
{
    for (size_t s = 0; s < k; s++) {
        double best = INFINITY;
        size_t bi = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            double d = 0.0;
            for (size_t j = 0; j < p; j++) {
                double t = q[j] - x[i * p + j];
                d += metric == KNN_MANHATTAN ? fabs(t) : t * t;
            }
            int taken = 0;
            for (size_t u = 0; u < s; u++)
                taken |= idx[u] == i;
            if (!taken && d < best) {
                best = d;
                bi = i;
            }
        }
        idx[s] = bi;
        dist[s] = metric == KNN_MANHATTAN ? best : sqrt(best);
    }
}

/* Small integer coordinates make many exact ties: the tree (3 features) and the blocked
 * brute force (16 features) must agree with a plain brute force, index for index (ties to
 * the lowest training row), for several leaf sizes and both metrics, with several threads
 * answering. */
static void check_against_brute_force(size_t p)
{
    enum { N = 700, Q = 150, K = 7 };
    double *x = malloc(N * p * sizeof *x), *y = malloc(N * sizeof *y);
    double *q = malloc(Q * p * sizeof *q), *dist = malloc(Q * K * sizeof *dist);
    size_t *idx = malloc(Q * K * sizeof *idx), want_idx[K] = {0};
    double want_dist[K];
    assert_true(x && y && q && dist && idx);
    struct mlrand r;
    mlrand_seed(&r, 3);
    for (size_t i = 0; i < N * p; i++)
        x[i] = (double)mlrand_below(&r, 6);
    for (size_t i = 0; i < N; i++)
        y[i] = (double)mlrand_below(&r, 3);
    for (size_t i = 0; i < Q * p; i++)
        q[i] = (double)mlrand_below(&r, 7) - 0.5 * (double)(i % 2);
    size_t leaves[] = {1, 5, 32, 1000};
    for (int metric = 0; metric < 2; metric++) {
        for (size_t l = 0; l < 4; l++) {
            struct knn_params prm = {
                .k = K, .weights = KNN_UNIFORM, .metric = metric, .leaf_size = leaves[l]};
            struct ml_matrix X = {.x = x, .n = N, .p = p}, T = {.x = q, .n = Q, .p = p};
            struct knn *m = NULL;
            assert_int_equal(knn_fit(&prm, ML_CLASSIFICATION, &X, y, 3, NULL, &m), 0);
            assert_int_equal(knn_kneighbors(m, &T, idx, dist), 0);
            for (size_t i = 0; i < Q; i++) {
                brute_force(x, N, p, q + i * p, K, metric, want_idx, want_dist);
                assert_memory_equal(idx + i * K, want_idx, sizeof want_idx);
                assert_memory_equal(dist + i * K, want_dist, sizeof want_dist);
            }
            knn_free(m);
        }
    }
    free(x);
    free(y);
    free(q);
    free(dist);
    free(idx);
}

static void test_exact_with_ties_against_brute_force(void **state)
{
    check_against_brute_force(3);
    check_against_brute_force(16);
}

static void test_weights_and_votes(void **state)
{
    /* 1-D: rows at 0, 1, 2, 10 with classes 0, 1, 1, 0 */
    double x[] = {0, 1, 2, 10}, y[] = {0, 1, 1, 0};
    struct ml_matrix X = {.x = x, .n = 4, .p = 1};
    struct knn_params prm = {
        .k = 3, .weights = KNN_UNIFORM, .metric = KNN_EUCLIDEAN, .leaf_size = 2};
    struct knn *m = NULL;
    assert_int_equal(knn_fit(&prm, ML_CLASSIFICATION, &X, y, 2, NULL, &m), 0);
    double q[] = {0.0, 1.4}, proba[4], pred[2];
    struct ml_matrix T = {.x = q, .n = 2, .p = 1};
    assert_int_equal(knn_predict_proba(m, &T, proba), 0);
    assert_true(fabs(proba[0] - 1.0 / 3) < 1e-15 && fabs(proba[1] - 2.0 / 3) < 1e-15);
    knn_free(m);
    /* distance weights: a neighbour at distance 0 takes all the weight */
    prm.weights = KNN_DISTANCE;
    assert_int_equal(knn_fit(&prm, ML_CLASSIFICATION, &X, y, 2, NULL, &m), 0);
    assert_int_equal(knn_predict_proba(m, &T, proba), 0);
    assert_true(proba[0] == 1.0 && proba[1] == 0.0);
    /* at 1.4: neighbours 1 (0.4), 2 (0.6), 0 (1.4): weights 2.5 + 1.667 for class 1 */
    double w1 = 1 / 0.4 + 1 / 0.6, w0 = 1 / 1.4;
    assert_true(fabs(proba[3] - w1 / (w0 + w1)) < 1e-12);
    assert_int_equal(knn_predict(m, &T, pred), 0);
    assert_true(pred[0] == 0 && pred[1] == 1);
    knn_free(m);
    /* a vote tie goes to the lower class: k = 2 at 0.5 sees classes 0 and 1 */
    prm.weights = KNN_UNIFORM;
    prm.k = 2;
    assert_int_equal(knn_fit(&prm, ML_CLASSIFICATION, &X, y, 2, NULL, &m), 0);
    q[0] = 0.5;
    assert_int_equal(knn_predict(m, &T, pred), 0);
    assert_true(pred[0] == 0);
    knn_free(m);
}

static int try_load(const void *data, size_t len)
{
    struct knn *m = NULL;
    int rc = knn_load(data, len, NULL, &m);
    knn_free(m);
    return rc;
}

static void test_save_load_round_trip_and_tampering(void **state)
{
    struct split s;
    load_split("wine", 1, &s);
    struct knn_params prm;
    knn_params_default(&prm);
    prm.weights = KNN_DISTANCE;
    struct ml_matrix X = {.x = s.train.x, .n = s.train.n, .p = s.train.p};
    struct ml_matrix T = {.x = s.test.x, .n = s.test.n, .p = s.test.p};
    struct knn *m = NULL, *back = NULL;
    assert_int_equal(knn_fit(&prm, ML_CLASSIFICATION, &X, s.train.y, 3, NULL, &m), 0);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(knn_save(m, &b), 0);
    assert_int_equal(knn_load(b.data, b.len, NULL, &back), 0);
    size_t n = T.n * 3;
    double *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
    assert_non_null(pa);
    assert_non_null(pb);
    assert_int_equal(knn_predict_proba(m, &T, pa), 0);
    assert_int_equal(knn_predict_proba(back, &T, pb), 0);
    assert_memory_equal(pa, pb, n * sizeof *pa);
    assert_int_equal(th_ml_tamper_accepted(b.data, b.len, try_load), 0);
    free(pa);
    free(pb);
    knn_free(m);
    knn_free(back);
    buf_release(&b);
    free_split(&s);
}

static void test_rejects_bad_input(void **state)
{
    double x[] = {0, 1, 2, 3}, y[] = {0, 1}, bad[] = {0, 2};
    struct ml_matrix X = {.x = x, .n = 2, .p = 2};
    struct knn_params prm;
    knn_params_default(&prm);
    struct knn *m = NULL;
    assert_int_equal(knn_fit(&prm, ML_CLASSIFICATION, &X, y, 2, NULL, &m), -EINVAL); /* k > n */
    prm.k = 1;
    assert_int_equal(knn_fit(&prm, ML_CLASSIFICATION, &X, bad, 2, NULL, &m), -EINVAL);
    assert_int_equal(knn_fit(&prm, (enum ml_task)7, &X, y, 2, NULL, &m), -EINVAL);
    prm.leaf_size = 0;
    assert_int_equal(knn_fit(&prm, ML_REGRESSION, &X, y, 0, NULL, &m), -EINVAL);
    prm.leaf_size = 32;
    x[0] = NAN;
    assert_int_equal(knn_fit(&prm, ML_REGRESSION, &X, y, 0, NULL, &m), -EINVAL);
    assert_null(m);
    x[0] = 0;
    assert_int_equal(knn_fit(&prm, ML_REGRESSION, &X, y, 0, NULL, &m), 0);
    double q[] = {1, NAN}, out[2];
    struct ml_matrix T = {.x = q, .n = 1, .p = 2}, wrong = {.x = q, .n = 1, .p = 1};
    assert_int_equal(knn_predict(m, &T, out), -EINVAL);
    assert_int_equal(knn_predict(m, &wrong, out), -EINVAL);
    knn_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy_like_sklearn),
        cmocka_unit_test(test_regression_like_sklearn),
        cmocka_unit_test(test_exact_with_ties_against_brute_force),
        cmocka_unit_test(test_weights_and_votes),
        cmocka_unit_test(test_save_load_round_trip_and_tampering),
        cmocka_unit_test(test_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
