/* test_http: route matching, path parameters, form decoding, request ids, errno mapping. */
#include <ibx/http.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const struct {
    const char *pattern;
    const char *path;
    int match;
    const char *param; /* name=value of the first parameter, or NULL */
} route_cases[] = {
    {"/api/v1/datasets", "/api/v1/datasets", 1, NULL},
    {"/api/v1/datasets", "/api/v1/datasets/", 0, NULL},
    {"/api/v1/datasets", "/api/v1/dataset", 0, NULL},
    {"/api/v1/datasets", "/api/v1/datasetsx", 0, NULL},
    {"/api/v1/datasets/{id}", "/api/v1/datasets/abc", 1, "id=abc"},
    {"/api/v1/datasets/{id}", "/api/v1/datasets/", 0, NULL},
    {"/api/v1/datasets/{id}", "/api/v1/datasets/a/b", 0, NULL},
    {"/api/v1/datasets/{id}/files/{file_id}", "/api/v1/datasets/7/files/9", 1, "id=7"},
    {"/api/v1/datasets/{rest*}", "/api/v1/datasets", 1, "rest="},
    {"/api/v1/datasets/{rest*}", "/api/v1/datasets/a/b/c", 1, "rest=a/b/c"},
    {"/api/v1/datasets/{rest*}", "/api/v1/datasetsx", 0, NULL},
    {"/healthz", "/", 0, NULL},
    {"/", "/", 1, NULL},
};

static void test_route_table(void **state)
{
    for (size_t i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
        struct http_param p[HTTP_MAX_PARAMS];
        size_t n = 0;
        int m = http_route_match(route_cases[i].pattern, route_cases[i].path, p, &n);
        assert_int_equal(m, route_cases[i].match);
        if (m && route_cases[i].param) {
            char got[128];
            assert_true(n >= 1);
            snprintf(got, sizeof(got), "%.*s=%s", (int)p[0].name_len, p[0].name, p[0].value);
            assert_string_equal(got, route_cases[i].param);
        }
        if (m)
            http_params_release(p, n);
    }
}

static void test_two_params(void **state)
{
    struct http_param p[HTTP_MAX_PARAMS];
    size_t n = 0;
    assert_int_equal(http_route_match("/a/{x}/b/{y}", "/a/1/b/22", p, &n), 1);
    assert_int_equal(n, 2);
    assert_string_equal(p[1].value, "22");
    assert_int_equal(p[1].name_len, 1);
    assert_memory_equal(p[1].name, "y", 1);
    http_params_release(p, n);
}

static const struct {
    const char *body;
    const char *name;
    int rc;
    const char *value;
} form_cases[] = {
    {"username=a%40b.c&password=p+w%21", "username", 0, "a@b.c"},
    {"username=a%40b.c&password=p+w%21", "password", 0, "p w!"},
    {"username=x", "password", -ENOENT, NULL},
    {"password=%zz", "password", -EINVAL, NULL},
    {"password=%4", "password", -EINVAL, NULL},
    {"password=%00", "password", -EINVAL, NULL},
    {"a=1&&password=&b=2", "password", 0, ""},
    {"xpassword=1", "password", -ENOENT, NULL},
};

static void test_form_table(void **state)
{
    for (size_t i = 0; i < sizeof(form_cases) / sizeof(form_cases[0]); i++) {
        char *v = NULL;
        int rc =
            http_form_field(form_cases[i].body, strlen(form_cases[i].body), form_cases[i].name, &v);
        assert_int_equal(rc, form_cases[i].rc);
        if (rc == 0) {
            assert_string_equal(v, form_cases[i].value);
            free(v);
        }
    }
}

static void test_request_ids(void **state)
{
    assert_true(http_request_id_ok("abc-123_x.y:z"));
    assert_false(http_request_id_ok(""));
    assert_false(http_request_id_ok("has space"));
    assert_false(http_request_id_ok("crlf\r\nX-Evil: 1"));
    char long_id[80];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[79] = '\0';
    assert_false(http_request_id_ok(long_id));
}

static void test_errno_status(void **state)
{
    static const int map[][2] = {
        {-EINVAL, 400},   {-EPERM, 401},  {-EACCES, 403}, {-ENOENT, 404},    {-EEXIST, 409},
        {-EMSGSIZE, 413}, {-EAGAIN, 503}, {-EIO, 503},    {-ETIMEDOUT, 504}, {-ENOMEM, 500}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        assert_int_equal(http_errno_status(map[i][0]), map[i][1]);
}

static void test_error_body(void **state)
{
    struct http_resp r;
    memset(&r, 0, sizeof(r));
    buf_init(&r.body, 1 << 20);
    r.request_id = "rid-1";
    http_resp_error(&r, 429, "rate_limited", "slow down", json_pack("{s:i}", "limit", 5));
    assert_int_equal(r.status, 429);
    json_t *o = json_loads(r.body.data, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "error")), "rate_limited");
    assert_string_equal(json_string_value(json_object_get(o, "message")), "slow down");
    assert_string_equal(json_string_value(json_object_get(o, "request_id")), "rid-1");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "details"), "limit")),
                     5);
    json_decref(o);
    int retry_after = 0;
    for (size_t i = 0; i < r.nheaders; i++) {
        if (strcmp(r.headers[i].name, "Retry-After") == 0)
            retry_after = 1;
    }
    assert_true(retry_after);
    /* header injection is refused */
    size_t before = r.nheaders;
    http_resp_header(&r, "X-Test", "a\r\nSet-Cookie: x=1");
    assert_int_equal(r.nheaders, before);
    for (size_t i = 0; i < r.nheaders; i++) {
        free(r.headers[i].name);
        free(r.headers[i].value);
    }
    buf_release(&r.body);
}

static const struct {
    const char *peer, *xff, *trusted, *want;
} fwd_cases[] = {
    {"10.0.0.5", "203.0.113.7", "", "10.0.0.5"},                          /* no proxy trusted */
    {"10.0.0.5", "203.0.113.7", "10.0.0.9", "10.0.0.5"},                  /* peer not trusted */
    {"10.0.0.5", NULL, "10.0.0.5", "10.0.0.5"},                           /* no header */
    {"10.0.0.5", "203.0.113.7", "10.0.0.5", "203.0.113.7"},               /* the ingress's word */
    {"10.0.0.5", "198.51.100.1, 203.0.113.7", "10.0.0.5", "203.0.113.7"}, /* rightmost */
    {"10.0.0.5", "203.0.113.7, 10.0.0.6", "10.0.0.5, 10.0.0.6", "203.0.113.7"},
    {"10.0.0.5", "garbage", "10.0.0.5", "10.0.0.5"},          /* malformed: ignored */
    {"10.0.0.5", "1.2.3.4, garbage", "10.0.0.5", "10.0.0.5"}, /* spoof behind junk */
    {"10.0.0.5", "2001:db8::1", "10.0.0.5", "2001:db8::1"},
};

static void test_forwarded_for(void **state)
{
    for (size_t i = 0; i < sizeof(fwd_cases) / sizeof(fwd_cases[0]); i++) {
        char out[64];
        http_forwarded_for(fwd_cases[i].peer, fwd_cases[i].xff, fwd_cases[i].trusted, out,
                           sizeof(out));
        assert_string_equal(out, fwd_cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_table),   cmocka_unit_test(test_two_params),
        cmocka_unit_test(test_form_table),    cmocka_unit_test(test_request_ids),
        cmocka_unit_test(test_errno_status),  cmocka_unit_test(test_error_body),
        cmocka_unit_test(test_forwarded_for),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
