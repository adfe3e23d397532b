/* artifacts: trained models in the content-addressed artifact store (ibx/blob.h): put, get,
 * release when no run references them any more, and download responses. */
#include "pipeline.h"

#include <ibx/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct blob_store *artifact_store(struct svc *s)
{
    return ((struct pl_app *)s->app)->blobs;
}

int artifact_put(struct svc *s, const void *data, size_t len, const char *media_type,
                 char id[BLOB_ID_LEN + 1])
{
    return blob_put(artifact_store(s), data, len, media_type, id);
}

int artifact_get(struct svc *s, const char *id, struct buf *out)
{
    return blob_get(artifact_store(s), id, out);
}

void artifact_release(struct svc *s, const char *id)
{
    if (!id || !id[0])
        return;
    int used = store_artifact_referenced(s, id);
    if (used != 0) {
        if (used < 0)
            log_warn("artifact %s kept: cannot check its references (%s)", id, strerror(-used));
        return;
    }
    int rc = blob_delete(artifact_store(s), id);
    if (rc && rc != -ENOENT)
        log_warn("artifact %s could not be deleted (%s)", id, strerror(-rc));
}

/* A blob streamed out as a response body. */
struct artifact_out {
    struct blob_store *blobs;
    char id[BLOB_ID_LEN + 1];
};

static ssize_t artifact_next(void *ctx, uint64_t pos, char *out, size_t max)
{
    struct artifact_out *a = ctx;
    size_t n = 0;
    if (blob_read(a->blobs, a->id, pos, out, max, &n) != 0)
        return HTTP_STREAM_ERROR;
    return n ? (ssize_t)n : HTTP_STREAM_END;
}

void artifact_respond(struct svc *s, struct http_resp *resp, const char *id, const char *media_type,
                      const char *filename)
{
    struct artifact_out *a = calloc(1, sizeof(*a));
    if (!a) {
        http_resp_errno(resp, -ENOMEM, NULL);
        return;
    }
    a->blobs = artifact_store(s);
    snprintf(a->id, sizeof(a->id), "%s", id);
    struct blob_info info;
    int rc = blob_stat(a->blobs, a->id, &info);
    if (rc) {
        free(a);
        if (rc == -ENOENT)
            http_resp_error(resp, 404, "not_found", "the model file is no longer stored", NULL);
        else
            http_resp_error(resp, 503, "storage_unavailable", "the model file cannot be read now",
                            NULL);
        return;
    }
    char disp[300], etag[BLOB_ID_LEN + 3];
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", filename);
    snprintf(etag, sizeof(etag), "\"%s\"", id);
    http_resp_stream(resp, 200, media_type, artifact_next, a, free);
    http_resp_header(resp, "Content-Disposition", disp);
    http_resp_header(resp, "X-Model-Sha256", id);
    http_resp_header(resp, "ETag", etag);
}
