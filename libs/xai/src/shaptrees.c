/* shaptrees: tree ensembles (CART trees, forests, boosted trees) laid out for TreeSHAP. */
#include "shapimpl.h"
#include "xaiimpl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A node as the source model gives it; value points at width leaf values (leaves). */
struct src_node {
    int32_t feat, left, right;
    uint8_t dl;
    double thr, cover;
    const double *value;
};

static void st_tree_release(struct st_tree *tr)
{
    free(tr->nodes);
    free(tr->values);
    free(tr->mean);
    free(tr->features);
    memset(tr, 0, sizeof *tr);
}

/* Preorder renumbering: order[i] is the source node of new node i; map the reverse. Fails
 * (-EINVAL) when the links do not form a tree rooted at 0. */
static int st_preorder(const struct src_node *src, size_t n, int32_t *order, int32_t *map,
                       size_t *len_out)
{
    int32_t *stack = malloc(n * sizeof *stack);
    if (!stack)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        map[i] = -1;
    size_t top = 0, len = 0;
    stack[top++] = 0;
    int rc = 0;
    while (top && rc == 0) {
        int32_t s = stack[--top];
        if (s < 0 || (size_t)s >= n || map[s] != -1) {
            rc = -EINVAL;
            break;
        }
        map[s] = (int32_t)len;
        order[len++] = s;
        if (src[s].feat >= 0) { /* right pushed first: left comes next in preorder */
            stack[top++] = src[s].right;
            stack[top++] = src[s].left;
            rc = top <= n ? 0 : -EINVAL;
        }
    }
    free(stack);
    *len_out = len;
    return rc;
}

/* Depth, cover-weighted means and the distinct features of a built tree. */
static int st_tree_summary(struct st_tree *tr, size_t width, size_t p)
{
    size_t n = tr->n_nodes;
    double *mean = calloc(n * width, sizeof *mean);
    size_t *depth = calloc(n, sizeof *depth);
    uint8_t *used = calloc(p, 1);
    int rc = mean && depth && used ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) { /* parents first */
        const struct st_node *nd = &tr->nodes[i];
        if (nd->feat < 0) {
            tr->depth = depth[i] > tr->depth ? depth[i] : tr->depth;
            continue;
        }
        depth[nd->left] = depth[nd->right] = depth[i] + 1;
        used[nd->feat] = 1;
    }
    for (size_t i = n; rc == 0 && i-- > 0;) { /* children first */
        const struct st_node *nd = &tr->nodes[i];
        double *m = mean + i * width;
        for (size_t j = 0; j < width; j++)
            m[j] = nd->feat < 0 ? tr->values[(size_t)nd->leaf * width + j]
                                : nd->zl * mean[(size_t)nd->left * width + j] +
                                      nd->zr * mean[(size_t)nd->right * width + j];
    }
    size_t nf = 0;
    for (size_t f = 0; rc == 0 && f < p; f++)
        nf += used[f];
    tr->features = rc ? NULL : malloc((nf ? nf : 1) * sizeof *tr->features);
    tr->mean = rc ? NULL : malloc(width * sizeof *tr->mean);
    rc = rc ? rc : tr->features && tr->mean ? 0 : -ENOMEM;
    for (size_t f = 0; rc == 0 && f < p; f++)
        if (used[f])
            tr->features[tr->n_features++] = (int32_t)f;
    if (rc == 0)
        memcpy(tr->mean, mean, width * sizeof *mean);
    free(mean);
    free(depth);
    free(used);
    return rc;
}

/* One node of the layout from its source node. */
static void st_fill_node(const struct src_node *src, const struct src_node *s, const int32_t *map,
                         struct st_node *nd)
{
    *nd = (struct st_node){.feat = -1, .left = -1, .right = -1, .leaf = -1};
    if (s->feat < 0)
        return;
    nd->feat = s->feat;
    nd->left = map[s->left];
    nd->right = map[s->right];
    nd->thr = s->thr;
    nd->fthr = (float)s->thr;
    nd->dl = s->dl;
    double cl = src[s->left].cover, cr = src[s->right].cover;
    if (s->cover > 0.0) {
        nd->zl = cl / s->cover;
        nd->zr = cr / s->cover;
    } else {
        nd->zl = nd->zr = 0.5; /* no training weight: both sides alike */
    }
}

static int st_tree_build(const struct src_node *src, size_t n, size_t width, size_t p,
                         struct st_tree *out)
{
    struct st_tree tr = {0};
    int32_t *order = malloc(n * sizeof *order), *map = malloc(n * sizeof *map);
    tr.nodes = calloc(n, sizeof *tr.nodes);
    int rc = order && map && tr.nodes ? 0 : -ENOMEM;
    rc = rc ? rc : st_preorder(src, n, order, map, &tr.n_nodes);
    for (size_t i = 0; rc == 0 && i < tr.n_nodes; i++) {
        const struct src_node *s = &src[order[i]];
        rc = s->feat < (int32_t)p ? 0 : -EINVAL;
        st_fill_node(src, s, map, &tr.nodes[i]);
        tr.n_leaves += s->feat < 0;
    }
    tr.values = rc ? NULL : malloc((tr.n_leaves ? tr.n_leaves : 1) * width * sizeof *tr.values);
    rc = rc ? rc : tr.values ? 0 : -ENOMEM;
    size_t leaf = 0;
    for (size_t i = 0; rc == 0 && i < tr.n_nodes; i++) {
        const struct src_node *s = &src[order[i]];
        if (s->feat >= 0)
            continue;
        tr.nodes[i].leaf = (int32_t)leaf;
        memcpy(tr.values + leaf * width, s->value, width * sizeof *tr.values);
        leaf++;
    }
    rc = rc ? rc : st_tree_summary(&tr, width, p);
    free(order);
    free(map);
    if (rc) {
        st_tree_release(&tr);
        return rc;
    }
    *out = tr;
    return 0;
}

static struct shap_trees *st_new(size_t p, size_t k, size_t width, size_t n_trees)
{
    struct shap_trees *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->p = p;
    t->k = k;
    t->width = width;
    t->scale = 1.0;
    t->offset = calloc(k, sizeof *t->offset);
    t->trees = calloc(n_trees ? n_trees : 1, sizeof *t->trees);
    if (!t->offset || !t->trees) {
        shap_trees_free(t);
        return NULL;
    }
    return t;
}

void shap_trees_free(struct shap_trees *t)
{
    if (!t)
        return;
    for (size_t i = 0; t->trees && i < t->n_trees; i++)
        st_tree_release(&t->trees[i]);
    free(t->trees);
    free(t->offset);
    free(t);
}

/* Add one CART tree: leaf values are class shares (weighted counts / node weight, as
 * predict_proba) or the regression mean. */
static int st_add_cart(struct shap_trees *t, const struct tree_model *m)
{
    size_t n = 0, vw = 0;
    const struct tree_node *nodes = tree_nodes(m, &n);
    const double *vals = tree_values(m, &vw);
    struct src_node *src = malloc((n ? n : 1) * sizeof *src);
    double *leafv = malloc((n ? n : 1) * t->width * sizeof *leafv);
    int rc = src && leafv && n && vw == t->width ? 0 : src && leafv ? -EINVAL : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct tree_node *nd = &nodes[i];
        double f = nd->weight > 0.0 ? 1.0 / nd->weight : 0.0;
        for (size_t j = 0; j < t->width; j++)
            leafv[i * t->width + j] =
                t->space == XAI_SPACE_PROBABILITY ? f * vals[i * vw + j] : vals[i * vw + j];
        src[i] = (struct src_node){nd->feature,   nd->left,   nd->right,           0,
                                   nd->threshold, nd->weight, leafv + i * t->width};
    }
    rc = rc ? rc : st_tree_build(src, n, t->width, t->p, &t->trees[t->n_trees]);
    if (rc == 0)
        t->max_depth =
            t->trees[t->n_trees].depth > t->max_depth ? t->trees[t->n_trees].depth : t->max_depth;
    t->n_trees += rc == 0;
    free(src);
    free(leafv);
    return rc;
}

static void st_cart_shape(struct shap_trees *t, enum ml_task task)
{
    t->space = task == ML_CLASSIFICATION ? XAI_SPACE_PROBABILITY : XAI_SPACE_VALUE;
}

int shap_trees_from_tree(const struct tree_model *m, struct shap_trees **out)
{
    if (!m || !out)
        return -EINVAL;
    size_t k = tree_task(m) == ML_CLASSIFICATION ? tree_n_classes(m) : 1;
    struct shap_trees *t = st_new(tree_n_features(m), k, k, 1);
    if (!t)
        return -ENOMEM;
    st_cart_shape(t, tree_task(m));
    int rc = st_add_cart(t, m);
    if (rc) {
        shap_trees_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int shap_trees_from_forest(const struct forest_model *m, struct shap_trees **out)
{
    if (!m || !out)
        return -EINVAL;
    size_t k = forest_task(m) == ML_CLASSIFICATION ? forest_n_classes(m) : 1;
    size_t nt = forest_n_trees(m);
    struct shap_trees *t = st_new(forest_n_features(m), k, k, nt);
    if (!t)
        return -ENOMEM;
    st_cart_shape(t, forest_task(m));
    t->scale = 1.0 / (double)nt;
    int rc = nt ? 0 : -EINVAL;
    for (size_t i = 0; rc == 0 && i < nt; i++)
        rc = st_add_cart(t, forest_tree(m, i));
    if (rc) {
        shap_trees_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

static int st_add_gbt(struct shap_trees *t, const struct gbt_model *m, size_t i)
{
    size_t n = 0, output = 0;
    const struct gbt_node *nodes = gbt_tree(m, i, &n, &output);
    struct src_node *src = malloc((n ? n : 1) * sizeof *src);
    double *leafv = malloc((n ? n : 1) * sizeof *leafv);
    int rc = src && leafv ? 0 : -ENOMEM;
    rc = rc ? rc : nodes && n && output < t->k ? 0 : -EINVAL;
    for (size_t j = 0; rc == 0 && j < n; j++) {
        const struct gbt_node *nd = &nodes[j];
        /* XGBoost adds its leaves as floats */
        leafv[j] = t->xgb ? (double)(float)nd->value : nd->value;
        src[j] = (struct src_node){nd->feature,   nd->left,  nd->right, (uint8_t)nd->default_left,
                                   nd->threshold, nd->cover, leafv + j};
    }
    struct st_tree *tr = &t->trees[t->n_trees];
    rc = rc ? rc : st_tree_build(src, n, 1, t->p, tr);
    if (rc == 0) {
        tr->out0 = output;
        t->max_depth = tr->depth > t->max_depth ? tr->depth : t->max_depth;
        t->n_trees++;
    }
    free(src);
    free(leafv);
    return rc;
}

int shap_trees_from_gbt(const struct gbt_model *m, struct shap_trees **out)
{
    if (!m || !out)
        return -EINVAL;
    size_t k = gbt_n_outputs(m), nt = gbt_n_trees(m);
    struct shap_trees *t = st_new(gbt_n_features(m), k, 1, nt);
    if (!t)
        return -ENOMEM;
    t->xgb = gbt_xgboost_rule(m);
    t->nan_ok = 1;
    t->space = gbt_task(m) == ML_REGRESSION ? XAI_SPACE_VALUE
               : k == 1                     ? XAI_SPACE_LOG_ODDS
                                            : XAI_SPACE_MARGIN;
    const double *base = gbt_base_score(m);
    for (size_t j = 0; j < k; j++)
        t->offset[j] = t->xgb ? (double)(float)base[j] : base[j];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nt; i++)
        rc = st_add_gbt(t, m, i);
    if (rc) {
        shap_trees_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int shap_trees_from_learner(const struct learner_model *m, struct shap_trees **out)
{
    if (!m || !out)
        return -EINVAL;
    if (learner_model_tree(m))
        return shap_trees_from_tree(learner_model_tree(m), out);
    if (learner_model_forest(m))
        return shap_trees_from_forest(learner_model_forest(m), out);
    if (learner_model_gbt(m))
        return shap_trees_from_gbt(learner_model_gbt(m), out);
    return -ENOTSUP;
}

size_t shap_trees_n_features(const struct shap_trees *t)
{
    return t->p;
}

size_t shap_trees_n_outputs(const struct shap_trees *t)
{
    return t->k;
}

size_t shap_trees_n_trees(const struct shap_trees *t)
{
    return t->n_trees;
}

enum xai_space shap_trees_space(const struct shap_trees *t)
{
    return t->space;
}

void shap_trees_expected_value(const struct shap_trees *t, double *out)
{
    memset(out, 0, t->k * sizeof *out);
    for (size_t i = 0; i < t->n_trees; i++)
        for (size_t j = 0; j < t->width; j++)
            out[t->trees[i].out0 + j] += t->trees[i].mean[j];
    for (size_t j = 0; j < t->k; j++)
        out[j] = out[j] * t->scale + t->offset[j];
}

int st_check_matrix(const struct shap_trees *t, const struct ml_matrix *x)
{
    if (!x || x->p != t->p || (!x->x && x->n))
        return -EINVAL;
    if (t->nan_ok)
        return 0;
    for (size_t i = 0; i < x->n * x->p; i++)
        if (isnan(x->x[i]))
            return -EINVAL;
    return 0;
}

void st_predict_row(const struct shap_trees *t, const double *x, double *out)
{
    if (t->xgb) { /* XGBoost: base then every leaf added in float */
        for (size_t j = 0; j < t->k; j++)
            out[j] = t->offset[j];
        for (size_t i = 0; i < t->n_trees; i++) {
            const struct st_tree *tr = &t->trees[i];
            int32_t n = st_leaf_of(tr, x, 1);
            out[tr->out0] = (double)((float)out[tr->out0] + (float)tr->values[tr->nodes[n].leaf]);
        }
        return;
    }
    /* as the models sum: a boosted model from its base score, a forest from zero, then
     * scaled by 1 / trees */
    for (size_t j = 0; j < t->k; j++)
        out[j] = t->scale == 1.0 ? t->offset[j] : 0.0;
    for (size_t i = 0; i < t->n_trees; i++) {
        const struct st_tree *tr = &t->trees[i];
        const double *v = tr->values + (size_t)tr->nodes[st_leaf_of(tr, x, 0)].leaf * t->width;
        for (size_t j = 0; j < t->width; j++)
            out[tr->out0 + j] += v[j];
    }
    if (t->scale != 1.0)
        for (size_t j = 0; j < t->k; j++)
            out[j] = t->offset[j] + out[j] * t->scale;
}

int shap_trees_predict(const struct shap_trees *t, const struct ml_matrix *x, double *out)
{
    int rc = st_check_matrix(t, x);
    if (rc)
        return rc;
    for (size_t i = 0; i < x->n; i++)
        st_predict_row(t, x->x + i * x->p, out + i * t->k);
    return 0;
}
