/* runspec: an experiment request (POST /experiments) checked field by field; the
 * problems are named in the error body's details as {"fields":[{"field","problem"}]}. */
#include "pipeline.h"

#include <ibx/ids.h>
#include <ibx/jsonv.h>
#include <ibx/learner.h>
#include <ibx/mlrun.h>
#include <ibx/prep.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define RUNSPEC_DEFAULT_TEST_SIZE    0.2
#define RUNSPEC_DEFAULT_RANDOM_STATE 42

static const struct jsonv_field runspec_fields[] = {
    {"project_id", JSONV_STRING, 0, 36, 1, 0, 1},
    {"dataset_id", JSONV_STRING, 1, 36, 1, 0, 0},
    {"target_column", JSONV_STRING, 1, PL_COLUMN_MAX, 1, 0, 0},
    {"task_type", JSONV_STRING, 0, 16, 1, 0, 1},
    {"algorithm", JSONV_STRING, 1, PL_ALGORITHM_MAX, 1, 0, 0},
    {"hyperparameters", JSONV_OBJECT, 0, 0, 1, 0, 1},
    {"preprocessing", JSONV_OBJECT, 0, 0, 1, 0, 1},
    {"test_size", JSONV_NUMBER, 0, 0, 0.05, 0.9, 1},
    {"random_state", JSONV_INT, 0, 0, 0, 2147483647.0, 1},
    {"cv_folds", JSONV_INT, 0, 0, 2, 20, 1},
};

json_t *runspec_problem(const char *field, const char *problem)
{
    return json_pack("{s:[{s:s, s:s}]}", "fields", "field", field, "problem", problem);
}

void runspec_message(const json_t *details, char *out, size_t n)
{
    const json_t *p = json_array_get(json_object_get(details, "fields"), 0);
    const char *f = json_string_value(json_object_get(p, "field"));
    const char *m = json_string_value(json_object_get(p, "problem"));
    if (f && f[0])
        snprintf(out, n, "%s: %s", f, m ? m : "is not valid");
    else
        snprintf(out, n, "%s", m ? m : "the request is not valid");
}

void runspec_release(struct run_spec *r)
{
    if (!r)
        return;
    json_decref(r->hyperparameters);
    json_decref(r->preprocessing);
    r->hyperparameters = NULL;
    r->preprocessing = NULL;
}

/* Append {"field","message"} problems (libs/ml's shape) to details' fields list. */
static void runspec_take_problems(json_t *details, json_t *problems)
{
    json_t *list = json_object_get(details, "fields");
    size_t i;
    json_t *p;
    json_array_foreach(problems, i, p)
    {
        const char *f = json_string_value(json_object_get(p, "field"));
        const char *m = json_string_value(json_object_get(p, "message"));
        json_array_append_new(
            list, json_pack("{s:s, s:s}", "field", f ? f : "", "problem", m ? m : "is not valid"));
    }
    json_decref(problems);
}

static void runspec_add(json_t *details, const char *field, const char *problem)
{
    json_array_append_new(json_object_get(details, "fields"),
                          json_pack("{s:s, s:s}", "field", field, "problem", problem));
}

/* The string fields beyond their JSON type: ids, task name, a non-empty column. */
static void runspec_strings(const json_t *body, struct run_spec *r, json_t *details)
{
    const char *project = jsonv_str(body, "project_id");
    const char *dataset = jsonv_str(body, "dataset_id");
    const char *target = jsonv_str(body, "target_column");
    const char *task = jsonv_str(body, "task_type");
    const char *alg = jsonv_str(body, "algorithm");
    if (project && !ids_is_uuid(project))
        runspec_add(details, "project_id", "must be a UUID");
    if (dataset && !ids_is_uuid(dataset))
        runspec_add(details, "dataset_id", "must be a UUID");
    if (target && !target[0])
        runspec_add(details, "target_column", "must not be empty");
    if (task && strcmp(task, "classification") != 0 && strcmp(task, "regression") != 0)
        runspec_add(details, "task_type", "must be classification or regression (or absent)");
    for (size_t i = 0; project && project[i] && i < sizeof(r->project_id) - 1; i++)
        r->project_id[i] = (char)tolower((unsigned char)project[i]);
    for (size_t i = 0; dataset && dataset[i] && i < sizeof(r->dataset_id) - 1; i++)
        r->dataset_id[i] = (char)tolower((unsigned char)dataset[i]);
    snprintf(r->target_column, sizeof(r->target_column), "%s", target ? target : "");
    snprintf(r->task_type, sizeof(r->task_type), "%s", task ? task : "");
    snprintf(r->algorithm, sizeof(r->algorithm), "%s", alg ? alg : "");
}

/* The learning fields through mlrun_config_parse (which also checks the hyperparameters
 * when the task is given); r->preprocessing is the normalised preprocessing. */
static void runspec_learning(const json_t *body, struct run_spec *r, json_t *details)
{
    struct mlrun_config cfg;
    json_t *problems = NULL;
    int rc = mlrun_config_parse(body, &cfg, &problems);
    if (rc == -ENOMEM) {
        json_decref(problems);
        runspec_add(details, "preprocessing", "could not be read (out of memory)");
        return;
    }
    if (rc) {
        runspec_take_problems(details, problems);
        return;
    }
    r->preprocessing = prep_config_json(&cfg.prep);
    mlrun_config_release(&cfg);
    if (!r->preprocessing)
        runspec_add(details, "preprocessing", "could not be read (out of memory)");
}

static void runspec_numbers(const json_t *body, struct run_spec *r)
{
    const json_t *ts = json_object_get(body, "test_size");
    const json_t *rs = json_object_get(body, "random_state");
    const json_t *cv = json_object_get(body, "cv_folds");
    r->test_size = json_is_number(ts) ? json_number_value(ts) : RUNSPEC_DEFAULT_TEST_SIZE;
    r->random_state =
        json_is_integer(rs) ? (long)json_integer_value(rs) : RUNSPEC_DEFAULT_RANDOM_STATE;
    r->cv_folds = json_is_integer(cv) ? (long)json_integer_value(cv) : 0;
}

int runspec_parse(const json_t *body, struct run_spec *out, json_t **details)
{
    json_t *d = NULL;
    if (jsonv_check(body, runspec_fields, sizeof(runspec_fields) / sizeof(runspec_fields[0]), 1,
                    &d) != 0) {
        *details = d;
        return -EINVAL;
    }
    d = json_pack("{s:[]}", "fields");
    struct run_spec r;
    memset(&r, 0, sizeof(r));
    if (!d)
        return -ENOMEM;
    runspec_strings(body, &r, d);
    if (json_array_size(json_object_get(d, "fields")) == 0)
        runspec_learning(body, &r, d);
    runspec_numbers(body, &r);
    const json_t *hp = json_object_get(body, "hyperparameters");
    r.hyperparameters = json_is_object(hp) ? json_deep_copy(hp) : json_object();
    if (json_array_size(json_object_get(d, "fields")) > 0 || !r.hyperparameters) {
        runspec_release(&r);
        *details = d;
        return -EINVAL;
    }
    json_decref(d);
    *out = r;
    return 0;
}

int runspec_check_learner(const struct run_spec *r, json_t **details)
{
    enum ml_task task = strcmp(r->task_type, "regression") == 0 ? ML_REGRESSION : ML_CLASSIFICATION;
    json_t *problems = NULL;
    int rc = learner_validate(r->algorithm, r->hyperparameters, task, &problems);
    if (rc == 0)
        return 0;
    json_t *d = json_pack("{s:[]}", "fields");
    if (!d) {
        json_decref(problems);
        return -ENOMEM;
    }
    if (rc == -ENOMEM)
        runspec_add(d, "hyperparameters", "could not be checked (out of memory)");
    else
        runspec_take_problems(d, problems);
    if (json_array_size(json_object_get(d, "fields")) == 0)
        runspec_add(d, "algorithm", "is not valid for this task");
    *details = d;
    return -EINVAL;
}
