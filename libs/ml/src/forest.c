/* forest: random forests of CART trees grown in parallel on one shared feature binning. */
#include <ibx/forest.h>
#include <ibx/mlpar.h>

#include "cart.h"
#include "mlpool.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FOREST_MAGIC   "IBXFRST1"
#define FOREST_VERSION 1
#define FOREST_BLOCK   4096 /* rows per prediction block */

struct forest_model {
    enum ml_task task;
    size_t p;
    size_t nclasses;
    size_t width;
    size_t n_trees;
    struct tree_model *trees;
    int has_oob;
    double oob;
};

struct forest_job {
    const struct forest_params *prm;
    struct cart_data d;
    struct cart_config c;
    size_t n_draws;
    struct forest_model *m;
    uint8_t *inbag; /* n_trees * bag_bytes bits, or NULL */
    size_t bag_bytes;
    atomic_size_t next;
    volatile int stop; /* the trees' cancel flag */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t done;
    size_t running;
    int err;
};

void forest_params_default(struct forest_params *params, enum ml_task task, size_t nclasses)
{
    memset(params, 0, sizeof *params);
    tree_params_default(&params->tree, task, nclasses);
    params->tree.max_features = task == ML_CLASSIFICATION ? TREE_MF_SQRT : TREE_MF_ALL;
    params->n_estimators = 100;
    params->bootstrap = 1;
}

/* Rows each tree draws, or 0 when max_samples is invalid. */
static size_t forest_draws(const struct forest_params *prm, size_t n)
{
    double ms = prm->max_samples;
    if (ms == 0.0)
        return n;
    if (ms > 0.0 && ms <= 1.0) {
        double k = round(ms * (double)n);
        return k < 1.0 ? 1 : (size_t)k;
    }
    if (ms > 1.0 && ms <= (double)n && ms == floor(ms))
        return (size_t)ms;
    return 0;
}

/* Draw tree t's bootstrap weights into w and its rows into rows; returns the row count. */
static size_t forest_bootstrap(struct forest_job *job, size_t t, struct mlrand *rng, double *w,
                               size_t *rows)
{
    size_t n = job->d.n, nrows = 0;
    memset(w, 0, n * sizeof *w);
    for (size_t k = 0; k < job->n_draws; k++)
        w[mlrand_below(rng, n)] += 1.0;
    uint8_t *bag = job->inbag ? job->inbag + t * job->bag_bytes : NULL;
    for (size_t i = 0; i < n; i++) {
        if (w[i] == 0.0)
            continue;
        rows[nrows++] = i;
        if (bag)
            bag[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    return nrows;
}

static int forest_grow_one(struct forest_job *job, size_t t, double *w, size_t *rows)
{
    struct mlrand rng;
    mlrand_seed_stream(&rng, job->prm->random_state, t);
    struct cart_data d = job->d;
    size_t nrows = d.n;
    if (job->prm->bootstrap) {
        nrows = forest_bootstrap(job, t, &rng, w, rows);
        d.w = w;
    } else {
        for (size_t i = 0; i < nrows; i++)
            rows[i] = i;
    }
    struct tree_model *tm = &job->m->trees[t];
    int rc = cart_model_init(tm, job->c.task, job->c.criterion, d.p, job->c.nclasses);
    return rc ? rc : cart_grow(&d, &job->c, rows, nrows, &rng, NULL, tm);
}

static void forest_finish(struct forest_job *job, int rc)
{
    pthread_mutex_lock(&job->lock);
    if (rc && !job->err) {
        job->err = rc;
        job->stop = 1;
    }
    job->done += rc == 0;
    pthread_cond_signal(&job->cond);
    pthread_mutex_unlock(&job->lock);
}

static void *forest_worker(void *arg)
{
    struct forest_job *job = arg;
    size_t n = job->d.n;
    double *w = malloc(n * sizeof *w);
    size_t *rows = malloc(n * sizeof *rows);
    int rc = w && rows ? 0 : -ENOMEM;
    if (rc)
        forest_finish(job, rc);
    while (rc == 0 && !job->stop) {
        size_t t = atomic_fetch_add(&job->next, 1);
        if (t >= job->m->n_trees)
            break;
        rc = forest_grow_one(job, t, w, rows);
        forest_finish(job, rc);
    }
    free(rows);
    free(w);
    pthread_mutex_lock(&job->lock);
    job->running--;
    pthread_cond_signal(&job->cond);
    pthread_mutex_unlock(&job->lock);
    return NULL;
}

/* On the calling thread: report progress, watch the cancel flag, wait for the workers. */
static void forest_supervise(struct forest_job *job, const struct ml_control *ctrl)
{
    size_t reported = 0;
    pthread_mutex_lock(&job->lock);
    while (job->running > 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 20 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&job->cond, &job->lock, &until);
        if (mlpar_cancelled(ctrl) && !job->stop) {
            job->stop = 1;
            job->err = job->err ? job->err : -ECANCELED;
        }
        size_t done = job->done;
        if (done != reported && !job->stop) {
            pthread_mutex_unlock(&job->lock);
            mlpar_progress(ctrl, done, job->m->n_trees);
            reported = done;
            pthread_mutex_lock(&job->lock);
        }
    }
    pthread_mutex_unlock(&job->lock);
}

static int forest_run(struct forest_job *job, const struct ml_control *ctrl)
{
    size_t nthreads = (size_t)mlpar_threads(ctrl);
    nthreads = nthreads < job->m->n_trees ? nthreads : job->m->n_trees;
    pthread_t *threads = calloc(nthreads, sizeof *threads);
    if (!threads)
        return -ENOMEM;
    pthread_mutex_init(&job->lock, NULL);
    pthread_cond_init(&job->cond, NULL);
    atomic_init(&job->next, 0);
    size_t started = 0;
    for (size_t i = 0; i < nthreads; i++) {
        pthread_mutex_lock(&job->lock);
        job->running++;
        pthread_mutex_unlock(&job->lock);
        if (pthread_create(&threads[i], NULL, forest_worker, job) != 0) {
            job->running--;
            break;
        }
        started++;
    }
    if (started)
        forest_supervise(job, ctrl);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    pthread_cond_destroy(&job->cond);
    pthread_mutex_destroy(&job->lock);
    if (!started)
        return -EAGAIN;
    return job->err;
}

void forest_free(struct forest_model *model)
{
    if (!model)
        return;
    for (size_t t = 0; t < model->n_trees && model->trees; t++)
        cart_model_release(&model->trees[t]);
    free(model->trees);
    free(model);
}

static struct forest_model *forest_alloc(enum ml_task task, size_t p, size_t nclasses,
                                         size_t n_trees)
{
    struct forest_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->task = task;
    m->p = p;
    m->nclasses = task == ML_CLASSIFICATION ? nclasses : 0;
    m->width = task == ML_CLASSIFICATION ? nclasses : 1;
    m->trees = calloc(n_trees, sizeof *m->trees);
    if (!m->trees) {
        free(m);
        return NULL;
    }
    m->n_trees = n_trees;
    return m;
}

struct forest_oob_job {
    const struct forest_model *m;
    const struct ml_matrix *x;
    const uint8_t *inbag;
    size_t bag_bytes;
    double *sum;    /* n * width */
    uint32_t *hits; /* n: trees for which the row was out of bag */
};

static void forest_oob_chunk(void *ctx, size_t chunk)
{
    struct forest_oob_job *job = ctx;
    const struct forest_model *m = job->m;
    size_t start = chunk * FOREST_BLOCK, end = start + FOREST_BLOCK;
    end = end < job->x->n ? end : job->x->n;
    for (size_t t = 0; t < m->n_trees; t++) {
        const uint8_t *bag = job->inbag + t * job->bag_bytes;
        for (size_t i = start; i < end; i++) {
            if (bag[i / 8] & (1u << (i % 8)))
                continue;
            struct ml_matrix row = {job->x->x + i * job->x->p, 1, job->x->p};
            cart_accumulate(&m->trees[t], &row, 1.0, job->sum + i * m->width);
            job->hits[i]++;
        }
    }
}

/* Accuracy or R^2 of the out-of-bag predictions over the rows that had any. */
static double forest_oob_value(const struct forest_model *m, const double *y, const double *sum,
                               const uint32_t *hits, size_t n)
{
    size_t used = 0, right = 0;
    double mean = 0.0, ss_res = 0.0, ss_tot = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!hits[i])
            continue;
        used++;
        mean += y[i];
        const double *s = sum + i * m->width;
        size_t best = 0;
        for (size_t j = 1; j < m->nclasses; j++)
            best = s[j] > s[best] ? j : best;
        right += m->task == ML_CLASSIFICATION && (double)best == y[i];
    }
    if (used == 0)
        return 0.0;
    if (m->task == ML_CLASSIFICATION)
        return (double)right / (double)used;
    mean /= (double)used;
    for (size_t i = 0; i < n; i++) {
        if (!hits[i])
            continue;
        double pred = sum[i] / hits[i];
        ss_res += (y[i] - pred) * (y[i] - pred);
        ss_tot += (y[i] - mean) * (y[i] - mean);
    }
    return ss_tot > 0.0 ? 1.0 - ss_res / ss_tot : 0.0;
}

static int forest_oob(struct forest_model *m, const struct ml_matrix *x, const double *y,
                      const struct forest_job *job, const struct ml_control *ctrl)
{
    double *sum = calloc(x->n * m->width, sizeof *sum);
    uint32_t *hits = calloc(x->n, sizeof *hits);
    if (!sum || !hits) {
        free(sum);
        free(hits);
        return -ENOMEM;
    }
    struct forest_oob_job oj = {m, x, job->inbag, job->bag_bytes, sum, hits};
    mlpar_run(mlpar_threads(ctrl), (x->n + FOREST_BLOCK - 1) / FOREST_BLOCK, forest_oob_chunk, &oj);
    m->oob = forest_oob_value(m, y, sum, hits, x->n);
    m->has_oob = 1;
    free(sum);
    free(hits);
    return 0;
}

static int forest_check(const struct forest_params *prm, const struct ml_matrix *x, const double *y)
{
    if (!prm || !x || prm->n_estimators == 0 || prm->n_estimators > (1u << 20))
        return -EINVAL;
    if ((prm->oob_score && !prm->bootstrap) || (prm->bootstrap && !forest_draws(prm, x->n)))
        return -EINVAL;
    int rc = cart_check_params(&prm->tree, x->p);
    return rc ? rc : cart_check_data(x, y, prm->tree.task, prm->tree.nclasses);
}

/* Bin X once, grow every tree, then the OOB score. */
static int forest_grow(struct forest_model *m, const struct forest_params *prm,
                       const struct ml_matrix *x, const double *y, const struct ml_control *ctrl)
{
    struct mlpool *pool = NULL;
    struct mlbin bins = {0};
    struct forest_job job = {.prm = prm, .m = m, .n_draws = forest_draws(prm, x->n)};
    uint8_t *codes = malloc(x->n * x->p);
    int rc = codes ? mlpool_new(mlpar_threads(ctrl), &pool) : -ENOMEM;
    rc = rc ? rc : mlbin_fit(&bins, x, NULL, x->n, MLBIN_MAX_BINS, pool);
    if (rc)
        goto out;
    mlbin_transform(&bins, x, NULL, x->n, codes, pool);
    job.d = (struct cart_data){codes, x->n, x->p, &bins, y, NULL};
    job.c = (struct cart_config){
        prm->tree.task,
        prm->tree.criterion,
        m->nclasses,
        prm->tree.max_depth,
        prm->tree.min_samples_split,
        prm->tree.min_samples_leaf,
        tree_resolve_max_features(prm->tree.max_features, prm->tree.max_features_value, x->p),
        &job.stop};
    if (prm->oob_score) {
        job.bag_bytes = (x->n + 7) / 8;
        job.inbag = calloc(m->n_trees, job.bag_bytes);
        rc = job.inbag ? 0 : -ENOMEM;
    }
    rc = rc ? rc : forest_run(&job, ctrl);
    rc = rc || !prm->oob_score ? rc : forest_oob(m, x, y, &job, ctrl);
out:
    free(job.inbag);
    free(codes);
    mlbin_release(&bins);
    mlpool_free(pool);
    return rc;
}

int forest_fit(const struct forest_params *params, const struct ml_matrix *x, const double *y,
               const struct ml_control *ctrl, struct forest_model **out)
{
    int rc = out ? forest_check(params, x, y) : -EINVAL;
    if (rc)
        return rc;
    struct forest_model *m =
        forest_alloc(params->tree.task, x->p, params->tree.nclasses, params->n_estimators);
    if (!m)
        return -ENOMEM;
    rc = forest_grow(m, params, x, y, ctrl);
    if (rc) {
        forest_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

#define FOREST_PAR_ROWS 8192 /* batches this large are predicted on every CPU */

struct forest_pred_job {
    const struct forest_model *m;
    const struct ml_matrix *x;
    double *out;
};

/* Rows of one block: the mean of the trees' predictions. */
static void forest_mean_block(void *ctx, size_t blk_i)
{
    const struct forest_pred_job *job = ctx;
    const struct forest_model *m = job->m;
    size_t start = blk_i * FOREST_BLOCK, n = job->x->n, p = job->x->p;
    size_t len = n - start < FOREST_BLOCK ? n - start : FOREST_BLOCK;
    struct ml_matrix blk = {job->x->x + start * p, len, p};
    double *out = job->out + start * m->width;
    memset(out, 0, len * m->width * sizeof *out);
    for (size_t t = 0; t < m->n_trees; t++)
        cart_accumulate(&m->trees[t], &blk, 1.0, out);
    double inv = 1.0 / (double)m->n_trees;
    for (size_t i = 0; i < len * m->width; i++)
        out[i] *= inv;
}

/* The mean over trees for every row; large batches spread over the CPUs (rows are
 * independent, so the result does not depend on the thread count). */
static void forest_mean(const struct forest_model *m, const struct ml_matrix *x, double *out)
{
    struct forest_pred_job job = {m, x, out};
    int threads = x->n >= FOREST_PAR_ROWS ? mlpar_threads(NULL) : 1;
    mlpar_run(threads, (x->n + FOREST_BLOCK - 1) / FOREST_BLOCK, forest_mean_block, &job);
}

static int forest_check_matrix(const struct forest_model *m, const struct ml_matrix *x,
                               const double *out)
{
    if (!m || (!out && x && x->n))
        return -EINVAL;
    return cart_check_matrix(&m->trees[0], x);
}

int forest_predict_proba(const struct forest_model *model, const struct ml_matrix *x, double *out)
{
    int rc = forest_check_matrix(model, x, out);
    if (rc || model->task != ML_CLASSIFICATION)
        return -EINVAL;
    forest_mean(model, x, out);
    return 0;
}

int forest_predict(const struct forest_model *model, const struct ml_matrix *x, double *out)
{
    int rc = forest_check_matrix(model, x, out);
    if (rc)
        return rc;
    if (model->task == ML_REGRESSION) {
        forest_mean(model, x, out);
        return 0;
    }
    size_t k = model->width;
    double *proba = malloc((x->n ? x->n : 1) * k * sizeof *proba);
    if (!proba)
        return -ENOMEM;
    forest_mean(model, x, proba);
    for (size_t i = 0; i < x->n; i++) {
        size_t best = 0;
        for (size_t j = 1; j < k; j++)
            best = proba[i * k + j] > proba[i * k + best] ? j : best;
        out[i] = (double)best;
    }
    free(proba);
    return 0;
}

void forest_feature_importance(const struct forest_model *model, double *out)
{
    double *one = malloc(model->p * sizeof *one), sum = 0.0;
    memset(out, 0, model->p * sizeof *out);
    if (!one)
        return;
    size_t used = 0;
    for (size_t t = 0; t < model->n_trees; t++) {
        if (model->trees[t].n_nodes < 2)
            continue;
        cart_importance(&model->trees[t], one);
        for (size_t f = 0; f < model->p; f++)
            out[f] += one[f];
        used++;
    }
    for (size_t f = 0; f < model->p; f++) {
        out[f] = used ? out[f] / (double)used : 0.0;
        sum += out[f];
    }
    for (size_t f = 0; f < model->p && sum > 0.0; f++)
        out[f] /= sum;
    free(one);
}

int forest_oob_score(const struct forest_model *model, double *out)
{
    if (!model->has_oob)
        return -ENOENT;
    *out = model->oob;
    return 0;
}

enum ml_task forest_task(const struct forest_model *model)
{
    return model->task;
}

size_t forest_n_features(const struct forest_model *model)
{
    return model->p;
}

size_t forest_n_classes(const struct forest_model *model)
{
    return model->nclasses;
}

size_t forest_n_trees(const struct forest_model *model)
{
    return model->n_trees;
}

const struct tree_model *forest_tree(const struct forest_model *model, size_t i)
{
    return i < model->n_trees ? &model->trees[i] : NULL;
}

int forest_save(const struct forest_model *model, struct buf *out)
{
    if (!model || !out)
        return -EINVAL;
    struct mlenc_writer w;
    mlenc_begin(&w, out, FOREST_MAGIC, FOREST_VERSION);
    mlenc_put_u32(&w, (uint32_t)model->task);
    mlenc_put_u64(&w, model->p);
    mlenc_put_u64(&w, model->nclasses);
    mlenc_put_u64(&w, model->n_trees);
    mlenc_put_u32(&w, (uint32_t)model->has_oob);
    mlenc_put_f64(&w, model->oob);
    for (size_t t = 0; t < model->n_trees; t++)
        cart_encode(&model->trees[t], &w);
    return mlenc_end(&w);
}

static int forest_decode(struct mlenc_reader *r, struct forest_model **out)
{
    uint32_t task = mlenc_get_u32(r);
    uint64_t p = mlenc_get_u64(r), k = mlenc_get_u64(r);
    size_t n = mlenc_get_count(r, 1, 1u << 20, 64);
    uint32_t has_oob = mlenc_get_u32(r);
    double oob = mlenc_get_finite(r);
    if (r->err || (task != ML_CLASSIFICATION && task != ML_REGRESSION) || has_oob > 1 || p == 0 ||
        p > (1u << 24) || k > (1u << 16))
        return -EINVAL;
    struct forest_model *m = forest_alloc((enum ml_task)task, p, k, n);
    if (!m)
        return -ENOMEM;
    m->has_oob = (int)has_oob;
    m->oob = oob;
    int rc = m->nclasses == k ? 0 : -EINVAL;
    for (size_t t = 0; t < n && rc == 0; t++) {
        rc = cart_decode(r, &m->trees[t]);
        const struct tree_model *tm = &m->trees[t];
        if (rc == 0 && (tm->task != m->task || tm->p != m->p || tm->nclasses != m->nclasses))
            rc = -EINVAL;
    }
    if (rc) {
        forest_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int forest_load(const void *data, size_t len, size_t *used, struct forest_model **out)
{
    struct mlenc_reader r;
    uint32_t version = 0;
    size_t n = 0;
    if (!out || mlenc_open(&r, data, len, FOREST_MAGIC, &version, &n) != 0 ||
        version != FOREST_VERSION || (!used && n != len))
        return -EINVAL;
    struct forest_model *m = NULL;
    int rc = forest_decode(&r, &m);
    if (rc == 0 && mlenc_close(&r) != 0) {
        forest_free(m);
        rc = -EINVAL;
    }
    if (rc)
        return rc;
    if (used)
        *used = n;
    *out = m;
    return 0;
}
