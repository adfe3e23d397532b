/* worker: `ibx-pipeline --worker`. Consumes ibx.pipeline.requests in the consumer group
 * "ml-pipeline-workers" and hands each message to the job of its "type" (main.c's
 * pl_jobs). The experiment job claims the run in PostgreSQL (pending -> running, so a
 * repeated message finds it taken or done), loads the dataset's columnar copy from the
 * selection service, trains with libs/ml (mlrun_train), stores the model in the artifact
 * store and records the outcome; only then is the message committed.
 *
 * While a run trains, a watch thread (libs/common jobwatch) checks the row every 200 ms
 * (cancelled, deleted or taken over: the cancel flag stops the training) and refreshes the
 * heartbeat the sweeper's lease reads. Progress goes to the row (at most every
 * IBX_PIPELINE_PROGRESS_MS and at every stage change) and to ibx.pipeline.events. When the
 * worker stops (SIGTERM), a training in progress is cancelled and its run given back
 * (pending) for another worker. */
#include "pipeline.h"

#include <ibx/clock.h>
#include <ibx/ids.h>
#include <ibx/jobwatch.h>
#include <ibx/log.h>
#include <ibx/metrics.h>
#include <ibx/mlrun.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORKER_GROUP    "ml-pipeline-workers"
#define WORKER_WATCH_MS 200

struct worker {
    struct svc *svc;
    struct bus_consumer *consumer;
    char id[128];
    volatile int stopping;
};

/* One run being trained by this worker. */
struct run_ctx {
    struct svc *svc;
    const struct run_row *row;
    const char *worker;
    volatile int cancel;    /* read by mlrun, raised by the watch */
    struct jobwatch *watch; /* lease checks and heartbeats while the run trains */
    int64_t last_write_ms;  /* progress throttle (training thread only) */
    char last_stage[16];
    int64_t started_ms;
};

static struct worker *worker_of(const struct svc *s)
{
    return s->app ? ((const struct pl_app *)s->app)->worker : NULL;
}

int worker_stopping(const struct svc *s)
{
    const struct worker *w = worker_of(s);
    return w && w->stopping;
}

const char *worker_id(const struct svc *s)
{
    const struct worker *w = worker_of(s);
    return w ? w->id : "";
}

static const struct pl_config *worker_cfg(const struct svc *s)
{
    return &((const struct pl_app *)s->app)->cfg;
}

/* ------------------------------------------------------------------ news */

static void run_news(struct run_ctx *c, const char *type, const char *status, int progress,
                     const char *stage, const char *detail)
{
    char at[40];
    clock_iso8601(clock_wall_ms(), at, sizeof(at));
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s?, s:s}", "type", type,
                          "experiment_id", c->row->id, "user_id", c->row->user_id, "status", status,
                          "progress", progress, "stage", stage, "detail", detail, "at", at);
    if (v)
        (void)events_news(c->svc, c->row->id, v);
    json_decref(v);
}

/* mlrun's progress callback (the training thread). */
static void run_progress(void *ctx, const char *stage, int percent, const char *detail)
{
    struct run_ctx *c = ctx;
    int64_t now = clock_mono_ms();
    int new_stage = strcmp(stage, c->last_stage) != 0;
    if (!new_stage && now - c->last_write_ms < worker_cfg(c->svc)->progress_ms)
        return;
    c->last_write_ms = now;
    snprintf(c->last_stage, sizeof(c->last_stage), "%s", stage);
    int rc = store_run_progress(c->svc, c->row->id, c->worker, percent, stage);
    if (rc == -ECANCELED) {
        jobwatch_stop_with(c->watch, JOBWATCH_LOST);
        return;
    }
    run_news(c, "experiment.progress", "running", percent, stage, detail);
}

/* ------------------------------------------------------------------ the lease */

static int run_still_mine(void *ctx)
{
    struct run_ctx *c = ctx;
    return store_run_still_mine(c->svc, c->row->id, c->worker);
}

static int run_heartbeat(void *ctx)
{
    struct run_ctx *c = ctx;
    return store_run_heartbeat(c->svc, c->row->id, c->worker);
}

/* ------------------------------------------------------------------ one run */

/* The mlrun configuration of a claimed run (its stored fields as a request body). */
static int run_config(const struct run_row *row, struct mlrun_config *cfg, char *err, size_t errlen)
{
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:O, s:O, s:f, s:I}", "target_column", row->target_column,
                  "task_type", row->task_type, "algorithm", row->algorithm, "hyperparameters",
                  row->hyperparameters, "preprocessing", row->preprocessing, "test_size",
                  row->test_size, "random_state", (json_int_t)row->random_state);
    if (!body)
        return -ENOMEM;
    if (row->cv_folds > 0)
        json_object_set_new(body, "cv_folds", json_integer(row->cv_folds));
    json_t *problems = NULL;
    int rc = mlrun_config_parse(body, cfg, &problems);
    json_decref(body);
    if (rc == -EINVAL) {
        const json_t *p = json_array_get(problems, 0);
        snprintf(err, errlen, "the stored configuration is not valid: %s: %s",
                 json_string_value(json_object_get(p, "field")),
                 json_string_value(json_object_get(p, "message")));
    }
    json_decref(problems);
    return rc;
}

static int run_load(struct run_ctx *c, struct frame **data, char *err, size_t errlen)
{
    char *token = NULL;
    int rc = datasrc_token(c->svc, c->row->user_id, c->row->owner_role, &token);
    if (rc) {
        snprintf(err, errlen, "cannot call the selection service: no internal token (%s)",
                 strerror(-rc));
        return rc;
    }
    rc = datasrc_frame(c->svc, token, c->row->dataset_version, data, err, errlen);
    free(token);
    if (rc == 0) {
        char detail[64];
        snprintf(detail, sizeof(detail), "%zu rows, %zu columns", frame_nrows(*data),
                 frame_ncols(*data));
        run_progress(c, "loading", 5, detail);
    }
    return rc;
}

/* The outcome: completed with the model and results. */
static int run_complete(struct run_ctx *c, const struct buf *model, json_t *results,
                        json_t *timings)
{
    char hash[BLOB_ID_LEN + 1];
    int64_t t0 = clock_mono_ms();
    int rc = artifact_put(c->svc, model->data, model->len, PL_MODEL_MEDIA, hash);
    if (rc)
        return rc;
    json_object_set_new(timings, "storing", json_integer(clock_mono_ms() - t0));
    json_object_set_new(timings, "attempt_total", json_integer(clock_mono_ms() - c->started_ms));
    json_t *clean = json_deep_copy(results);
    if (!clean)
        return -ENOMEM;
    json_object_del(clean, "timings_ms");
    rc = store_run_complete(c->svc, c->row->id, c->worker, hash, clean, timings);
    json_decref(clean);
    if (rc) {
        artifact_release(c->svc, hash);
        return rc;
    }
    const struct run_row *r = c->row;
    json_t *ev = json_pack(
        "{s:s, s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O?}", "type",
        "experiment.completed", "experiment_id", r->id, "user_id", r->user_id, "project_id",
        r->project_id[0] ? r->project_id : NULL, "dataset_id", r->dataset_id, "dataset_version",
        r->dataset_version, "target_column", r->target_column, "algorithm", r->algorithm,
        "task_type", json_string_value(json_object_get(results, "task")), "artifact_sha256", hash,
        "media_type", PL_MODEL_MEDIA, "metrics", json_object_get(results, "metrics"));
    if (ev)
        (void)events_news(c->svc, r->id, ev);
    json_decref(ev);
    return 0;
}

static void run_failed(struct run_ctx *c, const char *error, json_t *timings)
{
    json_object_set_new(timings, "attempt_total", json_integer(clock_mono_ms() - c->started_ms));
    int rc = store_run_fail(c->svc, c->row->id, c->worker, error, timings);
    if (rc) {
        log_warn("run %s: could not record its failure (%s)", c->row->id, strerror(-rc));
        return;
    }
    log_fields(LOG_LVL_WARN, json_pack("{s:s}", "experiment_id", c->row->id), "run failed: %s",
               error);
    char at[40];
    clock_iso8601(clock_wall_ms(), at, sizeof(at));
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "experiment.failed",
                           "experiment_id", c->row->id, "user_id", c->row->user_id, "status",
                           "failed", "error", error, "at", at);
    if (ev)
        (void)events_news(c->svc, c->row->id, ev);
    json_decref(ev);
}

/* Load, train, store. 0 when the outcome is recorded (or the run is no longer ours);
 * < 0 to have the message delivered again (the worker is stopping, or the database
 * could not record the outcome). */
static int run_train(struct run_ctx *c, json_t *timings)
{
    char err[PL_ERROR_MAX] = "";
    struct frame *data = NULL;
    struct mlrun_config cfg;
    struct buf model;
    buf_init(&model, (size_t)1 << 31);
    json_t *results = NULL;
    int64_t t0 = clock_mono_ms();
    int rc = run_load(c, &data, err, sizeof(err));
    json_object_set_new(timings, "loading", json_integer(clock_mono_ms() - t0));
    if (rc == 0 && (rc = run_config(c->row, &cfg, err, sizeof(err))) == 0) {
        struct mlrun_hooks hooks = {run_progress, c, &c->cancel, (int)worker_cfg(c->svc)->threads};
        rc = mlrun_train(data, &cfg, &hooks, &model, &results, err, sizeof(err));
        mlrun_config_release(&cfg);
    }
    frame_free(data);
    if (rc == 0) {
        json_t *t = json_object_get(results, "timings_ms");
        json_object_update_missing(timings, t);
        rc = run_complete(c, &model, results, timings);
        if (rc == -ECANCELED)
            jobwatch_stop_with(c->watch, JOBWATCH_LOST);
        else if (rc)
            snprintf(err, sizeof(err), "the model could not be stored (%s)", strerror(-rc));
    }
    json_decref(results);
    buf_release(&model);
    enum jobwatch_why why = jobwatch_why(c->watch);
    if (rc == 0 || (rc == -ECANCELED && why == JOBWATCH_LOST))
        return 0;
    if (rc == -ECANCELED || why == JOBWATCH_STOPPING) {
        if (store_run_release(c->svc, c->row->id, c->worker) == 0)
            log_info("run %s given back: this worker is stopping", c->row->id);
        return -ECANCELED;
    }
    char msg[PL_ERROR_MAX + 32];
    snprintf(msg, sizeof(msg), "%s", err[0] ? err : strerror(-rc));
    run_failed(c, msg, timings);
    return 0;
}

static const char *run_outcome(int rc, enum jobwatch_why why)
{
    if (why == JOBWATCH_STOPPING)
        return "released";
    if (why == JOBWATCH_LOST)
        return "stopped";
    return rc == 0 ? "finished" : "error";
}

static int run_experiment(struct svc *s, const struct run_row *row, const char *request_id)
{
    struct run_ctx c;
    memset(&c, 0, sizeof(c));
    c.svc = s;
    c.row = row;
    c.worker = worker_id(s);
    c.started_ms = clock_mono_ms();
    snprintf(c.last_stage, sizeof(c.last_stage), "loading");
    long lease_ms = worker_cfg(s)->lease_s * 1000;
    struct jobwatch_opts o = {run_still_mine,
                              run_heartbeat,
                              &worker_of(s)->stopping,
                              &c,
                              WORKER_WATCH_MS,
                              lease_ms / 4 > 1000 ? lease_ms / 4 : 1000,
                              request_id};
    int rc = jobwatch_start(&o, &c.cancel, &c.watch);
    if (rc) {
        if (store_run_release(s, row->id, c.worker) != 0)
            log_warn("run %s: could not be given back", row->id);
        return rc;
    }
    json_t *timings = json_object();
    rc = timings ? run_train(&c, timings) : -ENOMEM;
    json_decref(timings);
    enum jobwatch_why why = jobwatch_end(c.watch);
    char labels[64];
    snprintf(labels, sizeof(labels), "outcome=\"%s\"", run_outcome(rc, why));
    metrics_counter_add("ibx_pipeline_worker_runs_total", "runs this worker handled", labels, 1);
    metrics_histogram_observe("ibx_pipeline_worker_run_seconds", "time a run held this worker",
                              NULL, (double)(clock_mono_ms() - c.started_ms) / 1000.0);
    return rc;
}

int worker_experiment_job(struct svc *s, const struct bus_msg *m)
{
    const char *id = json_string_value(json_object_get(m->value, "experiment_id"));
    if (!id || !ids_is_uuid(id)) {
        log_warn("a request without a valid experiment_id at %s[%d]@%lld (ibx.dlq after retries)",
                 m->topic, (int)m->partition, (long long)m->offset);
        return -EINVAL;
    }
    struct run_row row;
    int rc = store_run_claim(s, id, worker_id(s), &row);
    if (rc == -EALREADY || rc == -ENOENT) {
        log_debug("run %s: nothing to do (%s)", id, rc == -ENOENT ? "deleted" : "not pending");
        return 0;
    }
    if (rc) {
        log_warn("run %s: cannot claim it now (%s)", id, strerror(-rc));
        return rc;
    }
    log_fields(LOG_LVL_INFO,
               json_pack("{s:s, s:s, s:I}", "experiment_id", id, "algorithm", row.algorithm,
                         "attempt", (json_int_t)row.attempts),
               "training run %s", id);
    rc = run_experiment(s, &row, m->request_id);
    store_run_row_release(&row);
    return rc;
}

/* ------------------------------------------------------------------ consumer */

static int worker_dispatch(void *ctx, const struct bus_msg *m)
{
    struct svc *s = ctx;
    const char *type = json_string_value(json_object_get(m->value, "type"));
    for (size_t i = 0; type && i < pl_njobs; i++) {
        if (strcmp(pl_jobs[i].type, type) == 0)
            return pl_jobs[i].fn(s, m);
    }
    log_warn("ignored a request of unknown type %s at %s[%d]@%lld", type ? type : "(none)",
             m->topic, (int)m->partition, (long long)m->offset);
    return 0;
}

int worker_start(struct svc *s, struct worker **out)
{
    struct worker *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->svc = s;
    char host[64] = "worker", rnd[16];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "worker");
    host[sizeof(host) - 1] = '\0';
    ids_random_token(rnd, 6);
    snprintf(w->id, sizeof(w->id), "%s:%ld:%s", host, (long)getpid(), rnd);
    /* The worker calls selection as each run's owner: it must be able to mint tokens. */
    char *probe = NULL;
    int rc = datasrc_token(s, "00000000-0000-4000-8000-000000000000", "user", &probe);
    free(probe);
    if (rc) {
        log_error("the worker cannot issue internal tokens (%s): give it IBX_JWT_SECRET, or "
                  "IBX_JWT_PRIVATE_KEY with RS256",
                  strerror(-rc));
        free(w);
        return rc;
    }
    ((struct pl_app *)s->app)->worker = w;
    rc = events_consume(s, WORKER_GROUP, BUS_TOPIC_PIPELINE_REQUESTS, worker_dispatch, s,
                        &w->consumer);
    if (rc) {
        ((struct pl_app *)s->app)->worker = NULL;
        free(w);
        return rc;
    }
    log_fields(LOG_LVL_INFO, json_pack("{s:s}", "worker_id", w->id), "worker %s consuming %s",
               w->id, BUS_TOPIC_PIPELINE_REQUESTS);
    *out = w;
    return 0;
}

void worker_stop(struct worker *w)
{
    if (!w)
        return;
    w->stopping = 1;
    bus_consumer_stop(w->consumer);
    w->consumer = NULL;
    free(w);
}
