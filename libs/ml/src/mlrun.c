/* mlrun: the experiment configuration, progress reporting, and mlrun_train (prepare,
 * cross-validation, fit, evaluate, save in one call with progress and timings). */
#include <ibx/mlrun.h>
#include <ibx/split.h>

#include <ibx/hash.h>

#include "mlbox.h"
#include "mlrunimpl.h"
#include "mlstr.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TARGET_MAX_LEN 1024

/* ---- configuration ---- */

void mlrun_config_default(struct mlrun_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    prep_config_default(&cfg->prep);
    cfg->test_size = 0.2;
    cfg->random_state = 42;
    cfg->tree_max_nodes = 255;
    cfg->tree_max_trees = 3;
    cfg->curve_max_points = 200;
}

void mlrun_config_release(struct mlrun_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->target);
    free(cfg->algorithm);
    json_decref(cfg->hyperparameters);
    prep_config_release(&cfg->prep);
    cfg->target = NULL;
    cfg->algorithm = NULL;
    cfg->hyperparameters = NULL;
}

struct cstate {
    json_t *problems;
    int oom;
};

static void cproblem(struct cstate *cs, const char *field, const char *msg)
{
    if (mlstr_problem(cs->problems, field, msg))
        cs->oom = 1;
}

static void merge(struct cstate *cs, json_t *more)
{
    size_t i;
    json_t *p;
    json_array_foreach(more, i, p)
    {
        if (json_array_append(cs->problems, p))
            cs->oom = 1;
    }
    json_decref(more);
}

static char *dup_string(struct cstate *cs, const json_t *v, const char *field)
{
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > TARGET_MAX_LEN) {
        cproblem(cs, field, v ? "must be a non-empty string" : "is required");
        return NULL;
    }
    char *s = strdup(json_string_value(v));
    if (!s)
        cs->oom = 1;
    return s;
}

static void parse_task(struct cstate *cs, const json_t *v, struct mlrun_config *c)
{
    const char *s = json_string_value(v);
    if (!v || json_is_null(v))
        c->task = 0;
    else if (s && strcmp(s, "classification") == 0)
        c->task = ML_CLASSIFICATION;
    else if (s && strcmp(s, "regression") == 0)
        c->task = ML_REGRESSION;
    else
        cproblem(cs, "task_type", "must be classification or regression");
}

static void parse_numbers(struct cstate *cs, const json_t *body, struct mlrun_config *c)
{
    const json_t *v = json_object_get(body, "test_size");
    if (v && !json_is_null(v)) {
        double t = json_number_value(v);
        if (!json_is_number(v) || !(t > 0 && t < 1))
            cproblem(cs, "test_size", "must be a number between 0 and 1 (exclusive)");
        else
            c->test_size = t;
    }
    v = json_object_get(body, "random_state");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > 4294967295LL)
            cproblem(cs, "random_state", "must be an integer between 0 and 4294967295");
        else
            c->random_state = (uint64_t)json_integer_value(v);
    }
    v = json_object_get(body, "cv_folds");
    if (v && !json_is_null(v)) {
        json_int_t k = json_integer_value(v);
        if (!json_is_integer(v) || (k != 0 && (k < 2 || k > 20)))
            cproblem(cs, "cv_folds", "must be 0 (none) or an integer between 2 and 20");
        else
            c->cv_folds = (size_t)k;
    }
}

static void parse_learning(struct cstate *cs, const json_t *body, struct mlrun_config *c)
{
    c->algorithm = dup_string(cs, json_object_get(body, "algorithm"), "algorithm");
    const json_t *hp = json_object_get(body, "hyperparameters");
    if (hp && !json_is_null(hp)) {
        if (!json_is_object(hp)) {
            cproblem(cs, "hyperparameters", "must be an object");
            return;
        }
        c->hyperparameters = json_deep_copy(hp);
        if (!c->hyperparameters)
            cs->oom = 1;
    }
    if (!c->algorithm)
        return;
    json_t *more = NULL;
    int rc = learner_validate(c->algorithm, c->hyperparameters, c->task, &more);
    if (rc == -EINVAL)
        merge(cs, more);
    else if (rc)
        cs->oom = 1;
}

int mlrun_config_parse(const json_t *body, struct mlrun_config *out, json_t **problems)
{
    struct mlrun_config c;
    mlrun_config_default(&c);
    struct cstate cs = {.problems = json_array(), .oom = 0};
    if (!cs.problems)
        return -ENOMEM;
    if (!json_is_object(body)) {
        cproblem(&cs, "body", "must be a JSON object");
    } else {
        c.target = dup_string(&cs, json_object_get(body, "target_column"), "target_column");
        parse_task(&cs, json_object_get(body, "task_type"), &c);
        parse_learning(&cs, body, &c);
        json_t *more = NULL;
        int rc = prep_config_parse(json_object_get(body, "preprocessing"), &c.prep, &more);
        if (rc == -EINVAL)
            merge(&cs, more);
        else if (rc)
            cs.oom = 1;
        parse_numbers(&cs, body, &c);
    }
    int rc = cs.oom ? -ENOMEM : json_array_size(cs.problems) ? -EINVAL : 0;
    if (rc) {
        mlrun_config_release(&c);
        if (rc == -EINVAL && problems)
            *problems = cs.problems;
        else
            json_decref(cs.problems);
        return rc;
    }
    json_decref(cs.problems);
    *out = c;
    return 0;
}

json_t *mlrun_config_json(const struct mlrun_config *cfg)
{
    const char *task = cfg->task == ML_CLASSIFICATION ? "classification"
                       : cfg->task == ML_REGRESSION   ? "regression"
                                                      : NULL;
    return json_pack("{s:s?, s:s?, s:s?, s:O?, s:o, s:f, s:I, s:I}", "target_column", cfg->target,
                     "task_type", task, "algorithm", cfg->algorithm, "hyperparameters",
                     cfg->hyperparameters, "preprocessing", prep_config_json(&cfg->prep),
                     "test_size", cfg->test_size, "random_state", (json_int_t)cfg->random_state,
                     "cv_folds", (json_int_t)cfg->cv_folds);
}

/* ---- progress ---- */

double mlrun_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int mlrun_cancelled(const struct mlrun_hooks *hooks)
{
    return hooks && hooks->cancel && *hooks->cancel;
}

void mlrun_report(struct mlrun_prog *pg, const char *stage, int percent, const char *detail)
{
    if (percent < pg->last)
        percent = pg->last;
    if (percent > 100)
        percent = 100;
    int same_stage = pg->stage && strcmp(pg->stage, stage) == 0;
    if (same_stage && percent == pg->last && pg->last >= 0)
        return;
    pg->stage = stage;
    pg->last = percent;
    if (pg->hooks && pg->hooks->progress)
        pg->hooks->progress(pg->hooks->ctx, stage, percent, detail ? detail : "");
}

static void on_learner_progress(void *ctx, size_t done, size_t total)
{
    struct mlrun_prog *pg = ctx;
    if (total == 0)
        return;
    double f = (double)done / (double)total;
    int percent = pg->lo + (int)floor((pg->hi - pg->lo) * (f > 1 ? 1 : f));
    if (percent <= pg->last)
        return;
    char detail[96];
    if (pg->parts)
        snprintf(detail, sizeof detail, "fold %zu of %zu: %s %zu of %zu", pg->part, pg->parts,
                 pg->unit, done, total);
    else
        snprintf(detail, sizeof detail, "%s %zu of %zu", pg->unit, done, total);
    mlrun_report(pg, "training", percent, detail);
}

void mlrun_control(struct mlrun_prog *pg, struct ml_control *ctl)
{
    memset(ctl, 0, sizeof *ctl);
    ctl->progress = on_learner_progress;
    ctl->ctx = pg;
    ctl->cancel = pg->hooks ? pg->hooks->cancel : NULL;
    ctl->threads = pg->hooks ? pg->hooks->threads : 0;
}

/* ---- mlrun_train ---- */

struct timings {
    double preprocessing, cross_validation, training, evaluating, saving, total;
};

static int fold_score(const struct frame *f, const struct mlrun_config *cfg,
                      const struct mlrun_prepared *ps, const size_t *rows,
                      const struct split_indices *si, struct mlrun_prog *pg, double *score,
                      char *err, size_t errlen)
{
    size_t *tr = malloc(si->ntrain * sizeof *tr), *te = malloc(si->ntest * sizeof *te);
    struct prep *prep = NULL;
    struct prep_output a = {0}, b = {0};
    struct learner_model *lm = NULL;
    double *pred = NULL;
    int rc = tr && te ? 0 : -ENOMEM;
    for (size_t i = 0; !rc && i < si->ntrain; i++)
        tr[i] = rows[si->train[i]];
    for (size_t i = 0; !rc && i < si->ntest; i++)
        te[i] = rows[si->test[i]];
    if (!rc)
        rc = prep_fit(f, cfg->target, ps->task, tr, si->ntrain, &cfg->prep, &prep, err, errlen);
    if (!rc)
        rc = prep_transform(prep, f, tr, si->ntrain, &a, err, errlen);
    if (!rc)
        rc = prep_transform(prep, f, te, si->ntest, &b, err, errlen);
    if (!rc) {
        size_t nc = 0;
        prep_classes(prep, &nc);
        struct ml_matrix X = {.x = a.x, .n = a.n, .p = a.p};
        struct ml_control ctl;
        mlrun_control(pg, &ctl);
        rc = learner_fit(cfg->algorithm, cfg->hyperparameters, ps->task, nc, ps->seed, &X, a.y,
                         &ctl, &lm, err, errlen);
    }
    if (!rc && b.n) {
        struct ml_matrix T = {.x = b.x, .n = b.n, .p = b.p};
        rc = (pred = malloc(b.n * sizeof *pred)) ? learner_predict(lm, &T, pred) : -ENOMEM;
    }
    *score = !rc && b.n ? mlrun_score(ps->task, b.y, pred, b.n) : NAN;
    free(pred);
    learner_free(lm);
    prep_output_release(&a);
    prep_output_release(&b);
    prep_free(prep);
    free(tr);
    free(te);
    return rc;
}

static int make_folds(const struct mlrun_prepared *ps, size_t k, struct split_folds *folds,
                      char *err, size_t errlen)
{
    size_t n = ps->train.n, nc = 0;
    prep_classes(ps->prep, &nc);
    if (k > n) {
        mlstr_err(err, errlen, "cv_folds (%zu) is more than the %zu training rows", k, n);
        return -EINVAL;
    }
    int rc = ps->task == ML_CLASSIFICATION
                 ? split_stratified_kfold(ps->train.y, n, nc, k, 1, ps->seed, folds)
                 : split_kfold(n, k, 1, ps->seed, folds);
    if (rc == -EINVAL)
        mlstr_err(err, errlen, "the training rows cannot be cut into %zu folds", k);
    return rc;
}

static int cross_validate(const struct frame *f, const struct mlrun_config *cfg,
                          const struct mlrun_prepared *ps, struct mlrun_prog *pg, json_t **out,
                          char *err, size_t errlen)
{
    size_t k = cfg->cv_folds;
    struct split_folds folds = {0};
    int rc = make_folds(ps, k, &folds, err, errlen);
    json_t *scores = rc ? NULL : json_array();
    double sum = 0, ss = 0;
    int lo = pg->lo, span = pg->hi - pg->lo;
    for (size_t i = 0; !rc && i < k; i++) {
        struct split_indices si = {0};
        double score = NAN;
        pg->part = i + 1;
        pg->parts = k;
        pg->lo = lo + (int)(span * (double)i / (double)k);
        pg->hi = lo + (int)(span * (double)(i + 1) / (double)k);
        rc = scores ? split_fold(&folds, i, &si) : -ENOMEM;
        if (!rc)
            rc = fold_score(f, cfg, ps, ps->train.rows, &si, pg, &score, err, errlen);
        split_indices_release(&si);
        if (!rc && mlstr_push(scores, mlstr_real(score)))
            rc = -ENOMEM;
        sum += score;
        ss += score * score;
    }
    split_folds_release(&folds);
    pg->parts = 0;
    if (!rc) {
        double mean = sum / (double)k, var = ss / (double)k - mean * mean;
        *out = json_pack("{s:I, s:s, s:O, s:o, s:o}", "folds", (json_int_t)k, "metric",
                         ps->task == ML_CLASSIFICATION ? "accuracy" : "r2", "scores", scores,
                         "mean", mlstr_real(mean), "std", mlstr_real(sqrt(var > 0 ? var : 0)));
        rc = *out ? 0 : -ENOMEM;
    }
    json_decref(scores);
    return rc;
}

static json_t *timings_json(const struct timings *t)
{
    return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "preprocessing", t->preprocessing,
                     "cross_validation", t->cross_validation, "training", t->training, "evaluating",
                     t->evaluating, "saving", t->saving, "total", t->total);
}

static int finish_results(json_t *results, json_t *cv, const struct buf *model, size_t start,
                          const struct timings *t)
{
    char hex[65];
    hash_sha256_hex(model->data + start, model->len - start, hex);
    json_t *mj = json_pack("{s:I, s:s}", "bytes", (json_int_t)(model->len - start), "sha256", hex);
    int rc = mlstr_set(results, "model", mj);
    if (!rc && cv)
        rc = mlstr_set(results, "cv", json_incref(cv));
    if (!rc)
        rc = mlstr_set(results, "timings_ms", timings_json(t));
    return rc;
}

struct train_ctx {
    const struct frame *f;
    const struct mlrun_config *cfg;
    struct mlrun_prog pg;
    struct mlrun_prepared ps;
    struct learner_model *lm;
    struct model *model;
    json_t *cv, *results;
    struct timings t;
    char *err;
    size_t errlen;
};

static int train_fit(struct train_ctx *tc)
{
    double t0 = mlrun_now_ms();
    int has_cv = tc->cfg->cv_folds >= 2;
    tc->pg.lo = 15;
    tc->pg.hi = has_cv ? 15 + 70 * (int)tc->cfg->cv_folds / (int)(tc->cfg->cv_folds + 1) : 15;
    int rc = 0;
    if (has_cv) {
        rc = cross_validate(tc->f, tc->cfg, &tc->ps, &tc->pg, &tc->cv, tc->err, tc->errlen);
        tc->t.cross_validation = mlrun_now_ms() - t0;
    }
    if (rc)
        return rc;
    t0 = mlrun_now_ms();
    tc->pg.lo = tc->pg.hi;
    tc->pg.hi = 85;
    rc = mlrun_fit_state(&tc->ps, tc->cfg->algorithm, tc->cfg->hyperparameters, &tc->pg, &tc->lm,
                         tc->err, tc->errlen);
    tc->t.training = mlrun_now_ms() - t0;
    if (!rc)
        mlrun_report(&tc->pg, "training", 85, "fitted");
    return rc;
}

static int train_model(struct train_ctx *tc)
{
    json_t *training = mlrun_training_json(&tc->ps, tc->cfg->algorithm);
    struct prep *prep = tc->ps.prep;
    struct learner_model *lm = tc->lm;
    tc->ps.prep = NULL; /* both are taken by model_new */
    tc->lm = NULL;
    int rc = training ? model_new(prep, lm, training, &tc->model) : -ENOMEM;
    if (!training) {
        prep_free(prep);
        learner_free(lm);
    }
    json_decref(training);
    return rc;
}

static int train_steps(struct train_ctx *tc, struct buf *model_out)
{
    double t0 = mlrun_now_ms();
    mlrun_report(&tc->pg, "preprocessing", 5, "splitting and fitting the preprocessing");
    int rc = mlrun_prepare_state(tc->f, tc->cfg, &tc->ps, tc->err, tc->errlen);
    tc->t.preprocessing = mlrun_now_ms() - t0;
    if (!rc && mlrun_cancelled(tc->pg.hooks))
        rc = -ECANCELED;
    if (!rc) {
        mlrun_report(&tc->pg, "preprocessing", 15, "preprocessed");
        rc = train_fit(tc);
    }
    if (!rc && mlrun_cancelled(tc->pg.hooks))
        rc = -ECANCELED;
    if (!rc)
        rc = train_model(tc);
    t0 = mlrun_now_ms();
    if (!rc) {
        mlrun_report(&tc->pg, "evaluating", 86, "scoring the test rows");
        struct mlrun_eval_opts o = {tc->cfg->tree_max_nodes, tc->cfg->tree_max_trees,
                                    tc->cfg->curve_max_points};
        rc = mlrun_evaluate_state(&tc->ps, tc->model, &o, &tc->results, tc->err, tc->errlen);
    }
    tc->t.evaluating = mlrun_now_ms() - t0;
    if (!rc && mlrun_cancelled(tc->pg.hooks))
        rc = -ECANCELED;
    t0 = mlrun_now_ms();
    if (!rc) {
        mlrun_report(&tc->pg, "saving", 95, "writing the model file");
        rc = model_save(tc->model, model_out);
    }
    tc->t.saving = mlrun_now_ms() - t0;
    return rc;
}

int mlrun_train(const struct frame *data, const struct mlrun_config *cfg,
                const struct mlrun_hooks *hooks, struct buf *model_out, json_t **results_out,
                char *err, size_t errlen)
{
    double t0 = mlrun_now_ms();
    struct train_ctx tc = {.f = data, .cfg = cfg, .err = err, .errlen = errlen};
    tc.pg.hooks = hooks;
    tc.pg.last = -1;
    tc.pg.unit = "step";
    size_t start = model_out->len;
    if (err && errlen)
        err[0] = '\0';
    if (!cfg->target || !cfg->algorithm) {
        mlstr_err(err, errlen, "target_column and algorithm are required");
        return -EINVAL;
    }
    int rc = train_steps(&tc, model_out);
    tc.t.total = mlrun_now_ms() - t0;
    if (!rc)
        rc = finish_results(tc.results, tc.cv, model_out, start, &tc.t);
    if (!rc)
        mlrun_report(&tc.pg, "saving", 100, "done");
    if (rc) {
        if (model_out->len > start)
            mlbox_abort(model_out, start);
        if (rc == -ECANCELED)
            mlstr_err(err, errlen, "cancelled");
        else if (rc == -ENOMEM && err && !*err)
            mlstr_err(err, errlen, "out of memory");
        json_decref(tc.results);
    } else {
        *results_out = tc.results;
    }
    json_decref(tc.cv);
    model_free(tc.model);
    learner_free(tc.lm);
    mlrun_prepared_release(&tc.ps);
    return rc;
}
