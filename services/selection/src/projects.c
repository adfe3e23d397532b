/* projects: a user's dataset-selection workspaces (criteria and weights) and their
 * recommendations. Another user's project is always a 404. */
#include "selection.h"

#include <ibx/ids.h>
#include <ibx/log.h>
#include <ibx/num.h>

#include <ctype.h>
#include <errno.h>
#include <string.h>

static const struct jsonv_field create_fields[] = {
    {"name", JSONV_STRING, 1, 255, 1, 0, 0},
    {"description", JSONV_STRING, 0, 4000, 1, 0, 1},
    {"criteria", JSONV_OBJECT, 0, 0, 1, 0, 1},
    {"weights", JSONV_ARRAY, 0, SCORE_NCRITERIA, 1, 0, 1},
};
static const struct jsonv_field patch_fields[] = {
    {"name", JSONV_STRING, 0, 255, 1, 0, 0},
    {"description", JSONV_STRING, 0, 4000, 1, 0, 1},
    {"criteria", JSONV_OBJECT, 0, 0, 1, 0, 1},
    {"weights", JSONV_ARRAY, 0, SCORE_NCRITERIA, 1, 0, 1},
};

static void pj_problem(json_t **details, const char *field, const char *problem)
{
    if (!*details)
        *details = json_pack("{s:[]}", "fields");
    json_array_append_new(json_object_get(*details, "fields"),
                          json_pack("{s:s, s:s}", "field", field, "problem", problem));
}

/* 1 when s has a character that is not white space. */
static int pj_has_text(const char *s)
{
    for (; s && *s; s++)
        if (!isspace((unsigned char)*s))
            return 1;
    return 0;
}

/* criteria and weights of body into fields: the canonical filters and normalised weights. */
static int pj_scoring_fields(const json_t *body, json_t *fields, json_t **details)
{
    const json_t *c = json_object_get(body, "criteria"), *w = json_object_get(body, "weights");
    json_t *canon = NULL;
    struct score_weights sw;
    if (c && filters_from_json(c, &canon, details) != 0)
        return -EINVAL;
    if (canon)
        json_object_set_new(fields, "criteria", canon);
    if (w && score_parse_weights(w, &sw, details) != 0)
        return -EINVAL;
    if (w)
        json_object_set_new(fields, "weights",
                            json_is_null(w) ? json_array() : score_weights_normalised(w));
    return 0;
}

/* The columns a create or patch body sets, checked. 0 and *out, or -EINVAL and *details. */
static int pj_fields(const json_t *body, int create, json_t **out, json_t **details)
{
    json_t *d = NULL, *fields = NULL;
    if (jsonv_check(body, create ? create_fields : patch_fields, 4, 1, &d) != 0)
        goto bad;
    const json_t *name = json_object_get(body, "name");
    if (name && !pj_has_text(json_string_value(name)))
        pj_problem(&d, "name", "must not be empty");
    if (d)
        goto bad;
    fields = json_object();
    if (name)
        json_object_set(fields, "name", (json_t *)name);
    if (json_object_get(body, "description"))
        json_object_set(fields, "description", json_object_get(body, "description"));
    if (pj_scoring_fields(body, fields, &d) != 0)
        goto bad;
    *out = fields;
    return 0;
bad:
    json_decref(fields);
    *details = d;
    return -EINVAL;
}

static void pj_invalid(struct http_resp *resp, json_t *details)
{
    char msg[1024];
    filters_message(details, msg, sizeof(msg));
    http_resp_error(resp, 422, "validation_failed", msg, details);
}

/* The {id} of the path when it is a UUID; otherwise 400 and NULL. */
static const char *pj_id(struct http_req *req, struct http_resp *resp)
{
    const char *id = http_req_param(req, "id");
    if (!id || !ids_is_uuid(id)) {
        http_resp_error(resp, 400, "invalid_id", "the project id must be a UUID", NULL);
        return NULL;
    }
    return id;
}

static void pj_fail(struct http_resp *resp, int rc)
{
    if (rc == -ENOENT)
        http_resp_error(resp, 404, "not_found", "no such project", NULL);
    else
        http_resp_errno(resp, rc, NULL);
}

void projects_list(struct http_req *req, struct http_resp *resp)
{
    const char *ps = http_req_query(req, "page"), *pz = http_req_query(req, "page_size");
    long page = 1, size = 12, total = 0;
    if (ps && num_parse_long(ps, 1, 1000000, &page) != 0) {
        http_resp_error(resp, 400, "invalid_query", "page must be an integer of at least 1", NULL);
        return;
    }
    if (pz && num_parse_long(pz, 1, 100, &size) != 0) {
        http_resp_error(resp, 400, "invalid_query", "page_size must be an integer from 1 to 100",
                        NULL);
        return;
    }
    json_t *items = NULL;
    int rc = store_project_list(req->app, req->claims.sub, page, size, &items, &total);
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        return;
    }
    http_resp_json(resp, 200,
                   json_pack("{s:o, s:I, s:I, s:I, s:I}", "projects", items, "total_count",
                             (json_int_t)total, "page", (json_int_t)page, "page_size",
                             (json_int_t)size, "total_pages",
                             (json_int_t)((total + size - 1) / size)));
}

void projects_create(struct http_req *req, struct http_resp *resp)
{
    json_t *body = NULL, *fields = NULL, *details = NULL, *p = NULL;
    if (http_req_json(req, resp, &body) != 0)
        return;
    if (pj_fields(body, 1, &fields, &details) != 0) {
        pj_invalid(resp, details);
        goto out;
    }
    int rc = store_project_create(req->app, req->claims.sub, fields, &p);
    if (rc) {
        pj_fail(resp, rc);
        goto out;
    }
    log_fields(LOG_LVL_INFO, json_pack("{s:O}", "project_id", json_object_get(p, "id")),
               "project created");
    http_resp_json(resp, 201, p);
out:
    json_decref(fields);
    json_decref(body);
}

void projects_get(struct http_req *req, struct http_resp *resp)
{
    const char *id = pj_id(req, resp);
    json_t *p = NULL;
    if (!id)
        return;
    int rc = store_project_get(req->app, id, req->claims.sub, &p);
    if (rc) {
        pj_fail(resp, rc);
        return;
    }
    http_resp_json(resp, 200, p);
}

void projects_patch(struct http_req *req, struct http_resp *resp)
{
    const char *id = pj_id(req, resp);
    json_t *body = NULL, *fields = NULL, *details = NULL, *p = NULL;
    if (!id || http_req_json(req, resp, &body) != 0)
        return;
    if (pj_fields(body, 0, &fields, &details) != 0) {
        pj_invalid(resp, details);
        goto out;
    }
    int rc = store_project_update(req->app, id, req->claims.sub, fields, &p);
    if (rc) {
        pj_fail(resp, rc);
        goto out;
    }
    http_resp_json(resp, 200, p);
out:
    json_decref(fields);
    json_decref(body);
}

void projects_delete(struct http_req *req, struct http_resp *resp)
{
    const char *id = pj_id(req, resp);
    if (!id)
        return;
    int rc = store_project_delete(req->app, id, req->claims.sub);
    if (rc) {
        pj_fail(resp, rc);
        return;
    }
    http_resp_json(resp, 200, json_pack("{s:s, s:s}", "message", "project deleted", "id", id));
}

void projects_recommendations(struct http_req *req, struct http_resp *resp)
{
    const char *id = pj_id(req, resp);
    json_t *p = NULL, *canon = NULL, *details = NULL, *rows = NULL;
    struct score_weights w;
    if (!id)
        return;
    int rc = store_project_get(req->app, id, req->claims.sub, &p);
    if (rc) {
        pj_fail(resp, rc);
        return;
    }
    /* stored criteria and weights were checked when saved; check again all the same */
    if (filters_from_json(json_object_get(p, "criteria"), &canon, &details) != 0 ||
        score_parse_weights(json_object_get(p, "weights"), &w, &details) != 0) {
        http_resp_error(resp, 409, "invalid_project",
                        "the project's criteria or weights are no longer valid; update them",
                        details);
        goto out;
    }
    rc = datasets_ranked(req, canon, &w, &rows);
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        goto out;
    }
    http_resp_json(resp, 200,
                   json_pack("{s:O, s:o, s:I}", "project", p, "datasets", rows, "total_count",
                             (json_int_t)json_array_size(rows)));
out:
    json_decref(canon);
    json_decref(p);
}
