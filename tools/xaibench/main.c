/* xaibench: the bench/xai driver: TreeSHAP throughput on an XGBoost model, and KernelSHAP
 * and LIME time per row on a random forest.
 *
 *   ibx-xaibench treeshap DIR [repeats]   DIR/model.json (XGBoost), DIR/x.csv (rows) and
 *       DIR/contribs.csv (XGBoost's pred_contribs) from bench/xai/peer.py: checks that our
 *       values agree, then times shap_tree on every row with 1 and 2 threads (one warm-up,
 *       best of repeats), for the automatic choice and for Lundberg's recursion alone:
 *       "ours_treeshap threads=<t> algo=<auto|recursive> rows=<n> best_s=<s> rows_per_s=<r>"
 *   ibx-xaibench forest [rows]   a random forest (100 trees, scikit-learn's defaults) on
 *       2,000 generated rows of 20 features; times KernelSHAP (default nsamples, k-means
 *       background of 50 rows) on `rows` rows (default 6) and LIME (5000 samples) on 40 rows,
 *       with 1 and 2 threads: "<method> threads=<t> rows=<n> ms_per_row=<ms>"; and the
 *       path-dependent TreeSHAP of the same forest on 200 rows for scale. */
#include <ibx/buf.h>
#include <ibx/forest.h>
#include <ibx/gbt.h>
#include <ibx/learner.h>
#include <ibx/lime.h>
#include <ibx/mlrand.h>
#include <ibx/shap.h>
#include <ibx/xai.h>
#include <ibx/xgbimport.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "xaibench: cannot open %s\n", path);
        return NULL;
    }
    struct buf b;
    buf_init(&b, (size_t)1 << 30);
    char chunk[65536];
    size_t got;
    int rc = 0;
    while (rc == 0 && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = buf_append(&b, chunk, got);
    fclose(f);
    if (rc) {
        buf_release(&b);
        return NULL;
    }
    *len = b.len;
    return buf_steal(&b);
}

/* A CSV of numbers: *n values, *cols per line (from the first line). */
static double *read_csv(const char *path, size_t *n, size_t *cols)
{
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text)
        return NULL;
    double *v = calloc(len / 2 + 1, sizeof *v);
    size_t count = 0;
    *cols = 0;
    for (char *p = text; v && *p;) {
        char *end = NULL;
        v[count++] = strtod(p, &end);
        if (end == p || (*end != ',' && *end != '\n')) {
            fprintf(stderr, "xaibench: %s: not a number at byte %zu\n", path, (size_t)(p - text));
            free(v);
            v = NULL;
            break;
        }
        if (*end == '\n' && *cols == 0)
            *cols = count;
        p = end + 1;
    }
    free(text);
    *n = count;
    return v;
}

static double max_diff_vs_xgboost(const struct xai_attrib *a, const double *contribs)
{
    double worst = 0.0;
    for (size_t r = 0; r < a->n; r++) {
        const double *w = contribs + r * (a->p + 1);
        for (size_t f = 0; f < a->p; f++)
            worst = fmax(worst, fabs(w[f] - a->values[r * a->p + f]));
        worst = fmax(worst, fabs(w[a->p] - a->base[r]));
    }
    return worst;
}

static int time_treeshap(const struct shap_trees *t, const struct ml_matrix *x, int repeats)
{
    const char *names[2] = {"auto", "recursive"};
    enum shap_tree_algo algos[2] = {SHAP_TREE_AUTO, SHAP_TREE_RECURSIVE};
    for (int threads = 1; threads <= 2; threads++)
        for (int a = 0; a < 2; a++) {
            struct ml_control ctl = {.threads = threads};
            double best = INFINITY;
            for (int r = 0; r <= repeats; r++) { /* the first run warms up */
                struct xai_attrib out = {0};
                double t0 = now_s();
                int rc = shap_tree_with(t, x, algos[a], &ctl, &out);
                double dt = now_s() - t0;
                xai_attrib_release(&out);
                if (rc)
                    return rc;
                best = r ? fmin(best, dt) : best;
            }
            printf("ours_treeshap threads=%d algo=%s rows=%zu best_s=%.6f rows_per_s=%.1f\n",
                   threads, names[a], x->n, best, (double)x->n / best);
            fflush(stdout);
        }
    return 0;
}

static int run_treeshap(const char *dir, int repeats)
{
    char path[4096];
    size_t len = 0, nx = 0, px = 0, nc = 0, pc = 0;
    snprintf(path, sizeof path, "%s/model.json", dir);
    char *json = read_file(path, &len);
    snprintf(path, sizeof path, "%s/x.csv", dir);
    double *x = json ? read_csv(path, &nx, &px) : NULL;
    snprintf(path, sizeof path, "%s/contribs.csv", dir);
    double *contribs = x ? read_csv(path, &nc, &pc) : NULL;
    struct gbt_model *g = NULL;
    struct shap_trees *t = NULL;
    int rc = contribs ? xgbimport_load(json, len, &g) : -EINVAL;
    rc = rc ? rc : shap_trees_from_gbt(g, &t);
    struct ml_matrix xm = {x, px ? nx / px : 0, px};
    struct xai_attrib check = {0};
    rc = rc ? rc : shap_tree(t, &xm, NULL, &check);
    if (rc == 0 && nc == xm.n * (px + 1)) {
        printf("check rows=%zu features=%zu trees=%zu max_abs_diff_vs_xgboost=%.3g "
               "max_abs_residual=%.3g\n",
               xm.n, px, shap_trees_n_trees(t), max_diff_vs_xgboost(&check, contribs),
               check.max_abs_residual);
        fflush(stdout);
    }
    rc = rc ? rc : time_treeshap(t, &xm, repeats);
    if (rc)
        fprintf(stderr, "xaibench: treeshap failed: %s\n", strerror(-rc));
    xai_attrib_release(&check);
    shap_trees_free(t);
    gbt_free(g);
    free(json);
    free(x);
    free(contribs);
    return rc ? 1 : 0;
}

/* ---- forest ---- */

#define FN 2000
#define FP 20

static void forest_data(double *x, double *y)
{
    struct mlrand r;
    mlrand_seed(&r, 1);
    for (size_t i = 0; i < FN; i++) {
        double *row = x + i * FP, s = 0.0;
        for (size_t f = 0; f < FP; f++)
            row[f] = mlrand_normal(&r);
        s = row[0] * row[1] + sin(2.0 * row[2]) + row[3] - 0.5 * row[4] * row[4];
        for (size_t f = 5; f < FP; f++)
            s += 0.3 * row[f];
        y[i] = (double)(s + 0.5 * mlrand_normal(&r) > 0.0);
    }
}

static void report(const char *what, int threads, size_t rows, double s)
{
    printf("%s threads=%d rows=%zu ms_per_row=%.3f\n", what, threads, rows,
           1000.0 * s / (double)rows);
    fflush(stdout);
}

static int time_forest(const struct learner_model *lm, const struct ml_matrix *xm, size_t krows)
{
    struct xai_predictor f;
    struct xai_background bg = {0};
    struct lime_explainer *le = NULL;
    struct shap_trees *t = NULL;
    int rc = xai_predictor_learner(lm, &f);
    rc = rc ? rc : xai_background_kmeans(xm, 50, 1, &bg);
    rc = rc ? rc : lime_explainer_new(xm, &le);
    rc = rc ? rc : shap_trees_from_learner(lm, &t);
    for (int threads = 1; rc == 0 && threads <= 2; threads++) {
        struct ml_control ctl = {.threads = threads};
        struct ml_matrix kx = {xm->x, krows, FP}, lx = {xm->x, 40, FP};
        struct xai_attrib a = {0};
        struct lime_result lr = {0};
        double t0 = now_s();
        rc = shap_kernel(&f, &bg, &kx, NULL, &ctl, &a);
        double t1 = now_s();
        rc = rc ? rc : lime_explain(le, &f, &lx, NULL, &ctl, &lr);
        double t2 = now_s();
        struct xai_attrib ta = {0};
        struct ml_matrix tx = {xm->x, 200, FP};
        rc = rc ? rc : shap_tree(t, &tx, &ctl, &ta);
        double t3 = now_s();
        if (rc == 0) {
            report("kernelshap", threads, krows, t1 - t0);
            report("lime", threads, 40, t2 - t1);
            report("treeshap_forest", threads, tx.n, t3 - t2);
        }
        xai_attrib_release(&a);
        xai_attrib_release(&ta);
        lime_result_release(&lr);
    }
    shap_trees_free(t);
    lime_explainer_free(le);
    xai_background_release(&bg);
    return rc;
}

static int run_forest(size_t krows)
{
    double *x = malloc(FN * FP * sizeof *x), *y = malloc(FN * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return 1;
    }
    forest_data(x, y);
    struct ml_matrix xm = {x, FN, FP};
    struct learner_model *lm = NULL;
    char err[256];
    struct ml_control ctl = {.threads = 2};
    int rc = learner_fit("random_forest", NULL, ML_CLASSIFICATION, 2, 1, &xm, y, &ctl, &lm, err,
                         sizeof err);
    if (rc)
        fprintf(stderr, "xaibench: forest: %s\n", err);
    if (rc == 0)
        printf("forest trees=100 features=%d rows=%d (scikit-learn defaults: unlimited depth, "
               "sqrt features)\n",
               FP, FN);
    rc = rc ? rc : time_forest(lm, &xm, krows);
    if (rc)
        fprintf(stderr, "xaibench: forest timing failed: %s\n", strerror(-rc));
    learner_free(lm);
    free(x);
    free(y);
    return rc ? 1 : 0;
}

static long arg_number(const char *s, long def)
{
    if (!s)
        return def;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno || *end || v < 1 || v > 1000 ? def : v;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "treeshap") == 0)
        return run_treeshap(argv[2], (int)arg_number(argc > 3 ? argv[3] : NULL, 5));
    if (argc >= 2 && strcmp(argv[1], "forest") == 0)
        return run_forest((size_t)arg_number(argc > 2 ? argv[2] : NULL, 6));
    fprintf(stderr, "usage: ibx-xaibench treeshap DIR [repeats] | forest [rows]\n");
    return 2;
}
