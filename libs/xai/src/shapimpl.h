/* shapimpl: the tree ensemble layout shared by the TreeSHAP sources (shaptrees.c,
 * treeshap.c, treeshapiv.c). Internal to libs/xai. */
#ifndef IBX_SHAPIMPL_H
#define IBX_SHAPIMPL_H

#include <ibx/shap.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* One node, children after their parent (preorder). Leaves have feat -1 and leaf >= 0:
 * their values are at tree.values[leaf * width]. zl and zr are the children's shares of
 * the node's cover (the path-dependent "zero fractions"). */
struct st_node {
    double thr; /* x <= thr (our trees) */
    double zl, zr;
    int32_t feat; /* -1: leaf */
    int32_t left, right;
    int32_t leaf; /* leaf number, or -1 */
    float fthr;   /* (float)x < fthr (XGBoost) */
    uint8_t dl;   /* NaN goes left */
};

struct st_tree {
    struct st_node *nodes;
    size_t n_nodes;
    size_t n_leaves;
    double *values;    /* n_leaves * width leaf values */
    size_t out0;       /* the outputs this tree adds to: out0 .. out0 + width - 1 */
    size_t depth;      /* longest root-to-leaf path, in edges */
    double *mean;      /* width: the cover-weighted mean of the leaves */
    int32_t *features; /* the distinct features split on, ascending */
    size_t n_features;
};

struct shap_trees {
    size_t p, k, width; /* features, outputs, values per leaf (1 or k) */
    enum xai_space space;
    int xgb;        /* XGBoost's split rule and float sums */
    int nan_ok;     /* boosted trees send NaN to a default side; CART rejects it */
    double scale;   /* applied to the sum over trees (1 / trees for a forest) */
    double *offset; /* k: added after scaling (a boosted model's base score) */
    struct st_tree *trees;
    size_t n_trees;
    size_t max_depth;
};

static inline int st_goes_left(const struct st_node *nd, double v, int xgb)
{
    if (isnan(v))
        return nd->dl;
    return xgb ? (float)v < nd->fthr : v <= nd->thr;
}

/* -EINVAL when x has the wrong width, or NaN for a model that cannot take it. */
int st_check_matrix(const struct shap_trees *t, const struct ml_matrix *x) XAI_WUR;

/* The ensemble's outputs for one row (k values), as the model computes them. */
void st_predict_row(const struct shap_trees *t, const double *x, double *out);

/* The leaf row x reaches in tree tr. */
static inline int32_t st_leaf_of(const struct st_tree *tr, const double *x, int xgb)
{
    int32_t n = 0;
    while (tr->nodes[n].feat >= 0) {
        const struct st_node *nd = &tr->nodes[n];
        n = st_goes_left(nd, x[nd->feat], xgb) ? nd->left : nd->right;
    }
    return n;
}

#endif
