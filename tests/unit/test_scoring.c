/* test_scoring: the twelve IBIS-X criterion scores and the weighted score, against a table
 * of hand-computed values; weight parsing and normalisation. */
#include "../../services/selection/src/meta.c"    // NOLINT(bugprone-suspicious-include)
#include "../../services/selection/src/scoring.c" // NOLINT(bugprone-suspicious-include)

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define EPS 1e-9

/* Datasets as the store gives them (to_jsonb of the row). */
static const char *const datasets[] = {
    /* D0: nothing known */
    "{}",
    /* D1: iris-like. 7 of 10 flags true; documented, no missing values, not split,
     * 150 rows, 4 features, 1000 citations, 1936 */
    "{\"informed_consent\":false,\"transparency\":true,\"user_control\":false,"
    "\"equity_non_discrimination\":true,\"security_measures_in_place\":true,"
    "\"data_quality_documented\":true,\"anonymization_applied\":false,"
    "\"record_keeping_policy_exists\":true,\"purpose_limitation_respected\":true,"
    "\"accountability_defined\":true,\"metadata_provided_with_dataset\":true,"
    "\"external_documentation_available\":true,\"has_missing_values\":false,\"split\":false,"
    "\"instances_number\":150,\"features_number\":4,\"num_citations\":1000,\"year\":1936}",
    /* D2: 3 flags true (others null or false), metadata false, external docs unknown,
     * 12.5 % missing, split, 100000 rows, 150 features, 10 citations, 2012 */
    "{\"informed_consent\":true,\"anonymization_applied\":true,\"accountability_defined\":true,"
    "\"transparency\":null,\"user_control\":false,\"metadata_provided_with_dataset\":false,"
    "\"external_documentation_available\":null,\"has_missing_values\":true,"
    "\"global_missing_percentage\":12.5,\"split\":true,\"instances_number\":100000,"
    "\"features_number\":150,\"num_citations\":10,\"year\":2012}",
    /* D3: missing values of unknown extent, 0 rows, 1100 features, 0 citations, 2030 */
    "{\"has_missing_values\":true,\"global_missing_percentage\":null,\"instances_number\":0,"
    "\"features_number\":1100,\"num_citations\":0,\"year\":2030}",
    /* D4: everything missing, split, 50 rows, 100 features, 1 citation, 2000 */
    "{\"has_missing_values\":true,\"global_missing_percentage\":100,\"split\":true,"
    "\"instances_number\":50,\"features_number\":100,\"num_citations\":1,\"year\":2000}",
};
#define NDATASETS (sizeof(datasets) / sizeof(datasets[0]))

/* Expected criterion scores, in score_criteria order:
 * ethical, technical, popularity, anonymization, transparency, informed_consent,
 * documentation, data_quality, instances_count, features_count, citations, year.
 *
 * D1: ethical 7/10. technical: every component known, possible 1.0; earned 0.15 + 0.15
 *     (documentation) + 0.20 (no missing) + 0 (not split) + 0.15*(log10(150)-2)/3 =
 *     0.15*0.058697086 = 0.008804563 + 0.15*4/10 = 0.06 -> 0.568804563. popularity
 *     log10(1000)/3 = 1. instances_count log10(150)/5 = 0.435218252; features 4/100;
 *     year (1936-2000)/24 < 0 -> 0.
 * D2: ethical 3/10. technical: possible 0.15 (metadata) + 0.20 + 0.20 + 0.15 + 0.15 = 0.85
 *     (external docs unknown); earned 0 + 0.20*(100-12.5)/100 = 0.175 + 0.20 + 0.15*1
 *     (log10(1e5) = 5) + 0.15*max(0.5, 1-50/1000) = 0.1425 -> 0.6675/0.85 = 0.785294118.
 *     popularity log10(10)/3. data_quality 0.875. instances log10(1e5)/5 = 1. features
 *     min(1, 150/100) = 1. year 12/24 = 0.5.
 * D3: technical: possible 0.20 + 0.15 + 0.15 = 0.5; earned 0 (missing, extent unknown) + 0
 *     (0 rows) + 0.15*max(0.5, 1-1000/1000) = 0.075 -> 0.15. data_quality 0.5 (extent
 *     unknown). instances_count 0 (0 rows). features min(1, 11) = 1. year clamp(30/24) = 1.
 * D4: technical: possible 0.20 + 0.20 + 0.15 + 0.15 = 0.7; earned 0 (100 % missing) + 0.20
 *     + 0 (log10(50) < 2) + 0.15 -> 0.35/0.7 = 0.5. popularity log10(1) = 0. data_quality
 *     0. instances log10(50)/5 = 0.339794001. features 1. year 0/24 = 0. */
static const double expected[NDATASETS][SCORE_NCRITERIA] = {
    {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0},
    {0.7, 0.568804563, 1, 0, 1, 0, 1, 1, 0.435218252, 0.04, 1, 0},
    {0.3, 0.785294118, 0.333333333, 1, 0, 1, 0, 0.875, 1, 1, 0.333333333, 0.5},
    {0, 0.15, 0, 0, 0, 0, 0, 0.5, 0, 1, 0, 1},
    {0, 0.5, 0, 0, 0, 0, 0, 0, 0.339794001, 1, 0, 0},
};

static json_t *load(size_t i)
{
    json_t *d = json_loads(datasets[i], 0, NULL);
    assert_non_null(d);
    return d;
}

static void test_criteria_table(void **state)
{
    for (size_t i = 0; i < NDATASETS; i++) {
        json_t *d = load(i);
        double s[SCORE_NCRITERIA];
        score_all(d, s);
        for (size_t k = 0; k < SCORE_NCRITERIA; k++) {
            if (fabs(s[k] - expected[i][k]) > 1e-8)
                fail_msg("D%zu %s: %.9f, expected %.9f", i, score_criteria[k], s[k],
                         expected[i][k]);
        }
        assert_true(fabs(score_ethical(d) - expected[i][0]) < EPS);
        assert_true(fabs(score_technical(d) - s[1]) < EPS);
        assert_true(fabs(score_popularity(d) - expected[i][2]) < 1e-8);
        json_decref(d);
    }
}

/* Popularity at the reference's landmarks: 1 -> 0, 10 -> 1/3, 100 -> 2/3, >= 1000 -> 1. */
static void test_popularity_landmarks(void **state)
{
    static const struct {
        const char *json;
        double want;
    } cases[] = {
        {"{\"num_citations\":null}", 0},      {"{\"num_citations\":-5}", 0},
        {"{\"num_citations\":1}", 0},         {"{\"num_citations\":10}", 1.0 / 3},
        {"{\"num_citations\":100}", 2.0 / 3}, {"{\"num_citations\":5000}", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *d = json_loads(cases[i].json, 0, NULL);
        assert_true(fabs(score_popularity(d) - cases[i].want) < EPS);
        json_decref(d);
    }
}

/* score = sum s*w / sum w over the given criteria; defaults 0.4/0.4/0.2 when sum w = 0. */
static void test_combine_table(void **state)
{
    static const struct {
        size_t dataset;
        const char *weights;
        double want;
    } cases[] = {
        /* no weights: 0.4*0.7 + 0.4*0.568804563 + 0.2*1 = 0.707521825 */
        {1, "[]", 0.707521825},
        /* all zero: defaults, 0.4*0.3 + 0.4*0.785294118 + 0.2/3 = 0.500784314 */
        {2, "[{\"criterion_name\":\"year\",\"weight\":0}]", 0.500784314},
        /* one criterion: its score */
        {1, "[{\"criterion_name\":\"ethical_score\",\"weight\":1}]", 0.7},
        /* (1*0.5 + 0.875*0.5) / 1 */
        {2,
         "[{\"criterion_name\":\"anonymization\",\"weight\":0.5},"
         "{\"criterion_name\":\"data_quality\",\"weight\":0.5}]",
         0.9375},
        /* (1*0.2 + 1*0.6) / 0.8 */
        {3,
         "[{\"criterion_name\":\"year\",\"weight\":0.2},"
         "{\"criterion_name\":\"features_count\",\"weight\":0.6}]",
         1.0},
        /* (0.568804563*0.3 + 1*0.1) / 0.4 = 0.676603422 */
        {1,
         "[{\"criterion_name\":\"technical_score\",\"weight\":0.3},"
         "{\"criterion_name\":\"citations\",\"weight\":0.1}]",
         0.676603422},
        /* (0.5*1 + 0.339794001*1 + 0*1) / 3 = 0.279931334 */
        {4,
         "[{\"criterion_name\":\"technical_score\",\"weight\":1},"
         "{\"criterion_name\":\"instances_count\",\"weight\":1},"
         "{\"criterion_name\":\"documentation\",\"weight\":1}]",
         0.279931334},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *d = load(cases[i].dataset), *w = json_loads(cases[i].weights, 0, NULL), *det = NULL;
        struct score_weights sw;
        double s[SCORE_NCRITERIA];
        assert_int_equal(score_parse_weights(w, &sw, &det), 0);
        score_all(d, s);
        double got = score_combine(s, &sw);
        if (fabs(got - cases[i].want) > 1e-8)
            fail_msg("case %zu: %.9f, expected %.9f", i, got, cases[i].want);
        json_decref(w);
        json_decref(d);
    }
    json_t *d = load(1);
    double s[SCORE_NCRITERIA];
    score_all(d, s);
    assert_true(fabs(score_combine(s, NULL) - 0.707521825) < 1e-8);
    json_decref(d);
}

static void test_weights_refused(void **state)
{
    static const struct {
        const char *json;
        const char *field;
        const char *problem_part;
    } cases[] = {
        {"{}", "weights", "array"},
        {"[{\"criterion_name\":\"beauty\",\"weight\":0.5}]", "weights[0]", "beauty"},
        {"[{\"criterion_name\":\"year\",\"weight\":\"0.5\"}]", "weights[0]", "number"},
        {"[{\"criterion_name\":\"year\",\"weight\":1.5}]", "weights[0]", "0 to 1"},
        {"[{\"criterion_name\":\"year\",\"weight\":-0.1}]", "weights[0]", "0 to 1"},
        {"[{\"criterion_name\":\"year\",\"weight\":true}]", "weights[0]", "number"},
        {"[{\"criterion_name\":\"year\",\"weight\":0.1},{\"criterion_name\":\"year\","
         "\"weight\":0.2}]",
         "weights[1]", "more than once"},
        {"[42]", "weights[0]", "object"},
        {"[{\"criterion_name\":\"year\"}]", "weights[0]", "object"},
        {"[{\"criterion_name\":\"year\",\"weight\":0.1,\"extra\":1}]", "weights[0]", "object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *w = json_loads(cases[i].json, 0, NULL), *det = NULL;
        struct score_weights sw = {{0.25}};
        assert_int_equal(score_parse_weights(w, &sw, &det), -EINVAL);
        assert_true(sw.w[0] == 0.25); /* untouched */
        const json_t *first = json_array_get(json_object_get(det, "fields"), 0);
        assert_string_equal(json_string_value(json_object_get(first, "field")), cases[i].field);
        assert_non_null(
            strstr(json_string_value(json_object_get(first, "problem")), cases[i].problem_part));
        json_decref(det);
        json_decref(w);
    }
    /* null and absent mean no weights */
    struct score_weights sw;
    json_t *det = NULL;
    assert_int_equal(score_parse_weights(NULL, &sw, &det), 0);
    json_t *null = json_null();
    assert_int_equal(score_parse_weights(null, &sw, &det), 0);
    json_decref(null);
}

static void test_weights_normalised(void **state)
{
    static const struct {
        const char *in;
        double w0, w1;
    } cases[] = {
        {"[{\"criterion_name\":\"ethical_score\",\"weight\":0.6},"
         "{\"criterion_name\":\"technical_score\",\"weight\":0.6}]",
         0.5, 0.5},
        {"[{\"criterion_name\":\"ethical_score\",\"weight\":1},"
         "{\"criterion_name\":\"year\",\"weight\":0.25}]",
         0.8, 0.2},
        /* a sum of 1 or less is kept */
        {"[{\"criterion_name\":\"ethical_score\",\"weight\":0.3},"
         "{\"criterion_name\":\"year\",\"weight\":0.2}]",
         0.3, 0.2},
        {"[{\"criterion_name\":\"ethical_score\",\"weight\":0.5},"
         "{\"criterion_name\":\"year\",\"weight\":0.5}]",
         0.5, 0.5},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *in = json_loads(cases[i].in, 0, NULL);
        json_t *out = score_weights_normalised(in);
        assert_int_equal(json_array_size(out), 2);
        assert_true(fabs(json_real_value(json_object_get(json_array_get(out, 0), "weight")) -
                         cases[i].w0) < EPS);
        assert_true(fabs(json_real_value(json_object_get(json_array_get(out, 1), "weight")) -
                         cases[i].w1) < EPS);
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(out, 0), "criterion_name")),
            json_string_value(json_object_get(json_array_get(in, 0), "criterion_name")));
        json_decref(out);
        json_decref(in);
    }
}

static void test_annotate(void **state)
{
    json_t *d = load(2);
    struct score_weights w = {{0}};
    w.w[score_criterion_index("data_quality")] = 1;
    score_annotate(d, &w);
    assert_true(fabs(json_real_value(json_object_get(d, "score")) - 0.875) < EPS);
    assert_true(fabs(json_real_value(json_object_get(d, "ethical_score")) - 0.3) < EPS);
    const json_t *cs = json_object_get(d, "criterion_scores");
    assert_int_equal(json_object_size(cs), SCORE_NCRITERIA);
    for (size_t k = 0; k < SCORE_NCRITERIA; k++)
        assert_true(fabs(json_real_value(json_object_get(cs, score_criteria[k])) - expected[2][k]) <
                    1e-8);
    json_decref(d);
    d = load(0);
    score_annotate(d, NULL);
    assert_null(json_object_get(d, "score"));
    assert_non_null(json_object_get(d, "criterion_scores"));
    json_decref(d);
    assert_int_equal(score_criterion_index("nope"), -1);
    assert_int_equal(score_criterion_index(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_criteria_table),     cmocka_unit_test(test_popularity_landmarks),
        cmocka_unit_test(test_combine_table),      cmocka_unit_test(test_weights_refused),
        cmocka_unit_test(test_weights_normalised), cmocka_unit_test(test_annotate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
