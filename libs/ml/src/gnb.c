/* gnb: Gaussian naive Bayes (per-class means, smoothed variances and priors). */
#include <ibx/gnb.h>
#include <ibx/mlenc.h>
#include <ibx/mlpar.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLASSES    65536
#define FORMAT_VERSION 1
#define LOG_2PI        1.8378770664093454836

static const char MAGIC[] = "IBXGNB01";

struct gnb {
    double var_smoothing;
    size_t p, nclasses;
    double *mean;     /* nclasses * p */
    double *var;      /* nclasses * p */
    double *prior;    /* nclasses */
    double *log_norm; /* nclasses: log prior - 0.5 * sum_j log(2 pi var) */
};

void gnb_params_default(struct gnb_params *prm)
{
    prm->var_smoothing = 1e-9;
}

static struct gnb *model_new(size_t p, size_t nclasses)
{
    struct gnb *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->p = p;
    m->nclasses = nclasses;
    m->mean = calloc(nclasses * p, sizeof *m->mean);
    m->var = calloc(nclasses * p, sizeof *m->var);
    m->prior = calloc(nclasses, sizeof *m->prior);
    m->log_norm = calloc(nclasses, sizeof *m->log_norm);
    if (!m->mean || !m->var || !m->prior || !m->log_norm) {
        gnb_free(m);
        return NULL;
    }
    return m;
}

void gnb_free(struct gnb *m)
{
    if (!m)
        return;
    free(m->mean);
    free(m->var);
    free(m->prior);
    free(m->log_norm);
    free(m);
}

static int inputs_valid(const struct ml_matrix *X, const double *y, size_t nclasses)
{
    if (!X || !X->x || !y || X->n == 0 || X->p == 0 || nclasses < 2 || nclasses > MAX_CLASSES ||
        X->n > SIZE_MAX / sizeof(double) / X->p)
        return 0;
    for (size_t i = 0; i < X->n; i++)
        if (!(y[i] >= 0 && y[i] < (double)nclasses && y[i] == floor(y[i])))
            return 0;
    for (size_t i = 0; i < X->n * X->p; i++)
        if (!isfinite(X->x[i]))
            return 0;
    return 1;
}

/* Per-class sums into mean (then divided), counts into prior (then normalised). */
static void class_means(struct gnb *m, const struct ml_matrix *X, const double *y)
{
    for (size_t i = 0; i < X->n; i++) {
        size_t c = (size_t)y[i];
        m->prior[c] += 1.0;
        for (size_t j = 0; j < m->p; j++)
            m->mean[c * m->p + j] += X->x[i * m->p + j];
    }
    for (size_t c = 0; c < m->nclasses; c++)
        for (size_t j = 0; m->prior[c] > 0 && j < m->p; j++)
            m->mean[c * m->p + j] /= m->prior[c];
}

static void class_variances(struct gnb *m, const struct ml_matrix *X, const double *y)
{
    for (size_t i = 0; i < X->n; i++) {
        size_t c = (size_t)y[i];
        for (size_t j = 0; j < m->p; j++) {
            double d = X->x[i * m->p + j] - m->mean[c * m->p + j];
            m->var[c * m->p + j] += d * d;
        }
    }
    for (size_t c = 0; c < m->nclasses; c++)
        for (size_t j = 0; m->prior[c] > 0 && j < m->p; j++)
            m->var[c * m->p + j] /= m->prior[c];
}

/* The largest variance of a feature over all rows (two passes per feature). */
static double max_feature_variance(const struct ml_matrix *X)
{
    double best = 0.0;
    for (size_t j = 0; j < X->p; j++) {
        double mean = 0.0, ss = 0.0;
        for (size_t i = 0; i < X->n; i++)
            mean += X->x[i * X->p + j];
        mean /= (double)X->n;
        for (size_t i = 0; i < X->n; i++) {
            double d = X->x[i * X->p + j] - mean;
            ss += d * d;
        }
        best = fmax(best, ss / (double)X->n);
    }
    return best;
}

static void cache_log_norm(struct gnb *m)
{
    for (size_t c = 0; c < m->nclasses; c++) {
        double s = 0.0;
        for (size_t j = 0; j < m->p; j++)
            s += LOG_2PI + log(m->var[c * m->p + j]);
        m->log_norm[c] = (m->prior[c] > 0 ? log(m->prior[c]) : -INFINITY) - 0.5 * s;
    }
}

/* Smooth the variances (a class without rows gets 1) and normalise the priors. */
static void finish(struct gnb *m, double epsilon, size_t n)
{
    for (size_t c = 0; c < m->nclasses; c++) {
        double count = m->prior[c];
        m->prior[c] = count / (double)n;
        for (size_t j = 0; j < m->p; j++) {
            double *v = &m->var[c * m->p + j];
            *v = count > 0 ? *v + epsilon : 1.0;
        }
    }
    cache_log_norm(m);
}

int gnb_fit(const struct gnb_params *prm, const struct ml_matrix *X, const double *y,
            size_t nclasses, const struct ml_control *ctl, struct gnb **out)
{
    if (!prm || !(prm->var_smoothing >= 0 && isfinite(prm->var_smoothing)) || !out ||
        !inputs_valid(X, y, nclasses))
        return -EINVAL;
    if (mlpar_cancelled(ctl))
        return -ECANCELED;
    struct gnb *m = model_new(X->p, nclasses);
    if (!m)
        return -ENOMEM;
    m->var_smoothing = prm->var_smoothing;
    class_means(m, X, y);
    class_variances(m, X, y);
    double epsilon = prm->var_smoothing * max_feature_variance(X);
    if (!(epsilon > 0))
        epsilon = prm->var_smoothing > 0 ? prm->var_smoothing : 1e-300;
    finish(m, epsilon, X->n);
    mlpar_progress(ctl, 1, 1);
    *out = m;
    return 0;
}

static void row_proba(const struct gnb *m, const double *xi, double *pi)
{
    double mx = -INFINITY;
    for (size_t c = 0; c < m->nclasses; c++) {
        double q = 0.0;
        const double *mu = m->mean + c * m->p, *var = m->var + c * m->p;
        for (size_t j = 0; j < m->p; j++) {
            double d = xi[j] - mu[j];
            q += d * d / var[j];
        }
        pi[c] = m->log_norm[c] - 0.5 * q;
        mx = fmax(mx, pi[c]);
    }
    double sum = 0.0;
    for (size_t c = 0; c < m->nclasses; c++) {
        pi[c] = exp(pi[c] - mx);
        sum += pi[c];
    }
    for (size_t c = 0; c < m->nclasses; c++)
        pi[c] /= sum;
}

int gnb_predict_proba(const struct gnb *m, const struct ml_matrix *X, double *proba)
{
    if (!m || !X || !proba || X->p != m->p || (X->n && !X->x))
        return -EINVAL;
    for (size_t i = 0; i < X->n; i++)
        row_proba(m, X->x + i * m->p, proba + i * m->nclasses);
    return 0;
}

int gnb_predict(const struct gnb *m, const struct ml_matrix *X, double *out)
{
    if (!m || !X || !out || X->p != m->p || (X->n && !X->x))
        return -EINVAL;
    double *pi = malloc(m->nclasses * sizeof *pi);
    if (!pi)
        return -ENOMEM;
    for (size_t i = 0; i < X->n; i++) {
        row_proba(m, X->x + i * m->p, pi);
        size_t best = 0;
        for (size_t c = 1; c < m->nclasses; c++)
            if (pi[c] > pi[best])
                best = c;
        out[i] = (double)best;
    }
    free(pi);
    return 0;
}

size_t gnb_nfeatures(const struct gnb *m)
{
    return m->p;
}

size_t gnb_nclasses(const struct gnb *m)
{
    return m->nclasses;
}

const double *gnb_means(const struct gnb *m)
{
    return m->mean;
}

const double *gnb_variances(const struct gnb *m)
{
    return m->var;
}

const double *gnb_priors(const struct gnb *m)
{
    return m->prior;
}

int gnb_save(const struct gnb *m, struct buf *b)
{
    if (!m || !b)
        return -EINVAL;
    struct mlenc_writer w;
    mlenc_begin(&w, b, MAGIC, FORMAT_VERSION);
    mlenc_put_f64(&w, m->var_smoothing);
    mlenc_put_u64(&w, m->p);
    mlenc_put_u64(&w, m->nclasses);
    mlenc_put_f64s(&w, m->prior, m->nclasses);
    mlenc_put_f64s(&w, m->mean, m->nclasses * m->p);
    mlenc_put_f64s(&w, m->var, m->nclasses * m->p);
    return mlenc_end(&w);
}

/* Priors in [0, 1] summing to about 1, finite means, positive finite variances. */
static int values_valid(const struct gnb *m)
{
    double total = 0.0;
    for (size_t c = 0; c < m->nclasses; c++) {
        if (!(m->prior[c] >= 0 && m->prior[c] <= 1))
            return 0;
        total += m->prior[c];
    }
    for (size_t i = 0; i < m->nclasses * m->p; i++)
        if (!isfinite(m->mean[i]) || !(m->var[i] > 0) || !isfinite(m->var[i]))
            return 0;
    return fabs(total - 1.0) < 1e-9 && isfinite(m->var_smoothing) && m->var_smoothing >= 0;
}

int gnb_load(const void *data, size_t len, size_t *used, struct gnb **out)
{
    struct mlenc_reader r;
    uint32_t version;
    size_t n_used;
    if (!out || mlenc_open(&r, data, len, MAGIC, &version, &n_used) != 0 ||
        version != FORMAT_VERSION || (!used && n_used != len))
        return -EINVAL;
    double smoothing = mlenc_get_f64(&r);
    size_t p = mlenc_get_count(&r, 1, SIZE_MAX / sizeof(double), sizeof(double));
    size_t k = mlenc_get_count(&r, 2, MAX_CLASSES, sizeof(double));
    if (r.err || p > (r.len - r.pos) / sizeof(double) / k / 2)
        return -EINVAL;
    struct gnb *m = model_new(p, k);
    if (!m)
        return -ENOMEM;
    m->var_smoothing = smoothing;
    mlenc_get_f64s(&r, m->prior, k);
    mlenc_get_f64s(&r, m->mean, k * p);
    mlenc_get_f64s(&r, m->var, k * p);
    if (mlenc_close(&r) != 0 || !values_valid(m)) {
        gnb_free(m);
        return -EINVAL;
    }
    cache_log_norm(m);
    if (used)
        *used = n_used;
    *out = m;
    return 0;
}
