/* rows: GET /datasets/{id}/preview, rows of a stored dataset read from its columnar copy
 * (the first rows, or a seeded random sample without replacement). */
#include "selection.h"

#include <ibx/colf.h>
#include <ibx/frame.h>
#include <ibx/ids.h>
#include <ibx/mlrand.h>
#include <ibx/num.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS_MAX      100
#define ROWS_COLS_MAX 500
#define ROWS_SPAN     65536 /* rows read per call when gathering a sample */

static int rows_blob_read(void *ctx, uint64_t off, void *dst, size_t len, size_t *nread)
{
    struct sel_columnar *c = ctx;
    return blob_read(c->blobs, c->blob_id, off, dst, len, nread);
}

int columnar_open(struct svc *s, const char *blob_id, struct sel_columnar **out)
{
    struct blob_info info;
    int rc = blob_stat(sel_blobs(s), blob_id, &info);
    if (rc)
        return rc;
    struct sel_columnar *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->blobs = sel_blobs(s);
    snprintf(c->blob_id, sizeof(c->blob_id), "%s", blob_id);
    rc = colf_reader_open(rows_blob_read, c, info.size, &c->r);
    if (rc) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void columnar_close(struct sel_columnar *c)
{
    if (!c)
        return;
    colf_reader_free(c->r);
    free(c);
}

/* n distinct row numbers below total, ascending (Floyd's algorithm, then a sort). */
static void rows_sample(uint64_t total, size_t n, uint64_t seed, uint64_t *out)
{
    struct mlrand r;
    mlrand_seed(&r, seed);
    size_t k = 0;
    for (uint64_t j = total - n; j < total; j++) {
        uint64_t t = mlrand_below(&r, j + 1);
        int seen = 0;
        for (size_t i = 0; i < k && !seen; i++)
            seen = out[i] == t;
        out[k++] = seen ? j : t;
    }
    for (size_t i = 1; i < k; i++) /* insertion sort: n <= ROWS_MAX */
        for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
            uint64_t tmp = out[j];
            out[j] = out[j - 1];
            out[j - 1] = tmp;
        }
}

/* A stored text value as the JSON its column type calls for. */
static json_t *rows_value(const char *type, const char *s, size_t len)
{
    if (!s)
        return json_null();
    if (strncmp(type, "numerical_", 10) == 0) {
        char *end = NULL;
        double v = strtod(s, &end);
        if (end && end != s && *end == '\0' && isfinite(v))
            return strcmp(type, "numerical_integer") == 0 && fabs(v) < 9e15
                       ? json_integer((json_int_t)v)
                       : json_real(v);
    }
    (void)len;
    return frame_json_string(s); /* invalid UTF-8 becomes U+FFFD */
}

/* Fill column col of every row in rows (arrays) at the row numbers idx. */
static int rows_fill_column(struct colf_reader *r, size_t col, const uint64_t *idx, size_t n,
                            json_t *rows)
{
    const char *type = colf_type(r, col);
    size_t i = 0;
    while (i < n) {
        uint64_t first = idx[i];
        uint64_t last = first;
        size_t j = i;
        while (j + 1 < n && idx[j + 1] - first < ROWS_SPAN)
            last = idx[++j];
        struct colf_strs v = {0};
        int rc = colf_read_strs(r, col, first, (size_t)(last - first + 1), &v);
        if (rc)
            return rc;
        for (size_t k = i; k <= j; k++) {
            size_t at = (size_t)(idx[k] - first);
            json_array_append_new(json_array_get(rows, k), rows_value(type, v.s[at], v.len[at]));
        }
        colf_strs_release(&v);
        i = j + 1;
    }
    return 0;
}

/* Query parameters: rows 1..100 (10), sample head|random (head), seed (42), file (0). */
struct rows_query {
    long rows, seed, file;
    int random;
};

static int rows_parse(struct http_req *req, struct http_resp *resp, struct rows_query *q)
{
    const char *rows = http_req_query(req, "rows"), *sample = http_req_query(req, "sample");
    const char *seed = http_req_query(req, "seed"), *file = http_req_query(req, "file");
    q->rows = 10;
    q->seed = 42;
    q->file = 0;
    q->random = sample && strcmp(sample, "random") == 0;
    const char *bad = NULL;
    if (rows && num_parse_long(rows, 1, ROWS_MAX, &q->rows) != 0)
        bad = "rows must be an integer from 1 to 100";
    else if (sample && !q->random && strcmp(sample, "head") != 0)
        bad = "sample must be head or random";
    else if (seed && num_parse_long(seed, 0, (1L << 53), &q->seed) != 0)
        bad = "seed must be an integer from 0 to 2^53";
    else if (file && num_parse_long(file, 0, 10000, &q->file) != 0)
        bad = "file must be a file position from 0";
    if (bad)
        http_resp_error(resp, 400, "invalid_query", bad, NULL);
    return bad ? -EINVAL : 0;
}

static json_t *rows_read(struct colf_reader *r, const struct rows_query *q, uint64_t total, int *rc)
{
    size_t n = (size_t)((uint64_t)q->rows < total ? (uint64_t)q->rows : total);
    uint64_t idx[ROWS_MAX];
    if (q->random)
        rows_sample(total, n, (uint64_t)q->seed, idx);
    else
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
    size_t ncols = colf_ncols(r) < ROWS_COLS_MAX ? colf_ncols(r) : ROWS_COLS_MAX;
    json_t *rows = json_array(), *cols = json_array(), *idxs = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(rows, json_array());
        json_array_append_new(idxs, json_integer((json_int_t)idx[i]));
    }
    *rc = 0;
    for (size_t c = 0; c < ncols && *rc == 0; c++) {
        json_array_append_new(
            cols, json_pack("{s:s, s:s}", "name", colf_name(r, c), "type", colf_type(r, c)));
        *rc = rows_fill_column(r, c, idx, n, rows);
    }
    json_t *out = json_pack("{s:o, s:o, s:o, s:b}", "columns", cols, "rows", rows, "row_numbers",
                            idxs, "columns_truncated", colf_ncols(r) > ncols);
    if (*rc) {
        json_decref(out);
        return NULL;
    }
    return out;
}

void rows_preview(struct http_req *req, struct http_resp *resp)
{
    const char *id = http_req_param(req, "id");
    struct rows_query q;
    if (!id || !ids_is_uuid(id)) {
        http_resp_error(resp, 400, "invalid_id", "the id in the path is not a UUID", NULL);
        return;
    }
    if (rows_parse(req, resp, &q) != 0)
        return;
    struct sel_file f;
    int rc = store_visible_file(req->app, id, NULL, q.file, req->claims.sub, svc_is_admin(req), &f);
    struct sel_columnar *c = NULL;
    if (rc == 0)
        rc = columnar_open(req->app, f.columnar_blob_id, &c);
    json_t *out = rc == 0 ? rows_read(c->r, &q, colf_nrows(c->r), &rc) : NULL;
    columnar_close(c);
    if (rc) {
        http_resp_errno(resp, rc, rc == -ENOENT ? "no such dataset file" : NULL);
        return;
    }
    json_object_set_new(out, "dataset_id", json_string(f.dataset_id));
    json_object_set_new(out, "file_id", json_string(f.file_id));
    json_object_set_new(out, "filename", json_string(f.filename));
    json_object_set_new(out, "total_rows", json_integer((json_int_t)f.row_count));
    json_object_set_new(out, "sample", json_string(q.random ? "random" : "head"));
    if (q.random)
        json_object_set_new(out, "seed", json_integer(q.seed));
    http_resp_json(resp, 200, out);
}
