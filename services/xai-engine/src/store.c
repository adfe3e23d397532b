/* store: the xai-engine service's SQL. */
#include "xai.h"

json_t *store_export_user(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    json_t *rows = NULL;
    if (db_query_json(s->db,
                      "SELECT coalesce(json_agg(x ORDER BY x.created_at, x.id), '[]') "
                      "FROM xai.explanations x WHERE x.user_id = $1::uuid",
                      1, p, &rows) != 0 ||
        !json_is_array(rows)) {
        json_decref(rows);
        return NULL;
    }
    return json_pack("{s:o}", "explanations", rows);
}

int store_erase_user(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    PGresult *r = NULL;
    int rc = db_query(s->db, "DELETE FROM xai.explanations WHERE user_id = $1::uuid", 1, p, &r);
    PQclear(r);
    return rc;
}
