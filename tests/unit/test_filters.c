/* test_filters: catalogue filters from query strings and JSON: canonical forms, refusals
 * naming the parameter, and the SQL conditions with their bound parameters. */
#include "../../services/selection/src/filters.c" // NOLINT(bugprone-suspicious-include)
#include "../../services/selection/src/meta.c"    // NOLINT(bugprone-suspicious-include)

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static const char *const skip[] = {"page", "page_size", "sort_by", "sort_order", NULL};

/* Query strings that are accepted: canonical JSON, the SQL after "TRUE", parameters. */
static const struct {
    const char *qs;
    const char *canon;
    const char *sql; /* conditions after "TRUE" with first = 5 */
    const char *params[4];
} good[] = {
    {"", "{}", "", {NULL}},
    {"page=2&page_size=5&sort_by=year&sort_order=desc", "{}", "", {NULL}},
    /* a bound of 0 is a real bound */
    {"year_min=0", "{\"year_min\": 0}", " AND d.year >= $5::int", {"0"}},
    {"citations_max=0&features_min=0",
     "{\"citations_max\": 0, \"features_min\": 0}",
     " AND d.features_number >= $5::int AND d.num_citations <= $6::int",
     {"0", "0"}},
    {"instances_number_min=10&instances_max=20",
     "{\"instances_min\": 10, \"instances_max\": 20}",
     " AND d.instances_number >= $5::bigint AND d.instances_number <= $6::bigint",
     {"10", "20"}},
    /* lists: repeated, comma-separated, [] suffix, trimmed and lowercased */
    {"domain=Health,%20education&domain=finance",
     "{\"domain\": [\"health\", \"education\", \"finance\"]}",
     " AND d.domain @> ARRAY(SELECT jsonb_array_elements_text($5::jsonb))",
     {"[\"health\",\"education\",\"finance\"]"}},
    {"domain=%20a%20,,%20b%20%20,%20",
     "{\"domain\": [\"a\", \"b\"]}",
     " AND d.domain @> ARRAY(SELECT jsonb_array_elements_text($5::jsonb))",
     {"[\"a\",\"b\"]"}},
    {"task[]=classification&task[]=regression",
     "{\"task\": [\"classification\", \"regression\"]}",
     " AND d.task @> ARRAY(SELECT jsonb_array_elements_text($5::jsonb))",
     {"[\"classification\",\"regression\"]"}},
    /* booleans that apply only when true */
    {"split=false&is_anonymized=false", "{\"split\": false, \"is_anonymized\": false}", "", {NULL}},
    {"is_split=true", "{\"split\": true}", " AND d.split IS TRUE", {NULL}},
    {"has_temporal_factors=1&is_public=true&informed_consent=true",
     "{\"temporal_factors\": true, \"is_public\": true, \"informed_consent\": true}",
     " AND d.temporal_factors IS TRUE AND d.is_public_placeholder", /* replaced below */
     {NULL}},
    /* has_missing_values both ways */
    {"has_missing_values=false",
     "{\"has_missing_values\": false}",
     " AND d.has_missing_values = $5::boolean",
     {"false"}},
    {"has_missing_values=true",
     "{\"has_missing_values\": true}",
     " AND d.has_missing_values = $5::boolean",
     {"true"}},
    {"access=public&availability=on_request",
     "{\"access\": \"public\", \"availability\": \"on_request\"}",
     " AND d.access = $5 AND d.availability = $6",
     {"public", "on_request"}},
    /* LIKE metacharacters match literally */
    {"name=50%25_off",
     "{\"name\": \"50%_off\"}",
     " AND (d.name ILIKE $5 OR d.display_name ILIKE $5)",
     {"%50\\%\\_off%"}},
    {"dataset_name=iris+data",
     "{\"name\": \"iris data\"}",
     " AND (d.name ILIKE $5 OR d.display_name ILIKE $5)",
     {"%iris data%"}},
    /* SQL-looking text is only a value */
    {"objective=x'%20OR%201=1;--",
     "{\"objective\": \"x' OR 1=1;--\"}",
     " AND d.objective ILIKE $5",
     {"%x' OR 1=1;--%"}},
    /* empty values mean "not given" */
    {"year_min=&domain=&name=&split=", "{}", "", {NULL}},
};

static void test_query_accepted(void **state)
{
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        json_t *canon = NULL, *det = NULL, *want = json_loads(good[i].canon, 0, NULL);
        if (filters_from_query(good[i].qs, skip, &canon, &det) != 0)
            fail_msg("case %zu (%s) refused", i, good[i].qs);
        if (!json_equal(canon, want)) {
            char *got = json_dumps(canon, JSON_SORT_KEYS);
            fail_msg("case %zu: canonical %s", i, got);
        }
        struct filter_sql f;
        assert_int_equal(filters_sql(canon, 5, &f), 0);
        assert_memory_equal(f.where, "TRUE", 4);
        if (strstr(good[i].sql, "placeholder")) {
            assert_string_equal(f.where, "TRUE AND d.temporal_factors IS TRUE AND d.access = "
                                         "'public' AND d.informed_consent IS TRUE");
        } else {
            assert_string_equal(f.where + 4, good[i].sql);
        }
        int n = 0;
        while (n < 4 && good[i].params[n])
            n++;
        assert_int_equal(f.nparams, n);
        for (int k = 0; k < n; k++)
            assert_string_equal(f.params[k], good[i].params[k]);
        filters_sql_release(&f);
        json_decref(want);
        json_decref(canon);
    }
}

/* Query strings that are refused, with the parameter named in the details. */
static const struct {
    const char *qs;
    const char *fields[3];
} bad[] = {
    {"colour=red&size=big", {"colour", "size"}},
    {"year_min=abc", {"year_min"}},
    {"year_min=-1", {"year_min"}},
    {"instances_max=1.5", {"instances_max"}},
    {"year_min=1999&year_min=2000", {"year_min"}},
    {"instances_min=1&instances_number_min=2", {"instances_number_min"}},
    {"split=yes", {"split"}},
    {"has_missing_values=maybe", {"has_missing_values"}},
    {"ethical_score_min=101", {"ethical_score_min"}},
    {"ethical_score_min=-1", {"ethical_score_min"}},
    {"ethical_score_min=ten", {"ethical_score_min"}},
    {"access=secret", {"access"}},
    {"availability=online&representativity_level=excellent", {"representativity_level"}},
    {"domain=x'%20OR%201=1", {"domain"}},
    {"task=a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u", {"task"}},
    {"name=%ZZ", {"query"}},
    {"name=%00", {"query"}},
    {"name=%C3%28", {"query"}},
};

static void test_query_refused(void **state)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *canon = NULL, *det = NULL;
        if (filters_from_query(bad[i].qs, skip, &canon, &det) != -EINVAL)
            fail_msg("case %zu (%s) accepted", i, bad[i].qs);
        assert_null(canon);
        const json_t *list = json_object_get(det, "fields");
        size_t n = 0;
        while (n < 3 && bad[i].fields[n])
            n++;
        assert_int_equal(json_array_size(list), n);
        char msg[512];
        filters_message(det, msg, sizeof(msg));
        for (size_t k = 0; k < n; k++) {
            assert_string_equal(
                json_string_value(json_object_get(json_array_get(list, k), "field")),
                bad[i].fields[k]);
            assert_non_null(strstr(msg, bad[i].fields[k]));
        }
        json_decref(det);
    }
}

static void test_json(void **state)
{
    static const struct {
        const char *in;
        const char *canon; /* NULL: refused */
        const char *field;
    } cases[] = {
        {"null", "{}", NULL},
        {"{\"year_min\": 2000, \"domain\": [\"Education\"], \"is_public\": true, \"split\": null}",
         "{\"year_min\": 2000, \"domain\": [\"education\"], \"is_public\": true}", NULL},
        {"{\"domain\": \"a, b\"}", "{\"domain\": [\"a\", \"b\"]}", NULL},
        {"{\"ethical_score_min\": 40.5}", "{\"ethical_score_min\": 40.5}", NULL},
        {"{\"ethical_score_min\": 40}", "{\"ethical_score_min\": 40.0}", NULL},
        {"{\"year_min\": \"2000\"}", NULL, "year_min"},
        {"{\"year_min\": 2000.5}", NULL, "year_min"},
        {"{\"split\": \"true\"}", NULL, "split"},
        {"{\"domain\": [1]}", NULL, "domain"},
        {"{\"name\": 5}", NULL, "name"},
        {"{\"weights\": []}", NULL, "weights"},
        {"[1]", NULL, "filters"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *in = json_loads(cases[i].in, JSON_DECODE_ANY, NULL), *canon = NULL, *det = NULL;
        int rc = filters_from_json(in, &canon, &det);
        if (cases[i].canon) {
            json_t *want = json_loads(cases[i].canon, 0, NULL);
            assert_int_equal(rc, 0);
            if (!json_equal(canon, want))
                fail_msg("case %zu: %s", i, json_dumps(canon, JSON_SORT_KEYS));
            json_decref(want);
        } else {
            assert_int_equal(rc, -EINVAL);
            assert_string_equal(json_string_value(json_object_get(
                                    json_array_get(json_object_get(det, "fields"), 0), "field")),
                                cases[i].field);
        }
        json_decref(det);
        json_decref(canon);
        json_decref(in);
    }
}

/* The ethical score condition and the search over names, objective and columns. */
static void test_sql_shapes(void **state)
{
    json_t *canon = NULL, *det = NULL;
    assert_int_equal(filters_from_query("ethical_score_min=70&q=petal", skip, &canon, &det), 0);
    struct filter_sql f = {0};
    assert_int_equal(filters_sql(canon, 3, &f), 0);
    assert_int_equal(f.nparams, 2);
    assert_string_equal(f.params[0], "%petal%");
    assert_string_equal(f.params[1], "70");
    assert_non_null(f.where);
    const char *where = f.where ? f.where : "";
    assert_non_null(strstr(where, "d.name ILIKE $3 OR d.display_name ILIKE $3 OR d.objective "
                                  "ILIKE $3"));
    assert_non_null(strstr(where, "sc.name ILIKE $3"));
    assert_non_null(strstr(where, "(d.accountability_defined IS TRUE)::int) * 10 >= $4::float8"));
    filters_sql_release(&f);
    filters_sql_release(NULL);
    json_decref(canon);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_accepted),
        cmocka_unit_test(test_query_refused),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_sql_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
