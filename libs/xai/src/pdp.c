/* pdp: partial dependence and ICE curves of one feature (brute force over a grid). */
#include <ibx/mlrand.h>
#include <ibx/pdp.h>

#include "xaiimpl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void pdp_opts_default(struct pdp_opts *o)
{
    memset(o, 0, sizeof *o);
    o->grid_points = 20;
    o->lo = 5.0;
    o->hi = 95.0;
    o->ice_rows = 50;
}

void pdp_result_release(struct pdp_result *r)
{
    if (!r)
        return;
    free(r->grid);
    free(r->average);
    free(r->ice_rows);
    free(r->ice);
    memset(r, 0, sizeof *r);
}

/* The grid: distinct values when few, else evenly spaced between two percentiles. */
static int pdp_grid(const struct ml_matrix *x, size_t feat, const struct pdp_opts *o,
                    struct pdp_result *r)
{
    double *col = malloc(x->n * sizeof *col);
    r->grid = malloc(o->grid_points * sizeof *r->grid);
    if (!col || !r->grid) {
        free(col);
        return -ENOMEM;
    }
    for (size_t i = 0; i < x->n; i++)
        col[i] = x->x[i * x->p + feat];
    xai_sort_doubles(col, x->n);
    size_t distinct = 0;
    for (size_t i = 0; i < x->n; i++)
        distinct += i == 0 || col[i] != col[i - 1];
    if (distinct <= o->grid_points) {
        for (size_t i = 0; i < x->n; i++)
            if (i == 0 || col[i] != col[i - 1])
                r->grid[r->n_grid++] = col[i];
    } else {
        double a = xai_percentile_sorted(col, x->n, o->lo),
               b = xai_percentile_sorted(col, x->n, o->hi);
        for (size_t g = 0; g < o->grid_points; g++)
            r->grid[g] = a + (b - a) * (double)g / (double)(o->grid_points - 1);
        r->n_grid = o->grid_points;
    }
    free(col);
    return 0;
}

/* ICE rows: a seeded sample without replacement, sorted. */
static int pdp_pick_rows(size_t n, const struct pdp_opts *o, struct pdp_result *r)
{
    r->n_ice = o->ice_rows < n ? o->ice_rows : n;
    size_t *idx = malloc(n * sizeof *idx);
    r->ice_rows = malloc((r->n_ice + 1) * sizeof *r->ice_rows);
    if (!idx || !r->ice_rows) {
        free(idx);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    struct mlrand rng;
    mlrand_seed(&rng, o->seed);
    for (size_t i = 0; r->n_ice < n && i < r->n_ice; i++) {
        size_t j = i + (size_t)mlrand_below(&rng, n - i);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    memcpy(r->ice_rows, idx, r->n_ice * sizeof *idx);
    for (size_t i = 1; i < r->n_ice; i++)
        for (size_t j = i; j > 0 && r->ice_rows[j - 1] > r->ice_rows[j]; j--) {
            size_t t = r->ice_rows[j];
            r->ice_rows[j] = r->ice_rows[j - 1];
            r->ice_rows[j - 1] = t;
        }
    free(idx);
    return 0;
}

struct pdp_job {
    const struct xai_predictor *f;
    const struct ml_matrix *x;
    size_t feat;
    struct pdp_result *r;
};

static int pdp_points(void *ctx, size_t begin, size_t end)
{
    const struct pdp_job *job = ctx;
    size_t n = job->x->n, p = job->x->p, k = job->f->k;
    double *xc = malloc(xai_mul(n, p) * sizeof *xc), *pred = malloc(xai_mul(n, k) * sizeof *pred);
    int rc = xc && pred ? 0 : -ENOMEM;
    if (rc == 0)
        memcpy(xc, job->x->x, n * p * sizeof *xc);
    for (size_t g = begin; rc == 0 && g < end; g++) {
        for (size_t i = 0; i < n; i++)
            xc[i * p + job->feat] = job->r->grid[g];
        struct ml_matrix xm = {xc, n, p};
        rc = job->f->fn(job->f->ctx, &xm, pred);
        double *avg = job->r->average + g * k;
        for (size_t j = 0; rc == 0 && j < k; j++) {
            double s = 0.0;
            for (size_t i = 0; i < n; i++)
                s += pred[i * k + j];
            avg[j] = s / (double)n;
        }
        for (size_t c = 0; rc == 0 && c < job->r->n_ice; c++)
            memcpy(job->r->ice + (c * job->r->n_grid + g) * k, pred + job->r->ice_rows[c] * k,
                   k * sizeof *pred);
    }
    free(xc);
    free(pred);
    return rc;
}

int pdp_compute(const struct xai_predictor *f, const struct ml_matrix *x, size_t feature,
                const struct pdp_opts *o, const struct ml_control *ctl, struct pdp_result *out)
{
    struct pdp_opts opts;
    pdp_opts_default(&opts);
    if (o)
        opts = *o;
    if (!f || !f->fn || !x || !x->x || !out || x->n == 0 || x->p != f->p || feature >= x->p ||
        f->k == 0 || opts.grid_points < 2 ||
        !(opts.lo >= 0.0 && opts.lo < opts.hi && opts.hi <= 100.0))
        return -EINVAL;
    for (size_t i = 0; i < x->n; i++)
        if (!isfinite(x->x[i * x->p + feature]))
            return -EINVAL;
    struct pdp_result r = {.feature = feature, .k = f->k};
    int rc = pdp_grid(x, feature, &opts, &r);
    rc = rc ? rc : pdp_pick_rows(x->n, &opts, &r);
    if (rc == 0) {
        r.average = calloc(r.n_grid * f->k, sizeof *r.average);
        r.ice = calloc(xai_mul(r.n_ice * r.n_grid, f->k) + 1, sizeof *r.ice);
        rc = r.average && r.ice ? 0 : -ENOMEM;
    }
    struct pdp_job job = {f, x, feature, &r};
    rc = rc ? rc : xai_par_rows(ctl, r.n_grid, 1, pdp_points, &job);
    if (rc) {
        pdp_result_release(&r);
        return rc;
    }
    *out = r;
    return 0;
}
