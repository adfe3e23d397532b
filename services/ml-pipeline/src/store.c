/* store: the ml-pipeline service's data-rights SQL (export and erasure of a user). */
#include "pipeline.h"
#include "plans.h"

#include <ibx/log.h>

#include <string.h>

json_t *store_export_user(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    json_t *doc = NULL;
    if (db_query_json(
            s->db,
            "SELECT jsonb_build_object('experiments', coalesce((SELECT jsonb_agg(to_jsonb(e) "
            "- 'request_hash' ORDER BY e.created_at, e.id) FROM pipeline.experiments e "
            "WHERE e.user_id = $1::uuid), '[]'::jsonb), 'artifacts', coalesce((SELECT "
            "jsonb_agg(DISTINCT jsonb_build_object('sha256', e.model_sha256, 'media_type', "
            "'" PL_MODEL_MEDIA "', 'experiment_id', e.id)) FROM pipeline.experiments e "
            "WHERE e.user_id = $1::uuid AND e.model_sha256 IS NOT NULL), '[]'::jsonb))",
            1, p, &doc) != 0 ||
        !json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    json_t *plans = store_plans_export_user(s, user_id);
    if (!plans) {
        json_decref(doc);
        return NULL;
    }
    json_object_update(doc, plans);
    json_decref(plans);
    return doc;
}

int store_erase_user(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "DELETE FROM pipeline.experiments WHERE user_id = $1::uuid RETURNING "
                      "coalesce(model_sha256, '')",
                      1, p, &r);
    if (rc)
        return rc;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        artifact_release(s, db_val(r, i, 0));
    PQclear(r);
    return store_plans_erase_user(s, user_id);
}
