/* test_accounts: sessions and accounts through the real gateway: refresh-token rotation,
 * reuse detection, concurrent refreshes, logout, profile changes, password changes, and
 * admin user management (roles, deactivation, self-lockout), with hostile input. */
#include "th_stack.h"

#include <ibx/hash.h>
#include <ibx/ids.h>

#include <libpq-fe.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define ADMIN_EMAIL    "root@ibisx.test"
#define ADMIN_PASSWORD "admin-password-1"

static struct th_stack st;
static struct th_svc *gw;
static PGconn *pg;

/* One signed-in session. */
struct sess {
    char id[64];
    char email[128];
    char access[2048];
    char refresh[256];
};

static int setup(void **state)
{
    if (ids_init() != 0 || th_stack_start(&st) != 0)
        return -1;
    const char *extra[] = {"IBX_ADMIN_EMAIL=" ADMIN_EMAIL, "IBX_ADMIN_PASSWORD=" ADMIN_PASSWORD,
                           NULL};
    gw = th_service_start(&st, "gateway", extra);
    if (!gw)
        return -1;
    pg = PQconnectdb(st.db_url);
    return PQstatus(pg) == CONNECTION_OK ? 0 : -1;
}

static int teardown(void **state)
{
    PQfinish(pg);
    return th_stack_stop(&st) == 0 ? 0 : -1;
}

static long call(const char *method, const char *path, const char *token, const char *body,
                 struct th_resp *r)
{
    char url[512], auth[4096];
    snprintf(url, sizeof(url), "%s%s", gw->url, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
    const char *hdrs[] = {"Content-Type: application/json", token ? auth : NULL, NULL};
    assert_int_equal(th_http(method, url, hdrs, body, r), 0);
    return r->status;
}

/* call() for a status only. */
static long status_of(const char *method, const char *path, const char *token, const char *body)
{
    struct th_resp r;
    long s = call(method, path, token, body, &r);
    th_resp_free(&r);
    return s;
}

static const char *err_code(const struct th_resp *r)
{
    const char *c = json_string_value(json_object_get(r->json, "error"));
    return c ? c : "";
}

/* Expect status and error code. */
static void expect_error(const char *method, const char *path, const char *token, const char *body,
                         long status, const char *code)
{
    struct th_resp r;
    long s = call(method, path, token, body, &r);
    if (s != status || strcmp(err_code(&r), code) != 0)
        fprintf(stderr, "%s %s %s -> %ld %s\n", method, path, body ? body : "", s, r.body);
    assert_int_equal(s, status);
    assert_string_equal(err_code(&r), code);
    assert_non_null(json_string_value(json_object_get(r.json, "request_id")));
    th_resp_free(&r);
}

static void sess_from(const struct th_resp *r, struct sess *s)
{
    memset(s, 0, sizeof(*s));
    const json_t *u = json_object_get(r->json, "user");
    snprintf(s->id, sizeof(s->id), "%s", json_string_value(json_object_get(u, "id")));
    snprintf(s->email, sizeof(s->email), "%s", json_string_value(json_object_get(u, "email")));
    snprintf(s->access, sizeof(s->access), "%s",
             json_string_value(json_object_get(r->json, "access_token")));
    snprintf(s->refresh, sizeof(s->refresh), "%s",
             json_string_value(json_object_get(r->json, "refresh_token")));
}

static void sign_up(const char *email, const char *password, struct sess *s)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    struct th_resp r;
    assert_int_equal(call("POST", "/api/v1/auth/register", NULL, body, &r), 201);
    sess_from(&r, s);
    th_resp_free(&r);
}

/* Sign in; returns the status (the session is filled on 200). */
static long sign_in(const char *email, const char *password, struct sess *s)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    struct th_resp r;
    long st_ = call("POST", "/api/v1/auth/login", NULL, body, &r);
    if (st_ == 200)
        sess_from(&r, s);
    th_resp_free(&r);
    return st_;
}

/* POST /auth/refresh with token; on 200 the new tokens go into s (may be NULL). */
static long refresh(const char *token, struct sess *s, char *code, size_t n)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", token);
    struct th_resp r;
    long st_ = call("POST", "/api/v1/auth/refresh", NULL, body, &r);
    if (st_ == 200 && s)
        sess_from(&r, s);
    if (code)
        snprintf(code, n, "%s", err_code(&r));
    th_resp_free(&r);
    return st_;
}

/* GET /users/me: status, and the user object into *me when asked (caller decrefs). */
static long me(const char *token, json_t **out)
{
    struct th_resp r;
    long s = call("GET", "/api/v1/users/me", token, NULL, &r);
    if (out)
        *out = json_incref(r.json);
    th_resp_free(&r);
    return s;
}

/* Run SQL on the test database and return the first cell as a number. */
static long sql_long(const char *sql, const char *param)
{
    const char *p[] = {param};
    PGresult *res = PQexecParams(pg, sql, param ? 1 : 0, NULL, p, NULL, NULL, 0);
    assert_true(PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK);
    long v = PQntuples(res) > 0 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : atol(PQcmdTuples(res));
    PQclear(res);
    return v;
}

/* ---------------------------------------------------------------- refresh tokens */

static void test_refresh_rotation(void **state)
{
    struct sess a, b;
    char code[64];
    sign_up("rot@example.org", "rotation-pass-1", &a);
    assert_int_equal(refresh(a.refresh, &b, NULL, 0), 200);
    assert_string_equal(b.id, a.id);
    assert_string_not_equal(b.refresh, a.refresh);
    assert_string_not_equal(b.access, a.access);
    assert_int_equal(me(b.access, NULL), 200);
    struct sess c;
    assert_int_equal(refresh(b.refresh, &c, NULL, 0), 200);
    assert_int_equal(me(c.access, NULL), 200);
    /* hashed at rest: the token itself is nowhere in the table */
    assert_int_equal(
        sql_long("SELECT count(*) FROM gateway.sessions WHERE token_hash = $1", c.refresh), 0);
    char hash[HASH_SHA256_HEX_LEN + 1];
    hash_sha256_hex(c.refresh, strlen(c.refresh), hash);
    assert_int_equal(sql_long("SELECT count(*) FROM gateway.sessions WHERE token_hash = $1 AND "
                              "rotated_at IS NULL AND revoked_at IS NULL",
                              hash),
                     1);
    /* an expired refresh token is refused */
    assert_int_equal(sql_long("UPDATE gateway.sessions SET expires_at = now() - interval '1 s' "
                              "WHERE token_hash = $1",
                              hash),
                     1);
    assert_int_equal(refresh(c.refresh, NULL, code, sizeof(code)), 401);
    assert_string_equal(code, "invalid_refresh_token");
}

static void test_refresh_bad_input(void **state)
{
    static const struct {
        const char *body;
        long status;
        const char *code;
    } cases[] = {
        {"{\"refresh_token\":\"unknown-token-unknown-token-unknown\"}", 401,
         "invalid_refresh_token"},
        {"{\"refresh_token\":\"' OR '1'='1' --\"}", 401, "invalid_refresh_token"},
        {"{\"refresh_token\":\"x'); DELETE FROM gateway.sessions; --\"}", 401,
         "invalid_refresh_token"},
        {"{\"refresh_token\":\"\"}", 401, "invalid_refresh_token"},
        {"{\"refresh_token\":12345}", 422, "validation_failed"},
        {"{\"refresh_token\":null}", 422, "validation_failed"},
        {"{}", 422, "validation_failed"},
        {"{\"refresh_token\":\"abcdefghijklmnopqrstuvwxyz\",\"user_id\":\"x\"}", 422,
         "validation_failed"},
        {"[\"abcdefghijklmnopqrstuvwxyz\"]", 422, "validation_failed"},
        {"{\"refresh_token\":", 400, "invalid_json"},
    };
    long before = sql_long("SELECT count(*) FROM gateway.sessions", NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_error("POST", "/api/v1/auth/refresh", NULL, cases[i].body, cases[i].status,
                     cases[i].code);
    assert_int_equal(sql_long("SELECT count(*) FROM gateway.sessions", NULL), before);
    /* an access token is not a refresh token */
    struct sess a;
    sign_up("badrefresh@example.org", "bad-refresh-1", &a);
    char code[64];
    assert_int_equal(refresh(a.access, NULL, code, sizeof(code)), 401);
    assert_int_equal(refresh(a.refresh, NULL, NULL, 0), 200);
}

static void test_refresh_reuse_revokes_family(void **state)
{
    struct sess a, a2, other_login, b, next;
    char code[64];
    sign_up("reuse@example.org", "reuse-pass-123", &a);
    assert_int_equal(sign_in("reuse@example.org", "reuse-pass-123", &other_login), 200);
    sign_up("bystander@example.org", "bystander-pass", &b);
    assert_int_equal(refresh(a.refresh, &a2, NULL, 0), 200);
    /* the old token again: reuse → 401 and the whole family is revoked */
    assert_int_equal(refresh(a.refresh, NULL, code, sizeof(code)), 401);
    assert_string_equal(code, "refresh_token_reused");
    assert_int_equal(refresh(a2.refresh, NULL, code, sizeof(code)), 401);
    assert_string_equal(code, "invalid_refresh_token");
    assert_int_equal(sql_long("SELECT count(*) FROM gateway.sessions WHERE user_id = $1 AND "
                              "family_id = (SELECT family_id FROM gateway.sessions WHERE "
                              "user_id = $1 ORDER BY created_at LIMIT 1) AND revoked_at IS NULL",
                              a.id),
                     0);
    /* the same user's other sign-in and another user are untouched */
    assert_int_equal(refresh(other_login.refresh, &next, NULL, 0), 200);
    assert_int_equal(refresh(b.refresh, &next, NULL, 0), 200);
}

struct racer {
    pthread_barrier_t *go;
    const char *token;
    long status;
};

static void *race_refresh(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->go);
    r->status = refresh(r->token, NULL, NULL, 0);
    return NULL;
}

/* One round: N refreshes of one token at once. Exactly one may win; the duplicates count as
 * reuse and revoke the family. */
static void refresh_race(const char *email)
{
    enum { N = 16 };
    struct sess a;
    sign_up(email, "race-pass-1234", &a);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, N);
    pthread_t t[N];
    struct racer r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (struct racer){&go, a.refresh, 0};
        assert_int_equal(pthread_create(&t[i], NULL, race_refresh, &r[i]), 0);
    }
    int ok = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ok += r[i].status == 200;
        refused += r[i].status == 401;
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(ok, 1);
    assert_int_equal(refused, N - 1);
    /* exactly one successor was stored, and the duplicates revoked the family */
    assert_int_equal(sql_long("SELECT count(*) FROM gateway.sessions WHERE user_id = $1", a.id), 2);
    assert_int_equal(
        sql_long("SELECT count(*) FROM gateway.sessions WHERE user_id = $1 AND revoked_at IS NULL",
                 a.id),
        0);
}

static void test_concurrent_refresh_one_wins(void **state)
{
    for (int round = 0; round < 6; round++) {
        char email[64];
        snprintf(email, sizeof(email), "race%d@example.org", round);
        refresh_race(email);
    }
}

static void test_logout(void **state)
{
    struct sess a, a_other, b, next;
    char code[64];
    sign_up("logout@example.org", "logout-pass-1", &a);
    assert_int_equal(sign_in("logout@example.org", "logout-pass-1", &a_other), 200);
    sign_up("logout-b@example.org", "logout-pass-2", &b);
    /* another user's refresh token in the body is ignored: B stays signed in */
    char body[512];
    snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", b.refresh);
    assert_int_equal(status_of("POST", "/api/v1/auth/logout", a.access, body), 204);
    assert_int_equal(refresh(b.refresh, &next, NULL, 0), 200);
    assert_int_equal(refresh(a.refresh, NULL, code, sizeof(code)), 401);
    assert_string_equal(code, "invalid_refresh_token");
    /* the access token stays valid until it expires (documented); other sessions go on */
    assert_int_equal(me(a.access, NULL), 200);
    assert_int_equal(refresh(a_other.refresh, &next, NULL, 0), 200);
    /* logout with the refresh token of another session of the same user revokes it too */
    struct sess third;
    assert_int_equal(sign_in("logout@example.org", "logout-pass-1", &third), 200);
    snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", third.refresh);
    assert_int_equal(status_of("POST", "/api/v1/auth/logout", next.access, body), 204);
    assert_int_equal(refresh(third.refresh, NULL, NULL, 0), 401);
    assert_int_equal(refresh(next.refresh, NULL, NULL, 0), 401);
    /* bad input */
    expect_error("POST", "/api/v1/auth/logout", NULL, NULL, 401, "unauthorized");
    expect_error("POST", "/api/v1/auth/logout", a.access, "{\"refresh_token\":", 400,
                 "invalid_json");
    expect_error("POST", "/api/v1/auth/logout", a.access, "{\"all\":true}", 422,
                 "validation_failed");
    assert_int_equal(
        status_of("POST", "/api/v1/auth/logout", a.access, "{\"refresh_token\":\"' OR 1=1 --\"}"),
        204);
}

/* ---------------------------------------------------------------- profile */

static void test_profile_patch(void **state)
{
    struct sess a, b;
    sign_up("profile@example.org", "profile-pass-1", &a);
    sign_up("profile-b@example.org", "profile-pass-2", &b);
    struct th_resp r;
    assert_int_equal(call("PATCH", "/api/v1/users/me", a.access,
                          "{\"display_name\":\"Ada L\",\"locale\":\"fr\",\"education_level\":"
                          "\"master\",\"age\":36,\"ai_familiarity\":4}",
                          &r),
                     200);
    assert_string_equal(json_string_value(json_object_get(r.json, "display_name")), "Ada L");
    assert_string_equal(json_string_value(json_object_get(r.json, "locale")), "fr");
    assert_string_equal(json_string_value(json_object_get(r.json, "education_level")), "master");
    assert_int_equal(json_integer_value(json_object_get(r.json, "age")), 36);
    assert_string_equal(json_string_value(json_object_get(r.json, "audience_level")), "expert");
    th_resp_free(&r);
    static const struct {
        const char *body;
        const char *audience;
    } levels[] = {{"{\"ai_familiarity\":3}", "intermediate"},
                  {"{\"ai_familiarity\":2}", "novice"},
                  {"{\"ai_familiarity\":5}", "expert"},
                  {"{\"ai_familiarity\":1}", "novice"},
                  {"{\"ai_familiarity\":null}", "novice"}};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        assert_int_equal(call("PATCH", "/api/v1/users/me", a.access, levels[i].body, &r), 200);
        assert_string_equal(json_string_value(json_object_get(r.json, "audience_level")),
                            levels[i].audience);
        th_resp_free(&r);
    }
    /* SQL-looking text is stored verbatim; null clears optional fields */
    assert_int_equal(call("PATCH", "/api/v1/users/me", a.access,
                          "{\"display_name\":\"Robert'); DROP TABLE gateway.users; --\","
                          "\"age\":null,\"education_level\":null}",
                          &r),
                     200);
    assert_string_equal(json_string_value(json_object_get(r.json, "display_name")),
                        "Robert'); DROP TABLE gateway.users; --");
    assert_true(json_is_null(json_object_get(r.json, "age")));
    assert_true(json_is_null(json_object_get(r.json, "education_level")));
    assert_string_equal(json_string_value(json_object_get(r.json, "locale")), "fr");
    th_resp_free(&r);
    json_t *u = NULL;
    assert_int_equal(me(b.access, &u), 200); /* the other user is untouched */
    assert_string_equal(json_string_value(json_object_get(u, "display_name")), "");
    assert_string_equal(json_string_value(json_object_get(u, "locale")), "en");
    json_decref(u);
}

static void test_profile_patch_refused(void **state)
{
    struct sess a;
    sign_up("profile-bad@example.org", "profile-pass-3", &a);
    static const char *const bad[] = {
        "{\"role\":\"admin\"}",
        "{\"role\":\"user\"}",
        "{\"display_name\":\"x\",\"role\":\"admin\"}",
        "{\"is_active\":false}",
        "{\"email\":\"other@example.org\"}",
        "{\"id\":\"00000000-0000-4000-8000-000000000000\"}",
        "{\"password_hash\":\"x\"}",
        "{\"nickname\":\"x\"}",
        "{\"locale\":\"de\"}",
        "{\"locale\":null}",
        "{\"locale\":\"fr'; --\"}",
        "{\"education_level\":\"wizard\"}",
        "{\"education_level\":\"MASTER\"}",
        "{\"education_level\":7}",
        "{\"age\":12}",
        "{\"age\":121}",
        "{\"age\":30.5}",
        "{\"age\":\"30\"}",
        "{\"age\":-1}",
        "{\"ai_familiarity\":0}",
        "{\"ai_familiarity\":6}",
        "{\"ai_familiarity\":true}",
        "{\"display_name\":\"line\\nbreak\"}",
        "{\"display_name\":12}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error("PATCH", "/api/v1/users/me", a.access, bad[i], 422, "validation_failed");
    char long_name[101 + 1], body[256];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    snprintf(body, sizeof(body), "{\"display_name\":\"%s\"}", long_name);
    expect_error("PATCH", "/api/v1/users/me", a.access, body, 422, "validation_failed");
    long_name[100] = '\0'; /* 100 characters is the limit */
    snprintf(body, sizeof(body), "{\"display_name\":\"%s\"}", long_name);
    assert_int_equal(status_of("PATCH", "/api/v1/users/me", a.access, body), 200);
    expect_error("PATCH", "/api/v1/users/me", a.access, "{\"age\":", 400, "invalid_json");
    expect_error("PATCH", "/api/v1/users/me", a.access, "{\"display_name\":\"nul\\u0000byte\"}",
                 400, "invalid_json");
    expect_error("PATCH", "/api/v1/users/me", a.access, "{\"age\":20,\"age\":30}", 400,
                 "invalid_json");
    expect_error("PATCH", "/api/v1/users/me", NULL, "{\"age\":20}", 401, "unauthorized");
    json_t *u = NULL;
    assert_int_equal(me(a.access, &u), 200);
    assert_string_equal(json_string_value(json_object_get(u, "role")), "user");
    assert_true(json_is_true(json_object_get(u, "is_active")));
    assert_string_equal(json_string_value(json_object_get(u, "locale")), "en");
    assert_true(json_is_null(json_object_get(u, "age")));
    json_decref(u);
    /* an empty change is a no-op */
    assert_int_equal(status_of("PATCH", "/api/v1/users/me", a.access, "{}"), 200);
}

/* ---------------------------------------------------------------- passwords */

static void test_password_change(void **state)
{
    struct sess a, a2, b, next;
    sign_up("pw@example.org", "old-password-1", &a);
    assert_int_equal(sign_in("pw@example.org", "old-password-1", &a2), 200);
    sign_up("pw-b@example.org", "bystander-pw-1", &b);
    const char *path = "/api/v1/users/me/password";
    expect_error("PUT", path, a.access,
                 "{\"current_password\":\"wrong-password\",\"new_password\":\"new-password-1\"}",
                 403, "wrong_password");
    expect_error("PUT", path, a.access,
                 "{\"current_password\":\"' OR '1'='1\",\"new_password\":\"new-password-1\"}", 403,
                 "wrong_password");
    expect_error("PUT", path, a.access,
                 "{\"current_password\":\"old-password-1\",\"new_password\":\"short\"}", 422,
                 "validation_failed");
    expect_error("PUT", path, a.access,
                 "{\"current_password\":\"old-password-1\",\"new_password\":\"PW@example.org\"}",
                 422, "validation_failed");
    expect_error("PUT", path, a.access,
                 "{\"current_password\":\"old-password-1\",\"new_password\":\"old-password-1\"}",
                 422, "validation_failed");
    expect_error("PUT", path, a.access, "{\"new_password\":\"new-password-1\"}", 422,
                 "validation_failed");
    expect_error("PUT", path, a.access,
                 "{\"current_password\":\"old-password-1\",\"new_password\":\"new-password-1\","
                 "\"user_id\":\"x\"}",
                 422, "validation_failed");
    expect_error("PUT", path, NULL,
                 "{\"current_password\":\"old-password-1\",\"new_password\":\"new-password-1\"}",
                 401, "unauthorized");
    assert_int_equal(sign_in("pw@example.org", "old-password-1", &next), 200);
    assert_int_equal(
        status_of("PUT", path, a.access,
                  "{\"current_password\":\"old-password-1\",\"new_password\":\"new-password-1\"}"),
        204);
    /* the other sessions are revoked, this one goes on; the bystander is untouched */
    assert_int_equal(refresh(a2.refresh, NULL, NULL, 0), 401);
    assert_int_equal(refresh(next.refresh, NULL, NULL, 0), 401);
    assert_int_equal(refresh(a.refresh, &a, NULL, 0), 200);
    assert_int_equal(refresh(b.refresh, &b, NULL, 0), 200);
    assert_int_equal(sign_in("pw@example.org", "old-password-1", &next), 401);
    assert_int_equal(sign_in("pw@example.org", "new-password-1", &next), 200);
    assert_int_equal(sign_in("pw-b@example.org", "bystander-pw-1", &next), 200);
}

/* ---------------------------------------------------------------- admin */

static void test_admin_list(void **state)
{
    struct sess admin, u;
    assert_int_equal(sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, &admin), 200);
    sign_up("listed@example.org", "listed-pass-1", &u);
    expect_error("GET", "/api/v1/admin/users", u.access, NULL, 403, "forbidden");
    expect_error("GET", "/api/v1/admin/users", NULL, NULL, 401, "unauthorized");
    long total = sql_long("SELECT count(*) FROM gateway.users", NULL);
    struct th_resp r;
    assert_int_equal(call("GET", "/api/v1/admin/users?page=1&page_size=2", admin.access, NULL, &r),
                     200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total_count")), total);
    assert_int_equal(json_integer_value(json_object_get(r.json, "page_size")), 2);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total_pages")), (total + 1) / 2);
    assert_int_equal(json_array_size(json_object_get(r.json, "users")), 2);
    assert_null(strstr(r.body, "password"));
    assert_null(strstr(r.body, "$argon2"));
    th_resp_free(&r);
    /* every account appears once across the pages */
    long seen = 0;
    for (long page = 1; page <= (total + 2) / 3; page++) {
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/admin/users?page=%ld&page_size=3", page);
        assert_int_equal(call("GET", path, admin.access, NULL, &r), 200);
        seen += (long)json_array_size(json_object_get(r.json, "users"));
        th_resp_free(&r);
    }
    assert_int_equal(seen, total);
    assert_int_equal(call("GET", "/api/v1/admin/users?page=999", admin.access, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "users")), 0);
    th_resp_free(&r);
    static const char *const bad[] = {"page=0",      "page=-1",       "page=abc",
                                      "page_size=0", "page_size=101", "page=1%20OR%201=1",
                                      "page_size=2x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/admin/users?%s", bad[i]);
        expect_error("GET", path, admin.access, NULL, 400, "invalid_query");
    }
}

static void admin_path(char *out, size_t n, const char *id)
{
    snprintf(out, n, "/api/v1/admin/users/%s", id);
}

static void test_admin_patch(void **state)
{
    struct sess admin, u, v;
    assert_int_equal(sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, &admin), 200);
    sign_up("promote@example.org", "promote-pass-1", &u);
    sign_up("victim@example.org", "victim-pass-1", &v);
    char path[256];
    admin_path(path, sizeof(path), u.id);
    /* a non-admin cannot change anyone, not even themselves */
    expect_error("PATCH", path, u.access, "{\"role\":\"admin\"}", 403, "forbidden");
    admin_path(path, sizeof(path), v.id);
    expect_error("PATCH", path, u.access, "{\"is_active\":false}", 403, "forbidden");
    /* bad input */
    expect_error("PATCH", path, admin.access, "{\"role\":\"root\"}", 422, "validation_failed");
    expect_error("PATCH", path, admin.access, "{\"role\":\"admin' --\"}", 422, "validation_failed");
    expect_error("PATCH", path, admin.access, "{\"is_active\":\"no\"}", 422, "validation_failed");
    expect_error("PATCH", path, admin.access, "{\"email\":\"x@example.org\"}", 422,
                 "validation_failed");
    expect_error("PATCH", "/api/v1/admin/users/not-a-uuid", admin.access, "{\"role\":\"user\"}",
                 404, "not_found");
    expect_error("PATCH", "/api/v1/admin/users/1'%20OR%20'1'='1", admin.access,
                 "{\"role\":\"user\"}", 404, "not_found");
    expect_error("PATCH", "/api/v1/admin/users/00000000-0000-4000-8000-000000000000", admin.access,
                 "{\"role\":\"user\"}", 404, "not_found");
    /* the admin cannot demote or deactivate themselves */
    admin_path(path, sizeof(path), admin.id);
    expect_error("PATCH", path, admin.access, "{\"role\":\"user\"}", 409, "self_lockout");
    expect_error("PATCH", path, admin.access, "{\"is_active\":false}", 409, "self_lockout");
    expect_error("DELETE", "/api/v1/users/me", admin.access,
                 "{\"email_confirmation\":\"" ADMIN_EMAIL "\"}", 409, "admin_cannot_erase_self");
    assert_int_equal(status_of("PATCH", path, admin.access, "{\"role\":\"admin\"}"), 200);
    /* promotion works at once, even with the token issued before it */
    admin_path(path, sizeof(path), u.id);
    struct th_resp r;
    assert_int_equal(call("PATCH", path, admin.access, "{\"role\":\"admin\"}", &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "role")), "admin");
    assert_string_equal(json_string_value(json_object_get(r.json, "id")), u.id);
    th_resp_free(&r);
    assert_int_equal(status_of("GET", "/api/v1/admin/users", u.access, NULL), 200);
    /* and so does a demotion: the old admin token loses its powers at the next request */
    assert_int_equal(status_of("PATCH", path, admin.access, "{\"role\":\"contributor\"}"), 200);
    expect_error("GET", "/api/v1/admin/users", u.access, NULL, 403, "forbidden");
    json_t *me_u = NULL;
    assert_int_equal(me(u.access, &me_u), 200);
    assert_string_equal(json_string_value(json_object_get(me_u, "role")), "contributor");
    json_decref(me_u);
    json_t *me_v = NULL;
    assert_int_equal(me(v.access, &me_v), 200); /* the bystander is untouched */
    assert_string_equal(json_string_value(json_object_get(me_v, "role")), "user");
    json_decref(me_v);
}

static void test_deactivated_user_locked_out(void **state)
{
    struct sess admin, u, other;
    char code[64];
    assert_int_equal(sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, &admin), 200);
    sign_up("deact@example.org", "deact-pass-12", &u);
    sign_up("deact-b@example.org", "deact-pass-34", &other);
    char path[256];
    admin_path(path, sizeof(path), u.id);
    struct th_resp r;
    assert_int_equal(call("PATCH", path, admin.access, "{\"is_active\":false}", &r), 200);
    assert_false(json_is_true(json_object_get(r.json, "is_active")));
    th_resp_free(&r);
    /* the existing access token stops at the next request; refresh and login are refused */
    expect_error("GET", "/api/v1/users/me", u.access, NULL, 401, "unauthorized");
    assert_int_equal(refresh(u.refresh, NULL, code, sizeof(code)), 401);
    assert_string_equal(code, "invalid_refresh_token");
    assert_int_equal(sign_in("deact@example.org", "deact-pass-12", &u), 401);
    assert_int_equal(me(other.access, NULL), 200);
    /* reactivated: signing in works again, the revoked sessions stay revoked */
    struct sess again;
    assert_int_equal(status_of("PATCH", path, admin.access, "{\"is_active\":true}"), 200);
    assert_int_equal(sign_in("deact@example.org", "deact-pass-12", &again), 200);
    assert_int_equal(me(again.access, NULL), 200);
    assert_int_equal(refresh(u.refresh, NULL, NULL, 0), 401);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refresh_rotation),
        cmocka_unit_test(test_refresh_bad_input),
        cmocka_unit_test(test_refresh_reuse_revokes_family),
        cmocka_unit_test(test_concurrent_refresh_one_wins),
        cmocka_unit_test(test_logout),
        cmocka_unit_test(test_profile_patch),
        cmocka_unit_test(test_profile_patch_refused),
        cmocka_unit_test(test_password_change),
        cmocka_unit_test(test_admin_list),
        cmocka_unit_test(test_admin_patch),
        cmocka_unit_test(test_deactivated_user_locked_out),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
