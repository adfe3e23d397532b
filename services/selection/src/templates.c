/* templates: per-domain default ethical flags: the admin endpoints and their use on import. */
#include "selection.h"

#include <ibx/log.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define TEMPLATES_MAX 100

static const struct jsonv_field template_fields[] = {
    {"informed_consent", JSONV_BOOL, 1, 0, 1, 0, 0},
    {"transparency", JSONV_BOOL, 1, 0, 1, 0, 0},
    {"user_control", JSONV_BOOL, 1, 0, 1, 0, 0},
    {"equity_non_discrimination", JSONV_BOOL, 1, 0, 1, 0, 0},
    {"security_measures_in_place", JSONV_BOOL, 1, 0, 1, 0, 0},
    {"data_quality_documented", JSONV_BOOL, 1, 0, 1, 0, 0},
    {"anonymization_applied", JSONV_BOOL, 1, 0, 1, 0, 0},
    {"record_keeping_policy_exists", JSONV_BOOL, 1, 0, 1, 0, 0},
    {"purpose_limitation_respected", JSONV_BOOL, 1, 0, 1, 0, 0},
    {"accountability_defined", JSONV_BOOL, 1, 0, 1, 0, 0},
    {"representativity_level", JSONV_STRING, 1, 32, 1, 0, 0},
    {"sample_balance_level", JSONV_STRING, 1, 32, 1, 0, 0},
};
#define NTEMPLATE_FIELDS (sizeof(template_fields) / sizeof(template_fields[0]))

static const char *const representativity[] = {"high", "medium", "low", "unknown", NULL};
static const char *const balance[] = {"balanced", "moderate", "imbalanced", "severely_imbalanced",
                                      NULL};

static int tpl_one_of(const char *v, const char *const *values)
{
    for (size_t i = 0; v && values[i]; i++)
        if (strcmp(v, values[i]) == 0)
            return 1;
    return 0;
}

static void tpl_problem(json_t *list, const char *domain, const char *field, const char *problem)
{
    char name[300];
    snprintf(name, sizeof(name), "templates.%s%s%s", domain, field ? "." : "", field ? field : "");
    json_array_append_new(list, json_pack("{s:s, s:s}", "field", name, "problem", problem));
}

/* Check one template (every flag a boolean, the two levels from their lists). */
static void tpl_check(const char *domain, const json_t *t, json_t *list)
{
    json_t *d = NULL;
    if (!meta_is_slug(domain))
        tpl_problem(list, domain, NULL, "the domain must be a short lowercase word");
    if (jsonv_check(t, template_fields, NTEMPLATE_FIELDS, 1, &d) != 0) {
        const json_t *it;
        size_t i;
        json_array_foreach(json_object_get(d, "fields"), i, it)
        {
            tpl_problem(list, domain, json_string_value(json_object_get(it, "field")),
                        json_string_value(json_object_get(it, "problem")));
        }
        json_decref(d);
        return;
    }
    if (!tpl_one_of(jsonv_str(t, "representativity_level"), representativity))
        tpl_problem(list, domain, "representativity_level", "must be high, medium, low or unknown");
    if (!tpl_one_of(jsonv_str(t, "sample_balance_level"), balance))
        tpl_problem(list, domain, "sample_balance_level",
                    "must be balanced, moderate, imbalanced or severely_imbalanced");
}

/* Check a PUT body {"templates": {domain: template, ...}} (with "default"). 0, or -EINVAL
 * and *details. */
static int tpl_validate(const json_t *body, json_t **details)
{
    json_t *list = json_array();
    const json_t *all = json_object_get(body, "templates"), *t;
    const char *domain;
    if (!json_is_object(body) || json_object_size(body) != 1 || !json_is_object(all))
        json_array_append_new(list, json_pack("{s:s, s:s}", "field", "templates", "problem",
                                              "the body must be {\"templates\": {domain: "
                                              "template, ...}} and nothing else"));
    else if (!json_object_get(all, "default"))
        tpl_problem(list, "default", NULL, "is required (it applies to every other domain)");
    else if (json_object_size(all) > TEMPLATES_MAX)
        json_array_append_new(list, json_pack("{s:s, s:s}", "field", "templates", "problem",
                                              "holds at most 100 domains"));
    json_object_foreach((json_t *)(json_array_size(list) ? NULL : all), domain, t)
    {
        tpl_check(domain, t, list);
    }
    if (json_array_size(list) == 0) {
        json_decref(list);
        return 0;
    }
    *details = json_pack("{s:o}", "fields", list);
    return -EINVAL;
}

void templates_get(struct http_req *req, struct http_resp *resp)
{
    json_t *t = NULL;
    if (!svc_is_admin(req)) {
        http_resp_error(resp, 403, "forbidden", "ethical templates are for admins", NULL);
        return;
    }
    int rc = store_templates_get(req->app, &t);
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        return;
    }
    http_resp_json(resp, 200, json_pack("{s:o}", "templates", t));
}

void templates_put(struct http_req *req, struct http_resp *resp)
{
    json_t *body = NULL, *details = NULL;
    if (!svc_is_admin(req)) {
        http_resp_error(resp, 403, "forbidden", "ethical templates are for admins", NULL);
        return;
    }
    if (http_req_json(req, resp, &body) != 0)
        return;
    if (tpl_validate(body, &details) != 0) {
        http_resp_error(resp, 422, "validation_failed", "the templates are not valid", details);
        json_decref(body);
        return;
    }
    int rc = store_templates_put(req->app, json_object_get(body, "templates"));
    json_decref(body);
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        return;
    }
    log_fields(LOG_LVL_INFO, json_pack("{s:s}", "user_id", req->claims.sub),
               "ethical templates replaced");
    templates_get(req, resp);
}

int templates_apply(struct svc *s, json_t *dataset)
{
    json_t *all = NULL;
    int rc = store_templates_get(s, &all);
    if (rc)
        return rc;
    const json_t *t = NULL, *dom;
    size_t i;
    json_array_foreach(json_object_get(dataset, "domain"), i, dom)
    {
        if (!t && json_is_string(dom))
            t = json_object_get(all, json_string_value(dom));
    }
    if (!t)
        t = json_object_get(all, "default");
    for (size_t k = 0; t && k < META_NETHICAL; k++) {
        const json_t *v = json_object_get(dataset, meta_ethical_flags[k]);
        const json_t *def = json_object_get(t, meta_ethical_flags[k]);
        if ((!v || json_is_null(v)) && json_is_boolean(def))
            json_object_set(dataset, meta_ethical_flags[k], (json_t *)def);
    }
    json_decref(all);
    return 0;
}
