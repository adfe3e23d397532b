/* main: the xai-engine service's start-up and route table. */
#include "xai.h"

#include <ibx/pager.h>

static const struct pager_spec list_spec = {"xai.explanations", "user_id", "created_at DESC, id",
                                            "explanations"};

static void h_list(struct http_req *req, struct http_resp *resp)
{
    pager_list_owned(req->app, &list_spec, req, resp);
}

static const struct http_route routes[] = {
    {"GET", "/api/v1/explanations", h_list, 0, 0, "the caller's explanations (paged)"},
};

int main(int argc, char **argv)
{
    struct svc_def def = {
        .name = "xai-engine",
        .schema = "xai",
        .migrations_dir = "services/xai-engine/migrations",
        .default_port = 8083,
        .routes = routes,
        .nroutes = sizeof(routes) / sizeof(routes[0]),
        .export_user = store_export_user,
        .erase_user = store_erase_user,
    };
    return svc_main(&def, argc, argv);
}
