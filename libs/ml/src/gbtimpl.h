/* gbtimpl: the fitted gradient-boosted model shared by gbt.c (fitting), gbtmodel.c
 * (prediction, save/load) and xgbimport.c (internal). */
#ifndef IBX_GBTIMPL_H
#define IBX_GBTIMPL_H

#include <ibx/gbt.h>

#include <stddef.h>
#include <stdint.h>

enum gbt_objective { GBT_OBJ_LOGISTIC = 1, GBT_OBJ_SOFTMAX = 2, GBT_OBJ_SQUARED = 3 };
/* How a split compares: ours (x <= threshold in double) or XGBoost's ((float)x < threshold,
 * with the raw score summed in float as XGBoost does). */
enum gbt_rule { GBT_RULE_LE = 0, GBT_RULE_XGB = 1 };

/* The nodes laid out for branch-free prediction: a leaf points to itself. */
struct gbt_flat {
    double threshold;
    float fthreshold; /* the threshold as float, for GBT_RULE_XGB */
    int32_t feature;
    int32_t left;
    int32_t right;
    uint32_t default_left;
    uint32_t pad;
};

struct gbt_tree {
    struct gbt_node *nodes;
    size_t n_nodes;
    size_t output;
    struct gbt_flat *flat;
    size_t depth;
};

struct gbt_model {
    enum ml_task task;
    enum gbt_objective objective;
    enum gbt_rule rule;
    size_t p;
    size_t nclasses; /* 0 for regression */
    size_t k;        /* raw outputs per row */
    double *base;    /* k */
    size_t n_iter;
    struct gbt_tree *trees;
    size_t n_trees;
    size_t cap;
    double *val_loss;
    size_t n_val_loss;
};

/* A model with no trees: base scores zero. NULL on -ENOMEM. */
struct gbt_model *gbt_model_new(enum ml_task task, enum gbt_objective objective, size_t p,
                                size_t nclasses);
/* Append a tree (takes ownership of nodes, which were malloc'ed, also on failure). */
int gbt_model_add(struct gbt_model *m, struct gbt_node *nodes, size_t n_nodes, size_t output)
    __attribute__((warn_unused_result));
/* Check that a tree is well formed for the model (links, features, finite numbers). */
int gbt_tree_check(const struct gbt_model *m, const struct gbt_node *nodes, size_t n)
    __attribute__((warn_unused_result));
/* Add trees [from, to) to raw scores (n * k, already holding the base or earlier sums). */
void gbt_model_accumulate(const struct gbt_model *m, const struct ml_matrix *x, size_t from,
                          size_t to, double *raw);
/* Turn raw scores into probabilities in place (n rows of k) / the loss of raw vs y. */
void gbt_model_link(const struct gbt_model *m, double *raw, size_t n, double *proba);
double gbt_model_loss(const struct gbt_model *m, const double *raw, const double *y, size_t n);

#endif
