/* deploy: deployments of an experiment's model (fetched from ml-pipeline as its owner,
 * kept in this service's artifact store, loaded in the registry) and predictions. */
#include "serving.h"

#include <ibx/clock.h>
#include <ibx/hash.h>
#include <ibx/httpc.h>
#include <ibx/ids.h>
#include <ibx/log.h>
#include <ibx/prep.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEP_META_TIMEOUT_MS 15000L
#define DEP_FILE_TIMEOUT_MS 600000L

static struct sv_app *dep_app(struct http_req *req)
{
    return ((struct svc *)req->app)->app;
}

/* [a-z0-9][a-z0-9_-]{0,63} */
static int dep_name_ok(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len > SV_NAME_MAX || n[0] == '-' || n[0] == '_')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-' ||
              n[i] == '_'))
            return 0;
    return 1;
}

/* GET pipeline_url + path as token's user into *out (any status). 0, -EMSGSIZE, -EIO. */
static int dep_fetch(struct sv_app *app, const char *path, const char *token, long timeout_ms,
                     size_t max, struct httpc_resp *out)
{
    char url[1024], auth[AUTH_MAX_TOKEN + 32];
    snprintf(url, sizeof(url), "%s%s", app->cfg.pipeline_url, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *hdrs[] = {auth, "Accept: application/json, application/octet-stream", NULL};
    struct httpc_req r;
    httpc_req_init(&r, "GET", url);
    r.headers = hdrs;
    r.timeout_ms = timeout_ms;
    r.max_response = max;
    int rc = httpc_do(&r, out);
    explicit_bzero(auth, sizeof(auth));
    if (rc && rc != -EMSGSIZE) {
        log_warn("GET %s failed (%s)", url, strerror(-rc));
        return -EIO;
    }
    return rc;
}

/* The experiment's model_sha256 when it is the caller's and completed: 0, -ENOENT,
 * -EAGAIN (not completed), -EIO. */
static int dep_experiment(struct sv_app *app, const char *token, const char *id, char sha[65])
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/experiments/%s", id);
    struct httpc_resp resp;
    memset(&resp, 0, sizeof(resp));
    int rc = dep_fetch(app, path, token, DEP_META_TIMEOUT_MS, 0, &resp);
    if (rc)
        return -EIO;
    long status = resp.status;
    json_t *v = status == 200 ? json_loadb(buf_str(&resp.body), resp.body.len, 0, NULL) : NULL;
    httpc_resp_release(&resp);
    if (status == 404 || status == 400 || status == 403)
        rc = -ENOENT;
    else if (!json_is_object(v))
        rc = -EIO;
    else if (strcmp(json_string_value(json_object_get(v, "status")) ?: "", "completed") != 0)
        rc = -EAGAIN;
    else {
        const char *m = json_string_value(json_object_get(v, "model_sha256"));
        if (m && strlen(m) == 64)
            memcpy(sha, m, 65); /* 64 digits and the NUL */
        else
            rc = -EAGAIN;
    }
    json_decref(v);
    return rc;
}

int dep_load_bytes(const void *data, size_t len, struct model **out, char *err, size_t errlen)
{
    struct model *m = NULL;
    char why[256] = "";
    int rc = model_load(data, len, &m, why, sizeof(why));
    if (rc) {
        snprintf(err, errlen, "the model file is not readable: %s",
                 rc == -EINVAL ? why : "not enough memory");
        return rc;
    }
    /* warm-up: one prediction on a row of zeros in the model's feature space */
    size_t p = prep_n_features(model_prep(m));
    double *x = calloc(p ? p : 1, sizeof(*x)), pred = 0;
    struct ml_matrix mx = {x, 1, p};
    rc = x ? model_predict_matrix(m, &mx, &pred, NULL) : -ENOMEM;
    free(x);
    if (rc) {
        snprintf(err, errlen, "the model does not predict (%s)", strerror(-rc));
        model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* Fetch, verify and load the experiment's model into e; answers resp on failure. */
static int dep_fetch_model(struct svc *s, struct http_req *req, struct http_resp *resp,
                           struct sv_entry *e, struct buf *bytes)
{
    struct sv_app *app = s->app;
    char *token = NULL;
    int rc = svc_internal_token(s, req->claims.sub, req->claims.role, &token);
    if (rc) {
        http_resp_error(resp, 503, "unavailable", "no internal token to call ml-pipeline", NULL);
        return rc;
    }
    rc = dep_experiment(app, token, e->experiment_id, e->sha256);
    if (rc == -ENOENT)
        http_resp_error(resp, 404, "not_found", "no such experiment", NULL);
    else if (rc == -EAGAIN)
        http_resp_error(resp, 409, "conflict", "the experiment is not completed (no model yet)",
                        NULL);
    else if (rc)
        http_resp_error(resp, 503, "unavailable", "ml-pipeline could not be reached", NULL);
    if (rc)
        goto out;
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/model", e->experiment_id);
    struct httpc_resp r;
    memset(&r, 0, sizeof(r));
    rc = dep_fetch(app, path, token, DEP_FILE_TIMEOUT_MS, (size_t)app->cfg.max_model_mb << 20, &r);
    if (rc == -EMSGSIZE) {
        http_resp_error(resp, 413, "too_large", "the model file is larger than this service loads",
                        NULL);
        goto out;
    }
    if (rc || r.status != 200) {
        if (!rc)
            httpc_resp_release(&r);
        http_resp_error(resp, 503, "unavailable", "the model file could not be fetched", NULL);
        rc = -EIO;
        goto out;
    }
    *bytes = r.body;
    memset(&r.body, 0, sizeof(r.body));
    httpc_resp_release(&r);
    char got[65];
    hash_sha256_hex(bytes->data, bytes->len, got);
    if (strcmp(got, e->sha256) != 0) {
        http_resp_error(resp, 502, "bad_gateway",
                        "the model file does not match the experiment's SHA-256", NULL);
        rc = -EIO;
        goto out;
    }
    char err[320];
    rc = dep_load_bytes(bytes->data, bytes->len, &e->model, err, sizeof(err));
    if (rc)
        http_resp_error(resp, 422, "unprocessable", err, NULL);
out:
    if (token)
        explicit_bzero(token, strlen(token));
    free(token);
    return rc;
}

static json_t *dep_json(const struct sv_entry *e)
{
    const json_t *meta = model_meta(e->model);
    return json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:O, s:O, s:O}", "id", e->id, "name", e->name,
                     "version", e->version, "experiment_id", e->experiment_id, "model_sha256",
                     e->sha256, "status", "ready", "task", json_object_get(meta, "task"),
                     "feature_names", json_object_get(meta, "feature_names"), "input_schema",
                     json_object_get(meta, "input_schema"));
}

void dep_create(struct http_req *req, struct http_resp *resp)
{
    struct svc *s = req->app;
    struct sv_app *app = s->app;
    json_t *body = NULL;
    struct buf bytes;
    memset(&bytes, 0, sizeof(bytes));
    struct sv_entry *e = calloc(1, sizeof(*e));
    if (!e) {
        http_resp_errno(resp, -ENOMEM, "out of memory");
        return;
    }
    if (http_req_json(req, resp, &body) != 0)
        goto out;
    const char *exp = json_string_value(json_object_get(body, "experiment_id"));
    const char *name = json_string_value(json_object_get(body, "name"));
    if (!exp || !ids_is_uuid(exp) || !dep_name_ok(name)) {
        http_resp_error(resp, 400, "invalid_request",
                        "give experiment_id (a UUID) and name ([a-z0-9][a-z0-9_-]{0,63})", NULL);
        goto out;
    }
    memcpy(e->experiment_id, exp, 37); /* 36 characters and the NUL */
    memcpy(e->name, name, strlen(name) + 1);
    snprintf(e->user_id, sizeof(e->user_id), "%s", req->claims.sub);
    ids_uuid4(e->id);
    if (dep_fetch_model(s, req, resp, e, &bytes) != 0)
        goto out;
    char id[BLOB_ID_LEN + 1];
    int rc = blob_put(app->blobs, bytes.data, bytes.len, "application/octet-stream", id);
    /* two deployments of one name at once may pick the same version: the loser retries */
    for (int attempt = 0; rc == 0 && attempt < 3; attempt++) {
        rc = store_insert(s, e, &e->version);
        if (rc != -EEXIST)
            break;
        rc = attempt < 2 ? 0 : rc;
    }
    if (rc) {
        http_resp_errno(resp, rc, "the deployment could not be stored");
        goto out;
    }
    json_t *out = dep_json(e);
    reg_add(&app->reg, e);
    e = NULL;
    http_resp_json(resp, 201, out);
out:
    buf_release(&bytes);
    json_decref(body);
    reg_entry_free(e);
}

void dep_delete(struct http_req *req, struct http_resp *resp)
{
    struct svc *s = req->app;
    const char *name = http_req_param(req, "name");
    json_t *shas = NULL;
    int rc = dep_name_ok(name) ? store_delete(s, req->claims.sub, name, &shas) : -ENOENT;
    if (rc) {
        http_resp_errno(resp, rc, rc == -ENOENT ? "no such deployment" : "deletion failed");
        return;
    }
    reg_remove(&dep_app(req)->reg, req->claims.sub, name);
    size_t i;
    json_t *v;
    json_array_foreach(shas, i, v)
    {
        if (blob_delete(dep_app(req)->blobs, json_string_value(v)) != 0)
            log_warn("artifact %s of a deleted deployment was not deleted", json_string_value(v));
    }
    json_decref(shas);
    http_resp_data(resp, 204, NULL, NULL, 0);
}

void dep_predict(struct http_req *req, struct http_resp *resp)
{
    struct sv_app *app = dep_app(req);
    const char *name = http_req_param(req, "name");
    double t0 = clock_mono_s();
    struct sv_entry *e = reg_get(&app->reg, req->claims.sub, name ?: "", 0);
    json_t *body = NULL, *out = NULL, *problems = NULL;
    if (!e) {
        http_resp_error(resp, 404, "not_found", "no such model", NULL);
        return;
    }
    if (http_req_json(req, resp, &body) != 0)
        goto out;
    json_t *inst = json_object_get(body, "instances");
    if (!json_is_array(inst) || json_array_size(inst) == 0 || json_array_size(inst) > SV_MAX_ROWS) {
        http_resp_error(resp, 422, "unprocessable",
                        "instances must be an array of 1 to 10000 objects {feature: value}", NULL);
        goto out;
    }
    int rc = model_predict_rows(e->model, inst, &out, &problems);
    if (rc == -EINVAL) {
        http_resp_error(resp, 422, "unprocessable", "some instances cannot be predicted",
                        json_pack("{s:o}", "problems", problems ? problems : json_array()));
        problems = NULL;
        goto out;
    }
    if (rc) {
        http_resp_errno(resp, rc, "prediction failed");
        goto out;
    }
    json_t *preds = json_object_get(out, "predictions");
    json_object_set_new(out, "model", json_string(e->name));
    json_object_set_new(out, "version", json_integer(e->version));
    if (model_task(e->model) == ML_CLASSIFICATION)
        json_object_set(out, "labels", preds);
    http_resp_json(resp, 200, out);
    out = NULL;
out:
    smetrics_observe(e, "predict", json_array_size(json_object_get(body, "instances")), t0,
                     resp->status);
    json_decref(out);
    json_decref(problems);
    json_decref(body);
    reg_put(&app->reg, e);
}

/* One stored deployment back into the registry. */
static int dep_reload_one(struct svc *s, const json_t *row)
{
    struct sv_app *app = s->app;
    struct buf bytes;
    memset(&bytes, 0, sizeof(bytes));
    struct sv_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    snprintf(e->id, sizeof(e->id), "%s", json_string_value(json_object_get(row, "id")) ?: "");
    snprintf(e->user_id, sizeof(e->user_id), "%s",
             json_string_value(json_object_get(row, "user_id")) ?: "");
    snprintf(e->name, sizeof(e->name), "%s", json_string_value(json_object_get(row, "name")) ?: "");
    snprintf(e->experiment_id, sizeof(e->experiment_id), "%s",
             json_string_value(json_object_get(row, "experiment_id")) ?: "");
    snprintf(e->sha256, sizeof(e->sha256), "%s",
             json_string_value(json_object_get(row, "sha256")) ?: "");
    e->version = (int)json_integer_value(json_object_get(row, "version"));
    char err[320] = "";
    bytes.limit = (size_t)app->cfg.max_model_mb << 20;
    int rc = blob_get(app->blobs, e->sha256, &bytes);
    if (rc == 0)
        rc = dep_load_bytes(bytes.data, bytes.len, &e->model, err, sizeof(err));
    buf_release(&bytes);
    if (rc) {
        log_error("deployment %s (%s v%d) not reloaded: %s", e->id, e->name, e->version,
                  err[0] ? err : strerror(-rc));
        reg_entry_free(e);
        return rc;
    }
    reg_add(&app->reg, e);
    return 0;
}

int dep_reload(struct svc *s)
{
    json_t *rows = NULL;
    int rc = store_all_ready(s, &rows);
    if (rc)
        return rc;
    size_t i, n = 0;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (dep_reload_one(s, row) == 0)
            n++;
    }
    log_info("%zu of %zu deployments loaded", n, json_array_size(rows));
    json_decref(rows);
    return 0;
}
