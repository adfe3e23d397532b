/* knn: exact k-nearest neighbours over a KD-tree, for classification and regression. */
#include <ibx/knn.h>
#include <ibx/mlenc.h>
#include <ibx/mlpar.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NO_CHILD       SIZE_MAX
#define QUERY_CHUNK    64
#define BATCH_CHUNKS   256 /* query chunks answered per parallel run */
#define TRAIN_BLOCK    512 /* training rows scanned per query block in brute force */
#define BRUTE_MIN_P    15  /* from this many features on, brute force beats the tree */
#define MAX_CLASSES    65536
#define FORMAT_VERSION 1

static const char MAGIC[] = "IBXKNN01";

struct kd_node {
    size_t lo, hi;      /* tree-order rows [lo, hi) */
    size_t left, right; /* NO_CHILD for a leaf */
};

struct knn {
    struct knn_params prm;
    enum ml_task task;
    size_t nclasses; /* 0 for regression */
    size_t n, p;
    double *tx;    /* n * p training rows in tree order */
    double *y;     /* n targets in the original row order */
    size_t *order; /* n: the original row index of each tree-order row */
    struct kd_node *nodes;
    double *lower, *upper; /* nnodes * p bounding boxes */
    size_t nnodes, cap;
};

struct cand {
    double d; /* reduced distance: squared Euclidean or Manhattan */
    size_t i; /* original training row */
};

void knn_params_default(struct knn_params *prm)
{
    prm->k = 5;
    prm->weights = KNN_UNIFORM;
    prm->metric = KNN_EUCLIDEAN;
    prm->leaf_size = 32;
}

/* ---- tree construction ------------------------------------------------------------- */

static int grow_nodes(struct knn *m)
{
    if (m->nnodes < m->cap)
        return 0;
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct kd_node *nodes = realloc(m->nodes, cap * sizeof *nodes);
    if (!nodes)
        return -ENOMEM;
    m->nodes = nodes;
    double *lower = realloc(m->lower, cap * m->p * sizeof *lower);
    if (!lower)
        return -ENOMEM;
    m->lower = lower;
    double *upper = realloc(m->upper, cap * m->p * sizeof *upper);
    if (!upper)
        return -ENOMEM;
    m->upper = upper;
    m->cap = cap;
    return 0;
}

/* Box of rows order[lo..hi) of x; returns the widest dimension and its spread. */
static size_t fill_box(struct knn *m, const double *x, size_t node, double *spread)
{
    const struct kd_node *nd = &m->nodes[node];
    double *lo = m->lower + node * m->p, *hi = m->upper + node * m->p;
    memcpy(lo, x + m->order[nd->lo] * m->p, m->p * sizeof *lo);
    memcpy(hi, lo, m->p * sizeof *hi);
    for (size_t r = nd->lo + 1; r < nd->hi; r++) {
        const double *xr = x + m->order[r] * m->p;
        for (size_t j = 0; j < m->p; j++) {
            lo[j] = fmin(lo[j], xr[j]);
            hi[j] = fmax(hi[j], xr[j]);
        }
    }
    size_t best = 0;
    for (size_t j = 1; j < m->p; j++)
        if (hi[j] - lo[j] > hi[best] - lo[best])
            best = j;
    *spread = hi[best] - lo[best];
    return best;
}

static double key(const double *x, size_t p, size_t row, size_t dim)
{
    return x[row * p + dim];
}

/* Reorder a[lo..hi) so that a[nth] holds the row with the nth smallest value in dim, smaller
 * ones before it and larger ones after (quickselect, three-way partition, median of three). */
static void select_nth(size_t *a, size_t lo, size_t hi, size_t nth, const double *x, size_t p,
                       size_t dim)
{
    while (hi - lo > 1) {
        double v0 = key(x, p, a[lo], dim), v1 = key(x, p, a[lo + (hi - lo) / 2], dim);
        double v2 = key(x, p, a[hi - 1], dim);
        double pivot = fmax(fmin(v0, v1), fmin(fmax(v0, v1), v2));
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            double v = key(x, p, a[i], dim);
            size_t t = a[i];
            if (v < pivot) {
                a[i++] = a[lt];
                a[lt++] = t;
            } else if (v > pivot) {
                a[i] = a[--gt];
                a[gt] = t;
            } else {
                i++;
            }
        }
        if (nth < lt)
            hi = lt;
        else if (nth >= gt)
            lo = gt;
        else
            return;
    }
}

static int build(struct knn *m, const double *x, size_t lo, size_t hi, size_t *out)
{
    if (grow_nodes(m) != 0)
        return -ENOMEM;
    size_t node = m->nnodes++;
    m->nodes[node] = (struct kd_node){.lo = lo, .hi = hi, .left = NO_CHILD, .right = NO_CHILD};
    double spread;
    size_t dim = fill_box(m, x, node, &spread);
    *out = node;
    if (hi - lo <= m->prm.leaf_size || !(spread > 0))
        return 0;
    size_t mid = lo + (hi - lo) / 2;
    select_nth(m->order, lo, hi, mid, x, m->p, dim);
    size_t left, right;
    int rc = build(m, x, lo, mid, &left);
    if (rc == 0)
        rc = build(m, x, mid, hi, &right);
    if (rc)
        return rc;
    m->nodes[node].left = left;
    m->nodes[node].right = right;
    return 0;
}

/* Build the tree over x (n x p, original order) and y, keeping tree-ordered copies (in the
 * original order when there are too many features for a tree to help). */
static int index_rows(struct knn *m, const double *x, const double *y)
{
    m->order = malloc(m->n * sizeof *m->order);
    m->tx = malloc(m->n * m->p * sizeof *m->tx);
    m->y = malloc(m->n * sizeof *m->y);
    if (!m->order || !m->tx || !m->y)
        return -ENOMEM;
    for (size_t i = 0; i < m->n; i++)
        m->order[i] = i;
    size_t root;
    int rc = m->p < BRUTE_MIN_P ? build(m, x, 0, m->n, &root) : 0; /* brute force: no tree */
    if (rc)
        return rc;
    for (size_t i = 0; i < m->n; i++)
        memcpy(m->tx + i * m->p, x + m->order[i] * m->p, m->p * sizeof *m->tx);
    memcpy(m->y, y, m->n * sizeof *m->y);
    return 0;
}

void knn_free(struct knn *m)
{
    if (!m)
        return;
    free(m->tx);
    free(m->y);
    free(m->order);
    free(m->nodes);
    free(m->lower);
    free(m->upper);
    free(m);
}

/* ---- queries ----------------------------------------------------------------------- */

struct heap {
    struct cand *c; /* max-heap on (d, i): the worst kept candidate on top */
    size_t len, k;
};

static int worse(const struct cand *a, const struct cand *b)
{
    return a->d > b->d || (a->d == b->d && a->i > b->i);
}

static void sift_down(struct heap *h, size_t at)
{
    for (;;) {
        size_t l = 2 * at + 1, r = l + 1, top = at;
        if (l < h->len && worse(&h->c[l], &h->c[top]))
            top = l;
        if (r < h->len && worse(&h->c[r], &h->c[top]))
            top = r;
        if (top == at)
            return;
        struct cand t = h->c[at];
        h->c[at] = h->c[top];
        h->c[top] = t;
        at = top;
    }
}

static void heap_offer(struct heap *h, struct cand cd)
{
    if (h->len == h->k) {
        if (!worse(&h->c[0], &cd))
            return;
        h->c[0] = cd;
        sift_down(h, 0);
        return;
    }
    size_t at = h->len++;
    h->c[at] = cd;
    while (at > 0 && worse(&h->c[at], &h->c[(at - 1) / 2])) {
        struct cand t = h->c[at];
        h->c[at] = h->c[(at - 1) / 2];
        h->c[(at - 1) / 2] = t;
        at = (at - 1) / 2;
    }
}

/* Distance terms go to four accumulators by j % 4 (in increasing j within each) and are
 * combined as (a0 + a1) + (a2 + a3). row_dist and box_dist share this order, so box_dist
 * stays a true lower bound in floating point: each of its terms is no larger than the
 * matching row term and rounding is monotone. */
static double sum4(const double *a)
{
    return (a[0] + a[1]) + (a[2] + a[3]);
}

static double row_dist(const struct knn *m, const double *q, const double *x)
{
    double a[4] = {0.0, 0.0, 0.0, 0.0};
    size_t j = 0, p = m->p;
    if (m->prm.metric == KNN_MANHATTAN) {
        for (; j < p; j++)
            a[j & 3] += fabs(q[j] - x[j]);
        return sum4(a);
    }
    for (; j + 4 <= p; j += 4) {
        double d0 = q[j] - x[j], d1 = q[j + 1] - x[j + 1];
        double d2 = q[j + 2] - x[j + 2], d3 = q[j + 3] - x[j + 3];
        a[0] += d0 * d0;
        a[1] += d1 * d1;
        a[2] += d2 * d2;
        a[3] += d3 * d3;
    }
    for (; j < p; j++) {
        double d = q[j] - x[j];
        a[j & 3] += d * d;
    }
    return sum4(a);
}

/* A lower bound of row_dist from q to any row in the node's box (see sum4). */
static double box_dist(const struct knn *m, const double *q, size_t node)
{
    const double *lo = m->lower + node * m->p, *hi = m->upper + node * m->p;
    double a[4] = {0.0, 0.0, 0.0, 0.0};
    for (size_t j = 0; j < m->p; j++) {
        double d = q[j] < lo[j] ? lo[j] - q[j] : (q[j] > hi[j] ? q[j] - hi[j] : 0.0);
        a[j & 3] += m->prm.metric == KNN_MANHATTAN ? d : d * d;
    }
    return sum4(a);
}

static void search(const struct knn *m, size_t node, const double *q, double bound, struct heap *h)
{
    if (h->len == h->k && bound > h->c[0].d)
        return;
    const struct kd_node *nd = &m->nodes[node];
    if (nd->left == NO_CHILD) {
        for (size_t r = nd->lo; r < nd->hi; r++) {
            struct cand cd = {.d = row_dist(m, q, m->tx + r * m->p), .i = m->order[r]};
            heap_offer(h, cd);
        }
        return;
    }
    double bl = box_dist(m, q, nd->left), br = box_dist(m, q, nd->right);
    size_t first = br < bl ? nd->right : nd->left, second = br < bl ? nd->left : nd->right;
    search(m, first, q, fmin(bl, br), h);
    search(m, second, q, fmax(bl, br), h);
}

static int by_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    return worse(x, y) - worse(y, x);
}

/* Sort the kept candidates nearest first and turn reduced distances into distances. */
static void finish_neighbours(const struct knn *m, struct heap *h)
{
    qsort(h->c, h->len, sizeof *h->c, by_cand);
    if (m->prm.metric == KNN_EUCLIDEAN)
        for (size_t i = 0; i < h->len; i++)
            h->c[i].d = sqrt(h->c[i].d);
}

/* Brute force for queries [lo, hi) at once, training rows in cache-sized blocks: the same
 * distances and the same (distance, index) order as the tree search, so the same answer. */
static void brute_force_block(const struct knn *m, const struct ml_matrix *X, size_t lo, size_t hi,
                              struct heap *heaps)
{
    for (size_t b = 0; b < m->n; b += TRAIN_BLOCK) {
        size_t e = b + TRAIN_BLOCK < m->n ? b + TRAIN_BLOCK : m->n;
        for (size_t q = lo; q < hi; q++) {
            const double *qx = X->x + q * m->p;
            struct heap *h = &heaps[q - lo];
            for (size_t r = b; r < e; r++) {
                struct cand cd = {.d = row_dist(m, qx, m->tx + r * m->p), .i = m->order[r]};
                if (h->len < h->k || !(cd.d > h->c[0].d))
                    heap_offer(h, cd);
            }
        }
    }
}

/* scikit-learn's weights: uniform 1; distance 1/d, or 1 for the neighbours at distance 0
 * (and 0 for the others) when there are any. */
static void neighbour_weights(const struct knn *m, const struct heap *h, double *w)
{
    int zero = 0;
    for (size_t i = 0; i < h->len; i++)
        zero |= h->c[i].d == 0.0;
    for (size_t i = 0; i < h->len; i++) {
        if (m->prm.weights == KNN_UNIFORM)
            w[i] = 1.0;
        else if (zero)
            w[i] = h->c[i].d == 0.0 ? 1.0 : 0.0;
        else
            w[i] = 1.0 / h->c[i].d;
    }
}

static void class_proba(const struct knn *m, const struct heap *h, const double *w, double *proba)
{
    memset(proba, 0, m->nclasses * sizeof *proba);
    double total = 0.0;
    for (size_t i = 0; i < h->len; i++) {
        proba[(size_t)m->y[h->c[i].i]] += w[i];
        total += w[i];
    }
    for (size_t c = 0; c < m->nclasses; c++)
        proba[c] /= total;
}

static double regress(const struct knn *m, const struct heap *h, const double *w)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < h->len; i++) {
        num += w[i] * m->y[h->c[i].i];
        den += w[i];
    }
    return num / den;
}

enum query_mode { QUERY_NEIGHBOURS, QUERY_PROBA, QUERY_PREDICT };

struct query_job {
    const struct knn *m;
    const struct ml_matrix *X;
    enum query_mode mode;
    size_t *idx;
    double *dist, *out;
    size_t first_chunk; /* of the batch being answered */
    struct cand *cands; /* BATCH_CHUNKS * QUERY_CHUNK * k */
    double *scratch;    /* BATCH_CHUNKS * (k + nclasses) */
};

static void answer(const struct query_job *job, size_t row, const struct heap *h, double *w)
{
    const struct knn *m = job->m;
    size_t k = m->prm.k;
    if (job->mode == QUERY_NEIGHBOURS) {
        for (size_t i = 0; i < k; i++) {
            job->idx[row * k + i] = h->c[i].i;
            job->dist[row * k + i] = h->c[i].d;
        }
        return;
    }
    neighbour_weights(m, h, w);
    if (job->mode == QUERY_PROBA) {
        class_proba(m, h, w, job->out + row * m->nclasses);
    } else if (m->task == ML_REGRESSION) {
        job->out[row] = regress(m, h, w);
    } else {
        double *proba = w + k;
        class_proba(m, h, w, proba);
        size_t best = 0;
        for (size_t c = 1; c < m->nclasses; c++)
            if (proba[c] > proba[best])
                best = c;
        job->out[row] = (double)best;
    }
}

static void chunk_query(void *ctx, size_t c)
{
    const struct query_job *job = ctx;
    const struct knn *m = job->m;
    size_t k = m->prm.k;
    struct heap heaps[QUERY_CHUNK];
    for (size_t i = 0; i < QUERY_CHUNK; i++)
        heaps[i] = (struct heap){.c = job->cands + (c * QUERY_CHUNK + i) * k, .len = 0, .k = k};
    double *w = job->scratch + c * (k + m->nclasses);
    size_t lo = (job->first_chunk + c) * QUERY_CHUNK;
    size_t hi = lo + QUERY_CHUNK < job->X->n ? lo + QUERY_CHUNK : job->X->n;
    if (m->p >= BRUTE_MIN_P)
        brute_force_block(m, job->X, lo, hi, heaps);
    for (size_t row = lo; row < hi; row++) {
        struct heap *h = &heaps[row - lo];
        if (m->p < BRUTE_MIN_P) {
            const double *q = job->X->x + row * m->p;
            search(m, 0, q, box_dist(m, q, 0), h);
        }
        finish_neighbours(m, h);
        answer(job, row, h, w);
    }
}

static int finite_matrix(const struct ml_matrix *X)
{
    for (size_t i = 0; i < X->n * X->p; i++)
        if (!isfinite(X->x[i]))
            return 0;
    return 1;
}

static int run_queries(struct query_job *job)
{
    const struct knn *m = job->m;
    const struct ml_matrix *X = job->X;
    if (!X || X->p != m->p || (X->n && !X->x) || !finite_matrix(X))
        return -EINVAL;
    if (X->n == 0)
        return 0;
    size_t nchunks = (X->n + QUERY_CHUNK - 1) / QUERY_CHUNK, k = m->prm.k;
    size_t batch = nchunks < BATCH_CHUNKS ? nchunks : BATCH_CHUNKS;
    job->cands = malloc(batch * QUERY_CHUNK * k * sizeof *job->cands);
    job->scratch = malloc(batch * (k + m->nclasses) * sizeof *job->scratch);
    int rc = job->cands && job->scratch ? 0 : -ENOMEM;
    int threads = mlpar_threads(NULL);
    for (size_t first = 0; rc == 0 && first < nchunks; first += batch) {
        job->first_chunk = first;
        mlpar_run(threads, nchunks - first < batch ? nchunks - first : batch, chunk_query, job);
    }
    free(job->cands);
    free(job->scratch);
    return rc;
}

int knn_kneighbors(const struct knn *m, const struct ml_matrix *X, size_t *idx, double *dist)
{
    if (!m || !idx || !dist)
        return -EINVAL;
    struct query_job job = {.m = m, .X = X, .mode = QUERY_NEIGHBOURS, .idx = idx, .dist = dist};
    return run_queries(&job);
}

int knn_predict_proba(const struct knn *m, const struct ml_matrix *X, double *proba)
{
    if (!m || !proba || m->task != ML_CLASSIFICATION)
        return -EINVAL;
    struct query_job job = {.m = m, .X = X, .mode = QUERY_PROBA, .out = proba};
    return run_queries(&job);
}

int knn_predict(const struct knn *m, const struct ml_matrix *X, double *out)
{
    if (!m || !out)
        return -EINVAL;
    struct query_job job = {.m = m, .X = X, .mode = QUERY_PREDICT, .out = out};
    return run_queries(&job);
}

size_t knn_nfeatures(const struct knn *m)
{
    return m->p;
}

size_t knn_nclasses(const struct knn *m)
{
    return m->nclasses;
}

enum ml_task knn_task(const struct knn *m)
{
    return m->task;
}

/* ---- fitting, saving, loading ------------------------------------------------------ */

static int params_valid(const struct knn_params *prm)
{
    return prm && prm->k >= 1 && prm->leaf_size >= 1 &&
           (prm->weights == KNN_UNIFORM || prm->weights == KNN_DISTANCE) &&
           (prm->metric == KNN_EUCLIDEAN || prm->metric == KNN_MANHATTAN);
}

static int targets_valid(enum ml_task task, const double *y, size_t n, size_t nclasses)
{
    if (task != ML_CLASSIFICATION && task != ML_REGRESSION)
        return 0;
    if (task == ML_CLASSIFICATION && (nclasses < 2 || nclasses > MAX_CLASSES))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i]))
            return 0;
        if (task == ML_CLASSIFICATION &&
            !(y[i] >= 0 && y[i] < (double)nclasses && y[i] == floor(y[i])))
            return 0;
    }
    return 1;
}

/* A model over x (n x p) and y, both borrowed (copied into the tree). */
static int model_build(const struct knn_params *prm, enum ml_task task, size_t nclasses, size_t n,
                       size_t p, const double *x, const double *y, struct knn **out)
{
    struct knn *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->prm = *prm;
    m->task = task;
    m->nclasses = task == ML_CLASSIFICATION ? nclasses : 0;
    m->n = n;
    m->p = p;
    int rc = index_rows(m, x, y);
    if (rc) {
        knn_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int knn_fit(const struct knn_params *prm, enum ml_task task, const struct ml_matrix *X,
            const double *y, size_t nclasses, const struct ml_control *ctl, struct knn **out)
{
    if (!out || !params_valid(prm) || !X || !X->x || !y || X->n == 0 || X->p == 0 ||
        X->n > SIZE_MAX / sizeof(double) / X->p || prm->k > X->n || !finite_matrix(X) ||
        !targets_valid(task, y, X->n, nclasses))
        return -EINVAL;
    if (mlpar_cancelled(ctl))
        return -ECANCELED;
    int rc = model_build(prm, task, nclasses, X->n, X->p, X->x, y, out);
    if (rc == 0)
        mlpar_progress(ctl, 1, 1);
    return rc;
}

int knn_save(const struct knn *m, struct buf *b)
{
    if (!m || !b)
        return -EINVAL;
    size_t *pos = malloc(m->n * sizeof *pos);
    if (!pos)
        return -ENOMEM;
    for (size_t r = 0; r < m->n; r++)
        pos[m->order[r]] = r;
    struct mlenc_writer w;
    mlenc_begin(&w, b, MAGIC, FORMAT_VERSION);
    mlenc_put_u64(&w, m->prm.k);
    mlenc_put_u32(&w, (uint32_t)m->prm.weights);
    mlenc_put_u32(&w, (uint32_t)m->prm.metric);
    mlenc_put_u64(&w, m->prm.leaf_size);
    mlenc_put_u32(&w, (uint32_t)m->task);
    mlenc_put_u64(&w, m->nclasses);
    mlenc_put_u64(&w, m->n);
    mlenc_put_u64(&w, m->p);
    for (size_t i = 0; i < m->n && !w.err; i++)
        mlenc_put_f64s(&w, m->tx + pos[i] * m->p, m->p);
    mlenc_put_f64s(&w, m->y, m->n);
    free(pos);
    return mlenc_end(&w);
}

static void read_header(struct mlenc_reader *r, struct knn_params *prm, uint32_t *task,
                        size_t *nclasses, size_t *n, size_t *p)
{
    prm->k = mlenc_get_count(r, 1, SIZE_MAX, 0);
    uint32_t weights = mlenc_get_u32(r), metric = mlenc_get_u32(r);
    prm->leaf_size = mlenc_get_count(r, 1, SIZE_MAX, 0);
    prm->weights = weights == 1 ? KNN_DISTANCE : KNN_UNIFORM;
    prm->metric = metric == 1 ? KNN_MANHATTAN : KNN_EUCLIDEAN;
    *task = mlenc_get_u32(r);
    *nclasses = mlenc_get_count(r, 0, MAX_CLASSES, 0);
    *n = mlenc_get_count(r, 1, SIZE_MAX / sizeof(double), sizeof(double));
    *p = mlenc_get_count(r, 1, SIZE_MAX / sizeof(double), sizeof(double));
    if (weights > 1 || metric > 1 || prm->k > *n ||
        (*task != ML_CLASSIFICATION && *task != ML_REGRESSION) ||
        (*task == ML_REGRESSION && *nclasses != 0) ||
        (*p && *n > (r->len - r->pos) / sizeof(double) / (*p + 1)))
        mlenc_fail(r);
}

int knn_load(const void *data, size_t len, size_t *used, struct knn **out)
{
    struct mlenc_reader r;
    uint32_t version, task;
    size_t n_used, nclasses, n, p;
    if (!out || mlenc_open(&r, data, len, MAGIC, &version, &n_used) != 0 ||
        version != FORMAT_VERSION || (!used && n_used != len))
        return -EINVAL;
    struct knn_params prm;
    read_header(&r, &prm, &task, &nclasses, &n, &p);
    if (r.err)
        return -EINVAL;
    double *x = malloc(n * p * sizeof *x), *y = malloc(n * sizeof *y);
    int rc = x && y ? 0 : -ENOMEM;
    if (rc == 0) {
        mlenc_get_f64s(&r, x, n * p);
        mlenc_get_f64s(&r, y, n);
        struct ml_matrix X = {.x = x, .n = n, .p = p};
        if (mlenc_close(&r) != 0 || !finite_matrix(&X) ||
            !targets_valid((enum ml_task)task, y, n, nclasses))
            rc = -EINVAL;
    }
    if (rc == 0)
        rc = model_build(&prm, (enum ml_task)task, nclasses, n, p, x, y, out);
    if (rc == 0 && used)
        *used = n_used;
    free(x);
    free(y);
    return rc;
}
