/* test_lime: LIME tabular: quartile bins as numpy, a surrogate that recovers a model
 * linear in the bin indicators, seeds, threads, stability, iris. */
#include <ibx/learner.h>
#include <ibx/lime.h>
#include <ibx/mlrand.h>
#include <ibx/xai.h>

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

#define N 400
#define P 5

static void make_train(double *x)
{
    struct mlrand r;
    mlrand_seed(&r, 17);
    for (size_t i = 0; i < N; i++)
        for (size_t f = 0; f < P; f++)
            x[i * P + f] = f == 4 ? (double)(mlrand_uniform(&r) < 0.3) : mlrand_normal(&r);
}

/* Cuts of the training data, shared by the model below. */
static const struct lime_explainer *g_e;

/* f = 3 [x0 in its top quartile] - 2 [x1 in its bottom quartile] + 0.5: linear in the
 * indicators of a row whose x0 is in bin 3 and x1 in bin 0. */
static int bins_model(void *ctx, const struct ml_matrix *x, double *out)
{
    (void)ctx;
    for (size_t i = 0; i < x->n; i++) {
        const double *r = x->x + i * x->p;
        out[i] = 0.5 + 3.0 * (lime_bin(g_e, 0, r[0]) == 3) - 2.0 * (lime_bin(g_e, 1, r[1]) == 0);
    }
    return 0;
}

static void test_quartile_cuts_as_numpy(void **state)
{
    (void)state;
    double x[8 * 2];
    for (size_t i = 0; i < 8; i++) {
        x[i * 2] = (double)(i + 1);       /* 1..8: numpy.percentile 2.75, 4.5, 6.25 */
        x[i * 2 + 1] = i < 6 ? 0.0 : 1.0; /* 0/1: 0, 0, 0.25 -> cuts 0, 0.25 */
    }
    struct ml_matrix m = {x, 8, 2};
    struct lime_explainer *e = NULL;
    assert_int_equal(lime_explainer_new(&m, &e), 0);
    size_t nc = 0;
    const double *c = lime_cuts(e, 0, &nc);
    assert_int_equal(nc, 3);
    assert_true(c[0] == 2.75 && c[1] == 4.5 && c[2] == 6.25);
    c = lime_cuts(e, 1, &nc);
    assert_int_equal(nc, 2);
    assert_true(c[0] == 0.0 && c[1] == 0.25);
    assert_int_equal(lime_bin(e, 0, 2.75), 0); /* searchsorted, side left */
    assert_int_equal(lime_bin(e, 0, 2.76), 1);
    assert_int_equal(lime_bin(e, 0, 100.0), 3);
    char buf[64];
    lime_bin_label(e, 0, 0, "size", buf, sizeof buf);
    assert_string_equal(buf, "size <= 2.75");
    lime_bin_label(e, 0, 2, "size", buf, sizeof buf);
    assert_string_equal(buf, "4.50 < size <= 6.25");
    lime_bin_label(e, 0, 3, "size", buf, sizeof buf);
    assert_string_equal(buf, "size > 6.25");
    lime_explainer_free(e);
}

static void test_recovers_indicator_model(void **state)
{
    (void)state;
    double *x = malloc(N * P * sizeof *x);
    assert_non_null(x);
    make_train(x);
    struct ml_matrix train = {x, N, P};
    struct lime_explainer *e = NULL;
    assert_int_equal(lime_explainer_new(&train, &e), 0);
    g_e = e;
    size_t nc;
    const double *c0 = lime_cuts(e, 0, &nc), *c1 = lime_cuts(e, 1, &nc);
    double row[P] = {c0[2] + 0.5, c1[0] - 0.5, 0.1, 0.2, 1.0};
    struct ml_matrix xm = {row, 1, P};
    struct xai_predictor f = {bins_model, NULL, P, 1, XAI_SPACE_VALUE};
    struct lime_opts o;
    lime_opts_default(&o);
    o.seed = 3;
    o.stability_repeats = 4;
    struct lime_result r = {0};
    assert_int_equal(lime_explain(e, &f, &xm, &o, NULL, &r), 0);
    const double *w = r.attrib.values;
    print_message("weights %.4f %.4f %.4f %.4f %.4f, base %.4f, score %.4f, residual %.3g\n", w[0],
                  w[1], w[2], w[3], w[4], r.attrib.base[0], r.score[0], r.attrib.residual[0]);
    assert_true(fabs(w[0] - 3.0) < 0.05 && fabs(w[1] + 2.0) < 0.05);
    for (size_t g = 2; g < P; g++)
        assert_true(fabs(w[g]) < 0.05);
    assert_true(r.score[0] > 0.99);
    assert_true(r.attrib.pred[0] == 1.5); /* 0.5 + 3 - 2 + 0 */
    assert_true(fabs(r.attrib.residual[0]) < 0.05);
    assert_int_equal(r.bins[0], 3);
    assert_int_equal(r.bins[1], 0);
    assert_non_null(r.stability_sd);
    for (size_t g = 0; g < P; g++)
        assert_true(r.stability_sd[g] < 0.05);
    struct lime_result one = {0}; /* the first of the repeats is the plain explanation */
    o.stability_repeats = 0;
    assert_int_equal(lime_explain(e, &f, &xm, &o, NULL, &one), 0);
    assert_memory_equal(one.attrib.values, r.attrib.values, P * sizeof(double));
    assert_null(one.stability_sd);
    lime_result_release(&r);
    lime_result_release(&one);
    lime_explainer_free(e);
    free(x);
}

static void test_seeds_and_threads(void **state)
{
    (void)state;
    struct th_mldata d;
    assert_int_equal(th_mldata_load("iris", &d), 0);
    struct ml_matrix xm = {d.x, d.n, d.p};
    struct learner_model *lm = NULL;
    char err[256];
    assert_int_equal(learner_fit("random_forest", NULL, ML_CLASSIFICATION, d.nclasses, 1, &xm, d.y,
                                 NULL, &lm, err, sizeof err),
                     0);
    struct xai_predictor f;
    assert_int_equal(xai_predictor_learner(lm, &f), 0);
    struct lime_explainer *e = NULL;
    assert_int_equal(lime_explainer_new(&xm, &e), 0);
    struct ml_matrix rows = {d.x + 45 * d.p, 10, d.p};
    struct lime_opts o;
    lime_opts_default(&o);
    o.nsamples = 1000;
    struct lime_result r[4];
    memset(r, 0, sizeof r);
    uint64_t seeds[4] = {5, 5, 5, 6};
    int threads[4] = {1, 2, 1, 1};
    for (int i = 0; i < 4; i++) {
        o.seed = seeds[i];
        struct ml_control ctl = {.threads = threads[i]};
        assert_int_equal(lime_explain(e, &f, &rows, &o, &ctl, &r[i]), 0);
    }
    size_t cells = 10 * 3 * d.p;
    assert_memory_equal(r[0].attrib.values, r[1].attrib.values, cells * sizeof(double));
    assert_memory_equal(r[0].attrib.values, r[2].attrib.values, cells * sizeof(double));
    assert_memory_equal(r[0].score, r[1].score, 30 * sizeof(double));
    int differs = 0;
    for (size_t c = 0; c < cells; c++)
        differs |= r[0].attrib.values[c] != r[3].attrib.values[c];
    assert_true(differs);
    /* setosa rows (45..49): for class 0, the petal features weigh most */
    for (size_t i = 0; i < 5; i++) {
        const double *w = r[0].attrib.values + (i * 3 + 0) * d.p;
        double petal = fmin(fabs(w[2]), fabs(w[3])), sepal = fmax(fabs(w[0]), fabs(w[1]));
        assert_true(petal > sepal);
    }
    for (int i = 0; i < 4; i++)
        lime_result_release(&r[i]);
    lime_explainer_free(e);
    learner_free(lm);
    th_mldata_free(&d);
}

static void test_rejects_bad_input(void **state)
{
    (void)state;
    double x[N * P];
    make_train(x);
    struct ml_matrix train = {x, N, P};
    struct lime_explainer *e = NULL;
    assert_int_equal(lime_explainer_new(&train, &e), 0);
    g_e = e;
    struct xai_predictor f = {bins_model, NULL, P, 1, XAI_SPACE_VALUE};
    struct lime_result r = {0};
    struct lime_opts o;
    lime_opts_default(&o);
    o.nsamples = 1;
    struct ml_matrix one = {x, 1, P};
    assert_int_equal(lime_explain(e, &f, &one, &o, NULL, &r), -EINVAL);
    struct ml_matrix wrong = {x, 1, P - 1};
    assert_int_equal(lime_explain(e, &f, &wrong, NULL, NULL, &r), -EINVAL);
    double nan_row[P] = {NAN, 0, 0, 0, 0};
    struct ml_matrix bad = {nan_row, 1, P};
    assert_int_equal(lime_explain(e, &f, &bad, NULL, NULL, &r), -EINVAL);
    assert_null(r.attrib.values);
    x[3] = NAN;
    struct lime_explainer *e2 = NULL;
    assert_int_equal(lime_explainer_new(&train, &e2), -EINVAL);
    lime_explainer_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quartile_cuts_as_numpy),
        cmocka_unit_test(test_recovers_indicator_model),
        cmocka_unit_test(test_seeds_and_threads),
        cmocka_unit_test(test_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
