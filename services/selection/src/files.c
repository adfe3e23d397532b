/* files: what is read back from an uploaded dataset: statistics, file downloads, and the
 * columnar copy for ml-pipeline and xai-engine. */
#include "selection.h"

#include <ibx/hash.h>
#include <ibx/ids.h>
#include <ibx/num.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A blob streamed out as a response body. */
struct blob_out {
    struct blob_store *blobs;
    char id[BLOB_ID_LEN + 1];
};

static ssize_t blob_out_next(void *ctx, uint64_t pos, char *out, size_t max)
{
    struct blob_out *b = ctx;
    size_t n = 0;
    if (blob_read(b->blobs, b->id, pos, out, max, &n) != 0)
        return HTTP_STREAM_ERROR;
    return n ? (ssize_t)n : HTTP_STREAM_END;
}

static void files_stream_blob(struct http_req *req, struct http_resp *resp, const char *blob_id,
                              const char *media_type)
{
    struct blob_out *b = calloc(1, sizeof(*b));
    if (!b) {
        http_resp_errno(resp, -ENOMEM, NULL);
        return;
    }
    b->blobs = sel_blobs(req->app);
    snprintf(b->id, sizeof(b->id), "%s", blob_id);
    struct blob_info info;
    if (blob_stat(b->blobs, b->id, &info) != 0) {
        free(b);
        http_resp_error(resp, 503, "storage_unavailable", "the stored file cannot be read now",
                        NULL);
        return;
    }
    http_resp_stream(resp, 200, media_type, blob_out_next, b, free);
}

/* The id path parameter as a UUID; answers 400 and returns NULL when malformed. */
static const char *files_uuid_param(struct http_req *req, struct http_resp *resp, const char *name)
{
    const char *v = http_req_param(req, name);
    if (!v || !ids_is_uuid(v)) {
        http_resp_error(resp, 400, "invalid_id", "the id in the path is not a UUID", NULL);
        return NULL;
    }
    return v;
}

/* GET /datasets/{id}/files/{file_id}/download: the original bytes as uploaded. */
void files_download(struct http_req *req, struct http_resp *resp)
{
    const char *id = files_uuid_param(req, resp, "id");
    const char *fid = id ? files_uuid_param(req, resp, "file_id") : NULL;
    if (!fid)
        return;
    struct sel_file f;
    int rc = store_visible_file(req->app, id, fid, -1, req->claims.sub, svc_is_admin(req), &f);
    if (rc) {
        http_resp_errno(resp, rc, rc == -ENOENT ? "no such file in a dataset you can see" : NULL);
        return;
    }
    char disp[400];
    char safe[256];
    size_t o = 0;
    for (const char *p = f.filename; *p && o + 1 < sizeof(safe); p++)
        safe[o++] = (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) ? '_' : *p;
    safe[o] = '\0';
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", safe);
    http_resp_header(resp, "Content-Disposition", disp);
    files_stream_blob(req, resp, f.blob_id, f.media_type);
}

/* GET /datasets/{id}/stats: per file, each column's statistics and the correlations. */
void files_stats(struct http_req *req, struct http_resp *resp)
{
    const char *id = files_uuid_param(req, resp, "id");
    if (!id)
        return;
    json_t *out = NULL;
    int rc = store_dataset_stats(req->app, id, req->claims.sub, svc_is_admin(req), &out);
    if (rc) {
        http_resp_errno(resp, rc, rc == -ENOENT ? "no such dataset" : NULL);
        return;
    }
    http_resp_json(resp, 200, out);
}

/* GET /internal/datasets/{ref}/columnar?file=N: the typed columnar copy of a file of a
 * dataset, by dataset id or by version (content hash), for ml-pipeline and xai-engine. */
void files_columnar(struct http_req *req, struct http_resp *resp)
{
    const char *ref = http_req_param(req, "ref");
    long pos = 0;
    const char *file = http_req_query(req, "file");
    if (file && num_parse_long(file, 0, 10000, &pos) != 0) {
        http_resp_error(resp, 400, "invalid_query", "file must be a file position from 0", NULL);
        return;
    }
    if (!ref || (!ids_is_uuid(ref) && !hash_is_sha256_hex(ref))) {
        http_resp_error(resp, 400, "invalid_id",
                        "give a dataset id (UUID) or a dataset version (64 hex digits)", NULL);
        return;
    }
    struct sel_file f;
    int rc = store_visible_file(req->app, ref, NULL, pos, req->claims.sub, svc_is_admin(req), &f);
    if (rc) {
        http_resp_errno(resp, rc, rc == -ENOENT ? "no such dataset file" : NULL);
        return;
    }
    char rows[24];
    snprintf(rows, sizeof(rows), "%lld", (long long)f.row_count);
    http_resp_header(resp, "X-Dataset-Id", f.dataset_id);
    http_resp_header(resp, "X-Dataset-Version", f.version);
    http_resp_header(resp, "X-Row-Count", rows);
    files_stream_blob(req, resp, f.columnar_blob_id, "application/vnd.ibisx.colf");
}
