/* explanations: the /explanations handlers: submit (checked against the experiment, the
 * method chosen, recorded, then published), read, stream, results, narratives, list,
 * cancel and delete. Only the owner sees an explanation; anyone else gets 404. */
#include "engine.h"

#include <ibx/hash.h>
#include <ibx/ids.h>
#include <ibx/pager.h>
#include <ibx/rowsse.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPL_RETRY_AFTER "20"

/* The {id} path parameter; answers 404 and returns NULL when it is not a UUID. */
static const char *expl_id(struct http_req *req, struct http_resp *resp)
{
    const char *id = http_req_param(req, "id");
    if (!id || !ids_is_uuid(id)) {
        http_resp_error(resp, 404, "not_found", "no such explanation", NULL);
        return NULL;
    }
    return id;
}

static void expl_fail(struct http_resp *resp, int rc)
{
    if (rc == -ENOENT)
        http_resp_error(resp, 404, "not_found", "no such explanation", NULL);
    else
        http_resp_errno(resp, rc, NULL);
}

static void expl_invalid(struct http_resp *resp, json_t *details)
{
    char msg[512];
    xreq_message(details, msg, sizeof(msg));
    http_resp_error(resp, 422, "validation_failed", msg, details);
}

/* ------------------------------------------------------------------ submit */

/* What the submission learned from ml-pipeline. */
struct expl_facts {
    json_t *experiment; /* owned */
    json_t *results;    /* owned */
    enum xe_audience audience;
    const char *audience_source;
    enum xe_used used;
    const char *reason;
};

static void facts_release(struct expl_facts *f)
{
    json_decref(f->experiment);
    json_decref(f->results);
}

/* The experiment is the caller's and completed; its results are read. 0, or the response
 * is set. */
static int expl_experiment(struct http_req *req, struct http_resp *resp, const struct xe_request *r,
                           struct expl_facts *f)
{
    int rc = pipesrc_experiment(req->app, svc_bearer(req), r->experiment_id, &f->experiment);
    const char *owner = json_string_value(json_object_get(f->experiment, "user_id"));
    if (rc == -ENOENT || (rc == 0 && (!owner || strcmp(owner, req->claims.sub) != 0))) {
        expl_invalid(resp, xreq_problem("experiment_id", "no such experiment of yours"));
        return -1;
    }
    if (rc) {
        http_resp_error(resp, 503, "pipeline_unavailable",
                        "the ml-pipeline service cannot be reached; retry shortly", NULL);
        return -1;
    }
    const char *status = json_string_value(json_object_get(f->experiment, "status"));
    if (!status || strcmp(status, "completed") != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "the experiment is %s; only a completed one can be explained",
                 status ? status : "in an unknown state");
        expl_invalid(resp, xreq_problem("experiment_id", msg));
        return -1;
    }
    rc = pipesrc_results(req->app, svc_bearer(req), r->experiment_id, &f->results);
    if (rc) {
        http_resp_error(resp, 503, "pipeline_unavailable",
                        "the experiment's results cannot be read now; retry shortly", NULL);
        return -1;
    }
    return 0;
}

/* The input column name of the experiment's preprocessing report, with its kind. */
static const char *column_kind(const json_t *results, const char *name)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(json_object_get(results, "preprocessing"), "features"), i, c)
    {
        const char *col = json_string_value(json_object_get(c, "column"));
        if (col && strcmp(col, name) == 0)
            return json_string_value(json_object_get(c, "kind"));
    }
    return NULL;
}

/* options.features: only partial dependence draws chosen columns, numeric ones. */
static int check_features(const struct xe_request *r, const struct expl_facts *f, json_t **details)
{
    size_t i;
    const json_t *v;
    if (r->opt.features && f->used != XE_USE_PDP) {
        *details = xreq_problem("options.features",
                                "only partial dependence (method pdp) draws chosen features");
        return -EINVAL;
    }
    json_array_foreach(r->opt.features, i, v)
    {
        const char *kind = column_kind(f->results, json_string_value(v));
        if (!kind || strcmp(kind, "categorical") == 0) {
            char msg[400];
            snprintf(msg, sizeof(msg), "'%s' is not a numeric input column of the model",
                     json_string_value(v));
            *details = xreq_problem("options.features", msg);
            return -EINVAL;
        }
    }
    return 0;
}

/* The instance against the model's own preprocessing. 0, or the response is set. */
static int check_instance(struct http_req *req, struct http_resp *resp, const struct xe_request *r)
{
    struct model *m = NULL;
    char sha[65], err[XE_ERROR_MAX] = "";
    int rc = pipesrc_model(req->app, svc_bearer(req), r->experiment_id, &m, sha, err, sizeof(err));
    if (rc) {
        http_resp_error(resp, 503, "model_unavailable", err, NULL);
        return -1;
    }
    json_t *arr = json_pack("[O]", r->instance), *problems = NULL;
    double *x = NULL;
    size_t n = 0;
    rc = arr ? prep_transform_json_rows(model_prep(m), arr, &x, &n, &problems) : -ENOMEM;
    free(x);
    json_decref(arr);
    model_free(m);
    if (rc == -EINVAL) {
        json_t *details = json_pack("{s:[]}", "fields");
        size_t i;
        const json_t *p;
        json_array_foreach(problems, i, p)
        {
            char field[300];
            snprintf(field, sizeof(field), "instance.%s",
                     json_string_value(json_object_get(p, "field")));
            json_array_append_new(
                json_object_get(details, "fields"),
                json_pack("{s:s, s:O}", "field", field, "problem", json_object_get(p, "message")));
        }
        json_decref(problems);
        expl_invalid(resp, details);
        return -1;
    }
    json_decref(problems);
    if (rc)
        http_resp_errno(resp, rc, NULL);
    return rc ? -1 : 0;
}

/* instance_index against the dataset's row count (when selection says it). */
static int check_index(struct http_req *req, struct http_resp *resp, const struct xe_request *r,
                       const struct expl_facts *f)
{
    json_t *ds = NULL;
    const char *dsid = json_string_value(json_object_get(f->experiment, "dataset_id"));
    if (!dsid || pipesrc_dataset(req->app, svc_bearer(req), dsid, &ds) != 0)
        return 0; /* the worker checks it against the data it loads */
    const json_t *rows = json_object_get(ds, "instances_number");
    long n = json_is_integer(rows) ? (long)json_integer_value(rows) : -1;
    json_decref(ds);
    if (n >= 0 && r->instance_index >= n) {
        char msg[120];
        snprintf(msg, sizeof(msg), "must be below the dataset's %ld rows", n);
        expl_invalid(resp, xreq_problem("instance_index", msg));
        return -1;
    }
    return 0;
}

static void expl_audience(const struct http_req *req, const struct xe_request *r,
                          struct expl_facts *f)
{
    int claim = xe_audience_of_claim(req->claims.aud_level);
    if (r->audience >= 0) {
        f->audience = (enum xe_audience)r->audience;
        f->audience_source = "request";
    } else if (claim >= 0) {
        f->audience = (enum xe_audience)claim;
        f->audience_source = "profile";
    } else {
        f->audience = XE_NOVICE;
        f->audience_source = "default";
    }
}

/* Everything that needs the experiment. 0, or the response is set. */
static int expl_check(struct http_req *req, struct http_resp *resp, const struct xe_request *r,
                      struct expl_facts *f)
{
    if (expl_experiment(req, resp, r, f) != 0)
        return -1;
    expl_audience(req, r, f);
    const json_t *nf =
        json_object_get(json_object_get(f->results, "preprocessing"), "n_features_out");
    size_t p = json_is_integer(nf) ? (size_t)json_integer_value(nf) : 0;
    json_t *details = NULL;
    if (xreq_choose(r, json_string_value(json_object_get(f->experiment, "algorithm")), p,
                    f->audience, &f->used, &f->reason, &details) != 0 ||
        check_features(r, f, &details) != 0) {
        expl_invalid(resp, details);
        return -1;
    }
    if (r->instance && check_instance(req, resp, r) != 0)
        return -1;
    return r->instance_index >= 0 ? check_index(req, resp, r, f) : 0;
}

static void expl_created(struct http_req *req, struct http_resp *resp, json_t *row, int created)
{
    struct svc *s = req->app;
    const char *id = json_string_value(json_object_get(row, "id"));
    if (created && id && events_request(s, id, req->claims.sub) == 0)
        store_expl_published(s, id);
    char loc[128];
    snprintf(loc, sizeof(loc), "/api/v1/explanations/%s", id ? id : "");
    http_resp_header(resp, "Location", loc);
    if (!created)
        http_resp_header(resp, "Idempotent-Replayed", "true");
    http_resp_json(resp, created ? 202 : 200, row);
}

static void expl_record(struct http_req *req, struct http_resp *resp, const struct xe_request *r,
                        const struct expl_facts *f, const char *idem, const char *hash)
{
    struct xe_new n = {r,       req->claims.sub, req->claims.role, f->audience, f->audience_source,
                       f->used, f->reason,       f->experiment,    idem,        hash};
    json_t *row = NULL;
    int created = 0;
    long max = xe_cfg(req->app)->max_active;
    int rc = store_expl_create(req->app, &n, max, &row, &created);
    if (rc == -EDQUOT) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "you already have %ld explanations pending or running; wait for one to end", max);
        http_resp_header(resp, "Retry-After", EXPL_RETRY_AFTER);
        http_resp_error(resp, 429, "too_many_explanations", msg,
                        json_pack("{s:I}", "limit", (json_int_t)max));
    } else if (rc == -EEXIST) {
        http_resp_error(resp, 422, "idempotency_key_reused",
                        "this Idempotency-Key was used for another request body", NULL);
    } else if (rc) {
        http_resp_errno(resp, rc, NULL);
    } else {
        expl_created(req, resp, row, created);
    }
}

void expl_create(struct http_req *req, struct http_resp *resp)
{
    const char *idem = NULL;
    json_t *body = NULL, *details = NULL;
    if (http_req_idempotency_key(req, resp, &idem) != 0 || http_req_json(req, resp, &body) != 0)
        return;
    struct xe_request r;
    if (xreq_parse(body, &r, &details) != 0) {
        json_decref(body);
        expl_invalid(resp, details);
        return;
    }
    char hash[HASH_SHA256_HEX_LEN + 1] = "";
    char *canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(body);
    if (canon)
        hash_sha256_hex(canon, strlen(canon), hash);
    free(canon);
    struct expl_facts f;
    memset(&f, 0, sizeof(f));
    if (expl_check(req, resp, &r, &f) == 0)
        expl_record(req, resp, &r, &f, idem, hash);
    facts_release(&f);
    xreq_release(&r);
}

/* ------------------------------------------------------------------ reads */

static const char *const expl_statuses[] = {"pending", "running",   "completed",
                                            "failed",  "cancelled", NULL};

void expl_list(struct http_req *req, struct http_resp *resp)
{
    static const struct pager_spec spec = {"xai.explanation_list", "user_id", "created_at DESC, id",
                                           "explanations"};
    static const struct pager_filter filter = {1, "status", expl_statuses};
    pager_list_filtered(req->app, &spec, &filter, req, resp);
}

void expl_get(struct http_req *req, struct http_resp *resp)
{
    const char *id = expl_id(req, resp);
    json_t *row = NULL;
    int rc = id ? store_expl_get(req->app, id, req->claims.sub, &row) : 0;
    if (rc)
        expl_fail(resp, rc);
    else if (id)
        http_resp_json(resp, 200, row);
}

static int expl_state(void *ctx, const char *id, json_t **out)
{
    return store_expl_state(ctx, id, out);
}

void expl_events(struct http_req *req, struct http_resp *resp)
{
    const char *id = expl_id(req, resp);
    json_t *row = NULL;
    int rc = id ? store_expl_get(req->app, id, req->claims.sub, &row) : 0;
    json_decref(row);
    if (rc)
        expl_fail(resp, rc);
    else if (id)
        rowsse_respond(resp, expl_state, req->app, id);
}

static void expl_not_ready(struct http_resp *resp, const char *status)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "the explanation is %s; its results exist once it is completed",
             status);
    http_resp_error(resp, 409, "not_completed", msg, json_pack("{s:s}", "status", status));
}

void expl_results(struct http_req *req, struct http_resp *resp)
{
    const char *id = expl_id(req, resp);
    if (!id)
        return;
    char status[16] = "", *text = NULL;
    int rc = store_expl_result(req->app, id, req->claims.sub, status, &text);
    if (rc) {
        expl_fail(resp, rc);
    } else if (!text) {
        expl_not_ready(resp, status);
    } else {
        char etag[HASH_SHA256_HEX_LEN + 3], sha[HASH_SHA256_HEX_LEN + 1];
        hash_sha256_hex(text, strlen(text), sha);
        snprintf(etag, sizeof(etag), "\"%s\"", sha);
        http_resp_data(resp, 200, "application/json", text, strlen(text));
        http_resp_header(resp, "ETag", etag);
    }
    free(text);
}

void expl_narrative(struct http_req *req, struct http_resp *resp)
{
    const char *id = expl_id(req, resp);
    json_t *row = NULL;
    int rc = id ? store_expl_get(req->app, id, req->claims.sub, &row) : 0;
    if (rc || !id) {
        if (rc)
            expl_fail(resp, rc);
        return;
    }
    const char *aud = http_req_query(req, "audience_level"),
               *lang = http_req_query(req, "language");
    aud = aud ? aud : json_string_value(json_object_get(row, "audience_level"));
    lang = lang ? lang : json_string_value(json_object_get(row, "language"));
    char status[16] = "", *text = NULL;
    if (xe_audience_parse(aud) < 0 || xe_lang_parse(lang) < 0)
        http_resp_error(resp, 400, "invalid_query",
                        "audience_level must be novice, intermediate or expert and language en "
                        "or fr",
                        NULL);
    else if ((rc = store_expl_narrative(req->app, id, req->claims.sub, aud, lang, status, &text)) !=
             0)
        expl_fail(resp, rc);
    else if (!text)
        expl_not_ready(resp, status);
    else
        http_resp_json(resp, 200,
                       json_pack("{s:s, s:s, s:s, s:s, s:I, s:b}", "explanation_id", id,
                                 "audience_level", aud, "language", lang, "text", text, "words",
                                 (json_int_t)narrative_words(text), "generated_by_ai", 0));
    free(text);
    json_decref(row);
}

/* ------------------------------------------------------------------ cancel, delete */

void expl_cancel(struct http_req *req, struct http_resp *resp)
{
    const char *id = expl_id(req, resp);
    if (!id)
        return;
    json_t *row = NULL;
    char status[16] = "";
    int rc = store_expl_cancel(req->app, id, req->claims.sub, &row, status);
    if (rc == -EALREADY) {
        char msg[120];
        snprintf(msg, sizeof(msg), "the explanation has already ended (%s)", status);
        http_resp_error(resp, 409, "already_ended", msg, json_pack("{s:s}", "status", status));
    } else if (rc) {
        expl_fail(resp, rc);
    } else {
        http_resp_json(resp, 200, row);
    }
}

void expl_delete(struct http_req *req, struct http_resp *resp)
{
    const char *id = expl_id(req, resp);
    int rc = id ? store_expl_delete(req->app, id, req->claims.sub) : 0;
    if (rc)
        expl_fail(resp, rc);
    else if (id)
        http_resp_json(resp, 200,
                       json_pack("{s:s, s:s}", "message", "explanation deleted", "id", id));
}
