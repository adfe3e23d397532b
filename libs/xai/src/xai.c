/* xai: attributions (allocation, residuals, global means, one-hot groups) and predictors. */
#include <ibx/xai.h>

#include "xaiimpl.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *xai_space_name(enum xai_space s)
{
    switch (s) {
    case XAI_SPACE_VALUE:
        return "value";
    case XAI_SPACE_PROBABILITY:
        return "probability";
    case XAI_SPACE_LOG_ODDS:
        return "log_odds";
    case XAI_SPACE_MARGIN:
        return "margin";
    }
    return "unknown";
}

const char *xai_method_name(enum xai_method m)
{
    switch (m) {
    case XAI_TREE_SHAP:
        return "tree_shap";
    case XAI_TREE_SHAP_INTERVENTIONAL:
        return "tree_shap_interventional";
    case XAI_LINEAR_SHAP:
        return "linear_shap";
    case XAI_KERNEL_SHAP:
        return "kernel_shap";
    case XAI_LIME:
        return "lime";
    }
    return "unknown";
}

int xai_method_exact(enum xai_method m)
{
    return m == XAI_TREE_SHAP || m == XAI_TREE_SHAP_INTERVENTIONAL || m == XAI_LINEAR_SHAP;
}

int xai_attrib_alloc(struct xai_attrib *a, size_t n, size_t k, size_t p)
{
    if (!a || k == 0 || p == 0)
        return -EINVAL;
    size_t nk = xai_mul(n, k), nkp = xai_mul(nk, p);
    if (nkp == SIZE_MAX || nk == SIZE_MAX)
        return -ENOMEM;
    memset(a, 0, sizeof *a);
    a->values = calloc(nkp ? nkp : 1, sizeof *a->values);
    a->base = calloc(nk ? nk : 1, sizeof *a->base);
    a->pred = calloc(nk ? nk : 1, sizeof *a->pred);
    a->residual = calloc(nk ? nk : 1, sizeof *a->residual);
    if (!a->values || !a->base || !a->pred || !a->residual) {
        xai_attrib_release(a);
        return -ENOMEM;
    }
    a->n = n;
    a->k = k;
    a->p = p;
    return 0;
}

void xai_attrib_release(struct xai_attrib *a)
{
    if (!a)
        return;
    free(a->values);
    free(a->base);
    free(a->pred);
    free(a->residual);
    memset(a, 0, sizeof *a);
}

void xai_attrib_finish(struct xai_attrib *a)
{
    double worst = 0.0;
    for (size_t r = 0; r < a->n * a->k; r++) {
        const double *v = a->values + r * a->p;
        double sum = 0.0;
        for (size_t f = 0; f < a->p; f++)
            sum += v[f];
        a->residual[r] = a->pred[r] - a->base[r] - sum;
        double m = fabs(a->residual[r]);
        worst = m > worst || isnan(m) ? m : worst;
    }
    a->max_abs_residual = worst;
}

void xai_attrib_mean_abs(const struct xai_attrib *a, double *out)
{
    memset(out, 0, a->k * a->p * sizeof *out);
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < a->k * a->p; j++)
            out[j] += fabs(a->values[i * a->k * a->p + j]);
    for (size_t j = 0; a->n && j < a->k * a->p; j++)
        out[j] /= (double)a->n;
}

/* ---- predictors over learners ---- */

static int predict_learner_proba(void *ctx, const struct ml_matrix *x, double *out)
{
    return learner_predict_proba(ctx, x, out);
}

static int predict_learner_value(void *ctx, const struct ml_matrix *x, double *out)
{
    return learner_predict(ctx, x, out);
}

int xai_predictor_learner(const struct learner_model *m, struct xai_predictor *out)
{
    if (!m || !out)
        return -EINVAL;
    struct xai_predictor pr = {.ctx = (void *)m, .p = learner_model_n_features(m)};
    if (learner_model_task(m) == ML_CLASSIFICATION) {
        pr.fn = predict_learner_proba;
        pr.k = learner_model_n_classes(m);
        pr.space = XAI_SPACE_PROBABILITY;
    } else {
        pr.fn = predict_learner_value;
        pr.k = 1;
        pr.space = XAI_SPACE_VALUE;
    }
    if (pr.k == 0 || pr.p == 0)
        return -EINVAL;
    *out = pr;
    return 0;
}

/* ---- groups ---- */

void xai_groups_release(struct xai_groups *g)
{
    if (!g)
        return;
    for (size_t i = 0; g->names && i < g->n; i++)
        free(g->names[i]);
    free(g->names);
    free(g->group);
    memset(g, 0, sizeof *g);
}

/* Assign the features named in `outputs` (consecutive from *next) to group gi. */
static int groups_take(struct xai_groups *g, size_t gi, const json_t *outputs,
                       const char *const *names, size_t *next)
{
    for (size_t o = 0; o < json_array_size(outputs); o++) {
        const char *want = json_string_value(json_array_get(outputs, o));
        if (!want || *next >= g->p || strcmp(want, names[*next]) != 0)
            return -EINVAL;
        g->group[(*next)++] = gi;
    }
    return 0;
}

int xai_groups_from_prep(const struct prep *pp, struct xai_groups *out)
{
    if (!pp || !out)
        return -EINVAL;
    size_t p = 0;
    const char *const *names = prep_feature_names(pp, &p);
    json_t *report = prep_report_json(pp);
    const json_t *cols = json_object_get(report, "features");
    struct xai_groups g = {.p = p};
    int rc = -ENOMEM;
    if (!report)
        goto out;
    g.names = calloc(json_array_size(cols) + 1, sizeof *g.names);
    g.group = calloc(p + 1, sizeof *g.group);
    if (!g.names || !g.group)
        goto out;
    size_t next = 0;
    for (size_t c = 0; c < json_array_size(cols); c++) {
        const json_t *col = json_array_get(cols, c);
        const char *name = json_string_value(json_object_get(col, "column"));
        rc = name ? 0 : -EINVAL;
        g.names[g.n] = name ? strdup(name) : NULL;
        rc = rc ? rc : g.names[g.n] ? 0 : -ENOMEM;
        rc = rc ? rc : groups_take(&g, g.n, json_object_get(col, "outputs"), names, &next);
        g.n += g.names[g.n] != NULL;
        if (rc)
            goto out;
    }
    rc = next == p ? 0 : -EINVAL;
out:
    json_decref(report);
    if (rc) {
        xai_groups_release(&g);
        return rc;
    }
    *out = g;
    return 0;
}

int xai_attrib_aggregate(const struct xai_attrib *in, const struct xai_groups *g,
                         struct xai_attrib *out)
{
    if (!in || !g || !out || g->p != in->p || g->n == 0)
        return -EINVAL;
    for (size_t f = 0; f < g->p; f++)
        if (g->group[f] >= g->n)
            return -EINVAL;
    struct xai_attrib a;
    int rc = xai_attrib_alloc(&a, in->n, in->k, g->n);
    if (rc)
        return rc;
    a.method = in->method;
    a.space = in->space;
    for (size_t r = 0; r < in->n * in->k; r++) {
        for (size_t f = 0; f < in->p; f++)
            a.values[r * g->n + g->group[f]] += in->values[r * in->p + f];
        a.base[r] = in->base[r];
        a.pred[r] = in->pred[r];
    }
    xai_attrib_finish(&a);
    *out = a;
    return 0;
}
