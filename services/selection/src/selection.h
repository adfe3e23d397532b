/* selection: internal declarations shared by the selection service's files. */
#ifndef IBX_SELECTION_H
#define IBX_SELECTION_H

#include <ibx/blob.h>
#include <ibx/jsonv.h>
#include <ibx/svc.h>

#include <jansson.h>

/* The service's own state (svc->app), made by main.c's init. */
struct sel_app {
    struct blob_store *blobs; /* uploaded files and their columnar copies */
};

/* The artifact store of a running selection service. */
static inline struct blob_store *sel_blobs(struct svc *s)
{
    return ((struct sel_app *)s->app)->blobs;
}

/* One validated catalogue query. */
struct sel_list_query {
    long page;           /* >= 1 */
    long page_size;      /* 1..100 */
    const char *order;   /* a fixed SQL fragment chosen from a whitelist */
    const char *user_id; /* the caller */
    int is_admin;
};

/* ---- catalogue.c: rules, no HTTP or SQL ---- */
/* Fill q from the query-string values (any may be NULL). NULL when valid, else a message
 * naming the bad parameter (written into err). */
const char *catalogue_parse_list(const char *page, const char *page_size, const char *sort_by,
                                 const char *sort_order, struct sel_list_query *q, char *err,
                                 size_t errlen);

/* ---- meta.c: the dataset metadata a user may set (upload form and PATCH) ---- */
#define META_NETHICAL 10
extern const struct jsonv_field meta_fields[];
extern const size_t meta_nfields;
/* The ten ethical flags, in the datasheet's order. */
extern const char *const meta_ethical_flags[META_NETHICAL];
/* 1 when s is a dataset slug: [a-z0-9][a-z0-9_-]{0,127}. */
int meta_is_slug(const char *s);
/* Check a metadata object (strict: unknown fields are problems; enumerations, slug and
 * domain/task items checked). 0, or -EINVAL and *details for the error body. */
int meta_validate(const json_t *obj, json_t **details) __attribute__((warn_unused_result));

/* ---- store.c: the only file that speaks SQL ---- */
/* *datasets: JSON array of dataset objects (caller decrefs), *total: matching rows. */
int store_list_datasets(struct svc *s, const struct sel_list_query *q, json_t **datasets,
                        long *total) __attribute__((warn_unused_result));
/* Data rights (svc_def.export_user): everything selection holds about user_id as
 * {"datasets":[...]} (the datasets it owns), or NULL when it cannot be read. Caller decrefs. */
json_t *store_export_user(struct svc *s, const char *user_id);
/* Data rights (svc_def.erase_user): delete the user's datasets; 0 also when there were none. */
int store_erase_user(struct svc *s, const char *user_id) __attribute__((warn_unused_result));

/* ---- store_files.c: SQL of uploads and file reads ---- */
/* Record a dataset (meta: validated metadata; files: [{filename, size_bytes, blob_id,
 * columnar_blob_id, profile}]) owned by owner, with derived facts (instances, features,
 * missing figures, version), in one transaction; *out is the stored dataset with its
 * files and columns. -EEXIST when the name is taken. */
int store_create_dataset(struct svc *s, const char *owner, const json_t *meta,
                         const json_t *files, json_t **out) __attribute__((warn_unused_result));
/* A dataset with its files and columns as stored (no visibility check). -ENOENT. */
int store_dataset_json(struct svc *s, const char *id, json_t **out)
    __attribute__((warn_unused_result));
/* One stored file of a dataset the caller can see. */
struct sel_file {
    char dataset_id[40];
    char version[65];
    char file_id[40];
    char filename[256];
    char media_type[128];
    char blob_id[65];
    char columnar_blob_id[65];
    long long row_count;
};
/* The file file_id (or, when file_id is NULL, the file at position pos) of the dataset
 * whose id or version is ref, if user (admin) can see it. -ENOENT otherwise. */
int store_visible_file(struct svc *s, const char *ref, const char *file_id, long pos,
                       const char *user, int admin, struct sel_file *out)
    __attribute__((warn_unused_result));
/* GET /datasets/{id}/stats: per file, each column's stored statistics and the
 * correlations. -ENOENT when unknown or not visible. */
int store_dataset_stats(struct svc *s, const char *id, const char *user, int admin,
                        json_t **out) __attribute__((warn_unused_result));
/* Delete blob_id from the artifact store unless a dataset file still refers to it. */
void store_blob_release(struct svc *s, const char *blob_id);

/* ---- upload.c: POST /datasets and POST /datasets/preview (HTTP_STREAM_BODY) ---- */
void upload_create(struct http_req *req, struct http_resp *resp);
void upload_preview(struct http_req *req, struct http_resp *resp);

/* ---- files.c: reading an uploaded dataset back ---- */
void files_download(struct http_req *req, struct http_resp *resp);
void files_stats(struct http_req *req, struct http_resp *resp);
void files_columnar(struct http_req *req, struct http_resp *resp);

/* ---- routes.c ---- */
extern const struct http_route sel_routes[];
extern const size_t sel_nroutes;

#endif
