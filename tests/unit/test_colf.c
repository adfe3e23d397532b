/* test_colf: the IBXC columnar format: encodings chosen per chunk, exact text round trips,
 * late columns, group edges, 200k rows, sink and read errors, and every corrupted byte
 * and truncation of a small file refused with -EIO. */
#include <ibx/buf.h>
#include <ibx/colf.h>

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static int sink_buf(void *ctx, const void *data, size_t len)
{
    return buf_append(ctx, data, len);
}

static struct colf_cell cell(const char *s)
{
    return (struct colf_cell){s, s ? strlen(s) : 0};
}

/* Write ncols columns named c0.. with nrows rows from cells (row-major, NULL = missing)
 * into out, with groups of group_rows rows. */
static void write_table(struct buf *out, size_t ncols, size_t nrows, const char *const *cells,
                        size_t group_rows, const char *const *types)
{
    struct colf_writer *w;
    struct colf_cell row[8];
    char name[32];
    buf_init(out, SIZE_MAX - 1);
    assert_int_equal(colf_writer_new(sink_buf, out, &w), 0);
    assert_int_equal(colf_writer_set_group_rows(w, group_rows), 0);
    for (size_t j = 0; j < ncols; j++) {
        snprintf(name, sizeof name, "c%zu", j);
        assert_int_equal(colf_writer_add_column(w, name), 0);
    }
    for (size_t i = 0; i < nrows; i++) {
        for (size_t j = 0; j < ncols; j++)
            row[j] = cell(cells[i * ncols + j]);
        assert_int_equal(colf_writer_row(w, row, ncols), 0);
    }
    assert_int_equal(colf_writer_finish(w, types), 0);
    colf_writer_free(w);
}

/* The documented layout, read independently: the first byte (encoding) and second (param)
 * of chunk (g, col), or -1 for an empty chunk. */
static int chunk_encoding(const struct buf *f, size_t g, size_t col, int *param)
{
    const unsigned char *p = (const unsigned char *)f->data;
    size_t flen = p[f->len - 12] | (size_t)p[f->len - 11] << 8;
    const unsigned char *foot = p + f->len - 12 - flen;
    size_t ncols = foot[0] | (size_t)foot[1] << 8, pos = 16;
    for (size_t j = 0; j < ncols; j++)
        pos += 2 + (foot[pos] | (size_t)foot[pos + 1] << 8) + 1;
    pos += g * (4 + 16 * ncols) + 4 + 16 * col;
    uint64_t off = 0;
    for (int k = 7; k >= 0; k--)
        off = off << 8 | foot[pos + (size_t)k];
    if (off == 0)
        return -1;
    *param = p[off + 1];
    return p[off];
}

static void expect_column(struct colf_reader *r, size_t col, const char *const *want, size_t stride,
                          size_t nrows)
{
    struct colf_strs s;
    assert_int_equal(colf_read_strs(r, col, 0, nrows, &s), 0);
    assert_int_equal(s.n, nrows);
    for (size_t i = 0; i < nrows; i++) {
        const char *w = want[i * stride + col];
        if (!w) {
            assert_null(s.s[i]);
            continue;
        }
        assert_non_null(s.s[i]);
        assert_int_equal(s.len[i], strlen(w));
        assert_string_equal(s.s[i], w);
    }
    colf_strs_release(&s);
}

/* Each case: one column of four values, the encoding the writer must choose, and the
 * float64 param when it is 1. Every case must read back as exactly the same text. */
struct enc_case {
    const char *v[4];
    int enc;
    int param;
};

static const struct enc_case enc_cases[] = {
    {{"1", "2", "-3", "40"}, 1, 255},
    {{"0.1", "2.5", NULL, "1e+20"}, 1, 255},
    {{"-0", "3.14159", "1e-05", "123"}, 1, 255},
    {{"5.0", "3.1", "4.9", NULL}, 1, 1},
    {{"1.50", "2.25", "3.00", "0.10"}, 1, 2},
    {{"1.5", "2.25", "3.0", "4"}, 2, 0}, /* no one rendering fits all */
    {{"007", "1", "2", "3"}, 2, 0},      /* leading zeros do not round-trip */
    {{"1e5", "2", "3", "4"}, 2, 0},
    {{"-05", "1", "2", "3"}, 2, 0},                               /* leading zero after the sign */
    {{"+1", "1", "2", "3"}, 2, 0},                                /* a sign the rendering drops */
    {{"123456789012345", "1234567890123456", "0", "-0"}, 1, 255}, /* 1e5 renders as 100000 */
    {{"nan", "1", "2", "3"}, 2, 0},                               /* not finite */
    {{" 1", "2", "3", "4"}, 2, 0},                                /* blanks */
    {{"123456789012345678", "1", "2", "3"}, 2, 0},                /* beyond float64 precision */
    {{"a", "a", "a", "a"}, 3, 1},                                 /* dictionary pays */
    {{"alpha", "", NULL, "beta"}, 2, 0}, /* empty is a value, NULL is missing */
};

static void test_encodings_and_exact_text(void **state)
{
    for (size_t k = 0; k < sizeof enc_cases / sizeof enc_cases[0]; k++) {
        const struct enc_case *c = &enc_cases[k];
        struct buf f;
        struct colf_reader *r;
        int param = -1;
        write_table(&f, 1, 4, c->v, 16, NULL);
        assert_int_equal(chunk_encoding(&f, 0, 0, &param), c->enc);
        if (c->enc != 2)
            assert_int_equal(param, c->param);
        assert_int_equal(colf_reader_open_mem(f.data, f.len, &r), 0);
        assert_string_equal(colf_type(r, 0), "text");
        expect_column(r, 0, c->v, 1, 4);
        colf_reader_free(r);
        buf_release(&f);
    }
}

static const char *const mixed[] = {
    /* c0 numbers, c1 categories, c2 text with missing, c3 all missing, c4 fixed decimals */
    "1",   "red", "x",   NULL,     "5.0", "2",    "blue", NULL,  NULL, "5.1",  "3",   "red",
    "",    NULL,  "4.9", "4",      "red", "y\"z", NULL,   NULL,  "5",  "blue", "w",   NULL,
    "6.0", "6",   "red", "long v", NULL,  "0.5",  "7",    "red", "v",  NULL,   "1.0",
};

static void test_round_trip_mixed(void **state)
{
    static const char *const types[] = {"numerical_integer", "categorical", "text",
                                        "numerical_float", "numerical_float"};
    /* groups of 1, 3 (7 rows: 3 + 3 + 1), 7 (exactly one group) and 64 */
    static const size_t groups[] = {1, 3, 7, 64};
    for (size_t k = 0; k < 4; k++) {
        struct buf f;
        struct colf_reader *r;
        write_table(&f, 5, 7, mixed, groups[k], types);
        assert_int_equal(colf_reader_open_mem(f.data, f.len, &r), 0);
        assert_int_equal(colf_ncols(r), 5);
        assert_int_equal(colf_nrows(r), 7);
        assert_string_equal(colf_name(r, 3), "c3");
        assert_string_equal(colf_type(r, 0), "numerical_integer");
        assert_string_equal(colf_type(r, 1), "categorical");
        assert_null(colf_name(r, 5));
        assert_int_equal(colf_find(r, "c4"), 4);
        assert_int_equal(colf_find(r, "nope"), -ENOENT);
        for (size_t j = 0; j < 5; j++)
            expect_column(r, j, mixed, 5, 7);
        double v[7];
        size_t bad = 99;
        assert_int_equal(colf_read_f64(r, 0, 0, 7, v, &bad), 0);
        assert_int_equal(bad, 0);
        for (int i = 0; i < 7; i++)
            assert_true(v[i] == i + 1);
        assert_int_equal(colf_read_f64(r, 4, 2, 4, v, &bad), 0);
        assert_true(v[0] == 4.9 && isnan(v[1]) && v[2] == 6.0 && v[3] == 0.5);
        assert_int_equal(colf_read_f64(r, 1, 0, 7, v, &bad), 0);
        assert_int_equal(bad, 7); /* categories do not parse: NaN, counted */
        assert_true(isnan(v[3]));
        assert_int_equal(colf_read_f64(r, 3, 0, 7, v, &bad), 0);
        assert_int_equal(bad, 0);
        assert_true(isnan(v[0]) && isnan(v[6]));
        assert_int_equal(colf_read_f64(r, 0, 6, 2, v, NULL), -EINVAL);
        assert_int_equal(colf_read_f64(r, 5, 0, 1, v, NULL), -EINVAL);
        colf_reader_free(r);
        buf_release(&f);
    }
}

static void test_late_columns_and_short_rows(void **state)
{
    struct buf f;
    struct colf_writer *w;
    struct colf_reader *r;
    struct colf_cell row[3] = {cell("1"), cell("a"), cell("z")};
    buf_init(&f, SIZE_MAX - 1);
    assert_int_equal(colf_writer_new(sink_buf, &f, &w), 0);
    assert_int_equal(colf_writer_set_group_rows(w, 3), 0);
    assert_int_equal(colf_writer_add_column(w, "n"), 0);
    for (int i = 0; i < 4; i++) /* one full group and one row of the next */
        assert_int_equal(colf_writer_row(w, row, 1), 0);
    assert_int_equal(colf_writer_set_group_rows(w, 5), -EINVAL); /* rows were written */
    assert_int_equal(colf_writer_add_column(w, "late"), 0);
    assert_int_equal(colf_writer_row(w, row, 3), -EINVAL); /* more cells than columns */
    colf_writer_free(w);
    buf_release(&f);

    buf_init(&f, SIZE_MAX - 1);
    assert_int_equal(colf_writer_new(sink_buf, &f, &w), 0);
    assert_int_equal(colf_writer_set_group_rows(w, 3), 0);
    assert_int_equal(colf_writer_add_column(w, "n"), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(colf_writer_row(w, row, 1), 0);
    assert_int_equal(colf_writer_add_column(w, "late"), 0);
    assert_int_equal(colf_writer_row(w, row, 2), 0);
    assert_int_equal(colf_writer_row(w, row, 0), 0); /* all missing */
    assert_int_equal(colf_writer_add_column(w, "never"), 0);
    static const char *const types[] = {"numerical_integer", "categorical", "text"};
    assert_int_equal(colf_writer_finish(w, types), 0);
    assert_int_equal(colf_writer_row(w, row, 1), -EINVAL); /* after finish */
    colf_writer_free(w);

    static const char *const want[] = {"1", NULL, NULL, "1", NULL, NULL, "1",  NULL, NULL,
                                       "1", NULL, NULL, "1", "a",  NULL, NULL, NULL, NULL};
    assert_int_equal(colf_reader_open_mem(f.data, f.len, &r), 0);
    assert_int_equal(colf_nrows(r), 6);
    assert_int_equal(colf_ncols(r), 3);
    for (size_t j = 0; j < 3; j++)
        expect_column(r, j, want, 3, 6);
    colf_reader_free(r);
    buf_release(&f);
}

static void test_empty_files(void **state)
{
    struct buf f;
    struct colf_writer *w;
    struct colf_reader *r;
    struct colf_strs s;
    double v[1];
    /* no columns, no rows */
    buf_init(&f, SIZE_MAX - 1);
    assert_int_equal(colf_writer_new(sink_buf, &f, &w), 0);
    assert_int_equal(colf_writer_finish(w, NULL), 0);
    colf_writer_free(w);
    assert_int_equal(f.len, 8 + 16 + 12);
    assert_int_equal(colf_reader_open_mem(f.data, f.len, &r), 0);
    assert_int_equal(colf_ncols(r), 0);
    assert_int_equal(colf_nrows(r), 0);
    colf_reader_free(r);
    buf_release(&f);
    /* columns but no rows: a zero-length range reads fine, anything more is -EINVAL */
    write_table(&f, 2, 0, NULL, 4, NULL);
    assert_int_equal(colf_reader_open_mem(f.data, f.len, &r), 0);
    assert_int_equal(colf_ncols(r), 2);
    assert_int_equal(colf_nrows(r), 0);
    assert_int_equal(colf_read_f64(r, 1, 0, 0, v, NULL), 0);
    assert_int_equal(colf_read_strs(r, 0, 0, 0, &s), 0);
    assert_int_equal(s.n, 0);
    colf_strs_release(&s);
    assert_int_equal(colf_read_f64(r, 0, 0, 1, v, NULL), -EINVAL);
    colf_reader_free(r);
    buf_release(&f);
}

static void test_bad_arguments(void **state)
{
    struct colf_writer *w;
    struct buf f;
    buf_init(&f, SIZE_MAX - 1);
    assert_int_equal(colf_writer_new(NULL, &f, &w), -EINVAL);
    assert_int_equal(colf_writer_new(sink_buf, &f, &w), 0);
    assert_int_equal(colf_writer_set_group_rows(w, 0), -EINVAL);
    assert_int_equal(colf_writer_set_group_rows(w, COLF_GROUP_ROWS + 1), -EINVAL);
    assert_int_equal(colf_writer_add_column(w, NULL), -EINVAL);
    assert_int_equal(colf_writer_add_column(w, "a"), 0);
    static const char *const bad[] = {"integer"};
    assert_int_equal(colf_writer_finish(w, bad), -EINVAL);
    static const char *const none[] = {NULL};
    assert_int_equal(colf_writer_finish(w, none), -EINVAL);
    colf_writer_free(w);
    colf_writer_free(NULL);
    colf_reader_free(NULL);
    colf_strs_release(NULL);
    buf_release(&f);
}

struct limited {
    struct buf b;
    size_t limit;
};

static int sink_limited(void *ctx, const void *data, size_t len)
{
    struct limited *l = ctx;
    if (l->b.len + len > l->limit)
        return -ENOSPC;
    return buf_append(&l->b, data, len);
}

static void test_sink_error_is_sticky(void **state)
{
    struct limited l;
    struct colf_writer *w;
    struct colf_cell row[1] = {cell("12345")};
    buf_init(&l.b, 1 << 20);
    l.limit = 20;
    assert_int_equal(colf_writer_new(sink_limited, &l, &w), 0);
    assert_int_equal(colf_writer_set_group_rows(w, 2), 0);
    assert_int_equal(colf_writer_add_column(w, "a"), 0);
    assert_int_equal(colf_writer_row(w, row, 1), 0);
    assert_int_equal(colf_writer_row(w, row, 1), -ENOSPC); /* the group is sent */
    assert_int_equal(colf_writer_row(w, row, 1), -ENOSPC);
    assert_int_equal(colf_writer_add_column(w, "b"), -ENOSPC);
    assert_int_equal(colf_writer_finish(w, NULL), -ENOSPC);
    colf_writer_free(w);
    buf_release(&l.b);
}

/* A read callback that hands out at most 3 bytes per call and can fail. */
struct trickle {
    const struct buf *f;
    int fail;
};

static int read_trickle(void *ctx, uint64_t off, void *dst, size_t len, size_t *nread)
{
    struct trickle *t = ctx;
    if (t->fail)
        return -EAGAIN;
    size_t k = 0;
    if (off < t->f->len)
        k = t->f->len - off < len ? t->f->len - off : len;
    k = k > 3 ? 3 : k;
    memcpy(dst, t->f->data + off, k);
    *nread = k;
    return 0;
}

static void test_read_callback(void **state)
{
    struct buf f;
    struct colf_reader *r;
    write_table(&f, 5, 7, mixed, 3, NULL);
    struct trickle t = {&f, 0};
    assert_int_equal(colf_reader_open(read_trickle, &t, f.len, &r), 0);
    for (size_t j = 0; j < 5; j++)
        expect_column(r, j, mixed, 5, 7);
    t.fail = 1; /* the callback's own error comes back as is */
    double v[7];
    assert_int_equal(colf_read_f64(r, 0, 0, 7, v, NULL), -EAGAIN);
    colf_reader_free(r);
    assert_int_equal(colf_reader_open(read_trickle, &t, f.len, &r), -EAGAIN);
    t.fail = 0;
    /* a size larger than the content: the trailer is not where it should be */
    assert_int_equal(colf_reader_open(read_trickle, &t, f.len + 5, &r), -EIO);
    buf_release(&f);
}

/* Open and read every column fully; 0 when all of it validated. */
static int read_everything(const void *data, size_t len)
{
    struct colf_reader *r;
    int rc = colf_reader_open_mem(data, len, &r);
    if (rc)
        return rc;
    for (size_t j = 0; rc == 0 && j < colf_ncols(r); j++) {
        struct colf_strs s;
        rc = colf_read_strs(r, j, 0, (size_t)colf_nrows(r), &s);
        if (rc == 0)
            colf_strs_release(&s);
    }
    colf_reader_free(r);
    return rc;
}

static void test_every_corruption_detected(void **state)
{
    struct buf f;
    write_table(&f, 5, 7, mixed, 3, NULL);
    assert_int_equal(read_everything(f.data, f.len), 0);
    unsigned char *copy = malloc(f.len);
    assert_non_null(copy);
    for (size_t i = 0; i < f.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, f.data, f.len);
            copy[i] ^= (unsigned char)(1u << bit);
            assert_int_equal(read_everything(copy, f.len), -EIO);
        }
        memcpy(copy, f.data, f.len);
        copy[i] ^= 0xff;
        assert_int_equal(read_everything(copy, f.len), -EIO);
    }
    for (size_t k = 0; k < f.len; k++)
        assert_int_equal(read_everything(f.data, k), -EIO);
    /* garbage appended: the trailer is no longer last */
    memcpy(copy, f.data, f.len);
    assert_int_equal(buf_append(&f, "xyz", 3), 0);
    assert_int_equal(read_everything(f.data, f.len), -EIO);
    free(copy);
    buf_release(&f);
}

/* 200,000 rows over four groups of the default size: numbers, a 3-value category and
 * unique strings, read back in ranges that straddle group boundaries. */
static void test_large_multi_group(void **state)
{
    enum { N = 200000 };
    static const char *const colours[] = {"red", "green", "blue"};
    struct buf f;
    struct colf_writer *w;
    struct colf_reader *r;
    char num[32], id[32];
    buf_init(&f, SIZE_MAX - 1);
    assert_int_equal(colf_writer_new(sink_buf, &f, &w), 0);
    assert_int_equal(colf_writer_add_column(w, "x"), 0);
    assert_int_equal(colf_writer_add_column(w, "colour"), 0);
    assert_int_equal(colf_writer_add_column(w, "id"), 0);
    for (int i = 0; i < N; i++) {
        snprintf(num, sizeof num, "%d.25", i);
        snprintf(id, sizeof id, "row-%d", i);
        struct colf_cell row[3] = {cell(num), cell(i % 7 == 0 ? NULL : colours[i % 3]), cell(id)};
        assert_int_equal(colf_writer_row(w, row, 3), 0);
    }
    static const char *const types[] = {"numerical_float", "categorical", "text"};
    assert_int_equal(colf_writer_finish(w, types), 0);
    colf_writer_free(w);
    int param;
    assert_int_equal(chunk_encoding(&f, 3, 0, &param), 1);
    assert_int_equal(chunk_encoding(&f, 3, 1, &param), 3);
    assert_int_equal(chunk_encoding(&f, 0, 2, &param), 2);
    assert_int_equal(colf_reader_open_mem(f.data, f.len, &r), 0);
    assert_int_equal(colf_nrows(r), N);
    double *v = malloc(N * sizeof *v);
    assert_non_null(v);
    assert_int_equal(colf_read_f64(r, 0, 0, N, v, NULL), 0);
    for (int i = 0; i < N; i++)
        assert_true(v[i] == i + 0.25);
    struct colf_strs s;
    assert_int_equal(colf_read_strs(r, 1, 65530, 20, &s), 0);
    for (size_t i = 0; i < 20; i++) {
        size_t row = 65530 + i;
        if (row % 7 == 0)
            assert_null(s.s[i]);
        else
            assert_string_equal(s.s[i], colours[row % 3]);
    }
    colf_strs_release(&s);
    assert_int_equal(colf_read_strs(r, 2, N - 3, 3, &s), 0);
    assert_string_equal(s.s[2], "row-199999");
    colf_strs_release(&s);
    free(v);
    colf_reader_free(r);
    buf_release(&f);
}

static void test_crc32c_check_value(void **state)
{
    /* the standard check value of CRC-32C ("123456789" -> 0xE3069283) */
    assert_int_equal(colf_crc32c(0, "123456789", 9), 0xE3069283u);
    uint32_t c = colf_crc32c(0, "1234", 4);
    assert_int_equal(colf_crc32c(c, "56789", 5), 0xE3069283u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_check_value),
        cmocka_unit_test(test_encodings_and_exact_text),
        cmocka_unit_test(test_round_trip_mixed),
        cmocka_unit_test(test_late_columns_and_short_rows),
        cmocka_unit_test(test_empty_files),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_sink_error_is_sticky),
        cmocka_unit_test(test_read_callback),
        cmocka_unit_test(test_every_corruption_detected),
        cmocka_unit_test(test_large_multi_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
