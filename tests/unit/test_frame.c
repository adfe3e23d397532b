/* test_frame: the typed data frame: text parsers, loading every kind from IBXC, null-like
 * texts, row selection, sampling and rows as JSON. */
#include <ibx/buf.h>
#include <ibx/colf.h>
#include <ibx/frame.h>

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

/* Expected values from Python 3: datetime(..., tzinfo=...).timestamp(). */
struct time_case {
    const char *text;
    int ok;
    double secs;
};

static const struct time_case time_cases[] = {
    {"2024-03-01", 1, 1709251200.0},
    {"01/02/2020", 1, 1580515200.0}, /* d/m/Y: 1 February */
    {"1-2-2020", 1, 1580515200.0},
    {"1.2.2020", 1, 1580515200.0},
    {"2020/2/1", 1, 1580515200.0},
    {"2000-02-29T12:30", 1, 951827400.0},
    {"1969-12-31 23:59:59", 1, -1.0},
    {"2021-06-15T10:00:00+02:00", 1, 1623744000.0},
    {"2021-06-15T10:00:00.5-0530", 1, 1623771000.5},
    {"2021-06-15T08:00:00Z", 1, 1623744000.0},
    {" 1999-12-31 ", 1, 946598400.0},
    {"25/12/2024 08:05", 1, 1735113900.0},
    {"2023-02-29", 0, 0}, /* not a leap year */
    {"2024-13-01", 0, 0},
    {"2024-03-01T24:00", 0, 0},
    {"2024-03-01T10:60", 0, 0},
    {"2024-03-01X", 0, 0},
    {"2024-03/01", 0, 0}, /* mixed separators */
    {"20240301", 0, 0},
    {"1.5", 0, 0},
    {"123/04/2020", 0, 0},
    {"2024-03-01T10:00+15", 0, 0},
    {"", 0, 0},
};

static void test_parse_temporal(void **state)
{
    for (size_t i = 0; i < sizeof time_cases / sizeof time_cases[0]; i++) {
        const struct time_case *c = &time_cases[i];
        double v = -12345;
        int rc = frame_parse_temporal(c->text, strlen(c->text), &v);
        if (!c->ok) {
            assert_int_equal(rc, -EINVAL);
            assert_true(v == -12345); /* untouched */
            continue;
        }
        assert_int_equal(rc, 0);
        assert_true(v == c->secs);
    }
}

static void test_parse_bool_and_null_like(void **state)
{
    static const struct {
        const char *s;
        int rc, v;
    } cases[] = {{"true", 0, 1},   {"FALSE", 0, 0},    {"Yes", 0, 1}, {"n", 0, 0},
                 {"1", 0, 1},      {"0", 0, 0},        {"T", 0, 1},   {"2", -EINVAL, 0},
                 {"", -EINVAL, 0}, {"tru", -EINVAL, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int v = -1;
        assert_int_equal(frame_parse_bool(cases[i].s, strlen(cases[i].s), &v), cases[i].rc);
        if (cases[i].rc == 0)
            assert_int_equal(v, cases[i].v);
    }
    assert_true(frame_is_null_like("N/A", 3));
    assert_true(frame_is_null_like("", 0));
    assert_true(frame_is_null_like(" ", 1));
    assert_false(frame_is_null_like("n/A", 3));
    assert_false(frame_is_null_like("nil", 3));
}

static int sink_buf(void *ctx, const void *data, size_t len)
{
    return buf_append(ctx, data, len);
}

enum { NCOLS = 8, NROWS = 6 };

static const char *const names[NCOLS] = {"n",      "flag", "maybe", "when",
                                         "colour", "note", "dirty", "empty"};
static const char *const types[NCOLS] = {"numerical_integer", "boolean",        "boolean",
                                         "temporal",          "categorical",    "text",
                                         "numerical_float",   "numerical_float"};
static const char *const cells[NROWS][NCOLS] = {
    {"1", "yes", "yes", "2024-03-01", "red", "hello", "1.5", NULL},
    {"2", "no", "maybe", "2024-03-02", "blue", "", "NA", NULL},
    {NULL, NULL, "no", NULL, "red", NULL, "abc", NULL},
    {"4", "Yes", NULL, "02/03/2024", "NULL", "caf\xc3\xa9", "2", NULL},
    {"5", "N", "n", "2024-03-01", "green", "bad \xff byte", "3.25", NULL},
    {"-6", "y", "y", "n/a", "blue", "x", "", NULL},
};

static struct frame *load_fixture(void)
{
    struct buf f;
    struct colf_writer *w;
    struct colf_reader *r;
    struct frame *fr;
    buf_init(&f, SIZE_MAX - 1);
    assert_int_equal(colf_writer_new(sink_buf, &f, &w), 0);
    assert_int_equal(colf_writer_set_group_rows(w, 4), 0); /* two groups */
    for (size_t j = 0; j < NCOLS; j++)
        assert_int_equal(colf_writer_add_column(w, names[j]), 0);
    for (size_t i = 0; i < NROWS; i++) {
        struct colf_cell row[NCOLS];
        for (size_t j = 0; j < NCOLS; j++)
            row[j] = (struct colf_cell){cells[i][j], cells[i][j] ? strlen(cells[i][j]) : 0};
        assert_int_equal(colf_writer_row(w, row, NCOLS), 0);
    }
    assert_int_equal(colf_writer_finish(w, types), 0);
    colf_writer_free(w);
    assert_int_equal(colf_reader_open_mem(f.data, f.len, &r), 0);
    assert_int_equal(frame_load_colf(r, &fr), 0);
    colf_reader_free(r);
    buf_release(&f);
    return fr;
}

static void test_load_every_kind(void **state)
{
    struct frame *f = load_fixture();
    assert_int_equal(frame_ncols(f), NCOLS);
    assert_int_equal(frame_nrows(f), NROWS);
    const struct frame_column *c = frame_col(f, 0);
    assert_int_equal(c->kind, FRAME_NUMERIC);
    assert_string_equal(c->type, "numerical_integer");
    assert_true(c->num[0] == 1 && isnan(c->num[2]) && c->num[5] == -6);
    assert_int_equal(c->missing, 1);

    c = frame_col(f, 1);
    assert_int_equal(c->kind, FRAME_BOOLEAN);
    assert_int_equal(c->ndict, 2);
    assert_string_equal(c->dict[1], "true");
    static const int32_t flag[] = {1, 0, -1, 1, 0, 1};
    assert_memory_equal(c->codes, flag, sizeof flag);

    c = frame_col(f, 2); /* "maybe" is not a boolean: categorical, type kept */
    assert_int_equal(c->kind, FRAME_CATEGORICAL);
    assert_string_equal(c->type, "boolean");
    assert_int_equal(c->ndict, 5);
    assert_string_equal(c->dict[c->codes[1]], "maybe");

    c = frame_col(f, 3);
    assert_int_equal(c->kind, FRAME_TEMPORAL);
    assert_true(c->num[0] == 1709251200.0 && c->num[3] == 1709251200.0 + 86400);
    assert_true(isnan(c->num[5])); /* n/a is null-like: missing, not unparsed */
    assert_int_equal(c->missing, 2);
    assert_int_equal(c->unparsed, 0);

    c = frame_col(f, 4);
    assert_int_equal(c->kind, FRAME_CATEGORICAL);
    assert_int_equal(c->ndict, 3); /* red blue green; "NULL" is missing */
    static const int32_t colour[] = {0, 1, 0, -1, 2, 1};
    assert_memory_equal(c->codes, colour, sizeof colour);

    c = frame_col(f, 5);
    assert_int_equal(c->kind, FRAME_TEXT);
    assert_null(c->text[1]); /* "" is null-like */
    assert_string_equal(c->text[3], "caf\xc3\xa9");

    c = frame_col(f, 6); /* strings chunk: NA and "" missing, abc unparsed */
    assert_int_equal(c->kind, FRAME_NUMERIC);
    assert_true(c->num[0] == 1.5 && c->num[4] == 3.25 && isnan(c->num[2]));
    assert_int_equal(c->missing, 3);
    assert_int_equal(c->unparsed, 1);

    c = frame_col(f, 7);
    assert_int_equal(c->missing, NROWS);
    assert_null(frame_col(f, NCOLS));
    assert_int_equal(frame_find(f, "colour"), 4);
    assert_int_equal(frame_find(f, "x"), -ENOENT);
    assert_true(frame_memory_bytes(f) > NROWS * 8 * 3);
    frame_free(f);
}

static void expect_row_json(const struct frame *f, size_t row, const char *want)
{
    json_t *j;
    assert_int_equal(frame_row_json(f, row, &j), 0);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
    json_decref(j);
}

static void test_row_json(void **state)
{
    struct frame *f = load_fixture();
    expect_row_json(f, 0,
                    "{\"colour\":\"red\",\"dirty\":1.5,\"empty\":null,\"flag\":true,"
                    "\"maybe\":\"yes\",\"n\":1,\"note\":\"hello\",\"when\":\"2024-03-01\"}");
    expect_row_json(f, 4,
                    "{\"colour\":\"green\",\"dirty\":3.25,\"empty\":null,\"flag\":false,"
                    "\"maybe\":\"n\",\"n\":5,\"note\":\"bad \xef\xbf\xbd byte\","
                    "\"when\":\"2024-03-01\"}");
    json_t *j = NULL;
    assert_int_equal(frame_row_json(f, NROWS, &j), -EINVAL);
    assert_null(j);
    frame_free(f);

    /* times that are not all midnights print as date-times */
    struct frame *g;
    static const char *const when[] = {"2021-06-15T10:00:00.5-0530", "2024-03-01"};
    static const double x[] = {0.5, NAN};
    assert_int_equal(frame_new(2, &g), 0);
    assert_int_equal(frame_add_strings(g, "t", "temporal", when), 0);
    assert_int_equal(frame_add_numeric(g, "x", NULL, x), 0);
    assert_int_equal(frame_add_numeric(g, "bad", "categorical", x), -EINVAL);
    assert_int_equal(frame_add_strings(g, "bad", "integer", when), -EINVAL);
    expect_row_json(g, 0, "{\"t\":\"2021-06-15T15:30:00.500Z\",\"x\":0.5}");
    expect_row_json(g, 1, "{\"t\":\"2024-03-01T00:00:00Z\",\"x\":null}");
    frame_free(g);
}

static void test_select_rows(void **state)
{
    struct frame *f = load_fixture(), *g;
    static const size_t rows[] = {5, 0, 0, 3};
    assert_int_equal(frame_select_rows(f, rows, 4, &g), 0);
    assert_int_equal(frame_nrows(g), 4);
    assert_int_equal(frame_ncols(g), NCOLS);
    const struct frame_column *c = frame_col(g, 0);
    assert_true(c->num[0] == -6 && c->num[1] == 1 && c->num[3] == 4);
    c = frame_col(g, 4);
    assert_int_equal(c->ndict, 3); /* dictionary kept whole */
    assert_string_equal(c->dict[c->codes[0]], "blue");
    assert_int_equal(c->codes[3], -1);
    assert_int_equal(c->missing, 1);
    c = frame_col(g, 5);
    assert_string_equal(c->text[0], "x");
    assert_string_equal(c->text[2], "hello");
    assert_int_equal(frame_col(g, 1)->kind, FRAME_BOOLEAN);
    expect_row_json(g, 1,
                    "{\"colour\":\"red\",\"dirty\":1.5,\"empty\":null,\"flag\":true,"
                    "\"maybe\":\"yes\",\"n\":1,\"note\":\"hello\",\"when\":\"2024-03-01\"}");
    frame_free(g);
    static const size_t bad[] = {0, NROWS};
    g = NULL;
    assert_int_equal(frame_select_rows(f, bad, 2, &g), -EINVAL);
    assert_null(g);
    assert_int_equal(frame_select_rows(f, rows, 0, &g), 0);
    assert_int_equal(frame_nrows(g), 0);
    frame_free(g);
    frame_free(f);
}

static void test_sample(void **state)
{
    enum { N = 1000, K = 100 };
    struct frame *f;
    size_t a[K], b[K], count = 0;
    assert_int_equal(frame_new(N, &f), 0);
    assert_int_equal(frame_sample(f, K, FRAME_SAMPLE_HEAD, 0, a, &count), 0);
    assert_int_equal(count, K);
    assert_int_equal(a[0], 0);
    assert_int_equal(a[K - 1], K - 1);
    assert_int_equal(frame_sample(f, K, FRAME_SAMPLE_RANDOM, 42, a, &count), 0);
    assert_int_equal(count, K);
    assert_int_equal(frame_sample(f, K, FRAME_SAMPLE_RANDOM, 42, b, &count), 0);
    assert_memory_equal(a, b, sizeof a); /* reproducible */
    for (size_t i = 1; i < K; i++)
        assert_true(a[i - 1] < a[i] && a[i] < N); /* distinct, ascending */
    assert_true(a[K - 1] >= K);                   /* not the head */
    assert_int_equal(frame_sample(f, K, FRAME_SAMPLE_RANDOM, 43, b, &count), 0);
    assert_memory_not_equal(a, b, sizeof a);
    /* every row equally likely: 200 draws of 100 from 1000 pick each row ~20 times */
    unsigned hits[N] = {0};
    for (uint64_t seed = 0; seed < 200; seed++) {
        assert_int_equal(frame_sample(f, K, FRAME_SAMPLE_RANDOM, seed, a, &count), 0);
        for (size_t i = 0; i < K; i++)
            hits[a[i]]++;
    }
    unsigned first = 0, last = 0;
    for (size_t i = 0; i < N / 10; i++) {
        first += hits[i];
        last += hits[N - 1 - i];
    }
    assert_true(first > 1600 && first < 2400 && last > 1600 && last < 2400);
    frame_free(f);
    /* more than there are: all rows */
    size_t c[8];
    assert_int_equal(frame_new(5, &f), 0);
    assert_int_equal(frame_sample(f, 8, FRAME_SAMPLE_RANDOM, 1, c, &count), 0);
    assert_int_equal(count, 5);
    assert_int_equal(c[4], 4);
    assert_int_equal(frame_sample(f, 8, 7, 1, c, &count), -EINVAL);
    frame_free(f);
}

static void test_select_after_sample(void **state)
{
    struct frame *f = load_fixture(), *g;
    size_t idx[3], count;
    assert_int_equal(frame_sample(f, 3, FRAME_SAMPLE_RANDOM, 7, idx, &count), 0);
    assert_int_equal(frame_select_rows(f, idx, count, &g), 0);
    for (size_t i = 0; i < count; i++) {
        const struct frame_column *a = frame_col(f, 4), *b = frame_col(g, 4);
        assert_int_equal(a->codes[idx[i]], b->codes[i]);
    }
    frame_free(g);
    frame_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_temporal),      cmocka_unit_test(test_parse_bool_and_null_like),
        cmocka_unit_test(test_load_every_kind),     cmocka_unit_test(test_row_json),
        cmocka_unit_test(test_select_rows),         cmocka_unit_test(test_sample),
        cmocka_unit_test(test_select_after_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
