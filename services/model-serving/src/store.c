/* store: the model-serving service's SQL. */
#include "serving.h"

json_t *store_export_user(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    json_t *rows = NULL;
    if (db_query_json(s->db,
                      "SELECT coalesce(json_agg(d ORDER BY d.created_at, d.id), '[]') "
                      "FROM serving.deployments d WHERE d.user_id = $1::uuid",
                      1, p, &rows) != 0 ||
        !json_is_array(rows)) {
        json_decref(rows);
        return NULL;
    }
    return json_pack("{s:o}", "deployments", rows);
}

int store_erase_user(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    PGresult *r = NULL;
    int rc = db_query(s->db, "DELETE FROM serving.deployments WHERE user_id = $1::uuid", 1, p, &r);
    PQclear(r);
    return rc;
}
