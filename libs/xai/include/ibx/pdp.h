/* pdp: partial dependence (Friedman 2001) and individual conditional expectation (ICE,
 * Goldstein et al. 2015) curves of one feature, as scikit-learn's partial_dependence with
 * method="brute".
 *
 * The grid: the feature's distinct values when there are at most grid_points of them,
 * else grid_points values evenly spaced between its lo and hi percentiles (linear
 * interpolation as numpy). For every grid value v, every row of x gets feature = v (the
 * other features kept) and the model predicts: the ICE curve of row i is its prediction
 * along the grid, the partial dependence the mean of the ICE curves. ICE curves are kept
 * for at most ice_rows rows (a seeded sample without replacement, sorted; all rows when x
 * has no more); the average always uses every row. Grid values are spread over threads
 * (same result for any thread count); ctl progress counts grid values. */
#ifndef IBX_PDP_H
#define IBX_PDP_H

#include <ibx/ml.h>
#include <ibx/xai.h>

#include <stddef.h>
#include <stdint.h>

struct pdp_opts {
    size_t grid_points; /* >= 2, default 20 */
    double lo, hi;      /* percentiles in [0, 100], lo < hi; default 5 and 95 */
    size_t ice_rows;    /* ICE curves kept, default 50 (0: none) */
    uint64_t seed;
};
void pdp_opts_default(struct pdp_opts *o);

/* Owns its arrays (pdp_result_release; accepts a zeroed struct). */
struct pdp_result {
    size_t feature;
    size_t k;        /* outputs */
    size_t n_grid;   /* grid values */
    double *grid;    /* n_grid */
    double *average; /* [n_grid][k] partial dependence */
    size_t n_ice;
    size_t *ice_rows; /* n_ice row indices into x */
    double *ice;      /* [n_ice][n_grid][k] */
};
void pdp_result_release(struct pdp_result *r);

/* Curves of feature (< x->p) for predictor f (borrowed) over x (borrowed; finite values
 * in that column). o may be NULL. -EINVAL, -ENOMEM, -ECANCELED, the predictor's error. */
int pdp_compute(const struct xai_predictor *f, const struct ml_matrix *x, size_t feature,
                const struct pdp_opts *o, const struct ml_control *ctl,
                struct pdp_result *out) XAI_WUR;

#endif
