/* routes: the selection service's route table and handlers. */
#include "selection.h"

#include <stdio.h>

static void h_list_datasets(struct http_req *req, struct http_resp *resp)
{
    struct sel_list_query q = {.user_id = req->claims.sub, .is_admin = svc_is_admin(req)};
    char err[256];
    if (catalogue_parse_list(http_req_query(req, "page"), http_req_query(req, "page_size"),
                             http_req_query(req, "sort_by"), http_req_query(req, "sort_order"), &q,
                             err, sizeof(err))) {
        http_resp_error(resp, 400, "invalid_query", err, NULL);
        return;
    }
    json_t *datasets = NULL;
    long total = 0;
    int rc = store_list_datasets(req->app, &q, &datasets, &total);
    if (rc) {
        http_resp_errno(resp, rc, NULL);
        return;
    }
    long pages = (total + q.page_size - 1) / q.page_size;
    http_resp_json(resp, 200,
                   json_pack("{s:o, s:I, s:I, s:I, s:I}", "datasets", datasets, "total_count",
                             (json_int_t)total, "page", (json_int_t)q.page, "page_size",
                             (json_int_t)q.page_size, "total_pages", (json_int_t)pages));
}

const struct http_route sel_routes[] = {
    {"GET", "/api/v1/datasets", h_list_datasets, 0, 0, "list the dataset catalogue (paged)"},
    {"GET", "/api/v1/datasets/{id}/stats", files_stats, 0, 0,
     "per-column statistics (count, nulls, distinct, moments, quantiles, histogram, top "
     "values) and correlations"},
    {"GET", "/api/v1/datasets/{id}/files/{file_id}/download", files_download, 0, 0,
     "download a file as uploaded"},
    {"GET", "/internal/datasets/{ref}/columnar", files_columnar, 0, 0,
     "the typed columnar copy of a dataset file, by dataset id or version (internal)"},
};
const size_t sel_nroutes = sizeof(sel_routes) / sizeof(sel_routes[0]);
