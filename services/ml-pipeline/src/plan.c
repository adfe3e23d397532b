/* plan: pipeline plans as a validated DAG: parsing, dependency rules, topological levels,
 * canonical configuration hashing and the ranking of a compare step. */
#include "plan.h"

#include <ibx/hash.h>
#include <ibx/ids.h>
#include <ibx/jsonv.h>
#include <ibx/learner.h>
#include <ibx/prep.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[PLAN_NTYPES] = {"load", "preprocess", "train", "evaluate",
                                                    "compare"};

static const struct jsonv_field plan_fields[] = {
    {"name", JSONV_STRING, 0, PLAN_NAME_MAX, 1, 0, 1},
    {"dataset_id", JSONV_STRING, 1, 36, 1, 0, 0},
    {"target_column", JSONV_STRING, 1, PLAN_COLUMN_MAX, 1, 0, 0},
    {"task_type", JSONV_STRING, 0, 32, 1, 0, 1},
    {"steps", JSONV_ARRAY, 1, PLAN_MAX_STEPS, 1, 0, 0},
};
static const struct jsonv_field step_fields[] = {
    {"id", JSONV_STRING, 1, PLAN_ID_MAX, 1, 0, 0},
    {"type", JSONV_STRING, 1, 32, 1, 0, 0},
    {"depends_on", JSONV_ARRAY, 0, PLAN_MAX_STEPS, 1, 0, 1},
    {"params", JSONV_OBJECT, 0, 0, 1, 0, 1},
    {"retries", JSONV_INT, 0, 0, 0, PLAN_MAX_RETRIES, 1},
};
static const struct jsonv_field preprocess_fields[] = {
    {"preprocessing", JSONV_OBJECT, 0, 0, 1, 0, 1},
    {"test_size", JSONV_NUMBER, 0, 0, 0, 1, 1},
    {"random_state", JSONV_INT, 0, 0, 0, 2147483647.0, 1},
};
static const struct jsonv_field train_fields[] = {
    {"algorithm", JSONV_STRING, 1, 64, 1, 0, 0},
    {"hyperparameters", JSONV_OBJECT, 0, 0, 1, 0, 1},
};
static const struct jsonv_field compare_fields[] = {
    {"metric", JSONV_STRING, 1, 64, 1, 0, 0},
};

/* Metrics a compare step ranks on: name, tasks (bit 1 classification, bit 2 regression),
 * whether higher is better. */
struct plan_metric {
    const char *name;
    unsigned tasks;
    int higher;
};
static const struct plan_metric metrics[] = {
    {"accuracy", 1, 1},
    {"precision_macro", 1, 1},
    {"recall_macro", 1, 1},
    {"f1_macro", 1, 1},
    {"precision_weighted", 1, 1},
    {"recall_weighted", 1, 1},
    {"f1_weighted", 1, 1},
    {"roc_auc", 1, 1},
    {"pr_auc", 1, 1},
    {"log_loss", 1, 0},
    {"mae", 2, 0},
    {"mse", 2, 0},
    {"rmse", 2, 0},
    {"r2", 2, 1},
};

const char *plan_type_name(enum plan_step_type t)
{
    return (unsigned)t < PLAN_NTYPES ? type_names[t] : "unknown";
}

int plan_type_parse(const char *s, enum plan_step_type *out)
{
    for (size_t i = 0; s && i < PLAN_NTYPES; i++)
        if (strcmp(s, type_names[i]) == 0) {
            *out = (enum plan_step_type)i;
            return 0;
        }
    return -EINVAL;
}

/* ---- problems ---------------------------------------------------------------------- */

/* Add {"field","step"?,"problem"} to *details (created on first use), at most
 * PLAN_MAX_PROBLEMS of them. */
static void problem(json_t **details, const char *field, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(json_t **details, const char *field, const char *step, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!*details)
        *details = json_pack("{s:[]}", "fields");
    json_t *list = json_object_get(*details, "fields");
    if (!list || json_array_size(list) >= PLAN_MAX_PROBLEMS)
        return;
    json_t *p = json_pack("{s:s, s:s}", "field", field, "problem", msg);
    if (p && step)
        json_object_set_new(p, "step", json_string(step));
    json_array_append_new(list, p);
}

/* jsonv_check's problems for obj, with every field name prefixed. */
static void check_fields(const json_t *obj, const struct jsonv_field *f, size_t n,
                         const char *prefix, const char *step, json_t **details)
{
    json_t *d = NULL;
    if (jsonv_check(obj, f, n, 1, &d) == 0)
        return;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(d, "fields"), i, p)
    {
        const char *name = jsonv_str(p, "field");
        char field[128];
        if (name && *name)
            snprintf(field, sizeof(field), "%s%s%s", prefix, *prefix ? "." : "", name);
        else
            snprintf(field, sizeof(field), "%s", *prefix ? prefix : "body");
        problem(details, field, step, "%s", jsonv_str(p, "problem"));
    }
    json_decref(d);
}

void plan_problem_message(const json_t *details, char *out, size_t n)
{
    const json_t *p = json_array_get(json_object_get(details, "fields"), 0);
    const char *step = jsonv_str(p, "step"), *field = jsonv_str(p, "field");
    const char *what = jsonv_str(p, "problem");
    if (!what)
        snprintf(out, n, "the plan is not valid");
    else if (step)
        snprintf(out, n, "step '%s': %s", step, what);
    else
        snprintf(out, n, "%s: %s", field ? field : "body", what);
}

/* ---- parsing ----------------------------------------------------------------------- */

static int id_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return 0;
    return 1;
}

static int find_step(const struct plan *p, size_t upto, const char *id)
{
    for (size_t i = 0; i < upto; i++)
        if (strcmp(p->steps[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* Plan-level fields of body into p. */
static void parse_head(const json_t *body, struct plan *p, json_t **details)
{
    check_fields(body, plan_fields, sizeof(plan_fields) / sizeof(plan_fields[0]), "", NULL,
                 details);
    if (*details)
        return;
    const char *ds = jsonv_str(body, "dataset_id"), *task = jsonv_str(body, "task_type");
    const char *target = jsonv_str(body, "target_column"), *name = jsonv_str(body, "name");
    if (!ids_is_uuid(ds))
        problem(details, "dataset_id", NULL, "must be a UUID");
    else
        for (size_t i = 0; i < 37; i++)
            p->dataset_id[i] = (char)tolower((unsigned char)ds[i]);
    if (!*target)
        problem(details, "target_column", NULL, "must not be empty");
    snprintf(p->target_column, sizeof(p->target_column), "%s", target);
    snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
    if (task && strcmp(task, "classification") == 0)
        p->task = ML_CLASSIFICATION;
    else if (task && strcmp(task, "regression") == 0)
        p->task = ML_REGRESSION;
    else if (task)
        problem(details, "task_type", NULL, "must be classification or regression");
    if (json_array_size(json_object_get(body, "steps")) == 0)
        problem(details, "steps", NULL, "must have at least one step");
}

/* Step i's own fields (id, type, params, retries); dependencies come later. */
static void parse_step(const json_t *js, size_t i, struct plan *p, json_t **details)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "steps[%zu]", i);
    struct plan_step *s = &p->steps[i];
    if (!json_is_object(js)) {
        problem(details, prefix, NULL, "a step is an object");
        return;
    }
    const char *id = jsonv_str(js, "id");
    check_fields(js, step_fields, sizeof(step_fields) / sizeof(step_fields[0]), prefix,
                 id && strlen(id) <= PLAN_ID_MAX ? id : NULL, details);
    if (!id || strlen(id) > PLAN_ID_MAX)
        return;
    snprintf(s->id, sizeof(s->id), "%s", id);
    char field[48];
    snprintf(field, sizeof(field), "%s.id", prefix);
    if (!id_ok(id))
        problem(details, field, id, "an id is 1 to %d of A-Z a-z 0-9 _ . -", PLAN_ID_MAX);
    else if (find_step(p, i, id) >= 0)
        problem(details, field, id, "duplicate step id '%s'", id);
    const char *type = jsonv_str(js, "type");
    snprintf(field, sizeof(field), "%s.type", prefix);
    if (type && plan_type_parse(type, &s->type) != 0)
        problem(details, field, id,
                "unknown step type '%.64s' (load, preprocess, train, evaluate or compare)", type);
    const json_t *params = json_object_get(js, "params");
    s->params = json_is_object(params) ? json_deep_copy(params) : json_object();
    const json_t *retries = json_object_get(js, "retries");
    s->retries = json_is_integer(retries) ? (int)json_integer_value(retries) : 0;
}

/* Step i's depends_on into indices. */
static void parse_deps(const json_t *js, size_t i, struct plan *p, json_t **details)
{
    struct plan_step *s = &p->steps[i];
    char field[48];
    snprintf(field, sizeof(field), "steps[%zu].depends_on", i);
    size_t k;
    const json_t *d;
    json_array_foreach(json_object_get(js, "depends_on"), k, d)
    {
        const char *dep = json_string_value(d);
        int at = dep ? find_step(p, p->nsteps, dep) : -1;
        if (!dep)
            problem(details, field, s->id, "dependencies are step ids (strings)");
        else if (strcmp(dep, s->id) == 0)
            problem(details, field, s->id, "depends on itself");
        else if (at < 0)
            problem(details, field, s->id, "depends on unknown step '%.64s'", dep);
        else {
            for (size_t j = 0; j < s->ndeps; j++)
                if (s->deps[j] == (size_t)at) {
                    problem(details, field, s->id, "lists '%s' twice", dep);
                    at = -1;
                    break;
                }
            if (at >= 0 && s->ndeps < PLAN_MAX_STEPS)
                s->deps[s->ndeps++] = (size_t)at;
        }
    }
}

/* One cycle among the steps not levelled (level < 0), written as "a -> b -> a"; returns
 * the index of the step it starts from. Every such step has an unlevelled dependency. */
static size_t name_cycle(const struct plan *p, char *out, size_t n)
{
    size_t at = 0, path[PLAN_MAX_STEPS + 1], len = 0;
    while (p->steps[at].level >= 0)
        at++;
    int seen[PLAN_MAX_STEPS] = {0};
    /* walk unlevelled dependencies until a step repeats: the walk then is on a cycle */
    while (!seen[at]) {
        seen[at] = 1;
        for (size_t j = 0; j < p->steps[at].ndeps; j++)
            if (p->steps[p->steps[at].deps[j]].level < 0) {
                at = p->steps[at].deps[j];
                break;
            }
    }
    size_t start = at;
    do {
        path[len++] = at;
        for (size_t j = 0; j < p->steps[at].ndeps; j++)
            if (p->steps[p->steps[at].deps[j]].level < 0) {
                at = p->steps[at].deps[j];
                break;
            }
    } while (at != start && len < PLAN_MAX_STEPS);
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i <= len && off < n; i++) {
        int w = snprintf(out + off, n - off, "%s%s", i ? " -> " : "",
                         p->steps[i < len ? path[i] : start].id);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    return start;
}

/* Levels by repeated relaxation (Kahn's algorithm by rounds); a step left without a
 * level is on or behind a cycle. */
static void level_steps(struct plan *p, json_t **details)
{
    for (size_t i = 0; i < p->nsteps; i++)
        p->steps[i].level = -1;
    size_t done = 0;
    for (int lv = 0; done < p->nsteps; lv++) {
        size_t now = 0, batch[PLAN_MAX_STEPS];
        for (size_t i = 0; i < p->nsteps; i++) {
            const struct plan_step *s = &p->steps[i];
            int ready = s->level < 0;
            for (size_t j = 0; ready && j < s->ndeps; j++)
                ready = p->steps[s->deps[j]].level >= 0 && p->steps[s->deps[j]].level < lv;
            if (ready)
                batch[now++] = i;
        }
        if (now == 0) {
            char cyc[512], field[48];
            size_t first = name_cycle(p, cyc, sizeof(cyc));
            snprintf(field, sizeof(field), "steps[%zu].depends_on", first);
            problem(details, field, p->steps[first].id, "dependency cycle: %s", cyc);
            return;
        }
        for (size_t k = 0; k < now; k++)
            p->steps[batch[k]].level = lv;
        done += now;
        p->nlevels = lv + 1;
    }
    size_t n = 0;
    for (int lv = 0; lv < p->nlevels; lv++)
        for (size_t i = 0; i < p->nsteps; i++)
            if (p->steps[i].level == lv)
                p->order[n++] = i;
}

/* "a" or "an" before a type's name. */
static const char *article(enum plan_step_type t)
{
    return t == PLAN_EVALUATE ? "an" : "a";
}

/* What step i must depend on, by type. */
static void check_dep_types(const struct plan *p, size_t i, json_t **details)
{
    static const int need[PLAN_NTYPES] = {-1, PLAN_LOAD, PLAN_PREPROCESS, PLAN_TRAIN,
                                          PLAN_EVALUATE};
    const struct plan_step *s = &p->steps[i];
    char field[48];
    snprintf(field, sizeof(field), "steps[%zu].depends_on", i);
    if (s->type == PLAN_LOAD) {
        if (s->ndeps)
            problem(details, field, s->id, "a load step has no dependencies");
        return;
    }
    const char *want = type_names[need[s->type]];
    if (s->type == PLAN_COMPARE) {
        if (s->ndeps == 0)
            problem(details, field, s->id, "a compare step depends on at least one evaluate step");
        for (size_t j = 0; j < s->ndeps; j++) {
            const struct plan_step *d = &p->steps[s->deps[j]];
            if (d->type != PLAN_EVALUATE)
                problem(details, field, s->id,
                        "a compare step depends only on evaluate steps, and '%s' is %s %s step",
                        d->id, article(d->type), type_names[d->type]);
        }
        return;
    }
    const struct plan_step *d = s->ndeps == 1 ? &p->steps[s->deps[0]] : NULL;
    if (!d)
        problem(details, field, s->id, "%s %s step depends on exactly one %s step",
                article(s->type), type_names[s->type], want);
    else if ((int)d->type != need[s->type])
        problem(details, field, s->id, "%s %s step depends on %s %s step, and '%s' is %s %s step",
                article(s->type), type_names[s->type], article((enum plan_step_type)need[s->type]),
                want, d->id, article(d->type), type_names[d->type]);
}

/* The parameters each type takes (their values are judged by check_values). */
static void check_params(const struct plan *p, size_t i, json_t **details)
{
    const struct plan_step *s = &p->steps[i];
    char prefix[48];
    snprintf(prefix, sizeof(prefix), "steps[%zu].params", i);
    switch (s->type) {
    case PLAN_PREPROCESS:
        check_fields(s->params, preprocess_fields, 3, prefix, s->id, details);
        {
            char field[64];
            snprintf(field, sizeof(field), "%s.test_size", prefix);
            const json_t *ts = json_object_get(s->params, "test_size");
            if (json_is_number(ts) && (json_number_value(ts) <= 0 || json_number_value(ts) >= 1))
                problem(details, field, s->id, "must be between 0 and 1 (both excluded)");
        }
        break;
    case PLAN_TRAIN:
        check_fields(s->params, train_fields, 2, prefix, s->id, details);
        break;
    case PLAN_COMPARE:
        check_fields(s->params, compare_fields, 1, prefix, s->id, details);
        break;
    case PLAN_LOAD:
    case PLAN_EVALUATE:
        check_fields(s->params, NULL, 0, prefix, s->id, details);
        break;
    }
}

/* ---- values: hyperparameters, preprocessing, metrics ---------------------------------- */

int plan_metric_known(const char *metric, enum ml_task task, int *higher)
{
    unsigned want = task ? (unsigned)task : 3u;
    for (size_t i = 0; metric && i < sizeof(metrics) / sizeof(metrics[0]); i++)
        if (strcmp(metrics[i].name, metric) == 0 && (metrics[i].tasks & want)) {
            *higher = metrics[i].higher;
            return 1;
        }
    return 0;
}

/* The metric names of a task (0: all), comma-separated, into out. */
static void metric_names(enum ml_task task, char *out, size_t n)
{
    unsigned want = task ? (unsigned)task : 3u;
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]) && off < n; i++) {
        if (!(metrics[i].tasks & want))
            continue;
        int w = snprintf(out + off, n - off, "%s%s", off ? ", " : "", metrics[i].name);
        if (w < 0)
            return;
        off += (size_t)w;
    }
}

static void check_compare(const struct plan *p, size_t i, json_t **details)
{
    const struct plan_step *s = &p->steps[i];
    const char *metric = jsonv_str(s->params, "metric");
    int higher;
    if (!metric || plan_metric_known(metric, p->task, &higher))
        return;
    char field[48], names[256];
    snprintf(field, sizeof(field), "steps[%zu].params.metric", i);
    metric_names(p->task, names, sizeof(names));
    problem(details, field, s->id, "unknown metric '%.64s'%s (%s)", metric,
            p->task == ML_REGRESSION       ? " for regression"
            : p->task == ML_CLASSIFICATION ? " for classification"
                                           : "",
            names);
}

/* A library's problem list [{"field","message"}] as problems of step i under prefix. */
static void add_lib_problems(json_t *list, const struct plan_step *s, const char *prefix,
                             json_t **details)
{
    size_t k;
    json_t *e;
    json_array_foreach(list, k, e)
    {
        char field[160];
        const char *f = jsonv_str(e, "field");
        snprintf(field, sizeof(field), "%s%s%s", prefix, f ? "." : "", f ? f : "");
        const char *msg = jsonv_str(e, "message");
        problem(details, field, s->id, "%s%s%s", f ? f : "", f ? ": " : "",
                msg ? msg : "is not valid");
    }
}

/* The algorithm and hyperparameters of train step i: for the plan's task, or, while the
 * task is left to detection, for any task the learner does. */
static int check_train(const struct plan *p, size_t i, json_t **details)
{
    const struct plan_step *s = &p->steps[i];
    const char *algo = jsonv_str(s->params, "algorithm");
    const json_t *hp = json_object_get(s->params, "hyperparameters");
    const struct learner_info *li = learner_find(algo);
    json_t *problems = NULL;
    int rc = -EINVAL;
    if (!algo)
        return 0;
    enum ml_task tasks[2] = {p->task, 0};
    if (!p->task && li) {
        tasks[0] = (li->tasks & LEARNER_TASK_CLASSIFICATION) ? ML_CLASSIFICATION : ML_REGRESSION;
        tasks[1] = (li->tasks & LEARNER_TASK_REGRESSION) ? ML_REGRESSION : 0;
    } else if (!p->task)
        tasks[0] = ML_CLASSIFICATION;
    for (size_t t = 0; t < 2 && tasks[t] && rc == -EINVAL; t++) {
        json_t *pr = NULL;
        rc = learner_validate(algo, json_is_null(hp) ? NULL : hp, tasks[t], &pr);
        if (rc == -EINVAL && !problems)
            problems = pr;
        else
            json_decref(pr);
    }
    if (rc == -EINVAL) {
        char prefix[48];
        snprintf(prefix, sizeof(prefix), "steps[%zu].params", i);
        add_lib_problems(problems, s, prefix, details);
    }
    json_decref(problems);
    return rc == -ENOMEM ? rc : 0;
}

static int check_preprocess(const struct plan *p, size_t i, json_t **details)
{
    const struct plan_step *s = &p->steps[i];
    const json_t *obj = json_object_get(s->params, "preprocessing");
    struct prep_config cfg;
    json_t *problems = NULL;
    int rc = prep_config_parse(json_is_null(obj) ? NULL : obj, &cfg, &problems);
    if (rc == 0) {
        prep_config_release(&cfg);
        return 0;
    }
    if (rc == -EINVAL) {
        char prefix[48];
        snprintf(prefix, sizeof(prefix), "steps[%zu].params", i);
        add_lib_problems(problems, s, prefix, details);
    }
    json_decref(problems);
    return rc == -ENOMEM ? rc : 0;
}

/* Every step's values that the libraries judge. 0, or -ENOMEM. */
static int check_values(const struct plan *p, json_t **details)
{
    int rc = 0;
    for (size_t i = 0; i < p->nsteps && rc == 0; i++) {
        if (p->steps[i].type == PLAN_TRAIN)
            rc = check_train(p, i, details);
        else if (p->steps[i].type == PLAN_PREPROCESS)
            rc = check_preprocess(p, i, details);
        else if (p->steps[i].type == PLAN_COMPARE)
            check_compare(p, i, details);
    }
    return rc;
}

int plan_parse(const json_t *body, struct plan **out, json_t **details)
{
    json_t *d = NULL;
    struct plan *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    parse_head(body, p, &d);
    if (d)
        goto bad;
    const json_t *steps = json_object_get(body, "steps");
    for (size_t i = 0; i < json_array_size(steps); i++, p->nsteps++)
        parse_step(json_array_get(steps, i), i, p, &d);
    if (d)
        goto bad;
    for (size_t i = 0; i < p->nsteps; i++)
        if (!p->steps[i].params)
            goto nomem;
    for (size_t i = 0; i < p->nsteps; i++)
        parse_deps(json_array_get(steps, i), i, p, &d);
    if (d)
        goto bad;
    level_steps(p, &d);
    if (d)
        goto bad;
    for (size_t i = 0; i < p->nsteps; i++)
        check_dep_types(p, i, &d);
    for (size_t i = 0; i < p->nsteps; i++)
        check_params(p, i, &d);
    if (d)
        goto bad;
    if (check_values(p, &d) != 0)
        goto nomem;
    if (d)
        goto bad;
    *out = p;
    return 0;
nomem:
    json_decref(d);
    plan_free(p);
    return -ENOMEM;
bad:
    plan_free(p);
    *details = d;
    return -EINVAL;
}

void plan_free(struct plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < PLAN_MAX_STEPS; i++)
        json_decref(p->steps[i].params);
    free(p);
}

/* ---- canonical JSON and cache keys ---------------------------------------------------- */

#define PLAN_EXACT_INT 9007199254740992.0 /* 2^53 */

static json_t *canon_value(const json_t *v)
{
    json_t *out = NULL, *x;
    const char *k;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        out = json_object();
        json_object_foreach((json_t *)v, k, x)
        {
            if (!out || json_object_set_new(out, k, canon_value(x)) != 0) {
                json_decref(out);
                return NULL;
            }
        }
        return out;
    case JSON_ARRAY:
        out = json_array();
        json_array_foreach(v, i, x)
        {
            if (!out || json_array_append_new(out, canon_value(x)) != 0) {
                json_decref(out);
                return NULL;
            }
        }
        return out;
    case JSON_REAL: {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < PLAN_EXACT_INT)
            return json_integer((json_int_t)d);
        return json_real(d);
    }
    default:
        return json_incref((json_t *)v);
    }
}

char *plan_canonical_json(const json_t *v)
{
    json_t *c = canon_value(v);
    if (!c)
        return NULL;
    char *s =
        json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    json_decref(c);
    return s;
}

int plan_step_key(enum plan_step_type type, const json_t *config, const char *const *inputs,
                  size_t n, char out[65])
{
    if ((unsigned)type >= PLAN_NTYPES)
        return -EINVAL;
    json_t *in = json_array();
    for (size_t i = 0; in && i < n; i++) {
        if (!hash_is_sha256_hex(inputs[i])) {
            json_decref(in);
            return -EINVAL;
        }
        json_array_append_new(in, json_string(inputs[i]));
    }
    json_t *doc = json_pack("{s:i, s:s, s:O?, s:o?}", "v", 1, "type", type_names[type], "config",
                            config, "inputs", in);
    char *text = doc ? plan_canonical_json(doc) : NULL;
    json_decref(doc);
    if (!text)
        return -ENOMEM;
    hash_sha256_hex(text, strlen(text), out);
    free(text);
    return 0;
}

/* ---- stored form ---------------------------------------------------------------------- */

static json_t *step_json(const struct plan *p, const struct plan_step *s)
{
    json_t *deps = json_array();
    for (size_t j = 0; deps && j < s->ndeps; j++)
        json_array_append_new(deps, json_string(p->steps[s->deps[j]].id));
    if (!deps)
        return NULL;
    return json_pack("{s:s, s:s, s:o, s:O, s:i}", "id", s->id, "type", type_names[s->type],
                     "depends_on", deps, "params", s->params, "retries", s->retries);
}

json_t *plan_to_json(const struct plan *p)
{
    json_t *steps = json_array();
    if (!steps)
        return NULL;
    for (size_t i = 0; i < p->nsteps; i++)
        if (json_array_append_new(steps, step_json(p, &p->steps[i])) != 0) {
            json_decref(steps);
            return NULL;
        }
    const char *task = p->task == ML_CLASSIFICATION ? "classification"
                       : p->task == ML_REGRESSION   ? "regression"
                                                    : NULL;
    return json_pack("{s:s?, s:s, s:s, s:s?, s:o}", "name", *p->name ? p->name : NULL, "dataset_id",
                     p->dataset_id, "target_column", p->target_column, "task_type", task, "steps",
                     steps);
}
