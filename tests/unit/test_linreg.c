/* test_linreg: least squares and ridge against scikit-learn on the diabetes data. */
#include <ibx/linreg.h>
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

/* scikit-learn 1.2.1 (Debian's /usr/bin/python3) on tests/fixtures/diabetes.csv, unscaled,
 * th_mldata split (test rows X[::4]): m = LinearRegression() / Ridge(alpha=a) /
 * LinearRegression(fit_intercept=False) .fit(Xtr, ytr); m.coef_, m.intercept_,
 * m.score(Xte, yte); "wide" is LinearRegression().fit(Xtr[:6], ytr[:6]) (fewer rows than
 * features: lstsq's minimum-norm solution). */
static const struct {
    const char *what;
    double alpha;
    int fit_intercept;
    size_t rows; /* train rows used (0: all) */
    double coef[10], intercept, r2;
} cases[] = {
    {"ols",
     0.0,
     1,
     0,
     {-33.30543177159452, -283.16457048668, 501.5934719242353, 326.15057011117136,
      -677.5670274994428, 467.46599002987153, -51.56213202320649, -54.5207165428738,
      787.326764964516, 44.073523125295466},
     151.29058850477313,
     0.4628911846772714},
    {"ridge 1",
     1.0,
     1,
     0,
     {25.927744824178276, -77.23668837302313, 262.52096047397146, 180.52905733445544,
      13.923665743473794, -27.360850975242293, -133.16875268706792, 83.03450409238485,
      248.581210142715, 92.98864178288446},
     150.37898887039864,
     0.39990747300286755},
    {"ridge 0.01",
     0.01,
     1,
     0,
     {-29.433257801899483, -273.7602763306487, 501.04443077228314, 321.233551218413,
      -298.5026900504729, 157.93955149289138, -201.22292111373739, -75.9114856227274,
      630.7733563524865, 46.9250794725126},
     151.16913522396015,
     0.46288730435445447},
    {"ols without intercept",
     0.0,
     0,
     0,
     {-98.95686672490866, -144.259201946119, 260.83827862089026, 215.46209585130057,
      448.1077223356992, -374.84500741890776, -700.7183646143727, -464.98204423230874,
      627.7489633531131, 34.571477051065216},
     0.0,
     -3.3294863793616614},
    {"wide",
     0.0,
     1,
     6,
     {-172.98969216181843, 69.41123759916354, -117.65169018921691, -670.9932889462805,
      -151.66262671934166, -30.522014726351088, -490.2514277103774, 446.33209982247627,
      92.7496427110062, 273.1431290793016},
     137.81536658484916,
     NAN},
};

struct split {
    struct th_mldata train, test;
};

static void load_split(struct split *s)
{
    struct th_mldata all;
    assert_int_equal(th_mldata_load("diabetes", &all), 0);
    assert_int_equal(th_mldata_split(&all, &s->train, &s->test), 0);
    th_mldata_free(&all);
}

static void free_split(struct split *s)
{
    th_mldata_free(&s->train);
    th_mldata_free(&s->test);
}

static int close_rel(double got, double want, double rel)
{
    return fabs(got - want) <= rel * (1.0 + fabs(want));
}

static double r2_on(const struct linreg *m, const struct th_mldata *d)
{
    struct ml_matrix X = {.x = d->x, .n = d->n, .p = d->p};
    double *pred = malloc(d->n * sizeof *pred);
    assert_non_null(pred);
    assert_int_equal(linreg_predict(m, &X, pred), 0);
    struct mlmetrics_regression r;
    assert_int_equal(mlmetrics_regression(d->y, pred, d->n, &r), 0);
    free(pred);
    return r.r2;
}

static void test_like_sklearn(void **state)
{
    struct split s;
    load_split(&s);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct linreg_params prm = {.alpha = cases[c].alpha,
                                    .fit_intercept = cases[c].fit_intercept};
        struct ml_matrix X = {
            .x = s.train.x, .n = cases[c].rows ? cases[c].rows : s.train.n, .p = s.train.p};
        struct linreg *m = NULL;
        assert_int_equal(linreg_fit(&prm, &X, s.train.y, NULL, &m), 0);
        for (size_t j = 0; j < 10; j++)
            assert_true(close_rel(linreg_coef(m)[j], cases[c].coef[j], 1e-6));
        assert_true(close_rel(linreg_intercept(m), cases[c].intercept, 1e-6));
        assert_int_equal(linreg_used_fallback(m), cases[c].rows != 0);
        if (!isnan(cases[c].r2))
            assert_true(fabs(r2_on(m, &s.test) - cases[c].r2) < 1e-9);
        double imp[10];
        linreg_importance(m, imp);
        assert_true(imp[4] == fabs(linreg_coef(m)[4]));
        linreg_free(m);
    }
    free_split(&s);
}

/* A duplicated and a constant column: the minimum-norm solution splits the duplicated
 * coefficient in halves and gives the constant column 0 (scikit-learn's lstsq returns
 * +-3.9e16 for the pair here, so the expectation is the exact answer, not its output). */
static void test_rank_deficient_minimum_norm(void **state)
{
    struct split s;
    load_split(&s);
    size_t n = s.train.n, p = s.train.p + 2;
    double *x = malloc(n * p * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) {
        memcpy(x + i * p, s.train.x + i * s.train.p, s.train.p * sizeof *x);
        x[i * p + p - 2] = s.train.x[i * s.train.p + 2];
        x[i * p + p - 1] = 3.0;
    }
    struct linreg_params prm;
    linreg_params_default(&prm);
    struct ml_matrix X = {.x = x, .n = n, .p = p};
    struct linreg *m = NULL;
    assert_int_equal(linreg_fit(&prm, &X, s.train.y, NULL, &m), 0);
    assert_true(linreg_used_fallback(m));
    const double *w = linreg_coef(m);
    for (size_t j = 0; j < 10; j++) {
        double want = j == 2 ? cases[0].coef[2] / 2 : cases[0].coef[j];
        assert_true(close_rel(w[j], want, 1e-6));
    }
    assert_true(close_rel(w[10], cases[0].coef[2] / 2, 1e-6));
    assert_true(fabs(w[11]) < 1e-6);
    assert_true(close_rel(linreg_intercept(m), cases[0].intercept, 1e-6));
    linreg_free(m);
    free(x);
    free_split(&s);
}

static void test_deterministic_across_threads(void **state)
{
    enum { N = 30000, P = 16 };
    double *x = malloc(N * P * sizeof *x), *y = malloc(N * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    struct mlrand r;
    mlrand_seed(&r, 11);
    for (size_t i = 0; i < N; i++) {
        y[i] = mlrand_normal(&r);
        for (size_t j = 0; j < P; j++) {
            x[i * P + j] = mlrand_normal(&r);
            y[i] += (double)j * x[i * P + j];
        }
    }
    struct linreg_params prm = {.alpha = 0.5, .fit_intercept = 1};
    struct ml_matrix X = {.x = x, .n = N, .p = P};
    struct ml_control one = {.threads = 1}, many = {.threads = 3};
    struct linreg *a = NULL, *b = NULL;
    assert_int_equal(linreg_fit(&prm, &X, y, &one, &a), 0);
    assert_int_equal(linreg_fit(&prm, &X, y, &many, &b), 0);
    assert_memory_equal(linreg_coef(a), linreg_coef(b), P * sizeof(double));
    assert_true(linreg_intercept(a) == linreg_intercept(b));
    for (size_t j = 0; j < P; j++)
        assert_true(fabs(linreg_coef(a)[j] - (double)j) < 0.05);
    linreg_free(a);
    linreg_free(b);
    free(x);
    free(y);
}

static int try_load(const void *data, size_t len)
{
    struct linreg *m = NULL;
    int rc = linreg_load(data, len, NULL, &m);
    linreg_free(m);
    return rc;
}

static void test_save_load_round_trip_and_tampering(void **state)
{
    struct split s;
    load_split(&s);
    struct linreg_params prm = {.alpha = 1.0, .fit_intercept = 1};
    struct ml_matrix X = {.x = s.train.x, .n = s.train.n, .p = s.train.p};
    struct linreg *m = NULL, *back = NULL;
    assert_int_equal(linreg_fit(&prm, &X, s.train.y, NULL, &m), 0);
    struct buf b;
    buf_init(&b, 1 << 16);
    assert_int_equal(linreg_save(m, &b), 0);
    assert_int_equal(linreg_load(b.data, b.len, NULL, &back), 0);
    struct ml_matrix T = {.x = s.test.x, .n = s.test.n, .p = s.test.p};
    double *pa = malloc(T.n * sizeof *pa), *pb = malloc(T.n * sizeof *pb);
    assert_non_null(pa);
    assert_non_null(pb);
    assert_int_equal(linreg_predict(m, &T, pa), 0);
    assert_int_equal(linreg_predict(back, &T, pb), 0);
    assert_memory_equal(pa, pb, T.n * sizeof *pa);
    assert_int_equal(th_ml_tamper_accepted(b.data, b.len, try_load), 0);
    free(pa);
    free(pb);
    linreg_free(m);
    linreg_free(back);
    buf_release(&b);
    free_split(&s);
}

static void test_rejects_bad_input(void **state)
{
    double x[] = {0, 1, 2, 3}, y[] = {1, 2};
    struct ml_matrix X = {.x = x, .n = 2, .p = 2};
    struct linreg *m = NULL;
    struct linreg_params prm = {.alpha = -1, .fit_intercept = 1};
    assert_int_equal(linreg_fit(&prm, &X, y, NULL, &m), -EINVAL);
    prm.alpha = 0;
    prm.fit_intercept = 2;
    assert_int_equal(linreg_fit(&prm, &X, y, NULL, &m), -EINVAL);
    prm.fit_intercept = 1;
    y[1] = NAN;
    assert_int_equal(linreg_fit(&prm, &X, y, NULL, &m), -EINVAL);
    y[1] = 2;
    volatile int cancel = 1;
    struct ml_control ctl = {.cancel = &cancel};
    assert_int_equal(linreg_fit(&prm, &X, y, &ctl, &m), -ECANCELED);
    assert_null(m);
    assert_int_equal(linreg_fit(&prm, &X, y, NULL, &m), 0);
    struct ml_matrix wrong = {.x = x, .n = 1, .p = 3};
    double out[2];
    assert_int_equal(linreg_predict(m, &wrong, out), -EINVAL);
    linreg_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_like_sklearn),
        cmocka_unit_test(test_rank_deficient_minimum_norm),
        cmocka_unit_test(test_deterministic_across_threads),
        cmocka_unit_test(test_save_load_round_trip_and_tampering),
        cmocka_unit_test(test_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
