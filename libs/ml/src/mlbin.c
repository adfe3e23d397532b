/* mlbin: quantile binning of features into byte codes (radix-sorted, exact when few values). */
#include "mlbin.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mlbin_fit_job {
    struct mlbin *b;
    const struct ml_matrix *x;
    const size_t *rows;
    size_t nrows;
    size_t max_bins;
    uint64_t *scratch; /* per worker: 2 * nrows keys */
};

static uint64_t mlbin_key(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return (u >> 63) ? ~u : (u | 0x8000000000000000ULL);
}

static double mlbin_unkey(uint64_t k)
{
    uint64_t u = (k >> 63) ? (k & 0x7fffffffffffffffULL) : ~k;
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* LSD radix sort on bytes; passes where every key shares the digit are skipped. */
static void mlbin_radix(uint64_t *a, uint64_t *tmp, size_t n)
{
    size_t count[8][256];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++) { /* the eight digits spelled out: a tight loop */
        uint64_t k = a[i];
        count[0][k & 0xff]++;
        count[1][(k >> 8) & 0xff]++;
        count[2][(k >> 16) & 0xff]++;
        count[3][(k >> 24) & 0xff]++;
        count[4][(k >> 32) & 0xff]++;
        count[5][(k >> 40) & 0xff]++;
        count[6][(k >> 48) & 0xff]++;
        count[7][k >> 56]++;
    }
    uint64_t *src = a, *dst = tmp;
    for (int d = 0; d < 8; d++) {
        size_t *c = count[d];
        if (c[(src[0] >> (8 * d)) & 0xff] == n)
            continue;
        size_t sum = 0;
        for (int k = 0; k < 256; k++) {
            size_t t = c[k];
            c[k] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++)
            dst[c[(src[i] >> (8 * d)) & 0xff]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}

/* Bins from m sorted keys: exact per distinct value when they fit, else quantiles. */
static void mlbin_from_sorted(struct mlbin *b, size_t f, const uint64_t *k, size_t m,
                              size_t max_bins)
{
    double *lo = b->lower + f * MLBIN_MAX_BINS, *up = b->upper + f * MLBIN_MAX_BINS;
    if (m == 0) {
        b->nbins[f] = 1;
        lo[0] = up[0] = 0.0;
        return;
    }
    size_t distinct = 1;
    for (size_t i = 1; i < m; i++)
        distinct += k[i] != k[i - 1];
    size_t nb = 0;
    double per_bin = distinct <= max_bins ? 0.0 : (double)m / (double)max_bins;
    lo[0] = mlbin_unkey(k[0]);
    for (size_t i = 0; i < m; i++) {
        if (i + 1 < m && k[i + 1] == k[i])
            continue;
        up[nb] = mlbin_unkey(k[i]);
        if (i + 1 == m)
            break;
        int close = per_bin == 0.0 || (double)(i + 1) >= per_bin * (double)(nb + 1);
        if (close && nb + 1 < max_bins) {
            nb++;
            lo[nb] = mlbin_unkey(k[i + 1]);
        }
    }
    b->nbins[f] = (uint16_t)(nb + 1);
}

static void mlbin_fit_task(void *ctx, size_t f, size_t worker)
{
    struct mlbin_fit_job *job = ctx;
    uint64_t *keys = job->scratch + worker * 2 * job->nrows;
    const struct ml_matrix *x = job->x;
    size_t m = 0;
    for (size_t i = 0; i < job->nrows; i++) {
        size_t r = job->rows ? job->rows[i] : i;
        double v = x->x[r * x->p + f];
        if (isnan(v))
            job->b->has_missing[f] = 1;
        else
            keys[m++] = mlbin_key(v);
    }
    mlbin_radix(keys, keys + job->nrows, m);
    mlbin_from_sorted(job->b, f, keys, m, job->max_bins);
}

void mlbin_release(struct mlbin *b)
{
    if (!b)
        return;
    free(b->nbins);
    free(b->lower);
    free(b->upper);
    free(b->has_missing);
    memset(b, 0, sizeof *b);
}

int mlbin_fit(struct mlbin *b, const struct ml_matrix *x, const size_t *rows, size_t nrows,
              size_t max_bins, struct mlpool *pool)
{
    if (!b || !x || !x->x || x->p == 0 || nrows == 0 || max_bins < 2 || max_bins > MLBIN_MAX_BINS)
        return -EINVAL;
    struct mlbin nb = {.p = x->p};
    size_t workers = mlpool_threads(pool);
    nb.nbins = calloc(x->p, sizeof *nb.nbins);
    nb.lower = calloc(x->p * MLBIN_MAX_BINS, sizeof *nb.lower);
    nb.upper = calloc(x->p * MLBIN_MAX_BINS, sizeof *nb.upper);
    nb.has_missing = calloc(x->p, 1);
    uint64_t *scratch = calloc(workers * 2 * nrows, sizeof *scratch);
    if (!nb.nbins || !nb.lower || !nb.upper || !nb.has_missing || !scratch) {
        free(scratch);
        mlbin_release(&nb);
        return -ENOMEM;
    }
    struct mlbin_fit_job job = {&nb, x, rows, nrows, max_bins, scratch};
    mlpool_run(pool, x->p, mlbin_fit_task, &job);
    free(scratch);
    *b = nb;
    return 0;
}

double mlbin_threshold(const struct mlbin *b, size_t f, size_t a, size_t c)
{
    double l = b->upper[f * MLBIN_MAX_BINS + a], r = b->lower[f * MLBIN_MAX_BINS + c];
    double t = l / 2.0 + r / 2.0;
    if (t == r || isinf(t))
        t = l;
    return t;
}

struct mlbin_tf_job {
    const struct mlbin *b;
    const struct ml_matrix *x;
    const size_t *rows;
    size_t nrows;
    uint8_t *codes;
};

static void mlbin_transform_task(void *ctx, size_t f, size_t worker)
{
    (void)worker;
    struct mlbin_tf_job *job = ctx;
    const struct mlbin *b = job->b;
    size_t nb = b->nbins[f];
    double edges[MLBIN_MAX_BINS + 1];
    /* padded to a power of two with +inf so the search below is branch-free */
    size_t width = 1;
    while (width < nb)
        width *= 2;
    for (size_t i = 0; i < width; i++)
        edges[i] = i + 1 < nb ? mlbin_threshold(b, f, i, i + 1) : INFINITY;
    uint8_t *out = job->codes + f * job->nrows;
    size_t p = job->x->p;
    for (size_t i = 0; i < job->nrows; i++) {
        size_t r = job->rows ? job->rows[i] : i;
        double v = job->x->x[r * p + f];
        if (isnan(v)) {
            out[i] = MLBIN_MISSING;
            continue;
        }
        size_t pos = 0;
        for (size_t step = width / 2; step > 0; step /= 2)
            pos = edges[pos + step - 1] < v ? pos + step : pos;
        out[i] = (uint8_t)(pos < nb ? pos : nb - 1);
    }
}

void mlbin_transform(const struct mlbin *b, const struct ml_matrix *x, const size_t *rows,
                     size_t nrows, uint8_t *codes, struct mlpool *pool)
{
    struct mlbin_tf_job job = {b, x, rows, nrows, codes};
    mlpool_run(pool, b->p, mlbin_transform_task, &job);
}
