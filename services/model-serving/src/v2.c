/* v2: the KServe V2 (Open Inference Protocol) REST routes: health, server and model
 * metadata, readiness, infer (tensors in, predictions and probabilities out) and the
 * explain extension (SHAP values). Errors are {"error": "..."} as the protocol says. */
#include "serving.h"

#include <ibx/clock.h>
#include <ibx/explain.h>
#include <ibx/prep.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void v2_error(struct http_resp *resp, int status, const char *msg)
{
    http_resp_json(resp, status, json_pack("{s:s}", "error", msg));
}

/* API keys need the predict scope; user tokens may call. */
static int v2_allowed(const struct http_req *req)
{
    if (!req->claims.key_id[0])
        return 1;
    const char *p = req->claims.scopes;
    size_t n = strlen("predict");
    while ((p = strstr(p, "predict")) != NULL) {
        int start = p == req->claims.scopes || p[-1] == ' ';
        if (start && (p[n] == '\0' || p[n] == ' '))
            return 1;
        p += n;
    }
    return 0;
}

/* The caller's model {name} at {version} (absent: the latest), referenced; NULL after
 * answering 403/404. */
static struct sv_entry *v2_model(struct http_req *req, struct http_resp *resp)
{
    if (!v2_allowed(req)) {
        v2_error(resp, 403, "this API key lacks the predict scope");
        return NULL;
    }
    struct sv_app *app = ((struct svc *)req->app)->app;
    const char *name = http_req_param(req, "name");
    const char *ver = http_req_param(req, "version");
    int version = 0;
    if (ver) {
        char *end = NULL;
        long v = strtol(ver, &end, 10);
        version = *ver && end && *end == '\0' && v >= 1 && v <= 1000000 ? (int)v : -1;
    }
    struct sv_entry *e =
        version >= 0 ? reg_get(&app->reg, req->claims.sub, name ? name : "", version) : NULL;
    if (!e)
        v2_error(resp, 404, "no such model or version");
    return e;
}

void v2_live(struct http_req *req, struct http_resp *resp)
{
    http_resp_json(resp, 200, json_pack("{s:b}", "live", 1));
}

void v2_ready(struct http_req *req, struct http_resp *resp)
{
    http_resp_json(resp, 200, json_pack("{s:b}", "ready", 1));
}

void v2_server(struct http_req *req, struct http_resp *resp)
{
    http_resp_json(resp, 200,
                   json_pack("{s:s, s:s, s:[s]}", "name", "ibis-x-model-serving", "version", "1",
                             "extensions", "explain"));
}

static const char *v2_datatype(const char *type)
{
    if (strcmp(type, "number") == 0)
        return "FP64";
    if (strcmp(type, "boolean") == 0)
        return "BOOL";
    return "BYTES";
}

void v2_model_meta(struct http_req *req, struct http_resp *resp)
{
    struct sv_entry *e = v2_model(req, resp);
    if (!e)
        return;
    struct sv_app *app = ((struct svc *)req->app)->app;
    json_t *schema = prep_schema_json(model_prep(e->model));
    json_t *inputs = json_array(), *col;
    size_t i, nclasses = 0;
    json_array_foreach(schema, i, col)
    {
        const char *type = json_string_value(json_object_get(col, "type"));
        json_array_append_new(inputs,
                              json_pack("{s:O, s:s, s:[i]}", "name", json_object_get(col, "name"),
                                        "datatype", v2_datatype(type ? type : ""), "shape", -1));
    }
    json_decref(schema);
    int cls = model_task(e->model) == ML_CLASSIFICATION;
    (void)prep_classes(model_prep(e->model), &nclasses);
    json_t *outputs = json_pack("[{s:s, s:s, s:[i]}]", "name", "predictions", "datatype",
                                cls ? "BYTES" : "FP64", "shape", -1);
    if (cls)
        json_array_append_new(outputs, json_pack("{s:s, s:s, s:[i,i]}", "name", "probabilities",
                                                 "datatype", "FP64", "shape", -1, (int)nclasses));
    char v[16];
    snprintf(v, sizeof(v), "%d", e->version);
    json_t *versions = json_array();
    for (int k = 1; k <= e->version; k++) {
        struct sv_entry *o = reg_get(&app->reg, e->user_id, e->name, k);
        if (o) {
            char kv[16];
            snprintf(kv, sizeof(kv), "%d", k);
            json_array_append_new(versions, json_string(kv));
            reg_put(&app->reg, o);
        }
    }
    http_resp_json(resp, 200,
                   json_pack("{s:s, s:o, s:s, s:s, s:o, s:o}", "name", e->name, "versions",
                             versions, "platform", "ibis-x", "model_version", v, "inputs", inputs,
                             "outputs", outputs));
    reg_put(&app->reg, e);
}

void v2_model_ready(struct http_req *req, struct http_resp *resp)
{
    struct sv_entry *e = v2_model(req, resp);
    if (!e)
        return;
    http_resp_json(resp, 200, json_pack("{s:s, s:b}", "name", e->name, "ready", 1));
    reg_put(&((struct sv_app *)((struct svc *)req->app)->app)->reg, e);
}

/* Rows of a tensor: shape [n] or [n, 1] per feature, [n, p] for all. */
static int v2_shape(const json_t *in, size_t *n, size_t *p)
{
    json_t *shape = json_object_get(in, "shape");
    size_t dims = json_array_size(shape);
    if (!json_is_array(shape) || dims < 1 || dims > 2)
        return -EINVAL;
    json_int_t a = json_integer_value(json_array_get(shape, 0));
    json_int_t b = dims == 2 ? json_integer_value(json_array_get(shape, 1)) : 1;
    if (a < 1 || a > SV_MAX_ROWS || b < 1 || b > 100000)
        return -EINVAL;
    *n = (size_t)a;
    *p = (size_t)b;
    return 0;
}

static int v2_numeric(const char *dt)
{
    return strcmp(dt, "FP64") == 0 || strcmp(dt, "FP32") == 0 || strcmp(dt, "INT64") == 0 ||
           strcmp(dt, "INT32") == 0;
}

/* Put value v (borrowed) of tensor in at [row] under column name of instances. */
static int v2_put(json_t *instances, size_t row, const char *name, json_t *v)
{
    if (!v)
        return -EINVAL;
    return json_object_set(json_array_get(instances, row), name, v) == 0 ? 0 : -ENOMEM;
}

/* The V2 request's inputs as JSON instances in the model's input columns: 0, or -EINVAL
 * with a message in err. */
static int v2_instances(const struct sv_entry *e, const json_t *body, json_t **out, char *err,
                        size_t errlen)
{
    json_t *inputs = json_object_get(body, "inputs");
    json_t *schema = prep_schema_json(model_prep(e->model));
    json_t *inst = json_array();
    size_t ncol = json_array_size(schema), n = 0;
    int rc = -EINVAL;
    if (!json_is_array(inputs) || json_array_size(inputs) == 0) {
        snprintf(err, errlen, "inputs must be a non-empty array of tensors");
        goto out;
    }
    int whole = json_array_size(inputs) == 1 && ncol > 1;
    size_t i;
    json_t *in;
    json_array_foreach(inputs, i, in)
    {
        const char *name = json_string_value(json_object_get(in, "name"));
        const char *dt = json_string_value(json_object_get(in, "datatype"));
        json_t *data = json_object_get(in, "data");
        size_t rows = 0, cols = 0;
        if (!name || !dt || !json_is_array(data) || v2_shape(in, &rows, &cols) != 0 ||
            json_array_size(data) != rows * cols) {
            snprintf(err, errlen,
                     "input %zu needs name, datatype, shape [n] or [n, p] (n at most %d) and "
                     "shape-many flat data",
                     i, SV_MAX_ROWS);
            goto out;
        }
        if (i == 0) {
            n = rows;
            for (size_t r = 0; r < n; r++)
                json_array_append_new(inst, json_object());
        } else if (rows != n) {
            snprintf(err, errlen, "input %s has %zu rows, the first input %zu", name, rows, n);
            goto out;
        }
        if (whole) {
            if (!v2_numeric(dt) || cols != ncol) {
                snprintf(err, errlen,
                         "one input must be an FP64, FP32 or INT64 tensor [n, %zu] in feature "
                         "order (or give one input per feature)",
                         ncol);
                goto out;
            }
            for (size_t r = 0; r < n; r++)
                for (size_t c = 0; c < ncol; c++) {
                    const char *col =
                        json_string_value(json_object_get(json_array_get(schema, c), "name"));
                    if ((rc = v2_put(inst, r, col, json_array_get(data, r * ncol + c))) != 0)
                        goto out;
                }
        } else {
            if (cols != 1) {
                snprintf(err, errlen, "input %s must have shape [n] or [n, 1]", name);
                rc = -EINVAL;
                goto out;
            }
            for (size_t r = 0; r < n; r++)
                if ((rc = v2_put(inst, r, name, json_array_get(data, r))) != 0)
                    goto out;
        }
        rc = -EINVAL;
    }
    *out = inst;
    inst = NULL;
    rc = 0;
out:
    json_decref(inst);
    json_decref(schema);
    return rc;
}

/* {"error": "..."} naming the problems of model_predict_rows / explain_instances. */
static void v2_problems(struct http_resp *resp, json_t *problems)
{
    char *text = problems ? json_dumps(problems, JSON_COMPACT) : NULL;
    char msg[2048];
    snprintf(msg, sizeof(msg), "invalid inputs: %s", text ? text : "[]");
    free(text);
    v2_error(resp, 422, msg);
}

/* The parsed body and the instances, or NULL after answering. */
static json_t *v2_request(struct http_req *req, struct http_resp *resp, const struct sv_entry *e,
                          json_t **body)
{
    json_error_t jerr;
    *body = json_loadb(req->body.data ? req->body.data : "", req->body.len, 0, &jerr);
    if (!json_is_object(*body)) {
        v2_error(resp, 400, "the body must be a JSON object");
        return NULL;
    }
    char err[256];
    json_t *inst = NULL;
    if (v2_instances(e, *body, &inst, err, sizeof(err)) != 0) {
        v2_error(resp, 422, err);
        return NULL;
    }
    return inst;
}

static json_t *v2_infer_outputs(const struct sv_entry *e, const json_t *pred)
{
    json_t *preds = json_object_get(pred, "predictions");
    size_t n = json_array_size(preds), k = 0;
    int cls = model_task(e->model) == ML_CLASSIFICATION;
    const char *const *classes = prep_classes(model_prep(e->model), &k);
    json_t *outputs = json_pack("[{s:s, s:s, s:[I], s:O}]", "name", "predictions", "datatype",
                                cls ? "BYTES" : "FP64", "shape", (json_int_t)n, "data", preds);
    if (!cls || !outputs)
        return outputs;
    json_t *data = json_array();
    for (size_t r = 0; r < n; r++) {
        json_t *row = json_array_get(json_object_get(pred, "probabilities"), r);
        for (size_t c = 0; c < k; c++)
            json_array_append_new(data,
                                  json_real(json_number_value(json_object_get(row, classes[c]))));
    }
    json_array_append_new(outputs,
                          json_pack("{s:s, s:s, s:[I,I], s:o}", "name", "probabilities", "datatype",
                                    "FP64", "shape", (json_int_t)n, (json_int_t)k, "data", data));
    return outputs;
}

void v2_infer(struct http_req *req, struct http_resp *resp)
{
    double t0 = clock_mono_s();
    struct sv_entry *e = v2_model(req, resp);
    if (!e)
        return;
    struct sv_app *app = ((struct svc *)req->app)->app;
    json_t *body = NULL, *pred = NULL, *problems = NULL;
    json_t *inst = v2_request(req, resp, e, &body);
    if (!inst)
        goto out;
    int rc = model_predict_rows(e->model, inst, &pred, &problems);
    if (rc == -EINVAL) {
        v2_problems(resp, problems);
        goto out;
    }
    if (rc) {
        v2_error(resp, 500, "prediction failed");
        goto out;
    }
    char v[16];
    snprintf(v, sizeof(v), "%d", e->version);
    json_t *o = json_pack("{s:s, s:s, s:o}", "model_name", e->name, "model_version", v, "outputs",
                          v2_infer_outputs(e, pred));
    if (json_is_string(json_object_get(body, "id")))
        json_object_set(o, "id", json_object_get(body, "id"));
    http_resp_json(resp, 200, o);
out:
    smetrics_observe(e, "infer", json_array_size(inst), t0, resp->status);
    json_decref(inst);
    json_decref(pred);
    json_decref(problems);
    json_decref(body);
    reg_put(&app->reg, e);
}

void v2_explain(struct http_req *req, struct http_resp *resp)
{
    double t0 = clock_mono_s();
    struct sv_entry *e = v2_model(req, resp);
    if (!e)
        return;
    struct sv_app *app = ((struct svc *)req->app)->app;
    json_t *body = NULL, *problems = NULL;
    struct explain_result r;
    memset(&r, 0, sizeof(r));
    json_t *inst = v2_request(req, resp, e, &body);
    if (!inst)
        goto out;
    struct explain_opts o;
    explain_opts_default(&o);
    char err[256] = "";
    int rc = explain_instances(e->model, inst, &o, NULL, &r, &problems, err, sizeof(err));
    if (rc == -EINVAL && problems) {
        v2_problems(resp, problems);
        goto out;
    }
    if (rc) {
        v2_error(resp, rc == -ENOMEM ? 500 : 422, err[0] ? err : "explanation failed");
        goto out;
    }
    json_t *out = explain_result_v2(&r, e->name);
    if (out)
        http_resp_json(resp, 200, out);
    else
        v2_error(resp, 500, "out of memory");
out:
    smetrics_observe(e, "explain", json_array_size(inst), t0, resp->status);
    explain_result_release(&r);
    json_decref(inst);
    json_decref(problems);
    json_decref(body);
    reg_put(&app->reg, e);
}
