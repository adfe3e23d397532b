/* mlrunstep: the prepared data (split, preprocessing, matrices) and the experiment steps a
 * plan caches: prepare, fit, evaluate, compare. */
#include <ibx/mlenc.h>
#include <ibx/mlrun.h>
#include <ibx/split.h>

#include "mlbox.h"
#include "mlrunimpl.h"
#include "mlstr.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PREPARED_MAGIC   "IBXPRPD1"
#define PREPARED_VERSION 1u
#define MATRIX_MAGIC     "IBXMATR1"
#define META_MAX_LEN     ((size_t)16 << 20)

void mlrun_prepared_release(struct mlrun_prepared *ps)
{
    json_decref(ps->detection);
    json_decref(ps->config);
    prep_free(ps->prep);
    prep_output_release(&ps->train);
    prep_output_release(&ps->test);
    memset(ps, 0, sizeof *ps);
}

/* ---- prepare ---- */

static json_t *prepared_config(const struct mlrun_config *cfg, enum ml_task task)
{
    json_t *c = mlrun_config_json(cfg);
    if (!c)
        return NULL;
    json_object_del(c, "algorithm");
    json_object_del(c, "hyperparameters");
    if (mlstr_set(c, "task_type",
                  json_string(task == ML_CLASSIFICATION ? "classification" : "regression"))) {
        json_decref(c);
        return NULL;
    }
    return c;
}

/* The frame rows with a target and their codes (class index or value). */
static int target_rows(const struct frame *f, const struct mlrun_config *cfg, enum ml_task task,
                       size_t **rows, double **y, size_t *n, size_t *nclasses, char *err,
                       size_t errlen)
{
    size_t total = frame_nrows(f), m = 0;
    double *codes = malloc((total ? total : 1) * sizeof *codes);
    size_t *r = malloc((total ? total : 1) * sizeof *r);
    char **labels = NULL;
    int rc = codes && r ? 0 : -ENOMEM;
    if (!rc)
        rc =
            prep_target_codes(f, cfg->target, task, NULL, 0, codes, &labels, nclasses, err, errlen);
    for (size_t i = 0; labels && i < *nclasses; i++)
        free(labels[i]);
    free(labels);
    for (size_t i = 0; !rc && i < total; i++)
        if (isfinite(codes[i])) {
            codes[m] = codes[i];
            r[m++] = i;
        }
    if (!rc && m < 3) {
        mlstr_err(err, errlen, "at least 3 rows need a value in '%s' (%zu have one)", cfg->target,
                  m);
        rc = -EINVAL;
    }
    if (rc) {
        free(codes);
        free(r);
        return rc;
    }
    *rows = r;
    *y = codes;
    *n = m;
    return 0;
}

static int split_rows(const struct frame *f, const struct mlrun_config *cfg, enum ml_task task,
                      size_t **train, size_t *ntrain, size_t **test, size_t *ntest, char *err,
                      size_t errlen)
{
    size_t *rows = NULL, n = 0, nc = 0;
    double *y = NULL;
    int rc = target_rows(f, cfg, task, &rows, &y, &n, &nc, err, errlen);
    if (rc)
        return rc;
    struct split_indices si = {0};
    rc = split_train_test(n, cfg->test_size, cfg->random_state,
                          task == ML_CLASSIFICATION ? y : NULL, nc, &si);
    if (rc == -EINVAL)
        mlstr_err(err, errlen, "test_size %g of %zu rows leaves one side empty", cfg->test_size, n);
    if (!rc) {
        for (size_t i = 0; i < si.ntrain; i++)
            si.train[i] = rows[si.train[i]];
        for (size_t i = 0; i < si.ntest; i++)
            si.test[i] = rows[si.test[i]];
        *train = si.train;
        *ntrain = si.ntrain;
        *test = si.test;
        *ntest = si.ntest;
    }
    free(rows);
    free(y);
    return rc;
}

static int resolve_task(const struct frame *f, const struct mlrun_config *cfg,
                        struct mlrun_prepared *ps, char *err, size_t errlen)
{
    if (cfg->task) {
        ps->task = cfg->task;
        return 0;
    }
    int rc = mlrun_detect_task(f, cfg->target, &ps->task, &ps->detection);
    if (rc == -EINVAL)
        mlstr_err(err, errlen, "target column '%s' is missing or cannot be predicted", cfg->target);
    if (!rc) {
        json_t *problems = NULL;
        rc = learner_validate(cfg->algorithm, cfg->hyperparameters, ps->task, &problems);
        if (rc == -EINVAL) {
            const json_t *p = json_array_get(problems, 0);
            mlstr_err(err, errlen, "%s: %s (task detected: %s)",
                      json_string_value(json_object_get(p, "field")),
                      json_string_value(json_object_get(p, "message")),
                      ps->task == ML_CLASSIFICATION ? "classification" : "regression");
        }
        json_decref(problems);
    }
    return rc;
}

int mlrun_prepare_state(const struct frame *f, const struct mlrun_config *cfg,
                        struct mlrun_prepared *ps, char *err, size_t errlen)
{
    memset(ps, 0, sizeof *ps);
    size_t *train = NULL, *test = NULL, ntrain = 0, ntest = 0;
    int rc = cfg->target ? resolve_task(f, cfg, ps, err, errlen) : -EINVAL;
    if (!rc)
        rc = split_rows(f, cfg, ps->task, &train, &ntrain, &test, &ntest, err, errlen);
    if (!rc)
        rc = prep_fit(f, cfg->target, ps->task, train, ntrain, &cfg->prep, &ps->prep, err, errlen);
    if (!rc)
        rc = prep_transform(ps->prep, f, train, ntrain, &ps->train, err, errlen);
    if (!rc)
        rc = prep_transform(ps->prep, f, test, ntest, &ps->test, err, errlen);
    if (!rc && (ps->train.n < 2 || ps->test.n < 1)) {
        mlstr_err(err, errlen, "too few rows left after preprocessing (%zu train, %zu test)",
                  ps->train.n, ps->test.n);
        rc = -EINVAL;
    }
    if (!rc) {
        ps->seed = cfg->random_state;
        ps->test_size = cfg->test_size;
        ps->stratified = ps->task == ML_CLASSIFICATION;
        ps->config = prepared_config(cfg, ps->task);
        rc = ps->config ? 0 : -ENOMEM;
    }
    free(train);
    free(test);
    if (rc)
        mlrun_prepared_release(ps);
    return rc;
}

/* ---- encoding ---- */

static int put_meta(const void *obj, struct buf *b)
{
    const struct mlrun_prepared *ps = obj;
    json_t *m = json_pack("{s:s, s:I, s:f, s:b, s:O, s:O?}", "task",
                          ps->task == ML_CLASSIFICATION ? "classification" : "regression", "seed",
                          (json_int_t)ps->seed, "test_size", ps->test_size, "stratified",
                          ps->stratified, "config", ps->config, "detection", ps->detection);
    char *s = m ? json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    int rc = s ? buf_append_str(b, s) : -ENOMEM;
    free(s);
    json_decref(m);
    return rc;
}

static int put_prep(const void *obj, struct buf *b)
{
    return prep_save(obj, b);
}

static int put_matrix(const void *obj, struct buf *b)
{
    const struct prep_output *o = obj;
    struct mlenc_writer w;
    mlenc_begin(&w, b, MATRIX_MAGIC, 1);
    mlenc_put_u64(&w, o->n);
    mlenc_put_u64(&w, o->p);
    mlenc_put_u64(&w, o->dropped_missing_target);
    mlenc_put_u64(&w, o->dropped_unknown_class);
    mlenc_put_f64s(&w, o->x, o->n * o->p);
    mlenc_put_f64s(&w, o->y, o->n);
    for (size_t i = 0; i < o->n; i++)
        mlenc_put_u64(&w, o->rows[i]);
    return mlenc_end(&w);
}

int mlrun_prepared_encode(const struct mlrun_prepared *ps, struct buf *out)
{
    size_t start = 0;
    int rc = mlbox_begin(out, PREPARED_MAGIC, PREPARED_VERSION, &start);
    if (!rc)
        rc = mlbox_section(out, put_meta, ps);
    if (!rc)
        rc = mlbox_section(out, put_prep, ps->prep);
    if (!rc)
        rc = mlbox_section(out, put_matrix, &ps->train);
    if (!rc)
        rc = mlbox_section(out, put_matrix, &ps->test);
    if (rc) {
        mlbox_abort(out, start);
        return rc;
    }
    mlbox_end(out, start);
    return 0;
}

static int targets_valid(const struct prep_output *o, enum ml_task task, size_t nclasses)
{
    for (size_t i = 0; i < o->n; i++) {
        double y = o->y[i];
        if (!isfinite(y) ||
            (task == ML_CLASSIFICATION && (y < 0 || y >= (double)nclasses || y != floor(y))))
            return 0;
        for (size_t j = 0; j < o->p; j++)
            if (isinf(o->x[i * o->p + j]))
                return 0;
    }
    return 1;
}

static int get_matrix(const struct mlbox_section *s, const struct prep *prep, struct prep_output *o)
{
    struct mlenc_reader r;
    uint32_t version = 0;
    if (mlenc_open(&r, s->p, s->len, MATRIX_MAGIC, &version, NULL) || version != 1)
        return -EINVAL;
    size_t p = prep_n_features(prep), nc = 0;
    prep_classes(prep, &nc);
    o->n = mlenc_get_count(&r, 1, SIZE_MAX / 8, 8 * (p + 2));
    o->p = (size_t)mlenc_get_u64(&r);
    o->dropped_missing_target = (size_t)mlenc_get_u64(&r);
    o->dropped_unknown_class = (size_t)mlenc_get_u64(&r);
    if (r.err || o->p != p)
        return -EINVAL;
    o->x = malloc(o->n * p * sizeof *o->x);
    o->y = malloc(o->n * sizeof *o->y);
    o->rows = malloc(o->n * sizeof *o->rows);
    if (!o->x || !o->y || !o->rows)
        return -ENOMEM;
    mlenc_get_f64s(&r, o->x, o->n * p);
    mlenc_get_f64s(&r, o->y, o->n);
    for (size_t i = 0; i < o->n; i++)
        o->rows[i] = (size_t)mlenc_get_u64(&r);
    if (mlenc_close(&r) || !targets_valid(o, prep_task(prep), nc))
        return -EINVAL;
    return 0;
}

static int get_meta(const struct mlbox_section *s, struct mlrun_prepared *ps)
{
    json_t *m = s->len <= META_MAX_LEN
                    ? json_loadb((const char *)s->p, s->len, JSON_REJECT_DUPLICATES, NULL)
                    : NULL;
    const char *task = json_string_value(json_object_get(m, "task"));
    const json_t *seed = json_object_get(m, "seed");
    int rc = -EINVAL;
    if (task && json_is_integer(seed) && json_is_object(json_object_get(m, "config"))) {
        ps->task = strcmp(task, "classification") == 0 ? ML_CLASSIFICATION
                   : strcmp(task, "regression") == 0   ? ML_REGRESSION
                                                       : 0;
        ps->seed = (uint64_t)json_integer_value(seed);
        ps->test_size = json_number_value(json_object_get(m, "test_size"));
        ps->stratified = json_is_true(json_object_get(m, "stratified"));
        ps->config = json_incref(json_object_get(m, "config"));
        const json_t *d = json_object_get(m, "detection");
        ps->detection = json_is_object(d) ? json_incref((json_t *)d) : NULL;
        rc = ps->task ? 0 : -EINVAL;
    }
    json_decref(m);
    return rc;
}

int mlrun_prepared_decode(const void *data, size_t len, struct mlrun_prepared *ps, char *err,
                          size_t errlen)
{
    memset(ps, 0, sizeof *ps);
    struct mlbox_section s[4];
    int rc =
        mlbox_open(data, len, PREPARED_MAGIC, PREPARED_VERSION, s, 4, "prepared data", err, errlen);
    if (rc)
        return rc;
    rc = get_meta(&s[0], ps);
    if (!rc)
        rc = prep_load(s[1].p, s[1].len, NULL, &ps->prep);
    if (!rc && prep_task(ps->prep) != ps->task)
        rc = -EINVAL;
    if (!rc)
        rc = get_matrix(&s[2], ps->prep, &ps->train);
    if (!rc)
        rc = get_matrix(&s[3], ps->prep, &ps->test);
    if (rc) {
        if (rc == -EINVAL)
            mlstr_err(err, errlen, "prepared data is inconsistent");
        mlrun_prepared_release(ps);
    }
    return rc;
}

/* ---- fit ---- */

static const char *unit_for(const char *algorithm)
{
    const struct learner_info *li = learner_find(algorithm);
    if (!li)
        return "step";
    switch (li->id) {
    case LEARNER_RANDOM_FOREST:
        return "tree";
    case LEARNER_GRADIENT_BOOSTING:
        return "round";
    case LEARNER_LOGISTIC_REGRESSION:
        return "iteration";
    default:
        return "step";
    }
}

int mlrun_fit_state(const struct mlrun_prepared *ps, const char *algorithm, const json_t *hparams,
                    struct mlrun_prog *pg, struct learner_model **out, char *err, size_t errlen)
{
    size_t nc = 0;
    prep_classes(ps->prep, &nc);
    pg->unit = unit_for(algorithm);
    struct ml_control ctl;
    mlrun_control(pg, &ctl);
    struct ml_matrix X = {.x = ps->train.x, .n = ps->train.n, .p = ps->train.p};
    return learner_fit(algorithm, hparams, ps->task, nc, ps->seed, &X, ps->train.y, &ctl, out, err,
                       errlen);
}

json_t *mlrun_training_json(const struct mlrun_prepared *ps, const char *algorithm)
{
    json_t *t = json_deep_copy(ps->config);
    if (t && (mlstr_set(t, "algorithm", json_string(algorithm)) ||
              mlstr_set(t, "train_rows", json_integer((json_int_t)ps->train.n)) ||
              mlstr_set(t, "test_rows", json_integer((json_int_t)ps->test.n)))) {
        json_decref(t);
        return NULL;
    }
    return t;
}

json_t *mlrun_prepared_summary(const struct mlrun_prepared *ps)
{
    size_t nf = 0, nc = 0;
    const char *const *names = prep_feature_names(ps->prep, &nf);
    const char *const *classes = prep_classes(ps->prep, &nc);
    json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:o, s:o}", "task",
                          ps->task == ML_CLASSIFICATION ? "classification" : "regression",
                          "train_rows", (json_int_t)ps->train.n, "test_rows",
                          (json_int_t)ps->test.n, "n_features", (json_int_t)nf, "feature_names",
                          mlstr_strings(names, nf), "preprocessing", prep_report_json(ps->prep));
    if (o && ((nc && mlstr_set(o, "classes", mlstr_strings(classes, nc))) ||
              (ps->detection && mlstr_set(o, "task_detection", json_incref(ps->detection))))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- the steps ---- */

int mlrun_prepare(const struct frame *data, const struct mlrun_config *cfg, struct buf *out,
                  json_t **summary, char *err, size_t errlen)
{
    struct mlrun_prepared ps;
    int rc = mlrun_prepare_state(data, cfg, &ps, err, errlen);
    if (rc)
        return rc;
    json_t *sum = summary ? mlrun_prepared_summary(&ps) : NULL;
    rc = summary && !sum ? -ENOMEM : mlrun_prepared_encode(&ps, out);
    if (!rc && summary)
        *summary = sum;
    else
        json_decref(sum);
    mlrun_prepared_release(&ps);
    return rc;
}

int mlrun_fit(const void *prepared, size_t prepared_len, const char *algorithm,
              const json_t *hparams, const struct mlrun_hooks *hooks, struct buf *model_out,
              char *err, size_t errlen)
{
    struct mlrun_prepared ps;
    int rc = mlrun_prepared_decode(prepared, prepared_len, &ps, err, errlen);
    if (rc)
        return rc;
    struct mlrun_prog pg = {.hooks = hooks, .lo = 0, .hi = 100, .last = -1};
    struct learner_model *lm = NULL;
    struct model *m = NULL;
    rc = mlrun_fit_state(&ps, algorithm, hparams, &pg, &lm, err, errlen);
    json_t *training = rc ? NULL : mlrun_training_json(&ps, algorithm);
    if (!rc && !training)
        rc = -ENOMEM;
    if (!rc) {
        rc = model_new(ps.prep, lm, training, &m); /* takes both */
        ps.prep = NULL;
        lm = NULL;
    }
    if (!rc)
        rc = model_save(m, model_out);
    if (!rc)
        mlrun_report(&pg, "training", 100, "fitted");
    json_decref(training);
    learner_free(lm);
    model_free(m);
    mlrun_prepared_release(&ps);
    return rc;
}

static int same_features(const struct prep *a, const struct prep *b)
{
    size_t na = 0, nb = 0;
    const char *const *fa = prep_feature_names(a, &na);
    const char *const *fb = prep_feature_names(b, &nb);
    if (na != nb || prep_task(a) != prep_task(b))
        return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(fa[i], fb[i]) != 0)
            return 0;
    return 1;
}

int mlrun_evaluate(const void *prepared, size_t prepared_len, const void *model, size_t model_len,
                   json_t **results, char *err, size_t errlen)
{
    struct mlrun_prepared ps;
    int rc = mlrun_prepared_decode(prepared, prepared_len, &ps, err, errlen);
    if (rc)
        return rc;
    struct model *m = NULL;
    rc = model_load(model, model_len, &m, err, errlen);
    if (!rc && !same_features(ps.prep, model_prep(m))) {
        mlstr_err(err, errlen,
                  "the model was not trained on this prepared data (features "
                  "differ)");
        rc = -EINVAL;
    }
    if (!rc) {
        struct mlrun_eval_opts o = {255, 3, 200};
        rc = mlrun_evaluate_state(&ps, m, &o, results, err, errlen);
    }
    model_free(m);
    mlrun_prepared_release(&ps);
    return rc;
}
