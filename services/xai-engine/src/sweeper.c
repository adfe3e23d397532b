/* sweeper: one pass of the API process's background work (a ticker runs it every
 * IBX_XAI_SWEEP_S seconds): explanations whose worker's heartbeat is older than
 * IBX_XAI_LEASE_S go back to pending (or fail after IBX_XAI_MAX_ATTEMPTS), and pending ones
 * never published or not taken within IBX_XAI_REPUBLISH_S are published again. Rows are
 * taken with FOR UPDATE SKIP LOCKED, so API replicas may sweep at once. */
#include "engine.h"

#include <ibx/log.h>
#include <ibx/metrics.h>

#include <string.h>

static void sweep_reap(struct svc *s, const struct xe_config *cfg)
{
    json_t *reaped = NULL;
    int rc = store_expl_reap(s, cfg->lease_s, cfg->max_attempts, &reaped);
    if (rc) {
        log_warn("the reaper could not read running explanations (%s)", strerror(-rc));
        return;
    }
    size_t i;
    json_t *r;
    json_array_foreach(reaped, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *status = json_string_value(json_object_get(r, "status"));
        int failed = status && strcmp(status, "failed") == 0;
        log_warn("explanation %s: its worker stopped responding; %s", id ? id : "?",
                 failed ? "failed" : "queued again");
        metrics_counter_add("ibx_xai_explanations_reaped_total",
                            "explanations taken from a worker that stopped responding",
                            failed ? "outcome=\"failed\"" : "outcome=\"requeued\"", 1);
        json_t *ev = failed && id
                         ? json_pack("{s:s, s:s, s:O?, s:s, s:s}", "type", "explanation.failed",
                                     "explanation_id", id, "user_id", json_object_get(r, "user_id"),
                                     "status", "failed", "error", "worker stopped responding")
                         : NULL;
        if (ev)
            (void)events_news(s, id, ev);
        json_decref(ev);
    }
    json_decref(reaped);
}

static void sweep_publish(struct svc *s, const struct xe_config *cfg)
{
    json_t *due = NULL;
    int rc = store_expl_due_pending(s, cfg->republish_s, &due);
    if (rc) {
        log_warn("the re-publisher could not read pending explanations (%s)", strerror(-rc));
        return;
    }
    size_t i;
    json_t *r;
    json_array_foreach(due, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *user = json_string_value(json_object_get(r, "user_id"));
        if (id && user && events_request(s, id, user) == 0)
            metrics_counter_add("ibx_xai_explanations_republished_total",
                                "explanation requests published again by the sweeper", NULL, 1);
    }
    json_decref(due);
}

void sweeper_pass(void *svc)
{
    struct svc *s = svc;
    sweep_reap(s, xe_cfg(s));
    sweep_publish(s, xe_cfg(s));
}
