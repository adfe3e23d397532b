/* test_xai: the xai-engine API and its Kafka worker against real selection, ml-pipeline
 * (API and worker) and xai-engine (API and worker) processes: a random forest trained on
 * iris, then a global SHAP explanation (auto -> TreeSHAP with its reason, petal features
 * first, additivity residual below 1e-9) followed by SSE, the same request twice giving
 * the same bytes, the narratives at every audience level in both languages, a local LIME
 * explanation of row 0, a local TreeSHAP of a given instance, permutation importance,
 * partial dependence, validation, ownership, the audience taken from the token, chat
 * (503 llm_unavailable without a language model, answers from a test double of
 * model-serving's LLM route, 429 past 5 questions), deletion, a new user through the
 * gateway, and erasure on user.deleted. */
#include "th_form.h"
#include "th_stack.h"
#include "th_tokens.h"

#include <ibx/auth.h>
#include <ibx/bus.h>
#include <ibx/http.h>
#include <ibx/ids.h>
#include <ibx/svc.h>

#include <libpq-fe.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define WAIT_S 180 /* bound on any wait (slow sanitizer builds on shared CPUs) */

static struct th_stack st;
static struct th_svc *sel, *pl, *plw, *xai, *xaiw, *xai_nollm, *gw;
static struct auth_keys *keys;
static PGconn *pg;
static char *alice, *bob, *alice_expert;
static char alice_id[40];
static char iris_id[64], forest_id[64], global_id[64];

/* ------------------------------------------------------------------ LLM test double */

/* model-serving's /v1/chat/completions as the chat sees it: 0 answers (naming the first
 * ranked feature of the system message's facts), 1 answers 503. */
static atomic_int llm_mode;
static atomic_int llm_last_messages;
static struct http_server *llm;
static char llm_url[64];

static void llm_reply(struct http_req *req, struct http_resp *resp)
{
    json_t *body = NULL;
    if (http_req_json(req, resp, &body) != 0)
        return;
    if (atomic_load(&llm_mode) == 1 || !svc_bearer(req)) {
        json_decref(body);
        http_resp_error(resp, 503, "unavailable", "no worker serves this model", NULL);
        return;
    }
    json_t *msgs = json_object_get(body, "messages");
    atomic_store(&llm_last_messages, (int)json_array_size(msgs));
    const char *sys = json_string_value(json_object_get(json_array_get(msgs, 0), "content"));
    const char *rank = sys ? strstr(sys, "Ranking by") : NULL;
    const char *q1 = rank ? strchr(rank, '"') : NULL, *q2 = q1 ? strchr(q1 + 1, '"') : NULL;
    char answer[300];
    snprintf(answer, sizeof(answer), "The model relies most on %.*s.",
             q1 && q2 ? (int)(q2 - q1 - 1) : 7, q1 && q2 ? q1 + 1 : "nothing");
    http_resp_json(resp, 200,
                   json_pack("{s:s, s:s, s:[{s:i, s:{s:s, s:s}, s:s}], s:{s:i}}", "id", "chat-1",
                             "model", "test-llm", "choices", "index", 0, "message", "role",
                             "assistant", "content", answer, "finish_reason", "stop", "usage",
                             "total_tokens", 42));
    json_decref(body);
}

static int llm_open(void *app, struct http_req *req, const char **why)
{
    return 0;
}

static int llm_start(void)
{
    static const struct http_route routes[] = {
        {"POST", "/v1/chat/completions", llm_reply, 0, HTTP_PUBLIC, "test double"},
    };
    struct http_server_opts o = {.service = "llm-double",
                                 .bind_addr = "127.0.0.1",
                                 .routes = routes,
                                 .nroutes = 1,
                                 .authenticate = llm_open};
    if (http_server_start(&o, &llm) != 0)
        return -1;
    snprintf(llm_url, sizeof(llm_url), "IBX_SERVING_URL=http://127.0.0.1:%u",
             (unsigned)http_server_port(llm));
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static char *mint(const char *sub, const char *aud_level)
{
    struct auth_claims c = {0};
    if (sub)
        snprintf(c.sub, sizeof(c.sub), "%s", sub);
    else
        ids_uuid4(c.sub);
    snprintf(c.role, sizeof(c.role), "user");
    snprintf(c.iss, sizeof(c.iss), "ibx-gateway");
    snprintf(c.aud, sizeof(c.aud), "ibx-internal");
    snprintf(c.typ, sizeof(c.typ), "internal");
    snprintf(c.aud_level, sizeof(c.aud_level), "%s", aud_level ? aud_level : "");
    char *tok = NULL;
    return th_issue(keys, &c, 3600, &tok) == 0 ? tok : NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

static long call(const char *method, const char *path, const char *token, const char *body,
                 struct th_resp *r)
{
    return th_call(xai->url, method, path, token, body, r);
}

static long sql_long(const char *sql, const char *arg)
{
    const char *p[] = {arg};
    PGresult *r = PQexecParams(pg, sql, arg ? 1 : 0, NULL, p, NULL, NULL, 0);
    long v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                 ? strtol(PQgetvalue(r, 0, 0), NULL, 10)
                 : -1;
    PQclear(r);
    return v;
}

/* Poll base + path as token until "status" is one of want ("completed|failed"). */
static json_t *wait_status(const char *base, const char *path, const char *token, const char *want)
{
    double end = now_s() + WAIT_S;
    while (now_s() < end) {
        struct th_resp r;
        long s = th_call(base, "GET", path, token, NULL, &r);
        json_t *v = s == 200 ? json_incref(r.json) : NULL;
        th_resp_free(&r);
        const char *status = str(v, "status");
        if (status[0] && strstr(want, status))
            return v;
        json_decref(v);
        sleep_ms(100);
    }
    fail_msg("%s did not reach %s within %d s", path, want, WAIT_S);
    return NULL;
}

/* POST /explanations as token; the id into id when 202. Returns the status. */
static long submit(const char *token, const char *body, char *id, struct th_resp *out)
{
    struct th_resp r;
    long s = call("POST", "/api/v1/explanations", token, body, &r);
    if (id && s == 202)
        snprintf(id, 64, "%s", str(r.json, "id"));
    if (out)
        *out = r;
    else
        th_resp_free(&r);
    return s;
}

/* Submit and wait for completion; the explanation's JSON (caller decrefs). */
static json_t *explain(const char *token, const char *body, char *id)
{
    struct th_resp r;
    long s = submit(token, body, id, &r);
    if (s != 202)
        fail_msg("submit %s: %ld %s", body, s, r.body);
    th_resp_free(&r);
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/explanations/%s", id);
    json_t *e = wait_status(xai->url, path, token, "completed|failed");
    if (strcmp(str(e, "status"), "completed") != 0)
        fail_msg("explanation %s ended %s: %s", id, str(e, "status"), str(e, "error"));
    return e;
}

/* GET .../results: the body (caller frees) and its parsed JSON (caller decrefs). */
static char *results(const char *id, const char *token, json_t **json)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/explanations/%s/results", id);
    struct th_resp r;
    long s = call("GET", path, token, NULL, &r);
    if (s != 200)
        fail_msg("results %s: %ld %s", id, s, r.body);
    char *body = strdup(r.body);
    *json = json_incref(r.json);
    th_resp_free(&r);
    return body;
}

static void assert_problem(const struct th_resp *r, long status, const char *field)
{
    if (status != 422 || !r->json)
        fail_msg("want 422 naming %s, got %ld: %s", field, status, r->body);
    assert_string_equal(str(r->json, "error"), "validation_failed");
    const json_t *f = json_object_get(
        json_array_get(json_object_get(json_object_get(r->json, "details"), "fields"), 0), "field");
    if (!json_is_string(f) || strncmp(json_string_value(f), field, strlen(field)) != 0)
        fail_msg("want a problem with %s: %s", field, r->body);
}

static int is_petal(const char *name)
{
    return strncmp(name, "petal", 5) == 0;
}

/* ------------------------------------------------------------------ set-up */

static char env[4][300];
static const char *const xai_env[] = {env[0],
                                      env[1],
                                      llm_url,
                                      "IBX_XAI_LLM_MODEL=test-llm",
                                      "IBX_XAI_LEASE_S=5",
                                      "IBX_XAI_SWEEP_S=1",
                                      "IBX_XAI_REPUBLISH_S=2",
                                      "IBX_XAI_PROGRESS_MS=20",
                                      NULL};

static int upload_iris(const char *base, const char *token, const char *name, char *id)
{
    size_t len = 0;
    char *iris = read_file("tests/fixtures/iris.csv", &len), meta[160];
    struct th_form f = {0};
    snprintf(meta, sizeof(meta), "{\"display_name\":\"%s\",\"access\":\"private\"}", name);
    th_form_field(&f, "metadata", meta);
    th_form_file(&f, "files", "iris.csv", iris, len);
    th_form_end(&f);
    struct th_resp r;
    long s = iris ? th_form_post(base, "/api/v1/datasets", token, &f, &r) : -1;
    th_form_free(&f);
    free(iris);
    if (s == 201)
        snprintf(id, 64, "%s", str(r.json, "id"));
    else if (s > 0)
        fprintf(stderr, "upload: %ld %s\n", s, r.body);
    if (s > 0)
        th_resp_free(&r);
    return s == 201 ? 0 : -1;
}

/* Train on iris through base as token; the experiment id into id. */
static int train(const char *base, const char *token, const char *dataset, const char *alg,
                 char *id)
{
    char body[512], path[128];
    snprintf(body, sizeof(body),
             "{\"dataset_id\":\"%s\",\"target_column\":\"target\",\"algorithm\":\"%s\","
             "\"hyperparameters\":%s,\"test_size\":0.2,\"random_state\":42}",
             dataset, alg,
             strcmp(alg, "random_forest") == 0 ? "{\"n_estimators\":50,\"max_depth\":6}" : "{}");
    struct th_resp r;
    long s = th_call(base, "POST", "/api/v1/experiments", token, body, &r);
    if (s != 202) {
        fprintf(stderr, "train: %ld %s\n", s, r.body);
        th_resp_free(&r);
        return -1;
    }
    snprintf(id, 64, "%s", str(r.json, "id"));
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/experiments/%s", id);
    json_t *e = wait_status(base, path, token, "completed|failed");
    int ok = strcmp(str(e, "status"), "completed") == 0;
    json_decref(e);
    return ok ? 0 : -1;
}

static int setup(void **state)
{
    if (ids_init() != 0 || llm_start() != 0 || th_stack_start(&st) != 0)
        return -1;
    sel = th_service_start(&st, "selection", NULL);
    if (!sel || auth_keys_new_hs256(st.jwt_secret, &keys) != 0)
        return -1;
    snprintf(env[0], sizeof(env[0]), "IBX_SELECTION_URL=%s", sel->url);
    const char *const pl_env[] = {env[0], "IBX_PIPELINE_SWEEP_S=1", NULL};
    pl = th_service_start(&st, "ml-pipeline", pl_env);
    plw = th_service_start(&st, "ml-pipeline-worker", pl_env);
    if (!pl || !plw)
        return -1;
    snprintf(env[1], sizeof(env[1]), "IBX_PIPELINE_URL=%s", pl->url);
    xai = th_service_start(&st, "xai-engine", xai_env);
    xaiw = th_service_start(&st, "xai-engine-worker", xai_env);
    pg = PQconnectdb(st.db_url);
    if (!xai || !xaiw || PQstatus(pg) != CONNECTION_OK)
        return -1;
    ids_uuid4(alice_id);
    alice = mint(alice_id, NULL);
    alice_expert = mint(alice_id, "expert");
    bob = mint(NULL, "novice");
    if (upload_iris(sel->url, alice, "Iris", iris_id) != 0)
        return -1;
    return train(pl->url, alice, iris_id, "random_forest", forest_id);
}

static int teardown(void **state)
{
    free(alice);
    free(alice_expert);
    free(bob);
    PQfinish(pg);
    auth_keys_free(keys);
    int rc = th_stack_stop(&st);
    http_server_stop(llm, 1000);
    return rc == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ tests */

static void global_body(char *out, size_t n, const char *method, const char *type,
                        const char *audience, const char *lang)
{
    snprintf(out, n,
             "{\"experiment_id\":\"%s\",\"explanation_type\":\"%s\",\"method\":\"%s\","
             "\"audience_level\":\"%s\",\"language\":\"%s\"}",
             forest_id, type, method, audience, lang);
}

/* The SSE events of a body: names and progress values, in order. */
static int sse_parse(const char *body, char names[][16], int *progress, int max)
{
    int n = 0;
    for (const char *p = strstr(body, "event: "); p && n < max; p = strstr(p + 1, "event: ")) {
        size_t l = strcspn(p + 7, "\n");
        snprintf(names[n], 16, "%.*s", (int)l, p + 7);
        const char *d = strstr(p, "data: ");
        json_t *v = d ? json_loadb(d + 6, strcspn(d + 6, "\n"), 0, NULL) : NULL;
        progress[n++] = (int)json_integer_value(json_object_get(v, "progress"));
        json_decref(v);
    }
    return n;
}

static void test_global_shap_auto(void **state)
{
    char body[512], url[256], auth[4200];
    global_body(body, sizeof(body), "auto", "global", "intermediate", "en");
    struct th_resp r;
    assert_int_equal(submit(alice, body, global_id, &r), 202);
    assert_string_equal(str(r.json, "method_used"), "tree_shap");
    assert_non_null(strstr(str(r.json, "method_reason"), "decision trees"));
    assert_string_equal(str(r.json, "audience_source"), "request");
    th_resp_free(&r);
    /* follow the progress as Server-Sent Events until the end */
    snprintf(url, sizeof(url), "%s/api/v1/explanations/%s/events", xai->url, global_id);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", alice);
    const char *hdrs[] = {auth, NULL};
    assert_int_equal(th_http("GET", url, hdrs, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    char names[128][16] = {{0}};
    int progress[128] = {0};
    int n = sse_parse(r.body, names, progress, 128);
    assert_true(n >= 2);
    for (int i = 1; i < n; i++)
        assert_true(progress[i] >= progress[i - 1]);
    assert_string_equal(names[n - 1], "completed");
    assert_int_equal(progress[n - 1], 100);
    th_resp_free(&r);
    json_t *res = NULL;
    char *text = results(global_id, alice, &res);
    const json_t *rank = json_object_get(res, "ranking");
    assert_int_equal(json_array_size(rank), 4);
    const char *first = str(json_array_get(rank, 0), "feature");
    const char *second = str(json_array_get(rank, 1), "feature");
    if (!is_petal(first) || !is_petal(second))
        fail_msg("petal features should rank first: %s, %s", first, second);
    double resid =
        json_number_value(json_object_get(json_object_get(res, "additivity"), "max_abs_residual"));
    assert_true(resid < 1e-9);
    assert_true(json_is_true(json_object_get(res, "exact")));
    assert_string_equal(str(res, "method"), "tree_shap");
    assert_int_equal(strlen(str(res, "model_sha256")), 64);
    assert_true(strlen(str(res, "dataset_version")) > 0);
    assert_int_equal(json_integer_value(json_object_get(res, "seed")), 0);
    assert_string_equal(str(json_object_get(res, "data"), "split"), "experiment");
    const json_t *bee = json_object_get(res, "beeswarm");
    assert_int_equal(json_array_size(json_object_get(bee, "shap")), 150);
    assert_int_equal(json_array_size(json_array_get(json_object_get(bee, "shap"), 0)), 4);
    assert_int_equal(json_object_size(json_object_get(res, "base_values")), 3);
    const char *nar = str(json_object_get(res, "narrative"), "text");
    assert_non_null(strstr(nar, first));
    assert_non_null(json_object_get(json_object_get(res, "metrics"), "accuracy"));
    free(text);
    json_decref(res);
}

static void test_same_request_same_bytes(void **state)
{
    char body[512], id[64];
    global_body(body, sizeof(body), "auto", "global", "intermediate", "en");
    json_decref(explain(alice, body, id));
    json_t *a = NULL, *b = NULL;
    char *first = results(global_id, alice, &a), *second = results(id, alice, &b);
    assert_string_equal(first, second);
    json_t *e1 = NULL, *e2 = NULL;
    struct th_resp r;
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/explanations/%s", global_id);
    assert_int_equal(call("GET", path, alice, NULL, &r), 200);
    e1 = json_incref(r.json);
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/explanations/%s", id);
    assert_int_equal(call("GET", path, alice, NULL, &r), 200);
    e2 = json_incref(r.json);
    th_resp_free(&r);
    assert_string_equal(str(e1, "result_sha256"), str(e2, "result_sha256"));
    free(first);
    free(second);
    json_decref(a);
    json_decref(b);
    json_decref(e1);
    json_decref(e2);
}

static void test_narratives(void **state)
{
    static const char *const aud[] = {"novice", "intermediate", "expert"};
    static const double words[] = {180, 280, 320};
    static const char *const lang[] = {"en", "fr"};
    json_t *res = NULL;
    char *text = results(global_id, alice, &res);
    const char *top = str(json_array_get(json_object_get(res, "ranking"), 0), "feature");
    for (int l = 0; l < 2; l++) {
        for (int a = 0; a < 3; a++) {
            char path[256];
            snprintf(path, sizeof(path),
                     "/api/v1/explanations/%s/narrative?audience_level=%s&language=%s", global_id,
                     aud[a], lang[l]);
            struct th_resp r;
            assert_int_equal(call("GET", path, alice, NULL, &r), 200);
            json_int_t w = json_integer_value(json_object_get(r.json, "words"));
            print_message("narrative %s %s: %lld words\n", lang[l], aud[a], (long long)w);
            if ((double)w < 0.6 * words[a] || (double)w > 1.4 * words[a])
                fail_msg("%s %s: %lld words, want about %.0f", lang[l], aud[a], (long long)w,
                         words[a]);
            assert_non_null(strstr(str(r.json, "text"), top));
            if (getenv("XAI_PRINT_NARRATIVES"))
                print_message("%s\n\n", str(r.json, "text"));
            th_resp_free(&r);
        }
    }
    struct th_resp r;
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/explanations/%s/narrative?language=de", global_id);
    assert_int_equal(call("GET", path, alice, NULL, &r), 400);
    th_resp_free(&r);
    free(text);
    json_decref(res);
}

static void test_local_lime_row0(void **state)
{
    char body[512], id[64];
    snprintf(body, sizeof(body),
             "{\"experiment_id\":\"%s\",\"explanation_type\":\"local\",\"method\":\"lime\","
             "\"instance_index\":0,\"language\":\"fr\",\"audience_level\":\"novice\","
             "\"options\":{\"seed\":7,\"nsamples\":2000}}",
             forest_id);
    json_t *e = explain(alice, body, id);
    assert_string_equal(str(e, "method_used"), "lime");
    json_decref(e);
    json_t *res = NULL;
    char *text = results(id, alice, &res);
    const json_t *loc = json_object_get(res, "local");
    assert_int_equal(json_integer_value(json_object_get(loc, "row")), 0);
    assert_string_equal(str(json_object_get(loc, "prediction"), "label"), "0");
    const json_t *c0 = json_array_get(json_object_get(loc, "contributions"), 0);
    assert_true(strlen(str(c0, "condition")) > 0);
    assert_true(json_is_number(json_object_get(c0, "value")));
    double score = json_number_value(json_object_get(json_object_get(loc, "lime"), "score"));
    assert_true(score > 0 && score <= 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(res, "parameters"), "nsamples")), 2000);
    const char *nar = str(json_object_get(res, "narrative"), "text");
    assert_non_null(strstr(nar, str(c0, "feature")));
    assert_non_null(strstr(nar, "jury"));
    free(text);
    json_decref(res);
}

static void test_local_instance_shap(void **state)
{
    char body[768], id[64];
    snprintf(body, sizeof(body),
             "{\"experiment_id\":\"%s\",\"explanation_type\":\"local\",\"instance\":{"
             "\"sepal length (cm)\":6.9,\"sepal width (cm)\":3.1,\"petal length (cm)\":5.4,"
             "\"petal width (cm)\":2.1},\"language\":\"en\"}",
             forest_id);
    json_t *e = explain(alice, body, id);
    assert_string_equal(str(e, "method_used"), "tree_shap");
    json_decref(e);
    json_t *res = NULL;
    char *text = results(id, alice, &res);
    const json_t *loc = json_object_get(res, "local");
    assert_true(json_is_null(json_object_get(loc, "row")));
    assert_string_equal(str(json_object_get(loc, "prediction"), "label"), "2");
    assert_string_equal(str(loc, "output"), "2");
    assert_true(fabs(json_number_value(json_object_get(loc, "residual"))) < 1e-9);
    assert_true(is_petal(str(json_array_get(json_object_get(loc, "contributions"), 0), "feature")));
    free(text);
    json_decref(res);
}

static void test_permutation(void **state)
{
    char body[512], id[64];
    global_body(body, sizeof(body), "permutation", "feature_importance", "expert", "en");
    json_decref(explain(alice, body, id));
    json_t *res = NULL;
    char *text = results(id, alice, &res);
    const json_t *rank = json_object_get(res, "ranking");
    assert_true(is_petal(str(json_array_get(rank, 0), "feature")));
    assert_true(json_is_number(json_object_get(json_array_get(rank, 0), "sd")));
    assert_string_equal(str(res, "ranking_measure"), "permutation_accuracy_drop");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(res, "permutation"), "rows")), 30);
    free(text);
    json_decref(res);
}

static void test_pdp(void **state)
{
    char body[512], id[64];
    snprintf(body, sizeof(body),
             "{\"experiment_id\":\"%s\",\"explanation_type\":\"global\",\"method\":\"pdp\","
             "\"options\":{\"features\":[\"petal length (cm)\"],\"grid_points\":10,"
             "\"ice_rows\":5}}",
             forest_id);
    json_decref(explain(alice, body, id));
    json_t *res = NULL;
    char *text = results(id, alice, &res);
    const json_t *cv = json_array_get(json_object_get(res, "pdp"), 0);
    assert_string_equal(str(cv, "feature"), "petal length (cm)");
    const json_t *grid = json_object_get(cv, "grid");
    assert_int_equal(json_array_size(grid), 10);
    double lo = json_number_value(json_array_get(grid, 0)),
           hi = json_number_value(json_array_get(grid, 9));
    assert_true(lo >= 1.0 && hi <= 6.9 && lo < hi); /* in centimetres, not scaled units */
    assert_int_equal(json_array_size(json_object_get(json_object_get(cv, "average"), "2")), 10);
    assert_int_equal(json_array_size(json_object_get(json_object_get(cv, "ice"), "rows")), 5);
    /* the probability of class 2 grows with the petal length */
    assert_string_equal(str(json_object_get(cv, "trend"), "2"), "rising");
    free(text);
    json_decref(res);
}

static void test_validation(void **state)
{
    char body[768];
    struct th_resp r;
    snprintf(body, sizeof(body), "{\"explanation_type\":\"global\"}");
    assert_problem(&r, submit(alice, body, NULL, &r), "experiment_id");
    th_resp_free(&r);
    snprintf(body, sizeof(body), "{\"experiment_id\":\"%s\",\"explanation_type\":\"world\"}",
             forest_id);
    assert_problem(&r, submit(alice, body, NULL, &r), "explanation_type");
    th_resp_free(&r);
    snprintf(body, sizeof(body), "{\"experiment_id\":\"%s\",\"explanation_type\":\"local\"}",
             forest_id);
    assert_problem(&r, submit(alice, body, NULL, &r), "instance");
    th_resp_free(&r);
    snprintf(body, sizeof(body),
             "{\"experiment_id\":\"%s\",\"explanation_type\":\"local\",\"instance\":{\"petal "
             "length (cm)\":1.4,\"colour\":\"red\"}}",
             forest_id);
    assert_problem(&r, submit(alice, body, NULL, &r), "instance.");
    th_resp_free(&r);
    snprintf(body, sizeof(body),
             "{\"experiment_id\":\"%s\",\"explanation_type\":\"local\",\"instance_index\":150}",
             forest_id);
    assert_problem(&r, submit(alice, body, NULL, &r), "instance_index");
    th_resp_free(&r);
    snprintf(body, sizeof(body),
             "{\"experiment_id\":\"%s\",\"explanation_type\":\"local\",\"method\":"
             "\"permutation\",\"instance_index\":1}",
             forest_id);
    assert_problem(&r, submit(alice, body, NULL, &r), "method");
    th_resp_free(&r);
    snprintf(body, sizeof(body),
             "{\"experiment_id\":\"%s\",\"explanation_type\":\"global\",\"options\":{"
             "\"nsamples\":1}}",
             forest_id);
    assert_problem(&r, submit(alice, body, NULL, &r), "options.nsamples");
    th_resp_free(&r);
    snprintf(body, sizeof(body),
             "{\"experiment_id\":\"%s\",\"explanation_type\":\"global\",\"options\":{"
             "\"colour\":1}}",
             forest_id);
    assert_problem(&r, submit(alice, body, NULL, &r), "options.colour");
    th_resp_free(&r);
    snprintf(body, sizeof(body),
             "{\"experiment_id\":\"%s\",\"explanation_type\":\"global\",\"method\":\"pdp\","
             "\"options\":{\"features\":[\"colour\"]}}",
             forest_id);
    assert_problem(&r, submit(alice, body, NULL, &r), "options.features");
    th_resp_free(&r);
    snprintf(body, sizeof(body),
             "{\"experiment_id\":\"%s\",\"explanation_type\":\"global\",\"language\":\"de\"}",
             forest_id);
    assert_problem(&r, submit(alice, body, NULL, &r), "language");
    th_resp_free(&r);
    /* bob cannot explain alice's experiment; an unknown experiment is named */
    global_body(body, sizeof(body), "auto", "global", "novice", "en");
    assert_problem(&r, submit(bob, body, NULL, &r), "experiment_id");
    th_resp_free(&r);
    snprintf(body, sizeof(body),
             "{\"experiment_id\":\"0b6c5a43-5d8e-4f57-9b8e-2f1f4c3a7e11\",\"explanation_type\":"
             "\"global\"}");
    assert_problem(&r, submit(alice, body, NULL, &r), "experiment_id");
    th_resp_free(&r);
    assert_int_equal(call("POST", "/api/v1/explanations", alice, "[1", &r), 400);
    th_resp_free(&r);
}

static void test_audience_from_token(void **state)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"experiment_id\":\"%s\",\"explanation_type\":\"global\",\"options\":{"
             "\"max_rows\":10}}",
             forest_id);
    struct th_resp r;
    assert_int_equal(submit(alice_expert, body, NULL, &r), 202);
    assert_string_equal(str(r.json, "audience_level"), "expert");
    assert_string_equal(str(r.json, "audience_source"), "profile");
    th_resp_free(&r);
    assert_int_equal(submit(alice, body, NULL, &r), 202);
    assert_string_equal(str(r.json, "audience_level"), "novice");
    assert_string_equal(str(r.json, "audience_source"), "default");
    th_resp_free(&r);
}

static void test_ownership(void **state)
{
    static const char *const gets[] = {"", "/results", "/events", "/narrative"};
    struct th_resp r;
    char path[160];
    for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
        snprintf(path, sizeof(path), "/api/v1/explanations/%s%s", global_id, gets[i]);
        assert_int_equal(call("GET", path, bob, NULL, &r), 404);
        assert_string_equal(str(r.json, "error"), "not_found");
        th_resp_free(&r);
    }
    snprintf(path, sizeof(path), "/api/v1/explanations/%s/chat", global_id);
    assert_int_equal(call("POST", path, bob, NULL, &r), 404);
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/explanations/%s", global_id);
    assert_int_equal(call("DELETE", path, bob, NULL, &r), 404);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/explanations", bob, NULL, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total_count")), 0);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/explanations?status=completed", alice, NULL, &r), 200);
    assert_true(json_integer_value(json_object_get(r.json, "total_count")) >= 6);
    assert_null(
        json_object_get(json_array_get(json_object_get(r.json, "explanations"), 0), "result"));
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/explanations?status=sleeping", alice, NULL, &r), 400);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/explanations/not-a-uuid", alice, NULL, &r), 404);
    th_resp_free(&r);
}

/* With the worker stopped: an Idempotency-Key answers the first explanation again, the
 * sixth pending explanation is refused; a new worker then takes them all. */
static void test_idempotency_and_limit(void **state)
{
    double end = now_s() + WAIT_S; /* the earlier tests' explanations are done */
    while (now_s() < end && sql_long("SELECT count(*) FROM xai.explanations WHERE user_id = "
                                     "$1::uuid AND status IN ('pending', 'running')",
                                     alice_id) != 0)
        sleep_ms(100);
    assert_int_equal(th_service_stop(xaiw), 0);
    char body[512], other[512], ids[5][64], key[] = "Idempotency-Key: xai-test-1";
    char url[256], auth[4200];
    global_body(body, sizeof(body), "auto", "feature_importance", "novice", "en");
    global_body(other, sizeof(other), "auto", "feature_importance", "expert", "en");
    snprintf(url, sizeof(url), "%s/api/v1/explanations", xai->url);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", alice);
    const char *hdrs[] = {auth, key, "Content-Type: application/json", NULL};
    struct th_resp r;
    assert_int_equal(th_http("POST", url, hdrs, body, &r), 0);
    assert_int_equal(r.status, 202);
    snprintf(ids[0], sizeof(ids[0]), "%s", str(r.json, "id"));
    th_resp_free(&r);
    assert_int_equal(th_http("POST", url, hdrs, body, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "id"), ids[0]);
    char replay[16] = "";
    assert_int_equal(th_resp_header(&r, "Idempotent-Replayed", replay, sizeof(replay)), 0);
    th_resp_free(&r);
    assert_int_equal(th_http("POST", url, hdrs, other, &r), 0);
    assert_int_equal(r.status, 422);
    assert_string_equal(str(r.json, "error"), "idempotency_key_reused");
    th_resp_free(&r);
    for (int i = 1; i < 5; i++)
        assert_int_equal(submit(alice, body, ids[i], NULL), 202);
    assert_int_equal(submit(alice, body, NULL, &r), 429);
    assert_string_equal(str(r.json, "error"), "too_many_explanations");
    th_resp_free(&r);
    xaiw = th_service_start(&st, "xai-engine-worker", xai_env);
    assert_non_null(xaiw);
    for (int i = 0; i < 5; i++) {
        char path[512];
        snprintf(path, sizeof(path), "/api/v1/explanations/%s", ids[i]);
        json_t *e = wait_status(xai->url, path, alice, "completed|failed");
        assert_string_equal(str(e, "status"), "completed");
        json_decref(e);
    }
}

static char session_id[64];

static long ask(const char *token, const char *session, const char *question, struct th_resp *r)
{
    char path[160], body[256];
    snprintf(path, sizeof(path), "/api/v1/chat/%s/ask", session);
    snprintf(body, sizeof(body), "{\"question\":\"%s\"}", question);
    return call("POST", path, token, body, r);
}

static void test_chat(void **state)
{
    char path[160];
    struct th_resp r;
    snprintf(path, sizeof(path), "/api/v1/explanations/%s/chat", global_id);
    assert_int_equal(call("POST", path, alice, NULL, &r), 201);
    snprintf(session_id, sizeof(session_id), "%s", str(r.json, "id"));
    assert_int_equal(json_integer_value(json_object_get(r.json, "max_questions")), 5);
    th_resp_free(&r);
    assert_int_equal(call("POST", path, alice, NULL, &r), 200); /* the same session */
    assert_string_equal(str(r.json, "id"), session_id);
    th_resp_free(&r);
    /* the language model is unavailable: 503, and the question does not count */
    atomic_store(&llm_mode, 1);
    assert_int_equal(ask(alice, session_id, "Which feature matters most?", &r), 503);
    assert_string_equal(str(r.json, "error"), "llm_unavailable");
    assert_non_null(strstr(str(r.json, "message"), "not counted"));
    th_resp_free(&r);
    atomic_store(&llm_mode, 0);
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(ask(alice, session_id, "Which feature matters most?", &r), 200);
        assert_non_null(strstr(str(r.json, "answer"), "petal"));
        assert_int_equal(json_integer_value(json_object_get(r.json, "questions_asked")), i);
        assert_int_equal(json_integer_value(json_object_get(r.json, "remaining_questions")), 5 - i);
        th_resp_free(&r);
        /* system, the previous turns, the question */
        assert_int_equal(atomic_load(&llm_last_messages), 1 + 2 * (i - 1) + 1);
    }
    assert_int_equal(ask(alice, session_id, "One more?", &r), 429);
    assert_string_equal(str(r.json, "error"), "question_limit");
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/chat/%s/messages", session_id);
    assert_int_equal(call("GET", path, alice, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "messages")), 10);
    assert_string_equal(str(json_array_get(json_object_get(r.json, "messages"), 1), "role"),
                        "assistant");
    th_resp_free(&r);
    assert_int_equal(call("GET", path, bob, NULL, &r), 404);
    th_resp_free(&r);
    assert_int_equal(ask(bob, session_id, "Mine?", &r), 404);
    th_resp_free(&r);
    assert_int_equal(call("POST", "/api/v1/chat/x/ask", alice, "{\"question\":\"?\"}", &r), 404);
    th_resp_free(&r);
}

static void test_chat_without_llm(void **state)
{
    const char *const env_nollm[] = {env[0], env[1], "IBX_XAI_SWEEP_S=1", NULL};
    xai_nollm = th_service_start(&st, "xai-engine", env_nollm);
    assert_non_null(xai_nollm);
    char path[160], id[64];
    struct th_resp r;
    /* a second explanation of alice's with its own session, through the API without LLM */
    char body[512];
    global_body(body, sizeof(body), "shap", "feature_importance", "novice", "fr");
    json_decref(explain(alice, body, id));
    snprintf(path, sizeof(path), "/api/v1/explanations/%s/chat", id);
    assert_int_equal(th_call(xai_nollm->url, "POST", path, alice, NULL, &r), 201);
    assert_false(json_is_true(json_object_get(r.json, "llm_available")));
    char sid[64];
    snprintf(sid, sizeof(sid), "%s", str(r.json, "id"));
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/chat/%s/ask", sid);
    assert_int_equal(th_call(xai_nollm->url, "POST", path, alice, "{\"question\":\"Why?\"}", &r),
                     503);
    assert_string_equal(str(r.json, "error"), "llm_unavailable");
    assert_non_null(strstr(str(r.json, "message"), "IBX_XAI_LLM_MODEL"));
    th_resp_free(&r);
    assert_int_equal(th_call(xai_nollm->url, "POST", path, alice, "{\"question\":\"\"}", &r), 422);
    th_resp_free(&r);
    assert_int_equal(th_call(xai_nollm->url, "POST", path, alice, "{\"q\":\"Why?\"}", &r), 422);
    th_resp_free(&r);
    assert_int_equal(
        sql_long("SELECT questions_count FROM xai.chat_sessions WHERE id = $1::uuid", sid), 0);
}

static void test_delete(void **state)
{
    char body[512], id[64], path[160];
    global_body(body, sizeof(body), "auto", "global", "novice", "en");
    json_decref(explain(alice, body, id));
    snprintf(path, sizeof(path), "/api/v1/explanations/%s/chat", id);
    struct th_resp r;
    assert_int_equal(call("POST", path, alice, NULL, &r), 201);
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/explanations/%s/cancel", id);
    assert_int_equal(call("POST", path, alice, NULL, &r), 409);
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/explanations/%s", id);
    assert_int_equal(call("DELETE", path, alice, NULL, &r), 200);
    th_resp_free(&r);
    assert_int_equal(call("GET", path, alice, NULL, &r), 404);
    th_resp_free(&r);
    assert_int_equal(
        sql_long("SELECT count(*) FROM xai.chat_sessions WHERE explanation_id = $1::uuid", id), 0);
}

/* As a new user would: sign up at the gateway, set the profile's AI familiarity, upload
 * iris, train a decision tree and ask for an explanation without an audience level: the
 * gateway's internal token says "expert". The chat goes through the gateway too. */
static void test_through_gateway(void **state)
{
    snprintf(env[2], sizeof(env[2]), "IBX_XAI_URL=%s", xai->url);
    snprintf(env[3], sizeof(env[3]), "IBX_WEB_DIR=%s", st.dir);
    const char *const gw_env[] = {env[0], env[1], env[2], env[3], NULL};
    gw = th_service_start(&st, "gateway", gw_env);
    assert_non_null(gw);
    struct th_resp r;
    const char *signup = "{\"email\":\"erin@example.com\",\"password\":\"xai-pass-123\"}";
    assert_int_equal(th_call(gw->url, "POST", "/api/v1/auth/register", NULL, signup, &r), 201);
    char access[2048], ds[64], exp[64], id[64], body[512], path[160];
    snprintf(access, sizeof(access), "%s", str(r.json, "access_token"));
    th_resp_free(&r);
    assert_int_equal(
        th_call(gw->url, "PATCH", "/api/v1/users/me", access, "{\"ai_familiarity\":4}", &r), 200);
    th_resp_free(&r);
    assert_int_equal(upload_iris(gw->url, access, "Erin iris", ds), 0);
    assert_int_equal(train(gw->url, access, ds, "decision_tree", exp), 0);
    snprintf(body, sizeof(body), "{\"experiment_id\":\"%s\",\"explanation_type\":\"global\"}", exp);
    assert_int_equal(th_call(gw->url, "POST", "/api/v1/explanations", access, body, &r), 202);
    assert_string_equal(str(r.json, "audience_level"), "expert");
    assert_string_equal(str(r.json, "audience_source"), "profile");
    snprintf(id, sizeof(id), "%s", str(r.json, "id"));
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/explanations/%s", id);
    json_decref(wait_status(gw->url, path, access, "completed"));
    snprintf(path, sizeof(path), "/api/v1/explanations/%s/chat", id);
    assert_int_equal(th_call(gw->url, "POST", path, access, NULL, &r), 201);
    char sp[160];
    snprintf(sp, sizeof(sp), "/api/v1/chat/%s/ask", str(r.json, "id"));
    th_resp_free(&r);
    assert_int_equal(th_call(gw->url, "POST", sp, access, "{\"question\":\"Why?\"}", &r), 200);
    assert_non_null(strstr(str(r.json, "answer"), "petal"));
    th_resp_free(&r);
}

static void test_erasure(void **state)
{
    assert_true(
        sql_long("SELECT count(*) FROM xai.explanations WHERE user_id = $1::uuid", alice_id) > 0);
    /* the data-rights export first: explanations with their results, chats with messages */
    char path[160];
    struct th_resp r;
    snprintf(path, sizeof(path), "/internal/users/%s/export", alice_id);
    assert_int_equal(call("GET", path, alice, NULL, &r), 200);
    const json_t *ex = json_object_get(r.json, "explanations");
    assert_true(json_array_size(ex) >= 6);
    assert_null(json_object_get(json_array_get(ex, 0), "request_hash"));
    assert_true(json_is_object(json_object_get(json_array_get(ex, 0), "result")));
    const json_t *chats = json_object_get(r.json, "chat_sessions");
    assert_true(json_array_size(chats) >= 1);
    assert_int_equal(json_array_size(json_object_get(json_array_get(chats, 0), "messages")), 10);
    th_resp_free(&r);
    struct bus *b = NULL;
    assert_int_equal(bus_new(st.brokers, "test-xai", &b), 0);
    json_t *v = json_pack("{s:s, s:s}", "type", "user.deleted", "user_id", alice_id);
    assert_int_equal(bus_publish_sync(b, BUS_TOPIC_USER_EVENTS, alice_id, v, 10000), 0);
    json_decref(v);
    bus_free(b);
    double end = now_s() + WAIT_S;
    while (now_s() < end &&
           sql_long("SELECT count(*) FROM xai.explanations WHERE user_id = $1::uuid", alice_id) > 0)
        sleep_ms(100);
    assert_int_equal(
        sql_long("SELECT count(*) FROM xai.explanations WHERE user_id = $1::uuid", alice_id), 0);
    assert_int_equal(
        sql_long("SELECT count(*) FROM xai.chat_sessions WHERE user_id = $1::uuid", alice_id), 0);
    assert_int_equal(
        sql_long("SELECT count(*) FROM xai.chat_messages WHERE user_id = $1::uuid", alice_id), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_global_shap_auto),
        cmocka_unit_test(test_same_request_same_bytes),
        cmocka_unit_test(test_narratives),
        cmocka_unit_test(test_local_lime_row0),
        cmocka_unit_test(test_local_instance_shap),
        cmocka_unit_test(test_permutation),
        cmocka_unit_test(test_pdp),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_audience_from_token),
        cmocka_unit_test(test_ownership),
        cmocka_unit_test(test_idempotency_and_limit),
        cmocka_unit_test(test_chat),
        cmocka_unit_test(test_chat_without_llm),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_through_gateway),
        cmocka_unit_test(test_erasure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
