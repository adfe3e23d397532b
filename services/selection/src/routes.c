/* routes: the selection service's route table and handlers. */
#include "selection.h"

#include <stdio.h>

const struct http_route sel_routes[] = {
    {"GET", "/api/v1/datasets", datasets_list, 0, 0,
     "list the dataset catalogue (paged, sorted, searched with q, filtered)"},
    {"GET", "/api/v1/datasets/domains", datasets_domains, 0, 0, "the domains in the catalogue"},
    {"GET", "/api/v1/datasets/tasks", datasets_tasks, 0, 0, "the tasks in the catalogue"},
    {"POST", "/api/v1/datasets/score", datasets_score, 0, 0,
     "score the datasets that pass filters with weighted criteria, best first"},
    {"GET", "/api/v1/datasets/{id}", datasets_get, 0, 0,
     "a dataset with its files, columns and scores"},
    {"PATCH", "/api/v1/datasets/{id}", datasets_patch, 0, 0,
     "change a dataset's metadata (owner or admin)"},
    {"DELETE", "/api/v1/datasets/{id}", datasets_delete, 0, 0,
     "delete a dataset and its stored files (owner or admin)"},
    {"GET", "/api/v1/datasets/{id}/similar", datasets_similar, 0, 0,
     "datasets sharing domains and tasks, then of similar size, with the reasons"},
    {"GET", "/api/v1/datasets/{id}/completion", datasets_completion, 0, 0,
     "which datasheet fields are missing, default-looking or need review"},
    {"GET", "/api/v1/datasets/{id}/croissant", datasets_croissant, 0, 0,
     "Croissant 1.0 JSON-LD with responsible-AI fields"},
    {"GET", "/api/v1/projects", projects_list, 0, 0, "the caller's projects (paged)"},
    {"POST", "/api/v1/projects", projects_create, 0, 0, "create a project (criteria, weights)"},
    {"GET", "/api/v1/projects/{id}", projects_get, 0, 0, "one of the caller's projects"},
    {"PATCH", "/api/v1/projects/{id}", projects_patch, 0, 0, "change a project"},
    {"DELETE", "/api/v1/projects/{id}", projects_delete, 0, 0, "delete a project"},
    {"GET", "/api/v1/projects/{id}/recommendations", projects_recommendations, 0, 0,
     "datasets ranked for a project with per-criterion scores (heatmap)"},
    {"GET", "/api/v1/admin/ethical-templates", templates_get, 0, 0,
     "per-domain default ethical flags (admin)"},
    {"PUT", "/api/v1/admin/ethical-templates", templates_put, 0, 0,
     "replace the per-domain default ethical flags (admin)"},
    {"POST", "/api/v1/datasets", upload_create, (size_t)1 << 30, HTTP_STREAM_BODY,
     "upload a dataset: multipart metadata fields and CSV/TSV/JSON/JSONL files (1 GiB)"},
    {"POST", "/api/v1/datasets/preview", upload_preview, (size_t)1 << 30, HTTP_STREAM_BODY,
     "analyse files without saving: types, missing, distinct, examples, first rows"},
    {"GET", "/api/v1/datasets/{id}/stats", files_stats, 0, 0,
     "per-column statistics (count, nulls, distinct, moments, quantiles, histogram, top "
     "values) and correlations"},
    {"GET", "/api/v1/datasets/{id}/preview", rows_preview, 0, 0,
     "rows of a dataset file: ?rows=1..100&sample=head|random&seed=&file="},
    {"GET", "/api/v1/datasets/{id}/quality", quality_report, 0, 0,
     "data-quality analysis: missing values with imputation advice, outliers, severity, "
     "0-100 score (cached by version)"},
    {"GET", "/api/v1/datasets/{id}/files/{file_id}/download", files_download, 0, 0,
     "download a file as uploaded"},
    {"GET", "/internal/datasets/{ref}/columnar", files_columnar, 0, 0,
     "the typed columnar copy of a dataset file, by dataset id or version (internal)"},
};
const size_t sel_nroutes = sizeof(sel_routes) / sizeof(sel_routes[0]);
