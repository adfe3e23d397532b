/* mlrun: one machine-learning experiment from a frame to a model file and its results, in
 * one call (mlrun_train) or in cacheable steps for pipeline plans (prepare, fit, evaluate,
 * compare), plus the deterministic advice on task type and algorithm.
 *
 * The experiment: the target column's rows with a value are split into train and test
 * (seeded by random_state; stratified by class for classification, ibx/split.h), the
 * preprocessing is fitted on the train rows only (ibx/prep.h) and applied to both, the
 * learner is fitted on the train matrix (ibx/learner.h), then evaluated on the test
 * matrix (ibx/mlmetrics.h). Optional k-fold cross-validation runs on the train rows, each
 * fold refitting the preprocessing on its own train part. Everything is deterministic for
 * a given frame and configuration: the model file bytes and the results (except
 * "timings_ms") are identical run after run, whatever the thread count.
 *
 * Steps (each output is a byte string or JSON that depends only on its inputs, so a plan
 * can cache it by the SHA-256 of its inputs and configuration):
 *   mlrun_prepare(frame, config)            -> prepared (bytes: split, prep, matrices)
 *   mlrun_fit(prepared, algorithm, hparams) -> model file (bytes, ibx/model.h)
 *   mlrun_evaluate(prepared, model)         -> results JSON (no timings)
 *   mlrun_compare([{id, results}], metric)  -> ranking JSON
 * mlrun_train is prepare + cross-validation + fit + evaluate with progress and timings.
 *
 * Results JSON (mlrun_evaluate and mlrun_train; classification keys / regression keys):
 * {"task": "classification"|"regression", "target": name, "algorithm": name,
 *  "hyperparameters": {resolved values},
 *  "split": {"test_size", "random_state", "stratified": bool, "train_rows", "test_rows"},
 *  "classes": [labels] (classification),
 *  "metrics": {"accuracy", "precision_macro", "recall_macro", "f1_macro",
 *              "precision_weighted", "recall_weighted", "f1_weighted", "log_loss",
 *              "roc_auc" (binary, or one-vs-rest macro; null when undefined),
 *              "pr_auc" (average precision; binary, or one-vs-rest macro)}
 *           | {"mae", "mse", "rmse", "r2"},
 *  "per_class": [{"class": label, "precision", "recall", "f1", "support"}] (cls.),
 *  "confusion_matrix": {"labels": [...], "matrix": [[row = true, column = predicted]]},
 *  "roc_curve": binary {"auc", "fpr": [], "tpr": [], "thresholds": []} or multiclass
 *               {"macro_auc", "per_class": [{"class": label, "auc", "fpr", "tpr",
 *               "thresholds"}]} (cls.),
 *  "pr_curve": binary {"average_precision", "recall", "precision", "thresholds"} or
 *              {"macro_average_precision", "per_class": [...]} (cls.),
 *  "cv": {"folds": k, "metric": "accuracy"|"r2", "scores": [...], "mean", "std"}
 *        (mlrun_train with cv_folds >= 2 only),
 *  "feature_importance": {"method": "impurity"|"gain"|"coefficients"|"permutation",
 *        "features": [{"feature": name, "importance": v}] sorted by importance
 *        descending, ties by feature order},
 *  "tree": learner_tree_json (tree learners only),
 *  "preprocessing": prep_report_json,
 *  "task_detection": mlrun_detect_task's reasons (when the task was detected),
 *  "model": {"bytes": size, "sha256": hex} (mlrun_train only),
 *  "timings_ms": {"preprocessing", "cross_validation", "training", "evaluating",
 *                 "saving", "total"} (mlrun_train only)}
 * Curves hold at most curve_max_points points (areas are from the full curves); a curve
 * that is undefined (a class absent from the test rows) is null with its area. Learners
 * without intrinsic importance (knn, gaussian_nb) get permutation importance: the mean drop
 * in accuracy or R^2 over 5 seeded shuffles of each feature, on at most 2000 test rows
 * (fewer for knn on large data, to bound the cost). Numbers that are not finite are null. */
#ifndef IBX_MLRUN_H
#define IBX_MLRUN_H

#include <ibx/buf.h>
#include <ibx/frame.h>
#include <ibx/ml.h>
#include <ibx/prep.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* An experiment's settings; strings and the hyperparameters reference are owned
 * (mlrun_config_release). */
struct mlrun_config {
    char *target;            /* the target column */
    enum ml_task task;       /* 0: detect with mlrun_detect_task */
    char *algorithm;         /* a learner name (ibx/learner.h) */
    json_t *hyperparameters; /* an object or NULL ({}) */
    struct prep_config prep; /* preprocessing */
    double test_size;        /* (0, 1), default 0.2 */
    uint64_t random_state;   /* default 42 */
    size_t cv_folds;         /* 0 (none) or 2..20 */
    size_t tree_max_nodes;   /* per tree in "tree", default 255 */
    size_t tree_max_trees;   /* ensembles: trees shown, default 3 */
    size_t curve_max_points; /* default 200 */
};

/* The defaults above; target and algorithm NULL. */
void mlrun_config_default(struct mlrun_config *cfg);
void mlrun_config_release(struct mlrun_config *cfg);

/* Read the experiment fields of a POST /experiments body: "target_column" (required),
 * "task_type" ("classification"|"regression"; absent or null: detect), "algorithm"
 * (required), "hyperparameters" (object), "preprocessing" (prep_config_parse),
 * "test_size", "random_state" (integer 0..4294967295), "cv_folds" (null, 0 or 2..20).
 * Other keys (project_id, dataset_id, ...) are the caller's and ignored. The
 * hyperparameters are checked with learner_validate for task_type (without one, only
 * names, types and ranges are checked; the task is checked once detected). 0 and *out
 * filled (release it); or -EINVAL and *problems (when problems is not NULL; caller
 * decrefs) = [{"field", "message"}, ...] naming every bad field; -ENOMEM. */
int mlrun_config_parse(const json_t *body, struct mlrun_config *out, json_t **problems) ML_WUR;
/* The config as JSON with the keys above (new reference, caller decrefs; NULL on ENOMEM).
 * Stored in the model file as its training configuration. */
json_t *mlrun_config_json(const struct mlrun_config *cfg);

/* Progress: stage is one of "loading", "preprocessing", "training", "evaluating",
 * "saving"; percent is the experiment's overall progress 0..100, never decreasing
 * (preprocessing 5-15, cross-validation and training 15-85, evaluating 85-95, saving
 * 95-100; "loading" is the caller's, 0-5); detail a short human text ("tree 40 of 100",
 * "fold 2 of 5"), borrowed for the call. Called on the calling thread; throttled to at
 * most one call per percent point per stage. */
typedef void (*mlrun_progress_fn)(void *ctx, const char *stage, int percent, const char *detail);

struct mlrun_hooks {
    mlrun_progress_fn progress; /* may be NULL */
    void *ctx;
    const volatile int *cancel; /* may be NULL; non-zero stops the run with -ECANCELED */
    int threads;                /* 0: one per online CPU */
};

/* The whole experiment on data (borrowed). hooks may be NULL. cfg->task 0 is detected.
 * On success the model file (ibx/model.h) is appended to model_out and *results_out
 * (caller decrefs) holds the results JSON above. Failures: -EINVAL with a message in err
 * (bad configuration, target missing or unusable, too few rows, a learner refusing the
 * data), -ECANCELED (model_out unchanged), -ENOMEM, -EMSGSIZE, -EAGAIN. */
int mlrun_train(const struct frame *data, const struct mlrun_config *cfg,
                const struct mlrun_hooks *hooks, struct buf *model_out, json_t **results_out,
                char *err, size_t errlen) ML_WUR;

/* ---- steps ---- */

/* Split, fit the preprocessing on the train rows and transform both sides; append the
 * prepared encoding (magic "IBXPRPD1": the configuration without algorithm, the prep,
 * train and test matrices, targets and frame row indices) to out. cfg->task 0 is
 * detected. *summary (may be NULL; caller decrefs) = {"task", "task_detection"?,
 * "train_rows", "test_rows", "n_features", "feature_names", "classes"?,
 * "preprocessing": prep_report_json}. Errors as mlrun_train. */
int mlrun_prepare(const struct frame *data, const struct mlrun_config *cfg, struct buf *out,
                  json_t **summary, char *err, size_t errlen) ML_WUR;

/* Fit algorithm with hparams (NULL: {}) on a prepared encoding (borrowed) and append the
 * model file to model_out. Seeds come from the prepared random_state. hooks may be NULL;
 * progress stays in the "training" stage, 0..100 of this step. -EINVAL (the prepared
 * bytes do not load, or the algorithm or hyperparameters are invalid: err names them),
 * -ECANCELED, -ENOMEM, -EMSGSIZE. */
int mlrun_fit(const void *prepared, size_t prepared_len, const char *algorithm,
              const json_t *hparams, const struct mlrun_hooks *hooks, struct buf *model_out,
              char *err, size_t errlen) ML_WUR;

/* Evaluate a model file on the prepared test rows: the results JSON above without "cv",
 * "model" and "timings_ms" (caller decrefs). -EINVAL when either input does not load or
 * they do not belong together (feature names differ). */
int mlrun_evaluate(const void *prepared, size_t prepared_len, const void *model, size_t model_len,
                   json_t **results, char *err, size_t errlen) ML_WUR;

/* Rank results by one metric: entries is an array of {"id": string, "results": results
 * JSON}; metric a key of "metrics" (accuracy, f1_macro, roc_auc, r2, rmse, ...). Lower
 * is better for mae, mse, rmse and log_loss, higher for the others; ties keep the input
 * order; an entry without that metric (or null) is ranked last with "value": null.
 * *out (caller decrefs) = {"metric", "higher_is_better", "best": id,
 * "ranking": [{"rank", "id", "algorithm", "value"}]}. -EINVAL with a message for an
 * unknown metric or malformed entries. */
int mlrun_compare(const json_t *entries, const char *metric, json_t **out, char *err,
                  size_t errlen) ML_WUR;

/* ---- advice ---- */

/* Classification or regression for the target column, with reasons. Rules, in order:
 * boolean or categorical -> classification; text -> -EINVAL (not a usable target);
 * temporal -> regression; numeric: values with fractions -> regression; whole numbers with
 * at most 2 distinct values -> classification, more than 20 -> regression, at most 5% of
 * the rows distinct -> classification; otherwise (3..20 distinct values over few rows) the
 * column name decides when it reads like classes ("class", "label", "target", "category",
 * "type", "species", "outcome", "churn", "status", "grade", "diagnosis", "survived",
 * "fraud", "spam", "is_"/"has_" prefixes) or like a quantity ("price", "amount", "cost",
 * "value", "salary", "income", "score", "rate", "age", "count", "revenue", "sales",
 * "total", "quantity", "temperature", "weight", "height", "duration"), and without such a
 * name 10 or fewer values are classes. A name hint is always listed as a reason.
 * *reasons (may be NULL; caller decrefs) = {"task", "column": {"name", "type",
 * "distinct", "missing", "integer_valued"}, "reasons": [text, ...]}.
 * 0, -EINVAL (no such column, text column, no values), -ENOMEM. */
int mlrun_detect_task(const struct frame *f, const char *target, enum ml_task *task,
                      json_t **reasons) ML_WUR;

/* Rank every learner that does task (0: detect) for this frame, with reasons from its
 * size (rows, features after one-hot), feature types (categorical share), missing values
 * and class balance. Deterministic. *out (caller decrefs) = {"task", "dataset": {"rows",
 * "features", "numeric", "categorical", "missing_fraction", "classes"?},
 * "ranking": [{"rank", "algorithm", "display_name", "score" (0..100),
 * "reasons": [text, ...], "suggested_hyperparameters": {...}}]}. */
int mlrun_advise_algorithms(const struct frame *f, const char *target, enum ml_task task,
                            json_t **out) ML_WUR;

#endif
