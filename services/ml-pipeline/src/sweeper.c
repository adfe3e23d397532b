/* sweeper: the API process's background work, one pass every IBX_PIPELINE_SWEEP_S seconds
 * (a libs/common ticker runs it): it re-queues (or fails, after IBX_PIPELINE_MAX_ATTEMPTS)
 * runs whose worker's heartbeat is older than IBX_PIPELINE_LEASE_S, and publishes again
 * pending runs whose request was never published or not taken within
 * IBX_PIPELINE_REPUBLISH_S. Several API replicas may
 * sweep at once: rows are taken with FOR UPDATE SKIP LOCKED. */
#include "pipeline.h"
#include "plans.h"

#include <ibx/log.h>
#include <ibx/metrics.h>

#include <errno.h>
#include <string.h>

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

void sweeper_pass(void *svc)
{
    struct svc *s = svc;
    const struct pl_config *cfg = &((struct pl_app *)s->app)->cfg;
    sweep_reap(s, cfg);
    sweep_publish(s, cfg);
    plan_sweep(s);
}
