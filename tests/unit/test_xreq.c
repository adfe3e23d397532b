/* test_xreq: xai-engine's request checks and method choice (services/xai-engine/src/xreq.c)
 * as tables: every bad field named in the details, the options read back as given, and
 * "auto" choosing by model, explanation type, feature count and audience, with a reason. */
#include "../../services/xai-engine/src/engine.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define EXP "\"experiment_id\":\"0b6c5a43-5d8e-4f57-9b8e-2f1f4c3a7e11\""

struct bad_case {
    const char *body;
    const char *field; /* the first problem's field */
};

static const struct bad_case bad[] = {
    {"{\"explanation_type\":\"global\"}", "experiment_id"},
    {"{\"experiment_id\":\"42\",\"explanation_type\":\"global\"}", "experiment_id"},
    {"{" EXP "}", "explanation_type"},
    {"{" EXP ",\"explanation_type\":\"everything\"}", "explanation_type"},
    {"{" EXP ",\"explanation_type\":\"global\",\"method\":\"magic\"}", "method"},
    {"{" EXP ",\"explanation_type\":\"global\",\"audience_level\":\"guru\"}", "audience_level"},
    {"{" EXP ",\"explanation_type\":\"global\",\"language\":\"de\"}", "language"},
    {"{" EXP ",\"explanation_type\":\"global\",\"colour\":1}", "colour"},
    {"{" EXP ",\"explanation_type\":\"local\"}", "instance"},
    {"{" EXP ",\"explanation_type\":\"local\",\"instance\":{\"a\":1},\"instance_index\":2}",
     "instance_index"},
    {"{" EXP ",\"explanation_type\":\"global\",\"instance_index\":2}", "instance_index"},
    {"{" EXP ",\"explanation_type\":\"local\",\"instance\":{}}", "instance"},
    {"{" EXP ",\"explanation_type\":\"local\",\"instance\":{\"a\":{\"b\":1}}}", "instance"},
    {"{" EXP ",\"explanation_type\":\"local\",\"instance_index\":-1}", "instance_index"},
    {"{" EXP ",\"explanation_type\":\"global\",\"options\":{\"nsamples\":1}}", "options.nsamples"},
    {"{" EXP ",\"explanation_type\":\"global\",\"options\":{\"max_rows\":0}}", "options.max_rows"},
    {"{" EXP ",\"explanation_type\":\"global\",\"options\":{\"zoom\":2}}", "options.zoom"},
    {"{" EXP ",\"explanation_type\":\"global\",\"options\":{\"features\":[1]}}",
     "options.features"},
    {"{" EXP ",\"explanation_type\":\"global\",\"options\":{\"features\":[]}}", "options.features"},
    {"[1]", "body"},
};

static void test_bad_requests(void **state)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *body = json_loads(bad[i].body, 0, NULL);
        assert_non_null(body);
        struct xe_request r;
        json_t *details = NULL;
        if (xreq_parse(body, &r, &details) != -EINVAL)
            fail_msg("accepted %s", bad[i].body);
        const char *f = json_string_value(
            json_object_get(json_array_get(json_object_get(details, "fields"), 0), "field"));
        if (!f || strcmp(f, bad[i].field) != 0)
            fail_msg("%s: problem with %s, want %s", bad[i].body, f ? f : "(none)", bad[i].field);
        char msg[256];
        xreq_message(details, msg, sizeof(msg));
        assert_non_null(strstr(msg, bad[i].field));
        json_decref(details);
        json_decref(body);
    }
}

static void test_good_request(void **state)
{
    json_t *body = json_loads("{" EXP ",\"explanation_type\":\"local\",\"method\":\"lime\","
                              "\"language\":\"fr\",\"instance\":{\"a\":1.5,\"b\":\"x\",\"c\":null},"
                              "\"options\":{\"seed\":9,\"nsamples\":300,\"features\":[\"a\"]}}",
                              0, NULL);
    struct xe_request r;
    json_t *details = NULL;
    assert_int_equal(xreq_parse(body, &r, &details), 0);
    assert_int_equal(r.type, XE_LOCAL);
    assert_int_equal(r.method, XE_LIME);
    assert_int_equal(r.lang, XE_FR);
    assert_int_equal(r.audience, -1);
    assert_int_equal(r.instance_index, -1);
    assert_int_equal(json_object_size(r.instance), 3);
    assert_int_equal(r.opt.seed, 9);
    json_t *o = xreq_options_json(&r.opt);
    json_t *want = json_loads("{\"seed\":9,\"nsamples\":300,\"features\":[\"a\"]}", 0, NULL);
    assert_true(json_equal(o, want));
    struct xe_options back;
    assert_int_equal(xreq_options_parse(o, &back), 0);
    assert_int_equal(back.nsamples, 300);
    assert_int_equal(back.ice_rows, -1);
    json_decref(back.features);
    json_decref(o);
    json_decref(want);
    xreq_release(&r);
    json_decref(body);
}

struct choice_case {
    enum xe_type type;
    enum xe_method method;
    const char *algorithm;
    size_t p;
    enum xe_audience audience;
    enum xe_used want;
    const char *reason_has;
};

static const struct choice_case choices[] = {
    {XE_GLOBAL, XE_AUTO, "random_forest", 4, XE_NOVICE, XE_TREE_SHAP, "trees"},
    {XE_LOCAL, XE_AUTO, "decision_tree", 40, XE_NOVICE, XE_TREE_SHAP, "trees"},
    {XE_IMPORTANCE, XE_AUTO, "gradient_boosting", 9, XE_EXPERT, XE_TREE_SHAP, "trees"},
    {XE_GLOBAL, XE_AUTO, "logistic_regression", 30, XE_NOVICE, XE_LINEAR_SHAP, "linear"},
    {XE_LOCAL, XE_AUTO, "ridge_regression", 3, XE_EXPERT, XE_LINEAR_SHAP, "linear"},
    {XE_GLOBAL, XE_AUTO, "knn", 8, XE_EXPERT, XE_KERNEL_SHAP, "few features"},
    {XE_GLOBAL, XE_AUTO, "knn", 16, XE_NOVICE, XE_KERNEL_SHAP, "few features"},
    {XE_GLOBAL, XE_AUTO, "gaussian_nb", 17, XE_EXPERT, XE_USE_LIME, "many features"},
    {XE_LOCAL, XE_AUTO, "knn", 4, XE_NOVICE, XE_USE_LIME, "novice"},
    {XE_LOCAL, XE_AUTO, "knn", 4, XE_INTERMEDIATE, XE_KERNEL_SHAP, "few features"},
    {XE_IMPORTANCE, XE_AUTO, "knn", 4, XE_NOVICE, XE_USE_PERMUTATION, "permutation"},
    {XE_GLOBAL, XE_SHAP, "random_forest", 4, XE_NOVICE, XE_TREE_SHAP, "requested"},
    {XE_GLOBAL, XE_SHAP, "linear_regression", 4, XE_NOVICE, XE_LINEAR_SHAP, "requested"},
    {XE_LOCAL, XE_SHAP, "gaussian_nb", 200, XE_NOVICE, XE_KERNEL_SHAP, "requested"},
    {XE_LOCAL, XE_LIME, "random_forest", 4, XE_EXPERT, XE_USE_LIME, "LIME"},
    {XE_GLOBAL, XE_PERMUTATION, "random_forest", 4, XE_EXPERT, XE_USE_PERMUTATION, "shuffled"},
    {XE_GLOBAL, XE_PDP, "knn", 4, XE_EXPERT, XE_USE_PDP, "partial dependence"},
};

static void test_method_choice(void **state)
{
    for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
        const struct choice_case *c = &choices[i];
        struct xe_request r;
        memset(&r, 0, sizeof(r));
        r.type = c->type;
        r.method = c->method;
        enum xe_used used = XE_USE_PDP;
        const char *reason = NULL;
        json_t *details = NULL;
        assert_int_equal(xreq_choose(&r, c->algorithm, c->p, c->audience, &used, &reason, &details),
                         0);
        if (used != c->want || !strstr(reason, c->reason_has))
            fail_msg("case %zu (%s): %s because %s", i, c->algorithm, xe_used_name(used), reason);
    }
    /* permutation and partial dependence are global */
    struct xe_request r;
    memset(&r, 0, sizeof(r));
    r.type = XE_LOCAL;
    for (int m = XE_PERMUTATION; m <= XE_PDP; m++) {
        r.method = (enum xe_method)m;
        enum xe_used used;
        const char *reason = NULL;
        json_t *details = NULL;
        assert_int_equal(xreq_choose(&r, "random_forest", 4, XE_NOVICE, &used, &reason, &details),
                         -EINVAL);
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_object_get(details, "fields"), 0), "field")),
                            "method");
        json_decref(details);
    }
}

static void test_names(void **state)
{
    for (int u = XE_TREE_SHAP; u <= XE_USE_PDP; u++)
        assert_int_equal(xe_used_parse(xe_used_name((enum xe_used)u)), u);
    assert_int_equal(xe_audience_of_claim("expert"), XE_EXPERT);
    assert_int_equal(xe_audience_of_claim(""), -1);
    assert_int_equal(xe_audience_of_claim("wizard"), -1);
    assert_int_equal(xe_lang_parse("fr"), XE_FR);
    assert_int_equal(xe_type_parse("feature_importance"), XE_IMPORTANCE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_good_request),
        cmocka_unit_test(test_method_choice),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
