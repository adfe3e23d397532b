/* mlbench: the bench/ml driver: generates the shared data sets and times our tree learners.
 *
 *   ibx-mlbench gen DIR [n]     write DIR/cls.bin (make_classification-like) and DIR/reg.bin
 *                               (Friedman #1 with 15 noise features), n rows each (100000)
 *   ibx-mlbench run DIR [threads] [learner]   fit and score every learner (or one); a line
 *                               each: "<name> fit_s=<wall s> fit_cpu_s=<process CPU s>
 *                               score=<accuracy or R^2> predict_rps=<rows/s>
 *                               predict_cpu_rps=<rows per CPU s>"
 *
 * File format (both sides read it; loading is not timed): "IBXMLB01", u64 n, u64 p, n*p
 * float64 row-major features, n float64 targets, little-endian. The first 80% of the rows
 * train, the rest test. */
#include <ibx/forest.h>
#include <ibx/gbt.h>
#include <ibx/linreg.h>
#include <ibx/logreg.h>
#include <ibx/ml.h>
#include <ibx/mlrand.h>
#include <ibx/tree.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dataset {
    double *x;
    double *y;
    size_t n, p;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int write_set(const char *path, const struct dataset *d)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -errno;
    uint64_t hdr[2] = {d->n, d->p};
    int ok = fwrite("IBXMLB01", 1, 8, f) == 8 && fwrite(hdr, sizeof hdr, 1, f) == 1 &&
             fwrite(d->x, sizeof *d->x, d->n * d->p, f) == d->n * d->p &&
             fwrite(d->y, sizeof *d->y, d->n, f) == d->n;
    return fclose(f) == 0 && ok ? 0 : -EIO;
}

static int read_set(const char *path, struct dataset *d)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    char magic[8];
    uint64_t hdr[2];
    int rc = -EIO;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "IBXMLB01", 8) != 0 ||
        fread(hdr, sizeof hdr, 1, f) != 1 || hdr[0] == 0 || hdr[1] == 0 || hdr[0] > 1u << 26 ||
        hdr[1] > 1024)
        goto out;
    d->n = hdr[0];
    d->p = hdr[1];
    d->x = malloc(d->n * d->p * sizeof *d->x);
    d->y = malloc(d->n * sizeof *d->y);
    if (d->x && d->y && fread(d->x, sizeof *d->x, d->n * d->p, f) == d->n * d->p &&
        fread(d->y, sizeof *d->y, d->n, f) == d->n)
        rc = 0;
    if (rc) {
        free(d->x);
        free(d->y);
        d->x = d->y = NULL;
    }
out:
    fclose(f);
    return rc;
}

/* Two classes, two Gaussian clusters per class at hypercube vertices in 10 informative
 * dimensions (random covariance), 5 redundant linear combinations, 5 noise features, 1%
 * of the labels flipped: the recipe of scikit-learn's make_classification. */
static void gen_classification(struct dataset *d, struct mlrand *r)
{
    enum { INF = 10, RED = 5, CLUSTERS = 4 };
    double centroid[CLUSTERS][INF], a[CLUSTERS][INF][INF], b[INF][RED];
    for (int c = 0; c < CLUSTERS; c++)
        for (int j = 0; j < INF; j++) {
            centroid[c][j] = (mlrand_below(r, 2) ? 1.0 : -1.0) * (1.0 + 0.1 * c);
            for (int k = 0; k < INF; k++)
                a[c][j][k] = 2.0 * mlrand_uniform(r) - 1.0;
        }
    for (int j = 0; j < INF; j++)
        for (int k = 0; k < RED; k++)
            b[j][k] = 2.0 * mlrand_uniform(r) - 1.0;
    for (size_t i = 0; i < d->n; i++) {
        int c = (int)mlrand_below(r, CLUSTERS);
        double z[INF], *row = d->x + i * d->p;
        for (int j = 0; j < INF; j++)
            z[j] = mlrand_normal(r);
        for (int j = 0; j < INF; j++) {
            double v = centroid[c][j];
            for (int k = 0; k < INF; k++)
                v += z[k] * a[c][k][j];
            row[j] = v;
        }
        for (int k = 0; k < RED; k++) {
            double v = 0.0;
            for (int j = 0; j < INF; j++)
                v += row[j] * b[j][k];
            row[INF + k] = v;
        }
        for (size_t j = INF + RED; j < d->p; j++)
            row[j] = mlrand_normal(r);
        d->y[i] = (double)(c % 2);
        if (mlrand_uniform(r) < 0.01)
            d->y[i] = (double)mlrand_below(r, 2);
    }
}

/* Friedman #1: y = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + N(0, 1), x uniform
 * on [0, 1]^p. */
static void gen_regression(struct dataset *d, struct mlrand *r)
{
    for (size_t i = 0; i < d->n; i++) {
        double *x = d->x + i * d->p;
        for (size_t j = 0; j < d->p; j++)
            x[j] = mlrand_uniform(r);
        d->y[i] = 10.0 * sin(M_PI * x[0] * x[1]) + 20.0 * (x[2] - 0.5) * (x[2] - 0.5) +
                  10.0 * x[3] + 5.0 * x[4] + mlrand_normal(r);
    }
}

static int cmd_gen(const char *dir, size_t n)
{
    struct dataset d = {.n = n, .p = 20};
    d.x = malloc(n * d.p * sizeof *d.x);
    d.y = malloc(n * sizeof *d.y);
    if (!d.x || !d.y) {
        free(d.x);
        free(d.y);
        return 1;
    }
    struct mlrand r;
    char path[4096];
    mlrand_seed(&r, 2026);
    gen_classification(&d, &r);
    snprintf(path, sizeof path, "%s/cls.bin", dir);
    int rc = write_set(path, &d);
    gen_regression(&d, &r);
    snprintf(path, sizeof path, "%s/reg.bin", dir);
    rc = rc ? rc : write_set(path, &d);
    free(d.x);
    free(d.y);
    if (rc)
        fprintf(stderr, "mlbench: cannot write %s\n", path);
    return rc ? 1 : 0;
}

/* The first 80% of the rows train, the rest test. */
struct bench_data {
    struct ml_matrix train, test, all;
    const double *ytrain, *ytest;
    size_t nclasses; /* 0: regression */
};

static void bench_split(const struct dataset *d, size_t nclasses, struct bench_data *b)
{
    size_t ntr = d->n * 4 / 5;
    b->train = (struct ml_matrix){d->x, ntr, d->p};
    b->test = (struct ml_matrix){d->x + ntr * d->p, d->n - ntr, d->p};
    b->all = (struct ml_matrix){d->x, d->n, d->p};
    b->ytrain = d->y;
    b->ytest = d->y + ntr;
    b->nclasses = nclasses;
}

static double bench_score(const struct bench_data *b, const double *pred)
{
    size_t n = b->test.n, right = 0;
    double mean = 0.0, ss_res = 0.0, ss_tot = 0.0;
    for (size_t i = 0; i < n; i++) {
        right += pred[i] == b->ytest[i];
        mean += b->ytest[i] / (double)n;
    }
    if (b->nclasses)
        return (double)right / (double)n;
    for (size_t i = 0; i < n; i++) {
        ss_res += (pred[i] - b->ytest[i]) * (pred[i] - b->ytest[i]);
        ss_tot += (b->ytest[i] - mean) * (b->ytest[i] - mean);
    }
    return 1.0 - ss_res / ss_tot;
}

/* One learner behind three calls, so that every learner is timed the same way. */
struct learner {
    const char *name;
    int (*fit)(const struct bench_data *b, int threads, void **model);
    int (*predict)(const void *model, const struct ml_matrix *x, double *out);
    void (*free_model)(void *model);
};

static int fit_tree(const struct bench_data *b, int threads, void **model)
{
    struct tree_params prm;
    tree_params_default(&prm, b->nclasses ? ML_CLASSIFICATION : ML_REGRESSION, b->nclasses);
    struct ml_control ctl = {.threads = threads};
    return tree_fit(&prm, &b->train, b->ytrain, &ctl, (struct tree_model **)model);
}

static int predict_tree(const void *model, const struct ml_matrix *x, double *out)
{
    return tree_predict(model, x, out);
}

static void free_tree(void *model)
{
    tree_free(model);
}

static int fit_forest(const struct bench_data *b, int threads, void **model)
{
    struct forest_params prm;
    forest_params_default(&prm, b->nclasses ? ML_CLASSIFICATION : ML_REGRESSION, b->nclasses);
    prm.n_estimators = 100;
    prm.tree.max_depth = 10;
    struct ml_control ctl = {.threads = threads};
    return forest_fit(&prm, &b->train, b->ytrain, &ctl, (struct forest_model **)model);
}

static int predict_forest(const void *model, const struct ml_matrix *x, double *out)
{
    return forest_predict(model, x, out);
}

static void free_forest(void *model)
{
    forest_free(model);
}

static int fit_gbt(const struct bench_data *b, int threads, void **model)
{
    struct gbt_params prm;
    gbt_params_default(&prm, b->nclasses ? ML_CLASSIFICATION : ML_REGRESSION, b->nclasses);
    prm.max_iter = 100;
    prm.max_depth = 6;
    prm.max_leaves = 0;
    prm.learning_rate = 0.1;
    prm.l2 = 1.0;
    prm.min_samples_leaf = 1;
    prm.min_child_weight = 1.0;
    prm.early_stopping = 0;
    struct ml_control ctl = {.threads = threads};
    return gbt_fit(&prm, &b->train, b->ytrain, &ctl, (struct gbt_model **)model);
}

static int predict_gbt(const void *model, const struct ml_matrix *x, double *out)
{
    return gbt_predict(model, x, out);
}

static void free_gbt(void *model)
{
    gbt_free(model);
}

/* The linear models: logistic regression (L2, C 1, L-BFGS, 100 iterations) for the
 * classification set, ordinary least squares for the regression set. The model pointer is a
 * tagged pair so that predict and free know which one it is. */
struct linear_model {
    struct logreg *lr;
    struct linreg *ols;
};

static int fit_linear(const struct bench_data *b, int threads, void **model)
{
    struct linear_model *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    struct ml_control ctl = {.threads = threads};
    int rc;
    if (b->nclasses) {
        struct logreg_params prm;
        logreg_params_default(&prm);
        rc = logreg_fit(&prm, &b->train, b->ytrain, b->nclasses, &ctl, &m->lr);
    } else {
        struct linreg_params prm;
        linreg_params_default(&prm);
        rc = linreg_fit(&prm, &b->train, b->ytrain, &ctl, &m->ols);
    }
    if (rc) {
        free(m);
        return rc;
    }
    *model = m;
    return 0;
}

static int predict_linear(const void *model, const struct ml_matrix *x, double *out)
{
    const struct linear_model *m = model;
    return m->lr ? logreg_predict(m->lr, x, out) : linreg_predict(m->ols, x, out);
}

static void free_linear(void *model)
{
    struct linear_model *m = model;
    if (!m)
        return;
    logreg_free(m->lr);
    linreg_free(m->ols);
    free(m);
}

static const struct learner learners[] = {
    {"tree", fit_tree, predict_tree, free_tree},
    {"forest", fit_forest, predict_forest, free_forest},
    {"gbt", fit_gbt, predict_gbt, free_gbt},
    {"linear", fit_linear, predict_linear, free_linear},
};

static int bench_one(const struct learner *l, const struct bench_data *b, const char *task,
                     int threads, double *pred)
{
    void *model = NULL;
    double t0 = now_s(), c0 = cpu_s();
    int rc = l->fit(b, threads, &model);
    double fit_s = now_s() - t0, fit_cpu = cpu_s() - c0;
    if (rc) {
        fprintf(stderr, "mlbench: %s %s: fit failed (%d)\n", l->name, task, rc);
        return 1;
    }
    rc = l->predict(model, &b->test, pred);
    double score = rc ? NAN : bench_score(b, pred);
    t0 = now_s();
    c0 = cpu_s();
    rc = rc ? rc : l->predict(model, &b->all, pred);
    double pred_s = now_s() - t0, pred_cpu = cpu_s() - c0;
    l->free_model(model);
    if (rc) {
        fprintf(stderr, "mlbench: %s %s: predict failed (%d)\n", l->name, task, rc);
        return 1;
    }
    printf("%s_%s fit_s=%.4f fit_cpu_s=%.4f score=%.4f predict_rps=%.0f predict_cpu_rps=%.0f\n",
           l->name, task, fit_s, fit_cpu, score, (double)b->all.n / pred_s,
           (double)b->all.n / pred_cpu);
    fflush(stdout);
    return 0;
}

static int cmd_run(const char *dir, int threads, const char *only)
{
    const char *tasks[] = {"cls", "reg"};
    int fails = 0;
    for (int t = 0; t < 2; t++) {
        char path[4096];
        struct dataset d = {0};
        snprintf(path, sizeof path, "%s/%s.bin", dir, tasks[t]);
        if (read_set(path, &d) != 0) {
            fprintf(stderr, "mlbench: cannot read %s (run gen first)\n", path);
            return 1;
        }
        struct bench_data b;
        bench_split(&d, t == 0 ? 2 : 0, &b);
        double *pred = malloc((d.n ? d.n : 1) * sizeof *pred);
        for (size_t i = 0; pred && i < sizeof learners / sizeof learners[0]; i++)
            if (!only || strcmp(only, learners[i].name) == 0)
                fails += bench_one(&learners[i], &b, tasks[t], threads, pred);
        fails += !pred;
        free(pred);
        free(d.x);
        free(d.y);
    }
    return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "gen") == 0) {
        long n = argc > 3 ? strtol(argv[3], NULL, 10) : 100000;
        return cmd_gen(argv[2], n > 0 && n < (1L << 26) ? (size_t)n : 100000);
    }
    if (argc >= 3 && strcmp(argv[1], "run") == 0) {
        long threads = argc > 3 ? strtol(argv[3], NULL, 10) : 2;
        return cmd_run(argv[2], threads > 0 && threads < 256 ? (int)threads : 2,
                       argc > 4 ? argv[4] : NULL);
    }
    fprintf(stderr, "usage: ibx-mlbench gen DIR [n] | run DIR [threads] [learner]\n");
    return 2;
}
