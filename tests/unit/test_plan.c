/* test_plan: pipeline plans: the DAG validation table (cycles, self-dependency, unknown
 * types, missing and duplicate ids, dependency types, parameters, hyperparameters,
 * limits), topological levels, the stored form, canonical JSON and cache keys. */
#include "../../services/ml-pipeline/src/plan.h"

#include <ibx/hash.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define DS "\"dataset_id\":\"6F9619FF-8B86-4D11-B42D-00C04FC964FF\",\"target_column\":\"species\""

/* The four-model comparison: load, preprocess, four trains, four evaluates, compare. */
static const char four_models[] =
    "{\"name\":\"four\"," DS ",\"task_type\":\"classification\",\"steps\":["
    "{\"id\":\"compare\",\"type\":\"compare\",\"depends_on\":[\"ev_dt\",\"ev_rf\",\"ev_gb\","
    "\"ev_lr\"],\"params\":{\"metric\":\"accuracy\"}},"
    "{\"id\":\"load\",\"type\":\"load\"},"
    "{\"id\":\"prep\",\"type\":\"preprocess\",\"depends_on\":[\"load\"],"
    "\"params\":{\"test_size\":0.25,\"random_state\":7,\"preprocessing\":{\"scaling\":\"minmax\"}}}"
    ","
    "{\"id\":\"dt\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":{\"algorithm\":"
    "\"decision_tree\",\"hyperparameters\":{\"max_depth\":5}}},"
    "{\"id\":\"rf\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":{\"algorithm\":"
    "\"random_forest\",\"hyperparameters\":{\"n_estimators\":20}},\"retries\":2},"
    "{\"id\":\"gb\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":{\"algorithm\":"
    "\"gradient_boosting\"}},"
    "{\"id\":\"lr\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":{\"algorithm\":"
    "\"logistic_regression\"}},"
    "{\"id\":\"ev_dt\",\"type\":\"evaluate\",\"depends_on\":[\"dt\"]},"
    "{\"id\":\"ev_rf\",\"type\":\"evaluate\",\"depends_on\":[\"rf\"]},"
    "{\"id\":\"ev_gb\",\"type\":\"evaluate\",\"depends_on\":[\"gb\"]},"
    "{\"id\":\"ev_lr\",\"type\":\"evaluate\",\"depends_on\":[\"lr\"]}]}";

#define LOAD "{\"id\":\"load\",\"type\":\"load\"}"
#define PREP "{\"id\":\"prep\",\"type\":\"preprocess\",\"depends_on\":[\"load\"]}"
#define TRAIN                                                                                      \
    "{\"id\":\"dt\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":{\"algorithm\":"       \
    "\"decision_tree\"}}"
#define PLAN(steps) "{" DS ",\"steps\":[" steps "]}"

struct plan_case {
    const char *what;
    const char *body;
    const char *field;   /* NULL: the plan is valid */
    const char *step;    /* the step the first problem names, or NULL */
    const char *problem; /* a substring of the first problem */
};

static const struct plan_case cases[] = {
    {"four models", four_models, NULL, NULL, NULL},
    {"a single load", PLAN(LOAD), NULL, NULL, NULL},
    {"task left to detection", PLAN(LOAD "," PREP "," TRAIN), NULL, NULL, NULL},
    {"regression only learner without a task",
     PLAN(LOAD
          "," PREP ",{\"id\":\"lin\",\"type\":"
          "\"train\",\"depends_on\":[\"prep\"],\"params\":{\"algorithm\":\"linear_regression\"}}"),
     NULL, NULL, NULL},
    {"cycle",
     PLAN(LOAD ",{\"id\":\"a\",\"type\":\"preprocess\",\"depends_on\":[\"b\"]},{\"id\":\"b\","
               "\"type\":\"train\",\"depends_on\":[\"a\"],\"params\":{\"algorithm\":"
               "\"decision_tree\"}}"),
     "steps[1].depends_on", "a", "dependency cycle: a -> b -> a"},
    {"longer cycle behind a step",
     PLAN("{\"id\":\"x\",\"type\":\"compare\",\"depends_on\":[\"c\"],\"params\":{\"metric\":"
          "\"accuracy\"}},{\"id\":\"c\",\"type\":\"evaluate\",\"depends_on\":[\"d\"]},{\"id\":"
          "\"d\",\"type\":\"train\",\"depends_on\":[\"e\"]},{\"id\":\"e\",\"type\":\"preprocess\","
          "\"depends_on\":[\"c\"]}"),
     "steps[1].depends_on", "c", "dependency cycle: c -> d -> e -> c"},
    {"self-dependency", PLAN(LOAD ",{\"id\":\"p\",\"type\":\"preprocess\",\"depends_on\":[\"p\"]}"),
     "steps[1].depends_on", "p", "depends on itself"},
    {"unknown type", PLAN(LOAD ",{\"id\":\"s\",\"type\":\"sing\",\"depends_on\":[\"load\"]}"),
     "steps[1].type", "s", "unknown step type 'sing'"},
    {"missing dependency",
     PLAN(LOAD ",{\"id\":\"p\",\"type\":\"preprocess\",\"depends_on\":"
               "[\"lod\"]}"),
     "steps[1].depends_on", "p", "depends on unknown step 'lod'"},
    {"duplicate id", PLAN(LOAD "," LOAD), "steps[1].id", "load", "duplicate step id 'load'"},
    {"dependency listed twice",
     PLAN(LOAD ",{\"id\":\"p\",\"type\":\"preprocess\",\"depends_on\":[\"load\",\"load\"]}"),
     "steps[1].depends_on", "p", "lists 'load' twice"},
    {"train on a load",
     PLAN(LOAD ",{\"id\":\"t\",\"type\":\"train\",\"depends_on\":[\"load\"],\"params\":"
               "{\"algorithm\":\"decision_tree\"}}"),
     "steps[1].depends_on", "t", "a train step depends on a preprocess step, and 'load' is a load"},
    {"evaluate without a train",
     PLAN(LOAD "," PREP ",{\"id\":\"e\",\"type\":\"evaluate\",\"depends_on\":[\"prep\"]}"),
     "steps[2].depends_on", "e", "depends on a train step"},
    {"compare on a train",
     PLAN(LOAD "," PREP "," TRAIN ",{\"id\":\"c\",\"type\":\"compare\",\"depends_on\":[\"dt\"],"
               "\"params\":{\"metric\":\"accuracy\"}}"),
     "steps[3].depends_on", "c", "depends only on evaluate steps, and 'dt' is a train step"},
    {"preprocess without a load", PLAN("{\"id\":\"p\",\"type\":\"preprocess\"}"),
     "steps[0].depends_on", "p", "exactly one load step"},
    {"load with a dependency",
     PLAN(LOAD ",{\"id\":\"l2\",\"type\":\"load\",\"depends_on\":[\"load\"]}"),
     "steps[1].depends_on", "l2", "no dependencies"},
    {"unknown algorithm",
     PLAN(LOAD "," PREP ",{\"id\":\"t\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":"
               "{\"algorithm\":\"deep_magic\"}}"),
     "steps[2].params.algorithm", "t", NULL},
    {"hyperparameter out of range",
     PLAN(LOAD "," PREP ",{\"id\":\"t\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":"
               "{\"algorithm\":\"decision_tree\",\"hyperparameters\":{\"max_depth\":-3}}}"),
     "steps[2].params.hyperparameters.max_depth", "t", NULL},
    {"unknown hyperparameter",
     PLAN(LOAD "," PREP ",{\"id\":\"t\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":"
               "{\"algorithm\":\"decision_tree\",\"hyperparameters\":{\"depth\":3}}}"),
     "steps[2].params.hyperparameters.depth", "t", NULL},
    {"learner that does not do the task",
     "{" DS ",\"task_type\":\"regression\",\"steps\":[" LOAD "," PREP ",{\"id\":\"t\",\"type\":"
     "\"train\",\"depends_on\":[\"prep\"],\"params\":{\"algorithm\":\"logistic_regression\"}}]}",
     "steps[2].params.algorithm", "t", NULL},
    {"train without an algorithm",
     PLAN(LOAD "," PREP ",{\"id\":\"t\",\"type\":\"train\",\"depends_on\":[\"prep\"]}"),
     "steps[2].params.algorithm", "t", "is required"},
    {"bad preprocessing",
     PLAN(LOAD ",{\"id\":\"p\",\"type\":\"preprocess\",\"depends_on\":[\"load\"],\"params\":"
               "{\"preprocessing\":{\"scaling\":\"cubic\"}}}"),
     "steps[1].params.preprocessing.scaling", "p", NULL},
    {"test size of 1",
     PLAN(LOAD ",{\"id\":\"p\",\"type\":\"preprocess\",\"depends_on\":[\"load\"],\"params\":"
               "{\"test_size\":1}}"),
     "steps[1].params.test_size", "p", "between 0 and 1"},
    {"unknown metric",
     "{" DS ",\"task_type\":\"regression\",\"steps\":[" LOAD "," PREP ",{\"id\":\"t\",\"type\":"
     "\"train\",\"depends_on\":[\"prep\"],\"params\":{\"algorithm\":\"decision_tree\"}},{\"id\":"
     "\"e\",\"type\":\"evaluate\",\"depends_on\":[\"t\"]},{\"id\":\"c\",\"type\":\"compare\","
     "\"depends_on\":[\"e\"],\"params\":{\"metric\":\"accuracy\"}}]}",
     "steps[4].params.metric", "c", "unknown metric 'accuracy' for regression"},
    {"parameter a load does not take",
     PLAN("{\"id\":\"l\",\"type\":\"load\",\"params\":{\"rows\":5}}"), "steps[0].params.rows", "l",
     "is not a known field"},
    {"unknown step field", PLAN("{\"id\":\"l\",\"type\":\"load\",\"when\":\"now\"}"),
     "steps[0].when", "l", "is not a known field"},
    {"too many retries", PLAN("{\"id\":\"l\",\"type\":\"load\",\"retries\":9}"), "steps[0].retries",
     "l", NULL},
    {"bad step id", PLAN("{\"id\":\"a b\",\"type\":\"load\"}"), "steps[0].id", "a b", NULL},
    {"step not an object", PLAN("3"), "steps[0]", NULL, NULL},
    {"no steps", "{" DS ",\"steps\":[]}", "steps", NULL, "at least one step"},
    {"no dataset", "{\"target_column\":\"y\",\"steps\":[" LOAD "]}", "dataset_id", NULL,
     "is required"},
    {"dataset not a UUID", "{\"dataset_id\":\"iris\",\"target_column\":\"y\",\"steps\":[" LOAD "]}",
     "dataset_id", NULL, "UUID"},
    {"bad task type", "{" DS ",\"task_type\":\"clustering\",\"steps\":[" LOAD "]}", "task_type",
     NULL, NULL},
    {"unknown plan field", "{" DS ",\"priority\":1,\"steps\":[" LOAD "]}", "priority", NULL, NULL},
};

static json_t *parse_json(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v)
        fail_msg("fixture JSON: %s at %d: %s", e.text, e.position, text);
    return v;
}

static void test_validation_table(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct plan_case *c = &cases[i];
        json_t *body = parse_json(c->body), *details = NULL;
        struct plan *p = NULL;
        int rc = plan_parse(body, &p, &details);
        json_decref(body);
        if (!c->field) {
            if (rc != 0) {
                char *d = json_dumps(details, 0);
                fail_msg("%s: want valid, got %d %s", c->what, rc, d);
            }
            plan_free(p);
            continue;
        }
        if (rc != -EINVAL)
            fail_msg("%s: want -EINVAL, got %d", c->what, rc);
        assert_null(p);
        const json_t *first = json_array_get(json_object_get(details, "fields"), 0);
        const char *field = json_string_value(json_object_get(first, "field"));
        const char *step = json_string_value(json_object_get(first, "step"));
        const char *what = json_string_value(json_object_get(first, "problem"));
        char msg[512];
        plan_problem_message(details, msg, sizeof(msg));
        if (!field || strcmp(field, c->field) != 0 ||
            (c->step && (!step || strcmp(step, c->step) != 0)) || (!c->step && step) ||
            (c->problem && (!what || !strstr(what, c->problem))))
            fail_msg("%s: got field %s step %s problem '%s'", c->what, field, step, what);
        if (c->step && strncmp(msg, "step '", 6) != 0)
            fail_msg("%s: message '%s' does not name the step", c->what, msg);
        json_decref(details);
    }
}

static void test_too_many_steps(void **state)
{
    json_t *body = parse_json("{" DS ",\"steps\":[]}");
    json_t *steps = json_object_get(body, "steps");
    for (int i = 0; i <= PLAN_MAX_STEPS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "l%d", i);
        json_array_append_new(steps, json_pack("{s:s, s:s}", "id", id, "type", "load"));
    }
    json_t *details = NULL;
    struct plan *p = NULL;
    assert_int_equal(plan_parse(body, &p, &details), -EINVAL);
    const json_t *first = json_array_get(json_object_get(details, "fields"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "field")), "steps");
    json_decref(details);
    /* exactly the limit is fine */
    json_array_remove(steps, 0);
    assert_int_equal(plan_parse(body, &p, &details), 0);
    assert_int_equal(p->nsteps, PLAN_MAX_STEPS);
    plan_free(p);
    json_decref(body);
}

/* Several problems are listed, not only the first. */
static void test_every_problem_listed(void **state)
{
    json_t *body = parse_json(PLAN(LOAD ",{\"id\":\"p\",\"type\":\"mix\"},{\"id\":\"q\","
                                        "\"type\":\"blend\"}")),
           *details = NULL;
    struct plan *p = NULL;
    assert_int_equal(plan_parse(body, &p, &details), -EINVAL);
    assert_int_equal(json_array_size(json_object_get(details, "fields")), 2);
    json_decref(details);
    json_decref(body);
}

static size_t step_at(const struct plan *p, const char *id)
{
    for (size_t i = 0; i < p->nsteps; i++)
        if (strcmp(p->steps[i].id, id) == 0)
            return i;
    fail_msg("no step %s", id);
    return 0;
}

static void test_levels(void **state)
{
    json_t *body = parse_json(four_models), *details = NULL;
    struct plan *p = NULL;
    assert_int_equal(plan_parse(body, &p, &details), 0);
    json_decref(body);
    assert_int_equal(p->nsteps, 11);
    assert_int_equal(p->nlevels, 5);
    assert_string_equal(p->name, "four");
    assert_string_equal(p->dataset_id, "6f9619ff-8b86-4d11-b42d-00c04fc964ff");
    assert_int_equal(p->task, ML_CLASSIFICATION);
    static const struct {
        const char *id;
        int level;
    } want[] = {{"load", 0},  {"prep", 1},  {"dt", 2},    {"rf", 2},    {"gb", 2},     {"lr", 2},
                {"ev_dt", 3}, {"ev_rf", 3}, {"ev_gb", 3}, {"ev_lr", 3}, {"compare", 4}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(p->steps[step_at(p, want[i].id)].level, want[i].level);
        /* the topological order is by level, then by position in the body */
        assert_string_equal(p->steps[p->order[i]].id, want[i].id);
    }
    const struct plan_step *cmp = &p->steps[step_at(p, "compare")];
    assert_int_equal(cmp->ndeps, 4);
    assert_string_equal(p->steps[cmp->deps[2]].id, "ev_gb");
    assert_int_equal(p->steps[step_at(p, "rf")].retries, 2);
    plan_free(p);
}

/* Independent branches: two loads, two preprocessings; levels by longest path. */
static void test_levels_branches(void **state)
{
    json_t *body = parse_json(
               PLAN("{\"id\":\"t\",\"type\":\"train\",\"depends_on\":[\"p2\"],\"params\":{"
                    "\"algorithm\":\"knn\"}},{\"id\":\"l2\",\"type\":\"load\"},{\"id\":\"p2\","
                    "\"type\":\"preprocess\",\"depends_on\":[\"l2\"]}," LOAD "," PREP)),
           *details = NULL;
    struct plan *p = NULL;
    assert_int_equal(plan_parse(body, &p, &details), 0);
    json_decref(body);
    assert_int_equal(p->nlevels, 3);
    const char *order[] = {"l2", "load", "p2", "prep", "t"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(p->steps[p->order[i]].id, order[i]);
    plan_free(p);
}

/* The stored form parses back to the same plan. */
static void test_stored_form(void **state)
{
    json_t *body = parse_json(four_models), *details = NULL;
    struct plan *p = NULL, *q = NULL;
    assert_int_equal(plan_parse(body, &p, &details), 0);
    json_t *stored = plan_to_json(p);
    assert_non_null(stored);
    assert_int_equal(plan_parse(stored, &q, &details), 0);
    json_t *again = plan_to_json(q);
    char *a = plan_canonical_json(stored), *b = plan_canonical_json(again);
    assert_string_equal(a, b);
    const json_t *load = json_array_get(json_object_get(stored, "steps"), 1);
    assert_int_equal(json_array_size(json_object_get(load, "depends_on")), 0);
    assert_int_equal(json_object_size(json_object_get(load, "params")), 0);
    assert_int_equal(json_integer_value(json_object_get(load, "retries")), 0);
    free(a);
    free(b);
    json_decref(again);
    json_decref(stored);
    json_decref(body);
    plan_free(p);
    plan_free(q);
}

struct canon_case {
    const char *in;
    const char *want;
};

static void test_canonical_json(void **state)
{
    static const struct canon_case cc[] = {
        {"{\"b\":1,\"a\":{\"y\":2.0,\"x\":[1,\"s\",null,true]}}",
         "{\"a\":{\"x\":[1,\"s\",null,true],\"y\":2},\"b\":1}"},
        {"{ \"z\" : -0.0 , \"m\" : 0.5, \"k\": 1e3 }", "{\"k\":1000,\"m\":0.5,\"z\":0}"},
        {"[{\"b\":{\"d\":1,\"c\":2}},{}]", "[{\"b\":{\"c\":2,\"d\":1}},{}]"},
        {"{\"big\":1e300,\"third\":0.1}",
         "{\"big\":1.0000000000000001e300,\"third\":0.10000000000000001}"},
        {"{\"s\":\"caf\\u00e9\"}", "{\"s\":\"caf\xc3\xa9\"}"},
    };
    for (size_t i = 0; i < sizeof(cc) / sizeof(cc[0]); i++) {
        json_t *v = parse_json(cc[i].in);
        char *s = plan_canonical_json(v);
        assert_non_null(s);
        if (strcmp(s, cc[i].want) != 0)
            fail_msg("canonical of %s: %s, want %s", cc[i].in, s, cc[i].want);
        free(s);
        json_decref(v);
    }
}

static const char h1[] = "0000000000000000000000000000000000000000000000000000000000000001";
static const char h2[] = "00000000000000000000000000000000000000000000000000000000000000ff";

static void key_of(const char *config, const char *const *in, size_t n, char out[65])
{
    json_t *c = parse_json(config);
    assert_int_equal(plan_step_key(PLAN_TRAIN, c, in, n, out), 0);
    json_decref(c);
}

static void test_step_keys(void **state)
{
    const char *in[] = {h1, h2}, *rev[] = {h2, h1};
    char a[65], b[65], c[65], d[65], e[65];
    /* the same configuration in another key order and number spelling: the same key */
    key_of("{\"algorithm\":\"random_forest\",\"hyperparameters\":{\"n_estimators\":20,"
           "\"max_depth\":5}}",
           in, 2, a);
    key_of("{\"hyperparameters\":{\"max_depth\":5.0,\"n_estimators\":20},"
           "\"algorithm\":\"random_forest\"}",
           in, 2, b);
    assert_string_equal(a, b);
    /* another value, the inputs in another order, another type: other keys */
    key_of("{\"algorithm\":\"random_forest\",\"hyperparameters\":{\"n_estimators\":21,"
           "\"max_depth\":5}}",
           in, 2, c);
    key_of("{\"algorithm\":\"random_forest\",\"hyperparameters\":{\"n_estimators\":20,"
           "\"max_depth\":5}}",
           rev, 2, d);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    json_t *cfg = parse_json("{\"algorithm\":\"random_forest\",\"hyperparameters\":{"
                             "\"n_estimators\":20,\"max_depth\":5}}");
    assert_int_equal(plan_step_key(PLAN_EVALUATE, cfg, in, 2, e), 0);
    assert_string_not_equal(a, e);
    /* the key is the SHA-256 of the documented canonical document */
    const char doc[] = "{\"config\":{\"algorithm\":\"random_forest\",\"hyperparameters\":{"
                       "\"max_depth\":5,\"n_estimators\":20}},\"inputs\":[\"" /* */
                       "0000000000000000000000000000000000000000000000000000000000000001\",\""
                       "00000000000000000000000000000000000000000000000000000000000000ff\"],"
                       "\"type\":\"train\",\"v\":1}";
    char want[65];
    hash_sha256_hex(doc, strlen(doc), want);
    assert_string_equal(a, want);
    /* inputs must be hashes */
    const char *bad[] = {"not-a-hash"};
    assert_int_equal(plan_step_key(PLAN_TRAIN, cfg, bad, 1, e), -EINVAL);
    json_decref(cfg);
}

static void test_metrics_and_types(void **state)
{
    int higher = -1;
    assert_true(plan_metric_known("accuracy", ML_CLASSIFICATION, &higher));
    assert_int_equal(higher, 1);
    assert_true(plan_metric_known("rmse", ML_REGRESSION, &higher));
    assert_int_equal(higher, 0);
    assert_false(plan_metric_known("rmse", ML_CLASSIFICATION, &higher));
    assert_true(plan_metric_known("log_loss", 0, &higher));
    assert_false(plan_metric_known("speed", 0, &higher));
    enum plan_step_type t;
    for (int i = 0; i < PLAN_NTYPES; i++) {
        assert_int_equal(plan_type_parse(plan_type_name((enum plan_step_type)i), &t), 0);
        assert_int_equal((int)t, i);
    }
    assert_int_equal(plan_type_parse("Train", &t), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation_table),     cmocka_unit_test(test_too_many_steps),
        cmocka_unit_test(test_every_problem_listed), cmocka_unit_test(test_levels),
        cmocka_unit_test(test_levels_branches),      cmocka_unit_test(test_stored_form),
        cmocka_unit_test(test_canonical_json),       cmocka_unit_test(test_step_keys),
        cmocka_unit_test(test_metrics_and_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
