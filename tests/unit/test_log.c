/* test_log: JSON log lines, request ids and secret redaction. */
#include <ibx/log.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

/* Log one line into a pipe and return it parsed. */
static json_t *capture(enum log_level lvl, json_t *fields, const char *msg)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    log_set_fd(fds[1]);
    log_fields(lvl, fields, "%s", msg);
    log_set_fd(2);
    close(fds[1]);
    char line[4096];
    ssize_t n = read(fds[0], line, sizeof(line) - 1);
    close(fds[0]);
    if (n <= 0)
        return NULL;
    line[n] = '\0';
    assert_int_equal(line[n - 1], '\n');
    assert_null(strchr(line, '\n') == line + n - 1 ? NULL : "two lines");
    return json_loads(line, 0, NULL);
}

static void test_line_shape(void **state)
{
    log_init("unit", LOG_LVL_DEBUG);
    log_set_request_id("req-123");
    json_t *o = capture(LOG_LVL_INFO, json_pack("{s:i}", "rows", 7), "hello \"world\"");
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(o, "svc")), "unit");
    assert_string_equal(json_string_value(json_object_get(o, "request_id")), "req-123");
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "hello \"world\"");
    assert_int_equal(json_integer_value(json_object_get(o, "rows")), 7);
    assert_non_null(strstr(json_string_value(json_object_get(o, "ts")), "T"));
    json_decref(o);
    log_set_request_id(NULL);
}

static void test_secrets_redacted(void **state)
{
    static const char *const names[] = {"password",      "new_password", "Authorization",
                                        "refresh_token", "jwt_secret",   "api_key"};
    log_init("unit", LOG_LVL_DEBUG);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        json_t *f = json_object();
        json_object_set_new(f, names[i], json_string("hunter2-very-secret"));
        json_t *o = capture(LOG_LVL_WARN, f, "x");
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, names[i])), "[redacted]");
        json_decref(o);
    }
    assert_int_equal(log_is_secret_name("rows"), 0);
}

static void test_level_filter_and_parse(void **state)
{
    enum log_level l = LOG_LVL_DEBUG;
    assert_int_equal(log_level_parse("warning", &l), 0);
    assert_int_equal(l, LOG_LVL_WARN);
    assert_int_equal(log_level_parse("ERROR", &l), 0);
    assert_int_equal(l, LOG_LVL_ERROR);
    assert_int_not_equal(log_level_parse("verbose", &l), 0);
    log_init("unit", LOG_LVL_ERROR);
    assert_null(capture(LOG_LVL_INFO, NULL, "dropped"));
    log_init("unit", LOG_LVL_INFO);
}

static void test_invalid_utf8_message(void **state)
{
    log_init("unit", LOG_LVL_DEBUG);
    json_t *o = capture(LOG_LVL_ERROR, NULL, "bad \xff\xfe bytes");
    assert_non_null(o); /* still one valid JSON line */
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_shape),
        cmocka_unit_test(test_secrets_redacted),
        cmocka_unit_test(test_level_filter_and_parse),
        cmocka_unit_test(test_invalid_utf8_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
