/* test_quality: the data-quality analysis: its statistics against scipy/numpy, the
 * strategy and severity tables, and a whole hand-computed report. */
#include <ibx/frame.h>
#include <ibx/quality.h>

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

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void assert_close(double got, double want, double rel)
{
    double tol = rel * fmax(1.0, fabs(want));
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g", got, want);
}

/* Expected statistic, p-value and skewness computed with Debian's python3-scipy 1.10.1 and
 * numpy 1.24.2: scipy.stats.normaltest(x) and pandas' skew formula
 * n*sqrt(n-1)/(n-2) * m3/m2**1.5 over the sums of centred powers. */
static const double vec_a[] = {2.1, 3.4, 1.9, 5.6, 4.4, 3.3, 2.8, 3.9, 4.1, 3.0,
                               2.5, 3.7, 4.8, 3.2, 2.9, 3.6, 4.0, 3.1, 2.2, 6.9};
static const double vec_b[] = {1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 8, 13, 21, 34, 55, 89};
static const double vec_c[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
static const double vec_d[] = {-1.2, 0.3, 0.8, -0.4, 1.9, -2.2, 0.1, 0.5, -0.7, 1.1, -0.05, 0.6};

static const struct {
    const double *x;
    size_t n;
    double stat, p, skew;
} normal_cases[] = {
    {vec_a, N_OF(vec_a), 7.604595835478364, 0.022319424681064955, 1.1642342123830496},
    {vec_b, N_OF(vec_b), 19.312221656551547, 6.403307390806593e-05, 2.2759174110436406},
    {vec_c, N_OF(vec_c), 2.02697581498966, 0.362950830342156, 0.0},
    {vec_d, N_OF(vec_d), 1.2634717872868078, 0.5316680802574449, -0.5199626571307784},
};

static void test_normaltest_matches_scipy(void **state)
{
    for (size_t i = 0; i < N_OF(normal_cases); i++) {
        double stat = -1, p = -1;
        assert_int_equal(quality_normaltest(normal_cases[i].x, normal_cases[i].n, &stat, &p), 0);
        assert_close(stat, normal_cases[i].stat, 1e-9);
        assert_close(p, normal_cases[i].p, 1e-9);
        assert_close(quality_skew(normal_cases[i].x, normal_cases[i].n), normal_cases[i].skew,
                     1e-9);
    }
    static const double flat[] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    double stat = -1, p = -1;
    assert_int_equal(quality_normaltest(flat, 10, &stat, &p), -EINVAL); /* constant */
    assert_int_equal(quality_normaltest(vec_a, 7, &stat, &p), -EINVAL); /* n < 8 */
    assert_true(stat == -1 && p == -1);
    assert_true(quality_skew(flat, 10) == 0);
    assert_true(isnan(quality_skew(vec_a, 2)));
}

static void test_quantile_matches_numpy(void **state)
{
    /* numpy.quantile([1, 2, 4, 8, 16], q) and numpy.quantile([0.1, 0.2, 0.7], 0.3) */
    static const double x[] = {1, 2, 4, 8, 16};
    static const double q[] = {0, 0.1, 0.25, 0.5, 0.75, 0.9, 1};
    static const double want[] = {1.0, 1.4, 2.0, 4.0, 8.0, 12.8, 16.0};
    for (size_t i = 0; i < N_OF(q); i++)
        assert_true(quality_quantile(x, 5, q[i]) == want[i]);
    static const double y[] = {0.1, 0.2, 0.7};
    assert_true(quality_quantile(y, 3, 0.3) == 0.16);
    assert_true(quality_quantile(y, 1, 0.75) == 0.1);
}

static void test_id_like(void **state)
{
    static const struct {
        const char *name;
        int want;
    } cases[] = {{"id", 1},         {"ID", 1},    {"user_id", 1},  {"Customer_ID", 1},
                 {"uuid", 1},       {"index", 1}, {"pk_order", 1}, {"row_number", 1},
                 {"Unnamed: 0", 1}, {"idea", 0},  {"valid", 0},    {"_id", 0},
                 {"identity", 0},   {"paid", 0},  {"price", 0},    {"", 0}};
    for (size_t i = 0; i < N_OF(cases); i++)
        assert_int_equal(quality_is_id_like(cases[i].name), cases[i].want);
}

static json_t *path(json_t *root, const char *a, const char *b, const char *c, const char *d)
{
    const char *keys[] = {a, b, c, d};
    json_t *j = root;
    for (size_t i = 0; i < 4 && keys[i] && j; i++)
        j = json_object_get(j, keys[i]);
    if (!j)
        fail_msg("no %s.%s.%s.%s", a, b ? b : "", c ? c : "", d ? d : "");
    return j;
}

static const char *str_at(json_t *root, const char *a, const char *b, const char *c, const char *d)
{
    json_t *j = path(root, a, b, c, d);
    assert_true(json_is_string(j));
    return json_string_value(j);
}

static double num_at(json_t *root, const char *a, const char *b, const char *c, const char *d)
{
    json_t *j = path(root, a, b, c, d);
    assert_true(json_is_number(j));
    return json_number_value(j);
}

static void expect_strings(json_t *arr, const char *const *want, size_t n)
{
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(json_string_value(json_array_get(arr, i)), want[i]);
}

/* Strategy and severity by missing share: 100 rows, the first k missing. Numeric values
 * are k..99 (scipy: normaltest p < 0.05 for every k here, skew 0: "symmetric"). */
static const struct {
    size_t k;
    const char *severity, *num_primary, *cat_primary;
    double confidence;
    size_t num_alts, cat_alts;
} share_cases[] = {
    {4, "low", "median_imputation", "mode_imputation", 0.9, 1, 1},
    {5, "medium", "median_imputation", "mode_imputation", 0.9, 1, 1},
    {15, "high", "median_imputation", "mode_imputation", 0.9, 1, 1},
    {16, "high", "median_imputation", "mode_imputation", 0.8, 2, 1},
    {30, "critical", "median_imputation", "mode_imputation", 0.8, 2, 1},
    {41, "critical", "knn_imputation", "mode_imputation", 0.7, 2, 2},
    {70, "critical", "knn_imputation", "mode_imputation", 0.7, 2, 2},
    {71, "critical", "drop_column", "drop_column", 0.9, 0, 0},
};

static void test_strategy_table(void **state)
{
    static const char *const cats[] = {"a", "b", "c"};
    for (size_t t = 0; t < N_OF(share_cases); t++) {
        struct frame *f;
        double num[100];
        const char *cat[100];
        json_t *r;
        for (size_t i = 0; i < 100; i++) {
            num[i] = i < share_cases[t].k ? NAN : (double)i;
            cat[i] = i < share_cases[t].k ? NULL : cats[i % 3];
        }
        assert_int_equal(frame_new(100, &f), 0);
        assert_int_equal(frame_add_numeric(f, "x", NULL, num), 0);
        assert_int_equal(frame_add_strings(f, "c", "categorical", cat), 0);
        assert_int_equal(quality_analyze(f, NULL, &r), 0);
        const char *m = "missing_data_analysis", *cw = "columns_with_missing";
        json_t *x = path(r, m, cw, "x", NULL), *c = path(r, m, cw, "c", NULL);
        assert_string_equal(str_at(x, "severity", NULL, NULL, NULL), share_cases[t].severity);
        assert_string_equal(str_at(x, "distribution_type", NULL, NULL, NULL), "symmetric");
        assert_string_equal(str_at(x, "recommended_strategy", "primary_strategy", NULL, NULL),
                            share_cases[t].num_primary);
        assert_string_equal(str_at(c, "recommended_strategy", "primary_strategy", NULL, NULL),
                            share_cases[t].cat_primary);
        assert_string_equal(str_at(c, "distribution_type", NULL, NULL, NULL), "categorical");
        assert_true(num_at(x, "recommended_strategy", "confidence", NULL, NULL) ==
                    share_cases[t].confidence);
        assert_int_equal(
            json_array_size(path(x, "recommended_strategy", "alternative_strategies", NULL, NULL)),
            share_cases[t].num_alts);
        assert_int_equal(
            json_array_size(path(c, "recommended_strategy", "alternative_strategies", NULL, NULL)),
            share_cases[t].cat_alts);
        assert_true(num_at(x, "missing_count", NULL, NULL, NULL) == (double)share_cases[t].k);
        assert_true(num_at(c, "unique_values", NULL, NULL, NULL) == 3);
        assert_true(json_is_true(path(c, "is_categorical", NULL, NULL, NULL)));
        assert_true(json_is_false(path(x, "is_categorical", NULL, NULL, NULL)));
        json_decref(r);
        frame_free(f);
    }
}

/* The hand-computed report. 20 rows; row 19 is missing in every analysed column.
 *   age     3 missing (15 %): scipy normaltest p = 0.8127 -> normal -> mean_imputation
 *   income  6 missing (30 %): p = 5.17e-9, skew 3.719 -> right_skewed -> median (0.8);
 *           IQR [22000, 44000] -> 1 outlier (row 15, 5 %), z max 3.468 -> 1 (5 %)
 *   city    9 missing (45 %): categorical -> mode_imputation (0.7)
 *   notes   20 missing: drop_column, completely empty
 *   score   1 missing (5 %): p = 0.0174, skew 1.566 -> right_skewed -> median (0.9);
 *           q1 49, q3 52.5, IQR [43.75, 57.75] -> 4 outliers (rows 13..16, 20 %), z max
 *           2.095 -> none
 *   flag    1 missing (5 %)
 * Missingness correlations: income~city (66 / sqrt(8316) = 0.7237), score~flag (1).
 * Severity = 30 x 6/6 + 40 x 2/6 + 10 x 1 = 53.33 (medium).
 * Score = floor(100 - 53.33/2 - min(20, 20)) = 53. */
#define X NAN
static const double ids[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
static const double age[] = {34, 45, X,  29, 51, 38, 42, X,  36, 47,
                             33, 40, 55, 31, 44, 39, 48, 37, 41, X};
static const double income[] = {30000, 32000, X, 35000, 28000, X,      40000, X,     31000, 33000,
                                29000, X,     X, 36000, 34000, 250000, 30000, 38000, 32000, X};
static const double score[] = {50, 52, 48, 51,  49,  53,  47,  50, 52, 48,
                               51, 49, 50, 200, 210, 220, 230, 51, 49, X};
static const char *const city[] = {NULL,    "Paris", NULL,   "Lyon", "Paris", NULL, "Nice",
                                   NULL,    "Lyon",  "Nice", "Lyon", NULL,    NULL, "Paris",
                                   "Paris", NULL,    NULL,   "Lyon", "Nice",  NULL};
static const char *const notes[20] = {NULL};
static const char *const flag[] = {"yes", "no",  "yes", "yes", "no",  "no",  "yes",
                                   "no",  "yes", "no",  "yes", "no",  "yes", "no",
                                   "yes", "no",  "yes", "no",  "yes", "NA"};
#undef X

static struct frame *report_frame(void)
{
    struct frame *f;
    assert_int_equal(frame_new(20, &f), 0);
    assert_int_equal(frame_add_numeric(f, "id", "numerical_integer", ids), 0);
    assert_int_equal(frame_add_numeric(f, "age", "numerical_integer", age), 0);
    assert_int_equal(frame_add_numeric(f, "income", "numerical_float", income), 0);
    assert_int_equal(frame_add_strings(f, "city", "categorical", city), 0);
    assert_int_equal(frame_add_strings(f, "notes", "text", notes), 0);
    assert_int_equal(frame_add_numeric(f, "score", "numerical_float", score), 0);
    assert_int_equal(frame_add_strings(f, "flag", "boolean", flag), 0);
    return f;
}

static void check_missing_section(json_t *r)
{
    const char *m = "missing_data_analysis", *cw = "columns_with_missing";
    json_t *cols = path(r, m, cw, NULL, NULL);
    assert_int_equal(json_object_size(cols), 6); /* not id */
    json_t *age_j = path(cols, "age", NULL, NULL, NULL);
    assert_string_equal(str_at(age_j, "distribution_type", NULL, NULL, NULL), "normal");
    assert_close(num_at(age_j, "normality_p_value", NULL, NULL, NULL), 0.8127207767345916, 1e-9);
    assert_close(num_at(age_j, "skewness", NULL, NULL, NULL), 0.31039289318011687, 1e-9);
    assert_string_equal(str_at(age_j, "recommended_strategy", "primary_strategy", NULL, NULL),
                        "mean_imputation");
    assert_true(num_at(age_j, "missing_percentage", NULL, NULL, NULL) == 15);
    json_t *inc = path(cols, "income", NULL, NULL, NULL);
    assert_string_equal(str_at(inc, "distribution_type", NULL, NULL, NULL), "right_skewed");
    assert_close(num_at(inc, "normality_p_value", NULL, NULL, NULL), 5.170812526878871e-09, 1e-9);
    assert_string_equal(str_at(inc, "recommended_strategy", "primary_strategy", NULL, NULL),
                        "median_imputation");
    assert_true(num_at(inc, "unique_values", NULL, NULL, NULL) == 12);
    assert_string_equal(str_at(cols, "city", "recommended_strategy", "primary_strategy", NULL),
                        "mode_imputation");
    static const char *const city_alts[] = {"create_missing_category", "drop_column"};
    expect_strings(path(cols, "city", "recommended_strategy", "alternative_strategies", NULL),
                   city_alts, 2);
    assert_string_equal(str_at(cols, "notes", "recommended_strategy", "primary_strategy", NULL),
                        "drop_column");
    assert_string_equal(str_at(cols, "score", "distribution_type", NULL, NULL), "right_skewed");
    assert_string_equal(str_at(cols, "score", "severity", NULL, NULL), "medium");
    assert_string_equal(str_at(cols, "flag", "data_type", NULL, NULL), "boolean");

    json_t *pat = path(r, m, "missing_patterns", NULL, NULL);
    assert_true(num_at(pat, "completely_missing_rows", NULL, NULL, NULL) == 1);
    static const char *const empty[] = {"notes"};
    expect_strings(path(pat, "completely_missing_columns", NULL, NULL, NULL), empty, 1);
    json_t *pairs = path(pat, "correlated_missing", NULL, NULL, NULL);
    assert_int_equal(json_array_size(pairs), 2);
    static const char *const p0[] = {"income", "city"}, *const p1[] = {"score", "flag"};
    expect_strings(json_object_get(json_array_get(pairs, 0), "columns"), p0, 2);
    assert_true(num_at(json_array_get(pairs, 0), "correlation", NULL, NULL, NULL) == 0.7237);
    expect_strings(json_object_get(json_array_get(pairs, 1), "columns"), p1, 2);
    assert_true(num_at(json_array_get(pairs, 1), "correlation", NULL, NULL, NULL) == 1);

    json_t *sev = path(r, m, "severity_assessment", NULL, NULL);
    assert_true(num_at(sev, "overall_score", NULL, NULL, NULL) == 53.33);
    assert_string_equal(str_at(sev, "level", NULL, NULL, NULL), "medium");
    assert_true(json_is_true(path(sev, "action_required", NULL, NULL, NULL)));
    assert_int_equal(json_array_size(path(sev, "main_issues", NULL, NULL, NULL)), 4);
}

static void check_outliers_section(json_t *r)
{
    json_t *iqr = path(r, "outliers_analysis", "iqr_method", NULL, NULL);
    json_t *z = path(r, "outliers_analysis", "zscore_method", NULL, NULL);
    assert_int_equal(json_object_size(iqr), 3); /* age, income, score; not id */
    assert_null(json_object_get(iqr, "id"));
    json_t *s = path(iqr, "score", NULL, NULL, NULL);
    assert_string_equal(str_at(s, "method", NULL, NULL, NULL), "IQR");
    assert_true(num_at(s, "q1", NULL, NULL, NULL) == 49);
    assert_true(num_at(s, "q3", NULL, NULL, NULL) == 52.5);
    assert_true(num_at(s, "lower_bound", NULL, NULL, NULL) == 43.75);
    assert_true(num_at(s, "upper_bound", NULL, NULL, NULL) == 57.75);
    assert_true(num_at(s, "outliers_count", NULL, NULL, NULL) == 4);
    assert_true(num_at(s, "outliers_percentage", NULL, NULL, NULL) == 20);
    json_t *idx = path(s, "outliers_indices", NULL, NULL, NULL);
    assert_int_equal(json_array_size(idx), 4);
    assert_int_equal(json_integer_value(json_array_get(idx, 0)), 13);
    assert_int_equal(json_integer_value(json_array_get(idx, 3)), 16);
    json_t *inc = path(iqr, "income", NULL, NULL, NULL);
    assert_true(num_at(inc, "lower_bound", NULL, NULL, NULL) == 22000);
    assert_true(num_at(inc, "upper_bound", NULL, NULL, NULL) == 44000);
    assert_int_equal(
        json_integer_value(json_array_get(path(inc, "outliers_indices", NULL, NULL, NULL), 0)), 15);
    assert_true(num_at(z, "income", "outliers_count", NULL, NULL) == 1);
    assert_close(num_at(z, "income", "max_zscore", NULL, NULL), 3.468340739728204, 1e-12);
    assert_true(num_at(z, "score", "outliers_count", NULL, NULL) == 0);
    assert_close(num_at(z, "score", "max_zscore", NULL, NULL), 2.0953150392649715, 1e-12);
    assert_true(num_at(z, "age", "threshold", NULL, NULL) == 3);
    assert_close(num_at(z, "age", "max_zscore", NULL, NULL), 2.0179052485126334, 1e-12);
}

static void check_recommendations(json_t *r)
{
    const char *p = "preprocessing_recommendations";
    json_t *acts = path(r, p, "priority_actions", NULL, NULL);
    static const char *const want[] = {"handle_missing_values", "drop_columns", "drop_empty_rows",
                                       "handle_outliers"};
    assert_int_equal(json_array_size(acts), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(acts, i), "action")),
                            want[i]);
    assert_string_equal(json_string_value(json_object_get(json_array_get(acts, 0), "priority")),
                        "medium");
    static const char *const affected[] = {"score"};
    expect_strings(path(r, p, "outlier_handling", "affected_columns", NULL), affected, 1);
    assert_string_equal(str_at(r, p, "missing_values_strategy", "age", "strategy"),
                        "mean_imputation");
    assert_string_equal(str_at(r, p, "scaling_recommendation", NULL, NULL), "robust");
    assert_string_equal(str_at(r, p, "encoding_recommendation", NULL, NULL), "onehot");
}

static void test_whole_report(void **state)
{
    struct frame *f = report_frame();
    struct quality_options opt = {.target_column = "flag"};
    json_t *r;
    assert_int_equal(quality_analyze(f, &opt, &r), 0);
    assert_true(num_at(r, "data_quality_score", NULL, NULL, NULL) == 53);
    assert_true(json_is_integer(path(r, "data_quality_score", NULL, NULL, NULL)));
    assert_string_equal(str_at(r, "dataset_overview", "target_column", NULL, NULL), "flag");
    assert_true(num_at(r, "dataset_overview", "total_rows", NULL, NULL) == 20);
    static const char *const numeric[] = {"id", "age", "income", "score"};
    static const char *const categorical[] = {"city", "notes", "flag"};
    static const char *const excluded[] = {"id"};
    expect_strings(path(r, "column_types", "numeric", NULL, NULL), numeric, 4);
    expect_strings(path(r, "column_types", "categorical", NULL, NULL), categorical, 3);
    expect_strings(path(r, "column_types", "datetime", NULL, NULL), NULL, 0);
    expect_strings(path(r, "excluded_columns", NULL, NULL, NULL), excluded, 1);
    check_missing_section(r);
    check_outliers_section(r);
    check_recommendations(r);
    /* the same frame gives the same report */
    json_t *again;
    assert_int_equal(quality_analyze(f, &opt, &again), 0);
    assert_true(json_equal(r, again));
    json_decref(again);
    json_decref(r);
    frame_free(f);
}

static void test_clean_and_empty_frames(void **state)
{
    struct frame *f;
    json_t *r;
    static const char *const when[] = {"2024-01-01", "2024-01-02", "2024-01-03"};
    static const double v[] = {1, 2, 3};
    assert_int_equal(frame_new(3, &f), 0);
    assert_int_equal(frame_add_strings(f, "when", "temporal", when), 0);
    assert_int_equal(frame_add_numeric(f, "v", NULL, v), 0);
    assert_int_equal(quality_analyze(f, NULL, &r), 0);
    assert_string_equal(str_at(r, "missing_data_analysis", "severity_assessment", "level", NULL),
                        "none");
    assert_true(num_at(r, "data_quality_score", NULL, NULL, NULL) == 100);
    assert_true(json_is_null(path(r, "dataset_overview", "target_column", NULL, NULL)));
    static const char *const dt[] = {"when"};
    expect_strings(path(r, "column_types", "datetime", NULL, NULL), dt, 1);
    assert_int_equal(
        json_object_size(path(r, "missing_data_analysis", "columns_with_missing", NULL, NULL)), 0);
    json_decref(r);
    frame_free(f);

    assert_int_equal(frame_new(0, &f), 0);
    assert_int_equal(quality_analyze(f, NULL, &r), 0);
    assert_true(num_at(r, "data_quality_score", NULL, NULL, NULL) == 100);
    json_decref(r);
    frame_free(f);
    assert_int_equal(quality_analyze(NULL, NULL, &r), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normaltest_matches_scipy),
        cmocka_unit_test(test_quantile_matches_numpy),
        cmocka_unit_test(test_id_like),
        cmocka_unit_test(test_strategy_table),
        cmocka_unit_test(test_whole_report),
        cmocka_unit_test(test_clean_and_empty_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
