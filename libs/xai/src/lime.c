/* lime: LIME for tabular data: quartile bins, perturbed samples, weighted ridge surrogates. */
#include <ibx/lime.h>
#include <ibx/mlrand.h>

#include "xaiimpl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lime_feat {
    size_t ncuts;
    double cut[LIME_MAX_BINS - 1];
    double share[LIME_MAX_BINS]; /* training rows per bin, as a fraction */
    double mean[LIME_MAX_BINS], sd[LIME_MAX_BINS];
    double lo[LIME_MAX_BINS], hi[LIME_MAX_BINS];
    double scale; /* standard deviation of the training bin indices (1 when 0) */
};

struct lime_explainer {
    size_t p;
    struct lime_feat *f;
};

void lime_opts_default(struct lime_opts *o)
{
    memset(o, 0, sizeof *o);
    o->nsamples = 5000;
    o->alpha = 1.0;
}

size_t lime_n_features(const struct lime_explainer *e)
{
    return e->p;
}

const double *lime_cuts(const struct lime_explainer *e, size_t f, size_t *count)
{
    *count = e->f[f].ncuts;
    return e->f[f].cut;
}

/* numpy.searchsorted(cuts, v), side "left" */
static size_t feat_bin(const struct lime_feat *lf, double v)
{
    size_t b = 0;
    while (b < lf->ncuts && lf->cut[b] < v)
        b++;
    return b;
}

size_t lime_bin(const struct lime_explainer *e, size_t f, double v)
{
    return feat_bin(&e->f[f], v);
}

int lime_bin_label(const struct lime_explainer *e, size_t f, size_t b, const char *name, char *buf,
                   size_t len)
{
    const struct lime_feat *lf = &e->f[f];
    if (lf->ncuts == 0)
        return snprintf(buf, len, "%s", name);
    if (b == 0)
        return snprintf(buf, len, "%s <= %.2f", name, lf->cut[0]);
    if (b >= lf->ncuts)
        return snprintf(buf, len, "%s > %.2f", name, lf->cut[lf->ncuts - 1]);
    return snprintf(buf, len, "%.2f < %s <= %.2f", lf->cut[b - 1], name, lf->cut[b]);
}

void lime_explainer_free(struct lime_explainer *e)
{
    if (!e)
        return;
    free(e->f);
    free(e);
}

/* Cuts, shares and per-bin statistics of one column (sorted copy in col). */
static void lime_fit_feature(const struct ml_matrix *x, size_t f, double *col, struct lime_feat *lf)
{
    size_t n = x->n;
    for (size_t i = 0; i < n; i++)
        col[i] = x->x[i * x->p + f];
    xai_sort_doubles(col, n);
    double q[3] = {xai_percentile_sorted(col, n, 25.0), xai_percentile_sorted(col, n, 50.0),
                   xai_percentile_sorted(col, n, 75.0)};
    memset(lf, 0, sizeof *lf);
    for (size_t i = 0; i < 3; i++) /* numpy.unique */
        if (lf->ncuts == 0 || q[i] != lf->cut[lf->ncuts - 1])
            lf->cut[lf->ncuts++] = q[i];
    size_t nb = lf->ncuts + 1;
    double cnt[LIME_MAX_BINS] = {0}, sum[LIME_MAX_BINS] = {0}, sq[LIME_MAX_BINS] = {0};
    double isum = 0.0, isq = 0.0;
    for (size_t i = 0; i < n; i++) {
        size_t b = feat_bin(lf, col[i]);
        cnt[b] += 1.0;
        sum[b] += col[i];
        isum += (double)b;
        isq += (double)b * (double)b;
    }
    for (size_t b = 0; b < nb; b++)
        lf->mean[b] = cnt[b] > 0.0 ? sum[b] / cnt[b] : 0.0;
    for (size_t i = 0; i < n; i++) {
        size_t b = feat_bin(lf, col[i]);
        sq[b] += (col[i] - lf->mean[b]) * (col[i] - lf->mean[b]);
    }
    for (size_t b = 0; b < nb; b++) {
        lf->share[b] = cnt[b] / (double)n;
        lf->sd[b] = (cnt[b] > 0.0 ? sqrt(sq[b] / cnt[b]) : 0.0) + 1e-11; /* as lime */
        lf->lo[b] = b == 0 ? col[0] : lf->cut[b - 1];
        lf->hi[b] = b == lf->ncuts ? col[n - 1] : lf->cut[b];
    }
    double mean = isum / (double)n, var = isq / (double)n - mean * mean;
    lf->scale = var > 1e-24 ? sqrt(var) : 1.0;
}

int lime_explainer_new(const struct ml_matrix *train, struct lime_explainer **out)
{
    if (!train || !out || !train->x || train->n == 0 || train->p == 0)
        return -EINVAL;
    for (size_t i = 0; i < train->n * train->p; i++)
        if (!isfinite(train->x[i]))
            return -EINVAL;
    struct lime_explainer *e = calloc(1, sizeof *e);
    double *col = malloc(train->n * sizeof *col);
    if (e)
        e->f = calloc(train->p, sizeof *e->f);
    if (!e || !e->f || !col) {
        lime_explainer_free(e);
        free(col);
        return -ENOMEM;
    }
    e->p = train->p;
    for (size_t f = 0; f < train->p; f++)
        lime_fit_feature(train, f, col, &e->f[f]);
    free(col);
    *out = e;
    return 0;
}

void lime_result_release(struct lime_result *r)
{
    if (!r)
        return;
    xai_attrib_release(&r->attrib);
    free(r->score);
    free(r->stability_sd);
    free(r->bins);
    memset(r, 0, sizeof *r);
}

/* ---- sampling ---- */

/* A draw from the normal (mean, sd) truncated to [lo, hi], by the inverse CDF (mirrored
 * so that the tail computed is the left one, where the CDF is accurate). */
static double trunc_normal(struct mlrand *r, double mean, double sd, double lo, double hi)
{
    if (!(hi > lo))
        return lo;
    double a = (lo - mean) / sd, b = (hi - mean) / sd, sign = 1.0;
    if (a > 0.0) {
        double t = a;
        a = -b;
        b = -t;
        sign = -1.0;
    }
    double pa = xai_norm_cdf(a), pb = xai_norm_cdf(b);
    if (!(pb - pa > 1e-12))
        return lo + mlrand_uniform(r) * (hi - lo);
    double u = pa + mlrand_uniform(r) * (pb - pa);
    if (!(u > 0.0 && u < 1.0))
        return lo + mlrand_uniform(r) * (hi - lo);
    double v = mean + sign * sd * xai_norm_ppf(u);
    return v < lo ? lo : v > hi ? hi : v;
}

static size_t draw_bin(struct mlrand *r, const struct lime_feat *lf)
{
    double u = mlrand_uniform(r), acc = 0.0;
    for (size_t b = 0; b < lf->ncuts; b++) {
        acc += lf->share[b];
        if (u < acc)
            return b;
    }
    return lf->ncuts;
}

struct lime_work {
    double *rows; /* ns x p */
    uint8_t *z;   /* ns x p: the sample's bin is x's */
    double *w;    /* ns kernel weights */
    double *y;    /* ns x k */
    double *a;    /* p x p */
    double *beta; /* p */
};

/* Samples around x (the first is x) with their indicators and kernel weights. */
static void lime_sample(const struct lime_explainer *e, const double *x, const size_t *xbin,
                        size_t ns, double width, struct mlrand *r, struct lime_work *wk)
{
    size_t p = e->p;
    for (size_t s = 0; s < ns; s++) {
        double *row = wk->rows + s * p, d2 = 0.0;
        uint8_t *z = wk->z + s * p;
        for (size_t f = 0; f < p; f++) {
            const struct lime_feat *lf = &e->f[f];
            size_t b = s ? draw_bin(r, lf) : xbin[f];
            row[f] = s ? trunc_normal(r, lf->mean[b], lf->sd[b], lf->lo[b], lf->hi[b]) : x[f];
            z[f] = b == xbin[f];
            d2 += z[f] ? 0.0 : 1.0 / (lf->scale * lf->scale);
        }
        wk->w[s] = sqrt(exp(-d2 / (width * width)));
    }
}

/* Weighted ridge of output j on the indicators: beta (p), *icpt, *score (weighted R^2). */
static int lime_ridge(const struct lime_work *wk, size_t ns, size_t p, size_t k, size_t j,
                      double alpha, double *icpt, double *score)
{
    double sw = 0.0, ym = 0.0, *zm = wk->beta; /* beta holds the means, then the solution */
    memset(zm, 0, p * sizeof *zm);
    for (size_t s = 0; s < ns; s++) {
        sw += wk->w[s];
        ym += wk->w[s] * wk->y[s * k + j];
        for (size_t f = 0; f < p; f++)
            zm[f] += wk->w[s] * (double)wk->z[s * p + f];
    }
    ym /= sw;
    for (size_t f = 0; f < p; f++)
        zm[f] /= sw;
    double *b = malloc(p * sizeof *b), *zc = malloc(p * sizeof *zc);
    if (!b || !zc) {
        free(b);
        free(zc);
        return -ENOMEM;
    }
    memset(wk->a, 0, p * p * sizeof *wk->a);
    memset(b, 0, p * sizeof *b);
    for (size_t s = 0; s < ns; s++) {
        double w = wk->w[s], yc = wk->y[s * k + j] - ym;
        for (size_t f = 0; f < p; f++)
            zc[f] = (double)wk->z[s * p + f] - zm[f];
        for (size_t f = 0; f < p; f++) {
            b[f] += w * zc[f] * yc;
            for (size_t g = 0; g <= f; g++)
                wk->a[f * p + g] += w * zc[f] * zc[g];
        }
    }
    for (size_t f = 0; f < p; f++) {
        wk->a[f * p + f] += alpha > 0.0 ? alpha : 1e-10;
        for (size_t g = f + 1; g < p; g++)
            wk->a[f * p + g] = wk->a[g * p + f];
    }
    int rc = xai_cholesky_solve(wk->a, b, p) ? -EINVAL : 0;
    double c = ym, sse = 0.0, sst = 0.0;
    for (size_t f = 0; rc == 0 && f < p; f++)
        c -= zm[f] * b[f];
    for (size_t s = 0; rc == 0 && s < ns; s++) {
        double fit = c;
        for (size_t f = 0; f < p; f++)
            fit += b[f] * (double)wk->z[s * p + f];
        double e1 = wk->y[s * k + j] - fit, e0 = wk->y[s * k + j] - ym;
        sse += wk->w[s] * e1 * e1;
        sst += wk->w[s] * e0 * e0;
    }
    if (rc == 0) {
        memcpy(wk->beta, b, p * sizeof *b);
        *icpt = c;
        *score = sst > 0.0 ? 1.0 - sse / sst : (sse > 0.0 ? 0.0 : 1.0);
    }
    free(b);
    free(zc);
    return rc;
}

struct lime_job {
    const struct lime_explainer *e;
    const struct xai_predictor *f;
    const struct ml_matrix *x;
    struct lime_opts o;
    struct lime_result *out;
    double *reps; /* n x repeats x k x p weights, when repeats >= 2 */
};

/* One fit (repeat rep) of row r: weights into beta_out (k x p), and the first fit's base,
 * prediction and score into the result. */
static int lime_fit_row(const struct lime_job *job, size_t r, size_t rep, struct lime_work *wk,
                        const size_t *xbin, double *beta_out)
{
    const struct lime_explainer *e = job->e;
    size_t p = e->p, k = job->f->k, ns = job->o.nsamples;
    double width = job->o.kernel_width > 0.0 ? job->o.kernel_width : 0.75 * sqrt((double)p);
    struct mlrand rng;
    mlrand_seed_stream(&rng, job->o.seed + rep, r);
    lime_sample(e, job->x->x + r * p, xbin, ns, width, &rng, wk);
    struct ml_matrix sm = {wk->rows, ns, p};
    int rc = job->f->fn(job->f->ctx, &sm, wk->y);
    for (size_t j = 0; rc == 0 && j < k; j++) {
        double icpt = 0.0, score = 0.0;
        rc = lime_ridge(wk, ns, p, k, j, job->o.alpha, &icpt, &score);
        if (rc)
            break;
        memcpy(beta_out + j * p, wk->beta, p * sizeof *beta_out);
        if (rep == 0) {
            job->out->attrib.base[r * k + j] = icpt;
            job->out->attrib.pred[r * k + j] = wk->y[j]; /* sample 0 is x itself */
            job->out->score[r * k + j] = score;
        }
    }
    return rc;
}

static int lime_row(const struct lime_job *job, size_t r, struct lime_work *wk)
{
    size_t p = job->e->p, k = job->f->k, reps = job->o.stability_repeats;
    size_t *xbin = job->out->bins + r * p;
    for (size_t f = 0; f < p; f++)
        xbin[f] = lime_bin(job->e, f, job->x->x[r * p + f]);
    int rc = lime_fit_row(job, r, 0, wk, xbin, job->out->attrib.values + r * k * p);
    if (rc || reps < 2)
        return rc;
    double *all = job->reps + r * reps * k * p;
    memcpy(all, job->out->attrib.values + r * k * p, k * p * sizeof *all);
    for (size_t rep = 1; rc == 0 && rep < reps; rep++)
        rc = lime_fit_row(job, r, rep, wk, xbin, all + rep * k * p);
    for (size_t c = 0; rc == 0 && c < k * p; c++) {
        double m = 0.0, v = 0.0;
        for (size_t rep = 0; rep < reps; rep++)
            m += all[rep * k * p + c];
        m /= (double)reps;
        for (size_t rep = 0; rep < reps; rep++)
            v += (all[rep * k * p + c] - m) * (all[rep * k * p + c] - m);
        job->out->stability_sd[r * k * p + c] = sqrt(v / (double)reps);
    }
    return rc;
}

static int lime_rows(void *ctx, size_t begin, size_t end)
{
    const struct lime_job *job = ctx;
    size_t p = job->e->p, k = job->f->k, ns = job->o.nsamples;
    struct lime_work wk = {0};
    wk.rows = malloc(xai_mul(ns, p) * sizeof *wk.rows);
    wk.z = malloc(xai_mul(ns, p));
    wk.w = malloc(ns * sizeof *wk.w);
    wk.y = malloc(xai_mul(ns, k) * sizeof *wk.y);
    wk.a = malloc(p * p * sizeof *wk.a);
    wk.beta = malloc(p * sizeof *wk.beta);
    int rc = wk.rows && wk.z && wk.w && wk.y && wk.a && wk.beta ? 0 : -ENOMEM;
    for (size_t r = begin; rc == 0 && r < end; r++)
        rc = lime_row(job, r, &wk);
    free(wk.rows);
    free(wk.z);
    free(wk.w);
    free(wk.y);
    free(wk.a);
    free(wk.beta);
    return rc;
}

static int lime_alloc(struct lime_result *res, size_t n, size_t k, size_t p, int stability)
{
    memset(res, 0, sizeof *res);
    int rc = xai_attrib_alloc(&res->attrib, n, k, p);
    if (rc)
        return rc;
    res->score = calloc(n * k + 1, sizeof *res->score);
    res->bins = calloc(n * p + 1, sizeof *res->bins);
    res->stability_sd = stability ? calloc(n * k * p + 1, sizeof *res->stability_sd) : NULL;
    if (!res->score || !res->bins || (stability && !res->stability_sd)) {
        lime_result_release(res);
        return -ENOMEM;
    }
    return 0;
}

int lime_explain(const struct lime_explainer *e, const struct xai_predictor *f,
                 const struct ml_matrix *x, const struct lime_opts *o, const struct ml_control *ctl,
                 struct lime_result *out)
{
    struct lime_opts opts;
    lime_opts_default(&opts);
    if (o)
        opts = *o;
    if (!e || !f || !f->fn || !x || !out || f->p != e->p || x->p != e->p || f->k == 0 ||
        opts.nsamples < 2 || !(opts.kernel_width >= 0.0) || !(opts.alpha >= 0.0) || (!x->x && x->n))
        return -EINVAL;
    for (size_t i = 0; i < x->n * x->p; i++)
        if (!isfinite(x->x[i]))
            return -EINVAL;
    size_t reps = opts.stability_repeats;
    struct lime_result res;
    int rc = lime_alloc(&res, x->n, f->k, e->p, reps >= 2);
    if (rc)
        return rc;
    struct lime_job job = {e, f, x, opts, &res, NULL};
    if (reps >= 2) {
        job.reps = malloc(xai_mul(xai_mul(x->n, reps), f->k * e->p) * sizeof *job.reps + 1);
        rc = job.reps ? 0 : -ENOMEM;
    }
    rc = rc ? rc : xai_par_rows(ctl, x->n, 1, lime_rows, &job);
    free(job.reps);
    if (rc) {
        lime_result_release(&res);
        return rc;
    }
    res.attrib.method = XAI_LIME;
    res.attrib.space = f->space;
    xai_attrib_finish(&res.attrib);
    *out = res;
    return 0;
}
