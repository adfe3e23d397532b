/* xaiimpl: helpers shared by the libs/xai explainers (row-parallel loops, small linear
 * algebra, numeric utilities). Internal to libs/xai. */
#ifndef IBX_XAIIMPL_H
#define IBX_XAIIMPL_H

#include <ibx/ml.h>
#include <ibx/xai.h>

#include <stddef.h>
#include <stdint.h>

/* Work on rows [begin, end): 0 or a negative errno. Called from any thread. */
typedef int (*xai_rows_fn)(void *ctx, size_t begin, size_t end);

/* Run fn over [0, n) in chunks of `chunk` rows on ctl's threads. Chunks are handed out in
 * waves; between waves the calling thread reports progress (rows done out of n) and
 * checks cancel (-ECANCELED). Returns the error of the lowest failing chunk, else 0. */
int xai_par_rows(const struct ml_control *ctl, size_t n, size_t chunk, xai_rows_fn fn,
                 void *ctx) XAI_WUR;

/* Solve the symmetric positive definite system a x = b (a: n x n row-major, overwritten
 * by its Cholesky factor; b: n values, overwritten by x). -EDOM when a is not positive
 * definite (a pivot <= 1e-14 times the largest diagonal entry). */
int xai_cholesky_solve(double *a, double *b, size_t n) XAI_WUR;
/* The two halves: factor a in place (its lower triangle becomes L), then solve for one
 * right-hand side b with the factor. */
int xai_cholesky(double *a, size_t n) XAI_WUR;
void xai_cholesky_apply(const double *l, double *b, size_t n);

/* The q-th percentile (0..100) of v[0..n) (sorted in place), linear interpolation as
 * numpy.percentile. n >= 1. */
double xai_percentile_sorted(const double *sorted, size_t n, double q);
void xai_sort_doubles(double *v, size_t n);

/* Inverse of the standard normal CDF, p in (0, 1). */
double xai_norm_ppf(double p);
/* Standard normal CDF. */
double xai_norm_cdf(double x);

/* Checked n * m (SIZE_MAX on overflow). */
size_t xai_mul(size_t n, size_t m);

#endif
