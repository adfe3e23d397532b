/* main: the ml-pipeline service's start-up, configuration, route table and job table.
 *
 * `ibx-pipeline` runs the API (routes below) and the sweeper. `ibx-pipeline --worker`
 * runs the same start-up with no routes of its own (svc still serves /healthz, /readyz,
 * /metrics and /openapi.json, on PORT or 8092) and starts the Kafka worker in init: no
 * change to libs/common's svc was needed for a worker mode. */
#include "pipeline.h"
#include "plans.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct pl_config pl_cfg;

static const struct config_var pl_vars[] = {
    {"IBX_SELECTION_URL", CONFIG_URL, "http://127.0.0.1:8081", 0,
     "selection service base URL (datasets and their columnar copies)", 1, 0, NULL,
     &pl_cfg.selection_url},
    {"IBX_PIPELINE_LEASE_S", CONFIG_INT, "30", 0,
     "seconds without a worker heartbeat after which a running experiment is taken back", 3, 3600,
     NULL, &pl_cfg.lease_s},
    {"IBX_PIPELINE_MAX_ATTEMPTS", CONFIG_INT, "2", 0,
     "times an experiment is started before a dead worker fails it", 1, 10, NULL,
     &pl_cfg.max_attempts},
    {"IBX_PIPELINE_REPUBLISH_S", CONFIG_INT, "30", 0,
     "seconds after which a pending experiment no worker took is published again", 1, 3600, NULL,
     &pl_cfg.republish_s},
    {"IBX_PIPELINE_SWEEP_S", CONFIG_INT, "5", 0,
     "period of the API's sweeper (dead workers, re-publishing)", 1, 300, NULL, &pl_cfg.sweep_s},
    {"IBX_PIPELINE_MAX_ACTIVE", CONFIG_INT, "5", 0,
     "pending plus running experiments allowed per user (more: 429)", 1, 1000, NULL,
     &pl_cfg.max_active},
    {"IBX_PIPELINE_MAX_DATASET_MB", CONFIG_INT, "2048", 0,
     "largest columnar dataset file loaded for training or advice (MiB)", 1, 65536, NULL,
     &pl_cfg.max_dataset_mb},
    {"IBX_PIPELINE_THREADS", CONFIG_INT, "0", 0,
     "threads one training uses in a worker (0: one per CPU)", 0, 256, NULL, &pl_cfg.threads},
    {"IBX_PIPELINE_PROGRESS_MS", CONFIG_INT, "250", 0,
     "least interval between two progress updates of a running experiment (ms)", 20, 10000, NULL,
     &pl_cfg.progress_ms},
};

static const struct http_route routes[] = {
    {"GET", "/api/v1/algorithms", advice_algorithms, 0, 0,
     "every learner with its hyperparameters (type, range, default) and tasks"},
    {"POST", "/api/v1/advice/task-type", advice_task_type, 0, 0,
     "classification or regression for a dataset's target column, with the reasons"},
    {"POST", "/api/v1/advice/algorithm", advice_algorithm, 0, 0,
     "learners ranked for a dataset and target, with the reasons"},
    {"POST", "/api/v1/experiments", exp_create, 0, 0,
     "train a model: 202 {id, status} (Idempotency-Key supported; 5 active per user)"},
    {"GET", "/api/v1/experiments", exp_list, 0, 0,
     "the caller's experiments ?project_id&status&page&page_size"},
    {"GET", "/api/v1/experiments/{id}", exp_get, 0, 0,
     "an experiment: status, progress, stage, error, timings"},
    {"GET", "/api/v1/experiments/{id}/events", exp_events, 0, 0,
     "Server-Sent Events of an experiment's progress until it ends"},
    {"GET", "/api/v1/experiments/{id}/results", exp_results, 0, 0,
     "metrics, curves, confusion matrix, importance, tree, preprocessing (409 until done)"},
    {"GET", "/api/v1/experiments/{id}/model", exp_model, 0, 0,
     "download the trained model file (409 until done)"},
    {"POST", "/api/v1/experiments/{id}/cancel", exp_cancel, 0, 0,
     "cancel a pending or running experiment"},
    {"DELETE", "/api/v1/experiments/{id}", exp_delete, 0, 0,
     "delete an experiment and its model (cancels it first when running)"},
    {"POST", "/api/v1/pipelines", plans_create, PLAN_BODY_MAX, 0,
     "run a plan, a DAG of load/preprocess/train/evaluate/compare steps: 202 {id, status}"},
    {"GET", "/api/v1/pipelines", plans_list, 0, 0, "the caller's plans ?page&page_size"},
    {"GET", "/api/v1/pipelines/{id}", plans_get, 0, 0,
     "a plan: each step's state, timing, cache hit, output hash, metrics and ranking"},
    {"GET", "/api/v1/pipelines/{id}/steps/{step}/output", plans_output, 0, 0,
     "a completed step's output: model file (train), results or ranking (JSON), prepared data"},
    {"POST", "/api/v1/pipelines/{id}/cancel", plans_cancel, 0, 0,
     "cancel a pending or running plan"},
    {"DELETE", "/api/v1/pipelines/{id}", plans_delete, 0, 0,
     "delete a plan (its cached step outputs stay for other plans)"},
};

const struct pl_job pl_jobs[] = {
    {PL_REQUESTED_EVENT, worker_experiment_job},
    {PLAN_REQUESTED_EVENT, plan_run_job},
};
const size_t pl_njobs = sizeof(pl_jobs) / sizeof(pl_jobs[0]);

static int pl_init_common(struct svc *s)
{
    struct pl_app *app = calloc(1, sizeof(*app));
    if (!app)
        return -ENOMEM;
    app->cfg = pl_cfg;
    int rc = blob_pg_new(s->db, "pipeline", &app->blobs);
    if (rc) {
        free(app);
        return rc;
    }
    s->app = app;
    return 0;
}

static void pl_fini(struct svc *s)
{
    struct pl_app *app = s->app;
    if (!app)
        return;
    sweeper_stop(app->sweeper);
    worker_stop(app->worker);
    app->worker = NULL;
    blob_store_free(app->blobs);
    free(app);
    s->app = NULL;
}

static int pl_init_api(struct svc *s)
{
    int rc = pl_init_common(s);
    if (rc)
        return rc;
    struct pl_app *app = s->app;
    return sweeper_start(s, &app->sweeper);
}

static int pl_init_worker(struct svc *s)
{
    int rc = pl_init_common(s);
    if (rc)
        return rc;
    struct worker *w = NULL;
    return worker_start(s, &w);
}

int main(int argc, char **argv)
{
    int worker = argc > 1 && strcmp(argv[1], "--worker") == 0;
    struct svc_def def = {
        .name = worker ? "ml-pipeline-worker" : "ml-pipeline",
        .schema = "pipeline",
        .migrations_dir = "services/ml-pipeline/migrations",
        .default_port = worker ? PL_WORKER_PORT : 8082,
        .routes = worker ? NULL : routes,
        .nroutes = worker ? 0 : sizeof(routes) / sizeof(routes[0]),
        .vars = pl_vars,
        .nvars = sizeof(pl_vars) / sizeof(pl_vars[0]),
        .init = worker ? pl_init_worker : pl_init_api,
        .fini = pl_fini,
        .export_user = store_export_user,
        /* the API process erases; a worker's consumer group would only repeat it */
        .erase_user = worker ? NULL : store_erase_user,
    };
    return svc_main(&def, worker ? argc - 1 : argc, worker ? argv + 1 : argv);
}
