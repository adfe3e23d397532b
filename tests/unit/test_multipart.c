/* test_multipart: the streaming multipart/form-data parser, whole and byte by byte. */
#include <ibx/multipart.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* What the callbacks saw, as text: "[name|filename|type]content" per part. */
struct seen {
    char out[8192];
    size_t len;
    int refuse_data; /* part_data returns -EACCES */
};

static void seen_add(struct seen *s, const char *d, size_t n)
{
    if (s->len + n < sizeof(s->out)) {
        memcpy(s->out + s->len, d, n);
        s->len += n;
        s->out[s->len] = '\0';
    }
}

static int on_begin(void *ctx, const struct multipart_part *p)
{
    char b[800];
    int n =
        snprintf(b, sizeof(b), "[%s|%s|%s|%d]", p->name, p->filename, p->content_type, p->is_file);
    seen_add(ctx, b, (size_t)n);
    return 0;
}

static int on_data(void *ctx, const char *d, size_t n)
{
    struct seen *s = ctx;
    if (s->refuse_data)
        return -EACCES;
    seen_add(s, d, n);
    return 0;
}

static int on_end(void *ctx)
{
    seen_add(ctx, "$", 1);
    return 0;
}

static const struct multipart_cbs cbs = {on_begin, on_data, on_end};

/* Parse body with the boundary "XyZ" in chunks of `step` bytes (0 = whole). Returns the
 * first error of push or finish. */
static int parse(const char *body, size_t step, struct seen *s)
{
    struct multipart *m = NULL;
    assert_int_equal(multipart_new("XyZ", &cbs, s, &m), 0);
    size_t len = strlen(body);
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0;) {
        size_t n = step && len - i > step ? step : len - i;
        rc = multipart_push(m, body + i, n);
        i += n;
    }
    if (rc == 0)
        rc = multipart_finish(m);
    multipart_free(m);
    return rc;
}

static const struct {
    const char *body;
    int rc;
    const char *seen;
} cases[] = {
    /* a field and a file */
    {"--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\niris\r\n"
     "--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"C:\\\\tmp\\\\a.csv\"\r\n"
     "Content-Type: text/csv\r\n\r\na,b\r\n1,2\r\n--XyZ--\r\n",
     0, "[name|||0]iris$[files|a.csv|text/csv|1]a,b\r\n1,2$"},
    /* a preamble and an epilogue are ignored; content with boundary look-alikes */
    {"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=f\r\n\r\n"
     "x\r\n--Xy\r\r\n--XyQ\r\n-\r\r\n--XyZ--epilogue\r\n--XyZ\r\n",
     0, "[f|||0]x\r\n--Xy\r\r\n--XyQ\r\n-\r$"},
    /* an empty part, and padding after the boundary */
    {"--XyZ  \r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n--XyZ--", 0, "[e|||0]$"},
    /* not closed */
    {"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc", -EINVAL, NULL},
    /* a part without a name */
    {"--XyZ\r\nContent-Type: text/plain\r\n\r\nabc\r\n--XyZ--", -EINVAL, NULL},
    /* garbage after a boundary */
    {"--XyZ!\r\n", -EINVAL, NULL},
    /* no boundary at all */
    {"just text", -EINVAL, NULL},
};

static void test_cases(void **state)
{
    (void)state;
    static const size_t steps[] = {0, 1, 2, 3, 7};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
            struct seen s = {{0}, 0, 0};
            int rc = parse(cases[c].body, steps[k], &s);
            if (rc != cases[c].rc)
                fail_msg("case %zu step %zu: rc %d, want %d", c, steps[k], rc, cases[c].rc);
            if (cases[c].seen && strcmp(s.out, cases[c].seen) != 0)
                fail_msg("case %zu step %zu: saw '%s'", c, steps[k], s.out);
        }
    }
}

static void test_callback_error_stops(void **state)
{
    (void)state;
    struct seen s = {{0}, 0, 1};
    int rc =
        parse("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc\r\n--XyZ--", 0, &s);
    assert_int_equal(rc, -EACCES);
}

static void test_header_too_large(void **state)
{
    (void)state;
    size_t n = MULTIPART_HEADER_MAX + 100;
    char *body = malloc(n + 64);
    assert_non_null(body);
    static const char head[] = "--XyZ\r\nX-Pad: ";
    size_t o = sizeof head - 1;
    memcpy(body, head, o);
    memset(body + o, 'a', n);
    body[o + n] = '\0';
    struct seen s = {{0}, 0, 0};
    assert_int_equal(parse(body, 0, &s), -EMSGSIZE);
    free(body);
}

static void test_too_many_parts(void **state)
{
    (void)state;
    static const char part[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n";
    size_t plen = sizeof part - 1, n = MULTIPART_PARTS_MAX + 1;
    char *body = malloc(plen * n + 16);
    assert_non_null(body);
    for (size_t i = 0; i < n; i++)
        memcpy(body + i * plen, part, plen);
    snprintf(body + plen * n, 16, "--XyZ--");
    struct seen s = {{0}, 0, 0};
    assert_int_equal(parse(body, 0, &s), -E2BIG);
    free(body);
}

static void test_boundary(void **state)
{
    (void)state;
    static const struct {
        const char *ct;
        int rc;
        const char *b;
    } t[] = {
        {"multipart/form-data; boundary=abc123", 0, "abc123"},
        {"Multipart/Form-Data; charset=utf-8; boundary=\"a b'c\"", 0, "a b'c"},
        {"multipart/form-data; boundary=----WebKitFormBoundaryx; x=1", 0,
         "----WebKitFormBoundaryx"},
        {"multipart/form-data", -EINVAL, NULL},
        {"application/json; boundary=abc", -EINVAL, NULL},
        {"multipart/form-data; boundary=\"unterminated", -EINVAL, NULL},
        {"multipart/form-data; boundary=bad\x01", -EINVAL, NULL},
        {"multipart/form-data; boundary="
         "12345678901234567890123456789012345678901234567890123456789012345678901",
         -EINVAL, NULL},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char b[MULTIPART_BOUNDARY_MAX + 1] = "";
        assert_int_equal(multipart_boundary(t[i].ct, b), t[i].rc);
        if (t[i].b)
            assert_string_equal(b, t[i].b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_callback_error_stops),
        cmocka_unit_test(test_header_too_large),
        cmocka_unit_test(test_too_many_parts),
        cmocka_unit_test(test_boundary),
    };
    return cmocka_run_group_tests_name("multipart", tests, NULL, NULL);
}
