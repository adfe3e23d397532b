/* lime: LIME for tabular data (Ribeiro et al. 2016; the lime package's
 * LimeTabularExplainer with discretize_continuous=True, discretizer="quartile").
 *
 * From training rows, each feature gets quartile cut points (the 25th, 50th and 75th
 * percentiles, linear interpolation as numpy; repeated cuts merged, so a 0/1 column gets
 * the two bins "<= 0" and "> 0") and, per bin, the share of training rows, their mean,
 * standard deviation, minimum and maximum.
 * Explaining a row x: nsamples perturbed rows (the first is x itself); for every other
 * row and feature a bin is drawn with the training shares and a value from the normal
 * (bin mean, bin sd) truncated to the bin's [min, max] (the bin mean when sd is 0). The
 * surrogate's inputs are the indicators z_f = 1 when the sample's bin equals x's. Sample
 * weights: sqrt(exp(-d^2 / width^2)) with d the Euclidean distance from x over the
 * indicators scaled by each feature's standard deviation of training bin indices (as
 * lime's StandardScaler; a feature with one bin has scale 1), width = kernel_width
 * (0: 0.75 sqrt(p)). Each output j of the model is fitted by weighted ridge regression
 * (alpha, intercept not penalised) on all p indicators: values[f] is the weight of z_f,
 * base the intercept, so base + sum of values is the surrogate's prediction at x and the
 * residual pred - base - sum is how far the surrogate is from the model at x. The fit's
 * weighted R^2 (lime's "score") comes with it. All p features are kept (no feature
 * selection); the caller shows the largest weights.
 * Stability: with repeats r >= 2, the explanation is also computed with seeds seed + 1 ..
 * seed + r - 1 and the standard deviation of each weight over the r fits is reported (a
 * small spread means the explanation does not depend on the draw). Seeded per row. */
#ifndef IBX_LIME_H
#define IBX_LIME_H

#include <ibx/ml.h>
#include <ibx/xai.h>

#include <stddef.h>
#include <stdint.h>

#define LIME_MAX_BINS 4

struct lime_opts {
    size_t nsamples;     /* >= 2, default 5000 */
    double kernel_width; /* > 0, or 0 (default): 0.75 sqrt(p) */
    double alpha;        /* ridge penalty >= 0, default 1 (scikit-learn's Ridge default) */
    uint64_t seed;
    size_t stability_repeats; /* 0 or 1: none; >= 2: fits for the spread (default 0) */
};
void lime_opts_default(struct lime_opts *o);

/* The training statistics (immutable once built, safe to share between threads). */
struct lime_explainer;

/* From training rows (borrowed for the call; finite values). *out is the caller's
 * (lime_explainer_free). 0, -EINVAL (no rows, NaN), -ENOMEM. */
int lime_explainer_new(const struct ml_matrix *train, struct lime_explainer **out) XAI_WUR;
void lime_explainer_free(struct lime_explainer *e);

size_t lime_n_features(const struct lime_explainer *e);
/* Feature f's cut points (*count of them, 0..3, ascending; borrowed). Bin b of f holds
 * values v with cut[b-1] < v <= cut[b] (bin 0: v <= cut[0]; the last: v > cut[count-1]). */
const double *lime_cuts(const struct lime_explainer *e, size_t f, size_t *count);
/* The bin of value v for feature f. */
size_t lime_bin(const struct lime_explainer *e, size_t f, double v);
/* A readable condition for feature f's bin b, as lime prints it: "name <= 1.50",
 * "1.50 < name <= 4.35", "name > 4.35" (two decimals); into buf (snprintf rules).
 * Returns what snprintf returns. */
int lime_bin_label(const struct lime_explainer *e, size_t f, size_t b, const char *name, char *buf,
                   size_t len);

/* One explanation per row, for every output. Owns its arrays (lime_result_release;
 * accepts a zeroed struct). */
struct lime_result {
    struct xai_attrib attrib; /* method XAI_LIME: values = surrogate weights [n][k][p] */
    double *score;            /* [n][k] weighted R^2 of the surrogate */
    double *stability_sd;     /* [n][k][p] spread of each weight, NULL without repeats */
    size_t *bins;             /* [n][p] the bin of each of x's values */
};
void lime_result_release(struct lime_result *r);

/* Explain rows x (x->p == f->p == lime_n_features) with predictor f (borrowed); o may be
 * NULL (defaults). Model evaluations per row: nsamples (times the repeats). */
int lime_explain(const struct lime_explainer *e, const struct xai_predictor *f,
                 const struct ml_matrix *x, const struct lime_opts *o, const struct ml_control *ctl,
                 struct lime_result *out) XAI_WUR;

#endif
