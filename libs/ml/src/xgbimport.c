/* xgbimport: XGBoost JSON models (gbtree, numerical splits) imported as gbt models. */
#include <ibx/xgbimport.h>

#include "gbtimpl.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define XGB_MAX_NODES (1u << 24)

/* A decimal string field (XGBoost stores its parameters as strings) as a finite double. */
static int xgb_param(json_t *obj, const char *key, double *out)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s || !*s)
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return -EINVAL;
    *out = v;
    return 0;
}

/* Array `key` of tree as n numbers (booleans count as 0/1). */
static int xgb_numbers(json_t *tree, const char *key, size_t n, double *out)
{
    json_t *a = json_object_get(tree, key);
    if (!json_is_array(a) || json_array_size(a) != n)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (json_is_boolean(v))
            out[i] = json_is_true(v) ? 1.0 : 0.0;
        else if (json_is_number(v))
            out[i] = json_number_value(v);
        else
            return -EINVAL;
        if (!isfinite(out[i]))
            return -EINVAL;
    }
    return 0;
}

/* The tree's arrays, one row of doubles per field. */
enum {
    XGB_LEFT,
    XGB_RIGHT,
    XGB_FEATURE,
    XGB_COND,
    XGB_DEFLEFT,
    XGB_WEIGHT,
    XGB_GAIN,
    XGB_COVER,
    XGB_NFIELDS
};
static const char *const xgb_fields[XGB_NFIELDS] = {
    "left_children", "right_children", "split_indices", "split_conditions",
    "default_left",  "base_weights",   "loss_changes",  "sum_hessian"};

/* Node i of the arrays as a gbt node whose children are renumbered by map. */
static int xgb_node(double *const *a, size_t i, size_t n, size_t p, const int32_t *map,
                    struct gbt_node *out)
{
    double l = a[XGB_LEFT][i], r = a[XGB_RIGHT][i];
    *out = (struct gbt_node){-1, -1, -1, 0, 0.0, a[XGB_COND][i], a[XGB_GAIN][i], a[XGB_COVER][i]};
    if (l == -1.0)
        return r == -1.0 ? 0 : -EINVAL;
    double f = a[XGB_FEATURE][i];
    if (l < 0 || r < 0 || l >= (double)n || r >= (double)n || f < 0 || f >= (double)p ||
        f != floor(f))
        return -EINVAL;
    out->feature = (int32_t)f;
    out->left = map[(size_t)l];
    out->right = map[(size_t)r];
    out->default_left = a[XGB_DEFLEFT][i] != 0.0;
    out->threshold = (double)(float)a[XGB_COND][i];
    out->value = a[XGB_WEIGHT][i];
    return 0;
}

/* Breadth-first renumbering from the root (children after parents; deleted or unreachable
 * nodes dropped). Returns the node count, 0 when the links do not form a tree. */
static size_t xgb_order(double *const *a, size_t n, size_t *order, int32_t *map)
{
    for (size_t i = 0; i < n; i++)
        map[i] = -1;
    size_t len = 1;
    order[0] = 0;
    map[0] = 0;
    for (size_t q = 0; q < len; q++) {
        double kids[2] = {a[XGB_LEFT][order[q]], a[XGB_RIGHT][order[q]]};
        for (int j = 0; j < 2; j++) {
            if (kids[j] == -1.0)
                continue;
            if (!(kids[j] > 0 && kids[j] < (double)n) || kids[j] != floor(kids[j]) ||
                map[(size_t)kids[j]] != -1)
                return 0;
            map[(size_t)kids[j]] = (int32_t)len;
            order[len++] = (size_t)kids[j];
        }
    }
    return len;
}

static int xgb_tree(json_t *tree, struct gbt_model *m, size_t output)
{
    double n_dbl = 0.0;
    json_t *tp = json_object_get(tree, "tree_param");
    if (xgb_param(tp, "num_nodes", &n_dbl) || n_dbl < 1 || n_dbl > XGB_MAX_NODES)
        return -EINVAL;
    size_t n = (size_t)n_dbl;
    json_t *types = json_object_get(tree, "split_type");
    for (size_t i = 0; i < json_array_size(types); i++)
        if (json_integer_value(json_array_get(types, i)) != 0)
            return -EINVAL; /* categorical splits */
    double *buf = malloc(n * XGB_NFIELDS * sizeof *buf), *a[XGB_NFIELDS];
    size_t *order = malloc(n * sizeof *order);
    int32_t *map = malloc(n * sizeof *map);
    struct gbt_node *nodes = malloc(n * sizeof *nodes);
    int rc = buf && order && map && nodes ? 0 : -ENOMEM;
    for (int f = 0; f < XGB_NFIELDS && rc == 0; f++) {
        a[f] = buf + (size_t)f * n;
        rc = xgb_numbers(tree, xgb_fields[f], n, a[f]);
    }
    size_t len = rc ? 0 : xgb_order(a, n, order, map);
    rc = rc ? rc : len ? 0 : -EINVAL;
    for (size_t i = 0; i < len && rc == 0; i++)
        rc = xgb_node(a, order[i], n, m->p, map, &nodes[i]);
    rc = rc ? rc : gbt_tree_check(m, nodes, len);
    free(buf);
    free(order);
    free(map);
    if (rc) {
        free(nodes);
        return rc;
    }
    return gbt_model_add(m, nodes, len, output);
}

/* The objective, class count and base margin from the learner. */
static int xgb_header(json_t *learner, struct gbt_model **out)
{
    json_t *mp = json_object_get(learner, "learner_model_param");
    const char *obj =
        json_string_value(json_object_get(json_object_get(learner, "objective"), "name"));
    double base = 0.0, ncls = 0.0, nfeat = 0.0;
    if (!obj || xgb_param(mp, "base_score", &base) || xgb_param(mp, "num_class", &ncls) ||
        xgb_param(mp, "num_feature", &nfeat) || nfeat < 1 || nfeat > (1u << 24) ||
        nfeat != floor(nfeat) || ncls < 0 || ncls > 65536 || ncls != floor(ncls))
        return -EINVAL;
    struct gbt_model *m = NULL;
    if (strcmp(obj, "binary:logistic") == 0) {
        if (!(base > 0.0 && base < 1.0))
            return -EINVAL;
        m = gbt_model_new(ML_CLASSIFICATION, GBT_OBJ_LOGISTIC, (size_t)nfeat, 2);
        if (m)
            m->base[0] = -log(1.0 / base - 1.0);
    } else if (strcmp(obj, "multi:softprob") == 0 || strcmp(obj, "multi:softmax") == 0) {
        if (ncls < 3)
            return -EINVAL;
        m = gbt_model_new(ML_CLASSIFICATION, GBT_OBJ_SOFTMAX, (size_t)nfeat, (size_t)ncls);
        for (size_t j = 0; m && j < m->k; j++)
            m->base[j] = base;
    } else if (strcmp(obj, "reg:squarederror") == 0 || strcmp(obj, "reg:linear") == 0) {
        m = gbt_model_new(ML_REGRESSION, GBT_OBJ_SQUARED, (size_t)nfeat, 0);
        if (m)
            m->base[0] = base;
    } else {
        return -EINVAL;
    }
    if (!m)
        return -ENOMEM;
    m->rule = GBT_RULE_XGB;
    *out = m;
    return 0;
}

static int xgb_trees(json_t *booster, struct gbt_model *m)
{
    json_t *model = json_object_get(booster, "model");
    json_t *trees = json_object_get(model, "trees"), *info = json_object_get(model, "tree_info");
    double npar = 0.0;
    const char *name = json_string_value(json_object_get(booster, "name"));
    if (!name || strcmp(name, "gbtree") != 0 || !json_is_array(trees) || !json_is_array(info) ||
        json_array_size(trees) != json_array_size(info) ||
        xgb_param(json_object_get(model, "gbtree_model_param"), "num_parallel_tree", &npar) ||
        npar != 1.0)
        return -EINVAL;
    size_t nt = json_array_size(trees);
    if (nt % m->k)
        return -EINVAL;
    for (size_t t = 0; t < nt; t++) {
        json_t *out = json_array_get(info, t);
        if (!json_is_integer(out) || json_integer_value(out) < 0 ||
            (size_t)json_integer_value(out) >= m->k)
            return -EINVAL;
        int rc = xgb_tree(json_array_get(trees, t), m, (size_t)json_integer_value(out));
        if (rc)
            return rc;
    }
    m->n_iter = nt / m->k;
    return 0;
}

int xgbimport_load(const char *json, size_t len, struct gbt_model **out)
{
    if (!json || !out)
        return -EINVAL;
    json_error_t err;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!doc)
        return -EINVAL;
    json_t *learner = json_object_get(doc, "learner");
    struct gbt_model *m = NULL;
    int rc = xgb_header(learner, &m);
    rc = rc ? rc : xgb_trees(json_object_get(learner, "gradient_booster"), m);
    json_decref(doc);
    if (rc) {
        gbt_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
