/* test_model: the model file: save/load predicts exactly the same for every learner, damaged
 * files are rejected with a clear message, parts must agree, JSON instances, XGBoost import. */
#include <ibx/buf.h>
#include <ibx/frame.h>
#include <ibx/model.h>

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

/* A fixture as a frame with a categorical column added ("band": low/high from f0) so that
 * the file carries one-hot encoding too. */
static struct frame *fixture_frame(const char *name, int classification, struct th_mldata *d)
{
    assert_int_equal(th_mldata_load(name, d), 0);
    struct frame *f = NULL;
    assert_int_equal(frame_new(d->n, &f), 0);
    double *col = malloc(d->n * sizeof *col);
    const char **band = malloc(d->n * sizeof *band);
    for (size_t j = 0; j < d->p; j++) {
        char cname[32];
        snprintf(cname, sizeof cname, "f%zu", j);
        for (size_t i = 0; i < d->n; i++)
            col[i] = d->x[i * d->p + j];
        assert_int_equal(frame_add_numeric(f, cname, NULL, col), 0);
    }
    for (size_t i = 0; i < d->n; i++)
        band[i] = i % 5 == 0 ? NULL : d->x[i * d->p] > d->x[0] ? "high" : "low";
    assert_int_equal(frame_add_strings(f, "band", "categorical", band), 0);
    assert_int_equal(frame_add_numeric(f, "target",
                                       classification ? "numerical_integer" : "numerical_float",
                                       d->y),
                     0);
    free(col);
    free(band);
    return f;
}

struct case_ {
    const char *algorithm;
    const char *hparams;
    int classification;
};

static const struct case_ cases[] = {
    {"decision_tree", "{\"max_depth\":4}", 1},
    {"decision_tree", "{}", 0},
    {"random_forest", "{\"n_estimators\":8}", 1},
    {"random_forest", "{\"n_estimators\":8}", 0},
    {"gradient_boosting", "{\"max_iter\":15}", 1},
    {"gradient_boosting", "{\"max_iter\":15}", 0},
    {"logistic_regression", "{}", 1},
    {"linear_regression", "{}", 0},
    {"ridge_regression", "{\"alpha\":3}", 0},
    {"knn", "{}", 1},
    {"knn", "{}", 0},
    {"gaussian_nb", "{}", 1},
};

static struct model *build(const struct case_ *c, const struct frame *f, struct prep_output *all)
{
    struct prep_config cfg;
    prep_config_default(&cfg);
    struct prep *prep = NULL;
    char err[256];
    enum ml_task task = c->classification ? ML_CLASSIFICATION : ML_REGRESSION;
    assert_int_equal(prep_fit(f, "target", task, NULL, 0, &cfg, &prep, err, sizeof err), 0);
    assert_int_equal(prep_transform(prep, f, NULL, 0, all, err, sizeof err), 0);
    size_t nc = 0;
    prep_classes(prep, &nc);
    json_t *hp = json_loads(c->hparams, 0, NULL);
    struct ml_matrix X = {.x = all->x, .n = all->n, .p = all->p};
    struct learner_model *lm = NULL;
    assert_int_equal(
        learner_fit(c->algorithm, hp, task, nc, 9, &X, all->y, NULL, &lm, err, sizeof err), 0);
    json_decref(hp);
    json_t *training = json_pack("{s:s}", "note", "test");
    struct model *m = NULL;
    assert_int_equal(model_new(prep, lm, training, &m), 0);
    json_decref(training);
    return m;
}

static int load_model(const void *data, size_t len)
{
    struct model *m = NULL;
    char err[256];
    int rc = model_load(data, len, &m, err, sizeof err);
    model_free(m);
    return rc;
}

static void same_predictions(const struct model *a, const struct model *b,
                             const struct prep_output *all, size_t nc)
{
    struct ml_matrix X = {.x = all->x, .n = all->n, .p = all->p};
    size_t w = nc ? nc : 1;
    double *p1 = calloc(all->n, sizeof *p1), *p2 = calloc(all->n, sizeof *p2);
    double *q1 = calloc(all->n * w, sizeof *q1), *q2 = calloc(all->n * w, sizeof *q2);
    assert_int_equal(model_predict_matrix(a, &X, p1, nc ? q1 : NULL), 0);
    assert_int_equal(model_predict_matrix(b, &X, p2, nc ? q2 : NULL), 0);
    assert_memory_equal(p1, p2, all->n * sizeof *p1);
    if (nc)
        assert_memory_equal(q1, q2, all->n * nc * sizeof *q1);
    free(p1);
    free(p2);
    free(q1);
    free(q2);
}

static void test_round_trip_every_learner(void **state)
{
    struct th_mldata cls, reg;
    struct frame *fc = fixture_frame("wine", 1, &cls), *fr = fixture_frame("diabetes", 0, &reg);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct prep_output all = {0};
        const struct frame *f = cases[c].classification ? fc : fr;
        struct model *m = build(&cases[c], f, &all);
        struct buf b;
        buf_init(&b, (size_t)1 << 28);
        assert_int_equal(model_save(m, &b), 0);
        struct model *l = NULL;
        char err[256];
        assert_int_equal(model_load(b.data, b.len, &l, err, sizeof err), 0);
        size_t nc = learner_model_n_classes(model_learner(m));
        same_predictions(m, l, &all, nc);
        assert_true(json_equal(model_meta(m), model_meta(l)));
        assert_string_equal(json_string_value(json_object_get(model_meta(l), "algorithm")),
                            cases[c].algorithm);
        /* the same rows as JSON instances through both */
        json_t *inst = json_array();
        for (size_t i = 0; i < 10; i++) {
            json_t *row = NULL;
            assert_int_equal(frame_row_json(f, i * 7, &row), 0);
            json_array_append_new(inst, row);
        }
        json_t *o1 = NULL, *o2 = NULL;
        assert_int_equal(model_predict_rows(m, inst, &o1, NULL), 0);
        assert_int_equal(model_predict_rows(l, inst, &o2, NULL), 0);
        assert_true(json_equal(o1, o2));
        assert_int_equal(json_array_size(json_object_get(o1, "predictions")), 10);
        if (nc)
            assert_int_equal(
                json_object_size(json_array_get(json_object_get(o1, "probabilities"), 0)), nc);
        json_decref(o1);
        json_decref(o2);
        json_decref(inst);
        /* saving the loaded model gives the same bytes */
        struct buf b2;
        buf_init(&b2, (size_t)1 << 28);
        assert_int_equal(model_save(l, &b2), 0);
        assert_int_equal(b.len, b2.len);
        assert_memory_equal(b.data, b2.data, b.len);
        size_t accepted = th_ml_tamper_accepted(b.data, b.len, load_model);
        if (accepted)
            fail_msg("%s: %zu damaged files loaded", cases[c].algorithm, accepted);
        buf_release(&b2);
        buf_release(&b);
        model_free(l);
        model_free(m);
        prep_output_release(&all);
    }
    frame_free(fc);
    frame_free(fr);
    th_mldata_free(&cls);
    th_mldata_free(&reg);
}

struct damage_case {
    const char *what;
    size_t offset; /* byte to change (from the start), or SIZE_MAX: none */
    long cut;      /* bytes removed from the end, or -1: one byte appended */
    const char *message;
};

static const struct damage_case damage_cases[] = {
    {"magic", 0, 0, "magic"},
    {"version", 8, 0, "version"},
    {"flags", 12, 0, "version"},
    {"length", 16, 0, "payload bytes"},
    {"checksum", 30, 0, "checksum"},
    {"payload", 200, 0, "checksum"},
    {"truncated", SIZE_MAX, 10, "truncated"},
    {"header only", SIZE_MAX, -2, "truncated"},
    {"appended", SIZE_MAX, -1, "trailing"},
};

static void test_damaged_files(void **state)
{
    struct th_mldata d;
    struct frame *f = fixture_frame("iris", 1, &d);
    struct prep_output all = {0};
    struct model *m = build(&cases[0], f, &all);
    struct buf b;
    buf_init(&b, (size_t)1 << 28);
    assert_int_equal(model_save(m, &b), 0);
    for (size_t c = 0; c < sizeof damage_cases / sizeof damage_cases[0]; c++) {
        const struct damage_case *dc = &damage_cases[c];
        unsigned char *copy = malloc(b.len + 1);
        memcpy(copy, b.data, b.len);
        size_t len = b.len;
        if (dc->offset != SIZE_MAX)
            copy[dc->offset] ^= 0x40;
        if (dc->cut > 0)
            len -= (size_t)dc->cut;
        if (dc->cut == -1)
            copy[len++] = 0;
        if (dc->cut == -2)
            len = MODEL_HEADER_LEN;
        struct model *l = NULL;
        char err[256] = "";
        assert_int_equal(model_load(copy, len, &l, err, sizeof err), -EINVAL);
        assert_null(l);
        if (!strstr(err, dc->message))
            fail_msg("%s: \"%s\"", dc->what, err);
        free(copy);
    }
    char err[256];
    struct model *l = NULL;
    assert_int_equal(model_load(b.data, 10, &l, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "shorter than the header"));
    buf_release(&b);
    model_free(m);
    prep_output_release(&all);
    frame_free(f);
    th_mldata_free(&d);
}

static void test_parts_must_agree(void **state)
{
    struct th_mldata d;
    struct frame *f = fixture_frame("iris", 1, &d);
    struct prep_config cfg;
    prep_config_default(&cfg);
    struct prep *prep = NULL;
    char err[256];
    assert_int_equal(
        prep_fit(f, "target", ML_CLASSIFICATION, NULL, 0, &cfg, &prep, err, sizeof err), 0);
    /* a learner fitted on fewer features than the prep gives */
    struct ml_matrix X = {.x = d.x, .n = d.n, .p = 2};
    double *x2 = malloc(d.n * 2 * sizeof *x2);
    for (size_t i = 0; i < d.n; i++) {
        x2[i * 2] = d.x[i * d.p];
        x2[i * 2 + 1] = d.x[i * d.p + 1];
    }
    X.x = x2;
    struct learner_model *lm = NULL;
    assert_int_equal(learner_fit("gaussian_nb", NULL, ML_CLASSIFICATION, 3, 1, &X, d.y, NULL, &lm,
                                 err, sizeof err),
                     0);
    struct model *m = NULL;
    assert_int_equal(model_new(prep, lm, NULL, &m), -EINVAL); /* both freed */
    assert_null(m);
    free(x2);
    frame_free(f);
    th_mldata_free(&d);
}

static void test_prediction_problems(void **state)
{
    struct th_mldata d;
    struct frame *f = fixture_frame("iris", 1, &d);
    struct prep_output all = {0};
    struct model *m = build(&cases[0], f, &all);
    json_t *inst = json_loads("[{\"f0\":1,\"f1\":2,\"f2\":3,\"band\":\"low\",\"f9\":1}]", 0, NULL);
    json_t *out = NULL, *problems = NULL;
    assert_int_equal(model_predict_rows(m, inst, &out, &problems), -EINVAL);
    assert_null(out);
    assert_int_equal(json_array_size(problems), 2); /* f3 missing, f9 unknown */
    json_decref(problems);
    json_decref(inst);
    /* an unseen category is all zero, not an error */
    inst = json_loads("[{\"f0\":1,\"f1\":2,\"f2\":3,\"f3\":1,\"band\":\"medium\"}]", 0, NULL);
    assert_int_equal(model_predict_rows(m, inst, &out, NULL), 0);
    json_decref(out);
    json_decref(inst);
    /* the input schema lists the columns with their types */
    const json_t *schema = json_object_get(model_meta(m), "input_schema");
    assert_int_equal(json_array_size(schema), 5);
    const json_t *band = json_array_get(schema, 4);
    assert_string_equal(json_string_value(json_object_get(band, "type")), "category");
    assert_int_equal(json_array_size(json_object_get(band, "categories")), 2);
    model_free(m);
    prep_output_release(&all);
    frame_free(f);
    th_mldata_free(&d);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    struct buf b;
    buf_init(&b, 1 << 24);
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0)
        assert_int_equal(buf_append(&b, chunk, got), 0);
    fclose(fp);
    *len = b.len;
    return buf_steal(&b);
}

/* The imported binary XGBoost model (tests/fixtures/xgb_fixtures.py: breast cancer with every
 * 7th value missing) served through JSON instances: the probabilities XGBoost gave. */
static void test_xgboost_model(void **state)
{
    size_t len = 0, elen = 0;
    char *json = read_file("tests/fixtures/xgb_binary.json", &len);
    char *expected = read_file("tests/fixtures/xgb_binary_expected.csv", &elen);
    static const char *const labels[] = {"malignant", "benign"};
    struct model *m = NULL;
    char err[256];
    assert_int_equal(model_from_xgboost(json, len, NULL, 0, labels, 2, &m, err, sizeof err), 0);
    assert_string_equal(json_string_value(json_object_get(model_meta(m), "source")), "xgboost");
    struct th_mldata d;
    assert_int_equal(th_mldata_load("breast_cancer", &d), 0);
    json_t *inst = json_array();
    for (size_t i = 0; i < 40; i++) {
        json_t *row = json_object();
        for (size_t j = 0; j < d.p; j++) {
            char key[32];
            snprintf(key, sizeof key, "f%zu", j);
            size_t k = i * d.p + j;
            json_object_set_new(row, key, k % 7 == 0 ? json_null() : json_real(d.x[k]));
        }
        json_array_append_new(inst, row);
    }
    json_t *out = NULL;
    assert_int_equal(model_predict_rows(m, inst, &out, NULL), 0);
    /* a round trip through the file gives the same */
    struct buf b;
    buf_init(&b, 1 << 24);
    assert_int_equal(model_save(m, &b), 0);
    struct model *l = NULL;
    assert_int_equal(model_load(b.data, b.len, &l, err, sizeof err), 0);
    json_t *out2 = NULL;
    assert_int_equal(model_predict_rows(l, inst, &out2, NULL), 0);
    assert_true(json_equal(out, out2));
    char *p = expected;
    for (size_t i = 0; i < 40; i++) {
        char *end = NULL;
        strtod(p, &end); /* the margin */
        double prob = strtod(end + 1, &end);
        p = end + 1;
        json_t *row = json_array_get(json_object_get(out, "probabilities"), i);
        double got = json_number_value(json_object_get(row, "benign"));
        if (fabs(got - prob) > 1e-6)
            fail_msg("row %zu: %.9g, XGBoost %.9g", i, got, prob);
    }
    /* a model that does not match the names given */
    static const char *const two[] = {"a", "b"};
    struct model *bad = NULL;
    assert_int_equal(model_from_xgboost(json, len, two, 2, NULL, 0, &bad, err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "30 features"));
    assert_int_equal(model_from_xgboost("{}", 2, NULL, 0, NULL, 0, &bad, err, sizeof err), -EINVAL);
    json_decref(out);
    json_decref(out2);
    json_decref(inst);
    buf_release(&b);
    model_free(l);
    model_free(m);
    th_mldata_free(&d);
    free(json);
    free(expected);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_learner),
        cmocka_unit_test(test_damaged_files),
        cmocka_unit_test(test_parts_must_agree),
        cmocka_unit_test(test_prediction_problems),
        cmocka_unit_test(test_xgboost_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
