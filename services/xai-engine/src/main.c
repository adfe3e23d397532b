/* main: the xai-engine service's start-up, configuration and route table.
 *
 * `ibx-xai` runs the API (routes below) and the sweeper. `ibx-xai --worker` runs the same
 * start-up with no routes of its own (svc still serves /healthz, /readyz, /metrics and
 * /openapi.json, on PORT or 8093) and starts the Kafka worker in init. */
#include "engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct xe_config xe_config_storage = {.llm_model = ""};

static const struct config_var xe_vars[] = {
    {"IBX_PIPELINE_URL", CONFIG_URL, "http://127.0.0.1:8082", 0,
     "ml-pipeline base URL (experiments, their results and model files)", 1, 0, NULL,
     &xe_config_storage.pipeline_url},
    {"IBX_SELECTION_URL", CONFIG_URL, "http://127.0.0.1:8081", 0,
     "selection service base URL (datasets and their columnar copies)", 1, 0, NULL,
     &xe_config_storage.selection_url},
    {"IBX_SERVING_URL", CONFIG_URL, "http://127.0.0.1:8084", 0,
     "model-serving base URL: its OpenAI-compatible /v1/chat/completions answers chat questions", 1,
     0, NULL, &xe_config_storage.serving_url},
    {"IBX_XAI_LLM_MODEL", CONFIG_STR, NULL, 0,
     "language model name for chat questions; unset: no chat answers (503 llm_unavailable)", 1, 0,
     NULL, &xe_config_storage.llm_model},
    {"IBX_XAI_LLM_TIMEOUT_S", CONFIG_INT, "60", 0,
     "seconds a chat question waits for the language model", 1, 600, NULL,
     &xe_config_storage.llm_timeout_s},
    {"IBX_XAI_LLM_MAX_TOKENS", CONFIG_INT, "400", 0, "longest answer asked of the language model",
     16, 8192, NULL, &xe_config_storage.llm_max_tokens},
    {"IBX_XAI_CHAT_MAX_QUESTIONS", CONFIG_INT, "5", 0,
     "answered questions per chat session (one session per explanation and user; more: 429)", 1,
     100, NULL, &xe_config_storage.chat_max_questions},
    {"IBX_XAI_LEASE_S", CONFIG_INT, "30", 0,
     "seconds without a worker heartbeat after which a running explanation is taken back", 3, 3600,
     NULL, &xe_config_storage.lease_s},
    {"IBX_XAI_MAX_ATTEMPTS", CONFIG_INT, "2", 0,
     "times an explanation is started before a dead worker fails it", 1, 10, NULL,
     &xe_config_storage.max_attempts},
    {"IBX_XAI_REPUBLISH_S", CONFIG_INT, "30", 0,
     "seconds after which a pending explanation no worker took is published again", 1, 3600, NULL,
     &xe_config_storage.republish_s},
    {"IBX_XAI_SWEEP_S", CONFIG_INT, "5", 0,
     "period of the API's sweeper (dead workers, re-publishing)", 1, 300, NULL,
     &xe_config_storage.sweep_s},
    {"IBX_XAI_MAX_ACTIVE", CONFIG_INT, "5", 0,
     "pending plus running explanations allowed per user (more: 429)", 1, 1000, NULL,
     &xe_config_storage.max_active},
    {"IBX_XAI_MAX_DATASET_MB", CONFIG_INT, "2048", 0,
     "largest columnar dataset file a worker loads (MiB)", 1, 65536, NULL,
     &xe_config_storage.max_dataset_mb},
    {"IBX_XAI_MAX_MODEL_MB", CONFIG_INT, "1024", 0, "largest model file loaded (MiB)", 1, 65536,
     NULL, &xe_config_storage.max_model_mb},
    {"IBX_XAI_THREADS", CONFIG_INT, "0", 0,
     "threads one explanation uses in a worker (0: one per CPU)", 0, 256, NULL,
     &xe_config_storage.threads},
    {"IBX_XAI_PROGRESS_MS", CONFIG_INT, "250", 0,
     "least interval between two progress updates of a running explanation (ms)", 20, 10000, NULL,
     &xe_config_storage.progress_ms},
};

static const struct http_route routes[] = {
    {"POST", "/api/v1/explanations", expl_create, 0, 0,
     "explain an experiment's model: 202 {id, method_used, method_reason, status} "
     "(Idempotency-Key supported; 5 active per user)"},
    {"GET", "/api/v1/explanations", expl_list, 0, 0, "the caller's explanations ?status&page"},
    {"GET", "/api/v1/explanations/{id}", expl_get, 0, 0,
     "an explanation: status, progress, stage, method and why, parameters, timings"},
    {"GET", "/api/v1/explanations/{id}/events", expl_events, 0, 0,
     "Server-Sent Events of an explanation's progress until it ends"},
    {"GET", "/api/v1/explanations/{id}/results", expl_results, 0, 0,
     "values, ranking, beeswarm sample, curves, residual, hashes and narrative (409 until "
     "done; the same request gives the same bytes)"},
    {"GET", "/api/v1/explanations/{id}/narrative", expl_narrative, 0, 0,
     "the narrative ?audience_level=novice|intermediate|expert&language=en|fr"},
    {"POST", "/api/v1/explanations/{id}/cancel", expl_cancel, 0, 0,
     "cancel a pending or running explanation"},
    {"DELETE", "/api/v1/explanations/{id}", expl_delete, 0, 0,
     "delete an explanation and its chat"},
    {"POST", "/api/v1/explanations/{id}/chat", chat_open, 0, 0,
     "open (or return) the chat session about a completed explanation"},
    {"POST", "/api/v1/chat/{session_id}/ask", chat_ask, 16 * 1024, 0,
     "ask a question {question}: answered by model-serving's LLM with the explanation's facts "
     "(503 llm_unavailable without one; 429 past the session's questions)"},
    {"GET", "/api/v1/chat/{session_id}/messages", chat_messages, 0, 0,
     "the session's questions and answers"},
};

const struct xe_config *xe_cfg(const struct svc *s)
{
    return &((const struct xe_app *)s->app)->cfg;
}

static int xe_init_common(struct svc *s)
{
    struct xe_app *app = calloc(1, sizeof(*app));
    if (!app)
        return -ENOMEM;
    app->cfg = xe_config_storage;
    s->app = app;
    return 0;
}

static int xe_init_api(struct svc *s)
{
    int rc = xe_init_common(s);
    if (rc)
        return rc;
    struct xe_app *app = s->app;
    return ticker_start(sweeper_pass, s, app->cfg.sweep_s * 1000, "sweeper", &app->sweeper);
}

static int xe_init_worker(struct svc *s)
{
    int rc = xe_init_common(s);
    if (rc)
        return rc;
    struct xe_worker *w = NULL;
    return worker_start(s, &w);
}

static void xe_fini(struct svc *s)
{
    struct xe_app *app = s->app;
    if (!app)
        return;
    ticker_stop(app->sweeper);
    worker_stop(app->worker);
    free(app);
    s->app = NULL;
}

int main(int argc, char **argv)
{
    int worker = argc > 1 && strcmp(argv[1], "--worker") == 0;
    struct svc_def def = {
        .name = worker ? "xai-engine-worker" : "xai-engine",
        .schema = "xai",
        .migrations_dir = "services/xai-engine/migrations",
        .default_port = worker ? XE_WORKER_PORT : 8083,
        .routes = worker ? NULL : routes,
        .nroutes = worker ? 0 : sizeof(routes) / sizeof(routes[0]),
        .vars = xe_vars,
        .nvars = sizeof(xe_vars) / sizeof(xe_vars[0]),
        .init = worker ? xe_init_worker : xe_init_api,
        .fini = xe_fini,
        .export_user = store_export_user,
        /* the API process erases; a worker's consumer group would only repeat it */
        .erase_user = worker ? NULL : store_erase_user,
    };
    return svc_main(&def, worker ? argc - 1 : argc, worker ? argv + 1 : argv);
}
