/* test_api_keys: API keys through two gateway replicas: the secret shown once and only its
 * hash stored (checked with libpq across the whole gateway schema), listing, validation,
 * scopes per route class, keys kept away from key and account management, revocation
 * (another user's key is 404; a revoked key stops on the other replica within the cache
 * bound), expiry, a key's own rate limit, and last_used_at. */
#include "th_stack.h"

#include <ibx/hash.h>
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

#define CACHE_S 2 /* IBX_API_KEY_CACHE_S of both replicas: the revocation bound */

static struct th_stack st;
static struct th_svc *gw_a, *gw_b;

static int setup(void **state)
{
    if (ids_init() != 0 || th_stack_start(&st) != 0)
        return -1;
    static char env[3][96], cache[64];
    /* upstreams on closed ports: an admitted proxied request answers 502/503, never 403 */
    snprintf(env[0], sizeof(env[0]), "IBX_PIPELINE_URL=http://127.0.0.1:%d", th_free_port());
    snprintf(env[1], sizeof(env[1]), "IBX_SERVING_URL=http://127.0.0.1:%d", th_free_port());
    snprintf(env[2], sizeof(env[2]), "IBX_SELECTION_URL=http://127.0.0.1:%d", th_free_port());
    snprintf(cache, sizeof(cache), "IBX_API_KEY_CACHE_S=%d", CACHE_S);
    const char *extra[] = {env[0], env[1], env[2], cache, NULL};
    gw_a = th_service_start(&st, "gateway", extra);
    gw_b = gw_a ? th_service_start(&st, "gateway", extra) : NULL;
    return gw_b ? 0 : -1;
}

static int teardown(void **state)
{
    return th_stack_stop(&st) == 0 ? 0 : -1;
}

static long call(const struct th_svc *gw, const char *method, const char *path, const char *token,
                 const char *body, struct th_resp *r)
{
    long status = th_call(gw->url, method, path, token, body, r);
    assert_true(status > 0);
    return status;
}

static const char *err_code(const struct th_resp *r)
{
    return json_string_value(json_object_get(r->json, "error"));
}

/* Register a user; its access token (caller frees). */
static char *user(const char *email)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"a long passphrase\"}", email);
    struct th_resp r;
    assert_int_equal(call(gw_a, "POST", "/api/v1/auth/register", NULL, body, &r), 201);
    char *t = strdup(json_string_value(json_object_get(r.json, "access_token")));
    th_resp_free(&r);
    return t;
}

/* Create a key; its secret (caller frees) and id. */
static char *new_key(const char *token, const char *body, char id[64])
{
    struct th_resp r;
    assert_int_equal(call(gw_a, "POST", "/api/v1/api-keys", token, body, &r), 201);
    char *secret = strdup(json_string_value(json_object_get(r.json, "key")));
    snprintf(id, 64, "%s", json_string_value(json_object_get(r.json, "id")));
    th_resp_free(&r);
    return secret;
}

/* Rows of every table in the gateway schema whose text contains needle. */
static long rows_containing(PGconn *db, const char *needle)
{
    PGresult *t = PQexec(db, "SELECT table_name FROM information_schema.tables WHERE "
                             "table_schema = 'gateway' AND table_type = 'BASE TABLE'");
    assert_int_equal(PQresultStatus(t), PGRES_TUPLES_OK);
    assert_true(PQntuples(t) >= 5);
    long hits = 0;
    for (int i = 0; i < PQntuples(t); i++) {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM gateway.\"%s\" x WHERE strpos(x::text, $1) > 0",
                 PQgetvalue(t, i, 0));
        const char *p[] = {needle};
        PGresult *r = PQexecParams(db, sql, 1, NULL, p, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        hits += strtol(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    PQclear(t);
    return hits;
}

static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static void test_secret_once_hash_only(void **state)
{
    char *tok = user("ada@example.org");
    struct th_resp r;
    assert_int_equal(call(gw_a, "POST", "/api/v1/api-keys", tok,
                          "{\"name\":\"ci\",\"scopes\":[\"read\",\"llm\"],"
                          "\"limits\":{\"requests_per_minute\":100}}",
                          &r),
                     201);
    const char *secret = json_string_value(json_object_get(r.json, "key"));
    assert_non_null(secret);
    assert_int_equal(strncmp(secret, "ibx_", 4), 0);
    assert_int_equal(strlen(secret), 47);
    char prefix[16];
    snprintf(prefix, sizeof(prefix), "%s", json_string_value(json_object_get(r.json, "prefix")));
    assert_int_equal(strlen(prefix), 12);
    assert_int_equal(strncmp(secret, prefix, 12), 0);
    assert_null(json_object_get(r.json, "key_hash"));
    char v[64], id[64], sec[64];
    assert_int_equal(th_resp_header(&r, "Cache-Control", v, sizeof(v)), 0);
    assert_string_equal(v, "no-store");
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(r.json, "id")));
    snprintf(sec, sizeof(sec), "%s", secret);
    th_resp_free(&r);

    /* the key works wherever a token does */
    assert_int_equal(call(gw_b, "GET", "/api/v1/quota", sec, NULL, &r), 200);
    th_resp_free(&r);

    /* listed without its secret or hash; scopes in canonical order */
    assert_int_equal(call(gw_a, "GET", "/api/v1/api-keys", tok, NULL, &r), 200);
    json_t *keys = json_object_get(r.json, "api_keys");
    assert_int_equal(json_array_size(keys), 1);
    json_t *k = json_array_get(keys, 0);
    assert_string_equal(json_string_value(json_object_get(k, "id")), id);
    assert_string_equal(json_string_value(json_object_get(k, "prefix")), prefix);
    assert_string_equal(json_string_value(json_object_get(k, "name")), "ci");
    assert_string_equal(json_string_value(json_array_get(json_object_get(k, "scopes"), 0)), "llm");
    assert_string_equal(json_string_value(json_array_get(json_object_get(k, "scopes"), 1)), "read");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(k, "limits"), "requests_per_minute")),
        100);
    assert_true(json_is_false(json_object_get(k, "revoked")));
    assert_true(json_is_null(json_object_get(k, "expires_at")));
    assert_null(json_object_get(k, "key"));
    assert_null(json_object_get(k, "key_hash"));
    assert_null(strstr(r.body, sec + 12));
    th_resp_free(&r);

    /* PostgreSQL holds the SHA-256 and the display prefix, never the secret */
    PGconn *db = PQconnectdb(st.db_url);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    char hex[65];
    hash_sha256_hex(sec, strlen(sec), hex);
    assert_int_equal(rows_containing(db, hex), 1);
    assert_int_equal(rows_containing(db, sec), 0);
    assert_int_equal(rows_containing(db, sec + 12), 0); /* the part after the prefix */
    PQfinish(db);
    assert_false(file_contains(gw_a->log, sec + 12));
    assert_false(file_contains(gw_b->log, sec + 12));

    /* last_used_at is written shortly after the first use (at most once a minute) */
    int seen = 0;
    for (int i = 0; i < 50 && !seen; i++) {
        assert_int_equal(call(gw_a, "GET", "/api/v1/api-keys", tok, NULL, &r), 200);
        json_t *lu =
            json_object_get(json_array_get(json_object_get(r.json, "api_keys"), 0), "last_used_at");
        seen = json_is_string(lu);
        th_resp_free(&r);
        if (!seen)
            nanosleep(&(struct timespec){0, 100000000L}, NULL);
    }
    assert_true(seen);
    free(tok);
}

static void test_create_validation(void **state)
{
    static const struct {
        const char *body;
        long status;
        const char *code;
        const char *field;
    } cases[] = {
        {"{\"name\":\"x\",\"scopes\":[\"admin\"]}", 422, "validation_failed", "scopes"},
        {"{\"name\":\"x\",\"scopes\":[]}", 422, "validation_failed", "scopes"},
        {"{\"name\":\"x\",\"scopes\":[\"read\",\"read\"]}", 422, "validation_failed", "scopes"},
        {"{\"name\":\"x\",\"scopes\":[\"read\",7]}", 422, "validation_failed", "scopes"},
        {"{\"name\":\"x\",\"scopes\":\"read\"}", 422, "validation_failed", "scopes"},
        {"{\"scopes\":[\"read\"]}", 422, "validation_failed", "name"},
        {"{\"name\":\"\",\"scopes\":[\"read\"]}", 422, "validation_failed", "name"},
        {"{\"name\":\"x\",\"scopes\":[\"read\"],\"expires_at\":\"tomorrow\"}", 422,
         "validation_failed", "expires_at"},
        {"{\"name\":\"x\",\"scopes\":[\"read\"],\"expires_at\":\"2020-01-01T00:00:00Z\"}", 422,
         "validation_failed", "expires_at"},
        {"{\"name\":\"x\",\"scopes\":[\"read\"],\"expires_at\":\"2031-02-30T00:00:00Z\"}", 422,
         "validation_failed", "expires_at"},
        {"{\"name\":\"x\",\"scopes\":[\"read\"],\"limits\":{\"requests_per_minute\":0}}", 422,
         "validation_failed", "requests_per_minute"},
        {"{\"name\":\"x\",\"scopes\":[\"read\"],\"limits\":{\"burst\":5}}", 422,
         "validation_failed", "burst"},
        {"{\"name\":\"x\",\"scopes\":[\"read\"],\"owner\":\"someone\"}", 422, "validation_failed",
         "owner"},
        {"{\"name\":\"x\",", 400, "invalid_json", NULL},
        {"{\"name\":\"x\",\"scopes\":[\"read\"],\"expires_at\":\"2031-01-31T00:00:00+02:00\"}", 201,
         NULL, NULL},
    };
    char *tok = user("val@example.org");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct th_resp r;
        long s = call(gw_a, "POST", "/api/v1/api-keys", tok, cases[i].body, &r);
        if (s != cases[i].status)
            fail_msg("case %zu: %ld %s", i, s, r.body);
        if (cases[i].code)
            assert_string_equal(err_code(&r), cases[i].code);
        if (cases[i].field)
            assert_non_null(strstr(r.body, cases[i].field));
        if (s == 201)
            assert_string_equal(json_string_value(json_object_get(r.json, "expires_at")),
                                "2031-01-30T22:00:00Z");
        th_resp_free(&r);
    }
    free(tok);
}

static void test_scopes_per_route_class(void **state)
{
    char *tok = user("scopes@example.org");
    char id[64];
    char *k_read = new_key(tok, "{\"name\":\"r\",\"scopes\":[\"read\"]}", id);
    char *k_write = new_key(tok, "{\"name\":\"w\",\"scopes\":[\"write\"]}", id);
    char *k_llm = new_key(tok, "{\"name\":\"l\",\"scopes\":[\"llm\"]}", id);
    char *k_pred = new_key(tok, "{\"name\":\"p\",\"scopes\":[\"predict\"]}", id);
    const struct {
        const char *key, *method, *path, *need; /* need NULL: admitted */
    } cases[] = {
        {k_read, "GET", "/api/v1/quota", NULL},
        {k_read, "GET", "/api/v1/datasets", NULL},
        {k_read, "POST", "/api/v1/datasets", "write"},
        {k_write, "POST", "/api/v1/datasets", NULL},
        {k_write, "GET", "/api/v1/experiments", "read"},
        {k_read, "POST", "/v1/chat/completions", "llm"},
        {k_llm, "POST", "/v1/chat/completions", NULL},
        {k_llm, "GET", "/v1/models", NULL},
        {k_llm, "POST", "/api/v1/llm/chat", NULL},
        {k_write, "POST", "/api/v1/models/m1/predict", "predict"},
        {k_pred, "POST", "/api/v1/models/m1/predict", NULL},
        {k_pred, "POST", "/v2/models/m1/infer", NULL},
        {k_llm, "POST", "/v2/models/m1/infer", "predict"},
        {k_pred, "POST", "/api/v1/models/m1", "write"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct th_resp r;
        long s = call(gw_b, cases[i].method, cases[i].path, cases[i].key, "{}", &r);
        if (!cases[i].need) {
            if (s == 401 || s == 403 || s == 429)
                fail_msg("case %zu (%s %s): %ld %s", i, cases[i].method, cases[i].path, s, r.body);
        } else if (strncmp(cases[i].path, "/v1/", 4) == 0) {
            /* OpenAI's error object on OpenAI routes */
            assert_int_equal(s, 403);
            json_t *e = json_object_get(r.json, "error");
            assert_string_equal(json_string_value(json_object_get(e, "code")),
                                "insufficient_scope");
            assert_non_null(
                strstr(json_string_value(json_object_get(e, "message")), cases[i].need));
        } else if (strncmp(cases[i].path, "/v2/", 4) == 0) {
            assert_int_equal(s, 403);
            assert_non_null(strstr(err_code(&r), cases[i].need));
        } else {
            if (s != 403)
                fail_msg("case %zu (%s %s): %ld %s", i, cases[i].method, cases[i].path, s, r.body);
            assert_string_equal(err_code(&r), "insufficient_scope");
            assert_string_equal(json_string_value(json_object_get(
                                    json_object_get(r.json, "details"), "required_scope")),
                                cases[i].need);
        }
        th_resp_free(&r);
    }
    free(k_read);
    free(k_write);
    free(k_llm);
    free(k_pred);
    free(tok);
}

static void test_keys_cannot_manage_keys_or_accounts(void **state)
{
    char *tok = user("manage@example.org");
    char id[64], path[128];
    char *key =
        new_key(tok, "{\"name\":\"all\",\"scopes\":[\"read\",\"write\",\"llm\",\"predict\"]}", id);
    snprintf(path, sizeof(path), "/api/v1/api-keys/%s", id);
    const struct {
        const char *method, *path;
    } cases[] = {
        {"GET", "/api/v1/api-keys"},
        {"POST", "/api/v1/api-keys"},
        {"DELETE", path},
        {"GET", "/api/v1/users/me"},
        {"PATCH", "/api/v1/users/me"},
        {"GET", "/api/v1/admin/users"},
        {"POST", "/api/v1/auth/logout"},
        {"GET", "/api/v1/users/me/export"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct th_resp r;
        long s = call(gw_a, cases[i].method, cases[i].path, key, "{}", &r);
        if (s != 403)
            fail_msg("%s %s: %ld %s", cases[i].method, cases[i].path, s, r.body);
        assert_string_equal(err_code(&r), "forbidden");
        th_resp_free(&r);
    }
    /* and the key is still there */
    struct th_resp r;
    assert_int_equal(call(gw_a, "GET", "/api/v1/quota", key, NULL, &r), 200);
    th_resp_free(&r);
    free(key);
    free(tok);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_revocation(void **state)
{
    char *alice = user("rev-alice@example.org"), *mallory = user("rev-mallory@example.org");
    char id[64], path[128];
    char *key = new_key(alice, "{\"name\":\"rev\",\"scopes\":[\"read\"]}", id);
    snprintf(path, sizeof(path), "/api/v1/api-keys/%s", id);
    struct th_resp r;
    /* someone else's key, an unknown id and a malformed id are all 404 */
    const char *other[] = {path, "/api/v1/api-keys/3f2504e0-4f89-41d3-9a0c-0305e82c3301",
                           "/api/v1/api-keys/not-a-uuid"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(call(gw_a, "DELETE", other[i], mallory, NULL, &r), 404);
        assert_string_equal(err_code(&r), "not_found");
        th_resp_free(&r);
    }
    /* replica B has the key in its cache */
    assert_int_equal(call(gw_b, "GET", "/api/v1/quota", key, NULL, &r), 200);
    th_resp_free(&r);
    assert_int_equal(call(gw_a, "DELETE", path, alice, NULL, &r), 204);
    th_resp_free(&r);
    long long revoked_at = now_ms();
    /* the replica that revoked forgets at once */
    assert_int_equal(call(gw_a, "GET", "/api/v1/quota", key, NULL, &r), 401);
    th_resp_free(&r);
    /* the other stops within the cache bound */
    long long stopped_at = 0;
    while (!stopped_at && now_ms() - revoked_at < (CACHE_S + 3) * 1000LL) {
        long s = call(gw_b, "GET", "/api/v1/quota", key, NULL, &r);
        th_resp_free(&r);
        if (s == 401)
            stopped_at = now_ms();
        else
            nanosleep(&(struct timespec){0, 50000000L}, NULL);
    }
    assert_true(stopped_at > 0);
    assert_true(stopped_at - revoked_at <= CACHE_S * 1000LL + 500);
    /* listed as revoked; revoking again is fine */
    assert_int_equal(call(gw_a, "GET", "/api/v1/api-keys", alice, NULL, &r), 200);
    assert_true(json_is_true(
        json_object_get(json_array_get(json_object_get(r.json, "api_keys"), 0), "revoked")));
    th_resp_free(&r);
    assert_int_equal(call(gw_a, "DELETE", path, alice, NULL, &r), 204);
    th_resp_free(&r);
    free(key);
    free(alice);
    free(mallory);
}

static void test_expiry_and_bad_secrets(void **state)
{
    char *tok = user("exp@example.org");
    time_t t = time(NULL) + 2;
    struct tm tm;
    gmtime_r(&t, &tm);
    char when[32], body[160], id[64];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(body, sizeof(body), "{\"name\":\"short\",\"scopes\":[\"read\"],\"expires_at\":\"%s\"}",
             when);
    char *key = new_key(tok, body, id);
    struct th_resp r;
    assert_int_equal(call(gw_a, "GET", "/api/v1/quota", key, NULL, &r), 200);
    th_resp_free(&r);
    nanosleep(&(struct timespec){3, 0}, NULL);
    assert_int_equal(call(gw_a, "GET", "/api/v1/quota", key, NULL, &r), 401);
    th_resp_free(&r);
    static const char *const bad[] = {"ibx_", "ibx_short",
                                      "ibx_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
                                      "ibx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(call(gw_a, "GET", "/api/v1/quota", bad[i], NULL, &r), 401);
        assert_string_equal(err_code(&r), "unauthorized");
        th_resp_free(&r);
    }
    free(key);
    free(tok);
}

static void test_key_rate_limit_overrides_class(void **state)
{
    char *tok = user("rpm@example.org");
    char id[64], v[32];
    char *key = new_key(
        tok, "{\"name\":\"slow\",\"scopes\":[\"read\"],\"limits\":{\"requests_per_minute\":3}}",
        id);
    struct th_resp r;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(call(gw_a, "GET", "/api/v1/quota", key, NULL, &r), 200);
        assert_int_equal(th_resp_header(&r, "RateLimit-Limit", v, sizeof(v)), 0);
        assert_string_equal(v, "3");
        th_resp_free(&r);
    }
    assert_int_equal(call(gw_a, "GET", "/api/v1/quota", key, NULL, &r), 429);
    assert_string_equal(err_code(&r), "rate_limited");
    assert_int_equal(th_resp_header(&r, "Retry-After", v, sizeof(v)), 0);
    long retry = strtol(v, NULL, 10);
    assert_true(retry >= 1 && retry <= 20);
    th_resp_free(&r);
    /* the owner's own token is another identity with the class limit */
    assert_int_equal(call(gw_a, "GET", "/api/v1/quota", tok, NULL, &r), 200);
    th_resp_free(&r);
    free(key);
    free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_once_hash_only),
        cmocka_unit_test(test_create_validation),
        cmocka_unit_test(test_scopes_per_route_class),
        cmocka_unit_test(test_keys_cannot_manage_keys_or_accounts),
        cmocka_unit_test(test_revocation),
        cmocka_unit_test(test_expiry_and_bad_secrets),
        cmocka_unit_test(test_key_rate_limit_overrides_class),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
