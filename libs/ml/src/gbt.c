/* gbt: fitting histogram gradient-boosted trees (row-wise histograms of binned features,
 * histogram subtraction, the leaves of a level split together on a thread pool). */
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
#define GBT_PAR_WORK 65536u /* row x feature updates below which a job stays on one thread */
#define GBT_CHUNK    4096   /* rows per task in row-parallel loops */
#define GBT_PART     16384  /* rows per partition task (leaves up to this size: one task) */
#define GBT_BATCH    64     /* leaves split together at most */
#define GBT_AHEAD    16     /* rows prefetched ahead by loops over scattered rows */

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

/* A split whose children may not split again is not partitioned: the leaf stays one entry
 * and its rows go to the children's values when scores are updated. */
struct gbt_cut {
    int32_t node;    /* the left child's node (the right one follows); -1: no cut */
    int32_t feature; /* the split (as gbt_partition_range tests it) */
    uint32_t lim, dl;
};

struct gbt_leaf {
    size_t start, end; /* rows[start..end) */
    int32_t node;
    size_t depth;
    double g, h, n;
    struct gbt_bin *hist; /* p * GBT_NB, or NULL */
    struct gbt_split best;
    struct gbt_cut cut;
};

/* The children of a split leaf: the smaller one's histogram is built, the larger one's (when
 * it may split; else NULL) is the parent's minus the smaller one's. */
struct gbt_pair {
    struct gbt_leaf *small, *large;
    int small_splits; /* else the small histogram only serves the subtraction */
    /* when the parent was partitioned in several chunks whose rows are being placed by the
     * same job: the small child's rows are read from those chunks (its side of each) */
    const struct gbt_chunk *chunks;
    size_t n_chunks;
    int left;
};

/* One task of a batch partition: rows[at..at + m) of leaf lf. */
struct gbt_chunk {
    const struct gbt_leaf *lf;
    size_t b;     /* the leaf's place in the batch */
    size_t start; /* the leaf's first row (the leaf entry changes before placement) */
    size_t at, m;
    size_t nl;      /* lefts in this chunk */
    size_t left_at; /* lefts in the leaf's earlier chunks */
    size_t leaf_nl; /* lefts in the whole leaf */
    int whole;      /* the chunk is the whole leaf (partitioned in place) */
};

struct gbt_work {
    const struct gbt_params *prm;
    size_t n, p;
    const uint8_t *codes; /* n * p, row-major (histograms read a row's codes together) */
    const uint8_t *cols;  /* the same, column-major (a partition reads one feature) */
    double *root_n;       /* p * GBT_NB: the root's row counts (the same every round) */
    const struct mlbin *bins;
    const double *gh; /* the current output's (gradient, hessian) per row */
    int unit_hessian; /* every hessian is 1 (squared error) */
    size_t *rows, *tmp, *tmp2;
    struct gbt_chunk *chunks;
    struct gbt_bin **spare; /* histograms not in use */
    size_t nspare;
    struct mlpool *pool;
    size_t threads;
    size_t batch[GBT_BATCH]; /* leaves split together */
    size_t batch_nl[GBT_BATCH];
    /* their first chunk and chunk count (0: partitioned in place, or a cut) */
    size_t batch_chunk[GBT_BATCH], batch_nchunks[GBT_BATCH];
    size_t n_place;           /* chunks still to be copied to their places (by the histogram job) */
    int batch_cut[GBT_BATCH]; /* neither child may split: a cut, no partition */
    struct gbt_pair pairs[GBT_BATCH];
    size_t n_pairs, ngroups;
    struct gbt_split *fbest, *fbest_large; /* GBT_BATCH * p: best split per pair and feature */
    struct gbt_node *nodes;
    size_t n_nodes, cap_nodes;
    struct gbt_leaf *leaves;
    size_t n_leaves;
    size_t n_cut; /* leaves holding a cut (two leaves of the tree each) */
};

/* ntasks calls of fn, on the pool when parallel. */
static void gbt_run(struct gbt_work *w, size_t ntasks, mlpool_fn fn, void *ctx, int parallel)
{
    if (parallel && w->threads > 1) {
        mlpool_run(w->pool, ntasks, fn, ctx);
        return;
    }
    for (size_t t = 0; t < ntasks; t++)
        fn(ctx, t, 0);
}

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

/* The split scores (gl^2 / (hl + l2) + gr^2 / (hr + l2)) of candidates [0, m) from their
 * left sums, two at a time (m rounded up; the arrays have room). */
static void gbt_scores(const double *sg, const double *sh, size_t m, double g, double h, double lam,
                       double *score)
{
    for (size_t j = 0; j < m; j += 2) {
        double __attribute__((vector_size(16))) gl, hl, dl, dr, gr, s;
        memcpy(&gl, sg + j, sizeof gl);
        memcpy(&hl, sh + j, sizeof hl);
        dl = hl + lam;
        dr = h - hl + lam;
        gr = g - gl;
        s = (gl * gl * dr + gr * gr * dl) / (dl * dr);
        memcpy(score + j, &s, sizeof s);
    }
}

/* gbt_find without missing values in the node (the common case). Candidate j splits before
 * the j-th non-empty bin; as the left sums only grow, the candidates that leave both sides
 * enough rows and hessian form one range. */
static void gbt_find_dense(const struct gbt_work *w, const struct gbt_leaf *lf, size_t f,
                           const struct gbt_bin *hf, struct gbt_split *best)
{
    const struct gbt_params *prm = w->prm;
    const double g = lf->g, h = lf->h, n = lf->n, lam = prm->l2, mcw = prm->min_child_weight;
    const double msl = (double)prm->min_samples_leaf, parent = g * g / (h + lam);
    double sg[GBT_NB + 2], sh[GBT_NB + 2], sn[GBT_NB + 2], score[GBT_NB + 2];
    uint32_t at[GBT_NB + 1];
    double gl = 0.0, hl = 0.0, nl = 0.0;
    size_t m = 0, nb = w->bins->nbins[f];
    for (size_t b = 0; b < nb; b++) {
        if (hf[b].n == 0.0)
            continue;
        at[m] = (uint32_t)b;
        sg[m] = gl;
        sh[m] = hl;
        sn[m] = nl;
        m++;
        gl += hf[b].g;
        hl += hf[b].h;
        nl += hf[b].n;
    }
    if (m < 2)
        return;
    size_t lo = 1, hi = m;
    while (lo < hi && (sn[lo] < msl || sh[lo] < mcw))
        lo++;
    while (hi > lo && (n - sn[hi - 1] < msl || h - sh[hi - 1] < mcw))
        hi--;
    if (lo >= hi)
        return;
    sg[hi] = sg[hi - 1]; /* an even count for gbt_scores */
    sh[hi] = sh[hi - 1];
    gbt_scores(sg + lo, sh + lo, hi - lo, g, h, lam, score + lo);
    double best_score = best->gain + parent;
    size_t bj = 0;
    for (size_t j = lo; j < hi; j++)
        if (score[j] > best_score) {
            best_score = score[j];
            bj = j;
        }
    if (!bj)
        return;
    /* missing values at prediction time follow the larger child */
    *best = (struct gbt_split){best_score - parent, (int32_t)f, at[bj - 1], at[bj],
                               2.0 * sn[bj] >= n,   sg[bj],     sh[bj],     sn[bj]};
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

/* e->g += v[0], e->h += v[1] as one two-lane vector addition. */
static inline void gbt_add_gh(struct gbt_bin *e, double g, double h)
{
    double __attribute__((vector_size(16))) sum, add = {g, h};
    memcpy(&sum, &e->g, sizeof sum);
    sum += add;
    memcpy(&e->g, &sum, sizeof sum);
}

/* One row's (g, h) into the slots of its codes c[0..nf) (feature j's slots at j * GBT_NB),
 * four features a step; with counts, n too. */
static inline void gbt_add_row(struct gbt_bin *hist, const uint8_t *c, size_t nf, double g,
                               double h, int count)
{
    size_t j = 0;
    for (; j + 4 <= nf; j += 4, hist += 4 * GBT_NB) {
        struct gbt_bin *e0 = hist + c[j], *e1 = hist + GBT_NB + c[j + 1];
        struct gbt_bin *e2 = hist + 2 * GBT_NB + c[j + 2], *e3 = hist + 3 * GBT_NB + c[j + 3];
        gbt_add_gh(e0, g, h);
        gbt_add_gh(e1, g, h);
        gbt_add_gh(e2, g, h);
        gbt_add_gh(e3, g, h);
        if (count) {
            e0->n += 1.0;
            e1->n += 1.0;
            e2->n += 1.0;
            e3->n += 1.0;
        }
    }
    for (; j < nf; j++, hist += GBT_NB) {
        gbt_add_gh(hist + c[j], g, h);
        if (count)
            hist[c[j]].n += 1.0;
    }
}

/* The row counts of features [f0, f1) of a histogram from its hessian sums (squared error)
 * or from the root's counts. */
static void gbt_fill_counts(const struct gbt_work *w, struct gbt_bin *hist, size_t f0, size_t f1,
                            int root)
{
    for (size_t f = f0; f < f1; f++) {
        struct gbt_bin *hf = hist + (f - f0) * GBT_NB;
        const double *cnt = w->root_n + f * GBT_NB;
        size_t nb = w->bins->nbins[f];
        if (root)
            for (size_t b = 0; b < nb; b++)
                hf[b].n = cnt[b];
        else
            for (size_t b = 0; b < nb; b++)
                hf[b].n = hf[b].h;
        hf[MLBIN_MISSING].n = root ? cnt[MLBIN_MISSING] : hf[MLBIN_MISSING].h;
    }
}

/* The root's (g, h) sums of features [f0, f1): rows in order, codes read from the columns
 * (only the group's bytes), four features a pass. */
static void gbt_build_root(const struct gbt_work *w, struct gbt_bin *hist, size_t f0, size_t f1)
{
    size_t n = w->n;
    const double *gh = w->gh;
    int unit = w->unit_hessian;
    for (size_t f = f0; f < f1; f += 4, hist += 4 * GBT_NB) {
        size_t nf = f1 - f < 4 ? f1 - f : 4; /* the features past nf read column f again */
        const uint8_t *c0 = w->cols + f * n, *c1 = nf > 1 ? c0 + n : c0;
        const uint8_t *c2 = nf > 2 ? c0 + 2 * n : c0, *c3 = nf > 3 ? c0 + 3 * n : c0;
        for (size_t i = 0; i < n; i++) {
            double g = gh[2 * i], h = unit ? 1.0 : gh[2 * i + 1];
            gbt_add_gh(hist + c0[i], g, h);
            if (nf > 1)
                gbt_add_gh(hist + GBT_NB + c1[i], g, h);
            if (nf > 2)
                gbt_add_gh(hist + 2 * GBT_NB + c2[i], g, h);
            if (nf > 3)
                gbt_add_gh(hist + 3 * GBT_NB + c3[i], g, h);
        }
    }
}

/* Histograms of features [f0, f1) over the leaf's rows, a row at a time (its codes are
 * adjacent; the root reads columns): every slot sums in row order, whatever the grouping.
 * Squared error adds (g, 1) and takes the count from the hessian sum; the root takes the
 * counts it has every round. */
/* Rows rows[0..m) into the histograms of features [f0, f1) (hist: feature f0's slots). */
static void gbt_build_rows(const struct gbt_work *w, struct gbt_bin *hist, const size_t *rows,
                           size_t m, size_t f0, size_t f1)
{
    size_t p = w->p, nf = f1 - f0;
    const uint8_t *codes = w->codes + f0;
    const double *gh = w->gh;
    int unit = w->unit_hessian;
    for (size_t i = 0; i < m; i++) {
        size_t r = rows[i];
        if (i + GBT_AHEAD < m) { /* rows are scattered: fetch ahead */
            __builtin_prefetch(codes + rows[i + GBT_AHEAD] * p);
            __builtin_prefetch(gh + 2 * rows[i + GBT_AHEAD]);
        }
        if (unit)
            gbt_add_row(hist, codes + r * p, nf, gh[2 * r], 1.0, 0);
        else
            gbt_add_row(hist, codes + r * p, nf, gh[2 * r], gh[2 * r + 1], 1);
    }
}

/* The small child's histograms of features [f0, f1): its rows in place, or its side of each
 * of the parent's chunks (the same rows in the same order). */
static void gbt_build(const struct gbt_work *w, const struct gbt_pair *pr, size_t f0, size_t f1)
{
    const struct gbt_leaf *lf = pr->small;
    struct gbt_bin *hist = lf->hist + f0 * GBT_NB;
    const uint16_t *nbins = w->bins->nbins + f0;
    for (size_t j = 0; j < f1 - f0; j++) {
        memset(hist + j * GBT_NB, 0, nbins[j] * sizeof *hist);
        memset(hist + j * GBT_NB + MLBIN_MISSING, 0, sizeof *hist);
    }
    int unit = w->unit_hessian;
    if (lf->end - lf->start == w->n) { /* the root */
        gbt_build_root(w, hist, f0, f1);
        gbt_fill_counts(w, hist, f0, f1, !unit);
        return;
    }
    if (!pr->n_chunks)
        gbt_build_rows(w, hist, w->rows + lf->start, lf->end - lf->start, f0, f1);
    for (size_t c = 0; c < pr->n_chunks; c++) {
        const struct gbt_chunk *ch = &pr->chunks[c];
        if (pr->left)
            gbt_build_rows(w, hist, w->tmp + ch->at, ch->nl, f0, f1);
        else
            gbt_build_rows(w, hist, w->tmp2 + ch->at, ch->m - ch->nl, f0, f1);
    }
    if (unit)
        gbt_fill_counts(w, hist, f0, f1, 0);
}

/* hl -= hs over feature f's slots in use. */
static void gbt_subtract(const struct gbt_work *w, size_t f, struct gbt_bin *hl,
                         const struct gbt_bin *hs)
{
    size_t nb = w->bins->nbins[f];
    for (size_t b = 0; b < nb; b++) {
        hl[b].g -= hs[b].g;
        hl[b].h -= hs[b].h;
        hl[b].n -= hs[b].n;
    }
    hl[MLBIN_MISSING].g -= hs[MLBIN_MISSING].g;
    hl[MLBIN_MISSING].h -= hs[MLBIN_MISSING].h;
    hl[MLBIN_MISSING].n -= hs[MLBIN_MISSING].n;
}

/* Pool task: one pair, one group of features: the small child's histograms (built) and best
 * splits, then the large child's (the parent's, in place, minus the small one's). */
static void gbt_pair_task(void *ctx, size_t t, size_t worker)
{
    (void)worker;
    struct gbt_work *w = ctx;
    size_t k = t / w->ngroups, grp = t % w->ngroups, p = w->p;
    const struct gbt_pair *pr = &w->pairs[k];
    size_t f0 = grp * p / w->ngroups, f1 = (grp + 1) * p / w->ngroups;
    gbt_build(w, pr, f0, f1);
    for (size_t f = f0; f < f1; f++) {
        const struct gbt_bin *hs = pr->small->hist + f * GBT_NB;
        struct gbt_split *bs = &w->fbest[k * p + f];
        *bs = (struct gbt_split){.gain = w->prm->min_split_gain, .feature = -1};
        if (pr->small_splits)
            gbt_find(w, pr->small, f, hs, bs);
        if (!pr->large)
            continue;
        struct gbt_bin *hl = pr->large->hist + f * GBT_NB;
        gbt_subtract(w, f, hl, hs);
        struct gbt_split *bl = &w->fbest_large[k * p + f];
        *bl = (struct gbt_split){.gain = w->prm->min_split_gain, .feature = -1};
        gbt_find(w, pr->large, f, hl, bl);
    }
}

static void gbt_reduce(const struct gbt_work *w, const struct gbt_split *fbest, struct gbt_leaf *lf)
{
    lf->best = (struct gbt_split){.gain = w->prm->min_split_gain, .feature = -1};
    for (size_t f = 0; f < w->p; f++)
        if (fbest[f].feature >= 0 && fbest[f].gain > lf->best.gain)
            lf->best = fbest[f];
}

/* Larger small children first, so that the pool's threads finish together. */
static int gbt_pair_cmp(const void *a, const void *b)
{
    const struct gbt_pair *x = a, *y = b;
    size_t mx = x->small->end - x->small->start, my = y->small->end - y->small->start;
    return mx > my ? -1 : mx < my;
}

/* Phase two: a chunk's lefts and rights copied to their places in the leaf. */
static void gbt_place_task(void *ctx, size_t c, size_t worker)
{
    (void)worker;
    const struct gbt_work *w = ctx;
    const struct gbt_chunk *ch = &w->chunks[c];
    if (ch->whole)
        return;
    size_t start = ch->start, rights_before = ch->at - start - ch->left_at;
    memcpy(w->rows + start + ch->left_at, w->tmp + ch->at, ch->nl * sizeof *w->rows);
    memcpy(w->rows + start + ch->leaf_nl + rights_before, w->tmp2 + ch->at,
           (ch->m - ch->nl) * sizeof *w->rows);
}

/* Pool task of a level: the placement of partitioned chunks first, then (pair, feature
 * group) histograms. */
static void gbt_level_task(void *ctx, size_t t, size_t worker)
{
    const struct gbt_work *w = ctx;
    if (t < w->n_place)
        gbt_place_task(ctx, t, worker);
    else
        gbt_pair_task(ctx, t - w->n_place, worker);
}

/* Histograms and best splits of every pair in w->pairs (and the placement of the chunks the
 * partition left in tmp / tmp2): one job of (pair, feature group) tasks. The grouping only spreads
 * the work; results do not depend on it. */
static void gbt_hists(struct gbt_work *w)
{
    size_t np = w->n_pairs, p = w->p, work = 0, ng = 1;
    for (size_t k = 0; k < np; k++)
        work += (w->pairs[k].small->end - w->pairs[k].small->start + 4 * GBT_NB) * p;
    qsort(w->pairs, np, sizeof *w->pairs, gbt_pair_cmp);
    if (w->threads > 1 && np) {
        ng = (2 * w->threads + np - 1) / np;
        ng = ng < p ? ng : p;
    }
    w->ngroups = ng;
    gbt_run(w, w->n_place + np * ng, gbt_level_task, w, work >= GBT_PAR_WORK || w->n_place);
    w->n_place = 0;
    for (size_t k = 0; k < np; k++) {
        const struct gbt_pair *pr = &w->pairs[k];
        if (pr->small_splits)
            gbt_reduce(w, w->fbest + k * p, pr->small);
        if (pr->large)
            gbt_reduce(w, w->fbest_large + k * p, pr->large);
    }
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

/* Stable partition of rows[0..m) by the split: lefts to out_l, rights to out_r (either may
 * alias rows when writing never overtakes reading); returns the left count. */
static size_t gbt_partition_range(const struct gbt_work *w, const struct gbt_split *s,
                                  const size_t *rows, size_t m, size_t *out_l, size_t *out_r)
{
    const uint8_t *codes = w->cols + (size_t)s->feature * w->n;
    /* left: code <= bin, or missing (255) when missing values go left: adding 1 (mod 256)
     * to every code and to the bin then turns missing into 0 */
    unsigned dl = s->default_left, lim = s->bin + dl;
    size_t nl = 0, nr = 0;
    for (size_t i = 0; i < m; i++) {
        size_t r = rows[i];
        unsigned left = ((codes[r] + dl) & 0xffu) <= lim;
        out_l[nl] = r; /* branch-free: both written, one kept */
        out_r[nr] = r;
        nl += left;
        nr += !left;
    }
    return nl;
}

/* Phase one of the batch partition: a chunk's lefts to tmp, rights to tmp2 (a chunk that is
 * its whole leaf is partitioned in place at once). */
static void gbt_part_task(void *ctx, size_t c, size_t worker)
{
    (void)worker;
    struct gbt_work *w = ctx;
    struct gbt_chunk *ch = &w->chunks[c];
    size_t *rows = w->rows + ch->at;
    if (ch->whole) {
        ch->nl = gbt_partition_range(w, &ch->lf->best, rows, ch->m, rows, w->tmp + ch->at);
        memcpy(rows + ch->nl, w->tmp + ch->at, (ch->m - ch->nl) * sizeof *rows);
        return;
    }
    ch->nl = gbt_partition_range(w, &ch->lf->best, rows, ch->m, w->tmp + ch->at, w->tmp2 + ch->at);
}

/* Stable partition of every batch leaf's rows by its best split (the same result on any
 * number of threads); the left counts go to w->batch_nl. Leaves of several chunks are left
 * in tmp / tmp2 for the histogram job to read and to copy to their places. */
static void gbt_partition(struct gbt_work *w, size_t nbatch)
{
    size_t nc = 0, total = 0;
    int split_leaves = 0;
    for (size_t b = 0; b < nbatch; b++) {
        const struct gbt_leaf *lf = &w->leaves[w->batch[b]];
        int whole = lf->end - lf->start <= GBT_PART;
        w->batch_chunk[b] = nc;
        w->batch_nchunks[b] = whole ? 0 : (lf->end - lf->start + GBT_PART - 1) / GBT_PART;
        if (w->batch_cut[b])
            continue;
        split_leaves |= !whole;
        for (size_t at = lf->start; at < lf->end; at += GBT_PART) {
            size_t m = lf->end - at < GBT_PART ? lf->end - at : GBT_PART;
            w->chunks[nc++] = (struct gbt_chunk){
                .lf = lf, .b = b, .start = lf->start, .at = at, .m = m, .whole = whole};
        }
        total += lf->end - lf->start;
    }
    if (!nc)
        return;
    int parallel = total >= 2 * GBT_PART;
    gbt_run(w, nc, gbt_part_task, w, parallel);
    for (size_t c = 0; c < nc;) {
        size_t first = c, nl = 0;
        for (; c < nc && w->chunks[c].lf == w->chunks[first].lf; c++) {
            w->chunks[c].left_at = nl;
            nl += w->chunks[c].nl;
        }
        for (size_t i = first; i < c; i++)
            w->chunks[i].leaf_nl = nl;
        w->batch_nl[w->chunks[first].b] = nl;
    }
    w->n_place = split_leaves ? nc : 0; /* the histogram job places them */
}

/* A pair for the fresh children cl and cr (parent_hist is the parent's histogram, handed on
 * or put back): nothing when neither may split. */
static int gbt_pair_up(struct gbt_work *w, struct gbt_leaf *cl, struct gbt_leaf *cr,
                       struct gbt_bin *parent_hist, size_t b)
{
    size_t leaves = w->n_leaves + w->n_cut;
    int ok_l = gbt_can_split(w, cl, leaves), ok_r = gbt_can_split(w, cr, leaves);
    if (!ok_l && !ok_r) {
        gbt_hist_put(w, parent_hist);
        return 0;
    }
    struct gbt_leaf *small = cl->n <= cr->n ? cl : cr, *large = small == cl ? cr : cl;
    small->hist = gbt_hist_get(w);
    if (!small->hist) {
        gbt_hist_put(w, parent_hist);
        return -ENOMEM;
    }
    struct gbt_pair *pr = &w->pairs[w->n_pairs++];
    *pr = (struct gbt_pair){small,
                            NULL,
                            small == cl ? ok_l : ok_r,
                            w->chunks + w->batch_chunk[b],
                            w->batch_nchunks[b],
                            small == cl};
    if (small == cl ? ok_r : ok_l) {
        large->hist = parent_hist;
        pr->large = large;
    } else {
        gbt_hist_put(w, parent_hist);
    }
    return 0;
}

/* The split node of leaf lf (its children come later). */
static void gbt_mark_split(struct gbt_work *w, const struct gbt_leaf *lf)
{
    const struct gbt_split *s = &lf->best;
    struct gbt_node *nd = &w->nodes[lf->node];
    nd->feature = s->feature;
    nd->threshold = s->next == MLBIN_MISSING
                        ? DBL_MAX
                        : mlbin_threshold(w->bins, (size_t)s->feature, s->bin, s->next);
    nd->gain = s->gain;
    nd->default_left = s->default_left;
}

/* Whether neither child of batch leaf b may split (the leaf count as gbt_pair_up will see it:
 * one more for each earlier leaf of the batch and for this one's right child). */
static int gbt_terminal(const struct gbt_work *w, size_t b)
{
    const struct gbt_leaf *lf = &w->leaves[w->batch[b]];
    size_t leaves = w->n_leaves + w->n_cut + b + 1;
    struct gbt_leaf l = {.depth = lf->depth + 1, .n = lf->best.nl};
    struct gbt_leaf r = {.depth = lf->depth + 1, .n = lf->n - lf->best.nl};
    return !gbt_can_split(w, &l, leaves) && !gbt_can_split(w, &r, leaves);
}

/* Leaf i becomes a cut: its children's nodes, no partition, no histogram. */
static int gbt_cut_leaf(struct gbt_work *w, size_t i)
{
    struct gbt_leaf *lf = &w->leaves[i];
    const struct gbt_split *s = &lf->best;
    struct gbt_leaf l = {.g = s->gl, .h = s->hl}, r = {.g = lf->g - s->gl, .h = lf->h - s->hl};
    int32_t node = (int32_t)w->n_nodes;
    int rc = gbt_new_node(w, &l);
    rc = rc ? rc : gbt_new_node(w, &r);
    gbt_hist_put(w, lf->hist);
    lf->hist = NULL;
    if (rc)
        return rc;
    w->nodes[lf->node].left = node;
    w->nodes[lf->node].right = node + 1;
    lf->cut = (struct gbt_cut){node, s->feature, s->bin + s->default_left, s->default_left};
    lf->best.feature = -1;
    w->n_cut++;
    return 0;
}

/* Leaf i (partitioned, nl rows on the left) becomes its left child; the right child is
 * appended. */
static int gbt_children(struct gbt_work *w, size_t b)
{
    size_t i = w->batch[b], nl = w->batch_nl[b];
    struct gbt_leaf parent = w->leaves[i];
    const struct gbt_split *s = &parent.best;
    struct gbt_leaf l = {.start = parent.start,
                         .end = parent.start + nl,
                         .node = (int32_t)w->n_nodes,
                         .depth = parent.depth + 1,
                         .g = s->gl,
                         .h = s->hl,
                         .n = s->nl,
                         .best = {.feature = -1},
                         .cut = {.node = -1}};
    struct gbt_leaf r = {.start = parent.start + nl,
                         .end = parent.end,
                         .node = (int32_t)w->n_nodes + 1,
                         .depth = parent.depth + 1,
                         .g = parent.g - s->gl,
                         .h = parent.h - s->hl,
                         .n = parent.n - s->nl,
                         .best = {.feature = -1},
                         .cut = {.node = -1}};
    int rc = gbt_new_node(w, &l);
    rc = rc ? rc : gbt_new_node(w, &r);
    if (rc) {
        gbt_hist_put(w, parent.hist);
        w->leaves[i].hist = NULL;
        return rc;
    }
    w->nodes[parent.node].left = l.node;
    w->nodes[parent.node].right = r.node;
    w->leaves[i] = l;
    w->leaves[w->n_leaves++] = r;
    return gbt_pair_up(w, &w->leaves[i], &w->leaves[w->n_leaves - 1], parent.hist, b);
}

/* Split the batch's leaves together: partition, children, their histograms and splits. */
static int gbt_split_batch(struct gbt_work *w, size_t nbatch)
{
    for (size_t b = 0; b < nbatch; b++) {
        gbt_mark_split(w, &w->leaves[w->batch[b]]);
        w->batch_cut[b] = gbt_terminal(w, b);
    }
    gbt_partition(w, nbatch);
    w->n_pairs = 0;
    for (size_t b = 0; b < nbatch; b++) {
        int rc = w->batch_cut[b] ? gbt_cut_leaf(w, w->batch[b]) : gbt_children(w, b);
        if (rc)
            return rc;
    }
    if (w->n_pairs || w->n_place)
        gbt_hists(w);
    for (size_t k = 0; k < w->n_pairs; k++) {
        struct gbt_pair *pr = &w->pairs[k];
        if (!pr->small_splits) {
            gbt_hist_put(w, pr->small->hist);
            pr->small->hist = NULL;
        }
    }
    return 0;
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

/* The leaves to split next: the best one under a leaf cap (best-first), else every leaf
 * that has a split (with no cap the order does not change the tree). Returns how many. */
static size_t gbt_select(struct gbt_work *w)
{
    if (w->prm->max_leaves) {
        long i = gbt_pick(w);
        if (i < 0 || w->n_leaves + w->n_cut >= w->prm->max_leaves)
            return 0;
        w->batch[0] = (size_t)i;
        return 1;
    }
    size_t nb = 0;
    for (size_t i = 0; i < w->n_leaves && nb < GBT_BATCH; i++)
        if (w->leaves[i].best.feature >= 0)
            w->batch[nb++] = i;
    return nb;
}

/* Grow one tree on w->gh; its nodes go to w->nodes (w->n_nodes). */
static int gbt_grow(struct gbt_work *w)
{
    w->n_nodes = 0;
    w->n_leaves = 0;
    w->n_cut = 0;
    for (size_t i = 0; i < w->n; i++)
        w->rows[i] = i;
    struct gbt_leaf root = {
        .end = w->n, .n = (double)w->n, .best = {.feature = -1}, .cut = {.node = -1}};
    for (size_t i = 0; i < w->n; i++) {
        root.g += w->gh[2 * i];
        root.h += w->gh[2 * i + 1];
    }
    int rc = gbt_new_node(w, &root);
    if (rc)
        return rc;
    root.best.feature = -1;
    w->leaves[w->n_leaves++] = root;
    if (gbt_can_split(w, &root, 1)) {
        w->leaves[0].hist = gbt_hist_get(w);
        if (!w->leaves[0].hist)
            return -ENOMEM;
        w->pairs[0] = (struct gbt_pair){.small = &w->leaves[0], .small_splits = 1};
        w->n_pairs = 1;
        gbt_hists(w);
    }
    for (size_t nb = gbt_select(w); nb && rc == 0; nb = gbt_select(w))
        rc = gbt_split_batch(w, nb);
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
    double *gh;            /* k * n (gradient, hessian) pairs: output j's from gh + 2 * j * n */
    int gh_fresh;          /* gh already holds the gradients of the current scores */
    struct mlbin bins;
    uint8_t *codes, *cols; /* n * p, row-major and column-major */
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
    free(f->gh);
    free(f->codes);
    free(f->cols);
    mlbin_release(&f->bins);
    for (size_t i = 0; i < f->w.nspare; i++)
        free(f->w.spare[i]);
    free(f->w.spare);
    free(f->w.rows);
    free(f->w.tmp);
    free(f->w.tmp2);
    free(f->w.chunks);
    free(f->w.root_n);
    free(f->w.fbest);
    free(f->w.fbest_large);
    free(f->w.nodes);
    free(f->w.leaves);
    mlpool_free(f->w.pool);
}

/* Gradient and hessian of row i for the current raw scores (scikit-learn's losses: half
 * squared error, binary and multinomial log loss). */
static void gbt_gradient_row(struct gbt_fit *f, size_t i)
{
    size_t n = f->n, k = f->k;
    const double *r = f->raw + i * k;
    double y = f->ytrain[i], *gh = f->gh + 2 * i;
    if (f->m->objective == GBT_OBJ_SQUARED) {
        gh[0] = r[0] - y;
        gh[1] = 1.0;
    } else if (f->m->objective == GBT_OBJ_LOGISTIC) {
        double p = 1.0 / (1.0 + exp(-r[0]));
        gh[0] = p - y;
        gh[1] = p * (1.0 - p);
    } else {
        double mx = r[0], sum = 0.0, e[MLBIN_MAX_BINS + 1];
        for (size_t j = 1; j < k; j++)
            mx = r[j] > mx ? r[j] : mx;
        for (size_t j = 0; j < k; j++)
            sum += (e[j] = exp(r[j] - mx));
        for (size_t j = 0; j < k; j++) {
            double p = e[j] / sum;
            gh[2 * j * n] = p - (y == (double)j ? 1.0 : 0.0);
            gh[2 * j * n + 1] = p * (1.0 - p);
        }
    }
}

static void gbt_gradient_task(void *ctx, size_t chunk, size_t worker)
{
    (void)worker;
    struct gbt_fit *f = ctx;
    size_t n = f->n, start = chunk * GBT_CHUNK;
    size_t end = start + GBT_CHUNK < n ? start + GBT_CHUNK : n;
    for (size_t i = start; i < end; i++)
        gbt_gradient_row(f, i);
}

static void gbt_gradients(struct gbt_fit *f)
{
    gbt_run(&f->w, (f->n + GBT_CHUNK - 1) / GBT_CHUNK, gbt_gradient_task, f, f->n >= 2 * GBT_CHUNK);
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
    w->threads = mlpool_threads(w->pool);
    f->raw = malloc(n * k * sizeof *f->raw);
    f->val_raw = malloc((f->val.n ? f->val.n : 1) * k * sizeof *f->val_raw);
    f->gh = malloc(2 * n * k * sizeof *f->gh);
    f->codes = malloc(n * p);
    f->cols = malloc(n * p);
    w->rows = malloc(n * sizeof *w->rows);
    w->tmp = malloc(n * sizeof *w->tmp);
    w->tmp2 = malloc(n * sizeof *w->tmp2);
    /* a batch's leaves are cut into chunks: at most one partial chunk each */
    w->chunks = malloc((n / GBT_PART + GBT_BATCH + 1) * sizeof *w->chunks);
    w->root_n = calloc(p * GBT_NB, sizeof *w->root_n);
    w->fbest = malloc(GBT_BATCH * p * sizeof *w->fbest);
    w->fbest_large = malloc(GBT_BATCH * p * sizeof *w->fbest_large);
    w->leaves = malloc((leaves + 1) * sizeof *w->leaves);
    w->spare = malloc((leaves + 2) * sizeof(struct gbt_bin *));
    if (!f->raw || !f->val_raw || !f->gh || !f->codes || !f->cols || !w->rows || !w->tmp ||
        !w->tmp2 || !w->chunks || !w->root_n || !w->fbest || !w->fbest_large || !w->leaves ||
        !w->spare)
        return -ENOMEM;
    w->codes = f->codes;
    w->cols = f->cols;
    return 0;
}

/* Pool task: the root's row counts of feature j. */
static void gbt_count_task(void *ctx, size_t j, size_t worker)
{
    (void)worker;
    struct gbt_fit *f = ctx;
    const uint8_t *col = f->cols + j * f->n;
    double *cnt = f->w.root_n + j * GBT_NB;
    for (size_t i = 0; i < f->n; i++)
        cnt[col[i]] += 1.0;
}

/* Pool task: rows [c * GBT_CHUNK, ...) of the column-major codes copied row-major. */
static void gbt_transpose_task(void *ctx, size_t c, size_t worker)
{
    (void)worker;
    struct gbt_fit *f = ctx;
    size_t n = f->n, p = f->w.p, from = c * GBT_CHUNK;
    size_t to = from + GBT_CHUNK < n ? from + GBT_CHUNK : n;
    for (size_t j = 0; j < p; j++) {
        const uint8_t *col = f->cols + j * n;
        for (size_t i = from; i < to; i++)
            f->codes[i * p + j] = col[i];
    }
}

/* Pool task: add leaf l's value to the training scores of its rows (with one output, their
 * next gradients follow at once, as gbt_gradient_row has them). */
static void gbt_update_task(void *ctx, size_t l, size_t worker)
{
    (void)worker;
    struct gbt_fit *f = ctx;
    const struct gbt_leaf *lf = &f->w.leaves[l];
    const size_t *rows = f->w.rows + lf->start;
    size_t m = lf->end - lf->start, k = f->k;
    double *raw = f->raw, *gh = f->gh;
    const double *y = f->ytrain;
    /* a cut sends each row to its side's value */
    const struct gbt_cut *cut = &lf->cut;
    const uint8_t *col = cut->node >= 0 ? f->cols + (size_t)cut->feature * f->n : NULL;
    int32_t node = cut->node >= 0 ? cut->node : lf->node;
    double vl = f->w.nodes[node].value, vr = f->w.nodes[col ? node + 1 : node].value;
    for (size_t i = 0; i < m; i++) {
        size_t r = rows[i];
        if (i + GBT_AHEAD < m) { /* rows are scattered: fetch ahead */
            size_t a = rows[i + GBT_AHEAD];
            __builtin_prefetch(raw + a * k);
            __builtin_prefetch(gh + 2 * a);
            __builtin_prefetch(y + a);
        }
        double v = col && ((col[r] + cut->dl) & 0xffu) > cut->lim ? vr : vl;
        if (k > 1) {
            raw[r * k + f->output] += v;
        } else if (f->m->objective == GBT_OBJ_SQUARED) {
            raw[r] += v;
            gh[2 * r] = raw[r] - y[r];
        } else {
            raw[r] += v;
            double p = 1.0 / (1.0 + exp(-raw[r]));
            gh[2 * r] = p - y[r];
            gh[2 * r + 1] = p * (1.0 - p);
        }
    }
}

/* Grow the k trees of one round and add their leaves to the training scores. */
static int gbt_round(struct gbt_fit *f)
{
    struct gbt_work *w = &f->w;
    if (!f->gh_fresh)
        gbt_gradients(f);
    for (size_t j = 0; j < f->k; j++) {
        w->gh = f->gh + 2 * j * f->n;
        int rc = gbt_grow(w);
        struct gbt_node *copy = rc ? NULL : malloc(w->n_nodes * sizeof *copy);
        if (!copy)
            return rc ? rc : -ENOMEM;
        memcpy(copy, w->nodes, w->n_nodes * sizeof *copy);
        rc = gbt_model_add(f->m, copy, w->n_nodes, j);
        if (rc)
            return rc;
        f->output = j;
        gbt_run(w, w->n_leaves, gbt_update_task, f, f->n >= 2 * GBT_CHUNK);
    }
    f->gh_fresh = f->k == 1;
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
    mlbin_transform(&f->bins, x, f->train, f->n, f->cols, f->w.pool);
    gbt_run(&f->w, (f->n + GBT_CHUNK - 1) / GBT_CHUNK, gbt_transpose_task, f, 1);
    gbt_run(&f->w, f->w.p, gbt_count_task, f, 1);
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
