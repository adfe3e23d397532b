/* xcompute: one explanation from a loaded model and its dataset: the rows transformed by
 * the model's own preprocessing, the experiment's train/test split reproduced from the
 * model's training settings, the instance of a local explanation, then the method
 * (xmethods.c) and the result object. Deterministic: the same inputs give the same result
 * whatever the thread count (libs/xai's guarantee; every sample here is seeded). */
#include "xcompute.h"

#include <ibx/mlrand.h>
#include <ibx/split.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *xc_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

size_t xc_max_rows(const struct xc *c, size_t def)
{
    return c->j->req->opt.max_rows > 0 ? (size_t)c->j->req->opt.max_rows : def;
}

/* ------------------------------------------------------------------ progress */

static void xc_progress(void *ctx, size_t done, size_t total)
{
    struct xc *c = ctx;
    const struct ml_control *up = &c->j->ctl;
    if (!up->progress || total == 0)
        return;
    size_t part = done >= total ? 1000 : done * 1000 / total;
    up->progress(up->ctx, c->phase * 1000 + part, c->nphases * 1000);
}

void xc_phase(struct xc *c, size_t i)
{
    c->phase = i < c->nphases ? i : c->nphases ? c->nphases - 1 : 0;
    xc_progress(c, 0, 1);
}

/* ------------------------------------------------------------------ rows */

int xc_gather(const struct xc *c, const size_t *idx, size_t n, double **x)
{
    double *m = malloc((n ? n : 1) * c->p * sizeof(*m));
    if (!m)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        memcpy(m + i * c->p, c->all.x + idx[i] * c->p, c->p * sizeof(*m));
    *x = m;
    return 0;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

int xc_sample(size_t n, size_t max, uint64_t seed, size_t **out, size_t *count)
{
    size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
    if (!idx)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    if (n > max) {
        struct mlrand r;
        mlrand_seed(&r, seed ^ 0x5851f42d4c957f2dULL);
        mlrand_shuffle(&r, idx, n);
        n = max;
        qsort(idx, n, sizeof(*idx), cmp_size);
    }
    *out = idx;
    *count = n;
    return 0;
}

json_t *xc_row_values(const struct xc *c, size_t row)
{
    json_t *v = NULL;
    if (frame_row_json(c->j->data, row, &v) != 0)
        return json_object();
    return v;
}

long xc_feature_of_column(const struct xc *c, const char *name)
{
    for (size_t f = 0; f < c->p; f++)
        if (c->alone[f] && strcmp(c->groups.names[c->groups.group[f]], name) == 0)
            return (long)f;
    return -1;
}

/* The problems of prep_transform_json_rows as one line. */
static void problems_message(const json_t *problems, char *err, size_t errlen)
{
    const json_t *p = json_array_get(problems, 0);
    const char *field = json_string_value(json_object_get(p, "field"));
    const char *msg = json_string_value(json_object_get(p, "message"));
    snprintf(err, errlen, "instance: %s%s%s", field ? field : "", field ? ": " : "",
             msg ? msg : "not accepted by the model's preprocessing");
}

int xc_instance(const struct xc *c, double **x, json_t **raw, long *row, char *err, size_t errlen)
{
    const struct xe_request *r = c->j->req;
    json_t *values = NULL;
    if (r->instance) {
        values = json_incref(r->instance);
        *row = -1;
    } else {
        size_t n = frame_nrows(c->j->data);
        if (r->instance_index < 0 || (size_t)r->instance_index >= n) {
            snprintf(err, errlen, "instance_index %ld is beyond the dataset's %zu rows",
                     r->instance_index, n);
            return -EINVAL;
        }
        values = xc_row_values(c, (size_t)r->instance_index);
        *row = r->instance_index;
    }
    json_t *arr = json_pack("[O]", values), *problems = NULL;
    size_t n = 0;
    int rc = arr ? prep_transform_json_rows(c->prep, arr, x, &n, &problems) : -ENOMEM;
    json_decref(arr);
    if (rc == -EINVAL)
        problems_message(problems, err, errlen);
    json_decref(problems);
    if (rc) {
        json_decref(values);
        return rc;
    }
    *raw = values;
    return 0;
}

/* ------------------------------------------------------------------ shared helpers */

/* 1 when feature x ranks before y: larger importance first, then lower index (NaN last). */
static int rank_before(const double *imp, size_t x, size_t y)
{
    double u = isnan(imp[x]) ? -INFINITY : imp[x], v = isnan(imp[y]) ? -INFINITY : imp[y];
    return u != v ? u > v : x < y;
}

void xc_rank(const double *imp, size_t n, size_t *order)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 1; i < n; i++) { /* insertion sort: n is a feature count */
        size_t v = order[i], k = i;
        for (; k > 0 && rank_before(imp, v, order[k - 1]); k--)
            order[k] = order[k - 1];
        order[k] = v;
    }
}

json_t *xc_prediction(const struct xc *c, const double *x)
{
    struct ml_matrix m = {x, 1, c->p};
    double pred = 0;
    double *proba = c->task == ML_CLASSIFICATION ? calloc(c->nclasses, sizeof(double)) : NULL;
    if (c->task == ML_CLASSIFICATION && !proba)
        return NULL;
    if (model_predict_matrix(c->j->model, &m, &pred, proba) != 0) {
        free(proba);
        return NULL;
    }
    json_t *out = NULL;
    if (c->task == ML_CLASSIFICATION) {
        json_t *probs = json_object();
        for (size_t k = 0; probs && k < c->nclasses; k++)
            json_object_set_new(probs, c->classes[k], xc_num(proba[k]));
        size_t label = pred >= 0 && pred < (double)c->nclasses ? (size_t)pred : 0;
        out = json_pack("{s:s, s:o}", "label", c->classes[label], "probabilities", probs);
    } else {
        out = json_pack("{s:o}", "value", xc_num(pred));
    }
    free(proba);
    return out;
}

double xc_pearson(const double *x, size_t n, size_t p, size_t a, size_t b)
{
    double ma = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        ma += x[i * p + a];
        mb += x[i * p + b];
    }
    ma /= (double)n;
    mb /= (double)n;
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        double da = x[i * p + a] - ma, db = x[i * p + b] - mb;
        sab += da * db;
        saa += da * da;
        sbb += db * db;
    }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
}

json_t *xc_contributions(const char *const *names, const double *vals, size_t g, const json_t *raw,
                         size_t *order)
{
    double *mag = calloc(g ? g : 1, sizeof(double));
    if (!mag)
        return NULL;
    for (size_t f = 0; f < g; f++)
        mag[f] = fabs(vals[f]);
    xc_rank(mag, g, order);
    free(mag);
    json_t *out = json_array();
    for (size_t r = 0; out && r < g; r++) {
        const json_t *v = json_object_get(raw, names[order[r]]);
        json_array_append_new(out, json_pack("{s:s, s:O, s:o}", "feature", names[order[r]], "value",
                                             v ? v : json_null(), "contribution",
                                             xc_num(vals[order[r]])));
    }
    return out;
}

/* The model feature that stands alone for group g, or -1. */
static long xc_alone_of_group(const struct xc *c, size_t g)
{
    for (size_t f = 0; f < c->p; f++)
        if (c->alone[f] && c->groups.group[f] == g)
            return (long)f;
    return -1;
}

json_t *xc_correlation(const struct xc *c, const double *x, size_t n, const size_t *order,
                       size_t ng)
{
    long fa = -1, fb = -1;
    size_t ga = 0, gb = 0;
    for (size_t i = 0; i < ng && fb < 0; i++) {
        long f = xc_alone_of_group(c, order[i]);
        if (f >= 0 && fa < 0)
            fa = f, ga = order[i];
        else if (f >= 0)
            fb = f, gb = order[i];
    }
    if (fa < 0 || fb < 0 || n < 3)
        return NULL;
    double r = xc_pearson(x, n, c->p, (size_t)fa, (size_t)fb);
    if (!isfinite(r))
        return NULL;
    return json_pack("{s:[s, s], s:o}", "features", c->groups.names[ga], c->groups.names[gb],
                     "pearson", xc_num(r));
}

/* ------------------------------------------------------------------ set-up */

/* The experiment's split of the transformed rows, reproduced from the model's training
 * settings (mlrun: rows with a target, split_train_test with test_size and random_state,
 * stratified for classification); every row on both sides when that is not possible. */
static int xc_split(struct xc *c)
{
    const json_t *t = json_object_get(model_meta(c->j->model), "training");
    const json_t *ts = json_object_get(t, "test_size"), *rs = json_object_get(t, "random_state");
    struct split_indices si;
    memset(&si, 0, sizeof(si));
    if (json_is_number(ts) && json_is_integer(rs) && c->all.dropped_unknown_class == 0 &&
        split_train_test(c->all.n, json_number_value(ts), (uint64_t)json_integer_value(rs),
                         c->task == ML_CLASSIFICATION ? c->all.y : NULL, c->nclasses, &si) == 0) {
        c->split_reproduced =
            (json_int_t)si.ntrain == json_integer_value(json_object_get(t, "train_rows")) &&
            (json_int_t)si.ntest == json_integer_value(json_object_get(t, "test_rows"));
        if (c->split_reproduced) {
            c->train = si.train, c->ntrain = si.ntrain, c->test = si.test, c->ntest = si.ntest;
            return 0;
        }
        split_indices_release(&si);
    }
    c->train = malloc(c->all.n * sizeof(size_t));
    c->test = malloc(c->all.n * sizeof(size_t));
    if (!c->train || !c->test)
        return -ENOMEM;
    for (size_t i = 0; i < c->all.n; i++)
        c->train[i] = c->test[i] = i;
    c->ntrain = c->ntest = c->all.n;
    return 0;
}

/* Per model feature: the scaling to undo and whether it stands alone for its column. */
static int xc_scales(struct xc *c)
{
    c->center = calloc(c->p, sizeof(double));
    c->scale = malloc(c->p * sizeof(double));
    c->alone = calloc(c->p, sizeof(int));
    json_t *report = prep_report_json(c->prep);
    if (!c->center || !c->scale || !c->alone || !report) {
        json_decref(report);
        return -ENOMEM;
    }
    for (size_t f = 0; f < c->p; f++)
        c->scale[f] = 1.0;
    size_t i;
    const json_t *feat;
    json_array_foreach(json_object_get(report, "features"), i, feat)
    {
        const char *kind = json_string_value(json_object_get(feat, "kind"));
        const json_t *outs = json_object_get(feat, "outputs");
        if (!kind || strcmp(kind, "categorical") == 0 || json_array_size(outs) != 1)
            continue;
        const char *name = json_string_value(json_array_get(outs, 0));
        for (size_t f = 0; name && f < c->p; f++) {
            if (strcmp(c->fnames[f], name) != 0)
                continue;
            const json_t *ce = json_object_get(feat, "center"),
                         *sc = json_object_get(feat, "scale");
            c->center[f] = json_is_number(ce) ? json_number_value(ce) : 0.0;
            c->scale[f] =
                json_is_number(sc) && json_number_value(sc) != 0 ? json_number_value(sc) : 1.0;
            c->alone[f] = 1;
        }
    }
    json_decref(report);
    return 0;
}

static int xc_setup(struct xc *c, const struct xe_job *j, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->j = j;
    c->prep = model_prep(j->model);
    c->lm = model_learner(j->model);
    c->task = model_task(j->model);
    c->fnames = prep_feature_names(c->prep, &c->p);
    c->classes = prep_classes(c->prep, &c->nclasses);
    c->seed = j->req->opt.seed >= 0 ? (uint64_t)j->req->opt.seed : 0;
    c->ctl = j->ctl;
    c->ctl.progress = xc_progress;
    c->ctl.ctx = c;
    c->nphases = 1;
    c->params = json_object();
    if (!c->params)
        return -ENOMEM;
    int rc = prep_transform(c->prep, j->data, NULL, 0, &c->all, err, errlen);
    if (rc)
        return rc;
    if (c->all.n < 2) {
        snprintf(err, errlen, "the dataset has %zu rows with a value in '%s': too few to explain",
                 c->all.n, prep_target(c->prep));
        return -EINVAL;
    }
    rc = xai_groups_from_prep(c->prep, &c->groups);
    if (rc == 0)
        rc = xc_split(c);
    if (rc == 0)
        rc = xc_scales(c);
    return rc;
}

static void xc_release(struct xc *c)
{
    prep_output_release(&c->all);
    xai_groups_release(&c->groups);
    free(c->train);
    free(c->test);
    free(c->center);
    free(c->scale);
    free(c->alone);
    json_decref(c->params);
}

/* ------------------------------------------------------------------ the result */

/* The metrics the narrative and the reader use, from the experiment's results. */
static json_t *xc_metrics(const struct xc *c)
{
    static const char *const cls[] = {"accuracy", "f1_macro", "precision_macro", "recall_macro",
                                      "roc_auc"};
    static const char *const reg[] = {"r2", "rmse", "mae"};
    const char *const *keys = c->task == ML_CLASSIFICATION ? cls : reg;
    size_t n =
        c->task == ML_CLASSIFICATION ? sizeof(cls) / sizeof(cls[0]) : sizeof(reg) / sizeof(reg[0]);
    const json_t *m = json_object_get(c->j->experiment_results, "metrics");
    json_t *out = json_object();
    for (size_t i = 0; out && i < n; i++) {
        const json_t *v = json_object_get(m, keys[i]);
        if (json_is_number(v))
            json_object_set_new(out, keys[i], json_real(json_number_value(v)));
    }
    return out;
}

static json_t *xc_skeleton(const struct xc *c)
{
    const struct xe_job *j = c->j;
    json_t *cols = json_array();
    for (size_t g = 0; cols && g < c->groups.n; g++)
        json_array_append_new(cols, json_string(c->groups.names[g]));
    json_t *classes = json_array();
    for (size_t k = 0; classes && k < c->nclasses; k++)
        json_array_append_new(classes, json_string(c->classes[k]));
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:{s:I, s:I, "
        "s:I, s:s}}",
        "experiment_id", j->experiment_id, "model_sha256", j->model_sha256, "dataset_version",
        j->dataset_version, "algorithm", learner_model_name(c->lm), "task",
        c->task == ML_CLASSIFICATION ? "classification" : "regression", "target",
        prep_target(c->prep), "explanation_type", xe_type_name(j->req->type), "method_requested",
        xe_method_name(j->req->method), "method", xe_used_name(j->used), "method_reason",
        j->method_reason, "seed", (json_int_t)c->seed, "features", cols, "classes", classes,
        "metrics", xc_metrics(c), "data", "rows_with_target", (json_int_t)c->all.n, "train_rows",
        (json_int_t)c->ntrain, "test_rows", (json_int_t)c->ntest, "split",
        c->split_reproduced ? "experiment" : "all_rows");
}

int xcompute_run(const struct xe_job *j, json_t **out, char *err, size_t errlen)
{
    struct xc c;
    if (errlen)
        err[0] = '\0';
    int rc = xc_setup(&c, j, err, errlen);
    json_t *res = rc ? NULL : xc_skeleton(&c);
    if (!rc && !res)
        rc = -ENOMEM;
    if (!rc) {
        switch (j->used) {
        case XE_USE_LIME:
            rc = xm_lime(&c, res, err, errlen);
            break;
        case XE_USE_PERMUTATION:
            rc = xm_permutation(&c, res, err, errlen);
            break;
        case XE_USE_PDP:
            rc = xm_pdp(&c, res, err, errlen);
            break;
        default:
            rc = xm_shap(&c, res, err, errlen);
            break;
        }
    }
    if (!rc) {
        json_object_set(res, "parameters", c.params);
        *out = res;
    } else {
        json_decref(res);
        if (rc == -ENOMEM && errlen && err[0] == '\0')
            snprintf(err, errlen, "not enough memory for this explanation");
        else if (errlen && err[0] == '\0')
            snprintf(err, errlen, "the explanation could not be computed (%s)", strerror(-rc));
    }
    xc_release(&c);
    return rc;
}

char *xcompute_dump(const json_t *result)
{
    return json_dumps(result, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
}
