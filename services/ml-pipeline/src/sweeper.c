/* sweeper: the API process's background thread. Every IBX_PIPELINE_SWEEP_S seconds it
 * re-queues (or fails, after IBX_PIPELINE_MAX_ATTEMPTS) runs whose worker's heartbeat is
 * older than IBX_PIPELINE_LEASE_S, and publishes again pending runs whose request was
 * never published or not taken within IBX_PIPELINE_REPUBLISH_S. Several API replicas may
 * sweep at once: rows are taken with FOR UPDATE SKIP LOCKED. */
#include "pipeline.h"
#include "plans.h"

#include <ibx/clock.h>
#include <ibx/log.h>
#include <ibx/metrics.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sweeper {
    struct svc *svc;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

static void sweep_reap(struct svc *s, const struct pl_config *cfg)
{
    json_t *reaped = NULL;
    int rc = store_reap(s, cfg->lease_s, cfg->max_attempts, &reaped);
    if (rc) {
        log_warn("the reaper could not read running runs (%s)", strerror(-rc));
        return;
    }
    size_t i;
    json_t *r;
    json_array_foreach(reaped, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *status = json_string_value(json_object_get(r, "status"));
        int failed = status && strcmp(status, "failed") == 0;
        log_fields(LOG_LVL_WARN,
                   json_pack("{s:s?, s:O?}", "experiment_id", id, "attempts",
                             json_object_get(r, "attempts")),
                   "run %s: its worker stopped responding; %s", id ? id : "?",
                   failed ? "failed" : "queued again");
        metrics_counter_add("ibx_pipeline_runs_reaped_total",
                            "runs taken from a worker that stopped responding",
                            failed ? "outcome=\"failed\"" : "outcome=\"requeued\"", 1);
        if (failed && id) {
            json_t *ev = json_pack("{s:s, s:s, s:O?, s:s, s:s}", "type", "experiment.failed",
                                   "experiment_id", id, "user_id", json_object_get(r, "user_id"),
                                   "status", "failed", "error", "worker stopped responding");
            if (ev)
                (void)events_news(s, id, ev);
            json_decref(ev);
        }
    }
    json_decref(reaped);
}

static void sweep_publish(struct svc *s, const struct pl_config *cfg)
{
    json_t *due = NULL;
    int rc = store_due_pending(s, cfg->republish_s, &due);
    if (rc) {
        log_warn("the re-publisher could not read pending runs (%s)", strerror(-rc));
        return;
    }
    size_t i;
    json_t *r;
    json_array_foreach(due, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *user = json_string_value(json_object_get(r, "user_id"));
        if (id && user && events_request(s, id, user) == 0)
            metrics_counter_add("ibx_pipeline_runs_republished_total",
                                "run requests published again by the sweeper", NULL, 1);
    }
    json_decref(due);
}

static void *sweeper_main(void *arg)
{
    struct sweeper *w = arg;
    const struct pl_config *cfg = &((struct pl_app *)w->svc->app)->cfg;
    log_set_request_id("sweeper");
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        pthread_mutex_unlock(&w->mu);
        sweep_reap(w->svc, cfg);
        sweep_publish(w->svc, cfg);
        plan_sweep(w->svc);
        pthread_mutex_lock(&w->mu);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += cfg->sweep_s;
        while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int sweeper_start(struct svc *s, struct sweeper **out)
{
    struct sweeper *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->svc = s;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, sweeper_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return -EAGAIN;
    }
    *out = w;
    return 0;
}

void sweeper_stop(struct sweeper *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
