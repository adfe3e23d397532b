/* serving: internal declarations shared by the model-serving service's files. */
#ifndef IBX_SERVING_H
#define IBX_SERVING_H

#include <ibx/blob.h>
#include <ibx/model.h>
#include <ibx/svc.h>

#include <jansson.h>
#include <pthread.h>

#define SV_NAME_MAX 64
#define SV_MAX_ROWS 10000

/* Configuration (IBX_PIPELINE_URL, IBX_SERVING_MAX_MODEL_MB). */
struct sv_config {
    const char *pipeline_url;
    long max_model_mb;
};

/* A loaded model version. The registry holds one reference; each request using it holds
 * another, so a delete during a predict frees the model only when the predict is done. */
struct sv_entry {
    struct sv_entry *next;
    char id[37];
    char user_id[64];
    char name[SV_NAME_MAX + 1];
    int version;
    char experiment_id[37];
    char sha256[65];
    struct model *model;
    int refs;
};

/* The loaded models. */
struct sv_registry {
    pthread_mutex_t mu;
    struct sv_entry *head;
};

struct sv_app {
    struct sv_config cfg;
    struct blob_store *blobs;
    struct sv_registry reg;
};

/* ---- registry.c ---- */
void reg_init(struct sv_registry *r);
/* Free every entry (at exit; no request may still hold one). */
void reg_fini(struct sv_registry *r);
/* Add e (refs set to 1: the registry's); e becomes the registry's. */
void reg_add(struct sv_registry *r, struct sv_entry *e);
/* The owner's model name at version (0: the latest), with a reference for the caller
 * (reg_put), or NULL. */
struct sv_entry *reg_get(struct sv_registry *r, const char *user_id, const char *name, int version);
void reg_put(struct sv_registry *r, struct sv_entry *e);
/* Unload every version of the owner's name; the number unloaded. */
int reg_remove(struct sv_registry *r, const char *user_id, const char *name);
/* Free an entry no one refers to (its model too). Accepts NULL. */
void reg_entry_free(struct sv_entry *e);

/* ---- deploy.c: the API handlers ---- */
void dep_create(struct http_req *req, struct http_resp *resp);
void dep_delete(struct http_req *req, struct http_resp *resp);
void dep_predict(struct http_req *req, struct http_resp *resp);
/* At start-up: load every ready deployment from the artifact store. */
int dep_reload(struct svc *s);
/* Load model bytes and warm it up with one prediction: 0, -EINVAL (err says), -ENOMEM. */
int dep_load_bytes(const void *data, size_t len, struct model **out, char *err, size_t errlen);

/* ---- smetrics.c ---- */
/* Count one request to e through api ("predict", "infer", "explain") that began at t0
 * (clock_mono_s) and answered status, with rows rows. */
void smetrics_observe(const struct sv_entry *e, const char *api, size_t rows, double t0,
                      int status);

/* ---- v2.c: the KServe V2 REST routes ---- */
void v2_live(struct http_req *req, struct http_resp *resp);
void v2_ready(struct http_req *req, struct http_resp *resp);
void v2_server(struct http_req *req, struct http_resp *resp);
void v2_model_meta(struct http_req *req, struct http_resp *resp);
void v2_model_ready(struct http_req *req, struct http_resp *resp);
void v2_infer(struct http_req *req, struct http_resp *resp);
void v2_explain(struct http_req *req, struct http_resp *resp);

/* ---- store.c: the only file that speaks SQL ---- */
/* Insert a ready deployment at the owner's next version of name; *version set. -EEXIST
 * when a concurrent deployment took that version (try again). */
int store_insert(struct svc *s, const struct sv_entry *e, int *version)
    __attribute__((warn_unused_result));
/* Delete the owner's name (all versions): 0, -ENOENT. *shas (caller decrefs) gets the
 * artifacts no other deployment uses any more. */
int store_delete(struct svc *s, const char *user_id, const char *name, json_t **shas)
    __attribute__((warn_unused_result));
/* Every ready deployment as [{id, user_id, name, version, experiment_id, sha256}]. */
int store_all_ready(struct svc *s, json_t **out) __attribute__((warn_unused_result));
/* Data rights (svc_def.export_user): everything this service holds about user_id as
 * {"deployments":[...]}, or NULL when it cannot be read. Caller decrefs. */
json_t *store_export_user(struct svc *s, const char *user_id);
/* Data rights (svc_def.erase_user): delete the user's rows; 0 also when there were none. */
int store_erase_user(struct svc *s, const char *user_id) __attribute__((warn_unused_result));

#endif
