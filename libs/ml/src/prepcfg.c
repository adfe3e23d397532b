/* prepcfg: the preprocessing configuration: defaults, parsing with problems, JSON. */
#include "mlstr.h"
#include "prepimpl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILL_MAX_LEN    256
#define COLUMN_NAME_MAX 1024

static const char *const impute_names[] = {NULL,       "mean", "median", "most_frequent",
                                           "constant", "knn"};
static const char *const scale_names[] = {NULL, "standard", "minmax", "robust", "none"};
static const char *const reason_names[] = {NULL,      "target", "excluded", "missing",
                                           "id_like", "text",   "constant"};

const char *prep_impute_name(enum prep_impute v)
{
    return v >= PREP_IMPUTE_MEAN && v <= PREP_IMPUTE_KNN ? impute_names[v] : "none";
}

const char *prep_scale_name(enum prep_scale v)
{
    return v >= PREP_SCALE_STANDARD && v <= PREP_SCALE_NONE ? scale_names[v] : "none";
}

const char *prep_reason_name(enum prep_drop_reason r)
{
    return r >= PREP_DROP_TARGET && r <= PREP_DROP_CONSTANT ? reason_names[r] : "unknown";
}

void prep_config_default(struct prep_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->missing_threshold = 0.8;
    cfg->numeric_imputation = PREP_IMPUTE_MEAN;
    cfg->categorical_imputation = PREP_IMPUTE_MOST_FREQUENT;
    cfg->numeric_fill = 0;
    cfg->categorical_fill = NULL;
    cfg->scaling = PREP_SCALE_STANDARD;
    cfg->knn_neighbors = 5;
    cfg->max_categories = 100;
    cfg->exclude_id_like = 1;
}

void prep_config_release(struct prep_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->categorical_fill);
    mlstr_free_array(cfg->exclude_columns, cfg->nexclude);
    cfg->categorical_fill = NULL;
    cfg->exclude_columns = NULL;
    cfg->nexclude = 0;
}

int prep_config_copy(const struct prep_config *src, struct prep_config *dst)
{
    struct prep_config c = *src;
    c.categorical_fill = NULL;
    c.exclude_columns = NULL;
    if (src->categorical_fill && !(c.categorical_fill = strdup(src->categorical_fill)))
        return -ENOMEM;
    if (src->nexclude) {
        c.exclude_columns =
            mlstr_dup_array((const char *const *)src->exclude_columns, src->nexclude);
        if (!c.exclude_columns) {
            free(c.categorical_fill);
            return -ENOMEM;
        }
    }
    *dst = c;
    return 0;
}

static int lookup(const char *const *names, int lo, int hi, const char *s)
{
    for (int i = lo; s && i <= hi; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return 0;
}

/* The parse state: problems collected, and -ENOMEM remembered. */
struct pstate {
    json_t *problems;
    int oom;
};

static void problem(struct pstate *ps, const char *key, const char *msg)
{
    char field[128];
    snprintf(field, sizeof field, "preprocessing.%s", key);
    if (mlstr_problem(ps->problems, field, msg))
        ps->oom = 1;
}

static void parse_enum(struct pstate *ps, const json_t *v, const char *key,
                       const char *const *names, int lo, int hi, int *out)
{
    int k = json_is_string(v) ? lookup(names, lo, hi, json_string_value(v)) : 0;
    if (k) {
        *out = k;
        return;
    }
    char allowed[160] = "";
    for (int i = lo; i <= hi; i++) {
        size_t used = strlen(allowed);
        snprintf(allowed + used, sizeof allowed - used, "%s%s", i > lo ? ", " : "", names[i]);
    }
    char msg[200];
    snprintf(msg, sizeof msg, "must be one of: %s", allowed);
    problem(ps, key, msg);
}

static void parse_number(struct pstate *ps, const json_t *v, const char *key, double lo, double hi,
                         double *out)
{
    if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi)) {
        char msg[128];
        snprintf(msg, sizeof msg, "must be a number between %g and %g", lo, hi);
        problem(ps, key, msg);
        return;
    }
    *out = json_number_value(v);
}

static void parse_count(struct pstate *ps, const json_t *v, const char *key, size_t lo, size_t hi,
                        size_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo ||
        json_integer_value(v) > (json_int_t)hi) {
        char msg[128];
        snprintf(msg, sizeof msg, "must be an integer between %zu and %zu", lo, hi);
        problem(ps, key, msg);
        return;
    }
    *out = (size_t)json_integer_value(v);
}

static void parse_cat_fill(struct pstate *ps, const json_t *v, const char *key,
                           struct prep_config *c)
{
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > FILL_MAX_LEN) {
        problem(ps, key, "must be a non-empty string of at most 256 bytes");
        return;
    }
    char *s = strdup(json_string_value(v));
    if (!s) {
        ps->oom = 1;
        return;
    }
    free(c->categorical_fill);
    c->categorical_fill = s;
}

static void parse_fill_value(struct pstate *ps, const json_t *v, struct prep_config *c)
{
    if (json_is_number(v) && isfinite(json_number_value(v))) {
        c->numeric_fill = json_number_value(v);
        return;
    }
    if (!json_is_string(v)) {
        problem(ps, "fill_value", "must be a number or a string");
        return;
    }
    double d;
    const char *s = json_string_value(v);
    char *end = NULL;
    d = strtod(s, &end);
    if (*s && end && *end == '\0' && isfinite(d))
        c->numeric_fill = d;
    parse_cat_fill(ps, v, "fill_value", c);
}

static void parse_exclude(struct pstate *ps, const json_t *v, struct prep_config *c)
{
    if (!json_is_array(v) || json_array_size(v) > PREP_MAX_EXCLUDE) {
        problem(ps, "exclude_columns", "must be an array of at most 1024 column names");
        return;
    }
    size_t n = json_array_size(v);
    char **names = calloc(n ? n : 1, sizeof *names);
    if (!names) {
        ps->oom = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || json_string_length(e) == 0 ||
            json_string_length(e) > COLUMN_NAME_MAX) {
            problem(ps, "exclude_columns", "every entry must be a non-empty column name");
            mlstr_free_array(names, i);
            return;
        }
        if (!(names[i] = strdup(json_string_value(e)))) {
            ps->oom = 1;
            mlstr_free_array(names, i);
            return;
        }
    }
    mlstr_free_array(c->exclude_columns, c->nexclude);
    c->exclude_columns = names;
    c->nexclude = n;
}

static void parse_key(struct pstate *ps, const char *key, const json_t *v, struct prep_config *c)
{
    int k = 0;
    if (strcmp(key, "missing_threshold") == 0)
        parse_number(ps, v, key, 0, 1, &c->missing_threshold);
    else if (strcmp(key, "numeric_imputation") == 0) {
        k = (int)c->numeric_imputation;
        parse_enum(ps, v, key, impute_names, PREP_IMPUTE_MEAN, PREP_IMPUTE_KNN, &k);
        c->numeric_imputation = (enum prep_impute)k;
    } else if (strcmp(key, "categorical_imputation") == 0) {
        k = (int)c->categorical_imputation;
        parse_enum(ps, v, key, impute_names, PREP_IMPUTE_MOST_FREQUENT, PREP_IMPUTE_CONSTANT, &k);
        c->categorical_imputation = (enum prep_impute)k;
    } else if (strcmp(key, "scaling") == 0) {
        k = (int)c->scaling;
        parse_enum(ps, v, key, scale_names, PREP_SCALE_STANDARD, PREP_SCALE_NONE, &k);
        c->scaling = (enum prep_scale)k;
    } else if (strcmp(key, "fill_value") == 0)
        parse_fill_value(ps, v, c);
    else if (strcmp(key, "numeric_fill_value") == 0) {
        double lo = -1.79769313486231570e308, hi = 1.79769313486231570e308;
        parse_number(ps, v, key, lo, hi, &c->numeric_fill);
    } else if (strcmp(key, "categorical_fill_value") == 0)
        parse_cat_fill(ps, v, key, c);
    else if (strcmp(key, "knn_neighbors") == 0)
        parse_count(ps, v, key, 1, 100, &c->knn_neighbors);
    else if (strcmp(key, "max_categories") == 0)
        parse_count(ps, v, key, 1, 1000, &c->max_categories);
    else if (strcmp(key, "exclude_id_like") == 0) {
        if (json_is_boolean(v))
            c->exclude_id_like = json_is_true(v);
        else
            problem(ps, key, "must be true or false");
    } else if (strcmp(key, "exclude_columns") == 0)
        parse_exclude(ps, v, c);
    else
        problem(ps, key, "unknown preprocessing option");
}

int prep_config_parse(const json_t *obj, struct prep_config *out, json_t **problems)
{
    struct prep_config c;
    prep_config_default(&c);
    struct pstate ps = {.problems = json_array(), .oom = 0};
    if (!ps.problems)
        return -ENOMEM;
    if (obj && !json_is_null(obj) && !json_is_object(obj)) {
        if (mlstr_problem(ps.problems, "preprocessing", "must be an object"))
            ps.oom = 1;
    } else if (obj && json_is_object(obj)) {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)obj, key, v)
        {
            parse_key(&ps, key, v, &c);
        }
    }
    if (ps.oom || json_array_size(ps.problems)) {
        prep_config_release(&c);
        int rc = ps.oom ? -ENOMEM : -EINVAL;
        if (problems && !ps.oom)
            *problems = ps.problems;
        else
            json_decref(ps.problems);
        return rc;
    }
    json_decref(ps.problems);
    *out = c;
    return 0;
}

json_t *prep_config_json(const struct prep_config *cfg)
{
    json_t *ex = json_array();
    for (size_t i = 0; ex && i < cfg->nexclude; i++)
        if (mlstr_push(ex, json_string(cfg->exclude_columns[i]))) {
            json_decref(ex);
            return NULL;
        }
    if (!ex)
        return NULL;
    return json_pack("{s:f, s:s, s:s, s:f, s:s, s:s, s:I, s:I, s:b, s:o}", "missing_threshold",
                     cfg->missing_threshold, "numeric_imputation",
                     prep_impute_name(cfg->numeric_imputation), "categorical_imputation",
                     prep_impute_name(cfg->categorical_imputation), "numeric_fill_value",
                     cfg->numeric_fill, "categorical_fill_value",
                     cfg->categorical_fill ? cfg->categorical_fill : "missing", "scaling",
                     prep_scale_name(cfg->scaling), "knn_neighbors", (json_int_t)cfg->knn_neighbors,
                     "max_categories", (json_int_t)cfg->max_categories, "exclude_id_like",
                     cfg->exclude_id_like, "exclude_columns", ex);
}
