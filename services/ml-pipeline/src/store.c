/* store: the ml-pipeline service's SQL. */
#include "pipeline.h"

json_t *store_export_user(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    json_t *rows = NULL;
    if (db_query_json(s->db,
                      "SELECT coalesce(json_agg(e ORDER BY e.created_at, e.id), '[]') "
                      "FROM pipeline.experiments e WHERE e.user_id = $1::uuid",
                      1, p, &rows) != 0 ||
        !json_is_array(rows)) {
        json_decref(rows);
        return NULL;
    }
    return json_pack("{s:o}", "experiments", rows);
}

int store_erase_user(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    PGresult *r = NULL;
    int rc = db_query(s->db, "DELETE FROM pipeline.experiments WHERE user_id = $1::uuid", 1, p, &r);
    PQclear(r);
    return rc;
}
