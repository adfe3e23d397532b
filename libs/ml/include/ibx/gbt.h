/* gbt: histogram gradient-boosted trees (scikit-learn's HistGradientBoosting, XGBoost's
 * `hist`): binary logistic, multiclass softmax (one tree per class per round) and squared
 * error regression.
 *
 * Features are binned once into at most 255 quantile bins plus one bin for missing values.
 * Trees grow best-first by gain (leaf-wise) under max_leaves and max_depth, from
 * gradient/hessian histograms built on ml_control.threads threads (the larger child's
 * histogram is the parent's minus the smaller child's). NaN is a missing value: each split
 * learns the side missing values go to (when a node saw none, they follow the larger
 * child). Early stopping holds out a seeded, stratified validation fraction and stops when
 * the validation loss has not improved by tol for n_iter_no_change rounds (the rounds run
 * are kept, as in scikit-learn). Fitting is bit-identical for a seed whatever the thread
 * count. Conventions (matrix, class indices, save/load, errors) are those of ibx/ml.h. */
#ifndef IBX_GBT_H
#define IBX_GBT_H

#include <ibx/buf.h>
#include <ibx/ml.h>

#include <stddef.h>
#include <stdint.h>

struct gbt_params {
    enum ml_task task;
    size_t nclasses;            /* classification: >= 2 */
    double learning_rate;       /* (0, 1] */
    size_t max_iter;            /* boosting rounds, >= 1 */
    size_t max_depth;           /* 0: unlimited */
    size_t max_leaves;          /* leaves per tree, 0: unlimited (then max_depth must be set) */
    size_t min_samples_leaf;    /* >= 1 */
    double min_child_weight;    /* minimum hessian sum in a child, >= 0 */
    double l2;                  /* L2 regularisation of leaf values, >= 0 */
    double min_split_gain;      /* a split must gain more than this, >= 0 */
    size_t max_bins;            /* 2..255 value bins (missing values get one more) */
    int early_stopping;         /* 1 on, 0 off, -1 auto (on when n > 10000) */
    size_t n_iter_no_change;    /* >= 1 */
    double validation_fraction; /* (0, 1) */
    double tol;                 /* >= 0 */
    uint64_t random_state;
};

/* One node of a fitted tree (read-only). Leaves have feature == -1; a row goes left when
 * x[feature] <= threshold (models imported from XGBoost: when (float)x < threshold), and
 * to the default side when the value is NaN. value is the leaf's contribution to the raw
 * score (learning rate included) or, for an internal node, what it would have been; cover
 * is the hessian sum, gain the split's loss reduction. */
struct gbt_node {
    int32_t feature;
    int32_t left;
    int32_t right;
    uint32_t default_left;
    double threshold;
    double value;
    double gain;
    double cover;
};

struct gbt_model;

/* scikit-learn's HistGradientBoosting defaults: learning rate 0.1, 100 rounds, 31 leaves,
 * unlimited depth, min_samples_leaf 20, min_child_weight 1e-3, l2 0, 255 bins, early
 * stopping auto with 10 rounds, validation fraction 0.1, tol 1e-7, random_state 0. */
void gbt_params_default(struct gbt_params *params, enum ml_task task, size_t nclasses);

/* Fit on X (n x p, borrowed; NaN allowed) and y (n, borrowed). ctrl may be NULL; progress
 * reports rounds done out of max_iter. *out is the caller's (gbt_free). 0, -EINVAL, -ENOMEM,
 * -EAGAIN, -ECANCELED. */
int gbt_fit(const struct gbt_params *params, const struct ml_matrix *x, const double *y,
            const struct ml_control *ctrl, struct gbt_model **out) ML_WUR;
void gbt_free(struct gbt_model *model);

/* Raw scores (margins): x->n * gbt_n_outputs values. Batches of 8192 rows or more are
 * spread over the online CPUs (same results). */
int gbt_predict_raw(const struct gbt_model *model, const struct ml_matrix *x, double *out) ML_WUR;
/* Class probabilities x->n * nclasses (classification only). */
int gbt_predict_proba(const struct gbt_model *model, const struct ml_matrix *x, double *out) ML_WUR;
/* x->n class indices (ties to the lowest) or regression values. */
int gbt_predict(const struct gbt_model *model, const struct ml_matrix *x, double *out) ML_WUR;

/* Total split gain per feature, normalised to sum 1 (all zeros without splits). */
void gbt_feature_importance(const struct gbt_model *model, double *out);

enum ml_task gbt_task(const struct gbt_model *model);
size_t gbt_n_features(const struct gbt_model *model);
size_t gbt_n_classes(const struct gbt_model *model); /* 0 for regression */
/* Raw scores per row: 1 (binary, regression) or nclasses. */
size_t gbt_n_outputs(const struct gbt_model *model);
size_t gbt_n_iter(const struct gbt_model *model); /* rounds kept */
size_t gbt_n_trees(const struct gbt_model *model);
/* 1 when splits compare as XGBoost's ((float)x < threshold, raw scores summed in float:
 * models from xgbimport_load), 0 for x <= threshold in double (our own fits). */
int gbt_xgboost_rule(const struct gbt_model *model);
/* The starting raw score of each output (gbt_n_outputs values, borrowed). */
const double *gbt_base_score(const struct gbt_model *model);
/* Tree i's nodes (root first, borrowed) and the output it adds to. NULL when i is out of
 * range. */
const struct gbt_node *gbt_tree(const struct gbt_model *model, size_t i, size_t *count,
                                size_t *output);
/* The validation losses of the rounds run with early stopping (count values; NULL and 0
 * without early stopping). Borrowed. */
const double *gbt_validation_loss(const struct gbt_model *model, size_t *count);

/* Append the encoding to out: 0, -EMSGSIZE, -ENOMEM. */
int gbt_save(const struct gbt_model *model, struct buf *out) ML_WUR;
/* Read one encoding from data[0..len) (borrowed); *used (may be NULL, then the encoding
 * must fill len exactly) is set to the bytes read. -EINVAL for anything truncated,
 * tampered or inconsistent; -ENOMEM. */
int gbt_load(const void *data, size_t len, size_t *used, struct gbt_model **out) ML_WUR;

#endif
