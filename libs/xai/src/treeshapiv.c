/* treeshapiv: exact interventional TreeSHAP against a background set.
 *
 * For one row x and one background row b, the game v(S) = f(x_S, b_rest) of a tree is a
 * sum over leaves of v_leaf [A subset of S][S and B disjoint], where A holds the features
 * whose splits on the way must follow x (x and b part there) and B those that must follow
 * b. Such a term gives each feature of A (|A| - 1)! |B|! / (|A| + |B|)! v_leaf and each of
 * B -|A|! (|B| - 1)! / (|A| + |B|)! v_leaf. One walk of the tree visits every leaf that
 * some coalition reaches. */
#include "shapimpl.h"
#include "xaiimpl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IV_CHUNK 4

enum { IV_FREE = 0, IV_X = 1, IV_REF = 2 };

struct iv_walk {
    const struct st_tree *tr;
    const double *x, *b;
    int xgb;
    size_t width, p;
    double weight;    /* the background row's weight */
    double *phi;      /* the row's k * p values */
    uint8_t *state;   /* p */
    int32_t *fa, *fb; /* features in A and in B */
    size_t na, nb;
    const double *w; /* w[a * wn + b] = (a - 1)! b! / (a + b)!, a >= 1 */
    size_t wn;
};

static void iv_leaf(struct iv_walk *c, const struct st_node *nd)
{
    if (c->na + c->nb == 0)
        return;
    const double *v = c->tr->values + (size_t)nd->leaf * c->width;
    double pos = c->na ? c->weight * c->w[c->na * c->wn + c->nb] : 0.0;
    double neg = c->nb ? c->weight * c->w[c->nb * c->wn + c->na] : 0.0;
    double *phi = c->phi + c->tr->out0 * c->p;
    for (size_t j = 0; j < c->width; j++) {
        double *ph = phi + j * c->p;
        for (size_t i = 0; i < c->na; i++)
            ph[c->fa[i]] += pos * v[j];
        for (size_t i = 0; i < c->nb; i++)
            ph[c->fb[i]] -= neg * v[j];
    }
}

static void iv_node(struct iv_walk *c, int32_t node)
{
    const struct st_node *nd = &c->tr->nodes[node];
    if (nd->feat < 0) {
        iv_leaf(c, nd);
        return;
    }
    int32_t f = nd->feat;
    int32_t xs = st_goes_left(nd, c->x[f], c->xgb) ? nd->left : nd->right;
    int32_t bs = st_goes_left(nd, c->b[f], c->xgb) ? nd->left : nd->right;
    if (c->state[f] == IV_X || (c->state[f] == IV_FREE && xs == bs)) {
        iv_node(c, xs);
        return;
    }
    if (c->state[f] == IV_REF) {
        iv_node(c, bs);
        return;
    }
    c->state[f] = IV_X;
    c->fa[c->na++] = f;
    iv_node(c, xs);
    c->na--;
    c->state[f] = IV_REF;
    c->fb[c->nb++] = f;
    iv_node(c, bs);
    c->nb--;
    c->state[f] = IV_FREE;
}

struct iv_job {
    const struct shap_trees *t;
    const struct xai_background *bg;
    const struct ml_matrix *x;
    struct xai_attrib *out;
    const double *w;
    size_t wn;
};

static int iv_rows(void *ctx, size_t begin, size_t end)
{
    const struct iv_job *job = ctx;
    const struct shap_trees *t = job->t;
    size_t p = t->p, k = t->k;
    struct iv_walk c = {.xgb = t->xgb, .width = t->width, .p = p, .w = job->w, .wn = job->wn};
    c.state = calloc(p, 1);
    c.fa = malloc(p * sizeof *c.fa);
    c.fb = malloc(p * sizeof *c.fb);
    int rc = c.state && c.fa && c.fb ? 0 : -ENOMEM;
    for (size_t r = begin; rc == 0 && r < end; r++) {
        c.x = job->x->x + r * p;
        c.phi = job->out->values + r * k * p;
        for (size_t i = 0; i < t->n_trees; i++) {
            c.tr = &t->trees[i];
            for (size_t b = 0; b < job->bg->n; b++) {
                c.b = job->bg->x + b * p;
                c.weight = job->bg->w[b];
                iv_node(&c, 0);
            }
        }
        for (size_t j = 0; t->scale != 1.0 && j < k * p; j++)
            c.phi[j] *= t->scale;
        st_predict_row(t, c.x, job->out->pred + r * k);
    }
    free(c.state);
    free(c.fa);
    free(c.fb);
    return rc;
}

/* w[a * wn + b] = (a - 1)! b! / (a + b)! for 1 <= a, 0 <= b, a + b < wn, by the ratios
 * w(a, b + 1) = w(a, b) (b + 1) / (a + b + 1) and w(a + 1, b) = w(a, b) a / (a + b + 1). */
static double *iv_weights(size_t wn)
{
    double *w = calloc(wn * wn, sizeof *w);
    if (!w)
        return NULL;
    for (size_t a = 1; a < wn; a++) {
        w[a * wn] = a == 1 ? 1.0 : w[(a - 1) * wn] * (double)(a - 1) / (double)a;
        for (size_t b = 0; a + b + 1 < wn; b++)
            w[a * wn + b + 1] = w[a * wn + b] * (double)(b + 1) / (double)(a + b + 1);
    }
    return w;
}

/* The weighted mean of the model's outputs over the background. */
static void iv_base(const struct shap_trees *t, const struct xai_background *bg, double *base,
                    double *tmp)
{
    memset(base, 0, t->k * sizeof *base);
    for (size_t b = 0; b < bg->n; b++) {
        st_predict_row(t, bg->x + b * bg->p, tmp);
        for (size_t j = 0; j < t->k; j++)
            base[j] += bg->w[b] * tmp[j];
    }
}

static int iv_check(const struct shap_trees *t, const struct xai_background *bg,
                    const struct ml_matrix *x)
{
    if (!bg || bg->n == 0 || bg->p != t->p || !bg->x || !bg->w)
        return -EINVAL;
    struct ml_matrix bm = {bg->x, bg->n, bg->p};
    int rc = st_check_matrix(t, &bm);
    return rc ? rc : st_check_matrix(t, x);
}

int shap_tree_interventional(const struct shap_trees *t, const struct xai_background *bg,
                             const struct ml_matrix *x, const struct ml_control *ctl,
                             struct xai_attrib *out)
{
    if (!t || !out)
        return -EINVAL;
    int rc = iv_check(t, bg, x);
    if (rc)
        return rc;
    size_t wn = (t->max_depth < t->p ? t->max_depth : t->p) + 2;
    double *w = iv_weights(wn), *tmp = malloc(t->k * sizeof *tmp);
    struct xai_attrib a = {0};
    rc = w && tmp ? xai_attrib_alloc(&a, x->n, t->k, t->p) : -ENOMEM;
    struct iv_job job = {t, bg, x, &a, w, wn};
    rc = rc ? rc : xai_par_rows(ctl, x->n, IV_CHUNK, iv_rows, &job);
    if (rc == 0 && x->n) {
        iv_base(t, bg, a.base, tmp);
        for (size_t r = 1; r < x->n; r++)
            memcpy(a.base + r * t->k, a.base, t->k * sizeof *a.base);
    }
    free(w);
    free(tmp);
    if (rc) {
        xai_attrib_release(&a);
        return rc;
    }
    a.method = XAI_TREE_SHAP_INTERVENTIONAL;
    a.space = t->space;
    xai_attrib_finish(&a);
    *out = a;
    return 0;
}
