/* mlruneval: the results of a model on the prepared test rows (metrics, curves, confusion
 * matrix, feature importance, tree, preprocessing report) and the comparison of results. */
#include <ibx/mlmetrics.h>
#include <ibx/mlrand.h>
#include <ibx/mlrun.h>

#include "mlrunimpl.h"
#include "mlstr.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PERM_MAX_ROWS 2000
#define PERM_REPEATS  5

double mlrun_score(enum ml_task task, const double *y, const double *pred, size_t n)
{
    if (task == ML_CLASSIFICATION) {
        size_t ok = 0;
        for (size_t i = 0; i < n; i++)
            ok += y[i] == pred[i];
        return n ? (double)ok / (double)n : NAN;
    }
    struct mlmetrics_regression r;
    return mlmetrics_regression(y, pred, n, &r) ? NAN : r.r2;
}

/* ---- classification ---- */

/* Replace the class index in each element's "class" with its label. */
static void relabel(json_t *per_class, const char *const *labels, size_t nc)
{
    size_t i;
    json_t *e;
    json_array_foreach(per_class, i, e)
    {
        json_int_t k = json_integer_value(json_object_get(e, "class"));
        if (k >= 0 && (size_t)k < nc)
            json_object_set_new(e, "class", json_string(labels[k]));
    }
}

static int copy_keys(json_t *dst, const json_t *src, const char *const *keys)
{
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(src, keys[i]);
        if (v && json_object_set(dst, keys[i], v))
            return -ENOMEM;
    }
    return 0;
}

/* ROC or PR: binary from proba[:, 1], else one-vs-rest. *area NaN when undefined. */
static int curve_json(enum mlmetrics_curve_kind kind, const double *y, const double *proba,
                      size_t n, size_t nc, const char *const *labels, size_t maxpts, double *area,
                      json_t **out)
{
    *area = NAN;
    *out = NULL;
    if (nc == 2) {
        double *score = malloc(n * sizeof *score);
        if (!score)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++)
            score[i] = proba[i * 2 + 1];
        struct mlmetrics_curve c = {0};
        int rc = mlmetrics_curve(kind, y, score, n, 1.0, maxpts, &c);
        free(score);
        if (rc == -EINVAL)
            return 0; /* one class absent from the test rows: no curve */
        if (!rc) {
            *area = c.area;
            rc = mlmetrics_curve_json(&c, out);
        }
        mlmetrics_curve_release(&c);
        return rc;
    }
    struct mlmetrics_ovr o = {0};
    int rc = mlmetrics_ovr(kind, y, proba, n, nc, maxpts, &o);
    if (rc == -EINVAL)
        return 0;
    if (!rc) {
        *area = o.macro_area;
        rc = mlmetrics_ovr_json(&o, out);
    }
    if (!rc)
        relabel(json_object_get(*out, "per_class"), labels, nc);
    mlmetrics_ovr_release(&o);
    return rc;
}

static int add_curves(json_t *res, json_t *metrics, const double *y, const double *proba, size_t n,
                      size_t nc, const char *const *labels, size_t maxpts)
{
    double roc = NAN, pr = NAN;
    json_t *rj = NULL, *pj = NULL;
    int rc = curve_json(MLMETRICS_ROC, y, proba, n, nc, labels, maxpts, &roc, &rj);
    if (!rc)
        rc = curve_json(MLMETRICS_PR, y, proba, n, nc, labels, maxpts, &pr, &pj);
    if (!rc)
        rc = mlstr_set(metrics, "roc_auc", mlstr_real(roc));
    if (!rc)
        rc = mlstr_set(metrics, "pr_auc", mlstr_real(pr));
    if (!rc)
        rc = mlstr_set(res, "roc_curve", rj ? json_incref(rj) : json_null());
    if (!rc)
        rc = mlstr_set(res, "pr_curve", pj ? json_incref(pj) : json_null());
    json_decref(rj);
    json_decref(pj);
    return rc;
}

static int classification_metrics(json_t *res, const struct prep_output *t, const double *pred,
                                  const double *proba, const char *const *labels, size_t nc,
                                  size_t maxpts)
{
    static const char *const keys[] = {
        "accuracy",           "precision_macro", "recall_macro", "f1_macro",
        "precision_weighted", "recall_weighted", "f1_weighted",  NULL};
    struct mlmetrics_classification mc = {0};
    json_t *cj = NULL, *metrics = json_object();
    double ll = NAN;
    int rc = metrics ? mlmetrics_classification(t->y, pred, t->n, nc, &mc) : -ENOMEM;
    if (!rc)
        rc = mlmetrics_classification_json(&mc, &cj);
    if (!rc)
        rc = copy_keys(metrics, cj, keys);
    if (!rc && mlmetrics_log_loss(t->y, proba, t->n, nc, &ll) == -ENOMEM)
        rc = -ENOMEM;
    if (!rc)
        rc = mlstr_set(metrics, "log_loss", mlstr_real(ll));
    if (!rc)
        rc = add_curves(res, metrics, t->y, proba, t->n, nc, labels, maxpts);
    json_t *per_class = cj ? json_object_get(cj, "per_class") : NULL;
    if (!rc && per_class) {
        relabel(per_class, labels, nc);
        rc = mlstr_set(res, "per_class", json_incref(per_class));
    }
    if (!rc)
        rc = mlstr_set(res, "confusion_matrix",
                       json_pack("{s:o, s:O}", "labels", mlstr_strings(labels, nc), "matrix",
                                 json_object_get(cj, "confusion_matrix")));
    if (!rc)
        rc = mlstr_set(res, "metrics", json_incref(metrics));
    json_decref(metrics);
    json_decref(cj);
    mlmetrics_classification_release(&mc);
    return rc;
}

static int evaluate_predictions(json_t *res, const struct model *m, const struct prep_output *t,
                                const struct mlrun_eval_opts *opts)
{
    const struct learner_model *lm = model_learner(m);
    size_t nc = learner_model_n_classes(lm);
    const char *const *labels = prep_classes(model_prep(m), NULL);
    struct ml_matrix X = {.x = t->x, .n = t->n, .p = t->p};
    double *pred = malloc(t->n * sizeof *pred);
    double *proba = nc ? malloc(t->n * nc * sizeof *proba) : NULL;
    int rc = pred && (!nc || proba) ? model_predict_matrix(m, &X, pred, proba) : -ENOMEM;
    if (!rc && nc) {
        rc = mlstr_set(res, "classes", mlstr_strings(labels, nc));
        if (!rc)
            rc = classification_metrics(res, t, pred, proba, labels, nc, opts->curve_max_points);
    } else if (!rc) {
        struct mlmetrics_regression r;
        json_t *rj = NULL;
        rc = mlmetrics_regression(t->y, pred, t->n, &r);
        if (!rc)
            rc = mlmetrics_regression_json(&r, &rj);
        if (!rc)
            rc = mlstr_set(res, "metrics", rj);
    }
    free(pred);
    free(proba);
    return rc;
}

/* ---- feature importance ---- */

static size_t perm_rows(const struct learner_model *lm, const struct mlrun_prepared *ps)
{
    size_t m = ps->test.n < PERM_MAX_ROWS ? ps->test.n : PERM_MAX_ROWS;
    if (learner_model_id(lm) == LEARNER_KNN) {
        /* each prediction costs about ntrain * p; keep the whole measure near 2e9 */
        double per_row =
            (double)ps->train.n * (double)ps->train.p * (double)ps->train.p * PERM_REPEATS;
        double cap = per_row > 0 ? 2e9 / per_row : (double)m;
        size_t c = cap < 100 ? 100 : (size_t)cap;
        m = m < c ? m : c;
    }
    return m;
}

static int permutation_importance(const struct learner_model *lm, const struct mlrun_prepared *ps,
                                  double *imp)
{
    size_t m = perm_rows(lm, ps), p = ps->test.p;
    double *x = malloc(m * p * sizeof *x), *pred = malloc(m * sizeof *pred);
    double *col = malloc(m * sizeof *col);
    size_t *perm = malloc(m * sizeof *perm);
    int rc = x && pred && col && perm ? 0 : -ENOMEM;
    struct ml_matrix X = {.x = x, .n = m, .p = p};
    if (!rc) {
        memcpy(x, ps->test.x, m * p * sizeof *x);
        rc = learner_predict(lm, &X, pred);
    }
    double base = rc ? 0 : mlrun_score(ps->task, ps->test.y, pred, m);
    for (size_t j = 0; !rc && j < p; j++) {
        double drop = 0;
        for (size_t i = 0; i < m; i++)
            col[i] = x[i * p + j];
        for (size_t r = 0; !rc && r < PERM_REPEATS; r++) {
            struct mlrand g;
            mlrand_seed_stream(&g, ps->seed, j * PERM_REPEATS + r);
            for (size_t i = 0; i < m; i++)
                perm[i] = i;
            mlrand_shuffle(&g, perm, m);
            for (size_t i = 0; i < m; i++)
                x[i * p + j] = col[perm[i]];
            rc = learner_predict(lm, &X, pred);
            drop += base - mlrun_score(ps->task, ps->test.y, pred, m);
        }
        for (size_t i = 0; i < m; i++)
            x[i * p + j] = col[i];
        imp[j] = drop / PERM_REPEATS;
    }
    free(x);
    free(pred);
    free(col);
    free(perm);
    return rc;
}

static int cmp_importance(const void *a, const void *b, void *ctx)
{
    const double *imp = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double x = isfinite(imp[i]) ? imp[i] : -INFINITY, y = isfinite(imp[j]) ? imp[j] : -INFINITY;
    if (x != y)
        return x > y ? -1 : 1;
    return (i > j) - (i < j);
}

static int add_importance(json_t *res, const struct model *m, const struct mlrun_prepared *ps)
{
    const struct learner_model *lm = model_learner(m);
    size_t p = learner_model_n_features(lm);
    const char *const *names = prep_feature_names(model_prep(m), NULL);
    double *imp = calloc(p, sizeof *imp);
    size_t *order = malloc(p * sizeof *order);
    const char *method = "permutation";
    int rc = imp && order ? learner_importance(lm, imp, &method) : -ENOMEM;
    if (rc == -ENOTSUP)
        rc = permutation_importance(lm, ps, imp);
    json_t *feats = rc ? NULL : json_array();
    if (feats) {
        for (size_t j = 0; j < p; j++)
            order[j] = j;
        qsort_r(order, p, sizeof *order, cmp_importance, imp);
        for (size_t k = 0; k < p && !rc; k++)
            rc = mlstr_push(feats, json_pack("{s:s, s:o}", "feature", names[order[k]], "importance",
                                             mlstr_real(imp[order[k]])));
        if (!rc)
            rc = mlstr_set(res, "feature_importance",
                           json_pack("{s:s, s:O}", "method", method, "features", feats));
    } else if (!rc) {
        rc = -ENOMEM;
    }
    json_decref(feats);
    free(imp);
    free(order);
    return rc;
}

/* ---- the results ---- */

static json_t *results_head(const struct mlrun_prepared *ps, const struct model *m)
{
    const struct learner_model *lm = model_learner(m);
    return json_pack("{s:s, s:s, s:s, s:O, s:{s:f, s:I, s:b, s:I, s:I}}", "task",
                     ps->task == ML_CLASSIFICATION ? "classification" : "regression", "target",
                     prep_target(model_prep(m)), "algorithm", learner_model_name(lm),
                     "hyperparameters", learner_model_hparams(lm), "split", "test_size",
                     ps->test_size, "random_state", (json_int_t)ps->seed, "stratified",
                     ps->stratified, "train_rows", (json_int_t)ps->train.n, "test_rows",
                     (json_int_t)ps->test.n);
}

static int add_tree(json_t *res, const struct model *m, const struct mlrun_eval_opts *opts)
{
    json_t *tree = NULL;
    const char *const *names = prep_feature_names(model_prep(m), NULL);
    int rc = learner_tree_json(model_learner(m), names, opts->tree_max_nodes, opts->tree_max_trees,
                               &tree);
    if (rc == -ENOTSUP)
        return 0;
    return rc ? rc : mlstr_set(res, "tree", tree);
}

int mlrun_evaluate_state(const struct mlrun_prepared *ps, const struct model *m,
                         const struct mlrun_eval_opts *opts, json_t **out, char *err, size_t errlen)
{
    json_t *res = results_head(ps, m);
    int rc = res ? evaluate_predictions(res, m, &ps->test, opts) : -ENOMEM;
    if (!rc)
        rc = add_importance(res, m, ps);
    if (!rc)
        rc = add_tree(res, m, opts);
    if (!rc)
        rc = mlstr_set(res, "preprocessing", prep_report_json(model_prep(m)));
    if (!rc && ps->detection)
        rc = mlstr_set(res, "task_detection", json_incref(ps->detection));
    if (rc) {
        mlstr_err(err, errlen,
                  rc == -ENOMEM ? "out of memory while evaluating"
                                : "the model could not be evaluated");
        json_decref(res);
        return rc;
    }
    *out = res;
    return 0;
}

/* ---- comparison ---- */

static const char *const metric_names[] = {"accuracy",
                                           "precision_macro",
                                           "recall_macro",
                                           "f1_macro",
                                           "precision_weighted",
                                           "recall_weighted",
                                           "f1_weighted",
                                           "log_loss",
                                           "roc_auc",
                                           "pr_auc",
                                           "mae",
                                           "mse",
                                           "rmse",
                                           "r2",
                                           NULL};

static int lower_is_better(const char *metric)
{
    return strcmp(metric, "mae") == 0 || strcmp(metric, "mse") == 0 ||
           strcmp(metric, "rmse") == 0 || strcmp(metric, "log_loss") == 0;
}

struct ranked {
    size_t index;
    double value; /* NaN: no value */
};

static int cmp_ranked(const void *a, const void *b, void *ctx)
{
    const struct ranked *x = a, *y = b;
    int lower = *(const int *)ctx;
    int xn = isnan(x->value), yn = isnan(y->value);
    if (xn != yn)
        return xn - yn;
    if (!xn && x->value != y->value)
        return (lower ? x->value < y->value : x->value > y->value) ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static int check_entries(const json_t *entries, const char *metric, char *err, size_t errlen)
{
    int known = 0;
    for (size_t i = 0; metric && metric_names[i]; i++)
        known |= strcmp(metric_names[i], metric) == 0;
    if (!known) {
        mlstr_err(err, errlen, "unknown metric '%s'", metric ? metric : "");
        return -EINVAL;
    }
    if (!json_is_array(entries) || json_array_size(entries) == 0) {
        mlstr_err(err, errlen, "nothing to compare: entries must be a non-empty array");
        return -EINVAL;
    }
    for (size_t i = 0; i < json_array_size(entries); i++) {
        const json_t *e = json_array_get(entries, i);
        if (!json_is_string(json_object_get(e, "id")) ||
            !json_is_object(json_object_get(e, "results"))) {
            mlstr_err(err, errlen, "entry %zu needs an \"id\" string and a \"results\" object", i);
            return -EINVAL;
        }
    }
    return 0;
}

static json_t *ranking_json(const json_t *entries, const struct ranked *r, size_t n)
{
    json_t *a = json_array();
    for (size_t k = 0; a && k < n; k++) {
        const json_t *e = json_array_get(entries, r[k].index);
        const char *alg =
            json_string_value(json_object_get(json_object_get(e, "results"), "algorithm"));
        if (mlstr_push(a, json_pack("{s:I, s:O, s:s?, s:o}", "rank", (json_int_t)k + 1, "id",
                                    json_object_get(e, "id"), "algorithm", alg, "value",
                                    mlstr_real(r[k].value)))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

int mlrun_compare(const json_t *entries, const char *metric, json_t **out, char *err, size_t errlen)
{
    int rc = check_entries(entries, metric, err, errlen);
    if (rc)
        return rc;
    size_t n = json_array_size(entries);
    struct ranked *r = malloc(n * sizeof *r);
    if (!r)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *res = json_object_get(json_array_get(entries, i), "results");
        const json_t *v = json_object_get(json_object_get(res, "metrics"), metric);
        r[i].index = i;
        r[i].value = json_is_number(v) ? json_number_value(v) : NAN;
    }
    int lower = lower_is_better(metric);
    qsort_r(r, n, sizeof *r, cmp_ranked, &lower);
    json_t *ranking = ranking_json(entries, r, n);
    const json_t *best =
        isnan(r[0].value) ? NULL : json_object_get(json_array_get(entries, r[0].index), "id");
    free(r);
    json_t *o = ranking ? json_pack("{s:s, s:b, s:O?, s:o}", "metric", metric, "higher_is_better",
                                    !lower, "best", best, "ranking", ranking)
                        : NULL;
    if (!o)
        return -ENOMEM;
    *out = o;
    return 0;
}
