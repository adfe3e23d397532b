/* learner: the registry of libs/ml learners with their hyperparameters, the GET
 * /algorithms catalogue, and validation of an algorithm's hyperparameters. */
#include <ibx/learner.h>

#include "learnerimpl.h"
#include "mlstr.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C_       LEARNER_TASK_CLASSIFICATION
#define R_       LEARNER_TASK_REGRESSION
#define CR_      (LEARNER_TASK_CLASSIFICATION | LEARNER_TASK_REGRESSION)
#define SEED_MAX 4294967295.0
#define BIG      1000000.0

static const char *const criterion_values[] = {"gini", "entropy", "squared_error", NULL};
static const char *const max_features_values[] = {"sqrt", "log2", "all", NULL};
static const char *const solver_values[] = {"lbfgs", "newton-cg", NULL};
static const char *const weights_values[] = {"uniform", "distance", NULL};
static const char *const metric_values[] = {"euclidean", "manhattan", NULL};

#define HP_SEED                                                                                    \
    {                                                                                              \
        "random_state", LEARNER_HP_INT, 0, SEED_MAX, 0, NULL, 1, 0, NULL, CR_,                     \
            "Seed of the random choices; null uses the experiment's random_state."                 \
    }
#define HP_CRITERION                                                                               \
    {                                                                                              \
        "criterion", LEARNER_HP_ENUM, 0, 0, 0, criterion_values, 1, 0, NULL, CR_,                  \
            "Split quality: gini or entropy (classification), squared_error (regression); null: "  \
            "gini for classification, squared_error for regression."                               \
    }
#define HP_MAX_DEPTH                                                                               \
    {                                                                                              \
        "max_depth", LEARNER_HP_INT, 1, 1000, 0, NULL, 1, 0, NULL, CR_,                            \
            "Maximum depth of a tree; null: grow until leaves are pure or too small."              \
    }
#define HP_MIN_SPLIT                                                                               \
    {                                                                                              \
        "min_samples_split", LEARNER_HP_INT, 2, BIG, 0, NULL, 0, 2, NULL, CR_,                     \
            "Fewest training rows a node needs to be split."                                       \
    }
#define HP_MIN_LEAF(def)                                                                           \
    {                                                                                              \
        "min_samples_leaf", LEARNER_HP_INT, 1, BIG, 0, NULL, 0, def, NULL, CR_,                    \
            "Fewest training rows in a leaf."                                                      \
    }

static const struct learner_hparam tree_hp[] = {
    HP_CRITERION,
    HP_MAX_DEPTH,
    HP_MIN_SPLIT,
    HP_MIN_LEAF(1),
    {"max_features", LEARNER_HP_ENUM, 0, 0, 0, max_features_values, 1, 0, NULL, CR_,
     "Features considered per split: sqrt, log2 or all of them; null: all."},
    HP_SEED,
};

static const struct learner_hparam forest_hp[] = {
    {"n_estimators", LEARNER_HP_INT, 1, 2000, 0, NULL, 0, 100, NULL, CR_,
     "Number of trees, grown in parallel."},
    HP_CRITERION,
    HP_MAX_DEPTH,
    HP_MIN_SPLIT,
    HP_MIN_LEAF(1),
    {"max_features", LEARNER_HP_ENUM, 0, 0, 0, max_features_values, 1, 0, NULL, CR_,
     "Features considered per split: sqrt, log2 or all; null: sqrt for classification, all "
     "for regression."},
    {"bootstrap", LEARNER_HP_BOOL, 0, 1, 0, NULL, 0, 1, NULL, CR_,
     "Draw each tree's rows with replacement."},
    {"max_samples", LEARNER_HP_FLOAT, 0, 1, 1, NULL, 1, 0, NULL, CR_,
     "Share of the rows drawn per tree when bootstrapping; null: as many as there are rows."},
    {"oob_score", LEARNER_HP_BOOL, 0, 1, 0, NULL, 0, 0, NULL, CR_,
     "Measure accuracy (or R^2) on each tree's out-of-bag rows (needs bootstrap)."},
    HP_SEED,
};

static const struct learner_hparam gbt_hp[] = {
    {"learning_rate", LEARNER_HP_FLOAT, 0, 1, 1, NULL, 0, 0.1, NULL, CR_,
     "Shrinkage of each tree's contribution."},
    {"max_iter", LEARNER_HP_INT, 1, 10000, 0, NULL, 0, 100, NULL, CR_,
     "Boosting rounds (one tree per class per round for multiclass)."},
    {"max_depth", LEARNER_HP_INT, 1, 100, 0, NULL, 1, 0, NULL, CR_,
     "Maximum depth of a tree; null: limited by max_leaf_nodes only."},
    {"max_leaf_nodes", LEARNER_HP_INT, 2, 65536, 0, NULL, 1, 31, NULL, CR_,
     "Maximum leaves per tree (grown best-first); null: limited by max_depth only."},
    HP_MIN_LEAF(20),
    {"l2_regularization", LEARNER_HP_FLOAT, 0, BIG, 0, NULL, 0, 0, NULL, CR_,
     "L2 penalty on leaf values."},
    {"max_bins", LEARNER_HP_INT, 2, 255, 0, NULL, 0, 255, NULL, CR_, "Histogram bins per feature."},
    {"early_stopping", LEARNER_HP_BOOL, 0, 1, 0, NULL, 1, 0, NULL, CR_,
     "Stop when a held-out validation loss stops improving; null: on above 10000 rows."},
    {"n_iter_no_change", LEARNER_HP_INT, 1, 1000, 0, NULL, 0, 10, NULL, CR_,
     "Rounds without improvement before early stopping."},
    {"validation_fraction", LEARNER_HP_FLOAT, 0, 0.9, 1, NULL, 0, 0.1, NULL, CR_,
     "Share of the training rows held out for early stopping."},
    {"tol", LEARNER_HP_FLOAT, 0, 1, 0, NULL, 0, 1e-7, NULL, CR_,
     "Smallest validation loss improvement that counts for early stopping."},
    HP_SEED,
};

static const struct learner_hparam logreg_hp[] = {
    {"C", LEARNER_HP_FLOAT, 0, BIG, 1, NULL, 0, 1.0, NULL, C_,
     "Inverse strength of the L2 penalty (smaller: simpler model)."},
    {"solver", LEARNER_HP_ENUM, 0, 0, 0, solver_values, 0, 0, "lbfgs", C_,
     "Optimiser: lbfgs or newton-cg."},
    {"max_iter", LEARNER_HP_INT, 1, 100000, 0, NULL, 0, 100, NULL, C_, "Most solver iterations."},
    {"tol", LEARNER_HP_FLOAT, 0, 1, 1, NULL, 0, 1e-4, NULL, C_,
     "Stop when the largest gradient entry is below this."},
    {"fit_intercept", LEARNER_HP_BOOL, 0, 1, 0, NULL, 0, 1, NULL, C_, "Learn an intercept."},
};

static const struct learner_hparam linreg_hp[] = {
    {"alpha", LEARNER_HP_FLOAT, 0, BIG, 0, NULL, 0, 0, NULL, R_,
     "L2 penalty; 0 is ordinary least squares, more than 0 is ridge regression."},
    {"fit_intercept", LEARNER_HP_BOOL, 0, 1, 0, NULL, 0, 1, NULL, R_, "Learn an intercept."},
};

static const struct learner_hparam ridge_hp[] = {
    {"alpha", LEARNER_HP_FLOAT, 0, BIG, 0, NULL, 0, 1.0, NULL, R_,
     "L2 penalty on the coefficients (larger: smaller coefficients)."},
    {"fit_intercept", LEARNER_HP_BOOL, 0, 1, 0, NULL, 0, 1, NULL, R_, "Learn an intercept."},
};

static const struct learner_hparam knn_hp[] = {
    {"n_neighbors", LEARNER_HP_INT, 1, 1000, 0, NULL, 0, 5, NULL, CR_,
     "Neighbours that vote (or are averaged); at most the number of training rows."},
    {"weights", LEARNER_HP_ENUM, 0, 0, 0, weights_values, 0, 0, "uniform", CR_,
     "uniform: every neighbour counts the same; distance: closer neighbours count more."},
    {"metric", LEARNER_HP_ENUM, 0, 0, 0, metric_values, 0, 0, "euclidean", CR_,
     "Distance: euclidean or manhattan."},
    {"leaf_size", LEARNER_HP_INT, 1, 10000, 0, NULL, 0, 32, NULL, CR_,
     "Rows per leaf of the search tree (speed only)."},
};

static const struct learner_hparam gnb_hp[] = {
    {"var_smoothing", LEARNER_HP_FLOAT, 0, 1, 0, NULL, 0, 1e-9, NULL, C_,
     "Share of the largest feature variance added to every variance, for stability."},
};

#define HPS(a) (a), sizeof(a) / sizeof((a)[0])

static const struct learner_info catalogue[LEARNER_COUNT] = {
    {LEARNER_DECISION_TREE, "decision_tree", "Decision tree",
     "One CART tree of if-then splits: easy to read and explain, fast, prone to overfit "
     "without a depth limit.",
     CR_, HPS(tree_hp)},
    {LEARNER_RANDOM_FOREST, "random_forest", "Random forest",
     "Many decorrelated trees on bootstrap samples, averaged: robust and accurate with little "
     "tuning.",
     CR_, HPS(forest_hp)},
    {LEARNER_GRADIENT_BOOSTING, "gradient_boosting", "Gradient boosting",
     "Histogram gradient-boosted trees, each correcting the previous ones: usually the most "
     "accurate on tables; handles missing values.",
     CR_, HPS(gbt_hp)},
    {LEARNER_LOGISTIC_REGRESSION, "logistic_regression", "Logistic regression",
     "A linear model of class log-odds with an L2 penalty: fast, well calibrated, readable "
     "coefficients.",
     C_, HPS(logreg_hp)},
    {LEARNER_LINEAR_REGRESSION, "linear_regression", "Linear regression",
     "Least squares fit of a straight-line relation; alpha > 0 adds a ridge penalty.", R_,
     HPS(linreg_hp)},
    {LEARNER_RIDGE_REGRESSION, "ridge_regression", "Ridge regression",
     "Linear regression with an L2 penalty that keeps coefficients small; stable with "
     "correlated features.",
     R_, HPS(ridge_hp)},
    {LEARNER_KNN, "knn", "k-nearest neighbours",
     "Predicts from the most similar training rows: no training, needs scaled features, slow "
     "on large data.",
     CR_, HPS(knn_hp)},
    {LEARNER_GAUSSIAN_NB, "gaussian_nb", "Gaussian naive Bayes",
     "Per-class normal distributions of each feature, assumed independent: very fast, a good "
     "baseline.",
     C_, HPS(gnb_hp)},
};

const struct learner_info *learner_catalogue(size_t *count)
{
    if (count)
        *count = LEARNER_COUNT;
    return catalogue;
}

const struct learner_info *learner_find(const char *name)
{
    for (size_t i = 0; name && i < LEARNER_COUNT; i++)
        if (strcmp(catalogue[i].name, name) == 0)
            return &catalogue[i];
    return NULL;
}

const struct learner_info *learner_info_by_id(enum learner_id id)
{
    for (size_t i = 0; i < LEARNER_COUNT; i++)
        if (catalogue[i].id == id)
            return &catalogue[i];
    return NULL;
}

/* ---- the catalogue as JSON ---- */

static const char *type_name(enum learner_hp_type t)
{
    return t == LEARNER_HP_INT     ? "int"
           : t == LEARNER_HP_FLOAT ? "float"
           : t == LEARNER_HP_ENUM  ? "enum"
                                   : "bool";
}

static json_t *tasks_json(unsigned tasks)
{
    json_t *a = json_array();
    if (a && (tasks & C_) && mlstr_push(a, json_string("classification")))
        goto fail;
    if (a && (tasks & R_) && mlstr_push(a, json_string("regression")))
        goto fail;
    return a;
fail:
    json_decref(a);
    return NULL;
}

json_t *learner_hparam_default(const struct learner_hparam *h)
{
    if (h->nullable && (h->type == LEARNER_HP_ENUM ? h->def_str == NULL : h->def_num == 0))
        return json_null();
    switch (h->type) {
    case LEARNER_HP_INT:
        return json_integer((json_int_t)h->def_num);
    case LEARNER_HP_FLOAT:
        return json_real(h->def_num);
    case LEARNER_HP_BOOL:
        return json_boolean(h->def_num != 0);
    case LEARNER_HP_ENUM:
        return json_string(h->def_str);
    }
    return json_null();
}

static int add_range(json_t *o, const struct learner_hparam *h)
{
    if (h->type == LEARNER_HP_INT)
        return mlstr_set(o, "min", json_integer((json_int_t)h->min)) ||
               mlstr_set(o, "max", json_integer((json_int_t)h->max));
    if (h->type == LEARNER_HP_FLOAT)
        return mlstr_set(o, "min", json_real(h->min)) || mlstr_set(o, "max", json_real(h->max)) ||
               mlstr_set(o, "min_exclusive", json_boolean(h->min_exclusive));
    if (h->type == LEARNER_HP_ENUM) {
        json_t *v = json_array();
        for (size_t i = 0; v && h->values[i]; i++)
            if (mlstr_push(v, json_string(h->values[i]))) {
                json_decref(v);
                return -ENOMEM;
            }
        return mlstr_set(o, "values", v);
    }
    return 0;
}

static json_t *hparam_json(const struct learner_hparam *h)
{
    json_t *o =
        json_pack("{s:s, s:s, s:b, s:o, s:o, s:s}", "name", h->name, "type", type_name(h->type),
                  "nullable", h->nullable, "default", learner_hparam_default(h), "tasks",
                  tasks_json(h->tasks), "description", h->description);
    if (o && add_range(o, h)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *info_json(const struct learner_info *li)
{
    json_t *hps = json_array();
    for (size_t i = 0; hps && i < li->nhparams; i++)
        if (mlstr_push(hps, hparam_json(&li->hparams[i]))) {
            json_decref(hps);
            return NULL;
        }
    if (!hps)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:b, s:b, s:o}", "name", li->name, "display_name",
                     li->display_name, "description", li->description, "classification",
                     (li->tasks & C_) != 0, "regression", (li->tasks & R_) != 0, "hyperparameters",
                     hps);
}

json_t *learner_catalogue_json(void)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < LEARNER_COUNT; i++)
        if (mlstr_push(a, info_json(&catalogue[i]))) {
            json_decref(a);
            return NULL;
        }
    return a ? json_pack("{s:o}", "algorithms", a) : NULL;
}

/* ---- validation ---- */

struct vstate {
    json_t *problems;
    int oom;
};

static void problem(struct vstate *vs, const char *name, const char *msg)
{
    char field[128];
    if (name)
        snprintf(field, sizeof field, "hyperparameters.%s", name);
    else
        snprintf(field, sizeof field, "algorithm");
    if (mlstr_problem(vs->problems, field, msg))
        vs->oom = 1;
}

static const char *task_word(enum ml_task task)
{
    return task == ML_CLASSIFICATION ? "classification" : "regression";
}

static unsigned task_bit(enum ml_task task)
{
    return task == ML_CLASSIFICATION ? C_ : task == ML_REGRESSION ? R_ : CR_;
}

static void check_number(struct vstate *vs, const struct learner_hparam *h, const json_t *v)
{
    char msg[160];
    double x = json_number_value(v);
    int is_int = json_is_integer(v) || (json_is_real(v) && x == floor(x));
    if (!json_is_number(v) || (h->type == LEARNER_HP_INT && !is_int)) {
        problem(vs, h->name, h->type == LEARNER_HP_INT ? "must be an integer" : "must be a number");
        return;
    }
    int low = h->min_exclusive ? !(x > h->min) : !(x >= h->min);
    if (low || !(x <= h->max)) {
        snprintf(msg, sizeof msg, "must be %s %g and at most %g",
                 h->min_exclusive ? "greater than" : "at least", h->min, h->max);
        problem(vs, h->name, msg);
    }
}

static void check_enum(struct vstate *vs, const struct learner_hparam *h, const json_t *v,
                       enum ml_task task)
{
    const char *s = json_string_value(v);
    for (size_t i = 0; s && h->values[i]; i++) {
        if (strcmp(s, h->values[i]) != 0)
            continue;
        int cls_only = strcmp(h->name, "criterion") == 0 && strcmp(s, "squared_error") != 0;
        int reg_only = strcmp(h->name, "criterion") == 0 && strcmp(s, "squared_error") == 0;
        if ((task == ML_REGRESSION && cls_only) || (task == ML_CLASSIFICATION && reg_only)) {
            char msg[128];
            snprintf(msg, sizeof msg, "'%s' is not available for %s", s, task_word(task));
            problem(vs, h->name, msg);
        }
        return;
    }
    char msg[200] = "must be one of:";
    for (size_t i = 0; h->values[i]; i++) {
        size_t used = strlen(msg);
        snprintf(msg + used, sizeof msg - used, "%s %s", i ? "," : "", h->values[i]);
    }
    problem(vs, h->name, msg);
}

static void check_value(struct vstate *vs, const struct learner_hparam *h, const json_t *v,
                        enum ml_task task)
{
    if (task && !(h->tasks & task_bit(task))) {
        char msg[96];
        snprintf(msg, sizeof msg, "does not apply to %s", task_word(task));
        problem(vs, h->name, msg);
        return;
    }
    if (json_is_null(v)) {
        if (!h->nullable)
            problem(vs, h->name, "must not be null");
        return;
    }
    if (h->type == LEARNER_HP_BOOL) {
        if (!json_is_boolean(v))
            problem(vs, h->name, "must be true or false");
    } else if (h->type == LEARNER_HP_ENUM) {
        check_enum(vs, h, v, task);
    } else {
        check_number(vs, h, v);
    }
}

static const struct learner_hparam *find_hparam(const struct learner_info *li, const char *name)
{
    for (size_t i = 0; i < li->nhparams; i++)
        if (strcmp(li->hparams[i].name, name) == 0)
            return &li->hparams[i];
    return NULL;
}

/* 1 when name is given as something other than null or false; def when absent. */
static int is_set(const json_t *hp, const char *name, int def)
{
    const json_t *v = json_object_get(hp, name);
    if (!v)
        return def;
    return !json_is_null(v) && !json_is_false(v);
}

static void check_combination(struct vstate *vs, const struct learner_info *li, const json_t *hp)
{
    if (li->id == LEARNER_RANDOM_FOREST && !is_set(hp, "bootstrap", 1)) {
        if (is_set(hp, "oob_score", 0))
            problem(vs, "oob_score", "needs bootstrap");
        if (is_set(hp, "max_samples", 0))
            problem(vs, "max_samples", "needs bootstrap");
    }
    if (li->id == LEARNER_GRADIENT_BOOSTING && !is_set(hp, "max_leaf_nodes", 1) &&
        !is_set(hp, "max_depth", 0))
        problem(vs, "max_leaf_nodes", "max_leaf_nodes and max_depth cannot both be unlimited");
}

static void check_all(struct vstate *vs, const char *name, const json_t *hp, enum ml_task task)
{
    const struct learner_info *li = learner_find(name);
    char msg[160];
    if (!li) {
        snprintf(msg, sizeof msg, "unknown algorithm '%s'", name ? name : "");
        problem(vs, NULL, msg);
        return;
    }
    if (task && !(li->tasks & task_bit(task))) {
        snprintf(msg, sizeof msg, "%s does not do %s", li->name, task_word(task));
        problem(vs, NULL, msg);
    }
    if (hp && !json_is_object(hp)) {
        if (mlstr_problem(vs->problems, "hyperparameters", "must be an object"))
            vs->oom = 1;
        return;
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)hp, key, v)
    {
        const struct learner_hparam *h = find_hparam(li, key);
        if (!h) {
            snprintf(msg, sizeof msg, "unknown hyperparameter for %s", li->name);
            problem(vs, key, msg);
            continue;
        }
        check_value(vs, h, v, task);
    }
    check_combination(vs, li, hp);
}

int learner_validate(const char *name, const json_t *hparams, enum ml_task task, json_t **problems)
{
    struct vstate vs = {.problems = json_array(), .oom = 0};
    if (!vs.problems)
        return -ENOMEM;
    check_all(&vs, name, hparams, task);
    if (vs.oom) {
        json_decref(vs.problems);
        return -ENOMEM;
    }
    if (json_array_size(vs.problems) == 0) {
        json_decref(vs.problems);
        return 0;
    }
    if (problems)
        *problems = vs.problems;
    else
        json_decref(vs.problems);
    return -EINVAL;
}

static json_t *resolved_value(const struct learner_info *li, const struct learner_hparam *h,
                              const json_t *given, enum ml_task task)
{
    if (given && !json_is_null(given)) {
        if (h->type == LEARNER_HP_INT)
            return json_integer((json_int_t)json_number_value(given));
        if (h->type == LEARNER_HP_FLOAT)
            return json_real(json_number_value(given));
        return json_deep_copy(given);
    }
    if (strcmp(h->name, "criterion") == 0)
        return json_string(task == ML_REGRESSION ? "squared_error" : "gini");
    if (strcmp(h->name, "max_features") == 0)
        return json_string(li->id == LEARNER_RANDOM_FOREST && task == ML_CLASSIFICATION ? "sqrt"
                                                                                        : "all");
    if (given && h->nullable)
        return json_null();
    return learner_hparam_default(h);
}

int learner_resolve(const char *name, const json_t *hparams, enum ml_task task, json_t **resolved,
                    json_t **problems)
{
    int rc = learner_validate(name, hparams, task, problems);
    if (rc)
        return rc;
    const struct learner_info *li = learner_find(name);
    json_t *o = json_object();
    for (size_t i = 0; o && i < li->nhparams; i++) {
        const struct learner_hparam *h = &li->hparams[i];
        if (!(h->tasks & task_bit(task)))
            continue;
        if (mlstr_set(o, h->name, resolved_value(li, h, json_object_get(hparams, h->name), task))) {
            json_decref(o);
            return -ENOMEM;
        }
    }
    if (!o)
        return -ENOMEM;
    *resolved = o;
    return 0;
}
