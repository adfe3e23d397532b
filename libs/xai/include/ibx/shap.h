/* shap: Shapley-value attributions: exact TreeSHAP (path-dependent and interventional,
 * interaction values), Linear SHAP, and KernelSHAP for any model.
 *
 * TreeSHAP (Lundberg et al. 2020, "From local explanations to global understanding with
 * explainable AI for trees") explains decision trees, random forests and gradient-boosted
 * trees, ours and imported XGBoost models, in the space the trees add up in:
 *   decision_tree, random_forest  classification: the class probabilities (k = nclasses,
 *                                 XAI_SPACE_PROBABILITY; a forest is the mean of its
 *                                 trees); regression: the value (k = 1)
 *   gradient_boosting             the raw margin: binary log-odds of class 1 (k = 1,
 *                                 XAI_SPACE_LOG_ODDS), multiclass one margin per class
 *                                 (k = nclasses, XAI_SPACE_MARGIN, before softmax),
 *                                 regression the value (k = 1); base_score included in
 *                                 the base value (as XGBoost's bias column)
 * Path-dependent: the value of a coalition S is the tree's conditional expectation
 * E[f(x) | x_S] estimated along the tree: at a split on a feature in S follow x, otherwise
 * average both children weighted by their training cover (tree_node.weight, the weighted
 * rows, bootstrap counts included; gbt_node.cover, the hessian sum, as XGBoost). The base
 * value is the cover-weighted mean of the leaves. Exact Shapley values of that game,
 * computed in polynomial time: Lundberg's algorithm (O(L D^2) per tree and row), or, when
 * a tree's tables fit and enough rows are explained, the same values from per-leaf tables
 * precomputed once (Yang 2021, "Fast TreeSHAP" v2; O(L D) per tree and row); both agree to
 * rounding. Interventional: the value of S is the mean over a background set of
 * f(x_S, b_rest) (x's values for S, the background row's for the others), computed exactly
 * per (row, background row) pair by one tree walk (O(L) per pair); base value the mean
 * prediction over the background. NaN follows each split's missing-value rule (boosted
 * trees; our CART trees reject NaN with -EINVAL). prediction is the model's own output
 * (its predict_proba or raw score; imported XGBoost models sum in float as XGBoost does,
 * so their residual is about 1e-7 rather than 1e-15).
 *
 * Linear SHAP (features independent): for output j, value_f = coef[j][f] * (x_f - mean_f)
 * with mean the background's weighted mean; base = intercept + coef . mean. Linear and
 * ridge regression: the value (k = 1); logistic regression: the log-odds of class 1 (k =
 * 1) or, multiclass, each class's linear score (k = nclasses, XAI_SPACE_MARGIN).
 *
 * KernelSHAP (Lundberg and Lee 2017) for any struct xai_predictor: the value of S is the
 * weighted mean over the background of f(x_S, b_rest). Features equal to x in every
 * background row get 0 and are left out of the game (M = the others). With nsamples
 * coalitions (0: 2 M + 2048): when 2^M - 2 <= nsamples every coalition is enumerated with
 * its exact Shapley-kernel weight, and the values are the exact Shapley values; otherwise
 * coalition sizes are enumerated whole from the outside in (1 and M-1, 2 and M-2, ...)
 * while the budget covers a size completely, and the rest is drawn at random from the
 * kernel's size distribution, each subset with its complement (paired sampling), repeats
 * merged. The weighted least squares fit is constrained so that the values sum exactly to
 * f(x) - E[f] (the constraint is eliminated, the normal equations solved by Cholesky with
 * a tiny ridge only when singular). Seeded per row: (seed, row index). */
#ifndef IBX_SHAP_H
#define IBX_SHAP_H

#include <ibx/forest.h>
#include <ibx/gbt.h>
#include <ibx/learner.h>
#include <ibx/ml.h>
#include <ibx/tree.h>
#include <ibx/xai.h>

#include <stddef.h>
#include <stdint.h>

/* ---- TreeSHAP ---- */

/* A tree ensemble laid out for explanation (a copy: independent of the model afterwards).
 * Immutable once built and safe to share between threads. */
struct shap_trees;

/* From a learner handle (borrowed for the call): decision_tree, random_forest and
 * gradient_boosting; -ENOTSUP for the others. *out is the caller's (shap_trees_free).
 * 0, -ENOTSUP, -ENOMEM. */
int shap_trees_from_learner(const struct learner_model *m, struct shap_trees **out) XAI_WUR;
int shap_trees_from_tree(const struct tree_model *m, struct shap_trees **out) XAI_WUR;
int shap_trees_from_forest(const struct forest_model *m, struct shap_trees **out) XAI_WUR;
int shap_trees_from_gbt(const struct gbt_model *m, struct shap_trees **out) XAI_WUR;
void shap_trees_free(struct shap_trees *t);

size_t shap_trees_n_features(const struct shap_trees *t);
size_t shap_trees_n_outputs(const struct shap_trees *t);
size_t shap_trees_n_trees(const struct shap_trees *t);
enum xai_space shap_trees_space(const struct shap_trees *t);
/* The path-dependent base value of each output (k values into out). */
void shap_trees_expected_value(const struct shap_trees *t, double *out);
/* The ensemble's output for rows x (x->n * k into out), summed in float64 leaf by leaf
 * (what the attributions add up to). -EINVAL on a shape mismatch. */
int shap_trees_predict(const struct shap_trees *t, const struct ml_matrix *x, double *out) XAI_WUR;

/* Path-dependent TreeSHAP of every row of x into *out (method XAI_TREE_SHAP). ctl may be
 * NULL. -EINVAL when x->p differs from the model's features or a CART model sees NaN. */
int shap_tree(const struct shap_trees *t, const struct ml_matrix *x, const struct ml_control *ctl,
              struct xai_attrib *out) XAI_WUR;

/* The same with the algorithm chosen: AUTO picks per tree whichever is cheaper for
 * x->n rows (tables within their memory bounds: at most 20 distinct features on a path,
 * 2^20 cells per tree, 2^24 for the ensemble); RECURSIVE always uses Lundberg's
 * recursion; TABLES uses tables wherever they fit (benchmarks and tests). The values
 * agree to rounding (about 1e-15 relative). */
enum shap_tree_algo { SHAP_TREE_AUTO = 0, SHAP_TREE_RECURSIVE = 1, SHAP_TREE_TABLES = 2 };
int shap_tree_with(const struct shap_trees *t, const struct ml_matrix *x, enum shap_tree_algo algo,
                   const struct ml_control *ctl, struct xai_attrib *out) XAI_WUR;

/* Interventional TreeSHAP against bg (borrowed; bg->p features) into *out (method
 * XAI_TREE_SHAP_INTERVENTIONAL). Cost grows with bg->n: summarise large sets first
 * (xai_background_sample or _kmeans; 100 to 1000 rows is usual). */
int shap_tree_interventional(const struct shap_trees *t, const struct xai_background *bg,
                             const struct ml_matrix *x, const struct ml_control *ctl,
                             struct xai_attrib *out) XAI_WUR;

/* SHAP interaction values (path-dependent; Lundberg et al. 2020): for f != g,
 * values[f][g] = values[g][f] = (phi_f with g always present - phi_f with g always
 * absent) / 2, the Shapley interaction index split evenly between the pair; the diagonal
 * is the main effect phi_f - sum over g != f of values[f][g], so each row of the matrix
 * sums to the SHAP value phi_f and the whole matrix to pred - base. Owns its arrays
 * (shap_interactions_release; accepts a zeroed struct). Cost: p + 1 times shap_tree. */
struct shap_interactions {
    size_t n, k, p;
    double *values; /* [n][k][p][p], row-major */
    double *base;   /* [n][k] */
    double *pred;   /* [n][k] */
    double *residual;
    double max_abs_residual;
};
void shap_interactions_release(struct shap_interactions *s);
int shap_tree_interactions(const struct shap_trees *t, const struct ml_matrix *x,
                           const struct ml_control *ctl, struct shap_interactions *out) XAI_WUR;

/* ---- Linear SHAP ---- */

/* Linear SHAP of rows x for a linear_regression, ridge_regression or logistic_regression
 * learner (borrowed) against bg's weighted mean (borrowed). -ENOTSUP for other learners,
 * -EINVAL on shape mismatch. */
int shap_linear(const struct learner_model *m, const struct xai_background *bg,
                const struct ml_matrix *x, struct xai_attrib *out) XAI_WUR;

/* The same from coefficients: k rows of p coefficients (coef, row-major), k intercepts,
 * the feature means (p values), the space of the outputs. All borrowed. */
int shap_linear_coef(const double *coef, const double *intercept, size_t k, const double *mean,
                     enum xai_space space, const struct ml_matrix *x,
                     struct xai_attrib *out) XAI_WUR;

/* ---- KernelSHAP ---- */

#define SHAP_KERNEL_MAX_FEATURES 4096

struct shap_kernel_opts {
    size_t nsamples; /* coalitions per row; 0: 2 M + 2048 */
    uint64_t seed;
};
void shap_kernel_opts_default(struct shap_kernel_opts *o);

/* KernelSHAP of rows x (x->p == f->p == bg->p, at most SHAP_KERNEL_MAX_FEATURES) for
 * predictor f (borrowed) against bg (borrowed) into *out (method XAI_KERNEL_SHAP, space
 * f->space, k = f->k; base = the weighted mean prediction over bg; pred = f(x)). o may be
 * NULL (defaults). Model evaluations per row: about nsamples * bg->n, in batches. */
int shap_kernel(const struct xai_predictor *f, const struct xai_background *bg,
                const struct ml_matrix *x, const struct shap_kernel_opts *o,
                const struct ml_control *ctl, struct xai_attrib *out) XAI_WUR;

#endif
