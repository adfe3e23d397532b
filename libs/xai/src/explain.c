/* explain: SHAP values of a model file's predictions in one call, the method chosen by the
 * model type; the V2 inference-protocol response. */
#include <ibx/explain.h>
#include <ibx/shap.h>

#include "xaiimpl.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void explain_opts_default(struct explain_opts *o)
{
    memset(o, 0, sizeof *o);
    o->background_size = 100;
}

static const char R_TREE[] = "tree ensemble: exact TreeSHAP (path-dependent, polynomial time)";
static const char R_TREE_IV[] =
    "tree ensemble: exact interventional TreeSHAP against the background";
static const char R_LINEAR[] = "linear model: exact Linear SHAP against the background mean";
static const char R_KERNEL[] = "no model-specific explainer for this learner: KernelSHAP";
static const char R_NOT_TREE[] = "TreeSHAP needs a decision tree, forest or boosted model";
static const char R_NOT_LINEAR[] = "Linear SHAP needs a linear, ridge or logistic regression";
static const char R_UNKNOWN[] = "unknown method";

static int is_tree(const struct learner_model *lm)
{
    return learner_model_tree(lm) || learner_model_forest(lm) || learner_model_gbt(lm);
}

static int is_linear(const struct learner_model *lm)
{
    return learner_model_logreg(lm) || learner_model_linreg(lm);
}

int explain_choose(const struct learner_model *lm, enum explain_method *method, const char **reason)
{
    if (!lm || !method)
        return -EINVAL;
    *method = is_tree(lm)     ? EXPLAIN_TREE_SHAP
              : is_linear(lm) ? EXPLAIN_LINEAR_SHAP
                              : EXPLAIN_KERNEL_SHAP;
    if (reason)
        *reason = *method == EXPLAIN_TREE_SHAP     ? R_TREE
                  : *method == EXPLAIN_LINEAR_SHAP ? R_LINEAR
                                                   : R_KERNEL;
    return 0;
}

int explain_check(const struct learner_model *lm, enum explain_method method, const char **reason)
{
    if (!lm)
        return -EINVAL;
    const char *why = NULL;
    int rc = 0;
    switch (method) {
    case EXPLAIN_AUTO:
        return explain_choose(lm, &method, reason);
    case EXPLAIN_TREE_SHAP:
    case EXPLAIN_TREE_SHAP_INTERVENTIONAL:
        why = is_tree(lm) ? (method == EXPLAIN_TREE_SHAP ? R_TREE : R_TREE_IV) : R_NOT_TREE;
        rc = is_tree(lm) ? 0 : -ENOTSUP;
        break;
    case EXPLAIN_LINEAR_SHAP:
        why = is_linear(lm) ? R_LINEAR : R_NOT_LINEAR;
        rc = is_linear(lm) ? 0 : -ENOTSUP;
        break;
    case EXPLAIN_KERNEL_SHAP:
        why = "KernelSHAP, asked for: any model";
        break;
    default:
        why = R_UNKNOWN;
        rc = -EINVAL;
    }
    if (reason)
        *reason = why;
    return rc;
}

void explain_result_release(struct explain_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->feature_names && i < r->attrib.p; i++)
        free(r->feature_names[i]);
    for (size_t i = 0; r->output_names && i < r->attrib.k; i++)
        free(r->output_names[i]);
    free(r->feature_names);
    free(r->output_names);
    xai_attrib_release(&r->attrib);
    memset(r, 0, sizeof *r);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The row the preprocessing makes of an instance whose every input is missing. */
static int reference_row(const struct prep *pp, double **row)
{
    json_t *schema = prep_schema_json(pp), *inst = json_object(), *arr = json_array();
    int rc = schema && inst && arr ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < json_array_size(schema); i++) {
        const char *name = json_string_value(json_object_get(json_array_get(schema, i), "name"));
        rc = name && json_object_set_new(inst, name, json_null()) == 0 ? 0 : -ENOMEM;
    }
    rc = rc ? rc : json_array_append(arr, inst) ? -ENOMEM : 0;
    size_t n = 0;
    rc = rc ? rc : prep_transform_json_rows(pp, arr, row, &n, NULL) ? -EINVAL : 0;
    json_decref(schema);
    json_decref(inst);
    json_decref(arr);
    return rc;
}

/* The background for methods that need one: the caller's rows summarised, or the
 * reference row. */
static int make_background(const struct model *m, enum explain_method method,
                           const struct explain_opts *o, struct xai_background *bg, int *ref,
                           char *err, size_t errlen)
{
    size_t p = prep_n_features(model_prep(m));
    const struct ml_matrix *b = o->background;
    if (b && b->n > 0) {
        *ref = 0;
        if (b->p != p || !b->x) {
            set_err(err, errlen, "background has %zu features, the model %zu", b->p, p);
            return -EINVAL;
        }
        int rc = method == EXPLAIN_KERNEL_SHAP
                     ? xai_background_kmeans(b, o->background_size, o->seed, bg)
                 : method == EXPLAIN_LINEAR_SHAP
                     ? xai_background_all(b, bg)
                     : xai_background_sample(b, o->background_size, o->seed, bg);
        if (rc == -EINVAL)
            set_err(err, errlen, "the background rows must be finite");
        return rc;
    }
    double *row = NULL;
    *ref = 1;
    int rc = reference_row(model_prep(m), &row);
    if (rc) {
        set_err(err, errlen, "cannot build the model's reference row");
        return rc;
    }
    struct ml_matrix rm = {row, 1, p};
    rc = xai_background_all(&rm, bg);
    free(row);
    return rc;
}

static int run_method(const struct model *m, enum explain_method method,
                      const struct xai_background *bg, const struct ml_matrix *x,
                      const struct explain_opts *o, const struct ml_control *ctl,
                      struct xai_attrib *out)
{
    const struct learner_model *lm = model_learner(m);
    if (method == EXPLAIN_LINEAR_SHAP)
        return shap_linear(lm, bg, x, out);
    if (method == EXPLAIN_KERNEL_SHAP) {
        struct xai_predictor f;
        struct shap_kernel_opts ko = {o->nsamples, o->seed};
        int rc = xai_predictor_learner(lm, &f);
        return rc ? rc : shap_kernel(&f, bg, x, &ko, ctl, out);
    }
    struct shap_trees *t = NULL;
    int rc = shap_trees_from_learner(lm, &t);
    if (rc == 0)
        rc = method == EXPLAIN_TREE_SHAP ? shap_tree(t, x, ctl, out)
                                         : shap_tree_interventional(t, bg, x, ctl, out);
    shap_trees_free(t);
    return rc;
}

static char **copy_names(const char *const *names, size_t n)
{
    char **out = calloc(n + 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++) {
        out[i] = strdup(names[i] ? names[i] : "");
        if (!out[i]) {
            for (size_t j = 0; j < i; j++)
                free(out[j]);
            free(out);
            return NULL;
        }
    }
    return out;
}

/* Output names: class labels, the positive class for one log-odds output, the target. */
static int name_outputs(const struct prep *pp, size_t k, struct explain_result *r)
{
    size_t nc = 0;
    const char *const *cls = prep_classes(pp, &nc);
    const char *target = prep_target(pp);
    if (nc >= 2 && k == nc)
        r->output_names = copy_names(cls, k);
    else if (nc >= 2 && k == 1)
        r->output_names = copy_names(cls + 1, 1);
    else
        r->output_names = copy_names(&target, 1);
    return r->output_names ? 0 : -ENOMEM;
}

/* Feature names, one-hot groups summed first when asked. */
static int name_features(const struct prep *pp, int group, struct explain_result *r)
{
    size_t p = 0;
    const char *const *names = prep_feature_names(pp, &p);
    if (!group) {
        r->feature_names = copy_names(names, p);
        return r->feature_names ? 0 : -ENOMEM;
    }
    struct xai_groups g = {0};
    struct xai_attrib agg = {0};
    int rc = xai_groups_from_prep(pp, &g);
    rc = rc ? rc : xai_attrib_aggregate(&r->attrib, &g, &agg);
    if (rc == 0) {
        r->feature_names = copy_names((const char *const *)g.names, g.n);
        rc = r->feature_names ? 0 : -ENOMEM;
    }
    if (rc == 0) {
        xai_attrib_release(&r->attrib);
        r->attrib = agg;
    } else {
        xai_attrib_release(&agg);
    }
    xai_groups_release(&g);
    return rc;
}

int explain_matrix(const struct model *m, const struct ml_matrix *x, const struct explain_opts *o,
                   const struct ml_control *ctl, struct explain_result *out, char *err,
                   size_t errlen)
{
    struct explain_opts defaults;
    explain_opts_default(&defaults);
    o = o ? o : &defaults;
    if (err && errlen)
        err[0] = '\0';
    if (!m || !x || !out || (!x->x && x->n)) {
        set_err(err, errlen, "missing model or rows");
        return -EINVAL;
    }
    const struct prep *pp = model_prep(m);
    const struct learner_model *lm = model_learner(m);
    if (x->p != prep_n_features(pp)) {
        set_err(err, errlen, "rows have %zu features, the model %zu", x->p, prep_n_features(pp));
        return -EINVAL;
    }
    struct explain_result r = {.method = o->method};
    int rc = o->method == EXPLAIN_AUTO ? explain_choose(lm, &r.method, &r.reason)
                                       : explain_check(lm, o->method, &r.reason);
    if (rc) {
        set_err(err, errlen, "%s", r.reason ? r.reason : "method not applicable");
        return rc;
    }
    struct xai_background bg = {0};
    if (r.method != EXPLAIN_TREE_SHAP) {
        rc = make_background(m, r.method, o, &bg, &r.reference_background, err, errlen);
        r.background_rows = bg.n;
    }
    rc = rc ? rc : run_method(m, r.method, &bg, x, o, ctl, &r.attrib);
    if (rc == -EINVAL && !(err && *err))
        set_err(err, errlen, "the rows hold a value this method cannot take (a missing value?)");
    xai_background_release(&bg);
    rc = rc ? rc : name_outputs(pp, r.attrib.k, &r);
    rc = rc ? rc : name_features(pp, o->group, &r);
    if (rc) {
        if (rc == -ENOMEM)
            set_err(err, errlen, "out of memory");
        explain_result_release(&r);
        return rc;
    }
    *out = r;
    return 0;
}

int explain_instances(const struct model *m, const json_t *instances, const struct explain_opts *o,
                      const struct ml_control *ctl, struct explain_result *out, json_t **problems,
                      char *err, size_t errlen)
{
    if (!m || !instances || !out)
        return -EINVAL;
    double *x = NULL;
    size_t n = 0;
    int rc = prep_transform_json_rows(model_prep(m), instances, &x, &n, problems);
    if (rc) {
        set_err(err, errlen, "the instances do not fit the model's input schema");
        return rc;
    }
    struct ml_matrix xm = {x, n, prep_n_features(model_prep(m))};
    rc = explain_matrix(m, &xm, o, ctl, out, err, errlen);
    free(x);
    return rc;
}

/* ---- V2 ---- */

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *tensor_fp64(const char *name, const double *v, size_t n, const size_t *shape,
                           size_t dims)
{
    json_t *t = json_object(), *sh = json_array(), *data = json_array();
    int bad = !t || !sh || !data;
    for (size_t d = 0; !bad && d < dims; d++)
        bad = json_array_append_new(sh, json_integer((json_int_t)shape[d])) != 0;
    for (size_t i = 0; !bad && i < n; i++)
        bad = json_array_append_new(data, num_or_null(v[i])) != 0;
    bad = bad || json_object_set_new(t, "name", json_string(name)) ||
          json_object_set_new(t, "shape", sh) ||
          json_object_set_new(t, "datatype", json_string("FP64")) ||
          json_object_set_new(t, "data", data);
    if (bad) {
        json_decref(t);
        return NULL;
    }
    return t;
}

static json_t *tensor_bytes(const char *name, char *const *s, size_t n)
{
    json_t *data = json_array();
    for (size_t i = 0; data && i < n; i++)
        if (json_array_append_new(data, json_string(s[i]))) {
            json_decref(data);
            return NULL;
        }
    return data ? json_pack("{s:s, s:[I], s:s, s:o}", "name", name, "shape", (json_int_t)n,
                            "datatype", "BYTES", "data", data)
                : NULL;
}

json_t *explain_result_v2(const struct explain_result *r, const char *model_name)
{
    const struct xai_attrib *a = &r->attrib;
    size_t s3[3] = {a->n, a->k, a->p}, s2[2] = {a->n, a->k};
    json_t *outs = json_array();
    json_t *items[6] = {
        tensor_fp64("shap_values", a->values, a->n * a->k * a->p, s3, 3),
        tensor_fp64("base_values", a->base, a->n * a->k, s2, 2),
        tensor_fp64("predictions", a->pred, a->n * a->k, s2, 2),
        tensor_fp64("additivity_residual", a->residual, a->n * a->k, s2, 2),
        tensor_bytes("feature_names", r->feature_names, a->p),
        tensor_bytes("output_names", r->output_names, a->k),
    };
    int bad = !outs;
    for (size_t i = 0; i < 6; i++) {
        bad = bad || !items[i] || json_array_append(outs, items[i]);
        json_decref(items[i]);
    }
    json_t *params =
        bad ? NULL
            : json_pack("{s:s, s:s, s:s, s:o, s:I, s:b, s:b}", "method", xai_method_name(a->method),
                        "output_space", xai_space_name(a->space), "method_reason",
                        r->reason ? r->reason : "", "max_abs_residual",
                        num_or_null(a->max_abs_residual), "background_rows",
                        (json_int_t)r->background_rows, "reference_background",
                        r->reference_background, "exact", xai_method_exact(a->method));
    json_t *doc = json_object();
    if (!doc || bad || !params) {
        json_decref(doc);
        json_decref(outs);
        json_decref(params);
        return NULL;
    }
    int e = json_object_set_new(doc, "model_name", json_string(model_name ? model_name : ""));
    e |= json_object_set_new(doc, "outputs", outs); /* each steals its value, also on error */
    e |= json_object_set_new(doc, "parameters", params);
    if (e) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
