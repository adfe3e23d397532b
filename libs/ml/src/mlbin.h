/* mlbin: quantile binning of a design matrix into one byte per value, shared by the tree
 * learners (internal).
 *
 * Each feature gets at most max_bins (<= MLBIN_MAX_BINS) value bins. When a feature has no
 * more distinct values than that, every distinct value has its own bin (so split search on
 * bins is exact CART); otherwise the bins hold about equal numbers of training values and
 * never split a run of equal values. Bin b holds values v with edge[b-1] < v <= edge[b];
 * every edge is the midpoint between the largest value of one bin and the smallest of the
 * next (scikit-learn's rule), so a split "bins <= b" is the real threshold x <= edge.
 * NaN gets the code MLBIN_MISSING. A struct mlbin owns its arrays (mlbin_release). */
#ifndef IBX_MLBIN_H
#define IBX_MLBIN_H

#include <ibx/ml.h>

#include "mlpool.h"

#include <stddef.h>
#include <stdint.h>

#define MLBIN_MAX_BINS 255
#define MLBIN_MISSING  255

struct mlbin {
    size_t p;
    uint16_t *nbins;            /* p: value bins per feature (>= 1) */
    double *lower;              /* p * MLBIN_MAX_BINS: smallest training value in the bin */
    double *upper;              /* p * MLBIN_MAX_BINS: largest training value in the bin */
    unsigned char *has_missing; /* p: a NaN was seen while fitting */
};

/* Fit the bins on rows[0..nrows) of X (rows NULL: the first nrows rows). 0, -EINVAL,
 * -ENOMEM. b is untouched on failure. */
int mlbin_fit(struct mlbin *b, const struct ml_matrix *x, const size_t *rows, size_t nrows,
              size_t max_bins, struct mlpool *pool) __attribute__((warn_unused_result));
/* Codes of rows[0..nrows) of X, column-major: codes[f * nrows + i]. */
void mlbin_transform(const struct mlbin *b, const struct ml_matrix *x, const size_t *rows,
                     size_t nrows, uint8_t *codes, struct mlpool *pool);
/* The threshold of a split whose left side ends with bin a and right side starts with bin c
 * (a < c): the midpoint of upper[a] and lower[c], or upper[a] when rounding would make it
 * equal lower[c]. */
double mlbin_threshold(const struct mlbin *b, size_t f, size_t a, size_t c);
void mlbin_release(struct mlbin *b);

#endif
