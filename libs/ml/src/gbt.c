/* gbt: fitting histogram gradient-boosted trees (leaf-wise growth, histogram subtraction). */
#include "gbtimpl.h"
#include "mlbin.h"
#include "mlpool.h"

#include <ibx/mlpar.h>
#include <ibx/split.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GBT_NB       256    /* histogram slots per feature: value bins, then missing (255) */
#define GBT_PAR_WORK 32768u /* rows x features below which a node is done on one thread */

#define GBT_CHUNK 4096 /* rows per task in row-parallel loops */

struct gbt_bin {
    double g, h, n;
};

struct gbt_split {
    double gain;
    int32_t feature; /* -1: no split */
    uint32_t bin;    /* last value bin on the left */
    uint32_t next;   /* first bin on the right (MLBIN_MISSING: the missing values only) */
    uint32_t default_left;
    double gl, hl, nl; /* the left side's totals */
};

struct gbt_leaf {
    size_t start, end; /* rows[start..end) */
    int32_t node;
    size_t depth;
    double g, h, n;
    struct gbt_bin *hist; /* p * GBT_NB, or NULL */
    struct gbt_split best;
};

struct gbt_work {
    const struct gbt_params *prm;
    size_t n, p;
    const uint8_t *codes; /* p * n, column-major */
    const struct mlbin *bins;
    const double *g, *h; /* the current output's gradients and hessians */
    int unit_hessian;    /* every hessian is 1 (squared error) */
    double *ogh;         /* the node's (g, h) pairs in row order */
    size_t *rows, *tmp, *tmp2;
    size_t *chunk_nl, *chunk_at; /* parallel partition: lefts per chunk, their offsets */
    size_t chunk_total;
    struct gbt_bin **spare; /* histograms not in use */
    size_t nspare;
    struct gbt_split *fbest; /* p: best split per feature of the node in work */
    struct mlpool *pool;
    /* the job handed to the pool */
    struct gbt_leaf *job_small;
    struct gbt_leaf *job_large;
    struct gbt_split *fbest_large; /* p */
    struct gbt_node *nodes;
    size_t n_nodes, cap_nodes;
    struct gbt_leaf *leaves;
    size_t n_leaves;
};

void gbt_params_default(struct gbt_params *params, enum ml_task task, size_t nclasses)
{
    memset(params, 0, sizeof *params);
    params->task = task;
    params->nclasses = task == ML_CLASSIFICATION ? nclasses : 0;
    params->learning_rate = 0.1;
    params->max_iter = 100;
    params->max_leaves = 31;
    params->min_samples_leaf = 20;
    params->min_child_weight = 1e-3;
    params->max_bins = 255;
    params->early_stopping = -1;
    params->n_iter_no_change = 10;
    params->validation_fraction = 0.1;
    params->tol = 1e-7;
}

static struct gbt_bin *gbt_hist_get(struct gbt_work *w)
{
    if (w->nspare)
        return w->spare[--w->nspare];
    return malloc(w->p * GBT_NB * sizeof(struct gbt_bin));
}

static void gbt_hist_put(struct gbt_work *w, struct gbt_bin *hist)
{
    if (hist)
        w->spare[w->nspare++] = hist;
}

/* Try one candidate: left totals (gl, hl, nl); keep it when it beats *best. */
static void gbt_try(const struct gbt_work *w, const struct gbt_leaf *lf, double gl, double hl,
                    double nl, struct gbt_split *best, const struct gbt_split *cand)
{
    const struct gbt_params *prm = w->prm;
    double gr = lf->g - gl, hr = lf->h - hl, nr = lf->n - nl, lam = prm->l2;
    double msl = (double)prm->min_samples_leaf;
    if (nl < msl || nr < msl || hl < prm->min_child_weight || hr < prm->min_child_weight)
        return;
    double dl = hl + lam, dr = hr + lam;
    double gain = (gl * gl * dr + gr * gr * dl) / (dl * dr) - lf->g * lf->g / (lf->h + lam);
    if (gain > best->gain) {
        *best = *cand;
        best->gain = gain;
        best->gl = gl;
        best->hl = hl;
        best->nl = nl;
    }
}

/* gbt_find without missing values in the node (the common case): one tight loop. */
static void gbt_find_dense(const struct gbt_work *w, const struct gbt_leaf *lf, size_t f,
                           const struct gbt_bin *hf, struct gbt_split *best)
{
    const struct gbt_params *prm = w->prm;
    const double g = lf->g, h = lf->h, n = lf->n, lam = prm->l2, mcw = prm->min_child_weight;
    const double msl = (double)prm->min_samples_leaf, parent = g * g / (h + lam);
    double best_score = best->gain + parent, gl = 0.0, hl = 0.0, nl = 0.0;
    double bgl = 0.0, bhl = 0.0, bnl = 0.0;
    long prev = -1, best_a = -1, best_c = -1;
    size_t nb = w->bins->nbins[f];
    for (size_t b = 0; b < nb; b++) {
        const struct gbt_bin *e = &hf[b];
        if (e->n == 0.0)
            continue;
        if (prev >= 0 && nl >= msl && n - nl >= msl && hl >= mcw && h - hl >= mcw) {
            double dl = hl + lam, dr = h - hl + lam, gr = g - gl;
            double score = (gl * gl * dr + gr * gr * dl) / (dl * dr);
            if (score > best_score) {
                best_score = score;
                best_a = prev;
                best_c = (long)b;
                bgl = gl;
                bhl = hl;
                bnl = nl;
            }
        }
        gl += e->g;
        hl += e->h;
        nl += e->n;
        prev = (long)b;
    }
    if (best_a < 0)
        return;
    /* missing values at prediction time follow the larger child */
    *best = (struct gbt_split){best_score - parent,
                               (int32_t)f,
                               (uint32_t)best_a,
                               (uint32_t)best_c,
                               2.0 * bnl >= n,
                               bgl,
                               bhl,
                               bnl};
}

/* Best split of feature f from its histogram hf; best->gain starts at the minimum gain. */
static void gbt_find(const struct gbt_work *w, const struct gbt_leaf *lf, size_t f,
                     const struct gbt_bin *hf, struct gbt_split *best)
{
    size_t nb = w->bins->nbins[f];
    const struct gbt_bin *miss = &hf[MLBIN_MISSING];
    if (miss->n == 0.0) {
        gbt_find_dense(w, lf, f, hf, best);
        return;
    }
    double gl = 0.0, hl = 0.0, nl = 0.0;
    long prev = -1;
    struct gbt_split cand = {.feature = (int32_t)f};
    for (size_t b = 0; b < nb; b++) {
        if (hf[b].n == 0.0)
            continue;
        if (prev >= 0) {
            cand.bin = (uint32_t)prev;
            cand.next = (uint32_t)b;
            /* without missing values in the node, they follow the larger child */
            cand.default_left = miss->n == 0.0 && 2.0 * nl >= lf->n;
            gbt_try(w, lf, gl, hl, nl, best, &cand);
            if (miss->n > 0.0) {
                cand.default_left = 1;
                gbt_try(w, lf, gl + miss->g, hl + miss->h, nl + miss->n, best, &cand);
            }
        }
        gl += hf[b].g;
        hl += hf[b].h;
        nl += hf[b].n;
        prev = (long)b;
    }
    if (prev >= 0 && miss->n > 0.0) { /* every value left, the missing ones right */
        cand.bin = (uint32_t)prev;
        cand.next = MLBIN_MISSING;
        cand.default_left = 0;
        gbt_try(w, lf, gl, hl, nl, best, &cand);
    }
}

/* Histogram of feature f over the leaf's rows (the root reads rows in order). */
static void gbt_build(const struct gbt_work *w, const struct gbt_leaf *lf, size_t f,
                      struct gbt_bin *hf)
{
    const uint8_t *codes = w->codes + f * w->n;
    size_t nb = w->bins->nbins[f], m = lf->end - lf->start;
    int root = lf->start == 0 && lf->end == w->n;
    const size_t *rows = w->rows + lf->start;
    const double *gh = w->ogh;
    memset(hf, 0, nb * sizeof *hf);
    memset(&hf[MLBIN_MISSING], 0, sizeof *hf);
    if (w->unit_hessian) { /* squared error: the hessian sum is the count */
        for (size_t i = 0; i < m; i++) {
            struct gbt_bin *e = &hf[codes[root ? i : rows[i]]];
            e->g += root ? w->g[i] : gh[2 * i];
            e->n += 1.0;
        }
        for (size_t b = 0; b < nb; b++)
            hf[b].h = hf[b].n;
        hf[MLBIN_MISSING].h = hf[MLBIN_MISSING].n;
        return;
    }
    if (root) {
        for (size_t i = 0; i < m; i++) {
            struct gbt_bin *e = &hf[codes[i]];
            e->g += w->g[i];
            e->h += w->h[i];
            e->n += 1.0;
        }
        return;
    }
    for (size_t i = 0; i < m; i++) {
        struct gbt_bin *e = &hf[codes[rows[i]]];
        e->g += gh[2 * i];
        e->h += gh[2 * i + 1];
        e->n += 1.0;
    }
}

/* Pool task for feature f: the small leaf's histogram (built) and best split, then the
 * large leaf's histogram (the parent's, in place, minus the small one's) and best split. */
static void gbt_feature_task(void *ctx, size_t f, size_t worker)
{
    (void)worker;
    struct gbt_work *w = ctx;
    struct gbt_leaf *small = w->job_small, *large = w->job_large;
    struct gbt_bin *hs = small->hist + f * GBT_NB;
    gbt_build(w, small, f, hs);
    w->fbest[f] = (struct gbt_split){.gain = w->prm->min_split_gain, .feature = -1};
    gbt_find(w, small, f, hs, &w->fbest[f]);
    if (!large)
        return;
    struct gbt_bin *hl = large->hist + f * GBT_NB;
    size_t nb = w->bins->nbins[f];
    for (size_t b = 0; b < GBT_NB; b++) {
        if (b >= nb && b != MLBIN_MISSING)
            continue;
        hl[b].g -= hs[b].g;
        hl[b].h -= hs[b].h;
        hl[b].n -= hs[b].n;
    }
    w->fbest_large[f] = (struct gbt_split){.gain = w->prm->min_split_gain, .feature = -1};
    gbt_find(w, large, f, hl, &w->fbest_large[f]);
}

static void gbt_reduce(const struct gbt_work *w, const struct gbt_split *fbest, struct gbt_leaf *lf)
{
    lf->best = (struct gbt_split){.gain = w->prm->min_split_gain, .feature = -1};
    for (size_t f = 0; f < w->p; f++)
        if (fbest[f].feature >= 0 && fbest[f].gain > lf->best.gain)
            lf->best = fbest[f];
}

/* Histograms and best splits of small (its rows' gradients already in w->ogh unless it is
 * the root) and, when not NULL, of large; features in parallel when the node is large. */
static void gbt_hists(struct gbt_work *w, struct gbt_leaf *small, struct gbt_leaf *large)
{
    size_t m = small->end - small->start;
    w->job_small = small;
    w->job_large = large;
    /* building costs a pass over the rows, the split search one over the bins */
    if ((m + 4 * GBT_NB) * w->p >= GBT_PAR_WORK)
        mlpool_run(w->pool, w->p, gbt_feature_task, w);
    else
        for (size_t f = 0; f < w->p; f++)
            gbt_feature_task(w, f, 0);
    gbt_reduce(w, w->fbest, small);
    if (large)
        gbt_reduce(w, w->fbest_large, large);
}

static int gbt_new_node(struct gbt_work *w, const struct gbt_leaf *lf)
{
    if (w->n_nodes == w->cap_nodes) {
        size_t cap = w->cap_nodes ? w->cap_nodes * 2 : 64;
        struct gbt_node *t = realloc(w->nodes, cap * sizeof *t);
        if (!t)
            return -ENOMEM;
        w->nodes = t;
        w->cap_nodes = cap;
    }
    double value = -w->prm->learning_rate * lf->g / (lf->h + w->prm->l2);
    w->nodes[w->n_nodes++] = (struct gbt_node){-1, -1, -1, 0, 0.0, value, 0.0, lf->h};
    return 0;
}

static int gbt_can_split(const struct gbt_work *w, const struct gbt_leaf *lf, size_t leaves)
{
    const struct gbt_params *prm = w->prm;
    return (!prm->max_depth || lf->depth < prm->max_depth) &&
           lf->n >= 2.0 * (double)prm->min_samples_leaf &&
           (!prm->max_leaves || leaves < prm->max_leaves);
}

/* Stable partition of rows[start..end) by the split: lefts to out_l, rights to out_r
 * (either may alias rows when writing never overtakes reading); returns the left count. */
static size_t gbt_partition_range(const struct gbt_work *w, const struct gbt_split *s,
                                  const size_t *rows, size_t m, size_t *out_l, size_t *out_r)
{
    const uint8_t *codes = w->codes + (size_t)s->feature * w->n;
    unsigned bin = s->bin, dl = s->default_left;
    size_t nl = 0, nr = 0;
    for (size_t i = 0; i < m; i++) {
        size_t r = rows[i];
        unsigned c = codes[r];
        unsigned left = (c <= bin) | ((c == MLBIN_MISSING) & dl);
        left &= (c != MLBIN_MISSING) | dl;
        out_l[nl] = r; /* branch-free: both written, one kept */
        out_r[nr] = r;
        nl += left;
        nr += !left;
    }
    return nl;
}

/* Phase one of the parallel partition: chunk c split into tmp (lefts) and tmp2 (rights). */
static void gbt_part_task(void *ctx, size_t c, size_t worker)
{
    (void)worker;
    struct gbt_work *w = ctx;
    const struct gbt_leaf *lf = w->job_small;
    size_t at = lf->start + c * GBT_CHUNK, m = lf->end - at < GBT_CHUNK ? lf->end - at : GBT_CHUNK;
    w->chunk_nl[c] = gbt_partition_range(w, &lf->best, w->rows + at, m, w->tmp + at, w->tmp2 + at);
}

/* Phase two: chunk c's lefts and rights copied to their final places. */
static void gbt_place_task(void *ctx, size_t c, size_t worker)
{
    (void)worker;
    struct gbt_work *w = ctx;
    const struct gbt_leaf *lf = w->job_small;
    size_t at = lf->start + c * GBT_CHUNK, m = lf->end - at < GBT_CHUNK ? lf->end - at : GBT_CHUNK;
    size_t nl = w->chunk_nl[c];
    memcpy(w->rows + lf->start + w->chunk_at[c], w->tmp + at, nl * sizeof *w->rows);
    memcpy(w->rows + lf->start + w->chunk_total + (c * GBT_CHUNK - w->chunk_at[c]), w->tmp2 + at,
           (m - nl) * sizeof *w->rows);
}

/* Stable partition of the leaf's rows by its best split (chunks on the pool for large
 * leaves: the same result); returns the left count. */
static size_t gbt_partition(struct gbt_work *w, struct gbt_leaf *lf)
{
    size_t m = lf->end - lf->start, nchunks = (m + GBT_CHUNK - 1) / GBT_CHUNK;
    if (nchunks < 2 || mlpool_threads(w->pool) < 2) {
        size_t *rows = w->rows + lf->start;
        size_t nl = gbt_partition_range(w, &lf->best, rows, m, rows, w->tmp);
        memcpy(rows + nl, w->tmp, (m - nl) * sizeof *rows);
        return nl;
    }
    w->job_small = lf;
    mlpool_run(w->pool, nchunks, gbt_part_task, w);
    size_t total = 0;
    for (size_t c = 0; c < nchunks; c++) {
        w->chunk_at[c] = total;
        total += w->chunk_nl[c];
    }
    w->chunk_total = total;
    mlpool_run(w->pool, nchunks, gbt_place_task, w);
    return total;
}

static void gbt_gather_task(void *ctx, size_t c, size_t worker)
{
    (void)worker;
    struct gbt_work *w = ctx;
    const struct gbt_leaf *lf = w->job_small;
    size_t from = c * GBT_CHUNK, m = lf->end - lf->start;
    size_t to = from + GBT_CHUNK < m ? from + GBT_CHUNK : m;
    const size_t *rows = w->rows + lf->start;
    for (size_t i = from; i < to; i++) {
        w->ogh[2 * i] = w->g[rows[i]];
        w->ogh[2 * i + 1] = w->h[rows[i]];
    }
}

/* The gradients of lf's rows, in row order, into w->ogh. */
static void gbt_gather(struct gbt_work *w, struct gbt_leaf *lf)
{
    w->job_small = lf;
    mlpool_run(w->pool, (lf->end - lf->start + GBT_CHUNK - 1) / GBT_CHUNK, gbt_gather_task, w);
}

/* Histograms and best splits of a fresh pair of children: the smaller one built, the
 * larger one the parent's minus it; a child that may not split keeps none. */
static int gbt_children(struct gbt_work *w, struct gbt_leaf *cl, struct gbt_leaf *cr,
                        struct gbt_bin *parent_hist)
{
    size_t leaves = w->n_leaves;
    if (!gbt_can_split(w, cl, leaves) && !gbt_can_split(w, cr, leaves)) {
        gbt_hist_put(w, parent_hist);
        return 0;
    }
    struct gbt_leaf *small = cl->n <= cr->n ? cl : cr, *large = small == cl ? cr : cl;
    small->hist = gbt_hist_get(w);
    if (!small->hist) {
        gbt_hist_put(w, parent_hist);
        return -ENOMEM;
    }
    gbt_gather(w, small);
    if (gbt_can_split(w, large, leaves)) {
        large->hist = parent_hist;
        gbt_hists(w, small, large);
    } else {
        gbt_hist_put(w, parent_hist);
        gbt_hists(w, small, NULL);
    }
    for (int j = 0; j < 2; j++) {
        struct gbt_leaf *c = j ? cr : cl;
        if (!gbt_can_split(w, c, leaves)) {
            c->best.feature = -1;
            gbt_hist_put(w, c->hist);
            c->hist = NULL;
        }
    }
    return 0;
}

/* Split leaf i into itself (left) and a new leaf at the end (right). */
static int gbt_split_leaf(struct gbt_work *w, size_t i)
{
    struct gbt_leaf *lf = &w->leaves[i], parent = *lf;
    const struct gbt_split *s = &parent.best;
    struct gbt_node *nd = &w->nodes[parent.node];
    nd->feature = s->feature;
    nd->threshold = s->next == MLBIN_MISSING
                        ? DBL_MAX
                        : mlbin_threshold(w->bins, (size_t)s->feature, s->bin, s->next);
    nd->gain = s->gain;
    size_t nl = gbt_partition(w, &parent);
    struct gbt_leaf l = {
        parent.start, parent.start + nl, (int32_t)w->n_nodes, parent.depth + 1, s->gl, s->hl, s->nl,
        NULL,         {.feature = -1}};
    struct gbt_leaf r = {
        parent.start + nl, parent.end,       (int32_t)w->n_nodes + 1, parent.depth + 1,
        parent.g - s->gl,  parent.h - s->hl, parent.n - s->nl,        NULL,
        {.feature = -1}};
    int rc = gbt_new_node(w, &l);
    rc = rc ? rc : gbt_new_node(w, &r);
    if (rc)
        return rc;
    nd = &w->nodes[parent.node];
    nd->left = l.node;
    nd->right = r.node;
    nd->default_left = s->default_left;
    l.best.feature = r.best.feature = -1;
    w->leaves[i] = l;
    w->leaves[w->n_leaves++] = r;
    return gbt_children(w, &w->leaves[i], &w->leaves[w->n_leaves - 1], parent.hist);
}

/* The splittable leaf with the largest gain, or -1. */
static long gbt_pick(const struct gbt_work *w)
{
    long best = -1;
    for (size_t i = 0; i < w->n_leaves; i++)
        if (w->leaves[i].best.feature >= 0 &&
            (best < 0 || w->leaves[i].best.gain > w->leaves[best].best.gain))
            best = (long)i;
    return best;
}

/* Grow one tree on w->g / w->h; its nodes go to w->nodes (w->n_nodes). */
static int gbt_grow(struct gbt_work *w)
{
    w->n_nodes = 0;
    w->n_leaves = 0;
    for (size_t i = 0; i < w->n; i++)
        w->rows[i] = i;
    struct gbt_leaf root = {0, w->n, 0, 0, 0.0, 0.0, (double)w->n, NULL, {.feature = -1}};
    for (size_t i = 0; i < w->n; i++) {
        root.g += w->g[i];
        root.h += w->h[i];
    }
    int rc = gbt_new_node(w, &root);
    if (rc)
        return rc;
    root.best.feature = -1;
    if (gbt_can_split(w, &root, 1)) {
        root.hist = gbt_hist_get(w);
        if (!root.hist)
            return -ENOMEM;
        gbt_hists(w, &root, NULL);
    }
    w->leaves[w->n_leaves++] = root;
    for (;;) {
        long i = gbt_pick(w);
        if (i < 0 || (w->prm->max_leaves && w->n_leaves >= w->prm->max_leaves))
            break;
        rc = gbt_split_leaf(w, (size_t)i);
        if (rc)
            break;
    }
    for (size_t i = 0; i < w->n_leaves; i++) {
        gbt_hist_put(w, w->leaves[i].hist);
        w->leaves[i].hist = NULL;
    }
    return rc;
}

/* Everything one fit owns. */
struct gbt_fit {
    const struct gbt_params *prm;
    const struct ml_control *ctrl;
    struct gbt_model *m;
    size_t n, k;
    size_t output; /* the output whose tree is being added */
    size_t *train; /* rows of X used for training (NULL: all) */
    struct ml_matrix val;
    double *yval, *ytrain;
    double *raw, *val_raw; /* n * k, nval * k */
    double *g, *h;         /* k * n */
    struct mlbin bins;
    uint8_t *codes;
    struct gbt_work w;
};

static void gbt_fit_release(struct gbt_fit *f)
{
    free(f->train);
    free((double *)f->val.x);
    free(f->yval);
    free(f->ytrain);
    free(f->raw);
    free(f->val_raw);
    free(f->g);
    free(f->h);
    free(f->codes);
    mlbin_release(&f->bins);
    for (size_t i = 0; i < f->w.nspare; i++)
        free(f->w.spare[i]);
    free(f->w.spare);
    free(f->w.ogh);
    free(f->w.rows);
    free(f->w.tmp);
    free(f->w.tmp2);
    free(f->w.chunk_nl);
    free(f->w.chunk_at);
    free(f->w.fbest);
    free(f->w.fbest_large);
    free(f->w.nodes);
    free(f->w.leaves);
    mlpool_free(f->w.pool);
}

/* Gradients and hessians of every output for the current raw scores (scikit-learn's
 * losses: half squared error, binary and multinomial log loss). */
static void gbt_gradient_task(void *ctx, size_t chunk, size_t worker)
{
    (void)worker;
    struct gbt_fit *f = ctx;
    size_t n = f->n, k = f->k, start = chunk * GBT_CHUNK;
    size_t end = start + GBT_CHUNK < n ? start + GBT_CHUNK : n;
    for (size_t i = start; i < end; i++) {
        const double *r = f->raw + i * k;
        double y = f->ytrain[i];
        if (f->m->objective == GBT_OBJ_SQUARED) {
            f->g[i] = r[0] - y;
            f->h[i] = 1.0;
        } else if (f->m->objective == GBT_OBJ_LOGISTIC) {
            double p = 1.0 / (1.0 + exp(-r[0]));
            f->g[i] = p - y;
            f->h[i] = p * (1.0 - p);
        } else {
            double mx = r[0], sum = 0.0, e[MLBIN_MAX_BINS + 1];
            for (size_t j = 1; j < k; j++)
                mx = r[j] > mx ? r[j] : mx;
            for (size_t j = 0; j < k; j++)
                sum += (e[j] = exp(r[j] - mx));
            for (size_t j = 0; j < k; j++) {
                double p = e[j] / sum;
                f->g[j * n + i] = p - (y == (double)j ? 1.0 : 0.0);
                f->h[j * n + i] = p * (1.0 - p);
            }
        }
    }
}

static void gbt_gradients(struct gbt_fit *f)
{
    mlpool_run(f->w.pool, (f->n + GBT_CHUNK - 1) / GBT_CHUNK, gbt_gradient_task, f);
}

/* The starting raw scores: mean, log-odds or log priors (clipped like scikit-learn). */
static void gbt_baseline(struct gbt_fit *f)
{
    size_t n = f->n, k = f->k;
    double *base = f->m->base;
    if (f->m->objective == GBT_OBJ_SQUARED) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += f->ytrain[i];
        base[0] = s / (double)n;
    } else {
        double cnt[MLBIN_MAX_BINS + 1] = {0};
        for (size_t i = 0; i < n; i++)
            cnt[(size_t)f->ytrain[i]] += 1.0;
        double eps = DBL_EPSILON;
        for (size_t j = 0; j < f->m->nclasses; j++) {
            double pj = cnt[j] / (double)n;
            cnt[j] = pj < eps ? eps : pj > 1.0 - eps ? 1.0 - eps : pj;
        }
        if (f->m->objective == GBT_OBJ_LOGISTIC)
            base[0] = log(cnt[1] / (1.0 - cnt[1]));
        else
            for (size_t j = 0; j < k; j++)
                base[j] = log(cnt[j]);
    }
    for (size_t i = 0; i < n; i++)
        memcpy(f->raw + i * k, base, k * sizeof *base);
    for (size_t i = 0; i < f->val.n; i++)
        memcpy(f->val_raw + i * k, base, k * sizeof *base);
}

static int gbt_check(const struct gbt_params *prm, const struct ml_matrix *x, const double *y)
{
    if (!prm || !x || !x->x || !y || x->n < 2 || x->p == 0 || x->n > UINT32_MAX)
        return -EINVAL;
    int cls = prm->task == ML_CLASSIFICATION;
    if ((cls && (prm->nclasses < 2 || prm->nclasses > MLBIN_MAX_BINS + 1)) ||
        (!cls && prm->task != ML_REGRESSION))
        return -EINVAL;
    if (!(prm->learning_rate > 0.0 && prm->learning_rate <= 1.0) || prm->max_iter == 0 ||
        prm->max_iter > (1u << 20) || prm->min_samples_leaf == 0 ||
        !(prm->min_child_weight >= 0.0) || !(prm->l2 >= 0.0) || !(prm->min_split_gain >= 0.0) ||
        prm->max_bins < 2 || prm->max_bins > MLBIN_MAX_BINS || prm->n_iter_no_change == 0 ||
        !(prm->validation_fraction > 0.0 && prm->validation_fraction < 1.0) || !(prm->tol >= 0.0) ||
        prm->early_stopping < -1 || prm->early_stopping > 1 || (prm->max_leaves == 1) ||
        (prm->max_leaves == 0 && prm->max_depth == 0))
        return -EINVAL;
    for (size_t i = 0; i < x->n * x->p; i++)
        if (isinf(x->x[i]))
            return -EINVAL;
    for (size_t i = 0; i < x->n; i++)
        if (!isfinite(y[i]) ||
            (cls && (y[i] < 0 || y[i] >= (double)prm->nclasses || y[i] != floor(y[i]))))
            return -EINVAL;
    return 0;
}

/* Training rows (and a held-out validation set when early stopping). */
static int gbt_rows(struct gbt_fit *f, const struct ml_matrix *x, const double *y)
{
    const struct gbt_params *prm = f->prm;
    int es = prm->early_stopping == -1 ? x->n > 10000 : prm->early_stopping;
    f->n = x->n;
    if (es) {
        struct split_indices s;
        int cls = prm->task == ML_CLASSIFICATION;
        int rc = split_train_test(x->n, prm->validation_fraction, prm->random_state, cls ? y : NULL,
                                  cls ? prm->nclasses : 0, &s);
        if (rc)
            return rc;
        f->train = s.train;
        f->n = s.ntrain;
        double *vx = malloc(s.ntest * x->p * sizeof *vx);
        f->yval = malloc(s.ntest * sizeof *f->yval);
        f->val = (struct ml_matrix){vx, s.ntest, x->p};
        for (size_t i = 0; vx && f->yval && i < s.ntest; i++) {
            memcpy(vx + i * x->p, x->x + s.test[i] * x->p, x->p * sizeof *vx);
            f->yval[i] = y[s.test[i]];
        }
        free(s.test);
        if (!vx || !f->yval)
            return -ENOMEM;
    }
    f->ytrain = malloc(f->n * sizeof *f->ytrain);
    if (!f->ytrain)
        return -ENOMEM;
    for (size_t i = 0; i < f->n; i++)
        f->ytrain[i] = y[f->train ? f->train[i] : i];
    return 0;
}

static int gbt_alloc(struct gbt_fit *f, const struct ml_matrix *x)
{
    const struct gbt_params *prm = f->prm;
    size_t n = f->n, k = f->k, p = x->p;
    size_t leaves = prm->max_leaves;
    if (!leaves)
        leaves = prm->max_depth < 20 ? (size_t)1 << prm->max_depth : (size_t)1 << 20;
    leaves = leaves < n ? leaves : n;
    struct gbt_work *w = &f->w;
    *w = (struct gbt_work){.prm = prm, .n = n, .p = p, .bins = &f->bins};
    w->unit_hessian = f->m->objective == GBT_OBJ_SQUARED;
    int rc = mlpool_new(mlpar_threads(f->ctrl), &w->pool);
    if (rc)
        return rc;
    f->raw = malloc(n * k * sizeof *f->raw);
    f->val_raw = malloc((f->val.n ? f->val.n : 1) * k * sizeof *f->val_raw);
    f->g = malloc(n * k * sizeof *f->g);
    f->h = malloc(n * k * sizeof *f->h);
    f->codes = malloc(n * p);
    w->ogh = malloc(2 * n * sizeof *w->ogh);
    w->rows = malloc(n * sizeof *w->rows);
    w->tmp = malloc(n * sizeof *w->tmp);
    w->tmp2 = malloc(n * sizeof *w->tmp2);
    w->chunk_nl = malloc((n / GBT_CHUNK + 1) * sizeof *w->chunk_nl);
    w->chunk_at = malloc((n / GBT_CHUNK + 1) * sizeof *w->chunk_at);
    w->fbest = malloc(p * sizeof *w->fbest);
    w->fbest_large = malloc(p * sizeof *w->fbest_large);
    w->leaves = malloc((leaves + 1) * sizeof *w->leaves);
    w->spare = malloc((leaves + 2) * sizeof(struct gbt_bin *));
    if (!f->raw || !f->val_raw || !f->g || !f->h || !f->codes || !w->ogh || !w->rows || !w->tmp ||
        !w->fbest || !w->fbest_large || !w->leaves || !w->spare)
        return -ENOMEM;
    w->codes = f->codes;
    return 0;
}

/* Pool task: add leaf l's value to the training scores of its rows. */
static void gbt_update_task(void *ctx, size_t l, size_t worker)
{
    (void)worker;
    struct gbt_fit *f = ctx;
    const struct gbt_work *w = &f->w;
    const struct gbt_leaf *lf = &w->leaves[l];
    double v = w->nodes[lf->node].value;
    for (size_t i = lf->start; i < lf->end; i++)
        f->raw[w->rows[i] * f->k + f->output] += v;
}

/* Grow the k trees of one round and add their leaves to the training scores. */
static int gbt_round(struct gbt_fit *f)
{
    struct gbt_work *w = &f->w;
    gbt_gradients(f);
    for (size_t j = 0; j < f->k; j++) {
        w->g = f->g + j * f->n;
        w->h = f->h + j * f->n;
        int rc = gbt_grow(w);
        struct gbt_node *copy = rc ? NULL : malloc(w->n_nodes * sizeof *copy);
        if (!copy)
            return rc ? rc : -ENOMEM;
        memcpy(copy, w->nodes, w->n_nodes * sizeof *copy);
        rc = gbt_model_add(f->m, copy, w->n_nodes, j);
        if (rc)
            return rc;
        f->output = j;
        mlpool_run(w->pool, w->n_leaves, gbt_update_task, f);
    }
    f->m->n_iter++;
    return 0;
}

/* scikit-learn's rule: stop when none of the last n_iter_no_change losses improved on the
 * one before them by more than tol. */
static int gbt_should_stop(const struct gbt_fit *f)
{
    const struct gbt_model *m = f->m;
    size_t ref = f->prm->n_iter_no_change + 1;
    if (m->n_val_loss < ref)
        return 0;
    double reference = m->val_loss[m->n_val_loss - ref] - f->prm->tol;
    for (size_t i = m->n_val_loss - ref + 1; i < m->n_val_loss; i++)
        if (m->val_loss[i] < reference)
            return 0;
    return 1;
}

static int gbt_validate(struct gbt_fit *f)
{
    struct gbt_model *m = f->m;
    gbt_model_accumulate(m, &f->val, m->n_trees - f->k * (m->n_iter > 0), m->n_trees, f->val_raw);
    m->val_loss[m->n_val_loss++] = gbt_model_loss(m, f->val_raw, f->yval, f->val.n);
    return gbt_should_stop(f);
}

static int gbt_boost(struct gbt_fit *f, const struct ml_matrix *x)
{
    int rc = mlbin_fit(&f->bins, x, f->train, f->n, f->prm->max_bins, f->w.pool);
    if (rc)
        return rc;
    mlbin_transform(&f->bins, x, f->train, f->n, f->codes, f->w.pool);
    gbt_baseline(f);
    if (f->val.n) {
        f->m->val_loss = malloc((f->prm->max_iter + 1) * sizeof *f->m->val_loss);
        if (!f->m->val_loss)
            return -ENOMEM;
        gbt_validate(f);
    }
    for (size_t it = 0; it < f->prm->max_iter; it++) {
        if (mlpar_cancelled(f->ctrl))
            return -ECANCELED;
        rc = gbt_round(f);
        if (rc)
            return rc;
        int stop = f->val.n ? gbt_validate(f) : 0;
        mlpar_progress(f->ctrl, it + 1, f->prm->max_iter);
        if (stop)
            break;
    }
    return 0;
}

int gbt_fit(const struct gbt_params *params, const struct ml_matrix *x, const double *y,
            const struct ml_control *ctrl, struct gbt_model **out)
{
    int rc = out ? gbt_check(params, x, y) : -EINVAL;
    if (rc)
        return rc;
    int cls = params->task == ML_CLASSIFICATION;
    enum gbt_objective obj = !cls                    ? GBT_OBJ_SQUARED
                             : params->nclasses == 2 ? GBT_OBJ_LOGISTIC
                                                     : GBT_OBJ_SOFTMAX;
    struct gbt_fit f = {.prm = params, .ctrl = ctrl};
    f.m = gbt_model_new(params->task, obj, x->p, params->nclasses);
    if (!f.m)
        return -ENOMEM;
    f.k = f.m->k;
    rc = gbt_rows(&f, x, y);
    rc = rc ? rc : gbt_alloc(&f, x);
    rc = rc ? rc : gbt_boost(&f, x);
    gbt_fit_release(&f);
    if (rc) {
        gbt_free(f.m);
        return rc;
    }
    *out = f.m;
    return 0;
}
