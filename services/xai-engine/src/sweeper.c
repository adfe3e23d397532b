/* sweeper: one pass of the API process's background work (a ticker runs it every
 * IBX_XAI_SWEEP_S seconds): explanations whose worker's heartbeat is older than
 * IBX_XAI_LEASE_S go back to pending (or fail after IBX_XAI_MAX_ATTEMPTS), and pending ones
 * never published or not taken within IBX_XAI_REPUBLISH_S are published again. Rows are
 * taken with FOR UPDATE SKIP LOCKED, so API replicas may sweep at once. */
#include "engine.h"

#include <ibx/jobrow.h>

static int sweep_publish(void *ctx, const char *id, const char *user_id)
{
    return events_request(ctx, id, user_id);
}

static void sweep_failed(void *ctx, const char *id, const char *user_id)
{
    json_t *ev =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "explanation.failed", "explanation_id", id,
                  "user_id", user_id, "status", "failed", "error", "worker stopped responding");
    if (ev)
        (void)events_news(ctx, id, ev);
    json_decref(ev);
}

void sweeper_pass(void *svc)
{
    struct svc *s = svc;
    const struct xe_config *cfg = xe_cfg(s);
    struct jobrow_sweep w = {"xai.explanations",
                             "explanation",
                             "explanation_id",
                             cfg->lease_s,
                             cfg->max_attempts,
                             cfg->republish_s,
                             "ibx_xai_explanations_reaped_total",
                             "ibx_xai_explanations_republished_total",
                             sweep_publish,
                             sweep_failed,
                             s};
    jobrow_sweep(s->db, &w);
}
