/* store: the model-serving service's SQL. */
#include "serving.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int store_insert(struct svc *s, const struct sv_entry *e, int *version)
{
    const char *p[] = {e->id, e->user_id, e->name, e->experiment_id, e->sha256};
    PGresult *r = NULL;
    /* the unique (user_id, name, version) key settles a race: the caller retries on -EEXIST */
    int rc = db_query(s->db,
                      "INSERT INTO serving.deployments (id, user_id, name, version, experiment_id, "
                      "artifact_sha256, status) SELECT $1::uuid, $2::uuid, $3, "
                      "coalesce((SELECT max(version) FROM serving.deployments d WHERE "
                      "d.user_id = $2::uuid AND d.name = $3), 0) + 1, $4::uuid, $5, 'ready' "
                      "RETURNING version",
                      5, p, &r);
    if (rc == 0 && PQntuples(r) == 1)
        *version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    else if (rc == 0)
        rc = -EIO;
    PQclear(r);
    return rc;
}

int store_delete(struct svc *s, const char *user_id, const char *name, json_t **shas)
{
    const char *p[] = {user_id, name};
    json_t *v = NULL;
    int rc = db_query_json(s->db,
                           "WITH d AS (DELETE FROM serving.deployments WHERE user_id = $1::uuid "
                           "AND name = $2 RETURNING artifact_sha256) "
                           "SELECT json_build_object('n', (SELECT count(*) FROM d), 'free', "
                           "coalesce((SELECT json_agg(DISTINCT d.artifact_sha256) FROM d WHERE "
                           "NOT EXISTS (SELECT 1 FROM serving.deployments o WHERE "
                           "o.artifact_sha256 = d.artifact_sha256 AND NOT (o.user_id = $1::uuid "
                           "AND o.name = $2))), '[]'))",
                           2, p, &v);
    if (rc)
        return rc;
    if (json_integer_value(json_object_get(v, "n")) == 0) {
        json_decref(v);
        return -ENOENT;
    }
    *shas = json_incref(json_object_get(v, "free"));
    json_decref(v);
    return 0;
}

int store_all_ready(struct svc *s, json_t **out)
{
    return db_query_json(s->db,
                         "SELECT coalesce(json_agg(json_build_object('id', d.id, 'user_id', "
                         "d.user_id, 'name', d.name, 'version', d.version, 'experiment_id', "
                         "coalesce(d.experiment_id::text, ''), 'sha256', d.artifact_sha256)), "
                         "'[]') FROM serving.deployments d WHERE d.status = 'ready'",
                         0, NULL, out);
}

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
