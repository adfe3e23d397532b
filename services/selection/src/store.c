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
    char limit[24], offset[24], sql[1024];
    snprintf(limit, sizeof(limit), "%ld", q->page_size);
    snprintf(offset, sizeof(offset), "%ld", (q->page - 1) * q->page_size);
    /* q->order comes from the whitelist in catalogue.c, never from the client */
    snprintf(
        sql, sizeof(sql),
        "SELECT (SELECT count(*) FROM selection.datasets d WHERE " VISIBLE "), "
        "coalesce((SELECT json_agg(t) FROM (SELECT d.* FROM selection.datasets d WHERE " VISIBLE
        " ORDER BY %s LIMIT $3::bigint OFFSET $4::bigint) t), '[]')",
        q->order);
    const char *p[] = {q->user_id, q->is_admin ? "true" : "false", limit, offset};
    PGresult *r = NULL;
    int rc = db_query(s->db, sql, 4, p, &r);
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
    return json_pack("{s:o}", "datasets", rows);
}

int store_erase_user(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    PGresult *r = NULL;
    int rc = db_query(s->db, "DELETE FROM selection.datasets WHERE owner_id = $1::uuid", 1, p, &r);
    PQclear(r);
    return rc;
}
