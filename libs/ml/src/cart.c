/* cart: grows one CART tree on binned features (depth first, scikit-learn's split rules). */
#include "cart.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CART_EPS DBL_EPSILON

struct cart_frame {
    size_t start;
    size_t end;
    size_t depth;
    int32_t parent; /* -1 for the root */
    int is_left;
};

struct cart_split {
    int found;
    size_t feature;
    size_t bin; /* last bin on the left */
    size_t next_bin;
    double proxy;
};

#define CART_PAR_WORK 8192 /* rows x features from which a node's features go in parallel */

/* One thread's histogram (MLBIN_MAX_BINS * stride, zero between uses) and its non-empty
 * bins. */
struct cart_scratch {
    double *hist;
    uint64_t mask[4];
};

struct cart_ctx {
    const struct cart_data *d;
    const struct cart_config *c;
    struct mlrand *rng;
    struct tree_model *m;
    size_t stride;           /* hist slots per bin: class weights + row count, or w, wy, count */
    struct mlpool *pool;     /* NULL: one thread */
    struct cart_scratch *sc; /* one per pool thread */
    size_t nsc;
    struct cart_split *results; /* p: per visiting position (parallel search) */
    double *total;              /* stride + 1: node totals (regression: w, wy, count, wyy) */
    size_t *rows;
    size_t *tmp;
    double *gw; /* the node's weights in row order */
    double *gy; /* the node's class indices (or weighted targets) in row order */
    size_t *features;
    struct cart_frame *stack;
    size_t sp;
};

int cart_model_init(struct tree_model *m, enum ml_task task, enum tree_criterion criterion,
                    size_t p, size_t nclasses)
{
    memset(m, 0, sizeof *m);
    m->task = task;
    m->criterion = criterion;
    m->p = p;
    m->nclasses = task == ML_CLASSIFICATION ? nclasses : 0;
    m->width = task == ML_CLASSIFICATION ? nclasses : 1;
    m->importance = calloc(p, sizeof *m->importance);
    return m->importance ? 0 : -ENOMEM;
}

void cart_model_release(struct tree_model *m)
{
    if (!m)
        return;
    free(m->nodes);
    free(m->values);
    free(m->importance);
    free(m->flat);
    memset(m, 0, sizeof *m);
}

static int cart_reserve(struct tree_model *m)
{
    if (m->n_nodes < m->cap)
        return 0;
    size_t cap = m->cap ? m->cap * 2 : 64;
    if (cap > INT32_MAX)
        return -ENOMEM;
    struct tree_node *nodes = realloc(m->nodes, cap * sizeof *nodes);
    if (!nodes)
        return -ENOMEM;
    m->nodes = nodes;
    double *values = realloc(m->values, cap * m->width * sizeof *values);
    if (!values)
        return -ENOMEM;
    m->values = values;
    m->cap = cap;
    return 0;
}

static double cart_xlogx(double v)
{
    return v > 0.0 ? v * log(v) : 0.0;
}

/* Totals of rows[start..end) into ctx->total and the node's value; returns the impurity. */
static double cart_totals(struct cart_ctx *ctx, size_t start, size_t end, double *value)
{
    const struct cart_data *d = ctx->d;
    double *t = ctx->total;
    memset(t, 0, (ctx->stride + 1) * sizeof *t);
    if (ctx->c->task == ML_CLASSIFICATION) {
        size_t k = ctx->c->nclasses;
        for (size_t i = start; i < end; i++) {
            size_t r = ctx->rows[i];
            t[(size_t)d->y[r]] += d->w ? d->w[r] : 1.0;
        }
        double w = 0.0, acc = 0.0;
        for (size_t j = 0; j < k; j++) {
            value[j] = t[j];
            w += t[j];
        }
        t[k] = (double)(end - start);
        for (size_t j = 0; j < k && w > 0.0; j++) {
            double q = t[j] / w;
            acc += ctx->c->criterion == TREE_ENTROPY ? (q > 0.0 ? -q * log2(q) : 0.0) : q * q;
        }
        return ctx->c->criterion == TREE_ENTROPY ? acc : 1.0 - acc;
    }
    for (size_t i = start; i < end; i++) {
        size_t r = ctx->rows[i];
        double w = d->w ? d->w[r] : 1.0, y = d->y[r];
        t[0] += w;
        t[1] += w * y;
        t[3] += w * y * y;
    }
    t[2] = (double)(end - start);
    double mean = t[1] / t[0];
    value[0] = mean;
    double imp = t[3] / t[0] - mean * mean;
    return imp > 0.0 ? imp : 0.0;
}

/* The node's targets and weights in row order (read once per node, not once per feature):
 * gw the weight, gy the class index or the weighted target. */
static void cart_gather(struct cart_ctx *ctx, size_t start, size_t end)
{
    const struct cart_data *d = ctx->d;
    int cls = ctx->c->task == ML_CLASSIFICATION;
    for (size_t i = start; i < end; i++) {
        size_t r = ctx->rows[i];
        double w = d->w ? d->w[r] : 1.0;
        ctx->gw[i - start] = w;
        ctx->gy[i - start] = cls ? d->y[r] : w * d->y[r];
    }
}

/* Histogram of feature f over the node; ctx->mask marks the non-empty bins. */
static void cart_hist(const struct cart_ctx *ctx, struct cart_scratch *sc, size_t f, size_t start,
                      size_t end)
{
    const struct cart_data *d = ctx->d;
    const uint8_t *codes = d->codes + f * d->n;
    const size_t *rows = ctx->rows + start;
    const double *gw = ctx->gw, *gy = ctx->gy;
    double *h = sc->hist;
    size_t s = ctx->stride, m = end - start;
    uint64_t mask[4] = {0};
    if (ctx->c->task == ML_CLASSIFICATION) {
        size_t k = ctx->c->nclasses;
        for (size_t i = 0; i < m; i++) {
            size_t b = codes[rows[i]];
            double *e = h + b * s;
            e[(size_t)gy[i]] += gw[i];
            e[k] += 1.0;
            mask[b >> 6] |= 1ULL << (b & 63);
        }
    } else {
        for (size_t i = 0; i < m; i++) {
            size_t b = codes[rows[i]];
            double *e = h + b * s;
            e[0] += gw[i];
            e[1] += gy[i];
            e[2] += 1.0;
            mask[b >> 6] |= 1ULL << (b & 63);
        }
    }
    memcpy(sc->mask, mask, sizeof mask);
}

static double cart_proxy_class(const struct cart_ctx *ctx, const double *left, double wl, double wr)
{
    size_t k = ctx->c->nclasses;
    const double *t = ctx->total;
    if (ctx->c->criterion == TREE_ENTROPY) {
        double acc = -cart_xlogx(wl) - cart_xlogx(wr);
        for (size_t j = 0; j < k; j++)
            acc += cart_xlogx(left[j]) + cart_xlogx(t[j] - left[j]);
        return acc;
    }
    double sl = 0.0, sr = 0.0;
    for (size_t j = 0; j < k; j++) {
        double r = t[j] - left[j];
        sl += left[j] * left[j];
        sr += r * r;
    }
    return sl / wl + sr / wr;
}

/* cart_scan for squared error: maximise SL^2/WL + SR^2/WR with one division. */
static void cart_scan_reg(const struct cart_ctx *ctx, struct cart_scratch *sc, size_t f,
                          struct cart_split *best)
{
    double *h = sc->hist, minleaf = (double)ctx->c->min_samples_leaf;
    const double wtot = ctx->total[0], stot = ctx->total[1], n = ctx->total[2];
    double wl = 0.0, sl = 0.0, nl = 0.0;
    long prev = -1;
    for (size_t word = 0; word < 4; word++) {
        for (uint64_t bits = sc->mask[word]; bits; bits &= bits - 1) {
            size_t b = word * 64 + (size_t)__builtin_ctzll(bits);
            double *e = h + b * 3;
            if (prev >= 0 && nl >= minleaf && n - nl >= minleaf) {
                double wr = wtot - wl, sr = stot - sl;
                double proxy = (sl * sl * wr + sr * sr * wl) / (wl * wr);
                if (!best->found || proxy > best->proxy)
                    *best = (struct cart_split){1, f, (size_t)prev, b, proxy};
            }
            wl += e[0];
            sl += e[1];
            nl += e[2];
            prev = (long)b;
            e[0] = e[1] = e[2] = 0.0;
        }
    }
}

/* Scan the non-empty bins of the histogram in order (clearing them) for the best split of
 * feature f. */
static void cart_scan(const struct cart_ctx *ctx, struct cart_scratch *sc, size_t f,
                      struct cart_split *best)
{
    if (ctx->c->task == ML_REGRESSION) {
        cart_scan_reg(ctx, sc, f, best);
        return;
    }
    size_t s = ctx->stride, k = ctx->c->nclasses;
    int cls = ctx->c->task == ML_CLASSIFICATION;
    size_t cnt_slot = cls ? k : 2;
    double *h = sc->hist, left[MLBIN_MAX_BINS + 3];
    double n = ctx->total[cnt_slot], minleaf = (double)ctx->c->min_samples_leaf;
    double wtot = cls ? 0.0 : ctx->total[0];
    for (size_t j = 0; cls && j < k; j++)
        wtot += ctx->total[j];
    memset(left, 0, s * sizeof *left);
    double wl = 0.0;
    long prev = -1;
    for (size_t word = 0; word < 4; word++) {
        for (uint64_t bits = sc->mask[word]; bits; bits &= bits - 1) {
            size_t b = word * 64 + (size_t)__builtin_ctzll(bits);
            double *e = h + b * s;
            if (prev >= 0 && left[cnt_slot] >= minleaf && n - left[cnt_slot] >= minleaf) {
                double proxy;
                if (cls)
                    proxy = cart_proxy_class(ctx, left, wl, wtot - wl);
                else
                    proxy = left[1] * left[1] / wl +
                            (ctx->total[1] - left[1]) * (ctx->total[1] - left[1]) / (wtot - wl);
                if (!best->found || proxy > best->proxy) {
                    best->found = 1;
                    best->proxy = proxy;
                    best->feature = f;
                    best->bin = (size_t)prev;
                    best->next_bin = b;
                }
            }
            for (size_t j = 0; j < s; j++)
                left[j] += e[j];
            prev = (long)b;
            memset(e, 0, s * sizeof *e);
            wl = 0.0;
            for (size_t j = 0; cls && j < k; j++)
                wl += left[j];
            wl = cls ? wl : left[0];
        }
    }
}

/* 1 (and the histogram cleared) when the feature has a single value in the node. */
static int cart_constant(const struct cart_ctx *ctx, struct cart_scratch *sc)
{
    size_t words = 0, only = 0;
    for (size_t w = 0; w < 4; w++) {
        uint64_t m = sc->mask[w];
        if (!m)
            continue;
        if (m & (m - 1))
            return 0; /* two bins in one word */
        words++;
        only = w * 64 + (size_t)__builtin_ctzll(m);
    }
    if (words != 1)
        return 0;
    memset(sc->hist + only * ctx->stride, 0, ctx->stride * sizeof *sc->hist);
    return 1;
}

struct cart_job {
    struct cart_ctx *ctx;
    size_t start, end;
    struct cart_split *res; /* per visiting position */
};

/* Pool task: the feature at visiting position i, in the worker's own histogram. */
static void cart_feature_task(void *arg, size_t i, size_t worker)
{
    struct cart_job *job = arg;
    struct cart_ctx *ctx = job->ctx;
    struct cart_scratch *sc = &ctx->sc[worker];
    size_t f = ctx->features[i];
    job->res[i] = (struct cart_split){0};
    cart_hist(ctx, sc, f, job->start, job->end);
    if (!cart_constant(ctx, sc))
        cart_scan(ctx, sc, f, &job->res[i]);
}

/* Every feature is a candidate: draw the visiting order exactly as the serial loop does,
 * search the features in parallel and keep the first best in that order. */
static void cart_find_split_all(struct cart_ctx *ctx, size_t start, size_t end,
                                struct cart_split *best)
{
    size_t p = ctx->d->p, *feat = ctx->features;
    for (size_t i = 0; i < p; i++) {
        size_t j = i + (size_t)mlrand_below(ctx->rng, p - i);
        size_t f = feat[j];
        feat[j] = feat[i];
        feat[i] = f;
    }
    struct cart_job job = {ctx, start, end, ctx->results};
    mlpool_run(ctx->pool, p, cart_feature_task, &job);
    for (size_t i = 0; i < p; i++)
        if (job.res[i].found && (!best->found || job.res[i].proxy > best->proxy))
            *best = job.res[i];
}

/* scikit-learn's feature sampling: draw features without replacement until max_features
 * were visited and at least one of them was not constant in the node. */
static void cart_find_split(struct cart_ctx *ctx, size_t start, size_t end, struct cart_split *best)
{
    size_t p = ctx->d->p, visited = 0, constants = 0;
    size_t *feat = ctx->features;
    for (size_t i = 0; i < p; i++)
        feat[i] = i;
    cart_gather(ctx, start, end);
    /* a large node with every feature a candidate: features in parallel */
    if (ctx->pool && ctx->c->max_features >= p && (end - start) * p >= CART_PAR_WORK) {
        cart_find_split_all(ctx, start, end, best);
        return;
    }
    struct cart_scratch *sc = &ctx->sc[0];
    for (size_t i = 0; i < p; i++) {
        if (visited >= ctx->c->max_features && visited > constants)
            break;
        size_t j = i + (size_t)mlrand_below(ctx->rng, p - i);
        size_t f = feat[j];
        feat[j] = feat[i];
        feat[i] = f;
        visited++;
        cart_hist(ctx, sc, f, start, end);
        if (cart_constant(ctx, sc)) {
            constants++;
            continue;
        }
        cart_scan(ctx, sc, f, best);
    }
}

/* Stable partition of rows[start..end) by codes <= bin; returns the left count. */
static size_t cart_partition(struct cart_ctx *ctx, size_t start, size_t end, size_t f, size_t bin)
{
    const uint8_t *codes = ctx->d->codes + f * ctx->d->n;
    size_t *rows = ctx->rows, *tmp = ctx->tmp;
    size_t nl = start, nr = 0;
    for (size_t i = start; i < end; i++) {
        size_t r = rows[i];
        if (codes[r] <= bin)
            rows[nl++] = r;
        else
            tmp[nr++] = r;
    }
    memcpy(rows + nl, tmp, nr * sizeof *rows);
    return nl - start;
}

static int cart_push(struct cart_ctx *ctx, size_t start, size_t end, size_t depth, int32_t parent,
                     int is_left)
{
    ctx->stack[ctx->sp++] = (struct cart_frame){start, end, depth, parent, is_left};
    return 0;
}

/* Create the node for frame fr; split it when the rules allow. */
static int cart_node(struct cart_ctx *ctx, const struct cart_frame *fr)
{
    struct tree_model *m = ctx->m;
    const struct cart_config *c = ctx->c;
    int rc = cart_reserve(m);
    if (rc)
        return rc;
    size_t id = m->n_nodes++;
    struct tree_node *node = &m->nodes[id];
    double imp = cart_totals(ctx, fr->start, fr->end, m->values + id * m->width);
    size_t n = fr->end - fr->start;
    double w = ctx->c->task == ML_CLASSIFICATION ? 0.0 : ctx->total[0];
    for (size_t j = 0; ctx->c->task == ML_CLASSIFICATION && j < c->nclasses; j++)
        w += ctx->total[j];
    *node = (struct tree_node){-1, -1, -1, (uint32_t)n, 0.0, imp, w};
    if (fr->parent >= 0) {
        struct tree_node *par = &m->nodes[fr->parent];
        if (fr->is_left)
            par->left = (int32_t)id;
        else
            par->right = (int32_t)id;
        m->importance[par->feature] -= w * imp;
    }
    int leaf = (c->max_depth && fr->depth >= c->max_depth) || n < c->min_samples_split ||
               n < 2 * c->min_samples_leaf || imp <= CART_EPS;
    if (leaf)
        return 0;
    struct cart_split best = {0};
    cart_find_split(ctx, fr->start, fr->end, &best);
    if (!best.found)
        return 0;
    node->feature = (int32_t)best.feature;
    node->threshold = mlbin_threshold(ctx->d->bins, best.feature, best.bin, best.next_bin);
    m->importance[best.feature] += w * imp;
    size_t nl = cart_partition(ctx, fr->start, fr->end, best.feature, best.bin);
    size_t mid = fr->start + nl;
    cart_push(ctx, mid, fr->end, fr->depth + 1, (int32_t)id, 0);
    cart_push(ctx, fr->start, mid, fr->depth + 1, (int32_t)id, 1);
    return 0;
}

static void cart_ctx_release(struct cart_ctx *ctx)
{
    free(ctx->stack);
    free(ctx->features);
    free(ctx->results);
    free(ctx->tmp);
    free(ctx->gw);
    free(ctx->gy);
    free(ctx->total);
    for (size_t i = 0; ctx->sc && i < ctx->nsc; i++)
        free(ctx->sc[i].hist);
    free(ctx->sc);
}

static int cart_ctx_alloc(struct cart_ctx *ctx, size_t nrows)
{
    const struct cart_config *c = ctx->c;
    size_t p = ctx->d->p, n = nrows ? nrows : 1;
    ctx->stride = c->task == ML_CLASSIFICATION ? c->nclasses + 1 : 3;
    ctx->nsc = mlpool_threads(ctx->pool);
    ctx->sc = calloc(ctx->nsc, sizeof *ctx->sc);
    for (size_t i = 0; ctx->sc && i < ctx->nsc; i++) {
        ctx->sc[i].hist = calloc(MLBIN_MAX_BINS * ctx->stride, sizeof *ctx->sc[i].hist);
        if (!ctx->sc[i].hist)
            return -ENOMEM;
    }
    ctx->total = calloc(ctx->stride + 1, sizeof *ctx->total);
    ctx->tmp = malloc(n * sizeof *ctx->tmp);
    ctx->gw = malloc(n * sizeof *ctx->gw);
    ctx->gy = malloc(n * sizeof *ctx->gy);
    ctx->features = malloc(p * sizeof *ctx->features);
    ctx->results = malloc(p * sizeof *ctx->results);
    /* depth first: at most one pending sibling per level, plus the root */
    size_t levels = c->max_depth && c->max_depth < nrows ? c->max_depth : nrows;
    ctx->stack = malloc((levels + 2) * sizeof *ctx->stack);
    return ctx->sc && ctx->total && ctx->tmp && ctx->gw && ctx->gy && ctx->features &&
                   ctx->results && ctx->stack
               ? 0
               : -ENOMEM;
}

int cart_grow(const struct cart_data *d, const struct cart_config *c, size_t *rows, size_t nrows,
              struct mlrand *rng, struct mlpool *pool, struct tree_model *out)
{
    struct cart_ctx ctx = {.d = d, .c = c, .rng = rng, .m = out, .rows = rows, .pool = pool};
    int rc = cart_ctx_alloc(&ctx, nrows);
    if (rc == 0)
        cart_push(&ctx, 0, nrows, 0, -1, 0);
    while (rc == 0 && ctx.sp > 0) {
        if (c->cancel && *c->cancel) {
            rc = -ECANCELED;
            break;
        }
        struct cart_frame fr = ctx.stack[--ctx.sp];
        rc = cart_node(&ctx, &fr);
    }
    rc = rc ? rc : cart_finish(out);
    cart_ctx_release(&ctx);
    return rc;
}

int cart_finish(struct tree_model *m)
{
    struct cart_flat *fl = malloc(m->n_nodes * sizeof *fl);
    size_t *depth = calloc(m->n_nodes, sizeof *depth);
    if (!fl || !depth) {
        free(fl);
        free(depth);
        return -ENOMEM;
    }
    m->depth = 0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        const struct tree_node *nd = &m->nodes[i];
        m->depth = depth[i] > m->depth ? depth[i] : m->depth;
        if (nd->feature < 0) {
            fl[i] = (struct cart_flat){INFINITY, 0, (int32_t)i, (int32_t)i, 0};
            continue;
        }
        fl[i] = (struct cart_flat){nd->threshold, nd->feature, nd->left, nd->right, 0};
        depth[nd->left] = depth[nd->right] = depth[i] + 1;
    }
    free(depth);
    free(m->flat);
    m->flat = fl;
    return 0;
}

#define CART_LANES 8

void cart_leaves(const struct tree_model *m, const double *x, size_t n, size_t p, size_t *leaf)
{
    const struct cart_flat *fl = m->flat;
    size_t i = 0;
    /* eight rows at a time, a fixed number of steps: no unpredictable branches */
    for (; m->depth <= 32 && i + CART_LANES <= n; i += CART_LANES) {
        size_t idx[CART_LANES] = {0};
        const double *rows = x + i * p;
        for (size_t d = 0; d < m->depth; d++) {
            for (size_t j = 0; j < CART_LANES; j++) {
                const struct cart_flat *nd = &fl[idx[j]];
                /* arithmetic select: the compiler keeps it branch-free */
                int32_t right = -(int32_t) !(rows[j * p + (size_t)nd->feature] <= nd->threshold);
                int32_t next = nd->left + ((nd->right - nd->left) & right);
                idx[j] = (size_t)next;
            }
        }
        memcpy(leaf + i, idx, sizeof idx);
    }
    for (; i < n; i++) {
        const double *row = x + i * p;
        size_t k = 0;
        while (m->nodes[k].feature >= 0)
            k = (size_t)(row[fl[k].feature] <= fl[k].threshold ? fl[k].left : fl[k].right);
        leaf[i] = k;
    }
}

void cart_accumulate(const struct tree_model *m, const struct ml_matrix *x, double scale,
                     double *out)
{
    size_t k = m->width, leaves[64];
    for (size_t start = 0; start < x->n; start += 64) {
        size_t len = x->n - start < 64 ? x->n - start : 64;
        cart_leaves(m, x->x + start * x->p, len, x->p, leaves);
        for (size_t i = 0; i < len; i++) {
            const double *v = m->values + leaves[i] * k;
            double *o = out + (start + i) * k;
            if (m->task == ML_REGRESSION) {
                o[0] += scale * v[0];
                continue;
            }
            double w = m->nodes[leaves[i]].weight, f = w > 0.0 ? scale / w : 0.0;
            for (size_t j = 0; j < k; j++)
                o[j] += f * v[j];
        }
    }
}

void cart_importance(const struct tree_model *m, double *out)
{
    double sum = 0.0;
    for (size_t f = 0; f < m->p; f++) {
        out[f] = m->importance[f] > 0.0 ? m->importance[f] : 0.0;
        sum += out[f];
    }
    for (size_t f = 0; f < m->p; f++)
        out[f] = sum > 0.0 ? out[f] / sum : 0.0;
}

int cart_check_matrix(const struct tree_model *m, const struct ml_matrix *x)
{
    if (!m || !x || x->p != m->p || (x->n > 0 && !x->x))
        return -EINVAL;
    for (size_t i = 0; i < x->n * x->p; i++)
        if (isnan(x->x[i]))
            return -EINVAL;
    return 0;
}

void cart_encode(const struct tree_model *m, struct mlenc_writer *w)
{
    mlenc_put_u32(w, (uint32_t)m->task);
    mlenc_put_u32(w, (uint32_t)m->criterion);
    mlenc_put_u64(w, m->p);
    mlenc_put_u64(w, m->nclasses);
    mlenc_put_u64(w, m->n_nodes);
    for (size_t i = 0; i < m->n_nodes; i++) {
        const struct tree_node *nd = &m->nodes[i];
        mlenc_put_u32(w, (uint32_t)nd->feature);
        mlenc_put_u32(w, (uint32_t)nd->left);
        mlenc_put_u32(w, (uint32_t)nd->right);
        mlenc_put_u32(w, nd->samples);
        mlenc_put_f64(w, nd->threshold);
        mlenc_put_f64(w, nd->impurity);
        mlenc_put_f64(w, nd->weight);
        mlenc_put_f64s(w, m->values + i * m->width, m->width);
    }
    mlenc_put_f64s(w, m->importance, m->p);
}

/* Every non-root node is the child of exactly one node with a smaller index: a tree. */
static int cart_check_links(const struct tree_model *m, unsigned char *seen)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        const struct tree_node *nd = &m->nodes[i];
        if (nd->feature < 0) {
            if (nd->feature != -1 || nd->left != -1 || nd->right != -1)
                return -EINVAL;
            continue;
        }
        if ((size_t)nd->feature >= m->p || !isfinite(nd->threshold))
            return -EINVAL;
        int32_t kids[2] = {nd->left, nd->right};
        for (int j = 0; j < 2; j++) {
            if (kids[j] <= (int32_t)i || (size_t)kids[j] >= m->n_nodes || seen[kids[j]])
                return -EINVAL;
            seen[kids[j]] = 1;
        }
    }
    for (size_t i = 1; i < m->n_nodes; i++)
        if (!seen[i])
            return -EINVAL;
    return 0;
}

static int cart_decode_nodes(struct mlenc_reader *r, struct tree_model *m)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        struct tree_node *nd = &m->nodes[i];
        nd->feature = (int32_t)mlenc_get_u32(r);
        nd->left = (int32_t)mlenc_get_u32(r);
        nd->right = (int32_t)mlenc_get_u32(r);
        nd->samples = mlenc_get_u32(r);
        nd->threshold = mlenc_get_f64(r);
        nd->impurity = mlenc_get_finite(r);
        nd->weight = mlenc_get_finite(r);
        for (size_t j = 0; j < m->width; j++) {
            double v = mlenc_get_finite(r);
            if (m->task == ML_CLASSIFICATION && v < 0.0)
                return -EINVAL;
            m->values[i * m->width + j] = v;
        }
        if (r->err || nd->weight < 0.0 || nd->impurity < 0.0)
            return -EINVAL;
    }
    for (size_t f = 0; f < m->p; f++)
        m->importance[f] = mlenc_get_finite(r);
    return r->err ? -EINVAL : 0;
}

int cart_decode(struct mlenc_reader *r, struct tree_model *m)
{
    uint32_t task = mlenc_get_u32(r), crit = mlenc_get_u32(r);
    size_t p = mlenc_get_count(r, 1, 1u << 24, 8);
    uint64_t k = mlenc_get_u64(r);
    if (r->err)
        return -EINVAL;
    int cls = task == ML_CLASSIFICATION;
    if (!cls && (task != ML_REGRESSION || crit != TREE_SQUARED_ERROR || k != 0))
        return -EINVAL;
    if (cls && (k < 2 || k > (1u << 16) || (crit != TREE_GINI && crit != TREE_ENTROPY)))
        return -EINVAL;
    size_t width = cls ? k : 1;
    size_t n = mlenc_get_count(r, 1, INT32_MAX, 40 + 8 * width);
    if (r->err)
        return -EINVAL;
    int rc = cart_model_init(m, (enum ml_task)task, (enum tree_criterion)crit, p, k);
    if (rc)
        return rc;
    m->nodes = malloc(n * sizeof *m->nodes);
    m->values = malloc(n * width * sizeof *m->values);
    unsigned char *seen = calloc(n, 1);
    rc = -ENOMEM;
    if (!m->nodes || !m->values || !seen)
        goto fail;
    m->n_nodes = m->cap = n;
    rc = cart_decode_nodes(r, m);
    rc = rc ? rc : cart_check_links(m, seen);
    rc = rc ? rc : cart_finish(m);
    if (rc)
        goto fail;
    free(seen);
    return 0;
fail:
    free(seen);
    cart_model_release(m);
    return rc;
}

int cart_check_params(const struct tree_params *pr, size_t p)
{
    if (pr->task == ML_CLASSIFICATION) {
        if (pr->nclasses < 2 || pr->nclasses > (1u << 16) ||
            (pr->criterion != TREE_GINI && pr->criterion != TREE_ENTROPY))
            return -EINVAL;
    } else if (pr->task != ML_REGRESSION || pr->criterion != TREE_SQUARED_ERROR) {
        return -EINVAL;
    }
    if (pr->min_samples_split < 2 || pr->min_samples_leaf < 1)
        return -EINVAL;
    return tree_resolve_max_features(pr->max_features, pr->max_features_value, p) ? 0 : -EINVAL;
}

/* 0 when X is finite and y holds class indices (or finite values). */
int cart_check_data(const struct ml_matrix *x, const double *y, enum ml_task task, size_t nclasses)
{
    if (!x || !x->x || !y || x->n == 0 || x->p == 0 || x->n > UINT32_MAX)
        return -EINVAL;
    for (size_t i = 0; i < x->n * x->p; i++)
        if (!isfinite(x->x[i]))
            return -EINVAL;
    for (size_t i = 0; i < x->n; i++) {
        double v = y[i];
        if (!isfinite(v))
            return -EINVAL;
        if (task == ML_CLASSIFICATION && (v < 0.0 || v >= (double)nclasses || v != floor(v)))
            return -EINVAL;
    }
    return 0;
}
