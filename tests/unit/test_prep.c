/* test_prep: preprocessing fitted on training rows only: target labels, column selection,
 * imputation, scaling, one-hot, JSON instances, configuration problems, save and load. */
#include <ibx/buf.h>
#include <ibx/frame.h>
#include <ibx/prep.h>

#include "th_mldata.h"

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

#define N 10

/* Ten rows: a numeric feature with gaps, a category, a boolean, an id, a text, a
 * mostly-missing column and a class target with one missing value. Rows 0..5 train, 6..9
 * test. */
static const double col_a[N] = {1, 2, NAN, 4, 5, 6, 100, NAN, 300, 400};
static const char *const col_color[N] = {"red", "blue",   "red", NULL,   "green",
                                         "red", "violet", NULL,  "blue", "green"};
static const char *const col_flag[N] = {"yes", "no", "yes", "no",  "yes",
                                        "yes", "no", "no",  "yes", "no"};
static const double col_id[N] = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
static const char *const col_note[N] = {"a b", "c d", "e", "f", "g", "h", "i", "j", "k", "l"};
static const double col_sparse[N] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 1, NAN};
static const char *const col_y[N] = {"cat", "dog", "cat", NULL,  "dog",
                                     "cat", "dog", "cat", "dog", "cat"};
static const size_t train_rows[] = {0, 1, 2, 3, 4, 5};
static const size_t test_rows[] = {6, 7, 8, 9};

static struct frame *small_frame(void)
{
    struct frame *f = NULL;
    assert_int_equal(frame_new(N, &f), 0);
    assert_int_equal(frame_add_numeric(f, "a", "numerical_float", col_a), 0);
    assert_int_equal(frame_add_strings(f, "color", "categorical", col_color), 0);
    assert_int_equal(frame_add_strings(f, "flag", "boolean", col_flag), 0);
    assert_int_equal(frame_add_numeric(f, "row", "numerical_integer", col_id), 0);
    assert_int_equal(frame_add_strings(f, "note", "text", col_note), 0);
    assert_int_equal(frame_add_numeric(f, "sparse", "numerical_float", col_sparse), 0);
    assert_int_equal(frame_add_strings(f, "y", "categorical", col_y), 0);
    return f;
}

static struct prep *fit_small(const struct frame *f, const char *cfg_json)
{
    json_t *j = cfg_json ? json_loads(cfg_json, 0, NULL) : NULL;
    struct prep_config cfg;
    assert_int_equal(prep_config_parse(j, &cfg, NULL), 0);
    json_decref(j);
    struct prep *p = NULL;
    char err[256] = "";
    int rc = prep_fit(f, "y", ML_CLASSIFICATION, train_rows, 6, &cfg, &p, err, sizeof err);
    if (rc)
        fail_msg("prep_fit: %s", err);
    prep_config_release(&cfg);
    return p;
}

static long feature_index(const struct prep *p, const char *name)
{
    size_t n = 0;
    const char *const *names = prep_feature_names(p, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (long)i;
    return -1;
}

static void test_train_statistics_only(void **state)
{
    struct frame *f = small_frame();
    struct prep *p = fit_small(f, "{\"scaling\":\"none\"}");
    /* train rows with a target: 0,1,2,4,5 (row 3 has none); a present there: 1,2,5,6 */
    const double train_mean = (1.0 + 2.0 + 5.0 + 6.0) / 4.0;
    struct prep_output o = {0};
    char err[256];
    assert_int_equal(prep_transform(p, f, test_rows, 4, &o, err, sizeof err), 0);
    assert_int_equal(o.n, 4);
    long ia = feature_index(p, "a");
    assert_true(ia >= 0);
    assert_true(o.rows[1] == 7);
    assert_true(o.x[1 * o.p + (size_t)ia] == train_mean); /* not the mean of all rows */
    assert_true(o.x[0 * o.p + (size_t)ia] == 100);
    prep_output_release(&o);

    /* standard scaling: centred on the train mean of the imputed column */
    struct prep *q = fit_small(f, NULL);
    assert_int_equal(prep_transform(q, f, test_rows, 4, &o, err, sizeof err), 0);
    ia = feature_index(q, "a");
    assert_true(fabs(o.x[1 * o.p + (size_t)ia]) < 1e-12); /* imputed: exactly the centre */
    prep_output_release(&o);
    prep_free(q);
    prep_free(p);
    frame_free(f);
}

static void test_unseen_category_all_zero(void **state)
{
    struct frame *f = small_frame();
    struct prep *p = fit_small(f, NULL);
    struct prep_output o = {0};
    char err[256];
    assert_int_equal(prep_transform(p, f, test_rows, 4, &o, err, sizeof err), 0);
    long red = feature_index(p, "color=red"), blue = feature_index(p, "color=blue");
    long green = feature_index(p, "color=green");
    assert_true(red >= 0 && blue >= 0 && green >= 0);
    assert_int_equal(feature_index(p, "color=violet"), -1);
    /* row 6 is violet, never seen in training: all zero */
    assert_true(o.x[(size_t)red] == 0 && o.x[(size_t)blue] == 0 && o.x[(size_t)green] == 0);
    /* row 7 is missing: the most frequent training category (red, 3 of the 5 rows used) */
    assert_true(o.x[o.p + (size_t)red] == 1 && o.x[o.p + (size_t)blue] == 0);
    assert_true(o.x[2 * o.p + (size_t)blue] == 1);
    prep_output_release(&o);
    prep_free(p);
    frame_free(f);
}

static void test_missing_target_dropped_and_reported(void **state)
{
    struct frame *f = small_frame();
    struct prep *p = fit_small(f, NULL);
    json_t *r = prep_report_json(p);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r, "rows_dropped_missing_target")), 1);
    assert_int_equal(json_integer_value(json_object_get(r, "rows_used")), 5);
    /* every row transformed: row 3 (no target) left out and counted */
    struct prep_output o = {0};
    char err[256];
    assert_int_equal(prep_transform(p, f, NULL, 0, &o, err, sizeof err), 0);
    assert_int_equal(o.n, 9);
    assert_int_equal(o.dropped_missing_target, 1);
    for (size_t i = 0; i < o.n; i++)
        assert_true(o.rows[i] != 3);
    /* labels sorted: cat = 0, dog = 1 */
    size_t nc = 0;
    const char *const *cls = prep_classes(p, &nc);
    assert_int_equal(nc, 2);
    assert_string_equal(cls[0], "cat");
    assert_string_equal(cls[1], "dog");
    assert_true(o.y[0] == 0 && o.y[1] == 1);
    prep_output_release(&o);
    json_decref(r);
    prep_free(p);
    frame_free(f);
}

static const char *dropped_reason(const json_t *report, const char *column)
{
    size_t i;
    json_t *d;
    const json_t *all = json_object_get(report, "dropped_columns");
    for (i = 0; i < json_array_size(all); i++) {
        d = json_array_get(all, i);
        if (strcmp(json_string_value(json_object_get(d, "column")), column) == 0)
            return json_string_value(json_object_get(d, "reason"));
    }
    return NULL;
}

static void test_dropped_columns(void **state)
{
    struct frame *f = small_frame();
    struct prep *p = fit_small(f, "{\"exclude_columns\":[\"flag\"]}");
    json_t *r = prep_report_json(p);
    assert_string_equal(dropped_reason(r, "y"), "target");
    assert_string_equal(dropped_reason(r, "row"), "id_like");
    assert_string_equal(dropped_reason(r, "note"), "text");
    assert_string_equal(dropped_reason(r, "sparse"), "missing");
    assert_string_equal(dropped_reason(r, "flag"), "excluded");
    assert_null(dropped_reason(r, "a"));
    assert_int_equal(json_integer_value(json_object_get(r, "n_features_in")), 2);
    json_decref(r);
    prep_free(p);
    /* without id exclusion and a threshold of 1 both come back */
    p = fit_small(f, "{\"exclude_id_like\":false,\"missing_threshold\":1}");
    r = prep_report_json(p);
    assert_null(dropped_reason(r, "row"));
    assert_string_equal(dropped_reason(r, "sparse"), "constant"); /* no value in train */
    assert_true(feature_index(p, "flag") >= 0);
    json_decref(r);
    prep_free(p);
    frame_free(f);
}

/* One column 1, 2, NaN, 4, 10 (train) and the value a missing entry gets, unscaled. */
struct impute_case {
    const char *cfg;
    double fill;
};

static const struct impute_case impute_cases[] = {
    {"{\"scaling\":\"none\",\"numeric_imputation\":\"mean\"}", 17.0 / 4.0},
    {"{\"scaling\":\"none\",\"numeric_imputation\":\"median\"}", 3.0},
    {"{\"scaling\":\"none\",\"numeric_imputation\":\"most_frequent\"}", 1.0},
    {"{\"scaling\":\"none\",\"numeric_imputation\":\"constant\",\"fill_value\":-7}", -7.0},
    /* knn with 2 neighbours on b: the row with b = 3 has neighbours b = 2 (a 2) and
     * b = 4 (a 4) */
    {"{\"scaling\":\"none\",\"numeric_imputation\":\"knn\",\"knn_neighbors\":2}", 3.0},
};

static void test_imputation_strategies(void **state)
{
    static const double a[] = {1, 2, NAN, 4, 10, NAN};
    static const double b[] = {1, 2, 3, 4, 10, 3};
    static const double y[] = {1.5, 2.5, 3.5, 4.5, 5.5, 6.5};
    struct frame *f = NULL;
    assert_int_equal(frame_new(6, &f), 0);
    assert_int_equal(frame_add_numeric(f, "a", NULL, a), 0);
    assert_int_equal(frame_add_numeric(f, "b", NULL, b), 0);
    assert_int_equal(frame_add_numeric(f, "y", NULL, y), 0);
    static const size_t train[] = {0, 1, 2, 3, 4};
    static const size_t test[] = {5};
    for (size_t c = 0; c < sizeof impute_cases / sizeof impute_cases[0]; c++) {
        json_t *j = json_loads(impute_cases[c].cfg, 0, NULL);
        struct prep_config cfg;
        assert_int_equal(prep_config_parse(j, &cfg, NULL), 0);
        struct prep *p = NULL;
        char err[256];
        assert_int_equal(prep_fit(f, "y", ML_REGRESSION, train, 5, &cfg, &p, err, sizeof err), 0);
        struct prep_output o = {0};
        assert_int_equal(prep_transform(p, f, test, 1, &o, err, sizeof err), 0);
        if (fabs(o.x[0] - impute_cases[c].fill) > 1e-12)
            fail_msg("case %zu: imputed %.17g, want %.17g", c, o.x[0], impute_cases[c].fill);
        assert_true(o.x[1] == 3.0);
        prep_output_release(&o);
        prep_free(p);
        prep_config_release(&cfg);
        json_decref(j);
    }
    frame_free(f);
}

/* Train values 1, 2, 3, 4, 10 of one column; the transformed value of 4. */
struct scale_case {
    const char *scaling;
    double want;
};

static const struct scale_case scale_cases[] = {
    {"standard", (4.0 - 4.0) / 3.1622776601683795}, /* mean 4, population sd sqrt(10) */
    {"minmax", (4.0 - 1.0) / 9.0},
    {"robust", (4.0 - 3.0) / 2.0}, /* median 3, q75 4 - q25 2 */
    {"none", 4.0},
};

static void test_scaling(void **state)
{
    static const double a[] = {1, 2, 3, 4, 10};
    static const double y[] = {0, 1, 0, 1, 0};
    struct frame *f = NULL;
    assert_int_equal(frame_new(5, &f), 0);
    assert_int_equal(frame_add_numeric(f, "a", NULL, a), 0);
    assert_int_equal(frame_add_numeric(f, "y", "numerical_integer", y), 0);
    for (size_t c = 0; c < sizeof scale_cases / sizeof scale_cases[0]; c++) {
        char js[96];
        snprintf(js, sizeof js, "{\"scaling\":\"%s\"}", scale_cases[c].scaling);
        json_t *j = json_loads(js, 0, NULL);
        struct prep_config cfg;
        assert_int_equal(prep_config_parse(j, &cfg, NULL), 0);
        struct prep *p = NULL;
        char err[256];
        assert_int_equal(prep_fit(f, "y", ML_CLASSIFICATION, NULL, 0, &cfg, &p, err, sizeof err),
                         0);
        struct prep_output o = {0};
        assert_int_equal(prep_transform(p, f, NULL, 0, &o, err, sizeof err), 0);
        if (fabs(o.x[3] - scale_cases[c].want) > 1e-12)
            fail_msg("%s: %.17g, want %.17g", scale_cases[c].scaling, o.x[3], scale_cases[c].want);
        prep_output_release(&o);
        prep_free(p);
        prep_config_release(&cfg);
        json_decref(j);
    }
    frame_free(f);
}

struct config_case {
    const char *json;
    const char *field; /* the problem expected, NULL: valid */
};

static const struct config_case config_cases[] = {
    {"{}", NULL},
    {"{\"missing_threshold\":0.5,\"numeric_imputation\":\"knn\",\"knn_neighbors\":3,"
     "\"scaling\":\"robust\",\"categorical_imputation\":\"constant\",\"fill_value\":\"?\","
     "\"exclude_columns\":[\"x\"]}",
     NULL},
    {"{\"missing_threshold\":1.5}", "preprocessing.missing_threshold"},
    {"{\"missing_threshold\":\"high\"}", "preprocessing.missing_threshold"},
    {"{\"numeric_imputation\":\"mode\"}", "preprocessing.numeric_imputation"},
    {"{\"categorical_imputation\":\"mean\"}", "preprocessing.categorical_imputation"},
    {"{\"scaling\":\"log\"}", "preprocessing.scaling"},
    {"{\"knn_neighbors\":0}", "preprocessing.knn_neighbors"},
    {"{\"knn_neighbors\":2.5}", "preprocessing.knn_neighbors"},
    {"{\"fill_value\":[1]}", "preprocessing.fill_value"},
    {"{\"exclude_columns\":\"id\"}", "preprocessing.exclude_columns"},
    {"{\"exclude_columns\":[1]}", "preprocessing.exclude_columns"},
    {"{\"exclude_id_like\":1}", "preprocessing.exclude_id_like"},
    {"{\"colour\":1}", "preprocessing.colour"},
    {"[1]", "preprocessing"},
};

static void test_config_problems(void **state)
{
    for (size_t c = 0; c < sizeof config_cases / sizeof config_cases[0]; c++) {
        json_t *j = json_loads(config_cases[c].json, 0, NULL);
        assert_non_null(j);
        struct prep_config cfg;
        json_t *problems = NULL;
        int rc = prep_config_parse(j, &cfg, &problems);
        if (!config_cases[c].field) {
            if (rc)
                fail_msg("case %zu rejected", c);
            /* the config round-trips through its JSON */
            json_t *back = prep_config_json(&cfg);
            struct prep_config again;
            assert_int_equal(prep_config_parse(back, &again, NULL), 0);
            assert_true(again.scaling == cfg.scaling && again.knn_neighbors == cfg.knn_neighbors);
            prep_config_release(&again);
            json_decref(back);
            prep_config_release(&cfg);
        } else {
            assert_int_equal(rc, -EINVAL);
            assert_int_equal(json_array_size(problems), 1);
            const char *field =
                json_string_value(json_object_get(json_array_get(problems, 0), "field"));
            if (!field || strcmp(field, config_cases[c].field) != 0)
                fail_msg("case %zu: field %s", c, field ? field : "(none)");
            assert_non_null(
                json_string_value(json_object_get(json_array_get(problems, 0), "message")));
            json_decref(problems);
        }
        json_decref(j);
    }
    /* several bad fields: every one named */
    json_t *j = json_loads("{\"scaling\":1,\"knn_neighbors\":-1,\"nope\":true}", 0, NULL);
    struct prep_config cfg;
    json_t *problems = NULL;
    assert_int_equal(prep_config_parse(j, &cfg, &problems), -EINVAL);
    assert_int_equal(json_array_size(problems), 3);
    json_decref(problems);
    json_decref(j);
}

static void test_fit_errors(void **state)
{
    struct frame *f = small_frame();
    struct prep_config cfg;
    prep_config_default(&cfg);
    struct prep *p = NULL;
    char err[256] = "";
    assert_int_equal(prep_fit(f, "nope", ML_CLASSIFICATION, NULL, 0, &cfg, &p, err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "nope"));
    assert_int_equal(prep_fit(f, "note", ML_CLASSIFICATION, NULL, 0, &cfg, &p, err, sizeof err),
                     -EINVAL);
    assert_int_equal(prep_fit(f, "color", ML_REGRESSION, NULL, 0, &cfg, &p, err, sizeof err),
                     -EINVAL);
    static const size_t one_class[] = {0, 2, 5};
    assert_int_equal(prep_fit(f, "y", ML_CLASSIFICATION, one_class, 3, &cfg, &p, err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "single class"));
    assert_null(p);
    frame_free(f);
}

static void test_numeric_labels_sorted_by_value(void **state)
{
    static const double y[] = {10, 2, 2, 10, 1, 2};
    static const double a[] = {1, 2, 3, 4, 5, 6};
    struct frame *f = NULL;
    assert_int_equal(frame_new(6, &f), 0);
    assert_int_equal(frame_add_numeric(f, "a", NULL, a), 0);
    assert_int_equal(frame_add_numeric(f, "y", "numerical_integer", y), 0);
    struct prep_config cfg;
    prep_config_default(&cfg);
    cfg.exclude_id_like = 0;
    struct prep *p = NULL;
    char err[256];
    assert_int_equal(prep_fit(f, "y", ML_CLASSIFICATION, NULL, 0, &cfg, &p, err, sizeof err), 0);
    size_t nc = 0;
    const char *const *cls = prep_classes(p, &nc);
    assert_int_equal(nc, 3);
    assert_string_equal(cls[0], "1");
    assert_string_equal(cls[1], "2");
    assert_string_equal(cls[2], "10");
    double codes[6];
    char **labels = NULL;
    size_t n = 0;
    assert_int_equal(
        prep_target_codes(f, "y", ML_CLASSIFICATION, NULL, 0, codes, &labels, &n, err, sizeof err),
        0);
    assert_int_equal(n, 3);
    assert_true(codes[0] == 2 && codes[1] == 1 && codes[4] == 0);
    for (size_t i = 0; i < n; i++)
        free(labels[i]);
    free(labels);
    prep_free(p);
    frame_free(f);
}

static void test_json_rows(void **state)
{
    struct frame *f = small_frame();
    struct prep *p = fit_small(f, NULL);
    /* the same rows as JSON give the same matrix as the frame */
    json_t *inst = json_array();
    for (size_t i = 0; i < 4; i++) {
        json_t *row = NULL;
        assert_int_equal(frame_row_json(f, test_rows[i], &row), 0);
        json_array_append_new(inst, row);
    }
    double *x = NULL;
    size_t n = 0;
    json_t *problems = NULL;
    int rc = prep_transform_json_rows(p, inst, &x, &n, &problems);
    if (rc)
        fail_msg("%s", json_dumps(problems, 0));
    struct prep_output o = {0};
    char err[256];
    assert_int_equal(prep_transform(p, f, test_rows, 4, &o, err, sizeof err), 0);
    assert_int_equal(n, o.n);
    assert_memory_equal(x, o.x, n * o.p * sizeof *x);
    free(x);
    prep_output_release(&o);
    json_decref(inst);

    /* problems: a missing feature, an unknown one, a wrong type; ignored: target, dropped */
    inst = json_loads("[{\"a\":1,\"color\":\"red\",\"flag\":true,\"y\":\"cat\",\"note\":\"x\"},"
                      "{\"color\":\"red\",\"flag\":true},"
                      "{\"a\":\"many\",\"color\":\"red\",\"flag\":true,\"shoe\":3},"
                      "{\"a\":1,\"color\":[1],\"flag\":\"perhaps\"}, 7]",
                      0, NULL);
    assert_int_equal(prep_transform_json_rows(p, inst, &x, &n, &problems), -EINVAL);
    static const struct {
        long row;
        const char *field;
        const char *msg;
    } want[] = {{1, "a", "missing feature"},           {2, "a", "expected a number"},
                {2, "shoe", "unknown feature"},        {3, "color", "expected a category"},
                {3, "flag", "expected true or false"}, {4, "", "instance must be an object"}};
    assert_int_equal(json_array_size(problems), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        json_t *pr = json_array_get(problems, i);
        assert_int_equal(json_integer_value(json_object_get(pr, "row")), want[i].row);
        assert_string_equal(json_string_value(json_object_get(pr, "field")), want[i].field);
        assert_non_null(strstr(json_string_value(json_object_get(pr, "message")), want[i].msg));
    }
    json_decref(problems);
    json_decref(inst);
    /* null is a missing value: imputed */
    inst = json_loads("[{\"a\":null,\"color\":null,\"flag\":null}]", 0, NULL);
    assert_int_equal(prep_transform_json_rows(p, inst, &x, &n, NULL), 0);
    assert_int_equal(n, 1);
    free(x);
    json_decref(inst);
    prep_free(p);
    frame_free(f);
}

static struct prep *loaded;

static int load_prep(const void *data, size_t len)
{
    struct prep *p = NULL;
    int rc = prep_load(data, len, NULL, &p);
    prep_free(p);
    return rc;
}

static void test_save_load(void **state)
{
    struct frame *f = small_frame();
    static const char *const cfgs[] = {
        NULL, "{\"numeric_imputation\":\"knn\",\"scaling\":\"robust\"}",
        "{\"categorical_imputation\":\"constant\",\"scaling\":\"minmax\"}"};
    for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
        struct prep *p = fit_small(f, cfgs[c]);
        struct buf b;
        buf_init(&b, 1 << 24);
        assert_int_equal(prep_save(p, &b), 0);
        assert_int_equal(prep_load(b.data, b.len, NULL, &loaded), 0);
        struct prep_output o1 = {0}, o2 = {0};
        char err[256];
        assert_int_equal(prep_transform(p, f, NULL, 0, &o1, err, sizeof err), 0);
        assert_int_equal(prep_transform(loaded, f, NULL, 0, &o2, err, sizeof err), 0);
        assert_int_equal(o1.n, o2.n);
        assert_int_equal(o1.p, o2.p);
        assert_memory_equal(o1.x, o2.x, o1.n * o1.p * sizeof *o1.x);
        assert_memory_equal(o1.y, o2.y, o1.n * sizeof *o1.y);
        /* the report survives too */
        json_t *r1 = prep_report_json(p), *r2 = prep_report_json(loaded);
        assert_true(json_equal(r1, r2));
        json_decref(r1);
        json_decref(r2);
        /* saving the loaded copy gives the same bytes */
        struct buf b2;
        buf_init(&b2, 1 << 24);
        assert_int_equal(prep_save(loaded, &b2), 0);
        assert_int_equal(b.len, b2.len);
        assert_memory_equal(b.data, b2.data, b.len);
        assert_int_equal(th_ml_tamper_accepted(b.data, b.len, load_prep), 0);
        size_t used = 0;
        struct prep *again = NULL;
        assert_int_equal(buf_append(&b, "xx", 2), 0); /* followed by other bytes */
        assert_int_equal(prep_load(b.data, b.len, NULL, &again), -EINVAL);
        assert_int_equal(prep_load(b.data, b.len, &used, &again), 0);
        assert_int_equal(used, b.len - 2);
        prep_free(again);
        buf_release(&b2);
        buf_release(&b);
        prep_output_release(&o1);
        prep_output_release(&o2);
        prep_free(loaded);
        prep_free(p);
    }
    frame_free(f);
}

static void test_identity(void **state)
{
    static const char *const names[] = {"x0", "x1"};
    static const char *const labels[] = {"no", "yes"};
    struct prep *p = NULL;
    assert_int_equal(prep_new_identity(2, names, ML_CLASSIFICATION, 2, labels, NULL, &p), 0);
    assert_true(prep_is_identity(p));
    json_t *inst = json_loads("[{\"x0\":1.5,\"x1\":null}]", 0, NULL);
    double *x = NULL;
    size_t n = 0;
    assert_int_equal(prep_transform_json_rows(p, inst, &x, &n, NULL), 0);
    assert_true(x[0] == 1.5 && isnan(x[1])); /* passed through, missing stays NaN */
    free(x);
    json_decref(inst);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(prep_save(p, &b), 0);
    struct prep *q = NULL;
    assert_int_equal(prep_load(b.data, b.len, NULL, &q), 0);
    size_t nc = 0;
    assert_string_equal(prep_classes(q, &nc)[1], "yes");
    prep_free(q);
    buf_release(&b);
    prep_free(p);
    assert_int_equal(prep_new_identity(3, NULL, ML_REGRESSION, 0, NULL, NULL, &p), 0);
    assert_string_equal(prep_feature_names(p, NULL)[2], "f2");
    prep_free(p);
}

/* iris: the real data through the whole transform, no NaN left. */
static void test_iris_frame(void **state)
{
    struct th_mldata d;
    assert_int_equal(th_mldata_load("iris", &d), 0);
    struct frame *f = NULL;
    assert_int_equal(frame_new(d.n, &f), 0);
    double *col = malloc(d.n * sizeof *col);
    for (size_t j = 0; j < d.p; j++) {
        char name[32];
        snprintf(name, sizeof name, "x%zu", j);
        for (size_t i = 0; i < d.n; i++)
            col[i] = d.x[i * d.p + j];
        assert_int_equal(frame_add_numeric(f, name, NULL, col), 0);
    }
    assert_int_equal(frame_add_numeric(f, "target", "numerical_integer", d.y), 0);
    struct prep_config cfg;
    prep_config_default(&cfg);
    struct prep *p = NULL;
    char err[256];
    assert_int_equal(prep_fit(f, "target", ML_CLASSIFICATION, NULL, 0, &cfg, &p, err, sizeof err),
                     0);
    struct prep_output o = {0};
    assert_int_equal(prep_transform(p, f, NULL, 0, &o, err, sizeof err), 0);
    assert_int_equal(o.n, d.n);
    assert_int_equal(o.p, 4);
    for (size_t i = 0; i < d.n; i++)
        assert_true(o.y[i] == d.y[i]);
    prep_output_release(&o);
    prep_free(p);
    free(col);
    frame_free(f);
    th_mldata_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_statistics_only),
        cmocka_unit_test(test_unseen_category_all_zero),
        cmocka_unit_test(test_missing_target_dropped_and_reported),
        cmocka_unit_test(test_dropped_columns),
        cmocka_unit_test(test_imputation_strategies),
        cmocka_unit_test(test_scaling),
        cmocka_unit_test(test_config_problems),
        cmocka_unit_test(test_fit_errors),
        cmocka_unit_test(test_numeric_labels_sorted_by_value),
        cmocka_unit_test(test_json_rows),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_iris_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
