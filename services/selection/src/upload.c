/* upload: POST /datasets and POST /datasets/preview, streamed through the single-pass
 * ingest (parse, profile, columnar copy) into the artifact store. */
#include "selection.h"

#include <ibx/colf.h>
#include <ibx/ingest.h>
#include <ibx/log.h>
#include <ibx/multipart.h>
#include <ibx/num.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define UP_MAX_FILES     16
#define UP_MAX_FIELD     (1u << 20) /* one text field (the metadata JSON) */
#define UP_COLF_MEDIA    "application/vnd.ibisx.colf"
#define UP_SUPPORTED_MSG "supported formats: CSV, TSV, JSON (an array of objects) and JSON Lines"

struct up_file {
    char filename[256];
    const char *format_hint; /* from the extension; NULL: sniffed */
    struct ingest *ing;
    struct blob_writer *orig; /* the original bytes (not for previews) */
    struct blob_writer *col;  /* the columnar copy */
    uint64_t size;
    json_t *profile;
    char blob_id[BLOB_ID_LEN + 1];
    char col_id[BLOB_ID_LEN + 1];
};

struct upload {
    struct svc *svc;
    char user_id[64];
    int preview;
    struct multipart *mp;
    json_t *fields; /* text fields, by name (strings; repeated names become arrays) */
    struct up_file files[UP_MAX_FILES];
    size_t nfiles;
    struct up_file *cur; /* the file part being read, or NULL for a text part */
    char field_name[256];
    struct buf field;
    /* the first error, answered at the end of the body */
    int status;
    char code[48];
    char msg[600];
    json_t *details;
};

static int up_fail(struct upload *u, int status, const char *code, json_t *details, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));

static int up_fail(struct upload *u, int status, const char *code, json_t *details, const char *fmt,
                   ...)
{
    if (u->status) {
        json_decref(details);
        return -EINVAL;
    }
    u->status = status;
    snprintf(u->code, sizeof(u->code), "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->msg, sizeof(u->msg), fmt, ap);
    va_end(ap);
    u->details = details;
    return -EINVAL;
}

/* The format an extension names, NULL when it names none we read, "" when absent. */
static const char *up_format_of(const char *filename)
{
    const char *dot = strrchr(filename, '.');
    if (!dot)
        return "";
    static const struct {
        const char *ext, *fmt;
    } map[] = {{"csv", "csv"},   {"tsv", "tsv"},     {"tab", "tsv"},     {"txt", "csv"},
               {"json", "json"}, {"jsonl", "jsonl"}, {"ndjson", "jsonl"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(dot + 1, map[i].ext) == 0)
            return map[i].fmt;
    return NULL;
}

static int up_colf_sink(void *ctx, const void *data, size_t len)
{
    return blob_writer_write(ctx, data, len);
}

static int up_file_begin(struct upload *u, const struct multipart_part *p)
{
    if (u->nfiles == UP_MAX_FILES)
        return up_fail(u, 422, "too_many_files", NULL, "at most %d files per dataset",
                       UP_MAX_FILES);
    const char *fmt = up_format_of(p->filename);
    if (!fmt)
        return up_fail(u, 415, "unsupported_media_type", json_pack("{s:s}", "file", p->filename),
                       "%s is not readable; %s", p->filename, UP_SUPPORTED_MSG);
    struct up_file *f = &u->files[u->nfiles++];
    snprintf(f->filename, sizeof(f->filename), "%s", p->filename[0] ? p->filename : "data");
    f->format_hint = fmt[0] ? fmt : NULL;
    struct blob_store *bs = sel_blobs(u->svc);
    if (!u->preview && (blob_writer_open(bs, "application/octet-stream", &f->orig) != 0 ||
                        blob_writer_open(bs, UP_COLF_MEDIA, &f->col) != 0))
        return up_fail(u, 503, "storage_unavailable", NULL, "the artifact store is unavailable");
    struct ingest_opts o = {
        .filename = f->filename,
        .colf_sink = u->preview ? NULL : up_colf_sink,
        .colf_ctx = f->col,
    };
    if (ingest_new(&o, &f->ing) != 0)
        return up_fail(u, 503, "out_of_memory", NULL, "cannot start reading %s", f->filename);
    u->cur = f;
    return 0;
}

/* Map an ingest error to our error body. */
static int up_ingest_error(struct upload *u, struct up_file *f, int rc)
{
    json_t *d = json_pack("{s:s}", "file", f->filename);
    const char *why = ingest_error(f->ing);
    switch (rc) {
    case -EPROTONOSUPPORT:
        return up_fail(u, 415, "unsupported_media_type", d, "%s: %s", f->filename,
                       why[0] ? why : UP_SUPPORTED_MSG);
    case -E2BIG:
        return up_fail(u, 422, "too_many_columns", d, "%s: %s", f->filename, why);
    case -EMSGSIZE:
        return up_fail(u, 422, "field_too_large", d, "%s: %s", f->filename, why);
    case -ENOMEM:
        return up_fail(u, 503, "out_of_memory", d, "%s: not enough memory to read it", f->filename);
    default:
        return up_fail(u, 422, "invalid_file", d, "%s: %s", f->filename,
                       why[0] ? why : "the file cannot be read as a table");
    }
}

static int up_part_begin(void *ctx, const struct multipart_part *p)
{
    struct upload *u = ctx;
    if (u->status)
        return -EINVAL;
    if (p->is_file)
        return up_file_begin(u, p);
    u->cur = NULL;
    snprintf(u->field_name, sizeof(u->field_name), "%s", p->name);
    buf_reset(&u->field);
    return 0;
}

static int up_part_data(void *ctx, const char *data, size_t len)
{
    struct upload *u = ctx;
    struct up_file *f = u->cur;
    if (!f) {
        if (buf_append(&u->field, data, len) != 0)
            return up_fail(u, 413, "field_too_large", NULL, "form field %s is over %u bytes",
                           u->field_name, UP_MAX_FIELD);
        return 0;
    }
    f->size += len;
    int rc = ingest_push(f->ing, data, len);
    if (rc)
        return up_ingest_error(u, f, rc);
    if (f->orig && blob_writer_write(f->orig, data, len) != 0)
        return up_fail(u, 503, "storage_unavailable", NULL, "the artifact store is unavailable");
    return 0;
}

/* Keep a text field; a repeated name makes an array of its values. */
static int up_keep_field(struct upload *u)
{
    json_t *v = json_stringn(u->field.data ? u->field.data : "", u->field.len);
    if (!v)
        return up_fail(u, 422, "invalid_field", json_pack("{s:s}", "field", u->field_name),
                       "form field %s is not valid UTF-8", u->field_name);
    json_t *old = json_object_get(u->fields, u->field_name);
    if (!old)
        return json_object_set_new(u->fields, u->field_name, v) ? -ENOMEM : 0;
    if (!json_is_array(old)) {
        json_t *arr = json_pack("[O]", old);
        json_object_set_new(u->fields, u->field_name, arr);
        old = arr;
    }
    return json_array_append_new(old, v) ? -ENOMEM : 0;
}

static int up_part_end(void *ctx)
{
    struct upload *u = ctx;
    struct up_file *f = u->cur;
    u->cur = NULL;
    if (!f)
        return up_keep_field(u);
    int rc = ingest_finish(f->ing, &f->profile);
    if (rc)
        return up_ingest_error(u, f, rc);
    if (f->orig) {
        rc = blob_writer_finish(f->orig, f->blob_id);
        f->orig = NULL;
        if (rc == 0) {
            rc = blob_writer_finish(f->col, f->col_id);
            f->col = NULL;
        }
        if (rc)
            return up_fail(u, 503, "storage_unavailable", NULL,
                           "the artifact store is unavailable");
    }
    return 0;
}

static const struct multipart_cbs up_cbs = {up_part_begin, up_part_data, up_part_end};

/* Drop what a failed or abandoned upload stored (blobs no dataset refers to). */
static void up_discard(struct upload *u)
{
    for (size_t i = 0; i < u->nfiles; i++) {
        struct up_file *f = &u->files[i];
        blob_writer_abort(f->orig);
        blob_writer_abort(f->col);
        f->orig = f->col = NULL;
        if (!u->preview) {
            store_blob_release(u->svc, f->blob_id);
            store_blob_release(u->svc, f->col_id);
        }
    }
}

static void up_free(struct upload *u)
{
    for (size_t i = 0; i < u->nfiles; i++) {
        ingest_free(u->files[i].ing);
        json_decref(u->files[i].profile);
    }
    multipart_free(u->mp);
    json_decref(u->fields);
    json_decref(u->details);
    buf_release(&u->field);
    free(u);
}

/* ---- form fields to a metadata object -------------------------------------------- */

static json_t *up_bool(const char *s)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    static const char *const unknown[] = {"", "null", "unknown", "none"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return json_true();
        if (strcasecmp(s, no[i]) == 0)
            return json_false();
        if (strcasecmp(s, unknown[i]) == 0)
            return json_null();
    }
    return json_string(s); /* validation names it */
}

/* "a,b" or '["a","b"]' or repeated fields. */
static json_t *up_list(const json_t *v)
{
    json_t *out = json_array();
    const json_t *it;
    size_t k;
    json_t *one = json_is_array(v) ? NULL : json_pack("[O]", v);
    json_array_foreach(one ? one : v, k, it)
    {
        const char *s = json_string_value(it);
        json_t *parsed = s && s[0] == '[' ? json_loads(s, 0, NULL) : NULL;
        if (json_is_array(parsed)) {
            json_array_extend(out, parsed);
        } else {
            for (const char *p = s ? s : ""; *p;) {
                const char *e = strchr(p, ',');
                size_t n = e ? (size_t)(e - p) : strlen(p);
                while (n && (*p == ' ' || *p == '\t'))
                    p++, n--;
                while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
                    n--;
                if (n)
                    json_array_append_new(out, json_stringn(p, n));
                p += (e ? (size_t)(e - p) + 1 : strlen(p));
            }
        }
        json_decref(parsed);
    }
    json_decref(one);
    return out;
}

/* One form value converted to the type its field has. */
static json_t *up_typed(const struct jsonv_field *f, const json_t *v)
{
    if (f->type == JSONV_ARRAY)
        return up_list(v);
    const char *s = json_string_value(json_is_array(v) ? json_array_get(v, 0) : v);
    if (!s)
        return json_incref((json_t *)v);
    if (f->type == JSONV_BOOL)
        return up_bool(s);
    if (s[0] == '\0')
        return json_null();
    if (f->type == JSONV_INT) {
        long n;
        return num_parse_long(s, -1000000000000L, 1000000000000L, &n) == 0 ? json_integer(n)
                                                                           : json_string(s);
    }
    return json_string(s);
}

/* The metadata object: the "metadata" JSON field, then each form field over it. */
static int up_metadata(struct upload *u, json_t **out)
{
    json_t *meta = json_object();
    const json_t *mj = json_object_get(u->fields, "metadata");
    if (mj) {
        char err[200];
        json_t *parsed = NULL;
        const char *s = json_string_value(mj);
        if (!s || jsonv_parse(s, strlen(s), JSONV_MAX_DEPTH, &parsed, err, sizeof(err)) != 0 ||
            !json_is_object(parsed)) {
            json_decref(parsed);
            json_decref(meta);
            return up_fail(u, 400, "invalid_json", json_pack("{s:s}", "field", "metadata"),
                           "form field metadata must be one JSON object");
        }
        json_object_update(meta, parsed);
        json_decref(parsed);
    }
    const char *key;
    json_t *v;
    json_object_foreach(u->fields, key, v)
    {
        if (strcmp(key, "metadata") == 0 || strcmp(key, "apply_ethical_template") == 0)
            continue;
        const struct jsonv_field *f = NULL;
        for (size_t i = 0; i < meta_nfields && !f; i++)
            if (strcmp(meta_fields[i].name, key) == 0)
                f = &meta_fields[i];
        json_object_set_new(meta, key, f ? up_typed(f, v) : json_incref(v));
    }
    *out = meta;
    return 0;
}

/* ---- answers ---------------------------------------------------------------------- */

static void up_answer_error(struct upload *u, struct http_resp *resp)
{
    http_resp_error(resp, u->status, u->code, u->msg, u->details);
    u->details = NULL;
}

/* POST /datasets/preview: the analysis of each file, nothing stored. */
static void up_answer_preview(struct upload *u, struct http_resp *resp)
{
    json_t *files = json_array();
    uint64_t total_size = 0;
    json_int_t total_rows = 0;
    for (size_t i = 0; i < u->nfiles; i++) {
        struct up_file *f = &u->files[i];
        json_t *p = json_deep_copy(f->profile);
        json_object_set_new(p, "filename", json_string(f->filename));
        json_object_set_new(p, "size_bytes", json_integer((json_int_t)f->size));
        json_array_append_new(files, p);
        total_size += f->size;
        total_rows += json_integer_value(json_object_get(f->profile, "row_count"));
    }
    json_t *sugg = json_deep_copy(json_object_get(u->files[0].profile, "suggestions"));
    http_resp_json(resp, 200,
                   json_pack("{s:o, s:o, s:{s:I, s:I, s:I}}", "files", files, "suggestions",
                             sugg ? sugg : json_object(), "summary", "total_files",
                             (json_int_t)u->nfiles, "total_size_bytes", (json_int_t)total_size,
                             "total_rows", total_rows));
}

/* A slug from the display name or the first file's name: lowercase, runs of other
 * characters become '_'. */
static void up_slug(const char *from, char out[129])
{
    size_t o = 0;
    int gap = 0;
    for (const char *p = from; *p && o < 120; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (gap && o)
                out[o++] = '_';
            out[o++] = c;
            gap = 0;
        } else {
            gap = 1;
        }
    }
    if (o == 0)
        o = (size_t)snprintf(out, 129, "dataset");
    out[o] = '\0';
}

/* Name and display name: given, or derived from each other or the first file. */
static void up_names(struct upload *u, json_t *meta)
{
    const char *display = jsonv_str(meta, "display_name");
    char stem[256];
    snprintf(stem, sizeof(stem), "%s", u->files[0].filename);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem)
        *dot = '\0';
    if (!display) {
        const char *sugg =
            jsonv_str(json_object_get(u->files[0].profile, "suggestions"), "display_name");
        json_object_set_new(meta, "display_name", json_string(sugg ? sugg : stem));
        display = jsonv_str(meta, "display_name");
    }
    if (!jsonv_str(meta, "name")) {
        char slug[129];
        up_slug(display, slug);
        json_object_set_new(meta, "name", json_string(slug));
    }
}

/* With the form field apply_ethical_template=true, the ethical flags the uploader left
 * out come from the admin's template for the dataset's first domain (or "default"); flags
 * given, even as null (unknown), are kept. Without it, flags left out stay unknown: a
 * default must never pass for a fact about the data. */
static int up_templates(struct upload *u, json_t *meta)
{
    const char *flag = json_string_value(json_object_get(u->fields, "apply_ethical_template"));
    json_t *want = flag ? up_bool(flag) : json_false();
    int apply = json_is_true(want);
    json_decref(want);
    if (!apply)
        return 0;
    json_t *given = json_object();
    for (size_t i = 0; i < META_NETHICAL; i++) {
        json_t *v = json_object_get(meta, meta_ethical_flags[i]);
        if (v)
            json_object_set(given, meta_ethical_flags[i], v);
    }
    int rc = templates_apply(u->svc, meta);
    if (rc == 0)
        json_object_update(meta, given);
    json_decref(given);
    return rc;
}

/* POST /datasets: validate the metadata, then record the dataset, files and columns. */
static void up_answer_create(struct upload *u, struct http_resp *resp)
{
    json_t *meta = NULL, *details = NULL;
    if (up_metadata(u, &meta) != 0)
        return up_answer_error(u, resp);
    up_names(u, meta);
    if (up_templates(u, meta) != 0) {
        json_decref(meta);
        up_fail(u, 503, "unavailable", NULL, "the ethical templates cannot be read now");
        return up_answer_error(u, resp);
    }
    if (meta_validate(meta, &details) != 0) {
        json_decref(meta);
        up_fail(u, 422, "validation_error", details, "the dataset's metadata is not valid");
        return up_answer_error(u, resp);
    }
    json_t *files = json_array();
    for (size_t i = 0; i < u->nfiles; i++) {
        struct up_file *f = &u->files[i];
        json_array_append_new(files,
                              json_pack("{s:s, s:I, s:s, s:s, s:O}", "filename", f->filename,
                                        "size_bytes", (json_int_t)f->size, "blob_id", f->blob_id,
                                        "columnar_blob_id", f->col_id, "profile", f->profile));
    }
    json_t *created = NULL;
    int rc = store_create_dataset(u->svc, u->user_id, meta, files, &created);
    json_decref(meta);
    json_decref(files);
    if (rc == -EEXIST) {
        up_fail(u, 409, "name_taken", NULL, "a dataset with this name exists; choose another name");
    } else if (rc) {
        up_fail(u, rc == -EINVAL ? 422 : 503, rc == -EINVAL ? "validation_error" : "unavailable",
                NULL, "the dataset could not be recorded");
    }
    if (rc)
        return up_answer_error(u, resp);
    http_resp_json(resp, 201, created);
}

/* ---- the request ------------------------------------------------------------------ */

static int up_chunk(void *ctx, const char *data, size_t len)
{
    struct upload *u = ctx;
    if (u->status)
        return -1;
    int rc = multipart_push(u->mp, data, len);
    if (rc && !u->status)
        up_fail(u, rc == -E2BIG ? 422 : 400, "invalid_multipart", NULL, "%s",
                multipart_error(u->mp));
    return u->status ? -1 : 0;
}

static void up_end(void *ctx, struct http_resp *resp)
{
    struct upload *u = ctx;
    if (resp && !u->status) {
        int rc = multipart_finish(u->mp);
        if (rc)
            up_fail(u, 400, "invalid_multipart", NULL, "%s", multipart_error(u->mp));
        else if (u->nfiles == 0)
            up_fail(u, 422, "no_file", NULL,
                    "send at least one file (a form field with a filename); %s", UP_SUPPORTED_MSG);
    }
    if (resp && !u->status && u->preview)
        up_answer_preview(u, resp);
    else if (resp && !u->status)
        up_answer_create(u, resp);
    else if (resp)
        up_answer_error(u, resp);
    if (u->status || !resp)
        up_discard(u);
    up_free(u);
}

static void up_start(struct http_req *req, struct http_resp *resp, int preview)
{
    char boundary[MULTIPART_BOUNDARY_MAX + 1];
    if (multipart_boundary(http_req_header(req, "Content-Type"), boundary) != 0) {
        http_resp_error(resp, 415, "unsupported_media_type",
                        "send the files as multipart/form-data (with a boundary)", NULL);
        return;
    }
    struct upload *u = calloc(1, sizeof(*u));
    if (!u || !(u->fields = json_object()) || multipart_new(boundary, &up_cbs, u, &u->mp) != 0) {
        if (u)
            up_free(u);
        http_resp_error(resp, 503, "out_of_memory", "cannot take the upload now", NULL);
        return;
    }
    buf_init(&u->field, UP_MAX_FIELD);
    u->svc = req->app;
    u->preview = preview;
    snprintf(u->user_id, sizeof(u->user_id), "%s", req->claims.sub);
    req->body_chunk = up_chunk;
    req->body_end = up_end;
    req->body_ctx = u;
}

void upload_create(struct http_req *req, struct http_resp *resp)
{
    up_start(req, resp, 0);
}

void upload_preview(struct http_req *req, struct http_resp *resp)
{
    up_start(req, resp, 1);
}
