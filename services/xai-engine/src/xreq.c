/* xreq: an explanation request checked field by field (422 details name each problem),
 * the names of types, methods, audiences and languages, and the method choice of "auto"
 * with its reason. No HTTP, SQL or Kafka. */
#include "engine.h"

#include <ibx/ids.h>
#include <ibx/jsonv.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const type_names[] = {"global", "local", "feature_importance"};
static const char *const method_names[] = {"auto", "shap", "lime", "permutation", "pdp"};
static const char *const used_names[] = {"tree_shap", "linear_shap", "kernel_shap",
                                         "lime",      "permutation", "pdp"};
static const char *const audience_names[] = {"novice", "intermediate", "expert"};
static const char *const lang_names[] = {"en", "fr"};

#define NAMES(a) (sizeof(a) / sizeof((a)[0]))

static int name_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

const char *xe_type_name(enum xe_type t)
{
    return (size_t)t < NAMES(type_names) ? type_names[t] : "global";
}
const char *xe_method_name(enum xe_method m)
{
    return (size_t)m < NAMES(method_names) ? method_names[m] : "auto";
}
const char *xe_used_name(enum xe_used u)
{
    return (size_t)u < NAMES(used_names) ? used_names[u] : "tree_shap";
}
const char *xe_audience_name(enum xe_audience a)
{
    return (size_t)a < NAMES(audience_names) ? audience_names[a] : "novice";
}
const char *xe_lang_name(enum xe_lang l)
{
    return (size_t)l < NAMES(lang_names) ? lang_names[l] : "en";
}
int xe_type_parse(const char *s)
{
    return name_index(type_names, NAMES(type_names), s);
}
int xe_method_parse(const char *s)
{
    return name_index(method_names, NAMES(method_names), s);
}
int xe_used_parse(const char *s)
{
    return name_index(used_names, NAMES(used_names), s);
}
int xe_audience_parse(const char *s)
{
    return name_index(audience_names, NAMES(audience_names), s);
}
int xe_lang_parse(const char *s)
{
    return name_index(lang_names, NAMES(lang_names), s);
}

int xe_audience_of_claim(const char *aud_level)
{
    return aud_level && aud_level[0] ? xe_audience_parse(aud_level) : -1;
}

/* ------------------------------------------------------------------ problems */

static void add_problem(json_t **details, const char *field, const char *problem)
{
    if (!*details)
        *details = json_pack("{s:[]}", "fields");
    json_t *fields = json_object_get(*details, "fields");
    json_array_append_new(fields, json_pack("{s:s, s:s}", "field", field, "problem", problem));
}

json_t *xreq_problem(const char *field, const char *problem)
{
    json_t *d = NULL;
    add_problem(&d, field, problem);
    return d;
}

void xreq_message(const json_t *details, char *out, size_t n)
{
    const json_t *p = json_array_get(json_object_get(details, "fields"), 0);
    const char *f = json_string_value(json_object_get(p, "field"));
    const char *why = json_string_value(json_object_get(p, "problem"));
    if (f && why)
        snprintf(out, n, "%s: %s", f, why);
    else
        snprintf(out, n, "the request is not valid");
}

/* ------------------------------------------------------------------ parse */

static const struct jsonv_field body_fields[] = {
    {"experiment_id", JSONV_STRING, 1, 36, 1, 0, 0},
    {"explanation_type", JSONV_STRING, 1, 32, 1, 0, 0},
    {"method", JSONV_STRING, 0, 32, 1, 0, 1},
    {"audience_level", JSONV_STRING, 0, 32, 1, 0, 1},
    {"language", JSONV_STRING, 0, 8, 1, 0, 1},
    {"instance", JSONV_OBJECT, 0, 0, 1, 0, 1},
    {"instance_index", JSONV_INT, 0, 0, 0, 1e9, 1},
    {"options", JSONV_OBJECT, 0, 0, 1, 0, 1},
};

static const struct jsonv_field option_fields[] = {
    {"nsamples", JSONV_INT, 0, 0, 2, 100000, 1},
    {"background_size", JSONV_INT, 0, 0, 1, 1000, 1},
    {"seed", JSONV_INT, 0, 0, 0, 9007199254740991.0, 1},
    {"features", JSONV_ARRAY, 0, 50, 1, 0, 1},
    {"max_rows", JSONV_INT, 0, 0, 1, 5000, 1},
    {"repeats", JSONV_INT, 0, 0, 1, 50, 1},
    {"grid_points", JSONV_INT, 0, 0, 2, 100, 1},
    {"ice_rows", JSONV_INT, 0, 0, 0, 500, 1},
};

/* A member's integer, or def when absent or null. */
static long long int_or(const json_t *o, const char *key, long long def)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

/* "options.<field>" problems from jsonv_check's details, re-prefixed. */
static void prefix_problems(json_t **details, const json_t *inner, const char *prefix)
{
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(inner, "fields"), i, p)
    {
        char field[128];
        snprintf(field, sizeof(field), "%s.%s", prefix,
                 json_string_value(json_object_get(p, "field")));
        add_problem(details, field, json_string_value(json_object_get(p, "problem")));
    }
}

static void parse_features(const json_t *arr, struct xe_options *o, json_t **details)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        size_t len = json_string_length(v);
        if (!json_is_string(v) || len == 0 || len > 255) {
            add_problem(details, "options.features",
                        "must be a list of column names (1 to 255 characters each)");
            return;
        }
    }
    if (json_array_size(arr) == 0) {
        add_problem(details, "options.features", "must name at least one column when given");
        return;
    }
    o->features = json_deep_copy(arr);
}

int xreq_options_parse(const json_t *obj, struct xe_options *out)
{
    json_t *details = NULL;
    struct xe_options o;
    memset(&o, 0, sizeof(o));
    o.seed = -1;
    o.ice_rows = -1;
    if (obj && !json_is_object(obj))
        return -EINVAL;
    if (obj && jsonv_check(obj, option_fields, NAMES(option_fields), 1, &details) != 0) {
        json_decref(details);
        return -EINVAL;
    }
    o.nsamples = (long)int_or(obj, "nsamples", 0);
    o.background_size = (long)int_or(obj, "background_size", 0);
    o.seed = int_or(obj, "seed", -1);
    o.max_rows = (long)int_or(obj, "max_rows", 0);
    o.repeats = (long)int_or(obj, "repeats", 0);
    o.grid_points = (long)int_or(obj, "grid_points", 0);
    o.ice_rows = (long)int_or(obj, "ice_rows", -1);
    const json_t *f = json_object_get(obj, "features");
    if (json_is_array(f)) {
        parse_features(f, &o, &details);
        if (details) {
            json_decref(details);
            return -EINVAL;
        }
    }
    *out = o;
    return 0;
}

json_t *xreq_options_json(const struct xe_options *o)
{
    json_t *j = json_object();
    if (!j)
        return NULL;
    if (o->nsamples)
        json_object_set_new(j, "nsamples", json_integer(o->nsamples));
    if (o->background_size)
        json_object_set_new(j, "background_size", json_integer(o->background_size));
    if (o->seed >= 0)
        json_object_set_new(j, "seed", json_integer((json_int_t)o->seed));
    if (o->max_rows)
        json_object_set_new(j, "max_rows", json_integer(o->max_rows));
    if (o->repeats)
        json_object_set_new(j, "repeats", json_integer(o->repeats));
    if (o->grid_points)
        json_object_set_new(j, "grid_points", json_integer(o->grid_points));
    if (o->ice_rows >= 0)
        json_object_set_new(j, "ice_rows", json_integer(o->ice_rows));
    if (o->features)
        json_object_set(j, "features", o->features);
    return j;
}

static void parse_options(const json_t *obj, struct xe_options *o, json_t **details)
{
    json_t *inner = NULL;
    if (obj && jsonv_check(obj, option_fields, NAMES(option_fields), 1, &inner) != 0) {
        prefix_problems(details, inner, "options");
        json_decref(inner);
        return;
    }
    if (xreq_options_parse(obj, o) != 0)
        parse_features(json_object_get(obj, "features"), o, details);
}

/* A named member checked against its names; the index or def when absent. */
static int parse_name(const json_t *body, const char *key, int (*parse)(const char *), int def,
                      const char *problem, json_t **details)
{
    const char *v = jsonv_str(body, key);
    if (!v)
        return def;
    int i = parse(v);
    if (i < 0)
        add_problem(details, key, problem);
    return i;
}

static void check_instance(const json_t *inst, json_t **details)
{
    if (json_object_size(inst) == 0 || json_object_size(inst) > 1000) {
        add_problem(details, "instance", "must give 1 to 1000 features ({column: value})");
        return;
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)inst, k, v)
    {
        if (json_is_object(v) || json_is_array(v)) {
            add_problem(details, "instance",
                        "values must be numbers, strings, booleans or null (no nested objects)");
            return;
        }
    }
}

/* Fields that depend on each other: a local explanation has exactly one instance. */
static void check_scope(const struct xe_request *r, const json_t *body, json_t **details)
{
    int has_inst = r->instance != NULL, has_index = r->instance_index >= 0;
    if (r->type == XE_LOCAL && !has_inst && !has_index)
        add_problem(details, "instance",
                    "a local explanation needs an instance ({column: value}) or an "
                    "instance_index (a row of the dataset)");
    else if (r->type == XE_LOCAL && has_inst && has_index)
        add_problem(details, "instance_index", "give either instance or instance_index, not both");
    else if (r->type != XE_LOCAL && (has_inst || has_index))
        add_problem(details, has_inst ? "instance" : "instance_index",
                    "is only for a local explanation (explanation_type \"local\")");
    if (has_inst)
        check_instance(r->instance, details);
}

int xreq_parse(const json_t *body, struct xe_request *out, json_t **details)
{
    json_t *d = NULL;
    if (!json_is_object(body)) {
        *details = xreq_problem("body", "must be a JSON object");
        return -EINVAL;
    }
    if (jsonv_check(body, body_fields, NAMES(body_fields), 1, &d) != 0) {
        *details = d;
        return -EINVAL;
    }
    struct xe_request r;
    memset(&r, 0, sizeof(r));
    const char *exp = jsonv_str(body, "experiment_id");
    if (!ids_is_uuid(exp))
        add_problem(&d, "experiment_id", "must be a UUID");
    else
        snprintf(r.experiment_id, sizeof(r.experiment_id), "%s", exp);
    r.type = (enum xe_type)parse_name(body, "explanation_type", xe_type_parse, 0,
                                      "must be global, local or feature_importance", &d);
    r.method = (enum xe_method)parse_name(body, "method", xe_method_parse, XE_AUTO,
                                          "must be shap, lime, permutation, pdp or auto", &d);
    r.audience = parse_name(body, "audience_level", xe_audience_parse, -1,
                            "must be novice, intermediate or expert", &d);
    r.lang =
        (enum xe_lang)parse_name(body, "language", xe_lang_parse, XE_EN, "must be en or fr", &d);
    const json_t *inst = json_object_get(body, "instance");
    r.instance = json_is_object(inst) ? json_deep_copy(inst) : NULL;
    r.instance_index = (long)int_or(body, "instance_index", -1);
    r.opt.seed = -1;
    r.opt.ice_rows = -1;
    parse_options(json_object_get(body, "options"), &r.opt, &d);
    if (!d)
        check_scope(&r, body, &d);
    if (d) {
        xreq_release(&r);
        *details = d;
        return -EINVAL;
    }
    *out = r;
    return 0;
}

void xreq_release(struct xe_request *r)
{
    if (!r)
        return;
    json_decref(r->instance);
    json_decref(r->opt.features);
    r->instance = NULL;
    r->opt.features = NULL;
}

/* ------------------------------------------------------------------ the method */

static int is_tree(const char *a)
{
    return strcmp(a, "decision_tree") == 0 || strcmp(a, "random_forest") == 0 ||
           strcmp(a, "gradient_boosting") == 0;
}

static int is_linear(const char *a)
{
    return strcmp(a, "linear_regression") == 0 || strcmp(a, "ridge_regression") == 0 ||
           strcmp(a, "logistic_regression") == 0;
}

/* SHAP asked for by name: the exact variant the model allows, else KernelSHAP. */
static enum xe_used shap_for(const char *alg, const char **reason)
{
    if (is_tree(alg)) {
        *reason = "SHAP was requested and the model is made of decision trees: TreeSHAP "
                  "computes exact Shapley values by following the trees' paths";
        return XE_TREE_SHAP;
    }
    if (is_linear(alg)) {
        *reason = "SHAP was requested and the model is linear: Linear SHAP gives exact "
                  "Shapley values from the coefficients and the training data's means";
        return XE_LINEAR_SHAP;
    }
    *reason = "SHAP was requested and the model has no structure an exact algorithm can "
              "use: KernelSHAP estimates the Shapley values from the model's answers on "
              "sampled feature coalitions";
    return XE_KERNEL_SHAP;
}

static enum xe_used auto_for(const struct xe_request *r, const char *alg, size_t p,
                             enum xe_audience audience, const char **reason)
{
    if (is_tree(alg)) {
        *reason = "auto: the model is made of decision trees, so TreeSHAP gives exact "
                  "Shapley values quickly by following the trees' paths";
        return XE_TREE_SHAP;
    }
    if (is_linear(alg)) {
        *reason = "auto: the model is linear, so Linear SHAP gives exact Shapley values "
                  "from its coefficients and the training data's means";
        return XE_LINEAR_SHAP;
    }
    if (r->type == XE_IMPORTANCE) {
        *reason = "auto: a feature-importance ranking for a model with no exact SHAP "
                  "algorithm: permutation importance measures how much the test score drops "
                  "when each feature is shuffled";
        return XE_USE_PERMUTATION;
    }
    if (r->type == XE_LOCAL && audience == XE_NOVICE) {
        *reason = "auto: a local explanation for a novice on a model with no exact SHAP "
                  "algorithm: LIME answers with a few readable rules about this instance";
        return XE_USE_LIME;
    }
    if (p <= XE_KERNEL_MAX_FEATS) {
        *reason = "auto: the model has no exact SHAP algorithm but few features (at most "
                  "16), so KernelSHAP estimates Shapley values accurately at a modest cost";
        return XE_KERNEL_SHAP;
    }
    *reason = "auto: the model has no exact SHAP algorithm and many features (more than "
              "16), where KernelSHAP becomes costly: LIME fits a simple local surrogate "
              "instead";
    return XE_USE_LIME;
}

int xreq_choose(const struct xe_request *r, const char *algorithm, size_t p,
                enum xe_audience audience, enum xe_used *used, const char **reason,
                json_t **details)
{
    const char *alg = algorithm ? algorithm : "";
    if (r->type == XE_LOCAL && (r->method == XE_PERMUTATION || r->method == XE_PDP)) {
        *details = xreq_problem("method", "permutation importance and partial dependence "
                                          "describe the whole model: ask for a global or "
                                          "feature_importance explanation");
        return -EINVAL;
    }
    switch (r->method) {
    case XE_SHAP:
        *used = shap_for(alg, reason);
        return 0;
    case XE_LIME:
        *used = XE_USE_LIME;
        *reason = r->type == XE_LOCAL
                      ? "LIME was requested: a weighted linear surrogate fitted around the "
                        "instance on perturbed samples"
                      : "LIME was requested: local surrogates fitted on a sample of rows, "
                        "ranked by their mean absolute weight";
        return 0;
    case XE_PERMUTATION:
        *used = XE_USE_PERMUTATION;
        *reason = "permutation importance was requested: the drop of the test score when "
                  "each feature is shuffled";
        return 0;
    case XE_PDP:
        *used = XE_USE_PDP;
        *reason = "partial dependence was requested: the model's average answer as one "
                  "feature moves over its range, with individual (ICE) curves";
        return 0;
    case XE_AUTO:
    default:
        *used = auto_for(r, alg, p, audience, reason);
        return 0;
    }
}
