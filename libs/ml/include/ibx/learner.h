/* learner: one registry over the libs/ml learners, their hyperparameters (what GET
 * /algorithms shows and what POST /experiments is validated against) and a generic handle
 * for a fitted model of any of them.
 *
 * Learners (name: module, tasks):
 *   decision_tree        tree_    classification, regression
 *   random_forest        forest_  classification, regression
 *   gradient_boosting    gbt_     classification, regression (also imported XGBoost)
 *   logistic_regression  logreg_  classification
 *   linear_regression    linreg_  regression (alpha > 0 makes it ridge)
 *   ridge_regression     linreg_  regression (linear_regression with alpha default 1)
 *   knn                  knn_     classification, regression
 *   gaussian_nb          gnb_     classification
 *
 * Hyperparameters are a JSON object {name: value}; absent names take their default, null
 * is accepted where the catalogue says "nullable" and means the automatic choice the
 * description names (e.g. max_depth null: unlimited). Names follow scikit-learn's
 * (max_depth, min_samples_leaf, n_estimators, C, alpha, n_neighbors, var_smoothing, ...),
 * so values tuned there carry over. "random_state" (nullable) seeds the randomised
 * learners; null means the seed the caller passes to learner_fit (the experiment's).
 *
 * A struct learner_model is immutable once fitted and safe to share between predicting
 * threads. Conventions (matrix, class indices, errors) are those of ibx/ml.h. */
#ifndef IBX_LEARNER_H
#define IBX_LEARNER_H

#include <ibx/buf.h>
#include <ibx/forest.h>
#include <ibx/gbt.h>
#include <ibx/gnb.h>
#include <ibx/knn.h>
#include <ibx/linreg.h>
#include <ibx/logreg.h>
#include <ibx/ml.h>
#include <ibx/tree.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum learner_id {
    LEARNER_DECISION_TREE = 1,
    LEARNER_RANDOM_FOREST = 2,
    LEARNER_GRADIENT_BOOSTING = 3,
    LEARNER_LOGISTIC_REGRESSION = 4,
    LEARNER_LINEAR_REGRESSION = 5,
    LEARNER_RIDGE_REGRESSION = 6,
    LEARNER_KNN = 7,
    LEARNER_GAUSSIAN_NB = 8
};
#define LEARNER_COUNT 8

enum learner_hp_type {
    LEARNER_HP_INT = 1,
    LEARNER_HP_FLOAT = 2,
    LEARNER_HP_ENUM = 3,
    LEARNER_HP_BOOL = 4
};

#define LEARNER_TASK_CLASSIFICATION 1u
#define LEARNER_TASK_REGRESSION     2u

/* One hyperparameter (static data). */
struct learner_hparam {
    const char *name;
    enum learner_hp_type type;
    double min, max;           /* INT, FLOAT: the allowed range */
    int min_exclusive;         /* FLOAT: value must be > min (else >= min) */
    const char *const *values; /* ENUM: allowed strings, NULL-terminated */
    int nullable;              /* null (and absent) means the automatic choice */
    double def_num;            /* INT, FLOAT, BOOL (0/1) default when not nullable */
    const char *def_str;       /* ENUM default when not nullable */
    unsigned tasks;            /* LEARNER_TASK_* it applies to; others reject it */
    const char *description;
};

/* One learner (static data). */
struct learner_info {
    enum learner_id id;
    const char *name;         /* "decision_tree", ... */
    const char *display_name; /* "Decision tree", ... */
    const char *description;
    unsigned tasks; /* LEARNER_TASK_* */
    const struct learner_hparam *hparams;
    size_t nhparams;
};

/* Every learner, in the order above; *count = LEARNER_COUNT. Static, never freed. */
const struct learner_info *learner_catalogue(size_t *count);
/* The learner called name, or NULL. */
const struct learner_info *learner_find(const char *name);
const struct learner_info *learner_info_by_id(enum learner_id id);

/* The body of GET /algorithms (new reference, caller decrefs; NULL on ENOMEM):
 * {"algorithms": [{"name", "display_name", "description", "classification": bool,
 *   "regression": bool, "hyperparameters": [{"name", "type": "int"|"float"|"enum"|"bool",
 *   "min"?, "max"?, "min_exclusive"?, "values"? (enum), "nullable", "default" (null: the
 *   automatic choice the description names), "tasks": ["classification", ...],
 *   "description"}]}]} */
json_t *learner_catalogue_json(void);

/* Check an algorithm name and its hyperparameters (hparams may be NULL: {}) for task.
 * 0 when valid. Otherwise -EINVAL and *problems (when problems is not NULL; caller
 * decrefs) is a JSON array of {"field", "message"}: "algorithm" for an unknown learner or
 * one that does not do the task, "hyperparameters" when hparams is not an object, and
 * "hyperparameters.<name>" for an unknown name, a wrong type, a value out of range or not
 * allowed, a name that does not apply to the task, or inconsistent values (e.g.
 * oob_score without bootstrap, gradient_boosting with neither max_depth nor
 * max_leaf_nodes). Every problem is listed. -ENOMEM. */
int learner_validate(const char *name, const json_t *hparams, enum ml_task task,
                     json_t **problems) ML_WUR;

/* The hyperparameters with every default filled in (nullable ones resolved to what the
 * fit will use where that is known without data, else null), as a new object (caller
 * decrefs). -EINVAL as learner_validate (problems may be NULL). */
int learner_resolve(const char *name, const json_t *hparams, enum ml_task task, json_t **resolved,
                    json_t **problems) ML_WUR;

struct learner_model;

/* Validate, then fit the learner on X (n x p, borrowed) and y (n, borrowed; class
 * indices for classification with nclasses >= 2, values for regression). seed is used
 * where hyperparameter random_state is absent or null. ctl may be NULL; progress reports
 * the learner's units (trees, rounds, iterations; one unit for the others), cancel stops
 * with -ECANCELED. *out is the caller's (learner_free). -EINVAL with a message in err
 * (the first problem, or the learner's refusal, e.g. n_neighbors greater than the rows),
 * -ENOMEM, -EAGAIN, -ECANCELED. */
int learner_fit(const char *name, const json_t *hparams, enum ml_task task, size_t nclasses,
                uint64_t seed, const struct ml_matrix *x, const double *y,
                const struct ml_control *ctl, struct learner_model **out, char *err,
                size_t errlen) ML_WUR;
void learner_free(struct learner_model *m);

/* Wrap an already fitted gbt model (e.g. from xgbimport_load) as gradient_boosting; g is
 * taken (freed with the handle, also on failure). hparams_note (may be NULL, copied) is
 * kept as its hyperparameters object, e.g. {"source": "xgboost"}. 0, -EINVAL, -ENOMEM. */
int learner_wrap_gbt(struct gbt_model *g, const json_t *hparams_note,
                     struct learner_model **out) ML_WUR;

/* predict: x->n class indices or values. predict_proba: x->n * nclasses (classification
 * only, else -EINVAL). -EINVAL when x->p differs from the fitted feature count. */
int learner_predict(const struct learner_model *m, const struct ml_matrix *x, double *out) ML_WUR;
int learner_predict_proba(const struct learner_model *m, const struct ml_matrix *x,
                          double *out) ML_WUR;

/* Intrinsic feature importance into out (n_features values) and *method ("impurity"
 * for trees and forests, "gain" for gradient boosting, "coefficients" for linear and
 * logistic regression: |coef|, mean over classes). -ENOTSUP for knn and gaussian_nb,
 * which have none (mlrun then measures permutation importance). */
int learner_importance(const struct learner_model *m, double *out, const char **method) ML_WUR;

/* The structure as JSON for a viewer (new reference in *out, caller decrefs), for tree
 * learners only (-ENOTSUP otherwise):
 *   decision_tree: tree_to_json's object (ibx/tree.h), at most max_nodes nodes;
 *   random_forest: {"n_trees", "trees_shown", "trees": [tree_to_json objects]};
 *   gradient_boosting: {"n_trees", "trees_shown", "n_outputs", "base_score": [...],
 *     "trees": [{"output", "n_nodes", "truncated", "nodes": [{"id", "feature",
 *     "feature_name"?, "threshold", "default_left", "value", "gain", "cover", "left",
 *     "right"}]}]} (nodes breadth-first, renumbered; a cut node is a leaf with
 *     "truncated": true).
 * At most max_trees trees (the first ones) of at most max_nodes nodes each.
 * feature_names may be NULL (else n_features strings, borrowed). -ENOMEM. */
int learner_tree_json(const struct learner_model *m, const char *const *feature_names,
                      size_t max_nodes, size_t max_trees, json_t **out) ML_WUR;

enum learner_id learner_model_id(const struct learner_model *m);
const char *learner_model_name(const struct learner_model *m);
enum ml_task learner_model_task(const struct learner_model *m);
size_t learner_model_n_features(const struct learner_model *m);
size_t learner_model_n_classes(const struct learner_model *m); /* 0 for regression */
/* The resolved hyperparameters the model was fitted with (borrowed from m). */
const json_t *learner_model_hparams(const struct learner_model *m);

/* The underlying model, for explainers (TreeSHAP, linear SHAP): NULL unless the handle is
 * that learner. Borrowed from m. */
const struct tree_model *learner_model_tree(const struct learner_model *m);
const struct forest_model *learner_model_forest(const struct learner_model *m);
const struct gbt_model *learner_model_gbt(const struct learner_model *m);
const struct logreg *learner_model_logreg(const struct learner_model *m);
const struct linreg *learner_model_linreg(const struct learner_model *m);
const struct knn *learner_model_knn(const struct learner_model *m);
const struct gnb *learner_model_gnb(const struct learner_model *m);

/* Append the encoding to out: a small ibx/mlenc.h envelope (magic "IBXLRNR1": learner
 * id, task, shape, the hyperparameters as JSON text) followed by the learner's own
 * encoding. 0, -EMSGSIZE, -ENOMEM. */
int learner_save(const struct learner_model *m, struct buf *out) ML_WUR;
/* Read one encoding from data[0..len) (borrowed); *used (may be NULL, then it must fill
 * len exactly). -EINVAL for anything truncated, tampered or inconsistent; -ENOMEM. */
int learner_load(const void *data, size_t len, size_t *used, struct learner_model **out) ML_WUR;

#endif
