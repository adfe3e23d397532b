/* test_runspec: the checks of an experiment request (POST /experiments) as a table: every
 * bad field is named, defaults are filled, the learner is checked for the task. */
#include "../../services/ml-pipeline/src/pipeline.h"

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

struct bad_case {
    const char *body;
    const char *field; /* the first problem's field (prefix) */
};

static const struct bad_case bad_cases[] = {
    {"{" DS "}", "algorithm"},
    {"{\"target_column\":\"y\",\"algorithm\":\"knn\"}", "dataset_id"},
    {"{" DS ",\"algorithm\":\"knn\",\"colour\":\"red\"}", "colour"},
    {"{\"dataset_id\":\"nope\",\"target_column\":\"y\",\"algorithm\":\"knn\"}", "dataset_id"},
    {"{" DS ",\"algorithm\":\"knn\",\"project_id\":\"x\"}", "project_id"},
    {"{" DS ",\"algorithm\":\"knn\",\"task_type\":\"clustering\"}", "task_type"},
    {"{" DS ",\"algorithm\":\"knn\",\"test_size\":0.99}", "test_size"},
    {"{" DS ",\"algorithm\":\"knn\",\"test_size\":\"big\"}", "test_size"},
    {"{" DS ",\"algorithm\":\"knn\",\"random_state\":-1}", "random_state"},
    {"{" DS ",\"algorithm\":\"knn\",\"cv_folds\":1}", "cv_folds"},
    {"{" DS ",\"algorithm\":\"knn\",\"hyperparameters\":[1]}", "hyperparameters"},
    {"{" DS ",\"algorithm\":\"knn\",\"preprocessing\":{\"scaling\":\"loud\"}}",
     "preprocessing.scaling"},
    {"{" DS ",\"algorithm\":\"knn\",\"preprocessing\":{\"colour\":1}}", "preprocessing.colour"},
    {"{\"dataset_id\":\"6F9619FF-8B86-4D11-B42D-00C04FC964FF\",\"target_column\":\"\","
     "\"algorithm\":\"knn\"}",
     "target_column"},
    {"[1]", ""},
};

static void test_bad_requests(void **state)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        json_t *body = json_loads(bad_cases[i].body, 0, NULL);
        assert_non_null(body);
        struct run_spec sp;
        json_t *details = NULL;
        int rc = runspec_parse(body, &sp, &details);
        if (rc == 0) {
            /* a learner problem shows once the task is known */
            rc = runspec_check_learner(&sp, &details);
            runspec_release(&sp);
        }
        if (rc != -EINVAL)
            fail_msg("case %zu accepted: %s", i, bad_cases[i].body);
        const char *f = json_string_value(
            json_object_get(json_array_get(json_object_get(details, "fields"), 0), "field"));
        if (!f || strncmp(f, bad_cases[i].field, strlen(bad_cases[i].field)) != 0)
            fail_msg("case %zu: first problem %s, want %s", i, f ? f : "(none)",
                     bad_cases[i].field);
        char msg[256];
        runspec_message(details, msg, sizeof(msg));
        assert_true(strlen(msg) > 0);
        json_decref(details);
        json_decref(body);
    }
}

static void test_defaults_and_normalisation(void **state)
{
    json_t *body = json_loads("{\"dataset_id\":\"6F9619FF-8B86-4D11-B42D-00C04FC964FF\","
                              "\"target_column\":\"species\",\"algorithm\":\"decision_tree\","
                              "\"hyperparameters\":{\"max_depth\":5},\"project_id\":null}",
                              0, NULL);
    struct run_spec sp;
    json_t *details = NULL;
    assert_int_equal(runspec_parse(body, &sp, &details), 0);
    assert_string_equal(sp.dataset_id, "6f9619ff-8b86-4d11-b42d-00c04fc964ff");
    assert_string_equal(sp.project_id, "");
    assert_string_equal(sp.task_type, "");
    assert_float_equal(sp.test_size, 0.2, 1e-12);
    assert_int_equal(sp.random_state, 42);
    assert_int_equal(sp.cv_folds, 0);
    assert_true(json_is_object(sp.preprocessing));
    assert_non_null(json_object_get(sp.preprocessing, "scaling"));
    assert_int_equal(json_integer_value(json_object_get(sp.hyperparameters, "max_depth")), 5);
    snprintf(sp.task_type, sizeof(sp.task_type), "classification");
    assert_int_equal(runspec_check_learner(&sp, &details), 0);
    /* linear regression does not classify */
    snprintf(sp.algorithm, sizeof(sp.algorithm), "linear_regression");
    assert_int_equal(runspec_check_learner(&sp, &details), -EINVAL);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(details, "fields"), 0), "field")),
                        "algorithm");
    json_decref(details);
    runspec_release(&sp);
    json_decref(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_defaults_and_normalisation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
