/* test_gnb: Gaussian naive Bayes against scikit-learn's GaussianNB. */
#include <ibx/gnb.h>

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
 * after StandardScaler fitted on the train rows: m = GaussianNB().fit(Xtr, ytr);
 * m.score(Xte, yte); for wine also m.predict_proba(Xte[:4]), m.var_[:, 0], m.theta_[:, 0],
 * m.class_prior_. */
static const struct {
    const char *name;
    double sklearn_accuracy;
} accuracy_cases[] = {
    {"iris", 0.9736842105263158},
    {"wine", 1.0},
    {"breast_cancer", 0.9230769230769231},
};
static const double wine_proba[] = {
    0.999999998927434,     1.0725670163015896e-09, 8.591451221185329e-39,  0.9042642457415202,
    0.09573575425847967,   3.832057481662093e-17,  0.9999999987097787,     1.290221549227348e-09,
    4.611340015365618e-28, 0.9999999998193498,     1.8065092817614008e-10, 1.3093516390457478e-29};
static const double wine_var0[] = {0.33342855978784713, 0.4432819974948695, 0.3892632583651202};
static const double wine_theta0[] = {0.9109511998063821, -0.898018165688487, 0.20869749972247498};
static const double wine_prior[] = {0.3308270676691729, 0.39849624060150374, 0.2706766917293233};

struct split {
    struct th_mldata train, test;
};

static void load_split(const char *name, struct split *s)
{
    struct th_mldata all;
    assert_int_equal(th_mldata_load(name, &all), 0);
    assert_int_equal(th_mldata_split(&all, &s->train, &s->test), 0);
    th_mldata_free(&all);
    th_mldata_standardize(&s->train, &s->test);
}

static void free_split(struct split *s)
{
    th_mldata_free(&s->train);
    th_mldata_free(&s->test);
}

static struct gnb *fit(const struct th_mldata *d)
{
    struct gnb_params prm;
    gnb_params_default(&prm);
    struct ml_matrix X = {.x = d->x, .n = d->n, .p = d->p};
    struct gnb *m = NULL;
    assert_int_equal(gnb_fit(&prm, &X, d->y, d->nclasses, NULL, &m), 0);
    return m;
}

static int close_rel(double got, double want)
{
    return fabs(got - want) <= 1e-12 + 1e-7 * fabs(want);
}

static void test_accuracy_like_sklearn(void **state)
{
    for (size_t c = 0; c < sizeof accuracy_cases / sizeof accuracy_cases[0]; c++) {
        struct split s;
        load_split(accuracy_cases[c].name, &s);
        struct gnb *m = fit(&s.train);
        struct ml_matrix X = {.x = s.test.x, .n = s.test.n, .p = s.test.p};
        double *pred = malloc(s.test.n * sizeof *pred);
        assert_non_null(pred);
        assert_int_equal(gnb_predict(m, &X, pred), 0);
        double acc = th_accuracy(s.test.y, pred, s.test.n);
        assert_true(fabs(acc - accuracy_cases[c].sklearn_accuracy) <= 0.02);
        free(pred);
        gnb_free(m);
        free_split(&s);
    }
}

static void test_parameters_and_probabilities_like_sklearn(void **state)
{
    struct split s;
    load_split("wine", &s);
    struct gnb *m = fit(&s.train);
    size_t p = gnb_nfeatures(m);
    for (size_t c = 0; c < 3; c++) {
        assert_true(close_rel(gnb_variances(m)[c * p], wine_var0[c]));
        assert_true(close_rel(gnb_means(m)[c * p], wine_theta0[c]));
        assert_true(close_rel(gnb_priors(m)[c], wine_prior[c]));
    }
    struct ml_matrix X = {.x = s.test.x, .n = 4, .p = s.test.p};
    double proba[12];
    assert_int_equal(gnb_predict_proba(m, &X, proba), 0);
    for (size_t i = 0; i < 12; i++)
        assert_true(fabs(proba[i] - wine_proba[i]) <= 1e-9 + 1e-6 * wine_proba[i]);
    gnb_free(m);
    free_split(&s);
}

static void test_empty_class_and_constant_features(void **state)
{
    /* class 1 has no rows: probability 0; every feature constant within classes */
    double x[] = {1, 1, 1, 1, 5, 5, 5, 5}, y[] = {0, 0, 2, 2};
    struct ml_matrix X = {.x = x, .n = 4, .p = 2};
    struct gnb_params prm;
    gnb_params_default(&prm);
    struct gnb *m = NULL;
    assert_int_equal(gnb_fit(&prm, &X, y, 3, NULL, &m), 0);
    double proba[12], pred[4];
    assert_int_equal(gnb_predict_proba(m, &X, proba), 0);
    assert_int_equal(gnb_predict(m, &X, pred), 0);
    for (size_t i = 0; i < 4; i++) {
        assert_true(proba[i * 3 + 1] == 0.0);
        assert_true(pred[i] == y[i]);
        assert_true(isfinite(proba[i * 3]) && isfinite(proba[i * 3 + 2]));
    }
    gnb_free(m);
}

static int try_load(const void *data, size_t len)
{
    struct gnb *m = NULL;
    int rc = gnb_load(data, len, NULL, &m);
    gnb_free(m);
    return rc;
}

static void test_save_load_round_trip_and_tampering(void **state)
{
    struct split s;
    load_split("breast_cancer", &s);
    struct gnb *m = fit(&s.train);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(gnb_save(m, &b), 0);
    struct gnb *back = NULL;
    size_t used = 0;
    assert_int_equal(gnb_load(b.data, b.len, &used, &back), 0);
    assert_int_equal(used, b.len);
    struct ml_matrix X = {.x = s.test.x, .n = s.test.n, .p = s.test.p};
    size_t n = s.test.n * 2;
    double *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
    assert_non_null(pa);
    assert_non_null(pb);
    assert_int_equal(gnb_predict_proba(m, &X, pa), 0);
    assert_int_equal(gnb_predict_proba(back, &X, pb), 0);
    assert_memory_equal(pa, pb, n * sizeof *pa);
    assert_int_equal(th_ml_tamper_accepted(b.data, b.len, try_load), 0);
    free(pa);
    free(pb);
    gnb_free(back);
    gnb_free(m);
    buf_release(&b);
    free_split(&s);
}

static void test_rejects_bad_input(void **state)
{
    double x[] = {0, 1, 2, 3}, y[] = {0, 1}, bad_y[] = {0, 2};
    struct ml_matrix X = {.x = x, .n = 2, .p = 2};
    struct gnb_params prm = {.var_smoothing = -1};
    struct gnb *m = NULL;
    assert_int_equal(gnb_fit(&prm, &X, y, 2, NULL, &m), -EINVAL);
    gnb_params_default(&prm);
    assert_int_equal(gnb_fit(&prm, &X, bad_y, 2, NULL, &m), -EINVAL);
    assert_int_equal(gnb_fit(&prm, &X, y, 1, NULL, &m), -EINVAL);
    x[1] = INFINITY;
    assert_int_equal(gnb_fit(&prm, &X, y, 2, NULL, &m), -EINVAL);
    x[1] = 1;
    volatile int cancel = 1;
    struct ml_control ctl = {.cancel = &cancel};
    assert_int_equal(gnb_fit(&prm, &X, y, 2, &ctl, &m), -ECANCELED);
    assert_null(m);
    assert_int_equal(gnb_fit(&prm, &X, y, 2, NULL, &m), 0);
    struct ml_matrix wrong = {.x = x, .n = 1, .p = 4};
    double out[4];
    assert_int_equal(gnb_predict(m, &wrong, out), -EINVAL);
    gnb_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy_like_sklearn),
        cmocka_unit_test(test_parameters_and_probabilities_like_sklearn),
        cmocka_unit_test(test_empty_class_and_constant_features),
        cmocka_unit_test(test_save_load_round_trip_and_tampering),
        cmocka_unit_test(test_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
