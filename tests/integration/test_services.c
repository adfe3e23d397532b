/* test_services: every service starts, migrates, answers its built-ins, and refuses
 * requests without a valid internal token; body limits, request ids, config errors and
 * graceful shutdown, against real binaries, PostgreSQL and the dev broker. */
#include "th_stack.h"
#include "th_tokens.h"

#include <ibx/auth.h>
#include <ibx/ids.h>

#include <setjmp.h>
#include <time.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static struct th_stack st;

static const char *const names[] = {"selection", "ml-pipeline", "xai-engine", "model-serving"};
static const char *const list_paths[] = {"/api/v1/datasets", "/api/v1/experiments",
                                         "/api/v1/explanations", "/api/v1/deployments"};
static struct th_svc *svcs[4];
static struct auth_keys *keys;

static int setup(void **state)
{
    if (ids_init() != 0 || th_stack_start(&st) != 0)
        return -1;
    for (size_t i = 0; i < 4; i++) {
        svcs[i] = th_service_start(&st, names[i], NULL);
        if (!svcs[i])
            return -1;
    }
    return auth_keys_new_hs256(st.jwt_secret, &keys);
}

static int teardown(void **state)
{
    auth_keys_free(keys);
    return th_stack_stop(&st) == 0 ? 0 : -1;
}

/* An internal token as the gateway would mint it; overrides for attacks. */
static char *mint(const char *aud, const char *typ, long ttl, struct auth_keys *k)
{
    struct auth_claims c = {0};
    ids_uuid4(c.sub);
    snprintf(c.role, sizeof(c.role), "user");
    snprintf(c.iss, sizeof(c.iss), "ibx-gateway");
    snprintf(c.aud, sizeof(c.aud), "%s", aud);
    snprintf(c.typ, sizeof(c.typ), "%s", typ);
    char *tok = NULL;
    assert_int_equal(th_issue(k ? k : keys, &c, ttl, &tok), 0);
    return tok;
}

static long get_status(const char *url, const char *token, struct th_resp *r)
{
    char h[9000];
    snprintf(h, sizeof(h), "Authorization: Bearer %s", token ? token : "");
    const char *hdrs[] = {h, NULL};
    assert_int_equal(th_http("GET", url, token ? hdrs : NULL, NULL, r), 0);
    return r->status;
}

static void assert_error_format(const struct th_resp *r, const char *code)
{
    assert_non_null(r->json);
    assert_string_equal(json_string_value(json_object_get(r->json, "error")), code);
    assert_non_null(json_string_value(json_object_get(r->json, "message")));
    assert_true(json_is_object(json_object_get(r->json, "details")));
    assert_true(strlen(json_string_value(json_object_get(r->json, "request_id"))) > 0);
}

static void test_builtins(void **state)
{
    for (size_t i = 0; i < 4; i++) {
        char url[160];
        struct th_resp r;
        snprintf(url, sizeof(url), "%s/healthz", svcs[i]->url);
        assert_int_equal(get_status(url, NULL, &r), 200);
        assert_string_equal(json_string_value(json_object_get(r.json, "status")), "ok");
        th_resp_free(&r);
        snprintf(url, sizeof(url), "%s/readyz", svcs[i]->url);
        assert_int_equal(get_status(url, NULL, &r), 200);
        th_resp_free(&r);
        snprintf(url, sizeof(url), "%s/openapi.json", svcs[i]->url);
        assert_int_equal(get_status(url, NULL, &r), 200);
        assert_non_null(json_object_get(json_object_get(r.json, "paths"), list_paths[i]));
        th_resp_free(&r);
        snprintf(url, sizeof(url), "%s/metrics", svcs[i]->url);
        assert_int_equal(get_status(url, NULL, &r), 200);
        assert_non_null(strstr(r.body, "# TYPE http_requests_total counter"));
        assert_non_null(strstr(r.body, "route=\"/readyz\""));
        assert_non_null(strstr(r.body, "http_request_duration_seconds_bucket"));
        th_resp_free(&r);
    }
}

static void test_internal_token_required(void **state)
{
    struct auth_keys *other = NULL;
    assert_int_equal(auth_keys_new_hs256("another-secret-another-secret-another-secret", &other),
                     0);
    char *good = mint("ibx-internal", "internal", 60, NULL);
    char *user_access = mint("ibx-api", "access", 60, NULL); /* a user token, not internal */
    char *forged = mint("ibx-internal", "internal", 60, other);
    char *expired = mint("ibx-internal", "internal", -120, NULL);
    const char *alg_none =
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
        "eyJzdWIiOiIxMjM0NTY3OC0xMjM0LTEyMzQtMTIzNC0xMjM0NTY3ODkwMTIiLCJ0eXAiOiJp"
        "bnRlcm5hbCJ9.";
    const char *bad[] = {NULL, user_access, forged, expired, alg_none, "garbage"};
    for (size_t i = 0; i < 4; i++) {
        char url[160];
        snprintf(url, sizeof(url), "%s%s", svcs[i]->url, list_paths[i]);
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
            struct th_resp r;
            assert_int_equal(get_status(url, bad[k], &r), 401);
            assert_error_format(&r, "unauthorized");
            th_resp_free(&r);
        }
        struct th_resp r;
        assert_int_equal(get_status(url, good, &r), 200);
        assert_int_equal(json_integer_value(json_object_get(r.json, "total_count")), 0);
        assert_int_equal(json_integer_value(json_object_get(r.json, "page")), 1);
        th_resp_free(&r);
    }
    free(good);
    free(user_access);
    free(forged);
    free(expired);
    auth_keys_free(other);
}

static void test_not_found_and_method(void **state)
{
    char url[160];
    struct th_resp r;
    snprintf(url, sizeof(url), "%s/api/v1/nothing-here", svcs[0]->url);
    assert_int_equal(get_status(url, NULL, &r), 404);
    assert_error_format(&r, "not_found");
    th_resp_free(&r);
    snprintf(url, sizeof(url), "%s/api/v1/projects/x/recommendations", svcs[0]->url);
    assert_int_equal(th_http("DELETE", url, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 405);
    char allow[64];
    assert_int_equal(th_resp_header(&r, "Allow", allow, sizeof(allow)), 0);
    assert_string_equal(allow, "GET");
    th_resp_free(&r);
}

static void test_request_id(void **state)
{
    char url[160];
    snprintf(url, sizeof(url), "%s/api/v1/datasets", svcs[0]->url);
    const char *hdrs[] = {"X-Request-Id: trace-abc-123", NULL};
    struct th_resp r;
    assert_int_equal(th_http("GET", url, hdrs, NULL, &r), 0);
    char rid[80];
    assert_int_equal(th_resp_header(&r, "X-Request-Id", rid, sizeof(rid)), 0);
    assert_string_equal(rid, "trace-abc-123");
    assert_string_equal(json_string_value(json_object_get(r.json, "request_id")), "trace-abc-123");
    th_resp_free(&r);
    /* an unsafe id is replaced by a generated one */
    const char *bad[] = {"X-Request-Id: <script>", NULL};
    assert_int_equal(th_http("GET", url, bad, NULL, &r), 0);
    assert_int_equal(th_resp_header(&r, "X-Request-Id", rid, sizeof(rid)), 0);
    assert_true(ids_is_uuid(rid));
    th_resp_free(&r);
}

static void test_security_headers(void **state)
{
    char url[160], v[200];
    snprintf(url, sizeof(url), "%s/healthz", svcs[1]->url);
    struct th_resp r;
    assert_int_equal(th_http("GET", url, NULL, NULL, &r), 0);
    assert_int_equal(th_resp_header(&r, "X-Content-Type-Options", v, sizeof(v)), 0);
    assert_string_equal(v, "nosniff");
    assert_int_equal(th_resp_header(&r, "X-Frame-Options", v, sizeof(v)), 0);
    assert_string_equal(v, "DENY");
    assert_int_equal(th_resp_header(&r, "Content-Type", v, sizeof(v)), 0);
    assert_string_equal(v, "application/json");
    th_resp_free(&r);
}

/* 10 MB declared on a 1 MB route (a JSON route; uploads take more): 413 before the body is
 * sent. */
static void test_body_limit_declared(void **state)
{
    char req[512], reply[4096];
    int n = snprintf(req, sizeof(req),
                     "POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     "application/json\r\nContent-Length: 10485760\r\n\r\n");
    assert_true(th_raw(svcs[0]->port, req, (size_t)n, reply, sizeof(reply)) > 0);
    assert_non_null(strstr(reply, "HTTP/1.1 413"));
    assert_non_null(strstr(reply, "payload_too_large"));
}

/* A chunked body that grows past the limit is cut off with 413. */
static void test_body_limit_chunked(void **state)
{
    size_t total = 2 * 1024 * 1024 + 4096;
    char *req = malloc(total);
    size_t off = (size_t)snprintf(req, total,
                                  "POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                                  "chunked\r\n\r\n");
    const size_t chunk = 64 * 1024;
    while (off + chunk + 32 < total - 16) {
        off += (size_t)snprintf(req + off, total - off, "%zx\r\n", chunk);
        memset(req + off, 'a', chunk);
        off += chunk;
        memcpy(req + off, "\r\n", 2);
        off += 2;
    }
    off += (size_t)snprintf(req + off, total - off, "0\r\n\r\n");
    char reply[4096];
    assert_true(th_raw(svcs[0]->port, req, off, reply, sizeof(reply)) > 0);
    assert_non_null(strstr(reply, "HTTP/1.1 413"));
    free(req);
}

static void test_bad_config_stops_startup(void **state)
{
    char bin[512], err[4096];
    snprintf(bin, sizeof(bin), "%s/ibx-selection",
             getenv("IBX_BIN_DIR") ? getenv("IBX_BIN_DIR") : "build/release/bin");
    char db[600], br[300];
    snprintf(db, sizeof(db), "IBX_DATABASE_URL=%s", st.db_url);
    snprintf(br, sizeof(br), "IBX_KAFKA_BROKERS=%s", st.brokers);
    const char *bad_level[] = {db, br, "IBX_JWT_SECRET=0123456789abcdef0123456789abcdef",
                               "IBX_LOG_LEVEL=verbose", NULL};
    assert_int_equal(th_run_capture(bin, bad_level, err, sizeof(err)), 2);
    assert_non_null(strstr(err, "IBX_LOG_LEVEL"));
    assert_non_null(strstr(err, "verbose"));
    const char *bad_port[] = {db, br, "IBX_JWT_SECRET=0123456789abcdef0123456789abcdef", "PORT=80a",
                              NULL};
    assert_int_equal(th_run_capture(bin, bad_port, err, sizeof(err)), 2);
    assert_non_null(strstr(err, "PORT"));
    const char *no_db[] = {"IBX_DATABASE_URL=", br, NULL};
    assert_int_equal(th_run_capture(bin, no_db, err, sizeof(err)), 2);
    assert_non_null(strstr(err, "IBX_DATABASE_URL"));
}

static void test_sigterm_exits_cleanly(void **state)
{
    struct th_svc *s = th_service_start(&st, "selection", NULL);
    assert_non_null(s);
    assert_int_equal(th_service_stop(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_internal_token_required),
        cmocka_unit_test(test_not_found_and_method),
        cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_security_headers),
        cmocka_unit_test(test_body_limit_declared),
        cmocka_unit_test(test_body_limit_chunked),
        cmocka_unit_test(test_bad_config_stops_startup),
        cmocka_unit_test(test_sigterm_exits_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
