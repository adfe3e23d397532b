/* xlime: LIME explanations (libs/xai's lime: quartile bins of the experiment's training
 * rows, perturbed samples, a weighted ridge surrogate), one-hot weights summed per input
 * column, each condition written in the column's own units. Local: the instance's rules
 * and weights for the output it is predicted in, the surrogate's R^2 and the spread of
 * each weight over repeated seeds. Global: the mean |weight| over a sample of rows. */
#include "xcompute.h"

#include <ibx/lime.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XL_LOCAL_REPEATS 3 /* fits for the stability estimate of a local explanation */

struct xl {
    struct lime_explainer *e;
    struct xai_predictor pr;
    struct lime_opts o;
    struct lime_result lr;
    struct xai_attrib agg; /* lr.attrib summed per input column */
};

static void xl_release(struct xl *l)
{
    lime_explainer_free(l->e);
    lime_result_release(&l->lr);
    xai_attrib_release(&l->agg);
}

static int xl_run(struct xc *c, struct xl *l, const double *x, size_t n, size_t repeats)
{
    double *train = NULL;
    int rc = xc_gather(c, c->train, c->ntrain, &train);
    if (rc)
        return rc;
    struct ml_matrix tm = {train, c->ntrain, c->p}, xm = {x, n, c->p};
    rc = lime_explainer_new(&tm, &l->e);
    free(train);
    if (!rc)
        rc = xai_predictor_learner(c->lm, &l->pr);
    lime_opts_default(&l->o);
    l->o.seed = c->seed;
    l->o.stability_repeats = repeats;
    if (c->j->req->opt.nsamples > 0)
        l->o.nsamples = (size_t)c->j->req->opt.nsamples;
    if (!rc)
        rc = lime_explain(l->e, &l->pr, &xm, &l->o, &c->ctl, &l->lr);
    if (!rc)
        rc = xai_attrib_aggregate(&l->lr.attrib, &c->groups, &l->agg);
    json_object_set_new(c->params, "nsamples", json_integer((json_int_t)l->o.nsamples));
    json_object_set_new(
        c->params, "kernel_width",
        xc_num(l->o.kernel_width > 0 ? l->o.kernel_width : 0.75 * sqrt((double)c->p)));
    json_object_set_new(c->params, "ridge_alpha", xc_num(l->o.alpha));
    json_object_set_new(c->params, "discretizer", json_string("quartile"));
    return rc;
}

static const char *xl_output_name(const struct xc *c, size_t j)
{
    return c->task == ML_CLASSIFICATION && j < c->nclasses ? c->classes[j] : prep_target(c->prep);
}

/* The output of row i a local view shows: the predicted class, or the only output. */
static size_t xl_output_of(const struct xl *l, size_t i)
{
    size_t k = l->agg.k, best = 0;
    for (size_t j = 1; j < k; j++)
        if (l->agg.pred[i * k + j] > l->agg.pred[i * k + best])
            best = j;
    return best;
}

/* The rule feature f's bin stands for, in the column's units (name borrowed). */
static void xl_condition(const struct xc *c, const struct xl *l, size_t f, size_t bin,
                         const char *name, char *buf, size_t n)
{
    size_t count = 0;
    const double *cuts = lime_cuts(l->e, f, &count);
    double lo = bin > 0 && bin <= count ? cuts[bin - 1] * c->scale[f] + c->center[f] : 0;
    double hi = bin < count ? cuts[bin] * c->scale[f] + c->center[f] : 0;
    if (count == 0)
        snprintf(buf, n, "%s (any value)", name);
    else if (bin == 0)
        snprintf(buf, n, "%s <= %.4g", name, hi);
    else if (bin >= count)
        snprintf(buf, n, "%s > %.4g", name, lo);
    else
        snprintf(buf, n, "%.4g < %s <= %.4g", lo, name, hi);
}

/* Conditions and weight spreads added to the contributions (in order). */
static void xl_annotate(const struct xc *c, const struct xl *l, size_t j, const json_t *raw,
                        json_t *contrib)
{
    size_t i;
    json_t *e;
    json_array_foreach(contrib, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "feature"));
        long f = xc_feature_of_column(c, name);
        char cond[320];
        if (f >= 0) {
            xl_condition(c, l, (size_t)f, l->lr.bins[f], name, cond, sizeof(cond));
            if (l->lr.stability_sd)
                json_object_set_new(e, "weight_sd",
                                    xc_num(l->lr.stability_sd[j * c->p + (size_t)f]));
        } else {
            const char *v = json_string_value(json_object_get(raw, name));
            snprintf(cond, sizeof(cond), "%s = %s", name, v ? v : "(missing)");
        }
        json_object_set_new(e, "condition", json_string(cond));
    }
}

static int xl_local(struct xc *c, json_t *res, char *err, size_t errlen)
{
    double *x = NULL;
    json_t *raw = NULL;
    long row = -1;
    struct xl l;
    memset(&l, 0, sizeof(l));
    int rc = xc_instance(c, &x, &raw, &row, err, errlen);
    if (!rc)
        rc = xl_run(c, &l, x, 1, XL_LOCAL_REPEATS);
    size_t g = c->groups.n, *order = rc ? NULL : calloc(g ? g : 1, sizeof(size_t));
    if (!rc && !order)
        rc = -ENOMEM;
    if (!rc) {
        size_t j = xl_output_of(&l, 0);
        json_t *contrib = xc_contributions((const char *const *)c->groups.names,
                                           l.agg.values + j * g, g, raw, order);
        xl_annotate(c, &l, j, raw, contrib);
        json_t *local =
            json_pack("{s:o, s:O, s:s, s:o, s:o, s:o, s:o, s:o, s:{s:o, s:I}}", "row",
                      row >= 0 ? json_integer(row) : json_null(), "instance", raw, "output",
                      xl_output_name(c, j), "output_value", xc_num(l.agg.pred[j]), "base_value",
                      xc_num(l.agg.base[j]), "residual", xc_num(l.agg.residual[j]), "prediction",
                      xc_prediction(c, x), "contributions", contrib, "lime", "score",
                      xc_num(l.lr.score[j]), "stability_repeats", (json_int_t)XL_LOCAL_REPEATS);
        rc = local ? 0 : -ENOMEM;
        json_object_set_new(res, "local", local);
        json_object_set_new(res, "exact", json_false());
        json_object_set_new(res, "surrogate",
                            json_pack("{s:s}", "meaning",
                                      "base_value is the surrogate's intercept; residual is "
                                      "the model's output minus the surrogate's at the "
                                      "instance"));
    }
    free(order);
    free(x);
    json_decref(raw);
    xl_release(&l);
    return rc;
}

static int xl_global(struct xc *c, json_t *res, char *err, size_t errlen)
{
    size_t *rows = NULL, n = 0, max = xc_max_rows(c, 50), g = c->groups.n;
    double *x = NULL, *imp = calloc(g ? g : 1, sizeof(double)), score = 0;
    size_t *order = calloc(g ? g : 1, sizeof(size_t));
    struct xl l;
    memset(&l, 0, sizeof(l));
    int rc = imp && order ? xc_sample(c->all.n, max, c->seed, &rows, &n) : -ENOMEM;
    if (!rc)
        rc = xc_gather(c, rows, n, &x);
    if (!rc)
        rc = xl_run(c, &l, x, n, 0);
    if (!rc) {
        for (size_t i = 0; i < n; i++) {
            size_t j = xl_output_of(&l, i);
            for (size_t q = 0; q < g; q++)
                imp[q] += fabs(l.agg.values[(i * l.agg.k + j) * g + q]) / (double)n;
            score += l.lr.score[i * l.agg.k + j] / (double)n;
        }
        xc_rank(imp, g, order);
        json_t *rank = json_array();
        for (size_t r = 0; r < g; r++)
            json_array_append_new(rank,
                                  json_pack("{s:s, s:o}", "feature", c->groups.names[order[r]],
                                            "importance", xc_num(imp[order[r]])));
        json_object_set_new(res, "ranking", rank);
        json_object_set_new(res, "ranking_measure", json_string("mean_abs_lime_weight"));
        json_object_set_new(res, "exact", json_false());
        json_object_set_new(res, "lime", json_pack("{s:o}", "mean_score", xc_num(score)));
        json_t *corr = xc_correlation(c, x, n, order, g);
        if (corr)
            json_object_set_new(res, "correlation", corr);
        json_object_set_new(c->params, "max_rows", json_integer((json_int_t)max));
        json_object_set_new(json_object_get(res, "data"), "rows_explained",
                            json_integer((json_int_t)n));
    }
    free(rows);
    free(x);
    free(imp);
    free(order);
    xl_release(&l);
    return rc;
}

int xm_lime(struct xc *c, json_t *res, char *err, size_t errlen)
{
    return c->j->req->type == XE_LOCAL ? xl_local(c, res, err, errlen)
                                       : xl_global(c, res, err, errlen);
}
