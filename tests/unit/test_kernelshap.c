/* test_kernelshap: Linear SHAP and KernelSHAP equal the interventional Shapley values over a
 * background computed by enumerating every coalition (exactly when KernelSHAP enumerates,
 * within a stated tolerance when it samples); additivity, seeds, threads, backgrounds. */
#include <ibx/learner.h>
#include <ibx/mlrand.h>
#include <ibx/shap.h>
#include <ibx/xai.h>

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

#define EXACT 1e-9
#define NFIT  300

/* Normal features; a nonlinear score; classes (0: the score itself). */
static void make_data(uint64_t seed, size_t n, size_t p, int classes, double *x, double *y)
{
    struct mlrand r;
    mlrand_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        double *row = x + i * p;
        for (size_t f = 0; f < p; f++)
            row[f] = f % 4 == 3 ? (double)mlrand_below(&r, 3) : mlrand_normal(&r);
        double s = row[0] * row[1 % p] + sin(2.0 * row[2 % p]) + 0.5 * row[3 % p] +
                   0.3 * mlrand_normal(&r);
        y[i] = classes == 0   ? s
               : classes == 2 ? (double)(s > 0.3)
                              : (s < -0.5  ? 0.0
                                 : s < 0.5 ? 1.0
                                           : 2.0);
    }
}

static double fact(size_t n)
{
    double f = 1.0;
    for (size_t i = 2; i <= n; i++)
        f *= (double)i;
    return f;
}

/* The interventional game of predictor f at x over bg, every coalition: v[s * k + j]. */
static double *game(const struct xai_predictor *f, const double *x, const struct xai_background *bg)
{
    size_t p = f->p, k = f->k, ns = (size_t)1 << p;
    double *v = calloc(ns * k, sizeof *v), *rows = malloc(bg->n * p * sizeof *rows);
    double *out = malloc(bg->n * k * sizeof *out);
    assert_true(v && rows && out);
    for (size_t s = 0; s < ns; s++) {
        for (size_t b = 0; b < bg->n; b++)
            for (size_t g = 0; g < p; g++)
                rows[b * p + g] = s >> g & 1u ? x[g] : bg->x[b * p + g];
        struct ml_matrix m = {rows, bg->n, p};
        assert_int_equal(f->fn(f->ctx, &m, out), 0);
        for (size_t b = 0; b < bg->n; b++)
            for (size_t j = 0; j < k; j++)
                v[s * k + j] += bg->w[b] * out[b * k + j];
    }
    free(rows);
    free(out);
    return v;
}

static void shapley(const double *v, size_t p, size_t k, double *phi)
{
    memset(phi, 0, k * p * sizeof *phi);
    for (size_t i = 0; i < p; i++)
        for (unsigned s = 0; s < 1u << p; s++) {
            if (s >> i & 1u)
                continue;
            size_t sz = (size_t)__builtin_popcount(s);
            double w = fact(sz) * fact(p - sz - 1) / fact(p);
            for (size_t j = 0; j < k; j++)
                phi[j * p + i] += w * (v[(s | 1u << i) * k + j] - v[s * k + j]);
        }
}

static double max_diff(const double *a, const double *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(a[i] - b[i]));
    return worst;
}

/* A weighted background of 5 rows of x (unequal weights). */
static void make_background(const double *x, size_t n, size_t p, struct xai_background *bg)
{
    struct ml_matrix m = {x, n, p};
    assert_int_equal(xai_background_sample(&m, 5, 3, bg), 0);
    for (size_t b = 0; b < bg->n; b++)
        bg->w[b] = (double)(b + 1) / 15.0;
}

static struct learner_model *fit(const char *algo, const char *hp, enum ml_task task,
                                 size_t nclasses, const double *x, const double *y, size_t p)
{
    json_error_t jerr;
    json_t *h = hp ? json_loads(hp, 0, &jerr) : NULL;
    struct ml_matrix m = {x, NFIT, p};
    struct learner_model *lm = NULL;
    char err[256];
    int rc = learner_fit(algo, h, task, nclasses, 1, &m, y, NULL, &lm, err, sizeof err);
    if (rc)
        print_error("%s: %s\n", algo, err);
    assert_int_equal(rc, 0);
    json_decref(h);
    return lm;
}

/* ---- a nonlinear function with interactions as a predictor (two outputs) ---- */

static int toy_predict(void *ctx, const struct ml_matrix *x, double *out)
{
    (void)ctx;
    for (size_t i = 0; i < x->n; i++) {
        const double *r = x->x + i * x->p;
        double s = r[0] * r[1] + sin(r[2]) * r[3] + r[4] * r[4] + 0.3 * r[5] * r[0] * r[6];
        for (size_t f = 7; f < x->p; f++)
            s += 0.1 * (double)f * r[f] * r[f - 1];
        out[i * 2] = s;
        out[i * 2 + 1] = exp(-fabs(s)) + r[1];
    }
    return 0;
}

/* ---- Linear SHAP ---- */

/* The linear score of a linear or logistic model from its coefficients (k outputs). */
struct linear_ctx {
    const double *coef, *icpt;
    size_t k, p;
};

static int linear_predict(void *ctx, const struct ml_matrix *x, double *out)
{
    const struct linear_ctx *c = ctx;
    for (size_t i = 0; i < x->n; i++)
        for (size_t j = 0; j < c->k; j++) {
            double s = c->icpt[j];
            for (size_t f = 0; f < c->p; f++)
                s += c->coef[j * c->p + f] * x->x[i * x->p + f];
            out[i * c->k + j] = s;
        }
    return 0;
}

static void test_linear_shap_matches_brute_force(void **state)
{
    (void)state;
    const struct {
        const char *algo, *hp;
        int classes;
        size_t p;
    } cases[] = {
        {"linear_regression", NULL, 0, 8},
        {"ridge_regression", "{\"alpha\": 3}", 0, 6},
        {"logistic_regression", NULL, 2, 7},
        {"logistic_regression", "{\"C\": 0.5}", 3, 9},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t p = cases[c].p;
        double *x = malloc(NFIT * p * sizeof *x), *y = malloc(NFIT * sizeof *y);
        assert_true(x && y);
        make_data(40 + c, NFIT, p, cases[c].classes, x, y);
        enum ml_task task = cases[c].classes ? ML_CLASSIFICATION : ML_REGRESSION;
        struct learner_model *lm =
            fit(cases[c].algo, cases[c].hp, task, (size_t)cases[c].classes, x, y, p);
        struct linear_ctx lc = {.p = p};
        double icpt;
        if (learner_model_logreg(lm)) {
            lc.coef = logreg_coef(learner_model_logreg(lm));
            lc.icpt = logreg_intercept(learner_model_logreg(lm));
            lc.k = logreg_coef_rows(learner_model_logreg(lm));
        } else {
            lc.coef = linreg_coef(learner_model_linreg(lm));
            icpt = linreg_intercept(learner_model_linreg(lm));
            lc.icpt = &icpt;
            lc.k = 1;
        }
        struct xai_predictor f = {linear_predict, &lc, p, lc.k, XAI_SPACE_VALUE};
        struct xai_background bg = {0};
        make_background(x, NFIT, p, &bg);
        struct ml_matrix xm = {x + 100 * p, 6, p};
        struct xai_attrib a = {0};
        assert_int_equal(shap_linear(lm, &bg, &xm, &a), 0);
        assert_int_equal(a.k, lc.k);
        assert_int_equal(a.space, cases[c].classes == 0   ? XAI_SPACE_VALUE
                                  : cases[c].classes == 2 ? XAI_SPACE_LOG_ODDS
                                                          : XAI_SPACE_MARGIN);
        double *phi = malloc(lc.k * p * sizeof *phi);
        assert_non_null(phi);
        for (size_t i = 0; i < xm.n; i++) {
            double *v = game(&f, xm.x + i * p, &bg);
            shapley(v, p, lc.k, phi);
            assert_true(max_diff(phi, a.values + i * lc.k * p, lc.k * p) < EXACT);
            assert_true(max_diff(v, a.base + i * lc.k, lc.k) < EXACT);
            free(v);
        }
        if (cases[c].classes == 2) { /* the log-odds the model's probabilities imply */
            double proba[2];
            struct ml_matrix one = {xm.x, 1, p};
            assert_int_equal(learner_predict_proba(lm, &one, proba), 0);
            assert_true(fabs(log(proba[1] / proba[0]) - a.pred[0]) < 1e-8);
        }
        assert_true(a.max_abs_residual < EXACT);
        xai_attrib_release(&a);
        assert_int_equal(shap_linear(lm, NULL, &xm, &a), -EINVAL);
        free(phi);
        xai_background_release(&bg);
        learner_free(lm);
        free(x);
        free(y);
    }
}

/* ---- KernelSHAP ---- */

static void check_kernel(const struct xai_predictor *f, const double *x, size_t n,
                         const struct xai_background *bg, size_t nsamples, double tol,
                         double *worst_out)
{
    struct ml_matrix xm = {x, n, f->p};
    struct shap_kernel_opts o = {.nsamples = nsamples, .seed = 9};
    struct xai_attrib a = {0};
    struct ml_control ctl = {.threads = 2};
    assert_int_equal(shap_kernel(f, bg, &xm, &o, &ctl, &a), 0);
    assert_int_equal(a.method, XAI_KERNEL_SHAP);
    double *phi = malloc(f->k * f->p * sizeof *phi), worst = 0.0;
    assert_non_null(phi);
    for (size_t i = 0; i < n; i++) {
        double *v = game(f, x + i * f->p, bg);
        shapley(v, f->p, f->k, phi);
        worst = fmax(worst, max_diff(phi, a.values + i * f->k * f->p, f->k * f->p));
        assert_true(max_diff(v, a.base + i * f->k, f->k) < EXACT);
        assert_true(max_diff(v + (((size_t)1 << f->p) - 1) * f->k, a.pred + i * f->k, f->k) <
                    EXACT);
        free(v);
    }
    assert_true(worst < tol);
    assert_true(a.max_abs_residual < EXACT); /* the constraint holds whatever the samples */
    if (worst_out)
        *worst_out = worst;
    free(phi);
    xai_attrib_release(&a);
}

static void test_kernel_exact_enumeration(void **state)
{
    (void)state;
    size_t p = 9;
    double *x = malloc(NFIT * p * sizeof *x), *y = malloc(NFIT * sizeof *y);
    assert_true(x && y);
    make_data(50, NFIT, p, 3, x, y);
    struct xai_background bg = {0};
    make_background(x, NFIT, p, &bg);
    /* the toy function (2 outputs), and learners without TreeSHAP or Linear SHAP */
    struct xai_predictor toy = {toy_predict, NULL, p, 2, XAI_SPACE_VALUE};
    check_kernel(&toy, x + 50 * p, 5, &bg, 0, EXACT, NULL); /* 2^9 - 2 <= 2 * 9 + 2048 */
    const char *algos[] = {"knn", "gaussian_nb", "random_forest"};
    for (size_t a = 0; a < 3; a++) {
        struct learner_model *lm = fit(algos[a], NULL, ML_CLASSIFICATION, 3, x, y, p);
        struct xai_predictor f;
        assert_int_equal(xai_predictor_learner(lm, &f), 0);
        assert_int_equal(f.k, 3);
        check_kernel(&f, x + 60 * p, 3, &bg, 0, EXACT, NULL);
        learner_free(lm);
    }
    xai_background_release(&bg);
    free(x);
    free(y);
}

static void test_kernel_sampled_within_tolerance(void **state)
{
    (void)state;
    size_t p = 12; /* 4094 coalitions; the default budget is 2 * 12 + 2048 = 2072 */
    double *x = malloc(NFIT * p * sizeof *x), *y = malloc(NFIT * sizeof *y);
    assert_true(x && y);
    make_data(60, NFIT, p, 0, x, y);
    struct xai_background bg = {0};
    make_background(x, NFIT, p, &bg);
    struct xai_predictor toy = {toy_predict, NULL, p, 2, XAI_SPACE_VALUE};
    double worst = 0.0;
    /* sizes 1..4 and 8..11 are enumerated (1586 coalitions), 5..7 sampled. Stated
     * tolerance: 0.06 absolute where the largest value is about 0.6 (measured 0.03; the
     * error falls with nsamples: about 0.08 at 300, 0.035 at 1000, 0.009 at 4000) */
    check_kernel(&toy, x + 70 * p, 4, &bg, 0, 0.06, &worst);
    print_message("KernelSHAP, 12 features, default nsamples: max error %.3g\n", worst);
    check_kernel(&toy, x + 70 * p, 4, &bg, 4094, EXACT, NULL); /* everything enumerated */
    xai_background_release(&bg);
    free(x);
    free(y);
}

static void test_kernel_seeds_threads_and_dummies(void **state)
{
    (void)state;
    size_t p = 14, n = 6;
    double *x = malloc(NFIT * p * sizeof *x), *y = malloc(NFIT * sizeof *y);
    assert_true(x && y);
    make_data(70, NFIT, p, 0, x, y);
    struct xai_background bg = {0};
    make_background(x, NFIT, p, &bg);
    for (size_t b = 0; b < bg.n; b++) /* feature 5 equal to the explained rows': a dummy */
        bg.x[b * p + 5] = 0.25;
    for (size_t i = 0; i < n; i++)
        x[i * p + 5] = 0.25;
    struct xai_predictor toy = {toy_predict, NULL, p, 2, XAI_SPACE_VALUE};
    struct ml_matrix xm = {x, n, p};
    struct xai_attrib a[4] = {{0}};
    uint64_t seeds[4] = {1, 1, 1, 2};
    int threads[4] = {1, 3, 1, 1};
    for (int i = 0; i < 4; i++) {
        struct shap_kernel_opts o = {.nsamples = 300, .seed = seeds[i]};
        struct ml_control ctl = {.threads = threads[i]};
        assert_int_equal(shap_kernel(&toy, &bg, &xm, &o, &ctl, &a[i]), 0);
    }
    size_t cells = n * 2 * p;
    assert_memory_equal(a[0].values, a[1].values, cells * sizeof(double));
    assert_memory_equal(a[0].values, a[2].values, cells * sizeof(double));
    assert_true(max_diff(a[0].values, a[3].values, cells) > 1e-6); /* another seed, another draw */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < 2; j++)
            assert_true(a[0].values[(i * 2 + j) * p + 5] == 0.0);
    for (int i = 0; i < 4; i++) {
        assert_true(a[i].max_abs_residual < EXACT);
        xai_attrib_release(&a[i]);
    }
    xai_background_release(&bg);
    free(x);
    free(y);
}

static void test_backgrounds(void **state)
{
    (void)state;
    size_t p = 3, n = 200;
    double *x = malloc(n * p * sizeof *x), *y = malloc(n * sizeof *y);
    assert_true(x && y);
    make_data(80, n, p, 0, x, y);
    struct ml_matrix m = {x, n, p};
    struct xai_background k1 = {0}, k2 = {0}, s = {0}, all = {0};
    assert_int_equal(xai_background_kmeans(&m, 10, 5, &k1), 0);
    assert_int_equal(xai_background_kmeans(&m, 10, 5, &k2), 0);
    assert_int_equal(k1.n, 10);
    assert_memory_equal(k1.x, k2.x, 10 * p * sizeof(double));
    double wsum = 0.0;
    for (size_t c = 0; c < k1.n; c++) {
        wsum += k1.w[c];
        for (size_t f = 0; f < p; f++) { /* every coordinate is a value the column takes */
            int found = 0;
            for (size_t i = 0; i < n && !found; i++)
                found = x[i * p + f] == k1.x[c * p + f];
            assert_true(found);
        }
    }
    assert_true(fabs(wsum - 1.0) < 1e-12);
    assert_int_equal(xai_background_sample(&m, 20, 1, &s), 0);
    assert_int_equal(s.n, 20);
    assert_int_equal(xai_background_all(&m, &all), 0);
    assert_int_equal(all.n, n);
    struct xai_background small = {0};
    assert_int_equal(xai_background_kmeans(&m, 500, 1, &small), 0); /* fewer rows: all */
    assert_int_equal(small.n, n);
    x[4] = NAN;
    assert_int_equal(xai_background_kmeans(&m, 10, 5, &k2), -EINVAL);
    struct ml_matrix none = {x, 0, p};
    assert_int_equal(xai_background_sample(&none, 5, 1, &s), -EINVAL);
    xai_background_release(&k1);
    xai_background_release(&k2);
    xai_background_release(&s);
    xai_background_release(&all);
    xai_background_release(&small);
    free(x);
    free(y);
}

static void test_kernel_rejects_bad_input(void **state)
{
    (void)state;
    double x[4 * 3] = {0};
    struct ml_matrix xm = {x, 4, 3};
    struct xai_background bg = {0};
    assert_int_equal(xai_background_all(&xm, &bg), 0);
    struct xai_predictor toy = {toy_predict, NULL, 7, 2, XAI_SPACE_VALUE};
    struct xai_attrib a = {0};
    assert_int_equal(shap_kernel(&toy, &bg, &xm, NULL, NULL, &a), -EINVAL); /* p 7 vs 3 */
    struct shap_kernel_opts o = {.nsamples = 1};
    toy.p = 3;
    assert_int_equal(shap_kernel(&toy, &bg, &xm, &o, NULL, &a), -EINVAL);
    assert_null(a.values);
    xai_background_release(&bg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_shap_matches_brute_force),
        cmocka_unit_test(test_kernel_exact_enumeration),
        cmocka_unit_test(test_kernel_sampled_within_tolerance),
        cmocka_unit_test(test_kernel_seeds_threads_and_dummies),
        cmocka_unit_test(test_backgrounds),
        cmocka_unit_test(test_kernel_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
