/* pipeline: internal declarations shared by the ml-pipeline service's files.
 *
 * One binary, two modes. `ibx-pipeline` is the API: it validates and records experiments,
 * publishes them on ibx.pipeline.requests and runs the sweeper (re-publishing pending runs
 * nobody took, re-queueing or failing runs whose worker stopped responding).
 * `ibx-pipeline --worker` consumes ibx.pipeline.requests and trains; it serves only
 * /healthz, /readyz, /metrics and /openapi.json on its own port (default 8092).
 * The experiments row is the truth about a run; Kafka carries the work and the news. */
#ifndef IBX_PIPELINE_H
#define IBX_PIPELINE_H

#include <ibx/blob.h>
#include <ibx/buf.h>
#include <ibx/bus.h>
#include <ibx/frame.h>
#include <ibx/svc.h>

#include <jansson.h>
#include <stdint.h>

#define PL_WUR __attribute__((warn_unused_result))

#define PL_WORKER_PORT     8092
#define PL_MODEL_MEDIA     "application/vnd.ibisx.model"
#define PL_COLUMN_MAX      255
#define PL_ALGORITHM_MAX   63
#define PL_ERROR_MAX       1024
#define PL_REQUESTED_EVENT "experiment.requested"

/* The service's own configuration (main.c's table; see the README). */
struct pl_config {
    const char *selection_url;
    long lease_s;        /* a running run whose heartbeat is older belongs to a dead worker */
    long max_attempts;   /* claims of a run before a dead worker fails it */
    long republish_s;    /* a pending run not taken within this is published again */
    long sweep_s;        /* period of the sweeper (API) */
    long max_active;     /* pending + running runs per user */
    long max_dataset_mb; /* largest columnar file a worker or the advice loads */
    long threads;        /* threads one training uses (0: one per CPU) */
    long progress_ms;    /* least interval between two progress writes of a run */
};

struct ticker;
struct worker;

/* The service's state (s->app). */
struct pl_app {
    struct pl_config cfg;
    struct blob_store *blobs; /* artifacts: trained models (schema pipeline) */
    struct ticker *sweeper;   /* API mode: runs sweeper_pass */
    struct worker *worker;    /* worker mode */
    void *plans;              /* the plans' own state (plan*.c), NULL until they set it */
};

/* ---- main.c: the request types the worker handles (by the message's "type") ---- */
typedef int (*pl_job_fn)(struct svc *s, const struct bus_msg *m);
struct pl_job {
    const char *type; /* e.g. PL_REQUESTED_EVENT */
    pl_job_fn fn;     /* 0 handled (committed), < 0 retried (then ibx.dlq) */
};
extern const struct pl_job pl_jobs[];
extern const size_t pl_njobs;

/* ---- datasrc.c: datasets, through the selection service ---- */
/* An internal token for user_id with role (for calls a worker makes on a user's behalf).
 * *out is the caller's (free). 0, -EACCES (the key set cannot issue: RS256 without the
 * private key), -EINVAL, -ENOMEM. */
int datasrc_token(struct svc *s, const char *user_id, const char *role, char **out) PL_WUR;
/* GET /api/v1/datasets/{id} as the token's user: *out the dataset object (caller
 * decrefs). -ENOENT (no such dataset, or not visible), -EIO (selection unreachable or
 * answered something else). */
int datasrc_dataset(struct svc *s, const char *token, const char *dataset_id, json_t **out) PL_WUR;
/* The columns of the dataset object's first file: 1 when name is one of them. */
int datasrc_has_column(const json_t *dataset, const char *name);
/* The columnar copy of file 0 of a dataset (ref: id or version) loaded as a frame (*out,
 * caller frees). -ENOENT, -EMSGSIZE (larger than IBX_PIPELINE_MAX_DATASET_MB), -EIO;
 * a message in err. */
int datasrc_frame(struct svc *s, const char *token, const char *ref, struct frame **out, char *err,
                  size_t errlen) PL_WUR;

/* ---- artifacts.c: trained models in the content-addressed store ---- */
/* Store bytes (borrowed) and write their SHA-256 id. */
int artifact_put(struct svc *s, const void *data, size_t len, const char *media_type,
                 char id[BLOB_ID_LEN + 1]) PL_WUR;
/* Append the whole artifact to out (its limit applies). */
int artifact_get(struct svc *s, const char *id, struct buf *out) PL_WUR;
/* Delete id unless a row still references it (store_artifact_referenced). Best effort:
 * a failure is logged and the blob kept. NULL and "" are ignored. */
void artifact_release(struct svc *s, const char *id);
/* Answer 200 with the artifact streamed as a download named filename. */
void artifact_respond(struct svc *s, struct http_resp *resp, const char *id, const char *media_type,
                      const char *filename);

/* ---- events.c: the only file that speaks Kafka ---- */
/* Publish an experiment on ibx.pipeline.requests (key: its id). */
int events_request(struct svc *s, const char *experiment_id, const char *user_id) PL_WUR;
/* Publish value (borrowed) on ibx.pipeline.events with key. Failures are logged and
 * returned; callers treat news as best effort (the row is the truth). */
int events_news(struct svc *s, const char *key, json_t *value);
/* The pipeline_run usage event on ibx.usage that settles the gateway's quota reservation
 * for the request that created an experiment (best effort: an unsettled reservation
 * expires). key_id may be "" or NULL; the algorithm is the usage's "model". */
int events_usage(struct svc *s, const char *request_id, const char *user_id, const char *key_id,
                 const char *experiment_id, const char *algorithm);
/* Consume topic in group, calling handler(ctx, msg) per message (commit after 0). */
int events_consume(struct svc *s, const char *group, const char *topic, bus_handler_fn handler,
                   void *ctx, struct bus_consumer **out) PL_WUR;

/* ---- runspec.c: an experiment request, checked (no HTTP, SQL or Kafka) ---- */
struct run_spec {
    char project_id[37]; /* "" when absent */
    char dataset_id[37];
    char target_column[PL_COLUMN_MAX + 1];
    char task_type[16]; /* "" when absent (to detect) */
    char algorithm[PL_ALGORITHM_MAX + 1];
    json_t *hyperparameters; /* owned object */
    json_t *preprocessing;   /* owned object: prep_config_json of the parsed settings */
    double test_size;
    long random_state;
    long cv_folds; /* 0: none */
};
void runspec_release(struct run_spec *r);
/* Check the body's shape and every field that needs no data (everything except the task
 * and the hyperparameters, which learner_validate checks once the task is known).
 * 0 and *out (release it), or -EINVAL and *details ({"fields":[{"field","problem"}]}). */
int runspec_parse(const json_t *body, struct run_spec *out, json_t **details) PL_WUR;
/* The algorithm and hyperparameters against the learner catalogue for the task.
 * 0, or -EINVAL and *details as above. */
int runspec_check_learner(const struct run_spec *r, json_t **details) PL_WUR;
/* {"fields":[{"field": field, "problem": problem}]} (new reference). */
json_t *runspec_problem(const char *field, const char *problem);
/* The first problem of details as "field: problem". */
void runspec_message(const json_t *details, char *out, size_t n);

/* ---- store_runs.c: the experiments table (the only SQL besides store.c) ---- */
/* What a worker needs of a run it claimed. */
struct run_row {
    char id[37];
    char user_id[37];
    char owner_role[16];
    char project_id[37];
    char dataset_id[37];
    char dataset_version[65];
    char target_column[PL_COLUMN_MAX + 1];
    char task_type[16];
    char algorithm[PL_ALGORITHM_MAX + 1];
    json_t *hyperparameters; /* owned */
    json_t *preprocessing;   /* owned */
    double test_size;
    long random_state;
    long cv_folds;
    long attempts;
};
void store_run_row_release(struct run_row *r);

/* The submission, as recorded by store_run_create. */
struct run_new {
    const struct run_spec *spec;
    const char *user_id, *role;
    const char *dataset_version;
    const char *task_type, *task_reason;
    const char *idem_key;     /* NULL: none */
    const char *request_hash; /* SHA-256 of the body, with idem_key */
};
/* Record a run (pending) unless the user already has max_active pending or running
 * (-EDQUOT) or the Idempotency-Key was used: same body -> 0 with *created 0 and the
 * existing run; another body -> -EEXIST. *out: the run's JSON (caller decrefs). */
int store_run_create(struct svc *s, const struct run_new *n, long max_active, json_t **out,
                     int *created) PL_WUR;
/* The run as JSON when user (or an admin) may see it; -ENOENT otherwise. */
int store_run_get(struct svc *s, const char *id, const char *user, int admin, json_t **out) PL_WUR;
/* ?project_id (may be NULL), ?status (may be NULL), page from 1: the list body. */
int store_run_list(struct svc *s, const char *user, int admin, const char *project_id,
                   const char *status, long page, long page_size, json_t **out) PL_WUR;
/* Results of a completed run: *status (16 bytes) always when visible; *out only when
 * completed (with the run's identity and timings). -ENOENT. */
int store_run_results(struct svc *s, const char *id, const char *user, int admin, char *status,
                      json_t **out) PL_WUR;
/* Status (16 bytes) and model id (BLOB_ID_LEN + 1, "" when none) of a visible run. */
int store_run_model(struct svc *s, const char *id, const char *user, int admin, char *status,
                    char *model) PL_WUR;
/* pending|running -> cancelled: 0 and *out (the run). -EALREADY with *status when it had
 * already ended, -ENOENT. */
int store_run_cancel(struct svc *s, const char *id, const char *user, int admin, json_t **out,
                     char *status) PL_WUR;
/* Delete a visible run: 0, model (BLOB_ID_LEN + 1, "" when none) and owner (37), -ENOENT. */
int store_run_delete(struct svc *s, const char *id, const char *user, int admin, char *model,
                     char *owner) PL_WUR;
/* The live state of a run for the event stream: {"status","progress","stage","error",
 * "updated_at"}. */
int store_run_state(struct svc *s, const char *id, json_t **out) PL_WUR;
/* The message for this run was published now. */
void store_run_published(struct svc *s, const char *id);

/* Worker side. Claim a pending run (pending -> running, attempts + 1): 0 and *out,
 * -EALREADY when it is not pending (done, taken, cancelled), -ENOENT (deleted). */
int store_run_claim(struct svc *s, const char *id, const char *worker, struct run_row *out) PL_WUR;
/* Progress (0..100) and stage of a run this worker holds; also refreshes the heartbeat.
 * -ECANCELED when the run is no longer this worker's running run. */
int store_run_progress(struct svc *s, const char *id, const char *worker, int progress,
                       const char *stage) PL_WUR;
/* Heartbeat only; -ECANCELED as above. */
int store_run_heartbeat(struct svc *s, const char *id, const char *worker) PL_WUR;
/* 0 while the run is still this worker's running run, else -ECANCELED. */
int store_run_still_mine(struct svc *s, const char *id, const char *worker) PL_WUR;
/* running -> completed with the model, results and timings (borrowed). -ECANCELED when
 * the run is no longer this worker's (cancelled, deleted, taken over). */
int store_run_complete(struct svc *s, const char *id, const char *worker, const char *model,
                       json_t *results, json_t *timings) PL_WUR;
/* running -> failed with error. -ECANCELED as above. */
int store_run_fail(struct svc *s, const char *id, const char *worker, const char *error,
                   json_t *timings) PL_WUR;
/* running -> pending (this worker is stopping; the attempt is given back). */
int store_run_release(struct svc *s, const char *id, const char *worker) PL_WUR;

/* 1 when some row still references artifact id, 0 when none, < 0 when unknown. */
int store_artifact_referenced(struct svc *s, const char *id);

/* ---- store.c: data rights ---- */
/* Data rights (svc_def.export_user): everything this service holds about user_id as
 * {"experiments":[...], "artifacts":[...]}, or NULL when it cannot be read. Caller decrefs. */
json_t *store_export_user(struct svc *s, const char *user_id);
/* Data rights (svc_def.erase_user): delete the user's rows and the artifacts only they
 * referenced; 0 also when there were none. A running run stops (its row is gone). */
int store_erase_user(struct svc *s, const char *user_id) __attribute__((warn_unused_result));

/* ---- experiments.c: the /experiments handlers ---- */
void exp_create(struct http_req *req, struct http_resp *resp);
void exp_list(struct http_req *req, struct http_resp *resp);
void exp_get(struct http_req *req, struct http_resp *resp);
void exp_results(struct http_req *req, struct http_resp *resp);
void exp_model(struct http_req *req, struct http_resp *resp);
void exp_cancel(struct http_req *req, struct http_resp *resp);
void exp_delete(struct http_req *req, struct http_resp *resp);
/* expevents.c: GET /experiments/{id}/events (SSE). */
void exp_events(struct http_req *req, struct http_resp *resp);

/* ---- advice.c: /algorithms and /advice ---- */
void advice_algorithms(struct http_req *req, struct http_resp *resp);
void advice_task_type(struct http_req *req, struct http_resp *resp);
void advice_algorithm(struct http_req *req, struct http_resp *resp);

/* ---- sweeper.c (API mode): one pass (svc is the struct svc; a ticker runs it) ---- */
void sweeper_pass(void *svc);

/* ---- worker.c (worker mode) ---- */
int worker_start(struct svc *s, struct worker **out) PL_WUR;
/* Stop consuming; a training in progress is cancelled and its run given back (pending). */
void worker_stop(struct worker *w);
/* The job for PL_REQUESTED_EVENT. */
int worker_experiment_job(struct svc *s, const struct bus_msg *m);
/* 1 once the worker is stopping (long jobs give their work back). */
int worker_stopping(const struct svc *s);
/* This worker's id ("host:pid:random"). */
const char *worker_id(const struct svc *s);

#endif
