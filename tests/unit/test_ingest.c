/* test_ingest: the upload glue: one JSON document per file (whole and byte by byte the same),
 * typed preview, IBIS-X suggestions, errors with messages, and the columnar copy. */
#include <ibx/colf.h>
#include <ibx/ingest.h>

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct mem {
    unsigned char *d;
    size_t len, cap;
    int fail_at; /* sink call that fails (1-based), 0 never */
    int calls;
};

static int mem_sink(void *ctx, const void *data, size_t len)
{
    struct mem *m = ctx;
    if (m->fail_at && ++m->calls == m->fail_at)
        return -EIO;
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4096;
        while (cap < m->len + len)
            cap *= 2;
        unsigned char *tmp = realloc(m->d, cap);
        if (!tmp)
            return -ENOMEM;
        m->d = tmp;
        m->cap = cap;
    }
    memcpy(m->d + m->len, data, len);
    m->len += len;
    return 0;
}

/* Ingest len bytes in chunks of step (0: whole) on threads threads. Returns the rc; *doc set
 * on success. */
static int run_n(const char *in, size_t len, const char *filename, size_t step, size_t threads,
                 struct mem *colf, json_t **doc, char *msg, size_t msgn)
{
    struct ingest_opts o = {filename, 0, 0, 0, colf ? mem_sink : NULL, colf, threads};
    struct ingest *g = NULL;
    assert_int_equal(ingest_new(&o, &g), 0);
    size_t pos = 0;
    int rc = 0;
    while (rc == 0 && pos < len) {
        size_t n = step && step < len - pos ? step : len - pos;
        rc = ingest_push(g, in + pos, n);
        pos += n;
    }
    if (rc == 0)
        rc = ingest_finish(g, doc);
    if (msg)
        snprintf(msg, msgn, "%s", ingest_error(g));
    ingest_free(g);
    return rc;
}

/* The same with the default threads (one per CPU). */
static int run(const char *in, const char *filename, size_t step, struct mem *colf, json_t **doc,
               char *msg, size_t msgn)
{
    return run_n(in, strlen(in), filename, step, 0, colf, doc, msg, msgn);
}

static const char *students = "student_id,Name,math_score,passed,enrolled,label\r\n"
                              "1,Ann,12.5,yes,2023-09-01,A\r\n"
                              "2,Bob,,no,2023-09-02,B\r\n"
                              "3,\"Chloé, Jr.\",17.25,yes,2023-09-03,A\r\n"
                              "4,Dan,9,no,NA,B\r\n"
                              "5,Eve,14,yes,2023-09-05,A\r\n"
                              "6,Fay,11,yes,2023-09-06,A\r\n";

static const json_t *column(const json_t *doc, size_t i)
{
    return json_array_get(json_object_get(doc, "columns"), i);
}

static const char *str_at(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_document(void **state)
{
    (void)state;
    json_t *doc = NULL;
    char msg[320];
    assert_int_equal(run(students, "uploads/student_scores.csv", 0, NULL, &doc, msg, sizeof(msg)),
                     0);
    assert_string_equal(str_at(doc, "format"), "csv");
    assert_string_equal(str_at(doc, "delimiter"), ",");
    assert_true(json_is_true(json_object_get(doc, "has_header")));
    assert_int_equal(json_integer_value(json_object_get(doc, "row_count")), 6);
    assert_int_equal(json_integer_value(json_object_get(doc, "column_count")), 6);
    assert_int_equal(json_integer_value(json_object_get(doc, "missing_cells")), 2);
    assert_true(fabs(json_real_value(json_object_get(doc, "missing_percentage")) - 200.0 / 36) <
                1e-9);
    static const char *const types[] = {"numerical_integer", "text",     "numerical_float",
                                        "boolean",           "temporal", "categorical"};
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(str_at(column(doc, i), "type"), types[i]);
    assert_true(json_is_true(json_object_get(column(doc, 1), "pii")));
    assert_true(json_is_false(json_object_get(column(doc, 2), "pii")));
    /* preview: typed values */
    const json_t *pv = json_object_get(doc, "preview");
    assert_int_equal(json_array_size(json_object_get(pv, "columns")), 6);
    const json_t *rows = json_object_get(pv, "rows");
    assert_int_equal(json_array_size(rows), 6);
    const json_t *r1 = json_array_get(rows, 1), *r2 = json_array_get(rows, 2);
    assert_true(json_is_integer(json_array_get(r1, 0)) &&
                json_integer_value(json_array_get(r1, 0)) == 2);
    assert_true(json_is_null(json_array_get(r1, 2)));
    assert_true(json_is_false(json_array_get(r1, 3)));
    assert_string_equal(json_string_value(json_array_get(r2, 1)), "Chloé, Jr.");
    assert_true(json_real_value(json_array_get(r2, 2)) == 17.25);
    assert_string_equal(json_string_value(json_array_get(r2, 4)), "2023-09-03");
    /* suggestions */
    const json_t *sg = json_object_get(doc, "suggestions");
    assert_string_equal(json_string_value(json_array_get(json_object_get(sg, "domains"), 0)),
                        "education");
    assert_int_equal(json_array_size(json_object_get(sg, "domains")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(sg, "tasks"), 0)),
                        "classification");
    assert_string_equal(str_at(sg, "target_column"), "label");
    assert_string_equal(str_at(sg, "display_name"), "Student Scores");
    /* correlations over the numeric columns */
    const json_t *cr = json_object_get(doc, "correlations");
    assert_int_equal(json_array_size(json_object_get(cr, "columns")), 2);

    /* byte by byte and in odd chunks: the same document */
    static const size_t steps[] = {1, 5, 64};
    for (size_t s = 0; s < 3; s++) {
        json_t *d2 = NULL;
        assert_int_equal(run(students, "uploads/student_scores.csv", steps[s], NULL, &d2, NULL, 0),
                         0);
        assert_true(json_equal(doc, d2));
        json_decref(d2);
    }
    json_decref(doc);
}

static void test_suggestions(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *filename;
        const char *domains; /* comma-joined */
        const char *task;
        const char *target; /* NULL: none */
    } cases[] = {
        {"price,cost,target\n1.5,2,3.25\n2.5,3,4.75\n3.5,1,9.5\n", "house_prices.csv", "finance",
         "regression", "target"},
        {"age,gender,diagnosis\n30,F,flu\n40,M,cold\n50,F,flu\n41,M,flu\n", NULL, "healthcare",
         "classification", "diagnosis"},
        {"a,b\n1,x\n2,y\n", NULL, "general", "classification", NULL},
        {"page,average,kind\n1,2.5,u\n2,3.5,v\n3,1.5,u\n4,1.5,u\n5,1.5,v\n", NULL, "general",
         "classification", "kind"},
        {"sepalLength,Species\n5.1,setosa\n4.9,setosa\n7.0,versicolor\n", NULL, "general",
         "classification", "Species"},
        {"{\"Revenue\":1,\"y\":0.5}\n{\"Revenue\":2,\"y\":1.5}\n", "sales.jsonl", "finance",
         "regression", "y"},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        json_t *doc = NULL;
        char msg[320];
        if (run(cases[c].in, cases[c].filename, 0, NULL, &doc, msg, sizeof(msg)) != 0)
            fail_msg("case %zu: %s", c, msg);
        const json_t *sg = json_object_get(doc, "suggestions");
        char dom[128] = "";
        size_t dl = 0;
        for (size_t i = 0; i < json_array_size(json_object_get(sg, "domains")); i++) {
            const char *d = json_string_value(json_array_get(json_object_get(sg, "domains"), i));
            int w = snprintf(dom + dl, sizeof dom - dl, "%s%s", i ? "," : "", d);
            assert_true(w >= 0 && (size_t)w < sizeof dom - dl);
            dl += (size_t)w;
        }
        const char *task = json_string_value(json_array_get(json_object_get(sg, "tasks"), 0));
        const char *target = json_string_value(json_object_get(sg, "target_column"));
        if (strcmp(dom, cases[c].domains) != 0 || strcmp(task, cases[c].task) != 0 ||
            (cases[c].target ? !target || strcmp(target, cases[c].target) != 0 : target != NULL))
            fail_msg("case %zu: domains %s task %s target %s", c, dom, task,
                     target ? target : "null");
        json_decref(doc);
    }
}

static void test_display_name(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"student_scores.csv", "Student Scores"},
        {"/a/b/my-data.v2.json", "My-Data.V2"},
        {"IRIS_dataset.tsv", "Iris Dataset"},
        {"2nd_try.csv", "2Nd Try"},
        {"noext", "Noext"},
        {".hidden", ".Hidden"},
    };
    char b[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ingest_display_name(cases[i][0], b, sizeof(b));
        assert_string_equal(b, cases[i][1]);
    }
    ingest_display_name(NULL, b, sizeof(b));
    assert_string_equal(b, "");
    ingest_display_name("abcdef.csv", b, 4);
    assert_string_equal(b, "Abc");
}

static void test_json_late_columns(void **state)
{
    (void)state;
    json_t *doc = NULL;
    const char *in =
        "[{\"a\":1,\"b\":\"x\"},{\"a\":2,\"c\":{\"k\":[1,2]}},{\"c\":null,\"b\":\"y\"}]";
    assert_int_equal(run(in, "items.json", 0, NULL, &doc, NULL, 0), 0);
    assert_string_equal(str_at(doc, "format"), "json");
    assert_true(json_is_null(json_object_get(doc, "delimiter")));
    assert_int_equal(json_integer_value(json_object_get(doc, "column_count")), 3);
    assert_int_equal(json_integer_value(json_object_get(column(doc, 2), "missing")), 2);
    const json_t *rows = json_object_get(json_object_get(doc, "preview"), "rows");
    assert_true(json_is_null(json_array_get(json_array_get(rows, 0), 2)));
    assert_string_equal(json_string_value(json_array_get(json_array_get(rows, 1), 2)),
                        "{\"k\":[1,2]}");
    assert_true(json_is_null(json_array_get(json_array_get(rows, 2), 0)));
    json_decref(doc);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *filename;
        int rc;
        const char *msg;
    } cases[] = {
        {"a,b\n1,2\n3\n", "x.csv", -EINVAL, "line 3: 1 fields, but the header has 2"},
        {"a,b\n", "x.csv", -EINVAL, "no data rows"},
        {"", "x.csv", -EINVAL, "empty file"},
        {"a,b\n1,2\n", "x.parquet", -EPROTONOSUPPORT, "supported formats are CSV"},
        {"[{\"a\":1},]", "x.json", -EINVAL, "malformed JSON at line 1"},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        json_t *doc = NULL;
        char msg[320];
        int rc = run(cases[c].in, cases[c].filename, 0, NULL, &doc, msg, sizeof(msg));
        if (rc != cases[c].rc || !strstr(msg, cases[c].msg))
            fail_msg("case %zu: rc %d '%s'", c, rc, msg);
        assert_null(doc);
    }
}

static void test_columnar_copy(void **state)
{
    (void)state;
    struct mem m = {0};
    json_t *doc = NULL;
    assert_int_equal(run(students, "s.csv", 7, &m, &doc, NULL, 0), 0);
    struct colf_reader *r = NULL;
    assert_int_equal(colf_reader_open_mem(m.d, m.len, &r), 0);
    assert_int_equal(colf_ncols(r), 6);
    assert_int_equal(colf_nrows(r), 6);
    assert_string_equal(colf_name(r, 2), "math_score");
    assert_string_equal(colf_type(r, 2), "numerical_float");
    assert_string_equal(colf_type(r, 3), "boolean");
    double v[6];
    assert_int_equal(colf_read_f64(r, 2, 0, 6, v, NULL), 0);
    assert_true(v[0] == 12.5 && isnan(v[1]) && v[3] == 9);
    struct colf_strs s = {0};
    assert_int_equal(colf_read_strs(r, 1, 2, 1, &s), 0);
    assert_string_equal(s.s[0], "Chloé, Jr.");
    colf_strs_release(&s);
    colf_reader_free(r);
    json_decref(doc);
    free(m.d);

    /* the sink's error stops the ingest and is returned */
    struct mem bad = {.fail_at = 1};
    char msg[320];
    assert_int_equal(run(students, "s.csv", 0, &bad, &doc, msg, sizeof(msg)), -EIO);
    assert_non_null(strstr(msg, "columnar copy"));
    free(bad.d);
}

/* Row r of a deterministic mixed table at b (cap bytes): CSV, or JSON Lines whose keys come
 * late. Returns the bytes written. */
static size_t table_row(char *b, size_t cap, size_t r, uint64_t x, int jsonl)
{
    unsigned k = (unsigned)(x >> 40);
    char income[32];
    if (k % 50 == 0)
        snprintf(income, sizeof(income), jsonl ? "null" : "NA");
    else
        snprintf(income, sizeof(income), "%u.%02u", k % 99999, k % 100);
    int w;
    if (jsonl && r % 4000 == 7)
        w = snprintf(b, cap, "{\"id\":%zu,\"age\":%u,\"late%zu\":1}\n", r, 18 + k % 70, r);
    else if (jsonl)
        w = snprintf(b, cap, "{\"id\":%zu,\"age\":%u,\"income\":%s}\n", r, 18 + k % 70, income);
    else
        w = snprintf(b, cap, "%zu,%u,%s,r%u,%s,2024-%02u-%02u,\"w%u, \"\"q\"\"\",0.%06u\n", r,
                     18 + k % 70, income, k % 9, k % 3 ? "true" : "false", 1 + k % 12, 1 + k % 28,
                     k % 5000, (unsigned)(x % 1000000));
    assert_true(w > 0 && (size_t)w < cap);
    return (size_t)w;
}

static char *make_table(size_t rows, int jsonl, size_t *len)
{
    size_t cap = rows * 160 + 256, n = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    uint64_t x = 88172645463325252ull;
    if (!jsonl)
        n += (size_t)snprintf(b, cap, "id,age,income,region,member,day,comment,ratio\n");
    for (size_t r = 0; r < rows; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        n += table_row(b + n, cap - n, r, x, jsonl);
    }
    *len = n;
    return b;
}

/* The document and the columnar copy do not depend on the thread count (each column is
 * profiled by one thread at a time, batch after batch), for CSV and for JSON Lines whose
 * new keys cut batches short. */
static void test_threads(void **state)
{
    (void)state;
    static const size_t threads[] = {1, 2, 3, 4};
    for (int jsonl = 0; jsonl < 2; jsonl++) {
        size_t len = 0;
        char *in = make_table(40000, jsonl, &len);
        char *first = NULL;
        struct mem m1 = {0};
        for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
            struct mem m = {0};
            json_t *doc = NULL;
            char msg[320];
            int rc = run_n(in, len, jsonl ? "t.jsonl" : "t.csv", t == 2 ? 65537 : 0, threads[t], &m,
                           &doc, msg, sizeof(msg));
            if (rc != 0)
                fail_msg("threads %zu: %d %s", threads[t], rc, msg);
            assert_int_equal(json_integer_value(json_object_get(doc, "row_count")), 40000);
            char *d = json_dumps(doc, JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
            assert_non_null(d);
            if (!first) {
                first = d;
                m1 = m;
            } else {
                if (strcmp(d, first) != 0)
                    fail_msg("threads %zu: another document", threads[t]);
                assert_int_equal(m.len, m1.len);
                assert_memory_equal(m.d, m1.d, m.len);
                free(d);
                free(m.d);
            }
            json_decref(doc);
        }
        free(first);
        free(m1.d);
        free(in);
    }
}

/* Errors while helper threads still profile earlier rows: the ingest stops with the error and
 * frees cleanly (the batch in flight is finished first; the sanitizer builds check it). */
static void test_threads_errors(void **state)
{
    (void)state;
    size_t len = 0;
    char *in = make_table(40000, 0, &len);
    struct mem bad = {.fail_at = 3};
    json_t *doc = NULL;
    char msg[320];
    assert_int_equal(run_n(in, len, "t.csv", 0, 2, &bad, &doc, msg, sizeof(msg)), -EIO);
    assert_non_null(strstr(msg, "columnar copy"));
    assert_null(doc);
    free(bad.d);
    /* a ragged row far into the file */
    char *nl = in + len / 2;
    while (*nl != '\n')
        nl++;
    nl[-3] = '\n'; /* a row of three empty fields after a shortened one */
    nl[-2] = ',';
    nl[-1] = ',';
    assert_int_equal(run_n(in, len, "t.csv", 4093, 2, NULL, &doc, msg, sizeof(msg)), -EINVAL);
    assert_non_null(strstr(msg, "fields, but the header has 8"));
    assert_null(doc);
    free(in);
}

static void test_api(void **state)
{
    (void)state;
    struct ingest *g = NULL;
    assert_int_equal(ingest_new(NULL, &g), -EINVAL);
    struct ingest_opts o = {0};
    assert_int_equal(ingest_new(&o, &g), 0);
    assert_int_equal(ingest_push(g, "a\n1\n", 4), 0);
    json_t *doc = NULL;
    assert_int_equal(ingest_finish(g, &doc), 0);
    assert_true(json_is_null(json_object_get(json_object_get(doc, "suggestions"), "display_name")));
    assert_int_equal(ingest_finish(g, &doc), -EINVAL);
    assert_int_equal(ingest_push(g, "2\n", 2), -EINVAL);
    assert_string_equal(ingest_error(g), "");
    json_decref(doc);
    ingest_free(g);
    ingest_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document),     cmocka_unit_test(test_suggestions),
        cmocka_unit_test(test_display_name), cmocka_unit_test(test_json_late_columns),
        cmocka_unit_test(test_errors),       cmocka_unit_test(test_columnar_copy),
        cmocka_unit_test(test_threads),      cmocka_unit_test(test_threads_errors),
        cmocka_unit_test(test_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
