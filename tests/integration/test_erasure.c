/* test_erasure: data rights across the whole suite: the export gathers the caller's rows
 * from every service (and nobody else's), the internal export route checks who asks, and
 * DELETE /users/me erases the account in the gateway and, through user.deleted on
 * ibx.user.events, in every service, while another user's data stays. */
#include "th_stack.h"

#include <ibx/auth.h>
#include <ibx/bus.h>
#include <ibx/ids.h>

#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#define ERASE_WAIT_MS 20000
#define SQLISH_NAME   "Robert'); DROP TABLE selection.datasets; --"
#define SQLISH_TARGET "'; DELETE FROM pipeline.experiments WHERE '1'='1"

static struct th_stack st;
static struct th_svc *gw, *svcs[4];
static const char *const names[] = {"selection", "ml-pipeline", "xai-engine", "model-serving"};
static PGconn *pg;
static struct auth_keys *keys;

/* A user and the rows seeded for it in every service's schema. */
struct person {
    char id[64];
    char email[128];
    char access[2048];
    char refresh[256];
    char dataset[IDS_UUID_LEN + 1];
    char experiment[IDS_UUID_LEN + 1];
    char explanation[IDS_UUID_LEN + 1];
    char deployment[IDS_UUID_LEN + 1];
};
static struct person alice, bob;

/* Each service's table and owner column, in names[] order. */
static const char *const owned[4][2] = {{"selection.datasets", "owner_id"},
                                        {"pipeline.experiments", "user_id"},
                                        {"xai.explanations", "user_id"},
                                        {"serving.deployments", "user_id"}};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int setup(void **state)
{
    if (ids_init() != 0 || th_stack_start(&st) != 0)
        return -1;
    static char env[5][320];
    for (size_t i = 0; i < 4; i++) {
        svcs[i] = th_service_start(&st, names[i], NULL);
        if (!svcs[i])
            return -1;
    }
    snprintf(env[0], sizeof(env[0]), "IBX_SELECTION_URL=%s", svcs[0]->url);
    snprintf(env[1], sizeof(env[1]), "IBX_PIPELINE_URL=%s", svcs[1]->url);
    snprintf(env[2], sizeof(env[2]), "IBX_XAI_URL=%s", svcs[2]->url);
    snprintf(env[3], sizeof(env[3]), "IBX_SERVING_URL=%s", svcs[3]->url);
    snprintf(env[4], sizeof(env[4]), "IBX_WEB_DIR=%s", st.dir); /* no index.html there */
    const char *extra[] = {env[0], env[1], env[2], env[3], env[4], NULL};
    gw = th_service_start(&st, "gateway", extra);
    if (!gw)
        return -1;
    pg = PQconnectdb(st.db_url);
    if (PQstatus(pg) != CONNECTION_OK)
        return -1;
    return auth_keys_new_hs256(st.jwt_secret, &keys);
}

static int teardown(void **state)
{
    auth_keys_free(keys);
    PQfinish(pg);
    return th_stack_stop(&st) == 0 ? 0 : -1;
}

static long call(const char *method, const char *base, const char *path, const char *token,
                 const char *body, struct th_resp *r)
{
    char url[512], auth[4096];
    snprintf(url, sizeof(url), "%s%s", base, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
    const char *hdrs[] = {"Content-Type: application/json", token ? auth : NULL, NULL};
    assert_int_equal(th_http(method, url, hdrs, body, r), 0);
    return r->status;
}

static long status_of(const char *method, const char *base, const char *path, const char *token,
                      const char *body)
{
    struct th_resp r;
    long s = call(method, base, path, token, body, &r);
    th_resp_free(&r);
    return s;
}

static const char *err_code(const struct th_resp *r)
{
    const char *c = json_string_value(json_object_get(r->json, "error"));
    return c ? c : "";
}

static void sql(const char *q, int n, const char *const *p)
{
    PGresult *res = PQexecParams(pg, q, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "%s: %s", q, PQerrorMessage(pg));
    assert_true(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK);
    PQclear(res);
}

/* Rows of user_id in table (owner column col). */
static long rows_of(const char *table, const char *col, const char *user_id)
{
    char q[256];
    snprintf(q, sizeof(q), "SELECT count(*) FROM %s WHERE %s = $1::uuid", table, col);
    const char *p[] = {user_id};
    PGresult *res = PQexecParams(pg, q, 1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    long n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return n;
}

static void sign_up(const char *email, struct person *p)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"erasure-pass-1\"}", email);
    struct th_resp r;
    assert_int_equal(call("POST", gw->url, "/api/v1/auth/register", NULL, body, &r), 201);
    const json_t *u = json_object_get(r.json, "user");
    snprintf(p->id, sizeof(p->id), "%s", json_string_value(json_object_get(u, "id")));
    snprintf(p->email, sizeof(p->email), "%s", email);
    snprintf(p->access, sizeof(p->access), "%s",
             json_string_value(json_object_get(r.json, "access_token")));
    snprintf(p->refresh, sizeof(p->refresh), "%s",
             json_string_value(json_object_get(r.json, "refresh_token")));
    th_resp_free(&r);
}

/* One row per service schema for p (the services have no create endpoints yet). */
static void seed(struct person *p, const char *tag)
{
    char name[64], model[64];
    ids_uuid4(p->dataset);
    ids_uuid4(p->experiment);
    ids_uuid4(p->explanation);
    ids_uuid4(p->deployment);
    snprintf(name, sizeof(name), "ds-%s", tag);
    snprintf(model, sizeof(model), "model-%s", tag);
    const char *d[] = {p->dataset, p->id, name, SQLISH_NAME};
    sql("INSERT INTO selection.datasets (id, owner_id, name, display_name, access) "
        "VALUES ($1, $2, $3, $4, 'private')",
        4, d);
    const char *e[] = {p->experiment, p->id, p->dataset, SQLISH_TARGET};
    sql("INSERT INTO pipeline.experiments (id, user_id, dataset_id, target_column, task_type, "
        "algorithm) VALUES ($1, $2, $3, $4, 'classification', 'decision_tree')",
        4, e);
    const char *x[] = {p->explanation, p->id, p->experiment};
    sql("INSERT INTO xai.explanations (id, user_id, experiment_id, explanation_type, method, "
        "audience_level) VALUES ($1, $2, $3, 'global', 'shap', 'novice')",
        3, x);
    const char *m[] = {p->deployment, p->id, model, p->experiment};
    sql("INSERT INTO serving.deployments (id, user_id, name, version, experiment_id, "
        "artifact_sha256) VALUES ($1, $2, $3, 1, $4, repeat('ab', 32))",
        4, m);
}

static int setup_people(void **state)
{
    sign_up("alice@example.org", &alice);
    sign_up("bob@example.org", &bob);
    seed(&alice, "alice");
    seed(&bob, "bob");
    return 0;
}

/* An internal token as the gateway mints it. Caller frees. */
static char *internal_token(const char *sub, const char *role, const char *aud)
{
    struct auth_claims c = {0};
    snprintf(c.sub, sizeof(c.sub), "%s", sub);
    snprintf(c.role, sizeof(c.role), "%s", role);
    snprintf(c.iss, sizeof(c.iss), "ibx-gateway");
    snprintf(c.aud, sizeof(c.aud), "%s", aud);
    snprintf(c.typ, sizeof(c.typ), "%s", strcmp(aud, "ibx-internal") == 0 ? "internal" : "access");
    char *t = NULL;
    assert_int_equal(auth_issue(keys, &c, 60, &t), 0);
    return t;
}

static const json_t *part_items(const json_t *doc, const char *svc, const char *key)
{
    const json_t *items = json_object_get(json_object_get(doc, svc), key);
    assert_true(json_is_array(items));
    return items;
}

static void test_export_gathers_every_service(void **state)
{
    struct th_resp r;
    /* an API key: listed in the export, its secret and hash never */
    assert_int_equal(call("POST", gw->url, "/api/v1/api-keys", alice.access,
                          "{\"name\":\"export-key\",\"scopes\":[\"read\"]}", &r),
                     201);
    char secret[256];
    snprintf(secret, sizeof(secret), "%s", json_string_value(json_object_get(r.json, "key")));
    assert_true(strlen(secret) > 16);
    th_resp_free(&r);
    assert_int_equal(call("GET", gw->url, "/api/v1/users/me/export", alice.access, NULL, &r), 200);
    char cd[128];
    assert_int_equal(th_resp_header(&r, "Content-Disposition", cd, sizeof(cd)), 0);
    assert_non_null(strstr(cd, "attachment"));
    const json_t *doc = r.json;
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "user"), "id")),
                        alice.id);
    assert_non_null(json_string_value(json_object_get(doc, "exported_at")));
    assert_true(json_array_size(part_items(doc, "gateway", "sessions")) >= 1);
    const json_t *keys_part = part_items(doc, "gateway", "api_keys");
    assert_int_equal(json_array_size(keys_part), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(keys_part, 0), "name")),
                        "export-key");
    assert_null(strstr(r.body, secret));
    part_items(doc, "gateway", "usage");
    part_items(doc, "gateway", "quota_counters");
    const json_t *ds = part_items(doc, "selection", "datasets");
    assert_int_equal(json_array_size(ds), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ds, 0), "id")),
                        alice.dataset);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ds, 0), "display_name")),
                        SQLISH_NAME);
    const json_t *ex = part_items(doc, "ml-pipeline", "experiments");
    assert_int_equal(json_array_size(ex), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ex, 0), "target_column")),
                        SQLISH_TARGET);
    assert_int_equal(json_array_size(part_items(doc, "xai-engine", "explanations")), 1);
    assert_int_equal(json_array_size(part_items(doc, "model-serving", "deployments")), 1);
    /* no secrets, and nothing of another user */
    static const char *const never[] = {"token_hash", "key_hash", "password_hash", "$argon2",
                                        "bob@"};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        assert_null(strstr(r.body, never[i]));
    assert_null(strstr(r.body, bob.id));
    assert_null(strstr(r.body, bob.dataset));
    assert_null(strstr(r.body, bob.experiment));
    assert_null(strstr(r.body, alice.refresh));
    th_resp_free(&r);
    assert_int_equal(status_of("GET", gw->url, "/api/v1/users/me/export", NULL, NULL), 401);
}

static void test_internal_export_route(void **state)
{
    char *as_alice = internal_token(alice.id, "user", "ibx-internal");
    char *as_admin =
        internal_token("00000000-0000-4000-8000-000000000001", "admin", "ibx-internal");
    char *access = internal_token(alice.id, "user", "ibx-api");
    char path[160];
    struct th_resp r;
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "/internal/users/%s/export", alice.id);
        assert_int_equal(call("GET", svcs[i]->url, path, as_alice, NULL, &r), 200);
        assert_true(json_is_object(r.json));
        assert_null(strstr(r.body, bob.id));
        th_resp_free(&r);
        assert_int_equal(status_of("GET", svcs[i]->url, path, NULL, NULL), 401);
        assert_int_equal(status_of("GET", svcs[i]->url, path, access, NULL), 401);
        /* another user's data: only for that user or an admin */
        snprintf(path, sizeof(path), "/internal/users/%s/export", bob.id);
        assert_int_equal(call("GET", svcs[i]->url, path, as_alice, NULL, &r), 403);
        assert_string_equal(err_code(&r), "forbidden");
        assert_null(strstr(r.body, bob.dataset));
        th_resp_free(&r);
        assert_int_equal(call("GET", svcs[i]->url, path, as_admin, NULL, &r), 200);
        assert_non_null(strstr(r.body, bob.id));
        th_resp_free(&r);
        assert_int_equal(
            status_of("GET", svcs[i]->url, "/internal/users/not-a-uuid/export", as_admin, NULL),
            404);
        assert_int_equal(status_of("GET", svcs[i]->url, "/internal/users/1'%20OR%20'1'='1/export",
                                   as_admin, NULL),
                         404);
    }
    /* the gateway, the public door, has no internal routes */
    snprintf(path, sizeof(path), "/internal/users/%s/export", alice.id);
    assert_int_equal(call("GET", gw->url, path, alice.access, NULL, &r), 404);
    assert_null(strstr(r.body, alice.dataset));
    th_resp_free(&r);
    free(as_alice);
    free(as_admin);
    free(access);
}

/* Messages a producer other than the gateway might put on ibx.user.events, on the same
 * partition as the real one (key = alice): none of them may touch bob's data. */
static void publish_noise(void)
{
    struct bus *b = NULL;
    assert_int_equal(bus_new(st.brokers, "test-erasure", &b), 0);
    json_t *v[] = {
        json_pack("{s:s, s:s}", "type", "user.created", "user_id", bob.id),
        json_pack("{s:s, s:s}", "type", "user.deleted", "user_id", "' OR '1'='1"),
        json_pack("{s:s, s:i}", "type", "user.deleted", "user_id", 42),
        json_pack("[s]", "user.deleted"),
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(bus_publish_sync(b, BUS_TOPIC_USER_EVENTS, alice.id, v[i], 10000), 0);
        json_decref(v[i]);
    }
    bus_free(b);
}

static long alice_rows(void)
{
    long n = 0;
    for (size_t i = 0; i < 4; i++)
        n += rows_of(owned[i][0], owned[i][1], alice.id);
    return n;
}

static void test_erasure_cascade(void **state)
{
    char body[512];
    static const char *const bad[] = {
        "{}",
        "{\"email_confirmation\":\"someone@example.org\"}",
        "{\"email_confirmation\":\"bob@example.org\"}",
        "{\"email_confirmation\":\"alice@example.org' OR '1'='1\"}",
        "{\"email_confirmation\":\"alice@example.org\",\"user_id\":\"x\"}",
        "{\"email_confirmation\":null}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct th_resp r;
        assert_int_equal(call("DELETE", gw->url, "/api/v1/users/me", alice.access, bad[i], &r),
                         422);
        assert_string_equal(err_code(&r), "validation_failed");
        th_resp_free(&r);
    }
    assert_int_equal(alice_rows(), 4);
    publish_noise();
    snprintf(body, sizeof(body), "{\"email_confirmation\":\"ALICE@example.org\"}");
    assert_int_equal(status_of("DELETE", gw->url, "/api/v1/users/me", alice.access, body), 204);
    /* the gateway's part is gone at once */
    assert_int_equal(rows_of("gateway.users", "id", alice.id), 0);
    assert_int_equal(rows_of("gateway.sessions", "user_id", alice.id), 0);
    assert_int_equal(rows_of("gateway.api_keys", "user_id", alice.id), 0);
    assert_int_equal(status_of("GET", gw->url, "/api/v1/users/me", alice.access, NULL), 401);
    snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", alice.refresh);
    assert_int_equal(status_of("POST", gw->url, "/api/v1/auth/refresh", NULL, body), 401);
    assert_int_equal(status_of("POST", gw->url, "/api/v1/auth/login", NULL,
                               "{\"email\":\"alice@example.org\",\"password\":\"erasure-pass-1\"}"),
                     401);
    /* every service erases its part (bounded wait: the consumer groups join in seconds) */
    for (int waited = 0; waited < ERASE_WAIT_MS && alice_rows() > 0; waited += 100)
        sleep_ms(100);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(rows_of(owned[i][0], owned[i][1], alice.id), 0);
        assert_int_equal(rows_of(owned[i][0], owned[i][1], bob.id), 1);
    }
    assert_int_equal(rows_of("gateway.users", "id", bob.id), 1);
    /* bob goes on as before */
    struct th_resp r;
    assert_int_equal(call("GET", gw->url, "/api/v1/users/me/export", bob.access, NULL, &r), 200);
    assert_int_equal(json_array_size(part_items(r.json, "selection", "datasets")), 1);
    assert_null(strstr(r.body, alice.id));
    th_resp_free(&r);
    for (size_t i = 0; i < 4; i++)
        assert_true(svcs[i]->pid > 0);
}

static void test_export_never_partial(void **state)
{
    assert_int_equal(th_service_stop(svcs[3]), 0);
    struct th_resp r;
    assert_int_equal(call("GET", gw->url, "/api/v1/users/me/export", bob.access, NULL, &r), 503);
    assert_string_equal(err_code(&r), "export_unavailable");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "details"), "service")),
        "model-serving");
    char retry[16];
    assert_int_equal(th_resp_header(&r, "Retry-After", retry, sizeof(retry)), 0);
    assert_null(strstr(r.body, bob.dataset));
    th_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_export_gathers_every_service, setup_people),
        cmocka_unit_test(test_internal_export_route),
        cmocka_unit_test(test_erasure_cascade),
        cmocka_unit_test(test_export_never_partial),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
