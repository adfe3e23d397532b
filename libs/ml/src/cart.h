/* cart: growing one CART tree on binned features; shared by tree.c and forest.c (internal).
 *
 * struct tree_model is defined here so that the decision tree and the random forest share
 * one fitted-tree representation, one predictor and one encoding. */
#ifndef IBX_CART_H
#define IBX_CART_H

#include <ibx/tree.h>
#include <ibx/mlrand.h>

#include "mlbin.h"
#include <ibx/mlenc.h>

#include <stddef.h>
#include <stdint.h>

/* The nodes laid out for branch-free prediction: a leaf points to itself. */
struct cart_flat {
    double threshold;
    int32_t feature;
    int32_t left;
    int32_t right;
    int32_t pad;
};

struct tree_model {
    enum ml_task task;
    enum tree_criterion criterion;
    size_t p;
    size_t nclasses; /* 0 for regression */
    size_t width;    /* values per node: nclasses or 1 */
    size_t n_nodes;
    size_t cap;
    struct tree_node *nodes;
    double *values;         /* n_nodes * width */
    double *importance;     /* p: total weighted impurity decrease (not normalised) */
    struct cart_flat *flat; /* n_nodes, built by cart_finish */
    size_t depth;
};

/* The binned training data: codes[f * n + i] for binned row i. */
struct cart_data {
    const uint8_t *codes;
    size_t n;
    size_t p;
    const struct mlbin *bins;
    const double *y; /* n */
    const double *w; /* n weights (bootstrap counts), or NULL for all ones */
};

struct cart_config {
    enum ml_task task;
    enum tree_criterion criterion;
    size_t nclasses;
    size_t max_depth; /* 0: unlimited */
    size_t min_samples_split;
    size_t min_samples_leaf;
    size_t max_features; /* resolved count, 1..p */
    const volatile int *cancel;
};

/* Grow a tree on rows[0..nrows) (distinct binned rows with non-zero weight, ascending;
 * reordered in place) into out, which must be zeroed (cart_model_init). rng draws the
 * candidate features. pool (may be NULL) searches a large node's features in parallel when
 * all are candidates; the tree is the same for any thread count. 0, -ENOMEM, -ECANCELED. */
int cart_grow(const struct cart_data *d, const struct cart_config *c, size_t *rows, size_t nrows,
              struct mlrand *rng, struct mlpool *pool, struct tree_model *out)
    __attribute__((warn_unused_result));

int cart_model_init(struct tree_model *m, enum ml_task task, enum tree_criterion criterion,
                    size_t p, size_t nclasses) __attribute__((warn_unused_result));
void cart_model_release(struct tree_model *m);

/* Build the prediction layout once the nodes are final. 0 or -ENOMEM. */
int cart_finish(struct tree_model *m) __attribute__((warn_unused_result));
/* Leaf index of each of n rows starting at x (row stride p). */
void cart_leaves(const struct tree_model *m, const double *x, size_t n, size_t p, size_t *leaf);

/* Add this tree's per-row prediction (class probabilities or value) times scale to out
 * (n * width). */
void cart_accumulate(const struct tree_model *m, const struct ml_matrix *x, double scale,
                     double *out);
/* Encode the tree body (no magic/checksum) / decode and validate it. */
void cart_encode(const struct tree_model *m, struct mlenc_writer *w);
int cart_decode(struct mlenc_reader *r, struct tree_model *m) __attribute__((warn_unused_result));
/* Normalised importance of one tree (sums to 1 or all zeros) into out (p). */
void cart_importance(const struct tree_model *m, double *out);
/* Validate tree parameters for p features / finite X and y (class indices in
 * [0, nclasses) for classification). 0 or -EINVAL. */
int cart_check_params(const struct tree_params *pr, size_t p) __attribute__((warn_unused_result));
int cart_check_data(const struct ml_matrix *x, const double *y, enum ml_task task, size_t nclasses)
    __attribute__((warn_unused_result));
/* 0 when X is usable for prediction with this model (matching p, no NaN in the way). */
int cart_check_matrix(const struct tree_model *m, const struct ml_matrix *x);

#endif
