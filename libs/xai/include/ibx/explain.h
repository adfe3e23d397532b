/* explain: SHAP values for a loaded model file (ibx/model.h) in one call, the method chosen
 * by the model type: what model-serving's V2 explain extension (POST
 * /v2/models/{name}/explain) and the xai-engine's SHAP requests call.
 *
 * Automatic choice (explain_choose), with its reason as text:
 *   decision_tree, random_forest, gradient_boosting (incl. imported XGBoost)
 *       -> TreeSHAP, path-dependent (exact; no background needed)
 *   linear_regression, ridge_regression, logistic_regression
 *       -> Linear SHAP (exact; against the background mean)
 *   knn, gaussian_nb -> KernelSHAP (sampled; exact when 2^M - 2 <= nsamples)
 * Output spaces are those of ibx/shap.h (probabilities for trees, forests and KernelSHAP;
 * log-odds or margins for boosting and logistic regression; the value for regression).
 * The background (what "feature absent" means for Linear, Kernel and interventional
 * SHAP): the caller's transformed rows (e.g. training rows; summarised to
 * background_size rows by k-means for KernelSHAP and by seeded sampling for the
 * interventional TreeSHAP), or without them the model's reference row: the row the
 * preprocessing makes of an instance whose every value is missing (numeric columns at
 * their training fill value, e.g. the mean, categories at the most frequent one; an
 * imported XGBoost model's features missing). The values are then Shapley values against
 * that single reference ("baseline Shapley"), and the result says so.
 * Feature names are the prep's output features ("colour=red") or, with group set, the
 * input columns, each the sum of its one-hot features (xai_attrib_aggregate). */
#ifndef IBX_EXPLAIN_H
#define IBX_EXPLAIN_H

#include <ibx/learner.h>
#include <ibx/ml.h>
#include <ibx/model.h>
#include <ibx/xai.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum explain_method {
    EXPLAIN_AUTO = 0,
    EXPLAIN_TREE_SHAP = 1,
    EXPLAIN_TREE_SHAP_INTERVENTIONAL = 2,
    EXPLAIN_LINEAR_SHAP = 3,
    EXPLAIN_KERNEL_SHAP = 4
};

struct explain_opts {
    enum explain_method method;         /* default EXPLAIN_AUTO */
    const struct ml_matrix *background; /* transformed rows (borrowed) or NULL */
    size_t background_size;             /* summary size, default 100 */
    size_t nsamples;                    /* KernelSHAP, 0: 2 M + 2048 */
    uint64_t seed;                      /* default 0 */
    int group;                          /* sum one-hot features per input column */
};
void explain_opts_default(struct explain_opts *o);

/* The method AUTO picks for a learner, and why (static English text). -ENOTSUP when
 * nothing applies (never for the learners of ibx/learner.h). Also validates an explicit
 * method: explain_check rejects TreeSHAP for a non-tree model and Linear SHAP for a
 * non-linear one (-ENOTSUP with the reason). */
int explain_choose(const struct learner_model *lm, enum explain_method *method,
                   const char **reason) XAI_WUR;
int explain_check(const struct learner_model *lm, enum explain_method method,
                  const char **reason) XAI_WUR;

/* Owns everything (explain_result_release; accepts a zeroed struct). */
struct explain_result {
    struct xai_attrib attrib; /* [n][k][p] with p = n_features below */
    enum explain_method method;
    const char *reason;       /* why this method (static English text) */
    char **feature_names;     /* attrib.p names */
    char **output_names;      /* attrib.k names: class labels, the positive class for a
                               * binary log-odds output, the target for regression */
    size_t background_rows;   /* rows of the background used (0 for path TreeSHAP) */
    int reference_background; /* 1 when the model's reference row was the background */
};
void explain_result_release(struct explain_result *r);

/* Explain rows x (transformed: x->p == prep_n_features(model_prep(m)); borrowed) of model
 * m (borrowed). o may be NULL (defaults); ctl may be NULL. *out is filled only on
 * success. -EINVAL with a message in err (shape, option or method problems), -ENOTSUP
 * (a method that does not apply; message in err), -ENOMEM, -ECANCELED. */
int explain_matrix(const struct model *m, const struct ml_matrix *x, const struct explain_opts *o,
                   const struct ml_control *ctl, struct explain_result *out, char *err,
                   size_t errlen) XAI_WUR;

/* The same for JSON instances as model serving receives them (prep_transform_json_rows
 * rules; borrowed). -EINVAL with *problems (as prep_transform_json_rows; caller decrefs;
 * problems may be NULL) for bad instances, else as explain_matrix. */
int explain_instances(const struct model *m, const json_t *instances, const struct explain_opts *o,
                      const struct ml_control *ctl, struct explain_result *out, json_t **problems,
                      char *err, size_t errlen) XAI_WUR;

/* The result as a V2 inference-protocol response body (new reference, caller decrefs;
 * NULL on ENOMEM): {"model_name": model_name, "outputs": [
 *   {"name": "shap_values", "shape": [n, k, p], "datatype": "FP64", "data": [...]},
 *   {"name": "base_values", "shape": [n, k], "datatype": "FP64", "data": [...]},
 *   {"name": "predictions", "shape": [n, k], "datatype": "FP64", "data": [...]},
 *   {"name": "additivity_residual", "shape": [n, k], "datatype": "FP64", "data": [...]},
 *   {"name": "feature_names", "shape": [p], "datatype": "BYTES", "data": [...]},
 *   {"name": "output_names", "shape": [k], "datatype": "BYTES", "data": [...]}],
 *  "parameters": {"method": xai_method_name, "output_space": xai_space_name,
 *   "method_reason": text, "max_abs_residual": r, "background_rows": b,
 *   "reference_background": bool, "exact": bool}}
 * Data are flat, row-major. Non-finite numbers are written as null. */
json_t *explain_result_v2(const struct explain_result *r, const char *model_name);

#endif
