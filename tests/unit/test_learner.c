/* test_learner: the learner registry and catalogue, hyperparameter validation, and the
 * generic model handle (fit, predict, save/load, importance, tree JSON, progress, cancel). */
#include <ibx/buf.h>
#include <ibx/learner.h>

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

struct split {
    struct th_mldata train, test;
};

static void load_split(const char *name, struct split *s)
{
    struct th_mldata all;
    assert_int_equal(th_mldata_load(name, &all), 0);
    assert_int_equal(th_mldata_split(&all, &s->train, &s->test), 0);
    th_mldata_free(&all);
    th_mldata_standardize(&s->train, &s->test);
}

static void free_split(struct split *s)
{
    th_mldata_free(&s->train);
    th_mldata_free(&s->test);
}

static void test_catalogue(void **state)
{
    json_t *cat = learner_catalogue_json();
    assert_non_null(cat);
    json_t *algs = json_object_get(cat, "algorithms");
    assert_int_equal(json_array_size(algs), LEARNER_COUNT);
    static const char *const names[] = {"decision_tree",
                                        "random_forest",
                                        "gradient_boosting",
                                        "logistic_regression",
                                        "linear_regression",
                                        "ridge_regression",
                                        "knn",
                                        "gaussian_nb"};
    for (size_t i = 0; i < LEARNER_COUNT; i++) {
        json_t *a = json_array_get(algs, i);
        assert_string_equal(json_string_value(json_object_get(a, "name")), names[i]);
        assert_non_null(json_string_value(json_object_get(a, "display_name")));
        assert_non_null(json_string_value(json_object_get(a, "description")));
        json_t *hps = json_object_get(a, "hyperparameters");
        assert_true(json_array_size(hps) > 0);
        /* every default, written out in full, validates for every task the learner does */
        json_t *defaults = json_object();
        size_t k;
        json_t *h;
        json_array_foreach(hps, k, h)
        {
            assert_non_null(json_object_get(h, "default"));
            assert_non_null(json_string_value(json_object_get(h, "description")));
            json_object_set(defaults, json_string_value(json_object_get(h, "name")),
                            json_object_get(h, "default"));
        }
        for (int t = ML_CLASSIFICATION; t <= ML_REGRESSION; t++) {
            const char *key = t == ML_CLASSIFICATION ? "classification" : "regression";
            if (!json_is_true(json_object_get(a, key)))
                continue;
            json_t *problems = NULL;
            int rc = learner_validate(names[i], defaults, (enum ml_task)t, &problems);
            if (rc)
                fail_msg("%s/%s: %s", names[i], key, json_dumps(problems, 0));
            assert_int_equal(learner_validate(names[i], NULL, (enum ml_task)t, NULL), 0);
        }
        json_decref(defaults);
    }
    json_decref(cat);
    assert_null(learner_find("svm"));
    assert_int_equal(learner_find("knn")->id, LEARNER_KNN);
}

struct hp_case {
    const char *algorithm;
    const char *hparams;
    enum ml_task task;
    const char *field; /* the one problem expected; NULL: valid */
};

static const struct hp_case hp_cases[] = {
    {"decision_tree", "{\"max_depth\":5}", ML_CLASSIFICATION, NULL},
    {"decision_tree", "{\"max_depth\":null,\"criterion\":\"entropy\"}", ML_CLASSIFICATION, NULL},
    {"decision_tree", "{\"max_depht\":5}", ML_CLASSIFICATION, "hyperparameters.max_depht"},
    {"decision_tree", "{\"max_depth\":0}", ML_CLASSIFICATION, "hyperparameters.max_depth"},
    {"decision_tree", "{\"max_depth\":2.5}", ML_CLASSIFICATION, "hyperparameters.max_depth"},
    {"decision_tree", "{\"max_depth\":\"5\"}", ML_CLASSIFICATION, "hyperparameters.max_depth"},
    {"decision_tree", "{\"min_samples_split\":1}", ML_CLASSIFICATION,
     "hyperparameters.min_samples_split"},
    {"decision_tree", "{\"criterion\":\"gini\"}", ML_REGRESSION, "hyperparameters.criterion"},
    {"decision_tree", "{\"criterion\":\"squared_error\"}", ML_CLASSIFICATION,
     "hyperparameters.criterion"},
    {"decision_tree", "{\"criterion\":\"mse\"}", ML_REGRESSION, "hyperparameters.criterion"},
    {"decision_tree", "{\"min_samples_leaf\":null}", ML_CLASSIFICATION,
     "hyperparameters.min_samples_leaf"},
    {"random_forest", "{\"n_estimators\":5000}", ML_CLASSIFICATION, "hyperparameters.n_estimators"},
    {"random_forest", "{\"bootstrap\":false,\"oob_score\":true}", ML_CLASSIFICATION,
     "hyperparameters.oob_score"},
    {"random_forest", "{\"bootstrap\":\"yes\"}", ML_REGRESSION, "hyperparameters.bootstrap"},
    {"random_forest", "{\"max_samples\":0}", ML_REGRESSION, "hyperparameters.max_samples"},
    {"random_forest", "{\"max_samples\":0.5,\"random_state\":7}", ML_REGRESSION, NULL},
    {"gradient_boosting", "{\"learning_rate\":0}", ML_CLASSIFICATION,
     "hyperparameters.learning_rate"},
    {"gradient_boosting", "{\"learning_rate\":1.5}", ML_REGRESSION,
     "hyperparameters.learning_rate"},
    {"gradient_boosting", "{\"max_leaf_nodes\":null}", ML_REGRESSION,
     "hyperparameters.max_leaf_nodes"},
    {"gradient_boosting", "{\"max_leaf_nodes\":null,\"max_depth\":6}", ML_REGRESSION, NULL},
    {"gradient_boosting", "{\"max_bins\":256}", ML_CLASSIFICATION, "hyperparameters.max_bins"},
    {"logistic_regression", "{\"C\":0}", ML_CLASSIFICATION, "hyperparameters.C"},
    {"logistic_regression", "{\"C\":0.5,\"solver\":\"newton-cg\"}", ML_CLASSIFICATION, NULL},
    {"logistic_regression", "{\"solver\":\"saga\"}", ML_CLASSIFICATION, "hyperparameters.solver"},
    {"logistic_regression", "{}", ML_REGRESSION, "algorithm"},
    {"linear_regression", "{\"alpha\":-1}", ML_REGRESSION, "hyperparameters.alpha"},
    {"linear_regression", "{}", ML_CLASSIFICATION, "algorithm"},
    {"ridge_regression", "{\"alpha\":10}", ML_REGRESSION, NULL},
    {"knn", "{\"n_neighbors\":0}", ML_CLASSIFICATION, "hyperparameters.n_neighbors"},
    {"knn", "{\"weights\":\"distance\",\"metric\":\"manhattan\"}", ML_REGRESSION, NULL},
    {"knn", "{\"p\":2}", ML_REGRESSION, "hyperparameters.p"},
    {"gaussian_nb", "{\"var_smoothing\":2}", ML_CLASSIFICATION, "hyperparameters.var_smoothing"},
    {"gaussian_nb", "{}", ML_REGRESSION, "algorithm"},
    {"svm", "{}", ML_CLASSIFICATION, "algorithm"},
    {"knn", "[]", ML_CLASSIFICATION, "hyperparameters"},
};

static void test_validate_cases(void **state)
{
    for (size_t c = 0; c < sizeof hp_cases / sizeof hp_cases[0]; c++) {
        const struct hp_case *hc = &hp_cases[c];
        json_t *hp = json_loads(hc->hparams, 0, NULL);
        assert_non_null(hp);
        json_t *problems = NULL;
        int rc = learner_validate(hc->algorithm, hp, hc->task, &problems);
        if (!hc->field) {
            if (rc)
                fail_msg("case %zu: %s", c, json_dumps(problems, 0));
        } else {
            if (rc != -EINVAL || json_array_size(problems) != 1)
                fail_msg("case %zu: rc %d, %zu problems", c, rc, json_array_size(problems));
            json_t *p = json_array_get(problems, 0);
            const char *field = json_string_value(json_object_get(p, "field"));
            if (strcmp(field, hc->field) != 0)
                fail_msg("case %zu: field %s, want %s", c, field, hc->field);
            assert_true(strlen(json_string_value(json_object_get(p, "message"))) > 0);
            json_decref(problems);
        }
        json_decref(hp);
    }
    /* every problem is listed */
    json_t *hp = json_loads("{\"max_depth\":-1,\"foo\":1,\"min_samples_leaf\":\"x\"}", 0, NULL);
    json_t *problems = NULL;
    assert_int_equal(learner_validate("decision_tree", hp, ML_CLASSIFICATION, &problems), -EINVAL);
    assert_int_equal(json_array_size(problems), 3);
    json_decref(problems);
    json_decref(hp);
}

static void test_resolve(void **state)
{
    json_t *hp = json_loads("{\"max_depth\":3}", 0, NULL), *r = NULL;
    assert_int_equal(learner_resolve("random_forest", hp, ML_CLASSIFICATION, &r, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(r, "max_depth")), 3);
    assert_int_equal(json_integer_value(json_object_get(r, "n_estimators")), 100);
    assert_string_equal(json_string_value(json_object_get(r, "criterion")), "gini");
    assert_string_equal(json_string_value(json_object_get(r, "max_features")), "sqrt");
    json_decref(r);
    assert_int_equal(learner_resolve("random_forest", hp, ML_REGRESSION, &r, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(r, "criterion")), "squared_error");
    assert_string_equal(json_string_value(json_object_get(r, "max_features")), "all");
    json_decref(r);
    json_decref(hp);
}

/* Every learner and task it does, with small settings so the tests stay quick. */
struct fit_case {
    const char *algorithm;
    const char *hparams;
    enum ml_task task;
    int tree_json;
    int importance;
};

static const struct fit_case fit_cases[] = {
    {"decision_tree", "{\"max_depth\":5}", ML_CLASSIFICATION, 1, 1},
    {"decision_tree", "{\"max_depth\":5}", ML_REGRESSION, 1, 1},
    {"random_forest", "{\"n_estimators\":10,\"max_depth\":6}", ML_CLASSIFICATION, 1, 1},
    {"random_forest", "{\"n_estimators\":10,\"max_depth\":6}", ML_REGRESSION, 1, 1},
    {"gradient_boosting", "{\"max_iter\":20}", ML_CLASSIFICATION, 1, 1},
    {"gradient_boosting", "{\"max_iter\":20}", ML_REGRESSION, 1, 1},
    {"logistic_regression", "{}", ML_CLASSIFICATION, 0, 1},
    {"linear_regression", "{}", ML_REGRESSION, 0, 1},
    {"ridge_regression", "{}", ML_REGRESSION, 0, 1},
    {"knn", "{}", ML_CLASSIFICATION, 0, 0},
    {"knn", "{\"weights\":\"distance\"}", ML_REGRESSION, 0, 0},
    {"gaussian_nb", "{}", ML_CLASSIFICATION, 0, 0},
};

static int load_learner(const void *data, size_t len)
{
    struct learner_model *m = NULL;
    int rc = learner_load(data, len, NULL, &m);
    learner_free(m);
    return rc;
}

static struct learner_model *fit_case(const struct fit_case *fc, const struct th_mldata *d,
                                      const struct ml_control *ctl)
{
    json_t *hp = json_loads(fc->hparams, 0, NULL);
    struct ml_matrix X = {.x = d->x, .n = d->n, .p = d->p};
    struct learner_model *m = NULL;
    char err[256] = "";
    int rc = learner_fit(fc->algorithm, hp, fc->task, d->nclasses, 42, &X, d->y, ctl, &m, err,
                         sizeof err);
    if (rc)
        fail_msg("%s: %d %s", fc->algorithm, rc, err);
    json_decref(hp);
    return m;
}

static void check_round_trip(const struct fit_case *fc, const struct learner_model *m,
                             const struct th_mldata *test)
{
    struct buf b;
    buf_init(&b, (size_t)1 << 28);
    assert_int_equal(learner_save(m, &b), 0);
    struct learner_model *l = NULL;
    assert_int_equal(learner_load(b.data, b.len, NULL, &l), 0);
    assert_string_equal(learner_model_name(l), fc->algorithm);
    assert_true(json_equal(learner_model_hparams(l), learner_model_hparams(m)));
    struct ml_matrix X = {.x = test->x, .n = test->n, .p = test->p};
    size_t nc = learner_model_n_classes(m), w = nc ? nc : 1;
    double *p1 = malloc(test->n * w * sizeof *p1), *p2 = malloc(test->n * w * sizeof *p2);
    assert_int_equal(learner_predict(m, &X, p1), 0);
    assert_int_equal(learner_predict(l, &X, p2), 0);
    assert_memory_equal(p1, p2, test->n * sizeof *p1);
    if (fc->task == ML_CLASSIFICATION) {
        assert_int_equal(learner_predict_proba(m, &X, p1), 0);
        assert_int_equal(learner_predict_proba(l, &X, p2), 0);
        assert_memory_equal(p1, p2, test->n * nc * sizeof *p1);
    } else {
        assert_int_equal(learner_predict_proba(m, &X, p1), -EINVAL);
    }
    free(p1);
    free(p2);
    learner_free(l);
    size_t accepted = th_ml_tamper_accepted(b.data, b.len, load_learner);
    if (accepted)
        fail_msg("%s: %zu damaged copies loaded", fc->algorithm, accepted);
    buf_release(&b);
}

static void check_extras(const struct fit_case *fc, const struct learner_model *m)
{
    size_t p = learner_model_n_features(m);
    double *imp = calloc(p, sizeof *imp);
    const char *method = NULL;
    int rc = learner_importance(m, imp, &method);
    if (fc->importance) {
        assert_int_equal(rc, 0);
        assert_non_null(method);
        double s = 0;
        for (size_t j = 0; j < p; j++)
            s += imp[j];
        assert_true(s > 0);
    } else {
        assert_int_equal(rc, -ENOTSUP);
    }
    free(imp);
    json_t *tj = NULL;
    rc = learner_tree_json(m, NULL, 15, 2, &tj);
    if (fc->tree_json) {
        assert_int_equal(rc, 0);
        const json_t *nodes = json_object_get(tj, "nodes");
        if (!nodes)
            nodes = json_object_get(json_array_get(json_object_get(tj, "trees"), 0), "nodes");
        assert_true(json_array_size(nodes) >= 1 && json_array_size(nodes) <= 15);
        json_t *trees = json_object_get(tj, "trees");
        assert_true(!trees || json_array_size(trees) <= 2);
        json_decref(tj);
    } else {
        assert_int_equal(rc, -ENOTSUP);
    }
}

static void test_every_learner(void **state)
{
    struct split cls, reg;
    load_split("iris", &cls);
    load_split("diabetes", &reg);
    for (size_t c = 0; c < sizeof fit_cases / sizeof fit_cases[0]; c++) {
        const struct fit_case *fc = &fit_cases[c];
        const struct split *s = fc->task == ML_CLASSIFICATION ? &cls : &reg;
        struct learner_model *m = fit_case(fc, &s->train, NULL);
        assert_int_equal(learner_model_task(m), fc->task);
        assert_int_equal(learner_model_n_features(m), s->train.p);
        check_round_trip(fc, m, &s->test);
        check_extras(fc, m);
        /* identical seeds: identical models */
        struct learner_model *again = fit_case(fc, &s->train, NULL);
        struct buf b1, b2;
        buf_init(&b1, (size_t)1 << 28);
        buf_init(&b2, (size_t)1 << 28);
        assert_int_equal(learner_save(m, &b1), 0);
        assert_int_equal(learner_save(again, &b2), 0);
        assert_int_equal(b1.len, b2.len);
        assert_memory_equal(b1.data, b2.data, b1.len);
        buf_release(&b1);
        buf_release(&b2);
        learner_free(again);
        learner_free(m);
    }
    free_split(&cls);
    free_split(&reg);
}

static void test_fit_refusals(void **state)
{
    struct split s;
    load_split("iris", &s);
    struct ml_matrix X = {.x = s.train.x, .n = 4, .p = s.train.p};
    struct learner_model *m = NULL;
    char err[256] = "";
    json_t *hp = json_loads("{\"n_neighbors\":5}", 0, NULL);
    assert_int_equal(
        learner_fit("knn", hp, ML_CLASSIFICATION, 3, 1, &X, s.train.y, NULL, &m, err, sizeof err),
        -EINVAL);
    assert_non_null(strstr(err, "n_neighbors"));
    json_decref(hp);
    hp = json_loads("{\"depth\":5}", 0, NULL);
    assert_int_equal(learner_fit("decision_tree", hp, ML_CLASSIFICATION, 3, 1, &X, s.train.y, NULL,
                                 &m, err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "hyperparameters.depth"));
    json_decref(hp);
    assert_null(m);
    free_split(&s);
}

struct progress_log {
    size_t calls;
    size_t last_done;
    int increasing;
    volatile int *cancel;
    size_t cancel_at;
};

static void on_progress(void *ctx, size_t done, size_t total)
{
    struct progress_log *pl = ctx;
    if (pl->calls && done < pl->last_done)
        pl->increasing = 0;
    pl->calls++;
    pl->last_done = done;
    assert_true(done <= total);
    if (pl->cancel && done >= pl->cancel_at)
        *pl->cancel = 1;
}

static void test_progress_and_cancel(void **state)
{
    struct split s;
    load_split("breast_cancer", &s);
    static const struct fit_case cases[] = {
        {"random_forest", "{\"n_estimators\":40}", ML_CLASSIFICATION, 1, 1},
        {"gradient_boosting", "{\"max_iter\":60,\"early_stopping\":false}", ML_CLASSIFICATION, 1,
         1},
    };
    for (size_t c = 0; c < 2; c++) {
        struct progress_log pl = {.increasing = 1};
        struct ml_control ctl = {.progress = on_progress, .ctx = &pl, .threads = 2};
        struct learner_model *m = fit_case(&cases[c], &s.train, &ctl);
        /* the forest reports from a supervising loop (finished trees, coalesced), boosting
         * every round */
        assert_true(pl.calls >= (c == 0 ? 1 : 60));
        assert_true(pl.increasing);
        learner_free(m);

        /* the forest's trees are quick here: its flag is raised before the fit starts;
         * boosting is stopped after round 5 */
        volatile int cancel = c == 0;
        struct progress_log pc = {.increasing = 1, .cancel = &cancel, .cancel_at = 5};
        struct ml_control cc = {
            .progress = on_progress, .ctx = &pc, .cancel = &cancel, .threads = 2};
        json_t *hp = json_loads(cases[c].hparams, 0, NULL);
        struct ml_matrix X = {.x = s.train.x, .n = s.train.n, .p = s.train.p};
        char err[256];
        m = NULL;
        assert_int_equal(learner_fit(cases[c].algorithm, hp, ML_CLASSIFICATION, 2, 42, &X,
                                     s.train.y, &cc, &m, err, sizeof err),
                         -ECANCELED);
        assert_null(m);
        assert_true(pc.last_done < 20); /* stopped soon after the flag */
        json_decref(hp);
    }
    free_split(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalogue),    cmocka_unit_test(test_validate_cases),
        cmocka_unit_test(test_resolve),      cmocka_unit_test(test_every_learner),
        cmocka_unit_test(test_fit_refusals), cmocka_unit_test(test_progress_and_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
