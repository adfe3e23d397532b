/* test_mlrun: whole experiments (the IBIS-X reference run, accuracy against scikit-learn,
 * determinism, progress and cancellation), the cacheable steps, task detection, algorithm
 * advice, comparison and the experiment configuration. */
#include <ibx/buf.h>
#include <ibx/frame.h>
#include <ibx/model.h>
#include <ibx/mlrun.h>

#include "th_mldata.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* A fixture as a frame: features f0, f1, ... and "target" (integers for classification). */
static struct frame *fixture_frame(const char *name, int classification)
{
    struct th_mldata d;
    assert_int_equal(th_mldata_load(name, &d), 0);
    struct frame *f = NULL;
    assert_int_equal(frame_new(d.n, &f), 0);
    double *col = malloc(d.n * sizeof *col);
    assert_non_null(col);
    for (size_t j = 0; j < d.p; j++) {
        char cname[32];
        snprintf(cname, sizeof cname, "f%zu", j);
        for (size_t i = 0; i < d.n; i++)
            col[i] = d.x[i * d.p + j];
        assert_int_equal(frame_add_numeric(f, cname, NULL, col), 0);
    }
    assert_int_equal(frame_add_numeric(f, "target",
                                       classification ? "numerical_integer" : "numerical_float",
                                       d.y),
                     0);
    free(col);
    th_mldata_free(&d);
    return f;
}

static void config_for(struct mlrun_config *cfg, const char *algorithm, const char *hparams,
                       uint64_t seed)
{
    mlrun_config_default(cfg);
    cfg->target = strdup("target");
    cfg->algorithm = strdup(algorithm);
    cfg->hyperparameters = hparams ? json_loads(hparams, 0, NULL) : NULL;
    cfg->random_state = seed;
}

static json_t *train(const struct frame *f, const struct mlrun_config *cfg,
                     const struct mlrun_hooks *hooks, struct buf *model)
{
    json_t *res = NULL;
    char err[256] = "";
    int rc = mlrun_train(f, cfg, hooks, model, &res, err, sizeof err);
    if (rc)
        fail_msg("mlrun_train %s: %d %s", cfg->algorithm, rc, err);
    return res;
}

static double metric(const json_t *res, const char *name)
{
    return json_number_value(json_object_get(json_object_get(res, "metrics"), name));
}

/* The IBIS-X reference run: iris, decision tree of depth 5, test_size 0.2, seed 42. */
static void test_reference_run(void **state)
{
    struct frame *f = fixture_frame("iris", 1);
    struct mlrun_config cfg;
    config_for(&cfg, "decision_tree", "{\"max_depth\":5}", 42);
    struct buf model;
    buf_init(&model, (size_t)1 << 28);
    json_t *res = train(f, &cfg, NULL, &model);
    double acc = metric(res, "accuracy");
    if (!(acc >= 0.90 && acc <= 0.97))
        fail_msg("reference accuracy %.4f", acc);
    /* the documented shape */
    assert_string_equal(json_string_value(json_object_get(res, "task")), "classification");
    assert_string_equal(json_string_value(json_object_get(res, "algorithm")), "decision_tree");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(res, "split"), "test_rows")), 30);
    static const char *const keys[] = {
        "precision_macro", "recall_macro", "f1_macro", "precision_weighted",
        "f1_weighted",     "log_loss",     "roc_auc",  "pr_auc"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_true(json_is_number(json_object_get(json_object_get(res, "metrics"), keys[i])));
    json_t *cm = json_object_get(res, "confusion_matrix");
    assert_int_equal(json_array_size(json_object_get(cm, "labels")), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(cm, "labels"), 2)), "2");
    assert_int_equal(json_array_size(json_object_get(cm, "matrix")), 3);
    assert_true(json_is_number(json_object_get(json_object_get(res, "roc_curve"), "macro_auc")));
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(res, "pr_curve"), "per_class")), 3);
    json_t *imp = json_object_get(res, "feature_importance");
    assert_string_equal(json_string_value(json_object_get(imp, "method")), "impurity");
    assert_int_equal(json_array_size(json_object_get(imp, "features")), 4);
    assert_non_null(json_object_get(json_object_get(res, "tree"), "nodes"));
    assert_non_null(json_object_get(res, "preprocessing"));
    json_t *t = json_object_get(res, "timings_ms");
    assert_true(json_number_value(json_object_get(t, "total")) >= 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "model"), "bytes")),
                     model.len);
    /* the model file loads and predicts JSON instances */
    struct model *m = NULL;
    char err[256];
    assert_int_equal(model_load(model.data, model.len, &m, err, sizeof err), 0);
    json_t *inst = json_loads("[{\"f0\":5.1,\"f1\":3.5,\"f2\":1.4,\"f3\":0.2},"
                              "{\"f0\":6.7,\"f1\":3.0,\"f2\":5.2,\"f3\":2.3}]",
                              0, NULL);
    json_t *pred = NULL;
    assert_int_equal(model_predict_rows(m, inst, &pred, NULL), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(pred, "predictions"), 0)),
                        "0");
    assert_string_equal(json_string_value(json_array_get(json_object_get(pred, "predictions"), 1)),
                        "2");
    json_decref(pred);
    json_decref(inst);
    model_free(m);
    json_decref(res);
    buf_release(&model);
    mlrun_config_release(&cfg);
    frame_free(f);
}

/* Accuracy within 2 points of scikit-learn's for every classifier. Our splits are not NumPy's,
 * so both sides are averaged over the same number of seeded stratified splits
 * (tests/fixtures/sklearn_reference.json, made by bench/ml/sklearn_reference.py). Each seed's
 * data is prepared once (mlrun_prepare) and every learner fitted and evaluated on it. */
static void test_accuracy_like_sklearn(void **state)
{
    json_error_t jerr;
    json_t *ref = json_load_file("tests/fixtures/sklearn_reference.json", 0, &jerr);
    assert_non_null(ref);
    size_t seeds = (size_t)json_integer_value(json_object_get(ref, "seeds"));
    json_t *hps = json_object_get(ref, "hyperparameters");
    static const char *const datasets[] = {"iris", "wine", "breast_cancer"};
    for (size_t d = 0; d < 3; d++) {
        struct frame *f = fixture_frame(datasets[d], 1);
        json_t *want = json_object_get(json_object_get(ref, "accuracy"), datasets[d]);
        size_t nl = json_object_size(want);
        double sums[8] = {0};
        for (size_t s = 0; s < seeds; s++) {
            struct mlrun_config cfg;
            config_for(&cfg, "decision_tree", NULL, s);
            cfg.test_size = json_number_value(json_object_get(ref, "test_size"));
            struct buf prepared;
            buf_init(&prepared, (size_t)1 << 28);
            char err[256];
            assert_int_equal(mlrun_prepare(f, &cfg, &prepared, NULL, err, sizeof err), 0);
            const char *name;
            json_t *acc;
            size_t k = 0;
            json_object_foreach(want, name, acc)
            {
                struct buf model;
                buf_init(&model, (size_t)1 << 28);
                int rc = mlrun_fit(prepared.data, prepared.len, name, json_object_get(hps, name),
                                   NULL, &model, err, sizeof err);
                if (rc)
                    fail_msg("%s on %s: %s", name, datasets[d], err);
                json_t *res = NULL;
                assert_int_equal(mlrun_evaluate(prepared.data, prepared.len, model.data, model.len,
                                                &res, err, sizeof err),
                                 0);
                sums[k++] += metric(res, "accuracy");
                json_decref(res);
                buf_release(&model);
            }
            buf_release(&prepared);
            mlrun_config_release(&cfg);
        }
        const char *name;
        json_t *acc;
        size_t k = 0;
        json_object_foreach(want, name, acc)
        {
            double ours = sums[k++] / (double)seeds, theirs = json_number_value(acc);
            print_message("%-14s %-20s ours %.4f  scikit-learn %.4f\n", datasets[d], name, ours,
                          theirs);
            if (fabs(ours - theirs) > 0.02)
                fail_msg("%s on %s: %.4f vs scikit-learn %.4f", name, datasets[d], ours, theirs);
        }
        assert_int_equal(k, nl);
        frame_free(f);
    }
    json_decref(ref);
}

static void drop_timings(json_t *res)
{
    json_object_del(res, "timings_ms");
}

/* Same data, configuration and seed: the same model bytes and results, with 1 or 2 threads;
 * the steps give the same model file as the one call. */
static void test_determinism_and_steps(void **state)
{
    struct frame *f = fixture_frame("breast_cancer", 1);
    static const char *const algs[] = {"random_forest", "gradient_boosting", "knn"};
    for (size_t a = 0; a < 3; a++) {
        struct mlrun_config cfg;
        config_for(&cfg, algs[a], "{}", 7);
        cfg.cv_folds = 3;
        struct mlrun_hooks h1 = {.threads = 1}, h2 = {.threads = 2};
        struct buf m1, m2, prepared, m3;
        buf_init(&m1, (size_t)1 << 28);
        buf_init(&m2, (size_t)1 << 28);
        buf_init(&m3, (size_t)1 << 28);
        buf_init(&prepared, (size_t)1 << 28);
        json_t *r1 = train(f, &cfg, &h1, &m1), *r2 = train(f, &cfg, &h2, &m2);
        assert_int_equal(m1.len, m2.len);
        assert_memory_equal(m1.data, m2.data, m1.len);
        drop_timings(r1);
        drop_timings(r2);
        assert_true(json_equal(r1, r2));
        assert_int_equal(json_array_size(json_object_get(json_object_get(r1, "cv"), "scores")), 3);

        char err[256];
        assert_int_equal(mlrun_prepare(f, &cfg, &prepared, NULL, err, sizeof err), 0);
        assert_int_equal(mlrun_fit(prepared.data, prepared.len, algs[a], cfg.hyperparameters, &h2,
                                   &m3, err, sizeof err),
                         0);
        assert_int_equal(m3.len, m1.len);
        assert_memory_equal(m3.data, m1.data, m1.len);
        json_t *r3 = NULL;
        assert_int_equal(
            mlrun_evaluate(prepared.data, prepared.len, m3.data, m3.len, &r3, err, sizeof err), 0);
        json_object_del(r1, "cv");
        json_object_del(r1, "model");
        assert_true(json_equal(r1, r3));
        json_decref(r1);
        json_decref(r2);
        json_decref(r3);
        buf_release(&m1);
        buf_release(&m2);
        buf_release(&m3);
        buf_release(&prepared);
        mlrun_config_release(&cfg);
    }
    frame_free(f);
}

static void test_steps_reject_damage(void **state)
{
    struct frame *f = fixture_frame("iris", 1);
    struct mlrun_config cfg;
    config_for(&cfg, "gaussian_nb", NULL, 1);
    struct buf prepared, model;
    buf_init(&prepared, (size_t)1 << 28);
    buf_init(&model, (size_t)1 << 28);
    char err[256];
    json_t *summary = NULL;
    assert_int_equal(mlrun_prepare(f, &cfg, &prepared, &summary, err, sizeof err), 0);
    assert_int_equal(json_integer_value(json_object_get(summary, "test_rows")), 30);
    assert_int_equal(json_integer_value(json_object_get(summary, "n_features")), 4);
    json_decref(summary);
    assert_int_equal(
        mlrun_fit(prepared.data, prepared.len, "gaussian_nb", NULL, NULL, &model, err, sizeof err),
        0);
    prepared.data[prepared.len / 2] ^= 1;
    assert_int_equal(
        mlrun_fit(prepared.data, prepared.len, "gaussian_nb", NULL, NULL, &model, err, sizeof err),
        -EINVAL);
    assert_non_null(strstr(err, "checksum"));
    prepared.data[prepared.len / 2] ^= 1;
    json_t *res = NULL;
    assert_int_equal(mlrun_evaluate(prepared.data, prepared.len, model.data, model.len - 1, &res,
                                    err, sizeof err),
                     -EINVAL);
    json_t *bad = json_loads("{\"alpha\":1}", 0, NULL);
    assert_int_equal(
        mlrun_fit(prepared.data, prepared.len, "gaussian_nb", bad, NULL, &model, err, sizeof err),
        -EINVAL);
    assert_non_null(strstr(err, "hyperparameters.alpha"));
    json_decref(bad);
    buf_release(&prepared);
    buf_release(&model);
    mlrun_config_release(&cfg);
    frame_free(f);
}

struct progress_log {
    char stages[64][16];
    int percent[64];
    size_t n, total;
    int last;
    volatile int *cancel;
};

static void on_progress(void *ctx, const char *stage, int percent, const char *detail)
{
    struct progress_log *pl = ctx;
    assert_non_null(detail);
    if (pl->n < 64) {
        snprintf(pl->stages[pl->n], sizeof pl->stages[0], "%s", stage);
        pl->percent[pl->n++] = percent;
    }
    assert_true(percent >= pl->last);
    pl->last = percent;
    pl->total++;
    if (pl->cancel && strcmp(stage, "training") == 0 && percent >= 30)
        *pl->cancel = 1;
}

static int stage_rank(const char *s)
{
    static const char *const order[] = {"loading", "preprocessing", "training", "evaluating",
                                        "saving"};
    for (int i = 0; i < 5; i++)
        if (strcmp(order[i], s) == 0)
            return i;
    return -1;
}

static void test_progress_and_cancel(void **state)
{
    struct frame *f = fixture_frame("breast_cancer", 1);
    struct mlrun_config cfg;
    config_for(&cfg, "gradient_boosting", "{\"max_iter\":200,\"early_stopping\":false}", 3);
    cfg.cv_folds = 2;
    struct progress_log pl = {0};
    struct mlrun_hooks hooks = {.progress = on_progress, .ctx = &pl};
    struct buf model;
    buf_init(&model, (size_t)1 << 28);
    json_t *res = train(f, &cfg, &hooks, &model);
    json_decref(res);
    assert_true(pl.n >= 10);
    for (size_t i = 1; i < pl.n; i++) {
        assert_true(pl.percent[i] >= pl.percent[i - 1]);
        assert_true(stage_rank(pl.stages[i]) >= stage_rank(pl.stages[i - 1]));
        assert_true(stage_rank(pl.stages[i]) >= 0);
    }
    assert_int_equal(pl.last, 100);

    /* cancelled while training: -ECANCELED, nothing appended */
    volatile int cancel = 0;
    struct progress_log pc = {.cancel = &cancel};
    struct mlrun_hooks hc = {.progress = on_progress, .ctx = &pc, .cancel = &cancel};
    size_t before = model.len;
    res = NULL;
    char err[256];
    assert_int_equal(mlrun_train(f, &cfg, &hc, &model, &res, err, sizeof err), -ECANCELED);
    assert_null(res);
    assert_int_equal(model.len, before);
    assert_true(pc.last < 85);
    buf_release(&model);
    mlrun_config_release(&cfg);
    frame_free(f);
}

static void test_regression_run(void **state)
{
    struct frame *f = fixture_frame("diabetes", 0);
    static const char *const algs[] = {"linear_regression", "ridge_regression", "gradient_boosting",
                                       "knn"};
    for (size_t a = 0; a < 4; a++) {
        struct mlrun_config cfg;
        config_for(&cfg, algs[a], NULL, 42);
        cfg.task = 0; /* detected */
        struct buf model;
        buf_init(&model, (size_t)1 << 28);
        json_t *res = train(f, &cfg, NULL, &model);
        assert_string_equal(json_string_value(json_object_get(res, "task")), "regression");
        assert_non_null(json_object_get(res, "task_detection"));
        double r2 = metric(res, "r2");
        if (!(r2 > 0.2 && r2 < 0.75))
            fail_msg("%s: r2 %.4f", algs[a], r2);
        assert_true(metric(res, "rmse") > 0 && metric(res, "mae") > 0 && metric(res, "mse") > 0);
        json_t *imp = json_object_get(res, "feature_importance");
        assert_string_equal(json_string_value(json_object_get(imp, "method")),
                            a == 3   ? "permutation"
                            : a == 2 ? "gain"
                                     : "coefficients");
        json_decref(res);
        buf_release(&model);
        mlrun_config_release(&cfg);
    }
    frame_free(f);
}

struct detect_case {
    const char *type; /* frame type of the column */
    const char *name;
    const char *values[12];
    int task; /* 0: -EINVAL */
};

static const struct detect_case detect_cases[] = {
    {"boolean",
     "paid",
     {"yes", "no", "yes", "no", "yes", "no", "yes", "no", "no", "no", "yes", "no"},
     ML_CLASSIFICATION},
    {"categorical",
     "color",
     {"r", "g", "b", "r", "g", "b", "r", "g", "b", "r", "g", "b"},
     ML_CLASSIFICATION},
    {"numerical_float",
     "x",
     {"1.5", "2.25", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"},
     ML_REGRESSION},
    {"numerical_integer",
     "y",
     {"0", "1", "0", "1", "0", "1", "0", "1", "0", "1", "0", "1"},
     ML_CLASSIFICATION},
    /* 4 whole values over 12 rows: open; decided by the name */
    {"numerical_integer",
     "price",
     {"1", "2", "3", "4", "1", "2", "3", "4", "1", "2", "3", "4"},
     ML_REGRESSION},
    {"numerical_integer",
     "label",
     {"1", "2", "3", "4", "1", "2", "3", "4", "1", "2", "3", "4"},
     ML_CLASSIFICATION},
    {"numerical_integer",
     "v",
     {"1", "2", "3", "4", "1", "2", "3", "4", "1", "2", "3", "4"},
     ML_CLASSIFICATION},
    {"numerical_integer",
     "n",
     {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"},
     ML_REGRESSION},
    {"text", "comment", {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}, 0},
};

static void test_detect_task(void **state)
{
    for (size_t c = 0; c < sizeof detect_cases / sizeof detect_cases[0]; c++) {
        const struct detect_case *dc = &detect_cases[c];
        struct frame *f = NULL;
        assert_int_equal(frame_new(12, &f), 0);
        assert_int_equal(frame_add_strings(f, dc->name, dc->type, dc->values), 0);
        enum ml_task task = 0;
        json_t *why = NULL;
        int rc = mlrun_detect_task(f, dc->name, &task, &why);
        if (!dc->task) {
            assert_int_equal(rc, -EINVAL);
        } else {
            assert_int_equal(rc, 0);
            if ((int)task != dc->task)
                fail_msg("case %zu (%s): %s", c, dc->name, json_dumps(why, 0));
            assert_true(json_array_size(json_object_get(why, "reasons")) >= 1);
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(why, "column"), "name")),
                dc->name);
            json_decref(why);
        }
        frame_free(f);
    }
    struct frame *f = fixture_frame("iris", 1);
    enum ml_task task = 0;
    assert_int_equal(mlrun_detect_task(f, "target", &task, NULL), 0);
    assert_int_equal(task, ML_CLASSIFICATION);
    assert_int_equal(mlrun_detect_task(f, "nope", &task, NULL), -EINVAL);
    frame_free(f);
    f = fixture_frame("diabetes", 0);
    assert_int_equal(mlrun_detect_task(f, "target", &task, NULL), 0);
    assert_int_equal(task, ML_REGRESSION);
    frame_free(f);
}

static void test_advice(void **state)
{
    struct frame *f = fixture_frame("breast_cancer", 1);
    json_t *a1 = NULL, *a2 = NULL;
    assert_int_equal(mlrun_advise_algorithms(f, "target", 0, &a1), 0);
    assert_int_equal(mlrun_advise_algorithms(f, "target", ML_CLASSIFICATION, &a2), 0);
    assert_true(json_equal(a1, a2)); /* deterministic, task detected the same */
    json_t *rank = json_object_get(a1, "ranking");
    assert_int_equal(json_array_size(rank), 6); /* the classifiers */
    long last = 101;
    for (size_t i = 0; i < json_array_size(rank); i++) {
        json_t *r = json_array_get(rank, i);
        long score = (long)json_integer_value(json_object_get(r, "score"));
        assert_true(score <= last);
        last = score;
        assert_int_equal(json_integer_value(json_object_get(r, "rank")), i + 1);
        assert_true(json_is_array(json_object_get(r, "reasons")));
        json_t *hp = json_object_get(r, "suggested_hyperparameters");
        assert_int_equal(learner_validate(json_string_value(json_object_get(r, "algorithm")), hp,
                                          ML_CLASSIFICATION, NULL),
                         0);
    }
    assert_int_equal(json_integer_value(json_object_get(json_object_get(a1, "dataset"), "rows")),
                     569);
    json_decref(a1);
    json_decref(a2);
    frame_free(f);
    f = fixture_frame("diabetes", 0);
    assert_int_equal(mlrun_advise_algorithms(f, "target", 0, &a1), 0);
    assert_string_equal(json_string_value(json_object_get(a1, "task")), "regression");
    assert_int_equal(json_array_size(json_object_get(a1, "ranking")), 6);
    json_decref(a1);
    frame_free(f);
}

static void test_compare(void **state)
{
    json_t *entries = json_loads("[{\"id\":\"a\",\"results\":{\"algorithm\":\"knn\",\"metrics\":{"
                                 "\"accuracy\":0.9,\"rmse\":3}}},"
                                 "{\"id\":\"b\",\"results\":{\"algorithm\":\"gaussian_nb\","
                                 "\"metrics\":{\"accuracy\":0.95,\"rmse\":2}}},"
                                 "{\"id\":\"c\",\"results\":{\"metrics\":{}}},"
                                 "{\"id\":\"d\",\"results\":{\"algorithm\":\"decision_tree\","
                                 "\"metrics\":{\"accuracy\":0.95,\"rmse\":1}}}]",
                                 0, NULL);
    json_t *out = NULL;
    char err[256];
    assert_int_equal(mlrun_compare(entries, "accuracy", &out, err, sizeof err), 0);
    assert_string_equal(json_string_value(json_object_get(out, "best")), "b");
    json_t *r = json_object_get(out, "ranking");
    static const char *const order[] = {"b", "d", "a", "c"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(r, i), "id")),
                            order[i]);
    assert_true(json_is_null(json_object_get(json_array_get(r, 3), "value")));
    json_decref(out);
    assert_int_equal(mlrun_compare(entries, "rmse", &out, err, sizeof err), 0);
    assert_string_equal(json_string_value(json_object_get(out, "best")), "d");
    assert_true(json_is_false(json_object_get(out, "higher_is_better")));
    json_decref(out);
    assert_int_equal(mlrun_compare(entries, "speed", &out, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "speed"));
    json_decref(entries);
}

struct cfg_case {
    const char *body;
    const char *field; /* NULL: valid */
};

static const struct cfg_case cfg_cases[] = {
    {"{\"dataset_id\":\"x\",\"target_column\":\"y\",\"algorithm\":\"knn\"}", NULL},
    {"{\"target_column\":\"y\",\"algorithm\":\"decision_tree\",\"task_type\":\"classification\","
     "\"hyperparameters\":{\"max_depth\":3},\"preprocessing\":{\"scaling\":\"none\"},"
     "\"test_size\":0.3,\"random_state\":1,\"cv_folds\":5}",
     NULL},
    {"{\"algorithm\":\"knn\"}", "target_column"},
    {"{\"target_column\":\"y\"}", "algorithm"},
    {"{\"target_column\":\"y\",\"algorithm\":\"svm\"}", "algorithm"},
    {"{\"target_column\":\"y\",\"algorithm\":\"knn\",\"task_type\":\"ranking\"}", "task_type"},
    {"{\"target_column\":\"y\",\"algorithm\":\"knn\",\"test_size\":1}", "test_size"},
    {"{\"target_column\":\"y\",\"algorithm\":\"knn\",\"random_state\":-1}", "random_state"},
    {"{\"target_column\":\"y\",\"algorithm\":\"knn\",\"cv_folds\":1}", "cv_folds"},
    {"{\"target_column\":\"y\",\"algorithm\":\"knn\",\"hyperparameters\":{\"k\":3}}",
     "hyperparameters.k"},
    {"{\"target_column\":\"y\",\"algorithm\":\"knn\",\"hyperparameters\":5}", "hyperparameters"},
    {"{\"target_column\":\"y\",\"algorithm\":\"knn\",\"preprocessing\":{\"scaling\":\"x\"}}",
     "preprocessing.scaling"},
    {"{\"target_column\":\"y\",\"algorithm\":\"linear_regression\",\"task_type\":"
     "\"classification\"}",
     "algorithm"},
};

static void test_config_parse(void **state)
{
    for (size_t c = 0; c < sizeof cfg_cases / sizeof cfg_cases[0]; c++) {
        json_t *body = json_loads(cfg_cases[c].body, 0, NULL);
        assert_non_null(body);
        struct mlrun_config cfg;
        json_t *problems = NULL;
        int rc = mlrun_config_parse(body, &cfg, &problems);
        if (!cfg_cases[c].field) {
            if (rc)
                fail_msg("case %zu: %s", c, json_dumps(problems, 0));
            json_t *back = mlrun_config_json(&cfg);
            struct mlrun_config again;
            assert_int_equal(mlrun_config_parse(back, &again, NULL), 0);
            json_t *back2 = mlrun_config_json(&again);
            assert_true(json_equal(back, back2));
            json_decref(back);
            json_decref(back2);
            mlrun_config_release(&again);
            mlrun_config_release(&cfg);
        } else {
            assert_int_equal(rc, -EINVAL);
            const char *field =
                json_string_value(json_object_get(json_array_get(problems, 0), "field"));
            if (json_array_size(problems) != 1 || strcmp(field, cfg_cases[c].field) != 0)
                fail_msg("case %zu: %s", c, json_dumps(problems, 0));
            json_decref(problems);
        }
        json_decref(body);
    }
}

static void test_train_errors(void **state)
{
    struct frame *f = fixture_frame("iris", 1);
    struct mlrun_config cfg;
    config_for(&cfg, "knn", "{\"n_neighbors\":500}", 1);
    struct buf model;
    buf_init(&model, 1 << 20);
    json_t *res = NULL;
    char err[256];
    assert_int_equal(mlrun_train(f, &cfg, NULL, &model, &res, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "n_neighbors"));
    mlrun_config_release(&cfg);
    config_for(&cfg, "knn", NULL, 1);
    free(cfg.target);
    cfg.target = strdup("missing");
    assert_int_equal(mlrun_train(f, &cfg, NULL, &model, &res, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "missing"));
    assert_int_equal(model.len, 0);
    mlrun_config_release(&cfg);
    /* a detected task the algorithm does not do */
    config_for(&cfg, "linear_regression", NULL, 1);
    assert_int_equal(mlrun_train(f, &cfg, NULL, &model, &res, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "classification"));
    mlrun_config_release(&cfg);
    buf_release(&model);
    frame_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_run),
        cmocka_unit_test(test_accuracy_like_sklearn),
        cmocka_unit_test(test_determinism_and_steps),
        cmocka_unit_test(test_steps_reject_damage),
        cmocka_unit_test(test_progress_and_cancel),
        cmocka_unit_test(test_regression_run),
        cmocka_unit_test(test_detect_task),
        cmocka_unit_test(test_advice),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_config_parse),
        cmocka_unit_test(test_train_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
