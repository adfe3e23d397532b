/* datasrc: datasets as the selection service holds them: a dataset's metadata and the
 * typed columnar copy of its first file, fetched over HTTP with an internal token. */
#include "pipeline.h"

#include <ibx/colf.h>
#include <ibx/httpc.h>
#include <ibx/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATASRC_META_TIMEOUT_MS  10000L
#define DATASRC_FRAME_TIMEOUT_MS 600000L

static const struct pl_config *datasrc_cfg(const struct svc *s)
{
    return &((const struct pl_app *)s->app)->cfg;
}

int datasrc_token(struct svc *s, const char *user_id, const char *role, char **out)
{
    return svc_internal_token(s, user_id, role, out);
}

int datasrc_dataset(struct svc *s, const char *token, const char *dataset_id, json_t **out)
{
    char url[1024], auth[AUTH_MAX_TOKEN + 32];
    snprintf(url, sizeof(url), "%s/api/v1/datasets/%s", datasrc_cfg(s)->selection_url, dataset_id);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *hdrs[] = {auth, NULL};
    long status = 0;
    json_t *v = NULL;
    int rc = httpc_json("GET", url, hdrs, NULL, DATASRC_META_TIMEOUT_MS, &status, &v);
    explicit_bzero(auth, sizeof(auth));
    if (rc == 0 && status == 200 && json_is_object(v)) {
        *out = v;
        return 0;
    }
    json_decref(v);
    if (rc == 0 && (status == 404 || status == 400))
        return -ENOENT;
    log_warn("the selection service did not answer for dataset %s (%s, status %ld)", dataset_id,
             rc ? strerror(-rc) : "answered", status);
    return -EIO;
}

int datasrc_has_column(const json_t *dataset, const char *name)
{
    const json_t *file = json_array_get(json_object_get(dataset, "files"), 0);
    const json_t *cols = json_object_get(file, "columns");
    size_t i;
    const json_t *c;
    json_array_foreach(cols, i, c)
    {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n && strcmp(n, name) == 0)
            return 1;
    }
    return 0;
}

/* GET the columnar file into body. 0, -ENOENT, -EMSGSIZE, -EIO. */
static int datasrc_fetch(struct svc *s, const char *token, const char *ref, struct httpc_resp *out,
                         char *err, size_t errlen)
{
    const struct pl_config *cfg = datasrc_cfg(s);
    char url[1024], auth[AUTH_MAX_TOKEN + 32];
    snprintf(url, sizeof(url), "%s/internal/datasets/%s/columnar?file=0", cfg->selection_url, ref);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *hdrs[] = {auth, NULL};
    struct httpc_req r;
    httpc_req_init(&r, "GET", url);
    r.headers = hdrs;
    r.timeout_ms = DATASRC_FRAME_TIMEOUT_MS;
    r.max_response = (size_t)cfg->max_dataset_mb << 20;
    int rc = httpc_do(&r, out);
    explicit_bzero(auth, sizeof(auth));
    if (rc == -EMSGSIZE) {
        snprintf(err, errlen, "the dataset is larger than this service loads (%ld MB)",
                 cfg->max_dataset_mb);
        return rc;
    }
    if (rc) {
        snprintf(err, errlen, "the selection service is unreachable (%s)", strerror(-rc));
        return -EIO;
    }
    if (out->status == 200)
        return 0;
    rc = out->status == 404 ? -ENOENT : -EIO;
    snprintf(err, errlen,
             rc == -ENOENT ? "the dataset no longer exists or is not visible"
                           : "the selection service answered %ld for the dataset",
             out->status);
    httpc_resp_release(out);
    return rc;
}

int datasrc_frame(struct svc *s, const char *token, const char *ref, struct frame **out, char *err,
                  size_t errlen)
{
    struct httpc_resp resp;
    memset(&resp, 0, sizeof(resp));
    int rc = datasrc_fetch(s, token, ref, &resp, err, errlen);
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
