/* test_pipeline: the ml-pipeline experiments API and its Kafka worker against real
 * selection, pipeline API and worker processes: a decision tree on iris end to end
 * (results, SSE, model download), validation, ownership, the per-user limit, idempotency,
 * cancellation of a long run, and a worker killed in the middle of a training. */
#include "th_form.h"
#include "th_stack.h"
#include "th_tokens.h"

#include <ibx/auth.h>
#include <ibx/bus.h>
#include <ibx/ids.h>
#include <ibx/model.h>

#include <libpq-fe.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#define WAIT_S 120 /* bound on any wait for a run (slow sanitizer builds on shared CPUs) */

static struct th_stack st;
static struct th_svc *sel, *api, *worker;
static struct auth_keys *keys;
static PGconn *pg;
static char *alice, *bob, *carol, *admin;
static char iris_id[64], big_id[64];

static char *mint(const char *role)
{
    struct auth_claims c = {0};
    ids_uuid4(c.sub);
    snprintf(c.role, sizeof(c.role), "%s", role);
    snprintf(c.iss, sizeof(c.iss), "ibx-gateway");
    snprintf(c.aud, sizeof(c.aud), "ibx-internal");
    snprintf(c.typ, sizeof(c.typ), "internal");
    char *tok = NULL;
    if (th_issue(keys, &c, 3600, &tok) != 0)
        return NULL;
    return tok;
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

/* Upload a CSV as alice (access: private or public); the dataset id into id. */
static int upload_csv(const char *name, const char *access, const char *csv, size_t len, char *id,
                      size_t n)
{
    struct th_form f = {0};
    char meta[256];
    snprintf(meta, sizeof(meta), "{\"display_name\":\"%s\",\"access\":\"%s\"}", name, access);
    th_form_field(&f, "metadata", meta);
    th_form_file(&f, "files", "data.csv", csv, len);
    th_form_end(&f);
    struct th_resp r;
    long status = th_form_post(sel->url, "/api/v1/datasets", alice, &f, &r);
    th_form_free(&f);
    const char *v = json_string_value(json_object_get(r.json, "id"));
    int ok = status == 201 && v;
    if (ok)
        snprintf(id, n, "%s", v);
    else
        fprintf(stderr, "upload %s: %ld %s\n", name, status, r.body);
    th_resp_free(&r);
    return ok ? 0 : -1;
}

/* A generated two-class table of rows x 10 features (a forest on it takes a while). */
static char *big_csv(size_t rows, size_t *len)
{
    size_t cap = rows * 120 + 200, off = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    off += (size_t)snprintf(s, cap, "f0,f1,f2,f3,f4,f5,f6,f7,f8,f9,label\n");
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < rows; i++) {
        double v[10], sum = 0;
        for (int j = 0; j < 10; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v[j] = (double)(x % 100000) / 1000.0;
            sum += (j % 3 == 0 ? 1 : -0.5) * v[j];
        }
        for (int j = 0; j < 10; j++)
            off += (size_t)snprintf(s + off, cap - off, "%.3f,", v[j]);
        off += (size_t)snprintf(s + off, cap - off, "%s\n",
                                sum + (double)(x % 40) > 20 ? "yes" : "no");
    }
    *len = off;
    return s;
}

/* The pipeline's settings for API and workers alike (the lease is shared). */
static char sel_url[128];
static const char *const pl_env[] = {sel_url,
                                     "IBX_PIPELINE_LEASE_S=3",
                                     "IBX_PIPELINE_SWEEP_S=1",
                                     "IBX_PIPELINE_REPUBLISH_S=5",
                                     "IBX_PIPELINE_PROGRESS_MS=50",
                                     NULL};

static int setup(void **state)
{
    if (ids_init() != 0 || th_stack_start(&st) != 0)
        return -1;
    sel = th_service_start(&st, "selection", NULL);
    if (!sel || auth_keys_new_hs256(st.jwt_secret, &keys) != 0)
        return -1;
    snprintf(sel_url, sizeof(sel_url), "IBX_SELECTION_URL=%s", sel->url);
    const char *const *env = pl_env;
    api = th_service_start(&st, "ml-pipeline", env);
    worker = th_service_start(&st, "ml-pipeline-worker", env);
    pg = PQconnectdb(st.db_url);
    if (!api || !worker || PQstatus(pg) != CONNECTION_OK)
        return -1;
    alice = mint("user");
    bob = mint("user");
    carol = mint("user");
    admin = mint("admin");
    size_t len = 0;
    char *iris = read_file("tests/fixtures/iris.csv", &len);
    int rc = iris ? upload_csv("Iris", "private", iris, len, iris_id, sizeof(iris_id)) : -1;
    free(iris);
    char *big = rc == 0 ? big_csv(20000, &len) : NULL;
    rc = big ? upload_csv("Generated", "public", big, len, big_id, sizeof(big_id)) : -1;
    free(big);
    return rc;
}

static int teardown(void **state)
{
    free(alice);
    free(bob);
    free(carol);
    free(admin);
    PQfinish(pg);
    auth_keys_free(keys);
    return th_stack_stop(&st) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ helpers */

static long call(const char *method, const char *path, const char *token, const char *body,
                 struct th_resp *r)
{
    return th_call(api->url, method, path, token, body, r);
}

/* POST /experiments as token; the new id into id (when 202). Returns the status. */
static long submit(const char *token, const char *body, char *id, size_t n)
{
    struct th_resp r;
    long s = call("POST", "/api/v1/experiments", token, body, &r);
    const char *v = json_string_value(json_object_get(r.json, "id"));
    if (id && v)
        snprintf(id, n, "%s", v);
    if (s != 202)
        fprintf(stderr, "submit: %ld %s\n", s, r.body);
    th_resp_free(&r);
    return s;
}

static void iris_body(char *out, size_t n, const char *algorithm, const char *hp)
{
    snprintf(out, n,
             "{\"dataset_id\":\"%s\",\"target_column\":\"target\",\"algorithm\":\"%s\","
             "\"hyperparameters\":%s,\"test_size\":0.2,\"random_state\":42}",
             iris_id, algorithm, hp);
}

static void forest_body(char *out, size_t n, int trees, int seed)
{
    snprintf(out, n,
             "{\"dataset_id\":\"%s\",\"target_column\":\"label\",\"algorithm\":"
             "\"random_forest\",\"hyperparameters\":{\"n_estimators\":%d,\"max_depth\":null},"
             "\"random_state\":%d}",
             big_id, trees, seed);
}

/* The run's JSON (caller decrefs) as token sees it. */
static json_t *get_run(const char *id, const char *token)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/experiments/%s", id);
    struct th_resp r;
    long s = call("GET", path, token, NULL, &r);
    json_t *v = s == 200 ? json_incref(r.json) : NULL;
    th_resp_free(&r);
    return v;
}

static const char *status_of(const json_t *run)
{
    const char *s = json_string_value(json_object_get(run, "status"));
    return s ? s : "";
}

/* Wait until the run reaches one of the statuses in want ("completed|failed"). */
static json_t *wait_status(const char *id, const char *token, const char *want, int seconds)
{
    double end = now_s() + seconds;
    while (now_s() < end) {
        json_t *run = get_run(id, token);
        if (run && strstr(want, status_of(run)) && status_of(run)[0])
            return run;
        json_decref(run);
        sleep_ms(100);
    }
    fail_msg("run %s did not reach %s within %d s", id, want, seconds);
    return NULL;
}

/* Wait until a run trains (running, in the training stage). */
static void wait_training(const char *id, const char *token)
{
    double end = now_s() + WAIT_S;
    while (now_s() < end) {
        json_t *run = get_run(id, token);
        const char *stage = json_string_value(json_object_get(run, "stage"));
        int ok = strcmp(status_of(run), "running") == 0 && stage && strcmp(stage, "training") == 0;
        json_decref(run);
        if (ok)
            return;
        sleep_ms(50);
    }
    fail_msg("run %s never reached the training stage", id);
}

static void assert_problem(const struct th_resp *r, long status, const char *field)
{
    if (status != 422 || !r->json)
        fail_msg("want 422 naming %s, got %ld: %s", field, status, r->body);
    assert_string_equal(json_string_value(json_object_get(r->json, "error")), "validation_failed");
    const json_t *f = json_object_get(
        json_array_get(json_object_get(json_object_get(r->json, "details"), "fields"), 0), "field");
    if (!json_is_string(f) || strncmp(json_string_value(f), field, strlen(field)) != 0)
        fail_msg("want a problem with %s: %s", field, r->body);
    assert_non_null(strstr(json_string_value(json_object_get(r->json, "message")), field));
}

/* ------------------------------------------------------------------ tests */

static void test_algorithms(void **state)
{
    struct th_resp r;
    assert_int_equal(call("GET", "/api/v1/algorithms", alice, NULL, &r), 200);
    const json_t *algs = json_object_get(r.json, "algorithms");
    int tree = 0;
    size_t i;
    const json_t *a;
    json_array_foreach(algs, i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "name")), "decision_tree") == 0)
            tree = json_array_size(json_object_get(a, "hyperparameters")) > 0;
    }
    assert_true(tree);
    th_resp_free(&r);
}

static void test_advice(void **state)
{
    char body[256];
    struct th_resp r;
    snprintf(body, sizeof(body), "{\"dataset_id\":\"%s\",\"target_column\":\"target\"}", iris_id);
    assert_int_equal(call("POST", "/api/v1/advice/task-type", alice, body, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "task_type")), "classification");
    assert_true(json_array_size(json_object_get(r.json, "reasons")) > 0);
    th_resp_free(&r);
    assert_int_equal(call("POST", "/api/v1/advice/algorithm", alice, body, &r), 200);
    const json_t *first = json_array_get(json_object_get(r.json, "ranking"), 0);
    assert_non_null(json_string_value(json_object_get(first, "algorithm")));
    assert_true(json_array_size(json_object_get(first, "reasons")) > 0);
    th_resp_free(&r);
    /* bob cannot see alice's private dataset; a missing column is named */
    assert_problem(&r, call("POST", "/api/v1/advice/task-type", bob, body, &r), "dataset_id");
    th_resp_free(&r);
    snprintf(body, sizeof(body), "{\"dataset_id\":\"%s\",\"target_column\":\"nope\"}", iris_id);
    assert_problem(&r, call("POST", "/api/v1/advice/algorithm", alice, body, &r), "target_column");
    th_resp_free(&r);
}

static char iris_run[64];

static void test_iris_decision_tree(void **state)
{
    char body[512];
    iris_body(body, sizeof(body), "decision_tree", "{\"max_depth\":5}");
    assert_int_equal(submit(alice, body, iris_run, sizeof(iris_run)), 202);
    json_t *run = wait_status(iris_run, alice, "completed|failed", WAIT_S);
    if (strcmp(status_of(run), "completed") != 0)
        fail_msg("iris run ended %s: %s", status_of(run),
                 json_string_value(json_object_get(run, "error")));
    assert_string_equal(json_string_value(json_object_get(run, "task_type")), "classification");
    assert_non_null(json_string_value(json_object_get(run, "task_type_reason")));
    assert_int_equal(json_integer_value(json_object_get(run, "progress")), 100);
    assert_int_equal(strlen(json_string_value(json_object_get(run, "model_sha256"))), 64);
    json_decref(run);
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/results", iris_run);
    struct th_resp r;
    assert_int_equal(call("GET", path, alice, NULL, &r), 200);
    double acc = json_number_value(json_object_get(json_object_get(r.json, "metrics"), "accuracy"));
    if (acc < 0.90 || acc > 0.97)
        fail_msg("iris accuracy %.4f is outside 0.90-0.97", acc);
    assert_non_null(json_object_get(r.json, "confusion_matrix"));
    assert_non_null(json_object_get(r.json, "tree"));
    th_resp_free(&r);
}

/* The events of an SSE body: names and progress values, in order. */
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

static void test_events_follow_progress(void **state)
{
    char body[512], id[64], path[160], url[256], auth[4200];
    forest_body(body, sizeof(body), 200, 1);
    assert_int_equal(submit(alice, body, id, sizeof(id)), 202);
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/events", id);
    snprintf(url, sizeof(url), "%s%s", api->url, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", alice);
    const char *hdrs[] = {auth, NULL};
    struct th_resp r;
    assert_int_equal(th_http("GET", url, hdrs, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    char names[256][16] = {{0}};
    int progress[256] = {0};
    int n = sse_parse(r.body, names, progress, 256);
    assert_true(n >= 3);
    int distinct = 1;
    for (int i = 1; i < n - 1; i++) {
        assert_true(progress[i] >= progress[i - 1]);
        distinct += progress[i] != progress[i - 1];
    }
    if (distinct < 3)
        fail_msg("too few progress steps (%d events): %s", n, r.body);
    assert_string_equal(names[n - 1], "completed");
    assert_int_equal(progress[n - 1], 100);
    th_resp_free(&r);
    /* a finished run: the final state at once, then the end */
    assert_int_equal(th_http("GET", url, hdrs, NULL, &r), 0);
    assert_int_equal(sse_parse(r.body, names, progress, 256), 1);
    assert_string_equal(names[0], "completed");
    th_resp_free(&r);
}

static void test_validation(void **state)
{
    char body[768];
    struct th_resp r;
    iris_body(body, sizeof(body), "deep_magic", "{}");
    assert_problem(&r, call("POST", "/api/v1/experiments", alice, body, &r), "algorithm");
    th_resp_free(&r);
    iris_body(body, sizeof(body), "decision_tree", "{\"max_depth\":-3}");
    assert_problem(&r, call("POST", "/api/v1/experiments", alice, body, &r),
                   "hyperparameters.max_depth");
    th_resp_free(&r);
    iris_body(body, sizeof(body), "decision_tree", "{\"depth_max\":3}");
    assert_problem(&r, call("POST", "/api/v1/experiments", alice, body, &r),
                   "hyperparameters.depth_max");
    th_resp_free(&r);
    snprintf(body, sizeof(body),
             "{\"dataset_id\":\"%s\",\"target_column\":\"nope\",\"algorithm\":\"decision_tree\"}",
             iris_id);
    assert_problem(&r, call("POST", "/api/v1/experiments", alice, body, &r), "target_column");
    th_resp_free(&r);
    snprintf(body, sizeof(body),
             "{\"dataset_id\":\"0b6c5a43-5d8e-4f57-9b8e-2f1f4c3a7e11\",\"target_column\":"
             "\"target\",\"algorithm\":\"decision_tree\"}");
    assert_problem(&r, call("POST", "/api/v1/experiments", alice, body, &r), "dataset_id");
    th_resp_free(&r);
    /* bob cannot train on alice's private dataset */
    iris_body(body, sizeof(body), "decision_tree", "{}");
    assert_problem(&r, call("POST", "/api/v1/experiments", bob, body, &r), "dataset_id");
    th_resp_free(&r);
    snprintf(body, sizeof(body),
             "{\"dataset_id\":\"%s\",\"target_column\":\"target\",\"algorithm\":"
             "\"decision_tree\",\"colour\":\"red\",\"test_size\":2}",
             iris_id);
    assert_problem(&r, call("POST", "/api/v1/experiments", alice, body, &r), "test_size");
    assert_non_null(strstr(r.body, "colour"));
    th_resp_free(&r);
}

static void test_ownership(void **state)
{
    static const char *const subs[] = {"", "/results", "/model", "/events"};
    char path[200];
    struct th_resp r;
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        snprintf(path, sizeof(path), "/api/v1/experiments/%s%s", iris_run, subs[i]);
        assert_int_equal(call("GET", path, bob, NULL, &r), 404);
        assert_string_equal(json_string_value(json_object_get(r.json, "error")), "not_found");
        th_resp_free(&r);
    }
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/cancel", iris_run);
    assert_int_equal(call("POST", path, bob, NULL, &r), 404);
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/experiments/%s", iris_run);
    assert_int_equal(call("DELETE", path, bob, NULL, &r), 404);
    th_resp_free(&r);
    assert_int_equal(call("GET", path, admin, NULL, &r), 200);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/experiments?status=completed", bob, NULL, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total_count")), 0);
    th_resp_free(&r);
    assert_int_equal(
        call("GET", "/api/v1/experiments?status=completed&page_size=1", alice, NULL, &r), 200);
    assert_true(json_integer_value(json_object_get(r.json, "total_count")) >= 2);
    assert_int_equal(json_array_size(json_object_get(r.json, "experiments")), 1);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/experiments?status=bogus", alice, NULL, &r), 400);
    th_resp_free(&r);
}

static void test_model_download(void **state)
{
    char url[256], auth[4200];
    snprintf(url, sizeof(url), "%s/api/v1/experiments/%s/model", api->url, iris_run);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", alice);
    const char *hdrs[] = {auth, NULL};
    struct th_resp r;
    assert_int_equal(th_http("GET", url, hdrs, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    char ct[128], disp[256];
    assert_int_equal(th_resp_header(&r, "Content-Type", ct, sizeof(ct)), 0);
    assert_string_equal(ct, "application/octet-stream");
    assert_int_equal(th_resp_header(&r, "Content-Disposition", disp, sizeof(disp)), 0);
    assert_non_null(strstr(disp, "filename="));
    struct model *m = NULL;
    char err[256];
    if (model_load(r.body, r.len, &m, err, sizeof(err)) != 0)
        fail_msg("model_load: %s", err);
    assert_string_equal(json_string_value(json_object_get(model_meta(m), "algorithm")),
                        "decision_tree");
    json_t *rows = json_loads("[{\"sepal length (cm)\":5.1,\"sepal width (cm)\":3.5,"
                              "\"petal length (cm)\":1.4,\"petal width (cm)\":0.2}]",
                              0, NULL);
    json_t *pred = NULL;
    assert_int_equal(model_predict_rows(m, rows, &pred, NULL), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(pred, "predictions"), 0)),
                        "0");
    json_decref(pred);
    json_decref(rows);
    model_free(m);
    th_resp_free(&r);
}

static void test_idempotency(void **state)
{
    char body[512], url[256], auth[4200];
    iris_body(body, sizeof(body), "logistic_regression", "{}");
    snprintf(url, sizeof(url), "%s/api/v1/experiments", api->url);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", alice);
    const char *hdrs[] = {auth, "Content-Type: application/json", "Idempotency-Key: try-1", NULL};
    struct th_resp a, b, c;
    assert_int_equal(th_http("POST", url, hdrs, body, &a), 0);
    assert_int_equal(a.status, 202);
    assert_int_equal(th_http("POST", url, hdrs, body, &b), 0);
    assert_int_equal(b.status, 200);
    assert_string_equal(json_string_value(json_object_get(a.json, "id")),
                        json_string_value(json_object_get(b.json, "id")));
    iris_body(body, sizeof(body), "knn", "{}");
    assert_int_equal(th_http("POST", url, hdrs, body, &c), 0);
    assert_int_equal(c.status, 422);
    assert_string_equal(json_string_value(json_object_get(c.json, "error")),
                        "idempotency_key_reused");
    json_decref(wait_status(json_string_value(json_object_get(a.json, "id")), alice,
                            "completed|failed", WAIT_S));
    th_resp_free(&a);
    th_resp_free(&b);
    th_resp_free(&c);
}

static void test_limit_per_user(void **state)
{
    char body[512], ids[5][64], path[400];
    struct th_resp r;
    for (int i = 0; i < 5; i++) {
        forest_body(body, sizeof(body), 2000, 100 + i);
        assert_int_equal(submit(carol, body, ids[i], sizeof(ids[i])), 202);
    }
    forest_body(body, sizeof(body), 2000, 200);
    assert_int_equal(call("POST", "/api/v1/experiments", carol, body, &r), 429);
    char retry[32];
    assert_int_equal(th_resp_header(&r, "Retry-After", retry, sizeof(retry)), 0);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")),
                        "too_many_experiments");
    th_resp_free(&r);
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof(path), "/api/v1/experiments/%s/cancel", ids[i]);
        assert_int_equal(call("POST", path, carol, NULL, &r), 200);
        assert_string_equal(json_string_value(json_object_get(r.json, "status")), "cancelled");
        th_resp_free(&r);
    }
    assert_int_equal(call("POST", path, carol, NULL, &r), 409);
    th_resp_free(&r);
}

/* The count of a worker's runs with an outcome, from its /metrics. */
static long worker_outcomes(const struct th_svc *w, const char *outcome)
{
    char url[128], key[128];
    snprintf(url, sizeof(url), "%s/metrics", w->url);
    snprintf(key, sizeof(key), "ibx_pipeline_worker_runs_total{outcome=\"%s\"} ", outcome);
    struct th_resp r;
    long n = 0;
    if (th_http("GET", url, NULL, NULL, &r) == 0 && r.body) {
        const char *p = strstr(r.body, key);
        n = p ? strtol(p + strlen(key), NULL, 10) : 0;
    }
    th_resp_free(&r);
    return n;
}

static void test_cancel_stops_training(void **state)
{
    char body[512], id[64], path[160];
    long stopped = worker_outcomes(worker, "stopped");
    forest_body(body, sizeof(body), 2000, 7);
    assert_int_equal(submit(alice, body, id, sizeof(id)), 202);
    wait_training(id, alice);
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/cancel", id);
    struct th_resp r;
    double t0 = now_s();
    assert_int_equal(call("POST", path, alice, NULL, &r), 200);
    th_resp_free(&r);
    while (worker_outcomes(worker, "stopped") == stopped && now_s() - t0 < 10)
        sleep_ms(50);
    double took = now_s() - t0;
    if (worker_outcomes(worker, "stopped") == stopped || took > 3.0)
        fail_msg("the worker did not stop the cancelled training in time (%.2f s)", took);
    json_t *run = get_run(id, alice);
    assert_string_equal(status_of(run), "cancelled");
    json_decref(run);
    /* no results nor model for a cancelled run */
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/results", id);
    assert_int_equal(call("GET", path, alice, NULL, &r), 409);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "not_completed");
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/model", id);
    assert_int_equal(call("GET", path, alice, NULL, &r), 409);
    th_resp_free(&r);
}

static void test_dead_worker(void **state)
{
    char body[512], id[64];
    forest_body(body, sizeof(body), 400, 11);
    assert_int_equal(submit(alice, body, id, sizeof(id)), 202);
    wait_training(id, alice);
    kill(worker->pid, SIGKILL);
    waitpid(worker->pid, NULL, 0);
    worker->pid = 0;
    struct th_svc *w2 = th_service_start(&st, "ml-pipeline-worker", pl_env);
    assert_non_null(w2);
    json_t *run = wait_status(id, alice, "completed|failed", WAIT_S);
    if (strcmp(status_of(run), "completed") == 0)
        assert_int_equal(json_integer_value(json_object_get(run, "attempts")), 2);
    else
        assert_non_null(
            strstr(json_string_value(json_object_get(run, "error")), "worker stopped responding"));
    json_decref(run);
    worker = w2;
}

/* SIGTERM: the worker stops its training at once, gives the run back, exits cleanly; the
 * next worker trains it. */
static void test_worker_stop_gives_back(void **state)
{
    char body[512], id[64];
    forest_body(body, sizeof(body), 400, 12);
    assert_int_equal(submit(alice, body, id, sizeof(id)), 202);
    wait_training(id, alice);
    double t0 = now_s();
    assert_int_equal(th_service_stop(worker), 0);
    if (now_s() - t0 > 5.0)
        fail_msg("the worker took %.1f s to stop", now_s() - t0);
    json_t *run = get_run(id, alice);
    assert_string_equal(status_of(run), "pending");
    assert_int_equal(json_integer_value(json_object_get(run, "attempts")), 0);
    json_decref(run);
    worker = th_service_start(&st, "ml-pipeline-worker", pl_env);
    assert_non_null(worker);
    run = wait_status(id, alice, "completed|failed", WAIT_S);
    assert_string_equal(status_of(run), "completed");
    assert_int_equal(json_integer_value(json_object_get(run, "attempts")), 1);
    json_decref(run);
}

static long blobs_with(const char *sha)
{
    const char *p[] = {sha};
    PGresult *r = PQexecParams(pg, "SELECT count(*) FROM pipeline.blobs WHERE sha256 = $1", 1, NULL,
                               p, NULL, NULL, 0);
    long n = PQresultStatus(r) == PGRES_TUPLES_OK ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return n;
}

static void test_delete(void **state)
{
    char body[512], id[64], path[160];
    iris_body(body, sizeof(body), "decision_tree", "{\"max_depth\":2}");
    assert_int_equal(submit(alice, body, id, sizeof(id)), 202);
    json_t *run = wait_status(id, alice, "completed|failed", WAIT_S);
    char sha[80];
    snprintf(sha, sizeof(sha), "%s", json_string_value(json_object_get(run, "model_sha256")));
    json_decref(run);
    assert_int_equal(blobs_with(sha), 1);
    snprintf(path, sizeof(path), "/api/v1/experiments/%s", id);
    struct th_resp r;
    assert_int_equal(call("DELETE", path, alice, NULL, &r), 200);
    th_resp_free(&r);
    assert_int_equal(call("GET", path, alice, NULL, &r), 404);
    th_resp_free(&r);
    assert_int_equal(blobs_with(sha), 0);
    /* export lists the rest of alice's runs */
    struct auth_claims c;
    assert_int_equal(auth_verify(keys, alice, NULL, NULL, NULL, 30, &c, NULL), 0);
    snprintf(path, sizeof(path), "/internal/users/%s/export", c.sub);
    assert_int_equal(call("GET", path, alice, NULL, &r), 200);
    assert_true(json_array_size(json_object_get(r.json, "experiments")) >= 3);
    th_resp_free(&r);
}

static long sql_count(const char *sql, const char *param)
{
    const char *p[] = {param};
    PGresult *r = PQexecParams(pg, sql, 1, NULL, p, NULL, NULL, 0);
    long n = PQresultStatus(r) == PGRES_TUPLES_OK ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return n;
}

/* user.deleted: the user's runs go, and with them the models no one else has. */
static void test_erasure(void **state)
{
    struct auth_claims c;
    assert_int_equal(auth_verify(keys, alice, NULL, NULL, NULL, 30, &c, NULL), 0);
    static const char models_sql[] =
        "SELECT count(*) FROM pipeline.blobs b WHERE b.sha256 IN (SELECT model_sha256 FROM "
        "pipeline.experiments WHERE user_id = $1::uuid)";
    long models = sql_count(models_sql, c.sub);
    assert_true(models >= 3);
    long blobs = sql_count("SELECT count(*) FROM pipeline.blobs WHERE $1::text IS NOT NULL", c.sub);
    assert_true(blobs >= models);
    struct bus *b = NULL;
    assert_int_equal(bus_new(st.brokers, "test-pipeline", &b), 0);
    json_t *v = json_pack("{s:s, s:s}", "type", "user.deleted", "user_id", c.sub);
    assert_int_equal(bus_publish_sync(b, BUS_TOPIC_USER_EVENTS, c.sub, v, 10000), 0);
    json_decref(v);
    bus_free(b);
    double end = now_s() + 60;
    while (sql_count("SELECT count(*) FROM pipeline.experiments WHERE user_id = $1::uuid", c.sub) !=
               0 &&
           now_s() < end)
        sleep_ms(100);
    assert_int_equal(
        sql_count("SELECT count(*) FROM pipeline.experiments WHERE user_id = $1::uuid", c.sub), 0);
    /* the rows go first, then each model that no other row references */
    static const char blobs_sql[] =
        "SELECT count(*) FROM pipeline.blobs WHERE $1::text IS NOT NULL";
    while (sql_count(blobs_sql, c.sub) != blobs - models && now_s() < end)
        sleep_ms(100);
    assert_int_equal(sql_count(blobs_sql, c.sub), blobs - models);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_algorithms),
        cmocka_unit_test(test_advice),
        cmocka_unit_test(test_iris_decision_tree),
        cmocka_unit_test(test_events_follow_progress),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_ownership),
        cmocka_unit_test(test_model_download),
        cmocka_unit_test(test_idempotency),
        cmocka_unit_test(test_limit_per_user),
        cmocka_unit_test(test_cancel_stops_training),
        cmocka_unit_test(test_dead_worker),
        cmocka_unit_test(test_worker_stop_gives_back),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_erasure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
