/* test_buf: the bounded byte buffer. */
#include <ibx/buf.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_append_and_limit(void **state)
{
    struct buf b;
    buf_init(&b, 8);
    assert_string_equal(buf_str(&b), "");
    assert_int_equal(buf_append_str(&b, "abcd"), 0);
    assert_int_equal(buf_append(&b, "efgh", 4), 0);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "abcdefgh");
    /* one byte over: refused, buffer unchanged */
    assert_int_equal(buf_append(&b, "x", 1), -EMSGSIZE);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "abcdefgh");
    buf_release(&b);
    buf_release(&b); /* twice is fine */
}

static void test_printf_and_steal(void **state)
{
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(buf_printf(&b, "%s=%d", "n", 42), 0);
    assert_int_equal(buf_printf(&b, ",%05.1f", 3.14159), 0);
    assert_string_equal(buf_str(&b), "n=42,003.1");
    assert_int_equal(buf_printf(&b, "%0100d", 1), -EMSGSIZE);
    assert_string_equal(buf_str(&b), "n=42,003.1");
    char *s = buf_steal(&b);
    assert_string_equal(s, "n=42,003.1");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
    s = buf_steal(&b); /* empty: an empty string, not NULL */
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
}

static void test_binary_and_reset(void **state)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    char block[1000];
    memset(block, 0, sizeof(block));
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_append(&b, block, sizeof(block)), 0);
    assert_int_equal(b.len, 1000000);
    assert_int_equal(b.data[b.len], '\0');
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(buf_str(&b), "");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_limit),
        cmocka_unit_test(test_printf_and_steal),
        cmocka_unit_test(test_binary_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
