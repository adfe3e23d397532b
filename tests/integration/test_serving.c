/* test_serving: model-serving against real selection, ml-pipeline (API and worker) and
 * model-serving processes: a decision tree trained on iris is deployed (fetched as its
 * owner, SHA-256 verified), listed, predicted (labels, probabilities; 422 for missing,
 * unknown and mistyped features and too many rows), deployed again as version 2,
 * reloaded after a restart, served by the KServe V2 routes (health, metadata, infer with
 * one tensor or one input per feature, explain with additivity residuals below 1e-9), counted in
 * per-model metrics, private to its owner (404 for another user) and deleted. */
#include "th_form.h"
#include "th_stack.h"
#include "th_tokens.h"

#include <ibx/auth.h>
#include <ibx/ids.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define WAIT_S 180 /* bound on any wait (slow sanitizer builds on shared CPUs) */

static struct th_stack st;
static struct th_svc *sel, *pl, *plw, *srv;
static struct auth_keys *keys;
static char *alice, *bob;
static char iris_id[64], tree_id[64];
static char env[1][300];

static char *mint(void)
{
    struct auth_claims c = {0};
    ids_uuid4(c.sub);
    snprintf(c.role, sizeof(c.role), "user");
    snprintf(c.iss, sizeof(c.iss), "ibx-gateway");
    snprintf(c.aud, sizeof(c.aud), "ibx-internal");
    snprintf(c.typ, sizeof(c.typ), "internal");
    char *tok = NULL;
    return th_issue(keys, &c, 3600, &tok) == 0 ? tok : NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = malloc(1 << 20);
    *len = data ? fread(data, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (data)
        data[*len] = '\0';
    return data;
}

static int upload_iris(void)
{
    size_t len = 0;
    char *iris = read_file("tests/fixtures/iris.csv", &len);
    struct th_form f = {0};
    th_form_field(&f, "metadata", "{\"display_name\":\"Iris\",\"access\":\"private\"}");
    th_form_file(&f, "files", "iris.csv", iris, len);
    th_form_end(&f);
    struct th_resp r;
    long s = iris ? th_form_post(sel->url, "/api/v1/datasets", alice, &f, &r) : -1;
    th_form_free(&f);
    free(iris);
    if (s == 201)
        snprintf(iris_id, sizeof(iris_id), "%s", str(r.json, "id"));
    if (s > 0)
        th_resp_free(&r);
    return s == 201 ? 0 : -1;
}

static int train_tree(void)
{
    char body[512], path[128];
    snprintf(body, sizeof(body),
             "{\"dataset_id\":\"%s\",\"target_column\":\"target\",\"algorithm\":"
             "\"decision_tree\",\"hyperparameters\":{},\"test_size\":0.2,\"random_state\":42}",
             iris_id);
    struct th_resp r;
    long s = th_call(pl->url, "POST", "/api/v1/experiments", alice, body, &r);
    if (s == 202)
        snprintf(tree_id, sizeof(tree_id), "%s", str(r.json, "id"));
    else
        fprintf(stderr, "train: %ld %s\n", s, r.body);
    th_resp_free(&r);
    if (s != 202)
        return -1;
    snprintf(path, sizeof(path), "/api/v1/experiments/%s", tree_id);
    for (int i = 0; i < WAIT_S * 10; i++) {
        s = th_call(pl->url, "GET", path, alice, NULL, &r);
        char status[32];
        snprintf(status, sizeof(status), "%s", s == 200 ? str(r.json, "status") : "");
        th_resp_free(&r);
        if (strcmp(status, "completed") == 0)
            return 0;
        if (strcmp(status, "failed") == 0)
            return -1;
        sleep_ms(100);
    }
    return -1;
}

static int setup(void **state)
{
    if (ids_init() != 0 || th_stack_start(&st) != 0)
        return -1;
    sel = th_service_start(&st, "selection", NULL);
    if (!sel || auth_keys_new_hs256(st.jwt_secret, &keys) != 0)
        return -1;
    snprintf(env[0], sizeof(env[0]), "IBX_SELECTION_URL=%s", sel->url);
    const char *const pl_env[] = {env[0], NULL};
    pl = th_service_start(&st, "ml-pipeline", pl_env);
    plw = th_service_start(&st, "ml-pipeline-worker", pl_env);
    if (!pl || !plw)
        return -1;
    snprintf(env[0], sizeof(env[0]), "IBX_PIPELINE_URL=%s", pl->url);
    const char *const ms_env[] = {env[0], NULL};
    srv = th_service_start(&st, "model-serving", ms_env);
    alice = mint();
    bob = mint();
    if (!srv || !alice || !bob || upload_iris() != 0)
        return -1;
    return train_tree();
}

static int teardown(void **state)
{
    free(alice);
    free(bob);
    auth_keys_free(keys);
    return th_stack_stop(&st) == 0 ? 0 : -1;
}

static long deploy(const char *token, const char *exp, const char *name, struct th_resp *r)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"experiment_id\":\"%s\",\"name\":\"%s\"}", exp, name);
    return th_call(srv->url, "POST", "/api/v1/deployments", token, body, r);
}

static const char *const three_rows =
    "{\"instances\":[{\"sepal length (cm)\":5.1,\"sepal width (cm)\":3.5,\"petal length "
    "(cm)\":1.4,\"petal width (cm)\":0.2},{\"sepal length (cm)\":7.0,\"sepal width (cm)\":3.2,"
    "\"petal length (cm)\":4.7,\"petal width (cm)\":1.4},{\"sepal length (cm)\":6.3,\"sepal "
    "width (cm)\":3.3,\"petal length (cm)\":6.0,\"petal width (cm)\":2.5}]}";

static void test_deploy_and_predict(void **state)
{
    struct th_resp r;
    assert_int_equal(deploy(alice, tree_id, "iris", &r), 201);
    assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 1);
    assert_string_equal(str(r.json, "status"), "ready");
    assert_int_equal(strlen(str(r.json, "model_sha256")), 64);
    th_resp_free(&r);

    assert_int_equal(th_call(srv->url, "GET", "/api/v1/deployments", alice, NULL, &r), 200);
    json_t *items = json_object_get(r.json, "deployments");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(str(json_array_get(items, 0), "name"), "iris");
    th_resp_free(&r);

    assert_int_equal(
        th_call(srv->url, "POST", "/api/v1/models/iris/predict", alice, three_rows, &r), 200);
    json_t *labels = json_object_get(r.json, "labels");
    assert_int_equal(json_array_size(labels), 3);
    const char *want[] = {"0", "1", "2"};
    for (size_t i = 0; i < 3; i++) {
        json_t *l = json_array_get(labels, i);
        char got[32];
        if (json_is_string(l))
            snprintf(got, sizeof(got), "%s", json_string_value(l));
        else
            snprintf(got, sizeof(got), "%lld", (long long)json_integer_value(l));
        assert_string_equal(got, want[i]);
        json_t *p = json_array_get(json_object_get(r.json, "probabilities"), i);
        assert_true(json_is_object(p));
        assert_true(json_number_value(json_object_get(p, want[i])) > 0.5);
    }
    th_resp_free(&r);
}

static void test_problems(void **state)
{
    struct th_resp r;
    const char *bad[] = {
        "{\"instances\":[{\"sepal length (cm)\":5.1}]}",
        "{\"instances\":[{\"sepal length (cm)\":5.1,\"sepal width (cm)\":3.5,\"petal length "
        "(cm)\":1.4,\"petal width (cm)\":0.2,\"colour\":1}]}",
        "{\"instances\":[{\"sepal length (cm)\":\"big\",\"sepal width (cm)\":3.5,\"petal length "
        "(cm)\":1.4,\"petal width (cm)\":0.2}]}",
        "{\"instances\":[]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(
            th_call(srv->url, "POST", "/api/v1/models/iris/predict", alice, bad[i], &r), 422);
        if (i < 3)
            assert_true(json_array_size(
                            json_object_get(json_object_get(r.json, "details"), "problems")) >= 1);
        th_resp_free(&r);
    }
    /* 10001 rows */
    json_t *many = json_array(), *row = json_pack("{s:f}", "sepal length (cm)", 5.0);
    for (int i = 0; i < 10001; i++)
        json_array_append(many, row);
    json_decref(row);
    json_t *doc = json_pack("{s:o}", "instances", many);
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_non_null(body);
    assert_int_equal(th_call(srv->url, "POST", "/api/v1/models/iris/predict", alice, body, &r),
                     422);
    th_resp_free(&r);
    free(body);
}

static void test_versions_and_restart(void **state)
{
    struct th_resp r;
    assert_int_equal(deploy(alice, tree_id, "iris", &r), 201);
    assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 2);
    th_resp_free(&r);
    assert_int_equal(th_service_stop(srv), 0);
    const char *const ms_env[] = {env[0], NULL};
    srv = th_service_start(&st, "model-serving", ms_env);
    assert_non_null(srv);
    assert_int_equal(
        th_call(srv->url, "POST", "/api/v1/models/iris/predict", alice, three_rows, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 2);
    th_resp_free(&r);
}

static const char *const v2_tensor =
    "{\"id\":\"r1\",\"inputs\":[{\"name\":\"x\",\"shape\":[3,4],\"datatype\":\"FP64\","
    "\"data\":[5.1,3.5,1.4,0.2,7.0,3.2,4.7,1.4,6.3,3.3,6.0,2.5]}]}";

static const json_t *v2_output(const json_t *body, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(body, "outputs"), i, o)
    {
        if (strcmp(str(o, "name"), name) == 0)
            return o;
    }
    return NULL;
}

static void test_v2(void **state)
{
    struct th_resp r;
    assert_int_equal(th_call(srv->url, "GET", "/v2/health/live", NULL, NULL, &r), 200);
    assert_true(json_is_true(json_object_get(r.json, "live")));
    th_resp_free(&r);
    assert_int_equal(th_call(srv->url, "GET", "/v2/health/ready", NULL, NULL, &r), 200);
    th_resp_free(&r);
    assert_int_equal(th_call(srv->url, "GET", "/v2", alice, NULL, &r), 200);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r.json, "extensions"), 0)),
                        "explain");
    th_resp_free(&r);
    assert_int_equal(th_call(srv->url, "GET", "/v2/models/iris", alice, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "inputs")), 4);
    assert_int_equal(json_array_size(json_object_get(r.json, "versions")), 2);
    th_resp_free(&r);
    assert_int_equal(th_call(srv->url, "GET", "/v2/models/iris/versions/1/ready", alice, NULL, &r),
                     200);
    th_resp_free(&r);
    assert_int_equal(th_call(srv->url, "GET", "/v2/models/iris/versions/9", alice, NULL, &r), 404);
    assert_non_null(json_object_get(r.json, "error"));
    th_resp_free(&r);

    assert_int_equal(th_call(srv->url, "POST", "/v2/models/iris/infer", alice, v2_tensor, &r), 200);
    assert_string_equal(str(r.json, "id"), "r1");
    const json_t *pred = v2_output(r.json, "predictions");
    assert_non_null(pred);
    assert_string_equal(json_string_value(json_array_get(json_object_get(pred, "data"), 2)), "2");
    const json_t *proba = v2_output(r.json, "probabilities");
    assert_non_null(proba);
    assert_int_equal(json_array_size(json_object_get(proba, "data")), 9);
    th_resp_free(&r);

    const char *per_feature =
        "{\"inputs\":[{\"name\":\"sepal length (cm)\",\"shape\":[1],\"datatype\":\"FP64\","
        "\"data\":[7.0]},{\"name\":\"sepal width (cm)\",\"shape\":[1],\"datatype\":\"FP64\","
        "\"data\":[3.2]},{\"name\":\"petal length (cm)\",\"shape\":[1],\"datatype\":"
        "\"FP64\",\"data\":[4.7]},{\"name\":\"petal width (cm)\",\"shape\":[1],"
        "\"datatype\":\"FP64\",\"data\":[1.4]}]}";
    assert_int_equal(th_call(srv->url, "POST", "/v2/models/iris/infer", alice, per_feature, &r),
                     200);
    pred = v2_output(r.json, "predictions");
    assert_string_equal(json_string_value(json_array_get(json_object_get(pred, "data"), 0)), "1");
    th_resp_free(&r);
    assert_int_equal(th_call(srv->url, "POST", "/v2/models/iris/infer", alice,
                             "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":"
                             "\"FP64\",\"data\":[1,2,3]}]}",
                             &r),
                     422);
    assert_non_null(json_object_get(r.json, "error"));
    th_resp_free(&r);

    assert_int_equal(th_call(srv->url, "POST", "/v2/models/iris/explain", alice, v2_tensor, &r),
                     200);
    const json_t *res = v2_output(r.json, "additivity_residual");
    assert_non_null(res);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(res, "data"), i, v)
    {
        assert_true(fabs(json_number_value(v)) < 1e-9);
    }
    assert_non_null(v2_output(r.json, "shap_values"));
    th_resp_free(&r);

    assert_int_equal(th_call(srv->url, "POST", "/v2/models/iris/infer", bob, v2_tensor, &r), 404);
    th_resp_free(&r);
    assert_int_equal(th_call(srv->url, "GET", "/v2/models/iris", bob, NULL, &r), 404);
    th_resp_free(&r);
}

/* A per-model series' value from model-serving's /metrics (-1 when absent). */
static double metric(const char *name, const char *labels)
{
    char url[128], key[256];
    snprintf(url, sizeof(url), "%s/metrics", srv->url);
    snprintf(key, sizeof(key), "%s{%s} ", name, labels);
    struct th_resp r;
    double v = -1;
    if (th_http("GET", url, NULL, NULL, &r) == 0 && r.body) {
        const char *p = strstr(r.body, key);
        v = p ? strtod(p + strlen(key), NULL) : -1;
    }
    th_resp_free(&r);
    return v;
}

static void test_metrics(void **state)
{
    const char *infer = "model=\"iris\",version=\"2\",api=\"infer\"";
    assert_true(metric("ibx_serving_requests_total", infer) >= 3);
    assert_true(metric("ibx_serving_rows_total", infer) >= 4);
    assert_true(metric("ibx_serving_errors_total", infer) >= 1);
    assert_true(metric("ibx_serving_request_seconds_count", infer) >= 3);
    assert_true(metric("ibx_serving_rows_total", "model=\"iris\",version=\"2\",api=\"explain\"") >=
                3);
}

static void test_owner_only(void **state)
{
    struct th_resp r;
    assert_int_equal(th_call(srv->url, "POST", "/api/v1/models/iris/predict", bob, three_rows, &r),
                     404);
    th_resp_free(&r);
    assert_int_equal(th_call(srv->url, "DELETE", "/api/v1/deployments/iris", bob, NULL, &r), 404);
    th_resp_free(&r);
    assert_int_equal(deploy(bob, tree_id, "iris", &r), 404);
    th_resp_free(&r);
    assert_int_equal(th_call(srv->url, "GET", "/api/v1/deployments", bob, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "deployments")), 0);
    th_resp_free(&r);
    char other[40];
    ids_uuid4(other);
    assert_int_equal(deploy(alice, other, "x", &r), 404);
    th_resp_free(&r);
    assert_int_equal(deploy(alice, tree_id, "Bad Name", &r), 400);
    th_resp_free(&r);
}

static void test_delete(void **state)
{
    struct th_resp r;
    assert_int_equal(th_call(srv->url, "DELETE", "/api/v1/deployments/iris", alice, NULL, &r), 204);
    th_resp_free(&r);
    assert_int_equal(
        th_call(srv->url, "POST", "/api/v1/models/iris/predict", alice, three_rows, &r), 404);
    th_resp_free(&r);
    assert_int_equal(th_call(srv->url, "DELETE", "/api/v1/deployments/iris", alice, NULL, &r), 404);
    th_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deploy_and_predict),
        cmocka_unit_test(test_problems),
        cmocka_unit_test(test_versions_and_restart),
        cmocka_unit_test(test_v2),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_owner_only),
        cmocka_unit_test(test_delete),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
