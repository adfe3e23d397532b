/* experiments: the /experiments handlers: submit (validated, recorded, then published),
 * read, list, results, model download, cancel and delete. Only the owner or an admin sees
 * a run; anyone else gets 404. */
#include "pipeline.h"

#include <ibx/clock.h>
#include <ibx/hash.h>
#include <ibx/ids.h>
#include <ibx/jsonv.h>
#include <ibx/log.h>
#include <ibx/mlrun.h>
#include <ibx/num.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXP_RETRY_AFTER "30"

static const struct pl_config *exp_cfg(const struct http_req *req)
{
    return &((const struct pl_app *)((const struct svc *)req->app)->app)->cfg;
}

/* The {id} path parameter; answers 404 and returns NULL when it is not a UUID. */
static const char *exp_id(struct http_req *req, struct http_resp *resp)
{
    const char *id = http_req_param(req, "id");
    if (!id || !ids_is_uuid(id)) {
        http_resp_error(resp, 404, "not_found", "no such experiment", NULL);
        return NULL;
    }
    return id;
}

static void exp_fail(struct http_resp *resp, int rc)
{
    if (rc == -ENOENT)
        http_resp_error(resp, 404, "not_found", "no such experiment", NULL);
    else
        http_resp_errno(resp, rc, NULL);
}

static void exp_invalid(struct http_resp *resp, json_t *details)
{
    char msg[512];
    runspec_message(details, msg, sizeof(msg));
    http_resp_error(resp, 422, "validation_failed", msg, details);
}

/* ------------------------------------------------------------------ submit */

/* What the submission learned from the selection service and the data. */
struct exp_facts {
    char version[80];
    char task[16];
    char *reason; /* owned */
};

static char *exp_join_reasons(const json_t *reasons)
{
    struct buf b;
    buf_init(&b, 4096);
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(reasons, "reasons"), i, r)
    {
        if (json_is_string(r) &&
            ((i && buf_append_str(&b, "; ") != 0) || buf_append_str(&b, json_string_value(r)) != 0))
            break;
    }
    return buf_steal(&b);
}

/* The task from the data when the request left it out. 0, or the response is set. */
static int exp_detect(struct http_req *req, struct http_resp *resp, const struct run_spec *sp,
                      struct exp_facts *f)
{
    struct svc *s = req->app;
    char err[PL_ERROR_MAX] = "";
    struct frame *data = NULL;
    int rc = datasrc_frame(s, svc_bearer(req), f->version, &data, err, sizeof(err));
    if (rc) {
        http_resp_error(resp, rc == -ENOENT ? 422 : 503,
                        rc == -ENOENT ? "validation_failed" : "dataset_unavailable", err,
                        rc == -ENOENT ? runspec_problem("dataset_id", err) : NULL);
        return -1;
    }
    enum ml_task task = 0;
    json_t *reasons = NULL;
    rc = mlrun_detect_task(data, sp->target_column, &task, &reasons);
    frame_free(data);
    if (rc) {
        json_decref(reasons);
        exp_invalid(resp, runspec_problem("target_column",
                                          "cannot be a target (text, or without any value)"));
        return -1;
    }
    snprintf(f->task, sizeof(f->task), "%s",
             task == ML_REGRESSION ? "regression" : "classification");
    f->reason = exp_join_reasons(reasons);
    json_decref(reasons);
    return 0;
}

/* The dataset exists, the caller sees it and it has the target column; the task is known.
 * 0, or the response is set. */
static int exp_check_data(struct http_req *req, struct http_resp *resp, struct run_spec *sp,
                          struct exp_facts *f)
{
    json_t *ds = NULL;
    int rc = datasrc_dataset(req->app, svc_bearer(req), sp->dataset_id, &ds);
    if (rc == -ENOENT) {
        exp_invalid(resp, runspec_problem("dataset_id", "no such dataset, or you cannot see it"));
        return -1;
    }
    if (rc) {
        http_resp_error(resp, 503, "dataset_unavailable",
                        "the dataset service cannot be reached; retry shortly", NULL);
        return -1;
    }
    const char *version = jsonv_str(ds, "version");
    if (!version || !version[0])
        version = sp->dataset_id;
    snprintf(f->version, sizeof(f->version), "%s", version);
    int has = datasrc_has_column(ds, sp->target_column);
    json_decref(ds);
    if (!has) {
        exp_invalid(resp, runspec_problem("target_column", "is not a column of the dataset"));
        return -1;
    }
    if (sp->task_type[0]) {
        snprintf(f->task, sizeof(f->task), "%s", sp->task_type);
        f->reason = strdup("given in the request");
        return 0;
    }
    if (exp_detect(req, resp, sp, f) != 0)
        return -1;
    snprintf(sp->task_type, sizeof(sp->task_type), "%s", f->task);
    return 0;
}

static void exp_created(struct http_req *req, struct http_resp *resp, json_t *run, int created)
{
    struct svc *s = req->app;
    const char *id = json_string_value(json_object_get(run, "id"));
    const char *user = json_string_value(json_object_get(run, "user_id"));
    if (created && id && user && events_request(s, id, user) == 0)
        store_run_published(s, id);
    if (created && id && user)
        (void)events_usage(s, req->request_id, user, req->claims.key_id, id,
                           json_string_value(json_object_get(run, "algorithm")));
    char loc[128];
    snprintf(loc, sizeof(loc), "/api/v1/experiments/%s", id ? id : "");
    http_resp_header(resp, "Location", loc);
    if (!created)
        http_resp_header(resp, "Idempotent-Replayed", "true");
    http_resp_json(resp, created ? 202 : 200, run);
}

static void exp_record(struct http_req *req, struct http_resp *resp, const struct run_spec *sp,
                       const struct exp_facts *f, const char *idem, const char *hash)
{
    struct run_new n = {
        sp, req->claims.sub, req->claims.role, f->version, f->task, f->reason, idem, hash};
    json_t *run = NULL;
    int created = 0;
    int rc = store_run_create(req->app, &n, exp_cfg(req)->max_active, &run, &created);
    if (rc == -EDQUOT) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "you already have %ld experiments pending or running; wait for one to end "
                 "or cancel one",
                 exp_cfg(req)->max_active);
        http_resp_header(resp, "Retry-After", EXP_RETRY_AFTER);
        http_resp_error(resp, 429, "too_many_experiments", msg,
                        json_pack("{s:I}", "limit", (json_int_t)exp_cfg(req)->max_active));
    } else if (rc == -EEXIST) {
        http_resp_error(resp, 422, "idempotency_key_reused",
                        "this Idempotency-Key was used for another request body", NULL);
    } else if (rc) {
        http_resp_errno(resp, rc, NULL);
    } else {
        exp_created(req, resp, run, created);
    }
}

void exp_create(struct http_req *req, struct http_resp *resp)
{
    const char *idem = NULL;
    json_t *body = NULL;
    if (http_req_idempotency_key(req, resp, &idem) != 0 || http_req_json(req, resp, &body) != 0)
        return;
    struct run_spec sp;
    json_t *details = NULL;
    if (runspec_parse(body, &sp, &details) != 0) {
        json_decref(body);
        exp_invalid(resp, details);
        return;
    }
    char hash[HASH_SHA256_HEX_LEN + 1] = "";
    char *canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(body);
    if (canon)
        hash_sha256_hex(canon, strlen(canon), hash);
    free(canon);
    struct exp_facts f;
    memset(&f, 0, sizeof(f));
    if (exp_check_data(req, resp, &sp, &f) == 0) {
        if (runspec_check_learner(&sp, &details) != 0)
            exp_invalid(resp, details);
        else
            exp_record(req, resp, &sp, &f, idem, hash);
    }
    free(f.reason);
    runspec_release(&sp);
}

/* ------------------------------------------------------------------ reads */

void exp_get(struct http_req *req, struct http_resp *resp)
{
    const char *id = exp_id(req, resp);
    if (!id)
        return;
    json_t *run = NULL;
    int rc = store_run_get(req->app, id, req->claims.sub, svc_is_admin(req), &run);
    if (rc) {
        exp_fail(resp, rc);
        return;
    }
    http_resp_json(resp, 200, run);
}

static int exp_list_query(struct http_req *req, struct http_resp *resp, long *page, long *size)
{
    const char *p = http_req_query(req, "page"), *ps = http_req_query(req, "page_size");
    const char *status = http_req_query(req, "status"),
               *project = http_req_query(req, "project_id");
    static const char *const statuses[] = {"pending", "running", "completed", "failed",
                                           "cancelled"};
    int status_ok = !status;
    for (size_t i = 0; status && i < sizeof(statuses) / sizeof(statuses[0]); i++)
        status_ok |= strcmp(status, statuses[i]) == 0;
    const char *bad = NULL;
    if (p && num_parse_long(p, 1, 1000000, page) != 0)
        bad = "page must be an integer from 1";
    else if (ps && num_parse_long(ps, 1, 100, size) != 0)
        bad = "page_size must be an integer from 1 to 100";
    else if (!status_ok)
        bad = "status must be pending, running, completed, failed or cancelled";
    else if (project && !ids_is_uuid(project))
        bad = "project_id must be a UUID";
    if (bad)
        http_resp_error(resp, 400, "invalid_query", bad, NULL);
    return bad ? -1 : 0;
}

void exp_list(struct http_req *req, struct http_resp *resp)
{
    long page = 1, size = 20;
    if (exp_list_query(req, resp, &page, &size) != 0)
        return;
    json_t *out = NULL;
    int rc = store_run_list(req->app, req->claims.sub, svc_is_admin(req),
                            http_req_query(req, "project_id"), http_req_query(req, "status"), page,
                            size, &out);
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        return;
    }
    json_int_t total = json_integer_value(json_object_get(out, "total_count"));
    json_object_set_new(out, "page", json_integer(page));
    json_object_set_new(out, "page_size", json_integer(size));
    json_object_set_new(out, "total_pages", json_integer((total + size - 1) / size));
    http_resp_json(resp, 200, out);
}

static void exp_not_ready(struct http_resp *resp, const char *status, const char *what)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "the experiment is %s; its %s exist once it is completed", status,
             what);
    http_resp_error(resp, 409, "not_completed", msg, json_pack("{s:s}", "status", status));
}

void exp_results(struct http_req *req, struct http_resp *resp)
{
    const char *id = exp_id(req, resp);
    if (!id)
        return;
    char status[16] = "";
    json_t *res = NULL;
    int rc = store_run_results(req->app, id, req->claims.sub, svc_is_admin(req), status, &res);
    if (rc)
        exp_fail(resp, rc);
    else if (!res)
        exp_not_ready(resp, status, "results");
    else
        http_resp_json(resp, 200, res);
}

void exp_model(struct http_req *req, struct http_resp *resp)
{
    const char *id = exp_id(req, resp);
    if (!id)
        return;
    char status[16] = "", model[BLOB_ID_LEN + 1] = "";
    int rc = store_run_model(req->app, id, req->claims.sub, svc_is_admin(req), status, model);
    if (rc) {
        exp_fail(resp, rc);
        return;
    }
    if (strcmp(status, "completed") != 0 || !model[0]) {
        exp_not_ready(resp, status, "model files");
        return;
    }
    char name[80];
    snprintf(name, sizeof(name), "model-%s.ibxmodel", id);
    artifact_respond(req->app, resp, model, "application/octet-stream", name);
}

/* ------------------------------------------------------------------ cancel, delete */

static void exp_news(struct svc *s, const char *type, const char *id, const char *user,
                     const char *model)
{
    char at[40];
    clock_iso8601(clock_wall_ms(), at, sizeof(at));
    json_t *ev =
        json_pack("{s:s, s:s, s:s, s:s?, s:s}", "type", type, "experiment_id", id, "user_id", user,
                  "artifact_sha256", model && model[0] ? model : NULL, "at", at);
    if (ev)
        (void)events_news(s, id, ev);
    json_decref(ev);
}

void exp_cancel(struct http_req *req, struct http_resp *resp)
{
    const char *id = exp_id(req, resp);
    if (!id)
        return;
    json_t *run = NULL;
    char status[16] = "";
    int rc = store_run_cancel(req->app, id, req->claims.sub, svc_is_admin(req), &run, status);
    if (rc == -EALREADY) {
        char msg[120];
        snprintf(msg, sizeof(msg), "the experiment has already ended (%s)", status);
        http_resp_error(resp, 409, "already_ended", msg, json_pack("{s:s}", "status", status));
        return;
    }
    if (rc) {
        exp_fail(resp, rc);
        return;
    }
    exp_news(req->app, "experiment.cancelled", id,
             json_string_value(json_object_get(run, "user_id")), NULL);
    http_resp_json(resp, 200, run);
}

void exp_delete(struct http_req *req, struct http_resp *resp)
{
    const char *id = exp_id(req, resp);
    if (!id)
        return;
    char model[BLOB_ID_LEN + 1] = "", owner[37] = "";
    int rc = store_run_delete(req->app, id, req->claims.sub, svc_is_admin(req), model, owner);
    if (rc) {
        exp_fail(resp, rc);
        return;
    }
    artifact_release(req->app, model);
    exp_news(req->app, "experiment.deleted", id, owner, model);
    http_resp_json(resp, 200, json_pack("{s:s, s:s}", "message", "experiment deleted", "id", id));
}
