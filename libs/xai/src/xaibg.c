/* xaibg: background sets for SHAP: every row, a seeded sample, or weighted k-means centroids. */
#include <ibx/mlrand.h>
#include <ibx/xai.h>

#include "xaiimpl.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KM_MAX_ROUNDS 100
#define KM_MAX_ROWS   20000 /* k-means runs on a seeded sample of larger sets */

void xai_background_release(struct xai_background *b)
{
    if (!b)
        return;
    free(b->x);
    free(b->w);
    memset(b, 0, sizeof *b);
}

static int bg_alloc(struct xai_background *b, size_t n, size_t p)
{
    size_t cells = xai_mul(n, p);
    if (cells == SIZE_MAX)
        return -ENOMEM;
    b->x = malloc((cells ? cells : 1) * sizeof *b->x);
    b->w = malloc((n ? n : 1) * sizeof *b->w);
    if (!b->x || !b->w) {
        xai_background_release(b);
        return -ENOMEM;
    }
    b->n = n;
    b->p = p;
    return 0;
}

static int bg_check(const struct ml_matrix *data)
{
    return data && data->x && data->n > 0 && data->p > 0 ? 0 : -EINVAL;
}

/* Rows idx[0..n) of data, equal weights. */
static int bg_rows(const struct ml_matrix *data, const size_t *idx, size_t n,
                   struct xai_background *out)
{
    struct xai_background b = {0};
    int rc = bg_alloc(&b, n, data->p);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        size_t r = idx ? idx[i] : i;
        memcpy(b.x + i * data->p, data->x + r * data->p, data->p * sizeof *b.x);
        b.w[i] = 1.0 / (double)n;
    }
    *out = b;
    return 0;
}

int xai_background_all(const struct ml_matrix *data, struct xai_background *out)
{
    int rc = bg_check(data);
    return rc ? rc : out ? bg_rows(data, NULL, data->n, out) : -EINVAL;
}

/* size distinct row indices of [0, n), sorted (all of them when n <= size). */
static size_t *sample_rows(size_t n, size_t size, uint64_t seed, size_t *count)
{
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx)
        return NULL;
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    *count = n;
    if (n <= size)
        return idx;
    struct mlrand r;
    mlrand_seed(&r, seed);
    for (size_t i = 0; i < size; i++) { /* partial Fisher-Yates */
        size_t j = i + (size_t)mlrand_below(&r, n - i);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    for (size_t i = 1; i < size; i++) /* insertion sort keeps the data order */
        for (size_t j = i; j > 0 && idx[j - 1] > idx[j]; j--) {
            size_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    *count = size;
    return idx;
}

int xai_background_sample(const struct ml_matrix *data, size_t size, uint64_t seed,
                          struct xai_background *out)
{
    int rc = bg_check(data);
    if (rc || !out || size == 0)
        return rc ? rc : -EINVAL;
    size_t count = 0;
    size_t *idx = sample_rows(data->n, size, seed, &count);
    if (!idx)
        return -ENOMEM;
    rc = bg_rows(data, idx, count, out);
    free(idx);
    return rc;
}

/* ---- k-means ---- */

struct km {
    const double *x; /* n x p */
    size_t n, p, k;
    double *c;     /* k x p centroids */
    size_t *label; /* n */
    double *d2;    /* n: squared distance to the nearest centroid */
};

static double km_dist2(const double *a, const double *b, size_t p)
{
    double s = 0.0;
    for (size_t f = 0; f < p; f++)
        s += (a[f] - b[f]) * (a[f] - b[f]);
    return s;
}

/* k-means++: the first centre uniformly, then each with probability proportional to the
 * squared distance to the nearest centre so far. */
static void km_seed(struct km *m, struct mlrand *r)
{
    size_t first = (size_t)mlrand_below(r, m->n);
    memcpy(m->c, m->x + first * m->p, m->p * sizeof *m->c);
    for (size_t i = 0; i < m->n; i++)
        m->d2[i] = km_dist2(m->x + i * m->p, m->c, m->p);
    for (size_t c = 1; c < m->k; c++) {
        double total = 0.0;
        for (size_t i = 0; i < m->n; i++)
            total += m->d2[i];
        size_t pick = (size_t)mlrand_below(r, m->n);
        if (total > 0.0) {
            double u = mlrand_uniform(r) * total, acc = 0.0;
            for (pick = 0; pick + 1 < m->n; pick++) {
                acc += m->d2[pick];
                if (acc > u)
                    break;
            }
        }
        double *cc = m->c + c * m->p;
        memcpy(cc, m->x + pick * m->p, m->p * sizeof *cc);
        for (size_t i = 0; i < m->n; i++) {
            double d = km_dist2(m->x + i * m->p, cc, m->p);
            m->d2[i] = d < m->d2[i] ? d : m->d2[i];
        }
    }
}

/* Assign every row to its nearest centroid (ties to the lowest); the rows that moved. */
static size_t km_assign(struct km *m, int first)
{
    size_t moved = 0;
    for (size_t i = 0; i < m->n; i++) {
        size_t best = 0;
        double bd = DBL_MAX;
        for (size_t c = 0; c < m->k; c++) {
            double d = km_dist2(m->x + i * m->p, m->c + c * m->p, m->p);
            if (d < bd) {
                bd = d;
                best = c;
            }
        }
        moved += first || best != m->label[i];
        m->label[i] = best;
    }
    return moved;
}

/* Centroids as the means of their rows (an empty cluster keeps its centre). */
static void km_update(struct km *m, double *count)
{
    memset(count, 0, m->k * sizeof *count);
    for (size_t i = 0; i < m->n; i++)
        count[m->label[i]] += 1.0;
    for (size_t c = 0; c < m->k; c++)
        if (count[c] > 0.0)
            memset(m->c + c * m->p, 0, m->p * sizeof *m->c);
    for (size_t i = 0; i < m->n; i++)
        for (size_t f = 0; f < m->p; f++)
            m->c[m->label[i] * m->p + f] += m->x[i * m->p + f];
    for (size_t c = 0; c < m->k; c++)
        for (size_t f = 0; count[c] > 0.0 && f < m->p; f++)
            m->c[c * m->p + f] /= count[c];
}

/* Each centroid coordinate becomes the nearest value the column takes (shap.kmeans). */
static int km_round(struct km *m)
{
    double *col = malloc(m->n * sizeof *col);
    if (!col)
        return -ENOMEM;
    for (size_t f = 0; f < m->p; f++) {
        for (size_t i = 0; i < m->n; i++)
            col[i] = m->x[i * m->p + f];
        xai_sort_doubles(col, m->n);
        for (size_t c = 0; c < m->k; c++) {
            double v = m->c[c * m->p + f];
            size_t lo = 0, hi = m->n; /* first value >= v */
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (col[mid] < v)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            double best = lo < m->n ? col[lo] : col[m->n - 1];
            if (lo > 0 && (lo == m->n || v - col[lo - 1] <= col[lo] - v))
                best = col[lo - 1];
            m->c[c * m->p + f] = best;
        }
    }
    free(col);
    return 0;
}

static int km_run(struct km *m, uint64_t seed, double *count)
{
    struct mlrand r;
    mlrand_seed(&r, seed);
    km_seed(m, &r);
    km_assign(m, 1);
    for (int round = 0; round < KM_MAX_ROUNDS; round++) {
        km_update(m, count);
        if (km_assign(m, 0) == 0)
            break;
    }
    km_update(m, count); /* the counts of the final assignment */
    return km_round(m);
}

int xai_background_kmeans(const struct ml_matrix *data, size_t size, uint64_t seed,
                          struct xai_background *out)
{
    int rc = bg_check(data);
    if (rc || !out || size == 0)
        return rc ? rc : -EINVAL;
    for (size_t i = 0; i < data->n * data->p; i++)
        if (!isfinite(data->x[i]))
            return -EINVAL;
    if (data->n <= size)
        return bg_rows(data, NULL, data->n, out);
    size_t used = 0;
    size_t *idx = sample_rows(data->n, KM_MAX_ROWS, seed ^ 0x6b6d65616e73ULL, &used);
    struct km m = {.n = used, .p = data->p, .k = size};
    double *rows = idx ? malloc(xai_mul(used, data->p) * sizeof *rows) : NULL;
    double *count = malloc(size * sizeof *count);
    struct xai_background b = {0};
    m.label = calloc(used + 1, sizeof *m.label);
    m.d2 = calloc(used + 1, sizeof *m.d2);
    rc = rows && count && m.label && m.d2 ? bg_alloc(&b, size, data->p) : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < used; i++)
        memcpy(rows + i * data->p, data->x + idx[i] * data->p, data->p * sizeof *rows);
    m.x = rows;
    m.c = b.x;
    rc = rc ? rc : km_run(&m, seed, count);
    for (size_t c = 0; rc == 0 && c < size; c++)
        b.w[c] = count[c] / (double)used;
    free(idx);
    free(rows);
    free(count);
    free(m.label);
    free(m.d2);
    if (rc) {
        xai_background_release(&b);
        return rc;
    }
    *out = b;
    return 0;
}
