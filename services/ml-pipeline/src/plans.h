/* plans: the service side of pipeline plans (/api/v1/pipelines): the handlers
 * (plan_routes.c), the executor a worker runs (plan_run.c) and their SQL (store_plans.c).
 * The domain (parsing, validation, cache keys) is plan.h.
 *
 * Life of a plan: POST /pipelines validates it and records it pending with one row per
 * step, then publishes {"type":"plan.requested","plan_id","user_id"} on
 * ibx.pipeline.requests. A worker claims it (pending -> running; a running plan whose
 * heartbeat is older than IBX_PIPELINE_LEASE_S is taken over), runs its steps level by level with
 * independent steps in parallel, and ends it completed, failed (with the first failed
 * step's reason) or cancelled. Each step's output is an artifact in the service's
 * content-addressed store, found again through plan_cache by the step's key. */
#ifndef IBX_PLANS_H
#define IBX_PLANS_H

#include "pipeline.h"
#include "plan.h"

#define PLAN_REQUESTED_EVENT "plan.requested"
#define PLAN_PARALLEL        4 /* steps of one plan running at once */
#define PLAN_JSON_MEDIA      "application/json"
#define PLAN_PREPARED_MEDIA  "application/vnd.ibisx.prepared"
#define PLAN_BODY_MAX        (256 * 1024) /* POST /pipelines */

/* ---- plan_routes.c: the /pipelines handlers ---- */
void plans_create(struct http_req *req, struct http_resp *resp);
void plans_list(struct http_req *req, struct http_resp *resp);
void plans_get(struct http_req *req, struct http_resp *resp);
void plans_cancel(struct http_req *req, struct http_resp *resp);
void plans_delete(struct http_req *req, struct http_resp *resp);

void plans_output(struct http_req *req, struct http_resp *resp);

/* ---- plan_run.c: the executor ---- */
/* The media type of a step type's output artifact (static). */
const char *plan_media_type(enum plan_step_type t);
/* The worker's job for PLAN_REQUESTED_EVENT: claim and run the plan. 0 when it is done
 * with (finished, already finished elsewhere, deleted, cancelled), < 0 to have the
 * message retried (the worker is stopping: the plan is given back as pending). */
int plan_run_job(struct svc *s, const struct bus_msg *m);
/* Publish the request for plan id on ibx.pipeline.requests (key: the plan id). */
int plan_publish(struct svc *s, const char *plan_id, const char *user_id) PLAN_WUR;
/* One pass of the API's sweeper over plans (sweeper.c calls it with the experiments'
 * settings IBX_PIPELINE_LEASE_S, _MAX_ATTEMPTS and _REPUBLISH_S): plans of dead workers
 * are queued again or failed, pending plans nobody took are published again. */
void plan_sweep(struct svc *s);

/* ---- store_plans.c: the plans' SQL ---- */
/* Record plan p (pending) for user with its steps. *out: the plan as GET shows it. */
int store_plan_create(struct svc *s, const char *id, const char *user, const char *role,
                      const struct plan *p, const char *dataset_version, json_t **out) PLAN_WUR;
/* The plan with its steps when user (or an admin) may see it; -ENOENT otherwise. */
int store_plan_get(struct svc *s, const char *id, const char *user, int admin,
                   json_t **out) PLAN_WUR;
/* pending|running -> cancelled (pending and running steps too): 0 and *out; -EALREADY
 * with status (16 bytes) when the plan had ended; -ENOENT. */
int store_plan_cancel(struct svc *s, const char *id, const char *user, int admin, json_t **out,
                      char *status) PLAN_WUR;
/* A visible plan's step: *status and output (65 bytes, "" until completed) and *type.
 * -ENOENT (no such plan or step). */
int store_plan_step_output(struct svc *s, const char *id, const char *step, const char *user,
                           int admin, char *status, char *output,
                           enum plan_step_type *type) PLAN_WUR;
/* Delete a visible plan (its cached outputs stay for other plans). -ENOENT. */
int store_plan_delete(struct svc *s, const char *id, const char *user, int admin) PLAN_WUR;
/* The plan's request was published now. */
void store_plan_published(struct svc *s, const char *id);

/* What the executor needs of a plan it claimed. */
struct plan_row {
    char id[37];
    char user_id[37];
    char owner_role[16];
    char dataset_version[65]; /* "" until known */
    json_t *spec;             /* owned: plan_to_json */
    long attempts;
};
void store_plan_row_release(struct plan_row *r);
/* pending -> running for worker (or take over a running plan whose heartbeat is older than
 * lease_s); steps not completed go back to pending. 0 and *out, -EALREADY (not pending:
 * finished, cancelled, or running elsewhere), -ENOENT (deleted). */
int store_plan_claim(struct svc *s, const char *id, const char *worker, long lease_s,
                     struct plan_row *out) PLAN_WUR;
/* 0 while the plan is worker's running plan (refreshing its heartbeat), else -ECANCELED. */
int store_plan_heartbeat(struct svc *s, const char *id, const char *worker) PLAN_WUR;
/* The dataset version and task the load step found (reason may be NULL). */
int store_plan_set_data(struct svc *s, const char *id, const char *version, const char *task,
                        const json_t *reason) PLAN_WUR;
/* running -> status (completed, failed with error, cancelled) when still worker's. */
int store_plan_finish(struct svc *s, const char *id, const char *worker, const char *status,
                      const char *error) PLAN_WUR;
/* running -> pending (the worker stops; running steps back to pending; the attempt is
 * given back). */
int store_plan_release(struct svc *s, const char *id, const char *worker) PLAN_WUR;

/* Sweeper: running plans whose heartbeat is older than lease_s go back to pending (their
 * unfinished steps too) or, after max_attempts claims, fail with "worker stopped
 * responding". *out: [{"id","user_id","status","attempts"}] (caller decrefs). */
int store_plan_reap(struct svc *s, long lease_s, long max_attempts, json_t **out) PLAN_WUR;
/* Pending plans never published, or not taken within republish_s, marked published now:
 * [{"id","user_id"}] (at most 100). */
int store_plan_due(struct svc *s, long republish_s, json_t **out) PLAN_WUR;

/* A step's new state. NULL/negative members are left as they are. */
struct plan_step_update {
    const char *status;
    int attempts;          /* < 0: unchanged */
    const char *cache_key; /* NULL: unchanged */
    int cache_hit;         /* < 0: unchanged */
    const char *output;    /* NULL: unchanged */
    const json_t *result;  /* NULL: unchanged */
    const char *error;     /* NULL: unchanged */
    int started;           /* 1: started_at = now, finished_at and duration cleared */
    int finished;          /* 1: finished_at = now, duration from started_at */
};
/* Applied only while the plan is running. */
int store_plan_step(struct svc *s, const char *plan_id, const char *step_id,
                    const struct plan_step_update *u) PLAN_WUR;
/* Every step of the plan still pending or running becomes status (skipped, cancelled). */
int store_plan_steps_end(struct svc *s, const char *plan_id, const char *status) PLAN_WUR;

/* The cache: the artifact (65 bytes) and summary (*result, caller decrefs; NULL when
 * none) stored under (user, key); -ENOENT. A hit is counted. */
int store_plan_cache_get(struct svc *s, const char *user, const char *key, char *output,
                         json_t **result) PLAN_WUR;
/* Record output and result (borrowed, may be NULL) under (the plan's user, key) while
 * plan_id is running: 0, or -ECANCELED when the plan is gone or no longer running. */
int store_plan_cache_put(struct svc *s, const char *plan_id, const char *key,
                         enum plan_step_type type, const char *output, const char *media_type,
                         const json_t *result) PLAN_WUR;

/* 1 when a plan step or cache entry references artifact id, 0 when none, < 0 unknown. */
int store_plans_artifact_referenced(struct svc *s, const char *id);
/* Data rights: {"plans":[... with steps], "plan_cache":[...]} of user, NULL on failure. */
json_t *store_plans_export_user(struct svc *s, const char *user_id);
/* Data rights: delete the user's plans and cache, then release the artifacts only they
 * referenced. */
int store_plans_erase_user(struct svc *s, const char *user_id) PLAN_WUR;

#endif
