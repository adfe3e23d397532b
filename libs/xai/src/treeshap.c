/* treeshap: exact path-dependent TreeSHAP (Lundberg's recursion and per-leaf tables) and
 * SHAP interaction values. */
#include "shapimpl.h"
#include "xaiimpl.h"

#include <ibx/mlpar.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TP_CHUNK      16         /* rows per task */
#define FT_MAX_M      20         /* distinct features on a path for a per-leaf table */
#define FT_TREE_CELLS (1u << 20) /* table cells per tree */
#define FT_ALL_CELLS  (1u << 24) /* table cells for the whole ensemble (128 MiB) */

/* ---- Lundberg's recursion (Algorithm 2 of Lundberg et al. 2020, as in shap's C++) ---- */

struct path_el {
    int32_t feat;
    double zero, one, w;
};

struct rec {
    const struct st_tree *tr;
    const double *x;
    int xgb;
    size_t width;
    double *phi;    /* phi[(out0 + j) * ostride + feature] */
    size_t ostride; /* p for SHAP values, p * p for interaction rows */
    int cond;       /* 0, +1 (cond_feat always present), -1 (always absent) */
    int32_t cond_feat;
};

static void path_extend(struct path_el *path, size_t ud, double zero, double one, int32_t feat)
{
    path[ud] = (struct path_el){feat, zero, one, ud == 0 ? 1.0 : 0.0};
    double d = (double)(ud + 1);
    for (size_t i = ud; i-- > 0;) {
        path[i + 1].w += one * path[i].w * (double)(i + 1) / d;
        path[i].w = zero * path[i].w * (double)(ud - i) / d;
    }
}

static void path_unwind(struct path_el *path, size_t ud, size_t pi)
{
    double one = path[pi].one, zero = path[pi].zero, next = path[ud].w, d = (double)(ud + 1);
    for (size_t i = ud; i-- > 0;) {
        if (one != 0.0) {
            double tmp = path[i].w;
            path[i].w = next * d / ((double)(i + 1) * one);
            next = tmp - path[i].w * zero * (double)(ud - i) / d;
        } else {
            path[i].w = path[i].w * d / (zero * (double)(ud - i));
        }
    }
    for (size_t i = pi; i < ud; i++) {
        path[i].feat = path[i + 1].feat;
        path[i].zero = path[i + 1].zero;
        path[i].one = path[i + 1].one;
    }
}

static double path_unwound_sum(const struct path_el *path, size_t ud, size_t pi)
{
    double one = path[pi].one, zero = path[pi].zero, next = path[ud].w, total = 0.0;
    double d = (double)(ud + 1);
    if (one != 0.0) {
        for (size_t i = ud; i-- > 0;) {
            double tmp = next * d / ((double)(i + 1) * one);
            total += tmp;
            next = path[i].w - tmp * zero * (double)(ud - i) / d;
        }
    } else if (zero != 0.0) {
        for (size_t i = ud; i-- > 0;)
            total += path[i].w * d / (zero * (double)(ud - i));
    }
    return total;
}

static void rec_leaf(const struct rec *c, const struct st_node *nd, const struct path_el *path,
                     size_t ud, double cf)
{
    const double *v = c->tr->values + (size_t)nd->leaf * c->width;
    for (size_t i = 1; i <= ud; i++) {
        const struct path_el *el = &path[i];
        double s = path_unwound_sum(path, ud, i) * (el->one - el->zero) * cf;
        double *phi = c->phi + c->tr->out0 * c->ostride + (size_t)el->feat;
        for (size_t j = 0; j < c->width; j++)
            phi[j * c->ostride] += s * v[j];
    }
}

static void rec_node(const struct rec *c, int32_t node, struct path_el *parent, size_t ud,
                     double pz, double po, int32_t pf, double cf)
{
    if (cf == 0.0 || (pz == 0.0 && po == 0.0))
        return; /* no weight reaches this subtree */
    struct path_el *path = parent + ud + 1;
    memcpy(path, parent, (ud + 1) * sizeof *path);
    if (c->cond == 0 || c->cond_feat != pf)
        path_extend(path, ud, pz, po, pf);
    const struct st_node *nd = &c->tr->nodes[node];
    if (nd->feat < 0) {
        rec_leaf(c, nd, path, ud, cf);
        return;
    }
    int left = st_goes_left(nd, c->x[nd->feat], c->xgb);
    int32_t hot = left ? nd->left : nd->right, cold = left ? nd->right : nd->left;
    double hot_z = left ? nd->zl : nd->zr, cold_z = left ? nd->zr : nd->zl;
    double in_z = 1.0, in_o = 1.0;
    size_t pi = 0;
    while (pi <= ud && path[pi].feat != nd->feat)
        pi++;
    if (pi <= ud) { /* split on this feature before: undo it, redo it here */
        in_z = path[pi].zero;
        in_o = path[pi].one;
        path_unwind(path, ud, pi);
        ud -= 1;
    }
    double hot_cf = cf, cold_cf = cf;
    if (c->cond > 0 && nd->feat == c->cond_feat) {
        cold_cf = 0.0;
        ud -= 1; /* wraps for ud 0; ud + 1 below is 0 again */
    } else if (c->cond < 0 && nd->feat == c->cond_feat) {
        hot_cf *= hot_z;
        cold_cf *= cold_z;
        ud -= 1;
    }
    rec_node(c, hot, path, ud + 1, hot_z * in_z, in_o, nd->feat, hot_cf);
    rec_node(c, cold, path, ud + 1, cold_z * in_z, 0.0, nd->feat, cold_cf);
}

/* Path elements one row's recursion needs for trees of depth d over p features. */
static size_t rec_path_len(size_t depth, size_t p)
{
    size_t u = depth < p ? depth : p;
    return (depth + 3) * (u + 3);
}

static void rec_tree(const struct st_tree *tr, const double *x, int xgb, size_t width, double *phi,
                     size_t ostride, int cond, int32_t cond_feat, double cf, struct path_el *path)
{
    struct rec c = {tr, x, xgb, width, phi, ostride, cond, cond_feat};
    rec_node(&c, 0, path, 0, 1.0, 1.0, -1, cf);
}

/* ---- per-leaf tables ("Fast TreeSHAP" v2) ----
 * For leaf l with value v and distinct path features U (m of them), z_d the product of
 * the cover shares along the path at splits on d, and B the features whose every split on
 * the path x satisfies: the leaf gives phi_i = -v C(B) for i in U \ B and
 * phi_i = v (1 - z_i) / z_i C(B \ {i}) for i in B, where
 * C(B) = sum over S subset of B of |S|! (m - |S| - 1)! / m! prod over d in U \ S of z_d.
 * C is tabulated for every B (2^m cells) once per call; a row then costs O(m) per leaf. */

struct ft_tree {
    int ok;
    uint8_t *pos;       /* n_nodes: bit of an internal node's feature in its leaves' sets */
    uint8_t *m;         /* n_leaves */
    size_t *foff;       /* n_leaves: into feat and r */
    int32_t *feat;      /* distinct features of each leaf's path, first seen first */
    double *r;          /* (1 - z) / z per entry of feat */
    size_t *toff;       /* n_leaves: into table */
    double *table;      /* 2^m cells per leaf */
    int32_t *leaf_node; /* n_leaves */
};

struct ft_walk {
    const struct st_tree *tr;
    struct ft_tree *ft; /* NULL while planning */
    int32_t *uf;        /* the path's distinct features (p + 1) */
    double *uz;
    size_t m;
    size_t sum_m, max_m, nodes_seen;
    double cells, rec_cost, min_z;
    size_t foff, toff;
    double *e; /* (FT_MAX_M + 1)^2 scratch */
    double wts[FT_MAX_M + 1];
};

static void ft_fill_bits(struct ft_walk *w, double *tab, const double *z, size_t m, size_t bit,
                         uint32_t set, double outside, const double *e, size_t nb)
{
    if (bit == m) {
        double s = 0.0;
        for (size_t k = 0; nb < m && k <= nb; k++)
            s += w->wts[k] * e[nb - k];
        tab[set] = nb < m ? outside * s : 0.0; /* C(U) is never read */
        return;
    }
    ft_fill_bits(w, tab, z, m, bit + 1, set, outside * z[bit], e, nb);
    double *ne = w->e + (bit + 1) * (FT_MAX_M + 1);
    ne[0] = e[0];
    for (size_t t = 1; t <= nb; t++)
        ne[t] = e[t] + z[bit] * e[t - 1];
    ne[nb + 1] = z[bit] * e[nb];
    ft_fill_bits(w, tab, z, m, bit + 1, set | (1u << (bit & 31u)), outside, ne, nb + 1);
}

static void ft_leaf(struct ft_walk *w, int32_t node)
{
    size_t m = w->m, l = (size_t)w->tr->nodes[node].leaf;
    w->sum_m += m;
    w->max_m = m > w->max_m ? m : w->max_m;
    w->rec_cost += (double)((m + 1) * (m + 1));
    w->cells += m <= FT_MAX_M ? (double)(1u << m) : 1e30;
    for (size_t i = 0; i < m; i++)
        w->min_z = w->uz[i] < w->min_z ? w->uz[i] : w->min_z;
    struct ft_tree *ft = w->ft;
    if (!ft)
        return;
    ft->m[l] = (uint8_t)m;
    ft->foff[l] = w->foff;
    ft->toff[l] = w->toff;
    ft->leaf_node[l] = node;
    for (size_t i = 0; i < m; i++) {
        ft->feat[w->foff + i] = w->uf[i];
        ft->r[w->foff + i] = (1.0 - w->uz[i]) / w->uz[i];
    }
    w->wts[0] = m ? 1.0 / (double)m : 0.0; /* |S|! (m - |S| - 1)! / m! */
    for (size_t s = 0; s + 1 < m; s++)
        w->wts[s + 1] = w->wts[s] * (double)(s + 1) / (double)(m - s - 1);
    w->e[0] = 1.0;
    ft_fill_bits(w, ft->table + w->toff, w->uz, m, 0, 0, 1.0, w->e, 0);
    w->foff += m;
    w->toff += (size_t)1 << m;
}

static void ft_visit(struct ft_walk *w, int32_t node)
{
    const struct st_node *nd = &w->tr->nodes[node];
    w->nodes_seen++;
    if (nd->feat < 0) {
        ft_leaf(w, node);
        return;
    }
    size_t pos = 0;
    while (pos < w->m && w->uf[pos] != nd->feat)
        pos++;
    int fresh = pos == w->m;
    if (w->ft)
        w->ft->pos[node] = (uint8_t)(pos < 255 ? pos : 255);
    double saved = fresh ? 1.0 : w->uz[pos];
    if (fresh) {
        w->uf[w->m++] = nd->feat;
    }
    w->uz[pos] = saved * nd->zl;
    ft_visit(w, nd->left);
    w->uz[pos] = saved * nd->zr;
    ft_visit(w, nd->right);
    w->uz[pos] = saved;
    if (fresh)
        w->m--;
}

static void ft_release(struct ft_tree *ft)
{
    free(ft->pos);
    free(ft->m);
    free(ft->foff);
    free(ft->feat);
    free(ft->r);
    free(ft->toff);
    free(ft->table);
    free(ft->leaf_node);
    memset(ft, 0, sizeof *ft);
}

/* Plan one tree: 1 when tables pay off for n rows (or are forced) and fit. */
static int ft_plan(const struct st_tree *tr, size_t p, size_t n, int force, struct ft_walk *w)
{
    w->tr = tr;
    w->ft = NULL;
    w->m = w->sum_m = w->max_m = w->nodes_seen = 0;
    w->cells = w->rec_cost = 0.0;
    w->min_z = 1.0;
    if (tr->depth > 4096 || p == 0)
        return 0; /* the walk recurses once per level */
    ft_visit(w, 0);
    if (w->max_m > FT_MAX_M || w->cells > FT_TREE_CELLS || !(w->min_z > 1e-280))
        return 0;
    double rows = (double)n, nodes = (double)tr->n_nodes;
    double fast = w->cells * (double)(w->max_m + 1) + rows * (2.0 * nodes + (double)w->sum_m);
    double slow = rows * (w->rec_cost + 2.0 * nodes);
    return force || fast < slow;
}

static int ft_build(const struct st_tree *tr, struct ft_walk *w, struct ft_tree *ft)
{
    size_t nl = tr->n_leaves ? tr->n_leaves : 1;
    ft->pos = calloc(tr->n_nodes, 1);
    ft->m = calloc(nl, 1);
    ft->foff = calloc(nl, sizeof *ft->foff);
    ft->toff = calloc(nl, sizeof *ft->toff);
    ft->leaf_node = calloc(nl, sizeof *ft->leaf_node);
    ft->feat = calloc(w->sum_m + 1, sizeof *ft->feat);
    ft->r = calloc(w->sum_m + 1, sizeof *ft->r);
    ft->table = calloc((size_t)w->cells + 1, sizeof *ft->table);
    if (!ft->pos || !ft->m || !ft->foff || !ft->toff || !ft->leaf_node || !ft->feat || !ft->r ||
        !ft->table) {
        ft_release(ft);
        return -ENOMEM;
    }
    w->tr = tr;
    w->ft = ft;
    w->m = w->sum_m = w->max_m = w->nodes_seen = 0;
    w->foff = w->toff = 0;
    ft_visit(w, 0);
    ft->ok = 1;
    return 0;
}

struct ft_job {
    const struct shap_trees *t;
    struct ft_tree *ft;
    const uint8_t *use;
    int *rc;
};

static void ft_build_one(void *ctx, size_t i)
{
    struct ft_job *job = ctx;
    if (!job->use[i])
        return;
    size_t p = job->t->p;
    struct ft_walk w = {0};
    w.uf = malloc((p + 1) * sizeof *w.uf);
    w.uz = malloc((p + 1) * sizeof *w.uz);
    w.e = malloc((FT_MAX_M + 2) * (FT_MAX_M + 1) * sizeof *w.e);
    int rc = w.uf && w.uz && w.e ? 0 : -ENOMEM;
    rc = rc ? rc : ft_plan(&job->t->trees[i], p, 0, 1, &w) ? 0 : -EINVAL;
    job->rc[i] = rc ? rc : ft_build(&job->t->trees[i], &w, &job->ft[i]);
    free(w.uf);
    free(w.uz);
    free(w.e);
}

/* Decide per tree (in tree order, within the ensemble's cell budget) and build the tables
 * on ctl's threads. *out is NULL when no tree uses them. */
static int ft_prepare(const struct shap_trees *t, size_t n, enum shap_tree_algo algo,
                      const struct ml_control *ctl, struct ft_tree **out)
{
    *out = NULL;
    if (algo == SHAP_TREE_RECURSIVE || t->n_trees == 0)
        return 0;
    struct ft_walk w = {0};
    uint8_t *use = calloc(t->n_trees, 1);
    int *rcs = calloc(t->n_trees, sizeof *rcs);
    struct ft_tree *ft = calloc(t->n_trees, sizeof *ft);
    w.uf = malloc((t->p + 1) * sizeof *w.uf);
    w.uz = malloc((t->p + 1) * sizeof *w.uz);
    int rc = use && rcs && ft && w.uf && w.uz ? 0 : -ENOMEM;
    double budget = FT_ALL_CELLS;
    size_t used = 0;
    for (size_t i = 0; rc == 0 && i < t->n_trees; i++) {
        if (!ft_plan(&t->trees[i], t->p, n, algo == SHAP_TREE_TABLES, &w) || w.cells > budget)
            continue;
        use[i] = 1;
        used++;
        budget -= w.cells;
    }
    if (rc == 0 && used) {
        struct ft_job job = {t, ft, use, rcs};
        mlpar_run(mlpar_threads(ctl), t->n_trees, ft_build_one, &job);
        for (size_t i = 0; i < t->n_trees && rc == 0; i++)
            rc = rcs[i];
    }
    free(use);
    free(rcs);
    free(w.uf);
    free(w.uz);
    if (rc || !used) {
        for (size_t i = 0; ft && i < t->n_trees; i++)
            ft_release(&ft[i]);
        free(ft);
        return rc;
    }
    *out = ft;
    return 0;
}

static void ft_free(struct ft_tree *ft, size_t n)
{
    for (size_t i = 0; ft && i < n; i++)
        ft_release(&ft[i]);
    free(ft);
}

/* One row through one tree with its tables; mask has n_nodes entries of scratch. */
static void ft_row(const struct st_tree *tr, const struct ft_tree *ft, const double *x, int xgb,
                   size_t width, double *phi, size_t p, uint32_t *mask)
{
    mask[0] = ~0u;
    for (size_t n = 0; n < tr->n_nodes; n++) {
        const struct st_node *nd = &tr->nodes[n];
        if (nd->feat < 0)
            continue;
        uint32_t off = mask[n] & ~(1u << ft->pos[n]);
        int left = st_goes_left(nd, x[nd->feat], xgb);
        mask[nd->left] = left ? mask[n] : off;
        mask[nd->right] = left ? off : mask[n];
    }
    for (size_t l = 0; l < tr->n_leaves; l++) {
        size_t m = ft->m[l];
        if (m == 0)
            continue;
        uint32_t set = mask[ft->leaf_node[l]] & ((1u << m) - 1u);
        const double *tab = ft->table + ft->toff[l], *r = ft->r + ft->foff[l];
        const int32_t *feat = ft->feat + ft->foff[l];
        const double *v = tr->values + l * width;
        double out = -tab[set];
        for (size_t i = 0; i < m; i++) {
            double coef = (set >> i) & 1u ? r[i] * tab[set ^ (1u << i)] : out;
            double *ph = phi + tr->out0 * p + (size_t)feat[i];
            for (size_t j = 0; j < width; j++)
                ph[j * p] += coef * v[j];
        }
    }
}

/* ---- rows ---- */

struct tp_job {
    const struct shap_trees *t;
    const struct ml_matrix *x;
    const struct ft_tree *ft; /* NULL or one per tree */
    struct xai_attrib *out;
};

static void tp_finish_row(const struct shap_trees *t, const double *x, double *phi, double *pred)
{
    if (t->scale != 1.0)
        for (size_t j = 0; j < t->k * t->p; j++)
            phi[j] *= t->scale;
    st_predict_row(t, x, pred);
}

static int tp_rows(void *ctx, size_t begin, size_t end)
{
    const struct tp_job *job = ctx;
    const struct shap_trees *t = job->t;
    size_t maxn = 1;
    for (size_t i = 0; i < t->n_trees; i++)
        maxn = t->trees[i].n_nodes > maxn ? t->trees[i].n_nodes : maxn;
    struct path_el *path = malloc(rec_path_len(t->max_depth, t->p) * sizeof *path);
    uint32_t *mask = malloc(maxn * sizeof *mask);
    if (!path || !mask) {
        free(path);
        free(mask);
        return -ENOMEM;
    }
    size_t p = t->p, k = t->k;
    for (size_t i = 0; i < t->n_trees; i++) {
        const struct st_tree *tr = &t->trees[i];
        for (size_t r = begin; r < end; r++) {
            const double *x = job->x->x + r * p;
            double *phi = job->out->values + r * k * p;
            if (job->ft && job->ft[i].ok)
                ft_row(tr, &job->ft[i], x, t->xgb, t->width, phi, p, mask);
            else
                rec_tree(tr, x, t->xgb, t->width, phi, p, 0, -1, 1.0, path);
        }
    }
    for (size_t r = begin; r < end; r++)
        tp_finish_row(t, job->x->x + r * p, job->out->values + r * k * p, job->out->pred + r * k);
    free(path);
    free(mask);
    return 0;
}

int shap_tree_with(const struct shap_trees *t, const struct ml_matrix *x, enum shap_tree_algo algo,
                   const struct ml_control *ctl, struct xai_attrib *out)
{
    if (!t || !out)
        return -EINVAL;
    int rc = st_check_matrix(t, x);
    if (rc)
        return rc;
    struct xai_attrib a;
    rc = xai_attrib_alloc(&a, x->n, t->k, t->p);
    if (rc)
        return rc;
    a.method = XAI_TREE_SHAP;
    a.space = t->space;
    struct ft_tree *ft = NULL;
    rc = x->n ? ft_prepare(t, x->n, algo, ctl, &ft) : 0;
    struct tp_job job = {t, x, ft, &a};
    rc = rc ? rc : xai_par_rows(ctl, x->n, TP_CHUNK, tp_rows, &job);
    ft_free(ft, t->n_trees);
    if (rc) {
        xai_attrib_release(&a);
        return rc;
    }
    double *ev = a.base; /* the same base for every row */
    if (x->n)
        shap_trees_expected_value(t, ev);
    for (size_t r = 1; r < x->n; r++)
        memcpy(a.base + r * t->k, ev, t->k * sizeof *ev);
    xai_attrib_finish(&a);
    *out = a;
    return 0;
}

int shap_tree(const struct shap_trees *t, const struct ml_matrix *x, const struct ml_control *ctl,
              struct xai_attrib *out)
{
    return shap_tree_with(t, x, SHAP_TREE_AUTO, ctl, out);
}

/* ---- interaction values ---- */

void shap_interactions_release(struct shap_interactions *s)
{
    if (!s)
        return;
    free(s->values);
    free(s->base);
    free(s->pred);
    free(s->residual);
    memset(s, 0, sizeof *s);
}

struct ti_job {
    const struct shap_trees *t;
    const struct ml_matrix *x;
    struct shap_interactions *out;
};

/* Row r: phi (k * p scratch) and the interaction matrices. */
static void ti_row(const struct ti_job *job, size_t r, double *phi, struct path_el *path)
{
    const struct shap_trees *t = job->t;
    size_t p = t->p, k = t->k, pp = p * p;
    const double *x = job->x->x + r * p;
    double *inter = job->out->values + r * k * pp;
    memset(phi, 0, k * p * sizeof *phi);
    for (size_t i = 0; i < t->n_trees; i++) {
        const struct st_tree *tr = &t->trees[i];
        rec_tree(tr, x, t->xgb, t->width, phi, p, 0, -1, 1.0, path);
        for (size_t u = 0; u < tr->n_features; u++) {
            int32_t g = tr->features[u];
            double *row = inter + (size_t)g * p; /* [o][g][.] with stride p * p per output */
            rec_tree(tr, x, t->xgb, t->width, row, pp, 1, g, 0.5, path);
            rec_tree(tr, x, t->xgb, t->width, row, pp, -1, g, -0.5, path);
        }
    }
    for (size_t o = 0; o < k; o++) {
        double *m = inter + o * pp;
        for (size_t f = 0; f < p; f++) {
            double off = 0.0;
            for (size_t g = 0; g < p; g++)
                off += g == f ? 0.0 : m[g * p + f];
            m[f * p + f] = phi[o * p + f] - off;
        }
    }
    if (t->scale != 1.0)
        for (size_t j = 0; j < k * pp; j++)
            inter[j] *= t->scale;
    st_predict_row(t, x, job->out->pred + r * k);
}

static int ti_rows(void *ctx, size_t begin, size_t end)
{
    const struct ti_job *job = ctx;
    const struct shap_trees *t = job->t;
    struct path_el *path = malloc(rec_path_len(t->max_depth, t->p) * sizeof *path);
    double *phi = malloc(t->k * t->p * sizeof *phi);
    int rc = path && phi ? 0 : -ENOMEM;
    for (size_t r = begin; rc == 0 && r < end; r++)
        ti_row(job, r, phi, path);
    free(path);
    free(phi);
    return rc;
}

static int ti_alloc(struct shap_interactions *s, size_t n, size_t k, size_t p)
{
    size_t cells = xai_mul(xai_mul(xai_mul(n, k), p), p);
    if (cells == SIZE_MAX)
        return -ENOMEM;
    memset(s, 0, sizeof *s);
    s->values = calloc(cells ? cells : 1, sizeof *s->values);
    s->base = calloc(n * k + 1, sizeof *s->base);
    s->pred = calloc(n * k + 1, sizeof *s->pred);
    s->residual = calloc(n * k + 1, sizeof *s->residual);
    if (!s->values || !s->base || !s->pred || !s->residual) {
        shap_interactions_release(s);
        return -ENOMEM;
    }
    s->n = n;
    s->k = k;
    s->p = p;
    return 0;
}

int shap_tree_interactions(const struct shap_trees *t, const struct ml_matrix *x,
                           const struct ml_control *ctl, struct shap_interactions *out)
{
    if (!t || !out)
        return -EINVAL;
    int rc = st_check_matrix(t, x);
    if (rc)
        return rc;
    struct shap_interactions s;
    rc = ti_alloc(&s, x->n, t->k, t->p);
    if (rc)
        return rc;
    struct ti_job job = {t, x, &s};
    rc = xai_par_rows(ctl, x->n, 4, ti_rows, &job);
    if (rc) {
        shap_interactions_release(&s);
        return rc;
    }
    double *ev = s.base;
    if (x->n)
        shap_trees_expected_value(t, ev);
    size_t pp = t->p * t->p;
    for (size_t r = 0; r < x->n * t->k; r++) {
        s.base[r] = ev[r % t->k];
        double sum = 0.0;
        for (size_t j = 0; j < pp; j++)
            sum += s.values[r * pp + j];
        s.residual[r] = s.pred[r] - s.base[r] - sum;
        double a = fabs(s.residual[r]);
        s.max_abs_residual = a > s.max_abs_residual || isnan(a) ? a : s.max_abs_residual;
    }
    *out = s;
    return 0;
}
