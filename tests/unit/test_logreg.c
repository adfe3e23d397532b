/* test_logreg: logistic regression against scikit-learn on iris, wine and breast cancer. */
#include <ibx/logreg.h>
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

/* Accuracy of scikit-learn 1.2.1 (Debian's /usr/bin/python3) on the th_mldata split (test
 * rows X[::4]) after StandardScaler fitted on the train rows:
 *   LogisticRegression(solver=s).fit(Xtr, ytr).score(Xte, yte), s in lbfgs, newton-cg. */
static const struct {
    const char *name;
    enum logreg_solver solver;
    double sklearn_accuracy;
} accuracy_cases[] = {
    {"iris", LOGREG_LBFGS, 0.9736842105263158},
    {"iris", LOGREG_NEWTON_CG, 0.9736842105263158},
    {"wine", LOGREG_LBFGS, 0.9777777777777777},
    {"wine", LOGREG_NEWTON_CG, 0.9777777777777777},
    {"breast_cancer", LOGREG_LBFGS, 0.9790209790209791},
    {"breast_cancer", LOGREG_NEWTON_CG, 0.9790209790209791},
};

/* The optimum, from the same script: LogisticRegression(tol=1e-10, max_iter=10000)
 * .fit(Xtr, ytr).coef_.ravel() and .intercept_ (multinomial for iris, binary for breast
 * cancer). */
static const double iris_coef[] = {-1.0165461456762097,  1.1067294247371924,  -1.7797595086768176,
                                   -1.686088567782242,   0.48363814510527064, -0.24750321173015488,
                                   -0.27681312400750824, -0.7297781127200729, 0.5329080005709391,
                                   -0.8592262130070355,  2.056572632684325,   2.415866680502314};
static const double iris_intercept[] = {-0.17470508074656582, 1.9360310530646478,
                                        -1.7613259723180794};
static const double cancer_coef[] = {
    -0.32093651027677406, -0.398984612860915,  -0.309067824618326,    -0.43228847642115636,
    -0.1348767499742616,  0.54159253296598,    -0.7412746502121036,   -0.8728436590057882,
    0.3047925305835298,   0.11985992389648917, -1.1907388131425665,   0.1301508989114677,
    -0.5058006506820317,  -0.9780278904999734, -0.018357908627711344, 0.8233223658577017,
    -0.2748571669528282,  -0.5709801223328673, 0.13968960484672507,   0.6937177575825858,
    -0.8921370668229286,  -1.0501383508152722, -0.7333799436333394,   -0.9325820164483566,
    -0.8507903451977411,  0.09156457810601466, -0.8164272085121026,   -0.72606265123094,
    -0.8639323871624082,  -0.5266516397917876};
static const double cancer_intercept[] = {0.294227927278313};

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

static struct logreg *fit(const struct th_mldata *d, const struct logreg_params *prm,
                          const struct ml_control *ctl)
{
    struct ml_matrix X = {.x = d->x, .n = d->n, .p = d->p};
    struct logreg *m = NULL;
    assert_int_equal(logreg_fit(prm, &X, d->y, d->nclasses, ctl, &m), 0);
    assert_non_null(m);
    return m;
}

static double test_accuracy(const struct logreg *m, const struct th_mldata *test)
{
    struct ml_matrix X = {.x = test->x, .n = test->n, .p = test->p};
    double *pred = malloc(test->n * sizeof *pred);
    assert_non_null(pred);
    assert_int_equal(logreg_predict(m, &X, pred), 0);
    double acc = th_accuracy(test->y, pred, test->n);
    free(pred);
    return acc;
}

static void test_accuracy_like_sklearn(void **state)
{
    for (size_t c = 0; c < sizeof accuracy_cases / sizeof accuracy_cases[0]; c++) {
        struct split s;
        load_split(accuracy_cases[c].name, &s);
        struct logreg_params prm;
        logreg_params_default(&prm);
        prm.solver = accuracy_cases[c].solver;
        struct logreg *m = fit(&s.train, &prm, NULL);
        double acc = test_accuracy(m, &s.test);
        assert_true(fabs(acc - accuracy_cases[c].sklearn_accuracy) <= 0.02);
        assert_true(logreg_converged(m));
        logreg_free(m);
        free_split(&s);
    }
}

static void check_optimum(const char *name, enum logreg_solver solver, const double *coef,
                          const double *intercept, size_t rows)
{
    struct split s;
    load_split(name, &s);
    struct logreg_params prm;
    logreg_params_default(&prm);
    prm.solver = solver;
    prm.tol = 1e-9;
    prm.max_iter = 10000;
    struct logreg *m = fit(&s.train, &prm, NULL);
    assert_int_equal(logreg_coef_rows(m), rows);
    for (size_t i = 0; i < rows * s.train.p; i++)
        assert_true(fabs(logreg_coef(m)[i] - coef[i]) < 1e-3);
    for (size_t k = 0; k < rows; k++)
        assert_true(fabs(logreg_intercept(m)[k] - intercept[k]) < 1e-3);
    double imp[32];
    logreg_importance(m, imp);
    for (size_t j = 0; j < s.train.p; j++) {
        double want = 0.0;
        for (size_t k = 0; k < rows; k++)
            want += fabs(coef[k * s.train.p + j]) / (double)rows;
        assert_true(fabs(imp[j] - want) < 1e-3);
    }
    logreg_free(m);
    free_split(&s);
}

static void test_converges_to_sklearn_optimum(void **state)
{
    check_optimum("iris", LOGREG_LBFGS, iris_coef, iris_intercept, 3);
    check_optimum("iris", LOGREG_NEWTON_CG, iris_coef, iris_intercept, 3);
    check_optimum("breast_cancer", LOGREG_LBFGS, cancer_coef, cancer_intercept, 1);
    check_optimum("breast_cancer", LOGREG_NEWTON_CG, cancer_coef, cancer_intercept, 1);
}

/* A generated 3-class set large enough for the fit to use several threads. */
static void make_blobs(struct th_mldata *d, size_t n, size_t p, uint64_t seed)
{
    struct mlrand r;
    mlrand_seed(&r, seed);
    d->n = n;
    d->p = p;
    d->nclasses = 3;
    d->x = malloc(n * p * sizeof *d->x);
    d->y = malloc(n * sizeof *d->y);
    assert_non_null(d->x);
    assert_non_null(d->y);
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)mlrand_below(&r, 3);
        d->y[i] = (double)k;
        for (size_t j = 0; j < p; j++)
            d->x[i * p + j] = mlrand_normal(&r) + (j % 3 == k ? 1.0 : 0.0);
    }
}

static void test_deterministic_across_threads(void **state)
{
    struct th_mldata d;
    make_blobs(&d, 20000, 12, 7);
    for (int solver = 0; solver < 2; solver++) {
        struct logreg_params prm;
        logreg_params_default(&prm);
        prm.solver = (enum logreg_solver)solver;
        struct ml_control one = {.threads = 1}, four = {.threads = 4};
        struct logreg *a = fit(&d, &prm, &one);
        struct logreg *b = fit(&d, &prm, &four);
        struct logreg *c = fit(&d, &prm, &four);
        size_t nc = logreg_coef_rows(a) * d.p;
        assert_memory_equal(logreg_coef(a), logreg_coef(b), nc * sizeof(double));
        assert_memory_equal(logreg_coef(b), logreg_coef(c), nc * sizeof(double));
        assert_memory_equal(logreg_intercept(a), logreg_intercept(b), 3 * sizeof(double));
        assert_int_equal(logreg_iterations(a), logreg_iterations(b));
        logreg_free(a);
        logreg_free(b);
        logreg_free(c);
    }
    th_mldata_free(&d);
}

static int try_load(const void *data, size_t len)
{
    struct logreg *m = NULL;
    int rc = logreg_load(data, len, NULL, &m);
    logreg_free(m);
    return rc;
}

static void check_same_predictions(const struct logreg *a, const struct logreg *b,
                                   const struct th_mldata *test)
{
    struct ml_matrix X = {.x = test->x, .n = test->n, .p = test->p};
    size_t k = logreg_nclasses(a);
    assert_int_equal(logreg_nclasses(b), k);
    double *pa = malloc(test->n * k * sizeof *pa), *pb = malloc(test->n * k * sizeof *pb);
    assert_non_null(pa);
    assert_non_null(pb);
    assert_int_equal(logreg_predict_proba(a, &X, pa), 0);
    assert_int_equal(logreg_predict_proba(b, &X, pb), 0);
    assert_memory_equal(pa, pb, test->n * k * sizeof *pa);
    free(pa);
    free(pb);
}

static void test_save_load_round_trip_and_tampering(void **state)
{
    const char *names[] = {"iris", "breast_cancer"};
    for (size_t t = 0; t < 2; t++) {
        struct split s;
        load_split(names[t], &s);
        struct logreg_params prm;
        logreg_params_default(&prm);
        struct logreg *m = fit(&s.train, &prm, NULL);
        struct buf b;
        buf_init(&b, 1 << 20);
        assert_int_equal(logreg_save(m, &b), 0);
        assert_int_equal(logreg_save(m, &b), 0); /* two encodings back to back */
        size_t one = b.len / 2, used = 0;
        struct logreg *back = NULL;
        assert_int_equal(logreg_load(b.data, b.len, NULL, &back), -EINVAL); /* trailing */
        assert_int_equal(logreg_load(b.data + one, one, &used, &back), 0);
        assert_int_equal(used, one);
        check_same_predictions(m, back, &s.test);
        assert_int_equal(logreg_iterations(back), logreg_iterations(m));
        assert_int_equal(th_ml_tamper_accepted(b.data, one, try_load), 0);
        logreg_free(back);
        logreg_free(m);
        buf_release(&b);
        free_split(&s);
    }
}

static void test_save_respects_buffer_limit(void **state)
{
    struct split s;
    load_split("iris", &s);
    struct logreg_params prm;
    logreg_params_default(&prm);
    struct logreg *m = fit(&s.train, &prm, NULL);
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(buf_append_str(&b, "keep"), 0);
    assert_int_equal(logreg_save(m, &b), -EMSGSIZE);
    assert_string_equal(buf_str(&b), "keep"); /* unchanged */
    buf_release(&b);
    logreg_free(m);
    free_split(&s);
}

static void test_rejects_bad_input(void **state)
{
    double x[] = {0, 1, 2, 3, 4, 5}, y[] = {0, 1, 1}, bad_y[] = {0, 1, 2};
    struct ml_matrix X = {.x = x, .n = 3, .p = 2};
    struct logreg *m = NULL;
    struct logreg_params prm;
    logreg_params_default(&prm);
    struct {
        double C, tol;
        int max_iter, solver;
    } bad[] = {{0, 1e-4, 100, 0}, {-1, 1e-4, 100, 0}, {NAN, 1e-4, 100, 0},
               {1, 0, 100, 0},    {1, 1e-4, 0, 0},    {1, 1e-4, 100, 7}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct logreg_params b = prm;
        b.C = bad[i].C;
        b.tol = bad[i].tol;
        b.max_iter = bad[i].max_iter;
        b.solver = (enum logreg_solver)bad[i].solver;
        assert_int_equal(logreg_fit(&b, &X, y, 2, NULL, &m), -EINVAL);
    }
    assert_int_equal(logreg_fit(&prm, &X, bad_y, 2, NULL, &m), -EINVAL); /* class 2 of 2 */
    assert_int_equal(logreg_fit(&prm, &X, y, 1, NULL, &m), -EINVAL);
    x[3] = NAN;
    assert_int_equal(logreg_fit(&prm, &X, y, 2, NULL, &m), -EINVAL);
    assert_null(m);
    x[3] = 3;
    assert_int_equal(logreg_fit(&prm, &X, y, 2, NULL, &m), 0);
    struct ml_matrix wrong = {.x = x, .n = 2, .p = 3};
    double out[6];
    assert_int_equal(logreg_predict(m, &wrong, out), -EINVAL);
    assert_int_equal(logreg_predict_proba(m, &wrong, out), -EINVAL);
    logreg_free(m);
}

struct progress_log {
    size_t calls, last_done, total;
    volatile int cancel;
};

static void on_progress(void *ctx, size_t done, size_t total)
{
    struct progress_log *pl = ctx;
    pl->calls++;
    pl->last_done = done;
    pl->total = total;
    if (done == 3)
        pl->cancel = 1;
}

static void test_progress_and_cancel(void **state)
{
    struct split s;
    load_split("breast_cancer", &s);
    struct logreg_params prm;
    logreg_params_default(&prm);
    struct progress_log pl = {0};
    struct ml_control ctl = {.progress = on_progress, .ctx = &pl, .cancel = &pl.cancel};
    struct ml_matrix X = {.x = s.train.x, .n = s.train.n, .p = s.train.p};
    struct logreg *m = NULL;
    assert_int_equal(logreg_fit(&prm, &X, s.train.y, 2, &ctl, &m), -ECANCELED);
    assert_null(m);
    assert_int_equal(pl.calls, 3);
    assert_int_equal(pl.total, 100);
    free_split(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy_like_sklearn),
        cmocka_unit_test(test_converges_to_sklearn_optimum),
        cmocka_unit_test(test_deterministic_across_threads),
        cmocka_unit_test(test_save_load_round_trip_and_tampering),
        cmocka_unit_test(test_save_respects_buffer_limit),
        cmocka_unit_test(test_rejects_bad_input),
        cmocka_unit_test(test_progress_and_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
