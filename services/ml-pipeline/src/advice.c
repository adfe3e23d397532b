/* advice: GET /algorithms (the learner catalogue) and the deterministic advice on a
 * dataset's target: task type and ranked algorithms, each with its reasons. */
#include "pipeline.h"

#include <ibx/ids.h>
#include <ibx/jsonv.h>
#include <ibx/learner.h>
#include <ibx/mlrun.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

void advice_algorithms(struct http_req *req, struct http_resp *resp)
{
    json_t *cat = learner_catalogue_json();
    if (!cat) {
        http_resp_errno(resp, -ENOMEM, NULL);
        return;
    }
    http_resp_json(resp, 200, cat);
}

static const struct jsonv_field advice_fields[] = {
    {"dataset_id", JSONV_STRING, 1, 36, 1, 0, 0},
    {"target_column", JSONV_STRING, 1, PL_COLUMN_MAX, 1, 0, 0},
    {"task_type", JSONV_STRING, 0, 16, 1, 0, 1},
};

static void advice_invalid(struct http_resp *resp, json_t *details)
{
    char msg[512];
    runspec_message(details, msg, sizeof(msg));
    http_resp_error(resp, 422, "validation_failed", msg, details);
}

/* The body's fields checked; *task 0 when absent. 0, or the response is set. */
static int advice_body(struct http_req *req, struct http_resp *resp, json_t **body,
                       enum ml_task *task)
{
    json_t *details = NULL;
    if (http_req_json(req, resp, body) != 0)
        return -1;
    if (jsonv_check(*body, advice_fields, sizeof(advice_fields) / sizeof(advice_fields[0]), 1,
                    &details) != 0) {
        advice_invalid(resp, details);
        return -1;
    }
    const char *t = jsonv_str(*body, "task_type");
    *task = 0;
    if (t && strcmp(t, "classification") == 0)
        *task = ML_CLASSIFICATION;
    else if (t && strcmp(t, "regression") == 0)
        *task = ML_REGRESSION;
    else if (t)
        details = runspec_problem("task_type", "must be classification or regression");
    else if (!ids_is_uuid(jsonv_str(*body, "dataset_id")))
        details = runspec_problem("dataset_id", "must be a UUID");
    if (details) {
        advice_invalid(resp, details);
        return -1;
    }
    return 0;
}

/* The dataset as the caller sees it, loaded, with the target column. 0, or the response
 * is set. */
static int advice_frame(struct http_req *req, struct http_resp *resp, const char *dataset_id,
                        const char *target, struct frame **out)
{
    json_t *ds = NULL;
    int rc = datasrc_dataset(req->app, svc_bearer(req), dataset_id, &ds);
    if (rc) {
        if (rc == -ENOENT)
            advice_invalid(resp,
                           runspec_problem("dataset_id", "no such dataset, or you cannot see it"));
        else
            http_resp_error(resp, 503, "dataset_unavailable",
                            "the dataset service cannot be reached; retry shortly", NULL);
        return -1;
    }
    char ref[80];
    const char *v = jsonv_str(ds, "version");
    snprintf(ref, sizeof(ref), "%s", v && v[0] ? v : dataset_id);
    int has = datasrc_has_column(ds, target);
    json_decref(ds);
    if (!has) {
        advice_invalid(resp, runspec_problem("target_column", "is not a column of the dataset"));
        return -1;
    }
    char err[PL_ERROR_MAX] = "";
    rc = datasrc_frame(req->app, svc_bearer(req), ref, out, err, sizeof(err));
    if (rc)
        http_resp_error(resp, rc == -EMSGSIZE ? 413 : 503,
                        rc == -EMSGSIZE ? "dataset_too_large" : "dataset_unavailable", err, NULL);
    return rc ? -1 : 0;
}

void advice_task_type(struct http_req *req, struct http_resp *resp)
{
    json_t *body = NULL;
    enum ml_task task = 0;
    struct frame *data = NULL;
    if (advice_body(req, resp, &body, &task) != 0 ||
        advice_frame(req, resp, jsonv_str(body, "dataset_id"), jsonv_str(body, "target_column"),
                     &data) != 0) {
        json_decref(body);
        return;
    }
    json_t *out = NULL;
    int rc = mlrun_detect_task(data, jsonv_str(body, "target_column"), &task, &out);
    frame_free(data);
    if (rc == -EINVAL)
        advice_invalid(resp, runspec_problem("target_column",
                                             "cannot be a target (text, or without any value)"));
    else if (rc)
        http_resp_errno(resp, rc, NULL);
    else {
        json_object_set(out, "dataset_id", json_object_get(body, "dataset_id"));
        json_object_set_new(out, "task_type",
                            json_string(task == ML_REGRESSION ? "regression" : "classification"));
        http_resp_json(resp, 200, out);
        out = NULL;
    }
    json_decref(out);
    json_decref(body);
}

void advice_algorithm(struct http_req *req, struct http_resp *resp)
{
    json_t *body = NULL;
    enum ml_task task = 0;
    struct frame *data = NULL;
    if (advice_body(req, resp, &body, &task) != 0 ||
        advice_frame(req, resp, jsonv_str(body, "dataset_id"), jsonv_str(body, "target_column"),
                     &data) != 0) {
        json_decref(body);
        return;
    }
    json_t *out = NULL;
    int rc = mlrun_advise_algorithms(data, jsonv_str(body, "target_column"), task, &out);
    frame_free(data);
    if (rc == -EINVAL)
        advice_invalid(resp, runspec_problem("target_column",
                                             "cannot be a target (text, or without any value)"));
    else if (rc)
        http_resp_errno(resp, rc, NULL);
    else {
        json_object_set(out, "dataset_id", json_object_get(body, "dataset_id"));
        http_resp_json(resp, 200, out);
        out = NULL;
    }
    json_decref(out);
    json_decref(body);
}
