/* pipesrc: what an explanation is computed from, fetched over HTTP with an internal
 * token of the explanation's owner: the experiment, its results and its model file from
 * ml-pipeline, the dataset and its typed columnar copy from selection. */
#include "engine.h"

#include <ibx/colf.h>
#include <ibx/hash.h>
#include <ibx/httpc.h>
#include <ibx/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIPESRC_META_TIMEOUT_MS 15000L
#define PIPESRC_FILE_TIMEOUT_MS 600000L

/* GET base + path as token's user into *out (any status). 0, -EMSGSIZE, -EIO. */
static int pipesrc_get(const char *base, const char *path, const char *token, long timeout_ms,
                       size_t max, struct httpc_resp *out)
{
    char url[1024], auth[AUTH_MAX_TOKEN + 32];
    snprintf(url, sizeof(url), "%s%s", base, path);
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

/* A JSON object from base + path: 0, -ENOENT (404 or 400), -EAGAIN (409), -EIO. */
static int pipesrc_json(const char *base, const char *path, const char *token, json_t **out)
{
    struct httpc_resp resp;
    memset(&resp, 0, sizeof(resp));
    int rc = pipesrc_get(base, path, token, PIPESRC_META_TIMEOUT_MS, 0, &resp);
    if (rc)
        return rc == -EMSGSIZE ? -EIO : rc;
    long status = resp.status;
    json_t *v = status == 200 ? json_loadb(buf_str(&resp.body), resp.body.len, 0, NULL) : NULL;
    httpc_resp_release(&resp);
    if (json_is_object(v)) {
        *out = v;
        return 0;
    }
    json_decref(v);
    if (status == 404 || status == 400)
        return -ENOENT;
    if (status == 409)
        return -EAGAIN;
    log_warn("GET %s%s answered %ld", base, path, status);
    return -EIO;
}

int pipesrc_experiment(struct svc *s, const char *token, const char *id, json_t **out)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/experiments/%s", id);
    return pipesrc_json(xe_cfg(s)->pipeline_url, path, token, out);
}

int pipesrc_results(struct svc *s, const char *token, const char *id, json_t **out)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/results", id);
    return pipesrc_json(xe_cfg(s)->pipeline_url, path, token, out);
}

int pipesrc_dataset(struct svc *s, const char *token, const char *id, json_t **out)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/datasets/%s", id);
    return pipesrc_json(xe_cfg(s)->selection_url, path, token, out);
}

/* A file (model, columnar dataset) into *out: 0, -ENOENT, -EMSGSIZE, -EIO; err says. */
static int pipesrc_file(const char *base, const char *path, const char *token, long max_mb,
                        const char *what, struct httpc_resp *out, char *err, size_t errlen)
{
    int rc = pipesrc_get(base, path, token, PIPESRC_FILE_TIMEOUT_MS, (size_t)max_mb << 20, out);
    if (rc == -EMSGSIZE) {
        snprintf(err, errlen, "the %s is larger than this service loads (%ld MB)", what, max_mb);
        return rc;
    }
    if (rc) {
        snprintf(err, errlen, "the %s could not be fetched: its service is unreachable", what);
        return rc;
    }
    if (out->status == 200)
        return 0;
    rc = out->status == 404 || out->status == 409 ? -ENOENT : -EIO;
    snprintf(err, errlen, "the %s could not be fetched (its service answered %ld)", what,
             out->status);
    httpc_resp_release(out);
    return rc;
}

int pipesrc_model(struct svc *s, const char *token, const char *id, struct model **out,
                  char sha256[65], char *err, size_t errlen)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/experiments/%s/model", id);
    struct httpc_resp resp;
    memset(&resp, 0, sizeof(resp));
    int rc = pipesrc_file(xe_cfg(s)->pipeline_url, path, token, xe_cfg(s)->max_model_mb,
                          "model file", &resp, err, errlen);
    if (rc)
        return rc;
    hash_sha256_hex(resp.body.data, resp.body.len, sha256);
    char why[256] = "";
    rc = model_load(resp.body.data, resp.body.len, out, why, sizeof(why));
    httpc_resp_release(&resp);
    if (rc == -EINVAL)
        snprintf(err, errlen, "the model file is not readable: %s", why);
    else if (rc)
        snprintf(err, errlen, "not enough memory to load the model");
    return rc;
}

int pipesrc_frame(struct svc *s, const char *token, const char *ref, struct frame **out, char *err,
                  size_t errlen)
{
    char path[256];
    snprintf(path, sizeof(path), "/internal/datasets/%s/columnar?file=0", ref);
    struct httpc_resp resp;
    memset(&resp, 0, sizeof(resp));
    int rc = pipesrc_file(xe_cfg(s)->selection_url, path, token, xe_cfg(s)->max_dataset_mb,
                          "dataset", &resp, err, errlen);
    if (rc)
        return rc;
    struct colf_reader *r = NULL;
    rc = colf_reader_open_mem(resp.body.data, resp.body.len, &r);
    if (rc == 0)
        rc = frame_load_colf(r, out);
    colf_reader_free(r);
    httpc_resp_release(&resp);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "not enough memory to load the dataset");
    else if (rc)
        snprintf(err, errlen, "the dataset's columnar file is not readable (%s)", strerror(-rc));
    return rc == -ENOMEM ? rc : rc ? -EIO : 0;
}
