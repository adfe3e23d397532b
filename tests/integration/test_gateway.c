/* test_gateway: the first journey through the gateway: register, login (JSON and OAuth2
 * form), users/me, token attacks, the admin bootstrap, and /api/v1/datasets proxied to the
 * selection service. */
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
static char webdir[300];

static struct th_svc *gw, *sel;
static struct auth_keys *keys;

/* A tiny UI folder: index.html, app.js and a hidden file that must never be served. */
static int make_webdir(void)
{
    static const char *const files[][2] = {
        {"index.html", "<!doctype html><title>IBIS-X</title>"},
        {"app.js", "export const x = 1;"},
        {".secret", "do not serve"},
    };
    char path[400];
    snprintf(path, sizeof(path), "mkdir -p %s", webdir);
    if (system(path) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", webdir, files[i][0]);
        FILE *f = fopen(path, "w");
        if (!f)
            return -1;
        fputs(files[i][1], f);
        fclose(f);
    }
    return 0;
}

static int setup(void **state)
{
    if (ids_init() != 0 || th_stack_start(&st) != 0)
        return -1;
    sel = th_service_start(&st, "selection", NULL);
    if (!sel)
        return -1;
    /* the other upstreams point at closed ports: nothing here answers them */
    static char env[4][128];
    snprintf(env[0], sizeof(env[0]), "IBX_SELECTION_URL=%s", sel->url);
    snprintf(env[1], sizeof(env[1]), "IBX_PIPELINE_URL=http://127.0.0.1:%d", th_free_port());
    snprintf(env[2], sizeof(env[2]), "IBX_XAI_URL=http://127.0.0.1:%d", th_free_port());
    snprintf(env[3], sizeof(env[3]), "IBX_SERVING_URL=http://127.0.0.1:%d", th_free_port());
    static char web_env[320];
    snprintf(webdir, sizeof(webdir), "%s/web", st.dir);
    snprintf(web_env, sizeof(web_env), "IBX_WEB_DIR=%s", webdir);
    if (make_webdir() != 0)
        return -1;
    const char *extra[] = {env[0],
                           env[1],
                           env[2],
                           env[3],
                           "IBX_ADMIN_EMAIL=root@ibisx.test",
                           "IBX_ADMIN_PASSWORD=admin-password-1",
                           web_env,
                           NULL};
    gw = th_service_start(&st, "gateway", extra);
    if (!gw)
        return -1;
    return auth_keys_new_hs256(st.jwt_secret, &keys);
}

static int teardown(void **state)
{
    auth_keys_free(keys);
    return th_stack_stop(&st) == 0 ? 0 : -1;
}

static long call(const char *method, const char *path, const char *token, const char *ctype,
                 const char *body, struct th_resp *r)
{
    char url[512], auth[9000], ct[128];
    snprintf(url, sizeof(url), "%s%s", gw->url, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
    snprintf(ct, sizeof(ct), "Content-Type: %s", ctype ? ctype : "application/json");
    const char *hdrs[3] = {ct, NULL, NULL};
    if (token)
        hdrs[1] = auth;
    assert_int_equal(th_http(method, url, hdrs, body, r), 0);
    return r->status;
}

static const char *err_code(const struct th_resp *r)
{
    return json_string_value(json_object_get(r->json, "error"));
}

/* Register a fresh user; returns its access token (caller frees). */
static char *register_user(const char *email, const char *password)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\",\"display_name\":\"T\"}",
             email, password);
    struct th_resp r;
    assert_int_equal(call("POST", "/api/v1/auth/register", NULL, NULL, body, &r), 201);
    char *tok = strdup(json_string_value(json_object_get(r.json, "access_token")));
    assert_non_null(json_string_value(json_object_get(r.json, "refresh_token")));
    assert_string_equal(json_string_value(json_object_get(r.json, "token_type")), "bearer");
    assert_int_equal(json_integer_value(json_object_get(r.json, "expires_in")), 900);
    json_t *u = json_object_get(r.json, "user");
    assert_string_equal(json_string_value(json_object_get(u, "email")), email);
    assert_string_equal(json_string_value(json_object_get(u, "role")), "user");
    assert_null(json_object_get(u, "password_hash"));
    th_resp_free(&r);
    return tok;
}

static void test_register_login_me(void **state)
{
    char *tok = register_user("alice@example.org", "correct horse battery");
    struct th_resp r;
    assert_int_equal(call("GET", "/api/v1/users/me", tok, NULL, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "email")), "alice@example.org");
    assert_string_equal(json_string_value(json_object_get(r.json, "audience_level")), "novice");
    th_resp_free(&r);
    free(tok);

    assert_int_equal(
        call("POST", "/api/v1/auth/login", NULL, NULL,
             "{\"email\":\"ALICE@example.org\",\"password\":\"correct horse battery\"}", &r),
        200);
    tok = strdup(json_string_value(json_object_get(r.json, "access_token")));
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/users/me", tok, NULL, NULL, &r), 200);
    th_resp_free(&r);
    free(tok);

    /* the OAuth2 password form */
    assert_int_equal(call("POST", "/api/v1/auth/login", NULL, "application/x-www-form-urlencoded",
                          "username=alice%40example.org&password=correct+horse+battery", &r),
                     200);
    assert_non_null(json_string_value(json_object_get(r.json, "access_token")));
    th_resp_free(&r);
}

static const struct {
    const char *body;
    long status;
    const char *code;
} register_cases[] = {
    {"{\"email\":\"dup@example.org\",\"password\":\"password-123\"}", 201, NULL},
    {"{\"email\":\"DUP@example.org\",\"password\":\"password-123\"}", 409, "email_taken"},
    {"{\"email\":\"short@example.org\",\"password\":\"1234567\"}", 422, "validation_failed"},
    {"{\"email\":\"same@example.org\",\"password\":\"same@example.org\"}", 422,
     "validation_failed"},
    {"{\"email\":\"not-an-email\",\"password\":\"password-123\"}", 422, "validation_failed"},
    {"{\"email\":\"x@example.org\",\"password\":\"password-123\",\"role\":\"admin\"}", 422,
     "validation_failed"},
    {"{\"email\":\"x@example.org\",\"password\":12345678}", 422, "validation_failed"},
    {"{\"email\":\"x@example.org\",", 400, "invalid_json"},
    {"{\"email\":\"a@b.org\",\"email\":\"c@d.org\",\"password\":\"password-123\"}", 400,
     "invalid_json"},
    {"{\"email\":\"x'); DROP TABLE gateway.users; --@example.org\",\"password\":\"password-123\"}",
     422, "validation_failed"},
    {"{\"email\":\"o'brien@example.org\",\"password\":\"password-123\",\"display_name\":\"'; "
     "DELETE FROM gateway.users; --\"}",
     201, NULL},
};

static void test_register_bad_input(void **state)
{
    for (size_t i = 0; i < sizeof(register_cases) / sizeof(register_cases[0]); i++) {
        struct th_resp r;
        long s = call("POST", "/api/v1/auth/register", NULL, NULL, register_cases[i].body, &r);
        assert_int_equal(s, register_cases[i].status);
        if (register_cases[i].code)
            assert_string_equal(err_code(&r), register_cases[i].code);
        th_resp_free(&r);
    }
    /* the SQL-looking display name was stored verbatim and the table is intact */
    struct th_resp r;
    assert_int_equal(call("POST", "/api/v1/auth/login", NULL, NULL,
                          "{\"email\":\"o'brien@example.org\",\"password\":\"password-123\"}", &r),
                     200);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "user"), "display_name")),
        "'; DELETE FROM gateway.users; --");
    th_resp_free(&r);
    assert_int_equal(call("POST", "/api/v1/auth/login", NULL, NULL,
                          "{\"email\":\"dup@example.org\",\"password\":\"password-123\"}", &r),
                     200);
    th_resp_free(&r);
}

static void test_login_failures_are_uniform(void **state)
{
    char *tok = register_user("bob@example.org", "bob-password-1");
    free(tok);
    struct th_resp a, b;
    assert_int_equal(call("POST", "/api/v1/auth/login", NULL, NULL,
                          "{\"email\":\"bob@example.org\",\"password\":\"wrong-password\"}", &a),
                     401);
    assert_int_equal(call("POST", "/api/v1/auth/login", NULL, NULL,
                          "{\"email\":\"nobody@example.org\",\"password\":\"wrong-password\"}", &b),
                     401);
    assert_string_equal(err_code(&a), "invalid_credentials");
    assert_string_equal(err_code(&b), "invalid_credentials");
    assert_string_equal(json_string_value(json_object_get(a.json, "message")),
                        json_string_value(json_object_get(b.json, "message")));
    th_resp_free(&a);
    th_resp_free(&b);
    assert_int_equal(
        call("POST", "/api/v1/auth/login", NULL, NULL, "{\"email\":\"bob@example.org\"}", &a), 422);
    th_resp_free(&a);
}

static char *mint_access(const char *sub, long ttl, const char *aud)
{
    struct auth_claims c = {0};
    snprintf(c.sub, sizeof(c.sub), "%s", sub);
    snprintf(c.role, sizeof(c.role), "admin");
    snprintf(c.iss, sizeof(c.iss), "ibx-gateway");
    snprintf(c.aud, sizeof(c.aud), "%s", aud);
    snprintf(c.typ, sizeof(c.typ), "access");
    char *t = NULL;
    assert_int_equal(th_issue(keys, &c, ttl, &t), 0);
    return t;
}

static void test_token_attacks(void **state)
{
    char *tok = register_user("carol@example.org", "carol-password-1");
    struct th_resp r;
    assert_int_equal(call("GET", "/api/v1/users/me", tok, NULL, NULL, &r), 200);
    char id[64];
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(r.json, "id")));
    th_resp_free(&r);

    char tampered[4096];
    snprintf(tampered, sizeof(tampered), "%s", tok);
    char *dot = strchr(tampered, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A'; /* flip a payload character */
    char *expired = mint_access(id, -300, "ibx-api");
    char *internal_aud = mint_access(id, 60, "ibx-internal");
    char *huge = malloc(1 << 20);
    memset(huge, 'a', (1 << 20) - 1);
    huge[(1 << 20) - 1] = '\0';
    const char *alg_none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
    const char *attacks[] = {tampered, expired, internal_aud, alg_none, "x.y.z", NULL};
    for (size_t i = 0; attacks[i]; i++) {
        assert_int_equal(call("GET", "/api/v1/users/me", attacks[i], NULL, NULL, &r), 401);
        assert_string_equal(err_code(&r), "unauthorized");
        th_resp_free(&r);
    }
    /* a 1 MB token: refused (431 from the header limit or 401), never a crash */
    long s = call("GET", "/api/v1/users/me", huge, NULL, NULL, &r);
    assert_true(s == 401 || s == 431 || s == 413);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/users/me", NULL, NULL, NULL, &r), 401);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/users/me", tok, NULL, NULL, &r), 200);
    th_resp_free(&r);
    free(tok);
    free(expired);
    free(internal_aud);
    free(huge);
}

static void test_admin_bootstrap(void **state)
{
    struct th_resp r;
    assert_int_equal(call("POST", "/api/v1/auth/login", NULL, NULL,
                          "{\"email\":\"root@ibisx.test\",\"password\":\"admin-password-1\"}", &r),
                     200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "user"), "role")),
                        "admin");
    th_resp_free(&r);
}

static void test_datasets_through_gateway(void **state)
{
    char *tok = register_user("dave@example.org", "dave-password-1");
    struct th_resp r;
    assert_int_equal(call("GET", "/api/v1/datasets", tok, NULL, NULL, &r), 200);
    assert_true(json_is_array(json_object_get(r.json, "datasets")));
    assert_int_equal(json_integer_value(json_object_get(r.json, "total_count")), 0);
    assert_int_equal(json_integer_value(json_object_get(r.json, "page_size")), 12);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/datasets?page=2&page_size=5&sort_by=year&sort_order=desc",
                          tok, NULL, NULL, &r),
                     200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "page")), 2);
    assert_int_equal(json_integer_value(json_object_get(r.json, "page_size")), 5);
    th_resp_free(&r);
    static const char *const bad[] = {
        "/api/v1/datasets?page=-1", "/api/v1/datasets?page=abc", "/api/v1/datasets?page_size=101",
        "/api/v1/datasets?sort_by=password_hash", "/api/v1/datasets?sort_order=sideways"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(call("GET", bad[i], tok, NULL, NULL, &r), 400);
        assert_string_equal(err_code(&r), "invalid_query");
        th_resp_free(&r);
    }
    assert_int_equal(call("GET", "/api/v1/datasets", NULL, NULL, NULL, &r), 401);
    th_resp_free(&r);
    free(tok);
}

static void test_upstream_down(void **state)
{
    char *tok = register_user("erin@example.org", "erin-password-1");
    assert_int_equal(th_service_stop(sel), 0);
    struct th_resp r;
    assert_int_equal(call("GET", "/api/v1/datasets", tok, NULL, NULL, &r), 503);
    assert_string_equal(err_code(&r), "upstream_unavailable");
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/experiments", tok, NULL, NULL, &r), 503);
    th_resp_free(&r);
    free(tok);
}

static void test_web_ui_files(void **state)
{
    static const struct {
        const char *path;
        long status;
        const char *ctype;
        const char *body_has;
    } cases[] = {
        {"/", 200, "text/html; charset=utf-8", "<title>IBIS-X</title>"},
        {"/app.js", 200, "text/javascript; charset=utf-8", "export const x"},
        {"/datasets/some/app/route", 200, "text/html; charset=utf-8", "<title>IBIS-X</title>"},
        {"/missing.js", 404, "application/json", "not_found"},
        {"/.secret", 404, "application/json", "not_found"},
        {"/api/v1/nothing", 404, "application/json", "not_found"},
        {"/v1/models", 401, "application/json", "unauthorized"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct th_resp r;
        char url[256], v[256];
        snprintf(url, sizeof(url), "%s%s", gw->url, cases[i].path);
        assert_int_equal(th_http("GET", url, NULL, NULL, &r), 0);
        assert_int_equal(r.status, cases[i].status);
        assert_int_equal(th_resp_header(&r, "Content-Type", v, sizeof(v)), 0);
        assert_string_equal(v, cases[i].ctype);
        assert_non_null(strstr(r.body, cases[i].body_has));
        if (r.status == 200) {
            assert_int_equal(th_resp_header(&r, "Content-Security-Policy", v, sizeof(v)), 0);
            assert_non_null(strstr(v, "default-src 'self'"));
        }
        th_resp_free(&r);
    }
    /* traversal as raw requests (curl would normalise the path) */
    static const char *const raw[] = {
        "GET /../../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /..%2f..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
        char reply[8192];
        assert_true(th_raw(gw->port, raw[i], strlen(raw[i]), reply, sizeof(reply)) > 0);
        assert_null(strstr(reply, "root:"));
        assert_non_null(strstr(reply, " 404 "));
    }
    /* other methods on unknown paths are a plain 404, not the UI */
    struct th_resp r;
    assert_int_equal(call("POST", "/nothing", NULL, NULL, "{}", &r), 404);
    th_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_login_me),
        cmocka_unit_test(test_register_bad_input),
        cmocka_unit_test(test_login_failures_are_uniform),
        cmocka_unit_test(test_token_attacks),
        cmocka_unit_test(test_admin_bootstrap),
        cmocka_unit_test(test_datasets_through_gateway),
        cmocka_unit_test(test_web_ui_files),
        cmocka_unit_test(test_upstream_down),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
