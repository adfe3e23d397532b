/* test_narrative: the narratives of xai-engine (services/xai-engine/src/narrative.c) for
 * every audience and language on results of each method: about 180 / 280 / 320 words
 * (within 40%), the top feature named, the facts stated (shares, metrics, residual), the
 * language's number format, no template left unfilled, and the same text every time. */
#include "../../services/xai-engine/src/engine.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* An iris-like global TreeSHAP result (three classes, four features). */
static const char *const global_shap =
    "{\"task\":\"classification\",\"target\":\"species\",\"algorithm\":\"random_forest\","
    "\"method\":\"tree_shap\",\"explanation_type\":\"global\",\"exact\":true,"
    "\"features\":[\"sepal length\",\"sepal width\",\"petal length\",\"petal width\"],"
    "\"metrics\":{\"accuracy\":0.9667,\"f1_macro\":0.9666,\"roc_auc\":0.998},"
    "\"data\":{\"rows_explained\":150,\"train_rows\":120,\"test_rows\":30,\"split\":"
    "\"experiment\"},\"output\":{\"space\":\"probability\",\"names\":[\"setosa\","
    "\"versicolor\",\"virginica\"]},\"additivity\":{\"max_abs_residual\":2.2e-16},"
    "\"parameters\":{\"algorithm\":\"path_dependent\",\"max_rows\":1000},"
    "\"correlation\":{\"features\":[\"petal width\",\"petal length\"],\"pearson\":0.963},"
    "\"ranking\":[{\"feature\":\"petal width\",\"importance\":0.61,\"strongest_output\":"
    "\"setosa\"},{\"feature\":\"petal length\",\"importance\":0.52,\"strongest_output\":"
    "\"virginica\"},{\"feature\":\"sepal length\",\"importance\":0.05},{\"feature\":"
    "\"sepal width\",\"importance\":0.02}]}";

/* A local LIME result on a regression model. */
static const char *const local_lime =
    "{\"task\":\"regression\",\"target\":\"price\",\"algorithm\":\"knn\",\"method\":\"lime\","
    "\"explanation_type\":\"local\",\"exact\":false,\"features\":[\"rooms\",\"area\","
    "\"city\"],\"metrics\":{\"r2\":0.81,\"rmse\":12.5,\"mae\":9.1},\"data\":{\"train_rows\":"
    "400,\"split\":\"experiment\"},\"parameters\":{\"nsamples\":5000},"
    "\"local\":{\"row\":7,\"output\":\"price\",\"output_value\":212.5,\"base_value\":180.2,"
    "\"residual\":3.1,\"prediction\":{\"value\":212.5},\"lime\":{\"score\":0.74},"
    "\"contributions\":[{\"feature\":\"area\",\"value\":120,\"contribution\":25.3,"
    "\"condition\":\"95 < area <= 130\"},{\"feature\":\"city\",\"value\":\"Lyon\","
    "\"contribution\":-8.2,\"condition\":\"city = Lyon\"},{\"feature\":\"rooms\",\"value\":4,"
    "\"contribution\":2.5,\"condition\":\"rooms > 3\"}]}}";

/* Permutation importance, binary classification. */
static const char *const permutation =
    "{\"task\":\"classification\",\"target\":\"churn\",\"algorithm\":\"gaussian_nb\","
    "\"method\":\"permutation\",\"explanation_type\":\"feature_importance\",\"exact\":false,"
    "\"features\":[\"tenure\",\"plan\",\"calls\"],\"metrics\":{\"accuracy\":0.84,"
    "\"f1_macro\":0.79},\"data\":{\"rows_explained\":200,\"split\":\"experiment\"},"
    "\"parameters\":{\"repeats\":5},\"permutation\":{\"score\":\"accuracy\",\"baseline\":0.84},"
    "\"ranking\":[{\"feature\":\"tenure\",\"importance\":0.12,\"sd\":0.01},{\"feature\":"
    "\"calls\",\"importance\":0.05,\"sd\":0.008},{\"feature\":\"plan=gold\",\"importance\":"
    "0.01,\"sd\":0.004}]}";

/* Partial dependence, regression. */
static const char *const pdp =
    "{\"task\":\"regression\",\"target\":\"yield\",\"algorithm\":\"gradient_boosting\","
    "\"method\":\"pdp\",\"explanation_type\":\"global\",\"exact\":false,\"features\":"
    "[\"rain\",\"sun\"],\"metrics\":{\"r2\":0.66,\"rmse\":3.2,\"mae\":2.5},\"data\":"
    "{\"rows_explained\":500,\"split\":\"all_rows\"},\"parameters\":{\"grid_points\":20,"
    "\"ice_rows\":50},\"ranking\":[{\"feature\":\"rain\",\"importance\":4.2},{\"feature\":"
    "\"sun\",\"importance\":1.1}],\"pdp\":[{\"feature\":\"rain\",\"grid\":[10,20,30],"
    "\"average\":{\"yield\":[3,5,7.2]},\"trend\":{\"yield\":\"rising\"},\"range\":"
    "{\"yield\":4.2}},{\"feature\":\"sun\",\"grid\":[1,2,3],\"average\":{\"yield\":"
    "[6,5.5,4.9]},\"trend\":{\"yield\":\"falling\"},\"range\":{\"yield\":1.1}}]}";

/* A local TreeSHAP result (binary log-odds). */
static const char *const local_shap =
    "{\"task\":\"classification\",\"target\":\"default\",\"algorithm\":\"gradient_boosting\","
    "\"method\":\"tree_shap\",\"explanation_type\":\"local\",\"exact\":true,\"features\":"
    "[\"income\",\"debt\",\"age\",\"job\"],\"metrics\":{\"accuracy\":0.91,\"f1_macro\":0.88,"
    "\"roc_auc\":0.95},\"data\":{\"split\":\"experiment\"},\"output\":{\"space\":"
    "\"log_odds\",\"names\":[\"yes\"]},\"additivity\":{\"max_abs_residual\":1.1e-15},"
    "\"local\":{\"row\":null,\"output\":\"yes\",\"output_value\":1.35,\"base_value\":-0.8,"
    "\"residual\":1e-16,\"prediction\":{\"label\":\"yes\",\"probabilities\":{\"no\":0.21,"
    "\"yes\":0.79}},\"contributions\":[{\"feature\":\"debt\",\"value\":52000,"
    "\"contribution\":1.6},{\"feature\":\"income\",\"value\":21000,\"contribution\":0.7},"
    "{\"feature\":\"job\",\"value\":\"clerk\",\"contribution\":-0.2},{\"feature\":\"age\","
    "\"value\":null,\"contribution\":0.05}]}}";

struct ncase {
    const char *name;
    const char *json;
    const char *top;        /* must be named */
    const char *fact_en[2]; /* must appear in the English intermediate text */
    const char *fact_fr[2]; /* and in the French one */
};

static const struct ncase cases[] = {
    {"global_shap", NULL, "petal width", {"96.7%", "0.96"}, {"96,7", "0,96"}},
    {"local_lime", NULL, "area", {"R² = 0.740", "95 < area <= 130"}, {"R² = 0,740", "0,740"}},
    {"permutation", NULL, "tenure", {"0.12", "0.01"}, {"0,12", "0,01"}},
    {"pdp", NULL, "rain", {"3.000", "7.200"}, {"3,000", "7,200"}},
    {"local_shap", NULL, "debt", {"79%", "1.600"}, {"79", "1,600"}},
};

static const char *case_json(size_t i)
{
    const char *const all[] = {global_shap, local_lime, permutation, pdp, local_shap};
    return all[i];
}

/* 0 when text is right; else prints why and returns 1. */
static int check_text(const char *name, const char *text, enum xe_audience a, enum xe_lang l,
                      const char *top)
{
    static const double target[] = {180, 280, 320};
    size_t w = narrative_words(text);
    print_message("%s %s %s: %zu words (about %.0f)\n", name, xe_lang_name(l), xe_audience_name(a),
                  w, target[a]);
    if (getenv("NARRATIVE_PRINT"))
        fprintf(stderr, "%s\n\n", text);
    if ((double)w < 0.6 * target[a] || (double)w > 1.4 * target[a])
        return 1;
    if (!strstr(text, top))
        fail_msg("%s %s %s does not name %s:\n%s", name, xe_lang_name(l), xe_audience_name(a), top,
                 text);
    if (strchr(text, '{') || strchr(text, '}') || strstr(text, "(null)") || strstr(text, "nan"))
        fail_msg("%s %s %s has a hole:\n%s", name, xe_lang_name(l), xe_audience_name(a), text);
    if (l == XE_FR && !strstr(text, "\xc2\xab"))
        fail_msg("%s: French quotes missing:\n%s", name, text);
    return 0;
}

static void test_lengths_and_facts(void **state)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *res = json_loads(case_json(i), 0, NULL);
        assert_non_null(res);
        for (int l = XE_EN; l <= XE_FR; l++) {
            for (int a = XE_NOVICE; a <= XE_EXPERT; a++) {
                char *t = narrative_text(res, (enum xe_audience)a, (enum xe_lang)l);
                assert_non_null(t);
                bad += check_text(cases[i].name, t, (enum xe_audience)a, (enum xe_lang)l,
                                  cases[i].top);
                const char *const *facts = l == XE_FR ? cases[i].fact_fr : cases[i].fact_en;
                for (int k = 0; a == XE_INTERMEDIATE && k < 2; k++)
                    if (!strstr(t, facts[k]))
                        fail_msg("%s %s intermediate misses '%s':\n%s", cases[i].name,
                                 xe_lang_name((enum xe_lang)l), facts[k], t);
                free(t);
            }
        }
        json_decref(res);
    }
    assert_int_equal(bad, 0);
}

static void test_audiences_differ_and_repeat(void **state)
{
    json_t *res = json_loads(global_shap, 0, NULL);
    json_t *all = narrative_all(res), *again = narrative_all(res);
    assert_non_null(all);
    assert_true(json_equal(all, again));
    const char *nov = json_string_value(json_object_get(json_object_get(all, "en"), "novice"));
    const char *exp = json_string_value(json_object_get(json_object_get(all, "en"), "expert"));
    const char *fr = json_string_value(json_object_get(json_object_get(all, "fr"), "novice"));
    assert_non_null(strstr(nov, "doctor"));    /* the everyday analogy */
    assert_null(strstr(nov, "Shapley"));       /* no jargon for a novice */
    assert_non_null(strstr(exp, "Shapley"));   /* method details */
    assert_non_null(strstr(exp, "correlate")); /* interactions and dependence */
    assert_non_null(strstr(exp, "2.2e-16"));   /* the residual */
    assert_non_null(strstr(fr, "médecin"));
    assert_non_null(strstr(fr, "51\xc2\xa0%")); /* 0.61 of 1.20 */
    json_decref(all);
    json_decref(again);
    json_decref(res);
}

static void test_words(void **state)
{
    assert_int_equal(narrative_words(""), 0);
    assert_int_equal(narrative_words("  one  two\nthree\n\n"), 3);
    assert_int_equal(narrative_words("«\xc2\xa0petal\xc2\xa0» width"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lengths_and_facts),
        cmocka_unit_test(test_audiences_differ_and_repeat),
        cmocka_unit_test(test_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
