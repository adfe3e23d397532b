/* linreg: least squares and ridge via the normal equations (Cholesky, eigen fallback). */
#include <ibx/linreg.h>
#include <ibx/mlenc.h>
#include <ibx/mlpar.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_ROWS     1024
#define MAX_CHUNKS     64
#define SCRATCH_LIMIT  (1u << 22) /* doubles of per-chunk Gram scratch in all */
#define PIVOT_REL      1e-13
#define EIGEN_REL      1e-13
#define JACOBI_SWEEPS  100
#define PAR_MIN_WORK   1000000 /* n * p * p below which one thread does it all */
#define FORMAT_VERSION 1

static const char MAGIC[] = "IBXLINRG";

struct linreg {
    struct linreg_params prm;
    size_t p;
    double *coef;
    double intercept;
    int fallback;
};

void linreg_params_default(struct linreg_params *prm)
{
    prm->alpha = 0.0;
    prm->fit_intercept = 1;
}

/* Accumulation of the centred Gram matrix (upper triangle) and X^T y in row chunks. */
struct gram_job {
    const struct ml_matrix *X;
    const double *y;
    const double *xmean; /* p */
    double ymean;
    size_t nchunks, rows_per_chunk, slot;
    double *scratch; /* nchunks * slot: p * p Gram, p right-hand side, p centred row */
};

static void chunk_gram(void *ctx, size_t c)
{
    const struct gram_job *job = ctx;
    size_t p = job->X->p;
    double *g = job->scratch + c * job->slot, *b = g + p * p, *xc = b + p;
    memset(g, 0, (p * p + p) * sizeof *g);
    size_t lo = c * job->rows_per_chunk;
    size_t hi = lo + job->rows_per_chunk < job->X->n ? lo + job->rows_per_chunk : job->X->n;
    for (size_t i = lo; i < hi; i++) {
        const double *xi = job->X->x + i * p;
        double yc = job->y[i] - job->ymean;
        for (size_t j = 0; j < p; j++)
            xc[j] = xi[j] - job->xmean[j];
        for (size_t j = 0; j < p; j++) {
            double *gj = g + j * p;
            for (size_t k = j; k < p; k++)
                gj[k] += xc[j] * xc[k];
            b[j] += xc[j] * yc;
        }
    }
}

static void column_means(const struct ml_matrix *X, const double *y, int center, double *xmean,
                         double *ymean)
{
    memset(xmean, 0, X->p * sizeof *xmean);
    *ymean = 0.0;
    if (!center)
        return;
    for (size_t i = 0; i < X->n; i++) {
        for (size_t j = 0; j < X->p; j++)
            xmean[j] += X->x[i * X->p + j];
        *ymean += y[i];
    }
    for (size_t j = 0; j < X->p; j++)
        xmean[j] /= (double)X->n;
    *ymean /= (double)X->n;
}

/* g: the full symmetric Gram matrix plus alpha on the diagonal; b: X^T y (centred). */
static int normal_equations(const struct ml_matrix *X, const double *y, const double *xmean,
                            double ymean, double alpha, const struct ml_control *ctl, double *g,
                            double *b)
{
    size_t p = X->p, slot = p * p + 2 * p;
    size_t want = (X->n + CHUNK_ROWS - 1) / CHUNK_ROWS;
    size_t cap = SCRATCH_LIMIT / slot ? SCRATCH_LIMIT / slot : 1;
    size_t nchunks = want < MAX_CHUNKS ? want : MAX_CHUNKS;
    nchunks = nchunks < cap ? nchunks : cap;
    struct gram_job job = {.X = X, .y = y, .xmean = xmean, .ymean = ymean, .slot = slot};
    job.nchunks = nchunks;
    job.rows_per_chunk = (X->n + nchunks - 1) / nchunks;
    job.scratch = malloc(nchunks * slot * sizeof *job.scratch);
    if (!job.scratch)
        return -ENOMEM;
    double work = (double)X->n * (double)p * (double)p;
    mlpar_run(work < PAR_MIN_WORK ? 1 : mlpar_threads(ctl), nchunks, chunk_gram, &job);
    memset(g, 0, p * p * sizeof *g);
    memset(b, 0, p * sizeof *b);
    for (size_t c = 0; c < nchunks; c++) {
        const double *gc = job.scratch + c * slot;
        for (size_t j = 0; j < p * p; j++)
            g[j] += gc[j];
        for (size_t j = 0; j < p; j++)
            b[j] += gc[p * p + j];
    }
    free(job.scratch);
    for (size_t j = 0; j < p; j++) {
        g[j * p + j] += alpha;
        for (size_t k = 0; k < j; k++)
            g[j * p + k] = g[k * p + j];
    }
    return 0;
}

/* In-place Cholesky (lower triangle of a). -1 when a pivot is not clearly positive. */
static int cholesky(double *a, size_t p)
{
    for (size_t j = 0; j < p; j++) {
        double diag = a[j * p + j], d = diag;
        for (size_t k = 0; k < j; k++)
            d -= a[j * p + k] * a[j * p + k];
        if (!(d > PIVOT_REL * diag))
            return -1;
        double l = sqrt(d);
        a[j * p + j] = l;
        for (size_t i = j + 1; i < p; i++) {
            double s = a[i * p + j];
            for (size_t k = 0; k < j; k++)
                s -= a[i * p + k] * a[j * p + k];
            a[i * p + j] = s / l;
        }
    }
    return 0;
}

static void cholesky_solve(const double *l, size_t p, const double *b, double *w)
{
    for (size_t i = 0; i < p; i++) {
        double s = b[i];
        for (size_t k = 0; k < i; k++)
            s -= l[i * p + k] * w[k];
        w[i] = s / l[i * p + i];
    }
    for (size_t i = p; i-- > 0;) {
        double s = w[i];
        for (size_t k = i + 1; k < p; k++)
            s -= l[k * p + i] * w[k];
        w[i] = s / l[i * p + i];
    }
}

/* One Jacobi rotation zeroing a[i][j] (i < j); v collects the rotations. */
static void jacobi_rotate(double *a, double *v, size_t p, size_t i, size_t j)
{
    double theta = (a[j * p + j] - a[i * p + i]) / (2.0 * a[i * p + j]);
    double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
    double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
    for (size_t k = 0; k < p; k++) {
        double aki = a[k * p + i], akj = a[k * p + j];
        a[k * p + i] = c * aki - s * akj;
        a[k * p + j] = s * aki + c * akj;
    }
    for (size_t k = 0; k < p; k++) {
        double aik = a[i * p + k], ajk = a[j * p + k];
        a[i * p + k] = c * aik - s * ajk;
        a[j * p + k] = s * aik + c * ajk;
        double vki = v[k * p + i], vkj = v[k * p + j];
        v[k * p + i] = c * vki - s * vkj;
        v[k * p + j] = s * vki + c * vkj;
    }
    a[i * p + j] = a[j * p + i] = 0.0;
}

static double off_diagonal(const double *a, size_t p, double *diag_sq)
{
    double off = 0.0;
    *diag_sq = 0.0;
    for (size_t i = 0; i < p; i++) {
        *diag_sq += a[i * p + i] * a[i * p + i];
        for (size_t j = i + 1; j < p; j++)
            off += a[i * p + j] * a[i * p + j];
    }
    return off;
}

/* Cyclic Jacobi: a becomes diagonal (its eigenvalues), v its eigenvectors (columns). */
static void jacobi_eigen(double *a, double *v, size_t p)
{
    for (size_t i = 0; i < p * p; i++)
        v[i] = 0.0;
    for (size_t i = 0; i < p; i++)
        v[i * p + i] = 1.0;
    for (int sweep = 0; sweep < JACOBI_SWEEPS; sweep++) {
        double diag_sq, off = off_diagonal(a, p, &diag_sq);
        if (!(off > 1e-30 * diag_sq))
            break;
        for (size_t i = 0; i < p; i++)
            for (size_t j = i + 1; j < p; j++)
                if (a[i * p + j] != 0.0)
                    jacobi_rotate(a, v, p, i, j);
    }
}

/* Minimum-norm solution of g w = b from the eigendecomposition (g is destroyed). */
static int eigen_solve(double *g, size_t p, const double *b, double *w)
{
    double *v = malloc(p * p * sizeof *v);
    if (!v)
        return -ENOMEM;
    jacobi_eigen(g, v, p);
    double top = 0.0;
    for (size_t i = 0; i < p; i++)
        top = fmax(top, fabs(g[i * p + i]));
    memset(w, 0, p * sizeof *w);
    for (size_t e = 0; e < p; e++) {
        double lambda = g[e * p + e];
        if (!(lambda > EIGEN_REL * top))
            continue;
        double proj = 0.0;
        for (size_t k = 0; k < p; k++)
            proj += v[k * p + e] * b[k];
        for (size_t k = 0; k < p; k++)
            w[k] += v[k * p + e] * proj / lambda;
    }
    free(v);
    return 0;
}

static int inputs_valid(const struct linreg_params *prm, const struct ml_matrix *X, const double *y)
{
    if (!prm || !(prm->alpha >= 0 && isfinite(prm->alpha)) ||
        (prm->fit_intercept != 0 && prm->fit_intercept != 1) || !X || !X->x || !y || X->n == 0 ||
        X->p == 0 || X->p > SIZE_MAX / sizeof(double) / X->p ||
        X->n > SIZE_MAX / sizeof(double) / X->p)
        return 0;
    for (size_t i = 0; i < X->n * X->p; i++)
        if (!isfinite(X->x[i]))
            return 0;
    for (size_t i = 0; i < X->n; i++)
        if (!isfinite(y[i]))
            return 0;
    return 1;
}

static struct linreg *model_new(const struct linreg_params *prm, size_t p)
{
    struct linreg *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->prm = *prm;
    m->p = p;
    m->coef = calloc(p, sizeof *m->coef);
    if (!m->coef) {
        free(m);
        return NULL;
    }
    return m;
}

/* Solve g w = b: Cholesky, or the eigen fallback when g is (nearly) singular. */
static int solve_system(double *g, size_t p, const double *b, double *w, int *fallback)
{
    double *l = malloc(p * p * sizeof *l);
    if (!l)
        return -ENOMEM;
    memcpy(l, g, p * p * sizeof *l);
    int rc = 0;
    *fallback = cholesky(l, p) != 0;
    if (*fallback)
        rc = eigen_solve(g, p, b, w);
    else
        cholesky_solve(l, p, b, w);
    free(l);
    return rc;
}

int linreg_fit(const struct linreg_params *prm, const struct ml_matrix *X, const double *y,
               const struct ml_control *ctl, struct linreg **out)
{
    if (!out || !inputs_valid(prm, X, y))
        return -EINVAL;
    if (mlpar_cancelled(ctl))
        return -ECANCELED;
    size_t p = X->p;
    struct linreg *m = model_new(prm, p);
    double *g = malloc(p * p * sizeof *g), *b = malloc(2 * p * sizeof *b);
    int rc = -ENOMEM;
    if (!m || !g || !b)
        goto out;
    double *xmean = b + p, ymean;
    column_means(X, y, prm->fit_intercept, xmean, &ymean);
    rc = normal_equations(X, y, xmean, ymean, prm->alpha, ctl, g, b);
    if (rc == 0 && mlpar_cancelled(ctl))
        rc = -ECANCELED;
    if (rc == 0)
        rc = solve_system(g, p, b, m->coef, &m->fallback);
    if (rc == 0) {
        double dot = 0.0;
        for (size_t j = 0; j < p; j++)
            dot += xmean[j] * m->coef[j];
        m->intercept = ymean - dot;
        mlpar_progress(ctl, 1, 1);
        *out = m;
        m = NULL;
    }
out:
    linreg_free(m);
    free(g);
    free(b);
    return rc;
}

void linreg_free(struct linreg *m)
{
    if (!m)
        return;
    free(m->coef);
    free(m);
}

int linreg_predict(const struct linreg *m, const struct ml_matrix *X, double *out)
{
    if (!m || !X || !out || X->p != m->p || (X->n && !X->x))
        return -EINVAL;
    for (size_t i = 0; i < X->n; i++) {
        const double *xi = X->x + i * m->p;
        double s = m->intercept;
        for (size_t j = 0; j < m->p; j++)
            s += xi[j] * m->coef[j];
        out[i] = s;
    }
    return 0;
}

void linreg_importance(const struct linreg *m, double *out)
{
    for (size_t j = 0; j < m->p; j++)
        out[j] = fabs(m->coef[j]);
}

size_t linreg_nfeatures(const struct linreg *m)
{
    return m->p;
}

const double *linreg_coef(const struct linreg *m)
{
    return m->coef;
}

double linreg_intercept(const struct linreg *m)
{
    return m->intercept;
}

int linreg_used_fallback(const struct linreg *m)
{
    return m->fallback;
}

int linreg_save(const struct linreg *m, struct buf *b)
{
    if (!m || !b)
        return -EINVAL;
    struct mlenc_writer w;
    mlenc_begin(&w, b, MAGIC, FORMAT_VERSION);
    mlenc_put_f64(&w, m->prm.alpha);
    mlenc_put_u32(&w, (uint32_t)m->prm.fit_intercept);
    mlenc_put_u32(&w, (uint32_t)m->fallback);
    mlenc_put_u64(&w, m->p);
    mlenc_put_f64s(&w, m->coef, m->p);
    mlenc_put_f64(&w, m->intercept);
    return mlenc_end(&w);
}

int linreg_load(const void *data, size_t len, size_t *used, struct linreg **out)
{
    struct mlenc_reader r;
    uint32_t version;
    size_t n_used;
    if (!out || mlenc_open(&r, data, len, MAGIC, &version, &n_used) != 0 ||
        version != FORMAT_VERSION || (!used && n_used != len))
        return -EINVAL;
    struct linreg_params prm;
    prm.alpha = mlenc_get_finite(&r);
    uint32_t fit_intercept = mlenc_get_u32(&r), fallback = mlenc_get_u32(&r);
    size_t p = mlenc_get_count(&r, 1, SIZE_MAX / sizeof(double), sizeof(double));
    prm.fit_intercept = (int)(fit_intercept & 1);
    if (r.err || !(prm.alpha >= 0) || fit_intercept > 1 || fallback > 1)
        return -EINVAL;
    struct linreg *m = model_new(&prm, p);
    if (!m)
        return -ENOMEM;
    m->fallback = (int)fallback;
    for (size_t j = 0; j < p; j++)
        m->coef[j] = mlenc_get_finite(&r);
    m->intercept = mlenc_get_finite(&r);
    if (mlenc_close(&r) != 0) {
        linreg_free(m);
        return -EINVAL;
    }
    if (used)
        *used = n_used;
    *out = m;
    return 0;
}
