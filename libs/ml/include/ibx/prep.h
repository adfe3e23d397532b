/* prep: preprocessing of a typed frame (ibx/frame.h) into the dense matrix the learners
 * take, fitted on training rows only and stored with the model.
 *
 * What prep_fit learns, from the training rows it is given (never from other rows):
 * - Target: rows whose target is missing are dropped (and counted). Classification: the
 *   class labels are strings (a numeric target's values printed as integers when whole,
 *   else with %.17g; a boolean's "false"/"true"; a category's text), sorted (numerically
 *   when the target column is numeric, else by strcmp); class index i is labels[i].
 *   Regression: the target must be numeric (or boolean, read as 0/1).
 * - Columns left out, each with a reason in the report: the target itself, columns named
 *   in exclude_columns, columns whose missing share among the training rows is greater than
 *   missing_threshold ("missing"), id-like columns ("id_like"; see below), free-text
 *   columns ("text"), and columns with a single value or none among the training rows
 *   ("constant").
 *   Id-like: every training row has a value and no two are equal, and either the name
 *   looks like an identifier (id, uuid, guid, key, index, row, rownum, or ending in _id,
 *   -id, " id", Id, _uuid, _key, case-insensitive except the camel-case Id) or the column
 *   is categorical (a string per row), or it is integer-valued and its values step by 1
 *   in row order (a row counter). A unique integer column with another name (e.g. a
 *   measured count) is kept. With exclude_id_like 0 none of this is applied.
 * - Numeric features (FRAME_NUMERIC; FRAME_BOOLEAN as 0/1; FRAME_TEMPORAL as seconds since
 *   the epoch): one output column each, imputed with numeric_imputation (mean, median,
 *   most_frequent: the smallest of the most frequent values, constant: fill_value, knn: the
 *   mean of that column over the knn_neighbors nearest training rows that have it, by
 *   Euclidean distance over the standardised numeric columns both rows have, scaled up
 *   for the columns missing, as scikit-learn's KNNImputer with nan_euclidean), then
 *   scaled: standard (mean 0, population sd 1; a constant column only centred), minmax
 *   (to [0, 1]; constant -> 0), robust ((x - median) / IQR; IQR 0 -> 1), or none. All
 *   statistics are of the training rows (after imputation for scaling).
 * - Categorical features (FRAME_CATEGORICAL): imputed with categorical_imputation
 *   (most_frequent: the most frequent training category, ties to the first in sorted
 *   order; constant: fill_value's string, which becomes a category of its own), then
 *   one-hot encoded over the training categories, sorted by strcmp, at most
 *   max_categories of them (the most frequent; the others are treated as unseen). An
 *   unseen category (not among the encoded ones) gives an all-zero row for that column.
 *   Output features are named "<column>=<category>".
 *
 * Transforming (a frame's rows or JSON instances) applies exactly the fitted statistics.
 * Columns are found by name, so the frame may be another file with the same columns.
 * Output features come in input column order, a categorical column's one-hots together.
 * Nothing here keeps a pointer into the frame it was fitted on.
 *
 * An identity prep (prep_new_identity) passes numeric features through unchanged (NaN
 * stays NaN), for imported models that take their features as given.
 *
 * A struct prep is immutable once fitted and safe to share between threads. Errors: 0,
 * -EINVAL (bad input; a message in err when err is given), -ENOMEM, -EMSGSIZE (a buf
 * limit). */
#ifndef IBX_PREP_H
#define IBX_PREP_H

#include <ibx/buf.h>
#include <ibx/frame.h>
#include <ibx/ml.h>

#include <jansson.h>
#include <stddef.h>

enum prep_impute {
    PREP_IMPUTE_MEAN = 1,
    PREP_IMPUTE_MEDIAN = 2,
    PREP_IMPUTE_MOST_FREQUENT = 3,
    PREP_IMPUTE_CONSTANT = 4,
    PREP_IMPUTE_KNN = 5 /* numeric only */
};

enum prep_scale {
    PREP_SCALE_STANDARD = 1,
    PREP_SCALE_MINMAX = 2,
    PREP_SCALE_ROBUST = 3,
    PREP_SCALE_NONE = 4
};

#define PREP_MAX_EXCLUDE 1024

/* The preprocessing settings. Strings are owned by the struct (prep_config_release). */
struct prep_config {
    double missing_threshold;                /* [0, 1], default 0.8: drop when missing > it */
    enum prep_impute numeric_imputation;     /* default mean */
    enum prep_impute categorical_imputation; /* most_frequent (default) or constant */
    double numeric_fill;                     /* constant numeric imputation, default 0 */
    char *categorical_fill;  /* constant categorical imputation, default "missing" */
    enum prep_scale scaling; /* default standard */
    size_t knn_neighbors;    /* 1..100, default 5 */
    size_t max_categories;   /* one-hot width per column, 1..1000, default 100 */
    int exclude_id_like;     /* default 1 */
    char **exclude_columns;  /* nexclude names, never used as features */
    size_t nexclude;
};

/* The defaults above (categorical_fill NULL means "missing"; nothing allocated). */
void prep_config_default(struct prep_config *cfg);
void prep_config_release(struct prep_config *cfg);

/* Read the "preprocessing" object of an experiment request (NULL or {} means defaults):
 *   {"missing_threshold": 0.8, "numeric_imputation": "mean"|"median"|"most_frequent"|
 *    "constant"|"knn", "categorical_imputation": "most_frequent"|"constant",
 *    "fill_value": <number or string>, "scaling": "standard"|"minmax"|"robust"|"none",
 *    "knn_neighbors": 5, "max_categories": 100, "exclude_id_like": true,
 *    "exclude_columns": ["name", ...]}
 * fill_value: a number is the numeric constant, a string the categorical constant (a
 * string that is a number is both); "numeric_fill_value" and "categorical_fill_value" set
 * them separately. Unknown keys are problems. On success *out is filled (release it) and
 * 0 returned; otherwise -EINVAL, *out untouched, and *problems (when problems is not NULL;
 * caller decrefs) is a JSON array of {"field": "preprocessing.<key>", "message": "..."}
 * naming every bad field. -ENOMEM. */
int prep_config_parse(const json_t *obj, struct prep_config *out, json_t **problems) ML_WUR;
/* The config as the JSON object above (new reference, caller decrefs; NULL on ENOMEM). */
json_t *prep_config_json(const struct prep_config *cfg);
/* Deep copy: 0 or -ENOMEM. */
int prep_config_copy(const struct prep_config *src, struct prep_config *dst) ML_WUR;

struct prep;

/* The target column of rows[0..nrows) (NULL: every row) as class indices or values,
 * before any prep exists: what a stratified split needs. Classification: labels sorted as
 * above over those rows; *labels (caller frees each string and the array) has *nclasses
 * entries; y[i] is the class index or NaN when the target is missing. Regression: y[i]
 * the value or NaN, *labels NULL, *nclasses 0. y has nrows entries (caller's). -EINVAL
 * when the target column is absent, text, or not numeric for regression. */
int prep_target_codes(const struct frame *f, const char *target, enum ml_task task,
                      const size_t *rows, size_t nrows, double *y, char ***labels, size_t *nclasses,
                      char *err, size_t errlen) ML_WUR;

/* Fit on rows[0..nrows) of f (rows NULL: every row; all borrowed for the call). *out is the
 * caller's (prep_free). -EINVAL with a message for: no target column, a target of the
 * wrong kind, fewer than 2 rows with a target, fewer than 2 classes, no feature left. */
int prep_fit(const struct frame *f, const char *target, enum ml_task task, const size_t *rows,
             size_t nrows, const struct prep_config *cfg, struct prep **out, char *err,
             size_t errlen) ML_WUR;
void prep_free(struct prep *p);

/* A prep that passes nfeatures numeric columns through unchanged (no imputation, no
 * scaling). names: nfeatures strings (copied) or NULL for "f0", "f1", ... labels: the
 * class labels (copied; nclasses >= 2) or NULL for "0", "1", ...; ignored for regression.
 * target may be NULL ("target"). */
int prep_new_identity(size_t nfeatures, const char *const *names, enum ml_task task,
                      size_t nclasses, const char *const *labels, const char *target,
                      struct prep **out) ML_WUR;

/* The transformed rows. Owns its arrays (prep_output_release; accepts a zeroed struct). */
struct prep_output {
    double *x;    /* n x p, row-major */
    double *y;    /* n targets (class index or value); NULL when the frame has no target */
    size_t *rows; /* n: the frame row each output row came from */
    size_t n, p;
    size_t dropped_missing_target; /* rows left out because their target was missing */
    size_t dropped_unknown_class;  /* rows whose class was not seen in training */
};
void prep_output_release(struct prep_output *o);

/* Transform rows[0..nrows) of f (rows NULL: every row). When f has the target column,
 * rows with a missing target or an unseen class are left out (and counted); without it
 * every row is kept and y is NULL. A feature column missing from f, or of an incompatible
 * kind (text where numbers were fitted, ...), is -EINVAL naming it. *out is filled only
 * on success. */
int prep_transform(const struct prep *p, const struct frame *f, const size_t *rows, size_t nrows,
                   struct prep_output *out, char *err, size_t errlen) ML_WUR;

/* Transform JSON instances (an array of objects {column: value}, as model serving
 * receives them) into *x (n x p, caller frees; n = the array's size) and *n. Values:
 * numeric columns take numbers (or numeric strings), boolean columns true/false (or
 * 0/1 and the frame's boolean texts), temporal columns ISO-8601 strings or seconds,
 * categorical columns strings (numbers are taken as their decimal text); null is a
 * missing value and is imputed. The target, excluded and dropped columns are ignored.
 * Problems (each {"row": i, "field": name, "message": ...}; at most 100 listed): the
 * array is not an array of objects, a feature column absent from an instance ("missing
 * feature"), a key that is no column of the training data ("unknown feature"), a value
 * of the wrong type. With any problem: -EINVAL and *problems (caller decrefs; when
 * problems is not NULL), x untouched. An identity prep takes keys f0.. (or its names). */
int prep_transform_json_rows(const struct prep *p, const json_t *instances, double **x, size_t *n,
                             json_t **problems) ML_WUR;

enum ml_task prep_task(const struct prep *p);
const char *prep_target(const struct prep *p);
/* Output features: *count names, borrowed from p ("col" or "col=category"). */
const char *const *prep_feature_names(const struct prep *p, size_t *count);
size_t prep_n_features(const struct prep *p);
/* Class labels (classification; *count 0 and NULL for regression), borrowed from p. */
const char *const *prep_classes(const struct prep *p, size_t *count);
/* 1 for an identity prep. */
int prep_is_identity(const struct prep *p);

/* The input schema model serving shows and checks against (new reference, caller
 * decrefs; NULL on ENOMEM): [{"name", "type": "number"|"boolean"|"datetime"|"category",
 * "categories": [...] (category only), "missing_fill": <imputed value>}], in input order. */
json_t *prep_schema_json(const struct prep *p);

/* What fitting did (new reference, caller decrefs; NULL on ENOMEM):
 * {"config": {...prep_config_json}, "target": name, "task": "classification"|"regression",
 *  "classes": [...]?, "rows_used": n, "rows_dropped_missing_target": k,
 *  "dropped_columns": [{"column", "reason": "target"|"excluded"|"missing"|"id_like"|
 *                       "text"|"constant", "detail": "..."}],
 *  "features": [{"column", "kind": "numeric"|"boolean"|"temporal"|"categorical",
 *                "missing": m, "imputation": strategy, "fill_value": v, "scaling": s,
 *                "center": c, "scale": d, "categories": [...], "other_categories": k,
 *                "outputs": [feature names]}],
 *  "imputed_values": total values imputed in the training rows,
 *  "n_features_in": columns used, "n_features_out": p, "identity": bool} */
json_t *prep_report_json(const struct prep *p);

/* Append the encoding (ibx/mlenc.h envelope, magic "IBXPREP1") to out: 0, -EMSGSIZE,
 * -ENOMEM. */
int prep_save(const struct prep *p, struct buf *out) ML_WUR;
/* Read one encoding from data[0..len) (borrowed); *used (may be NULL, then the encoding
 * must fill len exactly) is set to the bytes read. -EINVAL for anything truncated,
 * tampered or inconsistent; -ENOMEM. */
int prep_load(const void *data, size_t len, size_t *used, struct prep **out) ML_WUR;

#endif
