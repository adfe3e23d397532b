/* test_treeshap: exact TreeSHAP (path-dependent, interventional, interactions) equals the
 * Shapley values of the same game computed by enumerating every coalition, and XGBoost's
 * own pred_contribs / pred_interactions on imported models. */
#include <ibx/buf.h>
#include <ibx/forest.h>
#include <ibx/gbt.h>
#include <ibx/learner.h>
#include <ibx/mlrand.h>
#include <ibx/shap.h>
#include <ibx/tree.h>
#include <ibx/xai.h>
#include <ibx/xgbimport.h>

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

#define EXACT 1e-9

/* ---- data and files ---- */

/* n rows of p features: normal, every third column coarse (halves), every third column
 * small integers; target from a nonlinear score (classes 0: the score; 2 or 3: classes).
 * NaN in about 8 % of the cells when nan is set (after the target is drawn). */
static void make_data(uint64_t seed, size_t n, size_t p, int classes, int nan, double *x, double *y)
{
    struct mlrand r;
    mlrand_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        double *row = x + i * p;
        for (size_t f = 0; f < p; f++) {
            double v = mlrand_normal(&r);
            row[f] = f % 3 == 1   ? round(v * 2.0) / 2.0
                     : f % 3 == 2 ? (double)mlrand_below(&r, 4)
                                  : v;
        }
        double s = row[0] * row[1 % p] + sin(2.0 * row[3 % p]) + 0.5 * row[2 % p] +
                   0.3 * mlrand_normal(&r);
        y[i] = classes == 0   ? s
               : classes == 2 ? (double)(s > 0.3)
                              : (s < -0.5  ? 0.0
                                 : s < 0.5 ? 1.0
                                           : 2.0);
        for (size_t f = 0; nan && f < p; f++)
            if (mlrand_uniform(&r) < 0.08)
                row[f] = NAN;
    }
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct buf b;
    buf_init(&b, 1 << 26);
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(buf_append(&b, chunk, got), 0);
    fclose(f);
    *len = b.len;
    return buf_steal(&b);
}

/* A CSV of numbers ("nan" for NaN) as *count doubles. */
static double *read_numbers(const char *path, size_t *count)
{
    size_t len;
    char *text = read_all(path, &len);
    double *v = malloc((len / 2 + 1) * sizeof *v);
    assert_non_null(v);
    size_t n = 0;
    for (char *p = text; *p;) {
        char *end = NULL;
        v[n++] = strtod(p, &end);
        assert_true(end != p);
        assert_true(*end == ',' || *end == '\n');
        p = end + 1;
    }
    free(text);
    *count = n;
    return v;
}

/* ---- the models as the brute force sees them (public node structures only) ---- */

enum bf_kind { BF_TREE, BF_FOREST, BF_GBT };

struct bf_model {
    enum bf_kind kind;
    const struct tree_model *tree;
    const struct forest_model *forest;
    const struct gbt_model *gbt;
    size_t p, k;
};

/* E[tree | x_S] along a CART tree: at a split on a feature in S follow x, else both
 * children weighted by their share of the node's weight. */
static void cart_cond(const struct tree_model *t, int32_t n, const double *x, unsigned s,
                      double scale, size_t k, double *out)
{
    size_t cnt, vw;
    const struct tree_node *nd = tree_nodes(t, &cnt);
    const double *vals = tree_values(t, &vw);
    if (nd[n].feature < 0) {
        for (size_t j = 0; j < k; j++)
            out[j] += scale * (tree_task(t) == ML_CLASSIFICATION ? vals[n * vw + j] / nd[n].weight
                                                                 : vals[n * vw + j]);
        return;
    }
    int32_t f = nd[n].feature;
    if (s >> f & 1u) {
        cart_cond(t, x[f] <= nd[n].threshold ? nd[n].left : nd[n].right, x, s, scale, k, out);
        return;
    }
    cart_cond(t, nd[n].left, x, s, scale * nd[nd[n].left].weight / nd[n].weight, k, out);
    cart_cond(t, nd[n].right, x, s, scale * nd[nd[n].right].weight / nd[n].weight, k, out);
}

static int gbt_left(const struct gbt_model *g, const struct gbt_node *nd, double v)
{
    if (isnan(v))
        return (int)nd->default_left;
    return gbt_xgboost_rule(g) ? (float)v < (float)nd->threshold : v <= nd->threshold;
}

static double gbt_cond(const struct gbt_model *g, const struct gbt_node *nd, int32_t n,
                       const double *x, unsigned s)
{
    if (nd[n].feature < 0)
        return gbt_xgboost_rule(g) ? (double)(float)nd[n].value : nd[n].value;
    int32_t f = nd[n].feature;
    if (s >> f & 1u)
        return gbt_cond(g, nd, gbt_left(g, &nd[n], x[f]) ? nd[n].left : nd[n].right, x, s);
    double c = nd[n].cover, l = nd[nd[n].left].cover / c, r = nd[nd[n].right].cover / c;
    return l * gbt_cond(g, nd, nd[n].left, x, s) + r * gbt_cond(g, nd, nd[n].right, x, s);
}

/* The path-dependent value of coalition s (k outputs). */
static void bf_path_value(const struct bf_model *m, const double *x, unsigned s, double *out)
{
    memset(out, 0, m->k * sizeof *out);
    if (m->kind == BF_TREE) {
        cart_cond(m->tree, 0, x, s, 1.0, m->k, out);
    } else if (m->kind == BF_FOREST) {
        size_t nt = forest_n_trees(m->forest);
        for (size_t t = 0; t < nt; t++)
            cart_cond(forest_tree(m->forest, t), 0, x, s, 1.0 / (double)nt, m->k, out);
    } else {
        const double *base = gbt_base_score(m->gbt);
        for (size_t j = 0; j < m->k; j++)
            out[j] = gbt_xgboost_rule(m->gbt) ? (double)(float)base[j] : base[j];
        for (size_t t = 0; t < gbt_n_trees(m->gbt); t++) {
            size_t cnt, o;
            const struct gbt_node *nd = gbt_tree(m->gbt, t, &cnt, &o);
            out[o] += gbt_cond(m->gbt, nd, 0, x, s);
        }
    }
}

/* The model's own output for one row (k values). */
static void bf_predict(const struct bf_model *m, const double *row, double *out)
{
    struct ml_matrix x = {row, 1, m->p};
    if (m->kind == BF_TREE)
        assert_int_equal(tree_task(m->tree) == ML_CLASSIFICATION
                             ? tree_predict_proba(m->tree, &x, out)
                             : tree_predict(m->tree, &x, out),
                         0);
    else if (m->kind == BF_FOREST)
        assert_int_equal(forest_task(m->forest) == ML_CLASSIFICATION
                             ? forest_predict_proba(m->forest, &x, out)
                             : forest_predict(m->forest, &x, out),
                         0);
    else
        assert_int_equal(gbt_predict_raw(m->gbt, &x, out), 0);
}

/* ---- brute-force Shapley values from a table of coalition values ---- */

static double fact(size_t n)
{
    double f = 1.0;
    for (size_t i = 2; i <= n; i++)
        f *= (double)i;
    return f;
}

/* v: 2^p coalitions x k values; phi: k x p. */
static void bf_shapley(const double *v, size_t p, size_t k, double *phi)
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

/* Interaction index (k x p x p, shap's layout: off-diagonal halves, diagonal the rest). */
static void bf_interactions(const double *v, size_t p, size_t k, const double *phi, double *out)
{
    memset(out, 0, k * p * p * sizeof *out);
    for (size_t i = 0; i < p; i++)
        for (size_t g = 0; g < p; g++) {
            if (g == i)
                continue;
            for (unsigned s = 0; s < 1u << p; s++) {
                if ((s >> i & 1u) || (s >> g & 1u))
                    continue;
                size_t sz = (size_t)__builtin_popcount(s);
                double w = fact(sz) * fact(p - sz - 2) / (2.0 * fact(p - 1));
                unsigned si = s | 1u << i, sg = s | 1u << g, sig = si | 1u << g;
                for (size_t j = 0; j < k; j++)
                    out[(j * p + i) * p + g] +=
                        w * (v[sig * k + j] - v[si * k + j] - v[sg * k + j] + v[s * k + j]);
            }
        }
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; i < p; i++) {
            double off = 0.0;
            for (size_t g = 0; g < p; g++)
                off += g == i ? 0.0 : out[(j * p + i) * p + g];
            out[(j * p + i) * p + i] = phi[j * p + i] - off;
        }
}

static double *path_values(const struct bf_model *m, const double *x)
{
    double *v = malloc(((size_t)1 << m->p) * m->k * sizeof *v);
    assert_non_null(v);
    for (unsigned s = 0; s < 1u << m->p; s++)
        bf_path_value(m, x, s, v + s * m->k);
    return v;
}

/* The interventional value: the weighted mean over bg of f(x_S, b_rest). */
static double *interventional_values(const struct bf_model *m, const double *x,
                                     const struct xai_background *bg)
{
    double *v = calloc(((size_t)1 << m->p) * m->k, sizeof *v);
    double *row = malloc(m->p * sizeof *row), *out = malloc(m->k * sizeof *out);
    assert_true(v && row && out);
    for (unsigned s = 0; s < 1u << m->p; s++)
        for (size_t b = 0; b < bg->n; b++) {
            for (size_t f = 0; f < m->p; f++)
                row[f] = s >> f & 1u ? x[f] : bg->x[b * m->p + f];
            bf_predict(m, row, out);
            for (size_t j = 0; j < m->k; j++)
                v[s * m->k + j] += bg->w[b] * out[j];
        }
    free(row);
    free(out);
    return v;
}

/* ---- checks ---- */

static double max_diff(const double *a, const double *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        worst = d > worst || isnan(d) ? d : worst;
    }
    return worst;
}

/* Path-dependent TreeSHAP of rows x with both algorithms against the brute force. */
static void check_path(const struct bf_model *m, const struct shap_trees *t, const double *x,
                       size_t n, double resid_tol)
{
    struct ml_matrix xm = {x, n, m->p};
    enum shap_tree_algo algos[] = {SHAP_TREE_RECURSIVE, SHAP_TREE_TABLES, SHAP_TREE_AUTO};
    double *phi = malloc(m->k * m->p * sizeof *phi), *pred = malloc(m->k * sizeof *pred);
    assert_true(phi && pred);
    for (size_t a = 0; a < 3; a++) {
        struct xai_attrib out = {0};
        struct ml_control ctl = {.threads = 2};
        assert_int_equal(shap_tree_with(t, &xm, algos[a], &ctl, &out), 0);
        assert_int_equal(out.n, n);
        assert_int_equal(out.k, m->k);
        assert_int_equal(out.method, XAI_TREE_SHAP);
        for (size_t i = 0; i < n; i++) {
            double *v = path_values(m, x + i * m->p);
            bf_shapley(v, m->p, m->k, phi);
            assert_true(max_diff(phi, out.values + i * m->k * m->p, m->k * m->p) < EXACT);
            assert_true(max_diff(v, out.base + i * m->k, m->k) < EXACT); /* base = v(empty) */
            bf_predict(m, x + i * m->p, pred);
            assert_true(max_diff(pred, out.pred + i * m->k, m->k) < 1e-12);
            free(v);
        }
        assert_true(out.max_abs_residual < resid_tol);
        xai_attrib_release(&out);
    }
    free(phi);
    free(pred);
}

static void check_interactions(const struct bf_model *m, const struct shap_trees *t,
                               const double *x, size_t n)
{
    struct ml_matrix xm = {x, n, m->p};
    struct shap_interactions si = {0};
    assert_int_equal(shap_tree_interactions(t, &xm, NULL, &si), 0);
    size_t kpp = m->k * m->p * m->p;
    double *phi = malloc(m->k * m->p * sizeof *phi), *want = malloc(kpp * sizeof *want);
    assert_true(phi && want);
    for (size_t i = 0; i < n; i++) {
        double *v = path_values(m, x + i * m->p);
        bf_shapley(v, m->p, m->k, phi);
        bf_interactions(v, m->p, m->k, phi, want);
        assert_true(max_diff(want, si.values + i * kpp, kpp) < EXACT);
        free(v);
    }
    assert_true(si.max_abs_residual < 1e-9);
    free(phi);
    free(want);
    shap_interactions_release(&si);
}

static void make_background(const double *x, size_t n, size_t p, struct xai_background *bg)
{
    struct ml_matrix m = {x, n, p};
    assert_int_equal(xai_background_sample(&m, 6, 7, bg), 0);
    double total = 0.0; /* unequal weights, to check they are used */
    for (size_t b = 0; b < bg->n; b++)
        total += (bg->w[b] = (double)(b + 1));
    for (size_t b = 0; b < bg->n; b++)
        bg->w[b] /= total;
}

static void check_interventional(const struct bf_model *m, const struct shap_trees *t,
                                 const double *x, size_t n, const double *pool, size_t npool)
{
    struct xai_background bg = {0};
    make_background(pool, npool, m->p, &bg);
    struct ml_matrix xm = {x, n, m->p};
    struct xai_attrib out = {0};
    assert_int_equal(shap_tree_interventional(t, &bg, &xm, NULL, &out), 0);
    assert_int_equal(out.method, XAI_TREE_SHAP_INTERVENTIONAL);
    double *phi = malloc(m->k * m->p * sizeof *phi);
    assert_non_null(phi);
    for (size_t i = 0; i < n; i++) {
        double *v = interventional_values(m, x + i * m->p, &bg);
        bf_shapley(v, m->p, m->k, phi);
        assert_true(max_diff(phi, out.values + i * m->k * m->p, m->k * m->p) < EXACT);
        assert_true(max_diff(v, out.base + i * m->k, m->k) < EXACT);
        free(v);
    }
    assert_true(out.max_abs_residual < EXACT);
    free(phi);
    xai_attrib_release(&out);
    xai_background_release(&bg);
}

/* ---- cases ---- */

#define NFIT     400
#define NEXPLAIN 12

static void test_decision_tree(void **state)
{
    (void)state;
    const struct {
        size_t p;
        int classes;
        size_t depth;
    } cases[] = {{8, 3, 8}, {10, 0, 9}, {5, 2, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t p = cases[c].p;
        double *x = malloc(NFIT * p * sizeof *x), *y = malloc(NFIT * sizeof *y);
        assert_true(x && y);
        make_data(11 + c, NFIT, p, cases[c].classes, 0, x, y);
        struct tree_params prm;
        enum ml_task task = cases[c].classes ? ML_CLASSIFICATION : ML_REGRESSION;
        tree_params_default(&prm, task, (size_t)cases[c].classes);
        prm.max_depth = cases[c].depth;
        prm.min_samples_leaf = 3;
        struct ml_matrix xm = {x, NFIT, p};
        struct tree_model *tm = NULL;
        assert_int_equal(tree_fit(&prm, &xm, y, NULL, &tm), 0);
        struct bf_model m = {BF_TREE, tm, NULL,
                             NULL,    p,  cases[c].classes ? (size_t)cases[c].classes : 1};
        struct shap_trees *t = NULL;
        assert_int_equal(shap_trees_from_tree(tm, &t), 0);
        assert_int_equal(shap_trees_space(t),
                         cases[c].classes ? XAI_SPACE_PROBABILITY : XAI_SPACE_VALUE);
        check_path(&m, t, x, NEXPLAIN, 1e-12);
        if (p <= 8)
            check_interactions(&m, t, x, 4);
        check_interventional(&m, t, x + NEXPLAIN * p, 4, x, NFIT);
        shap_trees_free(t);
        tree_free(tm);
        free(x);
        free(y);
    }
}

static void test_random_forest(void **state)
{
    (void)state;
    const struct {
        size_t p;
        int classes;
    } cases[] = {{7, 3}, {9, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t p = cases[c].p;
        double *x = malloc(NFIT * p * sizeof *x), *y = malloc(NFIT * sizeof *y);
        assert_true(x && y);
        make_data(21 + c, NFIT, p, cases[c].classes, 0, x, y);
        struct forest_params prm;
        enum ml_task task = cases[c].classes ? ML_CLASSIFICATION : ML_REGRESSION;
        forest_params_default(&prm, task, (size_t)cases[c].classes);
        prm.n_estimators = 12;
        prm.tree.max_depth = 7;
        prm.random_state = 5;
        struct ml_matrix xm = {x, NFIT, p};
        struct forest_model *fm = NULL;
        assert_int_equal(forest_fit(&prm, &xm, y, NULL, &fm), 0);
        struct bf_model m = {BF_FOREST, NULL, fm,
                             NULL,      p,    cases[c].classes ? (size_t)cases[c].classes : 1};
        struct shap_trees *t = NULL;
        assert_int_equal(shap_trees_from_forest(fm, &t), 0);
        check_path(&m, t, x, NEXPLAIN, 1e-12);
        check_interactions(&m, t, x, 3);
        check_interventional(&m, t, x + NEXPLAIN * p, 3, x, NFIT);
        shap_trees_free(t);
        forest_free(fm);
        free(x);
        free(y);
    }
}

static void test_gradient_boosting_with_missing_values(void **state)
{
    (void)state;
    const struct {
        size_t p;
        int classes;
    } cases[] = {{8, 2}, {6, 3}, {10, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t p = cases[c].p;
        double *x = malloc(NFIT * p * sizeof *x), *y = malloc(NFIT * sizeof *y);
        assert_true(x && y);
        make_data(31 + c, NFIT, p, cases[c].classes, 1, x, y);
        struct gbt_params prm;
        enum ml_task task = cases[c].classes ? ML_CLASSIFICATION : ML_REGRESSION;
        gbt_params_default(&prm, task, (size_t)cases[c].classes);
        prm.max_iter = 15;
        prm.max_depth = 5;
        prm.min_samples_leaf = 5;
        prm.early_stopping = 0;
        struct ml_matrix xm = {x, NFIT, p};
        struct gbt_model *gm = NULL;
        assert_int_equal(gbt_fit(&prm, &xm, y, NULL, &gm), 0);
        struct bf_model m = {BF_GBT, NULL, NULL, gm, p, gbt_n_outputs(gm)};
        struct shap_trees *t = NULL;
        assert_int_equal(shap_trees_from_gbt(gm, &t), 0);
        assert_int_equal(shap_trees_space(t), cases[c].classes == 2   ? XAI_SPACE_LOG_ODDS
                                              : cases[c].classes == 3 ? XAI_SPACE_MARGIN
                                                                      : XAI_SPACE_VALUE);
        check_path(&m, t, x, NEXPLAIN, 1e-12);
        check_interactions(&m, t, x, 3);
        check_interventional(&m, t, x + NEXPLAIN * p, 3, x, NFIT);
        shap_trees_free(t);
        gbt_free(gm);
        free(x);
        free(y);
    }
}

/* ---- XGBoost ---- */

static struct gbt_model *load_xgb(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/xai_xgb_%s.json", name);
    size_t len;
    char *json = read_all(path, &len);
    struct gbt_model *g = NULL;
    assert_int_equal(xgbimport_load(json, len, &g), 0);
    free(json);
    return g;
}

static double *load_fixture(const char *name, const char *what, size_t *count)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/xai_xgb_%s.%s.csv", name, what);
    return read_numbers(path, count);
}

/* XGBoost writes [n][k][p + 1] with the bias last; ours is [n][k][p] plus base. */
static void check_xgb_case(const char *name)
{
    struct gbt_model *g = load_xgb(name);
    size_t p = gbt_n_features(g), k = gbt_n_outputs(g), nx = 0, nc = 0;
    double *x = load_fixture(name, "x", &nx), *want = load_fixture(name, "contribs", &nc);
    size_t n = nx / p;
    assert_int_equal(nc, n * k * (p + 1));
    struct shap_trees *t = NULL;
    assert_int_equal(shap_trees_from_gbt(g, &t), 0);
    struct ml_matrix xm = {x, n, p};
    enum shap_tree_algo algos[] = {SHAP_TREE_RECURSIVE, SHAP_TREE_TABLES};
    for (size_t a = 0; a < 2; a++) {
        struct xai_attrib out = {0};
        assert_int_equal(shap_tree_with(t, &xm, algos[a], NULL, &out), 0);
        double worst = 0.0;
        for (size_t r = 0; r < n * k; r++) {
            const double *w = want + r * (p + 1);
            for (size_t f = 0; f < p; f++)
                worst = fmax(worst, fabs(w[f] - out.values[r * p + f]));
            worst = fmax(worst, fabs(w[p] - out.base[r]));
        }
        print_message("xgb %s: max |ours - pred_contribs| %.3g, max residual %.3g\n", name, worst,
                      out.max_abs_residual);
        assert_true(worst < 1e-6);
        assert_true(out.max_abs_residual < 1e-5); /* XGBoost sums its margins in float */
        xai_attrib_release(&out);
    }
    struct bf_model m = {BF_GBT, NULL, NULL, g, p, k}; /* and the same game enumerated */
    check_path(&m, t, x, 6, 1e-5);
    shap_trees_free(t);
    gbt_free(g);
    free(x);
    free(want);
}

static void test_xgboost_matches_pred_contribs(void **state)
{
    (void)state;
    check_xgb_case("binary");
    check_xgb_case("multi");
    check_xgb_case("reg");
}

static void test_xgboost_matches_pred_interactions(void **state)
{
    (void)state;
    struct gbt_model *g = load_xgb("binary");
    size_t p = gbt_n_features(g), nx = 0, ni = 0, q = p + 1;
    double *x = load_fixture("binary", "x", &nx), *want = load_fixture("binary", "inter", &ni);
    size_t n = ni / (q * q);
    assert_int_equal(n, 20);
    struct shap_trees *t = NULL;
    assert_int_equal(shap_trees_from_gbt(g, &t), 0);
    struct ml_matrix xm = {x, n, p};
    struct shap_interactions si = {0};
    assert_int_equal(shap_tree_interactions(t, &xm, NULL, &si), 0);
    double worst = 0.0;
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < p; i++)
            for (size_t j = 0; j < p; j++)
                worst =
                    fmax(worst, fabs(want[r * q * q + i * q + j] - si.values[(r * p + i) * p + j]));
    print_message("xgb binary: max |ours - pred_interactions| %.3g\n", worst);
    assert_true(worst < 1e-6);
    shap_interactions_release(&si);
    shap_trees_free(t);
    gbt_free(g);
    free(x);
    free(want);
}

/* ---- determinism, iris, errors ---- */

static void test_threads_and_repeats_identical(void **state)
{
    (void)state;
    struct gbt_model *g = load_xgb("reg");
    size_t p = gbt_n_features(g), nx = 0;
    double *x = load_fixture("reg", "x", &nx);
    struct ml_matrix xm = {x, nx / p, p};
    struct shap_trees *t = NULL;
    assert_int_equal(shap_trees_from_gbt(g, &t), 0);
    struct xai_background bg = {0};
    assert_int_equal(xai_background_sample(&xm, 10, 3, &bg), 0);
    for (int algo = 0; algo < 4; algo++) {
        struct xai_attrib a[3] = {{0}};
        int threads[3] = {1, 3, 1};
        for (int i = 0; i < 3; i++) {
            struct ml_control ctl = {.threads = threads[i]};
            int rc = algo < 3 ? shap_tree_with(t, &xm, (enum shap_tree_algo)algo, &ctl, &a[i])
                              : shap_tree_interventional(t, &bg, &xm, &ctl, &a[i]);
            assert_int_equal(rc, 0);
        }
        size_t cells = a[0].n * a[0].k * a[0].p;
        for (int i = 1; i < 3; i++) {
            assert_memory_equal(a[0].values, a[i].values, cells * sizeof *a[0].values);
            assert_memory_equal(a[0].base, a[i].base, a[0].n * a[0].k * sizeof *a[0].base);
        }
        for (int i = 0; i < 3; i++)
            xai_attrib_release(&a[i]);
    }
    xai_background_release(&bg);
    shap_trees_free(t);
    gbt_free(g);
    free(x);
}

/* Mean |SHAP| per feature summed over the outputs; the two largest. */
static void top_two(const struct xai_attrib *a, size_t *first, size_t *second)
{
    double *m = malloc(a->k * a->p * sizeof *m), tot[64] = {0};
    assert_non_null(m);
    assert_true(a->p <= 64);
    xai_attrib_mean_abs(a, m);
    for (size_t j = 0; j < a->k; j++)
        for (size_t f = 0; f < a->p; f++)
            tot[f] += m[j * a->p + f];
    *first = *second = 0;
    for (size_t f = 1; f < a->p; f++)
        *first = tot[f] > tot[*first] ? f : *first;
    *second = *first == 0 ? 1 : 0;
    for (size_t f = 0; f < a->p; f++)
        *second = f != *first && tot[f] > tot[*second] ? f : *second;
    free(m);
}

static void test_iris_petal_features_rank_first(void **state)
{
    (void)state;
    struct th_mldata d;
    assert_int_equal(th_mldata_load("iris", &d), 0); /* sepal l, sepal w, petal l, petal w */
    const char *algos[] = {"decision_tree", "random_forest", "gradient_boosting"};
    for (size_t a = 0; a < 3; a++) {
        struct ml_matrix xm = {d.x, d.n, d.p};
        struct learner_model *lm = NULL;
        char err[256];
        assert_int_equal(learner_fit(algos[a], NULL, ML_CLASSIFICATION, d.nclasses, 42, &xm, d.y,
                                     NULL, &lm, err, sizeof err),
                         0);
        struct shap_trees *t = NULL;
        assert_int_equal(shap_trees_from_learner(lm, &t), 0);
        struct xai_attrib out = {0};
        assert_int_equal(shap_tree(t, &xm, NULL, &out), 0);
        size_t first, second;
        top_two(&out, &first, &second);
        print_message("iris %s: top features %zu, %zu; residual %.3g\n", algos[a], first, second,
                      out.max_abs_residual);
        assert_true((first == 2 && second == 3) || (first == 3 && second == 2));
        assert_true(out.max_abs_residual < EXACT);
        xai_attrib_release(&out);
        shap_trees_free(t);
        learner_free(lm);
    }
    th_mldata_free(&d);
}

static void test_rejects_bad_input(void **state)
{
    (void)state;
    double x[40 * 3], y[40];
    make_data(5, 40, 3, 2, 0, x, y);
    struct tree_params prm;
    tree_params_default(&prm, ML_CLASSIFICATION, 2);
    struct ml_matrix xm = {x, 40, 3};
    struct tree_model *tm = NULL;
    assert_int_equal(tree_fit(&prm, &xm, y, NULL, &tm), 0);
    struct shap_trees *t = NULL;
    assert_int_equal(shap_trees_from_tree(tm, &t), 0);
    struct xai_attrib out = {0};
    struct ml_matrix wrong = {x, 10, 2};
    assert_int_equal(shap_tree(t, &wrong, NULL, &out), -EINVAL);
    x[4] = NAN; /* CART trees take no NaN */
    assert_int_equal(shap_tree(t, &xm, NULL, &out), -EINVAL);
    x[4] = 0.0;
    struct xai_background empty = {0};
    assert_int_equal(shap_tree_interventional(t, &empty, &xm, NULL, &out), -EINVAL);
    volatile int cancel = 1;
    struct ml_control ctl = {.cancel = &cancel};
    assert_int_equal(shap_tree(t, &xm, &ctl, &out), -ECANCELED);
    assert_null(out.values);
    struct ml_matrix none = {x, 0, 3}; /* no rows: an empty result */
    assert_int_equal(shap_tree(t, &none, NULL, &out), 0);
    assert_int_equal(out.n, 0);
    xai_attrib_release(&out);
    shap_trees_free(t);
    tree_free(tm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_tree),
        cmocka_unit_test(test_random_forest),
        cmocka_unit_test(test_gradient_boosting_with_missing_values),
        cmocka_unit_test(test_xgboost_matches_pred_contribs),
        cmocka_unit_test(test_xgboost_matches_pred_interactions),
        cmocka_unit_test(test_threads_and_repeats_identical),
        cmocka_unit_test(test_iris_petal_features_rank_first),
        cmocka_unit_test(test_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
