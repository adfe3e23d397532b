/* datasets: the catalogue handlers: list with filters, detail, edit, delete, scoring,
 * similar datasets, datasheet completion and Croissant export. */
#include "selection.h"

#include <ibx/ids.h>
#include <ibx/log.h>
#include <ibx/num.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Query parameters of GET /datasets that are not filters. */
static const char *const list_skip[] = {"page", "page_size", "sort_by", "sort_order", NULL};

/* The {id} of the path when it is a UUID; otherwise 400 and NULL. */
static const char *ds_id(struct http_req *req, struct http_resp *resp)
{
    const char *id = http_req_param(req, "id");
    if (!id || !ids_is_uuid(id)) {
        http_resp_error(resp, 400, "invalid_id", "the dataset id must be a UUID", NULL);
        return NULL;
    }
    return id;
}

static void ds_not_found(struct http_resp *resp)
{
    http_resp_error(resp, 404, "not_found", "no such dataset", NULL);
}

/* The error for a failed store call; -ENOENT means the dataset is unknown or invisible. */
static void ds_fail(struct http_resp *resp, int rc)
{
    if (rc == -ENOENT)
        ds_not_found(resp);
    else
        http_resp_errno(resp, rc, NULL);
}

/* Bad filters: 400 (query) or 422 (body), naming every offending parameter. */
static void ds_bad_filters(struct http_resp *resp, int status, json_t *details)
{
    char msg[1024];
    filters_message(details, msg, sizeof(msg));
    http_resp_error(resp, status, status == 400 ? "invalid_query" : "validation_failed", msg,
                    details);
}

void datasets_list(struct http_req *req, struct http_resp *resp)
{
    struct sel_list_query q = {.user_id = req->claims.sub, .is_admin = svc_is_admin(req)};
    char err[256];
    if (catalogue_parse_list(http_req_query(req, "page"), http_req_query(req, "page_size"),
                             http_req_query(req, "sort_by"), http_req_query(req, "sort_order"), &q,
                             err, sizeof(err))) {
        http_resp_error(resp, 400, "invalid_query", err, NULL);
        return;
    }
    json_t *canon = NULL, *details = NULL, *datasets = NULL;
    if (filters_from_query(http_req_query_string(req), list_skip, &canon, &details) != 0) {
        ds_bad_filters(resp, 400, details);
        return;
    }
    struct filter_sql fs;
    long total = 0;
    int rc = filters_sql(canon, 5, &fs);
    json_decref(canon);
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        return;
    }
    q.filters = &fs;
    rc = store_list_datasets(req->app, &q, &datasets, &total);
    filters_sql_release(&fs);
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        return;
    }
    json_t *d;
    size_t i;
    json_array_foreach(datasets, i, d)
    {
        score_annotate(d, NULL);
    }
    long pages = (total + q.page_size - 1) / q.page_size;
    http_resp_json(resp, 200,
                   json_pack("{s:o, s:I, s:I, s:I, s:I}", "datasets", datasets, "total_count",
                             (json_int_t)total, "page", (json_int_t)q.page, "page_size",
                             (json_int_t)q.page_size, "total_pages", (json_int_t)pages));
}

static void ds_values(struct http_req *req, struct http_resp *resp, int tasks)
{
    json_t *v = NULL;
    int rc = store_dataset_values(req->app, req->claims.sub, svc_is_admin(req), tasks, &v);
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        return;
    }
    http_resp_json(resp, 200, json_pack("{s:o}", tasks ? "tasks" : "domains", v));
}

void datasets_domains(struct http_req *req, struct http_resp *resp)
{
    ds_values(req, resp, 0);
}

void datasets_tasks(struct http_req *req, struct http_resp *resp)
{
    ds_values(req, resp, 1);
}

static int ds_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    double sx = json_real_value(json_object_get(x, "score"));
    double sy = json_real_value(json_object_get(y, "score"));
    if (sx != sy)
        return sx < sy ? 1 : -1;
    const char *nx = json_string_value(json_object_get(x, "name"));
    const char *ny = json_string_value(json_object_get(y, "name"));
    return strcmp(nx ? nx : "", ny ? ny : "");
}

/* Annotate rows with scores under w and sort them by score, descending. */
static int ds_rank(json_t *rows, const struct score_weights *w)
{
    size_t n = json_array_size(rows);
    json_t **v = calloc(n ? n : 1, sizeof(json_t *));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        v[i] = json_incref(json_array_get(rows, i));
        score_annotate(v[i], w);
    }
    qsort(v, n, sizeof(json_t *), ds_cmp);
    json_array_clear(rows);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(rows, v[i]);
    free(v);
    return 0;
}

static const struct jsonv_field score_fields[] = {
    {"filters", JSONV_OBJECT, 0, 0, 1, 0, 1},
    {"weights", JSONV_ARRAY, 0, SCORE_NCRITERIA, 1, 0, 1},
};

int datasets_ranked(struct http_req *req, const json_t *canon, const struct score_weights *w,
                    json_t **out)
{
    struct filter_sql fs;
    json_t *rows = NULL;
    int rc = filters_sql(canon, 3, &fs);
    if (rc)
        return rc;
    rc = store_score_candidates(req->app, req->claims.sub, svc_is_admin(req), &fs, &rows);
    filters_sql_release(&fs);
    if (rc == 0)
        rc = ds_rank(rows, w);
    if (rc) {
        json_decref(rows);
        return rc;
    }
    *out = rows;
    return 0;
}

void datasets_score(struct http_req *req, struct http_resp *resp)
{
    json_t *body = NULL, *details = NULL, *canon = NULL, *rows = NULL;
    struct score_weights w;
    if (http_req_json(req, resp, &body) != 0)
        return;
    if (jsonv_check(body, score_fields, 2, 1, &details) != 0 ||
        filters_from_json(json_object_get(body, "filters"), &canon, &details) != 0 ||
        score_parse_weights(json_object_get(body, "weights"), &w, &details) != 0) {
        ds_bad_filters(resp, 422, details);
        goto out;
    }
    int rc = datasets_ranked(req, canon, &w, &rows);
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        goto out;
    }
    http_resp_json(resp, 200,
                   json_pack("{s:o, s:I}", "datasets", rows, "total_count",
                             (json_int_t)json_array_size(rows)));
out:
    json_decref(canon);
    json_decref(body);
}

void datasets_get(struct http_req *req, struct http_resp *resp)
{
    const char *id = ds_id(req, resp);
    int can_edit = 0;
    json_t *d = NULL;
    if (!id)
        return;
    int rc = store_dataset_perm(req->app, id, req->claims.sub, svc_is_admin(req), &can_edit);
    if (rc == 0)
        rc = store_dataset_json(req->app, id, &d);
    if (rc) {
        ds_fail(resp, rc);
        return;
    }
    score_annotate(d, NULL);
    json_object_set_new(d, "can_edit", json_boolean(can_edit));
    http_resp_json(resp, 200, d);
}

/* For PATCH and DELETE: 0 when the caller may change the dataset; otherwise the response
 * is set (404 when the caller cannot see it, 403 when it is someone else's). */
static int ds_editable(struct http_req *req, struct http_resp *resp, const char *id)
{
    int can_edit = 0;
    int rc = store_dataset_perm(req->app, id, req->claims.sub, svc_is_admin(req), &can_edit);
    if (rc) {
        ds_fail(resp, rc);
        return rc;
    }
    if (!can_edit) {
        http_resp_error(resp, 403, "forbidden",
                        "only the dataset's owner or an admin may change it", NULL);
        return -EACCES;
    }
    return 0;
}

void datasets_patch(struct http_req *req, struct http_resp *resp)
{
    const char *id = ds_id(req, resp);
    json_t *body = NULL, *details = NULL, *d = NULL;
    if (!id || ds_editable(req, resp, id) != 0 || http_req_json(req, resp, &body) != 0)
        return;
    const char *shown = jsonv_str(body, "display_name");
    if (meta_validate(body, &details) != 0 || (shown && !*shown)) {
        if (!details)
            details = json_pack("{s:[{s:s, s:s}]}", "fields", "field", "display_name", "problem",
                                "must not be empty");
        ds_bad_filters(resp, 422, details);
        goto out;
    }
    int rc = store_update_dataset(req->app, id, body, &d);
    if (rc == -EEXIST) {
        http_resp_error(resp, 409, "name_taken", "another dataset already has this name", NULL);
        goto out;
    }
    if (rc == -EINVAL) {
        http_resp_error(resp, 422, "validation_failed", "a value is outside what a dataset allows",
                        NULL);
        goto out;
    }
    if (rc) {
        ds_fail(resp, rc);
        goto out;
    }
    score_annotate(d, NULL);
    log_fields(LOG_LVL_INFO, json_pack("{s:s}", "dataset_id", id), "dataset updated");
    http_resp_json(resp, 200, d);
out:
    json_decref(body);
}

void datasets_delete(struct http_req *req, struct http_resp *resp)
{
    const char *id = ds_id(req, resp);
    json_t *blobs = NULL;
    if (!id || ds_editable(req, resp, id) != 0)
        return;
    int rc = store_delete_dataset(req->app, id, &blobs);
    if (rc) {
        ds_fail(resp, rc);
        return;
    }
    /* content addressing: a blob another dataset still uses stays */
    const json_t *b;
    size_t i;
    json_array_foreach(blobs, i, b)
    {
        store_blob_release(req->app, json_string_value(b));
    }
    json_decref(blobs);
    log_fields(LOG_LVL_INFO, json_pack("{s:s}", "dataset_id", id), "dataset deleted");
    http_resp_json(resp, 200, json_pack("{s:s, s:s}", "message", "dataset deleted", "id", id));
}

void datasets_similar(struct http_req *req, struct http_resp *resp)
{
    const char *id = ds_id(req, resp), *lim = http_req_query(req, "limit");
    long limit = 5;
    json_t *d = NULL, *rows = NULL;
    if (!id)
        return;
    if (lim && num_parse_long(lim, 1, 50, &limit) != 0) {
        http_resp_error(resp, 400, "invalid_query", "limit must be an integer from 1 to 50", NULL);
        return;
    }
    int admin = svc_is_admin(req);
    int rc = store_dataset_row(req->app, id, req->claims.sub, admin, &d);
    if (rc == 0)
        rc = store_similar(req->app, id, req->claims.sub, admin, limit, &rows);
    if (rc) {
        json_decref(d);
        ds_fail(resp, rc);
        return;
    }
    json_t *why = json_object(), *it;
    size_t i;
    json_array_foreach(rows, i, it)
    {
        char text[1024];
        datasheet_similarity(d, it, text, sizeof(text));
        json_object_del(it, "priority");
        json_object_set_new(it, "similarity_explanation", json_string(text));
        json_object_set_new(why, json_string_value(json_object_get(it, "id")), json_string(text));
        score_annotate(it, NULL);
    }
    json_decref(d);
    http_resp_json(resp, 200,
                   json_pack("{s:s, s:o, s:o}", "dataset_id", id, "similar_datasets", rows,
                             "similarity_explanation", why));
}

void datasets_completion(struct http_req *req, struct http_resp *resp)
{
    const char *id = ds_id(req, resp);
    json_t *d = NULL;
    if (!id)
        return;
    int rc = store_dataset_row(req->app, id, req->claims.sub, svc_is_admin(req), &d);
    if (rc) {
        ds_fail(resp, rc);
        return;
    }
    json_t *c = datasheet_completion(d);
    json_decref(d);
    json_object_set_new(c, "dataset_id", json_string(id));
    http_resp_json(resp, 200, c);
}

void datasets_croissant(struct http_req *req, struct http_resp *resp)
{
    const char *id = ds_id(req, resp);
    int can_edit = 0;
    json_t *d = NULL;
    if (!id)
        return;
    int rc = store_dataset_perm(req->app, id, req->claims.sub, svc_is_admin(req), &can_edit);
    if (rc == 0)
        rc = store_dataset_json(req->app, id, &d);
    if (rc) {
        ds_fail(resp, rc);
        return;
    }
    json_t *doc = datasheet_croissant(d);
    json_decref(d);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text) {
        http_resp_errno(resp, -ENOMEM, NULL);
        return;
    }
    http_resp_data(resp, 200, "application/ld+json", text, strlen(text));
    free(text);
}
