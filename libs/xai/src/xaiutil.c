/* xaiutil: row-parallel loops, Cholesky solve, percentiles and the normal distribution. */
#include "xaiimpl.h"

#include <ibx/mlpar.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define XAI_WAVE_PER_THREAD 4

size_t xai_mul(size_t n, size_t m)
{
    if (n && m > SIZE_MAX / n)
        return SIZE_MAX;
    return n * m;
}

struct par_job {
    xai_rows_fn fn;
    void *ctx;
    size_t n, chunk, first; /* first chunk of the wave */
    int *rc;                /* per chunk of the wave */
    const struct ml_control *ctl;
};

static void par_chunk(void *arg, size_t c)
{
    struct par_job *job = arg;
    size_t begin = (job->first + c) * job->chunk;
    size_t end = begin + job->chunk < job->n ? begin + job->chunk : job->n;
    job->rc[c] = mlpar_cancelled(job->ctl) ? -ECANCELED : job->fn(job->ctx, begin, end);
}

int xai_par_rows(const struct ml_control *ctl, size_t n, size_t chunk, xai_rows_fn fn, void *ctx)
{
    if (chunk == 0)
        chunk = 1;
    size_t nchunks = (n + chunk - 1) / chunk;
    int threads = mlpar_threads(ctl);
    size_t wave = (size_t)threads * XAI_WAVE_PER_THREAD;
    int *rc = malloc(wave * sizeof *rc);
    if (!rc)
        return -ENOMEM;
    struct par_job job = {fn, ctx, n, chunk, 0, rc, ctl};
    int err = 0;
    for (size_t first = 0; first < nchunks && !err; first += wave) {
        size_t len = nchunks - first < wave ? nchunks - first : wave;
        job.first = first;
        if (threads > 1 && len > 1)
            mlpar_run(threads, len, par_chunk, &job);
        else
            for (size_t c = 0; c < len; c++)
                par_chunk(&job, c);
        for (size_t c = 0; c < len && !err; c++)
            err = rc[c];
        size_t done = (first + len) * chunk < n ? (first + len) * chunk : n;
        if (!err && mlpar_cancelled(ctl))
            err = -ECANCELED;
        if (!err)
            mlpar_progress(ctl, done, n);
    }
    free(rc);
    return err;
}

int xai_cholesky(double *a, size_t n)
{
    double big = 0.0;
    for (size_t i = 0; i < n; i++)
        big = a[i * n + i] > big ? a[i * n + i] : big;
    if (!(big > 0.0))
        return n ? -EDOM : 0;
    for (size_t j = 0; j < n; j++) {
        double d = a[j * n + j];
        for (size_t t = 0; t < j; t++)
            d -= a[j * n + t] * a[j * n + t];
        if (!(d > 1e-14 * big))
            return -EDOM;
        d = sqrt(d);
        a[j * n + j] = d;
        for (size_t i = j + 1; i < n; i++) {
            double s = a[i * n + j];
            for (size_t t = 0; t < j; t++)
                s -= a[i * n + t] * a[j * n + t];
            a[i * n + j] = s / d;
        }
    }
    return 0;
}

void xai_cholesky_apply(const double *l, double *b, size_t n)
{
    for (size_t i = 0; i < n; i++) { /* L y = b */
        double s = b[i];
        for (size_t t = 0; t < i; t++)
            s -= l[i * n + t] * b[t];
        b[i] = s / l[i * n + i];
    }
    for (size_t i = n; i-- > 0;) { /* L^T x = y */
        double s = b[i];
        for (size_t t = i + 1; t < n; t++)
            s -= l[t * n + i] * b[t];
        b[i] = s / l[i * n + i];
    }
}

int xai_cholesky_solve(double *a, double *b, size_t n)
{
    int rc = xai_cholesky(a, n);
    if (rc == 0)
        xai_cholesky_apply(a, b, n);
    return rc;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

void xai_sort_doubles(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
}

double xai_percentile_sorted(const double *sorted, size_t n, double q)
{
    double pos = q / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1)
        return sorted[n - 1];
    double frac = pos - (double)lo;
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

double xai_norm_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

/* Acklam's rational approximation (relative error 1.2e-9), refined by one Halley step
 * on erfc to full double precision. */
double xai_norm_ppf(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    double x;
    if (p < 0.02425) {
        double q = sqrt(-2.0 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    } else if (p > 1.0 - 0.02425) {
        double q = sqrt(-2.0 * log(1.0 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
    }
    double e = xai_norm_cdf(x) - p;
    double u = e * sqrt(2.0 * M_PI) * exp(x * x / 2.0);
    return x - u / (1.0 + x * u / 2.0);
}
