/* tree: CART decision tree (fit on binned features, predict, importance, JSON, save/load). */
#include <ibx/tree.h>

#include "cart.h"
#include "mlpool.h"

#include <ibx/mlpar.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TREE_MAGIC   "IBXTREE1"
#define TREE_VERSION 1

void tree_params_default(struct tree_params *params, enum ml_task task, size_t nclasses)
{
    memset(params, 0, sizeof *params);
    params->task = task;
    params->nclasses = task == ML_CLASSIFICATION ? nclasses : 0;
    params->criterion = task == ML_CLASSIFICATION ? TREE_GINI : TREE_SQUARED_ERROR;
    params->min_samples_split = 2;
    params->min_samples_leaf = 1;
    params->max_features = TREE_MF_ALL;
}

size_t tree_resolve_max_features(enum tree_max_features mf, double value, size_t p)
{
    double k;
    switch (mf) {
    case TREE_MF_ALL:
        return p;
    case TREE_MF_SQRT:
        k = floor(sqrt((double)p));
        break;
    case TREE_MF_LOG2:
        k = floor(log2((double)p));
        break;
    case TREE_MF_FRACTION:
        if (!(value > 0.0 && value <= 1.0))
            return 0;
        k = floor(value * (double)p);
        break;
    case TREE_MF_COUNT:
        if (!(value >= 1.0 && value <= (double)p) || value != floor(value))
            return 0;
        k = value;
        break;
    default:
        return 0;
    }
    return k < 1.0 ? 1 : (size_t)k;
}

static int tree_grow_all(const struct ml_matrix *x, const double *y, const struct tree_params *pr,
                         const struct ml_control *ctrl, struct tree_model *m)
{
    struct mlpool *pool = NULL;
    struct mlbin bins = {0};
    uint8_t *codes = NULL;
    size_t *rows = NULL;
    int rc = x->n * x->p >= 65536 ? mlpool_new(mlpar_threads(ctrl), &pool) : 0;
    if (rc)
        return rc;
    rc = mlbin_fit(&bins, x, NULL, x->n, MLBIN_MAX_BINS, pool);
    if (rc)
        goto out;
    rc = -ENOMEM;
    codes = malloc(x->n * x->p);
    rows = malloc(x->n * sizeof *rows);
    if (!codes || !rows)
        goto out;
    mlbin_transform(&bins, x, NULL, x->n, codes, pool);
    for (size_t i = 0; i < x->n; i++)
        rows[i] = i;
    struct cart_data d = {codes, x->n, x->p, &bins, y, NULL};
    struct cart_config c = {
        pr->task,
        pr->criterion,
        m->nclasses,
        pr->max_depth,
        pr->min_samples_split,
        pr->min_samples_leaf,
        tree_resolve_max_features(pr->max_features, pr->max_features_value, x->p),
        ctrl ? ctrl->cancel : NULL};
    struct mlrand rng;
    mlrand_seed(&rng, pr->random_state);
    rc = cart_grow(&d, &c, rows, x->n, &rng, pool, m);
out:
    free(rows);
    free(codes);
    mlbin_release(&bins);
    mlpool_free(pool);
    return rc;
}

int tree_fit(const struct tree_params *params, const struct ml_matrix *x, const double *y,
             const struct ml_control *ctrl, struct tree_model **out)
{
    if (!params || !out || !x)
        return -EINVAL;
    int rc = cart_check_params(params, x->p);
    rc = rc ? rc : cart_check_data(x, y, params->task, params->nclasses);
    if (rc)
        return rc;
    struct tree_model *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    rc = cart_model_init(m, params->task, params->criterion, x->p, params->nclasses);
    rc = rc ? rc : tree_grow_all(x, y, params, ctrl, m);
    if (rc) {
        tree_free(m);
        return rc;
    }
    if (ctrl && ctrl->progress)
        ctrl->progress(ctrl->ctx, 1, 1);
    *out = m;
    return 0;
}

void tree_free(struct tree_model *model)
{
    if (!model)
        return;
    cart_model_release(model);
    free(model);
}

int tree_predict_proba(const struct tree_model *model, const struct ml_matrix *x, double *out)
{
    int rc = cart_check_matrix(model, x);
    if (rc || model->task != ML_CLASSIFICATION || (!out && x->n))
        return -EINVAL;
    if (x->n == 0)
        return 0;
    memset(out, 0, x->n * model->width * sizeof *out);
    cart_accumulate(model, x, 1.0, out);
    return 0;
}

int tree_predict(const struct tree_model *model, const struct ml_matrix *x, double *out)
{
    int rc = cart_check_matrix(model, x);
    if (rc || (!out && x->n))
        return -EINVAL;
    size_t leaves[64];
    for (size_t i = 0; i < x->n; i++) {
        if (i % 64 == 0)
            cart_leaves(model, x->x + i * x->p, x->n - i < 64 ? x->n - i : 64, x->p, leaves);
        const double *v = model->values + leaves[i % 64] * model->width;
        size_t best = 0;
        for (size_t j = 1; j < model->nclasses; j++)
            best = v[j] > v[best] ? j : best;
        out[i] = model->task == ML_CLASSIFICATION ? (double)best : v[0];
    }
    return 0;
}

void tree_feature_importance(const struct tree_model *model, double *out)
{
    cart_importance(model, out);
}

enum ml_task tree_task(const struct tree_model *model)
{
    return model->task;
}

size_t tree_n_features(const struct tree_model *model)
{
    return model->p;
}

size_t tree_n_classes(const struct tree_model *model)
{
    return model->nclasses;
}

size_t tree_n_leaves(const struct tree_model *model)
{
    size_t leaves = 0;
    for (size_t i = 0; i < model->n_nodes; i++)
        leaves += model->nodes[i].feature < 0;
    return leaves;
}

size_t tree_depth(const struct tree_model *model)
{
    return model->depth;
}

const struct tree_node *tree_nodes(const struct tree_model *model, size_t *count)
{
    *count = model->n_nodes;
    return model->nodes;
}

const double *tree_values(const struct tree_model *model, size_t *value_width)
{
    *value_width = model->width;
    return model->values;
}

int tree_save(const struct tree_model *model, struct buf *out)
{
    if (!model || !out)
        return -EINVAL;
    struct mlenc_writer w;
    mlenc_begin(&w, out, TREE_MAGIC, TREE_VERSION);
    cart_encode(model, &w);
    return mlenc_end(&w);
}

int tree_load(const void *data, size_t len, size_t *used, struct tree_model **out)
{
    struct mlenc_reader r;
    uint32_t version = 0;
    size_t n = 0;
    if (!out || mlenc_open(&r, data, len, TREE_MAGIC, &version, &n) != 0 ||
        version != TREE_VERSION || (!used && n != len))
        return -EINVAL;
    struct tree_model *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    int rc = cart_decode(&r, m);
    rc = rc ? rc : mlenc_close(&r);
    if (rc) {
        tree_free(m);
        return rc;
    }
    if (used)
        *used = n;
    *out = m;
    return 0;
}
