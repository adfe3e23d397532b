/* kernelshap: KernelSHAP for any predictor: coalitions enumerated or paired-sampled, model
 * evaluated against a background, values from a constrained weighted least squares fit. */
#include <ibx/mlrand.h>
#include <ibx/shap.h>

#include "xaiimpl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KS_BATCH_ROWS 8192 /* rows per model call (large enough for the models' own threads) */

void shap_kernel_opts_default(struct shap_kernel_opts *o)
{
    memset(o, 0, sizeof *o);
}

/* ---- coalitions ---- */

struct ks_coal {
    size_t m;   /* players */
    uint8_t *z; /* n x m masks */
    double *w;  /* n weights */
    size_t n, cap;
    size_t *slot; /* hash of the sampled masks: index + 1, 0 empty */
    size_t nslot;
};

static void ks_coal_release(struct ks_coal *c)
{
    free(c->z);
    free(c->w);
    free(c->slot);
    memset(c, 0, sizeof *c);
}

static uint64_t ks_hash(const uint8_t *z, size_t m)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < m; i++)
        h = (h ^ z[i]) * 0x100000001b3ULL;
    return h;
}

static int ks_push(struct ks_coal *c, const uint8_t *z, double w)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        uint8_t *nz = realloc(c->z, xai_mul(cap, c->m));
        if (!nz)
            return -ENOMEM;
        c->z = nz;
        double *nw = realloc(c->w, cap * sizeof *nw);
        if (!nw)
            return -ENOMEM;
        c->w = nw;
        c->cap = cap;
    }
    memcpy(c->z + c->n * c->m, z, c->m);
    c->w[c->n++] = w;
    return 0;
}

/* Add a sampled mask: a repeat adds its weight to the first copy. *fresh says which. */
static int ks_push_sampled(struct ks_coal *c, const uint8_t *z, double w, int *fresh)
{
    size_t mask = c->nslot - 1, h = (size_t)ks_hash(z, c->m) & mask;
    for (; c->slot[h]; h = (h + 1) & mask) {
        size_t i = c->slot[h] - 1;
        if (memcmp(c->z + i * c->m, z, c->m) == 0) {
            c->w[i] += w;
            *fresh = 0;
            return 0;
        }
    }
    int rc = ks_push(c, z, w);
    if (rc == 0)
        c->slot[h] = c->n;
    *fresh = rc == 0;
    return rc;
}

static double binom(size_t n, size_t k)
{
    double r = 1.0;
    for (size_t i = 1; i <= k; i++)
        r = r * (double)(n - k + i) / (double)i;
    return r;
}

/* Every subset of size s (and its complement when paired), each with weight w. */
static int ks_enumerate(struct ks_coal *c, size_t s, int paired, double w, uint8_t *z)
{
    size_t m = c->m, idx[64];
    if (s > 64)
        return -EINVAL; /* only reached with 2^m coalitions in the budget, so m <= 64 */
    for (size_t i = 0; i < s; i++)
        idx[i] = i;
    for (;;) {
        memset(z, 0, m);
        for (size_t i = 0; i < s; i++)
            z[idx[i]] = 1;
        int rc = ks_push(c, z, w);
        for (size_t i = 0; rc == 0 && paired && i < m; i++)
            z[i] ^= 1u;
        rc = rc ? rc : paired ? ks_push(c, z, w) : 0;
        if (rc)
            return rc;
        size_t i = s; /* next combination in lexicographic order */
        while (i > 0 && idx[i - 1] == m - s + i - 1)
            i--;
        if (i == 0)
            return 0;
        idx[i - 1]++;
        for (size_t j = i; j < s; j++)
            idx[j] = idx[j - 1] + 1;
    }
}

/* A random subset of size s into z (partial Fisher-Yates over perm). */
static void ks_random_subset(struct mlrand *r, size_t m, size_t s, size_t *perm, uint8_t *z)
{
    for (size_t i = 0; i < m; i++)
        perm[i] = i;
    memset(z, 0, m);
    for (size_t i = 0; i < s; i++) {
        size_t j = i + (size_t)mlrand_below(r, m - i);
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        z[perm[i]] = 1;
    }
}

struct ks_plan {
    size_t nsizes, npaired, nfull;
    double *wv; /* nsizes normalised kernel weight of each size (paired sizes doubled) */
    double left;
};

/* Sizes enumerated whole from the outside in while the budget covers them (shap's rule). */
static int ks_full_sizes(struct ks_coal *c, struct ks_plan *pl, uint8_t *z)
{
    size_t m = c->m;
    double *rem = malloc(pl->nsizes * sizeof *rem);
    if (!rem)
        return -ENOMEM;
    memcpy(rem, pl->wv, pl->nsizes * sizeof *rem);
    int rc = 0;
    for (size_t s = 1; rc == 0 && s <= pl->nsizes; s++) {
        int paired = s <= pl->npaired;
        double nsub = binom(m, s) * (paired ? 2.0 : 1.0);
        if (!(pl->left * rem[s - 1] / nsub >= 1.0 - 1e-8))
            break;
        pl->nfull++;
        pl->left -= nsub;
        if (rem[s - 1] < 1.0) {
            double d = 1.0 - rem[s - 1];
            for (size_t i = 0; i < pl->nsizes; i++)
                rem[i] /= d;
        }
        double w = pl->wv[s - 1] / binom(m, s) / (paired ? 2.0 : 1.0);
        rc = ks_enumerate(c, s, paired, w, z);
    }
    free(rem);
    return rc;
}

/* The remaining budget drawn at random from the other sizes, each with its complement. */
static int ks_sample_sizes(struct ks_coal *c, struct ks_plan *pl, struct mlrand *r, uint8_t *z)
{
    size_t m = c->m, nrest = pl->nsizes - pl->nfull, first = c->n;
    double *cdf = malloc(nrest * sizeof *cdf), weight_left = 0.0, tot = 0.0;
    size_t *perm = malloc(m * sizeof *perm);
    c->nslot = 16;
    while (c->nslot < 4 * (size_t)pl->left + 16)
        c->nslot *= 2;
    c->slot = calloc(c->nslot, sizeof *c->slot);
    int rc = cdf && perm && c->slot ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < nrest; i++) {
        size_t s = pl->nfull + i + 1;
        weight_left += pl->wv[s - 1];
        tot += pl->wv[s - 1] / (s <= pl->npaired ? 2.0 : 1.0);
        cdf[i] = tot;
    }
    size_t left = (size_t)pl->left, draws = 4 * left;
    while (rc == 0 && left > 0 && draws-- > 0) {
        double u = mlrand_uniform(r) * tot;
        size_t i = 0;
        while (i + 1 < nrest && cdf[i] <= u)
            i++;
        size_t s = pl->nfull + i + 1;
        int fresh = 0;
        ks_random_subset(r, m, s, perm, z);
        rc = ks_push_sampled(c, z, 1.0, &fresh);
        left -= (size_t)fresh;
        if (rc || left == 0 || s > pl->npaired)
            continue;
        for (size_t f = 0; f < m; f++)
            z[f] ^= 1u;
        rc = ks_push_sampled(c, z, 1.0, &fresh);
        left -= (size_t)fresh;
    }
    double sum = 0.0;
    for (size_t i = first; i < c->n; i++)
        sum += c->w[i];
    for (size_t i = first; rc == 0 && sum > 0.0 && i < c->n; i++)
        c->w[i] *= weight_left / sum;
    free(cdf);
    free(perm);
    return rc;
}

/* Coalitions of m >= 2 players for a budget of nsamples. */
static int ks_build(struct ks_coal *c, size_t m, size_t nsamples, struct mlrand *r)
{
    c->m = m;
    if (m < 63 && (double)nsamples > ldexp(1.0, (int)m) - 2.0)
        nsamples = ((size_t)1 << m) - 2;
    struct ks_plan pl = {.nsizes = m / 2, .npaired = (m - 1) / 2, .left = (double)nsamples};
    pl.wv = malloc(pl.nsizes * sizeof *pl.wv);
    uint8_t *z = malloc(m);
    int rc = pl.wv && z ? 0 : -ENOMEM;
    double tot = 0.0;
    for (size_t s = 1; rc == 0 && s <= pl.nsizes; s++) {
        pl.wv[s - 1] = (double)(m - 1) / ((double)s * (double)(m - s));
        pl.wv[s - 1] *= s <= pl.npaired ? 2.0 : 1.0;
        tot += pl.wv[s - 1];
    }
    for (size_t s = 0; rc == 0 && s < pl.nsizes; s++)
        pl.wv[s] /= tot;
    rc = rc ? rc : ks_full_sizes(c, &pl, z);
    if (rc == 0 && pl.nfull < pl.nsizes && pl.left >= 1.0)
        rc = ks_sample_sizes(c, &pl, r, z);
    free(pl.wv);
    free(z);
    return rc;
}

/* ---- evaluation ---- */

struct ks_ctx {
    const struct xai_predictor *f;
    const struct xai_background *bg;
    const struct ml_matrix *x;
    const struct shap_kernel_opts *o;
    struct xai_attrib *out;
    const double *ey; /* k: the weighted mean prediction over bg */
};

/* y[c * k + j] = the weighted mean over bg of f(x on coalition c's players, bg elsewhere). */
static int ks_eval(const struct ks_ctx *kc, const double *x, const size_t *players,
                   const struct ks_coal *c, double *y)
{
    size_t p = kc->x->p, k = kc->f->k, nb = kc->bg->n;
    size_t per = KS_BATCH_ROWS / nb ? KS_BATCH_ROWS / nb : 1; /* coalitions per batch */
    double *rows = malloc(xai_mul(per * nb, p) * sizeof *rows);
    double *pred = malloc(per * nb * k * sizeof *pred);
    int rc = rows && pred ? 0 : -ENOMEM;
    for (size_t c0 = 0; rc == 0 && c0 < c->n; c0 += per) {
        size_t len = c->n - c0 < per ? c->n - c0 : per;
        for (size_t ci = 0; ci < len; ci++) {
            const uint8_t *z = c->z + (c0 + ci) * c->m;
            double *blk = rows + ci * nb * p;
            memcpy(blk, kc->bg->x, nb * p * sizeof *blk);
            for (size_t u = 0; u < c->m; u++)
                for (size_t b = 0; z[u] && b < nb; b++)
                    blk[b * p + players[u]] = x[players[u]];
        }
        struct ml_matrix xm = {rows, len * nb, p};
        rc = kc->f->fn(kc->f->ctx, &xm, pred);
        for (size_t ci = 0; rc == 0 && ci < len; ci++)
            for (size_t j = 0; j < k; j++) {
                double s = 0.0;
                for (size_t b = 0; b < nb; b++)
                    s += kc->bg->w[b] * pred[(ci * nb + b) * k + j];
                y[(c0 + ci) * k + j] = s;
            }
    }
    free(rows);
    free(pred);
    return rc;
}

/* The normal matrix of the constrained fit (q = m - 1 unknowns: z_u - z_last), factored;
 * when singular (too few distinct coalitions), again with a ridge of 1e-10 of the mean
 * diagonal. */
static int ks_gram(const struct ks_coal *c, double *a)
{
    size_t m = c->m, q = m - 1;
    memset(a, 0, q * q * sizeof *a);
    for (size_t i = 0; i < c->n; i++) {
        const uint8_t *z = c->z + i * m;
        for (size_t u = 0; u < q; u++) {
            double du = (double)z[u] - (double)z[q];
            for (size_t v = 0; du != 0.0 && v <= u; v++)
                a[u * q + v] += c->w[i] * du * ((double)z[v] - (double)z[q]);
        }
    }
    for (size_t u = 0; u < q; u++)
        for (size_t v = u + 1; v < q; v++)
            a[u * q + v] = a[v * q + u];
    double *copy = malloc(q * q * sizeof *copy);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, a, q * q * sizeof *copy);
    int rc = xai_cholesky(a, q);
    if (rc == -EDOM) {
        double tr = 0.0;
        for (size_t u = 0; u < q; u++)
            tr += copy[u * q + u];
        memcpy(a, copy, q * q * sizeof *a);
        for (size_t u = 0; u < q; u++)
            a[u * q + u] += 1e-10 * (tr > 0.0 ? tr / (double)q : 1.0);
        rc = xai_cholesky(a, q) ? -EINVAL : 0;
    }
    free(copy);
    return rc;
}

/* The constrained fit: the last player's value is delta minus the others', the others by
 * weighted least squares. phi gets m values per output (stride m). */
static int ks_solve(const struct ks_coal *c, const double *y, const double *ey, const double *fx,
                    size_t k, double *phi)
{
    size_t m = c->m, q = m - 1;
    double *a = malloc((q * q + 1) * sizeof *a), *b = malloc((q + 1) * sizeof *b);
    int rc = a && b ? ks_gram(c, a) : -ENOMEM;
    for (size_t j = 0; rc == 0 && j < k; j++) {
        double delta = fx[j] - ey[j];
        memset(b, 0, q * sizeof *b);
        for (size_t i = 0; i < c->n; i++) {
            const uint8_t *z = c->z + i * m;
            double t = c->w[i] * (y[i * k + j] - ey[j] - (double)z[q] * delta);
            for (size_t u = 0; u < q; u++)
                b[u] += ((double)z[u] - (double)z[q]) * t;
        }
        xai_cholesky_apply(a, b, q);
        double sum = 0.0;
        for (size_t u = 0; u < q; u++)
            sum += (phi[j * m + u] = b[u]);
        phi[j * m + q] = delta - sum;
    }
    free(a);
    free(b);
    return rc;
}

/* ---- rows ---- */

static int same_value(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

/* Players: the features where some background row differs from x. */
static size_t ks_players(const struct xai_background *bg, const double *x, size_t p,
                         size_t *players)
{
    size_t m = 0;
    for (size_t f = 0; f < p; f++)
        for (size_t b = 0; b < bg->n; b++)
            if (!same_value(x[f], bg->x[b * p + f])) {
                players[m++] = f;
                break;
            }
    return m;
}

/* Values of the m >= 2 players of row r into phi (k x m). */
static int ks_game(const struct ks_ctx *kc, size_t r, const double *x, const size_t *players,
                   size_t m, const double *fx, double *phi)
{
    size_t k = kc->f->k;
    struct mlrand rng;
    mlrand_seed_stream(&rng, kc->o->seed, r);
    size_t nsamples = kc->o->nsamples ? kc->o->nsamples : 2 * m + 2048;
    struct ks_coal c = {0};
    int rc = ks_build(&c, m, nsamples, &rng);
    double *y = rc ? NULL : malloc((c.n + 1) * k * sizeof *y);
    rc = rc ? rc : y ? ks_eval(kc, x, players, &c, y) : -ENOMEM;
    rc = rc ? rc : ks_solve(&c, y, kc->ey, fx, k, phi);
    free(y);
    ks_coal_release(&c);
    return rc;
}

static int ks_row(const struct ks_ctx *kc, size_t r)
{
    size_t p = kc->x->p, k = kc->f->k;
    const double *x = kc->x->x + r * p;
    double *fx = kc->out->pred + r * k, *values = kc->out->values + r * k * p;
    struct ml_matrix one = {x, 1, p};
    int rc = kc->f->fn(kc->f->ctx, &one, fx);
    memcpy(kc->out->base + r * k, kc->ey, k * sizeof *kc->ey);
    size_t *players = calloc(p + 1, sizeof *players);
    double *phi = malloc((p * k + 1) * sizeof *phi);
    rc = rc ? rc : players && phi ? 0 : -ENOMEM;
    size_t m = rc ? 0 : ks_players(kc->bg, x, p, players);
    if (m == 1)
        for (size_t j = 0; j < k; j++)
            phi[j] = fx[j] - kc->ey[j];
    if (rc == 0 && m >= 2)
        rc = ks_game(kc, r, x, players, m, fx, phi);
    for (size_t j = 0; rc == 0 && j < k; j++)
        for (size_t u = 0; u < m; u++)
            values[j * p + players[u]] = phi[j * m + u];
    free(players);
    free(phi);
    return rc;
}

static int ks_rows(void *ctx, size_t begin, size_t end)
{
    int rc = 0;
    for (size_t r = begin; rc == 0 && r < end; r++)
        rc = ks_row(ctx, r);
    return rc;
}

/* The weighted mean prediction over the background (k values). */
static int ks_expected(const struct xai_predictor *f, const struct xai_background *bg, double *ey)
{
    double *pred = malloc(bg->n * f->k * sizeof *pred);
    if (!pred)
        return -ENOMEM;
    struct ml_matrix bm = {bg->x, bg->n, bg->p};
    int rc = f->fn(f->ctx, &bm, pred);
    memset(ey, 0, f->k * sizeof *ey);
    for (size_t b = 0; rc == 0 && b < bg->n; b++)
        for (size_t j = 0; j < f->k; j++)
            ey[j] += bg->w[b] * pred[b * f->k + j];
    free(pred);
    return rc;
}

int shap_kernel(const struct xai_predictor *f, const struct xai_background *bg,
                const struct ml_matrix *x, const struct shap_kernel_opts *o,
                const struct ml_control *ctl, struct xai_attrib *out)
{
    struct shap_kernel_opts defaults;
    shap_kernel_opts_default(&defaults);
    o = o ? o : &defaults;
    if (!f || !f->fn || !bg || !x || !out || f->k == 0 || x->p != f->p || bg->p != f->p ||
        bg->n == 0 || !bg->x || !bg->w || (!x->x && x->n) || f->p > SHAP_KERNEL_MAX_FEATURES ||
        (o->nsamples != 0 && o->nsamples < 2))
        return -EINVAL;
    double *ey = malloc(f->k * sizeof *ey);
    struct xai_attrib a = {0};
    int rc = ey ? xai_attrib_alloc(&a, x->n, f->k, f->p) : -ENOMEM;
    rc = rc ? rc : ks_expected(f, bg, ey);
    struct ks_ctx kc = {f, bg, x, o, &a, ey};
    rc = rc ? rc : xai_par_rows(ctl, x->n, 1, ks_rows, &kc);
    free(ey);
    if (rc) {
        xai_attrib_release(&a);
        return rc;
    }
    a.method = XAI_KERNEL_SHAP;
    a.space = f->space;
    xai_attrib_finish(&a);
    *out = a;
    return 0;
}
