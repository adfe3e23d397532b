/* quality_route: GET /datasets/{id}/quality, the IBIS-X data-quality analysis of a dataset
 * file computed over its columnar copy and cached by dataset version. */
#include "selection.h"

#include <ibx/colf.h>
#include <ibx/frame.h>
#include <ibx/hash.h>
#include <ibx/ids.h>
#include <ibx/log.h>
#include <ibx/num.h>
#include <ibx/quality.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Cells analysed in memory at most (8 bytes each for numbers): above it the answer says
 * the file is too large rather than analysing part of it. */
#define QUALITY_MAX_CELLS 40000000ull

static int quality_compute(struct svc *s, const struct sel_file *f, json_t **out)
{
    struct sel_columnar *c = NULL;
    int rc = columnar_open(s, f->columnar_blob_id, &c);
    if (rc)
        return rc;
    if (colf_nrows(c->r) * (unsigned long long)colf_ncols(c->r) > QUALITY_MAX_CELLS) {
        columnar_close(c);
        return -EFBIG;
    }
    struct frame *fr = NULL;
    rc = frame_load_colf(c->r, &fr);
    columnar_close(c);
    if (rc)
        return rc;
    struct quality_options opt = {.target_column = f->target_column[0] ? f->target_column : NULL};
    rc = quality_analyze(fr, &opt, out);
    frame_free(fr);
    return rc;
}

void quality_report(struct http_req *req, struct http_resp *resp)
{
    const char *id = http_req_param(req, "id");
    const char *file = http_req_query(req, "file");
    long pos = 0;
    if (!id || !ids_is_uuid(id)) {
        http_resp_error(resp, 400, "invalid_id", "the id in the path is not a UUID", NULL);
        return;
    }
    if (file && num_parse_long(file, 0, 10000, &pos) != 0) {
        http_resp_error(resp, 400, "invalid_query", "file must be a file position from 0", NULL);
        return;
    }
    struct sel_file f;
    int rc = store_visible_file(req->app, id, NULL, pos, req->claims.sub, svc_is_admin(req), &f);
    if (rc) {
        http_resp_errno(resp, rc, rc == -ENOENT ? "no such dataset file" : NULL);
        return;
    }
    /* the report depends on the content (version), the file and the target column:
     * the key is "<version>:<hash of file position and target>" */
    char text[1100], h[HASH_SHA256_HEX_LEN + 1], key[160];
    snprintf(text, sizeof(text), "%ld\n%s", pos, f.target_column);
    hash_sha256_hex(text, strlen(text), h);
    snprintf(key, sizeof(key), "%s:%.16s", f.version, h);
    json_t *report = NULL;
    int cached = store_quality_get(req->app, key, &report) == 0;
    if (!cached) {
        rc = quality_compute(req->app, &f, &report);
        if (rc == -EFBIG) {
            http_resp_error(resp, 422, "too_large",
                            "the file has more cells than the quality analysis reads in memory "
                            "(40 million)",
                            NULL);
            return;
        }
        if (rc) {
            http_resp_errno(resp, rc, "the quality analysis failed");
            return;
        }
        if (store_quality_put(req->app, key, report) != 0)
            log_warn("quality report of %s not cached", f.dataset_id);
    }
    json_object_set_new(report, "dataset_id", json_string(f.dataset_id));
    json_object_set_new(report, "version", json_string(f.version));
    json_object_set_new(report, "cached", json_boolean(cached));
    http_resp_json(resp, 200, report);
}
