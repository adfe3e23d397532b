/* test_selection_templates: templates_apply, the per-domain ethical defaults that imports
 * use, against the seeded templates in a throwaway database (selection's migrations). */
#include "../../services/selection/src/meta.c"            // NOLINT(bugprone-suspicious-include)
#include "../../services/selection/src/store_catalogue.c" // NOLINT(bugprone-suspicious-include)
#include "../../services/selection/src/templates.c"       // NOLINT(bugprone-suspicious-include)

#include "th_pg.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static char db_url[512];
static struct db_pool *pool;
static struct svc svc;

static int setup(void **state)
{
    if (th_db_create(db_url, sizeof(db_url)) != 0 || db_pool_new(db_url, 2, &pool) != 0 ||
        db_migrate(pool, "selection", "services/selection/migrations") != 0)
        return -1;
    svc.db = pool;
    return 0;
}

static int teardown(void **state)
{
    db_pool_free(pool);
    th_db_drop(db_url);
    return 0;
}

/* in: a new dataset; want: the ten flags after templates_apply, as "TFTF..." in
 * meta_ethical_flags order (consent, transparency, user_control, equity, security,
 * quality_documented, anonymization, record_keeping, purpose_limitation, accountability). */
static const struct {
    const char *in;
    const char *want;
} cases[] = {
    /* default: consent F, transparency T, user_control F, anonymization F, the rest T */
    {"{}", "FTFTTTFTTT"},
    {"{\"domain\": []}", "FTFTTTFTTT"},
    {"{\"domain\": [\"astronomy\"]}", "FTFTTTFTTT"},
    /* education turns consent and anonymization on */
    {"{\"domain\": [\"education\"], \"informed_consent\": null}", "TTFTTTTTTT"},
    /* the first domain that has a template wins */
    {"{\"domain\": [\"astronomy\", \"healthcare\", \"technology\"]}", "TTTTTTTTTT"},
    {"{\"domain\": [\"technology\", \"healthcare\"]}", "FTFTTTFTTT"},
    {"{\"domain\": [\"finance\"]}", "FTFTTTTTTT"},
    {"{\"domain\": [\"social-media\"]}", "TTFTTTTTTT"},
    /* given flags are kept, true or false */
    {"{\"domain\": [\"healthcare\"], \"user_control\": false, \"transparency\": false}",
     "TFFTTTTTTT"},
    {"{\"domain\": [\"finance\"], \"informed_consent\": true}", "TTFTTTTTTT"},
};

static void test_apply(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *d = json_loads(cases[i].in, 0, NULL);
        assert_int_equal(templates_apply(&svc, d), 0);
        char got[META_NETHICAL + 1];
        for (size_t k = 0; k < META_NETHICAL; k++) {
            const json_t *v = json_object_get(d, meta_ethical_flags[k]);
            assert_true(json_is_boolean(v));
            got[k] = json_is_true(v) ? 'T' : 'F';
        }
        got[META_NETHICAL] = '\0';
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu (%s): %s, expected %s", i, cases[i].in, got, cases[i].want);
        /* nothing but the flags is added */
        assert_int_equal(json_object_size(d), META_NETHICAL + (json_object_get(d, "domain") != 0));
        json_decref(d);
    }
}

/* An edited template set applies at once; a domain without a template takes "default". */
static void test_apply_after_put(void **state)
{
    json_t *t = json_object();
    for (size_t k = 0; k < META_NETHICAL; k++)
        json_object_set_new(t, meta_ethical_flags[k], json_true());
    json_object_set_new(t, "representativity_level", json_string("high"));
    json_object_set_new(t, "sample_balance_level", json_string("balanced"));
    json_t *all = json_pack("{s:O, s:o}", "default", t, "astronomy", json_deep_copy(t));
    json_object_set_new(json_object_get(all, "astronomy"), "informed_consent", json_false());
    json_decref(t);
    assert_int_equal(store_templates_put(&svc, all), 0);
    json_decref(all);
    json_t *d = json_loads("{\"domain\": [\"astronomy\"]}", 0, NULL);
    assert_int_equal(templates_apply(&svc, d), 0);
    assert_true(json_is_false(json_object_get(d, "informed_consent")));
    assert_true(json_is_true(json_object_get(d, "transparency")));
    json_decref(d);
    d = json_loads("{\"domain\": [\"education\"]}", 0, NULL); /* its template is gone */
    assert_int_equal(templates_apply(&svc, d), 0);
    assert_true(json_is_true(json_object_get(d, "informed_consent")));
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_apply_after_put),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
