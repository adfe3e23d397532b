/* forest: random forests (classification and regression) of CART trees (ibx/tree.h).
 *
 * Trees are grown in parallel on ml_control.threads threads from one shared binning of the
 * features; tree t draws its bootstrap sample and its candidate features from the stream
 * (random_state, t) of mlrand, so a forest is bit-identical for a given seed whatever the
 * thread count. Probabilities (and regression values) are the mean over trees, as in
 * scikit-learn. Conventions (matrix, class indices, save/load, errors) are those of
 * ibx/ml.h; a fitted forest is immutable and safe to share between predicting threads. */
#ifndef IBX_FOREST_H
#define IBX_FOREST_H

#include <ibx/buf.h>
#include <ibx/ml.h>
#include <ibx/tree.h>

#include <stddef.h>
#include <stdint.h>

struct forest_params {
    /* Per-tree settings: task, nclasses, criterion, max_depth, min_samples_split,
     * min_samples_leaf, max_features (its random_state is not used). */
    struct tree_params tree;
    size_t n_estimators; /* >= 1 */
    int bootstrap;       /* draw each tree's rows with replacement */
    /* Rows drawn per tree when bootstrapping: 0 = n; in (0, 1] a fraction of n (rounded,
     * at least 1); > 1 a count (an integer <= n). */
    double max_samples;
    int oob_score; /* compute the out-of-bag score (needs bootstrap) */
    uint64_t random_state;
};

struct forest_model;

/* scikit-learn's defaults: 100 trees, bootstrap, max_features sqrt for classification and
 * all features for regression, the tree defaults otherwise, no OOB score. */
void forest_params_default(struct forest_params *params, enum ml_task task, size_t nclasses);

/* Fit on X (n x p, borrowed) and y (n, borrowed). ctrl may be NULL; progress reports trees
 * finished (called on the calling thread), cancel stops all workers. *out is the caller's
 * (forest_free). 0, -EINVAL, -ENOMEM, -EAGAIN (no thread could start), -ECANCELED. */
int forest_fit(const struct forest_params *params, const struct ml_matrix *x, const double *y,
               const struct ml_control *ctrl, struct forest_model **out) ML_WUR;
void forest_free(struct forest_model *model);

/* predict writes x->n values (class index: the argmax of the mean probabilities, ties to
 * the lowest; or the mean value); predict_proba x->n * nclasses. Batches of 8192 rows or
 * more are spread over the online CPUs (same results). -EINVAL on a column count mismatch,
 * NaN, or predict_proba on a regression forest; -ENOMEM. */
int forest_predict(const struct forest_model *model, const struct ml_matrix *x, double *out) ML_WUR;
int forest_predict_proba(const struct forest_model *model, const struct ml_matrix *x,
                         double *out) ML_WUR;

/* Mean of the trees' normalised importances (single-leaf trees left out), normalised to
 * sum 1 (all zeros when no tree split). out has n_features entries. */
void forest_feature_importance(const struct forest_model *model, double *out);
/* The out-of-bag accuracy (classification) or R^2 (regression) over the rows that were
 * out of bag for at least one tree. -ENOENT when it was not computed. */
int forest_oob_score(const struct forest_model *model, double *out) ML_WUR;

enum ml_task forest_task(const struct forest_model *model);
size_t forest_n_features(const struct forest_model *model);
size_t forest_n_classes(const struct forest_model *model); /* 0 for regression */
size_t forest_n_trees(const struct forest_model *model);
/* Tree i (borrowed from the forest), for inspection, JSON and SHAP. */
const struct tree_model *forest_tree(const struct forest_model *model, size_t i);

/* Append the encoding to out: 0, -EMSGSIZE, -ENOMEM. */
int forest_save(const struct forest_model *model, struct buf *out) ML_WUR;
/* Read one encoding from data[0..len) (borrowed); *used (may be NULL, then the encoding
 * must fill len exactly) is set to the bytes read. -EINVAL for anything truncated,
 * tampered or inconsistent; -ENOMEM. */
int forest_load(const void *data, size_t len, size_t *used, struct forest_model **out) ML_WUR;

#endif
