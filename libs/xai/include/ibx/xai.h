/* xai: the types every explainer in libs/xai shares: attributions with their base value,
 * prediction and additivity residual, a model seen as a prediction function, background
 * sets, and the grouping of one-hot columns back to their source column.
 *
 * Conventions for every explainer (shap_, lime_, permimp_, pdp_, explain_):
 * - Rows to explain are a struct ml_matrix (ibx/ml.h) in the model's transformed feature
 *   space: what prep_transform / prep_transform_json_rows produce (one-hot columns
 *   "colour=red", scaled numbers). xai_groups sums one-hot columns back to "colour".
 * - An explanation has k outputs per row: one per class for classification (except where
 *   the model itself has one output, see enum xai_space), one for regression.
 * - Rows are independent: every result for a row depends only on that row, the model, the
 *   options and the seed (each row draws from its own random stream (seed, row index)), so
 *   results are bit-identical whatever the thread count. ml_control.threads (0: one per
 *   online CPU) spreads rows over threads; progress reports rows done out of rows; cancel
 *   stops with -ECANCELED (nothing returned).
 * - All sums are float64.
 * - Errors: 0, -EINVAL (bad input: shape mismatch, NaN where the method cannot take it,
 *   options out of range), -ENOMEM, -ENOTSUP (the method does not apply to this model),
 *   -ECANCELED. Outputs are filled only on success (release them with their _release). */
#ifndef IBX_XAI_H
#define IBX_XAI_H

#include <ibx/learner.h>
#include <ibx/ml.h>
#include <ibx/prep.h>

#include <stddef.h>
#include <stdint.h>

#define XAI_WUR __attribute__((warn_unused_result))

/* What an output measures (the space its attributions add up in). */
enum xai_space {
    XAI_SPACE_VALUE = 1,       /* regression: the predicted value */
    XAI_SPACE_PROBABILITY = 2, /* a class probability (trees, forests, KernelSHAP, LIME) */
    XAI_SPACE_LOG_ODDS = 3,    /* binary: the log-odds of class 1 (logistic, boosting) */
    XAI_SPACE_MARGIN = 4       /* multiclass: a class's raw score before softmax */
};
/* "value", "probability", "log_odds", "margin" (static; "unknown" otherwise). */
const char *xai_space_name(enum xai_space s);

enum xai_method {
    XAI_TREE_SHAP = 1,                /* exact, path-dependent (conditional along the trees) */
    XAI_TREE_SHAP_INTERVENTIONAL = 2, /* exact, interventional against a background */
    XAI_LINEAR_SHAP = 3,              /* exact, independent features, background mean */
    XAI_KERNEL_SHAP = 4,              /* sampled (exact when all coalitions fit) */
    XAI_LIME = 5                      /* local weighted ridge surrogate */
};
/* "tree_shap", "tree_shap_interventional", "linear_shap", "kernel_shap", "lime" (static). */
const char *xai_method_name(enum xai_method m);
/* 1 for the methods whose attributions are exact Shapley values (tree, linear). */
int xai_method_exact(enum xai_method m);

/* Attributions for n rows, k outputs and p features. Owns its arrays (xai_attrib_release;
 * accepts a zeroed struct). Index: values[(i * k + j) * p + f] is row i, output j,
 * feature f, i.e. a row-major [n][k][p] tensor (XGBoost's pred_contribs order without the
 * bias column); base, pred and residual are [n][k]. */
struct xai_attrib {
    enum xai_method method;
    enum xai_space space;
    size_t n, k, p;
    double *values;
    double *base;     /* the expected output the values start from (E[f] over the
                       * background, or the trees' cover-weighted mean; LIME: the
                       * surrogate's intercept) */
    double *pred;     /* the model's own output for the row, in `space` */
    double *residual; /* pred - base - sum over f of values, in float64 */
    double max_abs_residual;
};

/* Allocate zeroed arrays for n x k x p (n may be 0). 0, -EINVAL (k or p zero), -ENOMEM. */
int xai_attrib_alloc(struct xai_attrib *a, size_t n, size_t k, size_t p) XAI_WUR;
void xai_attrib_release(struct xai_attrib *a);
/* Recompute residual and max_abs_residual from pred, base and values. */
void xai_attrib_finish(struct xai_attrib *a);
/* Global importance: out[j * p + f] = mean over rows of |values| for output j, feature f
 * (out has k * p entries; zeros when n is 0). */
void xai_attrib_mean_abs(const struct xai_attrib *a, double *out);

/* The model as a function: fn fills out with x->n * k values (row-major) for x->n rows of
 * p features. ctx is the caller's. It may be called from several threads at once (with
 * different x and out) and must then be thread-safe; all learner models are. 0 or a
 * negative errno, which the explainer returns. */
typedef int (*xai_predict_fn)(void *ctx, const struct ml_matrix *x, double *out);

struct xai_predictor {
    xai_predict_fn fn;
    void *ctx;
    size_t p; /* features */
    size_t k; /* outputs per row */
    enum xai_space space;
};

/* A predictor over a fitted learner (borrowed; must outlive the predictor):
 * classification: the class probabilities (k = nclasses, XAI_SPACE_PROBABILITY);
 * regression: the value (k = 1, XAI_SPACE_VALUE). 0 or -EINVAL. */
int xai_predictor_learner(const struct learner_model *m, struct xai_predictor *out) XAI_WUR;

/* A weighted set of reference rows (the "absent feature" distribution of SHAP). Owns its
 * arrays (xai_background_release; accepts a zeroed struct). Weights sum to 1. */
struct xai_background {
    double *x; /* n * p, row-major */
    double *w; /* n weights */
    size_t n, p;
};
void xai_background_release(struct xai_background *b);

/* Every row of data (copied), equal weights. 0, -EINVAL (no rows), -ENOMEM. */
int xai_background_all(const struct ml_matrix *data, struct xai_background *out) XAI_WUR;
/* size rows drawn without replacement from data (seeded; all rows, in order, when data
 * has at most size), equal weights. 0, -EINVAL, -ENOMEM. */
int xai_background_sample(const struct ml_matrix *data, size_t size, uint64_t seed,
                          struct xai_background *out) XAI_WUR;
/* size k-means centroids of data (k-means++ seeding, Lloyd iterations until no row moves
 * or 100 rounds), weighted by the share of rows in each cluster, as shap.kmeans: each
 * centroid coordinate is then replaced by the value of the nearest data row in that
 * column, so one-hot and integer columns keep values they really take. All rows when
 * data has at most size rows. Deterministic for a seed. 0, -EINVAL (no rows, NaN), -ENOMEM. */
int xai_background_kmeans(const struct ml_matrix *data, size_t size, uint64_t seed,
                          struct xai_background *out) XAI_WUR;

/* Features grouped by the input column they come from (a categorical column's one-hot
 * outputs in one group; every other feature its own group). Owns its arrays
 * (xai_groups_release; accepts a zeroed struct). */
struct xai_groups {
    size_t n;      /* groups */
    size_t p;      /* features */
    char **names;  /* n group names: the input column names */
    size_t *group; /* p entries: the group of each feature */
};
void xai_groups_release(struct xai_groups *g);
/* The groups of a fitted prep's output features, in input column order. 0, -ENOMEM. */
int xai_groups_from_prep(const struct prep *pp, struct xai_groups *out) XAI_WUR;

/* Sum each group's values: "colour" gets the sum of "colour=red", "colour=blue", ...
 * (what shap users do; it is not the Shapley value of the group as one player, which
 * would need the model re-explained with grouped players). The sum keeps additivity, so
 * base value, prediction and residual carry over unchanged. out gets n x k x g->n values; it is
 * filled only on success. 0, -EINVAL (g->p differs from in->p), -ENOMEM. */
int xai_attrib_aggregate(const struct xai_attrib *in, const struct xai_groups *g,
                         struct xai_attrib *out) XAI_WUR;

#endif
