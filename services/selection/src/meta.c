/* meta: the dataset metadata a user may set (upload form, PATCH): fields, types, enumerations. */
#include "selection.h"

#include <ibx/jsonv.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define TXT   4000 /* long free text */
#define SHORT 200

/* Every settable field. Derived fields (instances_number, features_number, missing
 * figures, version) come from the files and are not here. */
const struct jsonv_field meta_fields[] = {
    {"name", JSONV_STRING, 0, 128, 1, 0, 0},
    {"display_name", JSONV_STRING, 0, SHORT, 1, 0, 0},
    {"year", JSONV_INT, 0, 0, 1800, 2200, 1},
    {"objective", JSONV_STRING, 0, TXT, 1, 0, 1},
    {"access", JSONV_STRING, 0, 32, 1, 0, 1},
    {"availability", JSONV_STRING, 0, 32, 1, 0, 1},
    {"num_citations", JSONV_INT, 0, 0, 0, 1e9, 1},
    {"citation_link", JSONV_STRING, 0, 2000, 1, 0, 1},
    {"sources", JSONV_STRING, 0, TXT, 1, 0, 1},
    {"license", JSONV_STRING, 0, SHORT, 1, 0, 1},
    {"storage_uri", JSONV_STRING, 0, 2000, 1, 0, 1},
    {"features_description", JSONV_STRING, 0, TXT, 1, 0, 1},
    {"domain", JSONV_ARRAY, 0, 20, 1, 0, 1},
    {"task", JSONV_ARRAY, 0, 20, 1, 0, 1},
    {"target_column", JSONV_STRING, 0, 1000, 1, 0, 1},
    {"representativity_level", JSONV_STRING, 0, 32, 1, 0, 1},
    {"representativity_description", JSONV_STRING, 0, TXT, 1, 0, 1},
    {"sample_balance_level", JSONV_STRING, 0, 32, 1, 0, 1},
    {"sample_balance_description", JSONV_STRING, 0, TXT, 1, 0, 1},
    {"split", JSONV_BOOL, 0, 0, 1, 0, 1},
    {"missing_values_description", JSONV_STRING, 0, TXT, 1, 0, 1},
    {"missing_values_handling_method", JSONV_STRING, 0, 64, 1, 0, 1},
    {"data_errors_description", JSONV_STRING, 0, TXT, 1, 0, 1},
    {"temporal_factors", JSONV_BOOL, 0, 0, 1, 0, 1},
    {"metadata_provided_with_dataset", JSONV_BOOL, 0, 0, 1, 0, 1},
    {"external_documentation_available", JSONV_BOOL, 0, 0, 1, 0, 1},
    {"documentation_link", JSONV_STRING, 0, 2000, 1, 0, 1},
    {"informed_consent", JSONV_BOOL, 0, 0, 1, 0, 1},
    {"transparency", JSONV_BOOL, 0, 0, 1, 0, 1},
    {"user_control", JSONV_BOOL, 0, 0, 1, 0, 1},
    {"equity_non_discrimination", JSONV_BOOL, 0, 0, 1, 0, 1},
    {"security_measures_in_place", JSONV_BOOL, 0, 0, 1, 0, 1},
    {"data_quality_documented", JSONV_BOOL, 0, 0, 1, 0, 1},
    {"anonymization_applied", JSONV_BOOL, 0, 0, 1, 0, 1},
    {"record_keeping_policy_exists", JSONV_BOOL, 0, 0, 1, 0, 1},
    {"purpose_limitation_respected", JSONV_BOOL, 0, 0, 1, 0, 1},
    {"accountability_defined", JSONV_BOOL, 0, 0, 1, 0, 1},
};
const size_t meta_nfields = sizeof(meta_fields) / sizeof(meta_fields[0]);

const char *const meta_ethical_flags[META_NETHICAL] = {
    "informed_consent",
    "transparency",
    "user_control",
    "equity_non_discrimination",
    "security_measures_in_place",
    "data_quality_documented",
    "anonymization_applied",
    "record_keeping_policy_exists",
    "purpose_limitation_respected",
    "accountability_defined",
};

static const struct {
    const char *field;
    const char *values[8];
} enums[] = {
    {"access", {"public", "private", "restricted", "academic"}},
    {"availability", {"online", "offline", "on_request", "archived"}},
    {"representativity_level", {"high", "medium", "low", "unknown"}},
    {"sample_balance_level", {"balanced", "moderate", "imbalanced", "severely_imbalanced"}},
};

static void meta_problem(json_t **details, const char *field, const char *problem)
{
    if (!*details)
        *details = json_pack("{s:[]}", "fields");
    json_array_append_new(json_object_get(*details, "fields"),
                          json_pack("{s:s, s:s}", "field", field, "problem", problem));
}

/* A slug: [a-z0-9][a-z0-9_-]{0,127}. */
int meta_is_slug(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* The checks jsonv cannot express: enumerations, the slug, array items. */
static void meta_check_values(const json_t *obj, json_t **details)
{
    for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++) {
        const char *v = jsonv_str(obj, enums[i].field);
        if (!v)
            continue;
        int ok = 0;
        for (size_t k = 0; enums[i].values[k]; k++)
            ok |= strcmp(v, enums[i].values[k]) == 0;
        if (!ok)
            meta_problem(details, enums[i].field, "is not one of the allowed values");
    }
    const char *name = jsonv_str(obj, "name");
    if (name && !meta_is_slug(name))
        meta_problem(details, "name",
                     "must be 1-128 characters of a-z, 0-9, '_' or '-', starting with a "
                     "letter or digit");
    const char *arrays[] = {"domain", "task"};
    for (size_t a = 0; a < 2; a++) {
        const json_t *arr = json_object_get(obj, arrays[a]), *it;
        size_t k;
        json_array_foreach(arr, k, it)
        {
            if (!json_is_string(it) || !meta_is_slug(json_string_value(it)))
                meta_problem(details, arrays[a],
                             "items must be short lowercase words (a-z, 0-9, '_', '-')");
        }
    }
}

int meta_validate(const json_t *obj, json_t **details)
{
    json_t *d = NULL;
    if (jsonv_check(obj, meta_fields, meta_nfields, 1, &d) != 0) {
        *details = d;
        return -EINVAL;
    }
    meta_check_values(obj, &d);
    if (d) {
        *details = d;
        return -EINVAL;
    }
    return 0;
}
