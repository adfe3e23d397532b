/* store: the selection service's SQL. */
#include "selection.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Datasets the caller may see: not private, or owned by the caller, or the caller is admin. */
#define VISIBLE "(d.access IS DISTINCT FROM 'private' OR d.owner_id = $1::uuid OR $2::boolean)"

int store_list_datasets(struct svc *s, const struct sel_list_query *q, json_t **datasets,
                        long *total)
{
    char limit[24], offset[24];
    snprintf(limit, sizeof(limit), "%ld", q->page_size);
    snprintf(offset, sizeof(offset), "%ld", (q->page - 1) * q->page_size);
    const char *where = q->filters ? q->filters->where : "TRUE";
    size_t len = 2 * strlen(where) + 1024;
    char *sql = malloc(len);
    if (!sql)
        return -ENOMEM;
    /* q->order comes from the whitelist in catalogue.c and where from filters.c (its values
     * are parameters from $5 on), never from the client */
    snprintf(
        sql, len,
        "SELECT (SELECT count(*) FROM selection.datasets d WHERE " VISIBLE " AND %s), "
        "coalesce((SELECT json_agg(t) FROM (SELECT d.* FROM selection.datasets d WHERE " VISIBLE
        " AND %s ORDER BY %s LIMIT $3::bigint OFFSET $4::bigint) t), '[]')",
        where, where, q->order);
    const char *p[4 + FILTER_MAX_PARAMS] = {q->user_id, q->is_admin ? "true" : "false", limit,
                                            offset};
    int np = 4;
    for (int i = 0; q->filters && i < q->filters->nparams; i++)
        p[np++] = q->filters->params[i];
    PGresult *r = NULL;
    int rc = db_query(s->db, sql, np, p, &r);
    free(sql);
    if (rc)
        return rc;
    json_error_t je;
    json_t *arr = json_loads(PQgetvalue(r, 0, 1), 0, &je);
    char *end = NULL;
    long n = strtol(PQgetvalue(r, 0, 0), &end, 10);
    PQclear(r);
    if (!json_is_array(arr)) {
        json_decref(arr);
        return -EIO;
    }
    *datasets = arr;
    *total = n;
    return 0;
}

json_t *store_export_user(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    json_t *rows = NULL;
    if (db_query_json(s->db,
                      "SELECT coalesce(json_agg(d ORDER BY d.created_at, d.id), '[]') "
                      "FROM selection.datasets d WHERE d.owner_id = $1::uuid",
                      1, p, &rows) != 0 ||
        !json_is_array(rows)) {
        json_decref(rows);
        return NULL;
    }
    json_t *projects = NULL;
    if (db_query_json(s->db,
                      "SELECT coalesce(json_agg(p ORDER BY p.created_at, p.id), '[]') "
                      "FROM selection.projects p WHERE p.user_id = $1::uuid",
                      1, p, &projects) != 0 ||
        !json_is_array(projects)) {
        json_decref(rows);
        json_decref(projects);
        return NULL;
    }
    return json_pack("{s:o, s:o}", "datasets", rows, "projects", projects);
}

int store_erase_user(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    json_t *blobs = NULL;
    int rc = db_query_json(s->db,
                           "SELECT coalesce(json_agg(DISTINCT b), '[]') FROM (SELECT f.blob_id b "
                           "FROM selection.dataset_files f JOIN selection.datasets d ON d.id = "
                           "f.dataset_id WHERE d.owner_id = $1::uuid UNION SELECT "
                           "f.columnar_blob_id FROM selection.dataset_files f JOIN "
                           "selection.datasets d ON d.id = f.dataset_id WHERE d.owner_id = "
                           "$1::uuid) t",
                           1, p, &blobs);
    PGresult *r = NULL;
    if (rc == 0)
        rc = db_query(s->db, "DELETE FROM selection.projects WHERE user_id = $1::uuid", 1, p, &r);
    PQclear(r);
    r = NULL;
    if (rc == 0)
        rc = db_query(s->db, "DELETE FROM selection.datasets WHERE owner_id = $1::uuid", 1, p, &r);
    PQclear(r);
    /* the files' content goes too, unless another dataset shares it */
    const json_t *b;
    size_t i;
    json_array_foreach(rc == 0 ? blobs : NULL, i, b)
    {
        store_blob_release(s, json_string_value(b));
    }
    json_decref(blobs);
    return rc;
}
