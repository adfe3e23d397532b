/* test_plans: pipeline plans (/api/v1/pipelines) against real selection, pipeline API and
 * worker processes: a four-model comparison on iris ends with a ranking; the same plan
 * again is all cache hits with identical output hashes, and a plan sharing steps reuses
 * them; a failing step fails its dependents and the plan; cancel; invalid plans are 422
 * naming the problem; another user gets 404; delete; erasure on user.deleted. */
#include "th_form.h"
#include "th_stack.h"
#include "th_tokens.h"

#include <ibx/auth.h>
#include <ibx/bus.h>
#include <ibx/hash.h>
#include <ibx/ids.h>

#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#define WAIT_S 180 /* bound on any wait for a plan (sanitizer builds on shared CPUs) */
#define NSTEPS 11  /* the four-model plan */

static struct th_stack st;
static struct th_svc *sel, *api, *worker, *gw;
static struct auth_keys *keys;
static PGconn *pg;
static char *alice, *bob, *admin, *carol;
static char carol_id[64];
static char iris_id[64], big_id[64], carol_ds[64];
/* the first four-model run: its id and each step's output, in body order */
static char first_plan[40];
static char first_out[NSTEPS][65];

static char *mint(const char *role, char *sub_out)
{
    struct auth_claims c = {0};
    ids_uuid4(c.sub);
    snprintf(c.role, sizeof(c.role), "%s", role);
    snprintf(c.iss, sizeof(c.iss), "ibx-gateway");
    snprintf(c.aud, sizeof(c.aud), "ibx-internal");
    snprintf(c.typ, sizeof(c.typ), "internal");
    if (sub_out)
        snprintf(sub_out, sizeof(c.sub), "%s", c.sub);
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

/* Upload a CSV as token; the dataset id into id. */
static int upload_csv(const char *token, const char *name, const char *csv, size_t len, char *id,
                      size_t n)
{
    struct th_form f = {0};
    char meta[256];
    snprintf(meta, sizeof(meta), "{\"display_name\":\"%s\",\"access\":\"private\"}", name);
    th_form_field(&f, "metadata", meta);
    th_form_file(&f, "files", "data.csv", csv, len);
    th_form_end(&f);
    struct th_resp r;
    long status = th_form_post(sel->url, "/api/v1/datasets", token, &f, &r);
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

/* A generated two-class table (a large forest on it takes a while). */
static char *big_csv(size_t rows, size_t *len)
{
    size_t cap = rows * 100 + 100, off = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    off += (size_t)snprintf(s, cap, "f0,f1,f2,f3,f4,f5,f6,f7,label\n");
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < rows; i++) {
        double sum = 0;
        for (int j = 0; j < 8; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            double v = (double)(x % 100000) / 1000.0;
            sum += (j % 3 == 0 ? 1 : -0.5) * v;
            off += (size_t)snprintf(s + off, cap - off, "%.3f,", v);
        }
        off += (size_t)snprintf(s + off, cap - off, "%s\n",
                                sum + (double)(x % 40) > 20 ? "yes" : "no");
    }
    *len = off;
    return s;
}

static char sel_url[128];
static const char *const pl_env[] = {sel_url, "IBX_PIPELINE_LEASE_S=5", "IBX_PIPELINE_SWEEP_S=1",
                                     "IBX_PIPELINE_REPUBLISH_S=5", NULL};

static int upload_all(void)
{
    size_t len = 0;
    char *iris = read_file("tests/fixtures/iris.csv", &len);
    int rc = iris ? upload_csv(alice, "Iris plans", iris, len, iris_id, sizeof(iris_id)) : -1;
    /* carol's own copy without the last 30 rows: other content, other artifacts */
    size_t cut = len, lines = 0;
    while (rc == 0 && cut > 0 && lines < 31)
        lines += iris[--cut] == '\n';
    if (rc == 0)
        rc = upload_csv(carol, "Carol iris", iris, cut + 1, carol_ds, sizeof(carol_ds));
    free(iris);
    char *big = rc == 0 ? big_csv(30000, &len) : NULL;
    rc = big ? upload_csv(alice, "Generated plans", big, len, big_id, sizeof(big_id)) : -1;
    free(big);
    return rc;
}

static int setup(void **state)
{
    if (ids_init() != 0 || th_stack_start(&st) != 0)
        return -1;
    sel = th_service_start(&st, "selection", NULL);
    if (!sel || auth_keys_new_hs256(st.jwt_secret, &keys) != 0)
        return -1;
    snprintf(sel_url, sizeof(sel_url), "IBX_SELECTION_URL=%s", sel->url);
    api = th_service_start(&st, "ml-pipeline", pl_env);
    worker = th_service_start(&st, "ml-pipeline-worker", pl_env);
    static char gw_env[3][320];
    snprintf(gw_env[0], sizeof(gw_env[0]), "IBX_SELECTION_URL=%s", sel->url);
    snprintf(gw_env[1], sizeof(gw_env[1]), "IBX_PIPELINE_URL=%s", api ? api->url : "");
    snprintf(gw_env[2], sizeof(gw_env[2]), "IBX_WEB_DIR=%s", st.dir);
    const char *gw_extra[] = {gw_env[0], gw_env[1], gw_env[2], NULL};
    gw = api ? th_service_start(&st, "gateway", gw_extra) : NULL;
    pg = PQconnectdb(st.db_url);
    if (!api || !worker || !gw || PQstatus(pg) != CONNECTION_OK)
        return -1;
    alice = mint("user", NULL);
    bob = mint("user", NULL);
    admin = mint("admin", NULL);
    carol = mint("user", carol_id);
    return alice && bob && admin && carol ? upload_all() : -1;
}

static int teardown(void **state)
{
    free(alice);
    free(bob);
    free(admin);
    free(carol);
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

/* POST /pipelines as token; the new id into id (when 202). Returns the status. */
static long submit(const char *token, const char *body, char *id)
{
    struct th_resp r;
    long s = call("POST", "/api/v1/pipelines", token, body, &r);
    const char *v = json_string_value(json_object_get(r.json, "id"));
    if (id && v)
        snprintf(id, 40, "%s", v);
    if (s != 202)
        fprintf(stderr, "submit: %ld %s\n", s, r.body);
    else
        assert_string_equal(json_string_value(json_object_get(r.json, "status")), "pending");
    th_resp_free(&r);
    return s;
}

/* The four-model comparison on dataset ds ranked by metric. */
static void four_models(char *out, size_t n, const char *ds, const char *metric)
{
    snprintf(
        out, n,
        "{\"name\":\"four models\",\"dataset_id\":\"%s\",\"target_column\":\"target\","
        "\"task_type\":\"classification\",\"steps\":["
        "{\"id\":\"load\",\"type\":\"load\"},"
        "{\"id\":\"prep\",\"type\":\"preprocess\",\"depends_on\":[\"load\"],\"params\":"
        "{\"test_size\":0.2,\"random_state\":42}},"
        "{\"id\":\"dt\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":{\"algorithm\":"
        "\"decision_tree\",\"hyperparameters\":{\"max_depth\":5}}},"
        "{\"id\":\"rf\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":{\"algorithm\":"
        "\"random_forest\",\"hyperparameters\":{\"n_estimators\":30}}},"
        "{\"id\":\"gb\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":{\"algorithm\":"
        "\"gradient_boosting\"}},"
        "{\"id\":\"lr\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":{\"algorithm\":"
        "\"logistic_regression\"}},"
        "{\"id\":\"ev_dt\",\"type\":\"evaluate\",\"depends_on\":[\"dt\"]},"
        "{\"id\":\"ev_rf\",\"type\":\"evaluate\",\"depends_on\":[\"rf\"]},"
        "{\"id\":\"ev_gb\",\"type\":\"evaluate\",\"depends_on\":[\"gb\"]},"
        "{\"id\":\"ev_lr\",\"type\":\"evaluate\",\"depends_on\":[\"lr\"]},"
        "{\"id\":\"compare\",\"type\":\"compare\",\"depends_on\":[\"ev_dt\",\"ev_rf\","
        "\"ev_gb\",\"ev_lr\"],\"params\":{\"metric\":\"%s\"}}]}",
        ds, metric);
}

static json_t *get_plan(const char *id, const char *token)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/pipelines/%s", id);
    struct th_resp r;
    long s = call("GET", path, token, NULL, &r);
    json_t *v = s == 200 ? json_incref(r.json) : NULL;
    th_resp_free(&r);
    return v;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Wait until the plan's status is in want ("completed|failed"). */
static json_t *wait_status(const char *id, const char *token, const char *want)
{
    double end = now_s() + WAIT_S;
    while (now_s() < end) {
        json_t *p = get_plan(id, token);
        if (p && str(p, "status")[0] && strstr(want, str(p, "status")))
            return p;
        json_decref(p);
        sleep_ms(100);
    }
    fail_msg("plan %s did not reach %s within %d s", id, want, WAIT_S);
    return NULL;
}

static const json_t *step_of(const json_t *plan, const char *id)
{
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(plan, "steps"), i,
                       s) if (strcmp(str(s, "id"), id) == 0) return s;
    fail_msg("no step %s", id);
    return NULL;
}

static long sql_long(const char *sql, const char *param)
{
    const char *p[] = {param};
    PGresult *r = PQexecParams(pg, sql, param ? 1 : 0, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* ------------------------------------------------------------------ tests */

/* A step's output downloads as the bytes its hash names: the model of a train step, the
 * full results of an evaluate step. */
static void check_outputs(const char *id)
{
    char path[256], sha[65];
    struct th_resp r;
    snprintf(path, sizeof(path), "/api/v1/pipelines/%s/steps/dt/output", id);
    assert_int_equal(call("GET", path, alice, NULL, &r), 200);
    assert_true(r.len > 56);
    assert_memory_equal(r.body, "IBXMODEL", 8);
    hash_sha256_hex(r.body, r.len, sha);
    assert_string_equal(sha, first_out[2]);
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/pipelines/%s/steps/ev_dt/output", id);
    assert_int_equal(call("GET", path, alice, NULL, &r), 200);
    hash_sha256_hex(r.body, r.len, sha);
    assert_string_equal(sha, first_out[6]);
    assert_non_null(json_object_get(r.json, "confusion_matrix"));
    assert_string_equal(str(r.json, "algorithm"), "decision_tree");
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/pipelines/%s/steps/nope/output", id);
    assert_int_equal(call("GET", path, alice, NULL, &r), 404);
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/pipelines/%s/steps/dt/output", id);
    assert_int_equal(call("GET", path, bob, NULL, &r), 404);
    th_resp_free(&r);
}

static void test_four_models(void **state)
{
    char body[4096];
    four_models(body, sizeof(body), iris_id, "accuracy");
    assert_int_equal(submit(alice, body, first_plan), 202);
    json_t *p = wait_status(first_plan, alice, "completed|failed");
    if (strcmp(str(p, "status"), "completed") != 0)
        fail_msg("plan failed: %s", json_dumps(p, 0));
    assert_string_equal(str(p, "task_type"), "classification");
    assert_int_equal(strlen(str(p, "dataset_version")), 64);
    const json_t *steps = json_object_get(p, "steps");
    assert_int_equal(json_array_size(steps), NSTEPS);
    for (size_t i = 0; i < NSTEPS; i++) {
        const json_t *s = json_array_get(steps, i);
        assert_string_equal(str(s, "status"), "completed");
        assert_true(json_is_false(json_object_get(s, "cache_hit")));
        assert_int_equal(strlen(str(s, "output_sha256")), 64);
        assert_true(json_number_value(json_object_get(s, "duration_ms")) >= 0);
        assert_non_null(json_string_value(json_object_get(s, "started_at")));
        snprintf(first_out[i], sizeof(first_out[i]), "%s", str(s, "output_sha256"));
    }
    /* each evaluation has its metrics; iris is easy */
    const char *evals[] = {"ev_dt", "ev_rf", "ev_gb", "ev_lr"};
    for (size_t i = 0; i < 4; i++) {
        const json_t *m =
            json_object_get(json_object_get(step_of(p, evals[i]), "result"), "metrics");
        double acc = json_number_value(json_object_get(m, "accuracy"));
        if (acc < 0.8 || acc > 1.0)
            fail_msg("%s accuracy %g", evals[i], acc);
    }
    /* the ranking: four entries, ranks 1..4, best first */
    const json_t *ranking = json_object_get(json_object_get(p, "ranking"), "ranking");
    assert_int_equal(json_array_size(ranking), 4);
    double prev = 2.0;
    for (size_t i = 0; i < 4; i++) {
        const json_t *e = json_array_get(ranking, i);
        assert_int_equal(json_integer_value(json_object_get(e, "rank")), (json_int_t)(i + 1));
        double v = json_number_value(json_object_get(e, "value"));
        assert_true(v <= prev);
        prev = v;
    }
    assert_string_equal(str(json_object_get(p, "ranking"), "metric"), "accuracy");
    assert_int_equal(json_integer_value(json_object_get(p, "cache_hits")), 0);
    check_outputs(first_plan);
    /* every step's output is in the cache and in the artifact store */
    assert_int_equal(sql_long("SELECT count(*) FROM pipeline.plan_cache", NULL), NSTEPS);
    for (size_t i = 0; i < NSTEPS; i++)
        assert_int_equal(
            sql_long("SELECT count(*) FROM pipeline.blobs WHERE sha256 = $1", first_out[i]), 1);
    json_decref(p);
}

/* The same plan again: every step a cache hit with the same output hash. */
static void test_resubmit_is_cached(void **state)
{
    char body[4096], id[40];
    four_models(body, sizeof(body), iris_id, "accuracy");
    double t0 = now_s();
    assert_int_equal(submit(alice, body, id), 202);
    json_t *p = wait_status(id, alice, "completed|failed");
    double took = now_s() - t0;
    assert_string_equal(str(p, "status"), "completed");
    assert_int_equal(json_integer_value(json_object_get(p, "cache_hits")), NSTEPS);
    const json_t *steps = json_object_get(p, "steps");
    for (size_t i = 0; i < NSTEPS; i++) {
        const json_t *s = json_array_get(steps, i);
        assert_true(json_is_true(json_object_get(s, "cache_hit")));
        assert_string_equal(str(s, "output_sha256"), first_out[i]);
    }
    /* the cached evaluations show their metrics and the compare its ranking */
    assert_non_null(json_object_get(json_object_get(step_of(p, "ev_lr"), "result"), "metrics"));
    assert_int_equal(json_array_size(json_object_get(json_object_get(p, "ranking"), "ranking")), 4);
    fprintf(stderr, "resubmitted plan done in %.2f s\n", took);
    json_decref(p);
    /* another plan sharing every step but the compare: only the compare runs */
    four_models(body, sizeof(body), iris_id, "f1_macro");
    assert_int_equal(submit(alice, body, id), 202);
    p = wait_status(id, alice, "completed|failed");
    assert_string_equal(str(p, "status"), "completed");
    assert_int_equal(json_integer_value(json_object_get(p, "cache_hits")), NSTEPS - 1);
    assert_true(json_is_false(json_object_get(step_of(p, "compare"), "cache_hit")));
    assert_string_equal(str(json_object_get(p, "ranking"), "metric"), "f1_macro");
    json_decref(p);
}

/* A failing step fails its dependents (skipped) and the plan; the other branch completes. */
static void test_failed_step(void **state)
{
    char body[2048], id[40];
    /* prep_bad leaves no feature: it fails when it runs, every attempt */
    snprintf(body, sizeof(body),
             "{\"dataset_id\":\"%s\",\"target_column\":\"target\",\"task_type\":"
             "\"classification\",\"steps\":[{\"id\":\"load\",\"type\":\"load\"},"
             "{\"id\":\"prep\",\"type\":\"preprocess\",\"depends_on\":[\"load\"]},"
             "{\"id\":\"prep_bad\",\"type\":\"preprocess\",\"depends_on\":[\"load\"],"
             "\"retries\":1,\"params\":{\"preprocessing\":{\"exclude_columns\":[\"sepal length "
             "(cm)\",\"sepal width (cm)\",\"petal length (cm)\",\"petal width (cm)\"]}}},"
             "{\"id\":\"knn\",\"type\":\"train\",\"depends_on\":[\"prep_bad\"],\"params\":"
             "{\"algorithm\":\"knn\"}},"
             "{\"id\":\"nb\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":"
             "{\"algorithm\":\"gaussian_nb\"}},"
             "{\"id\":\"ev_knn\",\"type\":\"evaluate\",\"depends_on\":[\"knn\"]},"
             "{\"id\":\"ev_nb\",\"type\":\"evaluate\",\"depends_on\":[\"nb\"]},"
             "{\"id\":\"cmp\",\"type\":\"compare\",\"depends_on\":[\"ev_knn\",\"ev_nb\"],"
             "\"params\":{\"metric\":\"accuracy\"}}]}",
             iris_id);
    assert_int_equal(submit(alice, body, id), 202);
    json_t *p = wait_status(id, alice, "completed|failed");
    assert_string_equal(str(p, "status"), "failed");
    if (!strstr(str(p, "error"), "step 'prep_bad' failed"))
        fail_msg("error: %s", str(p, "error"));
    const json_t *bad = step_of(p, "prep_bad");
    assert_string_equal(str(bad, "status"), "failed");
    assert_int_equal(json_integer_value(json_object_get(bad, "attempts")), 2);
    assert_true(strlen(str(bad, "error")) > 0);
    assert_string_equal(str(step_of(p, "knn"), "status"), "skipped");
    assert_string_equal(str(step_of(p, "ev_knn"), "status"), "skipped");
    assert_string_equal(str(step_of(p, "cmp"), "status"), "skipped");
    assert_string_equal(str(step_of(p, "ev_nb"), "status"), "completed");
    json_decref(p);
    char path[256];
    struct th_resp r;
    snprintf(path, sizeof(path), "/api/v1/pipelines/%s/steps/prep_bad/output", id);
    assert_int_equal(call("GET", path, alice, NULL, &r), 409);
    assert_string_equal(str(r.json, "error"), "not_completed");
    th_resp_free(&r);
}

/* Cancel a plan while a long training runs: the plan and its unfinished steps end
 * cancelled, and nothing completes afterwards. */
static void test_cancel(void **state)
{
    char body[2048], id[40], path[128];
    snprintf(body, sizeof(body),
             "{\"dataset_id\":\"%s\",\"target_column\":\"label\",\"steps\":["
             "{\"id\":\"load\",\"type\":\"load\"},"
             "{\"id\":\"prep\",\"type\":\"preprocess\",\"depends_on\":[\"load\"]},"
             "{\"id\":\"rf\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":{"
             "\"algorithm\":\"random_forest\",\"hyperparameters\":{\"n_estimators\":2000,"
             "\"max_depth\":null}}},"
             "{\"id\":\"ev\",\"type\":\"evaluate\",\"depends_on\":[\"rf\"]}]}",
             big_id);
    assert_int_equal(submit(alice, body, id), 202);
    double end = now_s() + WAIT_S;
    int training = 0;
    while (!training && now_s() < end) {
        json_t *p = get_plan(id, alice);
        training = strcmp(str(step_of(p, "rf"), "status"), "running") == 0;
        json_decref(p);
        if (!training)
            sleep_ms(50);
    }
    assert_true(training);
    snprintf(path, sizeof(path), "/api/v1/pipelines/%s/cancel", id);
    struct th_resp r;
    assert_int_equal(call("POST", path, alice, NULL, &r), 200);
    assert_string_equal(str(r.json, "status"), "cancelled");
    th_resp_free(&r);
    /* a second cancel: already ended */
    assert_int_equal(call("POST", path, alice, NULL, &r), 409);
    th_resp_free(&r);
    /* the worker lets go: its heartbeat stops and the steps stay cancelled */
    end = now_s() + 20;
    long beating = 1;
    while (beating && now_s() < end) {
        sleep_ms(200);
        beating = sql_long("SELECT count(*) FROM pipeline.plans WHERE id = $1::uuid AND "
                           "worker_id IS NOT NULL AND heartbeat_at > now() - interval '1 second'",
                           id);
    }
    assert_int_equal(beating, 0);
    /* the worker is free again: a small plan after it completes */
    char small[512], next[40];
    snprintf(small, sizeof(small),
             "{\"dataset_id\":\"%s\",\"target_column\":\"target\",\"steps\":[{\"id\":"
             "\"l\",\"type\":\"load\"}]}",
             iris_id);
    assert_int_equal(submit(alice, small, next), 202);
    json_t *q = wait_status(next, alice, "completed|failed");
    assert_string_equal(str(q, "status"), "completed");
    json_decref(q);
    json_t *p = get_plan(id, alice);
    assert_string_equal(str(p, "status"), "cancelled");
    assert_string_equal(str(step_of(p, "rf"), "status"), "cancelled");
    assert_string_equal(str(step_of(p, "ev"), "status"), "cancelled");
    json_decref(p);
}

/* A plan whose forest trains for a few seconds on the generated table. */
static void long_plan(char *out, size_t n, int seed)
{
    snprintf(out, n,
             "{\"dataset_id\":\"%s\",\"target_column\":\"label\",\"steps\":["
             "{\"id\":\"load\",\"type\":\"load\"},"
             "{\"id\":\"prep\",\"type\":\"preprocess\",\"depends_on\":[\"load\"]},"
             "{\"id\":\"rf\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":{"
             "\"algorithm\":\"random_forest\",\"hyperparameters\":{\"n_estimators\":400,"
             "\"max_depth\":null,\"random_state\":%d}}},"
             "{\"id\":\"ev\",\"type\":\"evaluate\",\"depends_on\":[\"rf\"]}]}",
             big_id, seed);
}

/* Wait until step of plan id runs. */
static void wait_step_running(const char *id, const char *step)
{
    double end = now_s() + WAIT_S;
    while (now_s() < end) {
        json_t *p = get_plan(id, alice);
        int running = p && strcmp(str(step_of(p, step), "status"), "running") == 0;
        json_decref(p);
        if (running)
            return;
        sleep_ms(50);
    }
    fail_msg("step %s of plan %s never ran", step, id);
}

/* A worker killed in the middle of a training: the sweeper takes the plan back after the
 * lease, another worker runs it again, and what was done before comes from the cache. */
static void test_dead_worker(void **state)
{
    char body[2048], id[40];
    long_plan(body, sizeof(body), 5);
    assert_int_equal(submit(alice, body, id), 202);
    wait_step_running(id, "rf");
    kill(worker->pid, SIGKILL);
    waitpid(worker->pid, NULL, 0);
    worker->pid = 0;
    worker = th_service_start(&st, "ml-pipeline-worker", pl_env);
    assert_non_null(worker);
    json_t *p = wait_status(id, alice, "completed|failed");
    if (strcmp(str(p, "status"), "completed") != 0)
        fail_msg("plan: %s", str(p, "error"));
    assert_int_equal(json_integer_value(json_object_get(p, "attempts")), 2);
    assert_true(json_is_true(json_object_get(step_of(p, "load"), "cache_hit")));
    assert_true(json_is_true(json_object_get(step_of(p, "prep"), "cache_hit")));
    assert_true(json_is_false(json_object_get(step_of(p, "rf"), "cache_hit")));
    json_decref(p);
}

/* SIGTERM: the worker stops the training, gives the plan back (pending, the attempt
 * returned) and exits cleanly; the next worker runs it. */
static void test_worker_stop_gives_back(void **state)
{
    char body[2048], id[40];
    long_plan(body, sizeof(body), 6);
    assert_int_equal(submit(alice, body, id), 202);
    wait_step_running(id, "rf");
    double t0 = now_s();
    assert_int_equal(th_service_stop(worker), 0);
    if (now_s() - t0 > 5.0)
        fail_msg("the worker took %.1f s to stop", now_s() - t0);
    json_t *p = get_plan(id, alice);
    assert_string_equal(str(p, "status"), "pending");
    assert_int_equal(json_integer_value(json_object_get(p, "attempts")), 0);
    assert_string_equal(str(step_of(p, "rf"), "status"), "pending");
    json_decref(p);
    worker = th_service_start(&st, "ml-pipeline-worker", pl_env);
    assert_non_null(worker);
    p = wait_status(id, alice, "completed|failed");
    assert_string_equal(str(p, "status"), "completed");
    assert_int_equal(json_integer_value(json_object_get(p, "attempts")), 1);
    json_decref(p);
}

/* Independent steps run at the same time: two trainings on the same prepared data overlap. */
static void test_parallel_steps(void **state)
{
    char body[2048], id[40];
    snprintf(body, sizeof(body),
             "{\"dataset_id\":\"%s\",\"target_column\":\"label\",\"steps\":["
             "{\"id\":\"load\",\"type\":\"load\"},"
             "{\"id\":\"prep\",\"type\":\"preprocess\",\"depends_on\":[\"load\"]},"
             "{\"id\":\"rf\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":{"
             "\"algorithm\":\"random_forest\",\"hyperparameters\":{\"n_estimators\":60}}},"
             "{\"id\":\"gb\",\"type\":\"train\",\"depends_on\":[\"prep\"],\"params\":{"
             "\"algorithm\":\"gradient_boosting\",\"hyperparameters\":{\"max_iter\":300,"
             "\"early_stopping\":false}}}]}",
             big_id);
    assert_int_equal(submit(alice, body, id), 202);
    json_t *p = wait_status(id, alice, "completed|failed");
    assert_string_equal(str(p, "status"), "completed");
    json_decref(p);
    assert_int_equal(sql_long("SELECT ((SELECT max(started_at) FROM pipeline.plan_steps WHERE "
                              "plan_id = $1::uuid AND type = 'train') < (SELECT min(finished_at) "
                              "FROM pipeline.plan_steps WHERE plan_id = $1::uuid AND type = "
                              "'train'))::int",
                              id),
                     1);
}

struct bad_plan {
    const char *what;
    const char *steps; /* the steps array */
    const char *field; /* the first problem's field */
    const char *in_message;
};

static void test_invalid_plans(void **state)
{
    static const struct bad_plan bad[] = {
        {"cycle",
         "[{\"id\":\"load\",\"type\":\"load\"},{\"id\":\"a\",\"type\":\"preprocess\","
         "\"depends_on\":[\"b\"]},{\"id\":\"b\",\"type\":\"train\",\"depends_on\":[\"a\"],"
         "\"params\":{\"algorithm\":\"decision_tree\"}}]",
         "steps[1].depends_on", "step 'a': dependency cycle: a -> b -> a"},
        {"unknown type", "[{\"id\":\"x\",\"type\":\"transmogrify\"}]", "steps[0].type",
         "step 'x': unknown step type 'transmogrify'"},
        {"missing dependency",
         "[{\"id\":\"load\",\"type\":\"load\"},{\"id\":\"p\",\"type\":\"preprocess\","
         "\"depends_on\":[\"loader\"]}]",
         "steps[1].depends_on", "step 'p': depends on unknown step 'loader'"},
        {"duplicate id",
         "[{\"id\":\"load\",\"type\":\"load\"},{\"id\":\"load\",\"type\":\"load\"}]", "steps[1].id",
         "duplicate step id 'load'"},
        {"self-dependency", "[{\"id\":\"load\",\"type\":\"load\",\"depends_on\":[\"load\"]}]",
         "steps[0].depends_on", "depends on itself"},
        {"wrong dependency type",
         "[{\"id\":\"load\",\"type\":\"load\"},{\"id\":\"t\",\"type\":\"train\",\"depends_on\":"
         "[\"load\"],\"params\":{\"algorithm\":\"decision_tree\"}}]",
         "steps[1].depends_on", "a train step depends on a preprocess step"},
        {"bad hyperparameter",
         "[{\"id\":\"load\",\"type\":\"load\"},{\"id\":\"p\",\"type\":\"preprocess\","
         "\"depends_on\":[\"load\"]},{\"id\":\"t\",\"type\":\"train\",\"depends_on\":[\"p\"],"
         "\"params\":{\"algorithm\":\"decision_tree\",\"hyperparameters\":{\"max_depth\":-2}}}]",
         "steps[2].params.hyperparameters.max_depth", "step 't'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char body[2048];
        snprintf(body, sizeof(body),
                 "{\"dataset_id\":\"%s\",\"target_column\":\"target\",\"steps\":%s}", iris_id,
                 bad[i].steps);
        struct th_resp r;
        long s = call("POST", "/api/v1/pipelines", alice, body, &r);
        const json_t *first =
            json_array_get(json_object_get(json_object_get(r.json, "details"), "fields"), 0);
        if (s != 422 || strcmp(str(r.json, "error"), "validation_failed") != 0 ||
            strcmp(str(first, "field"), bad[i].field) != 0 ||
            !strstr(str(r.json, "message"), bad[i].in_message))
            fail_msg("%s: %ld %s", bad[i].what, s, r.body);
        th_resp_free(&r);
    }
    /* too many steps */
    char big[8192];
    size_t off = (size_t)snprintf(big, sizeof(big),
                                  "{\"dataset_id\":\"%s\",\"target_column\":\"target\",\"steps\":[",
                                  iris_id);
    for (int i = 0; i < 40; i++)
        off += (size_t)snprintf(big + off, sizeof(big) - off,
                                "%s{\"id\":\"l%d\",\"type\":\"load\"}", i ? "," : "", i);
    snprintf(big + off, sizeof(big) - off, "]}");
    struct th_resp r;
    assert_int_equal(call("POST", "/api/v1/pipelines", alice, big, &r), 422);
    assert_non_null(strstr(str(r.json, "message"), "steps"));
    th_resp_free(&r);
    /* a dataset the caller cannot see, a column it does not have */
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"dataset_id\":\"%s\",\"target_column\":\"target\",\"steps\":[{\"id\":\"l\","
             "\"type\":\"load\"}]}",
             iris_id);
    assert_int_equal(call("POST", "/api/v1/pipelines", bob, body, &r), 422);
    assert_non_null(strstr(str(r.json, "message"), "dataset_id"));
    th_resp_free(&r);
    snprintf(body, sizeof(body),
             "{\"dataset_id\":\"%s\",\"target_column\":\"species\",\"steps\":[{\"id\":\"l\","
             "\"type\":\"load\"}]}",
             iris_id);
    assert_int_equal(call("POST", "/api/v1/pipelines", alice, body, &r), 422);
    assert_non_null(strstr(str(r.json, "message"), "target_column"));
    th_resp_free(&r);
    /* not JSON */
    assert_int_equal(call("POST", "/api/v1/pipelines", alice, "{steps:", &r), 400);
    th_resp_free(&r);
}

/* Only the owner (or an admin) sees a plan; everyone else gets 404. */
static void test_other_user(void **state)
{
    char path[128];
    struct th_resp r;
    snprintf(path, sizeof(path), "/api/v1/pipelines/%s", first_plan);
    assert_int_equal(call("GET", path, bob, NULL, &r), 404);
    assert_string_equal(str(r.json, "error"), "not_found");
    th_resp_free(&r);
    assert_int_equal(call("DELETE", path, bob, NULL, &r), 404);
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/pipelines/%s/cancel", first_plan);
    assert_int_equal(call("POST", path, bob, NULL, &r), 404);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/pipelines", bob, NULL, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total_count")), 0);
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/pipelines/%s", first_plan);
    assert_int_equal(call("GET", path, admin, NULL, &r), 200);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/pipelines/not-a-uuid", alice, NULL, &r), 404);
    th_resp_free(&r);
}

/* The owner's list, then delete: the plan goes, its cached outputs stay. */
static void test_list_and_delete(void **state)
{
    struct th_resp r;
    assert_int_equal(call("GET", "/api/v1/pipelines?page_size=2", alice, NULL, &r), 200);
    long total = (long)json_integer_value(json_object_get(r.json, "total_count"));
    assert_true(total >= 4);
    const json_t *items = json_object_get(r.json, "pipelines");
    assert_int_equal(json_array_size(items), 2);
    assert_non_null(json_object_get(json_array_get(items, 0), "steps_completed"));
    th_resp_free(&r);
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/pipelines/%s", first_plan);
    assert_int_equal(call("DELETE", path, alice, NULL, &r), 200);
    th_resp_free(&r);
    assert_int_equal(call("GET", path, alice, NULL, &r), 404);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/pipelines", alice, NULL, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total_count")), total - 1);
    th_resp_free(&r);
    assert_int_equal(
        sql_long("SELECT count(*) FROM pipeline.plan_cache WHERE output_sha256 = $1", first_out[4]),
        1);
}

/* As a new user would: sign up at the gateway, upload iris, run the four-model plan
 * through the gateway, run it again and see every step hit the cache. */
static void test_through_gateway(void **state)
{
    struct th_resp r;
    const char *signup = "{\"email\":\"dana@example.com\",\"password\":\"plans-pass-12\"}";
    assert_int_equal(th_call(gw->url, "POST", "/api/v1/auth/register", NULL, signup, &r), 201);
    char access[2048];
    snprintf(access, sizeof(access), "%s", str(r.json, "access_token"));
    th_resp_free(&r);
    size_t len = 0;
    char *iris = read_file("tests/fixtures/iris.csv", &len), ds[64] = "";
    assert_non_null(iris);
    struct th_form f = {0};
    th_form_field(&f, "metadata", "{\"display_name\":\"Dana iris\",\"access\":\"private\"}");
    th_form_file(&f, "files", "iris.csv", iris, len);
    th_form_end(&f);
    long s = th_form_post(gw->url, "/api/v1/datasets", access, &f, &r);
    th_form_free(&f);
    free(iris);
    if (s != 201)
        fail_msg("upload through the gateway: %ld %s", s, r.body);
    snprintf(ds, sizeof(ds), "%s", str(r.json, "id"));
    th_resp_free(&r);
    char body[4096], ids[2][40], path[128];
    four_models(body, sizeof(body), ds, "accuracy");
    for (int round = 0; round < 2; round++) {
        s = th_call(gw->url, "POST", "/api/v1/pipelines", access, body, &r);
        if (s != 202)
            fail_msg("submit through the gateway: %ld %s", s, r.body);
        snprintf(ids[round], sizeof(ids[round]), "%s", str(r.json, "id"));
        th_resp_free(&r);
        snprintf(path, sizeof(path), "/api/v1/pipelines/%s", ids[round]);
        double end = now_s() + WAIT_S;
        const char *status = "";
        json_t *p = NULL;
        while (now_s() < end) {
            assert_int_equal(th_call(gw->url, "GET", path, access, NULL, &r), 200);
            json_decref(p);
            p = json_incref(r.json);
            th_resp_free(&r);
            status = str(p, "status");
            if (strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0)
                break;
            sleep_ms(100);
        }
        assert_string_equal(status, "completed");
        assert_int_equal(json_integer_value(json_object_get(p, "cache_hits")), round ? NSTEPS : 0);
        assert_int_equal(json_array_size(json_object_get(json_object_get(p, "ranking"), "ranking")),
                         4);
        json_decref(p);
    }
    assert_int_equal(th_call(gw->url, "GET", "/api/v1/pipelines", access, NULL, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total_count")), 2);
    th_resp_free(&r);
}

/* user.deleted erases the user's plans, cache entries and the artifacts only they had. */
static void test_erasure(void **state)
{
    char body[4096], id[40];
    four_models(body, sizeof(body), carol_ds, "accuracy");
    assert_int_equal(submit(carol, body, id), 202);
    json_t *p = wait_status(id, carol, "completed|failed");
    assert_string_equal(str(p, "status"), "completed");
    char model[65];
    snprintf(model, sizeof(model), "%s", str(step_of(p, "dt"), "output_sha256"));
    json_decref(p);
    /* the export shows the plans */
    char path[128];
    snprintf(path, sizeof(path), "/internal/users/%s/export", carol_id);
    struct th_resp r;
    assert_int_equal(call("GET", path, carol, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "plans")), 1);
    assert_int_equal(json_array_size(json_object_get(r.json, "plan_cache")), NSTEPS);
    th_resp_free(&r);
    assert_int_equal(sql_long("SELECT count(*) FROM pipeline.blobs WHERE sha256 = $1", model), 1);

    struct bus *b = NULL;
    assert_int_equal(bus_new(st.brokers, "test-plans", &b), 0);
    json_t *ev = json_pack("{s:s, s:s}", "type", "user.deleted", "user_id", carol_id);
    assert_int_equal(bus_publish_sync(b, BUS_TOPIC_USER_EVENTS, carol_id, ev, 10000), 0);
    json_decref(ev);
    bus_free(b);
    double end = now_s() + 60;
    long left = 1;
    while (left && now_s() < end) {
        sleep_ms(200);
        left = sql_long("SELECT (SELECT count(*) FROM pipeline.plans WHERE user_id = $1::uuid) + "
                        "(SELECT count(*) FROM pipeline.plan_cache WHERE user_id = $1::uuid)",
                        carol_id);
    }
    assert_int_equal(left, 0);
    assert_int_equal(sql_long("SELECT count(*) FROM pipeline.blobs WHERE sha256 = $1", model), 0);
    /* alice's artifacts are untouched */
    assert_int_equal(
        sql_long("SELECT count(*) FROM pipeline.blobs WHERE sha256 = $1", first_out[2]), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_models),     cmocka_unit_test(test_resubmit_is_cached),
        cmocka_unit_test(test_failed_step),     cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_dead_worker),     cmocka_unit_test(test_worker_stop_gives_back),
        cmocka_unit_test(test_parallel_steps),  cmocka_unit_test(test_invalid_plans),
        cmocka_unit_test(test_other_user),      cmocka_unit_test(test_list_and_delete),
        cmocka_unit_test(test_through_gateway), cmocka_unit_test(test_erasure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
