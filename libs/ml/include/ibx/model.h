/* model: the trained-model file: preprocessing, learner and everything needed to serve
 * and explain predictions, in one validated, checksummed file.
 *
 * Layout (little-endian):
 *   magic "IBXMODEL" (8) | format version u32 (MODEL_FORMAT_VERSION) | flags u32 (0) |
 *   payload length u64 | SHA-256 of the payload (32 bytes) | payload
 * payload:
 *   u64 length + metadata JSON (UTF-8 text, see model_meta) |
 *   u64 length + prep encoding (ibx/prep.h) | u64 length + learner encoding (ibx/learner.h)
 * model_load checks the magic, the version, the length against the bytes given, the
 * SHA-256, then each section (JSON parses and has the fields below; prep and learner
 * encodings load; feature count, task and class count agree across the three). A
 * truncated, extended or tampered file is -EINVAL with a message saying what was wrong.
 *
 * A struct model is immutable and safe to share between predicting threads. */
#ifndef IBX_MODEL_H
#define IBX_MODEL_H

#include <ibx/buf.h>
#include <ibx/learner.h>
#include <ibx/ml.h>
#include <ibx/prep.h>

#include <jansson.h>
#include <stddef.h>

#define MODEL_MAGIC          "IBXMODEL"
#define MODEL_FORMAT_VERSION 1u
#define MODEL_HEADER_LEN     56 /* 8 + 4 + 4 + 8 + 32 */

struct model;

/* A model from its parts; prep and lm are taken (freed with the model, also on failure).
 * training (may be NULL; copied) is the training configuration to keep, e.g. the
 * experiment's {"test_size", "random_state", "cv_folds", "preprocessing", ...}.
 * -EINVAL when prep and lm disagree (feature count, task, class count); -ENOMEM. */
int model_new(struct prep *prep, struct learner_model *lm, const json_t *training,
              struct model **out) ML_WUR;
void model_free(struct model *m);

/* Wrap an XGBoost JSON model (xgbimport.h; json[0..len) borrowed) with an identity prep:
 * features by position, named names[0..nnames) (NULL: f0, f1, ...; nnames must then equal
 * the model's feature count or be 0), class labels labels[0..nlabels) (NULL: "0", "1",
 * ...). Its learner is gradient_boosting with hyperparameters {"source": "xgboost"}.
 * -EINVAL with a message, -ENOMEM. */
int model_from_xgboost(const char *json, size_t len, const char *const *names, size_t nnames,
                       const char *const *labels, size_t nlabels, struct model **out, char *err,
                       size_t errlen) ML_WUR;

/* Append the file to out: 0, -EMSGSIZE, -ENOMEM. */
int model_save(const struct model *m, struct buf *out) ML_WUR;
/* Load a whole file data[0..len) (borrowed). *out is the caller's (model_free).
 * -EINVAL with a message in err, -ENOMEM. */
int model_load(const void *data, size_t len, struct model **out, char *err, size_t errlen) ML_WUR;

/* Borrowed from m. */
const struct prep *model_prep(const struct model *m);
const struct learner_model *model_learner(const struct model *m);
/* The metadata (borrowed): {"format_version": 1, "task": "classification"|"regression",
 * "target": name, "algorithm": learner name, "hyperparameters": {...},
 * "feature_names": [...], "classes": [...] (classification), "input_schema":
 * prep_schema_json, "training": {...} or null, "source": "ibis-x"|"xgboost"}. */
const json_t *model_meta(const struct model *m);
enum ml_task model_task(const struct model *m);

/* Predict on rows already transformed (x->p == prep_n_features): pred x->n class indices
 * or values; proba (may be NULL; classification only) x->n * nclasses. */
int model_predict_matrix(const struct model *m, const struct ml_matrix *x, double *pred,
                         double *proba) ML_WUR;

/* Predict JSON instances (prep_transform_json_rows rules). *out (caller decrefs):
 * {"predictions": [label string (classification) or number], "probabilities":
 *  [{label: p, ...}, ...] (classification), "class_indices": [...] (classification)}.
 * -EINVAL with *problems (as prep_transform_json_rows; problems may be NULL), -ENOMEM. */
int model_predict_rows(const struct model *m, const json_t *instances, json_t **out,
                       json_t **problems) ML_WUR;

#endif
