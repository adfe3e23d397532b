/* tree: CART decision trees for classification (gini, entropy) and regression (squared
 * error), with scikit-learn's parameters and semantics.
 *
 * Split search runs on quantile-binned features (at most 255 bins; a feature with no more
 * distinct values than that is searched exactly), and every threshold is the midpoint
 * between two real training values, so a fitted tree predicts on raw values like
 * scikit-learn's exact CART. Conventions (matrix, class indices, save/load, errors) are
 * those of ibx/ml.h. A struct tree_model is immutable once fitted: concurrent predictions
 * on one model are safe. NaN in X is rejected (-EINVAL). */
#ifndef IBX_TREE_H
#define IBX_TREE_H

#include <ibx/buf.h>
#include <ibx/ml.h>

#include <stddef.h>
#include <stdint.h>

enum tree_criterion { TREE_GINI = 1, TREE_ENTROPY = 2, TREE_SQUARED_ERROR = 3 };

/* How many features each split considers (drawn at random per node, scikit-learn rule:
 * constant features do not count until one non-constant feature was seen). */
enum tree_max_features {
    TREE_MF_ALL = 0,
    TREE_MF_SQRT = 1,     /* max(1, floor(sqrt(p))) */
    TREE_MF_LOG2 = 2,     /* max(1, floor(log2(p))) */
    TREE_MF_FRACTION = 3, /* max(1, floor(value * p)), 0 < value <= 1 */
    TREE_MF_COUNT = 4     /* value features, 1 <= value <= p */
};

struct tree_params {
    enum ml_task task;
    size_t nclasses;               /* classification: >= 2; ignored for regression */
    enum tree_criterion criterion; /* gini/entropy (classification), squared error */
    size_t max_depth;              /* 0: unlimited */
    size_t min_samples_split;      /* >= 2 */
    size_t min_samples_leaf;       /* >= 1 */
    enum tree_max_features max_features;
    double max_features_value; /* for TREE_MF_FRACTION and TREE_MF_COUNT */
    uint64_t random_state;
};

/* One node of a fitted tree (read-only view). Leaves have feature == -1 and no children.
 * A row goes left when x[feature] <= threshold. weight is the weighted number of training
 * rows (bootstrap counts in a forest), samples the number of distinct rows. */
struct tree_node {
    int32_t feature;
    int32_t left;
    int32_t right;
    uint32_t samples;
    double threshold;
    double impurity;
    double weight;
};

struct tree_model;

/* scikit-learn's defaults: gini or squared error, unlimited depth, min_samples_split 2,
 * min_samples_leaf 1, all features, random_state 0. */
void tree_params_default(struct tree_params *params, enum ml_task task, size_t nclasses);
/* The number of features a split considers for p features (>= 1), or 0 when the setting is
 * invalid. */
size_t tree_resolve_max_features(enum tree_max_features mf, double value, size_t p);

/* Fit on X (n x p, borrowed) and y (n, borrowed). ctrl may be NULL (no progress, no
 * cancel, threads as for 0); a single tree uses the threads only to bin the features.
 * *out is the caller's (tree_free). 0, -EINVAL, -ENOMEM, -ECANCELED. */
int tree_fit(const struct tree_params *params, const struct ml_matrix *x, const double *y,
             const struct ml_control *ctrl, struct tree_model **out) ML_WUR;
void tree_free(struct tree_model *model);

/* predict writes x->n values; predict_proba x->n * nclasses (classification only).
 * -EINVAL when the column count differs from training. */
int tree_predict(const struct tree_model *model, const struct ml_matrix *x, double *out) ML_WUR;
int tree_predict_proba(const struct tree_model *model, const struct ml_matrix *x,
                       double *out) ML_WUR;

/* Impurity-based importance, normalised like scikit-learn's feature_importances_ (sums to
 * 1, all zeros for a single-leaf tree); out has n_features entries. */
void tree_feature_importance(const struct tree_model *model, double *out);

/* The tree as JSON for a viewer: {"n_nodes", "n_features", "task", "classes"?,
 * "truncated", "nodes": [{"id", "feature", "feature_name"?, "threshold", "impurity",
 * "samples", "weight", "value": [...], "left", "right"}]}, nodes in breadth-first order
 * with ids renumbered in that order. At most max_nodes nodes are written: a node whose
 * children were cut is written as a leaf with "truncated": true. feature_names may be NULL
 * (else n_features strings, borrowed). Appends to out: 0, -EMSGSIZE, -ENOMEM, -EINVAL. */
int tree_to_json(const struct tree_model *model, const char *const *feature_names, size_t max_nodes,
                 struct buf *out) ML_WUR;

/* Append the encoding (ibx/mlenc.h envelope) to out: 0, -EMSGSIZE, -ENOMEM. */
int tree_save(const struct tree_model *model, struct buf *out) ML_WUR;
/* Read one encoding from data[0..len) (borrowed). *used (may be NULL, then the encoding must
 * fill len exactly) is set to the bytes read. -EINVAL for anything truncated, tampered or
 * inconsistent; -ENOMEM. */
int tree_load(const void *data, size_t len, size_t *used, struct tree_model **out) ML_WUR;

enum ml_task tree_task(const struct tree_model *model);
size_t tree_n_features(const struct tree_model *model);
size_t tree_n_classes(const struct tree_model *model); /* 0 for regression */
size_t tree_depth(const struct tree_model *model);
size_t tree_n_leaves(const struct tree_model *model);
/* The nodes (root first) and their values: node i has value_width values starting at
 * values[i * value_width]: weighted class counts (classification) or the mean target
 * (regression, width 1). Borrowed from the model. */
const struct tree_node *tree_nodes(const struct tree_model *model, size_t *count);
const double *tree_values(const struct tree_model *model, size_t *value_width);

#endif
