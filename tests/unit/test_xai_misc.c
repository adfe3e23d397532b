/* test_xai_misc: permutation importance, partial dependence and ICE, one-hot groups, and the
 * one-call explain of a model file (method choice, additivity, groups, V2 response). */
#include <ibx/explain.h>
#include <ibx/frame.h>
#include <ibx/learner.h>
#include <ibx/mlrand.h>
#include <ibx/model.h>
#include <ibx/pdp.h>
#include <ibx/permimp.h>
#include <ibx/prep.h>
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

/* f = 2 x0 + x1^2 (features 2.. unused). */
static int toy(void *ctx, const struct ml_matrix *x, double *out)
{
    (void)ctx;
    for (size_t i = 0; i < x->n; i++)
        out[i] = 2.0 * x->x[i * x->p] + x->x[i * x->p + 1] * x->x[i * x->p + 1];
    return 0;
}

static void test_permutation_importance(void **state)
{
    (void)state;
    struct th_mldata d = {.n = 200, .p = 4};
    d.x = malloc(d.n * d.p * sizeof *d.x);
    double *y = malloc(d.n * sizeof *y);
    assert_true(d.x && y);
    struct mlrand rng;
    mlrand_seed(&rng, 8);
    for (size_t i = 0; i < d.n * d.p; i++)
        d.x[i] = mlrand_normal(&rng);
    struct ml_matrix xm = {d.x, d.n, d.p};
    struct xai_predictor f = {toy, NULL, d.p, 1, XAI_SPACE_VALUE};
    assert_int_equal(f.fn(NULL, &xm, y), 0); /* targets the toy fits exactly: R^2 1 */
    struct permimp_result r[3];
    memset(r, 0, sizeof r);
    int threads[3] = {1, 2, 1};
    for (int i = 0; i < 3; i++) {
        struct permimp_opts o = {.repeats = 4, .seed = i < 2 ? 3 : 4};
        struct ml_control ctl = {.threads = threads[i]};
        assert_int_equal(permimp_compute(&f, &xm, y, &o, &ctl, &r[i]), 0);
    }
    assert_int_equal(r[0].score, PERMIMP_R2);
    assert_true(r[0].baseline == 1.0);
    assert_true(r[0].mean[0] > 0.1 && r[0].mean[1] > 0.01);
    for (size_t g = 2; g < d.p; g++) /* unused features: nothing changes */
        assert_true(r[0].mean[g] == 0.0 && r[0].sd[g] == 0.0);
    assert_memory_equal(r[0].repeats_values, r[1].repeats_values, d.p * 4 * sizeof(double));
    assert_true(r[0].repeats_values[0] != r[2].repeats_values[0]);
    for (int i = 0; i < 3; i++)
        permimp_result_release(&r[i]);
    struct permimp_opts bad = {.repeats = 2, .score = PERMIMP_ACCURACY};
    assert_int_equal(permimp_compute(&f, &xm, y, &bad, NULL, &r[0]), -EINVAL);
    free(y);
    free(d.x);
}

static void test_permutation_importance_iris(void **state)
{
    (void)state;
    struct th_mldata d;
    assert_int_equal(th_mldata_load("iris", &d), 0);
    struct ml_matrix xm = {d.x, d.n, d.p};
    struct learner_model *lm = NULL;
    char err[256];
    assert_int_equal(learner_fit("gaussian_nb", NULL, ML_CLASSIFICATION, d.nclasses, 1, &xm, d.y,
                                 NULL, &lm, err, sizeof err),
                     0);
    struct xai_predictor f;
    assert_int_equal(xai_predictor_learner(lm, &f), 0);
    enum permimp_score scores[2] = {PERMIMP_AUTO, PERMIMP_NEG_LOG_LOSS};
    for (int s = 0; s < 2; s++) {
        struct permimp_opts o = {.repeats = 5, .seed = 1, .score = scores[s]};
        struct permimp_result r = {0};
        assert_int_equal(permimp_compute(&f, &xm, d.y, &o, NULL, &r), 0);
        print_message("iris %s: baseline %.3f, importance %.3f %.3f %.3f %.3f\n",
                      permimp_score_name(r.score), r.baseline, r.mean[0], r.mean[1], r.mean[2],
                      r.mean[3]);
        assert_true(fmin(r.mean[2], r.mean[3]) > fmax(r.mean[0], r.mean[1]));
        permimp_result_release(&r);
    }
    learner_free(lm);
    th_mldata_free(&d);
}

static void test_partial_dependence_and_ice(void **state)
{
    (void)state;
    size_t n = 60, p = 3;
    double *x = malloc(n * p * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) {
        x[i * p] = (double)i / 7.0;
        x[i * p + 1] = (double)(i % 5); /* five distinct values */
        x[i * p + 2] = 1.0;
    }
    struct ml_matrix xm = {x, n, p};
    struct xai_predictor f = {toy, NULL, p, 1, XAI_SPACE_VALUE};
    struct pdp_opts o;
    pdp_opts_default(&o);
    o.ice_rows = 10;
    struct pdp_result r = {0}, r2 = {0};
    assert_int_equal(pdp_compute(&f, &xm, 0, &o, NULL, &r), 0);
    assert_int_equal(r.n_grid, 20);
    double mean_sq = 0.0;
    for (size_t i = 0; i < n; i++)
        mean_sq += x[i * p + 1] * x[i * p + 1] / (double)n;
    assert_true(fabs(r.grid[0] - 0.05 * 59.0 / 7.0) < 1e-12); /* the 5th percentile */
    for (size_t g = 0; g < r.n_grid; g++) {
        assert_true(fabs(r.average[g] - (2.0 * r.grid[g] + mean_sq)) < 1e-12);
        for (size_t c = 0; c < r.n_ice; c++) {
            double x1 = x[r.ice_rows[c] * p + 1];
            assert_true(fabs(r.ice[c * r.n_grid + g] - (2.0 * r.grid[g] + x1 * x1)) < 1e-12);
        }
    }
    assert_int_equal(r.n_ice, 10);
    for (size_t c = 1; c < r.n_ice; c++)
        assert_true(r.ice_rows[c - 1] < r.ice_rows[c]);
    struct ml_control ctl = {.threads = 3};
    assert_int_equal(pdp_compute(&f, &xm, 1, &o, &ctl, &r2), 0); /* few values: the values */
    assert_int_equal(r2.n_grid, 5);
    for (size_t g = 0; g < 5; g++)
        assert_true(r2.grid[g] == (double)g);
    pdp_result_release(&r);
    pdp_result_release(&r2);
    assert_int_equal(pdp_compute(&f, &xm, 3, &o, NULL, &r), -EINVAL);
    free(x);
}

/* ---- model files ---- */

/* Iris as a frame with a categorical column "band" (low/high/missing) to one-hot. */
static struct frame *iris_frame(struct th_mldata *d)
{
    assert_int_equal(th_mldata_load("iris", d), 0);
    struct frame *f = NULL;
    assert_int_equal(frame_new(d->n, &f), 0);
    double *col = malloc(d->n * sizeof *col);
    const char **band = malloc(d->n * sizeof *band);
    assert_true(col && band);
    static const char *const names[] = {"sepal_length", "sepal_width", "petal_length",
                                        "petal_width"};
    for (size_t j = 0; j < d->p; j++) {
        for (size_t i = 0; i < d->n; i++)
            col[i] = d->x[i * d->p + j];
        assert_int_equal(frame_add_numeric(f, names[j], NULL, col), 0);
    }
    for (size_t i = 0; i < d->n; i++)
        band[i] = i % 5 == 0 ? NULL : i % 3 == 0 ? "high" : i % 3 == 1 ? "low" : "mid";
    assert_int_equal(frame_add_strings(f, "band", "categorical", band), 0);
    assert_int_equal(frame_add_numeric(f, "species", "numerical_integer", d->y), 0);
    free(col);
    free(band);
    return f;
}

static struct model *build(const char *algo, const char *hp, const struct frame *f,
                           struct prep_output *all)
{
    struct prep_config cfg;
    prep_config_default(&cfg);
    struct prep *prep = NULL;
    char err[256];
    assert_int_equal(
        prep_fit(f, "species", ML_CLASSIFICATION, NULL, 0, &cfg, &prep, err, sizeof err), 0);
    assert_int_equal(prep_transform(prep, f, NULL, 0, all, err, sizeof err), 0);
    size_t nc = 0;
    prep_classes(prep, &nc);
    json_t *h = json_loads(hp, 0, NULL);
    struct ml_matrix X = {all->x, all->n, all->p};
    struct learner_model *lm = NULL;
    assert_int_equal(
        learner_fit(algo, h, ML_CLASSIFICATION, nc, 9, &X, all->y, NULL, &lm, err, sizeof err), 0);
    json_decref(h);
    struct model *m = NULL;
    assert_int_equal(model_new(prep, lm, NULL, &m), 0);
    return m;
}

static void test_groups_sum_one_hot_columns(void **state)
{
    (void)state;
    struct th_mldata d;
    struct frame *f = iris_frame(&d);
    struct prep_output all = {0};
    struct model *m = build("decision_tree", "{\"max_depth\": 4}", f, &all);
    struct xai_groups g = {0};
    assert_int_equal(xai_groups_from_prep(model_prep(m), &g), 0);
    assert_int_equal(g.n, 5);
    assert_int_equal(g.p, 7); /* 4 numbers and band=high, band=low, band=mid */
    assert_string_equal(g.names[4], "band");
    for (size_t i = 4; i < 7; i++)
        assert_int_equal(g.group[i], 4);
    struct xai_attrib a = {0}, agg = {0};
    assert_int_equal(xai_attrib_alloc(&a, 2, 1, 7), 0);
    for (size_t c = 0; c < 14; c++)
        a.values[c] = (double)c;
    a.pred[0] = 21.0;
    a.pred[1] = 70.0;
    xai_attrib_finish(&a);
    assert_int_equal(xai_attrib_aggregate(&a, &g, &agg), 0);
    assert_int_equal(agg.p, 5);
    assert_true(agg.values[4] == 4.0 + 5.0 + 6.0 && agg.values[9] == 11.0 + 12.0 + 13.0);
    assert_true(agg.max_abs_residual == 0.0);
    xai_attrib_release(&a);
    xai_attrib_release(&agg);
    xai_groups_release(&g);
    model_free(m);
    prep_output_release(&all);
    frame_free(f);
    th_mldata_free(&d);
}

static void test_explain_every_learner(void **state)
{
    (void)state;
    static const struct {
        const char *algo, *hp;
        enum xai_method method;
        enum xai_space space;
        size_t k;
    } cases[] = {
        {"decision_tree", "{\"max_depth\": 4}", XAI_TREE_SHAP, XAI_SPACE_PROBABILITY, 3},
        {"random_forest", "{\"n_estimators\": 10}", XAI_TREE_SHAP, XAI_SPACE_PROBABILITY, 3},
        {"gradient_boosting", "{\"max_iter\": 10}", XAI_TREE_SHAP, XAI_SPACE_MARGIN, 3},
        {"logistic_regression", "{}", XAI_LINEAR_SHAP, XAI_SPACE_MARGIN, 3},
        {"knn", "{}", XAI_KERNEL_SHAP, XAI_SPACE_PROBABILITY, 3},
        {"gaussian_nb", "{}", XAI_KERNEL_SHAP, XAI_SPACE_PROBABILITY, 3},
    };
    struct th_mldata d;
    struct frame *f = iris_frame(&d);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct prep_output all = {0};
        struct model *m = build(cases[c].algo, cases[c].hp, f, &all);
        struct ml_matrix rows = {all.x + 40 * all.p, 20, all.p}, bgm = {all.x, all.n, all.p};
        char err[256];
        for (int with_bg = 0; with_bg < 2; with_bg++) {
            struct explain_opts o;
            explain_opts_default(&o);
            o.background = with_bg ? &bgm : NULL;
            o.background_size = 20;
            struct explain_result r = {0};
            assert_int_equal(explain_matrix(m, &rows, &o, NULL, &r, err, sizeof err), 0);
            assert_int_equal(r.attrib.method, cases[c].method);
            assert_int_equal(r.attrib.space, cases[c].space);
            assert_int_equal(r.attrib.k, cases[c].k);
            assert_int_equal(r.attrib.p, 7);
            assert_string_equal(r.feature_names[6], "band=mid");
            assert_string_equal(r.output_names[2], "2");
            assert_int_equal(r.reference_background, cases[c].method != XAI_TREE_SHAP && !with_bg);
            assert_true(r.attrib.max_abs_residual < 1e-9); /* exact, or constrained */
            explain_result_release(&r);
        }
        model_free(m);
        prep_output_release(&all);
    }
    frame_free(f);
    th_mldata_free(&d);
}

static void test_explain_groups_instances_and_v2(void **state)
{
    (void)state;
    struct th_mldata d;
    struct frame *f = iris_frame(&d);
    struct prep_output all = {0};
    struct model *m = build("random_forest", "{\"n_estimators\": 10}", f, &all);
    json_error_t jerr;
    json_t *inst = json_loads("[{\"sepal_length\": 5.1, \"sepal_width\": 3.5, \"petal_length\": "
                              "1.4, \"petal_width\": 0.2, \"band\": \"low\"}, {\"sepal_length\": "
                              "6.7, \"sepal_width\": 3.0, \"petal_length\": 5.2, \"petal_width\": "
                              "2.3, \"band\": null}]",
                              0, &jerr);
    assert_non_null(inst);
    struct explain_opts o;
    explain_opts_default(&o);
    o.group = 1;
    struct explain_result r = {0};
    char err[256];
    assert_int_equal(explain_instances(m, inst, &o, NULL, &r, NULL, err, sizeof err), 0);
    assert_int_equal(r.attrib.p, 5);
    assert_string_equal(r.feature_names[4], "band");
    assert_true(r.attrib.max_abs_residual < 1e-9);
    json_t *v2 = explain_result_v2(&r, "iris-forest");
    assert_non_null(v2);
    json_t *outs = json_object_get(v2, "outputs");
    assert_int_equal(json_array_size(outs), 6);
    json_t *sv = json_array_get(outs, 0);
    assert_string_equal(json_string_value(json_object_get(sv, "name")), "shap_values");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(sv, "shape"), 2)), 5);
    assert_int_equal(json_array_size(json_object_get(sv, "data")), 2 * 3 * 5);
    json_t *pr = json_object_get(v2, "parameters");
    assert_string_equal(json_string_value(json_object_get(pr, "method")), "tree_shap");
    assert_string_equal(json_string_value(json_object_get(pr, "output_space")), "probability");
    assert_true(json_is_true(json_object_get(pr, "exact")));
    json_decref(v2);
    explain_result_release(&r);
    json_t *bad = json_loads("[{\"sepal_length\": \"x\"}]", 0, &jerr), *problems = NULL;
    assert_int_equal(explain_instances(m, bad, &o, NULL, &r, &problems, err, sizeof err), -EINVAL);
    assert_true(json_array_size(problems) > 0);
    json_decref(problems);
    json_decref(bad);
    o.method = EXPLAIN_LINEAR_SHAP; /* not a linear model */
    struct ml_matrix rows = {all.x, 3, all.p};
    assert_int_equal(explain_matrix(m, &rows, &o, NULL, &r, err, sizeof err), -ENOTSUP);
    print_message("refused: %s\n", err);
    o.method = EXPLAIN_TREE_SHAP_INTERVENTIONAL;
    assert_int_equal(explain_matrix(m, &rows, &o, NULL, &r, err, sizeof err), 0);
    assert_int_equal(r.attrib.method, XAI_TREE_SHAP_INTERVENTIONAL);
    assert_int_equal(r.background_rows, 1);
    explain_result_release(&r);
    json_decref(inst);
    model_free(m);
    prep_output_release(&all);
    frame_free(f);
    th_mldata_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_permutation_importance),
        cmocka_unit_test(test_permutation_importance_iris),
        cmocka_unit_test(test_partial_dependence_and_ice),
        cmocka_unit_test(test_groups_sum_one_hot_columns),
        cmocka_unit_test(test_explain_every_learner),
        cmocka_unit_test(test_explain_groups_instances_and_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
