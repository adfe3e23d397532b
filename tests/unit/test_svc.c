/* test_svc: the pure parts of the service runtime: reading user.deleted events. */
#include <ibx/svc.h>

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
    const char *json;
    int rc;
    const char *id; /* expected out on success */
} event_cases[] = {
    {"{\"type\":\"user.deleted\",\"user_id\":\"0b6f2a1c-9d7e-4c3b-8a2f-1e5d4c3b2a19\","
     "\"at\":\"2026-11-22T05:00:00.000Z\"}",
     0, "0b6f2a1c-9d7e-4c3b-8a2f-1e5d4c3b2a19"},
    /* ids are compared lowercase by every service */
    {"{\"type\":\"user.deleted\",\"user_id\":\"0B6F2A1C-9D7E-4C3B-8A2F-1E5D4C3B2A19\"}", 0,
     "0b6f2a1c-9d7e-4c3b-8a2f-1e5d4c3b2a19"},
    /* other event types are not ours to act on */
    {"{\"type\":\"user.created\",\"user_id\":\"0b6f2a1c-9d7e-4c3b-8a2f-1e5d4c3b2a19\"}", -ENOENT,
     NULL},
    {"{\"type\":\"User.Deleted\",\"user_id\":\"0b6f2a1c-9d7e-4c3b-8a2f-1e5d4c3b2a19\"}", -ENOENT,
     NULL},
    /* malformed user.deleted events */
    {"{\"type\":\"user.deleted\"}", -EINVAL, NULL},
    {"{\"type\":\"user.deleted\",\"user_id\":null}", -EINVAL, NULL},
    {"{\"type\":\"user.deleted\",\"user_id\":42}", -EINVAL, NULL},
    {"{\"type\":\"user.deleted\",\"user_id\":\"' OR '1'='1\"}", -EINVAL, NULL},
    {"{\"type\":\"user.deleted\",\"user_id\":\"0b6f2a1c-9d7e-4c3b-8a2f-1e5d4c3b2a19 \"}", -EINVAL,
     NULL},
    {"{\"type\":\"user.deleted\",\"user_id\":\"0b6f2a1c9d7e4c3b8a2f1e5d4c3b2a19\"}", -EINVAL, NULL},
    {"{\"type\":\"user.deleted\",\"user_id\":\"\"}", -EINVAL, NULL},
    {"{\"user_id\":\"0b6f2a1c-9d7e-4c3b-8a2f-1e5d4c3b2a19\"}", -EINVAL, NULL},
    {"{\"type\":7}", -EINVAL, NULL},
    {"[\"user.deleted\"]", -EINVAL, NULL},
    {"\"user.deleted\"", -EINVAL, NULL},
};

static void test_user_deleted_id(void **state)
{
    for (size_t i = 0; i < sizeof(event_cases) / sizeof(event_cases[0]); i++) {
        json_t *v = json_loads(event_cases[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        char out[37] = "untouched";
        int rc = svc_user_deleted_id(v, out);
        if (rc != event_cases[i].rc)
            fprintf(stderr, "case %zu: %s -> %d\n", i, event_cases[i].json, rc);
        assert_int_equal(rc, event_cases[i].rc);
        assert_string_equal(out, event_cases[i].id ? event_cases[i].id : "untouched");
        json_decref(v);
    }
    char out[37] = "untouched";
    assert_int_equal(svc_user_deleted_id(NULL, out), -EINVAL);
    assert_string_equal(out, "untouched");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_deleted_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
