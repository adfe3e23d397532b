/* plan_routes: the /pipelines handlers: submit (validated, recorded, published), read,
 * list, cancel and delete. Another user's plan is always a 404. */
#include "plans.h"

#include <ibx/ids.h>
#include <ibx/log.h>
#include <ibx/pager.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct pager_spec plans_list_spec = {"pipeline.plan_list", "user_id",
                                                  "created_at DESC, id", "pipelines"};

/* 422 in the error format with a problem of field. */
static void plans_invalid(struct http_resp *resp, const char *field, const char *problem)
{
    json_t *d = json_pack("{s:[{s:s, s:s}]}", "fields", "field", field, "problem", problem);
    char msg[512];
    plan_problem_message(d, msg, sizeof(msg));
    http_resp_error(resp, 422, "validation_failed", msg, d);
}

/* The dataset as the caller sees it: 0 and version (65 bytes), or the response is set. */
static int plans_dataset(struct http_req *req, struct http_resp *resp, const struct plan *p,
                         char *version)
{
    json_t *ds = NULL;
    int rc = datasrc_dataset(req->app, svc_bearer(req), p->dataset_id, &ds);
    if (rc == -ENOENT) {
        plans_invalid(resp, "dataset_id", "no dataset with this id is visible to you");
        return rc;
    }
    if (rc) {
        http_resp_error(resp, 503, "selection_unavailable",
                        "the dataset cannot be checked now; try again", NULL);
        return rc;
    }
    const char *v = json_string_value(json_object_get(ds, "version"));
    if (!datasrc_has_column(ds, p->target_column)) {
        char why[PLAN_COLUMN_MAX + 64];
        snprintf(why, sizeof(why), "the dataset has no column '%s'", p->target_column);
        plans_invalid(resp, "target_column", why);
        rc = -EINVAL;
    } else
        snprintf(version, BLOB_ID_LEN + 1, "%s", v ? v : "");
    json_decref(ds);
    return rc;
}

void plans_create(struct http_req *req, struct http_resp *resp)
{
    struct svc *s = req->app;
    json_t *body = NULL, *details = NULL, *out = NULL;
    if (http_req_json(req, resp, &body) != 0)
        return;
    struct plan *p = NULL;
    int rc = plan_parse(body, &p, &details);
    json_decref(body);
    if (rc == -EINVAL) {
        char msg[512];
        plan_problem_message(details, msg, sizeof(msg));
        http_resp_error(resp, 422, "validation_failed", msg, details);
        return;
    }
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        return;
    }
    char version[BLOB_ID_LEN + 1], id[IDS_UUID_LEN + 1];
    if (plans_dataset(req, resp, p, version) != 0)
        goto done;
    ids_uuid4(id);
    rc = store_plan_create(s, id, req->claims.sub, req->claims.role, p, version, &out);
    if (rc) {
        http_resp_errno(resp, rc, "the pipeline could not be recorded");
        goto done;
    }
    if (plan_publish(s, id, req->claims.sub) != 0)
        log_warn("plan %s stays pending until it is published again", id);
    log_info("plan %s submitted with %zu steps", id, p->nsteps);
    http_resp_json(resp, 202, out);
done:
    plan_free(p);
}

void plans_list(struct http_req *req, struct http_resp *resp)
{
    pager_list_owned(req->app, &plans_list_spec, req, resp);
}

/* The {id} parameter when it is a UUID; otherwise 404 is set. */
static const char *plans_id(struct http_req *req, struct http_resp *resp)
{
    const char *id = http_req_param(req, "id");
    if (id && ids_is_uuid(id))
        return id;
    http_resp_error(resp, 404, "not_found", "no such pipeline", NULL);
    return NULL;
}

static void plans_answer(struct http_resp *resp, int rc, json_t *out)
{
    if (rc == -ENOENT)
        http_resp_error(resp, 404, "not_found", "no such pipeline", NULL);
    else if (rc)
        http_resp_errno(resp, rc, NULL);
    else
        http_resp_json(resp, 200, out);
}

void plans_get(struct http_req *req, struct http_resp *resp)
{
    const char *id = plans_id(req, resp);
    if (!id)
        return;
    json_t *out = NULL;
    int rc = store_plan_get(req->app, id, req->claims.sub, svc_is_admin(req), &out);
    plans_answer(resp, rc, out);
}

void plans_cancel(struct http_req *req, struct http_resp *resp)
{
    const char *id = plans_id(req, resp);
    if (!id)
        return;
    json_t *out = NULL;
    char status[16] = "";
    int rc = store_plan_cancel(req->app, id, req->claims.sub, svc_is_admin(req), &out, status);
    if (rc == -EALREADY) {
        char msg[96];
        snprintf(msg, sizeof(msg), "the pipeline already ended (%s)", status);
        http_resp_error(resp, 409, "already_finished", msg, json_pack("{s:s}", "status", status));
        return;
    }
    if (rc == 0)
        log_info("plan %s cancelled", id);
    plans_answer(resp, rc, out);
}

void plans_delete(struct http_req *req, struct http_resp *resp)
{
    const char *id = plans_id(req, resp);
    if (!id)
        return;
    int rc = store_plan_delete(req->app, id, req->claims.sub, svc_is_admin(req));
    plans_answer(resp, rc,
                 rc ? NULL : json_pack("{s:s, s:s}", "message", "pipeline deleted", "id", id));
}

void plans_output(struct http_req *req, struct http_resp *resp)
{
    const char *id = plans_id(req, resp), *step = http_req_param(req, "step");
    if (!id)
        return;
    char status[16] = "", output[BLOB_ID_LEN + 1] = "";
    enum plan_step_type type = PLAN_LOAD;
    int rc = store_plan_step_output(req->app, id, step ? step : "", req->claims.sub,
                                    svc_is_admin(req), status, output, &type);
    if (rc == -ENOENT) {
        http_resp_error(resp, 404, "not_found", "no such pipeline or step", NULL);
        return;
    }
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        return;
    }
    if (strcmp(status, "completed") != 0 || !output[0]) {
        char msg[96];
        snprintf(msg, sizeof(msg), "the step has no output (it is %s)", status);
        http_resp_error(resp, 409, "not_completed", msg, json_pack("{s:s}", "status", status));
        return;
    }
    char name[PLAN_ID_MAX + 32];
    snprintf(name, sizeof(name), "%s.%s", step,
             type == PLAN_TRAIN        ? "ibxmodel"
             : type == PLAN_PREPROCESS ? "prepared"
                                       : "json");
    artifact_respond(req->app, resp, output, plan_media_type(type), name);
}
