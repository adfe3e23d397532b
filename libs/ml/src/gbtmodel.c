/* gbtmodel: a fitted gradient-boosted model: prediction, accessors, save/load. */
#include "gbtimpl.h"

#include <ibx/mlenc.h>
#include <ibx/mlpar.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GBT_MAGIC   "IBXGBT01"
#define GBT_VERSION 1
#define GBT_BLOCK   128

struct gbt_model *gbt_model_new(enum ml_task task, enum gbt_objective objective, size_t p,
                                size_t nclasses)
{
    struct gbt_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->task = task;
    m->objective = objective;
    m->p = p;
    m->nclasses = task == ML_CLASSIFICATION ? nclasses : 0;
    m->k = objective == GBT_OBJ_SOFTMAX ? nclasses : 1;
    m->base = calloc(m->k, sizeof *m->base);
    if (!m->base) {
        free(m);
        return NULL;
    }
    return m;
}

void gbt_free(struct gbt_model *model)
{
    if (!model)
        return;
    for (size_t t = 0; t < model->n_trees; t++) {
        free(model->trees[t].nodes);
        free(model->trees[t].flat);
    }
    free(model->trees);
    free(model->base);
    free(model->val_loss);
    free(model);
}

/* The prediction layout of a checked tree. */
static struct gbt_flat *gbt_flatten(const struct gbt_node *nodes, size_t n, size_t *depth_out)
{
    struct gbt_flat *fl = malloc(n * sizeof *fl);
    size_t *depth = calloc(n, sizeof *depth), maxd = 0;
    if (!fl || !depth) {
        free(fl);
        free(depth);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const struct gbt_node *nd = &nodes[i];
        maxd = depth[i] > maxd ? depth[i] : maxd;
        if (nd->feature < 0) {
            fl[i] = (struct gbt_flat){INFINITY, INFINITY, 0, (int32_t)i, (int32_t)i, 1, 0};
            continue;
        }
        fl[i] = (struct gbt_flat){nd->threshold,
                                  (float)nd->threshold,
                                  nd->feature,
                                  nd->left,
                                  nd->right,
                                  nd->default_left,
                                  0};
        depth[nd->left] = depth[nd->right] = depth[i] + 1;
    }
    free(depth);
    *depth_out = maxd;
    return fl;
}

int gbt_model_add(struct gbt_model *m, struct gbt_node *nodes, size_t n_nodes, size_t output)
{
    size_t depth = 0;
    struct gbt_flat *flat = gbt_flatten(nodes, n_nodes, &depth);
    if (!flat) {
        free(nodes);
        return -ENOMEM;
    }
    if (m->n_trees == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct gbt_tree *t = realloc(m->trees, cap * sizeof *t);
        if (!t) {
            free(flat);
            free(nodes);
            return -ENOMEM;
        }
        m->trees = t;
        m->cap = cap;
    }
    m->trees[m->n_trees++] = (struct gbt_tree){nodes, n_nodes, output, flat, depth};
    return 0;
}

int gbt_tree_check(const struct gbt_model *m, const struct gbt_node *nodes, size_t n)
{
    unsigned char *seen = calloc(n ? n : 1, 1);
    if (!seen)
        return -ENOMEM;
    int rc = n ? 0 : -EINVAL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct gbt_node *nd = &nodes[i];
        if (!isfinite(nd->value) || !isfinite(nd->gain) || !isfinite(nd->cover))
            rc = -EINVAL;
        else if (nd->feature < 0)
            rc = nd->feature == -1 && nd->left == -1 && nd->right == -1 ? 0 : -EINVAL;
        else if ((size_t)nd->feature >= m->p || isnan(nd->threshold) || nd->default_left > 1)
            rc = -EINVAL;
        for (int j = 0; j < 2 && rc == 0 && nd->feature >= 0; j++) {
            int32_t c = j ? nd->right : nd->left;
            if (c <= (int32_t)i || (size_t)c >= n || seen[c])
                rc = -EINVAL;
            else
                seen[c] = 1;
        }
    }
    for (size_t i = 1; i < n && rc == 0; i++)
        rc = seen[i] ? 0 : -EINVAL;
    free(seen);
    return rc;
}

#define GBT_LANES 8

/* Leaf of each of n rows (stride p) in tree tr; rule XGB compares in float with <. */
static void gbt_leaves(const struct gbt_tree *tr, enum gbt_rule rule, const double *x, size_t n,
                       size_t p, size_t *leaf)
{
    const struct gbt_flat *fl = tr->flat;
    size_t i = 0;
    for (; tr->depth <= 32 && i + GBT_LANES <= n; i += GBT_LANES) {
        size_t idx[GBT_LANES] = {0};
        const double *rows = x + i * p;
        for (size_t d = 0; d < tr->depth; d++) {
            for (size_t j = 0; j < GBT_LANES; j++) {
                const struct gbt_flat *nd = &fl[idx[j]];
                double v = rows[j * p + (size_t)nd->feature];
                unsigned left =
                    rule == GBT_RULE_XGB ? (float)v < nd->fthreshold : v <= nd->threshold;
                left |= (unsigned)isnan(v) & nd->default_left;
                /* arithmetic select: the compiler keeps it branch-free */
                int32_t right = -(int32_t)!left;
                int32_t next = nd->left + ((nd->right - nd->left) & right);
                idx[j] = (size_t)next;
            }
        }
        memcpy(leaf + i, idx, sizeof idx);
    }
    for (; i < n; i++) {
        const double *row = x + i * p;
        size_t k = 0;
        while (tr->nodes[k].feature >= 0) {
            const struct gbt_flat *nd = &fl[k];
            double v = row[nd->feature];
            unsigned left = rule == GBT_RULE_XGB ? (float)v < nd->fthreshold : v <= nd->threshold;
            left |= (unsigned)isnan(v) & nd->default_left;
            k = (size_t)(left ? nd->left : nd->right);
        }
        leaf[i] = k;
    }
}

void gbt_model_accumulate(const struct gbt_model *m, const struct ml_matrix *x, size_t from,
                          size_t to, double *raw)
{
    size_t k = m->k, leaves[GBT_BLOCK];
    for (size_t start = 0; start < x->n; start += GBT_BLOCK) {
        size_t len = x->n - start < GBT_BLOCK ? x->n - start : GBT_BLOCK;
        for (size_t t = from; t < to; t++) {
            const struct gbt_tree *tr = &m->trees[t];
            gbt_leaves(tr, m->rule, x->x + start * x->p, len, x->p, leaves);
            double *r = raw + start * k + tr->output;
            if (m->rule == GBT_RULE_XGB) /* XGBoost sums its margins in float */
                for (size_t i = 0; i < len; i++)
                    r[i * k] = (double)((float)r[i * k] + (float)tr->nodes[leaves[i]].value);
            else
                for (size_t i = 0; i < len; i++)
                    r[i * k] += tr->nodes[leaves[i]].value;
        }
    }
}

void gbt_model_link(const struct gbt_model *m, double *raw, size_t n, double *proba)
{
    size_t k = m->k;
    for (size_t i = 0; i < n; i++) {
        const double *r = raw + i * k;
        if (m->objective == GBT_OBJ_LOGISTIC) {
            double p1 = 1.0 / (1.0 + exp(-r[0]));
            proba[i * 2] = 1.0 - p1;
            proba[i * 2 + 1] = p1;
            continue;
        }
        double mx = r[0], sum = 0.0;
        for (size_t j = 1; j < k; j++)
            mx = r[j] > mx ? r[j] : mx;
        for (size_t j = 0; j < k; j++) {
            proba[i * k + j] = exp(r[j] - mx);
            sum += proba[i * k + j];
        }
        for (size_t j = 0; j < k; j++)
            proba[i * k + j] /= sum;
    }
}

/* Mean log loss (classification) or half squared error (regression), scikit-learn's. */
double gbt_model_loss(const struct gbt_model *m, const double *raw, const double *y, size_t n)
{
    double loss = 0.0;
    size_t k = m->k;
    for (size_t i = 0; i < n; i++) {
        const double *r = raw + i * k;
        if (m->objective == GBT_OBJ_SQUARED) {
            loss += 0.5 * (y[i] - r[0]) * (y[i] - r[0]);
        } else if (m->objective == GBT_OBJ_LOGISTIC) {
            /* log(1 + e^r) - y r, computed without overflow */
            double z = r[0];
            loss += (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - y[i] * z;
        } else {
            double mx = r[0], sum = 1.0; /* exp(mx - mx) for the largest score */
            size_t top = 0;
            for (size_t j = 1; j < k; j++)
                if (r[j] > mx) {
                    mx = r[j];
                    top = j;
                }
            for (size_t j = 0; j < k; j++)
                sum += j == top ? 0.0 : exp(r[j] - mx);
            loss += mx + log(sum) - r[(size_t)y[i]];
        }
    }
    return n ? loss / (double)n : 0.0;
}

static int gbt_check_matrix(const struct gbt_model *m, const struct ml_matrix *x, const double *out)
{
    if (!m || !x || x->p != m->p || (x->n && (!x->x || !out)))
        return -EINVAL;
    return 0;
}

#define GBT_PAR_ROWS 8192 /* batches this large are predicted on every CPU */

struct gbt_pred_job {
    const struct gbt_model *m;
    const struct ml_matrix *x;
    double *out;
};

static void gbt_raw_block(void *ctx, size_t blk_i)
{
    const struct gbt_pred_job *job = ctx;
    const struct gbt_model *m = job->m;
    size_t start = blk_i * GBT_BLOCK, n = job->x->n, p = job->x->p;
    size_t len = n - start < GBT_BLOCK ? n - start : GBT_BLOCK;
    struct ml_matrix blk = {job->x->x + start * p, len, p};
    double *out = job->out + start * m->k;
    for (size_t i = 0; i < len; i++)
        for (size_t j = 0; j < m->k; j++)
            out[i * m->k + j] = m->rule == GBT_RULE_XGB ? (double)(float)m->base[j] : m->base[j];
    gbt_model_accumulate(m, &blk, 0, m->n_trees, out);
}

int gbt_predict_raw(const struct gbt_model *model, const struct ml_matrix *x, double *out)
{
    int rc = gbt_check_matrix(model, x, out);
    if (rc)
        return rc;
    /* rows are independent: the result does not depend on the thread count */
    struct gbt_pred_job job = {model, x, out};
    int threads = x->n >= GBT_PAR_ROWS ? mlpar_threads(NULL) : 1;
    mlpar_run(threads, (x->n + GBT_BLOCK - 1) / GBT_BLOCK, gbt_raw_block, &job);
    return 0;
}

int gbt_predict_proba(const struct gbt_model *model, const struct ml_matrix *x, double *out)
{
    int rc = gbt_check_matrix(model, x, out);
    if (rc || model->task != ML_CLASSIFICATION)
        return -EINVAL;
    double *raw = malloc((x->n ? x->n : 1) * model->k * sizeof *raw);
    if (!raw)
        return -ENOMEM;
    rc = gbt_predict_raw(model, x, raw);
    if (rc == 0)
        gbt_model_link(model, raw, x->n, out);
    free(raw);
    return rc;
}

int gbt_predict(const struct gbt_model *model, const struct ml_matrix *x, double *out)
{
    int rc = gbt_check_matrix(model, x, out);
    if (rc)
        return rc;
    double *raw = malloc((x->n ? x->n : 1) * model->k * sizeof *raw);
    if (!raw)
        return -ENOMEM;
    rc = gbt_predict_raw(model, x, raw);
    for (size_t i = 0; i < x->n && rc == 0; i++) {
        const double *r = raw + i * model->k;
        if (model->task == ML_REGRESSION) {
            out[i] = r[0];
        } else if (model->objective == GBT_OBJ_LOGISTIC) {
            out[i] = r[0] > 0.0 ? 1.0 : 0.0;
        } else {
            size_t best = 0;
            for (size_t j = 1; j < model->k; j++)
                best = r[j] > r[best] ? j : best;
            out[i] = (double)best;
        }
    }
    free(raw);
    return rc;
}

void gbt_feature_importance(const struct gbt_model *model, double *out)
{
    double sum = 0.0;
    memset(out, 0, model->p * sizeof *out);
    for (size_t t = 0; t < model->n_trees; t++) {
        const struct gbt_tree *tr = &model->trees[t];
        for (size_t i = 0; i < tr->n_nodes; i++)
            if (tr->nodes[i].feature >= 0 && tr->nodes[i].gain > 0.0)
                out[tr->nodes[i].feature] += tr->nodes[i].gain;
    }
    for (size_t f = 0; f < model->p; f++)
        sum += out[f];
    for (size_t f = 0; f < model->p && sum > 0.0; f++)
        out[f] /= sum;
}

enum ml_task gbt_task(const struct gbt_model *model)
{
    return model->task;
}

size_t gbt_n_features(const struct gbt_model *model)
{
    return model->p;
}

size_t gbt_n_classes(const struct gbt_model *model)
{
    return model->nclasses;
}

size_t gbt_n_outputs(const struct gbt_model *model)
{
    return model->k;
}

size_t gbt_n_iter(const struct gbt_model *model)
{
    return model->n_iter;
}

size_t gbt_n_trees(const struct gbt_model *model)
{
    return model->n_trees;
}

int gbt_xgboost_rule(const struct gbt_model *model)
{
    return model->rule == GBT_RULE_XGB;
}

const double *gbt_base_score(const struct gbt_model *model)
{
    return model->base;
}

const struct gbt_node *gbt_tree(const struct gbt_model *model, size_t i, size_t *count,
                                size_t *output)
{
    if (i >= model->n_trees)
        return NULL;
    *count = model->trees[i].n_nodes;
    *output = model->trees[i].output;
    return model->trees[i].nodes;
}

const double *gbt_validation_loss(const struct gbt_model *model, size_t *count)
{
    *count = model->n_val_loss;
    return model->val_loss;
}

int gbt_save(const struct gbt_model *model, struct buf *out)
{
    if (!model || !out)
        return -EINVAL;
    struct mlenc_writer w;
    mlenc_begin(&w, out, GBT_MAGIC, GBT_VERSION);
    mlenc_put_u32(&w, (uint32_t)model->task);
    mlenc_put_u32(&w, (uint32_t)model->objective);
    mlenc_put_u32(&w, (uint32_t)model->rule);
    mlenc_put_u64(&w, model->p);
    mlenc_put_u64(&w, model->nclasses);
    mlenc_put_u64(&w, model->n_iter);
    mlenc_put_f64s(&w, model->base, model->k);
    mlenc_put_u64(&w, model->n_val_loss);
    mlenc_put_f64s(&w, model->val_loss, model->n_val_loss);
    mlenc_put_u64(&w, model->n_trees);
    for (size_t t = 0; t < model->n_trees; t++) {
        const struct gbt_tree *tr = &model->trees[t];
        mlenc_put_u64(&w, tr->output);
        mlenc_put_u64(&w, tr->n_nodes);
        for (size_t i = 0; i < tr->n_nodes; i++) {
            const struct gbt_node *nd = &tr->nodes[i];
            mlenc_put_u32(&w, (uint32_t)nd->feature);
            mlenc_put_u32(&w, (uint32_t)nd->left);
            mlenc_put_u32(&w, (uint32_t)nd->right);
            mlenc_put_u32(&w, nd->default_left);
            mlenc_put_f64(&w, nd->threshold);
            mlenc_put_f64(&w, nd->value);
            mlenc_put_f64(&w, nd->gain);
            mlenc_put_f64(&w, nd->cover);
        }
    }
    return mlenc_end(&w);
}

static int gbt_decode_tree(struct mlenc_reader *r, struct gbt_model *m)
{
    size_t output = (size_t)mlenc_get_u64(r);
    size_t n = mlenc_get_count(r, 1, INT32_MAX, 48);
    if (r->err || output >= m->k)
        return -EINVAL;
    struct gbt_node *nodes = malloc(n * sizeof *nodes);
    if (!nodes)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct gbt_node *nd = &nodes[i];
        nd->feature = (int32_t)mlenc_get_u32(r);
        nd->left = (int32_t)mlenc_get_u32(r);
        nd->right = (int32_t)mlenc_get_u32(r);
        nd->default_left = mlenc_get_u32(r);
        nd->threshold = mlenc_get_f64(r);
        nd->value = mlenc_get_f64(r);
        nd->gain = mlenc_get_f64(r);
        nd->cover = mlenc_get_f64(r);
    }
    int rc = r->err ? -EINVAL : gbt_tree_check(m, nodes, n);
    if (rc) {
        free(nodes);
        return rc;
    }
    return gbt_model_add(m, nodes, n, output);
}

static int gbt_decode(struct mlenc_reader *r, struct gbt_model **out)
{
    uint32_t task = mlenc_get_u32(r), obj = mlenc_get_u32(r), rule = mlenc_get_u32(r);
    uint64_t p = mlenc_get_u64(r), k = mlenc_get_u64(r), n_iter = mlenc_get_u64(r);
    int cls = task == ML_CLASSIFICATION;
    if (r->err || p == 0 || p > (1u << 24) || rule > GBT_RULE_XGB ||
        (cls && (k < 2 || k > (1u << 16))) || (!cls && (task != ML_REGRESSION || k != 0)))
        return -EINVAL;
    if ((cls && obj != (k == 2 ? GBT_OBJ_LOGISTIC : GBT_OBJ_SOFTMAX)) ||
        (!cls && obj != GBT_OBJ_SQUARED))
        return -EINVAL;
    struct gbt_model *m = gbt_model_new((enum ml_task)task, (enum gbt_objective)obj, p, k);
    if (!m)
        return -ENOMEM;
    m->rule = (enum gbt_rule)rule;
    m->n_iter = n_iter;
    for (size_t j = 0; j < m->k; j++)
        m->base[j] = mlenc_get_finite(r);
    m->n_val_loss = mlenc_get_count(r, 0, SIZE_MAX / 8, 8);
    m->val_loss = r->err ? NULL : malloc((m->n_val_loss ? m->n_val_loss : 1) * 8);
    int rc = r->err ? -EINVAL : m->val_loss ? 0 : -ENOMEM;
    if (rc == 0)
        mlenc_get_f64s(r, m->val_loss, m->n_val_loss);
    size_t n_trees = rc ? 0 : mlenc_get_count(r, 0, SIZE_MAX / 64, 64);
    for (size_t t = 0; t < n_trees && rc == 0 && !r->err; t++)
        rc = gbt_decode_tree(r, m);
    if (rc == 0 && (r->err || n_iter * m->k != m->n_trees))
        rc = -EINVAL;
    if (rc) {
        gbt_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int gbt_load(const void *data, size_t len, size_t *used, struct gbt_model **out)
{
    struct mlenc_reader r;
    uint32_t version = 0;
    size_t n = 0;
    if (!out || mlenc_open(&r, data, len, GBT_MAGIC, &version, &n) != 0 || version != GBT_VERSION ||
        (!used && n != len))
        return -EINVAL;
    struct gbt_model *m = NULL;
    int rc = gbt_decode(&r, &m);
    if (rc == 0 && mlenc_close(&r) != 0) {
        gbt_free(m);
        rc = -EINVAL;
    }
    if (rc)
        return rc;
    if (used)
        *used = n;
    *out = m;
    return 0;
}
