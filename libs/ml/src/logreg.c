/* logreg: logistic regression fitted by L-BFGS or Newton-CG on an L2-penalised log loss. */
#include <ibx/logreg.h>
#include <ibx/mlenc.h>
#include <ibx/mlpar.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_ROWS     2048
#define LBFGS_M        10
#define MAX_LINESEARCH 50
#define CG_MAX_INNER   200
#define PAR_MIN_WORK   100000 /* n * p * rows below which one thread does it all */
#define MAX_CLASSES    65536
#define FORMAT_VERSION 1
#define FTOL           (64.0 * DBL_EPSILON)

static const char MAGIC[] = "IBXLOGRG";

struct logreg {
    struct logreg_params prm;
    size_t p, nclasses, rows;
    double *coef;      /* rows * p */
    double *intercept; /* rows */
    int iterations;
    int converged;
};

/* The optimisation problem. A parameter vector holds, for each coefficient row k, the p
 * weights followed by the intercept: w[k * (p + 1) + j]. */
struct problem {
    const double *x;
    size_t n, p, rows, dim;
    const uint32_t *y;
    double inv_n, l2; /* l2 = 1 / (C n) */
    int fit_intercept;
    int threads;
    size_t nchunks, slot; /* slot: dim gradient + 1 loss + rows scores per chunk */
    double *scratch;      /* nchunks * slot */
    double *cache;        /* n * rows: s(1 - s) when binary, probabilities otherwise */
    const double *w;      /* the point a chunk pass evaluates */
    const double *v;      /* the direction of a Hessian-vector pass */
};

struct solver_state {
    double *x, *g, *xn, *gn, *d; /* dim each */
    double f;
    int iterations;
    int converged;
};

void logreg_params_default(struct logreg_params *prm)
{
    prm->C = 1.0;
    prm->solver = LOGREG_LBFGS;
    prm->tol = 1e-4;
    prm->max_iter = 100;
    prm->fit_intercept = 1;
}

/* Four independent partial sums (a fixed order, so results stay reproducible) keep the
 * adder pipeline busy: this dot product is most of the fitting time. */
static double dot(const double *a, const double *b, size_t n)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static double max_abs(const double *a, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

static void axpy(double *out, const double *x, double t, const double *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = x[i] + t * d[i];
}

/* z[k] = intercept_k + x_i . w_k for every coefficient row. */
static void row_scores(const struct problem *pr, const double *xi, const double *w, double *z)
{
    size_t p = pr->p;
    for (size_t k = 0; k < pr->rows; k++) {
        const double *wk = w + k * (p + 1);
        z[k] = wk[p] + dot(xi, wk, p);
    }
}

static void add_scaled_row(double *acc, const double *xi, size_t p, double d)
{
    for (size_t j = 0; j < p; j++)
        acc[j] += d * xi[j];
    acc[p] += d;
}

static double sigmoid(double z)
{
    if (z >= 0)
        return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* Softmax of z[0..k) in place; returns log(sum(exp(z))). */
static double softmax(double *z, size_t k)
{
    double mx = z[0];
    for (size_t c = 1; c < k; c++)
        mx = fmax(mx, z[c]);
    z[0] = exp(z[0] - mx);
    double sum = z[0];
    for (size_t c = 1; c < k; c++) {
        z[c] = exp(z[c] - mx);
        sum += z[c];
    }
    for (size_t c = 0; c < k; c++)
        z[c] /= sum;
    return mx + log(sum);
}

/* Loss of row i with scores z; adds its gradient to acc and fills the cache. */
static double row_loss_grad(const struct problem *pr, size_t i, double *z, double *acc)
{
    const double *xi = pr->x + i * pr->p;
    size_t p = pr->p;
    uint32_t yi = pr->y[i];
    if (pr->rows == 1) {
        double e = exp(-fabs(z[0])); /* one exp gives both the sigmoid and the softplus */
        double s = z[0] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
        pr->cache[i] = s * (1.0 - s);
        add_scaled_row(acc, xi, p, s - (double)yi);
        return fmax(z[0], 0.0) + log1p(e) - (yi ? z[0] : 0.0);
    }
    double zy = z[yi];
    double lse = softmax(z, pr->rows);
    for (size_t k = 0; k < pr->rows; k++) {
        pr->cache[i * pr->rows + k] = z[k];
        add_scaled_row(acc + k * (p + 1), xi, p, z[k] - (k == yi ? 1.0 : 0.0));
    }
    return lse - zy;
}

static void chunk_loss_grad(void *ctx, size_t c)
{
    const struct problem *pr = ctx;
    double *acc = pr->scratch + c * pr->slot;
    double *z = acc + pr->dim + 1;
    memset(acc, 0, (pr->dim + 1) * sizeof *acc);
    size_t lo = c * CHUNK_ROWS;
    size_t hi = lo + CHUNK_ROWS < pr->n ? lo + CHUNK_ROWS : pr->n;
    double loss = 0.0;
    for (size_t i = lo; i < hi; i++) {
        row_scores(pr, pr->x + i * pr->p, pr->w, z);
        loss += row_loss_grad(pr, i, z, acc);
    }
    acc[pr->dim] = loss;
}

/* Add the penalty to the summed chunk results in g (scaled by 1/n); returns the loss. */
static double reduce_chunks(const struct problem *pr, const double *w, double *g)
{
    memset(g, 0, pr->dim * sizeof *g);
    double f = 0.0;
    for (size_t c = 0; c < pr->nchunks; c++) {
        const double *acc = pr->scratch + c * pr->slot;
        for (size_t j = 0; j < pr->dim; j++)
            g[j] += acc[j];
        f += acc[pr->dim];
    }
    f *= pr->inv_n;
    double pen = 0.0;
    for (size_t k = 0; k < pr->rows; k++) {
        size_t base = k * (pr->p + 1);
        for (size_t j = 0; j < pr->p; j++) {
            g[base + j] = g[base + j] * pr->inv_n + pr->l2 * w[base + j];
            pen += w[base + j] * w[base + j];
        }
        g[base + pr->p] = pr->fit_intercept ? g[base + pr->p] * pr->inv_n : 0.0;
    }
    return f + 0.5 * pr->l2 * pen;
}

/* Objective at w; gradient into g; the cache then describes w. */
static double eval_loss_grad(struct problem *pr, const double *w, double *g)
{
    pr->w = w;
    mlpar_run(pr->threads, pr->nchunks, chunk_loss_grad, pr);
    return reduce_chunks(pr, w, g);
}

static void chunk_hessvec(void *ctx, size_t c)
{
    const struct problem *pr = ctx;
    double *acc = pr->scratch + c * pr->slot;
    double *u = acc + pr->dim + 1;
    memset(acc, 0, pr->dim * sizeof *acc);
    size_t lo = c * CHUNK_ROWS;
    size_t hi = lo + CHUNK_ROWS < pr->n ? lo + CHUNK_ROWS : pr->n;
    size_t p = pr->p, rows = pr->rows;
    for (size_t i = lo; i < hi; i++) {
        const double *xi = pr->x + i * p;
        row_scores(pr, xi, pr->v, u);
        if (rows == 1) {
            add_scaled_row(acc, xi, p, pr->cache[i] * u[0]);
            continue;
        }
        const double *pi = pr->cache + i * rows;
        double pu = dot(pi, u, rows);
        for (size_t k = 0; k < rows; k++)
            add_scaled_row(acc + k * (p + 1), xi, p, pi[k] * (u[k] - pu));
    }
}

/* hv = H v at the point the cache describes. */
static void hessvec(struct problem *pr, const double *v, double *hv)
{
    pr->v = v;
    mlpar_run(pr->threads, pr->nchunks, chunk_hessvec, pr);
    memset(hv, 0, pr->dim * sizeof *hv);
    for (size_t c = 0; c < pr->nchunks; c++) {
        const double *acc = pr->scratch + c * pr->slot;
        for (size_t j = 0; j < pr->dim; j++)
            hv[j] += acc[j];
    }
    for (size_t k = 0; k < pr->rows; k++) {
        size_t base = k * (pr->p + 1);
        for (size_t j = 0; j < pr->p; j++)
            hv[base + j] = hv[base + j] * pr->inv_n + pr->l2 * v[base + j];
        hv[base + pr->p] = pr->fit_intercept ? hv[base + pr->p] * pr->inv_n : 0.0;
    }
}

/* Backtracking Armijo search from step t along d: on success st->xn, st->gn and *fn hold the
 * accepted point (and the cache describes it). -1 when d is not a descent direction or no
 * step decreased the objective. */
static int line_search(struct problem *pr, struct solver_state *st, double t, double *fn)
{
    double gd = dot(st->g, st->d, pr->dim);
    if (!(gd < 0.0))
        return -1;
    for (int ls = 0; ls < MAX_LINESEARCH; ls++, t *= 0.5) {
        axpy(st->xn, st->x, t, st->d, pr->dim);
        *fn = eval_loss_grad(pr, st->xn, st->gn);
        if (*fn <= st->f + 1e-4 * t * gd)
            return 0;
    }
    return -1;
}

/* Accept the line-search point: swap it in; returns 1 when the decrease was negligible. */
static int accept_step(struct solver_state *st, double fn)
{
    double *t = st->x;
    st->x = st->xn;
    st->xn = t;
    t = st->g;
    st->g = st->gn;
    st->gn = t;
    double scale = fmax(fmax(fabs(st->f), fabs(fn)), 1.0);
    int stalled = (st->f - fn) <= FTOL * scale;
    st->f = fn;
    return stalled;
}

struct lbfgs_hist {
    double *s, *y; /* LBFGS_M * dim each, circular */
    double rho[LBFGS_M];
    size_t count, next;
};

static void lbfgs_direction(const struct lbfgs_hist *h, size_t dim, const double *g, double *d)
{
    double alpha[LBFGS_M] = {0};
    memcpy(d, g, dim * sizeof *d);
    for (size_t i = 0; i < h->count; i++) {
        size_t k = (h->next + LBFGS_M - 1 - i) % LBFGS_M;
        alpha[k] = h->rho[k] * dot(h->s + k * dim, d, dim);
        axpy(d, d, -alpha[k], h->y + k * dim, dim);
    }
    if (h->count) {
        size_t k = (h->next + LBFGS_M - 1) % LBFGS_M;
        const double *yk = h->y + k * dim;
        double gamma = 1.0 / (h->rho[k] * dot(yk, yk, dim));
        for (size_t j = 0; j < dim; j++)
            d[j] *= gamma;
    }
    for (size_t i = h->count; i-- > 0;) {
        size_t k = (h->next + LBFGS_M - 1 - i) % LBFGS_M;
        double beta = h->rho[k] * dot(h->y + k * dim, d, dim);
        axpy(d, d, alpha[k] - beta, h->s + k * dim, dim);
    }
    for (size_t j = 0; j < dim; j++)
        d[j] = -d[j];
}

/* Remember the step just taken (st->x new, st->xn and st->gn the previous point). */
static void lbfgs_push(struct lbfgs_hist *h, size_t dim, const struct solver_state *st)
{
    double *s = h->s + h->next * dim;
    double *y = h->y + h->next * dim;
    for (size_t j = 0; j < dim; j++) {
        s[j] = st->x[j] - st->xn[j];
        y[j] = st->g[j] - st->gn[j];
    }
    double sy = dot(s, y, dim);
    if (!(sy > DBL_EPSILON * dot(y, y, dim)))
        return; /* no curvature information: keep the older pairs */
    h->rho[h->next] = 1.0 / sy;
    h->next = (h->next + 1) % LBFGS_M;
    if (h->count < LBFGS_M)
        h->count++;
}

static int run_lbfgs(struct problem *pr, const struct logreg_params *prm,
                     const struct ml_control *ctl, struct solver_state *st)
{
    struct lbfgs_hist h = {0};
    h.s = calloc(2 * LBFGS_M * pr->dim, sizeof *h.s);
    if (!h.s)
        return -ENOMEM;
    h.y = h.s + LBFGS_M * pr->dim;
    int rc = 0;
    st->f = eval_loss_grad(pr, st->x, st->g);
    while (!(st->converged = max_abs(st->g, pr->dim) <= prm->tol)) {
        if (st->iterations >= prm->max_iter)
            break;
        if (mlpar_cancelled(ctl)) {
            rc = -ECANCELED;
            break;
        }
        lbfgs_direction(&h, pr->dim, st->g, st->d);
        double t = h.count ? 1.0 : fmin(1.0, 1.0 / sqrt(dot(st->g, st->g, pr->dim)));
        double fn;
        if (line_search(pr, st, t, &fn) != 0) {
            if (h.count == 0)
                break; /* not even a gradient step helps: rounding-level optimum */
            h.count = 0;
            continue;
        }
        st->iterations++;
        int stalled = accept_step(st, fn);
        lbfgs_push(&h, pr->dim, st);
        mlpar_progress(ctl, (size_t)st->iterations, (size_t)prm->max_iter);
        if (stalled) {
            st->converged = 1;
            break;
        }
    }
    free(h.s);
    return rc;
}

/* Truncated CG for H d = -g (scikit-learn's _cg): stops when sum |residual| <= eta * |g|_1. */
static void newton_direction(struct problem *pr, const double *g, double *d, double *work)
{
    size_t dim = pr->dim;
    double *r = work, *q = work + dim, *hq = work + 2 * dim;
    double gnorm1 = 0.0;
    for (size_t j = 0; j < dim; j++)
        gnorm1 += fabs(g[j]);
    double term = fmin(0.5, sqrt(gnorm1)) * gnorm1;
    memset(d, 0, dim * sizeof *d);
    memcpy(r, g, dim * sizeof *r);
    for (size_t j = 0; j < dim; j++)
        q[j] = -r[j];
    double rr = dot(r, r, dim);
    for (int it = 0; it < CG_MAX_INNER; it++) {
        double rnorm1 = 0.0;
        for (size_t j = 0; j < dim; j++)
            rnorm1 += fabs(r[j]);
        if (rnorm1 <= term)
            break;
        hessvec(pr, q, hq);
        double curv = dot(q, hq, dim);
        if (!(curv > 3.0 * DBL_EPSILON * rr)) {
            if (it == 0)
                memcpy(d, q, dim * sizeof *d); /* no curvature: steepest descent */
            break;
        }
        double a = rr / curv;
        axpy(d, d, a, q, dim);
        axpy(r, r, a, hq, dim);
        double rr_new = dot(r, r, dim);
        for (size_t j = 0; j < dim; j++)
            q[j] = -r[j] + (rr_new / rr) * q[j];
        rr = rr_new;
    }
}

static int run_newton(struct problem *pr, const struct logreg_params *prm,
                      const struct ml_control *ctl, struct solver_state *st)
{
    double *work = malloc(3 * pr->dim * sizeof *work);
    if (!work)
        return -ENOMEM;
    int rc = 0;
    st->f = eval_loss_grad(pr, st->x, st->g);
    while (!(st->converged = max_abs(st->g, pr->dim) <= prm->tol)) {
        if (st->iterations >= prm->max_iter)
            break;
        if (mlpar_cancelled(ctl)) {
            rc = -ECANCELED;
            break;
        }
        newton_direction(pr, st->g, st->d, work);
        double fn;
        if (line_search(pr, st, 1.0, &fn) != 0)
            break;
        st->iterations++;
        int stalled = accept_step(st, fn);
        mlpar_progress(ctl, (size_t)st->iterations, (size_t)prm->max_iter);
        if (stalled) {
            st->converged = 1;
            break;
        }
    }
    free(work);
    return rc;
}

static int params_valid(const struct logreg_params *prm)
{
    return prm && isfinite(prm->C) && prm->C > 0 && isfinite(prm->tol) && prm->tol > 0 &&
           prm->max_iter >= 1 && (prm->solver == LOGREG_LBFGS || prm->solver == LOGREG_NEWTON_CG) &&
           (prm->fit_intercept == 0 || prm->fit_intercept == 1);
}

static int matrix_valid(const struct ml_matrix *X)
{
    if (!X || !X->x || X->n == 0 || X->p == 0 || X->n > SIZE_MAX / sizeof(double) / X->p)
        return 0;
    for (size_t i = 0; i < X->n * X->p; i++)
        if (!isfinite(X->x[i]))
            return 0;
    return 1;
}

/* Class indices as integers; -EINVAL for anything that is not one. */
static int labels_from(const double *y, size_t n, size_t nclasses, uint32_t **out)
{
    uint32_t *lab = malloc(n * sizeof *lab);
    if (!lab)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!(y[i] >= 0 && y[i] < (double)nclasses && y[i] == floor(y[i]))) {
            free(lab);
            return -EINVAL;
        }
        lab[i] = (uint32_t)y[i];
    }
    *out = lab;
    return 0;
}

static int problem_init(struct problem *pr, const struct ml_matrix *X, const uint32_t *lab,
                        size_t nclasses, const struct logreg_params *prm,
                        const struct ml_control *ctl)
{
    memset(pr, 0, sizeof *pr);
    pr->x = X->x;
    pr->n = X->n;
    pr->p = X->p;
    pr->rows = nclasses == 2 ? 1 : nclasses;
    pr->dim = pr->rows * (pr->p + 1);
    pr->y = lab;
    pr->inv_n = 1.0 / (double)X->n;
    pr->l2 = 1.0 / (prm->C * (double)X->n);
    pr->fit_intercept = prm->fit_intercept;
    pr->nchunks = (X->n + CHUNK_ROWS - 1) / CHUNK_ROWS;
    pr->slot = pr->dim + 1 + pr->rows;
    double work = (double)X->n * (double)X->p * (double)pr->rows;
    pr->threads = work < PAR_MIN_WORK ? 1 : mlpar_threads(ctl);
    pr->scratch = malloc(pr->nchunks * pr->slot * sizeof *pr->scratch);
    pr->cache = malloc(pr->n * pr->rows * sizeof *pr->cache);
    if (!pr->scratch || !pr->cache) {
        free(pr->scratch);
        free(pr->cache);
        return -ENOMEM;
    }
    return 0;
}

static struct logreg *model_new(const struct logreg_params *prm, size_t p, size_t nclasses)
{
    struct logreg *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->prm = *prm;
    m->p = p;
    m->nclasses = nclasses;
    m->rows = nclasses == 2 ? 1 : nclasses;
    m->coef = calloc(m->rows * p, sizeof *m->coef);
    m->intercept = calloc(m->rows, sizeof *m->intercept);
    if (!m->coef || !m->intercept) {
        logreg_free(m);
        return NULL;
    }
    return m;
}

/* Copy the solution into m; multinomial intercepts are centred (the loss ignores a shift). */
static void model_take(struct logreg *m, const double *w)
{
    double mean = 0.0;
    for (size_t k = 0; k < m->rows; k++) {
        memcpy(m->coef + k * m->p, w + k * (m->p + 1), m->p * sizeof *w);
        m->intercept[k] = w[k * (m->p + 1) + m->p];
        mean += m->intercept[k];
    }
    mean /= (double)m->rows;
    for (size_t k = 0; m->rows > 1 && k < m->rows; k++)
        m->intercept[k] -= mean;
}

static int solve(struct problem *pr, const struct logreg_params *prm, const struct ml_control *ctl,
                 struct logreg *m)
{
    double *mem = calloc(5 * pr->dim, sizeof *mem);
    if (!mem)
        return -ENOMEM;
    struct solver_state st = {.x = mem,
                              .g = mem + pr->dim,
                              .xn = mem + 2 * pr->dim,
                              .gn = mem + 3 * pr->dim,
                              .d = mem + 4 * pr->dim};
    int rc =
        prm->solver == LOGREG_LBFGS ? run_lbfgs(pr, prm, ctl, &st) : run_newton(pr, prm, ctl, &st);
    if (rc == 0) {
        model_take(m, st.x);
        m->iterations = st.iterations;
        m->converged = st.converged;
    }
    free(mem);
    return rc;
}

int logreg_fit(const struct logreg_params *prm, const struct ml_matrix *X, const double *y,
               size_t nclasses, const struct ml_control *ctl, struct logreg **out)
{
    if (!params_valid(prm) || !matrix_valid(X) || !y || !out || nclasses < 2 ||
        nclasses > MAX_CLASSES)
        return -EINVAL;
    uint32_t *lab;
    int rc = labels_from(y, X->n, nclasses, &lab);
    if (rc)
        return rc;
    struct problem pr;
    rc = problem_init(&pr, X, lab, nclasses, prm, ctl);
    if (rc)
        goto free_labels;
    struct logreg *m = model_new(prm, X->p, nclasses);
    if (!m) {
        rc = -ENOMEM;
        goto free_problem;
    }
    rc = solve(&pr, prm, ctl, m);
    if (rc)
        logreg_free(m);
    else
        *out = m;
free_problem:
    free(pr.scratch);
    free(pr.cache);
free_labels:
    free(lab);
    return rc;
}

void logreg_free(struct logreg *m)
{
    if (!m)
        return;
    free(m->coef);
    free(m->intercept);
    free(m);
}

struct predict_job {
    const struct logreg *m;
    const struct ml_matrix *X;
    double *proba;
};

static void chunk_predict(void *ctx, size_t c)
{
    const struct predict_job *job = ctx;
    const struct logreg *m = job->m;
    size_t lo = c * CHUNK_ROWS;
    size_t hi = lo + CHUNK_ROWS < job->X->n ? lo + CHUNK_ROWS : job->X->n;
    for (size_t i = lo; i < hi; i++) {
        const double *xi = job->X->x + i * m->p;
        double *pi = job->proba + i * m->nclasses;
        if (m->rows == 1) {
            double s = sigmoid(m->intercept[0] + dot(xi, m->coef, m->p));
            pi[0] = 1.0 - s;
            pi[1] = s;
            continue;
        }
        for (size_t k = 0; k < m->rows; k++)
            pi[k] = m->intercept[k] + dot(xi, m->coef + k * m->p, m->p);
        softmax(pi, m->rows);
    }
}

int logreg_predict_proba(const struct logreg *m, const struct ml_matrix *X, double *proba)
{
    if (!m || !X || !proba || X->p != m->p || (X->n && !X->x))
        return -EINVAL;
    struct predict_job job = {.m = m, .X = X, .proba = proba};
    size_t nchunks = (X->n + CHUNK_ROWS - 1) / CHUNK_ROWS;
    double work = (double)X->n * (double)X->p * (double)m->rows;
    mlpar_run(work < PAR_MIN_WORK ? 1 : mlpar_threads(NULL), nchunks, chunk_predict, &job);
    return 0;
}

int logreg_predict(const struct logreg *m, const struct ml_matrix *X, double *out)
{
    if (!m || !X || !out)
        return -EINVAL;
    if (X->n > SIZE_MAX / sizeof(double) / m->nclasses)
        return -ENOMEM;
    double *proba = malloc((X->n ? X->n : 1) * m->nclasses * sizeof *proba);
    if (!proba)
        return -ENOMEM;
    int rc = logreg_predict_proba(m, X, proba);
    for (size_t i = 0; rc == 0 && i < X->n; i++) {
        const double *pi = proba + i * m->nclasses;
        size_t best = 0;
        for (size_t k = 1; k < m->nclasses; k++)
            if (pi[k] > pi[best])
                best = k;
        out[i] = (double)best;
    }
    free(proba);
    return rc;
}

void logreg_importance(const struct logreg *m, double *out)
{
    for (size_t j = 0; j < m->p; j++) {
        double s = 0.0;
        for (size_t k = 0; k < m->rows; k++)
            s += fabs(m->coef[k * m->p + j]);
        out[j] = s / (double)m->rows;
    }
}

size_t logreg_nfeatures(const struct logreg *m)
{
    return m->p;
}

size_t logreg_nclasses(const struct logreg *m)
{
    return m->nclasses;
}

size_t logreg_coef_rows(const struct logreg *m)
{
    return m->rows;
}

const double *logreg_coef(const struct logreg *m)
{
    return m->coef;
}

const double *logreg_intercept(const struct logreg *m)
{
    return m->intercept;
}

int logreg_iterations(const struct logreg *m)
{
    return m->iterations;
}

int logreg_converged(const struct logreg *m)
{
    return m->converged;
}

int logreg_save(const struct logreg *m, struct buf *b)
{
    if (!m || !b)
        return -EINVAL;
    struct mlenc_writer w;
    mlenc_begin(&w, b, MAGIC, FORMAT_VERSION);
    mlenc_put_u32(&w, (uint32_t)m->prm.solver);
    mlenc_put_u32(&w, (uint32_t)m->prm.fit_intercept);
    mlenc_put_u32(&w, (uint32_t)m->prm.max_iter);
    mlenc_put_f64(&w, m->prm.C);
    mlenc_put_f64(&w, m->prm.tol);
    mlenc_put_u32(&w, (uint32_t)m->iterations);
    mlenc_put_u32(&w, (uint32_t)m->converged);
    mlenc_put_u64(&w, m->p);
    mlenc_put_u64(&w, m->nclasses);
    mlenc_put_f64s(&w, m->coef, m->rows * m->p);
    mlenc_put_f64s(&w, m->intercept, m->rows);
    return mlenc_end(&w);
}

static void read_params(struct mlenc_reader *r, struct logreg_params *prm, int *iters,
                        int *converged)
{
    uint32_t solver = mlenc_get_u32(r);
    uint32_t fit_intercept = mlenc_get_u32(r);
    uint32_t max_iter = mlenc_get_u32(r);
    prm->C = mlenc_get_f64(r);
    prm->tol = mlenc_get_f64(r);
    uint32_t it = mlenc_get_u32(r);
    uint32_t conv = mlenc_get_u32(r);
    prm->solver = solver == 1 ? LOGREG_NEWTON_CG : LOGREG_LBFGS;
    prm->fit_intercept = (int)fit_intercept;
    prm->max_iter = max_iter <= INT32_MAX ? (int)max_iter : 0;
    if (solver > 1 || !params_valid(prm) || it > max_iter || conv > 1)
        mlenc_fail(r);
    *iters = (int)(it <= INT32_MAX ? it : 0);
    *converged = (int)conv;
}

static int all_finite(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

int logreg_load(const void *data, size_t len, size_t *used, struct logreg **out)
{
    struct mlenc_reader r;
    uint32_t version;
    size_t n_used;
    if (!out || mlenc_open(&r, data, len, MAGIC, &version, &n_used) != 0 ||
        version != FORMAT_VERSION || (!used && n_used != len))
        return -EINVAL;
    struct logreg_params prm;
    int iters, conv;
    read_params(&r, &prm, &iters, &conv);
    size_t p = mlenc_get_count(&r, 1, SIZE_MAX / sizeof(double), sizeof(double));
    size_t k = mlenc_get_count(&r, 2, MAX_CLASSES, 0);
    size_t rows = k == 2 ? 1 : k;
    if (r.err || p > (r.len - r.pos) / sizeof(double) / rows)
        return -EINVAL;
    struct logreg *m = model_new(&prm, p, k);
    if (!m)
        return -ENOMEM;
    m->iterations = iters;
    m->converged = conv;
    mlenc_get_f64s(&r, m->coef, rows * p);
    mlenc_get_f64s(&r, m->intercept, rows);
    if (mlenc_close(&r) != 0 || !all_finite(m->coef, rows * p) || !all_finite(m->intercept, rows)) {
        logreg_free(m);
        return -EINVAL;
    }
    if (used)
        *used = n_used;
    *out = m;
    return 0;
}
