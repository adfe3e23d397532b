/* permimp: permutation feature importance with repeats (mean and standard deviation). */
#include <ibx/mlrand.h>
#include <ibx/permimp.h>

#include "xaiimpl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *permimp_score_name(enum permimp_score s)
{
    switch (s) {
    case PERMIMP_ACCURACY:
        return "accuracy";
    case PERMIMP_R2:
        return "r2";
    case PERMIMP_NEG_LOG_LOSS:
        return "neg_log_loss";
    case PERMIMP_AUTO:
        break;
    }
    return "auto";
}

void permimp_opts_default(struct permimp_opts *o)
{
    memset(o, 0, sizeof *o);
    o->repeats = 5;
}

void permimp_result_release(struct permimp_result *r)
{
    if (!r)
        return;
    free(r->mean);
    free(r->sd);
    free(r->repeats_values);
    memset(r, 0, sizeof *r);
}

/* The class a row's outputs predict: argmax (ties to the lowest), or for one log-odds
 * output class 1 when it is positive. */
static size_t predicted_class(const double *out, size_t k, enum xai_space space)
{
    if (k == 1)
        return space == XAI_SPACE_LOG_ODDS && out[0] > 0.0;
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        best = out[j] > out[best] ? j : best;
    return best;
}

static double prob_of(const double *out, size_t k, enum xai_space space, size_t cls)
{
    double pr = k == 1 ? 1.0 / (1.0 + exp(-out[0])) : out[cls];
    if (k == 1 && cls == 0)
        pr = 1.0 - pr;
    (void)space;
    return pr < 1e-15 ? 1e-15 : pr > 1.0 - 1e-15 ? 1.0 - 1e-15 : pr;
}

static double score_of(enum permimp_score s, const struct xai_predictor *f, const double *pred,
                       const double *y, size_t n)
{
    double acc = 0.0, mean = 0.0, sse = 0.0, sst = 0.0;
    for (size_t i = 0; s == PERMIMP_R2 && i < n; i++)
        mean += y[i] / (double)n;
    for (size_t i = 0; i < n; i++) {
        const double *o = pred + i * f->k;
        if (s == PERMIMP_ACCURACY) {
            acc += (double)predicted_class(o, f->k, f->space) == y[i];
        } else if (s == PERMIMP_NEG_LOG_LOSS) {
            acc += log(prob_of(o, f->k, f->space, (size_t)y[i]));
        } else {
            sse += (y[i] - o[0]) * (y[i] - o[0]);
            sst += (y[i] - mean) * (y[i] - mean);
        }
    }
    if (s == PERMIMP_R2)
        return sst > 0.0 ? 1.0 - sse / sst : (sse > 0.0 ? 0.0 : 1.0);
    return acc / (double)n;
}

/* The score to use, or AUTO when it does not fit the predictor and targets. */
static enum permimp_score resolve_score(enum permimp_score s, const struct xai_predictor *f,
                                        const double *y, size_t n)
{
    int cls = f->space != XAI_SPACE_VALUE;
    if (s == PERMIMP_AUTO)
        s = cls ? PERMIMP_ACCURACY : PERMIMP_R2;
    if (s == PERMIMP_R2 && f->k != 1)
        return PERMIMP_AUTO;
    if (s == PERMIMP_NEG_LOG_LOSS && f->space != XAI_SPACE_PROBABILITY &&
        !(f->space == XAI_SPACE_LOG_ODDS && f->k == 1))
        return PERMIMP_AUTO;
    if (s != PERMIMP_R2 && !cls)
        return PERMIMP_AUTO;
    size_t nclass = f->k == 1 ? 2 : f->k;
    for (size_t i = 0; s != PERMIMP_R2 && i < n; i++)
        if (!(y[i] >= 0.0 && y[i] < (double)nclass) || y[i] != floor(y[i]))
            return PERMIMP_AUTO;
    return s;
}

struct pi_job {
    const struct xai_predictor *f;
    const struct ml_matrix *x;
    const double *y;
    struct permimp_opts o;
    struct permimp_result *out;
};

static int pi_feature(const struct pi_job *job, size_t feat, double *xc, double *pred, size_t *perm)
{
    size_t n = job->x->n, p = job->x->p, reps = job->o.repeats;
    struct mlrand rng;
    mlrand_seed_stream(&rng, job->o.seed, feat);
    memcpy(xc, job->x->x, n * p * sizeof *xc);
    double *imp = job->out->repeats_values + feat * reps, m = 0.0, v = 0.0;
    int rc = 0;
    for (size_t r = 0; rc == 0 && r < reps; r++) {
        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        mlrand_shuffle(&rng, perm, n);
        for (size_t i = 0; i < n; i++)
            xc[i * p + feat] = job->x->x[perm[i] * p + feat];
        struct ml_matrix xm = {xc, n, p};
        rc = job->f->fn(job->f->ctx, &xm, pred);
        if (rc == 0)
            imp[r] = job->out->baseline - score_of(job->out->score, job->f, pred, job->y, n);
        m += rc ? 0.0 : imp[r] / (double)reps;
    }
    for (size_t r = 0; rc == 0 && r < reps; r++)
        v += (imp[r] - m) * (imp[r] - m);
    job->out->mean[feat] = m;
    job->out->sd[feat] = sqrt(v / (double)reps);
    return rc;
}

static int pi_features(void *ctx, size_t begin, size_t end)
{
    const struct pi_job *job = ctx;
    size_t n = job->x->n, p = job->x->p;
    double *xc = malloc(xai_mul(n, p) * sizeof *xc), *pred = malloc(n * job->f->k * sizeof *pred);
    size_t *perm = malloc(n * sizeof *perm);
    int rc = xc && pred && perm ? 0 : -ENOMEM;
    for (size_t f = begin; rc == 0 && f < end; f++)
        rc = pi_feature(job, f, xc, pred, perm);
    free(xc);
    free(pred);
    free(perm);
    return rc;
}

int permimp_compute(const struct xai_predictor *f, const struct ml_matrix *x, const double *y,
                    const struct permimp_opts *o, const struct ml_control *ctl,
                    struct permimp_result *out)
{
    struct permimp_opts opts;
    permimp_opts_default(&opts);
    if (o)
        opts = *o;
    if (!f || !f->fn || !x || !x->x || !y || !out || x->n < 2 || x->p != f->p || f->k == 0 ||
        opts.repeats == 0)
        return -EINVAL;
    struct permimp_result r = {.p = x->p, .repeats = opts.repeats};
    r.score = resolve_score(opts.score, f, y, x->n);
    if (r.score == PERMIMP_AUTO)
        return -EINVAL;
    r.mean = calloc(x->p, sizeof *r.mean);
    r.sd = calloc(x->p, sizeof *r.sd);
    r.repeats_values = calloc(xai_mul(x->p, opts.repeats), sizeof *r.repeats_values);
    double *pred = malloc(xai_mul(x->n, f->k) * sizeof *pred);
    int rc = r.mean && r.sd && r.repeats_values && pred ? f->fn(f->ctx, x, pred) : -ENOMEM;
    if (rc == 0)
        r.baseline = score_of(r.score, f, pred, y, x->n);
    free(pred);
    struct pi_job job = {f, x, y, opts, &r};
    rc = rc ? rc : xai_par_rows(ctl, x->p, 1, pi_features, &job);
    if (rc) {
        permimp_result_release(&r);
        return rc;
    }
    *out = r;
    return 0;
}
