/* main: the model-serving service's start-up, configuration and route table. */
#include "serving.h"

#include <ibx/pager.h>

#include <errno.h>
#include <stdlib.h>

static struct sv_config sv_config_storage;

static const struct config_var sv_vars[] = {
    {"IBX_PIPELINE_URL", CONFIG_URL, "http://127.0.0.1:8082", 0,
     "ml-pipeline base URL (experiments and their model files, fetched as their owner)", 1, 0, NULL,
     &sv_config_storage.pipeline_url},
    {"IBX_SERVING_MAX_MODEL_MB", CONFIG_INT, "1024", 0, "largest model file deployed (MiB)", 1,
     65536, NULL, &sv_config_storage.max_model_mb},
};

static const struct pager_spec list_spec = {"serving.deployments", "user_id", "created_at DESC, id",
                                            "deployments"};

static void h_list(struct http_req *req, struct http_resp *resp)
{
    pager_list_owned(req->app, &list_spec, req, resp);
}

static const struct http_route routes[] = {
    {"POST", "/api/v1/deployments", dep_create, 0, 0,
     "deploy the caller's completed experiment {experiment_id, name}: 201 {id, name, version, "
     "...} (the same name again: the next version, served as the latest)"},
    {"GET", "/api/v1/deployments", h_list, 0, 0, "the caller's deployments (paged)"},
    {"DELETE", "/api/v1/deployments/{name}", dep_delete, 0, 0,
     "unload and delete every version of a deployment"},
    {"POST", "/api/v1/models/{name}/predict", dep_predict, 32 * 1024 * 1024, 0,
     "predict {instances: [{feature: value}]} (at most 10000) with the latest version: "
     "predictions, probabilities, labels; 422 names each problem"},
    {"GET", "/v2/health/live", v2_live, 0, HTTP_PUBLIC, "V2: the server is live"},
    {"GET", "/v2/health/ready", v2_ready, 0, HTTP_PUBLIC, "V2: the server is ready"},
    {"GET", "/v2", v2_server, 0, HTTP_PUBLIC, "V2 server metadata (extensions: explain)"},
    {"GET", "/v2/models/{name}", v2_model_meta, 0, 0, "V2 model metadata (latest version)"},
    {"GET", "/v2/models/{name}/versions/{version}", v2_model_meta, 0, 0, "V2 model metadata"},
    {"GET", "/v2/models/{name}/ready", v2_model_ready, 0, 0, "V2 model readiness"},
    {"GET", "/v2/models/{name}/versions/{version}/ready", v2_model_ready, 0, 0,
     "V2 model version readiness"},
    {"POST", "/v2/models/{name}/infer", v2_infer, 32 * 1024 * 1024, 0,
     "V2 inference: one FP64/FP32/INT64 tensor [n, p] in feature order or one input per "
     "feature; outputs predictions and probabilities"},
    {"POST", "/v2/models/{name}/versions/{version}/infer", v2_infer, 32 * 1024 * 1024, 0,
     "V2 inference on a version"},
    {"POST", "/v2/models/{name}/explain", v2_explain, 32 * 1024 * 1024, 0,
     "V2 explain extension: SHAP values, base values, predictions, additivity residuals"},
};

static int sv_init(struct svc *s)
{
    struct sv_app *app = calloc(1, sizeof(*app));
    if (!app)
        return -ENOMEM;
    app->cfg = sv_config_storage;
    reg_init(&app->reg);
    s->app = app;
    int rc = blob_pg_new(s->db, "serving", &app->blobs);
    if (rc)
        return rc;
    return dep_reload(s);
}

static void sv_fini(struct svc *s)
{
    struct sv_app *app = s->app;
    if (!app)
        return;
    reg_fini(&app->reg);
    blob_store_free(app->blobs);
    free(app);
    s->app = NULL;
}

int main(int argc, char **argv)
{
    struct svc_def def = {
        .name = "model-serving",
        .schema = "serving",
        .migrations_dir = "services/model-serving/migrations",
        .default_port = 8084,
        .routes = routes,
        .nroutes = sizeof(routes) / sizeof(routes[0]),
        .vars = sv_vars,
        .nvars = sizeof(sv_vars) / sizeof(sv_vars[0]),
        .init = sv_init,
        .fini = sv_fini,
        .export_user = store_export_user,
        .erase_user = store_erase_user,
    };
    return svc_main(&def, argc, argv);
}
