/* worker: `ibx-xai --worker`. Consumes ibx.xai.requests in the consumer group
 * "xai-engine-workers". For each request it claims the row in PostgreSQL (pending ->
 * running, so a repeated message finds it taken or done), fetches the experiment, its
 * model file (checked against the SHA-256 recorded with the request) and the dataset's
 * columnar copy as the explanation's owner, computes the explanation (xcompute.c), writes
 * every narrative, and records the outcome; only then is the message committed.
 *
 * A jobwatch thread checks the row while it computes (cancelled, deleted or taken over:
 * the computation stops) and refreshes the heartbeat the sweeper's lease reads. Progress
 * goes to the row (at most every IBX_XAI_PROGRESS_MS and at every stage) and to
 * ibx.xai.events. When the worker stops (SIGTERM), the explanation in progress is given
 * back (pending) for another worker. */
#include "engine.h"

#include <ibx/clock.h>
#include <ibx/hash.h>
#include <ibx/ids.h>
#include <ibx/log.h>
#include <ibx/metrics.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORKER_WATCH_MS 200

struct xe_worker {
    struct svc *svc;
    struct bus_consumer *consumer;
    char id[128];
    volatile int stopping;
};

/* One explanation being computed by this worker. */
struct xrun {
    struct svc *svc;
    const struct xe_row *row;
    const char *worker;
    volatile int cancel;
    struct jobwatch *watch;
    int64_t started_ms, last_write_ms;
    char stage[24];
    char err[XE_ERROR_MAX];
    /* what the explanation is computed from */
    char *token;
    json_t *results;
    struct model *model;
    struct frame *data;
    json_t *timings;
};

static struct xe_worker *worker_of(const struct svc *s)
{
    return ((const struct xe_app *)s->app)->worker;
}

/* ------------------------------------------------------------------ progress */

static void xrun_news(struct xrun *c, const char *type, const char *status, int progress)
{
    char at[40];
    clock_iso8601(clock_wall_ms(), at, sizeof(at));
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "type", type, "explanation_id",
                          c->row->id, "user_id", c->row->user_id, "status", status, "progress",
                          progress, "stage", c->stage, "at", at);
    if (v)
        (void)events_news(c->svc, c->row->id, v);
    json_decref(v);
}

/* Record progress (a new stage always, the same one at most every progress_ms). */
static void xrun_progress(struct xrun *c, const char *stage, int percent)
{
    int64_t now = clock_mono_ms();
    int new_stage = strcmp(stage, c->stage) != 0;
    if (!new_stage && now - c->last_write_ms < xe_cfg(c->svc)->progress_ms)
        return;
    c->last_write_ms = now;
    snprintf(c->stage, sizeof(c->stage), "%s", stage);
    if (store_expl_progress(c->svc, c->row->id, c->worker, percent, stage) == -ECANCELED)
        jobwatch_stop_with(c->watch, JOBWATCH_LOST);
    else
        xrun_news(c, "explanation.progress", "running", percent);
}

/* The computation's progress: 25% to 90%. */
static void xrun_compute_progress(void *ctx, size_t done, size_t total)
{
    struct xrun *c = ctx;
    int pct =
        25 + (int)(65.0 * (double)(done > total ? total : done) / (double)(total ? total : 1));
    xrun_progress(c, "computing", pct);
}

/* ------------------------------------------------------------------ the steps */

static void xrun_time(struct xrun *c, const char *what, int64_t t0)
{
    json_object_set_new(c->timings, what, json_integer(clock_mono_ms() - t0));
}

/* The experiment (still completed), its results and its model (the one requested). */
static int xrun_load_model(struct xrun *c)
{
    const struct xe_row *row = c->row;
    json_t *exp = NULL;
    int rc = svc_internal_token(c->svc, row->user_id, row->owner_role, &c->token);
    if (rc) {
        snprintf(c->err, sizeof(c->err), "no internal token to call ml-pipeline (%s)",
                 strerror(-rc));
        return rc;
    }
    rc = pipesrc_experiment(c->svc, c->token, row->experiment_id, &exp);
    if (rc == 0)
        rc = pipesrc_results(c->svc, c->token, row->experiment_id, &c->results);
    json_decref(exp);
    if (rc) {
        snprintf(c->err, sizeof(c->err), "%s",
                 rc == -ENOENT || rc == -EAGAIN
                     ? "the experiment no longer exists or is no longer completed"
                     : "ml-pipeline could not be reached for the experiment");
        return rc;
    }
    char sha[65] = "";
    rc =
        pipesrc_model(c->svc, c->token, row->experiment_id, &c->model, sha, c->err, sizeof(c->err));
    if (rc == 0 && row->model_sha256[0] && strcmp(sha, row->model_sha256) != 0) {
        snprintf(c->err, sizeof(c->err),
                 "the experiment's model file is not the one the request was made for");
        return -EINVAL;
    }
    return rc;
}

/* The result with its narratives, stored. */
static int xrun_finish(struct xrun *c, json_t *result)
{
    int64_t t0 = clock_mono_ms();
    xrun_progress(c, "narrating", 92);
    json_t *all = narrative_all(result);
    const char *mine = json_string_value(json_object_get(
        json_object_get(all, xe_lang_name(c->row->req.lang)), xe_audience_name(c->row->audience)));
    if (!all || !mine) {
        json_decref(all);
        return -ENOMEM;
    }
    json_object_set_new(
        result, "narrative",
        json_pack("{s:s, s:s, s:s, s:b}", "audience_level", xe_audience_name(c->row->audience),
                  "language", xe_lang_name(c->row->req.lang), "text", mine, "generated_by_ai", 0));
    char *text = xcompute_dump(result);
    char sha[HASH_SHA256_HEX_LEN + 1] = "";
    if (text)
        hash_sha256_hex(text, strlen(text), sha);
    xrun_time(c, "narrating", t0);
    json_object_set_new(c->timings, "total", json_integer(clock_mono_ms() - c->started_ms));
    struct xe_outcome o = {text, sha, mine, all, c->timings};
    int rc = text ? store_expl_complete(c->svc, c->row->id, c->worker, &o) : -ENOMEM;
    free(text);
    json_decref(all);
    if (rc == 0) {
        snprintf(c->stage, sizeof(c->stage), "done");
        xrun_news(c, "explanation.completed", "completed", 100);
    }
    return rc;
}

static int xrun_compute(struct xrun *c)
{
    int64_t t0 = clock_mono_ms();
    int rc =
        pipesrc_frame(c->svc, c->token, c->row->dataset_version, &c->data, c->err, sizeof(c->err));
    xrun_time(c, "loading_data", t0);
    if (rc)
        return rc;
    xrun_progress(c, "computing", 25);
    struct xe_job j = {
        .model = c->model,
        .data = c->data,
        .req = &c->row->req,
        .used = c->row->used,
        .method_reason = c->row->method_reason,
        .audience = c->row->audience,
        .experiment_id = c->row->experiment_id,
        .model_sha256 = c->row->model_sha256,
        .dataset_version = c->row->dataset_version,
        .experiment_results = c->results,
        .ctl = {xrun_compute_progress, c, &c->cancel, (int)xe_cfg(c->svc)->threads},
    };
    json_t *result = NULL;
    t0 = clock_mono_ms();
    rc = xcompute_run(&j, &result, c->err, sizeof(c->err));
    xrun_time(c, "computing", t0);
    if (rc == 0)
        rc = xrun_finish(c, result);
    json_decref(result);
    return rc;
}

static void xrun_failed(struct xrun *c, int rc)
{
    const char *error = c->err[0] ? c->err : strerror(-rc);
    json_object_set_new(c->timings, "total", json_integer(clock_mono_ms() - c->started_ms));
    if (store_expl_fail(c->svc, c->row->id, c->worker, error, c->timings) != 0)
        return;
    log_warn("explanation %s failed: %s", c->row->id, error);
    xrun_news(c, "explanation.failed", "failed", 0);
}

/* Load, compute, store. 0 when the outcome is recorded (or the row is no longer ours);
 * < 0 to have the message delivered again (the worker is stopping). */
static int xrun_go(struct xrun *c)
{
    int64_t t0 = clock_mono_ms();
    xrun_progress(c, "loading_model", 5);
    int rc = xrun_load_model(c);
    xrun_time(c, "loading_model", t0);
    if (rc == 0) {
        xrun_progress(c, "loading_data", 15);
        rc = xrun_compute(c);
    }
    enum jobwatch_why why = jobwatch_why(c->watch);
    if (rc == -ECANCELED && why == JOBWATCH_GOING)
        why = JOBWATCH_LOST; /* the store said the row is no longer ours */
    if (rc == 0 || why == JOBWATCH_LOST)
        return 0;
    if (why == JOBWATCH_STOPPING) {
        if (store_expl_release(c->svc, c->row->id, c->worker) == 0)
            log_info("explanation %s given back: this worker is stopping", c->row->id);
        return -ECANCELED;
    }
    xrun_failed(c, rc);
    return 0;
}

static int still_mine(void *ctx)
{
    struct xrun *c = ctx;
    return store_expl_still_mine(c->svc, c->row->id, c->worker);
}

static int heartbeat(void *ctx)
{
    struct xrun *c = ctx;
    return store_expl_heartbeat(c->svc, c->row->id, c->worker);
}

static int xrun_explanation(struct svc *s, const struct xe_row *row, const char *request_id)
{
    struct xe_worker *w = worker_of(s);
    struct xrun c;
    memset(&c, 0, sizeof(c));
    c.svc = s;
    c.row = row;
    c.worker = w->id;
    c.started_ms = clock_mono_ms();
    c.timings = json_object();
    long lease_ms = xe_cfg(s)->lease_s * 1000;
    struct jobwatch_opts o = {still_mine,      heartbeat,
                              &w->stopping,    &c,
                              WORKER_WATCH_MS, lease_ms / 4 > 1000 ? lease_ms / 4 : 1000,
                              request_id};
    int rc = c.timings ? jobwatch_start(&o, &c.cancel, &c.watch) : -ENOMEM;
    if (rc == 0)
        rc = xrun_go(&c);
    enum jobwatch_why why = jobwatch_end(c.watch);
    char labels[64];
    snprintf(labels, sizeof(labels), "outcome=\"%s\"",
             why == JOBWATCH_STOPPING ? "released"
             : why == JOBWATCH_LOST   ? "stopped"
             : rc == 0                ? "finished"
                                      : "error");
    metrics_counter_add("ibx_xai_worker_explanations_total", "explanations this worker handled",
                        labels, 1);
    metrics_histogram_observe("ibx_xai_worker_explanation_seconds",
                              "time an explanation held this worker", NULL,
                              (double)(clock_mono_ms() - c.started_ms) / 1000.0);
    free(c.token);
    json_decref(c.results);
    json_decref(c.timings);
    model_free(c.model);
    frame_free(c.data);
    return rc;
}

static int worker_job(void *ctx, const struct bus_msg *m)
{
    struct svc *s = ctx;
    const char *type = json_string_value(json_object_get(m->value, "type"));
    const char *id = json_string_value(json_object_get(m->value, "explanation_id"));
    if (!type || strcmp(type, XE_REQUESTED_EVENT) != 0) {
        log_warn("ignored a request of type %s at %s[%d]@%lld", type ? type : "(none)", m->topic,
                 (int)m->partition, (long long)m->offset);
        return 0;
    }
    if (!id || !ids_is_uuid(id))
        return -EINVAL; /* retried, then ibx.dlq */
    struct xe_row row;
    int rc = store_expl_claim(s, id, worker_of(s)->id, &row);
    if (rc == -EALREADY || rc == -ENOENT)
        return 0; /* done, taken, cancelled or deleted */
    if (rc) {
        log_warn("explanation %s: cannot claim it now (%s)", id, strerror(-rc));
        return rc;
    }
    log_fields(LOG_LVL_INFO,
               json_pack("{s:s, s:s, s:I}", "explanation_id", id, "method", xe_used_name(row.used),
                         "attempt", (json_int_t)row.attempts),
               "explaining %s", id);
    rc = xrun_explanation(s, &row, m->request_id);
    store_expl_row_release(&row);
    return rc;
}

int worker_start(struct svc *s, struct xe_worker **out)
{
    struct xe_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->svc = s;
    char host[64] = "worker", rnd[16];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "worker");
    host[sizeof(host) - 1] = '\0';
    ids_random_token(rnd, 6);
    snprintf(w->id, sizeof(w->id), "%s:%ld:%s", host, (long)getpid(), rnd);
    char *probe = NULL; /* the worker calls other services as each explanation's owner */
    int rc = svc_internal_token(s, "00000000-0000-4000-8000-000000000000", "user", &probe);
    free(probe);
    if (rc) {
        log_error("the worker cannot issue internal tokens (%s): give it IBX_JWT_SECRET, or "
                  "IBX_JWT_PRIVATE_KEY with RS256",
                  strerror(-rc));
        free(w);
        return rc;
    }
    ((struct xe_app *)s->app)->worker = w;
    rc = events_consume(s, worker_job, s, &w->consumer);
    if (rc) {
        ((struct xe_app *)s->app)->worker = NULL;
        free(w);
        return rc;
    }
    log_info("worker %s consuming %s", w->id, BUS_TOPIC_XAI_REQUESTS);
    *out = w;
    return 0;
}

void worker_stop(struct xe_worker *w)
{
    if (!w)
        return;
    w->stopping = 1;
    bus_consumer_stop(w->consumer);
    free(w);
}
