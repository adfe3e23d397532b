/* test_upload: dataset upload and preview against a real selection service: the stored
 * dataset, its derived facts, statistics, download and columnar copy; every bad input
 * answered in the error format with nothing left behind. */
#include "th_form.h"
#include "th_stack.h"
#include "th_tokens.h"

#include <ibx/auth.h>
#include <ibx/ids.h>

#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static struct th_stack st;
static struct th_svc *sel;
static struct auth_keys *keys;
static PGconn *pg;
static char *alice, *bob;

static char *mint(void)
{
    struct auth_claims c = {0};
    ids_uuid4(c.sub);
    snprintf(c.role, sizeof(c.role), "user");
    snprintf(c.iss, sizeof(c.iss), "ibx-gateway");
    snprintf(c.aud, sizeof(c.aud), "ibx-internal");
    snprintf(c.typ, sizeof(c.typ), "internal");
    char *tok = NULL;
    assert_int_equal(th_issue(keys, &c, 3600, &tok), 0);
    return tok;
}

static int setup(void **state)
{
    if (ids_init() != 0 || th_stack_start(&st) != 0)
        return -1;
    sel = th_service_start(&st, "selection", NULL);
    if (!sel || auth_keys_new_hs256(st.jwt_secret, &keys) != 0)
        return -1;
    pg = PQconnectdb(st.db_url);
    if (PQstatus(pg) != CONNECTION_OK)
        return -1;
    alice = mint();
    bob = mint();
    return 0;
}

static int teardown(void **state)
{
    free(alice);
    free(bob);
    PQfinish(pg);
    auth_keys_free(keys);
    return th_stack_stop(&st) == 0 ? 0 : -1;
}

/* A number from one SQL query (counts). */
static long sql_long(const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* Rows that an upload creates: datasets, files, columns and blobs. */
static long stored_things(void)
{
    return sql_long("SELECT (SELECT count(*) FROM selection.datasets) + (SELECT count(*) FROM "
                    "selection.dataset_files) + (SELECT count(*) FROM selection.file_columns) + "
                    "(SELECT count(*) FROM selection.blobs) + (SELECT count(*) FROM "
                    "selection.blob_chunks)");
}

static long upload(const char *path, const char *token, const char *meta, const char *filename,
                   const void *content, size_t len, struct th_resp *r)
{
    struct th_form f = {0};
    if (meta)
        th_form_field(&f, "metadata", meta);
    if (filename)
        th_form_file(&f, "files", filename, content, len);
    th_form_end(&f);
    long status = th_form_post(sel->url, path, token, &f, r);
    th_form_free(&f);
    return status;
}

static void assert_error(const struct th_resp *r, long status, long want, const char *code)
{
    if (status != want || !r->json)
        fail_msg("status %ld (want %ld): %s", status, want, r->body);
    assert_string_equal(json_string_value(json_object_get(r->json, "error")), code);
    assert_non_null(json_string_value(json_object_get(r->json, "message")));
}

static const char tiny[] = "a,b,label\n1,2.5,x\n3,,y\n5,6.5,x\n";

static void test_upload_and_read_back(void **state)
{
    struct th_resp r;
    long s = upload("/api/v1/datasets", alice,
                    "{\"display_name\":\"Tiny table\",\"domain\":[\"healthcare\"],"
                    "\"task\":[\"classification\"],\"access\":\"private\",\"year\":2024}",
                    "tiny.csv", tiny, strlen(tiny), &r);
    if (s != 201)
        fail_msg("upload: %ld %s", s, r.body);
    const json_t *d = r.json;
    assert_string_equal(json_string_value(json_object_get(d, "name")), "tiny_table");
    assert_int_equal(json_integer_value(json_object_get(d, "instances_number")), 3);
    assert_int_equal(json_integer_value(json_object_get(d, "features_number")), 3);
    assert_true(json_is_true(json_object_get(d, "has_missing_values")));
    /* 1 missing cell of 9: 11.11 % */
    assert_float_equal(json_number_value(json_object_get(d, "global_missing_percentage")), 11.11,
                       1e-9);
    assert_int_equal(strlen(json_string_value(json_object_get(d, "version"))), 64);
    const json_t *file = json_array_get(json_object_get(d, "files"), 0);
    assert_string_equal(json_string_value(json_object_get(file, "format")), "csv");
    const json_t *cols = json_object_get(file, "columns");
    assert_int_equal(json_array_size(cols), 3);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(cols, 0), "data_type_interpreted")),
        "numerical_integer");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(cols, 1), "data_type_interpreted")),
        "numerical_float");
    char id[64], fid[64], version[80], path[512];
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(d, "id")));
    snprintf(fid, sizeof(fid), "%s", json_string_value(json_object_get(file, "id")));
    snprintf(version, sizeof(version), "%s", json_string_value(json_object_get(d, "version")));
    th_resp_free(&r);

    /* statistics: column a is 1, 3, 5 */
    snprintf(path, sizeof(path), "/api/v1/datasets/%s/stats", id);
    assert_int_equal(th_call(sel->url, "GET", path, alice, NULL, &r), 200);
    const json_t *a = json_array_get(
        json_object_get(json_array_get(json_object_get(r.json, "files"), 0), "columns"), 0);
    assert_string_equal(json_string_value(json_object_get(a, "name")), "a");
    assert_float_equal(json_number_value(json_object_get(a, "mean")), 3.0, 1e-12);
    assert_int_equal(json_integer_value(json_object_get(a, "missing")), 0);
    th_resp_free(&r);
    /* private: another user sees nothing */
    assert_int_equal(th_call(sel->url, "GET", path, bob, NULL, &r), 404);
    th_resp_free(&r);

    /* the original bytes come back */
    snprintf(path, sizeof(path), "/api/v1/datasets/%s/files/%s/download", id, fid);
    assert_int_equal(th_call(sel->url, "GET", path, alice, NULL, &r), 200);
    assert_int_equal(r.len, strlen(tiny));
    assert_memory_equal(r.body, tiny, r.len);
    th_resp_free(&r);
    assert_int_equal(th_call(sel->url, "GET", path, bob, NULL, &r), 404);
    th_resp_free(&r);

    /* the columnar copy, by version */
    snprintf(path, sizeof(path), "/internal/datasets/%s/columnar", version);
    assert_int_equal(th_call(sel->url, "GET", path, alice, NULL, &r), 200);
    assert_true(r.len > 20);
    assert_memory_equal(r.body, "IBXC", 4);
    assert_memory_equal(r.body + r.len - 4, "IBXC", 4);
    th_resp_free(&r);

    /* the same name again is a conflict, and leaves nothing behind */
    long before = stored_things();
    s = upload("/api/v1/datasets", bob, "{\"display_name\":\"Tiny table\"}", "t.csv", tiny,
               strlen(tiny), &r);
    assert_error(&r, s, 409, "name_taken");
    th_resp_free(&r);
    assert_int_equal(stored_things(), before);
}

/* Ethical flags left out stay unknown unless the template is asked for; given ones stay. */
static void test_ethical_template(void **state)
{
    struct th_resp r;
    struct th_form f = {0};
    th_form_field(&f, "display_name", "With template");
    th_form_field(&f, "domain", "healthcare");
    th_form_field(&f, "informed_consent", "false");
    th_form_field(&f, "user_control", "unknown");
    th_form_field(&f, "apply_ethical_template", "true");
    th_form_file(&f, "files", "t.csv", tiny, strlen(tiny));
    th_form_end(&f);
    long s = th_form_post(sel->url, "/api/v1/datasets", alice, &f, &r);
    th_form_free(&f);
    if (s != 201)
        fail_msg("template: %ld %s", s, r.body);
    /* the seeded healthcare template turns every flag on */
    assert_true(json_is_true(json_object_get(r.json, "transparency")));
    assert_true(json_is_false(json_object_get(r.json, "informed_consent")));
    assert_true(json_is_null(json_object_get(r.json, "user_control")));
    th_resp_free(&r);
    s = upload("/api/v1/datasets", alice,
               "{\"display_name\":\"No template\",\"domain\":[\"healthcare\"]}", "t.csv", tiny,
               strlen(tiny), &r);
    assert_int_equal(s, 201);
    assert_true(json_is_null(json_object_get(r.json, "transparency")));
    th_resp_free(&r);
}

/* Preview rows (head and a seeded sample) and the quality report, cached the second time. */
static void test_rows_and_quality(void **state)
{
    char csv[4096];
    size_t o = (size_t)snprintf(csv, sizeof(csv), "id,x,y\n");
    for (int i = 0; i < 50; i++)
        o += (size_t)snprintf(csv + o, sizeof(csv) - o, "%d,%d,%s\n", i, i * i % 17,
                              i % 5 ? "a" : "");
    struct th_resp r;
    long s = upload("/api/v1/datasets", alice,
                    "{\"display_name\":\"Rows\",\"access\":\"public\",\"target_column\":\"y\"}",
                    "rows.csv", csv, o, &r);
    assert_int_equal(s, 201);
    char path[256], id[64];
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(r.json, "id")));
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/datasets/%s/preview?rows=3", id);
    assert_int_equal(th_call(sel->url, "GET", path, bob, NULL, &r), 200);
    const json_t *rows = json_object_get(r.json, "rows");
    assert_int_equal(json_array_size(rows), 3);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(rows, 2), 1)), 4);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total_rows")), 50);
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/datasets/%s/preview?rows=5&sample=random&seed=7", id);
    assert_int_equal(th_call(sel->url, "GET", path, bob, NULL, &r), 200);
    char *first = json_dumps(json_object_get(r.json, "row_numbers"), 0);
    th_resp_free(&r);
    assert_int_equal(th_call(sel->url, "GET", path, bob, NULL, &r), 200);
    char *again = json_dumps(json_object_get(r.json, "row_numbers"), 0);
    assert_string_equal(first, again); /* same seed, same rows */
    free(first);
    free(again);
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/datasets/%s/preview?rows=500", id);
    assert_int_equal(th_call(sel->url, "GET", path, bob, NULL, &r), 400);
    th_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/datasets/%s/quality", id);
    assert_int_equal(th_call(sel->url, "GET", path, bob, NULL, &r), 200);
    assert_true(json_is_false(json_object_get(r.json, "cached")));
    json_int_t score = json_integer_value(json_object_get(r.json, "data_quality_score"));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(r.json, "dataset_overview"), "target_column")),
                        "y");
    assert_true(score > 0 && score <= 100);
    /* y is missing in 10 of 50 rows: 20 % */
    const json_t *y = json_object_get(
        json_object_get(json_object_get(r.json, "missing_data_analysis"), "columns_with_missing"),
        "y");
    assert_float_equal(json_number_value(json_object_get(y, "missing_percentage")), 20.0, 1e-9);
    th_resp_free(&r);
    assert_int_equal(th_call(sel->url, "GET", path, bob, NULL, &r), 200);
    assert_true(json_is_true(json_object_get(r.json, "cached")));
    assert_int_equal(json_integer_value(json_object_get(r.json, "data_quality_score")), score);
    th_resp_free(&r);
}

static void test_json_and_jsonl(void **state)
{
    static const char json[] = "[{\"x\":1,\"y\":\"a\"},{\"x\":2,\"y\":null,\"z\":true}]";
    static const char jsonl[] = "{\"x\":1.5}\n{\"x\":2.5}\n";
    struct th_resp r;
    long s = upload("/api/v1/datasets", alice, "{\"name\":\"json_rows\",\"display_name\":\"J\"}",
                    "rows.json", json, strlen(json), &r);
    if (s != 201)
        fail_msg("json: %ld %s", s, r.body);
    assert_int_equal(json_integer_value(json_object_get(r.json, "instances_number")), 2);
    assert_int_equal(json_integer_value(json_object_get(r.json, "features_number")), 3);
    th_resp_free(&r);
    s = upload("/api/v1/datasets", alice, "{\"name\":\"jsonl_rows\",\"display_name\":\"L\"}",
               "rows.jsonl", jsonl, strlen(jsonl), &r);
    if (s != 201)
        fail_msg("jsonl: %ld %s", s, r.body);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r.json, "files"), 0), "format")),
                        "jsonl");
    th_resp_free(&r);
}

static void test_preview_saves_nothing(void **state)
{
    long before = stored_things();
    struct th_resp r;
    static const char csv[] = "name,score,grade\nann,12.5,b\nbob,15,a\n";
    long s =
        upload("/api/v1/datasets/preview", alice, NULL, "student_scores.csv", csv, strlen(csv), &r);
    if (s != 200)
        fail_msg("preview: %ld %s", s, r.body);
    const json_t *f = json_array_get(json_object_get(r.json, "files"), 0);
    assert_int_equal(json_integer_value(json_object_get(f, "row_count")), 2);
    assert_int_equal(json_integer_value(json_object_get(f, "column_count")), 3);
    assert_int_equal(json_array_size(json_object_get(json_object_get(f, "preview"), "rows")), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "suggestions"), "display_name")),
        "Student Scores");
    th_resp_free(&r);
    assert_int_equal(stored_things(), before);
}

static void test_bad_files(void **state)
{
    static const char bad_utf8[] = "a,b\n1,\xff\xfe\n";
    static const char binary[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0";
    static const struct {
        const char *filename;
        const char *content;
        size_t len;
        long status;
        const char *code;
    } t[] = {
        {"empty.csv", "", 0, 422, "invalid_file"},
        {"header.csv", "a,b,c\n", 6, 422, "invalid_file"},
        {"ragged.csv", "a,b\n1,2\n3,4,5\n", 14, 422, "invalid_file"},
        {"utf8.csv", bad_utf8, sizeof(bad_utf8) - 1, 422, "invalid_file"},
        {"garbage.csv", binary, sizeof(binary) - 1, 415, "unsupported_media_type"},
        {"nul.csv", "a,b\n1,\0\n", 7, 422, "invalid_file"},
        {"sheet.xlsx", "PK\x03\x04", 4, 415, "unsupported_media_type"},
        {"broken.json", "[{\"a\":1},", 9, 422, "invalid_file"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        long before = stored_things();
        struct th_resp r;
        long s = upload("/api/v1/datasets", alice, "{\"display_name\":\"Bad\"}", t[i].filename,
                        t[i].content, t[i].len, &r);
        if (s != t[i].status)
            fail_msg("%s: %ld %s", t[i].filename, s, r.body);
        assert_error(&r, s, t[i].status, t[i].code);
        th_resp_free(&r);
        assert_int_equal(stored_things(), before);
    }
}

static void test_wide_header(void **state)
{
    /* 100,000 columns: refused, nothing stored */
    size_t n = 100000;
    char *csv = malloc(n * 8 + 16);
    assert_non_null(csv);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(csv + o, "%sc%zu", i ? "," : "", i);
    csv[o++] = '\n';
    long before = stored_things();
    struct th_resp r;
    long s =
        upload("/api/v1/datasets", alice, "{\"display_name\":\"Wide\"}", "wide.csv", csv, o, &r);
    free(csv);
    assert_error(&r, s, 422, "too_many_columns");
    th_resp_free(&r);
    assert_int_equal(stored_things(), before);
}

static void test_bad_requests(void **state)
{
    struct th_resp r;
    char url[256];
    /* not multipart */
    long s = th_call(sel->url, "POST", "/api/v1/datasets", alice, "{}", &r);
    assert_error(&r, s, 415, "unsupported_media_type");
    th_resp_free(&r);
    /* no file */
    s = upload("/api/v1/datasets", alice, "{\"display_name\":\"x\"}", NULL, NULL, 0, &r);
    assert_error(&r, s, 422, "no_file");
    th_resp_free(&r);
    /* bad metadata: wrong type, unknown field, bad enumeration, SQL-looking name */
    static const char *const metas[] = {
        "{\"display_name\":\"x\",\"year\":\"abc\"}",
        "{\"display_name\":\"x\",\"colour\":\"red\"}",
        "{\"display_name\":\"x\",\"access\":\"everyone\"}",
        "{\"name\":\"x'; DROP TABLE selection.datasets;--\"}",
        "not json",
    };
    for (size_t i = 0; i < sizeof(metas) / sizeof(metas[0]); i++) {
        long before = stored_things();
        s = upload("/api/v1/datasets", alice, metas[i], "ok.csv", tiny, strlen(tiny), &r);
        assert_error(&r, s, i == 4 ? 400 : 422, i == 4 ? "invalid_json" : "validation_error");
        th_resp_free(&r);
        assert_int_equal(stored_things(), before);
    }
    /* a body that never closes its multipart */
    snprintf(url, sizeof(url), "%s/api/v1/datasets", sel->url);
    char auth[4096];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", alice);
    const char *hdrs[] = {TH_FORM_CONTENT_TYPE, auth, NULL};
    static const char open_body[] = "--" TH_FORM_BOUNDARY "\r\nContent-Disposition: form-data; "
                                    "name=\"files\"; filename=\"a.csv\"\r\n\r\na,b\n1,2\n";
    assert_int_equal(th_http("POST", url, hdrs, open_body, &r), 0);
    assert_error(&r, r.status, 400, "invalid_multipart");
    th_resp_free(&r);
    /* 2 GB announced: refused at once */
    char req[8192], reply[2048];
    int n = snprintf(req, sizeof(req),
                     "POST /api/v1/datasets HTTP/1.1\r\nHost: x\r\n%s\r\n" TH_FORM_CONTENT_TYPE
                     "\r\nContent-Length: 2147483648\r\n\r\n",
                     auth);
    assert_true(th_raw(sel->port, req, (size_t)n, reply, sizeof(reply)) > 0);
    assert_non_null(strstr(reply, " 413 "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_and_read_back),  cmocka_unit_test(test_ethical_template),
        cmocka_unit_test(test_rows_and_quality),      cmocka_unit_test(test_json_and_jsonl),
        cmocka_unit_test(test_preview_saves_nothing), cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_wide_header),           cmocka_unit_test(test_bad_requests),
    };
    return cmocka_run_group_tests_name("upload", tests, setup, teardown);
}
