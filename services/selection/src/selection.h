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
    const struct filter_sql *filters; /* NULL: none */
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
 * {"datasets":[...], "projects":[...]} (what it owns), or NULL when it cannot be read.
 * Caller decrefs. */
json_t *store_export_user(struct svc *s, const char *user_id);
/* Data rights (svc_def.erase_user): delete the user's projects and datasets (with their
 * files' blobs unless shared); 0 also when there were none. */
int store_erase_user(struct svc *s, const char *user_id) __attribute__((warn_unused_result));

/* ---- store_files.c: SQL of uploads and file reads ---- */
/* Record a dataset (meta: validated metadata; files: [{filename, size_bytes, blob_id,
 * columnar_blob_id, profile}]) owned by owner, with derived facts (instances, features,
 * missing figures, version), in one transaction; *out is the stored dataset with its
 * files and columns. -EEXIST when the name is taken. */
int store_create_dataset(struct svc *s, const char *owner, const json_t *meta, const json_t *files,
                         json_t **out) __attribute__((warn_unused_result));
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
    char target_column[1024]; /* the dataset's, "" when unset */
};
/* The file file_id (or, when file_id is NULL, the file at position pos) of the dataset
 * whose id or version is ref, if user (admin) can see it. -ENOENT otherwise. */
int store_visible_file(struct svc *s, const char *ref, const char *file_id, long pos,
                       const char *user, int admin, struct sel_file *out)
    __attribute__((warn_unused_result));
/* GET /datasets/{id}/stats: per file, each column's stored statistics and the
 * correlations. -ENOENT when unknown or not visible. */
int store_dataset_stats(struct svc *s, const char *id, const char *user, int admin, json_t **out)
    __attribute__((warn_unused_result));
/* The cached quality report under key (a hash of version, file and target). -ENOENT. */
int store_quality_get(struct svc *s, const char *key, json_t **out)
    __attribute__((warn_unused_result));
int store_quality_put(struct svc *s, const char *key, const json_t *report)
    __attribute__((warn_unused_result));
/* Delete blob_id from the artifact store unless a dataset file still refers to it. */
void store_blob_release(struct svc *s, const char *blob_id);

/* ---- upload.c: POST /datasets and POST /datasets/preview (HTTP_STREAM_BODY) ---- */
void upload_create(struct http_req *req, struct http_resp *resp);
void upload_preview(struct http_req *req, struct http_resp *resp);

/* ---- rows.c: rows of the columnar copy ---- */
struct colf_reader;
/* An open columnar copy read from the artifact store. */
struct sel_columnar {
    struct colf_reader *r;
    struct blob_store *blobs;
    char blob_id[BLOB_ID_LEN + 1];
};
int columnar_open(struct svc *s, const char *blob_id, struct sel_columnar **out)
    __attribute__((warn_unused_result));
void columnar_close(struct sel_columnar *c); /* accepts NULL */
/* GET /datasets/{id}/preview?rows&sample=head|random&seed&file */
void rows_preview(struct http_req *req, struct http_resp *resp);

/* ---- quality_route.c: GET /datasets/{id}/quality?file= (cached by version) ---- */
void quality_report(struct http_req *req, struct http_resp *resp);

/* ---- files.c: reading an uploaded dataset back ---- */
void files_download(struct http_req *req, struct http_resp *resp);
void files_stats(struct http_req *req, struct http_resp *resp);
void files_columnar(struct http_req *req, struct http_resp *resp);

/* ---- scoring.c: the IBIS-X scores; pure. Every score in the suite comes from here ---- */
/* A dataset is a JSON object with the datasets columns (to_jsonb of the row). */
#define SCORE_NCRITERIA 12
/* The twelve criterion names, in the order of every score array. */
extern const char *const score_criteria[SCORE_NCRITERIA];
/* weights[i] applies to score_criteria[i]; all zero means the defaults. */
struct score_weights {
    double w[SCORE_NCRITERIA];
};
double score_ethical(const json_t *d);    /* true flags / 10 */
double score_technical(const json_t *d);  /* earned / possible over known components */
double score_popularity(const json_t *d); /* clamp(log10(citations) / 3) */
/* All twelve criterion scores of d, each in [0, 1]. */
void score_all(const json_t *d, double out[SCORE_NCRITERIA]);
/* sum s*w / sum w; ethical 0.4, technical 0.4, popularity 0.2 when sum w = 0 or w NULL. */
double score_combine(const double s[SCORE_NCRITERIA], const struct score_weights *w);
/* The index of a criterion name, or -1. */
int score_criterion_index(const char *name);
/* Parse [{criterion_name, weight}] (NULL or JSON null: no weights): known names, numbers in
 * [0, 1], each name once. 0 and *out, or -EINVAL and *details (caller decrefs). */
int score_parse_weights(const json_t *arr, struct score_weights *out, json_t **details)
    __attribute__((warn_unused_result));
/* A new copy of a valid weights list with each weight divided by their sum when it exceeds 1. */
json_t *score_weights_normalised(const json_t *arr);
/* Add ethical_score, technical_score, popularity_score and criterion_scores (all twelve) to
 * d, and "score" when w is not NULL. */
void score_annotate(json_t *d, const struct score_weights *w);

/* ---- filters.c: catalogue filters (GET /datasets, /datasets/score, project criteria) ---- */
#define FILTER_MAX_PARAMS 48
#define FILTER_SQL_MAX    16384
/* Conditions on selection.datasets aliased d, joined by AND ("TRUE" when there are none),
 * with their parameters; filters_sql_release frees everything. */
struct filter_sql {
    char *where;
    char *params[FILTER_MAX_PARAMS];
    int nparams;
};
/* Check a filter object (JSON values) and give its canonical form (aliases resolved, lists
 * lowercased, empty values dropped; caller decrefs). -EINVAL and *details naming every
 * unknown or bad filter. */
int filters_from_json(const json_t *in, json_t **out, json_t **details)
    __attribute__((warn_unused_result));
/* The same from a raw query string: keys in skip (NULL-terminated) are ignored, repeated
 * keys and comma-separated values make lists (domain, task). */
int filters_from_query(const char *qs, const char *const *skip, json_t **out, json_t **details)
    __attribute__((warn_unused_result));
/* "field problem; field problem" from such details, for the error message. */
void filters_message(const json_t *details, char *msg, size_t len);
/* SQL for a canonical filter object, parameters numbered from $first. 0, -ENOMEM, -EMSGSIZE. */
int filters_sql(const json_t *canon, int first, struct filter_sql *out)
    __attribute__((warn_unused_result));
void filters_sql_release(struct filter_sql *f);

/* ---- store_catalogue.c: SQL of the catalogue, projects and templates ---- */
/* Errors: -ENOENT when the row does not exist or the caller may not see it, db errors. */
/* A dataset the caller may see; *can_edit = 1 when the caller owns it or is admin. */
int store_dataset_perm(struct svc *s, const char *id, const char *user, int admin, int *can_edit)
    __attribute__((warn_unused_result));
/* The dataset row as a JSON object (caller decrefs), when visible to the caller. */
int store_dataset_row(struct svc *s, const char *id, const char *user, int admin, json_t **out)
    __attribute__((warn_unused_result));
/* Sorted distinct domains (tasks = 0) or tasks (tasks = 1) of the visible datasets. */
int store_dataset_values(struct svc *s, const char *user, int admin, int tasks, json_t **out)
    __attribute__((warn_unused_result));
/* Set the fields of a validated patch (keys from meta_fields); *out the updated row.
 * -EEXIST when the new name is taken. */
int store_update_dataset(struct svc *s, const char *id, const json_t *patch, json_t **out)
    __attribute__((warn_unused_result));
/* Delete a dataset (its files and columns cascade); *blobs = the blob ids its files used,
 * for store_blob_release once the row is gone (caller decrefs). */
int store_delete_dataset(struct svc *s, const char *id, json_t **blobs)
    __attribute__((warn_unused_result));
/* The visible datasets matching f (parameters from $3), at most 10000, by name. */
int store_score_candidates(struct svc *s, const char *user, int admin, const struct filter_sql *f,
                           json_t **rows) __attribute__((warn_unused_result));
/* Up to limit visible datasets similar to id, in IBIS-X priority order, each with
 * "priority" (1 domain and task overlap, 2 domain, 3 task, 4 size, 5 recent). */
int store_similar(struct svc *s, const char *id, const char *user, int admin, long limit,
                  json_t **rows) __attribute__((warn_unused_result));
/* Projects: always restricted to user's own (another user's project is -ENOENT). fields
 * holds name, description, criteria (canonical) and weights (normalised). */
int store_project_list(struct svc *s, const char *user, long page, long size, json_t **items,
                       long *total) __attribute__((warn_unused_result));
int store_project_get(struct svc *s, const char *id, const char *user, json_t **out)
    __attribute__((warn_unused_result));
int store_project_create(struct svc *s, const char *user, const json_t *fields, json_t **out)
    __attribute__((warn_unused_result));
int store_project_update(struct svc *s, const char *id, const char *user, const json_t *fields,
                         json_t **out) __attribute__((warn_unused_result));
int store_project_delete(struct svc *s, const char *id, const char *user)
    __attribute__((warn_unused_result));
/* Ethical templates as {domain: {ten flags, representativity_level, sample_balance_level}};
 * put replaces the whole set with a validated one. */
int store_templates_get(struct svc *s, json_t **out) __attribute__((warn_unused_result));
int store_templates_put(struct svc *s, const json_t *templates) __attribute__((warn_unused_result));

/* ---- datasheet.c: completion status, Croissant, similarity wording; pure ---- */
/* GET /datasets/{id}/completion for a dataset row (a new object). */
json_t *datasheet_completion(const json_t *d);
/* Croissant 1.0 JSON-LD (with the RAI vocabulary) of a dataset with files and columns. */
json_t *datasheet_croissant(const json_t *d);
/* Why other is similar to d: "shared domains: a, b; shared tasks: c; similar size". */
void datasheet_similarity(const json_t *d, const json_t *other, char *out, size_t len);

/* ---- templates.c: per-domain ethical defaults ---- */
/* Fill each ethical flag of a new dataset object that is absent or null from the template
 * of its first domain that has one, else "default". 0, or a db error (dataset unchanged). */
int templates_apply(struct svc *s, json_t *dataset) __attribute__((warn_unused_result));
void templates_get(struct http_req *req, struct http_resp *resp);
void templates_put(struct http_req *req, struct http_resp *resp);

/* ---- datasets.c: catalogue handlers ---- */
void datasets_list(struct http_req *req, struct http_resp *resp);
void datasets_domains(struct http_req *req, struct http_resp *resp);
void datasets_tasks(struct http_req *req, struct http_resp *resp);
void datasets_score(struct http_req *req, struct http_resp *resp);
void datasets_get(struct http_req *req, struct http_resp *resp);
void datasets_patch(struct http_req *req, struct http_resp *resp);
void datasets_delete(struct http_req *req, struct http_resp *resp);
void datasets_similar(struct http_req *req, struct http_resp *resp);
void datasets_completion(struct http_req *req, struct http_resp *resp);
void datasets_croissant(struct http_req *req, struct http_resp *resp);
/* The datasets visible to the caller that pass filters (a canonical filter object), each
 * with score and criterion_scores under w, by score descending (name breaks ties). */
int datasets_ranked(struct http_req *req, const json_t *filters, const struct score_weights *w,
                    json_t **out) __attribute__((warn_unused_result));

/* ---- projects.c: project handlers ---- */
void projects_list(struct http_req *req, struct http_resp *resp);
void projects_create(struct http_req *req, struct http_resp *resp);
void projects_get(struct http_req *req, struct http_resp *resp);
void projects_patch(struct http_req *req, struct http_resp *resp);
void projects_delete(struct http_req *req, struct http_resp *resp);
void projects_recommendations(struct http_req *req, struct http_resp *resp);

/* ---- routes.c ---- */
extern const struct http_route sel_routes[];
extern const size_t sel_nroutes;

#endif
