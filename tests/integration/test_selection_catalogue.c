/* test_selection_catalogue: the dataset catalogue of a real selection service: filters
 * (0 bounds, lists, booleans, ethical score, search), paging, visibility, detail with
 * scores, PATCH/DELETE ownership and blob release, POST /datasets/score with hand-computed
 * scores, similar datasets, completion and Croissant. Datasets are inserted with SQL. */
#include "th_stack.h"
#include "th_tokens.h"

#include <ibx/auth.h>
#include <ibx/ids.h>

#include <libpq-fe.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ALICE "11111111-1111-4111-8111-111111111111"
#define BOB   "22222222-2222-4222-8222-222222222222"
#define ADMIN "33333333-3333-4333-8333-333333333333"

#define IRIS      "aaaaaaaa-0000-4000-8000-000000000001"
#define WINE      "aaaaaaaa-0000-4000-8000-000000000002"
#define ZERO      "aaaaaaaa-0000-4000-8000-000000000003"
#define SECRET    "aaaaaaaa-0000-4000-8000-000000000004"
#define EMPTY     "aaaaaaaa-0000-4000-8000-000000000005"
#define IRIS_FILE "bbbbbbbb-0000-4000-8000-000000000001"

static struct th_stack st;
static struct th_svc *sel;
static struct auth_keys *keys;
static PGconn *pg;
static char *alice, *bob, *admin;

/* The catalogue (scores are worked out in the tests that use them):
 * iris    alice, public: 7 of 10 flags, documented, no missing values, not split, 150 rows,
 *         4 features, 1000 citations, 1936; a file with columns petal_length and species
 * wine    alice, public, archived: 3 flags (consent, anonymization, accountability), metadata
 *         false, external docs unknown, 12.5 % missing, split, 100000 rows, 150 features, 10
 *         citations, 2012
 * zero    bob, restricted: missing values of unknown extent, 0 rows, 1100 features, 0
 *         citations, 2030, temporal factors
 * secret  bob, private: every flag true, 100 % missing, split, 100 rows, 100 features
 * empty   no owner, nothing known */
static const char *const fixtures[] = {
    "INSERT INTO selection.datasets (id, owner_id, name, display_name, year, objective, access, "
    "availability, num_citations, sources, license, storage_uri, instances_number, "
    "features_number, domain, task, target_column, representativity_level, "
    "sample_balance_level, split, has_missing_values, global_missing_percentage, "
    "metadata_provided_with_dataset, external_documentation_available, informed_consent, "
    "transparency, user_control, equity_non_discrimination, security_measures_in_place, "
    "data_quality_documented, anonymization_applied, record_keeping_policy_exists, "
    "purpose_limitation_respected, accountability_defined, created_at) VALUES "
    "('" IRIS "', '" ALICE "', 'iris', 'Iris', 1936, 'Classify iris species from flower "
    "measurements', 'public', 'online', 1000, 'UCI', 'CC BY 4.0', "
    "'https://archive.ics.uci.edu/dataset/53/iris', 150, 4, '{biology,education}', "
    "'{classification}', 'species', 'medium', 'balanced', false, false, 0, true, true, false, "
    "true, false, true, true, true, false, true, true, true, now() - interval '5 min')",
    "INSERT INTO selection.datasets (id, owner_id, name, display_name, year, objective, access, "
    "availability, num_citations, instances_number, features_number, domain, task, split, "
    "has_missing_values, global_missing_percentage, metadata_provided_with_dataset, "
    "informed_consent, user_control, anonymization_applied, accountability_defined, created_at) "
    "VALUES ('" WINE "', '" ALICE "', 'wine-quality', 'Wine quality', 2012, 'Predict wine "
    "quality from physicochemical tests', 'public', 'archived', 10, 100000, 150, "
    "'{food,chemistry}', '{classification,regression}', true, true, 12.5, false, true, false, "
    "true, true, now() - interval '4 min')",
    "INSERT INTO selection.datasets (id, owner_id, name, display_name, year, access, "
    "num_citations, instances_number, features_number, domain, task, has_missing_values, "
    "temporal_factors, created_at) VALUES ('" ZERO "', '" BOB "', 'zero-bounds', 'Bounded at "
    "nothing', 2030, 'restricted', 0, 0, 1100, '{finance}', '{regression}', true, true, now() - "
    "interval '3 min')",
    "INSERT INTO selection.datasets (id, owner_id, name, display_name, year, access, "
    "num_citations, instances_number, features_number, domain, task, split, has_missing_values, "
    "global_missing_percentage, informed_consent, transparency, user_control, "
    "equity_non_discrimination, security_measures_in_place, data_quality_documented, "
    "anonymization_applied, record_keeping_policy_exists, purpose_limitation_respected, "
    "accountability_defined, created_at) VALUES ('" SECRET "', '" BOB "', 'bob-private', "
    "'Secret', 2000, 'private', 1, 100, 100, '{education,secret-domain}', '{classification}', "
    "true, true, 100, true, true, true, true, true, true, true, true, true, true, now() - "
    "interval '2 min')",
    "INSERT INTO selection.datasets (id, name, display_name, created_at) VALUES ('" EMPTY "', "
    "'empty-meta', 'Empty', now() - interval '1 min')",
    /* iris's file and columns, and its blobs */
    "INSERT INTO selection.blobs (sha256, size, media_type) VALUES "
    "(encode(sha256('iris-original'), 'hex'), 13, 'text/csv'), "
    "(encode(sha256('iris-columnar'), 'hex'), 13, 'application/octet-stream')",
    "INSERT INTO selection.dataset_files (id, dataset_id, position, original_filename, format, "
    "media_type, size_bytes, row_count, column_count, blob_id, columnar_blob_id) VALUES "
    "('" IRIS_FILE "', '" IRIS "', 0, 'iris.csv', 'csv', 'text/csv', 13, 150, 2, "
    "encode(sha256('iris-original'), 'hex'), encode(sha256('iris-columnar'), 'hex'))",
    "INSERT INTO selection.file_columns (id, file_id, position, name, data_type_interpreted, "
    "is_nullable, is_pii, example_values) VALUES (gen_random_uuid(), '" IRIS_FILE "', 0, "
    "'petal_length', 'numerical_float', false, false, '{1.4,4.7}'), (gen_random_uuid(), "
    "'" IRIS_FILE "', 1, 'species', 'categorical', false, false, '{setosa}')",
};

static char *mint(const char *sub, const char *role)
{
    struct auth_claims c = {0};
    snprintf(c.sub, sizeof(c.sub), "%s", sub);
    snprintf(c.role, sizeof(c.role), "%s", role);
    snprintf(c.iss, sizeof(c.iss), "ibx-gateway");
    snprintf(c.aud, sizeof(c.aud), "ibx-internal");
    snprintf(c.typ, sizeof(c.typ), "internal");
    char *tok = NULL;
    assert_int_equal(th_issue(keys, &c, 3600, &tok), 0);
    return tok;
}

static void sql(const char *q)
{
    PGresult *r = PQexec(pg, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQerrorMessage(pg));
    PQclear(r);
}

static long sql_long(const char *q)
{
    PGresult *r = PQexec(pg, q);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
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
    alice = mint(ALICE, "user");
    bob = mint(BOB, "user");
    admin = mint(ADMIN, "admin");
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
        PGresult *r = PQexec(pg, fixtures[i]);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            fprintf(stderr, "fixture %zu: %s", i, PQerrorMessage(pg));
        PQclear(r);
        if (!ok)
            return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    free(alice);
    free(bob);
    free(admin);
    PQfinish(pg);
    auth_keys_free(keys);
    return th_stack_stop(&st) == 0 ? 0 : -1;
}

static long call(const char *method, const char *path, const char *tok, const char *body,
                 struct th_resp *r)
{
    return th_call(sel->url, method, path, tok, body, r);
}

/* "a,b,c": the names of a datasets array, in order. */
static void names_of(const json_t *arr, char *out, size_t len)
{
    size_t used = 0;
    const json_t *d;
    size_t i;
    out[0] = '\0';
    json_array_foreach(arr, i, d)
    {
        used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "",
                                 json_string_value(json_object_get(d, "name")));
    }
}

static double num(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static void assert_near(double got, double want)
{
    if (fabs(got - want) > 1e-8)
        fail_msg("%.9f, expected %.9f", got, want);
}

static void assert_error(const struct th_resp *r, const char *code, const char *in_message)
{
    assert_non_null(r->json);
    assert_string_equal(json_string_value(json_object_get(r->json, "error")), code);
    const char *msg = json_string_value(json_object_get(r->json, "message"));
    assert_non_null(msg);
    if (in_message && !strstr(msg, in_message))
        fail_msg("message '%s' lacks '%s'", msg, in_message);
}

/* ---- GET /datasets: filters ---- */

static const struct {
    const char *who; /* a, b, or admin */
    const char *query;
    const char *names; /* sorted by name */
} filter_cases[] = {
    {"a", "", "empty-meta,iris,wine-quality,zero-bounds"},
    {"b", "", "bob-private,empty-meta,iris,wine-quality,zero-bounds"},
    {"admin", "", "bob-private,empty-meta,iris,wine-quality,zero-bounds"},
    /* a bound of 0 is a real bound (IBIS-X ignored it) */
    {"a", "year_min=0", "iris,wine-quality,zero-bounds"},
    {"a", "instances_max=0", "zero-bounds"},
    {"a", "citations_max=0", "zero-bounds"},
    {"a", "features_min=0&features_max=4", "iris"},
    {"a", "citations_min=10&citations_max=10", "wine-quality"},
    {"a", "features_min=100", "wine-quality,zero-bounds"},
    {"a", "instances_number_min=150", "iris,wine-quality"},
    {"a", "year_min=1900&year_max=2012", "iris,wine-quality"},
    /* lists must all be contained */
    {"a", "domain=education", "iris"},
    {"a", "domain=biology,education", "iris"},
    {"a", "domain=biology&domain=food", ""},
    {"a", "domain[]=Food&domain[]=chemistry", "wine-quality"},
    {"a", "task=classification", "iris,wine-quality"},
    {"a", "task=classification,regression", "wine-quality"},
    {"b", "domain=secret-domain", "bob-private"},
    {"a", "domain=secret-domain", ""},
    /* has_missing_values both ways; null matches neither */
    {"a", "has_missing_values=true", "wine-quality,zero-bounds"},
    {"a", "has_missing_values=false", "iris"},
    /* the other booleans only when true */
    {"a", "split=true", "wine-quality"},
    {"a", "split=false", "empty-meta,iris,wine-quality,zero-bounds"},
    {"a", "is_split=true", "wine-quality"},
    {"a", "is_public=true", "iris,wine-quality"},
    {"a", "is_public=false", "empty-meta,iris,wine-quality,zero-bounds"},
    {"a", "informed_consent=true", "wine-quality"},
    {"a", "informed_consent=false", "empty-meta,iris,wine-quality,zero-bounds"},
    {"a", "transparency=true", "iris"},
    {"a", "is_anonymized=true", "wine-quality"},
    {"a", "anonymization_applied=true", "wine-quality"},
    {"a", "temporal_factors=true", "zero-bounds"},
    {"a", "has_temporal_factors=true", "zero-bounds"},
    {"a", "metadata_provided_with_dataset=true", "iris"},
    {"a", "external_documentation_available=true", "iris"},
    {"a", "accountability_defined=true&equity_non_discrimination=true", "iris"},
    {"a", "access=restricted", "zero-bounds"},
    {"a", "availability=archived", "wine-quality"},
    {"a", "representativity_level=medium", "iris"},
    /* ethical score in percent: iris 70, wine 30, secret 100 */
    {"a", "ethical_score_min=70", "iris"},
    {"a", "ethical_score_min=71", ""},
    {"a", "ethical_score_min=30", "iris,wine-quality"},
    {"a", "ethical_score_min=0", "empty-meta,iris,wine-quality,zero-bounds"},
    {"b", "ethical_score_min=100", "bob-private"},
    /* search: names, display names, objective and column names, any case */
    {"a", "q=petal", "iris"},
    {"a", "q=PETAL_LENGTH", "iris"},
    {"a", "q=flower", "iris"},
    {"a", "q=nothing", "zero-bounds"},
    {"a", "q=quality", "wine-quality"},
    {"a", "name=IRIS", "iris"},
    {"a", "dataset_name=wine", "wine-quality"},
    {"a", "objective=physicochemical", "wine-quality"},
    /* LIKE metacharacters and SQL-looking text are plain text */
    {"a", "name=_", ""},
    {"a", "name=%25", ""},
    {"a", "name=x'%20OR%20'1'='1", ""},
    {"a", "q=');DROP%20TABLE%20selection.datasets;--", ""},
    {"a", "domain=education&task=classification&year_min=0&is_public=true", "iris"},
};

static const char *tok_of(const char *who)
{
    return strcmp(who, "a") == 0 ? alice : strcmp(who, "b") == 0 ? bob : admin;
}

static void test_filters(void **state)
{
    for (size_t i = 0; i < sizeof(filter_cases) / sizeof(filter_cases[0]); i++) {
        char path[512], names[512];
        snprintf(path, sizeof(path), "/api/v1/datasets?sort_by=name&page_size=100%s%s",
                 filter_cases[i].query[0] ? "&" : "", filter_cases[i].query);
        struct th_resp r;
        long status = call("GET", path, tok_of(filter_cases[i].who), NULL, &r);
        if (status != 200)
            fail_msg("case %zu (%s): %ld %s", i, filter_cases[i].query, status, r.body);
        names_of(json_object_get(r.json, "datasets"), names, sizeof(names));
        if (strcmp(names, filter_cases[i].names) != 0)
            fail_msg("case %zu (%s): got [%s], expected [%s]", i, filter_cases[i].query, names,
                     filter_cases[i].names);
        size_t n = json_array_size(json_object_get(r.json, "datasets"));
        assert_int_equal(json_integer_value(json_object_get(r.json, "total_count")), n);
        th_resp_free(&r);
    }
    assert_int_equal(sql_long("SELECT count(*) FROM selection.datasets"), 5);
}

static void test_paging(void **state)
{
    static const struct {
        const char *query;
        const char *names;
        long total, pages;
    } cases[] = {
        {"page_size=3", "empty-meta,iris,wine-quality", 4, 2},
        {"page_size=3&page=2", "zero-bounds", 4, 2},
        {"page_size=3&page=3", "", 4, 2},
        {"page_size=1&page=2&sort_by=year&sort_order=desc", "wine-quality", 4, 4},
        {"page_size=2&sort_by=num_citations&sort_order=desc", "iris,wine-quality", 4, 2},
        {"page_size=2&task=classification", "iris,wine-quality", 2, 1},
        {"", "empty-meta,iris,wine-quality,zero-bounds", 4, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[256], names[256];
        snprintf(path, sizeof(path), "/api/v1/datasets?%s", cases[i].query);
        struct th_resp r;
        assert_int_equal(call("GET", path, alice, NULL, &r), 200);
        names_of(json_object_get(r.json, "datasets"), names, sizeof(names));
        if (strcmp(names, cases[i].names) != 0)
            fail_msg("case %zu: [%s]", i, names);
        assert_int_equal(json_integer_value(json_object_get(r.json, "total_count")),
                         cases[i].total);
        assert_int_equal(json_integer_value(json_object_get(r.json, "total_pages")),
                         cases[i].pages);
        th_resp_free(&r);
    }
    /* list items carry the scores computed in the one place */
    struct th_resp r;
    assert_int_equal(call("GET", "/api/v1/datasets?name=iris", alice, NULL, &r), 200);
    const json_t *iris = json_array_get(json_object_get(r.json, "datasets"), 0);
    assert_near(num(iris, "ethical_score"), 0.7);
    assert_near(num(iris, "technical_score"), 0.568804563);
    assert_int_equal(json_object_size(json_object_get(iris, "criterion_scores")), 12);
    th_resp_free(&r);
}

static void test_bad_queries(void **state)
{
    static const struct {
        const char *query;
        const char *named[2];
    } cases[] = {
        {"colour=red&size=big", {"colour", "size"}},
        {"page=-1", {"page", NULL}},
        {"page=0", {"page", NULL}},
        {"page=abc", {"page", NULL}},
        {"page_size=101", {"page_size", NULL}},
        {"page_size=0", {"page_size", NULL}},
        {"sort_by=colour", {"sort_by", NULL}},
        {"sort_order=sideways", {"sort_order", NULL}},
        {"year_min=abc", {"year_min", NULL}},
        {"year_min=-5", {"year_min", NULL}},
        {"instances_max=1e3", {"instances_max", NULL}},
        {"ethical_score_min=150", {"ethical_score_min", NULL}},
        {"split=yes", {"split", NULL}},
        {"has_missing_values=", {NULL, NULL}}, /* empty: not given, accepted */
        {"access=everyone", {"access", NULL}},
        {"domain=x'%20OR%201=1", {"domain", NULL}},
        {"year_min=1&year_min=2", {"year_min", NULL}},
        {"instances_min=1&instances_number_min=1", {"instances_number_min", NULL}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "/api/v1/datasets?%s", cases[i].query);
        struct th_resp r;
        long status = call("GET", path, alice, NULL, &r);
        if (!cases[i].named[0]) {
            assert_int_equal(status, 200);
            th_resp_free(&r);
            continue;
        }
        if (status != 400)
            fail_msg("case %zu (%s): %ld", i, cases[i].query, status);
        assert_error(&r, "invalid_query", cases[i].named[0]);
        if (cases[i].named[1])
            assert_error(&r, "invalid_query", cases[i].named[1]);
        th_resp_free(&r);
    }
}

static void test_domains_and_tasks(void **state)
{
    struct th_resp r;
    char all[256];
    assert_int_equal(call("GET", "/api/v1/datasets/domains", alice, NULL, &r), 200);
    char *s = json_dumps(json_object_get(r.json, "domains"), JSON_COMPACT);
    assert_string_equal(s, "[\"biology\",\"chemistry\",\"education\",\"finance\",\"food\"]");
    free(s);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/datasets/domains", bob, NULL, &r), 200);
    s = json_dumps(json_object_get(r.json, "domains"), JSON_COMPACT);
    snprintf(all, sizeof(all), "%s", s);
    free(s);
    assert_string_equal(all, "[\"biology\",\"chemistry\",\"education\",\"finance\",\"food\","
                             "\"secret-domain\"]");
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/datasets/tasks", alice, NULL, &r), 200);
    s = json_dumps(json_object_get(r.json, "tasks"), JSON_COMPACT);
    assert_string_equal(s, "[\"classification\",\"regression\"]");
    free(s);
    th_resp_free(&r);
}

/* ---- GET /datasets/{id} ---- */

static void test_detail(void **state)
{
    struct th_resp r;
    assert_int_equal(call("GET", "/api/v1/datasets/" IRIS, alice, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "name")), "iris");
    assert_string_equal(json_string_value(json_object_get(r.json, "license")), "CC BY 4.0");
    assert_true(json_is_true(json_object_get(r.json, "can_edit")));
    /* ethical 7/10; technical 0.568804563 (see test_score); popularity log10(1000)/3 = 1 */
    assert_near(num(r.json, "ethical_score"), 0.7);
    assert_near(num(r.json, "technical_score"), 0.568804563);
    assert_near(num(r.json, "popularity_score"), 1);
    const json_t *cs = json_object_get(r.json, "criterion_scores");
    assert_int_equal(json_object_size(cs), 12);
    assert_near(num(cs, "instances_count"), 0.435218252); /* log10(150)/5 */
    assert_near(num(cs, "features_count"), 0.04);         /* 4/100 */
    const json_t *files = json_object_get(r.json, "files");
    assert_int_equal(json_array_size(files), 1);
    const json_t *f = json_array_get(files, 0);
    assert_string_equal(json_string_value(json_object_get(f, "original_filename")), "iris.csv");
    const json_t *cols = json_object_get(f, "columns");
    assert_int_equal(json_array_size(cols), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 0), "name")),
                        "petal_length");
    th_resp_free(&r);
    /* someone else's public dataset: visible, not editable */
    assert_int_equal(call("GET", "/api/v1/datasets/" IRIS, bob, NULL, &r), 200);
    assert_true(json_is_false(json_object_get(r.json, "can_edit")));
    th_resp_free(&r);
    /* a private dataset: its owner and admins only */
    assert_int_equal(call("GET", "/api/v1/datasets/" SECRET, alice, NULL, &r), 404);
    assert_error(&r, "not_found", NULL);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/datasets/" SECRET, bob, NULL, &r), 200);
    assert_near(num(r.json, "ethical_score"), 1);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/datasets/" SECRET, admin, NULL, &r), 200);
    th_resp_free(&r);
    assert_int_equal(
        call("GET", "/api/v1/datasets/99999999-0000-4000-8000-000000000009", alice, NULL, &r), 404);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/datasets/not-a-uuid", alice, NULL, &r), 400);
    assert_error(&r, "invalid_id", NULL);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/datasets/1'%20OR%20'1'='1", alice, NULL, &r), 400);
    th_resp_free(&r);
}

/* ---- POST /datasets/score ---- */

/* Default weights (0.4 ethical, 0.4 technical, 0.2 popularity):
 * iris:  0.4*0.7 + 0.4*0.568804563 + 0.2*1 = 0.707521825, where technical = (0.15 + 0.15 +
 *        0.20 + 0 + 0.15*(log10(150)-2)/3 + 0.15*4/10) / 1.0
 * wine:  0.4*0.3 + 0.4*0.785294118 + 0.2*(1/3) = 0.500784314, technical = (0 + 0.20*0.875 +
 *        0.20 + 0.15 + 0.15*0.95) / 0.85 (external docs unknown)
 * zero:  0.4*0 + 0.4*0.15 + 0 = 0.06, technical = (0 + 0 + 0.15*0.5) / 0.5
 * empty: 0 (nothing known; technical has no component) */
static const struct {
    const char *body;
    const char *names;
    double scores[4];
} score_cases[] = {
    {"{}", "iris,wine-quality,zero-bounds,empty-meta", {0.707521825, 0.500784314, 0.06, 0}},
    {"{\"weights\": []}",
     "iris,wine-quality,zero-bounds,empty-meta",
     {0.707521825, 0.500784314, 0.06, 0}},
    /* data_quality: iris 1, wine 0.875, zero 0.5 (extent unknown), empty 1 (null); ties by
     * name */
    {"{\"weights\": [{\"criterion_name\": \"data_quality\", \"weight\": 1}]}",
     "empty-meta,iris,wine-quality,zero-bounds",
     {1, 1, 0.875, 0.5}},
    /* year: zero clamp(30/24) = 1, wine 12/24, iris and empty 0 */
    {"{\"weights\": [{\"criterion_name\": \"year\", \"weight\": 0.3}]}",
     "zero-bounds,wine-quality,empty-meta,iris",
     {1, 0.5, 0, 0}},
    /* (anonymization*0.5 + features_count*0.25) / 0.75: wine (0.5 + 0.25)/0.75 = 1,
     * zero (0 + 0.25)/0.75, iris (0 + 0.04*0.25)/0.75, empty 0 */
    {"{\"weights\": [{\"criterion_name\": \"anonymization\", \"weight\": 0.5}, "
     "{\"criterion_name\": \"features_count\", \"weight\": 0.25}]}",
     "wine-quality,zero-bounds,iris,empty-meta",
     {1, 0.333333333, 0.013333333, 0}},
    /* all weights zero: the defaults */
    {"{\"weights\": [{\"criterion_name\": \"year\", \"weight\": 0}]}",
     "iris,wine-quality,zero-bounds,empty-meta",
     {0.707521825, 0.500784314, 0.06, 0}},
    /* filters narrow the candidates */
    {"{\"filters\": {\"domain\": [\"education\"]}, \"weights\": [{\"criterion_name\": "
     "\"citations\", \"weight\": 1}]}",
     "iris",
     {1}},
    {"{\"filters\": {\"year_min\": 0, \"has_missing_values\": true}}",
     "wine-quality,zero-bounds",
     {0.500784314, 0.06}},
    {"{\"filters\": {\"name\": \"x' OR '1'='1\"}}", "", {0}},
};

static void test_score(void **state)
{
    for (size_t i = 0; i < sizeof(score_cases) / sizeof(score_cases[0]); i++) {
        struct th_resp r;
        char names[256];
        long status = call("POST", "/api/v1/datasets/score", alice, score_cases[i].body, &r);
        if (status != 200)
            fail_msg("case %zu: %ld %s", i, status, r.body);
        const json_t *ds = json_object_get(r.json, "datasets"), *d;
        names_of(ds, names, sizeof(names));
        if (strcmp(names, score_cases[i].names) != 0)
            fail_msg("case %zu: [%s]", i, names);
        assert_int_equal(json_integer_value(json_object_get(r.json, "total_count")),
                         json_array_size(ds));
        size_t k;
        json_array_foreach(ds, k, d)
        {
            assert_near(num(d, "score"), score_cases[i].scores[k]);
            assert_int_equal(json_object_size(json_object_get(d, "criterion_scores")), 12);
        }
        th_resp_free(&r);
    }
    /* bob also sees his private dataset, every flag true: ethical 1 */
    struct th_resp r;
    assert_int_equal(call("POST", "/api/v1/datasets/score", bob,
                          "{\"weights\": [{\"criterion_name\": \"ethical_score\", \"weight\": 1}]}",
                          &r),
                     200);
    const json_t *first = json_array_get(json_object_get(r.json, "datasets"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "name")), "bob-private");
    assert_near(num(first, "score"), 1);
    th_resp_free(&r);
}

static void test_score_refused(void **state)
{
    static const struct {
        const char *body;
        long status;
        const char *named;
    } cases[] = {
        {"{\"weights\": [{\"criterion_name\": \"beauty\", \"weight\": 0.5}]}", 422, "beauty"},
        {"{\"weights\": [{\"criterion_name\": \"year\", \"weight\": \"0.5\"}]}", 422, "weight"},
        {"{\"weights\": [{\"criterion_name\": \"year\", \"weight\": 2}]}", 422, "weight"},
        {"{\"weights\": [{\"criterion_name\": \"year\", \"weight\": null}]}", 422, "weight"},
        {"{\"weights\": \"ethical\"}", 422, "weights"},
        {"{\"filters\": {\"colour\": \"red\"}}", 422, "colour"},
        {"{\"filters\": {\"year_min\": \"2000\"}}", 422, "year_min"},
        {"{\"filters\": [], \"weights\": []}", 422, "filters"},
        {"{\"sort\": \"score\"}", 422, "sort"},
        {"[1, 2]", 422, NULL},
        {"{not json", 400, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct th_resp r;
        long status = call("POST", "/api/v1/datasets/score", alice, cases[i].body, &r);
        if (status != cases[i].status)
            fail_msg("case %zu: %ld %s", i, status, r.body);
        if (cases[i].named)
            assert_error(&r, "validation_failed", cases[i].named);
        th_resp_free(&r);
    }
}

/* ---- similar, completion, Croissant ---- */

static void test_similar(void **state)
{
    struct th_resp r;
    /* alice: wine shares a task (priority 3); zero and empty share nothing (5, newest first);
     * bob's private dataset is not hers to see */
    assert_int_equal(call("GET", "/api/v1/datasets/" IRIS "/similar", alice, NULL, &r), 200);
    char names[256];
    names_of(json_object_get(r.json, "similar_datasets"), names, sizeof(names));
    assert_string_equal(names, "wine-quality,empty-meta,zero-bounds");
    const json_t *why = json_object_get(r.json, "similarity_explanation");
    assert_string_equal(json_string_value(json_object_get(why, WINE)),
                        "shared tasks: classification");
    assert_string_equal(json_string_value(json_object_get(why, EMPTY)), "recently added");
    th_resp_free(&r);
    /* bob: his dataset shares a domain and the task, and 100 vs 150 rows is similar */
    assert_int_equal(call("GET", "/api/v1/datasets/" IRIS "/similar?limit=2", bob, NULL, &r), 200);
    names_of(json_object_get(r.json, "similar_datasets"), names, sizeof(names));
    assert_string_equal(names, "bob-private,wine-quality");
    const json_t *first = json_array_get(json_object_get(r.json, "similar_datasets"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "similarity_explanation")),
                        "shared domains: education; shared tasks: classification; similar size");
    assert_null(json_object_get(first, "priority"));
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/datasets/" IRIS "/similar?limit=1", bob, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "similar_datasets")), 1);
    th_resp_free(&r);
    const char *bad[] = {"limit=0", "limit=51", "limit=two", "limit=-1"};
    for (size_t i = 0; i < 4; i++) {
        char path[160];
        snprintf(path, sizeof(path), "/api/v1/datasets/" IRIS "/similar?%s", bad[i]);
        assert_int_equal(call("GET", path, alice, NULL, &r), 400);
        assert_error(&r, "invalid_query", "limit");
        th_resp_free(&r);
    }
    assert_int_equal(call("GET", "/api/v1/datasets/" SECRET "/similar", alice, NULL, &r), 404);
    th_resp_free(&r);
}

static void test_completion(void **state)
{
    struct th_resp r;
    /* iris: the 11 required fields are set; transparency = true looks like a default and
     * counts 0.5: 10.5 / 11 = 95.45 -> 95.5 */
    assert_int_equal(call("GET", "/api/v1/datasets/" IRIS "/completion", alice, NULL, &r), 200);
    assert_near(num(r.json, "overall_completion"), 95.5);
    assert_int_equal(json_array_size(json_object_get(r.json, "missing_fields")), 0);
    assert_int_equal(json_array_size(json_object_get(r.json, "complete_fields")), 10);
    /* transparency, representativity_level medium, sample_balance_level balanced */
    assert_int_equal(json_array_size(json_object_get(r.json, "default_values")), 3);
    /* consent, anonymization and equity are set: all three need review */
    const json_t *review = json_object_get(r.json, "needs_review");
    assert_int_equal(json_array_size(review), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(review, 0), "field")),
                        "informed_consent");
    th_resp_free(&r);
    /* empty: only the name: 1 / 11 = 9.09 -> 9.1 */
    assert_int_equal(call("GET", "/api/v1/datasets/" EMPTY "/completion", alice, NULL, &r), 200);
    assert_near(num(r.json, "overall_completion"), 9.1);
    const json_t *missing = json_object_get(r.json, "missing_fields");
    assert_int_equal(json_array_size(missing), 10);
    assert_string_equal(json_string_value(json_object_get(json_array_get(missing, 0), "category")),
                        "ethical");
    assert_int_equal(json_array_size(json_object_get(r.json, "needs_review")), 0);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/datasets/" SECRET "/completion", alice, NULL, &r), 404);
    th_resp_free(&r);
}

static void test_croissant(void **state)
{
    struct th_resp r;
    char ct[128];
    assert_int_equal(call("GET", "/api/v1/datasets/" IRIS "/croissant", alice, NULL, &r), 200);
    assert_int_equal(th_resp_header(&r, "Content-Type", ct, sizeof(ct)), 0);
    assert_string_equal(ct, "application/ld+json");
    const json_t *doc = r.json, *ctx = json_object_get(doc, "@context");
    assert_string_equal(json_string_value(json_object_get(ctx, "cr")),
                        "http://mlcommons.org/croissant/");
    assert_string_equal(json_string_value(json_object_get(ctx, "rai")),
                        "http://mlcommons.org/croissant/RAI/");
    assert_string_equal(json_string_value(json_object_get(doc, "@type")), "sc:Dataset");
    assert_string_equal(json_string_value(json_object_get(doc, "conformsTo")),
                        "http://mlcommons.org/croissant/1.0");
    assert_string_equal(json_string_value(json_object_get(doc, "name")), "Iris");
    assert_string_equal(json_string_value(json_object_get(doc, "license")), "CC BY 4.0");
    assert_string_equal(json_string_value(json_object_get(doc, "datePublished")), "1936");
    const json_t *fo = json_array_get(json_object_get(doc, "distribution"), 0);
    assert_string_equal(json_string_value(json_object_get(fo, "@type")), "cr:FileObject");
    assert_string_equal(json_string_value(json_object_get(fo, "contentUrl")),
                        "/api/v1/datasets/" IRIS "/files/" IRIS_FILE "/download");
    assert_string_equal(json_string_value(json_object_get(fo, "encodingFormat")), "text/csv");
    assert_int_equal(strlen(json_string_value(json_object_get(fo, "sha256"))), 64);
    const json_t *fields =
        json_object_get(json_array_get(json_object_get(doc, "recordSet"), 0), "field");
    assert_int_equal(json_array_size(fields), 2);
    const json_t *f0 = json_array_get(fields, 0), *f1 = json_array_get(fields, 1);
    assert_string_equal(json_string_value(json_object_get(f0, "@type")), "cr:Field");
    assert_string_equal(json_string_value(json_object_get(f0, "dataType")), "sc:Float");
    assert_string_equal(json_string_value(json_object_get(f1, "dataType")), "sc:Text");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(f0, "source"), "fileObject"), "@id")),
                        IRIS_FILE);
    assert_string_equal(json_string_value(json_object_get(doc, "rai:dataCollection")), "UCI");
    assert_non_null(strstr(json_string_value(json_object_get(doc, "rai:dataBiases")),
                           "Representativity: medium"));
    assert_string_equal(json_string_value(json_object_get(doc, "rai:personalSensitiveInformation")),
                        "The data was not anonymized.");
    assert_string_equal(json_string_value(json_object_get(doc, "rai:dataCollectionMissingData")),
                        "No values are missing.");
    assert_int_equal(json_array_size(json_object_get(doc, "additionalProperty")), 10);
    th_resp_free(&r);
    /* nothing known: nothing invented */
    assert_int_equal(call("GET", "/api/v1/datasets/" EMPTY "/croissant", alice, NULL, &r), 200);
    const char *absent[] = {"license", "description",        "citeAs",  "datePublished",
                            "url",     "additionalProperty", "keywords"};
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        assert_null(json_object_get(r.json, absent[i]));
    const char *key;
    const json_t *v;
    json_object_foreach(r.json, key, v)
    {
        if (strncmp(key, "rai:", 4) == 0)
            fail_msg("%s invented", key);
    }
    assert_int_equal(json_array_size(json_object_get(r.json, "distribution")), 0);
    th_resp_free(&r);
}

/* ---- PATCH and DELETE ---- */

static void test_patch(void **state)
{
    struct th_resp r;
    /* the owner: consent becomes true, 8 of 10 flags */
    assert_int_equal(call("PATCH", "/api/v1/datasets/" IRIS, alice,
                          "{\"year\": 1937, \"informed_consent\": true, \"domain\": [\"biology\"]}",
                          &r),
                     200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "year")), 1937);
    assert_near(num(r.json, "ethical_score"), 0.8);
    th_resp_free(&r);
    /* null means unknown again */
    assert_int_equal(call("PATCH", "/api/v1/datasets/" IRIS, alice,
                          "{\"informed_consent\": null, \"year\": 1936, \"domain\": [\"biology\", "
                          "\"education\"]}",
                          &r),
                     200);
    assert_true(json_is_null(json_object_get(r.json, "informed_consent")));
    assert_near(num(r.json, "ethical_score"), 0.7);
    th_resp_free(&r);
    assert_int_equal(
        call("PATCH", "/api/v1/datasets/" IRIS, alice, "{\"informed_consent\": false}", &r), 200);
    th_resp_free(&r);
    static const struct {
        const char *body;
        const char *named;
    } bad[] = {
        {"{\"colour\": \"red\"}", "colour"},
        {"{\"year\": \"1936\"}", "year"},
        {"{\"year\": 1700}", "year"},
        {"{\"access\": \"secret\"}", "access"},
        {"{\"availability\": \"always\"}", "availability"},
        {"{\"representativity_level\": \"excellent\"}", "representativity_level"},
        {"{\"sample_balance_level\": \"perfect\"}", "sample_balance_level"},
        {"{\"informed_consent\": \"yes\"}", "informed_consent"},
        {"{\"transparency\": 1}", "transparency"},
        {"{\"name\": \"Not A Slug\"}", "name"},
        {"{\"name\": null}", "name"},
        {"{\"domain\": [\"x' OR 1=1\"]}", "domain"},
        {"{\"instances_number\": 5}", "instances_number"},
        {"{\"display_name\": \"\"}", "display_name"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long status = call("PATCH", "/api/v1/datasets/" IRIS, alice, bad[i].body, &r);
        if (status != 422)
            fail_msg("case %zu: %ld %s", i, status, r.body);
        assert_error(&r, "validation_failed", bad[i].named);
        th_resp_free(&r);
    }
    /* a taken name */
    assert_int_equal(
        call("PATCH", "/api/v1/datasets/" IRIS, alice, "{\"name\": \"wine-quality\"}", &r), 409);
    th_resp_free(&r);
    /* another user's dataset: visible -> 403, private -> 404; admins may */
    assert_int_equal(call("PATCH", "/api/v1/datasets/" IRIS, bob, "{\"year\": 2000}", &r), 403);
    assert_error(&r, "forbidden", NULL);
    th_resp_free(&r);
    assert_int_equal(call("PATCH", "/api/v1/datasets/" SECRET, alice, "{\"year\": 2001}", &r), 404);
    th_resp_free(&r);
    assert_int_equal(call("PATCH", "/api/v1/datasets/" SECRET, admin, "{\"year\": 2001}", &r), 200);
    th_resp_free(&r);
    assert_int_equal(sql_long("SELECT year FROM selection.datasets WHERE id = '" IRIS "'"), 1936);
    assert_int_equal(sql_long("SELECT year FROM selection.datasets WHERE id = '" SECRET "'"), 2001);
    assert_int_equal(call("PATCH", "/api/v1/datasets/nope", alice, "{}", &r), 400);
    th_resp_free(&r);
}

/* Two datasets whose first files share the same content (one blob). */
static void insert_sharing(void)
{
    static const char *const q[] = {
        "INSERT INTO selection.datasets (id, owner_id, name, display_name, access) VALUES "
        "('cccccccc-0000-4000-8000-000000000001', '" ALICE "', 'share-one', 'One', 'public'), "
        "('cccccccc-0000-4000-8000-000000000002', '" ALICE "', 'share-two', 'Two', 'public')",
        "INSERT INTO selection.blobs (sha256, size, media_type) VALUES "
        "(encode(sha256('shared'), 'hex'), 6, 'text/csv'), "
        "(encode(sha256('one-columnar'), 'hex'), 12, 'application/octet-stream'), "
        "(encode(sha256('two-columnar'), 'hex'), 12, 'application/octet-stream')",
        "INSERT INTO selection.blob_chunks (sha256, seq, data) VALUES "
        "(encode(sha256('shared'), 'hex'), 0, 'shared'), "
        "(encode(sha256('one-columnar'), 'hex'), 0, 'one-columnar'), "
        "(encode(sha256('two-columnar'), 'hex'), 0, 'two-columnar')",
        "INSERT INTO selection.dataset_files (id, dataset_id, position, original_filename, "
        "format, media_type, size_bytes, row_count, column_count, blob_id, columnar_blob_id) "
        "VALUES (gen_random_uuid(), 'cccccccc-0000-4000-8000-000000000001', 0, 'a.csv', 'csv', "
        "'text/csv', 6, 1, 1, encode(sha256('shared'), 'hex'), encode(sha256('one-columnar'), "
        "'hex')), (gen_random_uuid(), 'cccccccc-0000-4000-8000-000000000002', 0, 'a.csv', "
        "'csv', 'text/csv', 6, 1, 1, encode(sha256('shared'), 'hex'), "
        "encode(sha256('two-columnar'), 'hex'))",
    };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++)
        sql(q[i]);
}

static long blob_count(const char *content)
{
    char q[256];
    snprintf(q, sizeof(q),
             "SELECT count(*) FROM selection.blobs WHERE sha256 = encode(sha256('%s'), 'hex')",
             content);
    return sql_long(q);
}

static void test_delete(void **state)
{
    struct th_resp r;
    insert_sharing();
    assert_int_equal(
        call("DELETE", "/api/v1/datasets/cccccccc-0000-4000-8000-000000000001", bob, NULL, &r),
        403);
    th_resp_free(&r);
    assert_int_equal(call("DELETE", "/api/v1/datasets/" SECRET, alice, NULL, &r), 404);
    th_resp_free(&r);
    assert_int_equal(
        call("DELETE", "/api/v1/datasets/cccccccc-0000-4000-8000-000000000001", alice, NULL, &r),
        200);
    th_resp_free(&r);
    /* the row and its file are gone; the shared content stays for share-two */
    assert_int_equal(sql_long("SELECT count(*) FROM selection.datasets WHERE name = 'share-one'"),
                     0);
    assert_int_equal(sql_long("SELECT count(*) FROM selection.dataset_files WHERE dataset_id = "
                              "'cccccccc-0000-4000-8000-000000000001'"),
                     0);
    assert_int_equal(blob_count("shared"), 1);
    assert_int_equal(blob_count("one-columnar"), 0);
    assert_int_equal(blob_count("two-columnar"), 1);
    assert_int_equal(
        call("DELETE", "/api/v1/datasets/cccccccc-0000-4000-8000-000000000001", alice, NULL, &r),
        404);
    th_resp_free(&r);
    /* an admin may delete anyone's; the last user of the content takes it along */
    assert_int_equal(
        call("DELETE", "/api/v1/datasets/cccccccc-0000-4000-8000-000000000002", admin, NULL, &r),
        200);
    th_resp_free(&r);
    assert_int_equal(blob_count("shared"), 0);
    assert_int_equal(blob_count("two-columnar"), 0);
    assert_int_equal(sql_long("SELECT count(*) FROM selection.blob_chunks WHERE sha256 = "
                              "encode(sha256('shared'), 'hex')"),
                     0);
    /* the others are untouched */
    assert_int_equal(sql_long("SELECT count(*) FROM selection.datasets"), 5);
    assert_int_equal(blob_count("iris-original"), 1);
    assert_int_equal(call("DELETE", "/api/v1/datasets/x", alice, NULL, &r), 400);
    th_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters),       cmocka_unit_test(test_paging),
        cmocka_unit_test(test_bad_queries),   cmocka_unit_test(test_domains_and_tasks),
        cmocka_unit_test(test_detail),        cmocka_unit_test(test_score),
        cmocka_unit_test(test_score_refused), cmocka_unit_test(test_similar),
        cmocka_unit_test(test_completion),    cmocka_unit_test(test_croissant),
        cmocka_unit_test(test_patch),         cmocka_unit_test(test_delete),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
