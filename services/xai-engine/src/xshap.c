/* xshap: SHAP explanations through libs/xai's explain (TreeSHAP, Linear SHAP, KernelSHAP,
 * one-hot features summed per input column). Global: the rows' mean |SHAP| per column and
 * output (the ranking), the base values, a sample of per-row values for a beeswarm plot and
 * the additivity residual; local: the instance's values and their contributions to the
 * output it is predicted in. */
#include "xcompute.h"

#include <ibx/explain.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XS_BEESWARM_ROWS 200

struct xs_out {
    struct explain_result er;
    size_t n, k, g; /* rows, outputs, columns */
};

/* The output explained for row i: the only one, the positive class of two probabilities,
 * else the one the model predicts (the largest). */
static size_t xs_output_of(const struct xs_out *o, size_t i)
{
    const double *pred = o->er.attrib.pred + i * o->k;
    if (o->k == 1)
        return 0;
    if (o->k == 2 && o->er.attrib.space == XAI_SPACE_PROBABILITY)
        return 1;
    size_t best = 0;
    for (size_t j = 1; j < o->k; j++)
        if (pred[j] > pred[best])
            best = j;
    return best;
}

static double xs_value(const struct xs_out *o, size_t i, size_t j, size_t f)
{
    return o->er.attrib.values[(i * o->k + j) * o->g + f];
}

static int xs_explain(struct xc *c, const double *x, size_t n, struct xs_out *o, char *err,
                      size_t errlen)
{
    const struct xe_options *opt = &c->j->req->opt;
    struct explain_opts eo;
    explain_opts_default(&eo);
    eo.method = c->j->used == XE_TREE_SHAP     ? EXPLAIN_TREE_SHAP
                : c->j->used == XE_LINEAR_SHAP ? EXPLAIN_LINEAR_SHAP
                                               : EXPLAIN_KERNEL_SHAP;
    eo.seed = c->seed;
    eo.group = 1;
    eo.nsamples = opt->nsamples > 0 ? (size_t)opt->nsamples : 0;
    eo.background_size = opt->background_size > 0       ? (size_t)opt->background_size
                         : c->j->used == XE_KERNEL_SHAP ? 50
                                                        : 100;
    double *bg = NULL;
    int rc = xc_gather(c, c->train, c->ntrain, &bg);
    if (rc)
        return rc;
    struct ml_matrix bgm = {bg, c->ntrain, c->p}, xm = {x, n, c->p};
    eo.background = c->j->used == XE_TREE_SHAP ? NULL : &bgm;
    memset(o, 0, sizeof(*o));
    rc = explain_matrix(c->j->model, &xm, &eo, &c->ctl, &o->er, err, errlen);
    free(bg);
    if (rc)
        return rc;
    o->n = o->er.attrib.n, o->k = o->er.attrib.k, o->g = o->er.attrib.p;
    json_t *pr = c->params;
    if (c->j->used == XE_TREE_SHAP)
        json_object_set_new(pr, "algorithm", json_string("path_dependent"));
    else
        json_object_set_new(pr, "background_size", json_integer((json_int_t)eo.background_size));
    if (c->j->used == XE_KERNEL_SHAP)
        json_object_set_new(
            pr, "nsamples",
            json_integer((json_int_t)(eo.nsamples ? eo.nsamples : 2 * c->p + 2048)));
    return 0;
}

/* The parts every SHAP result has: outputs, exactness, background, residual. */
static void xs_common(const struct xc *c, const struct xs_out *o, json_t *res)
{
    json_t *names = json_array();
    for (size_t j = 0; j < o->k; j++)
        json_array_append_new(names, json_string(o->er.output_names[j]));
    json_object_set_new(
        res, "output",
        json_pack("{s:s, s:o}", "space", xai_space_name(o->er.attrib.space), "names", names));
    int exact = xai_method_exact(o->er.attrib.method);
    json_object_set_new(res, "exact", json_boolean(exact));
    json_object_set_new(res, "background",
                        json_pack("{s:I, s:b}", "rows", (json_int_t)o->er.background_rows,
                                  "reference_row", o->er.reference_background));
    json_object_set_new(
        res, "additivity",
        json_pack("{s:o, s:s}", "max_abs_residual", xc_num(o->er.attrib.max_abs_residual),
                  "meaning",
                  "prediction - base value - sum of the values, per row and output (float64)"));
    json_t *base = json_object();
    for (size_t j = 0; j < o->k; j++)
        json_object_set_new(base, o->er.output_names[j], xc_num(o->er.attrib.base[j]));
    json_object_set_new(res, "base_values", base);
}

/* ------------------------------------------------------------------ global */

/* The direction of column g for output j: the correlation of its values (standing alone;
 * scaling keeps the order) with its SHAP values over the rows. */
static json_t *xs_direction(const struct xc *c, const struct xs_out *o, const double *x, size_t g,
                            size_t j)
{
    long f = -1;
    for (size_t q = 0; q < c->p && f < 0; q++)
        if (c->alone[q] && c->groups.group[q] == g)
            f = (long)q;
    if (f < 0 || o->n < 3)
        return json_null();
    double *pair = malloc(o->n * 2 * sizeof(double));
    if (!pair)
        return json_null();
    for (size_t i = 0; i < o->n; i++) {
        pair[2 * i] = x[i * c->p + (size_t)f];
        pair[2 * i + 1] = xs_value(o, i, j, g);
    }
    double r = xc_pearson(pair, o->n, 2, 0, 1);
    free(pair);
    if (!isfinite(r))
        return json_null();
    return json_pack("{s:s, s:o}", "trend",
                     r >= 0.3    ? "higher values raise the output"
                     : r <= -0.3 ? "higher values lower the output"
                                 : "no simple direction",
                     "correlation", xc_num(r));
}

static json_t *xs_ranking(const struct xc *c, const struct xs_out *o, const double *x,
                          const double *mabs, const size_t *order, const double *imp)
{
    json_t *rank = json_array();
    /* one output that carries the sign: regression, log-odds, or two probabilities */
    int signed_out = o->k == 1 || (o->k == 2 && o->er.attrib.space == XAI_SPACE_PROBABILITY);
    for (size_t r = 0; rank && r < o->g; r++) {
        size_t g = order[r], best = 0;
        json_t *per = json_object();
        for (size_t j = 0; j < o->k; j++) {
            json_object_set_new(per, o->er.output_names[j], xc_num(mabs[j * o->g + g]));
            if (mabs[j * o->g + g] > mabs[best * o->g + g])
                best = j;
        }
        json_t *e = json_pack("{s:s, s:o, s:o, s:s}", "feature", o->er.feature_names[g],
                              "importance", xc_num(imp[g]), "per_output", per, "strongest_output",
                              o->er.output_names[best]);
        if (e && signed_out)
            json_object_set_new(e, "direction", xs_direction(c, o, x, g, o->k == 1 ? 0 : 1));
        json_array_append_new(rank, e);
    }
    return rank;
}

static json_t *xs_beeswarm(const struct xc *c, const struct xs_out *o, const size_t *rows,
                           const size_t *order)
{
    size_t step = o->n > XS_BEESWARM_ROWS ? (o->n + XS_BEESWARM_ROWS - 1) / XS_BEESWARM_ROWS : 1;
    json_t *feats = json_array(), *rn = json_array(), *outs = json_array(), *vals = json_array(),
           *raw = json_array();
    for (size_t r = 0; r < o->g; r++)
        json_array_append_new(feats, json_string(o->er.feature_names[order[r]]));
    for (size_t i = 0; i < o->n; i += step) {
        size_t j = xs_output_of(o, i), frow = c->all.rows[rows[i]];
        json_t *v = json_array(), *w = json_array(), *row = xc_row_values(c, frow);
        for (size_t r = 0; r < o->g; r++) {
            json_array_append_new(v, xc_num(xs_value(o, i, j, order[r])));
            json_t *cell = json_object_get(row, o->er.feature_names[order[r]]);
            json_array_append(w, cell ? cell : json_null());
        }
        json_decref(row);
        json_array_append_new(rn, json_integer((json_int_t)frow));
        json_array_append_new(outs, json_string(o->er.output_names[j]));
        json_array_append_new(vals, v);
        json_array_append_new(raw, w);
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:s}", "features", feats, "rows", rn, "outputs",
                     outs, "shap", vals, "values", raw, "output_rule",
                     o->k == 1 ? "the model's only output"
                     : o->k == 2 && o->er.attrib.space == XAI_SPACE_PROBABILITY
                         ? "the second class's probability"
                         : "the class each row is predicted in");
}

static int xs_global(struct xc *c, json_t *res, char *err, size_t errlen)
{
    size_t *rows = NULL, n = 0;
    size_t max = xc_max_rows(c, c->j->used == XE_KERNEL_SHAP ? 50 : 1000);
    double *x = NULL, *mabs = NULL, *imp = NULL;
    size_t *order = NULL;
    struct xs_out o;
    memset(&o, 0, sizeof(o));
    int rc = xc_sample(c->all.n, max, c->seed, &rows, &n);
    if (!rc)
        rc = xc_gather(c, rows, n, &x);
    if (!rc)
        rc = xs_explain(c, x, n, &o, err, errlen);
    if (!rc) {
        mabs = calloc(o.k * o.g, sizeof(double));
        imp = calloc(o.g, sizeof(double));
        order = calloc(o.g, sizeof(size_t));
        rc = mabs && imp && order ? 0 : -ENOMEM;
    }
    if (!rc) {
        xai_attrib_mean_abs(&o.er.attrib, mabs);
        for (size_t g = 0; g < o.g; g++)
            for (size_t j = 0; j < o.k; j++)
                imp[g] += mabs[j * o.g + g];
        xc_rank(imp, o.g, order);
        xs_common(c, &o, res);
        json_object_set_new(
            res, "ranking_measure",
            json_string(o.k > 1 ? "mean_abs_shap_summed_over_outputs" : "mean_abs_shap"));
        json_object_set_new(res, "ranking", xs_ranking(c, &o, x, mabs, order, imp));
        json_object_set_new(res, "beeswarm", xs_beeswarm(c, &o, rows, order));
        json_t *corr = xc_correlation(c, x, n, order, o.g);
        if (corr)
            json_object_set_new(res, "correlation", corr);
        json_object_set_new(c->params, "max_rows", json_integer((json_int_t)max));
        json_object_set_new(json_object_get(res, "data"), "rows_explained",
                            json_integer((json_int_t)n));
    }
    explain_result_release(&o.er);
    free(rows);
    free(x);
    free(mabs);
    free(imp);
    free(order);
    return rc;
}

/* ------------------------------------------------------------------ local */

static int xs_local(struct xc *c, json_t *res, char *err, size_t errlen)
{
    double *x = NULL;
    json_t *raw = NULL;
    long row = -1;
    int rc = xc_instance(c, &x, &raw, &row, err, errlen);
    struct xs_out o;
    memset(&o, 0, sizeof(o));
    if (!rc)
        rc = xs_explain(c, x, 1, &o, err, errlen);
    size_t *order = rc ? NULL : calloc(o.g ? o.g : 1, sizeof(size_t));
    if (!rc && !order)
        rc = -ENOMEM;
    if (!rc) {
        size_t j = xs_output_of(&o, 0);
        xs_common(c, &o, res);
        json_t *contrib = xc_contributions((const char *const *)o.er.feature_names,
                                           o.er.attrib.values + j * o.g, o.g, raw, order);
        json_t *local = json_pack(
            "{s:o, s:O, s:s, s:o, s:o, s:o, s:o, s:o}", "row",
            row >= 0 ? json_integer(row) : json_null(), "instance", raw, "output",
            o.er.output_names[j], "output_value", xc_num(o.er.attrib.pred[j]), "base_value",
            xc_num(o.er.attrib.base[j]), "residual", xc_num(o.er.attrib.residual[j]), "prediction",
            xc_prediction(c, x), "contributions", contrib);
        rc = local ? 0 : -ENOMEM;
        json_object_set_new(res, "local", local);
    }
    explain_result_release(&o.er);
    free(order);
    free(x);
    json_decref(raw);
    return rc;
}

int xm_shap(struct xc *c, json_t *res, char *err, size_t errlen)
{
    return c->j->req->type == XE_LOCAL ? xs_local(c, res, err, errlen)
                                       : xs_global(c, res, err, errlen);
}
