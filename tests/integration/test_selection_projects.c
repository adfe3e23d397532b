/* test_selection_projects: projects of a real selection service (CRUD, paging, another
 * user's project is a 404, validation, weight normalisation), recommendations with
 * hand-computed scores, the admin ethical templates, and the data rights (export and
 * erasure through user.deleted). */
#include "th_stack.h"
#include "th_tokens.h"

#include <ibx/auth.h>
#include <ibx/bus.h>
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
#include <time.h>

#include <cmocka.h>

#define ALICE "11111111-1111-4111-8111-111111111111"
#define BOB   "22222222-2222-4222-8222-222222222222"
#define CAROL "44444444-4444-4444-8444-444444444444"
#define ADMIN "33333333-3333-4333-8333-333333333333"

static struct th_stack st;
static struct th_svc *sel;
static struct auth_keys *keys;
static PGconn *pg;
static char *alice, *bob, *carol, *admin;

/* alpha (alice): anonymized, no missing values, 20 features, classification
 * beta  (alice): 40 % missing, classification
 * gamma (alice): anonymized, missing values unknown, regression
 * delta (bob, private): anonymized, no missing values, classification
 * alpha has a file whose content is stored (for the erasure test). */
static const char *const fixtures[] = {
    "INSERT INTO selection.datasets (id, owner_id, name, display_name, access, task, "
    "anonymization_applied, has_missing_values, global_missing_percentage, features_number) "
    "VALUES ('dddddddd-0000-4000-8000-000000000001', '" ALICE "', 'alpha', 'Alpha', 'public', "
    "'{classification}', true, false, 0, 20), ('dddddddd-0000-4000-8000-000000000002', "
    "'" ALICE "', 'beta', 'Beta', 'public', '{classification}', false, true, 40, NULL), "
    "('dddddddd-0000-4000-8000-000000000003', '" ALICE "', 'gamma', 'Gamma', 'public', "
    "'{regression}', true, NULL, NULL, NULL), ('dddddddd-0000-4000-8000-000000000004', "
    "'" BOB "', 'delta', 'Delta', 'private', '{classification}', true, false, 0, NULL)",
    "INSERT INTO selection.blobs (sha256, size, media_type) VALUES "
    "(encode(sha256('alpha'), 'hex'), 5, 'text/csv'), "
    "(encode(sha256('alpha-columnar'), 'hex'), 14, 'application/octet-stream')",
    "INSERT INTO selection.blob_chunks (sha256, seq, data) VALUES "
    "(encode(sha256('alpha'), 'hex'), 0, 'alpha'), "
    "(encode(sha256('alpha-columnar'), 'hex'), 0, 'alpha-columnar')",
    "INSERT INTO selection.dataset_files (id, dataset_id, position, original_filename, format, "
    "media_type, size_bytes, row_count, column_count, blob_id, columnar_blob_id) VALUES "
    "(gen_random_uuid(), 'dddddddd-0000-4000-8000-000000000001', 0, 'alpha.csv', 'csv', "
    "'text/csv', 5, 1, 1, encode(sha256('alpha'), 'hex'), encode(sha256('alpha-columnar'), "
    "'hex'))",
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
    carol = mint(CAROL, "user");
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
    free(carol);
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

static void assert_near(double got, double want)
{
    if (fabs(got - want) > 1e-8)
        fail_msg("%.9f, expected %.9f", got, want);
}

static void assert_json(const json_t *v, const char *want)
{
    json_t *w = json_loads(want, 0, NULL);
    assert_non_null(w);
    if (!json_equal(v, w)) {
        char *got = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);
        fail_msg("got %s, expected %s", got, want);
    }
    json_decref(w);
}

/* Create a project; its id goes into id. */
static void create(const char *tok, const char *body, char id[64])
{
    struct th_resp r;
    long status = call("POST", "/api/v1/projects", tok, body, &r);
    if (status != 201)
        fail_msg("create: %ld %s", status, r.body);
    snprintf(id, 64, "%s", json_string_value(json_object_get(r.json, "id")));
    assert_true(ids_is_uuid(id));
    th_resp_free(&r);
}

static void test_project_crud(void **state)
{
    struct th_resp r;
    char id[64], path[128];
    assert_int_equal(call("POST", "/api/v1/projects", alice,
                          "{\"name\": \"Thesis\", \"description\": \"datasets for my thesis\", "
                          "\"criteria\": {\"task\": \"Classification\", \"instances_number_min\": "
                          "0}, \"weights\": [{\"criterion_name\": \"ethical_score\", \"weight\": "
                          "0.6}, {\"criterion_name\": \"technical_score\", \"weight\": 0.6}]}",
                          &r),
                     201);
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(r.json, "id")));
    assert_string_equal(json_string_value(json_object_get(r.json, "user_id")), ALICE);
    assert_string_equal(json_string_value(json_object_get(r.json, "name")), "Thesis");
    /* criteria in canonical form; weights summing to 1.2 divided by 1.2 */
    assert_json(json_object_get(r.json, "criteria"),
                "{\"task\": [\"classification\"], \"instances_min\": 0}");
    assert_json(json_object_get(r.json, "weights"),
                "[{\"criterion_name\": \"ethical_score\", \"weight\": 0.5}, "
                "{\"criterion_name\": \"technical_score\", \"weight\": 0.5}]");
    assert_non_null(json_object_get(r.json, "created_at"));
    th_resp_free(&r);

    snprintf(path, sizeof(path), "/api/v1/projects/%s", id);
    assert_int_equal(call("GET", path, alice, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "description")),
                        "datasets for my thesis");
    th_resp_free(&r);
    /* a partial update keeps the rest */
    assert_int_equal(call("PATCH", path, alice, "{\"name\": \"Thesis v2\"}", &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "name")), "Thesis v2");
    assert_json(json_object_get(r.json, "criteria"),
                "{\"task\": [\"classification\"], \"instances_min\": 0}");
    th_resp_free(&r);
    assert_int_equal(call("PATCH", path, alice,
                          "{\"weights\": [{\"criterion_name\": \"year\", \"weight\": 0.3}], "
                          "\"criteria\": null, \"description\": null}",
                          &r),
                     200);
    assert_json(json_object_get(r.json, "weights"),
                "[{\"criterion_name\": \"year\", \"weight\": 0.3}]");
    assert_json(json_object_get(r.json, "criteria"), "{}");
    assert_true(json_is_null(json_object_get(r.json, "description")));
    assert_string_equal(json_string_value(json_object_get(r.json, "name")), "Thesis v2");
    th_resp_free(&r);
    assert_int_equal(call("DELETE", path, alice, NULL, &r), 200);
    th_resp_free(&r);
    assert_int_equal(call("GET", path, alice, NULL, &r), 404);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "not_found");
    th_resp_free(&r);
    assert_int_equal(call("DELETE", path, alice, NULL, &r), 404);
    th_resp_free(&r);
}

static void test_project_paging(void **state)
{
    char id[64];
    create(carol, "{\"name\": \"one\"}", id);
    create(carol, "{\"name\": \"two\"}", id);
    create(carol, "{\"name\": \"three\"}", id);
    static const struct {
        const char *query;
        long status, items, total, pages;
    } cases[] = {
        {"", 200, 3, 3, 1},
        {"?page_size=2", 200, 2, 3, 2},
        {"?page_size=2&page=2", 200, 1, 3, 2},
        {"?page_size=2&page=3", 200, 0, 3, 2},
        {"?page=-1", 400, 0, 0, 0},
        {"?page=0", 400, 0, 0, 0},
        {"?page_size=0", 400, 0, 0, 0},
        {"?page_size=101", 400, 0, 0, 0},
        {"?page=x", 400, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[96];
        struct th_resp r;
        snprintf(path, sizeof(path), "/api/v1/projects%s", cases[i].query);
        assert_int_equal(call("GET", path, carol, NULL, &r), cases[i].status);
        if (cases[i].status == 200) {
            assert_int_equal(json_array_size(json_object_get(r.json, "projects")), cases[i].items);
            assert_int_equal(json_integer_value(json_object_get(r.json, "total_count")),
                             cases[i].total);
            assert_int_equal(json_integer_value(json_object_get(r.json, "total_pages")),
                             cases[i].pages);
            assert_int_equal(json_integer_value(json_object_get(r.json, "page_size")),
                             strstr(cases[i].query, "page_size=2") ? 2 : 12);
        } else {
            assert_string_equal(json_string_value(json_object_get(r.json, "error")),
                                "invalid_query");
        }
        th_resp_free(&r);
    }
    /* nobody else's projects in the list */
    struct th_resp r;
    assert_int_equal(call("GET", "/api/v1/projects", admin, NULL, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total_count")), 0);
    th_resp_free(&r);
}

static void test_project_isolation(void **state)
{
    char id[64], path[160];
    create(alice, "{\"name\": \"mine\"}", id);
    static const struct {
        const char *method, *suffix, *body;
    } cases[] = {
        {"GET", "", NULL},
        {"PATCH", "", "{\"name\": \"stolen\"}"},
        {"DELETE", "", NULL},
        {"GET", "/recommendations", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct th_resp r;
        snprintf(path, sizeof(path), "/api/v1/projects/%s%s", id, cases[i].suffix);
        assert_int_equal(call(cases[i].method, path, bob, cases[i].body, &r), 404);
        assert_string_equal(json_string_value(json_object_get(r.json, "error")), "not_found");
        th_resp_free(&r);
        /* admins do not see into users' projects either */
        assert_int_equal(call(cases[i].method, path, admin, cases[i].body, &r), 404);
        th_resp_free(&r);
    }
    struct th_resp r;
    snprintf(path, sizeof(path), "/api/v1/projects/%s", id);
    assert_int_equal(call("GET", path, alice, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "name")), "mine");
    th_resp_free(&r);
    const char *bad_ids[] = {"/api/v1/projects/nope", "/api/v1/projects/1'%20OR%20'1'='1",
                             "/api/v1/projects/nope/recommendations"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(call("GET", bad_ids[i], alice, NULL, &r), 400);
        th_resp_free(&r);
    }
}

static void test_project_invalid(void **state)
{
    static char long_name[400];
    memset(long_name, 0, sizeof(long_name));
    snprintf(long_name, sizeof(long_name), "{\"name\": \"%0256d\"}", 0);
    static const struct {
        const char *body;
        const char *named;
    } cases[] = {
        {"{}", "name"},
        {"{\"name\": \"\"}", "name"},
        {"{\"name\": \"   \"}", "name"},
        {"{\"name\": 5}", "name"},
        {"{\"name\": null}", "name"},
        {long_name, "name"},
        {"{\"name\": \"x\", \"colour\": 1}", "colour"},
        {"{\"name\": \"x\", \"description\": 7}", "description"},
        {"{\"name\": \"x\", \"criteria\": {\"colour\": \"red\"}}", "colour"},
        {"{\"name\": \"x\", \"criteria\": {\"year_min\": \"2000\"}}", "year_min"},
        {"{\"name\": \"x\", \"criteria\": [\"domain\"]}", "criteria"},
        {"{\"name\": \"x\", \"weights\": [{\"criterion_name\": \"beauty\", \"weight\": 0.5}]}",
         "beauty"},
        {"{\"name\": \"x\", \"weights\": [{\"criterion_name\": \"year\", \"weight\": \"high\"}]}",
         "weight"},
        {"{\"name\": \"x\", \"weights\": [{\"criterion_name\": \"year\", \"weight\": 1.2}]}",
         "weight"},
        {"{\"name\": \"x\", \"weights\": {\"year\": 0.5}}", "weights"},
    };
    long before = sql_long("SELECT count(*) FROM selection.projects");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct th_resp r;
        long status = call("POST", "/api/v1/projects", alice, cases[i].body, &r);
        if (status != 422)
            fail_msg("case %zu: %ld %s", i, status, r.body);
        assert_string_equal(json_string_value(json_object_get(r.json, "error")),
                            "validation_failed");
        if (!strstr(json_string_value(json_object_get(r.json, "message")), cases[i].named))
            fail_msg("case %zu: message %s", i, r.body);
        th_resp_free(&r);
    }
    assert_int_equal(sql_long("SELECT count(*) FROM selection.projects"), before);
    /* PATCH validates the same way and changes nothing */
    char id[64], path[128];
    create(alice, "{\"name\": \"keep\"}", id);
    snprintf(path, sizeof(path), "/api/v1/projects/%s", id);
    struct th_resp r;
    assert_int_equal(call("PATCH", path, alice, "{\"name\": \"\", \"weights\": 3}", &r), 422);
    th_resp_free(&r);
    assert_int_equal(call("GET", path, alice, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "name")), "keep");
    th_resp_free(&r);
}

/* Recommendations. With criteria task = classification and weights anonymization 0.6 +
 * data_quality 0.6 (stored as 0.5 + 0.5):
 *   alpha: (1*0.5 + 1*0.5) / 1 = 1          (anonymized, no missing values)
 *   beta:  (0*0.5 + 0.6*0.5) / 1 = 0.3      (not anonymized, (100-40)/100)
 *   delta (bob's, private) only for bob: (1 + 1) / 2 = 1, after alpha by name.
 * With no criteria and no weights (defaults 0.4 ethical, 0.4 technical, 0.2 popularity):
 *   alpha: ethical 1/10; technical: no missing 0.20/0.20 + 20 features 0.15/0.15 = 1 ->
 *          0.4*0.1 + 0.4*1 = 0.44
 *   beta:  ethical 0; technical 0.20*0.6 / 0.20 = 0.6 -> 0.24
 *   gamma: ethical 0.1; technical: nothing known -> 0 -> 0.04 */
static void test_recommendations(void **state)
{
    static const struct {
        const char *who;
        const char *body;
        const char *names[4];
        double scores[4];
    } cases[] = {
        {"a",
         "{\"name\": \"anon\", \"criteria\": {\"task\": [\"classification\"]}, \"weights\": "
         "[{\"criterion_name\": \"anonymization\", \"weight\": 0.6}, {\"criterion_name\": "
         "\"data_quality\", \"weight\": 0.6}]}",
         {"alpha", "beta"},
         {1, 0.3}},
        {"b",
         "{\"name\": \"anon\", \"criteria\": {\"task\": [\"classification\"]}, \"weights\": "
         "[{\"criterion_name\": \"anonymization\", \"weight\": 0.6}, {\"criterion_name\": "
         "\"data_quality\", \"weight\": 0.6}]}",
         {"alpha", "delta", "beta"},
         {1, 1, 0.3}},
        {"a", "{\"name\": \"defaults\"}", {"alpha", "beta", "gamma"}, {0.44, 0.24, 0.04}},
        {"a", "{\"name\": \"none\", \"criteria\": {\"domain\": [\"space\"]}}", {NULL}, {0}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *tok = cases[i].who[0] == 'a' ? alice : bob;
        char id[64], path[160];
        create(tok, cases[i].body, id);
        snprintf(path, sizeof(path), "/api/v1/projects/%s/recommendations", id);
        struct th_resp r;
        assert_int_equal(call("GET", path, tok, NULL, &r), 200);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(r.json, "project"), "id")), id);
        const json_t *ds = json_object_get(r.json, "datasets");
        size_t n = 0;
        while (n < 4 && cases[i].names[n])
            n++;
        assert_int_equal(json_array_size(ds), n);
        assert_int_equal(json_integer_value(json_object_get(r.json, "total_count")), n);
        for (size_t k = 0; k < n; k++) {
            const json_t *d = json_array_get(ds, k);
            assert_string_equal(json_string_value(json_object_get(d, "name")), cases[i].names[k]);
            assert_near(json_number_value(json_object_get(d, "score")), cases[i].scores[k]);
            assert_int_equal(json_object_size(json_object_get(d, "criterion_scores")), 12);
        }
        th_resp_free(&r);
    }
}

/* ---- admin ethical templates ---- */

static const char *const flags[] = {"informed_consent",
                                    "transparency",
                                    "user_control",
                                    "equity_non_discrimination",
                                    "security_measures_in_place",
                                    "data_quality_documented",
                                    "anonymization_applied",
                                    "record_keeping_policy_exists",
                                    "purpose_limitation_respected",
                                    "accountability_defined"};

static int flag(const json_t *templates, const char *domain, const char *name)
{
    const json_t *v = json_object_get(json_object_get(templates, domain), name);
    assert_true(json_is_boolean(v));
    return json_is_true(v);
}

static void test_templates_seeded(void **state)
{
    struct th_resp r;
    assert_int_equal(call("GET", "/api/v1/admin/ethical-templates", alice, NULL, &r), 403);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "forbidden");
    th_resp_free(&r);
    assert_int_equal(call("GET", "/api/v1/admin/ethical-templates", admin, NULL, &r), 200);
    const json_t *t = json_object_get(r.json, "templates");
    assert_int_equal(json_object_size(t), 7);
    /* default: consent, user_control and anonymization off, the rest on */
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(flag(t, "default", flags[i]), !(i == 0 || i == 2 || i == 6));
    /* education and social-media turn consent and anonymization on */
    assert_true(flag(t, "education", "informed_consent"));
    assert_true(flag(t, "social-media", "anonymization_applied"));
    /* healthcare: everything on, representativity high */
    for (size_t i = 0; i < 10; i++)
        assert_true(flag(t, "healthcare", flags[i]));
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "healthcare"),
                                                          "representativity_level")),
                        "high");
    /* finance, business, technology: consent off; technology also anonymization off */
    assert_false(flag(t, "finance", "informed_consent"));
    assert_false(flag(t, "business", "informed_consent"));
    assert_true(flag(t, "finance", "anonymization_applied"));
    assert_false(flag(t, "technology", "anonymization_applied"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(t, "default"), "sample_balance_level")),
        "balanced");
    th_resp_free(&r);
}

/* A templates body: default plus domain, whose field is set to value (JSON text), or
 * removed when value is NULL (field NULL: no change). */
static char *templates_body(const char *domain, const char *field, const char *value)
{
    json_t *t = json_object();
    for (size_t i = 0; i < 10; i++)
        json_object_set_new(t, flags[i], json_boolean(i % 2));
    json_object_set_new(t, "representativity_level", json_string("low"));
    json_object_set_new(t, "sample_balance_level", json_string("imbalanced"));
    json_t *other = json_deep_copy(t);
    if (field && value)
        json_object_set_new(other, field, json_loads(value, JSON_DECODE_ANY, NULL));
    else if (field)
        json_object_del(other, field);
    json_t *body = json_pack("{s:{s:o, s:o}}", "templates", "default", t, domain, other);
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return s;
}

static void test_templates_put(void **state)
{
    static const struct {
        const char *domain, *field, *value;
    } bad[] = {
        {"biology", "informed_consent", NULL},  /* a flag missing */
        {"biology", "transparency", "\"yes\""}, /* not a boolean */
        {"biology", "user_control", "null"},    /* null is not a default */
        {"biology", "representativity_level", "\"excellent\""},
        {"biology", "sample_balance_level", "\"perfectly_balanced\""},
        {"biology", "colour", "\"red\""}, /* unknown field */
        {"Not A Domain", NULL, NULL},     /* not a slug */
    };
    long before = sql_long("SELECT count(*) FROM selection.ethical_templates");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *body = templates_body(bad[i].domain, bad[i].field, bad[i].value);
        struct th_resp r;
        long status = call("PUT", "/api/v1/admin/ethical-templates", admin, body, &r);
        if (status != 422)
            fail_msg("case %zu: %ld %s", i, status, r.body);
        const json_t *f =
            json_array_get(json_object_get(json_object_get(r.json, "details"), "fields"), 0);
        assert_non_null(strstr(json_string_value(json_object_get(f, "field")), "templates."));
        th_resp_free(&r);
        free(body);
    }
    static const char *const bad_bodies[] = {
        "{}", "{\"templates\": []}", "{\"templates\": {}, \"extra\": 1}",
        "{\"templates\": {\"education\": {}}}", /* no default */
    };
    for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
        struct th_resp r;
        assert_int_equal(call("PUT", "/api/v1/admin/ethical-templates", admin, bad_bodies[i], &r),
                         422);
        th_resp_free(&r);
    }
    assert_int_equal(sql_long("SELECT count(*) FROM selection.ethical_templates"), before);
    /* a user may not */
    char *body = templates_body("biology", NULL, NULL);
    struct th_resp r;
    assert_int_equal(call("PUT", "/api/v1/admin/ethical-templates", alice, body, &r), 403);
    th_resp_free(&r);
    /* an admin replaces the set; it persists */
    assert_int_equal(call("PUT", "/api/v1/admin/ethical-templates", admin, body, &r), 200);
    assert_int_equal(json_object_size(json_object_get(r.json, "templates")), 2);
    th_resp_free(&r);
    free(body);
    assert_int_equal(call("GET", "/api/v1/admin/ethical-templates", admin, NULL, &r), 200);
    const json_t *t = json_object_get(r.json, "templates");
    assert_int_equal(json_object_size(t), 2);
    assert_false(flag(t, "biology", "informed_consent"));
    assert_true(flag(t, "biology", "transparency"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(t, "biology"), "representativity_level")),
        "low");
    th_resp_free(&r);
    assert_int_equal(sql_long("SELECT count(*) FROM selection.ethical_templates WHERE domain = "
                              "'biology' AND NOT informed_consent AND transparency"),
                     1);
}

/* ---- data rights ---- */

static void test_export(void **state)
{
    struct th_resp r;
    assert_int_equal(call("GET", "/internal/users/" ALICE "/export", alice, NULL, &r), 200);
    const json_t *projects = json_object_get(r.json, "projects"), *p;
    assert_true(json_array_size(projects) >= 4);
    size_t i;
    json_array_foreach(projects, i, p)
    {
        assert_string_equal(json_string_value(json_object_get(p, "user_id")), ALICE);
    }
    assert_int_equal(json_array_size(json_object_get(r.json, "datasets")), 3);
    th_resp_free(&r);
    assert_int_equal(call("GET", "/internal/users/" ALICE "/export", bob, NULL, &r), 403);
    th_resp_free(&r);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_erasure(void **state)
{
    long bob_projects =
        sql_long("SELECT count(*) FROM selection.projects WHERE user_id = '" BOB "'");
    assert_true(bob_projects > 0);
    struct bus *b = NULL;
    assert_int_equal(bus_new(st.brokers, "test-selection-projects", &b), 0);
    json_t *v = json_pack("{s:s, s:s}", "type", "user.deleted", "user_id", ALICE);
    assert_int_equal(bus_publish_sync(b, BUS_TOPIC_USER_EVENTS, ALICE, v, 10000), 0);
    json_decref(v);
    bus_free(b);
    long left = -1;
    for (int i = 0; i < 200 && left != 0; i++) { /* up to 20 s */
        left =
            sql_long("SELECT (SELECT count(*) FROM selection.projects WHERE user_id = '" ALICE
                     "') + (SELECT count(*) FROM selection.datasets WHERE owner_id = '" ALICE "')");
        if (left)
            sleep_ms(100);
    }
    assert_int_equal(left, 0);
    /* alpha's stored files went with it; bob's things stayed */
    assert_int_equal(sql_long("SELECT count(*) FROM selection.blobs WHERE sha256 IN "
                              "(encode(sha256('alpha'), 'hex'), encode(sha256('alpha-columnar'), "
                              "'hex'))"),
                     0);
    assert_int_equal(sql_long("SELECT count(*) FROM selection.projects WHERE user_id = '" BOB "'"),
                     bob_projects);
    assert_int_equal(sql_long("SELECT count(*) FROM selection.datasets WHERE owner_id = '" BOB "'"),
                     1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_project_crud),      cmocka_unit_test(test_project_paging),
        cmocka_unit_test(test_project_isolation), cmocka_unit_test(test_project_invalid),
        cmocka_unit_test(test_recommendations),   cmocka_unit_test(test_templates_seeded),
        cmocka_unit_test(test_templates_put),     cmocka_unit_test(test_export),
        cmocka_unit_test(test_erasure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
