/* sweeper: the API process's background work, one pass every IBX_PIPELINE_SWEEP_S seconds
 * (a libs/common ticker runs it): it re-queues (or fails, after IBX_PIPELINE_MAX_ATTEMPTS)
 * runs whose worker's heartbeat is older than IBX_PIPELINE_LEASE_S, and publishes again
 * pending runs whose request was never published or not taken within
 * IBX_PIPELINE_REPUBLISH_S. Several API replicas may
 * sweep at once: rows are taken with FOR UPDATE SKIP LOCKED. */
#include "pipeline.h"
#include "plans.h"

#include <ibx/jobrow.h>

static int sweep_publish(void *ctx, const char *id, const char *user_id)
{
    return events_request(ctx, id, user_id);
}

static void sweep_failed(void *ctx, const char *id, const char *user_id)
{
    json_t *ev =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "experiment.failed", "experiment_id", id,
                  "user_id", user_id, "status", "failed", "error", "worker stopped responding");
    if (ev)
        (void)events_news(ctx, id, ev);
    json_decref(ev);
}

void sweeper_pass(void *svc)
{
    struct svc *s = svc;
    const struct pl_config *cfg = &((struct pl_app *)s->app)->cfg;
    struct jobrow_sweep w = {"pipeline.experiments",
                             "run",
                             "experiment_id",
                             cfg->lease_s,
                             cfg->max_attempts,
                             cfg->republish_s,
                             "ibx_pipeline_runs_reaped_total",
                             "ibx_pipeline_runs_republished_total",
                             sweep_publish,
                             sweep_failed,
                             s};
    jobrow_sweep(s->db, &w);
    plan_sweep(s);
}
