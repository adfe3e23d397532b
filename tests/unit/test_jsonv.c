/* test_jsonv: strict parsing and field validation. */
#include <ibx/jsonv.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const struct {
    const char *text;
    int ok;
} parse_cases[] = {
    {"{\"a\":1}", 1},
    {"[1,2,3]", 1},
    {"{\"a\":1,\"a\":2}", 0}, /* duplicate key */
    {"{\"a\":1", 0},          /* truncated */
    {"{\"a\":1} x", 0},       /* trailing garbage */
    {"42", 0},                /* not an object or array */
    {"\"str\"", 0},
    {"", 0},
    {"{\"s\":\"\xff\"}", 0},     /* invalid UTF-8 */
    {"{\"s\":\"[[[[{{{{\"}", 1}, /* brackets inside strings do not count */
    {"{\"s\":\"\\\"[[[[\"}", 1}, /* nor after an escaped quote */
};

static void test_parse_table(void **state)
{
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        json_t *v = NULL;
        char err[256] = "";
        int rc = jsonv_parse(parse_cases[i].text, strlen(parse_cases[i].text), JSONV_MAX_DEPTH, &v,
                             err, sizeof(err));
        if (parse_cases[i].ok) {
            assert_int_equal(rc, 0);
            assert_non_null(v);
        } else {
            assert_int_equal(rc, -EINVAL);
            assert_null(v);
            assert_true(strlen(err) > 0);
        }
        json_decref(v);
    }
}

static void test_depth_limit(void **state)
{
    char deep[200];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        deep[n++] = '[';
    for (int i = 0; i < 40; i++)
        deep[n++] = ']';
    json_t *v = NULL;
    char err[256];
    assert_int_equal(jsonv_parse(deep, n, 32, &v, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "nested"));
    assert_int_equal(jsonv_parse(deep, n, 64, &v, err, sizeof(err)), 0);
    json_decref(v);
}

static const struct jsonv_field fields[] = {
    {"email", JSONV_STRING, 1, 20, 1, 0, 0},
    {"age", JSONV_INT, 0, 0, 13, 120, 0},
    {"tags", JSONV_ARRAY, 0, 2, 1, 0, 0},
    {"note", JSONV_STRING, 0, 0, 1, 0, 1},
};

static const struct {
    const char *body;
    int strict;
    const char *problem_field; /* NULL when valid */
} check_cases[] = {
    {"{\"email\":\"a@b.c\"}", 1, NULL},
    {"{\"email\":\"a@b.c\",\"age\":13,\"tags\":[1],\"note\":null}", 1, NULL},
    {"{}", 1, "email"},
    {"{\"email\":5}", 1, "email"},
    {"{\"email\":\"aaaaaaaaaaaaaaaaaaaaaaaaa\"}", 1, "email"},
    {"{\"email\":\"a@b.c\",\"age\":12}", 1, "age"},
    {"{\"email\":\"a@b.c\",\"age\":\"12\"}", 1, "age"},
    {"{\"email\":\"a@b.c\",\"tags\":[1,2,3]}", 1, "tags"},
    {"{\"email\":\"a@b.c\",\"role\":\"admin\"}", 1, "role"},
    {"{\"email\":\"a@b.c\",\"role\":\"admin\"}", 0, NULL},
    {"[1]", 1, ""},
};

static void test_check_table(void **state)
{
    for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
        json_t *v = json_loads(check_cases[i].body, 0, NULL);
        assert_non_null(v);
        json_t *d = NULL;
        int rc = jsonv_check(v, fields, 4, check_cases[i].strict, &d);
        if (!check_cases[i].problem_field) {
            assert_int_equal(rc, 0);
            assert_null(d);
        } else {
            assert_int_equal(rc, -EINVAL);
            json_t *first = json_array_get(json_object_get(d, "fields"), 0);
            assert_string_equal(json_string_value(json_object_get(first, "field")),
                                check_cases[i].problem_field);
            assert_non_null(json_string_value(json_object_get(first, "problem")));
        }
        json_decref(d);
        json_decref(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_check_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
