/* xglobal: the model-agnostic global views: permutation importance on the experiment's
 * test rows (libs/xai's permimp: the drop of accuracy or R^2 when a feature is shuffled,
 * mean and standard deviation over repeats) and partial dependence with ICE curves of a
 * few numeric columns (libs/xai's pdp), the grids written in the columns' own units. */
#include "xcompute.h"

#include <ibx/pdp.h>
#include <ibx/permimp.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XG_PDP_DEFAULT_FEATURES 3

/* ------------------------------------------------------------------ permutation */

static json_t *xg_perm_ranking(const struct xc *c, const struct permimp_result *r)
{
    size_t *order = calloc(c->p ? c->p : 1, sizeof(size_t));
    json_t *rank = order ? json_array() : NULL;
    if (rank)
        xc_rank(r->mean, c->p, order);
    for (size_t i = 0; rank && i < c->p; i++) {
        size_t f = order[i];
        json_array_append_new(rank,
                              json_pack("{s:s, s:s, s:o, s:o}", "feature", c->fnames[f], "column",
                                        c->groups.names[c->groups.group[f]], "importance",
                                        xc_num(r->mean[f]), "sd", xc_num(r->sd[f])));
    }
    free(order);
    return rank;
}

int xm_permutation(struct xc *c, json_t *res, char *err, size_t errlen)
{
    size_t *pick = NULL, n = 0, max = xc_max_rows(c, 2000);
    double *x = NULL, *y = NULL;
    struct xai_predictor pr;
    struct permimp_result r;
    memset(&r, 0, sizeof(r));
    int rc = xc_sample(c->ntest, max, c->seed, &pick, &n);
    for (size_t i = 0; !rc && i < n; i++)
        pick[i] = c->test[pick[i]];
    if (!rc)
        rc = xc_gather(c, pick, n, &x);
    if (!rc && !(y = malloc((n ? n : 1) * sizeof(double))))
        rc = -ENOMEM;
    for (size_t i = 0; !rc && i < n; i++)
        y[i] = c->all.y[pick[i]];
    if (!rc)
        rc = xai_predictor_learner(c->lm, &pr);
    struct permimp_opts o;
    permimp_opts_default(&o);
    o.seed = c->seed;
    if (c->j->req->opt.repeats > 0)
        o.repeats = (size_t)c->j->req->opt.repeats;
    struct ml_matrix xm = {x, n, c->p};
    if (!rc)
        rc = permimp_compute(&pr, &xm, y, &o, &c->ctl, &r);
    if (rc == -EINVAL)
        snprintf(err, errlen, "permutation importance needs at least 2 test rows (%zu)", n);
    if (!rc) {
        json_object_set_new(res, "ranking", xg_perm_ranking(c, &r));
        char measure[64];
        snprintf(measure, sizeof(measure), "permutation_%s_drop", permimp_score_name(r.score));
        json_object_set_new(res, "ranking_measure", json_string(measure));
        json_object_set_new(res, "permutation",
                            json_pack("{s:s, s:o, s:I, s:s}", "score", permimp_score_name(r.score),
                                      "baseline", xc_num(r.baseline), "rows", (json_int_t)n,
                                      "rows_from", c->split_reproduced ? "test" : "all"));
        json_object_set_new(res, "exact", json_false());
        json_object_set_new(c->params, "repeats", json_integer((json_int_t)o.repeats));
        json_object_set_new(c->params, "max_rows", json_integer((json_int_t)max));
        json_object_set_new(json_object_get(res, "data"), "rows_explained",
                            json_integer((json_int_t)n));
    }
    permimp_result_release(&r);
    free(pick);
    free(x);
    free(y);
    return rc;
}

/* ------------------------------------------------------------------ partial dependence */

/* The model features to draw: the request's columns (numeric, standing alone), else the
 * experiment's most important ones. *n of them into f (room for XG_PDP_MAX). */
#define XG_PDP_MAX 50
static int xg_pdp_features(const struct xc *c, size_t *f, size_t *n, char *err, size_t errlen)
{
    const json_t *asked = c->j->req->opt.features;
    size_t i;
    const json_t *v;
    *n = 0;
    json_array_foreach(asked, i, v)
    {
        long q = xc_feature_of_column(c, json_string_value(v));
        if (q < 0) {
            snprintf(err, errlen,
                     "options.features: '%s' is not a numeric input column of the model",
                     json_string_value(v));
            return -EINVAL;
        }
        f[(*n)++] = (size_t)q;
    }
    const json_t *imp = json_object_get(
        json_object_get(c->j->experiment_results, "feature_importance"), "features");
    json_array_foreach(imp, i, v)
    {
        const char *name = json_string_value(json_object_get(v, "feature"));
        for (size_t q = 0; !asked && name && *n < XG_PDP_DEFAULT_FEATURES && q < c->p; q++)
            if (c->alone[q] && strcmp(c->fnames[q], name) == 0)
                f[(*n)++] = q;
    }
    for (size_t q = 0; !asked && *n < XG_PDP_DEFAULT_FEATURES && q < c->p; q++) {
        int seen = 0;
        for (size_t k = 0; k < *n; k++)
            seen |= f[k] == q;
        if (c->alone[q] && !seen)
            f[(*n)++] = q;
    }
    if (*n == 0) {
        snprintf(err, errlen, "the model has no numeric input column to draw");
        return -EINVAL;
    }
    return 0;
}

static const char *xg_trend(const double *avg, size_t ng, size_t k, size_t j, double *range)
{
    double lo = avg[j], hi = avg[j];
    int up = 0, down = 0;
    for (size_t g = 1; g < ng; g++) {
        double a = avg[g * k + j], d = a - avg[(g - 1) * k + j];
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
        up |= d > 1e-12;
        down |= d < -1e-12;
    }
    *range = hi - lo;
    if (*range <= 1e-9)
        return "flat";
    return up && down ? "mixed" : up ? "rising" : "falling";
}

static json_t *xg_curve(const struct xc *c, size_t f, const struct pdp_result *r,
                        const size_t *rows, double *importance)
{
    json_t *grid = json_array(), *avg = json_object(), *ice = json_object(), *trend = json_object(),
           *range = json_object(), *icer = json_array();
    for (size_t g = 0; g < r->n_grid; g++)
        json_array_append_new(grid, xc_num(r->grid[g] * c->scale[f] + c->center[f]));
    *importance = 0;
    for (size_t j = 0; j < r->k; j++) {
        const char *name = c->task == ML_CLASSIFICATION ? c->classes[j] : prep_target(c->prep);
        json_t *a = json_array(), *curves = json_array();
        for (size_t g = 0; g < r->n_grid; g++)
            json_array_append_new(a, xc_num(r->average[g * r->k + j]));
        for (size_t i = 0; i < r->n_ice; i++) {
            json_t *cv = json_array();
            for (size_t g = 0; g < r->n_grid; g++)
                json_array_append_new(cv, xc_num(r->ice[(i * r->n_grid + g) * r->k + j]));
            json_array_append_new(curves, cv);
        }
        double rg = 0;
        json_object_set_new(trend, name,
                            json_string(xg_trend(r->average, r->n_grid, r->k, j, &rg)));
        json_object_set_new(range, name, xc_num(rg));
        *importance = rg > *importance ? rg : *importance;
        json_object_set_new(avg, name, a);
        json_object_set_new(ice, name, curves);
    }
    for (size_t i = 0; i < r->n_ice; i++)
        json_array_append_new(icer, json_integer((json_int_t)c->all.rows[rows[r->ice_rows[i]]]));
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:{s:o, s:o}}", "feature",
                     c->groups.names[c->groups.group[f]], "grid", grid, "average", avg, "trend",
                     trend, "range", range, "ice", "rows", icer, "curves", ice);
}

static int xg_pdp_all(struct xc *c, const size_t *feats, size_t nf, const double *x,
                      const size_t *rows, size_t n, json_t *curves, double *imp)
{
    struct xai_predictor pr;
    int rc = xai_predictor_learner(c->lm, &pr);
    struct pdp_opts o;
    pdp_opts_default(&o);
    o.seed = c->seed;
    if (c->j->req->opt.grid_points > 0)
        o.grid_points = (size_t)c->j->req->opt.grid_points;
    if (c->j->req->opt.ice_rows >= 0)
        o.ice_rows = (size_t)c->j->req->opt.ice_rows;
    struct ml_matrix xm = {x, n, c->p};
    c->nphases = nf;
    for (size_t i = 0; !rc && i < nf; i++) {
        struct pdp_result r;
        memset(&r, 0, sizeof(r));
        xc_phase(c, i);
        rc = pdp_compute(&pr, &xm, feats[i], &o, &c->ctl, &r);
        if (!rc)
            json_array_append_new(curves, xg_curve(c, feats[i], &r, rows, &imp[i]));
        pdp_result_release(&r);
    }
    json_object_set_new(c->params, "grid_points", json_integer((json_int_t)o.grid_points));
    json_object_set_new(c->params, "ice_rows", json_integer((json_int_t)o.ice_rows));
    json_object_set_new(c->params, "percentiles", json_pack("[f, f]", o.lo, o.hi));
    return rc;
}

int xm_pdp(struct xc *c, json_t *res, char *err, size_t errlen)
{
    size_t feats[XG_PDP_MAX], nf = 0, *rows = NULL, n = 0, max = xc_max_rows(c, 500);
    double *x = NULL, imp[XG_PDP_MAX];
    json_t *curves = json_array();
    int rc = curves ? xg_pdp_features(c, feats, &nf, err, errlen) : -ENOMEM;
    if (!rc)
        rc = xc_sample(c->all.n, max, c->seed, &rows, &n);
    if (!rc)
        rc = xc_gather(c, rows, n, &x);
    if (!rc)
        rc = xg_pdp_all(c, feats, nf, x, rows, n, curves, imp);
    if (!rc) {
        size_t order[XG_PDP_MAX];
        xc_rank(imp, nf, order);
        json_t *rank = json_array(), *names = json_array();
        for (size_t i = 0; i < nf; i++) {
            json_t *cv = json_array_get(curves, order[i]);
            json_array_append_new(rank,
                                  json_pack("{s:O, s:o}", "feature", json_object_get(cv, "feature"),
                                            "importance", xc_num(imp[order[i]])));
            json_array_append(names, json_object_get(cv, "feature"));
        }
        json_object_set_new(res, "ranking", rank);
        json_object_set_new(res, "ranking_measure", json_string("pdp_range"));
        json_object_set_new(res, "pdp", json_incref(curves));
        json_object_set_new(res, "exact", json_false());
        json_object_set_new(c->params, "features", names);
        json_object_set_new(c->params, "max_rows", json_integer((json_int_t)max));
        json_object_set_new(json_object_get(res, "data"), "rows_explained",
                            json_integer((json_int_t)n));
    }
    json_decref(curves);
    free(rows);
    free(x);
    return rc;
}
